// The dispatcher: remediation idempotency and retries, queue bounds, shutdown.
#include "findings/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>

#include "support.h"

namespace ironroot::findings {
namespace {

using namespace testing;

// A sink of the test's own that blocks until released (or cancelled), to hold a worker busy.
class GateSink final : public Sink {
 public:
  Attempt deliver(const Delivery&) override {
    std::unique_lock<std::mutex> l(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_ || cancelled_; });
    ++delivered_;
    return {AttemptResult::kDelivered, "ok"};
  }
  void cancel() override {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_entered(int n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kWait, [&] { return entered_ >= n; });
  }
  int delivered() {
    std::lock_guard<std::mutex> l(mu_);
    return delivered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool cancelled_ = false;
  int entered_ = 0;
  int delivered_ = 0;
};

struct Quarantines {
  std::mutex mu;
  std::map<std::string, int> calls;
  int fail_first = 0;
  QuarantineCallback callback() {
    return [this](const Finding& f) -> Status {
      std::lock_guard<std::mutex> l(mu);
      const int n = ++calls[f.host_id];
      if (n <= fail_first) return Error(ErrorCode::kIo, "registry busy");
      return {};
    };
  }
  int count(const std::string& host) {
    std::lock_guard<std::mutex> l(mu);
    return calls[host];
  }
};

class RemediationTest : public ::testing::Test {
 protected:
  std::unique_ptr<Dispatcher> make(int quarantine_failures = 0) {
    quarantines_.fail_first = quarantine_failures;
    script_ = dir_.file("cordon.sh");
    write_text(script_,
               "#!/bin/sh\necho \"$1 $IRONROOT_IDEMPOTENCY_KEY\" >> \"$2\"\ncat > /dev/null\n",
               true);
    DispatcherConfig c;
    ActionSpec q{.name = "quarantine", .type = ActionType::kQuarantine};
    q.retry = {.max_attempts = 5, .initial_backoff = std::chrono::milliseconds(1)};
    ActionSpec cordon{.name = "cordon", .type = ActionType::kExec};
    cordon.config = ExecConfig{.argv = {script_, "{host_name}", dir_.file("cordoned")},
                               .env = {},
                               .timeout = std::chrono::seconds(30),
                               .no_retry_exit_codes = {}};
    c.remediation.actions = {q, cordon};
    c.remediation.rules = {{.kinds = {Kind::kUntrustedTransition},
                            .min_severity = Severity::kHigh,
                            .actions = {"quarantine", "cordon"}}};
    auto d = Dispatcher::create(
        std::move(c), {.on_outcome = outcomes_.callback(), .quarantine = quarantines_.callback()});
    EXPECT_TRUE(d.ok()) << d.error().message();
    return std::move(*d);
  }

