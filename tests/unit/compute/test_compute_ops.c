/* Per-operation backend tests, as ggml's test-backend-ops: every entry of the backend
 * table (forward and backward) against a plain sequential C reference written here from
 * the definitions in compute/backend.h and docs/compute.md, compared bit for bit, on
 * awkward shapes (odd sizes, partial tiles, more than one sumsq block).
 *
 * The harness touches backend memory only through alloc / upload / download, so a
 * second backend (CUDA) runs the same cases by adding itself to backends(). The
 * per-element functions (iolm_expf, iolm_gelu, iolm_adamw_elem, ...) are shared with
 * the backends by design; test_compute_math checks them on their own. */
#include "../test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "compute/backend.h"
#include "compute/compute.h"

/* ---------------------------------------------------------------- harness */

struct h {
	compute_backend *be;
	const struct compute_backend_ops *o;
	void *ctx;
	void *dev[24];
	int ndev;
};

static uint64_t rng_state;

static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)(int32_t)(rng_state >> 40 & 0xffffff) / (float)(1 << 23) - 1.0f;
}

static float *host_rand(size_t n, float scale)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}

static uint8_t *host_tok(size_t n, unsigned mod)
{
	uint8_t *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)((rng_state >> 33) % mod);
	}
	return p;
}

static void h_init(struct h *h, unsigned threads)
{
	memset(h, 0, sizeof *h);
	rng_state = 12345;
	assert_int_equal(compute_backend_cpu_create(&h->be, threads), IOLM_OK);
	h->o = h->be->ops;
	h->ctx = h->be->ctx;
	assert_int_equal(h->o->reserve(h->ctx, 64, 96, 256, 0), IOLM_OK);
}

static void h_release(struct h *h)
{
	for (int i = 0; i < h->ndev; i++)
		h->o->free(h->ctx, h->dev[i]);
	compute_backend_destroy(h->be);
}

/* A device copy of bytes of host (freed by h_release). */
static void *up(struct h *h, const void *host, size_t bytes)
{
	assert_true(h->ndev < 24);
	void *d = h->o->alloc(h->ctx, bytes);
	assert_non_null(d);
	h->o->upload(h->ctx, d, host, bytes);
	h->dev[h->ndev++] = d;
	return d;
}

/* A zeroed device buffer (freed by h_release). */
static void *dz(struct h *h, size_t bytes)
{
	assert_true(h->ndev < 24);
	void *d = h->o->alloc(h->ctx, bytes);
	assert_non_null(d);
	h->dev[h->ndev++] = d;
	return d;
}

/* The device buffer d (n floats) equals ref bit for bit. */
static void same_bits(struct h *h, const char *what, const void *d, const float *ref,
		      size_t n)
{
	float *got = malloc((n ? n : 1) * sizeof *got);
	h->o->download(h->ctx, got, d, n * sizeof *got);
	for (size_t i = 0; i < n; i++) {
		if (memcmp(&got[i], &ref[i], sizeof *got) != 0) {
			printf("# %s: element %zu: backend %a, reference %a\n", what, i,
			       (double)got[i], (double)ref[i]);
			fail();
		}
	}
	free(got);
}

/* ---------------------------------------------------------------- encoder */

