// The verifier's appraisal path per attestation, without a TPM or TLS: quote signature (ECDSA
// P-256 AK), nonce and PCR digest checks, event log replay of the quoted bank, reference values.
// The evidence comes from a real swtpm quote made once at start-up (skipped without swtpm).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "core/file.h"
#include "crypto/pki.h"
#include "sim/host.h"
#include "sim/swtpm.h"
#include "tpmdev/tpm.h"
#include "verifier/appraisal.h"

namespace ironroot::verifier {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  bool ok = false;
  std::string error;
  store::HostRecord host;
  Challenge challenge;
  Evidence evidence;
  References refs;
};

const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    std::string dir = (fs::temp_directory_path() / "ironroot-bench-appraisal").string();
    fs::remove_all(dir);
    auto swtpm = sim::Swtpm::start({dir + "/tpm", nullptr, "sha1,sha256"});
    if (!swtpm) {
      x.error = swtpm.error().message();
      return x;
    }
    auto tpm = tpmdev::Tpm::open((*swtpm)->tcti());
    sim::SimulatedHost host(dir + "/sfs", "bench", "fw 1.0");
    if (!tpm || !host.boot(**tpm)) {
      x.error = "cannot boot the simulated host";
      return x;
    }
    x.challenge.nonce = crypto::random_bytes(32);
    x.challenge.bank = crypto::HashAlg::kSha256;
    x.challenge.pcr_mask = 0x3ff;  // PCRs 0-9: the boot chain (IMA is measured separately)
    auto q = (*tpm)->quote(x.challenge.nonce, x.challenge.bank, x.challenge.pcr_mask);
    auto vals = (*tpm)->pcr_read(x.challenge.bank, x.challenge.pcr_mask);
    auto ak = (*tpm)->ak_public();
    auto log = FileContents::open(host.eventlog_path());
    if (!q || !vals || !ak || !log) {
      x.error = "cannot quote";
      return x;
    }
    x.host.ak_public = *ak;
    x.evidence.quote_attest = q->attest;
    x.evidence.quote_signature = q->signature;
    x.evidence.event_log.assign(log->bytes().begin(), log->bytes().end());
    x.refs.name = "bench";
    for (uint32_t i = 0, k = 0; i < 10; ++i) {
      x.evidence.pcrs[i].assign((*vals)[k].view().begin(), (*vals)[k].view().end());
      if (i < 8) x.refs.allowed[i] = {(*vals)[k].hex()};
      ++k;
    }
    Verdict v = appraise(x.host, x.challenge, x.evidence, &x.refs);
    if (!v.trusted) {
      x.error = "fixture does not appraise as trusted: " + (v.reasons.empty() ? "" : v.reasons[0]);
      return x;
    }
    x.ok = true;
    tpm->reset();  // close the connection (flushing the AK) while swtpm still runs
    (*swtpm)->stop();
    fs::remove_all(dir);
    return x;
  }();
  return f;
}

void BM_Appraise(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.ok) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  for (auto _ : state) {
    Verdict v = appraise(f.host, f.challenge, f.evidence, &f.refs);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(std::to_string(f.evidence.event_log.size()) + "-byte event log, PCRs 0-9");
}
BENCHMARK(BM_Appraise)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ironroot::verifier

BENCHMARK_MAIN();
