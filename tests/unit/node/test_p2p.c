/* P2P transport: several node_p2p instances on one event_base over 127.0.0.1, and hostile
 * peers on raw sockets that speak the handshake by hand (docs/p2p.md). */
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
	node_peer *last_peer;
	char peer_buf[P2P_ADDR_MAX];
	const char *peers[2];
} tnode;

static struct event_base *g_base;
/* First redial delay for the nodes of a test: 100 ms instead of 1 s keeps tests short. */
static const uint32_t g_backoff_ms = 100;

static void cb_connect(void *ctx, node_peer *peer)
{
	tnode *t = ctx;
	t->connects++;
	t->last_peer = peer;
}

static void cb_disconnect(void *ctx, node_peer *peer)
{
	tnode *t = ctx;
	t->disconnects++;
	if (t->last_peer == peer)
		t->last_peer = NULL;
}

static void cb_frame(void *ctx, node_peer *peer, const Iolm__Frame *msg, const uint8_t *raw,
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
	}
	assert_non_null(raw);
	assert_true(len > 0);
}

static void key_from_seed(iolm_key *k, uint8_t seed)
{
	uint8_t sec[32] = { 0 };
	sec[31] = seed;
	sec[0] = 1;
	assert_int_equal(iolm_key_from_secret(k, sec), IOLM_OK);
}

/* Start a node on 127.0.0.1:port (0: any) that keeps dialling peer (NULL: none). */
static void tnode_start(tnode *t, uint8_t seed, const char *chain, uint16_t port,
			const char *peer, size_t max_frame)
{
	node_p2p_config cfg = { 0 };
	node_p2p_callbacks cb = { cb_connect, cb_disconnect, cb_frame, t };

	t->p = NULL;
	crypto_generichash_init(&t->tx_digest, NULL, 0, 32);
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

static void tnode_stop(tnode *t)
{
	node_p2p_destroy(t->p);
	t->p = NULL;
}

static const char *addr_of(const tnode *t, char buf[P2P_ADDR_MAX])
{
	snprintf(buf, P2P_ADDR_MAX, "127.0.0.1:%u", (unsigned)node_p2p_port(t->p));
	return buf;
}

typedef int (*pred_fn)(void *ctx);

/* Run the loop until pred holds or ms pass; returns whether it holds. */
static int run_until(pred_fn pred, void *ctx, unsigned ms)
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

static void run_for(unsigned ms)
{
	(void)run_until(NULL, NULL, ms);
}

struct pair { tnode *a, *b; size_t na, nb; };

static int both_have(void *ctx)
{
	struct pair *pr = ctx;
	return node_p2p_peer_count(pr->a->p) == pr->na && node_p2p_peer_count(pr->b->p) == pr->nb;
}

static int pings_at_least(void *ctx)
{
	return ((tnode *)ctx)->pings >= 1;
}

static int txs_at_least_one(void *ctx)
{
	return ((tnode *)ctx)->txs >= 1;
}

static int has_peer(void *ctx)
{
	return node_p2p_peer_count(((tnode *)ctx)->p) >= 1;
}

static void send_ping(tnode *t, node_peer *peer, uint64_t nonce)
{
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__Ping ping = IOLM__PING__INIT;

	ping.nonce = nonce;
	f.msg_case = IOLM__FRAME__MSG_PING;
	f.ping = &ping;
	assert_int_equal(node_p2p_send(t->p, peer, &f), IOLM_OK);
}

/* A gossip frame: a Tx with a body of n bytes of value v. */
static void make_tx_frame(Iolm__Frame *f, Iolm__Tx *tx, uint8_t *body, size_t n, uint8_t v)
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

static int raw_connect(uint16_t port)
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

static void raw_send(int fd, const void *data, size_t n)
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
static int raw_recv(int fd, void *buf, size_t n, unsigned ms)
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
static long raw_wait_closed(int fd, unsigned ms)
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

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Seal pt as the next AEAD record into rec (4 + n + P2P_TAG_LEN bytes); flip = 1
 * corrupts the tag. */
static void hostile_seal(hostile *h, uint8_t *rec, const uint8_t *pt, size_t n, int flip)
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
static void hostile_frame(hostile *h, const uint8_t *pt, size_t n, int flip)
{
	uint8_t *rec = malloc(4 + n + P2P_TAG_LEN);

	assert_non_null(rec);
	hostile_seal(h, rec, pt, n, flip);
	raw_send(h->fd, rec, 4 + n + P2P_TAG_LEN);
	free(rec);
}

/* Dial port and run the handshake by hand as node key seed. bad_sig signs a wrong
 * transcript. Returns 0 when the node closed before its Hello arrived. */
static int hostile_handshake(hostile *h, uint16_t port, uint8_t seed, int bad_sig)
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

static void hostile_close(hostile *h)
{
	close(h->fd);
	h->fd = -1;
}

static int setup(void **state)
{
	g_base = event_base_new();
	assert_non_null(g_base);
	iolm_log_configure(IOLM_LOG_ERROR, IOLM_LOG_TEXT, 2);
	return 0;
}

static int teardown(void **state)
{
	event_base_free(g_base);
	g_base = NULL;
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_handshake_then_frames_flow_both_ways(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_int_equal(a.connects, 1);
	assert_int_equal(b.connects, 1);
	assert_memory_equal(node_peer_key(b.last_peer), iolm_key_pub(&a.key), 32);
	assert_memory_equal(node_peer_key(a.last_peer), iolm_key_pub(&b.key), 32);
	assert_true(node_peer_outbound(b.last_peer));
	assert_false(node_peer_outbound(a.last_peer));
	assert_ptr_equal(node_p2p_peer(a.p, 0), a.last_peer);
	assert_null(node_p2p_peer(a.p, 1));

	send_ping(&a, a.last_peer, 7);
	assert_true(run_until(pings_at_least, &b, 2000));
	assert_int_equal(b.last_ping, 7);
	send_ping(&b, b.last_peer, 9);
	assert_true(run_until(pings_at_least, &a, 2000));
	assert_int_equal(a.last_ping, 9);

	/* Point-to-point kinds are not deduplicated: the same ping twice arrives twice. */
	send_ping(&a, a.last_peer, 7);
	send_ping(&a, a.last_peer, 7);
	run_for(100);
	assert_int_equal(b.pings, 3);

	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.frames_out, 3);
	assert_int_equal(st.frames_in, 1);
	assert_int_equal(st.bad_frames, 0);
	assert_true(st.bytes_in > 0 && st.bytes_out > 0);

	tnode_stop(&b);
	run_for(100);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.disconnects, 1);
	tnode_stop(&a);
}

