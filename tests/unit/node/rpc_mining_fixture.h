/* A ledger running the joint-mining rules behind the RPC server, for the tests of the
 * mining endpoints (test_rpc_mining.c, test_rpc_history.c): a task, a work accepted by
 * 3 of 4 validators (its first best), a second work extending it (a breakthrough), and
 * a task without works; an HTTP client on the same event_base, JSON helpers, and the
 * proof checks a wallet would make from the JSON alone. */
#ifndef IOLM_TEST_RPC_MINING_FIXTURE_H
#define IOLM_TEST_RPC_MINING_FIXTURE_H
#include "../test_util.h"

#include "../ledger/mining_fixture.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "core/log.h"
#include "ledger/mempool.h"
#include "node/rpc.h"

#define POOL 1000000u

static struct {
	struct mfx m;
	ledger_mempool *mp;
	struct event_base *base;
	node_rpc *rpc;
	uint16_t port;
	uint8_t task[32], task2[32], work_a[32], work_b[32];
	uint8_t attest_tx[3][32]; /* the attestations of work a, by validators 0..2 */
	uint8_t fund_tx[FX_VALIDATORS][32]; /* account 7's transfers to the validators */
	/* the last answer */
	int status;
	char *body;
	size_t body_len;
	char allow[32];
} T;

/* ---------------------------------------------------------------- building the chain */

static inline void task(uint8_t id[32], int designer, const char *name)
{
	struct fx_task t;
	mfx_task_init(&t, POOL);
	t.mc.init_seed = 77;
	t.oc.weight_decay = 0.1f;
	t.oc.warmup_steps = 5;
	t.oc.grad_clip = 1.0f;
	t.tc.deadline_height = 5000;
	t.tc.name = (char *)name;
	mfx_sign(&T.m, designer, &t.b, id);
}

static inline void work(uint8_t id[32], int miner, const uint8_t *parent, uint64_t start,
		 uint64_t steps, uint64_t loss, uint64_t bond)
{
	struct fx_work w;
	fx_work_init(&w, T.task, parent, start, steps, loss, bond, mfx_art, sizeof mfx_art);
	w.w.endpoint = "http://127.0.0.1:9000";
	mfx_sign(&T.m, miner, &w.b, id);
}

/* Heights: 1 funds the validators; 2 two tasks; 3 work a; 4 its challenge block; 5 three
 * valid attestations (a accepted, first best); 6 work b on a; 7 challenge; 8 b accepted,
 * a breakthrough. */
static inline void build_chain(void)
{
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		mfx_validator_id(&T.m, v, vid);
		mfx_transfer(&T.m, 7, vid, 100000, T.fund_tx[v]);
	}
	mfx_block(&T.m);
	task(T.task, 0, "rpc-test");
	task(T.task2, 3, "idle");
	mfx_block(&T.m);
	work(T.work_a, 1, NULL, 0, 10, 4000000, 500);
	mfx_block(&T.m);
	mfx_block(&T.m);
	for (int v = 0; v < 3; v++) {
		mfx_attest(&T.m, v, T.work_a, 1, 4000000 + (uint64_t)v);
		mfx_last_id(&T.m, T.attest_tx[v]);
	}
	mfx_block(&T.m);
	work(T.work_b, 2, T.work_a, 10, 20, 3000000, 600);
	mfx_block(&T.m);
	mfx_block(&T.m);
	mfx_attest_quorum(&T.m, T.work_b, 1, 3000000);
	mfx_block(&T.m);
}

/* ---------------------------------------------------------------- server and client */

static inline int account_cb(void *ctx, const uint8_t id[static 20], uint64_t *balance, uint64_t *nonce)
{
	return ledger_get_account(ctx, id, balance, nonce);
}

static inline int be_submit(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32])
{
	(void)ctx;
	return ledger_mempool_add(T.mp, raw, len, account_cb, T.m.f.l, id);
}

static inline void be_status(void *ctx, node_status *st)
{
	(void)ctx;
	snprintf(st->chain_id, sizeof st->chain_id, "%s", FX_CHAIN);
	st->validator_index = -1;
}

