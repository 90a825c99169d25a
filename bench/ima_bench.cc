// IMA measurement list throughput (entries/s, bytes/s) on a large generated ima-ng list.
// The list comes from IRONROOT_BENCH_IMA, made with
//   python3 ../shared/tools/gen_ima.py --entries 1000000 --out-dir bench-data
// (IRONROOT_BENCH_IMA=bench-data/ima_1000000.log); without it every benchmark is skipped.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <optional>

#include "core/file.h"
#include "evidence/ima/ima.h"

namespace ironroot::evidence::ima {
namespace {

// The mapped list, or nullopt (with the reason) when IRONROOT_BENCH_IMA is unset or unreadable.
const std::optional<FileContents>& bench_list(std::string* why) {
  static std::string reason;
  static const std::optional<FileContents> list = []() -> std::optional<FileContents> {
    const char* path = std::getenv("IRONROOT_BENCH_IMA");
    if (path == nullptr) {
      reason = "IRONROOT_BENCH_IMA is not set (see bench/ima_bench.cc)";
      return std::nullopt;
    }
    auto f = FileContents::open(path);
    if (!f) {
      reason = f.error().message();
      return std::nullopt;
    }
    return std::move(f).value();
  }();
  *why = reason;
  return list;
}

uint64_t count_entries(Bytes list) {
  uint64_t n = 0;
  Status st = for_each_entry(list, {}, [&](const Entry&) {
    ++n;
    return true;
  });
  return st.ok() ? n : 0;
}

void run(benchmark::State& state, const VerifyOptions& opts) {
  std::string why;
  const auto& list = bench_list(&why);
  if (!list) {
    state.SkipWithError(why.c_str());
    return;
  }
  uint64_t entries = 0;
  for (auto _ : state) {
    auto r = verify(list->bytes(), opts);
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      return;
    }
    entries = r->entries;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * list->bytes().size()));
}

// Parse only: line splitting, hex decoding, template data rebuild.
void BM_ImaParse(benchmark::State& state) {
  std::string why;
  const auto& list = bench_list(&why);
  if (!list) {
    state.SkipWithError(why.c_str());
    return;
  }
  uint64_t entries = 0;
  for (auto _ : state) {
    entries = count_entries(list->bytes());
    benchmark::DoNotOptimize(entries);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * list->bytes().size()));
}
BENCHMARK(BM_ImaParse)->Unit(benchmark::kMillisecond);

// The default verify of a sha1 list: every template hash recomputed, the sha1 bank replayed.
void BM_ImaVerify(benchmark::State& state) {
  run(state, VerifyOptions{});
}
BENCHMARK(BM_ImaVerify)->Unit(benchmark::kMillisecond);

// Also the sha256 bank (what a verifier of a SHA-256 quote needs).
void BM_ImaVerifySha256Bank(benchmark::State& state) {
  VerifyOptions opts;
  opts.banks = {crypto::HashAlg::kSha256};
  run(state, opts);
}
BENCHMARK(BM_ImaVerifySha256Bank)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ironroot::evidence::ima

BENCHMARK_MAIN();
