/* A small persistent thread pool for the CPU backend.
 *
 * compute_pool_run() splits the index range [0, n) into chunks and runs fn on them in
 * the calling thread and the workers; it returns when every chunk is done. Callers
 * give each index its own outputs, so the result never depends on which thread ran
 * which chunk: that is what makes the CPU backend bitwise independent of the thread
 * count. The pool is used by one caller at a time. */
#ifndef IOLM_COMPUTE_CPU_POOL_H
#define IOLM_COMPUTE_CPU_POOL_H

#include <stddef.h>

#include "core/err.h"

#define COMPUTE_POOL_MAX_THREADS 64

typedef struct compute_pool compute_pool;

/* fn handles indices [begin, end). */
typedef void (*compute_pool_fn)(void *arg, size_t begin, size_t end);

/* A pool of threads - 1 workers (the caller is the last thread); threads in 1..64.
 * Destroy with compute_pool_destroy. IOLM_EINVAL, IOLM_ENOMEM. */
int compute_pool_create(compute_pool **out, unsigned threads) IOLM_WUR;
void compute_pool_destroy(compute_pool *p);
unsigned compute_pool_threads(const compute_pool *p);

/* Run fn over [0, n) in chunks of at least grain indices (grain >= 1). */
void compute_pool_run(compute_pool *p, size_t n, size_t grain, compute_pool_fn fn,
		      void *arg);

#endif
