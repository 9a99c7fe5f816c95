/* The chunk store: one LMDB environment shared by all artifacts (docs/artifacts.md
 * "Store layout" and "Garbage collection"; the databases are listed in art_int.h).
 *
 * Invariants, kept by every write transaction:
 *   - ref[id].count = occurrences of id in the chunk lists of the stored manifests;
 *   - a stored chunk with count 0 has exactly one gcq entry, whose sequence number is
 *     ref[id].seq; no other chunk has one, and meta "unref" counts them;
 *   - meta "bytes" and "chunks" are the size and number of stored chunks.
 * A chunk stored before any manifest names it (an add in progress, or a crash before
 * its manifest was committed) is therefore queued for gc, and an interrupted add leaves
 * nothing that gc cannot reclaim. */
#include "artifacts/art_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define ART_DEFAULT_MAP ((uint64_t)1 << 40)
#define ART_GC_BATCH 256u
/* Chunk bytes per write transaction of art_put_verified (one chunk at least). A synced
 * commit costs a flush, so a store that syncs takes a whole batch at once; one that
 * does not keeps transactions small: LMDB writes a commit's new pages in one pwritev,
 * and the page cache backs a write much larger than 128 KiB with large folios, whose
 * high-order allocations are slow where the host reclaims free memory (on the
 * Firecracker VMs of the benchmarks, 256 KiB writes into a new file run ~4x slower
 * than 128 KiB ones, 4 MiB writes ~10x). */
#define ART_TXN_BYTES_SYNC ((size_t)64 << 20)
#define ART_TXN_BYTES_NOSYNC ((size_t)128 << 10)

int art_lmdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return IOLM_OK;
	case MDB_NOTFOUND:
		return IOLM_ENOTFOUND;
	case MDB_MAP_FULL:
		return IOLM_EART_FULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		return IOLM_ECORRUPT;
	case ENOMEM:
		return IOLM_ENOMEM;
	default:
		return IOLM_EIO;
	}
}

/* ---------------------------------------------------------------- small helpers */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int meta_get(art_store *s, MDB_txn *txn, const char *key, uint64_t *v)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	int rc = mdb_get(txn, s->meta, &k, &d);
	*v = 0;
	if (rc == MDB_NOTFOUND)
		return IOLM_OK;
	if (rc)
		return art_lmdb_err(rc);
	if (d.mv_size != 8)
		return IOLM_ECORRUPT;
	*v = get_le64(d.mv_data);
	return IOLM_OK;
}

/* meta[key] += delta (two's complement, so a negative delta subtracts). */
static int meta_add(art_store *s, MDB_txn *txn, const char *key, uint64_t delta)
{
	uint64_t v;
	uint8_t buf[8];
	int rc = meta_get(s, txn, key, &v);
	if (rc)
		return rc;
	put_le64(buf, v + delta);
	MDB_val k = { strlen(key), (void *)key }, d = { 8, buf };
	return art_lmdb_err(mdb_put(txn, s->meta, &k, &d, 0));
}

static int ref_get(art_store *s, MDB_txn *txn, const uint8_t *id, uint64_t *count, uint64_t *seq)
{
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	int rc = mdb_get(txn, s->ref, &k, &d);
	*count = *seq = 0;
	if (rc == MDB_NOTFOUND)
		return IOLM_OK;
	if (rc)
		return art_lmdb_err(rc);
	if (d.mv_size != 16)
		return IOLM_ECORRUPT;
	*count = get_le64(d.mv_data);
	*seq = get_le64((const uint8_t *)d.mv_data + 8);
	return IOLM_OK;
}

static int ref_set(art_store *s, MDB_txn *txn, const uint8_t *id, uint64_t count, uint64_t seq)
{
	MDB_val k = { ART_ID_LEN, (void *)id };
	if (count == 0 && seq == 0) {
		int rc = mdb_del(txn, s->ref, &k, NULL);
		return rc == MDB_NOTFOUND ? IOLM_OK : art_lmdb_err(rc);
	}
	uint8_t buf[16];
	put_le64(buf, count);
	put_le64(buf + 8, seq);
	MDB_val d = { 16, buf };
	return art_lmdb_err(mdb_put(txn, s->ref, &k, &d, 0));
}

