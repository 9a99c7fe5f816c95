/* Reassembling an artifact from the store: every chunk is hashed (on the store's pool,
 * ART_IDS_GROUP chunks per task in lock-step) and compared with its id before its bytes
 * are written, straight from LMDB's map.
 *
 * Two stages overlap: the caller's thread reads a batch of GET_BATCH chunks in a read
 * transaction of its own and has it verified on the pool, then hands it to a writer
 * thread, which writes its chunks to the file and ends the transaction; meanwhile the
 * caller goes on with the next batch, at most GET_BATCHES in flight. A file is closed
 * and renamed only once the writer has written all of it. (The store's environment has
 * MDB_NOTLS, so a read transaction may be ended on another thread than began it.) */
#include "artifacts/art_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define GET_BATCH 128u
#define GET_BATCHES 3u

typedef struct get_batch {
	MDB_txn *txn;                    /* keeps data valid until written */
	int fd;
	size_t n;
	const uint8_t *data[GET_BATCH];
	size_t len[GET_BATCH];
	const uint8_t *want[GET_BATCH];
	int bad[GET_BATCH];
	struct get_batch *next;
} get_batch;

typedef struct getter {
	get_batch *verifying;            /* the batch verify_task checks */
	/* shared with the writer, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;               /* a batch queued or written, or closing */
	get_batch *free_b;
	unsigned n_free;
	get_batch *queue, **queue_tail;
	int closing, werr;
	pthread_t writer;
	int writer_on;
	get_batch batches[GET_BATCHES];
} getter;

static void verify_task(void *ctx, size_t t)
{
	get_batch *b = ((getter *)ctx)->verifying;
	uint8_t ids[ART_IDS_GROUP][ART_ID_LEN];
	size_t first, k = art_chunk_ids_task(ids, &first, b->data, b->len, b->n, t);
	for (size_t i = 0; i < k; i++)
		b->bad[first + i] = memcmp(ids[i], b->want[first + i], ART_ID_LEN) != 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return IOLM_EIO;
		p += w;
		n -= (size_t)w;
	}
	return IOLM_OK;
}

/* ---------------------------------------------------------------- the writer */

/* Write queued batches in order until closing; after an error the rest are only
 * released. Every batch's read transaction ends here. */
static void *writer_main(void *arg)
{
	getter *g = arg;
	get_batch *b;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->queue && !g->closing)
			pthread_cond_wait(&g->cv, &g->mu);
		if (!(b = g->queue))
			break;
		if (!(g->queue = b->next))
			g->queue_tail = &g->queue;
		int failed = g->werr != IOLM_OK, rc = IOLM_OK;
		pthread_mutex_unlock(&g->mu);
		for (size_t i = 0; i < b->n && !failed && !rc; i++)
			rc = write_full(b->fd, b->data[i], b->len[i]);
		mdb_txn_abort(b->txn);
		b->txn = NULL;
		pthread_mutex_lock(&g->mu);
		if (rc && !g->werr)
			g->werr = rc;
		b->next = g->free_b;
		g->free_b = b;
		g->n_free++;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static int writer_open(getter *g)
{
	g->queue_tail = &g->queue;
	for (unsigned i = 0; i < GET_BATCHES; i++) {
		g->batches[i].next = g->free_b;
		g->free_b = &g->batches[i];
	}
	g->n_free = GET_BATCHES;
	if (pthread_mutex_init(&g->mu, NULL))
		return IOLM_ENOMEM;
	if (pthread_cond_init(&g->cv, NULL)) {
		pthread_mutex_destroy(&g->mu);
		return IOLM_ENOMEM;
	}
	if (pthread_create(&g->writer, NULL, writer_main, g)) {
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		return IOLM_ENOMEM;
	}
	g->writer_on = 1;
	return IOLM_OK;
}

static void writer_close(getter *g)
{
	if (!g->writer_on)
		return;
	pthread_mutex_lock(&g->mu);
	g->closing = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->writer, NULL);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	g->writer_on = 0;
}

/* A free batch, once the writer has released one. */
static get_batch *batch_get(getter *g)
{
	get_batch *b;
	pthread_mutex_lock(&g->mu);
	while (!g->free_b)
		pthread_cond_wait(&g->cv, &g->mu);
	b = g->free_b;
	g->free_b = b->next;
	g->n_free--;
	pthread_mutex_unlock(&g->mu);
	return b;
}

