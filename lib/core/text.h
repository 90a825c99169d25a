// ironroot core: text from untrusted bytes (UTF-16LE from UEFI, UTF-8 from Linux).
#pragma once

#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot {

// Decodes UTF-16LE into UTF-8. Stops at the first NUL code unit when `stop_at_nul`.
// Fails on an odd byte count or an unpaired surrogate, naming the code unit index.
Result<std::string> utf16le_to_utf8(Bytes bytes, bool stop_at_nul = true);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` with control characters and invalid UTF-8 escaped as \xNN, safe to print on a terminal.
std::string printable(std::string_view s);

// True when `s` is 1 to `max` bytes of ASCII letters, digits and the characters in `extra`
// (names and identifiers taken from the network: kinds, sensor names, Community IDs).
bool is_token(std::string_view s, size_t max, const char* extra);

}  // namespace ironroot
