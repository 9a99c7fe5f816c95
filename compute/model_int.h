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
};

/* Forward over nb sequences already uploaded to a.tok / a.tgt; *loss the mean. */
int model_forward(compute_model *m, float *loss, uint32_t nb) IOLM_WUR;
/* Per-token losses of the last forward, downloaded to host_losses. */
void model_download_losses(compute_model *m, uint32_t nb);

#endif
