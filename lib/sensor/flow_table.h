// ironroot sensor: the flow table. Both directions of a connection land in one Flow, keyed on
// the ordered 5-tuple plus VLAN; the first packet's sender is the initiator (a TCP SYN-ACK seen
// first makes its receiver the initiator).
//
// Open addressing with linear probing. A slot is three cache lines: hash, key and counters in the
// first two, so a packet of a known flow costs one (prefetched, overlapped) memory access, and
// the table sits in transparent huge pages so that access is not also a TLB miss. A dense array
// of the hashes serves the scans (expiry) without walking every slot.
// Not thread-safe: one table per capture thread (fanout keeps both directions on one thread).
//
//   FlowTable table({.idle_timeout_ns = 30'000'000'000});
//   Flow* f = table.add(packet, ts_ns);         // nullptr only when the table is full
//   table.expire(now_ns, [](const Flow& f) { export_flow(f); });   // exact, scans every slot
//   table.sweep(now_ns, [](const Flow& f) { export_flow(f); });    // paced, for frequent calls
#pragma once

#include <array>
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
  // The counters first: with the table's key they fill the slot's first two cache lines, the
  // only ones a packet of a known flow touches.
  FlowCounters orig;  // initiator -> responder
  FlowCounters resp;  // responder -> initiator
  uint64_t last_ns = 0;
  uint64_t first_ns = 0;
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
  uint32_t signatures = 0;  // Signature bits (signatures.h)
  uint32_t marks = 0;       // free for the owner (the sensor marks flows it has judged)

  std::string community_id() const;
};

struct FlowTableOptions {
  size_t capacity = size_t{1} << 20;          // slots; rounded up to a power of two
  uint64_t idle_timeout_ns = 60'000'000'000;  // no packet for this long: the flow ends
  uint64_t active_timeout_ns = 0;             // > 0: export long flows every so often
  // Touch every page at construction, so no packet waits for the kernel to zero one (a cold
  // table of a million flows is ~200 MB of first-touch faults). Off: memory as flows arrive.
  bool prefault = false;
};

class FlowTable {
 public:
  explicit FlowTable(FlowTableOptions options = {});

  // Accounts the packet to its flow, creating it; nullptr when the table is full (counted in
  // dropped()). The pointer stays valid until the next add() or expire(). A packet for a flow
  // idle past the timeout but not yet expired ends that flow (handed to the next expire(),
  // sweep() or flush()) and opens a new one, whenever the caller expires.
  Flow* add(const Packet& p, uint64_t ts_ns);

  // A packet's key and hash, computed once: prefetch() it, then add() it a little later, so the
  // table's cache misses for a batch of packets overlap instead of queueing.
  struct Lookup {
    std::array<uint64_t, 5> key{};  // the ordered 5-tuple, family and VLAN
    uint64_t hash = 0;
    bool forward = true;  // the packet's source is the key's first address
  };
  // The hash is keyed with a secret drawn per table: someone who can put packets on the wire
  // cannot precompute 5-tuples that share a probe chain and turn each lookup into a long walk.
  Lookup lookup(const Packet& p) const;
  void prefetch(const Lookup& l) const;
  Flow* add(const Packet& p, const Lookup& l, uint64_t ts_ns);

  // Ends flows idle since before now - idle_timeout and hands each to `sink`, then forgets it.
  // Flows past the active timeout are handed over too, and their counters restart.
  void expire(uint64_t now_ns, const std::function<void(const Flow&)>& sink);
  // The same, paced for a caller that ticks often: each call visits only the share of the slots
  // that the time since the last call earns, so the whole table is covered once per quarter of
  // the shorter timeout. A flow therefore ends at most that late, and a busy table is not walked
  // end to end several times a second (on a 10M-packet trace that walk was a fifth of the time).
  void sweep(uint64_t now_ns, const std::function<void(const Flow&)>& sink);
  // Hands every flow to `sink` and empties the table.
  void flush(const std::function<void(const Flow&)>& sink);
  // Visits every live flow (the sink may change `marks` and `signatures`).
  void for_each(const std::function<void(Flow&)>& visit);

  size_t size() const { return size_; }
  uint64_t created() const { return created_; }  // flows opened so far
  size_t capacity() const { return slots_.size; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct alignas(64) Slot {
    uint64_t hash = 0;  // 0: empty
    std::array<uint64_t, 5> key{};
    bool orig_is_first = false;  // the initiator is the key's first address
    Flow flow;
  };
  // Zeroed anonymous memory advised as huge pages (not a std::vector: no allocator control over
  // madvise). T must be valid when all zero bytes.
  template <typename T>
  struct HugeArray {
    T* data = nullptr;
    size_t size = 0;
    HugeArray(size_t n, bool prefault);
    ~HugeArray() { unmap(data, size * sizeof(T)); }
    HugeArray(const HugeArray&) = delete;
    HugeArray& operator=(const HugeArray&) = delete;
    T& operator[](size_t i) { return data[i]; }
    const T& operator[](size_t i) const { return data[i]; }
  };
  static void unmap(void* p, size_t bytes);
  void erase_at(size_t i);
  void start_flow(Slot& s, const Packet& p, const Lookup& l, uint64_t ts_ns);
  void hand_over_ended(const std::function<void(const Flow&)>& sink);
  // Visits `count` slots from `start` (wrapping), ending idle flows; returns where it stopped.
  size_t expire_range(size_t start, size_t count, uint64_t now_ns,
                      const std::function<void(const Flow&)>& sink);

  FlowTableOptions options_;
  HugeArray<uint64_t> hashes_;  // slot i's hash (0 = empty), for scans
  HugeArray<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t max_load_ = 0;
  uint64_t dropped_ = 0;
  uint64_t created_ = 0;
  std::vector<Flow> ended_;  // ended by a packet that opened their successor, not yet handed over
  uint64_t seed_ = 0;        // the hash's secret key
  size_t sweep_next_ = 0;    // the slot the next sweep() starts at
  uint64_t sweep_last_ns_ = 0;  // when sweep() last ran (0: never)
  double sweep_credit_ = 0;     // slots earned but not yet visited (fractions carry over)
};

}  // namespace ironroot::sensor
