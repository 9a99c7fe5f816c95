/* The joint-mining end-of-block rules (docs/economics.md), on a real ledger: acceptance
 * by attestation quorum, slashing, timeouts, breakthroughs at and around the margin, ties,
 * the lineage switching branches, profit shares, revenue, pool exhaustion, and the supply
 * invariant after every block. */
#include "../test_util.h"

#include "../ledger/ledger_fixture.h"
#include "consensus/mining.h"

/* ---- the pure rules */

static void margin_decays_linearly(void **state)
{
	assert_int_equal(cons_mining_margin_ppm(5000, 100, 1000, 0), 5000);
	assert_int_equal(cons_mining_margin_ppm(5000, 100, 1000, 1000), 100);
	assert_int_equal(cons_mining_margin_ppm(5000, 100, 1000, 5000), 100);
	assert_int_equal(cons_mining_margin_ppm(5000, 100, 1000, 500), 100 + 4900 / 2);
	assert_int_equal(cons_mining_margin_ppm(5000, 100, 1000, 1), 100 + 4900 * 999 / 1000);
	assert_int_equal(cons_mining_margin_ppm(100, 100, 10, 3), 100);
	assert_int_equal(cons_mining_margin_ppm(4000000000u, 0, UINT64_MAX, 1), 3999999999u);
}

static void breakthrough_at_exactly_the_margin(void **state)
{
	/* best 1,000,000 with a 5000 ppm margin: 995,000 is exactly at the margin */
	assert_true(cons_mining_is_breakthrough(1000000, 995000, 5000));
	assert_false(cons_mining_is_breakthrough(1000000, 995001, 5000));
	assert_false(cons_mining_is_breakthrough(1000000, 1000000, 0)); /* a tie never wins */
	assert_true(cons_mining_is_breakthrough(1000000, 999999, 0));
	assert_false(cons_mining_is_breakthrough(5, 6, 0));
	/* no overflow near the top of the range */
	assert_true(cons_mining_is_breakthrough(UINT64_MAX, UINT64_MAX / 100 * 99, 10000));
}

static void split_floors_and_keeps_the_remainder(void **state)
{
	uint64_t w[3] = { 1, 1, 1 }, out[3], rem;
	assert_int_equal(cons_mining_split(100, w, 3, out, &rem), IOLM_OK);
	assert_true(out[0] == 33 && out[1] == 33 && out[2] == 33 && rem == 1);
	uint64_t z[2] = { 0, 0 };
	assert_int_equal(cons_mining_split(7, z, 2, out, &rem), IOLM_OK);
	assert_true(out[0] == 0 && out[1] == 0 && rem == 7);
	uint64_t big[2] = { UINT64_MAX, 1 };
	assert_int_equal(cons_mining_split(7, big, 2, out, &rem), IOLM_EOVERFLOW);
	uint64_t one[1] = { UINT64_MAX / 2 };
	assert_int_equal(cons_mining_split(UINT64_MAX, one, 1, out, &rem), IOLM_OK);
	assert_true(out[0] == UINT64_MAX && rem == 0);
}

/* ---- on a ledger */

static struct fx F;
static uint64_t nonce[FX_ACCOUNTS], vnonce[FX_VALIDATORS];
static uint8_t art[LEDGER_ARTIFACT_ID_LEN] = { 0x1e, 0x20, 9 };
static iolm_buf cands[32];
static size_t n_cands;

static iolm_buf *next_cand(void)
{
	assert_true(n_cands < 32);
	iolm_buf_init(&cands[n_cands], IOLM_MAX_TX_BYTES);
	return &cands[n_cands++];
}

static void tx_id(uint8_t id[32], const iolm_buf *b)
{
	iolm_hash(id, IOLM_TAG_TX, b->data, b->len);
}

/* Build and commit a block of the queued candidates; every one must be included. */
static void block(void)
{
	iolm_buf blk;
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	fx_build(&F, &blk, cands, n_cands, NULL, NULL);
	Iolm__Block *b;
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(b->n_txs, n_cands);
	iolm_codec_free(&b->base);
	fx_commit(&F, F.l, &blk);
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);
	iolm_buf_release(&blk, 0);
	fx_bufs_release(cands, n_cands);
	n_cands = 0;
}

