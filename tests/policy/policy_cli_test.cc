// ironroot policy create | check, run as a process on corpus files.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/corpus.h"

namespace ironroot {
namespace {

const std::string kBin = IRONROOT_BINARY;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/policy_cli_" + std::to_string(::getpid()) + "_" + name;
}

TEST(PolicyCli, CreateThenCheckEventLogs) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string golden = corpus + "/eventlog/go-tpm-tools/arch-linux-workstation.bin";
  const std::string edited = corpus + "/eventlog/tpm2-tools/event-arch-linux.bin";
  const std::string policy = temp_path("mb.json");
  auto c = testing::run(kBin + " policy create --from-eventlog " + golden + " -o " + policy);
  ASSERT_EQ(c.status, 0);
  auto doc = nlohmann::json::parse(testing::read_text(policy));
  EXPECT_EQ(doc["ironroot_policy"], 1);
  EXPECT_TRUE(doc["measured_boot"].contains("firmware_versions"));

  auto ok = testing::run(kBin + " policy check --policy " + policy + " --eventlog " + golden);
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("measured boot: ok"), std::string::npos) << ok.out;

  auto bad =
      testing::run(kBin + " policy check --json --policy " + policy + " --eventlog " + edited);
  EXPECT_EQ(bad.status, 1) << bad.out;
  auto j = nlohmann::json::parse(bad.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  // Every failure names the event: its number, type and digest.
  ASSERT_FALSE(j["measured_boot"]["failures"].empty()) << bad.out;
  for (const auto& f : j["measured_boot"]["failures"]) {
    EXPECT_TRUE(f.contains("event") && f.contains("type") && f.contains("digest")) << f.dump();
  }
  std::filesystem::remove(policy);
}

TEST(PolicyCli, ImaCheckIncrementalAndBadPolicy) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string list = corpus + "/ima/rust-keylime/ascii_runtime_measurements";
  const std::string policy = temp_path("rt.json");
  const std::string state = temp_path("state.json");
  std::filesystem::remove(state);
  ASSERT_EQ(testing::run(kBin + " policy create --from-ima " + list + " -o " + policy).status, 0);
  auto first = testing::run(kBin + " policy check --json --policy " + policy + " --ima " + list +
                            " --state " + state);
  ASSERT_EQ(first.status, 0) << first.out;
  auto j1 = nlohmann::json::parse(first.out);
  EXPECT_EQ(j1["ima"]["appraised"], 826);
  EXPECT_EQ(j1["ima"]["state"]["pcr10"]["sha1"], "82231c67a69da98dc5b3aa10f6343d33109225fc");
  // A second run (a "restarted verifier") resumes from the state: nothing left to appraise.
  auto second = testing::run(kBin + " policy check --json --policy " + policy + " --ima " + list +
                             " --state " + state);
  ASSERT_EQ(second.status, 0) << second.out;
  auto j2 = nlohmann::json::parse(second.out);
  EXPECT_EQ(j2["ima"]["appraised"], 0);
  EXPECT_EQ(j2["ima"]["skipped"], 826);

  // The Keylime runtime policy the corpus ships lacks these files: exit 1, paths named.
  auto k = testing::run(kBin + " policy check --policy " + corpus +
                        "/ima/keylime/runtime-policy.json --ima " + list);
  EXPECT_EQ(k.status, 1);
  EXPECT_NE(k.out.find("boot_aggregate"), std::string::npos) << k.out;

  const std::string broken = temp_path("broken.json");
  {
    std::ofstream out(broken);
    out << R"({"digests": {"/a": [42]}})";
  }
  auto b = testing::run(kBin + " policy check --policy " + broken + " --ima " + list);
  EXPECT_EQ(b.status, 2);
  std::filesystem::remove(policy);
  std::filesystem::remove(state);
  std::filesystem::remove(broken);
}

}  // namespace
}  // namespace ironroot
