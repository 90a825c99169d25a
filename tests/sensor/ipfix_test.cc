// IPFIX export: messages decoded here field by field (IPv4, IPv6, ICMP, MTU splitting, sequence
// numbers, template refresh), real UDP and file destinations, and Wireshark's decoder as the peer
// (text2pcap + tshark) on flows built here and on a corpus capture run through the CLI.
#include "sensor/ipfix.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sensor/flow_table.h"
#include "sensor/helpers.h"
#include "sensor/packet.h"
#include "support/corpus.h"

namespace ironroot::sensor {
namespace {

namespace fs = std::filesystem;
using ironroot::testing::have_program;
using ironroot::testing::run;

using sensor::testing::ip;

// Fields set by name: the Flow struct's member order is not part of its contract.
Flow make_flow(const std::string& src, const std::string& dst, uint8_t proto, uint16_t sport,
               uint16_t dport, uint64_t seed) {
  Flow f;
  f.src = ip(src);
  f.dst = ip(dst);
  f.proto = proto;
  f.sport = sport;
  f.dport = dport;
  f.has_ports = true;
  f.vlan = static_cast<uint16_t>(100 + seed % 4000);
  f.has_mac = true;
  f.src_mac = {0x02, 0x11, 0x22, 0x33, 0x44, static_cast<uint8_t>(seed)};
  f.dst_mac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, static_cast<uint8_t>(seed + 1)};
  f.orig.packets = 10 + seed;
  f.orig.bytes = 1000 + 7 * seed;
  f.orig.tcp_flags = proto == kProtoTcp ? (kTcpSyn | kTcpAck) : 0;
  f.resp.packets = 5 + seed;
  f.resp.bytes = 5'000'000'000ULL + seed;  // needs all 8 bytes
  f.resp.tcp_flags = proto == kProtoTcp ? (kTcpSyn | kTcpAck | kTcpFin) : 0;
  f.first_ns = 1'700'000'000'123'456'789ULL + seed * 1'000'000'000ULL;
  f.last_ns = f.first_ns + 2'500'000'000ULL;
  return f;
}

// ---- a decoder of our own (RFC 7011 sections 3.1-3.4) ----

struct FieldSpec {
  uint16_t id;
  uint16_t len;
  uint32_t pen;
};
using Key = std::pair<uint32_t, uint16_t>;  // (PEN, element id); PEN 0 = IANA

struct Record {
  uint16_t template_id;
  std::map<Key, std::vector<uint8_t>> values;
  uint64_t num(uint16_t id, uint32_t pen = 0) const {
    auto it = values.find({pen, id});
    EXPECT_NE(it, values.end()) << "element " << id << " pen " << pen;
    if (it == values.end()) return ~0ULL;
    uint64_t v = 0;
    for (uint8_t b : it->second) v = v << 8 | b;
    return v;
  }
  std::vector<uint8_t> raw(uint16_t id) const {
    auto it = values.find({0, id});
    return it == values.end() ? std::vector<uint8_t>{} : it->second;
  }
};

struct Message {
  uint16_t version = 0, length = 0;
  uint32_t export_time = 0, sequence = 0, domain = 0;
  bool has_templates = false;
  std::vector<Record> records;
};

struct Decoder {
  std::map<uint16_t, std::vector<FieldSpec>> templates;

  static uint32_t be(const std::vector<uint8_t>& b, size_t at, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | b.at(at + i);
    return v;
  }

