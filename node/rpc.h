/* The node's HTTP/JSON RPC and Prometheus metrics (libevent evhttp + jansson).
 *
 * Bound to 127.0.0.1 by default. Endpoints (docs/rpc.md):
 *   GET  /status                  chain, head, consensus round/step, peers, mempool, sync
 *   GET  /block/{height|id-hex}   the block, decoded, with its certificate; every signed
 *                                 object also as its exact bytes in hex
 *   GET  /tx/{id-hex}             where a transaction is, its receipt, its bytes
 *   GET  /account/{address}       balance, nonce, and a state proof against the head's
 *                                 state root (with the header it is in)
 *   GET  /validators              the validator set
 *   GET  /mempool                 pending count, bytes, and ids in block order
 *   GET  /peers                   connected peers
 *   GET  /task/{id}               a task: state, parameters (and their bytes), proof
 *   GET  /task/{id}/best          its best model (work) so far
 *   GET  /task/{id}/shares        its profit shares along the best lineage, with proofs
 *   GET  /work/{id}               a work: state, commitment, attestations, lineage, proof
 *   GET  /rewards/{address}       an account's reward totals, with proof
 *   GET  /shares/{task}/{address} one account's share of a task, with proof
 *   GET  /tasks?limit&offset      every task in brief, newest first
 *   GET  /history/{address}?limit&before&before_seq&kind
 *                                 an account's history, newest first, and its totals
 *   POST /artifact/fetch/{id}     start (or resume) fetching an artifact from peers
 *   GET  /artifact/{id}           progress of that fetch
 *   POST /tx                      body: the hex of an encoded Tx (or raw bytes with
 *                                 Content-Type: application/octet-stream); answers the id
 *                                 or an error naming the rule that failed
 *   GET  /metrics                 Prometheus text format
 * Write and admin calls (POST /tx) need "Authorization: Bearer <cookie>", the token the
 * node writes to <datadir>/rpc.cookie (mode 0600) at start.
 * Errors are {"error": {"code": -106, "name": "IOLM_ELEDGER_BALANCE", "message": "..."}}
 * with an HTTP status that fits (400, 401, 404, 405, 413, 414, 500, 503); the one
 * exception is a body past NODE_RPC_MAX_BODY, which evhttp refuses with 413 before the
 * request reaches us (plain HTML body). Request bodies, the request line, headers and
 * URIs are capped; hashes, keys and bytes are hex, account ids bech32m addresses.
 * Runs on the node's event_base thread; reads the ledger (its own read transactions)
 * and the mempool synchronously there. Implementation: node/rpc.c (transport, routing,
 * POST /tx, /metrics, cookie), node/rpc_query.c (reads), node/rpc_json.c (rendering). */
#ifndef IOLM_NODE_RPC_H
#define IOLM_NODE_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/buf.h"
#include "core/err.h"
#include "ledger/ledger.h"
#include "ledger/mempool.h"
#include "node/p2p.h"

#define NODE_RPC_MAX_BODY (256u * 1024)

typedef struct node_rpc node_rpc;

/* What /status reports; filled by the node. */
typedef struct node_status {
	char chain_id[LEDGER_MAX_CHAIN_ID + 1];
	uint8_t node_key[32];
	int validator_index;         /* -1: not a validator */
	uint64_t height;             /* committed */
	uint8_t block_id[32];
	uint64_t block_time_ms;
	uint8_t state_root[32];
	uint64_t cons_height;        /* height consensus works on */
	uint32_t cons_round;
	int cons_step;               /* enum cons_step */
	size_t peers;
	size_t mempool_txs, mempool_bytes;
	int syncing;                 /* 1 while catching up */
	uint64_t sync_target;        /* best height seen at peers */
	uint64_t started_ms;
} node_status;