static void test_broadcast_reaches_all_and_duplicates_drop(void **state)
{
	tnode a = { 0 }, b = { 0 }, c = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t body[100];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	tnode_start(&c, 3, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 2, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_true(run_until(has_peer, &c, 2000));

	make_tx_frame(&f, &tx, body, sizeof body, 0x11);
	assert_int_equal(node_p2p_broadcast(a.p, &f, NULL), IOLM_OK);
	assert_true(run_until(txs_at_least_one, &b, 2000));
	assert_true(run_until(txs_at_least_one, &c, 2000));

	/* b sends one tx twice: a delivers it once and counts the duplicate. */
	make_tx_frame(&f, &tx, body, sizeof body, 0x22);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	/* c sends the same bytes too: still a duplicate at a. */
	assert_int_equal(node_p2p_send(c.p, c.last_peer, &f), IOLM_OK);
	run_for(200);
	assert_int_equal(a.txs, 1);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.dup_dropped, 2);

	/* a's own broadcast echoed back by b is dropped: a marked it seen when sending. */
	make_tx_frame(&f, &tx, body, sizeof body, 0x11);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	run_for(100);
	assert_int_equal(a.txs, 1);

	/* broadcast except one peer */
	make_tx_frame(&f, &tx, body, sizeof body, 0x33);
	int b0 = b.txs, c0 = c.txs;
	node_peer *to_b = NULL;
	for (size_t i = 0; node_p2p_peer(a.p, i); i++)
		if (memcmp(node_peer_key(node_p2p_peer(a.p, i)), iolm_key_pub(&b.key), 32) == 0)
			to_b = node_p2p_peer(a.p, i);
	assert_non_null(to_b);
	assert_int_equal(node_p2p_broadcast(a.p, &f, to_b), IOLM_OK);
	run_for(100);
	assert_int_equal(b.txs, b0);
	assert_int_equal(c.txs, c0 + 1);

	tnode_stop(&c);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_frame_over_cap_refused_on_send(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f;
	Iolm__Tx tx;
	static uint8_t body[8192];

	tnode_start(&a, 1, CHAIN, 0, NULL, 4096);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 4096);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	make_tx_frame(&f, &tx, body, sizeof body, 1);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_ETOOBIG);
	assert_int_equal(node_p2p_broadcast(b.p, &f, NULL), IOLM_ETOOBIG);
	assert_int_equal(node_p2p_relay(b.p, body, sizeof body, NULL), IOLM_ETOOBIG);
	make_tx_frame(&f, &tx, body, 4000, 2);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_true(run_until(txs_at_least_one, &a, 2000));
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_wrong_chain_refused(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats sa, sb;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, "other-chain", 0, addr_of(&a, ad), 0);
	run_for(300);
	node_p2p_get_stats(a.p, &sa);
	node_p2p_get_stats(b.p, &sb);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(node_p2p_peer_count(b.p), 0);
	assert_int_equal(a.connects + b.connects, 0);
	assert_true(sa.handshakes_failed >= 1);
	assert_true(sb.handshakes_failed >= 1);
	assert_int_equal(sa.bans, 0); /* a misconfigured peer is refused, not punished */
	tnode_stop(&b);
	tnode_stop(&a);
}

