// `ironroot result` as a user runs it: keygen, sign, verify (exit codes 0/1/2, JSON), show.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ear/ear.h"
#include "support/corpus.h"

namespace ironroot {
namespace {

using nlohmann::json;
using testing::run;

const std::string kBin = IRONROOT_BINARY;

class ResultCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "result_cli.XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string f(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& data) const {
    std::ofstream(f(name), std::ios::binary) << data;
  }
  // EAR claims with one submod whose executables claim is `exec`; nonce 0x11 * 16.
  std::string claims(int exec) const {
    json vec = {{"instance-identity", 2}, {"hardware", 2}, {"executables", exec}};
    std::string status(ear::tier_name(ear::tier_of(static_cast<int8_t>(exec))));
    return json{{"eat_profile", std::string(ear::kEarProfile)},
                {"iat", 1764000000},
                {"eat_nonce", "EREREREREREREREREREREQ"},
                {"ear.verifier-id", {{"developer", "ironroot"}, {"build", "test"}}},
                {"submods",
                 {{"host-1",
                   {{"ear.status", status},
                    {"ear.trustworthiness-vector", vec},
                    {"ear.ironroot.reasons", {"executables: code " + std::to_string(exec)}}}}}}}
        .dump();
  }
  std::string dir_;
};

TEST_F(ResultCli, KeygenSignVerify) {
  for (const char* alg : {"ES256", "EdDSA"}) {
    SCOPED_TRACE(alg);
    std::string key = f(std::string(alg) + ".pem"), jwks = f(std::string(alg) + ".jwks");
    auto kg = run(kBin + " result keygen --alg " + alg + " --out " + key + " --jwks " + jwks +
                  " > " + key + ".pub");
    ASSERT_EQ(kg.status, 0);
    EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::group_read,
              std::filesystem::perms::none);
    // Never overwrites a key.
    EXPECT_EQ(run(kBin + " result keygen --alg " + alg + " --out " + key).status, 2);

    write("good.json", claims(2));
    write("warn.json", claims(33));
    ASSERT_EQ(run(kBin + " result sign --key " + key + " " + f("good.json") + " > " + f("good.jwt"))
                  .status,
              0);
    ASSERT_EQ(run(kBin + " result sign --key " + key + " " + f("warn.json") + " > " + f("warn.jwt"))
                  .status,
              0);

    const std::string now = " --now 1764000000";
    // Valid and affirming: 0, with both key forms, and with the right nonce.
    auto ok = run(kBin + " result verify " + f("good.jwt") + " --key " + key + ".pub" + now);
    EXPECT_EQ(ok.status, 0);
    EXPECT_NE(ok.out.find("status:     affirming"), std::string::npos) << ok.out;
    EXPECT_NE(ok.out.find("executables"), std::string::npos);
    auto js = run(kBin + " result verify --json " + f("good.jwt") + " --jwks " + jwks + now +
                  " --nonce " + std::string(32, '1'));
    ASSERT_EQ(js.status, 0);
    json doc = json::parse(js.out);
    EXPECT_EQ(doc["verified"], true);
    EXPECT_EQ(doc["alg"], alg);
    EXPECT_EQ(doc["status"], "affirming");
    EXPECT_EQ(doc["claims"]["submods"]["host-1"]["ear.trustworthiness-vector"]["executables"], 2);
    // From stdin.
    EXPECT_EQ(run(kBin + " result verify - --jwks " + jwks + now + " < " + f("good.jwt")).status,
              0);
    // Valid but warning: 1.
    auto warn = run(kBin + " result verify --json " + f("warn.jwt") + " --jwks " + jwks + now);
    EXPECT_EQ(warn.status, 1);
    EXPECT_EQ(json::parse(warn.out)["status"], "warning");
    // Refused: wrong nonce, future iat, wrong key: 1, with the reason in JSON.
    auto nonce = run(kBin + " result verify --json " + f("good.jwt") + " --jwks " + jwks + now +
                     " --nonce " + std::string(32, '2'));
    EXPECT_EQ(nonce.status, 1);
    EXPECT_NE(json::parse(nonce.out)["error"].get<std::string>().find("eat_nonce"),
              std::string::npos);
    EXPECT_EQ(
        run(kBin + " result verify " + f("good.jwt") + " --jwks " + jwks + " --now 1763990000")
            .status,
        1);
    // Malformed: 2.
    std::string token = testing::read_text(f("good.jwt"));
    write("trailing.jwt", token.substr(0, token.size() - 1) + ".extra\n");
    auto bad = run(kBin + " result verify --json " + f("trailing.jwt") + " --jwks " + jwks + now);
    EXPECT_EQ(bad.status, 2);
    EXPECT_EQ(json::parse(bad.out)["malformed"], true);
    EXPECT_EQ(run(kBin + " result verify " + f("good.jwt") + " --key " + jwks).status, 2);
    EXPECT_EQ(
        run(kBin + " result verify " + f("good.jwt") + " --jwks " + jwks + " --nonce xyz").status,
        2);
    EXPECT_EQ(run(kBin + " result verify " + f("good.jwt")).status, 2);

    // show: decodes without a key, says it is unverified.
    auto show = run(kBin + " result show " + f("warn.jwt"));
    EXPECT_EQ(show.status, 0);
    EXPECT_NE(show.out.find("UNVERIFIED"), std::string::npos);
    EXPECT_NE(show.out.find("executables: code 33"), std::string::npos) << show.out;
    auto show_json = run(kBin + " result show --json " + f("warn.jwt"));
    ASSERT_EQ(show_json.status, 0);
    EXPECT_EQ(json::parse(show_json.out)["verified"], false);
    EXPECT_EQ(json::parse(show_json.out)["status"], "warning");
    EXPECT_EQ(run(kBin + " result show " + f("good.json")).status, 2);
  }
}

TEST_F(ResultCli, HelpDocumentsExitCodes) {
  auto r = run(kBin + " result verify --help");
  EXPECT_EQ(r.status, 0);
  for (const char* s : {"--key", "--jwks", "--nonce", "--json", "--alg", "Exit 0", "2:"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace ironroot