  Message decode(const std::vector<uint8_t>& m) {
    Message out;
    EXPECT_GE(m.size(), 16u);
    if (m.size() < 16) return out;
    out.version = static_cast<uint16_t>(be(m, 0, 2));
    out.length = static_cast<uint16_t>(be(m, 2, 2));
    out.export_time = be(m, 4, 4);
    out.sequence = be(m, 8, 4);
    out.domain = be(m, 12, 4);
    EXPECT_EQ(out.length, m.size());
    size_t off = 16;
    while (off + 4 <= m.size()) {
      const uint16_t set_id = static_cast<uint16_t>(be(m, off, 2));
      const uint16_t set_len = static_cast<uint16_t>(be(m, off + 2, 2));
      EXPECT_GE(set_len, 4u);
      EXPECT_LE(off + set_len, m.size());
      if (set_len < 4 || off + set_len > m.size()) break;
      const size_t end = off + set_len;
      size_t p = off + 4;
      if (set_id == 2) {
        out.has_templates = true;
        while (p + 4 <= end) {
          const uint16_t tid = static_cast<uint16_t>(be(m, p, 2));
          const uint16_t count = static_cast<uint16_t>(be(m, p + 2, 2));
          p += 4;
          std::vector<FieldSpec> fields;
          for (uint16_t i = 0; i < count; ++i) {
            uint16_t id = static_cast<uint16_t>(be(m, p, 2));
            const uint16_t len = static_cast<uint16_t>(be(m, p + 2, 2));
            p += 4;
            uint32_t pen = 0;
            if (id & 0x8000) {
              pen = be(m, p, 4);
              p += 4;
              id &= 0x7fff;
            }
            fields.push_back({id, len, pen});
          }
          templates[tid] = fields;
        }
      } else {
        EXPECT_GE(set_id, 256u);
        auto t = templates.find(set_id);
        EXPECT_NE(t, templates.end()) << "data set " << set_id << " before its template";
        if (t == templates.end()) return out;
        size_t rec_len = 0;
        for (const auto& f : t->second) rec_len += f.len;
        while (p + rec_len <= end) {
          Record r{set_id, {}};
          for (const auto& f : t->second) {
            r.values[{f.pen, f.id}] = {m.begin() + static_cast<ptrdiff_t>(p),
                                       m.begin() + static_cast<ptrdiff_t>(p + f.len)};
            p += f.len;
          }
          out.records.push_back(std::move(r));
        }
        EXPECT_EQ(p, end) << "padding in a data set";
      }
      off = end;
    }
    EXPECT_EQ(off, m.size());
    return out;
  }
};

struct Collected {
  std::vector<std::vector<uint8_t>> messages;
  IpfixExporter::MessageSink sink() {
    return [this](Bytes m) {
      messages.emplace_back(m.begin(), m.end());
      return Status();
    };
  }
};

std::unique_ptr<IpfixExporter> exporter(Collected* c, IpfixOptions o = {}) {
  if (!o.clock) o.clock = [] { return 1'700'000'123u; };
  auto e = IpfixExporter::create(o, c->sink());
  EXPECT_TRUE(e.ok()) << e.error().message();
  return std::move(*e);
}

void expect_record(const Record& r, const Flow& f, FlowEndReason reason) {
  const bool v6 = f.src.family == 6;
  EXPECT_EQ(r.template_id, v6 ? kIpfixTemplateV6 : kIpfixTemplateV4);
  const size_t n = v6 ? 16 : 4;
  EXPECT_EQ(r.raw(v6 ? 27 : 8), std::vector<uint8_t>(f.src.bytes.begin(), f.src.bytes.begin() + n));
  EXPECT_EQ(r.raw(v6 ? 28 : 12),
            std::vector<uint8_t>(f.dst.bytes.begin(), f.dst.bytes.begin() + n));
  const bool icmp = f.proto == kProtoIcmp || f.proto == kProtoIcmp6;
  EXPECT_EQ(r.num(7), icmp ? 0u : f.sport);
  EXPECT_EQ(r.num(11), icmp ? 0u : f.dport);
  EXPECT_EQ(r.num(v6 ? 139 : 32), icmp ? (uint64_t{f.sport} << 8 | f.dport) : 0u);
  EXPECT_EQ(r.num(4), f.proto);
  EXPECT_EQ(r.num(58), f.vlan);
  EXPECT_EQ(r.raw(56), std::vector<uint8_t>(f.src_mac.begin(), f.src_mac.end()));
  EXPECT_EQ(r.raw(80), std::vector<uint8_t>(f.dst_mac.begin(), f.dst_mac.end()));
  EXPECT_EQ(r.num(2), f.orig.packets);
  EXPECT_EQ(r.num(352), f.orig.bytes);
  EXPECT_EQ(r.num(6), f.orig.tcp_flags);
  EXPECT_EQ(r.num(152), f.first_ns / 1'000'000);
  EXPECT_EQ(r.num(153), f.last_ns / 1'000'000);
  EXPECT_EQ(r.num(136), static_cast<uint64_t>(reason));
  EXPECT_EQ(r.num(2, kIpfixReversePen), f.resp.packets);
  EXPECT_EQ(r.num(352, kIpfixReversePen), f.resp.bytes);
  EXPECT_EQ(r.num(6, kIpfixReversePen), f.resp.tcp_flags);
  EXPECT_EQ(r.values.size(), 18u);
}

TEST(Ipfix, RoundTripEveryFieldIpv4Ipv6Icmp) {
  Collected c;
  auto e = exporter(&c, {.observation_domain_id = 0xdeadbeef});
  const Flow v4 = make_flow("192.0.2.10", "198.51.100.7", kProtoTcp, 40001, 16992, 1);
  const Flow v6 = make_flow("2001:db8::1", "2001:db8:ffff::abcd", kProtoUdp, 5353, 623, 2);
  Flow icmp = make_flow("10.0.0.1", "10.0.0.2", kProtoIcmp, 8, 0, 3);
  Flow icmp6 = make_flow("fe80::1", "fe80::2", kProtoIcmp6, 128, 0, 4);
  Flow noport = make_flow("10.1.12.1", "10.1.12.2", 46, 0, 0, 5);
  noport.has_ports = false;
  noport.has_mac = false;
  noport.src_mac = {};
  noport.dst_mac = {};
  ASSERT_TRUE(e->add(v4, FlowEndReason::kIdleTimeout));
  ASSERT_TRUE(e->add(v6, FlowEndReason::kForcedEnd));
  ASSERT_TRUE(e->add(icmp, FlowEndReason::kActiveTimeout));
  ASSERT_TRUE(e->add(icmp6, FlowEndReason::kEndOfFlow));
  ASSERT_TRUE(e->add(noport, FlowEndReason::kIdleTimeout));
  Flow none;  // no address family: not exportable, not counted
  ASSERT_TRUE(e->add(none, FlowEndReason::kIdleTimeout));
  EXPECT_TRUE(c.messages.empty());  // buffered until flushed
  ASSERT_TRUE(e->flush());
  ASSERT_EQ(c.messages.size(), 1u);
  Decoder d;
  Message m = d.decode(c.messages[0]);
  EXPECT_EQ(m.version, 10);
  EXPECT_EQ(m.export_time, 1'700'000'123u);
  EXPECT_EQ(m.sequence, 0u);
  EXPECT_EQ(m.domain, 0xdeadbeefu);
  EXPECT_TRUE(m.has_templates);
  ASSERT_EQ(d.templates.size(), 2u);
  // The templates name exactly these elements; three are RFC 5103 reverse ones.
  for (uint16_t tid : {kIpfixTemplateV4, kIpfixTemplateV6}) {
    std::set<Key> ids;
    for (const auto& f : d.templates[tid]) ids.insert({f.pen, f.id});
    const bool six = tid == kIpfixTemplateV6;
    std::set<Key> want = {{0, uint16_t(six ? 27 : 8)},
                          {0, uint16_t(six ? 28 : 12)},
                          {0, 7},
                          {0, 11},
                          {0, 4},
                          {0, 58},
                          {0, 56},
                          {0, 80},
                          {0, 2},
                          {0, 352},
                          {0, 6},
                          {0, 152},
                          {0, 153},
                          {0, 136},
                          {0, uint16_t(six ? 139 : 32)},
                          {29305, 2},
                          {29305, 352},
                          {29305, 6}};
    EXPECT_EQ(ids, want) << tid;
  }
  ASSERT_EQ(m.records.size(), 5u);
  expect_record(m.records[0], v4, FlowEndReason::kIdleTimeout);
  expect_record(m.records[1], v6, FlowEndReason::kForcedEnd);
  expect_record(m.records[2], icmp, FlowEndReason::kActiveTimeout);
  expect_record(m.records[3], icmp6, FlowEndReason::kEndOfFlow);
  expect_record(m.records[4], noport, FlowEndReason::kIdleTimeout);
  EXPECT_EQ(e->sequence(), 5u);
  EXPECT_EQ(e->records(), 5u);

  // The next message carries on the sequence and, for a file, no templates.
  ASSERT_TRUE(e->add(v4, FlowEndReason::kIdleTimeout));
  ASSERT_TRUE(e->flush());
  ASSERT_EQ(c.messages.size(), 2u);
  Message m2 = d.decode(c.messages[1]);
  EXPECT_EQ(m2.sequence, 5u);
  EXPECT_FALSE(m2.has_templates);
  ASSERT_EQ(m2.records.size(), 1u);
  expect_record(m2.records[0], v4, FlowEndReason::kIdleTimeout);
  ASSERT_TRUE(e->flush());  // nothing pending: nothing sent
  EXPECT_EQ(c.messages.size(), 2u);
}

TEST(Ipfix, MessagesStayWithinTheMtuAndSequenceCountsRecords) {
  Collected c;
  auto e = exporter(&c, {.mtu = 512});
  std::vector<Flow> flows;
  for (uint64_t i = 0; i < 97; ++i) {
    flows.push_back(i % 3 == 0 ? make_flow("2001:db8::" + std::to_string(i + 1), "2001:db8::ffff",
                                           kProtoTcp, static_cast<uint16_t>(1000 + i), 443, i)
                               : make_flow("10.0.0." + std::to_string(i + 1), "10.9.9.9", kProtoUdp,
                                           static_cast<uint16_t>(2000 + i), 53, i));
    ASSERT_TRUE(e->add(flows.back(), FlowEndReason::kIdleTimeout));
  }
  ASSERT_TRUE(e->flush());
  ASSERT_GT(c.messages.size(), 10u);
  Decoder d;
  uint32_t expected_seq = 0;
  size_t k = 0;
  for (size_t i = 0; i < c.messages.size(); ++i) {
    EXPECT_LE(c.messages[i].size(), 512u) << i;
    Message m = d.decode(c.messages[i]);
    EXPECT_EQ(m.has_templates, i == 0) << i;  // a file: templates once, at the start
    EXPECT_EQ(m.sequence, expected_seq) << i;
    EXPECT_FALSE(m.records.empty()) << i;
    expected_seq += static_cast<uint32_t>(m.records.size());
    for (const auto& r : m.records) expect_record(r, flows[k++], FlowEndReason::kIdleTimeout);
  }
  EXPECT_EQ(k, flows.size());
  EXPECT_EQ(e->sequence(), 97u);
  // A message is only cut when the next record would not fit.
  for (size_t i = 0; i + 1 < c.messages.size(); ++i)
    EXPECT_GT(c.messages[i].size() + IpfixExporter::record_size(6) + 4, 512u) << i;
}

TEST(Ipfix, UdpTemplatesAreSentAgainByTimeAndByCount) {
  Collected c;
  uint32_t now = 1000;
  auto e = exporter(&c, {.template_interval_s = 600, .clock = [&] { return now; }});
  const Flow f = make_flow("192.0.2.1", "192.0.2.2", kProtoTcp, 1, 2, 1);
  auto send = [&] {
    ASSERT_TRUE(e->add(f, FlowEndReason::kIdleTimeout));
    ASSERT_TRUE(e->flush());
  };
  send();  // t=1000: templates (first)
  now = 1599;
  send();  // 599 s later: none
  now = 1600;
  send();  // 600 s: again
  now = 1700;
  send();
  Decoder d;
  std::vector<bool> has;
  for (const auto& m : c.messages) has.push_back(d.decode(m).has_templates);
  EXPECT_EQ(has, (std::vector<bool>{true, false, true, false}));

  Collected c2;
  auto e2 = exporter(&c2, {.template_every_messages = 3});
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(e2->add(f, FlowEndReason::kIdleTimeout));
    ASSERT_TRUE(e2->flush());
  }
  Decoder d2;
  has.clear();
  for (const auto& m : c2.messages) has.push_back(d2.decode(m).has_templates);
  EXPECT_EQ(has, (std::vector<bool>{true, false, false, true, false, false, true}));
}

TEST(Ipfix, AnEmptyStreamStillCarriesItsTemplates) {
  Collected c;
  auto e = exporter(&c);
  ASSERT_TRUE(e->flush());
  ASSERT_EQ(c.messages.size(), 1u);
  Decoder d;
  Message m = d.decode(c.messages[0]);
  EXPECT_TRUE(m.has_templates);
  EXPECT_TRUE(m.records.empty());
  EXPECT_EQ(d.templates.size(), 2u);
}

TEST(Ipfix, SinkErrorsAreReturnedAndTheSequenceStillCounts) {
  int calls = 0;
  auto e = IpfixExporter::create({.clock = [] { return 1u; }}, [&](Bytes) -> Status {
    ++calls;
    return Error(ErrorCode::kIo, "collector gone");
  });
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)->add(make_flow("192.0.2.1", "192.0.2.2", kProtoUdp, 1, 2, 1),
                        FlowEndReason::kIdleTimeout));
  Status s = (*e)->flush();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "collector gone");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*e)->sequence(), 1u);  // the collector sees the gap
}

