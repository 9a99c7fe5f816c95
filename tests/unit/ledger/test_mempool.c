/* ledger/mempool.c: admission (every error), replacement, caps, selection, update and
 * removal, against a small in-memory account table. */
#include "mempool_fixture.h"

/* ---- admission ---- */

static void add_accepts_and_reports_id(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	uint8_t id[32], want[32];
	ledger_tx tx;

	make_tx(&b, &f->keys[0], 0, 10, 100);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, b.data, b.len), IOLM_OK);
	memcpy(want, tx.id, 32);
	ledger_tx_release(&tx);
	assert_int_equal(ledger_mempool_add(f->mp, b.data, b.len, world_account, &f->w, id),
			 IOLM_OK);
	assert_memory_equal(id, want, 32);
	assert_true(ledger_mempool_has(f->mp, id));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	assert_int_equal(ledger_mempool_bytes(f->mp), b.len);
	iolm_buf_release(&b, 0);
}

static void add_rejects_malformed_bytes(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff};
	uint8_t *big;

	assert_int_equal(ledger_mempool_add(f->mp, garbage, sizeof garbage, world_account,
					    &f->w, NULL),
			 IOLM_EDECODE);
	make_tx(&b, &f->keys[0], 0, 10, 100);
	/* truncated */
	assert_int_equal(ledger_mempool_add(f->mp, b.data, b.len - 1, world_account, &f->w,
					    NULL),
			 IOLM_EDECODE);
	/* trailing garbage: a second copy of a field is not the canonical encoding */
	assert_int_equal(iolm_buf_append(&b, b.data + b.len - 66, 66), IOLM_OK);
	assert_int_equal(submit_raw(f, &b), IOLM_ENONCANON);
	iolm_buf_release(&b, 0);
	/* over the transaction size cap */
	big = calloc(1, IOLM_MAX_TX_BYTES + 1);
	assert_non_null(big);
	assert_int_equal(ledger_mempool_add(f->mp, big, IOLM_MAX_TX_BYTES + 1, world_account,
					    &f->w, NULL),
			 IOLM_ETOOBIG);
	free(big);
	assert_int_equal(ledger_mempool_count(f->mp), 0);
	assert_int_equal(ledger_mempool_bytes(f->mp), 0);
}

static void add_rejects_other_chain(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	make_tx_chain(&b, &f->keys[0], 0, 10, 100, "iolm-other");
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_CHAIN);
	iolm_buf_release(&b, 0);
	assert_int_equal(ledger_mempool_count(f->mp), 0);
}

static void add_rejects_bad_signature(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	ledger_tx tx;

	make_tx(&b, &f->keys[0], 0, 10, 100);
	/* Tx{body = 1, signature = 2}: the signature is the last 64 bytes. */
	b.data[b.len - 10] ^= 0x01;
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, b.data, b.len), IOLM_OK);
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_SIGNATURE);
	assert_false(ledger_sigcache_has(f->cache, tx.id));
	assert_false(ledger_mempool_has(f->mp, tx.id));
	assert_int_equal(ledger_mempool_count(f->mp), 0);
	ledger_tx_release(&tx);
	iolm_buf_release(&b, 0);
}

static void add_fills_signature_cache(void **state)
{
	struct fixture *f = *state;
	uint8_t id[32];
	assert_int_equal(submit(f, 0, 0, 10, 100, id), IOLM_OK);
	assert_true(ledger_sigcache_has(f->cache, id));
}

/* An id already in the cache is not verified again: a bad signature under a cached id
 * gets in, which shows the check was skipped (the cache is trusted by construction). */
static void add_skips_verify_for_cached_id(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	ledger_tx tx;

	make_tx(&b, &f->keys[0], 0, 10, 100);
	b.data[b.len - 1] ^= 0x80;
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, b.data, b.len), IOLM_OK);
	ledger_sigcache_add(f->cache, tx.id);
	assert_int_equal(submit_raw(f, &b), IOLM_OK);
	assert_true(ledger_mempool_has(f->mp, tx.id));
	ledger_tx_release(&tx);
	iolm_buf_release(&b, 0);
}

