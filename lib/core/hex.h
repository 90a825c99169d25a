// ironroot core: hexadecimal encoding (lowercase) and strict decoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot {

std::string to_hex(Bytes bytes);
// Appends lowercase hex of `bytes` to `out` (no allocation when `out` has capacity).
void append_hex(std::string& out, Bytes bytes);

// Decodes exactly `hex` (even length, [0-9a-fA-F] only) into out. Returns false on any bad char.
bool decode_hex(std::string_view hex, uint8_t* out, size_t out_len);
Result<std::vector<uint8_t>> from_hex(std::string_view hex);

}  // namespace ironroot
