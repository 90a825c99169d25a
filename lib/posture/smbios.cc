#include "posture/smbios.h"

#include <algorithm>
#include <cstdio>

#include "core/text.h"

namespace ironroot::posture {
namespace {

constexpr size_t kMaxStructures = 65536;  // a handle is 16 bits

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\0')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\0'))
    --e;
  return std::string(s.substr(b, e - b));
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

std::string fmt(const char* f, unsigned a, unsigned b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

uint8_t byte_at(const std::vector<uint8_t>& v, size_t i) {
  return i < v.size() ? v[i] : 0;
}
uint16_t le16_at(const std::vector<uint8_t>& v, size_t i) {
  return i + 2 <= v.size() ? ByteReader::load_le16(v.data() + i) : 0;
}
uint32_t le32_at(const std::vector<uint8_t>& v, size_t i) {
  return i + 4 <= v.size() ? ByteReader::load_le32(v.data() + i) : 0;
}

// dmidecode prints "Not Specified" for string number 0.
std::string smbios_string(const SmbiosStructure& s, size_t offset) {
  if (offset >= s.formatted.size()) return "";
  if (s.formatted[offset] == 0) return "Not Specified";
  std::string v = s.string_at(offset);
  return v.empty() ? "<BAD INDEX>" : v;
}

enum class X86Kind { kNone, kIntel, kAmd };

X86Kind x86_kind(std::string_view manufacturer) {
  std::string m(manufacturer);
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  if (m.find("intel") != std::string::npos) return X86Kind::kIntel;
  if (m.find("amd") != std::string::npos || m.find("advanced micro") != std::string::npos)
    return X86Kind::kAmd;
  return X86Kind::kNone;
}

// The CPUID leaf 1 EAX signature, decoded the way dmidecode prints it.
void decode_signature(uint32_t eax, X86Kind kind, SmbiosProcessor& p) {
  if (kind == X86Kind::kIntel) {
    p.family = ((eax >> 20) & 0xFF) + ((eax >> 8) & 0x0F);
    p.model = ((eax >> 12) & 0xF0) + ((eax >> 4) & 0x0F);
    p.stepping = eax & 0xF;
  } else if (kind == X86Kind::kAmd) {
    uint32_t base = (eax >> 8) & 0xF;
    p.family = base + (base == 0xF ? (eax >> 20) & 0xFF : 0);
    p.model = ((eax >> 4) & 0xF) | (base == 0xF ? (eax >> 12) & 0xF0 : 0);
    p.stepping = eax & 0xF;
  }
}

std::string ipmi_interface_name(uint8_t t) {
  switch (t) {
    case 1: return "KCS (Keyboard Control Style)";
    case 2: return "SMIC (Server Management Interface Chip)";
    case 3: return "BT (Block Transfer)";
    case 4: return "SSIF (SMBus System Interface)";
    default: return "Unknown";
  }
}

// DSP0134 7.43 / MCTP host interface types, with dmidecode's names.
std::string host_interface_name(uint8_t t) {
  switch (t) {
    case 0x02: return "KCS: Keyboard Controller Style";
    case 0x03: return "8250 UART Register Compatible";
    case 0x04: return "16450 UART Register Compatible";
    case 0x05: return "16550/16550A UART Register Compatible";
    case 0x06: return "16650/16650A UART Register Compatible";
    case 0x07: return "16750/16750A UART Register Compatible";
    case 0x08: return "16850/16850A UART Register Compatible";
    case 0x40: return "Network";
    case 0xF0: return "OEM";
    default: return "<OUT OF SPEC>";
  }
}

void decode_structure(const SmbiosStructure& s, SmbiosInfo& info) {
  const auto& d = s.formatted;
  switch (s.type) {
    case 0:
      info.bios_vendor = smbios_string(s, 0x04);
      info.bios_version = smbios_string(s, 0x05);
      info.bios_date = smbios_string(s, 0x08);
      break;
    case 1:
      info.system_manufacturer = smbios_string(s, 0x04);
      info.system_product = smbios_string(s, 0x05);
      info.system_version = smbios_string(s, 0x06);
      if (d.size() > 0x1A) info.system_family = smbios_string(s, 0x1A);
      break;
    case 2:
      if (info.board_manufacturer.empty()) {
        info.board_manufacturer = smbios_string(s, 0x04);
        info.board_product = smbios_string(s, 0x05);
      }
      break;
    case 3:
      if (info.chassis_type.empty()) {
        info.chassis_manufacturer = smbios_string(s, 0x04);
        info.chassis_type = chassis_type_name(byte_at(d, 0x05));
      }
      break;
    case 4: {
      if (d.size() < 0x1A) break;
      SmbiosProcessor p;
      p.socket = smbios_string(s, 0x04);
      p.manufacturer = smbios_string(s, 0x07);
      p.version = smbios_string(s, 0x10);
      p.populated = (byte_at(d, 0x18) & 0x40) != 0;
      decode_signature(le32_at(d, 0x08), x86_kind(p.manufacturer), p);
      info.processors.push_back(std::move(p));
      break;
    }
    case 38:
      if (d.size() < 0x10) break;
      info.ipmi = true;
      info.ipmi_interface = ipmi_interface_name(byte_at(d, 0x04));
      info.ipmi_spec_version = fmt("%u.%u", byte_at(d, 0x05) >> 4, byte_at(d, 0x05) & 0xF);
      break;
    case 42: {
      if (d.size() < 0x05) break;
      info.host_interface = true;
      uint8_t type = byte_at(d, 0x04);
      info.host_interface_types.push_back(host_interface_name(type));
      // SMBIOS 3.2+: interface data, then protocol records {type, length, data}.
      if (d.size() < 0x06) break;
      size_t pos = 0x06 + byte_at(d, 0x05);
      if (pos >= d.size()) break;
      size_t count = byte_at(d, pos++);
      for (size_t i = 0; i < count && pos + 2 <= d.size(); ++i) {
        if (d[pos] == 0x04) info.redfish_over_ip = true;
        pos += 2 + d[pos + 1];
      }
      break;
    }
    case 43: {
      if (d.size() < 0x1B) break;
      info.tpm = true;
      std::string vendor;
      for (size_t i = 0x04; i < 0x08 && d[i] >= 0x20 && d[i] < 0x7F; ++i)
        vendor.push_back(static_cast<char>(d[i]));
      info.tpm_vendor_id = trim(vendor);
      uint8_t major = d[0x08], minor = d[0x09];
      info.tpm_spec_version = fmt("%u.%u", major, minor);
      if (major == 1) {
        info.tpm_firmware = fmt("%u.%u", d[0x0C], d[0x0D]);
      } else if (major == 2) {
        uint32_t fw1 = le32_at(d, 0x0A);
        info.tpm_firmware = fmt("%u.%u", fw1 >> 16, fw1 & 0xFFFF);
      }
      info.tpm_description = smbios_string(s, 0x12);
      break;
    }
    default: decode_oem_structure(s, info);
  }
}

}  // namespace

