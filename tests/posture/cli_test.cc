// The ironroot command: posture on corpus inventories, compare, report sovereignty, bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "posture/helpers.h"
#include "support/corpus.h"

namespace ironroot::posture {
namespace {

using ironroot::testing::run;

const std::string kBin = IRONROOT_BINARY;

TEST(PostureCli, DmidecodeJsonHasTheIssueKeys) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto r = run(kBin + " posture --dmidecode " + dir +
               "/platform/dmi/server__MX33-BS1-V1__136991526296.dmidecode.txt --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cpu"]["vendor"], "Intel");
  EXPECT_EQ(j["cpu"]["model_name"], "Intel(R) Xeon(R) E-2388G CPU @ 3.20GHz");
  EXPECT_EQ(j["bmc"]["present"], true);
  EXPECT_EQ(j["tpm"]["present"], true);
  EXPECT_EQ(j["me"]["present"], true);
  EXPECT_EQ(j["me"]["hfsts"][0], "00000355");
  EXPECT_EQ(j["me"]["working_state"], "Normal");
  EXPECT_EQ(j["me"]["operation_mode"], "Normal");
  ASSERT_TRUE(j["subos_engines"].is_array());
  for (const auto& e : j["subos_engines"]) {
    for (const char* k : {"kind", "vendor", "version", "state", "network_capable"}) {
      EXPECT_TRUE(e.contains(k)) << k;
    }
  }
  EXPECT_EQ(j["rating"]["fwupd_hsi"], "HSI:INVALID:chassis[Rack Mount Chassis]");
  EXPECT_TRUE(j["policy"].contains("decision"));
}

TEST(PostureCli, TextLiveAndRootAndBom) {
  auto r = run(kBin + " posture");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("sub-OS engines"), std::string::npos);
  EXPECT_NE(r.out.find("rating"), std::string::npos);
  testing::TempDir d;
  d.write("/sys/firmware/dmi/tables/DMI", testing::sample_table());
  r = run(kBin + " posture --root " + d.path + " --cyclonedx");
  ASSERT_EQ(r.status, 0);
  auto bom = nlohmann::json::parse(r.out);
  EXPECT_EQ(bom["specVersion"], "1.5");
  d.write("/dump.bin", testing::dump_bin(testing::sample_table()));
  r = run(kBin + " posture --smbios " + d.path + "/dump.bin --json");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["platform"]["smbios_version"], "3.3.0");
}

TEST(PostureCli, CompareAndPolicyExitCodes) {
  testing::TempDir d;
  d.write("/sys/firmware/dmi/tables/DMI", testing::sample_table());
  auto before = run(kBin + " posture --root " + d.path + " --json");
  ASSERT_EQ(before.status, 0);
  auto j = nlohmann::json::parse(before.out);
  d.write("/before.json", j.dump());
  j["me"]["hap"] = true;
  j["me"]["working_state"] = "Disabled";
  d.write("/hap.json", j.dump());
  auto r = run(kBin + " posture compare " + d.path + "/before.json " + d.path + "/before.json");
  EXPECT_EQ(r.status, 0) << r.out;
  r = run(kBin + " posture compare " + d.path + "/hap.json " + d.path + "/before.json --json");
  EXPECT_EQ(r.status, 1);
  auto changes = nlohmann::json::parse(r.out)["changes"];
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes[0]["kind"], "me_left_hap");
  d.write("/deny.policy", "deny \"any BMC\" when bmc.present\n");
  r = run(kBin + " posture --posture " + d.path + "/before.json --policy " + d.path +
          "/deny.policy");
  EXPECT_EQ(r.status, 1);
  d.write("/bad.policy", "deny \"x\" when (\n");
  r = run(kBin + " posture --policy " + d.path + "/bad.policy 2>&1; true");
  r = run(kBin + " posture --policy " + d.path + "/bad.policy");
  EXPECT_EQ(r.status, 2);
  d.write("/garbage.json", "{\"schema\": 3}");
  r = run(kBin + " posture --posture " + d.path + "/garbage.json");
  EXPECT_EQ(r.status, 2);
  d.write("/garbage.txt", "no handles here\n");
  r = run(kBin + " posture --dmidecode " + d.path + "/garbage.txt");
  EXPECT_EQ(r.status, 2);
}

TEST(ReportCli, SovereigntyOnTheWholeCorpus) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::string args;
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/platform/dmi")) {
    args += " --dmidecode " + e.path().string();
    ++n;
  }
  testing::TempDir d;
  auto r = run(kBin + " report sovereignty" + args + " --json --bom-dir " + d.path + "/boms");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hosts"], n);
  EXPECT_EQ(j["jurisdictions"]["cpu"]["CN"], 4);  // Kunpeng, D2000, FT-2000+, Loongson
  EXPECT_GE(j["engines"]["bmc"]["enabled"].get<int>(), 20);
  size_t boms = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(d.path + "/boms"))
    ++boms;
  EXPECT_EQ(boms, n);
  r = run(kBin + " report sovereignty" + args + " --html");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("<svg"), std::string::npos);
  // A fleet export: posture JSON files.
  auto one = run(kBin + " posture --json");
  d.write("/live.json", one.out);
  r = run(kBin + " report sovereignty --posture " + d.path + "/live.json --json");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["hosts"], 1);
  r = run(kBin + " report sovereignty");
  EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace ironroot::posture
