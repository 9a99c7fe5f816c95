/* The CUDA backend object: compute_backend_cuda_create (compute.h) around the context
 * and operations of the kernel files. */
#include <stdlib.h>

#include "compute/compute.h"
#include "compute/cuda/cuda.h"

struct cuda_backend {
	struct compute_backend be;
	struct compute_backend_ops ops;
};

static void cuda_backend_destroy(struct compute_backend *be)
{
	struct cuda_backend *cb = (struct cuda_backend *)be;
	cuda_ctx_destroy(be->ctx);
	free(cb);
}

int cuda_backend_create(struct compute_backend **out, int device, int fast)
{
	int err;
	void *ctx = NULL;
	*out = NULL;
	struct cuda_backend *cb = calloc(1, sizeof *cb);
	if (!cb)
		return IOLM_ENOMEM;
	if ((err = cuda_ctx_create(&ctx, device))) {
		free(cb);
		return err;
	}
	cuda_ops_fill(&cb->ops, fast);
	cb->be.ops = &cb->ops;
	cb->be.ctx = ctx;
	cb->be.destroy = cuda_backend_destroy;
	*out = &cb->be;
	return IOLM_OK;
}

int compute_backend_cuda_create(compute_backend **out, int device)
{
	return cuda_backend_create(out, device, 0);
}

int compute_backend_cuda_built(void)
{
	return 1;
}
