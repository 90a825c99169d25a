#include "sensor/host_flows.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

extern "C" {
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnfnetlink/libnfnetlink.h>
}

#include "sensor/community_id.h"

namespace ironroot::sensor {
namespace {

using Json = nlohmann::ordered_json;

Result<IpAddr> parse_ip(const std::string& s, const char* field) {
  IpAddr ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = 4;
    return ip;
  }
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = 6;
    return ip;
  }
  return malformed(std::string("field ") + field + ": '" + s + "' is not an IP address");
}

template <typename T>
Result<T> get_num(const nlohmann::json& j, const char* field, T max) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_integer()) {
    return malformed(std::string("field ") + field + ": missing or not an integer");
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(max))
      return malformed(std::string("field ") + field + ": too large");
    return static_cast<T>(v);
  }
  auto v = it->get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (v < 0) return malformed(std::string("field ") + field + ": negative");
  }
  return static_cast<T>(v);
}

Result<std::string> get_str(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) {
    return malformed(std::string("field ") + field + ": missing or not a string");
  }
  return it->get<std::string>();
}

void note_time(HostFlowLog* log, uint64_t ts) {
  if (ts > log->covered_until_ns) log->covered_until_ns = ts;
}

// A gap that continues the previous one for the same reason (a source that stays unavailable is
// reported again at every heartbeat) extends it, so that a long outage is one gap, not thousands.
void add_gap(HostFlowLog* log, HostGap g) {
  note_time(log, g.end_ns);
  if (!log->gaps.empty()) {
    HostGap& last = log->gaps.back();
    if (last.reason == g.reason && g.start_ns <= last.end_ns && g.end_ns >= last.start_ns) {
      last.start_ns = std::min(last.start_ns, g.start_ns);
      last.end_ns = std::max(last.end_ns, g.end_ns);
      return;
    }
  }
  log->gaps.push_back(std::move(g));
}

}  // namespace

uint64_t realtime_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(t.tv_nsec);
}

std::string HostFlowEvent::json(const HostFlowLog& context) const {
  Json j;
  switch (type) {
    case Type::kStart:
      j["type"] = "start";
      j["host"] = context.host;
      j["ts_ns"] = ts_ns;
      j["clock_offset_ns"] = context.clock_offset_ns;
      break;
    case Type::kFlow:
      j["type"] = "flow";
      j["ts_ns"] = record.ts_ns;
      j["source"] = record.source;
      j["event"] = record.event;
      j["proto"] = record.proto;
      j["src"] = record.src.str();
      j["dst"] = record.dst.str();
      if (record.has_ports) {
        j["sport"] = record.sport;
        j["dport"] = record.dport;
      }
      j["community_id"] = record.community_id;
      if (record.nat) {
        Json n;
        n["src"] = record.nat_src.str();
        n["dst"] = record.nat_dst.str();
        if (record.has_ports) {
          n["sport"] = record.nat_sport;
          n["dport"] = record.nat_dport;
        }
        n["community_id"] = record.nat_community_id;
        j["nat"] = std::move(n);
      }
      break;
    case Type::kGap:
      j["type"] = "gap";
      j["start_ns"] = gap.start_ns;
      j["end_ns"] = gap.end_ns;
      j["reason"] = gap.reason;
      break;
    case Type::kHeartbeat:
      j["type"] = "heartbeat";
      j["ts_ns"] = ts_ns;
      break;
  }
  return j.dump();
}

