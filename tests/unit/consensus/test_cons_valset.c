/* Validator sets, proposer selection and commit certificate verification. */
#include "cons_test_util.h"

static void test_valset_rejects_bad_input(void **state)
{
	(void)state;
	cons_valset *vs = (cons_valset *)1;
	uint8_t pubs[64];
	uint64_t pw[2] = { 1, 1 };
	iolm_key k;
	tkey(&k, 0);
	memcpy(pubs, iolm_key_pub(&k), 32);
	memcpy(pubs + 32, iolm_key_pub(&k), 32);
	assert_int_equal(cons_valset_create(&vs, pubs, pw, 0), IOLM_EINVAL);
	assert_null(vs);
	assert_int_equal(cons_valset_create(&vs, pubs, pw, 2), IOLM_EEXIST);
	pw[1] = 0;
	tkey(&k, 1);
	memcpy(pubs + 32, iolm_key_pub(&k), 32);
	assert_int_equal(cons_valset_create(&vs, pubs, pw, 2), IOLM_EINVAL);
	pw[1] = UINT64_C(1) << 62;
	assert_int_equal(cons_valset_create(&vs, pubs, pw, 2), IOLM_EINVAL);
	pw[1] = 1;
	memset(pubs + 32, 0xff, 32); /* not an x coordinate on the curve */
	assert_int_equal(cons_valset_create(&vs, pubs, pw, 2), IOLM_EBADKEY);
	assert_null(vs);
}

static void test_valset_accessors(void **state)
{
	(void)state;
	uint64_t pw[3] = { 5, 7, 9 };
	cons_valset *vs = tvalset(3, pw);
	iolm_key k;
	tkey(&k, 2);
	assert_int_equal(cons_valset_size(vs), 3);
	assert_int_equal(cons_valset_total_power(vs), 21);
	assert_int_equal(cons_valset_find(vs, iolm_key_pub(&k)), 2);
	assert_memory_equal(cons_valset_pubkey(vs, 2), iolm_key_pub(&k), 32);
	tkey(&k, 9);
	assert_int_equal(cons_valset_find(vs, iolm_key_pub(&k)), -1);
	cons_valset_destroy(vs);
}

static void test_proposer_weighted_round_robin_counts(void **state)
{
	(void)state;
	uint64_t pw[4] = { 1, 2, 3, 4 };
	cons_valset *vs = tvalset(4, pw);
	int count[4] = { 0 };
	uint32_t p, first[10];
	/* Each window of total power positions names each validator power times. */
	for (uint64_t h = 1; h <= 10; h++) {
		assert_int_equal(cons_valset_proposer(vs, h, 0, &p), IOLM_OK);
		first[h - 1] = p;
		count[p]++;
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(count[i], (int)pw[i]);
	/* The highest power goes first; the sequence is periodic. */
	assert_int_equal(first[0], 3);
	for (uint64_t h = 11; h <= 30; h++) {
		assert_int_equal(cons_valset_proposer(vs, h, 0, &p), IOLM_OK);
		assert_int_equal(p, first[(h - 1) % 10]);
	}
	/* Round r at height h is position h - 1 + r. */
	assert_int_equal(cons_valset_proposer(vs, 3, 2, &p), IOLM_OK);
	assert_int_equal(p, first[4]);
	assert_int_equal(cons_valset_proposer(vs, 0, 0, &p), IOLM_EINVAL);
	cons_valset_destroy(vs);
}

static void test_proposer_equal_power_rotates(void **state)
{
	(void)state;
	cons_valset *vs = tvalset(4, NULL);
	uint32_t p;
	for (uint64_t h = 1; h <= 8; h++) {
		assert_int_equal(cons_valset_proposer(vs, h, 0, &p), IOLM_OK);
		assert_int_equal(p, (h - 1) % 4);
	}
	cons_valset_destroy(vs);
}

/* ---------------------------------------------------------------- certificates */

/* Build a cert signed by validators vals[0..nv) (in the given order). */
static void tcert(iolm_buf *out, const char *chain, uint64_t h, uint32_t r,
		  const uint8_t *id, size_t idlen, const int *vals, size_t nv,
		  int bad_sig_at)
{
	Iolm__CommitCert c = IOLM__COMMIT_CERT__INIT;
	Iolm__CommitSig s[8], *ps[8];
	uint8_t sigs[8][64];
	for (size_t i = 0; i < nv; i++) {
		iolm_key k;
		iolm_buf body;
		uint8_t digest[32];
		tkey(&k, vals[i] % 16);
		iolm_buf_init(&body, 1024);
		assert_int_equal(cons_vote_body_encode(&body, digest, chain,
						       IOLM__VOTE_TYPE__VOTE_PRECOMMIT, h, r,
						       id, (uint32_t)vals[i]), IOLM_OK);
		assert_int_equal(iolm_sign(&k, sigs[i], digest), IOLM_OK);
		if ((int)i == bad_sig_at)
			sigs[i][5] ^= 1;
		iolm_buf_release(&body, 0);
		iolm__commit_sig__init(&s[i]);
		s[i].validator = (uint32_t)vals[i];
		s[i].signature.data = sigs[i];
		s[i].signature.len = 64;
		ps[i] = &s[i];
	}
	c.height = h;
	c.round = r;
	c.block_id.data = (uint8_t *)id;
	c.block_id.len = idlen;
	c.sigs = ps;
	c.n_sigs = nv;
	iolm_buf_reset(out);
	assert_int_equal(iolm_codec_encode(out, &c.base), IOLM_OK);
}

static void test_cert_verifies_with_quorum(void **state)
{
	(void)state;
	cons_valset *vs = tvalset(4, NULL);
	uint8_t id[32];
	memset(id, 0xab, 32);
	iolm_buf b;
	iolm_buf_init(&b, 4096);
	cons_cert_info info;
	int v3[] = { 0, 2, 3 };
	tcert(&b, TCHAIN, 7, 2, id, 32, v3, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, &info), IOLM_OK);
	assert_int_equal(info.height, 7);
	assert_int_equal(info.round, 2);
	assert_int_equal(info.power, 3);
	assert_memory_equal(info.block_id, id, 32);
	iolm_buf_release(&b, 0);
	cons_valset_destroy(vs);
}

