// ironroot evidence: writing crypto-agile event logs, for the demo's simulated hosts and for
// tests that need a log with a known defect. Every digest is computed through OpenSSL.
//
//   EventLogWriter w({HashAlg::kSha1, HashAlg::kSha256});
//   w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiGlobalVariableGuid, "SecureBoot",
//   {1})); w.add_measured(4, EV_EFI_BOOT_SERVICES_APPLICATION, image_bytes, image_load_event(...));
//   std::vector<uint8_t> log = w.bytes();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "crypto/digest.h"

namespace ironroot::evidence::eventlog {

class EventLogWriter {
 public:
  // Starts a log with the Spec ID event declaring `banks`.
  explicit EventLogWriter(std::vector<crypto::HashAlg> banks);

  // An event whose digests are the hashes of its own payload.
  void add(uint32_t pcr, uint32_t type, Bytes data);
  // An event whose digests are the hashes of `measured` (an image, a file), not the payload.
  void add_measured(uint32_t pcr, uint32_t type, Bytes measured, Bytes data);
  // An event with digests given per bank, in the order of the banks (for tests of bad logs).
  void add_raw(uint32_t pcr, uint32_t type, const std::vector<crypto::Digest>& digests, Bytes data);
  // EV_NO_ACTION "StartupLocality" (must come before the first PCR 0 event).
  void add_startup_locality(uint8_t locality);

  const std::vector<crypto::HashAlg>& banks() const { return banks_; }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  void put32(uint32_t v);
  std::vector<crypto::HashAlg> banks_;
  std::vector<uint8_t> out_;
};

// Payload builders.
std::vector<uint8_t> variable_data(std::string_view guid, std::string_view name, Bytes data);
std::vector<uint8_t> utf16le(std::string_view ascii, bool nul_terminated);
// A device path holding one File Path node ("\\EFI\\BOOT\\BOOTX64.EFI") and End Entire.
std::vector<uint8_t> file_device_path(std::string_view file);
// UEFI_IMAGE_LOAD_EVENT for an image loaded from `file`.
std::vector<uint8_t> image_load_event(uint64_t location, uint64_t length, std::string_view file);

// A complete, plausible UEFI Secure Boot log of a Linux server (firmware, Secure Boot
// variables with a generated certificate, boot option, shim + grub + kernel, command line),
// whose per-host values depend on `seed`. `firmware_version` changes the S-CRTM and firmware
// blob measurements (PCR 0), as a firmware update would.
std::vector<uint8_t> sample_boot_log(std::string_view seed, std::string_view firmware_version,
                                     const std::vector<crypto::HashAlg>& banks);

}  // namespace ironroot::evidence::eventlog
