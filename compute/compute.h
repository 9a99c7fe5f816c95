/* compute: the deterministic training step of a byte-level GPT, its proofs and
 * checkpoints.
 *
 * A model (compute_model) is the parameters, AdamW moments and step counter of one
 * training run, kept in the memory of a backend (compute_backend: the CPU reference
 * here, CUDA later). compute_model_step() runs one global step: it draws the batch
 * from the dataset with a PRNG seeded by H_batch(task id || step), runs forward,
 * backward and AdamW, and returns the mean training loss. The result is bitwise the
 * same on every backend and every thread count; docs/compute.md specifies it exactly.
 *
 * Errors are IOLM_OK or a negative code from core/errors.def. Nothing here logs. */
#ifndef IOLM_COMPUTE_COMPUTE_H
#define IOLM_COMPUTE_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"

#define COMPUTE_VOCAB 256
#define COMPUTE_NTENSORS 16
/* Limits on a config (checked by compute_config_check). */
#define COMPUTE_MAX_LAYERS 64
#define COMPUTE_MAX_CHANNELS 4096
#define COMPUTE_MAX_HEADS 64
#define COMPUTE_MAX_SEQ 4096
#define COMPUTE_MAX_BATCH 4096
#define COMPUTE_MAX_PARAMS (1ull << 31)

typedef struct compute_config {
	uint32_t n_layer;  /* L */
	uint32_t n_embd;   /* C, a multiple of n_head */
	uint32_t n_head;   /* NH */
	uint32_t seq_len;  /* T */
	uint32_t vocab;    /* must be COMPUTE_VOCAB */
	uint64_t init_seed;
} compute_config;

typedef struct compute_optim {
	float lr, beta1, beta2, eps, weight_decay;
	uint32_t warmup_steps;
	uint64_t total_steps; /* cosine decay to 0 at total_steps; 0: constant after warmup */
	float grad_clip;      /* 0: no clipping */
} compute_optim;

/* IOLM_OK when cfg is within the limits above and n_embd % n_head == 0;
 * IOLM_ECONFIG otherwise. */
int compute_config_check(const compute_config *cfg) IOLM_WUR;
/* IOLM_OK when every value is finite and in range (lr > 0, 0 <= beta < 1, eps > 0,
 * weight_decay >= 0, grad_clip >= 0); IOLM_ECONFIG otherwise. */
int compute_optim_check(const compute_optim *opt) IOLM_WUR;
/* Sensible defaults (lr 3e-4, betas 0.9/0.95, eps 1e-8, wd 0.1, no warmup, no decay,
 * no clipping). */
void compute_optim_default(compute_optim *opt);

/* Number of float parameters of cfg (cfg must pass compute_config_check). */
size_t compute_config_param_count(const compute_config *cfg);

/* Tensor i (0 <= i < COMPUTE_NTENSORS) of the parameter layout: name (static string),
 * offset and element count inside the flat parameter vector. */
void compute_config_tensor(const compute_config *cfg, unsigned i, const char **name,
			   size_t *offset, size_t *count);

/* ---------------------------------------------------------------- backends */

typedef struct compute_backend compute_backend;

/* The CPU reference backend with a pool of threads (1..64) threads; the result of
 * every operation does not depend on threads. Destroy with compute_backend_destroy. */
int compute_backend_cpu_create(compute_backend **out, unsigned threads) IOLM_WUR;
/* The CUDA backend on device `device` (0-based): parameters, gradients and optimizer
 * state live in that GPU's memory, and every operation gives the CPU's bits
 * (docs/compute.md "CUDA backend"). Destroy with compute_backend_destroy.
 * IOLM_ECUDA_NODEVICE when no CUDA device is present, device is out of range, or the
 * build has no CUDA (then compute_backend_cuda_built() is 0); IOLM_ECUDA on another
 * CUDA error; IOLM_ENOMEM. A CUDA error inside an operation aborts the process (the
 * operations have no error result, and a miner must not commit to a state it did not
 * compute). */
