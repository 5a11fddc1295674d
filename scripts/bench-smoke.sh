#!/usr/bin/env bash
# CI guard that the benchmark tools still work (not a measurement: timings on a
# shared CI machine mean nothing, and nothing here asserts one):
# - every Google Benchmark micro-benchmark runs once briefly without an error
#   (a benchmark that calls SkipWithError would otherwise only print it);
# - bench/run --quick for a room of 10 against the floor and the in-process
#   gateway, with no lost, duplicated or refused delivery.
# Needs the release build (stratus, stratus-floor-server, stratus_micro_bench). About 10 s.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "${repo}"

micro=$(build/release/bench/stratus_micro_bench --benchmark_min_time=0.01 2>&1) || {
  echo "${micro}"
  echo "bench-smoke: stratus_micro_bench failed" >&2
  exit 1
}
if grep -q 'ERROR OCCURRED' <<<"${micro}"; then
  grep 'ERROR OCCURRED' <<<"${micro}" >&2
  echo "bench-smoke: a micro-benchmark reported an error" >&2
  exit 1
fi
ran=$(grep -c '^BM_' <<<"${micro}" || true)
if [ "${ran}" -lt 10 ]; then
  echo "${micro}"
  echo "bench-smoke: only ${ran} micro-benchmarks ran" >&2
  exit 1
fi
echo "micro-benchmarks: ${ran} ran, none with an error"

out=$(bench/run --quick --sizes 10 --variants floor,inproc --repeats 1 --cold-start-runs 0 --no-docs 2>&1) || {
  echo "${out}"
  echo "bench-smoke: bench/run failed" >&2
  exit 1
}
for row in '| 10 | floor |' '| 10 | in-process |'; do
  if ! grep -qF "${row}" <<<"${out}"; then
    echo "${out}"
    echo "bench-smoke: bench/run printed no '${row}' row" >&2
    exit 1
  fi
done
if ! grep -q 'refused messages over all runs: none\.' <<<"${out}"; then
  echo "${out}"
  echo "bench-smoke: bench/run lost, duplicated or refused deliveries" >&2
  exit 1
fi
echo "bench/run --quick: floor and in-process rows, nothing lost"
