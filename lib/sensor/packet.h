// ironroot sensor: decoding captured frames into the fields the flow table needs.
//
// This is the hot path: no allocation, no exceptions, no Error strings per packet. A frame that
// is not IP, or is cut short, gives a status instead of a packet; the caller counts them.
//
//   Packet p;
//   if (decode(frame, LinkType::kEthernet, &p) == DecodeStatus::kOk) table.add(p, ts_ns);
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/bytes.h"

namespace ironroot::sensor {

// pcap LINKTYPE_* values (tcpdump.org/linktypes.html) for the link layers the sensor reads.
enum class LinkType : uint16_t {
  kNull = 0,         // BSD loopback: 4-byte host-order address family
  kEthernet = 1,     // Ethernet II, 802.1Q / 802.1ad tags
  kRaw = 101,        // raw IPv4 / IPv6
  kLinuxSll = 113,   // Linux "cooked" capture v1
  kLinuxSll2 = 276,  // Linux "cooked" capture v2
};

using MacAddr = std::array<uint8_t, 6>;

// An IPv4 or IPv6 address; IPv4 lives in bytes[0..3] and the rest stays zero.
struct IpAddr {
  uint8_t family = 0;  // 4 or 6; 0 = none
  std::array<uint8_t, 16> bytes{};

  size_t size() const { return family == 6 ? 16 : 4; }
  bool operator==(const IpAddr&) const = default;
  auto operator<=>(const IpAddr&) const = default;
  bool is_multicast_or_broadcast() const;
  std::string str() const;
  static IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
};

std::string mac_str(const MacAddr& mac);

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint8_t kProtoSctp = 132;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

// What the flow table and the signatures need from one frame. Views point into the frame.
struct Packet {
  uint32_t wire_len = 0;  // frame length as captured on the wire
  bool has_mac = false;
  MacAddr src_mac{};
  MacAddr dst_mac{};
  uint16_t vlan = 0;  // outermost 802.1Q VLAN ID; 0 = untagged
  uint16_t ethertype = 0;
  IpAddr src;
  IpAddr dst;
  uint8_t proto = 0;
  bool has_ports = false;  // TCP / UDP / SCTP with ports, or ICMP type / code
  uint16_t sport = 0;      // ICMP: type
  uint16_t dport = 0;      // ICMP: code
  uint8_t tcp_flags = 0;
  bool later_fragment = false;  // an IP fragment after the first: no transport header
  Bytes payload;                // transport payload (TCP / UDP data), may be empty
};

enum class DecodeStatus : uint8_t {
  kOk,
  kNotIp,      // ARP, LLDP, NC-SI control and other non-IP frames (the caller may still look)
  kTruncated,  // shorter than the headers it announces
  kMalformed,  // a header field that cannot be (IPv4 IHL < 5, TCP offset < 5, ...)
};
const char* decode_status_name(DecodeStatus s);

// Decodes one frame. On kNotIp the MACs, VLAN and ethertype are still filled in.
DecodeStatus decode(Bytes frame, LinkType link, Packet* out);

// True when the link type is one decode() reads.
bool supported_link_type(int linktype);

}  // namespace ironroot::sensor
