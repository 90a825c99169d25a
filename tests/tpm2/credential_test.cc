// lib/tpm2 credentials: KDFa against the TCG reference implementation's self-test vectors, KDFe
// against a by-hand computation, MakeCredential round trips through a test-side
// ActivateCredential (RSA and ECC EKs), and compatibility with tpm2-tools' file format and its own
// tpm2_makecredential. The activation by a real TPM is in swtpm_test.cc.
#include "tpm2/credential.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/hex.h"
#include "crypto/pki.h"
#include "support/corpus.h"
#include "tpm2/keys.h"
#include "tpm2/tpm2_test_util.h"

namespace ironroot::tpm2 {
namespace {

using ::ironroot::testing::read_bytes;
using testing::hex;

// TCG TPM 2.0 reference implementation, KdfTestData.h (as shipped in libtpms
// src/tpm2/KdfTestData.h): key, label "KDFSELFTESTLABEL" (stored with its NUL), contextU,
// contextV, 160 output bits, one expected value per hash.
struct KdfVector {
  crypto::HashAlg alg;
  const char* expected;
};
constexpr KdfVector kKdfaVectors[] = {
    {crypto::HashAlg::kSha1, "55b5a7184aa07423c47dae766c26a2377d7cf851"},
    {crypto::HashAlg::kSha256, "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4"},
    {crypto::HashAlg::kSha384, "1dce70c9113eb2dba47bd9cfc72bf46f45b09312"},
    {crypto::HashAlg::kSha512, "8be2c1b85b78569b9fa759f5857c56d684810fd3"},
};

TEST(Kdfa, TcgReferenceVectors) {
  const auto key = hex("271fa08bbdc5060ec3dfa928ff9b73123a12da0c");
  const auto u = hex("ce244f395dca7391");
  const auto v = hex("da504031ddf12e83");
  for (const auto& vec : kKdfaVectors) {
    auto out = kdfa(vec.alg, key, "KDFSELFTESTLABEL", u, v, 160);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(to_hex(*out), vec.expected) << crypto::hash_alg_name(vec.alg);
  }
}

// KDFa by hand (HMAC per block) for lengths over one block: the counter and [L] are what KBKDF
// feeds the HMAC.
TEST(Kdfa, MultiBlockMatchesTheDefinition) {
  const auto key = hex("000102030405060708090a0b0c0d0e0f");
  const auto u = hex("aabb");
  for (size_t bits : {8u, 256u, 264u, 512u, 1024u}) {
    auto out = kdfa(crypto::HashAlg::kSha256, key, "STORAGE", u, {}, bits);
    ASSERT_TRUE(out.ok()) << out.error().message();
    std::vector<uint8_t> expected;
    for (uint32_t i = 1; expected.size() < bits / 8; ++i) {
      std::vector<uint8_t> in = {0, 0, 0, static_cast<uint8_t>(i)};
      const char label[] = "STORAGE";
      in.insert(in.end(), label, label + sizeof label);  // with the NUL
      in.insert(in.end(), u.begin(), u.end());
      for (int shift = 24; shift >= 0; shift -= 8)
        in.push_back(static_cast<uint8_t>(bits >> shift));
      uint8_t mac[32];
      size_t len = 0;
      EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), in.data(),
                in.size(), mac, sizeof mac, &len);
      expected.insert(expected.end(), mac, mac + len);
    }
    expected.resize(bits / 8);
    EXPECT_EQ(*out, expected) << bits;
  }
}

TEST(Kdfa, RefusesBadArguments) {
  const auto key = hex("0001");
  EXPECT_FALSE(kdfa(crypto::HashAlg::kSha256, key, "X", {}, {}, 0).ok());
  EXPECT_FALSE(kdfa(crypto::HashAlg::kSha256, key, "X", {}, {}, 7).ok());
  EXPECT_FALSE(kdfa(crypto::HashAlg::kSha256, key, "", {}, {}, 8).ok());
  EXPECT_FALSE(kdfa(crypto::HashAlg::kSha256, {}, "X", {}, {}, 8).ok());
}