static void add_works_without_cache(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	ledger_mempool_destroy(f->mp);
	f->mp = NULL;
	assert_int_equal(ledger_mempool_create(&f->mp, &default_params, CHAIN, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
	make_tx(&b, &f->keys[1], 0, 10, 100);
	b.data[b.len - 1] ^= 0x80;
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_SIGNATURE);
	iolm_buf_release(&b, 0);
	assert_int_equal(ledger_mempool_count(f->mp), 1);
}

static void add_rejects_fee_below_minimum(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(submit(f, 0, 0, 9, 100, NULL), IOLM_ELEDGER_FEE);
	assert_int_equal(submit(f, 0, 0, 0, 100, NULL), IOLM_ELEDGER_FEE);
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
}

static void add_rejects_used_nonce(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], 1000000, 5);
	assert_int_equal(submit(f, 0, 4, 10, 100, NULL), IOLM_ELEDGER_NONCE_OLD);
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_ELEDGER_NONCE_OLD);
	assert_int_equal(submit(f, 0, 5, 10, 100, NULL), IOLM_OK);
}

static void add_rejects_beyond_window(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], 1000000, 3);
	/* window 8: next 3 allows 3..11 */
	assert_int_equal(submit(f, 0, 12, 10, 100, NULL), IOLM_EMEMPOOL_WINDOW);
	assert_int_equal(submit(f, 0, UINT64_MAX, 10, 100, NULL), IOLM_EMEMPOOL_WINDOW);
	/* ahead but inside the window: admitted, it waits for the gap */
	assert_int_equal(submit(f, 0, 11, 10, 100, NULL), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 1);
}

static void add_rejects_insufficient_balance(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], 110, 0);
	assert_int_equal(submit(f, 0, 0, 11, 100, NULL), IOLM_ELEDGER_BALANCE);
	assert_int_equal(submit(f, 0, 0, 10, 101, NULL), IOLM_ELEDGER_BALANCE);
	/* exactly the balance fits */
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
	/* an account that does not exist has nothing */
	uint8_t ghost[IOLM_ADDR_LEN];
	iolm_key k;
	iolm_buf b;
	assert_int_equal(iolm_key_generate(&k), IOLM_OK);
	iolm_addr_from_pub(ghost, iolm_key_pub(&k));
	make_tx(&b, &k, 0, 10, 1);
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_BALANCE);
	iolm_buf_release(&b, 0);
	iolm_key_wipe(&k);
}

static void add_rejects_cumulative_balance(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], 100, 0);
	assert_int_equal(submit(f, 0, 0, 10, 50, NULL), IOLM_OK); /* 60 */
	assert_int_equal(submit(f, 0, 1, 10, 31, NULL), IOLM_ELEDGER_BALANCE); /* 101 */
	/* a later nonce with a gap counts what is pending before it too */
	assert_int_equal(submit(f, 0, 3, 10, 31, NULL), IOLM_ELEDGER_BALANCE);
	assert_int_equal(submit(f, 0, 1, 10, 30, NULL), IOLM_OK); /* 100 */
	assert_int_equal(submit(f, 0, 2, 10, 1, NULL), IOLM_ELEDGER_BALANCE);
	assert_int_equal(ledger_mempool_count(f->mp), 2);
}

static void add_rejects_cost_overflow(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], UINT64_MAX, 0);
	/* amount + fee wraps 64 bits */
	assert_int_equal(submit(f, 0, 0, 10, UINT64_MAX - 5, NULL), IOLM_ELEDGER_BALANCE);
	/* each fits, the running sum would wrap */
	assert_int_equal(submit(f, 0, 0, 10, UINT64_MAX - 20, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 10, 100, NULL), IOLM_ELEDGER_BALANCE);
}

static void add_rejects_duplicate(void **state)
{
	struct fixture *f = *state;
	iolm_buf b;
	make_tx(&b, &f->keys[0], 0, 10, 100);
	assert_int_equal(submit_raw(f, &b), IOLM_OK);
	assert_int_equal(submit_raw(f, &b), IOLM_EMEMPOOL_DUP);
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	iolm_buf_release(&b, 0);
}

