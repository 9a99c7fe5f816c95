/* The final checkpoints a validator keeps (docs/artifacts.md "Checkpoints"), and the task
 * data sets it fetched (docs/artifacts.md "Task data sets").
 *
 * The verifier adds the final checkpoint of each work it finds valid to the artifact
 * store, pinned (so the collector leaves it while the work is pending), and hands it
 * here (node_kept_add). It then waits for its work's decision, looked up in the ledger
 * after every commit (node_kept_settle):
 *   - the work is its task's best model: the checkpoint stays pinned, and the one kept
 *     for the task's previous best is unpinned and removed;
 *   - otherwise (rejected, slashed, or accepted without beating the best) it is
 *     unpinned and removed.
 * A checkpoint another entry still names (two works committing the same file) is never
 * removed. So a validator holds one checkpoint per task, plus those of pending works.
 *
 * The data sets the node fetched (pinned) for a task are listed too (node_kept_data),
 * with the task's deadline height. Once the task is closed, past its deadline with every
 * work decided (the head's block time more than attest_timeout_ms past the deadline
 * block's), each is unpinned and removed unless an open task still names it. A task
 * without a deadline is never closed: its data sets stay.
 *
 * The entries are written to a file, rewritten whole and atomically on every change, so
 * a restart goes on where the node stopped (the bests are pinned again at open, which
 * changes nothing when they were). A removal decided just before a crash may not have
 * run: that checkpoint stays, pinned; so does every pending one and every data set of a
 * list found damaged (the log names the file; unpin them through the RPC).
 *
 * Pins and removals run in order on a thread of this module: a removal waits for adds
 * in progress (art_store_remove), which the event loop must not. Everything else is on
 * the loop thread. */
#ifndef IOLM_NODE_KEPT_H
#define IOLM_NODE_KEPT_H

#include <stdint.h>

#include "artifacts/art.h"
#include "core/err.h"
#include "ledger/ledger.h"

#define NODE_KEPT_PENDING_MAX 1024u /* beyond: the oldest pending one is unpinned, for gc */

typedef struct node_kept node_kept;

/* Open the list stored at path (a missing file is an empty list; a damaged one is
 * logged and replaced; one that cannot be read is IOLM_EIO), over ledger l and store s,
 * which must outlive it. */
int node_kept_open(node_kept **out, const char *path, ledger *l, art_store *s) IOLM_WUR;
/* The list stored at path, only to read (node_kept_why): no ledger, no store, nothing
 * settled or run (iolmd art list, beside a node or without one). A missing file is an
 * empty list; IOLM_EIO for one that cannot be read, IOLM_EDECODE for a damaged one. */
int node_kept_read(node_kept **out, const char *path) IOLM_WUR;
/* Run the store operations still queued, then free everything. NULL is a no-op. */
void node_kept_close(node_kept *k);

/* The verifier stored checkpoint ckpt, the final one of work: settled at once when the
 * work is decided already, else at a later commit. */
void node_kept_add(node_kept *k, const uint8_t work[static 32],
		   const uint8_t ckpt[static ART_ID_LEN]);
/* The node needs data set `data` for task `task` (deadline: the task's deadline height,
 * 0 for none): listed when fetching (the node started a pinned fetch of it) or when
 * another task's entry names it already; otherwise the store held it before (an
 * operator's add), and it is not this list's to release. */
void node_kept_data(node_kept *k, const uint8_t task[static 32],
		    const uint8_t data[static ART_ID_LEN], uint64_t deadline, int fetching);
/* After a commit: settle the entries whose works were decided, and release the data sets
 * of tasks closed since. */
void node_kept_settle(node_kept *k);

/* Why the list keeps artifact id: "best_model" (its task's best; owner the task),
 * "pending_work" (a work not decided yet; owner the work) or "data_set" (a data set of
 * a task not closed yet; owner that task, the first listed); NULL when it keeps nothing
 * of that id. */
const char *node_kept_why(const node_kept *k, const uint8_t id[static ART_ID_LEN],
			  uint8_t owner[static 32]);

typedef struct node_kept_stats {
	size_t pending;              /* checkpoints of works not decided yet */
	size_t best;                 /* tasks with a best model's checkpoint pinned */
	uint64_t removed;            /* checkpoints removed since open */
	size_t data;                 /* (task, data set) pairs kept for open tasks */
	uint64_t data_removed;       /* data sets removed since open */
} node_kept_stats;
void node_kept_get_stats(node_kept *k, node_kept_stats *out);

#endif
