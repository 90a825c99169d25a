// tpmdev: Tpm over tpm2-tss ESAPI. Every Esys_* call goes through check() so that a failure names
// the TPM command and the decoded return code.
#include "tpmdev/tpm.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "crypto/digest.h"

namespace ironroot::tpmdev {
namespace {

using crypto::Digest;
using crypto::HashAlg;

// TCG EK Credential Profile 2.0, B.6.2 (Policy A): PolicySecret(TPM_RH_ENDORSEMENT) under SHA-256.
constexpr std::array<uint8_t, 32> kEkPolicyA = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

// How many times pcr_read starts over when an extend lands between its TPM2_PCR_Read commands.
constexpr int kPcrReadAttempts = 4;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

Error tss_error(std::string_view command, TSS2_RC rc) {
  const char* decoded = Tss2_RC_Decode(rc);
  ErrorCode code =
      (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER ? ErrorCode::kIo : ErrorCode::kInternal;
  return Error(code, std::string(command) + ": " + hex32(rc) + " (" +
                         (decoded != nullptr ? decoded : "unknown") + ")");
}

Status check(std::string_view command, TSS2_RC rc) {
  if (rc != TSS2_RC_SUCCESS) return tss_error(command, rc);
  return {};
}

// Owns memory that ESAPI returned (Esys_Free).
struct EsysFree {
  void operator()(void* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// Marshals `value` with the tss2-mu function for its type.
template <typename T>
Result<std::vector<uint8_t>> marshal(const T& value,
                                     TSS2_RC (*fn)(const T*, uint8_t*, size_t, size_t*),
                                     std::string_view what) {
  // The wire form of a TPM structure is never larger than its C struct (which reserves room for
  // the largest union member and full-size buffers).
  std::vector<uint8_t> out(sizeof(T) + 16);
  size_t offset = 0;
  TSS2_RC rc = fn(&value, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return tss_error(std::string("marshal ") + std::string(what), rc);
  out.resize(offset);
  return out;
}

// Unmarshals exactly `bytes` into a T.
template <typename T>
Result<T> unmarshal(Bytes bytes, TSS2_RC (*fn)(const uint8_t*, size_t, size_t*, T*),
                    std::string_view what) {
  T value{};
  size_t offset = 0;
  TSS2_RC rc = fn(bytes.data(), bytes.size(), &offset, &value);
  if (rc != TSS2_RC_SUCCESS) {
    return Error(ErrorCode::kMalformed,
                 std::string(what) + ": " + hex32(rc) + " (" + Tss2_RC_Decode(rc) + ")");
  }
  if (offset != bytes.size()) {
    return malformed(std::string(what) + ": " + std::to_string(bytes.size() - offset) +
                     " trailing bytes");
  }
  return value;
}

TPML_PCR_SELECTION pcr_selection(HashAlg bank, uint32_t mask) {
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = static_cast<TPMI_ALG_HASH>(bank);
  // PC Client TPMs have 24 PCRs: select 3 bytes unless the caller asks for more.
  sel.pcrSelections[0].sizeofSelect = mask > 0xffffff ? 4 : 3;
  for (unsigned i = 0; i < 4; ++i) {
    sel.pcrSelections[0].pcrSelect[i] = static_cast<uint8_t>(mask >> (8 * i));
  }
  return sel;
}

// The PCRs selected for `bank` in `sel`, as a mask.
uint32_t selected_mask(const TPML_PCR_SELECTION& sel, HashAlg bank) {
  uint32_t mask = 0;
  for (uint32_t i = 0; i < sel.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    const TPMS_PCR_SELECTION& s = sel.pcrSelections[i];
    if (s.hash != static_cast<TPMI_ALG_HASH>(bank)) continue;
    for (unsigned b = 0; b < s.sizeofSelect && b < 4; ++b) {
      mask |= static_cast<uint32_t>(s.pcrSelect[b]) << (8 * b);
    }
  }
  return mask;
}

std::string bank_name(HashAlg bank) {
  return std::string(crypto::hash_alg_name(bank));
}

// The length of a DER SEQUENCE at the start of `der` (header included), if it has one.
std::optional<size_t> der_sequence_length(const std::vector<uint8_t>& der) {
  if (der.size() < 2 || der[0] != 0x30) return std::nullopt;
  if (der[1] < 0x80) return size_t{2} + der[1];
  size_t n = der[1] & 0x7f;
  if (n == 0 || n > 3 || der.size() < 2 + n) return std::nullopt;
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) len = (len << 8) | der[2 + i];
  return 2 + n + len;
}

// TCG EK Credential Profile 2.0, B.3.3 Template L-1 (RSA 2048, low range).
TPM2B_PUBLIC ek_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = kEkPolicyA.size();
  std::memcpy(p.authPolicy.buffer, kEkPolicyA.data(), kEkPolicyA.size());
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  p.unique.rsa.size = 256;  // 256 zero bytes
  return t;
}

// The AK: a restricted ECDSA P-256 signing key with SHA-256, empty auth, no policy, and noDA:
// an empty authorisation gains nothing from dictionary-attack protection, while a host that
// lost power (an unorderly shutdown) would otherwise find its quotes refused in lockout mode.
TPM2B_PUBLIC ak_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                       TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// A primary key created by this object, flushed when the object goes away.
struct Primary {
  ESYS_TR handle = ESYS_TR_NONE;
  std::vector<uint8_t> public_area;  // marshalled TPM2B_PUBLIC
};

class EsysTpm final : public Tpm {
 public:
  EsysTpm(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* ctx) : tcti_(tcti), ctx_(ctx) {}

  ~EsysTpm() override {
    for (Primary* key : {&ek_, &ak_}) {
      if (key->handle != ESYS_TR_NONE) (void)Esys_FlushContext(ctx_, key->handle);
    }
    Esys_Finalize(&ctx_);
    Tss2_TctiLdr_Finalize(&tcti_);
  }

  Status startup() override {
    TSS2_RC rc = Esys_Startup(ctx_, TPM2_SU_CLEAR);
    if (rc == TPM2_RC_INITIALIZE) return {};  // already started
    return check("TPM2_Startup", rc);
  }

  Result<std::vector<uint8_t>> ek_certificate(uint32_t nv_index) override {
    std::string where = "EK certificate at NV index " + hex32(nv_index);
    // TPM2_GetCapability(TPM_CAP_HANDLES) from the index: is it defined?
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* raw_caps = nullptr;
    IRONROOT_RETURN_IF_ERROR(
        check("TPM2_GetCapability(handles)",
              Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                 nv_index, 1, &more, &raw_caps)));
    EsysPtr<TPMS_CAPABILITY_DATA> caps(raw_caps);
    const TPML_HANDLE& handles = caps->data.handles;
    if (handles.count == 0 || handles.handle[0] != nv_index) {
      return Error(ErrorCode::kNotFound, where + ": index not defined");
    }

    ESYS_TR index = ESYS_TR_NONE;
    IRONROOT_RETURN_IF_ERROR(check(
        "Esys_TR_FromTPMPublic",
        Esys_TR_FromTPMPublic(ctx_, nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &index)));
    struct CloseTr {
      ESYS_CONTEXT* ctx;
      ESYS_TR* tr;
      ~CloseTr() { (void)Esys_TR_Close(ctx, tr); }
    } close_index{ctx_, &index};

    TPM2B_NV_PUBLIC* raw_nv_public = nullptr;
    TPM2B_NAME* raw_nv_name = nullptr;
    IRONROOT_RETURN_IF_ERROR(check("TPM2_NV_ReadPublic",
                                   Esys_NV_ReadPublic(ctx_, index, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      ESYS_TR_NONE, &raw_nv_public, &raw_nv_name)));
    EsysPtr<TPM2B_NV_PUBLIC> nv_public(raw_nv_public);
    EsysPtr<TPM2B_NAME> nv_name(raw_nv_name);
    const TPMA_NV attributes = nv_public->nvPublic.attributes;
    const uint16_t size = nv_public->nvPublic.dataSize;

    // EK certificate indices are readable with their own (empty) auth or the owner's.
    ESYS_TR auth = ESYS_TR_NONE;
    if ((attributes & TPMA_NV_AUTHREAD) != 0) {
      auth = index;
    } else if ((attributes & TPMA_NV_OWNERREAD) != 0) {
      auth = ESYS_TR_RH_OWNER;
    } else {
      return Error(ErrorCode::kUnsupported, where + ": neither AUTHREAD nor OWNERREAD");
    }

    IRONROOT_ASSIGN_OR_RETURN(uint32_t chunk, nv_buffer_max());
    std::vector<uint8_t> cert;
    cert.reserve(size);
    while (cert.size() < size) {
      auto n = static_cast<uint16_t>(std::min<size_t>(chunk, size - cert.size()));
      TPM2B_MAX_NV_BUFFER* raw_data = nullptr;
      IRONROOT_RETURN_IF_ERROR(
          check("TPM2_NV_Read",
                Esys_NV_Read(ctx_, auth, index, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                             static_cast<uint16_t>(cert.size()), &raw_data)));
      EsysPtr<TPM2B_MAX_NV_BUFFER> data(raw_data);
      if (data->size == 0 || data->size > n) {
        return Error(ErrorCode::kInternal, where + ": TPM2_NV_Read returned " +
                                               std::to_string(data->size) + " bytes for " +
                                               std::to_string(n));
      }
      cert.insert(cert.end(), data->buffer, data->buffer + data->size);
    }
    // Some TPMs pad the index after the certificate; keep the DER SEQUENCE only.
    if (auto len = der_sequence_length(cert); len && *len < cert.size()) cert.resize(*len);
    return cert;
  }

  Result<std::vector<uint8_t>> ek_public() override {
    IRONROOT_RETURN_IF_ERROR(ensure_primary(ek_, ek_template(), "TPM2_CreatePrimary(EK)"));
    return ek_.public_area;
  }

  Result<std::vector<uint8_t>> ak_public() override {
    IRONROOT_RETURN_IF_ERROR(ensure_primary(ak_, ak_template(), "TPM2_CreatePrimary(AK)"));
    return ak_.public_area;
  }

  Result<std::vector<uint8_t>> ak_name() override {
    IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> pub, ak_public());
    // TCG TPM 2.0 Part 1, 16: Name = nameAlg || H_nameAlg(TPMT_PUBLIC); the TPM2B size is not
    // hashed.
    Digest d = crypto::hash(HashAlg::kSha256, Bytes(pub).subspan(2));
    std::vector<uint8_t> name = {static_cast<uint8_t>(TPM2_ALG_SHA256 >> 8),
                                 static_cast<uint8_t>(TPM2_ALG_SHA256 & 0xff)};
    name.insert(name.end(), d.view().begin(), d.view().end());
    return name;
  }

  Result<std::vector<uint8_t>> activate_credential(Bytes id_object,
                                                   Bytes encrypted_secret) override {
    IRONROOT_ASSIGN_OR_RETURN(TPM2B_ID_OBJECT blob,
                              unmarshal<TPM2B_ID_OBJECT>(
                                  id_object, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal, "TPM2B_ID_OBJECT"));
    IRONROOT_ASSIGN_OR_RETURN(
        TPM2B_ENCRYPTED_SECRET secret,
        unmarshal<TPM2B_ENCRYPTED_SECRET>(
            encrypted_secret, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal, "TPM2B_ENCRYPTED_SECRET"));
    IRONROOT_RETURN_IF_ERROR(ensure_primary(ek_, ek_template(), "TPM2_CreatePrimary(EK)"));
    IRONROOT_RETURN_IF_ERROR(ensure_primary(ak_, ak_template(), "TPM2_CreatePrimary(AK)"));

    // The EK's policy A: a policy session satisfied by PolicySecret(TPM_RH_ENDORSEMENT).
    ESYS_TR session = ESYS_TR_NONE;
    TPMT_SYM_DEF symmetric{};
    symmetric.algorithm = TPM2_ALG_NULL;
    IRONROOT_RETURN_IF_ERROR(
        check("TPM2_StartAuthSession(policy)",
              Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &symmetric,
                                    TPM2_ALG_SHA256, &session)));
    // ESAPI starts sessions with continueSession set: flush it whatever happens.
    struct FlushSession {
      ESYS_CONTEXT* ctx;
      ESYS_TR handle;
      ~FlushSession() { (void)Esys_FlushContext(ctx, handle); }
    } flush{ctx_, session};

    TPM2B_NONCE nonce_tpm{};
    TPM2B_DIGEST cp_hash{};
    TPM2B_NONCE policy_ref{};
    TPM2B_TIMEOUT* raw_timeout = nullptr;
    TPMT_TK_AUTH* raw_ticket = nullptr;
    IRONROOT_RETURN_IF_ERROR(
        check("TPM2_PolicySecret(TPM_RH_ENDORSEMENT)",
              Esys_PolicySecret(ctx_, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD,
                                ESYS_TR_NONE, ESYS_TR_NONE, &nonce_tpm, &cp_hash, &policy_ref, 0,
                                &raw_timeout, &raw_ticket)));
    EsysPtr<TPM2B_TIMEOUT> timeout(raw_timeout);
    EsysPtr<TPMT_TK_AUTH> ticket(raw_ticket);

    TPM2B_DIGEST* raw_cert_info = nullptr;
    IRONROOT_RETURN_IF_ERROR(
        check("TPM2_ActivateCredential",
              Esys_ActivateCredential(ctx_, ak_.handle, ek_.handle, ESYS_TR_PASSWORD, session,
                                      ESYS_TR_NONE, &blob, &secret, &raw_cert_info)));
    EsysPtr<TPM2B_DIGEST> cert_info(raw_cert_info);
    return std::vector<uint8_t>(cert_info->buffer, cert_info->buffer + cert_info->size);
  }

