/* Internals of the artifact store shared by its source files. */
#ifndef IOLM_ART_INT_H
#define IOLM_ART_INT_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

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
	/* add, put_manifest and put_chunk hold it shared; gc exclusively. */
	pthread_rwlock_t gc_lock;
	struct art_pool *pool;   /* NULL when threads == 1 */
};

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

#endif
