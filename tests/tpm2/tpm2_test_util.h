// Test support for lib/tpm2: TPM structures built independently of the library (tss2-mu marshal +
// OpenSSL), a test-side ActivateCredential, and a minimal protobuf reader for go-tpm-tools files.
#pragma once

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/hex.h"
#include "crypto/digest.h"
#include "support/corpus.h"
#include "tpm2/credential.h"

namespace ironroot::tpm2::testing {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey rsa_key(unsigned bits = 2048) {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}
inline Pkey ec_key(const char* group = "P-256") {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
}

inline std::vector<uint8_t> hex(const std::string& h) {
  auto r = from_hex(h);
  EXPECT_TRUE(r.ok()) << h;
  return r.ok() ? *r : std::vector<uint8_t>{};
}

inline std::vector<uint8_t> bn_bytes(EVP_PKEY* k, const char* param, size_t pad) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, param, &bn);
  std::vector<uint8_t> out(pad);
  BN_bn2binpad(bn, out.data(), static_cast<int>(pad));
  BN_free(bn);
  return out;
}

constexpr uint32_t kEkAttributes = 0x000300b2;  // fixedTPM fixedParent sensitiveDataOrigin
                                                // adminWithPolicy restricted decrypt
constexpr uint32_t kAkAttributes = 0x00050072;  // fixedTPM fixedParent sensitiveDataOrigin
                                                // userWithAuth restricted sign

// A TPM2B_PUBLIC for an OpenSSL key, marshalled by tss2-mu. Decrypt keys get AES-128-CFB and no
// scheme; signing keys get RSASSA/ECDSA-SHA256.
inline std::vector<uint8_t> make_tpm2b_public(EVP_PKEY* key, uint32_t attributes,
                                              uint16_t name_alg = 0x000B) {
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& a = pub.publicArea;
  a.nameAlg = name_alg;
  a.objectAttributes = attributes;
  const bool decrypt = (attributes & (1u << 17)) != 0;
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = decrypt ? 0x0006 : 0x0010;
  if (decrypt) {
    sym.keyBits.aes = 128;
    sym.mode.aes = 0x0043;
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    a.type = 0x0001;
    a.parameters.rsaDetail.symmetric = sym;
    a.parameters.rsaDetail.scheme.scheme = decrypt ? 0x0010 : 0x0014;
    if (!decrypt) a.parameters.rsaDetail.scheme.details.rsassa.hashAlg = 0x000B;
    a.parameters.rsaDetail.keyBits = static_cast<uint16_t>(EVP_PKEY_get_bits(key));
    auto n = bn_bytes(key, OSSL_PKEY_PARAM_RSA_N, static_cast<size_t>(EVP_PKEY_get_bits(key)) / 8);
    a.unique.rsa.size = static_cast<uint16_t>(n.size());
    std::memcpy(a.unique.rsa.buffer, n.data(), n.size());
  } else {
    a.type = 0x0023;
    a.parameters.eccDetail.symmetric = sym;
    a.parameters.eccDetail.scheme.scheme = decrypt ? 0x0010 : 0x0018;
    if (!decrypt) a.parameters.eccDetail.scheme.details.ecdsa.hashAlg = 0x000B;
    const int bits = EVP_PKEY_get_bits(key);
    a.parameters.eccDetail.curveID = bits == 256 ? 0x0003 : bits == 384 ? 0x0004 : 0x0005;
    a.parameters.eccDetail.kdf.scheme = 0x0010;
    const size_t field = (static_cast<size_t>(bits) + 7) / 8;
    auto x = bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_X, field);
    auto y = bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, field);
    a.unique.ecc.x.size = static_cast<uint16_t>(field);
    std::memcpy(a.unique.ecc.x.buffer, x.data(), field);
    a.unique.ecc.y.size = static_cast<uint16_t>(field);
    std::memcpy(a.unique.ecc.y.buffer, y.data(), field);
  }
  std::vector<uint8_t> out(sizeof pub);
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &off), TSS2_RC_SUCCESS);
  out.resize(off);
  return out;
}

inline std::vector<uint8_t> sha(const EVP_MD* md, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(static_cast<size_t>(EVP_MD_get_size(md)));
  EVP_Digest(data.data(), data.size(), out.data(), nullptr, md, nullptr);
  return out;
}

