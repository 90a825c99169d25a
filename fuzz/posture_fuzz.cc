// libFuzzer target for the posture parsers: the SMBIOS binary table, dmidecode text, MEI sysfs
// files, AMT Host-IF responses, posture JSON and the sovereignty policy language.
// Every parser reads the whole input, so the corpus seeds (dmidecode text, fwupd JSON) reach all.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "posture/me.h"
#include "posture/posture.h"
#include "posture/smbios.h"
#include "posture/sovereignty.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ironroot::posture;
  ironroot::Bytes in(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto info = parse_smbios_table(in)) (void)posture_from_smbios(*info);
  (void)parse_smbios_entry_point(in);
  if (auto info = parse_dmidecode_text(text)) (void)to_json(posture_from_smbios(*info));
  (void)parse_fw_status(text);
  (void)parse_fw_ver(text);
  (void)parse_amt_code_versions(in);
  (void)parse_amt_provisioning_state(in);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    if (auto p = from_json(j)) (void)compare_posture(*p, Posture{});
  }
  if (auto policy = parse_policy(text)) (void)evaluate_policy(*policy, Posture{});
  return 0;
}
