// ironroot tpm2: TPM2_Quote verification (TPM 2.0 Part 3, TPM2_Quote). verify_quote() checks that
// an attestation key signed a quote and returns what the quote says; the caller then checks the
// nonce (extraData), the counters against the previous quote, and that the PCR values it replayed
// from the event logs hash to the quoted pcrDigest (pcr_digest_matches).
//
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::QuoteInfo q, tpm2::verify_quote(ak_pub, msg, sig));
//   if (q.extra_data != expected_nonce) return appraisal_failure("stale quote");
//   std::vector<crypto::Digest> values = replayed_values_in(q.pcr_selection);
//   if (!tpm2::pcr_digest_matches(q, values)) return appraisal_failure("PCRs differ");
//
// Inputs are what tpm2-tools writes: `tpm2_createak -u` (TPM2B_PUBLIC), `tpm2_quote -m`
// (TPMS_ATTEST; a TPM2B_ATTEST is accepted too), `tpm2_quote -s` (TPMT_SIGNATURE, format "tss").
//
// Thread safety: pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"
#include "tpm2/structures.h"

namespace ironroot::tpm2 {

struct QuoteInfo {
  std::vector<uint8_t> qualified_signer;    // the AK's qualified name (TPM2B_NAME contents)
  std::vector<uint8_t> extra_data;          // the nonce the verifier sent (qualifyingData)
  ClockInfo clock_info;                     // clock, resetCount, restartCount, safe
  uint64_t firmware_version = 0;            // TPM vendor firmware version
  std::vector<PcrSelection> pcr_selection;  // banks in the order the TPM hashed them
  crypto::Digest pcr_digest;      // H_sig(selected PCR values); alg = the signature's hash
  uint16_t signature_scheme = 0;  // alg::kRsassa, alg::kRsapss or alg::kEcdsa
};

// Verifies a quote. OK means: the AK is a restricted signing key (only those sign nothing but
// TPM-generated data); the attest structure is a TPMS_ATTEST (or TPM2B_ATTEST) with magic
// TPM_GENERATED_VALUE and type TPM_ST_ATTEST_QUOTE; the signature is RSASSA, RSAPSS or ECDSA as
// the AK's scheme allows, and verifies over H_sig(TPMS_ATTEST bytes) with the AK's public key;
// pcrDigest has the size of the signature's hash. An Error means the evidence cannot be trusted:
// kMalformed "quote signature does not verify ..." for a bad signature, kMalformed / kUnsupported
// / kInvalidArgument for unreadable or unusable structures.
Result<QuoteInfo> verify_quote(Bytes ak_tpm2b_public, Bytes tpm2b_attest, Bytes tpmt_signature);

// The pcrDigest a TPM computes for a quote (Part 3, TPM2_Quote): H_digest_alg(v1 || v2 || ...),
// the PCR values taken bank by bank in selection order, ascending PCR index within a bank. The
// digest algorithm is the quote signature's hash (QuoteInfo::pcr_digest.alg), not the banks'.
crypto::Digest pcr_composite_digest(
    crypto::HashAlg digest_alg, const std::vector<crypto::Digest>& pcr_values_in_selection_order);

// True when `values` (in selection order, each of its bank's algorithm, one per selected PCR)
// hash to the quote's pcrDigest; compared in constant time. False on any count or alg mismatch.
bool pcr_digest_matches(const QuoteInfo& quote, const std::vector<crypto::Digest>& values);

// PCR values as tpm2-tools writes them with `tpm2_quote -o` / `tpm2_pcrread -F serialized -o`:
// the selection and its values, in selection order.
struct PcrValues {
  std::vector<PcrSelection> selection;
  std::vector<crypto::Digest> values;
};
// Reads tpm2-tools' "serialized" PCR file (tpm2-tools lib/pcr.c pcr_fwrite_serialized): a
// little-endian dump of the C structs TPML_PCR_SELECTION (132 bytes), UINT32 count, then `count`
// TPML_DIGEST (532 bytes each). OK: the digests fill the selection exactly, each of its bank's
// size.
Result<PcrValues> parse_tpm2_tools_pcrs(Bytes serialized);

}  // namespace ironroot::tpm2
