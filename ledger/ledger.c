/* Opening a data directory, genesis initialisation, and the read-side queries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/hash.h"
#include "ledger/internal.h"

#define DEFAULT_MAP_SIZE (16ull << 30)

void ledger_valset_hash(uint8_t out[static 32], const ledger_genesis *g)
{
	iolm_hash_ctx ctx;
	iolm_hash_init(&ctx, IOLM_TAG_VALSET, IOLM_HASH_LEN);
	for (size_t i = 0; i < g->n_validators; i++) {
		iolm_hash_update(&ctx, g->validators[i].pub, 32);
		iolm_hash_update_u64(&ctx, g->validators[i].power);
	}
	iolm_hash_final(&ctx, out);
}

int meta_get_head(ledger *l, MDB_txn *txn, Iolm__ChainHead **out)
{
	MDB_val k = { 4, "head" }, v;
	int rc = mdb_get(txn, l->meta, &k, &v);
	*out = NULL;
	if (rc)
		return rc == MDB_NOTFOUND ? IOLM_ECORRUPT : ledger_lmdb_err(rc);
	if (iolm_codec_decode((ProtobufCMessage **)out, &iolm__chain_head__descriptor, v.mv_data,
			      v.mv_size, 1024))
		return IOLM_ECORRUPT;
	return IOLM_OK;
}

static int put_head(ledger *l, MDB_txn *txn, const Iolm__ChainHead *h)
{
	uint8_t buf[256];
	size_t n = protobuf_c_message_pack(&h->base, buf);
	MDB_val k = { 4, "head" }, v = { n, buf };
	return ledger_lmdb_err(mdb_put(txn, l->meta, &k, &v, 0));
}

/* A new data directory: genesis allocations, supply, the first state root, head 0. */
static int init_genesis(ledger *l, MDB_txn *txn)
{
	struct exec x;
	uint8_t root[32];
	int err;

	if ((err = exec_begin(&x, l, txn, 0)))
		return err;
	if ((err = apply_genesis(&x)) || (err = hist_flush(&x)) || (err = exec_finish(&x, root)))
		goto out;
	Iolm__ChainHead h = IOLM__CHAIN_HEAD__INIT;
	uint8_t zero[32] = { 0 };
	h.height = 0;
	h.block_id.data = zero;
	h.block_id.len = 32;
	h.time_ms = l->g->time_ms;
	h.state_root.data = root;
	h.state_root.len = 32;
	h.genesis_hash.data = (uint8_t *)l->g->hash;
	h.genesis_hash.len = 32;
	err = put_head(l, txn, &h);
out:
	exec_release(&x);
	return err;
}

static int open_dbs(ledger *l, MDB_txn *txn)
{
	static const char *const names[] = { "meta", "state", "smt", "blocks", "blockid",
					     "certs", "txidx", "receipts", "history", "histsum",
					     "tasklist" };
	MDB_dbi *dbis[] = { &l->meta, &l->state, &l->smt, &l->blocks, &l->blockid,
			    &l->certs, &l->txidx, &l->receipts, &l->history, &l->histsum,
			    &l->tasklist };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]);
		if (rc)
			return ledger_lmdb_err(rc);
	}
	return IOLM_OK;
}

/* The account-history setting stored in meta ("history": one byte, 1 on, 0 off; absent
 * for a ledger older than the setting: on). A new ledger records the one asked for; an
 * existing one may go from on to off (its history is dropped) but not back. */