static void encoder_matches_reference(void **state)
{
	struct h h;
	int B = 3, T = 5, C = 13, V = 11, N = B * T;
	h_init(&h, *(unsigned *)*state);
	uint8_t *tok = host_tok((size_t)N, (unsigned)V - 2); /* rows V-2, V-1 stay unused */
	float *wte = host_rand((size_t)V * C, 1), *wpe = host_rand((size_t)T * C, 1);
	float *dout = host_rand((size_t)N * C, 1), *dwte = host_rand((size_t)V * C, 1);
	float *out = malloc(sizeof(float) * N * C), *dwpe = malloc(sizeof(float) * T * C);
	uint8_t *dtok = up(&h, tok, (size_t)N);
	float *dwte_d = up(&h, wte, sizeof(float) * V * C);
	float *dwpe_d = up(&h, wpe, sizeof(float) * T * C);
	float *out_d = up(&h, out, sizeof(float) * N * C);
	h.o->encoder_fwd(h.ctx, out_d, dtok, dwte_d, dwpe_d, N, T, C);
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			out[n * C + c] = wte[tok[n] * C + c] + wpe[(n % T) * C + c];
	same_bits(&h, "encoder_fwd", out_d, out, (size_t)N * C);

	float *g_d = up(&h, dout, sizeof(float) * N * C);
	float *gwte_d = up(&h, dwte, sizeof(float) * V * C);
	float *gwpe_d = up(&h, out, sizeof(float) * T * C); /* garbage: overwritten */
	h.o->encoder_bwd(h.ctx, gwte_d, gwpe_d, NULL, NULL, g_d, dtok, N, T, C, 0);
	for (int t = 0; t < T; t++)
		for (int c = 0; c < C; c++) {
			float s = 0.0f;
			for (int b = 0; b < B; b++)
				s = s + dout[(b * T + t) * C + c];
			dwpe[t * C + c] = s;
		}
	for (int v = 0; v < V; v++)
		for (int c = 0; c < C; c++) {
			float s = 0.0f;
			int any = 0;
			for (int n = 0; n < N; n++)
				if (tok[n] == v) {
					s = s + dout[n * C + c];
					any = 1;
				}
			if (any)
				dwte[v * C + c] = dwte[v * C + c] + s;
		}
	same_bits(&h, "encoder_bwd dwpe", gwpe_d, dwpe, (size_t)T * C);
	same_bits(&h, "encoder_bwd dwte", gwte_d, dwte, (size_t)V * C);
	free(tok); free(wte); free(wpe); free(dout); free(dwte); free(out); free(dwpe);
	h_release(&h);
}

/* ---------------------------------------------------------------- layernorm */

static void layernorm_matches_reference(void **state)
{
	struct h h;
	int N = 7, C = 29;
	h_init(&h, *(unsigned *)*state);
	float *x = host_rand((size_t)N * C, 3), *w = host_rand((size_t)C, 1);
	float *b = host_rand((size_t)C, 1), *dout = host_rand((size_t)N * C, 1);
	float *dinp = host_rand((size_t)N * C, 1);
	float out[7 * 29], mean[7], rstd[7], dw[29], db[29];
	float *x_d = up(&h, x, sizeof out), *w_d = up(&h, w, sizeof dw), *b_d = up(&h, b, sizeof db);
	float *out_d = up(&h, out, sizeof out), *m_d = up(&h, mean, sizeof mean);
	float *r_d = up(&h, rstd, sizeof rstd);
	h.o->layernorm_fwd(h.ctx, out_d, m_d, r_d, x_d, w_d, b_d, N, C);
	for (int n = 0; n < N; n++) {
		const float *xr = x + n * C;
		float s = 0.0f, v = 0.0f;
		for (int c = 0; c < C; c++)
			s = s + xr[c];
		float m = s / (float)C;
		for (int c = 0; c < C; c++)
			v = v + (xr[c] - m) * (xr[c] - m);
		v = v / (float)C;
		float rs = 1.0f / iolm_sqrtf(v + 1e-5f);
		for (int c = 0; c < C; c++)
			out[n * C + c] = ((xr[c] - m) * rs) * w[c] + b[c];
		mean[n] = m;
		rstd[n] = rs;
	}
	same_bits(&h, "layernorm_fwd out", out_d, out, (size_t)N * C);
	same_bits(&h, "layernorm_fwd mean", m_d, mean, (size_t)N);
	same_bits(&h, "layernorm_fwd rstd", r_d, rstd, (size_t)N);

	float *g_d = up(&h, dout, sizeof out), *di_d = up(&h, dinp, sizeof out);
	float *dw_d = up(&h, dout, sizeof dw), *db_d = up(&h, dout, sizeof db);
	h.o->layernorm_bwd(h.ctx, di_d, dw_d, db_d, g_d, x_d, w_d, m_d, r_d, N, C, 0);
	for (int c = 0; c < C; c++) {
		float sw = 0.0f, sb = 0.0f;
		for (int n = 0; n < N; n++) {
			float xh = (x[n * C + c] - mean[n]) * rstd[n];
			sw = sw + dout[n * C + c] * xh;
			sb = sb + dout[n * C + c];
		}
		dw[c] = sw;
		db[c] = sb;
	}
	for (int n = 0; n < N; n++) {
		float a = 0.0f, bb = 0.0f;
		for (int c = 0; c < C; c++) {
			float xh = (x[n * C + c] - mean[n]) * rstd[n], dxh = dout[n * C + c] * w[c];
			a = a + dxh;
			bb = bb + dxh * xh;
		}
		a = a / (float)C;
		bb = bb / (float)C;
		for (int c = 0; c < C; c++) {
			float xh = (x[n * C + c] - mean[n]) * rstd[n], dxh = dout[n * C + c] * w[c];
			dinp[n * C + c] = dinp[n * C + c] + ((dxh - a) - xh * bb) * rstd[n];
		}
	}
	same_bits(&h, "layernorm_bwd dw", dw_d, dw, (size_t)C);
	same_bits(&h, "layernorm_bwd db", db_d, db, (size_t)C);
	same_bits(&h, "layernorm_bwd dinp", di_d, dinp, (size_t)N * C);
	free(x); free(w); free(b); free(dout); free(dinp);
	h_release(&h);
}

