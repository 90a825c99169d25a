#include "posture/posture.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <arpa/inet.h>
#include <cpuid.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#endif

#include "core/file.h"
#include "core/text.h"
#include "posture/knowledge.h"

namespace ironroot::posture {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr uint64_t kMaxProbeFile = 1 << 20;  // sysfs and procfs files are small

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == '\0')) --e;
  return std::string(s.substr(b, e - b));
}

// "Not Specified", "To Be Filled By O.E.M." and friends say nothing.
std::string meaningful(std::string_view s) {
  std::string t = trim(s);
  std::string l = lower(t);
  if (l.empty() || l == "not specified" || l == "to be filled by o.e.m." || l == "default string" ||
      l == "<bad index>" || l == "unknown" || l == "not applicable" || l == "none" || l == "--") {
    return "";
  }
  return t;
}

class Root {
 public:
  explicit Root(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  bool live() const { return root_ == "/"; }
  std::string path(std::string_view p) const {
    if (live()) return std::string(p);
    return root_ + std::string(p);
  }
  bool exists(std::string_view p) const {
    std::error_code ec;
    return fs::exists(fs::symlink_status(path(p), ec)) && !ec;
  }
  std::optional<std::string> text(std::string_view p) const {
    auto f = FileContents::open(path(p), kMaxProbeFile);
    if (!f) return std::nullopt;
    Bytes b = f->bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  std::optional<std::vector<uint8_t>> bytes(std::string_view p,
                                            uint64_t max = kMaxProbeFile) const {
    auto f = FileContents::open(path(p), max);
    if (!f) return std::nullopt;
    Bytes b = f->bytes();
    return std::vector<uint8_t>(b.begin(), b.end());
  }
  std::vector<std::string> list(std::string_view p) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(path(p), ec), end; !ec && it != end; it.increment(ec)) {
      out.push_back(it->path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string link_name(std::string_view p) const {
    std::error_code ec;
    fs::path target = fs::read_symlink(path(p), ec);
    return ec ? "" : target.filename().string();
  }

 private:
  std::string root_;
};

std::optional<bool> yes_no(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  std::string t = lower(trim(*v));
  if (t == "y" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "n" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<uint64_t> parse_number(std::string_view s) {
  std::string t = trim(s);
  if (t.empty()) return std::nullopt;
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t = t.substr(2);
  }
  if (t.empty() || t.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : t) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))
                ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                : -1;
    if (d < 0) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return v;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08X", v);
  return buf;
}

std::string pci_id_of(const Root& root, const std::string& dev) {
  auto v = root.text(dev + "/vendor"), d = root.text(dev + "/device");
  if (!v || !d) return "";
  auto strip = [](std::string s) {
    s = lower(trim(s));
    if (s.rfind("0x", 0) == 0) s = s.substr(2);
    return s;
  };
  return strip(*v) + ":" + strip(*d);
}

uint32_t pci_class_of(const Root& root, const std::string& dev) {
  auto c = root.text(dev + "/class");
  if (!c) return 0;
  return static_cast<uint32_t>(parse_number(*c).value_or(0));
}

void apply_cpuinfo(const std::string& text, Posture& p, std::vector<std::string>* flags) {
  std::istringstream in(text);
  std::string line;
  std::string implementer, part, variant, revision;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      if (trim(line).empty() && !p.cpu.manufacturer.empty()) break;  // first processor only
      continue;
    }
    std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "vendor_id") p.cpu.manufacturer = value;
    if (key == "model name" || key == "cpu model" || key == "Model Name") p.cpu.model_name = value;
    if (key == "cpu family") p.cpu.family = static_cast<uint32_t>(parse_number(value).value_or(0));
    if (key == "model") p.cpu.model = static_cast<uint32_t>(parse_number(value).value_or(0));
    if (key == "stepping") p.cpu.stepping = static_cast<uint32_t>(parse_number(value).value_or(0));
    if (key == "microcode") p.cpu.microcode = parse_number(value);
    if (key == "flags" && flags) {
      std::istringstream f(value);
      for (std::string w; f >> w;) flags->push_back(w);
    }
    if (key == "CPU implementer") implementer = value;
    if (key == "CPU part") part = value;
    if (key == "CPU variant") variant = value;
    if (key == "CPU revision") revision = value;
  }
  if (p.cpu.manufacturer.empty() && !implementer.empty()) {
    p.cpu.manufacturer = "CPU implementer " + implementer;
    auto imp = parse_number(implementer), prt = parse_number(part), var = parse_number(variant),
         rev = parse_number(revision);
    if (imp && prt) {
      p.cpu.midr =
          (*imp << 24) | (var.value_or(0) << 20) | (0xFull << 16) | (*prt << 4) | rev.value_or(0);
    }
  }
}

void collect_cpu(const Root& root, Posture& p, std::vector<std::string>& flags) {
  if (auto t = root.text("/proc/cpuinfo")) {
    apply_cpuinfo(*t, p, &flags);
  } else {
    p.notes.push_back("cpu: /proc/cpuinfo not readable");
  }
  if (auto midr = root.text("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1")) {
    p.cpu.midr = parse_number(*midr);
  }
  auto has = [&](std::string_view f) {
    return std::find(flags.begin(), flags.end(), f) != flags.end();
  };
  p.security.smap = has("smap");
  p.security.cet = has("user_shstk") || has("shstk");
#if defined(__x86_64__) || defined(__i386__)
  if (root.live()) {
    // CPUID of the running machine: the same source fwupd uses, and it sees features the kernel
    // hides in /proc/cpuinfo.
    unsigned a, b, c, d;
    char vendor[13] = {};
    if (__get_cpuid(0, &a, &b, &c, &d)) {
      std::memcpy(vendor, &b, 4);
      std::memcpy(vendor + 4, &d, 4);
      std::memcpy(vendor + 8, &c, 4);
      p.cpu.manufacturer = vendor;
      unsigned max = a;
      if (__get_cpuid(1, &a, &b, &c, &d)) {
        uint32_t base = (a >> 8) & 0xF;
        p.cpu.family = base + (base == 0xF ? (a >> 20) & 0xFF : 0);
        p.cpu.model = ((a >> 4) & 0xF) | ((base == 0x6 || base == 0xF) ? (a >> 12) & 0xF0 : 0);
        p.cpu.stepping = a & 0xF;
      }
      if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        p.security.smap = (b >> 20) & 1;
        bool shstk = (c >> 7) & 1, ibt = (d >> 20) & 1;
        bool intel = std::string_view(vendor) == "GenuineIntel";
        p.security.cet = intel ? (shstk && ibt) : shstk;
        if (intel) p.security.memory_encryption_supported = (c >> 13) & 1;  // TME
      }
      if (std::string_view(vendor) == "AuthenticAMD" && __get_cpuid(0x80000000, &a, &b, &c, &d) &&
          a >= 0x8000001F) {
        __get_cpuid(0x8000001F, &a, &b, &c, &d);
        p.security.memory_encryption_supported = a & 1;  // SME
      }
    }
  }
