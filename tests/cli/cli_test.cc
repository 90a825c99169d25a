// The ironroot command as a user runs it: exit codes, JSON shapes, errors on stderr.
#include <gtest/gtest.h>

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
  for (const char* cmd : {"eventlog", "ima", "demo", "verifier", "agent", "hosts", "policy"})
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
