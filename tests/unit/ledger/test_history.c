/* The account history and the task list (ledger/history.c), on a chain that runs the
 * joint-mining rules with a block subsidy: an entry of every kind with its amount,
 * height and ids; validator pay equal to subsidy plus fees, in the history and in the
 * Rewards record; totals equal to the sum of the entries and reconciling with every
 * balance; pages that continue exactly, with and without a kind filter; the task list
 * newest first; and the refusals of bad queries. */
#include "../test_util.h"

#include "mining_fixture.h"

#define POOL 1000000u
#define SUBSIDY 1000u
#define N_BLOCKS 9

static struct mfx M;
static uint8_t task_t[32], work_a[32], work_b[32], work_s[32], pay_tx[32], fund_tx[FX_VALIDATORS][32];
static uint64_t fees[N_BLOCKS + 2]; /* fees paid in each block (and block 10, last) */

/* ---------------------------------------------------------------- the chain */

static void queue_task(uint8_t id[32], int designer, uint64_t pool)
{
	struct fx_task t;
	mfx_task_init(&t, pool);
	mfx_sign(&M, designer, &t.b, id);
}

static void queue_work(uint8_t id[32], int miner, const uint8_t *parent, uint64_t start,
		       uint64_t steps, uint64_t loss, uint64_t bond)
{
	struct fx_work w;
	fx_work_init(&w, task_t, parent, start, steps, loss, bond, mfx_art, sizeof mfx_art);
	mfx_sign(&M, miner, &w.b, id);
}

static void block(void)
{
	ledger_head h;
	assert_int_equal(ledger_get_head(M.f.l, &h), IOLM_OK);
	fees[h.height + 1] = M.n_cands * FX_MIN_FEE;
	mfx_block(&M);
}

/* Heights: 1 funds the validators; 2 task t (account 0); 3 work a (account 1); 4 its
 * challenge block; 5 a accepted (the first best); 6 work b on a (account 2) and work s
 * (account 3); 7 challenge; 8 b accepted (a breakthrough), s slashed; 9 account 4 pays
 * 10,000 for the model. */
static void build_chain(void)
{
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		mfx_validator_id(&M, v, vid);
		mfx_transfer(&M, 7, vid, 100000, fund_tx[v]);
	}
	block();
	queue_task(task_t, 0, POOL);
	block();
	queue_work(work_a, 1, NULL, 0, 10, 4000000, 500);
	block();
	block();
	mfx_attest_quorum(&M, work_a, 1, 4000000);
	block();
	queue_work(work_b, 2, work_a, 10, 20, 3000000, 600);
	queue_work(work_s, 3, NULL, 0, 10, 5000000, 700);
	block();
	block();
	mfx_attest_quorum(&M, work_b, 1, 3000000);
	mfx_attest_quorum(&M, work_s, 0, 0);
	block();
	mfx_model_pay(&M, 4, task_t, 10000, pay_tx);
	block();
}

static int setup(void **state)
{
	(void)state;
	mfx_init(&M, ", \"block_subsidy\": 1000, \"attest_timeout_ms\": 5000");
	build_chain();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mfx_free(&M);
	return 0;
}

/* ---------------------------------------------------------------- reading it */

/* Every entry of an account, newest first (see fx_history); *out is malloc'd. */
static size_t list_all(ledger_hist_entry **out, uint64_t totals[LEDGER_HIST_KINDS],
		       const uint8_t *acct, size_t limit, uint32_t kind)
{
	size_t n;
	*out = fx_history(M.f.l, &n, totals, acct, UINT64_MAX, limit, kind);
	return n;
}

struct want {
	uint64_t height;
	uint32_t kind;
	uint64_t amount;
	const uint8_t *object, *task, *counterparty;
};

static void assert_entry(const ledger_hist_entry *e, const struct want *w)
{
	assert_int_equal(e->height, w->height);
	assert_int_equal(e->kind, w->kind);
	assert_int_equal(e->amount, w->amount);
	assert_int_equal(!!(e->has & LEDGER_HIST_HAS_OBJECT), w->object != NULL);
	assert_int_equal(!!(e->has & LEDGER_HIST_HAS_TASK), w->task != NULL);
	assert_int_equal(!!(e->has & LEDGER_HIST_HAS_COUNTERPARTY), w->counterparty != NULL);
	if (w->object)
		assert_memory_equal(e->object_id, w->object, 32);
	if (w->task)
		assert_memory_equal(e->task_id, w->task, 32);
	if (w->counterparty)
		assert_memory_equal(e->counterparty, w->counterparty, IOLM_ADDR_LEN);
}

