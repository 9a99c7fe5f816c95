/* The P2P wire: Hello exchange, session keys, Auth, and AEAD frames (docs/p2p.md).
 *
 * Every record on the wire is a 4-byte big-endian length followed by that many bytes.
 * The length is checked against the cap of the current state before any of the body is
 * read. The bufferevent's high watermark stops reading from the socket once one largest
 * record is buffered.
 *
 * Reading: libevent 2.1 reads a socket at most 4 KiB per wakeup of the loop (its
 * EVBUFFER_MAX_READ), so a 64 KiB artifact block would cost sixteen trips through
 * epoll, FIONREAD and readv. The read callback therefore runs whenever anything
 * arrives, and first reads what else the socket holds straight into the input buffer,
 * up to WIRE_FILL_BYTES and never past the high watermark (wire_fill). A record that
 * lies in one piece of the input buffer is decrypted from there into rxbuf; one split
 * across pieces is copied out first. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "core/codec.h"
#include "core/log.h"
#include "node/p2p_int.h"

/* Most bytes one wire_fill reads: four 64 KiB blocks with their framing. */
#define WIRE_FILL_BYTES ((size_t)256 << 10)

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 96-bit nonce: the 64-bit frame counter little-endian, then four zero bytes. */
static void make_nonce(uint8_t n[P2P_AEAD_NONCE_LEN], uint64_t ctr)
{
	memset(n, 0, P2P_AEAD_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(ctr >> (8 * i));
}

void p2p_wire_wipe(node_peer *peer)
{
	sodium_memzero(peer->kx_sk, sizeof peer->kx_sk);
	p2p_aead_destroy(peer->rx);
	p2p_aead_destroy(peer->tx);
	peer->rx = peer->tx = NULL;
}

int p2p_wire_send_hello(node_peer *peer)
{
	node_p2p *p = peer->p2p;
	Iolm__Hello h = IOLM__HELLO__INIT;
	size_t n;
	int err = IOLM_OK;

	if (crypto_kx_keypair(peer->kx_pk, peer->kx_sk) != 0) {
		err = IOLM_ECRYPTO;
		goto out;
	}
	h.version = NODE_P2P_VERSION;
	h.chain_id = p->chain_id;
	h.node_key.data = (uint8_t *)iolm_key_pub(&p->key);
	h.node_key.len = IOLM_PUBKEY_LEN;
	h.kx_key.data = peer->kx_pk;
	h.kx_key.len = sizeof peer->kx_pk;
	h.listen_port = p->port;
	h.agent = p->agent;
	h.height = p->height;
	n = iolm__hello__get_packed_size(&h);
	if (n > IOLM_MAX_HANDSHAKE_BYTES) { /* a long chain id or agent string */
		err = IOLM_ETOOBIG;
		goto out;
	}
	put_be32(peer->hello_mine, (uint32_t)n);
	iolm__hello__pack(&h, peer->hello_mine + 4);
	peer->hello_mine_len = 4 + n;
	if (bufferevent_write(peer->bev, peer->hello_mine, peer->hello_mine_len) != 0) {
		err = IOLM_ENOMEM;
		goto out;
	}
	p->stats.bytes_out += peer->hello_mine_len;
out:
	return err;
}

/* Checks for a frame of len plaintext bytes, and room for it on the output buffer:
 * v->iov_base gets the record's 4-byte length, the ciphertext goes behind it. */
static int frame_begin(node_peer *peer, size_t len, struct evbuffer_iovec *v)
{
	node_p2p *p = peer->p2p;
	struct evbuffer *out = bufferevent_get_output(peer->bev);
	size_t total = 4 + len + P2P_TAG_LEN;

	assert(peer->state == P2P_AUTH || peer->state == P2P_READY);
	if (len > p->max_frame && peer->state == P2P_READY)
		return IOLM_ETOOBIG;
	if (evbuffer_get_length(out) > P2P_MAX_OUTQ) {
		p2p_peer_close(peer, IOLM_ENODE_SLOW, "output queue over 64 MiB");
		return IOLM_ENODE_SLOW;
	}
	if (peer->tx_ctr == UINT64_MAX) { /* never in practice: 2^64 frames */
		p2p_peer_close(peer, IOLM_ESTATE, "frame counter exhausted");
		return IOLM_ESTATE;
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)total, v, 1) != 1 || v->iov_len < total)
		return IOLM_ENOMEM;
	put_be32(v->iov_base, (uint32_t)(len + P2P_TAG_LEN));
	return IOLM_OK;
}

