/* ledger/mempool.c: what keeps the mempool from holding a transaction for good. The
 * check callback refuses at admission (after the cheap rules and the signature, before
 * anything changes); ttl_blocks drops what stayed pending too many blocks, with its
 * account's later transactions; in a full mempool, what waits behind a nonce gap makes
 * room for what the next block could take. */
#include "mempool_fixture.h"

/* Blocks that include nothing and change no account. */
static void blocks(struct fixture *f, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(ledger_mempool_update(f->mp, NULL, 0, world_account, &f->w),
				 IOLM_OK);
}

static void ttl_drops_what_waited_too_long(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	uint8_t a0[32], a1[32], b0[32], c0[32];
	p.ttl_blocks = 3;
	fixture_open(f, &p);

	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	blocks(f, 2);
	assert_int_equal(submit(f, 0, 1, 10, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	blocks(f, 1);
	/* a0 has waited 3 blocks: the limit, not past it */
	assert_true(ledger_mempool_has(f->mp, a0));
	assert_int_equal(ledger_mempool_count(f->mp), 3);
	assert_int_equal(ledger_mempool_expired(f->mp), 0);
	blocks(f, 1);
	/* a0 is past it, and a1 (younger) cannot be taken without it */
	assert_int_equal(ledger_mempool_expired(f->mp), 2);
	assert_false(ledger_mempool_has(f->mp, a0));
	assert_false(ledger_mempool_has(f->mp, a1));
	assert_true(ledger_mempool_has(f->mp, b0));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	/* the account starts again from its next nonce */
	assert_int_equal(submit(f, 0, 0, 10, 100, c0), IOLM_OK);
	blocks(f, 1);
	assert_true(ledger_mempool_has(f->mp, b0));
	blocks(f, 1);
	assert_false(ledger_mempool_has(f->mp, b0));
	assert_true(ledger_mempool_has(f->mp, c0));
	blocks(f, 3);
	assert_int_equal(ledger_mempool_count(f->mp), 0);
	assert_int_equal(ledger_mempool_bytes(f->mp), 0);
	assert_int_equal(ledger_mempool_expired(f->mp), 4);
}

static void ttl_of_a_replacement_counts_from_its_admission(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	uint8_t old[32], new[32];
	p.ttl_blocks = 3;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 10, 100, old), IOLM_OK);
	blocks(f, 2);
	assert_int_equal(submit(f, 0, 0, 20, 100, new), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, old));
	blocks(f, 3);
	assert_true(ledger_mempool_has(f->mp, new));
	blocks(f, 1);
	assert_false(ledger_mempool_has(f->mp, new));
}

static void ttl_zero_keeps_pending(void **state)
{
	struct fixture *f = *state;
	uint8_t a0[32];
	assert_int_equal(default_params.ttl_blocks, 0);
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	blocks(f, 1000);
	assert_true(ledger_mempool_has(f->mp, a0));
	assert_int_equal(ledger_mempool_expired(f->mp), 0);
}

/* ---- the check callback */

struct checker {
	int calls;
	int answer;
	uint64_t nonce;
	uint8_t sender[IOLM_ADDR_LEN];
};

static int check_cb(void *ctx, const ledger_tx *tx)
{
	struct checker *c = ctx;
	c->calls++;
	c->nonce = tx->nonce;
	memcpy(c->sender, tx->sender, IOLM_ADDR_LEN);
	return c->answer;
}

