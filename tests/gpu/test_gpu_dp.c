/* The data-parallel step (compute/dp.h) on CUDA against the single-device CPU step,
 * bit for bit: losses and state hashes after every step, then the gradient of one
 * more batch.
 *
 *   emulated_ranks_on_one_gpu_match_cpu   D = 2, 3 CUDA backends on device 0 joined by
 *                                         the in-process transport (cudaMemcpy between
 *                                         the ranks' buffers): the chain of CUDA kernels
 *                                         with cont, on a machine with one GPU;
 *   nccl_over_devices_matches_cpu         one rank per device (up to 4) through NCCL,
 *                                         when the build has NCCL and the machine at
 *                                         least two devices; skipped otherwise.
 *
 * Exits 77 (skipped) when no CUDA device is present. */
#include "../unit/test_util.h"
#include "gpu_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "compute/compute.h"
#include "compute/dp.h"

#define STEPS 8
#define DATA_LEN 20000

static const uint8_t task[32] = { 4, 4, 2 };

static uint8_t *text(void)
{
	uint8_t *d = malloc(DATA_LEN);
	assert_non_null(d);
	uint64_t x = 0x0badc0ffee123457ull;
	for (size_t i = 0; i < DATA_LEN; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned r = (unsigned)(x >> 40) % 32;
		d[i] = r < 5 ? ' ' : (uint8_t)('a' + r % 26);
	}
	return d;
}

struct gcase {
	compute_config c;
	uint32_t B;
	float lr, clip;
	uint32_t warmup;
};

static const struct gcase cases[] = {
	{ { 2, 64, 4, 32, COMPUTE_VOCAB, 7 }, 5, 3e-3f, 1.0f, 3 },
	{ { 2, 48, 3, 37, COMPUTE_VOCAB, 11 }, 3, 1e-2f, 0.5f, 0 },
};

static void optim_of(compute_optim *o, const struct gcase *g)
{
	compute_optim_default(o);
	o->lr = g->lr;
	o->grad_clip = g->clip;
	o->warmup_steps = g->warmup;
	o->total_steps = g->warmup ? 20 : 0;
}

/* Train the CPU model and dp side by side, then compare one more gradient. */
static void compare(const struct gcase *g, compute_dp *dp)
{
	compute_backend *cpu;
	compute_model *m;
	compute_optim o;
	uint8_t *data = text();
	optim_of(&o, g);
	assert_int_equal(compute_backend_cpu_create(&cpu, 4), IOLM_OK);
	assert_int_equal(compute_model_create(&m, &g->c, g->B, &o, cpu), IOLM_OK);
	for (int step = 0; step < STEPS; step++) {
		float l[2];
		uint8_t h[2][32];
		assert_int_equal(compute_model_step(m, &l[0], task, data, DATA_LEN), IOLM_OK);
		assert_int_equal(compute_dp_step(dp, &l[1], task, data, DATA_LEN), IOLM_OK);
		assert_int_equal(compute_model_state_hash(m, h[0]), IOLM_OK);
		assert_int_equal(compute_model_state_hash(compute_dp_model(dp), h[1]), IOLM_OK);
		printf("# step %d: loss cpu %a dp %a, state %s\n", step, (double)l[0],
		       (double)l[1], memcmp(h[0], h[1], 32) ? "DIFFERS" : "same");
		assert_memory_equal(&l[0], &l[1], sizeof(float));
		assert_memory_equal(h[0], h[1], 32);
	}
	size_t n = compute_model_param_count(m), nt = (size_t)g->B * g->c.seq_len;
	float *gr[2] = { malloc(n * sizeof(float)), malloc(n * sizeof(float)) };
	uint8_t *in = malloc(2 * nt);
	float l[2];
	assert_true(gr[0] && gr[1] && in);
	assert_int_equal(compute_batch_draw(in, in + nt, task, 500, data, DATA_LEN, g->B,
					    g->c.seq_len), IOLM_OK);
	assert_int_equal(compute_model_grad(m, &l[0], in, in + nt, g->B), IOLM_OK);
	assert_int_equal(compute_dp_grad(dp, &l[1], in, in + nt), IOLM_OK);
	assert_int_equal(compute_model_grads_get(m, gr[0], n), IOLM_OK);
	assert_int_equal(compute_model_grads_get(compute_dp_model(dp), gr[1], n), IOLM_OK);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&gr[0][i], &gr[1][i], sizeof(float)) && bad++ < 5)
			printf("# gradient %zu: cpu %a dp %a\n", i, (double)gr[0][i],
			       (double)gr[1][i]);
	assert_true(bad == 0);
	assert_memory_equal(&l[0], &l[1], sizeof(float));
	free(gr[0]);
	free(gr[1]);
	free(in);
	compute_model_destroy(m);
	compute_backend_destroy(cpu);
	free(data);
}

