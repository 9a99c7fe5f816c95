/* Shared by the GPU tests: whether there is a CUDA device to test on. */
#ifndef IOLM_TESTS_GPU_UTIL_H
#define IOLM_TESTS_GPU_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "compute/compute.h"

/* 0 when the CUDA backend opens on device 0 (run the tests); otherwise the exit status
 * for main, with the reason printed: 77 (skipped) without a device or without CUDA in
 * the build, 1 for another error. With IOLM_GPU_REQUIRED set in the environment (the
 * GPU scripts set it where nvidia-smi lists a GPU), no device is an error too: a GPU
 * that CUDA cannot use must not read as a machine without one. */
static inline int gpu_test_probe(void)
{
	compute_backend *probe = NULL;
	int err = compute_backend_cuda_create(&probe, 0);
	if (err == IOLM_ECUDA_NODEVICE && getenv("IOLM_GPU_REQUIRED")) {
		printf("# no usable CUDA device, but IOLM_GPU_REQUIRED is set: %s\n",
		       iolm_strerror(err));
		return 1;
	}
	if (err == IOLM_ECUDA_NODEVICE) {
		printf("# no CUDA device (%s): skipped\n", iolm_strerror(err));
		return 77;
	}
	if (err) {
		printf("# CUDA backend: %s\n", iolm_strerror(err));
		return 1;
	}
	compute_backend_destroy(probe);
	return 0;
}

#endif
