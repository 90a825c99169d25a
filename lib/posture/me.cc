#include "posture/me.h"

#include <fcntl.h>
#include <linux/mei.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/text.h"

namespace ironroot::posture {
namespace {

std::vector<uint32_t> version_parts(std::string_view v) {
  std::vector<uint32_t> out;
  uint32_t cur = 0;
  bool any = false;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      if (cur < 100000000) cur = cur * 10 + static_cast<uint32_t>(c - '0');
      any = true;
    } else if (c == '.') {
      out.push_back(cur);
      cur = 0;
      any = false;
    } else {
      break;
    }
  }
  if (any || !out.empty()) out.push_back(cur);
  return out;
}

std::string working_state_name(uint32_t v) {
  switch (v) {
    case 0: return "Reset";
    case 1: return "Init";
    case 2: return "Recovery";
    case 3: return "Test";
    case 4: return "Disabled";
    case 5: return "Normal";
    case 6: return "Wait";
    case 7: return "Transition";
    case 8: return "InvalidCpu";
    case 0xE: return "Halt";
    default: return "Unknown(" + std::to_string(v) + ")";
  }
}

std::string operation_mode_name(uint32_t v) {
  switch (v) {
    case 0: return "Normal";
    case 2: return "Debug";
    case 3: return "Disable";
    case 4: return "OverrideJumper";
    case 5: return "OverrideMei";
    case 7: return "EnhancedDebug";
    case 0xF: return "15 (SPS firmware)";
    default: return std::to_string(v);
  }
}

std::string error_name(uint32_t v) {
  switch (v) {
    case 0: return "none";
    case 1: return "uncategorized";
    case 2: return "disabled";
    case 3: return "image failure";
    case 4: return "debug failure";
    default: return "unknown(" + std::to_string(v) + ")";
  }
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto pa = version_parts(a), pb = version_parts(b);
  size_t n = std::max(pa.size(), pb.size());
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = i < pa.size() ? pa[i] : 0, y = i < pb.size() ? pb[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

const char* me_family_name(MeFamily f) {
  switch (f) {
    case MeFamily::kTxe: return "TXE";
    case MeFamily::kMe: return "ME";
    case MeFamily::kCsme11: return "CSME11";
    case MeFamily::kCsme16: return "CSME16";
    case MeFamily::kCsme18: return "CSME18";
    case MeFamily::kSps: return "SPS";
    case MeFamily::kUnknown: break;
  }
  return "unknown";
}

MeFamily me_family_from_name(std::string_view name) {
  for (auto f : {MeFamily::kTxe, MeFamily::kMe, MeFamily::kCsme11, MeFamily::kCsme16,
                 MeFamily::kCsme18, MeFamily::kSps}) {
    if (name == me_family_name(f)) return f;
  }
  return MeFamily::kUnknown;
}

MeFamily me_family_from_version(std::string_view version) {
  auto parts = version_parts(version);
  if (parts.empty()) return MeFamily::kUnknown;
  uint32_t major = parts[0];
  if (major >= 1 && major <= 5) return MeFamily::kTxe;
  if (major >= 6 && major <= 10) return MeFamily::kMe;
  if (major >= 11 && major <= 15) return MeFamily::kCsme11;
  if (major >= 16 && major <= 17) return MeFamily::kCsme16;
  if (major >= 18 && major < 100) return MeFamily::kCsme18;
  return MeFamily::kUnknown;
}

MeStatus decode_hfsts(const std::array<uint32_t, 6>& h, MeFamily family) {
  MeStatus s;
  uint32_t h1 = h[0];
  s.operation_mode_raw = (h1 >> 16) & 0xF;
  if (s.operation_mode_raw == 0xF) family = MeFamily::kSps;
  s.family = family;
  uint32_t cws = h1 & 0xF;
  s.working_state = working_state_name(cws);
  s.operation_mode = operation_mode_name(s.operation_mode_raw);
  s.error_code = (h1 >> 12) & 0xF;
  s.error = error_name(s.error_code);
  s.bit4 = (h1 & 0x10) != 0;
  // HAP / soft-disable shows as working state Disabled or operation mode Disable; bit 12 is
  // part of the error code, not a HAP flag.
  s.hap = cws == 4 || s.operation_mode_raw == 3;
  switch (family) {
    case MeFamily::kMe:
    case MeFamily::kCsme11: s.manufacturing_mode = s.bit4; break;
    case MeFamily::kCsme16:
    case MeFamily::kCsme18: s.spi_protection_mode = s.bit4; break;
    default: break;
  }
  if (family == MeFamily::kCsme11 || family == MeFamily::kCsme16) {
    switch ((h[2] >> 4) & 0x7) {
      case 2: s.fw_sku = "Consumer"; break;
      case 3: s.fw_sku = "Corporate"; break;
      case 5: s.fw_sku = "Lite"; break;
      default: s.fw_sku = "unknown(" + std::to_string((h[2] >> 4) & 0x7) + ")";
    }
    if (h[5] != 0) {
      s.boot_guard_enabled = (h[5] & (1u << 28)) == 0;
      s.boot_guard_verified = (h[5] & (1u << 9)) != 0;
    }
  }
  return s;
}

Result<std::array<uint32_t, 6>> parse_fw_status(std::string_view text) {
  std::array<uint32_t, 6> out{};
  size_t n = 0, line = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line;
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
    if (l.empty()) continue;
    if (l.size() != 8) {
      return malformed("fw_status line " + std::to_string(line) + ": '" + printable(l) +
                       "' is not 8 hex digits");
    }
    uint32_t v = 0;
    for (char c : l) {
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                       : -1;
      if (d < 0) {
        return malformed("fw_status line " + std::to_string(line) + ": '" + printable(l) +
                         "' is not hex");
      }
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (n == out.size()) {
      return malformed("fw_status line " + std::to_string(line) + ": more than 6 registers");
    }
    out[n++] = v;
  }
  if (n == 0) return malformed("fw_status: no register");
  return out;
}

Result<std::string> parse_fw_ver(std::string_view text) {
  size_t eol = text.find('\n');
  std::string_view l = text.substr(0, eol);
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
  size_t colon = l.find(':');
  std::string_view v = colon == std::string_view::npos ? l : l.substr(colon + 1);
  int dots = 0;
  for (char c : v) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return malformed("fw_ver line 1: '" + printable(l) +
                       "' is not platform:major.minor.hotfix.build");
    }
  }
  if (dots != 3) {
    return malformed("fw_ver line 1: '" + printable(l) +
                     "' is not platform:major.minor.hotfix.build");
  }
  return std::string(v);
}

