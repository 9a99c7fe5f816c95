/* The mempool: transactions waiting for a block. A pure structure: the node drives it,
 * and it reads account state only through the callback it is given.
 *
 * Admission (ledger_mempool_add) decodes the transaction and applies the stateless rules
 * (ledger_tx_decode), checks the signature (once: the id goes into the signature cache
 * shared with block execution), the fee against the chain minimum, the nonce against the
 * account's next nonce (not below it, not more than nonce_window ahead), and the balance:
 * the account's pending transactions up to and including this one, amounts plus fees,
 * must fit its balance. Per account, transactions are kept in nonce order; a transaction
 * with the nonce of a pending one replaces it only with a fee higher than the old one and
 * at least replace_bump_pct percent higher. When a replacement, or a transaction that
 * fills a nonce gap, raises the running cost so that later pending transactions of the
 * account no longer fit its balance, those later ones are dropped (from the first that no
 * longer fits): the newest transaction the owner signed wins. Global and per-account caps
 * (count and bytes) give clear errors, with one exception: when the mempool is full, a
 * transaction the next block could take (every nonce from its account's next one up to
 * its own pending) displaces an account's transactions past a nonce gap, which no block
 * can take before the gap is filled, if dropping those makes room; failing that, the
 * last transaction of the account whose last one pays the least, if the newcomer
 * outbids it as a replacement must (replace_bump_pct). Last comes the check callback, when the
 * parameters name one (the node's refuses what no later block would take either, and
 * what names a task or work it has never seen: ledger_tx_check).
 *
 * Selection (ledger_mempool_select) returns a block's worth, up to a byte and count
 * limit: highest fee first across accounts, each account's transactions in nonce order
 * starting at its next nonce with no gaps. Selection does not remove anything; after a
 * block commits, ledger_mempool_update() drops what it included and anything now stale,
 * and a transaction pending for more than ttl_blocks blocks (with its account's later
 * ones): what waits on something that never comes does not stay for good.
 * Not thread-safe: the node calls it from one thread. */
#ifndef IOLM_LEDGER_MEMPOOL_H
#define IOLM_LEDGER_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ledger/tx.h"

typedef struct ledger_mempool ledger_mempool;

typedef struct ledger_mempool_params {
	size_t max_txs;           /* all accounts together */
	size_t max_bytes;         /* encoded bytes, all accounts together */
	size_t max_per_account;   /* pending transactions of one account */
	uint64_t nonce_window;    /* how far ahead of the next nonce a tx may be */
	uint64_t min_fee;         /* the chain's minimum fee (genesis) */
	unsigned replace_bump_pct;/* a replacement pays at least this much more, in percent */
	uint64_t ttl_blocks;      /* pending for more blocks than this: dropped (0: never) */
	/* Optional (NULL: none): the rules of the kind against the committed state
	 * (ledger_tx_check), after the signature; an error refuses the transaction. */
	int (*check)(void *ctx, const ledger_tx *tx);
	void *check_ctx;
} ledger_mempool_params;

/* Balance and next nonce of an account in the latest committed state. An account that
 * does not exist has balance 0 and nonce 0 (return IOLM_OK). */
typedef int (*ledger_account_fn)(void *ctx, const uint8_t id[static 20], uint64_t *balance,
				 uint64_t *nonce);

/* chain_id is copied. cache may be NULL; otherwise it must outlive the mempool. */
int ledger_mempool_create(ledger_mempool **out, const ledger_mempool_params *params,
			  const char *chain_id, ledger_sigcache *cache) IOLM_WUR;
void ledger_mempool_destroy(ledger_mempool *mp);

/* Admit one encoded transaction. On success its id is written to id (may be NULL).
 * Errors: those of ledger_tx_decode/ledger_tx_verify, IOLM_ELEDGER_FEE,
 * IOLM_ELEDGER_NONCE_OLD, IOLM_EMEMPOOL_WINDOW, IOLM_ELEDGER_BALANCE, IOLM_EMEMPOOL_DUP,
 * IOLM_EMEMPOOL_REPLACE, IOLM_EMEMPOOL_FULL, IOLM_EMEMPOOL_ACCOUNT_FULL, and the check
 * callback's. */
int ledger_mempool_add(ledger_mempool *mp, const uint8_t *raw, size_t len,
		       ledger_account_fn account, void *ctx, uint8_t id[32]) IOLM_WUR;

/* Whether a transaction with this id is pending. */
int ledger_mempool_has(const ledger_mempool *mp, const uint8_t id[static 32]);

/* Pending transactions and their encoded bytes. */
size_t ledger_mempool_count(const ledger_mempool *mp);
size_t ledger_mempool_bytes(const ledger_mempool *mp);
/* Transactions dropped so far because they stayed pending past ttl_blocks (counting the
 * account's later ones dropped with them). */
uint64_t ledger_mempool_expired(const ledger_mempool *mp);
/* Transactions dropped so far to make room in a full mempool (behind a nonce gap, or
 * paying less than the transaction that took their place). */
uint64_t ledger_mempool_evicted(const ledger_mempool *mp);

/* Called once per selected transaction, in block order. raw stays valid until the next
 * call that changes the mempool. A non-zero return stops the selection. */
typedef int (*ledger_mempool_emit_fn)(void *ctx, const uint8_t *raw, size_t len,
				      const uint8_t id[static 32]);

/* Select up to max_bytes / max_txs as described above; account() gives each account's next
 * nonce (transactions below it are skipped, a gap ends the account's run). Returns
 * IOLM_OK or the first non-zero value emit returned. */
int ledger_mempool_select(ledger_mempool *mp, size_t max_bytes, size_t max_txs,
			  ledger_account_fn account, void *actx, ledger_mempool_emit_fn emit,
			  void *ectx) IOLM_WUR;

/* After a block committed: remove the n included ids, then every transaction whose nonce
 * is now below its account's next nonce, and re-check each touched account's pending
 * run against its new balance (dropping from the first that no longer fits, or that has
 * been pending for more than ttl_blocks calls of this function). */
int ledger_mempool_update(ledger_mempool *mp, const uint8_t (*ids)[32], size_t n,
			  ledger_account_fn account, void *ctx) IOLM_WUR;

/* Remove one transaction (and, to keep nonces contiguous, the same account's later ones).
 * IOLM_ENOTFOUND when absent. */
int ledger_mempool_remove(ledger_mempool *mp, const uint8_t id[static 32]) IOLM_WUR;

#endif