static void sign(int acct, Iolm__TxBody *b)
{
	b->nonce = nonce[acct]++;
	b->fee = FX_MIN_FEE;
	assert_int_equal(ledger_tx_sign(next_cand(), b, &F.acct[acct], FX_CHAIN), IOLM_OK);
}

static void task(uint8_t id[32], int designer, uint64_t pool)
{
	struct fx_task t;
	fx_task_init(&t, 1, 16, 2, 1000, art, sizeof art);
	t.tc.segment_len = 10;
	t.tc.reward_pool = pool;
	t.tc.designer_share_bps = 2000;  /* 20% */
	t.tc.breakthrough_bps = 1000;    /* 10% of the pool per breakthrough */
	t.tc.margin_start_ppm = 50000;   /* 5%, falling */
	t.tc.margin_end_ppm = 10000;     /* to 1% */
	t.tc.margin_decay_blocks = 100;
	t.tc.bond_min = 100;
	sign(designer, &t.b);
	tx_id(id, &cands[n_cands - 1]);
}

static void work(uint8_t id[32], int miner, const uint8_t *t, const uint8_t *parent,
		 uint64_t start, uint64_t steps, uint64_t loss, uint64_t bond)
{
	struct fx_work w;
	fx_work_init(&w, t, parent, start, steps, loss, bond, art, sizeof art);
	sign(miner, &w.b);
	tx_id(id, &cands[n_cands - 1]);
}

static void attest(int v, const uint8_t *w, int valid)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Attest a = IOLM__ATTEST__INIT;
	a.work_id.data = (uint8_t *)w;
	a.work_id.len = 32;
	a.valid = valid;
	b.nonce = vnonce[v]++;
	b.fee = FX_MIN_FEE;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &a;
	assert_int_equal(ledger_tx_sign(next_cand(), &b, &F.val[v], FX_CHAIN), IOLM_OK);
}

static struct {
	int n;
	int err[16];
} rejects;

static void on_reject(void *ctx, const uint8_t id[static 32], int err)
{
	(void)ctx;
	(void)id;
	if (rejects.n < 16)
		rejects.err[rejects.n++] = err;
}

static void empty_block(void)
{
	block();
}

static Iolm__WorkState *get_work(const uint8_t id[32])
{
	iolm_buf out;
	Iolm__WorkState *w;
	iolm_buf_init(&out, 1 << 20);
	assert_int_equal(ledger_get_work(F.l, id, &out), IOLM_OK);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&w, &iolm__work_state__descriptor,
					   out.data, out.len, 1 << 20),
			 IOLM_OK);
	iolm_buf_release(&out, 0);
	return w;
}

static Iolm__TaskState *get_task(const uint8_t id[32])
{
	iolm_buf out;
	Iolm__TaskState *t;
	iolm_buf_init(&out, 1 << 20);
	assert_int_equal(ledger_get_task(F.l, id, &out), IOLM_OK);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&t, &iolm__task_state__descriptor,
					   out.data, out.len, 1 << 20),
			 IOLM_OK);
	iolm_buf_release(&out, 0);
	return t;
}

static uint64_t balance(int acct)
{
	uint64_t b, n;
	assert_int_equal(ledger_get_account(F.l, F.id[acct], &b, &n), IOLM_OK);
	return b;
}

static int setup(void **state)
{
	fx_rules = &cons_mining_rules;
	/* the fixture's blocks are 1000 ms apart: a 5-block timeout */
	fx_init(&F, ", \"attest_timeout_ms\": 5000");
	memset(nonce, 0, sizeof nonce);
	memset(vnonce, 0, sizeof vnonce);
	/* validators need balances for their attestations' fees */
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		iolm_addr_from_pub(vid, iolm_key_pub(&F.val[v]));
		Iolm__TxBody b = IOLM__TX_BODY__INIT;
		Iolm__Transfer t = IOLM__TRANSFER__INIT;
		t.to.data = vid;
		t.to.len = IOLM_ADDR_LEN;
		t.amount = 100000;
		b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
		b.transfer = &t;
		sign(7, &b);
	}
	block();
	return 0;
}

