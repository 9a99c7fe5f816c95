/* Content-addressed artifacts: chunking, manifests and the chunk store (docs/artifacts.md).
 *
 * An artifact (a dataset, checkpoint or model: one file or a folder) is cut into
 * content-defined chunks (Gear rolling hash, FastCDC-style normalized chunking: 8 KiB
 * minimum, ~64 KiB average, 128 KiB maximum), with forced cuts where the tensors of a
 * checkpoint file start, so retraining some tensors leaves the chunks of the others
 * untouched. A chunk id is ART_ID_PREFIX || H_chunk(bytes); an artifact id is
 * ART_ID_PREFIX || H_manifest(encoded Manifest), where the Manifest (proto/iolm.proto)
 * lists the files and the ordered chunks and carries the Merkle root over the chunk ids.
 *
 * One LMDB environment (its own directory, separate from chain state) holds every chunk
 * once, whatever number of artifacts share it; chunks carry reference counts (one per
 * occurrence in a stored manifest), artifacts carry pins, and garbage collection
 * removes unpinned artifacts and then deletes unreferenced chunks oldest first, in
 * batches, until the store is under a watermark.
 *
 * Thread safety: an art_store may be used from several threads; LMDB serialises
 * writers, and add/put hold a shared lock that gc takes exclusively, so a collection
 * never deletes the chunks of an add in progress. */
#ifndef IOLM_ART_H
#define IOLM_ART_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"

#define ART_ID_LEN 34           /* 0x1e 0x20 || BLAKE2b-256 (ledger/tx.h LEDGER_ARTIFACT_ID_LEN) */
#define ART_ID_PREFIX0 0x1e
#define ART_ID_PREFIX1 0x20

#define ART_CHUNK_MIN (8u * 1024)
#define ART_CHUNK_AVG (64u * 1024)
#define ART_CHUNK_MAX (128u * 1024)

/* Caps on a manifest (beside IOLM_MAX_MANIFEST_BYTES on its encoding). */
#define ART_MAX_FILES 65536u
#define ART_MAX_CHUNKS 393216u   /* ~24 GiB at the average chunk size */
#define ART_MAX_PATH 1024u        /* bytes of one relative path */
#define ART_MAX_CUTS 65536u       /* forced cut offsets per file */

enum art_kind {
	ART_KIND_DATASET = 1,
	ART_KIND_CHECKPOINT = 2,
	ART_KIND_MODEL = 3,
};

/* "dataset", "checkpoint", "model"; "unknown" for any other value. */
const char *art_kind_name(enum art_kind k);
/* The kind named name (one of the three above); IOLM_EINVAL for any other string. */
int art_kind_parse(enum art_kind *out, const char *name) IOLM_WUR;

/* ---------------------------------------------------------------- chunking and ids */

/* Length of the next chunk at data: the first content-defined cut point in
 * data[0..len). Precondition: len <= ART_CHUNK_MAX. Returns len when len is at most
 * ART_CHUNK_MIN or no cut point is found, so a caller passes min(remaining, max, bytes
 * to the next forced cut) and cuts there when this returns len. Pure and deterministic:
 * the same bytes always give the same cut. */
size_t art_chunk_cut(const uint8_t *data, size_t len);

/* Chunk id of data: ART_ID_PREFIX || H_chunk(data). */
void art_chunk_id(uint8_t id[static ART_ID_LEN], const void *data, size_t len);

/* Whether id has the 0x1e 0x20 prefix (its length is the caller's to check). */
int art_id_valid(const uint8_t id[static ART_ID_LEN]);

/* Forced cut offsets of a checkpoint file (docs/compute.md §5): the start of the tensor
 * table, every tensor start and the start of the state-hash trailer, ascending, read
 * from the open descriptor fd of a file of file_size bytes. *n = 0 (and IOLM_OK) when the
 * file is not a version-1 checkpoint or its table does not fit the file: such a file is
 * simply chunked by content. IOLM_ETOOBIG when more than cap offsets would be needed,
 * IOLM_EIO on a read error. */
int art_ckpt_cuts(uint64_t *cuts, size_t cap, size_t *n, int fd, uint64_t file_size) IOLM_WUR;

/* The artifact id an add of the one regular file at path (opt kind, no parent) would
 * give, recorded under name (NULL: its base name), computed without a store: to check a
 * file received from elsewhere against an id. Errors as art_store_add's. */
int art_file_id(uint8_t id[static ART_ID_LEN], const char *path, const char *name,
		enum art_kind kind) IOLM_WUR;

/* ---------------------------------------------------------------- manifests */

