#!/usr/bin/env bash
# One command on a fresh machine: installs what is missing, builds the release
# and the ASan/UBSan trees, and runs every test (unit, store contract, C++ and
# Node integration against the real gateway) in both, plus the web UI's unit
# tests and its browser tests (headless Chromium) against the release gateway. Exit code 0 only when
# everything passed. Set STRATUS_SKIP_ASAN=1 to skip the sanitizer tree locally.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

passed=0
failed=0
failures=()
step() {
  local name=$1
  shift
  echo
  echo "=== ${name}"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== ${name}: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("${name}")
    echo "=== ${name}: FAILED ($((SECONDS - start)) s)"
  fi
}

# Each build tree is configured once; later runs only rebuild what changed (ccache helps too).
build() {
  local preset=$1
  [ -f "build/${preset}/build.ninja" ] || cmake --preset "${preset}" || return 1
  cmake --build --preset "${preset}"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

step "format (clang-format)" scripts/check-format.sh
step "layering (core has no I/O)" scripts/check-layering.sh
step "build release" build release
# A local DynamoDB-compatible server (moto_server behind a serialising proxy) for the
# DynamoDB store's contract tests and the several-gateways test; they skip, saying
# why, where moto_server is not installed.
moto() { node tests/integration/dynamodb/moto-stack.mjs -- "$@"; }
step "ctest release" moto ctest --preset release -j2
step "node integration (release gateway)" env STRATUS_BIN=build/release/stratus \
  STRATUS_SIGV4_TOOL=build/release/tests/sigv4_sign_tool \
  STRATUS_DYNAMODB_SEED=build/release/tests/stratus_dynamodb_seed npm run -s test:integration
step "crash durability (kill -9 at random moments, 3 trials)" env STRATUS_BIN=build/release/stratus \
  npm run -s test:reliability
step "fuzz corpora and past crashes replay (libFuzzer, ASan+UBSan)" scripts/fuzz.sh --replay
step "benchmark tools smoke (each micro-benchmark once, bench/run --quick; no timing asserted)" scripts/bench-smoke.sh
step "infra (cfn-lint, IAM simulation, S3/CloudFront posture)" node --test tests/infra/
step "lambda package x86_64" scripts/package-lambda --arch x86_64
step "lambda package arm64" scripts/package-lambda --arch arm64
# The whole Node suite again, with the handler out of process: the packaged bootstrap
# (the zip's content) behind `stratus dev --lambda`.
lambda_suite() {
  rm -rf build/lambda-zip && unzip -q dist/stratus-lambda-x86_64.zip -d build/lambda-zip || return 1
  env STRATUS_BIN=build/release/stratus STRATUS_LAMBDA=build/lambda-zip \
    STRATUS_SIGV4_TOOL=build/release/tests/sigv4_sign_tool \
    STRATUS_DYNAMODB_SEED=build/release/tests/stratus_dynamodb_seed npm run -s test:integration
}
step "node integration (release gateway, --lambda with the packaged bootstrap)" lambda_suite
step "lambda bootstrap on glibc 2.31 (x86_64, arm64 under qemu)" env STRATUS_BIN=build/release/stratus \
  node --test --test-concurrency=1 tests/lambda/
step "parity: the suite in target mode against a production-like local stack" env STRATUS_BIN=build/release/stratus \
  node tests/integration/parity/run-local.mjs
step "web unit tests" node --test tests/web/unit/
step "browser tests (release gateway)" env STRATUS_BIN=build/release/stratus node --test --test-concurrency=1 tests/web/browser/
if [ "${STRATUS_SKIP_ASAN:-0}" != "1" ]; then
  step "build asan" build asan
  step "ctest asan" moto ctest --preset asan -j2
  step "node integration (asan gateway)" env STRATUS_BIN=build/asan/stratus STRATUS_SANITIZED=1 \
    STRATUS_SIGV4_TOOL=build/asan/tests/sigv4_sign_tool \
    STRATUS_DYNAMODB_SEED=build/asan/tests/stratus_dynamodb_seed npm run -s test:integration
fi

echo
if [ "${failed}" -gt 0 ]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "summary: ${passed} passed, ${failed} failed"
[ "${failed}" -eq 0 ]