static int teardown(void **state)
{
	fx_free(&F);
	fx_rules = NULL;
	return 0;
}

/* Validators 0..2 hold 10+11+12 = 33 of 46 power: more than two thirds. */
static void attest_quorum(const uint8_t *w, int valid)
{
	for (int v = 0; v < 3; v++)
		attest(v, w, valid);
}

static void the_whole_lifecycle(void **state)
{
	uint8_t t[32], a[32], b[32], c[32], d[32], e2[32], f[32];
	const uint64_t pool = 1000000;
	uint64_t designer0 = balance(0), miner1 = balance(1), miner2 = balance(2);

	/* a task, and a first work on it */
	task(t, 0, pool);
	block();
	designer0 -= pool + FX_MIN_FEE;
	work(a, 1, t, NULL, 0, 10, 4000000, 500);
	block();
	miner1 -= 500 + FX_MIN_FEE;
	assert_true(balance(1) == miner1);

	/* attesting in the block right after the commit is too early: that block's id is
	 * the challenge seed */
	{
		iolm_buf blk;
		attest(0, a, 1);
		iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
		rejects.n = 0;
		fx_build(&F, &blk, cands, n_cands, on_reject, &rejects);
		assert_int_equal(rejects.n, 1);
		assert_int_equal(rejects.err[0], IOLM_ELEDGER_ATTEST_EARLY);
		Iolm__Block *bb;
		assert_int_equal(iolm_decode_block(&bb, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES),
				 IOLM_OK);
		assert_int_equal(bb->n_txs, 0); /* left out: IOLM_ELEDGER_ATTEST_EARLY */
		iolm_codec_free(&bb->base);
		fx_commit(&F, F.l, &blk);
		iolm_buf_release(&blk, 0);
		fx_bufs_release(cands, n_cands);
		n_cands = 0;
		vnonce[0]--;
	}

	/* +2/3 valid: accepted, bond back, first best, breakthrough payout 10% of the pool:
	 * 20% of that to the designer, the rest to the miner */
	attest_quorum(a, 1);
	block();
	Iolm__WorkState *w = get_work(a);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_ACCEPTED);
	Iolm__TaskState *ts = get_task(t);
	assert_true(w->was_best);
	iolm_codec_free(&w->base);
	assert_int_equal(ts->pool, pool - 100000);
	assert_int_equal(ts->best_loss, 4000000);
	assert_memory_equal(ts->best_work.data, a, 32);
	assert_int_equal(ts->total_credit, 10);
	iolm_codec_free(&ts->base);
	designer0 += 20000;
	miner1 += 500 + 80000;
	assert_true(balance(0) == designer0);
	assert_true(balance(1) == miner1);

	/* b extends a with a loss one micro-nat short of the margin as it will stand when b
	 * is decided (commit, challenge block, attestations: 3 blocks on): accepted, no
	 * payout, best stays a */
	ledger_head hb;
	assert_int_equal(ledger_get_head(F.l, &hb), IOLM_OK);
	ts = get_task(t);
	uint32_t mb = cons_mining_margin_ppm(50000, 10000, 100, hb.height + 3 - ts->best_height);
	iolm_codec_free(&ts->base);
	uint64_t short_of = 4000000;
	while (!cons_mining_is_breakthrough(4000000, short_of - 1, mb))
		short_of--;
	work(b, 2, t, a, 10, 10, short_of, 500);
	block();
	miner2 -= 500 + FX_MIN_FEE;
	empty_block();
	attest_quorum(b, 1);
	block();
	w = get_work(b);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_ACCEPTED);
	assert_false(w->was_best);
	iolm_codec_free(&w->base);
	ts = get_task(t);
	assert_memory_equal(ts->best_work.data, a, 32);
	iolm_codec_free(&ts->base);
	miner2 += 500;
	assert_true(balance(2) == miner2);

	/* c extends b, exactly at the (decayed) margin: a breakthrough. The path since the
	 * previous best is c and b (a was the best): 80% of the payout by steps, 10 and 10 */
	ts = get_task(t);
	uint64_t age_at_decision = 0; /* computed below from heights */
	uint64_t best_height = ts->best_height;
	iolm_codec_free(&ts->base);
	ledger_head head;
	assert_int_equal(ledger_get_head(F.l, &head), IOLM_OK);
	/* c commits at head+1, the attest block is head+3 */
	age_at_decision = head.height + 3 - best_height;
	uint32_t m = cons_mining_margin_ppm(50000, 10000, 100, age_at_decision);
	uint64_t at_margin = (uint64_t)(((unsigned __int128)4000000 * (1000000 - m)) / 1000000);
	/* pick the largest loss that still passes */
	while (!cons_mining_is_breakthrough(4000000, at_margin, m))
		at_margin--;
	assert_false(cons_mining_is_breakthrough(4000000, at_margin + 1, m));
	work(c, 3, t, b, 20, 10, at_margin, 500);
	block();
	empty_block();
	attest_quorum(c, 1);
	uint64_t miner3 = balance(3);
	block();
	ts = get_task(t);
	assert_memory_equal(ts->best_work.data, c, 32);
	assert_int_equal(ts->pool, pool - 100000 - 90000);
	assert_int_equal(ts->total_credit, 30);
	iolm_codec_free(&ts->base);
	/* payout 90,000: designer 18,000; 72,000 split 36,000 / 36,000 between b's and c's
	 * miners (bond 500 back to c's miner too) */
	assert_true(balance(2) == miner2 + 36000);
	miner2 += 36000;
	assert_true(balance(3) == miner3 + 36000 + 500);
	designer0 += 18000;
	assert_true(balance(0) == designer0);

	/* slashing: +2/3 invalid burns the bond */
	uint64_t gs, minted, burned, esc;
	work(d, 4, t, c, 30, 10, 1000, 700);
	block();
	empty_block();
	attest_quorum(d, 0);
	block();
	w = get_work(d);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_SLASHED);
	iolm_codec_free(&w->base);
	assert_int_equal(ledger_get_supply(F.l, &gs, &minted, &burned, &esc), IOLM_OK);
	assert_int_equal(burned, 700);

	/* timeout: no quorum in 5 blocks: rejected, bond back */
	uint64_t miner5 = balance(5);
	work(e2, 5, t, c, 30, 10, 3000000, 600);
	block();
	miner5 -= 600 + FX_MIN_FEE;
	for (int i = 0; i < 3; i++)
		empty_block();
	attest(0, e2, 1); /* one validator is not a quorum */
	block();
	w = get_work(e2);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_PENDING);
	iolm_codec_free(&w->base);
	empty_block();
	w = get_work(e2);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_REJECTED);
	iolm_codec_free(&w->base);
	assert_true(balance(5) == miner5 + 600);

	/* the best lineage switches branch: f extends a directly with a far better loss.
	 * The path since the previous best stops at a (it was a best): only f's miner is
	 * paid; the shares become a's and f's steps (b and c are off the lineage now) */
	uint64_t miner6 = balance(6);
	work(f, 6, t, a, 10, 20, 1000000, 500);
	block();
	miner6 -= 500 + FX_MIN_FEE;
	empty_block();
	attest_quorum(f, 1);
	block();
	ts = get_task(t);
	assert_memory_equal(ts->best_work.data, f, 32);
	assert_int_equal(ts->total_credit, 30); /* a: 10, f: 20 */
	uint64_t payout = (pool - 190000) / 10;
	assert_int_equal(ts->pool, pool - 190000 - payout);
	iolm_codec_free(&ts->base);
	uint64_t designer_part = payout / 5;
	assert_true(balance(6) == miner6 + 500 + (payout - designer_part));
	designer0 += designer_part;
	assert_true(balance(0) == designer0);

	/* revenue: 20% to the designer, the rest by shares (a's miner 10, f's miner 20);
	 * a payment of 10,001: designer 2,000; 8,001 split 2,667 / 5,334 (floor), the
	 * remainder 0 -- check exactly */
	uint64_t m1 = balance(1), m6 = balance(6);
	Iolm__TxBody pb = IOLM__TX_BODY__INIT;
	Iolm__ModelPay mp = IOLM__MODEL_PAY__INIT;
	mp.task_id.data = t;
	mp.task_id.len = 32;
	mp.amount = 10001;
	pb.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
	pb.model_pay = &mp;
	sign(7, &pb);
	block();
	uint64_t dshare = 10001 * 2000 / 10000, rest = 10001 - dshare;
	uint64_t s1 = rest * 10 / 30, s6 = rest * 20 / 30, rem = rest - s1 - s6;
	assert_true(balance(1) == m1 + s1);
	assert_true(balance(6) == m6 + s6);
	designer0 += dshare + rem;
	assert_true(balance(0) == designer0);
	ts = get_task(t);
	assert_int_equal(ts->revenue, 0);
	iolm_codec_free(&ts->base);
}

