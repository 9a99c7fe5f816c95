/* CPU reference backend: every operation but the matmuls (cpu_matmul.c), the
 * operation table and the backend object.
 *
 * Each operation is split into independent outputs (rows, channels, heads, elements)
 * that the pool runs in any order on any thread; each output is computed by the exact
 * sequence backend.h and docs/compute.md state. */
#include "compute/cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"

#define LN_EPS 1e-5f

/* ---------------------------------------------------------------- memory */

static void *cpu_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return calloc(1, bytes ? bytes : 1);
}

static void cpu_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void cpu_zero(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	memset(p, 0, bytes);
}

static void cpu_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
	(void)ctx;
	memcpy(dst, src, bytes);
}

static int cpu_reserve(void *ctx, int N, int C, int V, size_t att)
{
	struct cpu_ctx *cx = ctx;
	(void)att; /* the CPU's attention backward needs no scratch */
	size_t vc = (size_t)V * (size_t)C, cc = 4 * (size_t)C * (size_t)C;
	size_t wt = vc > cc ? vc : cc;
	size_t bytes = wt * sizeof(float) + ((size_t)N + (size_t)V + 1) * sizeof(int);
	if (bytes <= cx->scratch_bytes)
		return IOLM_OK;
	void *p = malloc(bytes);
	if (!p)
		return IOLM_ENOMEM;
	free(cx->scratch);
	cx->scratch = p;
	cx->scratch_bytes = bytes;
	cx->wt_floats = wt;
	return IOLM_OK;
}

/* ---------------------------------------------------------------- encoder */

struct enc_job {
	float *out, *dwte, *dwpe, *vacc;
	uint8_t *vseen;
	const float *dout, *wte, *wpe;
	const uint8_t *tok;
	const int *first, *list; /* tokens grouped by vocabulary row (encoder_bwd) */
	int N, T, C, cont;
};

static void enc_fwd_rows(void *arg, size_t b, size_t e)
{
	const struct enc_job *j = arg;
	for (size_t n = b; n < e; n++) {
		float *o = j->out + n * (size_t)j->C;
		const float *te = j->wte + (size_t)j->tok[n] * (size_t)j->C;
		const float *pe = j->wpe + (n % (size_t)j->T) * (size_t)j->C;
		for (int c = 0; c < j->C; c++)
			o[c] = te[c] + pe[c];
	}
}

static void cpu_encoder_fwd(void *ctx, float *out, const uint8_t *tok, const float *wte,
			    const float *wpe, int N, int T, int C)
{
	struct cpu_ctx *cx = ctx;
	struct enc_job j = { .out = out, .wte = wte, .wpe = wpe, .tok = tok, .N = N,
			     .T = T, .C = C };
	compute_pool_run(cx->pool, (size_t)N, 16, enc_fwd_rows, &j);
}

static void enc_bwd_pos(void *arg, size_t b, size_t e)
{
	const struct enc_job *j = arg;
	int B = j->N / j->T;
	for (size_t t = b; t < e; t++) {
		float *d = j->dwpe + t * (size_t)j->C;
		for (int c = 0; c < j->C && !j->cont; c++)
			d[c] = 0.0f;
		for (int bb = 0; bb < B; bb++) {
			const float *g = j->dout + ((size_t)bb * (size_t)j->T + t) * (size_t)j->C;
			for (int c = 0; c < j->C; c++)
				d[c] = d[c] + g[c];
		}
	}
}

/* Vocabulary rows [b, e): the positions of row v are list[first[v] .. first[v + 1]),
 * in increasing order. One device: the sum in acc, added into dwte. */
static void enc_bwd_vocab(void *arg, size_t b, size_t e)
{
	const struct enc_job *j = arg;
	float acc[COMPUTE_MAX_CHANNELS];
	for (size_t v = b; v < e; v++) {
		if (j->first[v] == j->first[v + 1])
			continue;
		for (int c = 0; c < j->C; c++)
			acc[c] = 0.0f;
		for (int p = j->first[v]; p < j->first[v + 1]; p++) {
			const float *g = j->dout + (size_t)j->list[p] * (size_t)j->C;
			for (int c = 0; c < j->C; c++)
				acc[c] = acc[c] + g[c];
		}
		float *d = j->dwte + v * (size_t)j->C;
		for (int c = 0; c < j->C; c++)
			d[c] = d[c] + acc[c];
	}
}

