/* Block execution: the transaction rules with their error codes, fees, receipts, two
 * independent ledgers agreeing, proofs against header roots, the supply invariant. */
#include "../test_util.h"

#include "ledger_fixture.h"

static struct fx F;

static int setup(void **state)
{
	fx_init(&F, NULL);
	return 0;
}

static int teardown(void **state)
{
	fx_free(&F);
	return 0;
}

struct rejects {
	int n;
	int err[64];
};

static void on_reject(void *ctx, const uint8_t id[static 32], int err)
{
	struct rejects *r = ctx;
	r->err[r->n++] = err;
}

static void balance_of(ledger *l, const uint8_t *id, uint64_t *bal, uint64_t *nonce)
{
	assert_int_equal(ledger_get_account(l, id, bal, nonce), IOLM_OK);
}

static void genesis_state(void **state)
{
	ledger_head h;
	uint64_t bal, nonce, gs, minted, burned, esc;
	assert_int_equal(ledger_get_head(F.l, &h), IOLM_OK);
	assert_int_equal(h.height, 0);
	for (int i = 0; i < FX_ACCOUNTS; i++) {
		balance_of(F.l, F.id[i], &bal, &nonce);
		assert_true(bal == FX_BALANCE);
		assert_int_equal(nonce, 0);
	}
	assert_int_equal(ledger_get_supply(F.l, &gs, &minted, &burned, &esc), IOLM_OK);
	assert_true(gs == FX_ACCOUNTS * FX_BALANCE);
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);
}

static void transfers_move_funds_and_pay_fees(void **state)
{
	iolm_buf c[3], blk;
	uint64_t bal, nonce;
	uint8_t fresh[IOLM_ADDR_LEN];
	memset(fresh, 0x77, sizeof fresh);
	fx_bufs_init(c, 3);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	fx_transfer(&F, &c[0], 0, F.id[1], 500, 10, 0);
	fx_transfer(&F, &c[1], 0, fresh, 300, 20, 1);
	fx_transfer(&F, &c[2], 1, F.id[0], 7, 10, 0);
	fx_build(&F, &blk, c, 3, NULL, NULL);
	fx_commit(&F, F.l, &blk);

	balance_of(F.l, F.id[0], &bal, &nonce);
	assert_true(bal == FX_BALANCE - 500 - 10 - 300 - 20 + 7);
	assert_int_equal(nonce, 2);
	balance_of(F.l, F.id[1], &bal, &nonce);
	assert_true(bal == FX_BALANCE + 500 - 7 - 10);
	balance_of(F.l, fresh, &bal, &nonce);
	assert_true(bal == 300);
	assert_int_equal(nonce, 0);
	/* height 1 has no certificate to pay: the proposer takes all 40 in fees */
	uint8_t prop[IOLM_ADDR_LEN];
	iolm_addr_from_pub(prop, iolm_key_pub(&F.val[0]));
	balance_of(F.l, prop, &bal, &nonce);
	assert_true(bal == 40);
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);

	/* Height 2 carries the certificate of height 1 (all four validators, powers
	 * 10..13 = 46): the 30 in fees split by power, the remainder to the proposer. */
	fx_bufs_release(c, 3);
	fx_bufs_init(c, 1);
	iolm_buf_reset(&blk);
	fx_transfer(&F, &c[0], 2, F.id[3], 1, 30, 0);
	fx_build(&F, &blk, c, 1, NULL, NULL);
	fx_commit(&F, F.l, &blk);
	/* floor(30 * p / 46) for p = 10, 11, 12, 13: 6, 7, 7, 8; remainder 2 */
	static const uint64_t share[FX_VALIDATORS] = { 6, 7, 7, 8 };
	for (int v = 0; v < FX_VALIDATORS; v++) {
		uint8_t vid[IOLM_ADDR_LEN];
		iolm_addr_from_pub(vid, iolm_key_pub(&F.val[v]));
		balance_of(F.l, vid, &bal, &nonce);
		if (v == 0)
			assert_true(bal == 40 + share[0] + 2);
		else
			assert_true(bal == share[v]);
	}
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);
	fx_bufs_release(c, 1);
	iolm_buf_release(&blk, 0);
}

