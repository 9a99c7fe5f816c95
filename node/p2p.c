/* P2P transport: connections, listening, dialling with backoff, duplicates, the public
 * API. The wire format lives in node/p2p_wire.c, scores/bans/dedup in node/p2p_guard.c;
 * docs/p2p.md describes the protocol. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "core/log.h"
#include "node/p2p_int.h"

#define P2P_DEFAULT_MAX_PEERS 32u
#define P2P_DEFAULT_BAN_THRESHOLD 100u
#define P2P_DEFAULT_BAN_SECONDS 600u

static void peer_event_cb(struct bufferevent *bev, short what, void *ctx);
static void persist_schedule(struct p2p_persist *ps);

/* ---------------------------------------------------------------- small helpers */

int p2p_frame_is_gossip(const Iolm__Frame *msg)
{
	switch (msg->msg_case) {
	case IOLM__FRAME__MSG_TX:
	case IOLM__FRAME__MSG_PROPOSAL:
	case IOLM__FRAME__MSG_VOTE:
	case IOLM__FRAME__MSG_COMMIT:
	case IOLM__FRAME__MSG_EVIDENCE:
		return 1;
	default:
		return 0;
	}
}

/* Address bytes (IPv4 as IPv4-mapped IPv6) and "host:port" text of a socket address. */
static void sockaddr_describe(const struct sockaddr *sa, uint8_t ip[16], char addr[P2P_ADDR_MAX])
{
	char host[INET6_ADDRSTRLEN] = "?";

	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof sin);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &sin.sin_addr, 4);
		evutil_inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
		snprintf(addr, P2P_ADDR_MAX, "%s:%u", host, (unsigned)ntohs(sin.sin_port));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof sin6);
		memcpy(ip, &sin6.sin6_addr, 16);
		evutil_inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host);
		snprintf(addr, P2P_ADDR_MAX, "[%s]:%u", host, (unsigned)ntohs(sin6.sin6_port));
	} else {
		snprintf(addr, P2P_ADDR_MAX, "?");
	}
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---------------------------------------------------------------- connections */

static void reap_cb(evutil_socket_t fd, short what, void *ctx)
{
	node_p2p *p = ctx;
	size_t j = 0;

	for (size_t i = 0; i < p->n_conns; i++) {
		node_peer *peer = p->conns[i];
		if (peer->state != P2P_CLOSED) {
			p->conns[j++] = peer;
			continue;
		}
		/* Best effort to deliver what is queued (our Auth before a duplicate is
		 * dropped, so the other end resolves the duplicate the same way). */
		if (peer->connected)
			(void)evbuffer_write(bufferevent_get_output(peer->bev),
					     bufferevent_getfd(peer->bev));
		bufferevent_free(peer->bev);
		event_free(peer->hs_timer);
		p2p_wire_wipe(peer);
		sodium_memzero(peer, sizeof *peer);
		free(peer);
	}
	p->n_conns = j;
}

