// ironroot store: the verifier's durable state behind a small interface, so that the embedded
// default (SQLite in a data directory) and a PostgreSQL back end for several verifier replicas
// can be swapped without touching the verifier.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto store, open_sqlite_store(data_dir + "/ironroot.db"));
//   store->put_host(record);
//   auto h = store->host("host-1");   // Result<std::optional<HostRecord>>
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::store {

enum class HostState { kEnrolling, kTrusted, kUntrusted, kUnreachable };
const char* host_state_name(HostState s);
std::optional<HostState> host_state_from_name(const std::string& name);

struct HostRecord {
  std::string id;
  HostState state = HostState::kEnrolling;
  std::vector<std::string> reasons;  // why it is in this state (PCRs, events, checks)
  // Identity, fixed at enrolment.
  std::vector<uint8_t> ek_certificate;  // DER; empty when the TPM had none and policy allowed it
  std::vector<uint8_t> ek_public;       // TPM2B_PUBLIC
  std::vector<uint8_t> ak_public;       // TPM2B_PUBLIC
  std::string ek_issuer;
  std::string tls_fingerprint;  // SHA-256 of the client certificate issued at enrolment
  // TPM clock as last quoted; a reset or restart means the host rebooted.
  bool have_clock = false;
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  // Incremental IMA appraisal: entries already appraised and PCR 10 after them (hex per bank).
  uint64_t ima_entries = 0;
  std::string ima_pcr10_json = "{}";
  // Last verified PCR values, {"sha256": {"0": "<hex>", ...}}.
  std::string pcrs_json = "{}";
  int64_t enrolled_at_ms = 0;
  int64_t last_attested_at_ms = 0;
  int64_t state_changed_at_ms = 0;
  uint64_t attestations = 0;
  // Remediation: admission is denied until new evidence passes (or an operator releases it).
  bool quarantined = false;
  std::string quarantine_reason;
  std::string ima_policy_state;  // the IMA runtime policy appraiser's resumable state
  std::string posture_json;      // the platform posture last reported
  std::string result_jwt;        // the last signed attestation result (EAR)
};

// A policy change proposed by one principal; it takes effect only when another approves it.
struct PolicyChange {
  std::string id;
  std::string kind;      // "references" | "ima-policy" | ...
  std::string document;  // the proposed document (JSON); empty when left out (see policy_changes)
  std::string author;
  int64_t created_at_ms = 0;
  std::string state;  // "pending" | "approved" | "rejected" | "superseded"
  std::string decided_by;
  int64_t decided_at_ms = 0;
  std::string comment;
  uint64_t document_bytes = 0;  // the document's size, also when it was left out
};

// A timestamped record of something that happened to a host (state change, reboot, enrolment).
struct HostEvent {
  int64_t id = 0;
  std::string host_id;
  int64_t at_ms = 0;
  std::string kind;
  std::string detail_json;
};

// Host-side flow lines (JSON, the sensor's --host-flows format) an agent reported, numbered per
// host in arrival order. Numbers only grow, also across restarts and when old lines are dropped.
struct HostFlowLines {
  uint64_t first_seq = 0;  // the oldest line still kept
  uint64_t next_seq = 0;   // where a reader continues: after the last line returned
  std::vector<std::string> lines;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status put_host(const HostRecord& host) = 0;
  virtual Result<std::optional<HostRecord>> host(const std::string& id) = 0;
  virtual Result<std::vector<HostRecord>> hosts() = 0;
  virtual Status delete_host(const std::string& id) = 0;

  virtual Status append_event(const HostEvent& event) = 0;
  virtual Result<std::vector<HostEvent>> events(const std::string& host_id, int limit) = 0;

  // Reference values (JSON documents) by name; "default" applies to every host.
  virtual Status put_reference(const std::string& name, const std::string& json,
                               const std::string& source) = 0;
  virtual Result<std::optional<std::string>> reference(const std::string& name) = 0;

  virtual Status put_policy_change(const PolicyChange& change) = 0;
  // One change by id, or (id empty) the latest `limit` changes, newest first.
  // Newest first; documents larger than `max_document_bytes` are left out (document empty,
  // document_bytes set), so that a listing does not read every large policy ever proposed.
  virtual Result<std::vector<PolicyChange>> policy_changes(
      const std::string& id, int limit, uint64_t max_document_bytes = UINT64_MAX) = 0;

  // Appends `lines` to the host's flow lines in one transaction and keeps the newest `keep`
  // (older ones are dropped). Returns the number the next line will get.
  virtual Result<uint64_t> append_host_flows(const std::string& host_id,
                                             const std::vector<std::string>& lines,
                                             uint64_t keep) = 0;
  // Lines numbered `since` on (from the oldest kept when `since` is older), stopping once
  // `max_bytes` of line text is reached (at least one line is returned when there is one).
  // nullopt when the host never reported any.
  virtual Result<std::optional<HostFlowLines>> host_flows(const std::string& host_id,
                                                          uint64_t since, size_t max_bytes) = 0;

  // The schema version in force (after migrations).
  virtual int schema_version() = 0;
};

// Opens (creating if needed) a SQLite database in WAL mode and migrates it to the current
// schema. Fails with the path and SQLite's message.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace ironroot::store
