// ironroot findings: the Dispatcher takes findings from the verifier's request path and delivers
// them to every configured sink, and runs the remediation actions the policy asks for.
//
//   Callbacks cb;
//   cb.on_outcome = [&](const Outcome& o) { audit_log.append(outcome_json(o)); };
//   cb.quarantine = [&](const Finding& f) { return registry.deny_admission(f.host_id); };
//   IRONROOT_ASSIGN_OR_RETURN(DispatcherConfig config, load_config("/etc/ironroot/findings.json"));
//   IRONROOT_ASSIGN_OR_RETURN(auto dispatcher, Dispatcher::create(std::move(config), cb));
//   dispatcher->submit(finding);          // never blocks
//   ...
//   dispatcher->shutdown(std::chrono::seconds(5));
//
// Every sink and every remediation action has its own bounded queue and worker thread, so a slow
// SIEM never delays a quarantine. A full queue drops (counted and reported), it never blocks.
// Within one sink, findings are delivered in submission order; a finding being retried holds the
// ones behind it.
//
// Thread safety: submit(), stats() and shutdown() may be called from any thread. Callbacks run on
// the worker threads (several at once): they must be thread-safe and should be quick.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/result.h"
#include "findings/finding.h"
#include "findings/remediation.h"
#include "findings/sink.h"

namespace ironroot::findings {

struct SinkSpec {
  std::string name;
  // A configuration (the Dispatcher makes the sink) or a sink of the caller's own.
  std::variant<WebhookConfig, ExecConfig, JsonLinesConfig, SyslogConfig, std::shared_ptr<Sink>>
      config;
  RetryPolicy retry;
  // A finding whose dedup key was delivered to this sink less than this long ago is not sent
  // again (0: off). The config loader's default is 300 s for webhooks, 0 for the others.
  std::chrono::seconds dedup_window{0};
  Severity min_severity = Severity::kUnknown;  // quieter findings skip this sink
  size_t queue_capacity = 4096;
};

struct DispatcherConfig {
  std::vector<SinkSpec> sinks;
  RemediationPolicy remediation;
  std::chrono::milliseconds shutdown_deadline{5000};  // used by the destructor
  size_t idempotency_memory = 65536;  // keys remembered per action (oldest forgotten first)
};

enum class OutcomeStatus : uint8_t {
  kDelivered,     // the sink took it / the action succeeded
  kRetrying,      // this attempt failed, another follows after `retry_in`
  kFailed,        // permanent failure, or the last attempt failed
  kDeduplicated,  // sink: the same dedup key was delivered within the window
  kAlreadyDone,   // remediation: this idempotency key already succeeded
  kDropped,       // the queue was full (or the dispatcher shut down): `dropped` findings lost
  kAbandoned,     // the shutdown deadline passed before it could be delivered
};
const char* outcome_status_name(OutcomeStatus status);

struct Outcome {
  std::string target;  // "sink:<name>" or "remediation:<action>"
  bool remediation = false;
  OutcomeStatus status = OutcomeStatus::kDelivered;
  std::string finding_uid;
  std::string dedup_key;
  std::string host_id;
  std::string idempotency_key;  // remediation only
  int attempt = 0;              // 1-based; 0 when no attempt was made
  std::string detail;           // "HTTP 503", "exit status 0", ...
  // From submit() to the start of this attempt: for attempt 1, the time it took the hook to be
  // called.
  std::chrono::microseconds since_submit{0};
  std::chrono::microseconds took{0};  // this attempt
  std::chrono::milliseconds retry_in{0};
  uint64_t dropped = 0;  // kDropped: how many
};

using OutcomeCallback = std::function<void(const Outcome&)>;
// Deny the finding's host (finding.host_id) admission. Must be idempotent; an Error is retried.
using QuarantineCallback = std::function<Status(const Finding&)>;

struct Callbacks {
  OutcomeCallback on_outcome;     // optional
  QuarantineCallback quarantine;  // required when a "quarantine" action is configured
};

struct LatencySummary {
  uint64_t count = 0;  // samples kept (the most recent 8192)
  std::chrono::microseconds p50{0};
  std::chrono::microseconds p99{0};
  std::chrono::microseconds max{0};
};

struct TargetStats {
  std::string target;
  uint64_t accepted = 0;
  uint64_t dropped = 0;
  uint64_t delivered = 0;
  uint64_t failed = 0;
  uint64_t skipped = 0;  // deduplicated or already done
  uint64_t attempts = 0;
  size_t queued = 0;
  // submit() to the first attempt's start (the hook being called).
  LatencySummary invoke_latency;
};

class Dispatcher {
 public:
  // Builds every sink and action (an Error names the sink or action that is wrong) and starts the
  // workers.
  static Result<std::unique_ptr<Dispatcher>> create(DispatcherConfig config, Callbacks callbacks);
  // Shuts down with the configured deadline.
  virtual ~Dispatcher() = default;

  // Queues the finding for every sink and every remediation action its kind and severity call
  // for. Never blocks. False when some target dropped it (queue full, or shutting down).
  virtual bool submit(Finding finding) = 0;

  // Stops accepting findings, delivers what is queued until `deadline` has passed, then
  // abandons the rest (reported as kAbandoned), cancels running commands and joins the workers.
  // Returns the number of deliveries abandoned. Idempotent.
  virtual size_t shutdown(std::chrono::milliseconds deadline) = 0;

  virtual std::vector<TargetStats> stats() const = 0;
};

}  // namespace ironroot::findings
