// lib/tpm2 keys: TPM2B_PUBLIC parsing and names, on real tpm2-tools output (keylime test data)
// and on keys built here with tss2-mu.
#include "tpm2/keys.h"

#include <gtest/gtest.h>

#include "core/hex.h"
#include "support/corpus.h"
#include "tpm2/tpm2_test_util.h"

namespace ironroot::tpm2 {
namespace {

using ::ironroot::testing::read_bytes;
using testing::hex;
using testing::kAkAttributes;
using testing::kEkAttributes;
using testing::make_tpm2b_public;

std::string keylime(const std::string& dir, const std::string& file) {
  return dir + "/quote/keylime-test-data/" + file;
}

TEST(Keys, KeylimeAkIsRestrictedRsaSigningKey) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto ak = parse_public(read_bytes(keylime(dir, "ak.pub")));
  ASSERT_TRUE(ak.ok()) << ak.error().message();
  EXPECT_EQ(ak->type, KeyType::kRsa);
  EXPECT_EQ(ak->name_alg, crypto::HashAlg::kSha256);
  EXPECT_EQ(ak->object_attributes, 0x00050072u);
  EXPECT_TRUE(ak->is_restricted_signing);
  EXPECT_FALSE(ak->is_restricted_decrypt);
  EXPECT_EQ(ak->scheme, alg::kRsassa);
  ASSERT_TRUE(ak->scheme_hash.has_value());
  EXPECT_EQ(*ak->scheme_hash, crypto::HashAlg::kSha256);
  EXPECT_EQ(ak->symmetric, alg::kNull);
  EXPECT_EQ(ak->key_bits, 2048);
  EXPECT_TRUE(ak->auth_policy.empty());

  // The same key as tpm2-tools' PEM export (akpub.pem).
  auto pem = PublicKey::from_spki(read_bytes(keylime(dir, "akpub.pem")));
  ASSERT_TRUE(pem.ok()) << pem.error().message();
  EXPECT_TRUE(ak->key.equals(*pem));
  auto exported = ak->key.spki_pem();
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(*exported, ::ironroot::testing::read_text(keylime(dir, "akpub.pem")));
  auto der = ak->key.spki_der();
  ASSERT_TRUE(der.ok());
  auto from_der = PublicKey::from_spki(*der);
  ASSERT_TRUE(from_der.ok());
  EXPECT_TRUE(from_der->equals(ak->key));
}

TEST(Keys, KeylimeEkIsRestrictedDecryptKeyWithTheTcgPolicy) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto ek = parse_public(read_bytes(keylime(dir, "ek.pub")));
  ASSERT_TRUE(ek.ok()) << ek.error().message();
  EXPECT_EQ(ek->type, KeyType::kRsa);
  EXPECT_TRUE(ek->is_restricted_decrypt);
  EXPECT_FALSE(ek->is_restricted_signing);
  EXPECT_EQ(ek->object_attributes, 0x000300b2u);
  EXPECT_EQ(ek->symmetric, alg::kAes);
  EXPECT_EQ(ek->symmetric_bits, 128);
  EXPECT_EQ(ek->symmetric_mode, alg::kCfb);
  EXPECT_EQ(ek->scheme, alg::kNull);
  EXPECT_FALSE(ek->scheme_hash.has_value());
  // TCG EK Credential Profile, default EK template: PolicySecret(TPM_RH_ENDORSEMENT).
  EXPECT_EQ(to_hex(ek->auth_policy),
            "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
  auto pem = PublicKey::from_spki(read_bytes(keylime(dir, "ekpub.pem")));
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(ek->key.equals(*pem));
}

TEST(Keys, NameMatchesTpm2ToolsAkName) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto n = name(read_bytes(keylime(dir, "ak.pub")));
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(*n, read_bytes(keylime(dir, "ak.name")));
  EXPECT_EQ(n->size(), 34u);
}

TEST(Keys, EccKeysRoundTrip) {
  for (const char* group : {"P-256", "P-384", "P-521"}) {
    auto key = testing::ec_key(group);
    ASSERT_TRUE(key);
    auto pub = make_tpm2b_public(key.get(), kAkAttributes);
    auto info = parse_public(pub);
    ASSERT_TRUE(info.ok()) << group << ": " << info.error().message();
    EXPECT_EQ(info->type, KeyType::kEcc);
    EXPECT_EQ(info->scheme, alg::kEcdsa);
    EXPECT_EQ(info->key_bits, EVP_PKEY_get_bits(key.get()));
    EXPECT_EQ(EVP_PKEY_eq(info->key.get(), key.get()), 1) << group;
    auto n = name(pub);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->size(), 34u);
    EXPECT_EQ((*n)[0], 0x00);
    EXPECT_EQ((*n)[1], 0x0B);
  }
}

