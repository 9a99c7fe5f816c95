#include "node/kept.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/hex.h"
#include "core/log.h"

#define MOD "kept"
#define FILE_MAGIC "iolm-kept 1"
#define FILE_MAX_BYTES (16u << 20)

/* pending: id is the work; best: id is the task */
struct entry {
	uint8_t id[32];
	uint8_t ckpt[ART_ID_LEN];
};

/* a data set fetched for a task, kept (pinned) until the task is closed */
struct dentry {
	uint8_t task[32];
	uint8_t data[ART_ID_LEN];
	uint64_t deadline;           /* the task's deadline height; 0: none, kept for good */
	uint64_t deadline_ms;        /* its block's time, once read (0: not yet) */
};

enum op_kind { OP_PIN, OP_UNPIN, OP_RELEASE /* unpin, then remove */ };

struct op {
	enum op_kind kind;
	int data;                    /* a data set's, not a checkpoint's */
	uint8_t ckpt[ART_ID_LEN];
};

struct node_kept {
	char *path;
	ledger *l;
	art_store *s;
	struct entry *pending, *best;  /* pending: oldest first */
	size_t n_pending, n_best, cap_best;
	struct dentry *data;
	size_t n_data, cap_data;
	/* the store's thread: ops in order */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int started, stopping;
	struct op *ops;
	size_t n_ops, cap_ops;
	uint64_t removed, data_removed;
};

/* ---------------------------------------------------------------- the store's thread */

static void run_op(node_kept *k, const struct op *o)
{
	char hex[2 * ART_ID_LEN + 1];
	const char *what = o->data ? "data set" : "checkpoint";
	art_gc_stats gs;
	int err = IOLM_OK;
	iolm_hex_encode(hex, sizeof hex, o->ckpt, ART_ID_LEN);
	if (o->kind == OP_PIN) {
		if ((err = art_store_pin(k->s, o->ckpt)))
			IOLM_WARN(MOD, "cannot pin %s %.20s: %s", what, hex, iolm_strerror(err));
		return;
	}
	if ((err = art_store_unpin(k->s, o->ckpt))) {
		if (err != IOLM_ENOTFOUND)
			IOLM_WARN(MOD, "cannot unpin %s %.20s: %s", what, hex, iolm_strerror(err));
		return;
	}
	if (o->kind == OP_UNPIN)
		return;
	err = art_store_remove(k->s, o->ckpt, &gs);
	if (!err) {
		pthread_mutex_lock(&k->mu);
		(*(o->data ? &k->data_removed : &k->removed))++;
		pthread_mutex_unlock(&k->mu);
		IOLM_INFO(MOD, "removed %s %.20s: %llu chunks, %llu bytes freed", what, hex,
			  (unsigned long long)gs.chunks_freed, (unsigned long long)gs.bytes_freed);
	} else if (err != IOLM_ENOTFOUND) {
		IOLM_WARN(MOD, "cannot remove %s %.20s: %s", what, hex, iolm_strerror(err));
	}
}

static void *worker(void *arg)
{
	node_kept *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->n_ops && !k->stopping)
			pthread_cond_wait(&k->cv, &k->mu);
		if (!k->n_ops)
			break;
		struct op o = k->ops[0];
		memmove(k->ops, k->ops + 1, (k->n_ops - 1) * sizeof *k->ops);
		k->n_ops--;
		pthread_mutex_unlock(&k->mu);
		run_op(k, &o);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* Room for one more of n elements of size bytes in the array *p of *cap. */
static int reserve(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return IOLM_OK;
	size_t c = *cap ? 2 * *cap : 16;
	void *q = realloc(*p, c * size);
	if (!q)
		return IOLM_ENOMEM;
	*p = q;
	*cap = c;
	return IOLM_OK;
}

