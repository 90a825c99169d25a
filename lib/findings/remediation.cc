#include "findings/remediation.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace ironroot::findings {

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failed_attempts,
                                        double unit) {
  const double cap = static_cast<double>(policy.max_backoff.count());
  double d = static_cast<double>(policy.initial_backoff.count()) *
             std::pow(policy.multiplier, std::max(0, failed_attempts - 1));
  d = std::min(d, cap);
  // "Equal jitter": at least half the exponential delay, so retries still back off, and a random
  // other half, so that many verifiers failing together do not retry in lockstep.
  const double jittered = d / 2 + (d / 2) * std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(jittered));
}

const char* action_type_name(ActionType type) {
  switch (type) {
    case ActionType::kQuarantine: return "quarantine";
    case ActionType::kWebhook: return "webhook";
    case ActionType::kExec: return "exec";
  }
  return "unknown";
}

std::vector<const ActionSpec*> RemediationPolicy::actions_for(const Finding& finding) const {
  std::vector<const ActionSpec*> out;
  if (finding.activity == Activity::kClose) return out;
  for (const auto& rule : rules) {
    if (finding.severity < rule.min_severity) continue;
    if (!rule.kinds.empty() &&
        std::find(rule.kinds.begin(), rule.kinds.end(), finding.kind) == rule.kinds.end())
      continue;
    for (const auto& name : rule.actions) {
      auto it = std::find_if(actions.begin(), actions.end(),
                             [&](const ActionSpec& a) { return a.name == name; });
      if (it == actions.end()) continue;
      if (std::find(out.begin(), out.end(), &*it) == out.end()) out.push_back(&*it);
    }
  }
  return out;
}

Status RemediationPolicy::validate() const {
  std::set<std::string> names;
  for (const auto& a : actions) {
    if (a.name.empty()) return invalid_argument("remediation action with an empty name");
    if (!names.insert(a.name).second)
      return invalid_argument("remediation action '" + a.name + "' is defined twice");
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    for (const auto& n : rules[i].actions) {
      if (names.count(n) == 0)
        return invalid_argument("remediation.rules[" + std::to_string(i) + "].actions: '" + n +
                                "' is not a defined action");
    }
  }
  return {};
}

std::string idempotency_key(const Finding& finding, const std::string& action) {
  return action + ":" + finding.host_id + ":" + kind_name(finding.kind) + ":" +
         std::to_string(finding.evidence_generation);
}

std::string remediation_request_json(const Finding& finding, const std::string& action,
                                     const std::string& key, const nlohmann::json& ocsf) {
  nlohmann::json j = {
      {"action", action},           {"idempotency_key", key},
      {"host_id", finding.host_id}, {"host_name", finding.host_name},
      {"host_ip", finding.host_ip}, {"finding", ocsf},
  };
  return dump_json(j);
}

}  // namespace ironroot::findings
