/* compute_backend_cuda_create in a build without CUDA (IOLM_HAVE_CUDA off): there is
 * no device code to run, so every request is IOLM_ECUDA_NODEVICE. */
#include "compute/compute.h"

int compute_backend_cuda_create(compute_backend **out, int device)
{
	(void)device;
	*out = NULL;
	return IOLM_ECUDA_NODEVICE;
}

int compute_backend_cuda_built(void)
{
	return 0;
}
