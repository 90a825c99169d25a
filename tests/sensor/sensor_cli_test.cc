// `ironroot sensor` as scripts use it: JSON lines on the real captures, exit codes, --help,
// and bad input refused with a message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "support/corpus.h"

namespace {

using ironroot::testing::run;
using nlohmann::json;

std::vector<json> lines(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
  return v;
}

TEST(SensorCli, RmcpCaptureGivesFindingsAndExit1) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto r =
      run(std::string(IRONROOT_BINARY) + " sensor --pcap " + dir + "/pcap/ndpi__rmcp.pcap --json");
  EXPECT_EQ(r.status, 1);
  auto v = lines(r.out);
  std::multiset<std::string> kinds;
  for (const auto& j : v) {
    if (j["type"] == "finding") {
      kinds.insert(j["kind"].get<std::string>());
      EXPECT_EQ(j["flow"]["dport"], 623);
      EXPECT_TRUE(j["flow"]["community_id"].get<std::string>().starts_with("1:"));
      EXPECT_FALSE(j["message"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(kinds.count("ipmi_auth_capabilities_probe"), 4u);
  EXPECT_EQ(kinds.count("rmcp_asf_presence_ping"), 2u);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.back()["type"], "summary");
  EXPECT_EQ(v.back()["frames"], 6);
}

TEST(SensorCli, OrdinaryCaptureExit0WithFlows) {
  IRONROOT_REQUIRE_CORPUS(dir);
  auto r = run(std::string(IRONROOT_BINARY) + " sensor --pcap " + dir +
               "/pcap/tcpreplay__test.pcap --json --flows");
  EXPECT_EQ(r.status, 0);
  size_t flows = 0;
  for (const auto& j : lines(r.out)) {
    EXPECT_NE(j["type"], "finding");
    if (j["type"] == "flow") ++flows;
  }
  EXPECT_GT(flows, 10u);
}

TEST(SensorCli, BadInputIsRefusedWithExit2) {
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) + " sensor --pcap /etc/hostname").status, 2);
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) + " sensor").status, 2);
  EXPECT_EQ(
      run(std::string(IRONROOT_BINARY) + " sensor --pcap /etc/hostname --host nonsense").status, 2);
  auto help = run(std::string(IRONROOT_BINARY) + " sensor --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--host-flows"), std::string::npos);
  EXPECT_NE(help.out.find("host-flows"), std::string::npos);
}

}  // namespace