static void check_refuses_after_the_signature(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	struct checker c = { .answer = IOLM_ELEDGER_BOND };
	uint8_t id[32];
	iolm_buf b;
	p.check = check_cb;
	p.check_ctx = &c;
	fixture_open(f, &p);

	/* a forged transaction is refused as forged: the check does not run */
	make_tx(&b, &f->keys[0], 0, 10, 100);
	b.data[b.len - 10] ^= 0x01; /* in the signature */
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_SIGNATURE);
	iolm_buf_release(&b, 0);
	/* nor for one the account rules refuse */
	assert_int_equal(submit(f, 0, 0, 10, 2000000, NULL), IOLM_ELEDGER_BALANCE);
	assert_int_equal(c.calls, 0);

	/* its refusal is the answer, and nothing is kept */
	assert_int_equal(submit(f, 1, 3, 10, 100, NULL), IOLM_ELEDGER_BOND);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.nonce, 3);
	assert_memory_equal(c.sender, f->ids[1], IOLM_ADDR_LEN);
	assert_int_equal(ledger_mempool_count(f->mp), 0);
	assert_int_equal(ledger_mempool_bytes(f->mp), 0);

	/* a refused replacement leaves the pending one in place */
	c.answer = IOLM_OK;
	assert_int_equal(submit(f, 1, 0, 10, 100, id), IOLM_OK);
	c.answer = IOLM_ELEDGER_TASKCLOSED;
	assert_int_equal(submit(f, 1, 0, 50, 100, NULL), IOLM_ELEDGER_TASKCLOSED);
	assert_true(ledger_mempool_has(f->mp, id));
	assert_int_equal(ledger_mempool_count(f->mp), 1);
	assert_int_equal(c.calls, 3);
}

/* ---- a full mempool */

static void full_mempool_drops_what_waits_behind_a_gap(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	uint8_t g1[32], g2[32], b0[32], b1[32], c0[32], d0[32];
	struct picked pk;
	p.max_txs = 4;
	fixture_open(f, &p);

	/* account 0 waits behind a gap (its next nonce is 0); account 1 is runnable */
	assert_int_equal(submit(f, 0, 1, 10, 100, g1), IOLM_OK);
	assert_int_equal(submit(f, 0, 2, 10, 100, g2), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	assert_int_equal(submit(f, 1, 1, 10, 100, b1), IOLM_OK);
	assert_int_equal(ledger_mempool_count(f->mp), 4);
	/* full: a gapped one cannot get in, even past another gap */
	assert_int_equal(submit(f, 2, 3, 10, 100, NULL), IOLM_EMEMPOOL_FULL);
	/* a runnable one takes the room of account 0's run past its gap */
	assert_int_equal(submit(f, 2, 0, 10, 100, c0), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, g1));
	assert_false(ledger_mempool_has(f->mp, g2));
	assert_true(ledger_mempool_has(f->mp, b0) && ledger_mempool_has(f->mp, b1));
	assert_int_equal(ledger_mempool_count(f->mp), 3);
	assert_int_equal(ledger_mempool_evicted(f->mp), 2);
	assert_int_equal(select_all(f, SIZE_MAX, SIZE_MAX, &pk), IOLM_OK);
	assert_int_equal(pk.n, 3);
	assert_int_equal(submit(f, 3, 0, 10, 100, d0), IOLM_OK);
	/* full of runnable transactions: nothing to displace */
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_EMEMPOOL_FULL);
	assert_int_equal(ledger_mempool_evicted(f->mp), 2);
	assert_int_equal(ledger_mempool_count(f->mp), 4);

	/* a gap behind a block: account 3's next nonce moves past d0 to 2 (another d1 was
	 * included elsewhere), leaving d0 stale and nothing gapped; then d3 is gapped */
	world_set(&f->w, f->ids[3], 1000000, 2);
	assert_int_equal(ledger_mempool_update(f->mp, NULL, 0, world_account, &f->w), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, d0));
	assert_int_equal(submit(f, 3, 3, 10, 100, NULL), IOLM_OK);
	assert_int_equal(submit(f, 0, 0, 10, 100, NULL), IOLM_OK); /* displaces d3 */
	assert_int_equal(ledger_mempool_evicted(f->mp), 3);
	assert_int_equal(ledger_mempool_count(f->mp), 4);
}

