// ironroot verifier: the long-running service. It enrols hosts (EK certificate chain, credential
// activation, a client certificate for mutual TLS), issues challenges, appraises evidence,
// keeps each host's admission state, and answers operators and relying parties under /v1.
// docs/api.md documents the API.
//
//   VerifierOptions o;  o.data_dir = "/var/lib/ironroot";
//   IRONROOT_ASSIGN_OR_RETURN(auto v, Verifier::start(o));
//   v->port();  ...  v->stop();
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::verifier {

struct VerifierOptions {
  std::string data_dir;  // SQLite database, the verifier's CA and keys, operator token
  std::string address = "127.0.0.1";
  uint16_t port = 8443;  // 0: any free port
  int threads = 2;
  int interval_ms = 2000;  // attestation interval the agents are told to keep
  int unreachable_after_intervals = 3;
  std::vector<std::string> ek_ca_paths;  // files or directories of TPM manufacturer CAs
  bool allow_ek_without_certificate = false;
  crypto::HashAlg bank = crypto::HashAlg::kSha256;
  uint32_t pcr_mask = 0x7ff;  // PCRs 0-10: boot chain and IMA
  std::vector<std::string> server_names = {"localhost"};
  std::vector<std::string> server_ips = {"127.0.0.1"};
  // Findings sinks and remediation (lib/findings/config.h). Empty: findings go to
  // <data_dir>/findings.jsonl, and nothing is remediated beyond denying admission.
  std::string findings_config;
  // The posture policy (docs/posture.md: deny|warn "name" when EXPR) every posture report is
  // judged by; a deny keeps the host untrusted. "default": ironroot's own
  // (data/posture/sovereignty.policy). Empty: not applied.
  std::string sovereignty_policy;
};

class Verifier {
 public:
  // Opens (or initialises) the data directory and starts serving HTTPS.
  static Result<std::unique_ptr<Verifier>> start(const VerifierOptions& options);
  virtual ~Verifier() = default;
  virtual uint16_t port() const = 0;
  // PEM of the CA that signs the verifier's server certificate and the agents' certificates.
  virtual std::string ca_pem() const = 0;
  // The bearer token operators and relying parties present.
  virtual std::string operator_token() const = 0;
  // The token of the "approver" principal made at first start (empty if it predates it).
  virtual std::string approver_token() const = 0;
  // The audit log's public key (signed-note verifier key), as auditors hold it.
  virtual std::string log_verifier_key() const = 0;
  virtual void stop() = 0;
};

// Files in a verifier data directory.
inline constexpr const char* kCaCertFile = "ca.pem";
inline constexpr const char* kOperatorTokenFile = "operator.token";
inline constexpr const char* kApproverTokenFile = "approver.token";
inline constexpr const char* kPrincipalsFile = "principals.json";
inline constexpr const char* kAuditKeyFile = "audit.pub";
inline constexpr const char* kResultKeysFile = "result-keys.jwks";

}  // namespace ironroot::verifier
