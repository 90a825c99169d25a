#include "verifier/service.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "audit/journal.h"
#include "audit/note.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/text.h"
#include "crypto/base64.h"
#include "crypto/pki.h"
#include "ear/ear.h"
#include "ear/jwt.h"
#include "findings/config.h"
#include "findings/dispatcher.h"
#include "findings/sensor_finding.h"
#include "net/http.h"
#include "policy/policy.h"
#include "posture/posture.h"
#include "posture/sovereignty.h"
#include "store/store.h"
#include "tpm2/credential.h"
#include "tpm2/ekcert.h"
#include "tpm2/keys.h"
#include "verifier/appraisal.h"
#include "verifier/host_identity.h"
#include "verifier/principals.h"

namespace ironroot::verifier {
namespace {

namespace fs = std::filesystem;
using net::Request;
using net::Response;
using nlohmann::json;
using store::HostRecord;
using store::HostState;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Response reply(int status, const json& body) {
  return Response{status, "application/json", body.dump(), {}};
}
Response fail(int status, const std::string& message) {
  return reply(status, json{{"error", message}});
}

// Host ids are path segments and certificate names: keep them boring.
bool valid_host_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return id.front() != '.';
}

// "a=1&b=2" -> {a: 1, b: 2}; values are numbers or simple tokens, so no percent-decoding.
std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  std::stringstream ss(q);
  std::string kv;
  while (std::getline(ss, kv, '&')) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

Result<uint64_t> query_u64(const std::map<std::string, std::string>& q, const std::string& name) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty() || it->second.size() > 19 ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    return invalid_argument("query parameter \"" + name + "\" must be a non-negative integer");
  return std::stoull(it->second);
}

std::string sha256_hex(Bytes b) {
  return crypto::hash(crypto::HashAlg::kSha256, b).hex();
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_private_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Error(ErrorCode::kIo, path + ": cannot write");
  out << data;
  out.close();
  ::chmod(path.c_str(), 0600);
  return {};
}

// A file in the data directory, created by `make` the first time.
Result<std::string> load_or_create(const std::string& path,
                                   const std::function<Result<std::string>()>& make) {
  if (fs::exists(path)) return read_text_file(path);
  IRONROOT_ASSIGN_OR_RETURN(std::string value, make());
  IRONROOT_RETURN_IF_ERROR(write_private_file(path, value));
  return value;
}

// Fields of a JSON request body, with errors that name the field.
Result<std::string> str_field(const json& j, const char* name, size_t max = 1 << 20) {
  if (!j.contains(name) || !j[name].is_string())
    return invalid_argument(std::string("\"") + name + "\" must be a string");
  const auto& s = j[name].get_ref<const std::string&>();
  if (s.size() > max) return invalid_argument(std::string("\"") + name + "\" is too long");
  return s;
}

Result<std::vector<uint8_t>> b64_field(const json& j, const char* name, size_t max = 1 << 20) {
  IRONROOT_ASSIGN_OR_RETURN(std::string s, str_field(j, name, max));
  auto b = crypto::base64_decode(s);
  if (!b) return invalid_argument(std::string("\"") + name + "\": " + b.error().message());
  return std::move(*b);
}

// ---- sensor findings: what a network sensor posts (lib/sensor/reconcile.h Finding::json()) ----
constexpr size_t kMaxSensorBody = 1 << 20;
constexpr size_t kMaxSensorFindings = 500;

json host_json(const HostRecord& h, int64_t now) {
  json pcrs = json::parse(h.pcrs_json, nullptr, false);
  return json{
      {"id", h.id},
      {"state", store::host_state_name(h.state)},
      {"reasons", h.reasons},
      {"ek_issuer", h.ek_issuer},
      {"enrolled_at_ms", h.enrolled_at_ms},
      {"last_attested_at_ms", h.last_attested_at_ms},
      {"seconds_since_attestation",
       h.last_attested_at_ms ? static_cast<double>(now - h.last_attested_at_ms) / 1000.0 : -1.0},
      {"state_changed_at_ms", h.state_changed_at_ms},
      {"attestations", h.attestations},
      {"tpm",
       {{"reset_count", h.reset_count}, {"restart_count", h.restart_count}, {"clock", h.clock}}},
      {"ima_entries_appraised", h.ima_entries},
      {"pcrs", pcrs.is_discarded() ? json::object() : pcrs}};
}

struct PendingEnrollment {
  std::string host_id;
  std::vector<uint8_t> ek_certificate, ek_public, ak_public;
  std::string ek_issuer;
  std::string csr;
  std::vector<uint8_t> secret;
  int64_t expires_ms = 0;
};

struct OutstandingChallenge {
  Challenge challenge;
  int64_t expires_ms = 0;
};

constexpr size_t kMaxPending = 10000;
constexpr const char* kPolicyName = "policy";  // the store's name for the policy document
constexpr size_t kMaxFlowLinesPerRound = 100'000;
constexpr uint64_t kMaxFlowLines = 200'000;  // per host, in the store (oldest dropped)
constexpr size_t kMaxFlowReplyBytes = 4 << 20;

class VerifierImpl final : public Verifier {
 public:
  explicit VerifierImpl(VerifierOptions o) : opts_(std::move(o)) {}
  ~VerifierImpl() override { stop(); }

  Status init() {
    std::error_code ec;
    fs::create_directories(opts_.data_dir, ec);
    if (ec) return Error(ErrorCode::kIo, opts_.data_dir + ": cannot create: " + ec.message());
    ::chmod(opts_.data_dir.c_str(), 0700);
    const std::string d = opts_.data_dir + "/";
    IRONROOT_ASSIGN_OR_RETURN(store_, store::open_sqlite_store(d + "ironroot.db"));
    IRONROOT_ASSIGN_OR_RETURN(ca_key_,
                              load_or_create(d + "ca.key", [] { return crypto::generate_key(); }));
    IRONROOT_ASSIGN_OR_RETURN(ca_pem_, load_or_create(d + kCaCertFile, [&] {
                                return crypto::make_ca_certificate(ca_key_, "ironroot verifier CA",
                                                                   3650);
                              }));
    ::chmod((d + kCaCertFile).c_str(), 0644);
    IRONROOT_ASSIGN_OR_RETURN(std::string server_key, load_or_create(d + "server.key", [] {
                                return crypto::generate_key();
                              }));
    IRONROOT_ASSIGN_OR_RETURN(
        std::string server_cert, load_or_create(d + "server.pem", [&]() -> Result<std::string> {
          IRONROOT_ASSIGN_OR_RETURN(std::string csr,
                                    crypto::make_csr(server_key, "ironroot verifier"));
          crypto::IssueOptions io;
          io.common_name = "ironroot verifier";
          io.server = true;
          io.days = 825;
          io.dns = opts_.server_names;
          io.ips = opts_.server_ips;
          return crypto::issue_certificate(ca_key_, ca_pem_, csr, io);
        }));
    IRONROOT_ASSIGN_OR_RETURN(token_, load_or_create(d + kOperatorTokenFile, [] {
                                return Result<std::string>(crypto::random_token(32));
                              }));
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
    IRONROOT_RETURN_IF_ERROR(init_principals(d));
    IRONROOT_RETURN_IF_ERROR(init_audit_log(d));
    IRONROOT_RETURN_IF_ERROR(init_sovereignty());
    IRONROOT_RETURN_IF_ERROR(init_findings(d));
    IRONROOT_RETURN_IF_ERROR(init_results(d));
    if (auto doc = store_->reference(kPolicyName); doc && *doc) {
      // The approved policy document in force; a document that no longer loads is an error to
      // fix, not a reason to run without it.
      auto p = policy::load_policy(
          Bytes(reinterpret_cast<const uint8_t*>((*doc)->data()), (*doc)->size()));
      if (!p) return std::move(p).error().with_context("the approved policy in the store");
      policy_ = std::move(*p);
    }
    for (const auto& p : opts_.ek_ca_paths) {
      auto st = ek_cas_.add_path(p);
      if (!st) return std::move(st).error().with_context("EK CA bundle");
    }
    log::info("verifier data directory ready",
              {{"dir", opts_.data_dir},
               {"schema", std::to_string(store_->schema_version())},
               {"ek_cas", std::to_string(ek_cas_.size())}});
    net::ServerOptions so;
    so.address = opts_.address;
    so.port = opts_.port;
    so.threads = opts_.threads;
    so.body_limit = [this](const Request& r) { return body_limit(r); };
    net::TlsServerConfig tls{server_cert, server_key, ca_pem_};
    IRONROOT_ASSIGN_OR_RETURN(
        server_, net::HttpsServer::start(so, tls, [this](const Request& r) { return handle(r); }));
    ticker_ = std::thread([this] { tick_loop(); });
    log::info("verifier listening",
              {{"address", opts_.address}, {"port", std::to_string(server_->port())}});
    return {};
  }

