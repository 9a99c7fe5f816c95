/* The verifier: honest work verifies; each kind of cheating is rejected with its
 * reason; the sampler catches a cheater at the rate 1 - (1 - f)^s predicts. */
#define _DEFAULT_SOURCE
#include "../test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "compute/compute.h"

#define NSEG 4
#define K 2
#define DATA_LEN 2048

/* How a test miner deviates from the honest run (-1: not at all). */
struct cheat {
	int skip_step;    /* this step is not trained (its loss copied from the last) */
	int swap_step;    /* this step trains on another task's batch */
	int loss_step;    /* this step's claimed loss is 1 micro-nat off */
	int eval_off;     /* the claimed eval loss is 1 micro-nat off */
	unsigned fake;    /* bit j: segment j trained on another task's batches */
};

static const struct cheat honest = { -1, -1, -1, 0, 0 };

struct fixture {
	char dir[64];
	compute_task task;
	uint8_t data[DATA_LEN];
	compute_backend *be;
	uint8_t *claim;
	size_t claim_len;
	uint8_t root[32];
};

static void task_init(compute_task *t, uint32_t nseg_samples)
{
	memset(t, 0, sizeof *t);
	t->id[0] = 7;
	t->cfg = (compute_config){ 1, 16, 2, 8, COMPUTE_VOCAB, 5 };
	compute_optim_default(&t->opt);
	t->opt.lr = 1e-2f;
	t->batch = 2;
	t->seg_len = K;
	t->samples = nseg_samples;
	t->eval_windows = 8;
}

static void ckpt_path(char *buf, size_t cap, const char *dir, uint64_t step)
{
	assert_int_equal(compute_checkpoint_name(buf, cap, dir, step), IOLM_OK);
}

/* Train nseg segments as the cheat says, writing checkpoints named by the claimed step
 * and the encoded claim into f. */
static void mine(struct fixture *f, size_t nseg, const struct cheat *ch)
{
	compute_model *m;
	compute_claim c = { .start_step = 0, .seg_len = K, .nseg = nseg };
	uint8_t other[32] = { 99 };
	char path[256];
	c.states = calloc(nseg, 32);
	c.losses = calloc(nseg * K, sizeof *c.losses);
	assert_int_equal(compute_model_create(&m, &f->task.cfg, f->task.batch, &f->task.opt,
					      f->be), IOLM_OK);
	for (size_t s = 0; s < nseg * K; s++) {
		if (s % K == 0) {
			assert_int_equal(compute_model_state_hash(m, c.states + (s / K) * 32),
					 IOLM_OK);
			ckpt_path(path, sizeof path, f->dir, s);
			assert_int_equal(compute_checkpoint_save(m, path), IOLM_OK);
		}
		float loss;
		int fake = (ch->fake >> (s / K)) & 1;
		if ((int)s == ch->skip_step) {
			c.losses[s] = s ? c.losses[s - 1] : 0;
			continue;
		}
		const uint8_t *id = (int)s == ch->swap_step || fake ? other : f->task.id;
		assert_int_equal(compute_model_step(m, &loss, id, f->data, DATA_LEN), IOLM_OK);
		assert_int_equal(compute_loss_micronats(&c.losses[s], loss), IOLM_OK);
		if ((int)s == ch->loss_step)
			c.losses[s] += 1;
	}
	assert_int_equal(compute_model_state_hash(m, c.final_state), IOLM_OK);
	ckpt_path(path, sizeof path, f->dir, nseg * K);
	assert_int_equal(compute_checkpoint_save(m, path), IOLM_OK);
	float ev;
	assert_int_equal(compute_model_eval(m, &ev, f->data, DATA_LEN, f->task.eval_windows),
			 IOLM_OK);
	assert_int_equal(compute_loss_micronats(&c.eval_loss, ev), IOLM_OK);
	c.eval_loss += (uint64_t)ch->eval_off;
	free(f->claim);
	assert_int_equal(compute_claim_encode(&f->claim, &f->claim_len, &c), IOLM_OK);
	assert_int_equal(compute_claim_root(f->root, &c), IOLM_OK);
	compute_model_destroy(m);
	compute_claim_release(&c);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/iolm-verify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	task_init(&f->task, NSEG);
	for (size_t i = 0; i < DATA_LEN; i++)
		f->data[i] = (uint8_t)("the quick brown fox jumps over the lazy dog. "[i % 45]);
	assert_int_equal(compute_backend_cpu_create(&f->be, 2), IOLM_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[256];
	for (uint64_t s = 0; s <= 64 * K; s += K) {
		ckpt_path(path, sizeof path, f->dir, s);
		unlink(path);
	}
	rmdir(f->dir);
	compute_backend_destroy(f->be);
	free(f->claim);
	free(f);
	return 0;
}

static void verify(struct fixture *f, compute_verdict *v, const uint8_t seed[32])
{
	assert_int_equal(compute_verify(v, f->be, &f->task, f->claim, f->claim_len, f->root,
					seed, f->dir, f->data, DATA_LEN, f->data, DATA_LEN),
			 IOLM_OK);
}

/* A seed whose first sample (of nseg) is segment j. */
static void seed_for(uint8_t seed[32], uint32_t j, size_t nseg)
{
	memset(seed, 0, 32);
	for (uint32_t c = 0;; c++) {
		uint32_t idx;
		memcpy(seed, &c, sizeof c);
		assert_int_equal(compute_sample_segments(&idx, 1, nseg, seed), IOLM_OK);
		if (idx == j)
			return;
	}
}

static void honest_work_verifies(void **state)
{
	struct fixture *f = *state;
	compute_verdict v;
	uint8_t seed[32] = { 1 };
	mine(f, NSEG, &honest);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_OK);
	assert_int_equal(v.nsampled, NSEG); /* samples = NSEG: every segment */
	assert_true(v.cpu_s > 0.0 && v.eval_cpu_s <= v.cpu_s);
	/* without the committed root as well */
	assert_int_equal(compute_verify(&v, f->be, &f->task, f->claim, f->claim_len, NULL,
					seed, f->dir, f->data, DATA_LEN, f->data, DATA_LEN),
			 IOLM_OK);
	assert_int_equal(v.reason, IOLM_OK);
}