const char* amt_provisioning_name(AmtProvisioning p) {
  switch (p) {
    case AmtProvisioning::kUnprovisioned: return "unprovisioned";
    case AmtProvisioning::kBeingProvisioned: return "being-provisioned";
    case AmtProvisioning::kProvisioned: return "provisioned";
    case AmtProvisioning::kUnknown: break;
  }
  return "unknown";
}

namespace {

constexpr uint32_t kCodeVersionsResponse = 0x0480001A;
constexpr uint32_t kProvisioningStateResponse = 0x04800011;
constexpr uint32_t kAmtStatusDisabled = 0x4000;

// Host-IF header {major 1, minor 1, reserved u16, command u32, length u32} then status u32.
Result<ByteReader> amt_body(Bytes response, uint32_t expected_command) {
  ByteReader r(response);
  IRONROOT_ASSIGN_OR_RETURN(uint8_t major, r.u8("Version.Major"));
  IRONROOT_ASSIGN_OR_RETURN(uint8_t minor, r.u8("Version.Minor"));
  if (major != 1 || minor != 1) {
    return field_error(0, "Version",
                       "AMT Host-IF version " + std::to_string(major) + "." +
                           std::to_string(minor) + ", expected 1.1");
  }
  IRONROOT_RETURN_IF_ERROR(r.skip(2, "Reserved"));
  IRONROOT_ASSIGN_OR_RETURN(uint32_t command, r.u32le("Command"));
  if (command != expected_command) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "response 0x%08X, expected 0x%08X", command, expected_command);
    return field_error(4, "Command", buf);
  }
  IRONROOT_ASSIGN_OR_RETURN(uint32_t length, r.u32le("Length"));
  IRONROOT_ASSIGN_OR_RETURN(Bytes body, r.take(length, "body"));
  ByteReader b(body, 12);
  IRONROOT_ASSIGN_OR_RETURN(uint32_t status, b.u32le("Status"));
  if (status == kAmtStatusDisabled) return Error(ErrorCode::kUnsupported, "Intel AMT is disabled");
  if (status != 0) {
    return field_error(12, "Status", "AMT status " + std::to_string(status));
  }
  return b;
}

std::string fixed_string(Bytes b) {
  size_t n = 0;
  while (n < b.size() && b[n] != 0) ++n;
  return printable(std::string_view(reinterpret_cast<const char*>(b.data()), n));
}

}  // namespace

