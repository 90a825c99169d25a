// ironroot ear: EAT Attestation Results (draft-ietf-rats-ear), the claims model.
//
// An EAR is an EAT (RFC 9711) whose claims say what a verifier concluded: per attester
// ("submod") a status and an AR4SI trustworthiness vector (draft-ietf-rats-ar4si §2.3), with the
// verifier's identity, the issue time and the nonce that made the evidence fresh. ironroot's own
// claims (the reasons behind a verdict) live under the private prefix "ear.ironroot.".
//
//   Ear ear;
//   ear.iat = now;
//   ear.verifier_id = {.developer = "ironroot", .build = "0.1.0"};
//   Appraisal& a = ear.submods["host-1"];
//   a.vector.set(Claim::kExecutables, codes::kUnrecognizedRuntime);   // 33: warning
//   a.status = a.vector.worst_tier();                                 // Tier::kWarning
//   std::string json = ear_to_json(ear).dump();
//
// Signing and verifying the EAR as a JWT: see ear/jwt.h.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ironroot::ear {

// The EAT profile of EAR (draft-ietf-rats-ear §3, as Veraison emits it).
inline constexpr std::string_view kEarProfile = "tag:github.com,2023:veraison/ear";
// ironroot's private claims, inside each submod.
inline constexpr std::string_view kReasonsClaim = "ear.ironroot.reasons";

// AR4SI trust tiers, ordered from least to most severe (the "worst" tier wins).
enum class Tier : uint8_t { kNone = 0, kAffirming = 1, kWarning = 2, kContraindicated = 3 };

std::string_view tier_name(Tier tier);  // "none", "affirming", "warning", "contraindicated"
std::optional<Tier> tier_from_name(std::string_view name);

// The tier of one AR4SI code (draft-ietf-rats-ar4si §2.3.2): -1..1 none, 2..31 affirming,
// 32..95 warning, 96..127 contraindicated; negative codes (private use) mirror the positive tiers
// (-2..-32 affirming, -33..-96 warning, -97..-128 contraindicated).
Tier tier_of(int8_t code);

// The eight trustworthiness claims, in the draft's order.
enum class Claim : uint8_t {
  kInstanceIdentity,
  kConfiguration,
  kExecutables,
  kFileSystem,
  kHardware,
  kRuntimeOpaque,
  kStorageOpaque,
  kSourcedData,
};
inline constexpr size_t kNumClaims = 8;
std::string_view claim_name(Claim claim);  // "instance-identity", ...
std::optional<Claim> claim_from_name(std::string_view name);

// Standard AR4SI code points (draft-ietf-rats-ar4si §2.3.4, the same numbers as veraison/ear).
namespace codes {
// Any claim.
inline constexpr int8_t kVerifierMalfunction = -1;
inline constexpr int8_t kNoClaim = 0;
inline constexpr int8_t kUnexpectedEvidence = 1;
inline constexpr int8_t kCryptoValidationFailed = 99;
// instance-identity
inline constexpr int8_t kTrustworthyInstance = 2;
inline constexpr int8_t kUntrustworthyInstance = 96;
inline constexpr int8_t kUnrecognizedInstance = 97;
// configuration
inline constexpr int8_t kApprovedConfig = 2;
inline constexpr int8_t kNoConfigVulns = 3;
inline constexpr int8_t kUnsafeConfig = 32;
inline constexpr int8_t kUnsupportableConfig = 96;
// executables
inline constexpr int8_t kApprovedRuntime = 2;
inline constexpr int8_t kApprovedBoot = 3;
inline constexpr int8_t kUnsafeRuntime = 32;
inline constexpr int8_t kUnrecognizedRuntime = 33;
inline constexpr int8_t kContraindicatedRuntime = 96;
// file-system
inline constexpr int8_t kApprovedFiles = 2;
inline constexpr int8_t kUnrecognizedFiles = 32;
inline constexpr int8_t kContraindicatedFiles = 96;
// hardware
inline constexpr int8_t kGenuineHardware = 2;
inline constexpr int8_t kUnsafeHardware = 32;
inline constexpr int8_t kContraindicatedHardware = 96;
inline constexpr int8_t kUnrecognizedHardware = 97;
// runtime-opaque
inline constexpr int8_t kEncryptedMemory = 2;
inline constexpr int8_t kIsolatedMemory = 32;
inline constexpr int8_t kVisibleMemory = 96;
// storage-opaque
inline constexpr int8_t kHwKeysEncryptedSecrets = 2;
inline constexpr int8_t kSwKeysEncryptedSecrets = 32;
inline constexpr int8_t kUnencryptedSecrets = 96;
// sourced-data
inline constexpr int8_t kTrustedSources = 2;
inline constexpr int8_t kUntrustedSources = 32;
inline constexpr int8_t kContraindicatedSources = 96;
}  // namespace codes

