#include "core/text.h"

#include <cctype>
#include <cstdio>
#include <cstring>

namespace ironroot {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

Result<std::string> utf16le_to_utf8(Bytes bytes, bool stop_at_nul) {
  if (bytes.size() % 2 != 0) {
    return malformed("UTF-16 text has an odd byte count (" + std::to_string(bytes.size()) + ")");
  }
  std::string out;
  out.reserve(bytes.size() / 2);
  size_t units = bytes.size() / 2;
  for (size_t i = 0; i < units; ++i) {
    uint32_t u = ByteReader::load_le16(bytes.data() + 2 * i);
    if (u == 0 && stop_at_nul) break;
    if (u >= 0xd800 && u <= 0xdbff) {
      if (i + 1 >= units) {
        return malformed("UTF-16 text: unpaired high surrogate at code unit " + std::to_string(i));
      }
      uint32_t lo = ByteReader::load_le16(bytes.data() + 2 * (i + 1));
      if (lo < 0xdc00 || lo > 0xdfff) {
        return malformed("UTF-16 text: unpaired high surrogate at code unit " + std::to_string(i));
      }
      append_utf8(out, 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
      ++i;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      return malformed("UTF-16 text: unpaired low surrogate at code unit " + std::to_string(i));
    } else {
      append_utf8(out, u);
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    auto c = static_cast<uint8_t>(s[i]);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool is_token(std::string_view s, size_t max, const char* extra) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr(extra, c) == nullptr)
      return false;
  }
  return true;
}

}  // namespace ironroot
