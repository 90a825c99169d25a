// The ironroot command as a user runs it: exit codes, JSON shapes, errors on stderr.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/corpus.h"

namespace ironroot {
namespace {

using nlohmann::json;
using testing::run;

const std::string kBin = IRONROOT_BINARY;

TEST(Cli, HelpListsEverySubcommand) {
  auto r = run(kBin + " --help");
  EXPECT_EQ(r.status, 0);
  for (const char* cmd : {"eventlog", "ima", "demo", "verifier", "agent", "hosts", "policy",
                          "principal", "log", "bench", "result", "posture", "sensor", "report"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  auto sub = run(kBin + " eventlog replay --help");
  EXPECT_NE(sub.out.find("--json"), std::string::npos);
  EXPECT_NE(sub.out.find("--strict"), std::string::npos);
}

TEST(Cli, ReplayJsonHasTheDocumentedShape) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto r =
      run(kBin + " eventlog replay --json " + corpus + "/eventlog/go-tpm-tools/glinux-alex.bin");
  ASSERT_EQ(r.status, 0);
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["events"], 29);
  EXPECT_EQ(doc["pcrs"]["sha1"]["0"], "29d236609a5f9cc6912af44ba5f57b13a17c8a84");
  EXPECT_EQ(doc["pcrs"]["sha256"].size(), 8u);  // only extended PCRs
  EXPECT_FALSE(doc["pcrs"]["sha256"].contains("10"));
}

TEST(Cli, ShowFormatsAgree) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string log = corpus + "/eventlog/go-attestation/sb_cert_eventlog";
  auto j = run(kBin + " eventlog show --format json " + log);
  ASSERT_EQ(j.status, 0);
  json doc = json::parse(j.out);
  EXPECT_EQ(doc["events"].size(), 15u);
  auto y = run(kBin + " eventlog show --format yaml " + log);
  ASSERT_EQ(y.status, 0);
  EXPECT_NE(y.out.find("type_name: EV_EFI_VARIABLE_DRIVER_CONFIG"), std::string::npos);
  auto t = run(kBin + " eventlog show " + log);
  ASSERT_EQ(t.status, 0);
  EXPECT_NE(t.out.find("EV_SEPARATOR"), std::string::npos);
}

TEST(Cli, StrictReplayFailsOnAMismatch) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string log = corpus + "/eventlog/go-tpm-tools/gdc-host.bin";
  EXPECT_EQ(run(kBin + " eventlog replay " + log).status, 0);
  auto strict = run(kBin + " eventlog replay --strict " + log);
  EXPECT_EQ(strict.status, 1);
  EXPECT_NE(strict.out.find("MISMATCH: event 3 "), std::string::npos) << strict.out;
  EXPECT_EQ(
      run(kBin + " eventlog replay --strict " + corpus + "/eventlog/go-tpm-tools/rhel8-uefi.bin")
          .status,
      0);
}

TEST(Cli, BadInputExitsTwoWithTheReason) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto r = run(kBin + " eventlog replay " + corpus +
               "/eventlog/keylime/binary_bios_measurements-bogus 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(run(kBin + " eventlog replay /nonexistent").status, 2);
  EXPECT_EQ(
      run(kBin + " eventlog show --format xml " + corpus + "/eventlog/tpm2-tools/event.bin").status,
      2);
}

TEST(Cli, ConfigFileGivesOptionsAndTheCommandLineWins) {
  char dir[] = "/tmp/ironroot-cli-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string d = dir;
  std::ofstream(d + "/v.toml") << "listen = \"127.0.0.1:0\"\nbank = \"md5\"\n";
  auto bad =
      run("(" + kBin + " verifier --config " + d + "/v.toml --data-dir " + d + "/data 2>&1)");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("unknown bank md5"), std::string::npos) << bad.out;
  // --bank on the command line overrides the file: the verifier starts (and timeout stops it).
  auto good = run("(timeout 3 " + kBin + " verifier --config " + d +
                  "/v.toml --bank sha256 --data-dir " + d + "/data --log-format json 2>&1)");
  EXPECT_EQ(good.status, 124) << good.out;
  EXPECT_NE(good.out.find("verifier listening"), std::string::npos) << good.out;
  std::ofstream(d + "/bad.toml") << "no-such-option = 1\n";
  EXPECT_EQ(run(kBin + " verifier --config " + d + "/bad.toml --data-dir " + d + "/data").status,
            2);
  std::filesystem::remove_all(d);
}