TEST(Kdfe, MatchesTheDefinition) {
  const auto z = hex("11223344556677889900aabbccddeeff11223344556677889900aabbccddeeff");
  const auto pu = hex("01020304");
  const auto pv = hex("0a0b0c0d0e");
  for (auto [alg, md] : {std::pair{crypto::HashAlg::kSha256, EVP_sha256()},
                         std::pair{crypto::HashAlg::kSha384, EVP_sha384()}}) {
    for (size_t bits : {128u, 256u, 520u}) {
      auto out = kdfe(alg, z, "IDENTITY", pu, pv, bits);
      ASSERT_TRUE(out.ok()) << out.error().message();
      std::vector<uint8_t> expected;
      for (uint8_t i = 1; expected.size() < bits / 8; ++i) {
        std::vector<uint8_t> in = {0, 0, 0, i};
        in.insert(in.end(), z.begin(), z.end());
        const char use[] = "IDENTITY";
        in.insert(in.end(), use, use + sizeof use);
        in.insert(in.end(), pu.begin(), pu.end());
        in.insert(in.end(), pv.begin(), pv.end());
        auto h = testing::sha(md, in);
        expected.insert(expected.end(), h.begin(), h.end());
      }
      expected.resize(bits / 8);
      EXPECT_EQ(*out, expected) << bits;
    }
  }
}

std::vector<uint8_t> random_name() {
  std::vector<uint8_t> name = {0x00, 0x0B};
  auto d = crypto::random_bytes(32);
  name.insert(name.end(), d.begin(), d.end());
  return name;
}

class MakeCredentialRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(MakeCredentialRoundTrip, ActivatesWithTheEkPrivateKey) {
  const std::string kind = GetParam();
  auto ek = kind == "rsa2048" ? testing::rsa_key(2048)
            : kind == "p256"  ? testing::ec_key("P-256")
                              : testing::ec_key("P-384");
  ASSERT_TRUE(ek);
  const auto ek_pub = testing::make_tpm2b_public(ek.get(), testing::kEkAttributes);
  const auto name = random_name();
  for (size_t len : {1u, 16u, 32u}) {
    const auto secret = crypto::random_bytes(len);
    auto cred = make_credential(ek_pub, name, secret);
    ASSERT_TRUE(cred.ok()) << kind << ": " << cred.error().message();
    // TPM2B_ID_OBJECT = size || TPM2B_DIGEST(outer HMAC) || CFB(TPM2B_DIGEST(secret)).
    EXPECT_EQ(cred->id_object.size(), 2 + 2 + 32 + 2 + len);
    std::string why;
    EXPECT_EQ(testing::activate_credential(ek.get(), *cred, name, &why), secret) << kind << why;
    // Bound to the name: another object cannot activate it.
    auto other = random_name();
    EXPECT_TRUE(testing::activate_credential(ek.get(), *cred, other, &why).empty());
    EXPECT_EQ(why, "outer HMAC does not verify");
    // Fresh randomness every time.
    auto again = make_credential(ek_pub, name, secret);
    ASSERT_TRUE(again.ok());
    EXPECT_NE(again->encrypted_secret, cred->encrypted_secret);
    EXPECT_NE(again->id_object, cred->id_object);
  }
}

INSTANTIATE_TEST_SUITE_P(Eks, MakeCredentialRoundTrip,
                         ::testing::Values("rsa2048", "p256", "p384"));

