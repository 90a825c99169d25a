// ironroot evidence: TCG PC Client event types (TCG PFP 1.05 rev 23, 10.4.1) and UEFI GUIDs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ironroot::evidence::eventlog {

enum EventType : uint32_t {
  EV_PREBOOT_CERT = 0x0,
  EV_POST_CODE = 0x1,
  EV_UNUSED = 0x2,
  EV_NO_ACTION = 0x3,
  EV_SEPARATOR = 0x4,
  EV_ACTION = 0x5,
  EV_EVENT_TAG = 0x6,
  EV_S_CRTM_CONTENTS = 0x7,
  EV_S_CRTM_VERSION = 0x8,
  EV_CPU_MICROCODE = 0x9,
  EV_PLATFORM_CONFIG_FLAGS = 0xA,
  EV_TABLE_OF_DEVICES = 0xB,
  EV_COMPACT_HASH = 0xC,
  EV_IPL = 0xD,
  EV_IPL_PARTITION_DATA = 0xE,
  EV_NONHOST_CODE = 0xF,
  EV_NONHOST_CONFIG = 0x10,
  EV_NONHOST_INFO = 0x11,
  EV_OMIT_BOOT_DEVICE_EVENTS = 0x12,
  EV_POST_CODE2 = 0x13,
  EV_EFI_EVENT_BASE = 0x80000000,
  EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001,
  EV_EFI_VARIABLE_BOOT = 0x80000002,
  EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003,
  EV_EFI_BOOT_SERVICES_DRIVER = 0x80000004,
  EV_EFI_RUNTIME_SERVICES_DRIVER = 0x80000005,
  EV_EFI_GPT_EVENT = 0x80000006,
  EV_EFI_ACTION = 0x80000007,
  EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000008,
  EV_EFI_HANDOFF_TABLES = 0x80000009,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000A,
  EV_EFI_HANDOFF_TABLES2 = 0x8000000B,
  EV_EFI_VARIABLE_BOOT2 = 0x8000000C,
  EV_EFI_GPT_EVENT2 = 0x8000000D,
  EV_EFI_HCRTM_EVENT = 0x80000010,
  EV_EFI_VARIABLE_AUTHORITY = 0x800000E0,
  EV_EFI_SPDM_FIRMWARE_BLOB = 0x800000E1,
  EV_EFI_SPDM_FIRMWARE_CONFIG = 0x800000E2,
  EV_EFI_SPDM_DEVICE_POLICY = 0x800000E3,
  EV_EFI_SPDM_DEVICE_AUTHORITY = 0x800000E4,
};

// "EV_SEPARATOR"; unknown types as "EV_UNKNOWN_0x1234".
std::string event_type_name(uint32_t type);
// The type for a name (as printed by event_type_name), or false.
bool event_type_from_name(std::string_view name, uint32_t* type);

// A UEFI GUID as stored (first three fields little-endian).
using Guid = std::array<uint8_t, 16>;
// "8be4df61-93ca-11d2-aa0d-00e098032b8c".
std::string guid_to_string(const uint8_t* p);
Guid guid_from_string(std::string_view text);  // text must be a valid canonical GUID

// Well-known GUIDs (UEFI 2.10).
inline constexpr std::string_view kEfiGlobalVariableGuid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
inline constexpr std::string_view kEfiImageSecurityDatabaseGuid =
    "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
inline constexpr std::string_view kEfiCertX509Guid = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";
inline constexpr std::string_view kEfiCertSha256Guid = "c1c41626-504c-4092-aca9-41f936934328";
inline constexpr std::string_view kShimLockGuid = "605dab50-e046-4300-abb6-3dd810dd8b23";

}  // namespace ironroot::evidence::eventlog
