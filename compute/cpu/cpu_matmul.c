/* CPU matmuls: one blocked kernel, C[r][m] = sum over k in order of A(r, k) * B[k][m].
 *
 * Every output element is accumulated in its own register lane, sequentially over k,
 * with separate multiply and add: exactly the order docs/compute.md fixes. Speed comes
 * only from computing many outputs at once (a tile of MM_RT rows by MM_MT columns whose
 * accumulators the compiler keeps in vector registers), from threads over row tiles,
 * and from function clones for wider vector units (target_clones: the same IEEE
 * operations, so the same bits, in 4, 8 or 16 lanes). No clone may contract a*b+c:
 * the build passes -ffp-contract=off, which applies to every clone.
 *
 *   forward  out = inp . w^T + bias : A = inp (N x I), B = w^T (I x O, transposed
 *            once into scratch), so each output sums over i in order;
 *   dinp     = dout . w              : A = dout (N x O), B = w (O x I);
 *   dw       = dout^T . inp          : A = dout read transposed (O x N), B = inp. */
#include "compute/cpu/cpu.h"

#include <string.h>

#define MM_RT 4
#define MM_MT 32

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(IOLM_NO_CLONES)
#define MM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MM_CLONES
#endif

struct mm_job {
	float *c;          /* [rows][ldc] */
	size_t ldc;
	const float *a;    /* element (r, k) at a[r * sar + k * sak] */
	size_t sar, sak;
	const float *b;    /* [K][ldb] */
	size_t ldb;
	const float *bias; /* added to each column after the sum, or NULL */
	int rows, m, k;
};

/* One full tile: MM_RT rows from r0, MM_MT columns from m0. The accumulators are GCC
 * vector-extension values: lane x of acc[r] is output (r0 + r, m0 + x), updated by
 * one IEEE multiply and one IEEE add per k, exactly like the scalar loop. */
typedef float mm_vec __attribute__((vector_size(MM_MT * sizeof(float))));

MM_CLONES static void mm_tile(const struct mm_job *j, int r0, int m0)
{
	mm_vec acc0 = { 0 }, acc1 = { 0 }, acc2 = { 0 }, acc3 = { 0 };
	const float *a = j->a + (size_t)r0 * j->sar;
	const float *b = j->b + m0;
	size_t sar = j->sar, sak = j->sak, ldb = j->ldb;
	for (int k = 0; k < j->k; k++) {
		mm_vec bv;
		memcpy(&bv, b + (size_t)k * ldb, sizeof bv);
		const float *ak = a + (size_t)k * sak;
		acc0 = acc0 + ak[0] * bv;
		acc1 = acc1 + ak[sar] * bv;
		acc2 = acc2 + ak[2 * sar] * bv;
		acc3 = acc3 + ak[3 * sar] * bv;
	}
	mm_vec accs[MM_RT] = { acc0, acc1, acc2, acc3 };
	for (int r = 0; r < MM_RT; r++) {
		float *c = j->c + (size_t)(r0 + r) * j->ldc + m0;
		if (j->bias) {
			mm_vec bias;
			memcpy(&bias, j->bias + m0, sizeof bias);
			accs[r] = accs[r] + bias;
		}
		memcpy(c, &accs[r], sizeof accs[r]);
	}
}

/* An edge block: rows [r0, r0 + nr) (nr <= MM_RT), columns [m0, m0 + nm) (nm <= MM_MT). */
static void mm_edge(const struct mm_job *j, int r0, int nr, int m0, int nm)
{
	float acc[MM_RT][MM_MT];
	for (int r = 0; r < nr; r++)
		for (int x = 0; x < nm; x++)
			acc[r][x] = 0.0f;
	for (int k = 0; k < j->k; k++) {
		const float *bk = j->b + (size_t)k * j->ldb + m0;
		for (int r = 0; r < nr; r++) {
			float av = j->a[(size_t)(r0 + r) * j->sar + (size_t)k * j->sak];
			for (int x = 0; x < nm; x++)
				acc[r][x] = acc[r][x] + av * bk[x];
		}
	}
	for (int r = 0; r < nr; r++) {
		float *c = j->c + (size_t)(r0 + r) * j->ldc + m0;
		for (int x = 0; x < nm; x++)
			c[x] = j->bias ? acc[r][x] + j->bias[m0 + x] : acc[r][x];
	}
}

/* Row tiles [tb, te). */
static void mm_rows(void *arg, size_t tb, size_t te)
{
	const struct mm_job *j = arg;
	for (size_t t = tb; t < te; t++) {
		int r0 = (int)t * MM_RT;
		int nr = j->rows - r0 < MM_RT ? j->rows - r0 : MM_RT;
		int m0 = 0;
		if (nr == MM_RT)
			for (; m0 + MM_MT <= j->m; m0 += MM_MT)
				mm_tile(j, r0, m0);
		for (; m0 < j->m; m0 += MM_MT)
			mm_edge(j, r0, nr, m0, j->m - m0 < MM_MT ? j->m - m0 : MM_MT);
	}
}

static void mm_run(struct cpu_ctx *cx, const struct mm_job *j)
{
	size_t tiles = ((size_t)j->rows + MM_RT - 1) / MM_RT;
	compute_pool_run(cx->pool, tiles, 1, mm_rows, (void *)j);
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

void cpu_matmul_fwd(void *ctx, float *out, const float *inp, const float *w,
		    const float *bias, int N, int I, int O)
{
	struct cpu_ctx *cx = ctx;
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
	int n, o;
};

/* dbias[o] for o in [b, e): sum over rows in order, vectorised across o. */
static void bias_cols(void *arg, size_t b, size_t e)
{
	const struct bias_job *j = arg;
	size_t w = e - b;
	float *d = j->dbias + b;
	for (size_t x = 0; x < w; x++)
		d[x] = 0.0f;
	for (int n = 0; n < j->n; n++) {
		const float *row = j->dout + (size_t)n * (size_t)j->o + b;
		for (size_t x = 0; x < w; x++)
			d[x] = d[x] + row[x];
	}
}

void cpu_matmul_bwd(void *ctx, float *dinp, float *dw, float *dbias, const float *dout,
		    const float *inp, const float *w, int N, int I, int O)
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
	};
	mm_run(cx, &jw);
	if (dbias) {
		struct bias_job jb = { dbias, dout, N, O };
		compute_pool_run(cx->pool, (size_t)O, 64, bias_cols, &jb);
	}
}
