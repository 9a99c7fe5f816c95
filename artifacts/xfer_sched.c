/* Scheduling for the transfer engine (xfer.c describes its state and invariants): asking
 * for manifests, requests, windows, the end of a fetch and timeouts.
 *
 * Requests: a peer whose requests in flight fall to half its window is topped up
 * with the rarest wanted chunks it holds (ties: order[]), chosen in passes over
 * order[] from the first chunk not done (up to ART_XFER_MAX_WANT per pass and want),
 * each bounded to XF_SCAN candidates so one pass stays cheap on the largest artifacts.
 * Windows: a peer starts at XF_START_WINDOW requests in flight. Its delivery rate is
 * sampled once per XF_RATE_MS or two smoothed round trips, whichever is longer, when it
 * delivered something (after XF_QUEUE_MS of nothing with requests out, as zero). The
 * window is probed: from the second sample on, while it is in use, it doubles (up to
 * cfg.window), and the next sample counts only what arrives from a round trip after
 * that; if that sample is at least 3/2 of the one before the doubling (a window that
 * limited the rate doubles it), the doubling paid and the window doubles again, else it
 * goes back to what it was and stays there for XF_PROBE_MS. A far peer (where the round
 * trip, not the sender, limits the rate) so reaches the cap in a few round trips; a
 * near one, on a link that is already full, keeps a small window instead of piling
 * blocks up in buffers. The window is never more than what the peer delivers in
 * XF_QUEUE_MS at its smoothed rate (XF_MIN_WINDOW at least, cfg.window at most), so a
 * slow peer holds few requests. At the end of a fetch a peer with room and nothing
 * wanted left takes over the chunks waiting at a peer four times slower (steal_slow). */
#include "artifacts/xfer_int.h"

static void ask_manifest(art_xfer *x, int fi)
{
	struct xf_fetch *f = &x->f[fi];
	int sent = 0;
	if (f->man_asked) {
		if (x->now < f->man_sent_ms + x->cfg.timeout_ms)
			return;
		x->st.timeouts++;
		f->man_asked = 0;
	}
	/* First the peers that announced it, one at a time; then everyone at once. */
	for (int pi = 0; pi < (int)ART_XFER_MAX_PEERS && !sent; pi++) {
		struct xf_peer *p = &x->p[pi];
		if (!p->key || (f->man_tried >> pi & 1) || !xf_peer_has(p, f->id))
			continue;
		f->man_tried |= (uint64_t)1 << pi;
		if (x->cb.send_want(x->cb.ctx, p->key, f->id, 1) == IOLM_OK) {
			f->man_peer = pi;
			sent = 1;
		}
	}
	for (int pi = 0; pi < (int)ART_XFER_MAX_PEERS && !sent; pi++) {
		struct xf_peer *p = &x->p[pi];
		if (!p->key || (f->man_tried >> pi & 1))
			continue;
		for (int pj = pi; pj < (int)ART_XFER_MAX_PEERS; pj++)
			if (x->p[pj].key && !(f->man_tried >> pj & 1)) {
				f->man_tried |= (uint64_t)1 << pj;
				sent |= x->cb.send_want(x->cb.ctx, x->p[pj].key, f->id, 1) ==
					IOLM_OK;
			}
		f->man_peer = -1;
	}
	if (sent) {
		f->man_asked = 1;
		f->man_sent_ms = x->now;
	} else {
		f->man_tried = 0; /* everyone was asked: a new round on the next call */
	}
}

/* Mark the k wanted chunks cand of fetch fi in flight to peer pi and send it one ArtWant
 * for them; returns k, or 0 (and they are wanted again) when it cannot be sent. */
static size_t send_requests(art_xfer *x, int pi, int fi, const uint32_t *cand, size_t k)
{
	struct xf_peer *p = &x->p[pi];
	struct xf_fetch *f = &x->f[fi];
	if (!k)
		return 0;
	for (size_t j = 0; j < k; j++) {
		struct xf_chunk *c = &f->c[cand[j]];
		memcpy(x->ids + j * ART_ID_LEN, c->id, ART_ID_LEN);
		c->state = C_FLIGHT;
		c->owner = (uint8_t)pi;
		c->sent_ms = x->now;
		p->inflight++;
		f->in_flight++;
		x->in_flight++;
	}
	if (x->cb.send_want(x->cb.ctx, p->key, x->ids, k) != IOLM_OK) {
		for (size_t j = 0; j < k; j++)
			xf_release(x, fi, cand[j]);
		return 0;
	}
	x->st.chunks_requested += k;
	return k;
}

