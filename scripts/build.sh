#!/usr/bin/env bash
# Configures and builds one flavour of ironroot into build/<flavour>:
#   release   optimised, warnings as errors (default)
#   asan      AddressSanitizer + UndefinedBehaviorSanitizer (GCC)
#   fuzz      libFuzzer targets (clang-14), libraries instrumented
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DIRONROOT_SANITIZE=ON -DIRONROOT_BENCH=OFF) ;;
  fuzz) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRONROOT_FUZZ=ON -DCMAKE_C_COMPILER=clang-14
              -DCMAKE_CXX_COMPILER=clang++-14) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan, fuzz)" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -G Ninja -DIRONROOT_WERROR=ON "${args[@]}" >/dev/null
ninja -C "build/$flavour"
