/* Training behaviour: AdamW lowers the loss, the result is bitwise independent of the
 * thread count and equal to recorded state hashes, batches depend only on (task id,
 * step), and the schedule is sane. */
#include "../test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "compute/compute.h"
#include "core/hex.h"

static const uint8_t task[32] = { 1, 2, 3 };

/* Golden state hashes (state_hash_matches_golden). */
#define GOLD_ODD "7292c71c5d44b88d9cff2abeb93e004258d3b121a03b554f96fe06f4fcc38e4a"
#define GOLD_TILED "33126c9be0354ddf0897b8d87f39a65e4835d4dac5d45d3dde0b3ee243460802"

static uint8_t *repetitive(size_t n)
{
	static const char pat[] = "the cat sat on the mat. ";
	uint8_t *d = malloc(n);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)pat[i % (sizeof pat - 1)];
	return d;
}

static void train(uint8_t hash[32], float *first, float *last, unsigned threads,
		  const compute_config *c, const compute_optim *o, int steps, uint32_t B)
{
	compute_backend *be;
	compute_model *m;
	size_t len = 4096;
	uint8_t *data = repetitive(len);
	assert_int_equal(compute_backend_cpu_create(&be, threads), IOLM_OK);
	assert_int_equal(compute_model_create(&m, c, B, o, be), IOLM_OK);
	for (int s = 0; s < steps; s++) {
		float loss;
		assert_int_equal(compute_model_step(m, &loss, task, data, len), IOLM_OK);
		if (s == 0 && first)
			*first = loss;
		if (last)
			*last = loss;
	}
	assert_int_equal(compute_model_step_count(m), (uint64_t)steps);
	assert_int_equal(compute_model_state_hash(m, hash), IOLM_OK);
	compute_model_destroy(m);
	compute_backend_destroy(be);
	free(data);
}

static void adamw_lowers_loss_on_repetitive_text(void **state)
{
	compute_config c = { 2, 32, 4, 16, 256, 42 };
	compute_optim o;
	compute_optim_default(&o);
	o.lr = 1e-2f;
	o.weight_decay = 0.0f;
	uint8_t h[32];
	float first, last;
	train(h, &first, &last, 2, &c, &o, 30, 4);
	printf("# loss %.4f -> %.4f after 30 steps\n", first, last);
	assert_true(first > 5.0f);
	assert_true(last < 0.5f * first);
}

/* An optimizer with warmup, cosine decay, weight decay and clipping all active. */
static void busy_optim(compute_optim *o)
{
	compute_optim_default(o);
	o->lr = 3e-3f;
	o->warmup_steps = 2;
	o->total_steps = 6;
	o->grad_clip = 0.5f;
}

/* The reference determinism claim: the state hash after several steps, with warmup,
 * cosine decay, weight decay and clipping all active, is the same for 1, 2, 3 threads.
 * Odd sizes (C = 24, T = 13, B = 3) leave partial tiles everywhere. */
static void state_hash_same_for_1_2_3_threads(void **state)
{
	compute_config c = { 2, 24, 3, 13, 256, 9 };
	compute_optim o;
	busy_optim(&o);
	uint8_t h1[32], h2[32], h3[32];
	train(h1, NULL, NULL, 1, &c, &o, 5, 3);
	train(h2, NULL, NULL, 2, &c, &o, 5, 3);
	train(h3, NULL, NULL, 3, &c, &o, 5, 3);
	assert_memory_equal(h1, h2, 32);
	assert_memory_equal(h1, h3, 32);
	/* and the hash moves with the state: one step less differs */
	uint8_t h4[32];
	train(h4, NULL, NULL, 3, &c, &o, 4, 3);
	assert_memory_not_equal(h1, h4, 32);
}

/* The state hash after a few steps equals a value recorded once (docs/compute.md fixes
 * every operation's order, so any change of a summation order, a contraction or a kernel
 * rewrite that is not bit-exact shows here, on every backend and thread count). Two
 * shapes: odd sizes, where the matmuls run mostly in edge blocks, and sizes that fill
 * the CPU's register tiles. Recorded before the matmul kernels were register-blocked. */
