/* Fuzz the mempool (ledger/mempool.c) with a small one that is always nearly full: the
 * input is a sequence of two-byte operations on it and on the account state it reads.
 *
 *   op % 8 < 6   admit transaction number arg % N_TXS (signed once at start: four
 *                accounts, nonces 0..11, three fees each, so replacements, gaps,
 *                duplicates and displacement all occur)
 *   op % 8 == 6  a block: the first arg % 5 transactions selection emits are included
 *                (their accounts' nonces and balances move as a block would move them)
 *   op % 8 == 7  the state moves under the mempool: account arg % 4 skips (arg >> 2) % 3
 *                nonces and its balance becomes (arg >> 4) * 60; then a block of nothing
 *
 * After every operation: the count and bytes are those of the ids it says are pending,
 * within the caps; selection emits only pending ids, each account's from its next nonce
 * in order with no gap, within its balance; what admission accepted is pending. A
 * check callback refuses one id in eight, as ledger_tx_check would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/hash.h"
#include "core/key.h"
#include "ledger/mempool.h"

#define CHAIN "iolm-fuzz"
#define N_KEYS 4
#define N_NONCES 12
#define N_FEES 3
#define N_TXS (N_KEYS * N_NONCES * N_FEES)
#define AMOUNT 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t fees[N_FEES] = { 10, 20, 25 };

static struct {
	iolm_buf raw;
	uint8_t id[32];
	int key;
	uint64_t nonce, fee;
} txs[N_TXS];
static uint8_t acct[N_KEYS][IOLM_ADDR_LEN];
static ledger_sigcache *cache;
static int ready;

/* the committed state the mempool reads */
static uint64_t balance[N_KEYS], next_nonce[N_KEYS];

static int key_of(const uint8_t id[static IOLM_ADDR_LEN])
{
	for (int k = 0; k < N_KEYS; k++)
		if (memcmp(acct[k], id, IOLM_ADDR_LEN) == 0)
			return k;
	return -1;
}

static int account(void *ctx, const uint8_t id[static 20], uint64_t *bal, uint64_t *nonce)
{
	int k = key_of(id);
	(void)ctx;
	*bal = k < 0 ? 0 : balance[k];
	*nonce = k < 0 ? 0 : next_nonce[k];
	return IOLM_OK;
}

static int check(void *ctx, const ledger_tx *tx)
{
	(void)ctx;
	return (tx->id[0] & 7) == 0 ? IOLM_ELEDGER_BOND : IOLM_OK;
}

static void setup(void)
{
	uint8_t to[IOLM_ADDR_LEN];
	memset(to, 0x55, sizeof to);
	if (ledger_sigcache_create(&cache, 4 * N_TXS))
		abort();
	for (int k = 0; k < N_KEYS; k++) {
		iolm_key key;
		uint8_t sec[32];
		uint32_t v = (uint32_t)k + 1;
		iolm_hash(sec, IOLM_TAG_GENESIS, &v, sizeof v);
		if (iolm_key_from_secret(&key, sec))
			abort();
		iolm_addr_from_pub(acct[k], iolm_key_pub(&key));
		for (int n = 0; n < N_NONCES; n++) {
			for (int f = 0; f < N_FEES; f++) {
				int i = (k * N_NONCES + n) * N_FEES + f;
				Iolm__TxBody b = IOLM__TX_BODY__INIT;
				Iolm__Transfer t = IOLM__TRANSFER__INIT;
				t.to.data = to;
				t.to.len = sizeof to;
				t.amount = AMOUNT;
				b.nonce = (uint64_t)n;
				b.fee = fees[f];
				b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
				b.transfer = &t;
				iolm_buf_init(&txs[i].raw, IOLM_MAX_TX_BYTES);
				if (ledger_tx_sign(&txs[i].raw, &b, &key, CHAIN))
					abort();
				iolm_hash(txs[i].id, IOLM_TAG_TX, txs[i].raw.data, txs[i].raw.len);
				/* checked once here: the fuzzer spends its time on the mempool */
				ledger_sigcache_add(cache, txs[i].id);
				txs[i].key = k;
				txs[i].nonce = (uint64_t)n;
				txs[i].fee = fees[f];
			}
		}
		iolm_key_wipe(&key);
	}
}

struct sel {
	uint8_t ids[N_TXS][32];
	size_t n, stop;
};

