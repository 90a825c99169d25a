#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "findings/sink.h"

namespace ironroot::findings {
namespace {

// RFC 5424 6.2.1 severities.
int syslog_severity(Severity s) {
  switch (s) {
    case Severity::kFatal: return 1;     // alert
    case Severity::kCritical: return 2;  // critical
    case Severity::kHigh: return 3;      // error
    case Severity::kMedium: return 4;    // warning
    case Severity::kLow: return 5;       // notice
    case Severity::kInformational:
    case Severity::kUnknown: return 6;  // informational
  }
  return 6;
}

// RFC 5424 6.3.3: '"', '\' and ']' are escaped in PARAM-VALUE.
std::string sd_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// RFC 5424 6.2.4/6.2.5: printable US-ASCII, no spaces, bounded length; "-" when empty.
std::string header_field(std::string_view v, size_t max) {
  std::string out;
  for (char c : v) {
    if (out.size() == max) break;
    if (c > 32 && c < 127) out += c;
  }
  return out.empty() ? "-" : out;
}

std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 40> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::array<char, 8> frac{};
  std::snprintf(frac.data(), frac.size(), ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf.data()) + frac.data();
}

class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(SyslogConfig config) : config_(std::move(config)) {}
  ~SyslogSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  Attempt deliver(const Delivery& d) override {
    if (fd_ < 0) {
      Status s = connect();
      if (!s) return {AttemptResult::kRetryable, s.error().message()};
    }
    const std::string msg = format_syslog_message(config_, d.finding, d.body);
    if (::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL) < 0) {
      const std::string why = where() + ": send: " + std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
      return {AttemptResult::kRetryable, why};
    }
    return {AttemptResult::kDelivered, where()};
  }

 private:
  std::string where() const {
    return config_.udp_address.empty() ? config_.socket_path : "udp:" + config_.udp_address;
  }

  Status connect() {
    if (!config_.udp_address.empty()) {
      const size_t colon = config_.udp_address.rfind(':');
      std::string host = config_.udp_address.substr(0, colon);
      const std::string port = config_.udp_address.substr(colon + 1);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      addrinfo hints{};
      hints.ai_socktype = SOCK_DGRAM;
      addrinfo* res = nullptr;
      const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
      if (rc != 0) return Error(ErrorCode::kIo, where() + ": " + gai_strerror(rc));
      std::string last = "no address";
      for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          fd_ = fd;
          break;
        }
        last = std::strerror(errno);
        ::close(fd);
      }
      ::freeaddrinfo(res);
      if (fd_ < 0) return Error(ErrorCode::kIo, where() + ": " + last);
      return {};
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, config_.socket_path.data(), config_.socket_path.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error(ErrorCode::kIo, where() + ": socket: " + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = where() + ": connect: " + std::strerror(errno);
      ::close(fd);
      return Error(ErrorCode::kIo, why);
    }
    fd_ = fd;
    return {};
  }

  SyslogConfig config_;
  int fd_ = -1;
};

constexpr std::array<std::pair<const char*, int>, 20> kFacilities = {{
    {"kern", 0},    {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
    {"syslog", 5},  {"lpr", 6},     {"news", 7},    {"cron", 9},    {"authpriv", 10},
    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},
    {"local5", 21}, {"local6", 22}, {"local7", 23}, {"ftp", 11},    {"security", 4},
}};

}  // namespace

std::optional<int> syslog_facility_from_name(std::string_view name) {
  for (const auto& [n, v] : kFacilities)
    if (name == n) return v;
  return std::nullopt;
}

std::string format_syslog_message(const SyslogConfig& config, const Finding& f,
                                  std::string_view body) {
  std::string host = config.hostname;
  if (host.empty()) {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) == 0) host = buf.data();
  }
  // RFC 5424 6: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG.
  // 32473 is the private enterprise number RFC 5612 reserves for documentation and examples.
  std::string out = "<" + std::to_string(config.facility * 8 + syslog_severity(f.severity)) + ">1 ";
  out += timestamp_now() + " ";
  out += header_field(host, 255) + " ";
  out += header_field(config.app_name, 48) + " ";
  out += std::to_string(::getpid()) + " ";
  out += header_field(kind_name(f.kind), 32) + " ";
  out += "[ironroot@32473 host=\"" + sd_escape(f.host_id) + "\" severity=\"" +
         severity_name(f.severity) + "\" uid=\"" + sd_escape(f.uid()) + "\" dedup_key=\"" +
         sd_escape(f.dedup_key()) + "\"] ";
  out += "\xEF\xBB\xBF";  // BOM: the MSG is UTF-8 (6.4)
  out.append(body);
  if (out.size() > config.max_message_bytes) out.resize(config.max_message_bytes);
  return out;
}

Result<SinkPtr> make_syslog_sink(SyslogConfig config) {
  if (config.udp_address.empty()) {
    if (config.socket_path.empty()) return invalid_argument("neither socket nor address is set");
    if (config.socket_path.size() >= sizeof(sockaddr_un::sun_path))
      return invalid_argument("socket path '" + config.socket_path + "' is too long");
  } else {
    const size_t colon = config.udp_address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == config.udp_address.size())
      return invalid_argument("address '" + config.udp_address + "' is not host:port");
  }
  if (config.facility < 0 || config.facility > 23)
    return invalid_argument("facility " + std::to_string(config.facility) + " is not 0..23");
  if (config.max_message_bytes < 480) return invalid_argument("max_message_bytes is below 480");
  return SinkPtr(std::make_unique<SyslogSink>(std::move(config)));
}

}  // namespace ironroot::findings
