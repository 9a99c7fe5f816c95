/* Frames from peers: transactions, consensus messages, status, and block sync. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "node/node_int.h"

#define MOD "net"

/* Misbehaviour points (the transport bans at its threshold, 100 by default). */
#define PTS_BAD_MESSAGE 20
#define PTS_BAD_BLOCK 50
#define SYNC_RETRY_MS 2000

/* Wrap an encoded consensus message in a Frame and send it to every peer. */
int node_broadcast_msg(struct node *n, enum cons_msg_kind kind, const uint8_t *msg, size_t len)
{
	Iolm__Frame f = IOLM__FRAME__INIT;
	ProtobufCMessage *m = NULL;
	int err;

	switch (kind) {
	case CONS_MSG_PROPOSAL:
		err = iolm_codec_decode(&m, &iolm__proposal__descriptor, msg, len, IOLM_MAX_FRAME_BYTES);
		f.msg_case = IOLM__FRAME__MSG_PROPOSAL;
		f.proposal = (Iolm__Proposal *)m;
		break;
	case CONS_MSG_VOTE:
		err = iolm_codec_decode(&m, &iolm__vote__descriptor, msg, len, IOLM_MAX_VOTE_BYTES);
		f.msg_case = IOLM__FRAME__MSG_VOTE;
		f.vote = (Iolm__Vote *)m;
		break;
	case CONS_MSG_EVIDENCE:
		err = iolm_codec_decode(&m, &iolm__evidence__descriptor, msg, len, 4096);
		f.msg_case = IOLM__FRAME__MSG_EVIDENCE;
		f.evidence = (Iolm__Evidence *)m;
		break;
	default:
		return IOLM_EINVAL;
	}
	if (err)
		return err; /* bytes from our own engine: does not happen */
	err = node_p2p_broadcast(n->p2p, &f, NULL);
	iolm_codec_free(m);
	/* No peer yet is not a failure: rebroadcast and sync cover latecomers. */
	return err == IOLM_ETOOBIG ? err : IOLM_OK;
}

void node_send_status(struct node *n, node_peer *to)
{
	ledger_head h;
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__StatusMsg s = IOLM__STATUS_MSG__INIT;
	if (ledger_get_head(n->l, &h))
		return;
	s.height = h.height;
	s.last_block_id.data = h.block_id;
	s.last_block_id.len = 32;
	f.msg_case = IOLM__FRAME__MSG_STATUS;
	f.status = &s;
	for (size_t i = 0;; i++) {
		node_peer *p = node_p2p_peer(n->p2p, i);
		if (!p)
			break;
		if ((!to || p == to) && node_p2p_send(n->p2p, p, &f))
			IOLM_DEBUG(MOD, "status to %s not sent", node_peer_addr(p));
	}
}

/* ---- transactions */

int node_submit_tx(void *ctx, const uint8_t *raw, size_t len, uint8_t id[32])
{
	struct node *n = ctx;
	Iolm__Tx *tx;
	int err = ledger_mempool_add(n->mp, raw, len, node_account, n, id);
	if (err)
		return err;
	/* Admitted: gossip it. The bytes were just decoded by the mempool. */
	if (iolm_decode_tx(&tx, raw, len, IOLM_MAX_TX_BYTES) == IOLM_OK) {
		Iolm__Frame f = IOLM__FRAME__INIT;
		f.msg_case = IOLM__FRAME__MSG_TX;
		f.tx = tx;
		if (node_p2p_broadcast(n->p2p, &f, NULL))
			IOLM_DEBUG(MOD, "transaction not gossiped");
		iolm_codec_free(&tx->base);
	}
	return IOLM_OK;
}

/* Errors that say a peer sent something malformed or forged, as opposed to something
 * merely stale or not applicable to our state. */
