// ironroot posture: Intel CSME / SPS / TXE status and AMT, decoded without a kernel driver.
//
// The host firmware status registers (HFSTS1..6) come from /sys/class/mei/mei*/fw_status, from
// PCI config space of the MEI function (0x40, 0x48, 0x60, 0x64, 0x68, 0x6C) or from the SMBIOS
// $MEI table; their meaning depends on the firmware family, which follows from the version
// (fwupd libfwupdplugin/fu-intel-me.rs; chipsec me_mfg_mode.py).
//
//   auto family = posture::me_family_from_version("16.1.32.2473");   // kCsme16
//   posture::MeStatus st = posture::decode_hfsts(hfsts, family);
//   st.working_state == "Normal", st.operation_mode == "Normal"
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::posture {

enum class MeFamily { kUnknown, kTxe, kMe, kCsme11, kCsme16, kCsme18, kSps };

const char* me_family_name(MeFamily f);
MeFamily me_family_from_name(std::string_view name);

// fwupd's rule: major 1-5 TXE, 6-10 ME, 11-15 CSME11, 16-17 CSME16, 18+ CSME18.
// SPS (server) versions overlap with TXE numbers, so SPS is recognised from HFSTS1 instead.
MeFamily me_family_from_version(std::string_view version);

struct MeStatus {
  MeFamily family = MeFamily::kUnknown;
  std::string working_state;   // HFSTS1[3:0]: "Reset", "Init", ..., "Disabled", "Normal", ...
  std::string operation_mode;  // HFSTS1[19:16]: "Normal", "Debug", "Disable", "OverrideJumper"...
  uint32_t operation_mode_raw = 0;
  uint32_t error_code = 0;  // HFSTS1[15:12]
  std::string error;        // "none", "uncategorized", "disabled", "image failure", ...
  bool bit4 = false;        // HFSTS1[4], read per family below
  // Manufacturing mode: HFSTS1[4] on ME / CSME11-15 only (CSME16+ repurposes the bit).
  std::optional<bool> manufacturing_mode;
  // CSME16+: HFSTS1[4] means the flash descriptor / SPI protection is not in place.
  std::optional<bool> spi_protection_mode;
  bool hap = false;    // disabled by the High Assurance Platform bit or soft-disable
  std::string fw_sku;  // HFSTS3[6:4] on CSME11+: "Consumer", "Corporate", "Lite"
  std::optional<bool> boot_guard_enabled;  // HFSTS6 on CSME11/16
  std::optional<bool> boot_guard_verified;
};

// Decodes HFSTS1..6 (missing registers may be 0). kSps is chosen when HFSTS1[19:16] is 0xF,
// which SPS firmware reports and no client family defines.
MeStatus decode_hfsts(const std::array<uint32_t, 6>& hfsts, MeFamily family);

// /sys/class/mei/mei0/fw_status: one 8-hex-digit register per line. Errors name the line.
Result<std::array<uint32_t, 6>> parse_fw_status(std::string_view text);

// /sys/class/mei/mei0/fw_ver: "platform:major.minor.hotfix.build" per line; returns the first
// version ("16.1.32.2473"). Errors name the line.
Result<std::string> parse_fw_ver(std::string_view text);

// AMT through the PTHI client (UUID 12f80028-b4b7-4b2d-aca8-46e0ff65814c), Host-IF version 1.1.
enum class AmtProvisioning { kUnknown, kUnprovisioned, kBeingProvisioned, kProvisioned };
const char* amt_provisioning_name(AmtProvisioning p);

struct AmtCodeVersions {
  std::string bios;                                           // BIOS version string
  std::vector<std::pair<std::string, std::string>> versions;  // "AMT" -> "11.8.93", ...
  std::string amt_version;  // "AMT" and "Build Number" joined: "11.8.93.4323"
};

// Responses to CodeVersionsRequest (0x0400001A) and ProvisioningStateRequest (0x04000011).
// A status of 0x4000 means AMT is disabled (reported as an error with kUnsupported).
Result<AmtCodeVersions> parse_amt_code_versions(Bytes response);
Result<AmtProvisioning> parse_amt_provisioning_state(Bytes response);

// The live query through /dev/mei0 (ioctl IOCTL_MEI_CONNECT_CLIENT, one request each): read-only
// Host-IF commands. Fails when the device is absent or AMT does not answer.
struct AmtInfo {
  std::string version;
  AmtProvisioning provisioning = AmtProvisioning::kUnknown;
};
Result<AmtInfo> query_amt(const std::string& mei_device);

// Compares dotted versions numerically, component by component (missing components are 0).
int compare_versions(std::string_view a, std::string_view b);

}  // namespace ironroot::posture
