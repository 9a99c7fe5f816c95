/* The P2P tests' harness (test_p2p.c, test_p2p_hostile.c): node_p2p instances on one
 * event_base over 127.0.0.1, and hostile peers on raw sockets that speak the handshake
 * by hand (docs/p2p.md). */
#ifndef IOLM_TEST_P2P_FIXTURE_H
#define IOLM_TEST_P2P_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "../test_util.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "node/p2p.h"
#include "node/p2p_int.h"

#define CHAIN "iolm-test"

/* ---------------------------------------------------------------- harness */

typedef struct tnode {
	node_p2p *p;
	iolm_key key;
	int connects, disconnects, frames, pings, txs;
	uint64_t last_ping;
	crypto_generichash_state tx_digest; /* every Tx body received, in order */
	int blocks;
	crypto_generichash_state block_digest; /* every ArtBlock's id and data, in order */
	node_peer *last_peer;
	char peer_buf[P2P_ADDR_MAX];
	const char *peers[2];
} tnode;

static struct event_base *g_base;
/* First redial delay for the nodes of a test: 100 ms instead of 1 s keeps tests short. */
static const uint32_t g_backoff_ms = 100;

static inline void cb_connect(void *ctx, node_peer *peer)
{
	tnode *t = ctx;
	t->connects++;
	t->last_peer = peer;
}

static inline void cb_disconnect(void *ctx, node_peer *peer)
{
	tnode *t = ctx;
	t->disconnects++;
	if (t->last_peer == peer)
		t->last_peer = NULL;
}

static inline void cb_frame(void *ctx, node_peer *peer, const Iolm__Frame *msg, const uint8_t *raw,
		     size_t len)
{
	tnode *t = ctx;
	t->frames++;
	if (msg->msg_case == IOLM__FRAME__MSG_PING) {
		t->pings++;
		t->last_ping = msg->ping->nonce;
	} else if (msg->msg_case == IOLM__FRAME__MSG_TX) {
		t->txs++;
		crypto_generichash_update(&t->tx_digest, msg->tx->body.data, msg->tx->body.len);
	} else if (msg->msg_case == IOLM__FRAME__MSG_ART_BLOCK) {
		const Iolm__ArtBlock *b = msg->art_block;
		t->blocks++;
		crypto_generichash_update(&t->block_digest, b->chunk_id.data, b->chunk_id.len);
		crypto_generichash_update(&t->block_digest, b->data.data, b->data.len);
	}
	assert_non_null(raw);
	assert_true(len > 0);
}

static inline void key_from_seed(iolm_key *k, uint8_t seed)
{
	uint8_t sec[32] = { 0 };
	sec[31] = seed;
	sec[0] = 1;
	assert_int_equal(iolm_key_from_secret(k, sec), IOLM_OK);
}

/* Start a node on 127.0.0.1:port (0: any) that keeps dialling peer (NULL: none). */
static inline void tnode_start(tnode *t, uint8_t seed, const char *chain, uint16_t port,
			const char *peer, size_t max_frame)
{
	node_p2p_config cfg = { 0 };
	node_p2p_callbacks cb = { cb_connect, cb_disconnect, cb_frame, t };

	t->p = NULL;
	crypto_generichash_init(&t->tx_digest, NULL, 0, 32);
	crypto_generichash_init(&t->block_digest, NULL, 0, 32);
	key_from_seed(&t->key, seed);
	cfg.chain_id = chain;
	cfg.node_key = &t->key;
	cfg.listen_host = "127.0.0.1";
	cfg.listen_port = port;
	cfg.agent = "test";
	cfg.max_frame = max_frame;
	if (peer) {
		snprintf(t->peer_buf, sizeof t->peer_buf, "%s", peer);
		t->peers[0] = t->peer_buf;
		cfg.peers = t->peers;
		cfg.n_peers = 1;
	}
	assert_int_equal(node_p2p_create(&t->p, g_base, &cfg, &cb), IOLM_OK);
	p2p_test_tune(t->p, 0, 0, g_backoff_ms);
	assert_int_equal(node_p2p_start(t->p), IOLM_OK);
}

static inline void tnode_stop(tnode *t)
{
	node_p2p_destroy(t->p);
	t->p = NULL;
}

