// `ironroot sensor --verifier`: the sensor's findings, sent to the verifier in the background.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "connection.h"
#include "core/result.h"
#include "net/http.h"

namespace ironroot::cli {

// --verifier: findings POSTed to the verifier's /v1/sensor/findings in batches, from a thread of
// its own so capture never waits for the network. At most one request a second; failures are
// retried with backoff; at most kMaxPending findings wait (the newest are dropped beyond that).
class FindingUploader {
 public:
  static constexpr size_t kMaxPending = 10'000;
  static constexpr size_t kBatch = 500;
  static constexpr size_t kMaxBody = 1 << 20;

  Status start(const OperatorConnection& conn, std::string sensor_name);

  void push(std::string finding_json);

  // Delivers what is pending until `deadline`, then gives up. Returns a line for the summary.
  std::string stop(std::chrono::milliseconds deadline);
  // Whether any finding was refused, dropped or left undelivered (after stop()).
  bool lost_any() const;

  FindingUploader() = default;
  FindingUploader(const FindingUploader&) = delete;
  FindingUploader& operator=(const FindingUploader&) = delete;
  // Stops the worker at once if stop() was not called (an early error return).
  ~FindingUploader();

 private:
  struct Answer {
    int status = 0;  // 0: no answer (connection, TLS, timeout)
    std::string detail;
    uint64_t accepted = 0;
  };

  Answer post(const std::string& body);

  void run();

  OperatorConnection conn_;
  std::string sensor_, host_, ca_file_, token_file_;
  uint16_t port_ = 0;
  std::unique_ptr<net::HttpsClient> client_;  // the worker's only
  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::string> pending_;
  bool stopping_ = false, give_up_ = false, done_ = false;
  uint64_t delivered_ = 0, rejected_ = 0, dropped_ = 0, undelivered_ = 0;
  std::thread worker_;
};

}  // namespace ironroot::cli