int compute_backend_cuda_create(compute_backend **out, int device) IOLM_WUR;
/* 1 when this build contains the CUDA backend, 0 otherwise. */
int compute_backend_cuda_built(void);
void compute_backend_destroy(compute_backend *be);
/* Static name of the backend ("cpu", "cuda"). */
const char *compute_backend_name(const compute_backend *be);

/* ---------------------------------------------------------------- model */

typedef struct compute_model compute_model;

/* A model for cfg trained with opt on batches of batch sequences, living in be's
 * memory; be must outlive it. Parameters are initialised from cfg->init_seed, moments
 * zero, step 0. Destroy with compute_model_destroy. IOLM_ECONFIG for a bad config,
 * IOLM_ENOMEM. */
int compute_model_create(compute_model **out, const compute_config *cfg, uint32_t batch,
			 const compute_optim *opt, compute_backend *be) IOLM_WUR;
void compute_model_destroy(compute_model *m);

/* Borrowed pointers, valid for the model's lifetime. */
const compute_config *compute_model_config(const compute_model *m);
uint64_t compute_model_step_count(const compute_model *m);
size_t compute_model_param_count(const compute_model *m);

/* One training step at global step s = compute_model_step_count(): the batch is drawn
 * from data (len bytes, len >= seq_len + 1) for (task_id, s), then forward, backward,
 * AdamW; afterwards the step count is s + 1. *loss is the mean training loss of the
 * batch before the update. IOLM_EDATA for a dataset too short, IOLM_ENONFINITE when
 * the loss or the gradient is not finite (the model is then unchanged). */
int compute_model_step(compute_model *m, float *loss,
		       const uint8_t task_id[static IOLM_HASH_LEN], const uint8_t *data,
		       size_t len) IOLM_WUR;

/* Forward and backward on the given nb <= batch sequences (inputs and targets:
 * nb * seq_len bytes each) without updating: *loss is the mean loss, the gradient is
 * left in the model for compute_model_grads_get. For tests and verifiers. */
int compute_model_grad(compute_model *m, float *loss, const uint8_t *inputs,
		       const uint8_t *targets, uint32_t nb) IOLM_WUR;

/* Mean loss over nb <= batch sequences, forward only. */
int compute_model_loss(compute_model *m, float *loss, const uint8_t *inputs,
		       const uint8_t *targets, uint32_t nb) IOLM_WUR;

/* Eval loss over data: the windows at offsets 0, T, 2T, ... while a window and its
 * next-byte target fit, at most max_windows (0: no limit); the mean over all their
 * tokens (docs/compute.md). IOLM_EDATA when not one window fits. */
int compute_model_eval(compute_model *m, float *loss, const uint8_t *data, size_t len,
		       uint32_t max_windows) IOLM_WUR;

/* The model's next-byte distribution after context (len bytes, 1 <= len <= seq_len):
 * probs[0..vocab) for the byte following context[len - 1], from one forward pass over
 * the context (the rest of the window is padding the causal attention never sees).
 * Exactly the softmax the training loss uses, so the same bits on every backend. */
int compute_model_next_probs(compute_model *m, float *probs, const uint8_t *context,
			     size_t len) IOLM_WUR;

/* The same, one byte at a time: append byte to the context the model's activations
 * hold, at position pos (pos bytes held: those compute_model_next_probs just took, or
 * fed since; 0 starts afresh), and write probs for the byte after it. Only position
 * pos is computed (its matmuls, and attention over positions 0..pos), so generating is
 * about seq_len times cheaper than a whole window per byte, with the same bits as
 * compute_model_next_probs over the same context. Any other forward pass (a step, a
 * loss, an eval) overwrites the context: start again. IOLM_EINVAL for pos >= seq_len. */
int compute_model_feed(compute_model *m, float *probs, uint8_t byte, size_t pos) IOLM_WUR;

/* Copy the n = compute_model_param_count() parameters / gradients / moments out of
 * or into the model (IOLM_EINVAL when n differs). */
int compute_model_params_get(const compute_model *m, float *out, size_t n) IOLM_WUR;
int compute_model_params_set(compute_model *m, const float *in, size_t n) IOLM_WUR;
int compute_model_grads_get(const compute_model *m, float *out, size_t n) IOLM_WUR;

