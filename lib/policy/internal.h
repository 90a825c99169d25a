// ironroot policy internals: the digest index and the builders behind the public loaders. Not
// for use outside lib/policy (and its tests).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "policy/runtime_policy.h"

namespace ironroot::policy::internal {

// A fast, non-cryptographic 64-bit hash for the index (paths are public data; a collision costs
// only a longer probe, never a wrong answer: every probe compares the bytes).
uint64_t hash_bytes(const void* data, size_t size);

// path -> raw digests. Built once with add()/finish(), then read-only.
//
// While building: paths interned in one arena, an open-addressing table of (hash tag, path id),
// digest references beside. finish() freezes it into one record per path,
//   u32 path length | u32 digest count | path | (u8 length, digest)...
// laid out contiguously, and points the table's 64-bit slots (24-bit hash tag, record offset)
// at them: a lookup touches the slot and one record, two or three cache lines in all.
class DigestIndex {
 public:
  enum class Lookup : uint8_t { kUnknownPath, kDigestNotFound, kFound };

  // Adds `path` (and `digest`, when not empty).
  void add(std::string_view path, Bytes digest);
  // The same in two steps, so that a loader can hash and prefetch a few entries ahead of
  // inserting them (the table is far larger than the caches: each insert is a cache miss).
  uint64_t hash_and_prefetch(std::string_view path) const;
  void add_hashed(std::string_view path, uint64_t hash, Bytes digest);
  // Sizes the table and arenas for about this many paths of this many bytes, so that loading
  // a large policy neither rehashes nor copies.
  void reserve(size_t paths, size_t path_bytes);
  void finish();

  Lookup find(std::string_view path, Bytes digest) const;
  // Visits the digests of `path` (none when unknown).
  template <typename Fn>
  void for_each_digest(std::string_view path, Fn&& fn) const {
    const uint8_t* r = find_record(path);
    if (r != nullptr) visit(r, [&](std::string_view, Bytes d) { fn(d); });
  }
  // (path, digest) for every pair; a path without digests once with an empty digest.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t off = 0; off < records_.size();) {
      const uint8_t* r = records_.data() + off;
      uint32_t n = 0;
      off += visit(r, [&](std::string_view p, Bytes d) {
        ++n;
        fn(p, d);
      });
      if (n == 0) fn(record_path(r), Bytes{});
    }
  }

  uint64_t path_count() const { return path_count_; }
  uint64_t digest_count() const { return digest_count_; }
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct PathRecord {
    uint64_t offset = 0;  // into arena_
    uint32_t length = 0;
    uint32_t first = 0;  // first digest (after grouping); paths_ has one sentinel at the end
  };
  uint32_t intern(std::string_view path, uint64_t hash);
  void grow();
  void rehash(size_t capacity);
  Bytes digest_at(uint32_t i) const {
    uint64_t ref = refs_[i];
    return {digests_.data() + (ref >> 8), static_cast<size_t>(ref & 0xff)};
  }
  const uint8_t* find_record(std::string_view path) const;
  static std::string_view record_path(const uint8_t* r);
  // Calls fn(path, digest) per digest of record `r`; returns the record's size.
  template <typename Fn>
  static size_t visit(const uint8_t* r, Fn&& fn) {
    uint32_t len, n;
    std::memcpy(&len, r, 4);
    std::memcpy(&n, r + 4, 4);
    std::string_view p(reinterpret_cast<const char*>(r + 8), len);
    size_t at = 8 + len;
    for (uint32_t i = 0; i < n; ++i) {
      const size_t dlen = r[at];
      fn(p, Bytes(r + at + 1, dlen));
      at += 1 + dlen;
    }
    return at;
  }

  // Building.
  std::vector<char> arena_;
  std::vector<PathRecord> paths_;
  std::vector<uint8_t> digests_;
  std::vector<uint64_t> refs_;       // offset << 8 | length
  std::vector<uint32_t> ref_paths_;  // the path of each reference
  // Building: (hash >> 32) << 32 | (path id + 1); frozen: (hash >> 40) << 40 | (offset + 1).
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  // Frozen.
  std::vector<uint8_t> records_;
  uint64_t path_count_ = 0;
  uint64_t digest_count_ = 0;
  bool finished_ = false;
};

// Parses "hex" or "alg:hex" (1..64 bytes) into `out`; false when it is neither.
bool parse_digest_text(std::string_view text, std::vector<uint8_t>& out);

class RuntimePolicyBuilder {
 public:
  explicit RuntimePolicyBuilder(const RuntimePolicyLimits& limits);

  // `where()` names the entry for error messages ("digests[\"/bin/sh\"][1]"); it is called
  // only on an error, so the hot path builds no strings.
  template <typename Where>
  Status add_digest(DigestTable t, std::string_view path, std::string_view digest_text,
                    Where&& where) {
    if (path.size() > limits_.max_path_bytes) return path_too_long(where());
    if (++digests_ > limits_.max_digests) return too_many_digests(where());
    if (!parse_digest_text(digest_text, scratch_)) return bad_digest(where(), digest_text);
    enqueue(t, path);
    return {};
  }
  // Inserts the entries still in the pipeline. `path` views passed to add_digest must stay
  // valid until then (the loaders pass views into the document, or flush).
  void flush();
  Status add_path(DigestTable table, std::string_view path, const std::string& where);
  Status add_exclude(std::string_view regex, const std::string& where);
  void add_ignored_keyring(std::string_view name);
  Status set_log_hash_alg(std::string_view name, const std::string& where);
  // Sizes the file table for a document of this many bytes.
  void expect_document_bytes(size_t bytes);
  void set_source_sha256(std::string hex);

  // Compiles the excludes and freezes the index.
  Result<RuntimePolicyPtr> finish();

  const RuntimePolicyLimits& limits() const { return limits_; }

 private:
  internal::DigestIndex& table(DigestTable t);
  void enqueue(DigestTable t, std::string_view path);
  Error path_too_long(const std::string& where) const;
  Error too_many_digests(const std::string& where) const;
  static Error bad_digest(const std::string& where, std::string_view text);
  RuntimePolicyLimits limits_;
  std::unique_ptr<RuntimePolicy> policy_;
  std::vector<uint8_t> scratch_;
  uint64_t digests_ = 0;
  // Entries hashed and prefetched, waiting to be inserted.
  struct Pending {
    DigestTable table = DigestTable::kFiles;
    std::string_view path;
    uint64_t hash = 0;
    uint8_t length = 0;
    uint8_t digest[64] = {};
  };
  static constexpr size_t kPipeline = 16;
  Pending pending_[kPipeline];
  size_t pending_count_ = 0;
};

// One top-level member of a Keylime runtime policy object. Sets *recognised to false (and
// returns OK) for a key that is not part of the Keylime format.
Status parse_keylime_member(std::string_view key, simdjson::ondemand::value value,
                            RuntimePolicyBuilder& builder, const std::string& where,
                            bool* recognised);

// Nesting depth of a JSON text (brackets outside strings).
size_t json_depth(std::string_view text);

// Skips a member ironroot does not read, refusing it when nested deeper than the limit
// (simdjson skips without recursion, but a document that deep is hostile).
Status skip_value(simdjson::ondemand::value value, const RuntimePolicyLimits& limits,
                  const std::string& where);

// "simdjson: <message>" with the byte offset when the parser knows it.
Error json_error(simdjson::error_code code, const std::string& where);

// Hex SHA-256 of a document, to name the policy in appraisal state.
std::string sha256_hex(Bytes data);

}  // namespace ironroot::policy::internal