static void flip_bit(const char *path, long off)
{
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	if (off < 0) {
		assert_int_equal(fseek(fp, 0, SEEK_END), 0);
		off += ftell(fp);
	}
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	int c = fgetc(fp);
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	fputc(c ^ 0x10, fp);
	fclose(fp);
}

/* Any checkpoint (every segment start and the final one), at a tensor byte, a header
 * byte or the trailer: the file's own hash refuses it. */
static void flipped_bit_in_any_checkpoint_is_rejected(void **state)
{
	struct fixture *f = *state;
	const long offs[] = { 1216 + 5, 48, -3 }; /* a parameter, the step, the trailer */
	char path[256];
	for (uint32_t j = 0; j <= NSEG; j++) {
		for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
			compute_verdict v;
			uint8_t seed[32] = { 3 };
			mine(f, NSEG, &honest);
			ckpt_path(path, sizeof path, f->dir, (uint64_t)j * K);
			flip_bit(path, offs[o]);
			verify(f, &v, seed);
			assert_int_equal(v.reason, IOLM_ECKPT_HASH);
			assert_int_equal(v.segment, j);
		}
	}
}

/* A cheater who flips a parameter bit and re-hashes the file consistently: the file
 * loads, but its state is not the claimed one. */
static void rehashed_altered_checkpoint_is_rejected(void **state)
{
	struct fixture *f = *state;
	compute_model *m;
	compute_verdict v;
	char path[256];
	uint8_t seed[32];
	mine(f, NSEG, &honest);
	assert_int_equal(compute_model_create(&m, &f->task.cfg, f->task.batch, &f->task.opt,
					      f->be), IOLM_OK);
	ckpt_path(path, sizeof path, f->dir, 2 * K);
	assert_int_equal(compute_checkpoint_load(m, path), IOLM_OK);
	size_t n = compute_model_param_count(m);
	float *p = malloc(n * sizeof *p);
	assert_int_equal(compute_model_params_get(m, p, n), IOLM_OK);
	uint32_t bits;
	memcpy(&bits, &p[n / 2], 4);
	bits ^= 1;
	memcpy(&p[n / 2], &bits, 4);
	assert_int_equal(compute_model_params_set(m, p, n), IOLM_OK);
	assert_int_equal(compute_checkpoint_save(m, path), IOLM_OK);
	seed_for(seed, 2, NSEG);
	f->task.samples = 1;
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_CKPT);
	assert_int_equal(v.segment, 2);
	free(p);
	compute_model_destroy(m);
}

static void skipped_step_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct cheat ch = honest;
	compute_verdict v;
	uint8_t seed[32];
	ch.skip_step = K + 1; /* the last step of segment 1 */
	mine(f, NSEG, &ch);
	f->task.samples = 1;
	/* the segment with the skip ends in another state */
	seed_for(seed, 1, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_STATE);
	assert_int_equal(v.segment, 1);
	/* every later checkpoint lags one step behind the claim */
	seed_for(seed, 2, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_SKIP);
	assert_int_equal(v.segment, 2);
	/* segment 0 is honest, but then the final checkpoint lags too */
	seed_for(seed, 0, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_SKIP);
	assert_int_equal(v.segment, NSEG);
}

