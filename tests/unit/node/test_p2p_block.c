/* Artifact blocks on the P2P link without the Frame codec (node/p2p_block.c) and the
 * link's cipher, which seals them from where they lie (node/p2p_aead.c): both must give
 * exactly the bytes of the codec and of libsodium's AEAD, and the parser must accept
 * nothing the codec would refuse or read differently. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "core/codec.h"
#include "node/p2p_int.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* The codec's encoding of Frame{art_block{id, data}} into out. */
static void codec_block(iolm_buf *out, const uint8_t *id, size_t id_len, const uint8_t *data,
			size_t len)
{
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__ArtBlock b = IOLM__ART_BLOCK__INIT;
	b.chunk_id.data = (uint8_t *)(uintptr_t)id;
	b.chunk_id.len = id_len;
	b.data.data = (uint8_t *)(uintptr_t)data;
	b.data.len = len;
	f.msg_case = IOLM__FRAME__MSG_ART_BLOCK;
	f.art_block = &b;
	iolm_buf_reset(out);
	assert_int_equal(iolm_codec_encode(out, &f.base), IOLM_OK);
}

/* What the parser makes of the len bytes at p must agree with the codec: whenever it
 * accepts, the codec accepts too and reads the same block. Returns whether it accepted. */
static int parse_agrees(const uint8_t *p, size_t len)
{
	Iolm__Frame fast, *slow = NULL;
	Iolm__ArtBlock ab;
	int ok = p2p_block_parse(p, len, &fast, &ab);
	int err = iolm_decode_frame(&slow, p, len, (size_t)1 << 24);
	if (ok) {
		assert_int_equal(err, IOLM_OK);
		assert_int_equal(slow->msg_case, IOLM__FRAME__MSG_ART_BLOCK);
		assert_int_equal(fast.msg_case, IOLM__FRAME__MSG_ART_BLOCK);
		assert_ptr_equal(fast.art_block, &ab);
		assert_int_equal(ab.chunk_id.len, slow->art_block->chunk_id.len);
		assert_memory_equal(ab.chunk_id.data, slow->art_block->chunk_id.data, ab.chunk_id.len);
		assert_int_equal(ab.data.len, slow->art_block->data.len);
		assert_memory_equal(ab.data.data, slow->art_block->data.data, ab.data.len);
		assert_true(ab.chunk_id.data >= p && ab.data.data + ab.data.len == p + len);
	}
	iolm_codec_free((ProtobufCMessage *)slow);
	return ok;
}

static void test_header_is_the_codecs_encoding(void **state)
{
	static const size_t ids[] = { 1, 2, 34, 63, 64 };
	static const size_t lens[] = { 1, 2, 90, 127, 128, 16383, 16384, 65536, 131072,
				       2097151, 2097152 };
	uint8_t id[P2P_BLOCK_ID_MAX], hdr[P2P_BLOCK_HDR_MAX];
	uint8_t *data = malloc(2097152), *joined = malloc(2097152 + P2P_BLOCK_HDR_MAX);
	iolm_buf enc;
	(void)state;
	assert_non_null(data);
	assert_non_null(joined);
	iolm_buf_init(&enc, (size_t)1 << 24);
	fill(data, 2097152);
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
			fill(id, ids[i]);
			size_t n = p2p_block_header(hdr, id, ids[i], lens[j]);
			assert_true(n <= P2P_BLOCK_HDR_MAX);
			codec_block(&enc, id, ids[i], data, lens[j]);
			assert_int_equal(enc.len, n + lens[j]);
			assert_memory_equal(enc.data, hdr, n);
			assert_memory_equal(enc.data + n, data, lens[j]);
			memcpy(joined, hdr, n);
			memcpy(joined + n, data, lens[j]);
			assert_true(parse_agrees(joined, n + lens[j]));
		}
	}
	iolm_buf_release(&enc, 0);
	free(data);
	free(joined);
}