#endif
  if (!p.security.memory_encryption_supported) {
    if (has("sme") || has("tme")) p.security.memory_encryption_supported = true;
  }
  p.cpu.vendor = canonical_cpu_vendor(p.cpu.manufacturer);
#if defined(__x86_64__)
  if (root.live()) p.cpu.arch = "x86_64";
#elif defined(__aarch64__)
  if (root.live()) p.cpu.arch = "aarch64";
#endif
  if (p.cpu.arch.empty()) {
    if (p.cpu.vendor == "Intel" || p.cpu.vendor == "AMD") p.cpu.arch = "x86_64";
    if (p.cpu.midr) p.cpu.arch = "aarch64";
  }
  // Memory encryption: the kernel keeps the sme flag only when the BIOS enabled SMEE.
  if (has("sme")) {
    p.security.memory_encryption = "sme";
  } else if (p.security.memory_encryption_supported == false) {
    p.security.memory_encryption = "none";
  }
}

void apply_smbios(const SmbiosInfo& s, Posture& p) {
  p.platform.system_manufacturer = meaningful(s.system_manufacturer);
  p.platform.system_product = meaningful(s.system_product);
  p.platform.board_manufacturer = meaningful(s.board_manufacturer);
  p.platform.board_product = meaningful(s.board_product);
  p.platform.bios_vendor = meaningful(s.bios_vendor);
  p.platform.bios_version = trim(s.bios_version);
  p.platform.bios_date = meaningful(s.bios_date);
  p.platform.chassis_type = s.chassis_type;
  p.platform.smbios_version = s.smbios_version;
  if (const SmbiosProcessor* cpu = s.main_processor()) {
    if (p.cpu.manufacturer.empty()) p.cpu.manufacturer = trim(cpu->manufacturer);
    if (p.cpu.model_name.empty()) p.cpu.model_name = trim(cpu->version);
    if (!p.cpu.family) p.cpu.family = cpu->family;
    if (!p.cpu.model) p.cpu.model = cpu->model;
    if (!p.cpu.stepping) p.cpu.stepping = cpu->stepping;
    if (p.cpu.vendor.empty()) p.cpu.vendor = canonical_cpu_vendor(p.cpu.manufacturer);
  }
  if (s.ipmi) {
    p.bmc.ipmi_smbios = true;
    p.bmc.ipmi_interface = s.ipmi_interface;
  }
  p.bmc.host_interface = p.bmc.host_interface || s.host_interface;
  p.bmc.redfish = p.bmc.redfish || s.redfish_over_ip;
  if (s.tpm && !p.tpm.present) {
    p.tpm.present = true;
    p.tpm.source = "smbios";
    p.tpm.version = s.tpm_spec_version;
  }
  if (s.tpm) {
    p.tpm.manufacturer = s.tpm_vendor_id;
    p.tpm.firmware = s.tpm_firmware;
  }
  if (!s.mei.empty() && p.me.hfsts.empty()) {
    p.me.present = true;
    p.me.source = "smbios";
    p.me.hfsts.assign(s.mei.front().hfsts.begin(), s.mei.front().hfsts.end());
  }
  if (p.me.version.empty()) p.me.version = s.me_firmware_version();
}

void finish_me(Posture& p) {
  if (p.me.hfsts.empty()) return;
  std::array<uint32_t, 6> h{};
  for (size_t i = 0; i < h.size() && i < p.me.hfsts.size(); ++i) h[i] = p.me.hfsts[i];
  MeStatus st = decode_hfsts(h, me_family_from_version(p.me.version));
  p.me.family = me_family_name(st.family);
  p.me.working_state = st.working_state;
  p.me.operation_mode = st.operation_mode;
  p.me.error_code = st.error_code;
  p.me.error = st.error;
  p.me.manufacturing_mode = st.manufacturing_mode;
  p.me.spi_protection_mode = st.spi_protection_mode;
  p.me.hap = st.hap;
  p.me.fw_sku = st.fw_sku;
  if (st.fw_sku == "Corporate") p.me.amt_present = true;
}

void collect_pci(const Root& root, Posture& p) {
  const auto& k = knowledge();
  std::string mei_slot;
  for (const auto& slot : root.list("/sys/bus/pci/devices")) {
    std::string dev = "/sys/bus/pci/devices/" + slot;
    std::string id = pci_id_of(root, dev);
    if (id.empty()) continue;
    uint32_t cls = pci_class_of(root, dev);
    std::string driver = root.link_name(dev + "/driver");
    std::string vendor_id = id.substr(0, 4);
    if (const BmcPciId* bmc = k.find_bmc_pci(id)) {
      p.bmc.pci.push_back(slot + " " + id + " " + bmc->vendor);
      if (p.bmc.vendor.empty()) p.bmc.vendor = bmc->vendor;
    }
    if ((cls >> 16) == 0x02) {
      p.nics.push_back({slot, id, k.pci_vendor_name(vendor_id), driver});
    }
    // Intel MEI / HECI: communication controller (07 80) from Intel, function 0 first.
    if (vendor_id == "8086" && (cls >> 8) == 0x0780 &&
        (mei_slot.empty() || slot.find(":16.0") != std::string::npos)) {
      if (mei_slot.empty() || slot.find(":16.0") != std::string::npos) {
        mei_slot = slot;
        p.me.present = true;
        p.me.pci_slot = slot;
        p.me.pci_id = id;
        p.me.driver = driver;
      }
    }
    // AMD PSP / ASP: encryption controller (10 80) from AMD, bound to ccp.
    if (vendor_id == "1022" && ((cls >> 8) == 0x1080 || driver == "ccp") && !p.psp.present) {
      p.psp.present = true;
      p.psp.pci_slot = slot;
      p.psp.pci_id = id;
      p.psp.driver = driver;
      for (const char* attr : {"tsme_status", "fused_part", "debug_lock_on", "anti_rollback_status",
                               "rom_armor_enforced", "boot_integrity", "rpmc_spirom_available",
                               "rpmc_production_enabled", "bootloader_version", "tee_version"}) {
        if (auto v = root.text(dev + "/" + attr)) p.psp.attributes[attr] = trim(*v);
      }
    }
  }
  if (!mei_slot.empty()) {
    auto cfg = root.bytes("/sys/bus/pci/devices/" + mei_slot + "/config", 4096);
    if (cfg && cfg->size() >= 0x70) {
      static const size_t kOffsets[] = {0x40, 0x48, 0x60, 0x64, 0x68, 0x6C};
      p.me.hfsts.clear();
      for (size_t off : kOffsets) p.me.hfsts.push_back(ByteReader::load_le32(cfg->data() + off));
      p.me.source = "pci-config";
    } else if (cfg) {
      p.notes.push_back("me: PCI config of " + mei_slot + " is " + std::to_string(cfg->size()) +
                        " bytes (reading past 64 needs root)");
    }
  }
}

