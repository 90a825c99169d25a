// ironroot evidence: Linux IMA runtime measurement lists, ascii and binary
// (/sys/kernel/security/ima/ascii_runtime_measurements[_<alg>] and
//  /sys/kernel/security/ima/binary_runtime_measurements[_<alg>]).
//
// The reader walks a list in place and hands each entry to a callback: views into the input or
// into buffers the reader reuses, so the hot loop neither copies nor allocates. verify() is built
// on it: it recomputes every template hash, counts violations and replays the PCR aggregates.
//
//   IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path));
//   ima::VerifyOptions opts;
//   opts.banks = {crypto::HashAlg::kSha256};        // sha1 and the list's own bank are implied
//   IRONROOT_ASSIGN_OR_RETURN(ima::VerifyReport report, ima::verify(f.bytes(), opts));
//   if (!report.template_hash_errors.empty()) ...   // a finding, not an Error
//   const ima::PcrValue* pcr10 = report.find(10, crypto::HashAlg::kSha256);
//
//   // Streaming: the Entry (and every view in it) is valid only during the call.
//   Status st = ima::for_each_entry(f.bytes(), {}, [&](const ima::Entry& e) {
//     std::cout << e.pcr << " " << e.path << "\n";
//     return true;  // false stops the walk
//   });
//
// Layouts (Linux security/integrity/ima/):
//   binary entry   u32 pcr | template hash (20, 32, 48 or 64 bytes) | u32 name_len | name
//                  | u32 data_len | template data                          (ima_fs.c,
//                  ima_measurements_show). The legacy "ima" template has no data_len: it is
//                  digest[20] | u32 len | name without NUL (IMA_SHOW_BINARY_NO_FIELD_LEN and
//                  IMA_SHOW_BINARY_OLD_STRING_FMT).
//   ascii line     "%2d <template hash hex> <template name>" then " <field>" per field
//                  (ima_fs.c, ima_ascii_measurements_show); the kernel escapes nothing, so a path
//                  with spaces is recognised by position: the first string field takes what the
//                  fields around it leave (ima-sig: the last token is the signature, possibly
//                  empty; ima-buf: the buffer; ima-modsig: the last three tokens).
//   template data  per field: u32 len | data (ima_template_lib.c). d-ng = "<algo>:" '\0' digest;
//                  n-ng = path '\0'; sig, buf, modsig = raw bytes.
//   template hash  H(template data) (ima_crypto.c, ima_calc_field_array_hash_tfm); for the "ima"
//                  template H(digest[20] || name zero-padded to 256 bytes). The hash column of a
//                  list holds the digest of one bank: 20 bytes for the sha1 list, 32 for *_sha256.
//   PCR extend     bank_pcr = H_bank(bank_pcr || H_bank(template data)) for every bank (kernels
//                  >= 5.8, ima_calc_field_array_hash per bank; earlier kernels extended every bank
//                  with the SHA-1 template hash zero-padded: VerifyOptions::padded_sha1_banks).
//                  A violation (all-zero template hash) is extended as 0xff.. of the bank size
//                  (ima_queue.c, ima_add_template_entry). For the list's own bank verify()
//                  extends the template hash as listed, which is what the TPM received: edited
//                  template data shows as a template hash error, an edited hash as a PCR
//                  mismatch.
//   ascii input    lines may end in \r\n, blank lines are skipped, the last needs no newline.
//
// Thread safety: every function is reentrant; calls share nothing.
//
// Limits (a larger value is an Error, never an allocation): template name <= 255 bytes, template
// data <= 1 MiB, <= 15 fields per template (IMA_TEMPLATE_NUM_FIELDS_MAX), digests <= 64 bytes,
// algorithm prefix <= 128 bytes (CRYPTO_MAX_ALG_NAME), PCR index < 24, ascii line <= 2 MiB + 4 KiB.
// Paths must be valid UTF-8 unless ParseOptions::allow_non_utf8_paths (Linux file names are
// bytes: a verifier that must accept every list should set it and print with printable()).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::evidence::ima {

