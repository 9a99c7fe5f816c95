// CUDA matmuls: one tiled kernel, C[r][m] = sum over k in order of A(r, k) * B(k, m).
//
// The order argument is the CPU's (compute/cpu/cpu_matmul.c): every output element
// has one accumulator, in one thread's registers, that starts at 0.0f and receives
// round(A(r,k) * B(k,m)) for k = 0, 1, ..., K-1 in that order, each product and sum
// rounded separately (-fmad=false: the compiler emits FMUL then FADD, never FFMA).
// Tiling only decides which thread owns which outputs and how operands reach it:
//   - a block owns a BM x BN tile of outputs, a thread TM x TN of them (rows ty + i *
//     BM/TM, columns tx + j * BN/TN, so shared-memory reads are conflict-free and the
//     final stores coalesced);
//   - K is walked in slices of BK through shared memory, slices in increasing k and
//     k increasing inside a slice; the last slice stops at K (padding is never added:
//     acc + 0 would turn an accumulated -0 into +0, and 0 * inf is NaN);
//   - no split-K, no atomics, no tensor cores (TF32), no cuBLAS.
// The bias is added after the sum, as the CPU does. The same kernel serves the three
// products through strides, so operands are never transposed in memory:
//   forward  out  = inp . w^T : A(n, i) = inp[n][i], B(i, o) = w[o][i]
//   dinp     = dout . w       : A(n, o) = dout[n][o], B(o, i) = w[o][i]
//   dw       = dout^T . inp   : A(o, n) = dout[n][o], B(n, i) = inp[n][i]
// dbias[o] = sum over n in order of dout[n][o] is a column sum, one thread per o.
// With cont (the data-parallel chain) the dw and dbias accumulators start from the
// values the outputs hold instead of 0.0f.
//
// FAST = true is the benchmark's non-deterministic reference (gpu_determinism_cost):
// the same tiling with fused multiply-adds, whose bits differ from the CPU's.
#include "compute/cuda/cuda_common.cuh"

#define MM_BK 16

struct mm_args {
	float *c;
	size_t ldc;
	const float *a;
	size_t sar, sak; // A(r, k) = a[r * sar + k * sak]
	const float *b;
	size_t sbk, sbm; // B(k, m) = b[k * sbk + m * sbm]
	const float *bias;
	int rows, m, k;
	int cont; // accumulators start from c's values (the data-parallel chain)
};

template <int BM, int BN, int TM, int TN, bool FAST>
static __global__ void __launch_bounds__((BM / TM) * (BN / TN)) k_mm(struct mm_args g)
{
	constexpr int NT = (BM / TM) * (BN / TN), TX = BN / TN, TY = BM / TM;
	__shared__ float as[MM_BK][BM];
	__shared__ float bs[MM_BK][BN];
	const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
	// Row tiles on x (up to 2^31 - 1 blocks: rows are B*T, up to 2^24), column tiles on
	// y (at most 65,535 blocks: columns are widths and the vocabulary).
	const int r0 = blockIdx.x * BM, m0 = blockIdx.y * BN;
	float acc[TM][TN];
	for (int i = 0; i < TM; i++)
		for (int j = 0; j < TN; j++) {
			int r = r0 + ty + i * TY, mm = m0 + tx + j * TX;
			acc[i][j] = g.cont && r < g.rows && mm < g.m ?
				g.c[(size_t)r * g.ldc + (size_t)mm] : 0.0f;
		}
	const bool a_kfast = g.sak == 1, b_mfast = g.sbm == 1;
	for (int k0 = 0; k0 < g.k; k0 += MM_BK) {
		// Stage A(r0.., k0..) and B(k0.., m0..), walking memory along the unit
		// stride so neighbouring threads read neighbouring addresses. Outside the
		// matrix: 0, never used for k (see kmax) and discarded for r, m.
		for (int l = tid; l < MM_BK * BM; l += NT) {
			int kk = a_kfast ? l % MM_BK : l / BM;
			int r = a_kfast ? l / MM_BK : l % BM;
			int gr = r0 + r, gk = k0 + kk;
			as[kk][r] = gr < g.rows && gk < g.k ?
				g.a[(size_t)gr * g.sar + (size_t)gk * g.sak] : 0.0f;
		}
		for (int l = tid; l < MM_BK * BN; l += NT) {
			int kk = b_mfast ? l / BN : l % MM_BK;
			int mm = b_mfast ? l % BN : l / MM_BK;
			int gm = m0 + mm, gk = k0 + kk;
			bs[kk][mm] = gm < g.m && gk < g.k ?
				g.b[(size_t)gk * g.sbk + (size_t)gm * g.sbm] : 0.0f;
		}
		__syncthreads();
		const int kmax = g.k - k0 < MM_BK ? g.k - k0 : MM_BK;
		for (int kk = 0; kk < kmax; kk++) {
			float av[TM], bv[TN];
			for (int i = 0; i < TM; i++)
				av[i] = as[kk][ty + i * TY];
			for (int j = 0; j < TN; j++)
				bv[j] = bs[kk][tx + j * TX];
			for (int i = 0; i < TM; i++)
				for (int j = 0; j < TN; j++) {
					if (FAST)
						acc[i][j] = __fmaf_rn(av[i], bv[j], acc[i][j]);
					else
						acc[i][j] = acc[i][j] + av[i] * bv[j];
				}
		}
		__syncthreads();
	}
	for (int i = 0; i < TM; i++) {
		int r = r0 + ty + i * TY;
		if (r >= g.rows)
			continue;
		for (int j = 0; j < TN; j++) {
			int mm = m0 + tx + j * TX;
			if (mm < g.m)
				g.c[(size_t)r * g.ldc + (size_t)mm] =
					g.bias ? acc[i][j] + g.bias[mm] : acc[i][j];
		}
	}
}

