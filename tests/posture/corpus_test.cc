// Real data: the 39 dmidecode captures of ../shared/corpus/platform against its MANIFEST.md
// (CPU, chassis, BIOS, BMC, TPM, the $MEI status registers as decoded there), and this machine's
// attributes against `fwupdtool security --force --json`, attribute by attribute.
#include "support/corpus.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "posture/knowledge.h"
#include "posture/posture.h"
#include "posture/rating.h"

namespace ironroot::posture {
namespace {

struct ManifestRow {
  std::string file, cpu, chassis, bios;
  bool ipmi = false, rfhi = false, tpm = false;
  std::string me;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '`')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '`')) ++b;
  return s.substr(b);
}

std::vector<ManifestRow> manifest(const std::string& dir) {
  std::istringstream in(ironroot::testing::read_text(dir + "/platform/MANIFEST.md"));
  std::vector<ManifestRow> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `dmi/", 0) != 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '|') {
        cells.push_back(trim(cell));
        cell.clear();
      } else {
        cell.push_back(line[i]);
      }
    }
    if (cells.size() < 9) continue;
    rows.push_back({cells[0], cells[2], cells[3], cells[4], cells[5] == "yes", cells[6] == "yes",
                    cells[7] == "yes", cells[8]});
  }
  return rows;
}

std::string hex8(uint32_t v) {
  char b[12];
  std::snprintf(b, sizeof b, "%08X", v);
  return b;
}

TEST(PlatformCorpus, EveryHostMatchesTheManifest) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto rows = manifest(dir);
  ASSERT_EQ(rows.size(), 39u);
  size_t with_me = 0, with_bmc = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    auto info = parse_dmidecode_text(ironroot::testing::read_text(dir + "/platform/" + row.file));
    ASSERT_TRUE(info) << info.error().message();
    Posture p = posture_from_smbios(*info);
    // CPU: "manufacturer / version" as dmidecode prints type 4.
    EXPECT_EQ(p.cpu.manufacturer + " / " + p.cpu.model_name, row.cpu);
    EXPECT_FALSE(p.cpu.vendor.empty());
    EXPECT_EQ(info->chassis_type, row.chassis);
    EXPECT_EQ(info->bios_vendor + " / " + info->bios_version, row.bios);
    EXPECT_EQ(info->ipmi, row.ipmi);
    EXPECT_EQ(info->host_interface, row.rfhi);
    EXPECT_EQ(p.tpm.present, row.tpm);
    EXPECT_EQ(p.bmc.present, row.ipmi || row.rfhi);
    with_bmc += p.bmc.present;
    if (row.me.empty()) {
      EXPECT_TRUE(p.me.hfsts.empty());
      continue;
    }
    ++with_me;
    // "HFSTS1..6=00000355 8950A027 ...; CWS=Normal mfg/bit4=1 opmode=Normal err=0"
    ASSERT_EQ(p.me.hfsts.size(), 6u);
    std::string regs;
    for (uint32_t r : p.me.hfsts) regs += (regs.empty() ? "" : " ") + hex8(r);
    EXPECT_NE(row.me.find("HFSTS1..6=" + regs + ";"), std::string::npos) << regs;
    EXPECT_NE(row.me.find("CWS=" + p.me.working_state + " "), std::string::npos)
        << p.me.working_state;
    bool bit4 = (p.me.hfsts[0] & 0x10) != 0;
    EXPECT_NE(row.me.find(std::string("mfg/bit4=") + (bit4 ? "1" : "0")), std::string::npos);
    uint32_t opmode = (p.me.hfsts[0] >> 16) & 0xF;
    std::string expected_mode = opmode == 0 ? "Normal" : std::to_string(opmode);
    EXPECT_NE(row.me.find("opmode=" + expected_mode + " "), std::string::npos)
        << p.me.operation_mode;
    EXPECT_NE(row.me.find("err=" + std::to_string(p.me.error_code)), std::string::npos);
    if (opmode == 0xF) {
      EXPECT_EQ(p.me.family, "SPS");
    }
  }
  EXPECT_EQ(with_me, 11u);
  EXPECT_GE(with_bmc, 20u);
}

TEST(PlatformCorpus, VendorsOfTheManifestHosts) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::map<std::string, std::string> expected = {
      {"server__TaiShan_200__50ED10C1AEE2.dmidecode.txt", "HiSilicon"},
      {"server__D2000__17EC7603AC2B.dmidecode.txt", "Phytium"},
      {"server__ALTRAD8UD-1L2T__33DCD26EDA10.dmidecode.txt", "Ampere"},
      {"server__3C5000L-7A1000-16w-V0.1-LS4C5LG__88021823B6BB.dmidecode.txt", "Loongson"},
      {"server__PowerEdge_R6615__A3D1D83B109B.dmidecode.txt", "AMD"},
      {"server__ProLiant_MicroServer_Gen10__05C34CB58FDD.dmidecode.txt", "AMD"},
      {"server__PowerEdge_R750__369267D116AD.dmidecode.txt", "Intel"}};
  for (const auto& [file, vendor] : expected) {
    auto info = parse_dmidecode_text(ironroot::testing::read_text(dir + "/platform/dmi/" + file));
    ASSERT_TRUE(info) << file;
    EXPECT_EQ(posture_from_smbios(*info).cpu.vendor, vendor) << file;
  }
  // The ThinkPad E14 Gen 6 (Core Ultra) carries its ME version in the FVI table: CSME18.
  auto e14 = parse_dmidecode_text(ironroot::testing::read_text(
      dir + "/platform/dmi/notebook__ThinkPad_E14_Gen_6_21M70015CK__ABB00F21842A.dmidecode.txt"));
  ASSERT_TRUE(e14);
  Posture p = posture_from_smbios(*e14);
  EXPECT_EQ(p.me.version, "18.0.5.2133");
  EXPECT_EQ(p.me.family, "CSME18");
  EXPECT_EQ(p.me.spi_protection_mode, false);
  EXPECT_EQ(rate(p).fwupd_hsi.rfind("HSI:", 0), 0u);
  // A rack server gets no fwupd number but an ironroot level.
  auto r750 = parse_dmidecode_text(ironroot::testing::read_text(
      dir + "/platform/dmi/server__PowerEdge_R750__369267D116AD.dmidecode.txt"));
  ASSERT_TRUE(r750);
  EXPECT_EQ(rate(posture_from_smbios(*r750)).fwupd_hsi, "HSI:INVALID:chassis[Rack Mount Chassis]");
}

// Every corpus host whose SMBIOS carries an ME version, with the advisories that version falls
// in (checked by hand against the sourced ranges in data/posture/advisories.json).
TEST(PlatformCorpus, AdvisoriesOfTheHostsWithAnMeVersion) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"notebook__ThinkPad_E14_Gen_6_21M70015CK__ABB00F21842A.dmidecode.txt", {"18.0.5.2133", ""}},
      {"desktop__ThinkCentre_neo_50s_Gen_3_11T0008DFM__E093943EDF71.dmidecode.txt",
       {"16.0.15.1735", ""}},
      {"server__Z690D4U-2L2T-G5__2A61D8CF253D.dmidecode.txt", {"16.1.25.1917", ""}},
      {"server__Super_Server__C1D7CD066F95.dmidecode.txt", {"16.1.32.2418", ""}},
      // Past fwupd's 15.0.40.
      {"server__CompactPCI_Serial__89AAC1C97050.dmidecode.txt", {"15.0.45.2411", ""}},
      // Past SA-00391's 14.0.45; fwupd lists no 14.0 line.
      {"desktop__EliteDesk_800_G6_Small_Form_Factor_PC__1D540E5DD479.dmidecode.txt",
       {"14.0.47.1482", ""}},
      // 11.21.55 is SA-00125's fix; below SA-00213's 11.22.65 and every later 11.22 fix; fwupd
      // lists no 11.21 line.
      {"server__Z8_G4_Workstation__5E9B675190B8.dmidecode.txt",
       {"11.21.55.1508", "INTEL-SA-00213 INTEL-SA-00241 INTEL-SA-00295 INTEL-SA-00391"}},
      // Past SA-00086 (11.8.50) and SA-00125 (11.8.55), below SA-00213's 11.8.65.
      {"server__C7Z370-CG-IW__66BE2E39DAA0.dmidecode.txt",
       {"11.8.60.3561",
        "FWUPD-MEI-VERSION INTEL-SA-00213 INTEL-SA-00241 INTEL-SA-00295 INTEL-SA-00391"}},
  };
  size_t with_version = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/platform/dmi")) {
    auto info = parse_dmidecode_text(ironroot::testing::read_text(entry.path().string()));
    ASSERT_TRUE(info) << entry.path();
    Posture p = posture_from_smbios(*info);
    if (p.me.version.empty()) continue;
    ++with_version;
    std::string ids;
    for (const auto& m : match_advisories(p)) ids += (ids.empty() ? "" : " ") + m.advisory;
    std::string file = entry.path().filename().string();
    auto it = expected.find(file);
    if (it == expected.end()) {
      ADD_FAILURE() << "not expected: " << file << " " << p.me.version << " [" << ids << "]";
      continue;
    }
    EXPECT_EQ(p.me.version, it->second.first) << file;
    EXPECT_EQ(ids, it->second.second) << file << " " << p.me.version;
  }
  EXPECT_EQ(with_version, expected.size());
}

// Attribute ids fwupd and ironroot both report, with a reason for each known difference.
const std::map<std::string, std::string> kKnownDifferences = {
    // fwupd reads the AMD HWCR MSR through the msr driver; ironroot loads no driver.
    {"org.fwupd.hsi.Amd.SmmLocked", "needs /dev/cpu/0/msr"},
    // fwupd runs its own CET-enabled helper binary (fwupd-detect-cet) to see whether CET is used.
    {"org.fwupd.hsi.Cet.Active", "needs fwupd's helper"},
    // About fwupd's own plugins, not the platform.
    {"org.fwupd.hsi.Fwupd.Plugins", "fwupd-internal"},
    // Needs the list of boot-service-only variables fwupd probes; not implemented.
    {"org.fwupd.hsi.Uefi.BootserviceVars", "not implemented"},
};

TEST(Fwupd, SameAttributesAsFwupdtoolOnThisMachine) {
  if (!ironroot::testing::have_program("fwupdtool")) GTEST_SKIP() << "fwupdtool is not installed";
  auto out = ironroot::testing::run("timeout 120 fwupdtool security --force --json");
  size_t brace = out.out.find('{');
  if (out.status != 0 || brace == std::string::npos)
    GTEST_SKIP() << "fwupdtool security failed here";
  auto j = nlohmann::json::parse(out.out.substr(brace), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  std::map<std::string, std::string> fwupd;
  for (const auto& a : j["SecurityAttributes"]) {
    fwupd[a["AppstreamId"]] = a.contains("HsiResult") ? a["HsiResult"].get<std::string>() : "";
  }
  auto p = collect_posture("/");
  ASSERT_TRUE(p);
  Rating r = rate(*p);
  size_t compared = 0;
  for (const auto& a : r.attributes) {
    auto it = fwupd.find(a.id);
    if (it == fwupd.end() || kKnownDifferences.count(a.id)) continue;
    ++compared;
    EXPECT_EQ(a.result, it->second) << a.id << " (ironroot read " << a.reason << ")";
  }
  // ironroot must also cover what fwupd decided here (with a result), except the known ones.
  for (const auto& [id, result] : fwupd) {
    if (result.empty() || kKnownDifferences.count(id)) continue;
    bool ours = std::any_of(r.attributes.begin(), r.attributes.end(),
                            [&](const HsiAttribute& a) { return a.id == id; });
    if (!ours) ADD_FAILURE() << "fwupd reports " << id << "=" << result << ", ironroot does not";
  }
  EXPECT_GE(compared, 5u);
}

}  // namespace
}  // namespace ironroot::posture
