#include "test_util.h"

#include <stdlib.h>

#include "core/codec.h"

/* Encode a TxBody carrying a transfer, for the tests below. */
static void sample_tx_bytes(iolm_buf *out)
{
	Iolm__TxBody body = IOLM__TX_BODY__INIT;
	Iolm__Transfer tr = IOLM__TRANSFER__INIT;
	uint8_t sender[32], to[20], sig[64];
	iolm_buf bb;

	memset(sender, 0x11, sizeof sender);
	memset(to, 0x22, sizeof to);
	memset(sig, 0x33, sizeof sig);
	tr.to.data = to;
	tr.to.len = sizeof to;
	tr.amount = 1000000;
	body.chain_id = "iolm-test";
	body.sender.data = sender;
	body.sender.len = sizeof sender;
	body.nonce = 7;
	body.fee = 10;
	body.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	body.transfer = &tr;

	iolm_buf_init(&bb, IOLM_MAX_TX_BYTES);
	assert_int_equal(iolm_codec_encode(&bb, &body.base), IOLM_OK);

	Iolm__Tx tx = IOLM__TX__INIT;
	tx.body.data = bb.data;
	tx.body.len = bb.len;
	tx.signature.data = sig;
	tx.signature.len = sizeof sig;
	iolm_buf_init(out, IOLM_MAX_TX_BYTES);
	assert_int_equal(iolm_codec_encode(out, &tx.base), IOLM_OK);
	iolm_buf_release(&bb, 0);
}

static void tx_round_trips(void **state)
{
	iolm_buf b;
	Iolm__Tx *tx;
	Iolm__TxBody *body;
	sample_tx_bytes(&b);
	assert_int_equal(iolm_decode_tx(&tx, b.data, b.len, IOLM_MAX_TX_BYTES), IOLM_OK);
	assert_int_equal(tx->signature.len, 64);
	assert_int_equal(iolm_decode_tx_body(&body, tx->body.data, tx->body.len,
					     IOLM_MAX_TX_BYTES),
			 IOLM_OK);
	assert_string_equal(body->chain_id, "iolm-test");
	assert_int_equal(body->nonce, 7);
	assert_int_equal(body->kind_case, IOLM__TX_BODY__KIND_TRANSFER);
	assert_int_equal(body->transfer->amount, 1000000);
	iolm_codec_free(&body->base);
	iolm_codec_free(&tx->base);
	iolm_buf_release(&b, 0);
}

static void oversized_input_is_refused_before_parsing(void **state)
{
	iolm_buf b;
	Iolm__Tx *tx = (Iolm__Tx *)1;
	sample_tx_bytes(&b);
	assert_int_equal(iolm_decode_tx(&tx, b.data, b.len, b.len - 1), IOLM_ETOOBIG);
	assert_null(tx);
	assert_int_equal(iolm_decode_tx(&tx, b.data, b.len, b.len), IOLM_OK);
	iolm_codec_free(&tx->base);
	iolm_buf_release(&b, 0);
}

/* Every prefix of a valid encoding either fails to parse or is a different (shorter,
 * canonical) message; it never decodes to the original. Cuts inside a field fail. */
static void truncated_input_is_rejected(void **state)
{
	iolm_buf b;
	sample_tx_bytes(&b);
	int failed = 0;
	for (size_t len = 0; len < b.len; len++) {
		Iolm__Tx *tx;
		int rc = iolm_decode_tx(&tx, b.data, len, IOLM_MAX_TX_BYTES);
		if (rc == IOLM_OK) {
			assert_int_equal(iolm_codec_size(&tx->base), len);
			assert_true(tx->signature.len != 64);
			iolm_codec_free(&tx->base);
		} else {
			assert_int_equal(rc, IOLM_EDECODE);
			failed++;
		}
	}
	/* Only the empty message and the cut between body and signature are whole. */
	assert_int_equal(failed, (int)b.len - 2);
	iolm_buf_release(&b, 0);
}

