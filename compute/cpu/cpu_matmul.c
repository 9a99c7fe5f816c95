/* CPU matmuls: one blocked kernel, C[r][m] = sum over k in order of A(r, k) * B[k][m].
 *
 * Every output element is accumulated in its own register lane, sequentially over k,
 * with separate multiply and add: exactly the order docs/compute.md fixes. Speed comes
 * only from computing many outputs at once, from threads over row tiles, and from the
 * widest vector unit the CPU has:
 *   - a register tile of MMT_RT rows by MMT_NV vectors (cpu_matmul_tile.h) keeps its
 *     accumulators in vector registers for the whole sum; each loaded vector of B
 *     serves MMT_RT rows and each element of A MMT_NV vectors, so the loop issues far
 *     fewer loads than multiply-adds;
 *   - the tile is compiled once per instruction set (AVX-512, AVX2, 4-lane vectors) and
 *     chosen at run time: the same IEEE operations in 16, 8 or 4 lanes, so the same
 *     bits. No variant may contract a*b+c: the build passes -ffp-contract=off.
 *
 *   forward  out = inp . w^T + bias : A = inp (N x I), B = w^T (I x O, transposed
 *            once into scratch), so each output sums over i in order;
 *   dinp     = dout . w              : A = dout (N x O), B = w (O x I);
 *   dw       = dout^T . inp          : A = dout read transposed (O x N), B = inp.
 * With cont (the data-parallel chain, backend.h) the dw and dbias accumulators start
 * from the values the outputs hold instead of 0.0f; nothing else changes. */
#include "compute/cpu/cpu.h"

#include <assert.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(IOLM_NO_CLONES)
#define MM_X86 1
#else
#define MM_X86 0
#endif

/* Rows per tile, in every variant below; columns mm_edge takes at once. */
#define MM_RT 4
#define MM_EDGE_MT 64

struct mm_job {
	float *c;          /* [rows][ldc] */
	size_t ldc;
	const float *a;    /* element (r, k) at a[r * sar + k * sak] */
	size_t sar, sak;
	const float *b;    /* [K][ldb] */
	size_t ldb;
	const float *bias; /* added to each column after the sum, or NULL */
	int rows, m, k;
	int cont;          /* sums start from c's values instead of 0.0f (the chain) */
};

/* Any block: rows [r0, r0 + nr) (nr <= MM_RT), columns [m0, m0 + nm), the plain loop
 * the tiles reproduce lane by lane. */
static void mm_edge(const struct mm_job *j, int r0, int nr, int m0, int nm)
{
	float acc[MM_RT][MM_EDGE_MT];
	assert(nr >= 0 && nr <= MM_RT);
	for (int x0 = m0; x0 < m0 + nm; x0 += MM_EDGE_MT) {
		int w = m0 + nm - x0 < MM_EDGE_MT ? m0 + nm - x0 : MM_EDGE_MT;
		for (int r = 0; r < nr; r++) {
			const float *c0 = j->c + (size_t)(r0 + r) * j->ldc + (size_t)x0;
			for (int x = 0; x < w; x++)
				acc[r][x] = j->cont ? c0[x] : 0.0f;
		}
		for (int k = 0; k < j->k; k++) {
			const float *bk = j->b + (size_t)k * j->ldb + x0;
			for (int r = 0; r < nr; r++) {
				float av = j->a[(size_t)(r0 + r) * j->sar + (size_t)k * j->sak];
				for (int x = 0; x < w; x++)
					acc[r][x] = acc[r][x] + av * bk[x];
			}
		}
		for (int r = 0; r < nr; r++) {
			float *c = j->c + (size_t)(r0 + r) * j->ldc + x0;
			for (int x = 0; x < w; x++)
				c[x] = j->bias ? acc[r][x] + j->bias[x0 + x] : acc[r][x];
		}
	}
}

/* The instantiations of the tile, widest first. 32 vector registers with AVX-512:
 * 4 x 4 accumulators and 4 of B; 16 with AVX2 and SSE: 4 x 2 and 2. */
#if MM_X86
#define MMT_SUFFIX avx512
#define MMT_ATTR __attribute__((target("avx512f")))
#define MMT_W 16
#define MMT_NV 4
#define MMT_RT MM_RT
#include "compute/cpu/cpu_matmul_tile.h"

#define MMT_SUFFIX avx2
#define MMT_ATTR __attribute__((target("avx2")))
#define MMT_W 8
#define MMT_NV 2
#define MMT_RT MM_RT
#include "compute/cpu/cpu_matmul_tile.h"
#endif

#define MMT_SUFFIX vec4
#define MMT_ATTR
#define MMT_W 4
#define MMT_NV 2
#define MMT_RT MM_RT
#include "compute/cpu/cpu_matmul_tile.h"

