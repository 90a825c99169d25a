#include "evidence/eventlog/eventlog.h"

#include <algorithm>
#include <cstring>

#include "evidence/eventlog/event_types.h"

namespace ironroot::evidence::eventlog {
namespace {

constexpr char kSpecId03[] = "Spec ID Event03";  // crypto-agile (PFP 10.4.5.1)
constexpr char kSpecId00[] = "Spec ID Event00";  // TPM 1.2 style (PC Client 1.2)
constexpr size_t kSha1Size = 20;

bool all_bytes_equal(Bytes b, uint8_t value) {
  return std::all_of(b.begin(), b.end(), [value](uint8_t c) { return c == value; });
}

bool starts_with_signature(Bytes data, const char (&sig)[16]) {
  return data.size() >= 16 && std::memcmp(data.data(), sig, 16) == 0;
}

std::string where(uint32_t number, uint64_t offset) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "event %u at offset 0x%llx", number,
                static_cast<unsigned long long>(offset));
  return buf;
}

}  // namespace

const char* log_format_name(LogFormat f) {
  return f == LogFormat::kCryptoAgile ? "crypto-agile" : "sha1";
}

Bytes Event::digest_for(uint16_t alg_id) const {
  for (const auto& d : digests()) {
    if (d.alg_id == alg_id) return d.digest;
  }
  return {};
}

Result<SpecIdEvent> parse_spec_id(Bytes data, uint64_t base) {
  ByteReader r(data, base);
  SpecIdEvent s;
  IRONROOT_ASSIGN_OR_RETURN(Bytes sig, r.take(16, "Signature"));
  s.signature.assign(reinterpret_cast<const char*>(sig.data()),
                     strnlen(reinterpret_cast<const char*>(sig.data()), 16));
  IRONROOT_ASSIGN_OR_RETURN(s.platform_class, r.u32le("platformClass"));
  IRONROOT_ASSIGN_OR_RETURN(s.spec_version_minor, r.u8("specVersionMinor"));
  IRONROOT_ASSIGN_OR_RETURN(s.spec_version_major, r.u8("specVersionMajor"));
  IRONROOT_ASSIGN_OR_RETURN(s.spec_errata, r.u8("specErrata"));
  IRONROOT_ASSIGN_OR_RETURN(s.uintn_size, r.u8("uintnSize"));
  if (s.signature == kSpecId00) {
    // TCG_EfiSpecIdEventStruct (TPM 1.2): no algorithm table, just vendor info.
    IRONROOT_ASSIGN_OR_RETURN(uint8_t vsize, r.u8("vendorInfoSize"));
    IRONROOT_ASSIGN_OR_RETURN(s.vendor_info, r.take(vsize, "vendorInfo"));
    return s;
  }
  uint64_t count_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(uint32_t count, r.u32le("numberOfAlgorithms"));
  if (count == 0 || count > kMaxBanks) {
    return field_error(count_at, "numberOfAlgorithms",
                       std::to_string(count) + " algorithms declared; a log has 1 to " +
                           std::to_string(kMaxBanks));
  }
  for (uint32_t i = 0; i < count; ++i) {
    AlgorithmSize a;
    IRONROOT_ASSIGN_OR_RETURN(a.alg_id, r.u16le("algorithmId"));
    uint64_t size_at = r.file_offset();
    IRONROOT_ASSIGN_OR_RETURN(a.digest_size, r.u16le("digestSize"));
    if (a.digest_size == 0 || a.digest_size > 64) {
      return field_error(
          size_at, "digestSize",
          "digest size " + std::to_string(a.digest_size) + " is not a hash size (1..64 bytes)");
    }
    for (const auto& seen : s.algorithms) {
      if (seen.alg_id == a.alg_id) {
        return field_error(size_at - 2, "algorithmId", "algorithm declared twice");
      }
    }
    s.algorithms.push_back(a);
  }
  IRONROOT_ASSIGN_OR_RETURN(uint8_t vsize, r.u8("vendorInfoSize"));
  IRONROOT_ASSIGN_OR_RETURN(s.vendor_info, r.take(vsize, "vendorInfo"));
  return s;
}

size_t encoded_size(const SpecIdEvent& s) {
  if (s.signature == kSpecId00) return 16 + 4 + 4 + 1 + s.vendor_info.size();
  return 16 + 4 + 4 + 4 + 4 * s.algorithms.size() + 1 + s.vendor_info.size();
}

