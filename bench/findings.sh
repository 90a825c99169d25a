#!/usr/bin/env bash
# Findings delivery (lib/findings): submit -> exec remediation hook called / finished, submit ->
# signed webhook received by a real HTTPS server, findings/s into a JSON-lines file, and the cost
# of submit() on the caller's thread. Compared with the issue's target (drift -> remediation hook
# called, p99 < 250 ms). Prints figures; asserts nothing.
#   bench/findings.sh [N]   (N is run.sh's entry count; unused here)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IRONROOT_FINDINGS_BENCH:-build/release/bench/findings_bench}
echo "== Findings: delivery latency and throughput"
if [ ! -x "$bin" ]; then
  echo "   $bin is not built (scripts/build.sh release); skipped"
  exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" --benchmark_format=json >"$out" 2>/dev/null
python3 - "$out" <<'PY'
import json, sys
target = 250.0
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    name = b["name"].split("/")[0]
    if name == "BM_SubmitToExecHook":
        print(f"   submit -> exec hook started:   p50 {b['hook_p50_ms']:.3f} ms  p99 {b['hook_p99_ms']:.3f} ms"
              f"  (p99 / 250 ms target = {b['hook_p99_ms'] / target:.4f})")
        print(f"   submit -> exec hook finished:  p50 {b['p50_ms']:.3f} ms  p99 {b['p99_ms']:.3f} ms"
              f"  (p99 / 250 ms target = {b['p99_ms'] / target:.4f})")
    elif name == "BM_SubmitToWebhook":
        print(f"   submit -> webhook received:    p50 {b['p50_ms']:.3f} ms  p99 {b['p99_ms']:.3f} ms"
              f"  (p99 / 250 ms target = {b['p99_ms'] / target:.4f})")
    elif name == "BM_JsonLinesThroughput":
        fs = "fsync never" if b["name"].split("/")[1] == "0" else "fsync always"
        print(f"   JSON-lines file, {fs}: {b['items_per_second']:,.0f} findings/s"
              f" ({b['bytes_per_line']:.0f} bytes/line)")
    elif name == "BM_SubmitCallerCost":
        print(f"   submit() on the caller's thread: {1e6 / b['items_per_second']:.2f} us"
              f" ({b['items_per_second']:,.0f}/s)")
print("   (Keylime, for scale: agents are polled every quote_interval = 2 s by default; its"
      " revocation webhook publishes no latency figure)")
PY
