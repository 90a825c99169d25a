// ironroot sim: software TPMs (swtpm, from Debian) for the demo, the integration tests and the
// benchmarks.
//
//   IRONROOT_ASSIGN_OR_RETURN(LocalCa ca, LocalCa::create(dir + "/ca"));   // issues EK certs
//   IRONROOT_ASSIGN_OR_RETURN(auto tpm, Swtpm::start({.state_dir = dir + "/tpm1", .ca = &ca}));
//   tpm->tcti();      // "swtpm:host=127.0.0.1,port=40123" for tpm2-tss
//   tpm->restart();   // a power cycle
//
// Swtpm::start() manufactures a TPM 2.0 the way a vendor would, unless its state directory
// already holds one: swtpm_setup creates its EKs (RSA 2048 and ECC P-384), writes EK and
// platform certificates issued by a LocalCa into NV (then locks NV), and allocates the PCR banks.
// Then `swtpm socket` serves it on two loopback ports: TPM commands on port(), the control
// channel on port() + 1, as the tss2 swtpm TCTI expects. start() returns once swtpm has answered
// a request on its control channel (no polling for the port). Swtpm::start_many() runs the
// swtpm_setup processes in parallel.
//
// Processes: every child (swtpm_setup, swtpm) inherits no descriptor of the calling process but
// its standard streams' replacements (/dev/null, a log file), gets SIGKILL from the kernel if the
// thread that started it exits (PR_SET_PDEATHSIG: start instances from a long-lived thread), and
// is reaped by its Swtpm (stop(), restart(), the destructor). Logs go to dir(): swtpm.log,
// swtpm.out, swtpm_setup.log, swtpm_setup.out.
//
// Files: nothing is written outside the directories given, or, when none is given, outside
// temporary directories under $TMPDIR (or /tmp) that are removed again (a Swtpm's by its
// destructor, the process-wide LocalCa's at process exit).
//
// Thread safety: an object is not thread-safe; different objects may be used from different
// threads. LocalCa::process_default() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::sim {

// A swtpm_localca configuration in a directory of its own: the CA (a root and an issuing CA)
// that signs the EK and platform certificates swtpm_setup writes into each TPM's NV.
class LocalCa {
 public:
  // Writes the configuration into `dir` and makes sure the CA exists (swtpm_localca makes it on
  // first use, so this manufactures one throw-away TPM when `dir` holds no CA yet). Nothing is
  // written outside `dir`. Reuses a CA already in `dir`.
  static Result<LocalCa> create(const std::string& dir);
  // One LocalCa for the whole process, created on first call in a temporary directory that is
  // removed when the process exits. Thread-safe; a failure is not remembered (the next call
  // tries again).
  static Result<const LocalCa*> process_default();

  // The directory given to create().
  const std::string& dir() const { return dir_; }
  // The swtpm_setup configuration file (swtpm_setup --config).
  const std::string& setup_config() const { return setup_config_; }
  // The PEM files a verifier must trust for these EK certificates (root and issuer).
  std::vector<std::string> ca_files() const;
  // PEM file with the root CA certificate alone (a trust anchor).
  std::string root_file() const;
  // PEM file with the issuing CA certificate, then the root CA certificate.
  std::string chain_file() const;

 private:
  std::string dir_;
  std::string setup_config_;
};

struct SwtpmOptions {
  // Where the TPM state (and the logs) live. Empty: a new temporary directory, removed by the
  // Swtpm's destructor. Otherwise the directory is created if needed and kept; a TPM state
  // already in it is reused rather than manufactured again.
  std::string state_dir = {};  // (initialised, so that designated initialisers may omit it)
  // The CA that issues the EK and platform certificates; null: no certificates. Only used by
  // start(); it need not outlive the Swtpm.
  const LocalCa* ca = nullptr;
  // PCR banks to allocate (swtpm_setup --pcr-banks).
  std::string banks = "sha1,sha256";
  // swtpm runs TPM2_Startup(CLEAR) itself (--flags startup-clear); when false the client must
  // send TPM2_Startup before anything else, as firmware would.
  bool startup_clear = true;
};

// True when swtpm, swtpm_setup and swtpm_localca are on PATH.
bool swtpm_available();

class Swtpm {
 public:
  // Manufactures the TPM state (swtpm_setup) unless options.state_dir already holds one, then
  // starts `swtpm socket` and returns once it answers on its control channel.
  static Result<std::unique_ptr<Swtpm>> start(const SwtpmOptions& options = {});
  // Starts one TPM per element of `options` (their state directories must differ), running the
  // swtpm_setup processes in parallel; all or nothing.
  static Result<std::vector<std::unique_ptr<Swtpm>>> start_many(
      std::span<const SwtpmOptions> options);

  // stop(), then removes dir() if it is a temporary directory of this Swtpm's own.
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  // The TCTI configuration for tpmdev::Tpm::open / tpm2-tools -T: "swtpm:host=127.0.0.1,port=P".
  std::string tcti() const;
  // The TPM command port; the control channel is port() + 1.
  uint16_t port() const { return port_; }
  // The swtpm process id, or -1 once stopped.
  pid_t pid() const { return pid_; }
  // The absolute path of the state directory (also holding the logs).
  const std::string& dir() const { return dir_; }

  // A power cycle: kills swtpm (SIGKILL) and starts it again on the same state and ports.
  // Volatile state is lost (PCRs reset, transient objects gone, resetCount + 1); EKs, NV and
  // seeds stay. Clients must reconnect (close every Tpm first). Also starts a stopped Swtpm.
  Status restart();
  // Asks swtpm to exit (SIGTERM), kills it if it has not after a second, and reaps it.
  // Idempotent.
  void stop();

 private:
  Swtpm() = default;
  Status spawn_setup(const LocalCa* ca);
  Status wait_setup();
  Status launch();
  void kill_now();

  std::string dir_;
  bool owns_dir_ = false;
  std::string banks_;
  bool startup_clear_ = true;
  pid_t setup_pid_ = -1;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Runs `argv` (argv[0] looked up on PATH unless it holds a '/') with the same process hygiene
// as Swtpm, and waits; returns its combined stdout and stderr, failing on a non-zero status.
Result<std::string> run_command(const std::vector<std::string>& argv);

}  // namespace ironroot::sim
