/* The node's HTTP/JSON RPC (see rpc.h and docs/rpc.md).
 *
 * One evhttp server on the node's event_base. Every request goes through rpc_handle():
 * it caps the URI, finds the route by path (404 when none, 405 when the path exists
 * under another method), counts the request for /metrics and calls the handler. A
 * handler answers with a JSON value or an iolm error code; the code becomes the error
 * object of rpc.h and an HTTP status (http_status()). Reads go straight to the ledger
 * (each an LMDB read transaction of its own) and the mempool, on the loop thread.
 *
 * Limits: the request line and headers together at most RPC_MAX_HEADERS bytes and the
 * URI at most RPC_MAX_URI (414 past it), bodies at most NODE_RPC_MAX_BODY (evhttp answers
 * 413 itself when a declared or chunked body passes it), an idle or slow connection is
 * dropped after RPC_TIMEOUT_S. */
#include "node/rpc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>
#include <sodium.h>

#include "core/addr.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/log.h"
#include "node/rpc_int.h"
#include "node/rpc_json.h"

#define RPC_MAX_URI 2048u
#define RPC_MAX_HEADERS 8192u
#define RPC_TIMEOUT_S 30
#define RPC_MAX_METRICS (4u * 1024 * 1024)
#define RPC_MAX_ARG 128u /* longest path argument: a height, an id or an address */

static const char *const ep_names[EP__COUNT] = {
	"status", "block", "tx", "submit_tx", "account", "validators", "mempool", "peers",
	"metrics", "task", "work", "rewards", "shares", "artifact_fetch", "artifact", "history",
	"tasks", "artifacts", "artifact_admin", "other",
};

/* ---------------------------------------------------------------- replies */

static int http_status(int err)
{
	switch (err) {
	case IOLM_ENOTFOUND:
	case IOLM_ERPC_ROUTE:
	case IOLM_EART_NOFETCH:
	case IOLM_EART_MISSING:
	case IOLM_ELEDGER_NOHISTORY:
		return HTTP_NOTFOUND;
	case IOLM_ERPC_METHOD:
		return 405;
	case IOLM_ERPC_AUTH:
		return 401;
	case IOLM_ERPC_TOOBIG:
	case IOLM_ETOOBIG:
		return 413;
	case IOLM_EART_PINNED:
		return 409;
	case IOLM_ERPC_RANGE:
		return 416;
	case IOLM_EMEMPOOL_FULL:
	case IOLM_ESTATE:
	case IOLM_EART_BUSY:
	case IOLM_EART_JOB:
	case IOLM_EART_STOPPED:
	case IOLM_ERPC_BUSY:
	case IOLM_ERPC_DOWNLOADS:
		return HTTP_SERVUNAVAIL;
	case IOLM_ENOMEM:
	case IOLM_EIO:
	case IOLM_ECORRUPT:
	case IOLM_ECRYPTO:
	case IOLM_ELEDGER_LMDB:
	case IOLM_ELEDGER_MAPFULL:
		return HTTP_INTERNAL;
	default:
		return HTTP_BADREQUEST;
	}
}