static inline const char *addr_of(const tnode *t, char buf[P2P_ADDR_MAX])
{
	snprintf(buf, P2P_ADDR_MAX, "127.0.0.1:%u", (unsigned)node_p2p_port(t->p));
	return buf;
}

typedef int (*pred_fn)(void *ctx);

/* Run the loop until pred holds or ms pass; returns whether it holds. */
static inline int run_until(pred_fn pred, void *ctx, unsigned ms)
{
	uint64_t end = iolm_clock_mono_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		event_base_loop(g_base, EVLOOP_NONBLOCK);
		if (pred && pred(ctx))
			return 1;
		if (iolm_clock_mono_ns() > end)
			return pred ? pred(ctx) : 1;
		iolm_sleep_ms(1);
	}
}

static inline void run_for(unsigned ms)
{
	(void)run_until(NULL, NULL, ms);
}

struct pair { tnode *a, *b; size_t na, nb; };

static inline int both_have(void *ctx)
{
	struct pair *pr = ctx;
	return node_p2p_peer_count(pr->a->p) == pr->na && node_p2p_peer_count(pr->b->p) == pr->nb;
}

static inline int pings_at_least(void *ctx)
{
	return ((tnode *)ctx)->pings >= 1;
}

static inline int txs_at_least_one(void *ctx)
{
	return ((tnode *)ctx)->txs >= 1;
}

static inline int has_peer(void *ctx)
{
	return node_p2p_peer_count(((tnode *)ctx)->p) >= 1;
}

static inline void send_ping(tnode *t, node_peer *peer, uint64_t nonce)
{
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__Ping ping = IOLM__PING__INIT;

	ping.nonce = nonce;
	f.msg_case = IOLM__FRAME__MSG_PING;
	f.ping = &ping;
	assert_int_equal(node_p2p_send(t->p, peer, &f), IOLM_OK);
}

/* A gossip frame: a Tx with a body of n bytes of value v. */
static inline void make_tx_frame(Iolm__Frame *f, Iolm__Tx *tx, uint8_t *body, size_t n, uint8_t v)
{
	iolm__frame__init(f);
	iolm__tx__init(tx);
	memset(body, v, n);
	tx->body.data = body;
	tx->body.len = n;
	f->msg_case = IOLM__FRAME__MSG_TX;
	f->tx = tx;
}

/* ---------------------------------------------------------------- hostile peer */

typedef struct hostile {
	int fd;
	uint8_t rx[32], tx[32];
	uint64_t tx_ctr;
} hostile;

