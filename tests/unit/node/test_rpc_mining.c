/* The RPC's mining endpoints against a ledger running the joint-mining rules: a task, a
 * work accepted by 3 of 4 validators (its first best), a second work extending it (a
 * breakthrough), and a task without works. Every field is checked against what the rules
 * must have written (docs/economics.md), and every proof is verified against the root
 * the answer carries, the way a wallet would, from the JSON alone. */
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

static void task(uint8_t id[32], int designer, const char *name)
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

static void work(uint8_t id[32], int miner, const uint8_t *parent, uint64_t start,
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
static void build_chain(void)
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

static int account_cb(void *ctx, const uint8_t id[static 20], uint64_t *balance, uint64_t *nonce)
{
	return ledger_get_account(ctx, id, balance, nonce);
}

static int be_submit(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32])
{
	(void)ctx;
	return ledger_mempool_add(T.mp, raw, len, account_cb, T.m.f.l, id);
}

static void be_status(void *ctx, node_status *st)
{
	(void)ctx;
	snprintf(st->chain_id, sizeof st->chain_id, "%s", FX_CHAIN);
	st->validator_index = -1;
}

static int setup(void **state)
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

static int teardown(void **state)
{
	(void)state;
	node_rpc_destroy(T.rpc);
	event_base_free(T.base);
	ledger_mempool_destroy(T.mp);
	free(T.body);
	mfx_free(&T.m);
	return 0;
}

static void http_done(struct evhttp_request *req, void *ctx)
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
static json_t *req(enum evhttp_cmd_type m, const char *path, int want_status)
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

static json_t *get(const char *path, int want_status)
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

static void assert_error(json_t *j, const char *name)
{
	json_t *e = json_object_get(j, "error");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "name")), name);
	json_decref(j);
}

/* ---------------------------------------------------------------- JSON helpers */

static json_t *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		fail_msg("no field %s", key);
	return v;
}

static size_t jhex(json_t *o, const char *key, uint8_t *out, size_t cap)
{
	const char *s = json_string_value(jget(o, key));
	size_t n;
	if (!s)
		fail_msg("field %s is not a string", key);
	assert_int_equal(iolm_hex_decode(out, cap, &n, s, strlen(s)), IOLM_OK);
	return n;
}

static void assert_jhex(json_t *o, const char *key, const uint8_t *want, size_t n)
{
	uint8_t got[256];
	assert_int_equal(jhex(o, key, got, sizeof got), n);
	assert_memory_equal(got, want, n);
}

static uint64_t jint(json_t *o, const char *key)
{
	json_t *v = jget(o, key);
	if (!json_is_integer(v))
		fail_msg("field %s is not an integer", key);
	return (uint64_t)json_integer_value(v);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(jget(o, key));
	if (!s)
		fail_msg("field %s is not a string", key);
	return s;
}

static void hex32(char out[65], const uint8_t id[32])
{
	iolm_hex_encode(out, 65, id, 32);
}

static void addr_of(char out[IOLM_ADDR_STRLEN + 1], int acct)
{
	iolm_addr_encode(out, T.m.f.id[acct]);
}

/* ---------------------------------------------------------------- proof checks */