Status apply_host_flow_line(std::string_view line, HostFlowLog* log) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return {};
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  IRONROOT_ASSIGN_OR_RETURN(std::string type, get_str(j, "type"));
  if (type == "start") {
    IRONROOT_ASSIGN_OR_RETURN(uint64_t ts, get_num<uint64_t>(j, "ts_ns", UINT64_MAX));
    IRONROOT_ASSIGN_OR_RETURN(int64_t off, get_num<int64_t>(j, "clock_offset_ns", INT64_MAX));
    if (auto h = j.find("host"); h != j.end() && h->is_string()) log->host = h->get<std::string>();
    if (log->start_ns == 0 || ts < log->start_ns) log->start_ns = ts;
    log->clock_offset_ns = off;
    note_time(log, ts);
  } else if (type == "flow") {
    HostFlowRecord r;
    IRONROOT_ASSIGN_OR_RETURN(r.ts_ns, get_num<uint64_t>(j, "ts_ns", UINT64_MAX));
    IRONROOT_ASSIGN_OR_RETURN(r.source, get_str(j, "source"));
    IRONROOT_ASSIGN_OR_RETURN(r.event, get_str(j, "event"));
    IRONROOT_ASSIGN_OR_RETURN(r.proto, get_num<uint8_t>(j, "proto", 255));
    IRONROOT_ASSIGN_OR_RETURN(std::string src, get_str(j, "src"));
    IRONROOT_ASSIGN_OR_RETURN(std::string dst, get_str(j, "dst"));
    IRONROOT_ASSIGN_OR_RETURN(r.src, parse_ip(src, "src"));
    IRONROOT_ASSIGN_OR_RETURN(r.dst, parse_ip(dst, "dst"));
    r.has_ports = j.contains("sport");
    if (r.has_ports) {
      IRONROOT_ASSIGN_OR_RETURN(r.sport, get_num<uint16_t>(j, "sport", 65535));
      IRONROOT_ASSIGN_OR_RETURN(r.dport, get_num<uint16_t>(j, "dport", 65535));
    }
    // Recomputed rather than trusted: the join key must be the sensor's own.
    r.community_id = community_id(r.src, r.dst, r.proto, r.sport, r.dport, r.has_ports);
    if (auto n = j.find("nat"); n != j.end()) {
      if (!n->is_object()) return malformed("field nat: must be an object");
      IRONROOT_ASSIGN_OR_RETURN(std::string nsrc, get_str(*n, "src"));
      IRONROOT_ASSIGN_OR_RETURN(std::string ndst, get_str(*n, "dst"));
      IRONROOT_ASSIGN_OR_RETURN(r.nat_src, parse_ip(nsrc, "nat.src"));
      IRONROOT_ASSIGN_OR_RETURN(r.nat_dst, parse_ip(ndst, "nat.dst"));
      if (r.nat_src.family != r.src.family || r.nat_dst.family != r.src.family)
        return malformed("field nat: addresses of another family than src and dst");
      if (r.has_ports) {
        IRONROOT_ASSIGN_OR_RETURN(r.nat_sport, get_num<uint16_t>(*n, "sport", 65535));
        IRONROOT_ASSIGN_OR_RETURN(r.nat_dport, get_num<uint16_t>(*n, "dport", 65535));
      }
      r.nat = true;
      r.nat_community_id =
          community_id(r.nat_src, r.nat_dst, r.proto, r.nat_sport, r.nat_dport, r.has_ports);
    }
    note_time(log, r.ts_ns);
    log->records.push_back(std::move(r));
  } else if (type == "gap") {
    HostGap g;
    IRONROOT_ASSIGN_OR_RETURN(g.start_ns, get_num<uint64_t>(j, "start_ns", UINT64_MAX));
    IRONROOT_ASSIGN_OR_RETURN(g.end_ns, get_num<uint64_t>(j, "end_ns", UINT64_MAX));
    if (g.end_ns < g.start_ns) return malformed("field end_ns: before start_ns");
    if (auto r = j.find("reason"); r != j.end() && r->is_string()) g.reason = r->get<std::string>();
    add_gap(log, std::move(g));
  } else if (type == "heartbeat") {
    IRONROOT_ASSIGN_OR_RETURN(uint64_t ts, get_num<uint64_t>(j, "ts_ns", UINT64_MAX));
    note_time(log, ts);
  } else {
    return malformed("field type: unknown record type '" + type + "'");
  }
  return {};
}

