// ironroot posture: the shipped knowledge (data/posture/*.json, compiled in), parsed once.
//
// advisories.json: Intel CSME / SPS / TXE / AMT and AMD PSP advisories with affected version
// ranges; vendors.json: component vendors with headquarters jurisdiction, PCI vendor ids and
// known BMC PCI functions. Every entry carries a reference.
//
//   const auto& k = posture::knowledge();
//   const posture::Vendor* v = k.find_vendor("American Megatrends International, LLC.");
//   for (const auto& m : posture::match_advisories(posture)) ...
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "posture/posture.h"

namespace ironroot::posture {

struct Vendor {
  std::string name;
  std::vector<std::string> aliases;  // lower-case substrings, or exact ids prefixed "="
  std::string jurisdiction;          // ISO 3166 alpha-2 of the headquarters: "US", "TW", "DE"
  std::string parent;                // owner when it changes the answer ("SoftBank (JP)")
  std::string ref;
  bool eu = false;  // jurisdiction is an EU member state
};

struct AffectedRange {
  std::string engine;                  // "csme", "txe", "sps", "amt", "amd-psp", "amd-cpu"
  std::string from;                    // inclusive, dotted
  std::string below;                   // exclusive; "" = no fixed version known in the data
  std::vector<uint32_t> cpu_families;  // amd-cpu / amd-psp: CPUID families (23, 25, ...)
  std::string model_contains;          // amd-psp: restrict to model names containing this
};

struct Advisory {
  std::string id;  // "INTEL-SA-00086"
  std::string title;
  std::vector<std::string> cves;
  std::string url;
  std::string severity;   // as the vendor rated it: "critical", "high", "medium"
  bool verified = false;  // ranges checked against the vendor's page (see docs/posture.md)
  std::string note;
  std::vector<AffectedRange> affected;
};

struct BmcPciId {
  std::string id;  // "1a03:2000"
  std::string vendor, description, ref;
};

struct Knowledge {
  std::vector<Vendor> vendors;
  std::vector<Advisory> advisories;
  std::vector<BmcPciId> bmc_pci;
  std::vector<std::pair<std::string, std::string>> pci_vendors;  // "8086" -> "Intel"
  std::vector<std::string> eu_members;

  // The vendor whose alias matches `name` (case-insensitive), or nullptr.
  const Vendor* find_vendor(std::string_view name) const;
  const BmcPciId* find_bmc_pci(std::string_view id) const;
  std::string pci_vendor_name(std::string_view vendor_id) const;
  bool is_eu(std::string_view jurisdiction) const;
};

// The compiled-in knowledge. Aborts only if the shipped data is malformed (a build defect,
// caught by the tests).
const Knowledge& knowledge();
Result<Knowledge> parse_knowledge(const nlohmann::json& vendors, const nlohmann::json& advisories);

struct AdvisoryMatch {
  std::string advisory;  // id
  std::string engine;
  std::string version;  // the version that matched
  std::string status;   // "affected", "possibly-affected" (no fixed version in the data)
  std::string url;
  std::string severity;
  std::string title;
  bool verified = false;
};

std::vector<AdvisoryMatch> match_advisories(const Posture& p);

}  // namespace ironroot::posture