static void proof_from_json(json_t *pj, ledger_proof *p)
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
static void check_anchor(json_t *j, uint8_t root[32])
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
static size_t check_record(json_t *rec, const uint8_t root[32], const uint8_t *want_raw,
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

/* ---------------------------------------------------------------- tasks */

static void test_task_fields_params_and_proof(void **state)
{
	char id[65], creator[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096], params[4096];
	size_t rlen = ledger_raw_key_task(raw, T.task), n, pn;
	Iolm__TaskState *ts;
	Iolm__TaskCreate *tc;
	json_t *j, *p, *m, *o;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "height"), 8);
	assert_string_equal(jstr(j, "id"), id);
	addr_of(creator, 0);
	assert_string_equal(jstr(j, "creator"), creator);
	assert_int_equal(jint(j, "created_height"), 2);
	assert_int_equal(jint(j, "status"), IOLM__TASK_STATUS__TASK_OPEN);
	assert_string_equal(jstr(j, "status_name"), "open");
	/* two breakthroughs: 10% of 1,000,000, then 10% of the 900,000 left */
	assert_int_equal(jint(j, "pool"), POOL - 100000 - 90000);
	assert_int_equal(jint(j, "paid_out"), 100000 + 90000);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_jhex(j, "best_work", T.work_b, 32);
	assert_int_equal(jint(j, "best_loss"), 3000000);
	assert_int_equal(jint(j, "best_height"), 8);
	assert_int_equal(jint(j, "n_works"), 2);
	assert_int_equal(jint(j, "n_accepted"), 2);
	assert_int_equal(jint(j, "total_credit"), 30); /* a's 10 steps and b's 20 */

	/* params decoded, and their exact bytes are the record's */
	p = jget(j, "params");
	assert_string_equal(jstr(p, "name"), "rpc-test");
	m = jget(p, "model");
	assert_int_equal(jint(m, "n_layer"), 1);
	assert_int_equal(jint(m, "n_embd"), 16);
	assert_int_equal(jint(m, "n_head"), 2);
	assert_int_equal(jint(m, "seq_len"), 16);
	assert_int_equal(jint(m, "vocab"), 256);
	assert_int_equal(jint(m, "init_seed"), 77);
	o = jget(p, "optim");
	assert_true((float)json_real_value(jget(o, "lr")) == 1e-3f);
	assert_true((float)json_real_value(jget(o, "beta1")) == 0.9f);
	assert_true((float)json_real_value(jget(o, "beta2")) == 0.99f);
	assert_true((float)json_real_value(jget(o, "eps")) == 1e-8f);
	assert_true((float)json_real_value(jget(o, "weight_decay")) == 0.1f);
	assert_true((float)json_real_value(jget(o, "grad_clip")) == 1.0f);
	assert_int_equal(jint(o, "warmup_steps"), 5);
	assert_int_equal(jint(o, "total_steps"), 1000);
	assert_int_equal(jint(p, "batch_size"), 2);
	assert_jhex(p, "dataset_id", mfx_art, sizeof mfx_art);
	assert_jhex(p, "eval_id", mfx_art, sizeof mfx_art);
	assert_int_equal(jint(p, "segment_len"), 10);
	assert_int_equal(jint(p, "samples"), 2);
	assert_int_equal(jint(p, "reward_pool"), POOL);
	assert_int_equal(jint(p, "designer_share_bps"), 2000);
	assert_int_equal(jint(p, "breakthrough_bps"), 1000);
	assert_int_equal(jint(p, "margin_start_ppm"), 50000);
	assert_int_equal(jint(p, "margin_end_ppm"), 10000);
	assert_int_equal(jint(p, "margin_decay_blocks"), 100);
	assert_int_equal(jint(p, "bond_min"), 100);
	assert_int_equal(jint(p, "deadline_height"), 5000);

	n = check_record(jget(j, "record"), root, raw, rlen, 1, val, sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ts, &iolm__task_state__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	pn = jhex(j, "params_bytes", params, sizeof params);
	assert_int_equal(pn, ts->params.len);
	assert_memory_equal(params, ts->params.data, pn);
	assert_int_equal(ts->pool, jint(j, "pool"));
	iolm_codec_free(&ts->base);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&tc, &iolm__task_create__descriptor,
					   params, pn, sizeof params),
			 IOLM_OK);
	assert_string_equal(tc->name, "rpc-test");
	iolm_codec_free(&tc->base);
	json_decref(j);
}

/* The proof's StateProof bytes say what its fields say. */
static void test_proof_bytes_match_fields(void **state)
{
	char id[65];
	uint8_t pb[16384];
	size_t n;
	ledger_proof *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	Iolm__StateProof *sp;
	json_t *j, *pj;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	hex32(id, T.work_a);
	j = getf(200, "/work/%s", id);
	pj = jget(jget(j, "record"), "proof");
	proof_from_json(pj, a);
	n = jhex(pj, "bytes", pb, sizeof pb);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&sp, &iolm__state_proof__descriptor,
					   pb, n, sizeof pb),
			 IOLM_OK);
	assert_int_equal(ledger_proof_from_msg(b, sp), IOLM_OK);
	iolm_codec_free(&sp->base);
	assert_int_equal(jint(pj, "depth"), a->depth);
	assert_int_equal(a->depth, b->depth);
	assert_memory_equal(a->key, b->key, 32);
	assert_memory_equal(a->siblings, b->siblings, 32u * a->depth);
	assert_int_equal(a->terminal, b->terminal);
	assert_memory_equal(a->leaf_key, b->leaf_key, 32);
	assert_memory_equal(a->leaf_vhash, b->leaf_vhash, 32);
	free(a);
	free(b);
	json_decref(j);
}

static void test_task_best_is_the_breakthrough(void **state)
{
	char id[65], miner[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096];
	json_t *j, *w;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s/best", id);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "task_id"), id);
	assert_jhex(j, "best_work", T.work_b, 32);
	assert_int_equal(jint(j, "best_loss"), 3000000);
	assert_int_equal(jint(j, "best_height"), 8);
	w = jget(j, "work");
	assert_jhex(w, "id", T.work_b, 32);
	addr_of(miner, 2);
	assert_string_equal(jstr(w, "miner"), miner);
	assert_string_equal(jstr(w, "status_name"), "accepted");
	assert_true(json_is_true(jget(w, "was_best")));
	assert_int_equal(jint(jget(w, "commit"), "eval_loss"), 3000000);
	check_record(jget(w, "record"), root, raw, ledger_raw_key_work(raw, T.work_b), 1, val,
		     sizeof val);
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	json_decref(j);
}

