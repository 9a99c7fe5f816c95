/* The model: parameter layout and init, forward, backward, AdamW, the training step.
 *
 * This file only orders backend operations; all arithmetic on tensors happens inside
 * the backend (compute/backend.h), all scalar arithmetic of the step (loss mean,
 * schedule, clipping factor) here, in binary32 with the orders docs/compute.md gives. */
#include "compute/model_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define OPS(m) ((m)->be->ops)
#define CTX(m) ((m)->be->ctx)

static const char *const tensor_names[COMPUTE_NTENSORS] = {
	"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

/* ---------------------------------------------------------------- config */

int compute_config_check(const compute_config *c)
{
	if (!c || c->vocab != COMPUTE_VOCAB)
		return IOLM_ECONFIG;
	if (c->n_layer < 1 || c->n_layer > COMPUTE_MAX_LAYERS)
		return IOLM_ECONFIG;
	if (c->n_embd < 1 || c->n_embd > COMPUTE_MAX_CHANNELS)
		return IOLM_ECONFIG;
	if (c->n_head < 1 || c->n_head > COMPUTE_MAX_HEADS || c->n_embd % c->n_head)
		return IOLM_ECONFIG;
	if (c->seq_len < 1 || c->seq_len > COMPUTE_MAX_SEQ)
		return IOLM_ECONFIG;
	if (compute_config_param_count(c) > COMPUTE_MAX_PARAMS)
		return IOLM_ECONFIG;
	return IOLM_OK;
}

int model_finite(float x)
{
	return x == x && x - x == 0.0f;
}

int compute_optim_check(const compute_optim *o)
{
	if (!o || !model_finite(o->lr) || !model_finite(o->beta1) ||
	    !model_finite(o->beta2) || !model_finite(o->eps) ||
	    !model_finite(o->weight_decay) || !model_finite(o->grad_clip))
		return IOLM_ECONFIG;
	if (!(o->lr > 0.0f) || o->beta1 < 0.0f || !(o->beta1 < 1.0f) || o->beta2 < 0.0f ||
	    !(o->beta2 < 1.0f) || !(o->eps > 0.0f) || o->weight_decay < 0.0f ||
	    o->grad_clip < 0.0f)
		return IOLM_ECONFIG;
	return IOLM_OK;
}

void compute_optim_default(compute_optim *o)
{
	memset(o, 0, sizeof *o);
	o->lr = 3e-4f;
	o->beta1 = 0.9f;
	o->beta2 = 0.95f;
	o->eps = 1e-8f;
	o->weight_decay = 0.1f;
}

static void tensor_counts(const compute_config *c, size_t cnt[COMPUTE_NTENSORS])
{
	size_t L = c->n_layer, C = c->n_embd, V = c->vocab, T = c->seq_len;
	size_t shapes[COMPUTE_NTENSORS] = {
		V * C, T * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
		L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C,
	};
	memcpy(cnt, shapes, sizeof shapes);
}

size_t compute_config_param_count(const compute_config *c)
{
	size_t cnt[COMPUTE_NTENSORS], n = 0;
	tensor_counts(c, cnt);
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++)
		n += cnt[i];
	return n;
}

void compute_config_tensor(const compute_config *c, unsigned i, const char **name,
			   size_t *offset, size_t *count)
{
	size_t cnt[COMPUTE_NTENSORS], off = 0;
	tensor_counts(c, cnt);
	for (unsigned k = 0; k < i; k++)
		off += cnt[k];
	*name = tensor_names[i];
	*offset = off;
	*count = cnt[i];
}

/* ---------------------------------------------------------------- init */

/* Tensor i: normal(key_i, e) * std with key_i = rand64(init_seed, i), or constant. */
static void init_params(const compute_config *c, float *p, const size_t *off,
			const size_t *cnt)
{
	float std = 0.02f;
	float std_proj = 0.02f / iolm_sqrtf((float)(2 * c->n_layer));
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++) {
		float *t = p + off[i];
		float s;
		switch (i) {
		case T_WTE: case T_WPE: case T_QKVW: case T_FCW: s = std; break;
		case T_ATTPROJW: case T_FCPROJW: s = std_proj; break;
		case T_LN1W: case T_LN2W: case T_LNFW: s = -1.0f; break;
		default: s = 0.0f; break;
		}
		uint64_t key = iolm_rand64(c->init_seed, i);
		for (size_t e = 0; e < cnt[i]; e++)
			t[e] = s > 0.0f ? iolm_normal(key, e) * s : (s < 0.0f ? 1.0f : 0.0f);
	}
}