/* State hash H_model(header, parameters, m, v) at the current step (docs/compute.md
 * "State hash"). */
int compute_model_state_hash(const compute_model *m,
			     uint8_t out[static IOLM_HASH_LEN]) IOLM_WUR;

/* ---------------------------------------------------------------- data */

/* The batch of global step `step`: nb windows of T + 1 bytes at positions drawn from
 * the PRNG keyed by H_batch(task_id || le64(step)); inputs and targets receive
 * nb * T bytes each. IOLM_EDATA when len < T + 1. */
int compute_batch_draw(uint8_t *inputs, uint8_t *targets,
		       const uint8_t task_id[static IOLM_HASH_LEN], uint64_t step,
		       const uint8_t *data, size_t len, uint32_t nb, uint32_t T) IOLM_WUR;

/* ---------------------------------------------------------------- checkpoints */

/* Largest checkpoint file accepted (bytes). */
#define COMPUTE_CKPT_MAX ((uint64_t)3 * 4 * COMPUTE_MAX_PARAMS + (1u << 20))

/* Write the model (config, step, parameters, moments, state hash) to path atomically
 * (a temporary file renamed into place). IOLM_EIO on a file error. */
int compute_checkpoint_save(const compute_model *m, const char *path) IOLM_WUR;

/* Read only the config and step of a checkpoint, validating the whole file (size,
 * table, state hash) first. */
int compute_checkpoint_peek(compute_config *cfg, uint64_t *step, const char *path) IOLM_WUR;

/* Load a checkpoint into m, whose config must equal the file's. On any error m is
 * unchanged. Errors: IOLM_ECKPT_MAGIC, IOLM_ECKPT_VERSION, IOLM_ECKPT_TRUNC,
 * IOLM_ECKPT_OVERSIZE, IOLM_ECKPT_LAYOUT, IOLM_ECKPT_HASH, IOLM_ECKPT_CONFIG,
 * IOLM_ECONFIG, IOLM_EIO, IOLM_ENOMEM. */
int compute_checkpoint_load(compute_model *m, const char *path) IOLM_WUR;

/* ---------------------------------------------------------------- proofs */

/* A loss as uint64 micro-nats: round-half-even(loss * 10^6), computed exactly in
 * integers from the float's bits. IOLM_ENONFINITE for NaN, infinities and negative
 * values; IOLM_ERANGE when the result does not fit 64 bits. */
int compute_loss_micronats(uint64_t *out, float loss) IOLM_WUR;

/* Builder of a work proof: per segment of seg_len steps the state hash at its start
 * and the loss of each of its steps, then the final state and eval loss, all under one
 * Merkle root (docs/compute.md "Proof"). */
typedef struct compute_proof compute_proof;

/* A builder for a run starting at start_step with segments of seg_len >= 1 steps.
 * Destroy with compute_proof_destroy. */
int compute_proof_create(compute_proof **out, uint64_t start_step, uint32_t seg_len) IOLM_WUR;
void compute_proof_destroy(compute_proof *p);
/* Record the state hash before step `step` (required when step is a segment start,
 * refused with IOLM_ESTATE otherwise) and, after the step, its loss in micro-nats.
 * Steps must come in order without gaps (IOLM_ESTATE). */
int compute_proof_add_state(compute_proof *p, uint64_t step,
			    const uint8_t state[static IOLM_HASH_LEN]) IOLM_WUR;
int compute_proof_add_loss(compute_proof *p, uint64_t step, uint64_t loss_un) IOLM_WUR;
/* Close the proof at end_step (a segment boundary, IOLM_ESTATE otherwise) with the
 * final state and the eval loss, and compute the root. */
int compute_proof_finish(compute_proof *p, uint8_t root[static IOLM_HASH_LEN],
			 uint64_t end_step, const uint8_t final_state[static IOLM_HASH_LEN],
			 uint64_t eval_loss_un) IOLM_WUR;
/* Number of leaves of the finished proof (segments + 1). */
size_t compute_proof_leaf_count(const compute_proof *p);

/* ---------------------------------------------------------------- work claims */