  Result<Quote> quote(Bytes nonce, HashAlg bank, uint32_t pcr_mask) override {
    if (nonce.size() > kMaxNonceSize) {
      return invalid_argument("quote: nonce of " + std::to_string(nonce.size()) +
                              " bytes, the TPM takes at most " + std::to_string(kMaxNonceSize));
    }
    IRONROOT_RETURN_IF_ERROR(ensure_primary(ak_, ak_template(), "TPM2_CreatePrimary(AK)"));
    TPM2B_DATA qualifying{};
    qualifying.size = static_cast<uint16_t>(nonce.size());
    if (!nonce.empty()) std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme: ECDSA with SHA-256
    TPML_PCR_SELECTION selection = pcr_selection(bank, pcr_mask);

    TPM2B_ATTEST* raw_attest = nullptr;
    TPMT_SIGNATURE* raw_signature = nullptr;
    IRONROOT_RETURN_IF_ERROR(check(
        "TPM2_Quote", Esys_Quote(ctx_, ak_.handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &qualifying, &scheme, &selection, &raw_attest, &raw_signature)));
    EsysPtr<TPM2B_ATTEST> attest(raw_attest);
    EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
    Quote q;
    IRONROOT_ASSIGN_OR_RETURN(q.attest,
                              marshal(*attest, Tss2_MU_TPM2B_ATTEST_Marshal, "TPM2B_ATTEST"));
    IRONROOT_ASSIGN_OR_RETURN(
        q.signature, marshal(*signature, Tss2_MU_TPMT_SIGNATURE_Marshal, "TPMT_SIGNATURE"));
    return q;
  }

