// ironroot sensor: the pipeline one capture thread runs. Frames in; flows and findings out.
//
//   Sensor s(options, [](const Flow& f) { out << flow_json(f); },
//                     [](const Finding& x) { out << x.json(); });
//   for (frame : capture) s.on_frame(ts_ns, frame, LinkType::kEthernet);
//   s.tick(now_ns, &host_index);   // now and then: idle flows end, flows are judged
//   s.finish(&host_index);         // at the end: every flow judged and exported
//
// Thread safety: none; one Sensor per capture thread (the sinks must be safe to call from each).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sensor/flow_table.h"
#include "sensor/packet.h"
#include "sensor/reconcile.h"

namespace ironroot::sensor {

struct SensorOptions {
  FlowTableOptions table;
  std::vector<HostIdentity> hosts;  // enrolled hosts: reconciliation and DHCP checks
  ReconcileOptions reconcile;
  bool signatures = true;  // signature findings (work without hosts)
};

struct SensorStats {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t ip_packets = 0;
  uint64_t not_ip = 0;
  uint64_t truncated = 0;
  uint64_t malformed = 0;
  uint64_t flows = 0;          // flows created
  uint64_t flows_dropped = 0;  // packets not accounted: table full
  uint64_t findings = 0;
  uint64_t ncsi_frames = 0;  // NC-SI control EtherType 0x88F8 on the wire
};

class Sensor {
 public:
  using FlowSink = std::function<void(const Flow&)>;
  using FindingSink = std::function<void(const Finding&)>;

  Sensor(SensorOptions options, FlowSink flow_sink, FindingSink finding_sink);

  void on_frame(uint64_t ts_ns, Bytes frame, LinkType link);
  // The same for a batch: decodes them all and prefetches their flows' buckets first, so the
  // table's cache misses overlap instead of queueing (the capture loops hand over blocks).
  struct FrameRef {
    uint64_t ts_ns;
    Bytes data;
    LinkType link;
  };
  void on_frames(std::span<const FrameRef> frames);
  // Ends idle flows (exporting them; paced by FlowTable::sweep, so at most a quarter of the
  // timeout late) and judges flows against `host` (one index per enrolled host, in the order of
  // options.hosts; may be empty for signature-only operation).
  void tick(uint64_t now_ns, const std::vector<const HostFlowIndex*>& host);
  // Judges every flow that can be judged, exports all, empties the table.
  void finish(const std::vector<const HostFlowIndex*>& host);

  const SensorStats& stats() const { return stats_; }
  const WireContext& wire_context() const { return wire_; }
  FlowTable& table() { return table_; }

 private:
  // `l` is the packet's table lookup when the caller computed (and prefetched) it already.
  void on_packet(uint64_t ts_ns, const Packet& p, DecodeStatus st, size_t frame_size,
                 const FlowTable::Lookup* l = nullptr);
  void judge_flow(Flow& f, const std::vector<const HostFlowIndex*>& host, bool final);
  void end_flow(const Flow& f, const std::vector<const HostFlowIndex*>& host);
  void emit(const Finding& x);
  void on_dhcp(const Packet& p, uint64_t ts_ns);

  SensorOptions options_;
  FlowSink flow_sink_;
  FindingSink finding_sink_;
  FlowTable table_;
  SensorStats stats_;
  WireContext wire_;
  std::set<IpAddr> host_ips_;
  std::set<MacAddr> host_macs_;
  std::set<MacAddr> dhcp_reported_;
};

}  // namespace ironroot::sensor
