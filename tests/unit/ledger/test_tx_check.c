/* ledger_tx_check, the mempool's check of a transaction's kind against the committed
 * state: each final refusal with its code, and each one that may still pass later let
 * through; and for every case, a block built on the same state agrees (it leaves out
 * what the check refused, with the same error, and what the check let through is
 * either taken or left out for a reason that is not final). A task, work or parent not
 * committed yet is let through only while the transaction creating it is pending. */
#include "../test_util.h"

#include "mining_fixture.h"

#define POOL 1000000u

static struct mfx M;
/* Heights: 1 funds the validators; 2 tasks t and late (deadline 3); 3 works a and s on
 * t; 4 their challenge block; 5 a accepted, s slashed; 6 work p on t, still pending. */
static uint8_t task_t[32], task_late[32], work_a[32], work_s[32], work_p[32];
static const uint8_t missing[32] = { 0xee, 0xee };
/* The id the pending callback says is waiting (NULL: none). */
static const uint8_t *pending_id;

static void queue_work(uint8_t id[32], int miner, const uint8_t *task, const uint8_t *parent,
		       uint64_t start, uint64_t steps, uint64_t bond)
{
	struct fx_work w;
	fx_work_init(&w, task, parent, start, steps, 4000000, bond, mfx_art, sizeof mfx_art);
	mfx_sign(&M, miner, &w.b, id);
}

static int setup(void **state)
{
	struct fx_task t;
	(void)state;
	pending_id = NULL;
	mfx_init(&M, NULL);
	mfx_fund_validators(&M, 7, 100000);
	mfx_block(&M);
	mfx_task_init(&t, POOL);
	mfx_sign(&M, 0, &t.b, task_t);
	mfx_task_init(&t, POOL);
	t.tc.deadline_height = 3;
	mfx_sign(&M, 1, &t.b, task_late);
	mfx_block(&M);
	queue_work(work_a, 1, task_t, NULL, 0, 10, 500);
	queue_work(work_s, 2, task_t, NULL, 0, 10, 500);
	mfx_block(&M);
	mfx_block(&M);
	mfx_attest_quorum(&M, work_a, 1, 4000000);
	mfx_attest_quorum(&M, work_s, 0, 0);
	mfx_block(&M);
	queue_work(work_p, 3, task_t, NULL, 0, 10, 500);
	mfx_block(&M);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mfx_free(&M);
	return 0;
}

struct rejects {
	int n, err;
};

static void on_reject(void *ctx, const uint8_t id[static 32], int err)
{
	struct rejects *r = ctx;
	(void)id;
	r->n++;
	r->err = err;
}

/* ledger_tx_check of body, signed by key with nonce and the minimum fee. Then a block is
 * built of it alone on the same state (and not committed): *built is IOLM_OK when it
 * took the transaction, else the error it was left out with. */
static int pending(void *ctx, const uint8_t id[static 32])
{
	(void)ctx;
	return pending_id && memcmp(id, pending_id, 32) == 0;
}

static int is_missing(int err)
{
	return err == IOLM_ELEDGER_NOTASK || err == IOLM_ELEDGER_NOWORK ||
	       err == IOLM_ELEDGER_NOPARENT;
}

static int check_as(Iolm__TxBody *b, const iolm_key *key, uint64_t nonce, int *built)
{
	struct rejects r = { 0 };
	iolm_buf raw, blk;
	ledger_tx tx;
	b->nonce = nonce;
	b->fee = FX_MIN_FEE;
	iolm_buf_init(&raw, IOLM_MAX_TX_BYTES);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	assert_int_equal(ledger_tx_sign(&raw, b, key, FX_CHAIN), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, FX_CHAIN, raw.data, raw.len), IOLM_OK);
	int err = ledger_tx_check(M.f.l, &tx, pending, NULL);
	/* without the callback, only final refusals */
	int lenient = ledger_tx_check(M.f.l, &tx, NULL, NULL);
	ledger_tx_release(&tx);
	fx_build(&M.f, &blk, &raw, 1, on_reject, &r);
	assert_true(r.n <= 1);
	*built = r.n ? r.err : IOLM_OK;
	if (err) {
		/* final, or an object neither committed nor pending: the block agrees */
		assert_true(ledger_tx_err_final(err) || is_missing(err));
		assert_int_equal(*built, err);
	} else {
		assert_false(ledger_tx_err_final(*built));
	}
	assert_int_equal(lenient, is_missing(err) ? IOLM_OK : err);
	iolm_buf_release(&blk, 0);
	iolm_buf_release(&raw, 0);
	return err;
}