static inline int raw_connect(uint16_t port)
{
	struct sockaddr_in sin = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

static inline void raw_send(int fd, const void *data, size_t n)
{
	const uint8_t *b = data;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_base_loop(g_base, EVLOOP_NONBLOCK);
			continue;
		}
		assert_true(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

/* Read exactly n bytes while the loop runs: 1 on success, 0 on EOF/reset/timeout. */
static inline int raw_recv(int fd, void *buf, size_t n, unsigned ms)
{
	uint8_t *b = buf;
	uint64_t end = iolm_clock_mono_ns() + (uint64_t)ms * 1000000u;

	while (n) {
		event_base_loop(g_base, EVLOOP_NONBLOCK);
		ssize_t r = recv(fd, b, n, MSG_DONTWAIT);
		if (r > 0) {
			b += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return 0;
		if (iolm_clock_mono_ns() > end)
			return 0;
		iolm_sleep_ms(1);
	}
	return 1;
}

/* Whether the other end closed within ms; returns the bytes it sent before (-1: still open). */
static inline long raw_wait_closed(int fd, unsigned ms)
{
	uint64_t end = iolm_clock_mono_ns() + (uint64_t)ms * 1000000u;
	long got = 0;
	uint8_t tmp[4096];

	for (;;) {
		event_base_loop(g_base, EVLOOP_NONBLOCK);
		ssize_t r = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (r > 0) {
			got += r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return got;
		if (iolm_clock_mono_ns() > end)
			return -1;
		iolm_sleep_ms(1);
	}
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Seal pt as the next AEAD record into rec (4 + n + P2P_TAG_LEN bytes); flip = 1
 * corrupts the tag. */
static inline void hostile_seal(hostile *h, uint8_t *rec, const uint8_t *pt, size_t n, int flip)
{
	uint8_t nonce[12] = { 0 };
	unsigned long long clen;

	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(h->tx_ctr >> (8 * i));
	put32(rec, (uint32_t)(n + P2P_TAG_LEN));
	crypto_aead_chacha20poly1305_ietf_encrypt(rec + 4, &clen, pt, n, NULL, 0, NULL, nonce,
						  h->tx);
	if (flip)
		rec[4 + n + P2P_TAG_LEN - 1] ^= 1;
	h->tx_ctr++;
}

/* Send pt as the next AEAD frame; flip = 1 corrupts the tag. */
static inline void hostile_frame(hostile *h, const uint8_t *pt, size_t n, int flip)
{
	uint8_t *rec = malloc(4 + n + P2P_TAG_LEN);

	assert_non_null(rec);
	hostile_seal(h, rec, pt, n, flip);
	raw_send(h->fd, rec, 4 + n + P2P_TAG_LEN);
	free(rec);
}

/* Dial port and run the handshake by hand as node key seed. bad_sig signs a wrong
 * transcript. Returns 0 when the node closed before its Hello arrived. */
static inline int hostile_handshake(hostile *h, uint16_t port, uint8_t seed, int bad_sig)
{
	uint8_t hdr[4], theirs[IOLM_MAX_HANDSHAKE_BYTES], mine[4 + IOLM_MAX_HANDSHAKE_BYTES];
	uint8_t pk[32], sk[32], tr[32], sig[64], abuf[128];
	Iolm__Hello *sh = NULL;
	Iolm__Hello hl = IOLM__HELLO__INIT;
	Iolm__Auth a = IOLM__AUTH__INIT;
	iolm_key key;
	iolm_hash_ctx hc;
	uint32_t n;
	size_t ml;

	memset(h, 0, sizeof *h);
	h->fd = raw_connect(port);
	if (!raw_recv(h->fd, hdr, 4, 2000))
		return 0;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	assert_true(n <= sizeof theirs);
	assert_true(raw_recv(h->fd, theirs, n, 2000));
	assert_int_equal(iolm_decode_hello(&sh, theirs, n, IOLM_MAX_HANDSHAKE_BYTES), IOLM_OK);
	assert_int_equal(sh->kx_key.len, 32);

	key_from_seed(&key, seed);
	crypto_kx_keypair(pk, sk);
	hl.version = NODE_P2P_VERSION;
	hl.chain_id = (char *)CHAIN;
	hl.node_key.data = (uint8_t *)iolm_key_pub(&key);
	hl.node_key.len = 32;
	hl.kx_key.data = pk;
	hl.kx_key.len = 32;
	hl.agent = (char *)"hostile";
	ml = iolm__hello__pack(&hl, mine + 4);
	put32(mine, (uint32_t)ml);
	raw_send(h->fd, mine, 4 + ml);
	assert_int_equal(crypto_kx_client_session_keys(h->rx, h->tx, pk, sk, sh->kx_key.data), 0);
	iolm_codec_free((ProtobufCMessage *)sh);

	iolm_hash_init(&hc, IOLM_TAG_HANDSHAKE, IOLM_HASH_LEN);
	iolm_hash_update(&hc, mine, 4 + ml);
	iolm_hash_update(&hc, hdr, 4);
	iolm_hash_update(&hc, theirs, n);
	iolm_hash_final(&hc, tr);
	tr[0] ^= (uint8_t)(bad_sig != 0);
	assert_int_equal(iolm_sign(&key, sig, tr), IOLM_OK);
	a.signature.data = sig;
	a.signature.len = 64;
	hostile_frame(h, abuf, iolm__auth__pack(&a, abuf), 0);
	iolm_key_wipe(&key);
	return 1;
}

static inline void hostile_close(hostile *h)
{
	close(h->fd);
	h->fd = -1;
}

static inline int setup(void **state)
{
	g_base = event_base_new();
	assert_non_null(g_base);
	iolm_log_configure(IOLM_LOG_ERROR, IOLM_LOG_TEXT, 2);
	return 0;
}

static inline int teardown(void **state)
{
	event_base_free(g_base);
	g_base = NULL;
	return 0;
}

static inline int connected_once(void *ctx)
{
	return ((tnode *)ctx)->connects >= 1;
}

static inline int txs_at_least_40(void *ctx)
{
	return ((tnode *)ctx)->txs >= 40;
}

static inline int disconnected_once(void *ctx)
{
	return ((tnode *)ctx)->disconnects >= 1;
}

#endif
