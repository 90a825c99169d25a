// ironroot posture | posture compare | report sovereignty: platform posture and silicon
// sovereignty, on the live system, a captured root, dmidecode text or exported posture JSON.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/file.h"
#include "output.h"
#include "posture/knowledge.h"
#include "posture/posture.h"
#include "posture/rating.h"
#include "posture/smbios.h"
#include "posture/sovereignty.h"

namespace ironroot::cli {
namespace {

namespace ps = posture;
using Json = nlohmann::ordered_json;

constexpr uint64_t kMaxInput = 64 << 20;

Result<std::string> read_text(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path, kMaxInput));
  Bytes b = f.bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

Result<ps::Posture> from_dmidecode(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(std::string text, read_text(path));
  auto info = ps::parse_dmidecode_text(text);
  if (!info) return std::move(info).error().with_context(path);
  ps::Posture p = ps::posture_from_smbios(*info);
  p.source = "dmidecode:" + path;
  p.host = base_name(path);
  return p;
}

// A raw table (/sys/firmware/dmi/tables/DMI) or a `dmidecode --dump-bin` file (entry point at
// 0, table at 32).
Result<ps::Posture> from_smbios(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path, kMaxInput));
  Bytes b = f.bytes();
  std::string version;
  if (b.size() > 4 && b[0] == '_' && b[1] == 'S' && b[2] == 'M') {
    auto v = ps::parse_smbios_entry_point(b);
    if (!v) return std::move(v).error().with_context(path);
    version = *v;
    if (b.size() <= 32) return malformed(path + ": dump has no table after its entry point");
    b = b.subspan(32);
  }
  auto info = ps::parse_smbios_table(b, version);
  if (!info) return std::move(info).error().with_context(path);
  ps::Posture p = ps::posture_from_smbios(*info);
  p.source = "smbios:" + path;
  p.host = base_name(path);
  return p;
}

