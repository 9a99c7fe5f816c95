/* Internals of the artifact store shared by its source files. */
#ifndef IOLM_ART_INT_H
#define IOLM_ART_INT_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "artifacts/art.h"
#include "core/codec.h"

#define ART_MOD "art"

/* LMDB databases (docs/artifacts.md "Store layout"):
 *   chunk  id (34)            -> chunk bytes
 *   ref    id (34)            -> u64 LE count || u64 LE gc sequence (0: not queued)
 *   gcq    u64 BE seq || id   -> empty: unreferenced stored chunks, oldest first
 *   man    artifact id (34)   -> encoded Manifest
 *   pin    artifact id (34)   -> empty
 *   meta   "seq" "bytes" "chunks" "unref" -> u64 LE */
struct art_store {
	MDB_env *env;
	MDB_dbi chunk, ref, gcq, man, pin, meta;
	unsigned threads;
	int no_sync;             /* opened with MDB_NOSYNC */
	/* add, put_manifest and put_chunk hold it shared; gc exclusively. */
	pthread_rwlock_t gc_lock;
	/* The same between processes (iolmd and `iolmd art` on one store): flock on this
	 * file, shared by an add and exclusive for gc (art_xlock). */
	char *lock_path;
	struct art_pool *pool;   /* NULL when threads == 1 */
};

/* Take the store's lock file shared (an add) or exclusive (gc) on a descriptor of its
 * own, so that it also orders threads of one process; blocks until granted. The
 * descriptor, to pass to art_xunlock, or -1 (IOLM_EIO) when the file cannot be opened. */
int art_xlock(art_store *s, int exclusive);
/* The same, giving up with IOLM_EART_STOPPED once *stop is nonzero (polling every 20 ms
 * while another holds the file); *fd is the descriptor on IOLM_OK. */
int art_xlock_until(art_store *s, int exclusive, const atomic_int *stop, int *fd) IOLM_WUR;
void art_xunlock(int fd);

/* Map an LMDB return code to an iolm error. */
int art_lmdb_err(int rc);

/* A chunk reference collected while adding: id and size. */
typedef struct art_ref {
	uint8_t id[ART_ID_LEN];
	uint32_t size;
} art_ref;

/* One file of a manifest being built. */
typedef struct art_file {
	char *path;      /* owned */
	uint64_t size;
	uint32_t first;
	uint32_t count;
} art_file;

/* Write one batch of chunks (ids already computed) inside txn: store those not present,
 * queueing them for gc until a manifest references them. Updates *stats. */
int art_put_chunks_txn(art_store *s, MDB_txn *txn, const art_ref *refs, const uint8_t *const *data,
		       size_t n, art_add_stats *stats) IOLM_WUR;

/* Store the encoded manifest under id and take a reference per chunk occurrence, inside
 * txn; a manifest already stored takes no new references. Pins when pin != 0. */
int art_put_manifest_txn(art_store *s, MDB_txn *txn, const uint8_t id[static ART_ID_LEN],
			 const Iolm__Manifest *m, const uint8_t *bytes, size_t len, int pin) IOLM_WUR;

/* Build, encode and id a manifest from files and chunk refs into out (limit
 * IOLM_MAX_MANIFEST_BYTES). */
int art_manifest_build(iolm_buf *out, uint8_t id[static ART_ID_LEN], enum art_kind kind,
		       const uint8_t *parent, const art_file *files, size_t n_files,
		       const art_ref *refs, size_t n_refs) IOLM_WUR;

/* Open the regular file at path for reading (symbolic links refused) into *fd, its
 * status into *sb: IOLM_EART_FILETYPE for a link or anything not a regular file,
 * IOLM_ENOTFOUND, IOLM_EIO. (chunk.c) */
int art_open_regular(int *fd, struct stat *sb, const char *path) IOLM_WUR;

/* Whether a relative path is safe: non-empty, at most ART_MAX_PATH bytes, '/'-separated
 * components none of which is empty, "." or "..", no NUL. */
int art_path_safe(const char *path, size_t len);

/* A small pool of worker threads for data-parallel loops. */
typedef struct art_pool art_pool;
int art_pool_create(art_pool **out, unsigned workers) IOLM_WUR;
void art_pool_destroy(art_pool *p);
/* Run fn(ctx, i) for i in [0, n) on the workers and the calling thread; returns when all
 * are done. */
void art_pool_run(art_pool *p, void (*fn)(void *ctx, size_t i), void *ctx, size_t n);

/* A pipeline stage: one thread that runs fn(ctx, item, failed) on the items pushed to
 * it, one at a time and in order, while the pushing thread goes on; add and get use it
 * to write one batch while the next is read and hashed. failed is nonzero once an
 * earlier fn returned an error or the stage is being stopped with abort; fn must still
 * release what the item holds then. Items are counted from 0 in push order; at most
 * ART_STAGE_MAX are pushed and not yet done, so a pusher with k item buffers reuses
 * buffer s % k for item s after art_stage_wait(st, s - k + 1). */
#define ART_STAGE_MAX 8u
typedef struct art_stage {
	pthread_mutex_t mu;
	pthread_cond_t cv;                 /* an item pushed or done, or stopping */
	pthread_t thread;
	int (*fn)(void *ctx, void *item, int failed);
	int (*finish)(void *ctx, int failed);
	void *ctx;
	void *ring[ART_STAGE_MAX];
	uint64_t pushed, done;
	int stopping, abort, err, running;
} art_stage;

