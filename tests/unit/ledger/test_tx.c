/* The stateless transaction rules (ledger_tx_decode / ledger_tx_verify), each with its
 * error code, and the signature cache. */
#include "../test_util.h"

#include <math.h>

#include "core/hash.h"
#include "core/key.h"
#include "ledger/tx.h"

#define CHAIN "iolm-test"

static iolm_key key;
static uint8_t to[IOLM_ADDR_LEN], h32[32], art[LEDGER_ARTIFACT_ID_LEN];

static int setup(void **state)
{
	assert_int_equal(iolm_key_generate(&key), IOLM_OK);
	memset(to, 0x11, sizeof to);
	memset(h32, 0x22, sizeof h32);
	art[0] = 0x1e;
	art[1] = 0x20;
	memset(art + 2, 0x33, 32);
	return 0;
}

/* Sign body and decode the result; returns ledger_tx_decode's code. */
static int sign_and_decode(Iolm__TxBody *b, const char *sign_chain)
{
	iolm_buf out;
	ledger_tx tx;
	iolm_buf_init(&out, IOLM_MAX_TX_BYTES);
	assert_int_equal(ledger_tx_sign(&out, b, &key, sign_chain), IOLM_OK);
	int rc = ledger_tx_decode(&tx, CHAIN, out.data, out.len);
	if (rc == IOLM_OK) {
		assert_int_equal(ledger_tx_verify(&tx, CHAIN), IOLM_OK);
		ledger_tx_release(&tx);
	}
	iolm_buf_release(&out, 0);
	return rc;
}

static Iolm__Transfer tr;
static Iolm__TxBody transfer_body(uint64_t amount)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	iolm__transfer__init(&tr);
	tr.to.data = to;
	tr.to.len = sizeof to;
	tr.amount = amount;
	b.nonce = 1;
	b.fee = 10;
	b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	b.transfer = &tr;
	return b;
}

static void transfer_rules(void **state)
{
	Iolm__TxBody b = transfer_body(5);
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_OK);
	b = transfer_body(0);
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_ELEDGER_AMOUNT);
	b = transfer_body(5);
	tr.to.len = 19;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_ELEDGER_RECIPIENT);
	b = transfer_body(5);
	assert_int_equal(sign_and_decode(&b, "iolm-other"), IOLM_ELEDGER_CHAIN);
	Iolm__TxBody none = IOLM__TX_BODY__INIT;
	none.fee = 1;
	assert_int_equal(sign_and_decode(&none, CHAIN), IOLM_ELEDGER_NOKIND);
}

static void decoded_fields_and_id(void **state)
{
	Iolm__TxBody b = transfer_body(77);
	iolm_buf out;
	ledger_tx tx;
	uint8_t id[32], acct[IOLM_ADDR_LEN];
	iolm_buf_init(&out, IOLM_MAX_TX_BYTES);
	assert_int_equal(ledger_tx_sign(&out, &b, &key, CHAIN), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_OK);
	iolm_hash(id, IOLM_TAG_TX, out.data, out.len);
	assert_memory_equal(tx.id, id, 32);
	iolm_addr_from_pub(acct, iolm_key_pub(&key));
	assert_memory_equal(tx.sender, acct, IOLM_ADDR_LEN);
	assert_int_equal(tx.spend, 77);
	assert_int_equal(tx.fee, 10);
	assert_int_equal(tx.nonce, 1);
	ledger_tx_release(&tx);

	/* signed for another chain: decodes for it, but the signature binds the chain id */
	iolm_buf_reset(&out);
	assert_int_equal(ledger_tx_sign(&out, &b, &key, CHAIN), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_OK);
	assert_int_equal(ledger_tx_verify(&tx, "iolm-tesu"), IOLM_ELEDGER_SIGNATURE);
	ledger_tx_release(&tx);

	/* every bit of the signature matters */
	for (size_t bit = 0; bit < 64 * 8; bit += 37) {
		iolm_buf_reset(&out);
		assert_int_equal(ledger_tx_sign(&out, &b, &key, CHAIN), IOLM_OK);
		out.data[out.len - 64 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_OK);
		assert_int_equal(ledger_tx_verify(&tx, CHAIN), IOLM_ELEDGER_SIGNATURE);
		ledger_tx_release(&tx);
	}
	iolm_buf_release(&out, 0);
}