Result<HostFlowLog> read_host_flow_log(const std::string& path) {
  HostFlowLogTail tail(path);
  HostFlowLog log;
  IRONROOT_RETURN_IF_ERROR(tail.poll(&log));
  return log;
}

Status HostFlowLogTail::poll(HostFlowLog* log) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return Error(ErrorCode::kIo, path_ + ": cannot open");
  in.seekg(static_cast<std::streamoff>(offset_));
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    offset_ += static_cast<uint64_t>(n);
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      ++line_;
      Status s = apply_host_flow_line(std::string_view(partial_).substr(start, nl - start), log);
      if (!s) return std::move(s).error().with_context(path_ + ": line " + std::to_string(line_));
    }
    partial_.erase(0, start);
    if (partial_.size() > (1u << 20)) {
      return malformed(path_ + ": line " + std::to_string(line_ + 1) + ": longer than 1 MiB");
    }
  }
  return {};
}

// ---- recorder --------------------------------------------------------------------------------

struct HostFlowRecorder::Conntrack {
  nfct_handle* events = nullptr;  // null while conntrack is unavailable
  uint64_t last_ok_ns = 0;
  // Why conntrack cannot be read (empty while it can), and from when the next gap record runs.
  std::string unavailable;
  uint64_t gap_from_ns = 0;
  void close() {
    if (events) nfct_close(events);
    events = nullptr;
  }
  ~Conntrack() { close(); }
};

namespace {

HostFlowRecord record_from_ct(const nf_conntrack* ct, const char* event, uint64_t ts) {
  HostFlowRecord r;
  r.ts_ns = ts;
  r.source = "conntrack";
  r.event = event;
  uint8_t l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);
  r.proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
  if (l3 == AF_INET) {
    r.src.family = r.dst.family = 4;
    uint32_t s = nfct_get_attr_u32(ct, ATTR_IPV4_SRC);
    uint32_t d = nfct_get_attr_u32(ct, ATTR_IPV4_DST);
    std::memcpy(r.src.bytes.data(), &s, 4);
    std::memcpy(r.dst.bytes.data(), &d, 4);
  } else if (l3 == AF_INET6) {
    r.src.family = r.dst.family = 6;
    if (const void* s = nfct_get_attr(ct, ATTR_IPV6_SRC)) std::memcpy(r.src.bytes.data(), s, 16);
    if (const void* d = nfct_get_attr(ct, ATTR_IPV6_DST)) std::memcpy(r.dst.bytes.data(), d, 16);
  }
  if (r.proto == kProtoTcp || r.proto == kProtoUdp || r.proto == kProtoSctp) {
    r.sport = ntohs(nfct_get_attr_u16(ct, ATTR_PORT_SRC));
    r.dport = ntohs(nfct_get_attr_u16(ct, ATTR_PORT_DST));
  } else if (r.proto == kProtoIcmp || r.proto == kProtoIcmp6) {
    r.sport = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
    r.dport = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
  } else {
    r.has_ports = false;
  }
  r.community_id = community_id(r.src, r.dst, r.proto, r.sport, r.dport, r.has_ports);
  // The reply tuple reversed is the connection as it leaves the host. It differs from the
  // original only when the host translated it (masquerade, SNAT, DNAT), and then the wire shows
  // that one: keep it, or every container's connection would look unaccounted for.
  IpAddr rs, rd;
  rs.family = rd.family = r.src.family;
  if (l3 == AF_INET && nfct_attr_is_set(ct, ATTR_REPL_IPV4_SRC) > 0 &&
      nfct_attr_is_set(ct, ATTR_REPL_IPV4_DST) > 0) {
    uint32_t s = nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC);
    uint32_t d = nfct_get_attr_u32(ct, ATTR_REPL_IPV4_DST);
    std::memcpy(rs.bytes.data(), &s, 4);
    std::memcpy(rd.bytes.data(), &d, 4);
  } else if (l3 == AF_INET6 && nfct_attr_is_set(ct, ATTR_REPL_IPV6_SRC) > 0 &&
             nfct_attr_is_set(ct, ATTR_REPL_IPV6_DST) > 0) {
    std::memcpy(rs.bytes.data(), nfct_get_attr(ct, ATTR_REPL_IPV6_SRC), 16);
    std::memcpy(rd.bytes.data(), nfct_get_attr(ct, ATTR_REPL_IPV6_DST), 16);
  } else {
    return r;
  }
  uint16_t rsport = r.dport, rdport = r.sport;  // ICMP: type and code are never translated
  if (r.proto == kProtoTcp || r.proto == kProtoUdp || r.proto == kProtoSctp) {
    rsport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
    rdport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST));
  }
  if (rs == r.dst && rd == r.src && rsport == r.dport && rdport == r.sport) return r;
  r.nat = true;
  r.nat_src = rd;
  r.nat_dst = rs;
  r.nat_sport = rdport;
  r.nat_dport = rsport;
  r.nat_community_id =
      community_id(r.nat_src, r.nat_dst, r.proto, r.nat_sport, r.nat_dport, r.has_ports);
  return r;
}

