#include "findings/finding.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/hex.h"
#include "crypto/digest.h"

namespace ironroot::findings {
namespace {

constexpr std::array<std::pair<Kind, const char*>, 4> kKinds = {{
    {Kind::kUntrustedTransition, "untrusted_transition"},
    {Kind::kPolicyViolation, "policy_violation"},
    {Kind::kPostureChange, "posture_change"},
    {Kind::kSensorFinding, "sensor_finding"},
}};

constexpr std::array<const char*, 7> kSeverities = {"Unknown", "Informational", "Low",  "Medium",
                                                    "High",    "Critical",      "Fatal"};

const char* activity_name(Activity a) {
  switch (a) {
    case Activity::kCreate: return "Create";
    case Activity::kUpdate: return "Update";
    case Activity::kClose: return "Close";
  }
  return "Unknown";
}

// Length-prefixed, so that ("ab","c") and ("a","bc") hash differently.
void add_field(crypto::Hasher& h, std::string_view s) {
  const uint64_t n = s.size();
  std::array<uint8_t, 8> len{};
  for (size_t i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  h.update(len);
  h.update(Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace

const char* kind_name(Kind kind) {
  for (const auto& [k, name] : kKinds)
    if (k == kind) return name;
  return "unknown";
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (const auto& [k, n] : kKinds)
    if (name == n) return k;
  return std::nullopt;
}

const char* severity_name(Severity severity) {
  const auto i = static_cast<size_t>(severity);
  return i < kSeverities.size() ? kSeverities[i] : "Unknown";
}

std::optional<Severity> severity_from_name(std::string_view name) {
  for (size_t i = 0; i < kSeverities.size(); ++i) {
    std::string_view s = kSeverities[i];
    if (s.size() == name.size() && std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return static_cast<Severity>(i);
  }
  return std::nullopt;
}

int64_t to_unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string Finding::dedup_key() const {
  if (!dedup_key_override.empty()) return dedup_key_override;
  // One context per thread: fetching the algorithm is the expensive part, not the hashing.
  thread_local crypto::Hasher h(crypto::HashAlg::kSha256);
  h.init();
  add_field(h, kind_name(kind));
  add_field(h, host_id);
  add_field(h, policy_id);
  add_field(h, title);
  for (const auto& e : evidence) {
    add_field(h, e.name);
    add_field(h, e.value);
  }
  const crypto::Digest d = h.final();
  return to_hex(d.view().first(16));
}

std::string Finding::uid() const {
  if (!uid_override.empty()) return uid_override;
  return dedup_key() + "-" + std::to_string(evidence_generation);
}

nlohmann::json to_ocsf(const Finding& f) {
  using nlohmann::json;
  const int64_t ms = to_unix_ms(f.time);
  const std::string dedup_key = f.dedup_key();
  const std::string uid = f.uid_override.empty()
                              ? dedup_key + "-" + std::to_string(f.evidence_generation)
                              : f.uid_override;
  const auto activity_id = static_cast<int>(f.activity);
  const bool closed = f.activity == Activity::kClose;

  json out = json::object();
  // Base event (OCSF 1.x events/base_event.json) and Detection Finding (findings/2004).
  out["class_uid"] = 2004;
  out["class_name"] = "Detection Finding";
  out["category_uid"] = 2;
  out["category_name"] = "Findings";
  out["activity_id"] = activity_id;
  out["activity_name"] = activity_name(f.activity);
  out["type_uid"] = 2004 * 100 + activity_id;  // class_uid * 100 + activity_id
  out["type_name"] = std::string("Detection Finding: ") + activity_name(f.activity);
  out["severity_id"] = static_cast<int>(f.severity);
  out["severity"] = severity_name(f.severity);
  out["status_id"] = closed ? 4 : 1;  // Resolved : New
  out["status"] = closed ? "Resolved" : "New";
  out["time"] = ms;
  if (!f.message.empty()) out["message"] = f.message;
  out["is_alert"] = !closed && f.severity >= Severity::kHigh;

  out["metadata"] = {
      {"product", {{"name", "ironroot"}, {"vendor_name", "ironroot"}}},
      {"version", kOcsfVersion},
      {"uid", uid},
      {"profiles", json::array({"host"})},
      {"log_name", "findings"},
  };

  json info = {
      {"uid", uid},
      {"title", f.title},
      {"types", json::array({kind_name(f.kind)})},
      {"created_time", ms},
  };
  if (!f.message.empty()) info["desc"] = f.message;
  if (!f.policy_id.empty() || !f.policy_name.empty()) {
    json analytic = {{"type_id", 1}, {"type", "Rule"}};
    if (!f.policy_id.empty()) analytic["uid"] = f.policy_id;
    if (!f.policy_name.empty()) analytic["name"] = f.policy_name;
    info["analytic"] = std::move(analytic);
  }
  out["finding_info"] = std::move(info);

  // The host, as the affected resource and (host profile) as the device.
  json device = {{"type_id", 1}, {"type", "Server"}};
  if (!f.host_id.empty()) device["uid"] = f.host_id;
  if (!f.host_name.empty()) {
    device["hostname"] = f.host_name;
    device["name"] = f.host_name;
  }
  if (!f.host_ip.empty()) device["ip"] = f.host_ip;
  json resource = {{"type", "Host"}};
  if (!f.host_id.empty()) resource["uid"] = f.host_id;
  if (!f.host_name.empty()) resource["name"] = f.host_name;
  out["resources"] = json::array({std::move(resource)});
  out["device"] = device;

  if (!f.evidence.empty()) {
    json data = json::object();
    json items = json::array();
    for (const auto& e : f.evidence) items.push_back({{"name", e.name}, {"value", e.value}});
    data["items"] = std::move(items);
    out["evidences"] = json::array({{{"data", std::move(data)}, {"device", device}}});
  }

  json unmapped = json::object();
  if (f.extra.is_object()) unmapped = f.extra;
  unmapped["ironroot"] = {
      {"kind", kind_name(f.kind)},
      {"dedup_key", dedup_key},
      {"evidence_generation", f.evidence_generation},
  };
  out["unmapped"] = std::move(unmapped);
  return out;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_ocsf_json(const Finding& finding) {
  return dump_json(to_ocsf(finding));
}

}  // namespace ironroot::findings