static int history_setting(ledger *l, MDB_txn *txn, int fresh)
{
	MDB_val k = { 7, "history" }, v;
	uint8_t want = (uint8_t)(l->keep_history != 0), had = 1;
	int rc = mdb_get(txn, l->meta, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return ledger_lmdb_err(rc);
	if (!rc)
		had = v.mv_size == 1 && *(const uint8_t *)v.mv_data == 1;
	if (!fresh && want == had)
		return IOLM_OK;
	if (!fresh && want)
		return IOLM_ELEDGER_HISTORY_GAP;
	if (!fresh && ((rc = mdb_drop(txn, l->history, 0)) || (rc = mdb_drop(txn, l->histsum, 0))))
		return ledger_lmdb_err(rc);
	v.mv_size = 1;
	v.mv_data = &want;
	return ledger_lmdb_err(mdb_put(txn, l->meta, &k, &v, 0));
}

int ledger_has_history(const ledger *l)
{
	return l->keep_history;
}

int ledger_open(ledger **out, const char *dir, const ledger_genesis *g,
		const ledger_options *opt)
{
	ledger *l = NULL;
	MDB_txn *txn = NULL;
	Iolm__ChainHead *head = NULL;
	int err, rc;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return IOLM_EIO;
	err = IOLM_ENOMEM;
	l = calloc(1, sizeof *l);
	if (!l)
		goto fail;
	l->g = g;
	l->keep_history = !(opt && opt->no_history);
	if (opt && opt->rules)
		l->rules = *opt->rules;
	ledger_valset_hash(l->valset_hash, g);
	err = IOLM_ELEDGER_LMDB;
	if ((rc = mdb_env_create(&l->env)))
		goto fail;
	if ((rc = mdb_env_set_maxdbs(l->env, 16)) ||
	    (rc = mdb_env_set_mapsize(l->env, opt && opt->map_size ? opt->map_size
								   : DEFAULT_MAP_SIZE)))
		goto fail;
	/* MDB_NOTLS: read transactions are not tied to threads (RPC workers). */
	unsigned flags = MDB_NOTLS | (opt && opt->no_sync ? MDB_NOSYNC : 0);
	if ((rc = mdb_env_open(l->env, dir, flags, 0600))) {
		err = rc == ENOENT || rc == EACCES ? IOLM_EIO : IOLM_ELEDGER_LMDB;
		goto fail;
	}
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, 0, &txn))))
		goto fail;
	if ((err = open_dbs(l, txn)))
		goto fail;
	err = meta_get_head(l, txn, &head);
	if (err == IOLM_ECORRUPT) {
		MDB_val k = { 4, "head" }, v;
		if (mdb_get(txn, l->meta, &k, &v) == MDB_NOTFOUND &&
		    !(err = history_setting(l, txn, 1)))
			err = init_genesis(l, txn); /* a new directory */
		if (err)
			goto fail;
	} else if (err) {
		goto fail;
	} else {
		err = IOLM_ELEDGER_GENESIS_MISMATCH;
		if (head->genesis_hash.len != 32 || memcmp(head->genesis_hash.data, g->hash, 32))
			goto fail;
		if ((err = history_setting(l, txn, 0)))
			goto fail;
	}
	if ((err = ledger_lmdb_err(mdb_txn_commit(txn))))
		goto fail;
	txn = NULL;
	if (head)
		iolm_codec_free(&head->base);
	*out = l;
	return IOLM_OK;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (head)
		iolm_codec_free(&head->base);
	ledger_close(l);
	return err;
}

void ledger_close(ledger *l)
{
	if (!l)
		return;
	ledger_prep_drop(l);
	free(l->prep.block);
	if (l->env)
		mdb_env_close(l->env);
	free(l);
}

void ledger_get_commit_stats(const ledger *l, ledger_commit_stats *out)
{
	*out = l->stats;
}

const ledger_genesis *ledger_get_genesis(const ledger *l)
{
	return l->g;
}

/* ---- reads: each in its own read-only transaction */

static int rtxn(ledger *l, MDB_txn **txn)
{
	return ledger_lmdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn));
}

int ledger_get_head(ledger *l, ledger_head *out)
{
	MDB_txn *txn;
	Iolm__ChainHead *h;
	int err = rtxn(l, &txn);
	memset(out, 0, sizeof *out);
	if (err)
		return err;
	if (!(err = meta_get_head(l, txn, &h))) {
		out->height = h->height;
		out->time_ms = h->time_ms;
		if (h->block_id.len == 32)
			memcpy(out->block_id, h->block_id.data, 32);
		if (h->state_root.len == 32)
			memcpy(out->state_root, h->state_root.data, 32);
		iolm_codec_free(&h->base);
	}
	mdb_txn_abort(txn);
	return err;
}

