#include "evidence/ima/ima.h"

#include <string.h>  // memrchr

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/hex.h"
#include "core/text.h"

namespace ironroot::evidence::ima {
namespace {

using crypto::Digest;
using crypto::HashAlg;
using crypto::Hasher;

// ---------------------------------------------------------------------------------------------
// Template descriptions (security/integrity/ima/ima_template.c: builtin_templates,
// supported_fields). A field's data format decides how the ascii list prints it
// (ima_template_lib.c: ima_show_template_data_ascii).

enum class Fmt : uint8_t { kDigest, kDigestAlgo, kString, kHex, kUint };
enum class Field : uint8_t {
  kD,
  kN,
  kDNg,
  kDNgV2,
  kNNg,
  kSig,
  kBuf,
  kDModsig,
  kModsig,
  kEvmSig,
  kIuid,
  kIgid,
  kImode,
  kXattrNames,
  kXattrLengths,
  kXattrValues,
};

struct FieldSpec {
  std::string_view id;
  Field field;
  Fmt fmt;
  uint8_t uint_size;  // kUint: bytes in the template data
};

constexpr FieldSpec kFieldSpecs[] = {
    {"d", Field::kD, Fmt::kDigest, 0},
    {"n", Field::kN, Fmt::kString, 0},
    {"d-ng", Field::kDNg, Fmt::kDigestAlgo, 0},
    {"d-ngv2", Field::kDNgV2, Fmt::kDigestAlgo, 0},
    {"n-ng", Field::kNNg, Fmt::kString, 0},
    {"sig", Field::kSig, Fmt::kHex, 0},
    {"buf", Field::kBuf, Fmt::kHex, 0},
    {"d-modsig", Field::kDModsig, Fmt::kDigestAlgo, 0},
    {"modsig", Field::kModsig, Fmt::kHex, 0},
    {"evmsig", Field::kEvmSig, Fmt::kHex, 0},
    {"iuid", Field::kIuid, Fmt::kUint, 4},  // unsigned int
    {"igid", Field::kIgid, Fmt::kUint, 4},
    {"imode", Field::kImode, Fmt::kUint, 2},  // umode_t
    {"xattrnames", Field::kXattrNames, Fmt::kString, 0},
    {"xattrlengths", Field::kXattrLengths, Fmt::kHex, 0},
    {"xattrvalues", Field::kXattrValues, Fmt::kHex, 0},
};

const FieldSpec* find_field(std::string_view id) {
  for (const auto& f : kFieldSpecs) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

struct TemplateDesc {
  Template kind = Template::kOther;
  bool known = false;   // every field is one ironroot knows
  bool legacy = false;  // the "ima" template: no data length in binary, padded name in the hash
  size_t count = 0;
  std::array<const FieldSpec*, kMaxFields> fields{};
  size_t string_index = kMaxFields;  // the first string field: in ascii it takes the spaces
};

// "d-ng|n-ng|sig" -> fields; unknown when an id is not a known field.
TemplateDesc parse_fmt(std::string_view fmt) {
  TemplateDesc d;
  while (!fmt.empty()) {
    size_t bar = fmt.find('|');
    std::string_view id = fmt.substr(0, bar);
    const FieldSpec* spec = find_field(id);
    if (spec == nullptr || d.count == kMaxFields) return TemplateDesc{};
    if (spec->fmt == Fmt::kString && d.string_index == kMaxFields) d.string_index = d.count;
    d.fields[d.count++] = spec;
    if (bar == std::string_view::npos) break;
    fmt.remove_prefix(bar + 1);
  }
  d.known = d.count > 0;
  if (d.string_index == kMaxFields) d.string_index = d.count;
  return d;
}

struct Builtin {
  std::string_view name;
  Template kind;
  std::string_view fmt;
};

constexpr Builtin kBuiltins[] = {
    {"ima-ng", Template::kImaNg, "d-ng|n-ng"},
    {"ima", Template::kIma, "d|n"},
    {"ima-sig", Template::kImaSig, "d-ng|n-ng|sig"},
    {"ima-buf", Template::kImaBuf, "d-ng|n-ng|buf"},
    {"ima-modsig", Template::kImaModsig, "d-ng|n-ng|sig|d-modsig|modsig"},
    {"ima-ngv2", Template::kOther, "d-ngv2|n-ng"},
    {"ima-sigv2", Template::kOther, "d-ngv2|n-ng|sig"},
    {"evm-sig", Template::kOther,
     "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode"},
};

// A template shown by its format string (a custom ima_template_fmt= has no name) is decoded
// from that string; any other unknown name stays unknown.
TemplateDesc describe(std::string_view name) {
  for (const auto& b : kBuiltins) {
    if (b.name == name) {
      TemplateDesc d = parse_fmt(b.fmt);
      d.kind = b.kind;
      d.legacy = b.kind == Template::kIma;
      return d;
    }
  }
  return parse_fmt(name);
}

// One-entry cache: lists almost always use one template throughout.
class TemplateCache {
 public:
  const TemplateDesc& get(std::string_view name) {
    if (!valid_ || name != name_) {
      name_.assign(name);
      desc_ = describe(name);
      valid_ = true;
    }
    return desc_;
  }

 private:
  bool valid_ = false;
  std::string name_;
  TemplateDesc desc_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers.

std::string quoted(std::string_view s) {
  constexpr size_t kShow = 64;
  std::string out = "'" + printable(s.substr(0, kShow));
  if (s.size() > kShow) out += "...";
  return out + "'";
}

std::string_view as_text(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// Eight hex digits -> four bytes, a word at a time (SWAR); false on any non-hex character.
// Per byte c (< 0x80): c + (0x80 - k) has its high bit set iff c >= k, without carries.
inline bool decode_hex8(const char* in, uint8_t* out) {
  uint64_t x;
  std::memcpy(&x, in, 8);
  if (x & kHighBits) return false;
  const uint64_t lower = x | (kOnes * 0x20);  // 'A'..'F' -> 'a'..'f'
  const uint64_t digit = (x + kOnes * (0x80 - '0')) & ~(x + kOnes * (0x80 - '9' - 1));
  const uint64_t alpha = (lower + kOnes * (0x80 - 'a')) & ~(lower + kOnes * (0x80 - 'f' - 1));
  if (((digit | alpha) & kHighBits) != kHighBits) return false;
  // Nibble values: the low four bits, plus 9 for letters (bit 6 set).
  const uint64_t nib = (x & (kOnes * 0x0f)) + ((x >> 6) & kOnes) * 9;
  // Byte 2k <- nibble 2k << 4 | nibble 2k+1, then gather the even bytes.
  uint64_t t = ((nib << 4) | (nib >> 8)) & 0x00ff00ff00ff00ffULL;
  t = (t | (t >> 8)) & 0x0000ffff0000ffffULL;
  t = (t | (t >> 16)) & 0x00000000ffffffffULL;
  const auto v = static_cast<uint32_t>(t);
  std::memcpy(out, &v, 4);
  return true;
}

#ifdef __SSE2__
// Sixteen hex digits -> eight bytes with SSE2 (baseline on x86-64); same arithmetic as above.
inline bool decode_hex16(const char* in, uint8_t* out) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  const __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
  // Signed compares are right for ASCII; bytes >= 0x80 are negative and fail both ranges.
  const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
  const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                      _mm_cmplt_epi8(lower, _mm_set1_epi8('f' + 1)));
  if (_mm_movemask_epi8(_mm_or_si128(digit, alpha)) != 0xffff) return false;
  const __m128i letter = _mm_and_si128(_mm_srli_epi16(x, 6), _mm_set1_epi8(1));
  const __m128i nib = _mm_add_epi8(_mm_and_si128(x, _mm_set1_epi8(0x0f)),
                                   _mm_add_epi8(_mm_slli_epi16(letter, 3), letter));
  // 16-bit lane = high nibble (first char) in byte 0, low nibble in byte 1.
  const __m128i bytes = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(nib, _mm_set1_epi16(0xff)), 4),
                                     _mm_srli_epi16(nib, 8));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(bytes, bytes));
  return true;
}
#endif