static void stateful_rules_reject_with_their_codes(void **state)
{
	iolm_buf c[6], blk;
	struct rejects r = { 0 };
	uint64_t bal0, n0;
	balance_of(F.l, F.id[4], &bal0, &n0);
	fx_bufs_init(c, 6);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	fx_transfer(&F, &c[0], 4, F.id[1], 1, FX_MIN_FEE - 1, n0);     /* fee */
	fx_transfer(&F, &c[1], 5, F.id[1], 1, FX_MIN_FEE, 7);          /* gap */
	fx_transfer(&F, &c[2], 6, F.id[1], FX_BALANCE, FX_MIN_FEE, 0); /* balance */
	fx_transfer(&F, &c[3], 7, F.id[1], 1, FX_MIN_FEE, 0);          /* fine */
	fx_transfer(&F, &c[4], 7, F.id[1], 1, FX_MIN_FEE, 0);          /* nonce reused */
	fx_transfer(&F, &c[5], 4, F.id[1], 1, FX_MIN_FEE, n0 + 1);     /* after a rejected one */
	fx_build(&F, &blk, c, 6, on_reject, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.err[0], IOLM_ELEDGER_FEE);
	assert_int_equal(r.err[1], IOLM_ELEDGER_NONCE_GAP);
	assert_int_equal(r.err[2], IOLM_ELEDGER_BALANCE);
	assert_int_equal(r.err[3], IOLM_ELEDGER_NONCE_OLD);
	assert_int_equal(r.err[4], IOLM_ELEDGER_NONCE_GAP); /* its sender was skipped */
	Iolm__Block *b;
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(b->n_txs, 1);
	iolm_codec_free(&b->base);
	fx_commit(&F, F.l, &blk);
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);
	fx_bufs_release(c, 6);
	iolm_buf_release(&blk, 0);
}

/* Rebuild a block's encoding with its header altered by fn. */
static void mutate_header(iolm_buf *out, const iolm_buf *blk, void (*fn)(Iolm__BlockHeader *))
{
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	iolm_buf hb;
	assert_int_equal(iolm_decode_block(&b, blk->data, blk->len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(iolm_decode_block_header(&h, b->header.data, b->header.len, 4096), IOLM_OK);
	fn(h);
	iolm_buf_init(&hb, 4096);
	assert_int_equal(iolm_codec_encode(&hb, &h->base), IOLM_OK);
	ProtobufCBinaryData orig = b->header; /* restored before free: protobuf-c owns it */
	b->header.data = hb.data;
	b->header.len = hb.len;
	assert_int_equal(iolm_codec_encode(out, &b->base), IOLM_OK);
	b->header = orig;
	iolm_buf_release(&hb, 0);
	iolm_codec_free(&h->base);
	iolm_codec_free(&b->base);
}

static void h_height(Iolm__BlockHeader *h) { h->height++; }
static void h_time(Iolm__BlockHeader *h) { h->time_ms = 1; }
static void h_time_far(Iolm__BlockHeader *h) { h->time_ms += 25ull * 3600 * 1000; }
static void h_prev(Iolm__BlockHeader *h) { h->prev_id.data[0] ^= 1; }
static void h_txroot(Iolm__BlockHeader *h) { h->tx_root.data[0] ^= 1; }
static void h_stateroot(Iolm__BlockHeader *h) { h->state_root.data[5] ^= 1; }
static void h_chain(Iolm__BlockHeader *h) { h->chain_id[0] = 'x'; }
static void h_version(Iolm__BlockHeader *h) { h->version = 9; }
static void h_valset(Iolm__BlockHeader *h) { h->validators_hash.data[0] ^= 1; }
static void h_proposer(Iolm__BlockHeader *h) { h->proposer.data[3] ^= 1; }
static void h_lastcommit(Iolm__BlockHeader *h) { h->last_commit_hash.data[0] ^= 1; }

static void header_rules_reject_with_their_codes(void **state)
{
	static const struct {
		void (*fn)(Iolm__BlockHeader *);
		int err;
	} cases[] = {
		{ h_height, IOLM_ELEDGER_HEIGHT },     { h_time, IOLM_ELEDGER_TIME },
		{ h_time_far, IOLM_ELEDGER_TIME },
		{ h_prev, IOLM_ELEDGER_PREV },         { h_txroot, IOLM_ELEDGER_TXROOT },
		{ h_stateroot, IOLM_ELEDGER_STATEROOT }, { h_chain, IOLM_ELEDGER_CHAIN },
		{ h_version, IOLM_ELEDGER_HEADER },    { h_valset, IOLM_ELEDGER_HEADER },
		{ h_proposer, IOLM_ELEDGER_PROPOSER }, { h_lastcommit, IOLM_ELEDGER_LASTCOMMIT },
	};
	iolm_buf c[1], blk, bad;
	uint64_t bal, nonce;
	fx_bufs_init(c, 1);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&bad, IOLM_MAX_BLOCK_BYTES);
	balance_of(F.l, F.id[2], &bal, &nonce);
	fx_transfer(&F, &c[0], 2, F.id[5], 3, FX_MIN_FEE, nonce);
	fx_build(&F, &blk, c, 1, NULL, NULL);
	assert_int_equal(ledger_block_check(F.l, blk.data, blk.len, NULL), IOLM_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		iolm_buf_reset(&bad);
		mutate_header(&bad, &blk, cases[i].fn);
		int rc = ledger_block_check(F.l, bad.data, bad.len, NULL);
		if (rc != cases[i].err)
			fail_msg("case %zu: got %s want %s", i, iolm_errname(rc),
				 iolm_errname(cases[i].err));
	}
	/* garbage and an oversized block */
	static const uint8_t junk[] = { 0xff, 0xff, 0xff };
	assert_int_equal(ledger_block_check(F.l, junk, sizeof junk, NULL), IOLM_EDECODE);
	assert_int_equal(ledger_block_check(F.l, blk.data, 5u << 20, NULL), IOLM_ELEDGER_BLOCKSIZE);
	/* a certificate for another block is refused at commit */
	iolm_buf cert;
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	fx_cert(&F, &cert, bad.data, bad.len);
	assert_int_equal(ledger_block_commit(F.l, blk.data, blk.len, cert.data, cert.len, NULL, NULL),
			 IOLM_ELEDGER_CERT);
	iolm_buf_release(&cert, 0);
	/* the untouched block still commits, and nothing of the failures stuck */
	fx_commit(&F, F.l, &blk);
	assert_int_equal(ledger_verify_state(F.l), IOLM_OK);
	fx_bufs_release(c, 1);
	iolm_buf_release(&blk, 0);
	iolm_buf_release(&bad, 0);
}

/* A block whose transaction is invalid is invalid as a whole. */
static void a_block_with_an_invalid_tx_is_invalid(void **state)
{
	iolm_buf c[1], blk, bad;
	uint64_t bal, nonce;
	fx_bufs_init(c, 1);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&bad, IOLM_MAX_BLOCK_BYTES);
	balance_of(F.l, F.id[3], &bal, &nonce);
	fx_transfer(&F, &c[0], 3, F.id[5], 3, FX_MIN_FEE, nonce);
	fx_build(&F, &blk, c, 1, NULL, NULL);

	Iolm__Block *b;
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	/* flip a bit in the tx signature: same length, bad signature */
	uint8_t *raw = b->txs[0].data;
	raw[b->txs[0].len - 1] ^= 1;
	assert_int_equal(iolm_codec_encode(&bad, &b->base), IOLM_OK);
	assert_int_equal(ledger_block_check(F.l, bad.data, bad.len, NULL), IOLM_ELEDGER_SIGNATURE);
	iolm_codec_free(&b->base);

	/* a tx with a nonce gap, even validly signed: the whole block fails */
	iolm_buf_reset(&c[0]);
	fx_transfer(&F, &c[0], 3, F.id[5], 3, FX_MIN_FEE, nonce + 5);
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	ProtobufCBinaryData orig = b->txs[0];
	b->txs[0].data = c[0].data;
	b->txs[0].len = c[0].len;
	iolm_buf_reset(&bad);
	assert_int_equal(iolm_codec_encode(&bad, &b->base), IOLM_OK);
	b->txs[0] = orig;
	iolm_codec_free(&b->base);
	int rc = ledger_block_check(F.l, bad.data, bad.len, NULL);
	assert_int_equal(rc, IOLM_ELEDGER_NONCE_GAP);
	fx_bufs_release(c, 1);
	iolm_buf_release(&blk, 0);
	iolm_buf_release(&bad, 0);
}