void collect_mei_class(const Root& root, Posture& p) {
  for (const auto& name : root.list("/sys/class/mei")) {
    std::string dir = "/sys/class/mei/" + name;
    p.me.present = true;
    if (auto st = root.text(dir + "/fw_status")) {
      auto regs = parse_fw_status(*st);
      if (regs) {
        p.me.hfsts.assign(regs->begin(), regs->end());
        p.me.source = "sysfs";
      } else {
        p.notes.push_back("me: " + dir + "/fw_status: " + regs.error().message());
      }
    }
    if (auto v = root.text(dir + "/fw_ver")) {
      auto ver = parse_fw_ver(*v);
      if (ver) {
        p.me.version = *ver;
      } else {
        p.notes.push_back("me: " + dir + "/fw_ver: " + ver.error().message());
      }
    }
    if (auto v = root.text(dir + "/dev_state")) p.me.dev_state = trim(*v);
    if (auto v = root.text(dir + "/kind")) p.me.kind = trim(*v);
    break;  // mei0 is the host interface the probes need
  }
}

void collect_security(const Root& root, Posture& p) {
  auto& s = p.security;
  s.iommu = !root.list("/sys/class/iommu").empty();
  if (auto dmar = root.bytes("/sys/firmware/acpi/tables/DMAR"); dmar && dmar->size() > 37) {
    s.preboot_dma = ((*dmar)[37] & 0x4) != 0;  // DMA_CTRL_PLATFORM_OPT_IN_FLAG
  } else if (auto ivrs = root.bytes("/sys/firmware/acpi/tables/IVRS"); ivrs && ivrs->size() >= 40) {
    s.preboot_dma = (ByteReader::load_le32(ivrs->data() + 36) & 0x2) != 0;
  }
  if (auto facp = root.bytes("/sys/firmware/acpi/tables/FACP"); facp && facp->size() >= 0x74) {
    s.s0ix_capable = (ByteReader::load_le32(facp->data() + 0x70) & (1u << 21)) != 0;
  }
  s.efi = root.exists("/sys/firmware/efi");
  auto efivar = [&](const char* name) -> std::optional<bool> {
    auto v = root.bytes(std::string("/sys/firmware/efi/efivars/") + name +
                        "-8be4df61-93ca-11d2-aa0d-00e098032b8c");
    if (!v || v->size() < 5) return std::nullopt;
    return (*v)[4] == 1;  // 4 bytes of attributes, then the value
  };
  if (s.efi) {
    s.secure_boot = efivar("SecureBoot");
    s.setup_mode = efivar("SetupMode");
    if (!s.secure_boot) s.secure_boot = false;
  }
  if (auto l = root.text("/sys/kernel/security/lockdown")) {
    size_t b = l->find('['), e = l->find(']');
    if (b != std::string::npos && e > b) s.lockdown = l->substr(b + 1, e - b - 1);
  }
  if (auto t = root.text("/proc/sys/kernel/tainted")) s.taint = parse_number(*t);
  if (auto sw = root.text("/proc/swaps")) {
    int lines = 0;
    for (char c : *sw) lines += c == '\n';
    s.swap = lines > 1;
  }
  if (auto m = root.text("/sys/power/mem_sleep")) s.mem_sleep = trim(*m);
  if (auto k = root.text("/proc/sys/kernel/osrelease")) s.kernel = trim(*k);
  // TPM
  for (const auto& name : root.list("/sys/class/tpm")) {
    if (name.rfind("tpm", 0) != 0 || name.rfind("tpmrm", 0) == 0) continue;
    p.tpm.present = true;
    p.tpm.source = "sysfs";
    if (auto v = root.text("/sys/class/tpm/" + name + "/tpm_version_major")) {
      p.tpm.version = trim(*v) == "2" ? "2.0" : trim(*v) == "1" ? "1.2" : trim(*v);
    }
    break;
  }
  // BMC through IPMI
  p.bmc.ipmi_device = root.exists("/dev/ipmi0") || root.exists("/dev/ipmi/0") ||
                      !root.list("/sys/class/ipmi").empty();
  // AMD SEV
  auto& psp = p.psp;
  psp.sev = yes_no(root.text("/sys/module/kvm_amd/parameters/sev"));
  psp.sev_es = yes_no(root.text("/sys/module/kvm_amd/parameters/sev_es"));
  psp.sev_snp = yes_no(root.text("/sys/module/kvm_amd/parameters/sev_snp"));
  if (auto tsme = psp.attributes.find("tsme_status");
      tsme != psp.attributes.end() && yes_no(tsme->second) == true) {
    s.memory_encryption = "tsme";
  }
}

}  // namespace

std::string canonical_cpu_vendor(std::string_view manufacturer) {
  std::string m = lower(manufacturer);
  struct Alias {
    const char* needle;
    const char* vendor;
  };
  static const Alias kAliases[] = {{"genuineintel", "Intel"},
                                   {"intel", "Intel"},
                                   {"authenticamd", "AMD"},
                                   {"advanced micro", "AMD"},
                                   {"amd", "AMD"},
                                   {"hygon", "Hygon"},
                                   {"ampere", "Ampere"},
                                   {"hisilicon", "HiSilicon"},
                                   {"kunpeng", "HiSilicon"},
                                   {"huawei", "HiSilicon"},
                                   {"phytium", "Phytium"},
                                   {"loongson", "Loongson"},
                                   {"centaurhauls", "Zhaoxin"},
                                   {"zhaoxin", "Zhaoxin"},
                                   {"shanghai", "Zhaoxin"},
                                   {"qualcomm", "Qualcomm"},
                                   {"nvidia", "NVIDIA"},
                                   {"apple", "Apple"},
                                   {"cavium", "Marvell"},
                                   {"marvell", "Marvell"},
                                   {"sipearl", "SiPearl"},
                                   {"implementer 0x41", "Arm"},
                                   {"implementer 0x48", "HiSilicon"},
                                   {"implementer 0x70", "Phytium"},
                                   {"implementer 0xc0", "Ampere"},
                                   {"implementer 0x51", "Qualcomm"},
                                   {"implementer 0x4e", "NVIDIA"},
                                   {"implementer 0x61", "Apple"},
                                   {"arm", "Arm"}};
  for (const auto& a : kAliases) {
    if (m.find(a.needle) != std::string::npos) return a.vendor;
  }
  return meaningful(manufacturer);
}