static void batch_release(getter *g, get_batch *b)
{
	if (b->txn)
		mdb_txn_abort(b->txn);
	b->txn = NULL;
	pthread_mutex_lock(&g->mu);
	b->next = g->free_b;
	g->free_b = b;
	g->n_free++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void batch_queue(getter *g, get_batch *b)
{
	pthread_mutex_lock(&g->mu);
	b->next = NULL;
	*g->queue_tail = b;
	g->queue_tail = &b->next;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Wait until the writer has written (or dropped) every queued batch; its error. */
static int writer_drain(getter *g)
{
	int rc;
	pthread_mutex_lock(&g->mu);
	while (g->n_free != GET_BATCHES)
		pthread_cond_wait(&g->cv, &g->mu);
	rc = g->werr;
	pthread_mutex_unlock(&g->mu);
	return rc;
}

static int writer_failed(getter *g)
{
	int rc;
	pthread_mutex_lock(&g->mu);
	rc = g->werr;
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* mkdir -p of every directory component of path below dest (path's last component is
 * the file and is not created). path is a checked safe relative path. */
static int make_parents(const char *dest, const char *path)
{
	char buf[2 * ART_MAX_PATH + 2];
	int n = snprintf(buf, sizeof buf, "%s/%s", dest, path);
	if (n < 0 || (size_t)n >= sizeof buf)
		return IOLM_EART_PATH;
	for (size_t i = strlen(dest) + 1; i < (size_t)n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return IOLM_EIO;
		buf[i] = '/';
	}
	return IOLM_OK;
}

/* Write one file's chunks [first, first + count) to fd; returns once all are written. */
static int write_chunks(art_store *s, getter *g, int fd, const Iolm__Manifest *m, size_t first,
			size_t count)
{
	int rc = IOLM_OK;
	for (size_t done = 0; done < count && !rc;) {
		size_t n = count - done < GET_BATCH ? count - done : GET_BATCH;
		get_batch *b = batch_get(g);
		if ((rc = writer_failed(g)) ||
		    (rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &b->txn)))) {
			b->txn = NULL;
			batch_release(g, b);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			const Iolm__ChunkRef *c = m->chunks[first + done + i];
			MDB_val k = { ART_ID_LEN, c->id.data }, d;
			int r = mdb_get(b->txn, s->chunk, &k, &d);
			if (r) {
				rc = r == MDB_NOTFOUND ? IOLM_EART_MISSING : art_lmdb_err(r);
				break;
			}
			if (d.mv_size != c->size) {
				rc = IOLM_EART_CORRUPT;
				break;
			}
			b->data[i] = d.mv_data;
			b->len[i] = d.mv_size;
			b->want[i] = c->id.data;
		}
		if (!rc) {
			b->n = n;
			g->verifying = b;
			art_pool_run(s->pool, verify_task, g, (n + ART_IDS_GROUP - 1) / ART_IDS_GROUP);
			for (size_t i = 0; i < n && !rc; i++)
				if (b->bad[i])
					rc = IOLM_EART_CORRUPT;
		}
		if (rc) {
			batch_release(g, b);
			break;
		}
		b->fd = fd;
		batch_queue(g, b);
		done += n;
	}
	int wrc = writer_drain(g);
	return rc ? rc : wrc;
}

static int get_file(art_store *s, getter *g, const char *dest, const Iolm__Manifest *m,
		    const Iolm__FileEntry *f)
{
	char path[2 * ART_MAX_PATH + 2], tmp[2 * ART_MAX_PATH + 8];
	int rc, fd = -1;
	if ((rc = make_parents(dest, f->path)))
		return rc;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dest, f->path) >= sizeof path ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return IOLM_EART_PATH;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
		return IOLM_EIO;
	rc = write_chunks(s, g, fd, m, f->first_chunk, f->n_chunks);
	if (close(fd) && !rc)
		rc = IOLM_EIO;
	if (!rc && rename(tmp, path))
		rc = IOLM_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

int art_store_get(art_store *s, const uint8_t id[static ART_ID_LEN], const char *dest)
{
	iolm_buf mb;
	Iolm__Manifest *m = NULL;
	getter *g = NULL;
	uint8_t got[ART_ID_LEN];
	int rc;
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	if (!dest || !art_id_valid(id)) {
		rc = IOLM_EINVAL;
		goto out;
	}
	if ((rc = art_store_manifest(s, &mb, id)))
		goto out;
	/* Decoding checks the manifest again, and its id must be the one asked for. */
	if ((rc = art_manifest_decode(&m, got, mb.data, mb.len)))
		goto out;
	if (memcmp(got, id, ART_ID_LEN)) {
		rc = IOLM_ECORRUPT;
		goto out;
	}
	if (mkdir(dest, 0755) && errno != EEXIST) {
		rc = IOLM_EIO;
		goto out;
	}
	if (!(g = calloc(1, sizeof *g))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	if ((rc = writer_open(g)))
		goto out;
	for (size_t i = 0; i < m->n_files && !rc; i++)
		rc = get_file(s, g, dest, m, m->files[i]);
	writer_close(g);
out:
	if (rc && rc != IOLM_ENOTFOUND)
		IOLM_WARN(ART_MOD, "get failed: %s", iolm_strerror(rc));
	free(g);
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&mb, 0);
	return rc;
}
