// lib/tpm2 quotes on real data: the keylime test quote (tpm2-tools output from an emulated TPM)
// and two real GCE attestations from go-tpm-tools (AK, quotes over three banks, AK certificate).
#include "tpm2/quote.h"

#include <gtest/gtest.h>

#include "core/hex.h"
#include "support/corpus.h"
#include "tpm2/ekcert.h"
#include "tpm2/keys.h"
#include "tpm2/structures.h"
#include "tpm2/tpm2_test_util.h"

namespace ironroot::tpm2 {
namespace {

using ::ironroot::testing::read_bytes;
using testing::hex;

struct Keylime {
  std::vector<uint8_t> ak, ek, msg, sig, pcrs;
};

Keylime load_keylime(const std::string& dir) {
  const std::string d = dir + "/quote/keylime-test-data/";
  return {read_bytes(d + "ak.pub"), read_bytes(d + "ek.pub"), read_bytes(d + "quote.out"),
          read_bytes(d + "quotesig.out"), read_bytes(d + "quotepcr.out")};
}

crypto::Digest digest(crypto::HashAlg alg, const std::vector<uint8_t>& bytes) {
  crypto::Digest d;
  d.alg = alg;
  d.size = static_cast<uint8_t>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), d.bytes.begin());
  return d;
}

TEST(Quote, KeylimeQuoteVerifies) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  // tpm2-tools writes the bare TPMS_ATTEST (no TPM2B size), starting with the magic.
  ASSERT_EQ(to_hex(Bytes(k.msg.data(), 4)), "ff544347");
  auto q = verify_quote(k.ak, k.msg, k.sig);
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_EQ(to_hex(q->extra_data), "db1db298db6d60e6385b7231743e9c3056a18003");
  EXPECT_EQ(q->clock_info.clock, 0x176au);
  EXPECT_EQ(q->clock_info.reset_count, 0u);
  EXPECT_EQ(q->clock_info.restart_count, 0u);
  EXPECT_TRUE(q->clock_info.safe);
  EXPECT_EQ(q->firmware_version, 0x2016051100162800u);
  EXPECT_EQ(q->signature_scheme, alg::kRsassa);
  ASSERT_EQ(q->pcr_selection.size(), 1u);
  EXPECT_EQ(q->pcr_selection[0].bank, crypto::HashAlg::kSha256);
  EXPECT_EQ(q->pcr_selection[0].pcrs(), (std::vector<uint32_t>{15, 16, 22}));
  EXPECT_EQ(q->pcr_digest.alg, crypto::HashAlg::kSha256);
  EXPECT_EQ(q->pcr_digest.hex(),
            "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971");
  EXPECT_EQ(q->qualified_signer.size(), 34u);

  // The same quote as a TPM2B_ATTEST.
  auto q2 = verify_quote(k.ak, testing::tpm2b(k.msg), k.sig);
  ASSERT_TRUE(q2.ok()) << q2.error().message();
  EXPECT_EQ(q2->extra_data, q->extra_data);
}

TEST(Quote, KeylimePcrValuesMatchTheQuotedDigest) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  auto q = verify_quote(k.ak, k.msg, k.sig);
  ASSERT_TRUE(q.ok()) << q.error().message();
  auto pcrs = parse_tpm2_tools_pcrs(k.pcrs);
  ASSERT_TRUE(pcrs.ok()) << pcrs.error().message();
  EXPECT_EQ(pcrs->selection, q->pcr_selection);
  ASSERT_EQ(pcrs->values.size(), 3u);
  EXPECT_EQ(pcrs->values[0].hex(), std::string(64, '0'));  // PCR 15
  EXPECT_EQ(pcrs->values[1].hex(),
            "9dbb22387e019c04da954773335460"
            "82ce313152c4a7f8a6e1d5f0c77f4fb6f0");
  EXPECT_EQ(pcrs->values[2].hex(), std::string(64, 'f'));  // PCR 22
  EXPECT_TRUE(pcr_digest_matches(*q, pcrs->values));
  EXPECT_EQ(pcr_composite_digest(crypto::HashAlg::kSha256, pcrs->values), q->pcr_digest);

  auto changed = pcrs->values;
  changed[1].bytes[0] ^= 1;
  EXPECT_FALSE(pcr_digest_matches(*q, changed));
  auto fewer = pcrs->values;
  fewer.pop_back();
  EXPECT_FALSE(pcr_digest_matches(*q, fewer));
  auto more = pcrs->values;
  more.push_back(pcrs->values[0]);
  EXPECT_FALSE(pcr_digest_matches(*q, more));
  auto wrong_bank = pcrs->values;
  wrong_bank[0].alg = crypto::HashAlg::kSha3_256;
  EXPECT_FALSE(pcr_digest_matches(*q, wrong_bank));
}