static void add_propagates_account_error(void **state)
{
	struct fixture *f = *state;
	f->w.fail = IOLM_ELEDGER_LMDB;
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_ELEDGER_LMDB);
	f->w.fail = 0;
	assert_int_equal(ledger_mempool_count(f->mp), 0);
}

/* ---- replacement ---- */

static void replace_refused_below_bump(void **state)
{
	struct fixture *f = *state;
	uint8_t old[32];
	assert_int_equal(submit(f, 0, 0, 100, 100, old), IOLM_OK);
	/* 10% bump: 109 is not enough, nor a lower or equal fee */
	assert_int_equal(submit(f, 0, 0, 109, 100, NULL), IOLM_EMEMPOOL_REPLACE);
	assert_int_equal(submit(f, 0, 0, 100, 101, NULL), IOLM_EMEMPOOL_REPLACE);
	assert_int_equal(submit(f, 0, 0, 50, 100, NULL), IOLM_EMEMPOOL_REPLACE);
	assert_true(ledger_mempool_has(f->mp, old));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
}

static void replace_accepted_with_bump(void **state)
{
	struct fixture *f = *state;
	uint8_t old[32], new[32];
	assert_int_equal(submit(f, 0, 0, 100, 100, old), IOLM_OK);
	size_t bytes_before = ledger_mempool_bytes(f->mp);
	assert_int_equal(submit(f, 0, 0, 110, 100, new), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, old));
	assert_true(ledger_mempool_has(f->mp, new));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	assert_int_equal(ledger_mempool_bytes(f->mp), bytes_before); /* same varint sizes */
}

/* With no bump configured, a replacement must still pay strictly more. */
static void replace_needs_higher_fee_without_bump(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	p.replace_bump_pct = 0;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 100, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 0, 100, 99, NULL), IOLM_EMEMPOOL_REPLACE);
	assert_int_equal(submit(f, 0, 0, 101, 99, NULL), IOLM_OK);
}

/* A replacement counts its own cost, not the old one's, against the balance. */
static void replace_balance_counts_new_cost(void **state)
{
	struct fixture *f = *state;
	world_set(&f->w, f->ids[0], 200, 0);
	assert_int_equal(submit(f, 0, 0, 100, 100, NULL), IOLM_OK); /* 200 */
	assert_int_equal(submit(f, 0, 0, 110, 91, NULL), IOLM_ELEDGER_BALANCE); /* 201 */
	assert_int_equal(submit(f, 0, 0, 110, 90, NULL), IOLM_OK); /* 200 */
}

/* Documented policy: a replacement that raises the cost drops the account's later
 * transactions from the first that no longer fits. */
static void replace_drops_later_that_no_longer_fit(void **state)
{
	struct fixture *f = *state;
	uint8_t t0[32], t1[32], t2[32], t3[32], r0[32];
	world_set(&f->w, f->ids[0], 120, 0);
	assert_int_equal(submit(f, 0, 0, 10, 20, t0), IOLM_OK); /* 30 */
	assert_int_equal(submit(f, 0, 1, 10, 20, t1), IOLM_OK); /* 60 */
	assert_int_equal(submit(f, 0, 2, 10, 20, t2), IOLM_OK); /* 90 */
	assert_int_equal(submit(f, 0, 3, 10, 20, t3), IOLM_OK); /* 120 */
	assert_int_equal(submit(f, 0, 0, 20, 40, r0), IOLM_OK); /* 60, 90, 120, 150 > 120 */
	assert_false(ledger_mempool_has(f->mp, t0));
	assert_true(ledger_mempool_has(f->mp, r0));
	assert_true(ledger_mempool_has(f->mp, t1));
	assert_true(ledger_mempool_has(f->mp, t2));
	assert_false(ledger_mempool_has(f->mp, t3));
	assert_int_equal(ledger_mempool_count(f->mp), 3);
}