/* ---------------------------------------------------------------- matmul */

static void matmul_case(unsigned threads, int N, int I, int O, int with_bias)
{
	struct h h;
	h_init(&h, threads);
	float *inp = host_rand((size_t)N * I, 1), *w = host_rand((size_t)O * I, 1);
	float *bias = host_rand((size_t)O, 1), *dout = host_rand((size_t)N * O, 1);
	float *out = malloc(sizeof(float) * N * O), *dinp = malloc(sizeof(float) * N * I);
	float *dw = malloc(sizeof(float) * O * I), *db = malloc(sizeof(float) * O);
	float *inp_d = up(&h, inp, sizeof(float) * N * I), *w_d = up(&h, w, sizeof(float) * O * I);
	float *b_d = with_bias ? up(&h, bias, sizeof(float) * O) : NULL;
	float *out_d = up(&h, dout, sizeof(float) * N * O); /* garbage: overwritten */
	h.o->matmul_fwd(h.ctx, out_d, inp_d, w_d, b_d, N, I, O);
	for (int n = 0; n < N; n++)
		for (int o = 0; o < O; o++) {
			float s = 0.0f;
			for (int i = 0; i < I; i++)
				s = s + inp[n * I + i] * w[o * I + i];
			out[n * O + o] = with_bias ? s + bias[o] : s;
		}
	same_bits(&h, "matmul_fwd", out_d, out, (size_t)N * O);

	float *g_d = up(&h, dout, sizeof(float) * N * O);
	float *di_d = up(&h, inp, sizeof(float) * N * I), *dw_d = up(&h, w, sizeof(float) * O * I);
	float *db_d = with_bias ? up(&h, bias, sizeof(float) * O) : NULL;
	h.o->matmul_bwd(h.ctx, di_d, dw_d, db_d, g_d, inp_d, w_d, N, I, O, 0);
	for (int n = 0; n < N; n++)
		for (int i = 0; i < I; i++) {
			float s = 0.0f;
			for (int o = 0; o < O; o++)
				s = s + dout[n * O + o] * w[o * I + i];
			dinp[n * I + i] = s;
		}
	for (int o = 0; o < O; o++) {
		for (int i = 0; i < I; i++) {
			float s = 0.0f;
			for (int n = 0; n < N; n++)
				s = s + dout[n * O + o] * inp[n * I + i];
			dw[o * I + i] = s;
		}
		float s = 0.0f;
		for (int n = 0; n < N; n++)
			s = s + dout[n * O + o];
		db[o] = s;
	}
	same_bits(&h, "matmul_bwd dinp", di_d, dinp, (size_t)N * I);
	same_bits(&h, "matmul_bwd dw", dw_d, dw, (size_t)O * I);
	if (with_bias)
		same_bits(&h, "matmul_bwd dbias", db_d, db, (size_t)O);
	free(inp); free(w); free(bias); free(dout); free(out); free(dinp); free(dw); free(db);
	h_release(&h);
}

static void matmul_matches_reference(void **state)
{
	unsigned th = *(unsigned *)*state;
	matmul_case(th, 7, 13, 37, 1);  /* partial tiles in every direction */
	matmul_case(th, 9, 70, 67, 0);  /* more than two 32-lane tiles, no bias */
	matmul_case(th, 1, 1, 1, 1);
	matmul_case(th, 1, 130, 389, 1); /* one row or two: the path without a transpose */
	matmul_case(th, 2, 64, 77, 0);
	matmul_case(th, 33, 5, 96, 1);
}

/* ---------------------------------------------------------------- the chain */

