# Shared part of the bullseye-sysroot-<arch>.cmake toolchains (set STRATUS_LAMBDA_ARCH and
# include this file). It builds the Lambda `bootstrap` for Amazon Linux 2023 (glibc 2.34):
#
#   * GCC 12 from the host, but glibc headers, crt*.o, libc/libm/libdl/libpthread and
#     libgcc_s.so.1 ONLY from a Debian bullseye root filesystem (glibc 2.31, GCC 10 runtime):
#     --sysroot, plus -B/-L into its library directories (without them GCC's built-in
#     .../gcc/<triplet>/12/../../../<triplet> search path silently links the HOST's
#     glibc 2.36 and the binary needs GLIBC_2.34+).
#   * libstdc++ from the host's GCC 12 (-nostdinc++ + its headers, -static-libstdc++);
#     libgcc_s stays dynamic (the static libgcc_eh.a needs _dl_find_object@GLIBC_2.35).
#   * the host's (Debian 12) library headers through a generated directory of symlinks
#     (boost, openssl, nlohmann, tl, jwt, CLI, sqlite3.h): never -I/usr/include, whose
#     glibc 2.36 headers would shadow the sysroot's.
#   * the host's STATIC OpenSSL, SQLite and Boost.System archives.
#   * src/lambda/glibc_compat.c (arc4random, __libc_single_threaded), compiled with the
#     sysroot and put on every executable's link line.
#
# Inputs (cache variables or environment variables of the same name):
#   STRATUS_LAMBDA_SYSROOT      the rootfs (default: scripts/lib/bullseye-rootfs.sh's cache path)
#   STRATUS_LAMBDA_SHIM_OBJECT  the compiled shim (default: <build>/lambda-glibc-compat.o,
#                               compiled here when missing; scripts/package-lambda keeps it fresh)
#   STRATUS_LAMBDA_DEPS_ROOT    where <triplet>-specific headers and .a files live
#                               (default "" = the host's /usr; arm64: an extracted-.deb dir)
# See docs/lambda-packaging.md.

if(NOT STRATUS_LAMBDA_ARCH)
  message(FATAL_ERROR "include bullseye-sysroot-x86_64.cmake or bullseye-sysroot-arm64.cmake, not this file")
endif()

if(STRATUS_LAMBDA_ARCH STREQUAL "x86_64")
  set(_stratus_triplet x86_64-linux-gnu)
  set(_stratus_ld lib64/ld-linux-x86-64.so.2)
  set(_stratus_prefix "")
elseif(STRATUS_LAMBDA_ARCH STREQUAL "arm64")
  set(_stratus_triplet aarch64-linux-gnu)
  set(_stratus_ld lib/ld-linux-aarch64.so.1)
  set(_stratus_prefix "aarch64-linux-gnu-")
else()
  message(FATAL_ERROR "STRATUS_LAMBDA_ARCH must be x86_64 or arm64, not '${STRATUS_LAMBDA_ARCH}'")
endif()
set(STRATUS_LAMBDA_TRIPLET ${_stratus_triplet})

cmake_host_system_information(RESULT _stratus_host_arch QUERY OS_PLATFORM)
if(_stratus_host_arch MATCHES "^(aarch64|arm64)$")
  set(_stratus_host_arch arm64)
endif()
if(_stratus_host_arch STREQUAL STRATUS_LAMBDA_ARCH)
  set(_stratus_prefix "") # native: gcc-12/g++-12
else()
  set(CMAKE_SYSTEM_NAME Linux)
  if(STRATUS_LAMBDA_ARCH STREQUAL "arm64")
    set(CMAKE_SYSTEM_PROCESSOR aarch64)
  else()
    set(CMAKE_SYSTEM_PROCESSOR x86_64)
    set(_stratus_prefix "x86_64-linux-gnu-")
  endif()
endif()
set(CMAKE_LIBRARY_ARCHITECTURE ${_stratus_triplet})

# --- inputs -----------------------------------------------------------------------------
foreach(_v STRATUS_LAMBDA_SYSROOT STRATUS_LAMBDA_SHIM_OBJECT STRATUS_LAMBDA_DEPS_ROOT)
  if(NOT DEFINED ${_v} AND DEFINED ENV{${_v}})
    set(${_v} "$ENV{${_v}}")
  endif()
endforeach()
if(NOT STRATUS_LAMBDA_SYSROOT)
  if(DEFINED ENV{STRATUS_CACHE_DIR} AND NOT "$ENV{STRATUS_CACHE_DIR}" STREQUAL "")
    set(_stratus_cache "$ENV{STRATUS_CACHE_DIR}")
  else()
    set(_stratus_cache "$ENV{HOME}/.cache/stratus")
  endif()
  set(STRATUS_LAMBDA_SYSROOT "${_stratus_cache}/bullseye-${STRATUS_LAMBDA_ARCH}-rootfs")