/* Filling a gap raises the running cost of what waits behind it the same way. */
static void gap_fill_drops_later_that_no_longer_fit(void **state)
{
	struct fixture *f = *state;
	uint8_t t0[32], t2[32], t3[32], t1[32];
	world_set(&f->w, f->ids[0], 100, 0);
	assert_int_equal(submit(f, 0, 0, 10, 20, t0), IOLM_OK); /* 30 */
	assert_int_equal(submit(f, 0, 2, 10, 20, t2), IOLM_OK); /* 60 */
	assert_int_equal(submit(f, 0, 3, 10, 20, t3), IOLM_OK); /* 90 */
	assert_int_equal(submit(f, 0, 1, 10, 20, t1), IOLM_OK); /* 30+30+30 = 90, t3 120 */
	assert_true(ledger_mempool_has(f->mp, t0));
	assert_true(ledger_mempool_has(f->mp, t1));
	assert_true(ledger_mempool_has(f->mp, t2));
	assert_false(ledger_mempool_has(f->mp, t3));
	assert_int_equal(ledger_mempool_count(f->mp), 3);
}

/* ---- caps ---- */

static void add_rejects_when_count_full(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	p.max_txs = 2;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 100, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 100, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 2, 0, 100, 100, NULL), IOLM_EMEMPOOL_FULL);
	assert_int_equal(submit(f, 0, 1, 100, 100, NULL), IOLM_EMEMPOOL_FULL);
	/* a replacement adds nothing, so it still goes in */
	assert_int_equal(submit(f, 1, 0, 200, 100, NULL), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 2);
}

static void add_rejects_when_bytes_full(void **state)
{
	struct fixture *f = *state;
	iolm_buf a, b, c;
	ledger_mempool_params p = default_params;

	make_tx(&a, &f->keys[0], 0, 100, 100);
	make_tx(&b, &f->keys[1], 0, 100, 100);
	make_tx(&c, &f->keys[1], 0, 200, 100); /* replacement of b, a byte longer */
	assert_int_equal(c.len, b.len + 1);
	p.max_bytes = a.len + b.len;
	fixture_open(f, &p);
	assert_int_equal(submit_raw(f, &a), IOLM_OK);
	assert_int_equal(submit_raw(f, &b), IOLM_OK);
	assert_int_equal(ledger_mempool_bytes(f->mp), a.len + b.len);
	assert_int_equal(submit(f, 2, 0, 100, 100, NULL), IOLM_EMEMPOOL_FULL);
	/* the replacement is one byte over */
	assert_int_equal(submit_raw(f, &c), IOLM_EMEMPOOL_FULL);

	/* one byte short of two transactions */
	p.max_bytes = a.len + b.len - 1;
	fixture_open(f, &p);
	assert_int_equal(submit_raw(f, &a), IOLM_OK);
	assert_int_equal(submit_raw(f, &b), IOLM_EMEMPOOL_FULL);
	/* a transaction bigger than the whole cap */
	p.max_bytes = a.len - 1;
	fixture_open(f, &p);
	assert_int_equal(submit_raw(f, &a), IOLM_EMEMPOOL_FULL);
	iolm_buf_release(&a, 0);
	iolm_buf_release(&b, 0);
	iolm_buf_release(&c, 0);
}

static void add_rejects_when_account_full(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	p.max_per_account = 2;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 100, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 100, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 100, 100, NULL), IOLM_EMEMPOOL_ACCOUNT_FULL);
	/* a replacement and other accounts are unaffected */
	assert_int_equal(submit(f, 0, 1, 200, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 100, 100, NULL), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 3);
}

/* ---- selection ---- */

static void select_orders_by_fee_across_accounts(void **state)
{
	struct fixture *f = *state;
	uint8_t a[32], b[32], c[32];
	struct picked p;
	assert_int_equal(submit(f, 0, 0, 10, 100, a), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 30, 100, b), IOLM_OK);
	assert_int_equal(submit(f, 2, 0, 20, 100, c), IOLM_OK);
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 3);
	assert_memory_equal(p.ids[0], b, 32);
	assert_memory_equal(p.ids[1], c, 32);
	assert_memory_equal(p.ids[2], a, 32);
	/* selection removes nothing */
	assert_int_equal(ledger_mempool_count(f->mp), 3);
}