TEST(Ipfix, BadOptionsAndDestinationsAreRefusedWithReasons) {
  auto small = IpfixExporter::create({.mtu = 100}, [](Bytes) { return Status(); });
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message().find("MTU 100"), std::string::npos);
  EXPECT_FALSE(IpfixExporter::create({.mtu = 70000}, [](Bytes) { return Status(); }).ok());

  struct Bad {
    const char* spec;
    const char* says;
  } bad[] = {
      {"udp://127.0.0.1", "udp://HOST:PORT"},
      {"udp://127.0.0.1:0", "port"},
      {"udp://127.0.0.1:99999", "port"},
      {"udp://127.0.0.1:47x", "port"},
      {"udp://::1:4739", "brackets"},
      {"udp://[::1]4739", "[IPv6]:PORT"},
      {"udp://no-such-host.invalid:4739", "cannot resolve 'no-such-host.invalid'"},
      {"tcp://127.0.0.1:4739", "only udp://"},
      {"/nonexistent-dir/x.ipfix", "cannot open"},
  };
  for (const auto& b : bad) {
    auto d = IpfixDestination::open(b.spec);
    ASSERT_FALSE(d.ok()) << b.spec;
    EXPECT_NE(d.error().message().find(b.spec), std::string::npos) << d.error().message();
    EXPECT_NE(d.error().message().find(b.says), std::string::npos) << d.error().message();
  }
}

