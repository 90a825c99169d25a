// ironroot tpmdev: the agent's access to its TPM 2.0 (a real one, or swtpm), through tpm2-tss
// ESAPI and the TCTI loader.
//
// It does the few things an attester needs: start the TPM, read the EK certificate, recreate the
// EK and the attestation key (AK), activate the credential the verifier sends at enrolment, quote
// PCRs for a nonce, read and extend PCRs. Both keys are primaries created from fixed templates, so
// the same TPM always yields the same EK and AK and the agent stores no key blobs.
//
// TPM structures cross this interface as byte vectors in TPM wire format (TCG TPM 2.0 Part 2,
// marshalled with tss2-mu), so callers need no tss2 headers; lib/tpm2 parses and verifies them on
// the verifier side.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto tpm, tpmdev::Tpm::open("swtpm:host=127.0.0.1,port=2321"));
//   IRONROOT_RETURN_IF_ERROR(tpm->startup());
//   IRONROOT_ASSIGN_OR_RETURN(auto ek_cert, tpm->ek_certificate());   // DER
//   IRONROOT_ASSIGN_OR_RETURN(auto ak_pub, tpm->ak_public());         // TPM2B_PUBLIC
//   ... enrolment: the verifier answers with a credential blob for ak_name() under the EK ...
//   IRONROOT_ASSIGN_OR_RETURN(auto secret, tpm->activate_credential(id_object, enc_secret));
//   IRONROOT_ASSIGN_OR_RETURN(auto q, tpm->quote(nonce, crypto::HashAlg::kSha256, 0x00ffffff));
//
// Authorisation: the endorsement hierarchy is used with an empty password (the default of a
// TPM nobody has taken ownership of, and of swtpm). Errors: every tss2 failure becomes an Error
// naming the TPM command and the decoded return code ("TPM2_ActivateCredential: 0x000001df
// (tpm:parameter(1):integrity check failed)"), with ErrorCode::kIo when the TCTI could not
// reach the TPM and kInternal otherwise; malformed input blobs are kMalformed.
//
// Thread safety: a Tpm is not thread-safe; use one object per thread or serialise calls. Once
// used, the EK and AK stay loaded while the object lives (two of the TPM's few transient-object
// slots, three on swtpm) unless a resource manager (/dev/tpmrm0) virtualises them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::tpmdev {

// TCG EK Credential Profile 2.0, 2.2.1.4 / 2.2.1.5: NV indices of the EK certificates (low
// range RSA 2048 and ECC P-256; swtpm 0.7 writes its ECC EK certificate for P-384, high range).
inline constexpr uint32_t kEkCertNvIndexRsa2048 = 0x01c00002;
inline constexpr uint32_t kEkCertNvIndexEccP256 = 0x01c0000a;
inline constexpr uint32_t kEkCertNvIndexEccP384 = 0x01c00016;

// The largest qualifyingData a TPM accepts in a quote: sizeof(TPMU_HA) (TCG TPM 2.0 Part 2,
// 10.4.3, TPM2B_DATA).
inline constexpr size_t kMaxNonceSize = 64;

class Tpm {
 public:
  // Opens a TPM through the TCTI loader: "device:/dev/tpmrm0" (the default), "swtpm:host=
  // 127.0.0.1,port=2321", "mssim:host=...,port=...". An empty string lets tss2 pick its default.
  static Result<std::unique_ptr<Tpm>> open(const std::string& tcti = "device:/dev/tpmrm0");

  // Flushes the keys this object created, then finalises the ESAPI and TCTI contexts.
  virtual ~Tpm() = default;

  // TPM2_Startup(CLEAR). OK also when the TPM was already started (TPM_RC_INITIALIZE), which is
  // the normal case under an operating system.
  virtual Status startup() = 0;

  // The EK certificate (DER) from NV index `nv_index` (by default the RSA 2048 one, which
  // certifies ek_public()). Error kNotFound when the index is not defined.
  virtual Result<std::vector<uint8_t>> ek_certificate(
      uint32_t nv_index = kEkCertNvIndexRsa2048) = 0;

  // The RSA 2048 EK from the TCG EK Credential Profile 2.0 default template (B.3.3 template L-1:
  // low range, decrypt|restricted, AES-128-CFB, policy A = PolicySecret(TPM_RH_ENDORSEMENT)),
  // as a marshalled TPM2B_PUBLIC. Its public key is the one in the EK certificate.
  virtual Result<std::vector<uint8_t>> ek_public() = 0;

  // The attestation key: a restricted ECDSA P-256 / SHA-256 signing key (fixedTPM|fixedParent|
  // sensitiveDataOrigin|userWithAuth|restricted|sign, empty auth, no policy) created as a primary
  // in the endorsement hierarchy from a fixed template, hence the same key on every call for the
  // same TPM (until its endorsement seed changes). A marshalled TPM2B_PUBLIC.
  virtual Result<std::vector<uint8_t>> ak_public() = 0;

  // The AK's TPM name: nameAlg (0x000b, big-endian) || SHA-256(marshalled TPMT_PUBLIC); the name
  // the verifier binds the credential to in TPM2_MakeCredential.
  virtual Result<std::vector<uint8_t>> ak_name() = 0;

  // TPM2_ActivateCredential with the AK as activateHandle and the EK as keyHandle (authorised by
  // a policy session with PolicySecret(TPM_RH_ENDORSEMENT)). Inputs are a marshalled
  // TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET as TPM2_MakeCredential produced them; returns the
  // credential (the TPM2B_DIGEST's buffer). Fails when the blob was not made for this EK and AK
  // or was altered.
  virtual Result<std::vector<uint8_t>> activate_credential(Bytes id_object,
                                                           Bytes encrypted_secret) = 0;

  struct Quote {
    std::vector<uint8_t> attest;     // marshalled TPM2B_ATTEST (TPMS_ATTEST, type QUOTE)
    std::vector<uint8_t> signature;  // marshalled TPMT_SIGNATURE (ECDSA, SHA-256)
  };
  // TPM2_Quote by the AK over the PCRs in `pcr_mask` (bit i = PCR i) of `bank`, with `nonce` as
  // qualifyingData (at most kMaxNonceSize bytes, else kInvalidArgument).
  virtual Result<Quote> quote(Bytes nonce, crypto::HashAlg bank, uint32_t pcr_mask) = 0;

  // TPM2_PCR_Read of the PCRs in `pcr_mask` of `bank`, in ascending PCR order (one digest per set
  // bit; the TPM returns at most 8 per command, so this loops). Error kNotFound when the bank is
  // not allocated or a PCR does not exist.
  virtual Result<std::vector<crypto::Digest>> pcr_read(crypto::HashAlg bank, uint32_t pcr_mask) = 0;

  // TPM2_PCR_Extend of PCR `pcr` with one digest per bank (a TPML_DIGEST_VALUES), as firmware does
  // for one event. Banks that are not allocated are ignored by the TPM.
  virtual Status pcr_extend(uint32_t pcr, const std::vector<crypto::Digest>& digests) = 0;

  // The allocated PCR banks (TPM2_GetCapability(TPM_CAP_PCRS): a bank with at least one PCR),
  // in the TPM's order; banks whose algorithm ironroot does not know are left out.
  virtual Result<std::vector<crypto::HashAlg>> active_banks() = 0;

 protected:
  Tpm() = default;
  Tpm(const Tpm&) = delete;
  Tpm& operator=(const Tpm&) = delete;
};

}  // namespace ironroot::tpmdev
