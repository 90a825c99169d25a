// ironroot sensor: host-side flow accounting, the second view the wire is compared with.
//
// HostFlowRecorder runs inside the host (the agent or `ironroot sensor host-flows`): it follows
// conntrack events over netlink (libnetfilter_conntrack) and takes sock_diag snapshots of
// listeners and connections, and it notes gaps (the netlink socket overflowed, a source failed).
// Its output is a HostFlowLog; as JSON lines, one object per record:
//
//   {"type":"start","host":"h1","ts_ns":...,"clock_offset_ns":0,"sources":["conntrack","sock_diag"]}
//   {"type":"flow","ts_ns":...,"source":"conntrack","event":"new","proto":6,"src":"10.0.0.2",
//    "dst":"10.0.0.1","sport":40000,"dport":443,"community_id":"1:..."}
//   (a translated connection adds "nat":{"src":..,"dst":..,"sport":..,"dport":..,
//    "community_id":..}: the tuple after NAT, as it appears on the wire)
//   {"type":"gap","start_ns":...,"end_ns":...,"reason":"conntrack: netlink overrun (ENOBUFS)"}
//   {"type":"gap",...,"reason":"conntrack unavailable: Operation not permitted (needs ...)"}
//
// When conntrack cannot be opened or read (no CAP_NET_ADMIN, no nf_conntrack) but sock_diag
// works, the recorder keeps going on sock_diag and sends, in place of each heartbeat, a gap
// record continuing the previous one: the whole outage is covered, and readers merge the pieces.
//   {"type":"heartbeat","ts_ns":...}
//
//   auto rec = HostFlowRecorder::start({}, [](const HostFlowEvent& e) { send(e.json()); });
//   ...
//   HostFlowLog log = (*rec)->snapshot();  (*rec)->stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "sensor/packet.h"

namespace ironroot::sensor {

// One thing the host OS knows of: a connection (conntrack) or a socket (sock_diag).
struct HostFlowRecord {
  uint64_t ts_ns = 0;  // host clock, CLOCK_REALTIME
  std::string source;  // "conntrack" | "sock_diag"
  std::string event;   // conntrack: new|update|destroy|existing; sock_diag: listen|connected
  uint8_t proto = 0;
  IpAddr src;  // conntrack: original direction; sock_diag: the local end
  IpAddr dst;
  uint16_t sport = 0;
  uint16_t dport = 0;
  bool has_ports = true;
  std::string community_id;
  // conntrack only, when the host translates the connection (masquerade for containers, SNAT):
  // the tuple as it leaves the host, i.e. the reply tuple reversed, which is what the wire sees.
  bool nat = false;
  IpAddr nat_src;
  IpAddr nat_dst;
  uint16_t nat_sport = 0;  // ICMP: the type and code are not translated
  uint16_t nat_dport = 0;
  std::string nat_community_id;
};

// A stretch of time in which the host's accounting may have missed flows.
struct HostGap {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  std::string reason;
};

struct HostFlowLog {
  std::string host;
  int64_t clock_offset_ns = 0;    // add to host timestamps to get the reference clock
  uint64_t start_ns = 0;          // host clock: recording began
  uint64_t covered_until_ns = 0;  // host clock: last record or heartbeat
  std::vector<HostFlowRecord> records;
  std::vector<HostGap> gaps;
};

// One line of the JSON lines form, as the recorder produces it.
struct HostFlowEvent {
  enum class Type { kStart, kFlow, kGap, kHeartbeat } type = Type::kHeartbeat;
  uint64_t ts_ns = 0;
  HostFlowRecord record;  // kFlow
  HostGap gap;            // kGap
  std::string json(const HostFlowLog& context) const;
};

// Applies one JSON line to `log`; the error names the field that is wrong.
Status apply_host_flow_line(std::string_view line, HostFlowLog* log);
// Reads a whole JSON lines file; errors name the line.
Result<HostFlowLog> read_host_flow_log(const std::string& path);

// Follows a JSON lines file another process is still writing: each poll() applies the complete
// lines added since the last one.
class HostFlowLogTail {
 public:
  explicit HostFlowLogTail(std::string path) : path_(std::move(path)) {}
  Status poll(HostFlowLog* log);

 private:
  std::string path_;
  uint64_t offset_ = 0;
  uint64_t line_ = 0;
  std::string partial_;
};

struct HostFlowRecorderOptions {
  std::string host;                // name written in the start record
  bool conntrack = true;           // follow conntrack events (needs CAP_NET_ADMIN)
  bool sock_diag = true;           // periodic socket snapshots
  uint32_t snapshot_ms = 1000;     // sock_diag period
  uint32_t heartbeat_ms = 250;     // how often coverage is confirmed when nothing happens
  int64_t clock_offset_ns = 0;     // measured by the caller (agent <-> verifier), passed through
  int rcvbuf_bytes = 8 << 20;      // netlink receive buffer for conntrack events
  size_t max_records = 1'000'000;  // kept for snapshot(); older ones are dropped (noted as a gap)
};

// Thread safety: start() spawns one thread; snapshot() and stop() may be called from any thread.
// The sink is called on the recorder's thread, one event at a time.
class HostFlowRecorder {
 public:
  using Sink = std::function<void(const HostFlowEvent&)>;

  // Opens the sources and starts recording; fails if no source could be opened.
  static Result<std::unique_ptr<HostFlowRecorder>> start(HostFlowRecorderOptions options,
                                                         Sink sink = nullptr);
  ~HostFlowRecorder();
  HostFlowRecorder(const HostFlowRecorder&) = delete;
  HostFlowRecorder& operator=(const HostFlowRecorder&) = delete;

  // Stops the thread (idempotent).
  void stop();
  // Everything recorded so far, with gaps and coverage.
  HostFlowLog snapshot() const;
  // The context JSON lines are written against (host name and clock offset).
  const HostFlowLog& header() const { return header_; }

  // One sock_diag snapshot now (also used by tests): listeners and connected sockets.
  static Result<std::vector<HostFlowRecord>> sock_diag_snapshot(uint64_t ts_ns);

 private:
  explicit HostFlowRecorder(HostFlowRecorderOptions options, Sink sink);
  void run();
  void emit(HostFlowEvent e);
  // A gap record from where the last one ended to `now`, while conntrack is unavailable.
  void emit_conntrack_gap(uint64_t now);

  HostFlowRecorderOptions options_;
  Sink sink_;
  HostFlowLog header_;
  mutable std::mutex mu_;
  HostFlowLog log_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
  struct Conntrack;
  std::unique_ptr<Conntrack> ct_;
};

uint64_t realtime_ns();

}  // namespace ironroot::sensor
