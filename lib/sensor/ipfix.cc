#include "sensor/ipfix.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace ironroot::sensor {
namespace {

// An information element in a template: IANA id, length, and whether it is the RFC 5103
// reverse of that element (enterprise bit + PEN 29305).
struct Field {
  uint16_t id;
  uint16_t len;
  bool reverse = false;
};

// IANA IPFIX information element ids.
enum : uint16_t {
  kOctetDelta = 1,
  kPacketDelta = 2,
  kProtocol = 4,
  kTcpFlags = 6,
  kSrcPort = 7,
  kSrcV4 = 8,
  kDstPort = 11,
  kDstV4 = 12,
  kSrcV6 = 27,
  kDstV6 = 28,
  kIcmpV4 = 32,
  kSrcMac = 56,
  kVlan = 58,
  kDstMac = 80,
  kFlowEndReason = 136,
  kIcmpV6 = 139,
  kStartMs = 152,
  kEndMs = 153,
  kLayer2OctetDelta = 352,
};

// The flow table counts whole frames (link header included), which is layer2OctetDeltaCount;
// octetDeltaCount would claim IP bytes the table never measured.
constexpr size_t kFieldCount = 18;
constexpr std::array<Field, kFieldCount> fields_for(uint8_t family) {
  const bool v6 = family == 6;
  return {{
      {v6 ? kSrcV6 : kSrcV4, uint16_t(v6 ? 16 : 4)},
      {v6 ? kDstV6 : kDstV4, uint16_t(v6 ? 16 : 4)},
      {kSrcPort, 2},
      {kDstPort, 2},
      {kProtocol, 1},
      {kVlan, 2},
      {kSrcMac, 6},
      {kDstMac, 6},
      {kPacketDelta, 8},
      {kLayer2OctetDelta, 8},
      {kTcpFlags, 2},  // unsigned16 since RFC 7125
      {kStartMs, 8},
      {kEndMs, 8},
      {kFlowEndReason, 1},
      {v6 ? kIcmpV6 : kIcmpV4, 2},
      {kPacketDelta, 8, true},
      {kLayer2OctetDelta, 8, true},
      {kTcpFlags, 2, true},
  }};
}
constexpr size_t kHeaderSize = 16;
constexpr size_t kSetHeaderSize = 4;

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, static_cast<uint32_t>(v >> 32));
  put32(b, static_cast<uint32_t>(v));
}
void set16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void set32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  set16(b, at, static_cast<uint16_t>(v >> 16));
  set16(b, at + 2, static_cast<uint16_t>(v));
}

size_t template_record_size(uint8_t family) {
  size_t n = 4;
  const auto f = fields_for(family);
  for (size_t i = 0; i < kFieldCount; ++i) n += f[i].reverse ? 8 : 4;
  return n;
}

void put_template(std::vector<uint8_t>& b, uint16_t id, uint8_t family) {
  put16(b, id);
  put16(b, static_cast<uint16_t>(kFieldCount));
  const auto f = fields_for(family);
  for (size_t i = 0; i < kFieldCount; ++i) {
    put16(b, static_cast<uint16_t>(f[i].id | (f[i].reverse ? 0x8000 : 0)));
    put16(b, f[i].len);
    if (f[i].reverse) put32(b, kIpfixReversePen);
  }
}

bool is_icmp(const Flow& f) {
  return f.proto == kProtoIcmp || f.proto == kProtoIcmp6;
}

