/* Artifact transfer between peers: a pure state machine over an art_store
 * (docs/artifacts.md "Transfer").
 *
 * The engine owns no socket and no clock. The caller feeds it what peers send
 * (art_xfer_on_have/want/block/cancel), tells it when peers come and go, and calls
 * art_xfer_tick() with the time; the engine answers through callbacks that send
 * ArtWant, ArtBlock, ArtHave and ArtCancel frames to a peer or penalize it. A peer is an
 * opaque non-NULL pointer chosen by the caller (iolmd passes its node_peer), valid from
 * art_xfer_peer_add() to art_xfer_peer_remove().
 *
 * Fetching artifact A:
 *   1. the manifest: ArtWant{A} to a peer that announced A (or, when none did, to every
 *      peer); the answer ArtBlock{A, encoded Manifest} is accepted only when the bytes
 *      hash to A (art_manifest_decode) and is stored with art_store_put_manifest;
 *   2. the chunks the store lacks (art_store_missing; after a restart exactly those not
 *      yet verified and stored), requested rarest-first over the peers' ArtHave sets,
 *      at most `window` in flight per peer. Each block received is hashed against its
 *      id on one of the engine's worker threads and stored (by that thread) only when
 *      it matches, several blocks per write transaction. A chunk that does not hash to
 *      its id penalizes
 *      the sender, which is not asked for that chunk again; a request unanswered after
 *      `timeout_ms`, or answered "not here" (ArtBlock with empty data), goes to another
 *      peer.
 * Serving: ArtWant ids (at most ART_XFER_MAX_WANT per frame) are queued per peer and
 * answered from the store, chunk or manifest (a chunk is not hashed again on the way
 * out: the store verified it when it was put, the receiver verifies it again), under a
 * per-peer and a global token bucket on bytes sent; an id the store lacks is answered
 * "not here". ArtHave for every complete local artifact goes to each peer as it is
 * added, and to every peer when a fetch completes. While a fetch runs, the chunks it
 * has stored are announced too (partial ArtHave: the artifact id and those chunk ids),
 * every ART_XFER_HAVE_MS or each ART_XFER_MAX_HAVE_IDS chunks, and to a peer as it is
 * added, so that nodes fetching the same artifact serve each other.
 *
 * Every call on one art_xfer from one thread (iolmd: its event loop), and every callback
 * is made from that thread inside such a call; the engine's own worker threads only
 * hash and store received chunks (art_xfer_fd). Callbacks must not call back into the
 * engine. */
#ifndef IOLM_ART_XFER_H
#define IOLM_ART_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "artifacts/art.h"
#include "core/err.h"

#define ART_XFER_MAX_WANT 64u       /* ids in one ArtWant / ArtCancel, either way */
#define ART_XFER_MAX_PEERS 64u      /* peers tracked at once */
#define ART_XFER_MAX_FETCHES 16u    /* fetches (running or finished) tracked at once */
#define ART_XFER_MAX_HAVES 256u     /* artifact ids remembered per peer (oldest forgotten) */
#define ART_XFER_MAX_ANNOUNCE 256u  /* local artifacts announced to a new peer */
#define ART_XFER_MAX_HAVE_IDS 1024u /* chunk ids in one partial ArtHave (the engine sends) */
#define ART_XFER_HAVE_MS 250u       /* newly stored chunks of a fetch announced this often */
/* Misbehaviour points (the transport bans at 100). */
#define ART_XFER_PTS_CORRUPT 25u    /* a block that does not hash to its id */
#define ART_XFER_PTS_FLOOD 5u       /* wants past the serving queue, malformed ids */

typedef struct art_xfer art_xfer;

