/* Encrypted, authenticated peer-to-peer transport over libevent.
 *
 * Connection set-up (docs/p2p.md):
 *   1. Each side sends Hello {version, chain_id, node_key, kx_key (fresh X25519), listen
 *      port, agent, height} in the clear as a 4-byte big-endian length + the Hello bytes
 *      (at most IOLM_MAX_HANDSHAKE_BYTES).
 *   2. Session keys come from libsodium crypto_kx (the dialer is the client).
 *   3. transcript = H_handshake(dialer's Hello record || listener's Hello record), each
 *      record as it crossed the wire (length prefix and bytes); each side sends Auth
 *      {BIP340 signature of the transcript by its node key} as its first encrypted record
 *      (counter 0), and checks the other's against the Hello's node_key.
 *   A wrong chain id or version, a bad signature, a connection to ourselves or a banned
 *   key ends the connection. Two connections to the same node: the one dialled by the
 *   node with the smaller key is kept (both ends agree), the other closed.
 *   The whole handshake must finish within 5 s.
 * Frames after that: 4-byte big-endian length of the ciphertext, then
 * ChaCha20-Poly1305-IETF(tx key, nonce = 64-bit little-endian frame counter padded to 96
 * bits, no associated data, Frame bytes). A length past the cap is refused before the body
 * is read. A frame longer than the cap, one that fails authentication or that does not
 * decode as a canonical Frame (or sets no message) is misbehaviour: the peer's score rises
 * and the connection closes. Scores past the threshold ban the peer's key and address for
 * a while (loopback addresses are banned by key only, so one local process cannot cut a
 * local devnet off). A peer with more than 64 MiB queued for it is not reading: dropped.
 *
 * Gossip: every gossip frame (tx, proposal, vote, commit, evidence) received is hashed; one
 * already seen (received or sent) among the last 65536 is dropped before the callback, so
 * the node processes each gossip message once and relays it once. Point-to-point frames
 * (ping, pong, status, block and artifact requests/responses) are always delivered.
 * A Status frame also updates the peer's height before the callback.
 *
 * Peers from the configuration ("host:port" with a numeric IPv4 or [IPv6] host) are
 * dialled at start and redialled after a disconnect with exponential backoff (1 s
 * doubling to 60 s, ±25% jitter); an address that turns out to be this node is dropped.
 *
 * Everything runs on the caller's event_base thread; not thread-safe. Callbacks may send,
 * penalize and close peers, but must not destroy the node_p2p. The process must ignore
 * SIGPIPE (a write to a closed socket is an error, not a signal). */
#ifndef IOLM_NODE_P2P_H
#define IOLM_NODE_P2P_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/key.h"

#define NODE_P2P_VERSION 1

typedef struct node_p2p node_p2p;
typedef struct node_peer node_peer;

typedef struct node_p2p_config {
	const char *chain_id;
	const iolm_key *node_key;     /* identity; copied */
	const char *listen_host;      /* e.g. "127.0.0.1"; NULL: do not listen */
	uint16_t listen_port;         /* 0 with a host: pick a free port (see node_p2p_port) */
	const char *const *peers;     /* "host:port" to dial and keep dialling */
	size_t n_peers;
	size_t max_peers;             /* inbound + outbound; default 32 when 0 */
	size_t max_frame;             /* plaintext cap; default IOLM_MAX_FRAME_BYTES when 0 */
	uint32_t ban_threshold;       /* default 100 when 0 */
	uint32_t ban_seconds;         /* default 600 when 0 */
	const char *agent;            /* e.g. "iolmd/0.1" */
} node_p2p_config;

typedef struct node_p2p_callbacks {
	/* A peer finished the handshake. */
	void (*on_connect)(void *ctx, node_peer *peer);
	/* A peer is gone; the pointer is invalid after this returns. */
	void (*on_disconnect)(void *ctx, node_peer *peer);
	/* A new (not recently seen) frame: msg is decoded, raw its exact bytes; both valid
	 * only during the call. */
	void (*on_frame)(void *ctx, node_peer *peer, const Iolm__Frame *msg, const uint8_t *raw,
			 size_t len);
	void *ctx;
} node_p2p_callbacks;

/* Create on base (which must outlive it). Copies cfg and its strings. IOLM_EINVAL for a
 * missing chain id or key, a peer address that is not a numeric host:port, or max_frame
 * above IOLM_MAX_FRAME_BYTES. On failure *out is NULL. */
int node_p2p_create(node_p2p **out, struct event_base *base, const node_p2p_config *cfg,
		    const node_p2p_callbacks *cb) IOLM_WUR;
/* Listen and dial the configured peers. IOLM_EIO when the port cannot be bound. */
int node_p2p_start(node_p2p *p) IOLM_WUR;
/* Close every connection and free everything; on_disconnect is not called. NULL is a
 * no-op. */
void node_p2p_destroy(node_p2p *p);

/* The port actually listened on. */
uint16_t node_p2p_port(const node_p2p *p);

/* The height this node announces in its Hello (update as the chain grows). */
void node_p2p_set_height(node_p2p *p, uint64_t height);

/* Send msg to one peer / to every peer except `except` (may be NULL). A gossip frame is
 * marked as seen, so an echo from the network is dropped. IOLM_ETOOBIG past the cap,
 * IOLM_ESTATE when the peer is not connected. A peer whose output queue is over its limit
 * is disconnected (send answers IOLM_ENODE_SLOW; broadcast goes on with the others). */
int node_p2p_send(node_p2p *p, node_peer *peer, const Iolm__Frame *msg) IOLM_WUR;
int node_p2p_broadcast(node_p2p *p, const Iolm__Frame *msg, node_peer *except) IOLM_WUR;
/* Relay exact frame bytes received from `from` to every other peer. */
int node_p2p_relay(node_p2p *p, const uint8_t *raw, size_t len, node_peer *from) IOLM_WUR;

/* Forget that a received gossip frame was seen, so the next copy of it is delivered again:
 * for a message the node could not use yet (from a height it has not reached) and wants
 * to hear again when the sender repeats it. */
void node_p2p_forget(node_p2p *p, const uint8_t *raw, size_t len);

/* Misbehaviour: add points to the peer's score (and its address's); past the threshold
 * the peer is disconnected and banned. reason goes to the log. */
void node_p2p_penalize(node_p2p *p, node_peer *peer, uint32_t points, const char *reason);

size_t node_p2p_peer_count(const node_p2p *p);

/* Peer accessors; pointers valid while the peer is connected. */
const uint8_t *node_peer_key(const node_peer *peer);  /* 32-byte node key */
const char *node_peer_addr(const node_peer *peer);    /* "host:port" */
uint64_t node_peer_height(const node_peer *peer);     /* from Hello or Status */
void node_peer_set_height(node_peer *peer, uint64_t height);
int node_peer_outbound(const node_peer *peer);

/* Iterate: i-th connected peer, NULL past the end. */
node_peer *node_p2p_peer(node_p2p *p, size_t i);

/* Counters for /metrics. */
typedef struct node_p2p_stats {
	uint64_t frames_in, frames_out, bytes_in, bytes_out, dup_dropped;
	uint64_t bad_frames, bans, handshakes_failed;
} node_p2p_stats;
void node_p2p_get_stats(const node_p2p *p, node_p2p_stats *out);

#endif
