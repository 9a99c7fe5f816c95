/* POST /tx answered later (rpc.h submit_tx_start, node_rpc_submit_done): how iolmd checks
 * a posted transaction's signature off the loop. The backend here starts a submission by
 * scheduling its completion on the same event_base (admitting it to the mempool there),
 * as iolmd's verification pool does; the client on that base waits for the answer. */
#include "rpc_fixture.h"

#include <event2/event.h>

struct async {
	struct rt *t;
	int started;
	int refuse;                  /* submit_tx_start's answer: 0 starts */
	int finish;                  /* finish started submissions (0: leave them waiting) */
	uint64_t token;              /* the last started */
	uint8_t raw[IOLM_MAX_TX_BYTES];
	size_t len;
};

static struct async A;

static int be_submit_never(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32])
{
	(void)ctx, (void)raw, (void)len, (void)id;
	fail_msg("submit_tx called although submit_tx_start is set");
	return IOLM_EIO;
}

static void complete(evutil_socket_t fd, short what, void *arg)
{
	struct async *a = arg;
	uint8_t id[32];
	(void)fd, (void)what;
	int err = ledger_mempool_add(a->t->mp, a->raw, a->len, account_cb, a->t->f.l, id);
	node_rpc_submit_done(a->t->rpc, a->token, err, id);
}

static int be_start(void *ctx, const uint8_t *raw, size_t len, uint64_t token)
{
	struct async *a = ctx;
	assert_true(token != 0);
	if (a->refuse)
		return a->refuse;
	a->started++;
	a->token = token;
	assert_true(len <= sizeof a->raw);
	memcpy(a->raw, raw, len);
	a->len = len;
	if (a->finish) {
		struct timeval tv = { 0, 1000 };
		assert_int_equal(event_base_once(a->t->base, -1, EV_TIMEOUT, complete, a, &tv), 0);
	}
	return IOLM_OK;
}

static int setup_async(void **state)
{
	struct rt *t;
	node_rpc_backend be = { 0 };
	node_rpc_config cfg = { 0 };
	setup(state);
	t = *state;
	node_rpc_destroy(t->rpc);
	memset(&A, 0, sizeof A);
	A.t = t;
	A.finish = 1;
	be.ledger = t->f.l;
	be.mempool = t->mp;
	be.submit_tx = be_submit_never;
	be.submit_tx_start = be_start;
	be.get_status = be_status;
	be.ctx = &A;
	cfg.cookie = t->cookie;
	assert_int_equal(node_rpc_create(&t->rpc, t->base, &cfg, &be), IOLM_OK);
	t->port = node_rpc_port(t->rpc);
	return 0;
}

static char *transfer_hex(struct rt *t, int from, uint64_t amount, uint64_t nonce)
{
	iolm_buf tx;
	char *s;
	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	fx_transfer(&t->f, &tx, from, t->f.id[5], amount, FX_MIN_FEE, nonce);
	s = malloc(2 * tx.len + 1);
	assert_non_null(s);
	iolm_hex_encode(s, 2 * tx.len + 1, tx.data, tx.len);
	iolm_buf_release(&tx, 0);
	return s;
}

static void answered_when_the_backend_finishes(void **state)
{
	struct rt *t = *state;
	char *hex = transfer_hex(t, 0, 100, 1);
	json_t *j = http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex));
	uint8_t id[32], want[32];
	assert_int_equal(t->status, 200);
	assert_int_equal(A.started, 1);
	jhex32(j, "id", id);
	iolm_hash(want, IOLM_TAG_TX, A.raw, A.len);
	assert_memory_equal(id, want, 32);
	assert_int_equal(ledger_mempool_count(t->mp), 1);
	json_decref(j);
	free(hex);

	/* the backend's error is the answer: nonce 0 was used in block 1 */
	hex = transfer_hex(t, 0, 100, 0);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex)),
		     "IOLM_ELEDGER_NONCE_OLD");
	assert_int_equal(t->status, 400);
	assert_int_equal(A.started, 2);
	free(hex);

	/* what is refused before starting is answered at once, nothing started */
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "zz", 2), "IOLM_EHEX");
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, NULL, "00", 2), "IOLM_ERPC_AUTH");
	A.refuse = IOLM_EMEMPOOL_FULL;
	hex = transfer_hex(t, 1, 100, 0);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex)),
		     "IOLM_EMEMPOOL_FULL");
	assert_int_equal(t->status, 503);
	assert_int_equal(A.started, 2);
	free(hex);
}