endif()
set(STRATUS_LAMBDA_SYSROOT "${STRATUS_LAMBDA_SYSROOT}" CACHE PATH "bullseye rootfs used as the sysroot")
if(NOT EXISTS "${STRATUS_LAMBDA_SYSROOT}/.stratus-rootfs-complete")
  message(FATAL_ERROR "No complete bullseye rootfs at ${STRATUS_LAMBDA_SYSROOT}: "
                      "run scripts/lib/bullseye-rootfs.sh ${STRATUS_LAMBDA_ARCH} (as root) first")
endif()
set(_S "${STRATUS_LAMBDA_SYSROOT}")
if(NOT DEFINED STRATUS_LAMBDA_DEPS_ROOT)
  set(STRATUS_LAMBDA_DEPS_ROOT "")
endif()
set(STRATUS_LAMBDA_DEPS_ROOT "${STRATUS_LAMBDA_DEPS_ROOT}" CACHE PATH
    "root holding usr/include/<triplet> and usr/lib/<triplet> of the static deps (empty: the host)")
set(_stratus_deps_lib "${STRATUS_LAMBDA_DEPS_ROOT}/usr/lib/${_stratus_triplet}")
set(_stratus_deps_archinc "${STRATUS_LAMBDA_DEPS_ROOT}/usr/include/${_stratus_triplet}")

# --- compilers ----------------------------------------------------------------------------
find_program(_stratus_cc NAMES ${_stratus_prefix}gcc-12 REQUIRED NO_CACHE)
find_program(_stratus_cxx NAMES ${_stratus_prefix}g++-12 REQUIRED NO_CACHE)
set(CMAKE_C_COMPILER "${_stratus_cc}")
set(CMAKE_CXX_COMPILER "${_stratus_cxx}")
if(_stratus_prefix)
  foreach(_tool ar ranlib strip nm objcopy objdump readelf)
    string(TOUPPER ${_tool} _TOOL)
    find_program(CMAKE_${_TOOL} NAMES ${_stratus_prefix}${_tool})
  endforeach()
endif()

# The compiler's own libstdc++ header directories (without the sysroot, which hides them).
execute_process(COMMAND "${_stratus_cxx}" -E -x c++ -v /dev/null
                OUTPUT_QUIET ERROR_VARIABLE _stratus_v RESULT_VARIABLE _stratus_rc)
string(REGEX MATCH "#include <\\.\\.\\.> search starts here:\n(.*)\nEnd of search list" _ "${_stratus_v}")
string(REGEX MATCHALL "[^\n ]+" _stratus_dirs "${CMAKE_MATCH_1}")
set(_stratus_cxx_inc "")
foreach(_d IN LISTS _stratus_dirs)
  if(_d MATCHES "/c\\+\\+/[0-9]+")
    string(APPEND _stratus_cxx_inc " -isystem ${_d}")
  endif()
endforeach()
if(NOT _stratus_cxx_inc)
  message(FATAL_ERROR "Could not find the libstdc++ headers of ${_stratus_cxx}")
endif()

# --- host library headers, without the host's libc headers --------------------------------
if(NOT DEFINED STRATUS_LAMBDA_HOST_INCLUDE)
  set(STRATUS_LAMBDA_HOST_INCLUDE "${CMAKE_BINARY_DIR}/lambda-host-include")
endif()
set(STRATUS_LAMBDA_HOST_HEADERS boost nlohmann tl jwt CLI sqlite3.h sqlite3ext.h gtest gmock
    CACHE STRING "entries of /usr/include the Lambda build may see (openssl is always added)")