/* The account's whole history is exactly want[0..n), newest first. */
static void assert_history(const uint8_t *acct, const struct want *want, size_t n)
{
	ledger_hist_entry *e;
	size_t got = list_all(&e, NULL, acct, 1000, 0);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_entry(&e[i], &want[i]);
	for (size_t i = 1; i < n; i++)
		assert_true(e[i - 1].height > e[i].height ||
			    (e[i - 1].height == e[i].height && e[i - 1].seq > e[i].seq));
	free(e);
}

static uint64_t rewards_validator(const uint8_t *acct)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX], root[32];
	size_t rlen = ledger_raw_key_rewards(raw, acct);
	ledger_proof *proof = malloc(sizeof *proof);
	iolm_buf val;
	Iolm__Rewards *r;
	uint64_t height, v;
	assert_non_null(proof);
	iolm_buf_init(&val, 1024);
	assert_int_equal(ledger_get_state_proved(M.f.l, raw, rlen, &val, proof, root, &height),
			 IOLM_OK);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&r, &iolm__rewards__descriptor,
					   val.data, val.len, 1024),
			 IOLM_OK);
	v = r->validator;
	iolm_codec_free(&r->base);
	iolm_buf_release(&val, 0);
	free(proof);
	return v;
}

/* ---------------------------------------------------------------- tests */

static void designer_sees_escrow_breakthroughs_and_revenue(void **state)
{
	const uint8_t *t = task_t;
	/* revenue 10,000: 2,000 to the designer, then 8,000 by shares 10:20 (2,666 and
	 * 5,333), the rounding 1 to the designer after them */
	const struct want w[] = {
		{ 9, LEDGER_HIST_REVENUE, 1, t, t, NULL },
		{ 9, LEDGER_HIST_REVENUE, 2000, t, t, NULL },
		{ 8, LEDGER_HIST_BREAKTHROUGH, 18000, work_b, t, NULL }, /* 20% of 90,000 */
		{ 5, LEDGER_HIST_BREAKTHROUGH, 20000, work_a, t, NULL }, /* 20% of 100,000 */
		{ 2, LEDGER_HIST_FEE, FX_MIN_FEE, t, NULL, NULL },
		{ 2, LEDGER_HIST_TASK_CREATED, POOL, t, t, NULL },
		{ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL },
	};
	(void)state;
	assert_history(M.f.id[0], w, sizeof w / sizeof w[0]);
}

static void miners_see_bonds_breakthroughs_slashing_and_revenue(void **state)
{
	const uint8_t *t = task_t;
	const struct want w1[] = {
		{ 9, LEDGER_HIST_REVENUE, 2666, t, t, NULL },
		{ 5, LEDGER_HIST_BREAKTHROUGH, 80000, work_a, t, NULL },
		{ 5, LEDGER_HIST_BOND_RETURNED, 500, work_a, t, NULL },
		{ 3, LEDGER_HIST_FEE, FX_MIN_FEE, work_a, NULL, NULL },
		{ 3, LEDGER_HIST_WORK_COMMITTED, 500, work_a, t, NULL },
		{ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL },
	};
	const struct want w2[] = {
		{ 9, LEDGER_HIST_REVENUE, 5333, t, t, NULL },
		{ 8, LEDGER_HIST_BREAKTHROUGH, 72000, work_b, t, NULL },
		{ 8, LEDGER_HIST_BOND_RETURNED, 600, work_b, t, NULL },
		{ 6, LEDGER_HIST_FEE, FX_MIN_FEE, work_b, NULL, NULL },
		{ 6, LEDGER_HIST_WORK_COMMITTED, 600, work_b, t, NULL },
		{ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL },
	};
	const struct want w3[] = {
		{ 8, LEDGER_HIST_SLASHED, 700, work_s, t, NULL },
		{ 6, LEDGER_HIST_FEE, FX_MIN_FEE, work_s, NULL, NULL },
		{ 6, LEDGER_HIST_WORK_COMMITTED, 700, work_s, t, NULL },
		{ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL },
	};
	const struct want w4[] = {
		{ 9, LEDGER_HIST_FEE, FX_MIN_FEE, pay_tx, NULL, NULL },
		{ 9, LEDGER_HIST_MODEL_PAID, 10000, t, t, NULL },
		{ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL },
	};
	(void)state;
	assert_history(M.f.id[1], w1, sizeof w1 / sizeof w1[0]);
	assert_history(M.f.id[2], w2, sizeof w2 / sizeof w2[0]);
	assert_history(M.f.id[3], w3, sizeof w3 / sizeof w3[0]);
	assert_history(M.f.id[4], w4, sizeof w4 / sizeof w4[0]);
}