static void queue_op(node_kept *k, enum op_kind kind, int data, const uint8_t id[ART_ID_LEN])
{
	pthread_mutex_lock(&k->mu);
	if (reserve((void **)&k->ops, &k->cap_ops, k->n_ops, sizeof *k->ops)) {
		pthread_mutex_unlock(&k->mu);
		IOLM_WARN(MOD, "out of memory: a pin or removal is skipped");
		return;
	}
	k->ops[k->n_ops].kind = kind;
	k->ops[k->n_ops].data = data;
	memcpy(k->ops[k->n_ops].ckpt, id, ART_ID_LEN);
	k->n_ops++;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

static void queue(node_kept *k, enum op_kind kind, const uint8_t ckpt[ART_ID_LEN])
{
	queue_op(k, kind, 0, ckpt);
}

/* ---------------------------------------------------------------- the file */

static int save(node_kept *k)
{
	char tmp[4200], a[65], b[2 * ART_ID_LEN + 1];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", k->path) >= (int)sizeof tmp)
		return IOLM_ELENGTH;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return IOLM_EIO;
	fprintf(f, "%s\n", FILE_MAGIC);
	for (size_t i = 0; i < k->n_best + k->n_pending; i++) {
		const struct entry *e = i < k->n_best ? &k->best[i] : &k->pending[i - k->n_best];
		iolm_hex_encode(a, sizeof a, e->id, 32);
		iolm_hex_encode(b, sizeof b, e->ckpt, ART_ID_LEN);
		fprintf(f, "%s %s %s\n", i < k->n_best ? "best" : "pending", a, b);
	}
	for (size_t i = 0; i < k->n_data; i++) {
		iolm_hex_encode(a, sizeof a, k->data[i].task, 32);
		iolm_hex_encode(b, sizeof b, k->data[i].data, ART_ID_LEN);
		fprintf(f, "data %s %s %llu\n", a, b, (unsigned long long)k->data[i].deadline);
	}
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, k->path) != 0) {
		unlink(tmp);
		return IOLM_EIO;
	}
	return IOLM_OK;
}

static void save_or_warn(node_kept *k)
{
	int err = save(k);
	if (err)
		IOLM_WARN(MOD, "%s not written (%s): a restart may leave some checkpoints unmanaged",
			  k->path, iolm_strerror(err));
}

static int push_best(node_kept *k, const struct entry *e)
{
	if (reserve((void **)&k->best, &k->cap_best, k->n_best, sizeof *k->best))
		return IOLM_ENOMEM;
	k->best[k->n_best++] = *e;
	return IOLM_OK;
}

static int push_data(node_kept *k, const struct dentry *d)
{
	if (reserve((void **)&k->data, &k->cap_data, k->n_data, sizeof *k->data))
		return IOLM_ENOMEM;
	k->data[k->n_data++] = *d;
	return IOLM_OK;
}

/* One line of the file into the lists. */
static int load_line(node_kept *k, const char *line)
{
	char kind[16], a[80], b[80], extra[2];
	unsigned long long deadline;
	struct entry e;
	struct dentry d;
	if (sscanf(line, "data %79s %79s %llu %1s", a, b, &deadline, extra) == 3) {
		if (iolm_hex_decode_exact(d.task, 32, a) ||
		    iolm_hex_decode_exact(d.data, ART_ID_LEN, b))
			return IOLM_EDECODE;
		d.deadline = deadline;
		d.deadline_ms = 0;
		return push_data(k, &d);
	}
	if (sscanf(line, "%15s %79s %79s %1s", kind, a, b, extra) != 3 ||
	    iolm_hex_decode_exact(e.id, 32, a) || iolm_hex_decode_exact(e.ckpt, ART_ID_LEN, b))
		return IOLM_EDECODE;
	if (strcmp(kind, "best") == 0)
		return push_best(k, &e);
	if (strcmp(kind, "pending") || k->n_pending == NODE_KEPT_PENDING_MAX)
		return IOLM_EDECODE;
	k->pending[k->n_pending++] = e;
	return IOLM_OK;
}

/* The file into the lists; *no: the line an error is on. */
static int load_lines(node_kept *k, unsigned *no)
{
	char line[256];
	int err = IOLM_OK;
	FILE *f = fopen(k->path, "r");
	*no = 1;
	if (!f)
		return errno == ENOENT ? IOLM_OK : IOLM_EIO;
	if (!fgets(line, sizeof line, f) || strncmp(line, FILE_MAGIC "\n", sizeof FILE_MAGIC))
		err = IOLM_EDECODE;
	while (!err && fgets(line, sizeof line, f) && ++*no)
		err = load_line(k, line);
	if (ferror(f))
		err = IOLM_EIO;
	fclose(f);
	return err;
}

static int load(node_kept *k)
{
	unsigned no;
	int err = load_lines(k, &no);
	if (err == IOLM_EIO || err == IOLM_ENOMEM)
		return err;
	if (err) {
		k->n_pending = k->n_best = k->n_data = 0;
		IOLM_WARN(MOD, "%s:%u is not a line this version writes: starting an empty list; "
			       "the checkpoints and data sets it named stay in the store, pinned "
			       "(unpin them through the RPC)", k->path, no);
	}
	return IOLM_OK;
}

