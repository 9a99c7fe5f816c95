/* The step is correct, not only repeatable: every parameter's gradient against central
 * differences of an independent double-precision forward, and the untrained loss
 * against ln 256.
 *
 * Tolerance of the gradient check. The finite differences are taken in double on the
 * reference (ref.c) with h = 1e-4: truncation error h^2/6 |f'''| stays below 1e-8 for
 * these O(1) parameters, rounding 1e-16/h = 1e-12. The analytic gradient is float:
 * each entry is a sum of at most a few hundred products of O(1) factors, every
 * operation off by at most 2^-24 relative, so its error is about
 * (number of operations in its chain) * 6e-8 * (magnitude of the partial terms),
 * i.e. ~1e-6 of the largest gradient entries of its tensor. We accept
 *   |g - g_fd| <= 1e-4 * max|g_fd over the tensor| + 1e-3 * |g_fd|,
 * a margin of ~100x over that estimate, and tight enough that any wrong term in a
 * backward formula (which shifts entries by a sizable fraction of their scale) fails:
 * the test below also checks that a deliberately perturbed gradient is rejected. */
#include "../test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "compute/compute.h"
#include "compute/iolm_math.h"
#include "ref.h"

static const compute_config tiny = { .n_layer = 2, .n_embd = 8, .n_head = 2, .seq_len = 8,
				     .vocab = 256, .init_seed = 7 };

static void make_tokens(uint8_t *in, uint8_t *tg, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		/* a small alphabet so that some vocabulary rows are used several times */
		in[i] = (uint8_t)(97 + iolm_rand64(seed, i) % 6);
		tg[i] = (uint8_t)(97 + iolm_rand64(seed + 1, i) % 6);
	}
	tg[0] = 200; /* and one target outside it */
}

/* Parameters scaled up from the init so every nonlinearity is exercised. */
static void randomise(float *p, const compute_config *c)
{
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++) {
		const char *name;
		size_t off, cnt;
		compute_config_tensor(c, i, &name, &off, &cnt);
		int gain = name[0] == 'l' && name[3] == 'w'; /* ln?w, lnfw */
		for (size_t e = 0; e < cnt; e++) {
			float z = iolm_normal(1234 + i, e);
			p[off + e] = gain ? 1.0f + 0.2f * z : 0.3f * z;
		}
	}
}

static int within(double g, double fd, double scale)
{
	return fabs(g - fd) <= 1e-4 * scale + 1e-3 * fabs(fd);
}

static void gradients_match_finite_differences(void **state)
{
	compute_backend *be;
	compute_model *m;
	compute_optim opt;
	compute_optim_default(&opt);
	assert_int_equal(compute_backend_cpu_create(&be, 2), IOLM_OK);
	assert_int_equal(compute_model_create(&m, &tiny, 2, &opt, be), IOLM_OK);
	size_t n = compute_model_param_count(m);
	float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
	double *pd = malloc(n * sizeof *pd);
	uint8_t in[16], tg[16];
	make_tokens(in, tg, 16, 99);
	randomise(p, &tiny);
	assert_int_equal(compute_model_params_set(m, p, n), IOLM_OK);
	float loss;
	assert_int_equal(compute_model_grad(m, &loss, in, tg, 2), IOLM_OK);
	assert_int_equal(compute_model_grads_get(m, g, n), IOLM_OK);
	for (size_t i = 0; i < n; i++)
		pd[i] = p[i];
	double ref = ref_loss(&tiny, pd, in, tg, 2);
	/* the float forward agrees with the double reference */
	assert_true(fabs((double)loss - ref) < 1e-5 * ref);

	const double h = 1e-4;
	double *fd = malloc(n * sizeof *fd);
	for (size_t i = 0; i < n; i++) {
		double keep = pd[i];
		pd[i] = keep + h;
		double lp = ref_loss(&tiny, pd, in, tg, 2);
		pd[i] = keep - h;
		double lm = ref_loss(&tiny, pd, in, tg, 2);
		pd[i] = keep;
		fd[i] = (lp - lm) / (2 * h);
	}
	for (unsigned t = 0; t < COMPUTE_NTENSORS; t++) {
		const char *name;
		size_t off, cnt, bad = 0;
		compute_config_tensor(&tiny, t, &name, &off, &cnt);
		double scale = 0, worst = 0;
		for (size_t e = 0; e < cnt; e++)
			scale = fmax(scale, fabs(fd[off + e]));
		assert_true(scale > 1e-6); /* every tensor has a gradient worth checking */
		for (size_t e = 0; e < cnt; e++) {
			double err = fabs(g[off + e] - fd[off + e]);
			worst = fmax(worst, err / scale);
			if (!within(g[off + e], fd[off + e], scale))
				bad++;
		}
		printf("# %-9s n=%5zu max|g|=%.3e worst err/max=%.2e\n", name, cnt, scale, worst);
		assert_int_equal(bad, 0);
		/* the check can fail: a gradient off by 1% of the scale in one entry */
		size_t e = cnt / 2;
		assert_false(within(fd[off + e] + 0.01 * scale, fd[off + e], scale) &&
			     within(fd[off + e] - 0.01 * scale, fd[off + e], scale));
	}
	free(fd);
	free(pd);
	free(g);
	free(p);
	compute_model_destroy(m);
	compute_backend_destroy(be);
}

/* An untrained model predicts nearly uniformly. With unit-variance layernorm outputs and
 * wte entries of std 0.02, each logit has std s = 0.02 sqrt(C) (0.16 at C = 64); for
 * small i.i.d. logits E[loss] = ln V + s^2/2 (1 - 1/V) + O(s^4), so the loss lies in
 * ln 256 +- 2 s^2 (the fluctuation over 256 tokens is of order s^2 / 16, far inside). */
static void untrained_loss_is_ln256(void **state)
{
	compute_config c = { .n_layer = 2, .n_embd = 64, .n_head = 4, .seq_len = 32,
			     .vocab = 256, .init_seed = 1 };
	compute_backend *be;
	compute_model *m;
	compute_optim opt;
	compute_optim_default(&opt);
	assert_int_equal(compute_backend_cpu_create(&be, 1), IOLM_OK);
	assert_int_equal(compute_model_create(&m, &c, 8, &opt, be), IOLM_OK);
	uint8_t in[256], tg[256];
	for (int i = 0; i < 256; i++) {
		in[i] = (uint8_t)(iolm_rand64(5, (uint64_t)i) & 255);
		tg[i] = (uint8_t)(iolm_rand64(6, (uint64_t)i) & 255);
	}
	float loss;
	assert_int_equal(compute_model_loss(m, &loss, in, tg, 8), IOLM_OK);
	double s2 = 0.02 * 0.02 * 64;
	printf("# untrained loss %.6f, ln 256 = %.6f, bound %.4f\n", loss, log(256.0), 2 * s2);
	assert_true(fabs(loss - log(256.0)) < 2 * s2);
	compute_model_destroy(m);
	compute_backend_destroy(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gradients_match_finite_differences),
		cmocka_unit_test(untrained_loss_is_ln256),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