/* Check a decoded manifest: version 1, a known kind, a parent that is empty or an id,
 * files in strictly increasing path order with safe relative paths covering the chunk
 * list contiguously in order, chunk ids with the prefix, chunk sizes 1..ART_CHUNK_MAX
 * adding up to each file's size, total_size the sum, and the Merkle root over the chunk
 * ids. IOLM_EART_MANIFEST (or _PATH, _ID, _TOOMANY) otherwise. */
struct Iolm__Manifest;
int art_manifest_check(const struct Iolm__Manifest *m) IOLM_WUR;

/* Decode and check len bytes as a manifest (at most IOLM_MAX_MANIFEST_BYTES) and give
 * its artifact id. *out is the caller's, freed with iolm_codec_free(); NULL on failure. */
int art_manifest_decode(struct Iolm__Manifest **out, uint8_t id[static ART_ID_LEN],
			const uint8_t *data, size_t len) IOLM_WUR;

/* ---------------------------------------------------------------- the store */

typedef struct art_store art_store;

typedef struct art_store_options {
	uint64_t map_size;   /* LMDB map size in bytes; default 1 TiB (sparse) when 0 */
	int no_sync;         /* MDB_NOSYNC: for tests and benchmarks only */
	unsigned threads;    /* hashing threads for add (including the caller); 0: online CPUs, at most 8 */
} art_store_options;

/* Open (creating if needed) the store in directory dir (created mode 0700 if missing).
 * opt may be NULL. On failure *out is NULL. Close with art_store_close(). */
int art_store_open(art_store **out, const char *dir, const art_store_options *opt) IOLM_WUR;
void art_store_close(art_store *s);

typedef struct art_add_options {
	enum art_kind kind;          /* 0 means dataset */
	const uint8_t *parent;       /* ART_ID_LEN bytes or NULL */
	int pin;                     /* pin the new artifact (protect it from gc) */
	/* Forced cuts for a single-file add, ascending; NULL: derived with art_ckpt_cuts
	 * when the file is a checkpoint. Ignored for folders (each file's own are used). */
	const uint64_t *cuts;
	size_t n_cuts;
	/* Compute the id only (to check a local file against an id): the chunks are cut and
	 * hashed as for an add, and nothing is stored; stats count no new chunks. */
	int id_only;
	/* When set and nonzero (another thread sets it), the add stops within one 8 MiB
	 * buffer, or while it waits for another process's gc, with IOLM_EART_STOPPED; what
	 * it stored is left to gc, as after any failed add. */
	const atomic_int *stop;
} art_add_options;

typedef struct art_add_stats {
	uint64_t bytes;              /* bytes read */
	uint64_t chunks;             /* chunks in the manifest */
	uint64_t new_chunks;         /* of which were not in the store before */
	uint64_t new_bytes;
} art_add_stats;

/* Add the regular file or folder at path (folders: every regular file below it, in
 * byte order of their relative paths; symbolic links and other file types are refused
 * with IOLM_EART_FILETYPE). A file is recorded under its base name, a folder's files
 * under their paths relative to it. Streams with bounded memory (a few MiB plus the
 * manifest). id receives the artifact id, stats (may be NULL) what was stored. Adding
 * an artifact already stored changes nothing but the pin. */
int art_store_add(art_store *s, uint8_t id[static ART_ID_LEN], art_add_stats *stats,
		  const char *path, const art_add_options *opt) IOLM_WUR;

/* Write every file of artifact id under directory dest (created if missing), verifying
 * every chunk against its id: IOLM_EART_CORRUPT for a chunk that does not hash to its
 * id, IOLM_EART_MISSING for one not yet in the store, IOLM_ENOTFOUND for an unknown
 * artifact. Files are written to PATH.tmp and renamed when complete. */
int art_store_get(art_store *s, const uint8_t id[static ART_ID_LEN], const char *dest) IOLM_WUR;

/* The bytes of one file of artifact id into *out (malloc'd, the caller frees it; not
 * NUL-terminated) and *len, every chunk verified as by art_store_get: the file at path
 * in the manifest, or with path NULL the only file of a one-file artifact
 * (IOLM_EART_FILES for one of several, IOLM_ENOTFOUND for a path it lacks); IOLM_ETOOBIG
 * for a file of more than cap bytes, before anything is read. *out is NULL on failure.
 * What compute reads of a data set comes from the store this way. */
int art_store_read(art_store *s, const uint8_t id[static ART_ID_LEN], const char *path,
		   uint8_t **out, size_t *len, uint64_t cap) IOLM_WUR;

/* The encoded manifest of artifact id appended to out. IOLM_ENOTFOUND if unknown. */
int art_store_manifest(art_store *s, iolm_buf *out, const uint8_t id[static ART_ID_LEN]) IOLM_WUR;

