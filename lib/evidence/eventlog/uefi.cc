#include "evidence/eventlog/uefi.h"

// libefivar's headers have no C++ linkage guards.
extern "C" {
#include <efivar/efivar.h>
}
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/hex.h"
#include "core/text.h"
#include "crypto/digest.h"
#include "evidence/eventlog/event_types.h"

namespace ironroot::evidence::eventlog {
namespace {

// A signature list or GPT may hold many entries, but each costs at least a GUID; this bounds
// the vectors we build by what the input could really contain, never by a count it declares.
constexpr uint64_t kMaxDevicePathBytes = 64 * 1024;

std::string guid_at(Bytes b) {
  return guid_to_string(b.data());
}

std::string x509_name(X509_NAME* name) {
  if (name == nullptr) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len > 0 ? len : 0));
  return is_valid_utf8(out) ? out : printable(out);
}

}  // namespace

bool describe_x509(Bytes der, std::string* subject, std::string* issuer, std::string* serial) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (!cert) return false;
  *subject = x509_name(X509_get_subject_name(cert.get()));
  *issuer = x509_name(X509_get_issuer_name(cert.get()));
  serial->clear();
  if (const ASN1_INTEGER* sn = X509_get0_serialNumber(cert.get())) {
    std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(sn, nullptr), BN_free);
    if (bn) {
      std::vector<uint8_t> buf(static_cast<size_t>(BN_num_bytes(bn.get())));
      BN_bn2bin(bn.get(), buf.data());
      *serial = to_hex(buf);
    }
  }
  return true;
}

Result<VariableData> parse_variable_data(Bytes payload, uint64_t base) {
  ByteReader r(payload, base);
  VariableData v;
  IRONROOT_ASSIGN_OR_RETURN(Bytes guid, r.take(16, "VariableName"));
  v.guid = guid_at(guid);
  IRONROOT_ASSIGN_OR_RETURN(uint64_t name_len, r.u64le("UnicodeNameLength"));
  IRONROOT_ASSIGN_OR_RETURN(uint64_t data_len, r.u64le("VariableDataLength"));
  if (name_len > r.remaining() / 2) {
    return field_error(
        r.file_offset(), "UnicodeName",
        "UnicodeNameLength " + std::to_string(name_len) + " characters exceeds the payload");
  }
  uint64_t name_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(Bytes name, r.take(name_len * 2, "UnicodeName"));
  auto text = utf16le_to_utf8(name);
  if (!text) return field_error(name_at, "UnicodeName", text.error().message());
  v.name = std::move(*text);
  IRONROOT_ASSIGN_OR_RETURN(v.data, r.take(data_len, "VariableData"));
  return v;
}

