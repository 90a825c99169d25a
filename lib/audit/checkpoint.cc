#include "audit/checkpoint.h"

#include <algorithm>
#include <limits>

#include "core/text.h"

namespace ironroot::audit {
namespace {

// A checkpoint line: non-empty UTF-8 with no control character (so no newline either).
bool is_line(std::string_view s) {
  return !s.empty() && is_valid_utf8(s) && std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20;
  });
}

// tlog-checkpoint: "ASCII decimal ... with no leading zeroes (unless the tree is empty)".
Result<uint64_t> parse_tree_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return malformed("checkpoint tree size is not a 64-bit number");
  if (s.size() > 1 && s[0] == '0') return malformed("checkpoint tree size has a leading zero");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return malformed("checkpoint tree size is not decimal");
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return malformed("checkpoint tree size does not fit in 64 bits");
    }
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace

Result<std::string> checkpoint_text(const Checkpoint& checkpoint) {
  if (!is_line(checkpoint.origin)) {
    return invalid_argument("checkpoint origin must be a non-empty line of UTF-8 text");
  }
  std::string out = checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
                    encode_hash(checkpoint.root) + "\n";
  for (const std::string& ext : checkpoint.extensions) {
    if (!is_line(ext)) {
      return invalid_argument("checkpoint extension lines must be non-empty lines of UTF-8 text");
    }
    out += ext;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> parse_checkpoint_text(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return malformed("checkpoint text does not end with a newline");
  }
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) return malformed("checkpoint text has fewer than three lines");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_line(lines[i])) {
      return malformed("checkpoint line " + std::to_string(i + 1) + " is empty or not text");
    }
  }
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  IRONROOT_ASSIGN_OR_RETURN(cp.size, parse_tree_size(lines[1]));
  auto root = decode_hash(lines[2]);
  if (!root) return std::move(root).error().with_context("checkpoint root hash");
  cp.root = *root;
  for (size_t i = 3; i < lines.size(); ++i) cp.extensions.emplace_back(lines[i]);
  return cp;
}

Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const NoteSigner& signer) {
  IRONROOT_ASSIGN_OR_RETURN(std::string text, checkpoint_text(checkpoint));
  return signer.sign(text);
}

Result<Checkpoint> open_checkpoint(std::string_view signed_note, const NoteVerifierKey& key,
                                   std::string_view origin, const NoteLimits& limits) {
  IRONROOT_ASSIGN_OR_RETURN(Note note, open_note(signed_note, {&key, 1}, limits));
  IRONROOT_ASSIGN_OR_RETURN(Checkpoint cp, parse_checkpoint_text(note.text));
  const std::string_view want = origin.empty() ? std::string_view(key.name) : origin;
  if (cp.origin != want) {
    return malformed("checkpoint origin \"" + printable(cp.origin) + "\" is not the expected \"" +
                     printable(want) + "\"");
  }
  return cp;
}

}  // namespace ironroot::audit
