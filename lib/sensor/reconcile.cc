#include "sensor/reconcile.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "sensor/community_id.h"
#include "sensor/signatures.h"

namespace ironroot::sensor {
namespace {

using Json = nlohmann::ordered_json;

void fill_flow(Json& j, const Flow& f) {
  j["community_id"] = f.community_id();
  j["proto"] = f.proto;
  j["src"] = f.src.str();
  j["dst"] = f.dst.str();
  if (f.has_ports) {
    j["sport"] = f.sport;
    j["dport"] = f.dport;
  }
  if (f.vlan) j["vlan"] = f.vlan;
  if (f.has_mac) {
    j["src_mac"] = mac_str(f.src_mac);
    j["dst_mac"] = mac_str(f.dst_mac);
  }
  j["initiator"] = "src";
  j["first_ns"] = f.first_ns;
  j["last_ns"] = f.last_ns;
  for (const char* dir : {"orig", "resp"}) {
    const FlowCounters& c = dir[0] == 'o' ? f.orig : f.resp;
    Json d = Json::object();
    d["packets"] = c.packets;
    d["bytes"] = c.bytes;
    if (f.proto == kProtoTcp) d["tcp_flags"] = c.tcp_flags;
    j[dir] = std::move(d);
  }
  if (f.signatures) j["signatures"] = signature_names(f.signatures);
}

std::string endpoint(const IpAddr& ip, uint16_t port, bool has_ports) {
  std::string s = ip.family == 6 ? "[" + ip.str() + "]" : ip.str();
  return has_ports ? s + ":" + std::to_string(port) : s;
}

const char* proto_name(uint8_t p) {
  switch (p) {
    case kProtoTcp: return "TCP";
    case kProtoUdp: return "UDP";
    case kProtoIcmp: return "ICMP";
    case kProtoIcmp6: return "ICMPv6";
    case kProtoSctp: return "SCTP";
    default: return "IP";
  }
}

std::string describe(const Flow& f) {
  return std::string(proto_name(f.proto)) + " " + endpoint(f.src, f.sport, f.has_ports) + " -> " +
         endpoint(f.dst, f.dport, f.has_ports);
}

Finding make(const Flow& f, std::string kind, int score, std::string message) {
  Finding x;
  x.kind = std::move(kind);
  x.score = std::clamp(score, 0, 100);
  x.message = std::move(message);
  x.has_flow = true;
  x.flow = f;
  x.community_id = f.community_id();
  x.ts_ns = f.first_ns;
  return x;
}

// Traffic the host OS sends without a connection of its own: ICMPv6 neighbour discovery and MLD,
// DHCP (checked apart), ICMP errors.
bool is_link_plumbing(const Flow& f) {
  if (f.proto == kProtoIcmp6 && f.sport >= 130 && f.sport <= 137) return true;
  if (f.proto == kProtoUdp && (f.dport == 67 || f.dport == 68)) return true;  // DHCP: own check
  // ICMP errors belong to the flow they quote (conntrack files them as RELATED to it).
  if (f.proto == kProtoIcmp &&
      (f.sport == 3 || f.sport == 4 || f.sport == 5 || f.sport == 11 || f.sport == 12)) {
    return true;
  }
  if (f.proto == kProtoIcmp6 && f.sport >= 1 && f.sport <= 4) return true;
  if (f.src.family == 6 && f.src.bytes[0] == 0xfe && (f.src.bytes[1] & 0xc0) == 0x80 &&
      f.proto == kProtoIcmp6) {
    return true;
  }
  return false;
}

}  // namespace

Result<HostIdentity> parse_host_identity(const std::string& text) {
  HostIdentity h;
  std::string rest = text;
  if (size_t eq = rest.find('='); eq != std::string::npos) {
    h.name = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
  }
  size_t start = 0;
  while (start <= rest.size()) {
    size_t comma = rest.find(',', start);
    std::string part =
        rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    unsigned m[6];
    char tail;
    if (std::sscanf(part.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
                    &m[5], &tail) == 6) {
      for (int i = 0; i < 6; ++i) h.mac[static_cast<size_t>(i)] = static_cast<uint8_t>(m[i]);
      h.has_mac = true;
    } else if (::inet_pton(AF_INET, part.c_str(), h.ip.bytes.data()) == 1) {
      h.ip.family = 4;
    } else if (::inet_pton(AF_INET6, part.c_str(), h.ip.bytes.data()) == 1) {
      h.ip.family = 6;
    } else {
      return invalid_argument("host '" + text + "': '" + part +
                              "' is neither a MAC (aa:bb:cc:dd:ee:ff) nor an IP address");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!h.has_mac && h.ip.family == 0) return invalid_argument("host '" + text + "': empty");
  if (h.name.empty()) h.name = h.ip.family ? h.ip.str() : mac_str(h.mac);
  return h;
}

std::string Finding::json() const {
  Json j;
  j["type"] = "finding";
  j["kind"] = kind;
  j["score"] = score;
  if (!host.empty()) j["host"] = host;
  j["ts_ns"] = ts_ns;
  j["message"] = message;
  j["reasons"] = reasons;
  if (has_flow) {
    Json fj = Json::object();
    fill_flow(fj, flow);
    j["flow"] = std::move(fj);
  }
  return j.dump();
}

std::string flow_json(const Flow& flow) {
  Json j;
  j["type"] = "flow";
  fill_flow(j, flow);
  return j.dump();
}

// ---- host index ----

uint64_t HostFlowIndex::to_ref(uint64_t host_ns) const {
  int64_t v = static_cast<int64_t>(host_ns) + offset_;
  return v < 0 ? 0 : static_cast<uint64_t>(v);
}

void HostFlowIndex::add(const HostFlowLog& log) {
  flows_.clear();
  listeners_.clear();
  gaps_.clear();
  have_log_ = true;
  offset_ = log.clock_offset_ns;
  start_ns_ = to_ref(log.start_ns);
  covered_until_ns_ = to_ref(log.covered_until_ns);
  for (const HostFlowRecord& r : log.records) {
    uint64_t t = to_ref(r.ts_ns);
    auto note = [&](Span* s) {
      s->first = std::min(s->first, t);
      s->last = std::max(s->last, t);
      if (r.source == "conntrack") s->open = r.event != "destroy";
    };
    if (r.source == "sock_diag" && r.event == "listen") {
      note(&listeners_[{r.proto, r.sport}]);
    } else {
      note(&flows_[r.community_id]);
      if (r.nat) note(&flows_[r.nat_community_id]);  // the translated tuple the wire shows
    }
  }
  for (const HostGap& g : log.gaps)
    gaps_.push_back({to_ref(g.start_ns), to_ref(g.end_ns), g.reason});
}

bool HostFlowIndex::has_record(const std::string& id, uint64_t from, uint64_t to) const {
  auto it = flows_.find(id);
  if (it == flows_.end()) return false;
  uint64_t last = it->second.open ? covered_until_ns_ : it->second.last;
  return it->second.first <= to && last >= from;
}

bool HostFlowIndex::has_listener(uint8_t proto, uint16_t port, uint64_t from, uint64_t to) const {
  auto it = listeners_.find({proto, port});
  return it != listeners_.end() && it->second.first <= to && it->second.last >= from;
}

const HostGap* HostFlowIndex::gap_during(uint64_t from, uint64_t to) const {
  for (const HostGap& g : gaps_) {
    if (g.start_ns <= to && g.end_ns >= from) return &g;
  }
  return nullptr;
}

// ---- judging ----

Judgement judge(const Flow& f, const HostIdentity& host, const HostFlowIndex& index,
                const WireContext& wire, const ReconcileOptions& options) {
  Judgement j;
  auto is_host = [&](const IpAddr& ip, const MacAddr& mac) {
    return (host.ip.family != 0 && ip == host.ip) || (host.has_mac && f.has_mac && mac == host.mac);
  };
  bool host_is_src = is_host(f.src, f.src_mac);
  bool host_is_dst = !host_is_src && is_host(f.dst, f.dst_mac);
  if (!host_is_src && !host_is_dst) return j;
  // Only what left the host's port is evidence: a scanner's unanswered SYNs are not.
  if ((host_is_src ? f.orig.packets : f.resp.packets) == 0) return j;
  const IpAddr& peer = host_is_src ? f.dst : f.src;
  if (peer.is_multicast_or_broadcast() || is_link_plumbing(f)) return j;
  if (index.empty()) return j;

  uint64_t from = f.first_ns > options.window_ns ? f.first_ns - options.window_ns : 0;
  uint64_t to = f.last_ns + options.window_ns;
  if (f.first_ns + options.window_ns > index.covered_until_ns()) {
    j.verdict = Verdict::kPending;
    return j;
  }
  std::string id = f.community_id();
  if (index.has_record(id, from, to)) {
    j.verdict = Verdict::kAccounted;
    return j;
  }
  uint16_t host_port = host_is_src ? f.sport : f.dport;
  uint16_t peer_port = host_is_src ? f.dport : f.sport;
  if (host_is_dst && f.has_ports && index.has_listener(f.proto, host_port, from, to)) {
    j.verdict = Verdict::kAccounted;
    return j;
  }

  int score = 50;
  std::vector<std::string> reasons;
  reasons.push_back("no conntrack or socket record on the host within " +
                    std::to_string(options.window_ns / 1'000'000) + " ms");
  if (f.proto == kProtoTcp && (is_amt_port(host_port) || is_amt_port(peer_port))) {
    score += 45;
    reasons.push_back("Intel AMT port (TCP 16992-16995)");
  } else if ((f.proto == kProtoTcp &&
              (is_dash_tcp_port(host_port) || is_dash_tcp_port(peer_port))) ||
             (f.proto == kProtoUdp && (host_port == 623 || peer_port == 623))) {
    score += 40;
    reasons.push_back("DASH / RMCP port (TCP 623/664, UDP 623)");
  } else if (f.proto == kProtoTcp && host_port == 5900) {
    score += 30;
    reasons.push_back("VNC / AMT KVM port 5900 with no host listener");
  }
  if (f.signatures &
      (kSigWsman | kSigRfbOnAmtPort | kSigAmtRedirection | kSigIpmiRakp | kSigAsfPresencePong)) {
    score += 20;
    reasons.push_back("management protocol on the wire: " +
                      signature_names(f.signatures & ~(kSigTlsClientHello | kSigDhcpClient))[0]);
  }
  if (host_is_src && (f.signatures & kSigTlsClientHello)) {
    auto it = wire.resolved.find(host.ip);
    if (it == wire.resolved.end() || !it->second.contains(peer)) {
      score += 20;
      reasons.push_back("TLS to " + peer.str() + ", a peer the host never resolved in DNS");
    }
  }
  if (const HostGap* g = index.gap_during(from, to)) {
    score -= 35;
    reasons.push_back("lowered: the host reported a gap in its accounting (" + g->reason + ")");
  }
  if (f.first_ns < index.start_ns()) {
    score -= 25;
    reasons.push_back("lowered: the flow began before the host started recording");
  }
  j.verdict = Verdict::kUnaccounted;
  j.finding =
      make(f, "unaccounted_traffic", score,
           "traffic not accounted for by the host OS: " + describe(f) + " on host " + host.name +
               " (" + (host.has_mac ? mac_str(host.mac) + " " : "") + host.ip.str() + ")");
  j.finding.host = host.name;
  j.finding.reasons = std::move(reasons);
  return j;
}

std::vector<Finding> signature_findings(const Flow& f, uint32_t bits) {
  std::vector<Finding> out;
  std::string d = describe(f);
  if (bits & kSigAsfPresencePing) {
    out.push_back(
        make(f, "rmcp_asf_presence_ping", 60,
             "RMCP/ASF presence ping (DASH / ASF discovery of management controllers): " + d));
  }
  if (bits & kSigAsfPresencePong) {
    out.push_back(make(f, "rmcp_asf_presence_pong", 75,
                       "RMCP/ASF presence pong: a management controller answered: " + d));
  }
  if (bits & kSigIpmiAuthCapProbe) {
    out.push_back(
        make(f, "ipmi_auth_capabilities_probe", 60,
             "IPMI Get Channel Authentication Capabilities over RMCP (BMC discovery): " + d));
  }
  if (bits & kSigIpmiRakp) {
    out.push_back(make(f, "ipmi_rakp", 80,
                       "IPMI 2.0 RMCP+ session setup / RAKP (exposes password hashes): " + d));
  }
  if (bits & (kSigAsfOther | kSigIpmiOther)) {
    out.push_back(make(f, "rmcp_traffic", 45, "RMCP (ASF / IPMI) traffic: " + d));
  }
  if (bits & kSigAmtPortSyn) {
    out.push_back(make(f, "amt_port_probe", 50, "TCP SYN to an Intel AMT port: " + d));
  }
  if (bits & kSigDashPortSyn) {
    out.push_back(make(f, "dash_port_probe", 45, "TCP SYN to a DASH / AMT WS-Man port: " + d));
  }
  if (bits & kSigWsman) {
    out.push_back(make(f, "amt_wsman", 75, "Intel AMT / DASH WS-Management traffic: " + d));
  }
  if (bits & kSigRfbOnAmtPort) {
    out.push_back(
        make(f, "amt_kvm_vnc", 85, "VNC (RFB) on an AMT redirection port (AMT KVM): " + d));
  }
  if (bits & kSigAmtRedirection) {
    out.push_back(
        make(f, "amt_redirection", 85, "Intel AMT redirection session (SOL / IDE-R / KVM): " + d));
  }
  return out;
}

Finding second_dhcp_client_finding(const HostIdentity& host, const std::set<std::string>& prints,
                                   uint64_t ts_ns) {
  Finding x;
  x.kind = "second_dhcp_client";
  x.score = 70;
  x.host = host.name;
  x.ts_ns = ts_ns;
  x.message = "two DHCP client fingerprints on the MAC of host " + host.name + " (" +
              mac_str(host.mac) + "): a second DHCP stack, as a management engine runs";
  for (const auto& p : prints) x.reasons.push_back("fingerprint " + p);
  return x;
}

}  // namespace ironroot::sensor
