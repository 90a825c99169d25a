#!/usr/bin/env bash
# EAR JWTs: results signed and verified per second (one core), ES256 and EdDSA, next to the bare
# OpenSSL signature on the same bytes (the peer). Prints figures and ratios; asserts nothing.
#   bench/ear.sh [ignored entry count]
set -euo pipefail
cd "$(dirname "$0")/.."
b=${IRONROOT_EAR_BENCH:-build/release/bench/ear_bench}
[ -x "$b" ] || scripts/build.sh release >/dev/null
echo "== EAR JWT sign/verify (one core; peer: the OpenSSL signature alone)"
"$b" --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null | python3 -c '
import json, sys
r = {b["name"]: b["items_per_second"] for b in json.load(sys.stdin)["benchmarks"]}
for alg, arg in (("ES256", 0), ("EdDSA", 1)):
    for op, peer in (("SignEar", "OpensslSign"), ("VerifyEar", "OpensslVerify")):
        ours, theirs = r[f"BM_{op}/eddsa:{arg}"], r[f"BM_{peer}/eddsa:{arg}"]
        print(f"   {alg} {op:9s}: {ours:9.0f}/s   openssl alone: {theirs:9.0f}/s   ratio {ours / theirs:.2f}")
'
