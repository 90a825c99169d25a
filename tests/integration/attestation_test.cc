// The attestation loop end to end with real software TPMs (swtpm processes), the real verifier
// over HTTPS with mutual TLS, and the real agent. Each test builds its own small fleet.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "audit/checkpoint.h"
#include "audit/journal.h"
#include "audit/note.h"
#include "crypto/base64.h"
#include "crypto/pki.h"
#include "ear/jwt.h"
#include "net/http.h"
#include "sensor/host_flows.h"
#include "sensor/reconcile.h"
#include "sensor/signatures.h"
#include "sim/host.h"
#include "sim/swtpm.h"
#include "support/corpus.h"
#include "tpmdev/tpm.h"
#include "verifier/principals.h"
#include "verifier/service.h"

namespace ironroot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool have_swtpm() {
  return testing::have_program("swtpm") && testing::have_program("swtpm_setup");
}

std::string read_file(const std::string& p) {
  return testing::read_text(p);
}

// A temporary directory removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "ironroot-it-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct TestHost {
  std::string id;
  std::unique_ptr<sim::Swtpm> tpm;
  std::unique_ptr<sim::SimulatedHost> sim;
  std::unique_ptr<agent::Agent> agent;
};

class Fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_swtpm()) GTEST_SKIP() << "swtpm / swtpm_setup not installed";
    auto ca = sim::LocalCa::create(dir_.path + "/tpm-ca");
    ASSERT_TRUE(ca) << ca.error().message();
    ca_ = std::make_unique<sim::LocalCa>(std::move(*ca));
    start_verifier(0);
  }

  void start_verifier(uint16_t port, std::vector<std::string> ek_cas = {}, int interval_ms = 1000) {
    verifier::VerifierOptions vo;
    vo.data_dir = dir_.path + "/verifier";
    vo.port = port;
    vo.interval_ms = interval_ms;
    vo.ek_ca_paths = ek_cas.empty() ? ca_->ca_files() : ek_cas;
    vo.findings_config = findings_config_;
    vo.sovereignty_policy = sovereignty_policy_;
    auto v = verifier::Verifier::start(vo);
    ASSERT_TRUE(v) << v.error().message();
    verifier_ = std::move(*v);
    operator_ = std::make_unique<net::HttpsClient>(
        "127.0.0.1", verifier_->port(), net::TlsClientConfig{verifier_->ca_pem(), "", "", ""});
  }

  TestHost& add_host(const std::string& id, const std::string& fw = "fw 1.0",
                     const sim::LocalCa* ca = nullptr) {
    TestHost h;
    h.id = id;
    auto t = sim::Swtpm::start({dir_.path + "/" + id + "/tpm", ca ? ca : ca_.get(), "sha1,sha256"});
    EXPECT_TRUE(t) << t.error().message();
    h.tpm = std::move(*t);
    h.sim = std::make_unique<sim::SimulatedHost>(dir_.path + "/" + id + "/sfs", id, fw);
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    EXPECT_TRUE(tpm) << tpm.error().message();
    auto st = h.sim->boot(**tpm);
    EXPECT_TRUE(st) << st.error().message();
    hosts_.push_back(std::move(h));
    return hosts_.back();
  }

  Result<std::unique_ptr<agent::Agent>> make_agent(TestHost& h, int watch_ms = 100) {
    std::ofstream(dir_.path + "/ca.pem") << verifier_->ca_pem();
    agent::AgentOptions ao;
    ao.verifier_url = "https://127.0.0.1:" + std::to_string(verifier_->port());
    ao.verifier_ca_file = dir_.path + "/ca.pem";
    ao.state_dir = dir_.path + "/" + h.id + "/agent";
    ao.host_id = h.id;
    ao.tcti = h.tpm->tcti();
    ao.eventlog_path = h.sim->eventlog_path();
    ao.ima_path = h.sim->ima_path();
    ao.posture_root = posture_root_;
    ao.watch_ms = watch_ms;
    ao.host_flows = host_flows_;
    return agent::Agent::create(ao);
  }

  void enroll(TestHost& h) {
    auto a = make_agent(h);
    ASSERT_TRUE(a) << a.error().message();
    h.agent = std::move(*a);
    auto st = h.agent->enroll();
    ASSERT_TRUE(st) << st.error().message();
  }

  agent::AttestResult attest(TestHost& h) {
    auto r = h.agent->attest_once();
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : agent::AttestResult{};
  }

  json op(const std::string& method, const std::string& target, const json& body = nullptr,
          int expect = 200) {
    return as(verifier_->operator_token(), method, target, body, expect);
  }

  json as(const std::string& token, const std::string& method, const std::string& target,
          const json& body = nullptr, int expect = 200) {
    auto r = operator_->request(method, target, body.is_null() ? "" : body.dump(),
                                {{"Authorization", "Bearer " + token}});
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << method << " " << target << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  json host(const std::string& id) { return op("GET", "/v1/hosts/" + id); }

  // A new verifier on the same data directory, with the fixture's options as they are now.
  void restart_verifier() {
    verifier_->stop();
    verifier_.reset();
    start_verifier(0);
  }

  // The host's admission, once remediation (asynchronous) has quarantined it, or after 5 s.
  json admission_once_quarantined(const std::string& id) {
    json adm;
    for (int i = 0; i < 100; ++i) {
      adm = op("GET", "/v1/hosts/" + id + "/admission");
      if (adm["quarantined"] == true) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return adm;
  }

  // Findings to <data-dir>/findings.jsonl, and a rule that quarantines a host on a high
  // sensor finding; the verifier restarts with it.
  void quarantine_on_high_sensor_findings() {
    findings_config_ = dir_.path + "/findings.json";
    std::ofstream(findings_config_) << json{
        {"sinks",
         {{{"type", "jsonl"}, {"name", "file"}, {"path", dir_.path + "/verifier/findings.jsonl"}}}},
        {"remediation",
         {{"actions", {{"quarantine", {{"type", "quarantine"}}}}},
          {"rules",
           {{{"kinds", {"sensor_finding"}},
             {"min_severity", "high"},
             {"actions", {"quarantine"}}}}}}}};
    restart_verifier();
  }

  // The agents read the platform below posture_root_: this sets the CPU they report.
  void write_cpuinfo(const std::string& model_name, const std::string& microcode) {
    posture_root_ = dir_.path + "/posture-root";
    fs::create_directories(posture_root_ + "/proc");
    std::ofstream(posture_root_ + "/proc/cpuinfo")
        << "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
        << "model name\t: " << model_name << "\nstepping\t: 7\nmicrocode\t: " << microcode << "\n";
  }

  // The findings file once it mentions `what` (sinks deliver asynchronously), or as it is.
  std::string findings_with(const std::string& what) {
    std::string text;
    for (int i = 0; i < 100; ++i) {
      text = read_file(dir_.path + "/verifier/findings.jsonl");
      if (text.find(what) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return text;
  }

  // The operator proposes the host's PCRs as reference values; the approver approves.
  void capture(const std::string& id) {
    json proposed = op("POST", "/v1/policy/capture", json{{"host", id}}, 202);
    ASSERT_TRUE(proposed.is_object());
    const std::string change = proposed["change"]["id"];
    json approved = as(verifier_->approver_token(), "POST",
                       "/v1/policy/changes/" + change + "/approve", json::object());
    EXPECT_EQ(approved["state"], "approved");
  }

  static std::string joined(const json& reasons) {
    std::string s;
    for (const auto& r : reasons) s += r.get<std::string>() + "\n";
    return s;
  }

  TempDir dir_;
  std::unique_ptr<sim::LocalCa> ca_;
  std::unique_ptr<verifier::Verifier> verifier_;
  std::unique_ptr<net::HttpsClient> operator_;
  std::deque<TestHost> hosts_;
  std::string posture_root_ = "/";
  bool host_flows_ = false;         // agents record and send host flows
  std::string findings_config_;     // the verifier's findings config (empty: the default sink)
  std::string sovereignty_policy_;  // the verifier's sovereignty policy (empty: none)
};

TEST_F(Fleet, EnrolAttestCaptureTrusted) {
  auto& h1 = add_host("host-1");
  auto& h2 = add_host("host-2");
  enroll(h1);
  enroll(h2);
  EXPECT_EQ(host("host-1")["state"], "enrolling");
  // Consistent evidence but nothing approved yet: not trusted, and the reason says what to do.
  auto first = attest(h1);
  EXPECT_EQ(first.state, "untrusted");
  EXPECT_NE(joined(json(first.reasons)).find("policy capture"), std::string::npos);
  capture("host-1");
  EXPECT_EQ(attest(h1).state, "trusted") << joined(json(attest(h1).reasons));
  // host-2 booted the same firmware; its PCR 8 (its own kernel command line) is not captured.
  auto r2 = attest(h2);
  EXPECT_EQ(r2.state, "trusted") << joined(json(r2.reasons));
  auto adm = op("GET", "/v1/hosts/host-2/admission");
  EXPECT_EQ(adm["allowed"], true);
  EXPECT_EQ(op("GET", "/v1/hosts")["hosts"].size(), 2u);
}

TEST_F(Fleet, UnexplainedExtendMakesTheHostUntrustedNamingThePcr) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->unexplained_extend(**tpm, 4));
  }
  auto r = attest(h);  // the very next round
  EXPECT_EQ(r.state, "untrusted");
  std::string why = joined(json(r.reasons));
  EXPECT_NE(why.find("PCR 4 (sha256)"), std::string::npos) << why;
  EXPECT_NE(why.find("does not explain"), std::string::npos) << why;
  auto adm = op("GET", "/v1/hosts/host-1/admission");
  EXPECT_EQ(adm["allowed"], false);
}