  Result<std::vector<Digest>> pcr_read(HashAlg bank, uint32_t pcr_mask) override {
    const size_t size = crypto::digest_size(bank);
    for (int attempt = 0; attempt < kPcrReadAttempts; ++attempt) {
      std::array<std::optional<Digest>, 32> values;
      std::optional<uint32_t> update_counter;
      bool consistent = true;
      uint32_t remaining = pcr_mask;
      while (remaining != 0) {
        TPML_PCR_SELECTION in = pcr_selection(bank, remaining);
        uint32_t counter = 0;
        TPML_PCR_SELECTION* raw_out = nullptr;
        TPML_DIGEST* raw_digests = nullptr;
        IRONROOT_RETURN_IF_ERROR(
            check("TPM2_PCR_Read", Esys_PCR_Read(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                 &in, &counter, &raw_out, &raw_digests)));
        EsysPtr<TPML_PCR_SELECTION> out(raw_out);
        EsysPtr<TPML_DIGEST> digests(raw_digests);
        if (update_counter && *update_counter != counter) consistent = false;
        update_counter = counter;

        const uint32_t got = selected_mask(*out, bank) & remaining;
        if (got == 0) {
          return Error(ErrorCode::kNotFound, "TPM2_PCR_Read: bank " + bank_name(bank) +
                                                 " is not allocated or has no PCR in " +
                                                 hex32(remaining));
        }
        if (static_cast<uint32_t>(std::popcount(got)) != digests->count) {
          return Error(ErrorCode::kInternal, "TPM2_PCR_Read: " + std::to_string(digests->count) +
                                                 " digests for selection " + hex32(got));
        }
        uint32_t k = 0;
        for (unsigned pcr = 0; pcr < 32; ++pcr) {
          if ((got & (uint32_t{1} << pcr)) == 0) continue;
          const TPM2B_DIGEST& v = digests->digests[k++];
          if (v.size != size) {
            return Error(ErrorCode::kInternal, "TPM2_PCR_Read: PCR " + std::to_string(pcr) +
                                                   " has a " + std::to_string(v.size) + "-byte " +
                                                   bank_name(bank) + " digest");
          }
          Digest d;
          d.alg = bank;
          d.size = static_cast<uint8_t>(size);
          std::memcpy(d.bytes.data(), v.buffer, size);
          values[pcr] = d;
        }
        remaining &= ~got;
      }
      if (!consistent) continue;  // a PCR changed between two reads: start over
      std::vector<Digest> result;
      for (const auto& v : values) {
        if (v) result.push_back(*v);
      }
      return result;
    }
    return Error(ErrorCode::kInternal, "TPM2_PCR_Read: PCRs kept changing during " +
                                           std::to_string(kPcrReadAttempts) + " attempts");
  }