Result<ps::Posture> from_posture_json(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(std::string text, read_text(path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return malformed(path + ": not JSON");
  // Accept `ironroot posture --json` output, which nests nothing: the posture is the document.
  auto p = ps::from_json(j);
  if (!p) return std::move(p).error().with_context(path);
  return p;
}

Result<ps::Policy> load_policy(const std::string& path) {
  if (path.empty()) return ps::parse_policy(ps::default_policy_text());
  IRONROOT_ASSIGN_OR_RETURN(std::string text, read_text(path));
  auto pol = ps::parse_policy(text);
  if (!pol) return std::move(pol).error().with_context(path);
  return pol;
}

std::string yn(const std::optional<bool>& b) {
  return b ? (*b ? "yes" : "no") : "unknown";
}
std::string or_dash(const std::string& s) {
  return s.find_first_not_of(' ') == std::string::npos ? "-" : s;
}

void print_text(const ps::Posture& p, const ps::Rating& r, const ps::PolicyDecision& d,
                const std::vector<ps::ComponentOrigin>& origins) {
  auto& o = std::cout;
  o << "host " << or_dash(p.host) << " (" << p.source << ")\n";
  o << "  system    " << or_dash(p.platform.system_manufacturer + " " + p.platform.system_product)
    << ", chassis " << or_dash(p.platform.chassis_type) << "\n";
  o << "  firmware  " << or_dash(p.platform.bios_vendor) << " " << p.platform.bios_version << " "
    << p.platform.bios_date << "\n";
  o << "  cpu       " << or_dash(p.cpu.vendor) << ": " << or_dash(p.cpu.model_name);
  if (p.cpu.family)
    o << " (family " << *p.cpu.family << " model " << p.cpu.model.value_or(0) << " stepping "
      << p.cpu.stepping.value_or(0) << ")";
  if (p.cpu.microcode) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " microcode 0x%llx",
                  static_cast<unsigned long long>(*p.cpu.microcode));
    o << buf;
  }
  o << "\n";
  o << "  tpm       "
    << (p.tpm.present ? "TPM " + p.tpm.version + " " + p.tpm.manufacturer + " fw " + p.tpm.firmware
                      : "none")
    << "\n";
  o << "  bmc       " << (p.bmc.present ? "present" : "none");
  if (p.bmc.ipmi_smbios) o << ", IPMI " << p.bmc.ipmi_interface;
  if (p.bmc.host_interface) o << ", host interface" << (p.bmc.redfish ? " (Redfish)" : "");
  if (p.bmc.ipmi_device) o << ", /dev/ipmi0";
  for (const auto& pci : p.bmc.pci) o << ", " << pci;
  o << "\n";
  for (const auto& n : p.interfaces) {
    o << "  net       " << n.name << " " << or_dash(n.mac);
    for (const auto& a : n.addresses) o << " " << a;
    if (!n.pci_slot.empty()) o << " (PCI " << n.pci_slot << ")";
    o << "\n";
  }
  if (p.me.present) {
    o << "  intel me  " << or_dash(p.me.family) << " " << or_dash(p.me.version) << " from "
      << or_dash(p.me.source) << ": " << or_dash(p.me.working_state) << ", mode "
      << or_dash(p.me.operation_mode) << ", error " << p.me.error_code
      << (p.me.hap ? ", HAP/disabled" : "");
    if (p.me.manufacturing_mode) o << ", manufacturing mode " << yn(p.me.manufacturing_mode);
    if (!p.me.fw_sku.empty()) o << ", SKU " << p.me.fw_sku;
    o << "\n            HFSTS";
    for (uint32_t h : p.me.hfsts) {
      char buf[12];
      std::snprintf(buf, sizeof buf, " %08X", h);
      o << buf;
    }
    o << "\n";
    if (!p.me.amt_provisioning.empty())
      o << "  intel amt " << or_dash(p.me.amt_version) << " " << p.me.amt_provisioning << "\n";
  }
  if (p.psp.present || p.psp.sev) {
    o << "  amd psp   "
      << (p.psp.present ? p.psp.pci_slot + " " + p.psp.pci_id + " driver " + or_dash(p.psp.driver)
                        : "not visible")
      << ", SEV " << yn(p.psp.sev) << ", SEV-ES " << yn(p.psp.sev_es) << ", SEV-SNP "
      << yn(p.psp.sev_snp) << "\n";
  }
  if (p.source == "live" || p.source.rfind("root:", 0) == 0) {
    const auto& s = p.security;
    o << "  security  IOMMU " << yn(s.iommu) << ", pre-boot DMA " << yn(s.preboot_dma)
      << ", Secure Boot " << (s.efi ? yn(s.secure_boot) : "no EFI") << ", lockdown "
      << or_dash(s.lockdown) << ", taint " << (s.taint ? std::to_string(*s.taint) : "unknown")
      << ", memory encryption " << or_dash(s.memory_encryption) << "\n";
  }
  o << "sub-OS engines\n";
  if (p.subos_engines.empty()) o << "  (none seen)\n";
  for (const auto& e : p.subos_engines) {
    o << "  " << e.kind << "  " << or_dash(e.vendor) << " " << or_dash(e.version) << "  " << e.state
      << (e.network_capable ? "  network-capable" : "") << "\n";
  }
  o << "rating    fwupd " << r.fwupd_hsi << ", ironroot HSI-" << r.ironroot_level
    << " (any chassis)\n";
  for (const auto& a : r.attributes) {
    o << "  " << (a.success ? "ok  " : "FAIL") << " "
      << (a.level ? "HSI-" + std::to_string(a.level) : "runtime") << "  " << a.id << ": "
      << a.result << "  (" << a.reason << ")\n";
  }
  if (!r.advisories.empty()) o << "advisories\n";
  for (const auto& m : r.advisories) {
    o << "  " << m.advisory << " " << m.status << " (" << m.engine << " " << m.version << ")"
      << (m.verified ? "" : " [range not verified]") << "  " << m.url << "\n";
  }
  o << "origins\n";
  for (const auto& c : origins) {
    o << "  " << c.role << ": " << c.name << " -> " << or_dash(c.vendor) << " ("
      << (c.jurisdiction.empty() ? "unknown" : c.jurisdiction) << (c.eu ? ", EU" : "") << ")\n";
  }
  o << "policy    " << d.decision << "\n";
  for (const auto& h : d.hits) {
    o << "  " << h.effect << ": " << h.name << (h.detail.empty() ? "" : " [" + h.detail + "]")
      << "\n";
  }
  for (const auto& n : p.notes) o << "note: " << n << "\n";
}

