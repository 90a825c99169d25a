// Probes on captured root trees, JSON round trip, and changes between postures.
#include "posture/posture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "posture/helpers.h"
#include "posture/rating.h"
#include "support/corpus.h"

namespace ironroot::posture {
namespace {

using testing::TempDir;

std::string config_space(const std::array<uint32_t, 6>& h) {
  std::string cfg(256, '\0');
  cfg[0] = static_cast<char>(0x86);
  cfg[1] = static_cast<char>(0x80);
  const size_t off[] = {0x40, 0x48, 0x60, 0x64, 0x68, 0x6C};
  for (size_t i = 0; i < 6; ++i) {
    for (size_t b = 0; b < 4; ++b) cfg[off[i] + b] = static_cast<char>((h[i] >> (8 * b)) & 0xFF);
  }
  return cfg;
}

// An Intel server with a BMC, TPM 2.0, Secure Boot on, lockdown integrity.
void intel_server_root(const TempDir& d) {
  d.write("/proc/cpuinfo",
          "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
          "model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\nstepping\t: 4\n"
          "microcode\t: 0x2007006\nflags\t\t: fpu smap tme\n\nprocessor\t: 1\nvendor_id\t: X\n");
  d.write("/proc/sys/kernel/hostname", "node-17\n");
  d.write("/proc/sys/kernel/tainted", "0\n");
  d.write("/proc/sys/kernel/osrelease", "6.1.0-21-amd64\n");
  d.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
  d.write("/sys/firmware/dmi/tables/DMI", testing::sample_table());
  auto dump = testing::dump_bin({});
  d.write("/sys/firmware/dmi/tables/smbios_entry_point",
          std::vector<uint8_t>(dump.begin(), dump.begin() + 24));
  std::string mei = "/sys/bus/pci/devices/0000:00:16.0";
  d.write(mei + "/vendor", "0x8086\n");
  d.write(mei + "/device", "0xa1ba\n");
  d.write(mei + "/class", "0x078000\n");
  d.symlink("../../../bus/pci/drivers/mei_me", mei + "/driver");
  d.write(mei + "/config", config_space({0x90000245, 0x89114827, 0x30, 0x4000, 0, 0x00400000}));
  d.write("/sys/class/mei/mei0/fw_ver", "0:11.22.92.4222\n0:11.22.92.4222\n");
  d.write("/sys/class/mei/mei0/dev_state", "ENABLED\n");
  d.write("/sys/class/mei/mei0/kind", "mei\n");
  std::string vga = "/sys/bus/pci/devices/0000:03:00.0";
  d.write(vga + "/vendor", "0x1a03\n");
  d.write(vga + "/device", "0x2000\n");
  d.write(vga + "/class", "0x030000\n");
  std::string nic = "/sys/bus/pci/devices/0000:18:00.0";
  d.write(nic + "/vendor", "0x15b3\n");
  d.write(nic + "/device", "0x1017\n");
  d.write(nic + "/class", "0x020000\n");
  d.symlink("../../../bus/pci/drivers/mlx5_core", nic + "/driver");
  d.write(nic + "/net/ens1f0/address", "B8:CE:F6:00:11:22\n");
  d.symlink("../../../bus/pci/devices/0000:18:00.0", "/sys/class/net/ens1f0/device");
  d.write("/sys/class/net/ens1f0/address", "B8:CE:F6:00:11:22\n");
  d.write("/sys/class/net/lo/address", "00:00:00:00:00:00\n");
  d.write("/sys/class/net/wg0/address", "00:00:00:00:00:00\n");
  d.write("/sys/class/tpm/tpm0/tpm_version_major", "2\n");
  d.write("/sys/class/iommu/dmar0/uevent", "");
  std::vector<uint8_t> dmar(48, 0);
  dmar[37] = 0x05;
  d.write("/sys/firmware/acpi/tables/DMAR", dmar);
  d.write("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
          std::string("\x06\x00\x00\x00\x01", 5));
  d.write("/sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c",
          std::string("\x06\x00\x00\x00\x00", 5));
  d.write("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  d.write("/sys/power/mem_sleep", "[s2idle]\n");
}

TEST(Collect, IntelServerRoot) {
  TempDir d;
  intel_server_root(d);
  auto p = collect_posture(d.path);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->source, "root:" + d.path);
  EXPECT_EQ(p->host, "node-17");
  EXPECT_EQ(p->cpu.vendor, "Intel");
  EXPECT_EQ(p->cpu.manufacturer, "GenuineIntel");
  EXPECT_EQ(p->cpu.model_name, "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz");
  EXPECT_EQ(p->cpu.family, 6u);
  EXPECT_EQ(p->cpu.model, 85u);
  EXPECT_EQ(p->cpu.microcode, 0x2007006u);
  EXPECT_EQ(p->platform.chassis_type, "Rack Mount Chassis");
  EXPECT_EQ(p->platform.bios_version, "2.7.1");
  EXPECT_EQ(p->platform.smbios_version, "3.3.0");
  EXPECT_TRUE(p->tpm.present);
  EXPECT_EQ(p->tpm.version, "2.0");
  EXPECT_EQ(p->tpm.source, "sysfs");
  EXPECT_EQ(p->tpm.manufacturer, "IFX");  // from SMBIOS 43
  EXPECT_TRUE(p->bmc.present);
  EXPECT_TRUE(p->bmc.ipmi_smbios);
  EXPECT_TRUE(p->bmc.redfish);
  EXPECT_EQ(p->bmc.vendor, "ASPEED");
  ASSERT_TRUE(p->me.present);
  EXPECT_EQ(p->me.source, "pci-config");  // config space wins over the SMBIOS copy
  EXPECT_EQ(p->me.driver, "mei_me");
  EXPECT_EQ(p->me.pci_id, "8086:a1ba");
  EXPECT_EQ(p->me.version, "11.22.92.4222");
  EXPECT_EQ(p->me.family, "CSME11");
  ASSERT_EQ(p->me.hfsts.size(), 6u);
  EXPECT_EQ(p->me.hfsts[0], 0x90000245u);
  EXPECT_EQ(p->me.working_state, "Normal");
  EXPECT_EQ(p->me.manufacturing_mode, false);
  EXPECT_EQ(p->me.fw_sku, "Corporate");
  EXPECT_TRUE(p->me.amt_present);
  EXPECT_EQ(p->me.dev_state, "ENABLED");
  EXPECT_EQ(p->security.iommu, true);
  EXPECT_EQ(p->security.preboot_dma, true);
  EXPECT_EQ(p->security.secure_boot, true);
  EXPECT_EQ(p->security.setup_mode, false);
  EXPECT_EQ(p->security.lockdown, "integrity");
  EXPECT_EQ(p->security.taint, 0u);
  EXPECT_EQ(p->security.swap, false);
  ASSERT_EQ(p->nics.size(), 1u);
  EXPECT_EQ(p->nics[0].vendor, "Mellanox (NVIDIA)");
  EXPECT_EQ(p->nics[0].driver, "mlx5_core");
  std::vector<std::string> kinds;
  for (const auto& e : p->subos_engines) kinds.push_back(e.kind + "/" + e.state);
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"intel-csme/enabled", "intel-amt/present", "bmc/enabled"}));

  Rating r = rate(*p);
  EXPECT_EQ(r.fwupd_hsi, "HSI:INVALID:chassis[Rack Mount Chassis]");
  auto attr = [&](const std::string& id) -> std::string {
    for (const auto& a : r.attributes) {
      if (a.id == id) return a.result;
    }
    return "(absent)";
  };
  EXPECT_EQ(attr("org.fwupd.hsi.Mei.Version"), "valid");
  EXPECT_EQ(attr("org.fwupd.hsi.Mei.ManufacturingMode"), "locked");
  EXPECT_EQ(attr("org.fwupd.hsi.Tpm.Version20"), "found");
  EXPECT_EQ(attr("org.fwupd.hsi.Iommu"), "enabled");
  EXPECT_EQ(attr("org.fwupd.hsi.PrebootDma"), "enabled");
  EXPECT_EQ(attr("org.fwupd.hsi.Uefi.SecureBoot"), "enabled");
  EXPECT_EQ(attr("org.fwupd.hsi.Kernel.Lockdown"), "enabled");
  EXPECT_EQ(attr("org.ironroot.Bmc.RedfishHostInterface"), "enabled");
  EXPECT_GE(r.ironroot_level, 2);
  EXPECT_LT(r.ironroot_level, 3);  // the Redfish host interface fails HSI-3
}