// One trustworthiness vector; an absent claim means "no claim" and is not serialised.
class TrustVector {
 public:
  void set(Claim claim, int8_t code) { codes_[static_cast<size_t>(claim)] = code; }
  void set_all(int8_t code) { codes_.fill(code); }
  std::optional<int8_t> get(Claim claim) const { return codes_[static_cast<size_t>(claim)]; }
  // The most severe tier among the claims present; kNone when there are none.
  Tier worst_tier() const;
  bool operator==(const TrustVector&) const = default;

 private:
  std::array<std::optional<int8_t>, kNumClaims> codes_{};
};

// One attester's appraisal: a submod of the EAR.
struct Appraisal {
  Tier status = Tier::kNone;
  TrustVector vector;
  std::optional<std::string> policy_id;  // ear.appraisal-policy-id
  std::vector<std::string> reasons;      // ear.ironroot.reasons
  // Every other claim of the submod (ear.veraison.annotated-evidence, ...), kept as read.
  nlohmann::json other = nlohmann::json::object();

  // The status the vector implies: its worst tier.
  Tier derived_status() const { return vector.worst_tier(); }
  bool operator==(const Appraisal&) const = default;
};

struct VerifierId {
  std::string developer;
  std::string build;
  bool operator==(const VerifierId&) const = default;
};

// The whole result.
struct Ear {
  std::string profile{kEarProfile};
  int64_t iat = 0;             // seconds since the epoch
  std::optional<int64_t> exp;  // optional expiry, seconds since the epoch
  VerifierId verifier_id;      // ear.verifier-id
  std::vector<uint8_t> nonce;  // eat_nonce (base64url in JSON); empty = absent
  std::map<std::string, Appraisal> submods;
  nlohmann::json other = nlohmann::json::object();  // unknown top-level claims, kept as read

  // The worst status over all submods (kNone without submods).
  Tier overall_status() const;
  bool operator==(const Ear&) const = default;
};

// JSON (the JWT payload). Encoding is deterministic: keys sorted.
nlohmann::json appraisal_to_json(const Appraisal& appraisal);
nlohmann::json ear_to_json(const Ear& ear);

// Strict decoding: wrong types, unknown trustworthiness claims, codes outside -128..127, a wrong
// eat_profile or a missing iat/submods are errors naming the claim (and submod).
Result<Appraisal> appraisal_from_json(const nlohmann::json& j);
// A bare submods map, {"<attester>": {<appraisal>}, ...} (Veraison's results files).
Result<std::map<std::string, Appraisal>> submods_from_json(const nlohmann::json& j);
Result<Ear> ear_from_json(const nlohmann::json& j);

// Parses JSON text strictly: no duplicate object keys (a second "ear.status" could otherwise
// override the first unnoticed), nesting at most 64 deep; errors give the byte offset.
Result<nlohmann::json> parse_json_strict(std::string_view text);

// base64url without padding (RFC 7515 §2); decoding refuses padding, other characters and
// non-canonical trailing bits, so each token has exactly one spelling.
std::string base64url_encode(const uint8_t* data, size_t size);
inline std::string base64url_encode(std::string_view s) {
  return base64url_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
Result<std::vector<uint8_t>> base64url_decode(std::string_view text);

}  // namespace ironroot::ear