// A free loopback TCP port (bound and released; good enough for a test).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(Cli, OperatorCommandsTalkToARunningVerifier) {
  char dir[] = "/tmp/ironroot-cli-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string d = dir;
  const std::string url = "https://127.0.0.1:" + std::to_string(free_port());
  const std::string listen = url.substr(8);
  // The verifier in the background for at most 20 s.
  ASSERT_EQ(std::system(("timeout 20 " + kBin + " verifier --data-dir " + d + "/data --listen " +
                         listen + " >/dev/null 2>&1 &")
                            .c_str()),
            0);
  const std::string op = " --verifier " + url + " --data-dir " + d + "/data";
  testing::CommandResult hosts;
  for (int i = 0; i < 100; ++i) {  // until it listens
    hosts = run(kBin + " hosts --json" + op);
    if (hosts.status == 0) break;
    ::usleep(100 * 1000);
  }
  ASSERT_EQ(hosts.status, 0) << hosts.out;
  EXPECT_EQ(json::parse(hosts.out)["hosts"], json::array());
  auto table = run(kBin + " hosts" + op);
  EXPECT_NE(table.out.find("HOST"), std::string::npos);
  // Nothing approved yet: a clear refusal, exit 2.
  auto show = run("(" + kBin + " policy show" + op + " 2>&1)");
  EXPECT_EQ(show.status, 2);
  EXPECT_NE(show.out.find("no reference values yet"), std::string::npos) << show.out;
  // Reference values from a file: proposed by the operator, approved by the approver.
  std::ofstream(d + "/refs.json") << R"({"name": "lab", "bank": "sha256", "pcrs": {"0": [")"
                                  << std::string(64, 'a') << R"("]}})";
  auto proposed = run(kBin + " policy set " + d + "/refs.json" + op);
  ASSERT_EQ(proposed.status, 0) << proposed.out;
  const std::string change = json::parse(proposed.out)["change"]["id"];
  EXPECT_EQ(run(kBin + " policy show" + op + " 2>/dev/null").status, 2) << "pending: not in force";
  auto self = run("(" + kBin + " policy approve " + change + op + " --as operator 2>&1)");
  EXPECT_EQ(self.status, 2);
  EXPECT_NE(self.out.find("lacks the approver role"), std::string::npos) << self.out;
  auto approved = run(kBin + " policy approve " + change + op + " --comment 'lab values'");
  ASSERT_EQ(approved.status, 0) << approved.out;
  EXPECT_EQ(json::parse(approved.out)["decided_by"], "approver");
  auto shown = run(kBin + " policy show" + op);
  ASSERT_EQ(shown.status, 0);
  EXPECT_EQ(json::parse(shown.out)["pcrs"]["0"][0], std::string(64, 'a'));
  // A wrong token is refused.
  std::ofstream(d + "/bad.token") << "not-the-token";
  auto denied = run("(" + kBin + " hosts --verifier " + url + " --ca " + d +
                    "/data/ca.pem --token-file " + d + "/bad.token 2>&1)");
  EXPECT_EQ(denied.status, 2);
  EXPECT_NE(denied.out.find("401"), std::string::npos) << denied.out;
  // A viewer added on the verifier's machine reads but cannot propose.
  auto token = run(kBin + " principal add vera --role viewer --data-dir " + d + "/data");
  ASSERT_EQ(token.status, 0) << token.out;
  std::ofstream(d + "/data/vera.token") << token.out;
  EXPECT_EQ(run(kBin + " hosts --json" + op + " --as vera").status, 0);
  auto refused = run("(" + kBin + " policy set " + d + "/refs.json" + op + " --as vera 2>&1)");
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.out.find("policy-author"), std::string::npos) << refused.out;
  auto listed = run(kBin + " principal list --json --data-dir " + d + "/data");
  EXPECT_EQ(json::parse(listed.out)["principals"].size(), 3u) << listed.out;
  EXPECT_EQ(listed.out.find(token.out.substr(0, 64)), std::string::npos) << "no token in the file";

  // The audit log, checked with its public key: online, then offline on an export.
  const std::string key = " --key " + d + "/data/audit.pub";
  auto cp = run(kBin + " log checkpoint --json" + key + op + " --out " + d + "/cp1");
  ASSERT_EQ(cp.status, 0) << cp.out;
  EXPECT_GT(json::parse(cp.out)["size"].get<int>(), 3);
  auto online = run(kBin + " log verify --json" + key + op);
  ASSERT_EQ(online.status, 0) << online.out;
  EXPECT_EQ(json::parse(online.out)["kinds"]["policy.approved"], 1);
  EXPECT_EQ(json::parse(online.out)["kinds"]["policy.proposed"], 1);
  ASSERT_EQ(run(kBin + " log export --out " + d + "/export" + key + op).status, 0);
  auto offline = run(kBin + " log verify" + key + " --checkpoint " + d +
                     "/export/checkpoint --entries " + d + "/export/entries.jsonl");
  EXPECT_EQ(offline.status, 0) << offline.out;
  EXPECT_NE(offline.out.find("OK"), std::string::npos) << offline.out;
  // One byte changed in the export: caught.
  EXPECT_EQ(run("sed -i '2s/enrol/Enrol/;2s/kind/Kind/' " + d + "/export/entries.jsonl").status, 0);
  auto tampered = run(kBin + " log verify" + key + " --checkpoint " + d +
                      "/export/checkpoint --entries " + d + "/export/entries.jsonl");
  EXPECT_EQ(tampered.status, 1) << tampered.out;
  // One entry's inclusion, and the log's growth since cp1 is consistent.
  EXPECT_EQ(run(kBin + " log verify --index 0" + key + op).status, 0);
  (void)run(kBin + " hosts" + op);
  auto cons = run(kBin + " log consistency --old " + d + "/cp1" + key + op);
  EXPECT_EQ(cons.status, 0) << cons.out;
  // A key that is not the log's: the checkpoint does not open.
  auto wrong =
      run("(" + kBin +
          " log verify --key 'other+01234567+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'" +
          " --checkpoint " + d + "/cp1 --entries " + d + "/export/entries.jsonl 2>&1)");
  EXPECT_EQ(wrong.status, 2) << wrong.out;

  (void)run("pkill -f 'ironroo[t] verifier --data-dir " + d + "'");
  std::filesystem::remove_all(d);
}

