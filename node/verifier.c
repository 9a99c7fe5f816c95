#include "node/verifier.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "compute/compute.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/httpc.h"

#define MOD "verify"
#define RETRY_MS 2000
#define CKPT_MAX_BYTES ((size_t)2 << 30)
#define FETCH_TIMEOUT_MS 30000 /* without a byte */
#define DATA_MAX_BYTES (1ull << 31)

struct vjob {
	struct vjob *next;
	uint8_t work[32], task[32], seed[32], proof_root[32], final_state[32];
	uint8_t ckpt_id[ART_ID_LEN]; /* the committed checkpoint_id */
	uint64_t commit_height, deadline_ms, start_step, steps, eval_loss;
	char endpoint[LEDGER_MAX_ENDPOINT + 1];
	uint64_t next_try_ms;
	/* verdict */
	int valid, reason;
	uint32_t segments[COMPUTE_MAX_SAMPLES];
	size_t nseg;
	double cpu_s;
	int keep;              /* valid, and its final checkpoint is left in work_dir to keep */
	int wants_data;        /* tried, and the task's data sets were not in the store */
};

/* A final checkpoint the worker added to the store, for the loop's kept callback. */
struct kept {
	struct kept *next;
	uint8_t work[32];
	uint8_t ckpt_id[ART_ID_LEN];
};

struct node_verifier {
	node_verifier_config cfg;
	char work_dir[1024];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int started, stopping;
	struct vjob *waiting;  /* committed, no seed yet (loop thread only) */
	struct vjob *ready;    /* seeded, for the worker */
	struct vjob *done;     /* verdicts, for the loop */
	struct kept *kept;     /* checkpoints stored, for the loop */
	atomic_int stop_add;   /* set by destroy: an add of a checkpoint stops */
	int pipe_r, pipe_w;
	struct event *ev;
	uint64_t height;       /* latest committed height the loop saw */
	node_verifier_stats st;
};

static void free_list(struct vjob *j)
{
	while (j) {
		struct vjob *n = j->next;
		free(j);
		j = n;
	}
}

static void free_kept(struct kept *k)
{
	while (k) {
		struct kept *n = k->next;
		free(k);
		k = n;
	}
}

/* ---- the worker */

/* Remove what dir holds (names starting with '.' excepted): regular files, and with
 * levels > 1 folders of such files too. */
static void remove_entries(const char *dir, int levels)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1700];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (levels > 1) {
			remove_entries(path, levels - 1);
			if (rmdir(path) == 0)
				continue;
		}
		unlink(path);
	}
	closedir(d);
}

/* Remove folder dir and the files in it (a work's: flat). */
static void rm_tree(const char *dir)
{
	remove_entries(dir, 1);
	rmdir(dir);
}

/* Remove the work folders a run stopped in the middle of a verification (or of keeping
 * its checkpoint) left in dir, and the data sets' copies earlier versions extracted to
 * dir/data (they are read from the store now). */
static void clean_work_dir(const char *dir)
{
	remove_entries(dir, 3);
}

/* The single file of a one-file data set artifact, read from the store with every
 * chunk verified. IOLM_ENOTFOUND or IOLM_EART_MISSING while the store does not hold it
 * whole. */
static int load_dataset(node_verifier *v, const uint8_t id[LEDGER_ARTIFACT_ID_LEN],
			uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!v->cfg.art)
		return IOLM_ENOTFOUND;
	return art_store_read(v->cfg.art, id, NULL, out, len, DATA_MAX_BYTES);
}

static int fetch(iolm_httpc *c, const char *path, iolm_buf *out)
{
	int status, err = iolm_httpc_request(c, "GET", path, NULL, NULL, 0, &status, out,
					     FETCH_TIMEOUT_MS);
	if (err)
		return err;
	return status == 200 ? IOLM_OK : IOLM_ENOTFOUND;
}

/* Fetch the claim and the checkpoints the seed samples into dir. A failure here is the
 * miner's: unavailable. */
