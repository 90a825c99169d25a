// ironroot evidence: UEFI structures found in event payloads (UEFI 2.10, TCG PFP 1.05 10.2.6),
// each parsed with every length checked against the bytes present.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::evidence::eventlog {

// UEFI_VARIABLE_DATA: the payload of EV_EFI_VARIABLE_* events.
struct VariableData {
  std::string guid;  // VariableName (the vendor GUID)
  std::string name;  // UnicodeName, as UTF-8
  Bytes data;        // VariableData
};
Result<VariableData> parse_variable_data(Bytes payload, uint64_t base);

// One entry of an EFI_SIGNATURE_LIST.
struct SignatureEntry {
  std::string owner;  // SignatureOwner GUID
  Bytes data;         // the certificate (DER) or hash
  // For X.509 entries, decoded through OpenSSL; empty when not a certificate.
  std::string subject;
  std::string issuer;
  std::string serial;  // hex
  std::string sha256;  // of `data`, hex, for hash-type entries it is the data itself
};
struct SignatureList {
  std::string type;       // SignatureType GUID
  std::string type_name;  // "x509", "sha256", ... or ""
  std::vector<SignatureEntry> entries;
};
// A sequence of EFI_SIGNATURE_LISTs (PK, KEK, db, dbx, MokList ...).
Result<std::vector<SignatureList>> parse_signature_lists(Bytes data, uint64_t base);

// Decodes a DER X.509 certificate's subject, issuer and serial (OpenSSL). False if not X.509.
bool describe_x509(Bytes der, std::string* subject, std::string* issuer, std::string* serial);

// EFI_LOAD_OPTION (Boot####).
struct LoadOption {
  uint32_t attributes = 0;
  std::string description;
  Bytes device_path;
  Bytes optional_data;
};
Result<LoadOption> parse_load_option(Bytes data, uint64_t base);

// UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_*, EV_EFI_RUNTIME_SERVICES_DRIVER).
struct ImageLoadEvent {
  uint64_t location = 0;
  uint64_t length = 0;
  uint64_t link_time_address = 0;
  Bytes device_path;
};
Result<ImageLoadEvent> parse_image_load_event(Bytes data, uint64_t base);

// UEFI_GPT_DATA (EV_EFI_GPT_EVENT).
struct GptPartition {
  std::string type_guid;
  std::string unique_guid;
  uint64_t first_lba = 0;
  uint64_t last_lba = 0;
  uint64_t attributes = 0;
  std::string name;
};
struct GptData {
  std::string disk_guid;
  uint64_t header_size = 0;
  uint64_t number_of_partitions = 0;
  std::vector<GptPartition> partitions;
};
Result<GptData> parse_gpt_data(Bytes data, uint64_t base);

// A UEFI device path as text ("PciRoot(0x0)/Pci(0x1,0x1)/...") through libefivar, after checking
// that every node lies inside `path`. Fails with the offset of the first bad node.
Result<std::string> device_path_to_text(Bytes path, uint64_t base);

// Text for a UEFI string payload that may be UTF-16LE or ASCII/UTF-8 (boot loaders use both).
// Sets *utf16 when it was decoded as UTF-16. Invalid text is escaped, never dropped.
std::string payload_text(Bytes data, bool* utf16 = nullptr);

}  // namespace ironroot::evidence::eventlog
