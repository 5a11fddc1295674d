#!/usr/bin/env bash
# Cost per chat message (docs/cost.md): builds the release preset's
# stratus_cost_model, runs it against moto (tests/integration/dynamodb/moto-stack.mjs
# starts one and exports STRATUS_DYNAMODB_ENDPOINT), prints the Markdown and
# replaces docs/cost.md's generated section (between <!-- bench/cost:begin -->
# and <!-- bench/cost:end -->).
#
#   bench/cost.sh [--no-write] [stratus_cost_model flags: --messages 200 --rooms 10,100]
#
# About a minute: moto answers a transaction in ~25-35 ms and a 100-item Query in ~100 ms.
# Needs moto_server on PATH (the machine image's Python); without it the tool stops
# with a message and docs/cost.md is left as it is. JOBS (default 2) for the build.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
write=1
if [ "${1:-}" = "--no-write" ]; then
  write=0
  shift
fi
cd "${repo}"
bench/build-release-target.sh stratus_cost_model

out=$(mktemp /tmp/stratus-cost.XXXXXX.md)
trap 'rm -f "${out}"' EXIT
node tests/integration/dynamodb/moto-stack.mjs -- build/release/bench/stratus_cost_model "$@" >"${out}"
cat "${out}"

if [ "${write}" = 1 ]; then
  python3 - docs/cost.md "${out}" <<'PY'
import sys
doc_path, section_path = sys.argv[1], sys.argv[2]
begin, end = "<!-- bench/cost:begin -->", "<!-- bench/cost:end -->"
doc = open(doc_path, encoding="utf-8").read()
section = open(section_path, encoding="utf-8").read().strip()
if begin not in doc or end not in doc:
    sys.exit(f"{doc_path}: markers {begin} / {end} not found; not updated")
head, rest = doc.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc_path, "w", encoding="utf-8").write(head + begin + "\n" + section + "\n" + end + tail)
print(f"\n(updated {doc_path})", file=sys.stderr)
PY
fi