static int fetch_work(node_verifier *v, struct vjob *j, const compute_task *task,
		      const char *dir, iolm_buf *claim)
{
	char host[256], whex[65], path[256], file[1400];
	uint16_t port;
	iolm_httpc *c = NULL;
	compute_claim cl = { 0 };
	uint32_t idx[COMPUTE_MAX_SAMPLES];
	int err;

	iolm_hex_encode(whex, sizeof whex, j->work, 32);
	if ((err = iolm_httpc_parse_url(host, sizeof host, &port, j->endpoint)) ||
	    (err = iolm_httpc_create(&c, host, port)))
		goto out;
	snprintf(path, sizeof path, "/claim/%s", whex);
	if ((err = fetch(c, path, claim)) ||
	    (err = compute_claim_decode(&cl, claim->data, claim->len, task->seg_len)))
		goto out;
	uint32_t s = task->samples < cl.nseg ? task->samples : (uint32_t)cl.nseg;
	if ((err = compute_sample_segments(idx, task->samples, cl.nseg, j->seed)))
		goto out;
	for (uint32_t i = 0; i <= s; i++) {
		/* the sampled segments' starts, then the final checkpoint (eval), streamed to
		 * the disk: memory stays small whatever the model's size */
		uint64_t step = i < s ? cl.start_step + (uint64_t)idx[i] * task->seg_len
				      : cl.start_step + (uint64_t)cl.nseg * task->seg_len;
		int status = 0;
		snprintf(path, sizeof path, "/ckpt/%s/%llu", whex, (unsigned long long)step);
		if ((err = compute_checkpoint_name(file, sizeof file, dir, step)) ||
		    (err = iolm_httpc_get_file(c, path, NULL, file, CKPT_MAX_BYTES, &status, NULL,
					       FETCH_TIMEOUT_MS)))
			goto out;
		if (status != 200) {
			err = IOLM_ENOTFOUND;
			goto out;
		}
	}
out:
	compute_claim_release(&cl);
	iolm_httpc_destroy(c);
	return err;
}


/* Verify one work. Returns 1 when a verdict was reached (j->valid, j->reason set), 0 to
 * try again later, -1 to give up without attesting. */
/* The TaskCreate parameters of task as the ledger records them; the caller frees *out. */
static int task_create_get(node_verifier *v, const uint8_t task[static 32],
			   Iolm__TaskCreate **out)
{
	Iolm__TaskState *ts = NULL;
	iolm_buf tb;
	int err;
	*out = NULL;
	iolm_buf_init(&tb, IOLM_MAX_TX_BYTES * 2);
	if (!(err = ledger_get_task(v->cfg.ledger, task, &tb)) &&
	    !(err = iolm_codec_decode((ProtobufCMessage **)&ts, &iolm__task_state__descriptor,
				      tb.data, tb.len, tb.limit)))
		err = iolm_codec_decode((ProtobufCMessage **)out, &iolm__task_create__descriptor,
					ts->params.data, ts->params.len, IOLM_MAX_TX_BYTES);
	if (ts)
		iolm_codec_free(&ts->base);
	iolm_buf_release(&tb, 0);
	return err;
}

