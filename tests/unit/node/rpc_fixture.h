/* The RPC server of node/rpc.c against a real ledger and mempool, for the RPC tests: a
 * client on the same event_base drives the endpoints over HTTP on 127.0.0.1
 * (test_rpc.c, test_rpc_wallet.c). */
#ifndef IOLM_TEST_RPC_FIXTURE_H
#define IOLM_TEST_RPC_FIXTURE_H

#include "../test_util.h"

#include "../ledger/ledger_fixture.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "core/log.h"
#include "ledger/mempool.h"
#include "node/rpc.h"

struct rt {
	struct fx f;
	ledger_mempool *mp;
	struct event_base *base;
	node_rpc *rpc;
	char cookie[65];
	uint8_t tx1[32];      /* the transfer in block 1 */
	iolm_buf cert1;       /* block 1's certificate */
	/* the last answer */
	int status;
	char *body;
	size_t body_len;
	char allow[32];
	uint16_t port;        /* where http() sends requests */
};

/* ---------------------------------------------------------------- backend */

static inline int account_cb(void *ctx, const uint8_t id[static 20], uint64_t *balance, uint64_t *nonce)
{
	return ledger_get_account(ctx, id, balance, nonce);
}

static inline int be_submit(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32])
{
	struct rt *t = ctx;
	return ledger_mempool_add(t->mp, raw, len, account_cb, t->f.l, id);
}

static inline void be_status(void *ctx, node_status *st)
{
	struct rt *t = ctx;
	ledger_head h;
	assert_int_equal(ledger_get_head(t->f.l, &h), IOLM_OK);
	snprintf(st->chain_id, sizeof st->chain_id, "%s", FX_CHAIN);
	st->validator_index = -1;
	st->height = h.height;
	memcpy(st->block_id, h.block_id, 32);
	st->block_time_ms = h.time_ms;
	memcpy(st->state_root, h.state_root, 32);
	st->cons_height = h.height + 1;
	st->cons_round = 3;
	st->cons_step = 2;
	st->mempool_txs = ledger_mempool_count(t->mp);
	st->mempool_bytes = ledger_mempool_bytes(t->mp);
	st->sync_target = 41;
}

static inline void be_metrics(void *ctx, iolm_buf *out)
{
	assert_int_equal(iolm_buf_append_str(out, "iolm_test_backend_metric 7\n"), IOLM_OK);
}

/* A task_create from account `from` (bounds as in tests/unit/ledger/test_block.c). */
static inline void task_tx(struct fx *f, iolm_buf *out, int from, uint64_t pool)
{
	static const uint8_t art[LEDGER_ARTIFACT_ID_LEN] = { 0x1e, 0x20, 7, 7, 7 };
	struct fx_task t;
	fx_task_init(&t, 2, 32, 4, 100, art, sizeof art);
	t.tc.segment_len = 5;
	t.tc.reward_pool = pool;
	t.tc.breakthrough_bps = 100;
	t.tc.margin_decay_blocks = 10;
	t.tc.bond_min = 100;
	t.tc.name = "tiny";
	assert_int_equal(ledger_tx_sign(out, &t.b, &f->acct[from], FX_CHAIN), IOLM_OK);
}

/* ---------------------------------------------------------------- fixture */

static inline int setup(void **state)
{
	struct rt *t = calloc(1, sizeof *t);
	iolm_buf cands[2], blk;
	ledger_mempool_params mp = { .max_txs = 1000, .max_bytes = 1u << 20,
				     .max_per_account = 64, .nonce_window = 16,
				     .min_fee = FX_MIN_FEE, .replace_bump_pct = 10 };
	node_rpc_backend be = { 0 };
	node_rpc_config cfg = { 0 };

	assert_non_null(t);
	fx_init(&t->f, NULL);
	/* block 1: a transfer 0 -> 1 and a task by 3; block 2: empty, carrying block 1's
	 * certificate */
	fx_bufs_init(cands, 2);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&t->cert1, IOLM_MAX_FRAME_BYTES);
	fx_transfer(&t->f, &cands[0], 0, t->f.id[1], 5000, FX_MIN_FEE, 0);
	iolm_hash(t->tx1, IOLM_TAG_TX, cands[0].data, cands[0].len);
	task_tx(&t->f, &cands[1], 3, 50000);
	fx_build(&t->f, &blk, cands, 2, NULL, NULL);
	fx_commit(&t->f, t->f.l, &blk);
	assert_int_equal(iolm_buf_append(&t->cert1, t->f.last_cert.data, t->f.last_cert.len),
			 IOLM_OK);
	iolm_buf_reset(&blk);
	fx_build(&t->f, &blk, NULL, 0, NULL, NULL);
	fx_commit(&t->f, t->f.l, &blk);
	iolm_buf_release(&blk, 0);
	fx_bufs_release(cands, 2);

	assert_int_equal(ledger_mempool_create(&t->mp, &mp, FX_CHAIN, NULL), IOLM_OK);
	t->base = event_base_new();
	assert_non_null(t->base);
	assert_int_equal(node_rpc_cookie_create(t->f.dir, t->cookie), IOLM_OK);
	be.ledger = t->f.l;
	be.mempool = t->mp;
	be.submit_tx = be_submit;
	be.get_status = be_status;
	be.write_metrics = be_metrics;
	be.ctx = t;
	cfg.cookie = t->cookie;
	assert_int_equal(node_rpc_create(&t->rpc, t->base, &cfg, &be), IOLM_OK);
	t->port = node_rpc_port(t->rpc);
	assert_true(t->port != 0);
	*state = t;
	return 0;
}

