// lib/tpm2 EK certificates: real GCE EK / AK certificates against Google's CAs, the manufacturer
// CA collection (keylime + IBM TSS), and synthetic chains for the quirks the policy tolerates.
#include "tpm2/ekcert.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "support/corpus.h"
#include "tpm2/tpm2_test_util.h"

namespace ironroot::tpm2 {
namespace {

using ::ironroot::testing::read_bytes;

constexpr time_t kCorpusDate = 1795478400;  // 2026-11-24T00:00:00Z, the corpus collection day
constexpr time_t k2024 = 1704067200;        // 2024-01-01T00:00:00Z
constexpr time_t k2020 = 1577836800;        // 2020-01-01T00:00:00Z
constexpr time_t k2060 = 2840140800;        // 2060-01-01T00:00:00Z

const char* kGceEkRoot =
    "CN=tpm_ek_v1_cloud_host_root-signer-0-2018-04-06T10:58:26-07:00 K:1\\, 1:Pw003HsFYO4:0:18,"
    "OU=Cloud,O=Google LLC,L=Mountain View,ST=California,C=US";
const char* kGceEkIntermediate3 =
    "CN=tpm_ek_v1_cloud_host-signer-0-2021-10-12T04:22:11-07:00 K:1\\, 3:nbvaGZFLcuc:0:18,"
    "OU=Cloud,O=Google LLC,L=Mountain View,ST=California,C=US";
const char* kGceAkIntermediate =
    "CN=EK/AK CA Intermediate,OU=Google Cloud,O=Google LLC,L=Mountain View,ST=California,C=US";
const char* kGceAkRoot =
    "CN=EK/AK CA Root,OU=Google Cloud,O=Google LLC,L=Mountain View,ST=California,C=US";

std::vector<uint8_t> der_of_pem(const std::vector<uint8_t>& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* buf = nullptr;
  int len = i2d_X509(x, &buf);
  std::vector<uint8_t> out(buf, buf + len);
  OPENSSL_free(buf);
  X509_free(x);
  return out;
}

// --- GCE ---------------------------------------------------------------------------------------

struct GceCase {
  const char* file;
  bool uca;      // issued by the "tpm_ek" CAs (EK certificate profile) vs the "EK/AK CA" (pca)
  bool signing;  // *_sign_*: a signing key (AK) certificate; *_enc_*: an EK certificate
  bool rsa;
};

class GceCertificate : public ::testing::TestWithParam<GceCase> {};

TEST_P(GceCertificate, ChainsAsTheManifestSays) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const GceCase& c = GetParam();
  auto cas = CaBundle::load(dir + "/ekcert/gce/ca");
  ASSERT_TRUE(cas.ok()) << cas.error().message();
  auto info = verify_ek_certificate(read_bytes(dir + "/ekcert/gce/" + c.file), *cas, std::nullopt);
  ASSERT_TRUE(info.ok()) << c.file << ": " << info.error().message();
  ASSERT_EQ(info->chain.size(), 3u);
  EXPECT_EQ(info->chain[1], c.uca ? kGceEkIntermediate3 : kGceAkIntermediate);
  EXPECT_EQ(info->chain[2], c.uca ? kGceEkRoot : kGceAkRoot);
  EXPECT_TRUE(info->anchor_is_root);
  EXPECT_TRUE(info->relaxed.empty());
  EXPECT_FALSE(info->is_ca);
  if (c.uca) {
    // TCG EK Credential Profile: empty subject, identity in a critical SAN directoryName.
    EXPECT_EQ(info->subject, "");
    EXPECT_EQ(info->tpm_manufacturer, "id:474F4F47");
    EXPECT_EQ(info->tpm_vendor_id, "GOOG");
    EXPECT_EQ(info->tpm_model, "vTPM");
    EXPECT_EQ(info->tpm_version, "id:20160511");
    EXPECT_TRUE(info->tcg_ek_eku);
  } else {
    EXPECT_NE(info->subject.find("O=Google Compute Engine"), std::string::npos) << info->subject;
    EXPECT_EQ(info->tpm_manufacturer, "");
    EXPECT_FALSE(info->tcg_ek_eku);
  }
  EXPECT_TRUE(info->key_usage_present);
  EXPECT_EQ(info->digital_signature, c.signing);
  EXPECT_EQ(info->key_encipherment, !c.signing && c.rsa);
  EXPECT_EQ(info->key_agreement, !c.signing && !c.rsa);
  ASSERT_FALSE(info->public_key.empty());
  EXPECT_EQ(EVP_PKEY_get_base_id(info->public_key.get()), c.rsa ? EVP_PKEY_RSA : EVP_PKEY_EC);
}

INSTANTIATE_TEST_SUITE_P(Corpus, GceCertificate,
                         ::testing::Values(GceCase{"uca_tpm_rsa_enc_cert.pem", true, false, true},
                                           GceCase{"uca_tpm_ecc_enc_cert.pem", true, false, false},
                                           GceCase{"uca_tpm_rsa_sign_cert.pem", true, true, true},
                                           GceCase{"uca_tpm_ecc_sign_cert.pem", true, true, false},
                                           GceCase{"pca_tpm_rsa_enc_cert.pem", false, false, true},
                                           GceCase{"pca_tpm_ecc_enc_cert.pem", false, false, false},
                                           GceCase{"pca_tpm_rsa_sign_cert.pem", false, true, true},
                                           GceCase{"pca_tpm_ecc_sign_cert.pem", false, true,
                                                   false}),
                         [](const auto& p) {
                           std::string n = p.param.file;
                           return n.substr(0, n.find(".pem"));
                         });

TEST(EkCert, GceCaDirectoryLoads) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto cas = CaBundle::load(dir + "/ekcert/gce/ca");
  ASSERT_TRUE(cas.ok()) << cas.error().message();
  EXPECT_EQ(cas->size(), 5u);  // DER files (.crt, .cer)
  EXPECT_EQ(cas->stats().files, 5u);
  EXPECT_EQ(cas->stats().duplicates, 0u);
  EXPECT_TRUE(cas->notes().empty());
  size_t roots = 0;
  for (const auto& c : cas->certificates()) roots += c.self_signed ? 1 : 0;
  EXPECT_EQ(roots, 2u);
}

