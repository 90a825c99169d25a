#include "sensor/community_id.h"

#include <openssl/evp.h>

#include <cstring>

#include "crypto/base64.h"

namespace ironroot::sensor {
namespace {

int icmp4_counterpart(uint16_t type) {
  switch (type) {
    case 8:  // echo <-> echo reply
      return 0;
    case 0: return 8;
    case 13:  // timestamp
      return 14;
    case 14: return 13;
    case 15:  // information
      return 16;
    case 16: return 15;
    case 10:  // router solicitation <-> advertisement
      return 9;
    case 9: return 10;
    case 17:  // address mask
      return 18;
    case 18: return 17;
    default: return -1;
  }
}

int icmp6_counterpart(uint16_t type) {
  switch (type) {
    case 128:  // echo
      return 129;
    case 129: return 128;
    case 133:  // router solicitation / advertisement
      return 134;
    case 134: return 133;
    case 135:  // neighbour solicitation / advertisement
      return 136;
    case 136: return 135;
    case 130:  // MLD query / report
      return 131;
    case 131: return 130;
    case 139:  // node information (who-are-you) query / reply
      return 140;
    case 140: return 139;
    case 144:  // home agent address discovery
      return 145;
    case 145: return 144;
    default: return -1;
  }
}

bool less(const IpAddr& a, const IpAddr& b, uint16_t pa, uint16_t pb) {
  int c = std::memcmp(a.bytes.data(), b.bytes.data(), a.size());
  return c < 0 || (c == 0 && pa < pb);
}

}  // namespace

void icmp_port_equivalents(uint8_t proto, uint16_t type, uint16_t code, uint16_t* p1, uint16_t* p2,
                           bool* one_way) {
  int counterpart = proto == kProtoIcmp ? icmp4_counterpart(type) : icmp6_counterpart(type);
  *p1 = type;
  if (counterpart < 0) {
    *p2 = code;
    *one_way = true;
  } else {
    *p2 = static_cast<uint16_t>(counterpart);
    *one_way = false;
  }
}

std::string community_id(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint16_t sport,
                         uint16_t dport, bool has_ports, uint16_t seed) {
  bool one_way = false;
  if (has_ports && (proto == kProtoIcmp || proto == kProtoIcmp6)) {
    icmp_port_equivalents(proto, sport, dport, &sport, &dport, &one_way);
  }
  const IpAddr* a = &src;
  const IpAddr* b = &dst;
  uint16_t pa = sport;
  uint16_t pb = dport;
  if (!one_way && !less(src, dst, sport, dport)) {
    std::swap(a, b);
    std::swap(pa, pb);
  }
  uint8_t buf[2 + 16 + 16 + 2 + 4];
  size_t n = 0;
  buf[n++] = static_cast<uint8_t>(seed >> 8);
  buf[n++] = static_cast<uint8_t>(seed);
  std::memcpy(buf + n, a->bytes.data(), a->size());
  n += a->size();
  std::memcpy(buf + n, b->bytes.data(), b->size());
  n += b->size();
  buf[n++] = proto;
  buf[n++] = 0;
  if (has_ports) {
    buf[n++] = static_cast<uint8_t>(pa >> 8);
    buf[n++] = static_cast<uint8_t>(pa);
    buf[n++] = static_cast<uint8_t>(pb >> 8);
    buf[n++] = static_cast<uint8_t>(pb);
  }
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(buf, n, md, &md_len, EVP_sha1(), nullptr) != 1) return "";
  return "1:" + crypto::base64_encode(Bytes(md, md_len));
}

}  // namespace ironroot::sensor
