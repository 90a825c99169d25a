// lib/audit: tree hashing, MerkleLog and proof verification, checked against a naive transcription
// of RFC 9162 2.1 (recursive MTH / PATH / PROOF over a vector of entries, hashed with OpenSSL's
// one-shot SHA256(), a different code path from the library's EVP streaming Hasher).
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "audit/merkle_log.h"
#include "audit/proof.h"
#include "audit/tree_hash.h"
#include "crypto/base64.h"

namespace ironroot::audit {
namespace {

using Entries = std::vector<std::vector<uint8_t>>;

// --- Reference: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 written out literally. ---

Hash sha256(const std::vector<uint8_t>& data) {
  Hash h;
  SHA256(data.data(), data.size(), h.data());
  return h;
}

Hash ref_leaf(const std::vector<uint8_t>& entry) {
  std::vector<uint8_t> buf{0x00};
  buf.insert(buf.end(), entry.begin(), entry.end());
  return sha256(buf);
}

Hash ref_node(const Hash& l, const Hash& r) {
  std::vector<uint8_t> buf{0x01};
  buf.insert(buf.end(), l.begin(), l.end());
  buf.insert(buf.end(), r.begin(), r.end());
  return sha256(buf);
}

uint64_t ref_k(uint64_t n) {  // largest power of two smaller than n
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[lo:hi]).
Hash ref_mth(const Entries& d, uint64_t lo, uint64_t hi) {
  if (hi == lo) return sha256({});
  if (hi - lo == 1) return ref_leaf(d[lo]);
  uint64_t k = ref_k(hi - lo);
  return ref_node(ref_mth(d, lo, lo + k), ref_mth(d, lo + k, hi));
}

// PATH(m, D[lo:hi]), m relative to lo.
Proof ref_path(const Entries& d, uint64_t m, uint64_t lo, uint64_t hi) {
  if (hi - lo <= 1) return {};
  uint64_t k = ref_k(hi - lo);
  Proof p;
  if (m < k) {
    p = ref_path(d, m, lo, lo + k);
    p.push_back(ref_mth(d, lo + k, hi));
  } else {
    p = ref_path(d, m - k, lo + k, hi);
    p.push_back(ref_mth(d, lo, lo + k));
  }
  return p;
}

// SUBPROOF(m, D[lo:hi], b).
Proof ref_subproof(const Entries& d, uint64_t m, uint64_t lo, uint64_t hi, bool b) {
  uint64_t n = hi - lo;
  if (m == n) {
    if (b) return {};
    return {ref_mth(d, lo, hi)};
  }
  uint64_t k = ref_k(n);
  Proof p;
  if (m <= k) {
    p = ref_subproof(d, m, lo, lo + k, b);
    p.push_back(ref_mth(d, lo + k, hi));
  } else {
    p = ref_subproof(d, m - k, lo + k, hi, false);
    p.push_back(ref_mth(d, lo, lo + k));
  }
  return p;
}

Entries make_entries(size_t n) {
  Entries d;
  for (size_t i = 0; i < n; ++i) {
    std::string s = "entry " + std::to_string(i);
    d.emplace_back(s.begin(), s.end());
  }
  return d;
}

MerkleLog make_log(const Entries& d) {
  MerkleLog log;
  for (const auto& e : d) log.append(e);
  return log;
}

Hash flip(Hash h, size_t byte = 0, uint8_t mask = 0x01) {
  h[byte] ^= mask;
  return h;
}

// --- Hashing ---

TEST(TreeHash, MatchesOneShotSha256WithDomainPrefixes) {
  const std::vector<uint8_t> entry = {'L', '1', '2', '3', '4', '5', '6'};
  EXPECT_EQ(leaf_hash(entry), ref_leaf(entry));
  EXPECT_EQ(leaf_hash({}), ref_leaf({}));
  EXPECT_EQ(empty_root(), sha256({}));
  Hash a = leaf_hash(entry);
  Hash b = leaf_hash({});
  EXPECT_EQ(node_hash(a, b), ref_node(a, b));
  // RFC 9162 2.1.1's domain separation: a node is not the leaf of its children's concatenation,
  // and the order of children matters (as transparency-dev's TestRFC6962HasherCollisions).
  std::vector<uint8_t> concat(a.begin(), a.end());
  concat.insert(concat.end(), b.begin(), b.end());
  EXPECT_NE(node_hash(a, b), leaf_hash(concat));
  EXPECT_NE(node_hash(a, b), node_hash(b, a));
  TreeHasher h;
  EXPECT_EQ(h.leaf(entry), leaf_hash(entry));
  EXPECT_EQ(h.children(a, b), node_hash(a, b));
}

TEST(TreeHash, Base64RoundTripIsStrict) {
  Hash h = leaf_hash({});
  std::string b64 = encode_hash(h);
  EXPECT_EQ(b64.size(), 44u);
  auto back = decode_hash(b64);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, h);
  EXPECT_FALSE(decode_hash(b64.substr(0, 40)).ok());    // 30 bytes
  EXPECT_FALSE(decode_hash(" " + b64.substr(1)).ok());  // whitespace
  EXPECT_FALSE(decode_hash(b64 + "AAAA").ok());         // 35 bytes
  // Non-zero spare bits before the padding: a lenient decoder reads the same 32 bytes, but the
  // text is not canonical, so it is refused (one value, one spelling).
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string sloppy = b64;
  sloppy[42] = kAlphabet[kAlphabet.find(b64[42]) ^ 1];  // the last data char has 2 spare bits
  auto lenient = crypto::base64_decode(sloppy);
  ASSERT_TRUE(lenient.ok());
  EXPECT_TRUE(std::equal(lenient->begin(), lenient->end(), h.begin(), h.end()));
  EXPECT_FALSE(decode_hash(sloppy).ok());
  EXPECT_FALSE(decode_hash("").ok());
  EXPECT_FALSE(hash_from_bytes(std::vector<uint8_t>(31)).ok());
  EXPECT_TRUE(hash_from_bytes(std::vector<uint8_t>(32)).ok());
}

// --- MerkleLog against the reference ---

TEST(MerkleLog, EmptyLog) {
  MerkleLog log;
  EXPECT_EQ(log.size(), 0u);
  EXPECT_EQ(log.root(), empty_root());
  auto r0 = log.root(0);
  ASSERT_TRUE(r0.ok());
  EXPECT_EQ(*r0, empty_root());
  EXPECT_FALSE(log.root(1).ok());
  EXPECT_FALSE(log.leaf_hash(0).ok());
  EXPECT_FALSE(log.inclusion_proof(0, 0).ok());
  EXPECT_FALSE(log.consistency_proof(0, 0).ok());
}

TEST(MerkleLog, AppendReturnsIndexAndKeepsLeafHashes) {
  const Entries d = make_entries(5);
  MerkleLog log;
  for (uint64_t i = 0; i < d.size(); ++i) EXPECT_EQ(log.append(d[i]), i);
  EXPECT_EQ(log.size(), 5u);
  for (uint64_t i = 0; i < d.size(); ++i) {
    auto h = log.leaf_hash(i);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, ref_leaf(d[i]));
  }
  EXPECT_EQ(log.leaf_hash(5).error().code(), ErrorCode::kInvalidArgument);
  // A log rebuilt from leaf hashes (as the store will do) is the same tree.
  MerkleLog rebuilt;
  for (uint64_t i = 0; i < d.size(); ++i) EXPECT_EQ(rebuilt.append_leaf_hash(*log.leaf_hash(i)), i);
  EXPECT_EQ(rebuilt.root(), log.root());
}