const SmbiosProcessor* SmbiosInfo::main_processor() const {
  for (const auto& p : processors) {
    if (p.populated && !p.version.empty() && p.version != "Not Specified") return &p;
  }
  for (const auto& p : processors) {
    if (p.populated) return &p;
  }
  return processors.empty() ? nullptr : &processors.front();
}

std::string SmbiosInfo::me_firmware_version() const {
  for (const auto& r : fvi) {
    if (r.component == "ME Firmware Version" && !r.version.empty()) return r.version;
  }
  return "";
}

std::string SmbiosStructure::string_at(size_t offset) const {
  if (offset >= formatted.size()) return "";
  size_t n = formatted[offset];
  if (n == 0 || n > strings.size()) return "";
  return strings[n - 1];
}

std::string chassis_type_name(uint8_t type) {
  static const char* const kNames[] = {"Other",
                                       "Unknown",
                                       "Desktop",
                                       "Low Profile Desktop",
                                       "Pizza Box",
                                       "Mini Tower",
                                       "Tower",
                                       "Portable",
                                       "Laptop",
                                       "Notebook",
                                       "Hand Held",
                                       "Docking Station",
                                       "All In One",
                                       "Sub Notebook",
                                       "Space-saving",
                                       "Lunch Box",
                                       "Main Server Chassis",
                                       "Expansion Chassis",
                                       "Sub Chassis",
                                       "Bus Expansion Chassis",
                                       "Peripheral Chassis",
                                       "RAID Chassis",
                                       "Rack Mount Chassis",
                                       "Sealed-case PC",
                                       "Multi-system",
                                       "CompactPCI",
                                       "AdvancedTCA",
                                       "Blade",
                                       "Blade Enclosing",
                                       "Tablet",
                                       "Convertible",
                                       "Detachable",
                                       "IoT Gateway",
                                       "Embedded PC",
                                       "Mini PC",
                                       "Stick PC"};
  uint8_t t = type & 0x7F;
  if (t >= 1 && t <= std::size(kNames)) return kNames[t - 1];
  return "<OUT OF SPEC>";
}

