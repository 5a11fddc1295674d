# Toolchain for the Lambda bootstrap on x86_64 (Amazon Linux 2023): host GCC 12 against the
# bullseye (glibc 2.31) sysroot. Used by scripts/package-lambda; see bullseye-sysroot.cmake
# and docs/lambda-packaging.md.
set(STRATUS_LAMBDA_ARCH x86_64)
include("${CMAKE_CURRENT_LIST_DIR}/bullseye-sysroot.cmake")
