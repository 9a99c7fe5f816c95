// CUDA causal attention, forward and backward, in the CPU reference's order
// (compute/cpu/cpu_ops.c att_fwd_rows / att_bwd_heads, docs/compute.md).
//
// Forward, one warp per (b, h, t): lane l computes the scores t2 = l, l + 32, ... (each
// a dot product over i ascending, then * scale), which are independent outputs; lane 0
// takes the max (first maximum, t2 ascending) and the sum z (t2 ascending) alone and
// broadcasts them; the exponentials and quotients are per element; finally lane l owns
// output channels i = l, l + 32, ..., each summed over t2 ascending from 0.0f.
//
// Backward. The CPU walks t ascending and accumulates into dv[t2], dk[t2] and dq[t].
// Unrolled, each output element is one sequential sum in a fixed order:
//   datt_t[t2] = sum over i of dy[t][i] v[t2][i]
//   sp_t       = sum over t2 <= t ascending of att[t][t2] datt_t[t2]
//   d_t[t2]    = (att[t][t2] (datt_t[t2] - sp_t)) * scale
//   dq[t][i]   = 0 + sum over t2 = 0..t ascending of d_t[t2] k[t2][i]
//   dk[t2][i]  = 0 + sum over t = t2..T-1 ascending of d_t[t2] q[t][i]
//   dv[t2][i]  = 0 + sum over t = t2..T-1 ascending of att[t][t2] dy[t][i]
// (dq[t] only receives terms during the CPU's iteration t, in t2 order; dk[t2] and
// dv[t2] receive one term per iteration t >= t2.) So: kernel 1 (warp per (b, h, t))
// writes d_t[t2] to a scratch array shaped like att, lane 0 doing sp_t; kernel 2
// (thread per (b, h, t, i)) forms dq; kernel 3 (thread per (b, h, t2, i)) forms dk
// and dv.
#include "compute/cuda/cuda_common.cuh"

#define ATT_WARPS 4

// One (b, h, t) task of the forward, by the warp's 32 lanes.
static __device__ void att_fwd_task(float *out, float *att, const float *qkv, int T, int C,
				    int NH, float scale, size_t task, int lane)
{
	int hs = C / NH;
	int t = (int)(task % (size_t)T);
	int h = (int)(task / (size_t)T % (size_t)NH);
	int b = (int)(task / ((size_t)T * (size_t)NH));
	size_t C3 = 3 * (size_t)C, ho = (size_t)h * (size_t)hs;
	const float *base = qkv + (size_t)b * (size_t)T * C3;
	const float *q = base + (size_t)t * C3 + ho;
	float *a = att + task * (size_t)T;
	for (int t2 = lane; t2 <= t; t2 += 32) {
		const float *k = base + (size_t)t2 * C3 + (size_t)C + ho;
		float s = 0.0f;
		for (int i = 0; i < hs; i++)
			s = s + q[i] * k[i];
		a[t2] = s * scale;
	}
	__syncwarp();
	float mx = 0.0f;
	if (lane == 0)
		for (int t2 = 0; t2 <= t; t2++)
			if (t2 == 0 || a[t2] > mx)
				mx = a[t2];
	mx = __shfl_sync(0xffffffffu, mx, 0);
	for (int t2 = lane; t2 <= t; t2 += 32)
		a[t2] = iolm_expf(a[t2] - mx);
	__syncwarp();
	float z = 0.0f;
	if (lane == 0)
		for (int t2 = 0; t2 <= t; t2++)
			z = z + a[t2];
	z = __shfl_sync(0xffffffffu, z, 0);
	for (int t2 = lane; t2 < T; t2 += 32)
		a[t2] = t2 <= t ? a[t2] / z : 0.0f;
	__syncwarp();
	float *o = out + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C + ho;
	for (int i = lane; i < hs; i += 32) {
		float s = 0.0f;
		for (int t2 = 0; t2 <= t; t2++)
			s = s + a[t2] * base[(size_t)t2 * C3 + 2 * (size_t)C + ho + (size_t)i];
		o[i] = s;
	}
}

