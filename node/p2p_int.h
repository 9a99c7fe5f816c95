/* Internals of the P2P transport, shared by node/p2p.c (connections, dialling, API),
 * node/p2p_wire.c (handshake and encrypted frames) and node/p2p_guard.c (gossip seen-cache,
 * misbehaviour scores and bans). Not part of the node's public interface; the unit tests
 * include it for the seen-cache and for the test hooks at the end.
 *
 * Lifetime of a connection (node_peer): created at accept or dial in state P2P_HELLO,
 * P2P_AUTH once the other Hello is in and our Auth is sent, P2P_READY once the other Auth
 * verifies, P2P_CLOSED when closed. A closed peer stays in p2p->conns, inert (its
 * bufferevent disabled), until the reap event frees it: so a callback may close any peer,
 * including the one being served, without the caller's loop touching freed memory, and
 * iteration over conns is stable while callbacks run. */
#ifndef IOLM_NODE_P2P_INT_H
#define IOLM_NODE_P2P_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/hash.h"
#include "node/p2p.h"
#include "node/p2p_aead.h"

#define P2P_LOG "p2p"

#define P2P_HANDSHAKE_MS 5000u            /* whole handshake, from dial or accept */
#define P2P_BACKOFF_MIN_MS 1000u
#define P2P_BACKOFF_MAX_MS 60000u
#define P2P_MAX_OUTQ ((size_t)64 << 20)    /* a peer with more unsent bytes is not reading */
#define P2P_TAG_LEN P2P_AEAD_TAG_LEN
#define P2P_MAX_AUTH_BYTES 128u           /* Auth plaintext: a 64-byte signature + framing */
#define P2P_ADDR_MAX 64                   /* "[v6]:port" fits */
#define P2P_OFFENDERS 1024                /* score/ban table entries (keys and addresses) */

#define P2P_SEEN_CAP 65536u               /* remembered gossip digests (power of two) */
#define P2P_SEEN_SLOTS (2u * P2P_SEEN_CAP) /* hash set slots: load factor <= 1/2 */
#define P2P_SEEN_LEN 16                   /* digest bytes */

/* Penalty points per offence (docs/p2p.md); the default ban threshold is 100. */
#define P2P_PTS_HANDSHAKE 25u  /* malformed Hello or Auth framing */
#define P2P_PTS_TIMEOUT 10u    /* handshake not done in time */
#define P2P_PTS_BADSIG 50u     /* Auth signature does not verify */
#define P2P_PTS_AEAD 50u       /* frame fails authentication */
#define P2P_PTS_OVERSIZE 50u   /* length prefix past the cap */
#define P2P_PTS_DECODE 25u     /* authenticated but not a canonical Frame */

enum p2p_state { P2P_HELLO = 0, P2P_AUTH, P2P_READY, P2P_CLOSED };

struct p2p_persist {
	node_p2p *p2p;
	char addr[P2P_ADDR_MAX];
	struct sockaddr_storage ss;
	int sslen;
	node_peer *peer;     /* connection that serves this entry, or NULL */
	struct event *timer; /* redial */
	uint32_t backoff_ms;
	int disabled;        /* the address turned out to be this node */
};

struct node_peer {
	node_p2p *p2p;
	struct bufferevent *bev;
	struct event *hs_timer;
	enum p2p_state state;
	int outbound;
	int connected;       /* TCP is up (always for inbound) */
	int have_key;        /* key holds the Hello's node key */
	struct p2p_persist *persist;
	char addr[P2P_ADDR_MAX];
	uint8_t ip[16];      /* IPv6, or IPv4-mapped */
	uint8_t key[IOLM_PUBKEY_LEN];
	uint64_t height;
	/* handshake */
	uint8_t kx_pk[crypto_kx_PUBLICKEYBYTES];
	uint8_t kx_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t transcript[IOLM_HASH_LEN];
	uint8_t hello_mine[4 + IOLM_MAX_HANDSHAKE_BYTES]; /* as sent: length + bytes */
	size_t hello_mine_len;
	/* session: a cipher context per direction, keyed from the key exchange */
	p2p_aead *rx, *tx;
	uint64_t rx_ctr, tx_ctr;
};

struct p2p_offender {
	uint8_t kind;        /* 0 free, P2P_OFF_KEY, P2P_OFF_IP */
	uint8_t id[32];      /* node key, or the 16-byte address zero-padded */
	uint32_t score;
	uint64_t updated_ns;
	uint64_t banned_until_ns;
};
#define P2P_OFF_KEY 1
#define P2P_OFF_IP 2

/* Gossip dedup: the last P2P_SEEN_CAP digests in a ring, indexed by an open-addressing
 * hash set (linear probing, backward-shift deletion) whose slots hold ring index + 1. */
struct p2p_seen {
	uint8_t key[crypto_generichash_KEYBYTES]; /* random per process: digests are local */
	uint8_t (*ring)[P2P_SEEN_LEN];
	uint32_t *slots;
	uint32_t head;       /* next ring entry to (over)write */
	uint32_t count;      /* ring entries in use, forgotten ones included */
};

