// `ironroot sensor` as scripts use it: JSON lines on the real captures, exit codes, --help,
// and bad input refused with a message.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

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

// Where flows begin and end, against tshark on every corpus capture: tshark's Community ID per
// packet, grouped by flow and cut wherever a flow was silent for the idle timeout, must give the
// same flows, times and packet counts as --flows. Captures hold silences of minutes within one
// read block, so this holds only if a late packet ends an idle flow itself.
TEST(SensorCli, FlowsEndAtIdleGapsAsTsharksTimestampsSay) {
  IRONROOT_REQUIRE_CORPUS(dir);
  if (!ironroot::testing::have_program("tshark")) GTEST_SKIP() << "tshark not installed";
  constexpr uint64_t kIdleNs = 60'000'000'000;
  using Segment = std::tuple<uint64_t, uint64_t, uint64_t>;  // first, last, packets
  size_t files = 0, flows = 0, splits = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/pcap")) {
    std::string path = e.path().string();
    if (!path.ends_with(".pcap") && !path.ends_with(".pcapng")) continue;
    ++files;
    std::map<std::string, std::vector<Segment>> ours, theirs;
    auto r = run(std::string(IRONROOT_BINARY) + " sensor --pcap " + path +
                 " --json --flows --idle-timeout 60");
    ASSERT_NE(r.status, 2) << path << ": " << r.out;
    for (const auto& j : lines(r.out)) {
      if (j["type"] != "flow") continue;
      std::string key =
          j["community_id"].get<std::string>() + "/" + std::to_string(j.value("vlan", 0));
      ours[key].emplace_back(
          j["first_ns"].get<uint64_t>(), j["last_ns"].get<uint64_t>(),
          j["orig"]["packets"].get<uint64_t>() + j["resp"]["packets"].get<uint64_t>());
    }
    auto t = run("tshark -n -r " + path +
                 " --enable-protocol communityid -T fields -E occurrence=f -e frame.time_epoch "
                 "-e communityid -e vlan.id 2>/dev/null");
    ASSERT_EQ(t.status, 0) << path;
    std::map<std::string, std::vector<uint64_t>> times;
    std::istringstream in(t.out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string ts, cid, vlan;
      std::getline(f, ts, '\t');
      std::getline(f, cid, '\t');
      std::getline(f, vlan, '\t');
      if (cid.empty()) continue;  // not IP
      size_t dot = ts.find('.');
      ASSERT_NE(dot, std::string::npos) << line;
      std::string frac = (ts.substr(dot + 1) + "000000000").substr(0, 9);
      uint64_t ns = std::stoull(ts.substr(0, dot)) * 1'000'000'000ULL + std::stoull(frac);
      times[cid + "/" + (vlan.empty() ? "0" : vlan)].push_back(ns);
    }
    for (auto& [key, ts] : times) {
      std::sort(ts.begin(), ts.end());
      auto& segs = theirs[key];
      for (uint64_t x : ts) {
        if (segs.empty() || std::get<1>(segs.back()) + kIdleNs <= x) {
          if (!segs.empty()) ++splits;
          segs.emplace_back(x, x, 1);
        } else {
          std::get<1>(segs.back()) = x;
          ++std::get<2>(segs.back());
        }
      }
    }
    for (auto& [key, segs] : ours) std::sort(segs.begin(), segs.end());
    EXPECT_EQ(ours, theirs) << path;
    flows += ours.size();
  }
  EXPECT_GE(files, 13u);
  EXPECT_GT(flows, 1000u);
  EXPECT_GT(splits, 3u);  // the captures do hold flows silent for longer than the timeout
}

TEST(SensorCli, BadInputIsRefusedWithExit2) {
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) + " sensor --pcap /etc/hostname").status, 2);
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) + " sensor").status, 2);
  EXPECT_EQ(
      run(std::string(IRONROOT_BINARY) + " sensor --pcap /etc/hostname --host nonsense").status, 2);
  // --hosts-from-verifier needs --verifier and replaces --host.
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) + " sensor --pcap /etc/hostname --hosts-from-verifier")
                .status,
            2);
  EXPECT_EQ(run(std::string(IRONROOT_BINARY) +
                " sensor --pcap /etc/hostname --hosts-from-verifier --verifier "
                "https://127.0.0.1:1 --host 10.0.0.1")
                .status,
            2);
  auto help = run(std::string(IRONROOT_BINARY) + " sensor --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--host-flows"), std::string::npos);
  EXPECT_NE(help.out.find("host-flows"), std::string::npos);
  EXPECT_NE(help.out.find("--hosts-from-verifier"), std::string::npos);
  EXPECT_NE(help.out.find("--prefault"), std::string::npos);
}

}  // namespace
