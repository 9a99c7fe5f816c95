/* Ledger internals shared by its source files. Not part of the public API. */
#ifndef IOLM_LEDGER_INTERNAL_H
#define IOLM_LEDGER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "core/buf.h"
#include "core/codec.h"
#include "ledger/ledger.h"
#include "ledger/eob.h"
#include "ledger/smt.h"

struct ledger_alloc {
	uint8_t id[IOLM_ADDR_LEN];
	uint64_t amount;
};

struct ledger_genesis {
	char chain_id[LEDGER_MAX_CHAIN_ID + 1];
	uint64_t time_ms;
	ledger_params params;
	ledger_validator *validators;
	size_t n_validators;
	struct ledger_alloc *allocs;
	size_t n_allocs;
	uint64_t supply; /* sum of allocations */
	uint8_t hash[32];
};

/* The last block checked or built, still executed and uncommitted in its own write
 * transaction, so that its commit only adds the block, the certificate and the head
 * (ledger/block.c, "Prepared blocks"). txn == NULL: none. */
struct ledger_prep {
	MDB_txn *txn;
	uint8_t *block;              /* a copy of its bytes, to recognise it */
	size_t len, cap;
	uint8_t id[32], root[32];
	uint64_t height, time_ms;
	uint64_t since_ns;           /* when it was kept (iolm_clock_mono_ns) */
	ledger_commit_stats st;      /* its execution: txs, exec_ns, root_ns */
};

struct ledger {
	MDB_env *env;
	ledger_rules rules;          /* end-of-block rules (consensus), or none */
	MDB_dbi meta, state, smt, blocks, blockid, certs, txidx, receipts;
	MDB_dbi history, histsum, tasklist; /* non-consensus indexes (ledger/history.c) */
	int keep_history;            /* account history kept (history, histsum) */
	const ledger_genesis *g;
	uint8_t valset_hash[32];
	ledger_commit_stats stats;   /* of the last commit */
	uint64_t root_ns;            /* time spent in exec_finish by the last execute() */
	struct ledger_prep prep;
};

/* Abort the prepared block's transaction, if any (ledger/block.c); before any other write
 * transaction begins, and at close. */
void ledger_prep_drop(ledger *l);

/* Raw state keys: a kind byte, then the object's id (docs/protocol.md, "State"). */
enum state_kind {
	SK_ACCOUNT = LEDGER_SK_ACCOUNT, /* || account id (20) -> Account */
	SK_TASK = LEDGER_SK_TASK, /* || task id (32) -> TaskState */
	SK_WORK = LEDGER_SK_WORK, /* || work id (32) -> WorkState */
	SK_SUPPLY = 0x04,  /* (no id)            -> Supply */
	SK_ATTEST = 0x05,  /* || work id || validator (4 BE) -> AttestRecord */
	SK_PENDING = 0x06, /* || commit height (8 BE) || index (4 BE) || work id -> 0x01 */
	SK_SHARE = LEDGER_SK_SHARE, /* || task id || account id -> ShareRecord */
	SK_REVENUE = 0x08, /* || task id -> 0x01: revenue to distribute this block */
	SK_REWARDS = LEDGER_SK_REWARDS, /* || account id -> Rewards */
};
#define STATE_KEY_MAX 53

/* A block (or genesis) being executed inside one LMDB write transaction. */
struct exec {
	ledger *l;
	MDB_txn *txn;
	uint64_t height;
	uint64_t time_ms;            /* the block's header time */
	/* raw keys written, to update the state map once at the end */
	uint8_t (*touched)[STATE_KEY_MAX + 1]; /* [0] = length */
	size_t n_touched, cap_touched;
	Iolm__Supply supply;
	uint64_t fees; /* collected in this block, paid out at its end */
	uint32_t hist_seq; /* history entries written in this block so far */
	/* the block's history entries (ledger/history.c), written in key order, and their
	 * accounts' totals updated once each, by hist_flush at the end of the block */
	struct hist_pending *hist;
	size_t n_hist, cap_hist;
};

int ledger_lmdb_err(int rc);