static inline int teardown(void **state)
{
	struct rt *t = *state;
	char path[128];
	node_rpc_destroy(t->rpc);
	event_base_free(t->base);
	ledger_mempool_destroy(t->mp);
	free(t->body);
	iolm_buf_release(&t->cert1, 0);
	snprintf(path, sizeof path, "%s/rpc.cookie", t->f.dir);
	unlink(path);
	fx_free(&t->f);
	free(t);
	return 0;
}

/* ---------------------------------------------------------------- HTTP client */

static inline void http_done(struct evhttp_request *req, void *ctx)
{
	struct rt *t = ctx;
	t->status = req ? evhttp_request_get_response_code(req) : -1;
	if (req) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		const char *allow = evhttp_find_header(evhttp_request_get_input_headers(req),
						       "Allow");
		t->body_len = evbuffer_get_length(in);
		t->body = malloc(t->body_len + 1);
		assert_non_null(t->body);
		evbuffer_remove(in, t->body, t->body_len);
		t->body[t->body_len] = '\0';
		snprintf(t->allow, sizeof t->allow, "%s", allow ? allow : "");
	}
	event_base_loopbreak(t->base);
}

/* One request; answers the parsed JSON body (NULL when it is not JSON), the status in
 * t->status and the raw body in t->body. */
static inline json_t *http(struct rt *t, enum evhttp_cmd_type m, const char *path, const char *ctype,
		    const char *auth, const void *body, size_t len)
{
	struct evhttp_connection *c =
		evhttp_connection_base_new(t->base, NULL, "127.0.0.1", t->port);
	struct evhttp_request *req = evhttp_request_new(http_done, t);
	struct evkeyvalq *h;
	char bearer[200];
	assert_non_null(c);
	assert_non_null(req);
	evhttp_connection_set_timeout(c, 5);
	free(t->body);
	t->body = NULL;
	t->status = 0;
	t->allow[0] = '\0';
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	if (auth) {
		snprintf(bearer, sizeof bearer, "Bearer %s", auth);
		evhttp_add_header(h, "Authorization", bearer);
	}
	if (body)
		assert_int_equal(evbuffer_add(evhttp_request_get_output_buffer(req), body, len), 0);
	assert_int_equal(evhttp_make_request(c, req, m, path), 0);
	event_base_dispatch(t->base);
	evhttp_connection_free(c);
	assert_true(t->status != 0);
	return t->body ? json_loadb(t->body, t->body_len, 0, NULL) : NULL;
}

static inline json_t *get(struct rt *t, const char *path, int want_status)
{
	json_t *j = http(t, EVHTTP_REQ_GET, path, NULL, NULL, NULL, 0);
	if (t->status != want_status)
		fail_msg("GET %s: status %d, want %d: %s", path, t->status, want_status,
			 t->body ? t->body : "");
	return j;
}

/* The error name in an error answer; the answer is released. */
static inline void assert_error(json_t *j, const char *name)
{
	json_t *e = json_object_get(j, "error");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "name")), name);
	assert_true(json_integer_value(json_object_get(e, "code")) < 0);
	assert_non_null(json_string_value(json_object_get(e, "message")));
	json_decref(j);
}

/* ---------------------------------------------------------------- JSON helpers */

static inline json_t *jpath(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);
	if (b)
		v = json_object_get(v, b);
	if (!v)
		fail_msg("no field %s%s%s", a, b ? "." : "", b ? b : "");
	return v;
}

/* Decode the hex string at o.key into out; returns its byte count. */
static inline size_t jhex(json_t *o, const char *key, uint8_t *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t n;
	if (!s)
		fail_msg("no hex field %s", key);
	assert_int_equal(iolm_hex_decode(out, cap, &n, s, strlen(s)), IOLM_OK);
	return n;
}

static inline void jhex32(json_t *o, const char *key, uint8_t out[32])
{
	assert_int_equal(jhex(o, key, out, 32), 32);
}

static inline uint64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("no integer field %s", key);
	return (uint64_t)json_integer_value(v);
}

#endif