/* Defaults of a task's segment length k and sample count s: a cheater faking a
 * fraction f of the segments escapes with probability (1 - f)^s, 0.10 at f = 0.25 and
 * 0.004 at f = 0.5 (docs/compute.md "Verification"). */
#define COMPUTE_DEFAULT_SEG_LEN 100
#define COMPUTE_DEFAULT_SAMPLES 8
/* Caps on a decoded claim: encoded bytes, segments, steps (segments x k). */
#define COMPUTE_CLAIM_MAX_BYTES (64u * 1024 * 1024)
#define COMPUTE_CLAIM_MAX_SEGMENTS (1u << 20)
#define COMPUTE_CLAIM_MAX_STEPS (1u << 24)

/* A work claim in memory: the WorkClaim message of proto/iolm.proto (work_id aside)
 * with the task's k. Segment j starts at start_step + j * seg_len with state hash
 * states[j] and has the seg_len losses losses[j * seg_len ..]. */
typedef struct compute_claim {
	uint64_t start_step;
	uint32_t seg_len;
	size_t nseg;
	uint8_t *states;    /* nseg * IOLM_HASH_LEN */
	uint64_t *losses;   /* nseg * seg_len, micro-nats */
	uint8_t final_state[IOLM_HASH_LEN];
	uint64_t eval_loss; /* micro-nats */
} compute_claim;

/* Encode c as a WorkClaim (work_id empty: the node binds the claim to its commit).
 * *out is malloc'ed, the caller frees it. */
int compute_claim_encode(uint8_t **out, size_t *len, const compute_claim *c) IOLM_WUR;
/* Decode a WorkClaim for a task with segment length seg_len into c (its arrays owned
 * by c; free with compute_claim_release, also safe after a failure). The encoding must
 * be canonical (core/codec.h) and at most COMPUTE_CLAIM_MAX_BYTES; segments must be
 * 1..COMPUTE_CLAIM_MAX_SEGMENTS, contiguous (step_j = step_0 + j k), each with a
 * 32-byte state and exactly k losses, the final state 32 bytes. IOLM_EVERIFY_CLAIM
 * otherwise, IOLM_ENOMEM. */
int compute_claim_decode(compute_claim *c, const uint8_t *data, size_t len,
			 uint32_t seg_len) IOLM_WUR;
void compute_claim_release(compute_claim *c);
/* Merkle root of the claim's leaves (docs/compute.md "Proof"); equals the root the
 * miner's compute_proof produced for the same run. */
int compute_claim_root(uint8_t root[static IOLM_HASH_LEN], const compute_claim *c) IOLM_WUR;

/* ---------------------------------------------------------------- verification */

/* What a verifier needs to know of a task (the TaskCreate fields of the step). */
typedef struct compute_task {
	uint8_t id[IOLM_HASH_LEN];
	compute_config cfg;
	compute_optim opt;
	uint32_t batch;        /* sequences per step */
	uint32_t seg_len;      /* k */
	uint32_t samples;      /* s */
	uint32_t eval_windows; /* 0: every window of the eval set */
} compute_task;

/* The s = min(samples, nseg) distinct segment indices (< nseg) a challenge seed picks,
 * in the order drawn: word w of H_challenge(seed || le64(c)) for c = 0, 1, ... and
 * w = 0..3 (little-endian u64 each) is accepted when below 2^64 - (2^64 mod nseg),
 * giving index word mod nseg, and skipped when already drawn. out holds s entries. */
int compute_sample_segments(uint32_t *out, uint32_t samples, size_t nseg,
			    const uint8_t seed[static IOLM_HASH_LEN]) IOLM_WUR;

/* File name of the checkpoint at `step` in dir: "DIR/ckpt-%08llu.bin" (the miner
 * writes, the verifier reads). IOLM_ETOOBIG when it does not fit cap bytes. */
int compute_checkpoint_name(char *buf, size_t cap, const char *dir, uint64_t step) IOLM_WUR;

/* Most segments one verification samples. */
#define COMPUTE_MAX_SAMPLES 64

