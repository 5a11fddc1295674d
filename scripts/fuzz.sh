#!/usr/bin/env bash
# The libFuzzer targets in fuzz/ (docs/reliability.md, "Fuzzing").
#
#   scripts/fuzz.sh --replay [target...]
#       Runs every target once over its committed corpus (fuzz/corpus/<target>) and its
#       past crashes (fuzz/crashes/<target>), with -runs=0. This is what CI does.
#   scripts/fuzz.sh --run [RUNS | SECONDSs] [target...]
#       Fuzzes each target in turn for RUNS executions (default 2000000) or, with an
#       "s" suffix ("120s"), for that many seconds. New inputs go to the working corpus
#       build/fuzz/corpus/<target>; crashes to build/fuzz/artifacts/<target>/; the log to
#       build/fuzz/logs/<target>.log. Ends with executions and exec/s per target.
#       FUZZ_FLAGS="-fork=1 -ignore_crashes=1" keeps going past a known crash.
#   scripts/fuzz.sh --merge [target...]
#       Adds to fuzz/corpus/<target> only the working-corpus inputs that bring new
#       coverage (libFuzzer -merge=1). Keep committed corpora small (< 200 files, < 1 MB).
#   scripts/fuzz.sh --list
#
# Builds the `fuzz` preset first (configured once; clang, ASan + UBSan). Extra libFuzzer
# flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2 -workers=2").
# Exit code: 0 when no target crashed, leaked, hit UB or timed out.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(apigw_event proxy_response client_frame route_table http_request hs256_token cognito_token
  jwks bootstrap_config lambda_runtime)
bin=build/fuzz/fuzz

dict_for() {
  case $1 in
    http_request) echo fuzz/dict/http.dict ;;
    hs256_token | cognito_token) echo fuzz/dict/jwt.dict ;;
    bootstrap_config | lambda_runtime) echo fuzz/dict/env.dict ;;
    *) echo fuzz/dict/json.dict ;;
  esac
}

# Longest input worth trying: a bit over each parser's own limit.
max_len_for() {
  case $1 in
    http_request) echo 20000 ;;   # header_limit is 16 KiB
    hs256_token | cognito_token) echo 9000 ;; # tokens are refused above 8 KiB
    jwks) echo 16384 ;;           # every real modulus costs an OpenSSL key check
    *) echo 8192 ;;
  esac
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

mode=${1:-}
[ -n "${mode}" ] || usage
shift
runs=2000000
seconds=""
if [ "${mode}" = "--run" ] && [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+s?$ ]]; then
  if [[ $1 == *s ]]; then seconds=${1%s}; else runs=$1; fi
  shift
fi
case ${mode} in
  --replay | --run | --merge) ;;
  --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
  *) usage ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" ${t} "* ]] || { echo "fuzz: unknown target '${t}' (--list)" >&2; exit 2; }
done

# libFuzzer's runtime is only a Recommends of Debian's clang-14; install it when missing.
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing libclang-rt-14-dev (libFuzzer and the sanitizer runtimes)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi

# One build at a time, so that two invocations (say, two targets fuzzed side by side) cannot race.
mkdir -p build/fuzz
exec 9>build/fuzz/.build.lock
flock 9
[ -f build/fuzz/build.ninja ] || cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
flock -u 9

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# shellcheck disable=SC2206 # FUZZ_FLAGS is a list of flags
extra=(${FUZZ_FLAGS:-})

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/${t}
  crashes=fuzz/crashes/${t}
  mkdir -p "build/fuzz/corpus/${t}" "build/fuzz/artifacts/${t}" build/fuzz/logs
  case ${mode} in
    --replay)
      # Every committed input once; -timeout catches inputs that became slow.
      if ! "${bin}/fuzz_${t}" -runs=0 -timeout=10 -rss_limit_mb=2048 "${extra[@]}" \
        -artifact_prefix="build/fuzz/artifacts/${t}/" "${corpus}" "${crashes}" \
        >"build/fuzz/logs/${t}.replay.log" 2>&1; then
        failed+=("${t}")
        tail -n 40 "build/fuzz/logs/${t}.replay.log"
      fi
      inputs=$(find "${corpus}" "${crashes}" -type f ! -name .gitkeep | wc -l)
      summary+=("$(printf '%-18s %5d inputs  %s' "${t}" "${inputs}" \
        "$(grep -q '^Done' "build/fuzz/logs/${t}.replay.log" && echo ok || echo FAILED)")")
      ;;
    --run)
      limit=(-runs="${runs}")
      [ -z "${seconds}" ] || limit=(-max_total_time="${seconds}")
      echo "=== fuzz_${t}: ${limit[*]} (log: build/fuzz/logs/${t}.log)"
      if ! "${bin}/fuzz_${t}" "${limit[@]}" -timeout=5 -rss_limit_mb=2048 -max_len="$(max_len_for "${t}")" \
        -dict="$(dict_for "${t}")" -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/${t}/" \
        "${extra[@]}" "build/fuzz/corpus/${t}" "${corpus}" "${crashes}" >"build/fuzz/logs/${t}.log" 2>&1; then
        failed+=("${t}")
        grep -E 'ERROR|invariant|runtime error|SUMMARY|Test unit written' "build/fuzz/logs/${t}.log" | head -n 20
      fi
      log=build/fuzz/logs/${t}.log
      execs=$(awk '$1 == "stat::number_of_executed_units:" { print $2 }' "${log}" | tail -n 1)
      rate=$(awk '$1 == "stat::average_exec_per_sec:" { print $2 }' "${log}" | tail -n 1)
      found=""
      if [ -z "${execs}" ]; then
        # -fork=N reports "#<execs>: cov: ... exec/s <n> oom/timeout/crash: a/b/c ..." lines instead.
        last=$(grep -E '^#[0-9]+: cov:' "${log}" | tail -n 1 || true)
        execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"${last}")
        rate=$(sed -E 's/.*exec\/s ([0-9]+).*/\1/' <<<"${last}")
        found=$(sed -E 's/.*oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/' <<<"${last}")
        if [ -n "${found}" ] && [ "${found}" != "0/0/0" ]; then
          failed+=("${t}")
        fi
        found="  oom/timeout/crash ${found}"
      fi
      summary+=("$(printf '%-18s %10s execs  %7s exec/s  corpus %5d files%s' "${t}" "${execs:-?}" "${rate:-?}" \
        "$(find "build/fuzz/corpus/${t}" "${corpus}" -type f | wc -l)" "${found}")")
      ;;
    --merge)
      "${bin}/fuzz_${t}" -merge=1 -timeout=10 -max_len="$(max_len_for "${t}")" "${corpus}" \
        "build/fuzz/corpus/${t}" >"build/fuzz/logs/${t}.merge.log" 2>&1 || failed+=("${t}")
      summary+=("$(printf '%-18s %5d files %8d bytes in %s' "${t}" "$(find "${corpus}" -type f | wc -l)" \
        "$(cat "${corpus}"/* | wc -c)" "${corpus}")")
      ;;
  esac
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (logs in build/fuzz/logs/, crash inputs in build/fuzz/artifacts/)"
  exit 1
fi