TEST(Ipfix, FlowEndReasonSeesTcpClose) {
  Flow f = make_flow("192.0.2.1", "192.0.2.2", kProtoTcp, 1, 2, 1);
  f.orig.tcp_flags = kTcpSyn | kTcpAck;
  f.resp.tcp_flags = kTcpSyn | kTcpAck;
  EXPECT_EQ(flow_end_reason(f, FlowEndReason::kIdleTimeout), FlowEndReason::kIdleTimeout);
  f.orig.tcp_flags |= kTcpFin;  // half closed
  EXPECT_EQ(flow_end_reason(f, FlowEndReason::kForcedEnd), FlowEndReason::kForcedEnd);
  f.resp.tcp_flags |= kTcpFin;
  EXPECT_EQ(flow_end_reason(f, FlowEndReason::kIdleTimeout), FlowEndReason::kEndOfFlow);
  EXPECT_EQ(flow_end_reason(f, FlowEndReason::kActiveTimeout), FlowEndReason::kActiveTimeout);
  f.resp.tcp_flags = kTcpRst;
  f.orig.tcp_flags = kTcpSyn;
  EXPECT_EQ(flow_end_reason(f, FlowEndReason::kForcedEnd), FlowEndReason::kEndOfFlow);
  Flow u = make_flow("192.0.2.1", "192.0.2.2", kProtoUdp, 1, 2, 1);
  u.orig.tcp_flags = kTcpRst;  // not TCP: flags mean nothing
  EXPECT_EQ(flow_end_reason(u, FlowEndReason::kIdleTimeout), FlowEndReason::kIdleTimeout);
}

