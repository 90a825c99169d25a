// Sensor findings as findings::Finding: the OCSF they render to, the severity bands, a dedup key
// that stays the same for the same flow, and the JSON reader's errors.
#include "findings/sensor_finding.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ironroot::findings {
namespace {

using nlohmann::json;

// One line as `ironroot sensor --json` prints it (sensor::Finding::json()).
json sample(uint64_t ts_ns = 1'764'000'000'500'000'000ULL) {
  return json::parse(
      R"({"type":"finding","kind":"unaccounted_traffic","score":95,"host":"h1",
    "ts_ns":)" +
      std::to_string(ts_ns) +
      R"(,"message":"h1 sent TCP 10.0.0.12:16992 -> 10.0.0.99:51234 that its OS never recorded",
    "reasons":["AMT port 16992","no conntrack record within 1500 ms"],
    "flow":{"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","proto":6,"src":"10.0.0.99",
      "dst":"10.0.0.12","sport":51234,"dport":16992,"vlan":12,"src_mac":"aa:bb:cc:dd:ee:01",
      "dst_mac":"aa:bb:cc:dd:ee:ff","initiator":"src","first_ns":1764000000000000000,
      "last_ns":1764000000400000000,"orig":{"packets":3,"bytes":222,"tcp_flags":2},
      "resp":{"packets":2,"bytes":140,"tcp_flags":18}}})");
}

// The finding the verifier makes of one posted object.
Result<Finding> from_json(const json& j) {
  IRONROOT_ASSIGN_OR_RETURN(SensorFindingFields in, read_sensor_finding(j));
  return from_sensor_finding(in);
}

std::string item(const json& ocsf, const std::string& name) {
  for (const auto& i : ocsf["evidences"][0]["data"]["items"])
    if (i["name"] == name) return i["value"].get<std::string>();
  ADD_FAILURE() << "no evidence item " << name;
  return "";
}

TEST(SensorFinding, RendersAsOcsfDetectionFinding) {
  auto f = from_json(sample());
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->kind, Kind::kSensorFinding);
  const json o = to_ocsf(*f);
  EXPECT_EQ(o["class_uid"], 2004);
  EXPECT_EQ(o["type_uid"], 200401);
  EXPECT_EQ(o["severity_id"], 4);  // score 95: High
  EXPECT_EQ(o["severity"], "High");
  EXPECT_EQ(o["is_alert"], true);
  EXPECT_EQ(o["time"], 1'764'000'000'500LL);
  EXPECT_EQ(o["finding_info"]["title"],
            "h1 sent TCP 10.0.0.12:16992 -> 10.0.0.99:51234 that its OS never recorded");
  EXPECT_EQ(o["finding_info"]["types"][0], "sensor_finding");
  EXPECT_EQ(o["device"]["uid"], "h1");
  EXPECT_EQ(item(o, "kind"), "unaccounted_traffic");
  EXPECT_EQ(item(o, "score"), "95");
  EXPECT_EQ(item(o, "community_id"), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  EXPECT_EQ(item(o, "proto"), "6");
  EXPECT_EQ(item(o, "src"), "10.0.0.99");
  EXPECT_EQ(item(o, "sport"), "51234");
  EXPECT_EQ(item(o, "dst"), "10.0.0.12");
  EXPECT_EQ(item(o, "dport"), "16992");
  EXPECT_EQ(item(o, "vlan"), "12");
  EXPECT_EQ(item(o, "src_mac"), "aa:bb:cc:dd:ee:01");
  EXPECT_EQ(item(o, "reasons"), "AMT port 16992; no conntrack record within 1500 ms");
  EXPECT_EQ(o["evidences"][0]["data"]["items"].size(), 11u);
  // The sensor's own JSON rides along, unchanged, in "unmapped".
  EXPECT_EQ(o["unmapped"]["flow"], sample()["flow"]);
  EXPECT_EQ(o["unmapped"]["kind"], "unaccounted_traffic");
  EXPECT_EQ(o["unmapped"]["ironroot"]["kind"], "sensor_finding");
  EXPECT_EQ(o["unmapped"]["ironroot"]["evidence_generation"], 1'764'000'000'000'000'000ULL);
}

