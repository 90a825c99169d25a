#include "policy/measured_boot.h"

#include <re2/re2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "core/text.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/replay.h"
#include "evidence/eventlog/uefi.h"

namespace ironroot::policy {

namespace el = evidence::eventlog;

namespace {

constexpr std::string_view kCmdlinePrefix = "kernel_cmdline: ";

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

// The boot stage an event belongs to for allowed_digests, or "" when it is checked otherwise
// (PCR 0 by firmware version, PCR 7 by the Secure Boot rule, command lines by their rule) or
// is structure (separators, actions, EV_NO_ACTION).
std::string stage_of(const el::Event& ev, const std::string& text) {
  switch (ev.type) {
    case el::EV_NO_ACTION:
    case el::EV_SEPARATOR:
    case el::EV_EFI_ACTION: return "";
    default: break;
  }
  switch (ev.pcr) {
    case 1: return "platform_config";
    case 2: return "option_roms";
    case 3: return "option_rom_config";
    case 4: return "boot_applications";
    case 5: return "boot_config";
    case 8:
      if (text.rfind(kCmdlinePrefix, 0) == 0) return "";
      return "boot_commands";
    case 9:
      if (contains(text, "vmlinu") || contains(text, "bzImage") || contains(text, "/kernel")) {
        return "kernels";
      }
      if (contains(text, "initrd") || contains(text, "initramfs")) return "initrds";
      return "boot_files";
    default: return "";
  }
}

std::string event_text(const el::Event& ev) {
  if (ev.type != el::EV_IPL && ev.type != el::EV_EVENT_TAG) return "";
  return el::payload_text(ev.data);
}

// What one log says, in one bank.
struct LogFacts {
  uint32_t events = 0;
  std::vector<std::pair<el::Event, std::string>> pcr0;  // event, digest hex
  std::string firmware_name;
  struct Staged {
    el::Event ev;
    std::string stage;
    std::string digest;
  };
  std::vector<Staged> staged;
  std::vector<EventFailure> payload_failures;
  std::optional<bool> secure_boot;
  int64_t secure_boot_event = -1;
  std::map<std::string, std::vector<std::string>> keys;  // "PK"/"KEK"/"db"/"dbx" -> sha256
  std::map<std::string, std::pair<int64_t, uint64_t>> key_events;  // variable -> event, offset
  std::vector<std::pair<el::Event, std::string>> cmdlines;
  std::map<uint32_t, std::string> pcrs;  // replayed, hex
};

EventFailure failure_for(const el::Event& ev, std::string stage, std::string digest,
                         std::string reason) {
  EventFailure f;
  f.event = ev.number;
  f.offset = ev.offset;
  f.pcr = ev.pcr;
  f.type = el::event_type_name(ev.type);
  f.stage = std::move(stage);
  f.digest = std::move(digest);
  f.reason = std::move(reason);
  return f;
}

Result<LogFacts> read_facts(Bytes log, crypto::HashAlg bank) {
  LogFacts facts;
  IRONROOT_ASSIGN_OR_RETURN(auto reader, el::EventLogReader::open(log));
  el::PayloadChecker checker;
  el::Event ev;
  bool saw_bank = false;
  const auto alg_id = static_cast<uint16_t>(bank);
  for (;;) {
    IRONROOT_ASSIGN_OR_RETURN(bool more, reader.next(ev));
    if (!more) break;
    ++facts.events;
    if (ev.type == el::EV_NO_ACTION) continue;
    Bytes d = ev.digest_for(alg_id);
    if (d.empty()) continue;
    saw_bank = true;
    const std::string hex = to_hex(d);
    if (checker.check(ev) == el::PayloadCheck::kMismatch) {
      // Rules read these payloads (Secure Boot variables, the command line): an edited payload
      // under an unchanged digest must not pass. Elsewhere the digest itself is what the policy
      // checks, and some real firmware logs a payload that differs from what it hashed.
      const bool read_by_rules = (ev.pcr == 7 && ev.type == el::EV_EFI_VARIABLE_DRIVER_CONFIG) ||
                                 (ev.pcr == 8 && event_text(ev).rfind(kCmdlinePrefix, 0) == 0);
      if (read_by_rules) {
        facts.payload_failures.push_back(
            failure_for(ev, "payload", hex,
                        "the event's digest does not cover its payload (payload edited after "
                        "measurement)"));
        continue;
      }
    }
    if (ev.type == el::EV_SEPARATOR) {
      if (ev.data.size() == 4 && ev.data[0] == 0xff && ev.data[1] == 0xff) {
        facts.payload_failures.push_back(
            failure_for(ev, "separator", hex, "error separator: the firmware reported an error"));
      }
    }
    if (ev.pcr == 0) {
      facts.pcr0.emplace_back(ev, hex);
      if (ev.type == el::EV_S_CRTM_VERSION && facts.firmware_name.empty()) {
        facts.firmware_name = el::payload_text(ev.data);
      }
      continue;
    }
    if (ev.pcr == 7 && ev.type == el::EV_EFI_VARIABLE_DRIVER_CONFIG) {
      auto var = el::parse_variable_data(ev.data, ev.offset);
      if (!var) continue;
      if (var->name == "SecureBoot") {
        facts.secure_boot = var->data.size() >= 1 && var->data[0] == 1;
        facts.secure_boot_event = ev.number;
      } else if (var->name == "PK" || var->name == "KEK" || var->name == "db" ||
                 var->name == "dbx") {
        facts.key_events[var->name] = {ev.number, ev.offset};
        auto& list = facts.keys[var->name];
        auto lists = el::parse_signature_lists(var->data, ev.offset);
        if (!lists) {
          facts.payload_failures.push_back(
              failure_for(ev, "secure_boot", hex,
                          var->name + ": unreadable signature list: " + lists.error().message()));
          continue;
        }
        for (const auto& sl : *lists) {
          for (const auto& e : sl.entries) list.push_back(e.sha256);
        }
      }
      continue;
    }
    std::string text = event_text(ev);
    if (ev.pcr == 8 && text.rfind(kCmdlinePrefix, 0) == 0) {
      facts.cmdlines.emplace_back(ev, text.substr(kCmdlinePrefix.size()));
      // trailing NULs written by grub
      while (!facts.cmdlines.back().second.empty() && facts.cmdlines.back().second.back() == '\0') {
        facts.cmdlines.back().second.pop_back();
      }
    }
    std::string stage = stage_of(ev, text);
    if (!stage.empty()) facts.staged.push_back({ev, std::move(stage), hex});
  }
  if (!saw_bank) {
    return Error(ErrorCode::kUnsupported, std::string("the log has no ") +
                                              std::string(crypto::hash_alg_name(bank)) +
                                              " digests (the policy's bank)");
  }
  el::ReplayOptions ro;
  ro.check_payloads = false;
  ro.banks = {bank};
  IRONROOT_ASSIGN_OR_RETURN(el::ReplayResult replayed, el::replay(log, ro));
  for (const auto& b : replayed.banks) {
    if (b.alg != bank) continue;
    for (uint32_t p = 0; p < el::kNumPcrs; ++p) {
      if (b.was_extended(p)) facts.pcrs[p] = b.pcrs[p].hex();
    }
  }
  return facts;
}

Result<std::set<std::string>> hex_set(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) return malformed(where + ": expected an array of hex digests");
  std::set<std::string> out;
  size_t i = 0;
  for (const auto& v : j) {
    const std::string w = where + "[" + std::to_string(i++) + "]";
    if (!v.is_string()) return malformed(w + ": expected a hex string");
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](char c) {
      return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    });
    if (s.empty() || s.size() % 2 || s.size() > 128 ||
        s.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return malformed(w + ": \"" + printable(s.substr(0, 140)) + "\" is not a hex digest");
    }
    out.insert(std::move(s));
  }
  return out;
}