static int verify_job(node_verifier *v, struct vjob *j)
{
	iolm_buf claim;
	Iolm__TaskCreate *tc = NULL;
	compute_task task;
	compute_backend *be = NULL;
	compute_verdict verdict;
	uint8_t *train = NULL, *eval = NULL;
	size_t tlen = 0, elen = 0;
	char whex[65], dir[1400];
	int ret = -1, err;

	iolm_buf_init(&claim, COMPUTE_CLAIM_MAX_BYTES);
	iolm_hex_encode(whex, sizeof whex, j->work, 32);
	snprintf(dir, sizeof dir, "%s/%s", v->work_dir, whex);
	if (task_create_get(v, j->task, &tc) || compute_task_from_create(&task, j->task, tc)) {
		IOLM_WARN(MOD, "work %.16s: task unreadable; not attesting", whex);
		goto out;
	}
	if ((err = load_dataset(v, tc->dataset_id.data, &train, &tlen)) ||
	    (err = load_dataset(v, tc->eval_id.data, &eval, &elen))) {
		/* Being fetched from the peers (need_data): wait for them while there is time. */
		if ((err == IOLM_ENOTFOUND || err == IOLM_EART_MISSING) &&
		    iolm_clock_wall_ms() + 2 * RETRY_MS < j->deadline_ms) {
			IOLM_INFO(MOD, "work %.16s: waiting for the task's data sets (%s)", whex,
				  iolm_strerror(err));
			j->wants_data = 1; /* the loop asks for them again (on_commit) */
			j->next_try_ms = iolm_clock_wall_ms() + RETRY_MS;
			ret = 0;
			goto out;
		}
		IOLM_WARN(MOD, "work %.16s: task data sets not available here (%s); not attesting",
			  whex, iolm_strerror(err));
		__atomic_add_fetch(&v->st.skipped, 1, __ATOMIC_RELAXED);
		goto out;
	}
	mkdir(dir, 0700);
	err = fetch_work(v, j, &task, dir, &claim);
	if (err) {
		/* keep trying until shortly before the chain's timeout would reject it anyway */
		if (iolm_clock_wall_ms() + 2 * RETRY_MS < j->deadline_ms) {
			IOLM_INFO(MOD, "work %.16s: miner not answering (%s); retrying", whex,
				  iolm_strerror(err));
			j->next_try_ms = iolm_clock_wall_ms() + RETRY_MS;
			ret = 0;
			goto out;
		}
		/* Out of time: the miner could not show its work. */
		j->valid = 0;
		j->reason = err;
		ret = 1;
		__atomic_add_fetch(&v->st.unavailable, 1, __ATOMIC_RELAXED);
		goto out;
	}
	/* The claim must be the one committed to: same final state and eval loss as the
	 * work_commit (its root is checked by compute_verify). */
	compute_claim cl = { 0 };
	if (compute_claim_decode(&cl, claim.data, claim.len, task.seg_len) == IOLM_OK) {
		int same = memcmp(cl.final_state, j->final_state, 32) == 0 &&
			   cl.eval_loss == j->eval_loss;
		compute_claim_release(&cl);
		if (!same) {
			j->valid = 0;
			j->reason = IOLM_EVERIFY_CLAIM;
			ret = 1;
			goto out;
		}
	}
	if ((err = compute_backend_cpu_create(&be, v->cfg.threads)) ||
	    (err = compute_verify(&verdict, be, &task, claim.data, claim.len, j->proof_root,
				  j->seed, dir, train, tlen, eval, elen))) {
		IOLM_WARN(MOD, "work %.16s: cannot verify here: %s", whex, iolm_strerror(err));
		goto out;
	}
	j->valid = verdict.reason == IOLM_OK;
	j->reason = verdict.reason;
	/* The final checkpoint, fetched for the eval loss, must be the artifact the work
	 * committed to: what model users fetch and check (iolm-wallet model get). */
	if (j->valid) {
		char file[1500];
		uint8_t got[ART_ID_LEN];
		if (compute_checkpoint_name(file, sizeof file, dir, j->start_step + j->steps) ||
		    art_file_id(got, file, NULL, ART_KIND_CHECKPOINT) ||
		    memcmp(got, j->ckpt_id, ART_ID_LEN) != 0) {
			j->valid = 0;
			j->reason = IOLM_EVERIFY_CKPTID;
		}
	}
	j->keep = j->valid && v->cfg.art && v->cfg.keep_checkpoints;
	j->nseg = verdict.nsampled;
	memcpy(j->segments, verdict.sampled, verdict.nsampled * sizeof verdict.sampled[0]);
	j->cpu_s = verdict.cpu_s;
	ret = 1;
out:
	if (!(ret == 1 && j->keep))
		rm_tree(dir);
	compute_backend_destroy(be);
	free(train);
	free(eval);
	if (tc)
		iolm_codec_free(&tc->base);
	iolm_buf_release(&claim, 0);
	return ret;
}

/* Tell the loop there is something for it (mu held). */
static void wake(node_verifier *v)
{
	char c = 1;
	ssize_t w = write(v->pipe_w, &c, 1);
	(void)w;
}

/* Add the final checkpoint (step end) a valid verdict on work left in work_dir/<work> to
 * the store, pinned (node/kept.c unpins it unless the work becomes a best model), and
 * hand its id to the loop (cfg.kept); then remove the folder.
 * The artifact is the one the work committed to: verify_job checked its id with
 * art_file_id, which computes what this add stores. */
