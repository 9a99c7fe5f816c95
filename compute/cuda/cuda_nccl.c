/* The NCCL transport of the data-parallel step (compute/dp.h): one communicator per
 * device from ncclCommInitAll, rank r on devices[r].
 *
 * One host thread drives every rank (dp.c), so each exchange is a group
 * (ncclGroupStart / ncclGroupEnd: NCCL's rule for several devices from one thread):
 * a hop is the pair ncclSend on the sender, ncclRecv on the receiver; a broadcast is
 * ncclBroadcast on every rank. Bytes are moved as ncclUint8, so nothing is ever added
 * or converted: the receiver gets the sender's bits.
 *
 * Ordering: the CUDA backend issues everything on the legacy default stream of its
 * device. The transport's streams are ordinary (blocking) streams, which the legacy
 * stream synchronises with in both directions, so a hop starts after the sender's
 * reduction and the receiver's next kernel starts after the hop, without host waits.
 * The host issues pieces in one global order (piece i on rank 0, hop 0->1, piece i on
 * rank 1, ...), so the devices' waits form no cycle; rank r + 1 trails rank r by one
 * piece of the backward.
 *
 * Errors inside an exchange abort with a message naming the call, file and line, as
 * CUDA_CHECK does in the backend: the exchanges have no error result, and a miner
 * must not commit to a state it did not compute. */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <nccl.h>

#include "compute/dp.h"

struct nccl_ctx {
	int n;
	int dev[COMPUTE_DP_MAX_RANKS];
	ncclComm_t comm[COMPUTE_DP_MAX_RANKS];
	cudaStream_t stream[COMPUTE_DP_MAX_RANKS];
};

/* Report a failed call; abort when fatal, else return err. */
static int failed_at(const char *why, const char *call, const char *file, int line,
		     int fatal, int err)
{
	fprintf(stderr, "iolm nccl: %s:%d: %s: %s\n", file, line, call, why);
	if (fatal)
		abort();
	return err;
}

static int nccl_at(ncclResult_t r, const char *call, const char *file, int line, int fatal)
{
	return r == ncclSuccess ? IOLM_OK :
		failed_at(ncclGetErrorString(r), call, file, line, fatal, IOLM_ENCCL);
}

static int cuda_at(cudaError_t e, const char *call, const char *file, int line, int fatal)
{
	return e == cudaSuccess ? IOLM_OK :
		failed_at(cudaGetErrorString(e), call, file, line, fatal, IOLM_ECUDA);
}

/* As CUDA_CHECK / CUDA_TRY of the backend (cuda_common.cuh), for this C file. */
#define NCCL_CHECK(call) ((void)nccl_at((call), #call, __FILE__, __LINE__, 1))
#define NCCL_TRY(call) nccl_at((call), #call, __FILE__, __LINE__, 0)
#define CUDA_CHECK(call) ((void)cuda_at((call), #call, __FILE__, __LINE__, 1))
#define CUDA_TRY(call) cuda_at((call), #call, __FILE__, __LINE__, 0)

static void nccl_pass(void *ctx, int to, void *dst, int from, const void *src,
		      size_t bytes)
{
	struct nccl_ctx *x = ctx;
	NCCL_CHECK(ncclGroupStart());
	NCCL_CHECK(ncclSend(src, bytes, ncclUint8, to, x->comm[from], x->stream[from]));
	NCCL_CHECK(ncclRecv(dst, bytes, ncclUint8, from, x->comm[to], x->stream[to]));
	NCCL_CHECK(ncclGroupEnd());
}

static void nccl_broadcast(void *ctx, void *const *bufs, int nranks, int root,
			   size_t bytes)
{
	struct nccl_ctx *x = ctx;
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nranks; r++)
		NCCL_CHECK(ncclBroadcast(bufs[r], bufs[r], bytes, ncclUint8, root, x->comm[r],
					 x->stream[r]));
	NCCL_CHECK(ncclGroupEnd());
}

static const struct compute_dp_transport_ops nccl_ops = {
	.name = "nccl",
	.pass = nccl_pass,
	.broadcast = nccl_broadcast,
};

static void nccl_ctx_free(struct nccl_ctx *x)
{
	for (int r = 0; r < x->n; r++) {
		if (x->stream[r]) {
			CUDA_CHECK(cudaSetDevice(x->dev[r]));
			CUDA_CHECK(cudaStreamSynchronize(x->stream[r]));
			CUDA_CHECK(cudaStreamDestroy(x->stream[r]));
		}
		if (x->comm[r])
			(void)NCCL_TRY(ncclCommDestroy(x->comm[r]));
	}
	free(x);
}

static void nccl_destroy(compute_dp_transport *t)
{
	nccl_ctx_free(t->ctx);
	free(t);
}

/* devices[0..n) distinct and below the device count. */
static int devices_check(const int *devices, unsigned n)
{
	int count = 0;
	if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
		(void)cudaGetLastError();
		return IOLM_ECUDA_NODEVICE;
	}
	for (unsigned r = 0; r < n; r++) {
		if (devices[r] < 0 || devices[r] >= count)
			return IOLM_ECUDA_NODEVICE;
		for (unsigned q = 0; q < r; q++)
			if (devices[q] == devices[r])
				return IOLM_EINVAL; /* NCCL takes one rank per device */
	}
	return IOLM_OK;
}

int compute_dp_transport_nccl_create(compute_dp_transport **out, const int *devices,
				     unsigned nranks)
{
	int err = IOLM_OK;
	compute_dp_transport *t = NULL;
	struct nccl_ctx *x = NULL;
	*out = NULL;
	if (nranks < 1 || nranks > COMPUTE_DP_MAX_RANKS)
		return IOLM_EINVAL;
	if ((err = devices_check(devices, nranks)))
		return err;
	t = calloc(1, sizeof *t);
	x = calloc(1, sizeof *x);
	if (!t || !x) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (unsigned r = 0; r < nranks; r++)
		x->dev[r] = devices[r];
	if ((err = NCCL_TRY(ncclCommInitAll(x->comm, (int)nranks, x->dev))))
		goto out;
	x->n = (int)nranks;
	for (int r = 0; r < x->n; r++)
		if ((err = CUDA_TRY(cudaSetDevice(x->dev[r]))) ||
		    (err = CUDA_TRY(cudaStreamCreate(&x->stream[r]))))
			goto out;
	t->ops = &nccl_ops;
	t->ctx = x;
	t->destroy = nccl_destroy;
	*out = t;
	t = NULL;
	x = NULL;
out:
	if (x)
		nccl_ctx_free(x);
	free(t);
	return err;
}

int compute_dp_transport_nccl_built(void)
{
	return 1;
}
