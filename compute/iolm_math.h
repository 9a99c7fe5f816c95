/* Per-element arithmetic of the training step, shared by every backend.
 *
 * This header is the single definition of every scalar function the step evaluates:
 * exp, log, tanh, GELU and its derivative, the layernorm and AdamW element updates,
 * the parameter-init PRNG and its normal deviates, cos(pi*p) for the schedule. It
 * compiles as C11 and as CUDA device code (IOLM_HD), so the GPU backend calls the very
 * same code as the CPU reference.
 *
 * Rules (docs/compute.md section "Arithmetic"):
 *  - only +, -, *, / on binary32, each rounded to nearest-even, no contraction into
 *    FMA (C: -ffp-contract=off; nvcc: -fmad=false), no fast-math, denormals kept
 *    (nvcc: -ftz=false, -prec-div=true, -prec-sqrt=true);
 *  - square root is iolm_sqrtf: IEEE 754 requires sqrt to be correctly rounded, so
 *    sqrtf (C, an SSE sqrtss) and __fsqrt_rn (CUDA) give the same bits;
 *  - no libm transcendental (expf, logf, tanhf, cosf): their results differ between
 *    glibc and CUDA. The approximations below use documented range reduction and
 *    fixed polynomials, so their results are defined by this text alone;
 *  - fmaf is not used: without hardware FMA (x86-64 baseline) it is a slow software
 *    routine, and the range reductions below are exact without it.
 * Everything here is a pure function of its arguments. */
#ifndef IOLM_COMPUTE_MATH_H
#define IOLM_COMPUTE_MATH_H

#include <stdint.h>

#ifdef __CUDACC__
#define IOLM_HD __host__ __device__
#else
#define IOLM_HD
#include <string.h>
#endif

#define IOLM_INLINE static inline

/* ---------------------------------------------------------------- bit access */

IOLM_HD IOLM_INLINE uint32_t iolm_f2u(float f)
{
#ifdef __CUDA_ARCH__
	return (uint32_t)__float_as_uint(f);
#else
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
#endif
}

IOLM_HD IOLM_INLINE float iolm_u2f(uint32_t u)
{
#ifdef __CUDA_ARCH__
	return __uint_as_float(u);
#else
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
#endif
}

IOLM_HD IOLM_INLINE float iolm_sqrtf(float x)
{
#ifdef __CUDA_ARCH__
	return __fsqrt_rn(x);
#else
	return __builtin_sqrtf(x);
#endif
}

/* Round to the nearest integer, ties to even, for |x| < 2^22: adding and removing
 * 1.5 * 2^23 pushes the fraction bits out of the significand. */
IOLM_HD IOLM_INLINE float iolm_rintf(float x)
{
	const float magic = 12582912.0f;
	return (x + magic) - magic;
}

/* 2^k as a float for -126 <= k <= 127 (a normal number, built from its bits). */
IOLM_HD IOLM_INLINE float iolm_pow2i(int k)
{
	return iolm_u2f((uint32_t)(k + 127) << 23);
}

/* ---------------------------------------------------------------- exp, log, tanh */

#define IOLM_LN2_HI 0.693145751953125f        /* 0x3f317200: 15 significant bits */
#define IOLM_LN2_LO 1.4286068202862268e-06f /* ln 2 - IOLM_LN2_HI */
#define IOLM_LOG2E 1.44269504088896341f

/* exp(x). Reduction x = k ln2 + r with k = rint(x / ln2), |r| <= ln2/2 (+ rounding);
 * k * LN2_HI is exact (|k| <= 150 has 8 bits, LN2_HI 15), so r carries only the
 * rounding of two subtractions. exp(r) is the degree-7 Taylor polynomial in Horner
 * form (truncation < 7.5e-9 relative on |r| <= 0.35). Scaling by 2^k is exact, in two
 * factors when 2^k alone would not be a normal float. Overflow gives +inf, x < -104
 * gives 0, NaN propagates. */
IOLM_HD IOLM_INLINE float iolm_expf(float x)
{
	if (x != x)
		return x;
	if (x > 88.72283935546875f)
		return iolm_u2f(0x7f800000u);
	if (x < -104.0f)
		return 0.0f;
	float kf = iolm_rintf(x * IOLM_LOG2E);
	float r = x - kf * IOLM_LN2_HI;
	r = r - kf * IOLM_LN2_LO;
	float p = 1.0f / 5040.0f;
	p = p * r + 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	int k = (int)kf;
	if (k > 127)
		return (p * 2.0f) * iolm_pow2i(k - 1);
	if (k < -126)
		return (p * iolm_pow2i(k + 64)) * iolm_pow2i(-64);
	return p * iolm_pow2i(k);
}

