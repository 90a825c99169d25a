// ironroot sensor: the flow table. Both directions of a connection land in one Flow, keyed on
// the ordered 5-tuple plus VLAN; the first packet's sender is the initiator (a TCP SYN-ACK seen
// first makes its receiver the initiator).
//
// Open addressing with linear probing; probes walk a dense array of hashes and touch a flow
// only on a hash match, so a lookup is one or two cache misses.
// Not thread-safe: one table per capture thread (fanout keeps both directions on one thread).
//
//   FlowTable table({.idle_timeout_ns = 30'000'000'000});
//   Flow* f = table.add(packet, ts_ns);         // nullptr only when the table is full
//   table.expire(now_ns, [](const Flow& f) { export_flow(f); });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sensor/packet.h"

namespace ironroot::sensor {

struct FlowCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint8_t tcp_flags = 0;  // OR of the flags seen
};

struct Flow {
  IpAddr src;  // the initiator
  IpAddr dst;
  uint16_t sport = 0;  // ICMP: type of the first packet
  uint16_t dport = 0;  // ICMP: code of the first packet
  uint8_t proto = 0;
  bool has_ports = false;
  uint16_t vlan = 0;
  bool has_mac = false;
  MacAddr src_mac{};  // the initiator's MAC as seen on its frames
  MacAddr dst_mac{};
  FlowCounters orig;  // initiator -> responder
  FlowCounters resp;  // responder -> initiator
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  uint32_t signatures = 0;  // Signature bits (signatures.h)
  uint32_t marks = 0;       // free for the owner (the sensor marks flows it has judged)

  std::string community_id() const;
};

struct FlowTableOptions {
  size_t capacity = size_t{1} << 20;          // slots; rounded up to a power of two
  uint64_t idle_timeout_ns = 60'000'000'000;  // no packet for this long: the flow ends
  uint64_t active_timeout_ns = 0;             // > 0: export long flows every so often
};

class FlowTable {
 public:
  explicit FlowTable(FlowTableOptions options = {});

  // Accounts the packet to its flow, creating it; nullptr when the table is full (counted in
  // dropped()). The pointer stays valid until the next add() or expire().
  Flow* add(const Packet& p, uint64_t ts_ns);

  // Starts loading the bucket `p` will use, so a later add(p) finds it in cache (batching).
  void prefetch(const Packet& p) const;

  // Ends flows idle since before now - idle_timeout and hands each to `sink`, then forgets it.
  void expire(uint64_t now_ns, const std::function<void(const Flow&)>& sink);
  // Hands every flow to `sink` and empties the table.
  void flush(const std::function<void(const Flow&)>& sink);
  // Visits every live flow (the sink may change `marks` and `signatures`).
  void for_each(const std::function<void(Flow&)>& visit);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Key {
    std::array<uint8_t, 16> a{};
    std::array<uint8_t, 16> b{};
    uint16_t pa = 0;
    uint16_t pb = 0;
    uint8_t proto = 0;
    uint8_t family = 0;
    uint16_t vlan = 0;
    bool operator==(const Key&) const = default;
  };
  struct Slot {
    Key key;
    Flow flow;
  };
  static Key make_key(const Packet& p, bool* forward);
  static uint64_t hash_key(const Key& k);
  void erase_at(size_t i);

  FlowTableOptions options_;
  std::vector<uint64_t> hashes_;  // probed first, 8 bytes a slot; 0 = empty
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t max_load_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace ironroot::sensor
