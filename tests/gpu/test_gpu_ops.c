/* Every operation of the CUDA backend against the CPU reference backend, bit for bit,
 * forward and backward, on random inputs of awkward shapes: sizes that leave partial
 * tiles, rows longer than a warp, more tokens than one shared-memory chunk, matmuls
 * large enough for the big-tile path, more than one sumsq block. (The CPU backend
 * itself is checked against plain sequential loops by tests/unit/compute/
 * test_compute_ops.c, so equality here means equality with the specification.)
 *
 * Each case uploads the same host inputs to both backends, runs the operation on
 * each, downloads every output and compares the bits. A mismatch prints the first
 * differing elements with both values in hex-float. NaN results compare equal to
 * any NaN: x86 and CUDA produce different NaN payloads, and the step refuses
 * non-finite losses anyway (docs/compute.md "CUDA backend").
 *
 * Exits 77 (skipped) when no CUDA device is present. */
#include "../unit/test_util.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "compute/backend.h"
#include "compute/compute.h"

/* ---------------------------------------------------------------- harness */

#define MAXBUF 32

/* A buffer present on both backends: p[0] on the CPU, p[1] on the GPU. */
struct buf {
	void *p[2];
	size_t bytes;
};

struct h {
	compute_backend *be[2]; /* 0: cpu, 1: cuda */
	struct buf bufs[MAXBUF];
	int nbuf;
};

static uint64_t rng_state;

static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)(int32_t)(rng_state >> 40 & 0xffffff) / (float)(1 << 23) - 1.0f;
}

/* n random floats in (-scale, scale); one in 97 replaced by a special value (+-0,
 * a denormal, a tiny or a large number) when specials is set. */
static float *host_rand(size_t n, float scale, int specials)
{
	static const float sp[] = { 0.0f, -0.0f, 1e-40f, -3e-39f, 1e-30f, -50.0f, 30.0f };
	float *p = malloc((n ? n : 1) * sizeof *p);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = frand() * scale;
		if (specials && i % 97 == 13)
			p[i] = sp[(i / 97) % (sizeof sp / sizeof sp[0])];
	}
	return p;
}

static uint8_t *host_tok(size_t n, unsigned mod)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)((rng_state >> 33) % mod);
	}
	return p;
}

static void h_init(struct h *h)
{
	memset(h, 0, sizeof *h);
	rng_state = 12345;
	assert_int_equal(compute_backend_cpu_create(&h->be[0], 3), IOLM_OK);
	assert_int_equal(compute_backend_cuda_create(&h->be[1], 0), IOLM_OK);
	for (int s = 0; s < 2; s++)
		assert_int_equal(h->be[s]->ops->reserve(h->be[s]->ctx, 2048, 1024, 256, 0), IOLM_OK);
}

static void h_release(struct h *h)
{
	for (int i = 0; i < h->nbuf; i++)
		for (int s = 0; s < 2; s++)
			h->be[s]->ops->free(h->be[s]->ctx, h->bufs[i].p[s]);
	for (int s = 0; s < 2; s++)
		compute_backend_destroy(h->be[s]);
}

/* The same bytes of host on both backends (host NULL: zeroed). */
static struct buf up(struct h *h, const void *host, size_t bytes)
{
	assert_true(h->nbuf < MAXBUF);
	struct buf b = { { NULL, NULL }, bytes };
	for (int s = 0; s < 2; s++) {
		const struct compute_backend_ops *o = h->be[s]->ops;
		b.p[s] = o->alloc(h->be[s]->ctx, bytes);
		assert_non_null(b.p[s]);
		if (host)
			o->upload(h->be[s]->ctx, b.p[s], host, bytes);
	}
	h->bufs[h->nbuf++] = b;
	return b;
}

static int same_float(float a, float b)
{
	if (a != a && b != b)
		return 1; /* NaN payloads differ between x86 and CUDA */
	return memcmp(&a, &b, sizeof a) == 0;
}

