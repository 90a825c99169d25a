#include "findings/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "findings/internal.h"

namespace ironroot::findings {
namespace {

using nlohmann::json;

constexpr const char* kSearchPath[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                       "/usr/bin",        "/sbin",          "/bin"};

// A JSON object being read: each accessor names the field in its error, and finish() refuses
// keys nobody asked for.
class Obj {
 public:
  static Result<Obj> of(const json& j, std::string path) {
    if (!j.is_object()) return invalid_argument(path + ": expected an object");
    return Obj(j, std::move(path));
  }

  std::string at(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) {
    seen_.insert(key);
    return j_.contains(key);
  }
  const json& raw(const std::string& key) {
    seen_.insert(key);
    return j_.at(key);
  }

  Result<std::string> str(const std::string& key, std::optional<std::string> fallback) {
    if (!has(key)) {
      if (fallback) return *fallback;
      return invalid_argument(at(key) + ": required");
    }
    const json& v = j_.at(key);
    if (!v.is_string()) return invalid_argument(at(key) + ": expected a string");
    return v.get<std::string>();
  }

  Result<int64_t> integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number_integer()) return invalid_argument(at(key) + ": expected an integer");
    const int64_t n = v.get<int64_t>();
    if (n < min || n > max)
      return invalid_argument(at(key) + ": " + std::to_string(n) + " is outside " +
                              std::to_string(min) + ".." + std::to_string(max));
    return n;
  }

  Result<double> number(const std::string& key, double fallback, double min, double max) {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) return invalid_argument(at(key) + ": expected a number");
    const double n = v.get<double>();
    if (!(n >= min && n <= max))
      return invalid_argument(at(key) + ": " + std::to_string(n) + " is outside " +
                              std::to_string(min) + ".." + std::to_string(max));
    return n;
  }

  Result<std::vector<std::string>> strings(const std::string& key, bool required) {
    std::vector<std::string> out;
    if (!has(key)) {
      if (required) return invalid_argument(at(key) + ": required");
      return out;
    }
    const json& v = j_.at(key);
    if (!v.is_array()) return invalid_argument(at(key) + ": expected an array of strings");
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        return invalid_argument(at(key) + "[" + std::to_string(i) + "]: expected a string");
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }

  Status finish() const {
    for (const auto& [k, v] : j_.items()) {
      if (seen_.count(k) == 0) return invalid_argument(at(k) + ": unknown field");
    }
    return {};
  }

  const std::string& path() const { return path_; }

 private:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const json& j_;
  std::string path_;
  std::set<std::string> seen_;
};

std::string resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || file[0] == '/' || base_dir.empty()) return file;
  return base_dir + "/" + file;
}

Result<std::string> read_named(const std::string& where, const std::string& path) {
  auto r = internal::read_text_file(path, 1 << 20);
  if (!r) return std::move(r).error().with_context(where);
  return r;
}

// A string from "<key>" or the file named by "<key>_file".
Result<std::string> inline_or_file(Obj& o, const std::string& key, const std::string& base_dir,
                                   bool trim) {
  const bool has_inline = o.has(key);
  const bool has_file = o.has(key + "_file");
  if (has_inline && has_file)
    return invalid_argument(o.at(key) + ": give " + key + " or " + key + "_file, not both");
  if (has_inline) return o.str(key, std::nullopt);
  if (!has_file) return std::string();
  IRONROOT_ASSIGN_OR_RETURN(std::string file, o.str(key + "_file", std::nullopt));
  IRONROOT_ASSIGN_OR_RETURN(std::string text,
                            read_named(o.at(key + "_file"), resolve(base_dir, file)));
  if (trim) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
  }
  if (text.empty()) return invalid_argument(o.at(key + "_file") + ": '" + file + "' is empty");
  return text;
}

