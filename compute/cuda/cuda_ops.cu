// CUDA backend: memory, the context, and every operation except the matmuls
// (cuda_matmul.cu) and attention (cuda_attention.cu).
//
// Each kernel maps independent outputs to threads. Where the CPU reference reduces
// (layernorm statistics, bias-like column sums, softmax max and sum, sumsq blocks),
// one thread performs the whole reduction sequentially in the CPU's order; other
// threads only do per-element work. The comment at each kernel names the CPU loop it
// reproduces (compute/cpu/cpu_ops.c).
#include "compute/cuda/cuda_common.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define LN_EPS 1e-5f

// ---------------------------------------------------------------- errors

int cuda_check_at(cudaError_t err, const char *call, const char *file, int line, int fatal)
{
	if (err == cudaSuccess)
		return IOLM_OK;
	fprintf(stderr, "iolm cuda: %s:%d: %s: %s (%s)\n", file, line, call,
		cudaGetErrorString(err), cudaGetErrorName(err));
	if (fatal)
		abort();
	return IOLM_ECUDA;
}

// ---------------------------------------------------------------- memory

static void *cu_alloc(void *ctx, size_t bytes)
{
	cuda_use(ctx);
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
	if (e == cudaErrorMemoryAllocation) {
		(void)cudaGetLastError(); // clear the sticky-free allocation error
		return NULL;
	}
	CUDA_CHECK(e);
	CUDA_CHECK(cudaMemset(p, 0, bytes ? bytes : 1));
	return p;
}

static void cu_free(void *ctx, void *p)
{
	cuda_use(ctx);
	if (p)
		CUDA_CHECK(cudaFree(p));
}

static void cu_zero(void *ctx, void *p, size_t bytes)
{
	cuda_use(ctx);
	CUDA_CHECK(cudaMemset(p, 0, bytes));
}

static void cu_upload(void *ctx, void *dst, const void *src, size_t bytes)
{
	cuda_use(ctx);
	CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

static void cu_download(void *ctx, void *dst, const void *src, size_t bytes)
{
	cuda_use(ctx);
	CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

// Device to device; with unified addressing src may be on another device. Across devices
// cudaMemcpyPeer, which is ordered after the work pending on both (a plain cudaMemcpy is
// ordered only on the current device's stream).
static void cu_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
	struct cuda_ctx *cx = (struct cuda_ctx *)ctx;
	struct cudaPointerAttributes pa;
	cuda_use(ctx);
	CUDA_CHECK(cudaPointerGetAttributes(&pa, src));
	if (pa.type == cudaMemoryTypeDevice && pa.device != cx->device)
		CUDA_CHECK(cudaMemcpyPeer(dst, cx->device, src, pa.device, bytes));
	else
		CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void cuda_scratch(float **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return;
	if (*p)
		CUDA_CHECK(cudaFree(*p));
	*p = NULL;
	*cap = 0;
	CUDA_CHECK(cudaMalloc((void **)p, n * sizeof(float)));
	*cap = n;
}

// Grow *p to n floats now, reporting a failure (cuda_scratch, used where an operation
// finds its scratch short, can only abort).
static int reserve_floats(float **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return IOLM_OK;
	float *q = NULL;
	if (cudaMalloc((void **)&q, n * sizeof(float)) != cudaSuccess) {
		(void)cudaGetLastError();
		return IOLM_ENOMEM;
	}
	if (*p)
		CUDA_CHECK(cudaFree(*p));
	*p = q;
	*cap = n;
	return IOLM_OK;
}

static int cu_reserve(void *ctx, int N, int C, int V, size_t att)
{
	struct cuda_ctx *cx = (struct cuda_ctx *)ctx;
	cuda_use(ctx);
	(void)C;
	(void)V;
	int err = reserve_floats(&cx->rowtmp, &cx->rowtmp_n, 2 * (size_t)N);
	return err ? err : reserve_floats(&cx->attd, &cx->attd_n, att);
}

void cuda_sync(void *ctx)
{
	cuda_use(ctx);
	CUDA_CHECK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------- encoder

// enc_fwd_rows: out[n][c] = wte[tok[n]][c] + wpe[n % T][c].
static __global__ void k_encoder_fwd(float *out, const uint8_t *tok, const float *wte,
			      const float *wpe, int N, int T, int C)
{
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)N * (size_t)C)
		return;
	size_t n = idx / (size_t)C, c = idx % (size_t)C;
	out[idx] = wte[(size_t)tok[n] * (size_t)C + c] + wpe[(n % (size_t)T) * (size_t)C + c];
}

static void cu_encoder_fwd(void *ctx, float *out, const uint8_t *tok, const float *wte,
			   const float *wpe, int N, int T, int C)
{
	cuda_use(ctx);
	if (!N || !C) // a launch of no blocks is an error; there is nothing to write
		return;
	k_encoder_fwd<<<cuda_blocks((size_t)N * (size_t)C, 256), 256>>>(out, tok, wte, wpe,
									  N, T, C);
	CUDA_LAUNCHED();
}

// enc_bwd_pos: dwpe[t][c] = 0 (kept when cont); for b ascending: += dout[b*T + t][c].
// Thread per (t, c).
static __global__ void k_encoder_bwd_pos(float *dwpe, const float *dout, int B, int T, int C,
				  int cont)
{
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)T * (size_t)C)
		return;
	size_t t = idx / (size_t)C, c = idx % (size_t)C;
	float d = cont ? dwpe[idx] : 0.0f;
	for (int b = 0; b < B; b++)
		d = d + dout[((size_t)b * (size_t)T + t) * (size_t)C + c];
	dwpe[idx] = d;
}

