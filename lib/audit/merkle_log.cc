#include "audit/merkle_log.h"

#include <algorithm>
#include <bit>

#include "audit/internal.h"

namespace ironroot::audit {
namespace {

using internal::split_point;

std::string u64(uint64_t v) {
  return std::to_string(v);
}

Error internal_error(const std::string& what) {
  return Error(ErrorCode::kInternal, "merkle log: " + what);
}

}  // namespace

uint64_t MerkleLog::append(Bytes entry) {
  return append_leaf_hash(audit::leaf_hash(entry));
}

uint64_t MerkleLog::append_leaf_hash(const Hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  const uint64_t index = levels_[0].size();
  levels_[0].push_back(leaf);
  // Each time the new node is a right child, its parent has become complete: store it.
  Hash node = leaf;
  uint64_t i = index;
  size_t level = 0;
  while ((i & 1) == 1) {
    node = node_hash(levels_[level][i - 1], node);
    ++level;
    i >>= 1;
    if (levels_.size() == level) levels_.emplace_back();
    levels_[level].push_back(node);
  }
  return index;
}

void MerkleLog::reserve(uint64_t entries) {
  const size_t height = static_cast<size_t>(std::bit_width(entries));
  if (levels_.size() < height) levels_.resize(height);
  for (size_t l = 0; l < height; ++l) levels_[l].reserve(entries >> l);
}

Status MerkleLog::check_size(uint64_t tree_size) const {
  if (tree_size > size()) {
    return invalid_argument("tree size " + u64(tree_size) + " is past the log's " + u64(size()) +
                            " entries");
  }
  return {};
}

Result<Hash> MerkleLog::leaf_hash(uint64_t index) const {
  if (index >= size()) {
    return invalid_argument("leaf index " + u64(index) + " is past the log's " + u64(size()) +
                            " entries");
  }
  return levels_[0][index];
}

Hash MerkleLog::range_hash(uint64_t begin, uint64_t end) const {
  // The range is a run of perfect subtrees, one per set bit of its length, largest first
  // (RFC 9162 2.1.1 splits at the largest power of two below n, then recurses on the right);
  // folding them from the right gives MTH. Each is stored since it is complete in this log.
  const uint64_t length = end - begin;
  Hash acc{};
  bool have = false;
  uint64_t offset = end;
  for (int level = 0; level < 64; ++level) {
    const uint64_t bit = uint64_t{1} << level;
    if ((length & bit) == 0) continue;
    offset -= bit;
    const Hash& piece = levels_[static_cast<size_t>(level)][offset >> level];
    acc = have ? node_hash(piece, acc) : piece;
    have = true;
  }
  return acc;
}

Hash MerkleLog::root() const {
  return size() == 0 ? empty_root() : range_hash(0, size());
}

Result<Hash> MerkleLog::root(uint64_t tree_size) const {
  IRONROOT_RETURN_IF_ERROR(check_size(tree_size));
  return tree_size == 0 ? empty_root() : range_hash(0, tree_size);
}

Proof MerkleLog::path(uint64_t index, uint64_t lo, uint64_t hi) const {
  // RFC 9162 2.1.3.1, top-down: at each split keep the sibling of the half holding `index`.
  // The recursion lists siblings bottom-up, so reverse at the end.
  Proof out;
  while (hi - lo > 1) {
    const uint64_t k = split_point(hi - lo);
    if (index < lo + k) {
      out.push_back(range_hash(lo + k, hi));
      hi = lo + k;
    } else {
      out.push_back(range_hash(lo, lo + k));
      lo += k;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<Proof> MerkleLog::inclusion_proof(uint64_t index, uint64_t tree_size) const {
  IRONROOT_RETURN_IF_ERROR(check_size(tree_size));
  if (index >= tree_size) {
    return invalid_argument("leaf index " + u64(index) + " is not below tree size " +
                            u64(tree_size));
  }
  return path(index, 0, tree_size);
}

Result<Proof> MerkleLog::consistency_proof(uint64_t size1, uint64_t size2) const {
  if (size1 == 0) {
    return invalid_argument("a consistency proof from the empty tree proves nothing");
  }
  if (size1 > size2) {
    return invalid_argument("first tree size " + u64(size1) + " is larger than second " +
                            u64(size2));
  }
  return subtree_consistency_proof(0, size1, size2);
}

Result<Hash> MerkleLog::subtree_hash(uint64_t start, uint64_t end) const {
  if (!is_valid_subtree(start, end)) {
    return invalid_argument("[" + u64(start) + ", " + u64(end) + ") is not a subtree");
  }
  IRONROOT_RETURN_IF_ERROR(check_size(end));
  return start == end ? empty_root() : range_hash(start, end);
}

Result<Proof> MerkleLog::subtree_inclusion_proof(uint64_t index, uint64_t start,
                                                 uint64_t end) const {
  if (!is_valid_subtree(start, end)) {
    return invalid_argument("[" + u64(start) + ", " + u64(end) + ") is not a subtree");
  }
  IRONROOT_RETURN_IF_ERROR(check_size(end));
  if (index < start || index >= end) {
    return invalid_argument("leaf index " + u64(index) + " is outside the subtree [" + u64(start) +
                            ", " + u64(end) + ")");
  }
  return path(index, start, end);
}

Result<Proof> MerkleLog::subtree_consistency_proof(uint64_t start, uint64_t end,
                                                   uint64_t tree_size) const {
  if (!is_valid_subtree(start, end)) {
    return invalid_argument("[" + u64(start) + ", " + u64(end) + ") is not a subtree");
  }
  if (end > tree_size) {
    return invalid_argument("subtree end " + u64(end) + " is past tree size " + u64(tree_size));
  }
  IRONROOT_RETURN_IF_ERROR(check_size(tree_size));
  if (start == end) return Proof{};

  // RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b), walked top-down over [lo, hi) and generalised to a
  // subtree [start, end) that need not start at 0:
  //   - the subtree is the whole range: done; its hash is added only when b is false (the
  //     verifier does not already know it);
  //   - it lies in the left part D[lo:lo+k]: recurse there, then add MTH(D[lo+k:hi]);
  //   - it lies in the right part: recurse there (b unchanged), then add MTH(D[lo:lo+k]);
  //   - it straddles lo + k (only when start == lo, RFC 9162's m > k case): recurse into the
  //     right part for what remains of it, with b false, then add MTH(D[lo:lo+k]).
  // Hashes are pushed top-down and reversed at the end, as the recursion emits them bottom-up.
  Proof out;
  uint64_t lo = 0;
  uint64_t hi = tree_size;
  bool known = true;  // RFC 9162's b
  while (!(start == lo && end == hi)) {
    if (hi - lo < 2) return internal_error("subtree consistency walk left the subtree");
    const uint64_t k = split_point(hi - lo);
    if (end <= lo + k) {
      out.push_back(range_hash(lo + k, hi));
      hi = lo + k;
    } else if (start >= lo + k) {
      out.push_back(range_hash(lo, lo + k));
      lo += k;
    } else {
      if (start != lo) return internal_error("subtree straddles a split away from its start");
      out.push_back(range_hash(lo, lo + k));
      lo += k;
      start = lo;
      known = false;
    }
  }
  if (!known) out.push_back(range_hash(lo, hi));
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace ironroot::audit