TEST(EkCert, UnknownIssuerIsRefusedByName) {
  IRONROOT_REQUIRE_CORPUS(dir);
  // Only the "EK/AK CA" pair: the uca certificates' issuer is not there.
  CaBundle cas;
  ASSERT_TRUE(cas.add_path(dir + "/ekcert/gce/ca/gcp_ek_ak_ca_root.crt").ok());
  ASSERT_TRUE(cas.add_path(dir + "/ekcert/gce/ca/gcp_ek_ak_ca_intermediate_v3.crt").ok());
  auto r = verify_ek_certificate(read_bytes(dir + "/ekcert/gce/uca_tpm_rsa_enc_cert.pem"), cas,
                                 std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(r.error().message().find(std::string("issuer '") + kGceEkIntermediate3 + "'"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("is not in the CA bundle"), std::string::npos);
  // An empty bundle trusts nothing.
  CaBundle empty;
  EXPECT_FALSE(verify_ek_certificate(read_bytes(dir + "/ekcert/gce/pca_tpm_rsa_enc_cert.pem"),
                                     empty, std::nullopt)
                   .ok());
}

TEST(EkCert, TamperedCertificateIsRefused) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto cas = CaBundle::load(dir + "/ekcert/gce/ca");
  ASSERT_TRUE(cas.ok());
  auto der = der_of_pem(read_bytes(dir + "/ekcert/gce/uca_tpm_ecc_enc_cert.pem"));
  ASSERT_TRUE(verify_ek_certificate(der, *cas, std::nullopt).ok());  // DER works as PEM does
  // A bit of the signature value (the last bytes of the certificate).
  auto bad_sig = der;
  bad_sig[bad_sig.size() - 3] ^= 0x01;
  auto r = verify_ek_certificate(bad_sig, *cas, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("signature"), std::string::npos) << r.error().message();
  // A bit of the signed content: the SAN's model "vTPM" becomes "wTPM".
  auto bad_tbs = der;
  auto it = std::search(bad_tbs.begin(), bad_tbs.end(), std::begin("vTPM"), std::end("vTPM") - 1);
  ASSERT_NE(it, bad_tbs.end());
  *it = 'w';
  r = verify_ek_certificate(bad_tbs, *cas, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("signature failure"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(verify_ek_certificate(std::vector<uint8_t>{1, 2, 3}, *cas, std::nullopt).ok());
}

TEST(EkCert, ValidityIsCheckedAtTheGivenTime) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto cas = CaBundle::load(dir + "/ekcert/gce/ca");
  ASSERT_TRUE(cas.ok());
  const auto cert = read_bytes(dir + "/ekcert/gce/uca_tpm_rsa_enc_cert.pem");
  auto ok = verify_ek_certificate(cert, *cas, k2024);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->not_before, 1665174530);  // 2022-10-07T20:28:50Z
  auto early = verify_ek_certificate(cert, *cas, k2020);
  ASSERT_FALSE(early.ok());
  // OpenSSL checks validity from the anchor down: the intermediate (issued 2021) fails first.
  EXPECT_NE(early.error().message().find(std::string("'") + kGceEkIntermediate3 +
                                         "' (depth 1) is not valid before 2021-10-12T11:22:11Z"),
            std::string::npos)
      << early.error().message();
  auto before_leaf = verify_ek_certificate(cert, *cas, 1640995200);  // 2022-01-01
  ASSERT_FALSE(before_leaf.ok());
  EXPECT_NE(
      before_leaf.error().message().find("(depth 0) is not valid before 2022-10-07T20:28:50Z"),
      std::string::npos)
      << before_leaf.error().message();
  auto late = verify_ek_certificate(cert, *cas, k2060);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message().find("expired 2052-09-29T20:33:50Z"), std::string::npos)
      << late.error().message();
}