static void gcq_key(uint8_t key[8 + ART_ID_LEN], uint64_t seq, const uint8_t *id)
{
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(seq >> (56 - 8 * i));
	memcpy(key + 8, id, ART_ID_LEN);
}

/* Queue the stored, unreferenced chunk id for gc. */
static int gcq_push(art_store *s, MDB_txn *txn, const uint8_t *id)
{
	uint8_t key[8 + ART_ID_LEN];
	uint64_t seq;
	int rc;
	if ((rc = meta_get(s, txn, "seq", &seq)) || (rc = meta_add(s, txn, "seq", 1)) ||
	    (rc = meta_add(s, txn, "unref", 1)))
		return rc;
	seq++;
	gcq_key(key, seq, id);
	MDB_val k = { sizeof key, key }, d = { 0, NULL };
	if ((rc = art_lmdb_err(mdb_put(txn, s->gcq, &k, &d, 0))))
		return rc;
	return ref_set(s, txn, id, 0, seq);
}

static int chunk_present(art_store *s, MDB_txn *txn, const uint8_t *id, int *present)
{
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	int rc = mdb_get(txn, s->chunk, &k, &d);
	*present = rc == MDB_SUCCESS;
	return rc == MDB_NOTFOUND ? IOLM_OK : art_lmdb_err(rc);
}

/* ---------------------------------------------------------------- reference counts */

static int ref_inc(art_store *s, MDB_txn *txn, const uint8_t *id)
{
	uint64_t count, seq;
	int rc = ref_get(s, txn, id, &count, &seq);
	if (rc)
		return rc;
	if (count == 0 && seq) {   /* leaves the gc queue */
		uint8_t key[8 + ART_ID_LEN];
		gcq_key(key, seq, id);
		MDB_val k = { sizeof key, key };
		if ((rc = art_lmdb_err(mdb_del(txn, s->gcq, &k, NULL))) ||
		    (rc = meta_add(s, txn, "unref", (uint64_t)-1)))
			return rc;
	}
	return ref_set(s, txn, id, count + 1, 0);
}

static int ref_dec(art_store *s, MDB_txn *txn, const uint8_t *id)
{
	uint64_t count, seq;
	int present, rc = ref_get(s, txn, id, &count, &seq);
	if (rc)
		return rc;
	if (count == 0)
		return IOLM_ECORRUPT;
	if ((rc = ref_set(s, txn, id, count - 1, 0)))
		return rc;
	if (count > 1)
		return IOLM_OK;
	if ((rc = chunk_present(s, txn, id, &present)))
		return rc;
	return present ? gcq_push(s, txn, id) : IOLM_OK;
}

/* ---------------------------------------------------------------- writes */

int art_put_chunks_txn(art_store *s, MDB_txn *txn, const art_ref *refs, const uint8_t *const *data,
		       size_t n, art_add_stats *stats)
{
	int rc = IOLM_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		int present;
		uint64_t count, seq;
		if ((rc = chunk_present(s, txn, refs[i].id, &present)) || present)
			continue;
		MDB_val k = { ART_ID_LEN, (void *)refs[i].id }, d = { refs[i].size, (void *)data[i] };
		if ((rc = art_lmdb_err(mdb_put(txn, s->chunk, &k, &d, 0))) ||
		    (rc = meta_add(s, txn, "bytes", refs[i].size)) ||
		    (rc = meta_add(s, txn, "chunks", 1)) ||
		    (rc = ref_get(s, txn, refs[i].id, &count, &seq)))
			break;
		if (count == 0)
			rc = gcq_push(s, txn, refs[i].id);
		if (stats) {
			stats->new_chunks++;
			stats->new_bytes += refs[i].size;
		}
	}
	return rc;
}