static void transfers_name_their_counterparty_on_both_sides(void **state)
{
	struct want w[2 * FX_VALIDATORS + 1];
	uint8_t vid[FX_VALIDATORS][IOLM_ADDR_LEN];
	size_t n = 0;
	(void)state;
	for (int v = FX_VALIDATORS - 1; v >= 0; v--) {
		mfx_validator_id(&M, v, vid[v]);
		w[n++] = (struct want){ 1, LEDGER_HIST_FEE, FX_MIN_FEE, fund_tx[v], NULL, NULL };
		w[n++] = (struct want){ 1, LEDGER_HIST_TRANSFER_OUT, 100000, fund_tx[v], NULL,
					vid[v] };
	}
	w[n++] = (struct want){ 0, LEDGER_HIST_GENESIS, FX_BALANCE, NULL, NULL, NULL };
	assert_history(M.f.id[7], w, n);

	/* the recipient's side */
	for (int v = 0; v < FX_VALIDATORS; v++) {
		ledger_hist_entry *e;
		size_t k = list_all(&e, NULL, vid[v], 1000, LEDGER_HIST_TRANSFER_IN);
		assert_int_equal(k, 1);
		const struct want in = { 1, LEDGER_HIST_TRANSFER_IN, 100000, fund_tx[v], NULL,
					 M.f.id[7] };
		assert_entry(&e[0], &in);
		free(e);
	}
}

/* Block h pays subsidy + fees: at height 1 (no certificate) all to the proposer
 * (validator 0); after that to the four signers by power 10..13 of 46 (floor), the
 * rounding to the proposer. */
static uint64_t expected_validator_pay(int v)
{
	uint64_t sum = 0;
	for (int h = 1; h <= N_BLOCKS; h++) {
		uint64_t total = fees[h] + SUBSIDY, paid = 0, mine = 0;
		if (h == 1) {
			sum += v == 0 ? total : 0;
			continue;
		}
		for (int s = 0; s < FX_VALIDATORS; s++) {
			uint64_t share = total * (uint64_t)(10 + s) / 46;
			paid += share;
			if (s == v)
				mine = share;
		}
		sum += mine + (v == 0 ? total - paid : 0);
	}
	return sum;
}

static void validators_are_paid_subsidy_and_fees_once_per_block(void **state)
{
	uint64_t all = 0;
	(void)state;
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		uint64_t totals[LEDGER_HIST_KINDS], sum = 0;
		ledger_hist_entry *e;
		mfx_validator_id(&M, v, vid);
		size_t n = list_all(&e, totals, vid, 1000, LEDGER_HIST_VALIDATOR);
		/* one entry per block (v0 is the proposer too: share and remainder together) */
		assert_int_equal(n, v == 0 ? N_BLOCKS : N_BLOCKS - 1);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(e[i].height, N_BLOCKS - i);
			assert_int_equal(e[i].has, 0);
			sum += e[i].amount;
		}
		assert_int_equal(sum, expected_validator_pay(v));
		assert_int_equal(totals[LEDGER_HIST_VALIDATOR], sum);
		assert_int_equal(rewards_validator(vid), sum);
		all += sum;
		free(e);
	}
	uint64_t fee_sum = 0;
	for (int h = 1; h <= N_BLOCKS; h++)
		fee_sum += fees[h];
	assert_int_equal(all, fee_sum + (uint64_t)N_BLOCKS * SUBSIDY);
}

/* For every account: each total is the sum of its entries, and the balance is what
 * the credits minus the debits leave. */