/* A copy on the host of n floats of backend memory (caller frees). */
static float *down(struct h *h, const void *d, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	assert_non_null(p);
	h->o->download(h->ctx, p, d, n * sizeof *p);
	return p;
}

/* Rows [0, N) in three links [0, a), [a, b), [b, N) run with cont = 0, 1, 1 give the
 * bits of one call over all rows (backend.h, the data-parallel chain), for every
 * batch reduction: matmul dw and dbias, layernorm dw and db, encoder dwpe and the
 * vocabulary sums (a link in which some rows do not occur, the flags, the final add
 * into dwte). The one-call results are checked against the reference above. */
static void reductions_continue_across_row_splits(void **state)
{
	struct h h;
	h_init(&h, *(unsigned *)*state);
	int N = 37, I = 130, O = 67, cut[4] = { 0, 10, 11, 37 };
	float *inp = host_rand((size_t)N * I, 1), *w = host_rand((size_t)O * I, 1);
	float *dout = host_rand((size_t)N * O, 1);
	float *inp_d = up(&h, inp, sizeof(float) * N * I), *w_d = up(&h, w, sizeof(float) * O * I);
	float *g_d = up(&h, dout, sizeof(float) * N * O);
	float *di_d = dz(&h, sizeof(float) * N * I);
	/* db1, db3: O for the matmul, then C = I > O for the layernorm */
	float *dw1 = dz(&h, sizeof(float) * O * I), *db1 = dz(&h, sizeof(float) * I);
	float *dw3 = dz(&h, sizeof(float) * O * I), *db3 = dz(&h, sizeof(float) * I);
	h.o->matmul_bwd(h.ctx, di_d, dw1, db1, g_d, inp_d, w_d, N, I, O, 0);
	for (int k = 0; k < 3; k++)
		h.o->matmul_bwd(h.ctx, di_d + (size_t)cut[k] * I, dw3, db3,
				g_d + (size_t)cut[k] * O, inp_d + (size_t)cut[k] * I, w_d,
				cut[k + 1] - cut[k], I, O, k > 0);
	float *ref = down(&h, dw1, (size_t)O * I);
	same_bits(&h, "chained matmul dw", dw3, ref, (size_t)O * I);
	free(ref);
	ref = down(&h, db1, (size_t)O);
	same_bits(&h, "chained matmul dbias", db3, ref, (size_t)O);
	free(ref);

	/* layernorm over C = I channels: statistics from a forward first */
	int C = I;
	float *lw = host_rand((size_t)C, 1), *lb = host_rand((size_t)C, 1);
	float *lw_d = up(&h, lw, sizeof(float) * C), *lb_d = up(&h, lb, sizeof(float) * C);
	float *mean_d = dz(&h, sizeof(float) * N), *rstd_d = dz(&h, sizeof(float) * N);
	h.o->layernorm_fwd(h.ctx, di_d, mean_d, rstd_d, inp_d, lw_d, lb_d, N, C);
	h.o->layernorm_bwd(h.ctx, di_d, dw1, db1, inp_d, inp_d, lw_d, mean_d, rstd_d, N, C, 0);
	for (int k = 0; k < 3; k++)
		h.o->layernorm_bwd(h.ctx, di_d + (size_t)cut[k] * C, dw3, db3,
				   inp_d + (size_t)cut[k] * C, inp_d + (size_t)cut[k] * C, lw_d,
				   mean_d + cut[k], rstd_d + cut[k], cut[k + 1] - cut[k], C, k > 0);
	ref = down(&h, dw1, (size_t)C);
	same_bits(&h, "chained layernorm dw", dw3, ref, (size_t)C);
	free(ref);
	ref = down(&h, db1, (size_t)C);
	same_bits(&h, "chained layernorm db", db3, ref, (size_t)C);
	free(ref);

	/* encoder: T = 1 so that every row is a sequence and the links split anywhere;
	 * tokens 0..4 in the middle link only, 5..8 everywhere, the rest nowhere */
	int V = 256, T = 1;
	uint8_t tok[37];
	for (int n = 0; n < N; n++)
		tok[n] = (uint8_t)(n == 10 ? n % 5 : 5 + n % 4);
	uint8_t *tok_d = up(&h, tok, (size_t)N);
	float *wte = host_rand((size_t)V * C, 1);
	float *wte1 = up(&h, wte, sizeof(float) * V * C), *wte3 = up(&h, wte, sizeof(float) * V * C);
	float *pe1 = dz(&h, sizeof(float) * T * C), *pe3 = dz(&h, sizeof(float) * T * C);
	float *vacc = up(&h, wte, sizeof(float) * V * C); /* garbage: reset by link 0 */
	uint8_t *vseen = up(&h, wte, (size_t)V); /* garbage too */
	h.o->encoder_bwd(h.ctx, wte1, pe1, NULL, NULL, inp_d, tok_d, N, T, C, 0);
	for (int k = 0; k < 3; k++)
		h.o->encoder_bwd(h.ctx, k == 2 ? wte3 : NULL, pe3, vacc, vseen,
				 inp_d + (size_t)cut[k] * C, tok_d + cut[k], cut[k + 1] - cut[k],
				 T, C, k > 0);
	ref = down(&h, pe1, (size_t)T * C);
	same_bits(&h, "chained encoder dwpe", pe3, ref, (size_t)T * C);
	free(ref);
	ref = down(&h, wte1, (size_t)V * C);
	same_bits(&h, "chained encoder dwte", wte3, ref, (size_t)V * C);
	free(ref);
	free(inp); free(w); free(dout); free(lw); free(lb); free(wte);
	h_release(&h);
}

