// Crash safety of the audit log: the verifier process is killed with SIGKILL in the middle of a
// burst of attestations from several real agents (swtpm TPMs). After a restart on the same data
// directory, the log must (a) open at all (the journal re-hashes every entry against its last
// signed checkpoint), (b) be a consistent extension of the last checkpoint published before the
// kill, and (c) hold every attestation the verifier acknowledged to an agent, at the index it
// gave.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent.h"
#include "audit/checkpoint.h"
#include "audit/note.h"
#include "audit/proof.h"
#include "net/http.h"
#include "sim/host.h"
#include "sim/swtpm.h"
#include "support/corpus.h"
#include "tpmdev/tpm.h"

extern char** environ;

namespace ironroot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

struct Host {
  std::string id;
  std::unique_ptr<sim::Swtpm> tpm;
  std::unique_ptr<sim::SimulatedHost> sim;
  std::unique_ptr<agent::Agent> agent;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_program("swtpm")) GTEST_SKIP() << "swtpm not installed";
    std::string t = (fs::temp_directory_path() / "ironroot-crash-XXXXXX").string();
    dir_ = ::mkdtemp(t.data());
    port_ = free_port();
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (auto& h : hosts_) h.tpm->stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void start_verifier() {
    pid_ = spawn({IRONROOT_BINARY, "verifier", "--data-dir", dir_ + "/data", "--listen",
                  "127.0.0.1:" + std::to_string(port_), "--interval-ms", "500",
                  "--no-default-ek-ca", "--ek-ca", dir_ + "/tpm-ca", "--log-format", "json"},
                 dir_ + "/verifier.log");
    ASSERT_GT(pid_, 0);
    // Ready when it answers.
    for (int i = 0; i < 200; ++i) {
      if (fs::exists(dir_ + "/data/ca.pem")) {
        net::HttpsClient c("127.0.0.1", port_,
                           {testing::read_text(dir_ + "/data/ca.pem"), "", "", ""}, 2);
        auto r = c.request("GET", "/v1/health");
        if (r && r->status == 200) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the verifier did not start: " << testing::read_text(dir_ + "/verifier.log");
  }

  json op(const std::string& target, std::string* raw = nullptr) {
    net::HttpsClient c("127.0.0.1", port_, {testing::read_text(dir_ + "/data/ca.pem"), "", "", ""});
    std::string token = testing::read_text(dir_ + "/data/operator.token");
    auto r = c.request("GET", target, "", {{"Authorization", "Bearer " + token}});
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << target << ": " << r->body;
    if (raw) *raw = r->body;
    return json::parse(r->body, nullptr, false);
  }

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::vector<Host> hosts_;
};

TEST_F(CrashTest, KillNineDuringABurstLosesNoAcknowledgedEntry) {
  auto ca = sim::LocalCa::create(dir_ + "/tpm-ca");
  ASSERT_TRUE(ca) << ca.error().message();
  start_verifier();
  constexpr int kHosts = 3;
  for (int i = 0; i < kHosts; ++i) {
    Host h;
    h.id = "host-" + std::to_string(i + 1);
    auto t = sim::Swtpm::start({dir_ + "/" + h.id + "/tpm", &*ca, "sha1,sha256"});
    ASSERT_TRUE(t) << t.error().message();
    h.tpm = std::move(*t);
    h.sim = std::make_unique<sim::SimulatedHost>(dir_ + "/" + h.id + "/sfs", h.id, "fw 1.0");
    auto tpm = tpmdev::Tpm::open(h.tpm->tcti());
    ASSERT_TRUE(tpm);
    ASSERT_TRUE(h.sim->boot(**tpm));
    agent::AgentOptions ao;
    ao.verifier_url = "https://127.0.0.1:" + std::to_string(port_);
    ao.verifier_ca_file = dir_ + "/data/ca.pem";
    ao.state_dir = dir_ + "/" + h.id + "/agent";
    ao.host_id = h.id;
    ao.tcti = h.tpm->tcti();
    ao.eventlog_path = h.sim->eventlog_path();
    ao.ima_path = h.sim->ima_path();
    auto a = agent::Agent::create(ao);
    ASSERT_TRUE(a) << a.error().message();
    h.agent = std::move(*a);
    ASSERT_TRUE(h.agent->enroll());
    hosts_.push_back(std::move(h));
  }
  // The checkpoint an auditor holds before the crash.
  std::string before_text;
  op("/v1/log/checkpoint", &before_text);
  std::string vkey_text = testing::read_text(dir_ + "/data/audit.pub");
  vkey_text.pop_back();
  auto vkey = audit::parse_verifier_key(vkey_text);
  ASSERT_TRUE(vkey) << vkey.error().message();
  auto before = audit::open_checkpoint(before_text, *vkey);
  ASSERT_TRUE(before) << before.error().message();

  // The burst: every host attests as fast as it can; what the verifier acknowledged is kept.
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& h : hosts_) {
    threads.emplace_back([&, host = &h] {
      while (!stop) {
        auto r = host->agent->attest_once();
        if (!r) continue;  // the verifier is gone: nothing was acknowledged
        std::lock_guard lock(mu);
        acknowledged.emplace_back(r->log_index, host->id);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(::kill(pid_, SIGKILL), 0);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GT(acknowledged.size(), 5u) << "the burst should have been acknowledged a few times";

  // Restart on the same directory: the journal re-checks every entry against its checkpoint.
  start_verifier();
  std::string after_text;
  op("/v1/log/checkpoint", &after_text);
  auto after = audit::open_checkpoint(after_text, *vkey);
  ASSERT_TRUE(after) << after.error().message();
  ASSERT_GT(after->size, before->size);
  json cons = op("/v1/log/consistency?from=" + std::to_string(before->size) +
                 "&to=" + std::to_string(after->size));
  std::vector<std::string> b64 = cons["proof"];
  auto proof = audit::decode_proof(b64);
  ASSERT_TRUE(proof);
  EXPECT_TRUE(
      audit::verify_consistency(before->size, after->size, *proof, before->root, after->root));
  // Every acknowledged attestation is where the verifier said, and is what it said.
  for (const auto& [index, host] : acknowledged) {
    ASSERT_LT(index, after->size);
    json got = op("/v1/log/inclusion?index=" + std::to_string(index) +
                  "&size=" + std::to_string(after->size));
    json entry = json::parse(got["entry"].get<std::string>());
    EXPECT_EQ(entry["kind"], "attestation") << index;
    EXPECT_EQ(entry["host"], host) << index;
    std::vector<std::string> pb64 = got["proof"];
    auto p = audit::decode_proof(pb64);
    ASSERT_TRUE(p);
    const std::string e = got["entry"];
    EXPECT_TRUE(audit::verify_inclusion(
        audit::leaf_hash(Bytes(reinterpret_cast<const uint8_t*>(e.data()), e.size())), index,
        after->size, *p, after->root));
  }
  std::cout << "acknowledged " << acknowledged.size() << " attestations before SIGKILL; log grew "
            << before->size << " -> " << after->size << " entries\n";
}

}  // namespace
}  // namespace ironroot