// A collector socket on loopback: what the destination sends arrives byte for byte.
void udp_round_trip(int family, const std::string& host) {
  int s = ::socket(family, SOCK_DGRAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  if (::bind(s, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(s);
    GTEST_SKIP() << "no loopback for family " << family;
  }
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  const uint16_t port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                                : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  timeval tv{5, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto d = IpfixDestination::open("udp://" + host + ":" + std::to_string(port));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_TRUE((*d)->is_udp());
  Collected c;
  auto e = exporter(&c);
  ASSERT_TRUE(
      e->add(make_flow("192.0.2.1", "192.0.2.2", kProtoTcp, 1, 2, 1), FlowEndReason::kIdleTimeout));
  ASSERT_TRUE(e->flush());
  ASSERT_TRUE((*d)->send(Bytes(c.messages[0].data(), c.messages[0].size())));
  std::vector<uint8_t> got(65536);
  ssize_t n = ::recv(s, got.data(), got.size(), 0);
  ::close(s);
  ASSERT_GT(n, 0);
  got.resize(static_cast<size_t>(n));
  EXPECT_EQ(got, c.messages[0]);
}

TEST(Ipfix, UdpDestinationIpv4) {
  udp_round_trip(AF_INET, "127.0.0.1");
}
TEST(Ipfix, UdpDestinationIpv6) {
  udp_round_trip(AF_INET6, "[::1]");
}

// ---- Wireshark as the peer ----

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "ironroot-ipfix-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Splits an RFC 5655 file back into messages by their length fields.
std::vector<std::vector<uint8_t>> split_file(const std::vector<uint8_t>& b) {
  std::vector<std::vector<uint8_t>> out;
  size_t off = 0;
  while (off + 4 <= b.size()) {
    size_t len = size_t{b[off + 2]} << 8 | b[off + 3];
    EXPECT_GE(len, 16u);
    if (len < 16 || off + len > b.size()) break;
    out.emplace_back(b.begin() + static_cast<ptrdiff_t>(off),
                     b.begin() + static_cast<ptrdiff_t>(off + len));
    off += len;
  }
  EXPECT_EQ(off, b.size());
  return out;
}

// The IPFIX file as UDP datagrams to port 4739 in a pcap (text2pcap reads an od-style dump;
// each message starts again at offset 0, which makes it a new packet).
std::string to_pcap(const std::string& ipfix_file, const std::string& dir) {
  const std::string hex = dir + "/ipfix.hex", pcap = dir + "/ipfix.pcap";
  std::ofstream out(hex);
  for (const auto& m : split_file(ironroot::testing::read_bytes(ipfix_file))) {
    for (size_t i = 0; i < m.size(); ++i) {
      char buf[32];
      if (i % 16 == 0) {
        std::snprintf(buf, sizeof buf, "%s%06zx", i ? "\n" : "", i);
        out << buf;
      }
      std::snprintf(buf, sizeof buf, " %02x", m[i]);
      out << buf;
    }
    out << "\n";
  }
  out.close();
  auto r = run("text2pcap -q -u 4739,4739 " + hex + " " + pcap);
  EXPECT_EQ(r.status, 0);
  return pcap;
}

// tshark's view of the IPFIX packets: every data record ("Flow N" in each "Set"), and in `bad`
// any malformed-packet or expert-info item it raised.
struct TsharkView {
  std::vector<nlohmann::json> records;
  std::vector<nlohmann::json> headers;  // cflow layer of each packet
  std::string bad;
};

void find_problems(const nlohmann::json& j, std::string* bad) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k.starts_with("_ws.malformed") || k.starts_with("_ws.expert")) *bad += k + "=" + v.dump();
      find_problems(v, bad);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) find_problems(v, bad);
  }
}

