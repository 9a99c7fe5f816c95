/* Reassembling an artifact from the store: every chunk is hashed (on the store's pool,
 * ART_IDS_GROUP chunks per task in lock-step) and compared with its id before its bytes
 * are written, straight from LMDB's map.
 *
 * Two stages overlap: the caller's thread reads a batch of GET_BATCH chunks in a read
 * transaction of its own and has it verified on the pool, then hands it to a writer
 * thread, which writes its chunks to the file and ends the transaction; meanwhile the
 * caller goes on with the next batch, at most GET_BATCHES in flight. A file is closed
 * and renamed only once the writer has written all of it. (The store's environment has
 * MDB_NOTLS, so a read transaction may be ended on another thread than began it.)
 * art_store_read runs the same stages with the writer copying into memory. */
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
	uint8_t *dst;                    /* not NULL: copied here instead of written to fd */
	size_t n;
	const uint8_t *data[GET_BATCH];
	size_t len[GET_BATCH];
	const uint8_t *want[GET_BATCH];
	int bad[GET_BATCH];
} get_batch;

typedef struct getter {
	get_batch *verifying;            /* the batch verify_task checks */
	uint64_t pushed;                 /* batches handed to the writer */
	art_stage w;
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

/* The writer: write batch b to its file (unless an earlier write failed), then end its
 * read transaction. */
static int write_batch(void *ctx, void *item, int failed)
{
	get_batch *b = item;
	uint8_t *dst = b->dst;
	int rc = IOLM_OK;
	(void)ctx;
	for (size_t i = 0; i < b->n && !failed && !rc; i++) {
		if (dst) {
			memcpy(dst, b->data[i], b->len[i]);
			dst += b->len[i];
		} else {
			rc = write_full(b->fd, b->data[i], b->len[i]);
		}
	}
	mdb_txn_abort(b->txn);
	b->txn = NULL;
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

/* Write one file's chunks [first, first + count) to fd, or with dst not NULL copy them
 * there (dst holds the file's size); returns once all are written. */
static int write_chunks(art_store *s, getter *g, int fd, uint8_t *dst, const Iolm__Manifest *m,
			size_t first, size_t count)
{
	int rc = IOLM_OK;
	for (size_t done = 0; done < count && !rc;) {
		size_t n = count - done < GET_BATCH ? count - done : GET_BATCH;
		uint64_t k = g->pushed;
		get_batch *b = &g->batches[k % GET_BATCHES];
		/* This batch's last use is written, and nothing has failed. */
		if ((rc = art_stage_wait(&g->w, k >= GET_BATCHES ? k - GET_BATCHES + 1 : 0)) ||
		    (rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &b->txn))))
			break;
		for (size_t i = 0; i < n; i++) {
			const Iolm__ChunkRef *c = m->chunks[first + done + i];
			MDB_val key = { ART_ID_LEN, c->id.data }, d;
			int r = mdb_get(b->txn, s->chunk, &key, &d);
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
			mdb_txn_abort(b->txn);
			b->txn = NULL;
			break;
		}
		b->fd = fd;
		b->dst = dst;
		for (size_t i = 0; dst && i < n; i++)
			dst += b->len[i];
		g->pushed = art_stage_push(&g->w, b) + 1;
		done += n;
	}
	int wrc = art_stage_wait(&g->w, g->pushed);
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
	rc = write_chunks(s, g, fd, NULL, m, f->first_chunk, f->n_chunks);
	if (close(fd) && !rc)
		rc = IOLM_EIO;
	if (!rc && rename(tmp, path))
		rc = IOLM_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

/* The manifest of artifact id, decoded (which checks it again) into *m. */
static int load_manifest(art_store *s, const uint8_t id[static ART_ID_LEN], Iolm__Manifest **m)
{
	iolm_buf mb;
	uint8_t got[ART_ID_LEN];
	int rc;
	*m = NULL;
	if (!art_id_valid(id))
		return IOLM_EINVAL;
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	if (!(rc = art_store_manifest(s, &mb, id)) &&
	    !(rc = art_manifest_decode(m, got, mb.data, mb.len)) && memcmp(got, id, ART_ID_LEN)) {
		iolm_codec_free((ProtobufCMessage *)*m);
		*m = NULL;
		rc = IOLM_ECORRUPT; /* its id must be the one asked for */
	}
	iolm_buf_release(&mb, 0);
	return rc;
}

int art_store_get(art_store *s, const uint8_t id[static ART_ID_LEN], const char *dest)
{
	Iolm__Manifest *m = NULL;
	getter *g = NULL;
	int rc;
	if (!dest) {
		rc = IOLM_EINVAL;
		goto out;
	}
	if ((rc = load_manifest(s, id, &m)))
		goto out;
	if (mkdir(dest, 0755) && errno != EEXIST) {
		rc = IOLM_EIO;
		goto out;
	}
	if (!(g = calloc(1, sizeof *g))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	if ((rc = art_stage_start(&g->w, write_batch, NULL, g)))
		goto out;
	for (size_t i = 0; i < m->n_files && !rc; i++)
		rc = get_file(s, g, dest, m, m->files[i]);
	(void)art_stage_stop(&g->w, rc != IOLM_OK);
out:
	if (rc && rc != IOLM_ENOTFOUND)
		IOLM_WARN(ART_MOD, "get failed: %s", iolm_strerror(rc));
	free(g);
	iolm_codec_free((ProtobufCMessage *)m);
	return rc;
}

int art_store_read(art_store *s, const uint8_t id[static ART_ID_LEN], const char *path,
		   uint8_t **out, size_t *len, uint64_t cap)
{
	Iolm__Manifest *m = NULL;
	const Iolm__FileEntry *f = NULL;
	getter *g = NULL;
	uint8_t *buf = NULL;
	int rc;
	*out = NULL;
	*len = 0;
	if ((rc = load_manifest(s, id, &m)))
		goto out;
	for (size_t i = 0; i < m->n_files && !f; i++)
		if (path ? strcmp(m->files[i]->path, path) == 0 : m->n_files == 1)
			f = m->files[i];
	if (!f) {
		rc = path ? IOLM_ENOTFOUND : IOLM_EART_FILES;
		goto out;
	}
	if (f->size > cap || f->size > SIZE_MAX - 1) {
		rc = IOLM_ETOOBIG;
		goto out;
	}
	if (!(buf = malloc(f->size ? (size_t)f->size : 1)) || !(g = calloc(1, sizeof *g))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	if ((rc = art_stage_start(&g->w, write_batch, NULL, g)))
		goto out;
	/* The chunks' sizes add up to the file's: the manifest was checked. */
	rc = write_chunks(s, g, -1, buf, m, f->first_chunk, f->n_chunks);
	(void)art_stage_stop(&g->w, rc != IOLM_OK);
out:
	if (rc && rc != IOLM_ENOTFOUND && rc != IOLM_EART_MISSING)
		IOLM_WARN(ART_MOD, "read failed: %s", iolm_strerror(rc));
	if (!rc) {
		*out = buf;
		*len = (size_t)f->size;
	} else {
		free(buf);
	}
	free(g);
	iolm_codec_free((ProtobufCMessage *)m);
	return rc;
}