static void wrong_loss_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct cheat ch = honest;
	compute_verdict v;
	uint8_t seed[32];
	ch.loss_step = 2 * K + 1;
	mine(f, NSEG, &ch);
	f->task.samples = 1;
	seed_for(seed, 2, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_LOSS);
	assert_int_equal(v.segment, 2);
	assert_int_equal(v.step, 2 * K + 1);
	/* a sample that misses segment 2 does not see it: detection is by sampling */
	seed_for(seed, 3, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_OK);
}

static void wrong_eval_claim_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct cheat ch = honest;
	compute_verdict v;
	uint8_t seed[32] = { 9 };
	ch.eval_off = 1;
	mine(f, NSEG, &ch);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_EVAL);
	assert_int_equal(v.segment, NSEG);
}

static void swapped_data_batch_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct cheat ch = honest;
	compute_verdict v;
	uint8_t seed[32];
	ch.swap_step = 3 * K;
	mine(f, NSEG, &ch);
	f->task.samples = 1;
	seed_for(seed, 3, NSEG);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_STATE);
	assert_int_equal(v.segment, 3);
	assert_int_equal(v.step, 3 * K); /* the first loss that differs names the step */
}

static void claim_not_matching_root_or_task_is_rejected(void **state)
{
	struct fixture *f = *state;
	compute_verdict v;
	uint8_t seed[32] = { 4 };
	mine(f, NSEG, &honest);
	f->root[0] ^= 1;
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_ROOT);
	f->root[0] ^= 1;
	/* truncated encoding */
	f->claim_len--;
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_CLAIM);
	f->claim_len++;
	/* a claim whose segments have another length than the task's k */
	f->task.seg_len = K + 1;
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_EVERIFY_CLAIM);
	f->task.seg_len = K;
	/* a missing checkpoint */
	char path[256];
	ckpt_path(path, sizeof path, f->dir, NSEG * K);
	unlink(path);
	verify(f, &v, seed);
	assert_int_equal(v.reason, IOLM_ENOTFOUND);
	/* not a verdict: a verifier without enough data */
	assert_int_equal(compute_verify(&v, f->be, &f->task, f->claim, f->claim_len, NULL,
					seed, f->dir, f->data, 8, f->data, DATA_LEN),
			 IOLM_EINVAL);
}

static void claim_round_trips_and_decoder_checks_shape(void **state)
{
	(void)state;
	compute_claim c = { .start_step = 40, .seg_len = 3, .nseg = 2 }, d;
	uint8_t *enc;
	size_t len;
	c.states = calloc(2, 32);
	c.losses = calloc(6, sizeof *c.losses);
	for (int i = 0; i < 6; i++)
		c.losses[i] = 1000u * (uint64_t)i + 17;
	c.states[40] = 5;
	c.final_state[3] = 8;
	c.eval_loss = 123456;
	assert_int_equal(compute_claim_encode(&enc, &len, &c), IOLM_OK);
	assert_int_equal(compute_claim_decode(&d, enc, len, 3), IOLM_OK);
	assert_int_equal(d.start_step, 40);
	assert_int_equal(d.nseg, 2);
	assert_memory_equal(d.states, c.states, 64);
	assert_memory_equal(d.losses, c.losses, 6 * sizeof *c.losses);
	assert_memory_equal(d.final_state, c.final_state, 32);
	assert_int_equal(d.eval_loss, 123456);
	uint8_t r1[32], r2[32];
	assert_int_equal(compute_claim_root(r1, &c), IOLM_OK);
	assert_int_equal(compute_claim_root(r2, &d), IOLM_OK);
	assert_memory_equal(r1, r2, 32);
	compute_claim_release(&d);
	assert_int_equal(compute_claim_decode(&d, enc, len, 2), IOLM_EVERIFY_CLAIM);
	assert_null(d.states);
	uint8_t junk[3] = { 0xff, 0xff, 0xff };
	assert_int_equal(compute_claim_decode(&d, junk, 3, 3), IOLM_EVERIFY_CLAIM);
	free(enc);
	compute_claim_release(&c);
}

/* ---------------------------------------------------------------- sampling */

