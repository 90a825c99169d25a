// The TPM manufacturers' EK CAs ironroot ships (data/tpm-ca): they load, and real EK
// certificates from the corpus chain to them.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/corpus.h"
#include "tpm2/ekcert.h"

namespace ironroot {
namespace {

const std::string kBundle = IRONROOT_SOURCE_DIR "/data/tpm-ca";

TEST(ShippedEkCas, LoadWithoutDuplicatesAndCoverTheManufacturers) {
  auto bundle = tpm2::CaBundle::load(kBundle);
  ASSERT_TRUE(bundle) << bundle.error().message();
  EXPECT_EQ(bundle->stats().duplicates, 0u);
  EXPECT_GE(bundle->size(), 75u);
  std::string subjects;
  for (const auto& c : bundle->certificates()) subjects += c.subject + "\n";
  for (auto& ch : subjects) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* vendor : {"infineon", "stmicroelectronics", "nuvoton", "intel", "amd", "nationz",
                             "globalsign", "google"}) {
    EXPECT_NE(subjects.find(vendor), std::string::npos) << vendor;
  }
}

TEST(ShippedEkCas, RealGceEkCertificatesChain) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto bundle = tpm2::CaBundle::load(kBundle);
  ASSERT_TRUE(bundle);
  int verified = 0;
  for (const char* name : {"pca_tpm_rsa_enc_cert.pem", "pca_tpm_ecc_enc_cert.pem",
                           "uca_tpm_rsa_enc_cert.pem", "uca_tpm_ecc_enc_cert.pem"}) {
    auto der = testing::read_bytes(corpus + "/ekcert/gce/" + name);
    auto info = tpm2::verify_ek_certificate(der, *bundle, std::nullopt);
    EXPECT_TRUE(info) << name << ": " << info.error().message();
    verified += info.ok();
  }
  EXPECT_EQ(verified, 4);
}

}  // namespace
}  // namespace ironroot