static void totals_sum_the_entries_and_reconcile_the_balance(void **state)
{
	static const int credit[LEDGER_HIST_KINDS] = {
		[LEDGER_HIST_GENESIS] = 1,        [LEDGER_HIST_TRANSFER_OUT] = -1,
		[LEDGER_HIST_TRANSFER_IN] = 1,    [LEDGER_HIST_FEE] = -1,
		[LEDGER_HIST_TASK_CREATED] = -1,  [LEDGER_HIST_WORK_COMMITTED] = -1,
		[LEDGER_HIST_MODEL_PAID] = -1,    [LEDGER_HIST_BREAKTHROUGH] = 1,
		[LEDGER_HIST_REVENUE] = 1,        [LEDGER_HIST_BOND_RETURNED] = 1,
		[LEDGER_HIST_SLASHED] = 0,        [LEDGER_HIST_VALIDATOR] = 1,
	};
	(void)state;
	for (int a = 0; a < FX_ACCOUNTS + FX_VALIDATORS; a++) {
		uint8_t id[IOLM_ADDR_LEN];
		uint64_t totals[LEDGER_HIST_KINDS], sums[LEDGER_HIST_KINDS] = { 0 }, bal, nonce;
		int64_t net = 0;
		ledger_hist_entry *e;
		if (a < FX_ACCOUNTS)
			memcpy(id, M.f.id[a], IOLM_ADDR_LEN);
		else
			mfx_validator_id(&M, a - FX_ACCOUNTS, id);
		size_t n = list_all(&e, totals, id, 1000, 0);
		for (size_t i = 0; i < n; i++)
			sums[e[i].kind] += e[i].amount;
		assert_memory_equal(sums, totals, sizeof sums);
		for (int k = 1; k < LEDGER_HIST_KINDS; k++)
			net += credit[k] * (int64_t)totals[k];
		assert_int_equal(ledger_get_account(M.f.l, id, &bal, &nonce), IOLM_OK);
		assert_int_equal(net, (int64_t)bal);
		free(e);
	}
}

static void pages_of_any_size_continue_exactly(void **state)
{
	uint8_t v0[IOLM_ADDR_LEN];
	(void)state;
	mfx_validator_id(&M, 0, v0);
	const uint8_t *accts[] = { M.f.id[0], M.f.id[7], v0 };
	for (size_t a = 0; a < 3; a++) {
		for (uint32_t kind = 0; kind < LEDGER_HIST_KINDS; kind += 4) {
			ledger_hist_entry *all, *paged;
			size_t n = list_all(&all, NULL, accts[a], 1000, kind);
			for (size_t limit = 1; limit <= 5; limit++) {
				size_t m = list_all(&paged, NULL, accts[a], limit, kind);
				assert_int_equal(m, n);
				assert_memory_equal(paged, all, n * sizeof *all);
				free(paged);
			}
			free(all);
		}
	}
}

/* Account 7's block 1 holds eight entries: a page of 3 splits it, with next_seq. */
static void a_block_larger_than_a_page_is_split_by_seq(void **state)
{
	ledger_hist_entry e[3];
	ledger_hist_page p;
	ledger_hist_query q = { .before_height = UINT64_MAX, .limit = 3 };
	(void)state;
	assert_int_equal(ledger_history(M.f.l, e, &p, M.f.id[7], &q), IOLM_OK);
	assert_int_equal(p.n, 3);
	assert_true(p.more);
	assert_int_equal(p.next_height, 1);
	assert_int_equal(p.next_seq, e[2].seq);
	assert_int_equal(p.height, N_BLOCKS);
	/* a page of 8 takes block 1 whole, then stops before genesis */
	ledger_hist_entry big[8];
	q.limit = 8;
	assert_int_equal(ledger_history(M.f.l, big, &p, M.f.id[7], &q), IOLM_OK);
	assert_int_equal(p.n, 8);
	assert_true(p.more);
	assert_int_equal(p.next_height, 1);
	assert_int_equal(p.next_seq, 0);
	/* before height 1: only the genesis allocation */
	q.before_height = 1;
	assert_int_equal(ledger_history(M.f.l, big, &p, M.f.id[7], &q), IOLM_OK);
	assert_int_equal(p.n, 1);
	assert_false(p.more);
	assert_int_equal(big[0].kind, LEDGER_HIST_GENESIS);
	/* account 0: blocks 9 (two entries) and 8 fill a page of 3; the next starts below 8 */
	q.before_height = UINT64_MAX;
	q.limit = 3;
	assert_int_equal(ledger_history(M.f.l, big, &p, M.f.id[0], &q), IOLM_OK);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.next_height, 8);
	assert_int_equal(p.next_seq, 0);
	/* account 0's page of 5 would cut block 2 (fee, task_created): it ends at 5 */
	q.limit = 5;
	assert_int_equal(ledger_history(M.f.l, big, &p, M.f.id[0], &q), IOLM_OK);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.next_height, 3);
	assert_int_equal(p.next_seq, 0);
}

