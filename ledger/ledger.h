/* The ledger: iolm's deterministic state, its blocks and its history, in LMDB.
 *
 * A data directory holds one LMDB environment with these databases (docs/protocol.md):
 *   meta      the chain head (ChainHead, with the genesis hash), under "head"
 *   state     every state record (accounts, tasks, works, supply), by raw key
 *   smt       the authenticated map over `state` (ledger/smt.h); its root is in each header
 *   blocks    height (8 bytes BE) -> encoded Block
 *   blockid   block id -> height
 *   certs     height -> encoded CommitCert certifying that block
 *   txidx     tx id -> height (8 BE) || index (4 BE)
 *   receipts  tx id -> encoded Receipt
 *   history   account id || height (8 BE) || seq (4 BE) -> encoded HistoryEntry
 *   histsum   account id -> the account's history totals by kind (8 BE each)
 *   tasklist  created height (8 BE) || index (4 BE) -> task id
 * Committing a block (its transactions, the end-of-block rules, the block, its
 * certificate, indexes and receipts) is ONE LMDB write transaction: after a crash the
 * ledger is exactly at its last committed block. The last three databases, like txidx
 * and receipts, are indexes outside the state root (docs/protocol.md §6).
 *
 * Not thread-safe for writers: one thread commits. Readers may run concurrently
 * (LMDB MVCC); the query functions open their own read transactions. */
#ifndef IOLM_LEDGER_LEDGER_H
#define IOLM_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/err.h"
#include "ledger/proof.h"
#include "ledger/tx.h"

typedef struct ledger ledger;
typedef struct ledger_genesis ledger_genesis;

/* ---- genesis (ledger/genesis.c) */

/* Economic and size parameters fixed at genesis; bounds in docs/protocol.md. */
typedef struct ledger_params {
	uint64_t min_fee;          /* smallest fee a transaction may pay */
	uint64_t max_block_bytes;  /* encoded block size limit */
	uint64_t max_block_txs;
	uint64_t min_task_pool;    /* smallest reward pool of a task */
	uint64_t block_subsidy;    /* minted per block for the signers (0: none) */
	uint64_t max_supply;       /* minting stops where the supply would pass this */
	uint64_t attest_timeout_ms; /* block time a work may stay pending before it is rejected */
} ledger_params;

typedef struct ledger_validator {
	uint8_t pub[32];
	uint64_t power;
	char name[65];
} ledger_validator;

/* Parse a genesis JSON document (docs/protocol.md, "Genesis"). On an invalid document
 * returns IOLM_ELEDGER_GENESIS and writes a sentence naming the field into err. The
 * genesis hash is H_genesis(the document bytes exactly). Free with ledger_genesis_destroy. */
int ledger_genesis_parse(ledger_genesis **out, const char *json, size_t len, char *err,
			 size_t errlen) IOLM_WUR;
/* Read and parse a genesis file (at most 16 MiB). */
int ledger_genesis_load(ledger_genesis **out, const char *path, char *err,
			size_t errlen) IOLM_WUR;
void ledger_genesis_destroy(ledger_genesis *g);

/* Views into g, valid while g is. */
const char *ledger_genesis_chain_id(const ledger_genesis *g);
const uint8_t *ledger_genesis_hash(const ledger_genesis *g);
uint64_t ledger_genesis_time_ms(const ledger_genesis *g);
const ledger_params *ledger_genesis_params(const ledger_genesis *g);
size_t ledger_genesis_validator_count(const ledger_genesis *g);
const ledger_validator *ledger_genesis_validator(const ledger_genesis *g, size_t i);

/* ---- open / close (ledger/ledger.c) */