Result<std::vector<std::string>> regex_list(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) return malformed(where + ": expected an array of regular expressions");
  std::vector<std::string> out;
  size_t i = 0;
  for (const auto& v : j) {
    const std::string w = where + "[" + std::to_string(i++) + "]";
    if (!v.is_string()) return malformed(w + ": expected a string");
    std::string s = v.get<std::string>();
    if (s.size() > 4096) return Error(ErrorCode::kResourceLimit, w + ": longer than 4096 bytes");
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(int64_t{8} << 20);
    RE2 re(s, o);
    if (!re.ok()) return malformed(w + ": invalid regular expression: " + re.error());
    if (re.ProgramSize() > 100'000) {
      return Error(ErrorCode::kResourceLimit, w + ": regular expression program too large");
    }
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json set_json(const std::set<std::string>& s) {
  return nlohmann::json(std::vector<std::string>(s.begin(), s.end()));
}

}  // namespace

const std::vector<std::string>& measured_boot_stages() {
  static const std::vector<std::string> stages = {
      "platform_config", "option_roms", "option_rom_config", "boot_applications", "boot_config",
      "boot_commands",   "kernels",     "initrds",           "boot_files"};
  return stages;
}

nlohmann::json MeasuredBootPolicy::to_json() const {
  nlohmann::json j;
  j["bank"] = std::string(crypto::hash_alg_name(bank));
  nlohmann::json fw = nlohmann::json::array();
  for (const auto& v : firmware_versions) {
    fw.push_back({{"name", v.name}, {"pcr0", v.pcr0}, {"events", v.events}});
  }
  j["firmware_versions"] = fw;
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [stage, digests] : allowed_digests) stages[stage] = set_json(digests);
  j["allowed_digests"] = stages;
  if (secure_boot) {
    nlohmann::json sb = {{"required", secure_boot->required},
                         {"dbx_required", set_json(secure_boot->dbx_required)}};
    if (secure_boot->pk) sb["pk"] = set_json(*secure_boot->pk);
    if (secure_boot->kek) sb["kek"] = set_json(*secure_boot->kek);
    if (secure_boot->db) sb["db"] = set_json(*secure_boot->db);
    j["secure_boot"] = sb;
  }
  if (kernel_cmdline) {
    j["kernel_cmdline"] = {{"allowed", kernel_cmdline->allowed},
                           {"required", kernel_cmdline->required},
                           {"forbidden", kernel_cmdline->forbidden}};
  }
  if (!golden_pcrs.empty()) {
    nlohmann::json g = nlohmann::json::array();
    for (const auto& set : golden_pcrs) {
      nlohmann::json pcrs = nlohmann::json::object();
      for (const auto& [pcr, hex] : set.pcrs) pcrs[std::to_string(pcr)] = hex;
      g.push_back({{"name", set.name}, {"pcrs", pcrs}});
    }
    j["golden_pcrs"] = g;
  }
  return j;
}

