// The EAR claims model: tiers, JSON both ways, strict decoding, and Veraison's own results.
#include "ear/ear.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/corpus.h"

namespace ironroot::ear {
namespace {

using nlohmann::json;

TEST(EarTier, CodesFallIntoTheDraftsTiers) {
  EXPECT_EQ(tier_of(0), Tier::kNone);
  EXPECT_EQ(tier_of(1), Tier::kNone);
  EXPECT_EQ(tier_of(-1), Tier::kNone);
  EXPECT_EQ(tier_of(2), Tier::kAffirming);
  EXPECT_EQ(tier_of(31), Tier::kAffirming);
  EXPECT_EQ(tier_of(32), Tier::kWarning);
  EXPECT_EQ(tier_of(95), Tier::kWarning);
  EXPECT_EQ(tier_of(96), Tier::kContraindicated);
  EXPECT_EQ(tier_of(127), Tier::kContraindicated);
  EXPECT_EQ(tier_of(-2), Tier::kAffirming);
  EXPECT_EQ(tier_of(-33), Tier::kWarning);
  EXPECT_EQ(tier_of(-97), Tier::kContraindicated);
  EXPECT_EQ(tier_of(-128), Tier::kContraindicated);
  EXPECT_EQ(tier_of(codes::kUnrecognizedRuntime), Tier::kWarning);
  EXPECT_EQ(tier_of(codes::kCryptoValidationFailed), Tier::kContraindicated);
}

TEST(EarTier, StatusIsTheWorstClaim) {
  TrustVector v;
  EXPECT_EQ(v.worst_tier(), Tier::kNone);
  v.set(Claim::kHardware, codes::kGenuineHardware);
  EXPECT_EQ(v.worst_tier(), Tier::kAffirming);
  v.set(Claim::kExecutables, codes::kUnrecognizedRuntime);
  EXPECT_EQ(v.worst_tier(), Tier::kWarning);
  v.set(Claim::kFileSystem, codes::kContraindicatedFiles);
  EXPECT_EQ(v.worst_tier(), Tier::kContraindicated);
  v.set(Claim::kFileSystem, codes::kNoClaim);
  EXPECT_EQ(v.worst_tier(), Tier::kWarning);
}

TEST(EarNames, RoundTrip) {
  for (size_t i = 0; i < kNumClaims; ++i) {
    auto c = static_cast<Claim>(i);
    EXPECT_EQ(claim_from_name(claim_name(c)), c);
  }
  for (Tier t : {Tier::kNone, Tier::kAffirming, Tier::kWarning, Tier::kContraindicated}) {
    EXPECT_EQ(tier_from_name(tier_name(t)), t);
  }
  EXPECT_FALSE(claim_from_name("firmware"));
  EXPECT_FALSE(tier_from_name("AFFIRMING"));
}

Ear sample() {
  Ear e;
  e.iat = 1764000000;
  e.exp = 1764003600;
  e.verifier_id = {"ironroot", "0.1.0"};
  e.nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  Appraisal& a = e.submods["host-1"];
  a.vector.set(Claim::kInstanceIdentity, codes::kTrustworthyInstance);
  a.vector.set(Claim::kExecutables, codes::kUnrecognizedRuntime);
  a.status = a.derived_status();
  a.policy_id = "policy:ironroot/reference-values";
  a.reasons = {"PCR 4: not an approved value"};
  return e;
}

TEST(EarJson, RoundTripKeepsEveryClaim) {
  Ear e = sample();
  e.other["ear.raw-evidence"] = "AAEC";
  e.submods["host-1"].other["ear.veraison.annotated-evidence"] = {{"k", 1}};
  json j = ear_to_json(e);
  EXPECT_EQ(j["eat_profile"], std::string(kEarProfile));
  EXPECT_EQ(j["submods"]["host-1"]["ear.status"], "warning");
  EXPECT_EQ(j["submods"]["host-1"]["ear.trustworthiness-vector"]["executables"], 33);
  EXPECT_FALSE(j["submods"]["host-1"]["ear.trustworthiness-vector"].contains("hardware"));
  EXPECT_EQ(j["eat_nonce"], "AQIDBAUGBwgJCgsMDQ4PEA");
  auto back = ear_from_json(j);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, e);
}

TEST(EarJson, RefusesWhatIsWrongNamingIt) {
  json good = ear_to_json(sample());
  auto expect_error = [&](json j, const std::string& needle) {
    auto r = ear_from_json(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
  };
  json j = good;
  j["eat_profile"] = "tag:example.com,2023:other";
  expect_error(j, "eat_profile");
  j = good;
  j.erase("iat");
  expect_error(j, "iat is missing");
  j = good;
  j["iat"] = "yesterday";
  expect_error(j, "iat must be an integer");
  j = good;
  j["submods"] = json::object();
  expect_error(j, "submods is empty");
  j = good;
  j["submods"]["host-1"]["ear.status"] = "fine";
  expect_error(j, "submod 'host-1': ear.status 'fine'");
  j = good;
  j["submods"]["host-1"]["ear.trustworthiness-vector"]["firmware"] = 2;
  expect_error(j, "unknown trustworthiness claim 'firmware'");
  j = good;
  j["submods"]["host-1"]["ear.trustworthiness-vector"]["hardware"] = 128;
  expect_error(j, "outside -128..127");
  j = good;
  j["submods"]["host-1"].erase("ear.status");
  expect_error(j, "ear.status is missing");
  j = good;
  j["eat_nonce"] = "AQID";
  expect_error(j, "RFC 9711 allows 8..64");
  j = good;
  j["eat_nonce"] = "AQIDBAUGBwgJCgsMDQ4PEA==";
  expect_error(j, "padding is not allowed");
  j = good;
  j["ear.verifier-id"] = {{"developer", "x"}};
  expect_error(j, "needs a developer and a build");
}

TEST(EarJson, StrictParserRefusesDuplicateKeysAndDeepNesting) {
  auto dup = parse_json_strict(R"({"a": {"ear.status": "affirming", "ear.status": "none"}})");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("duplicate key 'ear.status'"), std::string::npos);
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto d = parse_json_strict(deep);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("64 deep"), std::string::npos);
  auto bad = parse_json_strict(R"({"a": 1,})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("byte"), std::string::npos) << bad.error().message();
  auto ok = parse_json_strict(R"({"a": [1, {"b": 2}], "c": {"b": 3}})");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ((*ok)["c"]["b"], 3);
}

TEST(Base64Url, RoundTripAndCanonical) {
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 37 + n);
    std::string text = base64url_encode(data.data(), data.size());
    EXPECT_EQ(text.find('='), std::string::npos);
    auto back = base64url_decode(text);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, data);
  }
  EXPECT_FALSE(base64url_decode("AQ+D"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("A"));     // impossible length
  EXPECT_FALSE(base64url_decode("AR"));    // non-zero trailing bits ("AQ" is canonical)
  EXPECT_TRUE(base64url_decode("AQ"));
  auto r = base64url_decode("AQ D");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("offset 2"), std::string::npos) << r.error().message();
}

