// Test support: real software TPMs (swtpm) for integration tests.
//
// Swtpm::start() manufactures a fresh TPM 2.0 the way a vendor would: swtpm_setup creates its
// EKs (RSA 2048 and ECC P-384), writes EK and platform certificates issued by a local CA into NV
// (then locks NV), and allocates the PCR banks; then `swtpm socket` serves it on two free
// loopback ports (TPM commands on port(), its control channel on port() + 1, as the tss2 swtpm
// TCTI expects). The local CA (a root and an issuing CA, made by swtpm_localca) is created once
// per test process, so every instance after the first takes about as long as swtpm_setup itself.
// Everything lives in temporary directories under $TMPDIR (or /tmp), removed by the destructors
// (the CA's at process exit); nothing is written to /etc or /var/lib.
//
//   TEST(Enrolment, Works) {
//     IRONROOT_REQUIRE_SWTPM();
//     auto swtpm = ironroot::testing::Swtpm::start();
//     ASSERT_TRUE(swtpm.ok()) << swtpm.error().message();
//     auto tpm = ironroot::tpmdev::Tpm::open((*swtpm)->tcti());
//     ... verify the EK certificate against (*swtpm)->ca_cert_pem_path() ...
//   }
//
// Several at once: Swtpm::start_many(3) runs the swtpm_setup processes in parallel.
//
// Notes: the tss2 swtpm TCTI opens a connection per command, so several clients may use one
// instance; without a resource manager they share its 3 transient-object slots. Link
// support/swtpm.cc into the test and depend on ironroot::core. The swtpm process is killed when
// the Swtpm object is destroyed, and by the kernel (PR_SET_PDEATHSIG) if the thread that started
// it exits first: start instances from the test's own thread. Children inherit no descriptor of
// the test process. Not thread-safe per object; different objects may be used from different
// threads.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::testing {

struct SwtpmOptions {
  // PCR banks to allocate (swtpm_setup --pcr-banks).
  std::string pcr_banks = "sha1,sha256";
  // swtpm runs TPM2_Startup(CLEAR) itself (--flags startup-clear); when false the client must
  // send TPM2_Startup before anything else, as firmware would.
  bool startup_clear = true;
};

// True when swtpm and swtpm_setup are on PATH.
bool swtpm_available();

#define IRONROOT_REQUIRE_SWTPM() \
  if (!::ironroot::testing::swtpm_available()) GTEST_SKIP() << "swtpm / swtpm_setup not installed"

class Swtpm {
 public:
  // Manufactures and starts one TPM; returns once it answers on its control channel.
  static Result<std::unique_ptr<Swtpm>> start(const SwtpmOptions& options = {});
  // Manufactures `count` TPMs in parallel, then starts them; all or nothing.
  static Result<std::vector<std::unique_ptr<Swtpm>>> start_many(size_t count,
                                                                const SwtpmOptions& options = {});

  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  // The TCTI configuration for tpmdev::Tpm::open / tpm2-tools -T: "swtpm:host=127.0.0.1,port=P".
  std::string tcti() const;
  // The TPM command port; the control channel is port() + 1.
  uint16_t port() const { return port_; }
  // The swtpm process id, or -1 once stopped.
  pid_t pid() const { return pid_; }
  // The temporary directory of this instance (state/, logs); removed by the destructor.
  const std::string& dir() const { return dir_; }

  // PEM file with the local CA certificate that issued the EK certificate, then its root CA
  // certificate. The same file for every instance of this process.
  std::string ca_cert_pem_path() const;
  // PEM file with the root CA certificate alone (a trust anchor).
  std::string root_cert_pem_path() const;

  // A power cycle: kills swtpm and starts it again on the same state and ports. Volatile state
  // is lost (PCRs reset, transient objects gone, resetCount + 1); EKs, NV and seeds stay. Clients
  // must reconnect (close every Tpm first).
  Status restart();
  // Kills swtpm and waits for it (the destructor does this too, then removes dir()).
  void stop();

 private:
  Swtpm(std::string dir, SwtpmOptions options);
  Status spawn_setup();
  Status wait_setup();
  Status launch();

  std::string dir_;
  SwtpmOptions options_;
  pid_t setup_pid_ = -1;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace ironroot::testing