typedef struct ledger_options {
	size_t map_size;       /* LMDB map size in bytes; 0: 16 GiB (sparse, grows on disk as used) */
	int no_sync;           /* 1: skip fsync at commit (tests only: loses durability, not atomicity) */
	const struct ledger_rules *rules; /* end-of-block rules (ledger/eob.h); copied */
	/* 1: keep no account history (ledger_history answers IOLM_ELEDGER_NOHISTORY). It is
	 * an index beside the state, not consensus, and costs about 30% of block
	 * execution. Switching it off drops what an existing ledger had; a ledger that ran
	 * without it cannot switch it back on (IOLM_ELEDGER_HISTORY_GAP: its history would
	 * miss blocks). The task list is kept either way. */
	int no_history;
} ledger_options;

/* Open the ledger in dir (created if missing), initialising it from g when new. An
 * existing ledger must have been created from the same genesis
 * (IOLM_ELEDGER_GENESIS_MISMATCH otherwise). g must outlive the ledger. opt may be NULL. */
int ledger_open(ledger **out, const char *dir, const ledger_genesis *g,
		const ledger_options *opt) IOLM_WUR;
void ledger_close(ledger *l);

/* ---- reading the committed state */

typedef struct ledger_head {
	uint64_t height;        /* 0 before the first block */
	uint8_t block_id[32];   /* zeros at height 0 */
	uint64_t time_ms;       /* genesis time at height 0 */
	uint8_t state_root[32];
} ledger_head;

int ledger_get_head(ledger *l, ledger_head *head) IOLM_WUR;
const ledger_genesis *ledger_get_genesis(const ledger *l);

/* Balance and next nonce of an account; 0 and 0 for one that does not exist. */
int ledger_get_account(ledger *l, const uint8_t id[static IOLM_ADDR_LEN], uint64_t *balance,
		       uint64_t *nonce) IOLM_WUR;

/* A state record's raw bytes (appended to out) with a proof against the current root
 * (which is written to root). IOLM_ENOTFOUND (with an exclusion proof) when absent. */
int ledger_get_account_proved(ledger *l, const uint8_t id[static IOLM_ADDR_LEN], iolm_buf *out,
			      ledger_proof *proof, uint8_t root[static 32]) IOLM_WUR;

/* Raw state keys (docs/protocol.md "Records"), for ledger_get_state_proved. Each writes
 * the key into raw (at least LEDGER_RAW_KEY_MAX bytes) and returns its length. */
#define LEDGER_RAW_KEY_MAX 53
size_t ledger_raw_key_account(uint8_t *raw, const uint8_t id[static IOLM_ADDR_LEN]);
size_t ledger_raw_key_task(uint8_t *raw, const uint8_t id[static 32]);
size_t ledger_raw_key_work(uint8_t *raw, const uint8_t id[static 32]);
size_t ledger_raw_key_attest(uint8_t *raw, const uint8_t work[static 32], uint32_t validator);
size_t ledger_raw_key_share(uint8_t *raw, const uint8_t task[static 32],
			    const uint8_t account[static IOLM_ADDR_LEN]);
size_t ledger_raw_key_rewards(uint8_t *raw, const uint8_t account[static IOLM_ADDR_LEN]);
/* The state map key of a raw key. */
void ledger_map_key(uint8_t key[static 32], const uint8_t *raw, size_t len);

/* Any state record by raw key, appended to out, with its proof against the current root
 * (written to root) and the height that root belongs to, all from one read
 * transaction. IOLM_ENOTFOUND (with an exclusion proof) when absent. */
int ledger_get_state_proved(ledger *l, const uint8_t *raw, size_t len, iolm_buf *out,
			    ledger_proof *proof, uint8_t root[static 32],
			    uint64_t *height) IOLM_WUR;

/* Records whose raw key starts with prefix (e.g. a work's attestations: 0x05 || work id;
 * a task's shares: 0x07 || task id), in key order: fn gets each key and value (valid
 * during the call); a non-zero return stops the scan and is returned. */
int ledger_scan_state(ledger *l, const uint8_t *prefix, size_t plen,
		      int (*fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
				size_t vlen),
		      void *ctx) IOLM_WUR;

/* Encoded task or work record (TaskState / WorkState), appended to out. */
int ledger_get_task(ledger *l, const uint8_t id[static 32], iolm_buf *out) IOLM_WUR;
int ledger_get_work(ledger *l, const uint8_t id[static 32], iolm_buf *out) IOLM_WUR;

