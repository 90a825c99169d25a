// A real HTTPS server (lib/net) receives the webhooks and checks their signatures with its own
// OpenSSL HMAC call.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/hex.h"
#include "findings/dispatcher.h"
#include "support.h"

namespace ironroot::findings {
namespace {

using namespace testing;

constexpr const char* kSecret = "s3cret-shared-with-the-siem";

// Recomputes the signature independently of the library: HMAC-SHA256(secret, "<t>." + body).
bool signature_ok(const std::string& header, const std::string& body) {
  const auto t_pos = header.find("t=");
  const auto v_pos = header.find(",v1=");
  if (t_pos != 0 || v_pos == std::string::npos) return false;
  const std::string t = header.substr(2, v_pos - 2);
  const std::string sig = header.substr(v_pos + 4);
  const std::string data = t + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::strlen(kSecret)),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return to_hex(Bytes(mac, len)) == sig;
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_ = TlsIdentity::make();
    auto s = net::HttpsServer::start({.port = 0}, tls_.server, [this](const net::Request& r) {
      const int n = ++requests_;
      {
        std::lock_guard<std::mutex> l(mu_);
        bodies_.push_back(r.body);
        if (!signature_ok(r.header("x-ironroot-signature"), r.body)) ++bad_signatures_;
        idempotency_keys_.push_back(r.header("idempotency-key"));
        paths_.push_back(r.path);
      }
      if (n <= fail_first_) return net::Response{503, "text/plain", "busy", {}};
      return net::Response{status_, "application/json", "{}", {}};
    });
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  WebhookConfig webhook() {
    WebhookConfig w;
    w.url = "https://127.0.0.1:" + std::to_string(server_->port()) + "/hooks/ironroot";
    w.secret = kSecret;
    w.ca_pem = tls_.ca_pem;
    w.timeout = std::chrono::milliseconds(20000);
    return w;
  }

  std::unique_ptr<Dispatcher> dispatcher(
      std::chrono::seconds dedup_window = std::chrono::seconds(0)) {
    DispatcherConfig c;
    SinkSpec s;
    s.name = "siem";
    s.config = webhook();
    s.retry = {.max_attempts = 6,
               .initial_backoff = std::chrono::milliseconds(5),
               .max_backoff = std::chrono::milliseconds(40),
               .multiplier = 2.0};
    s.dedup_window = dedup_window;
    c.sinks.push_back(std::move(s));
    auto d =
        Dispatcher::create(std::move(c), {.on_outcome = outcomes_.callback(), .quarantine = {}});
    EXPECT_TRUE(d.ok()) << d.error().message();
    return std::move(*d);
  }

  TlsIdentity tls_;
  std::unique_ptr<net::HttpsServer> server_;
  std::atomic<int> requests_{0};
  std::atomic<int> fail_first_{0};
  std::atomic<int> status_{200};
  std::mutex mu_;
  std::vector<std::string> bodies_, idempotency_keys_, paths_;
  int bad_signatures_ = 0;
  Outcomes outcomes_;
};

TEST_F(WebhookTest, SignedOcsfArrives) {
  auto d = dispatcher();
  Finding f = sample_finding();
  ASSERT_TRUE(d->submit(f));
  ASSERT_TRUE(outcomes_.wait_count("sink:siem", OutcomeStatus::kDelivered, 1));
  std::lock_guard<std::mutex> l(mu_);
  ASSERT_EQ(bodies_.size(), 1u);
  EXPECT_EQ(bad_signatures_, 0);
  EXPECT_EQ(paths_[0], "/hooks/ironroot");
  EXPECT_EQ(idempotency_keys_[0], f.dedup_key());
  const auto j = nlohmann::json::parse(bodies_[0]);
  EXPECT_EQ(j["class_uid"], 2004);
  EXPECT_EQ(j["finding_info"]["uid"], f.uid());
}

TEST_F(WebhookTest, RetriesOn503WithBackoffThenDelivers) {
  fail_first_ = 3;
  auto d = dispatcher();
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes_.wait_count("sink:siem", OutcomeStatus::kDelivered, 1));
  EXPECT_EQ(requests_.load(), 4);
  EXPECT_EQ(outcomes_.count("sink:siem", OutcomeStatus::kRetrying), 3u);
  std::vector<int> attempts;
  for (const auto& o : outcomes_.snapshot()) {
    attempts.push_back(o.attempt);
    if (o.status == OutcomeStatus::kRetrying) {
      EXPECT_EQ(o.detail.rfind("HTTP 503", 0), 0u) << o.detail;
      EXPECT_GE(o.retry_in.count(), 2);  // at least half of the 5 ms initial backoff
      EXPECT_LE(o.retry_in.count(), 40);
    }
  }
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3, 4}));
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(bad_signatures_, 0);  // every retry is signed afresh
}