TEST_F(Fleet, NewImaEntryIsAppraisedIncrementally) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  uint64_t before = host("host-1")["ima_entries_appraised"];
  EXPECT_EQ(before, 5u);  // boot_aggregate + 4 files
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->measure_file(**tpm, "/usr/local/bin/new tool", "new"));
  }
  EXPECT_EQ(attest(h).state, "trusted");
  EXPECT_EQ(host("host-1")["ima_entries_appraised"], before + 1);
  // An extend of PCR 10 with no IMA entry is caught.
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(h.sim->unexplained_extend(**tpm, 10));
  }
  auto r = attest(h);
  EXPECT_EQ(r.state, "untrusted");
  EXPECT_NE(joined(json(r.reasons)).find("PCR 10"), std::string::npos);
}

TEST_F(Fleet, EventLogThatDisagreesWithTheQuoteNamesThePcr) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  // Swap in the log of a host with other firmware: PCR 0 no longer replays to what the TPM has.
  sim::SimulatedHost other(dir_.path + "/other", "host-1", "fw 9.9");
  auto swtpm = sim::Swtpm::start({dir_.path + "/other-tpm", nullptr, "sha1,sha256"});
  ASSERT_TRUE(swtpm);
  auto t = tpmdev::Tpm::open((*swtpm)->tcti());
  ASSERT_TRUE(other.boot(**t));
  fs::copy_file(other.eventlog_path(), h.sim->eventlog_path(),
                fs::copy_options::overwrite_existing);
  auto r = attest(h);
  EXPECT_EQ(r.state, "untrusted");
  EXPECT_NE(joined(json(r.reasons)).find("PCR 0 (sha256)"), std::string::npos)
      << joined(json(r.reasons));
}

TEST_F(Fleet, UnapprovedFirmwareIsNotTrusted) {
  auto& golden = add_host("golden");
  auto& updated = add_host("updated", "fw 2.0");
  enroll(golden);
  enroll(updated);
  attest(golden);
  capture("golden");
  auto r = attest(updated);
  EXPECT_EQ(r.state, "untrusted");
  EXPECT_NE(joined(json(r.reasons)).find("PCR 0 (sha256)"), std::string::npos);
  EXPECT_NE(joined(json(r.reasons)).find("not an approved value"), std::string::npos);
  // Approving the new firmware (capture merges) admits it, and the old one stays admitted.
  capture("updated");
  EXPECT_EQ(attest(updated).state, "trusted");
  EXPECT_EQ(attest(golden).state, "trusted");
}

TEST_F(Fleet, EkCertificateFromAnUnknownCaIsRefused) {
  auto other_ca = sim::LocalCa::create(dir_.path + "/rogue-ca");
  ASSERT_TRUE(other_ca);
  auto& h = add_host("rogue", "fw 1.0", &*other_ca);
  auto a = make_agent(h);
  ASSERT_TRUE(a);
  auto st = (*a)->enroll();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("EK certificate refused"), std::string::npos)
      << st.error().message();
  op("GET", "/v1/hosts/rogue", nullptr, 404);
}

