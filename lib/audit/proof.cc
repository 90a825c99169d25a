#include "audit/proof.h"

#include <algorithm>
#include <bit>

#include "audit/internal.h"
#include "core/hex.h"
#include "crypto/digest.h"

namespace ironroot::audit {
namespace {

using internal::bit_length;

// x >> n with Go's semantics for n >= 64 (zero), where C++ leaves it undefined.
uint64_t shr(uint64_t x, int n) {
  return n >= 64 ? 0 : x >> n;
}

std::string u64(uint64_t v) {
  return std::to_string(v);
}

Status root_matches(const Hash& computed, Bytes root, std::string_view what) {
  if (root.size() != kHashSize) {
    return malformed(std::string(what) + " is " + std::to_string(root.size()) + " bytes, want " +
                     std::to_string(kHashSize));
  }
  if (!crypto::equal_ct(computed, root)) {
    return malformed("proof does not lead to the " + std::string(what) + ": computed " +
                     hash_hex(computed) + ", given " + to_hex(root));
  }
  return {};
}

Error too_long(size_t got) {
  return malformed("proof has " + std::to_string(got) + " hashes, more than any tree needs (" +
                   std::to_string(kMaxProofHashes) + ")");
}

Status length_is(size_t got, size_t want) {
  if (got != want) {
    return malformed("proof has " + std::to_string(got) + " hashes, want " + std::to_string(want));
  }
  return {};
}

// --- Helpers of the subtree consistency check, after transparency-dev/merkle proof/verify.go ---

// Inclusion proof of leaf `index` in a tree of `size` leaves, split where the paths to `index`
// and `size - 1` diverge: `inner` hashes below that point, `border` (left siblings) above it.
struct Decomposition {
  int inner;
  int border;
};
Decomposition decompose_inclusion(uint64_t index, uint64_t size) {
  int inner = bit_length(index ^ (size - 1));
  return {inner, std::popcount(shr(index, inner))};
}

// Hashes `seed` at position `index` of its level up through `proof`, left or right sibling by
// the index bits (below the right border).
Hash chain_inner(TreeHasher& h, Hash seed, std::span<const Hash> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    seed = (shr(index, static_cast<int>(i)) & 1) == 0 ? h.children(seed, proof[i])
                                                      : h.children(proof[i], seed);
  }
  return seed;
}

// Like chain_inner, but only left siblings count: the hash of the earlier, smaller version of
// the same subtree.
Hash chain_inner_right(TreeHasher& h, Hash seed, std::span<const Hash> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if ((shr(index, static_cast<int>(i)) & 1) == 1) seed = h.children(proof[i], seed);
  }
  return seed;
}

// Along the right border of a tree every proof hash is a left sibling.
Hash chain_border_right(TreeHasher& h, Hash seed, std::span<const Hash> proof) {
  for (const Hash& p : proof) seed = h.children(p, seed);
  return seed;
}

TreeHasher& hasher() {
  thread_local TreeHasher h;
  return h;
}

}  // namespace

