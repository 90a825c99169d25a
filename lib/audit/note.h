// ironroot audit: C2SP signed notes (https://c2sp.org/signed-note, v1.0.0) with Ed25519 keys,
// through OpenSSL 3. A note is UTF-8 text ending in a newline, a blank line, then signature lines
//   "— <key name> <base64(key ID (4 bytes, big-endian) || signature)>\n"
// The log's checkpoints (checkpoint.h) are notes; witnesses add cosignature lines to the same
// note, which this verifier ignores unless it was given their keys.
//
//   const std::string name = "example.org/log";
//   IRONROOT_ASSIGN_OR_RETURN(audit::NoteKeyPair pair, audit::generate_note_key(name));
//   IRONROOT_ASSIGN_OR_RETURN(auto s, audit::NoteSigner::from_pem(name, pair.private_key_pem));
//   IRONROOT_ASSIGN_OR_RETURN(std::string signed_note, s.sign("hello\n"));
//   IRONROOT_ASSIGN_OR_RETURN(auto key, audit::parse_verifier_key(pair.verifier_key));
//   IRONROOT_ASSIGN_OR_RETURN(audit::Note note, audit::open_note(signed_note, {&key, 1}));
//   // note.text == "hello\n"
//
// Key ID (signed-note "Ed25519 signatures"):
//   SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]
// Verifier key text (signed-note "Verifier keys"):
//   <key name>+<hex(key ID), 8 lowercase digits>+<base64(0x01 || public key)>
//
// Thread safety: functions are thread-safe; a NoteSigner may sign from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

struct evp_pkey_st;

namespace ironroot::audit {

inline constexpr uint8_t kSignatureTypeEd25519 = 0x01;  // signed-note "Signature types"
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// Limits on untrusted notes. The spec asks verifiers to accept at least 16 signatures and warns
// that post-quantum signatures reach almost 5 kB, so 16 of the largest fit well within 256 KiB.
struct NoteLimits {
  size_t max_bytes = 256 * 1024;
  size_t max_signatures = 100;  // golang.org/x/mod/sumdb/note's limit
};

// A key name as the spec allows it: non-empty UTF-8, no Unicode space (Go's unicode.IsSpace set),
// no '+', and (as it sits on a note line) no control character.
bool is_valid_key_name(std::string_view name);

// SHA-256(name || 0x0A || 0x01 || public_key)[:4] as a big-endian integer.
uint32_t ed25519_key_id(std::string_view name,
                        std::span<const uint8_t, kEd25519PublicKeySize> public_key);

// An Ed25519 note verifier key (signature type 0x01).
struct NoteVerifierKey {
  std::string name;
  uint32_t id = 0;
  std::array<uint8_t, kEd25519PublicKeySize> public_key{};

  // "<name>+<8 hex digits>+<base64(0x01 || public key)>".
  std::string to_string() const;
};

// Parses a verifier key. OK means: three '+'-separated parts, a valid key name, exactly 8 hex
// digits, canonical base64 of 0x01 followed by 32 bytes, and an ID equal to ed25519_key_id().
// kUnsupported for other signature types; kMalformed otherwise.
Result<NoteVerifierKey> parse_verifier_key(std::string_view vkey);

// A fresh Ed25519 key pair from OpenSSL's CSPRNG.
struct NoteKeyPair {
  std::string verifier_key;     // the public half, as parse_verifier_key reads it
  std::string private_key_pem;  // PKCS#8 "PRIVATE KEY" PEM, unencrypted: keep it secret
};
// kInvalidArgument for an invalid key name.
Result<NoteKeyPair> generate_note_key(std::string_view key_name);

// Signs note texts with one Ed25519 private key under one key name. Movable, not copyable.
class NoteSigner {
 public:
  // Loads a PEM private key (PKCS#8 or traditional); kUnsupported unless it is Ed25519,
  // kInvalidArgument for an invalid key name, kMalformed for unreadable PEM.
  static Result<NoteSigner> from_pem(std::string key_name, std::string_view private_key_pem);

  NoteSigner(NoteSigner&&) noexcept;
  NoteSigner& operator=(NoteSigner&&) noexcept;
  ~NoteSigner();

  const std::string& name() const { return key_.name; }
  uint32_t key_id() const { return key_.id; }
  const NoteVerifierKey& verifier_key() const { return key_; }

  // The signature line for `text` ("— name base64\n"), Ed25519 (RFC 8032) over the text
  // exactly, final newline included. kInvalidArgument when the text is not a valid note text
  // (empty, no final newline, a control character other than newline, invalid UTF-8).
  Result<std::string> signature_line(std::string_view text) const;
  // The signed note: text, blank line, signature line.
  Result<std::string> sign(std::string_view text) const;

 private:
  NoteSigner(NoteVerifierKey key, ::evp_pkey_st* pkey) : key_(std::move(key)), pkey_(pkey) {}

  NoteVerifierKey key_;
  ::evp_pkey_st* pkey_ = nullptr;
};

// One signature line of a note.
struct NoteSignature {
  std::string key_name;
  uint32_t key_id = 0;
  std::vector<uint8_t> signature;  // the bytes after the key ID
  bool verified = false;           // open_note: made by a key it was given, and checked
};

struct Note {
  std::string text;  // up to and including the newline before the blank line
  std::vector<NoteSignature> signatures;
};

// Splits a note into text and signature lines without checking any signature. OK means: at most
// limits.max_bytes, valid UTF-8, no control character but newline, text separated from the
// signatures by the last blank line, every signature line well-formed (em dash, space, valid key
// name, space, canonical base64 of at least 5 bytes, newline), at most limits.max_signatures.
// kResourceLimit for a note over the limits, kMalformed otherwise.
Result<Note> parse_note(std::string_view message, const NoteLimits& limits = {});

// Parses and verifies a note (signed-note "Signatures"). Signatures whose (name, key ID) matches
// none of `known` are ignored (kept with verified = false); each that matches is checked, and
// one that fails rejects the whole note. OK means at least one known key's signature verified.
// kInvalidArgument when two of `known` share a name and ID (ambiguous); kMalformed for a bad
// signature or no verified one; parse_note's errors otherwise.
Result<Note> open_note(std::string_view message, std::span<const NoteVerifierKey> known,
                       const NoteLimits& limits = {});

}  // namespace ironroot::audit