static void full_mempool_keeps_what_pays_more(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	uint8_t a0[32], a1[32], b0[32], b1[32], c0[32], d0[32];
	p.max_txs = 4;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 30, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 0, 1, 12, 100, a1), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 30, 100, b0), IOLM_OK);
	assert_int_equal(submit(f, 1, 1, 15, 100, b1), IOLM_OK);
	/* not 10% more than the cheapest last one (12): refused, each time */
	assert_int_equal(submit(f, 2, 0, 13, 100, NULL), IOLM_EMEMPOOL_FULL);
	assert_int_equal(submit(f, 3, 0, 13, 100, NULL), IOLM_EMEMPOOL_FULL);
	/* enough: the cheapest last one goes, its account's run stays contiguous */
	assert_int_equal(submit(f, 2, 0, 14, 100, c0), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, a1));
	assert_true(ledger_mempool_has(f->mp, a0) && ledger_mempool_has(f->mp, b1));
	assert_int_equal(ledger_mempool_evicted(f->mp), 1);
	/* the cheapest is now c0 (14), then b1 (15): 16 outbids c0 */
	assert_int_equal(submit(f, 3, 0, 15, 100, NULL), IOLM_EMEMPOOL_FULL);
	assert_int_equal(submit(f, 3, 0, 16, 100, d0), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, c0));
	assert_true(ledger_mempool_has(f->mp, b1));
	assert_int_equal(ledger_mempool_count(f->mp), 4);
	/* a gapped newcomer displaces nothing, whatever it pays */
	assert_int_equal(submit(f, 2, 1, 1000, 100, NULL), IOLM_EMEMPOOL_FULL);
	assert_int_equal(ledger_mempool_evicted(f->mp), 2);
}

static void refused_admission_displaces_nothing(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	struct checker c = { .answer = IOLM_ELEDGER_BOND };
	uint8_t g1[32];
	iolm_buf b;
	p.max_txs = 2;
	p.check = check_cb;
	p.check_ctx = &c;
	c.answer = IOLM_OK;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 1, 10, 100, g1), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, NULL), IOLM_OK);
	/* refused by the check, or forged: the gapped one stays */
	c.answer = IOLM_ELEDGER_BOND;
	assert_int_equal(submit(f, 2, 0, 10, 100, NULL), IOLM_ELEDGER_BOND);
	make_tx(&b, &f->keys[2], 0, 10, 100);
	b.data[b.len - 10] ^= 0x01;
	assert_int_equal(submit_raw(f, &b), IOLM_ELEDGER_SIGNATURE);
	iolm_buf_release(&b, 0);
	assert_true(ledger_mempool_has(f->mp, g1));
	assert_int_equal(ledger_mempool_evicted(f->mp), 0);
}

static void full_mempool_evicts_the_newest_of_equal_fees(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	uint8_t a0[32], b0[32], c0[32];
	p.max_txs = 2;
	fixture_open(f, &p);
	assert_int_equal(submit(f, 0, 0, 10, 100, a0), IOLM_OK);
	assert_int_equal(submit(f, 1, 0, 10, 100, b0), IOLM_OK);
	assert_int_equal(submit(f, 2, 0, 11, 100, c0), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, b0)); /* the later of the two at 10 */
	assert_true(ledger_mempool_has(f->mp, a0) && ledger_mempool_has(f->mp, c0));
	assert_int_equal(ledger_mempool_evicted(f->mp), 1);
}

/* Byte-bound: the cheapest last transactions are a byte too short to make room, so the
 * victim is the cheapest one that is long enough. */