TEST(Keys, NameUsesTheKeysNameAlg) {
  auto key = testing::rsa_key();
  auto pub = make_tpm2b_public(key.get(), kEkAttributes, /*name_alg=*/0x000C);  // SHA-384
  auto n = name(pub);
  ASSERT_TRUE(n.ok()) << n.error().message();
  ASSERT_EQ(n->size(), 2u + 48u);
  std::vector<uint8_t> tpmt(pub.begin() + 2, pub.end());
  EXPECT_EQ(std::vector<uint8_t>(n->begin() + 2, n->end()), testing::sha(EVP_sha384(), tpmt));
}

TEST(Keys, RefusesMalformedInput) {
  auto key = testing::ec_key();
  auto good = make_tpm2b_public(key.get(), kAkAttributes);
  ASSERT_TRUE(parse_public(good).ok());

  EXPECT_FALSE(parse_public({}).ok());
  EXPECT_FALSE(parse_public(std::vector<uint8_t>{0x00}).ok());
  EXPECT_FALSE(parse_public(std::vector<uint8_t>{0x00, 0x00}).ok());
  // Truncated anywhere: the size no longer matches, or the structure ends early.
  for (size_t len = 0; len < good.size(); ++len) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(len));
    EXPECT_FALSE(parse_public(cut).ok()) << len;
  }
  // One byte too many after the TPM2B, or inside it.
  auto longer = good;
  longer.push_back(0);
  EXPECT_FALSE(parse_public(longer).ok());
  longer[1] = static_cast<uint8_t>(longer[1] + 1);  // size now covers the extra byte
  auto r = parse_public(longer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("trailing"), std::string::npos) << r.error().message();

  // A point that is not on the curve.
  auto off_curve = good;
  off_curve[off_curve.size() - 1] ^= 0x01;
  r = parse_public(off_curve);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);

  // nameAlg 0x0099: not a hash.
  auto bad_alg = good;
  bad_alg[4] = 0x00;
  bad_alg[5] = 0x99;
  EXPECT_FALSE(parse_public(bad_alg).ok());
  EXPECT_FALSE(name(bad_alg).ok());

  // A KEYEDHASH object (type 0x0008) is not an asymmetric key.
  TPM2B_PUBLIC kh{};
  kh.publicArea.type = 0x0008;
  kh.publicArea.nameAlg = 0x000B;
  kh.publicArea.parameters.keyedHashDetail.scheme.scheme = 0x0010;
  kh.publicArea.unique.keyedHash.size = 32;
  std::vector<uint8_t> buf(sizeof kh);
  size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPM2B_PUBLIC_Marshal(&kh, buf.data(), buf.size(), &off), 0u);
  buf.resize(off);
  r = parse_public(buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(name(buf).ok());  // a name exists for any object
}

TEST(Keys, RsaModulusMustMatchKeyBits) {
  auto key = testing::rsa_key();
  auto pub = make_tpm2b_public(key.get(), kAkAttributes);
  ASSERT_TRUE(parse_public(pub).ok());
  // keyBits is at offset 2 (size) + 2 type + 2 nameAlg + 4 attrs + 2 policy size + 2 sym
  // + 2 scheme + 2 scheme hash = 18.
  ASSERT_EQ(pub[18], 0x08);
  pub[18] = 0x04;  // 1024 bits, but a 256-byte modulus follows
  auto r = parse_public(pub);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("keyBits"), std::string::npos) << r.error().message();
}

TEST(Keys, AlgNames) {
  EXPECT_EQ(alg_name(alg::kRsassa), "rsassa");
  EXPECT_EQ(alg_name(0x000B), "sha256");
  EXPECT_EQ(alg_name(0x7777), "0x7777");
}

TEST(Keys, PublicKeyValueSemantics) {
  PublicKey empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.equals(empty));
  EXPECT_FALSE(empty.spki_der().ok());
  auto key = testing::ec_key();
  auto info = parse_public(make_tpm2b_public(key.get(), kAkAttributes));
  ASSERT_TRUE(info.ok());
  PublicKey copy = info->key;  // shares the OpenSSL key
  PublicKey moved = std::move(copy);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_TRUE(moved.equals(info->key));
  EXPECT_FALSE(PublicKey::from_spki(std::vector<uint8_t>{1, 2, 3}).ok());
}

}  // namespace
}  // namespace ironroot::tpm2