/* n distinct free ports on 127.0.0.1 (all bound at once, so they differ). */
static void free_ports(uint16_t *ports, int n)
{
	int fds[4];

	assert_true(n <= 4);
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sin = { 0 };
		socklen_t len = sizeof sin;
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&sin, sizeof sin), 0);
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&sin, &len), 0);
		ports[i] = ntohs(sin.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void test_connection_to_self_refused(void **state)
{
	tnode a = { 0 };
	char ad[P2P_ADDR_MAX];
	uint16_t port;
	node_p2p_stats s1, s2;

	free_ports(&port, 1);
	snprintf(ad, sizeof ad, "127.0.0.1:%u", (unsigned)port);
	tnode_start(&a, 1, CHAIN, port, ad, 0);
	run_for(300);
	node_p2p_get_stats(a.p, &s1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.connects, 0);
	assert_int_equal(s1.handshakes_failed, 2); /* the dialling end and the accepting end */
	/* The address is ourselves: it is not redialled (the first redial would come
	 * within 125 ms). */
	run_for(400);
	node_p2p_get_stats(a.p, &s2);
	assert_int_equal(s2.handshakes_failed, 2);
	tnode_stop(&a);
}

static void test_garbage_disconnected_then_address_banned(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	uint8_t junk[44];
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	p2p_test_tune(a.p, 1, 0, 0);
	/* Garbage where a Hello should be: +25, disconnected. */
	fd = raw_connect(node_p2p_port(a.p));
	put32(junk, 40);
	randombytes_buf(junk + 4, 40);
	junk[4] = 0xff; /* not a valid field tag: never decodes as a Hello */
	raw_send(fd, junk, sizeof junk);
	assert_true(raw_wait_closed(fd, 2000) > 0); /* it had sent its Hello first */
	close(fd);
	/* An oversized length prefix: +50 each, refused before the body is read. */
	for (int i = 0; i < 2; i++) {
		fd = raw_connect(node_p2p_port(a.p));
		put32(junk, 0x7fffffff);
		raw_send(fd, junk, 4);
		assert_true(raw_wait_closed(fd, 2000) > 0);
		close(fd);
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 1);
	assert_int_equal(st.handshakes_failed, 3);
	/* Banned: the next connection is closed at once, before any Hello. */
	fd = raw_connect(node_p2p_port(a.p));
	assert_int_equal(raw_wait_closed(fd, 2000), 0);
	close(fd);
	tnode_stop(&a);
}

static void test_loopback_exempt_from_address_ban(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	uint8_t junk[4];
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	for (int i = 0; i < 3; i++) {
		fd = raw_connect(node_p2p_port(a.p));
		put32(junk, 0x7fffffff);
		raw_send(fd, junk, 4);
		assert_true(raw_wait_closed(fd, 2000) > 0);
		close(fd);
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 0);
	fd = raw_connect(node_p2p_port(a.p));
	assert_true(raw_wait_closed(fd, 200) < 0); /* still served: its Hello came, open */
	close(fd);
	tnode_stop(&a);
}

static int connected_once(void *ctx)
{
	return ((tnode *)ctx)->connects >= 1;
}

static void test_bad_aead_tag_disconnects_then_key_banned(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t pt[8] = { 0x0a, 0x02, 0x08, 0x01 }; /* a Ping */

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	for (int round = 0; round < 2; round++) {
		assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
		assert_true(run_until(connected_once, &a, 2000));
		assert_int_equal(node_p2p_peer_count(a.p), 1);
		/* one good frame is accepted, then a corrupted tag ends the connection */
		hostile_frame(&h, pt, 4, 0);
		hostile_frame(&h, pt, 4, 1);
		assert_true(raw_wait_closed(h.fd, 2000) >= 0);
		hostile_close(&h);
		assert_int_equal(node_p2p_peer_count(a.p), 0);
		assert_int_equal(a.disconnects, round + 1);
		assert_int_equal(a.pings, round + 1);
		a.connects = 0;
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bad_frames, 2);
	assert_int_equal(st.bans, 1); /* 2 x 50 on the key; loopback itself is not banned */
	/* The banned key is refused at its Hello. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.connects, 0);
	/* Another key from the same address is welcome. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 10, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_close(&h);
	run_for(50);
	tnode_stop(&a);
}

static void test_replayed_frame_disconnects(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t pt[4] = { 0x0a, 0x02, 0x08, 0x01 }; /* a Ping */

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_frame(&h, pt, sizeof pt, 0);
	h.tx_ctr--; /* the same record again, byte for byte */
	hostile_frame(&h, pt, sizeof pt, 0);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(a.pings, 1);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	tnode_stop(&a);
}

static int txs_at_least_40(void *ctx)
{
	return ((tnode *)ctx)->txs >= 40;
}

/* Records arrive whole however the stream is cut: forty Tx frames of 1 byte to 3 MiB
 * (larger than one read of the wire, and split across the input buffer's pieces), sent
 * in pieces of 1 byte to 300 KiB with the loop running between them, then a large
 * frame with a bad tag, cut the same way. */
static void test_frames_arrive_whole_however_the_stream_is_cut(void **state)
{
	static const size_t sizes[] = { 1, 7, 100, 4000, 4096, 65536, 65600, 200000, 262144,
					300000, 1u << 20, 3u << 20 };
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	Iolm__Frame f;
	Iolm__Tx tx;
	crypto_generichash_state want;
	uint8_t *body = malloc(3u << 20), *pt = malloc((3u << 20) + 64);
	uint8_t *stream = malloc(40u << 20), d_want[32], d_got[32];
	size_t len = 0, pos = 0;
	uint64_t rng = 0x243f6a8885a308d3ull;

	assert_true(body && pt && stream);
	crypto_generichash_init(&want, NULL, 0, 32);
	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	for (int i = 0; i < 41; i++) {
		size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])], k;
		make_tx_frame(&f, &tx, body, n, (uint8_t)i);
		body[0] = (uint8_t)(i * 7 + 1); /* distinct bodies: no gossip duplicates */
		body[n - 1] ^= (uint8_t)i;
		k = iolm__frame__pack(&f, pt);
		hostile_seal(&h, stream + len, pt, k, i == 40);
		len += 4 + k + P2P_TAG_LEN;
		if (i < 40)
			crypto_generichash_update(&want, body, n);
	}
	assert_true(len <= 40u << 20);
	while (pos < len) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		size_t cut = rng % 4 == 0 ? 1 + rng % 16 : 1 + (rng >> 8) % (300u << 10);
		if (cut > len - pos)
			cut = len - pos;
		raw_send(h.fd, stream + pos, cut);
		pos += cut;
		event_base_loop(g_base, EVLOOP_NONBLOCK);
	}
	assert_true(run_until(txs_at_least_40, &a, 5000));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.txs, 40);
	crypto_generichash_final(&want, d_want, 32);
	crypto_generichash_final(&a.tx_digest, d_got, 32);
	assert_memory_equal(d_got, d_want, 32);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.frames_in, 40);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	free(body);
	free(pt);
	free(stream);
	tnode_stop(&a);
}

