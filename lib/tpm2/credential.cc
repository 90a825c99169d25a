#include "tpm2/credential.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstring>
#include <string>

#include "tpm2/internal.h"
#include "tpm2/keys.h"

namespace ironroot::tpm2 {
namespace {

using internal::openssl_error;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;

using KdfPtr = std::unique_ptr<EVP_KDF, internal::Deleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, internal::Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, internal::Deleter<EVP_MAC, EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, internal::Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, internal::Deleter<EVP_CIPHER, EVP_CIPHER_free>>;
using CipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, internal::Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;

// "IDENTITY" with its terminating NUL: the OAEP label and KDFe "use" of credential protection.
constexpr std::string_view kIdentity = "IDENTITY";

Status check_kdf_args(size_t bits, std::string_view label) {
  if (bits == 0 || bits % 8 != 0 || bits > 65536) {
    return invalid_argument("KDF output of " + std::to_string(bits) +
                            " bits (must be a multiple of 8, 8 .. 65536)");
  }
  if (label.empty() || label.find('\0') != std::string_view::npos) {
    return invalid_argument("KDF label must be non-empty, without NUL");
  }
  return {};
}

Result<std::vector<uint8_t>> derive(const char* kdf_name, OSSL_PARAM* params, size_t bytes) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, kdf_name, nullptr));
  if (!kdf) return openssl_error(std::string("EVP_KDF_fetch ") + kdf_name);
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  std::vector<uint8_t> out(bytes);
  if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return openssl_error(std::string("EVP_KDF_derive ") + kdf_name);
  }
  return out;
}

std::vector<uint8_t> concat(std::initializer_list<Bytes> parts) {
  std::vector<uint8_t> out;
  for (Bytes p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Result<std::vector<uint8_t>> hmac(crypto::HashAlg alg, Bytes key, Bytes data) {
  IRONROOT_ASSIGN_OR_RETURN(internal::MdPtr md, internal::fetch_md(alg));
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return openssl_error("EVP_MAC_fetch HMAC");
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md.get())), 0),
      OSSL_PARAM_construct_end(),
  };
  std::vector<uint8_t> out(static_cast<size_t>(EVP_MD_get_size(md.get())));
  size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1) {
    return openssl_error("HMAC");
  }
  out.resize(len);
  return out;
}

Result<std::vector<uint8_t>> aes_cfb_encrypt(uint16_t key_bits, Bytes key, Bytes plaintext) {
  std::string name = "AES-" + std::to_string(key_bits) + "-CFB";
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr));
  if (!cipher) return openssl_error("EVP_CIPHER_fetch " + name);
  if (key.size() != static_cast<size_t>(EVP_CIPHER_get_key_length(cipher.get()))) {
    return Error(ErrorCode::kInternal, name + ": key of " + std::to_string(key.size()) + " bytes");
  }
  const uint8_t iv[16] = {};  // credential protection uses a zero IV (the key is single-use)
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(plaintext.size() + 16);
  int n = 0, m = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), iv, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &n, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &m) != 1) {
    return openssl_error(name);
  }
  out.resize(static_cast<size_t>(n + m));
  return out;
}

// RSA EK: a random seed, RSA-OAEP encrypted with the EK nameAlg and label "IDENTITY\0".
Status rsa_seed(const PublicKeyInfo& ek, std::vector<uint8_t>& seed,
                std::vector<uint8_t>& encrypted) {
  seed.resize(crypto::digest_size(ek.name_alg));
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1)
    return openssl_error("RAND_bytes");
  IRONROOT_ASSIGN_OR_RETURN(internal::MdPtr md, internal::fetch_md(ek.name_alg));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek.key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md.get()) != 1) {
    return openssl_error("RSA-OAEP setup");
  }
  void* label = OPENSSL_memdup(kIdentity.data(), kIdentity.size() + 1);  // with the NUL
  if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(
                              ctx.get(), label, static_cast<int>(kIdentity.size() + 1)) != 1) {
    OPENSSL_free(label);
    return openssl_error("RSA-OAEP label");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, seed.data(), seed.size()) != 1) {
    return openssl_error("RSA-OAEP encrypt (size)");
  }
  encrypted.resize(len);
  if (EVP_PKEY_encrypt(ctx.get(), encrypted.data(), &len, seed.data(), seed.size()) != 1) {
    return openssl_error("RSA-OAEP encrypt");
  }
  encrypted.resize(len);
  return {};
}