/* log(x). x = 2^e * m with m in [sqrt(1/2), sqrt(2)) (denormals scaled by 2^25 first);
 * f = m - 1 is exact; s = f / (2 + f); log(m) = 2 atanh(s) = 2s + s R, R = z P(z),
 * z = s^2, P the atanh series 2/3 + 2/5 z + 2/7 z^2 + 2/9 z^3 (|s| <= 0.1716:
 * truncation < 3e-9 relative). As in fdlibm, 2s is rewritten f - s f to keep the exact
 * f in front: with hfsq = f^2 / 2, log(x) = e LN2_HI - ((hfsq - (s (hfsq + R) +
 * e LN2_LO)) - f), evaluated in exactly that order. x < 0 or NaN gives
 * NaN, 0 gives -inf, +inf gives +inf. */
IOLM_HD IOLM_INLINE float iolm_logf(float x)
{
	if (x != x || x < 0.0f)
		return iolm_u2f(0x7fc00000u);
	if (x == 0.0f)
		return iolm_u2f(0xff800000u);
	uint32_t bits = iolm_f2u(x);
	if (bits >= 0x7f800000u)
		return x;
	int e = 0;
	if (bits < 0x00800000u) {
		x = x * 33554432.0f; /* 2^25 */
		e = -25;
		bits = iolm_f2u(x);
	}
	e += (int)((bits >> 23) & 0xffu) - 127;
	float m = iolm_u2f((bits & 0x007fffffu) | 0x3f800000u);
	if (m > 1.41421356f) {
		m = m * 0.5f;
		e += 1;
	}
	float f = m - 1.0f;
	float s = f / (2.0f + f);
	float z = s * s;
	float r = 2.0f / 9.0f;
	r = r * z + 2.0f / 7.0f;
	r = r * z + 2.0f / 5.0f;
	r = r * z + 2.0f / 3.0f;
	r = r * z;
	float hfsq = 0.5f * (f * f);
	float ef = (float)e;
	return ef * IOLM_LN2_HI - ((hfsq - (s * (hfsq + r) + ef * IOLM_LN2_LO)) - f);
}

/* tanh(x), odd. |x| < 0.125: Taylor series to x^9 (truncation < 3e-11 relative);
 * 0.125 <= |x| <= 9: 1 - 2 / (exp(2|x|) + 1); |x| > 9: +-1 (tanh(9) rounds to 1 in
 * binary32). Absolute error below 2e-7 everywhere (tested against double). */
IOLM_HD IOLM_INLINE float iolm_tanhf(float x)
{
	if (x != x)
		return x;
	float a = x < 0.0f ? -x : x;
	float t;
	if (a < 0.125f) {
		float z = a * a;
		float p = 62.0f / 2835.0f;
		p = p * z - 17.0f / 315.0f;
		p = p * z + 2.0f / 15.0f;
		p = p * z - 1.0f / 3.0f;
		t = a + a * (z * p);
	} else if (a > 9.0f) {
		t = 1.0f;
	} else {
		float e = iolm_expf(2.0f * a);
		t = 1.0f - 2.0f / (e + 1.0f);
	}
	return x < 0.0f ? -t : t;
}

/* cos(pi * p) for 0 <= p <= 1 (the cosine schedule). Folded to q in [0, 1/2] with
 * cos(pi p) = -cos(pi (1 - p)); then x = pi q in [0, pi/2] and either cos x (x <= pi/4)
 * or sin(pi/2 - x) by Taylor polynomials to x^10 / x^11 (truncation < 1e-10). */
IOLM_HD IOLM_INLINE float iolm_cospif(float p)
{
	float sign = 1.0f;
	if (p > 0.5f) {
		p = 1.0f - p;
		sign = -1.0f;
	}
	float res;
	if (p <= 0.25f) {
		float x = p * 3.14159265358979f;
		float z = x * x;
		float c = -1.0f / 3628800.0f;
		c = c * z + 1.0f / 40320.0f;
		c = c * z - 1.0f / 720.0f;
		c = c * z + 1.0f / 24.0f;
		c = c * z - 0.5f;
		res = 1.0f + z * c;
	} else {
		float y = (0.5f - p) * 3.14159265358979f;
		float z = y * y;
		float c = -1.0f / 39916800.0f;
		c = c * z + 1.0f / 362880.0f;
		c = c * z - 1.0f / 5040.0f;
		c = c * z + 1.0f / 120.0f;
		c = c * z - 1.0f / 6.0f;
		res = y + y * (z * c);
	}
	return sign * res;
}

