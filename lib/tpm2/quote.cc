#include "tpm2/quote.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <string>

#include "tpm2/internal.h"
#include "tpm2/keys.h"

namespace ironroot::tpm2 {
namespace {

using internal::MdCtxPtr;
using internal::openssl_error;

// The signature as OpenSSL wants it: RSA as is, ECDSA as a DER ECDSA-Sig-Value.
Result<std::vector<uint8_t>> openssl_signature(const Signature& sig) {
  if (sig.sig_alg != alg::kEcdsa) return sig.rsa;
  ECDSA_SIG* es = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig.ecc_r.data(), static_cast<int>(sig.ecc_r.size()), nullptr);
  BIGNUM* s = BN_bin2bn(sig.ecc_s.data(), static_cast<int>(sig.ecc_s.size()), nullptr);
  if (es == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(es, r, s) != 1) {
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    return openssl_error("ECDSA_SIG_set0");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  if (len <= 0) return openssl_error("i2d_ECDSA_SIG");
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// Checks that `sig` is a signature the key may make and verifies it over H_sig(message).
Status verify_signature(const PublicKeyInfo& key, const Signature& sig, Bytes message) {
  const bool rsa_sig = sig.sig_alg == alg::kRsassa || sig.sig_alg == alg::kRsapss;
  if ((key.type == KeyType::kRsa) != rsa_sig) {
    return invalid_argument("signature scheme " + alg_name(sig.sig_alg) + " cannot come from " +
                            (key.type == KeyType::kRsa ? "an RSA" : "an ECC") + " key");
  }
  // A key with a scheme signs only with that scheme and hash (the TPM returns TPM_RC_SCHEME).
  if (key.scheme != alg::kNull &&
      (sig.sig_alg != key.scheme || !key.scheme_hash || *key.scheme_hash != sig.hash)) {
    return invalid_argument(
        "signature scheme " + alg_name(sig.sig_alg) + "/" +
        std::string(crypto::hash_alg_name(sig.hash)) + " is not the key's scheme " +
        alg_name(key.scheme) + "/" +
        (key.scheme_hash ? std::string(crypto::hash_alg_name(*key.scheme_hash)) : "none"));
  }
  IRONROOT_ASSIGN_OR_RETURN(internal::MdPtr md, internal::fetch_md(sig.hash));
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, openssl_signature(sig));

  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, EVP_MD_get0_name(md.get()), nullptr,
                                      nullptr, key.key.get(), nullptr) != 1) {
    return openssl_error("EVP_DigestVerifyInit_ex");
  }
  if (sig.sig_alg == alg::kRsapss) {
    // TPMs use a salt as long as the digest or (older firmware, FIPS 186-4 style) the longest that
    // fits; let OpenSSL recover the salt length from the signature.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md.get()) != 1) {
      return openssl_error("RSA-PSS parameters");
    }
  } else if (sig.sig_alg == alg::kRsassa) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return openssl_error("RSA PKCS#1 v1.5 parameters");
    }
  }
  int rc = EVP_DigestVerify(ctx.get(), raw.data(), raw.size(), message.data(), message.size());
  internal::clear_openssl_errors();
  if (rc != 1) {
    return malformed("quote signature does not verify with the AK public key (" +
                     alg_name(sig.sig_alg) + "/" + std::string(crypto::hash_alg_name(sig.hash)) +
                     ")");
  }
  return {};
}

}  // namespace

Result<QuoteInfo> verify_quote(Bytes ak_tpm2b_public, Bytes tpm2b_attest, Bytes tpmt_signature) {
  IRONROOT_ASSIGN_OR_RETURN(PublicKeyInfo ak, parse_public(ak_tpm2b_public));
  if (!ak.is_restricted_signing) {
    return invalid_argument(
        "the AK is not a restricted signing key (objectAttributes " +
        internal::rc_hex(ak.object_attributes) +
        "): an unrestricted key signs any digest, so its quotes can be forged with TPM2_Sign");
  }
  IRONROOT_ASSIGN_OR_RETURN(Bytes signed_bytes, internal::attest_bytes(tpm2b_attest));
  IRONROOT_ASSIGN_OR_RETURN(Attest a, parse_attest(signed_bytes));
  if (a.type != st::kAttestQuote) {
    return malformed("TPMS_ATTEST type is " + internal::rc_hex(a.type) +
                     ", not TPM_ST_ATTEST_QUOTE (0x8018)");
  }
  IRONROOT_ASSIGN_OR_RETURN(Signature sig, parse_signature(tpmt_signature));
  IRONROOT_RETURN_IF_ERROR(verify_signature(ak, sig, signed_bytes));

  QuoteInfo q;
  if (a.pcr_digest.size() != crypto::digest_size(sig.hash)) {
    return malformed("pcrDigest is " + std::to_string(a.pcr_digest.size()) + " bytes, the " +
                     std::string(crypto::hash_alg_name(sig.hash)) + " signature hash makes " +
                     std::to_string(crypto::digest_size(sig.hash)));
  }
  q.pcr_digest.alg = sig.hash;
  q.pcr_digest.size = static_cast<uint8_t>(a.pcr_digest.size());
  std::copy(a.pcr_digest.begin(), a.pcr_digest.end(), q.pcr_digest.bytes.begin());
  q.qualified_signer = std::move(a.qualified_signer);
  q.extra_data = std::move(a.extra_data);
  q.clock_info = a.clock_info;
  q.firmware_version = a.firmware_version;
  q.pcr_selection = std::move(a.pcr_selection);
  q.signature_scheme = sig.sig_alg;
  return q;
}

