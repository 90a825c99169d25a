#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "core/hex.h"
#include "crypto/digest.h"
#include "findings/internal.h"
#include "findings/sink.h"
#include "net/http.h"

namespace ironroot::findings {
namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";

std::string hmac_hex(std::string_view secret, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
                mac.size(), &len) == nullptr)
    return {};
  return to_hex(Bytes(mac.data(), len));
}

// lib/net's HttpsClient is synchronous, and its timeout does not bound a synchronous read: a
// server that accepts and never answers would hold the worker for ever. So each request runs on
// its own short-lived thread, joined when it answers; deliver() waits at most the timeout (plus a
// second); a request that does not come back is detached to finish on its own, and counted.
struct PendingCall {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<net::Response>> result;
  bool abandoned = false;  // deliver() stopped waiting; the thread un-counts itself when done
};

class WebhookSink final : public Sink {
 public:
  static constexpr int kMaxHung = 4;

  WebhookSink(WebhookConfig config, WebhookUrl url)
      : config_(std::move(config)), url_(std::move(url)) {}

  Attempt deliver(const Delivery& d) override {
    if (hung_->load() >= kMaxHung) {
      return {AttemptResult::kRetryable, std::to_string(hung_->load()) + " earlier requests to " +
                                             url_.host + ":" + std::to_string(url_.port) +
                                             " still hang"};
    }
    if (!client_) {
      const int seconds =
          static_cast<int>(std::max<int64_t>(1, (config_.timeout.count() + 999) / 1000));
      client_ = std::make_shared<net::HttpsClient>(
          url_.host, url_.port,
          net::TlsClientConfig{config_.ca_pem, config_.cert_pem, config_.key_pem,
                               config_.server_name},
          seconds);
    }
    std::map<std::string, std::string> headers = config_.headers;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (!config_.secret.empty())
      headers[kSignatureHeader] = signature_header_value(config_.secret, now, d.body);
    headers["X-Ironroot-Finding"] = d.finding.uid();
    headers["X-Ironroot-Attempt"] = std::to_string(d.attempt);
    // Receivers can drop repeats: the same key means the same condition (or the same action).
    headers["Idempotency-Key"] =
        d.idempotency_key.empty() ? d.finding.dedup_key() : d.idempotency_key;

    auto call = std::make_shared<PendingCall>();
    std::thread request([call, client = client_, hung = hung_, path = url_.path, body = d.body,
                         headers = std::move(headers)]() mutable {
      auto r = client->request("POST", path, body, headers);
      client.reset();  // an abandoned client (and its connection) goes here, not at exit
      std::lock_guard<std::mutex> l(call->mu);
      call->result.emplace(std::move(r));
      if (call->abandoned) --*hung;
      call->cv.notify_all();
    });

    const auto deadline =
        std::chrono::steady_clock::now() + config_.timeout + std::chrono::seconds(1);
    std::unique_lock<std::mutex> l(call->mu);
    while (!call->result && !cancel_.load() && std::chrono::steady_clock::now() < deadline)
      call->cv.wait_for(l, std::chrono::milliseconds(50));
    if (!call->result) {
      // The thread still owns the client; the next attempt gets a fresh connection.
      client_.reset();
      call->abandoned = true;
      ++*hung_;
      l.unlock();
      request.detach();  // the only case a request thread outlives deliver()
      return {AttemptResult::kRetryable,
              cancel_.load() ? std::string("cancelled")
                             : "no answer from " + url_.host + ":" + std::to_string(url_.port) +
                                   " within " + std::to_string(config_.timeout.count()) + " ms"};
    }
    Result<net::Response> r = std::move(*call->result);
    l.unlock();
    request.join();  // it has answered: only its exit is left
    if (!r) {
      client_.reset();
      return {AttemptResult::kRetryable, r.error().message()};
    }
    const int s = r->status;
    std::string detail = "HTTP " + std::to_string(s);
    if (s >= 200 && s < 300) return {AttemptResult::kDelivered, detail};
    if (!r->body.empty()) detail += ": " + r->body.substr(0, 200);
    if (s >= 500 || s == 408 || s == 425 || s == 429) return {AttemptResult::kRetryable, detail};
    return {AttemptResult::kPermanent, detail};
  }

  void cancel() override { cancel_.store(true); }

 private:
  WebhookConfig config_;
  WebhookUrl url_;
  std::shared_ptr<net::HttpsClient> client_;  // used by one request thread at a time
  std::atomic<bool> cancel_{false};
  std::shared_ptr<std::atomic<int>> hung_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace

std::string webhook_signature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string data = std::to_string(timestamp);
  data += '.';
  data.append(body);
  return hmac_hex(secret, data);
}

std::string signature_header_value(std::string_view secret, int64_t timestamp,
                                   std::string_view body) {
  return "t=" + std::to_string(timestamp) + ",v1=" + webhook_signature(secret, timestamp, body);
}

bool verify_webhook_signature(std::string_view header_value, std::string_view secret,
                              std::string_view body, int64_t now_seconds,
                              int64_t tolerance_seconds) {
  std::optional<int64_t> t;
  std::vector<std::string_view> sigs;
  while (!header_value.empty()) {
    const size_t comma = header_value.find(',');
    std::string_view part = header_value.substr(0, comma);
    header_value =
        comma == std::string_view::npos ? std::string_view() : header_value.substr(comma + 1);
    if (part.rfind("t=", 0) == 0) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(part.data() + 2, part.data() + part.size(), v);
      if (ec != std::errc() || p != part.data() + part.size()) return false;
      t = v;
    } else if (part.rfind("v1=", 0) == 0) {
      sigs.push_back(part.substr(3));
    }
  }
  if (!t || sigs.empty()) return false;
  if (*t > now_seconds + tolerance_seconds || *t < now_seconds - tolerance_seconds) return false;
  const std::string want = webhook_signature(secret, *t, body);
  for (auto sig : sigs) {
    if (crypto::equal_ct(Bytes(reinterpret_cast<const uint8_t*>(want.data()), want.size()),
                         Bytes(reinterpret_cast<const uint8_t*>(sig.data()), sig.size())))
      return true;
  }
  return false;
}

Result<SinkPtr> make_webhook_sink(WebhookConfig config) {
  IRONROOT_ASSIGN_OR_RETURN(WebhookUrl url, parse_webhook_url(config.url));
  if (config.ca_pem.empty()) {
    auto bundle = internal::read_text_file(kSystemBundle);
    if (!bundle)
      return Error(ErrorCode::kNotFound, std::string("no CA given and the system bundle ") +
                                             kSystemBundle + " cannot be read");
    config.ca_pem = std::move(*bundle);
  }
  if (config.cert_pem.empty() != config.key_pem.empty())
    return invalid_argument("a client certificate needs its key, and a key its certificate");
  return SinkPtr(std::make_unique<WebhookSink>(std::move(config), std::move(url)));
}

}  // namespace ironroot::findings