static void select_keeps_nonce_order_within_account(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32], a1[32], a2[32], b0[32];
	struct picked p;
	/* submitted out of order, and a later nonce pays more: nonce order still wins */
	assert_int_equal(submit(f, 0, 2, 40, 100, a2), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 50, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 20, 100, b0), IOLM_OK);
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 4);
	assert_memory_equal(p.ids[0], b0, 32);
	assert_memory_equal(p.ids[1], a0, 32);
	assert_memory_equal(p.ids[2], a1, 32);
	assert_memory_equal(p.ids[3], a2, 32);
}

static void select_respects_count_limit(void **state)
{
	struct fixture *f = *state;
	uint8_t a[32], b[32];
	struct picked p;
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 30, 100, a), IOLM_OK);
	assert_int_equal(submit(f, 2, 0, 20, 100, b), IOLM_OK);
	assert_int_equal(select_all(f, SIZE_MAX, 2, &p), IOLM_OK);
	assert_int_equal(p.n, 2);
	assert_memory_equal(p.ids[0], a, 32);
	assert_memory_equal(p.ids[1], b, 32);
	assert_int_equal(select_all(f, SIZE_MAX, 0, &p), IOLM_OK);
	assert_int_equal(p.n, 0);
}

/* The id of an encoded transaction. */
static void id_of(uint8_t id[32], const iolm_buf *b)
{
	ledger_tx t;
	assert_int_equal(ledger_tx_decode(&t, CHAIN, b->data, b->len), IOLM_OK);
	memcpy(id, t.id, 32);
	ledger_tx_release(&t);
}

static void select_respects_byte_limit(void **state)
{
	struct fixture *f = *state;
	iolm_buf big, small, mid;
	struct picked p;
	uint8_t big_id[32], mid_id[32], small_id[32];

	/* longer varints make the higher-fee transactions the bigger ones */
	make_tx(&big, &f->keys[0], 0, 300, 1000);
	make_tx(&mid, &f->keys[1], 0, 200, 100);
	make_tx(&small, &f->keys[2], 0, 100, 1);
	assert_true(big.len > mid.len && mid.len > small.len);
	id_of(big_id, &big);
	id_of(mid_id, &mid);
	id_of(small_id, &small);
	assert_int_equal(submit_raw(f, &big), IOLM_OK);
	assert_int_equal(submit_raw(f, &mid), IOLM_OK);
	assert_int_equal(submit_raw(f, &small), IOLM_OK);

	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 3);
	/* room for big and small: mid does not fit after big, small still does */
	assert_int_equal(select_all(f, big.len + small.len, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 2);
	assert_memory_equal(p.ids[0], big_id, 32);
	assert_memory_equal(p.ids[1], small_id, 32);
	assert_int_equal(p.bytes, big.len + small.len);
	/* big is passed over when it alone is too big */
	assert_int_equal(select_all(f, mid.len, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 1);
	assert_memory_equal(p.ids[0], mid_id, 32);
	assert_int_equal(select_all(f, mid.len - 1, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 1);
	assert_memory_equal(p.ids[0], small_id, 32);
	assert_int_equal(select_all(f, small.len - 1, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 0);
	iolm_buf_release(&big, 0);
	iolm_buf_release(&mid, 0);
	iolm_buf_release(&small, 0);
}

/* When an account's next transaction does not fit, nothing after it may go either, while
 * other accounts' smaller ones still may. */
static void select_byte_limit_ends_account_run(void **state)
{
	struct fixture *f = *state;
	iolm_buf a0, a1, a2, b0, c0;
	uint8_t a0_id[32], b0_id[32], c0_id[32];
	struct picked p;

	make_tx(&b0, &f->keys[1], 0, 400, 1);
	make_tx(&a0, &f->keys[0], 0, 300, 1);
	make_tx(&a1, &f->keys[0], 1, 300, 1000);
	make_tx(&a2, &f->keys[0], 2, 300, 1);
	make_tx(&c0, &f->keys[2], 0, 10, 1);
	assert_true(a2.len < a1.len && c0.len <= a2.len);
	id_of(a0_id, &a0);
	id_of(b0_id, &b0);
	id_of(c0_id, &c0);
	assert_int_equal(submit_raw(f, &a0), IOLM_OK);
	assert_int_equal(submit_raw(f, &a1), IOLM_OK);
	assert_int_equal(submit_raw(f, &a2), IOLM_OK);
	assert_int_equal(submit_raw(f, &b0), IOLM_OK);
	assert_int_equal(submit_raw(f, &c0), IOLM_OK);
	/* b0, a0, then room for a2 or c0 but not a1: a2 must wait for a1, c0 goes */
	assert_int_equal(select_all(f, b0.len + a0.len + a2.len, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 3);
	assert_memory_equal(p.ids[0], b0_id, 32);
	assert_memory_equal(p.ids[1], a0_id, 32);
	assert_memory_equal(p.ids[2], c0_id, 32);
	iolm_buf_release(&a0, 0);
	iolm_buf_release(&a1, 0);
	iolm_buf_release(&a2, 0);
	iolm_buf_release(&b0, 0);
	iolm_buf_release(&c0, 0);
}

static void select_stops_at_gap(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32];
	struct picked p;
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 90, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 1, 1, 90, 100, NULL), IOLM_OK); /* next is 0 */
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 1);
	assert_memory_equal(p.ids[0], a0, 32);
}