crypto::Digest pcr_composite_digest(
    crypto::HashAlg digest_alg, const std::vector<crypto::Digest>& pcr_values_in_selection_order) {
  crypto::Hasher h(digest_alg);
  h.init();
  for (const auto& v : pcr_values_in_selection_order) h.update(v.view());
  return h.final();
}

bool pcr_digest_matches(const QuoteInfo& quote, const std::vector<crypto::Digest>& values) {
  size_t i = 0;
  for (const auto& sel : quote.pcr_selection) {
    for (size_t k = 0; k < sel.count(); ++k, ++i) {
      if (i >= values.size() || values[i].alg != sel.bank ||
          values[i].size != crypto::digest_size(sel.bank)) {
        return false;
      }
    }
  }
  if (i != values.size()) return false;
  if (!crypto::Hasher(quote.pcr_digest.alg).available()) return false;
  crypto::Digest d = pcr_composite_digest(quote.pcr_digest.alg, values);
  return crypto::equal_ct(d.view(), quote.pcr_digest.view());
}

// --- tpm2-tools serialized PCR files ------------------------------------------------------------

Result<PcrValues> parse_tpm2_tools_pcrs(Bytes serialized) {
  // sizeof() of the tss2 C structs as tpm2-tools fwrite()s them on x86-64 / aarch64:
  // TPMS_PCR_SELECTION {u16 hash; u8 sizeofSelect; u8 pcrSelect[4];} + 1 byte padding = 8,
  // TPML_PCR_SELECTION {u32 count; TPMS_PCR_SELECTION[16];} = 132,
  // TPM2B_DIGEST {u16 size; u8 buffer[64];} = 66, TPML_DIGEST {u32 count; TPM2B_DIGEST[8];} = 532.
  constexpr size_t kSelectionSize = 8, kSelectionListSize = 4 + 16 * kSelectionSize;
  constexpr size_t kDigestSize = 66, kDigestListSize = 4 + 8 * kDigestSize;
  ByteReader r(serialized);
  IRONROOT_ASSIGN_OR_RETURN(Bytes sel_list, r.take(kSelectionListSize, "TPML_PCR_SELECTION"));
  uint32_t sel_count = ByteReader::load_le32(sel_list.data());
  if (sel_count > 16) {
    return malformed("tpm2-tools PCR file: " + std::to_string(sel_count) + " PCR banks (max 16)");
  }
  PcrValues out;
  size_t wanted = 0;
  for (uint32_t i = 0; i < sel_count; ++i) {
    const uint8_t* s = sel_list.data() + 4 + i * kSelectionSize;
    IRONROOT_ASSIGN_OR_RETURN(crypto::HashAlg bank,
                              internal::hash_alg(ByteReader::load_le16(s), "tpm2-tools PCR file"));
    uint8_t size_of_select = s[2];
    if (size_of_select > 4) {
      return malformed("tpm2-tools PCR file: sizeofSelect " + std::to_string(size_of_select) +
                       " (max 4)");
    }
    PcrSelection sel;
    sel.bank = bank;
    for (uint32_t b = 0; b < size_of_select; ++b)
      sel.mask |= static_cast<uint32_t>(s[3 + b]) << (8 * b);
    wanted += sel.count();
    out.selection.push_back(sel);
  }
  IRONROOT_ASSIGN_OR_RETURN(uint32_t lists, r.u32le("TPML_DIGEST count"));
  if (lists > 64)
    return malformed("tpm2-tools PCR file: " + std::to_string(lists) + " digest lists");
  std::vector<Bytes> digests;
  for (uint32_t l = 0; l < lists; ++l) {
    IRONROOT_ASSIGN_OR_RETURN(Bytes list, r.take(kDigestListSize, "TPML_DIGEST"));
    uint32_t count = ByteReader::load_le32(list.data());
    if (count > 8)
      return malformed("tpm2-tools PCR file: TPML_DIGEST count " + std::to_string(count));
    for (uint32_t k = 0; k < count; ++k) {
      const uint8_t* d = list.data() + 4 + k * kDigestSize;
      uint16_t size = ByteReader::load_le16(d);
      if (size > 64)
        return malformed("tpm2-tools PCR file: digest of " + std::to_string(size) + " bytes");
      digests.push_back(Bytes(d + 2, size));
    }
  }
  if (!r.empty()) {
    return malformed("tpm2-tools PCR file: " + std::to_string(r.remaining()) + " trailing bytes");
  }
  if (digests.size() != wanted) {
    return malformed("tpm2-tools PCR file: " + std::to_string(digests.size()) + " digests for " +
                     std::to_string(wanted) + " selected PCRs");
  }
  size_t i = 0;
  for (const auto& sel : out.selection) {
    for (size_t k = 0; k < sel.count(); ++k, ++i) {
      if (digests[i].size() != crypto::digest_size(sel.bank)) {
        return malformed("tpm2-tools PCR file: a " + std::string(crypto::hash_alg_name(sel.bank)) +
                         " PCR value of " + std::to_string(digests[i].size()) + " bytes");
      }
      crypto::Digest v;
      v.alg = sel.bank;
      v.size = static_cast<uint8_t>(digests[i].size());
      std::copy(digests[i].begin(), digests[i].end(), v.bytes.begin());
      out.values.push_back(v);
    }
  }
  return out;
}

}  // namespace ironroot::tpm2