// enc_bwd_vocab: for each vocabulary row v that occurs, acc = 0; for n ascending with
// tok[n] == v: acc += dout[n][c]; then dwte[v][c] += acc. Rows that do not occur stay
// untouched (adding +0 would turn a -0 into +0). Block (v, channel chunk), thread per
// channel; the tokens are staged through shared memory in order.
//
// enc_bwd_vocab_chain (vacc != NULL, a link of the data-parallel chain): acc starts
// from vacc[v][c] (0 unless cont) and is stored back; vseen[v] becomes 1 when v occurs
// here; with dwte (the last link) dwte[v][c] += acc when v occurred in any link. Only
// thread (0, 0) of row v writes vseen[v]; another thread of the row may read it before
// or after that write, which gives it the same flag (the write changes the flag only
// when v occurs here, and then seen || any is 1 either way). Both accesses are volatile,
// which the PTX memory model treats as relaxed system-scope operations: concurrent, but
// not a data race.
#define ENC_TOK_CHUNK 1024
static __global__ void k_encoder_bwd_vocab(float *dwte, float *vacc, volatile uint8_t *vseen,
				    const float *dout, const uint8_t *tok, int N, int C,
				    int cont)
{
	__shared__ uint8_t st[ENC_TOK_CHUNK];
	int v = blockIdx.y;
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	size_t vc = (size_t)v * (size_t)C + (size_t)c;
	float acc = vacc && cont && c < C ? vacc[vc] : 0.0f;
	int seen = vacc && cont ? vseen[v] : 0, any = 0;
	for (int n0 = 0; n0 < N; n0 += ENC_TOK_CHUNK) {
		int len = N - n0 < ENC_TOK_CHUNK ? N - n0 : ENC_TOK_CHUNK;
		__syncthreads();
		for (int i = threadIdx.x; i < len; i += blockDim.x)
			st[i] = tok[n0 + i];
		__syncthreads();
		if (c >= C)
			continue;
		for (int i = 0; i < len; i++)
			if (st[i] == v) {
				acc = acc + dout[(size_t)(n0 + i) * (size_t)C + (size_t)c];
				any = 1;
			}
	}
	if (c >= C)
		return;
	if (vacc) {
		vacc[vc] = acc;
		if (c == 0)
			vseen[v] = (uint8_t)(seen || any);
		if (!dwte || !(seen || any))
			return;
	} else if (!any) {
		return;
	}
	dwte[vc] = dwte[vc] + acc;
}