void decode_oem_structure(const SmbiosStructure& s, SmbiosInfo& info) {
  const auto& d = s.formatted;
  if (s.type == 219 && info.mei.empty()) {
    // Intel $MEI FWSTS table: version 0x01, count, {component u8, HFSTS1..6 u32le} per record
    // (fwupd plugins/intel-me-smbios). Other OEMs use type 219 for other things: the sizes
    // must agree exactly, or the structure is not this table.
    if (d.size() < 6 || d[4] != 0x01) return;
    size_t count = d[5];
    if (count == 0 || d.size() != 6 + count * 25) return;
    for (size_t i = 0; i < count; ++i) {
      size_t at = 6 + i * 25;
      MeiFwsts rec;
      rec.component = d[at];
      for (size_t r = 0; r < 6; ++r) rec.hfsts[r] = le32_at(d, at + 1 + 4 * r);
      info.mei.push_back(rec);
    }
  } else if (s.type == 221) {
    // Intel FVI: count, {component string, version string, major, minor, revision, build u16le}.
    if (d.size() < 5) return;
    size_t count = d[4];
    if (d.size() < 5 + count * 7) return;
    for (size_t i = 0; i < count; ++i) {
      size_t at = 5 + i * 7;
      FviRecord rec;
      rec.component = s.string_at(at);
      uint8_t major = d[at + 2], minor = d[at + 3], rev = d[at + 4];
      uint16_t build = le16_at(d, at + 5);
      bool unset = (major == 0 && minor == 0 && rev == 0 && build == 0) ||
                   (major == 0xFF && minor == 0xFF && rev == 0xFF && build == 0xFFFF);
      if (!unset) {
        rec.version = std::to_string(major) + "." + std::to_string(minor) + "." +
                      std::to_string(rev) + "." + std::to_string(build);
      }
      if (!rec.component.empty()) info.fvi.push_back(std::move(rec));
    }
  }
}

Result<std::vector<SmbiosStructure>> split_smbios_table(Bytes table) {
  std::vector<SmbiosStructure> out;
  ByteReader r(table);
  while (r.remaining() >= 4) {
    uint64_t start = r.file_offset();
    auto header = r.rest();
    SmbiosStructure s;
    s.type = header[0];
    uint8_t length = header[1];
    s.handle = ByteReader::load_le16(header.data() + 2);
    if (length < 4) {
      return field_error(start + 1, "Length",
                         "structure type " + std::to_string(s.type) + " has length " +
                             std::to_string(length) + ", less than its 4-byte header");
    }
    IRONROOT_ASSIGN_OR_RETURN(Bytes formatted, r.take(length, "formatted area"));
    s.formatted.assign(formatted.begin(), formatted.end());
    // Strings: NUL-terminated, the set ends with an extra NUL (two NULs when there are none).
    Bytes rest = r.rest();
    size_t pos = 0;
    bool ended = false;
    while (pos < rest.size()) {
      if (rest[pos] == 0) {
        ++pos;
        if (s.strings.empty() && pos < rest.size() && rest[pos] == 0) ++pos;
        ended = true;
        break;
      }
      size_t end = pos;
      while (end < rest.size() && rest[end] != 0) ++end;
      if (end == rest.size()) break;
      std::string str(reinterpret_cast<const char*>(rest.data() + pos), end - pos);
      s.strings.push_back(printable(str));
      pos = end + 1;
    }
    if (!ended) {
      return field_error(r.file_offset() + pos, "strings",
                         "structure type " + std::to_string(s.type) + " handle " +
                             std::to_string(s.handle) + ": string set is not terminated");
    }
    IRONROOT_RETURN_IF_ERROR(r.skip(pos, "strings"));
    bool end_of_table = s.type == 127;
    out.push_back(std::move(s));
    if (end_of_table) break;
    if (out.size() > kMaxStructures) {
      return Error(ErrorCode::kResourceLimit, "more than 65536 SMBIOS structures");
    }
  }
  if (out.empty())
    return malformed("SMBIOS table: no structure in " + std::to_string(table.size()) + " bytes");
  return out;
}

Result<SmbiosInfo> parse_smbios_table(Bytes table, std::string smbios_version) {
  IRONROOT_ASSIGN_OR_RETURN(auto structures, split_smbios_table(table));
  SmbiosInfo info;
  info.smbios_version = std::move(smbios_version);
  for (const auto& s : structures) decode_structure(s, info);
  return info;
}