static compute_pool_fn mm_pick(void)
{
#if MM_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return mm_rows_avx512;
	if (__builtin_cpu_supports("avx2"))
		return mm_rows_avx2;
#endif
	return mm_rows_vec4;
}

static void mm_run(struct cpu_ctx *cx, const struct mm_job *j)
{
	size_t tiles = ((size_t)j->rows + MM_RT - 1) / MM_RT;
	compute_pool_run(cx->pool, tiles, 1, mm_pick(), (void *)j);
}

struct tr_job {
	float *dst;       /* [I][O] */
	const float *src; /* [O][I] */
	int o, i;
};

static void tr_rows(void *arg, size_t b, size_t e)
{
	const struct tr_job *t = arg;
	for (size_t i = b; i < e; i++)
		for (int o = 0; o < t->o; o++)
			t->dst[i * (size_t)t->o + (size_t)o] = t->src[(size_t)o * (size_t)t->i + i];
}

/* Up to MM_FEW_N rows (generating: one position at a time): no transpose of w, whose
 * cost would be the whole call's; each output is a dot product over i in order with
 * its row of w (read in place), MM_FEW_O outputs interleaved so their independent sums
 * overlap. The same operations, in the same order, as the tiles. */
#define MM_FEW_N 2
#define MM_FEW_O 8

struct few_job {
	float *out;
	const float *inp, *w, *bias;
	int n, i, o;
};

static void few_cols(void *arg, size_t b, size_t e)
{
	const struct few_job *j = arg;
	for (int n = 0; n < j->n; n++) {
		const float *x = j->inp + (size_t)n * (size_t)j->i;
		for (size_t o0 = b; o0 < e; o0 += MM_FEW_O) {
			size_t no = e - o0 < MM_FEW_O ? e - o0 : MM_FEW_O;
			float acc[MM_FEW_O] = { 0.0f };
			for (int i = 0; i < j->i; i++)
				for (size_t k = 0; k < no; k++)
					acc[k] = acc[k] + x[i] * j->w[(o0 + k) * (size_t)j->i + (size_t)i];
			for (size_t k = 0; k < no; k++)
				j->out[(size_t)n * (size_t)j->o + o0 + k] =
					j->bias ? acc[k] + j->bias[o0 + k] : acc[k];
		}
	}
}

void cpu_matmul_fwd(void *ctx, float *out, const float *inp, const float *w,
		    const float *bias, int N, int I, int O)
{
	struct cpu_ctx *cx = ctx;
	if (N <= MM_FEW_N) {
		struct few_job fj = { out, inp, w, bias, N, I, O };
		compute_pool_run(cx->pool, (size_t)O, MM_FEW_O * 4, few_cols, &fj);
		return;
	}
	float *wt = cx->scratch;
	struct tr_job tj = { wt, w, O, I };
	compute_pool_run(cx->pool, (size_t)I, 16, tr_rows, &tj);
	struct mm_job j = {
		.c = out, .ldc = (size_t)O, .a = inp, .sar = (size_t)I, .sak = 1,
		.b = wt, .ldb = (size_t)O, .bias = bias, .rows = N, .m = O, .k = I,
	};
	mm_run(cx, &j);
}

struct bias_job {
	float *dbias;
	const float *dout;
	int n, o, cont;
};

/* dbias[o] for o in [b, e): sum over rows in order, vectorised across o. */
static void bias_cols(void *arg, size_t b, size_t e)
{
	const struct bias_job *j = arg;
	size_t w = e - b;
	float *d = j->dbias + b;
	for (size_t x = 0; x < w && !j->cont; x++)
		d[x] = 0.0f;
	for (int n = 0; n < j->n; n++) {
		const float *row = j->dout + (size_t)n * (size_t)j->o + b;
		for (size_t x = 0; x < w; x++)
			d[x] = d[x] + row[x];
	}
}

void cpu_matmul_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		    const float *inp, const float *w, int N, int I, int O, int cont)
{
	struct cpu_ctx *cx = ctx;
	struct mm_job jd = {
		.c = dinp, .ldc = (size_t)I, .a = dout, .sar = (size_t)O, .sak = 1,
		.b = w, .ldb = (size_t)I, .bias = NULL, .rows = N, .m = I, .k = O,
	};
	mm_run(cx, &jd);
	struct mm_job jw = {
		.c = dw, .ldc = (size_t)I, .a = dout, .sar = 1, .sak = (size_t)O,
		.b = inp, .ldb = (size_t)I, .bias = NULL, .rows = O, .m = I, .k = N,
		.cont = cont,
	};
	mm_run(cx, &jw);
	if (dbias) {
		struct bias_job jb = { dbias, dout, N, O, cont };
		compute_pool_run(cx->pool, (size_t)O, 64, bias_cols, &jb);
	}
}
