#include "tpm2/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string_view>

#include "tpm2/internal.h"

namespace ironroot::tpm2 {

using internal::openssl_error;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;

std::string alg_name(uint16_t alg_id) {
  switch (alg_id) {
    case alg::kRsa: return "rsa";
    case alg::kAes: return "aes";
    case alg::kNull: return "null";
    case alg::kRsassa: return "rsassa";
    case alg::kRsaes: return "rsaes";
    case alg::kRsapss: return "rsapss";
    case alg::kOaep: return "oaep";
    case alg::kEcdsa: return "ecdsa";
    case alg::kEcdh: return "ecdh";
    case alg::kEcdaa: return "ecdaa";
    case alg::kSm2: return "sm2";
    case alg::kEcschnorr: return "ecschnorr";
    case alg::kEcc: return "ecc";
    case alg::kCfb: return "cfb";
    case 0x0005: return "hmac";
    case 0x0008: return "keyedhash";
    case 0x0013: return "sm4";
    case 0x0025: return "symcipher";
    case 0x0026: return "camellia";
    default: break;
  }
  if (auto h = crypto::hash_alg_from_id(alg_id)) return std::string(crypto::hash_alg_name(*h));
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", alg_id);
  return buf;
}

// --- PublicKey ----------------------------------------------------------------------------------

PublicKey::PublicKey(const PublicKey& other) : pkey_(other.pkey_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) {
    if (other.pkey_ != nullptr) EVP_PKEY_up_ref(other.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
  }
  return *this;
}

PublicKey& PublicKey::operator=(PublicKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    other.pkey_ = nullptr;
  }
  return *this;
}

PublicKey::~PublicKey() {
  EVP_PKEY_free(pkey_);
}

Result<PublicKey> PublicKey::from_spki(Bytes der_or_pem) {
  std::string_view text(reinterpret_cast<const char*>(der_or_pem.data()), der_or_pem.size());
  if (text.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    BIO* bio = BIO_new_mem_buf(der_or_pem.data(), static_cast<int>(der_or_pem.size()));
    if (bio == nullptr) return openssl_error("BIO_new_mem_buf");
    EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (pkey == nullptr) {
      internal::clear_openssl_errors();
      return malformed("PEM PUBLIC KEY does not decode");
    }
    return PublicKey(pkey);
  }
  const unsigned char* p = der_or_pem.data();
  EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(der_or_pem.size()));
  if (pkey == nullptr) {
    internal::clear_openssl_errors();
    return malformed("not a DER SubjectPublicKeyInfo");
  }
  if (p != der_or_pem.data() + der_or_pem.size()) {
    EVP_PKEY_free(pkey);
    return malformed("trailing bytes after the DER SubjectPublicKeyInfo");
  }
  return PublicKey(pkey);
}