static void test_task_shares_list_every_share_with_proofs(void **state)
{
	char id[65], a1[IOLM_ADDR_STRLEN + 1], a2[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[256];
	json_t *j, *s;
	size_t i, n;
	int first;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s/shares", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "count"), 2);
	assert_int_equal(jint(j, "total_credit"), 30);
	assert_int_equal(jint(j, "sum"), 30);
	assert_false(json_is_true(jget(j, "truncated")));
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	s = jget(j, "shares");
	assert_int_equal(json_array_size(s), 2);
	/* in key order: by account id */
	first = memcmp(T.m.f.id[1], T.m.f.id[2], IOLM_ADDR_LEN) < 0 ? 1 : 2;
	addr_of(a1, first);
	addr_of(a2, 3 - first);
	assert_string_equal(jstr(json_array_get(s, 0), "address"), a1);
	assert_string_equal(jstr(json_array_get(s, 1), "address"), a2);
	for (i = 0; i < 2; i++) {
		json_t *e = json_array_get(s, i);
		int acct = i == 0 ? first : 3 - first;
		Iolm__ShareRecord *sr;
		assert_int_equal(jint(e, "credit"), acct == 1 ? 10 : 20);
		assert_true(json_is_true(jget(e, "exists")));
		n = check_record(jget(e, "record"), root, raw,
				 ledger_raw_key_share(raw, T.task, T.m.f.id[acct]), 1, val,
				 sizeof val);
		assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&sr,
						   &iolm__share_record__descriptor, val, n,
						   sizeof val),
				 IOLM_OK);
		assert_int_equal(sr->credit, jint(e, "credit"));
		iolm_codec_free(&sr->base);
	}
	json_decref(j);
}

static void test_task_without_works_has_no_best_and_no_shares(void **state)
{
	char id[65];
	uint8_t root[32];
	json_t *j;

	(void)state;
	hex32(id, T.task2);
	j = getf(200, "/task/%s", id);
	assert_true(json_is_null(jget(j, "best_work")));
	assert_int_equal(jint(j, "n_works"), 0);
	assert_int_equal(jint(j, "pool"), POOL);
	assert_string_equal(jstr(jget(j, "params"), "name"), "idle");
	json_decref(j);
	assert_error(getf(404, "/task/%s/best", id), "IOLM_ENOTFOUND");
	j = getf(200, "/task/%s/shares", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "count"), 0);
	assert_int_equal(jint(j, "sum"), 0);
	assert_int_equal(json_array_size(jget(j, "shares")), 0);
	json_decref(j);
}

/* ---------------------------------------------------------------- works */

static void test_work_state_commit_and_attestations(void **state)
{
	char id[65], task[65], miner[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096], cb[4096], h[32];
	const ledger_genesis *g = ledger_get_genesis(T.m.f.l);
	json_t *j, *c, *att;
	size_t i, n;
	Iolm__WorkState *ws;

	(void)state;
	hex32(id, T.work_a);
	hex32(task, T.task);
	j = getf(200, "/work/%s", id);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "id"), id);
	assert_string_equal(jstr(j, "task_id"), task);
	addr_of(miner, 1);
	assert_string_equal(jstr(j, "miner"), miner);
	assert_int_equal(jint(j, "status"), IOLM__WORK_STATUS__WORK_ACCEPTED);
	assert_string_equal(jstr(j, "status_name"), "accepted");
	assert_int_equal(jint(j, "bond"), 500);
	assert_int_equal(jint(j, "commit_height"), 3);
	assert_int_equal(jint(j, "commit_index"), 0);
	assert_int_equal(jint(j, "end_step"), 10);
	assert_int_equal(jint(j, "valid_power"), 10 + 11 + 12);
	assert_int_equal(jint(j, "invalid_power"), 0);
	assert_int_equal(jint(j, "decided_height"), 5);
	assert_true(json_is_true(jget(j, "was_best")));
	assert_false(json_is_true(jget(j, "lineage_truncated")));
	assert_int_equal(json_array_size(jget(j, "lineage")), 0);

	c = jget(j, "commit");
	assert_string_equal(jstr(c, "task_id"), task);
	assert_true(json_is_null(jget(c, "parent_work")));
	assert_int_equal(jint(c, "start_step"), 0);
	assert_int_equal(jint(c, "steps"), 10);
	memset(h, 0x3c, sizeof h);
	assert_jhex(c, "proof_root", h, 32);
	memset(h, 0x4d, sizeof h);
	assert_jhex(c, "final_state", h, 32);
	assert_jhex(c, "checkpoint_id", mfx_art, sizeof mfx_art);
	assert_int_equal(jint(c, "eval_loss"), 4000000);
	assert_int_equal(jint(c, "bond"), 500);
	assert_string_equal(jstr(c, "endpoint"), "http://127.0.0.1:9000");

	n = check_record(jget(j, "record"), root, raw, ledger_raw_key_work(raw, T.work_a), 1, val,
			 sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ws, &iolm__work_state__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	n = jhex(j, "commit_bytes", cb, sizeof cb);
	assert_int_equal(n, ws->commit.len);
	assert_memory_equal(cb, ws->commit.data, n);
	iolm_codec_free(&ws->base);

	/* validators 0, 1 and 2 attested at height 5; validator 3 did not */
	att = jget(j, "attestations");
	assert_int_equal(json_array_size(att), 3);
	for (i = 0; i < 3; i++) {
		json_t *a = json_array_get(att, i);
		const ledger_validator *v = ledger_genesis_validator(g, i);
		Iolm__AttestRecord *ar;
		assert_int_equal(jint(a, "validator"), i);
		assert_jhex(a, "pubkey", v->pub, 32);
		assert_int_equal(jint(a, "power"), v->power);
		assert_true(json_is_true(jget(a, "valid")));
		assert_int_equal(jint(a, "eval_loss"), 4000000 + i);
		assert_int_equal(jint(a, "height"), 5);
		assert_jhex(a, "tx_id", T.attest_tx[i], 32);
		n = check_record(jget(a, "record"), root, raw,
				 ledger_raw_key_attest(raw, T.work_a, (uint32_t)i), 1, val,
				 sizeof val);
		assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ar,
						   &iolm__attest_record__descriptor, val, n,
						   sizeof val),
				 IOLM_OK);
		assert_int_equal(ar->eval_loss, 4000000 + i);
		iolm_codec_free(&ar->base);
	}
	json_decref(j);
}

