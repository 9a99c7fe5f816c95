/* Adding files and folders to the store, and getting them back (docs/artifacts.md).
 *
 * Add streams each file through two buffers of ADD_BUF bytes in turn, in two stages
 * that overlap. The caller's thread reads a buffer, finds its cut points sequentially
 * (the rolling hash is cheap), has each batch of chunks hashed on the store's pool of
 * threads (ART_IDS_GROUP chunks per task, in lock-step) and hands the batch to the
 * writer thread, which stores it in its current write transaction and commits that
 * every ADD_TXN_BYTES of new data, so no transaction grows without bound. The writer
 * only reads a buffer; the caller refills one only once the writer is done with every
 * batch in it, so reading, cutting and hashing the next 8 MiB overlap with writing the
 * last (on two vCPUs the page-cache writes of a commit took as long as all the rest).
 * The manifest is written last, in one transaction that also takes the chunk
 * references; until then the new chunks sit in the gc queue (store.c), and the shared
 * gc lock keeps a collection from running in between. Memory: the two buffers, the
 * batches in flight, the cut table and the growing chunk list (at most ART_MAX_CHUNKS
 * entries). */
#include "artifacts/art_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define ADD_BUF (8u * 1024 * 1024)
#define ADD_BATCH 1024u                      /* chunks hashed and handed over together */
#define ADD_TXN_BYTES (64ull * 1024 * 1024)  /* new bytes per write transaction */
#define ADD_BATCHES 4u                       /* batches hashed, queued or being stored */

/* One batch of chunks, all in one buffer, on its way to the writer. */
typedef struct add_batch {
	art_ref refs[ADD_BATCH];
	const uint8_t *ptr[ADD_BATCH];
	size_t len[ADD_BATCH];
	size_t n;
} add_batch;

typedef struct adder {
	art_store *s;
	int id_only;                     /* art_add_options.id_only: store nothing */
	const atomic_int *stop;          /* art_add_options.stop, or NULL */
	uint8_t *buf[2];
	unsigned cur;                    /* the buffer being cut */
	uint64_t buf_end[2];             /* items of the writer to wait for before refilling */
	uint64_t *cuts;
	art_ref *refs;
	size_t n_refs, cap_refs;
	art_file *files;
	size_t n_files;
	art_add_stats st;
	add_batch *hashing;              /* the batch hash_task fills in */
	uint64_t pushed;                 /* batches handed to the writer */
	art_stage w;
	/* the writer's own */
	MDB_txn *txn;
	uint64_t txn_bytes, new_chunks, new_bytes;
	add_batch batches[ADD_BATCHES];
} adder;

static void hash_task(void *ctx, size_t t)
{
	add_batch *b = ((adder *)ctx)->hashing;
	uint8_t ids[ART_IDS_GROUP][ART_ID_LEN];
	size_t first, k = art_chunk_ids_task(ids, &first, b->ptr, b->len, b->n, t);
	for (size_t i = 0; i < k; i++)
		memcpy(b->refs[first + i].id, ids[i], ART_ID_LEN);
}