int art_put_manifest_txn(art_store *s, MDB_txn *txn, const uint8_t id[static ART_ID_LEN],
			 const Iolm__Manifest *m, const uint8_t *bytes, size_t len, int pin)
{
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	int rc = mdb_get(txn, s->man, &k, &d);
	if (rc == MDB_NOTFOUND) {
		d.mv_size = len;
		d.mv_data = (void *)bytes;
		if ((rc = art_lmdb_err(mdb_put(txn, s->man, &k, &d, 0))))
			return rc;
		for (size_t i = 0; i < m->n_chunks; i++)
			if ((rc = ref_inc(s, txn, m->chunks[i]->id.data)))
				return rc;
	} else if (rc) {
		return art_lmdb_err(rc);
	}
	if (pin) {
		d.mv_size = 0;
		d.mv_data = NULL;
		return art_lmdb_err(mdb_put(txn, s->pin, &k, &d, 0));
	}
	return IOLM_OK;
}

/* ---------------------------------------------------------------- open / close */

static int open_dbs(art_store *s)
{
	MDB_txn *txn;
	const char *names[] = { "chunk", "ref", "gcq", "man", "pin", "meta" };
	MDB_dbi *dbis[] = { &s->chunk, &s->ref, &s->gcq, &s->man, &s->pin, &s->meta };
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn));
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof names / sizeof *names && !rc; i++)
		rc = art_lmdb_err(mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]));
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return art_lmdb_err(mdb_txn_commit(txn));
}

int art_store_open(art_store **out, const char *dir, const art_store_options *opt)
{
	art_store *s = NULL;
	int rc, lock_init = 0;
	*out = NULL;
	if (!dir) {
		rc = IOLM_EINVAL;
		goto fail;
	}
	if ((rc = iolm_crypto_init()))
		goto fail;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = IOLM_EIO;
		goto fail;
	}
	if (!(s = calloc(1, sizeof *s))) {
		rc = IOLM_ENOMEM;
		goto fail;
	}
	if (pthread_rwlock_init(&s->gc_lock, NULL)) {
		rc = IOLM_ENOMEM;
		goto fail;
	}
	lock_init = 1;
	size_t dl = strlen(dir);
	if (!(s->lock_path = malloc(dl + sizeof "/gc.lock"))) {
		rc = IOLM_ENOMEM;
		goto fail;
	}
	memcpy(s->lock_path, dir, dl);
	memcpy(s->lock_path + dl, "/gc.lock", sizeof "/gc.lock");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->threads = opt && opt->threads ? opt->threads : (cpus > 0 ? (unsigned)cpus : 1);
	if (s->threads > 8)
		s->threads = 8;
	if (s->threads > 1 && (rc = art_pool_create(&s->pool, s->threads - 1)))
		goto fail;
	if ((rc = art_lmdb_err(mdb_env_create(&s->env))))
		goto fail;
	uint64_t map = opt && opt->map_size ? opt->map_size : ART_DEFAULT_MAP;
	if ((rc = art_lmdb_err(mdb_env_set_maxdbs(s->env, 8))) ||
	    (rc = art_lmdb_err(mdb_env_set_mapsize(s->env, (size_t)map))))
		goto fail;
	/* MDB_NOTLS: read transactions are not tied to threads. */
	s->no_sync = opt && opt->no_sync;
	unsigned flags = MDB_NOTLS | (s->no_sync ? MDB_NOSYNC : 0);
	if ((rc = art_lmdb_err(mdb_env_open(s->env, dir, flags, 0600)))) {
		IOLM_ERROR(ART_MOD, "cannot open the chunk store in %s", dir);
		goto fail;
	}
	if ((rc = open_dbs(s)))
		goto fail;
	*out = s;
	return IOLM_OK;
fail:
	if (s) {
		if (s->env)
			mdb_env_close(s->env);
		art_pool_destroy(s->pool);
		if (lock_init)
			pthread_rwlock_destroy(&s->gc_lock);
		free(s->lock_path);
		free(s);
	}
	return rc;
}

void art_store_close(art_store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	art_pool_destroy(s->pool);
	pthread_rwlock_destroy(&s->gc_lock);
	free(s->lock_path);
	free(s);
}