inline constexpr size_t kMaxTemplateNameLen = 255;
inline constexpr size_t kMaxTemplateDataLen = size_t{1} << 20;
inline constexpr size_t kMaxFields = 15;
inline constexpr size_t kMaxDigestLen = 64;
inline constexpr size_t kMaxAlgoPrefixLen = 128;
inline constexpr uint32_t kNumPcrs = 24;
inline constexpr size_t kMaxAsciiLineLen = 2 * kMaxTemplateDataLen + 4096;
// The PCR IMA extends unless a policy rule says pcr= (CONFIG_IMA_MEASURE_PCR_IDX).
inline constexpr uint32_t kImaPcr = 10;

enum class Format : uint8_t { kAscii, kBinary };
const char* format_name(Format f);  // "ascii", "binary"

// The templates ironroot decodes by name; every other name (ima-ngv2, ima-sigv2, evm-sig, a custom
// "d-ng|n-ng|..." format) is kOther. kOther entries are still decoded when their fields are all
// known ones, and never refused only for being unknown.
enum class Template : uint8_t { kIma, kImaNg, kImaSig, kImaBuf, kImaModsig, kOther };
Template template_from_name(std::string_view name);

struct ListFormat {
  Format format = Format::kAscii;
  size_t hash_size = 0;  // bytes per template hash; 0 for an empty list
};

struct ParseOptions {
  std::optional<Format> format;  // nullopt: detect
  size_t hash_size = 0;          // 0: detect from the first entry (20, 32, 48 or 64)
  bool allow_non_utf8_paths = false;
};

// One measurement. Views point into the input or into the reader's buffers and are valid only
// during the callback; copy with OwnedEntry to keep one.
struct Entry {
  uint64_t index = 0;   // 0-based position in the list
  uint64_t line = 0;    // ascii: 1-based line number; binary: 0
  uint64_t offset = 0;  // byte offset of the entry's first byte in the file
  uint32_t pcr = 0;
  Bytes template_hash;
  std::string_view template_name;
  Template kind = Template::kOther;
  // False only for an ascii line whose template has a field ironroot cannot rebuild: then
  // template_data and the decoded fields are empty and fields_text holds the raw text.
  bool data_known = true;
  // The bytes the kernel hashes into the template hash (see the banner for "ima").
  Bytes template_data;
  std::string_view fields_text;  // ascii: the text after the template name

  // Raw field values ([u32 len][data] split of the template data) when it splits; only the
  // first field_count are meaningful.
  std::array<Bytes, kMaxFields> field_values{};
  size_t field_count = 0;

  // Decoded fields; empty when the template has no such field.
  std::string_view digest_type;  // d-ngv2: "ima" or "verity"
  std::string_view digest_algo;  // d-ng: "sha256", ...; empty for the legacy "d" field
  Bytes digest;
  std::string_view path;  // n / n-ng without the NUL (ima-buf: the buffer's name)
  Bytes signature;        // sig
  Bytes buffer;           // buf
  std::string_view modsig_digest_algo;
  Bytes modsig_digest;  // d-modsig
  Bytes modsig;         // modsig

  // A violation (ToMToU / open-writers) has an all-zero template hash.
  bool is_violation() const;
};

// Return false to stop the walk early (the walk then returns OK).
using EntryCallback = std::function<bool(const Entry&)>;

// The list's form and template hash size, from its first bytes and first entry.
Result<ListFormat> detect(Bytes file, const ParseOptions& options = {});

// Walks every entry, detecting what options leave open. Errors name the line (ascii) or the file
// offset and field (binary) of the first malformed entry; entries before it were delivered.
Status for_each_entry(Bytes file, const ParseOptions& options, const EntryCallback& fn);
Status for_each_entry_ascii(std::string_view text, const ParseOptions& options,
                            const EntryCallback& fn);
Status for_each_entry_binary(Bytes data, const ParseOptions& options, const EntryCallback& fn);

