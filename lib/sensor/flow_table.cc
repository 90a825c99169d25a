#include "sensor/flow_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <random>
#include <type_traits>

#include "sensor/community_id.h"

namespace ironroot::sensor {

std::string Flow::community_id() const {
  return sensor::community_id(src, dst, proto, sport, dport, has_ports);
}

namespace {

// Big-endian 64-bit load: comparing these compares the bytes in order, without a memcmp call.
uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}

uint32_t load_be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}

size_t slot_count(size_t wanted) {
  return std::bit_ceil(wanted < 16 ? size_t{16} : wanted);
}

}  // namespace

template <typename T>
FlowTable::HugeArray<T>::HugeArray(size_t n, bool prefault) : size(n) {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  size_t bytes = n * sizeof(T);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Huge pages where the kernel allows them (THP "madvise" mode): a table of a million flows
  // spans ~50k 4 KiB pages, and a TLB miss on each random access would double its cost.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  // The kernel's zero pages are empty slots (hash 0): nothing is touched, so a table sized for
  // a million flows costs memory only as flows arrive, unless asked to fault it all in now.
  if (prefault && ::madvise(p, bytes, MADV_POPULATE_WRITE) != 0) {
    volatile char* bytes_p = static_cast<char*>(p);  // kernels before 5.14: touch each page
    for (size_t off = 0; off < bytes; off += 4096) bytes_p[off] = 0;
  }
  data = static_cast<T*>(p);
}

void FlowTable::unmap(void* p, size_t bytes) {
  if (p != nullptr) ::munmap(p, bytes);
}

template struct FlowTable::HugeArray<uint64_t>;
template struct FlowTable::HugeArray<FlowTable::Slot>;

FlowTable::FlowTable(FlowTableOptions options)
    : options_(options),
      hashes_(slot_count(options.capacity), options.prefault),
      slots_(slot_count(options.capacity), options.prefault) {
  size_t cap = slots_.size;
  mask_ = cap - 1;
  max_load_ = cap - cap / 8;  // keep probes short: at most 7/8 full
  std::random_device random;  // getrandom(2)
  seed_ = uint64_t{random()} << 32 | random();
}

FlowTable::Lookup FlowTable::lookup(const Packet& p) const {
  uint16_t ps = p.sport;
  uint16_t pd = p.dport;
  bool one_way = false;
  if (p.has_ports && (p.proto == kProtoIcmp || p.proto == kProtoIcmp6)) {
    icmp_port_equivalents(p.proto, p.sport, p.dport, &ps, &pd, &one_way);
  }
  const uint8_t* s = p.src.bytes.data();
  const uint8_t* d = p.dst.bytes.data();
  uint64_t s0, s1, d0, d1;
  if (p.src.family == 4) {
    // The same words as below (an IPv4 address is zero past its fourth byte), but read as the
    // 4-byte stores decode() just made: an 8-byte load across the zeroed Packet and those
    // stores cannot be forwarded from the store buffer and waited for them (~16 % of lookup).
    s0 = uint64_t{load_be32(s)} << 32;
    d0 = uint64_t{load_be32(d)} << 32;
    s1 = d1 = 0;
  } else {
    s0 = load_be64(s), s1 = load_be64(s + 8);
    d0 = load_be64(d), d1 = load_be64(d + 8);
  }
  bool less = s0 != d0 ? s0 < d0 : s1 != d1 ? s1 < d1 : ps <= pd;
  Lookup l;
  l.forward = one_way || less;
  uint64_t tail = uint64_t{p.proto} | uint64_t{p.src.family} << 8 | uint64_t{p.vlan} << 16;
  if (l.forward) {
    l.key = {s0, s1, d0, d1, tail | uint64_t{ps} << 32 | uint64_t{pd} << 48};
  } else {
    l.key = {d0, d1, s0, s1, tail | uint64_t{pd} << 32 | uint64_t{ps} << 48};
  }
  uint64_t h = seed_;
#pragma GCC unroll 5
  for (uint64_t x : l.key) {
    h = (h ^ x) * 0x87c37b91114253d5ULL;
    h = (h << 31) | (h >> 33);
  }
  // MurmurHash3's finaliser: every input bit reaches the low bits the table indexes with.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  l.hash = h == 0 ? 1 : h;  // 0 marks an empty slot
  return l;
}

void FlowTable::prefetch(const Lookup& l) const {
  const char* slot = reinterpret_cast<const char*>(&slots_[l.hash & mask_]);
  __builtin_prefetch(slot, 1);       // hash, key, direction, first counters
  __builtin_prefetch(slot + 64, 1);  // the other counters, last seen
  // Only a new flow writes these; not waiting on them there was worth ~4 % on a trace where
  // one packet in twelve opens a flow.
  __builtin_prefetch(slot + 128, 1);
  __builtin_prefetch(&hashes_[l.hash & mask_], 1);
}