Result<AmtCodeVersions> parse_amt_code_versions(Bytes response) {
  IRONROOT_ASSIGN_OR_RETURN(ByteReader r, amt_body(response, kCodeVersionsResponse));
  AmtCodeVersions out;
  IRONROOT_ASSIGN_OR_RETURN(Bytes bios, r.take(65, "BiosVersion"));
  out.bios = fixed_string(bios);
  IRONROOT_ASSIGN_OR_RETURN(uint32_t count, r.u32le("VersionsCount"));
  if (count > 50)
    return field_error(r.file_offset() - 4, "VersionsCount",
                       std::to_string(count) + " entries, at most 50");
  std::string build;
  for (uint32_t i = 0; i < count; ++i) {
    IRONROOT_ASSIGN_OR_RETURN(uint16_t dlen, r.u16le("Description.Length"));
    IRONROOT_ASSIGN_OR_RETURN(Bytes desc, r.take(20, "Description"));
    IRONROOT_ASSIGN_OR_RETURN(uint16_t vlen, r.u16le("Version.Length"));
    IRONROOT_ASSIGN_OR_RETURN(Bytes ver, r.take(20, "Version"));
    if (dlen > 20 || vlen > 20) {
      return field_error(r.file_offset() - 44, "Length", "string longer than its 20-byte field");
    }
    std::string d = fixed_string(desc.first(dlen)), v = fixed_string(ver.first(vlen));
    if (d == "AMT") out.amt_version = v;
    if (d == "Build Number") build = v;
    out.versions.emplace_back(std::move(d), std::move(v));
  }
  if (!out.amt_version.empty() && !build.empty()) out.amt_version += "." + build;
  return out;
}

Result<AmtProvisioning> parse_amt_provisioning_state(Bytes response) {
  IRONROOT_ASSIGN_OR_RETURN(ByteReader r, amt_body(response, kProvisioningStateResponse));
  IRONROOT_ASSIGN_OR_RETURN(uint32_t state, r.u32le("ProvisioningState"));
  switch (state) {
    case 0: return AmtProvisioning::kUnprovisioned;
    case 1: return AmtProvisioning::kBeingProvisioned;
    case 2: return AmtProvisioning::kProvisioned;
    default:
      return field_error(r.file_offset() - 4, "ProvisioningState",
                         "value " + std::to_string(state) + " is not 0, 1 or 2");
  }
}

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// One Host-IF request on a fresh connection to the PTHI client.
Result<std::vector<uint8_t>> amt_request(const std::string& device, uint32_t command) {
  Fd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return Error(ErrorCode::kIo, device + ": " + std::strerror(errno));
  mei_connect_client_data conn;
  std::memset(&conn, 0, sizeof conn);
  // 12f80028-b4b7-4b2d-aca8-46e0ff65814c in uuid_le byte order.
  static const uint8_t kPthi[16] = {0x28, 0x00, 0xf8, 0x12, 0xb7, 0xb4, 0x2d, 0x4b,
                                    0xac, 0xa8, 0x46, 0xe0, 0xff, 0x65, 0x81, 0x4c};
  std::memcpy(&conn.in_client_uuid, kPthi, sizeof kPthi);
  if (::ioctl(fd.get(), IOCTL_MEI_CONNECT_CLIENT, &conn) != 0) {
    return Error(ErrorCode::kNotFound, device + ": AMT (PTHI) client: " + std::strerror(errno));
  }
  uint32_t max_len = conn.out_client_properties.max_msg_length;
  if (max_len < 64 || max_len > 65536) max_len = 4096;
  uint8_t req[12] = {1, 1, 0, 0};
  std::memcpy(req + 4, &command, 4);  // little-endian hosts only: x86
  if (::write(fd.get(), req, sizeof req) != static_cast<ssize_t>(sizeof req)) {
    return Error(ErrorCode::kIo, device + ": write: " + std::strerror(errno));
  }
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1)
    return Error(ErrorCode::kIo, device + ": AMT did not answer in 2 s");
  std::vector<uint8_t> buf(max_len);
  ssize_t n = ::read(fd.get(), buf.data(), buf.size());
  if (n < 0) return Error(ErrorCode::kIo, device + ": read: " + std::strerror(errno));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

}  // namespace

Result<AmtInfo> query_amt(const std::string& mei_device) {
  AmtInfo info;
  IRONROOT_ASSIGN_OR_RETURN(auto versions, amt_request(mei_device, 0x0400001A));
  IRONROOT_ASSIGN_OR_RETURN(AmtCodeVersions cv, parse_amt_code_versions(versions));
  info.version = cv.amt_version;
  IRONROOT_ASSIGN_OR_RETURN(auto state, amt_request(mei_device, 0x04000011));
  IRONROOT_ASSIGN_OR_RETURN(info.provisioning, parse_amt_provisioning_state(state));
  return info;
}

}  // namespace ironroot::posture