/* Weight decay of tensor i: matrices only. */
static float tensor_decay(const compute_model *m, unsigned i)
{
	switch (i) {
	case T_WTE: case T_WPE: case T_QKVW: case T_ATTPROJW: case T_FCW: case T_FCPROJW:
		return m->opt.weight_decay;
	default:
		return 0.0f;
	}
}

/* ---------------------------------------------------------------- memory */

static int alloc_f(compute_model *m, float **p, size_t n)
{
	*p = OPS(m)->alloc(CTX(m), n * sizeof(float));
	return *p ? IOLM_OK : IOLM_ENOMEM;
}

static int alloc_acts(compute_model *m)
{
	struct acts *a = &m->a;
	size_t L = m->cfg.n_layer, C = m->cfg.n_embd, T = m->cfg.seq_len;
	size_t V = m->cfg.vocab, NH = m->cfg.n_head, N = (size_t)m->B * T;
	struct { float **p; size_t n; } list[] = {
		{ &a->encoded, N * C }, { &a->ln1, L * N * C }, { &a->ln1m, L * N },
		{ &a->ln1r, L * N }, { &a->qkv, L * N * 3 * C }, { &a->atty, L * N * C },
		{ &a->att, L * m->B * NH * T * T }, { &a->res2, L * N * C },
		{ &a->ln2, L * N * C }, { &a->ln2m, L * N }, { &a->ln2r, L * N },
		{ &a->fch, L * N * 4 * C }, { &a->fchg, L * N * 4 * C }, { &a->res3, L * N * C },
		{ &a->lnf, N * C }, { &a->lnfm, N }, { &a->lnfr, N }, { &a->logits, N * V },
		{ &a->probs, N * V }, { &a->losses, N }, { &a->tmp, N * C },
		{ &a->dres, N * C }, { &a->dlnx, N * C }, { &a->datty, N * C },
		{ &a->dqkv, N * 3 * C }, { &a->dbig, N * 4 * C }, { &a->dbig2, N * 4 * C },
		{ &a->dlogits, N * V },
	};
	for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
		if (alloc_f(m, list[i].p, list[i].n))
			return IOLM_ENOMEM;
	a->tok = OPS(m)->alloc(CTX(m), N);
	a->tgt = OPS(m)->alloc(CTX(m), N);
	if (!a->tok || !a->tgt)
		return IOLM_ENOMEM;
	return OPS(m)->reserve(CTX(m), (int)N, (int)C, (int)V, m->B * NH * T * T);
}

static void free_acts(compute_model *m)
{
	float **f = (float **)&m->a;
	size_t nf = offsetof(struct acts, tok) / sizeof(float *);
	for (size_t i = 0; i < nf; i++)
		OPS(m)->free(CTX(m), f[i]);
	OPS(m)->free(CTX(m), m->a.tok);
	OPS(m)->free(CTX(m), m->a.tgt);
}

void compute_model_destroy(compute_model *m)
{
	if (!m)
		return;
	free_acts(m);
	OPS(m)->free(CTX(m), m->params);
	OPS(m)->free(CTX(m), m->grads);
	OPS(m)->free(CTX(m), m->m);
	OPS(m)->free(CTX(m), m->v);
	OPS(m)->free(CTX(m), m->partial);
	OPS(m)->free(CTX(m), m->vacc);
	OPS(m)->free(CTX(m), m->vseen);
	free(m->host_losses);
	free(m->host_partial);
	free(m);
}

