#include "finding_uploader.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "output.h"
#include "verifier/service.h"

namespace ironroot::cli {

bool FindingUploader::lost_any() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_ + dropped_ + undelivered_ > 0;
}

FindingUploader::~FindingUploader() {
  if (worker_.joinable()) stop(std::chrono::milliseconds(0));
}

Status FindingUploader::start(const OperatorConnection& conn, std::string sensor_name) {
  conn_ = conn;
  sensor_ = std::move(sensor_name);
  IRONROOT_ASSIGN_OR_RETURN(auto hp, net::parse_https_url(conn_.url));
  host_ = hp.first;
  port_ = hp.second;
  ca_file_ = conn_.ca_file.empty() && !conn_.data_dir.empty()
                 ? conn_.data_dir + "/" + verifier::kCaCertFile
                 : conn_.ca_file;
  token_file_ = conn_.token_file.empty() && !conn_.data_dir.empty()
                    ? conn_.data_dir + "/" + conn_.as + ".token"
                    : conn_.token_file;
  if (ca_file_.empty() || token_file_.empty()) {
    return invalid_argument(
        "--verifier: say where the verifier's CA and token are: --data-dir DIR, or --ca FILE "
        "--token-file FILE");
  }
  for (const auto& f : {ca_file_, token_file_}) {
    if (std::ifstream in(f); !in)
      return Error(ErrorCode::kNotFound, "--verifier: cannot read " + f);
  }
  worker_ = std::thread([this] { run(); });
  return {};
}

void FindingUploader::push(std::string finding_json) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.size() >= kMaxPending) {
    if (dropped_++ == 0)
      print_error("warning: findings to " + conn_.url + ": " + std::to_string(kMaxPending) +
                  " waiting, dropping new ones");
    return;
  }
  pending_.push_back(std::move(finding_json));
  cv_.notify_all();
}

std::string FindingUploader::stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait_for(lock, deadline, [&] { return done_; });
    give_up_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  undelivered_ = pending_.size();
  return "findings to " + conn_.url + ": " + std::to_string(delivered_) + " accepted, " +
         std::to_string(rejected_) + " rejected, " + std::to_string(dropped_) + " dropped, " +
         std::to_string(undelivered_) + " undelivered";
}

FindingUploader::Answer FindingUploader::post(const std::string& body) {
  Answer a;
  std::string token = read_file(token_file_);  // re-read: a renewed token takes effect
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (!client_)
    client_ = std::make_unique<net::HttpsClient>(
        host_, port_, net::TlsClientConfig{read_file(ca_file_), "", "", ""}, 10);
  auto r =
      client_->request("POST", "/v1/sensor/findings", body, {{"Authorization", "Bearer " + token}});
  if (!r) {
    client_.reset();  // a fresh connection next time
    a.detail = r.error().message();
    return a;
  }
  a.status = r->status;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status >= 300) {
    a.detail = "HTTP " + std::to_string(r->status) + ": " +
               (j.is_object() && j.contains("error") && j["error"].is_string()
                    ? j["error"].get<std::string>()
                    : r->body.substr(0, 200));
  } else if (j.is_object() && j.contains("accepted") && j["accepted"].is_number_unsigned()) {
    a.accepted = j["accepted"].get<uint64_t>();
  }
  return a;
}

void FindingUploader::run() {
  std::mt19937_64 rng(std::random_device{}());
  auto next = std::chrono::steady_clock::now();
  int failures = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !pending_.empty() || stopping_ || give_up_; });
    if (pending_.empty() || give_up_) break;
    if (cv_.wait_until(lock, next, [&] { return give_up_; })) break;
    // Up to kBatch findings and kMaxBody bytes (the verifier refuses larger bodies with 413).
    std::string body = "{\"sensor\":" + nlohmann::json(sensor_).dump() + ",\"findings\":[";
    size_t n = 0;
    while (n < std::min(kBatch, pending_.size()) &&
           (n == 0 || body.size() + pending_[n].size() + 3 <= kMaxBody)) {
      body += (n ? "," : "") + pending_[n];
      ++n;
    }
    body += "]}";
    lock.unlock();
    Answer a = post(body);
    lock.lock();
    next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    if (a.status >= 200 && a.status < 300) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
      delivered_ += a.accepted;
      if (a.accepted < n)
        print_error("warning: findings to " + conn_.url + ": the verifier accepted " +
                    std::to_string(a.accepted) + " of " + std::to_string(n));
      if (failures > 0)
        print_error("findings to " + conn_.url + ": delivered again after " +
                    std::to_string(failures) + " failed attempts");
      failures = 0;
    } else if (a.status == 400 || a.status == 413 || a.status == 422) {
      // The verifier refuses these bytes; sending them again would block all that follow.
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
      rejected_ += n;
      print_error("warning: findings to " + conn_.url + ": " + std::to_string(n) +
                  " rejected: " + a.detail);
    } else {
      if (failures++ == 0)
        print_error("warning: findings to " + conn_.url + " failed (" + a.detail +
                    "); retrying with backoff, " + std::to_string(pending_.size()) + " waiting");
      // Equal jitter: half the backoff fixed, half random; 1 s doubling up to 60 s.
      const int64_t d = std::min<int64_t>(60'000, int64_t{1000} << std::min(failures - 1, 6));
      next = std::chrono::steady_clock::now() +
             std::chrono::milliseconds(d / 2 + static_cast<int64_t>(rng() % (d / 2 + 1)));
    }
  }
  done_ = true;
  done_cv_.notify_all();
}

}  // namespace ironroot::cli
