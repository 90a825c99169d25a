// Intel ME / AMT decoding, on fwupd's recorded MEI and AMT sessions and on edge cases; advisories.
#include "posture/me.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "crypto/base64.h"
#include "posture/knowledge.h"
#include "support/corpus.h"

namespace ironroot::posture {
namespace {

// The events of a fwupd emulation recording, in order.
std::vector<nlohmann::json> fixture_events(const std::string& dir, const std::string& name) {
  auto j =
      nlohmann::json::parse(ironroot::testing::read_text(dir + "/platform/fwupd-fixtures/" + name));
  std::vector<nlohmann::json> out;
  for (const auto& dev : j["UsbDevices"]) {
    for (const auto& e : dev["Events"]) out.push_back(e);
  }
  return out;
}

TEST(Me, FamilyFromVersion) {
  EXPECT_EQ(me_family_from_version("3.1.92.1"), MeFamily::kTxe);
  EXPECT_EQ(me_family_from_version("9.5.65.3000"), MeFamily::kMe);
  EXPECT_EQ(me_family_from_version("11.8.92.4222"), MeFamily::kCsme11);
  EXPECT_EQ(me_family_from_version("16.1.32.2473"), MeFamily::kCsme16);
  EXPECT_EQ(me_family_from_version("18.0.5.2133"), MeFamily::kCsme18);
  EXPECT_EQ(me_family_from_version(""), MeFamily::kUnknown);
  EXPECT_EQ(me_family_from_version("abc"), MeFamily::kUnknown);
}

TEST(Me, DecodePerFamily) {
  // Gigabyte MX33 from the corpus: CWS Normal, bit 4 set.
  std::array<uint32_t, 6> h = {0x00000355, 0x8950A027, 0x60, 0x4004, 0, 0x80400000};
  auto csme11 = decode_hfsts(h, MeFamily::kCsme11);
  EXPECT_EQ(csme11.working_state, "Normal");
  EXPECT_EQ(csme11.operation_mode, "Normal");
  EXPECT_EQ(csme11.manufacturing_mode, true);
  EXPECT_FALSE(csme11.spi_protection_mode);
  auto csme16 = decode_hfsts(h, MeFamily::kCsme16);
  EXPECT_FALSE(csme16.manufacturing_mode);  // bit 4 means something else from CSME16
  EXPECT_EQ(csme16.spi_protection_mode, true);
  auto unknown = decode_hfsts(h, MeFamily::kUnknown);
  EXPECT_FALSE(unknown.manufacturing_mode);
  EXPECT_TRUE(unknown.bit4);
  // S1200SP: operation mode 0xF is SPS.
  auto sps = decode_hfsts({0x000F0345, 0x89116806, 0, 0, 0, 0}, MeFamily::kUnknown);
  EXPECT_EQ(sps.family, MeFamily::kSps);
  EXPECT_EQ(sps.operation_mode_raw, 15u);
  EXPECT_EQ(sps.working_state, "Normal");
  // HAP: working state Disabled; error code bits are not HAP.
  auto hap = decode_hfsts({0x00003244, 0, 0, 0, 0, 0}, MeFamily::kCsme11);
  EXPECT_TRUE(hap.hap);
  EXPECT_EQ(hap.working_state, "Disabled");
  EXPECT_EQ(hap.error_code, 3u);
  auto err = decode_hfsts({0x00001245, 0, 0, 0, 0, 0}, MeFamily::kCsme11);
  EXPECT_FALSE(err.hap);
  EXPECT_EQ(err.error, "uncategorized");
  auto jumper = decode_hfsts({0x00040245, 0, 0x30, 0, 0, 0}, MeFamily::kCsme11);
  EXPECT_EQ(jumper.operation_mode, "OverrideJumper");
  EXPECT_EQ(jumper.fw_sku, "Corporate");
}

TEST(Me, SysfsFiles) {
  auto regs = parse_fw_status("90000245\n00F10506\n00000020\n00004400\n00000000\n40200002\n");
  ASSERT_TRUE(regs) << regs.error().message();
  EXPECT_EQ((*regs)[0], 0x90000245u);
  EXPECT_EQ((*regs)[5], 0x40200002u);
  auto bad = parse_fw_status("90000245\n0F10506\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_fw_status("xyzxyzxy\n"));
  EXPECT_FALSE(parse_fw_status(""));
  EXPECT_FALSE(parse_fw_status("1\n2\n3\n4\n5\n6\n7\n"));
  auto ver = parse_fw_ver("0:16.1.32.2473\n0:16.1.32.2473\n0:16.1.25.2035");
  ASSERT_TRUE(ver);
  EXPECT_EQ(*ver, "16.1.32.2473");
  EXPECT_FALSE(parse_fw_ver("0:16.1\n"));
  EXPECT_FALSE(parse_fw_ver("garbage"));
}

TEST(Me, VersionsCompareNumerically) {
  EXPECT_LT(compare_versions("11.8.9", "11.8.50"), 0);
  EXPECT_GT(compare_versions("11.12.0", "11.8.92"), 0);
  EXPECT_EQ(compare_versions("11.8", "11.8.0.0"), 0);
}

// fwupd's recorded intel-me-pci session: the MEI function's config space and fw_ver.
TEST(MeCorpus, FwupdIntelMePciSession) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::array<uint32_t, 6> h{};
  std::string fw_ver;
  static const std::pair<const char*, size_t> kPorts[] = {{"0x40", 0}, {"0x48", 1}, {"0x60", 2},
                                                          {"0x64", 3}, {"0x68", 4}, {"0x6c", 5}};
  for (const auto& e : fixture_events(dir, "plugins_intel-me-pci_tests_intel-me-setup.json")) {
    std::string id = e["Id"];
    if (id == "ReadAttr:Attr=mei/mei0/fw_ver") fw_ver = e["Data"];
    for (const auto& [port, idx] : kPorts) {
      if (id == std::string("Pread:Port=") + port + ",Length=0x4") {
        auto b = crypto::base64_decode(e["Data"].get<std::string>());
        ASSERT_TRUE(b);
        ASSERT_EQ(b->size(), 4u);
        h[idx] = ByteReader::load_le32(b->data());
      }
    }
  }
  auto version = parse_fw_ver(fw_ver);
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, "16.1.32.2473");
  EXPECT_EQ(h[0], 0x90000245u);
  auto st = decode_hfsts(h, me_family_from_version(*version));
  EXPECT_EQ(st.family, MeFamily::kCsme16);
  EXPECT_EQ(st.working_state, "Normal");
  EXPECT_EQ(st.operation_mode, "Normal");
  EXPECT_FALSE(st.hap);
  EXPECT_EQ(st.spi_protection_mode, false);
}

// fwupd's recorded intel-amt session: CodeVersions and ProvisioningState over HECI.
TEST(MeCorpus, FwupdIntelAmtSession) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::vector<std::vector<uint8_t>> reads;
  for (const auto& e : fixture_events(dir, "plugins_intel-amt_tests_intel-amt-setup.json")) {
    if (e["Id"].get<std::string>().rfind("Read:", 0) == 0) {
      auto b = crypto::base64_decode(e["Data"].get<std::string>());
      ASSERT_TRUE(b);
      reads.push_back(*b);
    }
  }
  ASSERT_EQ(reads.size(), 2u);
  auto cv = parse_amt_code_versions({reads[0].data(), reads[0].size()});
  ASSERT_TRUE(cv) << cv.error().message();
  EXPECT_EQ(cv->amt_version, "11.8.93.4323");  // fwupd's plugins/intel-amt/tests/intel-amt.json
  EXPECT_EQ(cv->bios, "N1EETA2W (1.75 )");
  auto prov = parse_amt_provisioning_state({reads[1].data(), reads[1].size()});
  ASSERT_TRUE(prov) << prov.error().message();
  EXPECT_EQ(*prov, AmtProvisioning::kUnprovisioned);
  // The same bytes answer the wrong question: refused, naming the command.
  auto wrong = parse_amt_provisioning_state({reads[0].data(), reads[0].size()});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("Command"), std::string::npos);
  // Truncated.
  auto cut = parse_amt_code_versions({reads[0].data(), 100});
  ASSERT_FALSE(cut);
}

