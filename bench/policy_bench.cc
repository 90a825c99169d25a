// IMA runtime policy: load time, memory and appraisal throughput on gen_ima.py's lists, printed
// next to the figures measured for Keylime on the same lists (issue #4):
//   Keylime: ~90,000 entries/s appraising, 24 s to load a 1M-digest policy (re-parsed on every
//   quote), 1 GiB peak RSS for 1M entries.
//   Targets: >= 3,000,000 entries/s per core, policy loaded once in < 0.5 s, held in <= 150 MiB.
// Inputs: IRONROOT_BENCH_POLICY (policy_N.json), IRONROOT_BENCH_POLICY_BAD (..._bad1pct.json),
// IRONROOT_BENCH_IMA (ima_N.log); bench/policy.sh makes them. Without them: skipped.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/file.h"
#include "evidence/ima/ima.h"
#include "policy/policy.h"

namespace ironroot::policy {
namespace {

constexpr double kKeylimeEntriesPerSecond = 90'000;
constexpr double kKeylimeLoadSeconds = 24;
constexpr double kKeylimePeakMiB = 1024;

const char* env(const char* name) {
  return std::getenv(name);
}

double rss_mib() {  // current resident set, from /proc/self/statm
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096.0 / (1 << 20);
}
double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

struct Loaded {
  PolicyPtr good, bad;
  std::optional<FileContents> list;
};

Loaded& data() {
  static Loaded d = [] {
    Loaded l;
    if (const char* p = env("IRONROOT_BENCH_POLICY")) {
      auto r = load_policy_file(p);
      if (r) l.good = *r;
    }
    if (const char* p = env("IRONROOT_BENCH_POLICY_BAD")) {
      auto r = load_policy_file(p);
      if (r) l.bad = *r;
    }
    if (const char* p = env("IRONROOT_BENCH_IMA")) {
      auto r = FileContents::open(p);
      if (r) l.list = std::move(r).value();
    }
    return l;
  }();
  return d;
}

// Loading: read, parse (simdjson), build the index. One iteration is one whole load.
void BM_PolicyLoad(benchmark::State& state) {
  const char* path = env("IRONROOT_BENCH_POLICY");
  if (!path) return state.SkipWithError("IRONROOT_BENCH_POLICY is not set (see bench/policy.sh)");
  uint64_t digests = 0;
  for (auto _ : state) {
    auto r = load_policy_file(path);
    if (!r) return state.SkipWithError(r.error().message().c_str());
    digests = (*r)->runtime->digest_count();
    benchmark::DoNotOptimize(r);
  }
  state.counters["digests"] = static_cast<double>(digests);
  state.counters["x_faster_than_keylime"] = benchmark::Counter(
      kKeylimeLoadSeconds * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void appraise(benchmark::State& state, const PolicyPtr& policy, const ImaAppraisalOptions& o) {
  auto& d = data();
  if (!policy || !d.list) return state.SkipWithError("inputs missing (see bench/policy.sh)");
  uint64_t entries = 0, failures = 0;
  for (auto _ : state) {
    auto r = appraise_ima_list(policy->runtime, d.list->bytes(), o);
    if (!r) return state.SkipWithError(r.error().message().c_str());
    entries = r->appraised;
    failures = r->failure_count;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.counters["failures"] = static_cast<double>(failures);
  state.counters["x_keylime"] = benchmark::Counter(
      static_cast<double>(state.iterations() * entries) / kKeylimeEntriesPerSecond,
      benchmark::Counter::kIsRate);
}

ImaAppraisalOptions policy_only() {
  ImaAppraisalOptions o;
  o.banks.clear();
  o.verify_template_hashes = false;
  return o;
}

// Parse the ascii list + look every entry up in the policy.
void BM_ImaAppraise(benchmark::State& s) {
  appraise(s, data().good, policy_only());
}
// The same against bad1pct: 1% of entries fail and are reported.
void BM_ImaAppraiseBad1pct(benchmark::State& s) {
  ImaAppraisalOptions o = policy_only();
  o.max_kept_failures = 100;
  appraise(s, data().bad, o);
}
// As the verifier runs it: also recompute each template hash and replay PCR 10 (sha1).
void BM_ImaAppraiseWithTemplateHashAndPcr10(benchmark::State& s) {
  appraise(s, data().good, ImaAppraisalOptions{});
}

// The policy lookups alone, on (path, digest) pairs taken from the list beforehand: the cost
// of appraisal itself, without reading the list.
void BM_PolicyLookup(benchmark::State& state) {
  auto& d = data();
  if (!d.good || !d.list) return state.SkipWithError("inputs missing (see bench/policy.sh)");
  static std::vector<std::pair<std::string, std::vector<uint8_t>>> pairs;
  if (pairs.empty()) {
    (void)evidence::ima::for_each_entry(d.list->bytes(), {}, [&](const evidence::ima::Entry& e) {
      pairs.emplace_back(std::string(e.path),
                         std::vector<uint8_t>(e.digest.begin(), e.digest.end()));
      return true;
    });
  }
  const RuntimePolicy& p = *d.good->runtime;
  uint64_t allowed = 0;
  for (auto _ : state) {
    for (const auto& [path, digest] : pairs) {
      allowed += p.check_file(path, digest) == RuntimeVerdict::kAllowed;
    }
  }
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * pairs.size()));
  state.counters["x_keylime"] = benchmark::Counter(
      static_cast<double>(state.iterations() * pairs.size()) / kKeylimeEntriesPerSecond,
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_PolicyLoad)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ImaAppraise)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImaAppraiseBad1pct)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ImaAppraiseWithTemplateHashAndPcr10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PolicyLookup)->Unit(benchmark::kMillisecond);

// Before the benchmarks: one cold load in a fresh process, its time and memory.
void report_load() {
  const char* path = env("IRONROOT_BENCH_POLICY");
  if (!path) return;
  const double before = rss_mib();
  auto t0 = std::chrono::steady_clock::now();
  auto r = load_policy_file(path);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "policy load failed: %s\n", r.error().message().c_str());
    return;
  }
  const double held = rss_mib() - before;
  const double peak = peak_rss_mib();
  const auto& rt = *(*r)->runtime;
  std::printf(
      "policy load: %llu digests in %.3f s (Keylime %.0f s: %.0fx; target < 0.5 s), held %.1f MiB "
      "RSS (index %.1f MiB; target <= 150 MiB), peak RSS %.0f MiB while loading (Keylime "
      "%.0f MiB for 1M entries)\n",
      static_cast<unsigned long long>(rt.digest_count()), secs, kKeylimeLoadSeconds,
      kKeylimeLoadSeconds / secs, held, static_cast<double>(rt.memory_bytes()) / (1 << 20), peak,
      kKeylimePeakMiB);
  std::fflush(stdout);
}

}  // namespace
}  // namespace ironroot::policy

int main(int argc, char** argv) {
  ironroot::policy::report_load();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