static __global__ void k_att_fwd(float *out, float *att, const float *qkv, int B, int T,
				 int C, int NH, float scale)
{
	size_t task = (size_t)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
	if (task >= (size_t)B * (size_t)NH * (size_t)T)
		return;
	att_fwd_task(out, att, qkv, T, C, NH, scale, task, threadIdx.x % 32);
}

// The last position of one sequence: warp h takes task (0, h, T - 1).
static __global__ void k_att_last_fwd(float *out, float *att, const float *qkv, int T, int C,
				      int NH, float scale)
{
	size_t h = (size_t)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
	if (h >= (size_t)NH)
		return;
	att_fwd_task(out, att, qkv, T, C, NH, scale, h * (size_t)T + (size_t)T - 1,
		     threadIdx.x % 32);
}

void cuda_attention_fwd(void *ctx, float *out, float *att, const float *qkv, int B, int T,
			int C, int NH)
{
	cuda_use(ctx);
	size_t tasks = (size_t)B * (size_t)NH * (size_t)T;
	if (!tasks)
		return;
	float scale = 1.0f / iolm_sqrtf((float)(C / NH));
	k_att_fwd<<<cuda_blocks(tasks, ATT_WARPS), 32 * ATT_WARPS>>>(out, att, qkv, B, T, C,
								       NH, scale);
	CUDA_LAUNCHED();
}

void cuda_attention_last_fwd(void *ctx, float *out, float *att, const float *qkv, int T,
			     int C, int NH)
{
	cuda_use(ctx);
	if (T < 1 || NH < 1)
		return;
	float scale = 1.0f / iolm_sqrtf((float)(C / NH));
	k_att_last_fwd<<<cuda_blocks((size_t)NH, ATT_WARPS), 32 * ATT_WARPS>>>(out, att, qkv, T,
									      C, NH, scale);
	CUDA_LAUNCHED();
}

// Kernel 1: d[b][h][t][t2] = d_t[t2] for t2 <= t.
static __global__ void k_att_bwd_d(float *d, const float *dout, const float *qkv,
				   const float *att, int B, int T, int C, int NH, float scale)
{
	size_t task = (size_t)blockIdx.x * ATT_WARPS + threadIdx.x / 32;
	int lane = threadIdx.x % 32;
	if (task >= (size_t)B * (size_t)NH * (size_t)T)
		return;
	int hs = C / NH;
	int t = (int)(task % (size_t)T);
	int h = (int)(task / (size_t)T % (size_t)NH);
	int b = (int)(task / ((size_t)T * (size_t)NH));
	size_t C3 = 3 * (size_t)C, ho = (size_t)h * (size_t)hs;
	const float *base = qkv + (size_t)b * (size_t)T * C3;
	const float *g = dout + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C + ho;
	const float *a = att + task * (size_t)T;
	float *dd = d + task * (size_t)T;
	for (int t2 = lane; t2 <= t; t2 += 32) {
		const float *v = base + (size_t)t2 * C3 + 2 * (size_t)C + ho;
		float s = 0.0f;
		for (int i = 0; i < hs; i++)
			s = s + g[i] * v[i];
		dd[t2] = s;
	}
	__syncwarp();
	float sp = 0.0f;
	if (lane == 0)
		for (int t2 = 0; t2 <= t; t2++)
			sp = sp + a[t2] * dd[t2];
	sp = __shfl_sync(0xffffffffu, sp, 0);
	for (int t2 = lane; t2 <= t; t2 += 32)
		dd[t2] = (a[t2] * (dd[t2] - sp)) * scale;
}