/* The sealed frame of len plaintext bytes is in v: queue it. */
static int frame_end(node_peer *peer, struct evbuffer_iovec *v, size_t len)
{
	node_p2p *p = peer->p2p;
	size_t total = 4 + len + P2P_TAG_LEN;

	v->iov_len = total;
	if (evbuffer_commit_space(bufferevent_get_output(peer->bev), v, 1) != 0)
		return IOLM_ENOMEM;
	peer->tx_ctr++;
	if (peer->state == P2P_READY) /* the Auth record is handshake, not a frame */
		p->stats.frames_out++;
	p->stats.bytes_out += total;
	return IOLM_OK;
}

int p2p_wire_write(node_peer *peer, const uint8_t *pt, size_t len)
{
	return p2p_wire_write2(peer, pt, len, NULL, 0);
}

int p2p_wire_write2(node_peer *peer, const uint8_t *hdr, size_t hlen, const uint8_t *body,
		    size_t blen)
{
	uint8_t nonce[P2P_AEAD_NONCE_LEN];
	struct evbuffer_iovec v;
	int err = frame_begin(peer, hlen + blen, &v);

	if (err)
		return err;
	make_nonce(nonce, peer->tx_ctr);
	if ((err = p2p_aead_seal(peer->tx, (uint8_t *)v.iov_base + 4, nonce, hdr, hlen, body,
				 blen)))
		return err; /* the space reserved is not committed: nothing is queued */
	return frame_end(peer, &v, hlen + blen);
}

/* Decrypt the clen bytes of ciphertext at c (in rxbuf, or in the input buffer) into
 * rxbuf. */
static int wire_open(node_peer *peer, const uint8_t *c, size_t clen, size_t *len)
{
	uint8_t nonce[P2P_AEAD_NONCE_LEN];
	int err;

	*len = 0;
	if (clen < P2P_TAG_LEN || peer->rx_ctr == UINT64_MAX)
		return IOLM_ENODE_FRAME;
	make_nonce(nonce, peer->rx_ctr);
	if ((err = p2p_aead_open(peer->rx, peer->p2p->rxbuf, nonce, c, clen)))
		return err;
	peer->rx_ctr++;
	*len = clen - P2P_TAG_LEN;
	return IOLM_OK;
}

/* The Hello check that needs no keys: version, chain, key formats, self, bans. */
static int hello_check(node_peer *peer, const Iolm__Hello *h, uint32_t *points)
{
	node_p2p *p = peer->p2p;

	*points = 0;
	if (h->version != NODE_P2P_VERSION)
		return IOLM_ENODE_VERSION;
	if (!h->chain_id || strcmp(h->chain_id, p->chain_id) != 0)
		return IOLM_ENODE_CHAIN;
	if (h->node_key.len != IOLM_PUBKEY_LEN || h->kx_key.len != crypto_kx_PUBLICKEYBYTES ||
	    iolm_pubkey_check(h->node_key.data) != IOLM_OK) {
		*points = P2P_PTS_HANDSHAKE;
		return IOLM_ENODE_HANDSHAKE;
	}
	if (sodium_memcmp(h->node_key.data, iolm_key_pub(&p->key), IOLM_PUBKEY_LEN) == 0)
		return IOLM_ENODE_SELF;
	if (p2p_banned_key(p, h->node_key.data))
		return IOLM_ENODE_BANNED;
	return IOLM_OK;
}

