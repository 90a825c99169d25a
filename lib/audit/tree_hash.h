// ironroot audit: RFC 9162 Merkle tree hashing (SHA-256) for the tamper-evident audit log.
//
// RFC 9162 2.1.1 (unchanged from RFC 6962 2.1):
//   MTH({})        = SHA-256()
//   MTH({d(0)})    = SHA-256(0x00 || d(0))                       leaf hash
//   MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  node hash, k = largest power of
//                                                                 two smaller than n
// The 0x00 / 0x01 prefixes keep a leaf from passing as an interior node (second preimages).
//
//   audit::TreeHasher h;
//   audit::Hash leaf = h.leaf(entry_bytes);
//   audit::Hash node = h.children(left, right);
//   std::string b64 = audit::encode_hash(node);             // as in checkpoints and JSON proofs
//   IRONROOT_ASSIGN_OR_RETURN(audit::Hash back, audit::decode_hash(b64));
//
// Hashing goes through OpenSSL EVP (crypto::Hasher). Thread safety: a TreeHasher is not
// thread-safe (one per thread); the free functions use a thread-local TreeHasher and are safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::audit {

inline constexpr size_t kHashSize = 32;  // SHA-256, the only hash RFC 9162 logs here use
// A Merkle tree hash (leaf, interior node or root) as a value.
using Hash = std::array<uint8_t, kHashSize>;

inline constexpr uint8_t kLeafHashPrefix = 0x00;  // RFC 9162 2.1.1
inline constexpr uint8_t kNodeHashPrefix = 0x01;  // RFC 9162 2.1.1

// RFC 9162 2.1.1 hashing with SHA-256. Not thread-safe; cheap to keep one per thread.
class TreeHasher {
 public:
  TreeHasher();

  // SHA-256(0x00 || entry): the leaf hash of one log entry.
  Hash leaf(Bytes entry);
  // SHA-256(0x01 || left || right): the hash of an interior node.
  Hash children(const Hash& left, const Hash& right);

 private:
  crypto::Hasher hasher_;
};

// The root of the empty tree, SHA-256 of the empty string (RFC 9162 2.1.1, MTH({})).
const Hash& empty_root();

// leaf() / children() through a thread-local TreeHasher.
Hash leaf_hash(Bytes entry);
Hash node_hash(const Hash& left, const Hash& right);

// `bytes` as a Hash; kMalformed unless it is exactly 32 bytes.
Result<Hash> hash_from_bytes(Bytes bytes);

// Standard padded base64 (RFC 4648 section 4), the encoding of root hashes in C2SP checkpoints.
std::string encode_hash(const Hash& hash);
// Decodes canonical base64 of exactly 32 bytes (no whitespace, padding required, zero trailing
// bits); kMalformed otherwise.
Result<Hash> decode_hash(std::string_view base64);

// Lowercase hex, for logs and error messages.
std::string hash_hex(const Hash& hash);

}  // namespace ironroot::audit