string(MD5 _stratus_hdr_key "${STRATUS_LAMBDA_HOST_HEADERS};${_stratus_deps_archinc}")
if(NOT EXISTS "${STRATUS_LAMBDA_HOST_INCLUDE}/.complete-${_stratus_hdr_key}")
  file(REMOVE_RECURSE "${STRATUS_LAMBDA_HOST_INCLUDE}")
  file(MAKE_DIRECTORY "${STRATUS_LAMBDA_HOST_INCLUDE}/openssl")
  foreach(_h IN LISTS STRATUS_LAMBDA_HOST_HEADERS)
    if(EXISTS "/usr/include/${_h}")
      file(CREATE_LINK "/usr/include/${_h}" "${STRATUS_LAMBDA_HOST_INCLUDE}/${_h}" SYMBOLIC)
    endif()
  endforeach()
  # openssl/: the generic headers plus the <triplet>-specific configuration.h/opensslconf.h
  foreach(_dir "/usr/include/openssl" "${_stratus_deps_archinc}/openssl")
    file(GLOB _files "${_dir}/*.h")
    foreach(_f IN LISTS _files)
      get_filename_component(_n "${_f}" NAME)
      file(CREATE_LINK "${_f}" "${STRATUS_LAMBDA_HOST_INCLUDE}/openssl/${_n}" SYMBOLIC)
    endforeach()
  endforeach()
  if(NOT EXISTS "${STRATUS_LAMBDA_HOST_INCLUDE}/openssl/configuration.h")
    message(FATAL_ERROR "No openssl/configuration.h for ${_stratus_triplet} in ${_stratus_deps_archinc}")
  endif()
  file(TOUCH "${STRATUS_LAMBDA_HOST_INCLUDE}/.complete-${_stratus_hdr_key}")
endif()

# --- the shim -------------------------------------------------------------------------------
get_filename_component(_stratus_repo "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
if(NOT STRATUS_LAMBDA_SHIM_OBJECT)
  set(STRATUS_LAMBDA_SHIM_OBJECT "${CMAKE_BINARY_DIR}/lambda-glibc-compat.o")
endif()
if(NOT EXISTS "${STRATUS_LAMBDA_SHIM_OBJECT}")
  execute_process(COMMAND "${_stratus_cc}" --sysroot=${_S} -O2 -Wall -Wextra -Werror -c
                          "${_stratus_repo}/src/lambda/glibc_compat.c" -o "${STRATUS_LAMBDA_SHIM_OBJECT}"
                  RESULT_VARIABLE _stratus_rc)
  if(NOT _stratus_rc EQUAL 0)
    message(FATAL_ERROR "Compiling src/lambda/glibc_compat.c failed")
  endif()
endif()

# --- flags ----------------------------------------------------------------------------------
set(_stratus_libdirs "-B${_S}/usr/lib/${_stratus_triplet}/ -L${_S}/usr/lib/${_stratus_triplet} -L${_S}/lib/${_stratus_triplet} -Wl,-rpath-link,${_S}/usr/lib/${_stratus_triplet}")
set(CMAKE_C_FLAGS_INIT "--sysroot=${_S}")
set(CMAKE_CXX_FLAGS_INIT "--sysroot=${_S} -nostdinc++${_stratus_cxx_inc} -isystem ${STRATUS_LAMBDA_HOST_INCLUDE}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_stratus_libdirs} -static-libstdc++ -Wl,--as-needed ${STRATUS_LAMBDA_SHIM_OBJECT}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_stratus_libdirs} -static-libstdc++ -Wl,--as-needed")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_stratus_libdirs} -static-libstdc++ -Wl,--as-needed")

# --- static dependencies from the host ------------------------------------------------------
set(OPENSSL_USE_STATIC_LIBS ON CACHE BOOL "")
set(OPENSSL_INCLUDE_DIR "${STRATUS_LAMBDA_HOST_INCLUDE}" CACHE PATH "")
set(OPENSSL_SSL_LIBRARY "${_stratus_deps_lib}/libssl.a" CACHE FILEPATH "")
set(OPENSSL_CRYPTO_LIBRARY "${_stratus_deps_lib}/libcrypto.a" CACHE FILEPATH "")
set(SQLite3_INCLUDE_DIR "${STRATUS_LAMBDA_HOST_INCLUDE}" CACHE PATH "")
set(SQLite3_LIBRARY "${_stratus_deps_lib}/libsqlite3.a" CACHE FILEPATH "")
set(Boost_USE_STATIC_LIBS ON CACHE BOOL "")
if(STRATUS_LAMBDA_DEPS_ROOT)
  # Boost's CMake package (and its libboost_system.a) for the target architecture
  set(Boost_DIR "${_stratus_deps_lib}/cmake/Boost-1.81.0" CACHE PATH "")
endif()

# Header-only packages (nlohmann_json, tl-expected, cpp-jwt, CLI11, Boost) report
# /usr/include; the project-include hook declares it implicit so CMake never passes it.
set(CMAKE_PROJECT_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/bullseye-sysroot-project.cmake")

list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     STRATUS_LAMBDA_ARCH STRATUS_LAMBDA_SYSROOT STRATUS_LAMBDA_SHIM_OBJECT STRATUS_LAMBDA_DEPS_ROOT
     STRATUS_LAMBDA_HOST_INCLUDE)
