// Test helpers for posture: building SMBIOS tables and captured root trees.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ironroot::posture::testing {

// One SMBIOS structure: formatted area (header filled in) and strings.
inline void add_structure(std::vector<uint8_t>& table, uint8_t type, uint16_t handle,
                          std::vector<uint8_t> body, const std::vector<std::string>& strings) {
  table.push_back(type);
  table.push_back(static_cast<uint8_t>(body.size() + 4));
  table.push_back(static_cast<uint8_t>(handle & 0xFF));
  table.push_back(static_cast<uint8_t>(handle >> 8));
  table.insert(table.end(), body.begin(), body.end());
  for (const auto& s : strings) {
    table.insert(table.end(), s.begin(), s.end());
    table.push_back(0);
  }
  if (strings.empty()) table.push_back(0);
  table.push_back(0);
}

inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// A table like a small rack server's: BIOS, system, board, chassis, CPU, IPMI, Redfish host
// interface, TPM, $MEI and FVI records.
inline std::vector<uint8_t> sample_table(uint8_t chassis = 23) {
  std::vector<uint8_t> t;
  // Type 0: vendor 1, version 2, segment, date 3, rom size, characteristics (8), ext (2), rel.
  add_structure(t, 0, 0x0000, {1, 2,    0x00, 0xF0, 3,    0xFF, 0, 0,  0,    0,
                               0, 0x08, 0,    0,    0x03, 0x0D, 5, 10, 0xFF, 0xFF},
                {"American Megatrends International, LLC.", "2.7.1", "03/14/2024"});
  std::vector<uint8_t> sys = {1, 2, 3, 4};
  for (int i = 0; i < 16; ++i) sys.push_back(static_cast<uint8_t>(i));
  sys.insert(sys.end(), {6, 5, 6});
  add_structure(t, 1, 0x0001, sys, {"Supermicro", "SYS-1029P", "0123", "S123", "Rack", "Server"});
  add_structure(t, 2, 0x0002, {1, 2, 3, 4, 0, 0x09, 0, 0x03, 0, 0x0A, 0},
                {"Supermicro", "X11DPU", "1.10", "B1"});
  add_structure(t, 3, 0x0003, {1, chassis, 2, 3, 4, 3, 3, 3, 2, 0, 0, 0, 0, 1, 1, 0, 0},
                {"Supermicro", "0123", "C1", "A1"});
  // Type 4 (48 bytes): socket, type CPU, family Xeon (0xB3), manufacturer, ID, version ...
  std::vector<uint8_t> cpu = {1, 3, 0xB3, 2};
  put32(cpu, 0x00050654);  // CPUID 1 EAX: family 6 model 85 stepping 4
  put32(cpu, 0xBFEBFBFF);
  cpu.insert(cpu.end(), {3, 0x8C, 0x64, 0x00, 0x10, 0x0E, 0x60, 0x09, 0x41, 0x01});
  cpu.insert(cpu.end(), {0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0,    0,    0,    0x14, 0x14,
                         0x28, 0xEC, 0x00, 0xB3, 0x00, 0x14, 0x00, 0x14, 0x00, 0x28, 0x00});
  add_structure(t, 4, 0x0004, cpu,
                {"CPU1", "Intel(R) Corporation", "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"});
  std::vector<uint8_t> empty_socket(44, 0);  // unpopulated: status 0, no strings but the socket
  empty_socket[0] = 1;
  empty_socket[1] = 3;
  empty_socket[2] = 0xB3;
  for (int i = 0x1A - 4; i < 0x20 - 4; ++i) empty_socket[i] = 0xFF;
  add_structure(t, 4, 0x0005, empty_socket, {"CPU2"});
  // Type 38: KCS, spec 2.0, i2c 0x20, nv 0xFF, base 0xCA2 (I/O), reg spacing.
  add_structure(t, 38, 0x0026, {0x01, 0x20, 0x20, 0xFF, 0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x00, 0x00},
                {});
  // Type 42 (3.2+): Network host interface, 0 bytes of interface data, 1 protocol: Redfish (4).
  // Interface data: USB device 046b:ffb0 (an AMI BMC's virtual NIC), no serial number.
  std::vector<uint8_t> hi = {0x40, 0x07, 0x02, 0x6b, 0x04, 0xb0, 0xff, 0x00, 0x03, 0x01, 0x04};
  std::vector<uint8_t> redfish(91, 0);  // Redfish protocol data: service UUID, IPv4 static
  redfish[16] = 0x01;                   // host IP assignment: static
  redfish[17] = 0x01;                   // host address format: IPv4
  hi.push_back(static_cast<uint8_t>(redfish.size()));
  hi.insert(hi.end(), redfish.begin(), redfish.end());
  add_structure(t, 42, 0x002A, hi, {});
  // Type 43: "IFX\0", spec 2.0, fw 7.85, description, characteristics, OEM.
  std::vector<uint8_t> tpm = {'I', 'F', 'X', 0, 2, 0};
  put32(tpm, (7u << 16) | 85u);
  put32(tpm, 0);
  tpm.push_back(1);
  tpm.insert(tpm.end(), {0x10, 0, 0, 0, 0, 0, 0, 0});
  put32(tpm, 0);
  add_structure(t, 43, 0x002B, tpm, {"INFINEON"});
  // Type 219 $MEI: version 1, 2 records.
  std::vector<uint8_t> mei = {0x01, 0x02};
  mei.push_back(1);
  for (uint32_t r : {0x90000255u, 0x89114827u, 0x00000060u, 0x00004000u, 0u, 0x00400000u})
    put32(mei, r);
  mei.push_back(2);
  for (int i = 0; i < 6; ++i) put32(mei, 0);
  add_structure(t, 219, 0x00DB, mei, {"MEI1", "MEI2"});
  // Type 221 FVI: 2 records.
  add_structure(t, 221, 0x00DD, {0x02, 1, 0, 11, 22, 92, 0x5E, 0x10, 2, 0, 0, 0, 0, 0, 0},
                {"ME Firmware Version", "MEBx version"});
  add_structure(t, 127, 0x7F00, {}, {});
  return t;
}

// A `dmidecode --dump-bin` file: SMBIOS 3 entry point at 0, the table at 32.
inline std::vector<uint8_t> dump_bin(const std::vector<uint8_t>& table) {
  std::vector<uint8_t> d(32 + table.size(), 0);
  const char anchor[] = "_SM3_";
  std::copy(anchor, anchor + 5, d.begin());
  d[6] = 0x18;  // length
  d[7] = 3;     // major
  d[8] = 3;     // minor
  d[9] = 0;     // docrev
  d[10] = 1;    // entry point revision
  uint32_t size = static_cast<uint32_t>(table.size());
  for (int i = 0; i < 4; ++i) d[12 + i] = static_cast<uint8_t>(size >> (8 * i));
  d[16] = 32;  // table address: right after the entry point
  uint8_t sum = 0;
  for (int i = 0; i < 0x18; ++i) sum = static_cast<uint8_t>(sum + d[i]);
  d[5] = static_cast<uint8_t>(0x100 - sum);
  for (size_t i = 0; i < table.size(); ++i) d[32 + i] = table[i];
  return d;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ironroot-posture-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  void write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = path + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  void write(const std::string& rel, const std::vector<uint8_t>& content) const {
    write(rel, std::string(content.begin(), content.end()));
  }
  void symlink(const std::string& target, const std::string& rel) const {
    std::filesystem::path p = path + rel;
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_symlink(target, p);
  }

  std::string path;
};

}  // namespace ironroot::posture::testing
