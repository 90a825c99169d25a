#include <algorithm>
#include <atomic>

#include "findings/command.h"
#include "findings/sink.h"

namespace ironroot::findings {
namespace {

// The same search path the config loader uses to resolve bare program names.
constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string substitute(std::string arg,
                       const std::vector<std::pair<std::string, std::string>>& vars) {
  if (arg.find('{') == std::string::npos) return arg;
  std::string out;
  size_t i = 0;
  while (i < arg.size()) {
    bool matched = false;
    if (arg[i] == '{') {
      for (const auto& [name, value] : vars) {
        if (arg.compare(i, name.size(), name) == 0) {
          out += value;
          i += name.size();
          matched = true;
          break;
        }
      }
    }
    if (!matched) out += arg[i++];
  }
  return out;
}

class ExecSink final : public Sink {
 public:
  explicit ExecSink(ExecConfig config) : config_(std::move(config)) {}

  Attempt deliver(const Delivery& d) override {
    const Finding& f = d.finding;
    const std::vector<std::pair<std::string, std::string>> vars = {
        {"{host_id}", f.host_id},
        {"{host_name}", f.host_name},
        {"{host_ip}", f.host_ip},
        {"{kind}", kind_name(f.kind)},
        {"{severity}", severity_name(f.severity)},
        {"{uid}", f.uid()},
        {"{dedup_key}", f.dedup_key()},
        {"{idempotency_key}", d.idempotency_key},
    };
    CommandSpec spec;
    spec.timeout = config_.timeout;
    spec.input = d.body;
    spec.input += '\n';
    for (const auto& a : config_.argv) spec.argv.push_back(substitute(a, vars));
    spec.env = {
        std::string("PATH=") + kPath,
        "LANG=C.UTF-8",
        "IRONROOT_FINDING_UID=" + f.uid(),
        "IRONROOT_DEDUP_KEY=" + f.dedup_key(),
        "IRONROOT_HOST_ID=" + f.host_id,
        "IRONROOT_HOST_NAME=" + f.host_name,
        "IRONROOT_HOST_IP=" + f.host_ip,
        std::string("IRONROOT_KIND=") + kind_name(f.kind),
        std::string("IRONROOT_SEVERITY=") + severity_name(f.severity),
        "IRONROOT_ATTEMPT=" + std::to_string(d.attempt),
    };
    if (!d.action.empty()) spec.env.push_back("IRONROOT_ACTION=" + d.action);
    if (!d.idempotency_key.empty())
      spec.env.push_back("IRONROOT_IDEMPOTENCY_KEY=" + d.idempotency_key);
    for (const auto& [k, v] : config_.env) spec.env.push_back(k + "=" + v);

    auto r = run_command(spec, &cancel_);
    if (!r) return {AttemptResult::kPermanent, r.error().message()};
    const std::string detail = r->describe();
    if (r->exit_code == 0) return {AttemptResult::kDelivered, detail};
    if (r->exit_code > 0 &&
        std::find(config_.no_retry_exit_codes.begin(), config_.no_retry_exit_codes.end(),
                  r->exit_code) != config_.no_retry_exit_codes.end())
      return {AttemptResult::kPermanent, detail};
    return {AttemptResult::kRetryable, detail};
  }

  void cancel() override { cancel_.store(true); }

 private:
  ExecConfig config_;
  std::atomic<bool> cancel_{false};
};

}  // namespace

Result<SinkPtr> make_exec_sink(ExecConfig config) {
  if (config.argv.empty()) return invalid_argument("argv is empty");
  if (config.argv[0].empty() || config.argv[0][0] != '/')
    return invalid_argument("argv[0] '" + config.argv[0] + "' is not an absolute path");
  if (config.timeout.count() <= 0) return invalid_argument("timeout must be positive");
  for (const auto& [k, v] : config.env) {
    if (k.empty() || k.find('=') != std::string::npos)
      return invalid_argument("env: '" + k + "' is not a variable name");
  }
  return SinkPtr(std::make_unique<ExecSink>(std::move(config)));
}

}  // namespace ironroot::findings
