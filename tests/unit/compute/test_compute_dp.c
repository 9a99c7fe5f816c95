/* The data-parallel step (compute/dp.h) on D = 1..5 CPU "ranks" in one process (the
 * in-process transport) against the plain single-backend step, bit for bit: losses
 * and state hashes after every step, the gradient, over configs with odd sizes and
 * batches that do not divide by D (down to one sequence per rank). The ranks run
 * with different thread counts, which must not matter either.
 *
 * The data is varied enough that the order of the row sums matters: adding the
 * ranks' partial gradients (each summed from 0.0f, the usual all-reduce) gives other
 * bits than the chain (partial_sums_differ_from_the_chain), so a chain run in the
 * wrong order, or not at all, cannot pass the equality tests. */
#include "../test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "compute/backend.h"
#include "compute/compute.h"
#include "compute/dp.h"

static const uint8_t task[32] = { 7, 1, 9 };

#define DATA_LEN 3000

/* Bytes from a 40-letter alphabet, so vocabulary rows recur across ranks. */
static uint8_t *text(void)
{
	uint8_t *d = malloc(DATA_LEN);
	uint64_t s = 99;
	assert_non_null(d);
	for (size_t i = 0; i < DATA_LEN; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		d[i] = (uint8_t)(' ' + (s >> 33) % 40);
	}
	return d;
}

struct cfgcase {
	compute_config c;
	uint32_t B;
	int clip; /* warmup, cosine decay and clipping */
};

static const struct cfgcase cases[] = {
	{ { 2, 32, 4, 16, COMPUTE_VOCAB, 5 }, 5, 1 },
	{ { 1, 24, 3, 7, COMPUTE_VOCAB, 11 }, 7, 0 },
	{ { 2, 20, 2, 9, COMPUTE_VOCAB, 3 }, 4, 1 },
};

static void optim_for(compute_optim *o, int clip)
{
	compute_optim_default(o);
	o->lr = 1e-2f;
	if (clip) {
		o->warmup_steps = 2;
		o->total_steps = 6;
		o->grad_clip = 0.5f;
	}
}

/* D CPU backends (rank r with r % 3 + 1 threads) and the in-process transport, and
 * beside them the plain model on its own backend (one, m) to compare with. */
struct ranks {
	compute_backend *be[COMPUTE_DP_MAX_RANKS];
	compute_dp_transport *tr;
	compute_dp *dp;
	unsigned D;
	compute_backend *one;
	compute_model *m;
};

static void ranks_init(struct ranks *k, const struct cfgcase *cc, unsigned D)
{
	compute_optim o;
	optim_for(&o, cc->clip);
	memset(k, 0, sizeof *k);
	k->D = D;
	for (unsigned r = 0; r < D; r++)
		assert_int_equal(compute_backend_cpu_create(&k->be[r], r % 3 + 1), IOLM_OK);
	assert_int_equal(compute_dp_transport_local_create(&k->tr, k->be, D), IOLM_OK);
	assert_int_equal(compute_dp_create(&k->dp, &cc->c, cc->B, &o, k->be, D, k->tr),
			 IOLM_OK);
	assert_int_equal(compute_backend_cpu_create(&k->one, 2), IOLM_OK);
	assert_int_equal(compute_model_create(&k->m, &cc->c, cc->B, &o, k->one), IOLM_OK);
}

static void ranks_release(struct ranks *k)
{
	compute_model_destroy(k->m);
	compute_backend_destroy(k->one);
	compute_dp_destroy(k->dp);
	compute_dp_transport_destroy(k->tr);
	for (unsigned r = 0; r < k->D; r++)
		compute_backend_destroy(k->be[r]);
}

static float *grads_of(compute_model *m)
{
	size_t n = compute_model_param_count(m);
	float *g = malloc(n * sizeof *g);
	assert_non_null(g);
	assert_int_equal(compute_model_grads_get(m, g, n), IOLM_OK);
	return g;
}

static void same_floats(const char *what, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof *a)) {
			printf("# %s: element %zu: %a vs %a\n", what, i, (double)a[i],
			       (double)b[i]);
			fail();
		}
}

/* ---------------------------------------------------------------- training */

/* `steps` steps of m and dp side by side: the same loss bits and state hash after
 * every one. */
