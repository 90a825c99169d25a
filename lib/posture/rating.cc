#include "posture/rating.h"

#include <algorithm>

namespace ironroot::posture {
namespace {

constexpr const char* kFwupd = "org.fwupd.hsi.";

bool is_fwupd(const HsiAttribute& a) {
  return a.id.rfind(kFwupd, 0) == 0;
}

// Sources that saw the running OS (not an imported dmidecode inventory).
bool os_view(const Posture& p) {
  return p.source == "live" || p.source.rfind("root:", 0) == 0;
}

bool psp_flag(const Posture& p, const char* attr, std::optional<bool>* out) {
  auto it = p.psp.attributes.find(attr);
  if (it == p.psp.attributes.end()) return false;
  *out = it->second == "1" || it->second == "Y" || it->second == "y";
  return true;
}

}  // namespace

bool fwupd_rates_chassis(const std::string& c) {
  // fwupd src/fu-engine.c: desktop, laptop and small-server kinds only (commit 377feea50).
  static const char* const kRated[] = {"Desktop",      "Low Profile Desktop",
                                       "Mini Tower",   "Tower",
                                       "Portable",     "Laptop",
                                       "Notebook",     "All In One",
                                       "Sub Notebook", "Main Server Chassis",
                                       "Tablet",       "Convertible",
                                       "Detachable",   "Mini PC",
                                       "Stick PC",     "Embedded PC",
                                       "Space-saving", "Lunch Box",
                                       "Pizza Box"};
  return std::find(std::begin(kRated), std::end(kRated), c) != std::end(kRated);
}

int hsi_level(const std::vector<HsiAttribute>& attributes, bool fwupd_only) {
  int level = 0;
  for (int j = 1; j <= 5; ++j) {
    bool failed = false, succeeded = false;
    for (const auto& a : attributes) {
      if (a.level != j || (fwupd_only && !is_fwupd(a))) continue;
      if (a.success) {
        succeeded = true;
      } else {
        failed = true;
      }
    }
    if (failed) break;
    if (succeeded) level = j;
  }
  return level;
}

Rating rate(const Posture& p) {
  Rating r;
  auto add = [&](std::string id, int level, std::string result, bool success, std::string reason) {
    r.attributes.push_back({std::move(id), level, std::move(result), success, std::move(reason)});
  };
  const std::string f = kFwupd;
  r.advisories = match_advisories(p);

  // Intel ME (fwupd intel-me plugins).
  if (p.me.present && !p.me.hfsts.empty()) {
    MeFamily fam = me_family_from_name(p.me.family);
    if (p.me.manufacturing_mode) {
      add(f + "Mei.ManufacturingMode", 1, *p.me.manufacturing_mode ? "not-locked" : "locked",
          !*p.me.manufacturing_mode, "HFSTS1 bit 4 (" + p.me.family + ")");
    } else if (fam == MeFamily::kCsme18 && p.me.spi_protection_mode) {
      bool debug = p.me.operation_mode == "Debug" || p.me.operation_mode == "EnhancedDebug";
      add(f + "Mei.ManufacturingMode", 1,
          debug                       ? "not-valid"
          : *p.me.spi_protection_mode ? "not-locked"
                                      : "locked",
          !debug && !*p.me.spi_protection_mode, "HFSTS1 bit 4 and operation mode (CSME18)");
    }
    if (fam != MeFamily::kSps) {
      bool jumper = p.me.operation_mode == "OverrideJumper";
      add(f + "Mei.OverrideStrap", 1, jumper ? "not-locked" : "locked", !jumper,
          "HFSTS1[19:16] operation mode " + p.me.operation_mode);
    }
    if (p.me.working_state == "Disabled") {
      add(f + "Mei.Version", 1, "not-enabled", true, "HFSTS1 working state Disabled (HAP)");
    } else if (!p.me.version.empty() && fam != MeFamily::kSps) {
      bool vulnerable = std::any_of(r.advisories.begin(), r.advisories.end(), [](const auto& m) {
        return m.advisory == "FWUPD-MEI-VERSION";
      });
      add(f + "Mei.Version", 1, vulnerable ? "not-valid" : "valid", !vulnerable,
          "version " + p.me.version + " against fwupd's table");
    }
  }
  // TPM.
  if (p.tpm.present) {
    bool v2 = p.tpm.version.rfind("2", 0) == 0;
    add(f + "Tpm.Version20", 1, v2 ? "found" : "not-enabled", v2,
        "TPM " + p.tpm.version + " (" + p.tpm.source + ")");
  } else if (os_view(p) || p.source.rfind("dmidecode", 0) == 0) {
    add(f + "Tpm.Version20", 1, "not-found", false,
        os_view(p) ? "no /sys/class/tpm/tpm*" : "no SMBIOS type 43");
  }
  // AMD PSP security attributes (fwupd pci-psp).
  std::optional<bool> v;
  if (psp_flag(p, "fused_part", &v))
    add(f + "PlatformFused", 1, *v ? "locked" : "not-locked", *v, "ccp fused_part");
  if (psp_flag(p, "debug_lock_on", &v))
    add(f + "PlatformDebugLocked", 2, *v ? "locked" : "not-locked", *v, "ccp debug_lock_on");
  if (psp_flag(p, "rom_armor_enforced", &v))
    add(f + "Amd.SpiWriteProtection", 2, *v ? "enabled" : "not-enabled", *v,
        "ccp rom_armor_enforced");
  if (psp_flag(p, "boot_integrity", &v))
    add(f + "Amd.PlatformSecureBoot", 2, *v ? "enabled" : "not-enabled", *v, "ccp boot_integrity");
  if (psp_flag(p, "rpmc_production_enabled", &v))
    add(f + "Amd.SpiReplayProtection", 3, *v ? "enabled" : "not-enabled", *v,
        "ccp rpmc_production_enabled");
  if (psp_flag(p, "anti_rollback_status", &v))
    add(f + "Amd.RollbackProtection", 4, *v ? "enabled" : "not-enabled", *v,
        "ccp anti_rollback_status");

  if (os_view(p)) {
    const auto& s = p.security;
    if (s.iommu)
      add(f + "Iommu", 2, *s.iommu ? "enabled" : "not-found", *s.iommu, "/sys/class/iommu");
    if (s.preboot_dma) {
      add(f + "PrebootDma", 3, *s.preboot_dma ? "enabled" : "not-enabled", *s.preboot_dma,
          "ACPI DMAR / IVRS flags");
    } else {
      add(f + "PrebootDma", 3, "not-valid", false, "no ACPI DMAR or IVRS table");
    }
    if (s.s0ix_capable) {
      add(f + "SuspendToIdle", 3, *s.s0ix_capable ? "enabled" : "not-enabled", *s.s0ix_capable,
          "ACPI FADT LOW_POWER_S0_IDLE_CAPABLE");
    } else {
      add(f + "SuspendToIdle", 3, "not-valid", false, "no ACPI FADT");
    }
    if (s.mem_sleep.empty()) {
      add(f + "SuspendToRam", 3, "not-valid", false, "no /sys/power/mem_sleep");
    } else {
      bool deep = s.mem_sleep.find("[deep]") != std::string::npos;
      add(f + "SuspendToRam", 3, deep ? "enabled" : "not-enabled", !deep, "/sys/power/mem_sleep");
    }
    if (s.cet)
      add(f + "Cet.Enabled", 3, *s.cet ? "supported" : "not-supported", *s.cet,
          "CPUID.7 SHSTK/IBT");
    if (s.smap) add(f + "Smap", 4, *s.smap ? "enabled" : "not-supported", *s.smap, "CPUID.7 SMAP");
    const auto& me = s.memory_encryption;
    if (me == "sme" || me == "tsme" || me == "tme") {
      add(f + "EncryptedRam", 4, "encrypted", true, me);
    } else if (s.memory_encryption_supported == false) {
      add(f + "EncryptedRam", 4, "not-supported", false, "CPUID: no SME / TME");
    } else if (s.memory_encryption_supported == true && me == "none") {
      add(f + "EncryptedRam", 4, "not-encrypted", false, "supported but not enabled");
    }
    // Runtime attributes (no level; they add the "!" suffix).
    if (!s.lockdown.empty()) {
      add(f + "Kernel.Lockdown", 0, s.lockdown == "none" ? "not-enabled" : "enabled",
          s.lockdown != "none", "/sys/kernel/security/lockdown");
    }
    if (s.taint) {
      add(f + "Kernel.Tainted", 0, *s.taint == 0 ? "not-tainted" : "tainted", *s.taint == 0,
          "/proc/sys/kernel/tainted");
    }
    if (s.swap == false) add(f + "Kernel.Swap", 0, "not-enabled", true, "/proc/swaps");
    bool sb = s.efi && s.secure_boot == true;
    add(f + "Uefi.SecureBoot", 0, sb ? "enabled" : "not-enabled", sb,
        s.efi ? "efivars SecureBoot" : "no EFI runtime (/sys/firmware/efi)");
  }

  // ironroot's own: what fwupd does not cover.
  const std::string ir = "org.ironroot.";
  size_t affected = 0, possible = 0;
  std::string names;
  for (const auto& m : r.advisories) {
    if (m.advisory == "FWUPD-MEI-VERSION") continue;  // already Mei.Version
    (m.status == "affected" ? affected : possible)++;
    names += (names.empty() ? "" : ", ") + m.advisory;
  }
  if (affected > 0) {
    add(ir + "SubOs.Advisories", 1, "affected", false, names);
  } else if (!p.me.version.empty() || !p.me.amt_version.empty() || p.psp.present ||
             p.cpu.vendor == "AMD") {
    add(ir + "SubOs.Advisories", possible ? 0 : 1, possible ? "possibly-affected" : "valid",
        possible == 0, names.empty() ? "no advisory range matched" : names);
  }
  if (p.me.present && !p.me.hfsts.empty()) {
    add(ir + "Me.Disabled", 0, p.me.hap ? "disabled-hap" : "enabled", true,
        "HFSTS1 working state " + p.me.working_state);
  }
  if (!p.me.amt_provisioning.empty()) {
    bool prov = p.me.amt_provisioning == "provisioned";
    add(ir + "Amt.Provisioned", 2, p.me.amt_provisioning, !prov, "AMT Host-IF ProvisioningState");
  }
  if (p.bmc.present) {
    add(ir + "Bmc.Present", 0, "present", true, "SMBIOS 38/42, /dev/ipmi0 or a BMC PCI function");
    add(ir + "Bmc.RedfishHostInterface", 3, p.bmc.redfish ? "enabled" : "not-enabled",
        !p.bmc.redfish, "SMBIOS type 42 protocol Redfish over IP");
  }
  if (p.psp.sev_snp) {
    add(ir + "Amd.SevSnp", 0, *p.psp.sev_snp ? "enabled" : "not-enabled", *p.psp.sev_snp,
        "kvm_amd sev_snp");
  }

  r.fwupd_level = hsi_level(r.attributes, true);
  r.ironroot_level = hsi_level(r.attributes, false);
  for (const auto& a : r.attributes) {
    if (is_fwupd(a) && a.level == 0 && !a.success) r.runtime_issues = true;
  }
  if (fwupd_rates_chassis(p.platform.chassis_type)) {
    r.fwupd_hsi = "HSI:" + std::to_string(r.fwupd_level) + (r.runtime_issues ? "!" : "");
  } else {
    r.fwupd_hsi =
        "HSI:INVALID:chassis[" +
        (p.platform.chassis_type.empty() ? std::string("(null)") : p.platform.chassis_type) + "]";
  }
  return r;
}

nlohmann::json to_json(const Rating& r) {
  nlohmann::ordered_json j;
  j["fwupd_hsi"] = r.fwupd_hsi;
  j["fwupd_level"] = r.fwupd_level;
  j["ironroot_level"] = r.ironroot_level;
  j["runtime_issues"] = r.runtime_issues;
  nlohmann::ordered_json attrs = nlohmann::ordered_json::array();
  for (const auto& a : r.attributes) {
    attrs.push_back({{"id", a.id},
                     {"level", a.level},
                     {"result", a.result},
                     {"success", a.success},
                     {"reason", a.reason}});
  }
  j["attributes"] = std::move(attrs);
  nlohmann::ordered_json adv = nlohmann::ordered_json::array();
  for (const auto& m : r.advisories) {
    adv.push_back({{"id", m.advisory},
                   {"engine", m.engine},
                   {"version", m.version},
                   {"status", m.status},
                   {"severity", m.severity},
                   {"verified_range", m.verified},
                   {"title", m.title},
                   {"url", m.url}});
  }
  j["advisories"] = std::move(adv);
  return nlohmann::json(j);
}

}  // namespace ironroot::posture