int compute_model_create(compute_model **out, const compute_config *cfg, uint32_t batch,
			 const compute_optim *opt, compute_backend *be)
{
	int err = IOLM_OK;
	compute_model *m = NULL;
	float *host = NULL;
	*out = NULL;
	if (compute_config_check(cfg) || compute_optim_check(opt) || batch < 1 ||
	    batch > COMPUTE_MAX_BATCH || (uint64_t)batch * cfg->seq_len > (1u << 24))
		return IOLM_ECONFIG;
	m = calloc(1, sizeof *m);
	if (!m)
		return IOLM_ENOMEM;
	m->cfg = *cfg;
	m->opt = *opt;
	m->B = batch;
	m->be = be;
	tensor_counts(cfg, m->cnt);
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++) {
		m->off[i] = m->nparams;
		m->nparams += m->cnt[i];
	}
	m->nblocks = (m->nparams + COMPUTE_SUMSQ_BLOCK - 1) / COMPUTE_SUMSQ_BLOCK;
	m->host_losses = calloc((size_t)batch * cfg->seq_len, sizeof(float));
	m->host_partial = calloc(m->nblocks, sizeof(float));
	host = malloc(m->nparams * sizeof(float));
	if (!m->host_losses || !m->host_partial || !host) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = alloc_f(m, &m->params, m->nparams)) || (err = alloc_f(m, &m->grads, m->nparams)) ||
	    (err = alloc_f(m, &m->m, m->nparams)) || (err = alloc_f(m, &m->v, m->nparams)) ||
	    (err = alloc_f(m, &m->partial, m->nblocks)) ||
	    (err = alloc_acts(m)))
		goto out;
	init_params(cfg, host, m->off, m->cnt);
	OPS(m)->upload(CTX(m), m->params, host, m->nparams * sizeof(float));
	*out = m;
	m = NULL;
out:
	free(host);
	compute_model_destroy(m);
	return err;
}

int model_chain_enable(compute_model *m)
{
	size_t V = m->cfg.vocab;
	if (!m->vacc)
		m->vacc = OPS(m)->alloc(CTX(m), V * m->cfg.n_embd * sizeof(float));
	if (!m->vseen)
		m->vseen = OPS(m)->alloc(CTX(m), V);
	return m->vacc && m->vseen ? IOLM_OK : IOLM_ENOMEM;
}

const compute_config *compute_model_config(const compute_model *m)
{
	return &m->cfg;
}

uint64_t compute_model_step_count(const compute_model *m)
{
	return m->step;
}

size_t compute_model_param_count(const compute_model *m)
{
	return m->nparams;
}

/* ---------------------------------------------------------------- forward */

#define P(i) (m->params + m->off[i])
#define G(i) (m->grads + m->off[i])

void model_download_losses(compute_model *m, uint32_t nb)
{
	OPS(m)->download(CTX(m), m->host_losses, m->a.losses,
			 (size_t)nb * m->cfg.seq_len * sizeof(float));
}

/* The forward of nb sequences (last < 0: every row), or of the one row `last` of
 * sequence 0 alone (generating: its row-wise operations with N = 1, which give the row
 * the whole pass's bits, its position embedding wpe[last], and attention_last_fwd over
 * rows 0..last). */