static void select_skips_below_next_nonce(void **state)
{
	struct fixture *f = *state;
	uint8_t a1[32], a2[32];
	struct picked p;
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 10, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 10, 100, a2), IOLM_OK);
	world_set(&f->w, f->ids[0], 1000000, 1); /* nonce 0 committed, not yet updated */
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 2);
	assert_memory_equal(p.ids[0], a1, 32);
	assert_memory_equal(p.ids[1], a2, 32);
}

static void select_stops_when_emit_refuses(void **state)
{
	struct fixture *f = *state;
	struct picked p;
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 20, 100, NULL), IOLM_OK);
	memset(&p, 0, sizeof p);
	p.stop_after = 1;
	assert_int_equal(ledger_mempool_select(f->mp, SIZE_MAX, SIZE_MAX, world_account, &f->w,
					       pick, &p),
			 7);
	assert_int_equal(p.n, 1);
	f->w.fail = IOLM_ELEDGER_LMDB;
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_ELEDGER_LMDB);
	f->w.fail = 0;
}

static void select_empty_pool(void **state)
{
	struct fixture *f = *state;
	struct picked p;
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 0);
}

/* ---- after a block ---- */

static void update_removes_included_and_stale(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32], a1[32], a2[32], b0[32], b1[32], c0[32];
	uint8_t included[2][32];
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 10, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 10, 100, a2), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	assert_int_equal(submit(f, 1, 1, 10, 100, b1), IOLM_OK);
	assert_int_equal(submit(f, 2, 0, 10, 100, c0), IOLM_OK);
	/* The block: a0, b0, and a version of a1 this pool never saw (so a1 is stale). */
	memcpy(included[0], a0, 32);
	memcpy(included[1], b0, 32);
	world_set(&f->w, f->ids[0], 1000000, 2);
	world_set(&f->w, f->ids[1], 1000000, 1);
	assert_int_equal(ledger_mempool_update(f->mp, (const uint8_t(*)[32])included, 2,
					       world_account, &f->w),
			 IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, a0));
	assert_false(ledger_mempool_has(f->mp, a1));
	assert_true(ledger_mempool_has(f->mp, a2));
	assert_false(ledger_mempool_has(f->mp, b0));
	assert_true(ledger_mempool_has(f->mp, b1));
	assert_true(ledger_mempool_has(f->mp, c0));
	assert_int_equal(ledger_mempool_count(f->mp), 3);
	/* what is left is selectable */
	struct picked p;
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &p), IOLM_OK);
	assert_int_equal(p.n, 3);
	/* an account whose every transaction went is forgotten; it can start again */
	world_set(&f->w, f->ids[2], 1000000, 1);
	assert_int_equal(ledger_mempool_update(f->mp, NULL, 0, world_account, &f->w), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, c0));
	assert_int_equal(submit(f, 2, 1, 10, 100, NULL), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 3);
}

