// ironroot findings: where findings and remediation requests go. Each destination is a Sink with
// one call, deliver(), that makes a single attempt and says whether it worked, may work if tried
// again, or never will. Retries, backoff, deduplication and queueing are the Dispatcher's job.
//
//   IRONROOT_ASSIGN_OR_RETURN(SinkPtr sink, make_jsonl_sink({.path = "/var/log/findings.jsonl"}));
//   Attempt a = sink->deliver({.finding = f, .body = to_ocsf_json(f)});
//
// Thread safety: the Dispatcher calls deliver() from one thread per sink; cancel() may be called
// from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "findings/finding.h"

namespace ironroot::findings {

enum class AttemptResult : uint8_t {
  kDelivered,  // done
  kRetryable,  // connection refused, timeout, HTTP 5xx/429, non-zero exit: try again later
  kPermanent,  // HTTP 4xx, program not found: retrying will not help
};

struct Attempt {
  AttemptResult result = AttemptResult::kDelivered;
  std::string detail;  // "HTTP 503", "exit status 3: <first output line>", ...
};

struct Delivery {
  const Finding& finding;
  const std::string& body;           // what to send: OCSF JSON (sinks) or a remediation request
  std::string idempotency_key = {};  // remediation actions only
  std::string action = {};           // remediation action name, empty for sinks
  int attempt = 1;                   // 1-based
};

class Sink {
 public:
  virtual ~Sink() = default;
  // One attempt. Never throws; bounded by the sink's own timeout.
  virtual Attempt deliver(const Delivery& delivery) = 0;
  // Asks an in-flight deliver() to give up now (the shutdown deadline passed). Thread-safe.
  virtual void cancel() {}
};
using SinkPtr = std::unique_ptr<Sink>;

// --- webhook: HTTPS POST, HMAC-signed -----------------------------------------------------------

struct WebhookConfig {
  std::string url;       // https://host[:port][/path]
  std::string secret;    // HMAC-SHA256 key; empty: no signature header
  std::string ca_pem;    // trust anchors for the server; empty: the system bundle
  std::string cert_pem;  // optional client certificate and key (mutual TLS)
  std::string key_pem;
  std::string server_name;  // expected name in the server certificate (default: the URL's host)
  std::chrono::milliseconds timeout{5000};
  std::map<std::string, std::string> headers;  // extra request headers
};

// Header carrying the signature: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>".
inline constexpr const char* kSignatureHeader = "X-Ironroot-Signature";

// Lowercase hex HMAC-SHA256 of "<timestamp>.<body>" under `secret` (OpenSSL EVP_MAC).
std::string webhook_signature(std::string_view secret, int64_t timestamp, std::string_view body);
// The full header value for `timestamp`.
std::string signature_header_value(std::string_view secret, int64_t timestamp,
                                   std::string_view body);
// For receivers: true when `header_value` carries a v1 signature of `body` under `secret` whose
// timestamp is within `tolerance_seconds` of `now_seconds`. Constant-time comparison.
bool verify_webhook_signature(std::string_view header_value, std::string_view secret,
                              std::string_view body, int64_t now_seconds,
                              int64_t tolerance_seconds = 300);

struct WebhookUrl {
  std::string host;
  uint16_t port = 443;
  std::string path = "/";
};
Result<WebhookUrl> parse_webhook_url(std::string_view url);

// 2xx: delivered. Connection errors, timeouts, 408, 425, 429, 5xx: retryable. Other: permanent.
Result<SinkPtr> make_webhook_sink(WebhookConfig config);

// --- exec: a command with the finding on stdin ---------------------------------------------------

struct ExecConfig {
  // No shell. argv[0] is an absolute path (the config loader resolves bare names on
  // /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin). In every argument, {host_id},
  // {host_name}, {host_ip}, {kind}, {severity}, {uid}, {dedup_key} and {idempotency_key} are
  // replaced by the finding's values.
  std::vector<std::string> argv;
  // Added to the minimal environment (PATH, LANG=C.UTF-8, IRONROOT_* describing the finding).
  std::map<std::string, std::string> env;
  std::chrono::milliseconds timeout{10000};  // then the process group gets SIGKILL
  std::vector<int> no_retry_exit_codes;      // these exit codes are permanent failures
};

// Exit 0: delivered. Other exit codes, signals and timeouts: retryable (unless listed in
// no_retry_exit_codes). A program that cannot be started: permanent.
Result<SinkPtr> make_exec_sink(ExecConfig config);

// --- JSON lines file -----------------------------------------------------------------------------

enum class FsyncPolicy : uint8_t { kNever, kAlways, kInterval };

struct JsonLinesConfig {
  std::string path;  // opened O_APPEND | O_CREAT (mode 0640); each line is one write()
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::milliseconds fsync_interval{1000};  // kInterval: fsync when this much has passed
};

Result<SinkPtr> make_jsonl_sink(JsonLinesConfig config);

// --- syslog (RFC 5424) ---------------------------------------------------------------------------

struct SyslogConfig {
  std::string socket_path = "/dev/log";  // a local unix datagram socket...
  std::string udp_address;               // ...or "host:port" (wins when set)
  int facility = 4;                      // RFC 5424 6.2.1: 4 auth, 10 authpriv, 16-23 local0-7
  std::string app_name = "ironroot";
  std::string hostname;             // default: gethostname()
  size_t max_message_bytes = 8192;  // longer messages are cut (datagram limits)
};

// "auth" -> 4, "local0" -> 16, ...; nullopt for unknown names.
std::optional<int> syslog_facility_from_name(std::string_view name);
// The RFC 5424 line for a finding (exposed for tests).
std::string format_syslog_message(const SyslogConfig& config, const Finding& finding,
                                  std::string_view body);

Result<SinkPtr> make_syslog_sink(SyslogConfig config);

}  // namespace ironroot::findings
