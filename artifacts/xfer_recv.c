/* The transfer engine's receiving side (xfer.h, docs/artifacts.md "Transfer"): a
 * manifest is checked and stored at once; a chunk block is copied into a verifier job
 * (artifacts/verify.c), and when the workers have hashed it (and stored it if it
 * matched), xf_drain marks it done in every fetch that lists it, or refuses it and
 * penalizes its sender. A chunk being verified is in state C_VERIFY, owned by its
 * sender's slot; the job remembers the slot's generation, so a result for a peer that
 * has left since penalizes nobody. */
#include "artifacts/xfer_int.h"

void xf_on_manifest(art_xfer *x, int pi, int fi, const uint8_t *data, size_t len)
{
	struct xf_fetch *f = &x->f[fi];
	struct xf_peer *p = &x->p[pi];
	Iolm__Manifest *m = NULL;
	uint8_t got[ART_ID_LEN];
	int err;

	if (f->man_peer == pi)
		f->man_asked = 0;
	if (len == 0) {
		x->st.not_here++;
		xf_have_drop(p, f->id);
		return;
	}
	if (art_manifest_decode(&m, got, data, len) != IOLM_OK ||
	    memcmp(got, f->id, ART_ID_LEN) != 0) {
		x->st.corrupt++;
		xf_have_drop(p, f->id);
		x->cb.penalize(x->cb.ctx, p->key, ART_XFER_PTS_CORRUPT,
			       "artifact manifest does not hash to its id");
		goto out;
	}
	iolm_codec_free((ProtobufCMessage *)m);
	m = NULL;
	if ((err = art_store_put_manifest(x->s, got, data, len, f->pin))) {
		xf_fetch_finish(x, fi, err);
		goto out;
	}
	xf_have_put(p, f->id, 1);
	f->man_asked = 0;
	if ((err = xf_fetch_load(x, fi)))
		xf_fetch_finish(x, fi, err);
out:
	iolm_codec_free((ProtobufCMessage *)m);
}

/* Chunk id of fetch fi when that fetch is in its chunk phase and lists it (*k its
 * index), else NULL. */
static struct xf_chunk *listed(art_xfer *x, int fi, const uint8_t *id, size_t *k)
{
	struct xf_fetch *f = &x->f[fi];
	long i;
	if (!f->used || f->state != ART_XFER_CHUNKS || (i = xf_chunk_find(f, id)) < 0)
		return NULL;
	*k = (size_t)i;
	return &f->c[i];
}

/* Chunk id is stored: done in every fetch that lists it; a request for it still out to
 * a peer other than from (-1: any) is cancelled. Returns how many fetches it completed
 * a chunk of (0: a duplicate). */
static int chunk_stored(art_xfer *x, int from, const uint8_t *id)
{
	int marked = 0;
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		struct xf_fetch *f = &x->f[fi];
		size_t k;
		struct xf_chunk *c = listed(x, fi, id, &k);
		if (!c || c->state == C_DONE)
			continue;
		if (c->state == C_FLIGHT) {
			int o = c->owner;
			xf_release(x, fi, k);
			if (o != from && x->cb.send_cancel(x->cb.ctx, x->p[o].key, id, 1))
				IOLM_DEBUG(MOD, "cancel not sent");
		} else if (c->state == C_VERIFY) {
			f->verifying--;
		}
		c->state = C_DONE;
		f->done++;
		f->bytes_done += c->size;
		marked++;
		if (f->done < f->n)
			xf_fresh_add(x, fi, id);
		if (f->done == f->n) {
			int err = IOLM_OK;
			size_t n0, left = 0;
			/* The table says complete; the store must agree. */
			err = art_store_missing(x->s, NULL, 0, &n0, &left, f->id);
			xf_fetch_finish(x, fi, err ? err : left ? IOLM_EART_MISSING : IOLM_OK);
		}
	}
	return marked;
}

/* How chunk_refused() treats peer slot pi. */
enum {
	REF_VERIFY = 1,              /* its block failed verification: C_VERIFY goes too */
	REF_DROP = 2,                /* no longer believed to hold the chunk */
};

/* Chunk id goes back to wanted wherever peer slot pi owns it in flight (and verifying,
 * with REF_VERIFY), in every fetch. */
static void chunk_refused(art_xfer *x, int pi, const uint8_t *id, unsigned how)
{
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		size_t k;
		struct xf_chunk *c = listed(x, fi, id, &k);
		if (!c)
			continue;
		if (c->state == C_FLIGHT && c->owner == pi) {
			xf_release(x, fi, k);
		} else if (c->state == C_VERIFY && c->owner == pi && (how & REF_VERIFY)) {
			c->state = C_WANT;
			x->f[fi].verifying--;
		}
		if (how & REF_DROP)
			xf_avail_drop(x, pi, fi, k);
	}
}