// TPM2_ActivateCredential in the test, with the EK's private key (SHA-256 nameAlg, AES-128-CFB).
// KDFe is computed here by hand (not by the library's SSKDF path); KDFa is the library's (checked
// against the TCG reference vectors in credential_test.cc). Returns the secret, or an empty vector
// with the reason in *why.
inline std::vector<uint8_t> activate_credential(EVP_PKEY* ek_private, const Credential& cred,
                                                const std::vector<uint8_t>& object_name,
                                                std::string* why) {
  const EVP_MD* md = EVP_sha256();
  auto body = [](const std::vector<uint8_t>& tpm2b) {
    return std::vector<uint8_t>(tpm2b.begin() + 2, tpm2b.end());
  };
  std::vector<uint8_t> secret = body(cred.encrypted_secret);
  std::vector<uint8_t> seed;
  if (EVP_PKEY_get_base_id(ek_private) == EVP_PKEY_RSA) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, ek_private, nullptr);
    EVP_PKEY_decrypt_init(ctx);
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md);
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md);
    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup("IDENTITY", 9), 9);
    size_t len = 512;
    seed.resize(len);
    if (EVP_PKEY_decrypt(ctx, seed.data(), &len, secret.data(), secret.size()) != 1) {
      *why = "OAEP decryption of the seed failed";
      EVP_PKEY_CTX_free(ctx);
      return {};
    }
    seed.resize(len);
    EVP_PKEY_CTX_free(ctx);
  } else {
    TPMS_ECC_POINT q{};
    size_t off = 0;
    if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret.data(), secret.size(), &off, &q) != 0) {
      *why = "encrypted secret is not a TPMS_ECC_POINT";
      return {};
    }
    std::vector<uint8_t> point = {0x04};
    point.insert(point.end(), q.x.buffer, q.x.buffer + q.x.size);
    point.insert(point.end(), q.y.buffer, q.y.buffer + q.y.size);
    const int bits = EVP_PKEY_get_bits(ek_private);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         const_cast<char*>(bits == 256 ? "P-256" : "P-384"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX* fctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* eph = nullptr;
    EVP_PKEY_fromdata_init(fctx);
    EVP_PKEY_fromdata(fctx, &eph, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(fctx);
    EVP_PKEY_CTX* dh = EVP_PKEY_CTX_new_from_pkey(nullptr, ek_private, nullptr);
    size_t zlen = 128;
    std::vector<uint8_t> z(zlen);
    EVP_PKEY_derive_init(dh);
    EVP_PKEY_derive_set_peer(dh, eph);
    EVP_PKEY_derive(dh, z.data(), &zlen);
    z.resize(zlen);
    EVP_PKEY_CTX_free(dh);
    EVP_PKEY_free(eph);
    // KDFe by hand: H([1]_32 || Z || "IDENTITY\0" || ephemeral.x || ek.x), one SHA-256 block.
    const size_t field = (static_cast<size_t>(bits) + 7) / 8;
    std::vector<uint8_t> in = {0, 0, 0, 1};
    in.insert(in.end(), z.begin(), z.end());
    const char use[] = "IDENTITY";
    in.insert(in.end(), use, use + sizeof use);  // with the NUL
    in.insert(in.end(), q.x.buffer, q.x.buffer + q.x.size);
    auto ek_x = bn_bytes(ek_private, OSSL_PKEY_PARAM_EC_PUB_X, field);
    in.insert(in.end(), ek_x.begin(), ek_x.end());
    seed = sha(md, in);
  }
  auto sym_key = kdfa(crypto::HashAlg::kSha256, seed, "STORAGE", object_name, {}, 128);
  auto hmac_key = kdfa(crypto::HashAlg::kSha256, seed, "INTEGRITY", {}, {}, 256);
  if (!sym_key.ok() || !hmac_key.ok()) {
    *why = "kdfa failed";
    return {};
  }
  std::vector<uint8_t> blob = body(cred.id_object);
  const size_t hmac_size = (static_cast<size_t>(blob[0]) << 8) | blob[1];
  std::vector<uint8_t> outer(blob.begin() + 2, blob.begin() + 2 + static_cast<long>(hmac_size));
  std::vector<uint8_t> enc(blob.begin() + 2 + static_cast<long>(hmac_size), blob.end());
  std::vector<uint8_t> mac_in = enc;
  mac_in.insert(mac_in.end(), object_name.begin(), object_name.end());
  size_t mac_len = 0;
  std::vector<uint8_t> mac(64);
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key->data(), hmac_key->size(),
            mac_in.data(), mac_in.size(), mac.data(), mac.size(), &mac_len);
  mac.resize(mac_len);
  if (mac != outer) {
    *why = "outer HMAC does not verify";
    return {};
  }
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  const uint8_t iv[16] = {};
  std::vector<uint8_t> plain(enc.size() + 16);
  int n = 0, m = 0;
  EVP_DecryptInit_ex2(c, EVP_aes_128_cfb128(), sym_key->data(), iv, nullptr);
  EVP_DecryptUpdate(c, plain.data(), &n, enc.data(), static_cast<int>(enc.size()));
  EVP_DecryptFinal_ex(c, plain.data() + n, &m);
  EVP_CIPHER_CTX_free(c);
  plain.resize(static_cast<size_t>(n + m));
  const size_t size = (static_cast<size_t>(plain[0]) << 8) | plain[1];
  if (size + 2 != plain.size()) {
    *why = "decrypted credential is not a TPM2B_DIGEST";
    return {};
  }
  return std::vector<uint8_t>(plain.begin() + 2, plain.end());
}

