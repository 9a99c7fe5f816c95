/* Internals of the transfer engine shared by its source files: xfer.c (the state,
 * scheduling and the API), xfer_recv.c (blocks received and the verifier's results)
 * and xfer_serve.c (wants answered). xfer.c describes the state and its invariants.
 * Everything here runs on the engine's one calling thread. */
#ifndef IOLM_ART_XFER_INT_H
#define IOLM_ART_XFER_INT_H

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/art_int.h"
#include "artifacts/xfer.h"
#include "core/codec.h"
#include "core/log.h"

#define MOD "xfer"

#define XF_SCAN 65536u           /* candidates examined per top-up */
#define XF_DEF_WINDOW 128u       /* most requests in flight to one peer */
#define XF_MAX_WINDOW 256u
#define XF_START_WINDOW 16u      /* a new peer's window, before its rate is known */
#define XF_MIN_WINDOW 4u
#define XF_RATE_MS 250u          /* a peer's delivery rate is sampled at most this often */
#define XF_QUEUE_MS 2000u        /* a peer's window is never more than it delivers in this */
#define XF_PROBE_MS 10000u       /* after a doubling that did not pay, wait this long */
#define XF_DEF_TIMEOUT_MS 10000u
#define XF_DEF_QUEUE 256u
#define XF_DEF_MAX_BLOCK (8u * 1024 * 1024)
#define XF_MAX_WORKERS 16u
#define XF_JOBS 128u             /* requests out plus blocks verifying (16 MiB of buffers
				  * at most) */
#define XF_EARLY_IDS 4096u       /* early chunk announcements kept per peer (139 KiB) */

/* A chunk is wanted, requested from its owner (in flight), received from its owner and
 * being hashed by the verifier, or stored. */
enum { C_WANT = 0, C_FLIGHT = 1, C_DONE = 2, C_VERIFY = 3 };

struct xf_chunk {
	uint8_t id[ART_ID_LEN];
	uint8_t state;
	uint8_t owner;               /* peer slot while in flight or verifying */
	uint16_t avail;              /* peers believed to hold it */
	uint32_t size;
	uint64_t sent_ms;
};

struct xf_fetch {
	int used;
	uint8_t id[ART_ID_LEN];
	enum art_xfer_state state;
	int err;
	int pin;
	uint64_t seq;                /* start order: the oldest finished one is reused */
	struct xf_chunk *c;          /* n distinct chunks sorted by id */
	uint32_t *order;             /* indices into c in manifest order */
	size_t n, done, lo;          /* lo: order[] before it is done */
	size_t total;                /* n, kept for progress once the table is freed */
	uint64_t bytes_total, bytes_done;
	uint32_t in_flight;
	uint32_t verifying;          /* chunks in state C_VERIFY */
	uint8_t *fresh;              /* chunks stored since the last partial ArtHave */
	size_t n_fresh;              /* (ART_XFER_MAX_HAVE_IDS ids of room, or NULL) */
	/* manifest phase */
	int man_asked;               /* a want is outstanding */
	int man_peer;                /* the one peer asked, or -1 when all were */
	uint64_t man_sent_ms;
	uint64_t man_tried;          /* slots asked since the last round began */
};

struct xf_have {
	uint8_t id[ART_ID_LEN];
	uint8_t full;
};

struct xf_peer {
	void *key;                   /* NULL: free slot */
	uint32_t inflight;
	uint32_t win;                /* requests in flight it may have (xfer.c "Windows") */
	uint64_t rate;               /* bytes per second it delivered, smoothed; 0: unknown */
	uint64_t rx_bytes;           /* requested chunk bytes it delivered since rate_t0 */
	uint64_t rate_t0;
	uint64_t srtt;               /* ms from request to block, smoothed; 0: unknown */
	uint64_t probe_base;         /* the rate sampled before the window doubled; 0: none */
	uint32_t samples;            /* rate samples taken */
	uint64_t stolen_from;        /* its requests moved to a faster peer */
	uint64_t next_probe;         /* earliest time the window may double again */
	int64_t tokens;
	struct xf_have *haves;       /* ring of ART_XFER_MAX_HAVES */
	size_t n_haves, next_have;
	/* Chunk ids it announced (partial ArtHave) for artifacts whose chunk list this
	 * engine did not have then: a ring of XF_EARLY_IDS, allocated on first use and
	 * applied to a fetch's table when the table is built. */
	uint8_t (*early)[ART_ID_LEN];
	size_t n_early, next_early;
	uint64_t *bits[ART_XFER_MAX_FETCHES];
	uint8_t *q;                  /* serving queue: serve_queue ids */
	size_t q_head, q_len;
};

