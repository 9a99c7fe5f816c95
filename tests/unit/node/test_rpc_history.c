/* The RPC's wallet views of the same chain: /history/{addr} (entries, totals, paging
 * by block and within one, kind filters) and /tasks (newest first, paging), and their
 * refusal of bad queries. The chain: rpc_mining_fixture.h. */
#include "rpc_mining_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_of_the_designer),
		cmocka_unit_test(test_history_transfers_name_the_counterparty),
		cmocka_unit_test(test_history_pages_continue_exactly),
		cmocka_unit_test(test_history_bad_queries_are_400),
		cmocka_unit_test(test_tasks_lists_every_task_newest_first),
		cmocka_unit_test(test_tasks_bad_queries_are_400),
	};
	iolm_log_configure(IOLM_LOG_WARN, IOLM_LOG_TEXT, 2);
	return cmocka_run_group_tests(tests, setup, teardown);
}