static void receipts_index_and_block_lookup(void **state)
{
	iolm_buf c[2], blk, out;
	uint64_t bal, nonce, height;
	uint32_t index;
	fx_bufs_init(c, 2);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&out, IOLM_MAX_BLOCK_BYTES);
	balance_of(F.l, F.id[6], &bal, &nonce);
	fx_transfer(&F, &c[0], 6, F.id[7], 11, FX_MIN_FEE, nonce);
	fx_transfer(&F, &c[1], 6, F.id[7], 12, FX_MIN_FEE + 1, nonce + 1);
	fx_build(&F, &blk, c, 2, NULL, NULL);
	uint8_t id[32];
	iolm_buf cert;
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	fx_cert(&F, &cert, blk.data, blk.len);
	assert_int_equal(ledger_block_commit(F.l, blk.data, blk.len, cert.data, cert.len, NULL, id),
			 IOLM_OK);
	iolm_buf_reset(&F.last_cert);
	assert_int_equal(iolm_buf_append(&F.last_cert, cert.data, cert.len), IOLM_OK);
	ledger_head head;
	assert_int_equal(ledger_get_head(F.l, &head), IOLM_OK);
	assert_memory_equal(head.block_id, id, 32);

	uint8_t txid[32];
	iolm_hash(txid, IOLM_TAG_TX, c[1].data, c[1].len);
	assert_int_equal(ledger_get_tx(F.l, txid, &height, &index, &out), IOLM_OK);
	assert_true(height == head.height);
	assert_int_equal(index, 1);
	Iolm__Receipt *r;
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&r, &iolm__receipt__descriptor,
					   out.data, out.len, 4096),
			 IOLM_OK);
	assert_int_equal(r->fee, FX_MIN_FEE + 1);
	assert_int_equal(r->n_events, 1);
	assert_string_equal(r->events[0]->type, "transfer");
	assert_int_equal(r->events[0]->amount, 12);
	assert_memory_equal(r->events[0]->counterparty.data, F.id[7], IOLM_ADDR_LEN);
	iolm_codec_free(&r->base);

	iolm_buf_reset(&out);
	assert_int_equal(ledger_get_block(F.l, head.height, &out), IOLM_OK);
	assert_int_equal(out.len, blk.len);
	assert_memory_equal(out.data, blk.data, blk.len);
	iolm_buf_reset(&out);
	assert_int_equal(ledger_get_block_by_id(F.l, id, &out, &height), IOLM_OK);
	assert_true(height == head.height);
	iolm_buf_reset(&out);
	assert_int_equal(ledger_get_cert(F.l, head.height, &out), IOLM_OK);
	assert_memory_equal(out.data, cert.data, cert.len);
	uint8_t missing[32] = { 9 };
	assert_int_equal(ledger_get_tx(F.l, missing, &height, &index, NULL), IOLM_ENOTFOUND);
	assert_int_equal(ledger_get_block(F.l, 999, &out), IOLM_ENOTFOUND);
	iolm_buf_release(&cert, 0);
	fx_bufs_release(c, 2);
	iolm_buf_release(&blk, 0);
	iolm_buf_release(&out, 0);
}