static void on_gone_answer(struct evhttp_request *req, void *ctx)
{
	(void)req;
	(*(int *)ctx)++;
}

/* POST hex on a new connection and run the loop until the backend has started it (its
 * answer, when one comes, counts in *answers). The caller frees the connection. */
static struct evhttp_connection *post_until_started(struct rt *t, const char *hex, int *answers)
{
	struct evhttp_connection *c =
		evhttp_connection_base_new(t->base, NULL, "127.0.0.1", t->port);
	struct evhttp_request *req = evhttp_request_new(on_gone_answer, answers);
	char bearer[200];
	int before = A.started;
	assert_non_null(c);
	assert_non_null(req);
	snprintf(bearer, sizeof bearer, "Bearer %s", t->cookie);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", bearer);
	assert_int_equal(evbuffer_add(evhttp_request_get_output_buffer(req), hex, strlen(hex)), 0);
	assert_int_equal(evhttp_make_request(c, req, EVHTTP_REQ_POST, "/tx"), 0);
	for (int i = 0; i < 1000 && A.started == before; i++)
		event_base_loop(t->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(A.started, before + 1);
	return c;
}

/* The client leaves before the answer: finishing it later sends nothing and frees the
 * slot; a stale or made-up token is ignored; the next request is served. */
static void client_gone_before_the_answer(void **state)
{
	struct rt *t = *state;
	char *hex = transfer_hex(t, 0, 100, 1);
	int answers = 0;
	A.finish = 0;
	struct evhttp_connection *c = post_until_started(t, hex, &answers);
	evhttp_connection_free(c); /* the client goes away; its request is cancelled */
	for (int i = 0; i < 50; i++)
		event_base_loop(t->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	uint8_t id[32] = { 0 };
	node_rpc_submit_done(t->rpc, A.token, IOLM_OK, id);
	node_rpc_submit_done(t->rpc, A.token, IOLM_OK, id);          /* finished already */
	node_rpc_submit_done(t->rpc, A.token + (1ull << 32), IOLM_OK, id); /* wrong generation */
	node_rpc_submit_done(t->rpc, (1ull << 32) | 0xffffff, IOLM_OK, id); /* no such slot */
	assert_int_equal(answers, 0);
	free(hex);

	A.finish = 1;
	hex = transfer_hex(t, 2, 100, 0);
	json_t *j = http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex));
	assert_int_equal(t->status, 200);
	assert_int_equal(A.started, 2);
	json_decref(j);
	free(hex);
}

/* A server destroyed with an answer still waiting answers it (503, IOLM_ERPC_BUSY) and
 * frees it (LeakSanitizer would see the request otherwise). */
static void waiting_answer_at_shutdown(void **state)
{
	struct rt *t = *state;
	char *hex = transfer_hex(t, 0, 100, 1);
	int answers = 0;
	A.finish = 0;
	struct evhttp_connection *c = post_until_started(t, hex, &answers);
	node_rpc_destroy(t->rpc);
	t->rpc = NULL;
	for (int i = 0; i < 100 && !answers; i++)
		event_base_loop(t->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(answers, 1); /* the answer, or the connection's end */
	evhttp_connection_free(c);
	free(hex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(answered_when_the_backend_finishes, setup_async,
						teardown),
		cmocka_unit_test_setup_teardown(client_gone_before_the_answer, setup_async,
						teardown),
		cmocka_unit_test_setup_teardown(waiting_answer_at_shutdown, setup_async,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