static void cu_encoder_bwd(void *ctx, float *dwte, float *dwpe, float *vacc, uint8_t *vseen,
			   const float *dout, const uint8_t *tok, int N, int T, int C, int cont)
{
	cuda_use(ctx);
	if (!T || !C)
		return; /* nothing to write (N = 0 still writes dwpe and the vocabulary rows) */
	k_encoder_bwd_pos<<<cuda_blocks((size_t)T * (size_t)C, 256), 256>>>(dwpe, dout, N / T,
									     T, C, cont);
	CUDA_LAUNCHED();
	dim3 grid(cuda_blocks((size_t)C, 128), 256); // tokens are bytes: 256 rows
	k_encoder_bwd_vocab<<<grid, 128>>>(dwte, vacc, vseen, dout, tok, N, C, cont);
	CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- layernorm

// ln_fwd_rows, statistics: thread per row, both sums over c ascending.
static __global__ void k_ln_stats(float *mean, float *rstd, const float *inp, int N, int C)
{
	int n = blockIdx.x * blockDim.x + threadIdx.x;
	if (n >= N)
		return;
	const float *x = inp + (size_t)n * (size_t)C;
	float s = 0.0f;
	for (int c = 0; c < C; c++)
		s = s + x[c];
	float m = s / (float)C;
	float v = 0.0f;
	for (int c = 0; c < C; c++) {
		float d = x[c] - m;
		v = v + d * d;
	}
	v = v / (float)C;
	mean[n] = m;
	rstd[n] = 1.0f / iolm_sqrtf(v + LN_EPS);
}

// ln_fwd_rows, output: o = ((x - m) * rs) * w + b, thread per element.
static __global__ void k_ln_apply(float *out, const float *inp, const float *mean,
			   const float *rstd, const float *w, const float *b, int N, int C)
{
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)N * (size_t)C)
		return;
	size_t n = idx / (size_t)C, c = idx % (size_t)C;
	out[idx] = ((inp[idx] - mean[n]) * rstd[n]) * w[c] + b[c];
}

static void cu_layernorm_fwd(void *ctx, float *out, float *mean, float *rstd,
			     const float *inp, const float *w, const float *b, int N, int C)
{
	cuda_use(ctx);
	if (!N || !C)
		return;
	k_ln_stats<<<cuda_blocks((size_t)N, 64), 64>>>(mean, rstd, inp, N, C);
	CUDA_LAUNCHED();
	k_ln_apply<<<cuda_blocks((size_t)N * (size_t)C, 256), 256>>>(out, inp, mean, rstd, w,
								       b, N, C);
	CUDA_LAUNCHED();
}

// ln_bwd_rows, the two row sums: sa = (sum dxh) / C, sb = (sum dxh * xh) / C, one
// pass over c ascending, thread per row.
static __global__ void k_ln_bwd_rowsums(float *sa_out, float *sb_out, const float *dout,
				 const float *inp, const float *w, const float *mean,
				 const float *rstd, int N, int C)
{
	int n = blockIdx.x * blockDim.x + threadIdx.x;
	if (n >= N)
		return;
	const float *x = inp + (size_t)n * (size_t)C, *g = dout + (size_t)n * (size_t)C;
	float m = mean[n], rs = rstd[n];
	float sa = 0.0f, sb = 0.0f;
	for (int c = 0; c < C; c++) {
		float xh = (x[c] - m) * rs;
		float dxh = g[c] * w[c];
		sa = sa + dxh;
		sb = sb + dxh * xh;
	}
	sa_out[n] = sa / (float)C;
	sb_out[n] = sb / (float)C;
}

// ln_bwd_rows, the update: d = d + ((dxh - sa) - xh * sb) * rs, thread per element.
static __global__ void k_ln_bwd_dinp(float *dinp, const float *dout, const float *inp,
			      const float *w, const float *mean, const float *rstd,
			      const float *sa, const float *sb, int N, int C)
{
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)N * (size_t)C)
		return;
	size_t n = idx / (size_t)C, c = idx % (size_t)C;
	float rs = rstd[n];
	float xh = (inp[idx] - mean[n]) * rs;
	float dxh = dout[idx] * w[c];
	dinp[idx] = dinp[idx] + ((dxh - sa[n]) - xh * sb[n]) * rs;
}

