/* The verifier: sample segments of a work claim from a challenge seed and re-execute
 * them on the CPU (docs/compute.md "Verification").
 *
 * For each sampled segment j the checks run in this order, the first failure deciding
 * the verdict:
 *   1. its start checkpoint loads (IOLM_ECKPT_* / IOLM_EIO: corrupt or missing);
 *   2. the checkpoint is at the claimed step (IOLM_EVERIFY_SKIP) and has the claimed
 *      state hash (IOLM_EVERIFY_CKPT);
 *   3. k steps re-executed from it end in the claimed end state (IOLM_EVERIFY_STATE:
 *      the miner trained something else: a skipped or altered step, another batch);
 *   4. each re-executed step's loss equals the claimed one (IOLM_EVERIFY_LOSS: the
 *      training was right but a reported loss is not).
 * The end state is checked before the losses so that a state divergence is reported as
 * such even though it usually shows in a loss too; v->step then names the first step
 * whose loss differed, which localises the divergence. Last the final checkpoint is
 * loaded, checked like a segment start, and the eval loss recomputed
 * (IOLM_EVERIFY_EVAL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/compute.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int compute_sample_segments(uint32_t *out, uint32_t samples, size_t nseg,
			    const uint8_t seed[static IOLM_HASH_LEN])
{
	if (nseg < 1 || nseg > COMPUTE_CLAIM_MAX_SEGMENTS)
		return IOLM_EINVAL;
	uint32_t s = samples < nseg ? samples : (uint32_t)nseg, got = 0;
	/* accept words below the largest multiple of nseg: every index equally likely */
	uint64_t n = (uint64_t)nseg, limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
	for (uint64_t ctr = 0; got < s; ctr++) {
		uint8_t h[IOLM_HASH_LEN], c8[8];
		for (int i = 0; i < 8; i++)
			c8[i] = (uint8_t)(ctr >> (8 * i));
		iolm_hash2(h, IOLM_TAG_CHALLENGE, seed, IOLM_HASH_LEN, c8, sizeof c8);
		for (int w = 0; w < 4 && got < s; w++) {
			uint64_t r = le64(h + 8 * w);
			if (r > limit)
				continue;
			uint32_t idx = (uint32_t)(r % n);
			int dup = 0;
			for (uint32_t i = 0; i < got; i++)
				dup |= out[i] == idx;
			if (!dup)
				out[got++] = idx;
		}
	}
	return IOLM_OK;
}

int compute_checkpoint_name(char *buf, size_t cap, const char *dir, uint64_t step)
{
	int n = snprintf(buf, cap, "%s/ckpt-%08llu.bin", dir, (unsigned long long)step);
	return n < 0 || (size_t)n >= cap ? IOLM_ETOOBIG : IOLM_OK;
}

/* Load the checkpoint at `step` into m and check it against the claimed state.
 * IOLM_OK, a verdict reason, or IOLM_ENOMEM (no verdict). */
static int load_claimed(compute_model *m, const char *dir, uint64_t step,
			const uint8_t want[static IOLM_HASH_LEN])
{
	char path[4096];
	uint8_t h[IOLM_HASH_LEN];
	int err = compute_checkpoint_name(path, sizeof path, dir, step);
	if (err)
		return IOLM_EIO;
	if ((err = compute_checkpoint_load(m, path)))
		return err;
	if (compute_model_step_count(m) != step)
		return IOLM_EVERIFY_SKIP;
	if ((err = compute_model_state_hash(m, h)))
		return err;
	return memcmp(h, want, IOLM_HASH_LEN) ? IOLM_EVERIFY_CKPT : IOLM_OK;
}

/* Re-execute segment j of c (its start already loaded into m). */
static int check_segment(compute_verdict *v, compute_model *m, const compute_task *t,
			 const compute_claim *c, size_t j, const uint8_t *train,
			 size_t train_len)
{
	uint64_t start = c->start_step + (uint64_t)j * c->seg_len;
	uint64_t first_bad = UINT64_MAX;
	uint8_t h[IOLM_HASH_LEN];
	int err = IOLM_OK;
	for (uint32_t i = 0; i < c->seg_len; i++) {
		float loss;
		uint64_t un = UINT64_MAX;
		err = compute_model_step(m, &loss, t->id, train, train_len);
		if (err == IOLM_ENONFINITE) {
			/* an honest run cannot claim a non-finite loss: a mismatch */
			v->step = start + i;
			return IOLM_EVERIFY_LOSS;
		}
		if (err || (err = compute_loss_micronats(&un, loss)) != IOLM_OK)
			return err == IOLM_ERANGE ? IOLM_EVERIFY_LOSS : err;
		if (un != c->losses[j * c->seg_len + i] && first_bad == UINT64_MAX)
			first_bad = start + i;
	}
	if ((err = compute_model_state_hash(m, h)))
		return err;
	const uint8_t *want = j + 1 < c->nseg ? c->states + (j + 1) * IOLM_HASH_LEN
					      : c->final_state;
	v->step = first_bad != UINT64_MAX ? first_bad : start + c->seg_len;
	if (memcmp(h, want, IOLM_HASH_LEN))
		return IOLM_EVERIFY_STATE;
	return first_bad != UINT64_MAX ? IOLM_EVERIFY_LOSS : IOLM_OK;
}