static void envelope_rules(void **state)
{
	ledger_tx tx;
	static const uint8_t junk[] = { 0xff, 0x00 };
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, junk, sizeof junk), IOLM_EDECODE);
	/* a short signature */
	Iolm__Tx env = IOLM__TX__INIT;
	uint8_t body[4] = { 0x18, 0x01, 0x20, 0x05 }, sig[63] = { 0 };
	env.body.data = body;
	env.body.len = sizeof body;
	env.signature.data = sig;
	env.signature.len = sizeof sig;
	iolm_buf out;
	iolm_buf_init(&out, 1024);
	assert_int_equal(iolm_codec_encode(&out, &env.base), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_ELEDGER_SIGNATURE);
	/* a sender that is not 32 bytes */
	Iolm__TxBody b = transfer_body(1);
	uint8_t short_sender[31] = { 1 };
	b.chain_id = CHAIN;
	b.sender.data = short_sender;
	b.sender.len = sizeof short_sender;
	iolm_buf bb;
	iolm_buf_init(&bb, 1024);
	assert_int_equal(iolm_codec_encode(&bb, &b.base), IOLM_OK);
	uint8_t sig64[64] = { 0 };
	env.body.data = bb.data;
	env.body.len = bb.len;
	env.signature.data = sig64;
	env.signature.len = 64;
	iolm_buf_reset(&out);
	assert_int_equal(iolm_codec_encode(&out, &env.base), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_ELEDGER_SENDER);
	/* a sender of 32 bytes that is no point: the signature check says so */
	uint8_t zero[32] = { 0 };
	b.sender.data = zero;
	b.sender.len = 32;
	iolm_buf_reset(&bb);
	assert_int_equal(iolm_codec_encode(&bb, &b.base), IOLM_OK);
	env.body.data = bb.data;
	env.body.len = bb.len;
	iolm_buf_reset(&out);
	assert_int_equal(iolm_codec_encode(&out, &env.base), IOLM_OK);
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, out.data, out.len), IOLM_OK);
	assert_int_equal(ledger_tx_verify(&tx, CHAIN), IOLM_ELEDGER_SENDER);
	ledger_tx_release(&tx);
	/* oversized */
	static uint8_t big[IOLM_MAX_TX_BYTES + 1];
	assert_int_equal(ledger_tx_decode(&tx, CHAIN, big, sizeof big), IOLM_ETOOBIG);
	iolm_buf_release(&out, 0);
	iolm_buf_release(&bb, 0);
}

static Iolm__ModelConfig mc;
static Iolm__OptimConfig oc;
static Iolm__TaskCreate tc;

static Iolm__TxBody task_body(void)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	iolm__model_config__init(&mc);
	mc.n_layer = 2;
	mc.n_embd = 64;
	mc.n_head = 4;
	mc.seq_len = 64;
	mc.vocab = 256;
	iolm__optim_config__init(&oc);
	oc.lr = 3e-4f;
	oc.beta1 = 0.9f;
	oc.beta2 = 0.95f;
	oc.eps = 1e-8f;
	oc.weight_decay = 0.1f;
	oc.total_steps = 1000;
	oc.warmup_steps = 10;
	iolm__task_create__init(&tc);
	tc.model = &mc;
	tc.optim = &oc;
	tc.batch_size = 8;
	tc.dataset_id.data = art;
	tc.dataset_id.len = sizeof art;
	tc.eval_id.data = art;
	tc.eval_id.len = sizeof art;
	tc.segment_len = 10;
	tc.samples = 3;
	tc.reward_pool = 100000;
	tc.designer_share_bps = 2000;
	tc.breakthrough_bps = 500;
	tc.margin_start_ppm = 5000;
	tc.margin_end_ppm = 100;
	tc.margin_decay_blocks = 1000;
	tc.bond_min = 100;
	tc.name = "tiny shakespeare";
	b.nonce = 0;
	b.fee = 10;
	b.kind_case = IOLM__TX_BODY__KIND_TASK_CREATE;
	b.task_create = &tc;
	return b;
}

static void task_create_bounds(void **state)
{
	Iolm__TxBody b = task_body();
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_OK);
#define EXPECT(mutation, code)                                   \
	do {                                                     \
		b = task_body();                                 \
		mutation;                                        \
		assert_int_equal(sign_and_decode(&b, CHAIN), code); \
	} while (0)
	EXPECT(mc.n_layer = 0, IOLM_ELEDGER_MODEL);
	EXPECT(mc.n_layer = 65, IOLM_ELEDGER_MODEL);
	EXPECT(mc.n_embd = 66, IOLM_ELEDGER_MODEL); /* not a multiple of n_head */
	EXPECT(mc.vocab = 255, IOLM_ELEDGER_MODEL);
	EXPECT(mc.seq_len = 4, IOLM_ELEDGER_MODEL);
	EXPECT(tc.model = NULL, IOLM_ELEDGER_MODEL);
	EXPECT(oc.lr = 0.0f, IOLM_ELEDGER_OPTIM);
	EXPECT(oc.lr = NAN, IOLM_ELEDGER_OPTIM);
	EXPECT(oc.beta2 = 1.0f, IOLM_ELEDGER_OPTIM);
	EXPECT(oc.eps = INFINITY, IOLM_ELEDGER_OPTIM);
	EXPECT(oc.warmup_steps = 2000, IOLM_ELEDGER_OPTIM);
	EXPECT(oc.grad_clip = -1.0f, IOLM_ELEDGER_OPTIM);
	EXPECT(tc.optim = NULL, IOLM_ELEDGER_OPTIM);
	EXPECT(tc.dataset_id.len = 32, IOLM_ELEDGER_ARTIFACT);
	EXPECT(tc.batch_size = 0, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.segment_len = 0, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.samples = 65, IOLM_ELEDGER_TASKPARAM);
	EXPECT(mc.n_layer = 64; mc.n_embd = 4096, IOLM_ELEDGER_MODEL); /* > 2^31 parameters */
	EXPECT(mc.n_embd = 8192, IOLM_ELEDGER_MODEL);
	EXPECT(tc.designer_share_bps = 10001, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.breakthrough_bps = 0, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.margin_end_ppm = 6000, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.margin_decay_blocks = 0, IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.name = "a name that is much too long for a task, more than sixty-four bytes", IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.name = "tab\there", IOLM_ELEDGER_TASKPARAM);
	EXPECT(tc.reward_pool = 0, IOLM_ELEDGER_AMOUNT);
}

