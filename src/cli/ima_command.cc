// ironroot ima verify|show: offline reading of Linux IMA runtime measurement lists.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/text.h"
#include "evidence/ima/ima.h"
#include "output.h"

namespace ironroot::cli {
namespace {

namespace ima = evidence::ima;
using crypto::Digest;
using crypto::HashAlg;
using Json = nlohmann::ordered_json;  // keys in the order written: "entries" first

// Options both subcommands take.
struct ListArgs {
  std::string path;
  std::string format = "auto";
  size_t hash_size = 0;
  std::string template_hash_alg;
  bool json = false;
  bool allow_non_utf8 = false;
};

struct VerifyArgs {
  ListArgs list;
  std::vector<std::string> pcr10;
  std::vector<std::string> banks;
  bool padded_sha1_banks = false;
  size_t max_errors = 1000;
};

struct ShowArgs {
  ListArgs list;
  size_t limit = 0;
};

void add_list_options(CLI::App* cmd, ListArgs& a) {
  cmd->add_option("FILE", a.path,
                  "IMA measurement list: ascii_runtime_measurements* or "
                  "binary_runtime_measurements* (a copy, or the securityfs file itself)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", a.format,
                  "Form of the list; auto tells them apart by the first bytes")
      ->check(CLI::IsMember({"auto", "ascii", "binary"}))
      ->capture_default_str();
  auto* size = cmd->add_option("--hash-size", a.hash_size,
                               "Bytes per template hash (20 for the sha1 list, 32 for *_sha256, "
                               "48, 64); default: detected from the first entry")
                   ->check(CLI::IsMember({20, 32, 48, 64}));
  cmd->add_option("--template-hash-alg", a.template_hash_alg,
                  "Algorithm of the template hash column (sha1, sha256, sha384, sha512, "
                  "sm3_256, sha3_256, ...); default: by size, sha1/sha256/sha384/sha512")
      ->excludes(size);
  cmd->add_flag("--json", a.json, "Print JSON for scripts instead of text for people");
  cmd->add_flag("--allow-non-utf8", a.allow_non_utf8,
                "Accept paths that are not valid UTF-8 (Linux file names are bytes); "
                "by default such a path is an error");
}

Result<HashAlg> parse_alg(const std::string& name, const char* what) {
  auto alg = crypto::hash_alg_from_name(name);
  if (!alg) {
    return invalid_argument(std::string("unknown ") + what + " '" + name +
                            "': use sha1, sha256, sha384, sha512, sm3_256, sha3_256, "
                            "sha3_384 or sha3_512");
  }
  return *alg;
}

// "[alg:][0x]hex"; without alg, the bank is the SHA algorithm of that digest size.
Result<Digest> parse_pcr_value(const std::string& text) {
  std::string hex = text;
  std::optional<HashAlg> alg;
  if (size_t colon = hex.find(':'); colon != std::string::npos) {
    IRONROOT_ASSIGN_OR_RETURN(alg, parse_alg(hex.substr(0, colon), "bank"));
    hex = hex.substr(colon + 1);
  }
  if (hex.size() > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex = hex.substr(2);
  auto bytes = from_hex(hex);
  if (!bytes) return invalid_argument("--pcr10 " + text + ": " + bytes.error().message());
  if (!alg) alg = crypto::sha_alg_for_size(bytes->size());
  if (!alg || crypto::digest_size(*alg) != bytes->size()) {
    return invalid_argument(
        "--pcr10 " + text + ": " + std::to_string(bytes->size()) + " bytes is not a digest of " +
        (alg ? std::string(crypto::hash_alg_name(*alg)) : "sha1/sha256/sha384/sha512"));
  }
  Digest d = Digest::zero(*alg);
  std::copy(bytes->begin(), bytes->end(), d.bytes.begin());
  return d;
}

Result<ima::ParseOptions> parse_options(const ListArgs& a, std::optional<HashAlg>* hash_alg) {
  ima::ParseOptions o;
  if (a.format == "ascii") o.format = ima::Format::kAscii;
  if (a.format == "binary") o.format = ima::Format::kBinary;
  o.hash_size = a.hash_size;
  o.allow_non_utf8_paths = a.allow_non_utf8;
  if (!a.template_hash_alg.empty()) {
    IRONROOT_ASSIGN_OR_RETURN(HashAlg alg,
                              parse_alg(a.template_hash_alg, "template hash algorithm"));
    *hash_alg = alg;
  }
  return o;
}

std::string name(HashAlg alg) {
  return std::string(crypto::hash_alg_name(alg));
}

// Where an entry is, for people: "line 12" (ascii) or "offset 0x1c4" (binary).
std::string where(ima::Format f, uint64_t line, uint64_t offset) {
  if (f == ima::Format::kAscii) return "line " + std::to_string(line);
  char buf[32];
  std::snprintf(buf, sizeof buf, "offset 0x%llx", static_cast<unsigned long long>(offset));
  return buf;
}

// The same, as a bare column value: "12" or "0x1c4".
std::string position(ima::Format f, uint64_t line, uint64_t offset) {
  std::string w = where(f, line, offset);
  return w.substr(w.find(' ') + 1);
}

void put_where(Json& j, ima::Format f, uint64_t line, uint64_t offset) {
  if (f == ima::Format::kAscii) {
    j["line"] = line;
  } else {
    j["offset"] = offset;
  }
}

Json verify_json(const ima::VerifyReport& r) {
  Json out;
  out["entries"] = r.entries;
  Json errors = Json::array();
  for (const auto& e : r.template_hash_errors) {
    Json j;
    j["index"] = e.index;
    put_where(j, r.format.format, e.line, e.offset);
    j["template"] = e.template_name;
    j["path"] = e.path;
    j["expected"] = e.expected.hex();
    j["computed"] = e.computed.hex();
    errors.push_back(std::move(j));
  }
  out["template_hash_errors"] = std::move(errors);
  Json pcr10 = Json::object();
  Json others = Json::object();
  Json incomplete = Json::array();
  for (const auto& p : r.pcrs) {
    if (p.pcr == ima::kImaPcr) {
      pcr10[name(p.value.alg)] = p.value.hex();
    } else {
      others[std::to_string(p.pcr)][name(p.value.alg)] = p.value.hex();
    }
    if (!p.complete) incomplete.push_back(std::to_string(p.pcr) + ":" + name(p.value.alg));
  }
  out["pcr10"] = std::move(pcr10);
  out["format"] = ima::format_name(r.format.format);
  out["template_hash_size"] = r.format.hash_size;
  out["template_hash_alg"] = name(r.template_hash_alg);
  out["template_hash_error_count"] = r.template_hash_error_count;
  out["violations"] = r.violations;
  out["unverified"] = r.unverified;
  if (!others.empty()) out["pcrs"] = std::move(others);
  if (!incomplete.empty()) out["incomplete"] = std::move(incomplete);
  if (!r.expected_pcr10.empty()) {
    Json expected = Json::array();
    bool all = true;
    for (const auto& x : r.expected_pcr10) {
      Json j;
      j["bank"] = name(x.expected.alg);
      j["expected"] = x.expected.hex();
      j["match"] = x.matched;
      j["matched_after_entries"] =
          x.matched_after_entries ? Json(*x.matched_after_entries) : Json(nullptr);
      all = all && x.matched;
      expected.push_back(std::move(j));
    }
    out["pcr10_expected"] = std::move(expected);
    out["pcr10_expected_match"] = all;
  }
  out["ok"] = r.ok();
  return out;
}

void verify_text(const std::string& path, const ima::VerifyReport& r) {
  std::cout << path << ": " << ima::format_name(r.format.format) << " IMA list, " << r.entries
            << " entries (" << r.violations << " violations), template hashes "
            << name(r.template_hash_alg) << "\n";
  if (r.template_hash_error_count == 0) {
    std::cout << "template hashes: all " << (r.entries - r.violations - r.unverified) << " match";
    if (r.unverified)
      std::cout << " (" << r.unverified << " entries of unknown templates not checked)";
    std::cout << "\n";
  } else {
    std::cout << "template hashes: " << r.template_hash_error_count << " MISMATCH\n";
    constexpr size_t kShow = 20;
    for (size_t i = 0; i < r.template_hash_errors.size() && i < kShow; ++i) {
      const auto& e = r.template_hash_errors[i];
      std::cout << "  entry " << e.index << " (" << where(r.format.format, e.line, e.offset) << ") "
                << e.template_name << " " << printable(e.path) << "\n"
                << "      list:     " << e.expected.hex() << "\n"
                << "      computed: " << e.computed.hex() << "\n";
    }
    if (r.template_hash_error_count > kShow) {
      std::cout << "  ... and " << (r.template_hash_error_count - kShow)
                << " more (--json lists up "
                << "to --max-errors)\n";
    }
  }
  size_t width = 0;
  for (const auto& p : r.pcrs) width = std::max(width, name(p.value.alg).size());
  for (const auto& p : r.pcrs) {
    std::string bank = name(p.value.alg);
    std::cout << "PCR " << p.pcr << " " << bank << ":" << std::string(width - bank.size() + 1, ' ')
              << p.value.hex();
    if (p.pcr != ima::kImaPcr) std::cout << "  (" << p.extends << " entries)";
    if (!p.complete) std::cout << "  (incomplete: unknown template data)";
    std::cout << "\n";
  }
  for (const auto& x : r.expected_pcr10) {
    std::cout << "expected PCR 10 " << name(x.expected.alg) << " " << x.expected.hex() << ": ";
    if (x.matched) {
      std::cout << "match\n";
    } else if (x.matched_after_entries) {
      std::cout << "MISMATCH; the first " << *x.matched_after_entries
                << " entries replay to it (the PCR was read before the list's last "
                << (r.entries - *x.matched_after_entries) << " entries)\n";
    } else {
      std::cout << "MISMATCH; no prefix of the list replays to it\n";
    }
  }
  std::cout << "result: " << (r.ok() ? "OK" : "FAILED") << "\n";
}

int verify(const VerifyArgs& a) {
  ima::VerifyOptions opts;
  auto parse = parse_options(a.list, &opts.template_hash_alg);
  if (!parse) {
    print_error(parse.error().message());
    return kExitError;
  }
  opts.parse = *parse;
  opts.max_reported_errors = a.max_errors;
  opts.padded_sha1_banks = a.padded_sha1_banks;
  for (const auto& b : a.banks) {
    auto alg = parse_alg(b, "bank");
    if (!alg) {
      print_error(alg.error().message());
      return kExitError;
    }
    opts.banks.push_back(*alg);
  }
  for (const auto& v : a.pcr10) {
    auto d = parse_pcr_value(v);
    if (!d) {
      print_error(d.error().message());
      return kExitError;
    }
    opts.expected_pcr10.push_back(*d);
  }
  auto file = FileContents::open(a.list.path);
  if (!file) {
    print_error(file.error().message());
    return kExitError;
  }
  auto r = ima::verify(file->bytes(), opts);
  if (!r) {
    print_error(a.list.path + ": " + r.error().message());
    return kExitError;
  }
  if (a.list.json) {
    std::cout << verify_json(*r).dump(1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    verify_text(a.list.path, *r);
  }
  return r->ok() ? kExitOk : kExitVerifyFailed;
}

Json entry_json(const ima::Entry& e, ima::Format f) {
  Json j;
  j["index"] = e.index;
  put_where(j, f, e.line, e.offset);
  j["pcr"] = e.pcr;
  j["template"] = e.template_name;
  j["template_hash"] = to_hex(e.template_hash);
  j["violation"] = e.is_violation();
  if (!e.data_known) {
    j["fields"] = e.fields_text;
    return j;
  }
  if (!e.digest_type.empty()) j["digest_type"] = e.digest_type;
  if (!e.digest_algo.empty()) j["digest_algo"] = e.digest_algo;
  j["digest"] = to_hex(e.digest);
  j["path"] = e.path;
  if (!e.signature.empty()) j["signature"] = to_hex(e.signature);
  if (!e.buffer.empty()) j["buffer"] = to_hex(e.buffer);
  if (!e.modsig_digest.empty()) {
    j["modsig_digest"] = std::string(e.modsig_digest_algo) + ":" + to_hex(e.modsig_digest);
  }
  if (!e.modsig.empty()) j["modsig"] = to_hex(e.modsig);
  return j;
}

// One line per entry: the kernel's own ascii columns, with extras shortened.
void entry_text(const ima::Entry& e, ima::Format f) {
  std::string digest = e.data_known ? to_hex(e.digest) : "";
  if (!e.digest_algo.empty()) digest = std::string(e.digest_algo) + ":" + digest;
  if (!e.digest_type.empty()) digest = std::string(e.digest_type) + ":" + digest;
  std::string rest = e.data_known ? printable(e.path) : printable(e.fields_text);
  if (!e.signature.empty()) rest += "  sig=" + std::to_string(e.signature.size()) + "B";
  if (!e.buffer.empty()) {
    std::string_view text(reinterpret_cast<const char*>(e.buffer.data()), e.buffer.size());
    rest += "  buf=" + (text.size() > 64 ? printable(text.substr(0, 64)) + "..." : printable(text));
  }
  if (!e.modsig.empty()) rest += "  modsig=" + std::to_string(e.modsig.size()) + "B";
  if (e.is_violation()) rest += "  [violation]";
  std::printf("%6llu %10s %3u  %-10s %s %s %s\n", static_cast<unsigned long long>(e.index),
              position(f, e.line, e.offset).c_str(), e.pcr, std::string(e.template_name).c_str(),
              to_hex(e.template_hash).c_str(), digest.c_str(), rest.c_str());
}

int show(const ShowArgs& a) {
  std::optional<HashAlg> hash_alg;
  auto parse = parse_options(a.list, &hash_alg);
  if (!parse) {
    print_error(parse.error().message());
    return kExitError;
  }
  ima::ParseOptions opts = *parse;
  if (hash_alg && opts.hash_size == 0) opts.hash_size = crypto::digest_size(*hash_alg);
  auto file = FileContents::open(a.list.path);
  if (!file) {
    print_error(file.error().message());
    return kExitError;
  }
  auto format = ima::detect(file->bytes(), opts);
  if (!format) {
    print_error(a.list.path + ": " + format.error().message());
    return kExitError;
  }
  opts.format = format->format;
  opts.hash_size = format->hash_size;

  const size_t limit = a.limit == 0 ? std::numeric_limits<size_t>::max() : a.limit;
  Json entries = Json::array();
  size_t shown = 0;
  if (!a.list.json) {
    std::cout << a.list.path << ": " << ima::format_name(format->format) << " IMA list, "
              << format->hash_size << "-byte template hashes\n";
    std::printf("%6s %10s %3s  %-10s %s\n", "#",
                format->format == ima::Format::kAscii ? "LINE" : "OFFSET", "PCR", "TEMPLATE",
                "TEMPLATE-HASH FILE-DIGEST PATH");
    std::fflush(stdout);
  }
  Status st = ima::for_each_entry(file->bytes(), opts, [&](const ima::Entry& e) {
    if (a.list.json) {
      entries.push_back(entry_json(e, format->format));
    } else {
      entry_text(e, format->format);
    }
    return ++shown < limit;
  });
  if (a.list.json) {
    Json out;
    out["format"] = ima::format_name(format->format);
    out["template_hash_size"] = format->hash_size;
    out["shown"] = shown;
    out["entries"] = std::move(entries);
    if (!st) out["error"] = st.error().message();
    std::cout << out.dump(1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::fflush(stdout);
  }
  if (!st) {
    print_error(a.list.path + ": " + st.error().message());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

void add_ima_commands(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "ima", "Read Linux IMA runtime measurement lists (ascii or binary), offline");
  cmd->require_subcommand(1);

  static VerifyArgs verify_args;
  auto* verify_cmd = cmd->add_subcommand(
      "verify",
      "Recompute every entry's template hash and replay the list into PCR 10 (sha1 bank and the "
      "list's own bank by default); exit 1 on a template hash mismatch or a --pcr10 mismatch");
  add_list_options(verify_cmd, verify_args.list);
  verify_cmd
      ->add_option("--pcr10", verify_args.pcr10,
                   "Expected PCR 10 value, [bank:][0x]hex (the bank is taken from the "
                   "digest size when omitted); repeatable. On a mismatch, says whether a "
                   "prefix of the list matches (the PCR was read before the list)")
      ->allow_extra_args(false);
  verify_cmd
      ->add_option("--bank", verify_args.banks,
                   "Also replay this bank (repeatable: --bank sha256 --bank sha384)")
      ->allow_extra_args(false);
  verify_cmd->add_flag("--padded-sha1-banks", verify_args.padded_sha1_banks,
                       "Replay the banks other than sha1 as kernels before 5.8 extended them: with "
                       "the SHA-1 template hash zero-padded (needs a sha1 list)");
  verify_cmd
      ->add_option("--max-errors", verify_args.max_errors,
                   "List at most this many template hash errors (all are counted)")
      ->capture_default_str();
  verify_cmd->callback([exit_code] { *exit_code = verify(verify_args); });

  static ShowArgs show_args;
  auto* show_cmd = cmd->add_subcommand(
      "show", "List the entries: PCR, template, template hash, file digest, path, signature");
  add_list_options(show_cmd, show_args.list);
  show_cmd->add_option("--limit", show_args.limit, "Show at most this many entries (0: all)")
      ->capture_default_str();
  show_cmd->callback([exit_code] { *exit_code = show(show_args); });
}

}  // namespace ironroot::cli
