#include "evidence/eventlog/replay.h"

#include <algorithm>
#include <cstring>

#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/uefi.h"

namespace ironroot::evidence::eventlog {
namespace {

using crypto::HashAlg;
using crypto::Hasher;

constexpr char kStartupLocality[] = "StartupLocality";  // PFP 10.4.5.3, 16 bytes with the NUL

// Strips trailing NUL bytes (one byte for ASCII, two for UTF-16): firmware and boot loaders
// disagree on whether the terminator is measured.
Bytes without_trailing_nul(Bytes b) {
  size_t n = b.size();
  while (n > 0 && b[n - 1] == 0) --n;
  return b.first(n);
}

}  // namespace

const char* payload_check_name(PayloadCheck c) {
  switch (c) {
    case PayloadCheck::kNotApplicable: return "not_applicable";
    case PayloadCheck::kMatch: return "match";
    case PayloadCheck::kMismatch: return "mismatch";
  }
  return "unknown";
}

PayloadChecker::PayloadChecker() {
  for (HashAlg alg :
       {HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384, HashAlg::kSha512, HashAlg::kSm3_256}) {
    Hasher h(alg);
    if (h.available()) hashers_.push_back(std::move(h));
  }
}

Hasher* PayloadChecker::hasher_for(uint16_t alg_id) {
  for (auto& h : hashers_) {
    if (static_cast<uint16_t>(h.alg()) == alg_id) return &h;
  }
  return nullptr;
}

bool PayloadChecker::matches(const EventDigest& d, Bytes data) {
  Hasher* h = hasher_for(d.alg_id);
  if (h == nullptr) return true;  // an algorithm we cannot compute cannot be held against the log
  crypto::Digest got = h->digest(data);
  return crypto::equal_ct(got.view(), d.digest);
}

PayloadCheck PayloadChecker::check(const Event& ev) {
  // Which bytes were hashed, per event type (PFP 10.4.1) and per known implementation. Each
  // accepted form is a view into the payload: the whole payload first, then alternatives.
  std::array<Bytes, 6> forms{ev.data};
  size_t n = 1;
  switch (ev.type) {
    case EV_SEPARATOR:
    case EV_ACTION:
    case EV_EFI_ACTION:
    case EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EV_EFI_VARIABLE_BOOT2:
    case EV_EFI_GPT_EVENT:
    case EV_EFI_GPT_EVENT2:
    case EV_S_CRTM_VERSION: break;
    case EV_EFI_VARIABLE_BOOT:
    case EV_EFI_VARIABLE_AUTHORITY: {
      // The spec hashes VariableData for EV_EFI_VARIABLE_BOOT; many firmwares hash the whole
      // UEFI_VARIABLE_DATA for both.
      auto var = parse_variable_data(ev.data, ev.offset);
      if (var) forms[n++] = var->data;
      // shim logs its vendor certificate ("Shim", "MokList") with one byte more than it hashed
      // (seen in GCE, COS and Debian logs in the corpus).
      if (ev.type == EV_EFI_VARIABLE_AUTHORITY && !ev.data.empty()) {
        forms[n++] = ev.data.first(ev.data.size() - 1);
      }
      break;
    }
    case EV_IPL: {
      // Boot loaders measure strings in PCR 8 (grub) and PCR 12 (systemd-boot); elsewhere
      // EV_IPL digests cover files the log only names.
      if (ev.pcr != 8 && ev.pcr != 12) return PayloadCheck::kNotApplicable;
      Bytes text = without_trailing_nul(ev.data);
      forms[n++] = text;
      // grub logs "grub_cmd: <cmd>" but hashes only <cmd> (grub-core/commands/tpm.c); RHEL 8's
      // grub logs "grub_cmd <cmd>\0" and hashes "<cmd>\0", "grub_kernel_cmdline <line>" too.
      for (std::string_view prefix :
           {"grub_cmd: ", "kernel_cmdline: ", "module_cmdline: ", "grub_cmd ",
            "grub_kernel_cmdline ", "kernel_cmdline ", "module_cmdline "}) {
        if (text.size() >= prefix.size() &&
            std::memcmp(text.data(), prefix.data(), prefix.size()) == 0) {
          forms[n++] = text.subspan(prefix.size());
          forms[n++] = ev.data.subspan(prefix.size());
          break;
        }
      }
      // An older systemd-boot hashed its UTF-16 command line with the full two-byte NUL but
      // logged one byte less (an odd size).
      if (ev.data.size() % 2 == 1 && ev.data.back() == 0) {
        scratch_.assign(ev.data.begin(), ev.data.end());
        scratch_.push_back(0);
        forms[n++] = scratch_;
      }
      break;
    }
    default: return PayloadCheck::kNotApplicable;
  }
  for (const auto& d : ev.digests()) {
    bool ok = false;
    for (size_t i = 0; i < n && !ok; ++i) ok = matches(d, forms[i]);
    if (!ok) {
      mismatch_alg_ = d.alg_id;
      return PayloadCheck::kMismatch;
    }
  }
  return PayloadCheck::kMatch;
}

Result<ReplayResult> replay(Bytes log, const ReplayOptions& options) {
  IRONROOT_ASSIGN_OR_RETURN(EventLogReader reader, EventLogReader::open(log));
  ReplayResult out;
  out.format = reader.format();
  out.anomalies = reader.anomalies();

  // Banks, and for each digest slot of the Spec ID table the bank it extends (-1: none).
  std::vector<Hasher> hashers;
  std::array<uint16_t, kMaxBanks> bank_alg{};
  if (const SpecIdEvent* spec = reader.spec_id(); spec && out.format == LogFormat::kCryptoAgile) {
    for (const auto& a : spec->algorithms) {
      auto alg = crypto::hash_alg_from_id(a.alg_id);
      if (alg && !options.banks.empty() &&
          std::find(options.banks.begin(), options.banks.end(), *alg) == options.banks.end()) {
        continue;
      }
      if (!alg || crypto::digest_size(*alg) != a.digest_size) {
        char buf[120];
        std::snprintf(buf, sizeof buf,
                      "bank 0x%04x (%u-byte digests) is not replayed: unknown hash algorithm",
                      a.alg_id, a.digest_size);
        out.anomalies.push_back({0, 0, buf});
        continue;
      }
      Hasher h(*alg);
      if (!h.available()) {
        out.anomalies.push_back({0, 0,
                                 "bank " + std::string(crypto::hash_alg_name(*alg)) +
                                     " is not replayed: OpenSSL does not provide it here"});
        continue;
      }
      bank_alg[hashers.size()] = a.alg_id;
      hashers.push_back(std::move(h));
    }
  } else {
    bank_alg[0] = static_cast<uint16_t>(HashAlg::kSha1);
    hashers.emplace_back(HashAlg::kSha1);
  }
  out.banks.resize(hashers.size());
  for (size_t b = 0; b < hashers.size(); ++b) {
    out.banks[b].alg = hashers[b].alg();
    for (auto& p : out.banks[b].pcrs) p = crypto::Digest::zero(hashers[b].alg());
  }

  PayloadChecker checker;
  bool locality_seen = false;
  bool pcr0_started = false;
  Event ev;
  for (;;) {
    IRONROOT_ASSIGN_OR_RETURN(bool more, reader.next(ev));
    if (!more) break;
    ++out.events;
    if (ev.type == EV_NO_ACTION) {
      // Not extended (PFP 10.4.5); only StartupLocality changes how PCR 0 starts.
      if (ev.pcr >= kNumPcrs) {
        // Windows boot logs (WBCL) put their TrustPoint events on PCRIndex -1; tpm2_eventlog 5.4
        // crashes on them.
        out.anomalies.push_back({ev.number, ev.offset,
                                 "EV_NO_ACTION on PCRIndex " + std::to_string(ev.pcr) +
                                     " (outside 0-23, as Windows logs record TrustPoint events); "
                                     "not extended, like every EV_NO_ACTION"});
      }
      if (ev.data.size() == 17 && std::memcmp(ev.data.data(), kStartupLocality, 16) == 0) {
        if (pcr0_started) {
          out.anomalies.push_back({ev.number, ev.offset,
                                   "StartupLocality event after PCR 0 was first extended; "
                                   "ignored for replay"});
        } else {
          out.startup_locality = ev.data[16];
          locality_seen = true;
          if (out.startup_locality != 0 && out.startup_locality != 3 && out.startup_locality != 4) {
            out.anomalies.push_back(
                {ev.number, ev.offset,
                 "StartupLocality " + std::to_string(out.startup_locality) + " is not 0, 3 or 4"});
          }
        }
      }
      continue;
    }
    if (ev.number == 0 && reader.spec_id() != nullptr) continue;
    if (ev.pcr >= kNumPcrs) {
      out.anomalies.push_back(
          {ev.number, ev.offset,
           "PCRIndex " + std::to_string(ev.pcr) + " is outside 0-23; event not replayed"});
      continue;
    }
    if (ev.pcr == 0 && !pcr0_started) {
      pcr0_started = true;
      if (!locality_seen && ev.type == EV_EFI_HCRTM_EVENT) {
        out.startup_locality = 4;  // H-CRTM: _TPM_Hash_Start leaves PCR 0 at 00..04
        out.hcrtm = true;
      }
      for (auto& bank : out.banks) bank.pcrs[0].bytes[bank.pcrs[0].size - 1] = out.startup_locality;
    }
    if (ev.digest_count < hashers.size()) {
      out.anomalies.push_back({ev.number, ev.offset,
                               "event carries " + std::to_string(ev.digest_count) +
                                   " digest(s) for " + std::to_string(hashers.size()) +
                                   " bank(s); the missing banks are not extended"});
    }
    for (size_t b = 0; b < hashers.size(); ++b) {
      Bytes d;
      if (b < ev.digest_count && ev.digest_array[b].alg_id == bank_alg[b]) {
        d = ev.digest_array[b].digest;  // the usual case: digests in Spec ID order
      } else {
        d = ev.digest_for(bank_alg[b]);
        if (d.empty()) continue;
      }
      hashers[b].extend(out.banks[b].pcrs[ev.pcr], d);
      out.banks[b].extended_mask |= 1u << ev.pcr;
    }
    if (options.check_payloads) {
      PayloadCheck c = checker.check(ev);
      if (c != PayloadCheck::kNotApplicable) ++out.payloads_checked;
      if (c == PayloadCheck::kMismatch) {
        out.digest_mismatches.push_back(
            {ev.number, ev.offset, ev.pcr, ev.type, checker.mismatch_alg()});
      }
    }
  }
  if (out.format == LogFormat::kSha1 && reader.spec_id() == nullptr && out.events > 0) {
    out.anomalies.push_back({0, 0,
                             "SHA-1 (TPM 1.2 style) log without a Spec ID event: only the SHA-1 "
                             "bank can be replayed, the TPM's other banks cannot be checked "
                             "against it"});
  }
  bool measured = false;
  for (const auto& bank : out.banks) measured |= bank.extended_mask != 0;
  if (!measured)
    out.anomalies.push_back({0, 0, "the log records no measurement: no PCR is extended"});
  if (reader.padding_bytes() > 0) {
    out.anomalies.push_back(
        {out.events, log.size() - reader.padding_bytes(),
         std::to_string(reader.padding_bytes()) + " bytes of padding after the last event"});
  }
  return out;
}

}  // namespace ironroot::evidence::eventlog
