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
#include <unistd.h>

#include "compute/dp.h"
#include "core/hash.h"
#include "core/hex.h"

#define MINER_PATH_MAX 4096
#define PROGRESS_FILE "progress.log"
#define PROGRESS_MAGIC "iolm-progress 1"
#define PROGRESS_HEADER_MAX 400

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

/* ---------------------------------------------------------------- the progress log
 *
 *   iolm-progress 1 TASK START STEPS K STARTSTATE TRAINHASH
 *   seg J STATE_AT_ITS_START STATE_AT_ITS_END LOSS_1 ... LOSS_K
 *
 * hashes in hex, losses in micro-nats; one seg line per segment, in order, each written
 * once the checkpoint at its end is. */

/* The header line (without its newline) of the run p starting at step `start` from
 * state s0. */
static int progress_header(char *out, size_t cap, const compute_miner_params *p, uint64_t start,
			   const uint8_t s0[static IOLM_HASH_LEN])
{
	char task[2 * IOLM_HASH_LEN + 1], st[2 * IOLM_HASH_LEN + 1], data[2 * IOLM_HASH_LEN + 1];
	uint8_t h[IOLM_HASH_LEN];
	iolm_hash(h, IOLM_TAG_RUNDATA, p->train, p->train_len);
	iolm_hex_encode(task, sizeof task, p->task->id, IOLM_HASH_LEN);
	iolm_hex_encode(st, sizeof st, s0, IOLM_HASH_LEN);
	iolm_hex_encode(data, sizeof data, h, IOLM_HASH_LEN);
	int n = snprintf(out, cap, "%s %s %" PRIu64 " %" PRIu64 " %u %s %s", PROGRESS_MAGIC, task,
			 start, p->steps, p->task->seg_len, st, data);
	return n < 0 || (size_t)n >= cap ? IOLM_ETOOBIG : IOLM_OK;
}

/* DIR's log, opened with mode. */
static int progress_open(FILE **out, const char *dir, const char *mode)
{
	char path[MINER_PATH_MAX];
	int err = join(path, sizeof path, dir, PROGRESS_FILE);
	*out = NULL;
	if (err)
		return err;
	return (*out = fopen(path, mode)) ? IOLM_OK : IOLM_EIO;
}

/* A fresh log holding header. */
static int progress_create(FILE **out, const char *dir, const char *header)
{
	FILE *f;
	int err = progress_open(&f, dir, "w");
	*out = NULL;
	if (err)
		return err;
	if (fprintf(f, "%s\n", header) < 0 || fflush(f) || fdatasync(fileno(f))) {
		fclose(f);
		return IOLM_EIO;
	}
	*out = f;
	return IOLM_OK;
}

/* Segment j of c is done, its end checkpoint written: its line, on the disk. */
static int progress_append(FILE *f, const compute_claim *c, size_t j,
			   const uint8_t end[static IOLM_HASH_LEN])
{
	char a[2 * IOLM_HASH_LEN + 1], b[2 * IOLM_HASH_LEN + 1];
	iolm_hex_encode(a, sizeof a, c->states + j * IOLM_HASH_LEN, IOLM_HASH_LEN);
	iolm_hex_encode(b, sizeof b, end, IOLM_HASH_LEN);
	int bad = fprintf(f, "seg %zu %s %s", j, a, b) < 0;
	for (size_t s = j * c->seg_len; s < (j + 1) * c->seg_len && !bad; s++)
		bad = fprintf(f, " %" PRIu64, c->losses[s]) < 0;
	bad |= fputc('\n', f) == EOF || fflush(f) != 0 || fdatasync(fileno(f)) != 0;
	return bad ? IOLM_EIO : IOLM_OK;
}