/* The whole check of a decoded claim; returns a verdict reason or a hard error
 * (IOLM_ENOMEM / IOLM_EINVAL), telling them apart with *hard. */
static int verify_claim(compute_verdict *v, int *hard, compute_model *m,
			const compute_task *t, const compute_claim *c,
			const uint8_t seed[static IOLM_HASH_LEN], const char *dir,
			const uint8_t *train, size_t train_len, const uint8_t *eval,
			size_t eval_len)
{
	int err = compute_sample_segments(v->sampled, t->samples, c->nseg, seed);
	if (err)
		return *hard = 1, err;
	uint32_t s = t->samples < c->nseg ? t->samples : (uint32_t)c->nseg;
	for (uint32_t i = 0; i < s; i++) {
		size_t j = v->sampled[i];
		uint64_t start = c->start_step + (uint64_t)j * c->seg_len;
		v->segment = (uint32_t)j;
		v->step = start;
		v->nsampled = i + 1;
		if ((err = load_claimed(m, dir, start, c->states + j * IOLM_HASH_LEN)) ||
		    (err = check_segment(v, m, t, c, j, train, train_len)))
			return *hard = err == IOLM_ENOMEM, err;
	}
	uint64_t end = c->start_step + (uint64_t)c->nseg * c->seg_len;
	double e0 = cpu_now();
	v->segment = (uint32_t)c->nseg;
	v->step = end;
	if ((err = load_claimed(m, dir, end, c->final_state)))
		return *hard = err == IOLM_ENOMEM, err;
	float ev;
	uint64_t evun = 0;
	err = compute_model_eval(m, &ev, eval, eval_len, t->eval_windows);
	if (!err)
		err = compute_loss_micronats(&evun, ev);
	v->eval_cpu_s = cpu_now() - e0;
	if (err == IOLM_ENONFINITE || err == IOLM_ERANGE || (!err && evun != c->eval_loss))
		return IOLM_EVERIFY_EVAL;
	*hard = err != IOLM_OK;
	return err;
}

int compute_verify(compute_verdict *v, compute_backend *be, const compute_task *task,
		   const uint8_t *claim, size_t claim_len, const uint8_t *root,
		   const uint8_t seed[static IOLM_HASH_LEN], const char *ckpt_dir,
		   const uint8_t *train, size_t train_len, const uint8_t *eval,
		   size_t eval_len)
{
	compute_claim c;
	compute_model *m = NULL;
	uint8_t r[IOLM_HASH_LEN];
	int hard = 0, reason;
	double t0 = cpu_now();
	memset(v, 0, sizeof *v);
	memset(&c, 0, sizeof c);
	size_t T = task->cfg.seq_len;
	if (task->samples < 1 || task->samples > COMPUTE_MAX_SAMPLES || task->seg_len < 1 ||
	    train_len < T + 1 || eval_len < T + 1)
		return IOLM_EINVAL;
	reason = compute_claim_decode(&c, claim, claim_len, task->seg_len);
	if (reason == IOLM_ENOMEM)
		goto out;
	if (reason)
		goto verdict;
	if (root) {
		if ((reason = compute_claim_root(r, &c)))
			goto out;
		if (memcmp(r, root, IOLM_HASH_LEN)) {
			reason = IOLM_EVERIFY_ROOT;
			goto verdict;
		}
	}
	if ((reason = compute_model_create(&m, &task->cfg, task->batch, &task->opt, be)))
		goto out;
	reason = verify_claim(v, &hard, m, task, &c, seed, ckpt_dir, train, train_len, eval,
			      eval_len);
	if (hard)
		goto out;
verdict:
	v->reason = reason;
	reason = IOLM_OK;
out:
	v->cpu_s = cpu_now() - t0;
	compute_model_destroy(m);
	compute_claim_release(&c);
	return reason;
}