typedef struct art_xfer_callbacks {
	/* ArtWant{ids}: n (1..ART_XFER_MAX_WANT) ids of ART_ID_LEN bytes back to back. */
	int (*send_want)(void *ctx, void *peer, const uint8_t *ids, size_t n);
	/* ArtCancel{ids}: the same shape; the peer may drop those still queued. */
	int (*send_cancel)(void *ctx, void *peer, const uint8_t *ids, size_t n);
	/* ArtBlock{id, data}; len 0 means "not here". data is valid during the call. */
	int (*send_block)(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
			  const uint8_t *data, size_t len);
	/* ArtHave{artifact_id}: this node holds the whole artifact (n 0), or the n chunks
	 * chunk_ids of it (1..ART_XFER_MAX_HAVE_IDS ids back to back: a fetch under way). */
	int (*send_have)(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
			 const uint8_t *chunk_ids, size_t n);
	void (*penalize)(void *ctx, void *peer, uint32_t points, const char *reason);
	/* Optional: a fetch finished (err IOLM_OK) or stopped on a store error. */
	void (*on_done)(void *ctx, const uint8_t id[ART_ID_LEN], int err);
	void *ctx;
} art_xfer_callbacks;

typedef struct art_xfer_config {
	uint32_t window;        /* most chunk requests in flight to one peer; default 128, at
				 * most 256. Each peer's own window follows its delivery rate
				 * (16 to start, 4 at least; docs/artifacts.md "Windows"). */
	uint32_t timeout_ms;    /* a request unanswered this long goes elsewhere; default 10000 */
	uint64_t peer_rate;     /* bytes per second served to one peer; 0: unlimited */
	uint64_t global_rate;   /* bytes per second served to all peers; 0: unlimited */
	uint32_t serve_queue;   /* ids queued per peer while rate-limited; default 256 */
	size_t max_block;       /* largest ArtBlock data sent (the frame cap less framing);
				 * a larger manifest is answered "not here"; default 8 MiB */
	unsigned workers;       /* threads verifying and storing received chunks; default:
				 * online CPUs less one, 2 to 4; at most 16 */
} art_xfer_config;

/* Create an engine over store s (which must outlive it). cfg may be NULL (defaults); cb
 * is copied, and send_want, send_cancel, send_block, send_have and penalize are
 * required (IOLM_EINVAL). *out is NULL on failure. */
int art_xfer_create(art_xfer **out, art_store *s, const art_xfer_config *cfg,
		    const art_xfer_callbacks *cb) IOLM_WUR;
/* Free everything; no callback is called. The blocks being verified are finished first
 * (the good ones stored); chunks stored stay stored, so a new engine over the same store
 * resumes a fetch where this one stopped. NULL is a no-op. */
void art_xfer_destroy(art_xfer *x);

/* A connected peer: it is sent ArtHave for the complete local artifacts (at most
 * ART_XFER_MAX_ANNOUNCE) and takes part in fetches it announces. IOLM_EART_BUSY past
 * ART_XFER_MAX_PEERS; adding a known peer changes nothing. */
int art_xfer_peer_add(art_xfer *x, void *peer) IOLM_WUR;
/* The peer is gone: its outstanding requests go to other peers. */
void art_xfer_peer_remove(art_xfer *x, void *peer);

/* Frames from peer. Ids are ART_ID_LEN bytes each, back to back; callers drop frames
 * with malformed ids (wrong length) before this and may penalize them. on_have: the peer
 * holds artifact id whole (n 0), or only the chunks listed (n > 0: applied to a fetch
 * that knows the artifact's chunk list; otherwise the peer's last 4,096 such ids are
 * kept and applied when a fetch's chunk list is built). on_block: len 0 is "not here". */
void art_xfer_on_have(art_xfer *x, void *peer, const uint8_t id[ART_ID_LEN],
		      const uint8_t *chunk_ids, size_t n);
void art_xfer_on_want(art_xfer *x, void *peer, const uint8_t *ids, size_t n);
void art_xfer_on_block(art_xfer *x, void *peer, const uint8_t id[ART_ID_LEN],
		       const uint8_t *data, size_t len);
void art_xfer_on_cancel(art_xfer *x, void *peer, const uint8_t *ids, size_t n);

/* ArtHave for artifact id, whole, to every peer: the store just gained it other than by
 * a fetch (an add on this node). */
void art_xfer_announce(art_xfer *x, const uint8_t id[ART_ID_LEN]);

/* Time passes (milliseconds, any monotonic origin; call every few tens of ms): refills
 * the rate buckets, serves queued wants, re-requests what timed out, sends new wants. */
void art_xfer_tick(art_xfer *x, uint64_t now_ms);

