/* compute_miner: one miner's training run, as iolm-miner (node/miner*.c) runs it locally
 * (`iolm-miner train`) and on chain (`iolm-miner mine`).
 *
 * A run trains the global steps [start, start + steps) of a task: from the task's
 * initial parameters (start = 0) or from a parent checkpoint (start = its step). Every
 * step is compute_model_step() (or its data-parallel form compute_dp_step(), the same
 * bits) with the task id as the batch seed, so it is exactly the
 * step a verifier re-executes (docs/compute.md §6a). At every segment boundary
 * (start + j k, and the end) it writes DIR/ckpt-%08llu.bin (compute_checkpoint_name) and
 * records the state hash in the proof; at the end DIR/claim.bin holds the encoded
 * WorkClaim, whose root is checked against the proof's, and DIR/proof.txt a summary.
 *
 * Resuming: after each segment's end checkpoint is written, DIR/progress.log gets a
 * line with the segment's start and end state hashes and its steps' losses (flushed to
 * the disk), under a header naming the run: task id, start step, steps, k, the starting
 * state hash and a hash of the training bytes. A run asked to resume (p->resume) whose
 * DIR holds a log with the same header loads the checkpoint that ends the last whole
 * line (its state hash must be the line's), replays the lines into the proof and goes
 * on from there: the claim is the one an unbroken run makes. Any other log is
 * started afresh.
 *
 * Nothing here logs: progress goes to an optional callback. */
#ifndef IOLM_COMPUTE_MINER_H
#define IOLM_COMPUTE_MINER_H

#include <stddef.h>
#include <stdint.h>

#include "compute/compute.h"

/* Name of the claim file in a run's directory. */
#define COMPUTE_MINER_CLAIM_FILE "claim.bin"

/* What the progress callback is told. */
typedef struct compute_miner_progress {
	int initial;        /* 1: the untrained (or parent) eval loss, before any step */
	uint64_t step;      /* global steps done so far (start + local steps) */
	uint64_t done;      /* steps of this run done so far */
	uint64_t steps;     /* steps of this run */
	float loss;         /* the last step's training loss, or the initial eval loss */
	double tokens_per_s;
	double eta_s;
} compute_miner_progress;

/* Called before the first step (initial = 1) when the params ask for an initial eval,
 * then about once a second and for the first and last steps. A non-zero return stops
 * the run, which returns that value (use an iolm error code). */
typedef int (*compute_miner_progress_fn)(void *ctx, const compute_miner_progress *p);

struct compute_dp_transport;

typedef struct compute_miner_params {
	const compute_task *task;    /* id (batch seed), cfg, opt, batch, seg_len, eval_windows */
	compute_backend *be;         /* the caller's; outlives the run */
	/* Data-parallel training (compute/dp.h) instead of be, when nranks >= 2: the ranks'
	 * backends ranks[0..nranks) joined by dp_tr (the caller's, outliving the run; the
	 * batch must have at least nranks sequences). The same bits as on be. */
	compute_backend *const *ranks;
	unsigned nranks;
	struct compute_dp_transport *dp_tr;
	const uint8_t *train;        /* training bytes, at least seq_len + 1 */
	size_t train_len;
	const uint8_t *eval;         /* eval bytes */
	size_t eval_len;
	const char *parent_ckpt;     /* NULL: the task's initial parameters, step 0 */
	/* With a parent: the state hash its checkpoint must have (NULL: not checked) and
	 * the step it must be at (checked when parent_state is given). */
	const uint8_t *parent_state;
	uint64_t parent_step;
	uint64_t steps;              /* a positive multiple of task->seg_len */
	const char *out_dir;         /* created if missing */
	int initial_eval;            /* compute and report the eval loss before training
				      * (not when resuming) */
	int resume;                  /* go on from DIR's progress log when it is this run's */
	compute_miner_progress_fn progress; /* may be NULL */
	void *progress_ctx;
} compute_miner_params;

typedef struct compute_miner_result {
	uint64_t start_step;         /* first global step trained */
	uint64_t end_step;           /* start_step + steps */
	uint8_t proof_root[IOLM_HASH_LEN];
	uint8_t final_state[IOLM_HASH_LEN];
	uint64_t eval_loss;          /* micro-nats, as in the claim */
	float eval_loss_f;
	float initial_eval_loss;     /* when initial_eval was asked, else 0 */
	uint64_t resumed_steps;      /* steps found done in DIR's progress log (0: none) */
	size_t nparams;
} compute_miner_result;

/* Run p (see the top of this file) and fill *r (zeroed on failure). Errors: IOLM_EINVAL
 * for steps not a positive multiple of k or past the claim caps; the checkpoint
 * reader's IOLM_ECKPT_* / IOLM_ENOTFOUND / IOLM_EIO for a bad parent file;
 * IOLM_EVERIFY_CKPT when the parent's state hash is not parent_state, IOLM_EVERIFY_SKIP
 * when it is at another step than parent_step; the step's errors (IOLM_EDATA,
 * IOLM_ENONFINITE); IOLM_EIO writing DIR; the progress callback's own code. */
int compute_miner_run(compute_miner_result *r, const compute_miner_params *p) IOLM_WUR;

#endif