// The protocol by hand, to replay and forge what a well-behaved agent would not.
struct RawAgent {
  std::unique_ptr<net::HttpsClient> client;
  std::string id;
  json challenge() {
    auto r = client->request("POST", "/v1/hosts/" + id + "/challenge", "{}");
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  json evidence_for(const json& ch, tpmdev::Tpm& tpm, const sim::SimulatedHost& sim) {
    auto nonce = crypto::base64_decode(ch["nonce"].get<std::string>());
    uint32_t mask = 0;
    for (const auto& p : ch["pcrs"]) mask |= 1u << p.get<uint32_t>();
    auto q = tpm.quote(*nonce, crypto::HashAlg::kSha256, mask);
    auto vals = tpm.pcr_read(crypto::HashAlg::kSha256, mask);
    json pcrs;
    size_t k = 0;
    for (uint32_t i = 0; i < 24; ++i) {
      if ((mask >> i) & 1) pcrs[std::to_string(i)] = (*vals)[k++].hex();
    }
    auto log = testing::read_bytes(sim.eventlog_path());
    return json{{"nonce", ch["nonce"]},
                {"quote",
                 {{"attest", crypto::base64_encode(q->attest)},
                  {"signature", crypto::base64_encode(q->signature)}}},
                {"pcrs", pcrs},
                {"event_log", crypto::base64_encode(log)},
                {"ima", {{"offset", ch["ima_offset"]}, {"entries", ""}}}};
  }
  int send(const json& ev) {
    auto r = client->request("POST", "/v1/hosts/" + id + "/evidence", ev.dump());
    return r ? r->status : -1;
  }
};

TEST_F(Fleet, ReplayedAndForeignQuotesAreRefused) {
  auto& h = add_host("host-1");
  auto& other = add_host("host-2");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  const std::string state = dir_.path + "/host-1/agent/";
  RawAgent raw{std::make_unique<net::HttpsClient>(
                   "127.0.0.1", verifier_->port(),
                   net::TlsClientConfig{verifier_->ca_pem(), read_file(state + "agent.pem"),
                                        read_file(state + "agent.key"), ""}),
               "host-1"};
  auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
  ASSERT_TRUE(tpm);
  json ch = raw.challenge();
  ASSERT_TRUE(ch.is_object());
  json ev = raw.evidence_for(ch, **tpm, *h.sim);
  tpm->reset();  // swtpm serves one connection at a time
  EXPECT_EQ(raw.send(ev), 200);
  // The same quote again: its nonce is spent.
  EXPECT_EQ(raw.send(ev), 409);
  // An old quote against a new challenge: the nonce inside the quote is not the new one.
  json ch2 = raw.challenge();
  json stale = ev;
  stale["nonce"] = ch2["nonce"];
  raw.send(stale);
  EXPECT_EQ(host("host-1")["state"], "untrusted");
  EXPECT_NE(joined(host("host-1")["reasons"]).find("nonce"), std::string::npos);
  // A quote by another TPM's AK over the right nonce.
  EXPECT_EQ(attest(h).state, "trusted");
  json ch3 = raw.challenge();
  auto other_tpm = tpmdev::Tpm::open(other.tpm->tcti());
  ASSERT_TRUE(other_tpm);
  json forged = raw.evidence_for(ch3, **other_tpm, *other.sim);
  EXPECT_EQ(raw.send(forged), 200);
  json after = host("host-1");
  EXPECT_EQ(after["state"], "untrusted");
  EXPECT_NE(joined(after["reasons"]).find("quote rejected"), std::string::npos)
      << joined(after["reasons"]);
}

TEST_F(Fleet, StatePersistsAcrossVerifierAndAgentRestarts) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  uint16_t port = verifier_->port();
  verifier_->stop();
  verifier_.reset();
  start_verifier(port);
  EXPECT_EQ(host("host-1")["state"], "trusted");
  EXPECT_EQ(host("host-1")["ima_entries_appraised"], 5u);
  // A new agent process reuses its certificate (no second enrolment) and stays trusted.
  h.agent.reset();
  auto a = make_agent(h);
  ASSERT_TRUE(a);
  h.agent = std::move(*a);
  EXPECT_EQ(attest(h).state, "trusted");
  auto events = op("GET", "/v1/hosts/host-1/events");
  int enrolments = 0;
  for (const auto& e : events["events"]) enrolments += e["kind"] == "enrolled";
  EXPECT_EQ(enrolments, 1);
}

TEST_F(Fleet, BadRequestsGet4xxAndChangeNothing) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  // What is stored, without the clock-dependent fields.
  auto snapshot = [&] {
    json out = json::array();
    const json all = op("GET", "/v1/hosts");  // keep it alive for the loop
    for (const auto& x : all["hosts"]) {
      out.push_back({x["id"], x["state"], x["reasons"], x["attestations"], x["pcrs"], x["tpm"]});
    }
    return out;
  };
  json before = snapshot();
  const std::string state = dir_.path + "/host-1/agent/";
  net::HttpsClient mtls(
      "127.0.0.1", verifier_->port(),
      {verifier_->ca_pem(), read_file(state + "agent.pem"), read_file(state + "agent.key"), ""});
  net::HttpsClient anon("127.0.0.1", verifier_->port(), {verifier_->ca_pem(), "", "", ""});
  auto status = [](const Result<net::Response>& r) { return r ? r->status : -1; };
  EXPECT_EQ(status(mtls.request("POST", "/v1/hosts/host-1/evidence", "{not json")), 400);
  EXPECT_EQ(status(mtls.request("POST", "/v1/hosts/host-1/evidence", "{}",
                                {{"Content-Type", "text/plain"}})),
            415);
  EXPECT_EQ(status(mtls.request("POST", "/v1/hosts/host-1/evidence", std::string(9 << 20, 'x'))),
            413);
  EXPECT_EQ(status(mtls.request("POST", "/v1/hosts/host-1/evidence", R"({"nonce": 5})")), 400);
  EXPECT_EQ(status(anon.request("POST", "/v1/hosts/host-1/challenge", "{}")), 401);
  EXPECT_EQ(status(mtls.request("POST", "/v1/hosts/host-2/challenge", "{}")), 403);
  EXPECT_EQ(status(anon.request("GET", "/v1/hosts")), 401);
  EXPECT_EQ(status(anon.request("GET", "/v1/hosts", "", {{"Authorization", "Bearer wrong"}})), 401);
  EXPECT_EQ(status(anon.request("POST", "/v1/enrollments", R"({"host_id": "../etc"})")), 400);
  // A client certificate from another CA does not pass the TLS layer's chain check.
  auto key = crypto::generate_key();
  auto rogue_ca = crypto::make_ca_certificate(*key, "rogue", 1);
  auto csr = crypto::make_csr(*key, "host-1");
  crypto::IssueOptions io;
  io.common_name = "host-1";
  io.client = true;
  auto rogue_cert = crypto::issue_certificate(*key, *rogue_ca, *csr, io);
  net::HttpsClient rogue("127.0.0.1", verifier_->port(),
                         {verifier_->ca_pem(), *rogue_cert, *key, ""});
  int rs = status(rogue.request("POST", "/v1/hosts/host-1/challenge", "{}"));
  EXPECT_TRUE(rs == 401 || rs == -1) << rs;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Fleet, PolicyChangesNeedASecondPrincipalAndViewersCannotAct) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  const std::string principals = dir_.path + "/verifier/" + verifier::kPrincipalsFile;
  auto viewer = verifier::add_principal(principals, "vera", {verifier::Role::kViewer});
  ASSERT_TRUE(viewer) << viewer.error().message();
  // A viewer reads, and can do nothing else.
  EXPECT_EQ(as(*viewer, "GET", "/v1/hosts")["hosts"].size(), 1u);
  as(*viewer, "POST", "/v1/policy/capture", json{{"host", "host-1"}}, 403);
  as(*viewer, "DELETE", "/v1/hosts/host-1", nullptr, 403);
  as("not-a-token", "GET", "/v1/hosts", nullptr, 401);
  // The operator proposes; the proposal changes nothing yet, and its author cannot approve it.
  json proposed = op("POST", "/v1/policy/capture", json{{"host", "host-1"}}, 202);
  const std::string change = proposed["change"]["id"];
  op("GET", "/v1/policy/references", nullptr, 404);
  EXPECT_EQ(attest(h).state, "untrusted");
  op("POST", "/v1/policy/changes/" + change + "/approve", json::object(), 403);
  // Another principal with the approver role but who is not the author approves: in force.
  as(verifier_->approver_token(), "POST", "/v1/policy/changes/" + change + "/approve",
     json::object(), 200);
  as(verifier_->approver_token(), "POST", "/v1/policy/changes/" + change + "/approve",
     json::object(), 409);
  EXPECT_EQ(op("GET", "/v1/policy/changes/" + change)["decided_by"], "approver");
  EXPECT_EQ(attest(h).state, "trusted");
  // An approver who is also an author still cannot approve their own change.
  auto both = verifier::add_principal(principals, "sam",
                                      {verifier::Role::kPolicyAuthor, verifier::Role::kApprover});
  ASSERT_TRUE(both);
  json own = as(*both, "POST", "/v1/policy/capture", json{{"host", "host-1"}}, 202);
  as(*both, "POST", "/v1/policy/changes/" + own["change"]["id"].get<std::string>() + "/approve",
     json::object(), 403);
  // A rejected change is never applied.
  as(verifier_->approver_token(), "POST",
     "/v1/policy/changes/" + own["change"]["id"].get<std::string>() + "/reject", json::object(),
     200);
}

