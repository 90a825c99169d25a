// SMBIOS: the binary reader and the dmidecode text reader agree with each other and with
// dmidecode itself (dmidecode --from-dump on a table built here); bad tables fail with offsets.
#include "posture/smbios.h"

#include <gtest/gtest.h>

#include "posture/helpers.h"
#include "support/corpus.h"

namespace ironroot::posture {
namespace {

using testing::sample_table;
using testing::TempDir;

Bytes span(const std::vector<uint8_t>& v) {
  return {v.data(), v.size()};
}

TEST(Smbios, BinaryTableDecodesEveryStructureThatMatters) {
  auto table = sample_table();
  auto info = parse_smbios_table(span(table), "3.3.0");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->bios_vendor, "American Megatrends International, LLC.");
  EXPECT_EQ(info->bios_version, "2.7.1");
  EXPECT_EQ(info->bios_date, "03/14/2024");
  EXPECT_EQ(info->system_manufacturer, "Supermicro");
  EXPECT_EQ(info->system_product, "SYS-1029P");
  EXPECT_EQ(info->chassis_type, "Rack Mount Chassis");
  ASSERT_EQ(info->processors.size(), 2u);
  const SmbiosProcessor* cpu = info->main_processor();
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->version, "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz");
  EXPECT_EQ(cpu->family, 6u);
  EXPECT_EQ(cpu->model, 85u);
  EXPECT_EQ(cpu->stepping, 4u);
  EXPECT_FALSE(info->processors[1].populated);
  EXPECT_TRUE(info->ipmi);
  EXPECT_EQ(info->ipmi_spec_version, "2.0");
  EXPECT_TRUE(info->host_interface);
  EXPECT_TRUE(info->redfish_over_ip);
  EXPECT_TRUE(info->tpm);
  EXPECT_EQ(info->tpm_vendor_id, "IFX");
  EXPECT_EQ(info->tpm_spec_version, "2.0");
  EXPECT_EQ(info->tpm_firmware, "7.85");
  ASSERT_EQ(info->mei.size(), 2u);
  EXPECT_EQ(info->mei[0].hfsts[0], 0x90000255u);
  EXPECT_EQ(info->mei[0].hfsts[5], 0x00400000u);
  EXPECT_EQ(info->me_firmware_version(), "11.22.92.4190");
}

TEST(Smbios, EntryPoints) {
  auto dump = testing::dump_bin(sample_table());
  auto v = parse_smbios_entry_point(span(dump));
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v, "3.3.0");
  std::vector<uint8_t> junk = {'_', 'X', 'X', '_', 0, 0};
  auto bad = parse_smbios_entry_point(span(junk));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("anchor"), std::string::npos);
}

// dmidecode reads the same bytes; its text, read by our text reader, must say the same thing.
TEST(Smbios, AgreesWithDmidecodeFromDump) {
  if (!ironroot::testing::have_program("dmidecode")) GTEST_SKIP() << "dmidecode is not installed";
  TempDir dir;
  auto table = sample_table();
  dir.write("/dump.bin", testing::dump_bin(table));
  auto out = ironroot::testing::run("dmidecode --from-dump " + dir.path + "/dump.bin");
  ASSERT_EQ(out.status, 0) << out.out;
  auto text = parse_dmidecode_text(out.out);
  ASSERT_TRUE(text) << text.error().message();
  auto bin = parse_smbios_table(span(table), "3.3.0");
  ASSERT_TRUE(bin);
  EXPECT_EQ(text->smbios_version, bin->smbios_version);
  EXPECT_EQ(text->bios_vendor, bin->bios_vendor);
  EXPECT_EQ(text->bios_version, bin->bios_version);
  EXPECT_EQ(text->bios_date, bin->bios_date);
  EXPECT_EQ(text->system_manufacturer, bin->system_manufacturer);
  EXPECT_EQ(text->system_product, bin->system_product);
  EXPECT_EQ(text->system_family, bin->system_family);
  EXPECT_EQ(text->board_manufacturer, bin->board_manufacturer);
  EXPECT_EQ(text->board_product, bin->board_product);
  EXPECT_EQ(text->chassis_type, bin->chassis_type);
  ASSERT_EQ(text->processors.size(), bin->processors.size());
  for (size_t i = 0; i < bin->processors.size(); ++i) {
    EXPECT_EQ(text->processors[i].manufacturer, bin->processors[i].manufacturer) << i;
    EXPECT_EQ(text->processors[i].version, bin->processors[i].version) << i;
    EXPECT_EQ(text->processors[i].populated, bin->processors[i].populated) << i;
  }
  EXPECT_EQ(text->processors[0].family, bin->processors[0].family);
  EXPECT_EQ(text->processors[0].model, bin->processors[0].model);
  EXPECT_EQ(text->processors[0].stepping, bin->processors[0].stepping);
  EXPECT_EQ(text->ipmi, bin->ipmi);
  EXPECT_EQ(text->ipmi_interface, bin->ipmi_interface);
  EXPECT_EQ(text->ipmi_spec_version, bin->ipmi_spec_version);
  EXPECT_EQ(text->host_interface, bin->host_interface);
  EXPECT_EQ(text->host_interface_types, bin->host_interface_types);
  EXPECT_EQ(text->redfish_over_ip, bin->redfish_over_ip);
  EXPECT_EQ(text->tpm, bin->tpm);
  EXPECT_EQ(text->tpm_vendor_id, bin->tpm_vendor_id);
  EXPECT_EQ(text->tpm_spec_version, bin->tpm_spec_version);
  EXPECT_EQ(text->tpm_firmware, bin->tpm_firmware);
  EXPECT_EQ(text->tpm_description, bin->tpm_description);
  ASSERT_EQ(text->mei.size(), bin->mei.size());
  for (size_t i = 0; i < bin->mei.size(); ++i) {
    EXPECT_EQ(text->mei[i].component, bin->mei[i].component);
    EXPECT_EQ(text->mei[i].hfsts, bin->mei[i].hfsts);
  }
  EXPECT_EQ(text->me_firmware_version(), bin->me_firmware_version());
}

