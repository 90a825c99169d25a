#include "posture/knowledge.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace ironroot::posture {

namespace data {
extern const char kVendorsJson[];
extern const char kAdvisoriesJson[];
}  // namespace data

namespace {

std::string lower_trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out(s.substr(b, e - b));
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<std::string> get_string(const nlohmann::json& j, const char* key, const std::string& where,
                               bool required = true) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (!required) return std::string();
    return malformed(where + ": missing \"" + key + "\"");
  }
  if (!it->is_string()) return malformed(where + "." + key + ": expected a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> get_strings(const nlohmann::json& j, const char* key,
                                             const std::string& where) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_array()) return malformed(where + "." + key + ": expected an array of strings");
  for (const auto& e : *it) {
    if (!e.is_string()) return malformed(where + "." + key + ": expected an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

const Vendor* Knowledge::find_vendor(std::string_view name) const {
  std::string n = lower_trim(name);
  if (n.empty()) return nullptr;
  for (const auto& v : vendors) {
    for (const auto& a : v.aliases) {
      if (!a.empty() && a[0] == '=') {
        if (n == std::string_view(a).substr(1)) return &v;
      } else if (n.find(a) != std::string::npos || (a.back() == ' ' && n + " " == a)) {
        return &v;
      }
    }
  }
  return nullptr;
}

const BmcPciId* Knowledge::find_bmc_pci(std::string_view id) const {
  for (const auto& b : bmc_pci) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

std::string Knowledge::pci_vendor_name(std::string_view vendor_id) const {
  for (const auto& [id, name] : pci_vendors) {
    if (id == vendor_id) return name;
  }
  return "";
}

bool Knowledge::is_eu(std::string_view jurisdiction) const {
  return std::find(eu_members.begin(), eu_members.end(), jurisdiction) != eu_members.end();
}

Result<Knowledge> parse_knowledge(const nlohmann::json& vendors, const nlohmann::json& advisories) {
  Knowledge k;
  if (!vendors.is_object() || !vendors.contains("vendors") || !vendors["vendors"].is_array()) {
    return malformed("vendors.json: expected an object with a \"vendors\" array");
  }
  IRONROOT_ASSIGN_OR_RETURN(k.eu_members, get_strings(vendors, "eu_members", "vendors.json"));
  for (size_t i = 0; i < vendors["vendors"].size(); ++i) {
    const auto& e = vendors["vendors"][i];
    std::string where = "vendors.json: vendors[" + std::to_string(i) + "]";
    if (!e.is_object()) return malformed(where + ": expected an object");
    Vendor v;
    IRONROOT_ASSIGN_OR_RETURN(v.name, get_string(e, "name", where));
    IRONROOT_ASSIGN_OR_RETURN(v.aliases, get_strings(e, "aliases", where));
    IRONROOT_ASSIGN_OR_RETURN(v.jurisdiction, get_string(e, "jurisdiction", where));
    IRONROOT_ASSIGN_OR_RETURN(v.parent, get_string(e, "parent", where, false));
    IRONROOT_ASSIGN_OR_RETURN(v.ref, get_string(e, "ref", where));
    if (v.aliases.empty() || v.ref.empty()) return malformed(where + ": needs aliases and a ref");
    k.vendors.push_back(std::move(v));
  }
  for (auto& v : k.vendors) v.eu = k.is_eu(v.jurisdiction);
  if (auto it = vendors.find("pci_vendors"); it != vendors.end() && it->is_object()) {
    for (const auto& [id, name] : it->items()) {
      if (id == "comment") continue;
      if (!name.is_string())
        return malformed("vendors.json: pci_vendors." + id + ": expected a string");
      k.pci_vendors.emplace_back(id, name.get<std::string>());
    }
  }
  if (auto it = vendors.find("bmc_pci"); it != vendors.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& e = (*it)[i];
      std::string where = "vendors.json: bmc_pci[" + std::to_string(i) + "]";
      BmcPciId b;
      IRONROOT_ASSIGN_OR_RETURN(b.id, get_string(e, "id", where));
      IRONROOT_ASSIGN_OR_RETURN(b.vendor, get_string(e, "vendor", where));
      IRONROOT_ASSIGN_OR_RETURN(b.description, get_string(e, "description", where));
      IRONROOT_ASSIGN_OR_RETURN(b.ref, get_string(e, "ref", where));
      k.bmc_pci.push_back(std::move(b));
    }
  }
  if (!advisories.is_object() || !advisories.contains("advisories") ||
      !advisories["advisories"].is_array()) {
    return malformed("advisories.json: expected an object with an \"advisories\" array");
  }
  for (size_t i = 0; i < advisories["advisories"].size(); ++i) {
    const auto& e = advisories["advisories"][i];
    std::string where = "advisories.json: advisories[" + std::to_string(i) + "]";
    if (!e.is_object()) return malformed(where + ": expected an object");
    Advisory a;
    IRONROOT_ASSIGN_OR_RETURN(a.id, get_string(e, "id", where));
    where += " (" + a.id + ")";
    IRONROOT_ASSIGN_OR_RETURN(a.title, get_string(e, "title", where));
    IRONROOT_ASSIGN_OR_RETURN(a.cves, get_strings(e, "cves", where));
    IRONROOT_ASSIGN_OR_RETURN(a.url, get_string(e, "url", where));
    IRONROOT_ASSIGN_OR_RETURN(a.severity, get_string(e, "severity", where));
    IRONROOT_ASSIGN_OR_RETURN(a.note, get_string(e, "note", where, false));
    if (auto v = e.find("verified"); v != e.end() && v->is_boolean()) a.verified = v->get<bool>();
    auto aff = e.find("affected");
    if (aff == e.end() || !aff->is_array() || aff->empty()) {
      return malformed(where + ": needs a non-empty \"affected\" array");
    }
    for (const auto& r : *aff) {
      AffectedRange range;
      IRONROOT_ASSIGN_OR_RETURN(range.engine, get_string(r, "engine", where));
      IRONROOT_ASSIGN_OR_RETURN(range.from, get_string(r, "from", where));
      IRONROOT_ASSIGN_OR_RETURN(range.below, get_string(r, "below", where));
      IRONROOT_ASSIGN_OR_RETURN(range.model_contains,
                                get_string(r, "model_contains", where, false));
      if (auto f = r.find("cpu_families"); f != r.end()) {
        if (!f->is_array()) return malformed(where + ".cpu_families: expected an array");
        for (const auto& n : *f) {
          if (!n.is_number_unsigned()) return malformed(where + ".cpu_families: expected numbers");
          range.cpu_families.push_back(n.get<uint32_t>());
        }
      }
      a.affected.push_back(std::move(range));
    }
    k.advisories.push_back(std::move(a));
  }
  return k;
}

const Knowledge& knowledge() {
  static const Knowledge k = [] {
    auto v = nlohmann::json::parse(data::kVendorsJson, nullptr, false);
    auto a = nlohmann::json::parse(data::kAdvisoriesJson, nullptr, false);
    auto parsed = parse_knowledge(v, a);
    if (!parsed) {
      std::fprintf(stderr, "ironroot: shipped posture data is malformed: %s\n",
                   parsed.error().message().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return k;
}

std::vector<AdvisoryMatch> match_advisories(const Posture& p) {
  std::vector<AdvisoryMatch> out;
  MeFamily family = me_family_from_name(p.me.family);
  if (family == MeFamily::kUnknown && !p.me.version.empty()) {
    family = me_family_from_version(p.me.version);
  }
  auto engine_version = [&](const std::string& engine) -> std::string {
    if (engine == "csme") {
      bool csme = family == MeFamily::kMe || family == MeFamily::kCsme11 ||
                  family == MeFamily::kCsme16 || family == MeFamily::kCsme18;
      return p.me.present && csme ? p.me.version : "";
    }
    if (engine == "txe") return p.me.present && family == MeFamily::kTxe ? p.me.version : "";
    if (engine == "sps") return p.me.present && family == MeFamily::kSps ? p.me.version : "";
    if (engine == "amt") {
      if (!p.me.amt_version.empty()) return p.me.amt_version;
      return p.me.amt_present ? p.me.version : "";
    }
    return "";
  };
  for (const auto& a : knowledge().advisories) {
    for (const auto& r : a.affected) {
      AdvisoryMatch m;
      if (r.engine == "amd-cpu" || r.engine == "amd-psp") {
        if (p.cpu.vendor != "AMD" || !p.cpu.family) continue;
        if (std::find(r.cpu_families.begin(), r.cpu_families.end(), *p.cpu.family) ==
            r.cpu_families.end()) {
          continue;
        }
        if (!r.model_contains.empty() &&
            p.cpu.model_name.find(r.model_contains) == std::string::npos) {
          continue;
        }
        m.version = r.engine == "amd-psp" ? "" : "family " + std::to_string(*p.cpu.family);
        auto bl = p.psp.attributes.find("bootloader_version");
        if (r.engine == "amd-psp" && bl != p.psp.attributes.end()) m.version = bl->second;
      } else {
        std::string v = engine_version(r.engine);
        if (v.empty()) continue;
        if (compare_versions(v, r.from) < 0) continue;
        if (!r.below.empty() && compare_versions(v, r.below) >= 0) continue;
        m.version = v;
      }
      m.advisory = a.id;
      m.engine = r.engine;
      m.status = r.below.empty() ? "possibly-affected" : "affected";
      m.url = a.url;
      m.severity = a.severity;
      m.title = a.title;
      m.verified = a.verified;
      out.push_back(std::move(m));
      break;  // one match per advisory
    }
  }
  return out;
}

}  // namespace ironroot::posture
