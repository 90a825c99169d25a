// Audit log throughput: appends/s into audit::MerkleLog for 1,000,000 entries of 300 bytes (an
// OCSF finding's size), proof generation/s on that tree, and offline verification/s; plus signing
// and opening a C2SP checkpoint. items_per_second is the figure to read.
//
//   merkle_bench --benchmark_filter=. --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/journal.h"
#include "audit/merkle_log.h"
#include "audit/note.h"
#include "audit/proof.h"

namespace ironroot::audit {
namespace {

constexpr uint64_t kEntries = 1'000'000;
constexpr size_t kEntrySize = 300;
constexpr size_t kSamples = 4096;  // pre-generated proofs cycled through by the verify benchmarks

// A 300-byte finding-like record; the first 8 bytes carry the index so every leaf differs.
std::vector<uint8_t> entry_template() {
  std::string s =
      "{\"class_uid\":2004,\"category_uid\":2,\"severity_id\":4,\"activity_id\":1,"
      "\"finding_info\":{\"uid\":\"ironroot-pcr-drift\",\"title\":\"PCR 7 differs from the "
      "reference\"},\"resources\":[{\"uid\":\"host-0042\",\"type\":\"host\"}],\"metadata\":{"
      "\"product\":{\"name\":\"ironroot\"},\"version\":\"1.4.0\"}}";
  s.resize(kEntrySize, ' ');
  return {s.begin(), s.end()};
}

void fill(MerkleLog& log, uint64_t n) {
  std::vector<uint8_t> entry = entry_template();
  for (uint64_t i = 0; i < n; ++i) {
    std::memcpy(entry.data(), &i, sizeof i);
    log.append(entry);
  }
}

const MerkleLog& shared_log() {
  static const MerkleLog log = [] {
    MerkleLog l;
    fill(l, kEntries);
    return l;
  }();
  return log;
}

// Appending 1,000,000 entries of 300 bytes: leaf hash + tree update.
void BM_Append(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    MerkleLog log;
    fill(log, n);
    benchmark::DoNotOptimize(log.root());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * kEntrySize));
}
BENCHMARK(BM_Append)->Arg(kEntries)->Unit(benchmark::kMillisecond)->Iterations(3);

// The tree update alone, from leaf hashes (what a store reload does).
void BM_AppendLeafHash(benchmark::State& state) {
  const MerkleLog& src = shared_log();
  std::vector<Hash> leaves;
  leaves.reserve(kEntries);
  for (uint64_t i = 0; i < kEntries; ++i) leaves.push_back(*src.leaf_hash(i));
  for (auto _ : state) {
    MerkleLog log;
    for (const Hash& h : leaves) log.append_leaf_hash(h);
    benchmark::DoNotOptimize(log.root());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEntries));
}
BENCHMARK(BM_AppendLeafHash)->Unit(benchmark::kMillisecond)->Iterations(3);

// Root of a random earlier size (what a checkpoint at that size needs).
void BM_RootAtRandomSize(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    auto r = log.root(1 + rng() % kEntries);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RootAtRandomSize);

// Inclusion proof of a random entry in the full tree.
void BM_InclusionProof(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    auto p = log.inclusion_proof(rng() % kEntries, kEntries);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_InclusionProof);

// Inclusion proof of a random entry at a random earlier tree size (an auditor's old checkpoint).
void BM_InclusionProofEarlierSize(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    uint64_t size = 1 + rng() % kEntries;
    auto p = log.inclusion_proof(rng() % size, size);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_InclusionProofEarlierSize);

// Consistency proof from a random earlier size to the full tree.
void BM_ConsistencyProof(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    auto p = log.consistency_proof(1 + rng() % (kEntries - 1), kEntries);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ConsistencyProof);

struct InclusionSample {
  uint64_t index;
  Hash leaf;
  Proof proof;
};