static void state_hash_matches_golden(void **state)
{
	static const struct {
		compute_config c;
		uint32_t B;
		int steps;
		const char *hex;
	} cases[] = {
		{ { 2, 24, 3, 13, 256, 9 }, 3, 5, GOLD_ODD },
		{ { 2, 64, 4, 32, 256, 7 }, 4, 3, GOLD_TILED },
	};
	compute_optim o;
	busy_optim(&o);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t h[32];
		char hex[65];
		train(h, NULL, NULL, 2, &cases[i].c, &o, cases[i].steps, cases[i].B);
		iolm_hex_encode(hex, sizeof hex, h, sizeof h);
		printf("# state hash %zu: %s\n", i, hex);
		assert_string_equal(hex, cases[i].hex);
	}
}

static void batches_depend_on_task_and_step_only(void **state)
{
	uint8_t *data = repetitive(1000);
	for (size_t i = 0; i < 1000; i++)
		data[i] = (uint8_t)(i * 7 + i / 13);
	uint8_t a[2][64], b[2][64], c2[2][64];
	uint8_t other[32] = { 9 };
	assert_int_equal(compute_batch_draw(a[0], a[1], task, 5, data, 1000, 4, 16), IOLM_OK);
	assert_int_equal(compute_batch_draw(b[0], b[1], task, 5, data, 1000, 4, 16), IOLM_OK);
	assert_memory_equal(a, b, sizeof a);
	assert_int_equal(compute_batch_draw(c2[0], c2[1], task, 6, data, 1000, 4, 16), IOLM_OK);
	assert_memory_not_equal(a[0], c2[0], 64);
	assert_int_equal(compute_batch_draw(c2[0], c2[1], other, 5, data, 1000, 4, 16), IOLM_OK);
	assert_memory_not_equal(a[0], c2[0], 64);
	/* targets are the inputs shifted by one byte of the dataset */
	for (int s = 0; s < 4; s++)
		assert_memory_equal(a[0] + 16 * s + 1, a[1] + 16 * s, 15);
	/* a window of T + 1 bytes must fit */
	assert_int_equal(compute_batch_draw(a[0], a[1], task, 0, data, 16, 1, 16), IOLM_EDATA);
	assert_int_equal(compute_batch_draw(a[0], a[1], task, 0, data, 17, 4, 16), IOLM_OK);
	assert_memory_equal(a[0], data, 16);
	free(data);
}

static void bad_configs_are_refused(void **state)
{
	compute_config c = { 2, 30, 4, 16, 256, 0 }; /* 30 % 4 != 0 */
	compute_optim o;
	compute_optim_default(&o);
	compute_backend *be;
	compute_model *m;
	assert_int_equal(compute_config_check(&c), IOLM_ECONFIG);
	c.n_embd = 32;
	assert_int_equal(compute_config_check(&c), IOLM_OK);
	c.vocab = 512;
	assert_int_equal(compute_config_check(&c), IOLM_ECONFIG);
	c.vocab = 256;
	c.seq_len = COMPUTE_MAX_SEQ + 1;
	assert_int_equal(compute_config_check(&c), IOLM_ECONFIG);
	c.seq_len = 16;
	c.n_layer = 0;
	assert_int_equal(compute_config_check(&c), IOLM_ECONFIG);
	c.n_layer = 1;
	o.lr = NAN;
	assert_int_equal(compute_optim_check(&o), IOLM_ECONFIG);
	o.lr = 1e-3f;
	o.beta2 = 1.0f;
	assert_int_equal(compute_optim_check(&o), IOLM_ECONFIG);
	o.beta2 = 0.99f;
	assert_int_equal(compute_backend_cpu_create(&be, 0), IOLM_EINVAL);
	assert_int_equal(compute_backend_cpu_create(&be, 1), IOLM_OK);
	assert_int_equal(compute_model_create(&m, &c, 0, &o, be), IOLM_ECONFIG);
	assert_null(m);
	assert_int_equal(compute_model_create(&m, &c, 2, &o, be), IOLM_OK);
	uint8_t short_data[8] = { 0 };
	float loss;
	assert_int_equal(compute_model_step(m, &loss, task, short_data, 8), IOLM_EDATA);
	assert_int_equal(compute_model_step_count(m), 0);
	assert_int_equal(compute_model_eval(m, &loss, short_data, 8, 0), IOLM_EDATA);
	compute_model_destroy(m);
	compute_backend_destroy(be);
}

