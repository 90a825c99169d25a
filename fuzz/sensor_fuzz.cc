// Fuzz target: the sensor's parsers as the capture path runs them. The input is a raw frame
// (decoded under every link type, then through the signatures, the DHCP and DNS parsers and a
// flow table), and, when it starts like a capture file, a whole pcap / pcapng file read through
// libpcap (pcap_fopen_offline on fmemopen) into a Sensor. A host-flows JSON line parser rides
// along. Checks the decoder's promises so a broken one is a crash the fuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "sensor/capture.h"
#include "sensor/flow_table.h"
#include "sensor/host_flows.h"
#include "sensor/packet.h"
#include "sensor/sensor.h"
#include "sensor/signatures.h"

namespace {

namespace sn = ironroot::sensor;

void check(bool ok) {
  if (!ok) std::abort();
}

void frame(ironroot::Bytes b, sn::FlowTable& table) {
  for (sn::LinkType lt : {sn::LinkType::kEthernet, sn::LinkType::kNull, sn::LinkType::kRaw,
                          sn::LinkType::kLinuxSll, sn::LinkType::kLinuxSll2}) {
    sn::Packet p;
    if (sn::decode(b, lt, &p) != sn::DecodeStatus::kOk) continue;
    check(p.payload.empty() || (p.payload.data() >= b.data() &&
                                p.payload.data() + p.payload.size() <= b.data() + b.size()));
    check(p.src.family == 4 || p.src.family == 6);
    (void)sn::classify(p);
    sn::DhcpClient c;
    (void)sn::parse_dhcp_request(p.payload, &c);
    std::vector<sn::IpAddr> ips;
    (void)sn::parse_dns_answers(p.payload, &ips, 8);
    check(ips.size() <= 8);
    sn::Flow* f = table.add(p, 1);
    check(f != nullptr);
    check(f->orig.packets + f->resp.packets >= 1);
  }
  (void)sn::classify_rmcp(b);
  sn::DhcpClient c;
  (void)sn::parse_dhcp_request(b, &c);
  std::vector<sn::IpAddr> ips;
  (void)sn::parse_dns_answers(b, &ips);
}

bool looks_like_capture(const uint8_t* d, size_t n) {
  if (n < 4) return false;
  uint32_t m;
  std::memcpy(&m, d, 4);
  return m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 ||
         m == 0x0a0d0d0a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ironroot::Bytes bytes(data, size);
  sn::FlowTable table({.capacity = 64});
  frame(bytes, table);
  {
    sn::SensorOptions o;
    o.table.capacity = 64;
    sn::Sensor s(o, nullptr, nullptr);
    sn::Sensor::FrameRef refs[3] = {{1, bytes, sn::LinkType::kEthernet},
                                    {2, bytes, sn::LinkType::kRaw},
                                    {3, bytes, sn::LinkType::kLinuxSll}};
    s.on_frames(refs);
    check(s.stats().frames == 3);
  }
  if (looks_like_capture(data, size)) {
    sn::SensorOptions o;
    o.table.capacity = 256;
    o.hosts.push_back(*sn::parse_host_identity("h=02:00:00:00:00:02,10.0.0.2"));
    sn::Sensor s(o, nullptr, nullptr);
    auto r = sn::read_capture_memory(bytes, [&](const sn::Frame& f) {
      check(f.data.size() <= 262144);
      s.on_frame(f.ts_ns, f.data, f.link);
    });
    sn::HostFlowIndex idx;
    s.finish({&idx});
    if (r) check(r->frames == s.stats().frames);
  }
  sn::HostFlowLog log;
  (void)sn::apply_host_flow_line(
      std::string_view(reinterpret_cast<const char*>(data), size < 4096 ? size : 4096), &log);
  return 0;
}
