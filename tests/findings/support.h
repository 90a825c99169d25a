// Helpers for the findings tests: a scratch directory, a TLS identity for a local HTTPS server,
// and a thread-safe collector of dispatcher outcomes that waits for a condition.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "findings/dispatcher.h"
#include "net/http.h"

namespace ironroot::findings::testing {

// Generous: these machines are shared and loaded. Nothing here asserts a latency.
inline constexpr auto kWait = std::chrono::seconds(60);

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "ironroot-findings-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& text, bool executable = false) {
  std::ofstream(path) << text;
  if (executable) ::chmod(path.c_str(), 0755);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A CA and a server certificate for 127.0.0.1 / localhost.
struct TlsIdentity {
  std::string ca_pem;
  net::TlsServerConfig server;

  static TlsIdentity make() {
    TlsIdentity id;
    auto ca_key = crypto::generate_key();
    auto ca = crypto::make_ca_certificate(*ca_key, "findings test CA", 1);
    auto key = crypto::generate_key();
    auto csr = crypto::make_csr(*key, "localhost");
    auto cert = crypto::issue_certificate(*ca_key, *ca, *csr,
                                          {.common_name = "localhost",
                                           .days = 1,
                                           .server = true,
                                           .dns = {"localhost"},
                                           .ips = {"127.0.0.1"}});
    EXPECT_TRUE(cert.ok());
    id.ca_pem = *ca;
    id.server = {*cert, *key, ""};
    return id;
  }
};

class Outcomes {
 public:
  OutcomeCallback callback() {
    return [this](const Outcome& o) {
      std::lock_guard<std::mutex> l(mu_);
      all_.push_back(o);
      cv_.notify_all();
    };
  }
  // Waits until `pred` holds over the outcomes seen so far; false after kWait.
  bool wait(const std::function<bool(const std::vector<Outcome>&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kWait, [&] { return pred(all_); });
  }
  bool wait_count(const std::string& target, OutcomeStatus status, size_t n) {
    return wait([&](const std::vector<Outcome>& v) { return count(v, target, status) >= n; });
  }
  std::vector<Outcome> snapshot() {
    std::lock_guard<std::mutex> l(mu_);
    return all_;
  }
  size_t count(const std::string& target, OutcomeStatus status) {
    std::lock_guard<std::mutex> l(mu_);
    return count(all_, target, status);
  }
  static size_t count(const std::vector<Outcome>& v, const std::string& target,
                      OutcomeStatus status) {
    size_t n = 0;
    for (const auto& o : v)
      if (o.target == target && o.status == status) ++n;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Outcome> all_;
};

inline Finding sample_finding(const std::string& host = "host-3", uint64_t generation = 7) {
  Finding f;
  f.kind = Kind::kUntrustedTransition;
  f.severity = Severity::kHigh;
  f.host_id = host;
  f.host_name = host + ".rack1.example";
  f.host_ip = "10.0.0.3";
  f.title = "PCR 7 drifted from the approved value";
  f.message = "Secure Boot state changed: db now trusts an extra certificate";
  f.evidence_generation = generation;
  f.policy_id = "golden-2026-11";
  f.policy_name = "fleet golden";
  f.evidence = {{"pcr", "7"}, {"expected", "aa11"}, {"observed", "bb22"}};
  return f;
}

}  // namespace ironroot::findings::testing