// --- protobuf (wire format) ----------------------------------------------------------------------

struct PbField {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;
  std::vector<uint8_t> bytes;
};

inline std::vector<PbField> pb_fields(const std::vector<uint8_t>& b) {
  std::vector<PbField> out;
  size_t i = 0;
  auto varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; i < b.size() && shift < 64; shift += 7) {
      uint8_t c = b[i++];
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (c < 0x80) return true;
    }
    return false;
  };
  while (i < b.size()) {
    uint64_t key = 0;
    if (!varint(key)) break;
    PbField f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire_type = static_cast<uint32_t>(key & 7);
    if (f.wire_type == 0) {
      varint(f.varint);
    } else if (f.wire_type == 2) {
      uint64_t len = 0;
      varint(len);
      if (len > b.size() - i) break;
      f.bytes.assign(b.begin() + static_cast<long>(i), b.begin() + static_cast<long>(i + len));
      i += len;
    } else {
      ADD_FAILURE() << "unexpected protobuf wire type " << f.wire_type;
      break;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// go-tpm-tools attest.proto Attestation / tpm.proto Quote, the fields the tests use.
struct GoQuote {
  std::vector<uint8_t> quote;    // TPMS_ATTEST
  std::vector<uint8_t> raw_sig;  // TPMT_SIGNATURE
  uint16_t hash = 0;             // PCR bank
  std::map<uint32_t, std::vector<uint8_t>> pcrs;
};
struct GoAttestation {
  std::vector<uint8_t> ak_pub;  // TPMT_PUBLIC (no TPM2B size)
  std::vector<GoQuote> quotes;
  std::vector<uint8_t> ak_cert;
  std::vector<std::vector<uint8_t>> intermediates;
};

inline GoAttestation parse_go_attestation(const std::vector<uint8_t>& file) {
  GoAttestation a;
  for (const auto& f : pb_fields(file)) {
    if (f.number == 1) a.ak_pub = f.bytes;
    if (f.number == 6) a.ak_cert = f.bytes;
    if (f.number == 7) a.intermediates.push_back(f.bytes);
    if (f.number != 2) continue;
    GoQuote q;
    for (const auto& qf : pb_fields(f.bytes)) {
      if (qf.number == 1) q.quote = qf.bytes;
      if (qf.number == 2) q.raw_sig = qf.bytes;
      if (qf.number != 3) continue;
      for (const auto& pf : pb_fields(qf.bytes)) {
        if (pf.number == 1) q.hash = static_cast<uint16_t>(pf.varint);
        if (pf.number != 2) continue;
        uint32_t index = 0;
        std::vector<uint8_t> value;
        for (const auto& ef : pb_fields(pf.bytes)) {
          if (ef.number == 1) index = static_cast<uint32_t>(ef.varint);
          if (ef.number == 2) value = ef.bytes;
        }
        q.pcrs[index] = value;
      }
    }
    a.quotes.push_back(std::move(q));
  }
  return a;
}

// TPMT_PUBLIC -> TPM2B_PUBLIC.
inline std::vector<uint8_t> tpm2b(const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out(body.size() + 2);
  out[0] = static_cast<uint8_t>(body.size() >> 8);
  out[1] = static_cast<uint8_t>(body.size() & 0xff);
  std::copy(body.begin(), body.end(), out.begin() + 2);
  return out;
}

}  // namespace ironroot::tpm2::testing