/* Parse one seg line for segment j into c (its start state and losses) and end. */
static int progress_line(char *line, compute_claim *c, size_t j, uint8_t end[IOLM_HASH_LEN])
{
	char *save = NULL, *tok = strtok_r(line, " \n", &save);
	char *num = strtok_r(NULL, " \n", &save), *a = strtok_r(NULL, " \n", &save);
	char *b = strtok_r(NULL, " \n", &save), *e;
	if (!tok || strcmp(tok, "seg") || !num || strtoull(num, &e, 10) != j || *e || !a || !b ||
	    iolm_hex_decode_exact(c->states + j * IOLM_HASH_LEN, IOLM_HASH_LEN, a) ||
	    iolm_hex_decode_exact(end, IOLM_HASH_LEN, b))
		return IOLM_EDECODE;
	for (size_t s = j * c->seg_len; s < (j + 1) * c->seg_len; s++) {
		if (!(tok = strtok_r(NULL, " \n", &save)) || *tok < '0' || *tok > '9')
			return IOLM_EDECODE;
		errno = 0;
		c->losses[s] = strtoull(tok, &e, 10);
		if (*e || errno)
			return IOLM_EDECODE;
	}
	return strtok_r(NULL, " \n", &save) ? IOLM_EDECODE : IOLM_OK;
}

/* The whole seg lines of DIR's log when its header is header: into c, their count
 * returned (0: none, or another run's log), the last one's end state into end. A line
 * a crash cut short, and whatever follows it, does not count. */
