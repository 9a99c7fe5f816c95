/* GET /metrics: the node's own figures, after the RPC's (docs/operator.md "Metrics"):
 * verification, what a validator keeps, the artifact store and its transfers, and the
 * commit path. */
#include <stdio.h>
#include <string.h>

#include "node/node_int.h"

void node_write_metrics(void *ctx, iolm_buf *out)
{
	struct node *n = ctx;
	node_verifier_stats vs = { 0 };
	node_kept_stats ks;
	art_store_stats as = { 0 };
	if (n->verifier)
		node_verifier_get_stats(n->verifier, &vs);
	node_kept_get_stats(n->kept, &ks);
	if (n->art && art_store_get_stats(n->art, &as))
		memset(&as, 0, sizeof as);
	int e2 = iolm_buf_printf(
		out,
		"# HELP iolm_verify_waiting Work commits waiting for their challenge block.\n"
		"# TYPE iolm_verify_waiting gauge\niolm_verify_waiting %zu\n"
		"# HELP iolm_verify_queue_works Works seeded and waiting for re-execution.\n"
		"# TYPE iolm_verify_queue_works gauge\niolm_verify_queue_works %zu\n"
		"# HELP iolm_verified_works_total Works this validator re-executed, by verdict.\n"
		"# TYPE iolm_verified_works_total counter\n"
		"iolm_verified_works_total{verdict=\"valid\"} %llu\n"
		"iolm_verified_works_total{verdict=\"invalid\"} %llu\n"
		"# HELP iolm_verify_unavailable_total Works whose miner did not serve its checkpoints.\n"
		"# TYPE iolm_verify_unavailable_total counter\niolm_verify_unavailable_total %llu\n"
		"# HELP iolm_verify_cpu_seconds_total CPU time spent re-executing work.\n"
		"# TYPE iolm_verify_cpu_seconds_total counter\niolm_verify_cpu_seconds_total %.3f\n"
		"# HELP iolm_verify_checkpoints_kept_total Final checkpoints of valid works added "
		"to the artifact store.\n"
		"# TYPE iolm_verify_checkpoints_kept_total counter\n"
		"iolm_verify_checkpoints_kept_total %llu\n"
		"# HELP iolm_checkpoints_kept Checkpoints kept: of works still pending, and of "
		"tasks' best models (pinned).\n"
		"# TYPE iolm_checkpoints_kept gauge\n"
		"iolm_checkpoints_kept{work=\"pending\"} %zu\n"
		"iolm_checkpoints_kept{work=\"best\"} %zu\n"
		"# HELP iolm_checkpoints_removed_total Kept checkpoints removed once their works "
		"were decided (or replaced as best).\n"
		"# TYPE iolm_checkpoints_removed_total counter\n"
		"iolm_checkpoints_removed_total %llu\n"
		"# HELP iolm_task_data_kept Data sets fetched for tasks and kept (pinned) while "
		"the tasks are open, one per task naming each.\n"
		"# TYPE iolm_task_data_kept gauge\niolm_task_data_kept %zu\n"
		"# HELP iolm_task_data_removed_total Data sets removed once every task that "
		"named them was closed.\n"
		"# TYPE iolm_task_data_removed_total counter\niolm_task_data_removed_total %llu\n"
		"# HELP iolm_artifact_bytes Bytes of artifact chunks stored.\n"
		"# TYPE iolm_artifact_bytes gauge\niolm_artifact_bytes %llu\n"
		"# HELP iolm_artifacts Artifacts stored.\n"
		"# TYPE iolm_artifacts gauge\niolm_artifacts %llu\n"
		"# HELP iolm_artifacts_pinned Artifacts stored and pinned (kept by gc).\n"
		"# TYPE iolm_artifacts_pinned gauge\niolm_artifacts_pinned %llu\n"
		"# HELP iolm_artifact_unreferenced_chunks Stored chunks no artifact references "
		"(waiting for gc).\n"
		"# TYPE iolm_artifact_unreferenced_chunks gauge\n"
		"iolm_artifact_unreferenced_chunks %llu\n",
		vs.waiting, vs.queued, (unsigned long long)vs.valid, (unsigned long long)vs.invalid,
		(unsigned long long)vs.unavailable, vs.cpu_s, (unsigned long long)vs.kept,
		ks.pending, ks.best, (unsigned long long)ks.removed, ks.data,
		(unsigned long long)ks.data_removed,
		(unsigned long long)as.bytes,
		(unsigned long long)as.artifacts, (unsigned long long)as.pinned,
		(unsigned long long)as.unreferenced);
	(void)e2;
	int err = iolm_buf_printf(
		out,
		"# HELP iolm_committed_txs_total Transactions committed since start.\n"
		"# TYPE iolm_committed_txs_total counter\niolm_committed_txs_total %llu\n"
		"# HELP iolm_committed_blocks_total Blocks committed since start.\n"
		"# TYPE iolm_committed_blocks_total counter\niolm_committed_blocks_total %llu\n"
		"# HELP iolm_synced_blocks_total Blocks committed through block sync.\n"
		"# TYPE iolm_synced_blocks_total counter\niolm_synced_blocks_total %llu\n"
		"# HELP iolm_committed_tx_per_second Committed transactions per second, last window.\n"
		"# TYPE iolm_committed_tx_per_second gauge\niolm_committed_tx_per_second %.3f\n"
		"# HELP iolm_proposal_rejected_txs_total Candidates left out of our proposals.\n"
		"# TYPE iolm_proposal_rejected_txs_total counter\niolm_proposal_rejected_txs_total %llu\n"
		"# HELP iolm_mempool_dropped_total Transactions dropped from the mempool unincluded: "
		"left out of our proposal for a reason every later block shares (final), or "
		"pending past mempool_ttl_blocks with the sender's later ones (expired), displaced "
		"in a full mempool by a transaction the next block could take, from behind a "
		"nonce gap or paying less (evicted).\n"
		"# TYPE iolm_mempool_dropped_total counter\n"
		"iolm_mempool_dropped_total{reason=\"final\"} %llu\n"
		"iolm_mempool_dropped_total{reason=\"expired\"} %llu\n"
		"iolm_mempool_dropped_total{reason=\"evicted\"} %llu\n"
		"# HELP iolm_validator Whether this node is in the validator set.\n"
		"# TYPE iolm_validator gauge\niolm_validator %d\n"
		"# HELP iolm_verify_queue Gossiped transactions waiting for signature checks.\n"
		"# TYPE iolm_verify_queue gauge\niolm_verify_queue %zu\n"
		"# HELP iolm_evidence_total Equivocations (conflicting signed votes) seen.\n"
		"# TYPE iolm_evidence_total counter\niolm_evidence_total %zu\n",
		(unsigned long long)n->txs_committed, (unsigned long long)n->blocks_committed,
		(unsigned long long)n->blocks_synced, n->tx_per_s,
		(unsigned long long)n->txs_rejected, (unsigned long long)n->txs_dropped,
		(unsigned long long)ledger_mempool_expired(n->mp),
		(unsigned long long)ledger_mempool_evicted(n->mp), n->val_index >= 0,
		node_vpool_pending(n->vpool), cons_engine_evidence_count(n->eng));
	(void)err; /* a truncated metrics page is still a valid page */
	if (!n->artnet)
		return;
	art_xfer_stats xs;
	node_art_net_get_stats(n->artnet, &xs);
	err = iolm_buf_printf(
		out,
		"# HELP iolm_artifact_transfer_bytes_total Artifact chunk bytes verified and stored "
		"from peers, and served to peers.\n"
		"# TYPE iolm_artifact_transfer_bytes_total counter\n"
		"iolm_artifact_transfer_bytes_total{direction=\"received\"} %llu\n"
		"iolm_artifact_transfer_bytes_total{direction=\"served\"} %llu\n"
		"# HELP iolm_artifact_transfer_events_total Blocks refused as corrupt, requests "
		"that timed out, requests moved from a much slower peer, wants dropped past a "
		"serving queue, store errors.\n"
		"# TYPE iolm_artifact_transfer_events_total counter\n"
		"iolm_artifact_transfer_events_total{event=\"corrupt\"} %llu\n"
		"iolm_artifact_transfer_events_total{event=\"timeout\"} %llu\n"
		"iolm_artifact_transfer_events_total{event=\"stolen\"} %llu\n"
		"iolm_artifact_transfer_events_total{event=\"want_dropped\"} %llu\n"
		"iolm_artifact_transfer_events_total{event=\"store_error\"} %llu\n"
		"# HELP iolm_artifact_verifying Received chunks being hashed and stored.\n"
		"# TYPE iolm_artifact_verifying gauge\niolm_artifact_verifying %llu\n",
		(unsigned long long)xs.bytes_received, (unsigned long long)xs.bytes_served,
		(unsigned long long)xs.corrupt, (unsigned long long)xs.timeouts,
		(unsigned long long)xs.stolen, (unsigned long long)xs.wants_dropped, (unsigned long long)xs.store_errors,
		(unsigned long long)xs.verifying);
	(void)err;
}
