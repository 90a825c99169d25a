// ironroot sim: a simulated host for the demo and the integration tests. It owns a directory
// laid out like securityfs (a firmware event log and an IMA list) and "boots" a TPM (swtpm) by
// extending its PCRs with exactly what those logs say, so quote and logs agree, as on a real
// machine. Then it can drift the way real hosts do: an extend no log explains, a file outside
// the IMA list, a firmware update.
//
//   SimulatedHost h(dir, "host-1", "fw 1.0");
//   IRONROOT_RETURN_IF_ERROR(h.boot(tpm));      // tpm: tpmdev::Tpm on the host's swtpm
//   h.measure_file(tpm, "/usr/bin/new-tool");  // IMA entry + PCR 10 extend
//   h.unexplained_extend(tpm, 4);              // drift the log does not show
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::tpmdev {
class Tpm;
}

namespace ironroot::sim {

class SimulatedHost {
 public:
  // Writes <dir>/binary_bios_measurements and <dir>/ascii_runtime_measurements.
  SimulatedHost(std::string dir, std::string host_id, std::string firmware_version);

  const std::string& dir() const { return dir_; }
  std::string eventlog_path() const { return dir_ + "/binary_bios_measurements"; }
  std::string ima_path() const { return dir_ + "/ascii_runtime_measurements"; }

  // Writes the logs and extends `tpm`'s PCRs with every event (all active banks), then the IMA
  // boot entries into PCR 10. The TPM must be freshly started (PCRs at their reset values).
  Status boot(tpmdev::Tpm& tpm);
  // Appends an ima-ng entry for `path` (content digest derived from `content`) and extends
  // PCR 10, as the kernel does when a file is executed.
  Status measure_file(tpmdev::Tpm& tpm, const std::string& path, const std::string& content);
  // Extends `pcr` with a digest no log records.
  Status unexplained_extend(tpmdev::Tpm& tpm, uint32_t pcr);

 private:
  Status append_ima(tpmdev::Tpm& tpm, const std::string& path, const crypto::Digest& file_digest);

  std::string dir_;
  std::string host_id_;
  std::string firmware_version_;
  std::vector<crypto::HashAlg> banks_;
};

}  // namespace ironroot::sim