/* ---------------------------------------------------------------- attention */

static void attention_matches_reference(void **state)
{
	struct h h;
	int B = 2, T = 7, NH = 3, C = 15, hs = C / NH, C3 = 3 * C;
	size_t nq = (size_t)B * T * C3, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
	h_init(&h, *(unsigned *)*state);
	float *qkv = host_rand(nq, 2), *dout = host_rand(no, 1);
	float *out = calloc(no, sizeof(float)), *att = calloc(na, sizeof(float));
	float *dqkv = calloc(nq, sizeof(float)), pre[7], datt[7];
	float *qkv_d = up(&h, qkv, nq * 4), *out_d = up(&h, dout, no * 4);
	float *att_d = dz(&h, na * 4);
	h.o->attention_fwd(h.ctx, out_d, att_d, qkv_d, B, T, C, NH);
	float scale = 1.0f / iolm_sqrtf((float)hs);
	for (int b = 0; b < B; b++)
		for (int hh = 0; hh < NH; hh++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + (b * T + t) * C3 + hh * hs;
				float mx = 0.0f, z = 0.0f;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *k = qkv + (b * T + t2) * C3 + C + hh * hs;
					float s = 0.0f;
					for (int i = 0; i < hs; i++)
						s = s + q[i] * k[i];
					pre[t2] = s * scale;
					if (t2 == 0 || pre[t2] > mx)
						mx = pre[t2];
				}
				for (int t2 = 0; t2 <= t; t2++) {
					pre[t2] = iolm_expf(pre[t2] - mx);
					z = z + pre[t2];
				}
				float *a = att + ((b * NH + hh) * T + t) * T;
				for (int t2 = 0; t2 < T; t2++)
					a[t2] = t2 <= t ? pre[t2] / z : 0.0f;
				for (int i = 0; i < hs; i++) {
					float s = 0.0f;
					for (int t2 = 0; t2 <= t; t2++)
						s = s + a[t2] * qkv[(b * T + t2) * C3 + 2 * C + hh * hs + i];
					out[(b * T + t) * C + hh * hs + i] = s;
				}
			}
	same_bits(&h, "attention_fwd out", out_d, out, no);
	same_bits(&h, "attention_fwd att", att_d, att, na);

	/* attention_last_fwd over sequence 0's first W rows: row W - 1 of out and of each
	 * head's att, as above (causal: the rest of the sequence never counts); nothing
	 * else written */
	{
		enum { W = 5 };
		float sent[W * 15], asent[3 * W * W], *eo = malloc(sizeof sent),
		      *ea = malloc(sizeof asent);
		for (size_t i = 0; i < W * 15; i++)
			sent[i] = eo[i] = 7.5f;
		for (size_t i = 0; i < 3 * W * W; i++)
			asent[i] = ea[i] = -2.5f;
		float *o2 = up(&h, sent, sizeof sent), *a2 = up(&h, asent, sizeof asent);
		h.o->attention_last_fwd(h.ctx, o2, a2, qkv_d, W, C, NH);
		memcpy(eo + (W - 1) * C, out + (W - 1) * C, (size_t)C * sizeof(float));
		for (int hh = 0; hh < NH; hh++)
			memcpy(ea + (hh * W + W - 1) * W, att + (hh * T + W - 1) * T,
			       W * sizeof(float));
		same_bits(&h, "attention_last_fwd out", o2, eo, W * 15);
		same_bits(&h, "attention_last_fwd att", a2, ea, 3 * W * W);
		free(eo);
		free(ea);
	}

	float *g_d = up(&h, dout, no * 4), *dq_d = up(&h, qkv, nq * 4); /* overwritten */
	h.o->attention_bwd(h.ctx, dq_d, g_d, qkv_d, att_d, B, T, C, NH);
	for (int b = 0; b < B; b++)
		for (int hh = 0; hh < NH; hh++)
			for (int t = 0; t < T; t++) {
				const float *a = att + ((b * NH + hh) * T + t) * T;
				const float *g = dout + (b * T + t) * C + hh * hs;
				const float *q = qkv + (b * T + t) * C3 + hh * hs;
				float *dq = dqkv + (b * T + t) * C3 + hh * hs;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *v = qkv + (b * T + t2) * C3 + 2 * C + hh * hs;
					float *dv = dqkv + (b * T + t2) * C3 + 2 * C + hh * hs;
					float s = 0.0f;
					for (int i = 0; i < hs; i++)
						s = s + g[i] * v[i];
					datt[t2] = s;
					for (int i = 0; i < hs; i++)
						dv[i] = dv[i] + a[t2] * g[i];
				}
				float sp = 0.0f;
				for (int t2 = 0; t2 <= t; t2++)
					sp = sp + a[t2] * datt[t2];
				for (int t2 = 0; t2 <= t; t2++) {
					float d = (a[t2] * (datt[t2] - sp)) * scale;
					const float *k = qkv + (b * T + t2) * C3 + C + hh * hs;
					float *dk = dqkv + (b * T + t2) * C3 + C + hh * hs;
					for (int i = 0; i < hs; i++) {
						dq[i] = dq[i] + d * k[i];
						dk[i] = dk[i] + d * q[i];
					}
				}
			}
	same_bits(&h, "attention_bwd dqkv", dq_d, dqkv, nq);
	free(qkv); free(dout); free(out); free(att); free(dqkv);
	h_release(&h);
}

