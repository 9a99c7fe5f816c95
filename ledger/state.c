/* State records inside a block's write transaction, and the state map update at its end. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/hash.h"
#include "ledger/internal.h"

int ledger_lmdb_err(int rc)
{
	if (rc == 0)
		return IOLM_OK;
	if (rc == MDB_NOTFOUND)
		return IOLM_ENOTFOUND;
	if (rc == MDB_MAP_FULL)
		return IOLM_ELEDGER_MAPFULL;
	return IOLM_ELEDGER_LMDB;
}

void state_key_account(uint8_t *key, size_t *len, const uint8_t id[static IOLM_ADDR_LEN])
{
	key[0] = SK_ACCOUNT;
	memcpy(key + 1, id, IOLM_ADDR_LEN);
	*len = 1 + IOLM_ADDR_LEN;
}

int exec_begin(struct exec *x, ledger *l, MDB_txn *txn, uint64_t height)
{
	memset(x, 0, sizeof *x);
	x->l = l;
	x->txn = txn;
	x->height = height;
	iolm__supply__init(&x->supply);
	return IOLM_OK;
}

void exec_release(struct exec *x)
{
	free(x->touched);
	x->touched = NULL;
	x->n_touched = x->cap_touched = 0;
	free(x->hist);
	x->hist = NULL;
	x->n_hist = x->cap_hist = 0;
}

static int touch(struct exec *x, const uint8_t *key, size_t klen)
{
	if (x->n_touched == x->cap_touched) {
		size_t cap = x->cap_touched ? 2 * x->cap_touched : 256;
		void *p = realloc(x->touched, cap * sizeof *x->touched);
		if (!p)
			return IOLM_ENOMEM;
		x->touched = p;
		x->cap_touched = cap;
	}
	x->touched[x->n_touched][0] = (uint8_t)klen;
	memcpy(&x->touched[x->n_touched][1], key, klen);
	memset(&x->touched[x->n_touched][1 + klen], 0, STATE_KEY_MAX - klen);
	x->n_touched++;
	return IOLM_OK;
}

int state_get_raw(struct exec *x, const uint8_t *key, size_t klen, MDB_val *val)
{
	MDB_val k = { klen, (void *)key };
	return ledger_lmdb_err(mdb_get(x->txn, x->l->state, &k, val));
}

int state_put_msg(struct exec *x, const uint8_t *key, size_t klen, const ProtobufCMessage *msg)
{
	MDB_val k = { klen, (void *)key }, v;
	size_t n = protobuf_c_message_get_packed_size(msg);
	int rc;

	/* Reserve the space in the page and pack straight into it: no copy. */
	v.mv_size = n;
	if ((rc = mdb_put(x->txn, x->l->state, &k, &v, MDB_RESERVE)))
		return ledger_lmdb_err(rc);
	if (n)
		protobuf_c_message_pack(msg, v.mv_data);
	return touch(x, key, klen);
}

int state_get_account(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN],
		      uint64_t *balance, uint64_t *nonce)
{
	uint8_t key[STATE_KEY_MAX];
	size_t klen;
	MDB_val v;
	Iolm__Account *a;
	int err;

	*balance = *nonce = 0;
	state_key_account(key, &klen, id);
	err = state_get_raw(x, key, klen, &v);
	if (err == IOLM_ENOTFOUND)
		return IOLM_OK;
	if (err)
		return err;
	if (iolm_codec_decode((ProtobufCMessage **)&a, &iolm__account__descriptor, v.mv_data,
			      v.mv_size, 64))
		return IOLM_ECORRUPT;
	*balance = a->balance;
	*nonce = a->nonce;
	iolm_codec_free(&a->base);
	return IOLM_OK;
}

int state_put_account(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN], uint64_t balance,
		      uint64_t nonce)
{
	uint8_t key[STATE_KEY_MAX];
	size_t klen;
	state_key_account(key, &klen, id);
	if (balance == 0 && nonce == 0) {
		/* An empty account is no account: keep the state (and proofs) minimal. */
		MDB_val k = { klen, key };
		int rc = mdb_del(x->txn, x->l->state, &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return ledger_lmdb_err(rc);
		return touch(x, key, klen);
	}
	Iolm__Account a = IOLM__ACCOUNT__INIT;
	a.balance = balance;
	a.nonce = nonce;
	return state_put_msg(x, key, klen, &a.base);
}

int state_credit(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN], uint64_t amount)
{
	uint64_t bal, nonce;
	int err;
	if (amount == 0)
		return IOLM_OK;
	if ((err = state_get_account(x, id, &bal, &nonce)))
		return err;
	if ((err = iolm_add_u64(&bal, bal, amount)))
		return err;
	return state_put_account(x, id, bal, nonce);
}