static int is_forged(int err)
{
	switch (err) {
	case IOLM_EDECODE:
	case IOLM_ENONCANON:
	case IOLM_EUNKNOWN:
	case IOLM_ETOOBIG:
	case IOLM_EBADSIG:
	case IOLM_ELEDGER_SIGNATURE:
	case IOLM_ELEDGER_SENDER:
	case IOLM_ECONS_VOTE:
	case IOLM_ECONS_PROPOSAL:
	case IOLM_ECONS_BLOCKID:
	case IOLM_ECONS_PROPOSER:
	case IOLM_ECONS_VALIDATOR:
		return 1;
	default:
		return 0;
	}
}

static node_peer *peer_by_key(struct node *n, const uint8_t key[32])
{
	for (size_t i = 0;; i++) {
		node_peer *p = node_p2p_peer(n->p2p, i);
		if (!p || memcmp(node_peer_key(p), key, 32) == 0)
			return p;
	}
}

/* A gossiped transaction goes to the verification pool first (signature checks off the
 * loop); node_on_verified() admits it on the loop afterwards. Tagged with the sender's
 * node key, since the peer may be gone by then. */
static void on_tx(struct node *n, node_peer *peer, const uint8_t *raw, size_t len,
		  const Iolm__Tx *tx)
{
	uint8_t *bytes;
	size_t blen = iolm_codec_size(&tx->base);
	(void)raw;
	(void)len;
	if (blen > IOLM_MAX_TX_BYTES) {
		node_p2p_penalize(n->p2p, peer, PTS_BAD_MESSAGE, "oversized transaction");
		return;
	}
	bytes = malloc(blen ? blen : 1);
	if (!bytes)
		return;
	protobuf_c_message_pack(&tx->base, bytes);
	int err = node_vpool_submit(n->vpool, bytes, blen, node_peer_key(peer), 0);
	free(bytes);
	if (err)
		IOLM_DEBUG(MOD, "gossiped transaction dropped: %s", iolm_strerror(err));
}

int node_submit_tx_start(void *ctx, const uint8_t *raw, size_t len, uint64_t token)
{
	static const uint8_t no_peer[32];
	struct node *n = ctx;
	assert(token != 0);
	return node_vpool_submit(n->vpool, raw, len, no_peer, token);
}

void node_on_verified(void *ctx, const uint8_t *raw, size_t len, const uint8_t tag[32],
		      uint64_t token, int err)
{
	struct node *n = ctx;
	node_peer *peer;
	uint8_t id[32];
	if (token) { /* POST /tx: admitted (the signature is cached now) and answered */
		if (!err)
			err = node_submit_tx(n, raw, len, id);
		if (n->rpc)
			node_rpc_submit_done(n->rpc, token, err, id);
		return;
	}
	peer = peer_by_key(n, tag);
	if (!err)
		err = ledger_mempool_add(n->mp, raw, len, node_account, n, id);
	if (err) {
		if (peer && is_forged(err))
			node_p2p_penalize(n->p2p, peer, PTS_BAD_MESSAGE, iolm_strerror(err));
		return;
	}
	/* Admitted: pass it on. The canonical re-encoding is the frame peers already saw,
	 * so their seen-caches drop echoes. */
	Iolm__Tx *tx;
	if (iolm_decode_tx(&tx, raw, len, IOLM_MAX_TX_BYTES) == IOLM_OK) {
		Iolm__Frame f = IOLM__FRAME__INIT;
		f.msg_case = IOLM__FRAME__MSG_TX;
		f.tx = tx;
		if (node_p2p_broadcast(n->p2p, &f, peer))
			IOLM_DEBUG(MOD, "relay failed");
		iolm_codec_free(&tx->base);
	}
}

/* ---- consensus messages */