Result<MeasuredBootPolicy> MeasuredBootPolicy::from_json(const nlohmann::json& j) {
  const std::string w = "measured_boot";
  if (!j.is_object()) return malformed(w + ": expected an object");
  MeasuredBootPolicy p;
  static const std::set<std::string> known = {"bank",        "firmware_versions", "allowed_digests",
                                              "secure_boot", "kernel_cmdline",    "golden_pcrs"};
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key)) return malformed(w + "." + printable(key) + ": unknown member");
  }
  if (auto it = j.find("bank"); it != j.end()) {
    auto alg = it->is_string() ? crypto::hash_alg_from_name(it->get<std::string>()) : std::nullopt;
    if (!alg) return malformed(w + ".bank: expected a hash algorithm name (\"sha256\")");
    p.bank = *alg;
  }
  if (auto it = j.find("firmware_versions"); it != j.end()) {
    if (!it->is_array()) return malformed(w + ".firmware_versions: expected an array");
    size_t i = 0;
    for (const auto& v : *it) {
      const std::string vw = w + ".firmware_versions[" + std::to_string(i++) + "]";
      if (!v.is_object()) return malformed(vw + ": expected an object");
      FirmwareVersion fv;
      if (auto n = v.find("name"); n != v.end()) {
        if (!n->is_string()) return malformed(vw + ".name: expected a string");
        fv.name = n->get<std::string>();
      }
      if (auto n = v.find("pcr0"); n != v.end()) {
        if (!n->is_string()) return malformed(vw + ".pcr0: expected a hex string");
        fv.pcr0 = n->get<std::string>();
      }
      auto ev = v.find("events");
      if (ev == v.end() || !ev->is_array()) return malformed(vw + ".events: expected an array");
      size_t k = 0;
      for (const auto& d : *ev) {
        IRONROOT_ASSIGN_OR_RETURN(auto one, hex_set(nlohmann::json::array({d}),
                                                    vw + ".events[" + std::to_string(k++) + "]"));
        fv.events.push_back(*one.begin());
      }
      p.firmware_versions.push_back(std::move(fv));
    }
  }
  if (auto it = j.find("allowed_digests"); it != j.end()) {
    if (!it->is_object()) return malformed(w + ".allowed_digests: expected an object");
    const auto& stages = measured_boot_stages();
    for (const auto& [stage, list] : it->items()) {
      if (std::find(stages.begin(), stages.end(), stage) == stages.end()) {
        return malformed(w + ".allowed_digests." + printable(stage) +
                         ": unknown stage (platform_config, option_roms, option_rom_config, "
                         "boot_applications, boot_config, boot_commands, kernels, initrds, "
                         "boot_files)");
      }
      IRONROOT_ASSIGN_OR_RETURN(p.allowed_digests[stage],
                                hex_set(list, w + ".allowed_digests." + stage));
    }
  }
  if (auto it = j.find("secure_boot"); it != j.end()) {
    const std::string sw = w + ".secure_boot";
    if (!it->is_object()) return malformed(sw + ": expected an object");
    SecureBootRule sb;
    if (auto r = it->find("required"); r != it->end()) {
      if (!r->is_boolean()) return malformed(sw + ".required: expected true or false");
      sb.required = r->get<bool>();
    }
    for (const char* name : {"pk", "kek", "db"}) {
      if (auto r = it->find(name); r != it->end()) {
        IRONROOT_ASSIGN_OR_RETURN(auto s, hex_set(*r, sw + "." + name));
        (name[0] == 'p' ? sb.pk : name[0] == 'k' ? sb.kek : sb.db) = std::move(s);
      }
    }
    if (auto r = it->find("dbx_required"); r != it->end()) {
      IRONROOT_ASSIGN_OR_RETURN(sb.dbx_required, hex_set(*r, sw + ".dbx_required"));
    }
    p.secure_boot = std::move(sb);
  }
  if (auto it = j.find("kernel_cmdline"); it != j.end()) {
    const std::string cw = w + ".kernel_cmdline";
    if (!it->is_object()) return malformed(cw + ": expected an object");
    CmdlineRule c;
    if (auto r = it->find("allowed"); r != it->end()) {
      IRONROOT_ASSIGN_OR_RETURN(c.allowed, regex_list(*r, cw + ".allowed"));
    }
    if (auto r = it->find("required"); r != it->end()) {
      IRONROOT_ASSIGN_OR_RETURN(c.required, regex_list(*r, cw + ".required"));
    }
    if (auto r = it->find("forbidden"); r != it->end()) {
      IRONROOT_ASSIGN_OR_RETURN(c.forbidden, regex_list(*r, cw + ".forbidden"));
    }
    p.kernel_cmdline = std::move(c);
  }
  if (auto it = j.find("golden_pcrs"); it != j.end()) {
    if (!it->is_array()) return malformed(w + ".golden_pcrs: expected an array");
    size_t i = 0;
    for (const auto& g : *it) {
      const std::string gw = w + ".golden_pcrs[" + std::to_string(i++) + "]";
      if (!g.is_object() || !g.contains("pcrs") || !g["pcrs"].is_object()) {
        return malformed(gw + ": expected {\"name\": ..., \"pcrs\": {\"0\": hex, ...}}");
      }
      GoldenPcrs set;
      if (g.contains("name") && g["name"].is_string()) set.name = g["name"].get<std::string>();
      for (const auto& [pcr, hex] : g["pcrs"].items()) {
        uint32_t n = 0;
        if (pcr.empty() || pcr.size() > 2 ||
            pcr.find_first_not_of("0123456789") != std::string::npos ||
            (n = static_cast<uint32_t>(std::stoul(pcr))) >= el::kNumPcrs) {
          return malformed(gw + ".pcrs." + printable(pcr) + ": not a PCR index (0-23)");
        }
        IRONROOT_ASSIGN_OR_RETURN(auto one,
                                  hex_set(nlohmann::json::array({hex}), gw + ".pcrs." + pcr));
        set.pcrs[n] = *one.begin();
      }
      p.golden_pcrs.push_back(std::move(set));
    }
  }
  return p;
}