static void keep_checkpoint(node_verifier *v, const uint8_t work[static 32],
			    const uint8_t ckpt[static ART_ID_LEN], uint64_t end)
{
	char whex[65], dir[1400], file[1500];
	uint8_t got[ART_ID_LEN];
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .pin = 1, .stop = &v->stop_add };
	struct kept *k;
	int err;
	iolm_hex_encode(whex, sizeof whex, work, 32);
	snprintf(dir, sizeof dir, "%s/%s", v->work_dir, whex);
	if ((err = compute_checkpoint_name(file, sizeof file, dir, end)) ||
	    (err = art_store_add(v->cfg.art, got, NULL, file, &o))) {
		if (err != IOLM_EART_STOPPED)
			IOLM_WARN(MOD, "work %.16s: final checkpoint not kept: %s", whex,
				  iolm_strerror(err));
	} else if (memcmp(got, ckpt, ART_ID_LEN) != 0) {
		IOLM_WARN(MOD, "work %.16s: the kept checkpoint's id differs from the one checked",
			  whex); /* not reached: art_file_id and art_store_add cut alike */
	} else if ((k = calloc(1, sizeof *k))) {
		memcpy(k->work, work, 32);
		memcpy(k->ckpt_id, ckpt, ART_ID_LEN);
		pthread_mutex_lock(&v->mu);
		k->next = v->kept;
		v->kept = k;
		wake(v);
		pthread_mutex_unlock(&v->mu);
	}
	rm_tree(dir);
}

/* The next ready job whose retry time has come, removed from the list. */
static struct vjob *take_ready(node_verifier *v, uint64_t now)
{
	for (struct vjob **pp = &v->ready; *pp; pp = &(*pp)->next) {
		if ((*pp)->next_try_ms <= now) {
			struct vjob *j = *pp;
			*pp = j->next;
			j->next = NULL;
			return j;
		}
	}
	return NULL;
}

static void *worker(void *arg)
{
	node_verifier *v = arg;
	pthread_mutex_lock(&v->mu);
	while (!v->stopping) {
		struct vjob *j = take_ready(v, iolm_clock_wall_ms());
		if (!j) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&v->cv, &v->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&v->mu);
		int r = verify_job(v, j);
		int keep = r == 1 && j->keep;
		uint8_t work[32], ckpt[ART_ID_LEN];
		uint64_t end = j->start_step + j->steps;
		memcpy(work, j->work, 32);
		memcpy(ckpt, j->ckpt_id, ART_ID_LEN);
		pthread_mutex_lock(&v->mu);
		if (r == 0) { /* try again later */
			j->next = v->ready;
			v->ready = j;
		} else if (r < 0) {
			free(j);
		} else {
			j->next = v->done;
			v->done = j;
			wake(v);
		}
		/* The verdict is out; now the final checkpoint it left is kept (for a large
		 * model that takes seconds the attestation need not wait for). */
		if (keep) {
			pthread_mutex_unlock(&v->mu);
			keep_checkpoint(v, work, ckpt, end);
			pthread_mutex_lock(&v->mu);
		}
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* ---- the loop side */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	node_verifier *v = arg;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&v->mu);
	struct vjob *list = v->done;
	struct kept *kept = v->kept;
	v->done = NULL;
	v->kept = NULL;
	pthread_mutex_unlock(&v->mu);
	while (list) {
		struct vjob *n = list->next;
		v->st.verified++;
		if (list->valid)
			v->st.valid++;
		else
			v->st.invalid++;
		v->st.cpu_s += list->cpu_s;
		v->cfg.done(v->cfg.ctx, list->work, list->valid, list->eval_loss, list->segments,
			    list->nseg, list->cpu_s, list->reason);
		free(list);
		list = n;
	}
	for (struct kept *k = kept; k; k = k->next) {
		v->st.kept++;
		if (v->cfg.kept)
			v->cfg.kept(v->cfg.ctx, k->work, k->ckpt_id);
	}
	free_kept(kept);
}

/* ---- the works a restart left unverified */

struct pending_scan {
	uint8_t (*ids)[32];
	size_t n, cap;
	size_t prefix;               /* raw key bytes before a work's id */
};