// --- manufacturer CAs ----------------------------------------------------------------------------

TEST(CaBundle, ManufacturerCollectionLoads) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const std::string root = dir + "/ekcert/manufacturer-ca";
  auto cas = CaBundle::load(root);
  ASSERT_TRUE(cas.ok()) << cas.error().message();
  // 116 files: 113 with certificates (two ibmtss chain files hold 2 each), 3 without
  // (.cvsignore, rootcerts.txt, rootcerts.windows.txt: lists of file names).
  EXPECT_EQ(cas->stats().files, 116u);
  EXPECT_EQ(cas->stats().certificate_files, 113u);
  EXPECT_EQ(cas->stats().skipped_files, 3u);
  EXPECT_EQ(cas->stats().certificates_read, 115u);
  // keylime's tpm_cert_store and IBM's collection overlap: 72 distinct certificates.
  EXPECT_EQ(cas->size(), 72u);
  EXPECT_EQ(cas->stats().duplicates, 43u);

  auto has_note = [&](const std::string& text) {
    return std::any_of(cas->notes().begin(), cas->notes().end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has_note(root + "/ibmtss/.cvsignore: skipped: no certificate"));
  EXPECT_TRUE(has_note(root + "/ibmtss/rootcerts.txt: skipped"));
  EXPECT_TRUE(has_note(root + "/IFX_RSA_01I.pem: duplicate of " + root + "/IFX1.pem"));
  // The one expired CA (three copies): Infineon's first EK intermediate, expired 2025-10-20.
  EXPECT_TRUE(has_note(root + "/IFX1.pem: 'CN=IFX TPM EK Intermediate CA 01,OU=AIM,"
                              "O=Infineon Technologies AG,ST=Saxony,C=DE' expired "
                              "2025-10-20T13:47:43Z"));
  auto invalid = cas->invalid_at(kCorpusDate);
  ASSERT_EQ(invalid.size(), 1u);
  EXPECT_EQ(invalid[0].source, root + "/IFX1.pem");
  EXPECT_EQ(invalid[0].not_after, 1760968063);
  EXPECT_TRUE(cas->invalid_at(k2024).empty());

  // Text dumps around PEM (keylime's Alibaba / Nationz files start with `openssl x509 -text`).
  auto alibaba = std::find_if(cas->certificates().begin(), cas->certificates().end(),
                              [](const CaCertificate& c) {
                                return c.subject.find("Aliyun TPM EKMF CA") != std::string::npos;
                              });
  ASSERT_NE(alibaba, cas->certificates().end());
  EXPECT_FALSE(alibaba->self_signed);
  std::set<std::string> fingerprints;
  for (const auto& c : cas->certificates()) fingerprints.insert(c.sha256);
  EXPECT_EQ(fingerprints.size(), 72u);
}

