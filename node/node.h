/* iolmd: one node. Owns the event loop and everything that does I/O around the pure
 * parts: the ledger (LMDB), the consensus engine and its signing WAL, the mempool, the
 * P2P transport and the RPC server (docs/operator.md).
 *
 * Data directory layout:
 *   node.conf     configuration (node_config_load)
 *   genesis.json  the chain's genesis document
 *   node.key      this node's key: P2P identity and, if in the genesis set, validator key
 *   ledger/       LMDB environment (ledger/ledger.h)
 *   cons.wal      consensus signing WAL (consensus/wal.h)
 *   rpc.cookie    token for RPC write calls, recreated at every start (mode 0600) */
#ifndef IOLM_NODE_NODE_H
#define IOLM_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"

#define NODE_MAX_PEERS_CONF 64

typedef struct node_config {
	char dir[1024];
	char p2p_host[64];
	uint16_t p2p_port;
	char rpc_host[64];
	uint16_t rpc_port;
	char *peers[NODE_MAX_PEERS_CONF];
	size_t n_peers;
	uint32_t heartbeat_ms;     /* an empty block at most this often when idle */
	uint32_t propose_ms, propose_delta_ms;
	uint32_t vote_ms, vote_delta_ms;
	size_t mempool_max_txs;
	size_t mempool_max_bytes;
	uint32_t mempool_ttl_blocks; /* pending longer than this many blocks: dropped; 0 never */
	size_t map_size_mb;        /* LMDB map size */
	uint32_t art_peer_kib_s;   /* artifact bytes served to one peer, KiB/s; 0: unlimited */
	uint32_t art_global_kib_s; /* artifact bytes served to all peers, KiB/s; 0: unlimited */
	uint32_t art_window;       /* most artifact chunk requests in flight to a peer (1..256) */
	uint32_t art_keep_mb;      /* collect unpinned artifacts above this many MiB; 0: never */
	int art_keep_checkpoints;  /* a validator keeps verified final checkpoints (default 1) */
	uint32_t rpc_public_downloads; /* artifact content read without the cookie, at most this
				      * many at once; 0 (default): the cookie is required */
	int history_index;         /* keep account history for wallets (default 1) */
	enum iolm_log_level log_level;
	enum iolm_log_format log_format;
} node_config;

/* Defaults for a data directory (docs/operator.md lists them). */
void node_config_default(node_config *c, const char *dir);
/* Read <dir>/node.conf over the defaults: "key = value" lines, '#' comments. An unknown
 * key or a bad value is IOLM_EINVAL with a sentence in err naming the line. */
int node_config_load(node_config *c, const char *dir, char *err, size_t errlen) IOLM_WUR;
/* The same from text already in memory (len bytes, at most 1 MiB); `source` names it in
 * error messages. */
int node_config_parse(node_config *c, const char *dir, const char *text, size_t len,
		      const char *source, char *err, size_t errlen) IOLM_WUR;
/* Write c as <dir>/node.conf. */
int node_config_save(const node_config *c) IOLM_WUR;
void node_config_release(node_config *c);

/* Run the node in the foreground until SIGINT or SIGTERM. Returns IOLM_OK after a clean
 * shutdown, or the error that stopped it. */
int node_run(const node_config *c) IOLM_WUR;

#endif