  Status pcr_extend(uint32_t pcr, const std::vector<Digest>& digests) override {
    if (pcr > 31) return invalid_argument("pcr_extend: no PCR " + std::to_string(pcr));
    if (digests.empty() || digests.size() > TPM2_NUM_PCR_BANKS) {
      return invalid_argument("pcr_extend: " + std::to_string(digests.size()) + " digests (1 to " +
                              std::to_string(TPM2_NUM_PCR_BANKS) + ")");
    }
    TPML_DIGEST_VALUES values{};
    values.count = static_cast<uint32_t>(digests.size());
    for (size_t i = 0; i < digests.size(); ++i) {
      const Digest& d = digests[i];
      if (d.size != crypto::digest_size(d.alg)) {
        return invalid_argument("pcr_extend: " + std::to_string(d.size) + "-byte " +
                                bank_name(d.alg) + " digest");
      }
      values.digests[i].hashAlg = static_cast<TPMI_ALG_HASH>(d.alg);
      std::memcpy(&values.digests[i].digest, d.bytes.data(), d.size);
    }
    return check("TPM2_PCR_Extend(" + std::to_string(pcr) + ")",
                 Esys_PCR_Extend(ctx_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &values));
  }

  Result<std::vector<HashAlg>> active_banks() override {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* raw_caps = nullptr;
    IRONROOT_RETURN_IF_ERROR(
        check("TPM2_GetCapability(PCRs)",
              Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0,
                                 1, &more, &raw_caps)));
    EsysPtr<TPMS_CAPABILITY_DATA> caps(raw_caps);
    const TPML_PCR_SELECTION& sel = caps->data.assignedPCR;
    std::vector<HashAlg> banks;
    for (uint32_t i = 0; i < sel.count && i < TPM2_NUM_PCR_BANKS; ++i) {
      const TPMS_PCR_SELECTION& s = sel.pcrSelections[i];
      bool any = false;
      for (unsigned b = 0; b < s.sizeofSelect && b < TPM2_PCR_SELECT_MAX; ++b) {
        any = any || s.pcrSelect[b] != 0;
      }
      if (!any) continue;
      if (auto alg = crypto::hash_alg_from_id(s.hash)) banks.push_back(*alg);
    }
    return banks;
  }