  TempDir dir_;
  std::string script_;
  Outcomes outcomes_;
  Quarantines quarantines_;
};

TEST_F(RemediationTest, DuplicateFindingsActOnce) {
  auto d = make();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(d->submit(sample_finding("host-3", 7)));
  ASSERT_TRUE(outcomes_.wait_count("remediation:quarantine", OutcomeStatus::kAlreadyDone, 2));
  ASSERT_TRUE(outcomes_.wait_count("remediation:cordon", OutcomeStatus::kAlreadyDone, 2));
  EXPECT_EQ(quarantines_.count("host-3"), 1);
  EXPECT_EQ(outcomes_.count("remediation:cordon", OutcomeStatus::kDelivered), 1u);
  auto lines = read_lines(dir_.file("cordoned"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "host-3.rack1.example cordon:host-3:untrusted_transition:7");

  // New evidence that still fails: act again.
  ASSERT_TRUE(d->submit(sample_finding("host-3", 8)));
  ASSERT_TRUE(outcomes_.wait_count("remediation:cordon", OutcomeStatus::kDelivered, 2));
  ASSERT_TRUE(outcomes_.wait_count("remediation:quarantine", OutcomeStatus::kDelivered, 2));
  EXPECT_EQ(quarantines_.count("host-3"), 2);
  EXPECT_EQ(read_lines(dir_.file("cordoned")).size(), 2u);
  for (const auto& o : outcomes_.snapshot()) {
    EXPECT_TRUE(o.remediation);
    EXPECT_EQ(o.host_id, "host-3");
    EXPECT_FALSE(o.idempotency_key.empty());
  }
}

TEST_F(RemediationTest, QuarantineIsRetriedUntilItSucceeds) {
  auto d = make(/*quarantine_failures=*/2);
  ASSERT_TRUE(d->submit(sample_finding("host-9", 1)));
  ASSERT_TRUE(outcomes_.wait_count("remediation:quarantine", OutcomeStatus::kDelivered, 1));
  EXPECT_EQ(quarantines_.count("host-9"), 3);
  EXPECT_EQ(outcomes_.count("remediation:quarantine", OutcomeStatus::kRetrying), 2u);
  for (const auto& o : outcomes_.snapshot())
    if (o.status == OutcomeStatus::kRetrying) {
      EXPECT_EQ(o.detail, "registry busy");
    }
}

TEST_F(RemediationTest, OnlyMatchingFindingsRemediate) {
  auto d = make();
  Finding low = sample_finding("host-1", 1);
  low.severity = Severity::kMedium;
  Finding posture = sample_finding("host-2", 1);
  posture.kind = Kind::kPostureChange;
  ASSERT_TRUE(d->submit(low));
  ASSERT_TRUE(d->submit(posture));
  // A finding that names no host (a sensor saw an address no enrolled host has): no hook runs,
  // whatever name the reporter gave it.
  Finding nobody = sample_finding("", 1);
  nobody.host_name = "$(reboot)";
  ASSERT_TRUE(d->submit(nobody));
  ASSERT_TRUE(d->submit(sample_finding("host-3", 1)));
  ASSERT_TRUE(outcomes_.wait_count("remediation:cordon", OutcomeStatus::kDelivered, 1));
  ASSERT_TRUE(outcomes_.wait_count("remediation:quarantine", OutcomeStatus::kDelivered, 1));
  d->shutdown(std::chrono::seconds(30));
  EXPECT_EQ(quarantines_.count(""), 0);
  EXPECT_EQ(read_lines(dir_.file("cordoned")).size(), 1u);
  EXPECT_EQ(quarantines_.count("host-1"), 0);
  EXPECT_EQ(quarantines_.count("host-2"), 0);
  EXPECT_EQ(quarantines_.count("host-3"), 1);
  // The latency from submit to the hook being called is measured per action.
  for (const auto& s : d->stats()) {
    EXPECT_EQ(s.invoke_latency.count, 1u) << s.target;
    EXPECT_LE(s.invoke_latency.p50, s.invoke_latency.max);
  }
}

TEST_F(RemediationTest, RemediationWebhookPayloadCarriesTheKey) {
  // The exec action receives the remediation request on stdin.
  write_text(dir_.file("capture.sh"), "#!/bin/sh\ncat > \"$1\"\n", true);
  DispatcherConfig c;
  ActionSpec a{.name = "capture", .type = ActionType::kExec};
  a.config = ExecConfig{.argv = {dir_.file("capture.sh"), dir_.file("request.json")},
                        .env = {},
                        .timeout = std::chrono::seconds(30),
                        .no_retry_exit_codes = {}};
  c.remediation.actions = {a};
  c.remediation.rules = {{.kinds = {}, .min_severity = Severity::kUnknown, .actions = {"capture"}}};
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes_.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  Finding f = sample_finding("host-5", 3);
  ASSERT_TRUE((*d)->submit(f));
  ASSERT_TRUE(outcomes_.wait_count("remediation:capture", OutcomeStatus::kDelivered, 1));
  const auto j = nlohmann::json::parse(read_text(dir_.file("request.json")));
  EXPECT_EQ(j["action"], "capture");
  EXPECT_EQ(j["idempotency_key"], "capture:host-5:untrusted_transition:3");
  EXPECT_EQ(j["host_id"], "host-5");
  EXPECT_EQ(j["finding"]["class_uid"], 2004);
}

TEST(Dispatcher, FullQueueDropsAndReportsWithoutBlocking) {
  auto gate = std::make_shared<GateSink>();
  Outcomes outcomes;
  DispatcherConfig c;
  SinkSpec s;
  s.name = "gate";
  s.config = std::shared_ptr<Sink>(gate);
  s.queue_capacity = 2;
  c.sinks.push_back(s);
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->submit(sample_finding("h", 1)));
  ASSERT_TRUE(gate->wait_entered(1));  // the worker holds the first one
  EXPECT_TRUE((*d)->submit(sample_finding("h", 2)));
  EXPECT_TRUE((*d)->submit(sample_finding("h", 3)));
  EXPECT_FALSE((*d)->submit(sample_finding("h", 4)));  // queue full: dropped, not blocked
  EXPECT_FALSE((*d)->submit(sample_finding("h", 5)));
  gate->open();
  ASSERT_TRUE(outcomes.wait_count("sink:gate", OutcomeStatus::kDelivered, 3));
  ASSERT_TRUE(outcomes.wait([](const std::vector<Outcome>& v) {
    uint64_t dropped = 0;
    for (const auto& o : v)
      if (o.status == OutcomeStatus::kDropped) dropped += o.dropped;
    return dropped == 2;
  }));
  const auto st = (*d)->stats();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].accepted, 3u);
  EXPECT_EQ(st[0].dropped, 2u);
  EXPECT_EQ(gate->delivered(), 3);
}

TEST(Dispatcher, ShutdownDrainsWhatIsQueued) {
  TempDir dir;
  Outcomes outcomes;
  DispatcherConfig c;
  SinkSpec s;
  s.name = "file";
  s.config = JsonLinesConfig{.path = dir.file("f.jsonl"), .fsync = FsyncPolicy::kNever};
  c.sinks.push_back(s);
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  for (uint64_t g = 0; g < 500; ++g) ASSERT_TRUE((*d)->submit(sample_finding("h", g)));
  EXPECT_EQ((*d)->shutdown(std::chrono::seconds(60)), 0u);
  EXPECT_EQ(outcomes.count("sink:file", OutcomeStatus::kDelivered), 500u);
  EXPECT_EQ(read_lines(dir.file("f.jsonl")).size(), 500u);
  EXPECT_FALSE((*d)->submit(sample_finding("h", 999)));    // closed
  EXPECT_EQ((*d)->shutdown(std::chrono::seconds(1)), 0u);  // idempotent
}