// The PCI function a device link resolves under (virtio and USB NICs sit below one): the last
// path component shaped like "0000:03:00.0".
std::string pci_slot_behind(const Root& root, const std::string& link) {
  std::error_code ec;
  fs::path target = fs::canonical(root.path(link), ec);
  if (ec) return "";
  std::string slot;
  for (const auto& part : target) {
    std::string s = part.string();
    if (s.size() == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.' &&
        std::all_of(s.begin(), s.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      slot = s;
    }
  }
  return slot;
}

// The interfaces under /sys/class/net (their MACs, and the PCI function behind each), with the
// addresses getifaddrs gives on the live system.
void collect_interfaces(const Root& root, Posture& p) {
  for (const auto& name : root.list("/sys/class/net")) {
    if (name == "lo") continue;
    NetInterface n;
    n.name = name;
    std::string dev = "/sys/class/net/" + name;
    if (auto mac = root.text(dev + "/address")) {
      n.mac = lower(trim(*mac));
      if (n.mac == "00:00:00:00:00:00") n.mac.clear();  // tunnels and the like
    }
    n.pci_slot = pci_slot_behind(root, dev + "/device");
    p.interfaces.push_back(std::move(n));
  }
  if (!root.live()) return;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    p.notes.push_back(std::string("interfaces: getifaddrs: ") + std::strerror(errno));
    return;
  }
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    int family = a->ifa_addr->sa_family;
    if (family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, buf,
                  sizeof buf);
    } else if (family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf,
                  sizeof buf);
    } else {
      continue;
    }
    auto it = std::find_if(p.interfaces.begin(), p.interfaces.end(),
                           [&](const NetInterface& n) { return n.name == a->ifa_name; });
    if (it == p.interfaces.end()) {
      p.interfaces.push_back({a->ifa_name, "", {}, ""});
      it = p.interfaces.end() - 1;
    }
    if (std::find(it->addresses.begin(), it->addresses.end(), buf) == it->addresses.end())
      it->addresses.push_back(buf);
  }
  ::freeifaddrs(list);
  std::sort(p.interfaces.begin(), p.interfaces.end(),
            [](const NetInterface& a, const NetInterface& b) { return a.name < b.name; });
}

Posture posture_from_smbios(const SmbiosInfo& smbios) {
  Posture p;
  apply_smbios(smbios, p);
  if (p.cpu.vendor == "Intel" || p.cpu.vendor == "AMD") p.cpu.arch = "x86_64";
  p.bmc.present = p.bmc.ipmi_smbios || p.bmc.host_interface;
  finish_me(p);
  derive_subos_engines(p);
  return p;
}

Result<Posture> collect_posture(const std::string& root_dir, const CollectOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root_dir, ec)) {
    return Error(ErrorCode::kNotFound, root_dir + ": not a directory");
  }
  Root root(root_dir);
  Posture p;
  p.source = root.live() ? "live" : "root:" + root_dir;
  if (auto h = root.text("/proc/sys/kernel/hostname")) p.host = trim(*h);
  if (p.host.empty()) {
    if (auto h = root.text("/etc/hostname")) p.host = trim(*h);
  }
  std::vector<std::string> flags;
  collect_cpu(root, p, flags);
  if (auto table = root.bytes("/sys/firmware/dmi/tables/DMI", 1 << 20)) {
    std::string version;
    if (auto ep = root.bytes("/sys/firmware/dmi/tables/smbios_entry_point")) {
      auto v = parse_smbios_entry_point(*ep);
      if (v) version = *v;
    }
    auto info = parse_smbios_table(*table, version);
    if (info) {
      apply_smbios(*info, p);
    } else {
      p.notes.push_back("smbios: " + info.error().message());
    }
  } else {
    p.notes.push_back("smbios: /sys/firmware/dmi/tables/DMI not readable");
  }
  // Live sources win over SMBIOS copies: read them after.
  std::vector<uint32_t> smbios_hfsts = p.me.hfsts;
  collect_pci(root, p);
  collect_mei_class(root, p);
  if (p.me.hfsts.empty()) p.me.hfsts = smbios_hfsts;
  collect_security(root, p);
  collect_interfaces(root, p);
  p.bmc.present =
      p.bmc.ipmi_smbios || p.bmc.host_interface || p.bmc.ipmi_device || !p.bmc.pci.empty();
  finish_me(p);
  if (options.query_amt && root.live() && p.me.present) {
    auto amt = query_amt("/dev/mei0");
    if (amt) {
      p.me.amt_present = true;
      p.me.amt_version = amt->version;
      p.me.amt_provisioning = amt_provisioning_name(amt->provisioning);
    } else if (amt.error().code() == ErrorCode::kUnsupported) {
      p.me.amt_provisioning = "disabled";
    } else {
      p.notes.push_back("amt: " + amt.error().message());
    }
  }
  derive_subos_engines(p);
  return p;
}