TEST(Smbios, TheLiveTableWhenReadable) {
  auto dmi = ironroot::testing::read_bytes("/sys/firmware/dmi/tables/DMI");
  if (dmi.empty()) GTEST_SKIP() << "/sys/firmware/dmi/tables/DMI is not readable here";
  auto info = parse_smbios_table(span(dmi));
  ASSERT_TRUE(info) << info.error().message();
  if (ironroot::testing::have_program("dmidecode")) {
    auto out = ironroot::testing::run("dmidecode");
    auto text = parse_dmidecode_text(out.out);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->bios_version, info->bios_version);
    EXPECT_EQ(text->chassis_type, info->chassis_type);
    EXPECT_EQ(text->tpm, info->tpm);
    EXPECT_EQ(text->ipmi, info->ipmi);
  }
}

TEST(Smbios, BadTablesNameTheOffset) {
  auto table = sample_table();
  // Structure length below its header.
  auto short_len = table;
  short_len[1] = 2;
  auto r = parse_smbios_table(span(short_len));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("offset 0x1"), std::string::npos) << r.error().message();
  // Truncated in the middle of the strings of the first structure.
  std::vector<uint8_t> cut(table.begin(), table.begin() + 30);
  r = parse_smbios_table(span(cut));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not terminated"), std::string::npos) << r.error().message();
  // A formatted area longer than the data.
  std::vector<uint8_t> longer = {1, 200, 0, 0, 1};
  r = parse_smbios_table(span(longer));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("formatted area"), std::string::npos) << r.error().message();
  r = parse_smbios_table({});
  ASSERT_FALSE(r);
}

TEST(Smbios, OemTablesOfOtherLayoutsAreNotMei) {
  SmbiosInfo info;
  SmbiosStructure s;
  s.type = 219;
  s.formatted = {219, 10, 0, 0, 0x01, 0x01, 1, 2, 3, 4};  // count 1 needs 31 bytes
  decode_oem_structure(s, info);
  EXPECT_TRUE(info.mei.empty());
  s.formatted = {219, 31, 0, 0, 0x02, 0x01};  // version 2
  s.formatted.resize(31, 0);
  decode_oem_structure(s, info);
  EXPECT_TRUE(info.mei.empty());
}

TEST(DmidecodeText, HwProbeTabJoinedFieldsAndErrors) {
  const char* text =
      "# dmidecode 3.2\nSMBIOS 3.3.0 present.\n\n"
      "Handle 0x004D, DMI type 43, 31 bytes\nTPM Device\n\tVendor ID: STM\n"
      "\tSpecification Version: 2.0\tFirmware Revision: 1.258\n"
      "\tDescription: TPM 2.0, ManufacturerID: STM , Firmware Version: "
      "0x00010102.0x0\tCharacteristics:\n"
      "\t\tFamily configurable via platform software support\n";
  auto info = parse_dmidecode_text(text);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(info->tpm);
  EXPECT_EQ(info->tpm_vendor_id, "STM");
  EXPECT_EQ(info->tpm_spec_version, "2.0");
  EXPECT_EQ(info->tpm_firmware, "1.258");
  EXPECT_EQ(info->smbios_version, "3.3.0");

  auto none = parse_dmidecode_text("hello\nworld\n");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no 'Handle"), std::string::npos);

  auto bad_hex = parse_dmidecode_text(
      "Handle 0x0001, DMI type 219, 8 bytes\nOEM-specific Type\n\tHeader and Data:\n\t\tDB 08 ZZ "
      "00\n");
  ASSERT_FALSE(bad_hex);
  EXPECT_NE(bad_hex.error().message().find("line 4"), std::string::npos)
      << bad_hex.error().message();
}

}  // namespace
}  // namespace ironroot::posture