static void trailing_bytes_are_rejected(void **state)
{
	iolm_buf b;
	Iolm__Tx *tx;
	sample_tx_bytes(&b);
	/* A zero byte is field number 0: not protobuf at all. */
	assert_int_equal(iolm_buf_append_byte(&b, 0), IOLM_OK);
	assert_int_equal(iolm_decode_tx(&tx, b.data, b.len, IOLM_MAX_TX_BYTES), IOLM_EDECODE);
	/* A second signature field parses (last wins) but is not canonical. */
	b.len--;
	static const uint8_t dup[] = { 0x12, 0x01, 0xaa };
	assert_int_equal(iolm_buf_append(&b, dup, sizeof dup), IOLM_OK);
	assert_int_equal(iolm_decode_tx(&tx, b.data, b.len, IOLM_MAX_TX_BYTES), IOLM_ENONCANON);
	assert_null(tx);
	iolm_buf_release(&b, 0);
}

static void non_canonical_encodings_are_rejected(void **state)
{
	Iolm__TxBody *body;
	/* nonce = 0 written out (proto3 omits defaults) */
	static const uint8_t zero_written[] = { 0x18, 0x00 };
	assert_int_equal(iolm_decode_tx_body(&body, zero_written, sizeof zero_written, 100),
			 IOLM_ENONCANON);
	/* nonce = 1 as a two-byte varint */
	static const uint8_t long_varint[] = { 0x18, 0x81, 0x00 };
	assert_int_equal(iolm_decode_tx_body(&body, long_varint, sizeof long_varint, 100),
			 IOLM_ENONCANON);
	/* fee before nonce */
	static const uint8_t out_of_order[] = { 0x20, 0x05, 0x18, 0x01 };
	assert_int_equal(iolm_decode_tx_body(&body, out_of_order, sizeof out_of_order, 100),
			 IOLM_ENONCANON);
	/* and the canonical form of the same message is accepted */
	static const uint8_t in_order[] = { 0x18, 0x01, 0x20, 0x05 };
	assert_int_equal(iolm_decode_tx_body(&body, in_order, sizeof in_order, 100), IOLM_OK);
	assert_int_equal(body->nonce, 1);
	assert_int_equal(body->fee, 5);
	iolm_codec_free(&body->base);
}

static void unknown_fields_and_types_are_rejected(void **state)
{
	Iolm__TxBody *body;
	Iolm__Frame *frame;
	/* field 111, varint */
	static const uint8_t unknown_field[] = { 0x18, 0x01, 0xf8, 0x06, 0x01 };
	assert_int_equal(iolm_decode_tx_body(&body, unknown_field, sizeof unknown_field, 100),
			 IOLM_EUNKNOWN);
	/* Frame type 50: not one the schema knows */
	static const uint8_t unknown_type[] = { 0x92, 0x03, 0x00 };
	assert_int_equal(iolm_decode_frame(&frame, unknown_type, sizeof unknown_type, 100),
			 IOLM_EUNKNOWN);
	/* An unknown field nested inside a known frame: Frame.vote = Vote{field 111} */
	static const uint8_t nested[] = { 0x32, 0x03, 0xf8, 0x06, 0x01 };
	assert_int_equal(iolm_decode_frame(&frame, nested, sizeof nested, 100), IOLM_EUNKNOWN);
	/* The same frame without the stray field is fine. */
	static const uint8_t ping[] = { 0x0a, 0x02, 0x08, 0x05 };
	assert_int_equal(iolm_decode_frame(&frame, ping, sizeof ping, 100), IOLM_OK);
	assert_int_equal(frame->msg_case, IOLM__FRAME__MSG_PING);
	assert_int_equal(frame->ping->nonce, 5);
	iolm_codec_free(&frame->base);
}