// decode_hex (core/hex.h) with a vector path: this is the hottest loop of an ascii list.
bool decode_hex_fast(std::string_view hex, uint8_t* out, size_t out_len) {
  if (hex.size() != 2 * out_len) return false;
  size_t i = 0;
#ifdef __SSE2__
  for (; i + 16 <= hex.size(); i += 16) {
    if (!decode_hex16(hex.data() + i, out + i / 2)) return false;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= hex.size(); i += 8) {
      if (!decode_hex8(hex.data() + i, out + i / 2)) return false;
    }
  }
  return decode_hex(hex.substr(i), out + i / 2, (hex.size() - i) / 2);
}

// The name stored in a string field: up to its first NUL. Checks UTF-8 in the same pass (a word
// at a time while the bytes are ASCII and non-zero, the full check only for names that need it).
bool scan_name(std::string_view s, bool check_utf8, std::string_view* name) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & kHighBits) | ((w - kOnes) & ~w & kHighBits)) break;
  }
  bool ascii = true;
  for (; i < s.size() && s[i] != '\0'; ++i) {
    if (static_cast<uint8_t>(s[i]) & 0x80) ascii = false;
  }
  *name = s.substr(0, i);
  return ascii || !check_utf8 || is_valid_utf8(*name);
}

// Template names and algorithm prefixes: printable ASCII without spaces.
bool is_token(std::string_view s) {
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// a == b[0..a.size()); digests are 20..64 bytes, compared a word at a time.
bool same_digest(Bytes a, const uint8_t* b) {
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  for (; i < a.size(); ++i) diff |= static_cast<uint64_t>(a[i] ^ b[i]);
  return diff == 0;
}

bool all_zero(Bytes b) {
  for (uint8_t v : b) {
    if (v != 0) return false;
  }
  return true;
}

void store_le32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

bool is_hash_size(size_t n) {
  return n == 20 || n == 32 || n == 48 || n == 64;
}

// Resets what a parser sets per entry, without zeroing the whole Entry (field_values is only
// meaningful up to field_count).
void start_entry(Entry& e, uint64_t index, uint64_t line, uint64_t offset) {
  e.index = index;
  e.line = line;
  e.offset = offset;
  e.pcr = 0;
  e.template_hash = {};
  e.template_name = {};
  e.kind = Template::kOther;
  e.data_known = true;
  e.template_data = {};
  e.fields_text = {};
  e.field_count = 0;
  e.digest_type = {};
  e.digest_algo = {};
  e.digest = {};
  e.path = {};
  e.signature = {};
  e.buffer = {};
  e.modsig_digest_algo = {};
  e.modsig_digest = {};
  e.modsig = {};
}

// Where an entry came from, for errors: ascii names the line, binary the file offset.
struct Where {
  const uint8_t* base = nullptr;  // binary: the first byte of the file; ascii: nullptr
  uint64_t line = 0;
  uint64_t index = 0;

  Error at(const uint8_t* p, std::string_view field, const std::string& what) const {
    if (base == nullptr) {
      return malformed("line " + std::to_string(line) + ": field " + std::string(field) + ": " +
                       what);
    }
    return field_error(static_cast<uint64_t>(p - base), field, what)
        .with_context("entry " + std::to_string(index));
  }
  Error wrap(Error e) const {
    if (base == nullptr) return std::move(e).with_context("line " + std::to_string(line));
    return std::move(e).with_context("entry " + std::to_string(index));
  }
};

// ---------------------------------------------------------------------------------------------
// Template data -> fields (shared by both forms; ascii decodes the data it rebuilt).

// Best effort for unknown templates: fills field_values only when the data splits exactly.
void split_generic(Bytes data, Entry& e) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    if (n == kMaxFields || data.size() - pos < 4) return;
    uint32_t len = ByteReader::load_le32(data.data() + pos);
    pos += 4;
    if (len > data.size() - pos) return;
    e.field_values[n++] = data.subspan(pos, len);
    pos += len;
  }
  e.field_count = n;
}