TEST(CaBundle, ChainsThroughManufacturerCas) {
  IRONROOT_REQUIRE_CORPUS(dir);
  const std::string root = dir + "/ekcert/manufacturer-ca";
  // Roots only: Infineon's "IFX TPM EK Root CA" is itself cross-signed by the VeriSign TPM root.
  CaBundle roots;
  ASSERT_TRUE(roots.add_path(root + "/IFX_RSA_RT.pem").ok());
  ASSERT_TRUE(
      roots.add_path(root + "/ibmtss/Infineon-TPM1.2_VRSN_root_certificate-C-v01_00-EN.pem").ok());
  auto ok = verify_ek_certificate(read_bytes(root + "/IFX_RSA_17I.pem"), roots, kCorpusDate);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  ASSERT_EQ(ok->chain.size(), 3u);
  EXPECT_NE(ok->chain[1].find("CN=IFX TPM EK Root CA"), std::string::npos);
  EXPECT_NE(ok->chain[2].find("CN=VeriSign Trusted Platform Module Root CA"), std::string::npos);
  EXPECT_TRUE(ok->anchor_is_root);
  EXPECT_TRUE(ok->is_ca);

  // Infineon's intermediates 01..20 (1662-byte files) name the root's subject and serial 3 in
  // their authorityKeyIdentifier, not the root's issuer and serial: RFC 5280 path building (and
  // OpenSSL) cannot link them to the root that signed them. Hence: bundle intermediates are
  // trust anchors (see ekcert.h).
  auto akid = verify_ek_certificate(read_bytes(root + "/IFX2.pem"), roots, k2024);
  ASSERT_FALSE(akid.ok());
  EXPECT_NE(akid.error().message().find("issuer 'CN=IFX TPM EK Root CA"), std::string::npos)
      << akid.error().message();
}

TEST(CaBundle, PathErrors) {
  CaBundle cas;
  EXPECT_EQ(cas.add_path("/nonexistent/ironroot").error().code(), ErrorCode::kNotFound);
  auto r = cas.add_certificates(std::vector<uint8_t>{'h', 'i'}, "mem");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
  EXPECT_EQ(cas.size(), 0u);
}

// --- synthetic chains: the tolerated quirks, and what stays refused
// -------------------------------

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct Ext {
  const char* oid;
  bool critical;
};

// A certificate for `key` signed by `issuer_key` (issuer `issuer`, or self-signed when null).
X509Ptr make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                  std::vector<Ext> extra = {}) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x.get(), key);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,keyEncipherment");
  add(NID_subject_key_identifier, "hash");
  for (const Ext& e : extra) {
    ASN1_OBJECT* obj = OBJ_txt2obj(e.oid, 1);
    ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
    const unsigned char value[] = {0x30, 0x00};  // an empty SEQUENCE
    ASN1_OCTET_STRING_set(data, value, sizeof value);
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, e.critical ? 1 : 0, data);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(data);
    ASN1_OBJECT_free(obj);
  }
  X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return x;
}

std::vector<uint8_t> to_der(X509* x) {
  unsigned char* buf = nullptr;
  int len = i2d_X509(x, &buf);
  std::vector<uint8_t> out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

std::vector<uint8_t> to_pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  std::vector<uint8_t> out(mem->data, mem->data + mem->length);
  BIO_free(bio);
  return out;
}

class SyntheticChain : public ::testing::Test {
 protected:
  void SetUp() override {
    root_key = testing::ec_key();
    int_key = testing::ec_key();
    ek_key = testing::rsa_key();
    root = make_cert("Test TPM Root", root_key.get(), nullptr, nullptr, true);
    intermediate =
        make_cert("Test TPM Intermediate", int_key.get(), root.get(), root_key.get(), true);
    ASSERT_TRUE(bundle.add_certificates(to_der(root.get()), "root.der").ok());
  }
  testing::Pkey root_key, int_key, ek_key;
  X509Ptr root, intermediate;
  CaBundle bundle;
};

TEST_F(SyntheticChain, IntermediatesMayComeWithTheCertificate) {
  auto ek = make_cert("ek", ek_key.get(), intermediate.get(), int_key.get(), false);
  // Without the intermediate: unknown issuer.
  auto r = verify_ek_certificate(to_der(ek.get()), bundle, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("issuer 'CN=Test TPM Intermediate'"), std::string::npos);
  // As an untrusted DER intermediate.
  auto ok =
      verify_ek_certificate(to_der(ek.get()), bundle, std::nullopt, {to_der(intermediate.get())});
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->chain,
            (std::vector<std::string>{"CN=ek", "CN=Test TPM Intermediate", "CN=Test TPM Root"}));
  EXPECT_TRUE(ok->anchor_is_root);
  // As a second PEM certificate after the EK certificate.
  auto pem = to_pem(ek.get());
  auto ipem = to_pem(intermediate.get());
  pem.insert(pem.end(), ipem.begin(), ipem.end());
  EXPECT_TRUE(verify_ek_certificate(pem, bundle, std::nullopt).ok());
  // An intermediate in the bundle is an anchor by itself (no root needed).
  CaBundle only_intermediate;
  ASSERT_TRUE(only_intermediate.add_certificates(to_pem(intermediate.get()), "int.pem").ok());
  auto partial = verify_ek_certificate(to_der(ek.get()), only_intermediate, std::nullopt);
  ASSERT_TRUE(partial.ok()) << partial.error().message();
  EXPECT_EQ(partial->chain.size(), 2u);
  EXPECT_FALSE(partial->anchor_is_root);
  // An intermediate signed by someone else is not one.
  auto rogue_key = testing::ec_key();
  auto rogue =
      make_cert("Test TPM Intermediate", rogue_key.get(), root.get(), rogue_key.get(), true);
  EXPECT_FALSE(
      verify_ek_certificate(to_der(ek.get()), bundle, std::nullopt, {to_der(rogue.get())}).ok());
}