static void step_both(compute_model *m, compute_dp *dp, const uint8_t *data, int steps,
		      const char *what)
{
	for (int s = 0; s < steps; s++) {
		float l1, l2;
		uint8_t h1[32], h2[32];
		assert_int_equal(compute_model_step(m, &l1, task, data, DATA_LEN), IOLM_OK);
		assert_int_equal(compute_dp_step(dp, &l2, task, data, DATA_LEN), IOLM_OK);
		assert_int_equal(compute_model_state_hash(m, h1), IOLM_OK);
		assert_int_equal(compute_model_state_hash(compute_dp_model(dp), h2), IOLM_OK);
		if (memcmp(&l1, &l2, sizeof l1) || memcmp(h1, h2, 32))
			printf("# %s: step %d: loss %a vs %a, state %s\n", what, s, (double)l1,
			       (double)l2, memcmp(h1, h2, 32) ? "differs" : "same");
		assert_memory_equal(&l1, &l2, sizeof l1);
		assert_memory_equal(h1, h2, 32);
	}
}

static void steps_equal_single_device(void **state)
{
	(void)state;
	uint8_t *data = text();
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		const struct cfgcase *cc = &cases[ci];
		for (unsigned D = 2; D <= 4 && D <= cc->B; D++) {
			struct ranks k;
			ranks_init(&k, cc, D);
			compute_model *m = k.m;
			char what[48];
			snprintf(what, sizeof what, "case %zu, D = %u", ci, D);
			step_both(m, k.dp, data, 5, what);
			float *g1 = grads_of(m), *g2 = grads_of(compute_dp_model(k.dp));
			same_floats("gradient of the last step", g1, g2,
				    compute_model_param_count(m));
			free(g1);
			free(g2);
			ranks_release(&k);
		}
	}
	free(data);
}

/* One sequence per rank, and D = 1 (the chain of one link is the plain step). */
static void one_sequence_per_rank_and_one_rank(void **state)
{
	(void)state;
	uint8_t *data = text();
	const struct cfgcase *cc = &cases[1]; /* B = 7 */
	unsigned Ds[] = { 7, 1, 5 };
	for (size_t i = 0; i < sizeof Ds / sizeof Ds[0]; i++) {
		struct ranks k;
		ranks_init(&k, cc, Ds[i]);
		step_both(k.m, k.dp, data, 3, "one sequence per rank, or one rank");
		ranks_release(&k);
	}
	free(data);
}

/* Parameters set in the last rank (as a checkpoint load does) reach every rank at the
 * next step. */
static void parameters_set_in_last_rank_reach_all(void **state)
{
	(void)state;
	uint8_t *data = text();
	const struct cfgcase *cc = &cases[0];
	struct ranks k;
	ranks_init(&k, cc, 3);
	compute_model *m = k.m;
	size_t n = compute_model_param_count(m);
	float *p = malloc(n * sizeof *p);
	assert_non_null(p);
	assert_int_equal(compute_model_params_get(m, p, n), IOLM_OK);
	for (size_t i = 0; i < n; i += 7)
		p[i] = p[i] * 1.5f + 0.01f;
	assert_int_equal(compute_model_params_set(m, p, n), IOLM_OK);
	assert_int_equal(compute_model_params_set(compute_dp_model(k.dp), p, n), IOLM_OK);
	step_both(m, k.dp, data, 2, "parameters set");
	free(p);
	ranks_release(&k);
	free(data);
}

/* ---------------------------------------------------------------- order matters */

/* A transport that hands over nothing: the receiver's accumulators are zeroed, so
 * every rank sums its own rows from 0.0f (the partial sums of an all-reduce). */
static void zero_pass(void *ctx, int to, void *dst, int from, const void *src,
		      size_t bytes)
{
	compute_backend **be = ctx;
	(void)from;
	(void)src;
	be[to]->ops->zero(be[to]->ctx, dst, bytes);
}

static void copy_broadcast(void *ctx, void *const *bufs, int nranks, int root,
			   size_t bytes)
{
	compute_backend **be = ctx;
	for (int r = 0; r < nranks; r++)
		if (r != root)
			be[r]->ops->copy(be[r]->ctx, bufs[r], bufs[root], bytes);
}

static const struct compute_dp_transport_ops partial_ops = { "partials", zero_pass,
							     copy_broadcast };