Status split_known(Bytes data, const TemplateDesc& d, Entry& e, const Where& where) {
  size_t pos = 0;
  for (size_t i = 0; i < d.count; ++i) {
    const std::string_view id = d.fields[i]->id;
    if (data.size() - pos < 4) {
      return where.at(data.data() + pos, id,
                      "needs 4 bytes for its length, " + std::to_string(data.size() - pos) +
                          " left in the template data (" + std::to_string(d.count) +
                          " fields expected)");
    }
    uint32_t len = ByteReader::load_le32(data.data() + pos);
    if (len > data.size() - pos - 4) {
      return where.at(data.data() + pos, id,
                      "length " + std::to_string(len) + " exceeds the " +
                          std::to_string(data.size() - pos - 4) +
                          " bytes left in the template data");
    }
    e.field_values[i] = data.subspan(pos + 4, len);
    pos += 4 + size_t{len};
  }
  if (pos != data.size()) {
    return where.at(data.data() + pos, "template_data",
                    std::to_string(data.size() - pos) + " bytes follow the last field (" +
                        std::to_string(d.count) + " fields expected)");
  }
  e.field_count = d.count;
  return {};
}

// "<prefix>:" '\0' digest (ima_eventdigest_init_common). d-ngv2 prefixes are "<type>:<algo>:".
Status decode_digest_with_algo(Bytes v, const FieldSpec& spec, Entry& e, const Where& where) {
  if (v.empty()) return {};  // d-modsig of a file without an appended signature
  std::string_view type;
  std::string_view algo;
  Bytes digest = v;
  // The prefix is short: a plain loop beats a memchr call.
  size_t n = 0;
  const size_t limit = std::min(v.size(), kMaxAlgoPrefixLen + 2);
  while (n < limit && v[n] != 0) ++n;
  if (n < limit) {
    std::string_view prefix = as_text(v.first(n));
    if (prefix.empty() || prefix.back() != ':' || !is_token(prefix)) {
      return where.at(v.data(), spec.id,
                      "algorithm prefix " + quoted(prefix) + " is not '<algorithm>:'");
    }
    prefix.remove_suffix(1);
    if (spec.field == Field::kDNgV2) {
      size_t colon = prefix.find(':');
      if (colon != std::string_view::npos) {
        type = prefix.substr(0, colon);
        prefix.remove_prefix(colon + 1);
      }
    }
    algo = prefix;
    digest = v.subspan(n + 1);
  }
  if (digest.size() > kMaxDigestLen) {
    return where.at(v.data(), spec.id,
                    "digest of " + std::to_string(digest.size()) + " bytes exceeds " +
                        std::to_string(kMaxDigestLen));
  }
  if (spec.field == Field::kDModsig) {
    e.modsig_digest_algo = algo;
    e.modsig_digest = digest;
  } else {
    e.digest_type = type;
    e.digest_algo = algo;
    e.digest = digest;
  }
  return {};
}