TEST(SensorFinding, SeverityBands) {
  EXPECT_EQ(sensor_severity(100), Severity::kHigh);
  EXPECT_EQ(sensor_severity(80), Severity::kHigh);
  EXPECT_EQ(sensor_severity(79), Severity::kMedium);
  EXPECT_EQ(sensor_severity(50), Severity::kMedium);
  EXPECT_EQ(sensor_severity(49), Severity::kLow);
  EXPECT_EQ(sensor_severity(0), Severity::kLow);
  json j = sample();
  j["score"] = 60;
  EXPECT_EQ(to_ocsf(*from_json(j))["severity_id"], 3);
  j["score"] = 45;
  EXPECT_EQ(to_ocsf(*from_json(j))["severity_id"], 2);
}

TEST(SensorFinding, DedupKeyIsStableForTheSameFlowOnly) {
  // The same flow reported again later (a new ts_ns, counters grown): the same key and uid.
  json later = sample(1'764'000'009'000'000'000ULL);
  later["flow"]["orig"]["packets"] = 30;
  later["flow"]["last_ns"] = 1'764'000'008'000'000'000ULL;
  auto a = *from_json(sample());
  auto b = *from_json(later);
  EXPECT_EQ(a.dedup_key(), b.dedup_key());
  EXPECT_EQ(a.uid(), b.uid());
  // Another flow (another source port): another key.
  json other = sample();
  other["flow"]["sport"] = 51235;
  EXPECT_NE(a.dedup_key(), from_json(other)->dedup_key());
  // Another host: another key.
  json host2 = sample();
  host2["host"] = "h2";
  EXPECT_NE(a.dedup_key(), from_json(host2)->dedup_key());
}

TEST(SensorFinding, PlainFieldsWithoutAFlow) {
  SensorFindingFields in;
  in.kind = "second_dhcp_client";
  in.score = 70;
  in.host = "h1";
  in.message = "two DHCP client fingerprints on the MAC of host h1";
  in.ts_ns = 1'764'000'000'000'000'000ULL;
  Finding f = from_sensor_finding(in);
  EXPECT_EQ(f.severity, Severity::kMedium);
  EXPECT_EQ(f.title, in.message);
  EXPECT_EQ(f.evidence_generation, in.ts_ns);
  const json o = to_ocsf(f);
  EXPECT_EQ(item(o, "community_id"), "");
  EXPECT_EQ(item(o, "kind"), "second_dhcp_client");
  EXPECT_FALSE(o["unmapped"].contains("flow"));
}

TEST(SensorFinding, BadJsonIsRefusedNamingTheField) {
  struct Case {
    std::function<void(json&)> edit;
    const char* says;
  } cases[] = {
      {[](json& j) { j.erase("kind"); }, "finding.kind: missing"},
      {[](json& j) { j["kind"] = "a b"; }, "finding.kind"},
      {[](json& j) { j["score"] = "high"; }, "finding.score: must be an integer"},
      {[](json& j) { j["score"] = 101; }, "finding.score: must be between 0 and 100"},
      {[](json& j) { j["score"] = -5; }, "finding.score: must be between 0 and 100"},
      {[](json& j) { j["host"] = 3; }, "finding.host: must be a string"},
      {[](json& j) { j["host"] = "h1\nfake log line"; }, "finding.host: control characters"},
      {[](json& j) { j.erase("message"); }, "finding.message: missing"},
      {[](json& j) { j["reasons"] = "x"; }, "finding.reasons"},
      {[](json& j) { j["reasons"][1] = 5; }, "finding.reasons[1]"},
      {[](json& j) { j["flow"] = json::array(); }, "finding.flow: must be an object"},
      {[](json& j) { j["flow"]["src"] = "10.0.0.999"; }, "finding.flow.src: not an IP address"},
      {[](json& j) { j["flow"]["sport"] = 70000; }, "finding.flow.sport"},
      {[](json& j) { j["flow"]["src_mac"] = "aa:bb"; }, "finding.flow.src_mac"},
      {[](json& j) { j["flow"]["orig"]["packets"] = -3; }, "finding.flow.orig.packets"},
      {[](json& j) { j["ts_ns"] = -1; }, "finding.ts_ns"},
  };
  for (const auto& c : cases) {
    json j = sample();
    c.edit(j);
    auto f = from_json(j);
    ASSERT_FALSE(f.ok()) << c.says;
    EXPECT_NE(f.error().message().find(c.says), std::string::npos) << f.error().message();
  }
  EXPECT_FALSE(from_json(json::array()).ok());
  // Where the object sits in a request is part of every message.
  auto r = read_sensor_finding(json{{"type", "finding"}}, "findings[7]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("findings[7].kind", 0), 0u) << r.error().message();
}

}  // namespace
}  // namespace ironroot::findings
