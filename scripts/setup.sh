#!/usr/bin/env bash
# Installs everything Stratus needs on a fresh Debian 12 machine: the C++ toolchain and
# libraries from Debian, and the pinned npm test peers. Safe to run again: it only installs
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config clang clang-format
  libboost1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev sqlite3 nlohmann-json3-dev libexpected-dev
  libcpp-jwt-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  jq curl ca-certificates openssl
  # the Lambda package (scripts/package-lambda): an older-glibc sysroot, the arm64 cross
  # compiler, zip; and its test in a bullseye root filesystem (arm64 under qemu)
  debootstrap zip unzip g++-12-aarch64-linux-gnu qemu-user-static
  slowhttptest # tests/integration/node/abuse.test.mjs (slowloris against the gateway)
  libclang-rt-14-dev # libFuzzer and the sanitizer runtimes for clang (fuzz/, scripts/fuzz.sh)
  chromium # headless browser for tests/web/browser (driven by npm playwright-core)
)
# Node 20 and npm come with this machine image; install Debian's only where they are missing.
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing from Debian: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm test peers, exact versions from package-lock.json.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm test peers (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: ok"
