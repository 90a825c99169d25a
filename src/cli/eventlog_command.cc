// ironroot eventlog show|replay: offline reading of TCG firmware event logs.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/file.h"
#include "evidence/eventlog/describe.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/replay.h"
#include "output.h"

namespace ironroot::cli {
namespace {

namespace el = evidence::eventlog;
using nlohmann::json;

// One line per event for people: the scalar fields of the decoded payload, shortened.
std::string summarize(const json& event, size_t width) {
  std::string out;
  auto add = [&](const std::string& key, const json& v) {
    if (!out.empty()) out += "  ";
    out += key + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  };
  for (const auto& [key, value] : event.items()) {
    if (value.is_primitive()) {
      add(key, value);
    } else if (key == "signature_lists") {
      size_t n = 0;
      for (const auto& l : value) n += l.value("count", size_t{0});
      std::string s = std::to_string(value.size()) + " list(s), " + std::to_string(n) + " entries";
      for (const auto& l : value) {
        for (const auto& e : l["entries"]) {
          if (e.contains("subject")) s += "; " + e["subject"].get<std::string>();
        }
      }
      add("keys", s);
    } else if (key == "certificate") {
      add("certificate", value.value("subject", ""));
    } else if (key == "spec_id") {
      std::string s = value.value("signature", "");
      for (const auto& a : value["algorithms"]) s += " " + a["alg"].get<std::string>();
      add("spec_id", s);
    } else if (key == "partitions") {
      add("partitions", value.size());
    } else if (key == "boot_order" || key == "tables") {
      add(key, value.size() <= 8 ? value.dump() : std::to_string(value.size()) + " entries");
    } else if (key == "vendor_data" || key == "value") {
      for (const auto& [k, v] : value.items()) add(k, v);
    } else if (value.is_object() && value.contains("decode_error")) {
      add(key, "undecodable: " + value["decode_error"].get<std::string>());
    }
  }
  if (out.size() > width) out = out.substr(0, width - 3) + "...";
  return out;
}

void print_text(const std::string& path, const json& doc) {
  std::cout << path << ": " << doc["format"].get<std::string>() << " event log, "
            << doc["size"].get<uint64_t>() << " bytes, " << doc["events"].size() << " events";
  if (doc.contains("spec_id")) {
    std::cout << ", banks:";
    for (const auto& a : doc["spec_id"]["algorithms"])
      std::cout << " " << a["alg"].get<std::string>();
  }
  std::cout << "\n\n";
  std::printf("%5s %4s  %-34s %-8s %s\n", "#", "PCR", "TYPE", "PAYLOAD", "DETAIL");
  std::fflush(stdout);
  for (const auto& ev : doc["events"]) {
    std::string check = ev["payload_check"].get<std::string>();
    std::string mark = check == "match" ? "ok" : check == "mismatch" ? "MISMATCH" : "-";
    char head[96];
    std::snprintf(head, sizeof head, "%5u %4u  %-34s %-8s ", ev["number"].get<uint32_t>(),
                  ev["pcr"].get<uint32_t>(), ev["type_name"].get<std::string>().c_str(),
                  mark.c_str());
    std::cout << head << summarize(ev["event"], 120) << "\n";
  }
  if (doc.contains("error"))
    std::cout << "\nlog ends with an error: " << doc["error"].get<std::string>() << "\n";
  if (doc.contains("pcrs")) {
    std::cout << "\nreplayed PCRs (start locality " << doc["startup_locality"].get<int>()
              << (doc["hcrtm"].get<bool>() ? ", H-CRTM" : "") << "):\n";
    for (const auto& [bank, pcrs] : doc["pcrs"].items()) {
      for (const auto& [pcr, value] : pcrs.items()) {
        std::printf("  %-8s %2s  %s\n", bank.c_str(), pcr.c_str(),
                    value.get<std::string>().c_str());
      }
    }
  }
  for (const auto& m : doc.value("digest_mismatches", json::array())) {
    std::cout << "MISMATCH: event " << m["event"] << " (PCR " << m["pcr"] << ", "
              << m["type"].get<std::string>() << "): the " << m["alg"].get<std::string>()
              << " digest is not the hash of the payload; the event was altered or the "
                 "firmware measured something else\n";
  }
  for (const auto& a : doc.value("anomalies", json::array())) {
    std::cout << "note: event " << a["event"] << ": " << a["message"].get<std::string>() << "\n";
  }
}

int show(const std::string& path, const std::string& format) {
  auto file = FileContents::open(path);
  if (!file) {
    print_error(file.error().message());
    return kExitError;
  }
  auto doc = el::describe_log(file->bytes());
  if (!doc) {
    print_error(path + ": " + doc.error().message());
    return kExitError;
  }
  if (format == "json") {
    std::cout << doc->dump(2) << "\n";
  } else if (format == "yaml") {
    std::cout << "---\n";
    write_yaml(std::cout, *doc);
  } else {
    print_text(path, *doc);
  }
  if (doc->contains("error")) {
    print_error(path + ": " + (*doc)["error"].get<std::string>());
    return kExitError;
  }
  return kExitOk;
}

int replay(const std::string& path, bool as_json, bool strict,
           const std::vector<std::string>& bank_names) {
  el::ReplayOptions options;
  for (const auto& name : bank_names) {
    auto alg = crypto::hash_alg_from_name(name);
    if (!alg) {
      print_error("unknown bank '" + name + "': use sha1, sha256, sha384, sha512 or sm3_256");
      return kExitError;
    }
    options.banks.push_back(*alg);
  }
  auto file = FileContents::open(path);
  if (!file) {
    print_error(file.error().message());
    return kExitError;
  }
  auto r = el::replay(file->bytes(), options);
  if (!r) {
    print_error(path + ": " + r.error().message());
    return kExitError;
  }
  json mismatches = json::array();
  for (const auto& m : r->digest_mismatches) {
    mismatches.push_back({{"event", m.event},
                          {"offset", m.offset},
                          {"pcr", m.pcr},
                          {"type", el::event_type_name(m.type)}});
  }
  json anomalies = json::array();
  for (const auto& a : r->anomalies) {
    anomalies.push_back({{"event", a.event}, {"offset", a.offset}, {"message", a.message}});
  }
  if (as_json) {
    json out{{"events", r->events},
             {"format", el::log_format_name(r->format)},
             {"startup_locality", r->startup_locality},
             {"hcrtm", r->hcrtm},
             {"pcrs", el::pcrs_json(*r)},
             {"digest_mismatches", mismatches},
             {"anomalies", anomalies}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << path << ": " << r->events << " events (" << el::log_format_name(r->format)
              << "), PCR 0 started at locality " << int{r->startup_locality}
              << (r->hcrtm ? " (H-CRTM)" : "") << "\n";
    for (const auto& bank : r->banks) {
      for (uint32_t pcr = 0; pcr < el::kNumPcrs; ++pcr) {
        if (!bank.was_extended(pcr)) continue;
        std::printf("  %-8s %2u  %s\n", std::string(crypto::hash_alg_name(bank.alg)).c_str(), pcr,
                    bank.pcrs[pcr].hex().c_str());
      }
    }
    std::fflush(stdout);
    std::cout << r->payloads_checked << " event payloads checked against their digests, "
              << r->digest_mismatches.size() << " mismatch(es)\n";
    for (const auto& m : mismatches) {
      std::cout << "MISMATCH: event " << m["event"] << " at offset " << m["offset"] << " (PCR "
                << m["pcr"] << ", " << m["type"].get<std::string>()
                << "): digest is not the hash of the payload\n";
    }
    for (const auto& a : r->anomalies)
      std::cout << "note: event " << a.event << ": " << a.message << "\n";
  }
  return strict && !r->digest_mismatches.empty() ? kExitVerifyFailed : kExitOk;
}

}  // namespace

void add_eventlog_commands(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "eventlog", "Read TCG PC Client firmware event logs (binary_bios_measurements), offline");
  cmd->require_subcommand(1);