/* One embedding row (a byte the text never holds) at 1e30: the loss stays finite (the
 * logit of that byte dwarfs the target's), but the gradient's sum of squares overflows.
 * The step is refused, with clipping and without, and the model is left as it was: NaN
 * and infinity must not reach the state, whose NaN bits would differ between backends. */
static void a_non_finite_gradient_is_refused(void **state)
{
	(void)state;
	compute_config c = { 1, 16, 2, 16, 256, 5 };
	const char *name;
	size_t off, cnt, len = 4096, np = compute_config_param_count(&c);
	uint8_t *data = repetitive(len), before[32], after[32];
	float *p = malloc(np * sizeof *p), loss;
	compute_backend *be;
	compute_model *m;
	compute_optim o;

	assert_non_null(p);
	assert_int_equal(compute_backend_cpu_create(&be, 1), IOLM_OK);
	for (int clip = 0; clip < 2; clip++) {
		compute_optim_default(&o);
		o.grad_clip = clip ? 1.0f : 0.0f;
		assert_int_equal(compute_model_create(&m, &c, 2, &o, be), IOLM_OK);
		assert_int_equal(compute_model_step(m, &loss, task, data, len), IOLM_OK);
		assert_int_equal(compute_model_params_get(m, p, np), IOLM_OK);
		compute_config_tensor(&c, 0, &name, &off, &cnt);
		assert_string_equal(name, "wte");
		for (size_t i = 0; i < 16; i++)
			p[off + 200 * 16 + i] = 1e30f;
		assert_int_equal(compute_model_params_set(m, p, np), IOLM_OK);
		assert_int_equal(compute_model_state_hash(m, before), IOLM_OK);
		assert_int_equal(compute_model_step(m, &loss, task, data, len), IOLM_ENONFINITE);
		assert_true(isfinite(loss) && loss > 1e20f); /* finite: the gradient is refused */
		assert_int_equal(compute_model_step_count(m), 1);
		assert_int_equal(compute_model_state_hash(m, after), IOLM_OK);
		assert_memory_equal(before, after, 32);
		compute_model_destroy(m);
	}
	compute_backend_destroy(be);
	free(p);
	free(data);
}

static void eval_loss_independent_of_batch_size(void **state)
{
	compute_config c = { 1, 16, 2, 8, 256, 3 };
	compute_optim o;
	compute_optim_default(&o);
	uint8_t *data = repetitive(300);
	float l1, l3;
	compute_backend *be;
	compute_model *m1, *m3;
	assert_int_equal(compute_backend_cpu_create(&be, 2), IOLM_OK);
	assert_int_equal(compute_model_create(&m1, &c, 1, &o, be), IOLM_OK);
	assert_int_equal(compute_model_create(&m3, &c, 3, &o, be), IOLM_OK);
	assert_int_equal(compute_model_eval(m1, &l1, data, 300, 0), IOLM_OK);
	assert_int_equal(compute_model_eval(m3, &l3, data, 300, 0), IOLM_OK);
	assert_true(l1 == l3);
	assert_true(fabsf(l1 - 5.545f) < 0.1f);
	compute_model_destroy(m1);
	compute_model_destroy(m3);
	compute_backend_destroy(be);
	free(data);
}

/* A model of config c trained `steps` steps (batch `batch`, lr 0.01) on data into *m,
 * and a batch-1 model with its parameters into *one. */
static void trained_pair(compute_model **m, compute_model **one, compute_backend *be,
			 const compute_config *c, uint32_t batch, int steps, const uint8_t *data,
			 size_t len)
{
	compute_optim o;
	float loss;
	compute_optim_default(&o);
	o.lr = 0.01f;
	assert_int_equal(compute_model_create(m, c, batch, &o, be), IOLM_OK);
	for (int s = 0; s < steps; s++)
		assert_int_equal(compute_model_step(*m, &loss, task, data, len), IOLM_OK);
	size_t n = compute_model_param_count(*m);
	float *params = malloc(n * sizeof *params);
	assert_non_null(params);
	assert_int_equal(compute_model_params_get(*m, params, n), IOLM_OK);
	assert_int_equal(compute_model_create(one, c, 1, &o, be), IOLM_OK);
	assert_int_equal(compute_model_params_set(*one, params, n), IOLM_OK);
	free(params);
}

/* The next-byte distribution after each prefix of a window, taken one prefix at a time,
 * gives back the window's training loss (so each prefix's row is the full forward's row:
 * causal, and at the right position), and sums to 1. Trained a little first, so the
 * distribution is far from uniform. */
