#include "policy/runtime_policy.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "core/text.h"
#include "crypto/digest.h"
#include "policy/internal.h"

namespace ironroot::policy {
namespace internal {

namespace {

__extension__ typedef unsigned __int128 U128;

inline uint64_t mix(uint64_t a, uint64_t b) {
  U128 r = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t hash_pair(std::string_view s) {
  return hash_bytes(s.data(), s.size());
}

}  // namespace

uint64_t hash_bytes(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0x9e3779b97f4a7c15ull ^ size;
  while (size >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = mix(h ^ a ^ 0xbf58476d1ce4e5b9ull, b ^ 0x94d049bb133111ebull);
    p += 16;
    size -= 16;
  }
  uint64_t a = 0, b = 0;
  if (size > 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, size - 8);
  } else {
    std::memcpy(&a, p, size);
  }
  h = mix(h ^ a ^ 0xbf58476d1ce4e5b9ull, b ^ 0x94d049bb133111ebull);
  return mix(h, 0x2545f4914f6cdd1dull);
}

const uint8_t* DigestIndex::find_record(std::string_view path) const {
  if (slots_.empty() || !finished_) return nullptr;
  constexpr uint64_t kOffsetMask = (uint64_t{1} << 40) - 1;
  const uint64_t h = hash_pair(path);
  const uint64_t tag = h >> 40;
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == 0) return nullptr;
    if ((s >> 40) == tag) {
      const uint8_t* r = records_.data() + ((s & kOffsetMask) - 1);
      uint32_t len;
      std::memcpy(&len, r, 4);
      if (len == path.size() && std::memcmp(r + 8, path.data(), len) == 0) return r;
    }
  }
}

std::string_view DigestIndex::record_path(const uint8_t* r) {
  uint32_t len;
  std::memcpy(&len, r, 4);
  return {reinterpret_cast<const char*>(r + 8), len};
}

void DigestIndex::reserve(size_t paths, size_t path_bytes) {
  size_t capacity = 1024;
  while (capacity * 7 / 10 < paths) capacity *= 2;
  if (capacity > slots_.size()) rehash(capacity);
  paths_.reserve(paths + 1);
  arena_.reserve(path_bytes);
  refs_.reserve(paths);
  ref_paths_.reserve(paths);
  digests_.reserve(paths * 32);
}

void DigestIndex::grow() {
  rehash(slots_.empty() ? 1024 : slots_.size() * 2);
}

void DigestIndex::rehash(size_t capacity) {
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  for (uint32_t id = 0; id < paths_.size(); ++id) {
    std::string_view p(arena_.data() + paths_[id].offset, paths_[id].length);
    const uint64_t h = hash_pair(p);
    size_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = ((h >> 32) << 32) | (uint64_t{id} + 1);
  }
}

uint64_t DigestIndex::hash_and_prefetch(std::string_view path) const {
  const uint64_t h = hash_pair(path);
  if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  return h;
}

uint32_t DigestIndex::intern(std::string_view path, uint64_t h) {
  // Load factor <= 0.7 keeps probes short.
  if ((paths_.size() + 1) * 10 > slots_.size() * 7) grow();
  const uint64_t tag = h >> 32;
  size_t i = h & mask_;
  for (;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == 0) break;
    if ((s >> 32) == tag) {
      const uint32_t id = static_cast<uint32_t>(s) - 1;
      const PathRecord& r = paths_[id];
      if (r.length == path.size() &&
          std::memcmp(arena_.data() + r.offset, path.data(), path.size()) == 0) {
        return id;
      }
    }
  }
  const auto id = static_cast<uint32_t>(paths_.size());
  paths_.push_back({arena_.size(), static_cast<uint32_t>(path.size()), 0});
  arena_.insert(arena_.end(), path.begin(), path.end());
  slots_[i] = (tag << 32) | (uint64_t{id} + 1);
  return id;
}

void DigestIndex::add(std::string_view path, Bytes digest) {
  add_hashed(path, hash_pair(path), digest);
}

void DigestIndex::add_hashed(std::string_view path, uint64_t hash, Bytes digest) {
  const uint32_t id = intern(path, hash);
  if (digest.empty()) return;
  refs_.push_back((uint64_t{digests_.size()} << 8) | digest.size());
  ref_paths_.push_back(id);
  digests_.insert(digests_.end(), digest.begin(), digest.end());
}