/* ---------------------------------------------------------------- elementwise */

static void elementwise_ops_match_reference(void **state)
{
	struct h h;
	size_t n = 1037;
	h_init(&h, *(unsigned *)*state);
	float *x = host_rand(n, 6), *y = host_rand(n, 1), *ref = malloc(n * sizeof(float));
	float *x_d = up(&h, x, n * 4), *y_d = up(&h, y, n * 4), *o_d = up(&h, y, n * 4);
	h.o->gelu_fwd(h.ctx, o_d, x_d, n);
	for (size_t i = 0; i < n; i++)
		ref[i] = iolm_gelu(x[i]);
	same_bits(&h, "gelu_fwd", o_d, ref, n);
	h.o->gelu_bwd(h.ctx, o_d, x_d, y_d, n);
	for (size_t i = 0; i < n; i++)
		ref[i] = iolm_gelu_grad(x[i]) * y[i];
	same_bits(&h, "gelu_bwd", o_d, ref, n);
	h.o->residual_fwd(h.ctx, o_d, x_d, y_d, n);
	for (size_t i = 0; i < n; i++)
		ref[i] = x[i] + y[i];
	same_bits(&h, "residual_fwd", o_d, ref, n);
	free(x); free(y); free(ref);
	h_release(&h);
}

static void crossentropy_matches_reference(void **state)
{
	struct h h;
	int N = 9, V = 37;
	h_init(&h, *(unsigned *)*state);
	float *x = host_rand((size_t)N * V, 8), *probs = malloc(sizeof(float) * N * V);
	float *dl = malloc(sizeof(float) * N * V), losses[9];
	uint8_t *tgt = host_tok((size_t)N, (unsigned)V);
	float *x_d = up(&h, x, sizeof(float) * N * V), *p_d = up(&h, x, sizeof(float) * N * V);
	float *l_d = up(&h, losses, sizeof losses);
	uint8_t *t_d = up(&h, tgt, (size_t)N);
	h.o->crossentropy_fwd(h.ctx, l_d, p_d, x_d, t_d, N, V);
	for (int n = 0; n < N; n++) {
		const float *r = x + n * V;
		float mx = r[0], z = 0.0f;
		for (int v = 1; v < V; v++)
			mx = r[v] > mx ? r[v] : mx;
		for (int v = 0; v < V; v++) {
			probs[n * V + v] = iolm_expf(r[v] - mx);
			z = z + probs[n * V + v];
		}
		for (int v = 0; v < V; v++)
			probs[n * V + v] = probs[n * V + v] / z;
		losses[n] = iolm_logf(z) - (r[tgt[n]] - mx);
	}
	same_bits(&h, "crossentropy_fwd probs", p_d, probs, (size_t)N * V);
	same_bits(&h, "crossentropy_fwd losses", l_d, losses, (size_t)N);
	float dloss = 1.0f / (float)N;
	float *d_d = up(&h, x, sizeof(float) * N * V);
	h.o->crossentropy_bwd(h.ctx, d_d, p_d, t_d, dloss, N, V);
	for (int n = 0; n < N; n++)
		for (int v = 0; v < V; v++)
			dl[n * V + v] = (probs[n * V + v] - (v == tgt[n] ? 1.0f : 0.0f)) * dloss;
	same_bits(&h, "crossentropy_bwd", d_d, dl, (size_t)N * V);
	free(x); free(probs); free(dl); free(tgt);
	h_release(&h);
}

