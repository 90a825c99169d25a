#include "sim/host.h"

#include <filesystem>
#include <fstream>

#include "core/file.h"
#include "core/hex.h"
#include "crypto/pki.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/writer.h"
#include "tpmdev/tpm.h"

namespace ironroot::sim {
namespace {

using crypto::Digest;
using crypto::HashAlg;

Bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// ima-ng template data (security/integrity/ima/ima_template_lib.c): d-ng then n-ng.
std::vector<uint8_t> ima_ng_template(const Digest& file_digest, const std::string& path) {
  std::vector<uint8_t> t;
  const std::string algo = std::string(crypto::hash_alg_name(file_digest.alg)) + ":";
  put32(t, static_cast<uint32_t>(algo.size() + 1 + file_digest.size));
  t.insert(t.end(), algo.begin(), algo.end());
  t.push_back(0);
  t.insert(t.end(), file_digest.view().begin(), file_digest.view().end());
  put32(t, static_cast<uint32_t>(path.size() + 1));
  t.insert(t.end(), path.begin(), path.end());
  t.push_back(0);
  return t;
}

}  // namespace

SimulatedHost::SimulatedHost(std::string dir, std::string host_id, std::string firmware_version)
    : dir_(std::move(dir)),
      host_id_(std::move(host_id)),
      firmware_version_(std::move(firmware_version)) {}

Status SimulatedHost::boot(tpmdev::Tpm& tpm) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error(ErrorCode::kIo, dir_ + ": " + ec.message());
  IRONROOT_ASSIGN_OR_RETURN(banks_, tpm.active_banks());
  if (banks_.empty()) return Error(ErrorCode::kUnsupported, "the TPM has no active PCR bank");
  auto log = evidence::eventlog::sample_boot_log(host_id_, firmware_version_, banks_);
  IRONROOT_RETURN_IF_ERROR(write_file(eventlog_path(), log));
  // Firmware: extend what the log says, event by event.
  IRONROOT_ASSIGN_OR_RETURN(auto reader, evidence::eventlog::EventLogReader::open(log));
  evidence::eventlog::Event ev;
  for (;;) {
    IRONROOT_ASSIGN_OR_RETURN(bool more, reader.next(ev));
    if (!more) break;
    if (ev.type == evidence::eventlog::EV_NO_ACTION) continue;
    std::vector<Digest> digests;
    for (const auto& d : ev.digests()) {
      auto alg = crypto::hash_alg_from_id(d.alg_id);
      if (!alg) continue;
      Digest x = Digest::zero(*alg);
      std::copy(d.digest.begin(), d.digest.end(), x.bytes.begin());
      digests.push_back(x);
    }
    IRONROOT_RETURN_IF_ERROR(tpm.pcr_extend(ev.pcr, digests));
  }
  // Kernel: the IMA boot aggregate and what init runs.
  IRONROOT_RETURN_IF_ERROR(write_file(ima_path(), {}));
  IRONROOT_RETURN_IF_ERROR(append_ima(
      tpm, "boot_aggregate", crypto::hash(HashAlg::kSha256, as_bytes("aggregate " + host_id_))));
  for (const char* f : {"/usr/lib/systemd/systemd", "/usr/bin/bash", "/usr/sbin/sshd",
                        "/usr/lib/x86_64-linux-gnu/libc.so.6"}) {
    IRONROOT_RETURN_IF_ERROR(measure_file(tpm, f, std::string("contents of ") + f));
  }
  return {};
}

Status SimulatedHost::measure_file(tpmdev::Tpm& tpm, const std::string& path,
                                   const std::string& content) {
  return append_ima(tpm, path, crypto::hash(HashAlg::kSha256, as_bytes(content)));
}

Status SimulatedHost::append_ima(tpmdev::Tpm& tpm, const std::string& path,
                                 const Digest& file_digest) {
  auto data = ima_ng_template(file_digest, path);
  std::vector<Digest> digests;
  for (HashAlg bank : banks_) digests.push_back(crypto::hash(bank, data));
  // The list's hash column is the SHA-1 template hash (ascii_runtime_measurements).
  const std::string line = "10 " + crypto::hash(HashAlg::kSha1, data).hex() + " ima-ng " +
                           std::string(crypto::hash_alg_name(file_digest.alg)) + ":" +
                           file_digest.hex() + " " + path + "\n";
  std::ofstream out(ima_path(), std::ios::app | std::ios::binary);
  if (!out) return Error(ErrorCode::kIo, ima_path() + ": cannot append");
  out << line;
  out.close();
  return tpm.pcr_extend(10, digests);
}

Status SimulatedHost::unexplained_extend(tpmdev::Tpm& tpm, uint32_t pcr) {
  auto noise = crypto::random_bytes(32);
  std::vector<Digest> digests;
  for (HashAlg bank : banks_) digests.push_back(crypto::hash(bank, noise));
  return tpm.pcr_extend(pcr, digests);
}

}  // namespace ironroot::sim