TEST(Cli, DemoShowsTheFleetTrustedThenTheTamperedHostTakenOut) {
  if (!testing::have_program("swtpm_setup")) GTEST_SKIP() << "swtpm not installed";
  // From / with nothing but the binary: the demo generates all its evidence.
  auto r = run("cd / && " + kBin + " demo --hosts 2 --tamper --exit-after 25");
  ASSERT_EQ(r.status, 0) << r.out;
  json doc = json::parse(r.out);
  ASSERT_EQ(doc["hosts"].size(), 2u);
  EXPECT_EQ(doc["hosts"][0]["id"], "host-1");
  EXPECT_EQ(doc["hosts"][0]["state"], "trusted");
  EXPECT_EQ(doc["hosts"][1]["state"], "untrusted");
  ASSERT_FALSE(doc["hosts"][1]["reasons"].empty());
  EXPECT_NE(doc["hosts"][1]["reasons"][0].get<std::string>().find("PCR 4"), std::string::npos);
  // Every child process is gone.
  EXPECT_NE(run("pgrep -f 'tpmstate dir=/tmp/ironroot-dem[o]'").status, 0);
  EXPECT_NE(run("pgrep -f 'ironroo[t] agent --verifier'").status, 0);
}

}  // namespace
}  // namespace ironroot