  uint16_t port() const override { return server_ ? server_->port() : 0; }
  std::string ca_pem() const override { return ca_pem_; }
  std::string operator_token() const override { return token_; }
  std::string approver_token() const override { return approver_token_; }
  std::string log_verifier_key() const override { return journal_->verifier_key(); }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    if (server_) server_->stop();
    if (dispatcher_) dispatcher_->shutdown(std::chrono::seconds(5));
    if (journal_) journal_->close();
  }

 private:
  // The first start writes two principals: "operator" (operator.token: viewer, auditor,
  // operator, policy-author) and "approver" (approver.token: viewer, approver), so that a policy
  // change always needs two people. More are added with `ironroot verifier principal add`.
  Status init_principals(const std::string& d) {
    const std::string path = d + kPrincipalsFile;
    if (!fs::exists(path)) {
      IRONROOT_ASSIGN_OR_RETURN(approver_token_, load_or_create(d + kApproverTokenFile, [] {
                                  return Result<std::string>(crypto::random_token(32));
                                }));
      std::vector<Principal> initial = {
          {"operator",
           {Role::kViewer, Role::kAuditor, Role::kOperator, Role::kPolicyAuthor},
           sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(token_.data()), token_.size())),
           ""},
          {"approver",
           {Role::kViewer, Role::kApprover},
           sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(approver_token_.data()),
                            approver_token_.size())),
           ""}};
      IRONROOT_RETURN_IF_ERROR(write_private_file(path, principals_to_json(initial)));
    } else if (fs::exists(d + kApproverTokenFile)) {
      IRONROOT_ASSIGN_OR_RETURN(approver_token_, read_text_file(d + kApproverTokenFile));
    }
    principals_ = std::make_unique<PrincipalDirectory>(path);
    return principals_->load();
  }

  // The audit log: its own database (fsync on every commit) and Ed25519 key; the origin names
  // this verifier by its CA, so two verifiers' checkpoints are never confused.
  Status init_audit_log(const std::string& d) {
    auto ca_fp = crypto::certificate_fingerprint(ca_pem_);
    if (!ca_fp) return std::move(ca_fp).error().with_context("verifier CA");
    const std::string origin = "ironroot.verifier/" + ca_fp->substr(0, 16);
    std::string pub;
    IRONROOT_ASSIGN_OR_RETURN(
        std::string key_pem, load_or_create(d + "audit.key", [&]() -> Result<std::string> {
          IRONROOT_ASSIGN_OR_RETURN(audit::NoteKeyPair pair, audit::generate_note_key(origin));
          return pair.private_key_pem;
        }));
    IRONROOT_ASSIGN_OR_RETURN(
        journal_, audit::Journal::open(
                      {.path = d + "audit.db", .origin = origin, .private_key_pem = key_pem}));
    // The public half, for auditors: `ironroot log verify --key <data-dir>/audit.pub`.
    IRONROOT_RETURN_IF_ERROR(
        write_private_file(d + kAuditKeyFile, journal_->verifier_key() + "\n"));
    ::chmod((d + kAuditKeyFile).c_str(), 0644);
    auto started = record("verifier.started", "", "", json{{"entries", journal_->size()}});
    if (!started) return std::move(started).error();
    return {};
  }

  // Attestation results are EARs signed with this verifier's own Ed25519 key (ear.key); relying
  // parties fetch the public half as a JWKS from /v1/keys.
  Status init_results(const std::string& d) {
    IRONROOT_ASSIGN_OR_RETURN(
        std::string pem, load_or_create(d + "ear.key", []() -> Result<std::string> {
          IRONROOT_ASSIGN_OR_RETURN(ear::SigningKey k, ear::SigningKey::generate(ear::Alg::kEdDSA));
          return k.private_pem();
        }));
    IRONROOT_ASSIGN_OR_RETURN(ear::SigningKey key, ear::SigningKey::load_pem(pem));
    ear_key_ = std::make_unique<ear::SigningKey>(std::move(key));
    IRONROOT_RETURN_IF_ERROR(write_private_file(d + kResultKeysFile, ear_key_->jwks()));
    ::chmod((d + kResultKeysFile).c_str(), 0644);
    return {};
  }

  // The EAR for one appraisal: a submod "tpm" with the AR4SI vector.
  std::string sign_result(const HostRecord& h, const Verdict& v, const Challenge& ch,
                          const std::optional<bool>& boot_policy_ok,
                          const std::optional<bool>& runtime_ok) {
    ear::Appraisal a;
    using ear::Claim;
    namespace c = ear::codes;
    a.vector.set(Claim::kInstanceIdentity,
                 v.evidence_valid ? c::kTrustworthyInstance : c::kCryptoValidationFailed);
    if (v.evidence_valid) {
      const bool config_ok = v.trusted || (boot_policy_ok && *boot_policy_ok);
      a.vector.set(Claim::kConfiguration, config_ok ? c::kApprovedConfig : c::kUnsupportableConfig);
      if (boot_policy_ok)
        a.vector.set(Claim::kExecutables,
                     *boot_policy_ok ? c::kApprovedBoot : c::kContraindicatedRuntime);
      if (runtime_ok)
        a.vector.set(Claim::kExecutables,
                     *runtime_ok ? c::kApprovedRuntime : c::kContraindicatedRuntime);
      // A TPM whose EK chains to a manufacturer CA is genuine hardware; one admitted without a
      // certificate is not recognised.
      a.vector.set(Claim::kHardware,
                   h.ek_certificate.empty() ? c::kUnrecognizedHardware : c::kGenuineHardware);
    }
    a.status = a.derived_status();
    if (h.quarantined) a.status = ear::Tier::kContraindicated;
    a.policy_id = policy_ ? "ironroot:policy" : "ironroot:references";
    a.reasons = h.reasons;
    if (h.quarantined) a.reasons.push_back("quarantined: " + h.quarantine_reason);
    ear::Ear e;
    e.iat = now_ms() / 1000;
    e.verifier_id = {"ironroot", "ironroot 0.1.0"};
    e.nonce = ch.nonce;
    e.submods["tpm"] = std::move(a);
    e.other["ironroot.host"] = h.id;
    auto jwt = ear::sign_ear(e, *ear_key_);
    if (!jwt) {
      log::error("cannot sign the attestation result",
                 {{"host", h.id}, {"error", jwt.error().message()}});
      return "";
    }
    return *jwt;
  }

  Status init_sovereignty() {
    if (opts_.sovereignty_policy.empty()) return {};
    std::string text = posture::default_policy_text();
    if (opts_.sovereignty_policy != "default") {
      IRONROOT_ASSIGN_OR_RETURN(text, read_text_file(opts_.sovereignty_policy));
    }
    auto policy = posture::parse_policy(text);
    if (!policy)
      return std::move(policy).error().with_context("sovereignty policy " +
                                                    opts_.sovereignty_policy);
    sovereignty_ = std::move(*policy);
    log::info("sovereignty policy in force",
              {{"policy", opts_.sovereignty_policy},
               {"rules", std::to_string(sovereignty_->rules.size())}});
    return {};
  }

  // Findings leave through the dispatcher (sinks, remediation); every delivery and remediation
  // attempt is recorded in the audit log.
  Status init_findings(const std::string& d) {
    findings::DispatcherConfig config;
    if (opts_.findings_config.empty()) {
      IRONROOT_ASSIGN_OR_RETURN(
          config,
          findings::parse_config(json{
              {"sinks", {{{"type", "jsonl"}, {"name", "file"}, {"path", d + "findings.jsonl"}}}}}
                                     .dump()));
    } else {
      IRONROOT_ASSIGN_OR_RETURN(config, findings::load_config(opts_.findings_config));
    }
    findings::Callbacks cb;
    cb.on_outcome = [this](const findings::Outcome& o) {
      if (o.status == findings::OutcomeStatus::kRetrying && o.attempt > 1) return;
      (void)record(o.remediation ? "remediation" : "finding.delivery", o.host_id, "",
                   json{{"target", o.target},
                        {"status", findings::outcome_status_name(o.status)},
                        {"finding", o.finding_uid},
                        {"attempt", o.attempt},
                        {"detail", o.detail},
                        {"since_submit_us", o.since_submit.count()}});
    };
    cb.quarantine = [this](const findings::Finding& f) { return quarantine(f); };
    IRONROOT_ASSIGN_OR_RETURN(dispatcher_, findings::Dispatcher::create(std::move(config), cb));
    return {};
  }

  // The remediation "quarantine": admission stays denied, even after good evidence, until an
  // operator releases the host. Idempotent.
  Status quarantine(const findings::Finding& f) {
    std::lock_guard lock(hosts_mu_);
    auto h = store_->host(f.host_id);
    if (!h) return std::move(h).error();
    if (!*h) return {};  // deleted meanwhile: nothing to hold
    HostRecord host = **h;
    if (host.quarantined) return {};
    host.quarantined = true;
    host.quarantine_reason = f.title;
    IRONROOT_ASSIGN_OR_RETURN(
        uint64_t index,
        record("quarantine", f.host_id, "", json{{"finding", f.uid()}, {"reason", f.title}}));
    (void)index;
    IRONROOT_RETURN_IF_ERROR(store_->put_host(host));
    log::warn("host quarantined", {{"host", f.host_id}, {"reason", f.title}});
    return {};
  }

  // A finding about `host`: recorded, then handed to the dispatcher (which never blocks).
  void report_finding(findings::Finding f) {
    (void)record("finding", f.host_id, "",
                 json{{"uid", f.uid()},
                      {"kind", findings::kind_name(f.kind)},
                      {"severity", findings::severity_name(f.severity)},
                      {"title", f.title}});
    dispatcher_->submit(std::move(f));
  }

  // POST /v1/sensor/findings: a network sensor's findings. All are checked before any is kept;
  // each is in the audit log (sensor.finding) before the answer, then goes to the dispatcher
  // as a sensor_finding, so that the remediation rules apply to it like to any other kind.
  Response sensor_findings(const json& b, const Principal& who) {
    auto sensor = str_field(b, "sensor", 64);
    if (!sensor || !is_token(*sensor, 64, "._@-"))
      return fail(400, "\"sensor\": the sensor's name, 1-64 of [A-Za-z0-9._@-]");
    if (!b.contains("findings")) return fail(400, "\"findings\": missing (a list)");
    const json& list = b["findings"];
    if (!list.is_array()) return fail(400, "\"findings\": must be a list");
    if (list.size() > kMaxSensorFindings)
      return fail(400, "\"findings\": at most " + std::to_string(kMaxSensorFindings) +
                           " per request (got " + std::to_string(list.size()) + ")");
    std::vector<findings::SensorFindingFields> items;
    for (size_t i = 0; i < list.size(); ++i) {
      auto item = findings::read_sensor_finding(list[i], "findings[" + std::to_string(i) + "]");
      if (!item) return fail(400, item.error().message());
      items.push_back(std::move(*item));
    }
    std::vector<findings::Finding> out;
    std::vector<uint64_t> indexes;
    std::optional<HostIdentities> identities;  // built once, when a finding needs it
    for (const auto& item : items) {
      std::optional<HostRecord> host;
      std::string matched_by;
      if (valid_host_id(item.host)) {
        auto h = store_->host(item.host);
        if (!h) return fail(500, h.error().message());
        host = std::move(*h);
        if (host) matched_by = "host_id";
      }
      // Not a host id this verifier enrolled (a signature-only sensor names none): the flow's
      // MACs and addresses against those the agents report, when exactly one host claims one.
      if (!host) {
        if (!identities) {
          auto all = store_->hosts();
          if (!all) return fail(500, all.error().message());
          identities.emplace();
          for (const auto& h : *all) identities->add(h.id, h.posture_json);
        }
        if (auto m = identities->match(item.flow)) {
          auto h = store_->host(m->host_id);
          if (!h) return fail(500, h.error().message());
          host = std::move(*h);
          if (host) matched_by = m->matched_by + " " + m->identity;
        }
      }
      findings::Finding f = sensor_finding(item, host ? &*host : nullptr, *sensor, who);
      if (!matched_by.empty()) f.extra["matched_by"] = matched_by;
      auto index =
          journal_->enqueue(log_entry("sensor.finding", f.host_id, who.name,
                                      json{{"sensor", *sensor},
                                           {"finding", f.uid()},
                                           {"kind", item.kind},
                                           {"score", item.score},
                                           {"severity", findings::severity_name(f.severity)},
                                           {"reported_host", item.host},
                                           {"enrolled", host.has_value()},
                                           {"matched_by", matched_by},
                                           {"ts_ns", item.ts_ns},
                                           {"message", item.message},
                                           {"reasons", item.reasons},
                                           {"flow", item.flow}}));
      if (!index) {
        log::error("audit log append failed",
                   {{"kind", "sensor.finding"}, {"error", index.error().message()}});
        return fail(503, "the audit log is unavailable; findings not accepted");
      }
      indexes.push_back(*index);
      out.push_back(std::move(f));
    }
    // One wait for the batch: the journal commits in order, so the last index covers the rest.
    if (!indexes.empty()) {
      if (auto st = journal_->wait_durable(indexes.back()); !st)
        return fail(503, "the audit log is unavailable; findings not accepted");
    }
    for (auto& f : out) dispatcher_->submit(std::move(f));
    log::info(
        "sensor findings accepted",
        {{"sensor", *sensor}, {"principal", who.name}, {"count", std::to_string(out.size())}});
    return reply(200, json{{"accepted", indexes.size()}, {"log_indexes", indexes}});
  }

  // GET /v1/sensor/hosts: what a network sensor needs to recognise each enrolled host on the
  // wire, the MACs and addresses of the interfaces its agent last reported (no other posture).
  Response sensor_hosts() {
    auto all = store_->hosts();
    if (!all) return fail(500, all.error().message());
    json hosts = json::array();
    for (const auto& h : *all) {
      json stored = json::parse(h.posture_json.empty() ? "{}" : h.posture_json, nullptr, false);
      json interfaces = json::array();
      if (stored.is_object() && stored.contains("latest") && stored["latest"].is_object()) {
        const json& latest = stored["latest"];
        if (auto it = latest.find("interfaces"); it != latest.end() && it->is_array()) {
          for (const auto& n : *it) {
            if (!n.is_object()) continue;
            std::string mac = canonical_mac(n.value("mac", ""));
            json addresses = json::array();
            if (auto a = n.find("addresses"); a != n.end() && a->is_array()) {
              for (const auto& x : *a) {
                if (!x.is_string()) continue;
                if (std::string ip = canonical_ip(x.get<std::string>()); !ip.empty())
                  addresses.push_back(ip);
              }
            }
            if (mac.empty() && addresses.empty()) continue;
            interfaces.push_back(
                json{{"name", n.value("name", "")}, {"mac", mac}, {"addresses", addresses}});
          }
        }
      }
      hosts.push_back(json{
          {"id", h.id}, {"state", store::host_state_name(h.state)}, {"interfaces", interfaces}});
    }
    return reply(200, json{{"hosts", hosts}});
  }

  // The same mapping as the sensor's own --findings-config (same evidence, same dedup key, one
  // remediation per flow); only an enrolled host is named by id, since remediation acts on it.
  static findings::Finding sensor_finding(const findings::SensorFindingFields& item,
                                          const HostRecord* host, const std::string& sensor,
                                          const Principal& who) {
    findings::SensorFindingFields in = item;
    in.host = host ? host->id : "";
    in.ts_ns = std::min<uint64_t>(item.ts_ns, uint64_t{INT64_MAX});
    findings::Finding f = findings::from_sensor_finding(in);
    const std::string about = host ? host->id : item.host.empty() ? "unknown host" : item.host;
    if (!host) f.host_name = item.host;
    f.title = about + ": " + item.kind + " (sensor " + sensor + ", score " +
              std::to_string(item.score) + ")";
    f.extra = json{{"sensor", sensor},
                   {"principal", who.name},
                   {"enrolled", host != nullptr},
                   {"reported_host", item.host}};
    return f;
  }

  static findings::Finding untrusted_finding(const HostRecord& h, HostState from,
                                             findings::Severity severity) {
    findings::Finding f;
    f.kind = findings::Kind::kUntrustedTransition;
    f.severity = severity;
    f.host_id = h.id;
    f.host_name = h.id;
    f.title = h.id + " is " + store::host_state_name(h.state) + ": " +
              (h.reasons.empty() ? std::string("no reason given") : h.reasons.front());
    std::string message;
    for (const auto& r : h.reasons) message += (message.empty() ? "" : "\n") + r;
    f.message = message;
    f.evidence_generation = h.attestations;
    f.policy_id = "default";
    f.evidence = {{"from", store::host_state_name(from)}, {"to", store::host_state_name(h.state)}};
    for (size_t i = 0; i < h.reasons.size() && i < 10; ++i)
      f.evidence.push_back({"reason", h.reasons[i]});
    return f;
  }

  static std::string log_entry(const std::string& kind, const std::string& host,
                               const std::string& principal, const json& detail) {
    json e{{"kind", kind}, {"time_ms", now_ms()}};
    if (!host.empty()) e["host"] = host;
    if (!principal.empty()) e["principal"] = principal;
    e["detail"] = detail;
    return e.dump();
  }

  // Appends one decision to the audit log and waits until it is on disk. Returns its index.
  Result<uint64_t> record(const std::string& kind, const std::string& host,
                          const std::string& principal, const json& detail) {
    auto index = journal_->append(log_entry(kind, host, principal, detail));
    if (!index)
      log::error("audit log append failed", {{"kind", kind}, {"error", index.error().message()}});
    return index;
  }

  // A runtime policy for a real fleet is large (a 1M-digest Keylime policy is ~120 MB of JSON):
  // a policy author may upload one; everyone else, and every other route, gets the default
  // limit, decided before the body is read so that nobody else can make the verifier hold it.
  static constexpr size_t kMaxPolicyDocumentBytes = size_t{512} << 20;
  size_t body_limit(const Request& r) {
    const size_t normal = net::ServerOptions{}.max_body_bytes;
    if (r.method != "PUT" || r.path != "/v1/policy/document") return normal;
    std::optional<Principal> p;
    const std::string h = r.header("authorization");
    if (h.rfind("Bearer ", 0) == 0) {
      p = principals_->by_token(h.substr(7));
    } else if (!r.peer_fingerprint.empty()) {
      p = principals_->by_certificate(r.peer_fingerprint);
    }
    return p && p->has(Role::kPolicyAuthor) ? kMaxPolicyDocumentBytes : normal;
  }

  // Who is calling: a bearer token or a client certificate registered as a principal.
  std::optional<Principal> authenticate(const Request& r) {
    std::optional<Principal> p;
    const std::string h = r.header("authorization");
    const std::string prefix = "Bearer ";
    if (h.rfind(prefix, 0) == 0) {
      p = principals_->by_token(h.substr(prefix.size()));
    } else if (!r.peer_fingerprint.empty()) {
      p = principals_->by_certificate(r.peer_fingerprint);
    }
    if (p) {
      bool first = false;
      {
        std::lock_guard lock(mu_);
        first = signed_in_.insert(p->name).second;
      }
      // One entry per principal per verifier run: who used the API, not every request.
      if (first) (void)record("principal.sign_in", "", p->name, json{{"from", r.remote_address}});
    }
    return p;
  }

  static Response forbidden(const Principal& p, Role needed) {
    return fail(403, "principal \"" + p.name + "\" lacks the " + role_name(needed) + " role");
  }

  // ---- routing -------------------------------------------------------------------------------
  Response handle(const Request& r) {
    std::vector<std::string> seg;
    {
      std::stringstream ss(r.path);
      std::string s;
      while (std::getline(ss, s, '/')) {
        if (!s.empty()) seg.push_back(s);
      }
    }
    if (seg.size() < 2 || seg[0] != "v1") return fail(404, "no such endpoint: " + r.path);
    const bool write = r.method == "POST" || r.method == "PUT";
    // Sensor findings have a tighter limit than other bodies: refused before parsing.
    if (write && seg[1] == "sensor" && r.body.size() > kMaxSensorBody)
      return fail(413, "the body is larger than " + std::to_string(kMaxSensorBody) +
                           " bytes: send at most " + std::to_string(kMaxSensorFindings) +
                           " findings per request");
    json body;
    if (write) {
      auto ct = r.header("content-type");
      if (ct.rfind("application/json", 0) != 0)
        return fail(415, "send Content-Type: application/json");
      body = json::parse(r.body, nullptr, false);
      if (body.is_discarded() || !body.is_object())
        return fail(400, "the body is not a JSON object");
    }
    if (seg[1] == "health" && seg.size() == 2) return reply(200, json{{"status", "ok"}});
    // The public keys that verify this verifier's attestation results: public by nature.
    if (seg[1] == "keys" && seg.size() == 2 && r.method == "GET")
      return Response{200, "application/jwk-set+json", ear_key_->jwks(), {}};
    if (seg[1] == "enrollments") {
      if (seg.size() == 2 && r.method == "POST") return enroll(body);
      if (seg.size() == 4 && seg[3] == "activate" && r.method == "POST")
        return activate(seg[2], body);
      return fail(405, "use POST /v1/enrollments or POST /v1/enrollments/{id}/activate");
    }
    if (seg[1] == "hosts" && seg.size() == 4 && (seg[3] == "challenge" || seg[3] == "evidence")) {
      if (r.method != "POST") return fail(405, "use POST");
      if (r.peer_common_name.empty())
        return fail(401, "a client certificate issued at enrolment is required");
      if (r.peer_common_name != seg[2])
        return fail(403, "this certificate belongs to another host");
      return seg[3] == "challenge" ? challenge(seg[2], r) : evidence(seg[2], r, body);
    }
    // Operators, auditors and relying parties: a principal, and the role the request needs.
    auto who = authenticate(r);
    if (!who)
      return fail(401,
                  "present a principal's token (Authorization: Bearer <token>) or client "
                  "certificate");
    const Principal& p = *who;
    const bool read = r.method == "GET";
    if (seg[1] == "sensor") {
      if (seg.size() == 3 && seg[2] == "findings" && r.method == "POST") {
        if (!p.has(Role::kSensor) && !p.has(Role::kOperator)) return forbidden(p, Role::kSensor);
        return sensor_findings(body, p);
      }
      if (seg.size() == 3 && seg[2] == "hosts" && read) {
        if (!p.has(Role::kSensor) && !p.has(Role::kViewer)) return forbidden(p, Role::kSensor);
        return sensor_hosts();
      }
      return fail(405, "use POST /v1/sensor/findings or GET /v1/sensor/hosts");
    }
    // A sensor reads hosts' flow lines, and nothing else about them.
    if (seg[1] == "hosts" && seg.size() == 4 && seg[3] == "host-flows" && read) {
      if (!p.has(Role::kViewer) && !p.has(Role::kSensor)) return forbidden(p, Role::kViewer);
      return host_flow_lines(seg[2], parse_query(r.query));
    }
    if (seg[1] == "hosts") {
      if (read && !p.has(Role::kViewer)) return forbidden(p, Role::kViewer);
      if (!read && !p.has(Role::kOperator)) return forbidden(p, Role::kOperator);
      if (seg.size() == 2 && read) return list_hosts();
      if (seg.size() == 3 && read) return get_host(seg[2]);
      if (seg.size() == 3 && r.method == "DELETE") return delete_host(seg[2], p);
      if (seg.size() == 4 && seg[3] == "admission" && read) return admission(seg[2]);
      if (seg.size() == 4 && seg[3] == "events" && read) return host_events(seg[2]);
      if (seg.size() == 4 && seg[3] == "result" && read) return host_result(seg[2]);
      if (seg.size() == 4 && seg[3] == "posture" && read) return host_posture(seg[2]);
      if (seg.size() == 5 && seg[3] == "posture" && seg[4] == "accept" && r.method == "POST")
        return accept_posture(seg[2], p);
      if (seg.size() == 4 && seg[3] == "release" && r.method == "POST")
        return release(seg[2], p, body);
      return fail(405, "method not allowed on " + r.path);
    }
    if (seg[1] == "policy") {
      if (read && !p.has(Role::kViewer)) return forbidden(p, Role::kViewer);
      if (seg.size() == 3 && seg[2] == "references" && read) return get_references();
      if (seg.size() == 3 && seg[2] == "document" && read) return get_policy_document();
      if (seg.size() == 3 && seg[2] == "changes" && read) return list_changes("");
      if (seg.size() == 4 && seg[2] == "changes" && read) return list_changes(seg[3]);
      if (seg.size() == 5 && seg[2] == "changes" && seg[4] == "document" && read)
        return change_document(seg[3]);
      if (seg.size() == 3 && (seg[2] == "capture" || seg[2] == "references") && !read) {
        if (!p.has(Role::kPolicyAuthor)) return forbidden(p, Role::kPolicyAuthor);
        if (seg[2] == "capture" && r.method == "POST") return capture(body, p);
        if (seg[2] == "references" && r.method == "PUT") return set_references(body, p);
      }
      if (seg.size() == 3 && seg[2] == "document" && r.method == "PUT") {
        if (!p.has(Role::kPolicyAuthor)) return forbidden(p, Role::kPolicyAuthor);
        return set_policy_document(r.body, p);
      }
      if (seg.size() == 5 && seg[2] == "changes" && r.method == "POST" &&
          (seg[4] == "approve" || seg[4] == "reject")) {
        if (!p.has(Role::kApprover)) return forbidden(p, Role::kApprover);
        return decide(seg[3], seg[4] == "approve", p, body);
      }
      return fail(405, "method not allowed on " + r.path);
    }
    if (seg[1] == "log") {
      if (!read) return fail(405, "the audit log is read-only");
      if (!p.has(Role::kAuditor) && !p.has(Role::kViewer)) return forbidden(p, Role::kAuditor);
      return log_endpoint(seg, parse_query(r.query));
    }
    return fail(404, "no such endpoint: " + r.path);
  }

  // ---- enrolment -----------------------------------------------------------------------------
  Response enroll(const json& b) {
    auto id = str_field(b, "host_id", 64);
    if (!id || !valid_host_id(*id)) return fail(400, "\"host_id\": 1-64 of [A-Za-z0-9._-]");
    auto ek_pub = b64_field(b, "ek_public", 4096);
    auto ak_pub = b64_field(b, "ak_public", 4096);
    auto csr = str_field(b, "csr", 16384);
    if (!ek_pub) return fail(400, ek_pub.error().message());
    if (!ak_pub) return fail(400, ak_pub.error().message());
    if (!csr) return fail(400, csr.error().message());
    std::vector<uint8_t> ek_cert;
    if (b.contains("ek_certificate") && !b["ek_certificate"].is_null()) {
      auto c = b64_field(b, "ek_certificate", 8192);
      if (!c) return fail(400, c.error().message());
      ek_cert = std::move(*c);
    }
    std::string issuer;
    if (ek_cert.empty()) {
      if (!opts_.allow_ek_without_certificate) {
        return refuse_enrolment(
            *id, 403, "the TPM presented no EK certificate and this verifier requires one");
      }
      issuer = "(no EK certificate: allowed by configuration)";
    } else {
      auto info = tpm2::verify_ek_certificate(ek_cert, ek_cas_, std::nullopt);
      if (!info)
        return refuse_enrolment(*id, 403, "EK certificate refused: " + info.error().message());
      if (!tpm2::public_key_matches(*info, *ek_pub)) {
        return refuse_enrolment(*id, 403, "the EK public key is not the one in the EK certificate");
      }
      issuer = info->issuer;
    }
    auto ak = tpm2::parse_public(*ak_pub);
    if (!ak) return fail(400, "\"ak_public\": " + ak.error().message());
    if (!ak->is_restricted_signing) {
      return refuse_enrolment(*id, 403, "the attestation key is not a restricted signing key");
    }
    auto ak_name = tpm2::name(*ak_pub);
    if (!ak_name) return fail(400, "\"ak_public\": " + ak_name.error().message());
    // A host id stays bound to the TPM it first enrolled with.
    auto existing = store_->host(*id);
    if (!existing) return fail(500, existing.error().message());
    if (*existing && (*existing)->ek_public != *ek_pub) {
      return refuse_enrolment(*id, 409,
                              "host id already enrolled with another TPM; delete it first");
    }
    PendingEnrollment p;
    p.host_id = *id;
    p.ek_certificate = std::move(ek_cert);
    p.ek_public = *ek_pub;
    p.ak_public = *ak_pub;
    p.ek_issuer = issuer;
    p.csr = *csr;
    p.secret = crypto::random_bytes(32);
    p.expires_ms = now_ms() + 60'000;
    auto cred = tpm2::make_credential(*ek_pub, *ak_name, p.secret);
    if (!cred) return fail(400, "cannot make a credential for this EK: " + cred.error().message());
    std::string eid = crypto::random_token(16);
    {
      std::lock_guard lock(mu_);
      expire_locked(now_ms());
      if (pending_.size() >= kMaxPending)
        return fail(503, "too many enrolments in progress; retry later");
      pending_[eid] = std::move(p);
    }
    log::info("enrolment started", {{"host", *id}, {"ek_issuer", issuer}});
    return reply(201, json{{"enrollment_id", eid},
                           {"id_object", crypto::base64_encode(cred->id_object)},
                           {"encrypted_secret", crypto::base64_encode(cred->encrypted_secret)}});
  }

  Response refuse_enrolment(const std::string& id, int status, const std::string& why) {
    log::warn("enrolment refused", {{"host", id}, {"reason", why}});
    (void)record("enrolment.refused", id, "", json{{"reason", why}});
    return fail(status, why);
  }

  Response activate(const std::string& eid, const json& b) {
    auto secret = b64_field(b, "secret", 128);
    if (!secret) return fail(400, secret.error().message());
    PendingEnrollment p;
    {
      std::lock_guard lock(mu_);
      expire_locked(now_ms());
      auto it = pending_.find(eid);
      if (it == pending_.end()) return fail(404, "no such enrolment (expired or already used)");
      p = std::move(it->second);
      pending_.erase(it);  // one attempt only
    }
    if (!crypto::equal_ct(*secret, p.secret)) {
      return refuse_enrolment(
          p.host_id, 403,
          "credential activation failed: the AK is not in the TPM that owns this EK");
    }
    crypto::IssueOptions io;
    io.common_name = p.host_id;
    io.client = true;
    io.days = 365;
    auto cert = crypto::issue_certificate(ca_key_, ca_pem_, p.csr, io);
    if (!cert) return fail(400, "\"csr\": " + cert.error().message());
    auto fp = crypto::certificate_fingerprint(*cert);
    if (!fp) return fail(500, fp.error().message());
    int64_t now = now_ms();
    std::lock_guard lock(hosts_mu_);
    auto existing = store_->host(p.host_id);
    if (!existing) return fail(500, existing.error().message());
    HostRecord h;
    if (*existing) {
      h = **existing;  // re-enrolment of the same TPM: keep history, require fresh evidence
      h.reasons = {"re-enrolled; waiting for the first attestation"};
    } else {
      h.id = p.host_id;
      h.enrolled_at_ms = now;
      h.reasons = {"enrolled; waiting for the first attestation"};
    }
    h.state = HostState::kEnrolling;
    h.state_changed_at_ms = now;
    h.ek_certificate = p.ek_certificate;
    h.ek_public = p.ek_public;
    h.ak_public = p.ak_public;
    h.ek_issuer = p.ek_issuer;
    h.tls_fingerprint = *fp;
    h.have_clock = false;
    if (auto st = store_->put_host(h); !st) return fail(500, st.error().message());
    (void)store_->append_event({0, h.id, now, "enrolled", json{{"ek_issuer", h.ek_issuer}}.dump()});
    if (!record("enrolment", h.id, "",
                json{{"ek_issuer", h.ek_issuer},
                     {"ek_public_sha256", sha256_hex(h.ek_public)},
                     {"ak_public_sha256", sha256_hex(h.ak_public)},
                     {"tls_fingerprint", h.tls_fingerprint}}))
      return fail(503, "the audit log is unavailable; enrolment not recorded");
    log::info("host enrolled", {{"host", h.id}, {"ek_issuer", h.ek_issuer}});
    return reply(200, json{{"host_id", h.id},
                           {"certificate", *cert},
                           {"ca", ca_pem_},
                           {"interval_ms", opts_.interval_ms}});
  }

  // ---- attestation ---------------------------------------------------------------------------
  Result<HostRecord> enrolled_host(const std::string& id, const Request& r) {
    auto h = store_->host(id);
    if (!h) return std::move(h).error();
    if (!*h) return Error(ErrorCode::kNotFound, "host " + id + " is not enrolled");
    if ((*h)->tls_fingerprint != r.peer_fingerprint) {
      return Error(ErrorCode::kInvalidArgument, "this certificate is not the one issued to " + id);
    }
    return std::move(**h);
  }

  Response challenge(const std::string& id, const Request& r) {
    auto h = enrolled_host(id, r);
    if (!h) return fail(h.error().code() == ErrorCode::kNotFound ? 404 : 403, h.error().message());
    OutstandingChallenge c;
    c.challenge.nonce = crypto::random_bytes(32);
    c.challenge.bank = opts_.bank;
    c.challenge.pcr_mask = opts_.pcr_mask;
    c.challenge.ima_offset = needs_full_ima_list(*h) ? 0 : h->ima_entries;
    c.expires_ms = now_ms() + std::max(30'000, 5 * opts_.interval_ms);
    json pcrs = json::array();
    for (uint32_t i = 0; i < 24; ++i) {
      if ((opts_.pcr_mask >> i) & 1) pcrs.push_back(i);
    }
    json out{{"nonce", crypto::base64_encode(c.challenge.nonce)},
             {"bank", std::string(crypto::hash_alg_name(opts_.bank))},
             {"pcrs", pcrs},
             {"ima_offset", c.challenge.ima_offset},
             {"time_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count()},
             {"interval_ms", opts_.interval_ms}};
    std::lock_guard lock(mu_);
    challenges_[id] = std::move(c);  // one outstanding challenge per host
    return reply(200, out);
  }

  Response evidence(const std::string& id, const Request& r, const json& b) {
    auto nonce = b64_field(b, "nonce", 128);
    if (!nonce) return fail(400, nonce.error().message());
    Evidence ev;
    if (!b.contains("quote") || !b["quote"].is_object())
      return fail(400, "\"quote\" must be an object");
    auto attest = b64_field(b["quote"], "attest", 4096);
    auto sig = b64_field(b["quote"], "signature", 4096);
    if (!attest) return fail(400, "quote: " + attest.error().message());
    if (!sig) return fail(400, "quote: " + sig.error().message());
    ev.quote_attest = std::move(*attest);
    ev.quote_signature = std::move(*sig);
    if (!b.contains("pcrs") || !b["pcrs"].is_object())
      return fail(400, "\"pcrs\" must be an object {\"0\": \"<hex>\"}");
    for (const auto& [k, v] : b["pcrs"].items()) {
      uint32_t pcr = 0;
      if (k.empty() || k.size() > 2 || k.find_first_not_of("0123456789") != std::string::npos ||
          (pcr = static_cast<uint32_t>(std::stoul(k))) >= 24 || !v.is_string()) {
        return fail(400, "\"pcrs\": bad entry \"" + k + "\"");
      }
      auto bytes = from_hex(v.get<std::string>());
      if (!bytes) return fail(400, "\"pcrs\": PCR " + k + ": " + bytes.error().message());
      ev.pcrs[pcr] = std::move(*bytes);
    }
    auto log_bytes = b64_field(b, "event_log", 16 << 20);
    if (!log_bytes) return fail(400, log_bytes.error().message());
    ev.event_log = std::move(*log_bytes);
    if (b.contains("ima")) {
      if (!b["ima"].is_object()) return fail(400, "\"ima\" must be an object");
      auto entries = str_field(b["ima"], "entries", 32 << 20);
      if (!entries) return fail(400, "ima: " + entries.error().message());
      ev.ima_entries = std::move(*entries);
      if (!b["ima"].contains("offset") || !b["ima"]["offset"].is_number_unsigned()) {
        return fail(400, "ima: \"offset\" must be a non-negative integer");
      }
      ev.ima_offset = b["ima"]["offset"].get<uint64_t>();
    }
    std::vector<std::string> flow_lines;
    if (b.contains("host_flows")) {
      const json& hf = b["host_flows"];
      if (!hf.is_object() || !hf.contains("lines") || !hf["lines"].is_array() ||
          hf["lines"].size() > kMaxFlowLinesPerRound)
        return fail(400, "\"host_flows\": {\"lines\": [...]} with at most " +
                             std::to_string(kMaxFlowLinesPerRound) + " lines");
      for (const auto& l : hf["lines"]) {
        if (!l.is_string() || l.get_ref<const std::string&>().size() > 4096)
          return fail(400, "\"host_flows\": each line is a string of at most 4096 bytes");
        flow_lines.push_back(l.get<std::string>());
      }
    }
    std::optional<posture::Posture> reported_posture;
    if (b.contains("posture")) {
      if (!b["posture"].is_object()) return fail(400, "\"posture\" must be an object");
      auto p = posture::from_json(b["posture"]);
      if (!p) return fail(400, "posture: " + p.error().message());
      reported_posture = std::move(*p);
    }
    // The challenge is consumed whatever happens next: a nonce is good for one quote.
    Challenge ch;
    {
      std::lock_guard lock(mu_);
      auto it = challenges_.find(id);
      if (it == challenges_.end() || it->second.expires_ms < now_ms() ||
          !crypto::equal_ct(it->second.challenge.nonce, *nonce)) {
        if (it != challenges_.end() && crypto::equal_ct(it->second.challenge.nonce, *nonce))
          challenges_.erase(it);
        log::warn("evidence refused: unknown, used or expired nonce", {{"host", id}});
        return fail(409, "unknown, used or expired nonce: ask for a new challenge");
      }
      ch = std::move(it->second.challenge);
      challenges_.erase(it);
    }
    std::lock_guard lock(hosts_mu_);
    auto h = enrolled_host(id, r);
    if (!h) return fail(h.error().code() == ErrorCode::kNotFound ? 404 : 403, h.error().message());
    std::optional<References> refs;
    if (auto doc = store_->reference("default"); doc && *doc) {
      auto parsed = References::from_json(**doc);
      if (parsed) refs = std::move(*parsed);
    }
    policy::PolicyPtr pol = current_policy();
    // A measured-boot policy judges the log event by event; PCR reference values are then an
    // extra requirement only where they exist.
    if (!refs && pol && pol->measured_boot) {
      refs.emplace();
      refs->name = "none (measured-boot policy in force)";
      refs->bank = ch.bank;
    }
    Verdict v = appraise(*h, ch, ev, refs ? &*refs : nullptr);
    HostRecord& host = *h;
    std::optional<bool> boot_ok, runtime_ok;
    std::vector<policy::ImaFailure> new_ima_failures;
    if (v.evidence_valid && pol)
      apply_policy(*pol, host, ev, v, &boot_ok, &runtime_ok, &new_ima_failures);
    std::vector<posture::PostureChange> new_changes;
    if (v.evidence_valid && reported_posture)
      apply_posture(host, *reported_posture, v, &new_changes);
    int64_t now = now_ms();
    HostState old_state = host.state;
    if (v.evidence_valid) {
      if (v.rebooted) {
        (void)store_->append_event(
            {0, id, now, "reboot",
             json{{"reset_count", v.reset_count}, {"restart_count", v.restart_count}}.dump()});
      }
      host.have_clock = true;
      host.clock = v.clock;
      host.reset_count = v.reset_count;
      host.restart_count = v.restart_count;
      host.ima_entries = v.ima_entries;
      host.ima_pcr10_json =
          json{{std::string(crypto::hash_alg_name(ch.bank)), v.ima_pcr10_hex}}.dump();
      json pcrs = json::object();
      for (const auto& [pcr, hex] : v.pcrs_hex) pcrs[std::to_string(pcr)] = hex;
      host.pcrs_json = json{{std::string(crypto::hash_alg_name(ch.bank)), pcrs}}.dump();
      host.last_attested_at_ms = now;
    }
    ++host.attestations;
    host.state = v.trusted ? HostState::kTrusted : HostState::kUntrusted;
    host.reasons = v.reasons;
    if (host.state != old_state) {
      host.state_changed_at_ms = now;
      (void)store_->append_event({0, id, now, "state",
                                  json{{"from", store::host_state_name(old_state)},
                                       {"to", store::host_state_name(host.state)},
                                       {"reasons", v.reasons}}
                                      .dump()});
      if (host.state == HostState::kTrusted) {
        log::info("host trusted", {{"host", id}});
      } else {
        log::warn("host untrusted",
                  {{"host", id}, {"reason", v.reasons.empty() ? "" : v.reasons.front()}});
      }
    }
    if (v.evidence_valid && !flow_lines.empty()) keep_host_flows(id, flow_lines);
    // The decision is on disk in the audit log before anyone hears of it.
    json reasons = json::array();
    for (size_t i = 0; i < v.reasons.size() && i < 20; ++i) reasons.push_back(v.reasons[i]);
    auto index = record("attestation", id, "",
                        json{{"trusted", v.trusted},
                             {"evidence_valid", v.evidence_valid},
                             {"reasons", reasons},
                             {"nonce_sha256", sha256_hex(ch.nonce)},
                             {"quote_sha256", sha256_hex(ev.quote_attest)},
                             {"ima_entries", host.ima_entries}});
    if (!index) return fail(503, "the audit log is unavailable; evidence not recorded");
    if (host.state != old_state) {
      (void)record("admission", id, "",
                   json{{"from", store::host_state_name(old_state)},
                        {"to", store::host_state_name(host.state)},
                        {"allowed", admitted(host)}});
    }
    host.result_jwt = sign_result(host, v, ch, boot_ok, runtime_ok);
    if (auto st = store_->put_host(host); !st) return fail(500, st.error().message());
    if (host.state == HostState::kUntrusted && old_state != HostState::kUntrusted &&
        old_state != HostState::kEnrolling)
      report_finding(untrusted_finding(host, old_state, findings::Severity::kHigh));
    if (!new_ima_failures.empty()) report_finding(ima_finding(host, new_ima_failures));
    for (const auto& c : new_changes) report_finding(posture_finding(host, c));
    return reply(200, json{{"state", store::host_state_name(host.state)},
                           {"reasons", host.reasons},
                           {"allowed", admitted(host)},
                           {"log_index", *index},
                           {"interval_ms", opts_.interval_ms}});
  }

  // ---- the approved policy: measured boot event by event, IMA against a runtime policy -------
  policy::PolicyPtr current_policy() {
    std::lock_guard lock(policy_ptr_mu_);
    return policy_;
  }

  // The runtime policy's appraisal is behind the host's list (a policy approved since, or
  // replaced): the agent must send the whole list once.
  bool needs_full_ima_list(const HostRecord& h) {
    policy::PolicyPtr pol = current_policy();
    if (!pol || !pol->runtime || h.ima_entries == 0) return false;
    auto st = policy::ImaAppraisalState::deserialize(h.ima_policy_state);
    return !st || st->entries < h.ima_entries || st->policy_sha256 != pol->runtime->source_sha256();
  }

  // Adds the policy's verdicts to `v` and advances the host's incremental IMA appraisal.
  void apply_policy(const policy::Policy& pol, HostRecord& host, const Evidence& ev, Verdict& v,
                    std::optional<bool>* boot_ok, std::optional<bool>* runtime_ok,
                    std::vector<policy::ImaFailure>* new_failures) {
    if (pol.measured_boot) {
      auto mb = policy::check_event_log(pol, ev.event_log);
      if (!mb) {
        v.reasons.push_back("measured-boot policy: " + mb.error().message());
        *boot_ok = false;
      } else {
        *boot_ok = mb->ok();
        for (size_t i = 0; i < mb->failures.size() && i < 10; ++i) {
          const auto& f = mb->failures[i];
          v.reasons.push_back("measured-boot policy: event " + std::to_string(f.event) + " (" +
                              f.type + ", PCR " + std::to_string(f.pcr) + ", " + f.stage +
                              "): " + f.reason);
        }
      }
    }
    if (pol.runtime) {
      policy::ImaAppraisalState state;
      // A reboot starts a new list; a whole list (offset 0) or another policy starts afresh.
      if (!v.rebooted && ev.ima_offset != 0 && !host.ima_policy_state.empty()) {
        auto st = policy::ImaAppraisalState::deserialize(host.ima_policy_state);
        if (st && st->policy_sha256 == pol.runtime->source_sha256()) state = std::move(*st);
      }
      policy::ImaAppraisalOptions options;
      options.banks = {};  // appraise() already replayed PCR 10 against the quote
      policy::ImaAppraiser appraiser(pol.runtime, options, std::move(state));
      auto r = appraiser.appraise(
          Bytes(reinterpret_cast<const uint8_t*>(ev.ima_entries.data()), ev.ima_entries.size()),
          ev.ima_offset);
      if (!r) {
        v.reasons.push_back("IMA runtime policy: cannot appraise the new entries: " +
                            r.error().message());
        *runtime_ok = false;
      } else {
        host.ima_policy_state = appraiser.state().serialize();
        *new_failures = r->failures;
        const auto& all = appraiser.state();
        *runtime_ok = all.failure_count == 0;
        // The list is append-only: a file that broke policy keeps the host untrusted until it
        // reboots.
        for (size_t i = 0; i < all.failures.size() && i < 10; ++i) {
          const auto& f = all.failures[i];
          v.reasons.push_back("IMA runtime policy: entry " + std::to_string(f.index) + " " +
                              f.path + " " + f.digest + ": " + f.reason);
        }
        if (all.failure_count > all.failures.size() && all.failures.size() >= 10)
          v.reasons.push_back("IMA runtime policy: " + std::to_string(all.failure_count) +
                              " failures in all");
      }
    }
    v.trusted = v.evidence_valid && v.reasons.empty();
  }

  // Posture is judged against the host's baseline (the first posture it reported, or the one
  // an operator accepted since): a high-severity change (ME leaving HAP, a BMC appearing,
  // microcode rolled back) keeps the host untrusted until accepted. `new_changes` are those
  // not seen in the previous report, for findings.
  void apply_posture(HostRecord& host, const posture::Posture& now, Verdict& v,
                     std::vector<posture::PostureChange>* new_changes) {
    json stored = json::parse(host.posture_json.empty() ? "{}" : host.posture_json, nullptr, false);
    if (!stored.is_object()) stored = json::object();
    json now_json = posture::to_json(now);
    if (!stored.contains("baseline")) {
      if (sovereignty_) judge_sovereignty(host, now, {}, v, new_changes);
      stored["baseline"] = now_json;
      stored["latest"] = now_json;
      host.posture_json = stored.dump();
      return;
    }
    auto baseline = posture::from_json(stored["baseline"]);
    auto latest = posture::from_json(stored.value("latest", stored["baseline"]));
    if (!baseline || !latest) {
      stored["baseline"] = now_json;
    } else {
      std::set<std::string> before;
      for (const auto& c : posture::compare_posture(*baseline, *latest)) before.insert(c.kind);
      for (const auto& c : posture::compare_posture(*baseline, now)) {
        if (c.severity >= posture::Severity::kHigh)
          v.reasons.push_back("posture: " + c.message + " (accept it with POST /v1/hosts/" +
                              host.id + "/posture/accept)");
        if (!before.count(c.kind)) new_changes->push_back(c);
      }
      v.trusted = v.evidence_valid && v.reasons.empty();
    }
    if (sovereignty_) judge_sovereignty(host, now, latest_denials(stored), v, new_changes);
    stored["latest"] = now_json;
    host.posture_json = stored.dump();
  }

  // The deny rules the host's previous report broke: a finding is raised when a rule starts
  // to deny, not at every attestation while it does.
  std::set<std::string> latest_denials(const json& stored) const {
    std::set<std::string> out;
    if (!stored.contains("latest")) return out;
    auto latest = posture::from_json(stored["latest"]);
    if (!latest) return out;
    for (const auto& h : posture::evaluate_policy(*sovereignty_, *latest).hits)
      if (h.effect == "deny") out.insert(h.name);
    return out;
  }

  // The sovereignty policy: a deny keeps the host untrusted, naming the rule; warnings are
  // logged. A rule that starts to deny is a posture finding.
  void judge_sovereignty(const HostRecord& host, const posture::Posture& now,
                         const std::set<std::string>& denied_before, Verdict& v,
                         std::vector<posture::PostureChange>* new_changes) {
    for (const auto& h : posture::evaluate_policy(*sovereignty_, now).hits) {
      std::string what = "sovereignty policy: " + h.effect + " \"" + h.name + "\" (line " +
                         std::to_string(h.line) + ")" + (h.detail.empty() ? "" : ": " + h.detail);
      if (h.effect != "deny") {
        log::warn("sovereignty warning", {{"host", host.id}, {"rule", h.name}});
        continue;
      }
      v.reasons.push_back(what);
      if (!denied_before.count(h.name))
        new_changes->push_back({"sovereignty_denied", posture::Severity::kHigh, what});
    }
    v.trusted = v.evidence_valid && v.reasons.empty();
  }

  static findings::Finding posture_finding(const HostRecord& h, const posture::PostureChange& c) {
    findings::Finding f;
    f.kind = findings::Kind::kPostureChange;
    f.severity = c.severity >= posture::Severity::kCritical ? findings::Severity::kCritical
                 : c.severity >= posture::Severity::kHigh   ? findings::Severity::kHigh
                 : c.severity >= posture::Severity::kMedium ? findings::Severity::kMedium
                 : c.severity >= posture::Severity::kLow    ? findings::Severity::kLow
                                                            : findings::Severity::kInformational;
    f.host_id = h.id;
    f.host_name = h.id;
    f.title = h.id + ": " + c.message;
    f.message = c.message;
    f.evidence_generation = h.attestations;
    f.policy_id = "ironroot:posture";
    f.evidence = {{"change", c.kind}, {"severity", posture::severity_name(c.severity)}};
    return f;
  }

  // An operator accepts the host's current posture as its new baseline.
  Response accept_posture(const std::string& id, const Principal& who) {
    std::lock_guard lock(hosts_mu_);
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    HostRecord host = **h;
    json stored = json::parse(host.posture_json.empty() ? "{}" : host.posture_json, nullptr, false);
    if (!stored.is_object() || !stored.contains("latest"))
      return fail(409, "host " + id + " has not reported its posture");
    if (!record("posture.accepted", id, who.name, json::object()))
      return fail(503, "the audit log is unavailable; nothing changed");
    stored["baseline"] = stored["latest"];
    host.posture_json = stored.dump();
    if (auto st = store_->put_host(host); !st) return fail(500, st.error().message());
    return reply(200, json{{"host", id}, {"posture", "accepted as the new baseline"}});
  }

  static findings::Finding ima_finding(const HostRecord& h,
                                       const std::vector<policy::ImaFailure>& failures) {
    findings::Finding f;
    f.kind = findings::Kind::kPolicyViolation;
    f.severity = findings::Severity::kHigh;
    f.host_id = h.id;
    f.host_name = h.id;
    const auto& first = failures.front();
    f.title = h.id + " ran " + first.path + " (" + first.reason + ")";
    for (const auto& x : failures) f.message += x.path + " " + x.digest + ": " + x.reason + "\n";
    f.evidence_generation = h.attestations;
    f.policy_id = "ironroot:policy";
    f.policy_name = "IMA runtime policy";
    for (size_t i = 0; i < failures.size() && i < 10; ++i) {
      f.evidence.push_back({"path", failures[i].path});
      f.evidence.push_back({"digest", failures[i].digest});
      f.evidence.push_back({"reason", failures[i].reason});
    }
    return f;
  }

  // ---- operators and relying parties ---------------------------------------------------------
  Response list_hosts() {
    auto hosts = store_->hosts();
    if (!hosts) return fail(500, hosts.error().message());
    json out = json::array();
    int64_t now = now_ms();
    for (const auto& h : *hosts) out.push_back(host_json(h, now));
    return reply(200, json{{"hosts", out}});
  }

  Response get_host(const std::string& id) {
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    return reply(200, host_json(**h, now_ms()));
  }

  static bool admitted(const HostRecord& h) {
    return h.state == HostState::kTrusted && !h.quarantined;
  }

  Response delete_host(const std::string& id, const Principal& who) {
    std::lock_guard lock(hosts_mu_);
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    if (auto st = store_->delete_host(id); !st) return fail(500, st.error().message());
    (void)store_->append_event({0, id, now_ms(), "deleted", "{}"});
    (void)record("host.deleted", id, who.name, json::object());
    return reply(200, json{{"deleted", id}});
  }

  // An operator lifts a quarantine (after looking at the host); trust still needs evidence.
  Response release(const std::string& id, const Principal& who, const json& b) {
    std::lock_guard lock(hosts_mu_);
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    HostRecord host = **h;
    if (!host.quarantined) return fail(409, "host " + id + " is not quarantined");
    auto index = record(
        "quarantine.released", id, who.name,
        json{{"reason", host.quarantine_reason}, {"comment", b.value("comment", std::string())}});
    if (!index) return fail(503, "the audit log is unavailable; nothing changed");
    host.quarantined = false;
    host.quarantine_reason.clear();
    if (auto st = store_->put_host(host); !st) return fail(500, st.error().message());
    return reply(200, json{{"host", id}, {"quarantined", false}, {"allowed", admitted(host)}});
  }

  Response admission(const std::string& id) {
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h)
      return reply(404, json{{"host", id}, {"allowed", false}, {"reasons", {"not enrolled"}}});
    const auto& host = **h;
    json reasons = host.reasons;
    if (host.quarantined) reasons.push_back("quarantined: " + host.quarantine_reason);
    return reply(200, json{{"host", id},
                           {"allowed", admitted(host)},
                           {"state", store::host_state_name(host.state)},
                           {"quarantined", host.quarantined},
                           {"reasons", reasons},
                           {"last_attested_at_ms", host.last_attested_at_ms}});
  }

  Response host_events(const std::string& id) {
    auto evs = store_->events(id, 100);
    if (!evs) return fail(500, evs.error().message());
    json out = json::array();
    for (const auto& e : *evs) {
      out.push_back({{"at_ms", e.at_ms},
                     {"kind", e.kind},
                     {"detail", json::parse(e.detail_json, nullptr, false)}});
    }
    return reply(200, json{{"host", id}, {"events", out}});
  }

  // Proposes host `host`'s verified PCR values as reference values (merged with those in force
  // when approved, so a second golden host adds another hardware model or firmware version).
  Response capture(const json& b, const Principal& who) {
    auto id = str_field(b, "host", 64);
    if (!id) return fail(400, id.error().message());
    auto h = store_->host(*id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + *id);
    if ((*h)->last_attested_at_ms == 0) return fail(409, "host " + *id + " has not attested yet");
    std::vector<uint32_t> pcrs = {0, 1, 2, 3, 4, 5, 6, 7};
    if (b.contains("pcrs")) {
      if (!b["pcrs"].is_array()) return fail(400, "\"pcrs\" must be a list of PCR indices");
      pcrs.clear();
      for (const auto& p : b["pcrs"]) {
        if (!p.is_number_unsigned() || p.get<uint32_t>() >= 24)
          return fail(400, "\"pcrs\": PCR indices are 0-23");
        pcrs.push_back(p.get<uint32_t>());
      }
    }
    json stored = json::parse((*h)->pcrs_json, nullptr, false);
    const std::string bank(crypto::hash_alg_name(opts_.bank));
    if (!stored.is_object() || !stored.contains(bank))
      return fail(409, "no verified " + bank + " PCR values for " + *id);
    References refs;
    refs.name = "golden:" + *id;
    refs.bank = opts_.bank;
    for (uint32_t pcr : pcrs) {
      auto key = std::to_string(pcr);
      if (!stored[bank].contains(key)) return fail(409, "PCR " + key + " was not quoted by " + *id);
      refs.allowed[pcr].push_back(stored[bank][key].get<std::string>());
    }
    return propose(b.value("replace", false) ? "references.replace" : "references.merge",
                   refs.to_json(), who, "capture of " + *id);
  }

  Response set_references(const json& b, const Principal& who) {
    auto refs = References::from_json(b.dump());
    if (!refs) return fail(400, refs.error().message());
    if (refs->bank != opts_.bank)
      return fail(400, "reference values must be for the " +
                           std::string(crypto::hash_alg_name(opts_.bank)) +
                           " bank this verifier quotes");
    return propose("references.replace", refs->to_json(), who, "reference values set");
  }

  // ---- dual control: a change waits for a second principal with the approver role ----------
  // A change with its document inline when it is small; a large one (a fleet's runtime policy)
  // is described by size and digest, and served whole at .../changes/{id}/document, so that
  // listing changes never parses or sends hundreds of megabytes.
  static constexpr size_t kInlineDocumentBytes = size_t{1} << 20;
  static json change_json(const store::PolicyChange& c) {
    json out{{"id", c.id},
             {"kind", c.kind},
             {"author", c.author},
             {"created_at_ms", c.created_at_ms},
             {"state", c.state},
             {"decided_by", c.decided_by},
             {"decided_at_ms", c.decided_at_ms},
             {"comment", c.comment},
             {"document_bytes", c.document_bytes}};
    if (c.document_bytes <= kInlineDocumentBytes) {
      out["document"] = json::parse(c.document, nullptr, false);
    } else {
      out["document_url"] = "/v1/policy/changes/" + c.id + "/document";
    }
    return out;
  }

  Response change_document(const std::string& id) {
    auto changes = store_->policy_changes(id, 1);
    if (!changes) return fail(500, changes.error().message());
    if (changes->empty()) return fail(404, "no policy change " + id);
    return Response{200, "application/json", std::move(changes->front().document), {}};
  }

  Response propose(const std::string& kind, const std::string& document, const Principal& who,
                   const std::string& comment) {
    store::PolicyChange c{
        crypto::random_token(8), kind, document, who.name, now_ms(), "pending", "", 0, comment,
        document.size()};
    if (!record("policy.proposed", "", who.name,
                json{{"change", c.id},
                     {"kind", kind},
                     {"document_sha256",
                      sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(document.data()),
                                       document.size()))},
                     {"comment", comment}}))
      return fail(503, "the audit log is unavailable; nothing proposed");
    if (auto st = store_->put_policy_change(c); !st) return fail(500, st.error().message());
    log::info("policy change proposed", {{"change", c.id}, {"author", who.name}, {"kind", kind}});
    return reply(202, json{{"change", change_json(c)},
                           {"next", "a principal with the approver role other than " + who.name +
                                        " approves it: ironroot policy approve " + c.id}});
  }

  Response list_changes(const std::string& id) {
    auto changes = store_->policy_changes(id, 100, kInlineDocumentBytes);
    if (!changes) return fail(500, changes.error().message());
    if (!id.empty()) {
      if (changes->empty()) return fail(404, "no policy change " + id);
      return reply(200, change_json(changes->front()));
    }
    json out = json::array();
    for (const auto& c : *changes) out.push_back(change_json(c));
    return reply(200, json{{"changes", out}});
  }

  Response decide(const std::string& id, bool approve, const Principal& who, const json& b) {
    std::lock_guard lock(policy_mu_);
    auto changes = store_->policy_changes(id, 1);
    if (!changes) return fail(500, changes.error().message());
    if (changes->empty()) return fail(404, "no policy change " + id);
    store::PolicyChange c = changes->front();
    if (c.state != "pending") return fail(409, "change " + id + " is already " + c.state);
    if (c.author == who.name) {
      (void)record("policy.self_approval_refused", "", who.name, json{{"change", id}});
      return fail(403, "dual control: " + who.name +
                           " proposed this change and cannot also approve or reject it");
    }
    c.state = approve ? "approved" : "rejected";
    c.decided_by = who.name;
    c.decided_at_ms = now_ms();
    if (b.contains("comment") && b["comment"].is_string()) c.comment = b["comment"];
    if (approve) {
      if (auto st = apply_change(c); !st) return fail(409, st.error().message());
    }
    if (!record(approve ? "policy.approved" : "policy.rejected", "", who.name,
                json{{"change", id}, {"kind", c.kind}, {"author", c.author}}))
      return fail(503, "the audit log is unavailable");
    if (auto st = store_->put_policy_change(c); !st) return fail(500, st.error().message());
    log::info(approve ? "policy change approved" : "policy change rejected",
              {{"change", id}, {"by", who.name}});
    return reply(200, change_json(c));
  }

  Status apply_change(const store::PolicyChange& c) {
    if (c.kind == "references.replace" || c.kind == "references.merge") {
      IRONROOT_ASSIGN_OR_RETURN(References refs, References::from_json(c.document));
      if (c.kind == "references.merge") {
        if (auto doc = store_->reference("default"); doc && *doc) {
          auto old = References::from_json(**doc);
          if (old && old->bank == refs.bank) {
            for (const auto& [pcr, values] : old->allowed) {
              auto& list = refs.allowed[pcr];
              for (const auto& v : values) {
                if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
              }
            }
            refs.name = old->name + "+" + refs.name;
          }
        }
      }
      return store_->put_reference("default", refs.to_json(), "change " + c.id + " by " + c.author);
    }
    if (c.kind == "policy") {
      IRONROOT_ASSIGN_OR_RETURN(
          policy::PolicyPtr p,
          policy::load_policy(
              Bytes(reinterpret_cast<const uint8_t*>(c.document.data()), c.document.size())));
      IRONROOT_RETURN_IF_ERROR(
          store_->put_reference(kPolicyName, c.document, "change " + c.id + " by " + c.author));
      std::lock_guard lock(policy_ptr_mu_);
      policy_ = std::move(p);
      return {};
    }
    return invalid_argument("unknown change kind " + c.kind);
  }

  // ---- the audit log, for auditors ---------------------------------------------------------
  Response log_endpoint(const std::vector<std::string>& seg,
                        const std::map<std::string, std::string>& q) {
    const std::string what = seg.size() == 3 ? seg[2] : "";
    if (what == "checkpoint") return Response{200, "text/plain", journal_->checkpoint(), {}};
    if (what == "key")
      return reply(200, json{{"verifier_key", journal_->verifier_key()},
                             {"origin", journal_->origin()},
                             {"size", journal_->size()}});
    if (what == "entries") {
      auto start = query_u64(q, "start");
      auto end = query_u64(q, "end");
      if (!start || !end) return fail(400, "use /v1/log/entries?start=N&end=M (at most 1000)");
      auto entries = journal_->entries(*start, *end);
      if (!entries) return fail(400, entries.error().message());
      return reply(200, json{{"start", *start}, {"entries", *entries}});
    }
    if (what == "inclusion") {
      auto index = query_u64(q, "index");
      auto size = query_u64(q, "size");
      if (!index || !size) return fail(400, "use /v1/log/inclusion?index=N&size=M");
      auto proof = journal_->inclusion_proof(*index, *size);
      if (!proof) return fail(400, proof.error().message());
      auto entry = journal_->entries(*index, *index + 1);
      return reply(200, json{{"index", *index},
                             {"size", *size},
                             {"entry", entry && !entry->empty() ? entry->front() : ""},
                             {"proof", audit::encode_proof(*proof)}});
    }
    if (what == "consistency") {
      auto from = query_u64(q, "from");
      auto to = query_u64(q, "to");
      if (!from || !to) return fail(400, "use /v1/log/consistency?from=N&to=M");
      auto proof = journal_->consistency_proof(*from, *to);
      if (!proof) return fail(400, proof.error().message());
      return reply(200, json{{"from", *from}, {"to", *to}, {"proof", audit::encode_proof(*proof)}});
    }
    return fail(404, "the log serves checkpoint, key, entries, inclusion and consistency");
  }

  // Host-side flow accounting from the agent, for the network sensor: in the store (one
  // transaction per attestation), the latest kMaxFlowLines lines per host, numbered so that a
  // sensor can follow them across verifier restarts. Losing them costs the sensor coverage, not
  // the attestation its verdict: a failure is logged, not returned.
  void keep_host_flows(const std::string& id, const std::vector<std::string>& lines) {
    auto st = store_->append_host_flows(id, lines, kMaxFlowLines);
    if (!st) log::error("cannot store host flows", {{"host", id}, {"error", st.error().message()}});
  }

  // GET /v1/hosts/{id}/host-flows?since=N: JSON lines from number N on (the sensor's
  // --host-flows format); X-Ironroot-Next says where to continue.
  Response host_flow_lines(const std::string& id, const std::map<std::string, std::string>& q) {
    uint64_t since = 0;
    if (q.count("since")) {
      auto n = query_u64(q, "since");
      if (!n) return fail(400, n.error().message());
      since = *n;
    }
    auto f = store_->host_flows(id, since, kMaxFlowReplyBytes);
    if (!f) return fail(500, f.error().message());
    if (!*f) return fail(404, "no host flows from " + id + " (agent --host-flows)");
    std::string body;
    for (const auto& l : (*f)->lines) body += l + "\n";
    return Response{200,
                    "application/x-ndjson",
                    std::move(body),
                    {{"X-Ironroot-Next", std::to_string((*f)->next_seq)},
                     {"X-Ironroot-First", std::to_string((*f)->first_seq)}}};
  }

  Response host_posture(const std::string& id) {
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    json stored =
        json::parse((*h)->posture_json.empty() ? "{}" : (*h)->posture_json, nullptr, false);
    if (!stored.is_object() || !stored.contains("latest"))
      return fail(404, "host " + id + " has not reported its posture");
    return reply(200, stored);
  }

  // The host's last attestation result, a signed EAR (JWT): `ironroot result verify` checks it.
  Response host_result(const std::string& id) {
    auto h = store_->host(id);
    if (!h) return fail(500, h.error().message());
    if (!*h) return fail(404, "no host " + id);
    if ((*h)->result_jwt.empty()) return fail(404, "host " + id + " has no attestation result yet");
    return Response{200, "application/jwt", (*h)->result_jwt, {}};
  }

  // A policy document (ironroot's, or a Keylime runtime policy): checked now, so that a bad
  // one is refused at once and the policy in force stays; in force once approved.
  Response set_policy_document(const std::string& text, const Principal& who) {
    auto p = policy::load_policy(Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    if (!p)
      return fail(400, "policy refused (the policy in force is unchanged): " + p.error().message());
    return propose("policy", (*p)->to_json(), who, "policy document");
  }

  Response get_policy_document() {
    auto doc = store_->reference(kPolicyName);
    if (!doc) return fail(500, doc.error().message());
    if (!*doc) return fail(404, "no policy document in force");
    return Response{200, "application/json", **doc, {}};
  }

  Response get_references() {
    auto doc = store_->reference("default");
    if (!doc) return fail(500, doc.error().message());
    if (!*doc) return fail(404, "no reference values yet");
    return reply(200, json::parse(**doc));
  }

  // ---- background: expiry and unreachable hosts ----------------------------------------------
  void expire_locked(int64_t now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      it = it->second.expires_ms < now ? pending_.erase(it) : std::next(it);
    }
    for (auto it = challenges_.begin(); it != challenges_.end();) {
      it = it->second.expires_ms < now ? challenges_.erase(it) : std::next(it);
    }
  }

  void tick_loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(std::max(100, opts_.interval_ms / 2)));
      if (stopping_) break;
      expire_locked(now_ms());
      lock.unlock();
      mark_unreachable();
      lock.lock();
    }
  }

  void mark_unreachable() {
    std::lock_guard lock(hosts_mu_);
    auto hosts = store_->hosts();
    if (!hosts) return;
    int64_t now = now_ms();
    int64_t limit = static_cast<int64_t>(opts_.interval_ms) * opts_.unreachable_after_intervals;
    for (auto& h : *hosts) {
      if (h.state == HostState::kUnreachable) continue;
      int64_t last = h.last_attested_at_ms ? h.last_attested_at_ms : h.state_changed_at_ms;
      if (now - last <= limit) continue;
      HostState old = h.state;
      h.state = HostState::kUnreachable;
      h.reasons = {"no valid attestation for " + std::to_string((now - last) / 1000) +
                   " s (limit " + std::to_string(limit / 1000) + " s)"};
      h.state_changed_at_ms = now;
      (void)store_->put_host(h);
      (void)store_->append_event(
          {0, h.id, now, "state",
           json{{"from", store::host_state_name(old)}, {"to", "unreachable"}}.dump()});
      (void)record("admission", h.id, "",
                   json{{"from", store::host_state_name(old)},
                        {"to", "unreachable"},
                        {"allowed", false},
                        {"reasons", h.reasons}});
      log::warn("host unreachable", {{"host", h.id}});
      report_finding(untrusted_finding(h, old, findings::Severity::kMedium));
    }
  }

  VerifierOptions opts_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<net::HttpsServer> server_;
  tpm2::CaBundle ek_cas_;
  std::string ca_key_, ca_pem_, token_, approver_token_;
  std::unique_ptr<PrincipalDirectory> principals_;
  std::unique_ptr<audit::Journal> journal_;
  std::unique_ptr<findings::Dispatcher> dispatcher_;
  std::unique_ptr<ear::SigningKey> ear_key_;
  std::optional<posture::Policy> sovereignty_;  // set at start, read-only after
  std::mutex policy_ptr_mu_;
  policy::PolicyPtr policy_;         // the approved policy document (policy_ptr_mu_), or null
  std::set<std::string> signed_in_;  // principals seen this run (mu_)
  std::mutex policy_mu_;             // one policy decision at a time
  std::mutex mu_;                    // pending_, challenges_, stopping_
  std::mutex hosts_mu_;              // read-modify-write of host records
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, PendingEnrollment> pending_;
  std::map<std::string, OutstandingChallenge> challenges_;
  std::thread ticker_;
};

}  // namespace

Result<std::unique_ptr<Verifier>> Verifier::start(const VerifierOptions& options) {
  if (options.data_dir.empty())
    return invalid_argument("the verifier needs a data directory (--data-dir)");
  auto v = std::make_unique<VerifierImpl>(options);
  IRONROOT_RETURN_IF_ERROR(v->init());
  return std::unique_ptr<Verifier>(std::move(v));
}

}  // namespace ironroot::verifier
