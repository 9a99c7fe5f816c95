/* compute_miner_run: a miner's training run (compute/miner.h). The command-line tool
 * around it is node/miner_main.c (iolm-miner train / mine). */
#include "compute/miner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compute/dp.h"
#include "core/hex.h"

#define MINER_PATH_MAX 4096

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The state hash at the boundary the model is at: into the claim slot `hash`, into the
 * proof unless it is the final boundary, and into a checkpoint file. */
static int commit_boundary(compute_model *m, compute_proof *proof, const char *dir,
			   uint8_t hash[static IOLM_HASH_LEN], int final)
{
	char path[MINER_PATH_MAX];
	uint64_t step = compute_model_step_count(m);
	int err = compute_model_state_hash(m, hash);
	if (err)
		return err;
	if (!final && (err = compute_proof_add_state(proof, step, hash)))
		return err;
	if ((err = compute_checkpoint_name(path, sizeof path, dir, step)))
		return err;
	return compute_checkpoint_save(m, path);
}

/* dir/name as a path, or IOLM_ETOOBIG. */
static int join(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? IOLM_ETOOBIG : IOLM_OK;
}

/* Write len bytes to dir/name through a temporary file renamed into place, so a reader
 * (the miner's HTTP server) never sees half a file. */
static int write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	char path[MINER_PATH_MAX], tmp[MINER_PATH_MAX + 8];
	int err = join(path, sizeof path, dir, name);
	if (err)
		return err;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return IOLM_EIO;
	int bad = len && fwrite(data, 1, len, f) != len;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		remove(tmp);
		return IOLM_EIO;
	}
	return IOLM_OK;
}

/* DIR/claim.bin: the encoded WorkClaim; its root must be the proof's. */
static int write_claim(const char *dir, const compute_claim *c,
		       const uint8_t root[static IOLM_HASH_LEN])
{
	uint8_t *enc = NULL, r2[IOLM_HASH_LEN];
	size_t len;
	int err = compute_claim_root(r2, c);
	if (err)
		return err;
	if (memcmp(r2, root, IOLM_HASH_LEN))
		return IOLM_ESTATE; /* the two encodings of the proof disagree: a bug */
	if ((err = compute_claim_encode(&enc, &len, c)))
		return err;
	err = write_atomic(dir, COMPUTE_MINER_CLAIM_FILE, enc, len);
	free(enc);
	return err;
}

/* DIR/proof.txt: root, final state, steps, k and eval loss as text. */
static int write_summary(const char *dir, const compute_miner_result *r, uint32_t k)
{
	char text[512], rh[2 * IOLM_HASH_LEN + 1], fh[2 * IOLM_HASH_LEN + 1];
	iolm_hex_encode(rh, sizeof rh, r->proof_root, IOLM_HASH_LEN);
	iolm_hex_encode(fh, sizeof fh, r->final_state, IOLM_HASH_LEN);
	int n = snprintf(text, sizeof text,
			 "proof_root %s\nfinal_state %s\nstart_step %" PRIu64 "\nsteps %" PRIu64
			 "\nsegment_len %u\neval_loss_micronats %" PRIu64 "\n",
			 rh, fh, r->start_step, r->end_step - r->start_step, k, r->eval_loss);
	if (n < 0 || (size_t)n >= sizeof text)
		return IOLM_ETOOBIG;
	return write_atomic(dir, "proof.txt", text, (size_t)n);
}

static int report(const compute_miner_params *p, const compute_miner_progress *pr)
{
	return p->progress ? p->progress(p->progress_ctx, pr) : IOLM_OK;
}

/* What trains: one model, or a data-parallel one whose last rank (m) holds the
 * state. */
struct trainer {
	compute_model *m;
	compute_dp *dp;
};

static int trainer_step(struct trainer *tr, float *loss, const compute_miner_params *p)
{
	if (tr->dp)
		return compute_dp_step(tr->dp, loss, p->task->id, p->train, p->train_len);
	return compute_model_step(tr->m, loss, p->task->id, p->train, p->train_len);
}

/* The training loop over [start, start + steps): boundaries, losses, claim arrays. */
static int train_loop(const compute_miner_params *p, struct trainer *tr,
		      compute_proof *proof, compute_claim *c)
{
	compute_model *m = tr->m;
	const compute_task *t = p->task;
	uint64_t start = compute_model_step_count(m), tok_step = (uint64_t)t->batch * t->cfg.seq_len;
	double t0 = now_s(), tlast = t0;
	int err;
	for (uint64_t s = 0; s < p->steps; s++) {
		if (s % t->seg_len == 0) {
			uint8_t *st = c->states + (s / t->seg_len) * IOLM_HASH_LEN;
			if ((err = commit_boundary(m, proof, p->out_dir, st, 0)))
				return err;
		}
		float loss;
		if ((err = trainer_step(tr, &loss, p)) ||
		    (err = compute_loss_micronats(&c->losses[s], loss)) ||
		    (err = compute_proof_add_loss(proof, start + s, c->losses[s])))
			return err;
		double now = now_s();
		if (now - tlast >= 1.0 || s + 1 == p->steps || s < 3) {
			double el = now - t0 > 1e-9 ? now - t0 : 1e-9;
			compute_miner_progress pr = {
				.step = start + s + 1, .done = s + 1, .steps = p->steps, .loss = loss,
				.tokens_per_s = (double)(tok_step * (s + 1)) / el,
				.eta_s = el / (double)(s + 1) * (double)(p->steps - s - 1),
			};
			if ((err = report(p, &pr)))
				return err;
			tlast = now;
		}
	}
	return commit_boundary(m, proof, p->out_dir, c->final_state, 1);
}