Result<Hash> root_from_inclusion_proof(Bytes leaf_hash, uint64_t index, uint64_t tree_size,
                                       std::span<const Hash> proof) {
  // RFC 9162 2.1.3.2 step 1.
  if (index >= tree_size) {
    return invalid_argument("leaf index " + u64(index) + " is not below tree size " +
                            u64(tree_size));
  }
  IRONROOT_ASSIGN_OR_RETURN(Hash r, hash_from_bytes(leaf_hash));  // step 3
  if (proof.size() > kMaxProofHashes) return too_long(proof.size());
  TreeHasher& h = hasher();
  uint64_t fn = index;          // step 2
  uint64_t sn = tree_size - 1;  // step 2
  for (const Hash& p : proof) {
    if (sn == 0) {  // step 4a
      return malformed("proof has more hashes than the path from leaf " + u64(index) +
                       " to the root of a tree of " + u64(tree_size));
    }
    if ((fn & 1) == 1 || fn == sn) {  // step 4b
      r = h.children(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = h.children(r, p);
    }
    fn >>= 1;  // step 4c
    sn >>= 1;
  }
  if (sn != 0) {  // step 5, first half
    return malformed("proof has fewer hashes than the path from leaf " + u64(index) +
                     " to the root of a tree of " + u64(tree_size));
  }
  return r;
}

Status verify_inclusion(Bytes leaf_hash, uint64_t index, uint64_t tree_size,
                        std::span<const Hash> proof, Bytes root) {
  IRONROOT_ASSIGN_OR_RETURN(Hash r, root_from_inclusion_proof(leaf_hash, index, tree_size, proof));
  return root_matches(r, root, "root");  // step 5, second half
}

Status verify_consistency(uint64_t size1, uint64_t size2, std::span<const Hash> proof, Bytes root1,
                          Bytes root2) {
  if (size1 > size2) {
    return invalid_argument("first tree size " + u64(size1) + " is larger than second " +
                            u64(size2));
  }
  if (size1 == 0) {
    return invalid_argument("a consistency proof from the empty tree proves nothing");
  }
  if (size1 == size2) {
    if (!proof.empty()) return malformed("equal tree sizes need an empty proof");
    if (!crypto::equal_ct(root1, root2)) return malformed("equal tree sizes with different roots");
    return {};
  }
  if (proof.empty()) return malformed("empty consistency proof");  // RFC 9162 2.1.4.2 step 1
  if (proof.size() > kMaxProofHashes) return too_long(proof.size());
  IRONROOT_ASSIGN_OR_RETURN(Hash first_hash, hash_from_bytes(root1));

  // Step 2: when size1 is a power of two, its root is the first element of the path (the proof
  // leaves it out, the verifier knows it). `path(i)` reads the path without copying.
  const bool prepend = std::has_single_bit(size1);
  const size_t path_len = proof.size() + (prepend ? 1 : 0);
  auto path = [&](size_t i) -> const Hash& {
    if (prepend) return i == 0 ? first_hash : proof[i - 1];
    return proof[i];
  };

  TreeHasher& h = hasher();
  uint64_t fn = size1 - 1;  // step 3
  uint64_t sn = size2 - 1;
  while ((fn & 1) == 1) {  // step 4
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path(0);  // step 5
  Hash sr = path(0);
  for (size_t i = 1; i < path_len; ++i) {  // step 6
    const Hash& c = path(i);
    if (sn == 0) {  // 6a
      return malformed("consistency proof has more hashes than trees of " + u64(size1) + " and " +
                       u64(size2) + " need");
    }
    if ((fn & 1) == 1 || fn == sn) {  // 6b
      fr = h.children(c, fr);
      sr = h.children(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = h.children(sr, c);
    }
    fn >>= 1;  // 6c
    sn >>= 1;
  }
  // Step 7.
  if (sn != 0) {
    return malformed("consistency proof has fewer hashes than trees of " + u64(size1) + " and " +
                     u64(size2) + " need");
  }
  IRONROOT_RETURN_IF_ERROR(root_matches(fr, root1, "first root"));
  return root_matches(sr, root2, "second root");
}

bool is_valid_subtree(uint64_t start, uint64_t end) {
  if (start > end) return false;
  if (start == 0 || start == end) return true;
  uint64_t length = end - start;
  if (length > (uint64_t{1} << 63)) return false;  // no power of two >= length fits in 64 bits
  return (start & (std::bit_ceil(length) - 1)) == 0;
}

Status verify_subtree_inclusion(Bytes leaf_hash, uint64_t index, uint64_t start, uint64_t end,
                                std::span<const Hash> proof, Bytes subtree_root) {
  if (!is_valid_subtree(start, end)) {
    return invalid_argument("[" + u64(start) + ", " + u64(end) + ") is not a subtree");
  }
  if (index < start || index >= end) {
    return invalid_argument("leaf index " + u64(index) + " is outside the subtree [" + u64(start) +
                            ", " + u64(end) + ")");
  }
  // A subtree is a tree of its own: inclusion of index - start in a tree of end - start leaves.
  IRONROOT_ASSIGN_OR_RETURN(
      Hash r, root_from_inclusion_proof(leaf_hash, index - start, end - start, proof));
  return root_matches(r, subtree_root, "subtree root");
}

Status verify_subtree_consistency(uint64_t start, uint64_t end, uint64_t tree_size,
                                  std::span<const Hash> proof, Bytes subtree_root,
                                  Bytes tree_root) {
  if (start == end) {  // the empty subtree is part of every tree
    if (end > tree_size) {
      return invalid_argument("empty subtree at " + u64(end) + " is past tree size " +
                              u64(tree_size));
    }
    if (!proof.empty()) return malformed("an empty subtree needs an empty proof");
    if (!crypto::equal_ct(subtree_root, empty_root())) {
      return malformed("an empty subtree's hash must be the empty-tree hash");
    }
    return {};
  }
  if (!is_valid_subtree(start, end)) {
    return invalid_argument("[" + u64(start) + ", " + u64(end) + ") is not a subtree");
  }
  if (tree_size < end) {
    return invalid_argument("subtree end " + u64(end) + " is past tree size " + u64(tree_size));
  }
  if (start == 0 && end == tree_size) {  // the subtree is the tree
    if (!proof.empty()) return malformed("a subtree equal to the tree needs an empty proof");
    if (!crypto::equal_ct(subtree_root, tree_root)) {
      return malformed("a subtree equal to the tree must have the tree's root");
    }
    return {};
  }
  if (proof.empty()) return malformed("empty subtree consistency proof");
  if (proof.size() > kMaxProofHashes) return too_long(proof.size());
  IRONROOT_ASSIGN_OR_RETURN(Hash sub, hash_from_bytes(subtree_root));
  TreeHasher& h = hasher();

  if (end == tree_size) {
    // The subtree ends at the tree's right edge: its root is a node of the tree, and the proof
    // holds one left sibling for each level where that node's ancestors are right children.
    int level = bit_length((end - 1) ^ start);  // height of the subtree's root node
    uint64_t node_index = shr(start, level);
    IRONROOT_RETURN_IF_ERROR(
        length_is(proof.size(), static_cast<size_t>(std::popcount(node_index))));
    return root_matches(chain_border_right(h, sub, proof), tree_root, "tree root");
  }

  // Otherwise the proof is a suffix of the inclusion proof of leaf end - 1 in the tree, starting
  // at the level of the largest perfect subtree that ends at `end` (`shift`), preceded by that
  // subtree's hash unless [start, end) is itself perfect.
  const Decomposition d = decompose_inclusion(end - 1, tree_size);
  const int shift = std::countr_zero(end - start);
  const int inner = d.inner - shift;
  if (inner < 0) return malformed("subtree consistency proof: impossible tree shape");
  const bool perfect = (end - start) == (uint64_t{1} << shift);
  const size_t first = perfect ? 0 : 1;
  IRONROOT_RETURN_IF_ERROR(length_is(proof.size(), first + static_cast<size_t>(inner + d.border)));
  const Hash seed = perfect ? sub : proof[0];
  const std::span<const Hash> rest = proof.subspan(first);
  const uint64_t mask = shr(end - 1, shift);

  if (!perfect) {
    // The nodes of the proof that lie inside [start, end) must rebuild `subtree_root`.
    const int height = bit_length((end - 1) ^ start);
    const int fork = bit_length((end - 1) ^ (tree_size - 1));
    const int sub_inner = std::min(height, fork) - shift;
    const int sub_border = std::max(0, d.border - std::popcount(shr(end - 1, height)));
    if (sub_inner < 0 || sub_inner > inner ||
        static_cast<size_t>(inner + sub_border) > rest.size()) {
      return malformed("subtree consistency proof: impossible tree shape");
    }
    Hash hash1 = chain_inner_right(h, seed, rest.first(static_cast<size_t>(sub_inner)), mask);
    hash1 = chain_border_right(
        h, hash1, rest.subspan(static_cast<size_t>(inner), static_cast<size_t>(sub_border)));
    IRONROOT_RETURN_IF_ERROR(root_matches(hash1, subtree_root, "subtree root"));
  }
  Hash hash2 = chain_inner(h, seed, rest.first(static_cast<size_t>(inner)), mask);
  hash2 = chain_border_right(h, hash2, rest.subspan(static_cast<size_t>(inner)));
  return root_matches(hash2, tree_root, "tree root");
}

std::vector<std::string> encode_proof(std::span<const Hash> proof) {
  std::vector<std::string> out;
  out.reserve(proof.size());
  for (const Hash& h : proof) out.push_back(encode_hash(h));
  return out;
}

Result<Proof> decode_proof(std::span<const std::string> base64_hashes) {
  if (base64_hashes.size() > kMaxProofHashes) {
    return Error(ErrorCode::kResourceLimit, "proof has " + std::to_string(base64_hashes.size()) +
                                                " hashes, at most " +
                                                std::to_string(kMaxProofHashes) + " are allowed");
  }
  Proof out;
  out.reserve(base64_hashes.size());
  for (size_t i = 0; i < base64_hashes.size(); ++i) {
    auto h = decode_hash(base64_hashes[i]);
    if (!h) return std::move(h).error().with_context("proof[" + std::to_string(i) + "]");
    out.push_back(*h);
  }
  return out;
}

}  // namespace ironroot::audit
