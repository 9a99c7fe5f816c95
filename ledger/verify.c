/* ledger_verify_state: recompute what the ledger maintains incrementally, from scratch. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "ledger/internal.h"

struct pair {
	uint8_t key[32];
	uint8_t vhash[32];
};

static int pair_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Add a record's contribution to balances or escrow. */
static int tally(const MDB_val *k, const MDB_val *v, uint64_t *balances, uint64_t *escrow)
{
	const uint8_t *key = k->mv_data;
	int err = IOLM_OK;
	if (k->mv_size == 1 + IOLM_ADDR_LEN && key[0] == SK_ACCOUNT) {
		Iolm__Account *a;
		if (iolm_codec_decode((ProtobufCMessage **)&a, &iolm__account__descriptor,
				      v->mv_data, v->mv_size, 64))
			return IOLM_ECORRUPT;
		err = iolm_add_u64(balances, *balances, a->balance);
		iolm_codec_free(&a->base);
	} else if (k->mv_size == 33 && key[0] == SK_TASK) {
		Iolm__TaskState *t;
		if (iolm_codec_decode((ProtobufCMessage **)&t, &iolm__task_state__descriptor,
				      v->mv_data, v->mv_size, 2 * IOLM_MAX_TX_BYTES))
			return IOLM_ECORRUPT;
		if (!(err = iolm_add_u64(escrow, *escrow, t->pool)))
			err = iolm_add_u64(escrow, *escrow, t->revenue);
		iolm_codec_free(&t->base);
	} else if (k->mv_size == 33 && key[0] == SK_WORK) {
		Iolm__WorkState *w;
		if (iolm_codec_decode((ProtobufCMessage **)&w, &iolm__work_state__descriptor,
				      v->mv_data, v->mv_size, 2 * IOLM_MAX_TX_BYTES))
			return IOLM_ECORRUPT;
		if (w->status == IOLM__WORK_STATUS__WORK_PENDING)
			err = iolm_add_u64(escrow, *escrow, w->bond);
		iolm_codec_free(&w->base);
	}
	return err;
}

int ledger_verify_state(ledger *l)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct pair *pairs = NULL;
	size_t n = 0, cap = 0;
	uint64_t balances = 0, escrow = 0;
	uint8_t root[32], stored[32];
	struct exec x;
	int err, rc;

	memset(&x, 0, sizeof x);
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn))))
		return err;
	if ((err = ledger_lmdb_err(mdb_cursor_open(txn, l->state, &cur))))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			void *p = realloc(pairs, cap * sizeof *pairs);
			err = IOLM_ENOMEM;
			if (!p)
				goto out;
			pairs = p;
		}
		ledger_state_map_key(pairs[n].key, k.mv_data, k.mv_size);
		ledger_smt_value_hash(pairs[n].vhash, v.mv_data, v.mv_size);
		n++;
		if ((err = tally(&k, &v, &balances, &escrow)))
			goto out;
	}
	err = IOLM_ELEDGER_LMDB;
	if (rc != MDB_NOTFOUND)
		goto out;
	qsort(pairs, n, sizeof *pairs, pair_cmp);
	/* ledger_smt_root_of takes parallel arrays: split the pairs. */
	uint8_t(*keys)[32] = malloc((n ? n : 1) * 32), (*vh)[32] = malloc((n ? n : 1) * 32);
	err = IOLM_ENOMEM;
	if (!keys || !vh) {
		free(keys);
		free(vh);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(keys[i], pairs[i].key, 32);
		memcpy(vh[i], pairs[i].vhash, 32);
	}
	ledger_smt_root_of(root, (const uint8_t(*)[32])keys, (const uint8_t(*)[32])vh, n);
	free(keys);
	free(vh);
	if ((err = ledger_smt_root(txn, l->smt, stored)))
		goto out;
	err = IOLM_ECORRUPT;
	if (memcmp(root, stored, 32) != 0)
		goto out;

	/* The supply invariant, from the sums just taken. */
	if ((err = exec_begin(&x, l, txn, 0)) || (err = state_load_supply(&x)))
		goto out;
	uint64_t lhs, rhs;
	err = IOLM_ELEDGER_SUPPLY;
	if (escrow != x.supply.escrowed || iolm_add_u64(&lhs, balances, escrow) ||
	    iolm_add_u64(&rhs, x.supply.genesis_supply, x.supply.minted) ||
	    iolm_sub_u64(&rhs, rhs, x.supply.burned) || lhs != rhs)
		goto out;
	err = IOLM_OK;
out:
	exec_release(&x);
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(pairs);
	return err;
}