/* The n floats of b are the same bits on both backends. */
static void same_bits(struct h *h, const char *what, struct buf b, size_t n)
{
	float *got[2];
	size_t bad = 0;
	for (int s = 0; s < 2; s++) {
		got[s] = malloc((n ? n : 1) * sizeof(float));
		assert_non_null(got[s]);
		h->be[s]->ops->download(h->be[s]->ctx, got[s], b.p[s], n * sizeof(float));
	}
	for (size_t i = 0; i < n; i++)
		if (!same_float(got[0][i], got[1][i]) && bad++ < 5)
			printf("# %s: element %zu: cpu %a, cuda %a\n", what, i, (double)got[0][i],
			       (double)got[1][i]);
	if (bad)
		printf("# %s: %zu of %zu elements differ\n", what, bad, n);
	free(got[0]);
	free(got[1]);
	assert_true(bad == 0);
}

/* Run one backend operation on both sides: inside, P(b) is side s's pointer. */
#define BOTH(h, op, ...)                                                               \
	for (int s = 0; s < 2; s++)                                                    \
		(h)->be[s]->ops->op((h)->be[s]->ctx, __VA_ARGS__)
#define P(b) ((b).p[s])
#define PF(b) ((float *)(b).p[s])

/* ---------------------------------------------------------------- encoder */

static void encoder_case(int B, int T, int C, unsigned vocab_used)
{
	struct h h;
	int N = B * T;
	h_init(&h);
	uint8_t *tok = host_tok((size_t)N, vocab_used);
	float *wte = host_rand((size_t)256 * C, 1, 1), *wpe = host_rand((size_t)T * C, 1, 1);
	float *dout = host_rand((size_t)N * C, 1, 1);
	struct buf dtok = up(&h, tok, (size_t)N), bwte = up(&h, wte, sizeof(float) * 256 * C);
	struct buf bwpe = up(&h, wpe, sizeof(float) * T * C);
	struct buf out = up(&h, NULL, sizeof(float) * N * C);
	BOTH(&h, encoder_fwd, PF(out), P(dtok), PF(bwte), PF(bwpe), N, T, C);
	same_bits(&h, "encoder_fwd", out, (size_t)N * C);
	struct buf g = up(&h, dout, sizeof(float) * N * C);
	struct buf gwte = up(&h, wte, sizeof(float) * 256 * C); /* adds into */
	struct buf gwpe = up(&h, dout, sizeof(float) * T * C);  /* garbage: overwritten */
	BOTH(&h, encoder_bwd, PF(gwte), PF(gwpe), NULL, NULL, PF(g), P(dtok), N, T, C, 0);
	same_bits(&h, "encoder_bwd dwte", gwte, (size_t)256 * C);
	/* dwpe continued (cont); a two-link chain through vacc and vseen ending in dwte */
	BOTH(&h, encoder_bwd, PF(gwte), PF(gwpe), NULL, NULL, PF(g), P(dtok), N, T, C, 1);
	same_bits(&h, "encoder_bwd dwpe", gwpe, (size_t)T * C);
	/* Garbage the op must reset, of the vocabulary's size (more than N tokens). */
	float *junk = host_rand((size_t)256 * C, 1, 1);
	uint8_t *junk_seen = host_tok(256, 256);
	struct buf vacc = up(&h, junk, sizeof(float) * 256 * C);
	struct buf vseen = up(&h, junk_seen, 256);
	BOTH(&h, encoder_bwd, NULL, PF(gwpe), PF(vacc), P(vseen), PF(g), P(dtok), N, T, C, 0);
	BOTH(&h, encoder_bwd, PF(gwte), PF(gwpe), PF(vacc), P(vseen), PF(g), P(dtok), N, T, C,
	     1);
	same_bits(&h, "encoder_bwd chain vacc", vacc, (size_t)256 * C);
	same_bits(&h, "encoder_bwd chain vseen", vseen, 256 / sizeof(float));
	same_bits(&h, "encoder_bwd chain dwte", gwte, (size_t)256 * C);
	free(tok); free(wte); free(wpe); free(dout); free(junk); free(junk_seen);
	h_release(&h);
}

