/* bench_net: a 4-validator devnet on loopback, measured from outside through the RPC,
 * as a client sees it.
 *
 *   committed_tx_per_s     M pre-signed transfers (20,000; 2,000 with --quick; ten nonces
 *                          per account) posted as fast as the nodes take them, SLOTS
 *                          requests in flight per node, timed from the first POST /tx until
 *                          node0's iolm_committed_txs_total covers them all; limit: online
 *                          cores x Schnorr verify/s on one core, measured in the same run,
 *                          / 4 validators (each validator checks each signature once, and
 *                          the four share the machine); goal ratio >= 0.4
 *   commit_latency_p50_ms  100 transfers/s for 10 s (3 s with --quick), every one timed
 *   commit_latency_p99_ms  from its POST /tx answer until GET /tx/{id} on the same node,
 *                          polled every 5 ms, says "committed"; limits: the goals, as
 *                          constants (goal_ms 100 and 500)
 *   rss_mb_per_node        VmRSS of the four iolmd processes after the two phases above:
 *   rss_mb_per_node_mean   the largest, and the mean (no limit)
 *   sync_blocks_per_s      node3 stopped with SIGTERM while the others commit >= 500 blocks
 *                          (100 with --quick) under a light load; then restarted, and blocks
 *                          per second from its first RPC answer until its height reaches
 *                          node0's; limit: the goal, as a constant (goal_blocks_per_s 500)
 *
 * The testnet (bench/devnet_util.h) lives in a fresh folder under DIR (bench_net-XXXXXX,
 * removed at the end): node0..node3 with keys, configuration and a genesis that funds the
 * load's accounts directly, on free loopback ports. The nodes run as child processes
 * (`iolmd start`), logging to DIR/bench_net-XXXXXX/nodeI.log; they are killed whenever this
 * program ends, also on an error or a signal, and die with it even after a SIGKILL
 * (PR_SET_PDEATHSIG). On a failure the tail of each node's log goes to stderr.
 *
 * The nodes run with the default configuration (`iolmd testnet`'s) for the throughput and
 * latency phases. For the sync phase all four are stopped with SIGTERM and node0..node2
 * restarted with short consensus timeouts (FAST_* below): a stopped validator is the
 * proposer at one height in four, and with the default 2 s propose timeout (plus the
 * precommit wait) making 500 blocks without it would take five minutes. Block sync itself
 * does not depend on them. RSS is read before that restart, after the heavy load.
 *
 * Usage: bench_net [--quick] [--dir DIR] [--iolmd PATH] [--keep]
 * Progress goes to stderr, the figures (bench_util.h) to stdout. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "bench_util.h"
#include "devnet_util.h"
#include "core/addr.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/ledger.h"

#ifndef IOLM_IOLMD_PATH
#define IOLM_IOLMD_PATH "iolmd"
#endif

#define NV DEVNET_NV           /* validators */
/* Load requests in flight per node. POST /tx is answered after the signature check on
 * the node's verification pool, a thread hop away, so a client needs this many in flight
 * for the node, not the client's round trips, to set the pace (16 left the nodes idle
 * between answers on a 2-core machine: 0.37-0.39 of the limit against 0.46-0.47). */
#define SLOTS 64
#define CHAIN "iolm-bench-net"
#define NONCES_PER_ACCOUNT 10 /* in the throughput phase */
#define LAT_RATE 100          /* tx/s in the latency phase */
#define SYNC_RATE 200         /* tx/s of light load while node3 is down */
#define POLL_S 0.005          /* GET /tx/{id} period per pending transaction */
#define HTTP_TIMEOUT_S 10

/* Consensus timeouts for the sync phase; the proposer's wait (heartbeat) stays below the
 * others' propose timeout, as docs/operator.md asks. */
#define FAST_HEARTBEAT_MS 25
#define FAST_PROPOSE_MS 60
#define FAST_PROPOSE_DELTA_MS 50
#define FAST_VOTE_MS 40
#define FAST_VOTE_DELTA_MS 40

#define GOAL_P50_MS 100.0
#define GOAL_P99_MS 500.0
#define GOAL_SYNC_BLOCKS_PER_S 500.0

typedef void (*reply_fn)(void *arg, int status, const uint8_t *body, size_t len);

/* One HTTP connection with at most one request in flight (evhttp queues requests per
 * connection, so concurrency comes from several connections). */