void p2p_peer_close(node_peer *peer, int err, const char *why)
{
	node_p2p *p = peer->p2p;
	int was_ready = peer->state == P2P_READY;

	if (peer->state == P2P_CLOSED)
		return;
	peer->state = P2P_CLOSED;
	bufferevent_disable(peer->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(peer->bev, NULL, NULL, NULL, NULL);
	evtimer_del(peer->hs_timer);
	p2p_wire_wipe(peer);
	if (was_ready) {
		p->n_ready--;
		IOLM_INFO(P2P_LOG, "disconnected %s: %s (%s)", peer->addr, why,
			  err ? iolm_strerror(err) : "closed");
	} else {
		if (peer->connected && err != IOLM_ENODE_DUP_PEER)
			p->stats.handshakes_failed++;
		IOLM_DEBUG(P2P_LOG, "handshake with %s ended: %s (%s)", peer->addr, why,
			   err ? iolm_strerror(err) : "closed");
	}
	if (peer->persist) {
		peer->persist->peer = NULL;
		if (!p->destroying)
			persist_schedule(peer->persist);
		peer->persist = NULL;
	}
	if (!p->destroying) {
		event_active(p->reap_ev, EV_TIMEOUT, 0);
		if (was_ready && p->cb.on_disconnect)
			p->cb.on_disconnect(p->cb.ctx, peer);
	}
}

void p2p_peer_misbehave(node_peer *peer, uint32_t points, int err, const char *why)
{
	if (peer->state == P2P_CLOSED)
		return;
	IOLM_WARN(P2P_LOG, "peer %s misbehaved: %s (%s), +%u", peer->addr, why,
		  iolm_strerror(err), points);
	(void)p2p_guard_score(peer->p2p, peer, points);
	p2p_peer_close(peer, err, why);
}

/* Of two connections to the same node, the one dialled by the node with the smaller key
 * survives; both ends apply the same rule, so they keep the same connection. When one node
 * dialled both (a redial while the old link looked alive), the newer survives. */
static int keeps_new(const node_peer *old, const node_peer *nw)
{
	const uint8_t *me = iolm_key_pub(&nw->p2p->key);
	const uint8_t *d_old = old->outbound ? me : old->key;
	const uint8_t *d_new = nw->outbound ? me : nw->key;
	int c = memcmp(d_new, d_old, IOLM_PUBKEY_LEN);

	return c <= 0;
}

static void move_persist(node_peer *from, node_peer *to)
{
	if (from->persist && !to->persist) {
		to->persist = from->persist;
		to->persist->peer = to;
		from->persist = NULL;
	}
}

void p2p_peer_ready(node_peer *peer)
{
	node_p2p *p = peer->p2p;

	for (size_t i = 0; i < p->n_conns; i++) {
		node_peer *o = p->conns[i];
		if (o == peer || o->state != P2P_READY || memcmp(o->key, peer->key, 32) != 0)
			continue;
		if (!keeps_new(o, peer)) {
			move_persist(peer, o);
			p2p_peer_close(peer, IOLM_ENODE_DUP_PEER, "duplicate connection");
			return;
		}
		move_persist(o, peer);
		p2p_peer_close(o, IOLM_ENODE_DUP_PEER, "replaced by a newer connection");
		if (peer->state == P2P_CLOSED) /* the callback closed it */
			return;
	}
	peer->state = P2P_READY;
	p->n_ready++;
	evtimer_del(peer->hs_timer);
	if (peer->persist)
		peer->persist->backoff_ms = p->backoff_min_ms;
	IOLM_INFO(P2P_LOG, "connected %s %s (height %llu)", peer->outbound ? "to" : "from",
		  peer->addr, (unsigned long long)peer->height);
	if (p->cb.on_connect)
		p->cb.on_connect(p->cb.ctx, peer);
}

static void hs_timeout_cb(evutil_socket_t fd, short what, void *ctx)
{
	node_peer *peer = ctx;

	if (peer->connected)
		p2p_peer_misbehave(peer, P2P_PTS_TIMEOUT, IOLM_ETIMEOUT, "handshake timeout");
	else
		p2p_peer_close(peer, IOLM_ETIMEOUT, "connect timeout");
}

/* A connection in state P2P_HELLO around bev (which it owns from here on, even on
 * failure), added to p->conns, its Hello queued and its handshake timer running. */
static int peer_new(node_peer **out, node_p2p *p, struct bufferevent *bev, int outbound,
		    const struct sockaddr *sa)
{
	node_peer *peer = NULL;
	struct timeval tv = { p->handshake_ms / 1000, (p->handshake_ms % 1000) * 1000 };
	int err = IOLM_OK;

	*out = NULL;
	if (p->n_conns == p->cap_conns) {
		err = IOLM_ENODE_FULL;
		goto fail;
	}
	peer = calloc(1, sizeof *peer);
	if (!peer) {
		err = IOLM_ENOMEM;
		goto fail;
	}
	peer->p2p = p;
	peer->bev = bev;
	peer->outbound = outbound;
	peer->connected = !outbound;
	sockaddr_describe(sa, peer->ip, peer->addr);
	peer->hs_timer = evtimer_new(p->base, hs_timeout_cb, peer);
	if (!peer->hs_timer) {
		err = IOLM_ENOMEM;
		goto fail;
	}
	bufferevent_setcb(bev, p2p_wire_read_cb, NULL, peer_event_cb, peer);
	bufferevent_setwatermark(bev, EV_READ, 4, 4 + p->max_frame + P2P_TAG_LEN);
	err = p2p_wire_send_hello(peer);
	if (err)
		goto fail;
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) != 0 || evtimer_add(peer->hs_timer, &tv)) {
		err = IOLM_EIO;
		goto fail;
	}
	p->conns[p->n_conns++] = peer;
	*out = peer;
	return IOLM_OK;