 private:
  // Creates the primary key for `tmpl` in the endorsement hierarchy unless `key` holds it.
  Status ensure_primary(Primary& key, const TPM2B_PUBLIC& tmpl, std::string_view command) {
    if (key.handle != ESYS_TR_NONE) return {};
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_DATA outside_info{};
    TPML_PCR_SELECTION creation_pcr{};
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC* raw_public = nullptr;
    TPM2B_CREATION_DATA* raw_creation_data = nullptr;
    TPM2B_DIGEST* raw_creation_hash = nullptr;
    TPMT_TK_CREATION* raw_creation_ticket = nullptr;
    IRONROOT_RETURN_IF_ERROR(check(
        command, Esys_CreatePrimary(ctx_, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &tmpl, &outside_info, &creation_pcr,
                                    &handle, &raw_public, &raw_creation_data, &raw_creation_hash,
                                    &raw_creation_ticket)));
    EsysPtr<TPM2B_PUBLIC> out_public(raw_public);
    EsysPtr<TPM2B_CREATION_DATA> creation_data(raw_creation_data);
    EsysPtr<TPM2B_DIGEST> creation_hash(raw_creation_hash);
    EsysPtr<TPMT_TK_CREATION> creation_ticket(raw_creation_ticket);
    auto marshalled = marshal(*out_public, Tss2_MU_TPM2B_PUBLIC_Marshal, "TPM2B_PUBLIC");
    if (!marshalled) {
      (void)Esys_FlushContext(ctx_, handle);
      return std::move(marshalled).error();
    }
    key.handle = handle;
    key.public_area = std::move(*marshalled);
    return {};
  }

