/* Data-parallel training over several backends (ranks), bit for bit the single-device
 * step (docs/compute.md §7a "Multi-GPU").
 *
 * Rank r owns the contiguous sequences [first_r, first_{r+1}) of every batch, with
 * first_r = floor(r * B / D), and runs forward, attention, cross-entropy and every
 * per-row operation on them alone. Each batch reduction (a sum over rows: matmul dw
 * and dbias, layernorm dw and db, the encoder's dwpe and vocabulary sums with their
 * row-met flags) is a chain: rank 0 sums its rows from 0.0f, its accumulators are
 * handed to rank 1, which continues the same sums over its rows, and so on; the last
 * rank then holds the sums one device would have computed, with the same operands in
 * the same order. The loss is summed on the host in row order from every rank's
 * per-token losses. The last rank alone clips and runs AdamW, so it holds the whole
 * training state (compute_dp_model); every step starts by broadcasting its
 * parameters to the other ranks.
 *
 * The backward is issued piece by piece across the ranks (rank 0, hand over, rank 1,
 * ...), so on asynchronous backends rank r + 1 trails rank r by one piece rather than
 * by a whole backward pass.
 *
 * Ranks meet only through a transport (struct compute_dp_transport): an in-process
 * one for backends sharing an address space (CPU backends, or CUDA backends under
 * unified addressing, compute_dp_transport_local_create) and NCCL for GPUs
 * (compute_dp_transport_nccl_create). */
#ifndef IOLM_COMPUTE_DP_H
#define IOLM_COMPUTE_DP_H

#include "compute/compute.h"

/* Most ranks of one data-parallel model. */
#define COMPUTE_DP_MAX_RANKS 16

/* How ranks exchange backend memory. Both calls take rank-local device pointers and
 * are ordered after every operation already issued on the ranks involved and before
 * every later one (a transport on asynchronous devices enqueues, it need not wait).
 * The per-token losses do not use it: the host reads them from each rank through the
 * rank's own backend (download), in rank order. */
struct compute_dp_transport_ops {
	const char *name;
	/* Copy bytes from src (memory of rank `from`) to dst (memory of rank `to`): one
	 * hop of the chain. */
	void (*pass)(void *ctx, int to, void *dst, int from, const void *src, size_t bytes);
	/* Copy bytes from bufs[root] to bufs[r] for every rank r != root of nranks. */
	void (*broadcast)(void *ctx, void *const *bufs, int nranks, int root, size_t bytes);
};

typedef struct compute_dp_transport {
	const struct compute_dp_transport_ops *ops;
	void *ctx;
	void (*destroy)(struct compute_dp_transport *t);
} compute_dp_transport;

/* The in-process transport over be[0..nranks): each hop and broadcast is the
 * receiving backend's copy (memcpy on the CPU, cudaMemcpy on CUDA). The backends are
 * borrowed and must outlive it. Destroy with compute_dp_transport_destroy.
 * IOLM_EINVAL for nranks out of 1..COMPUTE_DP_MAX_RANKS, IOLM_ENOMEM. */
int compute_dp_transport_local_create(compute_dp_transport **out,
				      compute_backend *const *be,
				      unsigned nranks) IOLM_WUR;

/* NCCL over the CUDA devices devices[0..nranks) (rank r on devices[r], one
 * communicator per device, ncclSend / ncclRecv for hops, ncclBroadcast): the ranks'
 * backends must be CUDA backends on those devices. IOLM_ENCCL when the build has no
 * NCCL (compute_dp_transport_nccl_built() is 0) or NCCL fails, IOLM_ECUDA_NODEVICE
 * for a device out of range, IOLM_EINVAL, IOLM_ENOMEM. */
int compute_dp_transport_nccl_create(compute_dp_transport **out, const int *devices,
				     unsigned nranks) IOLM_WUR;
/* 1 when this build has the NCCL transport, 0 otherwise. */
int compute_dp_transport_nccl_built(void);

/* NULL is a no-op. */
void compute_dp_transport_destroy(compute_dp_transport *t);

/* ---------------------------------------------------------------- the model */

typedef struct compute_dp compute_dp;

/* A model for cfg trained with opt on batches of `batch` sequences split over the
 * nranks backends be[0..nranks) (one compute_model per rank, each initialised from
 * cfg->init_seed), exchanging data through tr. be and tr are borrowed and must
 * outlive it. Destroy with compute_dp_destroy. IOLM_EINVAL for nranks out of
 * 1..COMPUTE_DP_MAX_RANKS or a NULL transport; IOLM_ECONFIG for a bad config or a
 * batch smaller than nranks (every rank needs a sequence); IOLM_ENOMEM. */
int compute_dp_create(compute_dp **out, const compute_config *cfg, uint32_t batch,
		      const compute_optim *opt, compute_backend *const *be, unsigned nranks,
		      compute_dp_transport *tr) IOLM_WUR;
void compute_dp_destroy(compute_dp *dp);

/* The last rank's model, which holds the whole training state after every step:
 * parameters, AdamW moments, step count, the complete gradient. Use it for state
 * hashes, checkpoints (a checkpoint loaded into it reaches the other ranks at the next
 * step) and eval. Borrowed, valid for the lifetime of dp. */
compute_model *compute_dp_model(compute_dp *dp);

/* Rank r's model (r < nranks; its gradient holds the chain's sums up to rank r). */
compute_model *compute_dp_rank(compute_dp *dp, unsigned r);

/* compute_model_step on the data-parallel model: the same batch, loss, gradient and
 * update, bit for bit. */
int compute_dp_step(compute_dp *dp, float *loss,
		    const uint8_t task_id[static IOLM_HASH_LEN], const uint8_t *data,
		    size_t len) IOLM_WUR;

/* compute_model_grad over the whole batch (batch sequences of inputs and targets):
 * *loss and the gradient of compute_dp_model, without an update. */
int compute_dp_grad(compute_dp *dp, float *loss, const uint8_t *inputs,
		    const uint8_t *targets) IOLM_WUR;

#endif