static void garbage_is_rejected(void **state)
{
	static const uint8_t ff[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff };
	Iolm__Block *block;
	assert_int_equal(iolm_decode_block(&block, ff, sizeof ff, 100), IOLM_EDECODE);
	/* A length prefix that runs past the end. */
	static const uint8_t overrun[] = { 0x0a, 0x7f, 0x00 };
	assert_int_equal(iolm_decode_block(&block, overrun, sizeof overrun, 100), IOLM_EDECODE);
	/* Wrong wire type for a known field: header (bytes) sent as a varint. */
	static const uint8_t wire[] = { 0x08, 0x01 };
	assert_int_equal(iolm_decode_block(&block, wire, sizeof wire, 100), IOLM_EDECODE);

	/* Deterministic pseudo-random garbage: never accepted as anything non-canonical,
	 * never a crash (ASan and UBSan watch this in the sanitizer run). */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t junk[64];
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(x % sizeof junk);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (uint8_t)x;
		}
		if (iolm_decode_block(&block, junk, len, sizeof junk) == IOLM_OK) {
			assert_int_equal(iolm_codec_size(&block->base), len);
			iolm_codec_free(&block->base);
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
}

static void block_with_certificate_round_trips(void **state)
{
	uint8_t hdr[40], id[32], sig[64];
	memset(hdr, 1, sizeof hdr);
	memset(id, 2, sizeof id);
	memset(sig, 3, sizeof sig);
	Iolm__CommitSig s0 = IOLM__COMMIT_SIG__INIT, s1 = IOLM__COMMIT_SIG__INIT;
	s0.validator = 0;
	s0.signature.data = sig;
	s0.signature.len = 64;
	s1.validator = 2;
	s1.signature.data = sig;
	s1.signature.len = 64;
	Iolm__CommitSig *sigs[] = { &s0, &s1 };
	Iolm__CommitCert cert = IOLM__COMMIT_CERT__INIT;
	cert.height = 41;
	cert.round = 1;
	cert.block_id.data = id;
	cert.block_id.len = 32;
	cert.n_sigs = 2;
	cert.sigs = sigs;
	ProtobufCBinaryData txs[2] = { { 3, hdr }, { 5, hdr } };
	Iolm__Block blk = IOLM__BLOCK__INIT;
	blk.header.data = hdr;
	blk.header.len = sizeof hdr;
	blk.n_txs = 2;
	blk.txs = txs;
	blk.last_commit = &cert;

	iolm_buf b;
	iolm_buf_init(&b, IOLM_MAX_BLOCK_BYTES);
	assert_int_equal(iolm_codec_encode(&b, &blk.base), IOLM_OK);
	Iolm__Block *got;
	assert_int_equal(iolm_decode_block(&got, b.data, b.len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(got->n_txs, 2);
	assert_int_equal(got->txs[1].len, 5);
	assert_non_null(got->last_commit);
	assert_int_equal(got->last_commit->height, 41);
	assert_int_equal(got->last_commit->n_sigs, 2);
	assert_int_equal(got->last_commit->sigs[1]->validator, 2);
	iolm_codec_free(&got->base);

	/* An encoder limit below the size is refused cleanly. */
	iolm_buf small;
	iolm_buf_init(&small, b.len - 1);
	assert_int_equal(iolm_codec_encode(&small, &blk.base), IOLM_ETOOBIG);
	assert_int_equal(small.len, 0);
	iolm_buf_release(&small, 0);
	iolm_buf_release(&b, 0);
}

static void manifest_round_trips(void **state)
{
	uint8_t cid[34];
	cid[0] = 0x1e;
	cid[1] = 0x20;
	memset(cid + 2, 9, 32);
	Iolm__ChunkRef c = IOLM__CHUNK_REF__INIT;
	c.id.data = cid;
	c.id.len = sizeof cid;
	c.size = 65536;
	Iolm__ChunkRef *chunks[] = { &c, &c, &c };
	Iolm__FileEntry f = IOLM__FILE_ENTRY__INIT;
	f.path = "model/weights.bin";
	f.size = 3 * 65536;
	f.n_chunks = 3;
	Iolm__FileEntry *files[] = { &f };
	Iolm__Manifest m = IOLM__MANIFEST__INIT;
	m.version = 1;
	m.kind = IOLM__ARTIFACT_KIND__ARTIFACT_CHECKPOINT;
	m.n_files = 1;
	m.files = files;
	m.n_chunks = 3;
	m.chunks = chunks;
	m.total_size = 3 * 65536;

	iolm_buf b;
	Iolm__Manifest *got;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(iolm_codec_encode(&b, &m.base), IOLM_OK);
	assert_int_equal(iolm_decode_manifest(&got, b.data, b.len, IOLM_MAX_MANIFEST_BYTES),
			 IOLM_OK);
	assert_int_equal(got->kind, IOLM__ARTIFACT_KIND__ARTIFACT_CHECKPOINT);
	assert_string_equal(got->files[0]->path, "model/weights.bin");
	assert_int_equal(got->n_chunks, 3);
	assert_memory_equal(got->chunks[2]->id.data, cid, sizeof cid);
	iolm_codec_free(&got->base);
	iolm_buf_release(&b, 0);
}

/* A frame carrying a large bytes field (an artifact block of 64 KiB): the canonical
 * encoding decodes with the data intact; the same fields in the other order (the same
 * size) do not. */
static void large_bytes_fields_are_checked_in_place(void **state)
{
	enum { N = 65536 };
	uint8_t *data = malloc(N), id[34] = { 0x1e, 0x20 };
	iolm_buf b, swapped;
	Iolm__Frame f = IOLM__FRAME__INIT, *got;
	Iolm__ArtBlock ab = IOLM__ART_BLOCK__INIT;
	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < N; i++)
		data[i] = (uint8_t)(i * 131 + 7);
	ab.chunk_id.data = id;
	ab.chunk_id.len = sizeof id;
	ab.data.data = data;
	ab.data.len = N;
	f.msg_case = IOLM__FRAME__MSG_ART_BLOCK;
	f.art_block = &ab;
	iolm_buf_init(&b, IOLM_MAX_FRAME_BYTES);
	assert_int_equal(iolm_codec_encode(&b, &f.base), IOLM_OK);
	assert_int_equal(iolm_decode_frame(&got, b.data, b.len, IOLM_MAX_FRAME_BYTES), IOLM_OK);
	assert_int_equal(got->art_block->data.len, N);
	assert_memory_equal(got->art_block->data.data, data, N);
	iolm_codec_free(&got->base);

	/* Frame: tag 0x62, length; ArtBlock: chunk_id (0x0a, 34, id), data (0x12, varint
	 * 65536 in 3 bytes, bytes). Swap the two fields. */
	size_t hdr = 1 + 3, idf = 2 + sizeof id, df = 1 + 3 + N;
	assert_int_equal(b.len, hdr + idf + df);
	iolm_buf_init(&swapped, IOLM_MAX_FRAME_BYTES);
	assert_int_equal(iolm_buf_append(&swapped, b.data, hdr), IOLM_OK);
	assert_int_equal(iolm_buf_append(&swapped, b.data + hdr + idf, df), IOLM_OK);
	assert_int_equal(iolm_buf_append(&swapped, b.data + hdr, idf), IOLM_OK);
	assert_int_equal(iolm_decode_frame(&got, swapped.data, swapped.len, IOLM_MAX_FRAME_BYTES),
			 IOLM_ENONCANON);
	assert_null(got);
	iolm_buf_release(&swapped, 0);
	free(data);
	iolm_buf_release(&b, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx_round_trips),
		cmocka_unit_test(oversized_input_is_refused_before_parsing),
		cmocka_unit_test(truncated_input_is_rejected),
		cmocka_unit_test(trailing_bytes_are_rejected),
		cmocka_unit_test(non_canonical_encodings_are_rejected),
		cmocka_unit_test(unknown_fields_and_types_are_rejected),
		cmocka_unit_test(garbage_is_rejected),
		cmocka_unit_test(block_with_certificate_round_trips),
		cmocka_unit_test(manifest_round_trips),
		cmocka_unit_test(large_bytes_fields_are_checked_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