struct slot {
	struct bnode *node;
	struct evhttp_connection *conn;
	int busy;
	reply_fn fn;
	void *arg;
};

struct bnode {
	devnet_node *d;             /* the process, its ports and cookie */
	struct slot load[SLOTS];
	struct slot ctl;            /* control calls: status, metrics, blocking helpers */
};

static struct {
	devnet net;                 /* the testnet: folder, processes */
	struct bnode nodes[NV];
	struct event_base *base;
	struct event *tick;         /* keeps EVLOOP_ONCE returning at least every 5 ms */
	size_t n_acc;
	iolm_key *keys;
	uint8_t (*ids)[IOLM_ADDR_LEN];
	uint64_t *nonces;           /* next nonce per account */
} B;

/* Messages and fatal errors (devnet_util.h): "bench_net: ..." on stderr; die() exits
 * through the clean-up that kills the nodes. */
#define die devnet_die
#define progress devnet_progress

/* ---------------------------------------------------------------- HTTP client */

static void on_reply(struct evhttp_request *req, void *arg)
{
	struct slot *s = arg;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	const uint8_t *body = NULL;
	size_t len = 0;
	if (req && status) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		body = len ? evbuffer_pullup(in, -1) : NULL;
	}
	s->busy = 0;
	s->fn(s->arg, status, body, len);
}

/* Send a request on a free slot; fn(arg, ...) runs from the event loop with the answer
 * (status 0: no answer). The body is copied. */
static int slot_send(struct slot *s, enum evhttp_cmd_type cmd, const char *path, const void *body,
		     size_t len, reply_fn fn, void *arg)
{
	char auth[128], host[64];
	assert(!s->busy);
	struct evhttp_request *req = evhttp_request_new(on_reply, s);
	if (!req)
		return IOLM_ENOMEM;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	snprintf(host, sizeof host, "127.0.0.1:%u", s->node->d->rpc_port);
	evhttp_add_header(h, "Host", host);
	if (body) {
		snprintf(auth, sizeof auth, "Bearer %s", s->node->d->token);
		evhttp_add_header(h, "Authorization", auth);
		evhttp_add_header(h, "Content-Type", "text/plain");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	}
	s->fn = fn;
	s->arg = arg;
	s->busy = 1;
	if (evhttp_make_request(s->conn, req, cmd, path) != 0) {
		s->busy = 0; /* libevent freed req */
		return IOLM_EIO;
	}
	return IOLM_OK;
}

static struct slot *free_slot(struct bnode *n)
{
	for (int i = 0; i < SLOTS; i++)
		if (!n->load[i].busy)
			return &n->load[i];
	return NULL;
}

static void loop_once(void)
{
	devnet_check_interrupt();
	if (event_base_loop(B.base, EVLOOP_ONCE) < 0)
		die("event loop failed");
}

struct got {
	int done, status;
	iolm_buf *out;
};

static void on_got(void *arg, int status, const uint8_t *body, size_t len)
{
	struct got *g = arg;
	g->done = 1;
	g->status = status;
	if (g->out && len && iolm_buf_append(g->out, body, len))
		g->status = 0;
}

/* A blocking GET on n's control slot (the loop keeps running everything else meanwhile).
 * The HTTP status, 0 when the node did not answer; the body is appended to out. */
static int http_get(struct bnode *n, const char *path, iolm_buf *out)
{
	struct got g = { 0, 0, out };
	if (slot_send(&n->ctl, EVHTTP_REQ_GET, path, NULL, 0, on_got, &g))
		return 0;
	while (!g.done)
		loop_once();
	return g.status;
}

static json_t *get_json(struct bnode *n, const char *path)
{
	iolm_buf out;
	json_t *j = NULL;
	iolm_buf_init(&out, 8u << 20);
	if (http_get(n, path, &out) == 200)
		j = json_loadb((const char *)out.data, out.len, 0, NULL);
	iolm_buf_release(&out, 0);
	return j;
}

/* The node's committed height, -1 when it does not answer. */
static int64_t node_height(struct bnode *n)
{
	json_t *j = get_json(n, "/status");
	json_t *h = j ? json_object_get(j, "height") : NULL;
	int64_t v = json_is_integer(h) ? (int64_t)json_integer_value(h) : -1;
	json_decref(j);
	return v;
}

