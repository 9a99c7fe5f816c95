/* Internals of the CUDA backend (compute/cuda/), shared between the C entry points
 * (cuda_backend.c) and the kernels (*.cu, compiled as CUDA C++). Only C types here, so
 * the header reads the same in both languages.
 *
 * Design (docs/compute.md "CUDA backend"): every kernel gives each output element to
 * one thread (or one lane), which evaluates exactly the sequence of IEEE operations
 * the CPU reference does for that element, in the same order; threads, blocks and
 * tiles only decide *which* outputs run where, never the order inside one output.
 * Kernels are built with -fmad=false -prec-div=true -prec-sqrt=true -ftz=false and
 * use the per-element functions of compute/iolm_math.h unchanged. */
#ifndef IOLM_COMPUTE_CUDA_CUDA_H
#define IOLM_COMPUTE_CUDA_CUDA_H

#include "compute/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open device `device` and create a backend context on it (*ctx owned by the caller,
 * released with cuda_ctx_destroy). IOLM_ECUDA_NODEVICE when no device is present or
 * device is out of range, IOLM_ECUDA on any other CUDA error, IOLM_ENOMEM. */
int cuda_ctx_create(void **ctx, int device);
void cuda_ctx_destroy(void *ctx);

/* Fill ops with the CUDA operations. fast != 0 replaces the deterministic matmuls by
 * contracted (FMA) ones whose bits differ from the CPU's: for bench_compute_gpu's
 * gpu_determinism_cost only, never for training. */
void cuda_ops_fill(struct compute_backend_ops *ops, int fast);

/* Device properties for the benchmark: name (copied into name[cap]), SM count,
 * compute capability, clock in kHz. IOLM_OK or IOLM_ECUDA. */
int cuda_device_info(int device, char *name, size_t cap, int *sms, int *major, int *minor,
		     int *clock_khz);

/* A backend on device `device` (cuda_backend.c): compute_backend_cuda_create with
 * fast = 0; fast = 1 only for the benchmark (see cuda_ops_fill). */
int cuda_backend_create(struct compute_backend **out, int device, int fast);

/* Wait for every queued operation of the context's device (benchmark timing). */
void cuda_sync(void *ctx);

#ifdef __cplusplus
}
#endif

#endif
