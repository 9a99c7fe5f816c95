/* A chain that runs the joint-mining rules (consensus/mining.c), for the tests that need
 * tasks, works, attestations and payouts on a real ledger: queue signed transactions,
 * then commit them as one block, every one included, with the state (and its supply
 * invariant) verified after each block. Builds on ledger_fixture.h; link iolm_consensus. */
#ifndef IOLM_TEST_MINING_FIXTURE_H
#define IOLM_TEST_MINING_FIXTURE_H

#include "ledger_fixture.h"

#include "consensus/mining.h"

#define MFX_MAX_CANDS 32

struct mfx {
	struct fx f;
	uint64_t nonce[FX_ACCOUNTS], vnonce[FX_VALIDATORS];
	iolm_buf cands[MFX_MAX_CANDS]; /* queued for the next block */
	size_t n_cands;
};

/* The artifact id every task and work of these tests names. */
static const uint8_t mfx_art[LEDGER_ARTIFACT_ID_LEN] = { 0x1e, 0x20, 9 };

static inline void mfx_init(struct mfx *m, const char *extra_params)
{
	memset(m, 0, sizeof *m);
	fx_rules = &cons_mining_rules;
	fx_init(&m->f, extra_params);
}

static inline void mfx_free(struct mfx *m)
{
	fx_bufs_release(m->cands, m->n_cands);
	fx_free(&m->f);
	fx_rules = NULL;
}

static inline iolm_buf *mfx_next(struct mfx *m)
{
	assert_true(m->n_cands < MFX_MAX_CANDS);
	iolm_buf_init(&m->cands[m->n_cands], IOLM_MAX_TX_BYTES);
	return &m->cands[m->n_cands++];
}

/* The id of the transaction queued last. */
static inline void mfx_last_id(const struct mfx *m, uint8_t id[32])
{
	const iolm_buf *b = &m->cands[m->n_cands - 1];
	iolm_hash(id, IOLM_TAG_TX, b->data, b->len);
}

/* Build and commit a block of the queued transactions; every one must be included. */
static inline void mfx_block(struct mfx *m)
{
	iolm_buf blk;
	Iolm__Block *b;
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	fx_build(&m->f, &blk, m->cands, m->n_cands, NULL, NULL);
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(b->n_txs, m->n_cands);
	iolm_codec_free(&b->base);
	fx_commit(&m->f, m->f.l, &blk);
	assert_int_equal(ledger_verify_state(m->f.l), IOLM_OK);
	iolm_buf_release(&blk, 0);
	fx_bufs_release(m->cands, m->n_cands);
	m->n_cands = 0;
}

/* Queue body signed by account acct, with its next nonce and the minimum fee; its id to
 * id (may be NULL). */
static inline void mfx_sign(struct mfx *m, int acct, Iolm__TxBody *b, uint8_t *id)
{
	b->nonce = m->nonce[acct]++;
	b->fee = FX_MIN_FEE;
	assert_int_equal(ledger_tx_sign(mfx_next(m), b, &m->f.acct[acct], FX_CHAIN), IOLM_OK);
	if (id)
		mfx_last_id(m, id);
}

/* Queue a transfer, or a model_pay, from account `from`; its id to id (may be NULL). */
static inline void mfx_transfer(struct mfx *m, int from, const uint8_t *to, uint64_t amount,
				uint8_t *id)
{
	fx_transfer(&m->f, mfx_next(m), from, to, amount, FX_MIN_FEE, m->nonce[from]++);
	if (id)
		mfx_last_id(m, id);
}

static inline void mfx_model_pay(struct mfx *m, int from, const uint8_t *task, uint64_t amount,
				 uint8_t *id)
{
	fx_model_pay(&m->f, mfx_next(m), from, task, amount, m->nonce[from]++);
	if (id)
		mfx_last_id(m, id);
}

static inline void mfx_validator_id(const struct mfx *m, int v, uint8_t id[IOLM_ADDR_LEN])
{
	iolm_addr_from_pub(id, iolm_key_pub(&m->f.val[v]));
}

/* Queue transfers of amount from account `from` to every validator, which need balances
 * for their attestations' fees. */
static inline void mfx_fund_validators(struct mfx *m, int from, uint64_t amount)
{
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		mfx_validator_id(m, v, vid);
		mfx_transfer(m, from, vid, amount, NULL);
	}
}

/* A task with the economics the mining tests share: segments of 10 steps, 20% to the
 * designer, 10% of the pool per breakthrough, a margin falling from 5% to 1% over 100
 * blocks, bonds of at least 100. Set any other field on t before mfx_sign. */
static inline void mfx_task_init(struct fx_task *t, uint64_t pool)
{
	fx_task_init(t, 1, 16, 2, 1000, mfx_art, sizeof mfx_art);
	t->tc.segment_len = 10;
	t->tc.reward_pool = pool;
	t->tc.designer_share_bps = 2000;
	t->tc.breakthrough_bps = 1000;
	t->tc.margin_start_ppm = 50000;
	t->tc.margin_end_ppm = 10000;
	t->tc.margin_decay_blocks = 100;
	t->tc.bond_min = 100;
}

/* Queue validator v's attestation of work w. */
static inline void mfx_attest(struct mfx *m, int v, const uint8_t *w, int valid, uint64_t loss)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Attest a = IOLM__ATTEST__INIT;
	a.work_id.data = (uint8_t *)w;
	a.work_id.len = 32;
	a.valid = valid;
	a.eval_loss = loss;
	b.nonce = m->vnonce[v]++;
	b.fee = FX_MIN_FEE;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &a;
	assert_int_equal(ledger_tx_sign(mfx_next(m), &b, &m->f.val[v], FX_CHAIN), IOLM_OK);
}

/* Validators 0..2 hold 10 + 11 + 12 = 33 of the 46 voting power: more than two thirds. */
static inline void mfx_attest_quorum(struct mfx *m, const uint8_t *w, int valid, uint64_t loss)
{
	for (int v = 0; v < 3; v++)
		mfx_attest(m, v, w, valid, loss);
}

#endif