TEST_F(WebhookTest, GivesUpAfterMaxAttempts) {
  fail_first_ = 1000;
  auto d = dispatcher();
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes_.wait_count("sink:siem", OutcomeStatus::kFailed, 1));
  EXPECT_EQ(requests_.load(), 6);
  auto v = outcomes_.snapshot();
  EXPECT_NE(v.back().detail.find("gave up after 6 attempts"), std::string::npos) << v.back().detail;
}

TEST_F(WebhookTest, NoRetryOn400) {
  status_ = 400;
  auto d = dispatcher();
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes_.wait_count("sink:siem", OutcomeStatus::kFailed, 1));
  EXPECT_EQ(requests_.load(), 1);
  EXPECT_EQ(outcomes_.count("sink:siem", OutcomeStatus::kRetrying), 0u);
}

TEST_F(WebhookTest, DeduplicatesWithinTheWindow) {
  auto d = dispatcher(std::chrono::seconds(300));
  Finding f = sample_finding("host-3", 1);
  ASSERT_TRUE(d->submit(f));
  f.evidence_generation = 2;  // the same drift seen at the next quote
  ASSERT_TRUE(d->submit(f));
  Finding other = sample_finding("host-4", 1);
  ASSERT_TRUE(d->submit(other));
  ASSERT_TRUE(outcomes_.wait([](const std::vector<Outcome>& v) { return v.size() >= 3; }));
  EXPECT_EQ(outcomes_.count("sink:siem", OutcomeStatus::kDelivered), 2u);
  EXPECT_EQ(outcomes_.count("sink:siem", OutcomeStatus::kDeduplicated), 1u);
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(WebhookTest, ConnectionRefusedIsRetried) {
  auto w = webhook();
  const uint16_t port = server_->port();
  server_->stop();
  server_.reset();  // closes the listening socket: connections are refused
  DispatcherConfig c;
  SinkSpec s;
  s.name = "down";
  s.config = w;
  s.retry = {.max_attempts = 3,
             .initial_backoff = std::chrono::milliseconds(1),
             .max_backoff = std::chrono::milliseconds(5),
             .multiplier = 2.0};
  c.sinks.push_back(std::move(s));
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes_.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->submit(sample_finding()));
  ASSERT_TRUE(outcomes_.wait_count("sink:down", OutcomeStatus::kFailed, 1));
  EXPECT_EQ(outcomes_.count("sink:down", OutcomeStatus::kRetrying), 2u);
  EXPECT_NE(outcomes_.snapshot().back().detail.find(std::to_string(port)), std::string::npos);
}

// A listener that completes TCP handshakes (the kernel does) but never speaks TLS: the sink must
// give up at its timeout instead of hanging the worker.
TEST(WebhookSink, SilentServerTimesOut) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto tls = TlsIdentity::make();
  auto sink =
      make_webhook_sink({.url = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/",
                         .ca_pem = tls.ca_pem,
                         .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(sink.ok());
  const Finding f = sample_finding();
  const std::string body = "{}";
  auto threads = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                         std::filesystem::directory_iterator());
  };
  const auto before = threads();
  const Attempt a = (*sink)->deliver({.finding = f, .body = body});
  EXPECT_EQ(a.result, AttemptResult::kRetryable);
  // The client's own deadline ("timeout") or the sink's guard ("no answer"), whichever first.
  EXPECT_TRUE(a.detail.find("no answer") != std::string::npos ||
              a.detail.find("timeout") != std::string::npos)
      << a.detail;
  ::close(fd);  // the abandoned request now fails and its thread ends
  // Wait for that thread to be gone, so that it does not outlive the test (LeakSanitizer).
  const auto until = std::chrono::steady_clock::now() + kWait;
  while (threads() > before && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(threads(), before);
}

TEST(WebhookSignature, VerifyAcceptsOwnAndRejectsTampered) {
  const std::string body = R"({"class_uid":2004})";
  const std::string h = signature_header_value("k", 1000, body);
  EXPECT_TRUE(verify_webhook_signature(h, "k", body, 1010));
  EXPECT_FALSE(verify_webhook_signature(h, "k", body + " ", 1010));
  EXPECT_FALSE(verify_webhook_signature(h, "other", body, 1010));
  EXPECT_FALSE(verify_webhook_signature(h, "k", body, 5000));  // too old
  EXPECT_FALSE(verify_webhook_signature("t=abc,v1=00", "k", body, 1000));
  EXPECT_FALSE(verify_webhook_signature("", "k", body, 1000));
}

TEST(WebhookUrl, Parses) {
  auto u = parse_webhook_url("https://siem.example:8443/a/b?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "siem.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/a/b?x=1");
  u = parse_webhook_url("https://[::1]/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 443);
  EXPECT_FALSE(parse_webhook_url("http://siem.example/").ok());
  EXPECT_FALSE(parse_webhook_url("https://siem.example:0/").ok());
  EXPECT_FALSE(parse_webhook_url("https://siem.example:99999/").ok());
  EXPECT_FALSE(parse_webhook_url("https://user:pw@siem.example/").ok());
  EXPECT_FALSE(parse_webhook_url("https:///x").ok());
}

}  // namespace
}  // namespace ironroot::findings
