// ironroot audit: offline verification of RFC 9162 Merkle proofs, and their text form.
//
// What an auditor runs on a laptop with nothing but a checkpoint and a proof:
//
//   // RFC 9162 2.1.3.2: is entry `e`, at index 41, in the tree of 1000 entries with root r?
//   Status st = audit::verify_inclusion(audit::leaf_hash(e), 41, 1000, proof, r);
//   // RFC 9162 2.1.4.2: is the tree of 1000 entries a prefix of the tree of 1500?
//   Status st2 = audit::verify_consistency(1000, 1500, proof2, r1000, r1500);
//
//   std::vector<std::string> json_list = audit::encode_proof(proof);    // ["base64", ...]
//   IRONROOT_ASSIGN_OR_RETURN(audit::Proof p, audit::decode_proof(json_list));
//
// Contracts common to every verify_* function: OK means the proof verifies. Anything else is an
// Error saying why: kInvalidArgument for positions that cannot be (index >= size, size1 > size2,
// a subtree that is not one), kMalformed for a proof of the wrong length, a leaf or root of the
// wrong size, or hashes that do not chain up to the given root. They never crash or allocate in
// proportion to their input, and they do at most ~2 hashes per proof element (at most 128
// elements are looked at: no verifiable proof is longer).
//
// Roots are byte views rather than Hash because a consistency check between equal sizes compares
// two roots without hashing them; every root that is hashed or compared with a computed hash must
// be 32 bytes. Proof elements are Hash: decode_proof() rejects an element of another size.
//
// Subtree proofs (verify_subtree_*) follow the "Subtrees" section of
// draft-ietf-plants-merkle-tree-certs (Merkle Tree Certificates) as implemented by
// transparency-dev/merkle@417fb0c proof/verify.go, whose test vectors they pass.
//
// Thread safety: pure functions (a thread-local hasher), thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "audit/tree_hash.h"
#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::audit {

// Hashes of a proof, bottom (leaf level) first, as RFC 9162 2.1.3.1 / 2.1.4.1 order them.
using Proof = std::vector<Hash>;

// No inclusion proof in a tree of fewer than 2^64 leaves has more than 64 hashes, and no
// (subtree) consistency proof more than 65; longer lists are rejected before any work.
inline constexpr size_t kMaxProofHashes = 128;

// RFC 9162 2.1.3.2. OK when `proof` leads from `leaf_hash` at `index` to `root` in a tree of
// `tree_size` leaves. Rejects index >= tree_size, a leaf hash or root that is not 32 bytes, a
// proof that is too short or too long, and any hash mismatch.
Status verify_inclusion(Bytes leaf_hash, uint64_t index, uint64_t tree_size,
                        std::span<const Hash> proof, Bytes root);

// The root that `proof` implies for `leaf_hash` at `index` in a tree of `tree_size` leaves
// (RFC 9162 2.1.3.2 steps 1-4); fails as verify_inclusion does on a malformed proof.
Result<Hash> root_from_inclusion_proof(Bytes leaf_hash, uint64_t index, uint64_t tree_size,
                                       std::span<const Hash> proof);

// RFC 9162 2.1.4.2. OK when `proof` shows that the tree of `size1` leaves with root `root1` is a
// prefix of the tree of `size2` leaves with root `root2`. Rules beyond the RFC's steps, as in
// transparency-dev/merkle: size1 == 0 is rejected (a proof from the empty tree proves nothing);
// size1 == size2 needs an empty proof and root1 == root2 (RFC 9162 2.1.4.1 produces no hashes for
// equal sizes, where 2.1.4.2 step 1 would reject the empty list); size1 > size2 is rejected.
Status verify_consistency(uint64_t size1, uint64_t size2, std::span<const Hash> proof, Bytes root1,
                          Bytes root2);

// True when [start, end) is a subtree in the sense of draft-ietf-plants-merkle-tree-certs:
// start <= end, and start == 0, start == end, or start a multiple of the smallest power of two
// >= end - start (so one node of some tree covers exactly [start, end) and nothing to its left).
bool is_valid_subtree(uint64_t start, uint64_t end);

// Subtree inclusion: OK when `proof` leads from `leaf_hash` at absolute `index` to `subtree_root`,
// the hash of the subtree [start, end). Requires a valid subtree and start <= index < end.
Status verify_subtree_inclusion(Bytes leaf_hash, uint64_t index, uint64_t start, uint64_t end,
                                std::span<const Hash> proof, Bytes subtree_root);

// Subtree consistency: OK when `proof` shows that the subtree [start, end) with hash
// `subtree_root` is part of the tree of `tree_size` leaves with root `tree_root`. An empty
// subtree (start == end <= tree_size) is consistent with any tree given an empty proof and the
// empty-tree hash as `subtree_root`. [0, size1) in a tree of size2 is the RFC 9162 case, with
// size1 == 0 rejected only by verify_consistency.
Status verify_subtree_consistency(uint64_t start, uint64_t end, uint64_t tree_size,
                                  std::span<const Hash> proof, Bytes subtree_root, Bytes tree_root);

// The proof as a list of base64 strings (RFC 4648 section 4), ready for a JSON array.
std::vector<std::string> encode_proof(std::span<const Hash> proof);
// Decodes such a list: each element canonical base64 of 32 bytes, at most kMaxProofHashes
// elements. kMalformed (naming the element) or kResourceLimit otherwise.
Result<Proof> decode_proof(std::span<const std::string> base64_hashes);

}  // namespace ironroot::audit
