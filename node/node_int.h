/* iolmd internals shared by node.c (the loop and consensus), node_net.c (frames from
 * peers, block sync) and node_metrics.c (GET /metrics). */
#ifndef IOLM_NODE_NODE_INT_H
#define IOLM_NODE_NODE_INT_H

#include <event2/event.h>

#include "consensus/cons.h"
#include "consensus/mining.h"
#include "consensus/wal.h"
#include "ledger/ledger.h"
#include "ledger/mempool.h"
#include "node/node.h"
#include "node/p2p.h"
#include "node/rpc.h"
#include "node/art_net.h"
#include "node/kept.h"
#include "node/verifier.h"
#include "node/vpool.h"

#define SYNC_BATCH 128       /* blocks asked for per request */
#define STATUS_EVERY_MS 1000
#define REBROADCAST_EVERY_MS 2000
#define TICK_MS 25

struct node_timeout {
	struct node *n;
	struct event *ev;
	uint64_t height;
	uint32_t round;
	enum cons_step step;
	struct node_timeout *next;
};

struct node_future {
	uint8_t *msg;
	size_t len;
	uint64_t height;
	int is_vote;
};
/* A decided block waiting, with others of a catch-up, for one LMDB commit (node.c). */
struct node_pending {
	uint8_t *block, *cert;
	size_t len, cert_len;
	uint64_t height;
	uint32_t round;
};
#define COMMIT_BATCH 64u       /* synced blocks per LMDB transaction, at most */
#define COMMIT_BATCH_MS 25     /* longest a synced block waits for its batch */

#define FUTURE_MAX_MSGS 256u
#define FUTURE_MAX_BYTES (16u << 20)

struct node {
	const node_config *cfg;
	struct event_base *base;
	struct event *sigint, *sigterm, *tick;
	iolm_key key;
	ledger_genesis *g;
	ledger *l;
	ledger_sigcache *cache;
	ledger_mempool *mp;
	cons_valset *vs;
	cons_engine *eng;
	cons_wal *wal;
	node_p2p *p2p;
	node_rpc *rpc;
	node_vpool *vpool;           /* verifies gossiped transactions off the loop */
	art_store *art;              /* content-addressed artifacts (data sets, checkpoints) */
	node_verifier *verifier;     /* validators: re-executes sampled work */
	node_art_net *artnet;        /* artifact transfer over p2p (node/art_net.c) */
	node_kept *kept;             /* validators: the final checkpoints kept (node/kept.c) */
	uint64_t attest_nonce;       /* next nonce for our own attestations */
	/* Transactions left out of our proposal that no later block can take either (an
	 * attestation for a work decided meanwhile): removed from the mempool after the
	 * build, since left there they would hold back their sender's later ones. */
	struct {
		uint8_t id[32];
		int err;
	} drop[64];
	size_t n_drop;
	uint8_t attest_last[32];     /* id of the last one submitted (zeros: none) */
	int val_index;
	char cookie[65];
	struct node_timeout *timeouts;
	int fatal;                   /* an invariant broke: stop */

	/* proposing: the engine asked for a block at (want_h, want_r) */
	int want_block;
	uint64_t want_h;
	uint32_t want_r;

	/* consensus messages for the height after the engine's, replayed when it gets
	 * there (node_net.c); bounded by FUTURE_MAX_MSGS and FUTURE_MAX_BYTES */
	struct node_future *future;
	size_t n_future, future_bytes; /* oldest first: heights never decrease */

	/* catching up: decided blocks not in the ledger yet, committed together */
	struct node_pending pending[COMMIT_BATCH];
	size_t n_pending;
	struct event *flush_ev;
	int applying_synced;         /* the engine is deciding a block sync delivered */

	/* sync */
	uint64_t best_peer_height;
	uint64_t sync_requested_to;  /* highest height asked for */
	uint64_t sync_last_ms;

	/* timing */
	uint64_t started_ms;
	uint64_t last_status_ms, last_rebroadcast_ms;
	uint64_t last_block_ms;      /* wall time of our head block */

	/* counters for /metrics */
	uint64_t txs_committed, blocks_committed, blocks_synced, txs_rejected;
	uint64_t txs_dropped; /* removed from the mempool after a proposal: final refusals */
	uint64_t last_commit_mono_ns, tx_rate_window_start_ns, tx_rate_window_txs;
	double tx_per_s;
};

/* node.c */
int node_drive(struct node *n);
/* Commit the decided blocks waiting for their batch (node->pending). */
int node_flush_commits(struct node *n);
/* Balance and next nonce from the ledger: the mempool's account callback. */
int node_account(void *ctx, const uint8_t id[static 20], uint64_t *bal, uint64_t *nonce);
void node_block_id(void *ctx, uint8_t id[static CONS_ID_LEN], const uint8_t *block,
		   size_t len);

/* node_net.c */
void node_on_connect(void *ctx, node_peer *peer);
void node_on_disconnect(void *ctx, node_peer *peer);
void node_on_frame(void *ctx, node_peer *peer, const Iolm__Frame *f, const uint8_t *raw,
		   size_t len);
int node_submit_tx(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32]);
/* GET /metrics (node_metrics.c): the node's figures, appended to out. */
void node_write_metrics(void *ctx, iolm_buf *out);
/* A transaction's signature was checked off the loop (node_net.c): token 0, one gossiped
 * by the peer whose key is tag; otherwise one posted to POST /tx, answered here. */
void node_on_verified(void *ctx, const uint8_t *raw, size_t len, const uint8_t tag[32],
		      uint64_t token, int err);
/* POST /tx (rpc.h submit_tx_start): the signature is checked on the verification pool. */
int node_submit_tx_start(void *ctx, const uint8_t *raw, size_t len, uint64_t token);
void node_send_status(struct node *n, node_peer *to);
void node_sync_tick(struct node *n);
int node_broadcast_msg(struct node *n, enum cons_msg_kind kind, const uint8_t *msg, size_t len);
/* Hand the kept messages of the engine's height to it, drop older ones. */
void node_future_replay(struct node *n);
void node_future_clear(struct node *n);

#endif