struct art_xfer {
	art_store *s;
	art_xfer_config cfg;
	art_xfer_callbacks cb;
	struct xf_peer p[ART_XFER_MAX_PEERS];
	uint32_t gen[ART_XFER_MAX_PEERS]; /* bumped when a slot takes a new peer */
	struct xf_fetch f[ART_XFER_MAX_FETCHES];
	uint64_t now, last_refill, last_scan, last_have, seq;
	uint32_t in_flight;          /* chunk requests out, all fetches and peers */
	int64_t gtokens;
	int ticked;
	iolm_buf buf;                /* a block being served */
	uint8_t ids[ART_XFER_MAX_WANT * ART_ID_LEN];
	art_verifier *v;
	art_xfer_stats st;
};

static inline int bit_get(const uint64_t *b, size_t k)
{
	return (int)((b[k >> 6] >> (k & 63)) & 1);
}

static inline void bit_set(uint64_t *b, size_t k)
{
	b[k >> 6] |= (uint64_t)1 << (k & 63);
}

static inline void bit_clear(uint64_t *b, size_t k)
{
	b[k >> 6] &= ~((uint64_t)1 << (k & 63));
}

/* xfer.c */
int xf_peer_find(const art_xfer *x, const void *key);
/* 0: the peer never announced id; 1: some of it; 2: all of it. */
int xf_peer_has(const struct xf_peer *p, const uint8_t id[ART_ID_LEN]);
/* Index of chunk id in f->c, or -1. */
long xf_chunk_find(const struct xf_fetch *f, const uint8_t *id);
void xf_have_put(struct xf_peer *p, const uint8_t id[ART_ID_LEN], int full);
void xf_have_drop(struct xf_peer *p, const uint8_t id[ART_ID_LEN]);
/* Peer slot pi is no longer believed to hold chunk k of fetch fi. */
void xf_avail_drop(art_xfer *x, int pi, int fi, size_t k);
/* Chunk k of fetch fi, in flight, goes back to wanted. */
void xf_release(art_xfer *x, int fi, size_t k);
/* The fetch is done (err IOLM_OK, announced) or failed: its table is freed, on_done
 * called. */
void xf_fetch_finish(art_xfer *x, int fi, int err);
/* Load the fetch's manifest from the store when it is there (xfer.c). */
int xf_fetch_load(art_xfer *x, int fi) IOLM_WUR;
/* Chunk id of fetch fi was stored: it joins the next partial ArtHave (sent now when
 * ART_XFER_MAX_HAVE_IDS are waiting). */
void xf_fresh_add(art_xfer *x, int fi, const uint8_t id[ART_ID_LEN]);

/* Peer slot pi delivered len bytes of a chunk requested from it at sent_ms. */
static inline void xf_delivered(art_xfer *x, int pi, size_t len, uint64_t sent_ms)
{
	struct xf_peer *p = &x->p[pi];
	uint64_t rtt = x->now > sent_ms ? x->now - sent_ms : 0;
	p->rx_bytes += len;
	p->srtt = p->srtt ? (7 * p->srtt + rtt) / 8 : rtt;
}

/* xfer_sched.c */
/* Ask for manifests and top up every peer's window, for every running fetch. */
void xf_schedule(art_xfer *x);
/* Requests unanswered for timeout_ms go back to wanted. */
void xf_expire(art_xfer *x);
/* Sample peer slot pi's delivery rate when a period has passed; probe its window. */
void xf_rate_sample(art_xfer *x, int pi);

/* xfer_recv.c */
/* ArtBlock{A, manifest} for fetch fi in its manifest phase, from peer slot pi. */
void xf_on_manifest(art_xfer *x, int pi, int fi, const uint8_t *data, size_t len);
/* ArtBlock for a chunk from peer slot pi: handed to the verifier when wanted. */
void xf_on_chunk(art_xfer *x, int pi, const uint8_t *id, const uint8_t *data, size_t len);
/* Act on what the verifier has finished. */
void xf_drain(art_xfer *x);

/* xfer_serve.c */
/* Serve queued wants, one per peer per round, while the buckets allow. */
void xf_serve(art_xfer *x);

#endif