// Veraison's expected results (integration-tests/data/results) are submods maps. Each must read
// into the model, and every field must come back as the file has it; the status must be the one
// the vector implies by the draft's tiers (an independent check of tier_of on real data).
TEST(EarCorpus, VeraisonResultsParseAndTheirStatusesFollowTheirVectors) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string dir = corpus + "/ear/veraison";
  size_t files = 0;
  std::set<std::string> statuses;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("results_", 0) != 0) continue;
    SCOPED_TRACE(name);
    ++files;
    const std::string text = testing::read_text(entry.path().string());
    auto strict = parse_json_strict(text);
    ASSERT_TRUE(strict) << strict.error().message();
    json raw = json::parse(text);
    auto submods = submods_from_json(*strict);
    ASSERT_TRUE(submods) << submods.error().message();
    ASSERT_EQ(submods->size(), raw.size());
    for (const auto& [attester, fields] : raw.items()) {
      SCOPED_TRACE(attester);
      ASSERT_TRUE(submods->count(attester));
      const Appraisal& a = submods->at(attester);
      const std::string status = fields["ear.status"];
      statuses.insert(status);
      EXPECT_EQ(tier_name(a.status), status);
      for (const auto& [claim, code] : fields["ear.trustworthiness-vector"].items()) {
        auto c = claim_from_name(claim);
        ASSERT_TRUE(c) << claim;
        EXPECT_EQ(a.vector.get(*c), code.get<int>()) << claim;
      }
      EXPECT_EQ(a.derived_status(), a.status) << "vector implies " << tier_name(a.derived_status());
      if (fields.contains("ear.appraisal-policy-id")) {
        EXPECT_EQ(a.policy_id, fields["ear.appraisal-policy-id"].get<std::string>());
      } else {
        EXPECT_FALSE(a.policy_id);
      }
      // Veraison's own claims are kept as read, so re-encoding gives the file back.
      for (const auto& [key, value] : fields.items()) {
        if (key.rfind("ear.veraison.", 0) == 0) {
          EXPECT_EQ(a.other.at(key), value) << key;
        }
      }
      EXPECT_EQ(appraisal_to_json(a), fields);
    }
  }
  EXPECT_GE(files, 12u);
  // The corpus covers three of the four tiers; a reader that called everything "affirming"
  // would fail above, this makes sure the data really exercised the difference.
  EXPECT_TRUE(statuses.count("affirming"));
  EXPECT_TRUE(statuses.count("warning"));
  EXPECT_TRUE(statuses.count("contraindicated"));
}

// The evidence-side claims files are not results: reading them as EAR submods must fail cleanly.
TEST(EarCorpus, ClaimsFilesAreNotResults) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  for (const char* name : {"claims_psa.good.json", "claims_enacttrust.good.json"}) {
    SCOPED_TRACE(name);
    auto j = parse_json_strict(testing::read_text(corpus + "/ear/veraison/" + name));
    ASSERT_TRUE(j);
    auto r = submods_from_json(*j);
    EXPECT_FALSE(r);
    auto e = ear_from_json(*j);
    EXPECT_FALSE(e);
  }
}

}  // namespace
}  // namespace ironroot::ear