/* The Supply record: genesis supply, minted, burned, escrowed. */
int ledger_get_supply(ledger *l, uint64_t *genesis_supply, uint64_t *minted, uint64_t *burned,
		      uint64_t *escrowed) IOLM_WUR;

/* Encoded block at a height or with an id, appended to out; IOLM_ENOTFOUND if none. */
int ledger_get_block(ledger *l, uint64_t height, iolm_buf *out) IOLM_WUR;
int ledger_get_block_by_id(ledger *l, const uint8_t id[static 32], iolm_buf *out,
			   uint64_t *height) IOLM_WUR;
/* Encoded CommitCert for the block at height. */
int ledger_get_cert(ledger *l, uint64_t height, iolm_buf *out) IOLM_WUR;
/* Where a committed transaction is, and its encoded Receipt (appended to out). */
int ledger_get_tx(ledger *l, const uint8_t id[static 32], uint64_t *height, uint32_t *index,
		  iolm_buf *receipt) IOLM_WUR;

/* ---- account history and the task list (ledger/history.c): non-consensus indexes */

/* What an entry records (stored: never renumber). "+" credits the account, "-" debits
 * it; an account's balance is the sum of its signed totals. Slashing moves no balance
 * (the bond left it at work_committed) and counts as neither. */
enum ledger_hist_kind {
	LEDGER_HIST_GENESIS = 1,        /* + allocation at height 0 */
	LEDGER_HIST_TRANSFER_OUT = 2,   /* - object: the tx; counterparty: the recipient */
	LEDGER_HIST_TRANSFER_IN = 3,    /* + object: the tx; counterparty: the sender */
	LEDGER_HIST_FEE = 4,            /* - object: the tx */
	LEDGER_HIST_TASK_CREATED = 5,   /* - reward pool escrowed; object, task: the task */
	LEDGER_HIST_WORK_COMMITTED = 6, /* - bond escrowed; object: the work; task */
	LEDGER_HIST_MODEL_PAID = 7,     /* - object, task: the task paid */
	LEDGER_HIST_BREAKTHROUGH = 8,   /* + object: the new best work; task */
	LEDGER_HIST_REVENUE = 9,        /* + object, task: the task whose revenue it is */
	LEDGER_HIST_BOND_RETURNED = 10, /* + object: the work; task */
	LEDGER_HIST_SLASHED = 11,       /* 0 bond burned; object: the work; task */
	LEDGER_HIST_VALIDATOR = 12,     /* + subsidy and fees as a signer or proposer */
	LEDGER_HIST_KINDS = 13          /* kinds are 1 ..= LEDGER_HIST_KINDS - 1 */
};

/* Its lower-case name ("transfer_out", ...), or NULL for a number that is no kind. */
const char *ledger_hist_kind_name(uint32_t kind);
/* The kind of a name; 0 for none. */
uint32_t ledger_hist_kind_parse(const char *name);

#define LEDGER_HIST_HAS_OBJECT 1u
#define LEDGER_HIST_HAS_TASK 2u
#define LEDGER_HIST_HAS_COUNTERPARTY 4u

typedef struct ledger_hist_entry {
	uint64_t height;
	uint32_t seq;           /* order of the entries of one block, over all accounts */
	uint32_t kind;          /* enum ledger_hist_kind */
	uint64_t amount;
	unsigned has;           /* LEDGER_HIST_HAS_* bits: which ids below are set */
	uint8_t object_id[32];
	uint8_t task_id[32];
	uint8_t counterparty[IOLM_ADDR_LEN];
} ledger_hist_entry;

/* Which entries of an account: those before the position (before_height, before_seq),
 * newest first, i.e. height < before_height, or height == before_height and seq <
 * before_seq. {UINT64_MAX, 0} starts at the newest. */
