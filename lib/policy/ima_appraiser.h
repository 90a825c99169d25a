// ironroot policy: incremental appraisal of an IMA measurement list against a runtime policy.
//
// Each attestation brings the entries the host measured since the last one. The appraiser
// appraises only those, and its whole memory is ImaAppraisalState: entries appraised so far,
// the running PCR 10 value per bank, the failures so far (the first few kept in full). The
// state is a small JSON value, so a verifier stores it with the host and resumes after a
// restart without re-appraising the list (Keylime keeps it in memory only: PR #676).
//
//   ImaAppraiser appraiser(policy, {}, stored_state);      // policy: RuntimePolicyPtr
//   IRONROOT_ASSIGN_OR_RETURN(ImaAppraisalResult r, appraiser.appraise(delta, first_index));
//   if (!r.ok()) ... r.failures name index, path, digest and why
//   store(appraiser.state().to_json());
//
// `list` may be the whole list (first_index 0) or the entries from `first_index` on (the
// agent's delta): entries before state().entries are skipped, a gap is an Error. appraise()
// either appraises every new entry and advances the state, or returns an Error and leaves the
// state as it was (a malformed delta never half-advances a host).
//
// Thread safety: one appraiser per host; the policy it holds is shared and immutable.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"
#include "evidence/ima/ima.h"
#include "policy/runtime_policy.h"

namespace ironroot::policy {

struct ImaFailure {
  uint64_t index = 0;  // 0-based position in the host's whole list
  uint64_t line = 0;   // ascii: line number within the data appraised in that call
  uint32_t pcr = 0;
  std::string template_name;
  std::string path;
  std::string digest;                // "sha256:<hex>" (the file or buffer digest in the entry)
  std::string reason;                // "path not in policy", "digest not allowed for path", ...
  std::vector<std::string> allowed;  // some digests the policy allows for this path

  nlohmann::json to_json() const;
  static Result<ImaFailure> from_json(const nlohmann::json& j);
};

struct ImaAppraisalState {
  uint64_t entries = 0;        // entries appraised: the next entry's index
  uint64_t failure_count = 0;  // every failure so far
  uint64_t excluded = 0;
  uint64_t violations = 0;
  std::vector<ImaFailure> failures;   // the first ImaAppraisalOptions::max_kept_failures
  std::vector<crypto::Digest> pcr10;  // running PCR 10 per replayed bank
  std::string policy_sha256;          // the policy these entries were appraised against

  // {"entries":N,"failure_count":..,"pcr10":{"sha1":"hex"},"policy_sha256":..,"failures":[..]}
  nlohmann::json to_json() const;
  static Result<ImaAppraisalState> from_json(const nlohmann::json& j);
  std::string serialize() const;  // to_json().dump()
  static Result<ImaAppraisalState> deserialize(std::string_view text);
  const crypto::Digest* pcr10_for(crypto::HashAlg bank) const;
};

struct ImaAppraisalOptions {
  evidence::ima::ParseOptions parse;
  // Banks whose PCR 10 aggregate the state carries (the list's own bank extends the template
  // hash as listed; others hash the template data). Empty: no replay.
  std::vector<crypto::HashAlg> banks = {crypto::HashAlg::kSha1};
  // Recompute each template hash (an edited entry is a failure, as in Keylime's ima_hash).
  bool verify_template_hashes = true;
  // Violations (ToMToU, open-writers) are counted; with this they are failures too.
  bool fail_on_violations = false;
  size_t max_kept_failures = 100;
  // When set, the result says after how many entries PCR 10 (that bank) first equalled it.
  std::optional<crypto::Digest> expected_pcr10;
};

struct ImaAppraisalResult {
  uint64_t first_index = 0;  // of the first entry appraised in this call
  uint64_t appraised = 0;    // new entries appraised in this call
  uint64_t skipped = 0;      // entries already appraised before (overlap)
  uint64_t failure_count = 0;
  uint64_t excluded = 0;
  uint64_t ignored = 0;
  uint64_t violations = 0;
  std::vector<ImaFailure> failures;  // this call's, at most max_kept_failures
  // With expected_pcr10: the total entries after which PCR 10 equalled it (checked against
  // the stored state first, then after each new entry).
  std::optional<uint64_t> pcr10_matched_after;

  bool ok() const { return failure_count == 0; }
  nlohmann::json to_json() const;
};

class ImaAppraiser {
 public:
  explicit ImaAppraiser(RuntimePolicyPtr policy, ImaAppraisalOptions options = {},
                        ImaAppraisalState state = {});

  Result<ImaAppraisalResult> appraise(Bytes list, uint64_t first_index = 0);

  const ImaAppraisalState& state() const { return state_; }
  const RuntimePolicy& policy() const { return *policy_; }

 private:
  RuntimePolicyPtr policy_;
  ImaAppraisalOptions options_;
  ImaAppraisalState state_;
};

// One-shot: appraise a whole list (the CLI's `policy check --ima`).
Result<ImaAppraisalResult> appraise_ima_list(const RuntimePolicyPtr& policy, Bytes list,
                                             const ImaAppraisalOptions& options = {});

}  // namespace ironroot::policy