/* ---------------------------------------------------------------- deciding */

/* Whether an entry other than skip (pending or best) names ckpt. */
static int named(const node_kept *k, const uint8_t ckpt[ART_ID_LEN], const struct entry *skip)
{
	for (size_t i = 0; i < k->n_pending; i++)
		if (&k->pending[i] != skip && !memcmp(k->pending[i].ckpt, ckpt, ART_ID_LEN))
			return 1;
	for (size_t i = 0; i < k->n_best; i++)
		if (&k->best[i] != skip && !memcmp(k->best[i].ckpt, ckpt, ART_ID_LEN))
			return 1;
	return 0;
}

/* The state of work: 0 pending (or not readable now: asked again at the next commit),
 * 1 decided and its task's best (task set), 2 decided otherwise, or unknown to the
 * ledger. */
static int work_fate(node_kept *k, const uint8_t work[32], uint8_t task[32])
{
	Iolm__WorkState *ws = NULL;
	Iolm__TaskState *ts = NULL;
	iolm_buf b;
	int fate = 0, err;
	iolm_buf_init(&b, IOLM_MAX_TX_BYTES * 2);
	err = ledger_get_work(k->l, work, &b);
	if (err == IOLM_ENOTFOUND || err == IOLM_ELEDGER_NOWORK)
		fate = 2;
	if (!err && iolm_codec_decode((ProtobufCMessage **)&ws, &iolm__work_state__descriptor,
				      b.data, b.len, b.limit) == IOLM_OK &&
	    ws->task_id.len == 32 && ws->status != IOLM__WORK_STATUS__WORK_PENDING) {
		fate = 2;
		if (ws->status == IOLM__WORK_STATUS__WORK_ACCEPTED && ws->was_best) {
			/* best once; still the best now? (a later work of the same block may
			 * have beaten it) */
			memcpy(task, ws->task_id.data, 32);
			iolm_buf_reset(&b);
			err = ledger_get_task(k->l, task, &b);
			if (err || iolm_codec_decode((ProtobufCMessage **)&ts,
						     &iolm__task_state__descriptor, b.data, b.len,
						     b.limit))
				fate = 0;
			else if (ts->best_work.len == 32 && !memcmp(ts->best_work.data, work, 32))
				fate = 1;
		}
	}
	if (ws)
		iolm_codec_free(&ws->base);
	if (ts)
		iolm_codec_free(&ts->base);
	iolm_buf_release(&b, 0);
	return fate;
}

/* Pending entry e's work was decided (fate 1 or 2): act on it. e stays in the pending
 * list until the caller drops it, so named() must skip it. */
static void decide(node_kept *k, const struct entry *e, int fate, const uint8_t task[32])
{
	char whex[65];
	iolm_hex_encode(whex, sizeof whex, e->id, 32);
	if (fate == 2) {
		if (!named(k, e->ckpt, e))
			queue(k, OP_RELEASE, e->ckpt);
		return;
	}
	struct entry nb;
	memcpy(nb.id, task, 32);
	memcpy(nb.ckpt, e->ckpt, ART_ID_LEN);
	queue(k, OP_PIN, e->ckpt);
	IOLM_INFO(MOD, "work %.16s is its task's best model: its final checkpoint is pinned",
		  whex);
	for (size_t i = 0; i < k->n_best; i++) {
		struct entry *b = &k->best[i];
		if (memcmp(b->id, task, 32))
			continue;
		if (memcmp(b->ckpt, e->ckpt, ART_ID_LEN)) {
			struct entry old = *b;
			*b = nb;
			if (!named(k, old.ckpt, e))
				queue(k, OP_RELEASE, old.ckpt);
		}
		return;
	}
	if (push_best(k, &nb))
		IOLM_WARN(MOD, "out of memory: the best model of a task is pinned for good");
}

/* Settle every pending entry whose work is decided; 1 when the lists changed. */
static int settle(node_kept *k)
{
	size_t j = 0;
	int changed = 0;
	for (size_t i = 0; i < k->n_pending; i++) {
		uint8_t task[32];
		int fate = work_fate(k, k->pending[i].id, task);
		if (fate == 0) {
			k->pending[j++] = k->pending[i];
			continue;
		}
		decide(k, &k->pending[i], fate, task);
		changed = 1;
	}
	k->n_pending = j;
	return changed;
}