/* A counter from a /metrics page, -1 when absent. */
static int64_t metric_value(const uint8_t *body, size_t len, const char *name)
{
	char key[128];
	int klen = snprintf(key, sizeof key, "\n%s ", name);
	for (size_t i = 0; body && i + (size_t)klen < len; i++) {
		if (memcmp(body + i, key, (size_t)klen) == 0) {
			int64_t v = 0;
			for (size_t k = i + (size_t)klen; k < len && body[k] >= '0' && body[k] <= '9'; k++)
				v = v * 10 + (body[k] - '0');
			return v;
		}
	}
	return -1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until done(ctx) says so, calling step(ctx) after every pass to fill the
 * free slots. Dies past deadline (seconds on bench_now's clock) naming what it waited
 * for. */
static void drive(int (*step)(void *ctx), void *ctx, double deadline, const char *what)
{
	while (!step(ctx)) {
		if (bench_now() > deadline)
			die("timed out waiting for %s", what);
		devnet_check_nodes(&B.net, what);
		loop_once();
	}
}

static void sleep_loop(double secs)
{
	double end = bench_now() + secs;
	while (bench_now() < end)
		loop_once();
}

/* ---------------------------------------------------------------- the testnet */

static void make_account_key(iolm_key *k, uint32_t i)
{
	uint8_t sec[32];
	iolm_hash(sec, IOLM_TAG_GENESIS, &i, sizeof i);
	if (iolm_key_from_secret(k, sec))
		die("cannot derive account key %u", i);
}

struct wait_height {
	struct bnode *n;
	int64_t target, height;
	double next;
};

static int step_wait_height(void *ctx)
{
	struct wait_height *w = ctx;
	if (bench_now() < w->next)
		return 0;
	w->next = bench_now() + 0.02;
	w->height = node_height(w->n);
	return w->height >= w->target;
}

/* Wait (bounded) until n's RPC answers with a height of at least target; that height. */
static int64_t wait_height(struct bnode *n, int64_t target, double timeout_s)
{
	struct wait_height w = { n, target, -1, 0 };
	char what[96];
	snprintf(what, sizeof what, "node%d's RPC to answer height >= %lld", n->d->index,
		 (long long)target);
	drive(step_wait_height, &w, bench_now() + timeout_s, what);
	return w.height;
}

/* Wait for a node just started to answer, and read its new cookie. */
static int64_t wait_rpc(struct bnode *n, double timeout_s)
{
	int64_t h = wait_height(n, 0, timeout_s);
	devnet_read_token(n->d);
	return h;
}

static void start_node(struct bnode *n)
{
	devnet_start(&B.net, n->d);
}

static void stop_node(struct bnode *n, double timeout_s)
{
	devnet_stop(&B.net, n->d, timeout_s);
}

static void open_connections(void)
{
	for (int i = 0; i < NV; i++) {
		struct bnode *n = &B.nodes[i];
		for (int s = 0; s <= SLOTS; s++) {
			struct slot *sl = s < SLOTS ? &n->load[s] : &n->ctl;
			sl->node = n;
			sl->conn = evhttp_connection_base_new(B.base, NULL, "127.0.0.1", n->d->rpc_port);
			if (!sl->conn)
				die("evhttp connection: %s", iolm_strerror(IOLM_ENOMEM));
			evhttp_connection_set_timeout(sl->conn, HTTP_TIMEOUT_S);
		}
	}
}

static void close_connections(void)
{
	for (int i = 0; i < NV; i++) {
		for (int s = 0; s <= SLOTS; s++) {
			struct slot *sl = s < SLOTS ? &B.nodes[i].load[s] : &B.nodes[i].ctl;
			if (sl->conn)
				evhttp_connection_free(sl->conn);
			sl->conn = NULL;
		}
	}
}

/* ---------------------------------------------------------------- transactions */

/* A signed transfer from account a at its next nonce (which it then advances). */
static void sign_next(iolm_buf *out, size_t a)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Transfer t = IOLM__TRANSFER__INIT;
	t.to.data = B.ids[(a * 7919 + 1) % B.n_acc];
	t.to.len = IOLM_ADDR_LEN;
	t.amount = 1 + a % 1000;
	b.nonce = B.nonces[a]++;
	b.fee = 1;
	b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	b.transfer = &t;
	iolm_buf_reset(out);
	int rc = ledger_tx_sign(out, &b, &B.keys[a], CHAIN);
	if (rc)
		die("sign: %s", iolm_strerror(rc));
}

/* The hex an RPC client posts, NUL-terminated; the caller frees it. */
static char *tx_hex(const iolm_buf *tx)
{
	char *hex = malloc(2 * tx->len + 1);
	if (!hex)
		die("%s", iolm_strerror(IOLM_ENOMEM));
	iolm_hex_encode(hex, 2 * tx->len + 1, tx->data, tx->len);
	return hex;
}

/* An error answer to POST /tx, for the message when the benchmark cannot go on. */
static void describe_refusal(char *out, size_t cap, int status, const uint8_t *body, size_t len)
{
	snprintf(out, cap, "HTTP %d: %.*s", status, (int)(len > 300 ? 300 : len),
		 body ? (const char *)body : "");
}

/* ---------------------------------------------------------------- committed_tx_per_s */

struct tput_post {
	struct tput *t;
	uint32_t tx;
};

struct tput {
	size_t m;
	char **hex;
	struct tput_post *posts;
	uint32_t *queue[NV];        /* per node, in sending order */
	size_t qlen[NV], qnext[NV];
	size_t accepted;
	int64_t committed0, committed;
	int metrics_busy;
	double next_metrics, t0, t_sent, next_progress;
	char refusal[400];
};

static void on_tput_post(void *arg, int status, const uint8_t *body, size_t len)
{
	struct tput_post *p = arg;
	if (status != 200) {
		if (!p->t->refusal[0])
			describe_refusal(p->t->refusal, sizeof p->t->refusal, status, body, len);
		return;
	}
	if (++p->t->accepted == p->t->m)
		p->t->t_sent = bench_now();
}

static void on_tput_metrics(void *arg, int status, const uint8_t *body, size_t len)
{
	struct tput *t = arg;
	t->metrics_busy = 0;
	if (status == 200) {
		int64_t v = metric_value(body, len, "iolm_committed_txs_total");
		if (v >= 0)
			t->committed = v - t->committed0;
	}
}

static int step_tput(void *ctx)
{
	struct tput *t = ctx;
	double now = bench_now();
	if (t->refusal[0])
		die("a transfer was refused: %s", t->refusal);
	for (int i = 0; i < NV; i++) {
		struct slot *s;
		while (t->qnext[i] < t->qlen[i] && (s = free_slot(&B.nodes[i]))) {
			uint32_t k = t->queue[i][t->qnext[i]++];
			if (slot_send(s, EVHTTP_REQ_POST, "/tx", t->hex[k], strlen(t->hex[k]),
				      on_tput_post, &t->posts[k]))
				die("POST /tx to node%d could not be sent", i);
		}
	}
	if (!t->metrics_busy && now >= t->next_metrics) {
		t->next_metrics = now + 0.01;
		t->metrics_busy = !slot_send(&B.nodes[0].ctl, EVHTTP_REQ_GET, "/metrics", NULL, 0,
					     on_tput_metrics, t);
	}
	if (now >= t->next_progress) {
		t->next_progress = now + 1.0;
		progress("  %.1f s: %zu/%zu accepted, %lld committed", now - t->t0, t->accepted,
			 t->m, (long long)t->committed);
	}
	return t->committed >= (int64_t)t->m;
}

static int64_t committed_total(struct bnode *n)
{
	iolm_buf out;
	iolm_buf_init(&out, 1u << 20);
	int64_t v = http_get(n, "/metrics", &out) == 200 ?
			    metric_value(out.data, out.len, "iolm_committed_txs_total") : -1;
	iolm_buf_release(&out, 0);
	return v;
}

static double schnorr_verify_rate(double secs)
{
	enum { NKEYS = 64 };
	iolm_key keys[NKEYS];
	uint8_t msgs[NKEYS][32], sigs[NKEYS][64];
	double t0, t;
	long n;
	for (int i = 0; i < NKEYS; i++) {
		if (iolm_key_generate(&keys[i]))
			die("key generation failed");
		iolm_hash(msgs[i], IOLM_TAG_TXSIG, &i, sizeof i);
		if (iolm_sign(&keys[i], sigs[i], msgs[i]))
			die("signing failed");
	}
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++)
		if (iolm_verify(sigs[n % NKEYS], msgs[n % NKEYS], iolm_key_pub(&keys[n % NKEYS])))
			die("verification failed");
	for (int i = 0; i < NKEYS; i++)
		iolm_key_wipe(&keys[i]);
	return (double)n / t;
}