// Kernel 2: dq[t][i], thread per (b, h, t, i); index ((b * NH + h) * T + t) * hs + i.
static __global__ void k_att_bwd_dq(float *dqkv, const float *d, const float *qkv, int B,
				    int T, int C, int NH)
{
	int hs = C / NH;
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)B * (size_t)NH * (size_t)T * (size_t)hs)
		return;
	int i = (int)(idx % (size_t)hs);
	size_t task = idx / (size_t)hs; // (b, h, t)
	int t = (int)(task % (size_t)T);
	int h = (int)(task / (size_t)T % (size_t)NH);
	int b = (int)(task / ((size_t)T * (size_t)NH));
	size_t C3 = 3 * (size_t)C, ho = (size_t)h * (size_t)hs + (size_t)i;
	const float *base = qkv + (size_t)b * (size_t)T * C3;
	const float *dd = d + task * (size_t)T;
	float s = 0.0f;
	for (int t2 = 0; t2 <= t; t2++)
		s = s + dd[t2] * base[(size_t)t2 * C3 + (size_t)C + ho];
	dqkv[(size_t)b * (size_t)T * C3 + (size_t)t * C3 + ho] = s;
}

// Kernel 3: dk[t2][i] and dv[t2][i], thread per (b, h, t2, i).
static __global__ void k_att_bwd_dkv(float *dqkv, const float *d, const float *dout,
				     const float *qkv, const float *att, int B, int T, int C,
				     int NH)
{
	int hs = C / NH;
	size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (size_t)B * (size_t)NH * (size_t)T * (size_t)hs)
		return;
	int i = (int)(idx % (size_t)hs);
	size_t task = idx / (size_t)hs; // (b, h, t2)
	int t2 = (int)(task % (size_t)T);
	size_t bh = task / (size_t)T;
	int h = (int)(bh % (size_t)NH);
	int b = (int)(bh / (size_t)NH);
	size_t C3 = 3 * (size_t)C, ho = (size_t)h * (size_t)hs + (size_t)i;
	const float *base = qkv + (size_t)b * (size_t)T * C3;
	const float *g = dout + (size_t)b * (size_t)T * (size_t)C + ho;
	const float *dd = d + bh * (size_t)T * (size_t)T;
	const float *a = att + bh * (size_t)T * (size_t)T;
	float sk = 0.0f, sv = 0.0f;
	for (int t = t2; t < T; t++) {
		size_t e = (size_t)t * (size_t)T + (size_t)t2;
		sk = sk + dd[e] * base[(size_t)t * C3 + ho];
		sv = sv + a[e] * g[(size_t)t * (size_t)C];
	}
	float *db = dqkv + (size_t)b * (size_t)T * C3 + (size_t)t2 * C3 + ho;
	db[C] = sk;
	db[2 * (size_t)C] = sv;
}

void cuda_attention_bwd(void *ctx, float *dqkv, const float *dout, const float *qkv,
			const float *att, int B, int T, int C, int NH)
{
	struct cuda_ctx *cx = (struct cuda_ctx *)ctx;
	cuda_use(ctx);
	size_t tasks = (size_t)B * (size_t)NH * (size_t)T;
	if (!tasks)
		return;
	// Reserved by the model (reserve's att); a direct caller's first backward sizes it.
	cuda_scratch(&cx->attd, &cx->attd_n, tasks * (size_t)T);
	float scale = 1.0f / iolm_sqrtf((float)(C / NH));
	k_att_bwd_d<<<cuda_blocks(tasks, ATT_WARPS), 32 * ATT_WARPS>>>(cx->attd, dout, qkv, att,
									 B, T, C, NH, scale);
	CUDA_LAUNCHED();
	size_t n = tasks * (size_t)(C / NH);
	k_att_bwd_dq<<<cuda_blocks(n, 128), 128>>>(dqkv, cx->attd, qkv, B, T, C, NH);
	CUDA_LAUNCHED();
	k_att_bwd_dkv<<<cuda_blocks(n, 128), 128>>>(dqkv, cx->attd, dout, qkv, att, B, T, C, NH);
	CUDA_LAUNCHED();
}