static void full_mempool_on_bytes_takes_the_cheapest_that_makes_room(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	iolm_buf a, b, c, d;
	uint8_t ia[32], ib[32], ic[32];
	make_tx(&a, &f->keys[0], 0, 20, 100);
	make_tx(&b, &f->keys[1], 0, 21, 100);
	make_tx(&c, &f->keys[2], 0, 200, 100); /* fee of two varint bytes */
	make_tx(&d, &f->keys[3], 0, 300, 100);
	assert_int_equal(c.len, a.len + 1);
	assert_int_equal(d.len, c.len);
	p.max_bytes = a.len + b.len + c.len;
	fixture_open(f, &p);
	assert_int_equal(ledger_mempool_add(f->mp, a.data, a.len, world_account, &f->w, ia), 0);
	assert_int_equal(ledger_mempool_add(f->mp, b.data, b.len, world_account, &f->w, ib), 0);
	assert_int_equal(ledger_mempool_add(f->mp, c.data, c.len, world_account, &f->w, ic), 0);
	assert_int_equal(submit_raw(f, &d), IOLM_OK);
	assert_false(ledger_mempool_has(f->mp, ic));
	assert_true(ledger_mempool_has(f->mp, ia) && ledger_mempool_has(f->mp, ib));
	assert_int_equal(ledger_mempool_bytes(f->mp), a.len + b.len + d.len);
	iolm_buf_release(&a, 0);
	iolm_buf_release(&b, 0);
	iolm_buf_release(&c, 0);
	iolm_buf_release(&d, 0);
}

/* 200 accounts with one transaction each fill the mempool; 100 newcomers paying more
 * each displace exactly the cheapest of what is left (of equal fees, the newest), as
 * a walk over every account would find it. */
#define MANY 200
#define NEWCOMERS 100
static void full_mempool_of_many_accounts_evicts_in_fee_order(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_params p = default_params;
	static iolm_key keys[MANY + NEWCOMERS];
	static uint8_t ids[MANY + NEWCOMERS][32];
	static uint64_t fees[MANY + NEWCOMERS];
	int live[MANY + NEWCOMERS] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	p.max_txs = MANY;
	p.replace_bump_pct = 0;
	fixture_open(f, &p);
	for (int i = 0; i < MANY + NEWCOMERS; i++) {
		uint8_t addr[IOLM_ADDR_LEN];
		iolm_buf b;
		assert_int_equal(iolm_key_generate(&keys[i]), IOLM_OK);
		iolm_addr_from_pub(addr, iolm_key_pub(&keys[i]));
		world_set(&f->w, addr, 1000000, 0);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* the first ones 10..59 (ties likely); the newcomers above all of them */
		fees[i] = i < MANY ? 10 + x % 50 : 60 + (uint64_t)i;
		make_tx(&b, &keys[i], 0, fees[i], 100);
		assert_int_equal(ledger_mempool_add(f->mp, b.data, b.len, world_account, &f->w,
						    ids[i]), IOLM_OK);
		iolm_buf_release(&b, 0);
		live[i] = 1;
		if (i < MANY)
			continue;
		/* the expected victim: the cheapest live one before i, the latest of a tie */
		int v = -1;
		for (int j = 0; j < i; j++)
			if (live[j] && (v < 0 || fees[j] <= fees[v]))
				v = j;
		live[v] = 0;
		for (int j = 0; j <= i; j++)
			assert_int_equal(ledger_mempool_has(f->mp, ids[j]), live[j]);
	}
	assert_int_equal(ledger_mempool_count(f->mp), MANY);
	assert_int_equal(ledger_mempool_evicted(f->mp), NEWCOMERS);
	for (int i = 0; i < MANY + NEWCOMERS; i++)
		iolm_key_wipe(&keys[i]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ttl_drops_what_waited_too_long),
		T(ttl_of_a_replacement_counts_from_its_admission),
		T(ttl_zero_keeps_pending),
		T(check_refuses_after_the_signature),
		T(full_mempool_drops_what_waits_behind_a_gap),
		T(full_mempool_keeps_what_pays_more),
		T(refused_admission_displaces_nothing),
		T(full_mempool_evicts_the_newest_of_equal_fees),
		T(full_mempool_on_bytes_takes_the_cheapest_that_makes_room),
		T(full_mempool_of_many_accounts_evicts_in_fee_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
