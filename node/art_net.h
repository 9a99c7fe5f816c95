/* Artifact transfer on the node: the art_xfer engine (artifacts/xfer.h) over the P2P
 * link (docs/artifacts.md "Transfer").
 *
 * Translates ArtHave / ArtWant / ArtBlock / ArtCancel frames into engine calls and the
 * engine's sends into frames; a frame with a malformed id is penalized
 * (NODE_ART_PTS_MALFORMED) before it reaches the engine. Peers are node_peer pointers.
 * When a peer disconnects while the engine is sending (a send that finds the peer too
 * slow closes it at once), its removal is deferred to the end of that engine call, so
 * the engine never re-enters itself; the node_peer stays allocated until the next turn
 * of the loop, and sends to it answer IOLM_ESTATE meanwhile.
 *
 * Everything runs on the node's event loop thread. */
#ifndef IOLM_NODE_ART_NET_H
#define IOLM_NODE_ART_NET_H

#include <stdint.h>

#include "artifacts/art.h"
#include "artifacts/xfer.h"
#include "core/codec.h"
#include "core/err.h"
#include "node/p2p.h"
#include "node/rpc.h"

#define NODE_ART_PTS_MALFORMED 20u  /* an artifact frame with a malformed id */

struct event_base;
typedef struct node_art_net node_art_net;

/* Create over p2p and store s (both must outlive it). cfg may be NULL: window 16,
 * timeout 10 s, no rate limit. rpc (may be NULL) gets the artifact endpoints
 * (node/rpc_art.c) bound to this object and s, so destroy the rpc first (node_close
 * does). With base (may be NULL), chunks the
 * transfer's workers verified are taken as soon as they are ready (an event on
 * art_xfer_fd); without, at the next tick. *out is NULL on failure. */
int node_art_net_create(node_art_net **out, node_p2p *p2p, art_store *s,
			const art_xfer_config *cfg, node_rpc *rpc,
			struct event_base *base) IOLM_WUR;
/* NULL is a no-op. Chunks stored stay stored: a fetch resumes after a restart. */
void node_art_net_destroy(node_art_net *a);

/* Keep the store's chunks under keep bytes where unpinned artifacts allow it: a thread
 * of its own checks every interval_ms, and at once after node_art_net_gc_wake, and when
 * the chunks hold more than keep bytes and something is collectable (an unpinned
 * artifact, or chunks no artifact references) runs art_store_gc(keep). When all of it is
 * pinned it logs a warning, once until the store is back under keep. Runs until
 * node_art_net_destroy. IOLM_ESTATE when already started. */
int node_art_net_start_gc(node_art_net *a, uint64_t keep, uint64_t interval_ms) IOLM_WUR;
/* Check now (after an unpin). A no-op without the collector. */
void node_art_net_gc_wake(node_art_net *a);

/* The four calls below take a NULL a as "no artifact transfer" (they do nothing, and
 * on_frame returns 0), so the node's callbacks need no test of their own. */
/* Returns 1 when f is an artifact frame (handled, or penalized when malformed), 0 for
 * any other frame. */
int node_art_net_on_frame(node_art_net *a, node_peer *peer, const Iolm__Frame *f);
/* A peer finished its handshake: it gets ArtHave for our complete artifacts. */
void node_art_net_on_connect(node_art_net *a, node_peer *peer);
void node_art_net_on_disconnect(node_art_net *a, node_peer *peer);
/* From the node's tick: rate buckets, timeouts, new requests. */
void node_art_net_tick(node_art_net *a, uint64_t now_ms);

/* Resume the fetches a previous run left unfinished: every artifact of store s whose
 * manifest is stored but not all of whose chunks are (only a fetch stores a manifest
 * before its chunks), at most ART_XFER_MAX_FETCHES of them; the rest resume on request.
 * Returns how many were resumed. Called once at start, after create. */
size_t node_art_net_resume(node_art_net *a, art_store *s);
/* Start (or resume) fetching artifact id, pinned; see art_xfer_fetch. */
int node_art_net_fetch(node_art_net *a, const uint8_t id[ART_ID_LEN]) IOLM_WUR;
/* The store gained artifact id whole (added here, not fetched): ArtHave to every peer.
 * NULL a: a no-op. */
void node_art_net_announce(node_art_net *a, const uint8_t id[ART_ID_LEN]);
/* Progress of a fetch started since the node started; IOLM_EART_NOFETCH otherwise. */
int node_art_net_progress(node_art_net *a, art_xfer_progress *out,
			  const uint8_t id[ART_ID_LEN]) IOLM_WUR;
void node_art_net_get_stats(const node_art_net *a, art_xfer_stats *out);

/* node/rpc_art.c: bind the artifact endpoints of rpc to these operations (NULL fetch:
 * the endpoints answer 404). Called by node_art_net_create. */
typedef struct node_rpc_art_ops {
	int (*fetch)(void *ctx, const uint8_t id[ART_ID_LEN]);
	int (*progress)(void *ctx, art_xfer_progress *out, const uint8_t id[ART_ID_LEN]);
	/* Optional: the transfer's view of a connected peer (GET /peers). */
	int (*peer_info)(void *ctx, const node_peer *peer, art_xfer_peer_info *out);
	/* Optional: the store gained artifact id whole (POST /artifact/add): tell the peers. */
	void (*announce)(void *ctx, const uint8_t id[ART_ID_LEN]);
	/* Optional: an artifact was unpinned (POST /artifact/unpin): space may be freed. */
	void (*unpinned)(void *ctx);
	/* The store behind GET /artifacts, /artifact/{id}/manifest and /content and POST
	 * /artifact/add, /pin, /unpin and /gc; NULL: those answer 404. Used on the loop and,
	 * for add and gc, on one worker thread (art_store is thread-safe). */
	art_store *store;
	void *ctx;
} node_rpc_art_ops;

void node_rpc_set_art(node_rpc *r, const node_rpc_art_ops *ops);

#endif
