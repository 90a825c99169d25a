#include "policy/ima_appraiser.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "core/text.h"

namespace ironroot::policy {

namespace ima = evidence::ima;

namespace {

std::string digest_text(std::string_view algo, Bytes digest) {
  std::string out;
  if (!algo.empty()) {
    out.assign(algo);
  } else if (auto alg = crypto::sha_alg_for_size(digest.size())) {
    out.assign(crypto::hash_alg_name(*alg));
  }
  if (!out.empty()) out += ':';
  append_hex(out, digest);
  return out;
}

Result<crypto::Digest> digest_from_hex(crypto::HashAlg alg, std::string_view hex,
                                       const std::string& where) {
  crypto::Digest d;
  d.alg = alg;
  d.size = static_cast<uint8_t>(crypto::digest_size(alg));
  if (hex.size() != 2 * size_t{d.size} || !decode_hex(hex, d.bytes.data(), d.size)) {
    return malformed(where + ": expected " + std::to_string(d.size) + " bytes of hex");
  }
  return d;
}

template <typename T>
Result<T> get_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return malformed(where + ": no \"" + key + "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return malformed(where + "." + key + ": wrong type");
  }
}

}  // namespace

nlohmann::json ImaFailure::to_json() const {
  nlohmann::json j = {{"index", index}, {"pcr", pcr},       {"template", template_name},
                      {"path", path},   {"digest", digest}, {"reason", reason}};
  if (line) j["line"] = line;
  if (!allowed.empty()) j["allowed"] = allowed;
  return j;
}

Result<ImaFailure> ImaFailure::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return malformed("failure: expected an object");
  ImaFailure f;
  IRONROOT_ASSIGN_OR_RETURN(f.index, get_field<uint64_t>(j, "index", "failure"));
  IRONROOT_ASSIGN_OR_RETURN(f.pcr, get_field<uint32_t>(j, "pcr", "failure"));
  IRONROOT_ASSIGN_OR_RETURN(f.template_name, get_field<std::string>(j, "template", "failure"));
  IRONROOT_ASSIGN_OR_RETURN(f.path, get_field<std::string>(j, "path", "failure"));
  IRONROOT_ASSIGN_OR_RETURN(f.digest, get_field<std::string>(j, "digest", "failure"));
  IRONROOT_ASSIGN_OR_RETURN(f.reason, get_field<std::string>(j, "reason", "failure"));
  if (j.contains("line")) {
    IRONROOT_ASSIGN_OR_RETURN(f.line, get_field<uint64_t>(j, "line", "failure"));
  }
  if (j.contains("allowed")) {
    IRONROOT_ASSIGN_OR_RETURN(f.allowed,
                              get_field<std::vector<std::string>>(j, "allowed", "failure"));
  }
  return f;
}

nlohmann::json ImaAppraisalState::to_json() const {
  nlohmann::json pcrs = nlohmann::json::object();
  for (const auto& d : pcr10) pcrs[std::string(crypto::hash_alg_name(d.alg))] = d.hex();
  nlohmann::json fs = nlohmann::json::array();
  for (const auto& f : failures) fs.push_back(f.to_json());
  return {{"entries", entries},   {"failure_count", failure_count},
          {"excluded", excluded}, {"violations", violations},
          {"pcr10", pcrs},        {"policy_sha256", policy_sha256},
          {"failures", fs}};
}

Result<ImaAppraisalState> ImaAppraisalState::from_json(const nlohmann::json& j) {
  const std::string w = "IMA appraisal state";
  if (!j.is_object()) return malformed(w + ": expected an object");
  ImaAppraisalState s;
  IRONROOT_ASSIGN_OR_RETURN(s.entries, get_field<uint64_t>(j, "entries", w));
  IRONROOT_ASSIGN_OR_RETURN(s.failure_count, get_field<uint64_t>(j, "failure_count", w));
  IRONROOT_ASSIGN_OR_RETURN(s.excluded, get_field<uint64_t>(j, "excluded", w));
  IRONROOT_ASSIGN_OR_RETURN(s.violations, get_field<uint64_t>(j, "violations", w));
  IRONROOT_ASSIGN_OR_RETURN(s.policy_sha256, get_field<std::string>(j, "policy_sha256", w));
  auto pcrs = j.find("pcr10");
  if (pcrs == j.end() || !pcrs->is_object()) return malformed(w + ".pcr10: expected an object");
  for (const auto& [name, value] : pcrs->items()) {
    auto alg = crypto::hash_alg_from_name(name);
    if (!alg) return malformed(w + ".pcr10: unknown bank \"" + printable(name) + "\"");
    if (!value.is_string()) return malformed(w + ".pcr10." + name + ": expected hex");
    IRONROOT_ASSIGN_OR_RETURN(
        crypto::Digest d, digest_from_hex(*alg, value.get<std::string>(), w + ".pcr10." + name));
    s.pcr10.push_back(d);
  }
  auto fs = j.find("failures");
  if (fs == j.end() || !fs->is_array()) return malformed(w + ".failures: expected an array");
  for (const auto& f : *fs) {
    auto r = ImaFailure::from_json(f);
    if (!r) return std::move(r).error().with_context(w);
    s.failures.push_back(std::move(r).value());
  }
  return s;
}