Result<std::vector<SignatureList>> parse_signature_lists(Bytes data, uint64_t base) {
  std::vector<SignatureList> lists;
  ByteReader r(data, base);
  while (!r.empty()) {
    uint64_t list_at = r.file_offset();
    IRONROOT_ASSIGN_OR_RETURN(Bytes type, r.take(16, "SignatureType"));
    IRONROOT_ASSIGN_OR_RETURN(uint32_t list_size, r.u32le("SignatureListSize"));
    IRONROOT_ASSIGN_OR_RETURN(uint32_t header_size, r.u32le("SignatureHeaderSize"));
    IRONROOT_ASSIGN_OR_RETURN(uint32_t sig_size, r.u32le("SignatureSize"));
    constexpr uint32_t kListHeader = 28;
    if (list_size < kListHeader || uint64_t{list_size} - kListHeader > r.remaining() + 0ull) {
      return field_error(list_at + 16, "SignatureListSize",
                         std::to_string(list_size) + " does not fit the " +
                             std::to_string(r.remaining() + kListHeader) + " bytes left");
    }
    uint64_t body = list_size - kListHeader;
    if (header_size > body) {
      return field_error(list_at + 20, "SignatureHeaderSize", "larger than the list");
    }
    uint64_t sigs = body - header_size;
    if (sig_size < 16 || sigs % sig_size != 0) {
      return field_error(list_at + 24, "SignatureSize",
                         std::to_string(sig_size) + " does not divide the " + std::to_string(sigs) +
                             " bytes of signatures (or is under 16)");
    }
    IRONROOT_RETURN_IF_ERROR(r.skip(header_size, "SignatureHeader"));
    SignatureList list;
    list.type = guid_at(type);
    if (list.type == kEfiCertX509Guid) list.type_name = "x509";
    if (list.type == kEfiCertSha256Guid) list.type_name = "sha256";
    for (uint64_t i = 0; i < sigs / sig_size; ++i) {
      SignatureEntry e;
      IRONROOT_ASSIGN_OR_RETURN(Bytes owner, r.take(16, "SignatureOwner"));
      e.owner = guid_at(owner);
      IRONROOT_ASSIGN_OR_RETURN(e.data, r.take(sig_size - 16, "SignatureData"));
      if (list.type_name == "x509") {
        describe_x509(e.data, &e.subject, &e.issuer, &e.serial);
        e.sha256 = crypto::hash(crypto::HashAlg::kSha256, e.data).hex();
      } else if (list.type_name == "sha256") {
        e.sha256 = to_hex(e.data);
      }
      list.entries.push_back(std::move(e));
    }
    lists.push_back(std::move(list));
  }
  return lists;
}

Result<LoadOption> parse_load_option(Bytes data, uint64_t base) {
  ByteReader r(data, base);
  LoadOption o;
  IRONROOT_ASSIGN_OR_RETURN(o.attributes, r.u32le("Attributes"));
  IRONROOT_ASSIGN_OR_RETURN(uint16_t path_len, r.u16le("FilePathListLength"));
  // Description: NUL-terminated UTF-16.
  Bytes rest = r.rest();
  size_t units = 0;
  while (2 * units + 1 < rest.size() && (rest[2 * units] | rest[2 * units + 1]) != 0) ++units;
  if (2 * units + 1 >= rest.size()) {
    return field_error(r.file_offset(), "Description", "no NUL terminator");
  }
  uint64_t desc_at = r.file_offset();
  auto desc = utf16le_to_utf8(rest.first(2 * units));
  if (!desc) return field_error(desc_at, "Description", desc.error().message());
  o.description = std::move(*desc);
  IRONROOT_RETURN_IF_ERROR(r.skip(2 * units + 2, "Description"));
  IRONROOT_ASSIGN_OR_RETURN(o.device_path, r.take(path_len, "FilePathList"));
  o.optional_data = r.rest();
  return o;
}

Result<ImageLoadEvent> parse_image_load_event(Bytes data, uint64_t base) {
  ByteReader r(data, base);
  ImageLoadEvent e;
  IRONROOT_ASSIGN_OR_RETURN(e.location, r.u64le("ImageLocationInMemory"));
  IRONROOT_ASSIGN_OR_RETURN(e.length, r.u64le("ImageLengthInMemory"));
  IRONROOT_ASSIGN_OR_RETURN(e.link_time_address, r.u64le("ImageLinkTimeAddress"));
  IRONROOT_ASSIGN_OR_RETURN(uint64_t path_len, r.u64le("LengthOfDevicePath"));
  IRONROOT_ASSIGN_OR_RETURN(e.device_path, r.take(path_len, "DevicePath"));
  return e;
}