static void test_work_lineage_walks_to_the_root(void **state)
{
	char id[65], parent[65], miner[IOLM_ADDR_STRLEN + 1];
	json_t *j, *l, *e;

	(void)state;
	hex32(id, T.work_b);
	hex32(parent, T.work_a);
	j = getf(200, "/work/%s", id);
	assert_string_equal(jstr(jget(j, "commit"), "parent_work"), parent);
	assert_int_equal(jint(jget(j, "commit"), "start_step"), 10);
	assert_int_equal(jint(j, "end_step"), 30);
	l = jget(j, "lineage");
	assert_int_equal(json_array_size(l), 1);
	e = json_array_get(l, 0);
	assert_string_equal(jstr(e, "id"), parent);
	addr_of(miner, 1);
	assert_string_equal(jstr(e, "miner"), miner);
	assert_string_equal(jstr(e, "status_name"), "accepted");
	assert_int_equal(jint(e, "start_step"), 0);
	assert_int_equal(jint(e, "end_step"), 10);
	assert_int_equal(jint(e, "eval_loss"), 4000000);
	assert_true(json_is_true(jget(e, "was_best")));
	assert_int_equal(json_array_size(jget(j, "attestations")), 3);
	json_decref(j);
}

/* ---------------------------------------------------------------- rewards and shares */

static void check_rewards(int acct, uint64_t breakthrough, uint64_t bonds)
{
	char a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[256];
	Iolm__Rewards *rw;
	size_t n;
	json_t *j;

	addr_of(a, acct);
	j = getf(200, "/rewards/%s", a);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "address"), a);
	assert_jhex(j, "id", T.m.f.id[acct], IOLM_ADDR_LEN);
	assert_true(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "breakthrough"), breakthrough);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_int_equal(jint(j, "bonds_returned"), bonds);
	assert_int_equal(jint(j, "slashed"), 0);
	assert_int_equal(jint(j, "validator"), 0);
	n = check_record(jget(j, "record"), root, raw, ledger_raw_key_rewards(raw, T.m.f.id[acct]),
			 1, val, sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&rw, &iolm__rewards__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	assert_int_equal(rw->breakthrough, breakthrough);
	assert_int_equal(rw->bonds_returned, bonds);
	iolm_codec_free(&rw->base);
	json_decref(j);
}

static void test_rewards_of_designer_and_miners(void **state)
{
	(void)state;
	/* a: 100,000 paid, 20% to the designer, 80,000 to a's miner; b: 90,000 paid,
	 * 18,000 to the designer, 72,000 to b's miner alone (a was the previous best) */
	check_rewards(0, 20000 + 18000, 0);
	check_rewards(1, 80000, 500);
	check_rewards(2, 72000, 600);
}

static void test_rewards_absent_is_zero_with_exclusion_proof(void **state)
{
	char a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX];
	json_t *j;

	(void)state;
	addr_of(a, 5);
	j = getf(200, "/rewards/%s", a);
	check_anchor(j, root);
	assert_false(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "breakthrough"), 0);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_int_equal(jint(j, "bonds_returned"), 0);
	assert_int_equal(jint(j, "slashed"), 0);
	assert_int_equal(jint(j, "validator"), 0);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_rewards(raw, T.m.f.id[5]), 0,
		     NULL, 0);
	json_decref(j);
}

static void test_share_of_one_account(void **state)
{
	char id[65], a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096];
	json_t *j;

	(void)state;
	hex32(id, T.task);
	addr_of(a, 2);
	j = getf(200, "/shares/%s/%s", id, a);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "task_id"), id);
	assert_string_equal(jstr(j, "address"), a);
	assert_true(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "credit"), 20);
	assert_int_equal(jint(j, "total_credit"), 30);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_share(raw, T.task, T.m.f.id[2]), 1,
		     val, sizeof val);
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	json_decref(j);

	/* an account off the lineage: 0 with an exclusion proof */
	addr_of(a, 4);
	j = getf(200, "/shares/%s/%s", id, a);
	check_anchor(j, root);
	assert_false(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "credit"), 0);
	assert_int_equal(jint(j, "total_credit"), 30);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_share(raw, T.task, T.m.f.id[4]), 0,
		     NULL, 0);
	json_decref(j);
}