int ledger_get_account(ledger *l, const uint8_t id[static IOLM_ADDR_LEN], uint64_t *balance,
		       uint64_t *nonce)
{
	struct exec x;
	MDB_txn *txn;
	int err = rtxn(l, &txn);
	*balance = *nonce = 0;
	if (err)
		return err;
	if (!(err = exec_begin(&x, l, txn, 0)))
		err = state_get_account(&x, id, balance, nonce);
	exec_release(&x);
	mdb_txn_abort(txn);
	return err;
}

int ledger_get_account_proved(ledger *l, const uint8_t id[static IOLM_ADDR_LEN], iolm_buf *out,
			      ledger_proof *proof, uint8_t root[static 32])
{
	uint8_t raw[STATE_KEY_MAX], key[32];
	size_t n;
	MDB_txn *txn;
	MDB_val k, v;
	int err = rtxn(l, &txn);
	if (err)
		return err;
	state_key_account(raw, &n, id);
	ledger_state_map_key(key, raw, n);
	if ((err = ledger_smt_root(txn, l->smt, root)) ||
	    (err = ledger_smt_prove(txn, l->smt, key, proof)))
		goto out;
	k.mv_size = n;
	k.mv_data = raw;
	err = ledger_lmdb_err(mdb_get(txn, l->state, &k, &v));
	if (!err)
		err = iolm_buf_append(out, v.mv_data, v.mv_size);
out:
	mdb_txn_abort(txn);
	return err;
}