Result<EventLogReader> EventLogReader::open(Bytes log) {
  if (log.empty()) return malformed("empty event log (0 bytes)");
  EventLogReader reader;
  reader.log_ = log;
  // The first record is always a TCG_PCR_EVENT; peek at it to decide the format.
  ByteReader r(log);
  IRONROOT_ASSIGN_OR_RETURN(uint32_t pcr, r.u32le("PCRIndex"));
  IRONROOT_ASSIGN_OR_RETURN(uint32_t type, r.u32le("EventType"));
  if (pcr >= kNumPcrs) {
    return malformed(
        "not a TCG event log: the first record's PCRIndex is " + std::to_string(pcr) +
        " (a PC Client TPM has PCRs 0-23); is this the binary_bios_measurements file?");
  }
  IRONROOT_RETURN_IF_ERROR(r.skip(kSha1Size, "Digest"));
  IRONROOT_ASSIGN_OR_RETURN(uint32_t size, r.u32le("EventSize"));
  uint64_t data_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(Bytes data, r.take(size, "Event"));
  if (type == EV_NO_ACTION &&
      (starts_with_signature(data, kSpecId03) || starts_with_signature(data, kSpecId00))) {
    auto spec = parse_spec_id(data, data_at);
    if (!spec) {
      // tpm2-tools' specid-vendordata fixture counts vendorInfo outside EventSize, and
      // tpm2_eventlog reads it there. Accept that when the bytes are present, and say so.
      auto relaxed = parse_spec_id(log.subspan(data_at), data_at);
      if (!relaxed) return std::move(spec).error().with_context("Spec ID event (event 0)");
      reader.header_overrun_ = encoded_size(*relaxed) - size;
      reader.anomalies_.push_back(
          {0, 0,
           "Spec ID vendorInfoSize " + std::to_string(relaxed->vendor_info.size()) + " runs " +
               std::to_string(reader.header_overrun_) +
               " bytes past EventSize; the vendor data was read after the event"});
      spec = std::move(relaxed);
    }
    reader.spec_id_ = std::move(*spec);
    reader.has_spec_id_ = true;
    if (reader.spec_id_.signature == kSpecId03) {
      reader.format_ = LogFormat::kCryptoAgile;
      for (const auto& a : reader.spec_id_.algorithms) reader.algs_[reader.num_algs_++] = a;
    }
  }
  return reader;
}

Result<bool> EventLogReader::next(Event& out) {
  if (pos_ >= log_.size()) return false;
  ByteReader r(log_.subspan(pos_), pos_);
  // Captured logs are sometimes followed by the rest of the firmware's log area.
  if (number_ > 0 && r.remaining() >= 8) {
    uint64_t head = ByteReader::load_le64(log_.data() + pos_);
    if ((head == 0 || head == ~uint64_t{0}) &&
        all_bytes_equal(r.rest(), static_cast<uint8_t>(head & 0xff))) {
      padding_ = r.remaining();
      pos_ = log_.size();
      return false;
    }
  }
  out.number = number_;
  out.offset = pos_;
  auto more =
      (number_ == 0 || format_ == LogFormat::kSha1) ? next_sha1(out, r) : next_agile(out, r);
  if (!more) return std::move(more).error().with_context(where(number_, out.offset));
  pos_ += r.position();
  if (number_ == 0) pos_ += header_overrun_;
  ++number_;
  return true;
}

Result<bool> EventLogReader::next_sha1(Event& out, ByteReader& r) {
  IRONROOT_ASSIGN_OR_RETURN(out.pcr, r.u32le("PCRIndex"));
  IRONROOT_ASSIGN_OR_RETURN(out.type, r.u32le("EventType"));
  out.digest_count = 1;
  out.digest_array[0].alg_id = 0x0004;  // TPM_ALG_SHA1
  IRONROOT_ASSIGN_OR_RETURN(out.digest_array[0].digest, r.take(kSha1Size, "Digest"));
  IRONROOT_ASSIGN_OR_RETURN(uint32_t size, r.u32le("EventSize"));
  IRONROOT_ASSIGN_OR_RETURN(out.data, r.take(size, "Event"));
  return true;
}

Result<bool> EventLogReader::next_agile(Event& out, ByteReader& r) {
  IRONROOT_ASSIGN_OR_RETURN(out.pcr, r.u32le("PCRIndex"));
  IRONROOT_ASSIGN_OR_RETURN(out.type, r.u32le("EventType"));
  uint64_t count_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(uint32_t count, r.u32le("DigestCount"));
  if (count > num_algs_) {
    return field_error(count_at, "DigestCount",
                       std::to_string(count) + " digests, but the Spec ID event declares " +
                           std::to_string(num_algs_) + " algorithm(s)");
  }
  out.digest_count = count;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t alg_at = r.file_offset();
    IRONROOT_ASSIGN_OR_RETURN(uint16_t alg, r.u16le("AlgorithmId"));
    // Digests usually come in Spec ID order; fall back to a scan.
    size_t k = i;
    if (k >= num_algs_ || algs_[k].alg_id != alg) {
      for (k = 0; k < num_algs_ && algs_[k].alg_id != alg; ++k) {
      }
      if (k == num_algs_) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "algorithm 0x%04x is not declared in the Spec ID event",
                      alg);
        return field_error(alg_at, "AlgorithmId", buf);
      }
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (out.digest_array[j].alg_id == alg) {
        return field_error(alg_at, "AlgorithmId", "two digests for the same algorithm");
      }
    }
    out.digest_array[i].alg_id = alg;
    IRONROOT_ASSIGN_OR_RETURN(out.digest_array[i].digest, r.take(algs_[k].digest_size, "Digest"));
  }
  IRONROOT_ASSIGN_OR_RETURN(uint32_t size, r.u32le("EventSize"));
  IRONROOT_ASSIGN_OR_RETURN(out.data, r.take(size, "Event"));
  return true;
}

Result<ParsedLog> parse(Bytes log) {
  IRONROOT_ASSIGN_OR_RETURN(EventLogReader reader, EventLogReader::open(log));
  ParsedLog out;
  out.format = reader.format();
  if (const SpecIdEvent* s = reader.spec_id()) {
    out.spec_id = *s;
    out.has_spec_id = true;
  }
  Event ev;
  for (;;) {
    IRONROOT_ASSIGN_OR_RETURN(bool more, reader.next(ev));
    if (!more) break;
    out.events.push_back(ev);
  }
  out.padding_bytes = reader.padding_bytes();
  return out;
}

}  // namespace ironroot::evidence::eventlog
