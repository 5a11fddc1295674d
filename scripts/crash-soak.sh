#!/usr/bin/env bash
# The long crash-durability run (docs/reliability.md, "Crash durability"): trials of a chat load
# against `stratus dev` while the gateway is killed with kill -9 at random moments and restarted
# on the same data directory; after each trial a checker compares what the clients were acked and
# saw with the SQLite store (no acked message lost, no duplicates, gap-free seqs, exact client
# views, integrity_check ok). CI runs a short version: npm run test:reliability.
#
#   scripts/crash-soak.sh [--trials N] [--messages M] [--sync normal|full] [--seed S]
#                         [--kills K] [--users U] [--rooms R] [--keep] [--verbose]
#
# Defaults: 50 trials x 3,000 messages, 5-10 kills each, --sync normal, a time-based seed (printed).
# Replay one trial: --trials 1 --seed <its seed> with the same --messages/--kills/--sync.
# Uses build/release/stratus (or STRATUS_BIN; it is not built here), node and the sqlite3 CLI.
# Exit status: 0 when every trial passed, 1 on any violation (failed trials keep their work dir).
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case "$arg" in
    -h|--help) exec node tests/reliability/crash-soak.mjs --help ;;
  esac
done
command -v node >/dev/null || { echo "crash-soak: node is required (scripts/setup.sh)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "crash-soak: the sqlite3 CLI is required (apt-get install sqlite3)" >&2; exit 2; }
if [ -z "${STRATUS_BIN:-}" ] && [ ! -x build/release/src/app/stratus ] && [ ! -x build/release/stratus ]; then
  echo "crash-soak: no build/release/stratus; build it first (cmake --preset release && cmake --build --preset release --target stratus) or set STRATUS_BIN" >&2
  exit 2
fi
exec node tests/reliability/crash-soak.mjs "$@"
