// ironroot demo: the main job on the embedded default. On a machine with no TPM it starts a
// verifier (SQLite in a data directory), N software TPMs (swtpm), each "booted" by extending its
// PCRs with the events of a generated event log and IMA list, and a real `ironroot agent` per
// TPM. It shows the fleet turning trusted and, with --tamper, one host drifting and being taken
// out of service with the reason.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "audit/journal.h"
#include "commands.h"
#include "core/log.h"
#include "net/http.h"
#include "output.h"
#include "sim/host.h"
#include "sim/swtpm.h"
#include "tpmdev/tpm.h"
#include "verifier/service.h"

namespace ironroot::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_demo_stop{false};
void on_demo_signal(int) {
  g_demo_stop = true;
}

struct DemoOptions {
  int hosts = 3;
  bool tamper = false;
  double exit_after = 0;  // seconds; 0: until interrupted
  std::string dir;
  int interval_ms = 1000;
};

struct Host {
  std::string id;
  std::unique_ptr<sim::Swtpm> tpm;
  std::unique_ptr<sim::SimulatedHost> sim;
  pid_t agent = -1;
};

void progress(const std::string& s) {
  std::cerr << "demo: " << s << "\n";
}

pid_t spawn_agent(const std::string& exe, const Host& h, const std::string& dir, uint16_t port) {
  const std::string hd = dir + "/" + h.id;
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open((hd + "/agent.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  ::close_range(3, ~0U, 0);  // the verifier's sockets and keys stay with the verifier
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  const std::string ca = dir + "/verifier/" + verifier::kCaCertFile;
  const std::string state = hd + "/agent";
  const std::string tcti = h.tpm->tcti();
  const std::string log = h.sim->eventlog_path();
  const std::string ima = h.sim->ima_path();
  ::execl(exe.c_str(), exe.c_str(), "agent", "--verifier", url.c_str(), "--verifier-ca", ca.c_str(),
          "--state-dir", state.c_str(), "--host-id", h.id.c_str(), "--tcti", tcti.c_str(),
          "--eventlog", log.c_str(), "--ima", ima.c_str(), "--log-format", "text",
          static_cast<char*>(nullptr));
  _exit(127);
}

void stop_process(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 300 && ::waitpid(pid, nullptr, WNOHANG) != pid; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (::kill(pid, 0) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  pid = -1;
}

class Demo {
 public:
  explicit Demo(DemoOptions o) : o_(std::move(o)) {}
  ~Demo() { shutdown(); }

  int run() {
    start_ = Clock::now();
    if (o_.dir.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "ironroot-demo-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) return fail("cannot create a temporary directory");
      o_.dir = tmpl;
      remove_dir_ = true;
    }
    fs::create_directories(o_.dir);
    o_.dir = fs::absolute(o_.dir).string();
    progress("working in " + o_.dir);

    // 1. A local CA that issues the simulated TPMs' EK certificates, trusted by the verifier.
    auto ca = sim::LocalCa::create(o_.dir + "/tpm-ca");
    if (!ca) return fail(ca.error().message());
    ca_ = std::make_unique<sim::LocalCa>(std::move(*ca));

    // 2. The software TPMs, each booted with its host's firmware and kernel measurements.
    for (int i = 1; i <= o_.hosts; ++i) {
      Host h;
      h.id = "host-" + std::to_string(i);
      progress("[" + std::to_string(i) + "/" + std::to_string(o_.hosts) +
               "] manufacturing and booting " + h.id + " (swtpm with an EK certificate)");
      auto t = sim::Swtpm::start({o_.dir + "/" + h.id + "/tpm", ca_.get(), "sha1,sha256"});
      if (!t) return fail(t.error().message());
      h.tpm = std::move(*t);
      h.sim = std::make_unique<sim::SimulatedHost>(o_.dir + "/" + h.id + "/securityfs", h.id,
                                                   "ironroot-fw 1.0");
      auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
      if (!tpm) return fail(tpm.error().message());
      if (auto st = h.sim->boot(**tpm); !st) return fail(h.id + ": " + st.error().message());
      hosts_.push_back(std::move(h));
    }

    // 3. The verifier, trusting the local CA for EK certificates.
    verifier::VerifierOptions vo;
    vo.data_dir = o_.dir + "/verifier";
    vo.port = 0;
    vo.interval_ms = o_.interval_ms;
    vo.ek_ca_paths = ca_->ca_files();
    log::set_level(log::Level::kError);  // the demo shows the fleet itself
    auto v = verifier::Verifier::start(vo);
    if (!v) return fail(v.error().message());
    verifier_ = std::move(*v);
    progress("verifier on https://127.0.0.1:" + std::to_string(verifier_->port()) + ", data in " +
             vo.data_dir);

    // 4. One real agent process per host.
    std::string exe = fs::read_symlink("/proc/self/exe").string();
    for (auto& h : hosts_) h.agent = spawn_agent(exe, h, o_.dir, verifier_->port());
    progress("started " + std::to_string(hosts_.size()) +
             " agents (logs in <dir>/host-N/agent.log)");

    client_ = std::make_unique<net::HttpsClient>(
        "127.0.0.1", verifier_->port(), net::TlsClientConfig{verifier_->ca_pem(), "", "", ""});
    // 5. The operator approves host-1 as the golden host once it has attested.
    if (!wait_for(
            [&](const json& hosts) {
              for (const auto& h : hosts["hosts"]) {
                if (h["id"] == hosts_.front().id && h["last_attested_at_ms"].get<int64_t>() > 0)
                  return true;
              }
              return false;
            },
            60)) {
      return finish();
    }
    auto cap = call("POST", "/v1/policy/capture", json{{"host", hosts_.front().id}}.dump());
    if (!cap) return fail(cap.error().message());
    const std::string change = (*cap)["change"].value("id", "");
    progress("the operator proposed " + hosts_.front().id +
             "'s PCRs 0-7 as reference values (ironroot policy capture " + hosts_.front().id +
             "): change " + change + ", pending");
    // Dual control: a second principal approves.
    auto ok = call("POST", "/v1/policy/changes/" + change + "/approve",
                   json{{"comment", "demo"}}.dump(), verifier_->approver_token());
    if (!ok) return fail(ok.error().message());
    progress("the approver approved change " + change + " (ironroot policy approve " + change +
             " --as approver): in force");
    bool all_trusted = wait_for(
        [&](const json& hosts) {
          int n = 0;
          for (const auto& h : hosts["hosts"]) n += h["state"] == "trusted";
          return n == static_cast<int>(hosts_.size());
        },
        60);
    if (all_trusted) progress("the whole fleet is trusted");

    // 6. Drift: an extend the event log does not explain, on the last host.
    if (o_.tamper && all_trusted) {
      Host& victim = hosts_.back();
      progress("tampering with " + victim.id + ": extending PCR 4 with a digest no log records");
      auto tpm = tpmdev::Tpm::open(victim.tpm->tcti());
      if (!tpm) return fail(tpm.error().message());
      auto t0 = Clock::now();
      if (auto st = victim.sim->unexplained_extend(**tpm, 4); !st)
        return fail(st.error().message());
      tpm->reset();
      wait_for(
          [&](const json& hosts) {
            for (const auto& h : hosts["hosts"]) {
              if (h["id"] == victim.id && h["state"] == "untrusted") return true;
            }
            return false;
          },
          30);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      progress(victim.id + " taken out of service " + std::to_string(ms) + " ms after the drift");
    }
    // 7. Keep running until --exit-after or Ctrl-C.
    while (!g_demo_stop && (o_.exit_after <= 0 || elapsed() < o_.exit_after)) {
      poll_and_show();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return finish();
  }

 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  Result<json> call(const std::string& method, const std::string& target,
                    const std::string& body = "", std::string token = "") {
    if (token.empty()) token = verifier_->operator_token();
    auto r = client_->request(method, target, body, {{"Authorization", "Bearer " + token}});
    if (!r) return r.error();
    auto j = json::parse(r->body, nullptr, false);
    if (r->status >= 300 || j.is_discarded()) {
      return Error(ErrorCode::kIo,
                   method + " " + target + ": " + std::to_string(r->status) + " " + r->body);
    }
    return j;
  }

  // Prints the fleet when it changes.
  json poll_and_show() {
    auto r = call("GET", "/v1/hosts");
    if (!r) return json();
    std::string view;
    for (const auto& h : (*r)["hosts"]) {
      view += h["id"].get<std::string>() + ":" + h["state"].get<std::string>() + ";";
      for (const auto& reason : h["reasons"]) view += reason.get<std::string>();
    }
    if (view != last_view_) {
      last_view_ = view;
      std::fprintf(stderr, "demo: fleet at %5.1fs:\n", elapsed());
      for (const auto& h : (*r)["hosts"]) {
        std::string reasons;
        for (const auto& reason : h["reasons"])
          reasons += (reasons.empty() ? "" : "; ") + reason.get<std::string>();
        std::fprintf(stderr, "        %-8s %-11s %s\n", h["id"].get<std::string>().c_str(),
                     h["state"].get<std::string>().c_str(), reasons.substr(0, 160).c_str());
      }
    }
    return *r;
  }

  bool wait_for(const std::function<bool(const json&)>& done, double seconds) {
    auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (!g_demo_stop && Clock::now() < deadline &&
           (o_.exit_after <= 0 || elapsed() < o_.exit_after)) {
      json hosts = poll_and_show();
      if (hosts.is_object() && done(hosts)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  int finish() {
    json out{{"hosts", json::array()}};
    if (client_) {
      if (auto r = call("GET", "/v1/hosts"); r) {
        for (const auto& h : (*r)["hosts"]) {
          out["hosts"].push_back(
              {{"id", h["id"]}, {"state", h["state"]}, {"reasons", h["reasons"]}});
        }
      }
      out["audit_log"] = audit_summary();
    }
    shutdown();
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }

  // What an auditor would check: every entry, re-hashed, against the signed checkpoint.
  json audit_summary() {
    auto cp = client_->request("GET", "/v1/log/checkpoint", "",
                               {{"Authorization", "Bearer " + verifier_->operator_token()}});
    auto key = call("GET", "/v1/log/key");
    if (!cp || !key) return json{{"error", "cannot read the audit log"}};
    const uint64_t size = (*key)["size"];
    std::vector<std::string> entries;
    json kinds = json::object();
    for (uint64_t start = 0; start < size; start += 1000) {
      auto part = call("GET", "/v1/log/entries?start=" + std::to_string(start) +
                                  "&end=" + std::to_string(std::min(size, start + 1000)));
      if (!part) return json{{"error", part.error().message()}};
      for (const auto& e : (*part)["entries"]) {
        entries.push_back(e.get<std::string>());
        json parsed = json::parse(entries.back(), nullptr, false);
        if (parsed.is_object())
          kinds[parsed.value("kind", "?")] = kinds.value(parsed.value("kind", "?"), 0) + 1;
      }
    }
    auto st =
        audit::verify_entries_against_checkpoint(entries, cp->body, verifier_->log_verifier_key());
    progress("audit log: " + std::to_string(entries.size()) + " entries, " +
             (st ? "all re-hashed to the signed checkpoint"
                 : "NOT consistent: " + st.error().message()));
    return json{{"entries", entries.size()}, {"verified", static_cast<bool>(st)}, {"kinds", kinds}};
  }

  int fail(const std::string& message) {
    print_error("demo: " + message);
    shutdown();
    return kExitError;
  }

  void shutdown() {
    for (auto& h : hosts_) stop_process(h.agent);
    client_.reset();
    if (verifier_) verifier_->stop();
    for (auto& h : hosts_) {
      if (h.tpm) h.tpm->stop();
    }
    if (remove_dir_ && !o_.dir.empty()) {
      std::error_code ec;
      fs::remove_all(o_.dir, ec);
      remove_dir_ = false;
    }
  }

  DemoOptions o_;
  Clock::time_point start_;
  bool remove_dir_ = false;
  std::unique_ptr<sim::LocalCa> ca_;
  std::vector<Host> hosts_;
  std::unique_ptr<verifier::Verifier> verifier_;
  std::unique_ptr<net::HttpsClient> client_;
  std::string last_view_;
};

}  // namespace

void add_demo_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "demo",
      "The whole attestation loop on this machine, no TPM needed: a verifier, N software TPMs "
      "booted with generated firmware and IMA measurements, one agent per TPM");
  static DemoOptions o;
  cmd->add_option("--hosts", o.hosts, "Simulated hosts")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  cmd->add_flag("--tamper", o.tamper, "Once the fleet is trusted, make the last host drift");
  cmd->add_option(
      "--exit-after", o.exit_after,
      "Stop after SECONDS and print the fleet as JSON on stdout (default: run until Ctrl-C)");
  cmd->add_option("--dir", o.dir,
                  "Keep the demo's files here (default: a temporary directory, removed)");
  cmd->add_option("--interval-ms", o.interval_ms, "Attestation interval")->capture_default_str();
  cmd->callback([exit_code] {
    struct sigaction sa {};
    sa.sa_handler = on_demo_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    Demo demo(o);
    *exit_code = demo.run();
  });
}

}  // namespace ironroot::cli