Result<GptData> parse_gpt_data(Bytes data, uint64_t base) {
  ByteReader r(data, base);
  GptData g;
  // EFI_PARTITION_TABLE_HEADER (UEFI 2.10, 5.3.2).
  IRONROOT_ASSIGN_OR_RETURN(Bytes sig, r.take(8, "Signature"));
  if (std::memcmp(sig.data(), "EFI PART", 8) != 0) {
    return field_error(base, "Signature", "not \"EFI PART\"");
  }
  IRONROOT_RETURN_IF_ERROR(r.skip(4, "Revision"));
  uint64_t hs_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(uint32_t header_size, r.u32le("HeaderSize"));
  if (header_size < 92) return field_error(hs_at, "HeaderSize", "under 92 bytes");
  g.header_size = header_size;
  IRONROOT_RETURN_IF_ERROR(r.skip(4 + 4 + 8 + 8 + 8 + 8, "Header"));
  IRONROOT_ASSIGN_OR_RETURN(Bytes disk_guid, r.take(16, "DiskGUID"));
  g.disk_guid = guid_at(disk_guid);
  IRONROOT_RETURN_IF_ERROR(r.skip(8 + 4, "PartitionEntryLBA"));
  uint64_t es_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(uint32_t entry_size, r.u32le("SizeOfPartitionEntry"));
  IRONROOT_RETURN_IF_ERROR(r.skip(4, "PartitionEntryArrayCRC32"));
  IRONROOT_RETURN_IF_ERROR(r.skip(header_size - 92, "Header"));
  if (entry_size < 128) return field_error(es_at, "SizeOfPartitionEntry", "under 128 bytes");
  uint64_t n_at = r.file_offset();
  IRONROOT_ASSIGN_OR_RETURN(g.number_of_partitions, r.u64le("NumberOfPartitions"));
  if (g.number_of_partitions > r.remaining() / entry_size) {
    return field_error(n_at, "NumberOfPartitions",
                       std::to_string(g.number_of_partitions) + " entries of " +
                           std::to_string(entry_size) + " bytes exceed the " +
                           std::to_string(r.remaining()) + " bytes left");
  }
  for (uint64_t i = 0; i < g.number_of_partitions; ++i) {
    IRONROOT_ASSIGN_OR_RETURN(Bytes e, r.take(entry_size, "Partition"));
    GptPartition p;
    p.type_guid = guid_at(e.subspan(0, 16));
    p.unique_guid = guid_at(e.subspan(16, 16));
    p.first_lba = ByteReader::load_le64(e.data() + 32);
    p.last_lba = ByteReader::load_le64(e.data() + 40);
    p.attributes = ByteReader::load_le64(e.data() + 48);
    auto name = utf16le_to_utf8(e.subspan(56, 72));
    p.name = name ? std::move(*name) : printable(std::string(e.begin() + 56, e.begin() + 128));
    g.partitions.push_back(std::move(p));
  }
  return g;
}

namespace {

// Smallest valid size of each device path node libefivar decodes (UEFI 2.10, 10.3). libefivar 37
// trusts node lengths (a 4-byte vendor node makes it read 2^64 bytes), so a node shorter than
// its structure is rendered generically instead of being handed to it.
struct NodeMin {
  uint8_t type;
  uint8_t subtype;
  uint16_t min;
};
constexpr NodeMin kNodeMin[] = {
    {1, 1, 6},   {1, 2, 5},   {1, 3, 24},  {1, 4, 20},  {1, 5, 8},   {1, 6, 13},  // hardware
    {2, 1, 12},  {2, 2, 20},  {2, 3, 8},   {2, 4, 8},                             // ACPI
    {3, 1, 8},   {3, 2, 8},   {3, 3, 24},  {3, 4, 16},  {3, 5, 6},   {3, 6, 8},   // messaging
    {3, 9, 48},  {3, 10, 44}, {3, 11, 37}, {3, 12, 27}, {3, 13, 60}, {3, 14, 19},
    {3, 15, 11}, {3, 16, 12}, {3, 17, 5},  {3, 18, 10}, {3, 19, 20}, {3, 20, 6},
    {3, 21, 24}, {3, 22, 32}, {3, 23, 16}, {3, 24, 6},  {3, 25, 6},  {3, 26, 5},
    {3, 27, 10}, {3, 28, 36}, {3, 29, 5},  {3, 30, 11}, {3, 31, 6},  {3, 32, 20},
    {4, 1, 42},  {4, 2, 24},  {4, 3, 20},  {4, 4, 6},   {4, 5, 20},  {4, 6, 20},  // media
    {4, 7, 20},  {4, 8, 24},  {4, 9, 38},  {5, 1, 10},                            // BIOS boot
};

// 0 when libefivar must not see this node.
uint16_t min_node_length(uint8_t type, uint8_t subtype) {
  for (const auto& n : kNodeMin) {
    if (n.type == type && n.subtype == subtype) return n.min;
  }
  return 0;
}

// UEFI's generic text form for a node: Path(type,subtype,hexdata).
std::string generic_node_text(Bytes node) {
  char head[40];
  std::snprintf(head, sizeof head, "Path(%u,%u,", node[0], node[1]);
  return head + to_hex(node.subspan(4)) + ")";
}

std::string efivar_node_text(Bytes node) {
  // The node, End Entire, and zero padding so that decoders reading fixed fields past a short
  // string stop in our zeros.
  std::vector<uint8_t> buf(node.size() + 4 + 256, 0);
  std::memcpy(buf.data(), node.data(), node.size());
  buf[node.size()] = 0x7f;
  buf[node.size() + 1] = 0xff;
  buf[node.size() + 2] = 4;
  const auto* dp = reinterpret_cast<const_efidp>(buf.data());
  auto limit = static_cast<ssize_t>(node.size() + 4);
  ssize_t need = efidp_format_device_path(nullptr, 0, dp, limit);
  if (need <= 0 || need > 65536) return generic_node_text(node);
  std::string text(static_cast<size_t>(need) + 1, '\0');
  if (efidp_format_device_path(text.data(), text.size(), dp, limit) < 0) {
    return generic_node_text(node);
  }
  text.resize(strnlen(text.c_str(), text.size()));
  return is_valid_utf8(text) ? text : printable(text);
}

}  // namespace

