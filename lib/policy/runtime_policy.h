// ironroot policy: IMA runtime policies, Keylime-compatible.
//
// Reads Keylime's runtime policy JSON (format version 1: meta, release, digests, excludes,
// keyrings, ima{ignored_keyrings, log_hash_alg, dm_policy}, ima-buf, verification-keys; Keylime
// docs/user_guide/runtime_ima.rst) and its older allowlist ("<hex digest>  <path>" lines) plus
// exclude list (one regular expression a line). The policy is built once into a compact index
// (interned paths, raw digests, open addressing) and never changes afterwards, so one loaded
// policy serves every host and thread through a std::shared_ptr<const RuntimePolicy>.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto policy, RuntimePolicy::load_keylime_json(text));
//   RuntimeVerdict v = policy->check_file("/usr/bin/bash", digest_bytes);
//   if (v != RuntimeVerdict::kAllowed && v != RuntimeVerdict::kExcluded) ...
//
// Semantics (Keylime keylime/ima/ima.py, _validate_ima_ng / _validate_ima_buf):
//   - a path matching an exclude regex (anchored at the start, like Python's re.match on the
//     excludes joined with "|") is not appraised;
//   - otherwise the path must be in "digests" and the file digest among its digests. A digest
//     may be written "hex" or "alg:hex"; it is compared as raw bytes;
//   - ima-buf entries: a keyring named in ima.ignored_keyrings (or "*" for every keyring, names
//     starting with '.') is skipped; a name in "keyrings" is checked against those digests;
//     any other name against "ima-buf".
// Excludes are RE2 expressions (linear time): the few Python-only constructs (backreferences,
// lookaround) are refused at load, naming the entry.
//
// Limits (a larger policy is refused, naming the field): see RuntimePolicyLimits.
//
// Thread safety: a loaded RuntimePolicy is immutable; every const method may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace re2 {
class RE2;
}

namespace ironroot::policy {

namespace internal {
class DigestIndex;
class RuntimePolicyBuilder;
}  // namespace internal

struct RuntimePolicyLimits {
  uint64_t max_document_bytes = uint64_t{2} << 30;  // 2 GiB of JSON or allowlist text
  size_t max_depth = 32;                            // JSON nesting
  size_t max_path_bytes = 4096;                     // PATH_MAX
  uint64_t max_digests = 50'000'000;                // digests + keyrings + ima-buf, all told
  size_t max_excludes = 10'000;
  size_t max_exclude_bytes = 4096;       // one expression
  int max_regex_program_size = 100'000;  // RE2 program size of all excludes together
};

enum class RuntimeVerdict : uint8_t {
  kAllowed,           // path known, digest among its digests
  kExcluded,          // path matches an exclude: not appraised
  kIgnored,           // ima-buf from an ignored keyring
  kUnknownPath,       // "File not found in runtime policy"
  kDigestNotAllowed,  // "Hash not found in runtime policy"
};
// "allowed", "excluded", "ignored", "path not in policy", "digest not allowed for path".
const char* runtime_verdict_name(RuntimeVerdict v);
inline bool is_failure(RuntimeVerdict v) {
  return v == RuntimeVerdict::kUnknownPath || v == RuntimeVerdict::kDigestNotAllowed;
}

class RuntimePolicy;
using RuntimePolicyPtr = std::shared_ptr<const RuntimePolicy>;

// The three digest tables of a Keylime policy.
enum class DigestTable : uint8_t { kFiles, kKeyrings, kImaBuf };

class RuntimePolicy {
 public:
  // Keylime runtime policy JSON (format version 1). Unknown members are ignored, as Keylime's
  // schema allows; members of the wrong type are refused naming the member.
  static Result<RuntimePolicyPtr> load_keylime_json(std::string_view json,
                                                    const RuntimePolicyLimits& limits = {});
  // Keylime's legacy allowlist ("<digest>  <path>" per line, '#' comments) and exclude list.
  static Result<RuntimePolicyPtr> load_allowlist(std::string_view allowlist,
                                                 std::string_view exclude_list = {},
                                                 const RuntimePolicyLimits& limits = {});

  // An ima-ng / ima-sig / ima entry: is `digest` (raw bytes) allowed for `path`?
  RuntimeVerdict check_file(std::string_view path, Bytes digest) const;
  // An ima-buf entry named `name` (a keyring such as ".ima", or a buffer name).
  RuntimeVerdict check_buffer(std::string_view name, Bytes digest) const;
  bool is_excluded(std::string_view path) const;
  // Starts loading the table slot for `path` into the cache; a check_file() on it a little
  // later then waits less (appraisal overlaps the miss with reading the next entry).
  void prefetch(std::string_view path) const;
  // The digests allowed for `path` in `table` (hex), for failure messages. Empty if unknown.
  std::vector<std::string> allowed_hex(DigestTable table, std::string_view path,
                                       size_t limit = 8) const;

  // The algorithm of the IMA list's template-hash column (ima.log_hash_alg; default sha1).
  crypto::HashAlg log_hash_alg() const { return log_hash_alg_; }
  uint64_t path_count() const;
  uint64_t digest_count() const;
  size_t exclude_count() const { return excludes_.size(); }
  const std::vector<std::string>& excludes() const { return excludes_; }
  const std::vector<std::string>& ignored_keyrings() const { return ignored_keyrings_; }
  // Bytes the index holds (for the benchmark's "held in" figure).
  size_t memory_bytes() const;
  // SHA-256 of the document it was loaded from, hex: names the policy in appraisal state.
  const std::string& source_sha256() const { return source_sha256_; }

  // Serialises back to Keylime runtime policy JSON (format version 1).
  std::string to_keylime_json() const;

  ~RuntimePolicy();
  RuntimePolicy(const RuntimePolicy&) = delete;
  RuntimePolicy& operator=(const RuntimePolicy&) = delete;

  RuntimePolicy();  // empty; filled only by internal::RuntimePolicyBuilder

 private:
  friend class internal::RuntimePolicyBuilder;

  std::unique_ptr<internal::DigestIndex> files_;
  std::unique_ptr<internal::DigestIndex> keyrings_;
  std::unique_ptr<internal::DigestIndex> ima_buf_;
  std::vector<std::string> excludes_;
  std::unique_ptr<re2::RE2> excludes_regex_;
  std::vector<std::string> ignored_keyrings_;
  bool ignore_all_keyrings_ = false;
  crypto::HashAlg log_hash_alg_ = crypto::HashAlg::kSha1;
  std::string source_sha256_;
};

}  // namespace ironroot::policy
