// Test support: software TPMs for tests, on lib/sim's Swtpm (sim/swtpm.h, which does the work:
// manufacturing, ports, readiness, process hygiene, clean-up).
//
// start_swtpm() manufactures a fresh TPM in a temporary directory, with EK and platform
// certificates from the test process's local CA (sim::LocalCa::process_default(), made on first
// use, removed at exit), and serves it on free loopback ports; the Swtpm's destructor kills and
// reaps swtpm and removes its directory. start_swtpms(n) runs the swtpm_setup processes in
// parallel.
//
//   TEST(Enrolment, Works) {
//     IRONROOT_REQUIRE_SWTPM();
//     auto swtpm = ironroot::testing::start_swtpm();
//     ASSERT_TRUE(swtpm.ok()) << swtpm.error().message();
//     auto tpm = ironroot::tpmdev::Tpm::open((*swtpm)->tcti());
//     ... verify the EK certificate against testing::swtpm_ca()->chain_file() ...
//   }
//
// Link ironroot::sim. Start instances from the test's own thread (see sim/swtpm.h on
// PR_SET_PDEATHSIG). The tss2 swtpm TCTI serves one client connection at a time; without a
// resource manager clients share the TPM's 3 transient-object slots.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "sim/swtpm.h"

namespace ironroot::testing {

struct SwtpmOptions {
  // PCR banks to allocate (swtpm_setup --pcr-banks).
  std::string pcr_banks = "sha1,sha256";
  // See sim::SwtpmOptions::startup_clear.
  bool startup_clear = true;
};

#define IRONROOT_REQUIRE_SWTPM() \
  if (!::ironroot::sim::swtpm_available()) GTEST_SKIP() << "swtpm / swtpm_setup not installed"

// Manufactures and starts `count` TPMs (swtpm_setup in parallel); all or nothing.
inline Result<std::vector<std::unique_ptr<sim::Swtpm>>> start_swtpms(
    size_t count, const SwtpmOptions& options = {}) {
  IRONROOT_ASSIGN_OR_RETURN(const sim::LocalCa* ca, sim::LocalCa::process_default());
  const std::vector<sim::SwtpmOptions> all(
      count, sim::SwtpmOptions{
                 .ca = ca, .banks = options.pcr_banks, .startup_clear = options.startup_clear});
  return sim::Swtpm::start_many(all);
}

// Manufactures and starts one TPM.
inline Result<std::unique_ptr<sim::Swtpm>> start_swtpm(const SwtpmOptions& options = {}) {
  IRONROOT_ASSIGN_OR_RETURN(auto all, start_swtpms(1, options));
  return std::move(all[0]);
}

// The local CA that issues the EK certificates of the TPMs above (null if it cannot be made).
inline const sim::LocalCa* swtpm_ca() {
  auto ca = sim::LocalCa::process_default();
  return ca ? *ca : nullptr;
}

}  // namespace ironroot::testing
