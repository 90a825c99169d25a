// Sovereignty: vendor jurisdictions, the policy language, CycloneDX BOMs validated against the
// CycloneDX 1.5 JSON schema (fetched from npm at test time), and the fleet report.
#include "posture/sovereignty.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "posture/helpers.h"
#include "support/corpus.h"

namespace ironroot::posture {
namespace {

Posture server() {
  static const std::vector<uint8_t> table = testing::sample_table();
  auto info = parse_smbios_table({table.data(), table.size()});
  return posture_from_smbios(*info);
}

TEST(Origins, VendorsMapToJurisdictions) {
  Posture p = server();
  auto origins = component_origins(p);
  std::map<std::string, std::string> by_role;
  for (const auto& o : origins)
    by_role[o.role] = o.vendor + "/" + o.jurisdiction + (o.eu ? "/EU" : "");
  EXPECT_EQ(by_role["cpu"], "Intel/US");
  EXPECT_EQ(by_role["tpm"], "Infineon/DE/EU");
  EXPECT_EQ(by_role["firmware"], "American Megatrends (AMI)/US");
  EXPECT_EQ(by_role["system"], "Supermicro/US");
  const auto& k = knowledge();
  EXPECT_EQ(k.find_vendor("HiSilicon")->jurisdiction, "CN");
  EXPECT_EQ(k.find_vendor("STM")->name, "STMicroelectronics");
  EXPECT_EQ(k.find_vendor("Advanced Micro Devices, Inc.")->name, "AMD");
  EXPECT_EQ(k.find_vendor("American Megatrends Inc.")->name, "American Megatrends (AMI)");
  EXPECT_EQ(k.find_vendor("nothing-like-it"), nullptr);
}

TEST(Policy, ParseErrorsNameLineAndColumn) {
  auto r = parse_policy("# ok\ndeny \"x\" when me.hap ==\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("line 2"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("column"), std::string::npos);
  EXPECT_FALSE(parse_policy("allow \"x\" when true"));
  EXPECT_FALSE(parse_policy("deny x when true"));
  EXPECT_FALSE(parse_policy("deny \"x\" when any host (true)"));
  EXPECT_FALSE(parse_policy("deny \"x\" when (true"));
  EXPECT_FALSE(parse_policy("deny \"x\" when a in [b]"));
  EXPECT_FALSE(parse_policy("deny \"unterminated when true"));
  EXPECT_FALSE(parse_policy("deny \"x\" when a @ b"));
  std::string deep = "deny \"x\" when " + std::string(200, '(') + "true" + std::string(200, ')');
  auto d = parse_policy(deep);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("nested"), std::string::npos);
  ASSERT_TRUE(parse_policy(default_policy_text()))
      << parse_policy(default_policy_text()).error().message();
}

TEST(Policy, EvaluatesEnginesComponentsAndHostFacts) {
  auto policy = parse_policy(
      "deny \"non-EU network engine\" when any engine (engine.network_capable and not engine.eu)\n"
      "warn \"TPM outside EU\" when any component (component.role == \"tpm\" and not "
      "component.eu)\n"
      "warn \"old level\" when hsi.ironroot < 1\n"
      "deny \"ME in mfg\" when me.manufacturing_mode\n"
      "warn \"chassis\" when chassis in [\"Rack Mount Chassis\", \"Blade\"]\n"
      "warn \"not a blade\" when chassis not in [\"Blade\"]\n");
  ASSERT_TRUE(policy) << policy.error().message();
  Posture p = server();
  auto d = evaluate_policy(*policy, p);
  EXPECT_EQ(d.decision, "deny");
  std::vector<std::string> names;
  for (const auto& h : d.hits) names.push_back(h.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "non-EU network engine"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "TPM outside EU"), names.end());  // Infineon: DE
  EXPECT_NE(std::find(names.begin(), names.end(), "chassis"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "not a blade"), names.end());
  for (const auto& h : d.hits) {
    if (h.name == "non-EU network engine") {
      EXPECT_NE(h.detail.find("bmc"), std::string::npos) << h.detail;
    }
  }
  // Without the BMC and AMT, the deny goes away.
  p.bmc = BmcInfo{};
  p.me.amt_present = false;
  p.me.manufacturing_mode = false;  // the sample's HFSTS1 has bit 4 set
  derive_subos_engines(p);
  d = evaluate_policy(*policy, p);
  EXPECT_NE(d.decision, "deny");
}

TEST(Policy, DefaultPolicyOnHapAndOnAnEuBmc) {
  auto policy = parse_policy(default_policy_text());
  ASSERT_TRUE(policy);
  Posture p;
  p.me.present = true;
  p.me.hap = true;
  p.me.family = "CSME11";
  p.me.working_state = "Disabled";
  p.me.hfsts = {0x4};
  derive_subos_engines(p);
  EXPECT_EQ(evaluate_policy(*policy, p).decision, "allow");
  p.bmc.present = true;
  p.bmc.vendor = "EKF Elektronik";  // a German vendor's BMC
  derive_subos_engines(p);
  EXPECT_EQ(evaluate_policy(*policy, p).decision, "allow");
  p.bmc.vendor = "ASPEED";
  derive_subos_engines(p);
  EXPECT_EQ(evaluate_policy(*policy, p).decision, "deny");
}

// Fetches the CycloneDX 1.5 schema (npm pack @cyclonedx/cyclonedx-library) into the build tree.
std::string cyclonedx_schema_dir() {
  namespace fs = std::filesystem;
  std::string work = IRONROOT_POSTURE_WORK_DIR;
  std::string dir = work + "/cyclonedx-schema";
  if (fs::exists(dir + "/ok")) return dir;
  fs::create_directories(work);
  if (!ironroot::testing::have_program("npm")) return "";
  auto r = ironroot::testing::run(
      "cd " + work + " && timeout 180 npm pack @cyclonedx/cyclonedx-library@10.3.0 --silent");
  if (r.status != 0) return "";
  fs::create_directories(dir);
  r = ironroot::testing::run(
      "cd " + work +
      " && tar xzf cyclonedx-cyclonedx-library-10.3.0.tgz "
      "package/res/schema/bom-1.5.SNAPSHOT.schema.json "
      "package/res/schema/spdx.SNAPSHOT.schema.json "
      "package/res/schema/jsf-0.82.SNAPSHOT.schema.json && mv package/res/schema/*.json " +
      dir + "/ && touch " + dir + "/ok");
  return r.status == 0 ? dir : "";
}

TEST(CycloneDx, BomsValidateAgainstTheSchema) {
  std::string schema = cyclonedx_schema_dir();
  if (schema.empty()) GTEST_SKIP() << "npm could not fetch @cyclonedx/cyclonedx-library (offline?)";
  testing::TempDir d;
  std::vector<std::string> files;
  auto write_bom = [&](const Posture& p, const std::string& name) {
    std::string path = d.path + "/" + name + ".cdx.json";
    std::ofstream(path) << cyclonedx_bom(p, rate(p)).dump(2);
    files.push_back(path);
  };
  write_bom(server(), "server");
  auto live = collect_posture("/");
  ASSERT_TRUE(live);
  write_bom(*live, "live");
  IRONROOT_REQUIRE_CORPUS(corpus);
  for (const auto& e : std::filesystem::directory_iterator(corpus + "/platform/dmi")) {
    auto info = parse_dmidecode_text(ironroot::testing::read_text(e.path().string()));
    ASSERT_TRUE(info) << e.path();
    Posture p = posture_from_smbios(*info);
    p.host = e.path().filename().string();
    write_bom(p, e.path().stem().string());
  }
  std::string cmd = "python3 " IRONROOT_SOURCE_TESTS "/posture/validate_cyclonedx.py " + schema;
  for (const auto& f : files) cmd += " " + f;
  auto r = ironroot::testing::run(cmd);
  if (r.status == 2) GTEST_SKIP() << "python3-jsonschema is not installed";
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(std::to_string(files.size()) + " document(s), 0 error(s)"),
            std::string::npos)
      << r.out;
  // And a broken BOM is caught, so the validator is really looking.
  auto bad = cyclonedx_bom(server(), rate(server()));
  bad["components"][0]["type"] = "spaceship";
  std::ofstream(d.path + "/bad.json") << bad.dump();
  auto rb =
      ironroot::testing::run("python3 " IRONROOT_SOURCE_TESTS "/posture/validate_cyclonedx.py " +
                             schema + " " + d.path + "/bad.json");
  EXPECT_EQ(rb.status, 1) << rb.out;
}

