/* node/kept.c on a ledger running the joint-mining rules and a real artifact store (the
 * checkpoints added pinned, as the verifier adds them): the checkpoint of a task's best
 * model stays pinned and the one it replaces is removed, those of works decided
 * otherwise are removed unless another entry names them, and the list
 * survives a close and reopen (decisions made meanwhile are settled at open); a damaged
 * list file is replaced without touching the store. The data sets fetched for a task
 * are removed once it is closed, unless an open task names them. */
#include "../artifacts/art_test_util.h"
#include "../ledger/mining_fixture.h"

#include "node/kept.h"

static struct {
	struct mfx m;
	char dir[256], store[300], list[300];
	art_store *s;
	uint8_t task[32];
	uint8_t ck[4][ART_ID_LEN]; /* A, B, C, E: stand-ins for checkpoints */
} T;

static void commit_work(uint8_t id[32], int miner, const uint8_t *parent, uint64_t start,
			uint64_t loss)
{
	struct fx_work w;
	fx_work_init(&w, T.task, parent, start, 10, loss, 500, mfx_art, sizeof mfx_art);
	w.w.endpoint = "http://127.0.0.1:9000";
	mfx_sign(&T.m, miner, &w.b, id);
}

/* 1: present and pinned, 0: present unpinned, -1: gone. */
static int held(const uint8_t id[ART_ID_LEN])
{
	art_info info[8];
	size_t n, total;
	assert_int_equal(art_store_list(T.s, info, 8, &n, &total), IOLM_OK);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(info[i].id, id, ART_ID_LEN))
			return info[i].pinned;
	return -1;
}

static void stats(node_kept *k, size_t pending, size_t best)
{
	node_kept_stats st;
	node_kept_get_stats(k, &st);
	assert_int_equal(st.pending, pending);
	assert_int_equal(st.best, best);
}

