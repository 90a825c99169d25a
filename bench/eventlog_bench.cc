// Event log parse + replay throughput (events/s, bytes/s) on a large crypto-agile log.
// The log comes from IRONROOT_BENCH_EVENTLOG (bench/run.sh makes it from a real corpus log with
// ../shared/tools/mk_big_eventlog.py); without it a generated log is used.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "core/file.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/replay.h"
#include "evidence/eventlog/writer.h"

namespace ironroot::evidence::eventlog {
namespace {

const std::vector<uint8_t>& bench_log() {
  static const std::vector<uint8_t> log = [] {
    if (const char* path = std::getenv("IRONROOT_BENCH_EVENTLOG")) {
      auto f = FileContents::open(path);
      if (f) return std::vector<uint8_t>(f->bytes().begin(), f->bytes().end());
    }
    // Fallback: a generated boot (small; bench/run.sh gives the real figures).
    return sample_boot_log("bench", "fw", {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256});
  }();
  return log;
}

uint32_t count_events(Bytes log) {
  auto reader = EventLogReader::open(log);
  uint32_t n = 0;
  Event ev;
  while (reader && reader->next(ev).value()) ++n;
  return n;
}

void BM_Parse(benchmark::State& state) {
  const auto& log = bench_log();
  uint32_t events = count_events(log);
  for (auto _ : state) benchmark::DoNotOptimize(count_events(log));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);

void BM_ParseReplay(benchmark::State& state) {
  const auto& log = bench_log();
  uint32_t events = count_events(log);
  ReplayOptions opts;
  opts.check_payloads = state.range(0) != 0;
  for (auto _ : state) {
    auto r = replay(log, opts);
    if (!r) state.SkipWithError(r.error().message().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_ParseReplay)->Arg(0)->Arg(1)->ArgName("check_payloads")->Unit(benchmark::kMillisecond);

// What a verifier appraising a SHA-256 quote does: replay one bank.
void BM_ParseReplaySha256Only(benchmark::State& state) {
  const auto& log = bench_log();
  uint32_t events = count_events(log);
  ReplayOptions opts;
  opts.check_payloads = false;
  opts.banks = {crypto::HashAlg::kSha256};
  for (auto _ : state) {
    auto r = replay(log, opts);
    if (!r) state.SkipWithError(r.error().message().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_ParseReplaySha256Only)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ironroot::evidence::eventlog

BENCHMARK_MAIN();
