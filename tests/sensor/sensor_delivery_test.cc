// Sensor findings leaving the sensor, through the real CLI on a corpus capture: to the findings
// sinks of a --findings-config (a JSON-lines sink, as OCSF), and POSTed to a verifier (a local
// HTTPS server speaking the /v1/sensor/findings contract), with retries and refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "findings/support.h"
#include "net/http.h"
#include "support/corpus.h"

namespace {

using ironroot::findings::testing::read_lines;
using ironroot::findings::testing::TempDir;
using ironroot::findings::testing::TlsIdentity;
using ironroot::findings::testing::write_text;
using ironroot::testing::run;
using nlohmann::json;

std::string sensor_on_rmcp(const std::string& corpus) {
  return std::string(IRONROOT_BINARY) + " sensor --pcap " + corpus + "/pcap/ndpi__rmcp.pcap --json";
}

// The finding lines `ironroot sensor --json` printed.
std::vector<std::string> finding_lines(const std::string& out) {
  std::vector<std::string> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (json::parse(l)["type"] == "finding") v.push_back(l);
  return v;
}

TEST(SensorDelivery, FindingsConfigSinksGetOcsf) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  TempDir dir;
  write_text(dir.file("findings.json"),
             R"({"sinks": [{"type": "jsonl", "path": "out.jsonl", "fsync": "always"}]})");
  auto r = run(sensor_on_rmcp(corpus) + " --findings-config " + dir.file("findings.json"));
  EXPECT_EQ(r.status, 1);  // findings, all delivered
  auto printed = finding_lines(r.out);
  ASSERT_EQ(printed.size(), 6u);
  auto lines = read_lines(dir.file("out.jsonl"));
  ASSERT_EQ(lines.size(), 6u);
  std::multiset<std::string> kinds, want;
  for (const auto& p : printed) want.insert(json::parse(p)["kind"].get<std::string>());
  for (const auto& l : lines) {
    json o = json::parse(l);
    EXPECT_EQ(o["class_uid"], 2004);
    EXPECT_EQ(o["finding_info"]["types"][0], "sensor_finding");
    EXPECT_EQ(o["severity_id"], 3);  // the RMCP / IPMI probes score 60: Medium
    EXPECT_EQ(o["unmapped"]["flow"]["dport"], 623);
    kinds.insert(o["unmapped"]["kind"].get<std::string>());
  }
  EXPECT_EQ(kinds, want);
}

TEST(SensorDelivery, BadFindingsConfigIsRefused) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  TempDir dir;
  write_text(dir.file("findings.json"), R"({"sinks": [{"type": "jsonl", "paht": "x"}]})");
  auto r =
      run(sensor_on_rmcp(corpus) + " --findings-config " + dir.file("findings.json") + " 2>&1");
  EXPECT_EQ(r.status, 2);
}

// A verifier's /v1/sensor/findings: fails the first `fail_first` requests with `fail_status`.
// GET /v1/sensor/hosts answers `hosts_answer`; a host's flow lines are never there (404).
class FakeVerifier {
 public:
  FakeVerifier(int fail_first, int fail_status, std::string hosts_answer = "{}")
      : fail_first_(fail_first), status_(fail_status), hosts_answer_(std::move(hosts_answer)) {
    tls_ = TlsIdentity::make();
    auto s = ironroot::net::HttpsServer::start(
        {.port = 0}, tls_.server, [this](const ironroot::net::Request& r) {
          if (r.method == "GET") {
            std::lock_guard<std::mutex> l(mu_);
            gets_.push_back(r.path + (r.query.empty() ? "" : "?" + r.query));
            if (r.path == "/v1/sensor/hosts")
              return ironroot::net::Response{200, "application/json", hosts_answer_, {}};
            return ironroot::net::Response{404, "application/json", R"({"error": "none"})", {}};
          }
          const int n = ++requests_;
          std::lock_guard<std::mutex> l(mu_);
          paths_.push_back(r.method + " " + r.path);
          auth_.push_back(r.header("authorization"));
          bodies_.push_back(r.body);
          if (n <= fail_first_)
            return ironroot::net::Response{
                status_, "application/json", R"({"error": "not now"})", {}};
          auto j = json::parse(r.body);
          json answer = {{"accepted", j["findings"].size()}, {"log_indexes", json::array()}};
          return ironroot::net::Response{200, "application/json", answer.dump(), {}};
        });
    EXPECT_TRUE(s.ok());
    server_ = std::move(*s);
    write_text(dir_.file("ca.pem"), tls_.ca_pem);
    write_text(dir_.file("token"), "tok-123\n");
  }
  std::string flags() const {
    return " --verifier https://127.0.0.1:" + std::to_string(server_->port()) + " --ca " +
           dir_.file("ca.pem") + " --token-file " + dir_.file("token") + " --sensor-name tap-1";
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> l(mu_);
    return bodies_;
  }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> l(mu_);
    return paths_;
  }
  std::vector<std::string> auth() {
    std::lock_guard<std::mutex> l(mu_);
    return auth_;
  }
  std::vector<std::string> gets() {
    std::lock_guard<std::mutex> l(mu_);
    return gets_;
  }

 private:
  TempDir dir_;
  TlsIdentity tls_;
  int fail_first_;
  int status_;
  std::string hosts_answer_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<std::string> paths_, auth_, bodies_, gets_;
  std::unique_ptr<ironroot::net::HttpsServer> server_;
};

