/* The transfer engine's serving side (xfer.h, docs/artifacts.md "Transfer"): wanted
 * ids queue per peer and are answered in rounds under the token buckets. */
#include "artifacts/xfer_int.h"

static int may_send(const art_xfer *x, const struct xf_peer *p)
{
	return (!x->cfg.peer_rate || p->tokens > 0) && (!x->cfg.global_rate || x->gtokens > 0);
}

/* A block sent to p: counted, and charged to the buckets. */
static void sent(art_xfer *x, struct xf_peer *p, int err, size_t len)
{
	if (err == IOLM_OK) {
		x->st.blocks_served++;
		x->st.bytes_served += len;
	}
	p->tokens -= (int64_t)len;
	x->gtokens -= (int64_t)len;
}

struct serve_ctx {
	art_xfer *x;
	struct xf_peer *p;
	const uint8_t *id;
};

static int send_stored(void *ctx, const uint8_t *data, size_t len)
{
	struct serve_ctx *sc = ctx;
	art_xfer *x = sc->x;
	sent(x, sc->p, x->cb.send_block(x->cb.ctx, sc->p->key, sc->id, data, len), len);
	return IOLM_OK;
}

/* Answer one wanted id from the store: a chunk, a manifest, or "not here". A chunk goes
 * straight from the store's map to send_block, not hashed again: the store verified it
 * when it was put, and the receiver verifies it before storing it. */
static void answer(art_xfer *x, struct xf_peer *p, const uint8_t *id)
{
	struct serve_ctx sc = { x, p, id };
	int err = art_with_chunk(x->s, id, send_stored, &sc);
	if (err == IOLM_OK)
		return;
	if (err == IOLM_EART_MISSING) {
		iolm_buf_reset(&x->buf);
		err = art_store_manifest(x->s, &x->buf, id);
		if (err == IOLM_OK && x->buf.len > x->cfg.max_block)
			err = IOLM_ETOOBIG;
	}
	if (err) {
		if (err != IOLM_ENOTFOUND && err != IOLM_ETOOBIG) {
			x->st.store_errors++;
			IOLM_WARN(MOD, "cannot serve a wanted id: %s", iolm_strerror(err));
		}
		if (x->cb.send_block(x->cb.ctx, p->key, id, NULL, 0))
			IOLM_DEBUG(MOD, "not-here not sent");
		return;
	}
	sent(x, p, x->cb.send_block(x->cb.ctx, p->key, id, x->buf.data, x->buf.len), x->buf.len);
}

/* Serve queued wants, one per peer per round, while the buckets allow. */
void xf_serve(art_xfer *x)
{
	int progress = 1;
	while (progress) {
		progress = 0;
		for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++) {
			struct xf_peer *p = &x->p[i];
			if (!p->key || !p->q_len || !may_send(x, p))
				continue;
			uint8_t id[ART_ID_LEN];
			memcpy(id, p->q + p->q_head * ART_ID_LEN, ART_ID_LEN);
			p->q_head = (p->q_head + 1) % x->cfg.serve_queue;
			p->q_len--;
			answer(x, p, id);
			progress = 1;
		}
	}
}


void art_xfer_on_want(art_xfer *x, void *peer, const uint8_t *ids, size_t n)
{
	int pi = xf_peer_find(x, peer);
	size_t dropped = 0;
	if (pi < 0)
		return;
	struct xf_peer *p = &x->p[pi];
	if (n > ART_XFER_MAX_WANT) {
		dropped += n - ART_XFER_MAX_WANT;
		n = ART_XFER_MAX_WANT;
	}
	for (size_t i = 0; i < n; i++) {
		if (p->q_len == x->cfg.serve_queue) {
			dropped++;
			continue;
		}
		size_t at = (p->q_head + p->q_len) % x->cfg.serve_queue;
		memcpy(p->q + at * ART_ID_LEN, ids + i * ART_ID_LEN, ART_ID_LEN);
		p->q_len++;
	}
	if (dropped) {
		x->st.wants_dropped += dropped;
		x->cb.penalize(x->cb.ctx, peer, ART_XFER_PTS_FLOOD, "artifact wants past the queue");
	}
	xf_serve(x);
}

void art_xfer_on_cancel(art_xfer *x, void *peer, const uint8_t *ids, size_t n)
{
	int pi = xf_peer_find(x, peer);
	if (pi < 0)
		return;
	struct xf_peer *p = &x->p[pi];
	size_t keep = 0, qn = x->cfg.serve_queue;
	/* Compact the queue in place, dropping the cancelled ids. */
	for (size_t i = 0; i < p->q_len; i++) {
		const uint8_t *e = p->q + ((p->q_head + i) % qn) * ART_ID_LEN;
		int cancelled = 0;
		for (size_t j = 0; j < n && !cancelled; j++)
			cancelled = memcmp(e, ids + j * ART_ID_LEN, ART_ID_LEN) == 0;
		if (!cancelled) {
			memmove(p->q + ((p->q_head + keep) % qn) * ART_ID_LEN, e, ART_ID_LEN);
			keep++;
		}
	}
	p->q_len = keep;
}
