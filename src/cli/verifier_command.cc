// ironroot verifier | agent | hosts | policy: the attestation loop's processes and its operator
// commands.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "commands.h"
#include "connection.h"
#include "core/log.h"
#include "net/http.h"
#include "output.h"
#include "verifier/principals.h"
#include "verifier/service.h"

namespace ironroot::cli {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop = true;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// One call, its JSON answer printed; the exit code says whether it worked.
void run_call(const OperatorConnection& c, const std::string& method, const std::string& target,
              const std::string& body, int* exit_code) {
  auto r = c.call(method, target, body);
  if (!r) {
    print_error(r.error().message());
    *exit_code = kExitError;
    return;
  }
  std::cout << r->dump(2) << "\n";
  *exit_code = kExitOk;
}

void print_hosts(const json& doc) {
  std::printf("%-20s %-12s %-10s %s\n", "HOST", "STATE", "LAST SEEN", "REASONS");
  for (const auto& h : doc["hosts"]) {
    double ago = h.value("seconds_since_attestation", -1.0);
    std::string seen = ago < 0 ? "never" : (std::to_string(static_cast<int>(ago)) + "s ago");
    std::string reasons;
    for (const auto& r : h["reasons"])
      reasons += (reasons.empty() ? "" : "; ") + r.get<std::string>();
    std::printf("%-20s %-12s %-10s %s\n", h["id"].get<std::string>().c_str(),
                h["state"].get<std::string>().c_str(), seen.c_str(), reasons.c_str());
  }
}

}  // namespace

