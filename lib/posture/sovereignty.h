// ironroot posture: silicon sovereignty. Where each security-relevant component comes from, a
// small policy language evaluated per host, a CycloneDX 1.5 hardware BOM, and a fleet report.
//
// Policy: one rule per line, `deny|warn "name" when EXPR`, '#' starts a comment. EXPR has
// and / or / not, parentheses, == != < <= > >=, `in [..]` / `not in [..]`, and quantifiers
// `any engine (EXPR)` (over subos_engines) and `any component (EXPR)` (over component origins).
//
//   deny "network-capable engine outside the EU" when any engine (engine.network_capable
//        and engine.state != "disabled-hap" and not engine.eu)
//
//   IRONROOT_ASSIGN_OR_RETURN(auto policy, posture::parse_policy(text));
//   posture::PolicyDecision d = posture::evaluate_policy(policy, p);   // d.decision == "deny"
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "posture/posture.h"
#include "posture/rating.h"

namespace ironroot::posture {

struct ComponentOrigin {
  std::string role;          // "cpu", "chipset-me", "tpm", "bmc", "firmware", "system", "nic"
  std::string name;          // what the host reported ("Intel(R) Xeon(R) ...", "IFX", ...)
  std::string vendor;        // canonical vendor from data/posture/vendors.json, "" unknown
  std::string jurisdiction;  // "US", "DE", ...; "" when the vendor is unknown
  bool eu = false;
  std::string ref;
};

std::vector<ComponentOrigin> component_origins(const Posture& p);

// ---- policy ----

struct PolicyExpr;  // opaque syntax tree

struct PolicyRule {
  std::string effect;  // "deny" or "warn"
  std::string name;
  size_t line = 0;
  std::shared_ptr<const PolicyExpr> condition;
};

struct Policy {
  std::vector<PolicyRule> rules;
};

// Parses the policy text; errors name the line and column.
Result<Policy> parse_policy(std::string_view text);

// The policy ironroot applies when none is given (data/posture/sovereignty.policy).
const std::string& default_policy_text();

struct PolicyHit {
  std::string effect, name;
  size_t line = 0;
  std::string detail;  // which engine / component made it true, when a quantifier did
};

struct PolicyDecision {
  std::string decision = "allow";  // "allow", "warn", "deny"
  std::vector<PolicyHit> hits;
};

// Pure: facts in, decision out. Unknown identifiers evaluate to null (false, never equal).
PolicyDecision evaluate_policy(const Policy& policy, const Posture& p);

// ---- CycloneDX ----

// A CycloneDX 1.5 JSON BOM of the host's hardware and firmware, with jurisdiction and sub-OS
// engine state as properties. `serial_uuid` "" draws a random one.
nlohmann::json cyclonedx_bom(const Posture& p, const Rating& rating, std::string serial_uuid = "");

// ---- fleet ----

struct FleetHost {
  Posture posture;
  Rating rating;
  PolicyDecision decision;
  std::vector<ComponentOrigin> origins;
};

FleetHost assess_host(Posture p, const Policy& policy);

// Counts per jurisdiction (by component role), per engine kind and state, per decision.
nlohmann::json fleet_report_json(const std::vector<FleetHost>& hosts);
// The same as one self-contained HTML page with bar charts (inline SVG, no script).
std::string fleet_report_html(const std::vector<FleetHost>& hosts);

}  // namespace ironroot::posture