/* The list file holds one line: kind, T.task, id, then tail. */
static void list_is(const char *kind, const uint8_t id[ART_ID_LEN], const char *tail)
{
	char want[300], a[65], b[2 * ART_ID_LEN + 1], text[1024] = "";
	FILE *f = fopen(T.list, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	iolm_hex_encode(a, sizeof a, T.task, 32);
	iolm_hex_encode(b, sizeof b, id, ART_ID_LEN);
	snprintf(want, sizeof want, "iolm-kept 1\n%s %s %s%s\n", kind, a, b, tail);
	assert_string_equal(text, want);
}

/* Decide work w by a quorum's attestations in a new block, the list closed meanwhile;
 * reopen it (settled at open) and close it again, nothing left pending. */
static void decide_while_closed(const uint8_t w[32], int valid, uint64_t loss)
{
	node_kept *k;
	mfx_attest_quorum(&T.m, w, valid, loss);
	mfx_block(&T.m);
	assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	stats(k, 0, 1);
	node_kept_close(k);
}

/* The chain's attest_timeout_ms for the next setup: NULL for the default (120 s). */
static const char *params;

static int setup(void **state)
{
	struct fx_task t;
	art_add_options pin = { .pin = 1 };
	(void)state;
	memset(&T, 0, sizeof T);
	t_tmpdir(T.dir, sizeof T.dir);
	snprintf(T.store, sizeof T.store, "%s/store", T.dir);
	snprintf(T.list, sizeof T.list, "%s/kept-checkpoints", T.dir);
	T.s = t_open(T.store);
	for (int i = 0; i < 4; i++) {
		char f[320];
		snprintf(f, sizeof f, "%s/ckpt%d", T.dir, i);
		t_write_random(f, 200000, (uint64_t)i + 1);
		/* pinned, as the verifier adds them */
		assert_int_equal(art_store_add(T.s, T.ck[i], NULL, f, &pin), IOLM_OK);
	}
	mfx_init(&T.m, params);
	mfx_fund_validators(&T.m, 7, 100000);
	mfx_task_init(&t, 1000000);
	mfx_sign(&T.m, 0, &t.b, T.task);
	mfx_block(&T.m);
	return 0;
}

static int setup_short_timeout(void **state)
{
	params = ", \"attest_timeout_ms\": 3000";
	int rc = setup(state);
	params = NULL;
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	mfx_free(&T.m);
	art_store_close(T.s);
	t_rmrf(T.dir);
	return 0;
}

static void test_best_pinned_others_removed_across_a_restart(void **state)
{
	enum { A, B, C, E };
	uint8_t wa[32], wb[32], wc[32], wd[32], we[32];
	node_kept *k;
	(void)state;

	/* work a, verified while pending: kept, waiting */
	commit_work(wa, 1, NULL, 0, 4000000);
	mfx_block(&T.m);
	mfx_block(&T.m);
	assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	node_kept_add(k, wa, T.ck[A]);
	stats(k, 1, 0);
	uint8_t owner[32];
	assert_string_equal(node_kept_why(k, T.ck[A], owner), "pending_work");
	assert_memory_equal(owner, wa, 32);
	assert_null(node_kept_why(k, T.ck[B], owner));
	node_kept_settle(k);
	stats(k, 1, 0);
	/* accepted, the task's first best: pinned */
	mfx_attest_quorum(&T.m, wa, 1, 4000000);
	mfx_block(&T.m);
	node_kept_settle(k);
	stats(k, 0, 1);
	assert_string_equal(node_kept_why(k, T.ck[A], owner), "best_model");
	assert_memory_equal(owner, T.task, 32);

	/* b extends a and will beat it; c does not beat it by the margin; d is slashed and
	 * commits the same file as b */
	commit_work(wb, 2, wa, 10, 3000000);
	commit_work(wc, 3, wa, 10, 3900000);
	commit_work(wd, 4, wa, 10, 3500000);
	mfx_block(&T.m);
	mfx_block(&T.m);
	node_kept_add(k, wb, T.ck[B]);
	node_kept_add(k, wc, T.ck[C]);
	node_kept_add(k, wd, T.ck[B]);
	node_kept_add(k, wd, T.ck[B]); /* twice: listed once */
	stats(k, 3, 1);
	mfx_attest_quorum(&T.m, wc, 1, 3900000);
	mfx_attest_quorum(&T.m, wd, 0, 0);
	mfx_block(&T.m);
	node_kept_settle(k);
	stats(k, 1, 1);
	node_kept_close(k); /* runs what it queued */
	assert_int_equal(held(T.ck[A]), 1);
	assert_int_equal(held(T.ck[B]), 1); /* b's, still pending, though d's was decided */
	assert_int_equal(held(T.ck[C]), -1);

	/* the list came back from the file; b is accepted while the node is down: settled
	 * at open, pinned, and a's released */
	decide_while_closed(wb, 1, 3000000);
	assert_int_equal(held(T.ck[A]), -1);
	assert_int_equal(held(T.ck[B]), 1);

	/* e, pending at a close, then decided not to be the best: removed at open; b stays */
	commit_work(we, 5, wb, 20, 2990000);
	mfx_block(&T.m);
	mfx_block(&T.m);
	assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	node_kept_add(k, we, T.ck[E]);
	node_kept_close(k);
	decide_while_closed(we, 1, 2990000);
	assert_int_equal(held(T.ck[E]), -1);
	assert_int_equal(held(T.ck[B]), 1);

	/* the file says so */
	list_is("best", T.ck[B], "");
}

static void test_damaged_list_is_replaced_and_the_store_left_alone(void **state)
{
	node_kept *k;
	(void)state;
	assert_int_equal(art_store_unpin(T.s, T.ck[0]), IOLM_OK);
	static const char *bad[] = {
		"not a list\n",
		"iolm-kept 1\nbest 00 11\n",
		"iolm-kept 1\nsoon aa\n",
		"iolm-kept 1\ndata 00 11 5\n",
		"iolm-kept 2\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		FILE *f = fopen(T.list, "w");
		assert_non_null(f);
		fputs(bad[i], f);
		fclose(f);
		assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
		stats(k, 0, 0);
		node_kept_close(k);
		for (int j = 0; j < 4; j++)
			assert_int_equal(held(T.ck[j]), j != 0);
	}
	/* an unreadable one stops the node instead */
	assert_int_equal(unlink(T.list), 0);
	assert_int_equal(mkdir(T.list, 0700), 0);
	assert_int_not_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	assert_int_equal(rmdir(T.list), 0);
}

static void data_stats(node_kept *k, size_t data)
{
	node_kept_stats st;
	node_kept_get_stats(k, &st);
	assert_int_equal(st.data, data);
}

static uint64_t head_height(void)
{
	ledger_head h;
	assert_int_equal(ledger_get_head(T.m.f.l, &h), IOLM_OK);
	return h.height;
}

static void test_data_sets_released_when_their_tasks_close(void **state)
{
	enum { X, Y, Z, W };
	uint8_t t2[32], t3[32];
	node_kept *k;
	(void)state;
	memset(t2, 0x22, sizeof t2);
	memset(t3, 0x33, sizeof t3);
	/* blocks come 1 s apart; works may stay pending 3 s */
	uint64_t d2 = head_height() + 2, d3 = d2 + 6;
	assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	node_kept_data(k, t2, T.ck[X], d2, 1);  /* fetched for task 2 */
	node_kept_data(k, t2, T.ck[Y], d2, 1);  /* ... and for task 3 too */
	node_kept_data(k, t3, T.ck[Y], d3, 0);
	node_kept_data(k, t2, T.ck[Y], d2, 1);  /* asked again: listed once */
	node_kept_data(k, T.task, T.ck[Z], 0, 1); /* a task without a deadline */
	node_kept_data(k, t2, T.ck[W], d2, 0);  /* held before: an operator's, not listed */
	data_stats(k, 4);
	uint8_t owner[32];
	assert_string_equal(node_kept_why(k, T.ck[Y], owner), "data_set");
	assert_memory_equal(owner, t2, 32);
	assert_null(node_kept_why(k, T.ck[W], owner));
	/* past task 2's deadline, but a work committed at it may still be pending */
	while (head_height() <= d2 + 2) {
		mfx_block(&T.m);
		node_kept_settle(k);
	}
	data_stats(k, 4);
	/* three seconds of block time later: every work of task 2 decided, it is closed; X
	 * goes, Y stays for task 3 */
	for (int i = 0; i < 2; i++) {
		mfx_block(&T.m);
		node_kept_settle(k);
	}
	data_stats(k, 2);
	node_kept_close(k);
	assert_int_equal(held(T.ck[X]), -1);
	assert_int_equal(held(T.ck[Y]), 1);
	/* the list came back from the file; task 3 closes while the node is down: settled
	 * at open */
	while (head_height() <= d3 + 4)
		mfx_block(&T.m);
	assert_int_equal(node_kept_open(&k, T.list, T.m.f.l, T.s), IOLM_OK);
	data_stats(k, 1);
	node_kept_close(k);
	assert_int_equal(held(T.ck[Y]), -1);
	assert_int_equal(held(T.ck[Z]), 1);
	assert_int_equal(held(T.ck[W]), 1);
	list_is("data", T.ck[Z], " 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_best_pinned_others_removed_across_a_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_damaged_list_is_replaced_and_the_store_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_sets_released_when_their_tasks_close,
						setup_short_timeout, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