static void forward_rows(compute_model *m, uint32_t nb, long last)
{
	const struct compute_backend_ops *o = OPS(m);
	void *cx = CTX(m);
	struct acts *a = &m->a;
	int C = (int)m->cfg.n_embd, T = (int)m->cfg.seq_len, NH = (int)m->cfg.n_head;
	int V = (int)m->cfg.vocab, L = (int)m->cfg.n_layer;
	int one = last >= 0, N = one ? 1 : (int)nb * T;
	size_t r0 = one ? (size_t)last : 0, c0 = r0 * (size_t)C; /* the first row, and its offset */
	size_t NC = (size_t)N * (size_t)C, BN = (size_t)m->B * (size_t)T;
	size_t sC = BN * (size_t)C; /* per-layer slice strides use the full batch B */

	/* one row: row 0 of a window of 1, with the position embedding of row r0 */
	o->encoder_fwd(cx, a->encoded + c0, a->tok + r0, P(T_WTE), P(T_WPE) + c0, N,
		       one ? 1 : T, C);
	for (int l = 0; l < L; l++) {
		size_t lc = (size_t)l * (size_t)C, lr = (size_t)l * BN + r0;
		const float *res = (l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * sC) + c0;
		float *ln1 = a->ln1 + (size_t)l * sC + c0, *qkv = a->qkv + (size_t)l * 3 * sC;
		float *atty = a->atty + (size_t)l * sC, *res2 = a->res2 + (size_t)l * sC + c0;
		float *ln2 = a->ln2 + (size_t)l * sC + c0;
		float *fch = a->fch + (size_t)l * 4 * sC + 4 * c0;
		float *fchg = a->fchg + (size_t)l * 4 * sC + 4 * c0;
		float *res3 = a->res3 + (size_t)l * sC + c0, *tmp = a->tmp + c0;
		float *att = a->att + (size_t)l * m->B * (size_t)NH * (size_t)T * (size_t)T;
		o->layernorm_fwd(cx, ln1, a->ln1m + lr, a->ln1r + lr, res, P(T_LN1W) + lc,
				 P(T_LN1B) + lc, N, C);
		o->matmul_fwd(cx, qkv + 3 * c0, ln1, P(T_QKVW) + lc * 3 * (size_t)C,
			      P(T_QKVB) + 3 * lc, N, C, 3 * C);
		if (one)
			o->attention_last_fwd(cx, atty, att, qkv, (int)r0 + 1, C, NH);
		else
			o->attention_fwd(cx, atty, att, qkv, (int)nb, T, C, NH);
		o->matmul_fwd(cx, tmp, atty + c0, P(T_ATTPROJW) + lc * (size_t)C,
			      P(T_ATTPROJB) + lc, N, C, C);
		o->residual_fwd(cx, res2, res, tmp, NC);
		o->layernorm_fwd(cx, ln2, a->ln2m + lr, a->ln2r + lr, res2, P(T_LN2W) + lc,
				 P(T_LN2B) + lc, N, C);
		o->matmul_fwd(cx, fch, ln2, P(T_FCW) + lc * 4 * (size_t)C, P(T_FCB) + 4 * lc,
			      N, C, 4 * C);
		o->gelu_fwd(cx, fchg, fch, 4 * NC);
		o->matmul_fwd(cx, tmp, fchg, P(T_FCPROJW) + lc * 4 * (size_t)C,
			      P(T_FCPROJB) + lc, N, 4 * C, C);
		o->residual_fwd(cx, res3, res2, tmp, NC);
	}
	o->layernorm_fwd(cx, a->lnf + c0, a->lnfm + r0, a->lnfr + r0,
			 a->res3 + (size_t)(L - 1) * sC + c0, P(T_LNFW), P(T_LNFB), N, C);
	o->matmul_fwd(cx, a->logits + r0 * (size_t)V, a->lnf + c0, P(T_WTE), NULL, N, C, V);
	o->crossentropy_fwd(cx, a->losses + r0, a->probs + r0 * (size_t)V,
			    a->logits + r0 * (size_t)V, a->tgt + r0, N, V);
}

void model_forward_ops(compute_model *m, uint32_t nb)
{
	forward_rows(m, nb, -1);
}

int model_forward(compute_model *m, float *loss, uint32_t nb)
{
	int N = (int)(nb * m->cfg.seq_len);
	model_forward_ops(m, nb);
	/* mean loss: sum over tokens in order, then one division */
	model_download_losses(m, nb);
	float s = 0.0f;
	for (int n = 0; n < N; n++)
		s = s + m->host_losses[n];
	*loss = s / (float)N;
	return model_finite(*loss) ? IOLM_OK : IOLM_ENONFINITE;
}

/* ---------------------------------------------------------------- backward */

/* The backward pass (docs/compute.md "Backward") as a fixed sequence of pieces, each
 * ending in at most one backend call with batch reductions. The single-device pass
 * runs them all with cont = 0; the data-parallel step (dp.c) runs piece i on every
 * rank in turn, handing the piece's accumulators (model_bwd_accs) from rank to rank
 * in between, so that each sum over rows continues where the previous rank stopped.
 *
 *   piece 0          cross-entropy, logits matmul (dwte)
 *   piece 1          final layernorm (dlnfw, dlnfb)
 *   2 + 6 (L-1-l)    per layer l = L-1 .. 0: fcproj; gelu + fc; ln2; attproj;
 *                    attention + qkv; ln1
 *   2 + 6 L          encoder (dwpe, vocabulary sums) */
#define BWD_PER_LAYER 6

size_t model_bwd_count(const compute_model *m)
{
	return 3 + BWD_PER_LAYER * (size_t)m->cfg.n_layer;
}

/* Parameter tensor i of layer l: offset and count of its slice. */
static void layer_slice(const compute_model *m, unsigned i, size_t l, size_t *off,
			size_t *n)
{
	*n = m->cnt[i] / m->cfg.n_layer;
	*off = m->off[i] + l * *n;
}