static void bench_throughput(size_t m, double verify_per_s)
{
	struct tput t;
	iolm_buf tx;
	memset(&t, 0, sizeof t);
	t.m = m;
	t.hex = calloc(m, sizeof *t.hex);
	t.posts = calloc(m, sizeof *t.posts);
	for (int i = 0; i < NV; i++)
		t.queue[i] = calloc(m, sizeof *t.queue[i]);
	if (!t.hex || !t.posts || !t.queue[0] || !t.queue[1] || !t.queue[2] || !t.queue[3])
		die("%s", iolm_strerror(IOLM_ENOMEM));
	/* Nonce-major, and each account always through the same node, so no transaction
	 * reaches a node long before the one with the nonce below it. */
	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	double ts = bench_now();
	for (size_t k = 0; k < m; k++) {
		size_t a = k % B.n_acc;
		sign_next(&tx, a);
		t.hex[k] = tx_hex(&tx);
		t.posts[k] = (struct tput_post){ &t, (uint32_t)k };
		int node = (int)(a % NV);
		t.queue[node][t.qlen[node]++] = (uint32_t)k;
	}
	iolm_buf_release(&tx, 0);
	progress("committed_tx_per_s: %zu transfers signed in %.2f s; posting, %d in flight per node",
		 m, bench_now() - ts, SLOTS);

	if ((t.committed0 = committed_total(&B.nodes[0])) < 0)
		die("node0 has no iolm_committed_txs_total in /metrics");
	t.t0 = bench_now();
	t.next_progress = t.t0 + 1.0;
	drive(step_tput, &t, t.t0 + (double)m / 100.0 + 60.0, "the transfers to be committed");
	double secs = bench_now() - t.t0;
	progress("  all %zu posted in %.2f s, committed in %.2f s", m, t.t_sent - t.t0, secs);
	while (t.metrics_busy)
		loop_once();
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	bench_figure("committed_tx_per_s", (double)m / secs, "tx/s", "cores_x_verify_per_s_over_4",
		     (double)(cores > 0 ? cores : 1) * verify_per_s / NV);
	for (size_t k = 0; k < m; k++)
		free(t.hex[k]);
	free(t.hex);
	free(t.posts);
	for (int i = 0; i < NV; i++)
		free(t.queue[i]);
}

