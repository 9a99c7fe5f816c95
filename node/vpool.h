/* Signature checks off the event loop: a small pool of worker threads that decode and
 * verify transactions arriving by gossip or POST /tx, so a flood of them never stalls
 * consensus messages on the loop. A verified id goes into the shared signature cache; the loop
 * then admits the transaction to the mempool without verifying it again. Results come
 * back on the loop thread, in the order the workers finish. */
#ifndef IOLM_NODE_VPOOL_H
#define IOLM_NODE_VPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/err.h"
#include "ledger/tx.h"

#define NODE_VPOOL_MAX_QUEUE 20000

typedef struct node_vpool node_vpool;

/* Called on the event-loop thread with the job's bytes (valid during the call), the
 * job's tag and token, and IOLM_OK or the decoding/signature error. */
typedef void (*node_vpool_done_fn)(void *ctx, const uint8_t *raw, size_t len,
				   const uint8_t tag[32], uint64_t token, int err);

/* threads workers (at least 1) for chain_id; cache must outlive the pool. */
int node_vpool_create(node_vpool **out, struct event_base *base, size_t threads,
		      const char *chain_id, ledger_sigcache *cache, node_vpool_done_fn done,
		      void *ctx) IOLM_WUR;
/* Stop the workers (finishing nothing further) and free everything. */
void node_vpool_destroy(node_vpool *p);

/* Queue raw (copied) with a 32-byte tag and a token the callback gets back. IOLM_ETOOBIG
 * past IOLM_MAX_TX_BYTES, IOLM_EMEMPOOL_FULL when NODE_VPOOL_MAX_QUEUE jobs wait. */
int node_vpool_submit(node_vpool *p, const uint8_t *raw, size_t len,
		      const uint8_t tag[static 32], uint64_t token) IOLM_WUR;

/* Jobs queued or being verified. */
size_t node_vpool_pending(node_vpool *p);

#endif
