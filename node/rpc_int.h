/* Internals of the RPC server shared by node/rpc.c (transport, routing, POST /tx,
 * metrics, cookie), node/rpc_query.c (the read endpoints) and node/rpc_mining.c (tasks,
 * works, rewards, shares). Not a public header. */
#ifndef IOLM_NODE_RPC_INT_H
#define IOLM_NODE_RPC_INT_H

#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "node/art_net.h"
#include "node/rpc.h"

#define RPC_MAX_COOKIE 128u        /* longest cookie token accepted in the config */
#define RPC_MEMPOOL_MAX_IDS 100000u /* /mempool lists at most this many ids */

/* Request counters for /metrics, one per route and one for requests matching none. */
enum rpc_ep {
	EP_STATUS,
	EP_BLOCK,
	EP_TX,
	EP_SUBMIT,
	EP_ACCOUNT,
	EP_VALIDATORS,
	EP_MEMPOOL,
	EP_PEERS,
	EP_METRICS,
	EP_TASK,
	EP_WORK,
	EP_REWARDS,
	EP_SHARES,
	EP_ART_FETCH,
	EP_ART,
	EP_HISTORY,
	EP_TASKS,
	EP_ARTIFACTS,
	EP_ART_ADMIN,
	EP_OTHER,
	EP__COUNT
};

/* POST /tx answers waiting for the backend (submit_tx_start). A slot's token is its
 * generation (high 32 bits, never 0) and index; req is NULL in a free slot. */
#define RPC_MAX_PENDING 4096u
struct rpc_pending {
	struct evhttp_request *req;
	uint32_t gen;
};

struct node_rpc {
	struct event_base *base;
	struct evhttp *http;
	uint16_t port;
	node_rpc_backend be;
	char cookie[RPC_MAX_COOKIE + 1];
	size_t cookie_len; /* 0: write calls are refused */
	uint64_t requests[EP__COUNT];
	node_rpc_art_ops art;         /* node_rpc_set_art(); zero: the endpoints answer 404 */
	struct rpc_pending *pend;     /* RPC_MAX_PENDING slots, with submit_tx_start */
	uint32_t *pend_free;          /* free slot indices, a stack */
	size_t n_pend_free;
	uint32_t pend_gen;
	struct rpc_art_job *job;      /* the POST /artifact/add or /gc running, or NULL */
	node_rpc_kept_fn kept;        /* node_rpc_set_kept(); NULL: no "kept" in GET /artifacts */
	void *kept_ctx;
	unsigned public_max;          /* content replies without the cookie at most at once */
	unsigned public_now;          /* ... and under way */
	uint64_t public_refused;      /* ... and refused for want of a free one */
};

/* A handler answers IOLM_OK with a new JSON value in *reply (which the caller sends and
 * releases), or IOLM_OK with *reply NULL after sending a non-JSON answer itself, or an
 * error code and no reply (the caller sends the error object). arg is the path's last
 * segment for routes that take one (non-empty, no '/', at most RPC_MAX_ARG characters),
 * the rest of the path for routes that take several segments (non-empty, may hold '/',
 * at most RPC_MAX_ARG characters; the handler splits it and answers IOLM_ERPC_ROUTE for
 * a shape it does not serve), "" otherwise. */
typedef int (*rpc_handler)(node_rpc *r, struct evhttp_request *req, const char *arg,
			   json_t **reply);

/* node/rpc_query.c */
int rpc_h_history(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_status(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_block(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_tx(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_account(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_validators(node_rpc *r, struct evhttp_request *req, const char *arg,
		     json_t **reply);
int rpc_h_mempool(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_peers(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);

/* node/rpc_mining.c: arg is "{id}", "{id}/best" or "{id}/shares" for rpc_h_task, and
 * "{task-id}/{address}" for rpc_h_shares. */
int rpc_h_task(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_work(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_rewards(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_shares(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_tasks(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);

/* node/rpc_art.c: arg is the artifact id in hex for fetch, pin and unpin, and "{id}",
 * "{id}/manifest" or "{id}/content" for rpc_h_art. */
int rpc_h_art_fetch(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_artifacts(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art_add(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art_gc(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art_remove(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art_pin(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
int rpc_h_art_unpin(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply);
/* Wait for the add or gc running (if any) and answer it: before the server goes. */
void rpc_art_finish(node_rpc *r);

/* Answer req as rpc_handle would a handler's result: the error object of err, or reply
 * (consumed) with 200 when err is IOLM_OK. For answers sent after the handler returned. */
void rpc_answer(struct evhttp_request *req, int err, json_t *reply);

/* Whether req carries the cookie (node/rpc.c): write calls need it. */
int rpc_authorized(const node_rpc *r, struct evhttp_request *req);

/* A new empty object in *o; IOLM_ENOMEM when none could be made. */
int rpc_new_object(json_t **o) IOLM_WUR;

/* Query string parameters (node/rpc_query.c). Set each name, then rpc_query_parse()
 * points each value at the request's value of that name, or NULL when absent. */
struct rpc_param {
	const char *name;
	const char *value;
};
#define RPC_MAX_PARAMS 8 /* parameters an endpoint takes at most */

/* Parse the query string qs (the part after '?', without it; NULL or "" for none) into
 * p[0..n) (n <= RPC_MAX_PARAMS). q holds the values: the caller releases it with
 * evhttp_clear_headers() once done with them, also on failure. IOLM_ERPC_BADQUERY for a
 * malformed query string, a name that is not in p, or one given twice. */
int rpc_query_parse(struct evkeyvalq *q, struct rpc_param *p, size_t n,
		    const char *qs) IOLM_WUR;
/* req's query string, for rpc_query_parse (NULL when it has none). Valid as long as req. */
const char *rpc_query_string(struct evhttp_request *req);
/* GET /history's query, ?limit=N&before=H&before_seq=S&kind=K (docs/rpc.md), into *q:
 * limit in [1, 1000] (default 100), before_seq only with before, kind a name of
 * ledger_hist_kind_name. IOLM_ERPC_BADQUERY otherwise. (node/rpc_query.c) */
int rpc_history_query_parse(ledger_hist_query *q, const char *qs) IOLM_WUR;
/* The value of p as a decimal number in [min, max] (dflt when p is absent);
 * IOLM_ERPC_BADQUERY otherwise. */
int rpc_query_u64(uint64_t *out, const struct rpc_param *p, uint64_t dflt, uint64_t min,
		  uint64_t max) IOLM_WUR;

#endif
