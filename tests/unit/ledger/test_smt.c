#include "../test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/hash.h"
#include "ledger/smt.h"

static char dir[] = "/tmp/iolm-test-smt-XXXXXX";
static MDB_env *env;
static MDB_dbi dbi;

static int setup(void **state)
{
	MDB_txn *txn;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1u << 30), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOSYNC, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return 0;
}

static int teardown(void **state)
{
	char path[256];
	mdb_env_close(env);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void clear(void)
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_drop(txn, dbi, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The model: a sorted array of (key, vhash), the map's intended contents. */
struct model {
	uint8_t keys[4096][32];
	uint8_t vh[4096][32];
	size_t n;
};

static long model_find(const struct model *m, const uint8_t key[32])
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(m->keys[i], key, 32) == 0)
			return (long)i;
	return -1;
}

static void model_set(struct model *m, const uint8_t key[32], const uint8_t vh[32], int del)
{
	long i = model_find(m, key);
	if (del) {
		if (i >= 0) {
			memmove(m->keys[i], m->keys[i + 1], (m->n - (size_t)i - 1) * 32);
			memmove(m->vh[i], m->vh[i + 1], (m->n - (size_t)i - 1) * 32);
			m->n--;
		}
		return;
	}
	if (i >= 0) {
		memcpy(m->vh[i], vh, 32);
		return;
	}
	size_t at = 0;
	while (at < m->n && memcmp(m->keys[at], key, 32) < 0)
		at++;
	memmove(m->keys[at + 1], m->keys[at], (m->n - at) * 32);
	memmove(m->vh[at + 1], m->vh[at], (m->n - at) * 32);
	memcpy(m->keys[at], key, 32);
	memcpy(m->vh[at], vh, 32);
	m->n++;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void key_of(uint8_t out[32], uint64_t i)
{
	iolm_hash(out, IOLM_TAG_STATE, &i, sizeof i);
}

static void apply_batch(ledger_smt_change *ch, size_t n, uint8_t root[32])
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(ledger_smt_update(txn, dbi, ch, n, root), IOLM_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void random_batches_match_the_definition(void **state)
{
	static struct model m;
	static ledger_smt_change ch[300];
	uint8_t root[32], want[32];
	clear();
	m.n = 0;
	for (int round = 0; round < 60; round++) {
		size_t n = 1 + next() % 250;
		/* distinct keys within a batch; about a third deletes, some of absent keys */
		uint64_t base = next() % 2000;
		for (size_t i = 0; i < n; i++) {
			key_of(ch[i].key, base + i);
			uint64_t v = next();
			iolm_hash(ch[i].vhash, IOLM_TAG_CHUNK, &v, sizeof v);
			ch[i].del = next() % 3 == 0;
			model_set(&m, ch[i].key, ch[i].vhash, ch[i].del);
		}
		apply_batch(ch, n, root);
		ledger_smt_root_of(want, (const uint8_t(*)[32])m.keys, (const uint8_t(*)[32])m.vh, m.n);
		assert_memory_equal(root, want, 32);
	}
	assert_true(m.n > 100);
}

static void root_does_not_depend_on_batching(void **state)
{
	static ledger_smt_change ch[512];
	uint8_t one[32], many[32];
	for (size_t i = 0; i < 512; i++) {
		key_of(ch[i].key, i);
		iolm_hash(ch[i].vhash, IOLM_TAG_CHUNK, &i, sizeof i);
		ch[i].del = 0;
	}
	clear();
	apply_batch(ch, 512, one);
	clear();
	/* reverse order, in uneven batches */
	static ledger_smt_change rev[512];
	for (size_t i = 0; i < 512; i++)
		rev[i] = ch[511 - i];
	size_t at = 0, step = 1;
	while (at < 512) {
		size_t n = step < 512 - at ? step : 512 - at;
		apply_batch(rev + at, n, many);
		at += n;
		step = step * 3 + 1;
	}
	assert_memory_equal(one, many, 32);

	/* deleting everything empties the tree: root zero, no records left */
	for (size_t i = 0; i < 512; i++)
		ch[i].del = 1;
	apply_batch(ch, 512, one);
	uint8_t zero[32] = { 0 };
	assert_memory_equal(one, zero, 32);
	MDB_txn *txn;
	MDB_stat st;
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	assert_int_equal(st.ms_entries, 0);
	mdb_txn_abort(txn);
}

static void keys_differing_in_the_last_bit(void **state)
{
	ledger_smt_change ch[3];
	uint8_t root[32], want[32], keys[2][32], vh[2][32];
	clear();
	memset(ch, 0, sizeof ch);
	memset(ch[0].key, 0xa5, 32);
	memcpy(ch[1].key, ch[0].key, 32);
	ch[1].key[31] ^= 1;
	memset(ch[0].vhash, 1, 32);
	memset(ch[1].vhash, 2, 32);
	apply_batch(ch, 2, root);
	int lo = memcmp(ch[0].key, ch[1].key, 32) < 0 ? 0 : 1; /* sorted in place */
	memcpy(keys[0], ch[lo].key, 32);
	memcpy(vh[0], ch[lo].vhash, 32);
	memcpy(keys[1], ch[!lo].key, 32);
	memcpy(vh[1], ch[!lo].vhash, 32);
	ledger_smt_root_of(want, (const uint8_t(*)[32])keys, (const uint8_t(*)[32])vh, 2);
	assert_memory_equal(root, want, 32);
	/* delete one: the other collapses back to the root */
	ch[0].del = 1;
	apply_batch(ch, 1, root);
	ledger_smt_leaf_hash(want, ch[1].key, ch[1].vhash);
	assert_memory_equal(root, want, 32);
}

static void duplicate_keys_in_a_batch_are_refused(void **state)
{
	ledger_smt_change ch[2];
	uint8_t root[32];
	MDB_txn *txn;
	memset(ch, 0, sizeof ch);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(ledger_smt_update(txn, dbi, ch, 2, root), IOLM_EINVAL);
	mdb_txn_abort(txn);
}

static void proofs_of_presence_and_absence(void **state)
{
	static ledger_smt_change ch[300];
	uint8_t root[32];
	clear();
	for (size_t i = 0; i < 300; i++) {
		key_of(ch[i].key, i);
		/* value bytes = the index, so inclusion can be checked on real values */
		ledger_smt_value_hash(ch[i].vhash, (const uint8_t *)&i, sizeof i);
		ch[i].del = 0;
	}
	apply_batch(ch, 300, root);

	MDB_txn *txn;
	static ledger_proof p;
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	for (size_t i = 0; i < 600; i++) {
		uint8_t key[32];
		key_of(key, i);
		assert_int_equal(ledger_smt_prove(txn, dbi, key, &p), IOLM_OK);
		assert_true(p.depth < 40); /* ~log2(300), not 256 */
		if (i < 300) {
			assert_int_equal(ledger_proof_verify(root, key, (const uint8_t *)&i, sizeof i, &p),
					 IOLM_OK);
			/* a proof of presence is not one of absence, nor of another value */
			assert_int_equal(ledger_proof_verify(root, key, NULL, 0, &p), IOLM_EPROOF);
			size_t j = i + 1;
			assert_int_equal(ledger_proof_verify(root, key, (const uint8_t *)&j, sizeof j, &p),
					 IOLM_EPROOF);
		} else {
			assert_int_equal(ledger_proof_verify(root, key, NULL, 0, &p), IOLM_OK);
			assert_int_equal(ledger_proof_verify(root, key, (const uint8_t *)&i, sizeof i, &p),
					 IOLM_EPROOF);
		}
		/* tampering: any sibling bit, the depth, the terminal leaf */
		if (p.depth) {
			p.siblings[p.depth / 2][7] ^= 4;
			assert_int_equal(ledger_proof_verify(root, key, i < 300 ? (const uint8_t *)&i : NULL,
							     sizeof i, &p),
					 IOLM_EPROOF);
			p.siblings[p.depth / 2][7] ^= 4;
			p.depth--;
			assert_int_equal(ledger_proof_verify(root, key, i < 300 ? (const uint8_t *)&i : NULL,
							     sizeof i, &p),
					 IOLM_EPROOF);
			p.depth++;
		}
		if (p.terminal == LEDGER_PROOF_LEAF) {
			p.leaf_vhash[0] ^= 1;
			assert_int_equal(ledger_proof_verify(root, key, i < 300 ? (const uint8_t *)&i : NULL,
							     sizeof i, &p),
					 IOLM_EPROOF);
			p.leaf_vhash[0] ^= 1;
		}
		/* a proof for one key says nothing about another */
		uint8_t other[32];
		key_of(other, i + 1000);
		assert_int_equal(ledger_proof_verify(root, other, NULL, 0, &p), IOLM_EINVAL);
	}
	mdb_txn_abort(txn);
}

static void proof_wire_form_round_trips(void **state)
{
	static ledger_proof p, q;
	static ProtobufCBinaryData sib[LEDGER_SMT_MAX_DEPTH];
	memset(&p, 0, sizeof p);
	memset(p.key, 3, 32);
	p.depth = 5;
	for (int i = 0; i < 5; i++)
		memset(p.siblings[i], i + 1, 32);
	p.terminal = LEDGER_PROOF_LEAF;
	memset(p.leaf_key, 4, 32);
	memset(p.leaf_vhash, 5, 32);
	Iolm__StateProof msg;
	ledger_proof_to_msg(&msg, sib, &p);
	iolm_buf b;
	iolm_buf_init(&b, 1 << 16);
	assert_int_equal(iolm_codec_encode(&b, &msg.base), IOLM_OK);
	Iolm__StateProof *got;
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&got, &iolm__state_proof__descriptor,
					   b.data, b.len, 1 << 16),
			 IOLM_OK);
	assert_int_equal(ledger_proof_from_msg(&q, got), IOLM_OK);
	assert_memory_equal(&p, &q, sizeof p);
	got->siblings[2].len = 31;
	assert_int_equal(ledger_proof_from_msg(&q, got), IOLM_ELENGTH);
	iolm_codec_free(&got->base);
	iolm_buf_release(&b, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_batches_match_the_definition),
		cmocka_unit_test(root_does_not_depend_on_batching),
		cmocka_unit_test(keys_differing_in_the_last_bit),
		cmocka_unit_test(duplicate_keys_in_a_batch_are_refused),
		cmocka_unit_test(proofs_of_presence_and_absence),
		cmocka_unit_test(proof_wire_form_round_trips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