int art_xlock(art_store *s, int exclusive)
{
	int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

int art_xlock_until(art_store *s, int exclusive, const atomic_int *stop, int *fd)
{
	int f;
	*fd = -1;
	if (!stop) {
		*fd = art_xlock(s, exclusive);
		return *fd < 0 ? IOLM_EIO : IOLM_OK;
	}
	if ((f = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return IOLM_EIO;
	while (flock(f, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || atomic_load(stop)) {
			int busy = errno == EWOULDBLOCK || errno == EINTR;
			close(f);
			return busy ? IOLM_EART_STOPPED : IOLM_EIO;
		}
		usleep(20000);
	}
	*fd = f;
	return IOLM_OK;
}

void art_xunlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---------------------------------------------------------------- chunks */

int art_store_has_chunk(art_store *s, const uint8_t id[static ART_ID_LEN])
{
	MDB_txn *txn;
	int present = 0;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
		return 0;
	if (chunk_present(s, txn, id, &present))
		present = 0;
	mdb_txn_abort(txn);
	return present;
}

int art_with_chunk(art_store *s, const uint8_t id[static ART_ID_LEN], art_chunk_fn *fn, void *ctx)
{
	MDB_txn *txn;
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	rc = mdb_get(txn, s->chunk, &k, &d);
	if (rc)
		rc = rc == MDB_NOTFOUND ? IOLM_EART_MISSING : art_lmdb_err(rc);
	else if (d.mv_size == 0 || d.mv_size > ART_CHUNK_MAX)
		rc = IOLM_EART_CORRUPT;
	else
		rc = fn(ctx, d.mv_data, d.mv_size);
	mdb_txn_abort(txn);
	return rc;
}

struct get_ctx {
	iolm_buf *out;
	const uint8_t *id;
};

static int append_verified(void *ctx, const uint8_t *data, size_t len)
{
	struct get_ctx *g = ctx;
	uint8_t got[ART_ID_LEN];
	art_chunk_id(got, data, len);
	if (memcmp(got, g->id, ART_ID_LEN))
		return IOLM_EART_CORRUPT;
	return iolm_buf_append(g->out, data, len);
}

int art_store_get_chunk(art_store *s, iolm_buf *out, const uint8_t id[static ART_ID_LEN])
{
	struct get_ctx g = { out, id };
	return art_with_chunk(s, id, append_verified, &g);
}

/* One write transaction storing refs[0..n). */
static int put_verified_txn(art_store *s, const art_ref *refs, const uint8_t *const *data,
			    size_t n)
{
	MDB_txn *txn = NULL;
	int rc;
	pthread_rwlock_rdlock(&s->gc_lock);
	if ((rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))))
		goto out;
	if ((rc = art_put_chunks_txn(s, txn, refs, data, n, NULL)))
		goto out;
	rc = art_lmdb_err(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->gc_lock);
	return rc;
}

int art_put_verified(art_store *s, const art_ref *refs, const uint8_t *const *data, size_t n)
{
	size_t cap = s->no_sync ? ART_TXN_BYTES_NOSYNC : ART_TXN_BYTES_SYNC;
	int rc = IOLM_OK;
	for (size_t i = 0, k; i < n && !rc; i += k) {
		size_t bytes = refs[i].size;
		for (k = 1; i + k < n && bytes + refs[i + k].size <= cap; k++)
			bytes += refs[i + k].size;
		rc = put_verified_txn(s, refs + i, data + i, k);
	}
	return rc;
}

int art_store_put_chunk(art_store *s, const uint8_t id[static ART_ID_LEN], const uint8_t *data,
			size_t len)
{
	uint8_t got[ART_ID_LEN];
	art_ref r;
	if (!art_id_valid(id))
		return IOLM_EART_ID;
	if (len == 0 || len > ART_CHUNK_MAX)
		return IOLM_ETOOBIG;
	art_chunk_id(got, data, len);
	if (memcmp(got, id, ART_ID_LEN))
		return IOLM_EART_CORRUPT;
	memcpy(r.id, id, ART_ID_LEN);
	r.size = (uint32_t)len;
	return art_put_verified(s, &r, &data, 1);
}

/* ---------------------------------------------------------------- manifests and pins */

int art_store_manifest(art_store *s, iolm_buf *out, const uint8_t id[static ART_ID_LEN])
{
	MDB_txn *txn;
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	if (!(rc = art_lmdb_err(mdb_get(txn, s->man, &k, &d))))
		rc = iolm_buf_append(out, d.mv_data, d.mv_size);
	mdb_txn_abort(txn);
	return rc;
}

int art_store_put_manifest(art_store *s, uint8_t id[static ART_ID_LEN], const uint8_t *data,
			   size_t len, int pin)
{
	Iolm__Manifest *m = NULL;
	MDB_txn *txn = NULL;
	int rc = art_manifest_decode(&m, id, data, len);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&s->gc_lock);
	if ((rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))))
		goto out;
	if ((rc = art_put_manifest_txn(s, txn, id, m, data, len, pin)))
		goto out;
	rc = art_lmdb_err(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->gc_lock);
	iolm_codec_free((ProtobufCMessage *)m);
	if (rc)
		memset(id, 0, ART_ID_LEN);
	return rc;
}