/* Validators are paid the fees of every block (no subsidy on this chain): 14
 * transactions of 10 over heights 1..8, all of it in their Rewards.validator. */
static void test_rewards_show_validator_pay(void **state)
{
	uint64_t sum = 0;
	(void)state;
	for (int v = 0; v < FX_VALIDATORS; v++) {
		char a[IOLM_ADDR_STRLEN + 1];
		uint8_t vid[IOLM_ADDR_LEN];
		mfx_validator_id(&T.m, v, vid);
		iolm_addr_encode(a, vid);
		json_t *j = getf(200, "/rewards/%s", a);
		assert_true(json_is_true(jget(j, "exists")));
		assert_int_equal(jint(j, "breakthrough"), 0);
		assert_true(jint(j, "validator") > 0);
		sum += jint(j, "validator");
		/* the history's total says the same */
		json_t *h = getf(200, "/history/%s?kind=validator&limit=1000", a);
		assert_int_equal(jint(jget(h, "totals"), "validator"), jint(j, "validator"));
		json_decref(h);
		json_decref(j);
	}
	assert_int_equal(sum, 14 * FX_MIN_FEE);
	/* a miner has received no validator pay */
	char m[IOLM_ADDR_STRLEN + 1];
	addr_of(m, 1);
	json_t *j = getf(200, "/rewards/%s", m);
	assert_int_equal(jint(j, "validator"), 0);
	json_decref(j);
}

/* ---------------------------------------------------------------- history */

static void assert_entry_json(json_t *e, uint64_t height, const char *kind, uint64_t amount,
			      const uint8_t *object, const uint8_t *task, const char *counterparty)
{
	assert_int_equal(jint(e, "height"), height);
	assert_string_equal(jstr(e, "kind"), kind);
	assert_int_equal(jint(e, "amount"), amount);
	if (object)
		assert_jhex(e, "object_id", object, 32);
	else
		assert_true(json_is_null(jget(e, "object_id")));
	if (task)
		assert_jhex(e, "task_id", task, 32);
	else
		assert_true(json_is_null(jget(e, "task_id")));
	if (counterparty)
		assert_string_equal(jstr(e, "counterparty"), counterparty);
	else
		assert_true(json_is_null(jget(e, "counterparty")));
}

static void test_history_of_the_designer(void **state)
{
	char a[IOLM_ADDR_STRLEN + 1];
	json_t *j, *e, *t;

	(void)state;
	addr_of(a, 0);
	j = getf(200, "/history/%s", a);
	assert_string_equal(jstr(j, "address"), a);
	assert_int_equal(jint(j, "height"), 8);
	e = jget(j, "entries");
	assert_int_equal(json_array_size(e), 5);
	assert_entry_json(json_array_get(e, 0), 8, "breakthrough", 18000, T.work_b, T.task, NULL);
	assert_entry_json(json_array_get(e, 1), 5, "breakthrough", 20000, T.work_a, T.task, NULL);
	assert_entry_json(json_array_get(e, 2), 2, "fee", FX_MIN_FEE, T.task, NULL, NULL);
	assert_entry_json(json_array_get(e, 3), 2, "task_created", POOL, T.task, T.task, NULL);
	assert_entry_json(json_array_get(e, 4), 0, "genesis", FX_BALANCE, NULL, NULL, NULL);
	assert_true(jint(json_array_get(e, 2), "seq") > jint(json_array_get(e, 3), "seq"));
	t = jget(j, "totals");
	assert_int_equal(json_object_size(t), LEDGER_HIST_KINDS - 1);
	assert_int_equal(jint(t, "breakthrough"), 38000);
	assert_int_equal(jint(t, "task_created"), POOL);
	assert_int_equal(jint(t, "fee"), FX_MIN_FEE);
	assert_int_equal(jint(t, "genesis"), FX_BALANCE);
	assert_int_equal(jint(t, "transfer_in"), 0);
	assert_int_equal(jint(t, "slashed"), 0);
	assert_true(json_is_null(jget(j, "next_before")));
	assert_true(json_is_null(jget(j, "next_before_seq")));
	json_decref(j);
}