typedef struct ledger_hist_query {
	uint64_t before_height;
	uint32_t before_seq;
	uint32_t kind;          /* 0: every kind; otherwise only this one */
	size_t limit;           /* 1 ..= the size of the caller's array */
} ledger_hist_query;

/* At most this many entries are examined by one ledger_history call (a kind filter
 * skips the others): a page costs O(limit + this) whatever the account's size. */
#define LEDGER_HIST_SCAN_MAX 10000u

typedef struct ledger_hist_page {
	size_t n;               /* entries written to the caller's array */
	int more;               /* older entries (of any kind) remain */
	uint64_t next_height;   /* with more: the query {next_height, next_seq} continues */
	uint32_t next_seq;      /* 0 unless the page ends inside a block's entries */
	uint64_t totals[LEDGER_HIST_KINDS]; /* sums over every entry of the account, by kind */
	uint64_t height;        /* the head height the page was read at */
} ledger_hist_page;

/* Whether the ledger keeps account history (ledger_options.no_history). */
int ledger_has_history(const ledger *l);

/* One page of an account's history, and its totals, from one read transaction. A page
 * ends where a block's entries end whenever it holds entries of more than one block, so
 * continuing from {next_height, 0} loses nothing; only a block with more entries than
 * the limit is split (next_seq set). A page may hold fewer than limit entries, even
 * none, while `more` is set (a kind filter, LEDGER_HIST_SCAN_MAX): follow it until it is
 * clear. out receives the entries (its size at least q->limit). IOLM_EINVAL for a limit
 * of 0 or an unknown kind; IOLM_ELEDGER_NOHISTORY when the ledger keeps none. */
int ledger_history(ledger *l, ledger_hist_entry *out, ledger_hist_page *page,
		   const uint8_t account[static IOLM_ADDR_LEN],
		   const ledger_hist_query *q) IOLM_WUR;

/* Task ids, newest first (by the block that created them, then by position in it),
 * skipping `offset`; at most `limit` of them into ids[limit]. *n: how many were
 * written; *total: how many tasks exist; *height: the head they were read at. */
int ledger_list_tasks(ledger *l, uint8_t (*ids)[32], size_t *n, uint64_t *total,
		      uint64_t *height, uint64_t offset, size_t limit) IOLM_WUR;

/* ---- blocks (ledger/block.c) */

/* Called for each candidate transaction ledger_block_build() leaves out, with the reason. */
typedef void (*ledger_reject_fn)(void *ctx, const uint8_t id[static 32], int err);

/* Whether a transaction refused with err (by ledger_block_build or ledger_tx_check) is
 * refused by every later block too: a used nonce, a fee or pool below the genesis
 * minimum, a closed task, a parent of another task or decided against, steps that do not
 * continue it, a bond below the task's minimum, an attestation by a non-validator, of a
 * decided work or a second one. Not final: a nonce gap, the balance, a task, work or
 * parent not committed yet, an attestation before its challenge block, and every error
 * that is not the transaction's (LMDB, memory). */
int ledger_tx_err_final(int err);

/* Whether a transaction with this id is waiting for a block (the mempool's). */
typedef int (*ledger_pending_fn)(void *ctx, const uint8_t id[static 32]);

/* The stateful rules of tx's kind (docs/protocol.md §3) against the committed state, as
 * for the next block: IOLM_OK, or the rule's error when it is final (above). For
 * admission to the mempool, so that what no block will take is refused with its reason
 * at once instead of waiting for good. The common rules (fee, nonce, balance) are the
 * mempool's; the signature is not checked.
 * A task, work or parent the transaction names that is not committed yet is another
 * matter: a later block may commit it. With pending NULL that is IOLM_OK; otherwise it is
 * IOLM_OK only when pending(pctx, id) says the transaction creating it (whose id is the
 * object's) is waiting too, and else IOLM_ELEDGER_NOTASK, NOWORK or NOPARENT: a node
 * does not keep, free of charge, what names an object it has never seen. */
int ledger_tx_check(ledger *l, const ledger_tx *tx, ledger_pending_fn pending,
		    void *pctx) IOLM_WUR;