// Every root, inclusion proof and consistency proof of every size up to 70 equals the literal
// RFC 9162 recursion, byte for byte; and every one verifies.
TEST(MerkleLog, MatchesRfcRecursionForEverySize) {
  constexpr uint64_t kMax = 70;
  const Entries d = make_entries(kMax);
  MerkleLog log = make_log(d);
  uint64_t checked = 0;
  for (uint64_t n = 0; n <= kMax; ++n) {
    auto root = log.root(n);
    ASSERT_TRUE(root.ok());
    ASSERT_EQ(*root, ref_mth(d, 0, n)) << "size " << n;
    for (uint64_t m = 0; m < n; ++m) {
      auto p = log.inclusion_proof(m, n);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, ref_path(d, m, 0, n)) << "inclusion " << m << " in " << n;
      ASSERT_TRUE(verify_inclusion(ref_leaf(d[m]), m, n, *p, *root).ok());
      ++checked;
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto p = log.consistency_proof(m, n);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, ref_subproof(d, m, 0, n, true)) << "consistency " << m << " to " << n;
      Status st = verify_consistency(m, n, *p, ref_mth(d, 0, m), *root);
      ASSERT_TRUE(st.ok()) << m << " -> " << n << ": " << st.error().message();
      ++checked;
    }
  }
  EXPECT_EQ(checked, kMax * (kMax + 1));  // n(n-1)/2 inclusion + n(n+1)/2 consistency, summed
}

