// lib/tpm2 against a real TPM: a swtpm manufactured with EK certificates (support/swtpm.h), driven
// by tpm2-tools. Credentials made by make_credential() are activated by the TPM; quotes made by
// the TPM verify with verify_quote() (and with tpm2_checkquote); the EK certificate in NV chains
// to swtpm's local CA and certifies the EK tpm2_createek recreates. Skipped when swtpm or
// tpm2-tools are not installed.
#include "support/swtpm.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/hex.h"
#include "crypto/pki.h"
#include "support/corpus.h"
#include "tpm2/credential.h"
#include "tpm2/ekcert.h"
#include "tpm2/keys.h"
#include "tpm2/quote.h"

namespace ironroot::tpm2 {
namespace {

namespace fs = std::filesystem;
using ::ironroot::testing::read_bytes;

struct Ran {
  int status = -1;
  std::string output;  // stdout and stderr
};

class SwtpmTpm2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!::ironroot::sim::swtpm_available()) return;
    auto s = ::ironroot::testing::start_swtpm();
    if (!s) {
      start_error_ = new std::string(s.error().message());
      return;
    }
    swtpm_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    delete swtpm_;  // kills swtpm
    swtpm_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    IRONROOT_REQUIRE_SWTPM();
    if (!::ironroot::testing::have_program("tpm2_activatecredential")) {
      GTEST_SKIP() << "tpm2-tools not installed";
    }
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_NE(swtpm_, nullptr);
    // A parameterised test's name holds a '/': one directory, not a parent left behind.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("ironroot-tpm2-" + std::to_string(::getpid()) + "-" + name);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      // Leave no session or object behind for the next test.
      tool("tpm2_flushcontext -t");
      tool("tpm2_flushcontext -s");
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs a tpm2-tools command against the swtpm, in the test's directory.
  Ran tool(const std::string& command) {
    std::string full = "cd '" + dir_.string() + "' && TPM2TOOLS_TCTI='" + swtpm_->tcti() + "' " +
                       command + " 2>&1";
    Ran r;
    FILE* p = ::popen(full.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  }

  // tpm2-tools leaves the objects it creates loaded; swtpm has 3 transient slots. The saved
  // contexts (ek.ctx, ak.ctx) stay usable: tools load them again.
  void flush_transient() { tool("tpm2_flushcontext -t"); }

  void write(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(path(name), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }

  // tpm2_activatecredential with the EK's policy (PolicySecret on the endorsement hierarchy).
  Ran activate(const std::string& cred_file) {
    Ran r = tool("tpm2_startauthsession --policy-session -S s.ctx");
    if (r.status != 0) return r;
    r = tool("tpm2_policysecret -S s.ctx -c e");
    if (r.status != 0) return r;
    Ran a = tool("tpm2_activatecredential -c ak.ctx -C ek.ctx -i " + cred_file +
                 " -o out.bin -P session:s.ctx");
    tool("tpm2_flushcontext s.ctx");
    return a;
  }

  void credential_round_trip(const std::string& ek_alg, const std::string& ak_args) {
    Ran r = tool("tpm2_createek -c ek.ctx -G " + ek_alg + " -u ek.pub");
    ASSERT_EQ(r.status, 0) << r.output;
    r = tool("tpm2_createak -C ek.ctx -c ak.ctx " + ak_args + " -u ak.pub -n ak.name");
    ASSERT_EQ(r.status, 0) << r.output;
    flush_transient();
    const auto ek_pub = read_bytes(path("ek.pub"));
    const auto ak_pub = read_bytes(path("ak.pub"));
    auto ak_name = name(ak_pub);
    ASSERT_TRUE(ak_name.ok()) << ak_name.error().message();
    EXPECT_EQ(*ak_name, read_bytes(path("ak.name")));  // the TPM's own name for the AK

    const auto secret = crypto::random_bytes(32);
    auto cred = make_credential(ek_pub, *ak_name, secret);
    ASSERT_TRUE(cred.ok()) << cred.error().message();
    write("cred.out", encode_tpm2_tools_credential(*cred));
    r = activate("cred.out");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(read_bytes(path("out.bin")), secret);

    // Made for another object's name: the TPM refuses (outer HMAC / integrity check).
    auto other_name = *ak_name;
    other_name.back() ^= 1;
    auto wrong = make_credential(ek_pub, other_name, secret);
    ASSERT_TRUE(wrong.ok());
    write("wrong.out", encode_tpm2_tools_credential(*wrong));
    fs::remove(path("out.bin"));
    r = activate("wrong.out");
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_FALSE(fs::exists(path("out.bin")));
  }

  static ::ironroot::sim::Swtpm* swtpm_;
  static std::string* start_error_;
  fs::path dir_;
};

::ironroot::sim::Swtpm* SwtpmTpm2::swtpm_ = nullptr;
std::string* SwtpmTpm2::start_error_ = nullptr;

TEST_F(SwtpmTpm2, CredentialForRsaEkActivates) {
  credential_round_trip("rsa", "-G ecc -g sha256 -s ecdsa");
}

TEST_F(SwtpmTpm2, CredentialForEccEkActivates) {
  credential_round_trip("ecc", "-G rsa -g sha256 -s rsassa");
}

// Quotes by the TPM: ECDSA, RSASSA and RSAPSS AKs.
class SwtpmQuote : public SwtpmTpm2, public ::testing::WithParamInterface<const char*> {};

TEST_P(SwtpmQuote, RealQuoteVerifies) {
  Ran r = tool("tpm2_createek -c ek.ctx -G rsa -u ek.pub");
  ASSERT_EQ(r.status, 0) << r.output;
  r = tool(std::string("tpm2_createak -C ek.ctx -c ak.ctx ") + GetParam() +
           " -u ak.pub -n ak.name");
  ASSERT_EQ(r.status, 0) << r.output;
  flush_transient();
  // Make PCR 1 non-trivial.
  r = tool("tpm2_pcrextend 1:sha256=" + to_hex(crypto::random_bytes(32)));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string nonce = to_hex(crypto::random_bytes(20));
  // tpm2_quote signs with the key type's default scheme unless told (an RSAPSS AK must be).
  const std::string scheme =
      std::string(GetParam()).find("rsapss") != std::string::npos ? " --scheme rsapss" : "";
  r = tool("tpm2_quote -c ak.ctx -l sha256:0,1,2 -q " + nonce +
           " -m msg.out -s sig.out -o pcrs.out -g sha256" + scheme);
  ASSERT_EQ(r.status, 0) << r.output;
  // Cross-check with tpm2-tools, except RSAPSS: tpm2_checkquote verifies only PKCS#1 v1.5 RSA
  // signatures before tpm2-tools 5.7 (commit b4687c3f "Add rsapss padding"); Debian 12 has 5.4.
  if (scheme.empty()) {
    r = tool("tpm2_checkquote -u ak.pub -m msg.out -s sig.out -f pcrs.out -g sha256 -q " + nonce);
    ASSERT_EQ(r.status, 0) << "tpm2_checkquote: " << r.output;
  }

  const auto ak = read_bytes(path("ak.pub"));
  const auto msg = read_bytes(path("msg.out"));
  const auto sig = read_bytes(path("sig.out"));
  auto q = verify_quote(ak, msg, sig);
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_EQ(to_hex(q->extra_data), nonce);
  ASSERT_EQ(q->pcr_selection.size(), 1u);
  EXPECT_EQ(q->pcr_selection[0].bank, crypto::HashAlg::kSha256);
  EXPECT_EQ(q->pcr_selection[0].pcrs(), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_TRUE(q->clock_info.safe);

  // The values tpm2_quote recorded, and the ones tpm2_pcrread reads now, hash to pcrDigest.
  auto recorded = parse_tpm2_tools_pcrs(read_bytes(path("pcrs.out")));
  ASSERT_TRUE(recorded.ok()) << recorded.error().message();
  EXPECT_EQ(recorded->selection, q->pcr_selection);
  EXPECT_TRUE(pcr_digest_matches(*q, recorded->values));
  r = tool("tpm2_pcrread sha256:0,1,2 -o pcrvals.bin");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto raw = read_bytes(path("pcrvals.bin"));
  ASSERT_EQ(raw.size(), 3u * 32u);
  std::vector<crypto::Digest> values;
  for (size_t i = 0; i < 3; ++i) {
    crypto::Digest d;
    d.alg = crypto::HashAlg::kSha256;
    d.size = 32;
    std::copy(raw.begin() + static_cast<long>(32 * i),
              raw.begin() + static_cast<long>(32 * (i + 1)), d.bytes.begin());
    values.push_back(d);
  }
  EXPECT_EQ(values, recorded->values);
  EXPECT_EQ(pcr_composite_digest(crypto::HashAlg::kSha256, values), q->pcr_digest);
  EXPECT_TRUE(pcr_digest_matches(*q, values));
  values[1].bytes[31] ^= 1;
  EXPECT_FALSE(pcr_digest_matches(*q, values));

  // A flipped bit in the message or in the signature is refused.
  for (size_t i : {size_t{0}, size_t{10}, msg.size() / 2, msg.size() - 1}) {
    auto bad = msg;
    bad[i] ^= 0x20;
    EXPECT_FALSE(verify_quote(ak, bad, sig).ok()) << "message byte " << i;
  }
  for (size_t i : {sig.size() / 2, sig.size() - 1}) {
    auto bad = sig;
    bad[i] ^= 0x20;
    auto v = verify_quote(ak, msg, bad);
    ASSERT_FALSE(v.ok()) << "signature byte " << i;
    EXPECT_NE(v.error().message().find("does not verify"), std::string::npos)
        << v.error().message();
  }
  // The EK cannot be passed off as the AK.
  EXPECT_FALSE(verify_quote(read_bytes(path("ek.pub")), msg, sig).ok());
}

INSTANTIATE_TEST_SUITE_P(Aks, SwtpmQuote,
                         ::testing::Values("-G ecc -g sha256 -s ecdsa",
                                           "-G rsa -g sha256 -s rsassa",
                                           "-G rsa -g sha256 -s rsapss"),
                         [](const auto& p) {
                           std::string s = p.param;
                           return s.substr(s.rfind(' ') + 1);
                         });

TEST_F(SwtpmTpm2, EkCertificateFromNvChainsAndCertifiesTheEk) {
  // TCG EK Credential Profile NV indices: 0x01c00002 RSA 2048 EK certificate, 0x01c0000a ECC
  // P-256; swtpm_setup 0.7 writes its ECC (P-384) EK certificate at 0x01c00016.
  Ran r = tool("tpm2_nvread 0x1c00002 -o ekcert.der");
  ASSERT_EQ(r.status, 0) << r.output;
  r = tool("tpm2_createek -c ek.ctx -G rsa -u ek.pub");
  ASSERT_EQ(r.status, 0) << r.output;
  flush_transient();
  const auto cert = read_bytes(path("ekcert.der"));
  const sim::LocalCa* ca = ::ironroot::testing::swtpm_ca();
  ASSERT_NE(ca, nullptr);

  auto chain = CaBundle::load(ca->chain_file());  // issuing CA + root
  ASSERT_TRUE(chain.ok()) << chain.error().message();
  EXPECT_EQ(chain->size(), 2u);
  auto info = verify_ek_certificate(cert, *chain, std::nullopt);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_TRUE(info->anchor_is_root);
  EXPECT_EQ(info->chain.size(), 3u);
  EXPECT_EQ(info->tpm_manufacturer, "id:00001014");
  EXPECT_EQ(info->tpm_model, "swtpm");
  EXPECT_EQ(info->tpm_version, "id:20191023");
  EXPECT_TRUE(info->tcg_ek_eku);
  EXPECT_TRUE(info->key_encipherment);
  EXPECT_TRUE(public_key_matches(*info, read_bytes(path("ek.pub"))));

  // Root only: the issuing CA must come with the certificate.
  auto root = CaBundle::load(ca->root_file());
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE(verify_ek_certificate(cert, *root, std::nullopt).ok());
  const auto issuer_and_root = read_bytes(ca->chain_file());
  auto with_issuer = verify_ek_certificate(cert, *root, std::nullopt, {issuer_and_root});
  ASSERT_TRUE(with_issuer.ok()) << with_issuer.error().message();

  // The ECC EK certificate certifies swtpm_setup's P-384 EK, not the P-256 EK of the TCG default
  // template that `tpm2_createek -G ecc` makes.
  r = tool("tpm2_nvread 0x1c00016 -o ekcert_ecc.der");
  ASSERT_EQ(r.status, 0) << r.output;
  auto ecc = verify_ek_certificate(read_bytes(path("ekcert_ecc.der")), *chain, std::nullopt);
  ASSERT_TRUE(ecc.ok()) << ecc.error().message();
  EXPECT_EQ(EVP_PKEY_get_bits(ecc->public_key.get()), 384);
  r = tool("tpm2_createek -c ek_ecc.ctx -G ecc -u ek_ecc.pub");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(public_key_matches(*ecc, read_bytes(path("ek_ecc.pub"))));
  EXPECT_FALSE(public_key_matches(*ecc, read_bytes(path("ek.pub"))));
}

}  // namespace
}  // namespace ironroot::tpm2
