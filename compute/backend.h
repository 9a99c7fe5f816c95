/* The compute backend interface: one function pointer per operation of the step.
 *
 * A backend (CPU reference in compute/cpu/, CUDA in compute/cuda/) implements every
 * entry below with exactly the arithmetic docs/compute.md specifies: each output
 * element is computed by the per-element functions of compute/iolm_math.h and by
 * reductions in the fixed order stated at each entry. Parallelism is only across
 * independent outputs, so results never depend on threads, blocks or devices.
 *
 * Pointers passed to operations are backend memory (from alloc). Shapes are row-major.
 * Conventions for results:
 *   "writes X"       X is overwritten;
 *   "adds into X"    X[i] = X[i] + s, where s is the contribution computed from 0.
 * A sum "over k in order" means s = 0.0f; for k = 0..K-1: s = s + term(k), each
 * product and sum rounded separately (no fused multiply-add).
 *
 * Batch reductions (sums over rows n: matmul dw and dbias, layernorm dw and db, the
 * encoder's dwpe and vocabulary sums) take `cont`, for the data-parallel chain of
 * docs/compute.md §7a: with cont == 0 each sum starts from 0.0f ("writes"); with
 * cont != 0 it starts from the value its output holds, received from the previous
 * rank, and continues over this call's rows in order. Rows split into consecutive
 * ranges r_0, r_1, ... and run with cont = 0, 1, 1, ... on the same output arrays
 * give exactly the sums of one call over all rows. */
#ifndef IOLM_COMPUTE_BACKEND_H
#define IOLM_COMPUTE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "compute/iolm_math.h"

/* Size of the blocks of compute_backend_ops.sumsq. */
#define COMPUTE_SUMSQ_BLOCK 4096

struct compute_backend_ops {
	const char *name;