// The findings of each body, as sent (compact JSON of each element).
std::vector<std::string> sent_findings(const std::string& body) {
  std::vector<std::string> v;
  const json j = json::parse(body);
  for (const auto& f : j["findings"]) v.push_back(f.dump());
  return v;
}

TEST(SensorDelivery, VerifierGetsTheFindingsAfterARetry) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  FakeVerifier v(1, 503);
  auto r = run(sensor_on_rmcp(corpus) + v.flags());
  EXPECT_EQ(r.status, 1);  // findings, all delivered
  auto printed = finding_lines(r.out);
  ASSERT_EQ(printed.size(), 6u);
  auto bodies = v.bodies();
  ASSERT_GE(bodies.size(), 2u);  // the 503, then the retry (and maybe later batches)
  for (const auto& p : v.paths()) EXPECT_EQ(p, "POST /v1/sensor/findings");
  for (const auto& a : v.auth()) EXPECT_EQ(a, "Bearer tok-123");
  // The refused batch is sent again first: its findings lead the next body.
  auto first = sent_findings(bodies[0]), second = sent_findings(bodies[1]);
  ASSERT_LE(first.size(), second.size());
  EXPECT_TRUE(std::equal(first.begin(), first.end(), second.begin()));
  // Accepted bodies, together: every finding exactly once, each as the sensor printed it.
  std::vector<std::string> delivered;
  for (size_t i = 1; i < bodies.size(); ++i) {
    EXPECT_EQ(json::parse(bodies[i])["sensor"], "tap-1");
    for (const auto& f : sent_findings(bodies[i])) delivered.push_back(f);
  }
  std::vector<std::string> want;
  for (const auto& p : printed) want.push_back(json::parse(p).dump());
  EXPECT_EQ(delivered, want);  // in order
  for (const auto& p : printed) {
    bool verbatim = false;  // byte for byte, not re-rendered
    for (size_t i = 1; i < bodies.size(); ++i) verbatim |= bodies[i].find(p) != std::string::npos;
    EXPECT_TRUE(verbatim) << p;
  }
}

TEST(SensorDelivery, RefusedBatchesAreNotRetriedAndFailTheRun) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  FakeVerifier v(100, 400);
  auto r = run(sensor_on_rmcp(corpus) + v.flags());
  EXPECT_EQ(r.status, 2);  // findings were lost, and the run says so
  size_t sent = 0;
  for (const auto& b : v.bodies()) sent += sent_findings(b).size();
  EXPECT_EQ(sent, 6u);  // each finding offered once: a 400 is not retried
}

// --hosts-from-verifier treats the host list as hostile input: an id that is not a host id (it
// would go into later request paths) or a list that is not one stops the run, naming the entry;
// members of the wrong type are skipped, never a crash; link-local addresses are left out.
TEST(SensorDelivery, HostsFromTheVerifierAreCheckedBeforeUse) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto sensor = [&](const std::string& answer) {
    FakeVerifier v(0, 200, answer);
    // stderr too: the messages are what is checked.
    auto r = run("sh -c '" + sensor_on_rmcp(corpus) + v.flags() + " --hosts-from-verifier 2>&1'");
    return std::make_pair(r, v.gets());
  };
  auto [bad_id, gets] = sensor(R"({"hosts": [{"id": "../policy", "interfaces": []}]})");
  EXPECT_EQ(bad_id.status, 2);
  EXPECT_NE(bad_id.out.find("hosts[0].id: not a host id"), std::string::npos) << bad_id.out;
  EXPECT_EQ(gets, std::vector<std::string>{"/v1/sensor/hosts"});  // nothing asked for it
  auto [no_list, _] = sensor(R"({"hosts": "all"})");
  EXPECT_EQ(no_list.status, 2);
  EXPECT_NE(no_list.out.find("no \"hosts\" list"), std::string::npos) << no_list.out;
  auto [odd, odd_gets] =
      sensor(R"({"hosts": [{"id": "h0", "interfaces": [{"mac": 5, "addresses": [7]}]},)"
             R"( {"id": "h1", "interfaces": [{"mac": "02:00:00:00:00:02",)"
             R"( "addresses": ["10.0.0.2", "fe80::1"]}]}]})");
  EXPECT_EQ(odd.status, 1) << odd.out;  // ran: the RMCP findings
  EXPECT_NE(odd.out.find("1 enrolled hosts (1 addresses and MACs)"), std::string::npos) << odd.out;
  ASSERT_GE(odd_gets.size(), 2u);
  EXPECT_EQ(odd_gets[1], "/v1/hosts/h1/host-flows?since=0");
}

TEST(SensorDelivery, VerifierWithoutCredentialsIsRefused) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto r = run(sensor_on_rmcp(corpus) + " --verifier https://127.0.0.1:1");
  EXPECT_EQ(r.status, 2);
  auto bad_url = run(sensor_on_rmcp(corpus) +
                     " --verifier http://x --ca /etc/hostname --token-file /etc/hostname");
  EXPECT_EQ(bad_url.status, 2);
}

}  // namespace
