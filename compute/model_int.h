/* Internals of the model shared by model.c, eval.c and ckpt.c. */
#ifndef IOLM_COMPUTE_MODEL_INT_H
#define IOLM_COMPUTE_MODEL_INT_H

#include "compute/backend.h"
#include "compute/compute.h"

/* Tensor indices of the parameter layout (docs/compute.md "Parameters"). */
enum {
	T_WTE, T_WPE, T_LN1W, T_LN1B, T_QKVW, T_QKVB, T_ATTPROJW, T_ATTPROJB,
	T_LN2W, T_LN2B, T_FCW, T_FCB, T_FCPROJW, T_FCPROJB, T_LNFW, T_LNFB,
};

/* Activations of a forward pass, for up to B sequences; per-layer arrays hold L
 * consecutive slices. */
struct acts {
	float *encoded;                     /* N C */
	float *ln1, *ln1m, *ln1r;           /* L N C, L N, L N */
	float *qkv;                         /* L N 3C */
	float *atty;                        /* L N C */
	float *att;                         /* L B NH T T */
	float *res2;                        /* L N C */
	float *ln2, *ln2m, *ln2r;
	float *fch, *fchg;                  /* L N 4C */
	float *res3;                        /* L N C */
	float *lnf, *lnfm, *lnfr;           /* N C, N, N */
	float *logits, *probs;              /* N V */
	float *losses;                      /* N */
	float *tmp;                         /* N C: projection outputs before the residual */
	/* backward scratch */
	float *dres, *dlnx, *datty;         /* N C */
	float *dqkv;                        /* N 3C */
	float *dbig, *dbig2;                /* N 4C */
	float *dlogits;                     /* N V */
	uint8_t *tok, *tgt;                 /* N */
};

struct compute_model {
	compute_config cfg;
	compute_optim opt;
	uint32_t B;
	compute_backend *be;
	uint64_t step;
	size_t nparams;
	size_t off[COMPUTE_NTENSORS], cnt[COMPUTE_NTENSORS];
	float *params, *grads, *m, *v; /* backend memory, nparams each */
	struct acts a;
	float *host_losses;            /* B T floats */
	float *partial;                /* backend: sumsq blocks */
	float *host_partial;           /* the same, downloaded */
	size_t nblocks;
	/* Data-parallel ranks only (model_chain_enable): the encoder's vocabulary sums
	 * [V][C] and row-met flags [V] handed along the chain; NULL on one device. */
	float *vacc;
	uint8_t *vseen;
};

/* A gradient accumulator region (backend memory) of a backward piece. */
struct model_acc {
	void *p;
	size_t bytes;
};

/* x is neither NaN nor infinite. */
int model_finite(float x);

/* Upload nb <= B sequences of inputs and targets (IOLM_EINVAL for nb out of range). */
int model_upload_batch(compute_model *m, const uint8_t *inputs, const uint8_t *targets,
		       uint32_t nb) IOLM_WUR;
/* Issue the forward over nb sequences already uploaded (per-token losses left in
 * a.losses, nothing downloaded). */
void model_forward_ops(compute_model *m, uint32_t nb);
/* Forward over nb sequences already uploaded to a.tok / a.tgt; *loss the mean. */
int model_forward(compute_model *m, float *loss, uint32_t nb) IOLM_WUR;

/* The backward pass in pieces (model.c): model_bwd_count pieces, run in order. Piece
 * `piece` over nb sequences with the loss scale dloss (1 / total rows of the batch);
 * cont: its reductions continue from the accumulators (model_bwd_accs) instead of
 * starting from 0; last: this rank ends the chain (adds the vocabulary sums into
 * dwte; always 1 on one device). */
size_t model_bwd_count(const compute_model *m);
void model_bwd_piece(compute_model *m, size_t piece, uint32_t nb, float dloss, int cont,
		     int last);
/* The accumulator regions of piece `piece` (at most 3), in acc; returns how many. */
size_t model_bwd_accs(const compute_model *m, size_t piece, struct model_acc acc[3]);

/* Allocate vacc and vseen, making the model a rank of a data-parallel chain.
 * IOLM_ENOMEM. */
int model_chain_enable(compute_model *m) IOLM_WUR;

/* Clip, AdamW on the gradient, step + 1 (the end of compute_model_step). IOLM_ENONFINITE,
 * the model unchanged, when the gradient holds a NaN or an infinity. */
int model_update(compute_model *m) IOLM_WUR;
/* Per-token losses of the last forward, downloaded to host_losses. */
void model_download_losses(compute_model *m, uint32_t nb);

#endif