static void attestation_rules(void **state)
{
	uint8_t t[32], a[32];
	task(t, 3, 50000);
	block();
	work(a, 4, t, NULL, 0, 10, 100, 100);
	block();
	empty_block();
	/* not a validator */
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Attest at = IOLM__ATTEST__INIT;
	at.work_id.data = a;
	at.work_id.len = 32;
	at.valid = 1;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &at;
	sign(5, &b);
	/* a second attestation from the same validator, and one for a work that does
	 * not exist */
	attest(0, a, 1);
	attest(0, a, 0);
	uint8_t missing[32];
	memset(missing, 0x99, sizeof missing);
	attest(1, missing, 1);
	iolm_buf blk;
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	const uint8_t *ptrs[8];
	size_t lens[8];
	for (size_t i = 0; i < n_cands; i++) {
		ptrs[i] = cands[i].data;
		lens[i] = cands[i].len;
	}
	F.time_ms += 1000;
	rejects.n = 0;
	assert_int_equal(ledger_block_build(F.l, &blk, ptrs, lens, n_cands, F.time_ms,
					    iolm_key_pub(&F.val[0]), F.last_cert.data, F.last_cert.len,
					    NULL, on_reject, NULL),
			 IOLM_OK);
	assert_int_equal(rejects.n, 3);
	assert_int_equal(rejects.err[0], IOLM_ELEDGER_NOTVALIDATOR);
	assert_int_equal(rejects.err[1], IOLM_ELEDGER_DUPATTEST);
	assert_int_equal(rejects.err[2], IOLM_ELEDGER_NOWORK);
	Iolm__Block *bb;
	assert_int_equal(iolm_decode_block(&bb, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	/* only validator 0's first attestation gets in */
	assert_int_equal(bb->n_txs, 1);
	iolm_codec_free(&bb->base);
	fx_commit(&F, F.l, &blk);
	iolm_buf_release(&blk, 0);
	fx_bufs_release(cands, n_cands);
	n_cands = 0;
	vnonce[0]--; /* the refused ones used no nonce */
	vnonce[1]--;
	/* and once decided, a work takes no more attestations */
	attest(1, a, 1);
	attest(2, a, 1);
	block();
	Iolm__WorkState *w = get_work(a);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_ACCEPTED);
	iolm_codec_free(&w->base);
	attest(3, a, 1);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	rejects.n = 0;
	fx_build(&F, &blk, cands, n_cands, on_reject, NULL);
	assert_int_equal(rejects.n, 1);
	assert_int_equal(rejects.err[0], IOLM_ELEDGER_WORKDECIDED);
	iolm_buf_release(&blk, 0);
	fx_bufs_release(cands, n_cands);
	n_cands = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(margin_decays_linearly),
		cmocka_unit_test(breakthrough_at_exactly_the_margin),
		cmocka_unit_test(split_floors_and_keeps_the_remainder),
		cmocka_unit_test_setup_teardown(the_whole_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(attestation_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