static void encoder_matches_cpu(void **state)
{
	(void)state;
	encoder_case(3, 5, 13, 9);      /* rows 9..255 unused: must stay untouched */
	encoder_case(12, 125, 130, 256); /* 1500 tokens > one chunk, two channel blocks */
}

/* ---------------------------------------------------------------- layernorm */

static void layernorm_case(int N, int C)
{
	struct h h;
	h_init(&h);
	float *x = host_rand((size_t)N * C, 3, 1), *w = host_rand((size_t)C, 1, 0);
	float *b = host_rand((size_t)C, 1, 0), *dout = host_rand((size_t)N * C, 1, 1);
	float *dinp = host_rand((size_t)N * C, 1, 0);
	size_t nc = sizeof(float) * (size_t)N * C;
	struct buf bx = up(&h, x, nc), bw = up(&h, w, sizeof(float) * C);
	struct buf bb = up(&h, b, sizeof(float) * C), out = up(&h, NULL, nc);
	struct buf mean = up(&h, NULL, sizeof(float) * N), rstd = up(&h, NULL, sizeof(float) * N);
	BOTH(&h, layernorm_fwd, PF(out), PF(mean), PF(rstd), PF(bx), PF(bw), PF(bb), N, C);
	same_bits(&h, "layernorm_fwd out", out, (size_t)N * C);
	same_bits(&h, "layernorm_fwd mean", mean, (size_t)N);
	same_bits(&h, "layernorm_fwd rstd", rstd, (size_t)N);
	struct buf g = up(&h, dout, nc), di = up(&h, dinp, nc); /* dinp: adds into */
	struct buf dw = up(&h, dout, sizeof(float) * C), db = up(&h, dout, sizeof(float) * C);
	BOTH(&h, layernorm_bwd, PF(di), PF(dw), PF(db), PF(g), PF(bx), PF(bw), PF(mean),
	     PF(rstd), N, C, 0);
	same_bits(&h, "layernorm_bwd dinp", di, (size_t)N * C);
	same_bits(&h, "layernorm_bwd dw", dw, (size_t)C);
	same_bits(&h, "layernorm_bwd db", db, (size_t)C);
	BOTH(&h, layernorm_bwd, PF(di), PF(dw), PF(db), PF(g), PF(bx), PF(bw), PF(mean),
	     PF(rstd), N, C, 1); /* the chain: continue from dw, db */
	same_bits(&h, "layernorm_bwd cont dw", dw, (size_t)C);
	same_bits(&h, "layernorm_bwd cont db", db, (size_t)C);
	free(x); free(w); free(b); free(dout); free(dinp);
	h_release(&h);
}

static void layernorm_matches_cpu(void **state)
{
	(void)state;
	layernorm_case(7, 29);
	layernorm_case(300, 257);
	layernorm_case(1, 1);
}

/* ---------------------------------------------------------------- matmul */