Status decode_fields(const TemplateDesc& d, Entry& e, const ParseOptions& options,
                     const Where& where) {
  for (size_t i = 0; i < d.count; ++i) {
    const FieldSpec& spec = *d.fields[i];
    Bytes v = e.field_values[i];
    switch (spec.field) {
      case Field::kD:
        if (v.size() > kMaxDigestLen) {
          return where.at(v.data(), spec.id, std::to_string(v.size()) + "-byte digest");
        }
        e.digest = v;
        break;
      case Field::kDNg:
      case Field::kDNgV2:
      case Field::kDModsig:
        IRONROOT_RETURN_IF_ERROR(decode_digest_with_algo(v, spec, e, where));
        break;
      case Field::kN:
      case Field::kNNg: {
        // DATA_FMT_STRING stores the name with its NUL (ima_write_template_field_data).
        std::string_view s;
        if (!scan_name(as_text(v), !options.allow_non_utf8_paths, &s)) {
          return where.at(v.data(), spec.id, "path " + quoted(s) + " is not valid UTF-8");
        }
        e.path = s;
        break;
      }
      case Field::kSig: e.signature = v; break;
      case Field::kBuf: e.buffer = v; break;
      case Field::kModsig: e.modsig = v; break;
      default: break;  // kept in field_values only
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Ascii lists.

class AsciiReader {
 public:
  AsciiReader(std::string_view text, const ParseOptions& options)
      : text_(text), options_(options), hash_size_(options.hash_size) {}

  Status run(const EntryCallback& fn) {
    uint64_t line_no = 0;
    uint64_t index = 0;
    size_t pos = 0;
    while (pos < text_.size()) {
      ++line_no;
      const char* nl =
          static_cast<const char*>(std::memchr(text_.data() + pos, '\n', text_.size() - pos));
      size_t end = nl ? static_cast<size_t>(nl - text_.data()) : text_.size();
      std::string_view line = text_.substr(pos, end - pos);
      const uint64_t offset = pos;
      pos = nl ? end + 1 : text_.size();
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
      if (line.size() > kMaxAsciiLineLen) {
        return Error(ErrorCode::kResourceLimit,
                     "line " + std::to_string(line_no) + ": " + std::to_string(line.size()) +
                         " bytes exceeds the line limit of " + std::to_string(kMaxAsciiLineLen));
      }
      start_entry(entry_, index, line_no, offset);
      IRONROOT_RETURN_IF_ERROR(parse_line(line, entry_));
      ++index;
      if (!fn(entry_)) break;
    }
    return {};
  }

 private:
  Status parse_line(std::string_view line, Entry& e) {
    const Where where{nullptr, e.line, e.index};
    size_t i = line.find_first_not_of(' ');  // "%2d": PCRs below 10 start with a space
    line.remove_prefix(i);

    // PCR (short tokens are scanned inline: a memchr call costs more than it saves).
    size_t sp = short_token_end(line);
    std::string_view tok = line.substr(0, sp);
    uint64_t pcr = 0;
    bool digits = !tok.empty() && tok.size() <= 10;
    for (char c : tok) {
      if (c < '0' || c > '9') digits = false;
      pcr = pcr * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits) return where.at(nullptr, "pcr", quoted(tok) + " is not a PCR index");
    if (pcr >= kNumPcrs) {
      return where.at(nullptr, "pcr", "PCR " + std::to_string(pcr) + " is not one of 0..23");
    }
    e.pcr = static_cast<uint32_t>(pcr);
    if (sp == std::string_view::npos) return missing(where, "template_hash");
    line.remove_prefix(sp + 1);

    // Template hash; once its size is known, the space after it is where it must be.
    sp = hash_size_ != 0 && line.size() > 2 * hash_size_ && line[2 * hash_size_] == ' '
             ? 2 * hash_size_
             : line.find(' ');
    tok = line.substr(0, sp);
    if (hash_size_ == 0) {
      if (tok.size() % 2 != 0 || !is_hash_size(tok.size() / 2)) {
        return where.at(
            nullptr, "template_hash",
            std::to_string(tok.size()) + " hex digits is not a digest of 20, 32, 48 or 64 bytes");
      }
      hash_size_ = tok.size() / 2;
    }
    if (tok.size() != 2 * hash_size_) {
      return where.at(nullptr, "template_hash",
                      std::to_string(tok.size()) + " hex digits, expected " +
                          std::to_string(2 * hash_size_) + " like the entries before");
    }
    if (!decode_hex_fast(tok, hash_.data(), hash_size_)) {
      return where.at(nullptr, "template_hash", quoted(tok) + " is not hex");
    }
    e.template_hash = Bytes(hash_.data(), hash_size_);
    if (sp == std::string_view::npos) return missing(where, "template_name");
    line.remove_prefix(sp + 1);

    // Template name; every template has at least one field, printed after a space.
    sp = short_token_end(line);
    tok = line.substr(0, sp);
    if (tok.empty() || tok.size() > kMaxTemplateNameLen || !is_token(tok)) {
      return where.at(nullptr, "template_name",
                      quoted(tok) + " is not a template name (1..255 printable characters)");
    }
    e.template_name = tok;
    const TemplateDesc& d = templates_.get(e.template_name);
    e.kind = d.kind;
    if (sp == std::string_view::npos) return missing(where, "template data");
    line.remove_prefix(sp + 1);
    e.fields_text = line;

    if (!d.known) {
      e.data_known = false;
      return {};
    }
    IRONROOT_RETURN_IF_ERROR(split_line(line, d, where));
    IRONROOT_RETURN_IF_ERROR(rebuild(d, e, where));
    return decode_fields(d, e, options_, where);
  }

  // The position of the first space, or npos.
  static size_t short_token_end(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == ' ') return i;
    }
    return std::string_view::npos;
  }

  static Error missing(const Where& where, std::string_view what) {
    return where.at(nullptr, what, "missing: the line ends early (wrong number of fields)");
  }

  // Fields before the first string field are taken from the left, fields after it from the
  // right; the string field (a path, which may hold spaces) keeps what is in between.
  Status split_line(std::string_view rest, const TemplateDesc& d, const Where& where) {
    const size_t n = d.count;
    const size_t s = d.string_index;
    auto too_few = [&](size_t found) {
      return where.at(nullptr, "template data",
                      "found " + std::to_string(found) + " fields for template " +
                          quoted(entry_.template_name) + ", expected " + std::to_string(n));
    };
    for (size_t k = 0; k < s; ++k) {
      if (k == n - 1) {
        if (rest.find(' ') != std::string_view::npos) {
          return where.at(nullptr, "template data",
                          "more than the " + std::to_string(n) + " fields of template " +
                              quoted(entry_.template_name));
        }
        tokens_[k] = rest;
        return {};
      }
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) return too_few(k + 1);
      tokens_[k] = rest.substr(0, sp);
      rest.remove_prefix(sp + 1);
    }
    for (size_t k = n - 1; k > s; --k) {
      const void* found = memrchr(rest.data(), ' ', rest.size());
      if (found == nullptr) return too_few(s + 1 + (n - 1 - k));
      size_t sp = static_cast<size_t>(static_cast<const char*>(found) - rest.data());
      tokens_[k] = rest.substr(sp + 1);
      rest = rest.substr(0, sp);
    }
    tokens_[s] = rest;
    return {};
  }

  // Writes the template data the kernel hashed for these field texts into buf_.
  Status rebuild(const TemplateDesc& d, Entry& e, const Where& where) {
    // Hex halves, strings gain a NUL, each field a 4-byte length; "ima" pads the name to 256.
    size_t need = e.fields_text.size() + 5 * kMaxFields + 512;
    if (buf_.size() < need) buf_.resize(need);
    uint8_t* const begin = buf_.data();
    uint8_t* w = begin;

    if (d.legacy) {
      // 'ima' template: digest || name zero-padded to IMA_EVENT_NAME_LEN_MAX + 1
      // (ima_crypto.c, ima_calc_field_array_hash_tfm).
      std::string_view hex = tokens_[0];
      std::string_view name = tokens_[1];
      // The binary form has no length for it: always 20 bytes (IMA_DIGEST_SIZE).
      if (!decode_hex_fast(hex, w, 20)) {
        return where.at(nullptr, "d", quoted(hex) + " is not a 20-byte hex digest");
      }
      e.field_values[0] = Bytes(w, 20);
      w += 20;
      if (name.size() > kMaxTemplateNameLen) {
        return where.at(
            nullptr, "n",
            std::to_string(name.size()) + "-byte name exceeds the 'ima' template's 255");
      }
      std::memcpy(w, name.data(), name.size());
      std::memset(w + name.size(), 0, 256 - name.size());
      e.field_values[1] = Bytes(w, name.size() + 1);
      w += 256;
      e.field_count = 2;
      e.template_data = Bytes(begin, static_cast<size_t>(w - begin));
      return {};
    }

    for (size_t k = 0; k < d.count; ++k) {
      const FieldSpec& spec = *d.fields[k];
      std::string_view tok = tokens_[k];
      uint8_t* len_at = w;
      w += 4;
      switch (spec.fmt) {
        case Fmt::kDigest:
        case Fmt::kHex: {
          if (tok.size() % 2 != 0 || !decode_hex_fast(tok, w, tok.size() / 2)) {
            return where.at(nullptr, spec.id, quoted(tok) + " is not hex");
          }
          if (spec.fmt == Fmt::kDigest && tok.size() / 2 > kMaxDigestLen) {
            return where.at(nullptr, spec.id, "digest longer than 64 bytes");
          }
          w += tok.size() / 2;
          break;
        }
        case Fmt::kDigestAlgo: {
          if (tok.empty()) break;
          // The last ':' ends the prefix; algorithm names have none, so d-ng and d-modsig stop
          // at the first and d-ngv2 ("<type>:<algo>:") at the second. The hex digest has none.
          size_t colon = std::string_view::npos;
          int colons = spec.field == Field::kDNgV2 ? 2 : 1;
          for (size_t c = 0; c < tok.size() && c <= kMaxAlgoPrefixLen; ++c) {
            if (tok[c] == ':') {
              colon = c;
              if (--colons == 0) break;
            }
          }
          std::string_view prefix =
              colon == std::string_view::npos ? ":" : tok.substr(0, colon + 1);
          std::string_view hex = colon == std::string_view::npos ? tok : tok.substr(colon + 1);
          if (prefix.size() > kMaxAlgoPrefixLen + 1) {
            return where.at(nullptr, spec.id, "algorithm name longer than 128 characters");
          }
          if (hex.size() % 2 != 0 || hex.size() / 2 > kMaxDigestLen) {
            return where.at(nullptr, spec.id,
                            quoted(tok) + " is not '<algorithm>:<hex digest of at most 64 bytes>'");
          }
          std::memcpy(w, prefix.data(), prefix.size());
          w += prefix.size();
          *w++ = 0;
          if (!decode_hex_fast(hex, w, hex.size() / 2)) {
            return where.at(nullptr, spec.id, "digest " + quoted(hex) + " is not hex");
          }
          w += hex.size() / 2;
          break;
        }
        case Fmt::kString: {
          // Names always carry their NUL; other strings are absent when empty.
          bool is_name = spec.field == Field::kN || spec.field == Field::kNNg;
          if (tok.empty() && !is_name) break;
          std::memcpy(w, tok.data(), tok.size());
          w += tok.size();
          *w++ = 0;
          break;
        }
        case Fmt::kUint: {
          if (tok.empty()) break;
          uint64_t v = 0;
          bool ok = tok.size() <= 20;
          for (char c : tok) {
            if (c < '0' || c > '9') ok = false;
            v = v * 10 + static_cast<uint64_t>(c - '0');
          }
          if (!ok || (spec.uint_size == 2 && v > 0xffff) || v > 0xffffffffULL) {
            return where.at(nullptr, spec.id, quoted(tok) + " is not a number");
          }
          for (size_t b = 0; b < spec.uint_size; ++b) *w++ = static_cast<uint8_t>(v >> (8 * b));
          break;
        }
      }
      const auto len = static_cast<uint32_t>(w - len_at - 4);
      store_le32(len_at, len);
      e.field_values[k] = Bytes(len_at + 4, len);
    }
    e.field_count = d.count;
    size_t size = static_cast<size_t>(w - begin);
    if (size > kMaxTemplateDataLen) {
      return Error(ErrorCode::kResourceLimit,
                   "line " + std::to_string(e.line) + ": template data of " + std::to_string(size) +
                       " bytes exceeds the limit of " + std::to_string(kMaxTemplateDataLen));
    }
    e.template_data = Bytes(begin, size);
    return {};
  }

  std::string_view text_;
  const ParseOptions& options_;
  size_t hash_size_;
  Entry entry_;
  TemplateCache templates_;
  std::array<uint8_t, kMaxDigestLen> hash_{};
  std::array<std::string_view, kMaxFields> tokens_{};
  std::vector<uint8_t> buf_;
};