/* The same for account acct's next transaction. */
static int check(int acct, Iolm__TxBody *b, int *built)
{
	return check_as(b, &M.f.acct[acct], M.nonce[acct], built);
}

static int check_work(int acct, const uint8_t *task, const uint8_t *parent, uint64_t start,
		      uint64_t steps, uint64_t bond, int *built)
{
	struct fx_work w;
	fx_work_init(&w, task, parent, start, steps, 4000000, bond, mfx_art, sizeof mfx_art);
	return check(acct, &w.b, built);
}

static int check_attest(const iolm_key *key, uint64_t nonce, const uint8_t *work, int *built)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Attest a = IOLM__ATTEST__INIT;
	a.work_id.data = (uint8_t *)work;
	a.work_id.len = 32;
	a.valid = 1;
	a.eval_loss = 4000000;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &a;
	return check_as(&b, key, nonce, built);
}

static void transfers_and_tasks(void **state)
{
	uint8_t to[IOLM_ADDR_LEN];
	struct fx_task t;
	int built;
	(void)state;
	memset(to, 0x42, sizeof to);
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Transfer tr = IOLM__TRANSFER__INIT;
	tr.to.data = to;
	tr.to.len = sizeof to;
	tr.amount = 5;
	b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	b.transfer = &tr;
	assert_int_equal(check(4, &b, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);

	mfx_task_init(&t, POOL);
	assert_int_equal(check(4, &t.b, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);
	mfx_task_init(&t, 999); /* the genesis minimum is 1000 */
	assert_int_equal(check(4, &t.b, &built), IOLM_ELEDGER_POOL);
}

static void works(void **state)
{
	int built;
	(void)state;
	/* final: the task's rules, the deadline, a parent decided against */
	assert_int_equal(check_work(4, task_t, NULL, 0, 10, 500, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);
	assert_int_equal(check_work(4, task_t, NULL, 0, 7, 500, &built), IOLM_ELEDGER_STEPS);
	assert_int_equal(check_work(4, task_t, NULL, 5, 10, 500, &built), IOLM_ELEDGER_STEPS);
	assert_int_equal(check_work(4, task_t, NULL, 0, 10, 99, &built), IOLM_ELEDGER_BOND);
	assert_int_equal(check_work(4, task_late, NULL, 0, 10, 500, &built),
			 IOLM_ELEDGER_TASKCLOSED);
	assert_int_equal(check_work(4, task_t, work_s, 10, 10, 500, &built), IOLM_ELEDGER_PARENT);
	assert_int_equal(check_work(4, task_t, work_a, 0, 10, 500, &built), IOLM_ELEDGER_STEPS);
	assert_int_equal(check_work(4, task_t, work_a, 10, 10, 500, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);
	/* a pending parent is allowed */
	assert_int_equal(check_work(4, task_t, work_p, 10, 20, 500, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);

	/* not final: the task or the parent may be committed by a later block, which
	 * counts only while the transaction creating it is pending */
	assert_int_equal(check_work(4, missing, NULL, 0, 10, 500, &built), IOLM_ELEDGER_NOTASK);
	assert_int_equal(check_work(4, task_t, missing, 0, 10, 500, &built),
			 IOLM_ELEDGER_NOPARENT);
	pending_id = missing;
	assert_int_equal(check_work(4, missing, NULL, 0, 10, 500, &built), IOLM_OK);
	assert_int_equal(built, IOLM_ELEDGER_NOTASK);
	assert_int_equal(check_work(4, task_t, missing, 0, 10, 500, &built), IOLM_OK);
	assert_int_equal(built, IOLM_ELEDGER_NOPARENT);
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__ModelPay mp = IOLM__MODEL_PAY__INIT;
	mp.task_id.data = (uint8_t *)missing;
	mp.task_id.len = 32;
	mp.amount = 10;
	b.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
	b.model_pay = &mp;
	assert_int_equal(check(4, &b, &built), IOLM_OK);
	assert_int_equal(built, IOLM_ELEDGER_NOTASK);
	pending_id = NULL;
	assert_int_equal(check(4, &b, &built), IOLM_ELEDGER_NOTASK);
}

static void attestations(void **state)
{
	const iolm_key *v0 = &M.f.val[0];
	int built;
	(void)state;
	/* final: not a validator, a decided work */
	assert_int_equal(check_attest(&M.f.acct[5], M.nonce[5], work_p, &built),
			 IOLM_ELEDGER_NOTVALIDATOR);
	assert_int_equal(check_attest(v0, M.vnonce[0], work_a, &built), IOLM_ELEDGER_WORKDECIDED);
	assert_int_equal(check_attest(v0, M.vnonce[0], work_s, &built), IOLM_ELEDGER_WORKDECIDED);
	/* not final: a work not committed yet (while its commit is pending), an
	 * attestation before the challenge block */
	assert_int_equal(check_attest(v0, M.vnonce[0], missing, &built), IOLM_ELEDGER_NOWORK);
	pending_id = missing;
	assert_int_equal(check_attest(v0, M.vnonce[0], missing, &built), IOLM_OK);
	assert_int_equal(built, IOLM_ELEDGER_NOWORK);
	pending_id = NULL;
	assert_int_equal(check_attest(v0, M.vnonce[0], work_p, &built), IOLM_OK);
	assert_int_equal(built, IOLM_ELEDGER_ATTEST_EARLY);

	/* after p's challenge block it is taken; a second attestation is final */
	mfx_block(&M);
	assert_int_equal(check_attest(v0, M.vnonce[0], work_p, &built), IOLM_OK);
	assert_int_equal(built, IOLM_OK);
	mfx_attest(&M, 0, work_p, 1, 4000000);
	mfx_block(&M);
	assert_int_equal(check_attest(v0, M.vnonce[0], work_p, &built), IOLM_ELEDGER_DUPATTEST);
}

static void finality_of_codes(void **state)
{
	static const int final[] = { IOLM_ELEDGER_NONCE_OLD, IOLM_ELEDGER_FEE,
				     IOLM_ELEDGER_POOL, IOLM_ELEDGER_TASKCLOSED,
				     IOLM_ELEDGER_PARENT, IOLM_ELEDGER_STEPS,
				     IOLM_ELEDGER_BOND, IOLM_ELEDGER_NOTVALIDATOR,
				     IOLM_ELEDGER_WORKDECIDED, IOLM_ELEDGER_DUPATTEST,
				     IOLM_ELEDGER_DUPTX };
	static const int not_final[] = { IOLM_OK, IOLM_ELEDGER_NONCE_GAP, IOLM_ELEDGER_BALANCE,
					 IOLM_ELEDGER_NOTASK, IOLM_ELEDGER_NOWORK,
					 IOLM_ELEDGER_NOPARENT, IOLM_ELEDGER_ATTEST_EARLY,
					 IOLM_ELEDGER_LMDB, IOLM_ELEDGER_MAPFULL, IOLM_ENOMEM,
					 IOLM_ECORRUPT };
	(void)state;
	for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
		if (!ledger_tx_err_final(final[i]))
			fail_msg("%s should be final", iolm_errname(final[i]));
	for (size_t i = 0; i < sizeof not_final / sizeof not_final[0]; i++)
		if (ledger_tx_err_final(not_final[i]))
			fail_msg("%s should not be final", iolm_errname(not_final[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(transfers_and_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(works, setup, teardown),
		cmocka_unit_test_setup_teardown(attestations, setup, teardown),
		cmocka_unit_test(finality_of_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
