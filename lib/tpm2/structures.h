// ironroot tpm2: TPM 2.0 attestation structures as plain values, unmarshalled with tpm2-tss's MU
// library from untrusted bytes. NOTHING HERE IS VERIFIED: parse_attest() does not check the
// signature over what it reads (use verify_quote() in quote.h for that); these readers exist for
// inspection tools and for the verifier's own use after the signature check.
//
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::Attest a, tpm2::parse_attest(msg_bytes));  // unverified!
//   for (const auto& sel : a.pcr_selection) print(hash_alg_name(sel.bank), sel.pcrs());
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::Signature s, tpm2::parse_signature(sig_bytes));
//
// Thread safety: pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::tpm2 {

// TPM_ST values of TPMS_ATTEST.type (TPM 2.0 Part 2, TPM_ST).
namespace st {
inline constexpr uint16_t kAttestNv = 0x8014;
inline constexpr uint16_t kAttestCommandAudit = 0x8015;
inline constexpr uint16_t kAttestSessionAudit = 0x8016;
inline constexpr uint16_t kAttestCertify = 0x8017;
inline constexpr uint16_t kAttestQuote = 0x8018;
inline constexpr uint16_t kAttestTime = 0x8019;
inline constexpr uint16_t kAttestCreation = 0x801A;
inline constexpr uint16_t kAttestNvDigest = 0x801C;
}  // namespace st

// TPM_GENERATED_VALUE: the magic a TPM puts first in everything it signs (Part 2, TPM_GENERATED).
inline constexpr uint32_t kTpmGeneratedValue = 0xff544347;

// One bank of a TPML_PCR_SELECTION: PCR i is selected when bit i of `mask` is set.
struct PcrSelection {
  crypto::HashAlg bank = crypto::HashAlg::kSha256;
  uint32_t mask = 0;

  // The selected PCR indices, ascending (the order their values are hashed in a quote).
  std::vector<uint32_t> pcrs() const;
  size_t count() const;
  bool operator==(const PcrSelection&) const = default;
};

// TPMS_CLOCK_INFO (TPM 2.0 Part 2).
struct ClockInfo {
  uint64_t clock = 0;          // milliseconds the TPM has been powered (since TPM2_Clear)
  uint32_t reset_count = 0;    // TPM Resets (reboots) since TPM2_Clear
  uint32_t restart_count = 0;  // TPM Restarts / Resumes since the last reset
  bool safe = false;           // no greater Clock value has been reported before
};

// A TPMS_ATTEST (TPM 2.0 Part 2), UNVERIFIED.
struct Attest {
  uint32_t magic = 0;                     // parse_attest() requires kTpmGeneratedValue
  uint16_t type = 0;                      // st::k*
  std::vector<uint8_t> qualified_signer;  // TPM2B_NAME contents
  std::vector<uint8_t> extra_data;        // TPM2B_DATA contents (the caller's nonce)
  ClockInfo clock_info;
  uint64_t firmware_version = 0;
  // type == st::kAttestQuote only (TPMS_QUOTE_INFO): banks in the order the TPM hashed them.
  std::vector<PcrSelection> pcr_selection;
  std::vector<uint8_t> pcr_digest;
};

// Reads a TPMS_ATTEST, or a TPM2B_ATTEST around one (tpm2-tools' `-m` output is the bare
// TPMS_ATTEST). OK: magic is TPM_GENERATED_VALUE, the structure fills the input exactly, and a
// quote's PCR banks are hashes ironroot knows (kUnsupported otherwise). Verifies nothing.
Result<Attest> parse_attest(Bytes tpms_or_tpm2b_attest);

// A TPMT_SIGNATURE (TPM 2.0 Part 2) made with RSASSA, RSAPSS or ECDSA, UNVERIFIED.
struct Signature {
  uint16_t sig_alg = 0;  // alg::kRsassa, alg::kRsapss or alg::kEcdsa
  crypto::HashAlg hash = crypto::HashAlg::kSha256;
  std::vector<uint8_t> rsa;    // RSA signature (modulus-sized, big-endian)
  std::vector<uint8_t> ecc_r;  // ECDSA r and s (big-endian)
  std::vector<uint8_t> ecc_s;
};

// Reads a marshalled TPMT_SIGNATURE (tpm2-tools' default `-s` output format "tss"). kUnsupported
// for the other schemes (ECDAA, SM2, ECSCHNORR, HMAC, NULL); kMalformed for bad structures.
Result<Signature> parse_signature(Bytes tpmt_signature);

}  // namespace ironroot::tpm2
