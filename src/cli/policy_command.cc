// ironroot policy create | check: measured-boot and IMA runtime policies, offline on files.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/text.h"
#include "evidence/ima/ima.h"
#include "output.h"
#include "policy/policy.h"

namespace ironroot::cli {
namespace {

using Json = nlohmann::ordered_json;

struct CreateArgs {
  std::vector<std::string> eventlogs;
  std::vector<std::string> ima_lists;
  std::string runtime_policy;
  std::string exclude;
  std::string bank;
  std::string golden_pcrs;
  bool no_secure_boot = false;
  std::string out;
};

struct CheckArgs {
  std::string policy;
  std::string exclude;
  std::string eventlog;
  std::string ima;
  std::string state;
  bool json = false;
  bool no_template_hash_check = false;
  bool fail_on_violations = false;
  bool allow_non_utf8 = false;
  size_t max_failures = 100;
};

std::string_view text_of(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// "0-7" or "0,2,4-7".
Result<std::vector<uint32_t>> parse_pcr_list(const std::string& s) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    std::string part = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? s.size() : comma + 1;
    size_t dash = part.find('-');
    try {
      uint32_t lo = static_cast<uint32_t>(std::stoul(part.substr(0, dash)));
      uint32_t hi =
          dash == std::string::npos ? lo : static_cast<uint32_t>(std::stoul(part.substr(dash + 1)));
      if (lo > hi || hi > 23) return invalid_argument("--golden-pcrs: bad range \"" + part + "\"");
      for (uint32_t p = lo; p <= hi; ++p) out.push_back(p);
    } catch (const std::exception&) {
      return invalid_argument("--golden-pcrs: \"" + part + "\" is not a PCR or range");
    }
  }
  return out;
}

// A Keylime runtime policy (format 1) allowing every file an IMA list measured.
Result<std::string> runtime_from_lists(const std::vector<std::string>& paths) {
  std::map<std::string, std::set<std::string>> digests;
  std::string log_alg = "sha1";
  for (const auto& path : paths) {
    IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path));
    evidence::ima::ParseOptions po;
    po.allow_non_utf8_paths = true;
    Status st = evidence::ima::for_each_entry(f.bytes(), po, [&](const evidence::ima::Entry& e) {
      if (e.is_violation() || e.digest.empty() || !e.buffer.empty()) return true;
      if (auto alg = crypto::sha_alg_for_size(e.template_hash.size())) {
        log_alg = std::string(crypto::hash_alg_name(*alg));
      }
      digests[std::string(e.path)].insert(to_hex(e.digest));
      return true;
    });
    if (!st) return std::move(st).error().with_context(path);
  }
  Json d = Json::object();
  for (const auto& [p, set] : digests) d[p] = std::vector<std::string>(set.begin(), set.end());
  Json doc = {
      {"meta", {{"version", 1}, {"generator", 0}}},
      {"release", 0},
      {"digests", d},
      {"excludes", Json::array()},
      {"keyrings", Json::object()},
      {"ima",
       {{"ignored_keyrings", Json::array()}, {"log_hash_alg", log_alg}, {"dm_policy", nullptr}}},
      {"ima-buf", Json::object()},
      {"verification-keys", ""}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

int create(const CreateArgs& a) {
  if (a.eventlogs.empty() && a.ima_lists.empty() && a.runtime_policy.empty()) {
    print_error("policy create: give --from-eventlog, --from-ima or --runtime-policy");
    return kExitError;
  }
  std::string doc = "{\"ironroot_policy\":1";
  if (!a.eventlogs.empty()) {
    std::vector<FileContents> files;
    std::vector<Bytes> logs;
    for (const auto& path : a.eventlogs) {
      auto f = FileContents::open(path);
      if (!f) {
        print_error(f.error().message());
        return kExitError;
      }
      files.push_back(std::move(f).value());
      logs.push_back(files.back().bytes());
    }
    policy::CreateOptions opts;
    if (!a.bank.empty()) {
      opts.bank = crypto::hash_alg_from_name(a.bank);
      if (!opts.bank) {
        print_error("--bank: unknown hash algorithm \"" + a.bank + "\"");
        return kExitError;
      }
    }
    if (!a.golden_pcrs.empty()) {
      auto pcrs = parse_pcr_list(a.golden_pcrs);
      if (!pcrs) {
        print_error(pcrs.error().message());
        return kExitError;
      }
      opts.golden_pcrs = *pcrs;
    }
    opts.require_secure_boot = !a.no_secure_boot;
    auto p = policy::create_measured_boot_policy(logs, opts);
    if (!p) {
      print_error(p.error().message());
      return kExitError;
    }
    doc += ",\"measured_boot\":" +
           p->to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!a.runtime_policy.empty() || !a.ima_lists.empty()) {
    if (!a.runtime_policy.empty() && !a.ima_lists.empty()) {
      print_error("policy create: --runtime-policy and --from-ima exclude each other");
      return kExitError;
    }
    std::string runtime;
    if (!a.runtime_policy.empty()) {
      auto p = policy::load_policy_file(a.runtime_policy, a.exclude);
      if (!p) {
        print_error(p.error().message());
        return kExitError;
      }
      if (!(*p)->runtime) {
        print_error(a.runtime_policy + ": has no runtime policy");
        return kExitError;
      }
      runtime = (*p)->runtime->to_keylime_json();
    } else {
      auto r = runtime_from_lists(a.ima_lists);
      if (!r) {
        print_error(r.error().message());
        return kExitError;
      }
      runtime = std::move(r).value();
    }
    doc += ",\"runtime\":" + runtime;
  }
  doc += "}";
  // What we write must load: the same checks a verifier applies.
  auto check = policy::load_policy(Bytes(reinterpret_cast<const uint8_t*>(doc.data()), doc.size()));
  if (!check) {
    print_error("internal: the created policy does not load: " + check.error().message());
    return kExitError;
  }
  if (a.out.empty() || a.out == "-") {
    std::cout << doc << "\n";
  } else {
    doc += "\n";
    Status st = write_file(a.out, Bytes(reinterpret_cast<const uint8_t*>(doc.data()), doc.size()));
    if (!st) {
      print_error(st.error().message());
      return kExitError;
    }
  }
  return kExitOk;
}

void print_mb_text(const policy::MeasuredBootResult& r) {
  if (r.ok()) {
    std::cout << "measured boot: ok (" << r.events << " events"
              << (r.firmware_version.empty()
                      ? ""
                      : ", firmware \"" + printable(r.firmware_version) + "\"")
              << ")\n";
    return;
  }
  std::cout << "measured boot: " << r.failures.size() << " failure(s) in " << r.events
            << " events\n";
  for (const auto& f : r.failures) {
    std::cout << "  ";
    if (f.event >= 0) std::cout << "event " << f.event << " ";
    std::cout << "PCR " << f.pcr;
    if (!f.type.empty()) std::cout << " " << f.type;
    std::cout << " [" << f.stage << "]";
    if (!f.digest.empty()) std::cout << " " << f.digest;
    std::cout << ": " << f.reason << "\n";
  }
}

void print_ima_text(const policy::ImaAppraisalResult& r, const policy::ImaAppraisalState& s) {
  std::cout << "ima: " << r.appraised << " entries appraised";
  if (r.skipped) std::cout << " (" << r.skipped << " appraised before)";
  std::cout << ", " << r.failure_count << " failure(s), " << r.excluded << " excluded, "
            << r.ignored << " ignored, " << r.violations << " violation(s)\n";
  for (const auto& f : r.failures) {
    std::cout << "  entry " << f.index;
    if (f.line) std::cout << " (line " << f.line << ")";
    std::cout << " " << f.path << " " << f.digest << ": " << f.reason;
    if (!f.allowed.empty()) {
      std::cout << " (allowed:";
      for (const auto& d : f.allowed) std::cout << " " << d;
      std::cout << ")";
    }
    std::cout << "\n";
  }
  if (r.failure_count > r.failures.size()) {
    std::cout << "  ... " << (r.failure_count - r.failures.size()) << " more\n";
  }
  for (const auto& d : s.pcr10) {
    std::cout << "  PCR 10 " << crypto::hash_alg_name(d.alg) << " " << d.hex() << "\n";
  }
}

int check(const CheckArgs& a) {
  if (a.eventlog.empty() && a.ima.empty()) {
    print_error("policy check: give --eventlog and/or --ima");
    return kExitError;
  }
  policy::PolicyFormat format{};
  auto t0 = std::chrono::steady_clock::now();
  auto loaded = policy::load_policy_file(a.policy, a.exclude, {}, &format);
  if (!loaded) {
    print_error(loaded.error().message());
    return kExitError;
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const policy::Policy& p = **loaded;
  Json out = {{"policy", a.policy},
              {"format", policy::policy_format_name(format)},
              {"load_seconds", load_s}};
  bool ok = true;
  if (!a.eventlog.empty()) {
    auto f = FileContents::open(a.eventlog);
    if (!f) {
      print_error(f.error().message());
      return kExitError;
    }
    auto r = policy::check_event_log(p, f->bytes());
    if (!r) {
      print_error(r.error().with_context(a.eventlog).message());
      return kExitError;
    }
    ok = ok && r->ok();
    if (a.json) {
      out["measured_boot"] = Json::parse(r->to_json().dump());
    } else {
      print_mb_text(*r);
    }
  }
  if (!a.ima.empty()) {
    if (!p.runtime) {
      print_error(a.policy + ": the policy has no runtime (IMA) part");
      return kExitError;
    }
    auto f = FileContents::open(a.ima);
    if (!f) {
      print_error(f.error().message());
      return kExitError;
    }
    policy::ImaAppraisalOptions opts;
    opts.parse.allow_non_utf8_paths = a.allow_non_utf8;
    opts.verify_template_hashes = !a.no_template_hash_check;
    opts.fail_on_violations = a.fail_on_violations;
    opts.max_kept_failures = a.max_failures;
    policy::ImaAppraisalState state;
    if (!a.state.empty()) {
      if (auto sf = FileContents::open(a.state)) {
        auto s = policy::ImaAppraisalState::deserialize(text_of(sf->bytes()));
        if (!s) {
          print_error(s.error().with_context(a.state).message());
          return kExitError;
        }
        state = std::move(s).value();
      }
    }
    policy::ImaAppraiser appraiser(p.runtime, opts, state);
    auto t1 = std::chrono::steady_clock::now();
    auto r = appraiser.appraise(f->bytes(), 0);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!r) {
      print_error(r.error().with_context(a.ima).message());
      return kExitError;
    }
    if (!a.state.empty()) {
      std::string text = appraiser.state().serialize() + "\n";
      Status st =
          write_file(a.state, Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
      if (!st) {
        print_error(st.error().message());
        return kExitError;
      }
    }
    // With a state file, earlier failures count too: the host stays failed until re-enrolled.
    ok = ok && r->ok() && appraiser.state().failure_count == 0;
    if (a.json) {
      Json j = Json::parse(r->to_json().dump());
      j["seconds"] = s;
      j["entries_per_second"] = s > 0 ? static_cast<double>(r->appraised) / s : 0.0;
      j["state"] = Json::parse(appraiser.state().to_json().dump());
      out["ima"] = j;
    } else {
      print_ima_text(*r, appraiser.state());
    }
  }
  out["ok"] = ok;
  if (a.json) std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  return ok ? kExitOk : kExitVerifyFailed;
}

}  // namespace

void add_policy_file_commands(CLI::App& policy, int* exit_code) {
  static CreateArgs create_args;
  auto* c = policy.add_subcommand(
      "create",
      "Build an ironroot policy offline: measured boot from golden event logs (per-stage "
      "digests, firmware versions, Secure Boot keys, kernel command line), IMA runtime policy "
      "from IMA lists or a Keylime policy");
  c->add_option("--from-eventlog", create_args.eventlogs,
                "Golden firmware event log (binary_bios_measurements); repeatable: the policy "
                "allows every golden log's firmware version and boot digests")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(true);
  c->add_option("--from-ima", create_args.ima_lists,
                "Golden IMA list (ascii or binary): every file it measured is allowed with its "
                "digest; repeatable")
      ->check(CLI::ExistingFile);
  c->add_option("--runtime-policy", create_args.runtime_policy,
                "Embed this Keylime runtime policy (JSON) or allowlist (text) as the runtime part")
      ->check(CLI::ExistingFile);
  c->add_option(
       "--exclude", create_args.exclude,
       "Keylime exclude list (one regex a line) for an allowlist given to --runtime-policy")
      ->check(CLI::ExistingFile);
  c->add_option("--bank", create_args.bank,
                "PCR bank the measured-boot part uses (default sha256, sha1 for SHA-1-only logs)");
  c->add_option("--golden-pcrs", create_args.golden_pcrs,
                "Also pin these PCRs to each golden log's values (\"0-7\"); PCR 0 still accepts "
                "any approved firmware version");
  c->add_flag("--no-secure-boot-required", create_args.no_secure_boot,
              "Do not require Secure Boot even when the golden logs have it on");
  c->add_option("-o,--output", create_args.out, "Write the policy here (default: stdout)");
  c->callback([exit_code] { *exit_code = create(create_args); });

  static CheckArgs check_args;
  auto* k = policy.add_subcommand(
      "check",
      "Appraise an event log and/or an IMA list offline against a policy (ironroot JSON, "
      "Keylime runtime policy JSON, or Keylime allowlist with --exclude); exit 1 when "
      "something fails, naming each failing event or entry");
  k->add_option("--policy", check_args.policy, "The policy file")
      ->required()
      ->check(CLI::ExistingFile);
  k->add_option("--exclude", check_args.exclude,
                "Keylime exclude list (one regex a line), with an allowlist policy")
      ->check(CLI::ExistingFile);
  k->add_option("--eventlog", check_args.eventlog,
                "Firmware event log to appraise against the measured-boot part")
      ->check(CLI::ExistingFile);
  k->add_option("--ima", check_args.ima,
                "IMA measurement list to appraise against the runtime part")
      ->check(CLI::ExistingFile);
  k->add_option("--state", check_args.state,
                "Incremental appraisal: read the appraisal state from this file if it exists, "
                "appraise only entries after it, write the new state back");
  k->add_flag("--json", check_args.json, "Print JSON for scripts instead of text for people");
  k->add_flag("--no-template-hash-check", check_args.no_template_hash_check,
              "Do not recompute template hashes (ironroot ima verify does it too)");
  k->add_flag("--fail-on-violations", check_args.fail_on_violations,
              "Count IMA violations (ToMToU, open writers) as failures");
  k->add_flag("--allow-non-utf8", check_args.allow_non_utf8,
              "Accept IMA paths that are not UTF-8 (Linux file names are bytes)");
  k->add_option("--max-failures", check_args.max_failures, "List at most this many IMA failures")
      ->capture_default_str();
  k->callback([exit_code] { *exit_code = check(check_args); });
}

}  // namespace ironroot::cli
