option(STRATUS_TSAN "Build with ThreadSanitizer (scripts/tsan.sh; not together with STRATUS_SANITIZE)" OFF)

# stratus_target_defaults(<target>): C++20, warnings and sanitizers for our own
# targets only (never global flags, so third-party headers stay untouched).
function(stratus_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string
    # operator+ at -O3 (GCC bug 105329); the code is fine.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(STRATUS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(STRATUS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(STRATUS_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # GCC warns that TSan does not model std::atomic_thread_fence (used by Asio's
      # handler recycling); a race it would hide would still show as a report elsewhere.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()
