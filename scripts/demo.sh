#!/usr/bin/env bash
# README command 1: install what is needed, build, and run the main job (ironroot demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/release/src/cli/ironroot demo "$@"
