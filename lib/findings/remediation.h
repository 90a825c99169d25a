// ironroot findings: remediation policy. Which actions a finding triggers, chosen by its kind and
// severity; each action runs at most once per idempotency key (host + kind + evidence generation).
//
//   {"actions": {"quarantine": {"type": "quarantine"},
//                "cordon": {"type": "exec", "argv": ["kubectl", "cordon", "{host_name}"]}},
//    "rules": [{"kinds": ["untrusted_transition"], "min_severity": "high",
//               "actions": ["quarantine", "cordon"]}]}
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "findings/finding.h"
#include "findings/sink.h"

namespace ironroot::findings {

// Exponential backoff with jitter: the wait after the n-th failed attempt is a random value in
// [d/2, d] where d = min(max_backoff, initial_backoff * multiplier^(n-1)).
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  double multiplier = 2.0;
};

// `unit` is a uniformly random number in [0, 1).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failed_attempts,
                                        double unit);

enum class ActionType : uint8_t {
  kQuarantine,  // the verifier's callback: deny the host admission to relying parties
  kWebhook,     // POST a remediation request
  kExec,        // run a command (cordon a Kubernetes node, shut a switch port)
};
const char* action_type_name(ActionType type);

struct ActionSpec {
  std::string name;
  ActionType type = ActionType::kQuarantine;
  std::variant<std::monostate, WebhookConfig, ExecConfig> config;
  RetryPolicy retry;
  size_t queue_capacity = 1024;
};

struct RemediationRule {
  std::vector<Kind> kinds;  // empty: every kind
  Severity min_severity = Severity::kUnknown;
  std::vector<std::string> actions;  // names in RemediationPolicy::actions
};

struct RemediationPolicy {
  std::vector<ActionSpec> actions;
  std::vector<RemediationRule> rules;

  // The actions every matching rule names, each once, in the order first named. Only for
  // kCreate and kUpdate findings: closing a finding remediates nothing.
  std::vector<const ActionSpec*> actions_for(const Finding& finding) const;
  // Checks that every rule names a defined action and names are unique.
  Status validate() const;
};

// "<action>:<host id>:<kind>:<evidence generation>": the same finding from the same evidence
// never acts twice, a new piece of evidence that still fails may.
std::string idempotency_key(const Finding& finding, const std::string& action);

// The JSON a webhook or exec remediation receives: {"action", "idempotency_key", "host_id",
// "finding": <OCSF Detection Finding>}.
std::string remediation_request_json(const Finding& finding, const std::string& action,
                                     const std::string& key, const nlohmann::json& ocsf);

}  // namespace ironroot::findings