static Iolm__WorkCommit wc;

static Iolm__TxBody work_body(void)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	iolm__work_commit__init(&wc);
	wc.task_id.data = h32;
	wc.task_id.len = 32;
	wc.steps = 30;
	wc.proof_root.data = h32;
	wc.proof_root.len = 32;
	wc.final_state.data = h32;
	wc.final_state.len = 32;
	wc.checkpoint_id.data = art;
	wc.checkpoint_id.len = sizeof art;
	wc.eval_loss = 3200000;
	wc.bond = 500;
	wc.endpoint = "http://127.0.0.1:9000";
	b.fee = 10;
	b.kind_case = IOLM__TX_BODY__KIND_WORK_COMMIT;
	b.work_commit = &wc;
	return b;
}

#undef EXPECT
#define EXPECT(mutation, code)                                   \
	do {                                                     \
		b = work_body();                                 \
		mutation;                                        \
		assert_int_equal(sign_and_decode(&b, CHAIN), code); \
	} while (0)

static void work_commit_bounds(void **state)
{
	Iolm__TxBody b = work_body();
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_OK);
	EXPECT(wc.task_id.len = 31, IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.parent_work.data = h32; wc.parent_work.len = 16, IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.steps = 0, IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.proof_root.len = 0, IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.eval_loss = 0, IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.endpoint = "bad\nendpoint", IOLM_ELEDGER_WORKPARAM);
	EXPECT(wc.start_step = UINT64_MAX - 5, IOLM_ELEDGER_STEPS);
	EXPECT(wc.checkpoint_id.len = 32, IOLM_ELEDGER_ARTIFACT);
	EXPECT(wc.bond = 0, IOLM_ELEDGER_BOND);
}

static void kinds_not_enabled_are_refused(void **state)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Challenge ch = IOLM__CHALLENGE__INIT;
	ch.work_id.data = h32;
	ch.work_id.len = 32;
	b.fee = 10;
	b.kind_case = IOLM__TX_BODY__KIND_CHALLENGE;
	b.challenge = &ch;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_ELEDGER_DISABLED);
	/* attestations are enabled: a well-formed one decodes, a short work id does not */
	Iolm__Attest at = IOLM__ATTEST__INIT;
	at.work_id.data = h32;
	at.work_id.len = 32;
	at.valid = 1;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &at;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_OK);
	at.work_id.len = 31;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_ELEDGER_NOWORK);
	Iolm__ModelPay mp = IOLM__MODEL_PAY__INIT;
	b.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
	b.model_pay = &mp;
	mp.task_id.data = h32;
	mp.task_id.len = 32;
	mp.amount = 0;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_ELEDGER_AMOUNT);
	mp.amount = 5;
	assert_int_equal(sign_and_decode(&b, CHAIN), IOLM_OK);
}

static void signature_cache_remembers_recent_ids(void **state)
{
	ledger_sigcache *c;
	uint8_t id[32];
	assert_int_equal(ledger_sigcache_create(&c, 1000), IOLM_OK);
	for (uint32_t i = 0; i < 5000; i++) {
		iolm_hash(id, IOLM_TAG_TX, &i, sizeof i);
		ledger_sigcache_add(c, id);
		assert_true(ledger_sigcache_has(c, id));
	}
	/* the last capacity/2 are certainly remembered, the first ones long forgotten */
	for (uint32_t i = 4500; i < 5000; i++) {
		iolm_hash(id, IOLM_TAG_TX, &i, sizeof i);
		assert_true(ledger_sigcache_has(c, id));
	}
	for (uint32_t i = 0; i < 100; i++) {
		iolm_hash(id, IOLM_TAG_TX, &i, sizeof i);
		assert_false(ledger_sigcache_has(c, id));
	}
	ledger_sigcache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transfer_rules),
		cmocka_unit_test(decoded_fields_and_id),
		cmocka_unit_test(envelope_rules),
		cmocka_unit_test(task_create_bounds),
		cmocka_unit_test(work_commit_bounds),
		cmocka_unit_test(kinds_not_enabled_are_refused),
		cmocka_unit_test(signature_cache_remembers_recent_ids),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