/* Shapes the codec may or may not accept, none of which the parser may take. */
static void test_parser_refuses_every_other_shape(void **state)
{
	uint8_t id[34], data[200], hdr[P2P_BLOCK_HDR_MAX], buf[512];
	(void)state;
	fill(id, sizeof id);
	fill(data, sizeof data);
	size_t n = p2p_block_header(hdr, id, sizeof id, sizeof data);
	memcpy(buf, hdr, n);
	memcpy(buf + n, data, sizeof data);
	size_t len = n + sizeof data;
	assert_true(parse_agrees(buf, len));

	/* every truncation, and one byte more */
	for (size_t k = 0; k < len; k++)
		assert_false(parse_agrees(buf, k));
	buf[len] = 0;
	assert_false(parse_agrees(buf, len + 1));

	/* a frame of another kind with the same body: field 11 (art_want) */
	uint8_t other[512];
	memcpy(other, buf, len);
	other[0] = 0x5a;
	assert_false(parse_agrees(other, len));

	/* an overlong varint for the id length: 0xa2 0x00 (34, non-minimal) */
	uint8_t o[512];
	size_t m = 0;
	o[m++] = 0x62;
	o[m++] = 0x80 | (uint8_t)((1 + 2 + 34 + 1 + 2 + 200) & 0x7f);
	o[m++] = (uint8_t)((1 + 2 + 34 + 1 + 2 + 200) >> 7);
	o[m++] = 0x0a;
	o[m++] = 0x80 | 34;
	o[m++] = 0x00;
	memcpy(o + m, id, 34);
	m += 34;
	o[m++] = 0x12;
	o[m++] = 0x80 | (200 & 0x7f);
	o[m++] = 200 >> 7;
	memcpy(o + m, data, 200);
	m += 200;
	assert_false(parse_agrees(o, m));
	assert_int_not_equal(iolm_decode_frame(&(Iolm__Frame *){ NULL }, o, m, 1u << 20), IOLM_OK);

	/* data before the id (fields out of order), which protobuf-c reads but the
	 * canonical check refuses */
	m = 0;
	o[m++] = 0x62;
	o[m++] = 0x80 | (uint8_t)((1 + 2 + 200 + 1 + 1 + 34) & 0x7f);
	o[m++] = (uint8_t)((1 + 2 + 200 + 1 + 1 + 34) >> 7);
	o[m++] = 0x12;
	o[m++] = 0x80 | (200 & 0x7f);
	o[m++] = 200 >> 7;
	memcpy(o + m, data, 200);
	m += 200;
	o[m++] = 0x0a;
	o[m++] = 34;
	memcpy(o + m, id, 34);
	m += 34;
	assert_false(parse_agrees(o, m));

	/* an empty id written out (proto3 leaves empty fields out) */
	m = 0;
	o[m++] = 0x62;
	o[m++] = 2 + 1 + 1 + 5;
	o[m++] = 0x0a;
	o[m++] = 0;
	o[m++] = 0x12;
	o[m++] = 5;
	memcpy(o + m, data, 5);
	m += 5;
	assert_false(parse_agrees(o, m));

	/* no id at all: canonical for an empty id, but not the parser's shape */
	m = 0;
	o[m++] = 0x62;
	o[m++] = 1 + 1 + 5;
	o[m++] = 0x12;
	o[m++] = 5;
	memcpy(o + m, data, 5);
	m += 5;
	assert_false(parse_agrees(o, m));

	/* a trailing unknown field inside the block */
	memcpy(o, buf, len);
	o[1] += 2; /* the inner length, 239 -> 241: two more bytes */
	o[len] = 0x18; /* field 3, varint */
	o[len + 1] = 1;
	assert_false(parse_agrees(o, len + 2));
}