TEST_F(Fleet, EveryDecisionIsInTheSignedAuditLog) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  const std::string first_checkpoint = op("GET", "/v1/log/key").dump();  // a request: sign-in
  auto cp_before = operator_->request("GET", "/v1/log/checkpoint", "",
                                      {{"Authorization", "Bearer " + verifier_->operator_token()}});
  ASSERT_TRUE(cp_before);
  capture("host-1");
  auto trusted = h.agent->attest_once();
  ASSERT_TRUE(trusted);
  EXPECT_EQ(trusted->state, "trusted");
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->unexplained_extend(**tpm, 4));
  }
  EXPECT_EQ(attest(h).state, "untrusted");

  // An auditor holding only the public key checks everything offline.
  const std::string vkey = verifier_->log_verifier_key();
  EXPECT_EQ(read_file(dir_.path + "/verifier/audit.pub"), vkey + "\n");
  auto cp_text = operator_->request("GET", "/v1/log/checkpoint", "",
                                    {{"Authorization", "Bearer " + verifier_->operator_token()}});
  ASSERT_TRUE(cp_text);
  auto key = audit::parse_verifier_key(vkey);
  ASSERT_TRUE(key);
  auto cp = audit::open_checkpoint(cp_text->body, *key);
  ASSERT_TRUE(cp) << cp.error().message();
  json entries = op("GET", "/v1/log/entries?start=0&end=" + std::to_string(cp->size));
  std::vector<std::string> list = entries["entries"];
  ASSERT_EQ(list.size(), cp->size);
  EXPECT_TRUE(audit::verify_entries_against_checkpoint(list, cp_text->body, vkey));
  std::multiset<std::string> kinds;
  for (const auto& e : list) kinds.insert(json::parse(e)["kind"].get<std::string>());
  for (const char* k : {"verifier.started", "enrolment", "attestation", "principal.sign_in",
                        "policy.proposed", "policy.approved", "admission"}) {
    EXPECT_GT(kinds.count(k), 0u) << k;
  }
  EXPECT_EQ(kinds.count("admission"), 3u)
      << "enrolling->untrusted (no policy yet), untrusted->trusted, trusted->untrusted";
  // The trusted attestation the agent was told about is at the index it was given.
  json at = op("GET", "/v1/log/inclusion?index=" + std::to_string(trusted->log_index) +
                          "&size=" + std::to_string(cp->size));
  json entry = json::parse(at["entry"].get<std::string>());
  EXPECT_EQ(entry["kind"], "attestation");
  EXPECT_EQ(entry["detail"]["trusted"], true);
  std::vector<std::string> b64 = at["proof"];
  auto proof = audit::decode_proof(b64);
  ASSERT_TRUE(proof);
  const std::string e = at["entry"];
  EXPECT_TRUE(audit::verify_inclusion(
      audit::leaf_hash(Bytes(reinterpret_cast<const uint8_t*>(e.data()), e.size())),
      trusted->log_index, cp->size, *proof, cp->root));
  // The earlier checkpoint is a prefix of the new one.
  auto old_cp = audit::open_checkpoint(cp_before->body, *key);
  ASSERT_TRUE(old_cp);
  json cons = op("GET", "/v1/log/consistency?from=" + std::to_string(old_cp->size) +
                            "&to=" + std::to_string(cp->size));
  std::vector<std::string> cb64 = cons["proof"];
  auto cproof = audit::decode_proof(cb64);
  ASSERT_TRUE(cproof);
  EXPECT_TRUE(audit::verify_consistency(old_cp->size, cp->size, *cproof, old_cp->root, cp->root));
  // The log is read-only, and malformed queries are refused.
  op("POST", "/v1/log/entries", json::object(), 405);
  op("GET", "/v1/log/inclusion?index=x&size=1", nullptr, 400);
  op("GET", "/v1/log/inclusion?index=0&size=999999", nullptr, 400);
  // It survives a restart, and the verifier refuses to start on a log edited behind its back.
  restart_verifier();
  json key_after = op("GET", "/v1/log/key");
  EXPECT_GT(key_after["size"].get<uint64_t>(), cp->size);
  EXPECT_EQ(key_after["verifier_key"], vkey);
}

TEST_F(Fleet, AgentPushesAtOnceWhenAPcrChanges) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  // A one-minute interval: only the agent's own watch can explain a prompt report.
  h.agent.reset();
  verifier_->stop();
  verifier_.reset();
  start_verifier(0, {}, 60'000);
  auto a = make_agent(h, 50);
  ASSERT_TRUE(a) << a.error().message();
  std::atomic<bool> stop{false};
  std::thread runner([&] { (*a)->run(stop); });
  // Wait for the agent's first round, then drift.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto attestations = [&] { return host("host-1")["attestations"].get<uint64_t>(); };
  uint64_t before = attestations();
  while (attestations() == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->unexplained_extend(**tpm, 4));
  }
  auto t0 = std::chrono::steady_clock::now();
  while (host("host-1")["state"] != "untrusted" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto waited = std::chrono::steady_clock::now() - t0;
  stop = true;
  runner.join();
  EXPECT_EQ(host("host-1")["state"], "untrusted");
  // The next poll was a minute away: the report came from the agent's watch (how fast is a
  // figure for `ironroot bench detect`, not an assertion on a shared machine).
  EXPECT_LT(waited, std::chrono::seconds(15));
}

// A Keylime runtime policy built from what the host ran so far (as `keylime_create_policy`
// would from a golden host's list): every path with its digest.
json runtime_policy_from(const std::string& ima_list) {
  json digests = json::object();
  std::istringstream in(ima_list);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string pcr, template_hash, name, digest, path;
    f >> pcr >> template_hash >> name >> digest >> path;
    auto colon = digest.find(':');
    if (colon == std::string::npos || path.empty()) continue;
    digests[path].push_back(digest.substr(colon + 1));
  }
  return json{{"meta", {{"version", 1}}}, {"digests", digests}, {"excludes", json::array()}};
}

// A fleet's runtime policy is larger than the API's default body limit: a policy author may
// upload it (the limit is decided from the credentials before the body is read), anyone else
// gets 413; listings describe it by size instead of sending it, and it is served on its own.
TEST_F(Fleet, LargeRuntimePolicyIsAcceptedFromAPolicyAuthorOnly) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  json doc = runtime_policy_from(read_file(h.sim->ima_path()));
  for (int i = 0; i < 110'000; ++i) {
    char digest[65];
    std::snprintf(digest, sizeof digest, "%064x", i);
    doc["digests"]["/opt/fleet/lib/file-" + std::to_string(i) + ".so"].push_back(digest);
  }
  const std::string body = doc.dump();
  ASSERT_GT(body.size(), size_t{8} << 20);
  const std::string principals = dir_.path + "/verifier/" + verifier::kPrincipalsFile;
  auto viewer = verifier::add_principal(principals, "vic", {verifier::Role::kViewer});
  ASSERT_TRUE(viewer) << viewer.error().message();
  for (const std::string& auth : {"Bearer " + *viewer, std::string("Bearer not-a-token")}) {
    net::HttpsClient c("127.0.0.1", verifier_->port(), {verifier_->ca_pem(), "", "", ""}, 60);
    auto r = c.request("PUT", "/v1/policy/document", body, {{"Authorization", auth}});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 413) << r->body;
  }
  json proposed = as(verifier_->operator_token(), "PUT", "/v1/policy/document", doc, 202);
  const std::string id = proposed["change"]["id"];
  const uint64_t bytes = proposed["change"]["document_bytes"];
  EXPECT_GT(bytes, uint64_t{8} << 20);
  EXPECT_FALSE(proposed["change"].contains("document"));
  EXPECT_EQ(proposed["change"]["document_url"], "/v1/policy/changes/" + id + "/document");
  json listed = op("GET", "/v1/policy/changes");
  ASSERT_TRUE(listed["changes"].is_array());
  EXPECT_EQ(listed["changes"][0]["id"], id);
  EXPECT_FALSE(listed["changes"][0].contains("document"));
  auto whole = operator_->request("GET", "/v1/policy/changes/" + id + "/document", "",
                                  {{"Authorization", "Bearer " + *viewer}});
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body.size(), bytes);
  EXPECT_NE(whole->body.find("/opt/fleet/lib/file-109999.so"), std::string::npos);
  as(verifier_->approver_token(), "POST", "/v1/policy/changes/" + id + "/approve", json::object());
  auto r = attest(h);
  EXPECT_EQ(r.state, "trusted") << joined(json(r.reasons));
}