void DigestIndex::finish() {
  if (finished_) return;
  finished_ = true;
  // Group each path's digests (a path may appear more than once, e.g. in an allowlist). In the
  // usual case every path appears once and the references are grouped already.
  const size_t npaths = paths_.size();
  if (std::is_sorted(ref_paths_.begin(), ref_paths_.end())) {
    uint32_t r = 0;
    for (size_t id = 0; id < npaths; ++id) {
      paths_[id].first = r;
      while (r < ref_paths_.size() && ref_paths_[r] == id) ++r;
    }
    paths_.push_back({arena_.size(), 0, r});  // sentinel
  } else {
    std::vector<uint32_t> counts(npaths + 1, 0);
    for (uint32_t p : ref_paths_) ++counts[p];
    uint32_t sum = 0;
    for (size_t id = 0; id < npaths; ++id) {
      paths_[id].first = sum;
      sum += counts[id];
    }
    paths_.push_back({arena_.size(), 0, sum});  // sentinel
    std::vector<uint64_t> grouped(refs_.size());
    std::vector<uint32_t> next(paths_.size());
    for (size_t id = 0; id < paths_.size(); ++id) next[id] = paths_[id].first;
    for (size_t i = 0; i < refs_.size(); ++i) grouped[next[ref_paths_[i]]++] = refs_[i];
    refs_ = std::move(grouped);
  }
  std::vector<uint32_t>().swap(ref_paths_);
  // Freeze: one record per path, then point the slots at the records.
  size_t total = 0;
  for (size_t id = 0; id < npaths; ++id) {
    total += 8 + paths_[id].length;
    for (uint32_t i = paths_[id].first; i < paths_[id + 1].first; ++i) {
      total += 1 + (refs_[i] & 0xff);
    }
  }
  records_.resize(total);
  std::vector<uint64_t> offsets(npaths);
  size_t at = 0;
  for (size_t id = 0; id < npaths; ++id) {
    offsets[id] = at;
    const uint32_t len = paths_[id].length;
    const uint32_t n = paths_[id + 1].first - paths_[id].first;
    std::memcpy(&records_[at], &len, 4);
    std::memcpy(&records_[at + 4], &n, 4);
    std::memcpy(&records_[at + 8], arena_.data() + paths_[id].offset, len);
    at += 8 + len;
    for (uint32_t i = paths_[id].first; i < paths_[id + 1].first; ++i) {
      Bytes d = digest_at(i);
      records_[at] = static_cast<uint8_t>(d.size());
      std::memcpy(&records_[at + 1], d.data(), d.size());
      at += 1 + d.size();
    }
  }
  for (uint64_t& slot : slots_) {
    if (slot == 0) continue;
    const uint64_t tag = (slot >> 32) >> 8;  // the hash's top 24 bits
    const uint32_t id = static_cast<uint32_t>(slot) - 1;
    slot = (tag << 40) | (offsets[id] + 1);
  }
  path_count_ = npaths;
  digest_count_ = refs_.size();
  std::vector<char>().swap(arena_);
  std::vector<PathRecord>().swap(paths_);
  std::vector<uint8_t>().swap(digests_);
  std::vector<uint64_t>().swap(refs_);
}

DigestIndex::Lookup DigestIndex::find(std::string_view path, Bytes digest) const {
  const uint8_t* r = find_record(path);
  if (r == nullptr) return Lookup::kUnknownPath;
  Lookup result = Lookup::kDigestNotFound;
  visit(r, [&](std::string_view, Bytes d) {
    if (d.size() == digest.size() && std::memcmp(d.data(), digest.data(), d.size()) == 0) {
      result = Lookup::kFound;
    }
  });
  return result;
}

size_t DigestIndex::memory_bytes() const {
  return arena_.capacity() + paths_.capacity() * sizeof(PathRecord) +
         slots_.capacity() * sizeof(uint64_t) + digests_.capacity() +
         refs_.capacity() * sizeof(uint64_t) + ref_paths_.capacity() * sizeof(uint32_t) +
         records_.capacity();
}

