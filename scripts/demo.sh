#!/usr/bin/env bash
# README command 1: install what is needed, build, and run the main job (ironroot demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2  # progress on stderr: stdout is the fleet as JSON
scripts/build.sh release >&2
# Without options: three hosts, one tampered with, 30 seconds, then the fleet as JSON.
[ $# -gt 0 ] || set -- --hosts 3 --tamper --exit-after 30
exec build/release/src/cli/ironroot demo "$@"
