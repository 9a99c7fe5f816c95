/* The fp32 FMA peak of the cores used, for bench_compute's cpu_train_gflops limit.
 *
 * Not part of the deterministic step: it may fuse freely. Each thread runs ACC
 * independent vector accumulators acc = acc * m + a with fused multiply-adds, the widest
 * kind the CPU supports (AVX-512, AVX2+FMA, else scalar fmaf), chosen at run time with
 * __builtin_cpu_supports; ACC is large enough to cover FMA latency x issue width. */
#include "compute/bench_peak.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PEAK_X86 1
#else
#define PEAK_X86 0
#endif

#define ACC 16

#if PEAK_X86
__attribute__((target("avx512f"))) static float peak_avx512(long iters)
{
	__m512 acc[ACC], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
	for (int i = 0; i < ACC; i++)
		acc[i] = _mm512_set1_ps((float)i);
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < ACC; i++)
			acc[i] = _mm512_fmadd_ps(acc[i], m, a);
	__m512 s = acc[0];
	for (int i = 1; i < ACC; i++)
		s = _mm512_add_ps(s, acc[i]);
	return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float peak_avx2(long iters)
{
	__m256 acc[ACC], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < ACC; i++)
		acc[i] = _mm256_set1_ps((float)i);
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < ACC; i++)
			acc[i] = _mm256_fmadd_ps(acc[i], m, a);
	float out[8], t = 0.0f;
	__m256 s = acc[0];
	for (int i = 1; i < ACC; i++)
		s = _mm256_add_ps(s, acc[i]);
	_mm256_storeu_ps(out, s);
	for (int i = 0; i < 8; i++)
		t += out[i];
	return t;
}
#endif

static float peak_scalar(long iters)
{
	float acc[ACC], t = 0.0f;
	for (int i = 0; i < ACC; i++)
		acc[i] = (float)i;
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < ACC; i++)
			acc[i] = fmaf(acc[i], 0.999999f, 1e-7f);
	for (int i = 0; i < ACC; i++)
		t += acc[i];
	return t;
}

struct peak_job {
	long iters;
	int lanes;
	volatile float sink;
};

static int peak_lanes(void)
{
#if PEAK_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return 16;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 8;
#endif
	return 1;
}

static void *peak_thread(void *arg)
{
	struct peak_job *j = arg;
#if PEAK_X86
	if (j->lanes == 16)
		j->sink = peak_avx512(j->iters);
	else if (j->lanes == 8)
		j->sink = peak_avx2(j->iters);
	else
#endif
		j->sink = peak_scalar(j->iters);
	return NULL;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_fma_peak_gflops(unsigned threads, long iters, const char **kind)
{
	pthread_t t[BENCH_PEAK_MAX_THREADS];
	struct peak_job j[BENCH_PEAK_MAX_THREADS];
	int lanes = peak_lanes();
	unsigned started = 0;
	if (threads < 1 || threads > BENCH_PEAK_MAX_THREADS)
		return 0.0;
	*kind = lanes == 16 ? "avx512f fma" : lanes == 8 ? "avx2 fma" : "scalar fmaf";
	if (lanes == 1)
		iters /= 8; /* fmaf may be a library call: keep the run short */
	double t0 = wall_now();
	for (unsigned i = 0; i < threads; i++) {
		j[i] = (struct peak_job){ .iters = iters, .lanes = lanes };
		if (pthread_create(&t[i], NULL, peak_thread, &j[i]) != 0)
			break;
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	double el = wall_now() - t0;
	if (started < threads || el <= 0.0)
		return 0.0;
	return 2.0 * ACC * lanes * (double)iters * threads / el / 1e9;
}