static void an_account_without_history_has_an_empty_page(void **state)
{
	uint8_t nobody[IOLM_ADDR_LEN];
	ledger_hist_entry e[1];
	ledger_hist_page p;
	ledger_hist_query q = { .before_height = UINT64_MAX, .limit = 1 };
	(void)state;
	memset(nobody, 0xee, sizeof nobody);
	assert_int_equal(ledger_history(M.f.l, e, &p, nobody, &q), IOLM_OK);
	assert_int_equal(p.n, 0);
	assert_false(p.more);
	for (int k = 0; k < LEDGER_HIST_KINDS; k++)
		assert_int_equal(p.totals[k], 0);
	/* before 0: nothing, not even genesis */
	q.before_height = 0;
	assert_int_equal(ledger_history(M.f.l, e, &p, M.f.id[0], &q), IOLM_OK);
	assert_int_equal(p.n, 0);
	assert_false(p.more);
	assert_int_equal(p.totals[LEDGER_HIST_GENESIS], FX_BALANCE);
}

static void bad_queries_are_refused(void **state)
{
	ledger_hist_entry e[1];
	ledger_hist_page p;
	ledger_hist_query q = { .before_height = UINT64_MAX, .limit = 0 };
	(void)state;
	assert_int_equal(ledger_history(M.f.l, e, &p, M.f.id[0], &q), IOLM_EINVAL);
	q.limit = 1;
	q.kind = LEDGER_HIST_KINDS;
	assert_int_equal(ledger_history(M.f.l, e, &p, M.f.id[0], &q), IOLM_EINVAL);
	assert_int_equal(p.n, 0);
}

static void kind_names_round_trip(void **state)
{
	(void)state;
	for (uint32_t k = 1; k < LEDGER_HIST_KINDS; k++)
		assert_int_equal(ledger_hist_kind_parse(ledger_hist_kind_name(k)), k);
	assert_string_equal(ledger_hist_kind_name(LEDGER_HIST_TRANSFER_OUT), "transfer_out");
	assert_null(ledger_hist_kind_name(0));
	assert_null(ledger_hist_kind_name(LEDGER_HIST_KINDS));
	assert_int_equal(ledger_hist_kind_parse("Fee"), 0);
	assert_int_equal(ledger_hist_kind_parse(""), 0);
}

/* Runs last: it adds block 10 with two more tasks. */
static void tasks_are_listed_newest_first(void **state)
{
	uint8_t u1[32], u2[32], ids[4][32];
	size_t n;
	uint64_t total, height;
	(void)state;
	queue_task(u1, 5, 5000);
	queue_task(u2, 5, 6000);
	block();
	assert_int_equal(ledger_list_tasks(M.f.l, ids, &n, &total, &height, 0, 4), IOLM_OK);
	assert_int_equal(n, 3);
	assert_int_equal(total, 3);
	assert_int_equal(height, N_BLOCKS + 1);
	assert_memory_equal(ids[0], u2, 32); /* later in block 10 */
	assert_memory_equal(ids[1], u1, 32);
	assert_memory_equal(ids[2], task_t, 32);
	assert_int_equal(ledger_list_tasks(M.f.l, ids, &n, &total, &height, 1, 1), IOLM_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(ids[0], u1, 32);
	assert_int_equal(ledger_list_tasks(M.f.l, ids, &n, &total, &height, 2, 4), IOLM_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(ids[0], task_t, 32);
	assert_int_equal(ledger_list_tasks(M.f.l, ids, &n, &total, &height, 3, 4), IOLM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 3);
	assert_int_equal(ledger_list_tasks(M.f.l, ids, &n, &total, &height, UINT64_MAX, 4),
			 IOLM_OK);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(designer_sees_escrow_breakthroughs_and_revenue),
		cmocka_unit_test(miners_see_bonds_breakthroughs_slashing_and_revenue),
		cmocka_unit_test(transfers_name_their_counterparty_on_both_sides),
		cmocka_unit_test(validators_are_paid_subsidy_and_fees_once_per_block),
		cmocka_unit_test(totals_sum_the_entries_and_reconcile_the_balance),
		cmocka_unit_test(pages_of_any_size_continue_exactly),
		cmocka_unit_test(a_block_larger_than_a_page_is_split_by_seq),
		cmocka_unit_test(an_account_without_history_has_an_empty_page),
		cmocka_unit_test(bad_queries_are_refused),
		cmocka_unit_test(kind_names_round_trip),
		cmocka_unit_test(tasks_are_listed_newest_first),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