static void matmul_case(int N, int I, int O, int with_bias)
{
	struct h h;
	h_init(&h);
	float *inp = host_rand((size_t)N * I, 1, 1), *w = host_rand((size_t)O * I, 1, 1);
	float *bias = host_rand((size_t)O, 1, 0), *dout = host_rand((size_t)N * O, 1, 1);
	struct buf bi = up(&h, inp, sizeof(float) * N * I), bw = up(&h, w, sizeof(float) * O * I);
	struct buf bb = up(&h, bias, sizeof(float) * O);
	struct buf out = up(&h, dout, sizeof(float) * N * O); /* garbage: overwritten */
	BOTH(&h, matmul_fwd, PF(out), PF(bi), PF(bw), with_bias ? PF(bb) : NULL, N, I, O);
	same_bits(&h, "matmul_fwd", out, (size_t)N * O);
	struct buf g = up(&h, dout, sizeof(float) * N * O);
	struct buf di = up(&h, inp, sizeof(float) * N * I), dw = up(&h, w, sizeof(float) * O * I);
	struct buf db = up(&h, bias, sizeof(float) * O);
	BOTH(&h, matmul_bwd, PF(di), PF(dw), with_bias ? PF(db) : NULL, PF(g), PF(bi), PF(bw),
	     N, I, O, 0);
	same_bits(&h, "matmul_bwd dinp", di, (size_t)N * I);
	same_bits(&h, "matmul_bwd dw", dw, (size_t)O * I);
	same_bits(&h, "matmul_bwd dbias", db, (size_t)O);
	BOTH(&h, matmul_bwd, PF(di), PF(dw), with_bias ? PF(db) : NULL, PF(g), PF(bi), PF(bw),
	     N, I, O, 1); /* the chain: continue from dw, dbias */
	same_bits(&h, "matmul_bwd cont dw", dw, (size_t)O * I);
	same_bits(&h, "matmul_bwd cont dbias", db, (size_t)O);
	free(inp); free(w); free(bias); free(dout);
	h_release(&h);
}

static void matmul_matches_cpu(void **state)
{
	(void)state;
	matmul_case(7, 13, 37, 1);     /* partial tiles everywhere, K < one slice */
	matmul_case(9, 70, 67, 0);     /* no bias: dbias untouched */
	matmul_case(1, 1, 1, 1);
	matmul_case(33, 5, 96, 1);
	matmul_case(130, 300, 65, 1);  /* many K slices, K % 16 != 0 */
	matmul_case(1100, 77, 1000, 1); /* enough 64 x 64 tiles for the big-tile path */
	matmul_case(77, 1000, 1100, 0); /* ... and for dw */
	matmul_case(1024, 256, 768, 1); /* the reference config's qkv product */
}

/* ---------------------------------------------------------------- attention */

static void attention_case(int B, int T, int C, int NH)
{
	struct h h;
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
	h_init(&h);
	float *qkv = host_rand(nq, 2, 1), *dout = host_rand(no, 1, 1);
	struct buf bq = up(&h, qkv, nq * 4), out = up(&h, dout, no * 4);
	struct buf att = up(&h, NULL, na * 4);
	BOTH(&h, attention_fwd, PF(out), PF(att), PF(bq), B, T, C, NH);
	same_bits(&h, "attention_fwd out", out, no);
	same_bits(&h, "attention_fwd att", att, na);
	/* the last position alone, over a window of each length (generating) */
	for (int w = 1; B == 1 && w <= T; w += (T + 2) / 3) {
		struct buf o1 = up(&h, dout, (size_t)w * C * 4);
		struct buf a1 = up(&h, NULL, (size_t)NH * w * w * 4);
		BOTH(&h, attention_last_fwd, PF(o1), PF(a1), PF(bq), w, C, NH);
		same_bits(&h, "attention_last_fwd out", o1, (size_t)w * C);
		same_bits(&h, "attention_last_fwd att", a1, (size_t)NH * w * w);
	}
	struct buf g = up(&h, dout, no * 4), dq = up(&h, qkv, nq * 4); /* overwritten */
	BOTH(&h, attention_bwd, PF(dq), PF(g), PF(bq), PF(att), B, T, C, NH);
	same_bits(&h, "attention_bwd dqkv", dq, nq);
	free(qkv); free(dout);
	h_release(&h);
}

static void attention_matches_cpu(void **state)
{
	(void)state;
	attention_case(2, 7, 15, 3);   /* hs = 5 */
	attention_case(2, 70, 10, 2);  /* t2 beyond one warp's lanes */
	attention_case(1, 33, 96, 2);  /* hs = 48: channels beyond one warp */
	attention_case(3, 1, 4, 4);    /* T = 1, hs = 1 */
}

/* ---------------------------------------------------------------- elementwise */