Result<std::string> resolve_program(const std::string& where, const std::string& name) {
  if (name.empty()) return invalid_argument(where + ": empty");
  if (name.find('/') != std::string::npos) {
    if (name[0] != '/') return invalid_argument(where + ": '" + name + "' must be absolute");
    return name;
  }
  for (const char* dir : kSearchPath) {
    const std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return invalid_argument(where + ": '" + name + "' not found on PATH (" +
                          "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)");
}

Result<RetryPolicy> parse_retry(Obj& parent) {
  RetryPolicy r;
  if (!parent.has("retry")) return r;
  IRONROOT_ASSIGN_OR_RETURN(Obj o, Obj::of(parent.raw("retry"), parent.at("retry")));
  IRONROOT_ASSIGN_OR_RETURN(int64_t attempts, o.integer("max_attempts", r.max_attempts, 1, 100));
  IRONROOT_ASSIGN_OR_RETURN(int64_t initial,
                            o.integer("initial_backoff_ms", r.initial_backoff.count(), 0, 3600000));
  IRONROOT_ASSIGN_OR_RETURN(int64_t max,
                            o.integer("max_backoff_ms", r.max_backoff.count(), 0, 86400000));
  IRONROOT_ASSIGN_OR_RETURN(double mult, o.number("multiplier", r.multiplier, 1.0, 10.0));
  IRONROOT_RETURN_IF_ERROR(o.finish());
  if (max < initial)
    return invalid_argument(o.at("max_backoff_ms") + ": smaller than initial_backoff_ms");
  r.max_attempts = static_cast<int>(attempts);
  r.initial_backoff = std::chrono::milliseconds(initial);
  r.max_backoff = std::chrono::milliseconds(max);
  r.multiplier = mult;
  return r;
}

Result<Severity> parse_min_severity(Obj& o) {
  IRONROOT_ASSIGN_OR_RETURN(std::string s, o.str("min_severity", std::string("unknown")));
  auto sev = severity_from_name(s);
  if (!sev)
    return invalid_argument(o.at("min_severity") + ": '" + s +
                            "' is not one of unknown, informational, low, medium, high, "
                            "critical, fatal");
  return *sev;
}

Result<WebhookConfig> parse_webhook(Obj& o, const std::string& base_dir) {
  WebhookConfig w;
  IRONROOT_ASSIGN_OR_RETURN(w.url, o.str("url", std::nullopt));
  if (auto u = parse_webhook_url(w.url); !u) return u.error().with_context(o.at("url"));
  IRONROOT_ASSIGN_OR_RETURN(w.secret, inline_or_file(o, "secret", base_dir, true));
  IRONROOT_ASSIGN_OR_RETURN(w.ca_pem, inline_or_file(o, "ca", base_dir, false));
  IRONROOT_ASSIGN_OR_RETURN(w.cert_pem, inline_or_file(o, "cert", base_dir, false));
  IRONROOT_ASSIGN_OR_RETURN(w.key_pem, inline_or_file(o, "key", base_dir, false));
  IRONROOT_ASSIGN_OR_RETURN(w.server_name, o.str("server_name", std::string()));
  IRONROOT_ASSIGN_OR_RETURN(int64_t t, o.integer("timeout_ms", 5000, 1, 600000));
  w.timeout = std::chrono::milliseconds(t);
  if (o.has("headers")) {
    IRONROOT_ASSIGN_OR_RETURN(Obj h, Obj::of(o.raw("headers"), o.at("headers")));
    for (const auto& [k, v] : o.raw("headers").items()) {
      IRONROOT_ASSIGN_OR_RETURN(w.headers[k], h.str(k, std::nullopt));
    }
  }
  return w;
}

Result<ExecConfig> parse_exec(Obj& o) {
  ExecConfig e;
  IRONROOT_ASSIGN_OR_RETURN(e.argv, o.strings("argv", true));
  if (e.argv.empty()) return invalid_argument(o.at("argv") + ": empty");
  IRONROOT_ASSIGN_OR_RETURN(e.argv[0], resolve_program(o.at("argv") + "[0]", e.argv[0]));
  IRONROOT_ASSIGN_OR_RETURN(int64_t t, o.integer("timeout_ms", 10000, 1, 3600000));
  e.timeout = std::chrono::milliseconds(t);
  if (o.has("env")) {
    IRONROOT_ASSIGN_OR_RETURN(Obj env, Obj::of(o.raw("env"), o.at("env")));
    for (const auto& [k, v] : o.raw("env").items()) {
      if (k.empty() || k.find('=') != std::string::npos)
        return invalid_argument(env.at(k) + ": not a variable name");
      IRONROOT_ASSIGN_OR_RETURN(e.env[k], env.str(k, std::nullopt));
    }
  }
  if (o.has("no_retry_exit_codes")) {
    const json& codes = o.raw("no_retry_exit_codes");
    if (!codes.is_array())
      return invalid_argument(o.at("no_retry_exit_codes") + ": expected an array of integers");
    for (const auto& c : codes) {
      if (!c.is_number_integer() || c.get<int64_t>() < 1 || c.get<int64_t>() > 255)
        return invalid_argument(o.at("no_retry_exit_codes") + ": expected integers 1..255");
      e.no_retry_exit_codes.push_back(c.get<int>());
    }
  }
  return e;
}

Result<SinkSpec> parse_sink(const json& j, const std::string& path, const std::string& base_dir) {
  IRONROOT_ASSIGN_OR_RETURN(Obj o, Obj::of(j, path));
  SinkSpec s;
  IRONROOT_ASSIGN_OR_RETURN(std::string type, o.str("type", std::nullopt));
  IRONROOT_ASSIGN_OR_RETURN(s.name, o.str("name", type));
  IRONROOT_ASSIGN_OR_RETURN(s.retry, parse_retry(o));
  IRONROOT_ASSIGN_OR_RETURN(s.min_severity, parse_min_severity(o));
  IRONROOT_ASSIGN_OR_RETURN(int64_t cap, o.integer("queue_capacity", 4096, 1, 1 << 24));
  s.queue_capacity = static_cast<size_t>(cap);
  const int64_t default_window = type == "webhook" ? 300 : 0;
  IRONROOT_ASSIGN_OR_RETURN(int64_t window,
                            o.integer("dedup_window_seconds", default_window, 0, 30 * 86400));
  s.dedup_window = std::chrono::seconds(window);
  if (type == "webhook") {
    IRONROOT_ASSIGN_OR_RETURN(WebhookConfig w, parse_webhook(o, base_dir));
    s.config = std::move(w);
  } else if (type == "exec") {
    IRONROOT_ASSIGN_OR_RETURN(ExecConfig e, parse_exec(o));
    s.config = std::move(e);
  } else if (type == "jsonl") {
    JsonLinesConfig c;
    IRONROOT_ASSIGN_OR_RETURN(std::string p, o.str("path", std::nullopt));
    c.path = resolve(base_dir, p);
    IRONROOT_ASSIGN_OR_RETURN(std::string fsync, o.str("fsync", std::string("interval")));
    if (fsync == "never")
      c.fsync = FsyncPolicy::kNever;
    else if (fsync == "always")
      c.fsync = FsyncPolicy::kAlways;
    else if (fsync == "interval")
      c.fsync = FsyncPolicy::kInterval;
    else
      return invalid_argument(o.at("fsync") + ": '" + fsync +
                              "' is not one of never, always, interval");
    IRONROOT_ASSIGN_OR_RETURN(int64_t iv, o.integer("fsync_interval_ms", 1000, 0, 3600000));
    c.fsync_interval = std::chrono::milliseconds(iv);
    s.config = std::move(c);
  } else if (type == "syslog") {
    SyslogConfig c;
    IRONROOT_ASSIGN_OR_RETURN(c.socket_path, o.str("socket", c.socket_path));
    IRONROOT_ASSIGN_OR_RETURN(c.udp_address, o.str("address", std::string()));
    IRONROOT_ASSIGN_OR_RETURN(std::string fac, o.str("facility", std::string("auth")));
    auto f = syslog_facility_from_name(fac);
    if (!f) return invalid_argument(o.at("facility") + ": '" + fac + "' is not a syslog facility");
    c.facility = *f;
    IRONROOT_ASSIGN_OR_RETURN(c.app_name, o.str("app_name", c.app_name));
    IRONROOT_ASSIGN_OR_RETURN(c.hostname, o.str("hostname", std::string()));
    IRONROOT_ASSIGN_OR_RETURN(int64_t max, o.integer("max_message_bytes", 8192, 480, 1 << 20));
    c.max_message_bytes = static_cast<size_t>(max);
    s.config = std::move(c);
  } else {
    return invalid_argument(o.at("type") + ": '" + type +
                            "' is not one of webhook, exec, jsonl, syslog");
  }
  IRONROOT_RETURN_IF_ERROR(o.finish());
  return s;
}

Result<ActionSpec> parse_action(const std::string& name, const json& j, const std::string& path,
                                const std::string& base_dir) {
  IRONROOT_ASSIGN_OR_RETURN(Obj o, Obj::of(j, path));
  ActionSpec a;
  a.name = name;
  IRONROOT_ASSIGN_OR_RETURN(std::string type, o.str("type", std::nullopt));
  IRONROOT_ASSIGN_OR_RETURN(a.retry, parse_retry(o));
  IRONROOT_ASSIGN_OR_RETURN(int64_t cap, o.integer("queue_capacity", 1024, 1, 1 << 24));
  a.queue_capacity = static_cast<size_t>(cap);
  if (type == "quarantine") {
    a.type = ActionType::kQuarantine;
  } else if (type == "webhook") {
    a.type = ActionType::kWebhook;
    IRONROOT_ASSIGN_OR_RETURN(WebhookConfig w, parse_webhook(o, base_dir));
    a.config = std::move(w);
  } else if (type == "exec") {
    a.type = ActionType::kExec;
    IRONROOT_ASSIGN_OR_RETURN(ExecConfig e, parse_exec(o));
    a.config = std::move(e);
  } else {
    return invalid_argument(o.at("type") + ": '" + type +
                            "' is not one of quarantine, webhook, exec");
  }
  IRONROOT_RETURN_IF_ERROR(o.finish());
  return a;
}

Result<RemediationPolicy> parse_remediation(const json& j, const std::string& path,
                                            const std::string& base_dir) {
  IRONROOT_ASSIGN_OR_RETURN(Obj o, Obj::of(j, path));
  RemediationPolicy p;
  if (o.has("actions")) {
    IRONROOT_ASSIGN_OR_RETURN(Obj actions, Obj::of(o.raw("actions"), o.at("actions")));
    for (const auto& [name, v] : o.raw("actions").items()) {
      actions.has(name);
      IRONROOT_ASSIGN_OR_RETURN(ActionSpec a, parse_action(name, v, actions.at(name), base_dir));
      p.actions.push_back(std::move(a));
    }
  }
  if (o.has("rules")) {
    const json& rules = o.raw("rules");
    if (!rules.is_array()) return invalid_argument(o.at("rules") + ": expected an array");
    for (size_t i = 0; i < rules.size(); ++i) {
      IRONROOT_ASSIGN_OR_RETURN(Obj r,
                                Obj::of(rules[i], o.at("rules") + "[" + std::to_string(i) + "]"));
      RemediationRule rule;
      IRONROOT_ASSIGN_OR_RETURN(std::vector<std::string> kinds, r.strings("kinds", false));
      for (const auto& k : kinds) {
        if (k == "*") continue;
        auto kind = kind_from_name(k);
        if (!kind)
          return invalid_argument(r.at("kinds") + ": '" + k +
                                  "' is not one of untrusted_transition, policy_violation, "
                                  "posture_change, sensor_finding, *");
        rule.kinds.push_back(*kind);
      }
      IRONROOT_ASSIGN_OR_RETURN(rule.min_severity, parse_min_severity(r));
      IRONROOT_ASSIGN_OR_RETURN(rule.actions, r.strings("actions", true));
      for (const auto& n : rule.actions) {
        const bool defined = std::any_of(p.actions.begin(), p.actions.end(),
                                         [&](const ActionSpec& a) { return a.name == n; });
        if (!defined)
          return invalid_argument(r.at("actions") + ": '" + n + "' is not a defined action");
      }
      IRONROOT_RETURN_IF_ERROR(r.finish());
      p.rules.push_back(std::move(rule));
    }
  }
  IRONROOT_RETURN_IF_ERROR(o.finish());
  return p;
}

}  // namespace

