# Toolchain for the Lambda bootstrap on arm64 (Graviton, Amazon Linux 2023): Debian's
# aarch64-linux-gnu-g++-12 cross compiler against the bullseye arm64 sysroot, with the
# arm64 static libraries from scripts/lib/lambda-arm64-deps.sh (STRATUS_LAMBDA_DEPS_ROOT).
# Used by `scripts/package-lambda --arch arm64`; see bullseye-sysroot.cmake and
# docs/lambda-packaging.md.
set(STRATUS_LAMBDA_ARCH arm64)
include("${CMAKE_CURRENT_LIST_DIR}/bullseye-sysroot.cmake")