Result<std::vector<uint8_t>> bn_param(EVP_PKEY* pkey, const char* param, size_t size) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) return openssl_error(param);
  std::vector<uint8_t> out(size);
  int rc = BN_bn2binpad(bn, out.data(), static_cast<int>(size));
  BN_free(bn);
  if (rc < 0) return openssl_error(std::string("BN_bn2binpad ") + param);
  return out;
}

// ECC EK: one-pass Diffie-Hellman with an ephemeral key (Part 1, "ECC Secret Sharing").
// seed = KDFe(nameAlg, Z = (d_e * Q_ek).x, "IDENTITY", Q_e.x, Q_ek.x); the encrypted secret is
// the marshalled TPMS_ECC_POINT Q_e.
Status ecc_seed(const PublicKeyInfo& ek, const TPMS_ECC_POINT& ek_point, std::vector<uint8_t>& seed,
                std::vector<uint8_t>& encrypted) {
  PkeyCtxPtr gen(EVP_PKEY_CTX_new_from_pkey(nullptr, ek.key.get(), nullptr));
  EVP_PKEY* eph_raw = nullptr;
  if (!gen || EVP_PKEY_keygen_init(gen.get()) != 1 || EVP_PKEY_generate(gen.get(), &eph_raw) != 1) {
    return openssl_error("ephemeral ECC key");
  }
  PkeyPtr eph(eph_raw);
  PkeyCtxPtr dh(EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr));
  size_t z_len = 0;
  if (!dh || EVP_PKEY_derive_init(dh.get()) != 1 ||
      EVP_PKEY_derive_set_peer(dh.get(), ek.key.get()) != 1 ||
      EVP_PKEY_derive(dh.get(), nullptr, &z_len) != 1) {
    return openssl_error("ECDH with the EK");
  }
  std::vector<uint8_t> z(z_len);
  if (EVP_PKEY_derive(dh.get(), z.data(), &z_len) != 1) return openssl_error("ECDH with the EK");
  z.resize(z_len);

  const size_t field = (static_cast<size_t>(EVP_PKEY_get_bits(eph.get())) + 7) / 8;
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> x,
                            bn_param(eph.get(), OSSL_PKEY_PARAM_EC_PUB_X, field));
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> y,
                            bn_param(eph.get(), OSSL_PKEY_PARAM_EC_PUB_Y, field));
  IRONROOT_ASSIGN_OR_RETURN(
      seed, kdfe(ek.name_alg, z, kIdentity, x, Bytes(ek_point.x.buffer, ek_point.x.size),
                 crypto::digest_size(ek.name_alg) * 8));
  OPENSSL_cleanse(z.data(), z.size());
  TPMS_ECC_POINT point{};
  point.x.size = static_cast<UINT16>(x.size());
  std::memcpy(point.x.buffer, x.data(), x.size());
  point.y.size = static_cast<UINT16>(y.size());
  std::memcpy(point.y.buffer, y.data(), y.size());
  IRONROOT_ASSIGN_OR_RETURN(
      encrypted,
      internal::marshal<TPMS_ECC_POINT>(point, Tss2_MU_TPMS_ECC_POINT_Marshal, "TPMS_ECC_POINT"));
  return {};
}

}  // namespace

Result<std::vector<uint8_t>> kdfa(crypto::HashAlg alg, Bytes key, std::string_view label,
                                  Bytes context_u, Bytes context_v, size_t bits) {
  IRONROOT_RETURN_IF_ERROR(check_kdf_args(bits, label));
  if (key.empty()) return invalid_argument("KDFa: empty key");
  IRONROOT_ASSIGN_OR_RETURN(internal::MdPtr md, internal::fetch_md(alg));
  // SP 800-108 counter mode as OpenSSL's KBKDF computes it:
  //   K(i) = HMAC(key, [i]_32 || Label || 0x00 || Context || [L]_32),
  // which is KDFa with Label = label (KDFa's terminating NUL is KBKDF's separator) and
  // Context = contextU || contextV.
  std::vector<uint8_t> context = concat({context_u, context_v});
  int use_l = 1, use_separator = 1;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, const_cast<char*>("counter"), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, const_cast<char*>("HMAC"), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md.get())), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(label.data()),
                                        label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context.data(), context.size()),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &use_l),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &use_separator),
      OSSL_PARAM_construct_end(),
  };
  return derive("KBKDF", params, bits / 8);
}

