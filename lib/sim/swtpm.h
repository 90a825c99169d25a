// ironroot sim: software TPMs (swtpm, from Debian) for the demo and the integration tests.
//
//   IRONROOT_ASSIGN_OR_RETURN(LocalCa ca, LocalCa::create(dir + "/ca"));   // issues EK certs
//   IRONROOT_ASSIGN_OR_RETURN(auto tpm, Swtpm::start({.state_dir = dir + "/tpm1", .ca = &ca}));
//   tpm->tcti();   // "swtpm:host=127.0.0.1,port=40123" for tpm2-tss
//
// Each Swtpm is a child process on loopback ports chosen free; the destructor stops it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::sim {

// A swtpm_localca configuration in a directory of its own: the CA that signs the EK
// certificates swtpm_setup writes into each TPM's NV. Nothing is written outside `dir`.
class LocalCa {
 public:
  static Result<LocalCa> create(const std::string& dir);
  const std::string& setup_config() const { return setup_config_; }
  // The PEM files a verifier must trust for these EK certificates (root and issuer).
  std::vector<std::string> ca_files() const;

 private:
  std::string dir_;
  std::string setup_config_;
};

struct SwtpmOptions {
  std::string state_dir;
  const LocalCa* ca = nullptr;  // null: no EK certificate
  std::string banks = "sha1,sha256";
};

class Swtpm {
 public:
  // Manufactures the TPM state (swtpm_setup) unless state_dir already holds one, then starts
  // `swtpm socket` and waits until it accepts connections.
  static Result<std::unique_ptr<Swtpm>> start(const SwtpmOptions& options);
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  std::string tcti() const;
  pid_t pid() const { return pid_; }
  // SIGTERM, then SIGKILL after a second; idempotent.
  void stop();

 private:
  Swtpm() = default;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Runs `argv` and waits; returns its combined output, failing on a non-zero status.
Result<std::string> run_command(const std::vector<std::string>& argv);

}  // namespace ironroot::sim
