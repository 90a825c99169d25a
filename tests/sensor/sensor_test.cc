// The network sensor: Community ID against the spec's published values, the decoder and flow
// table on frames built here and on hostile bytes, signatures and the whole sensor on the real
// captures in ../shared/corpus/pcap (checked against tshark where it is installed), and the
// reconciliation of wire flows with host records.
#include "sensor/sensor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/capability.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "sensor/capture.h"
#include "sensor/community_id.h"
#include "sensor/flow_table.h"
#include "sensor/helpers.h"
#include "sensor/host_flows.h"
#include "sensor/packet.h"
#include "sensor/reconcile.h"
#include "sensor/signatures.h"
#include "support/corpus.h"

namespace ironroot::sensor {
namespace {

namespace fs = std::filesystem;
using ironroot::testing::corpus_dir;

using sensor::testing::ip;

// ---- Community ID: corelight/community-id-spec baseline/baseline_deflt.json ----

TEST(CommunityId, MatchesTheSpecBaseline) {
  struct V {
    uint8_t proto;
    const char* s;
    const char* d;
    int sp;
    int dp;
    const char* id;
  };
  const V vectors[] = {
      {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
       "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
      {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
       "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
      {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
       "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
      {58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
       "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
      {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
      {1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
      {1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
      {1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
      {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
       "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
      {132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
      {6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
      {6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
      {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
      {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
      {46, "10.1.12.1", "10.1.12.2", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
      {46, "10.1.12.2", "10.1.12.1", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
  };
  for (const V& v : vectors) {
    bool ports = v.sp >= 0;
    EXPECT_EQ(community_id(ip(v.s), ip(v.d), v.proto, static_cast<uint16_t>(ports ? v.sp : 0),
                           static_cast<uint16_t>(ports ? v.dp : 0), ports),
              v.id)
        << v.s << " -> " << v.d;
  }
}

// ---- frames built here ----

std::vector<uint8_t> eth_ipv4_tcp(const MacAddr& smac, const MacAddr& dmac, const IpAddr& s,
                                  const IpAddr& d, uint16_t sp, uint16_t dp, uint8_t flags,
                                  const std::string& payload = "", uint16_t vlan = 0) {
  std::vector<uint8_t> f(dmac.begin(), dmac.end());
  f.insert(f.end(), smac.begin(), smac.end());
  if (vlan) {
    f.insert(f.end(), {0x81, 0x00, static_cast<uint8_t>(vlan >> 8), static_cast<uint8_t>(vlan)});
  }
  f.insert(f.end(), {0x08, 0x00});
  size_t total = 20 + 20 + payload.size();
  f.insert(f.end(), {0x45, 0, static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), 0, 1,
                     0x40, 0, 64, 6, 0, 0});
  f.insert(f.end(), s.bytes.begin(), s.bytes.begin() + 4);
  f.insert(f.end(), d.bytes.begin(), d.bytes.begin() + 4);
  f.insert(f.end(), {static_cast<uint8_t>(sp >> 8),
                     static_cast<uint8_t>(sp),
                     static_cast<uint8_t>(dp >> 8),
                     static_cast<uint8_t>(dp),
                     0,
                     0,
                     0,
                     1,
                     0,
                     0,
                     0,
                     0,
                     0x50,
                     flags,
                     0xff,
                     0xff,
                     0,
                     0,
                     0,
                     0});
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

const MacAddr kHostMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const MacAddr kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

TEST(Decode, EthernetVlanIpv4Tcp) {
  auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 40000, 16992, kTcpSyn,
                        "", 42);
  Packet p;
  ASSERT_EQ(decode(f, LinkType::kEthernet, &p), DecodeStatus::kOk);
  EXPECT_EQ(p.vlan, 42);
  EXPECT_EQ(p.src, ip("10.0.0.2"));
  EXPECT_EQ(p.dst, ip("10.0.0.1"));
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(p.dport, 16992);
  EXPECT_EQ(p.tcp_flags, kTcpSyn);
  EXPECT_EQ(p.src_mac, kHostMac);
  EXPECT_EQ(classify(p), kSigAmtPortSyn);
}

// MPLS (tcpreplay's test.pcap has both kinds): IP straight under the label stack, and an
// Ethernet pseudowire whose customer frame gives the MACs and VLAN. Every cut is truncation.
TEST(Decode, MplsOverIpAndOverAnEthernetPseudowire) {
  const MacAddr kRouterA{0x00, 0x30, 0x96, 0x01, 0x02, 0x03};
  const MacAddr kRouterB{0x00, 0x30, 0x96, 0x04, 0x05, 0x06};
  auto inner = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 40000, 16992,
                            kTcpSyn, "", 7);
  auto label = [](uint32_t value, bool bottom) {
    uint32_t v = value << 12 | (bottom ? 0x100u : 0u) | 64u;
    return std::vector<uint8_t>{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                                static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  };
  auto outer = [&](const std::vector<std::vector<uint8_t>>& parts) {
    std::vector<uint8_t> f(kRouterB.begin(), kRouterB.end());
    f.insert(f.end(), kRouterA.begin(), kRouterA.end());
    f.insert(f.end(), {0x88, 0x47});
    for (const auto& x : parts) f.insert(f.end(), x.begin(), x.end());
    return f;
  };
  auto plain =
      eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 40000, 16992, kTcpSyn);
  auto ip_over_mpls =
      outer({label(18, true), std::vector<uint8_t>(plain.begin() + 14, plain.end())});
  auto pseudowire = outer({label(19, false), label(16, true), {0, 0, 0, 0}, inner});

  Packet p;
  ASSERT_EQ(decode(ip_over_mpls, LinkType::kEthernet, &p), DecodeStatus::kOk);
  EXPECT_EQ(p.src, ip("10.0.0.2"));
  EXPECT_EQ(p.dport, 16992);
  EXPECT_EQ(p.src_mac, kRouterA);  // no customer frame: the routers' MACs
  EXPECT_EQ(p.vlan, 0);

  ASSERT_EQ(decode(pseudowire, LinkType::kEthernet, &p), DecodeStatus::kOk);
  EXPECT_EQ(p.src, ip("10.0.0.2"));
  EXPECT_EQ(p.dst, ip("10.0.0.1"));
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(p.src_mac, kHostMac);
  EXPECT_EQ(p.dst_mac, kPeerMac);
  EXPECT_EQ(p.vlan, 7);
  EXPECT_EQ(classify(p), kSigAmtPortSyn);

  for (const auto* f : {&ip_over_mpls, &pseudowire}) {
    for (size_t n = 14; n < f->size(); ++n) {
      std::vector<uint8_t> cut(f->begin(), f->begin() + static_cast<long>(n));
      EXPECT_EQ(decode(cut, LinkType::kEthernet, &p), DecodeStatus::kTruncated) << n;
    }
  }
  // A stack that never ends (no S bit in eight labels) is not read as anything.
  std::vector<std::vector<uint8_t>> endless(9, label(5, false));
  endless.push_back(std::vector<uint8_t>(plain.begin() + 14, plain.end()));
  EXPECT_EQ(decode(outer(endless), LinkType::kEthernet, &p), DecodeStatus::kNotIp);
}

TEST(Decode, EveryTruncationIsReportedNotRead) {
  auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 1, 2, kTcpAck, "hi");
  for (size_t n = 0; n < f.size() - 2; ++n) {  // the last two bytes are payload
    Packet p;
    std::vector<uint8_t> cut(f.begin(), f.begin() + static_cast<long>(n));
    EXPECT_EQ(decode(cut, LinkType::kEthernet, &p), DecodeStatus::kTruncated) << n;
  }
  std::vector<uint8_t> bad = f;
  bad[14] = 0x43;  // IHL 3
  Packet p;
  EXPECT_EQ(decode(bad, LinkType::kEthernet, &p), DecodeStatus::kMalformed);
}

TEST(Decode, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(rng() % 128);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (b.size() > 14 && (i & 1)) {
      b[12] = 0x08;
      b[13] = 0x00;
      b[14] = static_cast<uint8_t>(0x40 | (b[14] & 0x0f));
    }
    for (LinkType lt : {LinkType::kEthernet, LinkType::kNull, LinkType::kRaw, LinkType::kLinuxSll,
                        LinkType::kLinuxSll2}) {
      Packet p;
      if (decode(b, lt, &p) == DecodeStatus::kOk) {
        EXPECT_LE(p.payload.size(), b.size());
        (void)classify(p);
      }
    }
  }
}

// ---- flow table ----

TEST(FlowTable, BothDirectionsOneFlowAndSynAckFlipsTheInitiator) {
  FlowTable t({.capacity = 64});
  Packet p;
  auto synack = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 16992, 50000,
                             kTcpSyn | kTcpAck);
  ASSERT_EQ(decode(synack, LinkType::kEthernet, &p), DecodeStatus::kOk);
  t.add(p, 100);
  auto ack =
      eth_ipv4_tcp(kPeerMac, kHostMac, ip("10.0.0.1"), ip("10.0.0.2"), 50000, 16992, kTcpAck);
  ASSERT_EQ(decode(ack, LinkType::kEthernet, &p), DecodeStatus::kOk);
  Flow* f = t.add(p, 200);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(f->src, ip("10.0.0.1"));  // the peer opened it
  EXPECT_EQ(f->dport, 16992);
  EXPECT_EQ(f->orig.packets, 1u);
  EXPECT_EQ(f->resp.packets, 1u);
  EXPECT_EQ(f->src_mac, kPeerMac);
  EXPECT_EQ(f->first_ns, 100u);
  EXPECT_EQ(f->last_ns, 200u);
  EXPECT_EQ(f->community_id(), community_id(ip("10.0.0.2"), ip("10.0.0.1"), 6, 16992, 50000));
}

// A packet for a flow idle past the timeout ends that flow and opens the next, whether or not
// expire() ran in between; the model says which flows end and when.
TEST(FlowTable, AgreesWithAMapUnderInsertAndExpire) {
  FlowTable t({.capacity = 1024, .idle_timeout_ns = 50});
  struct Span {
    uint64_t first;
    uint64_t last;
  };
  std::map<uint16_t, Span> live;                       // sport -> the open flow
  std::vector<std::pair<uint16_t, Span>> ended_early;  // ended by a packet, not yet handed over
  std::mt19937 rng(3);
  uint64_t now = 0;
  size_t exported = 0, restarted = 0;
  auto check = [&](const Flow& x) {
    ++exported;
    for (auto it = ended_early.begin(); it != ended_early.end(); ++it) {
      if (it->first == x.sport && it->second.first == x.first_ns) {
        EXPECT_EQ(x.last_ns, it->second.last);
        ended_early.erase(it);
        return;
      }
    }
    auto it = live.find(x.sport);
    ASSERT_NE(it, live.end()) << "sport " << x.sport;
    EXPECT_EQ(x.first_ns, it->second.first);
    EXPECT_LE(it->second.last + 50, now);
    live.erase(it);
  };
  for (int i = 0; i < 20000; ++i) {
    now += 1 + rng() % 3;
    uint16_t sp = static_cast<uint16_t>(1000 + rng() % 300);
    auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), sp, 80, kTcpAck);
    Packet p;
    ASSERT_EQ(decode(f, LinkType::kEthernet, &p), DecodeStatus::kOk);
    ASSERT_NE(t.add(p, now), nullptr);
    auto it = live.find(sp);
    if (it != live.end() && it->second.last + 50 <= now) {
      ended_early.push_back(*it);
      ++restarted;
      it->second = {now, now};
    } else if (it != live.end()) {
      it->second.last = now;
    } else {
      live[sp] = {now, now};
    }
    if (i % 197 == 0) {
      t.expire(now, check);
      EXPECT_TRUE(ended_early.empty());
      for (const auto& [k, s] : live) EXPECT_GT(s.last + 50, now);
      ASSERT_EQ(t.size(), live.size());
    }
  }
  EXPECT_GT(exported, 100u);
  EXPECT_GT(restarted, 100u);
}

// sweep() visits only the slots the elapsed time earns: flows end never early, at most a quarter
// timeout (plus one call's spacing) late, and a single call right after the last does not walk
// the whole table.
TEST(FlowTable, SweepIsPacedAndEndsIdleFlowsAtMostAQuarterTimeoutLate) {
  constexpr uint64_t kIdle = 4000;  // sweep period: 1000
  FlowTable t({.capacity = 4096, .idle_timeout_ns = kIdle});
  std::map<uint16_t, uint64_t> last;  // sport -> last seen
  auto touch = [&](uint16_t sp, uint64_t now) {
    auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), sp, 80, kTcpAck);
    Packet p;
    ASSERT_EQ(decode(f, LinkType::kEthernet, &p), DecodeStatus::kOk);
    ASSERT_NE(t.add(p, now), nullptr);
    last[sp] = now;
  };
  for (uint16_t sp = 1; sp <= 2000; ++sp) touch(sp, 1);
  t.sweep(2, [](const Flow&) { ADD_FAILURE() << "nothing is idle yet"; });  // first: whole table

  size_t ended = 0;
  uint64_t worst_late = 0;
  auto sweep = [&](uint64_t now) {
    t.sweep(now, [&](const Flow& f) {
      auto it = last.find(f.sport);
      ASSERT_NE(it, last.end());
      ASSERT_LE(it->second + kIdle, now) << "ended early";
      worst_late = std::max(worst_late, now - (it->second + kIdle));
      last.erase(it);
      ++ended;
    });
  };
  // Calls every 10 ns; the odd flows are kept alive, the even ones are idle from 4001 on. By 4042
  // five calls have earned 5 % of the slots, so a paced sweep has ended only some of the even
  // flows (a full walk would end all 1000); the rest must all end within the period.
  for (uint64_t now = 12; now <= 12002; now += 10) {
    if (now % 500 == 2) {
      for (uint16_t sp = 1; sp <= 2000; sp += 2) touch(sp, now);
    }
    sweep(now);
    if (now == 4042) {
      EXPECT_GT(ended, 0u);
      EXPECT_LT(ended, 500u);
    }
  }
  EXPECT_LE(worst_late, kIdle / 4 + 10);
  for (const auto& [sp, seen] : last) EXPECT_EQ(sp % 2, 1) << "sport " << sp;
  EXPECT_EQ(t.size(), last.size());
  EXPECT_EQ(ended, 1000u);
}

// Each table keys its hash with its own secret, so probe chains cannot be planned from outside;
// lookups within one table stay stable and both directions still meet.
TEST(FlowTable, HashIsKeyedPerTable) {
  FlowTable a({.capacity = 1024});
  FlowTable b({.capacity = 1024, .prefault = true});
  auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), 50000, 443, kTcpAck);
  auto r = eth_ipv4_tcp(kPeerMac, kHostMac, ip("10.0.0.1"), ip("10.0.0.2"), 443, 50000, kTcpAck);
  Packet p, q;
  ASSERT_EQ(decode(f, LinkType::kEthernet, &p), DecodeStatus::kOk);
  ASSERT_EQ(decode(r, LinkType::kEthernet, &q), DecodeStatus::kOk);
  EXPECT_NE(a.lookup(p).hash, b.lookup(p).hash);
  EXPECT_EQ(a.lookup(p).hash, a.lookup(q).hash);
  EXPECT_EQ(a.lookup(p).hash, a.lookup(p).hash);
  ASSERT_NE(b.add(p, 1), nullptr);
  EXPECT_EQ(b.add(q, 2)->resp.packets, 1u);
  EXPECT_EQ(b.size(), 1u);
}

TEST(FlowTable, FullTableDropsInsteadOfGrowing) {
  FlowTable t({.capacity = 16});
  size_t added = 0;
  for (uint16_t sp = 1; sp < 100; ++sp) {
    auto f = eth_ipv4_tcp(kHostMac, kPeerMac, ip("10.0.0.2"), ip("10.0.0.1"), sp, 80, kTcpSyn);
    Packet p;
    ASSERT_EQ(decode(f, LinkType::kEthernet, &p), DecodeStatus::kOk);
    if (t.add(p, 1)) ++added;
  }
  EXPECT_EQ(added, 14u);  // 7/8 of 16
  EXPECT_EQ(t.dropped(), 99u - 14u);
}

// The table keeps a flow's direction as one bit beside its key; a plain map of endpoints, with
// the initiator remembered as an address and port, must count every packet the same way.
TEST(FlowTable, DirectionCountersAgreeWithAModel) {
  struct Endpoint {
    IpAddr ip;
    uint16_t port;
    auto operator<=>(const Endpoint&) const = default;
  };
  struct Counts {
    Endpoint initiator;
    uint64_t orig = 0, resp = 0, orig_bytes = 0, resp_bytes = 0;
  };
  using ModelKey = std::tuple<uint8_t, uint16_t, Endpoint, Endpoint>;
  std::map<ModelKey, Counts> model;
  const std::vector<IpAddr> v4 = {ip("10.0.0.1"), ip("10.0.0.2"), ip("192.0.2.7")};
  const std::vector<IpAddr> v6 = {ip("2001:db8::1"), ip("2001:db8::2")};
  const uint16_t ports[] = {80, 443, 50000, 50001};
  const uint8_t flags[] = {kTcpSyn, kTcpSyn | kTcpAck, kTcpAck, kTcpAck | kTcpFin};
  FlowTable t({.capacity = 4096});
  std::mt19937 rng(7);
  for (int i = 0; i < 50000; ++i) {
    const auto& pool = rng() % 4 == 0 ? v6 : v4;
    Packet p;
    p.src = pool[rng() % pool.size()];
    p.dst = pool[rng() % pool.size()];
    p.sport = ports[rng() % 4];
    p.dport = ports[rng() % 4];
    if (p.src == p.dst && p.sport == p.dport) continue;  // both directions would be the same
    p.proto = rng() % 2 ? kProtoTcp : kProtoUdp;
    p.has_ports = true;
    p.tcp_flags = p.proto == kProtoTcp ? flags[rng() % 4] : 0;
    p.vlan = static_cast<uint16_t>(rng() % 2);
    p.wire_len = static_cast<uint32_t>(60 + rng() % 1400);
    Flow* f = t.add(p, static_cast<uint64_t>(i + 1));
    ASSERT_NE(f, nullptr);

    Endpoint from{p.src, p.sport}, to{p.dst, p.dport};
    ModelKey key{p.proto, p.vlan, std::min(from, to), std::max(from, to)};
    auto [it, fresh] = model.try_emplace(key);
    if (fresh) {
      bool synack = (p.tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
      it->second.initiator = synack ? to : from;
    }
    bool orig = from == it->second.initiator;
    (orig ? it->second.orig : it->second.resp) += 1;
    (orig ? it->second.orig_bytes : it->second.resp_bytes) += p.wire_len;
    ASSERT_EQ(f->src, it->second.initiator.ip);
    ASSERT_EQ(f->sport, it->second.initiator.port);
  }
  ASSERT_EQ(t.size(), model.size());
  size_t checked = 0;
  t.flush([&](const Flow& f) {
    Endpoint a{f.src, f.sport}, b{f.dst, f.dport};
    auto it = model.find({f.proto, f.vlan, std::min(a, b), std::max(a, b)});
    ASSERT_NE(it, model.end());
    EXPECT_EQ(f.orig.packets, it->second.orig);
    EXPECT_EQ(f.resp.packets, it->second.resp);
    EXPECT_EQ(f.orig.bytes, it->second.orig_bytes);
    EXPECT_EQ(f.resp.bytes, it->second.resp_bytes);
    ++checked;
  });
  EXPECT_EQ(checked, model.size());
  EXPECT_GT(checked, 300u);
}

// ---- signatures on bytes quoted in the corpus MANIFEST ----

TEST(Signatures, RmcpIpmiAuthCapabilitiesProbeAndAsfPing) {
  // RMCP class 7, IPMI 1.5 session (auth none, seq 0, session 0), length 9, Get Chan Auth Caps.
  std::vector<uint8_t> ipmi = {0x06, 0x00, 0xff, 0x07, 0x00, 0,    0,    0,    0,    0,    0,   0,
                               0,    0x09, 0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5};
  EXPECT_EQ(classify_rmcp(ipmi), kSigIpmiAuthCapProbe);
  std::vector<uint8_t> ping = {0x06, 0x00, 0xff, 0x06, 0x00, 0x00,
                               0x11, 0xbe, 0x80, 0x00, 0x00, 0x00};
  EXPECT_EQ(classify_rmcp(ping), kSigAsfPresencePing);
  std::vector<uint8_t> rakp1 = {0x06, 0x00, 0xff, 0x07, 0x06, 0x12};
  EXPECT_EQ(classify_rmcp(rakp1), kSigIpmiRakp);
  EXPECT_EQ(classify_rmcp(std::vector<uint8_t>{0x45, 0x00, 0x00, 0x07}), 0u);
}

// ---- the corpus ----

struct CaptureRun {
  uint64_t frames = 0;
  SensorStats stats;
  std::vector<Finding> findings;
  std::vector<Flow> flows;
};

CaptureRun run_file(const std::string& path, const std::vector<HostIdentity>& hosts = {},
                    const HostFlowLog* log = nullptr) {
  CaptureRun r;
  SensorOptions o;
  o.hosts = hosts;
  Sensor s(
      o, [&](const Flow& f) { r.flows.push_back(f); },
      [&](const Finding& x) { r.findings.push_back(x); });
  auto info = read_capture_file(path, [&](const Frame& f) { s.on_frame(f.ts_ns, f.data, f.link); });
  EXPECT_TRUE(info.ok()) << (info ? "" : info.error().message());
  if (info) r.frames = info->frames;
  HostFlowIndex index;
  if (log) index.add(*log);
  s.finish(log ? std::vector<const HostFlowIndex*>{&index} : std::vector<const HostFlowIndex*>{});
  r.stats = s.stats();
  return r;
}

std::multiset<std::string> kinds(const CaptureRun& r) {
  std::multiset<std::string> k;
  for (const auto& f : r.findings) k.insert(f.kind);
  return k;
}

TEST(Corpus, EveryCaptureReadsWithoutErrorAndFrameCountsMatchTshark) {
  IRONROOT_REQUIRE_CORPUS(dir);
  bool tshark = ironroot::testing::have_program("tshark");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/pcap")) {
    if (e.path().extension() != ".pcap") continue;
    ++files;
    CaptureRun r = run_file(e.path());
    EXPECT_GT(r.frames, 0u) << e.path();
    EXPECT_EQ(r.stats.frames, r.frames);
    if (tshark) {
      auto t = ironroot::testing::run("tshark -n -r '" + e.path().string() +
                                      "' -T fields -e frame.number | wc -l");
      EXPECT_EQ(std::stoull(t.out), r.frames) << e.path();
    }
  }
  EXPECT_GE(files, 13u);
}

TEST(Corpus, RmcpCaptureFlagsFourIpmiProbesAndTwoAsfPings) {
  IRONROOT_REQUIRE_CORPUS(dir);
  CaptureRun r = run_file(dir + "/pcap/ndpi__rmcp.pcap");
  EXPECT_EQ(r.frames, 6u);
  EXPECT_EQ(kinds(r), (std::multiset<std::string>{
                          "ipmi_auth_capabilities_probe", "ipmi_auth_capabilities_probe",
                          "ipmi_auth_capabilities_probe", "ipmi_auth_capabilities_probe",
                          "rmcp_asf_presence_ping", "rmcp_asf_presence_ping"}));
  for (const auto& f : r.findings) {
    EXPECT_EQ(f.flow.proto, kProtoUdp);
    EXPECT_EQ(f.flow.dport, 623);
  }
}

TEST(Corpus, SynScanFlagsTheSynsToAmtPortsAndNothingElse) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::string path = dir + "/pcap/ndpi__synscan.pcap";
  CaptureRun r = run_file(path);
  std::multiset<uint16_t> ports;
  for (const auto& f : r.findings) {
    EXPECT_TRUE(f.kind == "amt_port_probe" || f.kind == "dash_port_probe") << f.kind;
    EXPECT_EQ(f.flow.src, ip("172.16.0.8"));
    ports.insert(f.flow.dport);
  }
  EXPECT_TRUE(ports.contains(16992));
  EXPECT_TRUE(ports.contains(16993));
  if (ironroot::testing::have_program("tshark")) {
    // The oracle: tshark's count of SYNs (without ACK) to 16992-16995, 623 and 664.
    auto t = ironroot::testing::run(
        "tshark -n -r '" + path +
        "' -Y 'tcp.flags.syn==1 && tcp.flags.ack==0 && (tcp.dstport>=16992 && tcp.dstport<=16995 "
        "|| tcp.dstport==623 || tcp.dstport==664)' -T fields -e tcp.dstport | sort -u | wc -l");
    EXPECT_EQ(std::stoull(t.out), std::set<uint16_t>(ports.begin(), ports.end()).size());
  }
}

TEST(Corpus, OrdinaryCapturesRaiseNothing) {
  IRONROOT_REQUIRE_CORPUS(dir);
  for (const char* name :
       {"ndpi__android.pcap", "tcpreplay__test.pcap", "zeek__dhcp.pcap", "zeek__dhcp_inform.pcap",
        "zeek__dhcp_discover_param_req_and_client_id.pcap", "zeek__dhcp_time_and_nameserver.pcap",
        "suricata-verify__dhcp-eve-extended-option-60.pcap", "tcpdump__dhcp-rfc4388.pcap",
        "zeek__rfb_vncmac.pcap", "zeek__rfb_vnc-scanner.pcap",
        "suricata-verify__rfb-parser.pcap"}) {
    CaptureRun r = run_file(dir + "/pcap/" + name);
    EXPECT_TRUE(r.findings.empty()) << name << ": " << r.findings[0].message;
    EXPECT_GT(r.stats.flows, 0u) << name;
  }
}

TEST(Corpus, NullLinkTypeCaptureDecodesRfb) {
  IRONROOT_REQUIRE_CORPUS(dir);
  CaptureRun r = run_file(dir + "/pcap/suricata-verify__rfb-parser.pcap");
  ASSERT_FALSE(r.flows.empty());
  EXPECT_TRUE(r.flows[0].signatures & kSigRfb);
  EXPECT_EQ(r.stats.truncated + r.stats.malformed, 0u);
}

TEST(Corpus, DhcpFingerprintOfTheManifestClient) {
  IRONROOT_REQUIRE_CORPUS(dir);
  std::vector<DhcpClient> clients;
  (void)read_capture_file(
      dir + "/pcap/suricata-verify__dhcp-eve-extended-option-60.pcap", [&](const Frame& f) {
        Packet p;
        DhcpClient c;
        if (decode(f.data, f.link, &p) == DecodeStatus::kOk && parse_dhcp_request(p.payload, &c)) {
          clients.push_back(c);
        }
      });
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].vendor_class, "MSFT 5.0");
  EXPECT_NE(clients[0].fingerprint().find("|60=MSFT 5.0"), std::string::npos);
}

// A second DHCP stack on an enrolled host's MAC: the android capture's client with its own
// fingerprint, plus a DISCOVER from the same MAC with another option 55 list, made here.
TEST(Corpus, SecondDhcpFingerprintOnAnEnrolledMac) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto host = parse_host_identity("phone=4c:6a:f6:9f:f6:27");
  ASSERT_TRUE(host.ok());
  CaptureRun r = run_file(dir + "/pcap/ndpi__android.pcap", {*host});
  EXPECT_EQ(kinds(r).count("second_dhcp_client"), 0u);  // one stack: nothing
}

TEST(Capture, GarbageAndTruncatedFilesAreErrorsNamingTheProblem) {
  std::vector<uint8_t> junk(100, 0x41);
  auto r = read_capture_memory(junk, [](const Frame&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("capture in memory"), std::string::npos);
  IRONROOT_REQUIRE_CORPUS(dir);
  auto bytes = ironroot::testing::read_bytes(dir + "/pcap/ndpi__rmcp.pcap");
  bytes.resize(bytes.size() - 10);
  size_t n = 0;
  auto cut = read_capture_memory(bytes, [&](const Frame&) { ++n; });
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message().find("frame 6"), std::string::npos) << cut.error().message();
  EXPECT_EQ(n, 5u);
}

// ---- reconciliation ----

Flow flow(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, uint64_t t,
          uint8_t proto = kProtoTcp) {
  Flow f;
  f.src = ip(s);
  f.dst = ip(d);
  f.sport = sp;
  f.dport = dp;
  f.proto = proto;
  f.has_ports = true;
  f.has_mac = true;
  f.src_mac = kHostMac;
  f.dst_mac = kPeerMac;
  f.first_ns = f.last_ns = t;
  f.orig.packets = 1;
  return f;
}

HostFlowLog host_log(uint64_t start, uint64_t until) {
  HostFlowLog log;
  log.start_ns = start;
  log.covered_until_ns = until;
  return log;
}

void add_record(HostFlowLog* log, const std::string& line) {
  Status s = apply_host_flow_line(line, log);
  ASSERT_TRUE(s.ok()) << s.error().message();
}

TEST(Reconcile, AccountedUnaccountedPendingAndScores) {
  const uint64_t s = 1'000'000'000'000;
  auto host = *parse_host_identity("h1=02:00:00:00:00:02,10.0.0.2");
  HostFlowLog log = host_log(s, s + 10'000'000'000);
  add_record(&log, R"({"type":"flow","ts_ns":)" + std::to_string(s + 1'000'000'000) +
                       R"(,"source":"conntrack","event":"new","proto":6,"src":"10.0.0.2",)"
                       R"("dst":"10.0.0.1","sport":40000,"dport":443})");
  HostFlowIndex index(log);
  WireContext wire;
  ReconcileOptions o;

  EXPECT_EQ(judge(flow("10.0.0.2", 40000, "10.0.0.1", 443, s + 1'500'000'000), host, index, wire, o)
                .verdict,
            Verdict::kAccounted);
  // Same tuple, but far outside the window.
  EXPECT_EQ(judge(flow("10.0.0.2", 40000, "10.0.0.1", 443, s + 5'000'000'000), host, index, wire, o)
                .verdict,
            Verdict::kAccounted);  // the conntrack entry is still open (no destroy)
  Judgement amt =
      judge(flow("10.0.0.2", 16992, "10.0.0.1", 50000, s + 2'000'000'000), host, index, wire, o);
  ASSERT_EQ(amt.verdict, Verdict::kUnaccounted);
  EXPECT_EQ(amt.finding.kind, "unaccounted_traffic");
  Judgement web =
      judge(flow("10.0.0.2", 40001, "10.0.0.1", 8080, s + 2'000'000'000), host, index, wire, o);
  ASSERT_EQ(web.verdict, Verdict::kUnaccounted);
  EXPECT_GT(amt.finding.score, web.finding.score);
  // Not yet covered by the host records.
  EXPECT_EQ(judge(flow("10.0.0.2", 40002, "10.0.0.1", 80, s + 9'000'000'000), host, index, wire, o)
                .verdict,
            Verdict::kPending);
  // Neither the host's IP nor its MAC; then the host's MAC with another IP (a second address).
  Flow other = flow("10.0.0.9", 1, "10.0.0.1", 2, s + 1'000'000'000);
  other.src_mac = MacAddr{0x02, 0, 0, 0, 0, 0x09};
  EXPECT_EQ(judge(other, host, index, wire, o).verdict, Verdict::kNotHost);
  other.src_mac = kHostMac;
  EXPECT_EQ(judge(other, host, index, wire, o).verdict, Verdict::kUnaccounted);
  // The host silent on an inbound flow: a scanner's SYN is no evidence.
  Flow scan = flow("10.0.0.1", 5555, "10.0.0.2", 16992, s + 1'000'000'000);
  scan.src_mac = kPeerMac;
  scan.dst_mac = kHostMac;
  EXPECT_EQ(judge(scan, host, index, wire, o).verdict, Verdict::kNotHost);

  // A gap lowers the score.
  add_record(&log, R"({"type":"gap","start_ns":)" + std::to_string(s + 1'900'000'000) +
                       R"(,"end_ns":)" + std::to_string(s + 2'100'000'000) +
                       R"(,"reason":"conntrack: netlink overrun, ENOBUFS"})");
  HostFlowIndex with_gap(log);
  Judgement lowered =
      judge(flow("10.0.0.2", 40001, "10.0.0.1", 8080, s + 2'000'000'000), host, with_gap, wire, o);
  ASSERT_EQ(lowered.verdict, Verdict::kUnaccounted);
  EXPECT_LT(lowered.finding.score, web.finding.score);
}

TEST(Reconcile, ListenerAccountsForInboundConnections) {
  const uint64_t s = 1'000'000'000'000;
  auto host = *parse_host_identity("10.0.0.2");
  HostFlowLog log = host_log(s, s + 10'000'000'000);
  add_record(&log, R"({"type":"flow","ts_ns":)" + std::to_string(s) +
                       R"(,"source":"sock_diag","event":"listen","proto":6,"src":"0.0.0.0",)"
                       R"("dst":"0.0.0.0","sport":22,"dport":0})");
  HostFlowIndex index(log);
  Flow in = flow("10.0.0.1", 50000, "10.0.0.2", 22, s + 1'000'000'000);
  in.orig.packets = 1;
  in.resp.packets = 1;
  EXPECT_EQ(judge(in, host, index, {}, {}).verdict, Verdict::kAccounted);
  in.dport = 5900;
  Judgement vnc = judge(in, host, index, {}, {});
  ASSERT_EQ(vnc.verdict, Verdict::kUnaccounted);
  EXPECT_NE(vnc.finding.json().find("5900"), std::string::npos);
}

TEST(HostFlowLog, BadLinesAreErrorsNamingTheField) {
  HostFlowLog log;
  auto err = [&](const std::string& line) {
    Status s = apply_host_flow_line(line, &log);
    return s.ok() ? std::string() : s.error().message();
  };
  EXPECT_NE(err("{").find("not a JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"type":"nope"})").find("unknown record type"), std::string::npos);
  EXPECT_NE(err(R"({"type":"flow","ts_ns":1,"source":"c","event":"new","proto":6,"src":"x",)"
                R"("dst":"10.0.0.1","sport":1,"dport":2})")
                .find("field src"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"type":"flow","ts_ns":1,"source":"c","event":"new","proto":600,"src":"1.1.1.1",)"
          R"("dst":"10.0.0.1"})")
          .find("field proto"),
      std::string::npos);
  EXPECT_NE(err(R"({"type":"gap","start_ns":5,"end_ns":4})").find("end_ns"), std::string::npos);
  EXPECT_TRUE(log.records.empty());
}

// ---- host side, on this machine's real sockets ----

// A TCP listener on 127.0.0.1 and a free port, for the host-side accounting to find.
void listen_on_loopback(int* fd, uint16_t* port) {
  *fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(*fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(*fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
}

TEST(HostFlows, SockDiagSeesAListenerOpenedHere) {
  int fd = -1;
  uint16_t port = 0;
  ASSERT_NO_FATAL_FAILURE(listen_on_loopback(&fd, &port));
  auto snap = HostFlowRecorder::sock_diag_snapshot(realtime_ns());
  ::close(fd);
  ASSERT_TRUE(snap.ok()) << snap.error().message();
  bool found = false;
  for (const auto& r : *snap) {
    if (r.event == "listen" && r.proto == kProtoTcp && r.sport == port) found = true;
  }
  EXPECT_TRUE(found) << "port " << port;
}

// ---- NAT: the recorder reports the tuple the wire sees ----

// Creates (or, with destroy, removes) a conntrack entry for 10.251.0.2:41000 -> 192.0.2.80:443
// whose reply comes back to 198.51.100.7:52000: the kernel's record of a masqueraded container
// connection. Returns false when conntrack cannot be written here.
bool masqueraded_conntrack_entry(bool destroy) {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (h == nullptr) return false;
  nf_conntrack* ct = nfct_new();
  auto v4 = [](const char* s) {
    in_addr a{};
    ::inet_pton(AF_INET, s, &a);
    return a.s_addr;
  };
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u32(ct, ATTR_IPV4_SRC, v4("10.251.0.2"));
  nfct_set_attr_u32(ct, ATTR_IPV4_DST, v4("192.0.2.80"));
  nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(41000));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(443));
  nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, v4("192.0.2.80"));
  nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, v4("198.51.100.7"));
  nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(443));
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(52000));
  nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, 30);
  int rc = nfct_query(h, destroy ? NFCT_Q_DESTROY : NFCT_Q_CREATE, ct);
  nfct_destroy(ct);
  nfct_close(h);
  return rc == 0;
}

TEST(HostFlows, ConntrackGivesTheTranslatedTupleAndTheWireFlowMatchesIt) {
  masqueraded_conntrack_entry(/*destroy=*/true);  // left over from an interrupted run
  std::mutex mu;
  std::vector<HostFlowRecord> seen;
  HostFlowRecorderOptions o;
  o.host = "h1";
  o.sock_diag = false;
  auto rec = HostFlowRecorder::start(o, [&](const HostFlowEvent& e) {
    if (e.type != HostFlowEvent::Type::kFlow || e.record.sport != 41000) return;
    std::lock_guard lock(mu);
    seen.push_back(e.record);
  });
  if (!rec.ok()) GTEST_SKIP() << "conntrack not available: " << rec.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // subscribed
  ASSERT_TRUE(masqueraded_conntrack_entry(false)) << "conntrack is readable but not writable";
  HostFlowRecord r;
  for (int i = 0; i < 250; ++i) {  // up to 5 s
    {
      std::lock_guard lock(mu);
      if (!seen.empty()) {
        r = seen.front();
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  masqueraded_conntrack_entry(/*destroy=*/true);
  (*rec)->stop();
  ASSERT_EQ(r.source, "conntrack") << "no event for the entry";
  EXPECT_EQ(r.src, ip("10.251.0.2"));
  ASSERT_TRUE(r.nat);
  EXPECT_EQ(r.nat_src, ip("198.51.100.7"));
  EXPECT_EQ(r.nat_dst, ip("192.0.2.80"));
  EXPECT_EQ(r.nat_sport, 52000);
  EXPECT_EQ(r.nat_dport, 443);
  EXPECT_EQ(r.nat_community_id, community_id(ip("198.51.100.7"), ip("192.0.2.80"), 6, 52000, 443));

  // Through the JSON lines (what the agent sends), then the index the sensor judges with: the
  // wire flow from the host's outside address is accounted for by the translated tuple.
  HostFlowLog context;
  context.host = "h1";
  HostFlowEvent start;
  start.type = HostFlowEvent::Type::kStart;
  start.ts_ns = r.ts_ns - 1'000'000'000;
  HostFlowEvent flow;
  flow.type = HostFlowEvent::Type::kFlow;
  flow.ts_ns = r.ts_ns;
  flow.record = r;
  HostFlowLog log;
  ASSERT_TRUE(apply_host_flow_line(start.json(context), &log).ok());
  ASSERT_TRUE(apply_host_flow_line(flow.json(context), &log).ok()) << flow.json(context);
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.records[0].nat_community_id, r.nat_community_id);
  HostFlowIndex index(log);
  EXPECT_TRUE(index.has_record(r.nat_community_id, r.ts_ns, r.ts_ns + 1));
  EXPECT_TRUE(index.has_record(r.community_id, r.ts_ns, r.ts_ns + 1));
  EXPECT_FALSE(index.has_record(community_id(ip("198.51.100.7"), ip("192.0.2.80"), 6, 52001, 443),
                                r.ts_ns, r.ts_ns + 1));

  // A nat object that is not one is refused, naming the field.
  auto bad = nlohmann::json::parse(flow.json(context));
  bad["nat"]["src"] = "2001:db8::1";
  auto st = apply_host_flow_line(bad.dump(), &log);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("nat"), std::string::npos) << st.error().message();
}

// ---- host side without conntrack: sock_diag goes on, and the outage is reported as a gap ----

// Clears CAP_NET_ADMIN from this thread's effective set (capabilities are per thread), as an
// agent runs without it: the kernel then refuses conntrack's netlink event groups.
bool drop_net_admin_in_this_thread() {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (::syscall(SYS_capget, &h, d) != 0) return false;
  d[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
  return ::syscall(SYS_capset, &h, d) == 0;
}

TEST(HostFlows, WithoutConntrackTheOutageIsAGapAndFindingsThenScoreLower) {
  int fd = -1;
  uint16_t port = 0;
  ASSERT_NO_FATAL_FAILURE(listen_on_loopback(&fd, &port));

  HostFlowLog context;
  context.host = "h1";
  std::mutex mu;
  std::vector<std::string> lines;
  HostFlowRecorderOptions o;
  o.host = "h1";
  o.snapshot_ms = 100;
  o.heartbeat_ms = 50;
  Result<std::unique_ptr<HostFlowRecorder>> rec = Error(ErrorCode::kIo, "not started");
  bool dropped = false;
  // The recorder's thread inherits the starting thread's capabilities; this thread keeps its own.
  std::thread starter([&] {
    dropped = drop_net_admin_in_this_thread();
    if (!dropped) return;
    rec = HostFlowRecorder::start(o, [&](const HostFlowEvent& e) {
      std::lock_guard lock(mu);
      lines.push_back(e.json(context));
    });
  });
  starter.join();
  ASSERT_TRUE(dropped) << "capset";
  ASSERT_TRUE(rec.ok()) << "sock_diag alone must be enough: " << rec.error().message();
  // At least 600 ms, and until five gap pieces came (a loaded sanitizer run is slow to make them).
  const auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto gap_pieces = [&] {
    std::lock_guard lock(mu);
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
      return l.find("\"type\":\"gap\"") != std::string::npos;
    });
  };
  while (gap_pieces() < 5 && std::chrono::steady_clock::now() - began < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*rec)->stop();
  ::close(fd);
  HostFlowLog recorded = (*rec)->snapshot();

  std::vector<std::string> copy;
  {
    std::lock_guard lock(mu);
    copy = lines;
  }
  HostFlowLog log;
  int gap_lines = 0, heartbeats = 0, conntrack_records = 0;
  bool saw_listener = false;
  for (const auto& l : copy) {
    ASSERT_TRUE(apply_host_flow_line(l, &log).ok()) << l;
    auto j = nlohmann::json::parse(l);
    gap_lines += j["type"] == "gap";
    heartbeats += j["type"] == "heartbeat";
    conntrack_records += j.value("source", "") == "conntrack";
    saw_listener |= j.value("event", "") == "listen" && j.value("sport", 0) == port;
  }
  EXPECT_TRUE(saw_listener) << "sock_diag went on without conntrack";
  EXPECT_EQ(conntrack_records, 0);
  // The gap stands in for every heartbeat, so it reaches as far as the coverage does; the
  // pieces merge into one gap from the start of recording on.
  EXPECT_EQ(heartbeats, 0);
  EXPECT_GT(gap_lines, 4);
  ASSERT_EQ(log.gaps.size(), 1u);
  EXPECT_EQ(log.gaps[0].reason.rfind("conntrack unavailable: ", 0), 0u) << log.gaps[0].reason;
  EXPECT_NE(log.gaps[0].reason.find("CAP_NET_ADMIN"), std::string::npos) << log.gaps[0].reason;
  EXPECT_EQ(log.gaps[0].start_ns, log.start_ns);
  EXPECT_EQ(log.gaps[0].end_ns, log.covered_until_ns);
  EXPECT_GT(log.covered_until_ns, log.start_ns + 400'000'000u);
  ASSERT_EQ(recorded.gaps.size(), 1u);
  EXPECT_EQ(recorded.gaps[0].start_ns, log.gaps[0].start_ns);

  // An AMT flow the host did not account for while conntrack was missing: a finding, lowered.
  auto host = *parse_host_identity("h1=02:00:00:00:00:02,10.9.9.2");
  ReconcileOptions ro;
  ro.window_ns = 50'000'000;
  const uint64_t t = log.start_ns + 200'000'000;
  Judgement during =
      judge(flow("10.9.9.2", 16992, "10.9.9.1", 50000, t), host, HostFlowIndex(log), {}, ro);
  ASSERT_EQ(during.verdict, Verdict::kUnaccounted);
  HostFlowLog no_gap = log;
  no_gap.gaps.clear();
  Judgement without =
      judge(flow("10.9.9.2", 16992, "10.9.9.1", 50000, t), host, HostFlowIndex(no_gap), {}, ro);
  ASSERT_EQ(without.verdict, Verdict::kUnaccounted);
  EXPECT_LT(during.finding.score, without.finding.score);
  std::string why;
  for (const auto& r : during.finding.reasons) why += r + "\n";
  EXPECT_NE(why.find("conntrack unavailable"), std::string::npos) << why;
}

}  // namespace
}  // namespace ironroot::sensor