/* Start fetching artifact id (or resume it: what the store already holds is not asked
 * for again). pin: pin the artifact when its manifest is stored. IOLM_OK at once when it
 * is already complete (on_done is called). IOLM_EART_BUSY when ART_XFER_MAX_FETCHES are
 * running; fetching one already running changes nothing. */
int art_xfer_fetch(art_xfer *x, const uint8_t id[ART_ID_LEN], int pin) IOLM_WUR;

enum art_xfer_state {
	ART_XFER_MANIFEST = 1,  /* waiting for the manifest */
	ART_XFER_CHUNKS = 2,    /* fetching chunks */
	ART_XFER_DONE = 3,      /* every chunk stored and verified */
	ART_XFER_FAILED = 4,    /* stopped on a store error (err) */
};

typedef struct art_xfer_progress {
	enum art_xfer_state state;
	int err;                /* ART_XFER_FAILED: why */
	uint64_t chunks_total;  /* distinct chunks of the artifact (0 until the manifest) */
	uint64_t chunks_done;   /* of which are stored */
	uint64_t bytes_total;   /* their bytes */
	uint64_t bytes_done;
	uint32_t peers;         /* peers known to hold some of it */
	uint32_t in_flight;     /* chunk requests outstanding */
	uint32_t verifying;     /* chunks received, being verified */
} art_xfer_progress;

/* Progress of the fetch of id; IOLM_EART_NOFETCH when none was started (or it was
 * forgotten to make room for newer ones). */
int art_xfer_get_progress(const art_xfer *x, art_xfer_progress *out,
			  const uint8_t id[ART_ID_LEN]) IOLM_WUR;

typedef struct art_xfer_stats {
	uint64_t chunks_received;   /* verified and stored */
	uint64_t bytes_received;
	uint64_t chunks_requested;  /* ids sent in ArtWant (chunks, not manifests) */
	uint64_t corrupt;           /* blocks that did not hash to their id */
	uint64_t timeouts;          /* requests re-sent elsewhere after timeout_ms */
	uint64_t stolen;            /* requests moved from a much slower peer at the end */
	uint64_t not_here;          /* "not here" answers received */
	uint64_t duplicates;        /* blocks for chunks already stored or not wanted */
	uint64_t blocks_served;     /* ArtBlocks sent with data */
	uint64_t bytes_served;
	uint64_t wants_dropped;     /* wanted ids past a peer's serving queue */
	uint64_t store_errors;      /* store calls that failed (logged) */
	uint64_t verifying;         /* now, not a total: blocks received whose verification
				     * the engine has not yet acted on */
} art_xfer_stats;

void art_xfer_get_stats(const art_xfer *x, art_xfer_stats *out);

/* What the engine knows of one peer (docs/artifacts.md "Windows"). */
typedef struct art_xfer_peer_info {
	uint32_t window;            /* chunk requests it may have in flight now */
	uint32_t in_flight;         /* chunk requests it has */
	uint64_t rate;              /* bytes per second it delivered, smoothed; 0: unknown */
	uint64_t rtt_ms;            /* from a request to its block, smoothed; 0: unknown */
	uint64_t stolen_from;       /* requests moved from it to a faster peer */
	uint32_t queued;            /* its wants waiting in this engine's serving queue */
} art_xfer_peer_info;

/* IOLM_ENOTFOUND (out zeroed) when peer is not one of the engine's. */
int art_xfer_get_peer_info(const art_xfer *x, const void *peer,
			   art_xfer_peer_info *out) IOLM_WUR;

/* Received chunks are hashed, and stored when they match, on the engine's worker threads;
 * the engine acts on the results (stored chunks done in their fetches, bad ones refused
 * and their senders penalized) in the next art_xfer_on_block, art_xfer_tick or
 * art_xfer_drain. The descriptor art_xfer_fd() is readable while results wait: a caller
 * that watches it and calls art_xfer_drain when it is gets them at once instead of at
 * the next block or tick. Valid until art_xfer_destroy; never read it or close it.
 * art_xfer_destroy lets the workers finish (and store) what they hold first. */
int art_xfer_fd(const art_xfer *x);
void art_xfer_drain(art_xfer *x);

#endif
