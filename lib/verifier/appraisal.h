// ironroot verifier: appraisal of one attestation, as a pure function.
//
// Given what the verifier knows about a host (its AK, the TPM clock it last saw, the IMA entries
// it already appraised), the challenge it issued and the evidence the agent sent, decide whether
// the host may be trusted, and say why not in words an operator can act on (which PCR, which
// event). A failed appraisal is a Verdict with reasons, not an Error.
//
//   Verdict v = appraise(host, challenge, evidence, references);
//   if (!v.trusted) for (auto& r : v.reasons) log(r);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "crypto/digest.h"
#include "store/store.h"

namespace ironroot::verifier {

struct Challenge {
  std::vector<uint8_t> nonce;
  crypto::HashAlg bank = crypto::HashAlg::kSha256;
  uint32_t pcr_mask = 0;
  uint64_t ima_offset = 0;  // entries the verifier already has; the agent sends the rest
};

struct Evidence {
  std::vector<uint8_t> quote_attest;              // TPM2B_ATTEST
  std::vector<uint8_t> quote_signature;           // TPMT_SIGNATURE
  std::map<uint32_t, std::vector<uint8_t>> pcrs;  // the PCR values the quote covers
  std::vector<uint8_t> event_log;                 // binary_bios_measurements, whole
  std::string ima_entries;                        // ascii list lines from ima_offset on
  uint64_t ima_offset = 0;
};

// Approved PCR values: for each PCR, the values it may have (any of them).
struct References {
  std::string name;  // shown in reasons
  crypto::HashAlg bank = crypto::HashAlg::kSha256;
  std::map<uint32_t, std::vector<std::string>> allowed;  // lowercase hex

  // {"name": ..., "bank": "sha256", "pcrs": {"0": ["<hex>", ...], ...}}
  static Result<References> from_json(const std::string& json);
  std::string to_json() const;
};

struct Verdict {
  bool trusted = false;
  bool evidence_valid = false;  // signature, nonce and selection checked out
  std::vector<std::string> reasons;
  bool rebooted = false;  // reset or restart count moved: the host booted again
  // New state to keep when the evidence was valid.
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  std::map<uint32_t, std::string> pcrs_hex;
  uint64_t ima_entries = 0;
  std::string ima_pcr10_hex;
};

// `host.ima_entries` / `host.ima_pcr10_json` carry the incremental IMA state;
// `references` may be null (no approved values yet: the host cannot be trusted).
Verdict appraise(const store::HostRecord& host, const Challenge& challenge,
                 const Evidence& evidence, const References* references);

}  // namespace ironroot::verifier