/* Request up to want (at most ART_XFER_MAX_WANT) of the rarest wanted chunks of fetch fi
 * that peer pi holds, in one ArtWant; returns how many were requested. */
static size_t request_rarest(art_xfer *x, int pi, int fi, size_t want)
{
	struct xf_peer *p = &x->p[pi];
	struct xf_fetch *f = &x->f[fi];
	uint32_t cand[ART_XFER_MAX_WANT], rar[ART_XFER_MAX_WANT];
	size_t k = 0, seen = 0;

	if (want > ART_XFER_MAX_WANT)
		want = ART_XFER_MAX_WANT;
	while (f->lo < f->n && f->c[f->order[f->lo]].state == C_DONE)
		f->lo++;
	for (size_t i = f->lo; i < f->n && seen < XF_SCAN; i++) {
		uint32_t ci = f->order[i];
		const struct xf_chunk *c = &f->c[ci];
		if (c->state != C_WANT || !bit_get(p->bits[fi], ci))
			continue;
		seen++;
		if (k == want && c->avail >= rar[k - 1])
			continue;
		/* Insert, keeping cand sorted by rarity, earlier chunks first among equals. */
		size_t j = k < want ? k++ : k - 1;
		while (j > 0 && rar[j - 1] > c->avail) {
			cand[j] = cand[j - 1];
			rar[j] = rar[j - 1];
			j--;
		}
		cand[j] = ci;
		rar[j] = c->avail;
		if (k == want && rar[k - 1] <= 1)
			break; /* nothing rarer than held by this peer alone */
	}
	return send_requests(x, pi, fi, cand, k);
}

/* Chunks of fetch fi that peer pi holds, in flight for at least XF_RATE_MS at a peer
 * that delivers less than a quarter of pi's rate (or nothing yet), move to pi: up to
 * want (at most ART_XFER_MAX_WANT), the old owner told to cancel them. This is the end
 * of a fetch, when pi has room and nothing wanted is left for it: the last chunks do not
 * wait on a slow peer. Rates only ever move a chunk to a faster peer, never back. */
static size_t steal_slow(art_xfer *x, int pi, int fi, size_t want)
{
	struct xf_peer *p = &x->p[pi];
	struct xf_fetch *f = &x->f[fi];
	uint32_t cand[ART_XFER_MAX_WANT];
	size_t k = 0;

	if (want > ART_XFER_MAX_WANT)
		want = ART_XFER_MAX_WANT;
	for (size_t i = f->lo, seen = 0; i < f->n && k < want && seen < XF_SCAN; i++, seen++) {
		uint32_t ci = f->order[i];
		struct xf_chunk *c = &f->c[ci];
		if (c->state != C_FLIGHT || c->owner == pi || !bit_get(p->bits[fi], ci) ||
		    x->now < c->sent_ms + XF_RATE_MS || x->p[c->owner].rate >= p->rate / 4)
			continue;
		int o = c->owner;
		xf_release(x, fi, ci);
		if (x->cb.send_cancel(x->cb.ctx, x->p[o].key, c->id, 1))
			IOLM_DEBUG(MOD, "cancel not sent");
		x->p[o].stolen_from++;
		cand[k++] = ci;
	}
	x->st.stolen += k;
	return send_requests(x, pi, fi, cand, k);
}

/* Top up peer pi's window with the rarest wanted chunks of fetch fi that it holds. Each
 * request reserves a verifier job for its block: none is made while the blocks already
 * received and the requests out would take every job (the workers are behind). */
