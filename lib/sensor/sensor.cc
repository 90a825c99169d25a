#include "sensor/sensor.h"

#include <algorithm>

#include "sensor/signatures.h"

namespace ironroot::sensor {
namespace {

constexpr uint32_t kMarkJudged = 1u << 0;  // accounted or reported: nothing more to decide
constexpr uint32_t kReportable = kSigAsfPresencePing | kSigAsfPresencePong | kSigAsfOther |
                                 kSigIpmiAuthCapProbe | kSigIpmiOther | kSigIpmiRakp |
                                 kSigAmtPortSyn | kSigDashPortSyn | kSigWsman | kSigRfbOnAmtPort |
                                 kSigAmtRedirection;
constexpr size_t kMaxResolvedPerHost = 100'000;

}  // namespace

Sensor::Sensor(SensorOptions options, FlowSink flow_sink, FindingSink finding_sink)
    : options_(std::move(options)),
      flow_sink_(std::move(flow_sink)),
      finding_sink_(std::move(finding_sink)),
      table_(options_.table) {
  for (const HostIdentity& h : options_.hosts) {
    if (h.ip.family) host_ips_.insert(h.ip);
    if (h.has_mac) host_macs_.insert(h.mac);
  }
}

void Sensor::emit(const Finding& x) {
  ++stats_.findings;
  if (finding_sink_) finding_sink_(x);
}

void Sensor::on_frame(uint64_t ts_ns, Bytes frame, LinkType link) {
  Packet p;
  DecodeStatus st = decode(frame, link, &p);
  on_packet(ts_ns, p, st, frame.size());
}

void Sensor::on_frames(std::span<const FrameRef> frames) {
  // A rolling pipeline: frame i + kAhead is decoded and its slot prefetched while frame i is
  // accounted, so every packet's slot has had the same head start when the table needs it.
  constexpr size_t kAhead = 16;
  constexpr size_t kRing = 32;  // a power of two > kAhead
  static_assert(kRing > kAhead && (kRing & (kRing - 1)) == 0);
  Packet p[kRing];
  DecodeStatus st[kRing];
  FlowTable::Lookup l[kRing];
  const size_t n = frames.size();
  auto start = [&](size_t i) {
    size_t k = i % kRing;
    st[k] = decode(frames[i].data, frames[i].link, &p[k]);
    if (st[k] == DecodeStatus::kOk) {
      l[k] = table_.lookup(p[k]);
      table_.prefetch(l[k]);
    }
  };
  for (size_t i = 0; i < std::min(n, kAhead); ++i) start(i);
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) start(i + kAhead);
    size_t k = i % kRing;
    on_packet(frames[i].ts_ns, p[k], st[k], frames[i].data.size(), &l[k]);
  }
}

void Sensor::on_packet(uint64_t ts_ns, const Packet& p, DecodeStatus st, size_t frame_size,
                       const FlowTable::Lookup* l) {
  ++stats_.frames;
  stats_.bytes += frame_size;
  if (st != DecodeStatus::kOk) {
    if (st == DecodeStatus::kNotIp) {
      ++stats_.not_ip;
      if (p.ethertype == 0x88f8) ++stats_.ncsi_frames;
    } else if (st == DecodeStatus::kTruncated) {
      ++stats_.truncated;
    } else {
      ++stats_.malformed;
    }
    return;
  }
  ++stats_.ip_packets;
  uint64_t before = table_.created();
  Flow* f = l ? table_.add(p, *l, ts_ns) : table_.add(p, ts_ns);
  if (f == nullptr) {
    ++stats_.flows_dropped;
    return;
  }
  if (table_.created() != before) ++stats_.flows;
  // DNS answers to an enrolled host: which peers it resolved (for the TLS check).
  if (p.proto == kProtoUdp && p.sport == 53 && host_ips_.contains(p.dst)) {
    std::vector<IpAddr> ips;
    if (parse_dns_answers(p.payload, &ips)) {
      auto& set = wire_.resolved[p.dst];
      for (const IpAddr& ip : ips) {
        if (set.size() < kMaxResolvedPerHost) set.insert(ip);
      }
    }
  }
  if (!options_.signatures || (p.payload.empty() && p.proto != kProtoTcp)) return;
  uint32_t sig = classify(p);
  if (sig == 0) return;
  uint32_t fresh = sig & ~f->signatures & kReportable;
  f->signatures |= sig;
  if (fresh) {
    for (Finding& x : signature_findings(*f, fresh)) {
      x.ts_ns = ts_ns;
      emit(x);
    }
  }
  if (p.proto == kProtoUdp && !host_macs_.empty()) {
    if (sig & kSigDhcpClient) on_dhcp(p, ts_ns);
  }
}

void Sensor::on_dhcp(const Packet& p, uint64_t ts_ns) {
  DhcpClient c;
  if (!parse_dhcp_request(p.payload, &c)) return;
  if (!host_macs_.contains(c.chaddr)) return;
  std::string fp = c.fingerprint();
  if (fp.empty()) return;
  auto& prints = wire_.dhcp_fingerprints[c.chaddr];
  prints.insert(fp);
  if (prints.size() >= 2 && !dhcp_reported_.contains(c.chaddr)) {
    dhcp_reported_.insert(c.chaddr);
    for (const HostIdentity& h : options_.hosts) {
      if (h.has_mac && h.mac == c.chaddr) emit(second_dhcp_client_finding(h, prints, ts_ns));
    }
  }
}

void Sensor::judge_flow(Flow& f, const std::vector<const HostFlowIndex*>& host, bool final) {
  if (f.marks & kMarkJudged) return;
  bool pending = false;
  for (size_t i = 0; i < options_.hosts.size() && i < host.size(); ++i) {
    if (host[i] == nullptr) continue;
    Judgement j = judge(f, options_.hosts[i], *host[i], wire_, options_.reconcile);
    if (j.verdict == Verdict::kUnaccounted) {
      emit(j.finding);
      f.marks |= kMarkJudged;
      return;
    }
    if (j.verdict == Verdict::kAccounted) {
      f.marks |= kMarkJudged;
      return;
    }
    if (j.verdict == Verdict::kPending) pending = true;
  }
  // A flow stays open to judgement while it lasts: later packets can come from the engine.
  if (!pending && final) f.marks |= kMarkJudged;
}

void Sensor::end_flow(const Flow& f, const std::vector<const HostFlowIndex*>& host) {
  Flow copy = f;
  judge_flow(copy, host, true);
  if (flow_sink_) flow_sink_(copy);
}

void Sensor::tick(uint64_t now_ns, const std::vector<const HostFlowIndex*>& host) {
  if (!host.empty()) table_.for_each([&](Flow& f) { judge_flow(f, host, false); });
  table_.sweep(now_ns, [&](const Flow& f) { end_flow(f, host); });
}

void Sensor::finish(const std::vector<const HostFlowIndex*>& host) {
  table_.flush([&](const Flow& f) { end_flow(f, host); });
}

}  // namespace ironroot::sensor