static void sampler_draws_distinct_indices_deterministically(void **state)
{
	(void)state;
	uint8_t seed[32] = { 42 };
	uint32_t a[8], b[8], all[3];
	assert_int_equal(compute_sample_segments(a, 8, 1000, seed), IOLM_OK);
	assert_int_equal(compute_sample_segments(b, 8, 1000, seed), IOLM_OK);
	assert_memory_equal(a, b, sizeof a);
	for (int i = 0; i < 8; i++) {
		assert_true(a[i] < 1000);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(a[i], a[j]);
	}
	seed[31] ^= 1;
	assert_int_equal(compute_sample_segments(b, 8, 1000, seed), IOLM_OK);
	assert_memory_not_equal(a, b, sizeof a);
	/* s > nseg: every segment once */
	assert_int_equal(compute_sample_segments(all, 8, 3, seed), IOLM_OK);
	assert_int_equal(all[0] + all[1] + all[2], 3);
	assert_true(all[0] != all[1] && all[1] != all[2] && all[0] != all[2]);
	assert_int_equal(compute_sample_segments(all, 1, 0, seed), IOLM_EINVAL);
}

/* A cheater faking the fraction f of 100 000 segments (those with index % 100 < 100 f)
 * is caught when any of the s samples falls on a fake. Over N seeds the caught
 * fraction is binomial with p = 1 - (1 - f)^s up to the difference between sampling
 * without and with replacement (hypergeometric vs binomial, computed exactly below
 * and < 1e-3 here); the tolerance is that difference plus 5 standard deviations
 * sqrt(p(1-p)/N), exceeded by chance with probability < 1e-6 per f. */
static void detection_rate_matches_formula(void **state)
{
	(void)state;
	enum { N = 20000, S = COMPUTE_DEFAULT_SAMPLES };
	const size_t nseg = 100000;
	const int fpct[] = { 5, 10, 25, 50 };
	int caught[4] = { 0 };
	uint8_t seed[32] = { 0 };
	for (uint32_t t = 0; t < N; t++) {
		uint32_t idx[S];
		memcpy(seed, &t, sizeof t);
		assert_int_equal(compute_sample_segments(idx, S, nseg, seed), IOLM_OK);
		for (int k = 0; k < 4; k++) {
			int hit = 0;
			for (int i = 0; i < S; i++)
				hit |= (int)(idx[i] % 100) < fpct[k];
			caught[k] += hit;
		}
	}
	for (int k = 0; k < 4; k++) {
		double f = fpct[k] / 100.0, p = 1.0 - pow(1.0 - f, S);
		double fake = f * (double)nseg, miss = 1.0;
		for (int i = 0; i < S; i++)
			miss *= ((double)nseg - fake - i) / ((double)nseg - i);
		double tol = fabs((1.0 - miss) - p) + 5.0 * sqrt(p * (1.0 - p) / N);
		double got = (double)caught[k] / N;
		printf("# f=%.2f s=%d: caught %.4f, 1-(1-f)^s = %.4f, tolerance %.4f\n", f, S,
		       got, p, tol);
		assert_true(fabs(got - p) <= tol);
	}
}

/* End to end: a cheater fakes 2 of 8 segments (trains them on another task's data);
 * for 24 seeds the real verifier rejects exactly when the sample hits a fake, and the
 * rejection names a faked segment. */
static void real_verifier_catches_exactly_sampled_fakes(void **state)
{
	struct fixture *f = *state;
	struct cheat ch = honest;
	const size_t nseg = 8;
	ch.fake = (1u << 2) | (1u << 5);
	mine(f, nseg, &ch);
	f->task.samples = 2;
	int caught = 0;
	for (uint32_t t = 0; t < 24; t++) {
		uint8_t seed[32] = { 0xaa };
		uint32_t idx[2];
		compute_verdict v;
		memcpy(seed + 1, &t, sizeof t);
		assert_int_equal(compute_sample_segments(idx, 2, nseg, seed), IOLM_OK);
		int hit = ((ch.fake >> idx[0]) & 1) || ((ch.fake >> idx[1]) & 1);
		verify(f, &v, seed);
		assert_int_equal(v.reason != IOLM_OK, hit);
		if (hit) {
			assert_int_equal(v.reason, IOLM_EVERIFY_STATE);
			assert_true((ch.fake >> v.segment) & 1);
		}
		caught += hit;
	}
	printf("# caught %d of 24 (hypergeometric 13/28 = 0.46, 1-(1-f)^s = 0.44)\n", caught);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(claim_round_trips_and_decoder_checks_shape),
		cmocka_unit_test(sampler_draws_distinct_indices_deterministically),
		cmocka_unit_test(detection_rate_matches_formula),
		cmocka_unit_test_setup_teardown(honest_work_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(flipped_bit_in_any_checkpoint_is_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(rehashed_altered_checkpoint_is_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(skipped_step_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_loss_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_eval_claim_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(swapped_data_batch_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(claim_not_matching_root_or_task_is_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(real_verifier_catches_exactly_sampled_fakes, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