struct CallbackContext {
  HostFlowRecorder* self;
  std::function<void(HostFlowRecord)> emit;
  const char* fixed_event;  // "existing" for the initial dump
};

int ct_callback(enum nf_conntrack_msg_type type, struct nf_conntrack* ct, void* data) {
  auto* ctx = static_cast<CallbackContext*>(data);
  const char* ev = ctx->fixed_event;
  if (ev == nullptr) {
    ev = type == NFCT_T_NEW ? "new" : type == NFCT_T_DESTROY ? "destroy" : "update";
  }
  ctx->emit(record_from_ct(ct, ev, realtime_ns()));
  return NFCT_CB_CONTINUE;
}

// One sock_diag dump (Linux inet_diag, SOCK_DIAG_BY_FAMILY) for a family and protocol.
Status dump_sockets(uint8_t family, uint8_t proto, uint64_t ts, std::vector<HostFlowRecord>* out) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return Error(ErrorCode::kIo, std::string("sock_diag socket: ") + std::strerror(errno));
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = proto;
  msg.req.idiag_states = ~0u;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    ::close(fd);
    return Error(ErrorCode::kIo, std::string("sock_diag send: ") + std::strerror(errno));
  }
  alignas(nlmsghdr) char buf[32768];
  bool done = false;
  while (!done) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Error(ErrorCode::kIo, std::string("sock_diag recv: ") + std::strerror(errno));
    }
    if (n == 0) break;
    auto len = static_cast<unsigned int>(n);
    for (size_t off = 0; off + sizeof(nlmsghdr) <= len;) {
      auto* h = reinterpret_cast<nlmsghdr*>(buf + off);
      if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > len - off) break;
      off += NLMSG_ALIGN(h->nlmsg_len);
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const auto* d = reinterpret_cast<const inet_diag_msg*>(buf + off - NLMSG_ALIGN(h->nlmsg_len) +
                                                             NLMSG_HDRLEN);
      HostFlowRecord r;
      r.ts_ns = ts;
      r.source = "sock_diag";
      r.proto = proto;
      r.src.family = r.dst.family = family == AF_INET ? 4 : 6;
      std::memcpy(r.src.bytes.data(), d->id.idiag_src, r.src.size());
      std::memcpy(r.dst.bytes.data(), d->id.idiag_dst, r.dst.size());
      r.sport = ntohs(d->id.idiag_sport);
      r.dport = ntohs(d->id.idiag_dport);
      constexpr uint8_t kTcpListen = 10;
      bool listening = proto == kProtoTcp ? d->idiag_state == kTcpListen : r.dport == 0;
      if (proto == kProtoTcp && !listening && r.dport == 0) continue;  // closed / unbound
      r.event = listening ? "listen" : "connected";
      r.community_id = community_id(r.src, r.dst, r.proto, r.sport, r.dport, true);
      out->push_back(std::move(r));
    }
  }
  ::close(fd);
  return {};
}

}  // namespace