static void update_rechecks_balance(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32], a1[32], a2[32], b0[32];
	world_set(&f->w, f->ids[0], 100, 0);
	assert_int_equal(submit(f, 0, 0, 10, 20, a0), IOLM_OK); /* 30 */
	assert_int_equal(submit(f, 0, 1, 10, 20, a1), IOLM_OK); /* 60 */
	assert_int_equal(submit(f, 0, 2, 10, 20, a2), IOLM_OK); /* 90 */
	assert_int_equal(submit(f, 1, 0, 10, 20, b0), IOLM_OK);
	/* the account spent elsewhere: 50 left, so a1 and everything after it go */
	world_set(&f->w, f->ids[0], 50, 0);
	assert_int_equal(ledger_mempool_update(f->mp, NULL, 0, world_account, &f->w), IOLM_OK);
	assert_true(ledger_mempool_has(f->mp, a0));
	assert_false(ledger_mempool_has(f->mp, a1));
	assert_false(ledger_mempool_has(f->mp, a2));
	assert_true(ledger_mempool_has(f->mp, b0));
	assert_int_equal(ledger_mempool_count(f->mp), 2);
	/* nothing left at all */
	world_set(&f->w, f->ids[0], 0, 0);
	assert_int_equal(ledger_mempool_update(f->mp, NULL, 0, world_account, &f->w), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, a0));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
}

static void update_propagates_account_error(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32], b0[32];
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	f->w.fail = IOLM_ELEDGER_LMDB;
	assert_int_equal(ledger_mempool_update(f->mp, (const uint8_t(*)[32])&a0, 1,
					       world_account, &f->w),
			 IOLM_ELEDGER_LMDB);
	f->w.fail = 0;
	/* the included id went before the error; b0 could not be re-checked and stays */
	assert_false(ledger_mempool_has(f->mp, a0));
	assert_true(ledger_mempool_has(f->mp, b0));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
}

static void remove_drops_later_of_account(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32], a1[32], a2[32], b0[32];
	size_t b0_len;
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 10, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 10, 100, a2), IOLM_OK);
	b0_len = ledger_mempool_bytes(f->mp);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	b0_len = ledger_mempool_bytes(f->mp) - b0_len;
	assert_int_equal(ledger_mempool_remove(f->mp, a1), IOLM_OK);
	assert_true(ledger_mempool_has(f->mp, a0));
	assert_false(ledger_mempool_has(f->mp, a1));
	assert_false(ledger_mempool_has(f->mp, a2));
	assert_true(ledger_mempool_has(f->mp, b0));
	assert_int_equal(ledger_mempool_count(f->mp), 2);
	assert_int_equal(ledger_mempool_remove(f->mp, a1), IOLM_ENOTFOUND);
	assert_int_equal(ledger_mempool_remove(f->mp, a0), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	assert_int_equal(ledger_mempool_bytes(f->mp), b0_len);
	/* the removed nonce can be submitted again */
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK);
}

static void create_rejects_bad_arguments(void **state)
{
	(void)state;
	static char dummy;
	ledger_mempool *mp = (ledger_mempool *)(void *)&dummy;
	char longid[LEDGER_MAX_CHAIN_ID + 2];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	assert_int_equal(ledger_mempool_create(&mp, NULL, CHAIN, NULL), IOLM_EINVAL);
	assert_null(mp);
	assert_int_equal(ledger_mempool_create(&mp, &default_params, NULL, NULL), IOLM_EINVAL);
	assert_int_equal(ledger_mempool_create(&mp, &default_params, longid, NULL), IOLM_EINVAL);
	assert_null(mp);
	ledger_mempool_destroy(NULL);
}

/* Many accounts: the tables grow, shrink by backward shifting, and stay consistent with
 * an independent record of what should be pending. */
