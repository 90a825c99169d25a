// ironroot policy: measured-boot policy on the events of a firmware event log, not only on
// whole PCRs.
//
// A policy is built from one or more golden logs (create_measured_boot_policy) and says, in
// one bank (sha256 unless the logs lack it):
//   firmware_versions  the approved PCR 0 event sequences (S-CRTM version, firmware volumes,
//                      microcode...): a host must match one of them, event for event. A host
//                      updated to an approved version stays trusted; any other does not.
//   allowed_digests    per boot stage, the digests an event of that stage may carry:
//                      platform_config (PCR 1), option_roms (PCR 2), option_rom_config (PCR 3),
//                      boot_applications (PCR 4 images: shim, boot loaders, UKIs),
//                      boot_config (PCR 5), boot_commands (PCR 8 grub commands), kernels and
//                      initrds (PCR 9 files by name), boot_files (other PCR 9 files). A stage
//                      left out of the policy is not checked.
//   secure_boot        required on or not; the allowed PK / KEK / db entries (SHA-256 of each
//                      EFI_SIGNATURE_DATA, the certificate DER or hash) and the dbx entries that
//                      must be present.
//   kernel_cmdline     RE2 expressions: one of `allowed` must match the whole command line,
//                      every `required` must match somewhere, no `forbidden` may.
//   golden_pcrs        optional named PCR sets ("PCRs 0-7 as on golden host X"); when present
//                      the replayed PCRs must equal one set, PCR 0 also accepting any approved
//                      firmware version's value.
// Every event's digest must also cover its payload where the payload is what was measured
// (an edited payload is a failure: rules that read payloads would otherwise be fooled).
//
//   IRONROOT_ASSIGN_OR_RETURN(MeasuredBootPolicy p, create_measured_boot_policy({log1, log2}));
//   nlohmann::json doc = p.to_json();
//   MeasuredBootResult r = check_measured_boot(p, host_log);   // r.failures name the events
//
// Thread safety: a policy is a value; checking reads it only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace re2 {
class RE2;
}

namespace ironroot::policy {

struct FirmwareVersion {
  std::string name;                 // the S-CRTM version text, or "golden log N"
  std::vector<std::string> events;  // PCR 0 event digests (hex), in order
  std::string pcr0;                 // the PCR 0 value they produce (hex)
};

struct GoldenPcrs {
  std::string name;
  std::map<uint32_t, std::string> pcrs;  // PCR -> hex
};

struct SecureBootRule {
  bool required = true;
  // Present members are enforced; nullopt: not checked.
  std::optional<std::set<std::string>> pk, kek, db;  // allowed entries (sha256 hex)
  std::set<std::string> dbx_required;                // entries that must be in dbx
};

struct CmdlineRule {
  std::vector<std::string> allowed;    // one must match the whole command line (if any)
  std::vector<std::string> required;   // each must match somewhere
  std::vector<std::string> forbidden;  // none may match
};

struct MeasuredBootPolicy {
  crypto::HashAlg bank = crypto::HashAlg::kSha256;
  std::vector<FirmwareVersion> firmware_versions;  // empty: PCR 0 not checked per event
  std::map<std::string, std::set<std::string>> allowed_digests;  // stage -> hex digests
  std::optional<SecureBootRule> secure_boot;
  std::optional<CmdlineRule> kernel_cmdline;
  std::vector<GoldenPcrs> golden_pcrs;

  nlohmann::json to_json() const;
  // Refuses unknown stages, bad hex, wrong types and invalid regular expressions, naming the
  // member.
  static Result<MeasuredBootPolicy> from_json(const nlohmann::json& j);
};

// The stage names allowed_digests may use.
const std::vector<std::string>& measured_boot_stages();

struct CreateOptions {
  std::optional<crypto::HashAlg> bank;  // default: sha256 when every log has it
  std::vector<uint32_t> golden_pcrs;    // e.g. 0..7: also pin these PCRs per golden log
  bool require_secure_boot = true;      // when the golden logs have it on
};

// Builds a policy from golden logs: the union of their stage digests, each log's firmware
// version, their Secure Boot keys, their kernel command lines (as exact allowed matches).
Result<MeasuredBootPolicy> create_measured_boot_policy(const std::vector<Bytes>& logs,
                                                       const CreateOptions& options = {});

struct EventFailure {
  int64_t event = -1;  // record number in the log (0 = first record); -1: not one event
  uint64_t offset = 0;
  uint32_t pcr = 0;
  std::string type;    // "EV_EFI_BOOT_SERVICES_APPLICATION"
  std::string stage;   // "boot_applications", "secure_boot", ...
  std::string digest;  // hex, in the policy's bank
  std::string reason;

  nlohmann::json to_json() const;
};

struct MeasuredBootResult {
  uint32_t events = 0;
  std::string firmware_version;  // the approved version matched, if any
  std::vector<EventFailure> failures;
  bool ok() const { return failures.empty(); }
  nlohmann::json to_json() const;
};

// Appraises a log. An Error means the log could not be read at all; everything else is a
// failure in the result.
Result<MeasuredBootResult> check_measured_boot(const MeasuredBootPolicy& policy, Bytes log);

}  // namespace ironroot::policy