Result<DispatcherConfig> parse_config(std::string_view json_text, const std::string& base_dir) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    return malformed(std::string("findings configuration: not JSON: ") + e.what());
  }
  IRONROOT_ASSIGN_OR_RETURN(Obj o, Obj::of(root, "findings configuration"));
  DispatcherConfig c;
  if (o.has("sinks")) {
    const json& sinks = o.raw("sinks");
    if (!sinks.is_array()) return invalid_argument("sinks: expected an array");
    std::set<std::string> names;
    for (size_t i = 0; i < sinks.size(); ++i) {
      const std::string path = "sinks[" + std::to_string(i) + "]";
      IRONROOT_ASSIGN_OR_RETURN(SinkSpec s, parse_sink(sinks[i], path, base_dir));
      if (!names.insert(s.name).second)
        return invalid_argument(path + ".name: '" + s.name + "' is used by another sink");
      c.sinks.push_back(std::move(s));
    }
  }
  if (o.has("remediation")) {
    IRONROOT_ASSIGN_OR_RETURN(c.remediation,
                              parse_remediation(o.raw("remediation"), "remediation", base_dir));
  }
  IRONROOT_ASSIGN_OR_RETURN(int64_t deadline, o.integer("shutdown_deadline_ms", 5000, 0, 600000));
  c.shutdown_deadline = std::chrono::milliseconds(deadline);
  IRONROOT_ASSIGN_OR_RETURN(int64_t mem, o.integer("idempotency_memory", 65536, 1, 1 << 24));
  c.idempotency_memory = static_cast<size_t>(mem);
  IRONROOT_RETURN_IF_ERROR(o.finish());
  return c;
}

Result<DispatcherConfig> load_config(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(std::string text, internal::read_text_file(path, 4 << 20));
  std::string dir;
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
  auto c = parse_config(text, dir);
  if (!c) return std::move(c).error().with_context(path);
  return c;
}

}  // namespace ironroot::findings