TEST(Collect, EmptyRootAndMissingRoot) {
  TempDir d;
  auto p = collect_posture(d.path);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->tpm.present);
  EXPECT_FALSE(p->me.present);
  EXPECT_FALSE(p->bmc.present);
  EXPECT_FALSE(p->notes.empty());
  auto missing = collect_posture(d.path + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("not a directory"), std::string::npos);
}

TEST(Collect, GarbageFilesBecomeNotes) {
  TempDir d;
  d.write("/sys/firmware/dmi/tables/DMI", std::string("\x01\x02\x00", 3));
  d.write("/sys/class/mei/mei0/fw_status", "not hex\n");
  d.write("/sys/class/mei/mei0/fw_ver", "what\n");
  auto p = collect_posture(d.path);
  ASSERT_TRUE(p);
  EXPECT_GE(p->notes.size(), 3u);
  EXPECT_TRUE(p->me.present);
  EXPECT_TRUE(p->me.hfsts.empty());
}

TEST(Collect, TheLiveSystemDoesNotFail) {
  auto p = collect_posture("/");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->source, "live");
  EXPECT_FALSE(p->cpu.vendor.empty());
}

// A root tree gives the interfaces' MACs (lower case; none for tunnels; no loopback) and the PCI
// function behind each; addresses only come from the live system.
TEST(Collect, InterfacesFromSysfs) {
  TempDir d;
  intel_server_root(d);
  auto p = collect_posture(d.path);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->interfaces.size(), 2u);
  EXPECT_EQ(p->interfaces[0].name, "ens1f0");
  EXPECT_EQ(p->interfaces[0].mac, "b8:ce:f6:00:11:22");
  EXPECT_EQ(p->interfaces[0].pci_slot, "0000:18:00.0");
  EXPECT_TRUE(p->interfaces[0].addresses.empty());
  EXPECT_EQ(p->interfaces[1].name, "wg0");
  EXPECT_EQ(p->interfaces[1].mac, "");
}