Result<std::vector<uint8_t>> PublicKey::spki_der() const {
  if (pkey_ == nullptr) return invalid_argument("empty public key");
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(pkey_, &buf);
  if (len <= 0) return openssl_error("i2d_PUBKEY");
  std::vector<uint8_t> out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

Result<std::string> PublicKey::spki_pem() const {
  if (pkey_ == nullptr) return invalid_argument("empty public key");
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return openssl_error("BIO_new");
  if (PEM_write_bio_PUBKEY(bio, pkey_) != 1) {
    BIO_free(bio);
    return openssl_error("PEM_write_bio_PUBKEY");
  }
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  std::string out(mem->data, mem->length);
  BIO_free(bio);
  return out;
}

bool PublicKey::equals(const PublicKey& other) const {
  if (pkey_ == nullptr || other.pkey_ == nullptr) return false;
  bool eq = EVP_PKEY_eq(pkey_, other.pkey_) == 1;
  internal::clear_openssl_errors();  // a type mismatch leaves an error queued
  return eq;
}

// --- TPM2B_PUBLIC -------------------------------------------------------------------------------

namespace {

struct Curve {
  uint16_t id;
  const char* group;  // OpenSSL group name
  uint16_t bits;
};
// TPM_ECC_CURVE (TCG Algorithm Registry). BN curves have no OpenSSL implementation.
constexpr Curve kCurves[] = {
    {0x0001, "prime192v1", 192}, {0x0002, "secp224r1", 224}, {0x0003, "prime256v1", 256},
    {0x0004, "secp384r1", 384},  {0x0005, "secp521r1", 521}, {0x0020, "SM2", 256},
};

Result<PkeyPtr> rsa_key(const TPMS_RSA_PARMS& parms, const TPM2B_PUBLIC_KEY_RSA& modulus) {
  if (parms.keyBits == 0 || parms.keyBits % 8 != 0 || modulus.size != parms.keyBits / 8) {
    return malformed("RSA public key: modulus is " + std::to_string(modulus.size) +
                     " bytes, keyBits says " + std::to_string(parms.keyBits));
  }
  if (modulus.buffer[0] == 0) return malformed("RSA public key: modulus has a leading zero byte");
  uint32_t exponent = parms.exponent == 0 ? 65537 : parms.exponent;
  if (exponent < 3 || (exponent & 1) == 0) {
    return malformed("RSA public key: exponent " + std::to_string(exponent) + " is not valid");
  }
  BIGNUM* n = BN_bin2bn(modulus.buffer, modulus.size, nullptr);
  BIGNUM* e = BN_new();
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* pkey = nullptr;
  bool ok = n != nullptr && e != nullptr && bld != nullptr && BN_set_word(e, exponent) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
            (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr;
  if (ok) {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    ok = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
         EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  if (!ok || pkey == nullptr) return openssl_error("RSA public key: EVP_PKEY_fromdata");
  return PkeyPtr(pkey);
}

Result<PkeyPtr> ecc_key(const TPMS_ECC_PARMS& parms, const TPMS_ECC_POINT& point) {
  const Curve* curve = nullptr;
  for (const auto& c : kCurves) {
    if (c.id == parms.curveID) curve = &c;
  }
  if (curve == nullptr) {
    return Error(ErrorCode::kUnsupported,
                 "ECC public key: curve " + std::to_string(parms.curveID) +
                     " is not supported (NIST P-192..P-521 and SM2 are; BN curves are not)");
  }
  const size_t field = (curve->bits + 7u) / 8u;
  if (point.x.size == 0 || point.y.size == 0 || point.x.size > field || point.y.size > field) {
    return malformed("ECC public key: coordinates of " + std::to_string(point.x.size) + "/" +
                     std::to_string(point.y.size) + " bytes for a " + std::to_string(curve->bits) +
                     "-bit curve");
  }
  // Uncompressed point 04 || X || Y, each left-padded to the field size.
  std::vector<uint8_t> encoded(1 + 2 * field, 0);
  encoded[0] = 0x04;
  std::copy(point.x.buffer, point.x.buffer + point.x.size,
            encoded.begin() + static_cast<std::ptrdiff_t>(1 + field - point.x.size));
  std::copy(point.y.buffer, point.y.buffer + point.y.size,
            encoded.begin() + static_cast<std::ptrdiff_t>(1 + 2 * field - point.y.size));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve->group),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, encoded.data(), encoded.size()),
      OSSL_PARAM_construct_end(),
  };
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, curve->id == 0x0020 ? "SM2" : "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || pkey == nullptr) {
    internal::clear_openssl_errors();
    return malformed("ECC public key: the point is not on curve " + std::string(curve->group));
  }
  PkeyPtr key(pkey);
  // EVP_PKEY_fromdata decodes the point; check it fully (on the curve, not infinity).
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    internal::clear_openssl_errors();
    return malformed("ECC public key: the point is not a valid public key on " +
                     std::string(curve->group));
  }
  return key;
}

}  // namespace