TEST_F(Fleet, RuntimePolicyNamesTheFileAndResultsAreSignedEars) {
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  // The runtime policy: proposed, refused when malformed (nothing changes), approved.
  op("PUT", "/v1/policy/document", json{{"digests", "not an object"}}, 400);
  json proposed =
      op("PUT", "/v1/policy/document", runtime_policy_from(read_file(h.sim->ima_path())), 202);
  as(verifier_->approver_token(), "POST",
     "/v1/policy/changes/" + proposed["change"]["id"].get<std::string>() + "/approve",
     json::object());
  auto good = attest(h);
  ASSERT_EQ(good.state, "trusted") << joined(json(good.reasons));

  // Results: a signed EAR per appraisal, checked with the verifier's published keys.
  auto keys_resp = operator_->request("GET", "/v1/keys");
  ASSERT_TRUE(keys_resp);
  auto keys = ear::VerificationKeys::from_jwks(keys_resp->body);
  ASSERT_TRUE(keys) << keys.error().message();
  auto fetch_result = [&] {
    auto r = operator_->request("GET", "/v1/hosts/host-1/result", "",
                                {{"Authorization", "Bearer " + verifier_->operator_token()}});
    EXPECT_TRUE(r && r->status == 200);
    return r ? r->body : std::string();
  };
  auto verified = ear::verify_ear(fetch_result(), *keys);
  ASSERT_TRUE(verified) << verified.error().message();
  EXPECT_EQ(verified->status, ear::Tier::kAffirming);
  EXPECT_EQ(verified->ear.other["ironroot.host"], "host-1");

  // The host runs a file the policy does not know: untrusted, naming the path.
  {
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->measure_file(**tpm, "/tmp/.x/miner", "not in any policy"));
  }
  auto bad = attest(h);
  EXPECT_EQ(bad.state, "untrusted");
  std::string why = joined(json(bad.reasons));
  EXPECT_NE(why.find("/tmp/.x/miner"), std::string::npos) << why;
  auto after = ear::verify_ear(fetch_result(), *keys);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->status, ear::Tier::kContraindicated);
  // It stays untrusted on the next round (the list only grows), without re-appraising it all.
  EXPECT_EQ(attest(h).state, "untrusted");
  // The finding went to the default sink, as OCSF.
  std::string findings = findings_with("/tmp/.x/miner");
  EXPECT_NE(findings.find("\"class_uid\":2004"), std::string::npos) << findings;
  EXPECT_NE(findings.find("/tmp/.x/miner"), std::string::npos) << findings;
  // A result signed by another key is refused.
  auto other = ear::SigningKey::generate(ear::Alg::kEdDSA);
  ASSERT_TRUE(other);
  auto foreign = ear::sign_ear(verified->ear, *other);
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(ear::verify_ear(*foreign, *keys));
}

TEST_F(Fleet, PostureRollbackIsAFindingAndUntrustsUntilAccepted) {
  // A captured root the test can change: the agent reads /proc/cpuinfo below it.
  auto cpuinfo = [&](const char* microcode) {
    write_cpuinfo("Intel(R) Xeon(R) Gold 6230", microcode);
  };
  cpuinfo("0x5003604");
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  json reported = op("GET", "/v1/hosts/host-1/posture");
  EXPECT_EQ(reported["latest"]["cpu"]["vendor"], "Intel");
  // A newer microcode is information, not a reason to distrust.
  cpuinfo("0x5003605");
  EXPECT_EQ(attest(h).state, "trusted");
  // Rolled back below the baseline: untrusted, with the reason, and a posture finding.
  cpuinfo("0x5003302");
  auto r = attest(h);
  EXPECT_EQ(r.state, "untrusted");
  std::string why = joined(json(r.reasons));
  EXPECT_NE(why.find("microcode"), std::string::npos) << why;
  std::string findings = findings_with("microcode_rollback");
  EXPECT_NE(findings.find("microcode_rollback"), std::string::npos) << findings;
  // An operator accepts the new posture (logged); the host is trusted again.
  op("POST", "/v1/hosts/host-1/posture/accept", json::object());
  EXPECT_EQ(attest(h).state, "trusted");
}

// The sovereignty policy judges each posture report: a deny keeps the host untrusted, naming
// the rule, and is one finding when it starts (not one per attestation).
TEST_F(Fleet, SovereigntyPolicyDenyKeepsTheHostUntrusted) {
  write_cpuinfo("Intel(R) Xeon(R) Gold 6230", "0x5003604");
  const std::string policy = dir_.path + "/sovereignty.policy";
  std::ofstream(policy) << "# test\nwarn \"watch Intel\" when cpu.vendor == \"Intel\"\n"
                           "deny \"no Xeon Gold\" when cpu.model_name == "
                           "\"Intel(R) Xeon(R) Gold 6230\"\n";
  sovereignty_policy_ = policy;
  restart_verifier();
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  auto r = attest(h);
  EXPECT_EQ(r.state, "untrusted");
  std::string why = joined(json(r.reasons));
  EXPECT_NE(why.find("no Xeon Gold"), std::string::npos) << why;
  EXPECT_EQ(why.find("watch Intel"), std::string::npos) << "a warning is not a reason: " << why;
  attest(h);
  findings_with("sovereignty_denied");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let any repeat arrive too
  std::istringstream lines(read_file(dir_.path + "/verifier/findings.jsonl"));
  size_t n = 0;
  for (std::string line; std::getline(lines, line);)
    n += line.find("sovereignty_denied") != std::string::npos;
  EXPECT_EQ(n, 1u) << "one finding when the rule starts to deny, after three attestations";
  // Another CPU: the rule no longer denies, and the host is trusted once the posture change
  // (a different CPU model) is accepted as its new baseline.
  write_cpuinfo("Intel(R) Xeon(R) Silver 4210", "0x5003604");
  attest(h);
  op("POST", "/v1/hosts/host-1/posture/accept", json::object());
  r = attest(h);
  EXPECT_EQ(r.state, "trusted") << joined(json(r.reasons));
}

