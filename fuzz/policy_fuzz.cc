// Fuzz target: policy documents (ironroot JSON, Keylime runtime policy JSON, Keylime allowlist)
// as `ironroot policy check` loads them, then the loaded policy used and written back. A policy
// that loads must answer lookups, serialise, and load again with the same digest count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "evidence/eventlog/writer.h"
#include "policy/policy.h"

namespace {

namespace policy = ironroot::policy;

void check(bool ok) {
  if (!ok) std::abort();
}

const std::vector<uint8_t>& sample_log() {
  static const std::vector<uint8_t> log = ironroot::evidence::eventlog::sample_boot_log(
      "fuzz", "fw 1.0", {ironroot::crypto::HashAlg::kSha256});
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  policy::PolicyLimits limits;
  limits.runtime.max_document_bytes = 1 << 20;
  limits.runtime.max_excludes = 64;
  limits.runtime.max_regex_program_size = 20'000;
  auto loaded = policy::load_policy(ironroot::Bytes(data, size), {}, limits);
  if (!loaded) {
    check(!loaded.error().message().empty());
    return 0;
  }
  const policy::Policy& p = **loaded;
  if (p.runtime) {
    const uint8_t digest[32] = {1, 2, 3};
    (void)p.runtime->check_file("/usr/bin/bash", ironroot::Bytes(digest, 32));
    (void)p.runtime->check_buffer(".ima", ironroot::Bytes(digest, 20));
    (void)p.runtime->is_excluded(std::string(200, 'a') + "!");
  }
  if (p.measured_boot && p.measured_boot->bank == ironroot::crypto::HashAlg::kSha256) {
    auto r = policy::check_event_log(p, sample_log());
    check(r.ok());  // the sample log is sound: only failures, never an Error
  }
  // What loaded must serialise into a document that loads again, with the same contents. JSON
  // cannot carry paths that are not UTF-8 (an allowlist's can be): they come back replaced,
  // possibly longer than the path limit, which is then the only acceptable refusal.
  const std::string doc = p.to_json();
  auto again = policy::load_policy(
      ironroot::Bytes(reinterpret_cast<const uint8_t*>(doc.data()), doc.size()), {}, limits);
  if (!again) {
    check(again.error().code() == ironroot::ErrorCode::kResourceLimit);
    return 0;
  }
  if (p.runtime) {
    check((*again)->runtime && (*again)->runtime->digest_count() == p.runtime->digest_count());
  }
  return 0;
}