static void sumsq_and_adamw_match_reference(void **state)
{
	struct h h;
	size_t n = 2 * COMPUTE_SUMSQ_BLOCK + 77, nb = 3;
	h_init(&h, *(unsigned *)*state);
	float *x = host_rand(n, 1), part[3];
	float *x_d = up(&h, x, n * 4), *part_d = up(&h, part, sizeof part);
	h.o->sumsq(h.ctx, part_d, x_d, n);
	for (size_t j = 0; j < nb; j++) {
		float s = 0.0f;
		for (size_t i = j * COMPUTE_SUMSQ_BLOCK; i < n && i < (j + 1) * COMPUTE_SUMSQ_BLOCK; i++)
			s = s + x[i] * x[i];
		part[j] = s;
	}
	same_bits(&h, "sumsq", part_d, part, nb);

	size_t na = 1001;
	float *p = host_rand(na, 1), *m = host_rand(na, 0.1f), *v = host_rand(na, 0.01f);
	float *g = host_rand(na, 1);
	for (size_t i = 0; i < na; i++)
		v[i] = v[i] * v[i]; /* second moments are >= 0 */
	float *p_d = up(&h, p, na * 4), *m_d = up(&h, m, na * 4), *v_d = up(&h, v, na * 4);
	float *g_d = up(&h, g, na * 4);
	struct iolm_adamw a = { .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
				.bc1 = 0.271f, .bc2 = 0.142625f, .gscale = 0.75f };
	h.o->adamw(h.ctx, p_d, m_d, v_d, g_d, na, 0.1f, &a);
	for (size_t i = 0; i < na; i++)
		iolm_adamw_elem(&p[i], &m[i], &v[i], g[i], 0.1f, &a);
	same_bits(&h, "adamw p", p_d, p, na);
	same_bits(&h, "adamw m", m_d, m, na);
	same_bits(&h, "adamw v", v_d, v, na);
	free(x); free(p); free(m); free(v); free(g);
	h_release(&h);
}

int main(void)
{
	static unsigned threads[] = { 1, 3 };
	int fails = 0;
	for (int i = 0; i < 2; i++) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test_prestate(encoder_matches_reference, &threads[i]),
			cmocka_unit_test_prestate(layernorm_matches_reference, &threads[i]),
			cmocka_unit_test_prestate(matmul_matches_reference, &threads[i]),
			cmocka_unit_test_prestate(reductions_continue_across_row_splits,
						  &threads[i]),
			cmocka_unit_test_prestate(attention_matches_reference, &threads[i]),
			cmocka_unit_test_prestate(elementwise_ops_match_reference, &threads[i]),
			cmocka_unit_test_prestate(crossentropy_matches_reference, &threads[i]),
			cmocka_unit_test_prestate(sumsq_and_adamw_match_reference, &threads[i]),
		};
		printf("# cpu backend, %u thread(s)\n", threads[i]);
		fails += cmocka_run_group_tests(tests, NULL, NULL);
	}
	return fails;
}