// An Entry that owns its bytes, for display and tests.
struct OwnedEntry {
  uint64_t index = 0;
  uint64_t line = 0;
  uint64_t offset = 0;
  uint32_t pcr = 0;
  std::vector<uint8_t> template_hash;
  std::string template_name;
  Template kind = Template::kOther;
  bool data_known = true;
  bool violation = false;
  std::vector<uint8_t> template_data;
  std::string fields_text;
  std::string digest_type;
  std::string digest_algo;
  std::vector<uint8_t> digest;
  std::string path;
  std::vector<uint8_t> signature;
  std::vector<uint8_t> buffer;
  std::string modsig_digest_algo;
  std::vector<uint8_t> modsig_digest;
  std::vector<uint8_t> modsig;

  static OwnedEntry from(const Entry& e);
};

// The first `limit` entries, copied.
Result<std::vector<OwnedEntry>> collect(Bytes file, const ParseOptions& options = {},
                                        size_t limit = std::numeric_limits<size_t>::max());

struct VerifyOptions {
  ParseOptions parse;
  // The algorithm of the template hash column; default by size (20 sha1, 32 sha256, 48 sha384,
  // 64 sha512). Set it for sm3_256 or sha3 lists. When set and parse.hash_size is 0, it also
  // fixes the hash size.
  std::optional<crypto::HashAlg> template_hash_alg;
  // Banks to replay besides sha1 and the list's own bank.
  std::vector<crypto::HashAlg> banks;
  // Expected PCR 10 values (their banks are replayed too). Each is checked against the final
  // value and, when that differs, against every prefix of the list.
  std::vector<crypto::Digest> expected_pcr10;
  // Kernels before 5.8 extended every bank with the SHA-1 template hash zero-padded to the bank's
  // size (a violation: 20 bytes of 0xff, padded) instead of the bank's own hash of the template
  // data. Set this to replay such a host (RHEL 8's 4.18 kernel, for example); needs a sha1 list.
  bool padded_sha1_banks = false;
  // template_hash_errors keeps at most this many; template_hash_error_count counts them all.
  size_t max_reported_errors = 1000;
};

struct TemplateHashError {
  uint64_t index = 0;
  uint64_t line = 0;    // ascii
  uint64_t offset = 0;  // byte offset of the entry
  std::string template_name;
  std::string path;
  crypto::Digest expected;  // the template hash in the list
  crypto::Digest computed;  // H(template data)
};

struct PcrValue {
  uint32_t pcr = 0;
  crypto::Digest value;
  uint64_t extends = 0;
  // False when an entry could not be replayed into this bank (ascii line of an unknown template:
  // only the list's own bank can take its template hash as is).
  bool complete = true;
};

struct ExpectedPcrResult {
  crypto::Digest expected;
  bool matched = false;  // the final value equals `expected`
  // Entries (counted from the start of the list) after which PCR 10 first equalled `expected`;
  // with matched == false this says the PCR was read before the rest of the list was.
  std::optional<uint64_t> matched_after_entries;
};

struct VerifyReport {
  ListFormat format;
  crypto::HashAlg template_hash_alg = crypto::HashAlg::kSha1;
  std::vector<crypto::HashAlg> banks;  // replayed, sha1 first
  uint64_t entries = 0;
  uint64_t violations = 0;
  uint64_t unverified = 0;  // entries without template data (see Entry::data_known)
  uint64_t template_hash_error_count = 0;
  std::vector<TemplateHashError> template_hash_errors;
  // PCR 10 in every bank, then every other PCR the list extends; by PCR, then bank order.
  std::vector<PcrValue> pcrs;
  std::vector<ExpectedPcrResult> expected_pcr10;

  const PcrValue* find(uint32_t pcr, crypto::HashAlg bank) const;
  // No template hash errors, and every expected PCR 10 value matched.
  bool ok() const;
};

// Parses and verifies the whole list. An Error means the list could not be read (malformed,
// unsupported bank); mismatches are in the report.
Result<VerifyReport> verify(Bytes file, const VerifyOptions& options = {});

}  // namespace ironroot::evidence::ima