static void acc_grad(const compute_model *m, struct model_acc *a, unsigned i, size_t l)
{
	size_t off, n;
	if (i == T_WTE || i == T_WPE || i == T_LNFW || i == T_LNFB) {
		off = m->off[i];
		n = m->cnt[i];
	} else {
		layer_slice(m, i, l, &off, &n);
	}
	a->p = m->grads + off;
	a->bytes = n * sizeof(float);
}

size_t model_bwd_accs(const compute_model *m, size_t piece, struct model_acc acc[3])
{
	size_t L = m->cfg.n_layer;
	if (piece == 0) {
		acc_grad(m, &acc[0], T_WTE, 0);
		return 1;
	}
	if (piece == 1) {
		acc_grad(m, &acc[0], T_LNFW, 0);
		acc_grad(m, &acc[1], T_LNFB, 0);
		return 2;
	}
	if (piece == 2 + BWD_PER_LAYER * L) {
		acc_grad(m, &acc[0], T_WPE, 0);
		acc[1].p = m->vacc;
		acc[1].bytes = (size_t)m->cfg.vocab * m->cfg.n_embd * sizeof(float);
		acc[2].p = m->vseen;
		acc[2].bytes = m->cfg.vocab;
		return m->vacc ? 3 : 1;
	}
	static const unsigned w[BWD_PER_LAYER] = { T_FCPROJW, T_FCW, T_LN2W, T_ATTPROJW,
						   T_QKVW, T_LN1W };
	size_t k = piece - 2, l = L - 1 - k / BWD_PER_LAYER;
	unsigned i = w[k % BWD_PER_LAYER];
	acc_grad(m, &acc[0], i, l);
	acc_grad(m, &acc[1], i + 1, l); /* each weight's bias follows it in the layout */
	return 2;
}

void model_bwd_piece(compute_model *m, size_t piece, uint32_t nb, float dloss, int cont,
		     int last)
{
	const struct compute_backend_ops *o = OPS(m);
	void *cx = CTX(m);
	struct acts *a = &m->a;
	int C = (int)m->cfg.n_embd, T = (int)m->cfg.seq_len, NH = (int)m->cfg.n_head;
	int V = (int)m->cfg.vocab, L = (int)m->cfg.n_layer, N = (int)nb * T;
	size_t BN = (size_t)m->B * (size_t)T, sC = BN * (size_t)C;

	if (piece == 0) {
		o->crossentropy_bwd(cx, a->dlogits, a->probs, a->tgt, dloss, N, V);
		o->matmul_bwd(cx, a->dlnx, G(T_WTE), NULL, a->dlogits, a->lnf, P(T_WTE), N, C,
			      V, cont);
		return;
	}
	if (piece == 1) {
		o->zero(cx, a->dres, (size_t)N * (size_t)C * sizeof(float));
		o->layernorm_bwd(cx, a->dres, G(T_LNFW), G(T_LNFB), a->dlnx,
				 a->res3 + (size_t)(L - 1) * sC, P(T_LNFW), a->lnfm, a->lnfr, N,
				 C, cont);
		return;
	}
	if (piece == model_bwd_count(m) - 1) {
		o->encoder_bwd(cx, last ? G(T_WTE) : NULL, G(T_WPE), m->vacc, m->vseen, a->dres,
			       a->tok, N, T, C, cont);
		return;
	}
	size_t k = piece - 2;
	int l = L - 1 - (int)(k / BWD_PER_LAYER);
	size_t lc = (size_t)l * (size_t)C;
	const float *res = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * sC;
	float *ln1 = a->ln1 + (size_t)l * sC, *qkv = a->qkv + (size_t)l * 3 * sC;
	float *atty = a->atty + (size_t)l * sC, *res2 = a->res2 + (size_t)l * sC;
	float *ln2 = a->ln2 + (size_t)l * sC, *fch = a->fch + (size_t)l * 4 * sC;
	float *fchg = a->fchg + (size_t)l * 4 * sC;
	float *att = a->att + (size_t)l * m->B * (size_t)NH * (size_t)T * (size_t)T;
	switch (k % BWD_PER_LAYER) {
	case 0:
		o->matmul_bwd(cx, a->dbig, G(T_FCPROJW) + lc * 4 * (size_t)C, G(T_FCPROJB) + lc,
			      a->dres, fchg, P(T_FCPROJW) + lc * 4 * (size_t)C, N, 4 * C, C, cont);
		break;
	case 1:
		o->gelu_bwd(cx, a->dbig2, fch, a->dbig, 4 * (size_t)N * (size_t)C);
		o->matmul_bwd(cx, a->dlnx, G(T_FCW) + lc * 4 * (size_t)C, G(T_FCB) + 4 * lc,
			      a->dbig2, ln2, P(T_FCW) + lc * 4 * (size_t)C, N, C, 4 * C, cont);
		break;
	case 2:
		o->layernorm_bwd(cx, a->dres, G(T_LN2W) + lc, G(T_LN2B) + lc, a->dlnx, res2,
				 P(T_LN2W) + lc, a->ln2m + (size_t)l * BN, a->ln2r + (size_t)l * BN,
				 N, C, cont);
		break;
	case 3:
		o->matmul_bwd(cx, a->datty, G(T_ATTPROJW) + lc * (size_t)C, G(T_ATTPROJB) + lc,
			      a->dres, atty, P(T_ATTPROJW) + lc * (size_t)C, N, C, C, cont);
		break;
	case 4:
		o->attention_bwd(cx, a->dqkv, a->datty, qkv, att, (int)nb, T, C, NH);
		o->matmul_bwd(cx, a->dlnx, G(T_QKVW) + lc * 3 * (size_t)C, G(T_QKVB) + 3 * lc,
			      a->dqkv, ln1, P(T_QKVW) + lc * 3 * (size_t)C, N, C, 3 * C, cont);
		break;
	default:
		o->layernorm_bwd(cx, a->dres, G(T_LN1W) + lc, G(T_LN1B) + lc, a->dlnx, res,
				 P(T_LN1W) + lc, a->ln1m + (size_t)l * BN, a->ln1r + (size_t)l * BN,
				 N, C, cont);
		break;
	}
}