std::string ImaAppraisalState::serialize() const {
  return to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ImaAppraisalState> ImaAppraisalState::deserialize(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return malformed("IMA appraisal state: not JSON");
  return from_json(j);
}

const crypto::Digest* ImaAppraisalState::pcr10_for(crypto::HashAlg bank) const {
  for (const auto& d : pcr10) {
    if (d.alg == bank) return &d;
  }
  return nullptr;
}

nlohmann::json ImaAppraisalResult::to_json() const {
  nlohmann::json fs = nlohmann::json::array();
  for (const auto& f : failures) fs.push_back(f.to_json());
  nlohmann::json j = {
      {"ok", ok()},         {"first_index", first_index},     {"appraised", appraised},
      {"skipped", skipped}, {"failure_count", failure_count}, {"excluded", excluded},
      {"ignored", ignored}, {"violations", violations},       {"failures", fs}};
  if (pcr10_matched_after) j["pcr10_matched_after"] = *pcr10_matched_after;
  return j;
}

ImaAppraiser::ImaAppraiser(RuntimePolicyPtr policy, ImaAppraisalOptions options,
                           ImaAppraisalState state)
    : policy_(std::move(policy)), options_(std::move(options)), state_(std::move(state)) {}

Result<ImaAppraisalResult> ImaAppraiser::appraise(Bytes list, uint64_t first_index) {
  if (!state_.policy_sha256.empty() && state_.policy_sha256 != policy_->source_sha256()) {
    return Error(ErrorCode::kInvalidArgument,
                 "IMA appraisal state was built against policy " + state_.policy_sha256 + ", not " +
                     policy_->source_sha256() +
                     ": start a new state and appraise the list from entry 0");
  }
  if (first_index > state_.entries) {
    return invalid_argument("IMA list delta starts at entry " + std::to_string(first_index) +
                            " but only " + std::to_string(state_.entries) +
                            " entries were appraised: entries are missing");
  }
  // Work on a copy: an Error leaves the stored state untouched.
  ImaAppraisalState next = state_;
  next.policy_sha256 = policy_->source_sha256();
  if (next.entries == 0 && next.pcr10.empty()) {
    for (auto bank : options_.banks) next.pcr10.push_back(crypto::Digest::zero(bank));
  }
  std::vector<crypto::Hasher> hashers;
  for (const auto& d : next.pcr10) {
    hashers.emplace_back(d.alg);
    if (!hashers.back().available()) {
      return Error(ErrorCode::kUnsupported, std::string("OpenSSL does not provide ") +
                                                std::string(crypto::hash_alg_name(d.alg)));
    }
  }
  ImaAppraisalResult result;
  result.first_index = state_.entries;
  const crypto::Digest* expected = options_.expected_pcr10 ? &*options_.expected_pcr10 : nullptr;
  crypto::Digest* expected_bank = nullptr;
  for (auto& d : next.pcr10) {
    if (expected && d.alg == expected->alg) expected_bank = &d;
  }
  if (expected_bank && *expected_bank == *expected) result.pcr10_matched_after = next.entries;
  if (expected && !expected_bank) {
    return invalid_argument("expected PCR 10 in bank " +
                            std::string(crypto::hash_alg_name(expected->alg)) +
                            ", which the appraiser does not replay");
  }

  std::optional<crypto::Hasher> template_hasher;
  crypto::Digest computed;
  std::optional<Error> error;
  const RuntimePolicy& policy = *policy_;

  // An entry's policy lookup runs one entry late: its table slot is prefetched first, and the
  // miss overlaps with reading the next entry. `Pending` keeps what a failure message needs.
  struct Pending {
    bool active = false;
    bool buffer = false;
    uint64_t index = 0, line = 0;
    uint32_t pcr = 0;
    std::string template_name, path, digest_algo;
    std::vector<uint8_t> digest;
  } pending;

  auto fail_fields = [&](uint64_t index, uint64_t line, uint32_t pcr,
                         std::string_view template_name, std::string_view path,
                         std::string_view digest_algo, Bytes digest, std::string reason,
                         DigestTable table, bool with_allowed) {
    ++result.failure_count;
    ++next.failure_count;
    if (result.failures.size() >= options_.max_kept_failures &&
        next.failures.size() >= options_.max_kept_failures) {
      return;
    }
    ImaFailure f;
    f.index = index;
    f.line = line;
    f.pcr = pcr;
    f.template_name = printable(template_name);
    f.path = printable(path);
    f.digest = digest_text(digest_algo, digest);
    f.reason = std::move(reason);
    if (with_allowed) f.allowed = policy.allowed_hex(table, path);
    if (result.failures.size() < options_.max_kept_failures) result.failures.push_back(f);
    if (next.failures.size() < options_.max_kept_failures) next.failures.push_back(std::move(f));
  };
  auto fail = [&](const ima::Entry& e, uint64_t index, std::string reason, DigestTable table,
                  bool with_allowed) {
    fail_fields(index, e.line, e.pcr, e.template_name, e.path, e.digest_algo, e.digest,
                std::move(reason), table, with_allowed);
  };
  auto check_pending = [&] {
    if (!pending.active) return;
    pending.active = false;
    RuntimeVerdict v;
    DigestTable table = DigestTable::kFiles;
    if (pending.buffer) {
      v = policy.check_buffer(pending.path, pending.digest);
      if (is_failure(v)) {
        table = policy.allowed_hex(DigestTable::kKeyrings, pending.path, 1).empty()
                    ? DigestTable::kImaBuf
                    : DigestTable::kKeyrings;
      }
    } else {
      v = policy.check_file(pending.path, pending.digest);
    }
    switch (v) {
      case RuntimeVerdict::kAllowed: break;
      case RuntimeVerdict::kExcluded:
        ++result.excluded;
        ++next.excluded;
        break;
      case RuntimeVerdict::kIgnored: ++result.ignored; break;
      case RuntimeVerdict::kUnknownPath:
      case RuntimeVerdict::kDigestNotAllowed:
        fail_fields(pending.index, pending.line, pending.pcr, pending.template_name, pending.path,
                    pending.digest_algo, pending.digest, runtime_verdict_name(v), table,
                    v == RuntimeVerdict::kDigestNotAllowed);
        break;
    }
  };

  Status walk = ima::for_each_entry(list, options_.parse, [&](const ima::Entry& e) {
    const uint64_t index = first_index + e.index;
    if (index < next.entries) {
      ++result.skipped;
      return true;
    }
    policy.prefetch(e.path);
    check_pending();  // the previous entry, before this one can add failures
    ++result.appraised;
    ++next.entries;
    const bool violation = e.is_violation();
    // PCR 10 aggregate, every bank.
    if (!hashers.empty()) {
      for (size_t b = 0; b < hashers.size(); ++b) {
        crypto::Hasher& h = hashers[b];
        crypto::Digest& pcr = next.pcr10[b];
        if (violation) {
          uint8_t ff[crypto::kMaxDigestSize];
          std::fill(ff, ff + h.size(), 0xff);
          h.extend(pcr, Bytes(ff, h.size()));
        } else if (e.template_hash.size() == h.size() &&
                   crypto::sha_alg_for_size(h.size()) == h.alg()) {
          h.extend(pcr, e.template_hash);  // the list's own bank: what the TPM received
        } else if (e.data_known) {
          crypto::Digest td = h.digest(e.template_data);
          h.extend(pcr, td.view());
        } else {
          error =
              Error(ErrorCode::kUnsupported,
                    "entry " + std::to_string(index) + " (template " + printable(e.template_name) +
                        "): cannot replay bank " + std::string(crypto::hash_alg_name(h.alg())) +
                        " without its template data");
          return false;
        }
      }
      if (expected_bank && !result.pcr10_matched_after && *expected_bank == *expected) {
        result.pcr10_matched_after = next.entries;
      }
    }
    if (e.pcr != ima::kImaPcr) {
      fail(e, index, "measured into PCR " + std::to_string(e.pcr) + ", not 10", DigestTable::kFiles,
           false);
      return true;
    }
    if (violation) {
      ++result.violations;
      ++next.violations;
      if (options_.fail_on_violations) {
        fail(e, index, "violation (ToMToU or open writers)", DigestTable::kFiles, false);
      }
      return true;
    }
    if (options_.verify_template_hashes && e.data_known) {
      auto alg = crypto::sha_alg_for_size(e.template_hash.size());
      if (alg) {
        if (!template_hasher || template_hasher->alg() != *alg) template_hasher.emplace(*alg);
        computed = template_hasher->digest(e.template_data);
        if (!crypto::equal_ct(computed.view(), e.template_hash)) {
          fail(e, index, "template hash does not match the template data (entry edited)",
               DigestTable::kFiles, false);
          return true;
        }
      }
    }
    if (e.digest.empty()) {
      fail(e, index,
           "the entry carries no file digest (template " + printable(e.template_name) + ")",
           DigestTable::kFiles, false);
      return true;
    }
    pending.active = true;
    pending.buffer = e.kind == ima::Template::kImaBuf || !e.buffer.empty();
    pending.index = index;
    pending.line = e.line;
    pending.pcr = e.pcr;
    pending.template_name.assign(e.template_name);
    pending.path.assign(e.path);
    pending.digest_algo.assign(e.digest_algo);
    pending.digest.assign(e.digest.begin(), e.digest.end());
    return true;
  });
  if (walk) check_pending();
  if (error) return *std::move(error);
  if (!walk) return std::move(walk).error();
  state_ = std::move(next);
  return result;
}

Result<ImaAppraisalResult> appraise_ima_list(const RuntimePolicyPtr& policy, Bytes list,
                                             const ImaAppraisalOptions& options) {
  ImaAppraiser appraiser(policy, options);
  return appraiser.appraise(list, 0);
}

}  // namespace ironroot::policy