static int set_pin(art_store *s, const uint8_t *id, int pin)
{
	MDB_txn *txn;
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn));
	if (rc)
		return rc;
	MDB_val k = { ART_ID_LEN, (void *)id }, d = { 0, NULL };
	if ((rc = art_lmdb_err(mdb_get(txn, s->man, &k, &d))))
		goto out;
	if (pin) {
		d.mv_size = 0;
		d.mv_data = NULL;
		rc = art_lmdb_err(mdb_put(txn, s->pin, &k, &d, 0));
	} else {
		int r = mdb_del(txn, s->pin, &k, NULL);
		rc = r == MDB_NOTFOUND ? IOLM_OK : art_lmdb_err(r);
	}
	if (!rc) {
		rc = art_lmdb_err(mdb_txn_commit(txn));
		return rc;
	}
out:
	mdb_txn_abort(txn);
	return rc;
}

int art_store_pin(art_store *s, const uint8_t id[static ART_ID_LEN])
{
	return set_pin(s, id, 1);
}

int art_store_unpin(art_store *s, const uint8_t id[static ART_ID_LEN])
{
	return set_pin(s, id, 0);
}

/* ---------------------------------------------------------------- garbage collection */

/* Drop every unpinned manifest, releasing its references. */
static int gc_manifests(art_store *s, MDB_txn *txn, uint64_t *removed)
{
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t key[ART_ID_LEN];
	int r, rc = art_lmdb_err(mdb_cursor_open(txn, s->man, &cur));
	if (rc)
		return rc;
	for (r = mdb_cursor_get(cur, &k, &d, MDB_FIRST); !r && !rc;) {
		MDB_val pd;
		if (k.mv_size != ART_ID_LEN) {
			rc = IOLM_ECORRUPT;
			break;
		}
		if (!mdb_get(txn, s->pin, &k, &pd)) {
			r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
			continue;
		}
		memcpy(key, k.mv_data, ART_ID_LEN);
		Iolm__Manifest *m = NULL;
		/* Stored manifests were checked when stored; decode without re-checking. */
		if ((rc = iolm_decode_manifest(&m, d.mv_data, d.mv_size, IOLM_MAX_MANIFEST_BYTES)))
			break;
		for (size_t i = 0; i < m->n_chunks && !rc; i++)
			rc = ref_dec(s, txn, m->chunks[i]->id.data);
		iolm_codec_free((ProtobufCMessage *)m);
		if (rc || (rc = art_lmdb_err(mdb_cursor_del(cur, 0))))
			break;
		(*removed)++;
		/* Continue at the first key after the one deleted. */
		k.mv_size = ART_ID_LEN;
		k.mv_data = key;
		r = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	if (!rc && r != MDB_NOTFOUND)
		rc = art_lmdb_err(r);
	return rc;
}

/* Delete the stored chunk id, unreferenced and already out of the gc queue, with its
 * record and its share of the totals; counted in st. */
static int drop_chunk(art_store *s, MDB_txn *txn, const uint8_t id[ART_ID_LEN],
		      art_gc_stats *st)
{
	MDB_val ck = { ART_ID_LEN, (void *)id }, cd;
	int rc;
	if ((rc = art_lmdb_err(mdb_get(txn, s->chunk, &ck, &cd))))
		return rc;
	uint64_t size = cd.mv_size;
	if ((rc = art_lmdb_err(mdb_del(txn, s->chunk, &ck, NULL))) ||
	    (rc = ref_set(s, txn, id, 0, 0)) ||
	    (rc = meta_add(s, txn, "bytes", (uint64_t)0 - size)) ||
	    (rc = meta_add(s, txn, "chunks", (uint64_t)-1)) ||
	    (rc = meta_add(s, txn, "unref", (uint64_t)-1)))
		return rc;
	st->chunks_freed++;
	st->bytes_freed += size;
	return IOLM_OK;
}

/* Delete up to batch unreferenced chunks, oldest first, while bytes > watermark. *done
 * is set when nothing more is to be deleted. */
static int gc_batch(art_store *s, MDB_txn *txn, uint64_t watermark, uint64_t batch,
		    art_gc_stats *st, int *done)
{
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t bytes;
	int rc = art_lmdb_err(mdb_cursor_open(txn, s->gcq, &cur));
	if (rc)
		return rc;
	*done = 0;
	for (uint64_t i = 0; i < batch; i++) {
		if ((rc = meta_get(s, txn, "bytes", &bytes)))
			break;
		if (bytes <= watermark) {
			*done = 1;
			break;
		}
		int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
		if (r == MDB_NOTFOUND) {
			*done = 1;
			break;
		}
		if ((rc = art_lmdb_err(r)))
			break;
		if (k.mv_size != 8 + ART_ID_LEN) {
			rc = IOLM_ECORRUPT;
			break;
		}
		uint8_t id[ART_ID_LEN];
		memcpy(id, (const uint8_t *)k.mv_data + 8, ART_ID_LEN);
		if ((rc = art_lmdb_err(mdb_cursor_del(cur, 0))) ||
		    (rc = drop_chunk(s, txn, id, st)))
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

int art_store_gc(art_store *s, art_gc_stats *stats, uint64_t watermark, uint64_t max_chunks)
{
	art_gc_stats st = { 0 };
	MDB_txn *txn = NULL;
	int rc, done = 0, xfd;
	pthread_rwlock_wrlock(&s->gc_lock);
	if ((xfd = art_xlock(s, 1)) < 0) {
		rc = IOLM_EIO;
		goto out;
	}
	if ((rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))) ||
	    (rc = gc_manifests(s, txn, &st.artifacts_removed)))
		goto out;
	rc = art_lmdb_err(mdb_txn_commit(txn));
	txn = NULL;
	while (!rc && !done) {
		uint64_t batch = ART_GC_BATCH;
		if (max_chunks) {
			if (st.chunks_freed >= max_chunks)
				break;
			if (max_chunks - st.chunks_freed < batch)
				batch = max_chunks - st.chunks_freed;
		}
		if ((rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))) ||
		    (rc = gc_batch(s, txn, watermark, batch, &st, &done)))
			goto out;
		rc = art_lmdb_err(mdb_txn_commit(txn));
		txn = NULL;
	}
	if (!rc) {
		if ((rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))))
			goto out;
		rc = meta_get(s, txn, "unref", &st.chunks_pending);
	}
