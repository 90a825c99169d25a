// ironroot findings: a network sensor finding (`ironroot sensor`, lib/sensor/reconcile.h) as a
// findings::Finding, for the sinks and remediation. Takes plain fields, so lib/findings does not
// depend on lib/sensor; the sensor CLI and the verifier's POST /v1/sensor/findings both use it.
//
//   SensorFindingFields f{.kind = "unaccounted_traffic", .score = 95, .host = "h1", ...};
//   dispatcher->submit(from_sensor_finding(f));
//   // or, from the JSON object sensor::Finding::json() renders (checked field by field):
//   IRONROOT_ASSIGN_OR_RETURN(SensorFindingFields g, read_sensor_finding(object));
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "findings/finding.h"

namespace ironroot::findings {

struct SensorFindingFields {
  std::string kind;  // "unaccounted_traffic", "amt_port_probe", ...
  int score = 0;     // 0..100
  std::string host;  // the enrolled host's name; empty for signature-only findings
  std::string message;
  std::vector<std::string> reasons;
  nlohmann::json flow;  // the finding's "flow" object (community_id, proto, src, ...), or null
  uint64_t ts_ns = 0;   // when the sensor reported it
  nlohmann::json raw;   // the sensor's own JSON for it (OCSF "unmapped"); object or null
};

// Severity from the score: >= 80 High, >= 50 Medium, else Low.
Severity sensor_severity(int score);

// Kind kSensorFinding; title = the message's first line; evidence = kind, score, community_id,
// proto, src, sport, dst, dport, vlan, src_mac, reasons (only what identifies the flow, so the
// dedup key is the same each time the same flow is reported); evidence generation = the flow's
// start (ns), so remediation acts once per flow.
Finding from_sensor_finding(const SensorFindingFields& fields);

// Reads one object as sensor::Finding::json() renders it, strictly: it comes from the network
// (POST /v1/sensor/findings). Types, ranges and sizes are checked, text may hold no control
// characters (findings end up in syslog lines and tickets), the flow keeps only its known
// fields; `raw` is the object. Errors name the field after `where`: "findings[3].flow.sport: ...".
Result<SensorFindingFields> read_sensor_finding(const nlohmann::json& object,
                                                const std::string& where = "finding");

}  // namespace ironroot::findings
