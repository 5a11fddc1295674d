# Included at the end of every project() by cmake/toolchains/bullseye-sysroot.cmake
# (CMAKE_PROJECT_INCLUDE), after the compilers are known.
#
# Header-only and config packages (Boost, nlohmann_json, tl-expected, cpp-jwt, CLI11) give
# their targets INTERFACE_INCLUDE_DIRECTORIES /usr/include. CMake would pass that as
# `-isystem /usr/include`, and the HOST's glibc 2.36 headers would then shadow the sysroot's
# 2.31 ones. Declaring the host directories implicit makes CMake drop them; the library
# headers reach the compiler through STRATUS_LAMBDA_HOST_INCLUDE (symlinks) instead.
foreach(_stratus_lang C CXX)
  list(APPEND CMAKE_${_stratus_lang}_IMPLICIT_INCLUDE_DIRECTORIES
       /usr/include /usr/include/${STRATUS_LAMBDA_TRIPLET} /usr/local/include)
endforeach()
unset(_stratus_lang)