TEST(Amt, DisabledStatus) {
  std::vector<uint8_t> r = {1, 1, 0, 0, 0x11, 0, 0x80, 0x04, 8, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0};
  auto p = parse_amt_provisioning_state({r.data(), r.size()});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kUnsupported);
  r[13] = 0;
  r[16] = 2;
  p = parse_amt_provisioning_state({r.data(), r.size()});
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, AmtProvisioning::kProvisioned);
}

TEST(Advisories, ShippedDataParsesAndEveryEntryHasAReference) {
  const auto& k = knowledge();
  EXPECT_GE(k.advisories.size(), 8u);
  for (const auto& a : k.advisories) {
    EXPECT_FALSE(a.url.empty()) << a.id;
    EXPECT_FALSE(a.affected.empty()) << a.id;
  }
  for (const auto& v : k.vendors) EXPECT_FALSE(v.ref.empty()) << v.name;
  for (const char* id : {"INTEL-SA-00075", "INTEL-SA-00086", "INTEL-SA-00125", "INTEL-SA-00213",
                         "INTEL-SA-00241", "INTEL-SA-00295", "INTEL-SA-00391"}) {
    EXPECT_TRUE(std::any_of(k.advisories.begin(), k.advisories.end(), [&](const Advisory& a) {
      return a.id == id;
    })) << id;
  }
}