/* Random damage to valid encodings: whatever the parser accepts, the codec reads alike. */
static void test_parser_agrees_with_the_codec_on_damaged_input(void **state)
{
	uint8_t id[P2P_BLOCK_ID_MAX], data[300], hdr[P2P_BLOCK_HDR_MAX], buf[400];
	unsigned accepted = 0;
	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t il = 1 + rnd() % P2P_BLOCK_ID_MAX, dl = 1 + rnd() % sizeof data;
		fill(id, il);
		fill(data, dl);
		size_t n = p2p_block_header(hdr, id, il, dl), len = n + dl;
		memcpy(buf, hdr, n);
		memcpy(buf + n, data, dl);
		/* flip bytes in the framing (the data's bytes cannot change the shape) */
		for (unsigned k = 1 + rnd() % 3; k; k--)
			buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
		if (rnd() % 4 == 0)
			len -= rnd() % len;
		accepted += (unsigned)parse_agrees(buf, len);
	}
	/* Some flips land in the id's bytes and leave a valid block. */
	assert_true(accepted > 0);
}

/* The link's cipher against libsodium's ChaCha20-Poly1305 (an independent
 * implementation of RFC 8439): sealing a || b gives libsodium's AEAD of the joined
 * plaintext at every alignment of the joint, from one context reused across records;
 * opening takes libsodium's output back, and refuses it with any one bit flipped. */
static void test_cipher_is_rfc8439_at_every_joint(void **state)
{
	static const size_t blens[] = { 0, 1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129,
					200, 65536, 65536 + 17, 131072 };
	uint8_t key[32], nonce[12];
	uint8_t *a = malloc(200), *b = malloc(131072), *joined = malloc(200 + 131072);
	uint8_t *want = malloc(200 + 131072 + 16), *got = malloc(200 + 131072 + 16);
	unsigned long long wlen;
	p2p_aead *seal, *open;
	(void)state;
	assert_non_null(a && b && joined && want && got);
	fill(key, sizeof key);
	fill(a, 200);
	fill(b, 131072);
	assert_int_equal(p2p_aead_create(&seal, key), IOLM_OK);
	assert_int_equal(p2p_aead_create(&open, key), IOLM_OK);
	for (size_t alen = 0; alen <= 200; alen++) {
		for (size_t j = 0; j < sizeof blens / sizeof blens[0]; j++) {
			size_t blen = blens[j];
			fill(nonce, sizeof nonce);
			memcpy(joined, a, alen);
			memcpy(joined + alen, b, blen);
			crypto_aead_chacha20poly1305_ietf_encrypt(want, &wlen, joined, alen + blen, NULL,
								  0, NULL, nonce, key);
			assert_int_equal(wlen, alen + blen + 16);
			memset(got, 0xee, wlen);
			assert_int_equal(p2p_aead_seal(seal, got, nonce, alen ? a : NULL, alen,
						       blen ? b : NULL, blen),
					 IOLM_OK);
			assert_memory_equal(got, want, wlen);
			if (j % 4 != alen % 4)
				continue; /* opening every case would only repeat itself */
			memset(got, 0xee, wlen);
			assert_int_equal(p2p_aead_open(open, got, nonce, want, wlen), IOLM_OK);
			assert_memory_equal(got, joined, alen + blen);
			size_t bit = (size_t)rnd() % (wlen * 8);
			want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(p2p_aead_open(open, got, nonce, want, wlen),
					 IOLM_ENODE_FRAME);
			want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			nonce[0] ^= 1; /* another record's nonce */
			assert_int_equal(p2p_aead_open(open, got, nonce, want, wlen),
					 IOLM_ENODE_FRAME);
		}
	}
	/* shorter than a tag */
	assert_int_equal(p2p_aead_open(open, got, nonce, want, 15), IOLM_ENODE_FRAME);
	p2p_aead_destroy(seal);
	p2p_aead_destroy(open);
	p2p_aead_destroy(NULL);
	free(a);
	free(b);
	free(joined);
	free(want);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_is_the_codecs_encoding),
		cmocka_unit_test(test_parser_refuses_every_other_shape),
		cmocka_unit_test(test_parser_agrees_with_the_codec_on_damaged_input),
		cmocka_unit_test(test_cipher_is_rfc8439_at_every_joint),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