static int disconnected_once(void *ctx)
{
	return ((tnode *)ctx)->disconnects >= 1;
}

/* A peer that goes away in the middle of a record, by closing (end of stream) or by a
 * reset (a failed read): the connection is dropped, without a penalty, after the whole
 * frames before it were delivered. */
static void test_peer_gone_mid_record_is_dropped(void **state)
{
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t *body = malloc(100000), *pt = malloc(100100), *rec = malloc(100200);

	assert_true(body && pt && rec);
	for (int reset = 0; reset < 2; reset++) {
		tnode a = { 0 };
		hostile h;
		node_p2p_stats st;
		size_t k;

		tnode_start(&a, 1, CHAIN, 0, NULL, 0);
		assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
		assert_true(run_until(connected_once, &a, 2000));
		make_tx_frame(&f, &tx, body, 100, 1);
		hostile_frame(&h, pt, iolm__frame__pack(&f, pt), 0);
		make_tx_frame(&f, &tx, body, 100000, 2);
		k = iolm__frame__pack(&f, pt);
		hostile_seal(&h, rec, pt, k, 0);
		raw_send(h.fd, rec, 4 + k / 2);
		run_for(50);
		if (reset) {
			struct linger lg = { 1, 0 };
			assert_int_equal(setsockopt(h.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
		}
		hostile_close(&h);
		assert_true(run_until(disconnected_once, &a, 2000));
		assert_int_equal(a.txs, 1);
		assert_int_equal(node_p2p_peer_count(a.p), 0);
		node_p2p_get_stats(a.p, &st);
		assert_int_equal(st.bad_frames, 0);
		assert_int_equal(st.bans, 0);
		tnode_stop(&a);
	}
	free(body);
	free(pt);
	free(rec);
}

static void test_peer_that_does_not_read_is_dropped(void **state)
{
	tnode a = { 0 };
	hostile h;
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t *body = malloc(1u << 20);
	int err = IOLM_OK, sent = 0;

	assert_non_null(body);
	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	/* The loop does not run between sends, so nothing drains: the queue passes 64 MiB
	 * on the 65th frame of 1 MiB. */
	for (int i = 0; i < 100 && err == IOLM_OK; i++) {
		make_tx_frame(&f, &tx, body, 1u << 20, (uint8_t)i);
		err = node_p2p_send(a.p, a.last_peer, &f);
		sent += err == IOLM_OK;
	}
	assert_int_equal(err, IOLM_ENODE_SLOW);
	assert_true(sent >= 64 && sent <= 66);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.disconnects, 1);
	run_for(20);
	hostile_close(&h);
	free(body);
	tnode_stop(&a);
}

static int height_is_42(void *ctx)
{
	node_peer *peer = ((tnode *)ctx)->last_peer;
	return peer && node_peer_height(peer) == 42;
}

static void test_heights_from_hello_and_status(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__StatusMsg st = IOLM__STATUS_MSG__INIT;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	node_p2p_set_height(a.p, 17);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_int_equal(node_peer_height(b.last_peer), 17);
	assert_int_equal(node_peer_height(a.last_peer), 0);
	st.height = 42;
	f.msg_case = IOLM__FRAME__MSG_STATUS;
	f.status = &st;
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_true(run_until(height_is_42, &a, 2000));
	node_peer_set_height(a.last_peer, 50);
	assert_int_equal(node_peer_height(a.last_peer), 50);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_bad_auth_signature_refused(void **state)
{
	tnode a = { 0 };
	hostile h;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 1));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.connects, 0);
	tnode_stop(&a);
}