bool parse_digest_text(std::string_view text, std::vector<uint8_t>& out) {
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    std::string_view alg = text.substr(0, colon);
    if (alg.empty() || alg.size() > 16) return false;
    text = text.substr(colon + 1);
  }
  if (text.empty() || text.size() % 2 != 0 || text.size() > 2 * crypto::kMaxDigestSize) {
    return false;
  }
  out.resize(text.size() / 2);
  return decode_hex(text, out.data(), out.size());
}

std::string sha256_hex(Bytes data) {
  return crypto::hash(crypto::HashAlg::kSha256, data).hex();
}

size_t json_depth(std::string_view text) {
  size_t depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max = std::max(max, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max;
}

Status skip_value(simdjson::ondemand::value value, const RuntimePolicyLimits& limits,
                  const std::string& where) {
  simdjson::ondemand::json_type t;
  if (auto err = value.type().get(t)) return json_error(err, where);
  std::string_view raw;
  if (t == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object o;
    if (auto err = value.get_object().get(o)) return json_error(err, where);
    if (auto err = o.raw_json().get(raw)) return json_error(err, where);
  } else if (t == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array a;
    if (auto err = value.get_array().get(a)) return json_error(err, where);
    if (auto err = a.raw_json().get(raw)) return json_error(err, where);
  } else {
    return {};
  }
  if (json_depth(raw) + 1 > limits.max_depth) {
    return Error(ErrorCode::kResourceLimit,
                 where + ": nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  return {};
}

Error json_error(simdjson::error_code code, const std::string& where) {
  return malformed(where + ": " + simdjson::error_message(code));
}

RuntimePolicyBuilder::RuntimePolicyBuilder(const RuntimePolicyLimits& limits)
    : limits_(limits), policy_(new RuntimePolicy()) {}

DigestIndex& RuntimePolicyBuilder::table(DigestTable t) {
  switch (t) {
    case DigestTable::kKeyrings: return *policy_->keyrings_;
    case DigestTable::kImaBuf: return *policy_->ima_buf_;
    case DigestTable::kFiles: break;
  }
  return *policy_->files_;
}

Status RuntimePolicyBuilder::add_path(DigestTable t, std::string_view path,
                                      const std::string& where) {
  if (path.size() > limits_.max_path_bytes) {
    return Error(ErrorCode::kResourceLimit,
                 where + ": path longer than " + std::to_string(limits_.max_path_bytes) + " bytes");
  }
  table(t).add(path, {});
  return {};
}

Error RuntimePolicyBuilder::path_too_long(const std::string& where) const {
  return Error(ErrorCode::kResourceLimit,
               where + ": path longer than " + std::to_string(limits_.max_path_bytes) + " bytes");
}

Error RuntimePolicyBuilder::too_many_digests(const std::string& where) const {
  return Error(ErrorCode::kResourceLimit,
               where + ": more than " + std::to_string(limits_.max_digests) + " digests");
}

Error RuntimePolicyBuilder::bad_digest(const std::string& where, std::string_view text) {
  return malformed(where + ": \"" + printable(text.substr(0, 140)) +
                   "\" is not a hex digest (\"hex\" or \"alg:hex\", at most 64 bytes)");
}

Status RuntimePolicyBuilder::add_exclude(std::string_view regex, const std::string& where) {
  if (policy_->excludes_.size() >= limits_.max_excludes) {
    return Error(ErrorCode::kResourceLimit,
                 where + ": more than " + std::to_string(limits_.max_excludes) + " excludes");
  }
  if (regex.size() > limits_.max_exclude_bytes) {
    return Error(
        ErrorCode::kResourceLimit,
        where + ": expression longer than " + std::to_string(limits_.max_exclude_bytes) + " bytes");
  }
  policy_->excludes_.emplace_back(regex);
  return {};
}

void RuntimePolicyBuilder::add_ignored_keyring(std::string_view name) {
  if (name == "*") policy_->ignore_all_keyrings_ = true;
  policy_->ignored_keyrings_.emplace_back(name);
}

Status RuntimePolicyBuilder::set_log_hash_alg(std::string_view name, const std::string& where) {
  auto alg = crypto::hash_alg_from_name(name);
  if (!alg || (*alg != crypto::HashAlg::kSha1 && *alg != crypto::HashAlg::kSha256 &&
               *alg != crypto::HashAlg::kSha384 && *alg != crypto::HashAlg::kSha512)) {
    return malformed(where + ": \"" + std::string(name.substr(0, 40)) +
                     "\" is not one of sha1, sha256, sha384, sha512");
  }
  policy_->log_hash_alg_ = *alg;
  return {};
}

void RuntimePolicyBuilder::expect_document_bytes(size_t bytes) {
  // Keylime policies spend about 110 bytes per path (path, one sha256 digest, punctuation).
  const size_t paths = bytes / 110;
  policy_->files_->reserve(paths, paths * 48);
}

void RuntimePolicyBuilder::set_source_sha256(std::string hex) {
  policy_->source_sha256_ = std::move(hex);
}

namespace {

RE2::Options regex_options(const RuntimePolicyLimits& limits) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_encoding(RE2::Options::EncodingLatin1);  // paths are bytes
  // RE2 refuses to build a program larger than its memory budget; a budget proportional to
  // the program size limit turns a regex bomb ("(a{1000}){1000}") into an error, not a hang.
  o.set_max_mem(int64_t{limits.max_regex_program_size} * 64 + (int64_t{1} << 20));
  return o;
}

// Python's re and RE2 agree on the constructs exclude lists use; these are Python-only.
Status check_regex(const std::string& regex, const RuntimePolicyLimits& limits,
                   const std::string& where) {
  RE2 re(regex, regex_options(limits));
  if (!re.ok()) {
    return malformed(where + ": invalid or unsupported regular expression \"" +
                     regex.substr(0, 200) + "\": " + re.error() +
                     " (RE2 syntax: no backreferences or lookaround)");
  }
  if (re.ProgramSize() > limits.max_regex_program_size) {
    return Error(ErrorCode::kResourceLimit,
                 where + ": regular expression \"" + regex.substr(0, 200) + "\" compiles to " +
                     std::to_string(re.ProgramSize()) + " instructions (limit " +
                     std::to_string(limits.max_regex_program_size) + ")");
  }
  return {};
}

}  // namespace

void RuntimePolicyBuilder::enqueue(DigestTable t, std::string_view path) {
  Pending& p = pending_[pending_count_ % kPipeline];
  if (pending_count_ >= kPipeline) {
    table(p.table).add_hashed(p.path, p.hash, Bytes(p.digest, p.length));
  }
  p.table = t;
  p.path = path;
  p.hash = table(t).hash_and_prefetch(path);
  p.length = static_cast<uint8_t>(scratch_.size());
  std::memcpy(p.digest, scratch_.data(), scratch_.size());
  ++pending_count_;
}

void RuntimePolicyBuilder::flush() {
  const size_t n = std::min<size_t>(pending_count_, kPipeline);
  for (size_t k = pending_count_ - n; k < pending_count_; ++k) {
    Pending& p = pending_[k % kPipeline];
    table(p.table).add_hashed(p.path, p.hash, Bytes(p.digest, p.length));
  }
  pending_count_ = 0;
}

Result<RuntimePolicyPtr> RuntimePolicyBuilder::finish() {
  flush();
  const auto& ex = policy_->excludes_;
  if (!ex.empty()) {
    for (size_t i = 0; i < ex.size(); ++i) {
      IRONROOT_RETURN_IF_ERROR(check_regex(ex[i], limits_, "excludes[" + std::to_string(i) + "]"));
    }
    std::string combined;
    for (size_t i = 0; i < ex.size(); ++i) {
      if (i) combined += '|';
      combined += "(?:" + ex[i] + ")";
    }
    auto re = std::make_unique<RE2>(combined, regex_options(limits_));
    if (!re->ok() || re->ProgramSize() > limits_.max_regex_program_size) {
      return Error(ErrorCode::kResourceLimit,
                   "excludes: the " + std::to_string(ex.size()) +
                       " expressions together exceed the regex program size limit (" +
                       std::to_string(limits_.max_regex_program_size) + ")");
    }
    policy_->excludes_regex_ = std::move(re);
  }
  policy_->files_->finish();
  policy_->keyrings_->finish();
  policy_->ima_buf_->finish();
  return RuntimePolicyPtr(std::move(policy_));
}

namespace {

std::string json_quoted(std::string_view s) {
  std::string out = nlohmann::json(std::string(s.substr(0, 200)))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

using simdjson::ondemand::array;
using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

Status expect_type(value& v, json_type want, const char* name, const std::string& where) {
  json_type t;
  if (auto err = v.type().get(t)) return json_error(err, where);
  if (t != want) return malformed(where + ": expected " + name);
  return {};
}

// The text of a JSON string token that has no escapes, as a view into the document (no copy:
// on a million-digest policy, unescaping into simdjson's buffer doubles the memory touched).
// False when the token is not a string or has escapes.
bool plain_string(std::string_view token, std::string_view* out) {
  if (token.empty() || token[0] != '"') return false;
  for (size_t i = 1; i < token.size(); ++i) {
    if (token[i] == '"') {
      *out = token.substr(1, i - 1);
      return true;
    }
    if (token[i] == '\\') return false;
  }
  return false;
}

// {"path": ["digest", ...], ...}
Status parse_digest_object(value v, DigestTable table, RuntimePolicyBuilder& b,
                           const std::string& where) {
  IRONROOT_RETURN_IF_ERROR(
      expect_type(v, json_type::object, "an object of path: [digests]", where));
  object obj;
  if (auto err = v.get_object().get(obj)) return json_error(err, where);
  std::string escaped_path;
  for (auto field_result : obj) {  // NOLINT: moved from below
    simdjson::ondemand::field field;
    if (auto err = std::move(field_result).get(field)) return json_error(err, where);
    // The key as it stands in the document when it has no escapes (stage 1 validated it).
    std::string_view path;
    const char* raw = field.key().raw();
    const char* end = raw;
    while (*end != '"' && *end != '\\') ++end;
    if (*end == '"') {
      path = std::string_view(raw, static_cast<size_t>(end - raw));
    } else {
      std::string_view unescaped;
      if (auto err = field.unescaped_key().get(unescaped)) return json_error(err, where);
      escaped_path.assign(unescaped);
      path = escaped_path;
    }
    value& list = field.value();
    json_type t;
    if (auto err = list.type().get(t))
      return json_error(err, where + "[" + json_quoted(path) + "]");
    if (t != json_type::array) {
      return malformed(where + "[" + json_quoted(path) + "]: expected an array of digest strings");
    }
    array arr;
    if (auto err = list.get_array().get(arr)) return json_error(err, where);
    size_t i = 0;
    for (auto element : arr) {
      value dv;
      if (auto err = element.get(dv)) {
        return json_error(err, where + "[" + json_quoted(path) + "][" + std::to_string(i) + "]");
      }
      std::string_view text;
      if (!plain_string(dv.raw_json_token(), &text)) {
        if (auto err = dv.get_string().get(text)) {
          if (err == simdjson::INCORRECT_TYPE) {
            return malformed(where + "[" + json_quoted(path) + "][" + std::to_string(i) +
                             "]: expected a digest string");
          }
          return json_error(err, where + "[" + json_quoted(path) + "][" + std::to_string(i) + "]");
        }
      }
      IRONROOT_RETURN_IF_ERROR(b.add_digest(table, path, text, [&] {
        return where + "[" + json_quoted(path) + "][" + std::to_string(i) + "]";
      }));
      ++i;
    }
    if (i == 0) {
      IRONROOT_RETURN_IF_ERROR(b.add_path(table, path, where + "[" + json_quoted(path) + "]"));
    }
    if (path.data() == escaped_path.data()) b.flush();  // the buffer is reused for the next key
  }
  return {};
}

Status parse_string_array(value v, const std::string& where,
                          const std::function<Status(std::string_view, const std::string&)>& fn) {
  IRONROOT_RETURN_IF_ERROR(expect_type(v, json_type::array, "an array of strings", where));
  array arr;
  if (auto err = v.get_array().get(arr)) return json_error(err, where);
  size_t i = 0;
  for (auto element : arr) {
    std::string_view s;
    const std::string w = where + "[" + std::to_string(i++) + "]";
    if (auto err = element.get_string().get(s)) {
      if (err == simdjson::INCORRECT_TYPE) return malformed(w + ": expected a string");
      return json_error(err, w);
    }
    IRONROOT_RETURN_IF_ERROR(fn(s, w));
  }
  return {};
}

Status parse_meta(value v, const RuntimePolicyLimits& limits, const std::string& where) {
  IRONROOT_RETURN_IF_ERROR(expect_type(v, json_type::object, "an object", where));
  object obj;
  if (auto err = v.get_object().get(obj)) return json_error(err, where);
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return json_error(err, where);
    if (key == "version") {
      int64_t version = 0;
      if (field.value().get_int64().get(version) != simdjson::SUCCESS) {
        return malformed(where + ".version: expected an integer");
      }
      if (version != 1) {
        return Error(ErrorCode::kUnsupported, where + ".version: format version " +
                                                  std::to_string(version) +
                                                  " (ironroot reads version 1)");
      }
    } else {
      value fv;
      if (auto err = field.value().get(fv)) return json_error(err, where);
      IRONROOT_RETURN_IF_ERROR(skip_value(fv, limits, where + "." + std::string(key)));
    }
  }
  return {};
}

Status parse_ima_section(value v, RuntimePolicyBuilder& b, const std::string& where) {
  IRONROOT_RETURN_IF_ERROR(expect_type(v, json_type::object, "an object", where));
  object obj;
  if (auto err = v.get_object().get(obj)) return json_error(err, where);
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return json_error(err, where);
    value fv;
    if (auto err = field.value().get(fv)) return json_error(err, where);
    if (key == "ignored_keyrings") {
      IRONROOT_RETURN_IF_ERROR(parse_string_array(
          fv, where + ".ignored_keyrings", [&](std::string_view s, const std::string&) -> Status {
            b.add_ignored_keyring(s);
            return {};
          }));
    } else if (key == "log_hash_alg") {
      std::string_view s;
      if (fv.get_string().get(s)) return malformed(where + ".log_hash_alg: expected a string");
      IRONROOT_RETURN_IF_ERROR(b.set_log_hash_alg(s, where + ".log_hash_alg"));
    } else if (key == "dm_policy") {
      bool is_null = false;
      if (auto err = fv.is_null().get(is_null)) return json_error(err, where + ".dm_policy");
      if (!is_null) {
        return Error(ErrorCode::kUnsupported,
                     where + ".dm_policy: device-mapper policies are not supported (must be null)");
      }
    } else {
      IRONROOT_RETURN_IF_ERROR(skip_value(fv, b.limits(), where + "." + std::string(key)));
    }
  }
  return {};
}

}  // namespace

Status parse_keylime_member(std::string_view key, value v, RuntimePolicyBuilder& b,
                            const std::string& where, bool* recognised) {
  *recognised = true;
  const std::string w = where.empty() ? std::string(key) : where + "." + std::string(key);
  if (key == "digests") return parse_digest_object(v, DigestTable::kFiles, b, w);
  if (key == "keyrings") return parse_digest_object(v, DigestTable::kKeyrings, b, w);
  if (key == "ima-buf") return parse_digest_object(v, DigestTable::kImaBuf, b, w);
  if (key == "excludes") {
    return parse_string_array(
        v, w, [&](std::string_view s, const std::string& ew) { return b.add_exclude(s, ew); });
  }
  if (key == "ima") return parse_ima_section(v, b, w);
  if (key == "meta") return parse_meta(v, b.limits(), w);
  if (key == "release") {
    int64_t release = 0;
    if (v.get_int64().get(release)) return malformed(w + ": expected an integer");
    return {};
  }
  if (key == "verification-keys") {
    std::string_view s;
    if (v.get_string().get(s)) return malformed(w + ": expected a string");
    return {};
  }
  *recognised = false;
  return {};
}

}  // namespace internal