/* The same rows as a link of the data-parallel chain: the sums continue in vacc (reset
 * first when !cont), vseen records the rows met so far, the last link adds into dwte. */
static void enc_bwd_vocab_chain(void *arg, size_t b, size_t e)
{
	const struct enc_job *j = arg;
	for (size_t v = b; v < e; v++) {
		float *acc = j->vacc + v * (size_t)j->C;
		if (!j->cont) {
			for (int c = 0; c < j->C; c++)
				acc[c] = 0.0f;
			j->vseen[v] = 0;
		}
		for (int p = j->first[v]; p < j->first[v + 1]; p++) {
			const float *g = j->dout + (size_t)j->list[p] * (size_t)j->C;
			for (int c = 0; c < j->C; c++)
				acc[c] = acc[c] + g[c];
		}
		if (j->first[v] != j->first[v + 1])
			j->vseen[v] = 1;
		if (!j->dwte || !j->vseen[v])
			continue;
		float *d = j->dwte + v * (size_t)j->C;
		for (int c = 0; c < j->C; c++)
			d[c] = d[c] + acc[c];
	}
}

static void cpu_encoder_bwd(void *ctx, float *dwte, float *dwpe, float *vacc,
			    uint8_t *vseen, const float *dout, const uint8_t *tok, int N, int T,
			    int C, int cont)
{
	struct cpu_ctx *cx = ctx;
	int *first = (int *)(void *)((float *)cx->scratch + cx->wt_floats);
	int *list = first + COMPUTE_VOCAB + 1;
	/* counting sort of positions by token, stable */
	memset(first, 0, (COMPUTE_VOCAB + 1) * sizeof *first);
	for (int n = 0; n < N; n++)
		first[tok[n] + 1]++;
	for (int v = 0; v < COMPUTE_VOCAB; v++)
		first[v + 1] += first[v];
	int fill[COMPUTE_VOCAB];
	memcpy(fill, first, sizeof fill);
	for (int n = 0; n < N; n++)
		list[fill[tok[n]]++] = n;
	struct enc_job j = { .dwte = dwte, .dwpe = dwpe, .vacc = vacc, .vseen = vseen,
			     .dout = dout, .tok = tok, .first = first, .list = list, .N = N,
			     .T = T, .C = C, .cont = cont };
	compute_pool_run(cx->pool, (size_t)T, 4, enc_bwd_pos, &j);
	compute_pool_run(cx->pool, COMPUTE_VOCAB, 4, vacc ? enc_bwd_vocab_chain : enc_bwd_vocab,
			 &j);
}

/* ---------------------------------------------------------------- layernorm */

struct ln_job {
	float *out, *mean, *rstd, *dinp, *dw, *db;
	const float *inp, *w, *b, *dout, *cmean, *crstd;
	int N, C, cont;
};

static void ln_fwd_rows(void *arg, size_t b, size_t e)
{
	const struct ln_job *j = arg;
	size_t C = (size_t)j->C;
	for (size_t n = b; n < e; n++) {
		const float *x = j->inp + n * C;
		float s = 0.0f;
		for (size_t c = 0; c < C; c++)
			s = s + x[c];
		float m = s / (float)j->C;
		float v = 0.0f;
		for (size_t c = 0; c < C; c++) {
			float d = x[c] - m;
			v = v + d * d;
		}
		v = v / (float)j->C;
		float rs = 1.0f / iolm_sqrtf(v + LN_EPS);
		float *o = j->out + n * C;
		for (size_t c = 0; c < C; c++)
			o[c] = ((x[c] - m) * rs) * j->w[c] + j->b[c];
		j->mean[n] = m;
		j->rstd[n] = rs;
	}
}

static void cpu_layernorm_fwd(void *ctx, float *out, float *mean, float *rstd,
			      const float *inp, const float *w, const float *b, int N, int C)
{
	struct cpu_ctx *cx = ctx;
	struct ln_job j = { .out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w,
			    .b = b, .N = N, .C = C };
	compute_pool_run(cx->pool, (size_t)N, 8, ln_fwd_rows, &j);
}

