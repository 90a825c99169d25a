#include "core/hex.h"

#include <array>

namespace ironroot {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

// 0..15 for a hex digit, 0xff otherwise.
constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<uint8_t>(10 + i);
    t['A' + i] = static_cast<uint8_t>(10 + i);
  }
  return t;
}
constexpr auto kTable = make_table();

}  // namespace

void append_hex(std::string& out, Bytes bytes) {
  size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  for (uint8_t b : bytes) {
    out[at++] = kDigits[b >> 4];
    out[at++] = kDigits[b & 15];
  }
}

std::string to_hex(Bytes bytes) {
  std::string out;
  append_hex(out, bytes);
  return out;
}

bool decode_hex(std::string_view hex, uint8_t* out, size_t out_len) {
  if (hex.size() != 2 * out_len) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < out_len; ++i) {
    uint8_t hi = kTable[static_cast<uint8_t>(hex[2 * i])];
    uint8_t lo = kTable[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= static_cast<uint8_t>(hi | lo);
    out[i] = static_cast<uint8_t>((hi << 4) | (lo & 15));
  }
  return (bad & 0xf0) == 0;
}

Result<std::vector<uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return invalid_argument("hex string has odd length " + std::to_string(hex.size()));
  }
  std::vector<uint8_t> out(hex.size() / 2);
  if (!decode_hex(hex, out.data(), out.size())) {
    return invalid_argument("not a hex string: '" + std::string(hex.substr(0, 80)) + "'");
  }
  return out;
}

}  // namespace ironroot