Result<std::vector<uint8_t>> kdfe(crypto::HashAlg alg, Bytes z, std::string_view use, Bytes party_u,
                                  Bytes party_v, size_t bits) {
  IRONROOT_RETURN_IF_ERROR(check_kdf_args(bits, use));
  if (z.empty()) return invalid_argument("KDFe: empty Z");
  IRONROOT_ASSIGN_OR_RETURN(internal::MdPtr md, internal::fetch_md(alg));
  // SP 800-56A single-step KDF as OpenSSL's SSKDF computes it: K(i) = H([i]_32 || Z || OtherInfo)
  // with OtherInfo = use || 0x00 || partyUInfo || partyVInfo.
  const uint8_t nul = 0;
  std::vector<uint8_t> info = concat({as_bytes(use), Bytes(&nul, 1), party_u, party_v});
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md.get())), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(z.data()),
                                        z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  return derive("SSKDF", params, bits / 8);
}

Result<Credential> make_credential(Bytes ek_tpm2b_public, Bytes object_name, Bytes secret) {
  IRONROOT_ASSIGN_OR_RETURN(PublicKeyInfo ek, parse_public(ek_tpm2b_public));
  IRONROOT_ASSIGN_OR_RETURN(internal::Public ek_area, internal::unmarshal_public(ek_tpm2b_public));
  if (!ek.is_restricted_decrypt) {
    return invalid_argument(
        "MakeCredential: the EK is not a restricted decryption key "
        "(objectAttributes " +
        internal::rc_hex(ek.object_attributes) + ")");
  }
  if (ek.symmetric != alg::kAes || ek.symmetric_mode != alg::kCfb ||
      (ek.symmetric_bits != 128 && ek.symmetric_bits != 192 && ek.symmetric_bits != 256)) {
    return Error(ErrorCode::kUnsupported,
                 "MakeCredential: EK symmetric algorithm " + alg_name(ek.symmetric) + "-" +
                     std::to_string(ek.symmetric_bits) + "-" + alg_name(ek.symmetric_mode) +
                     " (AES-CFB is supported)");
  }
  if (object_name.size() < 2) return invalid_argument("MakeCredential: object name too short");
  const uint16_t name_alg_id = static_cast<uint16_t>((object_name[0] << 8) | object_name[1]);
  auto name_alg = crypto::hash_alg_from_id(name_alg_id);
  if (!name_alg || object_name.size() != 2 + crypto::digest_size(*name_alg)) {
    return invalid_argument("MakeCredential: object name of " + std::to_string(object_name.size()) +
                            " bytes is not nameAlg || digest of a known hash");
  }
  const size_t hash_size = crypto::digest_size(ek.name_alg);
  if (secret.empty() || secret.size() > hash_size) {
    return invalid_argument("MakeCredential: the secret must be 1.." + std::to_string(hash_size) +
                            " bytes (the EK nameAlg digest size), not " +
                            std::to_string(secret.size()));
  }

  std::vector<uint8_t> seed, encrypted_seed;
  if (ek.type == KeyType::kRsa) {
    IRONROOT_RETURN_IF_ERROR(rsa_seed(ek, seed, encrypted_seed));
  } else {
    IRONROOT_RETURN_IF_ERROR(ecc_seed(ek, ek_area.area.unique.ecc, seed, encrypted_seed));
  }

  // Part 1, "Credential Protection": symmetric key and HMAC key from the seed.
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> sym_key,
                            kdfa(ek.name_alg, seed, "STORAGE", object_name, {}, ek.symmetric_bits));
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> hmac_key,
                            kdfa(ek.name_alg, seed, "INTEGRITY", {}, {}, hash_size * 8));
  OPENSSL_cleanse(seed.data(), seed.size());

  // encIdentity = CFB(symKey, 0, TPM2B_DIGEST(secret)); outerHMAC = HMAC(hmacKey, encIdentity ||
  // name); credentialBlob = TPM2B_DIGEST(outerHMAC) || encIdentity.
  TPM2B_DIGEST plain{};
  plain.size = static_cast<UINT16>(secret.size());
  std::memcpy(plain.buffer, secret.data(), secret.size());
  IRONROOT_ASSIGN_OR_RETURN(
      std::vector<uint8_t> plain_bytes,
      internal::marshal<TPM2B_DIGEST>(plain, Tss2_MU_TPM2B_DIGEST_Marshal, "TPM2B_DIGEST"));
  OPENSSL_cleanse(plain.buffer, sizeof plain.buffer);
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> enc_identity,
                            aes_cfb_encrypt(ek.symmetric_bits, sym_key, plain_bytes));
  OPENSSL_cleanse(plain_bytes.data(), plain_bytes.size());
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> outer_hmac,
                            hmac(ek.name_alg, hmac_key, concat({enc_identity, object_name})));

  TPM2B_DIGEST integrity{};
  integrity.size = static_cast<UINT16>(outer_hmac.size());
  std::memcpy(integrity.buffer, outer_hmac.data(), outer_hmac.size());
  IRONROOT_ASSIGN_OR_RETURN(
      std::vector<uint8_t> integrity_bytes,
      internal::marshal<TPM2B_DIGEST>(integrity, Tss2_MU_TPM2B_DIGEST_Marshal, "TPM2B_DIGEST"));
  std::vector<uint8_t> blob = concat({integrity_bytes, enc_identity});

  TPM2B_ID_OBJECT id{};
  if (blob.size() > sizeof id.credential) return Error(ErrorCode::kInternal, "credential too big");
  id.size = static_cast<UINT16>(blob.size());
  std::memcpy(id.credential, blob.data(), blob.size());
  TPM2B_ENCRYPTED_SECRET es{};
  if (encrypted_seed.size() > sizeof es.secret) {
    return Error(ErrorCode::kInternal, "encrypted seed too big");
  }
  es.size = static_cast<UINT16>(encrypted_seed.size());
  std::memcpy(es.secret, encrypted_seed.data(), encrypted_seed.size());

  Credential out;
  IRONROOT_ASSIGN_OR_RETURN(
      out.id_object,
      internal::marshal<TPM2B_ID_OBJECT>(id, Tss2_MU_TPM2B_ID_OBJECT_Marshal, "TPM2B_ID_OBJECT"));
  IRONROOT_ASSIGN_OR_RETURN(out.encrypted_secret, internal::marshal<TPM2B_ENCRYPTED_SECRET>(
                                                      es, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal,
                                                      "TPM2B_ENCRYPTED_SECRET"));
  return out;
}