TEST(MakeCredential, RefusesUnusableInputs) {
  auto ek = testing::rsa_key();
  const auto ek_pub = testing::make_tpm2b_public(ek.get(), testing::kEkAttributes);
  const auto name = random_name();
  // Signing key instead of an EK.
  auto ak_pub = testing::make_tpm2b_public(ek.get(), testing::kAkAttributes);
  auto r = make_credential(ak_pub, name, hex("01"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not a restricted decryption key"), std::string::npos);
  // Secret longer than the nameAlg digest, or empty.
  r = make_credential(ek_pub, name, std::vector<uint8_t>(33, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(make_credential(ek_pub, name, {}).ok());
  // Names that are not nameAlg || digest.
  EXPECT_FALSE(make_credential(ek_pub, hex("000b0102"), hex("01")).ok());
  EXPECT_FALSE(make_credential(ek_pub, hex("00"), hex("01")).ok());
  auto bad_alg = name;
  bad_alg[1] = 0x99;
  EXPECT_FALSE(make_credential(ek_pub, bad_alg, hex("01")).ok());
  // Not a TPM2B_PUBLIC at all.
  EXPECT_FALSE(make_credential(name, name, hex("01")).ok());
}

TEST(MakeCredential, KeylimeEkAndAkName) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const std::string d = dir + "/quote/keylime-test-data/";
  auto cred = make_credential(read_bytes(d + "ek.pub"), read_bytes(d + "ak.name"),
                              crypto::random_bytes(32));
  ASSERT_TRUE(cred.ok()) << cred.error().message();
  EXPECT_EQ(cred->encrypted_secret.size(), 2u + 256u);
  EXPECT_EQ(cred->id_object.size(), 2u + 2u + 32u + 2u + 32u);
}

TEST(Tpm2ToolsCredentialFile, RoundTrip) {
  Credential c{hex("0003aabbcc"), hex("0002dddd")};
  auto file = encode_tpm2_tools_credential(c);
  EXPECT_EQ(to_hex(file), "badcc0de000000010003aabbcc0002dddd");
  auto back = decode_tpm2_tools_credential(file);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->id_object, c.id_object);
  EXPECT_EQ(back->encrypted_secret, c.encrypted_secret);

  EXPECT_FALSE(decode_tpm2_tools_credential({}).ok());
  auto bad_magic = file;
  bad_magic[0] = 0;
  EXPECT_FALSE(decode_tpm2_tools_credential(bad_magic).ok());
  auto bad_version = file;
  bad_version[7] = 2;
  EXPECT_FALSE(decode_tpm2_tools_credential(bad_version).ok());
  auto cut = file;
  cut.pop_back();
  EXPECT_FALSE(decode_tpm2_tools_credential(cut).ok());
  auto extra = file;
  extra.push_back(0);
  EXPECT_FALSE(decode_tpm2_tools_credential(extra).ok());
}

// tpm2-tools' own MakeCredential (run with --tcti none, i.e. in software) on the same inputs: its
// file decodes with our reader, has our sizes, and our test-side ActivateCredential accepts it,
// which checks that test (and so the round trips above) against an independent implementation.
TEST(MakeCredential, SameFormatAsTpm2ToolsMakecredential) {
  if (!::ironroot::testing::have_program("tpm2_makecredential")) {
    GTEST_SKIP() << "tpm2-tools not installed";
  }
  auto tmp =
      std::filesystem::temp_directory_path() / ("ironroot-tpm2-cred-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(tmp / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return (tmp / name).string();
  };
  auto ek = testing::rsa_key();
  const auto ek_pub = testing::make_tpm2b_public(ek.get(), testing::kEkAttributes);
  const auto name = random_name();
  const auto secret = crypto::random_bytes(32);
  const std::string cmd = "tpm2_makecredential --tcti none -u " + write("ek.pub", ek_pub) + " -s " +
                          write("secret.bin", secret) + " -n " + to_hex(name) + " -o " +
                          (tmp / "cred.out").string();
  auto run = ::ironroot::testing::run(cmd);
  ASSERT_EQ(run.status, 0) << cmd;
  auto theirs = decode_tpm2_tools_credential(read_bytes((tmp / "cred.out").string()));
  ASSERT_TRUE(theirs.ok()) << theirs.error().message();
  std::string why;
  EXPECT_EQ(testing::activate_credential(ek.get(), *theirs, name, &why), secret) << why;

  auto ours = make_credential(ek_pub, name, secret);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(ours->id_object.size(), theirs->id_object.size());
  EXPECT_EQ(ours->encrypted_secret.size(), theirs->encrypted_secret.size());
  EXPECT_EQ(encode_tpm2_tools_credential(*ours).size(),
            read_bytes((tmp / "cred.out").string()).size());
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace ironroot::tpm2
