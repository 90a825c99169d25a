// ironroot sensor: the Community ID flow hash (corelight/community-id-spec, version 1).
//
// The same string for both directions of a flow, so host-side records (conntrack, sock_diag) and
// wire flows join on it:  "1:" + base64(SHA-1(seed . saddr . daddr . proto . 0 . sport . dport)),
// endpoints ordered so the smaller (address, port) comes first.
//
//   std::string id = community_id(IpAddr::v4(192,168,1,52), IpAddr::v4(8,8,8,8), 17, 54585, 53);
//   // "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
#pragma once

#include <cstdint>
#include <string>

#include "sensor/packet.h"

namespace ironroot::sensor {

// For TCP, UDP and SCTP pass the ports; for ICMP / ICMPv6 pass type and code (the counterpart
// mapping of the spec is applied here); for other protocols has_ports = false.
std::string community_id(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint16_t sport,
                         uint16_t dport, bool has_ports = true, uint16_t seed = 0);

// The spec's ICMP "port equivalents": (type, counterpart type) for request/reply pairs,
// (type, code) and one_way = true otherwise.
void icmp_port_equivalents(uint8_t proto, uint16_t type, uint16_t code, uint16_t* p1, uint16_t* p2,
                           bool* one_way);

}  // namespace ironroot::sensor