TEST_F(Fleet, AgentSendsHostFlowsForTheSensor) {
  if (::geteuid() != 0) GTEST_SKIP() << "host flow accounting needs root (netlink)";
  host_flows_ = true;
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);  // starts the recorder (the challenge carries the verifier's clock)
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a sock_diag snapshot or two
  attest(h);
  auto r = operator_->request("GET", "/v1/hosts/host-1/host-flows?since=0", "",
                              {{"Authorization", "Bearer " + verifier_->operator_token()}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  sensor::HostFlowLog log;
  std::istringstream in(r->body);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ASSERT_TRUE(sensor::apply_host_flow_line(line, &log)) << line;
    ++lines;
  }
  EXPECT_GT(lines, 1);
  EXPECT_EQ(log.host, "host-1");
  EXPECT_LT(std::llabs(log.clock_offset_ns), int64_t{5'000'000'000}) << "same machine, same clock";
  // The verifier's own listening socket is on this machine: the host's snapshot knows it.
  bool saw_verifier = false;
  for (const auto& rec : log.records)
    saw_verifier |= rec.sport == verifier_->port() || rec.dport == verifier_->port();
  EXPECT_TRUE(saw_verifier) << r->body.substr(0, 2000);
  // Paging: nothing new after the end.
  auto rest =
      operator_->request("GET", "/v1/hosts/host-1/host-flows?since=" + std::to_string(lines), "",
                         {{"Authorization", "Bearer " + verifier_->operator_token()}});
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200);
  EXPECT_TRUE(rest->body.empty()) << rest->body;

  // The lines are in the verifier's database: after a restart they are served again under the
  // same numbers, and the agent's next lines continue the numbering.
  auto flows_since = [&](uint64_t since) {
    auto got =
        operator_->request("GET", "/v1/hosts/host-1/host-flows?since=" + std::to_string(since), "",
                           {{"Authorization", "Bearer " + verifier_->operator_token()}});
    EXPECT_TRUE(got && got->status == 200) << (got ? got->body : got.error().message());
    return got ? got->body : std::string();
  };
  const std::string second_half = flows_since(static_cast<uint64_t>(lines / 2));
  const uint16_t port = verifier_->port();
  verifier_->stop();
  verifier_.reset();
  start_verifier(port);
  EXPECT_EQ(flows_since(0), r->body);
  EXPECT_EQ(flows_since(static_cast<uint64_t>(lines / 2)), second_half);
  EXPECT_TRUE(flows_since(static_cast<uint64_t>(lines)).empty());
  // At least one heartbeat (every 250 ms) before the next attestation, so it carries a line
  // even on a machine where no connection opened or closed meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  attest(h);
  const std::string after = flows_since(0);
  ASSERT_GT(after.size(), r->body.size());
  EXPECT_EQ(after.substr(0, r->body.size()), r->body) << "old lines keep their numbers";
  EXPECT_EQ(flows_since(static_cast<uint64_t>(lines)), after.substr(r->body.size()));
}

// A network sensor's findings: a principal with the sensor role posts them, each is in the audit
// log before the answer, reaches the findings sink as OCSF, and the remediation rules apply.
// A sensor finding about one IPv4 TCP flow (packets from src), as `ironroot sensor --json`
// renders it; the caller sets kind, score and the words.
sensor::Finding tcp_flow_finding(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                                 const sensor::MacAddr& src_mac, const sensor::MacAddr& dst_mac,
                                 uint64_t packets) {
  sensor::Finding x;
  x.has_flow = true;
  x.flow.src.family = x.flow.dst.family = 4;
  EXPECT_EQ(::inet_pton(AF_INET, src, x.flow.src.bytes.data()), 1);
  EXPECT_EQ(::inet_pton(AF_INET, dst, x.flow.dst.bytes.data()), 1);
  x.flow.proto = 6;
  x.flow.has_ports = true;
  x.flow.sport = sport;
  x.flow.dport = dport;
  x.flow.has_mac = true;
  x.flow.src_mac = src_mac;
  x.flow.dst_mac = dst_mac;
  x.flow.orig.packets = packets;
  x.flow.first_ns = x.flow.last_ns = x.ts_ns = 1'790'000'000'000'000'000;
  return x;
}

TEST_F(Fleet, SensorFindingsAreLoggedDispatchedAndQuarantineTheHost) {
  quarantine_on_high_sensor_findings();
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);
  capture("host-1");
  ASSERT_EQ(attest(h).state, "trusted");
  auto token = verifier::add_principal(dir_.path + "/verifier/" + verifier::kPrincipalsFile,
                                       "sensor-1", {verifier::Role::kSensor});
  ASSERT_TRUE(token) << token.error().message();

  // Least privilege: a sensor posts findings and reads host flows, nothing else.
  as(*token, "POST", "/v1/policy/capture", json{{"host", "host-1"}}, 403);
  as(*token, "POST", "/v1/hosts/host-1/release", json::object(), 403);
  as(*token, "DELETE", "/v1/hosts/host-1", nullptr, 403);
  as(*token, "GET", "/v1/hosts", nullptr, 403);
  as(*token, "GET", "/v1/hosts/host-1/admission", nullptr, 403);
  as(*token, "GET", "/v1/log/key", nullptr, 403);
  as(*token, "GET", "/v1/hosts/host-1/host-flows", nullptr, 404);  // allowed; none sent
  // A viewer may not post findings.
  auto viewer = verifier::add_principal(dir_.path + "/verifier/" + verifier::kPrincipalsFile,
                                        "vera", {verifier::Role::kViewer});
  ASSERT_TRUE(viewer);
  as(*viewer, "POST", "/v1/sensor/findings", json{{"sensor", "s"}, {"findings", json::array()}},
     403);

  // The finding as the sensor renders it (`ironroot sensor --json`): AMT traffic from host-1's
  // address that the host OS did not account for.
  sensor::Finding amt = tcp_flow_finding("10.0.0.2", 16992, "10.0.0.1", 50000, {2, 0, 0, 0, 0, 2},
                                         {2, 0, 0, 0, 0, 1}, 3);
  amt.kind = "unaccounted_traffic";
  amt.score = 95;
  amt.host = "host-1";
  amt.message = "traffic not accounted for by the host OS: TCP 10.0.0.2:16992 -> 10.0.0.1:50000";
  amt.reasons = {"no conntrack or socket record on the host within 2000 ms",
                 "Intel AMT port (TCP 16992-16995)"};
  amt.flow.orig.bytes = 180;
  amt.flow.signatures = sensor::kSigWsman;
  const json amt_json = json::parse(amt.json());
  // A quieter one about a machine that is not enrolled, without a flow.
  sensor::Finding other;
  other.kind = "second_dhcp_client";
  other.score = 40;
  other.host = "printer-7";
  other.message = "a second DHCP client fingerprint";
  other.ts_ns = amt.ts_ns + 1;
  const json other_json = json::parse(other.json());

  // Malformed requests: 400 naming the field, 413 over 1 MiB, and nothing logged.
  auto refused = [&](const std::string& body, int status, const std::string& names) {
    auto res = operator_->request("POST", "/v1/sensor/findings", body,
                                  {{"Authorization", "Bearer " + *token}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << body.substr(0, 200) << ": " << res->body;
    json error = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(error.is_object() && error["error"].is_string()) << res->body;
    EXPECT_NE(error["error"].get<std::string>().find(names), std::string::npos) << res->body;
  };
  auto with = [&](const std::string& pointer, const json& value) {
    json items = json::array({amt_json, amt_json});
    items[1][json::json_pointer(pointer)] = value;
    return json{{"sensor", "sensor-1"}, {"findings", items}}.dump();
  };
  refused("this is not json", 400, "not a JSON object");
  refused(json{{"findings", json::array({amt_json})}}.dump(), 400, "\"sensor\"");
  refused(json{{"sensor", "sensor-1"}, {"findings", "all of them"}}.dump(), 400, "\"findings\"");
  refused(with("/score", 101), 400, "findings[1].score");
  refused(with("/score", -1), 400, "findings[1].score");
  refused(with("/score", "high"), 400, "findings[1].score: must be an integer");
  refused(with("/kind", 7), 400, "findings[1].kind");
  refused(with("/message", std::string(5000, 'x')), 400, "findings[1].message");
  refused(with("/reasons", json::array({1})), 400, "findings[1].reasons[0]");
  refused(with("/message", "forged\nsecond line"), 400, "findings[1].message");
  refused(with("/flow/src", "10.0.0.999"), 400, "findings[1].flow.src");
  refused(with("/flow/dport", 70000), 400, "findings[1].flow.dport");
  refused(with("/flow/orig/packets", "many"), 400, "findings[1].flow.orig.packets");
  refused(with("/ts_ns", 1.5), 400, "findings[1].ts_ns");
  refused(with("/type", "flow"), 400, "findings[1].type");
  refused(json{{"sensor", "sensor-1"}, {"findings", json::array({json::array()})}}.dump(), 400,
          "findings[0]: must be an object");
  json many = json::array();
  for (int i = 0; i < 501; ++i) many.push_back(other_json);
  refused(json{{"sensor", "sensor-1"}, {"findings", many}}.dump(), 400, "at most 500");
  json huge = other_json;
  huge["padding"] = std::string(1 << 20, 'x');
  refused(json{{"sensor", "sensor-1"}, {"findings", json::array({huge})}}.dump(), 413, "1048576");
  auto sensor_entries = [&] {
    uint64_t size = op("GET", "/v1/log/key")["size"];
    std::vector<json> out;
    for (uint64_t start = 0; start < size; start += 1000) {
      json page = op("GET", "/v1/log/entries?start=" + std::to_string(start) +
                                "&end=" + std::to_string(std::min(size, start + 1000)));
      for (const auto& e : page["entries"]) {
        json entry = json::parse(e.get<std::string>());
        if (entry["kind"] == "sensor.finding") out.push_back(entry);
      }
    }
    return out;
  };
  EXPECT_TRUE(sensor_entries().empty());
  EXPECT_EQ(op("GET", "/v1/hosts/host-1/admission")["quarantined"], false);

  // Accepted: in the log at the indexes returned, before the answer.
  json ok = as(*token, "POST", "/v1/sensor/findings",
               json{{"sensor", "sensor-1"}, {"findings", json::array({amt_json, other_json})}});
  ASSERT_EQ(ok["accepted"], 2);
  ASSERT_EQ(ok["log_indexes"].size(), 2u);
  const uint64_t at = ok["log_indexes"][0];
  json logged =
      op("GET", "/v1/log/entries?start=" + std::to_string(at) + "&end=" + std::to_string(at + 2));
  ASSERT_EQ(logged["entries"].size(), 2u);
  json first = json::parse(logged["entries"][0].get<std::string>());
  EXPECT_EQ(first["kind"], "sensor.finding");
  EXPECT_EQ(first["principal"], "sensor-1");
  EXPECT_EQ(first["host"], "host-1");
  EXPECT_EQ(first["detail"]["sensor"], "sensor-1");
  EXPECT_EQ(first["detail"]["enrolled"], true);
  EXPECT_EQ(first["detail"]["score"], 95);
  EXPECT_EQ(first["detail"]["severity"], "High");
  EXPECT_EQ(first["detail"]["flow"]["dport"], 50000);
  EXPECT_EQ(first["detail"]["flow"]["signatures"], json::array({"amt_wsman"}));
  json second = json::parse(logged["entries"][1].get<std::string>());
  EXPECT_EQ(ok["log_indexes"][1], at + 1);
  EXPECT_EQ(second["detail"]["enrolled"], false);
  EXPECT_EQ(second["detail"]["reported_host"], "printer-7");
  EXPECT_FALSE(second.contains("host"));
  EXPECT_EQ(sensor_entries().size(), 2u);

  // The sink gets both as OCSF Detection Findings, of kind sensor_finding.
  const std::string uid = first["detail"]["finding"];
  const std::string other_uid = second["detail"]["finding"];
  std::string text = findings_with(other_uid);
  json amt_ocsf, other_ocsf;
  {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(uid) != std::string::npos) amt_ocsf = json::parse(line);
      if (line.find(other_uid) != std::string::npos) other_ocsf = json::parse(line);
    }
  }
  ASSERT_TRUE(amt_ocsf.is_object()) << text;
  ASSERT_TRUE(other_ocsf.is_object()) << text;
  EXPECT_EQ(amt_ocsf["class_uid"], 2004);
  EXPECT_EQ(amt_ocsf["severity_id"], 4) << "score 95: High";
  EXPECT_EQ(other_ocsf["severity_id"], 2) << "score 40: Low";
  EXPECT_NE(amt_ocsf.dump().find("sensor_finding"), std::string::npos) << amt_ocsf.dump();
  EXPECT_NE(amt_ocsf.dump().find("16992"), std::string::npos) << amt_ocsf.dump();

  // The remediation rule quarantined host-1: admission is denied although it attests fine.
  json adm = admission_once_quarantined("host-1");
  EXPECT_EQ(adm["quarantined"], true) << adm.dump();
  EXPECT_EQ(adm["allowed"], false);
  EXPECT_EQ(attest(h).state, "trusted");
  EXPECT_EQ(op("GET", "/v1/hosts/host-1/admission")["allowed"], false);
  EXPECT_NE(joined(adm["reasons"]).find("unaccounted_traffic"), std::string::npos) << adm.dump();
}