static void elementwise_ops_match_cpu(void **state)
{
	(void)state;
	struct h h;
	size_t n = 100003;
	h_init(&h);
	float *x = host_rand(n, 6, 1), *y = host_rand(n, 1, 1);
	struct buf bx = up(&h, x, n * 4), by = up(&h, y, n * 4), o = up(&h, NULL, n * 4);
	BOTH(&h, gelu_fwd, PF(o), PF(bx), n);
	same_bits(&h, "gelu_fwd", o, n);
	BOTH(&h, gelu_bwd, PF(o), PF(bx), PF(by), n);
	same_bits(&h, "gelu_bwd", o, n);
	BOTH(&h, residual_fwd, PF(o), PF(bx), PF(by), n);
	same_bits(&h, "residual_fwd", o, n);
	free(x); free(y);
	h_release(&h);
}

static void crossentropy_case(int N, int V)
{
	struct h h;
	h_init(&h);
	float *x = host_rand((size_t)N * V, 8, 1);
	uint8_t *tgt = host_tok((size_t)N, (unsigned)V);
	size_t nv = sizeof(float) * (size_t)N * V;
	struct buf bx = up(&h, x, nv), probs = up(&h, x, nv), losses = up(&h, NULL, 4 * (size_t)N);
	struct buf bt = up(&h, tgt, (size_t)N);
	BOTH(&h, crossentropy_fwd, PF(losses), PF(probs), PF(bx), P(bt), N, V);
	same_bits(&h, "crossentropy_fwd probs", probs, (size_t)N * V);
	same_bits(&h, "crossentropy_fwd losses", losses, (size_t)N);
	struct buf d = up(&h, x, nv);
	BOTH(&h, crossentropy_bwd, PF(d), PF(probs), P(bt), 1.0f / (float)N, N, V);
	same_bits(&h, "crossentropy_bwd", d, (size_t)N * V);
	free(x); free(tgt);
	h_release(&h);
}

static void crossentropy_matches_cpu(void **state)
{
	(void)state;
	crossentropy_case(9, 37);
	crossentropy_case(70, 256);
}

static void sumsq_and_adamw_match_cpu(void **state)
{
	(void)state;
	struct h h;
	size_t n = 5 * COMPUTE_SUMSQ_BLOCK + 77, nb = 6, na = 10007;
	h_init(&h);
	float *x = host_rand(n, 1, 1);
	struct buf bx = up(&h, x, n * 4), part = up(&h, NULL, nb * 4);
	BOTH(&h, sumsq, PF(part), PF(bx), n);
	same_bits(&h, "sumsq", part, nb);
	float *p = host_rand(na, 1, 1), *m = host_rand(na, 0.1f, 1), *v = host_rand(na, 0.01f, 0);
	float *g = host_rand(na, 1, 1);
	for (size_t i = 0; i < na; i++)
		v[i] = v[i] * v[i];
	struct buf bp = up(&h, p, na * 4), bm = up(&h, m, na * 4), bv = up(&h, v, na * 4);
	struct buf bg = up(&h, g, na * 4);
	struct iolm_adamw a = { .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
				.bc1 = 0.271f, .bc2 = 0.142625f, .gscale = 0.75f };
	BOTH(&h, adamw, PF(bp), PF(bm), PF(bv), PF(bg), na, 0.1f, &a);
	same_bits(&h, "adamw p", bp, na);
	same_bits(&h, "adamw m", bm, na);
	same_bits(&h, "adamw v", bv, na);
	free(x); free(p); free(m); free(v); free(g);
	h_release(&h);
}

int main(void)
{
	int skip_or_fail = gpu_test_probe();
	if (skip_or_fail)
		return skip_or_fail;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoder_matches_cpu),
		cmocka_unit_test(layernorm_matches_cpu),
		cmocka_unit_test(matmul_matches_cpu),
		cmocka_unit_test(attention_matches_cpu),
		cmocka_unit_test(elementwise_ops_match_cpu),
		cmocka_unit_test(crossentropy_matches_cpu),
		cmocka_unit_test(sumsq_and_adamw_match_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
