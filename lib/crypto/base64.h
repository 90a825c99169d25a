// ironroot crypto: base64 (RFC 4648) through OpenSSL, strict on decode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::crypto {

std::string base64_encode(Bytes data);
// Decodes standard base64 with padding; whitespace is not allowed. Fails naming the problem.
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace ironroot::crypto