Result<std::vector<HostFlowRecord>> HostFlowRecorder::sock_diag_snapshot(uint64_t ts_ns) {
  std::vector<HostFlowRecord> out;
  for (uint8_t fam : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
    for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
      IRONROOT_RETURN_IF_ERROR(dump_sockets(fam, proto, ts_ns, &out));
    }
  }
  return out;
}

HostFlowRecorder::HostFlowRecorder(HostFlowRecorderOptions options, Sink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {
  header_.host = options_.host;
  header_.clock_offset_ns = options_.clock_offset_ns;
}

HostFlowRecorder::~HostFlowRecorder() {
  stop();
}

Result<std::unique_ptr<HostFlowRecorder>> HostFlowRecorder::start(HostFlowRecorderOptions options,
                                                                  Sink sink) {
  std::unique_ptr<HostFlowRecorder> r(new HostFlowRecorder(std::move(options), std::move(sink)));
  uint64_t now = realtime_ns();
  r->header_.start_ns = now;
  r->log_ = r->header_;
  HostFlowEvent start;
  start.type = HostFlowEvent::Type::kStart;
  start.ts_ns = now;
  r->emit(start);
  std::vector<HostFlowRecord> existing;
  if (r->options_.conntrack) {
    r->ct_ = std::make_unique<Conntrack>();
    r->ct_->events = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
                                              NF_NETLINK_CONNTRACK_DESTROY);
  }
  if (r->ct_ && r->ct_->events == nullptr) {
    const int err = errno;
    const std::string why = std::string(err ? std::strerror(err) : "cannot open") +
                            " (needs CAP_NET_ADMIN and the nf_conntrack module)";
    if (!r->options_.sock_diag) return Error(ErrorCode::kIo, "conntrack events: " + why);
    // sock_diag still sees the host's sockets: record on, and report the missing conntrack as
    // a gap for as long as it lasts, so that the sensor scores what it finds then lower.
    r->ct_->unavailable = "conntrack unavailable: " + why;
    r->ct_->gap_from_ns = now;
  } else if (r->ct_) {
    nfnl_rcvbufsiz(nfct_nfnlh(r->ct_->events), static_cast<unsigned int>(r->options_.rcvbuf_bytes));
    int fd = nfct_fd(r->ct_->events);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    // The connections that predate the recorder, from a dump on a second handle.
    if (nfct_handle* dump = nfct_open(CONNTRACK, 0)) {
      CallbackContext ctx{r.get(), [&](HostFlowRecord rec) { existing.push_back(std::move(rec)); },
                          "existing"};
      nfct_callback_register(dump, NFCT_T_ALL, ct_callback, &ctx);
      uint32_t family = AF_UNSPEC;
      nfct_query(dump, NFCT_Q_DUMP, &family);
      nfct_close(dump);
    }
    r->ct_->last_ok_ns = now;
  }
  if (r->options_.sock_diag) {
    IRONROOT_ASSIGN_OR_RETURN(auto socks, sock_diag_snapshot(now));
    existing.insert(existing.end(), socks.begin(), socks.end());
  }
  if (r->ct_ && !r->ct_->unavailable.empty()) r->emit_conntrack_gap(realtime_ns());
  for (auto& rec : existing) {
    HostFlowEvent e;
    e.type = HostFlowEvent::Type::kFlow;
    e.ts_ns = rec.ts_ns;
    e.record = std::move(rec);
    r->emit(std::move(e));
  }
  r->thread_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

void HostFlowRecorder::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

HostFlowLog HostFlowRecorder::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void HostFlowRecorder::emit(HostFlowEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    switch (e.type) {
      case HostFlowEvent::Type::kFlow:
        if (log_.records.size() >= options_.max_records) {
          log_.gaps.push_back({log_.records.front().ts_ns,
                               log_.records[log_.records.size() / 2].ts_ns,
                               "recorder memory limit: older records dropped"});
          log_.records.erase(log_.records.begin(),
                             log_.records.begin() + static_cast<long>(log_.records.size() / 2));
        }
        note_time(&log_, e.record.ts_ns);
        log_.records.push_back(e.record);
        break;
      case HostFlowEvent::Type::kGap: add_gap(&log_, e.gap); break;
      default: note_time(&log_, e.ts_ns); break;
    }
  }
  if (sink_) sink_(e);
}

