#include "sensor/packet.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace ironroot::sensor {
namespace {

inline uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint16_t kEtherMpls = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr int kMaxVlanTags = 4;
constexpr int kMaxMplsLabels = 8;
constexpr int kMaxIpv6ExtHeaders = 8;

DecodeStatus decode_transport(const uint8_t* p, size_t n, Packet* out) {
  switch (out->proto) {
    case kProtoTcp: {
      if (n < 20) return DecodeStatus::kTruncated;
      size_t off = static_cast<size_t>(p[12] >> 4) * 4;
      if (off < 20) return DecodeStatus::kMalformed;
      if (off > n) return DecodeStatus::kTruncated;
      out->sport = be16(p);
      out->dport = be16(p + 2);
      out->tcp_flags = p[13];
      out->has_ports = true;
      out->payload = Bytes(p + off, n - off);
      return DecodeStatus::kOk;
    }
    case kProtoUdp:
    case kProtoSctp: {
      size_t hdr = out->proto == kProtoUdp ? 8 : 12;
      if (n < hdr) return DecodeStatus::kTruncated;
      out->sport = be16(p);
      out->dport = be16(p + 2);
      out->has_ports = true;
      size_t len = n - hdr;
      if (out->proto == kProtoUdp) {
        // The UDP length bounds the payload when it is sane; Ethernet padding is not payload.
        uint16_t ulen = be16(p + 4);
        if (ulen >= 8 && static_cast<size_t>(ulen - 8) < len) len = ulen - 8u;
      }
      out->payload = Bytes(p + hdr, len);
      return DecodeStatus::kOk;
    }
    case kProtoIcmp:
    case kProtoIcmp6: {
      if (n < 4) return DecodeStatus::kTruncated;
      out->sport = p[0];
      out->dport = p[1];
      out->has_ports = true;
      out->payload = Bytes(p + 4, n - 4);
      return DecodeStatus::kOk;
    }
    default: return DecodeStatus::kOk;  // other protocols: a flow on addresses and protocol alone
  }
}

DecodeStatus decode_ipv4(const uint8_t* p, size_t n, Packet* out) {
  if (n < 20) return DecodeStatus::kTruncated;
  if ((p[0] >> 4) != 4) return DecodeStatus::kMalformed;
  size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20) return DecodeStatus::kMalformed;
  if (ihl > n) return DecodeStatus::kTruncated;
  size_t total = be16(p + 2);
  if (total < ihl) return DecodeStatus::kMalformed;
  if (total < n) n = total;  // drop Ethernet padding; a short capture (snaplen) keeps what it has
  out->src.family = 4;
  out->dst.family = 4;
  std::memcpy(out->src.bytes.data(), p + 12, 4);
  std::memcpy(out->dst.bytes.data(), p + 16, 4);
  out->proto = p[9];
  uint16_t frag = be16(p + 6);
  if ((frag & 0x1fff) != 0) {
    out->later_fragment = true;
    return DecodeStatus::kOk;
  }
  return decode_transport(p + ihl, n - ihl, out);
}

DecodeStatus decode_ipv6(const uint8_t* p, size_t n, Packet* out) {
  if (n < 40) return DecodeStatus::kTruncated;
  if ((p[0] >> 4) != 6) return DecodeStatus::kMalformed;
  size_t total = 40 + static_cast<size_t>(be16(p + 4));
  if (total < n) n = total;
  out->src.family = 6;
  out->dst.family = 6;
  std::memcpy(out->src.bytes.data(), p + 8, 16);
  std::memcpy(out->dst.bytes.data(), p + 24, 16);
  uint8_t next = p[6];
  size_t off = 40;
  for (int i = 0; i < kMaxIpv6ExtHeaders; ++i) {
    if (next == 0 || next == 43 || next == 60) {  // hop-by-hop, routing, destination options
      if (off + 8 > n) return DecodeStatus::kTruncated;
      size_t len = (static_cast<size_t>(p[off + 1]) + 1) * 8;
      next = p[off];
      off += len;
    } else if (next == 44) {  // fragment (RFC 8200 4.5)
      if (off + 8 > n) return DecodeStatus::kTruncated;
      uint16_t fo = be16(p + off + 2);
      next = p[off];
      off += 8;
      if ((fo & 0xfff8) != 0) {
        out->proto = next;
        out->later_fragment = true;
        return DecodeStatus::kOk;
      }
    } else if (next == 51) {  // AH: length in 4-byte units, minus 2
      if (off + 8 > n) return DecodeStatus::kTruncated;
      size_t len = (static_cast<size_t>(p[off + 1]) + 2) * 4;
      next = p[off];
      off += len;
    } else {
      break;
    }
    if (off > n) return DecodeStatus::kTruncated;
  }
  out->proto = next;
  return decode_transport(p + off, n - off, out);
}

DecodeStatus decode_ip(uint16_t ethertype, const uint8_t* p, size_t n, Packet* out) {
  out->ethertype = ethertype;
  if (ethertype == kEtherIpv4) return decode_ipv4(p, n, out);
  if (ethertype == kEtherIpv6) return decode_ipv6(p, n, out);
  return DecodeStatus::kNotIp;
}

}  // namespace

