// ironroot log checkpoint | export | verify | consistency: the verifier's audit log, checked by
// anyone who holds its public key (the verifier's data-dir/audit.pub). Every check that matters
// runs here, on the auditor's side: the verifier only serves entries and proofs.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "audit/journal.h"
#include "audit/note.h"
#include "commands.h"
#include "connection.h"
#include "crypto/base64.h"
#include "output.h"

namespace ironroot::cli {
namespace {

using nlohmann::json;

struct LogOptions {
  OperatorConnection conn;
  std::string key;  // a verifier key, or a file holding one
  std::string checkpoint_file, entries_file, entry_file, proof_file, old_file, new_file, out_dir;
  int64_t index = -1;
  bool json_out = false;
};

Bytes bytes_of(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Result<audit::NoteVerifierKey> load_key(const LogOptions& o) {
  if (o.key.empty())
    return invalid_argument(
        "--key is required: the log's public key (the verifier's data-dir/audit.pub, or the "
        "key text)");
  std::string text = std::filesystem::exists(o.key) ? read_file(o.key) : o.key;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto key = audit::parse_verifier_key(text);
  if (!key) return std::move(key).error().with_context("--key");
  return key;
}

// A checkpoint from a file, or from the verifier when no file is given; opened with the key.
Result<std::pair<std::string, audit::Checkpoint>> load_checkpoint(const LogOptions& o,
                                                                  const audit::NoteVerifierKey& key,
                                                                  const std::string& file) {
  std::string note;
  if (!file.empty()) {
    note = read_file(file);
    if (note.empty()) return Error(ErrorCode::kNotFound, file + ": cannot read");
  } else {
    IRONROOT_ASSIGN_OR_RETURN(note, o.conn.call_text("GET", "/v1/log/checkpoint"));
  }
  auto cp = audit::open_checkpoint(note, key);
  if (!cp) return std::move(cp).error().with_context(file.empty() ? "checkpoint" : file);
  return std::make_pair(std::move(note), std::move(*cp));
}

// A proof given as a JSON list of base64 hashes, or as the verifier's answer holding "proof".
Result<audit::Proof> parse_proof(const json& j) {
  const json& list = j.is_object() && j.contains("proof") ? j["proof"] : j;
  if (!list.is_array()) return malformed("a proof is a list of base64 hashes");
  std::vector<std::string> b64;
  for (const auto& h : list) {
    if (!h.is_string()) return malformed("a proof is a list of base64 hashes");
    b64.push_back(h.get<std::string>());
  }
  return audit::decode_proof(b64);
}

Result<std::vector<std::string>> fetch_entries(const LogOptions& o, uint64_t size) {
  std::vector<std::string> entries;
  entries.reserve(size);
  for (uint64_t start = 0; start < size; start += 1000) {
    uint64_t end = std::min(size, start + 1000);
    IRONROOT_ASSIGN_OR_RETURN(json part,
                              o.conn.call("GET", "/v1/log/entries?start=" + std::to_string(start) +
                                                     "&end=" + std::to_string(end)));
    if (!part.contains("entries") || !part["entries"].is_array() ||
        part["entries"].size() != end - start)
      return malformed("the verifier sent a short or malformed list of entries");
    for (const auto& e : part["entries"]) entries.push_back(e.get<std::string>());
    if (size > 10000 && (end % 100000 == 0 || end == size))
      std::fprintf(stderr, "log: fetched %llu of %llu entries\n",
                   static_cast<unsigned long long>(end), static_cast<unsigned long long>(size));
  }
  return entries;
}

Result<std::vector<std::string>> read_jsonl(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error(ErrorCode::kNotFound, file + ": cannot read");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

void report(const LogOptions& o, bool ok, const json& result, const std::string& text,
            int* exit_code) {
  if (o.json_out) {
    json out = result;
    out["verified"] = ok;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << (ok ? "OK: " : "FAILED: ") << text << "\n";
  }
  *exit_code = ok ? kExitOk : kExitVerifyFailed;
}

void fail_with(const Error& e, int* exit_code) {
  print_error(e.message());
  *exit_code = kExitError;
}

void verify(const LogOptions& o, int* exit_code) {
  auto key = load_key(o);
  if (!key) return fail_with(key.error(), exit_code);
  auto cp = load_checkpoint(o, *key, o.checkpoint_file);
  if (!cp) return fail_with(cp.error(), exit_code);
  const auto& [note, checkpoint] = *cp;
  json result{{"origin", checkpoint.origin},
              {"size", checkpoint.size},
              {"root", crypto::base64_encode(checkpoint.root)}};
  if (o.index >= 0) {
    // One entry: is it in the log the checkpoint commits to?
    auto index = static_cast<uint64_t>(o.index);
    std::string entry;
    audit::Proof proof;
    if (!o.proof_file.empty()) {
      entry = read_file(o.entry_file);
      json pj = json::parse(read_file(o.proof_file), nullptr, false);
      if (pj.is_discarded()) return fail_with(malformed(o.proof_file + ": not JSON"), exit_code);
      if (pj.is_object() && pj.contains("entry") && o.entry_file.empty())
        entry = pj["entry"].get<std::string>();
      auto p = parse_proof(pj);
      if (!p) return fail_with(p.error().with_context(o.proof_file), exit_code);
      proof = std::move(*p);
    } else {
      auto pj = o.conn.call("GET", "/v1/log/inclusion?index=" + std::to_string(index) +
                                       "&size=" + std::to_string(checkpoint.size));
      if (!pj) return fail_with(pj.error(), exit_code);
      entry = o.entry_file.empty() ? pj->value("entry", "") : read_file(o.entry_file);
      auto p = parse_proof(*pj);
      if (!p) return fail_with(p.error(), exit_code);
      proof = std::move(*p);
    }
    if (entry.empty())
      return fail_with(invalid_argument("no entry to check (--entry FILE)"), exit_code);
    Status st = audit::verify_inclusion(audit::leaf_hash(bytes_of(entry)), index, checkpoint.size,
                                        proof, checkpoint.root);
    result["index"] = index;
    result["entry"] = entry;
    if (!st) result["error"] = st.error().message();
    report(o, static_cast<bool>(st), result,
           st ? "entry " + std::to_string(index) + " is in the log of " +
                    std::to_string(checkpoint.size) + " entries signed by " + key->name
              : "entry " + std::to_string(index) + ": " + st.error().message(),
           exit_code);
    return;
  }
  // The whole log: re-hash every entry against the signed root.
  auto entries =
      o.entries_file.empty() ? fetch_entries(o, checkpoint.size) : read_jsonl(o.entries_file);
  if (!entries) return fail_with(entries.error(), exit_code);
  Status st = audit::verify_entries_against_checkpoint(*entries, note, key->to_string());
  json kinds = json::object();
  for (uint64_t i = 0; i < checkpoint.size && i < entries->size(); ++i) {
    json e = json::parse((*entries)[i], nullptr, false);
    std::string k = e.is_object() ? e.value("kind", "?") : "?";
    kinds[k] = kinds.value(k, 0) + 1;
  }
  result["kinds"] = kinds;
  if (!st) result["error"] = st.error().message();
  report(
      o, static_cast<bool>(st), result,
      st ? std::to_string(checkpoint.size) + " entries re-hash to the root signed by " + key->name
         : st.error().message(),
      exit_code);
}

void consistency(const LogOptions& o, int* exit_code) {
  auto key = load_key(o);
  if (!key) return fail_with(key.error(), exit_code);
  if (o.old_file.empty())
    return fail_with(invalid_argument("--old FILE: the checkpoint you trusted before"), exit_code);
  auto old_cp = load_checkpoint(o, *key, o.old_file);
  if (!old_cp) return fail_with(old_cp.error(), exit_code);
  auto new_cp = load_checkpoint(o, *key, o.new_file);
  if (!new_cp) return fail_with(new_cp.error(), exit_code);
  const audit::Checkpoint& a = old_cp->second;
  const audit::Checkpoint& b = new_cp->second;
  audit::Proof proof;
  if (!o.proof_file.empty()) {
    json pj = json::parse(read_file(o.proof_file), nullptr, false);
    auto p = parse_proof(pj);
    if (!p) return fail_with(p.error().with_context(o.proof_file), exit_code);
    proof = std::move(*p);
  } else if (a.size != b.size && a.size != 0) {
    auto pj = o.conn.call("GET", "/v1/log/consistency?from=" + std::to_string(a.size) +
                                     "&to=" + std::to_string(b.size));
    if (!pj) return fail_with(pj.error(), exit_code);
    auto p = parse_proof(*pj);
    if (!p) return fail_with(p.error(), exit_code);
    proof = std::move(*p);
  }
  Status st =
      a.size == 0 ? Status{} : audit::verify_consistency(a.size, b.size, proof, a.root, b.root);
  json result{{"old_size", a.size}, {"new_size", b.size}};
  if (!st) result["error"] = st.error().message();
  report(o, static_cast<bool>(st), result,
         st ? "the log of " + std::to_string(a.size) + " entries is a prefix of the log of " +
                  std::to_string(b.size) + ": nothing was rewritten"
            : st.error().message(),
         exit_code);
}

void export_log(const LogOptions& o, int* exit_code) {
  auto key = load_key(o);
  if (!key) return fail_with(key.error(), exit_code);
  auto cp = load_checkpoint(o, *key, "");
  if (!cp) return fail_with(cp.error(), exit_code);
  auto entries = fetch_entries(o, cp->second.size);
  if (!entries) return fail_with(entries.error(), exit_code);
  std::filesystem::create_directories(o.out_dir);
  std::ofstream(o.out_dir + "/checkpoint") << cp->first;
  std::ofstream out(o.out_dir + "/entries.jsonl");
  for (const auto& e : *entries) out << e << "\n";
  std::cout << "exported " << entries->size() << " entries and their checkpoint to " << o.out_dir
            << "\nverify offline: ironroot log verify --key KEY --checkpoint " << o.out_dir
            << "/checkpoint --entries " << o.out_dir << "/entries.jsonl\n";
  *exit_code = kExitOk;
}

}  // namespace

void add_log_commands(CLI::App& app, int* exit_code) {
  static LogOptions o;
  auto* log = app.add_subcommand(
      "log",
      "The verifier's tamper-evident audit log (RFC 9162 Merkle tree, C2SP signed checkpoints), "
      "checked with its public key alone");
  log->require_subcommand(1);
  auto common = [](CLI::App* c, bool online) {
    c->add_option("--key", o.key, "The log's public key: a file (data-dir/audit.pub) or the text")
        ->required();
    c->add_flag("--json", o.json_out, "JSON output");
    if (online) o.conn.add_options(c);
  };

  auto* cp = log->add_subcommand("checkpoint", "Fetch the latest signed checkpoint and verify it");
  common(cp, true);
  cp->add_option("--out", o.out_dir, "Also save it to this file");
  cp->callback([exit_code] {
    auto key = load_key(o);
    if (!key) return fail_with(key.error(), exit_code);
    auto c = load_checkpoint(o, *key, "");
    if (!c) return fail_with(c.error(), exit_code);
    if (!o.out_dir.empty()) std::ofstream(o.out_dir) << c->first;
    report(o, true,
           json{{"origin", c->second.origin},
                {"size", c->second.size},
                {"root", crypto::base64_encode(c->second.root)},
                {"checkpoint", c->first}},
           "signed by " + key->name + ": " + std::to_string(c->second.size) + " entries, root " +
               crypto::base64_encode(c->second.root),
           exit_code);
  });

  auto* ex = log->add_subcommand("export", "Save every entry and the checkpoint for offline audit");
  common(ex, true);
  ex->add_option("--out", o.out_dir, "Directory to write entries.jsonl and checkpoint to")
      ->required();
  ex->callback([exit_code] { export_log(o, exit_code); });

  auto* v = log->add_subcommand(
      "verify",
      "Check the whole log against a signed checkpoint (offline: --checkpoint and --entries), or "
      "one entry's inclusion (--index N, with --entry and --proof offline)");
  common(v, true);
  v->add_option("--checkpoint", o.checkpoint_file, "A signed checkpoint (default: fetch it)");
  v->add_option("--entries", o.entries_file, "The log as JSON lines (from `log export`)");
  v->add_option("--index", o.index, "Check only the entry at this index");
  v->add_option("--entry", o.entry_file, "The entry's exact bytes (with --index)");
  v->add_option("--proof", o.proof_file, "An inclusion proof: a JSON list of base64 hashes");
  v->callback([exit_code] { verify(o, exit_code); });

  auto* c = log->add_subcommand(
      "consistency",
      "Check that a newer checkpoint extends an older one (no entry rewritten or dropped)");
  common(c, true);
  c->add_option("--old", o.old_file, "The checkpoint you held before")->required();
  c->add_option("--new", o.new_file, "The newer checkpoint (default: fetch the latest)");
  c->add_option("--proof", o.proof_file, "A consistency proof (default: fetch it)");
  c->callback([exit_code] { consistency(o, exit_code); });
}

}  // namespace ironroot::cli
