#!/usr/bin/env bash
# IMA runtime policy next to Keylime, on gen_ima.py's lists (issue #4):
#   bench/policy.sh [ENTRIES]   (default 1000000)
# Generates ima_N.log, policy_N.json and policy_N_bad1pct.json in build/bench-data (not
# committed), runs policy_bench (Google Benchmark) and `ironroot policy check` whole-process, and
# prints entries/s, load time, peak RSS and the ratios to Keylime's figures. Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
tools=${IRONROOT_TOOLS:-$(cd .. && pwd)/shared/tools}
build=${IRONROOT_BUILD:-build/release}
data=build/bench-data
mkdir -p "$data"
[ -x "$build/bench/policy_bench" ] || scripts/build.sh release >/dev/null
[ -f "$data/policy_${n}_bad1pct.json" ] && [ -f "$data/ima_$n.log" ] ||
  python3 "$tools/gen_ima.py" --entries "$n" --out-dir "$data" >/dev/null

keylime_eps=90000 keylime_load=24 keylime_rss_mib=1024
echo "== IMA runtime policy: $n-digest Keylime policy, $n-entry ima-ng list (one core)"
echo "   Keylime on the same lists: ~$keylime_eps entries/s, ${keylime_load} s load (every quote), ${keylime_rss_mib} MiB peak RSS"
IRONROOT_BENCH_POLICY="$data/policy_$n.json" IRONROOT_BENCH_POLICY_BAD="$data/policy_${n}_bad1pct.json" \
  IRONROOT_BENCH_IMA="$data/ima_$n.log" "$build/bench/policy_bench" --benchmark_min_time=1 2>/dev/null |
  grep -E '^policy load|BM_'
echo "   (Time is wall clock, CPU is this process's CPU time: on a shared machine the per-core figures"
echo "    are items_per_second, computed from CPU time; x_keylime = that rate / Keylime's 90,000/s)"

bin=$build/src/cli/ironroot
for policy in "policy_$n.json" "policy_${n}_bad1pct.json"; do
  out=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$out.time" "$bin" policy check --json --policy "$data/$policy" \
    --ima "$data/ima_$n.log" >"$out" 2>/dev/null || true
  # The last line: time(1) puts "Command exited with non-zero status 1" before it on exit 1.
  read -r wall user sys rss_kb < <(tail -n 1 "$out.time")
  python3 - "$out" "$wall" "$rss_kb" "$policy" "$keylime_eps" "$keylime_load" "$keylime_rss_mib" <<'PY'
import json, sys
out, wall, rss_kb, name, k_eps, k_load, k_rss = sys.argv[1:]
j = json.load(open(out))
ima = j["ima"]
eps = ima["entries_per_second"]
rss = int(rss_kb) / 1024
print(f"   ironroot policy check ({name}): whole process {float(wall):.2f} s, peak RSS {rss:.0f} MiB "
      f"(Keylime {k_rss} MiB: {int(k_rss)/rss:.1f}x less); load {j['load_seconds']:.3f} s "
      f"(Keylime {k_load} s: {float(k_load)/j['load_seconds']:.0f}x); appraisal incl. template hashes "
      f"and PCR 10: {eps:,.0f} entries/s ({eps/float(k_eps):.0f}x Keylime); "
      f"{ima['failure_count']} failures of {ima['appraised']}")
PY
  printf '   (whole process CPU time %s s user + %s s sys; wall time counts other jobs on a shared machine)\n' "$user" "$sys"
  rm -f "$out" "$out.time"
done