/* ---------------------------------------------------------------- commit latency */

enum { S_UNSENT, S_POSTING, S_PENDING, S_DONE };

struct sample {
	struct lat *l;
	char id[65];
	int node, state, polling;
	double t_posted, next_poll, ms;
};

struct lat {
	size_t n, sent, done, first_open;
	struct sample *s;
	double t0, rate;
	int n_nodes;                /* post to nodes 0 .. n_nodes-1 */
	int sample;                 /* 0: the light load of the sync phase, no timing */
	size_t refused;
	char refusal[400];
	iolm_buf tx;
};

static void on_lat_post(void *arg, int status, const uint8_t *body, size_t len)
{
	struct sample *s = arg;
	if (status != 200) {
		s->l->refused++;
		if (!s->l->refusal[0])
			describe_refusal(s->l->refusal, sizeof s->l->refusal, status, body, len);
		s->state = S_DONE;
		s->l->done++;
		return;
	}
	s->t_posted = bench_now();
	s->next_poll = s->t_posted; /* the first poll right away */
	if (s->l->sample) {
		s->state = S_PENDING;
	} else {
		s->state = S_DONE;
		s->l->done++;
	}
}

static void on_lat_poll(void *arg, int status, const uint8_t *body, size_t len)
{
	struct sample *s = arg;
	double now = bench_now();
	s->polling = 0;
	s->next_poll = now + POLL_S;
	if (status != 200 || !body)
		return;
	json_t *j = json_loadb((const char *)body, len, 0, NULL);
	const char *st = j ? json_string_value(json_object_get(j, "status")) : NULL;
	if (st && strcmp(st, "committed") == 0) {
		s->ms = (now - s->t_posted) * 1000.0;
		s->state = S_DONE;
		s->l->done++;
	}
	json_decref(j);
}