TEST(MerkleLog, LargerTreeRootsAndProofs) {
  const Entries d = make_entries(1500);
  MerkleLog log = make_log(d);
  EXPECT_EQ(log.root(), ref_mth(d, 0, 1500));
  for (uint64_t n : {1023u, 1024u, 1025u, 1337u, 1500u}) {
    EXPECT_EQ(*log.root(n), ref_mth(d, 0, n));
    for (uint64_t m : {0u, 511u, 512u, 1000u, 1022u}) {
      EXPECT_EQ(*log.inclusion_proof(m, n), ref_path(d, m, 0, n));
      EXPECT_EQ(*log.consistency_proof(m + 1, n), ref_subproof(d, m + 1, 0, n, true));
    }
  }
}

TEST(MerkleLog, ProofArgumentsOutOfRange) {
  MerkleLog log = make_log(make_entries(10));
  EXPECT_EQ(log.inclusion_proof(10, 10).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log.inclusion_proof(0, 11).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log.consistency_proof(0, 5).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log.consistency_proof(6, 5).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log.consistency_proof(5, 11).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(log.consistency_proof(5, 5)->empty());
  EXPECT_FALSE(log.subtree_hash(3, 5).ok());   // not a subtree
  EXPECT_FALSE(log.subtree_hash(8, 12).ok());  // past the log
  EXPECT_FALSE(log.subtree_inclusion_proof(3, 4, 8).ok());
  EXPECT_FALSE(log.subtree_consistency_proof(4, 8, 7).ok());
  EXPECT_FALSE(log.root(std::numeric_limits<uint64_t>::max()).ok());
}

// Subtrees: hashes, inclusion and consistency proofs for every valid [start, end) in trees up
// to 40 entries verify, and a proof for one subtree does not verify for its neighbours.
TEST(MerkleLog, SubtreeProofsVerify) {
  constexpr uint64_t kMax = 40;
  const Entries d = make_entries(kMax);
  MerkleLog log = make_log(d);
  uint64_t subtrees = 0;
  for (uint64_t start = 0; start <= kMax; ++start) {
    for (uint64_t end = start; end <= kMax; ++end) {
      if (!is_valid_subtree(start, end)) {
        EXPECT_FALSE(log.subtree_hash(start, end).ok());
        continue;
      }
      auto sub = log.subtree_hash(start, end);
      ASSERT_TRUE(sub.ok());
      ASSERT_EQ(*sub, ref_mth(d, start, end)) << start << "," << end;
      ++subtrees;
      for (uint64_t i = start; i < end; ++i) {
        auto p = log.subtree_inclusion_proof(i, start, end);
        ASSERT_TRUE(p.ok());
        ASSERT_EQ(*p, ref_path(d, i - start, start, end));
        ASSERT_TRUE(verify_subtree_inclusion(ref_leaf(d[i]), i, start, end, *p, *sub).ok());
      }
      for (uint64_t n = end; n <= kMax; ++n) {
        auto p = log.subtree_consistency_proof(start, end, n);
        ASSERT_TRUE(p.ok());
        const Hash root = ref_mth(d, 0, n);
        Status st = verify_subtree_consistency(start, end, n, *p, *sub, root);
        ASSERT_TRUE(st.ok()) << "[" << start << "," << end << ") in " << n << ": "
                             << st.error().message();
        if (start == 0 && end > 0) {
          ASSERT_EQ(*p, ref_subproof(d, end, 0, n, true));
        }
        if (start < end) {
          // A wrong subtree hash or tree root must not pass.
          ASSERT_FALSE(verify_subtree_consistency(start, end, n, *p, flip(*sub), root).ok());
          ASSERT_FALSE(verify_subtree_consistency(start, end, n, *p, *sub, flip(root)).ok());
        }
      }
    }
  }
  // 41 subtrees start at 0, 40 are empty at start > 0, and 100 others are aligned (counted
  // separately with the definition above).
  EXPECT_EQ(subtrees, 181u);
}

// --- Verification rejects every mutation ---

TEST(VerifyInclusion, RejectsMutations) {
  const Entries d = make_entries(21);
  MerkleLog log = make_log(d);
  for (uint64_t n = 1; n <= 21; ++n) {
    const Hash root = *log.root(n);
    for (uint64_t m = 0; m < n; ++m) {
      const Hash leaf = ref_leaf(d[m]);
      const Proof p = *log.inclusion_proof(m, n);
      ASSERT_TRUE(verify_inclusion(leaf, m, n, p, root).ok());
      EXPECT_FALSE(verify_inclusion(flip(leaf), m, n, p, root).ok());
      EXPECT_FALSE(verify_inclusion(leaf, m, n, p, flip(root, 31, 0x80)).ok());
      for (uint64_t other = 0; other < n; ++other) {
        if (other != m) {
          EXPECT_FALSE(verify_inclusion(leaf, other, n, p, root).ok());
        }
      }
      EXPECT_FALSE(verify_inclusion(leaf, m, n * 2, p, root).ok());
      for (size_t i = 0; i < p.size(); ++i) {
        Proof bad = p;
        bad[i] = flip(bad[i], i % 32, 0x08);
        EXPECT_FALSE(verify_inclusion(leaf, m, n, bad, root).ok());
        Proof shorter(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(i));
        EXPECT_FALSE(verify_inclusion(leaf, m, n, shorter, root).ok());
      }
      Proof longer = p;
      longer.push_back(root);
      EXPECT_FALSE(verify_inclusion(leaf, m, n, longer, root).ok());
      Proof preceded = p;
      preceded.insert(preceded.begin(), leaf);
      EXPECT_FALSE(verify_inclusion(leaf, m, n, preceded, root).ok());
    }
  }
}

TEST(VerifyInclusion, RejectsMalformedArgumentsWithoutCrashing) {
  const Hash h = leaf_hash({});
  const Proof none;
  // index >= size, size 0, and the extremes of uint64.
  EXPECT_EQ(verify_inclusion(h, 0, 0, none, h).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(verify_inclusion(h, 1, 1, none, h).error().code(), ErrorCode::kInvalidArgument);
  constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(verify_inclusion(h, kMaxU64, kMaxU64, none, h).ok());
  EXPECT_FALSE(verify_inclusion(h, kMaxU64 - 1, kMaxU64, Proof(64, h), h).ok());
  EXPECT_FALSE(verify_inclusion(h, 0, kMaxU64, Proof(64, h), h).ok());
  // Single-entry tree: the root is the leaf hash and the proof is empty.
  EXPECT_TRUE(verify_inclusion(h, 0, 1, none, h).ok());
  EXPECT_FALSE(verify_inclusion(h, 0, 1, Proof{h}, h).ok());
  // Leaf hash and root of the wrong size.
  const std::vector<uint8_t> short_hash(31, 0);
  EXPECT_EQ(verify_inclusion(short_hash, 0, 1, none, h).error().code(), ErrorCode::kMalformed);
  EXPECT_EQ(verify_inclusion(h, 0, 1, none, short_hash).error().code(), ErrorCode::kMalformed);
  EXPECT_FALSE(verify_inclusion(h, 0, 1, none, {}).ok());
  // Too many hashes is rejected before any hashing.
  EXPECT_FALSE(verify_inclusion(h, 0, 2, Proof(kMaxProofHashes + 1, h), h).ok());
  EXPECT_FALSE(root_from_inclusion_proof(h, 0, 2, Proof(1000, h)).ok());
}

TEST(VerifyConsistency, RejectsMutations) {
  const Entries d = make_entries(21);
  MerkleLog log = make_log(d);
  for (uint64_t n = 2; n <= 21; ++n) {
    const Hash root2 = *log.root(n);
    for (uint64_t m = 1; m < n; ++m) {
      const Hash root1 = *log.root(m);
      const Proof p = *log.consistency_proof(m, n);
      ASSERT_TRUE(verify_consistency(m, n, p, root1, root2).ok());
      EXPECT_FALSE(verify_consistency(m, n, p, root2, root1).ok());
      EXPECT_FALSE(verify_consistency(m, n, p, flip(root1), root2).ok());
      EXPECT_FALSE(verify_consistency(m, n, p, root1, flip(root2)).ok());
      EXPECT_FALSE(verify_consistency(m, n, {}, root1, root2).ok());
      EXPECT_FALSE(verify_consistency(m - 1, n, p, root1, root2).ok());
      EXPECT_FALSE(verify_consistency(m + 1, n, p, root1, root2).ok());
      EXPECT_FALSE(verify_consistency(m, n * 2, p, root1, root2).ok());
      for (size_t i = 0; i < p.size(); ++i) {
        Proof bad = p;
        bad[i] = flip(bad[i], 0, 0x10);
        EXPECT_FALSE(verify_consistency(m, n, bad, root1, root2).ok()) << m << "->" << n;
      }
      Proof longer = p;
      longer.push_back(root1);
      EXPECT_FALSE(verify_consistency(m, n, longer, root1, root2).ok());
      Proof preceded = p;
      preceded.insert(preceded.begin(), p[0]);
      EXPECT_FALSE(verify_consistency(m, n, preceded, root1, root2).ok());
    }
  }
}

TEST(VerifyConsistency, RejectsMalformedArgumentsWithoutCrashing) {
  const Hash h = leaf_hash({});
  const Hash g = leaf_hash(std::vector<uint8_t>{1});
  constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(verify_consistency(2, 1, {}, h, h).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(verify_consistency(0, 0, {}, h, h).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(verify_consistency(0, 5, Proof{h}, h, h).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(verify_consistency(7, 7, {}, h, h).ok());
  EXPECT_FALSE(verify_consistency(7, 7, {}, h, g).ok());
  EXPECT_FALSE(verify_consistency(7, 7, Proof{h}, h, h).ok());
  EXPECT_FALSE(verify_consistency(1, kMaxU64, Proof(64, h), h, g).ok());
  EXPECT_FALSE(verify_consistency(kMaxU64 - 1, kMaxU64, Proof(65, h), h, g).ok());
  EXPECT_FALSE(verify_consistency(1 << 20, kMaxU64, Proof(kMaxProofHashes + 1, h), h, g).ok());
  EXPECT_FALSE(verify_consistency(3, 4, Proof{h, g}, std::vector<uint8_t>(5), g).ok());
}

TEST(VerifySubtree, RejectsInvalidSubtreesAndPositions) {
  const Hash h = leaf_hash({});
  EXPECT_TRUE(is_valid_subtree(0, 0));
  EXPECT_TRUE(is_valid_subtree(0, 13));
  EXPECT_TRUE(is_valid_subtree(8, 13));  // 5 leaves, 8 | 8
  EXPECT_TRUE(is_valid_subtree(8, 16));
  EXPECT_FALSE(is_valid_subtree(4, 9));  // 5 leaves need a multiple of 8
  EXPECT_FALSE(is_valid_subtree(3, 5));
  EXPECT_FALSE(is_valid_subtree(2, 1));
  EXPECT_FALSE(is_valid_subtree(1, (uint64_t{1} << 63) + 2));
  EXPECT_EQ(verify_subtree_inclusion(h, 0, 1, 2, {}, h).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(verify_subtree_inclusion(h, 3, 0, 3, {}, h).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(verify_subtree_inclusion(h, 3, 3, 5, {}, h).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(verify_subtree_consistency(3, 3, 5, {}, empty_root(), h).ok());
  EXPECT_FALSE(verify_subtree_consistency(6, 6, 5, {}, empty_root(), h).ok());
  EXPECT_FALSE(verify_subtree_consistency(3, 3, 5, {}, h, h).ok());
  EXPECT_FALSE(verify_subtree_consistency(2, 6, 8, {}, h, h).ok());
  EXPECT_FALSE(verify_subtree_consistency(4, 8, 7, {}, h, h).ok());
  constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(verify_subtree_consistency(0, kMaxU64 - 1, kMaxU64, Proof(65, h), h, h).ok());
  EXPECT_FALSE(
      verify_subtree_consistency(uint64_t{1} << 63, kMaxU64, kMaxU64, Proof(1, h), h, h).ok());
}

// --- Serialisation ---

TEST(ProofText, RoundTripAndRejection) {
  MerkleLog log = make_log(make_entries(100));
  const Proof p = *log.inclusion_proof(37, 100);
  const std::vector<std::string> text = encode_proof(p);
  ASSERT_EQ(text.size(), p.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(text[i], encode_hash(p[i]));
  auto back = decode_proof(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
  EXPECT_TRUE(decode_proof(std::vector<std::string>{})->empty());

  std::vector<std::string> bad = text;
  bad[2] = bad[2].substr(4);
  auto r = decode_proof(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("proof[2]"), std::string::npos);
  bad = text;
  bad[0] = "not base64!";
  EXPECT_FALSE(decode_proof(bad).ok());
  const std::vector<std::string> too_many(kMaxProofHashes + 1, text[0]);
  EXPECT_EQ(decode_proof(too_many).error().code(), ErrorCode::kResourceLimit);
}

}  // namespace
}  // namespace ironroot::audit
