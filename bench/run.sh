#!/usr/bin/env bash
# Throughput of ironroot's evidence readers next to the peers, on the same files, in one run.
#   bench/run.sh [EVENTS]      (default 1000000 events / IMA entries)
# Prints figures and ratios; asserts nothing (these machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
tools=${IRONROOT_TOOLS:-$(cd .. && pwd)/shared/tools}
corpus=${IRONROOT_CORPUS:-$(cd .. && pwd)/shared/corpus}
data=build/bench-data
mkdir -p "$data"
[ -x build/release/bench/eventlog_bench ] || scripts/build.sh release >/dev/null
bin=build/release/src/cli/ironroot

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
rate() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }

echo "== TCG event log: parse + replay (one core)"
for src in tpm2-tools/event-bootorder.bin go-tpm-tools/ubuntu-2104-no-secure-boot.bin; do
  name=$(basename "$src" .bin)
  big="$data/$name-$n.bin"
  small="$data/$name-100000.bin"
  [ -f "$big" ] || python3 "$tools/mk_big_eventlog.py" "$corpus/eventlog/$src" "$big" --events "$n" >/dev/null
  [ -f "$small" ] || python3 "$tools/mk_big_eventlog.py" "$corpus/eventlog/$src" "$small" --events 100000 >/dev/null
  echo "-- $name (banks: $(python3 -c "import sys;print('sha1 sha256' if 'bootorder' in sys.argv[1] else 'sha1 sha256 sha384')" "$name"), $(du -h "$big" | cut -f1))"
  IRONROOT_BENCH_EVENTLOG="$big" build/release/bench/eventlog_bench --benchmark_min_time=1 2>/dev/null | grep BM_
  t_ir=$(secs "$bin" eventlog replay "$small")
  t_yaml=$(secs "$bin" eventlog show --format yaml "$small")
  t_peer=$(secs tpm2_eventlog "$small")
  printf '   100k events, whole process: ironroot replay %.3fs (%s ev/s), ironroot show --format yaml %.3fs, tpm2_eventlog %.3fs (%s ev/s): ratio replay/tpm2_eventlog = %.1fx\n' \
    "$t_ir" "$(rate 100000 "$t_ir")" "$t_yaml" "$t_peer" "$(rate 100000 "$t_peer")" "$(echo "$t_peer / $t_ir" | bc -l)"
done

if [ -x build/release/bench/ima_bench ]; then
  echo "== IMA measurement list: verify (template hashes + PCR 10), one core"
  imadir="$data/ima-$n"
  [ -f "$imadir/ima_$n.log" ] || python3 "$tools/gen_ima.py" --entries "$n" --out-dir "$imadir" >/dev/null
  IRONROOT_BENCH_IMA="$imadir/ima_$n.log" build/release/bench/ima_bench --benchmark_min_time=1 2>/dev/null | grep BM_
  t_ima=$(secs "$bin" ima verify "$imadir/ima_$n.log")
  printf '   whole process: ironroot ima verify %.3fs (%s entries/s); Keylime, measured on this machine per the issue: ~90,000 entries/s\n' \
    "$t_ima" "$(rate "$n" "$t_ima")"
fi

# Each later part's own benchmark script (policy, posture, sensor, audit, ...): bench/<part>.sh N.
for part in bench/*.sh; do
  [ "$part" = bench/run.sh ] && continue
  bash "$part" "$n"
done