// A signature-only sensor names no host: the verifier finds it by the MAC the host's agent
// reported in its posture, remediates it, and attributes nothing when two hosts claim the MAC.
TEST_F(Fleet, ASensorFindingNamingNoHostIsMatchedByTheMacItsAgentReported) {
  quarantine_on_high_sensor_findings();
  auto& h1 = add_host("host-1");
  enroll(h1);
  attest(h1);
  capture("host-1");
  ASSERT_EQ(attest(h1).state, "trusted");
  json posture = op("GET", "/v1/hosts/host-1/posture");
  std::string mac;
  const json latest = posture["latest"];
  for (const auto& n : latest["interfaces"]) {
    if (!n["mac"].get<std::string>().empty()) {
      mac = n["mac"];
      break;
    }
  }
  if (mac.empty()) GTEST_SKIP() << "this machine has no interface with a MAC";
  sensor::MacAddr host_mac{};
  ASSERT_EQ(std::sscanf(mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &host_mac[0], &host_mac[1],
                        &host_mac[2], &host_mac[3], &host_mac[4], &host_mac[5]),
            6);
  auto token = verifier::add_principal(dir_.path + "/verifier/" + verifier::kPrincipalsFile,
                                       "tap-1", {verifier::Role::kSensor});
  ASSERT_TRUE(token) << token.error().message();

  // A probe of the host's AMT port, as `ironroot sensor --pcap` reports it without --host.
  sensor::Finding probe = tcp_flow_finding("203.0.113.9", 40000, "198.51.100.20", 16992,
                                           {2, 0, 0, 0, 0, 0xfe}, host_mac, 1);
  probe.kind = "amt_port_syn";
  probe.score = 90;
  probe.message = "TCP SYN to an Intel AMT port";
  auto post = [&] {
    json ok = as(*token, "POST", "/v1/sensor/findings",
                 json{{"sensor", "tap-1"}, {"findings", json::array({json::parse(probe.json())})}});
    EXPECT_EQ(ok["accepted"], 1);
    uint64_t at = ok["log_indexes"][0];
    json page =
        op("GET", "/v1/log/entries?start=" + std::to_string(at) + "&end=" + std::to_string(at + 1));
    return json::parse(page["entries"][0].get<std::string>());
  };
  json entry = post();
  EXPECT_EQ(entry["host"], "host-1");
  EXPECT_EQ(entry["detail"]["enrolled"], true);
  EXPECT_EQ(entry["detail"]["reported_host"], "");
  EXPECT_EQ(entry["detail"]["matched_by"], "dst_mac " + mac);
  json adm = admission_once_quarantined("host-1");
  EXPECT_EQ(adm["quarantined"], true) << adm.dump();

  // A second host on this machine reports the same interfaces: the MAC names neither now.
  auto& h2 = add_host("host-2");
  enroll(h2);
  attest(h2);
  probe.ts_ns += 1'000'000'000;
  probe.flow.sport = 40001;
  entry = post();
  EXPECT_EQ(entry["detail"]["enrolled"], false);
  EXPECT_FALSE(entry.contains("host"));
  EXPECT_EQ(entry["detail"]["matched_by"], "");
}