TsharkView tshark_view(const std::string& pcap) {
  TsharkView view;
  auto r = run("tshark -n -r " + pcap + " -d udp.port==4739,cflow -T json --no-duplicate-keys");
  EXPECT_EQ(r.status, 0);
  auto packets = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(packets.is_array()) << r.out.substr(0, 200);
  if (!packets.is_array()) return view;
  for (const auto& p : packets) {
    const auto& layers = p["_source"]["layers"];
    find_problems(layers, &view.bad);
    EXPECT_TRUE(layers.contains("cflow"));
    if (!layers.contains("cflow")) continue;
    const auto& cflow = layers["cflow"];
    view.headers.push_back(cflow);
    for (const auto& [set_name, set] : cflow.items()) {
      if (!set_name.starts_with("Set ") || !set.is_object()) continue;
      for (const auto& [name, rec] : set.items())
        if (name.starts_with("Flow ")) view.records.push_back(rec);
    }
  }
  return view;
}

// A record's field as text; the forward value when tshark lists forward and reverse together.
std::string field(const nlohmann::json& rec, const std::string& name, size_t i = 0) {
  if (!rec.contains(name)) return "";
  const auto& v = rec[name];
  if (v.is_array()) return i < v.size() ? v[i].get<std::string>() : "";
  return i == 0 ? v.get<std::string>() : "";
}

