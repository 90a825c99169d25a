#include "sensor/signatures.h"

#include <cstdio>
#include <cstring>

#include "core/hex.h"

namespace ironroot::sensor {
namespace {

inline uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

bool starts_with(Bytes b, std::string_view s) {
  return b.size() >= s.size() && std::memcmp(b.data(), s.data(), s.size()) == 0;
}

bool contains(Bytes b, std::string_view s, size_t limit) {
  size_t n = b.size() < limit ? b.size() : limit;
  if (s.empty() || n < s.size()) return false;
  return ::memmem(b.data(), n, s.data(), s.size()) != nullptr;
}

constexpr uint32_t kAsfIana = 4542;  // 0x000011BE, the ASF enterprise number in RMCP class 6

uint32_t classify_ipmi(Bytes b) {
  // IPMI 2.0 22.12: auth type, then the 1.5 session header or (0x06) the RMCP+ one.
  if (b.size() < 1) return kSigIpmiOther;
  uint8_t auth = b[0];
  if (auth == 0x06) {
    if (b.size() < 2) return kSigIpmiOther;
    uint8_t type = b[1] & 0x3f;
    if (type >= 0x10 && type <= 0x15) return kSigIpmiRakp;
    return kSigIpmiOther;
  }
  size_t off = 1 + 4 + 4;       // sequence, session ID
  if (auth != 0x00) off += 16;  // authentication code
  if (b.size() < off + 1 + 6) return kSigIpmiOther;
  size_t len = b[off];
  const uint8_t* m = b.data() + off + 1;
  if (len < 6) return kSigIpmiOther;
  uint8_t netfn = m[1] >> 2;
  uint8_t cmd = m[5];
  if (netfn == 0x06 && cmd == 0x38) return kSigIpmiAuthCapProbe;  // App, Get Chan Auth Caps
  return kSigIpmiOther;
}

}  // namespace

std::vector<std::string> signature_names(uint32_t bits) {
  static const char* const kNames[] = {"asf_presence_ping", "asf_presence_pong",
                                       "asf_other",         "ipmi_auth_capabilities_probe",
                                       "ipmi_other",        "ipmi_rakp",
                                       "amt_port_syn",      "dash_port_syn",
                                       "amt_wsman",         "rfb",
                                       "rfb_on_amt_port",   "tls_client_hello",
                                       "dhcp_client",       "amt_redirection"};
  std::vector<std::string> out;
  for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; ++i) {
    if (bits & (1u << i)) out.emplace_back(kNames[i]);
  }
  return out;
}

uint32_t classify_rmcp(Bytes b) {
  // RMCP header: version 0x06, reserved, sequence, class (bit 7 = ACK).
  if (b.size() < 4 || b[0] != 0x06) return 0;
  uint8_t cls = b[3] & 0x1f;
  if (b[3] & 0x80) return 0;  // RMCP ACK: no message
  Bytes body = b.subspan(4);
  if (cls == 6) {
    if (body.size() < 5) return kSigAsfOther;
    uint32_t iana = (static_cast<uint32_t>(body[0]) << 24) |
                    (static_cast<uint32_t>(body[1]) << 16) | (static_cast<uint32_t>(body[2]) << 8) |
                    body[3];
    if (iana != kAsfIana) return kSigAsfOther;
    if (body[4] == 0x80) return kSigAsfPresencePing;
    if (body[4] == 0x40) return kSigAsfPresencePong;
    return kSigAsfOther;
  }
  if (cls == 7) return classify_ipmi(body);
  return 0;
}