static int collect_pending(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
			   size_t vlen)
{
	struct pending_scan *ps = ctx;
	Iolm__WorkState *ws = NULL;
	int pending = klen == ps->prefix + 32 &&
		      !iolm_codec_decode((ProtobufCMessage **)&ws, &iolm__work_state__descriptor,
					 val, vlen, IOLM_MAX_TX_BYTES * 2) &&
		      ws->status == IOLM__WORK_STATUS__WORK_PENDING;
	if (ws)
		iolm_codec_free(&ws->base);
	if (!pending)
		return 0;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 16;
		uint8_t(*ids)[32] = realloc(ps->ids, cap * sizeof *ids);
		if (!ids)
			return IOLM_ENOMEM;
		ps->ids = ids;
		ps->cap = cap;
	}
	memcpy(ps->ids[ps->n++], key + ps->prefix, 32);
	return 0;
}

static int found_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	*(int *)ctx = 1;
	return 1;
}

/* Whether validator idx attested work (idx < 0: not known, taken as not). */
static int attested(node_verifier *v, const uint8_t work[32], int idx)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	int found = 0;
	if (idx < 0)
		return 0;
	size_t len = ledger_raw_key_attest(raw, work, (uint32_t)idx);
	int rc = ledger_scan_state(v->cfg.ledger, raw, len, found_one, &found);
	return found || rc == 1; /* an error reads as not attested: verified again */
}

/* The id of the block at height h into id. */
static int block_id_at(node_verifier *v, uint64_t h, uint8_t id[32])
{
	Iolm__Block *b = NULL;
	iolm_buf buf;
	int err;
	iolm_buf_init(&buf, IOLM_MAX_BLOCK_BYTES);
	if (!(err = ledger_get_block(v->cfg.ledger, h, &buf)) &&
	    !(err = iolm_decode_block(&b, buf.data, buf.len, IOLM_MAX_BLOCK_BYTES)))
		iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	if (b)
		iolm_codec_free(&b->base);
	iolm_buf_release(&buf, 0);
	return err;
}

/* A job for pending work id as its commit recorded it, seeded (*seeded set) when the
 * block after its commit is known, else to wait for it. NULL when it cannot be read, or
 * when its attestation deadline is too near. */
static struct vjob *pending_job(node_verifier *v, const uint8_t id[32], uint64_t head,
				int *seeded)
{
	const ledger_genesis *g = ledger_get_genesis(v->cfg.ledger);
	Iolm__WorkState *ws = NULL;
	Iolm__WorkCommit *w = NULL;
	struct vjob *j = NULL;
	uint8_t next[32];
	iolm_buf b;
	*seeded = 0;
	iolm_buf_init(&b, IOLM_MAX_TX_BYTES * 2);
	if (ledger_get_work(v->cfg.ledger, id, &b) ||
	    iolm_codec_decode((ProtobufCMessage **)&ws, &iolm__work_state__descriptor, b.data,
			      b.len, b.limit) ||
	    iolm_codec_decode((ProtobufCMessage **)&w, &iolm__work_commit__descriptor,
			      ws->commit.data, ws->commit.len, IOLM_MAX_TX_BYTES) ||
	    w->task_id.len != 32 || w->proof_root.len != 32 || w->final_state.len != 32 ||
	    w->checkpoint_id.len != ART_ID_LEN || !w->endpoint ||
	    ws->commit_time_ms + ledger_genesis_params(g)->attest_timeout_ms <=
		    iolm_clock_wall_ms() + 2 * RETRY_MS ||
	    !(j = calloc(1, sizeof *j)))
		goto out;
	memcpy(j->work, id, 32);
	memcpy(j->task, w->task_id.data, 32);
	memcpy(j->proof_root, w->proof_root.data, 32);
	memcpy(j->final_state, w->final_state.data, 32);
	memcpy(j->ckpt_id, w->checkpoint_id.data, ART_ID_LEN);
	j->commit_height = ws->commit_height;
	j->deadline_ms = ws->commit_time_ms + ledger_genesis_params(g)->attest_timeout_ms;
	j->start_step = w->start_step;
	j->steps = w->steps;
	j->eval_loss = w->eval_loss;
	snprintf(j->endpoint, sizeof j->endpoint, "%s", w->endpoint);
	if (head > j->commit_height) {
		if (block_id_at(v, j->commit_height + 1, next)) {
			free(j);
			j = NULL;
			goto out;
		}
		iolm_hash2(j->seed, IOLM_TAG_CHALLENGE, next, 32, j->work, 32);
		*seeded = 1;
	}
out:
	if (w)
		iolm_codec_free(&w->base);
	if (ws)
		iolm_codec_free(&ws->base);
	iolm_buf_release(&b, 0);
	return j;
}