std::string key_of(const nlohmann::json& rec) {
  return field(rec, "cflow.srcaddr") + field(rec, "cflow.srcaddrv6") + " " +
         field(rec, "cflow.dstaddr") + field(rec, "cflow.dstaddrv6") + " " +
         field(rec, "cflow.srcport") + " " + field(rec, "cflow.dstport") + " " +
         field(rec, "cflow.protocol");
}

bool have_wireshark() {
  return have_program("tshark") && have_program("text2pcap");
}

TEST(IpfixPeer, WiresharkDecodesWhatWeExport) {
  if (!have_wireshark()) GTEST_SKIP() << "tshark / text2pcap not installed";
  TempDir dir;
  const std::string file = dir.path + "/flows.ipfix";
  auto dest = IpfixDestination::open(file);
  ASSERT_TRUE(dest.ok()) << dest.error().message();
  auto e = IpfixExporter::create({.observation_domain_id = 77, .mtu = 600},
                                 [&](Bytes m) { return (*dest)->send(m); });
  ASSERT_TRUE(e.ok());
  std::vector<Flow> flows;
  for (uint64_t i = 0; i < 12; ++i) {
    flows.push_back(i % 2 ? make_flow("2001:db8::" + std::to_string(i + 1), "2001:db8:1::2",
                                      kProtoUdp, static_cast<uint16_t>(30000 + i), 623, i)
                          : make_flow("192.0.2." + std::to_string(i + 1), "198.51.100.2", kProtoTcp,
                                      static_cast<uint16_t>(40000 + i), 16992, i));
    ASSERT_TRUE((*e)->add(flows.back(), FlowEndReason::kIdleTimeout));
  }
  ASSERT_TRUE((*e)->flush());
  ASSERT_GT((*e)->messages(), 2u);  // several packets, the templates only in the first
  dest->reset();
  TsharkView view = tshark_view(to_pcap(file, dir.path));
  EXPECT_EQ(view.bad, "") << "tshark reports malformed packets or expert info";
  ASSERT_EQ(view.headers.size(), (*e)->messages());
  uint64_t seq = 0;
  for (const auto& h : view.headers) {
    EXPECT_EQ(h["cflow.version"], "10");
    EXPECT_EQ(h["cflow.od_id"], "77");
    EXPECT_EQ(h["cflow.sequence"], std::to_string(seq));
    for (const auto& [name, set] : h.items())
      if (name.starts_with("Set ") && set.is_object())
        for (const auto& [n, rec] : set.items()) seq += n.starts_with("Flow ");
  }
  std::multiset<std::string> got, want;
  for (const auto& r : view.records) {
    got.insert(key_of(r) + " vlan " + field(r, "cflow.vlanid") + " " + field(r, "cflow.srcmac") +
               " " + field(r, "cflow.dstmac") + " end " + field(r, "cflow.flow_end_reason") +
               " pkts " + field(r, "cflow.packets") + "/" + field(r, "cflow.packets", 1) +
               " bytes " + field(r, "cflow.layer2_octet_delta_count") + "/" +
               field(r, "cflow.layer2_octet_delta_count", 1) + " flags " +
               field(r, "cflow.tcpflags") + "/" + field(r, "cflow.tcpflags", 1));
  }
  for (const auto& f : flows) {
    char flags[32];
    std::snprintf(flags, sizeof flags, "0x%04x/0x%04x", f.orig.tcp_flags, f.resp.tcp_flags);
    want.insert(f.src.str() + " " + f.dst.str() + " " + std::to_string(f.sport) + " " +
                std::to_string(f.dport) + " " + std::to_string(f.proto) + " vlan " +
                std::to_string(f.vlan) + " " + mac_str(f.src_mac) + " " + mac_str(f.dst_mac) +
                " end 1 pkts " + std::to_string(f.orig.packets) + "/" +
                std::to_string(f.resp.packets) + " bytes " + std::to_string(f.orig.bytes) + "/" +
                std::to_string(f.resp.bytes) + " flags " + flags);
  }
  EXPECT_EQ(got, want);
}

