#include "tpm2/structures.h"

#include <bit>
#include <string>

#include "tpm2/internal.h"
#include "tpm2/keys.h"

namespace ironroot::tpm2 {

using internal::hash_alg;
using internal::unmarshal_exact;

std::vector<uint32_t> PcrSelection::pcrs() const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < 32; ++i) {
    if ((mask >> i) & 1u) out.push_back(i);
  }
  return out;
}

size_t PcrSelection::count() const {
  return static_cast<size_t>(std::popcount(mask));
}

namespace {

std::vector<uint8_t> copy(const uint8_t* data, size_t size) {
  return {data, data + size};
}

std::string type_name(uint16_t type) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", type);
  return buf;
}

}  // namespace

Result<Attest> parse_attest(Bytes tpms_or_tpm2b_attest) {
  IRONROOT_ASSIGN_OR_RETURN(Bytes bytes, internal::attest_bytes(tpms_or_tpm2b_attest));
  IRONROOT_ASSIGN_OR_RETURN(
      TPMS_ATTEST a,
      unmarshal_exact<TPMS_ATTEST>(bytes, Tss2_MU_TPMS_ATTEST_Unmarshal, "TPMS_ATTEST"));
  if (a.magic != kTpmGeneratedValue) {
    return malformed("TPMS_ATTEST: magic is " + internal::rc_hex(a.magic) +
                     ", not TPM_GENERATED_VALUE 0xff544347");
  }
  Attest out;
  out.magic = a.magic;
  out.type = a.type;
  out.qualified_signer = copy(a.qualifiedSigner.name, a.qualifiedSigner.size);
  out.extra_data = copy(a.extraData.buffer, a.extraData.size);
  out.clock_info.clock = a.clockInfo.clock;
  out.clock_info.reset_count = a.clockInfo.resetCount;
  out.clock_info.restart_count = a.clockInfo.restartCount;
  out.clock_info.safe = a.clockInfo.safe != 0;
  out.firmware_version = a.firmwareVersion;
  if (a.type == st::kAttestQuote) {
    const TPMS_QUOTE_INFO& q = a.attested.quote;
    for (uint32_t i = 0; i < q.pcrSelect.count; ++i) {
      const TPMS_PCR_SELECTION& s = q.pcrSelect.pcrSelections[i];
      IRONROOT_ASSIGN_OR_RETURN(crypto::HashAlg bank,
                                hash_alg(s.hash, "TPMS_QUOTE_INFO PCR selection"));
      PcrSelection sel;
      sel.bank = bank;
      // tss2-mu refuses sizeofSelect > TPM2_PCR_SELECT_MAX (4): at most 32 PCRs.
      for (uint32_t b = 0; b < s.sizeofSelect; ++b) {
        sel.mask |= static_cast<uint32_t>(s.pcrSelect[b]) << (8 * b);
      }
      out.pcr_selection.push_back(sel);
    }
    out.pcr_digest = copy(q.pcrDigest.buffer, q.pcrDigest.size);
  } else if (a.type < st::kAttestNv || a.type > st::kAttestNvDigest) {
    return malformed("TPMS_ATTEST: type " + type_name(a.type) + " is not a TPM_ST_ATTEST_*");
  }
  return out;
}

Result<Signature> parse_signature(Bytes tpmt_signature) {
  IRONROOT_ASSIGN_OR_RETURN(
      TPMT_SIGNATURE s, unmarshal_exact<TPMT_SIGNATURE>(
                            tpmt_signature, Tss2_MU_TPMT_SIGNATURE_Unmarshal, "TPMT_SIGNATURE"));
  Signature out;
  out.sig_alg = s.sigAlg;
  switch (s.sigAlg) {
    case alg::kRsassa:
    case alg::kRsapss: {
      const TPMS_SIGNATURE_RSA& r =
          s.sigAlg == alg::kRsassa ? s.signature.rsassa : s.signature.rsapss;
      IRONROOT_ASSIGN_OR_RETURN(out.hash, hash_alg(r.hash, "TPMT_SIGNATURE"));
      if (r.sig.size == 0) return malformed("TPMT_SIGNATURE: empty RSA signature");
      out.rsa = copy(r.sig.buffer, r.sig.size);
      return out;
    }
    case alg::kEcdsa: {
      const TPMS_SIGNATURE_ECC& e = s.signature.ecdsa;
      IRONROOT_ASSIGN_OR_RETURN(out.hash, hash_alg(e.hash, "TPMT_SIGNATURE"));
      if (e.signatureR.size == 0 || e.signatureS.size == 0) {
        return malformed("TPMT_SIGNATURE: empty ECDSA r or s");
      }
      out.ecc_r = copy(e.signatureR.buffer, e.signatureR.size);
      out.ecc_s = copy(e.signatureS.buffer, e.signatureS.size);
      return out;
    }
    default:
      return Error(ErrorCode::kUnsupported, "TPMT_SIGNATURE: signature scheme " +
                                                alg_name(s.sigAlg) +
                                                " is not supported (RSASSA, RSAPSS and ECDSA are)");
  }
}

}  // namespace ironroot::tpm2
