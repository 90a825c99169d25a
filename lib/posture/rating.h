// ironroot posture: a per-host rating on fwupd's Host Security ID attributes, plus ironroot's own.
//
// Where the facts overlap, the attribute ids, levels and result strings are fwupd's
// (docs/hsi-tests.d at fwupd 6e95049; the runtime attributes follow Debian's fwupd 2.0.20), so
// the two can be compared line by line. fwupd gives no number to rack-mount or blade chassis;
// ironroot rates every chassis and adds the sub-OS engines fwupd does not cover (BMC, AMT
// provisioning, advisories on ME / AMT / PSP versions). docs/posture.md has the table.
//
//   posture::Rating r = posture::rate(p);
//   r.fwupd_hsi == "HSI:INVALID:chassis[Rack Mount Chassis]", r.ironroot_level == 1
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "posture/knowledge.h"
#include "posture/posture.h"

namespace ironroot::posture {

struct HsiAttribute {
  std::string id;      // "org.fwupd.hsi.Mei.Version" or "org.ironroot.Bmc.RedfishHostInterface"
  int level = 0;       // 1..4; 0 = runtime / informational (feeds the "!" suffix, not the level)
  std::string result;  // fwupd's result strings: "enabled", "not-found", "locked", ...
  bool success = false;
  std::string reason;  // what it was read from, for people
};

struct Rating {
  std::vector<HsiAttribute> attributes;
  int fwupd_level = 0;  // fwupd's calculation over the fwupd attributes alone
  bool runtime_issues = false;
  std::string fwupd_hsi;   // "HSI:2!" or "HSI:INVALID:chassis[Rack Mount Chassis]", as fwupd
  int ironroot_level = 0;  // the same calculation over every attribute, any chassis
  std::vector<AdvisoryMatch> advisories;
};

Rating rate(const Posture& p);

// fwupd's rule: the highest level j such that no attribute at a level <= j failed and level j
// has at least one success.
int hsi_level(const std::vector<HsiAttribute>& attributes, bool fwupd_only);

// True for the chassis types fwupd computes an HSI number for.
bool fwupd_rates_chassis(const std::string& chassis_type);

nlohmann::json to_json(const Rating& r);

}  // namespace ironroot::posture
