/* Whole training steps on the CUDA backend against the CPU reference: two models with
 * the same config, optimizer and data, one per backend, stepped side by side for 20
 * steps; after every step the losses must be the same bits and the state hashes
 * (parameters, AdamW moments, step) equal. Then the gradients of one more batch and
 * the eval loss are compared too. Configs: a small regular one with warmup, cosine
 * decay and clipping (every part of the update), and an awkward one (C = 48, three
 * heads of 16, T = 37, B = 3).
 *
 * On a mismatch it prints the first step and, for the gradients, the first differing
 * parameter index, so a later session with a GPU can locate the operation at fault
 * (then run test_gpu_ops). Exits 77 (skipped) when no CUDA device is present. */
#include "../unit/test_util.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "compute/compute.h"

#define STEPS 20

static const uint8_t task[32] = { 9, 8, 7, 6 };

/* Text-like bytes: words from a small alphabet with a PRNG, so batches differ. */
static uint8_t *text(size_t n)
{
	uint8_t *d = malloc(n);
	assert_non_null(d);
	uint64_t x = 0x1234567887654321ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned r = (unsigned)(x >> 40) % 32;
		d[i] = r < 5 ? ' ' : (uint8_t)('a' + r % 26);
	}
	return d;
}

static void hex(char *out, const uint8_t *h)
{
	for (int i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void steps_case(const compute_config *c, uint32_t B, const compute_optim *o)
{
	compute_backend *be[2];
	compute_model *m[2];
	size_t len = 20000;
	uint8_t *data = text(len);
	assert_int_equal(compute_backend_cpu_create(&be[0], 4), IOLM_OK);
	assert_int_equal(compute_backend_cuda_create(&be[1], 0), IOLM_OK);
	for (int s = 0; s < 2; s++)
		assert_int_equal(compute_model_create(&m[s], c, B, o, be[s]), IOLM_OK);
	uint8_t h[2][32];
	for (int s = 0; s < 2; s++)
		assert_int_equal(compute_model_state_hash(m[s], h[s]), IOLM_OK);
	assert_memory_equal(h[0], h[1], 32); /* same init, uploaded */
	for (int step = 0; step < STEPS; step++) {
		float loss[2];
		for (int s = 0; s < 2; s++) {
			assert_int_equal(compute_model_step(m[s], &loss[s], task, data, len), IOLM_OK);
			assert_int_equal(compute_model_state_hash(m[s], h[s]), IOLM_OK);
		}
		char a[17], b[17];
		hex(a, h[0]);
		hex(b, h[1]);
		printf("# step %2d: loss cpu %a cuda %a, state cpu %s cuda %s\n", step,
		       (double)loss[0], (double)loss[1], a, b);
		assert_memory_equal(&loss[0], &loss[1], sizeof(float));
		assert_memory_equal(h[0], h[1], 32);
	}

	/* gradients of one more batch, element by element */
	size_t n = compute_model_param_count(m[0]), nt = (size_t)B * c->seq_len;
	float *g[2] = { malloc(n * sizeof(float)), malloc(n * sizeof(float)) };
	uint8_t *in = malloc(2 * nt);
	assert_true(g[0] && g[1] && in);
	assert_int_equal(compute_batch_draw(in, in + nt, task, 1000, data, len, B, c->seq_len),
			 IOLM_OK);
	for (int s = 0; s < 2; s++) {
		float loss;
		assert_int_equal(compute_model_grad(m[s], &loss, in, in + nt, B), IOLM_OK);
		assert_int_equal(compute_model_grads_get(m[s], g[s], n), IOLM_OK);
	}
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&g[0][i], &g[1][i], sizeof(float)) && bad++ < 5)
			printf("# gradient %zu: cpu %a cuda %a\n", i, (double)g[0][i],
			       (double)g[1][i]);
	assert_true(bad == 0);

	float ev[2];
	for (int s = 0; s < 2; s++)
		assert_int_equal(compute_model_eval(m[s], &ev[s], data, len, 16), IOLM_OK);
	printf("# eval loss cpu %a cuda %a\n", (double)ev[0], (double)ev[1]);
	assert_memory_equal(&ev[0], &ev[1], sizeof(float));

	free(g[0]); free(g[1]); free(in);
	for (int s = 0; s < 2; s++) {
		compute_model_destroy(m[s]);
		compute_backend_destroy(be[s]);
	}
	free(data);
}

static void small_model_matches_cpu_for_20_steps(void **state)
{
	(void)state;
	compute_config c = { 2, 64, 4, 32, COMPUTE_VOCAB, 7 };
	compute_optim o;
	compute_optim_default(&o);
	o.lr = 3e-3f;
	o.warmup_steps = 5;
	o.total_steps = 30;
	o.grad_clip = 1.0f;
	steps_case(&c, 4, &o);
}

static void awkward_model_matches_cpu_for_20_steps(void **state)
{
	(void)state;
	compute_config c = { 2, 48, 3, 37, COMPUTE_VOCAB, 11 };
	compute_optim o;
	compute_optim_default(&o);
	o.lr = 1e-2f;
	o.grad_clip = 0.5f;
	steps_case(&c, 3, &o);
}

int main(void)
{
	int skip_or_fail = gpu_test_probe();
	if (skip_or_fail)
		return skip_or_fail;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_model_matches_cpu_for_20_steps),
		cmocka_unit_test(awkward_model_matches_cpu_for_20_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