/* The height a vote or proposal is for (its signed body's), or 0 when it does not decode. */
static uint64_t msg_height(const ProtobufCMessage *m, int is_vote)
{
	uint64_t h = 0;
	if (is_vote) {
		const Iolm__Vote *v = (const Iolm__Vote *)m;
		Iolm__VoteBody *b;
		if (iolm_decode_vote_body(&b, v->body.data, v->body.len, IOLM_MAX_VOTE_BYTES) == 0) {
			h = b->height;
			iolm_codec_free(&b->base);
		}
	} else {
		const Iolm__Proposal *p = (const Iolm__Proposal *)m;
		Iolm__ProposalBody *b;
		if (iolm_decode_proposal_body(&b, p->body.data, p->body.len, IOLM_MAX_VOTE_BYTES) ==
		    0) {
			h = b->height;
			iolm_codec_free(&b->base);
		}
	}
	return h;
}

/* A verified message for the height after the engine's: keep it for when the engine gets
 * there (the oldest goes when the buffer is full). Messages from further ahead are not
 * kept: a node that far behind catches up by block sync, and replaying them at every
 * synced block would cost a signature check each. */
static void future_keep(struct node *n, const uint8_t *msg, size_t len, uint64_t height,
			int is_vote)
{
	if (len > FUTURE_MAX_BYTES || height != cons_engine_height(n->eng) + 1)
		return;
	while (n->n_future &&
	       (n->n_future == FUTURE_MAX_MSGS || n->future_bytes + len > FUTURE_MAX_BYTES)) {
		n->future_bytes -= n->future[0].len;
		free(n->future[0].msg);
		memmove(n->future, n->future + 1, --n->n_future * sizeof *n->future);
	}
	if (!n->future && !(n->future = calloc(FUTURE_MAX_MSGS, sizeof *n->future)))
		return;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, msg, len);
	n->future[n->n_future++] = (struct node_future){ copy, len, height, is_vote };
	n->future_bytes += len;
}

void node_future_clear(struct node *n)
{
	for (size_t i = 0; i < n->n_future; i++)
		free(n->future[i].msg);
	free(n->future);
	n->future = NULL;
	n->n_future = n->future_bytes = 0;
}

void node_future_replay(struct node *n)
{
	uint64_t h = cons_engine_height(n->eng);
	struct node_future *kept = n->future;
	size_t nk = n->n_future;
	n->future = NULL;
	n->n_future = n->future_bytes = 0;
	for (size_t i = 0; i < nk; i++) {
		const struct node_future *m = &kept[i];
		if (m->height == h) {
			int err = m->is_vote ? cons_engine_on_vote(n->eng, m->msg, m->len)
					     : cons_engine_on_proposal(n->eng, m->msg, m->len);
			(void)err; /* verified when kept; stale now at worst */
		} else if (m->height > h) {
			future_keep(n, m->msg, m->len, m->height, m->is_vote);
		}
		free(m->msg);
	}
	free(kept);
}

static void on_consensus(struct node *n, node_peer *peer, const uint8_t *raw, size_t len,
			 const ProtobufCMessage *m, int is_vote)
{
	size_t blen = iolm_codec_size(m);
	uint8_t *bytes = malloc(blen ? blen : 1);
	int err;
	if (!bytes)
		return;
	protobuf_c_message_pack(m, bytes);
	err = is_vote ? cons_engine_on_vote(n->eng, bytes, blen)
		      : cons_engine_on_proposal(n->eng, bytes, blen);
	if (err == IOLM_ECONS_FUTURE)
		future_keep(n, bytes, blen, msg_height(m, is_vote), is_vote);
	free(bytes);
	if (err == IOLM_OK) {
		if (node_p2p_relay(n->p2p, raw, len, peer))
			IOLM_DEBUG(MOD, "relay failed");
	} else if (err == IOLM_ECONS_FUTURE) {
		/* We are behind the sender. */
		node_p2p_forget(n->p2p, raw, len);
		uint64_t h = cons_engine_height(n->eng) + 1;
		if (h > node_peer_height(peer))
			node_peer_set_height(peer, h);
		if (h > n->best_peer_height)
			n->best_peer_height = h;
	} else if (is_forged(err)) {
		node_p2p_penalize(n->p2p, peer, PTS_BAD_MESSAGE, iolm_strerror(err));
	}
	if (node_drive(n))
		event_base_loopexit(n->base, NULL);
}