TEST(Dispatcher, ShutdownDeadlineAbandonsAndCancels) {
  auto gate = std::make_shared<GateSink>();
  Outcomes outcomes;
  DispatcherConfig c;
  SinkSpec s;
  s.name = "stuck";
  s.config = std::shared_ptr<Sink>(gate);
  c.sinks.push_back(s);
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  for (uint64_t g = 0; g < 4; ++g) ASSERT_TRUE((*d)->submit(sample_finding("h", g)));
  ASSERT_TRUE(gate->wait_entered(1));
  // The first delivery is stuck until cancelled; the three behind it are abandoned.
  EXPECT_EQ((*d)->shutdown(std::chrono::milliseconds(100)), 3u);
  EXPECT_EQ(outcomes.count("sink:stuck", OutcomeStatus::kAbandoned), 3u);
}

TEST(Dispatcher, ShutdownInterruptsABackoffWait) {
  Outcomes outcomes;
  DispatcherConfig c;
  SinkSpec s;
  s.name = "down";
  s.config = SyslogConfig{.socket_path = "/nonexistent/sock"};
  s.retry = {.max_attempts = 10,
             .initial_backoff = std::chrono::seconds(3600),
             .max_backoff = std::chrono::seconds(3600)};
  c.sinks.push_back(s);
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->submit(sample_finding()));
  ASSERT_TRUE(outcomes.wait_count("sink:down", OutcomeStatus::kRetrying, 1));
  EXPECT_EQ((*d)->shutdown(std::chrono::milliseconds(50)), 1u);
  EXPECT_EQ(outcomes.count("sink:down", OutcomeStatus::kAbandoned), 1u);
}

TEST(Dispatcher, MinSeveritySkipsQuietFindings) {
  TempDir dir;
  Outcomes outcomes;
  DispatcherConfig c;
  SinkSpec s;
  s.name = "pager";
  s.config = JsonLinesConfig{.path = dir.file("p.jsonl"), .fsync = FsyncPolicy::kNever};
  s.min_severity = Severity::kCritical;
  c.sinks.push_back(s);
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->submit(sample_finding("h", 1)));  // High
  Finding crit = sample_finding("h", 2);
  crit.severity = Severity::kCritical;
  ASSERT_TRUE((*d)->submit(crit));
  (*d)->shutdown(std::chrono::seconds(60));
  const auto lines = read_lines(dir.file("p.jsonl"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["severity_id"], 5);
}

TEST(Dispatcher, CreateNamesTheBadSinkOrAction) {
  DispatcherConfig c;
  SinkSpec s;
  s.name = "file";
  s.config = JsonLinesConfig{.path = "/nonexistent-dir/x.jsonl"};
  c.sinks.push_back(s);
  auto d = Dispatcher::create(c, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find("sinks[0] 'file'"), std::string::npos) << d.error().message();

  DispatcherConfig q;
  q.remediation.actions = {{.name = "quarantine", .type = ActionType::kQuarantine}};
  auto e = Dispatcher::create(q, {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("quarantine callback"), std::string::npos);

  DispatcherConfig dup;
  dup.sinks = {s, s};
  dup.sinks[0].config = JsonLinesConfig{.path = "/dev/null"};
  dup.sinks[1].config = JsonLinesConfig{.path = "/dev/null"};
  auto f = Dispatcher::create(dup, {});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message().find("twice"), std::string::npos);
}

TEST(Dispatcher, ThrowingCallbacksDoNotKillTheWorker) {
  std::atomic<int> calls{0};
  DispatcherConfig c;
  c.remediation.actions = {{.name = "quarantine", .type = ActionType::kQuarantine}};
  c.remediation.actions[0].retry = {.max_attempts = 2,
                                    .initial_backoff = std::chrono::milliseconds(1)};
  c.remediation.rules = {
      {.kinds = {}, .min_severity = Severity::kUnknown, .actions = {"quarantine"}}};
  Outcomes outcomes;
  auto inner = outcomes.callback();
  auto d = Dispatcher::create(std::move(c), {.on_outcome =
                                                 [&](const Outcome& o) {
                                                   inner(o);
                                                   throw std::runtime_error("audit log full");
                                                 },
                                             .quarantine = [&](const Finding&) -> Status {
                                               if (++calls == 1) throw std::runtime_error("boom");
                                               return {};
                                             }});
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->submit(sample_finding()));
  ASSERT_TRUE(outcomes.wait_count("remediation:quarantine", OutcomeStatus::kDelivered, 1));
  EXPECT_EQ(calls.load(), 2);
}

}  // namespace
}  // namespace ironroot::findings