/* Peer slot pi sent a block for chunk id that is not its chunk (of the wrong size, or
 * verified: that does not hash to id): penalized, and not asked for that chunk again. */
static void chunk_corrupt(art_xfer *x, int pi, const uint8_t *id, unsigned how)
{
	x->st.corrupt++;
	chunk_refused(x, pi, id, how | REF_DROP);
	x->cb.penalize(x->cb.ctx, x->p[pi].key, ART_XFER_PTS_CORRUPT,
		       "artifact chunk does not hash to its id");
}

/* A store error on chunk id fails every fetch still lacking it. */
static void chunk_failed(art_xfer *x, const uint8_t *id, int err)
{
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		size_t k;
		struct xf_chunk *c = listed(x, fi, id, &k);
		if (c && c->state != C_DONE)
			xf_fetch_finish(x, fi, err);
	}
}

/* Whether the peer that sent job j is still the one in its slot. */
static int job_peer_live(const art_xfer *x, const art_vjob *j)
{
	return x->p[j->peer_slot].key && x->gen[j->peer_slot] == j->peer_gen;
}

/* Act on the blocks the verifier has finished: the stored ones are done; the bad ones
 * are refused and their senders penalized. */
void xf_drain(art_xfer *x)
{
	art_vjob *list = art_verifier_take(x->v);
	if (!list)
		return;
	for (art_vjob *j = list; j; j = j->next) {
		int live = job_peer_live(x, j);
		if (!j->ok && live) {
			chunk_corrupt(x, j->peer_slot, j->id, REF_VERIFY);
		} else if (!j->ok) { /* the sender left: nobody to penalize */
			x->st.corrupt++;
			chunk_refused(x, j->peer_slot, j->id, REF_VERIFY);
		} else if (j->err) {
			chunk_failed(x, j->id, j->err);
		} else if (chunk_stored(x, live ? j->peer_slot : -1, j->id)) {
			x->st.chunks_received++;
			x->st.bytes_received += j->len;
		} else {
			x->st.duplicates++;
		}
	}
	art_verifier_release(x->v, list);
}

void xf_on_chunk(art_xfer *x, int pi, const uint8_t *id, const uint8_t *data, size_t len)
{
	struct xf_chunk *c = NULL;
	int fi = -1, wanted = 0;
	size_t k = 0;
	/* The first fetch still wanting it, else the last listing it. */
	for (int i = 0; i < (int)ART_XFER_MAX_FETCHES && !wanted; i++) {
		size_t ki;
		struct xf_chunk *ci = listed(x, i, id, &ki);
		if (ci) {
			fi = i;
			k = ki;
			c = ci;
			wanted = c->state == C_WANT || c->state == C_FLIGHT;
		}
	}
	if (!c || (!wanted && len)) {
		x->st.duplicates++;
		return;
	}
	struct xf_fetch *f = &x->f[fi];
	if (len == 0) { /* "not here": someone else is asked */
		x->st.not_here++;
		chunk_refused(x, pi, id, REF_DROP);
		return;
	}
	if (len != c->size) {
		chunk_corrupt(x, pi, id, 0);
		return;
	}
	art_vjob *j = art_verifier_job(x->v);
	if (!j) {
		/* Every job is taken, though requests reserve theirs: a late answer to a
		 * request given up on took this one's. Dropped like a duplicate; the chunk
		 * is wanted again. */
		x->st.duplicates++;
		chunk_refused(x, pi, id, 0);
		return;
	}
	memcpy(j->id, id, ART_ID_LEN);
	memcpy(j->data, data, len);
	j->len = (uint32_t)len;
	j->peer_slot = (uint8_t)pi;
	j->peer_gen = x->gen[pi];
	if (c->state == C_FLIGHT && c->owner == pi)
		xf_delivered(x, pi, len, c->sent_ms);
	if (c->state == C_FLIGHT) {
		int o = c->owner;
		xf_release(x, fi, k);
		if (o != pi && x->cb.send_cancel(x->cb.ctx, x->p[o].key, id, 1))
			IOLM_DEBUG(MOD, "cancel not sent");
	}
	c->state = C_VERIFY;
	c->owner = (uint8_t)pi;
	f->verifying++;
	art_verifier_submit(x->v, j);
}