Result<MeasuredBootPolicy> create_measured_boot_policy(const std::vector<Bytes>& logs,
                                                       const CreateOptions& options) {
  if (logs.empty()) return invalid_argument("no golden event logs");
  MeasuredBootPolicy p;
  p.bank = options.bank.value_or(crypto::HashAlg::kSha256);
  std::vector<LogFacts> all;
  for (size_t i = 0; i < logs.size(); ++i) {
    auto facts = read_facts(logs[i], p.bank);
    if (!facts && !options.bank && p.bank == crypto::HashAlg::kSha256 && i == 0 &&
        facts.error().code() == ErrorCode::kUnsupported) {
      p.bank = crypto::HashAlg::kSha1;  // a TPM 1.2-format log: SHA-1 only
      facts = read_facts(logs[i], p.bank);
    }
    if (!facts) return std::move(facts).error().with_context("golden log " + std::to_string(i + 1));
    if (!facts->payload_failures.empty()) {
      const auto& f = facts->payload_failures.front();
      return invalid_argument("golden log " + std::to_string(i + 1) + ": event " +
                              std::to_string(f.event) + " (" + f.type + "): " + f.reason +
                              "; a golden log must be sound");
    }
    all.push_back(std::move(facts).value());
  }
  for (const auto& stage : measured_boot_stages()) p.allowed_digests[stage];
  bool all_secure_boot = true;
  std::optional<std::set<std::string>> dbx_common;
  SecureBootRule sb;
  for (size_t i = 0; i < all.size(); ++i) {
    const LogFacts& f = all[i];
    FirmwareVersion fv;
    fv.name = f.firmware_name.empty() ? "golden log " + std::to_string(i + 1) : f.firmware_name;
    for (const auto& [ev, hex] : f.pcr0) fv.events.push_back(hex);
    if (auto it = f.pcrs.find(0); it != f.pcrs.end()) fv.pcr0 = it->second;
    bool dup = false;
    for (const auto& v : p.firmware_versions) dup = dup || v.events == fv.events;
    if (!dup && !fv.events.empty()) p.firmware_versions.push_back(std::move(fv));
    for (const auto& s : f.staged) p.allowed_digests[s.stage].insert(s.digest);
    all_secure_boot = all_secure_boot && f.secure_boot.value_or(false);
    auto add_keys = [&](const char* var, std::optional<std::set<std::string>>& into) {
      auto it = f.keys.find(var);
      if (it == f.keys.end()) return;
      if (!into) into.emplace();
      into->insert(it->second.begin(), it->second.end());
    };
    add_keys("PK", sb.pk);
    add_keys("KEK", sb.kek);
    add_keys("db", sb.db);
    std::set<std::string> dbx;
    if (auto it = f.keys.find("dbx"); it != f.keys.end())
      dbx.insert(it->second.begin(), it->second.end());
    if (!dbx_common) {
      dbx_common = dbx;
    } else {
      std::set<std::string> both;
      std::set_intersection(dbx_common->begin(), dbx_common->end(), dbx.begin(), dbx.end(),
                            std::inserter(both, both.begin()));
      dbx_common = std::move(both);
    }
    if (!f.cmdlines.empty()) {
      if (!p.kernel_cmdline) p.kernel_cmdline.emplace();
      for (const auto& [ev, line] : f.cmdlines) {
        std::string re = RE2::QuoteMeta(line);
        auto& allowed = p.kernel_cmdline->allowed;
        if (std::find(allowed.begin(), allowed.end(), re) == allowed.end()) allowed.push_back(re);
      }
    }
    if (!options.golden_pcrs.empty()) {
      GoldenPcrs g;
      g.name = "golden log " + std::to_string(i + 1);
      for (uint32_t pcr : options.golden_pcrs) {
        auto it = f.pcrs.find(pcr);
        if (it != f.pcrs.end()) g.pcrs[pcr] = it->second;
      }
      p.golden_pcrs.push_back(std::move(g));
    }
  }
  // Stages no golden log has stay out of the policy (nothing to allow, nothing to check).
  for (auto it = p.allowed_digests.begin(); it != p.allowed_digests.end();) {
    it = it->second.empty() ? p.allowed_digests.erase(it) : std::next(it);
  }
  sb.required = all_secure_boot && options.require_secure_boot;
  if (dbx_common) sb.dbx_required = *dbx_common;
  if (sb.required || sb.pk || sb.kek || sb.db) p.secure_boot = std::move(sb);
  return p;
}

