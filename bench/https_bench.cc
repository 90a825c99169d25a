// The verifier's HTTPS path on loopback, with keep-alive: a relying party's admission query,
// and a whole attestation round (challenge, swtpm quote, evidence, appraisal) by a real agent.
// Skipped without swtpm.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

#include "agent/agent.h"
#include "net/http.h"
#include "sim/host.h"
#include "sim/swtpm.h"
#include "tpmdev/tpm.h"
#include "verifier/service.h"

namespace ironroot {
namespace {

namespace fs = std::filesystem;

struct Setup {
  std::string error;
  std::string dir;
  std::unique_ptr<sim::LocalCa> ca;
  std::unique_ptr<sim::Swtpm> tpm;
  std::unique_ptr<sim::SimulatedHost> host;
  std::unique_ptr<verifier::Verifier> verifier;
  std::unique_ptr<agent::Agent> agent;
};

// Fills `x`; returns an error message, or "" when everything is up.
std::string start_all(Setup& x) {
  x.dir = (fs::temp_directory_path() / "ironroot-bench-https").string();
  fs::remove_all(x.dir);
  auto ca = sim::LocalCa::create(x.dir + "/ca");
  if (!ca) return ca.error().message();
  x.ca = std::make_unique<sim::LocalCa>(std::move(*ca));
  auto t = sim::Swtpm::start({x.dir + "/tpm", x.ca.get(), "sha1,sha256"});
  if (!t) return t.error().message();
  x.tpm = std::move(*t);
  x.host = std::make_unique<sim::SimulatedHost>(x.dir + "/sfs", "bench", "fw 1.0");
  {
    auto tpm = tpmdev::Tpm::open(x.tpm->tcti());
    if (!tpm) return tpm.error().message();
    if (auto st = x.host->boot(**tpm); !st) return st.error().message();
  }
  verifier::VerifierOptions vo;
  vo.data_dir = x.dir + "/verifier";
  vo.port = 0;
  vo.ek_ca_paths = x.ca->ca_files();
  auto v = verifier::Verifier::start(vo);
  if (!v) return v.error().message();
  x.verifier = std::move(*v);
  std::ofstream(x.dir + "/ca.pem") << x.verifier->ca_pem();
  agent::AgentOptions ao;
  ao.verifier_url = "https://127.0.0.1:" + std::to_string(x.verifier->port());
  ao.verifier_ca_file = x.dir + "/ca.pem";
  ao.state_dir = x.dir + "/agent";
  ao.host_id = "bench";
  ao.tcti = x.tpm->tcti();
  ao.eventlog_path = x.host->eventlog_path();
  ao.ima_path = x.host->ima_path();
  auto a = agent::Agent::create(ao);
  if (!a) return a.error().message();
  if (auto st = (*a)->enroll(); !st) return st.error().message();
  x.agent = std::move(*a);
  (void)x.agent->attest_once();
  return "";
}

Setup& setup() {
  static Setup s;
  static const bool started = [] {
    s.error = start_all(s);
    return true;
  }();
  (void)started;
  return s;
}

void BM_AdmissionQueryKeepAlive(benchmark::State& state) {
  Setup& s = setup();
  if (!s.error.empty()) return state.SkipWithError(s.error.c_str());
  net::HttpsClient client("127.0.0.1", s.verifier->port(), {s.verifier->ca_pem(), "", "", ""});
  const std::map<std::string, std::string> auth = {
      {"Authorization", "Bearer " + s.verifier->operator_token()}};
  for (auto _ : state) {
    auto r = client.request("GET", "/v1/hosts/bench/admission", "", auth);
    if (!r || r->status != 200) return state.SkipWithError("admission query failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AdmissionQueryKeepAlive)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_AttestationRound(benchmark::State& state) {
  Setup& s = setup();
  if (!s.error.empty()) return state.SkipWithError(s.error.c_str());
  for (auto _ : state) {
    auto r = s.agent->attest_once();
    if (!r) return state.SkipWithError(r.error().message().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AttestationRound)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ironroot

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  auto& s = ironroot::setup();
  if (s.verifier) s.verifier->stop();
  if (s.tpm) s.tpm->stop();
  std::filesystem::remove_all(s.dir);
  return 0;
}