// Writes the record in template order, so the two cannot drift apart.
void put_record(std::vector<uint8_t>& b, const Flow& flow, FlowEndReason reason) {
  const auto f = fields_for(flow.src.family);
  const bool ports = flow.has_ports && !is_icmp(flow);
  for (size_t i = 0; i < kFieldCount; ++i) {
    const FlowCounters& c = f[i].reverse ? flow.resp : flow.orig;
    switch (f[i].id) {
      case kSrcV4:
      case kSrcV6:
        b.insert(b.end(), flow.src.bytes.begin(), flow.src.bytes.begin() + f[i].len);
        break;
      case kDstV4:
      case kDstV6:
        b.insert(b.end(), flow.dst.bytes.begin(), flow.dst.bytes.begin() + f[i].len);
        break;
      case kSrcPort: put16(b, ports ? flow.sport : 0); break;
      case kDstPort: put16(b, ports ? flow.dport : 0); break;
      case kProtocol: b.push_back(flow.proto); break;
      case kVlan: put16(b, flow.vlan); break;
      case kSrcMac: b.insert(b.end(), flow.src_mac.begin(), flow.src_mac.end()); break;
      case kDstMac: b.insert(b.end(), flow.dst_mac.begin(), flow.dst_mac.end()); break;
      case kPacketDelta: put64(b, c.packets); break;
      case kLayer2OctetDelta: put64(b, c.bytes); break;
      case kTcpFlags: put16(b, c.tcp_flags); break;
      case kStartMs: put64(b, flow.first_ns / 1'000'000); break;
      case kEndMs: put64(b, flow.last_ns / 1'000'000); break;
      case kFlowEndReason: b.push_back(static_cast<uint8_t>(reason)); break;
      case kIcmpV4:
      case kIcmpV6:
        // typeCode = type * 256 + code; the flow keeps the type in sport, the code in dport.
        put16(b, is_icmp(flow) && flow.has_ports
                     ? static_cast<uint16_t>((flow.sport & 0xff) << 8 | (flow.dport & 0xff))
                     : 0);
        break;
      default: break;
    }
  }
}

uint32_t wall_clock_s() {
  return static_cast<uint32_t>(std::time(nullptr));
}

}  // namespace

FlowEndReason flow_end_reason(const Flow& flow, FlowEndReason cause) {
  if (cause == FlowEndReason::kActiveTimeout || flow.proto != kProtoTcp) return cause;
  const bool rst = ((flow.orig.tcp_flags | flow.resp.tcp_flags) & kTcpRst) != 0;
  const bool fins = (flow.orig.tcp_flags & kTcpFin) && (flow.resp.tcp_flags & kTcpFin);
  return rst || fins ? FlowEndReason::kEndOfFlow : cause;
}

size_t IpfixExporter::record_size(uint8_t family) {
  size_t n = 0;
  const auto f = fields_for(family);
  for (size_t i = 0; i < kFieldCount; ++i) n += f[i].len;
  return n;
}

size_t IpfixExporter::template_set_size() {
  return kSetHeaderSize + template_record_size(4) + template_record_size(6);
}

Result<std::unique_ptr<IpfixExporter>> IpfixExporter::create(IpfixOptions options,
                                                             MessageSink sink) {
  const size_t need =
      std::max(kHeaderSize + template_set_size(), kHeaderSize + kSetHeaderSize + record_size(6));
  if (options.mtu < need || options.mtu > 65535) {
    return invalid_argument("IPFIX MTU " + std::to_string(options.mtu) + ": must be " +
                            std::to_string(need) + " to 65535 bytes (the templates must fit)");
  }
  if (!sink) return invalid_argument("IPFIX exporter: no destination");
  if (!options.clock) options.clock = wall_clock_s;
  return std::unique_ptr<IpfixExporter>(new IpfixExporter(std::move(options), std::move(sink)));
}