/* The works still pending that this validator has not attested: a restart dropped the
 * jobs it had for them, so they are verified again (or wait for their seed block). */
static void requeue_pending(node_verifier *v)
{
	struct pending_scan ps = { 0 };
	uint8_t raw[LEDGER_RAW_KEY_MAX], zero[32] = { 0 };
	ledger_head head;
	size_t again = 0;
	ps.prefix = ledger_raw_key_work(raw, zero) - 32;
	if (ledger_get_head(v->cfg.ledger, &head) ||
	    ledger_scan_state(v->cfg.ledger, raw, ps.prefix, collect_pending, &ps)) {
		free(ps.ids);
		return;
	}
	for (size_t i = 0; i < ps.n; i++) {
		struct vjob *j;
		int seeded;
		if (attested(v, ps.ids[i], v->cfg.validator_index) ||
		    !(j = pending_job(v, ps.ids[i], head.height, &seeded)))
			continue;
		pthread_mutex_lock(&v->mu);
		if (seeded) {
			j->next = v->ready;
			v->ready = j;
			pthread_cond_signal(&v->cv);
		} else {
			j->next = v->waiting;
			v->waiting = j;
		}
		pthread_mutex_unlock(&v->mu);
		again++;
	}
	free(ps.ids);
	if (again)
		IOLM_INFO(MOD, "%zu pending works not attested here before the restart: verifying "
			       "them again", again);
}

int node_verifier_create(node_verifier **out, struct event_base *base,
			 const node_verifier_config *cfg)
{
	node_verifier *v = calloc(1, sizeof *v);
	int fds[2];
	*out = NULL;
	if (!v)
		return IOLM_ENOMEM;
	v->cfg = *cfg;
	v->pipe_r = v->pipe_w = -1;
	snprintf(v->work_dir, sizeof v->work_dir, "%s", cfg->work_dir);
	if (mkdir(v->work_dir, 0700) != 0 && errno != EEXIST) {
		free(v);
		return IOLM_EIO;
	}
	clean_work_dir(v->work_dir);
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	if (pipe(fds) != 0)
		goto fail;
	v->pipe_r = fds[0];
	v->pipe_w = fds[1];
	fcntl(v->pipe_r, F_SETFL, O_NONBLOCK);
	fcntl(v->pipe_w, F_SETFL, O_NONBLOCK);
	v->ev = event_new(base, v->pipe_r, EV_READ | EV_PERSIST, on_wake, v);
	if (!v->ev || event_add(v->ev, NULL))
		goto fail;
	if (pthread_create(&v->thread, NULL, worker, v) != 0)
		goto fail;
	v->started = 1;
	requeue_pending(v);
	*out = v;
	return IOLM_OK;
fail:
	node_verifier_destroy(v);
	return IOLM_ENOMEM;
}

void node_verifier_destroy(node_verifier *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->stopping = 1;
	atomic_store(&v->stop_add, 1);
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	if (v->started)
		pthread_join(v->thread, NULL);
	free_list(v->waiting);
	free_list(v->ready);
	free_list(v->done);
	free_kept(v->kept);
	if (v->ev)
		event_free(v->ev);
	if (v->pipe_r >= 0)
		close(v->pipe_r);
	if (v->pipe_w >= 0)
		close(v->pipe_w);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v);
}

/* need_data for both data sets of task, created by TaskCreate t. */
static void need_task_data(node_verifier *v, const uint8_t task[static 32],
			   const Iolm__TaskCreate *t)
{
	if (t->dataset_id.len == LEDGER_ARTIFACT_ID_LEN)
		v->cfg.need_data(v->cfg.ctx, task, t->dataset_id.data, t->deadline_height);
	if (t->eval_id.len == LEDGER_ARTIFACT_ID_LEN)
		v->cfg.need_data(v->cfg.ctx, task, t->eval_id.data, t->deadline_height);
}

/* need_data for the data sets of the task with this id, as the ledger records it. */
static void need_task_data_by_id(node_verifier *v, const uint8_t task[static 32])
{
	Iolm__TaskCreate *tc = NULL;
	if (task_create_get(v, task, &tc) == IOLM_OK)
		need_task_data(v, task, tc);
	if (tc)
		iolm_codec_free(&tc->base);
}