/* ---- block sync */

/* Ask peer for blocks from `from` on, as many as it has up to a batch: the batch is
 * done when its last block arrives, so it must not ask past the peer's height. */
static void request_blocks(struct node *n, node_peer *peer, uint64_t from)
{
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__BlockRequest r = IOLM__BLOCK_REQUEST__INIT;
	uint64_t to = from + SYNC_BATCH - 1;
	if (to > node_peer_height(peer))
		to = node_peer_height(peer);
	if (to < from)
		return;
	r.from_height = from;
	r.count = (uint32_t)(to - from + 1);
	f.msg_case = IOLM__FRAME__MSG_BLOCK_REQUEST;
	f.block_request = &r;
	if (node_p2p_send(n->p2p, peer, &f) == IOLM_OK) {
		n->sync_requested_to = to;
		n->sync_last_ms = iolm_clock_wall_ms();
	}
}

/* Behind a peer by more than the height consensus is working on: ask for blocks. One
 * batch in flight; a batch not answered in SYNC_RETRY_MS is asked for again, from the
 * best peer then. */
void node_sync_tick(struct node *n)
{
	/* decided so far, whether committed yet or waiting for its batch */
	uint64_t decided = cons_engine_height(n->eng) - 1;
	node_peer *best = NULL;
	for (size_t i = 0;; i++) {
		node_peer *p = node_p2p_peer(n->p2p, i);
		if (!p)
			break;
		if (!best || node_peer_height(p) > node_peer_height(best))
			best = p;
	}
	if (!best || node_peer_height(best) <= decided)
		return;
	if (node_peer_height(best) > n->best_peer_height)
		n->best_peer_height = node_peer_height(best);
	uint64_t now = iolm_clock_wall_ms();
	if (n->sync_requested_to > decided && now < n->sync_last_ms + SYNC_RETRY_MS)
		return; /* a batch is in flight */
	request_blocks(n, best, decided + 1);
}

