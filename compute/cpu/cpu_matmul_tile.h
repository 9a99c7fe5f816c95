/* The register-tiled CPU matmul kernel for one vector width: a template that
 * cpu_matmul.c includes once per instruction set, after defining
 *
 *   MMT_SUFFIX  suffix of the names defined here (avx512, avx2, vec4)
 *   MMT_ATTR    function attribute selecting the instruction set (may be empty)
 *   MMT_W       floats per vector register
 *   MMT_NV      vector registers per tile row (the tile is MMT_NV * MMT_W columns)
 *   MMT_RT      rows per tile
 *
 * and undefines them again. It defines mm_rows_MMT_SUFFIX, a compute_pool_fn over row
 * tiles of MMT_RT rows. MMT_RT * MMT_NV accumulators plus MMT_NV loaded vectors of B
 * must fit the vector registers of the instruction set, or the compiler spills them to
 * the stack on every k and the kernel runs at a fraction of the FPU's rate.
 *
 * Each lane of each accumulator is one output element, updated once per k by one IEEE
 * multiply and one IEEE add, in k order, starting from 0.0f (or, with j->cont, from the
 * output's value: the data-parallel chain): exactly the scalar loop of
 * mm_edge, whatever the width, so every instruction set gives the same bits. */

#define MMT_CAT2(a, b) a##b
#define MMT_CAT(a, b) MMT_CAT2(a, b)
#define MMT_VEC MMT_CAT(mm_vec_, MMT_SUFFIX)
#define MMT_BLOCK MMT_CAT(mm_block_, MMT_SUFFIX)

typedef float MMT_VEC __attribute__((vector_size(MMT_W * sizeof(float))));

/* Rows [r0, r0 + MMT_RT), columns [m0, m0 + nv * MMT_W): the whole sum over k, then
 * the bias. nv is MMT_NV or 1, a constant once inlined. */
MMT_ATTR static inline __attribute__((always_inline)) void
MMT_BLOCK(const struct mm_job *j, int r0, int m0, int nv)
{
	MMT_VEC acc[MMT_RT][MMT_NV];
	const float *a = j->a + (size_t)r0 * j->sar;
	const float *b = j->b + m0;
	size_t sar = j->sar, sak = j->sak, ldb = j->ldb, ldc = j->ldc;
	for (int r = 0; r < MMT_RT; r++)
		for (int v = 0; v < nv; v++) {
			acc[r][v] = (MMT_VEC){ 0 };
			if (j->cont)
				memcpy(&acc[r][v], j->c + (size_t)(r0 + r) * j->ldc +
				       (size_t)m0 + (size_t)v * MMT_W, sizeof acc[r][v]);
		}
	for (int k = 0; k < j->k; k++) {
		MMT_VEC bv[MMT_NV];
		const float *ak = a + (size_t)k * sak;
		for (int v = 0; v < nv; v++)
			memcpy(&bv[v], b + (size_t)k * ldb + (size_t)v * MMT_W, sizeof bv[v]);
		for (int r = 0; r < MMT_RT; r++) {
			float ar = ak[(size_t)r * sar];
			for (int v = 0; v < nv; v++)
				acc[r][v] = acc[r][v] + ar * bv[v];
		}
	}
	float *c = j->c + (size_t)r0 * ldc + (size_t)m0;
	for (int v = 0; v < nv; v++) {
		MMT_VEC bias = { 0 };
		if (j->bias)
			memcpy(&bias, j->bias + m0 + v * MMT_W, sizeof bias);
		for (int r = 0; r < MMT_RT; r++) {
			MMT_VEC out = j->bias ? acc[r][v] + bias : acc[r][v];
			memcpy(c + (size_t)r * ldc + (size_t)v * MMT_W, &out, sizeof out);
		}
	}
}

/* Row tiles [tb, te): full tiles, then single-vector tiles, then mm_edge for the rest. */
MMT_ATTR static void MMT_CAT(mm_rows_, MMT_SUFFIX)(void *arg, size_t tb, size_t te)
{
	const struct mm_job *j = arg;
	for (size_t t = tb; t < te; t++) {
		int r0 = (int)t * MMT_RT;
		int nr = j->rows - r0 < MMT_RT ? j->rows - r0 : MMT_RT;
		int m0 = 0;
		if (nr == MMT_RT) {
			for (; m0 + MMT_NV * MMT_W <= j->m; m0 += MMT_NV * MMT_W)
				MMT_BLOCK(j, r0, m0, MMT_NV);
			for (; m0 + MMT_W <= j->m; m0 += MMT_W)
				MMT_BLOCK(j, r0, m0, 1);
		}
		mm_edge(j, r0, nr, m0, j->m - m0);
	}
}

#undef MMT_BLOCK
#undef MMT_VEC
#undef MMT_CAT
#undef MMT_CAT2
#undef MMT_SUFFIX
#undef MMT_ATTR
#undef MMT_W
#undef MMT_NV
#undef MMT_RT