/* Start st's thread. finish (may be NULL) runs on it last, after every item, with
 * failed as for fn; an error it returns becomes the stage's. */
int art_stage_start(art_stage *st, int (*fn)(void *ctx, void *item, int failed),
		    int (*finish)(void *ctx, int failed), void *ctx) IOLM_WUR;
/* Queue item (fewer than ART_STAGE_MAX may be outstanding); returns its number. */
uint64_t art_stage_push(art_stage *st, void *item);
/* Wait until the first n items are done; the stage's first error (IOLM_OK: none). */
int art_stage_wait(art_stage *st, uint64_t n);
/* Let the thread finish every item pushed (abort: with failed set), run finish, exit;
 * returns the stage's first error. Does nothing for a stage that never started. */
int art_stage_stop(art_stage *st, int abort);

/* Store chunks whose ids the caller has already verified (the verifier's workers), those
 * not yet present, under the shared gc lock: in one write transaction when the store
 * syncs, in transactions of at most 128 KiB when it does not (store.c says why).
 * Thread-safe. On an error the chunks before the failing transaction are stored. */
int art_put_verified(art_store *s, const art_ref *refs, const uint8_t *const *data,
		     size_t n) IOLM_WUR;

/* Call fn(ctx, data, len) with the stored bytes of chunk id, not hashed again (the store
 * verified them when they were put): for serving, where the receiver verifies anyway;
 * art_store_get_chunk() verifies. data points into the map and is valid only during the
 * call, which runs inside a read transaction (keep it short). Returns fn's result, or
 * IOLM_EART_MISSING when the chunk is absent (fn not called). */
typedef int art_chunk_fn(void *ctx, const uint8_t *data, size_t len);
int art_with_chunk(art_store *s, const uint8_t id[static ART_ID_LEN], art_chunk_fn *fn,
		   void *ctx) IOLM_WUR;

/* ---------------------------------------------------------------- chunk ids in bulk */

/* ids[i] = art_chunk_id(data[i], len[i]) for i < n; several chunks hashed at once where
 * the CPU allows (chunk_ids.c). Thread-safe. */
typedef void art_ids_fn(uint8_t (*ids)[ART_ID_LEN], const uint8_t *const *data,
			const size_t *len, size_t n);
void art_chunk_ids(uint8_t (*ids)[ART_ID_LEN], const uint8_t *const *data, const size_t *len,
		   size_t n);
/* Chunks per task when a pool hashes a batch: enough for art_chunk_ids' lanes. */
#define ART_IDS_GROUP 32u
/* Task t of a pool job hashing the n chunks data/len: the ids of chunks [*first,
 * *first + k) into ids[0..k), k (at most ART_IDS_GROUP) returned, *first = t *
 * ART_IDS_GROUP. A job over n chunks has ceil(n / ART_IDS_GROUP) tasks. */
size_t art_chunk_ids_task(uint8_t (*ids)[ART_ID_LEN], size_t *first,
			  const uint8_t *const *data, const size_t *len, size_t n, size_t t);
/* A backend by name ("scalar"; "avx512" where supported), NULL when this CPU lacks it;
 * name NULL: the one art_chunk_ids uses. For tests and benchmarks. */
art_ids_fn *art_chunk_ids_backend(const char *name);
/* art_chunk_id() on the portable compression function of chunk_ids.c, for tests. */
void art_chunk_id_portable(uint8_t id[static ART_ID_LEN], const void *data, size_t len);

/* ---------------------------------------------------------------- the verifier
 * Received chunks hashed and stored on worker threads (verify.c). The loop thread takes
 * a free job, fills it and submits it; a worker hashes it against its id, stores it if
 * it matches (a batch per write transaction) and moves it to the finished list, making
 * the verifier's eventfd readable; the loop takes the finished list, acts on each job
 * and releases it. Jobs are pooled (at most max_jobs, each with room for ART_CHUNK_MAX
 * bytes) and only the loop thread allocates or releases them. */
typedef struct art_vjob {
	struct art_vjob *next;
	uint8_t id[ART_ID_LEN];
	uint32_t len;
	uint32_t peer_gen;       /* who sent it: the engine's peer slot and its generation */
	uint8_t peer_slot;
	uint8_t ok;              /* set by the worker: data hashes to id */
	int err;                 /* set by the worker: storing it failed (ok only) */
	uint8_t data[];          /* ART_CHUNK_MAX bytes */
} art_vjob;

typedef struct art_verifier art_verifier;

/* Start workers threads (at least 1) storing into s, which must outlive the verifier.
 * *out is NULL on failure. */
int art_verifier_create(art_verifier **out, art_store *s, unsigned workers,
			unsigned max_jobs) IOLM_WUR;
/* Finish the jobs submitted (stored when they verify), join the workers and free every
 * job. NULL is a no-op. */
void art_verifier_destroy(art_verifier *v);
/* A free job (its fields unset), or NULL when max_jobs are out; valid until released. */
art_vjob *art_verifier_job(art_verifier *v);
void art_verifier_submit(art_verifier *v, art_vjob *j);
/* The finished jobs (a list linked by next, oldest first, NULL when none), which the
 * caller hands back with art_verifier_release(). Clears the eventfd. */
art_vjob *art_verifier_take(art_verifier *v);
void art_verifier_release(art_verifier *v, art_vjob *list);
/* Readable while finished jobs wait to be taken. */
int art_verifier_fd(const art_verifier *v);
/* Jobs out of the pool: submitted, finished or not yet released. */
unsigned art_verifier_busy(const art_verifier *v);

#endif
