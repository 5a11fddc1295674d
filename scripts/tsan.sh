#!/usr/bin/env bash
# ThreadSanitizer run of everything that is concurrent: the gateway (I/O
# threads, the handler worker pool, pushes from handlers into sessions, the
# Lambda emulator's instances and reaper), the chat core under concurrent
# senders, the SQLite store, the HTTP client pool and the JWKS cache. Builds
# build/tsan (configured once; GCC -fsanitize=thread), runs the C++ tests that
# exercise threads, then the whole Node integration suite against the TSan
# gateway (2 I/O threads) and the TSan bootstrap under --lambda. Any report makes
# the process exit with 66, so the run fails. docs/reliability.md has the numbers.
#
#   scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
if [ ! -f build/tsan/build.ninja ]; then
  cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATUS_TSAN=ON \
    -DSTRATUS_WARNINGS_AS_ERRORS=ON
fi
targets=(stratus stratus-bootstrap stratus_core_tests stratus_store_tests stratus_jwt_tests stratus_http_tests
  stratus_lambda_emulator_tests stratus_integration_tests stratus_fake_runtime sigv4_sign_tool)
cmake --build build/tsan --target "${targets[@]}"
status=0
run() {
  echo "--- tsan: $*"
  "$@" || status=1
}
run build/tsan/tests/stratus_core_tests --gtest_brief=1
run build/tsan/tests/stratus_store_tests --gtest_brief=1
run build/tsan/tests/stratus_jwt_tests --gtest_brief=1 --gtest_filter='*oncurren*:*Thread*:*Cache*:*Refetch*'
run build/tsan/tests/stratus_http_tests --gtest_brief=1
run build/tsan/tests/stratus_lambda_emulator_tests --gtest_brief=1
run build/tsan/tests/stratus_integration_tests --gtest_brief=1
# The Node suite against the TSan gateway: its stderr is checked for reports.
suite() {
  local log=$1
  shift
  env STRATUS_BIN=build/tsan/stratus STRATUS_SIGV4_TOOL=build/tsan/tests/sigv4_sign_tool \
    STRATUS_STACK_ARGS='["--io-threads","2"]' STRATUS_SANITIZED=1 "$@" \
    npm run -s test:integration 2>&1 | tee "${log}" | grep -E '^# (pass|fail|skipped)' || true
  if grep -q 'ThreadSanitizer' "${log}" || ! grep -q '^# fail 0' "${log}"; then
    echo "tsan: the Node suite failed or reported a data race (${log})"
    status=1
  fi
}
suite build/tsan/node-in-process.log
suite build/tsan/node-lambda.log STRATUS_LAMBDA=build/tsan/stratus-bootstrap
if [ "${status}" -eq 0 ]; then echo "tsan: no reports"; fi
exit "${status}"
