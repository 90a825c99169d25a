#include "evidence/eventlog/writer.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>

#include "evidence/eventlog/event_types.h"

namespace ironroot::evidence::eventlog {
namespace {

using crypto::HashAlg;

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A self-signed Ed25519 certificate for `cn`, as DER. Deterministic (key from a hash of the
// name, fixed serial and validity, Ed25519 signatures have no randomness), so that every
// simulated host of a fleet carries the same Secure Boot keys, as real fleets do.
std::vector<uint8_t> self_signed_cert(const std::string& cn) {
  crypto::Digest seed = crypto::hash(HashAlg::kSha256, as_bytes("ironroot sample key " + cn));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.bytes.data(), 32),
      EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return {};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), "20240101000000Z");
  ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20440101000000Z");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ironroot demo"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), nullptr) <= 0) return {};
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) return {};
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(cert.get(), &p);
  return der;
}

// EFI_SIGNATURE_LIST holding one entry of `type`.
std::vector<uint8_t> signature_list(std::string_view type, std::string_view owner, Bytes data) {
  std::vector<uint8_t> out;
  Guid t = guid_from_string(type);
  out.insert(out.end(), t.begin(), t.end());
  uint32_t sig_size = static_cast<uint32_t>(16 + data.size());
  put_le(out, 28 + sig_size, 4);
  put_le(out, 0, 4);
  put_le(out, sig_size, 4);
  Guid o = guid_from_string(owner);
  out.insert(out.end(), o.begin(), o.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

EventLogWriter::EventLogWriter(std::vector<HashAlg> banks) : banks_(std::move(banks)) {
  // TCG_PCR_EVENT header carrying TCG_EfiSpecIDEvent (PFP 10.4.5.1).
  std::vector<uint8_t> spec;
  const char sig[16] = "Spec ID Event03";
  spec.insert(spec.end(), sig, sig + 16);
  put_le(spec, 0, 4);  // platformClass: client
  spec.push_back(0);   // specVersionMinor
  spec.push_back(2);   // specVersionMajor
  spec.push_back(0);   // specErrata
  spec.push_back(2);   // uintnSize: 64-bit
  put_le(spec, banks_.size(), 4);
  for (HashAlg alg : banks_) {
    put_le(spec, static_cast<uint16_t>(alg), 2);
    put_le(spec, crypto::digest_size(alg), 2);
  }
  spec.push_back(0);  // vendorInfoSize
  put32(0);
  put32(EV_NO_ACTION);
  out_.insert(out_.end(), 20, 0);
  put32(static_cast<uint32_t>(spec.size()));
  out_.insert(out_.end(), spec.begin(), spec.end());
}

void EventLogWriter::put32(uint32_t v) {
  put_le(out_, v, 4);
}

void EventLogWriter::add_raw(uint32_t pcr, uint32_t type,
                             const std::vector<crypto::Digest>& digests, Bytes data) {
  put32(pcr);
  put32(type);
  put32(static_cast<uint32_t>(digests.size()));
  for (const auto& d : digests) {
    put_le(out_, static_cast<uint16_t>(d.alg), 2);
    out_.insert(out_.end(), d.view().begin(), d.view().end());
  }
  put32(static_cast<uint32_t>(data.size()));
  out_.insert(out_.end(), data.begin(), data.end());
}

void EventLogWriter::add_measured(uint32_t pcr, uint32_t type, Bytes measured, Bytes data) {
  std::vector<crypto::Digest> digests;
  for (HashAlg alg : banks_) digests.push_back(crypto::hash(alg, measured));
  add_raw(pcr, type, digests, data);
}

void EventLogWriter::add(uint32_t pcr, uint32_t type, Bytes data) {
  add_measured(pcr, type, data, data);
}

void EventLogWriter::add_startup_locality(uint8_t locality) {
  std::vector<uint8_t> data(as_bytes("StartupLocality").begin(), as_bytes("StartupLocality").end());
  data.push_back(0);
  data.push_back(locality);
  std::vector<crypto::Digest> zero;
  for (HashAlg alg : banks_) zero.push_back(crypto::Digest::zero(alg));
  add_raw(0, EV_NO_ACTION, zero, data);
}

std::vector<uint8_t> utf16le(std::string_view ascii, bool nul_terminated) {
  std::vector<uint8_t> out;
  for (char c : ascii) {
    out.push_back(static_cast<uint8_t>(c));
    out.push_back(0);
  }
  if (nul_terminated) out.insert(out.end(), {0, 0});
  return out;
}

std::vector<uint8_t> variable_data(std::string_view guid, std::string_view name, Bytes data) {
  std::vector<uint8_t> out;
  Guid g = guid_from_string(guid);
  out.insert(out.end(), g.begin(), g.end());
  put_le(out, name.size(), 8);
  put_le(out, data.size(), 8);
  auto n = utf16le(name, false);
  out.insert(out.end(), n.begin(), n.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> file_device_path(std::string_view file) {
  // Media device path, File Path subtype (UEFI 2.10, 10.3.5.4), then End Entire.
  std::vector<uint8_t> dp = {0x04, 0x04, 0, 0};
  auto name = utf16le(file, true);
  dp.insert(dp.end(), name.begin(), name.end());
  dp[2] = static_cast<uint8_t>(dp.size());
  dp[3] = static_cast<uint8_t>(dp.size() >> 8);
  dp.insert(dp.end(), {0x7f, 0xff, 0x04, 0x00});
  return dp;
}

std::vector<uint8_t> image_load_event(uint64_t location, uint64_t length, std::string_view file) {
  std::vector<uint8_t> dp = file_device_path(file);
  std::vector<uint8_t> out;
  put_le(out, location, 8);
  put_le(out, length, 8);
  put_le(out, 0, 8);
  put_le(out, dp.size(), 8);
  out.insert(out.end(), dp.begin(), dp.end());
  return out;
}

std::vector<uint8_t> sample_boot_log(std::string_view seed, std::string_view firmware_version,
                                     const std::vector<HashAlg>& banks) {
  EventLogWriter w(banks);
  const std::string fw(firmware_version);
  const std::string host(seed);
  // PCR 0: S-CRTM version and the firmware volumes.
  w.add(0, EV_S_CRTM_VERSION, utf16le(fw, true));
  std::string volume = "firmware volume " + fw;
  std::vector<uint8_t> blob;
  put_le(blob, 0xffc00000, 8);
  put_le(blob, 0x400000, 8);
  w.add_measured(0, EV_EFI_PLATFORM_FIRMWARE_BLOB, as_bytes(volume), blob);
  // PCR 7: Secure Boot state and keys.
  uint8_t on = 1;
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG,
        variable_data(kEfiGlobalVariableGuid, "SecureBoot", Bytes(&on, 1)));
  const std::string_view owner = "77fa9abd-0359-4d32-bd60-28f4e78f784b";
  auto pk = signature_list(kEfiCertX509Guid, owner, self_signed_cert("ironroot demo PK"));
  auto kek = signature_list(kEfiCertX509Guid, owner, self_signed_cert("ironroot demo KEK"));
  auto db_cert = self_signed_cert("ironroot demo db");
  auto db = signature_list(kEfiCertX509Guid, owner, db_cert);
  auto revoked = crypto::hash(HashAlg::kSha256, as_bytes("revoked boot loader"));
  auto dbx = signature_list(kEfiCertSha256Guid, owner, revoked.view());
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiGlobalVariableGuid, "PK", pk));
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiGlobalVariableGuid, "KEK", kek));
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiImageSecurityDatabaseGuid, "db", db));
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiImageSecurityDatabaseGuid, "dbx", dbx));
  const uint8_t separator[4] = {0, 0, 0, 0};
  w.add(7, EV_SEPARATOR, Bytes(separator, 4));
  // PCR 1: boot order and the boot option.
  uint8_t order[2] = {1, 0};
  w.add(1, EV_EFI_VARIABLE_BOOT,
        variable_data(kEfiGlobalVariableGuid, "BootOrder", Bytes(order, 2)));
  std::vector<uint8_t> option;
  put_le(option, 1, 4);  // LOAD_OPTION_ACTIVE
  std::vector<uint8_t> dp = file_device_path("\\EFI\\debian\\shimx64.efi");
  put_le(option, dp.size(), 2);
  auto desc = utf16le("debian", true);
  option.insert(option.end(), desc.begin(), desc.end());
  option.insert(option.end(), dp.begin(), dp.end());
  w.add(1, EV_EFI_VARIABLE_BOOT, variable_data(kEfiGlobalVariableGuid, "Boot0001", option));
  // PCR 4: calling the boot option; separators for PCRs 0-6.
  w.add(4, EV_EFI_ACTION, as_bytes("Calling EFI Application from Boot Option"));
  for (uint32_t pcr = 0; pcr <= 6; ++pcr) w.add(pcr, EV_SEPARATOR, Bytes(separator, 4));
  // PCR 7: the db certificate that verified shim; PCR 4: shim, grub, kernel images.
  std::vector<uint8_t> authority;
  Guid o = guid_from_string(owner);
  authority.insert(authority.end(), o.begin(), o.end());
  authority.insert(authority.end(), db_cert.begin(), db_cert.end());
  w.add(7, EV_EFI_VARIABLE_AUTHORITY,
        variable_data(kEfiImageSecurityDatabaseGuid, "db", authority));
  const char* images[][2] = {{"shim 15.8", "\\EFI\\debian\\shimx64.efi"},
                             {"grub 2.06", "\\EFI\\debian\\grubx64.efi"},
                             {"linux 6.1.0-28-amd64", "\\vmlinuz-6.1.0-28-amd64"}};
  uint64_t at = 0x7e000000;
  for (const auto& img : images) {
    w.add_measured(4, EV_EFI_BOOT_SERVICES_APPLICATION, as_bytes(img[0]),
                   image_load_event(at, 0x200000, img[1]));
    at += 0x200000;
  }
  // PCR 8 / 9: grub's commands, kernel command line and the files it loaded.
  const std::string cmdline =
      "/vmlinuz-6.1.0-28-amd64 root=UUID=" + host + " ro quiet ima_policy=tcb";
  // grub hashes the command without the prefix it logs.
  const std::string command = "linux /vmlinuz-6.1.0-28-amd64";
  w.add_measured(8, EV_IPL, as_bytes(command), as_bytes("grub_cmd: " + command));
  w.add_measured(8, EV_IPL, as_bytes(cmdline), as_bytes("kernel_cmdline: " + cmdline));
  w.add_measured(9, EV_IPL, as_bytes("initrd for " + host), as_bytes("/initrd.img-6.1.0-28-amd64"));
  // PCR 5: leaving boot services.
  w.add(5, EV_EFI_ACTION, as_bytes("Exit Boot Services Invocation"));
  w.add(5, EV_EFI_ACTION, as_bytes("Exit Boot Services Returned with Success"));
  return w.bytes();
}

}  // namespace ironroot::evidence::eventlog