static int get_by_key(ledger *l, MDB_dbi dbi, const void *key, size_t klen, iolm_buf *out)
{
	MDB_txn *txn;
	MDB_val k = { klen, (void *)key }, v;
	int err = rtxn(l, &txn);
	if (err)
		return err;
	err = ledger_lmdb_err(mdb_get(txn, dbi, &k, &v));
	if (!err && out)
		err = iolm_buf_append(out, v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	return err;
}

int ledger_get_task(ledger *l, const uint8_t id[static 32], iolm_buf *out)
{
	uint8_t key[33] = { SK_TASK };
	memcpy(key + 1, id, 32);
	return get_by_key(l, l->state, key, sizeof key, out);
}

int ledger_get_work(ledger *l, const uint8_t id[static 32], iolm_buf *out)
{
	uint8_t key[33] = { SK_WORK };
	memcpy(key + 1, id, 32);
	return get_by_key(l, l->state, key, sizeof key, out);
}

int ledger_get_supply(ledger *l, uint64_t *genesis_supply, uint64_t *minted, uint64_t *burned,
		      uint64_t *escrowed)
{
	struct exec x;
	MDB_txn *txn;
	int err = rtxn(l, &txn);
	if (err)
		return err;
	if (!(err = exec_begin(&x, l, txn, 0)) && !(err = state_load_supply(&x))) {
		*genesis_supply = x.supply.genesis_supply;
		*minted = x.supply.minted;
		*burned = x.supply.burned;
		*escrowed = x.supply.escrowed;
	}
	exec_release(&x);
	mdb_txn_abort(txn);
	return err;
}

static void be64(uint8_t out[static 8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

int ledger_get_block(ledger *l, uint64_t height, iolm_buf *out)
{
	uint8_t k[8];
	be64(k, height);
	return get_by_key(l, l->blocks, k, 8, out);
}

int ledger_get_cert(ledger *l, uint64_t height, iolm_buf *out)
{
	uint8_t k[8];
	be64(k, height);
	return get_by_key(l, l->certs, k, 8, out);
}

int ledger_get_block_by_id(ledger *l, const uint8_t id[static 32], iolm_buf *out,
			   uint64_t *height)
{
	iolm_buf hb;
	int err;
	iolm_buf_init(&hb, 8);
	if ((err = get_by_key(l, l->blockid, id, 32, &hb)))
		goto out;
	err = IOLM_ECORRUPT;
	if (hb.len != 8)
		goto out;
	*height = 0;
	for (int i = 0; i < 8; i++)
		*height = *height << 8 | hb.data[i];
	err = ledger_get_block(l, *height, out);
out:
	iolm_buf_release(&hb, 0);
	return err;
}

int ledger_get_tx(ledger *l, const uint8_t id[static 32], uint64_t *height, uint32_t *index,
		  iolm_buf *receipt)
{
	iolm_buf pos;
	int err;
	iolm_buf_init(&pos, 12);
	if ((err = get_by_key(l, l->txidx, id, 32, &pos)))
		goto out;
	err = IOLM_ECORRUPT;
	if (pos.len != 12)
		goto out;
	*height = 0;
	*index = 0;
	for (int i = 0; i < 8; i++)
		*height = *height << 8 | pos.data[i];
	for (int i = 8; i < 12; i++)
		*index = *index << 8 | pos.data[i];
	err = receipt ? get_by_key(l, l->receipts, id, 32, receipt) : IOLM_OK;
out:
	iolm_buf_release(&pos, 0);
	return err;
}

size_t ledger_raw_key_account(uint8_t *raw, const uint8_t id[static IOLM_ADDR_LEN])
{
	size_t n;
	state_key_account(raw, &n, id);
	return n;
}

static size_t raw_id(uint8_t *raw, uint8_t kind, const uint8_t *id, size_t len)
{
	raw[0] = kind;
	memcpy(raw + 1, id, len);
	return 1 + len;
}

size_t ledger_raw_key_task(uint8_t *raw, const uint8_t id[static 32])
{
	return raw_id(raw, SK_TASK, id, 32);
}

size_t ledger_raw_key_work(uint8_t *raw, const uint8_t id[static 32])
{
	return raw_id(raw, SK_WORK, id, 32);
}

size_t ledger_raw_key_attest(uint8_t *raw, const uint8_t work[static 32], uint32_t validator)
{
	size_t n = raw_id(raw, SK_ATTEST, work, 32);
	for (int i = 0; i < 4; i++)
		raw[n + (size_t)i] = (uint8_t)(validator >> (24 - 8 * i));
	return n + 4;
}

size_t ledger_raw_key_share(uint8_t *raw, const uint8_t task[static 32],
			    const uint8_t account[static IOLM_ADDR_LEN])
{
	size_t n = raw_id(raw, SK_SHARE, task, 32);
	memcpy(raw + n, account, IOLM_ADDR_LEN);
	return n + IOLM_ADDR_LEN;
}

size_t ledger_raw_key_rewards(uint8_t *raw, const uint8_t account[static IOLM_ADDR_LEN])
{
	return raw_id(raw, SK_REWARDS, account, IOLM_ADDR_LEN);
}

void ledger_map_key(uint8_t key[static 32], const uint8_t *raw, size_t len)
{
	ledger_state_map_key(key, raw, len);
}

int ledger_get_state_proved(ledger *l, const uint8_t *raw, size_t len, iolm_buf *out,
			    ledger_proof *proof, uint8_t root[static 32], uint64_t *height)
{
	uint8_t key[32];
	MDB_txn *txn;
	MDB_val k = { len, (void *)raw }, v;
	Iolm__ChainHead *h = NULL;
	int err = rtxn(l, &txn);
	if (err)
		return err;
	ledger_state_map_key(key, raw, len);
	if ((err = meta_get_head(l, txn, &h)))
		goto out;
	*height = h->height;
	if ((err = ledger_smt_root(txn, l->smt, root)) ||
	    (err = ledger_smt_prove(txn, l->smt, key, proof)))
		goto out;
	err = ledger_lmdb_err(mdb_get(txn, l->state, &k, &v));
	if (!err)
		err = iolm_buf_append(out, v.mv_data, v.mv_size);
out:
	if (h)
		iolm_codec_free(&h->base);
	mdb_txn_abort(txn);
	return err;
}

int ledger_scan_state(ledger *l, const uint8_t *prefix, size_t plen,
		      int (*fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
				size_t vlen),
		      void *ctx)
{
	struct exec x;
	MDB_txn *txn;
	int err = rtxn(l, &txn);
	if (err)
		return err;
	if (!(err = exec_begin(&x, l, txn, 0)))
		err = state_scan(&x, prefix, plen, fn, ctx);
	exec_release(&x);
	mdb_txn_abort(txn);
	return err;
}