TEST_F(SyntheticChain, CriticalSubjectDirectoryAttributesIsTolerated) {
  auto ek = make_cert("ek", ek_key.get(), root.get(), root_key.get(), false, {{"2.5.29.9", true}});
  auto ok = verify_ek_certificate(to_der(ek.get()), bundle, std::nullopt);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  ASSERT_EQ(ok->relaxed.size(), 1u);
  EXPECT_EQ(
      ok->relaxed[0],
      "critical extension 2.5.29.9 (subjectDirectoryAttributes) in 'CN=ek' accepted unprocessed");
  // Non-critical: nothing to tolerate.
  auto plain =
      make_cert("ek", ek_key.get(), root.get(), root_key.get(), false, {{"2.5.29.9", false}});
  auto ok2 = verify_ek_certificate(to_der(plain.get()), bundle, std::nullopt);
  ASSERT_TRUE(ok2.ok());
  EXPECT_TRUE(ok2->relaxed.empty());
}

TEST_F(SyntheticChain, OtherUnhandledCriticalExtensionsAreRefused) {
  auto ek = make_cert("ek", ek_key.get(), root.get(), root_key.get(), false,
                      {{"2.5.29.9", true}, {"1.3.6.1.4.1.99999.1", true}});
  auto r = verify_ek_certificate(to_der(ek.get()), bundle, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("unhandled critical extension 1.3.6.1.4.1.99999.1 in 'CN=ek'"),
            std::string::npos)
      << r.error().message();
  // Also in a CA certificate of the chain.
  auto bad_int = make_cert("Test TPM Intermediate", int_key.get(), root.get(), root_key.get(), true,
                           {{"2.23.133.99", true}});
  auto leaf = make_cert("ek", ek_key.get(), bad_int.get(), int_key.get(), false);
  r = verify_ek_certificate(to_der(leaf.get()), bundle, std::nullopt, {to_der(bad_int.get())});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("2.23.133.99"), std::string::npos) << r.error().message();
}

TEST_F(SyntheticChain, NonCaIssuerIsRefused) {
  auto not_ca = make_cert("Not a CA", int_key.get(), root.get(), root_key.get(), false);
  auto leaf = make_cert("ek", ek_key.get(), not_ca.get(), int_key.get(), false);
  auto r = verify_ek_certificate(to_der(leaf.get()), bundle, std::nullopt, {to_der(not_ca.get())});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("CN=Not a CA"), std::string::npos) << r.error().message();
}

TEST_F(SyntheticChain, RsaesOaepKeyIsReadAsRsa) {
  auto ek = make_cert("ek", ek_key.get(), root.get(), root_key.get(), false);
  // Relabel the SubjectPublicKeyInfo algorithm as id-RSAES-OAEP, then re-sign.
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(ek.get());
  const unsigned char* bits = nullptr;
  int len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, pub), 1);
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(len)));
  ASSERT_EQ(
      X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_rsaesOaep), V_ASN1_UNDEF, nullptr, copy, len), 1);
  ASSERT_GT(X509_sign(ek.get(), root_key.get(), EVP_sha256()), 0);
  auto der = to_der(ek.get());
  auto ok = verify_ek_certificate(der, bundle, std::nullopt);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  ASSERT_FALSE(ok->public_key.empty());
  EXPECT_EQ(EVP_PKEY_eq(ok->public_key.get(), ek_key.get()), 1);
  ASSERT_EQ(ok->relaxed.size(), 1u);
  EXPECT_NE(ok->relaxed[0].find("id-RSAES-OAEP"), std::string::npos);
  auto ek_pub = testing::make_tpm2b_public(ek_key.get(), testing::kEkAttributes);
  EXPECT_TRUE(public_key_matches(*ok, ek_pub));
}

}  // namespace
}  // namespace ironroot::tpm2
