// ironroot evidence: TCG PC Client firmware event logs
// (/sys/kernel/security/tpm0/binary_bios_measurements), SHA-1 and crypto-agile formats.
//
// The reader walks the log in place (no copies, no allocation per event) and checks every
// length against the bytes that remain, so a hostile log yields an Error naming the event, the
// file offset and the field, never a crash or an allocation driven by an untrusted count.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto reader, EventLogReader::open(bytes));
//   Event ev;
//   for (;;) {
//     IRONROOT_ASSIGN_OR_RETURN(bool more, reader.next(ev));
//     if (!more) break;
//     ... ev.pcr, ev.type, ev.digests(), ev.data ...
//   }
//
// Layout (TCG PC Client Platform Firmware Profile 1.05, 10.2):
//   first record  TCG_PCR_EVENT  {u32 pcr; u32 type; u8 sha1[20]; u32 size; u8 event[size]}
//   crypto-agile  the first record is EV_NO_ACTION carrying TCG_EfiSpecIDEvent ("Spec ID Event03"),
//                 then TCG_PCR_EVENT2 {u32 pcr; u32 type; TPML_DIGEST_VALUES; u32 size; u8 event[]}
//   SHA-1 format  every record is a TCG_PCR_EVENT.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot::evidence::eventlog {

enum class LogFormat { kSha1, kCryptoAgile };
const char* log_format_name(LogFormat f);

// One entry of the Spec ID event's algorithm table.
struct AlgorithmSize {
  uint16_t alg_id = 0;  // TPM_ALG_ID
  uint16_t digest_size = 0;
};

// TCG_EfiSpecIDEvent (PFP 10.4.5.1).
struct SpecIdEvent {
  std::string signature;  // "Spec ID Event03" (crypto-agile) or "Spec ID Event00" (TPM 1.2)
  uint32_t platform_class = 0;
  uint8_t spec_version_minor = 0;
  uint8_t spec_version_major = 0;
  uint8_t spec_errata = 0;
  uint8_t uintn_size = 0;
  std::vector<AlgorithmSize> algorithms;
  Bytes vendor_info;
};

// A log may declare at most this many banks; real TPMs have at most five.
inline constexpr size_t kMaxBanks = 8;
// PCRs a PC Client TPM has.
inline constexpr uint32_t kNumPcrs = 24;

struct EventDigest {
  uint16_t alg_id = 0;
  Bytes digest;
};

// One record, as views into the log bytes (valid while those bytes are).
struct Event {
  uint32_t number = 0;  // 0 is the first record of the log
  uint64_t offset = 0;  // of the record's first byte in the file
  uint32_t pcr = 0;
  uint32_t type = 0;
  uint32_t digest_count = 0;
  std::array<EventDigest, kMaxBanks> digest_array{};
  Bytes data;

  std::span<const EventDigest> digests() const { return {digest_array.data(), digest_count}; }
  // The digest for a TPM_ALG_ID, or an empty span.
  Bytes digest_for(uint16_t alg_id) const;
};

// Something unusual that did not stop reading: the log is usable, but a reader should know.
struct Anomaly {
  uint32_t event = 0;
  uint64_t offset = 0;
  std::string message;
};

class EventLogReader {
 public:
  // Reads the first record and decides the format. Fails on an empty or non-TCG input.
  static Result<EventLogReader> open(Bytes log);

  LogFormat format() const { return format_; }
  // The Spec ID event, present for crypto-agile logs (and for TPM 1.2 logs that carry one).
  const SpecIdEvent* spec_id() const { return has_spec_id_ ? &spec_id_ : nullptr; }
  size_t size() const { return log_.size(); }

  // Fills `out` with the next record (the first call returns the first record of the log).
  // Returns false at the end of the log. Trailing all-zero or all-0xff padding ends the log;
  // padding_bytes() then says how much there was.
  Result<bool> next(Event& out);
  uint64_t padding_bytes() const { return padding_; }
  // Deviations from the spec tolerated so far (see eventlog.cc for each).
  const std::vector<Anomaly>& anomalies() const { return anomalies_; }

 private:
  EventLogReader() = default;
  Result<bool> next_sha1(Event& out, ByteReader& r);
  Result<bool> next_agile(Event& out, ByteReader& r);

  Bytes log_;
  size_t pos_ = 0;
  uint32_t number_ = 0;
  LogFormat format_ = LogFormat::kSha1;
  SpecIdEvent spec_id_;
  bool has_spec_id_ = false;
  uint64_t padding_ = 0;
  std::vector<Anomaly> anomalies_;
  // Bytes after the first record that belong to it (see open()).
  size_t header_overrun_ = 0;
  // Spec ID algorithm table as a quick lookup: alg ids and sizes in declaration order.
  std::array<AlgorithmSize, kMaxBanks> algs_{};
  size_t num_algs_ = 0;
};

// Parses a Spec ID event body. `base` is its file offset, for error messages.
Result<SpecIdEvent> parse_spec_id(Bytes data, uint64_t base);
// The number of bytes `s` occupies in a log.
size_t encoded_size(const SpecIdEvent& s);

// Convenience: every record of a log, in order (for display; replay streams instead).
struct ParsedLog {
  LogFormat format = LogFormat::kSha1;
  std::vector<Event> events;
  SpecIdEvent spec_id;
  bool has_spec_id = false;
  uint64_t padding_bytes = 0;
};
Result<ParsedLog> parse(Bytes log);

}  // namespace ironroot::evidence::eventlog