// A pcap holding one frame, nanosecond timestamps (what a tap would have recorded).
void write_one_frame_pcap(const std::string& path, uint64_t ts_ns,
                          const std::vector<uint8_t>& frame) {
  std::ofstream out(path, std::ios::binary);
  const uint32_t header[6] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, 1};
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  const uint32_t rec[4] = {
      static_cast<uint32_t>(ts_ns / 1'000'000'000), static_cast<uint32_t>(ts_ns % 1'000'000'000),
      static_cast<uint32_t>(frame.size()), static_cast<uint32_t>(frame.size())};
  out.write(reinterpret_cast<const char*>(rec), sizeof rec);
  out.write(reinterpret_cast<const char*>(frame.data()),
            static_cast<std::streamsize>(frame.size()));
}

// `ironroot sensor --hosts-from-verifier`: no --host and no host-flows file; the sensor learns
// host-1's MAC and address from the verifier, follows the flow records host-1's agent sends
// there, finds a frame from host-1 to an AMT port that the host OS never made, and posts the
// finding back, where it is logged against host-1.
TEST_F(Fleet, SensorTakesHostsAndTheirFlowRecordsFromTheVerifier) {
  if (::geteuid() != 0) GTEST_SKIP() << "host flow accounting needs root (netlink)";
  host_flows_ = true;
  auto& h = add_host("host-1");
  enroll(h);
  attest(h);  // the agent's recorder starts
  const uint64_t t0 = sensor::realtime_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  attest(h);  // its records, covering the last 2.5 s, reach the verifier

  const json latest = op("GET", "/v1/hosts/host-1/posture")["latest"];
  std::string mac, ip;
  for (const auto& n : latest["interfaces"]) {
    if (n["mac"].get<std::string>().empty()) continue;
    for (const auto& a : n["addresses"]) {
      if (a.get<std::string>().find('.') != std::string::npos) {
        mac = n["mac"];
        ip = a;
        break;
      }
    }
    if (!mac.empty()) break;
  }
  if (mac.empty()) GTEST_SKIP() << "no interface with a MAC and an IPv4 address here";
  std::vector<uint8_t> frame = {2, 0, 0, 0, 0, 1};  // to the gateway
  unsigned m[6];
  ASSERT_EQ(std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]),
            6);
  for (unsigned b : m) frame.push_back(static_cast<uint8_t>(b));
  frame.insert(frame.end(), {0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0});
  uint8_t src[4], dst[4];
  ASSERT_EQ(::inet_pton(AF_INET, ip.c_str(), src), 1);
  ASSERT_EQ(::inet_pton(AF_INET, "198.51.100.9", dst), 1);
  frame.insert(frame.end(), src, src + 4);
  frame.insert(frame.end(), dst, dst + 4);
  frame.insert(frame.end(), {0x9e, 0x2b, 0x42, 0x60, 0,    0, 0, 1, 0, 0, 0,
                             0,    0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0});  // 40491 -> 16992 SYN
  const std::string pcap = dir_.path + "/tap.pcap";
  write_one_frame_pcap(pcap, t0 + 500'000'000, frame);

  auto token = verifier::add_principal(dir_.path + "/verifier/" + verifier::kPrincipalsFile,
                                       "tap-1", {verifier::Role::kSensor});
  ASSERT_TRUE(token);
  std::ofstream(dir_.path + "/tap.token") << *token;
  json hosts = as(*token, "GET", "/v1/sensor/hosts");
  ASSERT_EQ(hosts["hosts"].size(), 1u);
  EXPECT_EQ(hosts["hosts"][0]["id"], "host-1");
  auto viewer = verifier::add_principal(dir_.path + "/verifier/" + verifier::kPrincipalsFile,
                                        "audit-only", {verifier::Role::kAuditor});
  ASSERT_TRUE(viewer);
  as(*viewer, "GET", "/v1/sensor/hosts", nullptr, 403);

  const std::string command = std::string(IRONROOT_BINARY) + " sensor --pcap " + pcap +
                              " --json --window-ms 1000 --hosts-from-verifier --verifier https://"
                              "127.0.0.1:" +
                              std::to_string(verifier_->port()) + " --ca " + dir_.path +
                              "/ca.pem --token-file " + dir_.path + "/tap.token" +
                              " --sensor-name tap-1";
  auto r = testing::run(command);
  EXPECT_EQ(r.status, 1) << r.out;  // findings
  json finding;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j["type"] == "finding") finding = j;
  }
  ASSERT_TRUE(finding.is_object()) << r.out;
  EXPECT_EQ(finding["kind"], "unaccounted_traffic");
  EXPECT_EQ(finding["host"], "host-1");
  EXPECT_GE(finding["score"].get<int>(), 90) << "an AMT port";
  EXPECT_EQ(finding["flow"]["dport"], 16992);

  // Posted back: logged against host-1 by its id.
  uint64_t size = op("GET", "/v1/log/key")["size"];
  json page = op("GET", "/v1/log/entries?start=0&end=" + std::to_string(size));
  json logged;
  for (const auto& e : page["entries"]) {
    json entry = json::parse(e.get<std::string>());
    if (entry["kind"] == "sensor.finding") logged = entry;
  }
  ASSERT_TRUE(logged.is_object());
  EXPECT_EQ(logged["host"], "host-1");
  EXPECT_EQ(logged["detail"]["sensor"], "tap-1");
  EXPECT_EQ(logged["detail"]["matched_by"], "host_id");

  // Without the verifier's hosts the same capture has nobody to reconcile: only the signature
  // (a SYN to an AMT port), about no host.
  r = testing::run(std::string(IRONROOT_BINARY) + " sensor --pcap " + pcap + " --json");
  std::istringstream alone(r.out);
  size_t signature_only = 0;
  for (std::string line; std::getline(alone, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || j["type"] != "finding") continue;
    EXPECT_NE(j["kind"], "unaccounted_traffic") << line;
    EXPECT_FALSE(j.contains("host")) << line;
    ++signature_only;
  }
  EXPECT_EQ(signature_only, 1u) << r.out;
}
}  // namespace
}  // namespace ironroot