static void post_due(struct lat *l, double now)
{
	size_t due = (size_t)((now - l->t0) * l->rate);
	if (due > l->n)
		due = l->n;
	while (l->sent < due) {
		struct sample *s = &l->s[l->sent];
		struct slot *sl = free_slot(&B.nodes[s->node]);
		uint8_t id[32];
		if (!sl)
			break; /* the node is behind; it stays due */
		sign_next(&l->tx, l->sent % B.n_acc);
		iolm_hash(id, IOLM_TAG_TX, l->tx.data, l->tx.len);
		iolm_hex_encode(s->id, sizeof s->id, id, 32);
		char *hex = tx_hex(&l->tx);
		int rc = slot_send(sl, EVHTTP_REQ_POST, "/tx", hex, strlen(hex), on_lat_post, s);
		free(hex);
		if (rc)
			die("POST /tx to node%d could not be sent", s->node);
		s->state = S_POSTING;
		l->sent++;
	}
}

static void poll_pending(struct lat *l, double now)
{
	while (l->first_open < l->sent && l->s[l->first_open].state == S_DONE)
		l->first_open++;
	for (size_t i = l->first_open; i < l->sent; i++) {
		struct sample *s = &l->s[i];
		struct slot *sl;
		char path[96];
		if (s->state != S_PENDING || s->polling || now < s->next_poll ||
		    !(sl = free_slot(&B.nodes[s->node])))
			continue;
		snprintf(path, sizeof path, "/tx/%s", s->id);
		if (slot_send(sl, EVHTTP_REQ_GET, path, NULL, 0, on_lat_poll, s))
			die("GET /tx to node%d could not be sent", s->node);
		s->polling = 1;
	}
}

static int step_lat(void *ctx)
{
	struct lat *l = ctx;
	double now = bench_now();
	post_due(l, now);
	poll_pending(l, now);
	return l->done == l->n;
}

static void lat_init(struct lat *l, size_t n, double rate, int n_nodes, int sample)
{
	memset(l, 0, sizeof *l);
	l->n = n;
	l->rate = rate;
	l->n_nodes = n_nodes;
	l->sample = sample;
	l->s = calloc(n, sizeof *l->s);
	if (!l->s)
		die("%s", iolm_strerror(IOLM_ENOMEM));
	for (size_t i = 0; i < n; i++) {
		l->s[i].l = l;
		l->s[i].node = (int)(i % (size_t)n_nodes);
	}
	iolm_buf_init(&l->tx, IOLM_MAX_TX_BYTES);
	l->t0 = bench_now();
}