static size_t progress_load(const char *dir, const char *header, compute_claim *c,
			    uint8_t end[IOLM_HASH_LEN])
{
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t got;
	FILE *f;
	if (progress_open(&f, dir, "r"))
		return 0;
	if ((got = getline(&line, &cap, f)) > 0 && line[got - 1] == '\n' &&
	    (size_t)got == strlen(header) + 1 && !memcmp(line, header, (size_t)got - 1)) {
		while (n < c->nseg && (got = getline(&line, &cap, f)) > 0 &&
		       line[got - 1] == '\n' && !progress_line(line, c, n, end))
			n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* Reopen DIR's log to append to it. */
static int progress_reopen(FILE **out, const char *dir, size_t lines)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = progress_open(&f, dir, "r+");
	*out = NULL;
	if (err)
		return err;
	/* past the header and the lines kept: a cut line after them is overwritten */
	for (size_t i = 0; i <= lines; i++)
		if (getline(&line, &cap, f) <= 0)
			err = IOLM_EIO;
	free(line);
	long pos = ftell(f);
	if (err || pos < 0 || fseek(f, pos, SEEK_SET) || ftruncate(fileno(f), pos)) {
		fclose(f);
		return err ? err : IOLM_EIO;
	}
	*out = f;
	return IOLM_OK;
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

/* The training loop over the run's steps [s0, steps) (s0: those done before, a multiple
 * of k, their claim arrays and proof leaves filled): boundaries, losses, claim arrays,
 * and a line in the progress log for each segment done. */
static int train_loop(const compute_miner_params *p, struct trainer *tr, compute_proof *proof,
		      compute_claim *c, FILE *log, uint64_t s0)
{
	compute_model *m = tr->m;
	const compute_task *t = p->task;
	uint64_t start = compute_model_step_count(m) - s0;
	uint64_t tok_step = (uint64_t)t->batch * t->cfg.seq_len;
	double t0 = now_s(), tlast = t0;
	int err;
	for (uint64_t s = s0; s < p->steps; s++) {
		if (s % t->seg_len == 0) {
			size_t j = (size_t)(s / t->seg_len);
			if ((err = commit_boundary(m, proof, p->out_dir,
						   c->states + j * IOLM_HASH_LEN, 0)) ||
			    (s > s0 && (err = progress_append(log, c, j - 1,
							      c->states + j * IOLM_HASH_LEN))))
				return err;
		}
		float loss;
		if ((err = trainer_step(tr, &loss, p)) ||
		    (err = compute_loss_micronats(&c->losses[s], loss)) ||
		    (err = compute_proof_add_loss(proof, start + s, c->losses[s])))
			return err;
		double now = now_s();
		if (now - tlast >= 1.0 || s + 1 == p->steps || s < s0 + 3) {
			double el = now - t0 > 1e-9 ? now - t0 : 1e-9;
			uint64_t ran = s + 1 - s0;
			compute_miner_progress pr = {
				.step = start + s + 1, .done = s + 1, .steps = p->steps, .loss = loss,
				.tokens_per_s = (double)(tok_step * ran) / el,
				.eta_s = el / (double)ran * (double)(p->steps - s - 1),
			};
			if ((err = report(p, &pr)))
				return err;
			tlast = now;
		}
	}
	if ((err = commit_boundary(m, proof, p->out_dir, c->final_state, 1)))
		return err;
	return p->steps > s0 ? progress_append(log, c, c->nseg - 1, c->final_state) : IOLM_OK;
}

/* Go on from DIR's progress log for the run whose header is header, m at its start:
 * the number of steps done (0: start afresh), m loaded from the checkpoint ending them,
 * c and proof filled with what they recorded. *touched: whether m, c or proof may have
 * changed (a log of this run whose checkpoint did not load or check out). */
static uint64_t resume_from(const compute_miner_params *p, compute_model *m, compute_claim *c,
			    compute_proof *proof, const char *header, int *touched)
{
	char path[MINER_PATH_MAX];
	uint8_t end[IOLM_HASH_LEN], h[IOLM_HASH_LEN];
	uint64_t start = compute_model_step_count(m), k = p->task->seg_len;
	size_t n = progress_load(p->out_dir, header, c, end);
	*touched = n > 0;
	if (!n || compute_checkpoint_name(path, sizeof path, p->out_dir, start + n * k) ||
	    compute_checkpoint_load(m, path) || compute_model_state_hash(m, h) ||
	    memcmp(h, end, IOLM_HASH_LEN) || compute_model_step_count(m) != start + n * k)
		return 0;
	for (size_t j = 0; j < n; j++) {
		if (compute_proof_add_state(proof, start + j * k, c->states + j * IOLM_HASH_LEN))
			return 0;
		for (uint64_t s = j * k; s < (j + 1) * k; s++)
			if (compute_proof_add_loss(proof, start + s, c->losses[s]))
				return 0;
	}
	return n * k;
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
	char header[PROGRESS_HEADER_MAX];
	uint8_t s0[IOLM_HASH_LEN];
	uint64_t done = 0;
	FILE *log = NULL;
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
	if ((err = compute_proof_create(&proof, r->start_step, p->task->seg_len)) ||
	    (err = compute_model_state_hash(m, s0)) ||
	    (err = progress_header(header, sizeof header, p, r->start_step, s0)))
		goto out;
	int touched = 0;
	if (p->resume && (done = resume_from(p, m, &claim, proof, header, &touched))) {
		err = progress_reopen(&log, p->out_dir, (size_t)(done / p->task->seg_len));
	} else {
		/* what a failed resume changed, undone: the start again, a fresh proof */
		if (touched) {
			if (tr.dp)
				compute_dp_destroy(tr.dp);
			else
				compute_model_destroy(tr.m);
			tr.m = NULL;
			tr.dp = NULL;
			if ((err = start_model(&tr, p)))
				goto out;
			m = tr.m;
		}
		compute_proof_destroy(proof);
		proof = NULL;
		if (!(err = compute_proof_create(&proof, r->start_step, p->task->seg_len)))
			err = progress_create(&log, p->out_dir, header);
	}
	if (err)
		goto out;
	r->resumed_steps = done;
	if (p->initial_eval && !done) {
		if ((err = compute_model_eval(m, &evloss, p->eval, p->eval_len,
					      p->task->eval_windows)))
			goto out;
		r->initial_eval_loss = evloss;
		compute_miner_progress pr = { .initial = 1, .step = r->start_step,
					      .steps = p->steps, .loss = evloss };
		if ((err = report(p, &pr)))
			goto out;
	}
	if ((err = train_loop(p, &tr, proof, &claim, log, done)) ||
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
	if (log)
		fclose(log);
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
