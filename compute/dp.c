/* The data-parallel step (dp.h, docs/compute.md §7a) and the in-process transport.
 *
 * Only the order of operations lives here: every rank is an ordinary compute_model
 * (model_int.h) whose backward runs in the pieces of model_bwd_piece, and the chain
 * is nothing but "hand the piece's accumulators over, then run the piece with
 * cont = 1" on ranks 1..D-1. */
#include "compute/dp.h"

#include <stdlib.h>

#include "compute/model_int.h"

struct compute_dp {
	unsigned D;
	uint32_t B;
	compute_model *rank[COMPUTE_DP_MAX_RANKS];
	uint32_t first[COMPUTE_DP_MAX_RANKS + 1]; /* sequences [first[r], first[r + 1]) */
	compute_dp_transport *tr;
	uint8_t *batch;                          /* inputs then targets, B T bytes each */
};

/* ---------------------------------------------------------------- local transport */

struct local_ctx {
	compute_backend *be[COMPUTE_DP_MAX_RANKS];
	unsigned n;
};

static void local_pass(void *ctx, int to, void *dst, int from, const void *src,
		       size_t bytes)
{
	struct local_ctx *l = ctx;
	(void)from;
	l->be[to]->ops->copy(l->be[to]->ctx, dst, src, bytes);
}

static void local_broadcast(void *ctx, void *const *bufs, int nranks, int root,
			    size_t bytes)
{
	for (int r = 0; r < nranks; r++)
		if (r != root)
			local_pass(ctx, r, bufs[r], root, bufs[root], bytes);
}

static const struct compute_dp_transport_ops local_ops = {
	.name = "local",
	.pass = local_pass,
	.broadcast = local_broadcast,
};

static void local_destroy(compute_dp_transport *t)
{
	free(t->ctx);
	free(t);
}

int compute_dp_transport_local_create(compute_dp_transport **out,
				      compute_backend *const *be, unsigned nranks)
{
	*out = NULL;
	if (nranks < 1 || nranks > COMPUTE_DP_MAX_RANKS)
		return IOLM_EINVAL;
	compute_dp_transport *t = calloc(1, sizeof *t);
	struct local_ctx *l = calloc(1, sizeof *l);
	if (!t || !l) {
		free(t);
		free(l);
		return IOLM_ENOMEM;
	}
	for (unsigned r = 0; r < nranks; r++)
		l->be[r] = be[r];
	l->n = nranks;
	t->ops = &local_ops;
	t->ctx = l;
	t->destroy = local_destroy;
	*out = t;
	return IOLM_OK;
}

void compute_dp_transport_destroy(compute_dp_transport *t)
{
	if (t)
		t->destroy(t);
}

/* ---------------------------------------------------------------- the model */

void compute_dp_destroy(compute_dp *dp)
{
	if (!dp)
		return;
	for (unsigned r = 0; r < dp->D; r++)
		compute_model_destroy(dp->rank[r]);
	free(dp->batch);
	free(dp);
}

int compute_dp_create(compute_dp **out, const compute_config *cfg, uint32_t batch,
		      const compute_optim *opt, compute_backend *const *be, unsigned nranks,
		      compute_dp_transport *tr)
{
	int err = IOLM_OK;
	compute_dp *dp = NULL;
	*out = NULL;
	if (nranks < 1 || nranks > COMPUTE_DP_MAX_RANKS || !tr)
		return IOLM_EINVAL;
	if (compute_config_check(cfg) || batch < nranks || batch > COMPUTE_MAX_BATCH ||
	    (uint64_t)batch * cfg->seq_len > (1u << 24)) /* compute_model_create's limits */
		return IOLM_ECONFIG;
	dp = calloc(1, sizeof *dp);
	if (!dp)
		return IOLM_ENOMEM;
	dp->D = nranks;
	dp->B = batch;
	dp->tr = tr;
	for (unsigned r = 0; r <= nranks; r++)
		dp->first[r] = (uint32_t)((uint64_t)r * batch / nranks);
	dp->batch = malloc(2 * (size_t)batch * cfg->seq_len);
	if (!dp->batch) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (unsigned r = 0; r < nranks; r++) {
		uint32_t nb = dp->first[r + 1] - dp->first[r];
		if ((err = compute_model_create(&dp->rank[r], cfg, nb, opt, be[r])) ||
		    (err = model_chain_enable(dp->rank[r])))
			goto out;
	}
	*out = dp;
	dp = NULL;
out:
	compute_dp_destroy(dp);
	return err;
}