void derive_subos_engines(Posture& p) {
  p.subos_engines.clear();
  if (p.me.present) {
    SubOsEngine e;
    MeFamily f = me_family_from_name(p.me.family);
    e.kind = f == MeFamily::kSps ? "intel-sps" : f == MeFamily::kTxe ? "intel-txe" : "intel-csme";
    e.vendor = "Intel";
    e.version = p.me.version;
    if (p.me.hfsts.empty()) {
      e.state = p.me.driver.empty() ? "present" : "enabled";
    } else if (p.me.hap) {
      e.state = p.me.working_state == "Disabled" ? "disabled-hap" : "disabled";
    } else if (p.me.working_state == "Normal") {
      e.state = "enabled";
    } else {
      e.state = lower(p.me.working_state);
    }
    // CSME owns the integrated NIC's manageability path when AMT is there.
    e.network_capable = p.me.amt_present && !p.me.hap;
    p.subos_engines.push_back(e);
    if (p.me.amt_present) {
      SubOsEngine amt;
      amt.kind = "intel-amt";
      amt.vendor = "Intel";
      amt.version = p.me.amt_version.empty() ? p.me.version : p.me.amt_version;
      amt.state = p.me.hap                        ? "disabled"
                  : p.me.amt_provisioning.empty() ? "present"
                                                  : p.me.amt_provisioning;
      amt.network_capable = !p.me.hap && p.me.amt_provisioning != "disabled";
      p.subos_engines.push_back(amt);
    }
  }
  bool amd = p.cpu.vendor == "AMD";
  if (p.psp.present || (amd && p.cpu.arch != "")) {
    SubOsEngine e;
    e.kind = "amd-psp";
    e.vendor = "AMD";
    auto bl = p.psp.attributes.find("bootloader_version");
    if (bl != p.psp.attributes.end()) e.version = bl->second;
    // Every AMD CPU since family 16h carries the PSP; it cannot be disabled.
    e.state = p.psp.present ? "enabled" : "present";
    e.network_capable = false;
    p.subos_engines.push_back(e);
  }
  if (p.bmc.present) {
    SubOsEngine e;
    e.kind = "bmc";
    e.vendor = p.bmc.vendor;
    if (e.vendor.empty()) {
      const Vendor* v = knowledge().find_vendor(p.platform.system_manufacturer);
      if (v) e.vendor = v->name;
    }
    e.state = "enabled";
    e.network_capable = true;  // a BMC has its own (or a shared) network port by design
    p.subos_engines.push_back(e);
  }
}

// ---- JSON ----

namespace {

template <typename T>
void put_opt(Json& j, const char* key, const std::optional<T>& v) {
  j[key] = v ? Json(*v) : Json(nullptr);
}

Json strings_json(const std::vector<std::string>& v) {
  Json a = Json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

class Reader {
 public:
  Reader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Status str(const char* key, std::string& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_string()) return bad(key, "a string");
    out = it->get<std::string>();
    return {};
  }
  Status boolean(const char* key, bool& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_boolean()) return bad(key, "true or false");
    out = it->get<bool>();
    return {};
  }
  Status opt_bool(const char* key, std::optional<bool>& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_boolean()) return bad(key, "true, false or null");
    out = it->get<bool>();
    return {};
  }
  template <typename T>
  Status opt_uint(const char* key, std::optional<T>& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_number_unsigned()) return bad(key, "a non-negative integer or null");
    out = it->get<T>();
    return {};
  }
  Status uint32(const char* key, uint32_t& out) const {
    std::optional<uint32_t> v;
    IRONROOT_RETURN_IF_ERROR(opt_uint(key, v));
    if (v) out = *v;
    return {};
  }
  Status strings(const char* key, std::vector<std::string>& out) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_array()) return bad(key, "an array of strings");
    for (const auto& e : *it) {
      if (!e.is_string()) return bad(key, "an array of strings");
      out.push_back(e.get<std::string>());
    }
    return {};
  }
  Result<Reader> object(const char* key) const {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return Reader(kEmpty, where_ + "." + key);
    if (!it->is_object()) return bad(key, "an object");
    return Reader(*it, where_ + "." + key);
  }
  const nlohmann::json& json() const { return j_; }
  const std::string& where() const { return where_; }

  Error bad(const char* key, const char* what) const {
    return malformed(where_ + "." + key + ": expected " + what);
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

Result<uint32_t> parse_hex32(const std::string& s, const std::string& where) {
  auto v = parse_number("0x" + s);
  if (s.size() != 8 || !v) return malformed(where + ": '" + s + "' is not 8 hex digits");
  return static_cast<uint32_t>(*v);
}

}  // namespace

nlohmann::json to_json(const Posture& p) {
  Json j;
  j["schema"] = p.schema;
  j["host"] = p.host;
  j["source"] = p.source;
  Json cpu;
  cpu["vendor"] = p.cpu.vendor;
  cpu["manufacturer"] = p.cpu.manufacturer;
  cpu["model_name"] = p.cpu.model_name;
  cpu["arch"] = p.cpu.arch;
  put_opt(cpu, "family", p.cpu.family);
  put_opt(cpu, "model", p.cpu.model);
  put_opt(cpu, "stepping", p.cpu.stepping);
  put_opt(cpu, "microcode", p.cpu.microcode);
  put_opt(cpu, "midr", p.cpu.midr);
  j["cpu"] = std::move(cpu);
  Json pl;
  pl["system_manufacturer"] = p.platform.system_manufacturer;
  pl["system_product"] = p.platform.system_product;
  pl["board_manufacturer"] = p.platform.board_manufacturer;
  pl["board_product"] = p.platform.board_product;
  pl["bios_vendor"] = p.platform.bios_vendor;
  pl["bios_version"] = p.platform.bios_version;
  pl["bios_date"] = p.platform.bios_date;
  pl["chassis_type"] = p.platform.chassis_type;
  pl["smbios_version"] = p.platform.smbios_version;
  j["platform"] = std::move(pl);
  Json tpm;
  tpm["present"] = p.tpm.present;
  tpm["version"] = p.tpm.version;
  tpm["manufacturer"] = p.tpm.manufacturer;
  tpm["firmware"] = p.tpm.firmware;
  tpm["source"] = p.tpm.source;
  j["tpm"] = std::move(tpm);
  Json bmc;
  bmc["present"] = p.bmc.present;
  bmc["ipmi_smbios"] = p.bmc.ipmi_smbios;
  bmc["host_interface"] = p.bmc.host_interface;
  bmc["redfish"] = p.bmc.redfish;
  bmc["ipmi_device"] = p.bmc.ipmi_device;
  bmc["ipmi_interface"] = p.bmc.ipmi_interface;
  bmc["pci"] = strings_json(p.bmc.pci);
  bmc["vendor"] = p.bmc.vendor;
  j["bmc"] = std::move(bmc);
  Json me;
  me["present"] = p.me.present;
  me["source"] = p.me.source;
  me["family"] = p.me.family;
  me["version"] = p.me.version;
  Json regs = Json::array();
  for (uint32_t r : p.me.hfsts) regs.push_back(hex32(r));
  me["hfsts"] = std::move(regs);
  me["working_state"] = p.me.working_state;
  me["operation_mode"] = p.me.operation_mode;
  me["error_code"] = p.me.error_code;
  me["error"] = p.me.error;
  put_opt(me, "manufacturing_mode", p.me.manufacturing_mode);
  put_opt(me, "spi_protection_mode", p.me.spi_protection_mode);
  me["hap"] = p.me.hap;
  me["fw_sku"] = p.me.fw_sku;
  me["pci_id"] = p.me.pci_id;
  me["pci_slot"] = p.me.pci_slot;
  me["driver"] = p.me.driver;
  me["dev_state"] = p.me.dev_state;
  me["kind"] = p.me.kind;
  me["amt_present"] = p.me.amt_present;
  me["amt_version"] = p.me.amt_version;
  me["amt_provisioning"] = p.me.amt_provisioning;
  j["me"] = std::move(me);
  Json psp;
  psp["present"] = p.psp.present;
  psp["pci_slot"] = p.psp.pci_slot;
  psp["pci_id"] = p.psp.pci_id;
  psp["driver"] = p.psp.driver;
  Json attrs = Json::object();
  for (const auto& [k, v] : p.psp.attributes) attrs[k] = v;
  psp["attributes"] = std::move(attrs);
  put_opt(psp, "sev", p.psp.sev);
  put_opt(psp, "sev_es", p.psp.sev_es);
  put_opt(psp, "sev_snp", p.psp.sev_snp);
  put_opt(psp, "sme", p.psp.sme);
  j["psp"] = std::move(psp);
  Json s;
  const auto& sec = p.security;
  put_opt(s, "iommu", sec.iommu);
  put_opt(s, "preboot_dma", sec.preboot_dma);
  s["efi"] = sec.efi;
  put_opt(s, "secure_boot", sec.secure_boot);
  put_opt(s, "setup_mode", sec.setup_mode);
  s["lockdown"] = sec.lockdown;
  put_opt(s, "taint", sec.taint);
  s["memory_encryption"] = sec.memory_encryption;
  put_opt(s, "memory_encryption_supported", sec.memory_encryption_supported);
  put_opt(s, "s0ix_capable", sec.s0ix_capable);
  put_opt(s, "swap", sec.swap);
  put_opt(s, "smap", sec.smap);
  put_opt(s, "cet", sec.cet);
  s["mem_sleep"] = sec.mem_sleep;
  s["kernel"] = sec.kernel;
  j["security"] = std::move(s);
  Json nics = Json::array();
  for (const auto& n : p.nics) {
    nics.push_back(
        Json{{"slot", n.slot}, {"id", n.id}, {"vendor", n.vendor}, {"driver", n.driver}});
  }
  j["nics"] = std::move(nics);
  Json interfaces = Json::array();
  for (const auto& n : p.interfaces) {
    interfaces.push_back(Json{{"name", n.name},
                              {"mac", n.mac},
                              {"addresses", strings_json(n.addresses)},
                              {"pci_slot", n.pci_slot}});
  }
  j["interfaces"] = std::move(interfaces);
  Json engines = Json::array();
  for (const auto& e : p.subos_engines) {
    engines.push_back(Json{{"kind", e.kind},
                           {"vendor", e.vendor},
                           {"version", e.version},
                           {"state", e.state},
                           {"network_capable", e.network_capable}});
  }
  j["subos_engines"] = std::move(engines);
  j["notes"] = strings_json(p.notes);
  return nlohmann::json(j);
}

