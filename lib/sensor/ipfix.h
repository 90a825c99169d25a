// ironroot sensor: IPFIX flow export (RFC 7011), one record per ended flow, both directions in
// it as an RFC 5103 biflow (reverse counters under PEN 29305).
//
//   auto dest = IpfixDestination::open("udp://collector.example:4739");  // or a file path
//   auto exp = IpfixExporter::create({.template_interval_s = (*dest)->is_udp() ? 600 : 0},
//                                    [&](Bytes m) { return (*dest)->send(m); });
//   (*exp)->add(flow, FlowEndReason::kIdleTimeout);   // buffered until a message is full
//   (*exp)->flush();                                  // now and then, and at the end
//
// Two templates: 256 (IPv4) and 257 (IPv6), identical but for the addresses and the ICMP type.
// Messages never exceed `mtu` bytes. Not thread-safe: callers share one exporter under a lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "sensor/flow_table.h"

namespace ironroot::sensor {

inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr uint16_t kIpfixTemplateSetId = 2;
inline constexpr uint16_t kIpfixTemplateV4 = 256;
inline constexpr uint16_t kIpfixTemplateV6 = 257;
inline constexpr uint32_t kIpfixReversePen = 29305;  // RFC 5103 reverse information elements
inline constexpr uint16_t kIpfixDefaultPort = 4739;

// IANA flowEndReason (information element 136).
enum class FlowEndReason : uint8_t {
  kIdleTimeout = 1,
  kActiveTimeout = 2,
  kEndOfFlow = 3,  // the flow closed itself (TCP RST, or FIN both ways)
  kForcedEnd = 4,  // the meter stopped: end of the capture, shutdown
};

// `cause` unless a TCP flow already closed itself (then kEndOfFlow). An active-timeout export
// is not an end, so it stays kActiveTimeout.
FlowEndReason flow_end_reason(const Flow& flow, FlowEndReason cause);

struct IpfixOptions {
  uint32_t observation_domain_id = 0;
  size_t mtu = 1400;  // largest message, bytes (UDP: below the path MTU, no fragments)
  // Templates are sent with the first message. Over UDP they must be sent again (RFC 7011 8.4):
  // after this many seconds, and / or every this many messages; 0 = never again (a file).
  uint32_t template_interval_s = 0;
  uint32_t template_every_messages = 0;
  // Export time, seconds since the epoch; default: the wall clock.
  std::function<uint32_t()> clock;
};

class IpfixExporter {
 public:
  // Gets each finished message; an Error is returned from add() / flush() (the message is lost,
  // the sequence number still counts its records, as a collector must see the loss).
  using MessageSink = std::function<Status(Bytes message)>;

  // Fails when the MTU cannot hold the templates or one record.
  static Result<std::unique_ptr<IpfixExporter>> create(IpfixOptions options, MessageSink sink);

  // Appends the flow's data record; sends the pending message first when the record would not
  // fit. Flows without an IPv4/IPv6 address are skipped (not counted).
  Status add(const Flow& flow, FlowEndReason reason);
  // Sends the pending message, if it holds records (or templates never sent yet).
  Status flush();

  uint32_t sequence() const { return sequence_; }  // data records so far (mod 2^32)
  uint64_t messages() const { return messages_; }
  uint64_t records() const { return records_; }

  // Bytes of one data record (IPv4 / IPv6) and of the template set, for sizing.
  static size_t record_size(uint8_t family);
  static size_t template_set_size();

 private:
  IpfixExporter(IpfixOptions options, MessageSink sink);
  bool templates_due(uint32_t now) const;
  void start_message(uint32_t now);
  Status send_pending();

  IpfixOptions options_;
  MessageSink sink_;
  std::vector<uint8_t> buf_;      // the message being filled (header included)
  size_t set_start_ = 0;          // offset of the open data set; 0 = none
  uint16_t set_id_ = 0;           // its template
  uint32_t pending_records_ = 0;  // data records in buf_
  bool pending_templates_ = false;
  uint32_t sequence_ = 0;
  uint64_t messages_ = 0;
  uint64_t records_ = 0;
  bool templates_sent_ = false;
  uint32_t last_templates_s_ = 0;
  uint64_t messages_since_templates_ = 0;
};

// Where messages go: "udp://HOST:PORT" (IPv6 literals in brackets, names resolved) or a file
// path (RFC 5655 file: the messages one after another; truncated at open).
class IpfixDestination {
 public:
  static Result<std::unique_ptr<IpfixDestination>> open(const std::string& spec);
  ~IpfixDestination();
  IpfixDestination(const IpfixDestination&) = delete;
  IpfixDestination& operator=(const IpfixDestination&) = delete;

  Status send(Bytes message);  // errors name the destination
  bool is_udp() const { return udp_; }
  const std::string& name() const { return spec_; }

 private:
  IpfixDestination(std::string spec, int fd, bool udp)
      : spec_(std::move(spec)), fd_(fd), udp_(udp) {}
  std::string spec_;
  int fd_ = -1;
  bool udp_ = false;
};

}  // namespace ironroot::sensor