static void top_up(art_xfer *x, int pi, int fi)
{
	struct xf_peer *p = &x->p[pi];
	int stealing = 0;

	if (!p->bits[fi] || p->inflight > p->win / 2)
		return;
	while (p->inflight < p->win) {
		size_t used = x->in_flight + art_verifier_busy(x->v), want = p->win - p->inflight;
		if (used >= XF_JOBS)
			break;
		if (want > XF_JOBS - used)
			want = XF_JOBS - used;
		if (!stealing && request_rarest(x, pi, fi, want))
			continue;
		stealing = 1; /* nothing wanted left for this peer */
		if (!p->rate || !steal_slow(x, pi, fi, want))
			break;
	}
}

/* Sample peer pi's delivery rate when a period has passed, and probe and bound its
 * window ("Windows" above). */
void xf_rate_sample(art_xfer *x, int pi)
{
	struct xf_peer *p = &x->p[pi];
	uint64_t dt = x->now > p->rate_t0 ? x->now - p->rate_t0 : 0;
	uint64_t period = 2 * p->srtt > XF_RATE_MS ? 2 * p->srtt : XF_RATE_MS;

	if (x->now < p->rate_t0) {
		p->rx_bytes = 0; /* a round trip after a doubling: still the old window's */
		return;
	}
	if (!p->rx_bytes && !p->inflight) {
		p->rate_t0 = x->now; /* idle: nothing to learn */
		return;
	}
	if (dt < period || (!p->rx_bytes && dt < XF_QUEUE_MS))
		return;
	uint64_t sample = p->rx_bytes * 1000 / dt;
	p->rate = p->rate ? (p->rate + sample) / 2 : sample;
	p->rx_bytes = 0;
	p->rate_t0 = x->now;
	p->samples++;
	uint32_t win = p->win;
	int doubled = 0;
	if (p->probe_base) {
		int paid = sample * 2 >= p->probe_base * 3;
		p->probe_base = 0;
		if (paid && win < x->cfg.window) {
			p->probe_base = sample; /* it paid: double again */
			win *= 2;
			doubled = 1;
		} else if (!paid) {
			win /= 2;               /* no gain: back, and wait */
			p->next_probe = x->now + XF_PROBE_MS;
		}
	} else if (p->samples > 1 && x->now >= p->next_probe && win < x->cfg.window &&
		   2 * p->inflight >= win) {
		p->probe_base = sample ? sample : 1;
		win *= 2;
		doubled = 1;
	}
	if (doubled)
		p->rate_t0 = x->now + p->srtt; /* sample the new window only */
	uint64_t lim = p->rate * XF_QUEUE_MS / 1000 / ART_CHUNK_AVG;
	if (win > lim) {
		win = (uint32_t)lim;
		p->probe_base = 0;
	}
	if (win < XF_MIN_WINDOW)
		win = XF_MIN_WINDOW;
	p->win = win > x->cfg.window ? x->cfg.window : win;
}

void xf_schedule(art_xfer *x)
{
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		struct xf_fetch *f = &x->f[fi];
		if (!f->used)
			continue;
		if (f->state == ART_XFER_MANIFEST)
			ask_manifest(x, fi);
		else if (f->state == ART_XFER_CHUNKS)
			for (int pi = 0; pi < (int)ART_XFER_MAX_PEERS; pi++)
				if (x->p[pi].key)
					top_up(x, pi, fi);
	}
}

/* Requests unanswered for timeout_ms go back to wanted; the slow peer keeps the chunk
 * in its set only when no other peer holds it (someone must be asked again). */
void xf_expire(art_xfer *x)
{
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		struct xf_fetch *f = &x->f[fi];
		if (!f->used || f->state != ART_XFER_CHUNKS || !f->in_flight)
			continue;
		for (size_t k = 0; k < f->n; k++) {
			struct xf_chunk *c = &f->c[k];
			if (c->state != C_FLIGHT || x->now < c->sent_ms + x->cfg.timeout_ms)
				continue;
			int o = c->owner;
			xf_release(x, fi, k);
			x->st.timeouts++;
			if (x->cb.send_cancel(x->cb.ctx, x->p[o].key, c->id, 1))
				IOLM_DEBUG(MOD, "cancel not sent");
			if (c->avail > 1)
				xf_avail_drop(x, o, fi, k);
		}
	}
}