Result<std::string> device_path_to_text(Bytes path, uint64_t base) {
  if (path.size() > kMaxDevicePathBytes) {
    return field_error(base, "DevicePath", "longer than 64 KiB");
  }
  // Walk the nodes ourselves: each length must be >= 4 and inside the path; the path ends at
  // End Entire (0x7f/0xff); End Instance (0x7f/0x01) separates instances.
  std::string out;
  size_t at = 0;
  while (at < path.size()) {
    if (path.size() - at < 4) {
      return field_error(base + at, "DevicePath", "truncated node header");
    }
    uint8_t type = path[at];
    uint8_t subtype = path[at + 1];
    uint16_t len = ByteReader::load_le16(path.data() + at + 2);
    if (len < 4 || len > path.size() - at) {
      return field_error(base + at + 2, "DevicePath",
                         "node length " + std::to_string(len) + " is under 4 or overruns the path");
    }
    Bytes node = path.subspan(at, len);
    at += len;
    if (type == 0x7f) {
      if (subtype == 0xff) break;
      out += ",";
      continue;
    }
    if (!out.empty() && out.back() != ',') out += "/";
    uint16_t min = min_node_length(type, subtype);
    out += (min != 0 && len >= min) ? efivar_node_text(node) : generic_node_text(node);
  }
  return out;
}

std::string payload_text(Bytes data, bool* utf16) {
  // An odd size with a final NUL is UTF-16 logged one byte short (an older systemd-boot).
  if (data.size() % 2 == 1 && data.back() == 0) data = data.first(data.size() - 1);
  // UTF-16LE when it is even-sized with mostly NUL high bytes (what systemd-boot writes).
  size_t zeros = 0;
  for (size_t i = 1; i < data.size(); i += 2) zeros += data[i] == 0;
  bool looks_utf16 = data.size() >= 2 && data.size() % 2 == 0 && zeros * 8 >= data.size() * 3;
  if (looks_utf16) {
    auto text = utf16le_to_utf8(data);
    if (text) {
      if (utf16) *utf16 = true;
      return printable(*text);
    }
  }
  if (utf16) *utf16 = false;
  size_t n = data.size();
  while (n > 0 && data[n - 1] == 0) --n;
  return printable(std::string_view(reinterpret_cast<const char*>(data.data()), n));
}

}  // namespace ironroot::evidence::eventlog
