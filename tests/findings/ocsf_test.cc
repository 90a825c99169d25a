#include <gtest/gtest.h>

#include "findings/finding.h"
#include "findings/remediation.h"
#include "support.h"

namespace ironroot::findings {
namespace {

using testing::sample_finding;

TEST(Ocsf, DetectionFindingRequiredAttributes) {
  Finding f = sample_finding();
  f.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764000000123));
  f.extra = {{"ear_status", "contraindicated"}};
  const auto j = to_ocsf(f);
  // Base event (OCSF 1.x): activity_id, category_uid, class_uid, metadata, severity_id, time,
  // type_uid; Finding: finding_info.
  EXPECT_EQ(j["class_uid"], 2004);
  EXPECT_EQ(j["category_uid"], 2);
  EXPECT_EQ(j["activity_id"], 1);
  EXPECT_EQ(j["type_uid"], 200401);
  EXPECT_EQ(j["severity_id"], 4);
  EXPECT_EQ(j["severity"], "High");
  EXPECT_EQ(j["status_id"], 1);
  EXPECT_EQ(j["time"], 1764000000123);
  EXPECT_EQ(j["is_alert"], true);
  EXPECT_EQ(j["metadata"]["product"]["name"], "ironroot");
  EXPECT_EQ(j["metadata"]["version"], kOcsfVersion);
  EXPECT_EQ(j["metadata"]["uid"], f.uid());
  EXPECT_EQ(j["finding_info"]["uid"], f.uid());
  EXPECT_EQ(j["finding_info"]["title"], f.title);
  EXPECT_EQ(j["finding_info"]["desc"], f.message);
  EXPECT_EQ(j["finding_info"]["types"][0], "untrusted_transition");
  EXPECT_EQ(j["finding_info"]["created_time"], 1764000000123);
  EXPECT_EQ(j["finding_info"]["analytic"]["uid"], "golden-2026-11");
  EXPECT_EQ(j["finding_info"]["analytic"]["type_id"], 1);
  EXPECT_EQ(j["resources"][0]["uid"], "host-3");
  EXPECT_EQ(j["device"]["type_id"], 1);
  EXPECT_EQ(j["device"]["hostname"], "host-3.rack1.example");
  EXPECT_EQ(j["device"]["ip"], "10.0.0.3");
  ASSERT_EQ(j["evidences"][0]["data"]["items"].size(), 3u);
  EXPECT_EQ(j["evidences"][0]["data"]["items"][2]["value"], "bb22");
  EXPECT_EQ(j["unmapped"]["ear_status"], "contraindicated");
  EXPECT_EQ(j["unmapped"]["ironroot"]["evidence_generation"], 7);
  EXPECT_EQ(j["unmapped"]["ironroot"]["kind"], "untrusted_transition");
}

TEST(Ocsf, CloseIsResolvedAndNotAnAlert) {
  Finding f = sample_finding();
  f.activity = Activity::kClose;
  const auto j = to_ocsf(f);
  EXPECT_EQ(j["activity_id"], 3);
  EXPECT_EQ(j["type_uid"], 200403);
  EXPECT_EQ(j["status"], "Resolved");
  EXPECT_EQ(j["is_alert"], false);
}

TEST(Ocsf, MinimalFindingHasNoEmptyOptionalObjects) {
  Finding f;
  f.title = "t";
  const auto j = to_ocsf(f);
  EXPECT_FALSE(j.contains("evidences"));
  EXPECT_FALSE(j["finding_info"].contains("analytic"));
  EXPECT_FALSE(j.contains("message"));
  EXPECT_EQ(j["device"]["type_id"], 1);
}

TEST(Ocsf, DedupKeyIgnoresGenerationButNotEvidence) {
  Finding a = sample_finding("host-3", 7);
  Finding b = sample_finding("host-3", 8);
  EXPECT_EQ(a.dedup_key(), b.dedup_key());
  EXPECT_NE(a.uid(), b.uid());
  EXPECT_EQ(a.dedup_key().size(), 32u);
  Finding c = sample_finding("host-4", 7);
  EXPECT_NE(a.dedup_key(), c.dedup_key());
  Finding d = a;
  d.evidence[2].value = "cc33";
  EXPECT_NE(a.dedup_key(), d.dedup_key());
  // Length-prefixed fields: moving a character between adjacent fields changes the key.
  Finding e = a, g = a;
  e.evidence = {{"ab", "c"}};
  g.evidence = {{"a", "bc"}};
  EXPECT_NE(e.dedup_key(), g.dedup_key());
  a.dedup_key_override = "mine";
  EXPECT_EQ(a.dedup_key(), "mine");
}

TEST(Ocsf, Names) {
  for (Kind k : {Kind::kUntrustedTransition, Kind::kPolicyViolation, Kind::kPostureChange,
                 Kind::kSensorFinding})
    EXPECT_EQ(kind_from_name(kind_name(k)), k);
  EXPECT_FALSE(kind_from_name("drift").has_value());
  EXPECT_EQ(severity_from_name("HIGH"), Severity::kHigh);
  EXPECT_EQ(severity_from_name("informational"), Severity::kInformational);
  EXPECT_FALSE(severity_from_name("severe").has_value());
}

TEST(Remediation, BackoffGrowsIsCappedAndJittered) {
  RetryPolicy p{.max_attempts = 10,
                .initial_backoff = std::chrono::milliseconds(100),
                .max_backoff = std::chrono::milliseconds(1000),
                .multiplier = 2.0};
  EXPECT_EQ(backoff_delay(p, 1, 0.0).count(), 50);
  EXPECT_EQ(backoff_delay(p, 1, 1.0).count(), 100);
  EXPECT_EQ(backoff_delay(p, 3, 1.0).count(), 400);
  EXPECT_EQ(backoff_delay(p, 3, 0.5).count(), 300);
  EXPECT_EQ(backoff_delay(p, 9, 1.0).count(), 1000);
  EXPECT_EQ(backoff_delay(p, 9, 0.0).count(), 500);
}

TEST(Remediation, RulesSelectActionsByKindAndSeverity) {
  RemediationPolicy p;
  p.actions = {{.name = "quarantine"}, {.name = "cordon"}, {.name = "page"}};
  p.rules = {{.kinds = {Kind::kUntrustedTransition},
              .min_severity = Severity::kHigh,
              .actions = {"quarantine", "cordon"}},
             {.kinds = {}, .min_severity = Severity::kMedium, .actions = {"page", "quarantine"}}};
  ASSERT_TRUE(p.validate().ok());
  Finding f = sample_finding();
  auto names = [&](const Finding& x) {
    std::vector<std::string> out;
    for (auto* a : p.actions_for(x)) out.push_back(a->name);
    return out;
  };
  EXPECT_EQ(names(f), (std::vector<std::string>{"quarantine", "cordon", "page"}));
  f.severity = Severity::kMedium;
  EXPECT_EQ(names(f), (std::vector<std::string>{"page", "quarantine"}));
  f.severity = Severity::kLow;
  EXPECT_TRUE(names(f).empty());
  f.severity = Severity::kCritical;
  f.activity = Activity::kClose;
  EXPECT_TRUE(names(f).empty());
  p.rules[0].actions.push_back("reboot");
  auto s = p.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("'reboot'"), std::string::npos);
}

TEST(Remediation, IdempotencyKeyIsHostKindGeneration) {
  Finding f = sample_finding("host-3", 42);
  EXPECT_EQ(idempotency_key(f, "cordon"), "cordon:host-3:untrusted_transition:42");
}

}  // namespace
}  // namespace ironroot::findings