static void model_backward(compute_model *m, uint32_t nb)
{
	float dloss = 1.0f / (float)(nb * m->cfg.seq_len);
	for (size_t i = 0; i < model_bwd_count(m); i++)
		model_bwd_piece(m, i, nb, dloss, 0, 1);
}

/* ---------------------------------------------------------------- optimizer */

/* x^e by square-and-multiply from the lowest bit, each product rounded. */
static float powi_f(float x, uint64_t e)
{
	float r = 1.0f;
	while (e) {
		if (e & 1)
			r = r * x;
		x = x * x;
		e >>= 1;
	}
	return r;
}

/* Learning rate at global step s (0-based). */
static float schedule_lr(const compute_optim *o, uint64_t s)
{
	if (s < o->warmup_steps)
		return o->lr * (float)(s + 1) / (float)o->warmup_steps;
	if (o->total_steps <= o->warmup_steps)
		return o->lr;
	if (s >= o->total_steps)
		return 0.0f;
	float p = (float)(s - o->warmup_steps) / (float)(o->total_steps - o->warmup_steps);
	return o->lr * (0.5f * (1.0f + iolm_cospif(p)));
}

/* The gradients' sum of squares: per block of COMPUTE_SUMSQ_BLOCK on the backend, then
 * the blocks in order here, so every backend gives the same bits. */
static float grad_sumsq(compute_model *m)
{
	OPS(m)->sumsq(CTX(m), m->partial, m->grads, m->nparams);
	OPS(m)->download(CTX(m), m->host_partial, m->partial, m->nblocks * sizeof(float));
	float s = 0.0f;
	for (size_t i = 0; i < m->nblocks; i++)
		s = s + m->host_partial[i];
	return s;
}

int model_update(compute_model *m)
{
	struct iolm_adamw a;
	uint64_t t = m->step + 1;
	/* A gradient with a NaN or an infinity (or whose sum of squares overflows) is
	 * refused before it reaches the parameters: NaN bits differ between backends (x86
	 * keeps payloads, CUDA makes them canonical), so a state holding one would hash
	 * differently on the CPU and the GPU. Whether s is finite is the same everywhere. */
	float s = grad_sumsq(m);
	if (!model_finite(s))
		return IOLM_ENONFINITE;
	float norm = iolm_sqrtf(s);
	a.lr = schedule_lr(&m->opt, m->step);
	a.beta1 = m->opt.beta1;
	a.beta2 = m->opt.beta2;
	a.eps = m->opt.eps;
	a.bc1 = 1.0f - powi_f(m->opt.beta1, t);
	a.bc2 = 1.0f - powi_f(m->opt.beta2, t);
	a.gscale = m->opt.grad_clip > 0.0f && norm > m->opt.grad_clip ? m->opt.grad_clip / norm
								     : 1.0f;
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++)
		OPS(m)->adamw(CTX(m), m->params + m->off[i], m->m + m->off[i],
			      m->v + m->off[i], m->grads + m->off[i], m->cnt[i],
			      tensor_decay(m, i), &a);
	m->step++;
	return IOLM_OK;
}