struct node_p2p {
	struct event_base *base;
	char *chain_id, *agent, *listen_host;
	uint16_t listen_port_cfg, port;
	iolm_key key;
	size_t max_peers, max_frame;
	uint32_t ban_threshold, ban_seconds;
	uint32_t handshake_ms;
	uint32_t backoff_min_ms;
	int ban_loopback;    /* loopback addresses are exempt from address bans unless set */
	node_p2p_callbacks cb;
	uint64_t height;
	int started, destroying;

	struct evconnlistener *listener;
	node_peer **conns;   /* every connection, closed ones until reaped */
	size_t n_conns, cap_conns;
	size_t n_ready;
	struct p2p_persist *persist;
	size_t n_persist;
	struct event *reap_ev;

	uint8_t *rxbuf;      /* one received frame, max_frame + P2P_TAG_LEN bytes */
	iolm_buf txbuf;      /* one encoded outgoing Frame, limit max_frame */
	struct p2p_seen seen;
	struct p2p_offender offenders[P2P_OFFENDERS];
	node_p2p_stats stats;
};

/* p2p.c */
void p2p_peer_close(node_peer *peer, int err, const char *why);
/* Penalize and close in one step: the connection cannot go on after a protocol error. */
void p2p_peer_misbehave(node_peer *peer, uint32_t points, int err, const char *why);
/* The peer finished the handshake: resolve duplicates, mark it ready, tell the node. */
void p2p_peer_ready(node_peer *peer);
/* Whether the frame kind is gossip (deduplicated) rather than point-to-point. */
int p2p_frame_is_gossip(const Iolm__Frame *msg);

/* p2p_wire.c */
/* Build and queue our Hello (fresh X25519 key pair). */
int p2p_wire_send_hello(node_peer *peer) IOLM_WUR;
/* bufferevent read callback (ctx: the node_peer). */
void p2p_wire_read_cb(struct bufferevent *bev, void *ctx);
/* Encrypt len plaintext bytes as the peer's next frame onto its output buffer.
 * IOLM_ENODE_SLOW (and the peer is closed) when its output queue is over the limit. */
int p2p_wire_write(node_peer *peer, const uint8_t *pt, size_t len) IOLM_WUR;
/* The same for the frame whose plaintext is hdr followed by body (an artifact block
 * sent from where it lies): the bytes on the wire are those p2p_wire_write would send
 * for the two joined. */
int p2p_wire_write2(node_peer *peer, const uint8_t *hdr, size_t hlen, const uint8_t *body,
		    size_t blen) IOLM_WUR;
/* Wipe every secret the peer holds. */
void p2p_wire_wipe(node_peer *peer);

/* p2p_block.c: artifact block frames framed by hand, byte for byte as the codec would. */
#define P2P_BLOCK_ID_MAX 64u
#define P2P_BLOCK_HDR_MAX (3u * 6u + P2P_BLOCK_ID_MAX) /* three tags, three varints, id */
/* The encoding of Frame{art_block{chunk_id = id, data}} up to the data (1 <= id_len <=
 * P2P_BLOCK_ID_MAX, data_len >= 1); returns its length. */
size_t p2p_block_header(uint8_t out[static P2P_BLOCK_HDR_MAX], const uint8_t *id, size_t id_len,
			size_t data_len);
/* 1 when the len bytes at b are the canonical encoding of a Frame holding an ArtBlock with
 * a non-empty chunk id and data: then *f and *ab hold it, their bytes pointing into b
 * (nothing to free). 0 otherwise, whether or not the codec would accept the bytes. */
int p2p_block_parse(const uint8_t *b, size_t len, Iolm__Frame *f, Iolm__ArtBlock *ab);

/* p2p_guard.c */
int p2p_seen_init(struct p2p_seen *s) IOLM_WUR;
void p2p_seen_release(struct p2p_seen *s);
/* 1 when the bytes were seen already; otherwise remember them (evicting the oldest
 * digest when full) and return 0. */
int p2p_seen_check_insert(struct p2p_seen *s, const uint8_t *data, size_t len);
/* Remove the bytes' digest, so the next copy passes as new. */
void p2p_seen_forget(struct p2p_seen *s, const uint8_t *data, size_t len);
/* Whether bytes are in the cache, without inserting (tests). */
int p2p_seen_contains(const struct p2p_seen *s, const uint8_t *data, size_t len);

int p2p_ip_is_loopback(const uint8_t ip[16]);
int p2p_banned_key(node_p2p *p, const uint8_t key[static 32]);
int p2p_banned_ip(node_p2p *p, const uint8_t ip[static 16]);
/* Add points to the key's and the address's scores. Returns 1 when this banned the key or
 * the address (the caller disconnects), 0 otherwise. */
int p2p_guard_score(node_p2p *p, const node_peer *peer, uint32_t points);

/* Test hook: let loopback addresses be banned and shorten the handshake timeout and the
 * first redial delay (0 keeps a value), so tests on 127.0.0.1 can exercise address bans,
 * timeouts and redials in milliseconds. Call before node_p2p_start(). */
void p2p_test_tune(node_p2p *p, int ban_loopback, uint32_t handshake_ms, uint32_t backoff_ms);

#endif