void HostFlowRecorder::emit_conntrack_gap(uint64_t now) {
  HostFlowEvent g;
  g.type = HostFlowEvent::Type::kGap;
  g.gap = {std::min(ct_->gap_from_ns, now), now, ct_->unavailable};
  g.ts_ns = now;
  ct_->gap_from_ns = now;
  emit(std::move(g));
}

void HostFlowRecorder::run() {
  CallbackContext ctx{this,
                      [this](HostFlowRecord rec) {
                        HostFlowEvent e;
                        e.type = HostFlowEvent::Type::kFlow;
                        e.ts_ns = rec.ts_ns;
                        e.record = std::move(rec);
                        emit(std::move(e));
                      },
                      nullptr};
  if (ct_ && ct_->events) nfct_callback_register(ct_->events, NFCT_T_ALL, ct_callback, &ctx);
  uint64_t next_snapshot = realtime_ns() + uint64_t{options_.snapshot_ms} * 1'000'000;
  uint64_t next_heartbeat = 0;
  while (!stop_) {
    if (ct_ && ct_->events) {
      pollfd pfd{nfct_fd(ct_->events), POLLIN, 0};
      int n = ::poll(&pfd, 1, 50);
      if (n > 0) {
        int rc = nfct_catch(ct_->events);
        const int err = errno;
        if (rc < 0 && err == ENOBUFS) {
          // Events were lost: everything since the last clean read is uncertain.
          HostFlowEvent g;
          g.type = HostFlowEvent::Type::kGap;
          g.gap = {ct_->last_ok_ns, realtime_ns(), "conntrack: netlink overrun (ENOBUFS)"};
          g.ts_ns = g.gap.end_ns;
          emit(std::move(g));
        } else if (rc < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
          // The socket is broken: conntrack is gone from the last clean read on.
          ct_->unavailable =
              std::string("conntrack unavailable: read failed: ") + std::strerror(err);
          ct_->gap_from_ns = ct_->last_ok_ns;
          ct_->close();
          next_heartbeat = 0;  // say so now
        }
      }
      if (ct_->events) ct_->last_ok_ns = realtime_ns();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    uint64_t now = realtime_ns();
    if (options_.sock_diag && now >= next_snapshot) {
      next_snapshot = now + uint64_t{options_.snapshot_ms} * 1'000'000;
      auto socks = sock_diag_snapshot(now);
      if (!socks) {
        HostFlowEvent g;
        g.type = HostFlowEvent::Type::kGap;
        g.gap = {now, now, "sock_diag: " + socks.error().message()};
        g.ts_ns = now;
        emit(std::move(g));
      } else {
        for (auto& rec : *socks) {
          HostFlowEvent e;
          e.type = HostFlowEvent::Type::kFlow;
          e.ts_ns = rec.ts_ns;
          e.record = std::move(rec);
          emit(std::move(e));
        }
      }
    }
    if (now >= next_heartbeat) {
      next_heartbeat = now + uint64_t{options_.heartbeat_ms} * 1'000'000;
      if (ct_ && !ct_->unavailable.empty()) {
        // The gap, extended to now, is the heartbeat: coverage never runs ahead of it.
        emit_conntrack_gap(now);
      } else {
        HostFlowEvent h;
        h.type = HostFlowEvent::Type::kHeartbeat;
        h.ts_ns = now;
        emit(std::move(h));
      }
    }
  }
}

}  // namespace ironroot::sensor