/* ---------------------------------------------------------------- entry points */

int model_upload_batch(compute_model *m, const uint8_t *inputs, const uint8_t *targets,
			uint32_t nb)
{
	if (nb < 1 || nb > m->B)
		return IOLM_EINVAL;
	size_t n = (size_t)nb * m->cfg.seq_len;
	OPS(m)->upload(CTX(m), m->a.tok, inputs, n);
	OPS(m)->upload(CTX(m), m->a.tgt, targets, n);
	return IOLM_OK;
}

int compute_model_loss(compute_model *m, float *loss, const uint8_t *inputs,
		       const uint8_t *targets, uint32_t nb)
{
	int err = model_upload_batch(m, inputs, targets, nb);
	if (err)
		return err;
	return model_forward(m, loss, nb);
}

int compute_model_next_probs(compute_model *m, float *probs, const uint8_t *context,
			     size_t len)
{
	size_t T = m->cfg.seq_len, V = m->cfg.vocab;
	uint8_t *win;
	int err;
	if (!probs || !context || len < 1 || len > T)
		return IOLM_EINVAL;
	if (!(win = calloc(2, T))) /* inputs, then targets (unused: zeros) */
		return IOLM_ENOMEM;
	memcpy(win, context, len);
	if (!(err = model_upload_batch(m, win, win + T, 1))) {
		model_forward_ops(m, 1);
		OPS(m)->download(CTX(m), probs, m->a.probs + (len - 1) * V, V * sizeof(float));
	}
	free(win);
	return err;
}

int compute_model_feed(compute_model *m, float *probs, uint8_t byte, size_t pos)
{
	size_t V = m->cfg.vocab;
	if (!probs || pos >= m->cfg.seq_len)
		return IOLM_EINVAL;
	OPS(m)->upload(CTX(m), m->a.tok + pos, &byte, 1);
	forward_rows(m, 1, (long)pos);
	OPS(m)->download(CTX(m), probs, m->a.probs + pos * V, V * sizeof(float));
	return IOLM_OK;
}

int compute_model_grad(compute_model *m, float *loss, const uint8_t *inputs,
		       const uint8_t *targets, uint32_t nb)
{
	int err = compute_model_loss(m, loss, inputs, targets, nb);
	if (err)
		return err;
	model_backward(m, nb);
	return IOLM_OK;
}

int compute_model_step(compute_model *m, float *loss,
		       const uint8_t task_id[static IOLM_HASH_LEN], const uint8_t *data,
		       size_t len)
{
	int err = IOLM_OK;
	size_t n = (size_t)m->B * m->cfg.seq_len;
	uint8_t *buf = malloc(2 * n);
	if (!buf)
		return IOLM_ENOMEM;
	err = compute_batch_draw(buf, buf + n, task_id, m->step, data, len, m->B,
				 m->cfg.seq_len);
	if (err)
		goto out;
	err = compute_model_grad(m, loss, buf, buf + n, m->B);
	if (err)
		goto out;
	err = model_update(m);
out:
	free(buf);
	return err;
}

/* ---------------------------------------------------------------- transfer */

int compute_model_params_get(const compute_model *m, float *out, size_t n)
{
	if (n != m->nparams)
		return IOLM_EINVAL;
	OPS(m)->download(CTX(m), out, m->params, n * sizeof(float));
	return IOLM_OK;
}

int compute_model_params_set(compute_model *m, const float *in, size_t n)
{
	if (n != m->nparams)
		return IOLM_EINVAL;
	OPS(m)->upload(CTX(m), m->params, in, n * sizeof(float));
	return IOLM_OK;
}

int compute_model_grads_get(const compute_model *m, float *out, size_t n)
{
	if (n != m->nparams)
		return IOLM_EINVAL;
	OPS(m)->download(CTX(m), out, m->grads, n * sizeof(float));
	return IOLM_OK;
}