fail:
	bufferevent_free(bev);
	if (peer) {
		if (peer->hs_timer)
			event_free(peer->hs_timer);
		p2p_wire_wipe(peer);
		free(peer);
	}
	return err;
}

static void peer_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	node_peer *peer = ctx;

	if (what & BEV_EVENT_CONNECTED) {
		peer->connected = 1;
		return;
	}
	if (what & BEV_EVENT_EOF)
		p2p_peer_close(peer, IOLM_OK, "end of stream");
	else if (what & BEV_EVENT_ERROR)
		p2p_peer_close(peer, IOLM_EIO, peer->connected ? evutil_socket_error_to_string(
								  EVUTIL_SOCKET_ERROR())
							    : "connect failed");
}

/* Frames go out as soon as they are written (no Nagle delay): consensus messages are
 * small and latency-bound, and a small ArtWant behind unacknowledged data would wait for
 * the peer's delayed ACK. Best effort: a socket without it still works. */
static void no_delay(evutil_socket_t fd)
{
	int one = 1;
	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		IOLM_DEBUG(P2P_LOG, "TCP_NODELAY: %s", strerror(errno));
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *ctx)
{
	node_p2p *p = ctx;
	struct bufferevent *bev;
	node_peer *peer;
	uint8_t ip[16];
	char addr[P2P_ADDR_MAX];
	int err;

	sockaddr_describe(sa, ip, addr);
	if (p2p_banned_ip(p, ip)) {
		IOLM_DEBUG(P2P_LOG, "refused %s: %s", addr, iolm_strerror(IOLM_ENODE_BANNED));
		evutil_closesocket(fd);
		return;
	}
	if (p->n_conns >= p->max_peers) {
		IOLM_DEBUG(P2P_LOG, "refused %s: %s", addr, iolm_strerror(IOLM_ENODE_FULL));
		evutil_closesocket(fd);
		return;
	}
	no_delay(fd);
	bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	err = peer_new(&peer, p, bev, 0, sa);
	if (err)
		IOLM_WARN(P2P_LOG, "cannot accept %s: %s", addr, iolm_strerror(err));
}

/* ---------------------------------------------------------------- persistent peers */

static void persist_dial(struct p2p_persist *ps)
{
	node_p2p *p = ps->p2p;
	struct bufferevent *bev;
	node_peer *peer;
	int err;

	if (ps->disabled || ps->peer || p->destroying)
		return;
	bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		persist_schedule(ps);
		return;
	}
	err = peer_new(&peer, p, bev, 1, (const struct sockaddr *)&ps->ss);
	if (err) {
		IOLM_WARN(P2P_LOG, "cannot dial %s: %s", ps->addr, iolm_strerror(err));
		persist_schedule(ps);
		return;
	}
	peer->persist = ps;
	ps->peer = peer;
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&ps->ss, ps->sslen) != 0)
		p2p_peer_close(peer, IOLM_EIO, "connect failed"); /* reschedules */
	else
		no_delay(bufferevent_getfd(bev));
}

static void persist_timer_cb(evutil_socket_t fd, short what, void *ctx)
{
	persist_dial(ctx);
}

/* Redial after the current backoff, ±25% from randombytes so that peers that lost each
 * other together do not redial in lockstep; then double the backoff up to the maximum. */