const char* runtime_verdict_name(RuntimeVerdict v) {
  switch (v) {
    case RuntimeVerdict::kAllowed: return "allowed";
    case RuntimeVerdict::kExcluded: return "excluded";
    case RuntimeVerdict::kIgnored: return "ignored";
    case RuntimeVerdict::kUnknownPath: return "path not in policy";
    case RuntimeVerdict::kDigestNotAllowed: return "digest not allowed for path";
  }
  return "?";
}

RuntimePolicy::RuntimePolicy()
    : files_(std::make_unique<internal::DigestIndex>()),
      keyrings_(std::make_unique<internal::DigestIndex>()),
      ima_buf_(std::make_unique<internal::DigestIndex>()) {}

RuntimePolicy::~RuntimePolicy() = default;

bool RuntimePolicy::is_excluded(std::string_view path) const {
  if (!excludes_regex_) return false;
  return excludes_regex_->Match(re2::StringPiece(path.data(), path.size()), 0, path.size(),
                                RE2::ANCHOR_START, nullptr, 0);
}

namespace {
RuntimeVerdict verdict(internal::DigestIndex::Lookup l) {
  switch (l) {
    case internal::DigestIndex::Lookup::kFound: return RuntimeVerdict::kAllowed;
    case internal::DigestIndex::Lookup::kDigestNotFound: return RuntimeVerdict::kDigestNotAllowed;
    case internal::DigestIndex::Lookup::kUnknownPath: break;
  }
  return RuntimeVerdict::kUnknownPath;
}
}  // namespace

