/* The verifier worker: what a validator does with committed work claims
 * (docs/economics.md §2).
 *
 * For every work_commit in a committed block at height h, once block h + 1 is committed
 * its id seeds the challenge: seed = H_challenge(block id at h + 1 || work id). A worker
 * thread (off the consensus loop) then fetches the claim and the sampled checkpoints from
 * the miner's endpoint (GET {endpoint}/claim/{work} and /ckpt/{work}/{step}), reads the
 * task's training and eval sets from the node's artifact store, re-executes the sampled
 * segments on the CPU (compute_verify) and hands the verdict back to the loop, which
 * signs an attest transaction with the validator key and gossips it. A miner that does
 * not serve its checkpoints before the attestation deadline is attested invalid. The
 * task's data sets are asked for (need_data) when a task is created and when a work for
 * it is committed; a job whose data sets are not (yet) whole in the store is tried again
 * until shortly before its deadline, and a validator that still lacks them then cannot
 * judge and does not attest. The final checkpoint of a valid work can be kept in the
 * artifact store (keep_checkpoints), so the model outlives its miner's server. The data
 * sets are read from the store into memory, chunk by verified chunk (art_store_read):
 * work_dir holds only the works being verified, and what a previous run left there is
 * removed at create. At create it also takes up the works still pending on chain that
 * this validator has not attested (validator_index): a restart dropped their jobs. */
#ifndef IOLM_NODE_VERIFIER_H
#define IOLM_NODE_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "artifacts/art.h"
#include "core/err.h"
#include "core/key.h"
#include "ledger/ledger.h"

typedef struct node_verifier node_verifier;

/* A verdict, delivered on the loop thread. */
typedef void (*node_verifier_done_fn)(void *ctx, const uint8_t work[static 32], int valid,
				      uint64_t eval_loss, const uint32_t *segments,
				      size_t nseg, double cpu_s, int reason);

typedef struct node_verifier_config {
	const char *work_dir;        /* scratch space for fetched checkpoints */
	ledger *ledger;              /* read-only use from the worker thread */
	art_store *art;              /* the task data sets */
	unsigned threads;            /* CPU threads for re-execution (>= 1) */
	int validator_index;         /* this validator's in the genesis set (-1: unknown): at
				      * create, the works still pending that it has not attested
				      * are verified again (a restart lost them) */
	node_verifier_done_fn done;
	/* Optional, on the loop thread: task (whose deadline height is deadline, 0 for
	 * none) names data set id, which the node should have whole (the node fetches it
	 * from its peers when it does not). */
	void (*need_data)(void *ctx, const uint8_t task[static 32],
			  const uint8_t id[static LEDGER_ARTIFACT_ID_LEN], uint64_t deadline);
	/* With art and keep_checkpoints set, the final checkpoint of a work found valid is
	 * added to the store (pinned, kind checkpoint) after its verdict is delivered; then
	 * kept (optional) is called on the loop thread with the work and the artifact id (the
	 * work's committed checkpoint_id), so the node can announce and pin it. */
	int keep_checkpoints;
	void (*kept)(void *ctx, const uint8_t work[static 32],
		     const uint8_t ckpt_id[static ART_ID_LEN]);
	void *ctx;
} node_verifier_config;

int node_verifier_create(node_verifier **out, struct event_base *base,
			 const node_verifier_config *cfg) IOLM_WUR;
/* Stop the worker (an ongoing verification is abandoned) and free everything. */
void node_verifier_destroy(node_verifier *v);

/* A block was committed (loop thread): schedule its work commits, seed the works
 * committed in the block before. */
void node_verifier_on_commit(node_verifier *v, uint64_t height,
			     const uint8_t block_id[static 32], const uint8_t *block,
			     size_t len);

typedef struct node_verifier_stats {
	size_t waiting, queued;      /* for a seed / for the worker */
	uint64_t verified, valid, invalid, unavailable, skipped;
	uint64_t kept;               /* final checkpoints added to the store */
	double cpu_s;                /* total re-execution CPU time */
} node_verifier_stats;
void node_verifier_get_stats(node_verifier *v, node_verifier_stats *out);

#endif