/* Store a manifest received from elsewhere (decoded and checked first), taking
 * references on its chunks whether or not they are present yet, so a transfer can
 * store chunks as they arrive and resume after a crash. id receives its id. */
int art_store_put_manifest(art_store *s, uint8_t id[static ART_ID_LEN], const uint8_t *data,
			   size_t len, int pin) IOLM_WUR;

/* Chunk access for transfer. has: 1 if present, 0 if not (or on error). get appends the
 * chunk's bytes to out after verifying them (IOLM_EART_CORRUPT, IOLM_EART_MISSING). put
 * verifies data against id first (IOLM_EART_CORRUPT) and stores it once. */
int art_store_has_chunk(art_store *s, const uint8_t id[static ART_ID_LEN]);
int art_store_get_chunk(art_store *s, iolm_buf *out, const uint8_t id[static ART_ID_LEN]) IOLM_WUR;
int art_store_put_chunk(art_store *s, const uint8_t id[static ART_ID_LEN], const uint8_t *data,
			size_t len) IOLM_WUR;

/* Ids of the chunks of artifact id that are not in the store (each once, in manifest
 * order), up to cap ids into ids (cap * ART_ID_LEN bytes); *n the count written, *total
 * (may be NULL) the count missing overall. */
int art_store_missing(art_store *s, uint8_t *ids, size_t cap, size_t *n, size_t *total,
		      const uint8_t id[static ART_ID_LEN]) IOLM_WUR;

typedef struct art_info {
	uint8_t id[ART_ID_LEN];
	enum art_kind kind;
	uint64_t total_size;
	uint32_t n_files;
	uint32_t n_chunks;
	int pinned;
} art_info;

/* Up to cap stored artifacts into out, in id order; *n the count written, *total (may
 * be NULL) the number stored. */
int art_store_list(art_store *s, art_info *out, size_t cap, size_t *n, size_t *total) IOLM_WUR;

/* Pin / unpin a stored artifact. IOLM_ENOTFOUND for an unknown one; pinning a pinned
 * artifact (or unpinning an unpinned one) is not an error. */
int art_store_pin(art_store *s, const uint8_t id[static ART_ID_LEN]) IOLM_WUR;
int art_store_unpin(art_store *s, const uint8_t id[static ART_ID_LEN]) IOLM_WUR;

typedef struct art_gc_stats {
	uint64_t artifacts_removed;  /* unpinned manifests dropped */
	uint64_t chunks_freed;
	uint64_t bytes_freed;
	uint64_t chunks_pending;     /* unreferenced chunks still stored afterwards */
} art_gc_stats;

/* Garbage collection: drop every unpinned artifact, then delete unreferenced chunks,
 * oldest first (in the order they became unreferenced), in write transactions of at
 * most 256 chunks, while the store holds more than watermark bytes of chunks and at
 * most max_chunks chunks (0: no limit) have been deleted by this call. Repeated calls
 * with a small max_chunks make it incremental. stats may be NULL. */
int art_store_gc(art_store *s, art_gc_stats *stats, uint64_t watermark, uint64_t max_chunks) IOLM_WUR;

/* Drop unpinned artifact id now and delete at once those of its chunks no other
 * artifact references (gc for one artifact, whatever the watermark; the other
 * unreferenced chunks stay queued). IOLM_ENOTFOUND for an unknown artifact,
 * IOLM_EART_PINNED for a pinned one (unpin it first). stats (may be NULL): what was freed, and the
 * chunks still pending. Waits for adds in progress, like gc. */
int art_store_remove(art_store *s, const uint8_t id[static ART_ID_LEN],
		     art_gc_stats *stats) IOLM_WUR;

/* art_store_gc in steps of at most ART_GC_STEP chunks, each its own call (adds run
 * between them), until the store is under watermark or nothing more is collectable;
 * before each step *stop (may be NULL) is read, and when another thread set it the
 * collection ends with IOLM_EART_STOPPED (what was freed stays freed). stats (may be
 * NULL): the sums. */
#define ART_GC_STEP 4096u            /* chunks: about 256 MiB */
int art_store_gc_steps(art_store *s, art_gc_stats *stats, uint64_t watermark,
		       const atomic_int *stop) IOLM_WUR;

typedef struct art_store_stats {
	uint64_t chunks;             /* chunks stored */
	uint64_t bytes;              /* their bytes */
	uint64_t unreferenced;       /* chunks waiting for gc */
	uint64_t artifacts;
	uint64_t pinned;             /* of which pinned */
} art_store_stats;

int art_store_get_stats(art_store *s, art_store_stats *out) IOLM_WUR;

#endif