static int get_obj(struct exec *x, uint8_t kind, const uint8_t id[static 32],
		   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	uint8_t key[33];
	MDB_val v;
	int err;
	*out = NULL;
	key[0] = kind;
	memcpy(key + 1, id, 32);
	if ((err = state_get_raw(x, key, sizeof key, &v)))
		return err;
	if (iolm_codec_decode(out, desc, v.mv_data, v.mv_size, IOLM_MAX_TX_BYTES * 2))
		return IOLM_ECORRUPT;
	return IOLM_OK;
}

static int put_obj(struct exec *x, uint8_t kind, const uint8_t id[static 32],
		   const ProtobufCMessage *m)
{
	uint8_t key[33];
	key[0] = kind;
	memcpy(key + 1, id, 32);
	return state_put_msg(x, key, sizeof key, m);
}

int state_get_task(struct exec *x, const uint8_t id[static 32], Iolm__TaskState **out)
{
	return get_obj(x, SK_TASK, id, &iolm__task_state__descriptor, (ProtobufCMessage **)out);
}

int state_put_task(struct exec *x, const uint8_t id[static 32], const Iolm__TaskState *t)
{
	return put_obj(x, SK_TASK, id, &t->base);
}

int state_get_work(struct exec *x, const uint8_t id[static 32], Iolm__WorkState **out)
{
	return get_obj(x, SK_WORK, id, &iolm__work_state__descriptor, (ProtobufCMessage **)out);
}

int state_put_work(struct exec *x, const uint8_t id[static 32], const Iolm__WorkState *w)
{
	return put_obj(x, SK_WORK, id, &w->base);
}

int state_load_supply(struct exec *x)
{
	uint8_t key = SK_SUPPLY;
	MDB_val v;
	Iolm__Supply *s;
	int err = state_get_raw(x, &key, 1, &v);
	iolm__supply__init(&x->supply);
	if (err == IOLM_ENOTFOUND)
		return IOLM_OK;
	if (err)
		return err;
	if (iolm_codec_decode((ProtobufCMessage **)&s, &iolm__supply__descriptor, v.mv_data,
			      v.mv_size, 128))
		return IOLM_ECORRUPT;
	x->supply.genesis_supply = s->genesis_supply;
	x->supply.minted = s->minted;
	x->supply.burned = s->burned;
	x->supply.escrowed = s->escrowed;
	iolm_codec_free(&s->base);
	return IOLM_OK;
}

static int touched_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STATE_KEY_MAX + 1);
}

int exec_finish(struct exec *x, uint8_t root[static 32])
{
	uint8_t skey = SK_SUPPLY;
	ledger_smt_change *ch = NULL;
	size_t n = 0;
	int err;

	assert(x->n_hist == 0); /* hist_flush came first */

	if ((err = state_put_msg(x, &skey, 1, &x->supply.base)))
		return err;
	qsort(x->touched, x->n_touched, sizeof *x->touched, touched_cmp);
	err = IOLM_ENOMEM;
	ch = malloc((x->n_touched ? x->n_touched : 1) * sizeof *ch);
	if (!ch)
		goto out;
	for (size_t i = 0; i < x->n_touched; i++) {
		if (i && memcmp(x->touched[i], x->touched[i - 1], STATE_KEY_MAX + 1) == 0)
			continue;
		const uint8_t *raw = &x->touched[i][1];
		size_t rlen = x->touched[i][0];
		MDB_val v;
		ledger_state_map_key(ch[n].key, raw, rlen);
		err = state_get_raw(x, raw, rlen, &v);
		if (err == IOLM_ENOTFOUND) {
			ch[n].del = 1;
		} else if (err) {
			goto out;
		} else {
			ch[n].del = 0;
			ledger_smt_value_hash(ch[n].vhash, v.mv_data, v.mv_size);
		}
		n++;
	}
	err = ledger_smt_update(x->txn, x->l->smt, ch, n, root);
out:
	free(ch);
	return err;
}

int state_del(struct exec *x, const uint8_t *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(x->txn, x->l->state, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return ledger_lmdb_err(rc);
	return touch(x, key, klen);
}

int state_scan(struct exec *x, const uint8_t *prefix, size_t plen,
	       int (*fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
			 size_t vlen),
	       void *ctx)
{
	MDB_cursor *cur;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc, err = IOLM_OK;
	if ((rc = mdb_cursor_open(x->txn, x->l->state, &cur)))
		return ledger_lmdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if ((err = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size)))
			break;
	}
	mdb_cursor_close(cur);
	if (!err && rc && rc != MDB_NOTFOUND)
		err = ledger_lmdb_err(rc);
	return err;
}

int state_touch_key(struct exec *x, const uint8_t *key, size_t klen)
{
	return touch(x, key, klen);
}
