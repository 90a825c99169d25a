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
[ -f "$big" ] || "$bench" gen "$big" 10000000

# CPU seconds (user + sys) of a command: packets per second per core, fair on a shared machine.
cpu() { local TIMEFORMAT='%U %S'; { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{print $1 + $2}'; }
mpps() { echo "$1 / $2 / 1000000" | bc -l | xargs printf '%.3f'; }

echo "== sensor: decode + flow classification, in memory, one core (target >= 10 Mpps; 10 GbE line rate at 64 B = 14.88 Mpps)"
if [ -d "$corpus/pcap" ]; then
  "$bench" run "$corpus"/pcap/*.pcap --min-packets 10000000 --label corpus | grep -v '^PPS'
fi
"$bench" run "$big" --label synthetic-10M-uniform | grep -v '^PPS'
zipf=$data/sensor-10M-zipf.pcap
[ -f "$zipf" ] || "$bench" gen "$zipf" 10000000 --zipf 1.0
"$bench" run "$zipf" --label synthetic-10M-zipf1.0 | grep -v '^PPS'

# tcpdump and tshark decode and print every packet (about 10k packets/s here): their file is the
# first 100k packets of the same trace, and ironroot reads that same file.
small=$data/sensor-100k.pcap
[ -f "$small" ] || "$bench" gen "$small" 100000
echo "== sensor: whole process, CPU time, on the same file ($(du -h "$small" | cut -f1), 100k packets)"
c_ir=$(cpu "$bin" sensor --pcap "$small" --json)
printf '   ironroot sensor --pcap --json   %6.2fs  %s Mpps/core\n' "$c_ir" "$(mpps 100000 "$c_ir")"
for peer in "tcpdump -n -r" "tshark -n -r"; do
  command -v ${peer%% *} >/dev/null || continue
  c=$(TZ=UTC cpu $peer "$small")
  printf '   %-30s  %6.2fs  %s Mpps/core   ironroot is %.0fx faster\n' "$peer" "$c" "$(mpps 100000 "$c")" "$(echo "$c / $c_ir" | bc -l)"
done
c_big=$(cpu "$bin" sensor --pcap "$big" --json)
printf '   ironroot sensor --pcap --json on the 10M trace: %.2fs CPU, %s Mpps/core\n' "$c_big" "$(mpps 10000000 "$c_big")"