static void test_cert_rejects_bad_certificates(void **state)
{
	(void)state;
	uint64_t pw[4] = { 1, 1, 1, 4 };
	cons_valset *vs = tvalset(4, pw);
	uint8_t id[32];
	memset(id, 0xab, 32);
	iolm_buf b;
	iolm_buf_init(&b, 4096);
	cons_cert_info info;

	int three_light[] = { 0, 1, 2 }; /* power 3 of 7: not +2/3 */
	tcert(&b, TCHAIN, 7, 0, id, 32, three_light, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, &info),
			 IOLM_ECONS_QUORUM);
	assert_int_equal(info.height, 0);

	int ok[] = { 0, 1, 3 }; /* power 6 of 7 */
	tcert(&b, TCHAIN, 7, 0, id, 32, ok, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_OK);
	/* Signed for another chain: the re-encoded body differs. */
	assert_int_equal(cons_cert_verify(vs, "other", b.data, b.len, NULL), IOLM_EBADSIG);

	tcert(&b, TCHAIN, 7, 0, id, 32, ok, 3, 1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_EBADSIG);

	int unsorted[] = { 0, 3, 1 };
	tcert(&b, TCHAIN, 7, 0, id, 32, unsorted, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_ECONS_CERT);

	int dup[] = { 3, 3 };
	tcert(&b, TCHAIN, 7, 0, id, 32, dup, 2, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_ECONS_CERT);

	int far[] = { 0, 3, 9 };
	tcert(&b, TCHAIN, 7, 0, id, 32, far, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL),
			 IOLM_ECONS_VALIDATOR);

	tcert(&b, TCHAIN, 7, 0, id, 31, ok, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_ECONS_CERT);
	tcert(&b, TCHAIN, 7, 0, NULL, 0, ok, 3, -1); /* nil is never certified */
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_ECONS_CERT);
	tcert(&b, TCHAIN, 0, 0, id, 32, ok, 3, -1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_ECONS_CERT);

	/* Encoding: trailing bytes, garbage, past the cap. */
	tcert(&b, TCHAIN, 7, 0, id, 32, ok, 3, -1);
	assert_int_equal(iolm_buf_append_byte(&b, 0), IOLM_OK);
	assert_int_not_equal(cons_cert_verify(vs, TCHAIN, b.data, b.len, NULL), IOLM_OK);
	uint8_t junk[16];
	memset(junk, 0xff, sizeof junk);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, junk, sizeof junk, NULL), IOLM_EDECODE);
	uint8_t *big = calloc(1, 64 + CONS_CERT_BYTES_PER_SIG * 4 + 1);
	assert_int_equal(cons_cert_verify(vs, TCHAIN, big, 64 + CONS_CERT_BYTES_PER_SIG * 4 + 1,
					  NULL), IOLM_ETOOBIG);
	free(big);
	iolm_buf_release(&b, 0);
	cons_valset_destroy(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valset_rejects_bad_input),
		cmocka_unit_test(test_valset_accessors),
		cmocka_unit_test(test_proposer_weighted_round_robin_counts),
		cmocka_unit_test(test_proposer_equal_power_rotates),
		cmocka_unit_test(test_cert_verifies_with_quorum),
		cmocka_unit_test(test_cert_rejects_bad_certificates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