/* Their Hello (len bytes in rxbuf): check it, derive the session keys, send our Auth. */
static void on_hello(node_peer *peer, size_t len)
{
	node_p2p *p = peer->p2p;
	Iolm__Hello *h = NULL;
	Iolm__Auth a = IOLM__AUTH__INIT;
	uint8_t theirs[4];
	uint8_t sig[IOLM_SIG_LEN];
	uint8_t abuf[P2P_MAX_AUTH_BYTES];
	iolm_hash_ctx hc;
	uint8_t rx_key[crypto_kx_SESSIONKEYBYTES], tx_key[crypto_kx_SESSIONKEYBYTES];
	uint32_t points = 0;
	int err, rc;

	err = iolm_decode_hello(&h, p->rxbuf, len, IOLM_MAX_HANDSHAKE_BYTES);
	if (err) {
		points = P2P_PTS_HANDSHAKE;
		goto fail;
	}
	err = hello_check(peer, h, &points);
	if (err == IOLM_ENODE_SELF && peer->persist)
		peer->persist->disabled = 1; /* do not keep dialling ourselves */
	if (err)
		goto fail;
	memcpy(peer->key, h->node_key.data, IOLM_PUBKEY_LEN);
	peer->have_key = 1;
	peer->height = h->height;
	if (peer->outbound)
		rc = crypto_kx_client_session_keys(rx_key, tx_key, peer->kx_pk, peer->kx_sk,
						   h->kx_key.data);
	else
		rc = crypto_kx_server_session_keys(rx_key, tx_key, peer->kx_pk, peer->kx_sk,
						   h->kx_key.data);
	sodium_memzero(peer->kx_sk, sizeof peer->kx_sk);
	if (rc != 0) { /* their X25519 key is a low-order point */
		err = IOLM_ENODE_HANDSHAKE;
		points = P2P_PTS_HANDSHAKE;
		goto fail;
	}
	err = p2p_aead_create(&peer->rx, rx_key);
	if (!err)
		err = p2p_aead_create(&peer->tx, tx_key);
	sodium_memzero(rx_key, sizeof rx_key);
	sodium_memzero(tx_key, sizeof tx_key);
	if (err)
		goto fail;
	/* Transcript: both Hellos as they crossed the wire, length prefixes included, the
	 * dialer's first. It binds each side's ephemeral key to its node key. */
	put_be32(theirs, (uint32_t)len);
	iolm_hash_init(&hc, IOLM_TAG_HANDSHAKE, IOLM_HASH_LEN);
	if (!peer->outbound) {
		iolm_hash_update(&hc, theirs, 4);
		iolm_hash_update(&hc, p->rxbuf, len);
	}
	iolm_hash_update(&hc, peer->hello_mine, peer->hello_mine_len);
	if (peer->outbound) {
		iolm_hash_update(&hc, theirs, 4);
		iolm_hash_update(&hc, p->rxbuf, len);
	}
	iolm_hash_final(&hc, peer->transcript);
	err = iolm_sign(&p->key, sig, peer->transcript);
	if (err)
		goto fail;
	a.signature.data = sig;
	a.signature.len = sizeof sig;
	assert(iolm__auth__get_packed_size(&a) <= sizeof abuf);
	len = iolm__auth__pack(&a, abuf);
	peer->state = P2P_AUTH;
	err = p2p_wire_write(peer, abuf, len);
	if (err)
		goto fail;
	goto out;
fail:
	if (points)
		p2p_peer_misbehave(peer, points, err, "bad hello");
	else {
		/* Not an attack (another chain, ourselves, a ban): say why once, plainly. */
		IOLM_INFO(P2P_LOG, "refused %s: %s", peer->addr, iolm_strerror(err));
		p2p_peer_close(peer, err, "hello refused");
	}
out:
	iolm_codec_free((ProtobufCMessage *)h);
}

/* Their Auth, the first encrypted record: the transcript signed by their node key. */
static void on_auth(node_peer *peer, const uint8_t *c, size_t clen)
{
	node_p2p *p = peer->p2p;
	ProtobufCMessage *m = NULL;
	const Iolm__Auth *a;
	size_t len;
	int err;

	err = wire_open(peer, c, clen, &len);
	if (err) {
		p2p_peer_misbehave(peer, P2P_PTS_AEAD, err, "auth frame fails authentication");
		goto out;
	}
	err = iolm_codec_decode(&m, &iolm__auth__descriptor, p->rxbuf, len, P2P_MAX_AUTH_BYTES);
	if (err) {
		p2p_peer_misbehave(peer, P2P_PTS_HANDSHAKE, err, "malformed auth");
		goto out;
	}
	a = (const Iolm__Auth *)m;
	if (a->signature.len != IOLM_SIG_LEN ||
	    iolm_verify(a->signature.data, peer->transcript, peer->key) != IOLM_OK) {
		p2p_peer_misbehave(peer, P2P_PTS_BADSIG, IOLM_EBADSIG, "auth signature");
		goto out;
	}
	p2p_peer_ready(peer);
out:
	iolm_codec_free(m);
}

/* An ordinary frame from a ready peer. */
static void on_frame(node_peer *peer, const uint8_t *c, size_t clen)
{
	node_p2p *p = peer->p2p;
	Iolm__Frame *f = NULL, block;
	const Iolm__Frame *msg = &block;
	Iolm__ArtBlock ab;
	size_t len;
	int err;

	err = wire_open(peer, c, clen, &len);
	if (err) {
		p->stats.bad_frames++;
		p2p_peer_misbehave(peer, P2P_PTS_AEAD, err, "frame fails authentication");
		goto out;
	}
	/* An artifact block is read in place (p2p_block.c), its data left in rxbuf; every
	 * other frame goes through the codec. */
	if (!p2p_block_parse(p->rxbuf, len, &block, &ab)) {
		err = iolm_decode_frame(&f, p->rxbuf, len, p->max_frame);
		if (!err && f->msg_case == IOLM__FRAME__MSG__NOT_SET)
			err = IOLM_EUNKNOWN;
		if (err) {
			p->stats.bad_frames++;
			p2p_peer_misbehave(peer, P2P_PTS_DECODE, err, "frame does not decode");
			goto out;
		}
		msg = f;
	}
	p->stats.frames_in++;
	if (p2p_frame_is_gossip(msg) && p2p_seen_check_insert(&p->seen, p->rxbuf, len)) {
		p->stats.dup_dropped++;
		goto out;
	}
	if (msg->msg_case == IOLM__FRAME__MSG_STATUS && msg->status)
		peer->height = msg->status->height;
	if (p->cb.on_frame)
		p->cb.on_frame(p->cb.ctx, peer, msg, p->rxbuf, len);
out:
	iolm_codec_free((ProtobufCMessage *)f);
}

