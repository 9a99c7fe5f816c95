/* Fuzz the transaction rules on a real chain: the input is a list of transaction bodies,
 * which the harness signs (so they get past the signature) and points at the chain's
 * tasks and works (so they reach the stateful rules); then one block is built of them on
 * a ledger that holds open, closed and decided tasks and works.
 *
 * Input: records of [who: 1 byte][length: 2 bytes, big-endian][TxBody bytes]. who & 7
 * picks the signer (0-3 accounts, 4-7 validators); unless who & 0x80, the fee is set to
 * the minimum; the nonce is always the signer's next one. A 32-byte task, work or parent
 * id whose first byte is below 0x10 is replaced by the chain's id number (byte % 6).
 *
 * Properties: nothing crashes; a transaction that ledger_tx_check refuses (a final
 * refusal) is left out of the block; ledger_block_check accepts the block the builder
 * made, executing it afresh. The state never changes between runs: the block is never
 * committed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The ledger test fixture, with abort() for cmocka's checks. */
#define assert_int_equal(a, b)                                                                 \
	do {                                                                                   \
		if ((long long)(a) != (long long)(b))                                          \
			abort();                                                               \
	} while (0)
#define assert_true(c)                                                                         \
	do {                                                                                   \
		if (!(c))                                                                      \
			abort();                                                               \
	} while (0)
#define assert_non_null(p) assert_true((p) != NULL)
#define fail_msg(...) abort()

#include "../unit/ledger/mining_fixture.h"

#define MAX_TXS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mfx M;
/* tasks: open, past its deadline; works: accepted, slashed, pending (open task), on the
 * closed task */
static uint8_t ids[6][32];
static int ready;

static void queue_work(uint8_t id[32], int miner, const uint8_t *task, uint64_t bond)
{
	struct fx_work w;
	fx_work_init(&w, task, NULL, 0, 10, 4000000, bond, mfx_art, sizeof mfx_art);
	mfx_sign(&M, miner, &w.b, id);
}

static void chain(void)
{
	struct fx_task t;
	mfx_init(&M, NULL);
	mfx_fund_validators(&M, 7, 100000);
	mfx_block(&M);
	mfx_task_init(&t, 1000000);
	mfx_sign(&M, 0, &t.b, ids[0]);
	mfx_task_init(&t, 1000000);
	t.tc.deadline_height = 3;
	mfx_sign(&M, 1, &t.b, ids[1]);
	mfx_block(&M);
	queue_work(ids[2], 1, ids[0], 500);
	queue_work(ids[3], 2, ids[0], 500);
	queue_work(ids[5], 3, ids[1], 500);
	mfx_block(&M);
	mfx_block(&M);
	mfx_attest_quorum(&M, ids[2], 1, 4000000);
	mfx_attest_quorum(&M, ids[3], 0, 0);
	mfx_block(&M);
	queue_work(ids[4], 3, ids[0], 500);
	mfx_block(&M);
}

static void cleanup(void)
{
	mfx_free(&M);
}

static void point(ProtobufCBinaryData *b)
{
	if (b->len == 32 && b->data[0] < 0x10)
		memcpy(b->data, ids[b->data[0] % 6], 32);
}

struct rejects {
	uint8_t ids[MAX_TXS][32];
	size_t n;
};

static void on_reject(void *ctx, const uint8_t id[static 32], int err)
{
	struct rejects *r = ctx;
	(void)err;
	if (r->n < MAX_TXS)
		memcpy(r->ids[r->n++], id, 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	iolm_buf raw[MAX_TXS], blk;
	uint8_t final_ids[MAX_TXS][32];
	uint64_t nonce[8] = { 0 };
	struct rejects r = { .n = 0 };
	size_t n = 0, n_final = 0;

	if (!ready) {
		chain();
		atexit(cleanup);
		ready = 1;
	}
	for (int i = 0; i < 4; i++)
		nonce[i] = M.nonce[i];
	for (int i = 0; i < 4; i++)
		nonce[4 + i] = M.vnonce[i];

	while (size >= 3 && n < MAX_TXS) {
		uint8_t who = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		Iolm__TxBody *b = NULL;
		int err = iolm_codec_decode((ProtobufCMessage **)&b, &iolm__tx_body__descriptor, data,
					    len, IOLM_MAX_TX_BYTES);
		data += len;
		size -= len;
		if (err)
			continue;
		const iolm_key *key = (who & 7) < 4 ? &M.f.acct[who & 3] : &M.f.val[who & 3];
		b->nonce = nonce[who & 7];
		if (!(who & 0x80))
			b->fee = FX_MIN_FEE;
		switch (b->kind_case) {
		case IOLM__TX_BODY__KIND_WORK_COMMIT:
			point(&b->work_commit->task_id);
			point(&b->work_commit->parent_work);
			break;
		case IOLM__TX_BODY__KIND_ATTEST:
			point(&b->attest->work_id);
			break;
		case IOLM__TX_BODY__KIND_MODEL_PAY:
			point(&b->model_pay->task_id);
			break;
		default:
			break;
		}
		/* Signed as a copy: signing points chain_id and sender at the harness's own
		 * memory, which the decoded message must not free. */
		Iolm__TxBody signed_body = *b;
		iolm_buf_init(&raw[n], IOLM_MAX_TX_BYTES);
		err = ledger_tx_sign(&raw[n], &signed_body, key, FX_CHAIN);
		iolm_codec_free(&b->base);
		ledger_tx tx;
		/* Bodies the stateless rules refuse never reach a block. */
		if (err || ledger_tx_decode(&tx, FX_CHAIN, raw[n].data, raw[n].len) != IOLM_OK) {
			iolm_buf_release(&raw[n], 0);
			continue;
		}
		err = ledger_tx_check(M.f.l, &tx, NULL, NULL);
		if (err) {
			if (!ledger_tx_err_final(err))
				abort(); /* only final refusals, or errors that are not the tx's */
			memcpy(final_ids[n_final++], tx.id, 32);
		}
		ledger_tx_release(&tx);
		nonce[who & 7]++;
		n++;
	}

	/* The block: every finally refused transaction left out; and valid when checked. */
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	fx_build(&M.f, &blk, raw, n, on_reject, &r);
	for (size_t i = 0; i < n_final; i++) {
		size_t j = 0;
		while (j < r.n && memcmp(r.ids[j], final_ids[i], 32) != 0)
			j++;
		if (j == r.n)
			abort(); /* taken into the block after a final refusal */
	}
	ledger_release_prepared(M.f.l, 0);
	if (ledger_block_check(M.f.l, blk.data, blk.len, NULL) != IOLM_OK)
		abort(); /* the builder's own block refused */
	ledger_release_prepared(M.f.l, 0);
	M.f.time_ms -= 1000; /* fx_build advanced it */
	iolm_buf_release(&blk, 0);
	for (size_t i = 0; i < n; i++)
		iolm_buf_release(&raw[i], 0);
	return 0;
}
