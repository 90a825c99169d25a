// ironroot policy: one policy document with a measured-boot part and an IMA runtime part, and
// the two appraisals a verifier runs with it.
//
// The ironroot format is JSON:
//   {"ironroot_policy": 1,
//    "measured_boot": {...see measured_boot.h...},
//    "runtime": {...a Keylime runtime policy, format version 1...}}
// load_policy() also takes a raw Keylime runtime policy (JSON) or a Keylime allowlist (text,
// with an optional exclude list) and makes a policy with only the runtime part.
//
//   IRONROOT_ASSIGN_OR_RETURN(PolicyPtr p, load_policy_file("host.policy.json"));
//   // once, then shared by every host and thread:
//   IRONROOT_ASSIGN_OR_RETURN(MeasuredBootResult mb, check_event_log(*p, log_bytes));
//   ImaAppraiser ima(p->runtime, {}, stored_state);
//
// load_policy() returns an Error (naming the member, line or limit) and builds nothing when the
// document is bad; the caller keeps the policy it had. A loaded Policy is immutable.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "policy/ima_appraiser.h"
#include "policy/measured_boot.h"
#include "policy/runtime_policy.h"

namespace ironroot::policy {

struct Policy {
  std::optional<MeasuredBootPolicy> measured_boot;
  RuntimePolicyPtr runtime;  // null when the policy has no runtime part

  // The ironroot JSON document.
  std::string to_json() const;
};
using PolicyPtr = std::shared_ptr<const Policy>;

enum class PolicyFormat : uint8_t { kIronroot, kKeylimeRuntime, kKeylimeAllowlist };
const char* policy_format_name(PolicyFormat f);

struct PolicyLimits {
  RuntimePolicyLimits runtime;
  size_t max_measured_boot_bytes = size_t{64} << 20;
};

// Detects the format: JSON with "ironroot_policy" (ironroot), other JSON (Keylime runtime
// policy), text (Keylime allowlist; `exclude_list` applies to it only).
Result<PolicyPtr> load_policy(Bytes document, std::string_view exclude_list = {},
                              const PolicyLimits& limits = {}, PolicyFormat* format = nullptr);
Result<PolicyPtr> load_policy_file(const std::string& path, const std::string& exclude_path = "",
                                   const PolicyLimits& limits = {}, PolicyFormat* format = nullptr);

// Appraises a firmware event log against the measured-boot part. Error when the policy has
// none or the log cannot be read.
Result<MeasuredBootResult> check_event_log(const Policy& policy, Bytes log);

// Nesting depth of a JSON text (brackets outside strings), to refuse deep documents before a
// recursive parser sees them.
size_t json_depth(std::string_view text);

}  // namespace ironroot::policy
