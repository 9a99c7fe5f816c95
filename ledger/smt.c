/* Sparse Merkle tree in LMDB; the definition is in smt.h. */
#include "ledger/smt.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { REC_LEAF = 0x00, REC_NODE = 0x01 };
#define POS_LEN 34        /* depth (2 bytes BE) || key prefix (32 bytes) */
#define LEAF_REC_LEN 97   /* type || key || vhash || leaf hash */
#define NODE_REC_LEN 33   /* type || hash */

enum kind { K_EMPTY, K_LEAF, K_NODE };

/* What a subtree is, as far as its parent cares. */
struct sub {
	enum kind kind;
	uint8_t hash[32];
	uint8_t key[32], vhash[32]; /* K_LEAF only */
};

/* One (key, vhash) pair of a subtree being rewritten in memory. */
struct kv {
	uint8_t key[32];
	uint8_t vhash[32];
};

static int bit_at(const uint8_t key[static 32], unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

/* Position of the subtree at depth that contains key. */
static void make_pos(uint8_t pos[static POS_LEN], const uint8_t key[static 32], unsigned depth)
{
	pos[0] = (uint8_t)(depth >> 8);
	pos[1] = (uint8_t)depth;
	memset(pos + 2, 0, 32);
	memcpy(pos + 2, key, depth / 8);
	if (depth % 8)
		pos[2 + depth / 8] = (uint8_t)(key[depth / 8] & (0xff00 >> (depth % 8)));
}

/* The sibling subtree at depth d+1 of key's path: key's prefix with bit d flipped. */
static void make_sibling_pos(uint8_t pos[static POS_LEN], const uint8_t key[static 32],
			     unsigned d)
{
	uint8_t k[32];
	memcpy(k, key, 32);
	k[d / 8] ^= (uint8_t)(0x80 >> (d % 8));
	make_pos(pos, k, d + 1);
}

static int rec_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t pos[static POS_LEN],
		   struct sub *out)
{
	MDB_val k = { POS_LEN, (void *)pos }, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	memset(out, 0, sizeof *out);
	if (rc == MDB_NOTFOUND) {
		out->kind = K_EMPTY;
		return IOLM_OK;
	}
	if (rc)
		return IOLM_EIO;
	const uint8_t *p = v.mv_data;
	if (v.mv_size == LEAF_REC_LEN && p[0] == REC_LEAF) {
		out->kind = K_LEAF;
		memcpy(out->key, p + 1, 32);
		memcpy(out->vhash, p + 33, 32);
		memcpy(out->hash, p + 65, 32);
		return IOLM_OK;
	}
	if (v.mv_size == NODE_REC_LEN && p[0] == REC_NODE) {
		out->kind = K_NODE;
		memcpy(out->hash, p + 1, 32);
		return IOLM_OK;
	}
	return IOLM_ECORRUPT;
}

static int rec_del(MDB_txn *txn, MDB_dbi dbi, const uint8_t pos[static POS_LEN])
{
	MDB_val k = { POS_LEN, (void *)pos };
	int rc = mdb_del(txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? IOLM_OK : (rc == MDB_MAP_FULL ? IOLM_ETOOBIG : IOLM_EIO);
}

static int rec_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t pos[static POS_LEN],
		   const struct sub *s)
{
	uint8_t buf[LEAF_REC_LEN];
	MDB_val k = { POS_LEN, (void *)pos }, v = { 0, buf };
	assert(s->kind != K_EMPTY);
	if (s->kind == K_LEAF) {
		buf[0] = REC_LEAF;
		memcpy(buf + 1, s->key, 32);
		memcpy(buf + 33, s->vhash, 32);
		memcpy(buf + 65, s->hash, 32);
		v.mv_size = LEAF_REC_LEN;
	} else {
		buf[0] = REC_NODE;
		memcpy(buf + 1, s->hash, 32);
		v.mv_size = NODE_REC_LEN;
	}
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc == 0 ? IOLM_OK : (rc == MDB_MAP_FULL ? IOLM_ETOOBIG : IOLM_EIO);
}

static void sub_hash(uint8_t out[static 32], const struct sub *s)
{
	if (s->kind == K_EMPTY)
		memset(out, 0, 32);
	else
		memcpy(out, s->hash, 32);
}

/* Rewrite the subtree at (depth, any key of kv) to hold exactly kv[0..n) (sorted), where
 * nothing is stored below the position yet. */