static void next_probs_give_the_training_loss(void **state)
{
	compute_config c = { 2, 16, 2, 12, 256, 5 };
	size_t len = 600;
	uint8_t *data = repetitive(len);
	float probs[256], loss, p_max = 0.0f;
	double nll = 0.0;
	compute_backend *be;
	compute_model *m, *m1;
	(void)state;
	assert_int_equal(compute_backend_cpu_create(&be, 2), IOLM_OK);
	trained_pair(&m, &m1, be, &c, 4, 40, data, len);
	const uint8_t *in = data + 7, *tgt = data + 8;
	assert_int_equal(compute_model_loss(m1, &loss, in, tgt, 1), IOLM_OK);
	for (size_t t = 0; t < c.seq_len; t++) {
		double sum = 0.0;
		assert_int_equal(compute_model_next_probs(m1, probs, in, t + 1), IOLM_OK);
		for (int v = 0; v < 256; v++)
			sum += probs[v];
		assert_true(fabs(sum - 1.0) < 1e-5);
		nll -= log(probs[tgt[t]]);
		if (probs[tgt[t]] > p_max)
			p_max = probs[tgt[t]];
	}
	nll /= c.seq_len;
	assert_true(fabs(nll - loss) < 1e-4 * (1.0 + loss));
	assert_true(p_max > 0.5f); /* it learned the pattern: not the uniform 1/256 */
	assert_int_equal(compute_model_next_probs(m1, probs, in, 0), IOLM_EINVAL);
	assert_int_equal(compute_model_next_probs(m1, probs, in, c.seq_len + 1), IOLM_EINVAL);
	compute_model_destroy(m);
	compute_model_destroy(m1);
	compute_backend_destroy(be);
	free(data);
}

/* compute_model_feed, byte after byte from position 0, and after a prefix taken by
 * compute_model_next_probs, gives the very bits of compute_model_next_probs over the
 * same context, at every position of the window (on a model of odd sizes: 3 layers, 3
 * heads of 8, a window of 13). */
static void feed_gives_the_bits_of_next_probs(void **state)
{
	compute_config c = { 3, 24, 3, 13, 256, 11 };
	size_t len = 500;
	uint8_t *data = repetitive(len);
	float want[256], got[256];
	compute_backend *be;
	compute_model *m, *feed;
	(void)state;
	assert_int_equal(compute_backend_cpu_create(&be, 3), IOLM_OK);
	trained_pair(&m, &feed, be, &c, 2, 10, data, len);
	const uint8_t *in = data + 3;
	for (size_t t = 0; t < c.seq_len; t++) {
		assert_int_equal(compute_model_feed(feed, got, in[t], t), IOLM_OK);
		assert_int_equal(compute_model_next_probs(m, want, in, t + 1), IOLM_OK);
		assert_memory_equal(got, want, sizeof got);
	}
	/* a prefix by the whole-window pass, the rest fed */
	assert_int_equal(compute_model_next_probs(feed, got, in + 100, 5), IOLM_OK);
	for (size_t t = 5; t < c.seq_len; t++) {
		assert_int_equal(compute_model_feed(feed, got, in[100 + t], t), IOLM_OK);
		assert_int_equal(compute_model_next_probs(m, want, in + 100, t + 1), IOLM_OK);
		assert_memory_equal(got, want, sizeof got);
	}
	assert_int_equal(compute_model_feed(feed, got, 'x', c.seq_len), IOLM_EINVAL);
	assert_int_equal(compute_model_feed(feed, NULL, 'x', 0), IOLM_EINVAL);
	compute_model_destroy(m);
	compute_model_destroy(feed);
	compute_backend_destroy(be);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(next_probs_give_the_training_loss),
		cmocka_unit_test(feed_gives_the_bits_of_next_probs),
		cmocka_unit_test(adamw_lowers_loss_on_repetitive_text),
		cmocka_unit_test(state_hash_same_for_1_2_3_threads),
		cmocka_unit_test(state_hash_matches_golden),
		cmocka_unit_test(batches_depend_on_task_and_step_only),
		cmocka_unit_test(bad_configs_are_refused),
		cmocka_unit_test(eval_loss_independent_of_batch_size),
		cmocka_unit_test(a_non_finite_gradient_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
