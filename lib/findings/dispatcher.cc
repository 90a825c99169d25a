#include "findings/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"

namespace ironroot::findings {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

// One submitted finding, shared by every target it goes to. The OCSF JSON is rendered once, by
// the first worker that needs it, not on the caller's thread.
class Envelope {
 public:
  Envelope(Finding f, Clock::time_point t) : finding(std::move(f)), submitted(t) {}
  const Finding finding;
  const Clock::time_point submitted;

  const std::string& ocsf_text() {
    render();
    return text_;
  }
  const nlohmann::json& ocsf() {
    render();
    return json_;
  }
  const std::string& uid() {
    render();
    return uid_;
  }
  const std::string& dedup_key() {
    render();
    return dedup_key_;
  }

 private:
  void render() {
    std::call_once(once_, [this] {
      dedup_key_ = finding.dedup_key();
      uid_ = finding.uid_override.empty()
                 ? dedup_key_ + "-" + std::to_string(finding.evidence_generation)
                 : finding.uid_override;
      Finding keyed = finding;  // so that to_ocsf does not hash again
      keyed.dedup_key_override = dedup_key_;
      keyed.uid_override = uid_;
      json_ = to_ocsf(keyed);
      text_ = dump_json(json_);
    });
  }
  std::once_flag once_;
  nlohmann::json json_;
  std::string text_;
  std::string uid_;
  std::string dedup_key_;
};

struct Item {
  std::shared_ptr<Envelope> env;
  std::string idempotency_key;  // remediation only
};

// The most recent samples, for percentiles.
class LatencyRing {
 public:
  void add(microseconds us) {
    std::lock_guard<std::mutex> l(mu_);
    samples_[next_] = us.count();
    next_ = (next_ + 1) % samples_.size();
    count_ = std::min(count_ + 1, samples_.size());
  }
  LatencySummary summary() const {
    std::vector<int64_t> v;
    {
      std::lock_guard<std::mutex> l(mu_);
      v.assign(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(count_));
    }
    LatencySummary s;
    s.count = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      const auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
      return microseconds(v[std::min(i, v.size() - 1)]);
    };
    s.p50 = at(0.50);
    s.p99 = at(0.99);
    s.max = microseconds(v.back());
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> samples_ = std::vector<int64_t>(8192);
  size_t next_ = 0;
  size_t count_ = 0;
};

class QuarantineSink final : public Sink {
 public:
  explicit QuarantineSink(QuarantineCallback cb) : cb_(std::move(cb)) {}
  Attempt deliver(const Delivery& d) override {
    Status s = cb_(d.finding);
    if (s) return {AttemptResult::kDelivered, "host " + d.finding.host_id + " quarantined"};
    return {AttemptResult::kRetryable, s.error().message()};
  }

 private:
  QuarantineCallback cb_;
};

// A sink or a remediation action: its queue, its worker thread, its bookkeeping.
class Target {
 public:
  Target(std::string target, std::string action, std::shared_ptr<Sink> sink, RetryPolicy retry,
         std::chrono::seconds dedup_window, size_t capacity, size_t idempotency_memory,
         OutcomeCallback on_outcome)
      : target_(std::move(target)),
        action_(std::move(action)),
        sink_(std::move(sink)),
        retry_(retry),
        dedup_window_(dedup_window),
        capacity_(std::max<size_t>(1, capacity)),
        idempotency_memory_(std::max<size_t>(1, idempotency_memory)),
        on_outcome_(std::move(on_outcome)),
        rng_(std::random_device{}()) {
    if (retry_.max_attempts < 1) retry_.max_attempts = 1;
    thread_ = std::thread([this] { run(); });
  }
  ~Target() {
    abandon();
    join();
  }
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  bool remediation() const { return !action_.empty(); }