static void lat_release(struct lat *l)
{
	free(l->s);
	iolm_buf_release(&l->tx, 0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void bench_latency(double secs)
{
	struct lat l;
	size_t n = (size_t)(LAT_RATE * secs);
	progress("commit_latency: %d tx/s for %.0f s, each polled every %.0f ms", LAT_RATE, secs,
		 POLL_S * 1000);
	lat_init(&l, n, LAT_RATE, NV, 1);
	drive(step_lat, &l, l.t0 + secs + 60.0, "the latency samples to be committed");
	if (l.refused)
		die("%zu of %zu transfers refused, the first: %s", l.refused, n, l.refusal);
	double *ms = malloc(n * sizeof *ms);
	if (!ms)
		die("%s", iolm_strerror(IOLM_ENOMEM));
	for (size_t i = 0; i < n; i++)
		ms[i] = l.s[i].ms;
	qsort(ms, n, sizeof *ms, cmp_double);
	progress("  %zu samples: min %.1f ms, max %.1f ms", n, ms[0], ms[n - 1]);
	bench_figure("commit_latency_p50_ms", ms[n / 2], "ms", "goal_ms", GOAL_P50_MS);
	bench_figure("commit_latency_p99_ms", ms[(n * 99) / 100], "ms", "goal_ms", GOAL_P99_MS);
	free(ms);
	lat_release(&l);
}

/* ---------------------------------------------------------------- sync_blocks_per_s */

struct load_until {
	struct lat load;
	int64_t target, height;
	double next_check, next_progress;
};

static int step_load_until(void *ctx)
{
	struct load_until *u = ctx;
	double now = bench_now();
	if (u->load.sent == u->load.n)
		die("the light load ran out before node0 reached height %lld", (long long)u->target);
	post_due(&u->load, now);
	if (now >= u->next_check) {
		u->next_check = now + 0.05;
		u->height = node_height(&B.nodes[0]);
	}
	if (now >= u->next_progress) {
		u->next_progress = now + 2.0;
		progress("  node0 at height %lld of %lld", (long long)u->height, (long long)u->target);
	}
	return u->height >= u->target;
}

struct catch_up {
	int64_t h3, h0;
	int64_t restart_h0;         /* node0's height when node3 came back */
	double t_restart_h0;        /* when node3 reached it; 0: not yet */
	double next;
};

static int step_catch_up(void *ctx)
{
	struct catch_up *c = ctx;
	double now = bench_now();
	if (now < c->next)
		return 0;
	c->next = now + 0.01;
	c->h3 = node_height(&B.nodes[3]);
	c->h0 = node_height(&B.nodes[0]);
	if (!c->t_restart_h0 && c->h3 >= c->restart_h0)
		c->t_restart_h0 = now;
	return c->h3 >= 0 && c->h0 >= 0 && c->h3 >= c->h0;
}

static void bench_sync(int64_t blocks)
{
	static const devnet_timeouts fast = { FAST_HEARTBEAT_MS, FAST_PROPOSE_MS,
					      FAST_PROPOSE_DELTA_MS, FAST_VOTE_MS,
					      FAST_VOTE_DELTA_MS };
	struct load_until u;
	struct catch_up c = { 0, 0, 0, 0, 0 };

	progress("sync_blocks_per_s: stopping all nodes; node0..node2 back with short timeouts");
	for (int i = 0; i < NV; i++)
		stop_node(&B.nodes[i], 15.0);
	for (int i = 0; i < NV; i++)
		devnet_write_config(&B.net, B.nodes[i].d, &fast);
	for (int i = 0; i < NV - 1; i++)
		start_node(&B.nodes[i]);
	for (int i = 0; i < NV - 1; i++)
		wait_rpc(&B.nodes[i], 30.0);
	int64_t h = node_height(&B.nodes[0]);
	if (h < 0)
		die("node0 does not answer");
	wait_height(&B.nodes[0], h + 1, 30.0);

	progress("  %lld blocks under %d tx/s without node3", (long long)blocks, SYNC_RATE);
	/* Enough transfers for the worst case: every height waits for a round change. */
	double budget_s = (double)blocks * (FAST_PROPOSE_MS + FAST_VOTE_MS) / 1000.0 + 60.0;
	lat_init(&u.load, (size_t)(SYNC_RATE * budget_s), SYNC_RATE, NV - 1, 0);
	u.target = h + blocks;
	u.height = h;
	u.next_check = 0;
	u.next_progress = bench_now() + 2.0;
	drive(step_load_until, &u, u.load.t0 + budget_s, "the blocks node3 is to catch up on");
	/* Let the posts in flight finish; then only heartbeat blocks come. */
	while (u.load.done < u.load.sent)
		loop_once();
	progress("  node0 made %lld blocks in %.1f s (%zu transfers, %zu refused)",
		 (long long)(u.height - h), bench_now() - u.load.t0, u.load.sent, u.load.refused);
	lat_release(&u.load);

	if ((c.restart_h0 = node_height(&B.nodes[0])) < 0)
		die("node0 does not answer");
	start_node(&B.nodes[3]);
	int64_t h3 = wait_rpc(&B.nodes[3], 30.0);
	double t0 = bench_now();
	drive(step_catch_up, &c, t0 + 60.0, "node3 to catch up");
	double secs = bench_now() - t0;
	/* The second figure on stderr: the bulk of the sync alone, up to where the chain was
	 * at the restart, without the chase of the blocks made meanwhile. */
	progress("  node3 went from %lld to %lld (node0's) in %.2f s; it had reached %lld (node0's "
		 "height at its restart) after %.2f s: %.0f blocks/s",
		 (long long)h3, (long long)c.h3, secs, (long long)c.restart_h0, c.t_restart_h0 - t0,
		 (double)(c.restart_h0 - h3) / (c.t_restart_h0 - t0));
	bench_figure("sync_blocks_per_s", (double)(c.h3 - h3) / secs, "blocks/s",
		     "goal_blocks_per_s", GOAL_SYNC_BLOCKS_PER_S);
}

/* ---------------------------------------------------------------- rss_mb_per_node */

static double rss_mb(pid_t pid)
{
	char path[64], line[256];
	double kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof line, fp))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtod(line + 6, NULL);
	fclose(fp);
	return kb < 0 ? -1 : kb / 1024.0;
}

