#!/usr/bin/env bash
# Micro-benchmarks of the hot path (bench/micro, Google Benchmark): builds the
# release preset's stratus_micro_bench, runs it briefly and prints a Markdown
# table (median of the repetitions: time per op, items per second).
#
#   bench/micro.sh [extra Google Benchmark flags, e.g. --benchmark_filter=Handler]
#
# Environment: MIN_TIME (seconds per run, default 0.2), REPETITIONS (default 3),
# TMPDIR (where the SQLite benchmarks put their file; default /tmp), JOBS (default 2).
# Takes about 1-2 minutes on 2 vCPUs. Timings on a shared machine are noisy:
# compare medians of runs made at the same time, not across days.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
min_time=${MIN_TIME:-0.2}
repetitions=${REPETITIONS:-3}
bin="${repo}/build/release/bench/stratus_micro_bench"

cd "${repo}"
bench/build-release-target.sh stratus_micro_bench

out=$(mktemp /tmp/stratus-micro.XXXXXX.json)
trap 'rm -f "${out}"' EXIT
"${bin}" --benchmark_min_time="${min_time}" --benchmark_repetitions="${repetitions}" \
  --benchmark_report_aggregates_only=true --benchmark_out="${out}" --benchmark_out_format=json \
  "$@" >&2

python3 - "${out}" <<'PY'
import json, sys

doc = json.load(open(sys.argv[1]))
ctx = doc["context"]

def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"

def fmt_rate(r):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= scale:
            return f"{r / scale:.2f} {unit}/s"
    return f"{r:.0f} /s"

scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
      f"load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}; "
      f"{ctx.get('date')}; Google Benchmark library build type: {ctx.get('library_build_type')}.")
print()
print("| benchmark | time per op (median) | CPU per op | items/s | note |")
print("|---|---|---|---|---|")
for b in doc["benchmarks"]:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    if b.get("error_occurred"):
        print(f"| {b['run_name']} | error: {b.get('error_message', '')} | | | |")
        continue
    unit = scale[b.get("time_unit", "ns")]
    name = b["run_name"].removesuffix("/real_time")
    rate = b.get("items_per_second")
    extra = [b.get("label", "")]
    for key in ("pushes/msg", "event_bytes"):
        if key in b:
            extra.append(f"{key}={b[key]:g}")
    note = " ".join(x for x in extra if x)
    print(f"| {name} | {fmt_time(b['real_time'] * unit)} | {fmt_time(b['cpu_time'] * unit)} | "
          f"{fmt_rate(rate) if rate else ''} | {note} |")
PY