static int emit(void *ctx, const uint8_t *raw, size_t len, const uint8_t id[static 32])
{
	struct sel *s = ctx;
	(void)raw;
	(void)len;
	if (s->n == N_TXS)
		abort(); /* more than every transaction there is */
	memcpy(s->ids[s->n++], id, 32);
	return s->stop && s->n == s->stop;
}

static int tx_index(const uint8_t id[32])
{
	for (int i = 0; i < N_TXS; i++)
		if (memcmp(txs[i].id, id, 32) == 0)
			return i;
	abort();
}

/* The invariants, after every operation. */
static void check_all(ledger_mempool *mp, const ledger_mempool_params *p)
{
	size_t count = 0, bytes = 0, per[N_KEYS] = { 0 };
	for (int i = 0; i < N_TXS; i++) {
		if (!ledger_mempool_has(mp, txs[i].id))
			continue;
		count++;
		bytes += txs[i].raw.len;
		per[txs[i].key]++;
	}
	if (count != ledger_mempool_count(mp) || bytes != ledger_mempool_bytes(mp) ||
	    count > p->max_txs || bytes > p->max_bytes)
		abort();
	for (int k = 0; k < N_KEYS; k++)
		if (per[k] > p->max_per_account)
			abort();
	struct sel s = { .n = 0, .stop = 0 };
	if (ledger_mempool_select(mp, SIZE_MAX, SIZE_MAX, account, NULL, emit, &s))
		abort();
	uint64_t want[N_KEYS], spent[N_KEYS] = { 0 };
	memcpy(want, next_nonce, sizeof want);
	for (size_t j = 0; j < s.n; j++) {
		int i = tx_index(s.ids[j]);
		int k = txs[i].key;
		if (!ledger_mempool_has(mp, s.ids[j]) || txs[i].nonce != want[k]++)
			abort(); /* not pending, or out of nonce order, or past a gap */
		spent[k] += AMOUNT + txs[i].fee;
		if (spent[k] > balance[k])
			abort(); /* a run its account cannot pay */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ledger_mempool_params p = { .max_txs = 8, .max_per_account = 5, .nonce_window = 6,
				    .min_fee = 10, .replace_bump_pct = 10, .ttl_blocks = 4,
				    .check = check };
	ledger_mempool *mp;
	if (!ready) {
		setup();
		ready = 1;
	}
	p.max_bytes = 7 * txs[0].raw.len; /* the byte cap binds before the count cap */
	for (int k = 0; k < N_KEYS; k++) {
		balance[k] = 100000;
		next_nonce[k] = 0;
	}
	if (ledger_mempool_create(&mp, &p, CHAIN, cache))
		abort();
	for (size_t at = 0; at + 2 <= size; at += 2) {
		uint8_t op = data[at] % 8, arg = data[at + 1];
		if (op < 6) {
			int i = arg % N_TXS;
			uint8_t id[32];
			int err = ledger_mempool_add(mp, txs[i].raw.data, txs[i].raw.len, account, NULL,
						     id);
			if (!err && (memcmp(id, txs[i].id, 32) || !ledger_mempool_has(mp, id)))
				abort();
			if (err == IOLM_OK && (txs[i].id[0] & 7) == 0)
				abort(); /* the check refused it */
		} else if (op == 6) {
			struct sel s = { .n = 0, .stop = (size_t)(arg % 5) };
			if (s.stop && ledger_mempool_select(mp, SIZE_MAX, SIZE_MAX, account, NULL, emit,
							    &s) < 0)
				abort();
			for (size_t j = 0; j < s.n; j++) {
				int i = tx_index(s.ids[j]);
				next_nonce[txs[i].key]++;
				balance[txs[i].key] -= AMOUNT + txs[i].fee;
			}
			if (ledger_mempool_update(mp, (const uint8_t(*)[32])s.ids, s.n, account, NULL))
				abort();
		} else {
			int k = arg % N_KEYS;
			next_nonce[k] += (uint64_t)((arg >> 2) % 3);
			balance[k] = (uint64_t)(arg >> 4) * 60;
			if (ledger_mempool_update(mp, NULL, 0, account, NULL))
				abort();
		}
		check_all(mp, &p);
	}
	ledger_mempool_destroy(mp);
	return 0;
}
