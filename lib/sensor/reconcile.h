// ironroot sensor: findings. Reconciliation compares the wire with the host's own accounting;
// a flow on an enrolled host's MAC / IP that the host OS never recorded is traffic from beneath
// it (a management engine, a BMC on a shared NIC) or from something hiding in it.
//
// Pure functions: (wire flows, host identities, host records, options) -> findings; no I/O.
//
//   HostFlowIndex index(log);
//   Judgement j = judge(flow, host, &index, wire_context, {});
//   if (j.verdict == Verdict::kUnaccounted) emit(j.finding);
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sensor/flow_table.h"
#include "sensor/host_flows.h"

namespace ironroot::sensor {

// An enrolled host as the wire sees it.
struct HostIdentity {
  std::string name;
  bool has_mac = false;
  MacAddr mac{};
  IpAddr ip;
};
// "NAME=MAC,IP", "MAC,IP", "MAC" or "IP".
Result<HostIdentity> parse_host_identity(const std::string& text);

// A finding, as the verifier turns it into an OCSF finding. `kind` values are stable.
struct Finding {
  std::string kind;
  int score = 0;  // 0..100
  std::string host;
  std::string message;
  std::vector<std::string> reasons;
  bool has_flow = false;
  Flow flow;
  std::string community_id;
  uint64_t ts_ns = 0;
  std::string json() const;
};

// What the sensor learned from the wire besides flows: who resolved which peer, and which DHCP
// client fingerprints each MAC showed.
struct WireContext {
  std::map<IpAddr, std::set<IpAddr>> resolved;  // client IP -> addresses in DNS answers to it
  std::map<MacAddr, std::set<std::string>> dhcp_fingerprints;
};

struct ReconcileOptions {
  uint64_t window_ns = 2'000'000'000;  // how far apart a host record and a wire flow may be
};

// The host's records, indexed for lookups by Community ID, in the reference (sensor) clock.
class HostFlowIndex {
 public:
  HostFlowIndex() = default;
  explicit HostFlowIndex(const HostFlowLog& log) { add(log); }
  void add(const HostFlowLog& log);  // may be called again with a grown log (re-indexes)

  bool empty() const { return !have_log_; }
  uint64_t start_ns() const { return start_ns_; }
  uint64_t covered_until_ns() const { return covered_until_ns_; }
  // True when a record with this Community ID lies within [from, to].
  bool has_record(const std::string& community_id, uint64_t from, uint64_t to) const;
  // True when the host had a listening socket on (proto, port) during [from, to].
  bool has_listener(uint8_t proto, uint16_t port, uint64_t from, uint64_t to) const;
  // The first gap that overlaps [from, to], or nullptr.
  const HostGap* gap_during(uint64_t from, uint64_t to) const;

 private:
  struct Span {
    uint64_t first = UINT64_MAX;
    uint64_t last = 0;
    bool open = false;  // a conntrack entry with no destroy yet: lasts to the end of coverage
  };
  uint64_t to_ref(uint64_t host_ns) const;
  bool have_log_ = false;
  int64_t offset_ = 0;
  uint64_t start_ns_ = 0;
  uint64_t covered_until_ns_ = 0;
  std::unordered_map<std::string, Span> flows_;
  std::map<std::pair<uint8_t, uint16_t>, Span> listeners_;
  std::vector<HostGap> gaps_;  // reference clock
};

enum class Verdict {
  kNotHost,      // neither end is an enrolled host, or the host sent nothing on it
  kPending,      // the host records do not reach far enough yet
  kAccounted,    // the host OS knows of it
  kUnaccounted,  // a finding
};

struct Judgement {
  Verdict verdict = Verdict::kNotHost;
  Finding finding;  // kUnaccounted only
};

Judgement judge(const Flow& flow, const HostIdentity& host, const HostFlowIndex& index,
                const WireContext& wire, const ReconcileOptions& options);

// Findings from the signatures alone (no host records needed): one per reportable bit in `bits`.
std::vector<Finding> signature_findings(const Flow& flow, uint32_t bits);

// A second DHCP client fingerprint on an enrolled host's MAC.
Finding second_dhcp_client_finding(const HostIdentity& host, const std::set<std::string>& prints,
                                   uint64_t ts_ns);

// The flow as a JSON object (the --json flow export, and the "flow" member of a finding).
std::string flow_json(const Flow& flow);

}  // namespace ironroot::sensor
