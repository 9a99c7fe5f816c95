// Shared by the CUDA kernel files: the checking macro, the backend context, launch
// helpers and the entry points one .cu file gives another (C++ linkage, internal to
// the backend).
#ifndef IOLM_COMPUTE_CUDA_COMMON_CUH
#define IOLM_COMPUTE_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "compute/cuda/cuda.h"
#include "core/err.h"

// Every CUDA runtime call goes through one of these, which name the call, file and
// line on failure. CUDA_CHECK is for the operations of the backend table, which have
// no error result: a failing kernel or copy means a broken device or a bug, and a
// miner must not go on and commit to a state it did not compute, so it aborts.
// CUDA_TRY is for set-up paths that can report an error: it evaluates to IOLM_OK or
// IOLM_ECUDA (after printing the same message).
int cuda_check_at(cudaError_t err, const char *call, const char *file, int line, int fatal);
#define CUDA_CHECK(call) ((void)cuda_check_at((call), #call, __FILE__, __LINE__, 1))
#define CUDA_TRY(call) cuda_check_at((call), #call, __FILE__, __LINE__, 0)
// After a kernel launch: the launch's own error (bad configuration and the like).
#define CUDA_LAUNCHED() CUDA_CHECK(cudaGetLastError())

struct cuda_ctx {
	int device;
	int sms;            // multiprocessors, for choosing tile sizes
	float *rowtmp;      // per-row scratch of layernorm_bwd (2 floats a row)
	size_t rowtmp_n;    // its capacity in floats
	float *attd;        // attention_bwd scratch: one float per attention entry
	size_t attd_n;
};

// Make the context's device current for this thread. Every entry point of the table
// starts with it, so backends on several devices can be driven from one thread (the
// data-parallel step, compute/dp.c); when the device is already current it costs a
// check of thread-local state.
static inline void cuda_use(const void *ctx)
{
	CUDA_CHECK(cudaSetDevice(((const struct cuda_ctx *)ctx)->device));
}

// Blocks of `threads` covering n items.
static inline unsigned cuda_blocks(size_t n, unsigned threads)
{
	return (unsigned)((n + threads - 1) / threads);
}

// Device scratch of at least n floats in *p (capacity *cap), grown on demand.
void cuda_scratch(float **p, size_t *cap, size_t n);

// cuda_matmul.cu
void cuda_matmul_fwd(void *ctx, float *out, const float *inp, const float *w,
		     const float *bias, int N, int I, int O);
void cuda_matmul_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int N, int I, int O, int cont);
void cuda_matmul_fwd_fast(void *ctx, float *out, const float *inp, const float *w,
			  const float *bias, int N, int I, int O);
void cuda_matmul_bwd_fast(void *ctx, float *dinp, float *dw, float *dbias,
			  const float *dout, const float *inp, const float *w, int N, int I,
			  int O, int cont);

// cuda_attention.cu
void cuda_attention_fwd(void *ctx, float *out, float *att, const float *qkv, int B, int T,
			int C, int NH);
void cuda_attention_last_fwd(void *ctx, float *out, float *att, const float *qkv, int T,
			     int C, int NH);
void cuda_attention_bwd(void *ctx, float *dqkv, const float *dout, const float *qkv,
			const float *att, int B, int T, int C, int NH);

#endif