static void bench_rss(void)
{
	double max = 0, sum = 0;
	for (int i = 0; i < NV; i++) {
		double mb = rss_mb(B.net.nodes[i].pid);
		if (mb < 0)
			die("no VmRSS for node%d (pid %d)", i, (int)B.net.nodes[i].pid);
		progress("rss: node%d %.1f MB", i, mb);
		max = mb > max ? mb : max;
		sum += mb;
	}
	bench_figure("rss_mb_per_node", max, "MB", NULL, 0);
	bench_figure("rss_mb_per_node_mean", sum / NV, "MB", NULL, 0);
}

/* ---------------------------------------------------------------- main */

static void setup_accounts(size_t n)
{
	B.n_acc = n;
	B.keys = calloc(n, sizeof *B.keys);
	B.ids = calloc(n, sizeof *B.ids);
	B.nonces = calloc(n, sizeof *B.nonces);
	if (!B.keys || !B.ids || !B.nonces)
		die("%s", iolm_strerror(IOLM_ENOMEM));
	for (size_t i = 0; i < n; i++) {
		make_account_key(&B.keys[i], (uint32_t)i + 1);
		iolm_addr_from_pub(B.ids[i], iolm_key_pub(&B.keys[i]));
	}
}

static void release_accounts(void)
{
	for (size_t i = 0; i < B.n_acc; i++)
		iolm_key_wipe(&B.keys[i]);
	free(B.keys);
	free(B.ids);
	free(B.nonces);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	const char *dir = "/tmp", *iolmd = IOLM_IOLMD_PATH;
	int keep = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--iolmd") == 0 && i + 1 < argc)
			iolmd = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
	}
	size_t m = quick ? 2000 : 20000;
	double t_start = bench_now();

	if (iolm_crypto_init())
		return 1;
	devnet_init(&B.net, "bench_net", iolmd, keep);
	for (int i = 0; i < NV; i++)
		B.nodes[i].d = &B.net.nodes[i];

	/* The limit first, while the machine is quiet. */
	double verify = schnorr_verify_rate(quick ? 0.2 : 1.0);
	progress("Schnorr verify: %.0f/s on one core, %ld cores online", verify,
		 sysconf(_SC_NPROCESSORS_ONLN));

	setup_accounts(m / NONCES_PER_ACCOUNT);
	devnet_create(&B.net, dir, CHAIN, "{\"min_fee\": 1}", (const uint8_t(*)[IOLM_ADDR_LEN])B.ids,
		      B.n_acc, 1000000000000ull, 0);
	progress("testnet of %d validators in %s, %zu funded accounts", NV, B.net.dir, B.n_acc);
	if (!(B.base = event_base_new()) ||
	    !(B.tick = event_new(B.base, -1, EV_PERSIST, on_tick, NULL)))
		die("libevent: %s", iolm_strerror(IOLM_ENOMEM));
	struct timeval tv = { 0, 5000 };
	event_add(B.tick, &tv);
	open_connections();
	for (int i = 0; i < NV; i++)
		start_node(&B.nodes[i]);
	for (int i = 0; i < NV; i++)
		wait_rpc(&B.nodes[i], 30.0);
	/* Nodes that start together dial each other twice; the duplicate connections are
	 * resolved about a second later. Let that happen before the load. */
	double t_up = bench_now();
	wait_height(&B.nodes[0], 2, 30.0);
	if (bench_now() < t_up + 2.0)
		sleep_loop(t_up + 2.0 - bench_now());
	progress("nodes up after %.1f s", bench_now() - t_start);

	bench_throughput(m, verify);
	bench_latency(quick ? 3.0 : 10.0);
	bench_rss();
	bench_sync(quick ? 100 : 500);

	for (int i = 0; i < NV; i++)
		stop_node(&B.nodes[i], 15.0);
	close_connections();
	event_free(B.tick);
	event_base_free(B.base);
	release_accounts();
	progress("done in %.1f s", bench_now() - t_start);
	return 0;
}