static void on_block_request(struct node *n, node_peer *peer, const Iolm__BlockRequest *r)
{
	ledger_head h;
	iolm_buf block, cert;
	uint32_t count = r->count > SYNC_BATCH ? SYNC_BATCH : r->count;
	if (ledger_get_head(n->l, &h) || r->from_height == 0)
		return;
	iolm_buf_init(&block, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	for (uint64_t k = r->from_height; k <= h.height && k < r->from_height + count; k++) {
		Iolm__Frame f = IOLM__FRAME__INIT;
		Iolm__BlockResponse resp = IOLM__BLOCK_RESPONSE__INIT;
		Iolm__CommitCert *c = NULL;
		iolm_buf_reset(&block);
		iolm_buf_reset(&cert);
		if (ledger_get_block(n->l, k, &block) || ledger_get_cert(n->l, k, &cert) ||
		    iolm_decode_commit_cert(&c, cert.data, cert.len, IOLM_MAX_FRAME_BYTES))
			break;
		resp.height = k;
		resp.block.data = block.data;
		resp.block.len = block.len;
		resp.commit = c;
		f.msg_case = IOLM__FRAME__MSG_BLOCK_RESPONSE;
		f.block_response = &resp;
		int err = node_p2p_send(n->p2p, peer, &f);
		iolm_codec_free(&c->base);
		if (err)
			break;
	}
	iolm_buf_release(&block, 0);
	iolm_buf_release(&cert, 0);
}

static void on_block_response(struct node *n, node_peer *peer, const Iolm__BlockResponse *r)
{
	iolm_buf cert;
	int err;

	/* The engine's height, not the ledger's: decided blocks may wait for their batch. */
	if (r->height != cons_engine_height(n->eng) || !r->commit ||
	    r->commit->height != r->height)
		return; /* not the next block: a duplicate, or from a batch we no longer need */
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	if ((err = iolm_codec_encode(&cert, &r->commit->base)))
		goto out;
	/* The certificate alone proves the block: +2/3 of the validators signed its id. The
	 * engine checks it (signatures, quorum, that the block is the one signed). */
	n->applying_synced = 1; /* its commit may wait for a batch (node.c commit_block) */
	err = cons_engine_on_commit(n->eng, r->block.data, r->block.len, cert.data, cert.len);
	int fatal = err ? 0 : node_drive(n);
	n->applying_synced = 0;
	if (fatal) {
		event_base_loopexit(n->base, NULL);
		goto out;
	}
	if (err) {
		if (is_forged(err) || err == IOLM_ECONS_QUORUM || err == IOLM_ECONS_CERT)
			node_p2p_penalize(n->p2p, peer, PTS_BAD_BLOCK, iolm_strerror(err));
		goto out;
	}
	n->blocks_synced++;
	/* Ask for the next batch as soon as this one is used up. */
	if (r->height == n->sync_requested_to && node_peer_height(peer) > r->height)
		request_blocks(n, peer, r->height + 1);
out:
	iolm_buf_release(&cert, 0);
}

/* ---- dispatch */

void node_on_connect(void *ctx, node_peer *peer)
{
	struct node *n = ctx;
	IOLM_INFO(MOD, "peer %s connected (%zu peers)", node_peer_addr(peer),
		  node_p2p_peer_count(n->p2p));
	node_send_status(n, peer);
	node_art_net_on_connect(n->artnet, peer);
}

void node_on_disconnect(void *ctx, node_peer *peer)
{
	struct node *n = ctx;
	IOLM_INFO(MOD, "peer %s disconnected", node_peer_addr(peer));
	node_art_net_on_disconnect(n->artnet, peer);
}

void node_on_frame(void *ctx, node_peer *peer, const Iolm__Frame *f, const uint8_t *raw,
		   size_t len)
{
	struct node *n = ctx;
	if (node_art_net_on_frame(n->artnet, peer, f))
		return; /* an artifact frame: the transfer engine's */
	switch (f->msg_case) {
	case IOLM__FRAME__MSG_TX:
		on_tx(n, peer, raw, len, f->tx);
		break;
	case IOLM__FRAME__MSG_PROPOSAL:
		on_consensus(n, peer, raw, len, &f->proposal->base, 0);
		break;
	case IOLM__FRAME__MSG_VOTE:
		on_consensus(n, peer, raw, len, &f->vote->base, 1);
		break;
	case IOLM__FRAME__MSG_STATUS:
		node_peer_set_height(peer, f->status->height);
		break;
	case IOLM__FRAME__MSG_BLOCK_REQUEST:
		on_block_request(n, peer, f->block_request);
		break;
	case IOLM__FRAME__MSG_BLOCK_RESPONSE:
		on_block_response(n, peer, f->block_response);
		break;
	case IOLM__FRAME__MSG_PING: {
		Iolm__Frame pong = IOLM__FRAME__INIT;
		Iolm__Pong p = IOLM__PONG__INIT;
		p.nonce = f->ping->nonce;
		pong.msg_case = IOLM__FRAME__MSG_PONG;
		pong.pong = &p;
		if (node_p2p_send(n->p2p, peer, &pong))
			IOLM_DEBUG(MOD, "pong not sent");
		break;
	}
	case IOLM__FRAME__MSG_EVIDENCE:
		/* Recorded by our engine when it sees the conflicting votes itself; relayed
		 * so every validator does. */
		if (node_p2p_relay(n->p2p, raw, len, peer))
			IOLM_DEBUG(MOD, "relay failed");
		break;
	case IOLM__FRAME__MSG_COMMIT:
	case IOLM__FRAME__MSG_PONG:
		break;
	default:
		/* an empty frame is malformed (artifact frames were taken above) */
		if (f->msg_case == IOLM__FRAME__MSG__NOT_SET)
			node_p2p_penalize(n->p2p, peer, PTS_BAD_MESSAGE, "empty frame");
		break;
	}
}