Result<std::string> parse_smbios_entry_point(Bytes entry) {
  ByteReader r(entry);
  IRONROOT_ASSIGN_OR_RETURN(Bytes anchor, r.take(4, "anchor"));
  if (std::equal(anchor.begin(), anchor.end(), "_SM3")) {
    if (entry.size() < 0x18)
      return field_error(0, "anchor", "_SM3_ entry point shorter than 24 bytes");
    return std::to_string(entry[7]) + "." + std::to_string(entry[8]) + "." +
           std::to_string(entry[9]);
  }
  if (std::equal(anchor.begin(), anchor.end(), "_SM_")) {
    if (entry.size() < 0x1F)
      return field_error(0, "anchor", "_SM_ entry point shorter than 31 bytes");
    return std::to_string(entry[6]) + "." + std::to_string(entry[7]);
  }
  return field_error(0, "anchor", "not an SMBIOS entry point (expected _SM_ or _SM3_)");
}

// ---- dmidecode text ----

namespace {

struct TextStructure {
  uint8_t type = 0;
  uint16_t handle = 0;
  size_t line = 0;
  std::string title;
  std::vector<std::pair<std::string, std::string>> fields;  // top-level "Key: Value"
  std::vector<std::string> nested;                          // deeper lines, trimmed
  std::vector<uint8_t> hex;                                 // "Header and Data"
  std::vector<std::string> strings;                         // "Strings"
  std::string section;                                      // current list being read

  std::string get(std::string_view key) const {
    for (const auto& [k, v] : fields) {
      if (k == key) return v;
    }
    return "";
  }
};

Result<uint8_t> hex_byte(std::string_view tok, size_t line) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (tok.size() != 2 || nib(tok[0]) < 0 || nib(tok[1]) < 0) {
    return malformed("line " + std::to_string(line) + ": '" + printable(tok) +
                     "' in Header and Data is not a hex byte");
  }
  return static_cast<uint8_t>(nib(tok[0]) * 16 + nib(tok[1]));
}

bool parse_uint(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 9) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  *out = v;
  return true;
}

// "Type 0, Family 6, Model 106, Stepping 6" or "Family 25, Model 1, Stepping 1".
void parse_signature(std::string_view sig, SmbiosProcessor& p) {
  auto number_after = [&](std::string_view word) -> std::optional<uint32_t> {
    size_t at = sig.find(word);
    if (at == std::string_view::npos) return std::nullopt;
    size_t b = at + word.size();
    size_t e = b;
    while (e < sig.size() && sig[e] >= '0' && sig[e] <= '9') ++e;
    uint32_t v;
    if (!parse_uint(sig.substr(b, e - b), &v)) return std::nullopt;
    return v;
  };
  p.family = number_after("Family ");
  p.model = number_after("Model ");
  p.stepping = number_after("Stepping ");
}

void apply_text_structure(const TextStructure& t, SmbiosInfo& info) {
  switch (t.type) {
    case 0:
      info.bios_vendor = t.get("Vendor");
      info.bios_version = t.get("Version");
      info.bios_date = t.get("Release Date");
      break;
    case 1:
      info.system_manufacturer = t.get("Manufacturer");
      info.system_product = t.get("Product Name");
      info.system_version = t.get("Version");
      info.system_family = t.get("Family");
      break;
    case 2:
      if (info.board_manufacturer.empty()) {
        info.board_manufacturer = t.get("Manufacturer");
        info.board_product = t.get("Product Name");
      }
      break;
    case 3:
      if (info.chassis_type.empty()) {
        info.chassis_manufacturer = t.get("Manufacturer");
        info.chassis_type = t.get("Type");
      }
      break;
    case 4: {
      SmbiosProcessor p;
      p.socket = t.get("Socket Designation");
      p.manufacturer = t.get("Manufacturer");
      p.version = t.get("Version");
      std::string status = t.get("Status");
      p.populated = !starts_with(status, "Unpopulated");
      parse_signature(t.get("Signature"), p);
      info.processors.push_back(std::move(p));
      break;
    }
    case 38:
      info.ipmi = true;
      info.ipmi_interface = t.get("Interface Type");
      info.ipmi_spec_version = t.get("Specification Version");
      break;
    case 42:
      info.host_interface = true;
      {
        std::string type = t.get("Host Interface Type");
        if (type.empty()) type = t.get("Interface Type");
        info.host_interface_types.push_back(type);
      }
      // dmidecode 3.2 nests the protocol records, 3.4 prints them as fields.
      for (const auto& n : t.nested) {
        if (starts_with(n, "Protocol ID: 04")) info.redfish_over_ip = true;
      }
      for (const auto& [k, v] : t.fields) {
        if (k == "Protocol ID" && starts_with(v, "04")) info.redfish_over_ip = true;
      }
      break;
    case 43: {
      info.tpm = true;
      info.tpm_vendor_id = t.get("Vendor ID");
      info.tpm_spec_version = t.get("Specification Version");
      info.tpm_firmware = t.get("Firmware Revision");
      info.tpm_description = t.get("Description");
      break;
    }
    default:
      if (!t.hex.empty()) {
        SmbiosStructure s;
        s.type = t.type;
        s.handle = t.handle;
        s.formatted = t.hex;
        s.strings = t.strings;
        decode_oem_structure(s, info);
      }
  }
}

}  // namespace