void RuntimePolicy::prefetch(std::string_view path) const {
  files_->hash_and_prefetch(path);
}

RuntimeVerdict RuntimePolicy::check_file(std::string_view path, Bytes digest) const {
  auto l = files_->find(path, digest);
  // Excludes are looked at only for entries that would fail: a regex costs more than a probe.
  if (l != internal::DigestIndex::Lookup::kFound && is_excluded(path)) {
    return RuntimeVerdict::kExcluded;
  }
  return verdict(l);
}

RuntimeVerdict RuntimePolicy::check_buffer(std::string_view name, Bytes digest) const {
  const bool keyring_name = !name.empty() && name[0] == '.';
  if ((ignore_all_keyrings_ && keyring_name) ||
      std::find(ignored_keyrings_.begin(), ignored_keyrings_.end(), name) !=
          ignored_keyrings_.end()) {
    return RuntimeVerdict::kIgnored;
  }
  auto l = keyrings_->find(name, digest);
  if (l == internal::DigestIndex::Lookup::kUnknownPath) l = ima_buf_->find(name, digest);
  if (l != internal::DigestIndex::Lookup::kFound && is_excluded(name)) {
    return RuntimeVerdict::kExcluded;
  }
  return verdict(l);
}

std::vector<std::string> RuntimePolicy::allowed_hex(DigestTable table, std::string_view path,
                                                    size_t limit) const {
  const internal::DigestIndex& idx =
      table == DigestTable::kFiles ? *files_
                                   : (table == DigestTable::kKeyrings ? *keyrings_ : *ima_buf_);
  std::vector<std::string> out;
  idx.for_each_digest(path, [&](Bytes d) {
    if (out.size() < limit) out.push_back(to_hex(d));
  });
  return out;
}