static void test_history_transfers_name_the_counterparty(void **state)
{
	char a7[IOLM_ADDR_STRLEN + 1], v3[IOLM_ADDR_STRLEN + 1];
	uint8_t vid[IOLM_ADDR_LEN];
	json_t *j, *e;

	(void)state;
	addr_of(a7, 7);
	mfx_validator_id(&T.m, 3, vid);
	iolm_addr_encode(v3, vid);
	/* newest first: the last transfer's fee, then the transfer itself */
	j = getf(200, "/history/%s?limit=2", a7);
	e = jget(j, "entries");
	assert_int_equal(json_array_size(e), 2);
	assert_entry_json(json_array_get(e, 0), 1, "fee", FX_MIN_FEE, T.fund_tx[3], NULL, NULL);
	assert_entry_json(json_array_get(e, 1), 1, "transfer_out", 100000, T.fund_tx[3], NULL, v3);
	assert_int_equal(jint(jget(j, "totals"), "transfer_out"), 4 * 100000);
	json_decref(j);
	j = getf(200, "/history/%s?kind=transfer_in", v3);
	e = jget(j, "entries");
	assert_int_equal(json_array_size(e), 1);
	assert_entry_json(json_array_get(e, 0), 1, "transfer_in", 100000, T.fund_tx[3], NULL, a7);
	json_decref(j);
}

/* Every entry of account acct through pages of `limit` (kind filter `kind`, "" for
 * none), following next_before and next_before_seq; the concatenation is returned as a
 * new array. */
static json_t *history_paged(int acct, unsigned limit, const char *kind)
{
	char a[IOLM_ADDR_STRLEN + 1], cursor[64] = "";
	json_t *all = json_array();
	addr_of(a, acct);
	for (int pages = 0;; pages++) {
		json_t *j = getf(200, "/history/%s?limit=%u%s%s%s", a, limit, cursor,
				 *kind ? "&kind=" : "", kind);
		json_t *nb = jget(j, "next_before"), *ns = jget(j, "next_before_seq");
		assert_true(pages < 100);
		assert_true(json_array_size(jget(j, "entries")) <= limit);
		json_array_extend(all, jget(j, "entries"));
		if (json_is_null(nb)) {
			assert_true(json_is_null(ns));
			json_decref(j);
			return all;
		}
		if (json_is_null(ns))
			snprintf(cursor, sizeof cursor, "&before=%" JSON_INTEGER_FORMAT,
				 json_integer_value(nb));
		else
			snprintf(cursor, sizeof cursor,
				 "&before=%" JSON_INTEGER_FORMAT "&before_seq=%" JSON_INTEGER_FORMAT,
				 json_integer_value(nb), json_integer_value(ns));
		json_decref(j);
	}
}

static void test_history_pages_continue_exactly(void **state)
{
	static const char *const kinds[] = { "", "fee", "breakthrough" };
	char a[IOLM_ADDR_STRLEN + 1];
	json_t *j;

	(void)state;
	for (int acct = 0; acct < FX_ACCOUNTS; acct++) {
		for (size_t k = 0; k < 3; k++) {
			json_t *whole = history_paged(acct, 1000, kinds[k]);
			for (unsigned limit = 1; limit <= 3; limit++) {
				json_t *paged = history_paged(acct, limit, kinds[k]);
				assert_true(json_equal(paged, whole));
				json_decref(paged);
			}
			json_decref(whole);
		}
	}
	/* account 0 by two: blocks 8 and 5, then block 2, then genesis */
	addr_of(a, 0);
	j = getf(200, "/history/%s?limit=2", a);
	assert_int_equal(jint(j, "next_before"), 5);
	json_decref(j);
	j = getf(200, "/history/%s?limit=2&before=5", a);
	assert_int_equal(json_array_size(jget(j, "entries")), 2);
	assert_int_equal(jint(j, "next_before"), 2);
	json_decref(j);
	/* account 7's block 1 (eight entries) split by a page of 3: a seq cursor */
	addr_of(a, 7);
	j = getf(200, "/history/%s?limit=3", a);
	assert_int_equal(jint(j, "next_before"), 1);
	assert_int_equal(jint(j, "next_before_seq"),
			 jint(json_array_get(jget(j, "entries"), 2), "seq"));
	json_decref(j);
}