// ---------------------------------------------------------------------------------------------
// Binary lists.

// Whether an entry with template hashes of `h` bytes plausibly starts at data[0]: a PCR index,
// then a template name of 1..255 template-name characters. Lengths after the name are left to the
// parser, so that a truncated first entry is reported as truncated.
bool plausible_binary_entry(Bytes data, size_t h) {
  ByteReader r(data);
  auto pcr = r.u32le("");
  if (!pcr || *pcr >= kNumPcrs || !r.skip(h, "")) return false;
  auto name_len = r.u32le("");
  if (!name_len || *name_len == 0 || *name_len > kMaxTemplateNameLen) return false;
  auto name = r.take(*name_len, "");
  if (!name) return false;
  for (uint8_t c : *name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '|';
    if (!ok) return false;
  }
  return true;
}

Result<size_t> detect_binary_hash_size(Bytes data) {
  for (size_t h : {size_t{20}, size_t{32}, size_t{48}, size_t{64}}) {
    if (plausible_binary_entry(data, h)) return h;
  }
  return field_error(0, "template_hash",
                     "cannot tell the template hash size: no size of 20, 32, 48 or 64 bytes is "
                     "followed by a plausible template name (give the size explicitly)");
}

class BinaryReader {
 public:
  BinaryReader(Bytes data, const ParseOptions& options, size_t hash_size)
      : data_(data), options_(options), hash_size_(hash_size) {}