static const char *http_reason(int code)
{
	switch (code) {
	case HTTP_OK: return "OK";
	case HTTP_BADREQUEST: return "Bad Request";
	case 401: return "Unauthorized";
	case HTTP_NOTFOUND: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 416: return "Range Not Satisfiable";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case HTTP_SERVUNAVAIL: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void send_body(struct evhttp_request *req, int code, const char *ctype, const char *s,
		      size_t n)
{
	struct evbuffer *out = evbuffer_new();
	if (!out || evbuffer_add(out, s, n) != 0) {
		evbuffer_free(out);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_send_reply(req, code, http_reason(code), out);
	evbuffer_free(out);
}

/* Send v (consumed) with status code. */
static void send_json(struct evhttp_request *req, int code, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (!s) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	send_body(req, code, "application/json", s, strlen(s));
	free(s);
}

/* The error object of rpc.h with http (0: the status that fits err). */
static void send_error(struct evhttp_request *req, int http, int err)
{
	json_t *o = json_object(), *e = json_object();
	int jerr = 0;
	if (!o || !e) {
		json_decref(o);
		json_decref(e);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	rpc_json_put(&jerr, e, "code", json_integer(err));
	rpc_json_put(&jerr, e, "name", json_string(iolm_errname(err)));
	rpc_json_put(&jerr, e, "message", json_string(iolm_strerror(err)));
	rpc_json_put(&jerr, o, "error", e);
	if (err == IOLM_ERPC_AUTH)
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"iolm\"");
	send_json(req, http ? http : http_status(err), jerr ? NULL : o);
	if (jerr)
		json_decref(o);
}

void rpc_answer(struct evhttp_request *req, int err, json_t *reply)
{
	if (err) {
		json_decref(reply);
		send_error(req, 0, err);
	} else {
		send_json(req, HTTP_OK, reply);
	}
}

/* ---------------------------------------------------------------- POST /tx */

static int authorized(const node_rpc *r, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	size_t n;
	if (!h || r->cookie_len == 0 || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	for (h += 7; *h == ' '; h++)
		;
	n = strnlen(h, RPC_MAX_COOKIE + 1);
	/* The length is not secret (it is fixed by the cookie format); the bytes are. */
	return n == r->cookie_len && sodium_memcmp(h, r->cookie, n) == 0;
}

int rpc_authorized(const node_rpc *r, struct evhttp_request *req)
{
	return authorized(r, req);
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The answer to an admitted transaction: {"id": hex}. */
static int submitted(json_t **reply, const uint8_t id[32])
{
	json_t *o = NULL;
	int err = rpc_new_object(&o);
	if (err)
		return err;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* POST /tx through submit_tx_start: the answer waits in a pending slot. The request
 * stays valid until it is answered, even when its client leaves meanwhile: evhttp then
 * detaches it from the connection instead of freeing it, and answering it frees it. */
static int submit_start(node_rpc *r, struct evhttp_request *req, const uint8_t *tx,
			size_t len)
{
	if (!r->n_pend_free)
		return IOLM_ERPC_BUSY;
	uint32_t slot = r->pend_free[r->n_pend_free - 1];
	struct rpc_pending *p = &r->pend[slot];
	uint32_t gen = ++r->pend_gen ? r->pend_gen : ++r->pend_gen; /* never 0 */
	int err = r->be.submit_tx_start(r->be.ctx, tx, len, (uint64_t)gen << 32 | slot);
	if (err)
		return err;
	r->n_pend_free--;
	p->gen = gen;
	p->req = req;
	return IOLM_OK;
}

void node_rpc_submit_done(node_rpc *r, uint64_t token, int err, const uint8_t id[32])
{
	uint32_t slot = (uint32_t)token, gen = (uint32_t)(token >> 32);
	json_t *reply = NULL;
	if (!r->pend || slot >= RPC_MAX_PENDING || !r->pend[slot].req ||
	    r->pend[slot].gen != gen)
		return;
	struct rpc_pending *p = &r->pend[slot];
	struct evhttp_request *req = p->req;
	memset(p, 0, sizeof *p);
	r->pend_free[r->n_pend_free++] = slot;
	if (!err)
		err = submitted(&reply, id);
	if (err)
		send_error(req, 0, err);
	else
		send_json(req, HTTP_OK, reply);
}

static int h_submit(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
					       "Content-Type");
	size_t n = evbuffer_get_length(in), txlen = 0, lo = 0;
	const uint8_t *body, *tx;
	uint8_t *dec = NULL, id[32];
	int err;

	if (!authorized(r, req))
		return IOLM_ERPC_AUTH;
	if (n > NODE_RPC_MAX_BODY)
		return IOLM_ERPC_TOOBIG;
	if (n == 0)
		return IOLM_ERPC_BADBODY;
	body = evbuffer_pullup(in, (ev_ssize_t)n);
	if (!body)
		return IOLM_ENOMEM;
	if (ctype && strncasecmp(ctype, "application/octet-stream", 24) == 0) {
		tx = body;
		txlen = n;
	} else {
		/* hex, with surrounding white space allowed (curl --data, echo) */
		while (lo < n && is_space(body[lo]))
			lo++;
		while (n > lo && is_space(body[n - 1]))
			n--;
		if (n == lo)
			return IOLM_ERPC_BADBODY;
		dec = malloc((n - lo) / 2 + 1);
		if (!dec)
			return IOLM_ENOMEM;
		err = iolm_hex_decode(dec, IOLM_MAX_TX_BYTES < (n - lo) / 2 + 1 ? IOLM_MAX_TX_BYTES
									 : (n - lo) / 2 + 1,
				      &txlen, (const char *)body + lo, n - lo);
		if (err)
			goto out;
		tx = dec;
	}
	if (r->be.submit_tx_start)
		err = submit_start(r, req, tx, txlen); /* answered by node_rpc_submit_done */
	else if (!(err = r->be.submit_tx(r->be.ctx, tx, txlen, id)))
		err = submitted(reply, id);
out:
	free(dec);
	return err;
}

/* ---------------------------------------------------------------- GET /metrics */

/* One gauge or counter with its HELP and TYPE lines. */
static int metric(iolm_buf *b, const char *name, const char *type, const char *help,
		  uint64_t v)
{
	return iolm_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
			       type, name, (unsigned long long)v);
}

static int metrics_commit(node_rpc *r, iolm_buf *b)
{
	static const char *const part[4] = { "total", "exec", "root", "write" };
	ledger_commit_stats cs;
	uint64_t ns[4];
	int err;
	ledger_get_commit_stats(r->be.ledger, &cs);
	ns[0] = cs.total_ns;
	ns[1] = cs.exec_ns;
	ns[2] = cs.root_ns;
	ns[3] = cs.write_ns;
	err = iolm_buf_append_str(b, "# HELP iolm_block_commit_seconds Time the last block commit "
				     "took, in total and by part (exec, root, write).\n"
				     "# TYPE iolm_block_commit_seconds gauge\n");
	for (int i = 0; i < 4 && !err; i++)
		err = iolm_buf_printf(b, "iolm_block_commit_seconds{part=\"%s\"} %llu.%09llu\n",
				      part[i], (unsigned long long)(ns[i] / 1000000000u),
				      (unsigned long long)(ns[i] % 1000000000u));
	if (!err)
		err = metric(b, "iolm_block_commit_txs", "gauge",
			     "Transactions in the last committed block.", cs.txs);
	return err;
}

static int metrics_rpc(node_rpc *r, iolm_buf *b)
{
	int err = iolm_buf_append_str(b, "# HELP iolm_rpc_requests_total RPC requests by "
					 "endpoint.\n# TYPE iolm_rpc_requests_total counter\n");
	for (int i = 0; i < EP__COUNT && !err; i++)
		err = iolm_buf_printf(b, "iolm_rpc_requests_total{endpoint=\"%s\"} %llu\n",
				      ep_names[i], (unsigned long long)r->requests[i]);
	if (!err)
		err = metric(b, "iolm_rpc_public_downloads", "gauge",
			     "Artifact content replies without the cookie under way "
			     "(rpc_public_downloads bounds them).", r->public_now);
	if (!err)
		err = metric(b, "iolm_rpc_public_downloads_refused_total", "counter",
			     "Content requests without the cookie refused: the bound was reached.",
			     r->public_refused);
	return err;
}

static int metrics_p2p(node_rpc *r, iolm_buf *b)
{
	node_p2p_stats s;
	int err;
	if (!r->be.p2p)
		return IOLM_OK;
	memset(&s, 0, sizeof s);
	node_p2p_get_stats(r->be.p2p, &s);
	err = iolm_buf_printf(b, "# HELP iolm_p2p_frames_total P2P frames by direction.\n"
				 "# TYPE iolm_p2p_frames_total counter\n"
				 "iolm_p2p_frames_total{dir=\"in\"} %llu\n"
				 "iolm_p2p_frames_total{dir=\"out\"} %llu\n"
				 "# HELP iolm_p2p_bytes_total P2P bytes by direction.\n"
				 "# TYPE iolm_p2p_bytes_total counter\n"
				 "iolm_p2p_bytes_total{dir=\"in\"} %llu\n"
				 "iolm_p2p_bytes_total{dir=\"out\"} %llu\n",
			      (unsigned long long)s.frames_in, (unsigned long long)s.frames_out,
			      (unsigned long long)s.bytes_in, (unsigned long long)s.bytes_out);
	if (!err)
		err = metric(b, "iolm_p2p_dup_dropped_total", "counter",
			     "Gossip frames dropped as already seen.", s.dup_dropped);
	if (!err)
		err = metric(b, "iolm_p2p_bad_frames_total", "counter",
			     "Frames that failed authentication or decoding.", s.bad_frames);
	if (!err)
		err = metric(b, "iolm_p2p_bans_total", "counter", "Peers banned.", s.bans);
	if (!err)
		err = metric(b, "iolm_p2p_handshakes_failed_total", "counter",
			     "P2P handshakes that failed.", s.handshakes_failed);
	return err;
}

static int h_metrics(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	node_status st;
	iolm_buf b;
	int err;
	memset(&st, 0, sizeof st);
	r->be.get_status(r->be.ctx, &st);
	iolm_buf_init(&b, RPC_MAX_METRICS);
	err = metric(&b, "iolm_height", "gauge", "Height of the last committed block.", st.height);
	if (!err)
		err = metric(&b, "iolm_consensus_round", "gauge",
			     "Round consensus is in at the height it works on.", st.cons_round);
	if (!err)
		err = metric(&b, "iolm_consensus_height", "gauge",
			     "Height consensus works on.", st.cons_height);
	if (!err)
		err = metric(&b, "iolm_peers", "gauge", "Connected peers.", st.peers);
	if (!err)
		err = metric(&b, "iolm_mempool_txs", "gauge", "Pending transactions.",
			     ledger_mempool_count(r->be.mempool));
	if (!err)
		err = metric(&b, "iolm_mempool_bytes", "gauge",
			     "Encoded bytes of the pending transactions.",
			     ledger_mempool_bytes(r->be.mempool));
	if (!err)
		err = metric(&b, "iolm_syncing", "gauge", "1 while catching up with peers.",
			     st.syncing ? 1 : 0);
	if (!err)
		err = metric(&b, "iolm_sync_target_height", "gauge",
			     "Best height seen at peers.", st.sync_target);
	if (!err)
		err = metrics_commit(r, &b);
	if (!err)
		err = metrics_rpc(r, &b);
	if (!err)
		err = metrics_p2p(r, &b);
	if (!err && r->be.write_metrics) {
		r->be.write_metrics(r->be.ctx, &b);
		err = b.len < b.limit ? IOLM_OK : IOLM_ETOOBIG;
	}
	if (!err) {
		send_body(req, HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			  b.data ? (const char *)b.data : "", b.len);
		*reply = NULL;
	}
	iolm_buf_release(&b, 0);
	return err;
}

/* ---------------------------------------------------------------- routing */

enum rpc_arg {
	ARG_NONE,    /* the exact path */
	ARG_ONE,     /* prefix, then one segment */
	ARG_REST,    /* prefix, then one or more segments (the handler splits them) */
};

static const struct rpc_route {
	const char *path; /* exact path, or with an argument the prefix before it */
	enum rpc_arg takes_arg;
	enum evhttp_cmd_type method;
	enum rpc_ep ep;
	rpc_handler fn;
} routes[] = {
	{ "/status", ARG_NONE, EVHTTP_REQ_GET, EP_STATUS, rpc_h_status },
	{ "/block/", ARG_ONE, EVHTTP_REQ_GET, EP_BLOCK, rpc_h_block },
	{ "/tx/", ARG_ONE, EVHTTP_REQ_GET, EP_TX, rpc_h_tx },
	{ "/tx", ARG_NONE, EVHTTP_REQ_POST, EP_SUBMIT, h_submit },
	{ "/account/", ARG_ONE, EVHTTP_REQ_GET, EP_ACCOUNT, rpc_h_account },
	{ "/validators", ARG_NONE, EVHTTP_REQ_GET, EP_VALIDATORS, rpc_h_validators },
	{ "/mempool", ARG_NONE, EVHTTP_REQ_GET, EP_MEMPOOL, rpc_h_mempool },
	{ "/peers", ARG_NONE, EVHTTP_REQ_GET, EP_PEERS, rpc_h_peers },
	{ "/metrics", ARG_NONE, EVHTTP_REQ_GET, EP_METRICS, h_metrics },
	{ "/task/", ARG_REST, EVHTTP_REQ_GET, EP_TASK, rpc_h_task },
	{ "/work/", ARG_ONE, EVHTTP_REQ_GET, EP_WORK, rpc_h_work },
	{ "/rewards/", ARG_ONE, EVHTTP_REQ_GET, EP_REWARDS, rpc_h_rewards },
	{ "/shares/", ARG_REST, EVHTTP_REQ_GET, EP_SHARES, rpc_h_shares },
	{ "/artifact/fetch/", ARG_ONE, EVHTTP_REQ_POST, EP_ART_FETCH, rpc_h_art_fetch },
	{ "/artifact/pin/", ARG_ONE, EVHTTP_REQ_POST, EP_ART_ADMIN, rpc_h_art_pin },
	{ "/artifact/unpin/", ARG_ONE, EVHTTP_REQ_POST, EP_ART_ADMIN, rpc_h_art_unpin },
	{ "/artifact/add", ARG_NONE, EVHTTP_REQ_POST, EP_ART_ADMIN, rpc_h_art_add },
	{ "/artifact/gc", ARG_NONE, EVHTTP_REQ_POST, EP_ART_ADMIN, rpc_h_art_gc },
	{ "/artifact/remove/", ARG_ONE, EVHTTP_REQ_POST, EP_ART_ADMIN, rpc_h_art_remove },
	{ "/artifacts", ARG_NONE, EVHTTP_REQ_GET, EP_ARTIFACTS, rpc_h_artifacts },
	{ "/artifact/", ARG_REST, EVHTTP_REQ_GET, EP_ART, rpc_h_art },
	{ "/history/", ARG_ONE, EVHTTP_REQ_GET, EP_HISTORY, rpc_h_history },
	{ "/tasks", ARG_NONE, EVHTTP_REQ_GET, EP_TASKS, rpc_h_tasks },
};

/* Whether path names route t; *arg receives the argument of a route that takes one. */
static int route_matches(const struct rpc_route *t, const char *path, const char **arg)
{
	size_t n = strlen(t->path);
	if (t->takes_arg == ARG_NONE)
		return strcmp(path, t->path) == 0;
	if (strncmp(path, t->path, n) != 0 || path[n] == '\0' ||
	    (t->takes_arg == ARG_ONE && strchr(path + n, '/')))
		return 0;
	*arg = path + n;
	return 1;
}

/* A read naming a task or work that does not exist is answered 404; the same codes from
 * POST /tx name a rule the transaction broke (400). */
static int missing_object(enum evhttp_cmd_type method, int err)
{
	return method == EVHTTP_REQ_GET &&
	       (err == IOLM_ELEDGER_NOTASK || err == IOLM_ELEDGER_NOWORK);
}

static void rpc_handle(struct evhttp_request *req, void *ctx)
{
	node_rpc *r = ctx;
	const char *uri = evhttp_request_get_uri(req), *path = NULL, *arg = "";
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct rpc_route *found = NULL, *other = NULL;
	json_t *reply = NULL;
	int err;

	if (!uri || strnlen(uri, RPC_MAX_URI + 1) > RPC_MAX_URI) {
		r->requests[EP_OTHER]++;
		send_error(req, 414, IOLM_ERPC_TOOBIG);
		return;
	}
	if (u)
		path = evhttp_uri_get_path(u);
	for (size_t i = 0; path && i < sizeof routes / sizeof routes[0]; i++) {
		const char *a = "";
		if (!route_matches(&routes[i], path, &a))
			continue;
		if (routes[i].method == method) {
			found = &routes[i];
			arg = a;
			break;
		}
		other = &routes[i];
	}
	if (!found) {
		r->requests[other ? other->ep : EP_OTHER]++;
		if (other)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
					  other->method == EVHTTP_REQ_GET ? "GET" : "POST");
		send_error(req, 0, other ? IOLM_ERPC_METHOD : IOLM_ERPC_ROUTE);
		return;
	}
	r->requests[found->ep]++;
	if (strlen(arg) > RPC_MAX_ARG) {
		int addr = found->ep == EP_ACCOUNT || found->ep == EP_REWARDS ||
			   found->ep == EP_HISTORY;
		send_error(req, 0, addr ? IOLM_ELENGTH
				   : found->ep == EP_BLOCK ? IOLM_ERPC_BADREF
							   : IOLM_ERPC_BADID);
		return;
	}
	err = found->fn(r, req, arg, &reply);
	if (err) {
		IOLM_DEBUG("rpc", "%s %s: %s", method == EVHTTP_REQ_POST ? "POST" : "GET", path,
			   iolm_errname(err));
		send_error(req, missing_object(method, err) ? HTTP_NOTFOUND : 0, err);
	} else if (reply) {
		send_json(req, HTTP_OK, reply);
	}
}

/* ---------------------------------------------------------------- lifecycle */

static uint16_t bound_port(struct evhttp_bound_socket *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port);
	return 0;
}

int node_rpc_create(node_rpc **out, struct event_base *base, const node_rpc_config *cfg,
		    const node_rpc_backend *backend)
{
	node_rpc *r = NULL;
	struct evhttp_bound_socket *s;
	const char *host;
	int err = IOLM_OK;

	*out = NULL;
	if (!base || !cfg || !backend || !backend->ledger || !backend->mempool ||
	    !backend->submit_tx || !backend->get_status ||
	    (cfg->cookie && strlen(cfg->cookie) > RPC_MAX_COOKIE))
		return IOLM_EINVAL;
	host = cfg->host ? cfg->host : "127.0.0.1";
	r = calloc(1, sizeof *r);
	if (!r)
		return IOLM_ENOMEM;
	r->base = base;
	r->be = *backend;
	if (backend->submit_tx_start) {
		r->pend = calloc(RPC_MAX_PENDING, sizeof *r->pend);
		r->pend_free = malloc(RPC_MAX_PENDING * sizeof *r->pend_free);
		if (!r->pend || !r->pend_free) {
			err = IOLM_ENOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < RPC_MAX_PENDING; i++)
			r->pend_free[i] = RPC_MAX_PENDING - 1 - i;
		r->n_pend_free = RPC_MAX_PENDING;
	}
	if (cfg->cookie) {
		r->cookie_len = strlen(cfg->cookie);
		memcpy(r->cookie, cfg->cookie, r->cookie_len);
	}
	r->public_max = cfg->public_downloads;
	r->http = evhttp_new(base);
	if (!r->http) {
		err = IOLM_ENOMEM;
		goto fail;
	}
	evhttp_set_max_headers_size(r->http, RPC_MAX_HEADERS);
	evhttp_set_max_body_size(r->http, NODE_RPC_MAX_BODY);
	evhttp_set_timeout(r->http, RPC_TIMEOUT_S);
	/* Read a too-large body to its end before answering 413, so the client sees the
	 * answer rather than a reset. */
	evhttp_set_flags(r->http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* Let every method reach rpc_handle, which answers 405 with an Allow header. */
	evhttp_set_allowed_methods(r->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(r->http, rpc_handle, r);
	s = evhttp_bind_socket_with_handle(r->http, host, cfg->port);
	if (!s) {
		IOLM_ERROR("rpc", "cannot listen on %s:%u", host, (unsigned)cfg->port);
		err = IOLM_EIO;
		goto fail;
	}
	r->port = bound_port(s);
	IOLM_INFO("rpc", "listening on %s:%u", host, (unsigned)r->port);
	*out = r;
	return IOLM_OK;
fail:
	node_rpc_destroy(r);
	return err;
}

void node_rpc_destroy(node_rpc *r)
{
	if (!r)
		return;
	/* Answer what waits (freeing the requests whose clients left) before the server
	 * goes. */
	rpc_art_finish(r);
	for (uint32_t i = 0; r->pend && i < RPC_MAX_PENDING; i++)
		if (r->pend[i].req)
			node_rpc_submit_done(r, (uint64_t)r->pend[i].gen << 32 | i, IOLM_ERPC_BUSY,
					     NULL);
	if (r->http)
		evhttp_free(r->http);
	sodium_memzero(r->cookie, sizeof r->cookie);
	free(r->pend);
	free(r->pend_free);
	free(r);
}

uint16_t node_rpc_port(const node_rpc *r)
{
	return r->port;
}

/* ---------------------------------------------------------------- cookie */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return IOLM_EIO;
		p += w;
		n -= (size_t)w;
	}
	return IOLM_OK;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = IOLM_OK;
	if (fd < 0)
		return IOLM_EIO;
	if (fsync(fd) != 0)
		err = IOLM_EIO;
	close(fd);
	return err;
}

int node_rpc_cookie_create(const char *dir, char token[static 65])
{
	char path[PATH_MAX], tmp[PATH_MAX];
	uint8_t raw[32];
	int fd = -1, err = IOLM_OK, n1, n2;

	memset(token, 0, 65);
	if (!dir)
		return IOLM_EINVAL;
	n1 = snprintf(path, sizeof path, "%s/rpc.cookie", dir);
	n2 = snprintf(tmp, sizeof tmp, "%s/rpc.cookie.tmp", dir);
	if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof tmp || (size_t)n1 >= sizeof path)
		return IOLM_ETOOBIG;
	if (sodium_init() < 0)
		return IOLM_ECRYPTO;
	randombytes_buf(raw, sizeof raw);
	iolm_hex_encode(token, 65, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	/* Written under a temporary name and renamed: a reader sees the old token or the
	 * new one, never a part. fchmod covers a stale temporary file with looser modes. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 || write_all(fd, token, 64) != IOLM_OK ||
	    fsync(fd) != 0) {
		err = IOLM_EIO;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		err = IOLM_EIO;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0 || fsync_dir(dir) != IOLM_OK) {
		err = IOLM_EIO;
		goto fail;
	}
	return IOLM_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	sodium_memzero(token, 65);
	return err;
}