  bool enqueue(const std::shared_ptr<Envelope>& env, std::string key) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_ || queue_.size() >= capacity_) {
        ++pending_drops_;
        ++dropped_;
        cv_.notify_all();
        return false;
      }
      queue_.push_back({env, std::move(key)});
      ++accepted_;
    }
    cv_.notify_all();
    return true;
  }

  void stop_accepting() {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

  // True when the worker finished before `until`.
  bool wait_finished(Clock::time_point until) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_until(l, until, [this] { return finished_; });
  }

  void abandon() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      abandon_ = true;
      cv_.notify_all();
    }
    sink_->cancel();
  }

  void join() {
    if (thread_.joinable()) thread_.join();
  }

  size_t abandoned() const { return abandoned_; }

  TargetStats stats() const {
    TargetStats s;
    s.target = target_;
    {
      std::lock_guard<std::mutex> l(mu_);
      s.accepted = accepted_;
      s.dropped = dropped_;
      s.queued = queue_.size();
    }
    s.delivered = delivered_.load();
    s.failed = failed_.load();
    s.skipped = skipped_.load();
    s.attempts = attempts_.load();
    s.invoke_latency = latency_.summary();
    return s;
  }

 private:
  void run() {
    for (;;) {
      Item item;
      uint64_t drops = 0;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return stopping_ || !queue_.empty() || pending_drops_ > 0; });
        drops = std::exchange(pending_drops_, 0);
        if (drops == 0) {
          if (queue_.empty()) break;  // stopping, and nothing left
          item = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      if (drops > 0) {
        Outcome o = base(nullptr, "");
        o.status = OutcomeStatus::kDropped;
        o.dropped = drops;
        o.detail = std::to_string(drops) + " finding(s) dropped: queue full or shutting down";
        emit(o);
        continue;
      }
      try {
        process(item);
      } catch (const std::exception& e) {
        // Nothing above should throw; if it does, lose this delivery, not the worker.
        ++failed_;
        log::error("findings: delivery failed", {{"target", target_}, {"what", e.what()}});
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    cv_.notify_all();
  }

  bool abandoning() {
    std::lock_guard<std::mutex> l(mu_);
    return abandon_;
  }

  Outcome base(Envelope* env, const std::string& key) const {
    Outcome o;
    o.target = target_;
    o.remediation = remediation();
    o.idempotency_key = key;
    if (env != nullptr) {
      o.finding_uid = env->uid();
      o.dedup_key = env->dedup_key();
      o.host_id = env->finding.host_id;
    }
    return o;
  }

  void emit(const Outcome& o) {
    if (!on_outcome_) return;
    try {
      on_outcome_(o);
    } catch (const std::exception& e) {
      log::error("findings: outcome callback threw", {{"target", target_}, {"what", e.what()}});
    } catch (...) {
      log::error("findings: outcome callback threw", {{"target", target_}});
    }
  }

  void skip(Envelope& env, const Item& item, const std::string& why, OutcomeStatus status) {
    Outcome o = base(&env, item.idempotency_key);
    o.status = status;
    o.detail = why;
    ++skipped_;
    emit(o);
  }

  void process(Item& item) {
    Envelope& env = *item.env;
    const Finding& f = env.finding;
    if (abandoning()) {
      ++abandoned_;
      Outcome o = base(&env, item.idempotency_key);
      o.status = OutcomeStatus::kAbandoned;
      o.detail = "shutdown deadline passed before delivery";
      emit(o);
      return;
    }
    const std::string& dedup = env.dedup_key();
    if (remediation()) {
      if (done_keys_.count(item.idempotency_key) != 0) {
        skip(env, item, "already done for this evidence generation", OutcomeStatus::kAlreadyDone);
        return;
      }
    } else if (dedup_window_.count() > 0) {
      auto it = last_delivered_.find(dedup);
      if (it != last_delivered_.end() && Clock::now() - it->second < dedup_window_) {
        skip(env, item, "delivered within the dedup window", OutcomeStatus::kDeduplicated);
        return;
      }
    }

    std::string remediation_body;
    if (remediation()) {
      remediation_body = remediation_request_json(f, action_, item.idempotency_key, env.ocsf());
    }
    const std::string& body = remediation() ? remediation_body : env.ocsf_text();

    for (int attempt = 1;; ++attempt) {
      const auto start = Clock::now();
      const auto since_submit = duration_cast<microseconds>(start - env.submitted);
      if (attempt == 1) latency_.add(since_submit);
      ++attempts_;
      Attempt a;
      try {
        a = sink_->deliver(Delivery{f, body, item.idempotency_key, action_, attempt});
      } catch (const std::exception& e) {
        a = {AttemptResult::kRetryable, std::string("exception: ") + e.what()};
      } catch (...) {
        a = {AttemptResult::kRetryable, "exception"};
      }
      Outcome o = base(&env, item.idempotency_key);
      o.attempt = attempt;
      o.detail = a.detail;
      o.since_submit = since_submit;
      o.took = duration_cast<microseconds>(Clock::now() - start);
      if (a.result == AttemptResult::kDelivered) {
        o.status = OutcomeStatus::kDelivered;
        ++delivered_;
        remember(dedup, item.idempotency_key);
        emit(o);
        return;
      }
      if (a.result == AttemptResult::kPermanent || attempt >= retry_.max_attempts) {
        o.status = OutcomeStatus::kFailed;
        if (a.result != AttemptResult::kPermanent)
          o.detail = "gave up after " + std::to_string(attempt) + " attempts: " + a.detail;
        ++failed_;
        emit(o);
        return;
      }
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      o.status = OutcomeStatus::kRetrying;
      o.retry_in = backoff_delay(retry_, attempt, unit(rng_));
      emit(o);
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, o.retry_in, [this] { return abandon_; })) {
        l.unlock();
        ++abandoned_;
        Outcome ab = base(&env, item.idempotency_key);
        ab.status = OutcomeStatus::kAbandoned;
        ab.attempt = attempt;
        ab.detail = "shutdown deadline passed while waiting to retry: " + a.detail;
        emit(ab);
        return;
      }
    }
  }

  void remember(const std::string& dedup, const std::string& key) {
    if (remediation()) {
      if (done_keys_.insert(key).second) {
        done_order_.push_back(key);
        while (done_order_.size() > idempotency_memory_) {
          done_keys_.erase(done_order_.front());
          done_order_.pop_front();
        }
      }
      return;
    }
    if (dedup_window_.count() == 0) return;
    const auto now = Clock::now();
    last_delivered_[dedup] = now;
    if (last_delivered_.size() > 65536) {
      std::erase_if(last_delivered_,
                    [&](const auto& kv) { return now - kv.second >= dedup_window_; });
    }
  }

  const std::string target_;
  const std::string action_;
  std::shared_ptr<Sink> sink_;
  RetryPolicy retry_;
  const std::chrono::seconds dedup_window_;
  const size_t capacity_;
  const size_t idempotency_memory_;
  const OutcomeCallback on_outcome_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool abandon_ = false;
  bool finished_ = false;
  uint64_t pending_drops_ = 0;
  uint64_t accepted_ = 0;
  uint64_t dropped_ = 0;

  std::atomic<uint64_t> delivered_{0}, failed_{0}, skipped_{0}, attempts_{0};
  std::atomic<size_t> abandoned_{0};
  LatencyRing latency_;

  // Worker thread only.
  std::mt19937_64 rng_;
  std::unordered_map<std::string, Clock::time_point> last_delivered_;
  std::unordered_set<std::string> done_keys_;
  std::deque<std::string> done_order_;

  std::thread thread_;  // last: starts after everything above is constructed
};

