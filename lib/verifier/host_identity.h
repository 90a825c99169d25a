// Which enrolled host a network address belongs to, from the interfaces each agent reports in
// its posture (posture.interfaces: MACs and addresses). The verifier uses it to attribute a
// sensor's finding to a host when the sensor did not name one it knows.
//
//   HostIdentities ids;
//   for (host : hosts) ids.add(host.id, host.posture_json);
//   if (auto m = ids.match(finding_flow_json)) attribute(m->host_id, m->matched_by);
//
// An identity that two hosts claim (cloned VMs, hosts behind one NAT address, test fleets on one
// machine) names neither: a finding is never pinned on the wrong host.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>

namespace ironroot::verifier {

class HostIdentities {
 public:
  // Adds the MACs and addresses in a stored posture ({"latest":..,"baseline":..} or a posture).
  void add(const std::string& host_id, const std::string& posture_json);

  struct Match {
    std::string host_id;
    std::string matched_by;  // "src_mac", "dst_mac", "src", "dst"
    std::string identity;    // the MAC or address that matched
  };
  // The first end of the flow ({"src_mac","dst_mac","src","dst",...}) that exactly one host
  // claims, MACs first (addresses can be translated or shared; a MAC on the host's segment is
  // its own).
  std::optional<Match> match(const nlohmann::json& flow) const;

  size_t size() const { return owners_.size(); }

 private:
  std::map<std::string, std::set<std::string>> owners_;  // canonical MAC or address -> host ids
};

// Canonical forms, so that a sensor's "02:00:00:00:77:02" and an agent's "02:00:00:00:77:02" or
// "2001:DB8::1" and "2001:db8:0::1" meet. "" when the text is neither.
std::string canonical_mac(const std::string& text);
std::string canonical_ip(const std::string& text);

}  // namespace ironroot::verifier
