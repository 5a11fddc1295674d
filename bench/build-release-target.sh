#!/usr/bin/env bash
# Builds one target of the release preset quietly (the benchmark scripts' first
# step): configures build/release when it is missing or lacks the target, then
# builds with JOBS (default 2) jobs at low priority; the log is shown only on failure.
#
#   bench/build-release-target.sh TARGET
set -euo pipefail
target=${1:?usage: bench/build-release-target.sh TARGET}
jobs=${JOBS:-2}
cd "$(dirname "$0")/.."
if [ ! -f build/release/build.ninja ] || ! grep -q "${target}" build/release/build.ninja; then
  nice -n 10 cmake --preset release >/dev/null
fi
log=$(mktemp /tmp/stratus-build.XXXXXX.log)
if ! nice -n 10 cmake --build --preset release --target "${target}" -j"${jobs}" >"${log}" 2>&1; then
  cat "${log}" >&2
  rm -f "${log}"
  echo "bench: the build of ${target} failed" >&2
  exit 1
fi
rm -f "${log}"