// On the live system, against iproute2 on the same machine: every interface `ip -j addr` lists
// (but loopback) with the same MAC and the same addresses.
TEST(Collect, LiveInterfacesAgreeWithIproute2) {
  auto ip = ironroot::testing::run("ip -j addr show");
  if (ip.status != 0) GTEST_SKIP() << "no ip (iproute2)";
  auto links = nlohmann::json::parse(ip.out);
  auto p = collect_posture("/");
  ASSERT_TRUE(p);
  size_t compared = 0;
  for (const auto& l : links) {
    std::string name = l["ifname"];
    if (name == "lo") continue;
    auto it = std::find_if(p->interfaces.begin(), p->interfaces.end(),
                           [&](const NetInterface& n) { return n.name == name; });
    ASSERT_NE(it, p->interfaces.end()) << name;
    std::string mac = l.value("address", "");
    if (mac == "00:00:00:00:00:00") mac = "";
    if (l.value("link_type", "") == "ether") {
      EXPECT_EQ(it->mac, mac) << name;
    }
    std::set<std::string> want, got(it->addresses.begin(), it->addresses.end());
    for (const auto& a : l["addr_info"]) want.insert(a["local"].get<std::string>());
    EXPECT_EQ(got, want) << name;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

TEST(Json, RoundTrip) {
  TempDir d;
  intel_server_root(d);
  auto p = collect_posture(d.path);
  ASSERT_TRUE(p);
  nlohmann::json j = to_json(*p);
  EXPECT_EQ(j["cpu"]["vendor"], "Intel");
  EXPECT_EQ(j["me"]["hfsts"][0], "90000245");
  EXPECT_EQ(j["me"]["working_state"], "Normal");
  EXPECT_EQ(j["bmc"]["present"], true);
  EXPECT_EQ(j["tpm"]["present"], true);
  EXPECT_TRUE(j["subos_engines"].is_array());
  EXPECT_EQ(j["interfaces"][0]["mac"], "b8:ce:f6:00:11:22");
  auto back = from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(to_json(*back), j);
  EXPECT_TRUE(compare_posture(*p, *back).empty());
}

TEST(Json, WrongTypesNameTheField) {
  nlohmann::json j = to_json(Posture{});
  j["me"]["hfsts"] = {"9000024"};
  auto r = from_json(j);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("posture.me.hfsts[0]"), std::string::npos)
      << r.error().message();
  j = to_json(Posture{});
  j["cpu"]["microcode"] = "0x12";
  r = from_json(j);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("posture.cpu.microcode"), std::string::npos);
  j = to_json(Posture{});
  j["interfaces"] = {{{"name", "eth0"}, {"addresses", "10.0.0.1"}}};
  r = from_json(j);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("posture.interfaces[0].addresses"), std::string::npos)
      << r.error().message();
  j = to_json(Posture{});
  j["schema"] = "something/1";
  EXPECT_FALSE(from_json(j));
  EXPECT_FALSE(from_json(nlohmann::json::array()));
}

TEST(Compare, FindingsWithStableKinds) {
  Posture a;
  a.cpu.vendor = "Intel";
  a.cpu.microcode = 0x2007006;
  a.me.present = true;
  a.me.hap = true;
  a.me.working_state = "Disabled";
  a.security.secure_boot = true;
  a.security.lockdown = "integrity";
  a.tpm.present = true;
  Posture b = a;
  EXPECT_TRUE(compare_posture(a, b).empty());
  b.cpu.microcode = 0x2006e05;
  b.me.hap = false;
  b.me.working_state = "Normal";
  b.me.operation_mode = "Normal";
  b.bmc.present = true;
  b.security.secure_boot = false;
  b.security.lockdown = "none";
  auto changes = compare_posture(a, b);
  std::vector<std::string> kinds;
  for (const auto& c : changes) kinds.push_back(c.kind);
  for (const char* k : {"microcode_rollback", "me_left_hap", "bmc_appeared", "secure_boot_disabled",
                        "lockdown_weakened"}) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end()) << k;
  }
  for (const auto& c : changes) {
    if (c.kind == "me_left_hap") {
      EXPECT_EQ(c.severity, Severity::kCritical);
    }
    EXPECT_FALSE(c.message.empty());
  }
  // Forward microcode is information, not a rollback.
  Posture c = a;
  c.cpu.microcode = 0x2007100;
  auto up = compare_posture(a, c);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].kind, "microcode_updated");
  EXPECT_EQ(up[0].severity, Severity::kInfo);
}

}  // namespace
}  // namespace ironroot::posture