Flow* FlowTable::add(const Packet& p, uint64_t ts_ns) {
  return add(p, lookup(p), ts_ns);
}

Flow* FlowTable::add(const Packet& p, const Lookup& l, uint64_t ts_ns) {
  size_t i = l.hash & mask_;
  while (true) {
    Slot& s = slots_[i];
    if (s.hash == 0) break;
    if (s.hash == l.hash && s.key == l.key) {
      Flow& f = s.flow;
      if (f.last_ns + options_.idle_timeout_ns <= ts_ns) {
        // Idle past the timeout, not yet swept: that flow has ended and this packet opens the
        // next one in the same slot. The ended flow waits for the next expire() or sweep().
        ended_.push_back(f);
        start_flow(s, p, l, ts_ns);
        ++created_;
        return &f;
      }
      FlowCounters& c = l.forward == s.orig_is_first ? f.orig : f.resp;
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
  hashes_[i] = l.hash;
  s.hash = l.hash;
  s.key = l.key;
  start_flow(s, p, l, ts_ns);
  ++size_;
  ++created_;
  return &s.flow;
}

void FlowTable::start_flow(Slot& s, const Packet& p, const Lookup& l, uint64_t ts_ns) {
  // A SYN-ACK first means we missed the SYN: its receiver opened the connection.
  bool flip = p.proto == kProtoTcp && (p.tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
  s.orig_is_first = l.forward != flip;
  Flow& f = s.flow;
  f = Flow{};
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
}

void FlowTable::hand_over_ended(const std::function<void(const Flow&)>& sink) {
  if (ended_.empty()) return;
  std::vector<Flow> ended;
  ended.swap(ended_);
  for (const Flow& f : ended) sink(f);
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
  slots_[i].hash = 0;
  --size_;
}

size_t FlowTable::expire_range(size_t start, size_t count, uint64_t now_ns,
                               const std::function<void(const Flow&)>& sink) {
  uint64_t idle = options_.idle_timeout_ns;
  uint64_t active = options_.active_timeout_ns;
  size_t i = start & mask_;
  for (size_t seen = 0; seen < count && size_ > 0;) {
    if (hashes_[i] != 0) {
      Slot& s = slots_[i];
      if (s.flow.last_ns + idle <= now_ns) {
        sink(s.flow);
        erase_at(i);  // slot i now holds a moved entry (or is empty): look at it again
        continue;
      }
      if (active > 0 && s.flow.first_ns + active <= now_ns) {
        sink(s.flow);
        s.flow.first_ns = now_ns;
        s.flow.orig = {};
        s.flow.resp = {};
      }
    }
    i = (i + 1) & mask_;
    ++seen;
  }
  return i;
}

void FlowTable::expire(uint64_t now_ns, const std::function<void(const Flow&)>& sink) {
  hand_over_ended(sink);
  expire_range(0, slots_.size, now_ns, sink);
}

void FlowTable::sweep(uint64_t now_ns, const std::function<void(const Flow&)>& sink) {
  hand_over_ended(sink);
  uint64_t period = options_.idle_timeout_ns;
  if (options_.active_timeout_ns > 0) period = std::min(period, options_.active_timeout_ns);
  period /= 4;
  size_t visit = slots_.size;
  if (sweep_last_ns_ != 0 && period > 0) {
    uint64_t elapsed = now_ns > sweep_last_ns_ ? now_ns - sweep_last_ns_ : 0;
    sweep_credit_ += static_cast<double>(slots_.size) * static_cast<double>(elapsed) /
                     static_cast<double>(period);
    sweep_credit_ = std::min(sweep_credit_, static_cast<double>(slots_.size));
    visit = static_cast<size_t>(sweep_credit_);
    sweep_credit_ -= static_cast<double>(visit);
  }
  if (now_ns > sweep_last_ns_) sweep_last_ns_ = now_ns;
  if (visit > 0) sweep_next_ = expire_range(sweep_next_, visit, now_ns, sink);
}

void FlowTable::flush(const std::function<void(const Flow&)>& sink) {
  hand_over_ended(sink);
  for (size_t i = 0; i < slots_.size; ++i) {
    if (hashes_[i] != 0) {
      sink(slots_[i].flow);
      hashes_[i] = 0;
      slots_[i].hash = 0;
    }
  }
  size_ = 0;
}

void FlowTable::for_each(const std::function<void(Flow&)>& visit) {
  for (size_t i = 0; i < slots_.size; ++i) {
    if (hashes_[i] != 0) visit(slots_[i].flow);
  }
}

}  // namespace ironroot::sensor