bool IpAddr::is_multicast_or_broadcast() const {
  if (family == 4) return bytes[0] >= 224 || (bytes[0] == 255 && bytes[3] == 255);
  if (family == 6) return bytes[0] == 0xff;
  return false;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) ::inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  if (family == 6) ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

IpAddr IpAddr::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr ip;
  ip.family = 4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

std::string mac_str(const MacAddr& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

const char* decode_status_name(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kNotIp: return "not_ip";
    case DecodeStatus::kTruncated: return "truncated";
    case DecodeStatus::kMalformed: return "malformed";
  }
  return "?";
}

bool supported_link_type(int linktype) {
  return linktype == 0 || linktype == 1 || linktype == 101 || linktype == 113 || linktype == 276;
}

namespace {

// An Ethernet frame: MACs, up to kMaxVlanTags 802.1Q / 802.1ad tags (the outermost VLAN ID is
// kept), then IP, or an MPLS label stack over IP or over an Ethernet pseudowire (RFC 4448; the
// customer frame inside gives the MACs, one level deep).
DecodeStatus decode_ethernet(const uint8_t* p, size_t n, Packet* out, bool pseudowire) {
  if (n < 14) return DecodeStatus::kTruncated;
  std::memcpy(out->dst_mac.data(), p, 6);
  std::memcpy(out->src_mac.data(), p + 6, 6);
  out->has_mac = true;
  uint16_t type = be16(p + 12);
  size_t off = 14;
  for (int i = 0;
       i < kMaxVlanTags && (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld);
       ++i) {
    if (off + 4 > n) return DecodeStatus::kTruncated;
    if (out->vlan == 0) out->vlan = be16(p + off) & 0x0fff;
    type = be16(p + off + 2);
    off += 4;
  }
  out->ethertype = type;
  if ((type == kEtherMpls || type == kEtherMplsMulticast) && !pseudowire) {
    bool bottom = false;
    for (int i = 0; i < kMaxMplsLabels && !bottom; ++i) {
      if (off + 4 > n) return DecodeStatus::kTruncated;
      bottom = p[off + 2] & 0x01;  // the S bit ends the stack
      off += 4;
    }
    if (!bottom) return DecodeStatus::kNotIp;  // a deeper stack than any network uses
    if (off + 1 > n) return DecodeStatus::kTruncated;
    switch (p[off] >> 4) {  // MPLS does not say what it carries: the first nibble does
      case 4: out->ethertype = kEtherIpv4; return decode_ip(kEtherIpv4, p + off, n - off, out);
      case 6: out->ethertype = kEtherIpv6; return decode_ip(kEtherIpv6, p + off, n - off, out);
      case 0:  // the pseudowire control word, then the customer's frame
        if (off + 4 > n) return DecodeStatus::kTruncated;
        return decode_ethernet(p + off + 4, n - off - 4, out, /*pseudowire=*/true);
      default: return DecodeStatus::kNotIp;
    }
  }
  return decode_ip(type, p + off, n - off, out);
}

}  // namespace

DecodeStatus decode(Bytes frame, LinkType link, Packet* out) {
  *out = Packet{};
  out->wire_len = static_cast<uint32_t>(frame.size());
  const uint8_t* p = frame.data();
  size_t n = frame.size();
  switch (link) {
    case LinkType::kEthernet: return decode_ethernet(p, n, out, /*pseudowire=*/false);
    case LinkType::kNull: {
      if (n < 4) return DecodeStatus::kTruncated;
      // The family is in the capturing host's byte order: accept both. 2 = AF_INET;
      // 24, 28, 30 = AF_INET6 on the BSDs and macOS.
      uint32_t fam_le = ByteReader::load_le32(p);
      uint32_t fam_be = (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
                        (static_cast<uint32_t>(p[2]) << 8) | p[3];
      uint32_t fam = fam_le < 256 ? fam_le : fam_be;
      if (fam == 2) return decode_ip(kEtherIpv4, p + 4, n - 4, out);
      if (fam == 24 || fam == 28 || fam == 30) return decode_ip(kEtherIpv6, p + 4, n - 4, out);
      return DecodeStatus::kNotIp;
    }
    case LinkType::kRaw: {
      if (n < 1) return DecodeStatus::kTruncated;
      uint8_t v = p[0] >> 4;
      if (v == 4) return decode_ip(kEtherIpv4, p, n, out);
      if (v == 6) return decode_ip(kEtherIpv6, p, n, out);
      return DecodeStatus::kNotIp;
    }
    case LinkType::kLinuxSll: {
      if (n < 16) return DecodeStatus::kTruncated;
      if (be16(p + 4) == 6) {  // link-layer address length: Ethernet
        std::memcpy(out->src_mac.data(), p + 6, 6);
        out->has_mac = true;
      }
      return decode_ip(be16(p + 14), p + 16, n - 16, out);
    }
    case LinkType::kLinuxSll2: {
      if (n < 20) return DecodeStatus::kTruncated;
      if (p[11] == 6) {
        std::memcpy(out->src_mac.data(), p + 12, 6);
        out->has_mac = true;
      }
      return decode_ip(be16(p), p + 20, n - 20, out);
    }
  }
  return DecodeStatus::kNotIp;
}

}  // namespace ironroot::sensor