struct SinkTarget {
  std::unique_ptr<Target> target;
  Severity min_severity;
};

class DispatcherImpl final : public Dispatcher {
 public:
  DispatcherImpl(RemediationPolicy policy, std::chrono::milliseconds deadline)
      : policy_(std::move(policy)), deadline_(deadline) {}
  ~DispatcherImpl() override { shutdown(deadline_); }

  bool submit(Finding finding) override {
    auto env = std::make_shared<Envelope>(std::move(finding), Clock::now());
    bool all = true;
    for (auto& s : sinks_) {
      if (env->finding.severity < s.min_severity) continue;
      all = s.target->enqueue(env, "") && all;
    }
    // Remediation acts on a host: a finding that names none (a sensor's finding about an
    // address no enrolled host has) goes to the sinks only, so no hook runs on a name the
    // reporter chose.
    if (env->finding.host_id.empty()) return all;
    for (const ActionSpec* a : policy_.actions_for(env->finding)) {
      auto it = actions_.find(a->name);
      if (it == actions_.end()) continue;
      all = it->second->enqueue(env, idempotency_key(env->finding, a->name)) && all;
    }
    return all;
  }

  size_t shutdown(std::chrono::milliseconds deadline) override {
    std::lock_guard<std::mutex> l(shutdown_mu_);
    if (shut_) return abandoned_;
    shut_ = true;
    std::vector<Target*> all;
    for (auto& s : sinks_) all.push_back(s.target.get());
    for (auto& [name, t] : actions_) all.push_back(t.get());
    for (Target* t : all) t->stop_accepting();
    const auto until = Clock::now() + deadline;
    bool finished = true;
    for (Target* t : all) finished = t->wait_finished(until) && finished;
    if (!finished)
      for (Target* t : all) t->abandon();
    for (Target* t : all) {
      t->join();
      abandoned_ += t->abandoned();
    }
    return abandoned_;
  }

  std::vector<TargetStats> stats() const override {
    std::vector<TargetStats> out;
    for (const auto& s : sinks_) out.push_back(s.target->stats());
    for (const auto& [name, t] : actions_) out.push_back(t->stats());
    return out;
  }

  std::vector<SinkTarget> sinks_;
  std::map<std::string, std::unique_ptr<Target>> actions_;

 private:
  RemediationPolicy policy_;
  std::chrono::milliseconds deadline_;
  std::mutex shutdown_mu_;
  bool shut_ = false;
  size_t abandoned_ = 0;
};