void add_verifier_commands(CLI::App& app, int* exit_code) {
  // ---- ironroot verifier
  auto* v = app.add_subcommand(
      "verifier", "Run the verifier: enrolment, attestation, admission, API under /v1");
  static verifier::VerifierOptions vo;
  static std::string listen = "127.0.0.1:8443", bank = "sha256", log_format;
  static std::vector<std::string> pcrs_list;
  v->set_config("--config", "",
                "Read options from a TOML/INI file (keys are the long option names)");
  v->add_option("--data-dir", vo.data_dir, "Data directory: database, CA, keys, operator token")
      ->required();
  v->add_option("--listen", listen, "Address and port to serve HTTPS on")->capture_default_str();
  v->add_option("--interval-ms", vo.interval_ms, "Attestation interval the agents keep")
      ->capture_default_str();
  v->add_option("--unreachable-after", vo.unreachable_after_intervals,
                "Intervals without valid evidence before a host is unreachable")
      ->capture_default_str();
  static bool no_default_ek_ca = false;
  v->add_option("--ek-ca", vo.ek_ca_paths,
                "More TPM EK CA certificates to trust (file or directory, repeatable)");
  v->add_flag("--no-default-ek-ca", no_default_ek_ca,
              "Do not trust the TPM manufacturers' CAs shipped in " IRONROOT_DATA_DIR "/tpm-ca");
  v->add_flag("--allow-ek-without-certificate", vo.allow_ek_without_certificate,
              "Enrol TPMs that have no EK certificate (trust on first use of the EK)");
  v->add_option("--bank", bank, "PCR bank to quote")->capture_default_str();
  v->add_option("--threads", vo.threads, "HTTPS worker threads")->capture_default_str();
  v->add_option("--server-name", vo.server_names,
                "DNS names for the server certificate (first start)");
  v->add_option("--server-ip", vo.server_ips,
                "IP addresses for the server certificate (first start)");
  v->add_option("--findings-config", vo.findings_config,
                "Findings sinks and remediation (JSON, docs/findings.md); default: "
                "<data-dir>/findings.jsonl, no remediation")
      ->check(CLI::ExistingFile);
  v->add_option("--sovereignty-policy", vo.sovereignty_policy,
                "Judge every posture report by this policy (docs/posture.md); a deny keeps the "
                "host untrusted. \"default\": ironroot's own. Default: not applied");
  v->add_option("--log-format", log_format,
                "text or json (default: json unless stderr is a terminal)");
  v->callback([exit_code] {
    install_signal_handlers();
    if (!log_format.empty()) log::set_format(log_format);
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      print_error("--listen wants ADDRESS:PORT");
      *exit_code = kExitError;
      return;
    }
    vo.address = listen.substr(0, colon);
    const std::string port = listen.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
      print_error("--listen wants ADDRESS:PORT, with a port of 0-65535 (got '" + listen + "')");
      *exit_code = kExitError;
      return;
    }
    vo.port = static_cast<uint16_t>(std::stoi(port));
    auto alg = crypto::hash_alg_from_name(bank);
    if (!alg) {
      print_error("--bank: unknown bank " + bank);
      *exit_code = kExitError;
      return;
    }
    vo.bank = *alg;
    if (!no_default_ek_ca)
      vo.ek_ca_paths.insert(vo.ek_ca_paths.begin(), IRONROOT_DATA_DIR "/tpm-ca");
    auto server = verifier::Verifier::start(vo);
    if (!server) {
      print_error(server.error().message());
      *exit_code = kExitError;
      return;
    }
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*server)->stop();
    *exit_code = kExitOk;
  });

  // ---- ironroot agent
  auto* a = app.add_subcommand(
      "agent", "Run the agent: enrol this host's TPM, then answer the verifier's challenges");
  static agent::AgentOptions ao;
  static std::string agent_log_format;
  a->set_config("--config", "",
                "Read options from a TOML/INI file (keys are the long option names)");
  a->add_option("--verifier", ao.verifier_url, "Verifier URL, https://HOST:PORT")->required();
  a->add_option("--verifier-ca", ao.verifier_ca_file,
                "The verifier's CA certificate (its data dir's ca.pem)")
      ->required();
  a->add_option("--state-dir", ao.state_dir, "Where the agent keeps its TLS key and certificate")
      ->required();
  a->add_option("--host-id", ao.host_id, "Name to enrol under (default: the host name)");
  a->add_option("--tcti", ao.tcti, "TPM access: device:/dev/tpmrm0, swtpm:host=H,port=P, ...")
      ->capture_default_str();
  a->add_option("--eventlog", ao.eventlog_path, "Firmware event log")->capture_default_str();
  a->add_option("--ima", ao.ima_path, "IMA ascii measurement list")->capture_default_str();
  a->add_flag("--tpm-startup", ao.tpm_startup, "Send TPM2_Startup first (simulators)");
  a->add_option("--watch-ms", ao.watch_ms,
                "Look this often for a PCR change or IMA growth and attest at once (0: off)")
      ->capture_default_str();
  a->add_flag("--host-flows", ao.host_flows,
              "Record the flows this host's OS knows of (conntrack, sock_diag; needs "
              "CAP_NET_ADMIN) and send them with each attestation, for the network sensor");
  a->add_option("--posture-root", ao.posture_root,
                "Read the platform posture below this root (empty: do not report posture)")
      ->capture_default_str();
  a->add_option("--log-format", agent_log_format, "text or json");
  a->callback([exit_code] {
    install_signal_handlers();
    if (!agent_log_format.empty()) log::set_format(agent_log_format);
    auto ag = agent::Agent::create(ao);
    if (!ag) {
      print_error(ag.error().message());
      *exit_code = kExitError;
      return;
    }
    (*ag)->run(g_stop);
    *exit_code = kExitOk;
  });

  // ---- ironroot principal add | list (on the verifier's machine: edits its data directory)
  auto* pr = app.add_subcommand("principal",
                                "API principals and their roles (" + verifier::role_names() +
                                    "); the running verifier picks changes up without a restart");
  pr->require_subcommand(1);
  static std::string pr_dir;
  static std::string pr_name;
  static std::vector<std::string> pr_roles;
  auto* padd = pr->add_subcommand(
      "add", "Add a principal with a new bearer token, printed once (only its hash is stored)");
  padd->add_option("--data-dir", pr_dir, "The verifier's data directory")
      ->required()
      ->envname("IRONROOT_DATA_DIR");
  padd->add_option("NAME", pr_name, "Principal name")->required();
  padd->add_option("--role", pr_roles, "A role (repeatable)")->required();
  padd->callback([exit_code] {
    std::set<verifier::Role> roles;
    for (const auto& r : pr_roles) {
      auto role = verifier::role_from_name(r);
      if (!role) {
        print_error("--role: unknown role " + r + " (" + verifier::role_names() + ")");
        *exit_code = kExitError;
        return;
      }
      roles.insert(*role);
    }
    auto token = verifier::add_principal(pr_dir + "/" + verifier::kPrincipalsFile, pr_name, roles);
    if (!token) {
      print_error(token.error().message());
      *exit_code = kExitError;
      return;
    }
    std::cout << *token << "\n";
    *exit_code = kExitOk;
  });
  auto* plist = pr->add_subcommand("list", "List principals and their roles");
  plist->add_option("--data-dir", pr_dir, "The verifier's data directory")
      ->required()
      ->envname("IRONROOT_DATA_DIR");
  static bool plist_json = false;
  plist->add_flag("--json", plist_json, "JSON output");
  plist->callback([exit_code] {
    auto list = verifier::parse_principals(read_file(pr_dir + "/" + verifier::kPrincipalsFile));
    if (!list) {
      print_error(list.error().message());
      *exit_code = kExitError;
      return;
    }
    if (plist_json) {
      std::cout << verifier::principals_to_json(*list);
    } else {
      for (const auto& p : *list) {
        std::string roles;
        for (auto r : p.roles) roles += (roles.empty() ? "" : ",") + std::string(role_name(r));
        std::printf("%-20s %-45s %s\n", p.name.c_str(), roles.c_str(),
                    p.token_sha256.empty() ? "certificate" : "token");
      }
    }
    *exit_code = kExitOk;
  });

  // ---- ironroot hosts
  auto* h = app.add_subcommand("hosts", "List enrolled hosts and whether they may run workloads");
  static OperatorConnection hc;
  static bool hosts_json = false;
  static std::string one_host;
  hc.add_options(h);
  h->add_option("HOST", one_host, "Show one host in full (with its recent events)");
  h->add_flag("--json", hosts_json, "JSON for scripts");
  h->callback([exit_code] {
    auto r = hc.call("GET", one_host.empty() ? "/v1/hosts" : "/v1/hosts/" + one_host);
    if (!r) {
      print_error(r.error().message());
      *exit_code = kExitError;
      return;
    }
    if (!one_host.empty()) {
      auto ev = hc.call("GET", "/v1/hosts/" + one_host + "/events");
      if (ev) (*r)["events"] = (*ev)["events"];
      if (hosts_json) {
        std::cout << r->dump(2) << "\n";
      } else {
        write_yaml(std::cout, *r);
      }
    } else if (hosts_json) {
      std::cout << r->dump(2) << "\n";
    } else {
      print_hosts(*r);
    }
    *exit_code = kExitOk;
  });

  // ---- ironroot policy capture | set | show
  auto* p = app.add_subcommand(
      "policy",
      "What a trusted host may run: reference values, policy documents (offline create/check, "
      "submit), and their dual-control approval");
  add_policy_file_commands(*p, exit_code);
  p->require_subcommand(1);
  static OperatorConnection pc;
  auto* cap = p->add_subcommand(
      "capture",
      "Propose the PCR values a golden host last proved as reference values (merged with those "
      "in force once an approver approves)");
  static std::string golden;
  static std::vector<uint32_t> cap_pcrs;
  static bool replace = false;
  pc.add_options(cap);
  cap->add_option("HOST", golden, "The golden host")->required();
  cap->add_option(
      "--pcr", cap_pcrs,
      "PCRs to take (repeatable; default 0-7: firmware, boot configuration, Secure Boot)");
  cap->add_flag("--replace", replace, "Replace the approved values instead of adding to them");
  cap->callback([exit_code] {
    json body{{"host", golden}, {"replace", replace}};
    if (!cap_pcrs.empty()) body["pcrs"] = cap_pcrs;
    auto r = pc.call("POST", "/v1/policy/capture", body.dump());
    if (!r) {
      print_error(r.error().message());
      *exit_code = kExitError;
      return;
    }
    std::cout << r->dump(2) << "\n";
    *exit_code = kExitOk;
  });
  auto* set = p->add_subcommand(
      "set",
      "Propose reference values from a file: {\"name\", \"bank\", \"pcrs\": {\"0\": [\"<hex>\"]}}");
  static std::string ref_file;
  static OperatorConnection ps;
  ps.add_options(set);
  set->add_option("FILE", ref_file, "Reference values (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  set->callback([exit_code] {
    auto r = ps.call("PUT", "/v1/policy/references", read_file(ref_file));
    if (!r) {
      print_error(r.error().message());
      *exit_code = kExitError;
      return;
    }
    std::cout << r->dump(2) << "\n";
    *exit_code = kExitOk;
  });
  auto* submit = p->add_subcommand(
      "submit",
      "Propose a policy document to the verifier (ironroot's from `policy create`, or a Keylime "
      "runtime policy); in force once an approver approves it");
  static std::string submit_file;
  static OperatorConnection psub;
  psub.add_options(submit);
  submit->add_option("FILE", submit_file, "The policy (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  submit->callback([exit_code] {
    run_call(psub, "PUT", "/v1/policy/document", read_file(submit_file), exit_code);
  });
  // Dual control: changes wait for a second principal.
  auto* changes =
      p->add_subcommand("changes", "List policy changes (pending ones first to act on)");
  static OperatorConnection pch;
  static std::string change_id;
  pch.add_options(changes);
  changes->add_option("ID", change_id, "Show one change");
  changes->callback([exit_code] {
    run_call(pch, "GET", "/v1/policy/changes" + (change_id.empty() ? "" : "/" + change_id), "",
             exit_code);
  });
  for (const char* verb : {"approve", "reject"}) {
    auto* cmd = p->add_subcommand(
        verb, std::string(verb == std::string("approve") ? "Approve" : "Reject") +
                  " a pending policy change (a principal with the approver role, not its author)");
    static std::map<std::string, OperatorConnection> conns;
    static std::map<std::string, std::string> ids, comments;
    auto& c = conns[verb];
    c.as = "approver";
    c.add_options(cmd);
    cmd->add_option("ID", ids[verb], "The change")->required();
    cmd->add_option("--comment", comments[verb], "Why (recorded in the audit log)");
    cmd->callback([exit_code, v = std::string(verb)] {
      run_call(conns[v], "POST", "/v1/policy/changes/" + ids[v] + "/" + v,
               json{{"comment", comments[v]}}.dump(), exit_code);
    });
  }
  auto* show = p->add_subcommand("show", "Print the reference values in force");
  static OperatorConnection pshow;
  pshow.add_options(show);
  show->callback([exit_code] {
    auto r = pshow.call("GET", "/v1/policy/references");
    if (!r) {
      print_error(r.error().message());
      *exit_code = kExitError;
      return;
    }
    std::cout << r->dump(2) << "\n";
    *exit_code = kExitOk;
  });
}

}  // namespace ironroot::cli
