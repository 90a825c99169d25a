// ironroot audit: C2SP transparency log checkpoints (https://c2sp.org/tlog-checkpoint, v1.0.0),
// the signed statement "the log <origin> had <size> entries with root <hash>". A checkpoint is a
// signed note (note.h) whose text is
//   <origin>\n<tree size, decimal>\n<base64 RFC 9162 root hash>\n[<extension line>\n ...]
//
//   audit::Checkpoint cp{.origin = "example.org/log", .size = log.size(), .root = log.root()};
//   IRONROOT_ASSIGN_OR_RETURN(std::string signed_cp, audit::sign_checkpoint(cp, signer));
//   // ... an auditor, holding the log's verifier key:
//   IRONROOT_ASSIGN_OR_RETURN(audit::NoteVerifierKey key, audit::parse_verifier_key(vkey));
//   IRONROOT_ASSIGN_OR_RETURN(audit::Checkpoint got, audit::open_checkpoint(signed_cp, key));
//   // then verify_consistency(previous.size, got.size, proof, previous.root, got.root)
//
// Thread safety: pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/note.h"
#include "audit/tree_hash.h"
#include "core/result.h"

namespace ironroot::audit {

struct Checkpoint {
  std::string origin;  // the log's identity, e.g. "example.org/log42"; SHOULD be the key name
  uint64_t size = 0;   // number of entries
  Hash root{};         // RFC 9162 root of those entries (the empty-tree hash when size is 0)
  // Opaque, non-empty extension lines (tlog-checkpoint "Note text" item 4: NOT RECOMMENDED, as
  // monitors cannot audit them). Empty for ironroot's own checkpoints.
  std::vector<std::string> extensions;

  bool operator==(const Checkpoint&) const = default;
};

// The note text of a checkpoint. kInvalidArgument when the origin or an extension line is empty
// or has a newline or other control character, or is not UTF-8.
Result<std::string> checkpoint_text(const Checkpoint& checkpoint);

// Parses a checkpoint note text (tlog-checkpoint "Note text"): at least three lines, all
// non-empty, ending in a newline; the size in decimal without leading zeros (a lone "0" for the
// empty tree) and below 2^64; the root canonical base64 of 32 bytes. kMalformed otherwise.
Result<Checkpoint> parse_checkpoint_text(std::string_view text);

// A signed checkpoint: checkpoint_text() signed by `signer` as a note.
Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const NoteSigner& signer);

// Verifies and parses a signed checkpoint. OK means: the note opens with `key` (open_note: other
// signatures, such as witness cosignatures, are ignored), its text is a checkpoint, and its
// origin equals `origin` — or, when `origin` is empty, the key's name (tlog-checkpoint
// "Signatures": the key name SHOULD match the origin). A checkpoint of another log signed with
// the same key is thus rejected. Errors as open_note and parse_checkpoint_text, and kMalformed
// for an unexpected origin.
Result<Checkpoint> open_checkpoint(std::string_view signed_note, const NoteVerifierKey& key,
                                   std::string_view origin = {}, const NoteLimits& limits = {});

}  // namespace ironroot::audit
