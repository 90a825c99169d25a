#!/usr/bin/env bash
# Model-checks ironroot's protocol model (model/ironroot.pml) with spin, exhaustively:
#   1. safety: the assertions (properties 1-3) and invalid end states, pan built with -DSAFETY;
#   2. the LTL property (2 again, as a formula), pan searching for acceptance cycles (-a);
#   3. each deliberately broken variant: spin MUST find the violation, or the check fails.
# Fails on any error or an incomplete search; prints the state counts. MAXN=3 (more challenge
# rounds) is a deeper check that takes about a minute: MAXN=3 model/check.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
maxn=${MAXN:-2}
command -v spin >/dev/null || { echo "model: spin is not installed (apt-get install spin)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/ironroot.pml" "$work/"
cd "$work"

# build NAME CFLAGS [SPIN-DEFINES...]: pan for one variant, in its own directory (in the
# background: compiling pan.c takes longer than most searches; wait_built waits for them all).
build() {
  local name=$1 cflags=$2
  shift 2
  mkdir -p "$name"
  (cd "$name" && spin -DMAXN="$maxn" "$@" -a ../ironroot.pml >spin.log 2>&1 &&
    gcc -w $cflags -DMEMLIM=2048 -o pan pan.c >>spin.log 2>&1) &
}
wait_built() {
  wait
  for d in */; do
    [ -x "$d/pan" ] || { echo "model: ${d%/}: spin/gcc failed" >&2; cat "$d/spin.log" >&2; exit 1; }
  done
}

# summary FILE: the state counts pan printed.
summary() {
  local states depth
  states=$(grep -E '^ +[0-9]+ states, stored' "$1" | awk '{print $1}')
  depth=$(grep -oE 'depth reached [0-9]+' "$1" | awk '{print $3}')
  echo "${states:-?} states, depth ${depth:-?}, $(grep -oE 'elapsed time [0-9.]+' "$1" | awk '{print $3}') s"
}

incomplete() {
  grep -qE 'max search depth too small|Search not completed|reached -DMEMLIM bound|out of memory' "$1"
}

failed=0
# expect_clean NAME PAN-ARGS...: the search completes with no error.
expect_clean() {
  local name=$1
  shift
  (cd "$name" && ./pan -m2000000 "$@" >pan.out 2>&1) || true
  if ! grep -q 'errors: 0' "$name/pan.out" || incomplete "$name/pan.out"; then
    echo "FAIL  $name: $(grep -E 'errors:|violated|acceptance cycle|invalid end' "$name/pan.out" | head -3 | tr '\n' ' ')"
    grep -E 'max search depth|not completed|MEMLIM' "$name/pan.out" || true
    (cd "$name" && spin -DMAXN="$maxn" -t -p -g ../ironroot.pml 2>/dev/null | tail -40) || true
    failed=1
  else
    echo "ok    $name: no violation; $(summary "$name/pan.out")"
  fi
}

# expect_violation NAME PATTERN PAN-ARGS...: spin must find the bug the variant plants.
expect_violation() {
  local name=$1 pattern=$2
  shift 2
  (cd "$name" && ./pan -m2000000 "$@" >pan.out 2>&1) || true
  if grep -qE "$pattern" "$name/pan.out" && ! grep -q 'errors: 0' "$name/pan.out"; then
    echo "ok    $name: violation found as expected ($(grep -oE "$pattern" "$name/pan.out" | head -1)); $(summary "$name/pan.out")"
  else
    echo "FAIL  $name: the planted bug was NOT found; the properties do not bite"
    failed=1
  fi
}

echo "model: spin $(spin -V | awk '{print $3}'), MAXN=$maxn challenge rounds"
# The full searches get an optimised pan; the broken variants fail within a few hundred states.
build safety "-O2 -DSAFETY -DNOCLAIM"
build ltl "-O2"
build reuse-safety "-O0 -DSAFETY -DNOCLAIM" -DBROKEN_NONCE_REUSE
build reuse-ltl "-O0" -DBROKEN_NONCE_REUSE
build noactivation-safety "-O0 -DSAFETY -DNOCLAIM" -DBROKEN_NO_ACTIVATION
wait_built

expect_clean safety
expect_clean ltl -a -N no_readmission_without_new_evidence
expect_violation reuse-safety 'assertion violated[^)]*\)'
# -A: assertions off, so it is the LTL formula itself that catches the re-admission.
expect_violation reuse-ltl 'acceptance cycle|never claim' -a -A -N no_readmission_without_new_evidence
expect_violation noactivation-safety 'assertion violated[^)]*\)'

exit $failed