static void many_accounts_stay_consistent(void **state)
{
	struct fixture *f = *state;
	enum { N = 300 };
	static iolm_key keys[N];
	static uint8_t ids[N][2][32];
	size_t i;

	for (i = 0; i < N; i++) {
		uint8_t acct[IOLM_ADDR_LEN];
		iolm_buf b;
		assert_int_equal(iolm_key_generate(&keys[i]), IOLM_OK);
		iolm_addr_from_pub(acct, iolm_key_pub(&keys[i]));
		world_set(&f->w, acct, 1000000, 0);
		for (uint64_t n = 0; n < 2; n++) {
			make_tx(&b, &keys[i], n, 10 + i, 100);
			assert_int_equal(ledger_mempool_add(f->mp, b.data, b.len, world_account,
							    &f->w, ids[i][n]),
					 IOLM_OK);
			iolm_buf_release(&b, 0);
		}
	}
	assert_int_equal(ledger_mempool_count(f->mp), 2 * N);
	/* drop every third account's run and every other account's second tx */
	for (i = 0; i < N; i++) {
		if (i % 3 == 0)
			assert_int_equal(ledger_mempool_remove(f->mp, ids[i][0]), IOLM_OK);
		else if (i % 2 == 0)
			assert_int_equal(ledger_mempool_remove(f->mp, ids[i][1]), IOLM_OK);
	}
	size_t want = 0;
	for (i = 0; i < N; i++) {
		int has0 = i % 3 != 0, has1 = i % 3 != 0 && i % 2 != 0;
		assert_int_equal(ledger_mempool_has(f->mp, ids[i][0]), has0);
		assert_int_equal(ledger_mempool_has(f->mp, ids[i][1]), has1);
		want += (size_t)(has0 + has1);
	}
	assert_int_equal(ledger_mempool_count(f->mp), want);
	/* highest fee first: the last account that still has transactions leads */
	struct picked p;
	assert_int_equal(select_all(f, SIZE_MAX, MAX_SEL, &p), IOLM_OK);
	assert_int_equal(p.n, MAX_SEL);
	assert_memory_equal(p.ids[0], ids[N - 1][0], 32); /* 299 % 3 != 0 */
	assert_memory_equal(p.ids[1], ids[N - 1][1], 32); /* 299 % 2 != 0 */
	for (i = 0; i < N; i++)
		iolm_key_wipe(&keys[i]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(add_accepts_and_reports_id),
		T(add_rejects_malformed_bytes),
		T(add_rejects_other_chain),
		T(add_rejects_bad_signature),
		T(add_fills_signature_cache),
		T(add_skips_verify_for_cached_id),
		T(add_works_without_cache),
		T(add_rejects_fee_below_minimum),
		T(add_rejects_used_nonce),
		T(add_rejects_beyond_window),
		T(add_rejects_insufficient_balance),
		T(add_rejects_cumulative_balance),
		T(add_rejects_cost_overflow),
		T(add_rejects_duplicate),
		T(add_propagates_account_error),
		T(replace_refused_below_bump),
		T(replace_accepted_with_bump),
		T(replace_needs_higher_fee_without_bump),
		T(replace_balance_counts_new_cost),
		T(replace_drops_later_that_no_longer_fit),
		T(gap_fill_drops_later_that_no_longer_fit),
		T(add_rejects_when_count_full),
		T(add_rejects_when_bytes_full),
		T(add_rejects_when_account_full),
		T(select_orders_by_fee_across_accounts),
		T(select_keeps_nonce_order_within_account),
		T(select_respects_count_limit),
		T(select_respects_byte_limit),
		T(select_byte_limit_ends_account_run),
		T(select_stops_at_gap),
		T(select_skips_below_next_nonce),
		T(select_stops_when_emit_refuses),
		T(select_empty_pool),
		T(update_removes_included_and_stale),
		T(update_rechecks_balance),
		T(update_propagates_account_error),
		T(remove_drops_later_of_account),
		T(create_rejects_bad_arguments),
		T(many_accounts_stay_consistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