uint32_t classify(const Packet& p) {
  if (p.proto == kProtoTcp) {
    uint32_t sig = 0;
    if ((p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
      if (is_amt_port(p.dport)) sig |= kSigAmtPortSyn;
      if (is_dash_tcp_port(p.dport)) sig |= kSigDashPortSyn;
    }
    if (p.payload.empty()) return sig;
    Bytes b = p.payload;
    bool mgmt_port = is_amt_port(p.sport) || is_amt_port(p.dport) || is_dash_tcp_port(p.sport) ||
                     is_dash_tcp_port(p.dport);
    if (starts_with(b, "POST /wsman")) sig |= kSigWsman;
    if (mgmt_port && starts_with(b, "HTTP/1.") &&
        contains(b, "Intel(R) Active Management Technology", 2048)) {
      sig |= kSigWsman;
    }
    // RFC 6143 7.1.1: "RFB 003.008\n".
    if (b.size() >= 12 && starts_with(b, "RFB ") && b[7] == '.' && b[11] == '\n') {
      sig |= kSigRfb;
      if (p.sport == 16994 || p.sport == 16995 || p.dport == 16994 || p.dport == 16995) {
        sig |= kSigRfbOnAmtPort;
      }
    }
    // AMT redirection: StartRedirectionSession (0x10) naming the session kind.
    if (b.size() >= 8 && b[0] == 0x10 && (p.dport == 16994 || p.dport == 16995) &&
        (std::memcmp(b.data() + 4, "SOL ", 4) == 0 || std::memcmp(b.data() + 4, "IDER", 4) == 0 ||
         std::memcmp(b.data() + 4, "KVMR", 4) == 0)) {
      sig |= kSigAmtRedirection;
    }
    // TLS record: handshake (22), version 3.x, message ClientHello (1).
    if (b.size() >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x01) sig |= kSigTlsClientHello;
    return sig;
  }
  if (p.proto == kProtoUdp) {
    if (is_rmcp_udp_port(p.dport) || is_rmcp_udp_port(p.sport)) return classify_rmcp(p.payload);
    if (p.dport == 67 && p.payload.size() > 240 && p.payload[0] == 1) return kSigDhcpClient;
  }
  return 0;
}

std::string DhcpClient::fingerprint() const {
  if (parameter_list.empty() && vendor_class.empty()) return "";
  std::string f = "55=" + parameter_list;
  if (!vendor_class.empty()) f += "|60=" + vendor_class;
  return f;
}

bool parse_dhcp_request(Bytes b, DhcpClient* out) {
  // RFC 2131 2: fixed header of 236 bytes, then the magic cookie 99.130.83.99.
  if (b.size() < 240 || b[0] != 1) return false;
  if (b[1] == 1 && b[2] == 6) std::memcpy(out->chaddr.data(), b.data() + 28, 6);
  if (b[236] != 99 || b[237] != 130 || b[238] != 83 || b[239] != 99) return false;
  size_t i = 240;
  while (i < b.size()) {
    uint8_t code = b[i++];
    if (code == 0) continue;  // pad
    if (code == 255) break;   // end
    if (i >= b.size()) break;
    size_t len = b[i++];
    if (i + len > b.size()) break;  // truncated option: keep what was read
    const uint8_t* v = b.data() + i;
    switch (code) {
      case 53:
        if (len >= 1) out->message_type = v[0];
        break;
      case 55:
        out->parameter_list.clear();
        for (size_t k = 0; k < len; ++k) {
          if (k) out->parameter_list += ',';
          out->parameter_list += std::to_string(v[k]);
        }
        break;
      case 60: out->vendor_class.assign(reinterpret_cast<const char*>(v), len); break;
      case 61: out->client_id = to_hex(Bytes(v, len)); break;
      case 12: out->host_name.assign(reinterpret_cast<const char*>(v), len); break;
      default: break;
    }
    i += len;
  }
  // Keep only printable ASCII in the strings that end up in findings.
  for (std::string* s : {&out->vendor_class, &out->host_name}) {
    for (char& c : *s) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
  }
  return true;
}

bool parse_dns_answers(Bytes b, std::vector<IpAddr>* out, size_t max) {
  // RFC 1035 4.1: header, questions, answers. Names are skipped (labels or a pointer).
  if (b.size() < 12) return false;
  if ((b[2] & 0x80) == 0) return false;  // a query, not a response
  size_t qd = be16(b.data() + 4);
  size_t an = be16(b.data() + 6);
  size_t i = 12;
  auto skip_name = [&]() -> bool {
    for (int labels = 0; labels < 128; ++labels) {
      if (i >= b.size()) return false;
      uint8_t l = b[i];
      if ((l & 0xc0) == 0xc0) {
        i += 2;
        return i <= b.size();
      }
      if (l & 0xc0) return false;
      ++i;
      if (l == 0) return true;
      i += l;
    }
    return false;
  };
  for (size_t q = 0; q < qd && q < 16; ++q) {
    if (!skip_name()) return false;
    i += 4;
    if (i > b.size()) return false;
  }
  for (size_t a = 0; a < an && a < 64; ++a) {
    if (!skip_name()) return false;
    if (i + 10 > b.size()) return false;
    uint16_t type = be16(b.data() + i);
    uint16_t cls = be16(b.data() + i + 2);
    size_t rdlen = be16(b.data() + i + 8);
    i += 10;
    if (i + rdlen > b.size()) return false;
    if (cls == 1 && ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16)) &&
        out->size() < max) {
      IpAddr ip;
      ip.family = type == 1 ? 4 : 6;
      std::memcpy(ip.bytes.data(), b.data() + i, rdlen);
      out->push_back(ip);
    }
    i += rdlen;
  }
  return true;
}

}  // namespace ironroot::sensor
