// ironroot audit, internal: helpers shared by the audit sources. Not part of the public API.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ironroot::audit::internal {

// Canonical standard base64 only: decoding then re-encoding must give back `text` exactly.
Result<std::vector<uint8_t>> decode_base64_strict(std::string_view text);

// The largest power of two strictly smaller than n (RFC 9162 2.1.1's k); requires n >= 2.
inline uint64_t split_point(uint64_t n) {
  return std::bit_floor(n - 1);
}

// Number of bits needed to represent x (Go's bits.Len64).
inline int bit_length(uint64_t x) {
  return static_cast<int>(std::bit_width(x));
}

}  // namespace ironroot::audit::internal