static void account_proofs_verify_against_the_header_root(void **state)
{
	iolm_buf val, blk;
	ledger_proof *p = malloc(sizeof *p);
	uint8_t root[32], key[32];
	ledger_head head;
	assert_non_null(p);
	iolm_buf_init(&val, 4096);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	assert_int_equal(ledger_get_head(F.l, &head), IOLM_OK);
	assert_int_equal(ledger_get_block(F.l, head.height, &blk), IOLM_OK);
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	assert_int_equal(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(iolm_decode_block_header(&h, b->header.data, b->header.len, 4096), IOLM_OK);

	assert_int_equal(ledger_get_account_proved(F.l, F.id[7], &val, p, root), IOLM_OK);
	assert_memory_equal(root, h->state_root.data, 32);
	ledger_account_key(key, F.id[7]);
	assert_int_equal(ledger_proof_verify(h->state_root.data, key, val.data, val.len, p), IOLM_OK);
	val.data[val.len - 1] ^= 1; /* a different balance does not verify */
	assert_int_equal(ledger_proof_verify(h->state_root.data, key, val.data, val.len, p),
			 IOLM_EPROOF);

	uint8_t nobody[IOLM_ADDR_LEN];
	memset(nobody, 0x42, sizeof nobody);
	iolm_buf_reset(&val);
	assert_int_equal(ledger_get_account_proved(F.l, nobody, &val, p, root), IOLM_ENOTFOUND);
	ledger_account_key(key, nobody);
	assert_int_equal(ledger_proof_verify(h->state_root.data, key, NULL, 0, p), IOLM_OK);
	iolm_codec_free(&h->base);
	iolm_codec_free(&b->base);
	iolm_buf_release(&val, 0);
	iolm_buf_release(&blk, 0);
	free(p);
}

static void another_genesis_cannot_open_the_directory(void **state)
{
	ledger_genesis *g2;
	ledger *l2;
	char err[128];
	static const char other[] =
		"{\"chain_id\": \"iolm-other\", \"genesis_time_ms\": 5, \"validators\": "
		"[{\"pubkey\": \"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\", "
		"\"power\": 1}]}";
	assert_int_equal(ledger_genesis_parse(&g2, other, strlen(other), err, sizeof err), IOLM_OK);
	ledger_close(F.l);
	assert_int_equal(ledger_open(&l2, F.dir, g2, NULL), IOLM_ELEDGER_GENESIS_MISMATCH);
	fx_open_dir(&F, &F.l, F.dir);
	ledger_genesis_destroy(g2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(genesis_state),
		cmocka_unit_test(transfers_move_funds_and_pay_fees),
		cmocka_unit_test(stateful_rules_reject_with_their_codes),
		cmocka_unit_test(header_rules_reject_with_their_codes),
		cmocka_unit_test(a_block_with_an_invalid_tx_is_invalid),
		cmocka_unit_test(receipts_index_and_block_lookup),
		cmocka_unit_test(account_proofs_verify_against_the_header_root),
		cmocka_unit_test(another_genesis_cannot_open_the_directory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
