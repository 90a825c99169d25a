#include "crypto/digest.h"

#include <gtest/gtest.h>

#include <string_view>

namespace ironroot::crypto {
namespace {

Bytes bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Digest, KnownAnswers) {
  // FIPS 180 "abc" vectors.
  EXPECT_EQ(hash(HashAlg::kSha1, bytes_of("abc")).hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hash(HashAlg::kSha256, bytes_of("abc")).hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash(HashAlg::kSha384, bytes_of("abc")).size, 48);
  // GB/T 32905 "abc" vector.
  Hasher sm3(HashAlg::kSm3_256);
  if (sm3.available()) {
    EXPECT_EQ(sm3.digest(bytes_of("abc")).hex(),
              "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  }
}

TEST(Digest, ExtendIsHashOfOldValueAndData) {
  Hasher h(HashAlg::kSha256);
  Digest pcr = Digest::zero(HashAlg::kSha256);
  Digest d = h.digest(bytes_of("event"));
  h.extend(pcr, d.view());
  Digest expected = h.digest2(Digest::zero(HashAlg::kSha256).view(), d.view());
  EXPECT_EQ(pcr, expected);
  EXPECT_NE(pcr, Digest::zero(HashAlg::kSha256));
}

TEST(Digest, AlgorithmTable) {
  EXPECT_EQ(hash_alg_from_id(0x000B), HashAlg::kSha256);
  EXPECT_FALSE(hash_alg_from_id(0x0099));
  EXPECT_EQ(hash_alg_from_name("sha384"), HashAlg::kSha384);
  EXPECT_EQ(hash_alg_name(HashAlg::kSm3_256), "sm3_256");
  EXPECT_EQ(sha_alg_for_size(20), HashAlg::kSha1);
  EXPECT_FALSE(sha_alg_for_size(21));
}

TEST(Digest, ConstantTimeCompare) {
  const uint8_t a[] = {1, 2, 3};
  const uint8_t b[] = {1, 2, 4};
  EXPECT_TRUE(equal_ct(a, a));
  EXPECT_FALSE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(Bytes(a, 2), Bytes(a, 3)));
}

}  // namespace
}  // namespace ironroot::crypto
