#include "core/bytes.h"

#include <gtest/gtest.h>

#include "core/hex.h"

namespace ironroot {
namespace {

TEST(ByteReader, ReadsLittleEndianAndNamesTheFieldWhenShort) {
  const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
  ByteReader r(data, 0x100);
  auto a = r.u32le("First");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 0x04030201u);
  auto b = r.u32le("EventSize");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(b.error().message().find("offset 0x104"), std::string::npos) << b.error().message();
  EXPECT_NE(b.error().message().find("EventSize"), std::string::npos);
  EXPECT_NE(b.error().message().find("2 left"), std::string::npos);
  // A failed read consumes nothing.
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(ByteReader, TakeRefusesLengthsBeyondTheDataWithoutAllocating) {
  const uint8_t data[] = {1, 2, 3};
  ByteReader r(data);
  EXPECT_FALSE(r.take(uint64_t{1} << 40, "Huge"));
  EXPECT_FALSE(r.take(4, "Four"));
  auto all = r.take(3, "Three");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  EXPECT_TRUE(r.empty());
}

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  const uint8_t data[] = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(data), "00abff");
  auto back = from_hex("00ABff");
  ASSERT_TRUE(back);
  EXPECT_EQ(to_hex(*back), "00abff");
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(from_hex("0g"));
}

}  // namespace
}  // namespace ironroot
