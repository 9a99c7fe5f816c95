/* bench_compute: CPU training throughput of the deterministic step against limits
 * measured in the same run. Prints JSON lines
 *   {"figure": NAME, "value": V, "unit": U, "limit": LIMIT, "limit_value": L, "ratio": V/L}
 *
 * Reference config (issue 6): L=4, C=256, NH=4, T=128, B=8; threads = all online CPUs
 * (or argv[1]). FLOPs per trained token = 6 P + 12 L T C (weights forward+backward,
 * plus attention scores and mixing), P the parameter count.
 * Limits:
 *   cpu_muladd_peak  vectorised independent multiply+add chains on every thread: the
 *                    peak of the operations the deterministic step may use (it keeps
 *                    a*b+c unfused), so ratio = fraction of the usable peak;
 *   naive_matmul     the textbook triple loop, one thread, same arithmetic. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "compute/compute.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PEAK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PEAK_CLONES
#endif

#define PEAK_W 128

/* 2 * PEAK_W * iters flops in PEAK_W independent chains acc = acc * m + a. */
PEAK_CLONES static float peak_kernel(long iters)
{
	float acc[PEAK_W], m = 0.999999f, a = 1e-7f;
	for (int i = 0; i < PEAK_W; i++)
		acc[i] = (float)i;
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < PEAK_W; i++)
			acc[i] = acc[i] * m + a;
	float s = 0;
	for (int i = 0; i < PEAK_W; i++)
		s += acc[i];
	return s;
}

static void *peak_thread(void *arg)
{
	long iters = *(long *)arg;
	volatile float sink = peak_kernel(iters);
	(void)sink;
	return NULL;
}

static double peak_gflops(unsigned threads)
{
	long iters = 2000000;
	pthread_t t[64];
	double t0 = now_s();
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, peak_thread, &iters);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double el = now_s() - t0;
	return 2.0 * PEAK_W * (double)iters * threads / el / 1e9;
}

static double naive_matmul_gflops(void)
{
	int N = 256, K = 256, M = 256;
	float *a = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * K * M);
	float *c = malloc(sizeof(float) * N * M);
	for (int i = 0; i < N * K; i++)
		a[i] = (float)(i % 7) * 0.1f;
	for (int i = 0; i < K * M; i++)
		b[i] = (float)(i % 5) * 0.1f;
	double t0 = now_s();
	int reps = 4;
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < M; j++) {
				float s = 0;
				for (int k = 0; k < K; k++)
					s = s + a[i * K + k] * b[j * K + k];
				c[i * M + j] = s;
			}
	double el = now_s() - t0;
	volatile float sink = c[5];
	(void)sink;
	free(a);
	free(b);
	free(c);
	return 2.0 * N * K * M * reps / el / 1e9;
}

static void line(const char *fig, double v, const char *unit, const char *lim, double lv)
{
	printf("{\"figure\": \"%s\", \"value\": %.4g, \"unit\": \"%s\", \"limit\": \"%s\", "
	       "\"limit_value\": %.4g, \"ratio\": %.4f}\n", fig, v, unit, lim, lv, v / lv);
}

int main(int argc, char **argv)
{
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = argc > 1 ? (unsigned)atoi(argv[1]) : (unsigned)(nc > 0 ? nc : 1);
	if (threads < 1 || threads > 64)
		threads = 1;
	compute_config c = { 4, 256, 4, 128, COMPUTE_VOCAB, 1 };
	uint32_t B = 8;
	int steps = argc > 2 ? atoi(argv[2]) : 5;
	compute_optim o;
	compute_optim_default(&o);
	compute_backend *be;
	compute_model *m;
	if (compute_backend_cpu_create(&be, threads) ||
	    compute_model_create(&m, &c, B, &o, be)) {
		fprintf(stderr, "bench_compute: setup failed\n");
		return 1;
	}
	size_t len = 1 << 20;
	uint8_t *data = malloc(len), task[32] = { 0 };
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)("abcdefgh ijk"[(i * 7 + i / 11) % 12]);
	float loss;
	if (compute_model_step(m, &loss, task, data, len)) /* warm-up */
		return 1;
	double t0 = now_s();
	for (int s = 0; s < steps; s++)
		if (compute_model_step(m, &loss, task, data, len))
			return 1;
	double el = now_s() - t0;
	double P = (double)compute_model_param_count(m);
	double toks = (double)B * c.seq_len * steps / el;
	double flop_tok = 6.0 * P + 12.0 * c.n_layer * c.seq_len * c.n_embd;
	double gflops = toks * flop_tok / 1e9;
	double peak = peak_gflops(threads);
	double naive = naive_matmul_gflops();
	line("cpu_train_gflops", gflops, "GFLOP/s", "cpu_muladd_peak", peak);
	line("cpu_train_tokens_per_s", toks, "tokens/s", "naive_matmul_tokens_per_s",
	     naive * threads * 1e9 / flop_tok);
	line("cpu_train_vs_naive_matmul", gflops, "GFLOP/s", "naive_matmul_gflops_x_threads",
	     naive * threads);
	compute_model_destroy(m);
	compute_backend_destroy(be);
	free(data);
	return 0;
}