/* Outcome of a verification. */
typedef struct compute_verdict {
	int reason;          /* IOLM_OK: valid; otherwise why the work is invalid */
	uint32_t segment;    /* segment at fault (reasons about one segment) */
	uint64_t step;       /* global step where the mismatch was seen */
	uint32_t nsampled;   /* segments checked (the first nsampled of sampled[]) */
	uint32_t sampled[COMPUTE_MAX_SAMPLES];
	double cpu_s;        /* process CPU time of the whole verification */
	double eval_cpu_s;   /* of which the eval loss */
} compute_verdict;

/* Verify an encoded WorkClaim against task: the claim must decode (and hash to root
 * when root is not NULL); for each segment the seed samples, load its start checkpoint
 * from ckpt_dir (compute_checkpoint_name), check its step and state against the
 * claim, re-execute k steps on be with the training set, then compare the end state
 * (the next segment's state, or the final state) and every step's loss; finally load
 * the final checkpoint and recompute the eval loss on the eval set. The first failure
 * sets v->reason (IOLM_EVERIFY_*, or the checkpoint reader's IOLM_ECKPT_* / IOLM_EIO
 * (IOLM_ENOTFOUND when missing) for a corrupt or absent checkpoint). Returns IOLM_OK when a verdict was reached,
 * an error (IOLM_ENOMEM, IOLM_EINVAL for samples > COMPUTE_MAX_SAMPLES or a data set
 * too short, in which case no verdict) otherwise. */
int compute_verify(compute_verdict *v, compute_backend *be, const compute_task *task,
		   const uint8_t *claim, size_t claim_len, const uint8_t *root,
		   const uint8_t seed[static IOLM_HASH_LEN], const char *ckpt_dir,
		   const uint8_t *train, size_t train_len, const uint8_t *eval,
		   size_t eval_len) IOLM_WUR;

/* Eval windows of a task on chain: TaskCreate has no field for it, so miners and
 * verifiers use this one number. */
#define COMPUTE_CHAIN_EVAL_WINDOWS 64

struct Iolm__TaskCreate;
/* The compute task of an on-chain task: id is the task id (its task_create tx id), tc
 * the decoded TaskCreate. IOLM_ECONFIG when the model or optimizer is out of range. */
int compute_task_from_create(compute_task *t, const uint8_t id[static IOLM_HASH_LEN],
			     const struct Iolm__TaskCreate *tc) IOLM_WUR;

/* ---------------------------------------------------------------- task files */

/* A task read from a local task file (until tasks come from the chain): the step's
 * TaskCreate fields and the paths standing in for its dataset and eval artifacts.
 * Format (docs/compute.md "Task file"): lines "key = value", '#' starts a comment;
 * keys are the proto field names task_id (64 hex digits), n_layer, n_embd, n_head,
 * seq_len, init_seed, lr, beta1, beta2, eps, weight_decay, warmup_steps,
 * total_steps, grad_clip, batch_size, segment_len, samples, and eval_windows,
 * dataset, eval (paths). */
#define COMPUTE_TASK_FILE_MAX (64u * 1024)
#define COMPUTE_TASK_PATH_MAX 1024

typedef struct compute_task_file {
	compute_task task;
	char dataset[COMPUTE_TASK_PATH_MAX];
	char eval[COMPUTE_TASK_PATH_MAX]; /* empty: the last tenth of the dataset */
} compute_task_file;

/* Parse len bytes of task-file text into tf (defaults for keys not given: those of
 * iolm-miner's flags). IOLM_ETASKFILE for an unknown, repeated or malformed line
 * (*bad_line: its 1-based number, 0 for a missing key), IOLM_ECONFIG for a config or
 * optimizer out of range, IOLM_ETOOBIG past COMPUTE_TASK_FILE_MAX. */
int compute_task_file_parse(compute_task_file *tf, unsigned *bad_line, const char *text,
			    size_t len) IOLM_WUR;
/* Read and parse the file at path (IOLM_EIO / IOLM_ENOTFOUND for file errors). */
int compute_task_file_read(compute_task_file *tf, unsigned *bad_line,
			   const char *path) IOLM_WUR;

#endif
