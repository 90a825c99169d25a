#include "verifier/appraisal.h"

#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/replay.h"
#include "evidence/ima/ima.h"
#include "tpm2/quote.h"

namespace ironroot::verifier {
namespace {

namespace el = evidence::eventlog;
namespace ima = evidence::ima;
using crypto::Digest;
using crypto::HashAlg;

constexpr uint32_t kImaPcr = 10;

std::string short_hex(const std::string& hex) {
  return hex.size() > 16 ? hex.substr(0, 16) + "…" : hex;
}

std::string bank_name(HashAlg alg) {
  return std::string(crypto::hash_alg_name(alg));
}

std::string pcr_label(uint32_t pcr, HashAlg bank) {
  return "PCR " + std::to_string(pcr) + " (" + bank_name(bank) + ")";
}

// "events 3 (EV_S_CRTM_VERSION), 4 (EV_EFI_PLATFORM_FIRMWARE_BLOB)" for the events of one PCR.
std::string events_of(const el::ParsedLog* log, uint32_t pcr) {
  if (log == nullptr) return "";
  std::string out;
  int n = 0;
  for (const auto& ev : log->events) {
    if (ev.pcr != pcr || ev.type == el::EV_NO_ACTION) continue;
    if (++n > 8) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "" : ", ") + std::to_string(ev.number) + " (" +
           el::event_type_name(ev.type) + ")";
  }
  return out.empty() ? "no events" : "events " + out;
}

// Replays IMA entries into PCR 10 from `start` and finds how many of them bring it to `quoted`.
struct ImaReplay {
  bool matched = false;
  uint64_t entries_used = 0;
  Digest value;
  std::string error;
};

ImaReplay replay_ima(const std::string& text, HashAlg bank, const Digest& start,
                     const Digest& quoted) {
  ImaReplay out;
  out.value = start;
  if (crypto::equal_ct(start.view(), quoted.view())) out.matched = true;
  crypto::Hasher h(bank);
  Digest running = start;
  uint64_t n = 0;
  ima::ParseOptions opts;
  opts.format = ima::Format::kAscii;
  opts.allow_non_utf8_paths = true;
  Status st = ima::for_each_entry_ascii(text, opts, [&](const ima::Entry& e) {
    ++n;
    if (e.pcr != kImaPcr) return true;
    Digest d;
    if (e.is_violation()) {
      d = Digest::zero(bank);
      std::fill(d.bytes.begin(), d.bytes.begin() + d.size, 0xff);
    } else if (e.template_hash.size() == h.size() && (bank == HashAlg::kSha1 || !e.data_known)) {
      std::copy(e.template_hash.begin(), e.template_hash.end(), d.bytes.begin());
      d.alg = bank;
      d.size = static_cast<uint8_t>(h.size());
    } else {
      d = h.digest(e.template_data);
    }
    h.extend(running, d.view());
    if (crypto::equal_ct(running.view(), quoted.view())) {
      out.matched = true;
      out.entries_used = n;
      out.value = running;
    }
    return true;
  });
  if (!st) out.error = st.error().message();
  return out;
}

}  // namespace

Result<References> References::from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return invalid_argument("reference values: not a JSON object");
  References r;
  r.name = j.value("name", "unnamed");
  auto bank = crypto::hash_alg_from_name(j.value("bank", "sha256"));
  if (!bank)
    return invalid_argument("reference values: unknown bank '" + j.value("bank", "") + "'");
  r.bank = *bank;
  if (!j.contains("pcrs") || !j["pcrs"].is_object()) {
    return invalid_argument("reference values: \"pcrs\" must be an object {\"0\": [\"<hex>\"]}");
  }
  for (const auto& [k, v] : j["pcrs"].items()) {
    uint32_t pcr = 0;
    try {
      size_t used = 0;
      unsigned long p = std::stoul(k, &used);
      if (used != k.size() || p >= 24) throw std::out_of_range(k);
      pcr = static_cast<uint32_t>(p);
    } catch (...) {
      return invalid_argument("reference values: \"" + k + "\" is not a PCR index 0-23");
    }
    auto& list = r.allowed[pcr];
    auto add = [&](const nlohmann::json& x) -> Status {
      if (!x.is_string())
        return invalid_argument("reference values: PCR " + k + ": values must be hex strings");
      std::string hex = x.get<std::string>();
      for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (hex.size() != 2 * crypto::digest_size(r.bank) || !from_hex(hex)) {
        return invalid_argument("reference values: PCR " + k + ": '" + hex + "' is not a " +
                                bank_name(r.bank) + " digest");
      }
      list.push_back(hex);
      return {};
    };
    if (v.is_array()) {
      for (const auto& x : v) IRONROOT_RETURN_IF_ERROR(add(x));
    } else {
      IRONROOT_RETURN_IF_ERROR(add(v));
    }
  }
  return r;
}