/* ---------------------------------------------------------------- GELU */

#define IOLM_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define IOLM_GELU_A 0.044715f

/* GELU, tanh form: 0.5 x (1 + tanh(K (x + A x^3))). */
IOLM_HD IOLM_INLINE float iolm_gelu(float x)
{
	float cube = IOLM_GELU_A * (x * x * x);
	float t = iolm_tanhf(IOLM_GELU_K * (x + cube));
	return 0.5f * x * (1.0f + t);
}

/* d GELU / dx at x. With u = K (x + A x^3), t = tanh u:
 * 0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3 A x^2). */
IOLM_HD IOLM_INLINE float iolm_gelu_grad(float x)
{
	float cube = IOLM_GELU_A * (x * x * x);
	float t = iolm_tanhf(IOLM_GELU_K * (x + cube));
	float sech2 = 1.0f - t * t;
	float du = IOLM_GELU_K * (1.0f + 3.0f * IOLM_GELU_A * (x * x));
	return 0.5f * (1.0f + t) + 0.5f * x * sech2 * du;
}

/* ---------------------------------------------------------------- AdamW */

/* Constants of one AdamW step, the same for every element (computed on the host,
 * compute_adamw_consts in model.c). */
struct iolm_adamw {
	float lr;        /* scheduled learning rate of this step */
	float beta1, beta2, eps;
	float bc1, bc2;  /* 1 - beta1^t, 1 - beta2^t, t = step + 1 */
	float gscale;    /* gradient clipping factor (1 when not clipping) */
};

/* One element: g = grad * gscale; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g;
 * p = p - lr ((m / bc1) / (sqrt(v / bc2) + eps) + wd p). wd is the tensor's decay
 * (the task's weight_decay for matrices, 0 for biases and layernorm gains). */
IOLM_HD IOLM_INLINE void iolm_adamw_elem(float *p, float *m, float *v, float grad,
					 float wd, const struct iolm_adamw *a)
{
	float g = grad * a->gscale;
	float mm = a->beta1 * *m + (1.0f - a->beta1) * g;
	float vv = a->beta2 * *v + (1.0f - a->beta2) * (g * g);
	float mhat = mm / a->bc1;
	float vhat = vv / a->bc2;
	float upd = mhat / (iolm_sqrtf(vhat) + a->eps) + wd * *p;
	*m = mm;
	*v = vv;
	*p = *p - a->lr * upd;
}

/* ---------------------------------------------------------------- PRNG */

/* splitmix64 finaliser (Steele, Lea, Flood 2014): a bijection of 64-bit words. */
IOLM_HD IOLM_INLINE uint64_t iolm_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#define IOLM_GOLDEN64 0x9e3779b97f4a7c15ull

/* Draw n of the stream keyed by key: mix64(key + (n + 1) * golden). Counter based, so
 * any draw can be computed without the ones before it. */
IOLM_HD IOLM_INLINE uint64_t iolm_rand64(uint64_t key, uint64_t n)
{
	return iolm_mix64(key + (n + 1) * IOLM_GOLDEN64);
}

/* Uniform in (-1, 1): the top 24 bits as a signed fraction, (r >> 40) / 2^23 - 1. */
IOLM_HD IOLM_INLINE float iolm_unif_pm1(uint64_t r)
{
	return (float)(uint32_t)(r >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

/* Standard normal deviate number i of stream key, by the Marsaglia polar method: try
 * pairs of draws (2i' , 2i' + 1) for attempts a = 0, 1, ... taken from the sub-stream
 * sub = mix64(key ^ mix64(i + golden)), until s = u^2 + v^2 is in (0, 1);
 * the deviate is u * sqrt(-2 log(s) / s). Each deviate owns its own sub-stream, so
 * deviate i never depends on how many attempts deviate i - 1 needed. */
IOLM_HD IOLM_INLINE float iolm_normal(uint64_t key, uint64_t i)
{
	uint64_t sub = iolm_mix64(key ^ iolm_mix64(i + IOLM_GOLDEN64));
	for (uint64_t a = 0;; a++) {
		float u = iolm_unif_pm1(iolm_rand64(sub, 2 * a));
		float v = iolm_unif_pm1(iolm_rand64(sub, 2 * a + 1));
		float s = u * u + v * v;
		if (s > 0.0f && s < 1.0f)
			return u * iolm_sqrtf(-2.0f * iolm_logf(s) / s);
	}
}

#endif