// --- tpm2-tools credential file -----------------------------------------------------------------

namespace {
constexpr uint32_t kToolsMagic = 0xBADCC0DE;
constexpr uint32_t kToolsVersion = 1;

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
uint32_t be32(Bytes b) {
  return (static_cast<uint32_t>(b[0]) << 24) | (static_cast<uint32_t>(b[1]) << 16) |
         (static_cast<uint32_t>(b[2]) << 8) | b[3];
}
}  // namespace

std::vector<uint8_t> encode_tpm2_tools_credential(const Credential& credential) {
  // tpm2-tools 5.x tools/tpm2_makecredential.c write_cred_and_secret(): files_write_header(fp, 1),
  // then each TPM2B as a big-endian uint16 size and its bytes.
  std::vector<uint8_t> out;
  put_be32(out, kToolsMagic);
  put_be32(out, kToolsVersion);
  out.insert(out.end(), credential.id_object.begin(), credential.id_object.end());
  out.insert(out.end(), credential.encrypted_secret.begin(), credential.encrypted_secret.end());
  return out;
}

Result<Credential> decode_tpm2_tools_credential(Bytes file) {
  ByteReader r(file);
  IRONROOT_ASSIGN_OR_RETURN(Bytes header, r.take(8, "tpm2-tools header"));
  if (be32(header) != kToolsMagic) {
    return malformed("tpm2-tools credential file: magic " + internal::rc_hex(be32(header)) +
                     ", not 0xbadcc0de");
  }
  if (be32(header.subspan(4)) != kToolsVersion) {
    return malformed("tpm2-tools credential file: version " +
                     std::to_string(be32(header.subspan(4))) + ", not 1");
  }
  Credential out;
  for (auto* field : {&out.id_object, &out.encrypted_secret}) {
    IRONROOT_ASSIGN_OR_RETURN(Bytes size_bytes, r.take(2, "TPM2B size"));
    const size_t size = (static_cast<size_t>(size_bytes[0]) << 8) | size_bytes[1];
    IRONROOT_ASSIGN_OR_RETURN(Bytes body, r.take(size, "TPM2B contents"));
    field->assign(size_bytes.begin(), size_bytes.end());
    field->insert(field->end(), body.begin(), body.end());
  }
  if (!r.empty()) {
    return malformed("tpm2-tools credential file: " + std::to_string(r.remaining()) +
                     " trailing bytes");
  }
  // Both must be valid TPM2Bs of their types (sizes within the structures' capacity).
  auto id = internal::unmarshal_exact<TPM2B_ID_OBJECT>(
      out.id_object, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal, "TPM2B_ID_OBJECT");
  if (!id) return std::move(id).error();
  auto es = internal::unmarshal_exact<TPM2B_ENCRYPTED_SECRET>(
      out.encrypted_secret, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal, "TPM2B_ENCRYPTED_SECRET");
  if (!es) return std::move(es).error();
  return out;
}

}  // namespace ironroot::tpm2