// Big tiles (64 x 64, 4 x 4 per thread) when they alone fill the device twice over,
// else small ones (32 x 32, 2 x 2) for more blocks: K is never split, so small
// problems get their parallelism from outputs only.
template <bool FAST>
static void mm_run(const struct cuda_ctx *cx, const struct mm_args *g)
{
	if (g->rows <= 0 || g->m <= 0)
		return;
	size_t big = (size_t)((g->rows + 63) / 64) * (size_t)((g->m + 63) / 64);
	if (big >= 2 * (size_t)cx->sms) {
		dim3 grid((unsigned)((g->rows + 63) / 64), (unsigned)((g->m + 63) / 64));
		k_mm<64, 64, 4, 4, FAST><<<grid, 256>>>(*g);
	} else {
		dim3 grid((unsigned)((g->rows + 31) / 32), (unsigned)((g->m + 31) / 32));
		k_mm<32, 32, 2, 2, FAST><<<grid, 256>>>(*g);
	}
	CUDA_LAUNCHED();
}

// bias_cols: dbias[o] = 0 (kept when cont); for n ascending: dbias[o] += dout[n][o].
// Thread per o.
static __global__ void k_colsum(float *dbias, const float *dout, int N, int O, int cont)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= O)
		return;
	float s = cont ? dbias[o] : 0.0f;
	for (int n = 0; n < N; n++)
		s = s + dout[(size_t)n * (size_t)O + (size_t)o];
	dbias[o] = s;
}

template <bool FAST>
static void mm_fwd(void *ctx, float *out, const float *inp, const float *w,
		   const float *bias, int N, int I, int O)
{
	const struct cuda_ctx *cx = (const struct cuda_ctx *)ctx;
	cuda_use(ctx);
	struct mm_args g = { out, (size_t)O, inp, (size_t)I, 1, w, 1, (size_t)I, bias,
			     N, O, I, 0 };
	mm_run<FAST>(cx, &g);
}

template <bool FAST>
static void mm_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		   const float *inp, const float *w, int N, int I, int O, int cont)
{
	const struct cuda_ctx *cx = (const struct cuda_ctx *)ctx;
	cuda_use(ctx);
	struct mm_args gd = { dinp, (size_t)I, dout, (size_t)O, 1, w, (size_t)I, 1, NULL,
			      N, I, O, 0 };
	mm_run<FAST>(cx, &gd);
	struct mm_args gw = { dw, (size_t)I, dout, 1, (size_t)O, inp, (size_t)I, 1, NULL,
			      O, I, N, cont };
	mm_run<FAST>(cx, &gw);
	if (dbias && O > 0) {
		k_colsum<<<cuda_blocks((size_t)O, 64), 64>>>(dbias, dout, N, O, cont);
		CUDA_LAUNCHED();
	}
}

void cuda_matmul_fwd(void *ctx, float *out, const float *inp, const float *w,
		     const float *bias, int N, int I, int O)
{
	mm_fwd<false>(ctx, out, inp, w, bias, N, I, O);
}

void cuda_matmul_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		     const float *inp, const float *w, int N, int I, int O, int cont)
{
	mm_bwd<false>(ctx, dinp, dw, dbias, dout, inp, w, N, I, O, cont);
}

void cuda_matmul_fwd_fast(void *ctx, float *out, const float *inp, const float *w,
			  const float *bias, int N, int I, int O)
{
	mm_fwd<true>(ctx, out, inp, w, bias, N, I, O);
}

void cuda_matmul_bwd_fast(void *ctx, float *dinp, float *dw, float *dbias,
			  const float *dout, const float *inp, const float *w, int N, int I,
			  int O, int cont)
{
	mm_bwd<true>(ctx, dinp, dw, dbias, dout, inp, w, N, I, O, cont);
}