/* Whether data set entry d names id (skip: an entry not to count). */
static int data_named(const node_kept *k, const uint8_t id[ART_ID_LEN], const struct dentry *skip)
{
	for (size_t i = 0; i < k->n_data; i++)
		if (&k->data[i] != skip && !memcmp(k->data[i].data, id, ART_ID_LEN))
			return 1;
	return 0;
}

/* The time of the block at height h into *t. */
static int block_time(node_kept *k, uint64_t h, uint64_t *t)
{
	Iolm__Block *b = NULL;
	Iolm__BlockHeader *hdr = NULL;
	iolm_buf buf;
	int err;
	iolm_buf_init(&buf, IOLM_MAX_BLOCK_BYTES);
	if (!(err = ledger_get_block(k->l, h, &buf)) &&
	    !(err = iolm_decode_block(&b, buf.data, buf.len, IOLM_MAX_BLOCK_BYTES)) &&
	    !(err = iolm_decode_block_header(&hdr, b->header.data, b->header.len, 4096)))
		*t = hdr->time_ms;
	if (hdr)
		iolm_codec_free(&hdr->base);
	if (b)
		iolm_codec_free(&b->base);
	iolm_buf_release(&buf, 0);
	return err;
}

/* Whether d's task is closed at head h: no work can be committed for it any more (past
 * the deadline), and every one committed is decided (the chain rejects a work pending
 * for longer than attest_timeout_ms of block time, so all are once the head's time is
 * that far past the deadline block's). 0 while that cannot be read: asked again at the
 * next commit. */
static int task_closed(node_kept *k, struct dentry *d, const ledger_head *h)
{
	if (!d->deadline || h->height <= d->deadline ||
	    (!d->deadline_ms && block_time(k, d->deadline, &d->deadline_ms)))
		return 0;
	uint64_t t = d->deadline_ms;
	uint64_t timeout = ledger_genesis_params(ledger_get_genesis(k->l))->attest_timeout_ms;
	return h->time_ms > t && h->time_ms - t > timeout;
}

/* Release the data sets of closed tasks that no open one names; 1 when the list
 * changed. */
static int settle_data(node_kept *k)
{
	ledger_head h;
	struct dentry *gone;
	size_t j = 0, n_gone = 0;
	if (ledger_get_head(k->l, &h))
		return 0;
	if (!(gone = malloc(k->n_data * sizeof *gone)))
		return 0;
	for (size_t i = 0; i < k->n_data; i++) {
		if (task_closed(k, &k->data[i], &h))
			gone[n_gone++] = k->data[i];
		else
			k->data[j++] = k->data[i];
	}
	k->n_data = j;
	for (size_t i = 0; i < n_gone; i++) {
		char thex[65], dhex[2 * ART_ID_LEN + 1];
		int later = 0; /* the same data set released again further on */
		for (size_t m = i + 1; m < n_gone && !later; m++)
			later = !memcmp(gone[m].data, gone[i].data, ART_ID_LEN);
		iolm_hex_encode(thex, sizeof thex, gone[i].task, 32);
		iolm_hex_encode(dhex, sizeof dhex, gone[i].data, ART_ID_LEN);
		IOLM_INFO(MOD, "task %.16s is closed (deadline height %llu passed, every work "
			       "decided): data set %.20s %s", thex,
			  (unsigned long long)gone[i].deadline, dhex,
			  data_named(k, gone[i].data, NULL) ? "stays, for an open task" : "released");
		if (!later && !data_named(k, gone[i].data, NULL))
			queue_op(k, OP_RELEASE, 1, gone[i].data);
	}
	free(gone);
	return n_gone > 0;
}

void node_kept_settle(node_kept *k)
{
	if (!k)
		return;
	int changed = k->n_pending && settle(k);
	if (k->n_data && settle_data(k))
		changed = 1;
	if (changed)
		save_or_warn(k);
}

void node_kept_add(node_kept *k, const uint8_t work[static 32],
		   const uint8_t ckpt[static ART_ID_LEN])
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_pending; i++)
		if (!memcmp(k->pending[i].id, work, 32))
			return; /* verified twice (after a restart): listed already */
	if (k->n_pending == NODE_KEPT_PENDING_MAX) { /* the oldest: unpinned, for gc */
		if (!named(k, k->pending[0].ckpt, &k->pending[0]))
			queue(k, OP_UNPIN, k->pending[0].ckpt);
		memmove(k->pending, k->pending + 1, (k->n_pending - 1) * sizeof *k->pending);
		k->n_pending--;
	}
	memcpy(k->pending[k->n_pending].id, work, 32);
	memcpy(k->pending[k->n_pending].ckpt, ckpt, ART_ID_LEN);
	k->n_pending++;
	settle(k);
	save_or_warn(k);
}

