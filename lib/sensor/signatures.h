// ironroot sensor: per-packet signatures of management-engine and BMC traffic, and the small
// application parsers the reconciler needs (DHCP client fingerprints, DNS answers).
//
// Each works on one decoded packet and never reads past its payload. They stand alone (sites
// without agents): a flow carrying an RMCP presence ping or a SYN to an AMT port is worth a
// finding whatever the host says.
//
//   uint32_t sig = classify(packet);   // Signature bits, OR-ed into the flow
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sensor/packet.h"

namespace ironroot::sensor {

// Bits in Flow::signatures.
enum Signature : uint32_t {
  kSigAsfPresencePing = 1u << 0,   // RMCP class 6 (ASF), message 0x80 (DSP0136 3.2.4.1)
  kSigAsfPresencePong = 1u << 1,   // RMCP class 6, message 0x40
  kSigAsfOther = 1u << 2,          // any other ASF message
  kSigIpmiAuthCapProbe = 1u << 3,  // IPMI 1.5 session, Get Channel Authentication Capabilities
  kSigIpmiOther = 1u << 4,         // other IPMI over RMCP class 7
  kSigIpmiRakp = 1u << 5,          // RMCP+ open session / RAKP 1-4 (IPMI 2.0 13.17-13.23)
  kSigAmtPortSyn = 1u << 6,        // TCP SYN to 16992-16995
  kSigDashPortSyn = 1u << 7,       // TCP SYN to 623 / 664
  kSigWsman = 1u << 8,             // "POST /wsman" or the AMT Server header
  kSigRfb = 1u << 9,               // an RFB (VNC) protocol banner
  kSigRfbOnAmtPort = 1u << 10,     // RFB on 16994 / 16995 (AMT redirection = KVM)
  kSigTlsClientHello = 1u << 11,   // a TLS ClientHello
  kSigDhcpClient = 1u << 12,       // a DHCP request (client -> server)
  kSigAmtRedirection = 1u << 13,   // AMT redirection protocol start (SOL / IDE-R) on 16994/16995
};

// A readable name for each bit ("asf_presence_ping", ...).
std::vector<std::string> signature_names(uint32_t bits);

inline bool is_amt_port(uint16_t p) {
  return p >= 16992 && p <= 16995;
}
inline bool is_dash_tcp_port(uint16_t p) {
  return p == 623 || p == 664;
}
inline bool is_rmcp_udp_port(uint16_t p) {
  return p == 623 || p == 664;
}

// Signature bits for one packet (0 for nearly all ordinary traffic, cheaply).
uint32_t classify(const Packet& p);

// RMCP (DMTF DSP0136 3.2.2.1): the bits above for an RMCP datagram, 0 if it is not one.
uint32_t classify_rmcp(Bytes udp_payload);

// A DHCP client's fingerprint (RFC 2131 / 2132): what tells two DHCP stacks behind one MAC apart.
struct DhcpClient {
  MacAddr chaddr{};
  uint8_t message_type = 0;         // option 53
  std::string parameter_list;       // option 55, as comma-separated decimal codes
  std::string vendor_class;         // option 60
  std::string client_id;            // option 61, hex
  std::string host_name;            // option 12
  std::string fingerprint() const;  // "55=1,3,6|60=MSFT 5.0"; empty when there is nothing to tell
};

// Parses a BOOTREQUEST; false when the payload is not one (or is cut short before the options).
bool parse_dhcp_request(Bytes udp_payload, DhcpClient* out);

// The IPv4 / IPv6 addresses in the answer section of a DNS response (at most `max`).
bool parse_dns_answers(Bytes udp_payload, std::vector<IpAddr>* out, size_t max = 32);

}  // namespace ironroot::sensor
