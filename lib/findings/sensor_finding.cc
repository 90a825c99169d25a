#include "findings/sensor_finding.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <limits>

#include "core/text.h"

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

bool is_text(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return s.size() < 64 &&
         (::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1);
}

bool is_mac(const std::string& s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// Errors name the field as "<where>.flow.sport: ...".
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

 private:
  Error bad(const std::string& field, const std::string& what) const {
    return invalid_argument(where_ + (field.empty() ? "" : "." + field) + ": " + what);
  }

  Result<std::string> text(const json& o, const std::string& field, size_t max, bool required) {
    auto it = o.find(field);
    if (it == o.end()) {
      if (required) return bad(prefix_ + field, "missing (a string)");
      return std::string();
    }
    if (!it->is_string()) return bad(prefix_ + field, "must be a string");
    const auto& v = it->get_ref<const std::string&>();
    if (v.size() > max)
      return bad(prefix_ + field, "longer than " + std::to_string(max) + " bytes");
    return v;
  }

  Result<std::optional<uint64_t>> number(const json& o, const std::string& field, uint64_t max,
                                         bool required) {
    auto it = o.find(field);
    if (it == o.end()) {
      if (required) return bad(prefix_ + field, "missing (an integer)");
      return std::optional<uint64_t>();
    }
    if (!it->is_number_integer()) return bad(prefix_ + field, "must be an integer");
    // Parsed text gives non-negative numbers as unsigned; JSON built in code may hold them signed.
    const bool negative = !it->is_number_unsigned() && it->get<int64_t>() < 0;
    if (negative || it->get<uint64_t>() > max)
      return bad(prefix_ + field, "must be between 0 and " + std::to_string(max));
    return std::optional<uint64_t>(it->get<uint64_t>());
  }

 public:
  // One finding object; `raw` keeps it whole.
  Result<SensorFindingFields> one(const json& e) {
    if (!e.is_object()) return bad("", "must be an object");
    prefix_.clear();
    SensorFindingFields item;
    IRONROOT_ASSIGN_OR_RETURN(std::string type, text(e, "type", 16, true));
    if (type != "finding") return bad("type", "must be \"finding\"");
    IRONROOT_ASSIGN_OR_RETURN(item.kind, text(e, "kind", 64, true));
    if (!is_token(item.kind, 64, "_.-")) return bad("kind", "1-64 of [A-Za-z0-9_.-]");
    IRONROOT_ASSIGN_OR_RETURN(auto score, number(e, "score", 100, true));
    item.score = static_cast<int>(*score);
    IRONROOT_ASSIGN_OR_RETURN(item.host, text(e, "host", 255, false));
    if (!is_text(item.host)) return bad("host", "control characters are not allowed");
    IRONROOT_ASSIGN_OR_RETURN(auto ts, number(e, "ts_ns", UINT64_MAX, true));
    item.ts_ns = *ts;
    IRONROOT_ASSIGN_OR_RETURN(item.message, text(e, "message", 4096, true));
    // Findings end up in syslog lines and tickets: no line breaks or escapes smuggled in.
    if (!is_text(item.message)) return bad("message", "control characters are not allowed");
    if (auto it = e.find("reasons"); it != e.end()) {
      if (!it->is_array() || it->size() > 32) return bad("reasons", "a list of at most 32 strings");
      for (size_t k = 0; k < it->size(); ++k) {
        const json& r = (*it)[k];
        if (!r.is_string() || r.get_ref<const std::string&>().size() > 1024 ||
            !is_text(r.get_ref<const std::string&>()))
          return bad("reasons[" + std::to_string(k) + "]",
                     "a string of at most 1024 bytes without control characters");
        item.reasons.push_back(r.get<std::string>());
      }
    }
    if (auto it = e.find("flow"); it != e.end() && !it->is_null()) {
      IRONROOT_ASSIGN_OR_RETURN(item.flow, flow(*it));
    }
    item.raw = e;
    return item;
  }

 private:
  Result<json> flow(const json& f) {
    if (!f.is_object()) return bad("flow", "must be an object");
    prefix_ = "flow.";
    json out = json::object();
    IRONROOT_ASSIGN_OR_RETURN(std::string id, text(f, "community_id", 64, true));
    if (!is_token(id, 64, ":+/=")) return bad("flow.community_id", "not a Community ID");
    out["community_id"] = id;
    IRONROOT_ASSIGN_OR_RETURN(auto proto, number(f, "proto", 255, true));
    out["proto"] = *proto;
    for (const char* end : {"src", "dst"}) {
      IRONROOT_ASSIGN_OR_RETURN(std::string ip, text(f, end, 64, true));
      if (!is_ip(ip)) return bad(std::string("flow.") + end, "not an IP address");
      out[end] = ip;
    }
    for (const char* port : {"sport", "dport"}) {
      IRONROOT_ASSIGN_OR_RETURN(auto v, number(f, port, 65535, false));
      if (v) out[port] = *v;
    }
    if (out.contains("sport") != out.contains("dport"))
      return bad("flow.sport", "sport and dport come together");
    IRONROOT_ASSIGN_OR_RETURN(auto vlan, number(f, "vlan", 4095, false));
    if (vlan) out["vlan"] = *vlan;
    for (const char* mac : {"src_mac", "dst_mac"}) {
      IRONROOT_ASSIGN_OR_RETURN(std::string m, text(f, mac, 17, false));
      if (m.empty()) continue;
      if (!is_mac(m))
        return bad(std::string("flow.") + mac, "not a MAC address (aa:bb:cc:dd:ee:ff)");
      out[mac] = m;
    }
    IRONROOT_ASSIGN_OR_RETURN(std::string initiator, text(f, "initiator", 8, false));
    if (!initiator.empty()) {
      if (initiator != "src" && initiator != "dst") return bad("flow.initiator", "src or dst");
      out["initiator"] = initiator;
    }
    for (const char* t : {"first_ns", "last_ns"}) {
      IRONROOT_ASSIGN_OR_RETURN(auto v, number(f, t, UINT64_MAX, false));
      if (v) out[t] = *v;
    }
    for (const char* dir : {"orig", "resp"}) {
      auto it = f.find(dir);
      if (it == f.end()) continue;
      if (!it->is_object()) return bad(std::string("flow.") + dir, "must be an object");
      json c = json::object();
      prefix_ = std::string("flow.") + dir + ".";
      for (const char* n : {"packets", "bytes", "tcp_flags"}) {
        IRONROOT_ASSIGN_OR_RETURN(auto v, number(*it, n, UINT64_MAX, false));
        if (v) c[n] = *v;
      }
      prefix_ = "flow.";
      out[dir] = c;
    }
    if (auto it = f.find("signatures"); it != f.end()) {
      if (!it->is_array() || it->size() > 32)
        return bad("flow.signatures", "a list of at most 32 names");
      json names = json::array();
      for (const auto& n : *it) {
        if (!n.is_string() || !is_token(n.get<std::string>(), 64, "_.-"))
          return bad("flow.signatures", "names are 1-64 of [A-Za-z0-9_.-]");
        names.push_back(n);
      }
      out["signatures"] = names;
    }
    return out;
  }

  std::string where_;   // "findings[3]"
  std::string prefix_;  // "flow." while reading the flow: names in errors are full paths
};

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

Result<SensorFindingFields> read_sensor_finding(const json& object, const std::string& where) {
  return Reader(where).one(object);
}

}  // namespace ironroot::findings
