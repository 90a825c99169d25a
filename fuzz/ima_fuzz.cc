// Fuzz target: the IMA list reader in both forms, and verify() on top, as `ironroot ima verify`
// runs them. Also checks the reader's promises on every entry it delivers (limits, UTF-8 paths,
// sizes), so a broken promise is a crash the fuzzer reports, not only a memory error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/text.h"
#include "evidence/ima/ima.h"

namespace {

namespace ima = ironroot::evidence::ima;

void check(bool ok) {
  if (!ok) std::abort();
}

void walk(ironroot::Bytes bytes, ima::Format format, size_t hash_size, bool allow_non_utf8) {
  ima::ParseOptions o;
  o.format = format;
  o.hash_size = hash_size;
  o.allow_non_utf8_paths = allow_non_utf8;
  size_t first_hash = 0;
  (void)ima::for_each_entry(bytes, o, [&](const ima::Entry& e) {
    check(e.pcr < ima::kNumPcrs);
    check(e.template_hash.size() == 20 || e.template_hash.size() == 32 ||
          e.template_hash.size() == 48 || e.template_hash.size() == 64);
    if (first_hash == 0) first_hash = e.template_hash.size();
    check(e.template_hash.size() == first_hash);
    check(hash_size == 0 || e.template_hash.size() == hash_size);
    check(!e.template_name.empty() && e.template_name.size() <= ima::kMaxTemplateNameLen);
    check(e.template_data.size() <= ima::kMaxTemplateDataLen);
    check(e.field_count <= ima::kMaxFields);
    check(e.digest.size() <= ima::kMaxDigestLen);
    check(e.data_known || e.template_data.empty());
    if (!allow_non_utf8) check(ironroot::is_valid_utf8(e.path));
    return true;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ironroot::Bytes bytes(data, size);
  for (bool allow : {false, true}) {
    walk(bytes, ima::Format::kAscii, 0, allow);
    walk(bytes, ima::Format::kBinary, 0, allow);
  }
  walk(bytes, ima::Format::kBinary, 20, false);
  walk(bytes, ima::Format::kBinary, 32, false);
  (void)ima::detect(bytes);
  (void)ima::collect(bytes, {}, 16);

  ima::VerifyOptions opts;
  opts.banks = {ironroot::crypto::HashAlg::kSha256};
  opts.expected_pcr10 = {ironroot::crypto::Digest::zero(ironroot::crypto::HashAlg::kSha1)};
  opts.max_reported_errors = 4;
  auto r = ima::verify(bytes, opts);
  if (r) check(r->template_hash_errors.size() <= 4);
  return 0;
}