  auto* show_cmd = cmd->add_subcommand(
      "show",
      "Decode every event: types, digests, UEFI variables and keys, device paths, "
      "strings; whether each digest matches its payload; the replayed PCRs");
  static std::string show_path, format = "text";
  show_cmd->add_option("FILE", show_path, "Event log (SHA-1 or crypto-agile format)")
      ->required()
      ->check(CLI::ExistingFile);
  show_cmd->add_option("--format", format, "Output: text (for people), yaml, or json (for scripts)")
      ->check(CLI::IsMember({"text", "yaml", "json"}))
      ->capture_default_str();
  show_cmd->callback([exit_code] { *exit_code = show(show_path, format); });

  auto* replay_cmd = cmd->add_subcommand(
      "replay",
      "Replay the log into PCR values for every bank (EV_NO_ACTION skipped, PCR 0 "
      "started at the StartupLocality / H-CRTM locality)");
  static std::string replay_path;
  static bool as_json = false, strict = false;
  static std::vector<std::string> banks;
  replay_cmd->add_option("FILE", replay_path, "Event log (SHA-1 or crypto-agile format)")
      ->required()
      ->check(CLI::ExistingFile);
  replay_cmd->add_flag("--json", as_json,
                       "Print {\"events\": N, \"pcrs\": {\"sha256\": {\"0\": \"<hex>\"}}, ...} "
                       "with only the PCRs that were extended");
  replay_cmd->add_flag("--strict", strict,
                       "Exit with status 1 when an event's digest does not match its payload");
  replay_cmd->add_option("--bank", banks,
                         "Replay only this bank (repeatable: --bank sha256 --bank sha1); "
                         "default: every bank in the log");
  replay_cmd->callback([exit_code] { *exit_code = replay(replay_path, as_json, strict, banks); });
}

}  // namespace ironroot::cli