struct PostureArgs {
  std::string root;
  std::string dmidecode;
  std::string smbios;
  std::string posture_file;
  std::string policy;
  bool json = false;
  bool cyclonedx = false;
  bool query_amt = false;
};

int run_posture(const PostureArgs& a) {
  Result<ps::Posture> p = Error(ErrorCode::kInternal, "");
  if (!a.dmidecode.empty()) {
    p = from_dmidecode(a.dmidecode);
  } else if (!a.smbios.empty()) {
    p = from_smbios(a.smbios);
  } else if (!a.posture_file.empty()) {
    p = from_posture_json(a.posture_file);
  } else {
    ps::CollectOptions opts;
    opts.query_amt = a.query_amt;
    p = ps::collect_posture(a.root.empty() ? "/" : a.root, opts);
  }
  if (!p) {
    print_error(p.error().message());
    return kExitError;
  }
  auto policy = load_policy(a.policy);
  if (!policy) {
    print_error(policy.error().message());
    return kExitError;
  }
  ps::Rating rating = ps::rate(*p);
  ps::PolicyDecision decision = ps::evaluate_policy(*policy, *p);
  auto origins = ps::component_origins(*p);
  if (a.cyclonedx) {
    std::cout << ps::cyclonedx_bom(*p, rating).dump(2) << "\n";
  } else if (a.json) {
    nlohmann::json j = ps::to_json(*p);
    j["rating"] = ps::to_json(rating);
    nlohmann::json hits = nlohmann::json::array();
    for (const auto& h : decision.hits) {
      hits.push_back(
          {{"effect", h.effect}, {"rule", h.name}, {"line", h.line}, {"detail", h.detail}});
    }
    j["policy"] = {{"decision", decision.decision}, {"hits", hits}};
    nlohmann::json o = nlohmann::json::array();
    for (const auto& c : origins) {
      o.push_back({{"role", c.role},
                   {"name", c.name},
                   {"vendor", c.vendor},
                   {"jurisdiction", c.jurisdiction},
                   {"eu", c.eu},
                   {"ref", c.ref}});
    }
    j["origins"] = o;
    std::cout << j.dump(2) << "\n";
  } else {
    print_text(*p, rating, decision, origins);
  }
  // Exit 1 only when the operator asked for a policy and it refuses the host.
  return !a.policy.empty() && decision.decision == "deny" ? kExitVerifyFailed : kExitOk;
}

struct CompareArgs {
  std::string before, after;
  bool json = false;
};

int run_compare(const CompareArgs& a) {
  auto before = from_posture_json(a.before);
  if (!before) {
    print_error(before.error().message());
    return kExitError;
  }
  auto after = from_posture_json(a.after);
  if (!after) {
    print_error(after.error().message());
    return kExitError;
  }
  auto changes = ps::compare_posture(*before, *after);
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& c : changes) {
      j.push_back(
          {{"kind", c.kind}, {"severity", ps::severity_name(c.severity)}, {"message", c.message}});
    }
    std::cout << nlohmann::json{{"changes", j}}.dump(2) << "\n";
  } else {
    if (changes.empty()) std::cout << "no posture change\n";
    for (const auto& c : changes) {
      std::cout << ps::severity_name(c.severity) << "\t" << c.kind << "\t" << c.message << "\n";
    }
  }
  return changes.empty() ? kExitOk : kExitVerifyFailed;
}