Result<PublicKeyInfo> parse_public(Bytes tpm2b_public) {
  IRONROOT_ASSIGN_OR_RETURN(internal::Public pub, internal::unmarshal_public(tpm2b_public));
  const TPMT_PUBLIC& area = pub.area;
  PublicKeyInfo info;
  IRONROOT_ASSIGN_OR_RETURN(info.name_alg, internal::hash_alg(area.nameAlg, "TPMT_PUBLIC nameAlg"));
  info.object_attributes = area.objectAttributes;
  const uint32_t a = area.objectAttributes;
  info.is_restricted_signing =
      (a & attr::kRestricted) != 0 && (a & attr::kSign) != 0 && (a & attr::kDecrypt) == 0;
  info.is_restricted_decrypt =
      (a & attr::kRestricted) != 0 && (a & attr::kDecrypt) != 0 && (a & attr::kSign) == 0;
  info.auth_policy.assign(area.authPolicy.buffer, area.authPolicy.buffer + area.authPolicy.size);

  const TPMT_SYM_DEF_OBJECT* sym = nullptr;
  uint16_t scheme_hash = alg::kNull;
  PkeyPtr pkey;
  if (area.type == alg::kRsa) {
    const TPMS_RSA_PARMS& p = area.parameters.rsaDetail;
    info.type = KeyType::kRsa;
    info.key_bits = p.keyBits;
    info.scheme = p.scheme.scheme;
    scheme_hash = p.scheme.details.anySig.hashAlg;
    sym = &p.symmetric;
    IRONROOT_ASSIGN_OR_RETURN(pkey, rsa_key(p, area.unique.rsa));
  } else if (area.type == alg::kEcc) {
    const TPMS_ECC_PARMS& p = area.parameters.eccDetail;
    info.type = KeyType::kEcc;
    info.curve = p.curveID;
    info.scheme = p.scheme.scheme;
    scheme_hash = p.scheme.details.anySig.hashAlg;
    sym = &p.symmetric;
    IRONROOT_ASSIGN_OR_RETURN(pkey, ecc_key(p, area.unique.ecc));
    info.key_bits = static_cast<uint16_t>(EVP_PKEY_get_bits(pkey.get()));
  } else {
    return Error(ErrorCode::kUnsupported, "TPMT_PUBLIC: object type " + alg_name(area.type) +
                                              " is not an asymmetric key (RSA or ECC)");
  }
  // Schemes that carry a hash (every signing scheme, OAEP, ECDH); RSAES and NULL carry none.
  if (info.scheme != alg::kNull && info.scheme != alg::kRsaes) {
    IRONROOT_ASSIGN_OR_RETURN(info.scheme_hash,
                              internal::hash_alg(scheme_hash, "TPMT_PUBLIC scheme hash"));
  }
  info.symmetric = sym->algorithm;
  if (sym->algorithm != alg::kNull) {
    info.symmetric_bits = sym->keyBits.sym;
    info.symmetric_mode = sym->mode.sym;
  }
  info.key = PublicKey(pkey.release());
  return info;
}

Result<std::vector<uint8_t>> name(Bytes tpm2b_public) {
  IRONROOT_ASSIGN_OR_RETURN(internal::Public pub, internal::unmarshal_public(tpm2b_public));
  IRONROOT_ASSIGN_OR_RETURN(crypto::HashAlg alg,
                            internal::hash_alg(pub.area.nameAlg, "TPMT_PUBLIC nameAlg"));
  crypto::Hasher hasher(alg);
  if (!hasher.available()) {
    return Error(ErrorCode::kUnsupported, "nameAlg " + std::string(crypto::hash_alg_name(alg)) +
                                              " is not available from OpenSSL");
  }
  // TPM 2.0 Part 1, "Names": Name = nameAlg || H_nameAlg(TPMT_PUBLIC as marshalled). These are the
  // exact bytes the TPM marshalled, taken from the TPM2B (unmarshal_public checked they form one
  // TPMT_PUBLIC).
  crypto::Digest d = hasher.digest(pub.marshalled);
  std::vector<uint8_t> out;
  out.reserve(2 + d.size);
  out.push_back(static_cast<uint8_t>(pub.area.nameAlg >> 8));
  out.push_back(static_cast<uint8_t>(pub.area.nameAlg & 0xff));
  out.insert(out.end(), d.view().begin(), d.view().end());
  return out;
}

}  // namespace ironroot::tpm2
