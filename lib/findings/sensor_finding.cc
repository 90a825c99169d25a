#include "findings/sensor_finding.h"

namespace ironroot::findings {
namespace {

using nlohmann::json;

// A flow member as evidence text: strings as they are, numbers in decimal, absent as "".
std::string member_text(const json& flow, const char* name) {
  if (!flow.is_object()) return "";
  auto it = flow.find(name);
  if (it == flow.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace

Severity sensor_severity(int score) {
  if (score >= 80) return Severity::kHigh;
  if (score >= 50) return Severity::kMedium;
  return Severity::kLow;
}

Finding from_sensor_finding(const SensorFindingFields& in) {
  Finding f;
  f.kind = Kind::kSensorFinding;
  f.severity = sensor_severity(in.score);
  f.host_id = in.host;
  f.host_name = in.host;
  f.title = in.message.substr(0, in.message.find('\n'));
  f.message = in.message;
  if (in.ts_ns > 0) {
    f.time = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(in.ts_ns)));
  }
  // The flow's start tells one flow from the next on the same host; a finding without a flow
  // (a second DHCP client) is new evidence each time it is reported.
  uint64_t first_ns = 0;
  if (in.flow.is_object() && in.flow.contains("first_ns") &&
      in.flow["first_ns"].is_number_unsigned())
    first_ns = in.flow["first_ns"].get<uint64_t>();
  f.evidence_generation = first_ns != 0 ? first_ns : in.ts_ns;
  f.policy_id = "sensor/" + in.kind;
  f.policy_name = in.kind;

  std::string reasons;
  for (const auto& r : in.reasons) reasons += (reasons.empty() ? "" : "; ") + r;
  f.evidence = {
      {"kind", in.kind},
      {"score", std::to_string(in.score)},
      {"community_id", member_text(in.flow, "community_id")},
      {"proto", member_text(in.flow, "proto")},
      {"src", member_text(in.flow, "src")},
      {"sport", member_text(in.flow, "sport")},
      {"dst", member_text(in.flow, "dst")},
      {"dport", member_text(in.flow, "dport")},
      {"vlan", member_text(in.flow, "vlan")},
      {"src_mac", member_text(in.flow, "src_mac")},
      {"reasons", reasons},
  };
  if (in.raw.is_object()) f.extra = in.raw;
  return f;
}

Result<Finding> sensor_finding_from_json(const json& o) {
  if (!o.is_object()) return malformed("sensor finding: not a JSON object");
  SensorFindingFields in;
  auto kind = o.find("kind");
  if (kind == o.end() || !kind->is_string() || kind->get<std::string>().empty())
    return malformed("sensor finding: 'kind' must be a non-empty string");
  in.kind = kind->get<std::string>();
  auto score = o.find("score");
  if (score == o.end() || !score->is_number_integer() || score->get<int64_t>() < 0 ||
      score->get<int64_t>() > 100)
    return malformed("sensor finding '" + in.kind + "': 'score' must be an integer 0..100");
  in.score = score->get<int>();
  if (auto h = o.find("host"); h != o.end()) {
    if (!h->is_string())
      return malformed("sensor finding '" + in.kind + "': 'host' must be a string");
    in.host = h->get<std::string>();
  }
  auto msg = o.find("message");
  if (msg == o.end() || !msg->is_string())
    return malformed("sensor finding '" + in.kind + "': 'message' must be a string");
  in.message = msg->get<std::string>();
  if (auto r = o.find("reasons"); r != o.end()) {
    if (!r->is_array())
      return malformed("sensor finding '" + in.kind + "': 'reasons' must be an array");
    for (size_t i = 0; i < r->size(); ++i) {
      if (!(*r)[i].is_string())
        return malformed("sensor finding '" + in.kind + "': reasons[" + std::to_string(i) +
                         "] must be a string");
      in.reasons.push_back((*r)[i].get<std::string>());
    }
  }
  if (auto fl = o.find("flow"); fl != o.end()) {
    if (!fl->is_object())
      return malformed("sensor finding '" + in.kind + "': 'flow' must be an object");
    in.flow = *fl;
  }
  if (auto t = o.find("ts_ns"); t != o.end()) {
    if (!t->is_number_unsigned())
      return malformed("sensor finding '" + in.kind + "': 'ts_ns' must be a non-negative integer");
    in.ts_ns = t->get<uint64_t>();
  }
  in.raw = o;
  return from_sensor_finding(in);
}

}  // namespace ironroot::findings