static void partial_sums_differ_from_the_chain(void **state)
{
	(void)state;
	uint8_t *data = text();
	for (unsigned D = 2; D <= 4; D++) {
		const struct cfgcase *cc = &cases[0];
		struct ranks k;
		ranks_init(&k, cc, D);
		compute_model *m = k.m;
		size_t n = compute_model_param_count(m), T = cc->c.seq_len;
		uint8_t *in = malloc(2 * cc->B * T);
		assert_non_null(in);
		assert_int_equal(compute_batch_draw(in, in + cc->B * T, task, 0, data, DATA_LEN,
						    cc->B, (uint32_t)T), IOLM_OK);
		float l1, l2;
		assert_int_equal(compute_model_grad(m, &l1, in, in + cc->B * T, cc->B), IOLM_OK);
		assert_int_equal(compute_dp_grad(k.dp, &l2, in, in + cc->B * T), IOLM_OK);
		assert_memory_equal(&l1, &l2, sizeof l1);
		float *full = grads_of(m), *chain = grads_of(compute_dp_model(k.dp));
		same_floats("chained gradient", full, chain, n);

		/* the same ranks summing from 0.0f each, the partials added in rank order */
		compute_dp_transport zt = { &partial_ops, k.be, NULL };
		compute_dp *zp;
		compute_optim o;
		optim_for(&o, cc->clip);
		assert_int_equal(compute_dp_create(&zp, &cc->c, cc->B, &o, k.be, D, &zt), IOLM_OK);
		assert_int_equal(compute_dp_grad(zp, &l2, in, in + cc->B * T), IOLM_OK);
		float *sum = grads_of(compute_dp_rank(zp, 0));
		for (unsigned r = 1; r < D; r++) {
			float *g = grads_of(compute_dp_rank(zp, r));
			for (size_t i = 0; i < n; i++)
				sum[i] = sum[i] + g[i];
			free(g);
		}
		/* wte aside: its vocabulary sums stay in the ranks' own accumulators */
		const char *name;
		size_t wte_off, wte_n, differ = 0, compared = 0;
		compute_config_tensor(&cc->c, 0, &name, &wte_off, &wte_n);
		for (size_t i = wte_off + wte_n; i < n; i++) {
			compared++;
			if (memcmp(&sum[i], &full[i], sizeof *sum))
				differ++;
			/* the partial sums are a fair alternative: close to the chain's */
			assert_true(fabsf(sum[i] - full[i]) <= 1e-4f + 1e-3f * fabsf(full[i]));
		}
		printf("# D = %u: partial sums differ from the chain in %zu of %zu elements\n",
		       D, differ, compared);
		assert_true(differ > compared / 100);
		free(sum);
		free(full);
		free(chain);
		free(in);
		compute_dp_destroy(zp);
		ranks_release(&k);
	}
	free(data);
}

/* ---------------------------------------------------------------- arguments */

static void bad_arguments_are_refused(void **state)
{
	(void)state;
	const struct cfgcase *cc = &cases[1];
	compute_optim o;
	compute_backend *be[COMPUTE_DP_MAX_RANKS + 1] = { 0 };
	compute_dp_transport *tr;
	compute_dp *dp = (compute_dp *)&dp;
	optim_for(&o, 0);
	for (unsigned r = 0; r < 8; r++)
		assert_int_equal(compute_backend_cpu_create(&be[r], 1), IOLM_OK);
	assert_int_equal(compute_dp_transport_local_create(&tr, be, 0), IOLM_EINVAL);
	assert_null(tr);
	assert_int_equal(compute_dp_transport_local_create(&tr, be, COMPUTE_DP_MAX_RANKS + 1),
			 IOLM_EINVAL);
	assert_int_equal(compute_dp_transport_local_create(&tr, be, 8), IOLM_OK);
	/* every rank needs a sequence: batch 7 over 8 ranks */
	assert_int_equal(compute_dp_create(&dp, &cc->c, 7, &o, be, 8, tr), IOLM_ECONFIG);
	assert_null(dp);
	assert_int_equal(compute_dp_create(&dp, &cc->c, 7, &o, be, 0, tr), IOLM_EINVAL);
	assert_int_equal(compute_dp_create(&dp, &cc->c, 7, &o, be, 2, NULL), IOLM_EINVAL);
	compute_config bad = cc->c;
	bad.n_head = 5; /* 24 % 5 != 0 */
	assert_int_equal(compute_dp_create(&dp, &bad, 7, &o, be, 2, tr), IOLM_ECONFIG);
	compute_dp_transport_destroy(tr);
	/* NCCL: absent from the build, or (built) no two devices here, or two devices */
	compute_dp_transport *nt = (compute_dp_transport *)&nt;
	int dev[2] = { 0, 1 };
	int e = compute_dp_transport_nccl_create(&nt, dev, 2);
	if (!compute_dp_transport_nccl_built())
		assert_int_equal(e, IOLM_ENCCL);
	if (e)
		assert_null(nt);
	compute_dp_transport_destroy(nt);
	for (unsigned r = 0; r < 8; r++)
		compute_backend_destroy(be[r]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(steps_equal_single_device),
		cmocka_unit_test(one_sequence_per_rank_and_one_rank),
		cmocka_unit_test(parameters_set_in_last_rank_reach_all),
		cmocka_unit_test(partial_sums_differ_from_the_chain),
		cmocka_unit_test(bad_arguments_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
