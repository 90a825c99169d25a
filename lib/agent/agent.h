// ironroot agent: the attester on each host. It proves its TPM to the verifier once (EK
// certificate, credential activation, a client certificate for mutual TLS), then answers each
// challenge with a quote over the verifier's nonce, the firmware event log and the IMA entries
// the verifier has not seen yet.
//
//   AgentOptions o; o.verifier_url = "https://verifier:8443"; o.verifier_ca_file = "ca.pem";
//   IRONROOT_ASSIGN_OR_RETURN(auto agent, Agent::create(o));
//   agent->run(stop_flag);   // enrols if needed, then attests every interval, and at once
//                            // when it sees a PCR change or new IMA entries
//
// It needs the TPM (or /dev/tpmrm0 access through the tss group) and read access to securityfs,
// nothing else; it never holds a verifier secret.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::agent {

struct AgentOptions {
  std::string verifier_url;      // https://host:port
  std::string verifier_ca_file;  // PEM of the verifier's CA
  std::string state_dir;         // the agent's TLS key and certificate
  std::string host_id;           // default: the host name
  std::string tcti = "device:/dev/tpmrm0";
  std::string eventlog_path = "/sys/kernel/security/tpm0/binary_bios_measurements";
  std::string ima_path = "/sys/kernel/security/ima/ascii_runtime_measurements";
  bool tpm_startup = false;  // send TPM2_Startup first (simulators)
  // Between rounds, look this often for a PCR change or IMA growth and attest at once when
  // there is one (push), instead of waiting for the next interval. 0: poll only.
  int watch_ms = 100;
  // Where to read the platform posture (CPU, SMBIOS, management engines, ...) it sends with
  // each attestation: "/" on a real host, a captured tree in tests. Empty: none.
  std::string posture_root = "/";
  // Record the flows the host OS knows of (conntrack events, sock_diag snapshots) and send them
  // with each attestation, with this host's clock offset to the verifier, for the network
  // sensor's reconciliation. Needs CAP_NET_ADMIN for conntrack.
  bool host_flows = false;
};

struct AttestResult {
  std::string state;
  std::vector<std::string> reasons;
  int interval_ms = 2000;
  uint64_t log_index = 0;  // where the verifier's audit log recorded this attestation
};

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> create(const AgentOptions& options);
  virtual ~Agent() = default;
  // Enrols unless the state directory already holds a certificate for this host.
  virtual Status enroll() = 0;
  // One challenge-quote-evidence round.
  virtual Result<AttestResult> attest_once() = 0;
  // Enrol, then attest every interval until `stop` becomes true. Errors are logged and retried
  // with backoff; returns only when stopped.
  virtual void run(const std::atomic<bool>& stop) = 0;
};

}  // namespace ironroot::agent