struct ReportArgs {
  std::vector<std::string> dmidecode, posture, roots, smbios;
  std::string policy;
  std::string bom_dir;
  bool json = false;
  bool html = false;
};

int run_report(const ReportArgs& a) {
  auto policy = load_policy(a.policy);
  if (!policy) {
    print_error(policy.error().message());
    return kExitError;
  }
  std::vector<ps::FleetHost> hosts;
  auto add = [&](Result<ps::Posture> p) -> bool {
    if (!p) {
      print_error(p.error().message());
      return false;
    }
    hosts.push_back(ps::assess_host(std::move(p).value(), *policy));
    return true;
  };
  for (const auto& f : a.dmidecode) {
    if (!add(from_dmidecode(f))) return kExitError;
  }
  for (const auto& f : a.smbios) {
    if (!add(from_smbios(f))) return kExitError;
  }
  for (const auto& f : a.posture) {
    if (!add(from_posture_json(f))) return kExitError;
  }
  for (const auto& r : a.roots) {
    if (!add(ps::collect_posture(r))) return kExitError;
  }
  if (hosts.empty()) {
    print_error("report sovereignty: no hosts: give --dmidecode, --smbios, --posture or --root");
    return kExitError;
  }
  if (!a.bom_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.bom_dir, ec);
    for (size_t i = 0; i < hosts.size(); ++i) {
      std::string name = hosts[i].posture.host.empty() ? "host" : hosts[i].posture.host;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
          c = '_';
      }
      std::string path = a.bom_dir + "/" + std::to_string(i + 1) + "-" + name + ".cdx.json";
      std::ofstream out(path);
      out << ps::cyclonedx_bom(hosts[i].posture, hosts[i].rating).dump(2) << "\n";
      if (!out) {
        print_error("cannot write " + path);
        return kExitError;
      }
    }
  }
  if (a.html) {
    std::cout << ps::fleet_report_html(hosts);
  } else if (a.json) {
    std::cout << ps::fleet_report_json(hosts).dump(2) << "\n";
  } else {
    nlohmann::json j = ps::fleet_report_json(hosts);
    std::cout << hosts.size() << " hosts\n";
    for (const auto& [k, v] : j["decisions"].items()) std::cout << "  " << k << ": " << v << "\n";
    std::cout << "jurisdiction per component (hosts)\n";
    for (const auto& [role, m] : j["jurisdictions"].items()) {
      std::cout << "  " << role << ":";
      for (const auto& [jur, n] : m.items()) std::cout << " " << jur << "=" << n;
      std::cout << "\n";
    }
    std::cout << "sub-OS engines per state (hosts)\n";
    for (const auto& [kind, m] : j["engines"].items()) {
      std::cout << "  " << kind << ":";
      for (const auto& [state, n] : m.items()) std::cout << " " << state << "=" << n;
      std::cout << "\n";
    }
    for (const auto& h : hosts) {
      std::cout << h.decision.decision << "\t" << h.posture.host << "\t" << h.rating.fwupd_hsi
                << "\tHSI-" << h.rating.ironroot_level << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void add_posture_commands(CLI::App& app, int* exit_code) {
  static PostureArgs pa;
  auto* cmd = app.add_subcommand(
      "posture",
      "What runs beneath the OS: CPU, SMBIOS, Intel ME / AMT, AMD PSP, BMC, TPM, IOMMU, Secure "
      "Boot, lockdown; rated on fwupd's HSI attributes, matched against advisories, with the "
      "components' jurisdictions and a sovereignty policy. Read-only, no kernel driver.");
  cmd->require_subcommand(0, 1);
  auto* root = cmd->add_option("--root", pa.root,
                               "Probe this directory as if it were / (a captured tree); default /")
                   ->check(CLI::ExistingDirectory);
  auto* dmi = cmd->add_option("--dmidecode", pa.dmidecode,
                              "Import an inventory from dmidecode text instead of probing")
                  ->check(CLI::ExistingFile);
  auto* smb = cmd->add_option("--smbios", pa.smbios,
                              "Read a binary SMBIOS table (/sys/firmware/dmi/tables/DMI or a "
                              "dmidecode --dump-bin file) instead of probing")
                  ->check(CLI::ExistingFile);
  auto* pj = cmd->add_option("--posture", pa.posture_file,
                             "Read a posture exported with --json (rate and evaluate it again)")
                 ->check(CLI::ExistingFile);
  root->excludes(dmi)->excludes(smb)->excludes(pj);
  dmi->excludes(smb)->excludes(pj);
  smb->excludes(pj);
  auto* json = cmd->add_flag("--json", pa.json,
                             "Print JSON: the posture (cpu, platform, tpm, bmc, me, psp, security, "
                             "subos_engines), its rating, origins and policy decision");
  cmd->add_flag("--cyclonedx", pa.cyclonedx, "Print a CycloneDX 1.5 JSON hardware BOM instead")
      ->excludes(json);
  cmd->add_option("--policy", pa.policy,
                  "Sovereignty policy file (default: the shipped data/posture/sovereignty.policy); "
                  "with this option, exit 1 when the policy denies the host")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--query-amt", pa.query_amt,
                "Ask Intel AMT its version and provisioning state through /dev/mei0 (read-only "
                "Host-IF commands; live system only)");
  cmd->callback([exit_code, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    *exit_code = run_posture(pa);
  });

  static CompareArgs ca;
  auto* cmp = cmd->add_subcommand(
      "compare",
      "Compare two postures of one host (JSON from `posture --json`); print each change with its "
      "kind (me_left_hap, bmc_appeared, microcode_rollback, secure_boot_disabled, ...) and "
      "severity; exit 1 when anything changed");
  cmp->add_option("BEFORE", ca.before, "Earlier posture JSON")
      ->required()
      ->check(CLI::ExistingFile);
  cmp->add_option("AFTER", ca.after, "Later posture JSON")->required()->check(CLI::ExistingFile);
  cmp->add_flag("--json", ca.json, "Print JSON: {\"changes\": [{kind, severity, message}]}");
  cmp->callback([exit_code] { *exit_code = run_compare(ca); });

  // `report` may be shared with other parts: reuse it when it exists.
  CLI::App* report = nullptr;
  for (auto* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "report"; }))
    report = sub;
  if (report == nullptr) {
    report = app.add_subcommand("report", "Fleet reports, offline on imported inventories");
    report->require_subcommand(1);
  }
  static ReportArgs ra;
  auto* sov = report->add_subcommand(
      "sovereignty",
      "Per-host sub-OS engines, jurisdictions of CPU / ME / PSP / TPM / BMC / firmware vendors, "
      "ratings and the sovereignty policy, with counts and charts per jurisdiction and engine "
      "state");
  sov->add_option("--dmidecode", ra.dmidecode, "dmidecode text of one host (repeatable)")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  sov->add_option("--smbios", ra.smbios, "binary SMBIOS table or dmidecode --dump-bin (repeatable)")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  sov->add_option(
         "--posture", ra.posture,
         "posture JSON (ironroot posture --json, or the verifier's fleet export; repeatable)")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  sov->add_option("--root", ra.roots, "a captured root directory (repeatable)")
      ->check(CLI::ExistingDirectory)
      ->allow_extra_args(false);
  sov->add_option("--policy", ra.policy, "Sovereignty policy file (default: the shipped one)")
      ->check(CLI::ExistingFile);
  sov->add_option("--bom-dir", ra.bom_dir, "Also write one CycloneDX 1.5 BOM per host into DIR");
  auto* rj = sov->add_flag("--json", ra.json, "Print the report as JSON");
  sov->add_flag("--html", ra.html, "Print the report as one HTML page with SVG charts")
      ->excludes(rj);
  sov->callback([exit_code] { *exit_code = run_report(ra); });
}

}  // namespace ironroot::cli