static void test_oversized_and_undecodable_frames_penalized(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t hdr[4];
	uint8_t junk[3] = { 0xff, 0xff, 0xff };

	tnode_start(&a, 1, CHAIN, 0, NULL, 4096);
	/* A length prefix one byte past the cap. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	put32(hdr, 4096 + P2P_TAG_LEN + 1);
	raw_send(h.fd, hdr, 4);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	/* Authenticated bytes that are not a Frame. */
	a.connects = 0;
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_frame(&h, junk, sizeof junk, 0);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bad_frames, 2);
	assert_int_equal(st.bans, 0); /* 50 + 25 < 100 */
	assert_int_equal(a.frames, 0);
	tnode_stop(&a);
}

static void test_silent_peer_times_out(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	p2p_test_tune(a.p, 0, 100, 0);
	fd = raw_connect(node_p2p_port(a.p));
	assert_true(raw_wait_closed(fd, 2000) > 0);
	close(fd);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.handshakes_failed, 1);
	tnode_stop(&a);
}

static void test_penalize_past_threshold_bans(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	node_p2p_penalize(a.p, a.last_peer, 60, "test offence");
	assert_int_equal(node_p2p_peer_count(a.p), 1); /* below the threshold: still there */
	node_p2p_penalize(a.p, a.last_peer, 60, "test offence");
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 1);
	/* b keeps redialling and is refused while banned. */
	run_for(600);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.connects, 1);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_reconnect_after_remote_restart(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	uint16_t port;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	port = node_p2p_port(a.p);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	tnode_stop(&a);
	run_for(50);
	assert_int_equal(node_p2p_peer_count(b.p), 0);
	assert_int_equal(b.disconnects, 1);
	memset(&a, 0, sizeof a);
	tnode_start(&a, 1, CHAIN, port, NULL, 0);
	assert_true(run_until(both_have, &pr, 3000));
	assert_int_equal(b.connects, 2);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_duplicate_connections_keep_one(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX], bd[P2P_ADDR_MAX];
	uint16_t ports[2];

	free_ports(ports, 2);
	uint16_t pa = ports[0], pb = ports[1];
	snprintf(ad, sizeof ad, "127.0.0.1:%u", (unsigned)pa);
	snprintf(bd, sizeof bd, "127.0.0.1:%u", (unsigned)pb);
	/* Each dials the other: two connections race, one survives on both ends. */
	tnode_start(&a, 1, CHAIN, pa, bd, 0);
	tnode_start(&b, 2, CHAIN, pb, ad, 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	run_for(400); /* past the first redial */
	assert_int_equal(node_p2p_peer_count(a.p), 1);
	assert_int_equal(node_p2p_peer_count(b.p), 1);
	/* The survivor is one connection: its direction differs at the two ends. */
	assert_int_not_equal(node_peer_outbound(node_p2p_peer(a.p, 0)),
			     node_peer_outbound(node_p2p_peer(b.p, 0)));
	send_ping(&a, node_p2p_peer(a.p, 0), 5);
	assert_true(run_until(pings_at_least, &b, 2000));
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_seen_cache_remembers_the_last_64k(void **state)
{
	struct p2p_seen s;
	uint32_t v;

	assert_int_equal(p2p_seen_init(&s), IOLM_OK);
	for (v = 0; v < P2P_SEEN_CAP + 5000; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 5000; v++)
		assert_false(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	for (v = 5000; v < P2P_SEEN_CAP + 5000; v++)
		assert_true(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	v = 5000;
	assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 1);
	assert_int_equal(s.count, P2P_SEEN_CAP);
	p2p_seen_release(&s);
}

/* A forgotten digest passes again; forgetting some entries, re-inserting some of those, and
 * wrapping the ring past all of them keeps the cache consistent: exactly the newest
 * P2P_SEEN_CAP insertions are remembered. */
static void test_seen_cache_forgets_on_request(void **state)
{
	struct p2p_seen s;
	uint32_t v;

	assert_int_equal(p2p_seen_init(&s), IOLM_OK);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 1000; v += 2)
		p2p_seen_forget(&s, (uint8_t *)&v, sizeof v);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v), v % 2);
	for (v = 0; v < 1000; v += 4) /* a second copy of a forgotten one is new */
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	v = 1001;
	p2p_seen_forget(&s, (uint8_t *)&v, sizeof v); /* never seen: nothing happens */
	/* Wrap the ring: the first 1000 entries age out, the re-inserted ones later. */
	for (v = 2000; v < 2000 + P2P_SEEN_CAP - 250; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v), v % 4 == 0);
	for (v = 2000; v < 2000 + P2P_SEEN_CAP - 250; v++)
		assert_true(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	p2p_seen_release(&s);
}

static void test_create_rejects_bad_config(void **state)
{
	node_p2p *p = (node_p2p *)1;
	node_p2p_config cfg = { 0 };
	iolm_key k;
	const char *bad[] = { "not-an-address" };

	key_from_seed(&k, 1);
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
	cfg.chain_id = CHAIN;
	cfg.node_key = &k;
	cfg.peers = bad;
	cfg.n_peers = 1;
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
	cfg.n_peers = 0;
	cfg.max_frame = IOLM_MAX_FRAME_BYTES + 1;
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_then_frames_flow_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broadcast_reaches_all_and_duplicates_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_over_cap_refused_on_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_chain_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_to_self_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_disconnected_then_address_banned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_exempt_from_address_ban, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_aead_tag_disconnects_then_key_banned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_auth_signature_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_frame_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_arrive_whole_however_the_stream_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_mid_record_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_that_does_not_read_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heights_from_hello_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_and_undecodable_frames_penalized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_peer_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_penalize_past_threshold_bans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_after_remote_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_connections_keep_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_cache_remembers_the_last_64k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_cache_forgets_on_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_rejects_bad_config, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN); /* as iolmd does: a closed socket is an error, not a signal */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
