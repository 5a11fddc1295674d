/* glibc_compat.c: two definitions that let the Lambda `bootstrap` link against glibc 2.31
 * (the bullseye sysroot, cmake/toolchains/bullseye-sysroot-*.cmake) although the static
 * libstdc++ it embeds comes from Debian 12's GCC 12, which was built against glibc 2.36.
 * Linked into the bootstrap only; see docs/lambda-packaging.md.
 *
 * - arc4random (GLIBC_2.36): libstdc++.a's std::random_device calls it; random.o is pulled
 *   in by every -static-libstdc++ program (via cow-string-inst.o). A definition in the
 *   executable wins over the library's versioned one. getrandom() is in glibc since 2.25.
 * - __libc_single_threaded (GLIBC_2.32): libstdc++ reads it to skip atomic reference
 *   counting while the process has one thread. 0 means "assume threads": always atomic,
 *   which is always correct (glibc 2.32+ keep their own copy for themselves).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

uint32_t arc4random(void);

uint32_t arc4random(void) {
  uint32_t value;
  for (;;) {
    ssize_t n = getrandom(&value, sizeof value, 0);
    if (n == (ssize_t)sizeof value) return value;
    if (n < 0 && errno != EINTR) abort(); /* no kernel entropy source: never on Lambda */
  }
}

char __libc_single_threaded = 0;