Result<SmbiosInfo> parse_dmidecode_text(std::string_view text) {
  SmbiosInfo info;
  std::vector<TextStructure> structures;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view raw = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (starts_with(raw, "SMBIOS ") && raw.find(" present") != std::string_view::npos) {
      info.smbios_version = trim(raw.substr(7, raw.find(" present") - 7));
      continue;
    }
    if (starts_with(raw, "Handle 0x")) {
      // "Handle 0x004F, DMI type 219, 106 bytes"
      size_t tpos = raw.find("DMI type ");
      if (tpos == std::string_view::npos) continue;
      TextStructure t;
      t.line = line_no;
      size_t b = tpos + 9, e = b;
      while (e < raw.size() && raw[e] >= '0' && raw[e] <= '9') ++e;
      uint32_t type;
      if (!parse_uint(raw.substr(b, e - b), &type) || type > 255) {
        return malformed("line " + std::to_string(line_no) + ": bad DMI type in '" +
                         printable(raw) + "'");
      }
      t.type = static_cast<uint8_t>(type);
      uint32_t handle = 0;
      for (size_t i = 9; i < raw.size() && i < 13; ++i) {
        char c = raw[i];
        int v = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : -1;
        if (v < 0) break;
        handle = handle * 16 + static_cast<uint32_t>(v);
      }
      t.handle = static_cast<uint16_t>(handle);
      structures.push_back(std::move(t));
      if (structures.size() > kMaxStructures) {
        return Error(ErrorCode::kResourceLimit, "more than 65536 structures in dmidecode text");
      }
      continue;
    }
    if (structures.empty() || raw.empty()) continue;
    TextStructure& t = structures.back();
    size_t tabs = 0;
    while (tabs < raw.size() && raw[tabs] == '\t') ++tabs;
    std::string_view body = raw.substr(tabs);
    if (tabs == 0) {
      if (t.title.empty()) t.title = trim(body);
      continue;
    }
    if (tabs == 1) {
      // hw-probe's archives sometimes join fields with a tab: "Key: v\tKey2: v2".
      t.section.clear();
      size_t start = 0;
      while (start <= body.size()) {
        size_t tab = body.find('\t', start);
        std::string_view part = body.substr(
            start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
        size_t colon = part.find(':');
        if (colon != std::string_view::npos) {
          std::string key = trim(part.substr(0, colon));
          std::string value = trim(part.substr(colon + 1));
          if (value.empty()) t.section = key;
          t.fields.emplace_back(std::move(key), std::move(value));
        }
        if (tab == std::string_view::npos) break;
        start = tab + 1;
      }
      continue;
    }
    std::string nested = trim(body);
    if (t.section == "Header and Data") {
      size_t i = 0;
      while (i < nested.size()) {
        while (i < nested.size() && nested[i] == ' ') ++i;
        size_t j = i;
        while (j < nested.size() && nested[j] != ' ') ++j;
        if (j > i) {
          IRONROOT_ASSIGN_OR_RETURN(uint8_t v,
                                    hex_byte(std::string_view(nested).substr(i, j - i), line_no));
          t.hex.push_back(v);
        }
        i = j;
      }
    } else if (t.section == "Strings") {
      t.strings.push_back(nested);
    } else {
      t.nested.push_back(std::move(nested));
    }
  }
  if (structures.empty()) {
    return malformed("dmidecode text: no 'Handle 0x..., DMI type N' line in " +
                     std::to_string(line_no) + " lines");
  }
  for (const auto& t : structures) apply_text_structure(t, info);
  return info;
}

}  // namespace ironroot::posture