Result<Posture> from_json(const nlohmann::json& j) {
  if (!j.is_object()) return malformed("posture: expected a JSON object");
  Posture p;
  Reader r(j, "posture");
  IRONROOT_RETURN_IF_ERROR(r.str("schema", p.schema));
  if (p.schema.rfind("ironroot.posture/", 0) != 0) {
    return malformed("posture.schema: '" + p.schema + "' is not ironroot.posture/N");
  }
  IRONROOT_RETURN_IF_ERROR(r.str("host", p.host));
  IRONROOT_RETURN_IF_ERROR(r.str("source", p.source));
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("cpu"));
    IRONROOT_RETURN_IF_ERROR(c.str("vendor", p.cpu.vendor));
    IRONROOT_RETURN_IF_ERROR(c.str("manufacturer", p.cpu.manufacturer));
    IRONROOT_RETURN_IF_ERROR(c.str("model_name", p.cpu.model_name));
    IRONROOT_RETURN_IF_ERROR(c.str("arch", p.cpu.arch));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("family", p.cpu.family));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("model", p.cpu.model));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("stepping", p.cpu.stepping));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("microcode", p.cpu.microcode));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("midr", p.cpu.midr));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("platform"));
    auto& pl = p.platform;
    IRONROOT_RETURN_IF_ERROR(c.str("system_manufacturer", pl.system_manufacturer));
    IRONROOT_RETURN_IF_ERROR(c.str("system_product", pl.system_product));
    IRONROOT_RETURN_IF_ERROR(c.str("board_manufacturer", pl.board_manufacturer));
    IRONROOT_RETURN_IF_ERROR(c.str("board_product", pl.board_product));
    IRONROOT_RETURN_IF_ERROR(c.str("bios_vendor", pl.bios_vendor));
    IRONROOT_RETURN_IF_ERROR(c.str("bios_version", pl.bios_version));
    IRONROOT_RETURN_IF_ERROR(c.str("bios_date", pl.bios_date));
    IRONROOT_RETURN_IF_ERROR(c.str("chassis_type", pl.chassis_type));
    IRONROOT_RETURN_IF_ERROR(c.str("smbios_version", pl.smbios_version));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("tpm"));
    IRONROOT_RETURN_IF_ERROR(c.boolean("present", p.tpm.present));
    IRONROOT_RETURN_IF_ERROR(c.str("version", p.tpm.version));
    IRONROOT_RETURN_IF_ERROR(c.str("manufacturer", p.tpm.manufacturer));
    IRONROOT_RETURN_IF_ERROR(c.str("firmware", p.tpm.firmware));
    IRONROOT_RETURN_IF_ERROR(c.str("source", p.tpm.source));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("bmc"));
    IRONROOT_RETURN_IF_ERROR(c.boolean("present", p.bmc.present));
    IRONROOT_RETURN_IF_ERROR(c.boolean("ipmi_smbios", p.bmc.ipmi_smbios));
    IRONROOT_RETURN_IF_ERROR(c.boolean("host_interface", p.bmc.host_interface));
    IRONROOT_RETURN_IF_ERROR(c.boolean("redfish", p.bmc.redfish));
    IRONROOT_RETURN_IF_ERROR(c.boolean("ipmi_device", p.bmc.ipmi_device));
    IRONROOT_RETURN_IF_ERROR(c.str("ipmi_interface", p.bmc.ipmi_interface));
    IRONROOT_RETURN_IF_ERROR(c.strings("pci", p.bmc.pci));
    IRONROOT_RETURN_IF_ERROR(c.str("vendor", p.bmc.vendor));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("me"));
    auto& me = p.me;
    IRONROOT_RETURN_IF_ERROR(c.boolean("present", me.present));
    IRONROOT_RETURN_IF_ERROR(c.str("source", me.source));
    IRONROOT_RETURN_IF_ERROR(c.str("family", me.family));
    IRONROOT_RETURN_IF_ERROR(c.str("version", me.version));
    std::vector<std::string> regs;
    IRONROOT_RETURN_IF_ERROR(c.strings("hfsts", regs));
    if (regs.size() > 6) return malformed("posture.me.hfsts: more than 6 registers");
    for (size_t i = 0; i < regs.size(); ++i) {
      IRONROOT_ASSIGN_OR_RETURN(
          uint32_t v, parse_hex32(regs[i], "posture.me.hfsts[" + std::to_string(i) + "]"));
      me.hfsts.push_back(v);
    }
    IRONROOT_RETURN_IF_ERROR(c.str("working_state", me.working_state));
    IRONROOT_RETURN_IF_ERROR(c.str("operation_mode", me.operation_mode));
    IRONROOT_RETURN_IF_ERROR(c.uint32("error_code", me.error_code));
    IRONROOT_RETURN_IF_ERROR(c.str("error", me.error));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("manufacturing_mode", me.manufacturing_mode));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("spi_protection_mode", me.spi_protection_mode));
    IRONROOT_RETURN_IF_ERROR(c.boolean("hap", me.hap));
    IRONROOT_RETURN_IF_ERROR(c.str("fw_sku", me.fw_sku));
    IRONROOT_RETURN_IF_ERROR(c.str("pci_id", me.pci_id));
    IRONROOT_RETURN_IF_ERROR(c.str("pci_slot", me.pci_slot));
    IRONROOT_RETURN_IF_ERROR(c.str("driver", me.driver));
    IRONROOT_RETURN_IF_ERROR(c.str("dev_state", me.dev_state));
    IRONROOT_RETURN_IF_ERROR(c.str("kind", me.kind));
    IRONROOT_RETURN_IF_ERROR(c.boolean("amt_present", me.amt_present));
    IRONROOT_RETURN_IF_ERROR(c.str("amt_version", me.amt_version));
    IRONROOT_RETURN_IF_ERROR(c.str("amt_provisioning", me.amt_provisioning));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("psp"));
    IRONROOT_RETURN_IF_ERROR(c.boolean("present", p.psp.present));
    IRONROOT_RETURN_IF_ERROR(c.str("pci_slot", p.psp.pci_slot));
    IRONROOT_RETURN_IF_ERROR(c.str("pci_id", p.psp.pci_id));
    IRONROOT_RETURN_IF_ERROR(c.str("driver", p.psp.driver));
    IRONROOT_ASSIGN_OR_RETURN(Reader attrs, c.object("attributes"));
    for (const auto& [k, v] : attrs.json().items()) {
      if (!v.is_string()) return malformed(attrs.where() + "." + k + ": expected a string");
      p.psp.attributes[k] = v.get<std::string>();
    }
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("sev", p.psp.sev));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("sev_es", p.psp.sev_es));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("sev_snp", p.psp.sev_snp));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("sme", p.psp.sme));
  }
  {
    IRONROOT_ASSIGN_OR_RETURN(Reader c, r.object("security"));
    auto& s = p.security;
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("iommu", s.iommu));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("preboot_dma", s.preboot_dma));
    IRONROOT_RETURN_IF_ERROR(c.boolean("efi", s.efi));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("secure_boot", s.secure_boot));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("setup_mode", s.setup_mode));
    IRONROOT_RETURN_IF_ERROR(c.str("lockdown", s.lockdown));
    IRONROOT_RETURN_IF_ERROR(c.opt_uint("taint", s.taint));
    IRONROOT_RETURN_IF_ERROR(c.str("memory_encryption", s.memory_encryption));
    IRONROOT_RETURN_IF_ERROR(
        c.opt_bool("memory_encryption_supported", s.memory_encryption_supported));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("s0ix_capable", s.s0ix_capable));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("swap", s.swap));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("smap", s.smap));
    IRONROOT_RETURN_IF_ERROR(c.opt_bool("cet", s.cet));
    IRONROOT_RETURN_IF_ERROR(c.str("mem_sleep", s.mem_sleep));
    IRONROOT_RETURN_IF_ERROR(c.str("kernel", s.kernel));
  }
  if (auto it = j.find("nics"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return malformed("posture.nics: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& e = (*it)[i];
      if (!e.is_object())
        return malformed("posture.nics[" + std::to_string(i) + "]: expected an object");
      Reader n(e, "posture.nics[" + std::to_string(i) + "]");
      PciFunction f;
      IRONROOT_RETURN_IF_ERROR(n.str("slot", f.slot));
      IRONROOT_RETURN_IF_ERROR(n.str("id", f.id));
      IRONROOT_RETURN_IF_ERROR(n.str("vendor", f.vendor));
      IRONROOT_RETURN_IF_ERROR(n.str("driver", f.driver));
      p.nics.push_back(std::move(f));
    }
  }
  if (auto it = j.find("interfaces"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return malformed("posture.interfaces: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& e = (*it)[i];
      std::string where = "posture.interfaces[" + std::to_string(i) + "]";
      if (!e.is_object()) return malformed(where + ": expected an object");
      Reader n(e, where);
      NetInterface f;
      IRONROOT_RETURN_IF_ERROR(n.str("name", f.name));
      IRONROOT_RETURN_IF_ERROR(n.str("mac", f.mac));
      IRONROOT_RETURN_IF_ERROR(n.strings("addresses", f.addresses));
      IRONROOT_RETURN_IF_ERROR(n.str("pci_slot", f.pci_slot));
      p.interfaces.push_back(std::move(f));
    }
  }
  if (auto it = j.find("subos_engines"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return malformed("posture.subos_engines: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& e = (*it)[i];
      std::string where = "posture.subos_engines[" + std::to_string(i) + "]";
      if (!e.is_object()) return malformed(where + ": expected an object");
      Reader n(e, where);
      SubOsEngine s;
      IRONROOT_RETURN_IF_ERROR(n.str("kind", s.kind));
      IRONROOT_RETURN_IF_ERROR(n.str("vendor", s.vendor));
      IRONROOT_RETURN_IF_ERROR(n.str("version", s.version));
      IRONROOT_RETURN_IF_ERROR(n.str("state", s.state));
      IRONROOT_RETURN_IF_ERROR(n.boolean("network_capable", s.network_capable));
      p.subos_engines.push_back(std::move(s));
    }
  }
  IRONROOT_RETURN_IF_ERROR(r.strings("notes", p.notes));
  return p;
}

// ---- changes ----

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "info";
}

std::vector<PostureChange> compare_posture(const Posture& a, const Posture& b) {
  std::vector<PostureChange> out;
  auto add = [&](const char* kind, Severity sev, std::string msg) {
    out.push_back({kind, sev, std::move(msg)});
  };
  auto show = [](const std::string& s) { return s.empty() ? std::string("(none)") : s; };
  // CPU
  if (a.cpu.vendor != b.cpu.vendor || a.cpu.model_name != b.cpu.model_name) {
    add("cpu_changed", Severity::kHigh,
        "CPU changed from " + show(a.cpu.vendor + " " + a.cpu.model_name) + " to " +
            show(b.cpu.vendor + " " + b.cpu.model_name));
  }
  if (a.cpu.microcode && b.cpu.microcode && *b.cpu.microcode != *a.cpu.microcode) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "microcode revision 0x%llx -> 0x%llx",
                  static_cast<unsigned long long>(*a.cpu.microcode),
                  static_cast<unsigned long long>(*b.cpu.microcode));
    if (*b.cpu.microcode < *a.cpu.microcode) {
      add("microcode_rollback", Severity::kHigh, std::string(buf) + " (older)");
    } else {
      add("microcode_updated", Severity::kInfo, buf);
    }
  }
  // Firmware
  if (a.platform.bios_version != b.platform.bios_version ||
      a.platform.bios_vendor != b.platform.bios_vendor) {
    add("bios_changed", Severity::kMedium,
        "BIOS " + show(a.platform.bios_vendor + " " + a.platform.bios_version) + " -> " +
            show(b.platform.bios_vendor + " " + b.platform.bios_version));
  }
  // Intel ME
  if (!a.me.present && b.me.present) {
    add("me_appeared", Severity::kHigh, "an Intel ME interface appeared");
  }
  if (a.me.hap && !b.me.hap && b.me.present) {
    add("me_left_hap", Severity::kCritical,
        "Intel ME left the disabled (HAP) state: now " + show(b.me.working_state) + " / " +
            show(b.me.operation_mode));
  }
  if (b.me.manufacturing_mode == true && a.me.manufacturing_mode != true) {
    add("me_manufacturing_mode", Severity::kCritical, "Intel ME entered manufacturing mode");
  }
  if (a.me.operation_mode != b.me.operation_mode && b.me.operation_mode != "Normal" &&
      !b.me.operation_mode.empty() && !b.me.hap) {
    add("me_operation_mode_changed", Severity::kHigh,
        "Intel ME operation mode " + show(a.me.operation_mode) + " -> " + b.me.operation_mode);
  }
  if (!a.me.version.empty() && !b.me.version.empty() &&
      compare_versions(b.me.version, a.me.version) < 0) {
    add("me_firmware_downgrade", Severity::kHigh,
        "Intel ME firmware " + a.me.version + " -> " + b.me.version + " (older)");
  }
  if (a.me.amt_provisioning != "provisioned" && b.me.amt_provisioning == "provisioned") {
    add("amt_provisioned", Severity::kHigh, "Intel AMT became provisioned (remote management on)");
  }
  // BMC
  if (!a.bmc.present && b.bmc.present) {
    add("bmc_appeared", Severity::kHigh,
        "a BMC appeared (IPMI / host interface / BMC PCI function)");
  }
  if (a.bmc.present && !b.bmc.present) {
    add("bmc_disappeared", Severity::kLow, "the BMC is no longer visible");
  }
  if (!a.bmc.redfish && b.bmc.redfish) {
    add("redfish_host_interface_appeared", Severity::kMedium,
        "a Redfish host interface appeared (in-band path to the BMC)");
  }
  // Boot and kernel
  if (a.security.secure_boot == true && b.security.secure_boot != true) {
    add("secure_boot_disabled", Severity::kCritical, "UEFI Secure Boot is no longer enabled");
  }
  if (a.security.setup_mode != true && b.security.setup_mode == true) {
    add("setup_mode_entered", Severity::kCritical, "UEFI is in Setup Mode (keys can be replaced)");
  }
  if (a.tpm.present && !b.tpm.present)
    add("tpm_disappeared", Severity::kCritical, "the TPM is gone");
  if (a.tpm.present && b.tpm.present && !a.tpm.manufacturer.empty() &&
      !b.tpm.manufacturer.empty() && a.tpm.manufacturer != b.tpm.manufacturer) {
    add("tpm_changed", Severity::kCritical,
        "TPM manufacturer " + a.tpm.manufacturer + " -> " + b.tpm.manufacturer);
  }
  if (a.security.iommu == true && b.security.iommu != true) {
    add("iommu_disabled", Severity::kHigh, "the IOMMU is no longer enabled");
  }
  if (a.security.preboot_dma == true && b.security.preboot_dma != true) {
    add("preboot_dma_protection_lost", Severity::kMedium, "pre-boot DMA protection is off");
  }
  auto lockdown_rank = [](const std::string& l) {
    return l == "confidentiality" ? 2 : l == "integrity" ? 1 : 0;
  };
  if (lockdown_rank(b.security.lockdown) < lockdown_rank(a.security.lockdown)) {
    add("lockdown_weakened", Severity::kHigh,
        "kernel lockdown " + a.security.lockdown + " -> " + show(b.security.lockdown));
  }
  if (a.security.taint.value_or(0) == 0 && b.security.taint.value_or(0) != 0) {
    add("kernel_tainted", Severity::kMedium,
        "the kernel is tainted (" + std::to_string(*b.security.taint) + ")");
  }
  auto encrypted = [](const std::string& m) { return m == "tme" || m == "sme" || m == "tsme"; };
  if (encrypted(a.security.memory_encryption) && !encrypted(b.security.memory_encryption)) {
    add("memory_encryption_disabled", Severity::kHigh,
        "memory encryption " + a.security.memory_encryption + " -> " +
            show(b.security.memory_encryption));
  }
  if (a.psp.sev_snp == true && b.psp.sev_snp != true) {
    add("sev_snp_disabled", Severity::kMedium, "SEV-SNP is no longer enabled");
  }
  // Engines that appeared (by kind), whatever their source.
  for (const auto& e : b.subos_engines) {
    bool before = std::any_of(a.subos_engines.begin(), a.subos_engines.end(),
                              [&](const SubOsEngine& x) { return x.kind == e.kind; });
    if (!before && e.kind != "bmc" && e.kind != "intel-csme") {
      add("subos_engine_appeared", Severity::kHigh, "sub-OS engine " + e.kind + " appeared");
    }
  }
  return out;
}

}  // namespace ironroot::posture