uint64_t RuntimePolicy::path_count() const {
  return files_->path_count() + keyrings_->path_count() + ima_buf_->path_count();
}
uint64_t RuntimePolicy::digest_count() const {
  return files_->digest_count() + keyrings_->digest_count() + ima_buf_->digest_count();
}
size_t RuntimePolicy::memory_bytes() const {
  return files_->memory_bytes() + keyrings_->memory_bytes() + ima_buf_->memory_bytes();
}

std::string RuntimePolicy::to_keylime_json() const {
  auto table_json = [](const internal::DigestIndex& idx) {
    nlohmann::json o = nlohmann::json::object();
    idx.for_each([&](std::string_view path, Bytes d) {
      auto& list = o[std::string(path)];
      if (list.is_null()) list = nlohmann::json::array();
      if (!d.empty()) list.push_back(to_hex(d));
    });
    return o;
  };
  nlohmann::json doc = {
      {"meta", {{"version", 1}, {"generator", 0}}},
      {"release", 0},
      {"digests", table_json(*files_)},
      {"excludes", excludes_},
      {"keyrings", table_json(*keyrings_)},
      {"ima",
       {{"ignored_keyrings", ignored_keyrings_},
        {"log_hash_alg", std::string(crypto::hash_alg_name(log_hash_alg_))},
        {"dm_policy", nullptr}}},
      {"ima-buf", table_json(*ima_buf_)},
      {"verification-keys", ""},
  };
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<RuntimePolicyPtr> RuntimePolicy::load_keylime_json(std::string_view json,
                                                          const RuntimePolicyLimits& limits) {
  if (json.size() > limits.max_document_bytes) {
    return Error(ErrorCode::kResourceLimit, "runtime policy: " + std::to_string(json.size()) +
                                                " bytes (limit " +
                                                std::to_string(limits.max_document_bytes) + ")");
  }
  simdjson::ondemand::parser parser;
  if (auto err = parser.allocate(json.size() + 1, limits.max_depth)) {
    return internal::json_error(err, "runtime policy");
  }
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc))
    return internal::json_error(err, "runtime policy");
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return malformed("runtime policy: the document is not a JSON object (" +
                     std::string(simdjson::error_message(err)) + ")");
  }
  internal::RuntimePolicyBuilder b(limits);
  b.expect_document_bytes(json.size());
  b.set_source_sha256(
      internal::sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(json.data()), json.size())));
  bool saw_digests = false;
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) {
      return internal::json_error(err, "runtime policy");
    }
    if (key == "payload" || key == "signatures") {
      return Error(ErrorCode::kUnsupported,
                   "runtime policy: a DSSE envelope (signed policy); verify it with "
                   "keylime-policy and load its payload");
    }
    std::string k(key);
    simdjson::ondemand::value v;
    if (auto err = field.value().get(v)) return internal::json_error(err, "runtime policy." + k);
    bool recognised = false;
    IRONROOT_RETURN_IF_ERROR(internal::parse_keylime_member(k, v, b, "", &recognised));
    if (!recognised) IRONROOT_RETURN_IF_ERROR(internal::skip_value(v, limits, k));
    if (k == "digests") saw_digests = true;
  }
  if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
    return malformed("runtime policy: content after the JSON document at offset " +
                     std::to_string(rest - padded.data()));
  }
  if (!saw_digests) {
    return malformed("runtime policy: no \"digests\" member (not a Keylime policy)");
  }
  return b.finish();
}