/* The data-parallel model over the D backends be joined by tr, against the CPU. */
static void run_case(const struct gcase *g, unsigned D, compute_dp_transport *tr,
		     compute_backend **be)
{
	compute_dp *dp;
	compute_optim o;
	optim_of(&o, g);
	assert_int_equal(compute_dp_create(&dp, &g->c, g->B, &o, be, D, tr), IOLM_OK);
	compare(g, dp);
	compute_dp_destroy(dp);
}

static void emulated_ranks_on_one_gpu_match_cpu(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
		for (unsigned D = 2; D <= 3 && D <= cases[ci].B; D++) {
			compute_backend *be[3];
			compute_dp_transport *tr;
			printf("# case %zu: %u ranks on device 0\n", ci, D);
			for (unsigned r = 0; r < D; r++)
				assert_int_equal(compute_backend_cuda_create(&be[r], 0), IOLM_OK);
			assert_int_equal(compute_dp_transport_local_create(&tr, be, D), IOLM_OK);
			run_case(&cases[ci], D, tr, be);
			compute_dp_transport_destroy(tr);
			for (unsigned r = 0; r < D; r++)
				compute_backend_destroy(be[r]);
		}
}

static unsigned device_count(void)
{
	unsigned n = 0;
	compute_backend *be;
	while (n < COMPUTE_DP_MAX_RANKS && compute_backend_cuda_create(&be, (int)n) == IOLM_OK) {
		compute_backend_destroy(be);
		n++;
	}
	return n;
}

static void nccl_over_devices_matches_cpu(void **state)
{
	(void)state;
	unsigned ndev = device_count();
	if (!compute_dp_transport_nccl_built() || ndev < 2) {
		printf("# NCCL %s, %u device(s): skipped\n",
		       compute_dp_transport_nccl_built() ? "built" : "not built", ndev);
		skip();
	}
	unsigned D = ndev < 4 ? ndev : 4;
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		unsigned d = D <= cases[ci].B ? D : cases[ci].B;
		compute_backend *be[4];
		compute_dp_transport *tr;
		int dev[4] = { 0, 1, 2, 3 };
		printf("# case %zu: %u ranks on devices 0..%u through NCCL\n", ci, d, d - 1);
		for (unsigned r = 0; r < d; r++)
			assert_int_equal(compute_backend_cuda_create(&be[r], dev[r]), IOLM_OK);
		assert_int_equal(compute_dp_transport_nccl_create(&tr, dev, d), IOLM_OK);
		run_case(&cases[ci], d, tr, be);
		compute_dp_transport_destroy(tr);
		for (unsigned r = 0; r < d; r++)
			compute_backend_destroy(be[r]);
	}
}

int main(void)
{
	int skip_or_fail = gpu_test_probe();
	if (skip_or_fail)
		return skip_or_fail;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emulated_ranks_on_one_gpu_match_cpu),
		cmocka_unit_test(nccl_over_devices_matches_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
