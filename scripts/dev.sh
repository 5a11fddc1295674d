#!/usr/bin/env bash
# One command on a fresh machine: installs what is missing, builds the release
# binary and runs the local stack (gateway + handlers + SQLite + web UI).
# Extra arguments go to `stratus dev` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f build/release/build.ninja ] || cmake --preset release
cmake --build --preset release --target stratus
exec ./build/release/stratus dev "$@"