out:
	if (txn)
		mdb_txn_abort(txn);
	art_xunlock(xfd);
	pthread_rwlock_unlock(&s->gc_lock);
	if (stats)
		*stats = st;
	if (st.chunks_freed || st.artifacts_removed)
		IOLM_INFO(ART_MOD, "gc: %llu artifacts dropped, %llu chunks (%llu bytes) freed",
			  (unsigned long long)st.artifacts_removed,
			  (unsigned long long)st.chunks_freed, (unsigned long long)st.bytes_freed);
	return rc;
}

int art_store_gc_steps(art_store *s, art_gc_stats *stats, uint64_t watermark,
		       const atomic_int *stop)
{
	art_gc_stats sum = { 0 }, st;
	int rc;
	for (;;) {
		if (stop && atomic_load(stop)) {
			rc = IOLM_EART_STOPPED;
			break;
		}
		if ((rc = art_store_gc(s, &st, watermark, ART_GC_STEP)))
			break;
		sum.artifacts_removed += st.artifacts_removed;
		sum.chunks_freed += st.chunks_freed;
		sum.bytes_freed += st.bytes_freed;
		sum.chunks_pending = st.chunks_pending;
		if (st.chunks_freed < ART_GC_STEP) /* under the watermark, or nothing left */
			break;
	}
	if (stats)
		*stats = sum;
	return rc;
}