// ln_bwd_cols: dw[c] = sum over n ascending of g * xh, db[c] = sum of g, from 0 or
// (cont) from their values; thread per c.
static __global__ void k_ln_bwd_cols(float *dw, float *db, const float *dout, const float *inp,
			      const float *mean, const float *rstd, int N, int C, int cont)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float sw = cont ? dw[c] : 0.0f, sbias = cont ? db[c] : 0.0f;
	for (int n = 0; n < N; n++) {
		size_t i = (size_t)n * (size_t)C + (size_t)c;
		float g = dout[i];
		float xh = (inp[i] - mean[n]) * rstd[n];
		sw = sw + g * xh;
		sbias = sbias + g;
	}
	dw[c] = sw;
	db[c] = sbias;
}

static void cu_layernorm_bwd(void *ctx, float *dinp, float *dw, float *db,
			     const float *dout, const float *inp, const float *w,
			     const float *mean, const float *rstd, int N, int C, int cont)
{
	struct cuda_ctx *cx = (struct cuda_ctx *)ctx;
	cuda_use(ctx);
	cuda_scratch(&cx->rowtmp, &cx->rowtmp_n, 2 * (size_t)N); // normally from reserve
	float *sa = cx->rowtmp, *sb = cx->rowtmp + N;
	if (!C)
		return;
	if (N) {
		k_ln_bwd_rowsums<<<cuda_blocks((size_t)N, 64), 64>>>(sa, sb, dout, inp, w, mean,
								     rstd, N, C);
		CUDA_LAUNCHED();
		k_ln_bwd_dinp<<<cuda_blocks((size_t)N * (size_t)C, 256), 256>>>(
			dinp, dout, inp, w, mean, rstd, sa, sb, N, C);
		CUDA_LAUNCHED();
	}
	// With no rows dw and db are still written (zero, or kept when cont), as on the CPU.
	k_ln_bwd_cols<<<cuda_blocks((size_t)C, 64), 64>>>(dw, db, dout, inp, mean, rstd, N, C,
							  cont);
	CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- elementwise

static __global__ void k_gelu_fwd(float *out, const float *inp, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = iolm_gelu(inp[i]);
}

static __global__ void k_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dinp[i] = iolm_gelu_grad(inp[i]) * dout[i];
}

static __global__ void k_residual(float *out, const float *a, const float *b, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = a[i] + b[i];
}

static __global__ void k_adamw(float *p, float *m, float *v, const float *g, size_t n, float wd,
			struct iolm_adamw a)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		iolm_adamw_elem(&p[i], &m[i], &v[i], g[i], wd, &a);
}

static void cu_gelu_fwd(void *ctx, float *out, const float *inp, size_t n)
{
	cuda_use(ctx);
	if (!n)
		return;
	k_gelu_fwd<<<cuda_blocks(n, 256), 256>>>(out, inp, n);
	CUDA_LAUNCHED();
}

static void cu_gelu_bwd(void *ctx, float *dinp, const float *inp, const float *dout,
			size_t n)
{
	cuda_use(ctx);
	if (!n)
		return;
	k_gelu_bwd<<<cuda_blocks(n, 256), 256>>>(dinp, inp, dout, n);
	CUDA_LAUNCHED();
}

static void cu_residual_fwd(void *ctx, float *out, const float *a, const float *b, size_t n)
{
	cuda_use(ctx);
	if (!n)
		return;
	k_residual<<<cuda_blocks(n, 256), 256>>>(out, a, b, n);
	CUDA_LAUNCHED();
}

static void cu_adamw(void *ctx, float *p, float *m, float *v, const float *g, size_t n,
		     float wd, const struct iolm_adamw *a)
{
	cuda_use(ctx);
	if (!n)
		return;
	k_adamw<<<cuda_blocks(n, 256), 256>>>(p, m, v, g, n, wd, *a);
	CUDA_LAUNCHED();
}