void node_verifier_on_commit(node_verifier *v, uint64_t height, const uint8_t block_id[static 32],
			     const uint8_t *block, size_t len)
{
	const ledger_genesis *g = ledger_get_genesis(v->cfg.ledger);
	Iolm__Block *b;
	__atomic_store_n(&v->height, height, __ATOMIC_RELAXED);

	/* the block after a commit seeds its challenge */
	pthread_mutex_lock(&v->mu);
	for (struct vjob **pp = &v->waiting; *pp;) {
		struct vjob *j = *pp;
		if (j->commit_height + 1 != height) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		iolm_hash2(j->seed, IOLM_TAG_CHALLENGE, block_id, 32, j->work, 32);
		j->next = v->ready;
		v->ready = j;
	}
	pthread_cond_signal(&v->cv);
	/* Works waiting for their task's data sets: asked for again at every commit. A fetch
	 * gives up when no peer holds a data set yet (a designer may add it later), and one
	 * a restart cut short is not under way at all. A fetch under way is left alone. */
	uint8_t again[8][32];
	size_t n_again = 0;
	for (struct vjob *j = v->ready; j && n_again < 8; j = j->next) {
		size_t k = 0;
		if (!j->wants_data || !v->cfg.need_data)
			continue;
		while (k < n_again && memcmp(again[k], j->task, 32))
			k++;
		if (k == n_again)
			memcpy(again[n_again++], j->task, 32);
	}
	pthread_mutex_unlock(&v->mu);
	for (size_t k = 0; k < n_again; k++)
		need_task_data_by_id(v, again[k]);

	/* this block's work commits wait for the next one */
	Iolm__BlockHeader *hdr = NULL;
	if (iolm_decode_block(&b, block, len, IOLM_MAX_BLOCK_BYTES))
		return;
	if (iolm_decode_block_header(&hdr, b->header.data, b->header.len, 4096)) {
		iolm_codec_free(&b->base);
		return;
	}
	uint64_t btime = hdr->time_ms;
	iolm_codec_free(&hdr->base);
	for (size_t i = 0; i < b->n_txs; i++) {
		ledger_tx tx;
		if (ledger_tx_decode(&tx, ledger_genesis_chain_id(g), b->txs[i].data, b->txs[i].len))
			continue;
		if (tx.body->kind_case == IOLM__TX_BODY__KIND_TASK_CREATE && v->cfg.need_data)
			need_task_data(v, tx.id, tx.body->task_create);
		if (tx.body->kind_case == IOLM__TX_BODY__KIND_WORK_COMMIT && v->cfg.need_data &&
		    tx.body->work_commit->task_id.len == 32)
			need_task_data_by_id(v, tx.body->work_commit->task_id.data);
		if (tx.body->kind_case == IOLM__TX_BODY__KIND_WORK_COMMIT) {
			const Iolm__WorkCommit *w = tx.body->work_commit;
			struct vjob *j = calloc(1, sizeof *j);
			if (j) {
				memcpy(j->work, tx.id, 32);
				memcpy(j->task, w->task_id.data, 32);
				memcpy(j->proof_root, w->proof_root.data, 32);
				memcpy(j->final_state, w->final_state.data, 32);
				/* its format was checked at admission (ledger/tx.c) */
				memcpy(j->ckpt_id, w->checkpoint_id.data, ART_ID_LEN);
				j->commit_height = height;
				j->deadline_ms = btime + ledger_genesis_params(g)->attest_timeout_ms;
				j->start_step = w->start_step;
				j->steps = w->steps;
				j->eval_loss = w->eval_loss;
				snprintf(j->endpoint, sizeof j->endpoint, "%s", w->endpoint);
				j->next = v->waiting;
				v->waiting = j;
			}
		}
		ledger_tx_release(&tx);
	}
	iolm_codec_free(&b->base);
}

void node_verifier_get_stats(node_verifier *v, node_verifier_stats *out)
{
	pthread_mutex_lock(&v->mu);
	*out = v->st;
	out->waiting = out->queued = 0;
	for (struct vjob *j = v->waiting; j; j = j->next)
		out->waiting++;
	for (struct vjob *j = v->ready; j; j = j->next)
		out->queued++;
	pthread_mutex_unlock(&v->mu);
}