static void persist_schedule(struct p2p_persist *ps)
{
	uint32_t b = ps->backoff_ms;
	uint32_t delay = b - b / 4 + randombytes_uniform(b / 2 + 1);
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };

	if (ps->disabled || ps->p2p->destroying)
		return;
	ps->backoff_ms = b >= P2P_BACKOFF_MAX_MS / 2 ? P2P_BACKOFF_MAX_MS : 2 * b;
	IOLM_DEBUG(P2P_LOG, "redial %s in %u ms", ps->addr, delay);
	evtimer_add(ps->timer, &tv);
}

/* ---------------------------------------------------------------- lifecycle */

static int config_copy(node_p2p *p, const node_p2p_config *cfg)
{
	int err = IOLM_OK;

	p->chain_id = dup_str(cfg->chain_id);
	p->agent = dup_str(cfg->agent ? cfg->agent : "");
	p->listen_host = dup_str(cfg->listen_host);
	if (!p->chain_id || !p->agent || (cfg->listen_host && !p->listen_host))
		return IOLM_ENOMEM;
	memcpy(&p->key, cfg->node_key, sizeof p->key);
	p->listen_port_cfg = cfg->listen_port;
	p->max_peers = cfg->max_peers ? cfg->max_peers : P2P_DEFAULT_MAX_PEERS;
	p->max_frame = cfg->max_frame ? cfg->max_frame : IOLM_MAX_FRAME_BYTES;
	if (p->max_frame > IOLM_MAX_FRAME_BYTES)
		return IOLM_EINVAL;
	p->ban_threshold = cfg->ban_threshold ? cfg->ban_threshold : P2P_DEFAULT_BAN_THRESHOLD;
	p->ban_seconds = cfg->ban_seconds ? cfg->ban_seconds : P2P_DEFAULT_BAN_SECONDS;
	p->handshake_ms = P2P_HANDSHAKE_MS;
	p->backoff_min_ms = P2P_BACKOFF_MIN_MS;
	if (cfg->n_peers) {
		p->persist = calloc(cfg->n_peers, sizeof *p->persist);
		if (!p->persist)
			return IOLM_ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct p2p_persist *ps = &p->persist[i];
		ps->p2p = p;
		ps->backoff_ms = P2P_BACKOFF_MIN_MS;
		ps->sslen = (int)sizeof ps->ss;
		if (strlen(cfg->peers[i]) >= sizeof ps->addr ||
		    evutil_parse_sockaddr_port(cfg->peers[i], (struct sockaddr *)&ps->ss,
					       &ps->sslen) != 0) {
			IOLM_ERROR(P2P_LOG, "peer address \"%s\" is not a numeric host:port",
				   cfg->peers[i]);
			return IOLM_EINVAL;
		}
		snprintf(ps->addr, sizeof ps->addr, "%s", cfg->peers[i]);
		p->n_persist++;
		ps->timer = evtimer_new(p->base, persist_timer_cb, ps);
		if (!ps->timer)
			return IOLM_ENOMEM;
	}
	return err;
}

int node_p2p_create(node_p2p **out, struct event_base *base, const node_p2p_config *cfg,
		    const node_p2p_callbacks *cb)
{
	node_p2p *p = NULL;
	int err;

	*out = NULL;
	if (!base || !cfg || !cfg->chain_id || !cfg->node_key || (cfg->n_peers && !cfg->peers))
		return IOLM_EINVAL;
	err = iolm_crypto_init();
	if (err)
		return err;
	p = calloc(1, sizeof *p);
	if (!p)
		return IOLM_ENOMEM;
	p->base = base;
	if (cb)
		p->cb = *cb;
	err = config_copy(p, cfg);
	if (err)
		goto fail;
	p->cap_conns = p->max_peers + p->n_persist;
	p->conns = calloc(p->cap_conns, sizeof *p->conns);
	p->rxbuf = malloc(p->max_frame + P2P_TAG_LEN > IOLM_MAX_HANDSHAKE_BYTES
				  ? p->max_frame + P2P_TAG_LEN
				  : IOLM_MAX_HANDSHAKE_BYTES);
	p->reap_ev = event_new(base, -1, 0, reap_cb, p);
	if (!p->conns || !p->rxbuf || !p->reap_ev) {
		err = IOLM_ENOMEM;
		goto fail;
	}
	iolm_buf_init(&p->txbuf, p->max_frame);
	err = p2p_seen_init(&p->seen);
	if (err)
		goto fail;
	*out = p;
	return IOLM_OK;
fail:
	node_p2p_destroy(p);
	return err;
}