static void ln_bwd_rows(void *arg, size_t b, size_t e)
{
	const struct ln_job *j = arg;
	size_t C = (size_t)j->C;
	for (size_t n = b; n < e; n++) {
		const float *x = j->inp + n * C, *g = j->dout + n * C;
		float m = j->cmean[n], rs = j->crstd[n];
		float sa = 0.0f, sb = 0.0f;
		for (size_t c = 0; c < C; c++) {
			float xh = (x[c] - m) * rs;
			float dxh = g[c] * j->w[c];
			sa = sa + dxh;
			sb = sb + dxh * xh;
		}
		sa = sa / (float)j->C;
		sb = sb / (float)j->C;
		float *d = j->dinp + n * C;
		for (size_t c = 0; c < C; c++) {
			float xh = (x[c] - m) * rs;
			float dxh = g[c] * j->w[c];
			d[c] = d[c] + ((dxh - sa) - xh * sb) * rs;
		}
	}
}

/* Channels [b, e): dw and db summed over rows in order (from 0.0f, or continued when
 * cont), vectorised across channels. */
static void ln_bwd_cols(void *arg, size_t b, size_t e)
{
	const struct ln_job *j = arg;
	size_t C = (size_t)j->C, w = e - b;
	float *dw = j->dw + b, *db = j->db + b;
	for (size_t x = 0; x < w && !j->cont; x++) {
		dw[x] = 0.0f;
		db[x] = 0.0f;
	}
	for (int n = 0; n < j->N; n++) {
		const float *xr = j->inp + (size_t)n * C + b, *g = j->dout + (size_t)n * C + b;
		float m = j->cmean[n], rs = j->crstd[n];
		for (size_t x = 0; x < w; x++) {
			float xh = (xr[x] - m) * rs;
			dw[x] = dw[x] + g[x] * xh;
			db[x] = db[x] + g[x];
		}
	}
}

static void cpu_layernorm_bwd(void *ctx, float *dinp, float *dw, float *db,
			      const float *dout, const float *inp, const float *w,
			      const float *mean, const float *rstd, int N, int C, int cont)
{
	struct cpu_ctx *cx = ctx;
	struct ln_job j = { .dinp = dinp, .dw = dw, .db = db, .inp = inp, .w = w,
			    .dout = dout, .cmean = mean, .crstd = rstd, .N = N, .C = C,
			    .cont = cont };
	compute_pool_run(cx->pool, (size_t)N, 8, ln_bwd_rows, &j);
	compute_pool_run(cx->pool, (size_t)C, 16, ln_bwd_cols, &j);
}

/* ---------------------------------------------------------------- attention */

struct att_job {
	float *out, *att, *dqkv;
	const float *qkv, *dout, *catt;
	int B, T, C, NH;
};

/* Tasks are (b, h, t) triples, index ((b * NH) + h) * T + t. */
static void att_fwd_rows(void *arg, size_t tb, size_t te)
{
	const struct att_job *j = arg;
	int T = j->T, C = j->C, hs = C / j->NH;
	float scale = 1.0f / iolm_sqrtf((float)hs);
	size_t C3 = 3 * (size_t)C;
	for (size_t task = tb; task < te; task++) {
		int t = (int)(task % (size_t)T);
		int h = (int)(task / (size_t)T % (size_t)j->NH);
		int b = (int)(task / ((size_t)T * (size_t)j->NH));
		const float *base = j->qkv + (size_t)b * (size_t)T * C3;
		const float *q = base + (size_t)t * C3 + (size_t)h * (size_t)hs;
		float *a = j->att + task * (size_t)T;
		float mx = 0.0f;
		for (int t2 = 0; t2 <= t; t2++) {
			const float *k = base + (size_t)t2 * C3 + (size_t)C + (size_t)h * (size_t)hs;
			float s = 0.0f;
			for (int i = 0; i < hs; i++)
				s = s + q[i] * k[i];
			s = s * scale;
			a[t2] = s;
			if (t2 == 0 || s > mx)
				mx = s;
		}
		float z = 0.0f;
		for (int t2 = 0; t2 <= t; t2++) {
			float ev = iolm_expf(a[t2] - mx);
			a[t2] = ev;
			z = z + ev;
		}
		for (int t2 = 0; t2 <= t; t2++)
			a[t2] = a[t2] / z;
		for (int t2 = t + 1; t2 < T; t2++)
			a[t2] = 0.0f;
		float *o = j->out + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C +
			   (size_t)h * (size_t)hs;
		for (int i = 0; i < hs; i++)
			o[i] = 0.0f;
		for (int t2 = 0; t2 <= t; t2++) {
			const float *v = base + (size_t)t2 * C3 + 2 * (size_t)C + (size_t)h * (size_t)hs;
			float p = a[t2];
			for (int i = 0; i < hs; i++)
				o[i] = o[i] + p * v[i];
		}
	}
}

