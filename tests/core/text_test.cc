#include "core/text.h"

#include <gtest/gtest.h>

namespace ironroot {
namespace {

TEST(Utf16, DecodesBmpAndSurrogatePairsAndStopsAtNul) {
  // "Aé€😀" then NUL then junk.
  const uint8_t data[] = {0x41, 0x00, 0xe9, 0x00, 0xac, 0x20, 0x3d,
                          0xd8, 0x00, 0xde, 0,    0,    0x42, 0};
  auto s = utf16le_to_utf8(data);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(Utf16, RefusesUnpairedSurrogatesAndOddSizes) {
  const uint8_t lone_high[] = {0x3d, 0xd8, 0x41, 0x00};
  auto a = utf16le_to_utf8(lone_high);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("code unit 0"), std::string::npos);
  const uint8_t lone_low[] = {0x41, 0x00, 0x00, 0xde};
  auto b = utf16le_to_utf8(lone_low);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("code unit 1"), std::string::npos);
  const uint8_t odd[] = {0x41, 0x00, 0x42};
  EXPECT_FALSE(utf16le_to_utf8(odd));
}

TEST(Utf8, ValidatesAndEscapes) {
  EXPECT_TRUE(is_valid_utf8("plain \xc3\xa9"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_EQ(printable("a\x1b[2Jb\xff"), "a\\x1b[2Jb\\xff");
}

}  // namespace
}  // namespace ironroot