/* Drop manifest id (unpinned) and release its references; then delete each of its
 * chunks no artifact references any more, out of the gc queue. */
static int remove_one(art_store *s, MDB_txn *txn, const uint8_t id[ART_ID_LEN],
		      art_gc_stats *st)
{
	MDB_val k = { ART_ID_LEN, (void *)id }, d, pd;
	Iolm__Manifest *m = NULL;
	int rc = mdb_get(txn, s->man, &k, &d);
	if (rc == MDB_NOTFOUND)
		return IOLM_ENOTFOUND;
	if ((rc = art_lmdb_err(rc)))
		return rc;
	if (mdb_get(txn, s->pin, &k, &pd) == 0)
		return IOLM_EART_PINNED;
	/* decoded (copied) before the first write moves the map's pages */
	if ((rc = iolm_decode_manifest(&m, d.mv_data, d.mv_size, IOLM_MAX_MANIFEST_BYTES)))
		return rc;
	for (size_t i = 0; i < m->n_chunks && !rc; i++)
		rc = ref_dec(s, txn, m->chunks[i]->id.data);
	if (!rc && !(rc = art_lmdb_err(mdb_del(txn, s->man, &k, NULL))))
		st->artifacts_removed = 1;
	for (size_t i = 0; i < m->n_chunks && !rc; i++) {
		const uint8_t *cid = m->chunks[i]->id.data;
		uint64_t count, seq;
		uint8_t key[8 + ART_ID_LEN];
		/* a chunk listed twice is gone the second time (seq 0); one never stored
		 * (a fetch's) was never queued */
		if ((rc = ref_get(s, txn, cid, &count, &seq)) || count || !seq)
			continue;
		gcq_key(key, seq, cid);
		MDB_val gk = { sizeof key, key };
		if (!(rc = art_lmdb_err(mdb_del(txn, s->gcq, &gk, NULL))))
			rc = drop_chunk(s, txn, cid, st);
	}
	iolm_codec_free((ProtobufCMessage *)m);
	return rc;
}

int art_store_remove(art_store *s, const uint8_t id[static ART_ID_LEN], art_gc_stats *stats)
{
	art_gc_stats st = { 0 };
	MDB_txn *txn = NULL;
	int rc, xfd;
	pthread_rwlock_wrlock(&s->gc_lock);
	if ((xfd = art_xlock(s, 1)) < 0) {
		rc = IOLM_EIO;
		goto out;
	}
	if (!(rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))) &&
	    !(rc = remove_one(s, txn, id, &st)) &&
	    !(rc = meta_get(s, txn, "unref", &st.chunks_pending))) {
		rc = art_lmdb_err(mdb_txn_commit(txn));
		txn = NULL;
	}
out:
	if (txn)
		mdb_txn_abort(txn);
	art_xunlock(xfd);
	pthread_rwlock_unlock(&s->gc_lock);
	if (rc)
		memset(&st, 0, sizeof st);
	if (stats)
		*stats = st;
	return rc;
}

/* ---------------------------------------------------------------- queries */