static inline int setup(void **state)
{
	ledger_mempool_params mp = { .max_txs = 100, .max_bytes = 1u << 20,
				     .max_per_account = 16, .nonce_window = 16,
				     .min_fee = FX_MIN_FEE, .replace_bump_pct = 10 };
	node_rpc_backend be = { 0 };
	node_rpc_config cfg = { 0 };

	(void)state;
	memset(&T, 0, sizeof T);
	mfx_init(&T.m, NULL);
	build_chain();
	assert_int_equal(ledger_mempool_create(&T.mp, &mp, FX_CHAIN, NULL), IOLM_OK);
	T.base = event_base_new();
	assert_non_null(T.base);
	be.ledger = T.m.f.l;
	be.mempool = T.mp;
	be.submit_tx = be_submit;
	be.get_status = be_status;
	assert_int_equal(node_rpc_create(&T.rpc, T.base, &cfg, &be), IOLM_OK);
	T.port = node_rpc_port(T.rpc);
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	node_rpc_destroy(T.rpc);
	event_base_free(T.base);
	ledger_mempool_destroy(T.mp);
	free(T.body);
	mfx_free(&T.m);
	return 0;
}

static inline void http_done(struct evhttp_request *req, void *ctx)
{
	(void)ctx;
	T.status = req ? evhttp_request_get_response_code(req) : -1;
	if (req) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		const char *allow = evhttp_find_header(evhttp_request_get_input_headers(req),
						       "Allow");
		T.body_len = evbuffer_get_length(in);
		T.body = malloc(T.body_len + 1);
		assert_non_null(T.body);
		evbuffer_remove(in, T.body, T.body_len);
		T.body[T.body_len] = '\0';
		snprintf(T.allow, sizeof T.allow, "%s", allow ? allow : "");
	}
	event_base_loopbreak(T.base);
}

/* One request with method m; the parsed JSON body (NULL when not JSON), or a failure
 * when the status is not want_status. */
static inline json_t *req(enum evhttp_cmd_type m, const char *path, int want_status)
{
	struct evhttp_connection *c =
		evhttp_connection_base_new(T.base, NULL, "127.0.0.1", T.port);
	struct evhttp_request *r = evhttp_request_new(http_done, NULL);
	assert_non_null(c);
	assert_non_null(r);
	evhttp_connection_set_timeout(c, 5);
	free(T.body);
	T.body = NULL;
	T.status = 0;
	evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "127.0.0.1");
	assert_int_equal(evhttp_make_request(c, r, m, path), 0);
	event_base_dispatch(T.base);
	evhttp_connection_free(c);
	if (T.status != want_status)
		fail_msg("%s: status %d, want %d: %s", path, T.status, want_status,
			 T.body ? T.body : "");
	return T.body ? json_loadb(T.body, T.body_len, 0, NULL) : NULL;
}

static inline json_t *get(const char *path, int want_status)
{
	return req(EVHTTP_REQ_GET, path, want_status);
}

__attribute__((format(printf, 2, 3))) static json_t *getf(int want_status, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	va_start(ap, fmt);
	assert_true(vsnprintf(path, sizeof path, fmt, ap) < (int)sizeof path);
	va_end(ap);
	return get(path, want_status);
}

static inline void assert_error(json_t *j, const char *name)
{
	json_t *e = json_object_get(j, "error");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "name")), name);
	json_decref(j);
}

/* ---------------------------------------------------------------- JSON helpers */

static inline json_t *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		fail_msg("no field %s", key);
	return v;
}

static inline size_t jhex(json_t *o, const char *key, uint8_t *out, size_t cap)
{
	const char *s = json_string_value(jget(o, key));
	size_t n;
	if (!s)
		fail_msg("field %s is not a string", key);
	assert_int_equal(iolm_hex_decode(out, cap, &n, s, strlen(s)), IOLM_OK);
	return n;
}

static inline void assert_jhex(json_t *o, const char *key, const uint8_t *want, size_t n)
{
	uint8_t got[256];
	assert_int_equal(jhex(o, key, got, sizeof got), n);
	assert_memory_equal(got, want, n);
}

static inline uint64_t jint(json_t *o, const char *key)
{
	json_t *v = jget(o, key);
	if (!json_is_integer(v))
		fail_msg("field %s is not an integer", key);
	return (uint64_t)json_integer_value(v);
}

static inline const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(jget(o, key));
	if (!s)
		fail_msg("field %s is not a string", key);
	return s;
}