  // TPM_PT_NV_BUFFER_MAX: the most one TPM2_NV_Read returns.
  Result<uint32_t> nv_buffer_max() {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* raw_caps = nullptr;
    IRONROOT_RETURN_IF_ERROR(check(
        "TPM2_GetCapability(TPM_PT_NV_BUFFER_MAX)",
        Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                           TPM2_PT_NV_BUFFER_MAX, 1, &more, &raw_caps)));
    EsysPtr<TPMS_CAPABILITY_DATA> caps(raw_caps);
    const TPML_TAGGED_TPM_PROPERTY& props = caps->data.tpmProperties;
    uint32_t value = 512;  // a safe size for any TPM when it does not say
    if (props.count > 0 && props.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
        props.tpmProperty[0].value > 0) {
      value = props.tpmProperty[0].value;
    }
    return std::min<uint32_t>(value, sizeof(TPM2B_MAX_NV_BUFFER::buffer));
  }

  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* ctx_;
  Primary ek_;
  Primary ak_;
};

}  // namespace

Result<std::unique_ptr<Tpm>> Tpm::open(const std::string& tcti) {
  TSS2_TCTI_CONTEXT* tcti_ctx = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.empty() ? nullptr : tcti.c_str(), &tcti_ctx);
  if (rc != TSS2_RC_SUCCESS) {
    // The loader reports failures from its own layer; they all mean "could not reach the TPM".
    Error e = tss_error("TCTI \"" + tcti + "\"", rc);
    return Error(ErrorCode::kIo, e.message());
  }
  ESYS_CONTEXT* ctx = nullptr;
  rc = Esys_Initialize(&ctx, tcti_ctx, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti_ctx);
    return tss_error("Esys_Initialize", rc);
  }
  return std::unique_ptr<Tpm>(new EsysTpm(tcti_ctx, ctx));
}

}  // namespace ironroot::tpmdev