  Status run(const EntryCallback& fn) {
    ByteReader r(data_);
    uint64_t index = 0;
    while (!r.empty()) {
      start_entry(entry_, index, 0, r.position());
      IRONROOT_RETURN_IF_ERROR(parse_entry(r, entry_));
      ++index;
      if (!fn(entry_)) break;
    }
    return {};
  }

 private:
// Reads into `lhs` or returns the error with the entry number in front.
#define IMA_READ(lhs, expr)                                                   \
  auto IRONROOT_CONCAT(_ima_r_, __LINE__) = (expr);                           \
  if (!IRONROOT_CONCAT(_ima_r_, __LINE__))                                    \
    return where.wrap(std::move(IRONROOT_CONCAT(_ima_r_, __LINE__)).error()); \
  lhs = *IRONROOT_CONCAT(_ima_r_, __LINE__)

  Status parse_entry(ByteReader& r, Entry& e) {
    const Where where{data_.data(), 0, e.index};
    const uint8_t* at = data_.data() + r.position();
    IMA_READ(uint32_t pcr, r.u32le("pcr"));
    if (pcr >= kNumPcrs) {
      return where.at(at, "pcr", "PCR " + std::to_string(pcr) + " is not one of 0..23");
    }
    e.pcr = pcr;
    IMA_READ(e.template_hash, r.take(hash_size_, "template_hash"));

    at = data_.data() + r.position();
    IMA_READ(uint32_t name_len, r.u32le("template_name_len"));
    if (name_len == 0 || name_len > kMaxTemplateNameLen) {
      return where.at(at, "template_name_len",
                      std::to_string(name_len) + " is not a template name length (1..255)");
    }
    at = data_.data() + r.position();
    IMA_READ(Bytes name, r.take(name_len, "template_name"));
    e.template_name = as_text(name);
    if (!is_token(e.template_name)) {
      return where.at(at, "template_name",
                      quoted(e.template_name) + " is not a template name (printable characters)");
    }
    const TemplateDesc& d = templates_.get(e.template_name);
    e.kind = d.kind;

    if (d.legacy) {
      // digest[20] | u32 len | name without NUL (ima_fs.c: IMA_SHOW_BINARY_NO_FIELD_LEN,
      // IMA_SHOW_BINARY_OLD_STRING_FMT); hashed with the name zero-padded to 256 bytes.
      IMA_READ(Bytes digest, r.take(20, "d"));
      at = data_.data() + r.position();
      IMA_READ(uint32_t n_len, r.u32le("n_len"));
      if (n_len > kMaxTemplateNameLen) {
        return where.at(at, "n_len",
                        std::to_string(n_len) + " exceeds the 'ima' template's 255-byte names");
      }
      IMA_READ(Bytes n, r.take(n_len, "n"));
      if (buf_.size() < 20 + 256) buf_.resize(20 + 256);
      std::memcpy(buf_.data(), digest.data(), 20);
      std::memcpy(buf_.data() + 20, n.data(), n.size());
      std::memset(buf_.data() + 20 + n.size(), 0, 256 - n.size());
      e.template_data = Bytes(buf_.data(), 20 + 256);
      e.field_values[0] = e.template_data.first(20);
      e.field_values[1] = Bytes(buf_.data() + 20, n.size() + 1);
      e.field_count = 2;
      // Decoded from the file bytes, so that an error names the file offset.
      e.digest = digest;
      std::string_view path;
      if (!scan_name(as_text(n), !options_.allow_non_utf8_paths, &path)) {
        return where.at(n.data(), "n", "path " + quoted(path) + " is not valid UTF-8");
      }
      e.path = path;
      return {};
    }

    at = data_.data() + r.position();
    IMA_READ(uint32_t data_len, r.u32le("template_data_len"));
    if (data_len > kMaxTemplateDataLen) {
      return where.at(at, "template_data_len",
                      std::to_string(data_len) + " bytes exceeds the limit of " +
                          std::to_string(kMaxTemplateDataLen));
    }
    IMA_READ(e.template_data, r.take(data_len, "template_data"));
    if (!d.known) {
      split_generic(e.template_data, e);
      return {};
    }
    IRONROOT_RETURN_IF_ERROR(split_known(e.template_data, d, e, where));
    return decode_fields(d, e, options_, where);
  }
#undef IMA_READ

  Bytes data_;
  const ParseOptions& options_;
  size_t hash_size_;
  Entry entry_;
  TemplateCache templates_;
  std::vector<uint8_t> buf_;
};

Format sniff_format(Bytes file) {
  // A binary list starts with a little-endian PCR index (< 24): three zero bytes follow the
  // first. An ascii line starts with a digit or the space of "%2d".
  if (file.size() >= 4 && file[1] == 0 && file[2] == 0 && file[3] == 0) return Format::kBinary;
  return Format::kAscii;
}

// ---------------------------------------------------------------------------------------------
// Verification.

class Replayer {
 public:
  struct Bank {
    explicit Bank(HashAlg alg) : hasher(alg) {}
    Hasher hasher;
    bool is_list = false;
    bool padded = false;  // VerifyOptions::padded_sha1_banks, for a bank other than sha1
    Digest ones;          // what a violation extends
    std::array<Digest, kNumPcrs> pcr{};
    std::array<uint64_t, kNumPcrs> extends{};
    std::array<bool, kNumPcrs> incomplete{};
  };
  struct Expect {
    Digest value;
    size_t bank = 0;
    std::optional<uint64_t> first_match;
  };