IpfixExporter::IpfixExporter(IpfixOptions options, MessageSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {
  buf_.reserve(options_.mtu);
}

bool IpfixExporter::templates_due(uint32_t now) const {
  if (!templates_sent_) return true;
  if (options_.template_interval_s > 0 && now - last_templates_s_ >= options_.template_interval_s)
    return true;
  return options_.template_every_messages > 0 &&
         messages_since_templates_ >= options_.template_every_messages;
}

void IpfixExporter::start_message(uint32_t now) {
  buf_.clear();
  put16(buf_, kIpfixVersion);
  put16(buf_, 0);  // length, set when sent
  put32(buf_, now);
  put32(buf_, 0);  // sequence, set when sent
  put32(buf_, options_.observation_domain_id);
  set_start_ = 0;
  pending_records_ = 0;
  pending_templates_ = templates_due(now);
  if (pending_templates_) {
    put16(buf_, kIpfixTemplateSetId);
    put16(buf_, static_cast<uint16_t>(template_set_size()));
    put_template(buf_, kIpfixTemplateV4, 4);
    put_template(buf_, kIpfixTemplateV6, 6);
  }
}

Status IpfixExporter::add(const Flow& flow, FlowEndReason reason) {
  const uint8_t family = flow.src.family;
  if ((family != 4 && family != 6) || flow.dst.family != family) return {};
  const uint16_t tid = family == 6 ? kIpfixTemplateV6 : kIpfixTemplateV4;
  const size_t rec = record_size(family);
  Status st;
  if (!buf_.empty()) {
    const size_t extra = rec + (set_start_ != 0 && set_id_ == tid ? 0 : kSetHeaderSize);
    if (buf_.size() + extra > options_.mtu) st = send_pending();
  }
  if (buf_.empty()) start_message(options_.clock());
  if (set_start_ == 0 || set_id_ != tid) {
    set_start_ = buf_.size();
    set_id_ = tid;
    put16(buf_, tid);
    put16(buf_, kSetHeaderSize);
  }
  put_record(buf_, flow, reason);
  set16(buf_, set_start_ + 2, static_cast<uint16_t>(buf_.size() - set_start_));
  ++pending_records_;
  return st;
}

Status IpfixExporter::send_pending() {
  if (buf_.empty()) return {};
  set16(buf_, 2, static_cast<uint16_t>(buf_.size()));
  set32(buf_, 8, sequence_);  // data records sent before this message
  sequence_ += pending_records_;
  records_ += pending_records_;
  ++messages_;
  if (pending_templates_) {
    templates_sent_ = true;
    last_templates_s_ =
        static_cast<uint32_t>(buf_[4] << 24 | buf_[5] << 16 | buf_[6] << 8 | buf_[7]);
    messages_since_templates_ = 0;
  }
  ++messages_since_templates_;
  Status st = sink_(Bytes(buf_.data(), buf_.size()));
  buf_.clear();
  set_start_ = 0;
  pending_records_ = 0;
  return st;
}

Status IpfixExporter::flush() {
  // A stream that never had a flow still gets its templates, so a collector knows it.
  if (buf_.empty() && !templates_sent_) start_message(options_.clock());
  return send_pending();
}

// ---- destinations ----

Result<std::unique_ptr<IpfixDestination>> IpfixDestination::open(const std::string& spec) {
  const std::string where = "IPFIX destination '" + spec + "'";
  if (spec.empty()) return invalid_argument("IPFIX destination: empty");
  if (!spec.starts_with("udp://")) {
    if (spec.find("://") != std::string::npos)
      return invalid_argument(where + ": only udp://HOST:PORT or a file path");
    int fd = ::open(spec.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Error(ErrorCode::kIo, where + ": cannot open: " + std::strerror(errno));
    return std::unique_ptr<IpfixDestination>(new IpfixDestination(spec, fd, false));
  }
  std::string rest = spec.substr(6);
  std::string host, port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return invalid_argument(where + ": expected udp://[IPv6]:PORT");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos || rest.find(':') != colon)
      return invalid_argument(where + ": expected udp://HOST:PORT (IPv6 literals in brackets)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  char* end = nullptr;
  unsigned long p = port.empty() ? 0 : std::strtoul(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end != '\0' || p == 0 || p > 65535)
    return invalid_argument(where + ": bad host or port (expected udp://HOST:PORT, port 1-65535)");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Error(ErrorCode::kNotFound,
                 where + ": cannot resolve '" + host + "': " + gai_strerror(rc));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    // Connected, so send() needs no address and a closed port shows up as an error.
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return Error(ErrorCode::kIo, where + ": " + last);
  return std::unique_ptr<IpfixDestination>(new IpfixDestination(spec, fd, true));
}

IpfixDestination::~IpfixDestination() {
  if (fd_ >= 0) ::close(fd_);
}

Status IpfixDestination::send(Bytes message) {
  if (udp_) {
    ssize_t n = ::send(fd_, message.data(), message.size(), 0);
    if (n < 0)
      return Error(ErrorCode::kIo, "IPFIX to " + spec_ + ": send: " + std::strerror(errno));
    return {};
  }
  size_t off = 0;
  while (off < message.size()) {
    ssize_t n = ::write(fd_, message.data() + off, message.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Error(ErrorCode::kIo, "IPFIX to " + spec_ + ": write: " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace ironroot::sensor