typedef struct node_rpc_backend {
	ledger *ledger;
	ledger_mempool *mempool;
	node_p2p *p2p;               /* may be NULL */
	/* Required. Admit a transaction (mempool + gossip): IOLM_OK and its id, or the
	 * iolm error code naming the rule that failed (answered as HTTP 400, or 413 for
	 * IOLM_ETOOBIG, 503 for IOLM_EMEMPOOL_FULL). */
	int (*submit_tx)(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32]);
	/* Optional; when set, POST /tx uses it instead of submit_tx. Start admitting a
	 * transaction (raw valid during the call) whose signature is to be checked off the
	 * loop; the backend finishes it later on the loop with node_rpc_submit_done(token),
	 * exactly once for every IOLM_OK returned here. Any other result is answered at
	 * once, as submit_tx's errors are. */
	int (*submit_tx_start)(void *ctx, const uint8_t *raw, size_t len, uint64_t token);
	/* Required. out is zeroed before the call. */
	void (*get_status)(void *ctx, node_status *out);
	/* Optional (may be NULL). Append the node's own metric lines (Prometheus text, with
	 * their HELP/TYPE lines) to out; an append that fails on out's limit fails the
	 * whole /metrics answer. */
	void (*write_metrics)(void *ctx, iolm_buf *out);
	void *ctx;
} node_rpc_backend;

typedef struct node_rpc_config {
	const char *host;            /* default "127.0.0.1" */
	uint16_t port;               /* 0: pick a free port (see node_rpc_port) */
	const char *cookie;          /* the token write calls must present; copied (at most
				      * 128 characters). NULL: every write call is refused */
	unsigned public_downloads;   /* GET /artifact/{id}/content without the token: at most
				      * this many at once (IOLM_ERPC_DOWNLOADS, 503, beyond);
				      * 0: the token is required (401) */
} node_rpc_config;

/* Listen on cfg->host:cfg->port on base (which must outlive the server). backend is
 * copied; its ledger, mempool and p2p must outlive the server. IOLM_EINVAL for a missing
 * required backend field or an over-long cookie, IOLM_EIO when the address cannot be
 * bound. *out is NULL on failure. */
int node_rpc_create(node_rpc **out, struct event_base *base, const node_rpc_config *cfg,
		    const node_rpc_backend *backend) IOLM_WUR;
/* Close the listener and every open RPC connection, wipe the cookie, free r. NULL is a
 * no-op. */
void node_rpc_destroy(node_rpc *r);
/* Finish the POST /tx that submit_tx_start started with token: answered with err (an
 * iolm code, as submit_tx's) or, for IOLM_OK, the transaction's id (id may be NULL
 * otherwise). When the client has left meanwhile nothing is sent; an unknown or
 * finished token is ignored. On the loop thread. node_rpc_destroy answers every one
 * still waiting with IOLM_ERPC_BUSY. */
void node_rpc_submit_done(node_rpc *r, uint64_t token, int err, const uint8_t id[32]);

/* Why the node keeps artifact id (node/kept.h node_kept_why: "best_model",
 * "pending_work", "data_set", its owner's id into owner), or NULL. */
typedef const char *(*node_rpc_kept_fn)(void *ctx,
					 const uint8_t id[static LEDGER_ARTIFACT_ID_LEN],
					 uint8_t owner[static 32]);
/* GET /artifacts says, for each artifact fn names, why it is kept. */
void node_rpc_set_kept(node_rpc *r, node_rpc_kept_fn fn, void *ctx);

/* The port actually listened on (useful with cfg->port 0). */
uint16_t node_rpc_port(const node_rpc *r);

/* Create (or replace) <dir>/rpc.cookie with a fresh random token (64 hex characters, no
 * newline; mode 0600; written to rpc.cookie.tmp, fsynced and renamed, so a reader sees
 * the old token or the new one, never a part) and write it, NUL-terminated, to
 * token[65]. IOLM_EIO on a file system error, IOLM_ETOOBIG for an over-long dir; token
 * is all zeros on failure. */
int node_rpc_cookie_create(const char *dir, char token[static 65]) IOLM_WUR;

#endif
