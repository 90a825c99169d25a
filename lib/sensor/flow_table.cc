#include "sensor/flow_table.h"

#include <bit>
#include <cstring>

#include "sensor/community_id.h"

namespace ironroot::sensor {

std::string Flow::community_id() const {
  return sensor::community_id(src, dst, proto, sport, dport, has_ports);
}

FlowTable::FlowTable(FlowTableOptions options) : options_(options) {
  size_t cap = std::bit_ceil(options_.capacity < 16 ? size_t{16} : options_.capacity);
  slots_.resize(cap);
  hashes_.assign(cap, 0);
  mask_ = cap - 1;
  max_load_ = cap - cap / 8;  // keep probes short: at most 7/8 full
}

FlowTable::Key FlowTable::make_key(const Packet& p, bool* forward) {
  Key k;
  uint16_t ps = p.sport;
  uint16_t pd = p.dport;
  bool one_way = false;
  if (p.has_ports && (p.proto == kProtoIcmp || p.proto == kProtoIcmp6)) {
    icmp_port_equivalents(p.proto, p.sport, p.dport, &ps, &pd, &one_way);
  }
  int c = std::memcmp(p.src.bytes.data(), p.dst.bytes.data(), 16);
  *forward = one_way || c < 0 || (c == 0 && ps <= pd);
  if (*forward) {
    k.a = p.src.bytes;
    k.b = p.dst.bytes;
    k.pa = ps;
    k.pb = pd;
  } else {
    k.a = p.dst.bytes;
    k.b = p.src.bytes;
    k.pa = pd;
    k.pb = ps;
  }
  k.proto = p.proto;
  k.family = p.src.family;
  k.vlan = p.vlan;
  return k;
}

uint64_t FlowTable::hash_key(const Key& k) {
  static_assert(sizeof(Key) == 40, "Key has no padding");
  uint64_t w[5];
  std::memcpy(w, &k, sizeof w);
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (uint64_t x : w) {
    h = (h ^ x) * 0x87c37b91114253d5ULL;
    h = (h << 31) | (h >> 33);
  }
  // MurmurHash3's finaliser: every input bit reaches the low bits the table indexes with.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

void FlowTable::prefetch(const Packet& p) const {
  bool forward = true;
  size_t i = hash_key(make_key(p, &forward)) & mask_;
  __builtin_prefetch(&hashes_[i]);
  __builtin_prefetch(&slots_[i]);
}

Flow* FlowTable::add(const Packet& p, uint64_t ts_ns) {
  bool forward = true;
  Key key = make_key(p, &forward);
  uint64_t h = hash_key(key);
  size_t i = h & mask_;
  while (true) {
    uint64_t sh = hashes_[i];
    if (sh == 0) break;
    if (sh == h && slots_[i].key == key) {
      Flow& f = slots_[i].flow;
      bool from_orig = p.src == f.src && (p.sport == f.sport || !f.has_ports);
      if (f.src == f.dst) from_orig = p.sport == f.sport;  // a host talking to itself
      if (p.proto == kProtoIcmp || p.proto == kProtoIcmp6) from_orig = p.src == f.src;
      FlowCounters& c = from_orig ? f.orig : f.resp;
      ++c.packets;
      c.bytes += p.wire_len;
      c.tcp_flags |= p.tcp_flags;
      if (ts_ns > f.last_ns) f.last_ns = ts_ns;
      return &f;
    }
    i = (i + 1) & mask_;
  }
  if (size_ >= max_load_) {
    ++dropped_;
    return nullptr;
  }
  Slot& s = slots_[i];
  hashes_[i] = h;
  s.key = key;
  Flow& f = s.flow;
  f = Flow{};
  // A SYN-ACK first means we missed the SYN: its receiver opened the connection.
  bool flip = p.proto == kProtoTcp && (p.tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
  f.src = flip ? p.dst : p.src;
  f.dst = flip ? p.src : p.dst;
  f.sport = flip ? p.dport : p.sport;
  f.dport = flip ? p.sport : p.dport;
  f.proto = p.proto;
  f.has_ports = p.has_ports;
  f.vlan = p.vlan;
  f.has_mac = p.has_mac;
  f.src_mac = flip ? p.dst_mac : p.src_mac;
  f.dst_mac = flip ? p.src_mac : p.dst_mac;
  FlowCounters& c = flip ? f.resp : f.orig;
  c.packets = 1;
  c.bytes = p.wire_len;
  c.tcp_flags = p.tcp_flags;
  f.first_ns = ts_ns;
  f.last_ns = ts_ns;
  ++size_;
  return &f;
}

// Backward-shift deletion keeps every probe chain unbroken without tombstones.
void FlowTable::erase_at(size_t i) {
  size_t j = i;
  while (true) {
    j = (j + 1) & mask_;
    if (hashes_[j] == 0) break;
    size_t home = hashes_[j] & mask_;
    // Move j back into i when its home is not cyclically within (i, j].
    bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!in_range) {
      slots_[i] = slots_[j];
      hashes_[i] = hashes_[j];
      i = j;
    }
  }
  hashes_[i] = 0;
  --size_;
}

void FlowTable::expire(uint64_t now_ns, const std::function<void(const Flow&)>& sink) {
  if (size_ == 0) return;
  uint64_t idle = options_.idle_timeout_ns;
  for (size_t i = 0; i < slots_.size();) {
    Slot& s = slots_[i];
    if (hashes_[i] == 0) {
      ++i;
      continue;
    }
    if (s.flow.last_ns + idle <= now_ns) {
      sink(s.flow);
      erase_at(i);  // slot i now holds a moved entry (or is empty): look at it again
      continue;
    }
    if (options_.active_timeout_ns > 0 && s.flow.first_ns + options_.active_timeout_ns <= now_ns) {
      sink(s.flow);
      s.flow.first_ns = now_ns;
      s.flow.orig = {};
      s.flow.resp = {};
    }
    ++i;
  }
}

void FlowTable::flush(const std::function<void(const Flow&)>& sink) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (hashes_[i] != 0) {
      sink(slots_[i].flow);
      hashes_[i] = 0;
    }
  }
  size_ = 0;
}

void FlowTable::for_each(const std::function<void(Flow&)>& visit) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (hashes_[i] != 0) visit(slots_[i].flow);
  }
}

}  // namespace ironroot::sensor