int art_store_get_stats(art_store *s, art_store_stats *out)
{
	MDB_txn *txn;
	MDB_stat ms;
	memset(out, 0, sizeof *out);
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	if (!(rc = meta_get(s, txn, "chunks", &out->chunks)) &&
	    !(rc = meta_get(s, txn, "bytes", &out->bytes)) &&
	    !(rc = meta_get(s, txn, "unref", &out->unreferenced)) &&
	    !(rc = art_lmdb_err(mdb_stat(txn, s->man, &ms)))) {
		out->artifacts = ms.ms_entries;
		if (!(rc = art_lmdb_err(mdb_stat(txn, s->pin, &ms))))
			out->pinned = ms.ms_entries;
	}
	mdb_txn_abort(txn);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

int art_store_list(art_store *s, art_info *out, size_t cap, size_t *n, size_t *total)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t cnt = 0, all = 0;
	int r, rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc) {
		txn = NULL;
		goto out;
	}
	if ((rc = art_lmdb_err(mdb_cursor_open(txn, s->man, &cur))))
		goto out;
	for (r = mdb_cursor_get(cur, &k, &d, MDB_FIRST); !r;
	     r = mdb_cursor_get(cur, &k, &d, MDB_NEXT), all++) {
		if (cnt >= cap)
			continue;
		Iolm__Manifest *m = NULL;
		if (k.mv_size != ART_ID_LEN ||
		    iolm_decode_manifest(&m, d.mv_data, d.mv_size, IOLM_MAX_MANIFEST_BYTES)) {
			rc = IOLM_ECORRUPT;
			goto out;
		}
		art_info *a = &out[cnt++];
		memcpy(a->id, k.mv_data, ART_ID_LEN);
		a->kind = (enum art_kind)m->kind;
		a->total_size = m->total_size;
		a->n_files = (uint32_t)m->n_files;
		a->n_chunks = (uint32_t)m->n_chunks;
		MDB_val pd;
		a->pinned = mdb_get(txn, s->pin, &k, &pd) == MDB_SUCCESS;
		iolm_codec_free((ProtobufCMessage *)m);
	}
	if (r != MDB_NOTFOUND)
		rc = art_lmdb_err(r);
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (rc)
		cnt = all = 0;
	*n = cnt;
	if (total)
		*total = all;
	return rc;
}

struct miss {
	const uint8_t *id;
	size_t index;
};

static int miss_cmp(const void *a, const void *b)
{
	const struct miss *x = a, *y = b;
	int c = memcmp(x->id, y->id, ART_ID_LEN);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int miss_index_cmp(const void *a, const void *b)
{
	const struct miss *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

int art_store_missing(art_store *s, uint8_t *ids, size_t cap, size_t *n, size_t *total,
		      const uint8_t id[static ART_ID_LEN])
{
	MDB_txn *txn = NULL;
	Iolm__Manifest *m = NULL;
	struct miss *ms = NULL;
	size_t cnt = 0, all = 0, nm = 0;
	int rc = art_lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
	if (rc) {
		txn = NULL;
		goto out;
	}
	MDB_val k = { ART_ID_LEN, (void *)id }, d;
	if ((rc = art_lmdb_err(mdb_get(txn, s->man, &k, &d))))
		goto out;
	if ((rc = iolm_decode_manifest(&m, d.mv_data, d.mv_size, IOLM_MAX_MANIFEST_BYTES)))
		goto out;
	if (m->n_chunks && !(ms = malloc(m->n_chunks * sizeof *ms))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->n_chunks; i++) {
		int present;
		if ((rc = chunk_present(s, txn, m->chunks[i]->id.data, &present)))
			goto out;
		if (!present)
			ms[nm++] = (struct miss){ m->chunks[i]->id.data, i };
	}
	/* Each missing id once, at its first position: sort by (id, index), keep the
	 * first of each run, then restore manifest order. */
	if (nm)
		qsort(ms, nm, sizeof *ms, miss_cmp);
	for (size_t i = 0; i < nm; i++)
		if (i == 0 || memcmp(ms[i].id, ms[all - 1].id, ART_ID_LEN))
			ms[all++] = ms[i];
	if (all)
		qsort(ms, all, sizeof *ms, miss_index_cmp);
	for (; cnt < all && cnt < cap; cnt++)
		memcpy(ids + cnt * ART_ID_LEN, ms[cnt].id, ART_ID_LEN);
out:
	free(ms);
	iolm_codec_free((ProtobufCMessage *)m);
	if (txn)
		mdb_txn_abort(txn);
	if (rc)
		cnt = all = 0;
	*n = cnt;
	if (total)
		*total = all;
	return rc;
}
