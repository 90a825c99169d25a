// ironroot audit: an append-only, in-memory RFC 9162 Merkle tree that answers for every size it
// has ever had: roots, inclusion proofs (RFC 9162 2.1.3.1) and consistency proofs (2.1.4.1).
//
//   audit::MerkleLog log;
//   uint64_t i = log.append(finding_bytes);                  // index of the new entry
//   audit::Hash r = log.root();                              // root of all entries so far
//   IRONROOT_ASSIGN_OR_RETURN(audit::Proof p, log.inclusion_proof(i, log.size()));
//   IRONROOT_ASSIGN_OR_RETURN(audit::Proof c, log.consistency_proof(old_size, log.size()));
//   // An auditor checks them with audit::verify_inclusion / audit::verify_consistency.
//
// Representation (chosen over a compact range): every perfect subtree that is complete is kept,
// level by level: level 0 holds the leaf hashes, level l the hash of leaves
// [i * 2^l, (i + 1) * 2^l) at position i. A compact range (the right edge only) would make appends
// and the current root cheap too, but could not produce proofs or roots for earlier sizes, which
// auditors ask for (a consistency proof from their last checkpoint, an inclusion proof at the
// size they hold). With all perfect nodes kept:
//   - append is O(1) amortised hashing (one leaf hash plus on average one node hash; O(log n) in
//     the worst case) and appends to vectors;
//   - root(size), and any node of any earlier tree, is O(log n) reads and hashes: an earlier tree
//     is a left-to-right run of perfect subtrees (the binary digits of its size);
//   - a proof is O(log n) reads, plus O(log n) hashes for the one or two nodes on the right edge
//     that are not perfect in that tree (RFC 9162's recursion meets at most one such node per
//     side);
//   - memory is about 2n hashes (64 bytes per entry: 64 MB for a million entries).
// Durability is out of scope: the store persists entries (or leaf hashes) and rebuilds a
// MerkleLog with append_leaf_hash() on start.
//
// Thread safety: const methods may run concurrently with each other (they hash with a
// thread-local hasher); append / append_leaf_hash / reserve need exclusive access.
#pragma once

#include <cstdint>
#include <vector>

#include "audit/proof.h"
#include "audit/tree_hash.h"
#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::audit {

class MerkleLog {
 public:
  MerkleLog() = default;

  // Appends an entry as the leaf SHA-256(0x00 || entry) (RFC 9162 2.1.1); returns its index
  // (the size before the call). Only the hash is kept.
  uint64_t append(Bytes entry);
  // Appends a leaf hash computed elsewhere (a store reloading its entries); returns its index.
  uint64_t append_leaf_hash(const Hash& leaf_hash);
  // Reserves memory for `entries` leaves in total (optional; appends grow as needed).
  void reserve(uint64_t entries);

  // Number of entries.
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  // The leaf hash at `index`; kInvalidArgument when index >= size().
  Result<Hash> leaf_hash(uint64_t index) const;

  // The root of all entries (the empty-tree hash when there are none).
  Hash root() const;
  // MTH of the first `tree_size` entries (RFC 9162 2.1.1); kInvalidArgument past size().
  Result<Hash> root(uint64_t tree_size) const;

  // RFC 9162 2.1.3.1 PATH(index, D[tree_size]), leaf level first. Requires
  // index < tree_size <= size(); kInvalidArgument otherwise.
  Result<Proof> inclusion_proof(uint64_t index, uint64_t tree_size) const;
  // RFC 9162 2.1.4.1 PROOF(size1, D[size2]). Requires 0 < size1 <= size2 <= size(): a proof from
  // the empty tree proves nothing and verify_consistency rejects it. Equal sizes: empty proof.
  Result<Proof> consistency_proof(uint64_t size1, uint64_t size2) const;

  // The hash of the subtree [start, end) (see is_valid_subtree); the empty-tree hash when
  // start == end. Requires a valid subtree with end <= size().
  Result<Hash> subtree_hash(uint64_t start, uint64_t end) const;
  // Inclusion proof of leaf `index` in the subtree [start, end), as verify_subtree_inclusion
  // checks it. Requires a valid subtree, start <= index < end <= size().
  Result<Proof> subtree_inclusion_proof(uint64_t index, uint64_t start, uint64_t end) const;
  // Consistency proof of the subtree [start, end) with the tree of `tree_size` entries, as
  // verify_subtree_consistency checks it: RFC 9162's SUBPROOF generalised to a subtree that need
  // not start at 0. Requires a valid subtree, end <= tree_size <= size().
  Result<Proof> subtree_consistency_proof(uint64_t start, uint64_t end, uint64_t tree_size) const;

 private:
  // MTH(D[begin:end]) for a non-empty range of this log that is a subtree (begin a multiple of
  // a power of two >= end - begin, or 0): a fold of at most 64 stored perfect nodes.
  Hash range_hash(uint64_t begin, uint64_t end) const;
  // RFC 9162 PATH for `index` within the subtree [lo, hi).
  Proof path(uint64_t index, uint64_t lo, uint64_t hi) const;
  Status check_size(uint64_t tree_size) const;

  // levels_[l][i] = MTH(D[i * 2^l : (i + 1) * 2^l]), for every such perfect subtree complete now.
  std::vector<std::vector<Hash>> levels_;
};

}  // namespace ironroot::audit