// sumsq_blocks: partial[j] = sum over block j in order of x * x. Thread per block j.
static __global__ void k_sumsq(float *partial, const float *x, size_t n, size_t blocks)
{
	size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= blocks)
		return;
	size_t lo = j * COMPUTE_SUMSQ_BLOCK, hi = lo + COMPUTE_SUMSQ_BLOCK;
	if (hi > n)
		hi = n;
	float s = 0.0f;
	for (size_t i = lo; i < hi; i++)
		s = s + x[i] * x[i];
	partial[j] = s;
}

static void cu_sumsq(void *ctx, float *partial, const float *x, size_t n)
{
	cuda_use(ctx);
	size_t blocks = (n + COMPUTE_SUMSQ_BLOCK - 1) / COMPUTE_SUMSQ_BLOCK;
	if (!blocks)
		return;
	k_sumsq<<<cuda_blocks(blocks, 64), 64>>>(partial, x, n, blocks);
	CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- cross-entropy

// ce_fwd_rows, one warp per row: lane 0 takes the max and the sum sequentially (v
// ascending) and broadcasts them; the lanes compute the exponentials and the
// quotients, which are per element. __syncwarp orders the lanes' global writes and
// reads of the row.
static __global__ void k_ce_fwd(float *losses, float *probs, const float *logits,
			  const uint8_t *targets, int N, int V)
{
	int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	int lane = threadIdx.x % 32;
	if (n >= N)
		return;
	const float *x = logits + (size_t)n * (size_t)V;
	float *p = probs + (size_t)n * (size_t)V;
	float mx = 0.0f, z = 0.0f;
	if (lane == 0) {
		mx = x[0];
		for (int v = 1; v < V; v++)
			if (x[v] > mx)
				mx = x[v];
	}
	mx = __shfl_sync(0xffffffffu, mx, 0);
	for (int v = lane; v < V; v += 32)
		p[v] = iolm_expf(x[v] - mx);
	__syncwarp();
	if (lane == 0) {
		for (int v = 0; v < V; v++)
			z = z + p[v];
		losses[n] = iolm_logf(z) - (x[targets[n]] - mx);
	}
	z = __shfl_sync(0xffffffffu, z, 0);
	for (int v = lane; v < V; v += 32)
		p[v] = p[v] / z;
}

static void cu_crossentropy_fwd(void *ctx, float *losses, float *probs,
				const float *logits, const uint8_t *targets, int N, int V)
{
	cuda_use(ctx);
	if (!N || !V)
		return;
	k_ce_fwd<<<cuda_blocks((size_t)N, 4), 128>>>(losses, probs, logits, targets, N, V);
	CUDA_LAUNCHED();
}

// ce_bwd_rows: d = (p - indicator) * dloss, per element.
static __global__ void k_ce_bwd(float *dlogits, const float *probs, const uint8_t *targets,
			 float dloss, int N, int V)
{
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)N * (size_t)V)
		return;
	size_t n = idx / (size_t)V, v = idx % (size_t)V;
	float ind = v == targets[n] ? 1.0f : 0.0f;
	dlogits[idx] = (probs[idx] - ind) * dloss;
}

