#!/usr/bin/env bash
# Sensor throughput, one core: decode + flow classification on an in-memory replay of the pcap
# corpus and of a synthetic 10-million-packet trace (generated in the build directory, never
# committed), then the whole `ironroot sensor --pcap` process next to `tcpdump -r` and
# `tshark -r` on the same file. Prints figures and ratios; asserts nothing.
#   bench/sensor.sh [N]   (N is bench/run.sh's entry count; the trace is 10M packets regardless)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${IRONROOT_BUILD:-build/release}
corpus=${IRONROOT_CORPUS:-$(cd .. && pwd)/shared/corpus}
bench=$build/bench/sensor_bench
bin=$build/src/cli/ironroot
[ -x "$bench" ] || { echo "== sensor: $bench not built, skipped"; exit 0; }
data=$build/bench-data
mkdir -p "$data"
big=$data/sensor-10M.pcap
peer=$data/sensor-1M.pcap
[ -f "$big" ] || "$bench" gen "$big" 10000000
[ -f "$peer" ] || "$bench" gen "$peer" 1000000   # the first 1M packets of the same trace

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
mpps() { echo "$1 / $2 / 1000000" | bc -l | xargs printf '%.2f'; }

echo "== sensor: decode + flow classification, in memory, one core (target >= 10 Mpps; 10 GbE line rate at 64 B = 14.88 Mpps)"
if [ -d "$corpus/pcap" ]; then
  "$bench" run "$corpus"/pcap/*.pcap --min-packets 10000000 --label corpus | grep -v '^PPS'
fi
"$bench" run "$big" --label synthetic-10M | grep -v '^PPS'

echo "== sensor: whole process on the same file ($(du -h "$peer" | cut -f1), 1M packets), one core"
t_ir=$(secs "$bin" sensor --pcap "$peer" --json)
printf '   ironroot sensor --pcap --json   %6.2fs  %s Mpps\n' "$t_ir" "$(mpps 1000000 "$t_ir")"
if command -v tcpdump >/dev/null; then
  t_td=$(secs tcpdump -n -r "$peer")
  printf '   tcpdump -n -r                   %6.2fs  %s Mpps   ironroot/tcpdump = %.1fx\n' "$t_td" "$(mpps 1000000 "$t_td")" "$(echo "$t_td / $t_ir" | bc -l)"
fi
if command -v tshark >/dev/null; then
  t_ts=$(secs tshark -n -r "$peer")
  printf '   tshark -n -r                    %6.2fs  %s Mpps   ironroot/tshark = %.1fx\n' "$t_ts" "$(mpps 1000000 "$t_ts")" "$(echo "$t_ts / $t_ir" | bc -l)"
fi
echo "== sensor: whole process on the 10M-packet trace ($(du -h "$big" | cut -f1))"
t_ir=$(secs "$bin" sensor --pcap "$big" --json)
printf '   ironroot sensor --pcap --json   %6.2fs  %s Mpps\n' "$t_ir" "$(mpps 10000000 "$t_ir")"
if command -v tcpdump >/dev/null; then
  t_td=$(secs tcpdump -n -r "$big")
  printf '   tcpdump -n -r                   %6.2fs  %s Mpps   ironroot/tcpdump = %.1fx\n' "$t_td" "$(mpps 10000000 "$t_td")" "$(echo "$t_td / $t_ir" | bc -l)"
fi
