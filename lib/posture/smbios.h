// ironroot posture: SMBIOS (DMTF DSP0134) from the binary table or from dmidecode text.
//
// Both readers fill the same SmbiosInfo, so an operator's archived `dmidecode` output and a live
// /sys/firmware/dmi/tables/DMI give the same answer. Only the structures that say something about
// platform trust are decoded: system, board, BIOS, chassis, processor, IPMI (38), management
// controller host interface (42), TPM (43) and Intel's OEM $MEI (219) and FVI (221) tables.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto f, FileContents::open("/sys/firmware/dmi/tables/DMI"));
//   IRONROOT_ASSIGN_OR_RETURN(posture::SmbiosInfo info, posture::parse_smbios_table(f.bytes()));
//   IRONROOT_ASSIGN_OR_RETURN(posture::SmbiosInfo same, posture::parse_dmidecode_text(text));
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

struct SmbiosProcessor {
  std::string socket;
  std::string manufacturer;  // as written by the firmware: "Intel(R) Corporation", "AMD", ...
  std::string version;       // the model name: "Intel(R) Xeon(R) Gold 6342 CPU @ 2.80GHz"
  std::optional<uint32_t> family, model, stepping;  // x86 signature, when the ID carries one
  bool populated = true;
};

// One record of the $MEI FWSTS table: the six host firmware status registers of one MEI function.
struct MeiFwsts {
  uint8_t component = 0;  // 1 = MEI1 (0:22.0), 2 = MEI2 (0:22.1), 3 = MEI3 (0:22.4), ...
  std::array<uint32_t, 6> hfsts{};
};

// One record of Intel's FVI (firmware version info, type 221) table.
struct FviRecord {
  std::string component;  // "ME Firmware Version", "Reference Code - ME", ...
  std::string version;    // "18.0.5.2133"; empty when the record says 0.0.0.0 or FF..
};

struct SmbiosInfo {
  std::string smbios_version;  // "3.3.0", from the entry point or dmidecode's header; may be empty
  std::string bios_vendor, bios_version, bios_date;
  std::string system_manufacturer, system_product, system_version, system_family;
  std::string board_manufacturer, board_product;
  std::string chassis_manufacturer, chassis_type;  // chassis_type as dmidecode names it
  std::vector<SmbiosProcessor> processors;

  bool ipmi = false;              // type 38: the platform has a BMC reachable through IPMI
  std::string ipmi_interface;     // "KCS (Keyboard Control Style)", "SSIF (SMBus System Interface)"
  std::string ipmi_spec_version;  // "2.0"
  bool host_interface = false;    // type 42: a management controller host interface
  std::vector<std::string> host_interface_types;  // "Network", "KCS: Keyboard Controller Style"
  bool redfish_over_ip = false;                   // a type 42 protocol record 04 (Redfish over IP)

  bool tpm = false;              // type 43
  std::string tpm_vendor_id;     // "IFX", "STM", "NTC", ... (trailing blanks and NULs dropped)
  std::string tpm_spec_version;  // "2.0"
  std::string tpm_firmware;      // "7.85"
  std::string tpm_description;

  std::vector<MeiFwsts> mei;  // from type 219 "$MEI" (first table that parses)
  std::vector<FviRecord> fvi;

  // The first populated processor, or nullptr.
  const SmbiosProcessor* main_processor() const;
  // "ME Firmware Version" from the FVI records, or "".
  std::string me_firmware_version() const;
};

// A raw structure (header, formatted area and strings) for the OEM decoders.
struct SmbiosStructure {
  uint8_t type = 0;
  uint16_t handle = 0;
  std::vector<uint8_t> formatted;  // the whole formatted area, header included
  std::vector<std::string> strings;

  // The string a formatted-area byte refers to ("" for 0 or out of range).
  std::string string_at(size_t offset) const;
};

// Splits a structure table (the content of /sys/firmware/dmi/tables/DMI) into structures.
// Stops at the end-of-table structure (127) or the end of the data; errors name the offset.
Result<std::vector<SmbiosStructure>> split_smbios_table(Bytes table);

// Decodes the structures that matter for posture. `smbios_version` is optional context.
Result<SmbiosInfo> parse_smbios_table(Bytes table, std::string smbios_version = "");

// Reads an SMBIOS entry point (smbios_entry_point, "_SM_" or "_SM3_") and returns
// "major.minor[.rev]".
Result<std::string> parse_smbios_entry_point(Bytes entry);

// Reads dmidecode's text output (any version since 2.x, also as archived by hw-probe).
// Fails when the text has no "Handle 0x..., DMI type N" header at all.
Result<SmbiosInfo> parse_dmidecode_text(std::string_view text);

// Applies the OEM decoders (219 $MEI, 221 FVI) to a raw structure; shared by both readers.
void decode_oem_structure(const SmbiosStructure& s, SmbiosInfo& info);

// dmidecode's name for a chassis type byte (bit 7, the lock, is ignored).
std::string chassis_type_name(uint8_t type);

}  // namespace ironroot::posture