/* Largest record body (after the length) allowed in the peer's current state. */
static size_t record_cap(const node_peer *peer)
{
	switch (peer->state) {
	case P2P_HELLO:
		return IOLM_MAX_HANDSHAKE_BYTES;
	case P2P_AUTH:
		return P2P_MAX_AUTH_BYTES + P2P_TAG_LEN;
	default:
		return peer->p2p->max_frame + P2P_TAG_LEN;
	}
}

/* Read what the socket holds into in, up to WIRE_FILL_BYTES and never past high bytes
 * buffered. Nothing to read is not an error; end of stream is left to the bufferevent,
 * which reads it again and reports it; a failed read closes the peer. */
static void wire_fill(node_peer *peer, struct evbuffer *in, size_t high)
{
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t have = evbuffer_get_length(in), want, left;
	evutil_socket_t fd = bufferevent_getfd(peer->bev);
	ssize_t r;
	int n, used = 0;

	if (fd < 0 || have >= high)
		return;
	want = high - have < WIRE_FILL_BYTES ? high - have : WIRE_FILL_BYTES;
	/* A socket bufferevent keeps the end of its input frozen except while it reads
	 * into it itself; this is such a read. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
	if (n <= 0)
		goto out; /* out of memory: the bufferevent's own 4 KiB reads go on */
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do
		r = readv(fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		evbuffer_freeze(in, 0);
		p2p_peer_close(peer, IOLM_EIO, "read failed");
		return;
	}
	left = r > 0 ? (size_t)r : 0;
	for (; used < n && left; used++) {
		if (v[used].iov_len > left)
			v[used].iov_len = left;
		left -= v[used].iov_len;
	}
	if (evbuffer_commit_space(in, v, used) != 0) {
		evbuffer_freeze(in, 0);
		p2p_peer_close(peer, IOLM_EIO, "input buffer");
		return;
	}
out:
	evbuffer_freeze(in, 0);
}

void p2p_wire_read_cb(struct bufferevent *bev, void *ctx)
{
	node_peer *peer = ctx;
	node_p2p *p = peer->p2p;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t high = 4 + p->max_frame + P2P_TAG_LEN;

	wire_fill(peer, in, high);
	while (peer->state != P2P_CLOSED) {
		uint8_t hdr[4];
		struct evbuffer_iovec v;
		const uint8_t *c;
		size_t avail = evbuffer_get_length(in), n;

		if (avail < 4)
			return;
		if (evbuffer_copyout(in, hdr, 4) != 4)
			return;
		n = get_be32(hdr);
		if (n > record_cap(peer)) {
			if (peer->state == P2P_READY)
				p->stats.bad_frames++;
			p2p_peer_misbehave(peer, P2P_PTS_OVERSIZE, IOLM_ETOOBIG,
					   "length prefix over the cap");
			return;
		}
		if (avail < 4 + n)
			return;
		/* In one piece (and encrypted): decrypt from where it lies. Otherwise copy. */
		if (peer->state != P2P_HELLO && evbuffer_peek(in, (ev_ssize_t)(4 + n), NULL, &v, 1) == 1 &&
		    v.iov_len >= 4 + n) {
			c = (const uint8_t *)v.iov_base + 4;
		} else {
			if (evbuffer_drain(in, 4) != 0 || evbuffer_remove(in, p->rxbuf, n) != (int)n) {
				p2p_peer_close(peer, IOLM_EIO, "input buffer");
				return;
			}
			c = p->rxbuf;
			avail = 0; /* consumed */
		}
		p->stats.bytes_in += 4 + n;
		switch (peer->state) {
		case P2P_HELLO:
			on_hello(peer, n);
			break;
		case P2P_AUTH:
			on_auth(peer, c, n);
			break;
		case P2P_READY:
			on_frame(peer, c, n);
			break;
		case P2P_CLOSED:
			return;
		}
		if (avail && evbuffer_drain(in, 4 + n) != 0) {
			p2p_peer_close(peer, IOLM_EIO, "input buffer");
			return;
		}
	}
}
