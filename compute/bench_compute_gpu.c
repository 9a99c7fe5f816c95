/* bench_compute_gpu: GPU training throughput of the deterministic step, against the
 * GPU's fp32 peak and against the same step without the determinism constraints. One
 * JSON line per figure (bench/bench_util.h). Usage: bench_compute_gpu [--quick]
 * Exits 77 (skipped) without a CUDA device, 1 when IOLM_GPU_REQUIRED is set.
 *
 * Configs: the reference L=4, C=256, NH=4, T=128, B=8 (as bench_compute) and a bigger
 * one, L=6, C=512, NH=8, T=256, B=16. FLOPs per trained token = 6 P + 12 L T C.
 *
 * gpu_train_tflops        TFLOP/s of the reference step; limit: fp32 peak =
 *                         SMs x FP32 lanes per SM x 2 (an FMA is 2 FLOPs) x clock.
 *                         Lanes per SM (CUDA C Programming Guide, "Arithmetic
 *                         Instructions" throughput table): sm_70/72/75 64, sm_80 64,
 *                         sm_86/87/89 128, sm_90 128, sm_100/120 128. The step
 *                         itself never fuses a*b+c, so 1/2 of this is its real bound.
 * gpu_train_tflops_big    the same for the bigger config.
 * gpu_determinism_cost    deterministic tokens/s / non-deterministic tokens/s on the
 *                         reference config (goal >= 0.8). The non-deterministic step
 *                         is the "cuda-fast" operation table: its matmuls contract
 *                         a*b+c into FMA (different bits from the CPU); everything
 *                         else is shared. Also printed for the bigger config
 *                         (gpu_determinism_cost_big). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "compute/compute.h"
#include "compute/cuda/cuda.h"

struct cfgb {
	const char *tag;
	compute_config cfg;
	uint32_t batch;
};

static int lanes_per_sm(int major, int minor)
{
	if (major < 8)
		return 64;
	if (major == 8 && minor == 0)
		return 64;
	return 128; /* 8.6, 8.7, 8.9, 9.0, 10.x, 12.x */
}

/* Tokens per second of `steps` training steps (after 2 warm-up steps) on a backend
 * made with fast; *tflops the matching rate. */
static int measure(double *tok_s, double *tflops, const struct cfgb *c, int fast,
		   int steps, const uint8_t *data, size_t len)
{
	compute_backend *be = NULL;
	compute_model *m = NULL;
	compute_optim opt;
	uint8_t task[IOLM_HASH_LEN] = { 7 };
	float loss;
	int err;
	compute_optim_default(&opt);
	if ((err = cuda_backend_create(&be, 0, fast)) ||
	    (err = compute_model_create(&m, &c->cfg, c->batch, &opt, be)))
		goto out;
	for (int i = 0; i < 2; i++)
		if ((err = compute_model_step(m, &loss, task, data, len)))
			goto out;
	cuda_sync(be->ctx);
	double t0 = bench_now();
	for (int i = 0; i < steps; i++)
		if ((err = compute_model_step(m, &loss, task, data, len)))
			goto out;
	cuda_sync(be->ctx);
	double dt = bench_now() - t0;
	double tokens = (double)steps * c->batch * c->cfg.seq_len;
	double P = (double)compute_model_param_count(m);
	double flop_tok = 6.0 * P + 12.0 * c->cfg.n_layer * c->cfg.seq_len * c->cfg.n_embd;
	*tok_s = tokens / dt;
	*tflops = tokens * flop_tok / dt / 1e12;
out:
	compute_model_destroy(m);
	compute_backend_destroy(be);
	return err;
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	compute_backend *probe = NULL;
	int err = compute_backend_cuda_create(&probe, 0);
	if (err == IOLM_ECUDA_NODEVICE && !getenv("IOLM_GPU_REQUIRED")) {
		printf("bench_compute_gpu: no CUDA device (%s); skipped\n", iolm_strerror(err));
		return 77;
	}
	if (err) {
		fprintf(stderr, "bench_compute_gpu: %s\n", iolm_strerror(err));
		return 1;
	}
	compute_backend_destroy(probe);
	char name[256];
	int sms, major, minor, khz;
	if (cuda_device_info(0, name, sizeof name, &sms, &major, &minor, &khz))
		return 1;
	double peak = (double)sms * lanes_per_sm(major, minor) * 2.0 * khz * 1e3 / 1e12;
	printf("# %s, sm_%d%d, %d SMs x %d lanes x 2 x %.0f MHz = %.2f TFLOP/s fp32 peak\n",
	       name, major, minor, sms, lanes_per_sm(major, minor), khz / 1e3, peak);

	size_t len = (size_t)1 << 20;
	uint8_t *data = malloc(len);
	if (!data)
		return 1;
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		data[i] = (uint8_t)(x >> 32);
	}
	const struct cfgb cfgs[2] = {
		{ "", { 4, 256, 4, 128, COMPUTE_VOCAB, 1 }, 8 },
		{ "_big", { 6, 512, 8, 256, COMPUTE_VOCAB, 1 }, 16 },
	};
	int steps = quick ? 3 : 20;
	for (int i = 0; i < 2; i++) {
		const struct cfgb *c = &cfgs[i];
		double det_tok, det_tf, fast_tok, fast_tf;
		char fig[64];
		if ((err = measure(&det_tok, &det_tf, c, 0, steps, data, len)) ||
		    (err = measure(&fast_tok, &fast_tf, c, 1, steps, data, len))) {
			fprintf(stderr, "bench_compute_gpu: %s\n", iolm_strerror(err));
			free(data);
			return 1;
		}
		printf("# L=%u C=%u NH=%u T=%u B=%u: deterministic %.0f tokens/s, "
		       "non-deterministic %.0f tokens/s\n", c->cfg.n_layer, c->cfg.n_embd,
		       c->cfg.n_head, c->cfg.seq_len, c->batch, det_tok, fast_tok);
		snprintf(fig, sizeof fig, "gpu_train_tokens_per_s%s", c->tag);
		bench_figure(fig, det_tok, "tokens/s", NULL, 0);
		snprintf(fig, sizeof fig, "gpu_train_tflops%s", c->tag);
		bench_figure(fig, det_tf, "TFLOP/s", "gpu_fp32_peak", peak);
		snprintf(fig, sizeof fig, "gpu_determinism_cost%s", c->tag);
		bench_figure(fig, det_tok / fast_tok, "ratio", NULL, 0);
	}
	free(data);
	return 0;
}
