// Attributing a sensor finding to an enrolled host by the MACs and addresses agents report.
#include "verifier/host_identity.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ironroot::verifier {
namespace {

using nlohmann::json;

std::string posture_with(const json& interfaces) {
  return json{{"latest", {{"schema", "ironroot.posture/1"}, {"interfaces", interfaces}}},
              {"baseline", json::object()}}
      .dump();
}

TEST(HostIdentities, MatchesAFlowEndByMacThenAddressAndNeverAnAmbiguousOne) {
  HostIdentities ids;
  ids.add("web-1",
          posture_with(json::array({{{"name", "eth0"},
                                     {"mac", "02:00:00:00:77:02"},
                                     {"addresses", {"10.77.1.2", "2001:DB8:0::2", "fe80::1"}}}})));
  ids.add("web-2", posture_with(json::array({{{"name", "eth0"},
                                              {"mac", "02:00:00:00:77:03"},
                                              {"addresses", {"10.77.1.3", "fe80::1"}}}})));
  // A clone: the same MAC as web-3's, and a NAT address both share.
  ids.add("clone-a",
          posture_with(json::array(
              {{{"name", "eth0"}, {"mac", "02:00:00:00:99:99"}, {"addresses", {"192.0.2.50"}}}})));
  ids.add("clone-b",
          posture_with(json::array(
              {{{"name", "eth0"}, {"mac", "02:00:00:00:99:99"}, {"addresses", {"192.0.2.50"}}}})));
  ids.add("broken", "not json");
  ids.add("old-agent", json{{"latest", json::object()}}.dump());

  // The host sent it: its MAC is the source.
  auto m = ids.match({{"src_mac", "02:00:00:00:77:02"},
                      {"dst_mac", "02:00:00:00:00:01"},
                      {"src", "10.77.1.2"},
                      {"dst", "198.51.100.7"}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host_id, "web-1");
  EXPECT_EQ(m->matched_by, "src_mac");
  // A scanner probed it through a router: only the destination address is the host's.
  m = ids.match({{"src_mac", "02:00:00:00:00:fe"},
                 {"dst_mac", "02:00:00:00:00:01"},
                 {"src", "203.0.113.9"},
                 {"dst", "2001:db8::2"}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host_id, "web-1");
  EXPECT_EQ(m->matched_by, "dst");
  EXPECT_EQ(m->identity, "2001:db8::2");
  // Upper-case and dashes in the sensor's MAC.
  m = ids.match({{"dst_mac", "02-00-00-00-77-03"}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host_id, "web-2");
  // Claimed by two hosts: neither; the shared link-local address is not an identity at all.
  EXPECT_FALSE(ids.match({{"src_mac", "02:00:00:00:99:99"}, {"src", "192.0.2.50"}}));
  EXPECT_FALSE(ids.match({{"src", "fe80::1"}}));
  // Nothing known, or nonsense.
  EXPECT_FALSE(ids.match({{"src", "10.9.9.9"}, {"src_mac", "ff:ff:ff:ff:ff:ff"}}));
  EXPECT_FALSE(ids.match({{"src", 42}, {"dst", "not an address"}, {"src_mac", "02:00"}}));
  EXPECT_FALSE(ids.match(json::array()));
}

TEST(HostIdentities, CanonicalForms) {
  EXPECT_EQ(canonical_mac("B8:CE:F6:00:11:22"), "b8:ce:f6:00:11:22");
  EXPECT_EQ(canonical_mac("b8-ce-f6-00-11-22"), "b8:ce:f6:00:11:22");
  EXPECT_EQ(canonical_mac("b8:ce:f6:00:11"), "");
  EXPECT_EQ(canonical_mac("b8:ce:f6:00:11:2g"), "");
  EXPECT_EQ(canonical_mac("00:00:00:00:00:00"), "");
  EXPECT_EQ(canonical_ip("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(canonical_ip("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(canonical_ip("10.0.0.256"), "");
  EXPECT_EQ(canonical_ip(""), "");
}

}  // namespace
}  // namespace ironroot::verifier