std::string References::to_json() const {
  nlohmann::json pcrs = nlohmann::json::object();
  for (const auto& [pcr, values] : allowed) pcrs[std::to_string(pcr)] = values;
  return nlohmann::json{{"name", name}, {"bank", bank_name(bank)}, {"pcrs", pcrs}}.dump();
}

Verdict appraise(const store::HostRecord& host, const Challenge& challenge,
                 const Evidence& evidence, const References* references) {
  Verdict v;
  auto& reasons = v.reasons;
  // 1. The quote: signed by this host's AK, over our nonce and the PCRs we asked for.
  auto quote = tpm2::verify_quote(host.ak_public, evidence.quote_attest, evidence.quote_signature);
  if (!quote) {
    reasons.push_back("quote rejected: " + quote.error().message());
    return v;
  }
  if (!crypto::equal_ct(quote->extra_data, challenge.nonce)) {
    reasons.push_back("quote is not over the nonce this verifier issued (replayed or stale quote)");
    return v;
  }
  if (quote->pcr_selection.size() != 1 || quote->pcr_selection[0].bank != challenge.bank ||
      quote->pcr_selection[0].mask != challenge.pcr_mask) {
    reasons.push_back("quote covers other PCRs than the verifier asked for");
    return v;
  }
  std::vector<Digest> values;
  for (uint32_t pcr = 0; pcr < 24; ++pcr) {
    if (!((challenge.pcr_mask >> pcr) & 1)) continue;
    auto it = evidence.pcrs.find(pcr);
    if (it == evidence.pcrs.end() || it->second.size() != crypto::digest_size(challenge.bank)) {
      reasons.push_back("evidence lacks the value of " + pcr_label(pcr, challenge.bank));
      return v;
    }
    Digest d = Digest::zero(challenge.bank);
    std::copy(it->second.begin(), it->second.end(), d.bytes.begin());
    values.push_back(d);
    v.pcrs_hex[pcr] = d.hex();
  }
  if (!tpm2::pcr_digest_matches(*quote, values)) {
    reasons.push_back("the PCR values sent do not match the digest the TPM signed");
    return v;
  }
  // 2. The TPM clock: a reboot restarts the appraisal; going backwards is a replay or a swap.
  const tpm2::ClockInfo& clock = quote->clock_info;
  v.clock = clock.clock;
  v.reset_count = clock.reset_count;
  v.restart_count = clock.restart_count;
  if (host.have_clock) {
    bool newer_boot =
        clock.reset_count > host.reset_count ||
        (clock.reset_count == host.reset_count && clock.restart_count > host.restart_count);
    bool older_boot =
        clock.reset_count < host.reset_count ||
        (clock.reset_count == host.reset_count && clock.restart_count < host.restart_count);
    if (older_boot || (!newer_boot && clock.clock < host.clock)) {
      reasons.push_back("TPM clock went backwards (reset " + std::to_string(clock.reset_count) +
                        " restart " + std::to_string(clock.restart_count) + " clock " +
                        std::to_string(clock.clock) + " after " + std::to_string(host.reset_count) +
                        "/" + std::to_string(host.restart_count) + "/" +
                        std::to_string(host.clock) + "): an old quote or another TPM");
      return v;
    }
    v.rebooted = newer_boot;
  }
  v.evidence_valid = true;

  // 3. The event log must explain every boot PCR the TPM reports.
  // The log's events, parsed only when a reason has to name some.
  std::optional<el::ParsedLog> parsed;
  bool parse_tried = false;
  auto events_in = [&](uint32_t pcr) {
    if (!parse_tried) {
      parse_tried = true;
      auto p = el::parse(evidence.event_log);
      if (p) parsed = std::move(*p);
    }
    return events_of(parsed ? &*parsed : nullptr, pcr);
  };
  el::ReplayOptions ropts;
  ropts.banks = {challenge.bank};
  auto replayed = el::replay(evidence.event_log, ropts);
  if (!replayed) {
    reasons.push_back("event log unreadable: " + replayed.error().message());
  } else {
    const el::PcrBank* bank = nullptr;
    for (const auto& b : replayed->banks) {
      if (b.alg == challenge.bank) bank = &b;
    }
    if (bank == nullptr) {
      reasons.push_back("event log has no " + bank_name(challenge.bank) + " bank");
    } else {
      for (const auto& [pcr, hex] : v.pcrs_hex) {
        if (pcr == kImaPcr) continue;
        Digest expect = bank->pcrs[pcr];
        if (!bank->was_extended(pcr)) expect = Digest::zero(challenge.bank);
        if (expect.hex() != hex) {
          reasons.push_back(pcr_label(pcr, challenge.bank) + ": the TPM holds " + short_hex(hex) +
                            " but the event log replays to " + short_hex(expect.hex()) +
                            ": an extend the log does not explain (" + events_in(pcr) + ")");
        }
      }
    }
    for (const auto& m : replayed->digest_mismatches) {
      reasons.push_back("event " + std::to_string(m.event) + " (" + el::event_type_name(m.type) +
                        ", PCR " + std::to_string(m.pcr) +
                        "): the payload does not match its digest: the log was edited");
    }
  }

  // 4. IMA: only the entries after what was already appraised.
  if ((challenge.pcr_mask >> kImaPcr) & 1) {
    Digest start = Digest::zero(challenge.bank);
    uint64_t base = 0;
    auto state = nlohmann::json::parse(host.ima_pcr10_json, nullptr, false);
    const std::string key = bank_name(challenge.bank);
    if (!v.rebooted && state.is_object() && state.contains(key) && state[key].is_string()) {
      auto bytes = from_hex(state[key].get<std::string>());
      if (bytes && bytes->size() == start.size) {
        std::copy(bytes->begin(), bytes->end(), start.bytes.begin());
        base = host.ima_entries;
      }
    }
    // The whole list (offset 0) is always checkable: PCR 10 starts from zero at boot. The
    // verifier asks for it when the whole list must be appraised again (a new runtime policy).
    if (evidence.ima_offset == 0) {
      start = Digest::zero(challenge.bank);
      base = 0;
    }
    if (evidence.ima_offset != base) {
      reasons.push_back("IMA entries sent from " + std::to_string(evidence.ima_offset) +
                        ", expected from " + std::to_string(base) +
                        (v.rebooted ? " (the host rebooted; re-reading the list)" : ""));
      v.ima_entries = base;
      v.ima_pcr10_hex = start.hex();
    } else {
      Digest quoted = Digest::zero(challenge.bank);
      auto q = from_hex(v.pcrs_hex[kImaPcr]);
      if (q) std::copy(q->begin(), q->end(), quoted.bytes.begin());
      ImaReplay r = replay_ima(evidence.ima_entries, challenge.bank, start, quoted);
      if (!r.error.empty()) reasons.push_back("IMA list unreadable: " + r.error);
      if (!r.matched) {
        reasons.push_back(
            pcr_label(kImaPcr, challenge.bank) + ": the TPM holds " + short_hex(quoted.hex()) +
            " but no prefix of the IMA list replays to it: a measurement the list does not show");
        v.ima_entries = base;
        v.ima_pcr10_hex = start.hex();
      } else {
        v.ima_entries = base + r.entries_used;
        v.ima_pcr10_hex = r.value.hex();
      }
    }
  }

  // 5. Approved values.
  if (references == nullptr) {
    reasons.push_back(
        "no reference values: approve a golden host with `ironroot policy capture HOST` or load "
        "values with `ironroot policy set FILE`");
  } else if (references->bank != challenge.bank) {
    reasons.push_back("reference values '" + references->name + "' are for the " +
                      bank_name(references->bank) + " bank, the quote is " +
                      bank_name(challenge.bank));
  } else {
    for (const auto& [pcr, allowed] : references->allowed) {
      auto it = v.pcrs_hex.find(pcr);
      if (it == v.pcrs_hex.end()) {
        reasons.push_back(pcr_label(pcr, challenge.bank) +
                          " is in the reference values but not quoted");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), it->second) == allowed.end()) {
        reasons.push_back(pcr_label(pcr, challenge.bank) + " = " + short_hex(it->second) +
                          " is not an approved value (reference '" + references->name + "'; " +
                          events_in(pcr) + ")");
      }
    }
  }
  v.trusted = reasons.empty();
  return v;
}

}  // namespace ironroot::verifier