	/* Memory. alloc returns zeroed memory or NULL; free(NULL) is a no-op. */
	void *(*alloc)(void *ctx, size_t bytes);
	void (*free)(void *ctx, void *p);
	void (*zero)(void *ctx, void *p, size_t bytes);
	void (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
	void (*download)(void *ctx, void *dst, const void *src, size_t bytes);
	/* dst = src, both this backend's memory (or, for CUDA, any device's: unified
	 * addressing), in order with the operations issued before and after. */
	void (*copy)(void *ctx, void *dst, const void *src, size_t bytes);
	/* Prepare for operations on at most N rows of C channels (V vocabulary), and an
	 * attention backward over att = B·NH·T² scores (0: none yet): scratch space and the
	 * like, so that no operation of that size allocates. IOLM_OK or IOLM_ENOMEM. */
	int (*reserve)(void *ctx, int N, int C, int V, size_t att);

	/* out[n][c] = wte[tok[n]][c] + wpe[n % T][c], n < N = B*T. Writes out. */
	void (*encoder_fwd)(void *ctx, float *out, const uint8_t *tok, const float *wte,
			    const float *wpe, int N, int T, int C);
	/* dwpe[t][c] = sum over b in order of dout[b*T+t][c] (writes; continues when cont).
	 * The vocabulary sums: for each row v that occurs in tok, the sum over n in order
	 * (n = 0..N-1 with tok[n] == v) of dout[n][c].
	 * Without vacc (NULL; one device): each starts from 0.0f and adds into dwte[v][c];
	 * rows that do not occur are untouched (adding +0 would turn a -0 into +0).
	 * With vacc [V][C] and vseen [V] (a link of the chain): when cont == 0, vacc and
	 * vseen are first reset to 0; the sums then continue in vacc[v][c] and
	 * vseen[v] = 1 for the rows that occur here. When dwte is not NULL (the last
	 * link) dwte[v][c] then adds into with vacc[v][c] for every v with vseen[v],
	 * i.e. every row that occurred in any link; dwte NULL leaves it alone. */
	void (*encoder_bwd)(void *ctx, float *dwte, float *dwpe, float *vacc,
			    uint8_t *vseen, const float *dout, const uint8_t *tok, int N,
			    int T, int C, int cont);

	/* Per row n: mean = (sum over c in order of x) / C; var = (sum over c in order of
	 * (x - mean)^2) / C; rstd = 1 / sqrt(var + 1e-5); out = ((x - mean) * rstd) * w + b.
	 * Writes out, mean[n], rstd[n]. */
	void (*layernorm_fwd)(void *ctx, float *out, float *mean, float *rstd,
			      const float *inp, const float *w, const float *b, int N, int C);
	/* With xhat = (x - mean) * rstd and dxh = dout * w:
	 *   dw[c] = sum over n in order of dout[n][c] * xhat[n][c]    (writes dw)
	 *   db[c] = sum over n in order of dout[n][c]                (writes db)
	 *   (dw and db continue from their values when cont)
	 *   per row: a = (sum over c of dxh) / C, b = (sum over c of dxh * xhat) / C,
	 *   dinp adds into with (dxh - a - xhat * b) * rstd. */
	void (*layernorm_bwd)(void *ctx, float *dinp, float *dw, float *db,
			      const float *dout, const float *inp, const float *w,
			      const float *mean, const float *rstd, int N, int C, int cont);

	/* out[n][o] = (sum over i in order of inp[n][i] * w[o][i]) + bias[o] (bias may be
	 * NULL: no addition). w is [O][I]. Writes out. */
	void (*matmul_fwd)(void *ctx, float *out, const float *inp, const float *w,
			   const float *bias, int N, int I, int O);
	/* dinp[n][i] = sum over o in order of dout[n][o] * w[o][i]        (writes dinp)
	 * dw[o][i]   = sum over n in order of dout[n][o] * inp[n][i]      (writes dw)
	 * dbias[o]   = sum over n in order of dout[n][o]  (writes; skipped when NULL)
	 * dw and dbias continue from their values when cont; dinp is always written. */
	void (*matmul_bwd)(void *ctx, float *dinp, float *dw, float *dbias,
			   const float *dout, const float *inp, const float *w, int N,
			   int I, int O, int cont);

	/* Causal multi-head attention over qkv [B][T][3C] (q, k, v each C = NH * hs).
	 * For b, h, t: pre[t2] = (sum over i < hs in order of q[t][i] k[t2][i]) * scale,
	 * scale = 1 / sqrt(hs), t2 <= t; mx = max over t2 in order; e[t2] = exp(pre - mx);
	 * z = sum over t2 in order of e; att[b][h][t][t2] = e[t2] / z (0 for t2 > t);
	 * out[b][t][h*hs+i] = sum over t2 <= t in order of att * v[t2][i]. Writes out and
	 * att [B][NH][T][T]. */
	void (*attention_fwd)(void *ctx, float *out, float *att, const float *qkv, int B,
			      int T, int C, int NH);
	/* attention_fwd's last position alone, for one sequence (B = 1): out row T - 1 and
	 * the rows t = T - 1 of att [NH][T][T], with the same bits; nothing else written.
	 * (Generating: the newest position, over the positions so far.) */
	void (*attention_last_fwd)(void *ctx, float *out, float *att, const float *qkv, int T,
				   int C, int NH);
	/* Writes dqkv; the order of every sum is in docs/compute.md "Attention backward". */
	void (*attention_bwd)(void *ctx, float *dqkv, const float *dout, const float *qkv,
			      const float *att, int B, int T, int C, int NH);

	/* out[i] = gelu(inp[i]) (writes). */
	void (*gelu_fwd)(void *ctx, float *out, const float *inp, size_t n);
	/* dinp[i] = gelu_grad(inp[i]) * dout[i] (writes). */
	void (*gelu_bwd)(void *ctx, float *dinp, const float *inp, const float *dout,
			 size_t n);
	/* out[i] = a[i] + b[i] (writes). */
	void (*residual_fwd)(void *ctx, float *out, const float *a, const float *b,
			     size_t n);

	/* Per row n of logits [N][V]: mx = max in order; e = exp(x - mx); z = sum in order;
	 * probs = e / z; losses[n] = log(z) - (x[target] - mx). Writes probs, losses. */
	void (*crossentropy_fwd)(void *ctx, float *losses, float *probs,
				 const float *logits, const uint8_t *targets, int N, int V);
	/* dlogits[n][v] = (probs[n][v] - (v == target ? 1 : 0)) * dloss (writes). */
	void (*crossentropy_bwd)(void *ctx, float *dlogits, const float *probs,
				 const uint8_t *targets, float dloss, int N, int V);

	/* partial[j] = sum in order of x[i]^2 over block j (i in [j*BLOCK, (j+1)*BLOCK)
	 * intersected with [0, n)); ceil(n / COMPUTE_SUMSQ_BLOCK) blocks. Writes. */
	void (*sumsq)(void *ctx, float *partial, const float *x, size_t n);
	/* iolm_adamw_elem on each element i < n with weight decay wd. */
	void (*adamw)(void *ctx, float *p, float *m, float *v, const float *g, size_t n,
		      float wd, const struct iolm_adamw *a);
};

struct compute_backend {
	const struct compute_backend_ops *ops;
	void *ctx;
	void (*destroy)(struct compute_backend *be);
};

#endif
