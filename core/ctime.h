/* Marking secret data for the constant-time check (tests/unit/ctime_core.c).
 *
 * Under valgrind, memory marked "undefined" that a branch or an address depends on is an
 * error. The check marks secret inputs undefined with IOLM_CLASSIFY and runs the code
 * that handles them: any secret-dependent branch or table lookup shows up. Where a result
 * derived from a secret is public by design (whether a key was valid at all, a signature,
 * a public key), the code says so with IOLM_DECLASSIFY before branching on it.
 * Outside valgrind these are a handful of no-op instructions. */
#ifndef IOLM_CORE_CTIME_H
#define IOLM_CORE_CTIME_H

#if defined(IOLM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define IOLM_CLASSIFY(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define IOLM_DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define IOLM_RUNNING_ON_VALGRIND RUNNING_ON_VALGRIND
#else
#define IOLM_CLASSIFY(p, n) ((void)(p), (void)(n))
#define IOLM_DECLASSIFY(p, n) ((void)(p), (void)(n))
#define IOLM_RUNNING_ON_VALGRIND 0
#endif

#endif