static void test_history_bad_queries_are_400(void **state)
{
	static const char *const bad[] = {
		"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=01", "limit=",
		"before=x", "before=18446744073709551616", "before_seq=3", "before=5&before_seq=4294967296",
		"kind=nope", "kind=Fee", "kind=", "limit=1&limit=2", "foo=1", "limit",
	};
	char a[IOLM_ADDR_STRLEN + 1], longer[200];
	json_t *j;

	(void)state;
	addr_of(a, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_error(getf(400, "/history/%s?%s", a, bad[i]), "IOLM_ERPC_BADQUERY");
	/* the edges that are fine */
	j = getf(200, "/history/%s?limit=1000&before=0&before_seq=0&kind=genesis", a);
	assert_int_equal(json_array_size(jget(j, "entries")), 0);
	assert_true(json_is_null(jget(j, "next_before")));
	json_decref(j);
	assert_error(get("/history/iolm1", 400), "IOLM_EBECH32");
	memset(longer, 'q', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_error(getf(400, "/history/%s", longer), "IOLM_ELENGTH");
	assert_error(get("/history/", 404), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/history/%s/x", a), "IOLM_ERPC_ROUTE");
}

/* ---------------------------------------------------------------- tasks */

static void test_tasks_lists_every_task_newest_first(void **state)
{
	char d0[IOLM_ADDR_STRLEN + 1], d3[IOLM_ADDR_STRLEN + 1], id[65];
	json_t *j, *l, *t;

	(void)state;
	addr_of(d0, 0);
	addr_of(d3, 3);
	j = get("/tasks", 200);
	assert_int_equal(jint(j, "count"), 2);
	assert_int_equal(jint(j, "offset"), 0);
	assert_true(json_is_null(jget(j, "next_offset")));
	assert_int_equal(jint(j, "height"), 8);
	l = jget(j, "tasks");
	assert_int_equal(json_array_size(l), 2);
	/* both from block 2: "idle" came after "rpc-test" in it */
	t = json_array_get(l, 0);
	hex32(id, T.task2);
	assert_string_equal(jstr(t, "id"), id);
	assert_string_equal(jstr(t, "name"), "idle");
	assert_string_equal(jstr(t, "designer"), d3);
	assert_int_equal(jint(t, "created_height"), 2);
	assert_string_equal(jstr(t, "status_name"), "open");
	assert_int_equal(jint(t, "pool"), POOL);
	assert_true(json_is_null(jget(t, "best_work")));
	assert_true(json_is_null(jget(t, "best_loss")));
	assert_int_equal(jint(t, "n_works"), 0);
	assert_int_equal(jint(t, "n_accepted"), 0);
	t = json_array_get(l, 1);
	hex32(id, T.task);
	assert_string_equal(jstr(t, "id"), id);
	assert_string_equal(jstr(t, "name"), "rpc-test");
	assert_string_equal(jstr(t, "designer"), d0);
	assert_int_equal(jint(t, "status"), IOLM__TASK_STATUS__TASK_OPEN);
	assert_int_equal(jint(t, "pool"), POOL - 100000 - 90000);
	assert_jhex(t, "best_work", T.work_b, 32);
	assert_int_equal(jint(t, "best_loss"), 3000000);
	assert_int_equal(jint(t, "n_works"), 2);
	assert_int_equal(jint(t, "n_accepted"), 2);
	json_decref(j);

	/* pages */
	j = get("/tasks?limit=1", 200);
	assert_int_equal(json_array_size(jget(j, "tasks")), 1);
	assert_int_equal(jint(j, "next_offset"), 1);
	hex32(id, T.task2);
	assert_string_equal(jstr(json_array_get(jget(j, "tasks"), 0), "id"), id);
	json_decref(j);
	j = get("/tasks?limit=1&offset=1", 200);
	hex32(id, T.task);
	assert_string_equal(jstr(json_array_get(jget(j, "tasks"), 0), "id"), id);
	assert_true(json_is_null(jget(j, "next_offset")));
	json_decref(j);
	j = get("/tasks?offset=18446744073709551615", 200);
	assert_int_equal(json_array_size(jget(j, "tasks")), 0);
	assert_int_equal(jint(j, "count"), 2);
	json_decref(j);
}

static void test_tasks_bad_queries_are_400(void **state)
{
	static const char *const bad[] = { "limit=0", "limit=1001", "offset=-1", "offset=x",
					   "offset=1&offset=1", "before=3", "kind=fee" };
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_error(getf(400, "/tasks?%s", bad[i]), "IOLM_ERPC_BADQUERY");
	assert_error(get("/tasks/x", 404), "IOLM_ERPC_ROUTE");
	assert_error(req(EVHTTP_REQ_POST, "/tasks", 405), "IOLM_ERPC_METHOD");
}

/* ---------------------------------------------------------------- errors, routes, metrics */

static void test_bad_arguments_are_400(void **state)
{
	char id[65], a[IOLM_ADDR_STRLEN + 1], bad[IOLM_ADDR_STRLEN + 1], longer[200];

	(void)state;
	hex32(id, T.task);
	addr_of(a, 1);
	memcpy(bad, a, sizeof bad);
	bad[IOLM_ADDR_STRLEN - 1] = bad[IOLM_ADDR_STRLEN - 1] == 'q' ? 'p' : 'q';
	memset(longer, 'q', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_error(get("/task/xyz", 400), "IOLM_ERPC_BADID");
	assert_error(getf(400, "/task/%.63s", id), "IOLM_ERPC_BADID");
	assert_error(get("/task/zz00000000000000000000000000000000000000000000000000000000000000",
			 400),
		     "IOLM_ERPC_BADID");
	assert_error(get("/task/xyz/best", 400), "IOLM_ERPC_BADID");
	assert_error(get("/task/xyz/shares", 400), "IOLM_ERPC_BADID");
	assert_error(get("/work/1234", 400), "IOLM_ERPC_BADID");
	assert_error(getf(400, "/rewards/%s", bad), "IOLM_ECHECKSUM");
	assert_error(get("/rewards/iolm1", 400), "IOLM_EBECH32");
	assert_error(getf(400, "/rewards/%s", longer), "IOLM_ELENGTH");
	assert_error(getf(400, "/shares/%s/%s", id, bad), "IOLM_ECHECKSUM");
	assert_error(getf(400, "/shares/%.10s/%s", id, a), "IOLM_ERPC_BADID");
}

static void test_unknown_objects_are_404(void **state)
{
	static const char zeros[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char a[IOLM_ADDR_STRLEN + 1];

	(void)state;
	addr_of(a, 1);
	assert_error(getf(404, "/task/%s", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/task/%s/best", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/task/%s/shares", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/work/%s", zeros), "IOLM_ELEDGER_NOWORK");
	assert_error(getf(404, "/shares/%s/%s", zeros, a), "IOLM_ELEDGER_NOTASK");
}

static void test_mining_routes(void **state)
{
	char id[65], w[65], a[IOLM_ADDR_STRLEN + 1], path[256];

	(void)state;
	hex32(id, T.task);
	hex32(w, T.work_a);
	addr_of(a, 1);
	assert_error(getf(404, "/task/%s/nope", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/task/%s/", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/task/%s/best/x", id), "IOLM_ERPC_ROUTE");
	assert_error(get("/task/", 404), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/work/%s/x", w), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s/", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s/%s/x", id, a), "IOLM_ERPC_ROUTE");
	assert_error(get("/rewards/", 404), "IOLM_ERPC_ROUTE");
	snprintf(path, sizeof path, "/work/%s", w);
	assert_error(req(EVHTTP_REQ_POST, path, 405), "IOLM_ERPC_METHOD");
	assert_string_equal(T.allow, "GET");
	snprintf(path, sizeof path, "/task/%s/best", id);
	assert_error(req(EVHTTP_REQ_DELETE, path, 405), "IOLM_ERPC_METHOD");
}

/* The request counter of endpoint in /metrics. */
static unsigned long long requests(const char *endpoint)
{
	char line[128];
	const char *p;
	json_t *j = get("/metrics", 200);
	json_decref(j);
	snprintf(line, sizeof line, "\niolm_rpc_requests_total{endpoint=\"%s\"} ", endpoint);
	p = strstr(T.body, line);
	if (!p)
		fail_msg("no counter for %s", endpoint);
	return strtoull(p + strlen(line), NULL, 10);
}

static void test_mining_requests_are_counted(void **state)
{
	static const char *const eps[6] = { "task", "work", "rewards", "shares", "history",
					    "tasks" };
	unsigned long long before[6];
	char id[65], w[65], a[IOLM_ADDR_STRLEN + 1];

	(void)state;
	for (int i = 0; i < 6; i++)
		before[i] = requests(eps[i]);
	hex32(id, T.task);
	hex32(w, T.work_a);
	addr_of(a, 1);
	json_decref(getf(200, "/task/%s", id));
	json_decref(getf(200, "/task/%s/best", id));
	json_decref(getf(200, "/work/%s", w));
	json_decref(getf(200, "/rewards/%s", a));
	json_decref(getf(200, "/shares/%s/%s", id, a));
	json_decref(getf(200, "/history/%s", a));
	json_decref(get("/tasks", 200));
	assert_int_equal(requests("task"), before[0] + 2);
	assert_int_equal(requests("work"), before[1] + 1);
	assert_int_equal(requests("rewards"), before[2] + 1);
	assert_int_equal(requests("shares"), before[3] + 1);
	assert_int_equal(requests("history"), before[4] + 1);
	assert_int_equal(requests("tasks"), before[5] + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_fields_params_and_proof),
		cmocka_unit_test(test_proof_bytes_match_fields),
		cmocka_unit_test(test_task_best_is_the_breakthrough),
		cmocka_unit_test(test_task_shares_list_every_share_with_proofs),
		cmocka_unit_test(test_task_without_works_has_no_best_and_no_shares),
		cmocka_unit_test(test_work_state_commit_and_attestations),
		cmocka_unit_test(test_work_lineage_walks_to_the_root),
		cmocka_unit_test(test_rewards_of_designer_and_miners),
		cmocka_unit_test(test_rewards_absent_is_zero_with_exclusion_proof),
		cmocka_unit_test(test_share_of_one_account),
		cmocka_unit_test(test_rewards_show_validator_pay),
		cmocka_unit_test(test_history_of_the_designer),
		cmocka_unit_test(test_history_transfers_name_the_counterparty),
		cmocka_unit_test(test_history_pages_continue_exactly),
		cmocka_unit_test(test_history_bad_queries_are_400),
		cmocka_unit_test(test_tasks_lists_every_task_newest_first),
		cmocka_unit_test(test_tasks_bad_queries_are_400),
		cmocka_unit_test(test_bad_arguments_are_400),
		cmocka_unit_test(test_unknown_objects_are_404),
		cmocka_unit_test(test_mining_routes),
		cmocka_unit_test(test_mining_requests_are_counted),
	};
	iolm_log_configure(IOLM_LOG_WARN, IOLM_LOG_TEXT, 2);
	return cmocka_run_group_tests(tests, setup, teardown);
}