static int write_set(MDB_txn *txn, MDB_dbi dbi, unsigned depth, const struct kv *kv, size_t n,
		     const uint8_t pathkey[static 32], struct sub *out)
{
	uint8_t pos[POS_LEN];
	int err;

	make_pos(pos, pathkey, depth);
	memset(out, 0, sizeof *out);
	if (n == 0) {
		out->kind = K_EMPTY;
		return rec_del(txn, dbi, pos);
	}
	if (n == 1) {
		out->kind = K_LEAF;
		memcpy(out->key, kv[0].key, 32);
		memcpy(out->vhash, kv[0].vhash, 32);
		ledger_smt_leaf_hash(out->hash, out->key, out->vhash);
		return rec_put(txn, dbi, pos, out);
	}
	/* Two or more distinct keys share `depth` bits, so they differ somewhere below. */
	assert(depth < 256);
	size_t split = 0;
	while (split < n && !bit_at(kv[split].key, depth))
		split++;
	struct sub l, r;
	uint8_t lk[32], rk[32], lh[32], rh[32];
	memcpy(lk, pathkey, 32);
	lk[depth / 8] &= (uint8_t)~(0x80 >> (depth % 8));
	memcpy(rk, pathkey, 32);
	rk[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
	if ((err = write_set(txn, dbi, depth + 1, kv, split, lk, &l)))
		return err;
	if ((err = write_set(txn, dbi, depth + 1, kv + split, n - split, rk, &r)))
		return err;
	sub_hash(lh, &l);
	sub_hash(rh, &r);
	out->kind = K_NODE;
	ledger_smt_node_hash(out->hash, lh, rh);
	return rec_put(txn, dbi, pos, out);
}

/* Merge the existing leaf (if any) with the changes into the set the subtree must hold. */
static size_t merge_leaf(struct kv *out, const struct sub *cur, const ledger_smt_change *ch,
			 size_t n)
{
	size_t m = 0, i = 0;
	int leaf_pending = cur->kind == K_LEAF;
	for (; i < n; i++) {
		if (leaf_pending) {
			int c = memcmp(cur->key, ch[i].key, 32);
			if (c < 0) {
				memcpy(out[m].key, cur->key, 32);
				memcpy(out[m].vhash, cur->vhash, 32);
				m++;
				leaf_pending = 0;
			} else if (c == 0) {
				leaf_pending = 0; /* the change replaces or deletes it */
			}
		}
		if (!ch[i].del) {
			memcpy(out[m].key, ch[i].key, 32);
			memcpy(out[m].vhash, ch[i].vhash, 32);
			m++;
		}
	}
	if (leaf_pending) {
		memcpy(out[m].key, cur->key, 32);
		memcpy(out[m].vhash, cur->vhash, 32);
		m++;
	}
	return m;
}

static int update_rec(MDB_txn *txn, MDB_dbi dbi, unsigned depth, const ledger_smt_change *ch,
		      size_t n, struct kv *scratch, struct sub *out)
{
	uint8_t pos[POS_LEN];
	struct sub cur;
	int err;

	assert(n > 0);
	make_pos(pos, ch[0].key, depth);
	if ((err = rec_get(txn, dbi, pos, &cur)))
		return err;

	if (cur.kind != K_NODE) {
		/* Nothing is stored below an empty position or a leaf: rebuild from the set. */
		size_t m = merge_leaf(scratch, &cur, ch, n);
		return write_set(txn, dbi, depth, scratch, m, ch[0].key, out);
	}
	if (depth >= 256)
		return IOLM_ECORRUPT;

	size_t split = 0;
	while (split < n && !bit_at(ch[split].key, depth))
		split++;
	struct sub side[2];
	for (int b = 0; b < 2; b++) {
		const ledger_smt_change *part = b ? ch + split : ch;
		size_t pn = b ? n - split : split;
		if (pn) {
			err = update_rec(txn, dbi, depth + 1, part, pn, scratch, &side[b]);
		} else {
			uint8_t cpos[POS_LEN];
			/* the untouched child: the sibling of the touched one */
			make_sibling_pos(cpos, (b ? ch : ch + split)[0].key, depth);
			err = rec_get(txn, dbi, cpos, &side[b]);
		}
		if (err)
			return err;
	}

	memset(out, 0, sizeof *out);
	int lone = -1; /* the child that holds the only leaf, if the subtree has one */
	if (side[0].kind == K_EMPTY && side[1].kind == K_LEAF)
		lone = 1;
	else if (side[1].kind == K_EMPTY && side[0].kind == K_LEAF)
		lone = 0;
	if (side[0].kind == K_EMPTY && side[1].kind == K_EMPTY) {
		out->kind = K_EMPTY;
		return rec_del(txn, dbi, pos);
	}
	if (lone >= 0) {
		/* Collapse: the single leaf moves up to this position. */
		uint8_t cpos[POS_LEN];
		make_pos(cpos, side[lone].key, depth + 1);
		if ((err = rec_del(txn, dbi, cpos)))
			return err;
		*out = side[lone];
		return rec_put(txn, dbi, pos, out);
	}
	uint8_t lh[32], rh[32];
	sub_hash(lh, &side[0]);
	sub_hash(rh, &side[1]);
	out->kind = K_NODE;
	ledger_smt_node_hash(out->hash, lh, rh);
	return rec_put(txn, dbi, pos, out);
}

static int change_cmp(const void *a, const void *b)
{
	return memcmp(((const ledger_smt_change *)a)->key, ((const ledger_smt_change *)b)->key, 32);
}

int ledger_smt_update(MDB_txn *txn, MDB_dbi dbi, ledger_smt_change *changes, size_t n,
		      uint8_t root[static 32])
{
	struct kv *scratch = NULL;
	struct sub top;
	int err;

	if (n == 0)
		return ledger_smt_root(txn, dbi, root);
	qsort(changes, n, sizeof *changes, change_cmp);
	for (size_t i = 1; i < n; i++)
		if (memcmp(changes[i - 1].key, changes[i].key, 32) == 0)
			return IOLM_EINVAL;
	/* A subtree rebuilt from a set holds at most the changes plus one existing leaf. */
	scratch = malloc((n + 1) * sizeof *scratch);
	if (!scratch)
		return IOLM_ENOMEM;
	err = update_rec(txn, dbi, 0, changes, n, scratch, &top);
	free(scratch);
	if (err)
		return err;
	sub_hash(root, &top);
	return IOLM_OK;
}

int ledger_smt_root(MDB_txn *txn, MDB_dbi dbi, uint8_t root[static 32])
{
	uint8_t pos[POS_LEN] = { 0 };
	struct sub s;
	int err = rec_get(txn, dbi, pos, &s);
	if (err)
		return err;
	sub_hash(root, &s);
	return IOLM_OK;
}

int ledger_smt_prove(MDB_txn *txn, MDB_dbi dbi, const uint8_t key[static 32],
		     ledger_proof *proof)
{
	uint8_t pos[POS_LEN];
	struct sub s, sib;
	int err;

	memset(proof, 0, sizeof *proof);
	memcpy(proof->key, key, 32);
	for (unsigned d = 0;; d++) {
		make_pos(pos, key, d);
		if ((err = rec_get(txn, dbi, pos, &s)))
			return err;
		if (s.kind == K_EMPTY) {
			proof->terminal = LEDGER_PROOF_EMPTY;
			return IOLM_OK;
		}
		if (s.kind == K_LEAF) {
			proof->terminal = LEDGER_PROOF_LEAF;
			memcpy(proof->leaf_key, s.key, 32);
			memcpy(proof->leaf_vhash, s.vhash, 32);
			return IOLM_OK;
		}
		if (d >= LEDGER_SMT_MAX_DEPTH)
			return IOLM_ECORRUPT;
		make_sibling_pos(pos, key, d);
		if ((err = rec_get(txn, dbi, pos, &sib)))
			return err;
		sub_hash(proof->siblings[d], &sib);
		proof->depth = d + 1;
	}
}

static void root_of(uint8_t out[static 32], const uint8_t (*keys)[32],
		    const uint8_t (*vh)[32], size_t n, unsigned depth)
{
	if (n == 0) {
		memset(out, 0, 32);
		return;
	}
	if (n == 1) {
		ledger_smt_leaf_hash(out, keys[0], vh[0]);
		return;
	}
	size_t split = 0;
	while (split < n && !bit_at(keys[split], depth))
		split++;
	uint8_t l[32], r[32];
	root_of(l, keys, vh, split, depth + 1);
	root_of(r, keys + split, vh + split, n - split, depth + 1);
	ledger_smt_node_hash(out, l, r);
}

void ledger_smt_root_of(uint8_t root[static 32], const uint8_t (*keys)[32],
			const uint8_t (*vhashes)[32], size_t n)
{
	root_of(root, keys, vhashes, n, 0);
}