Result<std::shared_ptr<Sink>> build_sink(
    const std::variant<WebhookConfig, ExecConfig, JsonLinesConfig, SyslogConfig,
                       std::shared_ptr<Sink>>& config) {
  Result<SinkPtr> made = invalid_argument("no sink");
  if (const auto* w = std::get_if<WebhookConfig>(&config)) made = make_webhook_sink(*w);
  if (const auto* e = std::get_if<ExecConfig>(&config)) made = make_exec_sink(*e);
  if (const auto* j = std::get_if<JsonLinesConfig>(&config)) made = make_jsonl_sink(*j);
  if (const auto* s = std::get_if<SyslogConfig>(&config)) made = make_syslog_sink(*s);
  if (const auto* p = std::get_if<std::shared_ptr<Sink>>(&config)) {
    if (!*p) return invalid_argument("the given sink is null");
    return *p;
  }
  if (!made) return std::move(made).error();
  return std::shared_ptr<Sink>(std::move(*made));
}

}  // namespace

const char* outcome_status_name(OutcomeStatus status) {
  switch (status) {
    case OutcomeStatus::kDelivered: return "delivered";
    case OutcomeStatus::kRetrying: return "retrying";
    case OutcomeStatus::kFailed: return "failed";
    case OutcomeStatus::kDeduplicated: return "deduplicated";
    case OutcomeStatus::kAlreadyDone: return "already_done";
    case OutcomeStatus::kDropped: return "dropped";
    case OutcomeStatus::kAbandoned: return "abandoned";
  }
  return "unknown";
}

Result<std::unique_ptr<Dispatcher>> Dispatcher::create(DispatcherConfig config,
                                                       Callbacks callbacks) {
  IRONROOT_RETURN_IF_ERROR(config.remediation.validate());
  // Build every sink first, so that a bad one fails creation before any thread starts.
  std::vector<std::shared_ptr<Sink>> sinks;
  std::set<std::string> names;
  for (size_t i = 0; i < config.sinks.size(); ++i) {
    const auto& spec = config.sinks[i];
    const std::string where = "sinks[" + std::to_string(i) + "] '" + spec.name + "'";
    if (spec.name.empty()) return invalid_argument("sinks[" + std::to_string(i) + "]: no name");
    if (!names.insert(spec.name).second) return invalid_argument(where + ": name used twice");
    auto s = build_sink(spec.config);
    if (!s) return std::move(s).error().with_context(where);
    sinks.push_back(std::move(*s));
  }
  std::vector<std::shared_ptr<Sink>> actions;
  for (const auto& a : config.remediation.actions) {
    const std::string where = "remediation action '" + a.name + "'";
    std::shared_ptr<Sink> sink;
    switch (a.type) {
      case ActionType::kQuarantine:
        if (!callbacks.quarantine)
          return invalid_argument(where + ": quarantine needs the verifier's quarantine callback");
        sink = std::make_shared<QuarantineSink>(callbacks.quarantine);
        break;
      case ActionType::kWebhook:
      case ActionType::kExec: {
        Result<SinkPtr> made = invalid_argument("no configuration for a " +
                                                std::string(action_type_name(a.type)) + " action");
        if (const auto* w = std::get_if<WebhookConfig>(&a.config))
          made = make_webhook_sink(*w);
        else if (const auto* e = std::get_if<ExecConfig>(&a.config))
          made = make_exec_sink(*e);
        if (!made) return std::move(made).error().with_context(where);
        sink = std::shared_ptr<Sink>(std::move(*made));
        break;
      }
    }
    actions.push_back(std::move(sink));
  }

  auto d = std::make_unique<DispatcherImpl>(config.remediation, config.shutdown_deadline);
  for (size_t i = 0; i < config.sinks.size(); ++i) {
    const auto& spec = config.sinks[i];
    d->sinks_.push_back(
        {std::make_unique<Target>("sink:" + spec.name, "", sinks[i], spec.retry, spec.dedup_window,
                                  spec.queue_capacity, 0, callbacks.on_outcome),
         spec.min_severity});
  }
  for (size_t i = 0; i < config.remediation.actions.size(); ++i) {
    const auto& a = config.remediation.actions[i];
    d->actions_[a.name] = std::make_unique<Target>(
        "remediation:" + a.name, a.name, actions[i], a.retry, std::chrono::seconds(0),
        a.queue_capacity, config.idempotency_memory, callbacks.on_outcome);
  }
  return std::unique_ptr<Dispatcher>(std::move(d));
}

}  // namespace ironroot::findings