nlohmann::json EventFailure::to_json() const {
  nlohmann::json j = {{"pcr", pcr}, {"type", type}, {"stage", stage}, {"reason", reason}};
  if (event >= 0) {
    j["event"] = event;
    j["offset"] = offset;
  }
  if (!digest.empty()) j["digest"] = digest;
  return j;
}

nlohmann::json MeasuredBootResult::to_json() const {
  nlohmann::json fs = nlohmann::json::array();
  for (const auto& f : failures) fs.push_back(f.to_json());
  nlohmann::json j = {{"ok", ok()}, {"events", events}, {"failures", fs}};
  if (!firmware_version.empty()) j["firmware_version"] = firmware_version;
  return j;
}

Result<MeasuredBootResult> check_measured_boot(const MeasuredBootPolicy& policy, Bytes log) {
  IRONROOT_ASSIGN_OR_RETURN(LogFacts f, read_facts(log, policy.bank));
  MeasuredBootResult r;
  r.events = f.events;
  r.failures = f.payload_failures;
  // PCR 0: one approved firmware version, event for event.
  std::string matched_pcr0;
  if (!policy.firmware_versions.empty()) {
    const FirmwareVersion* best = nullptr;
    size_t best_len = 0;
    for (const auto& v : policy.firmware_versions) {
      size_t n = 0;
      while (n < v.events.size() && n < f.pcr0.size() && v.events[n] == f.pcr0[n].second) ++n;
      if (n == v.events.size() && n == f.pcr0.size()) {
        r.firmware_version = v.name;
        matched_pcr0 = v.pcr0;
        best = nullptr;
        break;
      }
      if (!best || n > best_len) {
        best = &v;
        best_len = n;
      }
    }
    if (r.firmware_version.empty() && best) {
      if (best_len < f.pcr0.size()) {
        const auto& [ev, hex] = f.pcr0[best_len];
        std::string reason = "PCR 0 event differs from every approved firmware version";
        if (best_len < best->events.size()) {
          reason += " (closest: \"" + best->name + "\", which has " + best->events[best_len] + ")";
        } else {
          reason += " (an event more than \"" + best->name + "\" has)";
        }
        if (ev.type == el::EV_S_CRTM_VERSION) {
          reason += "; firmware version \"" + printable(el::payload_text(ev.data)) + "\"";
        }
        r.failures.push_back(failure_for(ev, "platform_firmware", hex, reason));
      } else {
        EventFailure fl;
        fl.pcr = 0;
        fl.stage = "platform_firmware";
        fl.reason = "PCR 0 ends after " + std::to_string(f.pcr0.size()) +
                    " events; firmware version \"" + best->name + "\" has " +
                    std::to_string(best->events.size());
        r.failures.push_back(std::move(fl));
      }
    }
  }
  // Per-stage digests.
  for (const auto& s : f.staged) {
    auto it = policy.allowed_digests.find(s.stage);
    if (it == policy.allowed_digests.end()) continue;
    if (!it->second.count(s.digest)) {
      std::string reason = "digest not allowed for stage " + s.stage;
      if (s.ev.type == el::EV_IPL)
        reason += " (\"" + printable(event_text(s.ev)).substr(0, 200) + "\")";
      r.failures.push_back(failure_for(s.ev, s.stage, s.digest, reason));
    }
  }
  // Secure Boot.
  if (policy.secure_boot) {
    const SecureBootRule& sb = *policy.secure_boot;
    auto general = [&](std::string reason) {
      EventFailure fl;
      fl.pcr = 7;
      fl.type = "EV_EFI_VARIABLE_DRIVER_CONFIG";
      fl.stage = "secure_boot";
      fl.reason = std::move(reason);
      r.failures.push_back(std::move(fl));
    };
    if (sb.required && !f.secure_boot.value_or(false)) {
      general(f.secure_boot ? "Secure Boot is off (SecureBoot variable is not 1)"
                            : "Secure Boot state not measured (no SecureBoot variable event)");
      if (f.secure_boot_event >= 0) r.failures.back().event = f.secure_boot_event;
    }
    auto check_keys = [&](const char* var, const std::optional<std::set<std::string>>& allowed) {
      if (!allowed) return;
      auto it = f.keys.find(var);
      if (it == f.keys.end()) {
        general(std::string(var) + " not measured");
        return;
      }
      for (const auto& k : it->second) {
        if (!allowed->count(k)) {
          general(std::string(var) + " holds an entry the policy does not allow (sha256 " + k +
                  ")");
          r.failures.back().digest = k;
          if (auto e = f.key_events.find(var); e != f.key_events.end()) {
            r.failures.back().event = e->second.first;
            r.failures.back().offset = e->second.second;
          }
        }
      }
    };
    check_keys("PK", sb.pk);
    check_keys("KEK", sb.kek);
    check_keys("db", sb.db);
    if (!sb.dbx_required.empty()) {
      std::set<std::string> dbx;
      if (auto it = f.keys.find("dbx"); it != f.keys.end())
        dbx.insert(it->second.begin(), it->second.end());
      size_t missing = 0;
      std::string first;
      for (const auto& k : sb.dbx_required) {
        if (!dbx.count(k)) {
          if (!missing) first = k;
          ++missing;
        }
      }
      if (missing) {
        general("dbx lacks " + std::to_string(missing) + " required revocation(s), first " + first);
        r.failures.back().digest = first;
        if (auto e = f.key_events.find("dbx"); e != f.key_events.end()) {
          r.failures.back().event = e->second.first;
          r.failures.back().offset = e->second.second;
        }
      }
    }
  }
  // Kernel command line.
  if (policy.kernel_cmdline) {
    const CmdlineRule& c = *policy.kernel_cmdline;
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(int64_t{8} << 20);
    for (const auto& [ev, line] : f.cmdlines) {
      const std::string hex = to_hex(ev.digest_for(static_cast<uint16_t>(policy.bank)));
      re2::StringPiece text(line.data(), line.size());
      if (!c.allowed.empty()) {
        bool any = false;
        for (const auto& a : c.allowed) any = any || RE2::FullMatch(text, RE2(a, o));
        if (!any) {
          r.failures.push_back(failure_for(ev, "kernel_cmdline", hex,
                                           "command line \"" + printable(line).substr(0, 300) +
                                               "\" matches no allowed pattern"));
        }
      }
      for (const auto& q : c.required) {
        if (!RE2::PartialMatch(text, RE2(q, o))) {
          r.failures.push_back(
              failure_for(ev, "kernel_cmdline", hex, "command line lacks required /" + q + "/"));
        }
      }
      for (const auto& q : c.forbidden) {
        if (RE2::PartialMatch(text, RE2(q, o))) {
          r.failures.push_back(
              failure_for(ev, "kernel_cmdline", hex, "command line has forbidden /" + q + "/"));
        }
      }
    }
    if (f.cmdlines.empty() && (!c.allowed.empty() || !c.required.empty())) {
      EventFailure fl;
      fl.pcr = 8;
      fl.stage = "kernel_cmdline";
      fl.reason = "no kernel command line measured (PCR 8 \"kernel_cmdline:\" event)";
      r.failures.push_back(std::move(fl));
    }
  }
  // Golden PCR sets.
  if (!policy.golden_pcrs.empty()) {
    const GoldenPcrs* closest = nullptr;
    std::vector<uint32_t> closest_diff;
    bool matched = false;
    for (const auto& g : policy.golden_pcrs) {
      std::vector<uint32_t> diff;
      for (const auto& [pcr, hex] : g.pcrs) {
        auto it = f.pcrs.find(pcr);
        const std::string have = it == f.pcrs.end() ? "" : it->second;
        bool ok = have == hex;
        if (!ok && pcr == 0) {
          for (const auto& v : policy.firmware_versions)
            ok = ok || (!v.pcr0.empty() && v.pcr0 == have);
        }
        if (!ok) diff.push_back(pcr);
      }
      if (diff.empty()) {
        matched = true;
        break;
      }
      if (!closest || diff.size() < closest_diff.size()) {
        closest = &g;
        closest_diff = diff;
      }
    }
    if (!matched && closest) {
      std::string list;
      for (uint32_t p : closest_diff) list += (list.empty() ? "" : ", ") + std::to_string(p);
      EventFailure fl;
      fl.pcr = closest_diff.front();
      fl.stage = "golden_pcrs";
      fl.reason = "PCRs match no golden set (closest \"" + closest->name + "\" differs in PCR " +
                  list + ")";
      r.failures.push_back(std::move(fl));
    }
  }
  std::stable_sort(r.failures.begin(), r.failures.end(),
                   [](const EventFailure& a, const EventFailure& b) { return a.event < b.event; });
  return r;
}

}  // namespace ironroot::policy