TEST(Quote, AnyFlippedBitIsRefused) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  for (size_t i = 0; i < k.msg.size(); ++i) {
    auto msg = k.msg;
    msg[i] ^= 0x04;
    EXPECT_FALSE(verify_quote(k.ak, msg, k.sig).ok()) << "message byte " << i;
  }
  // Flipped bits in the signature value (after sigAlg 2, hash 2, size 2).
  for (size_t i = 6; i < k.sig.size(); i += 7) {
    auto sig = k.sig;
    sig[i] ^= 0x80;
    auto r = verify_quote(k.ak, k.msg, sig);
    ASSERT_FALSE(r.ok()) << "signature byte " << i;
    EXPECT_NE(r.error().message().find("does not verify"), std::string::npos)
        << r.error().message();
  }
  // A changed nonce in particular: the message is the error a verifier logs.
  auto msg = k.msg;
  msg[0x28] ^= 0xff;  // first byte of extraData
  auto r = verify_quote(k.ak, msg, k.sig);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "quote signature does not verify with the AK public key (rsassa/sha256)");
}

TEST(Quote, RefusesWrongKeysAndStructures) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  // The EK is not a signing key: quotes "signed" by decryption keys are meaningless.
  auto r = verify_quote(k.ek, k.msg, k.sig);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not a restricted signing key"), std::string::npos);
  // Another RSA AK: the signature does not verify.
  auto other = testing::rsa_key();
  r = verify_quote(testing::make_tpm2b_public(other.get(), testing::kAkAttributes), k.msg, k.sig);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does not verify"), std::string::npos);
  // An ECC AK cannot have made an RSASSA signature.
  auto ecc = testing::ec_key();
  r = verify_quote(testing::make_tpm2b_public(ecc.get(), testing::kAkAttributes), k.msg, k.sig);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("cannot come from an ECC key"), std::string::npos);
  // Structures cut short, no magic, signature swapped for the message.
  std::vector<uint8_t> cut(k.msg.begin(), k.msg.end() - 1);
  EXPECT_FALSE(verify_quote(k.ak, cut, k.sig).ok());
  std::vector<uint8_t> no_magic = k.msg;
  no_magic[0] = 0;
  r = verify_quote(k.ak, no_magic, k.sig);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("TPM_GENERATED_VALUE"), std::string::npos);
  EXPECT_FALSE(verify_quote(k.ak, k.sig, k.msg).ok());
  EXPECT_FALSE(verify_quote(k.ak, k.msg, {}).ok());
  std::vector<uint8_t> sig_tail = k.sig;
  sig_tail.push_back(0);
  EXPECT_FALSE(verify_quote(k.ak, k.msg, sig_tail).ok());
}

TEST(Quote, NotAQuoteIsRefused) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  auto a = parse_attest(k.msg);
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->type, st::kAttestQuote);
  // Same bytes with type TPM_ST_ATTEST_TIME: no longer a quote (and no longer signed).
  auto msg = k.msg;
  msg[5] = 0x19;
  auto r = verify_quote(k.ak, msg, k.sig);
  EXPECT_FALSE(r.ok());
}

TEST(Quote, ParseSignature) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  auto s = parse_signature(k.sig);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->sig_alg, alg::kRsassa);
  EXPECT_EQ(s->hash, crypto::HashAlg::kSha256);
  EXPECT_EQ(s->rsa.size(), 256u);
  // sigAlg NULL, HMAC: well-formed but not quote signatures.
  auto null_sig = parse_signature(std::vector<uint8_t>{0x00, 0x10});
  ASSERT_FALSE(null_sig.ok());
  EXPECT_EQ(null_sig.error().code(), ErrorCode::kUnsupported);
}