static void cpu_attention_fwd(void *ctx, float *out, float *att, const float *qkv, int B,
			      int T, int C, int NH)
{
	struct cpu_ctx *cx = ctx;
	struct att_job j = { .out = out, .att = att, .qkv = qkv, .B = B, .T = T, .C = C,
			     .NH = NH };
	compute_pool_run(cx->pool, (size_t)B * (size_t)NH * (size_t)T, 4, att_fwd_rows, &j);
}

/* Tasks are heads h: att_fwd_rows' task (b = 0, h, t = T - 1) each. */
static void att_last_heads(void *arg, size_t hb, size_t he)
{
	const struct att_job *j = arg;
	for (size_t h = hb; h < he; h++) {
		size_t task = h * (size_t)j->T + (size_t)j->T - 1;
		att_fwd_rows(arg, task, task + 1);
	}
}

static void cpu_attention_last_fwd(void *ctx, float *out, float *att, const float *qkv, int T,
				   int C, int NH)
{
	struct cpu_ctx *cx = ctx;
	struct att_job j = { .out = out, .att = att, .qkv = qkv, .B = 1, .T = T, .C = C,
			     .NH = NH };
	compute_pool_run(cx->pool, (size_t)NH, 1, att_last_heads, &j);
}

/* Tasks are (b, h) pairs; inside one, t runs upwards (docs/compute.md). */
static void att_bwd_heads(void *arg, size_t tb, size_t te)
{
	const struct att_job *j = arg;
	int T = j->T, C = j->C, hs = C / j->NH;
	float scale = 1.0f / iolm_sqrtf((float)hs);
	size_t C3 = 3 * (size_t)C;
	float datt[COMPUTE_MAX_SEQ];
	for (size_t task = tb; task < te; task++) {
		int h = (int)(task % (size_t)j->NH), b = (int)(task / (size_t)j->NH);
		const float *base = j->qkv + (size_t)b * (size_t)T * C3;
		float *dbase = j->dqkv + (size_t)b * (size_t)T * C3;
		size_t ho = (size_t)h * (size_t)hs;
		for (int t = 0; t < T; t++)
			for (int part = 0; part < 3; part++)
				memset(dbase + (size_t)t * C3 + (size_t)part * (size_t)C + ho, 0,
				       (size_t)hs * sizeof(float));
		for (int t = 0; t < T; t++) {
			const float *a = j->catt + (task * (size_t)T + (size_t)t) * (size_t)T;
			const float *g = j->dout + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C + ho;
			const float *q = base + (size_t)t * C3 + ho;
			float *dq = dbase + (size_t)t * C3 + ho;
			for (int t2 = 0; t2 <= t; t2++) {
				const float *v = base + (size_t)t2 * C3 + 2 * (size_t)C + ho;
				float *dv = dbase + (size_t)t2 * C3 + 2 * (size_t)C + ho;
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
			for (int t2 = 0; t2 <= t; t2++)
				datt[t2] = (a[t2] * (datt[t2] - sp)) * scale;
			for (int t2 = 0; t2 <= t; t2++) {
				const float *k = base + (size_t)t2 * C3 + (size_t)C + ho;
				float *dk = dbase + (size_t)t2 * C3 + (size_t)C + ho;
				float d = datt[t2];
				for (int i = 0; i < hs; i++) {
					dq[i] = dq[i] + d * k[i];
					dk[i] = dk[i] + d * q[i];
				}
			}
		}
	}
}

static void cpu_attention_bwd(void *ctx, float *dqkv, const float *dout, const float *qkv,
			      const float *att, int B, int T, int C, int NH)
{
	struct cpu_ctx *cx = ctx;
	struct att_job j = { .dqkv = dqkv, .dout = dout, .qkv = qkv, .catt = att, .B = B,
			     .T = T, .C = C, .NH = NH };
	compute_pool_run(cx->pool, (size_t)B * (size_t)NH, 1, att_bwd_heads, &j);
}

/* ---------------------------------------------------------------- elementwise */

struct ew_job {
	float *out, *p, *m, *v;
	const float *a, *b, *g;
	float wd;
	const struct iolm_adamw *opt;
	size_t n;
};

static void gelu_fwd_part(void *arg, size_t b, size_t e)
{
	const struct ew_job *j = arg;
	for (size_t i = b; i < e; i++)
		j->out[i] = iolm_gelu(j->a[i]);
}

static void cpu_gelu_fwd(void *ctx, float *out, const float *inp, size_t n)
{
	struct cpu_ctx *cx = ctx;
	struct ew_job j = { .out = out, .a = inp, .n = n };
	compute_pool_run(cx->pool, n, 1024, gelu_fwd_part, &j);
}

static void gelu_bwd_part(void *arg, size_t b, size_t e)
{
	const struct ew_job *j = arg;
	for (size_t i = b; i < e; i++)
		j->out[i] = iolm_gelu_grad(j->a[i]) * j->b[i];
}

static void cpu_gelu_bwd(void *ctx, float *dinp, const float *inp, const float *dout,
			 size_t n)
{
	struct cpu_ctx *cx = ctx;
	struct ew_job j = { .out = dinp, .a = inp, .b = dout, .n = n };
	compute_pool_run(cx->pool, n, 1024, gelu_bwd_part, &j);
}

static void residual_part(void *arg, size_t b, size_t e)
{
	const struct ew_job *j = arg;
	for (size_t i = b; i < e; i++)
		j->out[i] = j->a[i] + j->b[i];
}

static void cpu_residual_fwd(void *ctx, float *out, const float *a, const float *b,
			     size_t n)
{
	struct cpu_ctx *cx = ctx;
	struct ew_job j = { .out = out, .a = a, .b = b, .n = n };
	compute_pool_run(cx->pool, n, 4096, residual_part, &j);
}

static void adamw_part(void *arg, size_t b, size_t e)
{
	const struct ew_job *j = arg;
	for (size_t i = b; i < e; i++)
		iolm_adamw_elem(&j->p[i], &j->m[i], &j->v[i], j->g[i], j->wd, j->opt);
}

static void cpu_adamw(void *ctx, float *p, float *m, float *v, const float *g, size_t n,
		      float wd, const struct iolm_adamw *a)
{
	struct cpu_ctx *cx = ctx;
	struct ew_job j = { .p = p, .m = m, .v = v, .g = g, .wd = wd, .opt = a, .n = n };
	compute_pool_run(cx->pool, n, 4096, adamw_part, &j);
}

static void sumsq_blocks(void *arg, size_t b, size_t e)
{
	const struct ew_job *j = arg;
	for (size_t blk = b; blk < e; blk++) {
		size_t lo = blk * COMPUTE_SUMSQ_BLOCK, hi = lo + COMPUTE_SUMSQ_BLOCK;
		if (hi > j->n)
			hi = j->n;
		float s = 0.0f;
		for (size_t i = lo; i < hi; i++)
			s = s + j->a[i] * j->a[i];
		j->out[blk] = s;
	}
}

static void cpu_sumsq(void *ctx, float *partial, const float *x, size_t n)
{
	struct cpu_ctx *cx = ctx;
	struct ew_job j = { .out = partial, .a = x, .n = n };
	size_t blocks = (n + COMPUTE_SUMSQ_BLOCK - 1) / COMPUTE_SUMSQ_BLOCK;
	compute_pool_run(cx->pool, blocks, 1, sumsq_blocks, &j);
}

/* ---------------------------------------------------------------- cross-entropy */

struct ce_job {
	float *losses, *probs, *dlogits;
	const float *logits, *cprobs;
	const uint8_t *targets;
	float dloss;
	int V;
};

static void ce_fwd_rows(void *arg, size_t b, size_t e)
{
	const struct ce_job *j = arg;
	size_t V = (size_t)j->V;
	for (size_t n = b; n < e; n++) {
		const float *x = j->logits + n * V;
		float *p = j->probs + n * V;
		float mx = x[0];
		for (size_t v = 1; v < V; v++)
			if (x[v] > mx)
				mx = x[v];
		float z = 0.0f;
		for (size_t v = 0; v < V; v++) {
			p[v] = iolm_expf(x[v] - mx);
			z = z + p[v];
		}
		for (size_t v = 0; v < V; v++)
			p[v] = p[v] / z;
		j->losses[n] = iolm_logf(z) - (x[j->targets[n]] - mx);
	}
}

static void cpu_crossentropy_fwd(void *ctx, float *losses, float *probs,
				 const float *logits, const uint8_t *targets, int N, int V)
{
	struct cpu_ctx *cx = ctx;
	struct ce_job j = { .losses = losses, .probs = probs, .logits = logits,
			    .targets = targets, .V = V };
	compute_pool_run(cx->pool, (size_t)N, 4, ce_fwd_rows, &j);
}

static void ce_bwd_rows(void *arg, size_t b, size_t e)
{
	const struct ce_job *j = arg;
	size_t V = (size_t)j->V;
	for (size_t n = b; n < e; n++) {
		const float *p = j->cprobs + n * V;
		float *d = j->dlogits + n * V;
		for (size_t v = 0; v < V; v++) {
			float ind = v == j->targets[n] ? 1.0f : 0.0f;
			d[v] = (p[v] - ind) * j->dloss;
		}
	}
}

static void cpu_crossentropy_bwd(void *ctx, float *dlogits, const float *probs,
				 const uint8_t *targets, float dloss, int N, int V)
{
	struct cpu_ctx *cx = ctx;
	struct ce_job j = { .dlogits = dlogits, .cprobs = probs, .targets = targets,
			    .dloss = dloss, .V = V };
	compute_pool_run(cx->pool, (size_t)N, 8, ce_bwd_rows, &j);
}

/* ---------------------------------------------------------------- the backend */

static const struct compute_backend_ops cpu_ops = {
	.name = "cpu",
	.alloc = cpu_alloc,
	.free = cpu_free,
	.zero = cpu_zero,
	.upload = cpu_copy,
	.download = cpu_copy,
	.copy = cpu_copy,
	.reserve = cpu_reserve,
	.encoder_fwd = cpu_encoder_fwd,
	.encoder_bwd = cpu_encoder_bwd,
	.layernorm_fwd = cpu_layernorm_fwd,
	.layernorm_bwd = cpu_layernorm_bwd,
	.matmul_fwd = cpu_matmul_fwd,
	.matmul_bwd = cpu_matmul_bwd,
	.attention_fwd = cpu_attention_fwd,
	.attention_last_fwd = cpu_attention_last_fwd,
	.attention_bwd = cpu_attention_bwd,
	.gelu_fwd = cpu_gelu_fwd,
	.gelu_bwd = cpu_gelu_bwd,
	.residual_fwd = cpu_residual_fwd,
	.crossentropy_fwd = cpu_crossentropy_fwd,
	.crossentropy_bwd = cpu_crossentropy_bwd,
	.sumsq = cpu_sumsq,
	.adamw = cpu_adamw,
};

static void cpu_destroy(struct compute_backend *be)
{
	struct cpu_ctx *cx = be->ctx;
	compute_pool_destroy(cx->pool);
	free(cx->scratch);
	free(cx);
	free(be);
}

int compute_backend_cpu_create(compute_backend **out, unsigned threads)
{
	int err = IOLM_OK;
	struct compute_backend *be = NULL;
	struct cpu_ctx *cx = NULL;
	*out = NULL;
	be = calloc(1, sizeof *be);
	cx = calloc(1, sizeof *cx);
	if (!be || !cx) {
		err = IOLM_ENOMEM;
		goto out;
	}
	err = compute_pool_create(&cx->pool, threads);
	if (err)
		goto out;
	be->ops = &cpu_ops;
	be->ctx = cx;
	be->destroy = cpu_destroy;
	*out = be;
	be = NULL;
	cx = NULL;
out:
	free(cx);
	free(be);
	return err;
}