void BM_VerifyInclusion(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  const Hash root = log.root();
  std::mt19937_64 rng(5);
  std::vector<InclusionSample> samples;
  for (size_t i = 0; i < kSamples; ++i) {
    uint64_t index = rng() % kEntries;
    samples.push_back({index, *log.leaf_hash(index), *log.inclusion_proof(index, kEntries)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const InclusionSample& s = samples[i++ % kSamples];
    Status st = verify_inclusion(s.leaf, s.index, kEntries, s.proof, root);
    if (!st.ok()) {
      state.SkipWithError(st.error().message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_VerifyInclusion);

struct ConsistencySample {
  uint64_t size1;
  Hash root1;
  Proof proof;
};

void BM_VerifyConsistency(benchmark::State& state) {
  const MerkleLog& log = shared_log();
  const Hash root2 = log.root();
  std::mt19937_64 rng(6);
  std::vector<ConsistencySample> samples;
  for (size_t i = 0; i < kSamples; ++i) {
    uint64_t size1 = 1 + rng() % (kEntries - 1);
    samples.push_back({size1, *log.root(size1), *log.consistency_proof(size1, kEntries)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const ConsistencySample& s = samples[i++ % kSamples];
    Status st = verify_consistency(s.size1, kEntries, s.proof, s.root1, root2);
    if (!st.ok()) {
      state.SkipWithError(st.error().message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_VerifyConsistency);

// Signing and opening a checkpoint (Ed25519 through OpenSSL).
struct CheckpointFixture {
  NoteSigner signer;
  NoteVerifierKey key;
  Checkpoint checkpoint;
};
const CheckpointFixture& checkpoint_fixture() {
  static const CheckpointFixture f = [] {
    auto pair = generate_note_key("ironroot.example/audit");
    auto signer = NoteSigner::from_pem("ironroot.example/audit", pair->private_key_pem);
    Checkpoint cp{"ironroot.example/audit", kEntries, shared_log().root(), {}};
    return CheckpointFixture{std::move(signer).value(), *parse_verifier_key(pair->verifier_key),
                             cp};
  }();
  return f;
}

void BM_CheckpointSign(benchmark::State& state) {
  const CheckpointFixture& f = checkpoint_fixture();
  for (auto _ : state) {
    auto s = sign_checkpoint(f.checkpoint, f.signer);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckpointSign);

void BM_CheckpointOpen(benchmark::State& state) {
  const CheckpointFixture& f = checkpoint_fixture();
  const std::string note = *sign_checkpoint(f.checkpoint, f.signer);
  for (auto _ : state) {
    auto cp = open_checkpoint(note, f.key);
    if (!cp.ok()) {
      state.SkipWithError(cp.error().message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckpointOpen);

// Durable appends: the verifier's audit journal on SQLite with synchronous=FULL. Entries are
// queued as a busy verifier queues them (many request threads at once) and the iteration ends
// when the last is on disk with a signed checkpoint: group commit turns one fsync into thousands
// of entries. Items/s is the durable append rate (target: 50,000/s).
void BM_JournalDurableAppend(benchmark::State& state) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("merkle_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto pair = generate_note_key("ironroot.bench/journal");
  auto journal = Journal::open({.path = (dir / "audit.db").string(),
                                .origin = "ironroot.bench/journal",
                                .private_key_pem = pair->private_key_pem});
  if (!journal) {
    state.SkipWithError(journal.error().message().c_str());
    return;
  }
  const std::string entry =
      R"({"kind":"attestation","host":"host-0042","trusted":true,"time_ms":1790000000000,)"
      R"("quote":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})";
  const int64_t per_iteration = state.range(0);
  for (auto _ : state) {
    uint64_t last = 0;
    for (int64_t i = 0; i < per_iteration; ++i) last = *(*journal)->enqueue(entry);
    if (auto st = (*journal)->wait_durable(last); !st) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_iteration);
  state.counters["entries_in_log"] = static_cast<double>((*journal)->size());
  journal->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalDurableAppend)->Arg(1)->Arg(100)->Arg(10000)->UseRealTime();

}  // namespace
}  // namespace ironroot::audit

BENCHMARK_MAIN();