TEST(Quote, CompositeDigestOfKnownValues) {
  // SHA-256 over the concatenation, whatever the banks' algorithm (here: SHA-1 values).
  std::vector<crypto::Digest> values = {crypto::Digest::zero(crypto::HashAlg::kSha1),
                                        crypto::Digest::zero(crypto::HashAlg::kSha1)};
  EXPECT_EQ(pcr_composite_digest(crypto::HashAlg::kSha256, values).hex(),
            to_hex(testing::sha(EVP_sha256(), std::vector<uint8_t>(40, 0))));
  EXPECT_EQ(pcr_composite_digest(crypto::HashAlg::kSha256, {}).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Quote, Tpm2ToolsPcrFileErrors) {
  IRONROOT_REQUIRE_CORPUS(dir);
  Keylime k = load_keylime(dir);
  ASSERT_TRUE(parse_tpm2_tools_pcrs(k.pcrs).ok());
  EXPECT_FALSE(parse_tpm2_tools_pcrs({}).ok());
  auto cut = k.pcrs;
  cut.pop_back();
  EXPECT_FALSE(parse_tpm2_tools_pcrs(cut).ok());
  auto extra = k.pcrs;
  extra.push_back(0);
  EXPECT_FALSE(parse_tpm2_tools_pcrs(extra).ok());
  auto fewer = k.pcrs;
  fewer[0x88] = 2;  // the TPML_DIGEST holds 2 digests for 3 selected PCRs
  auto r = parse_tpm2_tools_pcrs(fewer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("2 digests for 3 selected PCRs"), std::string::npos)
      << r.error().message();
}

// --- go-tpm-tools: real GCE attestations ---------------------------------------------------------

class GceAttestation : public ::testing::TestWithParam<const char*> {};

TEST_P(GceAttestation, QuotesVerifyAndPcrsMatch) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const std::string file = dir + "/quote/go-tpm-tools/" + GetParam();
  auto att = testing::parse_go_attestation(read_bytes(file));
  ASSERT_FALSE(att.ak_pub.empty());
  ASSERT_EQ(att.quotes.size(), 3u);  // SHA-1, SHA-256, SHA-384 banks
  const std::vector<uint8_t> ak = testing::tpm2b(att.ak_pub);
  const bool with_nonce = std::string(GetParam()).find("nonce9009") != std::string::npos;
  std::vector<crypto::HashAlg> banks;
  for (const auto& gq : att.quotes) {
    auto q = verify_quote(ak, gq.quote, gq.raw_sig);
    ASSERT_TRUE(q.ok()) << file << ": " << q.error().message();
    const std::vector<uint8_t> nonce = with_nonce ? hex("9009") : std::vector<uint8_t>{};
    EXPECT_EQ(q->extra_data, nonce);
    ASSERT_EQ(q->pcr_selection.size(), 1u);
    const PcrSelection& sel = q->pcr_selection[0];
    EXPECT_EQ(static_cast<uint16_t>(sel.bank), gq.hash);
    EXPECT_EQ(sel.count(), 24u);
    banks.push_back(sel.bank);
    // pcrDigest uses the signature's hash (SHA-256), even over the SHA-1 bank.
    EXPECT_EQ(q->pcr_digest.alg, crypto::HashAlg::kSha256);
    std::vector<crypto::Digest> values;
    for (uint32_t pcr : sel.pcrs()) values.push_back(digest(sel.bank, gq.pcrs.at(pcr)));
    EXPECT_TRUE(pcr_digest_matches(*q, values)) << crypto::hash_alg_name(sel.bank);
    std::swap(values[0], values[1]);
    EXPECT_FALSE(pcr_digest_matches(*q, values));
  }
  EXPECT_EQ(banks, (std::vector<crypto::HashAlg>{crypto::HashAlg::kSha1, crypto::HashAlg::kSha256,
                                                 crypto::HashAlg::kSha384}));
}

TEST_P(GceAttestation, AkCertificateChainsToGoogleAndCertifiesTheAk) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto att = testing::parse_go_attestation(read_bytes(dir + "/quote/go-tpm-tools/" + GetParam()));
  ASSERT_FALSE(att.ak_cert.empty());
  auto cas = CaBundle::load(dir + "/ekcert/gce/ca");
  ASSERT_TRUE(cas.ok()) << cas.error().message();
  auto cert = verify_ek_certificate(att.ak_cert, *cas, std::nullopt, att.intermediates);
  ASSERT_TRUE(cert.ok()) << cert.error().message();
  EXPECT_TRUE(cert->anchor_is_root);
  EXPECT_TRUE(cert->digital_signature);
  EXPECT_TRUE(public_key_matches(*cert, testing::tpm2b(att.ak_pub)));
  auto other = testing::rsa_key();
  EXPECT_FALSE(
      public_key_matches(*cert, testing::make_tpm2b_public(other.get(), testing::kAkAttributes)));
}

INSTANTIATE_TEST_SUITE_P(GoTpmTools, GceAttestation,
                         ::testing::Values("gce-cos-85-nonce9009.pb", "gce-cos-85-no-nonce.pb"));

}  // namespace
}  // namespace ironroot::tpm2