void node_kept_data(node_kept *k, const uint8_t task[static 32],
		    const uint8_t data[static ART_ID_LEN], uint64_t deadline, int fetching)
{
	struct dentry d;
	if (!k)
		return;
	for (size_t i = 0; i < k->n_data; i++)
		if (!memcmp(k->data[i].task, task, 32) && !memcmp(k->data[i].data, data, ART_ID_LEN))
			return; /* asked again, by a work commit */
	if (!fetching && !data_named(k, data, NULL))
		return; /* held before anything fetched it here: not ours to release */
	memcpy(d.task, task, 32);
	memcpy(d.data, data, ART_ID_LEN);
	d.deadline = deadline;
	d.deadline_ms = 0;
	if (push_data(k, &d)) {
		IOLM_WARN(MOD, "out of memory: a data set is kept for good");
		return;
	}
	settle_data(k);
	save_or_warn(k);
}

/* The entry of e[0..n) that names checkpoint id, or NULL. */
static const struct entry *find_ckpt(const struct entry *e, size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(e[i].ckpt, id, ART_ID_LEN))
			return &e[i];
	return NULL;
}

const char *node_kept_why(const node_kept *k, const uint8_t id[static ART_ID_LEN],
			  uint8_t owner[static 32])
{
	const struct entry *e;
	if (!k)
		return NULL;
	if ((e = find_ckpt(k->best, k->n_best, id))) {
		memcpy(owner, e->id, 32);
		return "best_model";
	}
	if ((e = find_ckpt(k->pending, k->n_pending, id))) {
		memcpy(owner, e->id, 32);
		return "pending_work";
	}
	for (size_t i = 0; i < k->n_data; i++)
		if (!memcmp(k->data[i].data, id, ART_ID_LEN)) {
			memcpy(owner, k->data[i].task, 32);
			return "data_set";
		}
	return NULL;
}

void node_kept_get_stats(node_kept *k, node_kept_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!k)
		return;
	out->pending = k->n_pending;
	out->best = k->n_best;
	out->data = k->n_data;
	pthread_mutex_lock(&k->mu);
	out->removed = k->removed;
	out->data_removed = k->data_removed;
	pthread_mutex_unlock(&k->mu);
}

/* ---------------------------------------------------------------- open, close */

/* An empty list for path; NULL when out of memory. */
static node_kept *kept_new(const char *path)
{
	node_kept *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (!(k->path = strdup(path)) ||
	    !(k->pending = calloc(NODE_KEPT_PENDING_MAX, sizeof *k->pending))) {
		node_kept_close(k);
		return NULL;
	}
	return k;
}

int node_kept_open(node_kept **out, const char *path, ledger *l, art_store *s)
{
	node_kept *k = kept_new(path);
	int err = IOLM_ENOMEM;
	*out = NULL;
	if (!k)
		return IOLM_ENOMEM;
	k->l = l;
	k->s = s;
	if ((err = load(k)) || (err = IOLM_ENOMEM, pthread_create(&k->thread, NULL, worker, k))) {
		if (err == IOLM_EIO)
			IOLM_ERROR(MOD, "cannot read %s", path);
		node_kept_close(k);
		return err;
	}
	k->started = 1;
	for (size_t i = 0; i < k->n_best; i++)
		queue(k, OP_PIN, k->best[i].ckpt);
	/* decisions made while the node was down */
	node_kept_settle(k);
	*out = k;
	return IOLM_OK;
}

int node_kept_read(node_kept **out, const char *path)
{
	node_kept *k = kept_new(path);
	int err;
	unsigned no;
	*out = NULL;
	if (!k)
		return IOLM_ENOMEM;
	if ((err = load_lines(k, &no))) {
		node_kept_close(k);
		return err;
	}
	*out = k;
	return IOLM_OK;
}

void node_kept_close(node_kept *k)
{
	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->mu);
		k->stopping = 1;
		pthread_cond_signal(&k->cv);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->thread, NULL);
	}
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k->ops);
	free(k->pending);
	free(k->best);
	free(k->data);
	free(k->path);
	free(k);
}
