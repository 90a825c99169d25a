#!/usr/bin/env bash
# README command 2: install what is needed, build, and run every test:
#   1. the unit and integration tests (release build, warnings as errors)
#   2. every libFuzzer target briefly, seeded from ../shared/corpus
#   3. the unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   4. clang-format on every source file
#   5. the spin model of enrolment, attestation and admission (model/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

echo "== format"
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find lib src tests fuzz bench -name '*.cc' -o -name '*.h')
clang-format --dry-run --Werror $files

echo "== release build and tests"
scripts/build.sh release
ctest --test-dir build/release --output-on-failure -j "$jobs"

echo "== protocol model (spin)"
model/check.sh

echo "== fuzz"
scripts/build.sh fuzz
scripts/fuzz.sh "${IRONROOT_FUZZ_SECONDS:-30}"

echo "== sanitizers (ASan + UBSan)"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs"