/* Build the next block as its proposer: execute the candidates (encoded Txs) in order on
 * top of the head, leaving out any that fails (and the same sender's later ones, whose
 * nonces would no longer follow), up to the genesis block limits; then fill the header
 * (height, time_ms, prev id, last commit hash, tx root, state root, validators hash,
 * proposer) and append the encoded Block to out. last_cert: the encoded CommitCert of the
 * head block (NULL at height 1). Nothing is committed; the execution is kept for the
 * block's commit, as ledger_block_check keeps it. */
int ledger_block_build(ledger *l, iolm_buf *out, const uint8_t (*const *cands),
		       const size_t *cand_lens, size_t n_cands, uint64_t time_ms,
		       const uint8_t proposer[static 32], const uint8_t *last_cert,
		       size_t last_cert_len, ledger_sigcache *cache, ledger_reject_fn reject,
		       void *rctx) IOLM_WUR;

/* Check that block is a valid next block: every rule of docs/protocol.md, every
 * transaction, and that its state root is the one executing it gives. Commits nothing.
 * The certificate inside (last_commit) must already have been verified by consensus; the
 * ledger checks that it names the head block.
 *
 * A valid block's execution is kept (as is that of the block ledger_block_build made
 * last): committing the same bytes next does not execute it again, and checking them
 * again returns at once. The kept execution is an open LMDB write transaction, so it
 * holds the environment's writer lock (other processes' writers and mdb_copy wait) until
 * the block is committed, another block is checked, built or committed, or
 * ledger_release_prepared() lets it go. */
int ledger_block_check(ledger *l, const uint8_t *block, size_t len,
		       ledger_sigcache *cache) IOLM_WUR;

/* Drop the kept execution of the last checked or built block (see ledger_block_check)
 * when it was kept at least older_than_ms ago (0: now). Its commit will execute it. */
void ledger_release_prepared(ledger *l, uint64_t older_than_ms);

/* Check and commit block with cert, the encoded CommitCert certifying it, in one LMDB
 * write transaction. The block id is written to id (may be NULL). */
int ledger_block_commit(ledger *l, const uint8_t *block, size_t len, const uint8_t *cert,
			size_t cert_len, ledger_sigcache *cache, uint8_t id[32]) IOLM_WUR;

/* A block and the encoded CommitCert certifying it. */
typedef struct ledger_block_in {
	const uint8_t *block;
	size_t len;
	const uint8_t *cert;
	size_t cert_len;
} ledger_block_in;

/* Check and commit n consecutive blocks in one LMDB write transaction (one sync: how a
 * node catching up applies a batch of synced blocks). Each block is checked as by
 * ledger_block_commit, in order; ids[i] gets block i's id. *done is the number committed:
 * all n on success; on a refused block, the blocks before it are committed and its error
 * is returned. */
int ledger_block_commit_many(ledger *l, const ledger_block_in *in, size_t n,
			     ledger_sigcache *cache, uint8_t (*ids)[32], size_t *done) IOLM_WUR;

/* Where the time of the last successful ledger_block_commit went (for /metrics and the
 * benchmarks): executing the transactions, updating the state map, and writing and
 * syncing the LMDB transaction. For a block whose execution was kept (checked or built
 * before, see ledger_block_check) exec_ns and root_ns are those of that execution. */
typedef struct ledger_commit_stats {
	uint64_t txs;
	uint64_t exec_ns;   /* decoding, signature checks, applying transactions */
	uint64_t root_ns;   /* the state map update and root */
	uint64_t write_ns;  /* storing block, certificate, head; LMDB commit (with fsync) */
	uint64_t total_ns;
} ledger_commit_stats;

void ledger_get_commit_stats(const ledger *l, ledger_commit_stats *out);

/* Recompute the state root from every state record (not from the tree) and compare it
 * with the stored one, and check the supply invariant by summing every balance and
 * escrow. For tests and `iolmd check`: O(state). */
int ledger_verify_state(ledger *l) IOLM_WUR;

#endif