std::vector<std::string> matched(const Posture& p) {
  std::vector<std::string> ids;
  for (const auto& m : match_advisories(p)) ids.push_back(m.advisory + ":" + m.status);
  return ids;
}

TEST(Advisories, VersionRanges) {
  Posture p;
  p.me.present = true;
  p.me.family = "CSME11";
  p.me.version = "11.8.40.3000";
  auto ids = matched(p);
  for (const char* id :
       {"FWUPD-MEI-VERSION:affected", "INTEL-SA-00086:affected", "INTEL-SA-00391:affected"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
  p.me.version = "11.8.92.4222";  // past every range
  EXPECT_TRUE(matched(p).empty());
  p.me.version = "16.1.32.2473";  // not in any table
  p.me.family = "CSME16";
  EXPECT_TRUE(matched(p).empty());
  // AMT 9.1.30 with AMT on: SA-00075.
  Posture amt;
  amt.me.present = true;
  amt.me.family = "ME";
  amt.me.version = "9.1.30.1000";
  amt.me.amt_present = true;
  ids = matched(amt);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "INTEL-SA-00075:affected"), ids.end());
  amt.me.amt_present = false;
  ids = matched(amt);
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "INTEL-SA-00075:affected"), ids.end());
  // AMD EPYC Milan: possibly affected (no fixed version in the data).
  Posture amd;
  amd.cpu.vendor = "AMD";
  amd.cpu.family = 25;
  amd.cpu.model_name = "AMD EPYC 7543P 32-Core Processor";
  ids = matched(amd);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "AMD-SB-1021:possibly-affected"), ids.end());
  amd.cpu.model_name = "AMD Ryzen 7 PRO 4750U";
  ids = matched(amd);
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "AMD-SB-1021:possibly-affected"), ids.end());
}

