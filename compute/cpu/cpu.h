/* Internals of the CPU reference backend (compute/cpu/). */
#ifndef IOLM_COMPUTE_CPU_CPU_H
#define IOLM_COMPUTE_CPU_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "compute/backend.h"
#include "compute/cpu/pool.h"

/* Backend context: the pool and a scratch area reused between calls (one caller at a
 * time, like the pool). */
struct cpu_ctx {
	compute_pool *pool;
	void *scratch;
	size_t scratch_bytes;
	size_t wt_floats; /* floats before the ints */
};

/* The scratch area, sized by reserve: room for max(V*C, 4*C*C) floats (a transposed
 * weight matrix) followed by N + V + 1 ints (the encoder's token index). */
struct cpu_scratch {
	float *wt;
	int *idx;
};

void cpu_matmul_fwd(void *ctx, float *out, const float *inp, const float *w,
		    const float *bias, int N, int I, int O);
void cpu_matmul_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		    const float *inp, const float *w, int N, int I, int O, int cont);

#endif