static inline void hex32(char out[65], const uint8_t id[32])
{
	iolm_hex_encode(out, 65, id, 32);
}

static inline void addr_of(char out[IOLM_ADDR_STRLEN + 1], int acct)
{
	iolm_addr_encode(out, T.m.f.id[acct]);
}

/* ---------------------------------------------------------------- proof checks */

static inline void proof_from_json(json_t *pj, ledger_proof *p)
{
	json_t *sib = jget(pj, "siblings"), *s;
	size_t i;
	memset(p, 0, sizeof *p);
	assert_int_equal(jhex(pj, "key", p->key, 32), 32);
	assert_true(json_array_size(sib) <= LEDGER_SMT_MAX_DEPTH);
	p->depth = (uint32_t)json_array_size(sib);
	json_array_foreach(sib, i, s) {
		assert_int_equal(iolm_hex_decode_exact(p->siblings[i], 32, json_string_value(s)),
				 IOLM_OK);
	}
	if (strcmp(jstr(pj, "terminal"), "leaf") == 0) {
		p->terminal = LEDGER_PROOF_LEAF;
		assert_int_equal(jhex(pj, "leaf_key", p->leaf_key, 32), 32);
		assert_int_equal(jhex(pj, "leaf_value_hash", p->leaf_vhash, 32), 32);
	}
}

/* The answer's anchor: the header bytes hash to block_id, hold state_root, and are the
 * head's; the root is returned in root. */
static inline void check_anchor(json_t *j, uint8_t root[32])
{
	static uint8_t hdr[4096];
	uint8_t id[32], bid[32];
	size_t n = jhex(j, "header_bytes", hdr, sizeof hdr);
	Iolm__BlockHeader *h;
	ledger_head head;
	assert_int_equal(ledger_get_head(T.m.f.l, &head), IOLM_OK);
	assert_int_equal(jint(j, "height"), head.height);
	assert_int_equal(jhex(j, "state_root", root, 32), 32);
	assert_memory_equal(root, head.state_root, 32);
	assert_int_equal(jhex(j, "block_id", bid, 32), 32);
	iolm_hash(id, IOLM_TAG_BLOCK, hdr, n);
	assert_memory_equal(id, bid, 32);
	assert_int_equal(iolm_decode_block_header(&h, hdr, n, sizeof hdr), IOLM_OK);
	assert_int_equal(h->state_root.len, 32);
	assert_memory_equal(h->state_root.data, root, 32);
	iolm_codec_free(&h->base);
}

/* A {"key", "bytes", "proof"} record: the proof is for the map key of the raw key, and
 * it proves the bytes (or, when want_raw is given, that they are absent) under root; a
 * changed value does not verify. want_raw: the raw key expected. Returns the value's
 * length (copied to val). */
static inline size_t check_record(json_t *rec, const uint8_t root[32], const uint8_t *want_raw,
			   size_t want_rlen, int want_exists, uint8_t *val, size_t cap)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX], key[32];
	ledger_proof *p = malloc(sizeof *p);
	size_t rlen = jhex(rec, "key", raw, sizeof raw), n = 0;
	assert_non_null(p);
	assert_int_equal(rlen, want_rlen);
	assert_memory_equal(raw, want_raw, rlen);
	ledger_map_key(key, raw, rlen);
	proof_from_json(jget(rec, "proof"), p);
	assert_memory_equal(p->key, key, 32);
	if (want_exists) {
		n = jhex(rec, "bytes", val, cap);
		assert_int_equal(ledger_proof_verify(root, key, val, n, p), IOLM_OK);
		assert_int_equal(ledger_proof_verify(root, key, NULL, 0, p), IOLM_EPROOF);
		val[0] ^= 1;
		assert_int_equal(ledger_proof_verify(root, key, val, n, p), IOLM_EPROOF);
		val[0] ^= 1;
	} else {
		uint8_t some[1] = { 0 };
		assert_true(json_is_null(jget(rec, "bytes")));
		assert_int_equal(ledger_proof_verify(root, key, NULL, 0, p), IOLM_OK);
		assert_int_equal(ledger_proof_verify(root, key, some, 0, p), IOLM_EPROOF);
	}
	free(p);
	return n;
}

#endif