static int read_full(int fd, uint8_t *p, size_t want, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t r = read(fd, p + *got, want - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return IOLM_EIO;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return IOLM_OK;
}

/* ---------------------------------------------------------------- the writer */

/* Store batch b's chunks in the open write transaction; commit it once it holds
 * ADD_TXN_BYTES of new data. After a failure, nothing. */
static int store_batch(void *ctx, void *item, int failed)
{
	adder *a = ctx;
	const add_batch *b = item;
	art_add_stats st = { 0 };
	int rc;
	if (failed || a->id_only)
		return IOLM_OK;
	if (!a->txn && (rc = art_lmdb_err(mdb_txn_begin(a->s->env, NULL, 0, &a->txn)))) {
		a->txn = NULL;
		return rc;
	}
	if ((rc = art_put_chunks_txn(a->s, a->txn, b->refs, b->ptr, b->n, &st)))
		return rc;
	a->new_chunks += st.new_chunks;
	a->new_bytes += st.new_bytes;
	a->txn_bytes += st.new_bytes;
	if (a->txn_bytes >= ADD_TXN_BYTES) {
		rc = art_lmdb_err(mdb_txn_commit(a->txn)); /* frees the txn even when it fails */
		a->txn = NULL;
		a->txn_bytes = 0;
	}
	return rc;
}

/* The writer's last step: commit its open transaction, or abort it after a failure. */
static int store_finish(void *ctx, int failed)
{
	adder *a = ctx;
	int rc = IOLM_OK;
	if (a->txn && failed)
		mdb_txn_abort(a->txn);
	else if (a->txn)
		rc = art_lmdb_err(mdb_txn_commit(a->txn));
	a->txn = NULL;
	return rc;
}

/* A free batch: the one of the writer's item number a->pushed, once the writer is done
 * with the item that last used it. NULL with *rc set when the writer failed. */
static add_batch *batch_get(adder *a, int *rc)
{
	uint64_t k = a->pushed;
	*rc = art_stage_wait(&a->w, k >= ADD_BATCHES ? k - ADD_BATCHES + 1 : 0);
	return *rc ? NULL : &a->batches[k % ADD_BATCHES];
}

/* ---------------------------------------------------------------- the reader */

/* Hash the n chunks of b, append them to the chunk list and hand b to the writer. */
static int flush_batch(adder *a, add_batch *b, size_t n)
{
	if (n == 0)
		return IOLM_OK;
	if (a->n_refs + n > ART_MAX_CHUNKS)
		return IOLM_EART_TOOMANY;
	if (a->n_refs + n > a->cap_refs) {
		size_t cap = a->cap_refs ? a->cap_refs * 2 : 4096;
		while (cap < a->n_refs + n)
			cap *= 2;
		if (cap > ART_MAX_CHUNKS)
			cap = ART_MAX_CHUNKS;
		art_ref *r = realloc(a->refs, cap * sizeof *r);
		if (!r)
			return IOLM_ENOMEM;
		a->refs = r;
		a->cap_refs = cap;
	}
	b->n = n;
	a->hashing = b;
	art_pool_run(a->s->pool, hash_task, a, (n + ART_IDS_GROUP - 1) / ART_IDS_GROUP);
	memcpy(a->refs + a->n_refs, b->refs, n * sizeof *b->refs);
	a->n_refs += n;
	a->st.chunks += n;
	a->pushed = art_stage_push(&a->w, b) + 1;
	a->buf_end[a->cur] = a->pushed;
	return IOLM_OK;
}

/* Chunk the open file fd into the chunk list, with forced cuts (ascending). */
static int add_fd(adder *a, int fd, const uint64_t *cuts, size_t n_cuts, uint64_t *size)
{
	size_t have = 0, p = 0, ci = 0, nb;
	uint64_t base = 0;   /* file offset of buf[0] */
	uint8_t *buf = a->buf[a->cur];
	int eof = 0, rc = IOLM_OK;
	for (;;) {
		if (a->stop && atomic_load(a->stop)) {
			rc = IOLM_EART_STOPPED;
			break;
		}
		if (!eof && have - p < ART_CHUNK_MAX) {
			/* The rest of this buffer moves to the start of the other one, which is
			 * filled up once the writer is done with it. */
			unsigned next = a->cur ^ 1;
			size_t got;
			if ((rc = art_stage_wait(&a->w, a->buf_end[next])))
				break;
			memcpy(a->buf[next], buf + p, have - p);
			a->cur = next;
			buf = a->buf[next];
			base += p;
			have -= p;
			p = 0;
			if ((rc = read_full(fd, buf + have, ADD_BUF - have, &got)))
				break;
			eof = have + got < ADD_BUF;
			have += got;
			a->st.bytes += got;
		}
		add_batch *b = batch_get(a, &rc);
		if (!b)
			break;
		nb = 0;
		while (p < have && (eof || have - p >= ART_CHUNK_MAX) && nb < ADD_BATCH) {
			uint64_t pos = base + p;
			size_t lim = have - p < ART_CHUNK_MAX ? have - p : ART_CHUNK_MAX;
			while (ci < n_cuts && cuts[ci] <= pos)
				ci++;
			if (ci < n_cuts && cuts[ci] - pos < lim)
				lim = (size_t)(cuts[ci] - pos);
			size_t c = art_chunk_cut(buf + p, lim);
			b->ptr[nb] = buf + p;
			b->len[nb] = c;
			b->refs[nb++].size = (uint32_t)c;
			p += c;
		}
		if ((rc = flush_batch(a, b, nb)))
			break;
		if (eof && p == have)
			break;
	}
	*size = base + have;
	return rc;
}

static int add_file(adder *a, const char *path, const char *name, const art_add_options *opt)
{
	struct stat sb;
	size_t n_cuts = 0;
	const uint64_t *cuts = a->cuts;
	uint64_t size = 0;
	int rc, fd;
	if ((rc = art_open_regular(&fd, &sb, path)))
		return rc;
	if (opt && opt->cuts) {
		if (opt->n_cuts > ART_MAX_CUTS) {
			rc = IOLM_ETOOBIG;
			goto out;
		}
		for (size_t i = 1; i < opt->n_cuts; i++)
			if (opt->cuts[i] <= opt->cuts[i - 1]) {
				rc = IOLM_EINVAL;
				goto out;
			}
		cuts = opt->cuts;
		n_cuts = opt->n_cuts;
	} else if ((rc = art_ckpt_cuts(a->cuts, ART_MAX_CUTS, &n_cuts, fd, (uint64_t)sb.st_size))) {
		goto out;
	}
	if (a->n_files >= ART_MAX_FILES) {
		rc = IOLM_EART_TOOMANY;
		goto out;
	}
	art_file *f = &a->files[a->n_files];
	f->first = (uint32_t)a->n_refs;
	if (!(f->path = strdup(name))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	a->n_files++;
	rc = add_fd(a, fd, cuts, n_cuts, &size);
	f->size = size;
	f->count = (uint32_t)(a->n_refs - f->first);
out:
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------- folders */

typedef struct pathlist {
	char **v;
	size_t n, cap;
} pathlist;

static int pathlist_push(pathlist *l, const char *rel)
{
	if (l->n >= ART_MAX_FILES)
		return IOLM_EART_TOOMANY;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return IOLM_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(rel)))
		return IOLM_ENOMEM;
	l->n++;
	return IOLM_OK;
}

/* Collect the regular files below root/rel (rel "" for root itself). */
static int walk(pathlist *l, const char *root, const char *rel)
{
	char dpath[2 * ART_MAX_PATH + 2], sub[ART_MAX_PATH + 1];
	struct dirent *e;
	struct stat sb;
	int rc = IOLM_OK;
	if ((size_t)snprintf(dpath, sizeof dpath, "%s%s%s", root, *rel ? "/" : "", rel) >= sizeof dpath)
		return IOLM_EART_PATH;
	DIR *d = opendir(dpath);
	if (!d)
		return IOLM_EIO;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int n = snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (n < 0 || (size_t)n >= sizeof sub || !art_path_safe(sub, (size_t)n)) {
			rc = IOLM_EART_PATH;
			break;
		}
		if ((size_t)snprintf(dpath, sizeof dpath, "%s/%s", root, sub) >= sizeof dpath) {
			rc = IOLM_EART_PATH;
			break;
		}
		if (lstat(dpath, &sb)) {
			rc = IOLM_EIO;
			break;
		}
		if (S_ISDIR(sb.st_mode))
			rc = walk(l, root, sub);
		else if (S_ISREG(sb.st_mode))
			rc = pathlist_push(l, sub);
		else
			rc = IOLM_EART_FILETYPE;
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_folder(adder *a, const char *root, const art_add_options *opt)
{
	pathlist l = { 0 };
	char full[2 * ART_MAX_PATH + 2];
	int rc = walk(&l, root, "");
	if (!rc && l.n == 0)
		rc = IOLM_ENOTFOUND;   /* a manifest needs at least one file */
	if (!rc) {
		qsort(l.v, l.n, sizeof *l.v, cmp_str);
		if (!(a->files = calloc(l.n, sizeof *a->files)))
			rc = IOLM_ENOMEM;
	}
	for (size_t i = 0; !rc && i < l.n; i++) {
		if ((size_t)snprintf(full, sizeof full, "%s/%s", root, l.v[i]) >= sizeof full) {
			rc = IOLM_EART_PATH;
			break;
		}
		art_add_options o = opt ? *opt : (art_add_options){ 0 };
		o.cuts = NULL;   /* each file's own cuts */
		rc = add_file(a, full, l.v[i], &o);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return rc;
}

/* ---------------------------------------------------------------- add */

static int finish_add(adder *a, uint8_t id[static ART_ID_LEN], const art_add_options *opt)
{
	iolm_buf mb;
	Iolm__Manifest *m = NULL;
	MDB_txn *txn = NULL;
	enum art_kind kind = opt && opt->kind ? opt->kind : ART_KIND_DATASET;
	int rc;
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	if ((rc = art_manifest_build(&mb, id, kind, opt ? opt->parent : NULL, a->files, a->n_files,
				     a->refs, a->n_refs)) ||
	    (rc = iolm_decode_manifest(&m, mb.data, mb.len, IOLM_MAX_MANIFEST_BYTES)) ||
	    a->id_only || (rc = art_lmdb_err(mdb_txn_begin(a->s->env, NULL, 0, &txn))))
		goto out;
	if ((rc = art_put_manifest_txn(a->s, txn, id, m, mb.data, mb.len, opt && opt->pin))) {
		mdb_txn_abort(txn);
		goto out;
	}
	rc = art_lmdb_err(mdb_txn_commit(txn));
out:
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&mb, 0);
	return rc;
}

int art_store_add(art_store *s, uint8_t id[static ART_ID_LEN], art_add_stats *stats,
		  const char *path, const art_add_options *opt)
{
	adder *a = NULL;
	struct stat sb;
	int rc, xfd = -1;
	memset(id, 0, ART_ID_LEN);
	if (!path || (opt && opt->kind && (opt->kind < ART_KIND_DATASET || opt->kind > ART_KIND_MODEL)) ||
	    (opt && opt->parent && !art_id_valid(opt->parent)))
		return IOLM_EINVAL;
	if (lstat(path, &sb))
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
		return IOLM_EART_FILETYPE;
	if (!(a = calloc(1, sizeof *a)) || !(a->buf[0] = malloc(ADD_BUF)) ||
	    !(a->buf[1] = malloc(ADD_BUF)) || !(a->cuts = malloc(ART_MAX_CUTS * sizeof *a->cuts))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	a->s = s;
	a->id_only = opt && opt->id_only;
	a->stop = opt ? opt->stop : NULL;
	pthread_rwlock_rdlock(&s->gc_lock);
	/* Another process's gc (`iolmd art gc` beside iolmd) must not take the chunks
	 * stored before the manifest either. */
	if (!a->id_only && (rc = art_xlock_until(s, 0, a->stop, &xfd))) {
		pthread_rwlock_unlock(&s->gc_lock);
		goto out;
	}
	/* Chunks of the writer's committed transactions stay queued for gc after a failure;
	 * those of its open one are dropped. */
	if ((rc = art_stage_start(&a->w, store_batch, store_finish, a))) {
		art_xunlock(xfd);
		pthread_rwlock_unlock(&s->gc_lock);
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = add_folder(a, path, opt);
	} else {
		const char *slash = strrchr(path, '/');
		const char *name = slash ? slash + 1 : path;
		if (!art_path_safe(name, strlen(name)))
			rc = IOLM_EART_PATH;
		else if (!(a->files = calloc(1, sizeof *a->files)))
			rc = IOLM_ENOMEM;
		else
			rc = add_file(a, path, name, opt);
	}
	int wrc = art_stage_stop(&a->w, rc != IOLM_OK);
	if (!rc)
		rc = wrc;
	a->st.new_chunks = a->new_chunks;
	a->st.new_bytes = a->new_bytes;
	if (!rc)
		rc = finish_add(a, id, opt);
	art_xunlock(xfd);
	pthread_rwlock_unlock(&s->gc_lock);
out:
	if (a) {
		if (stats)
			*stats = a->st;
		for (size_t i = 0; i < a->n_files; i++)
			free(a->files[i].path);
		free(a->files);
		free(a->refs);
		free(a->cuts);
		free(a->buf[0]);
		free(a->buf[1]);
		free(a);
	}
	if (rc) {
		memset(id, 0, ART_ID_LEN);
		if (stats)
			memset(stats, 0, sizeof *stats);
	}
	return rc;
}