TEST(CycloneDx, Content) {
  Posture p = server();
  auto bom = cyclonedx_bom(p, rate(p), "0b6e2f8a-1c1d-4c5e-9a8b-1234567890ab");
  EXPECT_EQ(bom["bomFormat"], "CycloneDX");
  EXPECT_EQ(bom["specVersion"], "1.5");
  EXPECT_EQ(bom["serialNumber"], "urn:uuid:0b6e2f8a-1c1d-4c5e-9a8b-1234567890ab");
  bool tpm = false;
  for (const auto& c : bom["components"]) {
    if (c["name"] == "TPM 2.0") {
      tpm = true;
      EXPECT_EQ(c["supplier"]["name"], "Infineon");
    }
  }
  EXPECT_TRUE(tpm);
}

TEST(Fleet, ReportCounts) {
  auto policy = parse_policy(default_policy_text());
  ASSERT_TRUE(policy);
  std::vector<FleetHost> hosts;
  hosts.push_back(assess_host(server(), *policy));
  Posture hap;
  hap.me.present = true;
  hap.me.hap = true;
  hap.me.hfsts = {4};
  hap.me.working_state = "Disabled";
  hap.cpu.vendor = "Intel";
  hap.cpu.model_name = "Intel(R) Core(TM) i7";
  derive_subos_engines(hap);
  hosts.push_back(assess_host(hap, *policy));
  auto j = fleet_report_json(hosts);
  EXPECT_EQ(j["hosts"], 2);
  EXPECT_EQ(j["jurisdictions"]["cpu"]["US"], 2);
  EXPECT_EQ(j["engines"]["intel-csme"]["disabled-hap"], 1);
  EXPECT_EQ(j["decisions"]["deny"], 1);
  std::string html = fleet_report_html(hosts);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("disabled-hap"), std::string::npos);
}

}  // namespace
}  // namespace ironroot::posture