compute_model *compute_dp_model(compute_dp *dp)
{
	return dp->rank[dp->D - 1];
}

compute_model *compute_dp_rank(compute_dp *dp, unsigned r)
{
	return r < dp->D ? dp->rank[r] : NULL;
}

/* Every rank gets the last rank's parameters and step. */
static void dp_sync(compute_dp *dp)
{
	compute_model *last = compute_dp_model(dp);
	void *bufs[COMPUTE_DP_MAX_RANKS];
	for (unsigned r = 0; r < dp->D; r++) {
		bufs[r] = dp->rank[r]->params;
		dp->rank[r]->step = last->step;
	}
	dp->tr->ops->broadcast(dp->tr->ctx, bufs, (int)dp->D, (int)dp->D - 1,
			       last->nparams * sizeof(float));
}

/* Hand piece i's accumulators from rank r - 1 to rank r. */
static void dp_hand_over(compute_dp *dp, size_t piece, unsigned r)
{
	struct model_acc from[3], to[3];
	size_t n = model_bwd_accs(dp->rank[r - 1], piece, from);
	(void)model_bwd_accs(dp->rank[r], piece, to); /* the same regions, rank r's copy */
	for (size_t k = 0; k < n; k++)
		dp->tr->ops->pass(dp->tr->ctx, (int)r, to[k].p, (int)r - 1, from[k].p,
				  from[k].bytes);
}

int compute_dp_grad(compute_dp *dp, float *loss, const uint8_t *inputs,
		    const uint8_t *targets)
{
	int err;
	uint32_t T = dp->rank[0]->cfg.seq_len;
	uint32_t N = dp->B * T;
	dp_sync(dp);
	for (unsigned r = 0; r < dp->D; r++) {
		size_t off = (size_t)dp->first[r] * T;
		uint32_t nb = dp->first[r + 1] - dp->first[r];
		if ((err = model_upload_batch(dp->rank[r], inputs + off, targets + off, nb)))
			return err;
		model_forward_ops(dp->rank[r], nb);
	}
	/* mean loss: the rows in order across the ranks, then one division */
	float s = 0.0f;
	for (unsigned r = 0; r < dp->D; r++) {
		uint32_t nb = dp->first[r + 1] - dp->first[r];
		model_download_losses(dp->rank[r], nb);
		for (size_t n = 0; n < (size_t)nb * T; n++)
			s = s + dp->rank[r]->host_losses[n];
	}
	*loss = s / (float)N;
	if (!model_finite(*loss))
		return IOLM_ENONFINITE;
	float dloss = 1.0f / (float)N;
	size_t pieces = model_bwd_count(dp->rank[0]);
	for (size_t i = 0; i < pieces; i++)
		for (unsigned r = 0; r < dp->D; r++) {
			if (r > 0)
				dp_hand_over(dp, i, r);
			model_bwd_piece(dp->rank[r], i, dp->first[r + 1] - dp->first[r], dloss,
					r > 0, r == dp->D - 1);
		}
	return IOLM_OK;
}

int compute_dp_step(compute_dp *dp, float *loss,
		    const uint8_t task_id[static IOLM_HASH_LEN], const uint8_t *data,
		    size_t len)
{
	compute_model *last = compute_dp_model(dp);
	size_t n = (size_t)dp->B * last->cfg.seq_len;
	int err = compute_batch_draw(dp->batch, dp->batch + n, task_id, last->step, data, len,
				     dp->B, last->cfg.seq_len);
	if (err)
		return err;
	if ((err = compute_dp_grad(dp, loss, dp->batch, dp->batch + n)))
		return err;
	return model_update(last);
}