/* The model at the run's start: fresh, or the parent checkpoint checked against the
 * committed state and step (loaded into the last rank, which hands its parameters to
 * the others at the first step). */
static int start_model(struct trainer *tr, const compute_miner_params *p)
{
	uint8_t h[IOLM_HASH_LEN];
	const compute_task *t = p->task;
	int err;
	if (p->nranks >= 2) {
		err = compute_dp_create(&tr->dp, &t->cfg, t->batch, &t->opt, p->ranks, p->nranks,
					p->dp_tr);
		tr->m = err ? NULL : compute_dp_model(tr->dp);
	} else {
		err = compute_model_create(&tr->m, &t->cfg, t->batch, &t->opt, p->be);
	}
	if (err || !p->parent_ckpt)
		return err;
	if ((err = compute_checkpoint_load(tr->m, p->parent_ckpt)) ||
	    (err = compute_model_state_hash(tr->m, h)))
		return err;
	if (p->parent_state) {
		if (memcmp(h, p->parent_state, IOLM_HASH_LEN) != 0)
			return IOLM_EVERIFY_CKPT;
		if (compute_model_step_count(tr->m) != p->parent_step)
			return IOLM_EVERIFY_SKIP;
	}
	return IOLM_OK;
}

static int check_params(const compute_miner_params *p)
{
	const compute_task *t = p->task;
	if (!t || (p->nranks >= 2 ? !p->ranks || !p->dp_tr : !p->be) || !p->out_dir || !p->train || !p->eval || t->seg_len == 0 ||
	    p->steps == 0 || p->steps % t->seg_len != 0 ||
	    p->steps > COMPUTE_CLAIM_MAX_STEPS || p->steps / t->seg_len > COMPUTE_CLAIM_MAX_SEGMENTS)
		return IOLM_EINVAL;
	return IOLM_OK;
}

int compute_miner_run(compute_miner_result *r, const compute_miner_params *p)
{
	struct trainer tr = { NULL, NULL };
	compute_model *m;
	compute_proof *proof = NULL;
	compute_claim claim = { 0 };
	float evloss;
	int err;

	memset(r, 0, sizeof *r);
	if ((err = check_params(p)))
		return err;
	if (mkdir(p->out_dir, 0755) != 0 && errno != EEXIST)
		return IOLM_EIO;
	claim.seg_len = p->task->seg_len;
	claim.nseg = (size_t)(p->steps / p->task->seg_len);
	claim.states = calloc(claim.nseg, IOLM_HASH_LEN);
	claim.losses = calloc((size_t)p->steps, sizeof *claim.losses);
	if (!claim.states || !claim.losses) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = start_model(&tr, p)))
		goto out;
	m = tr.m;
	r->start_step = claim.start_step = compute_model_step_count(m);
	r->end_step = r->start_step + p->steps;
	r->nparams = compute_model_param_count(m);
	if ((err = compute_proof_create(&proof, r->start_step, p->task->seg_len)))
		goto out;
	if (p->initial_eval) {
		if ((err = compute_model_eval(m, &evloss, p->eval, p->eval_len,
					      p->task->eval_windows)))
			goto out;
		r->initial_eval_loss = evloss;
		compute_miner_progress pr = { .initial = 1, .step = r->start_step,
					      .steps = p->steps, .loss = evloss };
		if ((err = report(p, &pr)))
			goto out;
	}
	if ((err = train_loop(p, &tr, proof, &claim)) ||
	    (err = compute_model_eval(m, &evloss, p->eval, p->eval_len, p->task->eval_windows)) ||
	    (err = compute_loss_micronats(&claim.eval_loss, evloss)) ||
	    (err = compute_proof_finish(proof, r->proof_root, r->end_step, claim.final_state,
					claim.eval_loss)) ||
	    (err = write_claim(p->out_dir, &claim, r->proof_root)))
		goto out;
	memcpy(r->final_state, claim.final_state, IOLM_HASH_LEN);
	r->eval_loss = claim.eval_loss;
	r->eval_loss_f = evloss;
	err = write_summary(p->out_dir, r, p->task->seg_len);
out:
	if (err)
		memset(r, 0, sizeof *r);
	compute_claim_release(&claim);
	compute_proof_destroy(proof);
	if (tr.dp)
		compute_dp_destroy(tr.dp);
	else
		compute_model_destroy(tr.m);
	return err;
}