static void cu_crossentropy_bwd(void *ctx, float *dlogits, const float *probs,
				const uint8_t *targets, float dloss, int N, int V)
{
	cuda_use(ctx);
	if (!N || !V)
		return;
	k_ce_bwd<<<cuda_blocks((size_t)N * (size_t)V, 256), 256>>>(dlogits, probs, targets,
								     dloss, N, V);
	CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- table, context

void cuda_ops_fill(struct compute_backend_ops *o, int fast)
{
	memset(o, 0, sizeof *o);
	o->name = fast ? "cuda-fast" : "cuda";
	o->alloc = cu_alloc;
	o->free = cu_free;
	o->zero = cu_zero;
	o->upload = cu_upload;
	o->download = cu_download;
	o->copy = cu_copy;
	o->reserve = cu_reserve;
	o->encoder_fwd = cu_encoder_fwd;
	o->encoder_bwd = cu_encoder_bwd;
	o->layernorm_fwd = cu_layernorm_fwd;
	o->layernorm_bwd = cu_layernorm_bwd;
	o->matmul_fwd = fast ? cuda_matmul_fwd_fast : cuda_matmul_fwd;
	o->matmul_bwd = fast ? cuda_matmul_bwd_fast : cuda_matmul_bwd;
	o->attention_fwd = cuda_attention_fwd;
	o->attention_last_fwd = cuda_attention_last_fwd;
	o->attention_bwd = cuda_attention_bwd;
	o->gelu_fwd = cu_gelu_fwd;
	o->gelu_bwd = cu_gelu_bwd;
	o->residual_fwd = cu_residual_fwd;
	o->crossentropy_fwd = cu_crossentropy_fwd;
	o->crossentropy_bwd = cu_crossentropy_bwd;
	o->sumsq = cu_sumsq;
	o->adamw = cu_adamw;
}

int cuda_ctx_create(void **out, int device)
{
	int count = 0, err;
	*out = NULL;
	cudaError_t rc = cudaGetDeviceCount(&count);
	(void)cudaGetLastError();
	// No device, or no NVIDIA driver at all (a machine without a GPU): nothing to use.
	// Any other failure, or an old driver where the driver is installed, is an error to
	// report: a GPU machine whose CUDA cannot start must not pass for one without a GPU.
	if (rc == cudaErrorNoDevice || (rc == cudaSuccess && count <= 0) ||
	    (rc == cudaErrorInsufficientDriver && access("/proc/driver/nvidia/version", F_OK)))
		return IOLM_ECUDA_NODEVICE;
	if (rc != cudaSuccess) {
		fprintf(stderr, "iolm cuda: cannot count the CUDA devices: %s (%s)\n",
			cudaGetErrorName(rc), cudaGetErrorString(rc));
		return IOLM_ECUDA;
	}
	if (device < 0 || device >= count)
		return IOLM_ECUDA_NODEVICE;
	struct cuda_ctx *cx = (struct cuda_ctx *)calloc(1, sizeof *cx);
	if (!cx)
		return IOLM_ENOMEM;
	cx->device = device;
	if ((err = CUDA_TRY(cudaSetDevice(device))) ||
	    (err = CUDA_TRY(cudaDeviceGetAttribute(&cx->sms, cudaDevAttrMultiProcessorCount,
						   device)))) {
		free(cx);
		return err;
	}
	// A device this build has no kernel image for (an architecture left out of
	// CMAKE_CUDA_ARCHITECTURES, and newer than its PTX) would fail at the first launch:
	// say so now, while the caller can still fall back or report it.
	struct cudaFuncAttributes fa;
	if (cudaFuncGetAttributes(&fa, k_residual) != cudaSuccess) {
		int major = 0, minor = 0;
		(void)cudaGetLastError();
		(void)cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
		(void)cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
		fprintf(stderr, "iolm cuda: device %d (sm_%d%d) has no kernel image in this build; "
				"rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d%d\n",
			device, major, minor, major, minor);
		free(cx);
		return IOLM_ECUDA_NODEVICE;
	}
	*out = cx;
	return IOLM_OK;
}

void cuda_ctx_destroy(void *ctx)
{
	struct cuda_ctx *cx = (struct cuda_ctx *)ctx;
	if (!cx)
		return;
	cuda_use(cx);
	if (cx->rowtmp)
		CUDA_CHECK(cudaFree(cx->rowtmp));
	if (cx->attd)
		CUDA_CHECK(cudaFree(cx->attd));
	free(cx);
}

int cuda_device_info(int device, char *name, size_t cap, int *sms, int *major, int *minor,
		     int *clock_khz)
{
	struct cudaDeviceProp p;
	int err = CUDA_TRY(cudaGetDeviceProperties(&p, device));
	if (err)
		return err;
	snprintf(name, cap, "%s", p.name);
	*sms = p.multiProcessorCount;
	*major = p.major;
	*minor = p.minor;
	// cudaDeviceProp.clockRate is gone in CUDA 13: ask the attribute.
	return CUDA_TRY(cudaDeviceGetAttribute(clock_khz, cudaDevAttrClockRate, device));
}
