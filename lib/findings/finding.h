// ironroot findings: what the verifier tells the outside world, as OCSF Detection Finding JSON.
//
// A Finding is one observation about one host: an untrusted transition, a policy violation, a
// posture change or a sensor finding. to_ocsf() renders it as an OCSF 1.x Detection Finding
// (class_uid 2004, category "Findings"), the event class SIEMs and security lakes ingest natively.
//
//   Finding f;
//   f.kind = Kind::kUntrustedTransition;
//   f.severity = Severity::kHigh;
//   f.host_id = "host-3";
//   f.title = "PCR 7 drifted from the approved value";
//   f.evidence = {{"pcr", "7"}, {"expected", "ab.."}, {"observed", "cd.."}};
//   std::string line = to_ocsf_json(f);
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ironroot::findings {

// The OCSF schema version the output follows.
inline constexpr const char* kOcsfVersion = "1.4.0";

// What happened. The names ("untrusted_transition", ...) appear in configuration and output.
enum class Kind : uint8_t {
  kUntrustedTransition,  // a host left the trusted state
  kPolicyViolation,      // evidence broke a policy rule
  kPostureChange,        // platform posture (firmware settings, management engines) changed
  kSensorFinding,        // the network sensor saw something the host did not report
};
const char* kind_name(Kind kind);
std::optional<Kind> kind_from_name(std::string_view name);

// OCSF severity_id (base event): the numbers are the schema's.
enum class Severity : uint8_t {
  kUnknown = 0,
  kInformational = 1,
  kLow = 2,
  kMedium = 3,
  kHigh = 4,
  kCritical = 5,
  kFatal = 6,
};
// "Informational", "Low", ... as OCSF spells them.
const char* severity_name(Severity severity);
// Case-insensitive: "high", "High", "HIGH".
std::optional<Severity> severity_from_name(std::string_view name);

// OCSF activity_id of a Detection Finding: a new finding, an update to it, or its closing.
enum class Activity : uint8_t { kCreate = 1, kUpdate = 2, kClose = 3 };

struct EvidenceItem {
  std::string name;   // "pcr", "expected", "observed", "event", "policy_rule", ...
  std::string value;  // text; digests in lowercase hex
};

struct Finding {
  Kind kind = Kind::kPolicyViolation;
  Severity severity = Severity::kMedium;
  Activity activity = Activity::kCreate;
  std::string host_id;  // the verifier's stable host identifier
  std::string host_name;
  std::string host_ip;
  std::string title;    // one line
  std::string message;  // what a person reads: what changed and why it matters
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  // Which evidence this finding came from (the host's attestation counter, or any number that
  // grows with each new piece of evidence). Part of the remediation idempotency key.
  uint64_t evidence_generation = 0;
  std::string policy_id;  // the policy (or rule) the evidence was judged against
  std::string policy_name;
  std::vector<EvidenceItem> evidence;
  // Anything else worth keeping; lands in OCSF "unmapped". Must be a JSON object or null.
  nlohmann::json extra;
  // Optional overrides; empty means derived (see dedup_key() and uid()).
  std::string dedup_key_override;
  std::string uid_override;

  // The same condition on the same host gives the same key: hex SHA-256 (first 16 bytes) of
  // kind, host, policy, title and evidence. The evidence generation is not part of it, so a drift
  // seen again at the next quote is a duplicate.
  std::string dedup_key() const;
  // This finding's own identifier: "<dedup key>-<evidence generation>".
  std::string uid() const;
};

// The OCSF Detection Finding (class_uid 2004) for `finding`. Deterministic for a given finding.
nlohmann::json to_ocsf(const Finding& finding);

// to_ocsf() as one line of JSON. Text that is not valid UTF-8 (a host may report anything) is
// replaced with U+FFFD rather than refused.
std::string to_ocsf_json(const Finding& finding);
// The same for any JSON value ironroot emits.
std::string dump_json(const nlohmann::json& value);

// Milliseconds since the Unix epoch (OCSF timestamp_t).
int64_t to_unix_ms(std::chrono::system_clock::time_point t);

}  // namespace ironroot::findings