Result<RuntimePolicyPtr> RuntimePolicy::load_allowlist(std::string_view allowlist,
                                                       std::string_view exclude_list,
                                                       const RuntimePolicyLimits& limits) {
  if (allowlist.size() + exclude_list.size() > limits.max_document_bytes) {
    return Error(ErrorCode::kResourceLimit,
                 "allowlist: larger than " + std::to_string(limits.max_document_bytes) + " bytes");
  }
  internal::RuntimePolicyBuilder b(limits);
  b.expect_document_bytes(allowlist.size() * 110 / 100);
  std::string all(allowlist);
  all += '\0';
  all += exclude_list;
  b.set_source_sha256(
      internal::sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(all.data()), all.size())));
  auto lines = [](std::string_view text, auto&& fn) -> Status {
    size_t line_no = 0;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      IRONROOT_RETURN_IF_ERROR(fn(line, line_no));
    }
    return {};
  };
  IRONROOT_RETURN_IF_ERROR(lines(allowlist, [&](std::string_view line, size_t n) -> Status {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') return {};
    line = line.substr(start);
    size_t sep = line.find_first_of(" \t");
    auto where = [n] { return "allowlist line " + std::to_string(n); };
    if (sep == std::string_view::npos) {
      return malformed(where() + ": expected \"<digest> <path>\"");
    }
    std::string_view digest = line.substr(0, sep);
    // Two spaces separate digest and path (sha256sum output); the path keeps any later spaces.
    size_t path_start = line.find_first_not_of(" \t", sep);
    if (path_start == std::string_view::npos) return malformed(where() + ": no path");
    return b.add_digest(DigestTable::kFiles, line.substr(path_start), digest, where);
  }));
  IRONROOT_RETURN_IF_ERROR(lines(exclude_list, [&](std::string_view line, size_t n) -> Status {
    if (line.empty() || line[0] == '#') return {};
    return b.add_exclude(line, "exclude list line " + std::to_string(n));
  }));
  return b.finish();
}

}  // namespace ironroot::policy