  static Result<Replayer> create(HashAlg list_alg, const VerifyOptions& options) {
    Replayer rp;
    rp.list_alg_ = list_alg;
    rp.max_errors_ = options.max_reported_errors;
    if (options.padded_sha1_banks && list_alg != HashAlg::kSha1) {
      return invalid_argument(
          "padded SHA-1 banks (kernels before 5.8) need a list of SHA-1 template hashes, not " +
          std::string(crypto::hash_alg_name(list_alg)));
    }
    std::vector<HashAlg> algs = {HashAlg::kSha1, list_alg};
    algs.insert(algs.end(), options.banks.begin(), options.banks.end());
    for (const Digest& d : options.expected_pcr10) algs.push_back(d.alg);
    for (HashAlg alg : algs) {
      if (std::find(rp.algs_.begin(), rp.algs_.end(), alg) != rp.algs_.end()) continue;
      Bank b(alg);
      if (!b.hasher.available()) {
        return Error(ErrorCode::kUnsupported, "hash algorithm " +
                                                  std::string(crypto::hash_alg_name(alg)) +
                                                  " is not available in this OpenSSL build");
      }
      b.is_list = alg == list_alg;
      b.padded = options.padded_sha1_banks && !b.is_list;
      b.ones = Digest::zero(alg);
      // Before 5.8 a violation was 20 bytes of 0xff, zero-padded like every other digest.
      std::fill_n(b.ones.bytes.begin(), b.padded ? 20 : b.ones.size, uint8_t{0xff});
      b.pcr.fill(Digest::zero(alg));
      rp.algs_.push_back(alg);
      rp.banks_.push_back(std::move(b));
    }
    rp.list_bank_ = static_cast<size_t>(std::find(rp.algs_.begin(), rp.algs_.end(), list_alg) -
                                        rp.algs_.begin());
    for (const Digest& d : options.expected_pcr10) {
      Expect x;
      x.value = d;
      x.bank = static_cast<size_t>(std::find(rp.algs_.begin(), rp.algs_.end(), d.alg) -
                                   rp.algs_.begin());
      // An expected value of all zeros matches the empty prefix.
      if (d == rp.banks_[x.bank].pcr[kImaPcr]) x.first_match = 0;
      rp.expects_.push_back(x);
    }
    return rp;
  }

  void add(const Entry& e) {
    ++entries_;
    const uint32_t p = e.pcr;
    touched_[p] = true;
    if (e.is_violation()) {
      ++violations_;
      for (Bank& b : banks_) extend(b, p, b.ones.view());
    } else if (!e.data_known) {
      ++unverified_;
      for (Bank& b : banks_) {
        if (b.is_list) {
          extend(b, p, e.template_hash);
        } else if (b.padded) {
          extend_padded(b, p, e.template_hash);
        } else {
          b.incomplete[p] = true;
        }
      }
    } else {
      Bank& lb = banks_[list_bank_];
      Digest computed = lb.hasher.digest(e.template_data);
      if (!same_digest(e.template_hash, computed.bytes.data())) {
        record_error(e, computed);
      }
      for (Bank& b : banks_) {
        if (b.is_list) {
          // The kernel extended what the list shows; a changed template data shows up above.
          extend(b, p, e.template_hash);
        } else if (b.padded) {
          extend_padded(b, p, e.template_hash);
        } else {
          Digest d = b.hasher.digest(e.template_data);
          extend(b, p, d.view());
        }
      }
    }
    if (p == kImaPcr) {
      for (Expect& x : expects_) {
        if (!x.first_match && x.value == banks_[x.bank].pcr[kImaPcr]) x.first_match = entries_;
      }
    }
  }

  VerifyReport finish(ListFormat format) {
    VerifyReport rep;
    rep.format = format;
    rep.template_hash_alg = list_alg_;
    rep.banks = algs_;
    rep.entries = entries_;
    rep.violations = violations_;
    rep.unverified = unverified_;
    rep.template_hash_error_count = error_count_;
    rep.template_hash_errors = std::move(errors_);
    touched_[kImaPcr] = true;
    for (uint32_t p = 0; p < kNumPcrs; ++p) {
      if (!touched_[p]) continue;
      for (const Bank& b : banks_) {
        rep.pcrs.push_back(PcrValue{p, b.pcr[p], b.extends[p], !b.incomplete[p]});
      }
    }
    for (const Expect& x : expects_) {
      ExpectedPcrResult r;
      r.expected = x.value;
      r.matched = x.value == banks_[x.bank].pcr[kImaPcr];
      r.matched_after_entries = x.first_match;
      rep.expected_pcr10.push_back(r);
    }
    return rep;
  }

 private:
  Replayer() = default;

  static void extend(Bank& b, uint32_t p, Bytes digest) {
    b.hasher.extend(b.pcr[p], digest);
    ++b.extends[p];
  }

  // The SHA-1 digest zero-padded to the bank's size (tpm_pcr_extend before 5.8).
  static void extend_padded(Bank& b, uint32_t p, Bytes sha1) {
    Digest d = Digest::zero(b.hasher.alg());
    std::copy(sha1.begin(), sha1.end(), d.bytes.begin());
    extend(b, p, d.view());
  }

  void record_error(const Entry& e, const Digest& computed) {
    ++error_count_;
    if (errors_.size() >= max_errors_) return;
    TemplateHashError err;
    err.index = e.index;
    err.line = e.line;
    err.offset = e.offset;
    err.template_name = std::string(e.template_name);
    err.path = std::string(e.path);
    err.expected = Digest::zero(list_alg_);
    std::copy(e.template_hash.begin(), e.template_hash.end(), err.expected.bytes.begin());
    err.computed = computed;
    errors_.push_back(std::move(err));
  }