static int listen_start(node_p2p *p)
{
	struct sockaddr_storage ss;
	int sslen = (int)sizeof ss;
	socklen_t len = sizeof ss;
	const char *hp = p->listen_host;
	int err = IOLM_OK;

	/* evutil_parse_sockaddr_port() refuses port 0 in text: parse the bare host, then
	 * set the port in the address. */
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sslen) != 0) {
		IOLM_ERROR(P2P_LOG, "listen host \"%s\" is not a numeric address", hp);
		err = IOLM_EINVAL;
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(p->listen_port_cfg);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(p->listen_port_cfg);
	p->listener = evconnlistener_new_bind(p->base, accept_cb, p,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC,
					      64, (struct sockaddr *)&ss, sslen);
	if (!p->listener) {
		IOLM_ERROR(P2P_LOG, "cannot listen on %s port %u: %s", hp,
			   (unsigned)p->listen_port_cfg, strerror(errno));
		err = IOLM_EIO;
		goto out;
	}
	if (getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&ss, &len) != 0) {
		err = IOLM_EIO;
		goto out;
	}
	p->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	IOLM_INFO(P2P_LOG, "listening on %s:%u", p->listen_host, (unsigned)p->port);
out:
	return err;
}

int node_p2p_start(node_p2p *p)
{
	int err = IOLM_OK;

	if (p->started)
		return IOLM_ESTATE;
	if (p->listen_host) {
		err = listen_start(p);
		if (err)
			return err;
	}
	p->started = 1;
	for (size_t i = 0; i < p->n_persist; i++)
		persist_dial(&p->persist[i]);
	return err;
}

void node_p2p_destroy(node_p2p *p)
{
	if (!p)
		return;
	p->destroying = 1;
	if (p->listener)
		evconnlistener_free(p->listener);
	for (size_t i = 0; i < p->n_conns; i++)
		p2p_peer_close(p->conns[i], IOLM_OK, "shutting down");
	if (p->conns)
		reap_cb(-1, 0, p);
	for (size_t i = 0; i < p->n_persist; i++)
		if (p->persist[i].timer)
			event_free(p->persist[i].timer);
	free(p->persist);
	if (p->reap_ev)
		event_free(p->reap_ev);
	free(p->conns);
	free(p->rxbuf);
	iolm_buf_release(&p->txbuf, 0);
	p2p_seen_release(&p->seen);
	iolm_key_wipe(&p->key);
	free(p->chain_id);
	free(p->agent);
	free(p->listen_host);
	sodium_memzero(p, sizeof *p);
	free(p);
}

/* ---------------------------------------------------------------- sending */

/* Encode msg into p->txbuf. */
static int encode_frame(node_p2p *p, const Iolm__Frame *msg)
{
	iolm_buf_reset(&p->txbuf);
	if (iolm_codec_size(&msg->base) > p->max_frame)
		return IOLM_ETOOBIG;
	return iolm_codec_encode(&p->txbuf, &msg->base);
}

/* An artifact block goes out from where its data lies (the store's map), behind framing
 * written by hand (p2p_block.c): the same bytes as through the codec, one copy fewer. */
static int send_block(node_p2p *p, node_peer *peer, const Iolm__ArtBlock *b)
{
	uint8_t hdr[P2P_BLOCK_HDR_MAX];
	size_t n = p2p_block_header(hdr, b->chunk_id.data, b->chunk_id.len, b->data.len);
	if (n + b->data.len > p->max_frame)
		return IOLM_ETOOBIG;
	return p2p_wire_write2(peer, hdr, n, b->data.data, b->data.len);
}