/* ---- state.c: typed records inside an exec */
void state_key_account(uint8_t *key, size_t *len, const uint8_t id[static IOLM_ADDR_LEN]);

int exec_begin(struct exec *x, ledger *l, MDB_txn *txn, uint64_t height) IOLM_WUR;
void exec_release(struct exec *x);
/* Write the touched records into the state map and the supply record; root out. */
int exec_finish(struct exec *x, uint8_t root[static 32]) IOLM_WUR;

int state_get_raw(struct exec *x, const uint8_t *key, size_t klen, MDB_val *val) IOLM_WUR;
int state_put_msg(struct exec *x, const uint8_t *key, size_t klen,
		  const ProtobufCMessage *msg) IOLM_WUR;
int state_get_account(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN],
		      uint64_t *balance, uint64_t *nonce) IOLM_WUR;
int state_put_account(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN], uint64_t balance,
		      uint64_t nonce) IOLM_WUR;
int state_credit(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN],
		 uint64_t amount) IOLM_WUR;
/* Decoded task/work; caller frees with iolm_codec_free. IOLM_ENOTFOUND when absent. */
int state_get_task(struct exec *x, const uint8_t id[static 32], Iolm__TaskState **out) IOLM_WUR;
int state_put_task(struct exec *x, const uint8_t id[static 32],
		   const Iolm__TaskState *t) IOLM_WUR;
int state_get_work(struct exec *x, const uint8_t id[static 32], Iolm__WorkState **out) IOLM_WUR;
int state_put_work(struct exec *x, const uint8_t id[static 32],
		   const Iolm__WorkState *w) IOLM_WUR;
int state_load_supply(struct exec *x) IOLM_WUR;
int state_del(struct exec *x, const uint8_t *key, size_t klen) IOLM_WUR;
/* Record that key was written directly (mdb_put), so the state map picks it up. */
int state_touch_key(struct exec *x, const uint8_t *key, size_t klen) IOLM_WUR;
/* Raw keys (and values) of the records whose key starts with prefix, in key order. The
 * callback's pointers are valid during the call only. Collect first, then change. */
int state_scan(struct exec *x, const uint8_t *prefix, size_t plen,
	       int (*fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
			 size_t vlen),
	       void *ctx) IOLM_WUR;

/* ---- apply.c: one transaction (signature already checked) against the state; writes its
 * receipt and its tx index entry (position index in the block). */
int apply_tx(struct exec *x, const ledger_tx *tx, uint32_t index) IOLM_WUR;
/* End of block: pay out fees (and the subsidy) to the signers of last_commit. */
int apply_end_block(struct exec *x, const uint8_t proposer[static 32],
		    const Iolm__CommitCert *last_commit) IOLM_WUR;
/* Genesis allocations. */
int apply_genesis(struct exec *x) IOLM_WUR;


/* ---- history.c: the account history and task list, in the block's write transaction */

/* What an entry refers to; each pointer may be NULL (object and task: 32 bytes). */
struct hist_ref {
	const uint8_t *object_id, *task_id, *counterparty;
};

/* One history entry for account (skipped when amount is 0), and its totals. */
int hist_add(struct exec *x, const uint8_t account[static IOLM_ADDR_LEN],
	     enum ledger_hist_kind kind, uint64_t amount, const struct hist_ref *ref) IOLM_WUR;
/* The entries of an applied transaction (its kind's, then its fee) and, for a
 * task_create at position index, its task list entry. */
int hist_tx(struct exec *x, const ledger_tx *tx, uint32_t index) IOLM_WUR;
/* Write the block's history entries in key order and add them to their accounts'
 * totals (histsum), reading and writing each account's once; call after the block's
 * last hist_add, before it is committed. */
int hist_flush(struct exec *x) IOLM_WUR;

/* ---- eob.c */
void pending_key(uint8_t key[static 45], uint64_t height, uint32_t index,
		 const uint8_t id[static 32]);

/* ---- ledger.c */
int meta_get_head(ledger *l, MDB_txn *txn, Iolm__ChainHead **out) IOLM_WUR;
void ledger_valset_hash(uint8_t out[static 32], const ledger_genesis *g);

#endif