// The whole path: a corpus capture through `ironroot sensor --ipfix FILE`, its flows (as the
// --flows JSON lines show them) against what tshark decodes from the IPFIX file.
TEST(IpfixPeer, CorpusCaptureThroughTheCliAgreesWithTshark) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  if (!have_wireshark()) GTEST_SKIP() << "tshark / text2pcap not installed";
  TempDir dir;
  const std::string file = dir.path + "/corpus.ipfix";
  auto r = run(std::string(IRONROOT_BINARY) + " sensor --pcap " + corpus +
               "/pcap/ndpi__android.pcap --json --flows --ipfix " + file + " --ipfix-domain 7");
  ASSERT_EQ(r.status, 0) << r.out;
  std::multiset<std::string> want;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] != "flow") continue;
    const bool icmp = j["proto"] == 1 || j["proto"] == 58;
    want.insert(j["src"].get<std::string>() + " " + j["dst"].get<std::string>() + " " +
                std::to_string(icmp ? 0 : j.value("sport", 0)) + " " +
                std::to_string(icmp ? 0 : j.value("dport", 0)) + " " + j["proto"].dump() +
                " pkts " + j["orig"]["packets"].dump() + "/" + j["resp"]["packets"].dump() +
                " bytes " + j["orig"]["bytes"].dump() + "/" + j["resp"]["bytes"].dump());
  }
  ASSERT_GT(want.size(), 20u);
  TsharkView view = tshark_view(to_pcap(file, dir.path));
  EXPECT_EQ(view.bad, "");
  for (const auto& h : view.headers) EXPECT_EQ(h["cflow.od_id"], "7");
  std::multiset<std::string> got;
  for (const auto& rec : view.records)
    got.insert(key_of(rec) + " pkts " + field(rec, "cflow.packets") + "/" +
               field(rec, "cflow.packets", 1) + " bytes " +
               field(rec, "cflow.layer2_octet_delta_count") + "/" +
               field(rec, "cflow.layer2_octet_delta_count", 1));
  EXPECT_EQ(view.records.size(), want.size());  // tshark's record count
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace ironroot::sensor
