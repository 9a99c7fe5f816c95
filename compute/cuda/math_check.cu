// Compile check: every function of compute/iolm_math.h instantiated in device code, so
// the build fails when the shared per-element header stops compiling under nvcc.
#include "compute/iolm_math.h"

__global__ void iolm_math_check_kernel(float *out, const float *in, int n, uint64_t key)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float x = in[i];
	float acc = iolm_expf(x) + iolm_logf(x) + iolm_tanhf(x) + iolm_cospif(x);
	acc += iolm_gelu(x) + iolm_gelu_grad(x) + iolm_sqrtf(x) + iolm_rintf(x);
	acc += iolm_pow2i(i % 100) + iolm_u2f(iolm_f2u(x));
	acc += iolm_unif_pm1(iolm_rand64(key, (uint64_t)i)) + iolm_normal(key, (uint64_t)i);
	acc += (float)(iolm_mix64((uint64_t)i) & 1u);
	struct iolm_adamw a = { 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1.0f };
	float p = x, m = 0.0f, v = 0.0f;
	iolm_adamw_elem(&p, &m, &v, acc, 0.1f, &a);
	out[i] = p;
}