bool has(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

Posture engine(const char* family, const char* version) {
  Posture p;
  p.me.present = true;
  p.me.family = family;
  p.me.version = version;
  return p;
}

// Just below and at a fixed build of SA-00086, for the CSME 11.0-11.7 line, the CSME 11.10 line,
// SPS 4.0 (Intel's detection tool: hotfix >= 4 is fixed) and an ME 10 AMT SKU.
TEST(Advisories, Sa00086FixedBuildsPerLine) {
  const std::string a = "INTEL-SA-00086:affected";
  EXPECT_TRUE(has(matched(engine("CSME11", "11.6.1.1142")), a));
  EXPECT_TRUE(has(matched(engine("CSME11", "11.8.49.9999")), a));
  EXPECT_FALSE(has(matched(engine("CSME11", "11.8.50.0")), a));
  EXPECT_FALSE(has(matched(engine("CSME11", "11.8.50.3399")), a));
  EXPECT_TRUE(has(matched(engine("CSME11", "11.11.49.1000")), a));
  EXPECT_FALSE(has(matched(engine("CSME11", "11.11.50.0")), a));
  EXPECT_FALSE(has(matched(engine("CSME11", "11.11.50.1402")), a));
  EXPECT_TRUE(has(matched(engine("SPS", "4.0.3.999")), a));
  EXPECT_FALSE(has(matched(engine("SPS", "4.0.4.0")), a));
  EXPECT_FALSE(has(matched(engine("SPS", "4.0.4.288")), a));
  Posture amt = engine("ME", "10.0.56.3001");
  amt.me.amt_present = true;
  EXPECT_TRUE(has(matched(amt), a));
  amt.me.version = "10.0.56.3002";
  EXPECT_FALSE(has(matched(amt), a));
  // CSME 12 was never in SA-00086.
  EXPECT_FALSE(has(matched(engine("CSME11", "12.0.10.1000")), a));
}

// SA-00075: the 11.0.18 / 11.0.22 / 11.6.12 hotfix lines have their own fixed builds.
TEST(Advisories, Sa00075HotfixLines) {
  const std::string a = "INTEL-SA-00075:affected";
  auto amt = [](const char* v) {
    Posture p = engine("CSME11", v);
    p.me.amt_present = true;
    return p;
  };
  EXPECT_TRUE(has(matched(amt("11.0.18.3002")), a));
  EXPECT_FALSE(has(matched(amt("11.0.18.3003")), a));
  EXPECT_FALSE(has(matched(amt("11.0.22.3001")), a));
  EXPECT_TRUE(has(matched(amt("11.0.24.1000")), a));
  EXPECT_FALSE(has(matched(amt("11.0.25.3001")), a));
  EXPECT_FALSE(has(matched(amt("11.6.12.3202")), a));
  EXPECT_TRUE(has(matched(amt("11.6.26.3000")), a));
  EXPECT_FALSE(has(matched(amt("11.6.27.3264")), a));
  EXPECT_FALSE(has(matched(amt("11.7.0.1000")), a));
  EXPECT_TRUE(has(matched(amt("6.2.60.1000")), a));
  EXPECT_FALSE(has(matched(amt("6.2.61.3535")), a));
}

// SA-00241 (2019.2) and SA-00295 (2020.1) are distinct, with their own fixed builds.
TEST(Advisories, Sa00241AndSa00295AreSeparate) {
  auto ids = matched(engine("CSME11", "12.0.40.1000"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00241:affected"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00295:affected"));
  ids = matched(engine("CSME11", "12.0.45.1509"));
  EXPECT_FALSE(has(ids, "INTEL-SA-00241:affected"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00295:affected"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00391:affected"));
  ids = matched(engine("CSME11", "12.0.64.1551"));
  EXPECT_FALSE(has(ids, "INTEL-SA-00295:affected"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00391:affected"));
  ids = matched(engine("CSME11", "14.5.12.1000"));
  EXPECT_FALSE(has(ids, "INTEL-SA-00295:affected"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00391:affected"));
  ids = matched(engine("TXE", "3.1.79.2000"));
  EXPECT_TRUE(has(ids, "INTEL-SA-00391:affected"));
  EXPECT_FALSE(has(ids, "INTEL-SA-00295:affected"));
  EXPECT_FALSE(has(matched(engine("TXE", "3.1.80.0")), "INTEL-SA-00391:affected"));
}

// The versions the corpus carries (fwupd's recordings, the ThinkPad E14's FVI table, the
// ThinkPad test root) are all past every Intel range.
TEST(Advisories, CorpusVersionsArePastEveryIntelRange) {
  for (auto [family, version] : {std::pair{"CSME16", "16.1.32.2473"},
                                 {"CSME18", "18.0.5.2133"},
                                 {"CSME11", "11.22.92.4222"},
                                 {"CSME11", "11.8.93.4323"}}) {
    Posture p = engine(family, version);
    p.me.amt_present = true;
    EXPECT_TRUE(matched(p).empty()) << version;
  }
}

// Every entry marked verified names the sources its ranges were checked against.
TEST(Advisories, VerifiedEntriesNameTheirSources) {
  auto j = nlohmann::json::parse(ironroot::testing::read_text(std::string(IRONROOT_SOURCE_TESTS) +
                                                              "/../data/posture/advisories.json"));
  size_t verified = 0;
  for (const auto& a : j["advisories"]) {
    if (!a.value("verified", false)) continue;
    ++verified;
    bool fwupd = a["id"] == "FWUPD-MEI-VERSION";  // its url is the source
    if (!fwupd) {
      ASSERT_TRUE(a.contains("sources")) << a["id"];
      EXPECT_FALSE(a["sources"].empty()) << a["id"];
    }
  }
  EXPECT_GE(verified, 7u);
}

}  // namespace
}  // namespace ironroot::posture
