/* End-of-block rules: the hook through which consensus/ runs the joint-mining rules
 * (work acceptance, slashing, breakthroughs, profit shares, revenue) inside the block's
 * LMDB transaction, after the block's transactions and before its fees are paid out.
 *
 * The ledger owns the state and its encoding; the rules (consensus/mining.c) own the
 * economics. This header is the contract between them: a handle to the block being
 * executed and the state operations the rules may use. Every operation keeps the state
 * map and the Supply record consistent; amounts move with checked arithmetic. A rule that
 * returns an error makes the whole block invalid, exactly like an invalid transaction.
 *
 * Every node must run the same rules: iolmd installs consensus's (ledger_options.rules).
 * A ledger opened without rules (tests of the ledger alone) executes a different chain. */
#ifndef IOLM_LEDGER_EOB_H
#define IOLM_LEDGER_EOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"
#include "proto/iolm.pb-c.h"

typedef struct exec ledger_eob; /* the block being executed; valid during the hook only */

typedef struct ledger_rules {
	/* Called once at the end of every block. */
	int (*end_block)(void *ctx, ledger_eob *eob);
	void *ctx;
} ledger_rules;

/* Height and header time of the block being executed, and the genesis it runs under. */
uint64_t ledger_eob_height(const ledger_eob *e);
uint64_t ledger_eob_time_ms(const ledger_eob *e);
const struct ledger_genesis *ledger_eob_genesis(const ledger_eob *e);
uint64_t ledger_eob_total_power(const ledger_eob *e);

/* Pending works in commit order (commit height, then position in the block): a malloc'd
 * array of ids the caller frees, count in *n. */
int ledger_eob_pending(ledger_eob *e, uint8_t (**ids)[32], size_t *n) IOLM_WUR;

/* Decoded records; the caller frees them with iolm_codec_free. IOLM_ENOTFOUND if absent. */
int ledger_eob_get_work(ledger_eob *e, const uint8_t id[static 32],
			Iolm__WorkState **out) IOLM_WUR;
int ledger_eob_get_task(ledger_eob *e, const uint8_t id[static 32],
			Iolm__TaskState **out) IOLM_WUR;
int ledger_eob_put_work(ledger_eob *e, const uint8_t id[static 32],
			const Iolm__WorkState *w) IOLM_WUR;
int ledger_eob_put_task(ledger_eob *e, const uint8_t id[static 32],
			const Iolm__TaskState *t) IOLM_WUR;

/* A work left WORK_PENDING: drop it from the pending index. */
int ledger_eob_unpend(ledger_eob *e, const Iolm__WorkState *w,
		      const uint8_t id[static 32]) IOLM_WUR;

/* Money out of escrow: to an account (credit), or destroyed (burn). Both lower
 * Supply.escrowed; burn raises Supply.burned. */
int ledger_eob_release(ledger_eob *e, const uint8_t account[static IOLM_ADDR_LEN],
		       uint64_t amount) IOLM_WUR;
int ledger_eob_burn(ledger_eob *e, uint64_t amount) IOLM_WUR;

/* Per-account reward totals (Rewards record), for RPC and wallets. */
enum ledger_reward_kind {
	LEDGER_REWARD_BREAKTHROUGH,
	LEDGER_REWARD_REVENUE,
	LEDGER_REWARD_BOND_RETURNED,
	LEDGER_REWARD_SLASHED,
	LEDGER_REWARD_VALIDATOR,     /* subsidy and fees (ledger/apply.c, not the rules) */
};

/* A reward and what it is for, as the account history shows it (docs/protocol.md §6):
 * the work or task (object_id) and the task, each 32 bytes or NULL. */
typedef struct ledger_reward {
	enum ledger_reward_kind kind;
	const uint8_t *object_id;
	const uint8_t *task_id;
} ledger_reward;

/* Add amount to the account's Rewards record and write its history entry. Amount 0 is
 * a no-op. Moves no money: pair it with the release, burn or credit it describes. */
int ledger_eob_add_reward(ledger_eob *e, const uint8_t account[static IOLM_ADDR_LEN],
			  const ledger_reward *why, uint64_t amount) IOLM_WUR;

/* Profit shares of a task: replace them all (accounts[i] gets credits[i]; accounts
 * distinct), or read them in account order (malloc'd arrays the caller frees). */
int ledger_eob_set_shares(ledger_eob *e, const uint8_t task[static 32],
			  const uint8_t (*accounts)[IOLM_ADDR_LEN], const uint64_t *credits,
			  size_t n) IOLM_WUR;
int ledger_eob_get_shares(ledger_eob *e, const uint8_t task[static 32],
			  uint8_t (**accounts)[IOLM_ADDR_LEN], uint64_t **credits,
			  size_t *n) IOLM_WUR;

/* Tasks that received model_pay revenue since the last end of block; the list is emptied
 * by the call (the rules distribute the revenue now). malloc'd; caller frees. */
int ledger_eob_take_revenue_tasks(ledger_eob *e, uint8_t (**tasks)[32], size_t *n) IOLM_WUR;

#endif