  HashAlg list_alg_ = HashAlg::kSha1;
  std::vector<HashAlg> algs_;
  std::vector<Bank> banks_;
  size_t list_bank_ = 0;
  std::vector<Expect> expects_;
  std::array<bool, kNumPcrs> touched_{};
  uint64_t entries_ = 0;
  uint64_t violations_ = 0;
  uint64_t unverified_ = 0;
  uint64_t error_count_ = 0;
  size_t max_errors_ = 0;
  std::vector<TemplateHashError> errors_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

const char* format_name(Format f) {
  return f == Format::kAscii ? "ascii" : "binary";
}

Template template_from_name(std::string_view name) {
  for (const auto& b : kBuiltins) {
    if (b.name == name) return b.kind;
  }
  return Template::kOther;
}

bool Entry::is_violation() const {
  return all_zero(template_hash);
}

Result<ListFormat> detect(Bytes file, const ParseOptions& options) {
  ListFormat lf;
  lf.format = options.format ? *options.format : sniff_format(file);
  lf.hash_size = options.hash_size;
  if (lf.hash_size != 0 && !is_hash_size(lf.hash_size)) {
    return invalid_argument("template hash size " + std::to_string(lf.hash_size) +
                            " is not 20, 32, 48 or 64");
  }
  if (lf.hash_size != 0) return lf;
  if (lf.format == Format::kBinary) {
    if (file.empty()) return lf;
    IRONROOT_ASSIGN_OR_RETURN(lf.hash_size, detect_binary_hash_size(file));
    return lf;
  }
  // Ascii: the first entry's hash column (parsing it also checks that line).
  ParseOptions o = options;
  o.allow_non_utf8_paths = true;
  size_t size = 0;
  IRONROOT_RETURN_IF_ERROR(for_each_entry_ascii(as_text(file), o, [&](const Entry& e) {
    size = e.template_hash.size();
    return false;
  }));
  lf.hash_size = size;
  return lf;
}

Status for_each_entry(Bytes file, const ParseOptions& options, const EntryCallback& fn) {
  Format f = options.format ? *options.format : sniff_format(file);
  if (f == Format::kAscii) return for_each_entry_ascii(as_text(file), options, fn);
  return for_each_entry_binary(file, options, fn);
}

Status for_each_entry_ascii(std::string_view text, const ParseOptions& options,
                            const EntryCallback& fn) {
  if (options.hash_size != 0 && !is_hash_size(options.hash_size)) {
    return invalid_argument("template hash size " + std::to_string(options.hash_size) +
                            " is not 20, 32, 48 or 64");
  }
  AsciiReader reader(text, options);
  return reader.run(fn);
}

Status for_each_entry_binary(Bytes data, const ParseOptions& options, const EntryCallback& fn) {
  size_t h = options.hash_size;
  if (h != 0 && !is_hash_size(h)) {
    return invalid_argument("template hash size " + std::to_string(h) + " is not 20, 32, 48 or 64");
  }
  if (data.empty()) return {};
  if (h == 0) {
    IRONROOT_ASSIGN_OR_RETURN(h, detect_binary_hash_size(data));
  }
  BinaryReader reader(data, options, h);
  return reader.run(fn);
}

OwnedEntry OwnedEntry::from(const Entry& e) {
  auto vec = [](Bytes b) { return std::vector<uint8_t>(b.begin(), b.end()); };
  OwnedEntry o;
  o.index = e.index;
  o.line = e.line;
  o.offset = e.offset;
  o.pcr = e.pcr;
  o.template_hash = vec(e.template_hash);
  o.template_name = std::string(e.template_name);
  o.kind = e.kind;
  o.data_known = e.data_known;
  o.violation = e.is_violation();
  o.template_data = vec(e.template_data);
  o.fields_text = std::string(e.fields_text);
  o.digest_type = std::string(e.digest_type);
  o.digest_algo = std::string(e.digest_algo);
  o.digest = vec(e.digest);
  o.path = std::string(e.path);
  o.signature = vec(e.signature);
  o.buffer = vec(e.buffer);
  o.modsig_digest_algo = std::string(e.modsig_digest_algo);
  o.modsig_digest = vec(e.modsig_digest);
  o.modsig = vec(e.modsig);
  return o;
}

Result<std::vector<OwnedEntry>> collect(Bytes file, const ParseOptions& options, size_t limit) {
  std::vector<OwnedEntry> out;
  if (limit == 0) return out;
  IRONROOT_RETURN_IF_ERROR(for_each_entry(file, options, [&](const Entry& e) {
    out.push_back(OwnedEntry::from(e));
    return out.size() < limit;
  }));
  return out;
}

const PcrValue* VerifyReport::find(uint32_t pcr, crypto::HashAlg bank) const {
  for (const PcrValue& v : pcrs) {
    if (v.pcr == pcr && v.value.alg == bank) return &v;
  }
  return nullptr;
}

bool VerifyReport::ok() const {
  if (template_hash_error_count != 0) return false;
  for (const ExpectedPcrResult& x : expected_pcr10) {
    if (!x.matched) return false;
  }
  return true;
}

Result<VerifyReport> verify(Bytes file, const VerifyOptions& options) {
  ParseOptions parse = options.parse;
  if (parse.hash_size == 0 && options.template_hash_alg) {
    parse.hash_size = crypto::digest_size(*options.template_hash_alg);
  }
  IRONROOT_ASSIGN_OR_RETURN(ListFormat format, detect(file, parse));
  parse.format = format.format;
  parse.hash_size = format.hash_size;

  HashAlg list_alg = HashAlg::kSha1;
  if (options.template_hash_alg) {
    list_alg = *options.template_hash_alg;
    if (format.hash_size != 0 && crypto::digest_size(list_alg) != format.hash_size) {
      return invalid_argument(
          "template hash algorithm " + std::string(crypto::hash_alg_name(list_alg)) + " makes " +
          std::to_string(crypto::digest_size(list_alg)) +
          "-byte digests, the list's template hashes have " + std::to_string(format.hash_size));
    }
  } else if (format.hash_size != 0) {
    list_alg = *crypto::sha_alg_for_size(format.hash_size);  // detect() allows only these sizes
  }

  IRONROOT_ASSIGN_OR_RETURN(Replayer replayer, Replayer::create(list_alg, options));
  IRONROOT_RETURN_IF_ERROR(for_each_entry(file, parse, [&](const Entry& e) {
    replayer.add(e);
    return true;
  }));
  return replayer.finish(format);
}

}  // namespace ironroot::evidence::ima