int node_p2p_send(node_p2p *p, node_peer *peer, const Iolm__Frame *msg)
{
	const Iolm__ArtBlock *b = msg->msg_case == IOLM__FRAME__MSG_ART_BLOCK ? msg->art_block : NULL;
	int err;

	if (!peer || peer->state != P2P_READY)
		return IOLM_ESTATE;
	if (b && b->chunk_id.len > 0 && b->chunk_id.len <= P2P_BLOCK_ID_MAX && b->data.len > 0 &&
	    !b->base.n_unknown_fields)
		return send_block(p, peer, b);
	err = encode_frame(p, msg);
	if (err)
		return err;
	if (p2p_frame_is_gossip(msg))
		(void)p2p_seen_check_insert(&p->seen, p->txbuf.data, p->txbuf.len);
	return p2p_wire_write(peer, p->txbuf.data, p->txbuf.len);
}

/* Write len bytes to every ready peer but except. A peer dropped for a full queue is not
 * the sender's error: the others still get the frame. */
static int write_all(node_p2p *p, const uint8_t *raw, size_t len, node_peer *except)
{
	for (size_t i = 0; i < p->n_conns; i++) {
		node_peer *peer = p->conns[i];
		if (peer == except || peer->state != P2P_READY)
			continue;
		int err = p2p_wire_write(peer, raw, len);
		if (err && err != IOLM_ENODE_SLOW)
			return err;
	}
	return IOLM_OK;
}

int node_p2p_broadcast(node_p2p *p, const Iolm__Frame *msg, node_peer *except)
{
	int err = encode_frame(p, msg);

	if (err)
		return err;
	if (p2p_frame_is_gossip(msg))
		(void)p2p_seen_check_insert(&p->seen, p->txbuf.data, p->txbuf.len);
	return write_all(p, p->txbuf.data, p->txbuf.len, except);
}

int node_p2p_relay(node_p2p *p, const uint8_t *raw, size_t len, node_peer *from)
{
	if (len > p->max_frame)
		return IOLM_ETOOBIG;
	return write_all(p, raw, len, from);
}

void node_p2p_forget(node_p2p *p, const uint8_t *raw, size_t len)
{
	p2p_seen_forget(&p->seen, raw, len);
}

void node_p2p_penalize(node_p2p *p, node_peer *peer, uint32_t points, const char *reason)
{
	if (!peer || peer->state == P2P_CLOSED)
		return;
	IOLM_WARN(P2P_LOG, "peer %s penalized +%u: %s", peer->addr, points,
		  reason ? reason : "");
	if (p2p_guard_score(p, peer, points))
		p2p_peer_close(peer, IOLM_ENODE_BANNED, reason ? reason : "banned");
}

/* ---------------------------------------------------------------- accessors */

uint16_t node_p2p_port(const node_p2p *p)
{
	return p->port;
}

void node_p2p_set_height(node_p2p *p, uint64_t height)
{
	p->height = height;
}

size_t node_p2p_peer_count(const node_p2p *p)
{
	return p->n_ready;
}

node_peer *node_p2p_peer(node_p2p *p, size_t i)
{
	for (size_t k = 0; k < p->n_conns; k++) {
		if (p->conns[k]->state != P2P_READY)
			continue;
		if (i-- == 0)
			return p->conns[k];
	}
	return NULL;
}

const uint8_t *node_peer_key(const node_peer *peer)
{
	return peer->key;
}

const char *node_peer_addr(const node_peer *peer)
{
	return peer->addr;
}

uint64_t node_peer_height(const node_peer *peer)
{
	return peer->height;
}

void node_peer_set_height(node_peer *peer, uint64_t height)
{
	peer->height = height;
}

int node_peer_outbound(const node_peer *peer)
{
	return peer->outbound;
}

void node_p2p_get_stats(const node_p2p *p, node_p2p_stats *out)
{
	*out = p->stats;
}

void p2p_test_tune(node_p2p *p, int ban_loopback, uint32_t handshake_ms, uint32_t backoff_ms)
{
	p->ban_loopback = ban_loopback;
	if (handshake_ms)
		p->handshake_ms = handshake_ms;
	if (backoff_ms) {
		p->backoff_min_ms = backoff_ms;
		for (size_t i = 0; i < p->n_persist; i++)
			p->persist[i].backoff_ms = backoff_ms;
	}
}
