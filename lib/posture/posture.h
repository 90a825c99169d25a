// ironroot posture: what lives beneath the operating system of one host, read without a driver.
//
// A Posture is a set of facts (CPU, SMBIOS, Intel ME, AMD PSP, BMC, TPM, IOMMU, Secure Boot,
// lockdown, memory encryption) and the sub-OS engines derived from them. It is collected from a
// root directory ("/" in production, a captured tree in tests) or from dmidecode text, travels as
// JSON (to_json / from_json round-trip), and two postures of one host compare into changes.
//
//   IRONROOT_ASSIGN_OR_RETURN(posture::Posture p, posture::collect_posture("/"));
//   nlohmann::json j = posture::to_json(p);
//   for (const auto& c : posture::compare_posture(before, p)) log(c.kind, c.message);
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "posture/me.h"
#include "posture/smbios.h"

namespace ironroot::posture {

struct CpuInfo {
  std::string vendor;        // canonical: "Intel", "AMD", "Ampere", "HiSilicon", "Phytium", ...
  std::string manufacturer;  // as reported (SMBIOS string or CPUID vendor id)
  std::string model_name;
  std::string arch;  // "x86_64", "aarch64", "loongarch64", "" when unknown
  std::optional<uint32_t> family, model, stepping;
  std::optional<uint64_t> microcode;  // x86 microcode revision
  std::optional<uint64_t> midr;       // Arm MIDR_EL1
};

struct PlatformInfo {
  std::string system_manufacturer, system_product;
  std::string board_manufacturer, board_product;
  std::string bios_vendor, bios_version, bios_date;
  std::string chassis_type;
  std::string smbios_version;
};

struct TpmInfo {
  bool present = false;
  std::string version;       // "2.0", "1.2"
  std::string manufacturer;  // vendor id ("IFX", "STM", "NTC", "MSFT"...)
  std::string firmware;
  std::string source;  // "sysfs", "smbios"
};

struct BmcInfo {
  bool present = false;
  bool ipmi_smbios = false;     // SMBIOS type 38
  bool host_interface = false;  // SMBIOS type 42
  bool redfish = false;         // type 42 with Redfish over IP
  bool ipmi_device = false;     // /dev/ipmi0 or /sys/class/ipmi
  std::string ipmi_interface;
  std::vector<std::string> pci;  // "0000:03:00.0 1a03:2000 ASPEED"
  std::string vendor;            // from a known BMC PCI function, "" when unknown
};

struct MeInfo {
  bool present = false;
  std::string source;  // "sysfs", "pci-config", "smbios"
  std::string family;  // me_family_name
  std::string version;
  std::vector<uint32_t> hfsts;
  std::string working_state, operation_mode, error;
  uint32_t error_code = 0;
  std::optional<bool> manufacturing_mode, spi_protection_mode;
  bool hap = false;
  std::string fw_sku;
  std::string pci_id;        // "8086:a13a"
  std::string pci_slot;      // "0000:00:16.0"
  std::string driver;        // "mei_me", "" when unbound
  std::string dev_state;     // /sys/class/mei/mei0/dev_state
  std::string kind;          // /sys/class/mei/mei0/kind
  bool amt_present = false;  // the AMT firmware answered, or the SKU is Corporate
  std::string amt_version;
  std::string amt_provisioning;  // amt_provisioning_name, "" when not asked
};

struct PspInfo {
  bool present = false;
  std::string pci_slot, pci_id, driver;
  std::map<std::string, std::string> attributes;  // ccp sysfs: tsme_status, fused_part, ...
  std::optional<bool> sev, sev_es, sev_snp;       // kvm_amd parameters
  std::optional<bool> sme;                        // CPU flag sme (kept only when BIOS enabled SMEE)
};

struct SecurityInfo {
  std::optional<bool> iommu;        // /sys/class/iommu has a device
  std::optional<bool> preboot_dma;  // ACPI DMAR opt-in flag / IVRS IVinfo bit
  bool efi = false;
  std::optional<bool> secure_boot, setup_mode;
  std::string lockdown;  // "none", "integrity", "confidentiality", "" unknown
  std::optional<uint64_t> taint;
  std::string memory_encryption;                    // "tme", "sme", "tsme", "none", "" unknown
  std::optional<bool> memory_encryption_supported;  // CPUID: SME (AMD) or TME (Intel)
  std::optional<bool> s0ix_capable;                 // ACPI FADT LOW_POWER_S0_IDLE_CAPABLE
  std::optional<bool> swap;                         // any swap active
  std::optional<bool> smap, cet;                    // CPU flags
  std::string mem_sleep;                            // "[s2idle] deep", "" unknown
  std::string kernel;                               // osrelease
};

// One engine that runs beneath (or beside) the OS with its own firmware.
// A PCI function of interest (network controller, BMC graphics, ...).
struct PciFunction {
  std::string slot;    // "0000:03:00.0"
  std::string id;      // "1a03:2000"
  std::string vendor;  // from data/posture/vendors.json, "" when unknown
  std::string driver;
};

// A network interface of the host OS (not loopback): how a network sensor recognises the host's
// traffic. Addresses are read on the live system only (getifaddrs); a root directory gives the
// MACs from sysfs.
struct NetInterface {
  std::string name;                    // "eth0"
  std::string mac;                     // "02:00:00:00:77:02", "" when the link has none
  std::vector<std::string> addresses;  // "10.0.0.2", "fe80::1" (no prefix length)
  std::string pci_slot;                // "0000:03:00.0" when a PCI function backs it
};

struct SubOsEngine {
  std::string kind;     // "intel-csme", "intel-sps", "intel-txe", "intel-amt", "amd-psp", "bmc"
  std::string vendor;   // "Intel", "AMD", "ASPEED", "Dell", ...
  std::string version;  // "" when unknown
  std::string state;    // "enabled", "disabled-hap", "disabled", "provisioned", "unprovisioned",
                        // "present", "unknown"
  bool network_capable = false;  // can reach the network on its own (AMT, BMC)
};

struct Posture {
  std::string schema = "ironroot.posture/1";
  std::string host;    // hostname or the file it came from
  std::string source;  // "live", "root:/path", "dmidecode:file"
  CpuInfo cpu;
  PlatformInfo platform;
  TpmInfo tpm;
  BmcInfo bmc;
  MeInfo me;
  PspInfo psp;
  SecurityInfo security;
  std::vector<PciFunction> nics;           // PCI class 02 (network)
  std::vector<NetInterface> interfaces;    // the OS's network interfaces, by name
  std::vector<SubOsEngine> subos_engines;  // derived: call derive_subos_engines after edits
  std::vector<std::string> notes;          // what could not be read, and why
};

struct CollectOptions {
  // Ask AMT its version and provisioning state through /dev/mei0 (read-only Host-IF
  // commands). Only meaningful on the live system, root "/".
  bool query_amt = false;
};

// Reads every probe below `root`. Missing files are facts ("no TPM"), not errors; unreadable
// ones become notes. Fails only when `root` is not a directory.
Result<Posture> collect_posture(const std::string& root, const CollectOptions& options = {});

// A posture from SMBIOS alone (dmidecode text or a binary table).
Posture posture_from_smbios(const SmbiosInfo& smbios);

// Recomputes subos_engines from the facts.
void derive_subos_engines(Posture& p);

// Canonical vendor for a CPU manufacturer string or CPUID vendor id ("GenuineIntel" -> "Intel").
std::string canonical_cpu_vendor(std::string_view manufacturer);

nlohmann::json to_json(const Posture& p);
// Reads what to_json wrote; unknown keys are ignored, wrong types name the field.
Result<Posture> from_json(const nlohmann::json& j);

// ---- changes between two postures of one host (pure) ----

enum class Severity { kInfo, kLow, kMedium, kHigh, kCritical };
const char* severity_name(Severity s);

struct PostureChange {
  std::string kind;  // stable: me_left_hap, bmc_appeared, microcode_rollback, ...
  Severity severity = Severity::kInfo;
  std::string message;
};

std::vector<PostureChange> compare_posture(const Posture& before, const Posture& after);

}  // namespace ironroot::posture
