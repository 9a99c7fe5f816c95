/* The mempool tests' fixture: a small in-memory account table standing in for the
 * committed state, four funded keys, a signature cache, signed transfers and a capture
 * of what selection emits. */
#ifndef IOLM_TEST_MEMPOOL_FIXTURE_H
#define IOLM_TEST_MEMPOOL_FIXTURE_H

#include "../test_util.h"

#include <stdlib.h>

#include "core/addr.h"
#include "core/codec.h"
#include "core/key.h"
#include "ledger/mempool.h"

#define CHAIN "iolm-test"
#define NKEYS 4
#define MAX_ACCTS 512

struct acct_row {
	uint8_t id[IOLM_ADDR_LEN];
	uint64_t balance, nonce;
};

/* The committed state the callbacks read: a small table plus a failure switch. */
struct world {
	struct acct_row rows[MAX_ACCTS];
	size_t n;
	int fail; /* non-zero: the callback returns this */
	size_t calls;
};

struct fixture {
	iolm_key keys[NKEYS];
	uint8_t ids[NKEYS][IOLM_ADDR_LEN];
	struct world w;
	ledger_sigcache *cache;
	ledger_mempool *mp;
};

static inline int world_account(void *ctx, const uint8_t id[static 20], uint64_t *balance,
				uint64_t *nonce)
{
	struct world *w = ctx;
	w->calls++;
	if (w->fail)
		return w->fail;
	*balance = 0;
	*nonce = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (memcmp(w->rows[i].id, id, IOLM_ADDR_LEN) == 0) {
			*balance = w->rows[i].balance;
			*nonce = w->rows[i].nonce;
			break;
		}
	}
	return IOLM_OK;
}

static inline void world_set(struct world *w, const uint8_t id[static IOLM_ADDR_LEN],
			     uint64_t balance, uint64_t nonce)
{
	for (size_t i = 0; i < w->n; i++) {
		if (memcmp(w->rows[i].id, id, IOLM_ADDR_LEN) == 0) {
			w->rows[i].balance = balance;
			w->rows[i].nonce = nonce;
			return;
		}
	}
	assert_true(w->n < MAX_ACCTS);
	memcpy(w->rows[w->n].id, id, IOLM_ADDR_LEN);
	w->rows[w->n].balance = balance;
	w->rows[w->n].nonce = nonce;
	w->n++;
}

static const ledger_mempool_params default_params = {
	.max_txs = 1000,
	.max_bytes = 1000000,
	.max_per_account = 16,
	.nonce_window = 8,
	.min_fee = 10,
	.replace_bump_pct = 10,
};

static inline void fixture_open(struct fixture *f, const ledger_mempool_params *p)
{
	if (f->mp)
		ledger_mempool_destroy(f->mp);
	f->mp = NULL;
	assert_int_equal(ledger_mempool_create(&f->mp, p, CHAIN, f->cache), IOLM_OK);
}

static inline int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	for (int i = 0; i < NKEYS; i++) {
		assert_int_equal(iolm_key_generate(&f->keys[i]), IOLM_OK);
		iolm_addr_from_pub(f->ids[i], iolm_key_pub(&f->keys[i]));
		world_set(&f->w, f->ids[i], 1000000, 0);
	}
	assert_int_equal(ledger_sigcache_create(&f->cache, 1024), IOLM_OK);
	fixture_open(f, &default_params);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fixture *f = *state;
	ledger_mempool_destroy(f->mp);
	ledger_sigcache_destroy(f->cache);
	for (int i = 0; i < NKEYS; i++)
		iolm_key_wipe(&f->keys[i]);
	free(f);
	return 0;
}

/* A signed transfer of amount from key, for chain. */
static inline void make_tx_chain(iolm_buf *out, const iolm_key *key, uint64_t nonce,
				 uint64_t fee, uint64_t amount, const char *chain)
{
	Iolm__TxBody body = IOLM__TX_BODY__INIT;
	Iolm__Transfer tr = IOLM__TRANSFER__INIT;
	uint8_t to[IOLM_ADDR_LEN];

	memset(to, 0x77, sizeof to);
	tr.to.data = to;
	tr.to.len = sizeof to;
	tr.amount = amount;
	body.nonce = nonce;
	body.fee = fee;
	body.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	body.transfer = &tr;
	iolm_buf_init(out, IOLM_MAX_TX_BYTES);
	assert_int_equal(ledger_tx_sign(out, &body, key, chain), IOLM_OK);
}

static inline void make_tx(iolm_buf *out, const iolm_key *key, uint64_t nonce,
			   uint64_t fee, uint64_t amount)
{
	make_tx_chain(out, key, nonce, fee, amount, CHAIN);
}

/* Sign and submit; returns add's result and the id. */
static inline int submit(struct fixture *f, int k, uint64_t nonce, uint64_t fee,
			 uint64_t amount, uint8_t id[32])
{
	iolm_buf b;
	make_tx(&b, &f->keys[k], nonce, fee, amount);
	int rc = ledger_mempool_add(f->mp, b.data, b.len, world_account, &f->w, id);
	iolm_buf_release(&b, 0);
	return rc;
}

static inline int submit_raw(struct fixture *f, const iolm_buf *b)
{
	return ledger_mempool_add(f->mp, b->data, b->len, world_account, &f->w, NULL);
}

/* ---- selection capture ---- */

#define MAX_SEL 64
struct picked {
	uint8_t ids[MAX_SEL][32];
	size_t n;
	size_t bytes;
	int stop_after; /* 0: never stop */
};

static inline int pick(void *ctx, const uint8_t *raw, size_t len, const uint8_t id[static 32])
{
	struct picked *p = ctx;
	assert_non_null(raw);
	assert_true(p->n < MAX_SEL);
	memcpy(p->ids[p->n++], id, 32);
	p->bytes += len;
	if (p->stop_after && (int)p->n == p->stop_after)
		return 7;
	return 0;
}

static inline int select_all(struct fixture *f, size_t max_bytes, size_t max_txs,
			     struct picked *p)
{
	memset(p, 0, sizeof *p);
	return ledger_mempool_select(f->mp, max_bytes, max_txs, world_account, &f->w, pick, p);
}

#endif
