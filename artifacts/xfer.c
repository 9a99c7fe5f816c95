/* The artifact transfer engine (xfer.h, docs/artifacts.md "Transfer").
 *
 * State:
 *   - peers: a fixed table of ART_XFER_MAX_PEERS slots. Each remembers the artifact ids
 *     it announced (a ring), the serving queue of ids it asked for, its rate bucket,
 *     its requests in flight, and per running fetch a bitmap over that fetch's chunks:
 *     bit k set when the peer is believed to hold chunk k.
 *   - fetches: a fixed table of ART_XFER_MAX_FETCHES. A fetch in the chunk phase holds
 *     its distinct chunks sorted by id (c[], found by binary search when a block
 *     arrives) and order[], the same chunks in manifest order rotated to start at a
 *     random chunk, which scheduling walks. (Each node starts elsewhere, so nodes
 *     fetching one artifact from the same holders ask for different chunks first and
 *     can serve each other what they got, through partial ArtHaves.)
 *     Each chunk carries its state (wanted, in flight from one peer, received from one
 *     peer and being verified, done), its size and avail, the number of peers whose
 *     bit is set: its rarity.
 * Invariants: c[k].avail equals the number of peers with bit k set; a chunk in flight
 * has exactly one owner slot and is counted once in that peer's inflight, once in the
 * fetch's in_flight and once in the engine's; f->verifying counts the chunks verifying
 * and f->done those done. Requests out plus verifier jobs taken never exceed XF_JOBS
 * when a request is made (each request reserves the job its block will need).
 *
 * Threads: the engine's state is touched only by the calling thread. The verifier's
 * workers (verify.c) see only the jobs handed to them and the store.
 *
 * Scheduling (requests, windows, timeouts) is in xfer_sched.c. Rates: a token bucket
 * per peer and a global one on bytes served, refilled by art_xfer_tick; a block is sent
 * while the buckets are positive and its size is then taken, so a bucket may go negative
 * by one block (the largest blocks, manifests, are never starved). */
#include "artifacts/xfer_int.h"

#include <sodium.h>
#include <unistd.h>

/* ---------------------------------------------------------------- small helpers */

int xf_peer_find(const art_xfer *x, const void *key)
{
	for (int i = 0; i < (int)ART_XFER_MAX_PEERS; i++)
		if (key && x->p[i].key == key)
			return i;
	return -1;
}

static int fetch_find(const art_xfer *x, const uint8_t id[ART_ID_LEN])
{
	for (int i = 0; i < (int)ART_XFER_MAX_FETCHES; i++)
		if (x->f[i].used && memcmp(x->f[i].id, id, ART_ID_LEN) == 0)
			return i;
	return -1;
}

/* Index of chunk id in f->c, or -1. */
long xf_chunk_find(const struct xf_fetch *f, const uint8_t *id)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(f->c[mid].id, id, ART_ID_LEN);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int xf_peer_has(const struct xf_peer *p, const uint8_t id[ART_ID_LEN])
{
	for (size_t i = 0; i < p->n_haves; i++)
		if (memcmp(p->haves[i].id, id, ART_ID_LEN) == 0)
			return p->haves[i].full ? 2 : 1;
	return 0;
}

void xf_have_put(struct xf_peer *p, const uint8_t id[ART_ID_LEN], int full)
{
	for (size_t i = 0; i < p->n_haves; i++)
		if (memcmp(p->haves[i].id, id, ART_ID_LEN) == 0) {
			p->haves[i].full |= (uint8_t)(full != 0);
			return;
		}
	struct xf_have *h = &p->haves[p->next_have];
	memcpy(h->id, id, ART_ID_LEN);
	h->full = (uint8_t)(full != 0);
	p->next_have = (p->next_have + 1) % ART_XFER_MAX_HAVES;
	if (p->n_haves < ART_XFER_MAX_HAVES)
		p->n_haves++;
}

void xf_have_drop(struct xf_peer *p, const uint8_t id[ART_ID_LEN])
{
	for (size_t i = 0; i < p->n_haves; i++)
		if (memcmp(p->haves[i].id, id, ART_ID_LEN) == 0)
			memset(p->haves[i].id, 0, ART_ID_LEN); /* no id has a zero prefix */
}

static size_t words(size_t n)
{
	return (n + 63) / 64;
}

#ifndef NDEBUG
/* Debug check of the availability invariant of one chunk. */
static int avail_consistent(const art_xfer *x, int fi, size_t k)
{
	unsigned cnt = 0;
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++)
		cnt += x->p[i].bits[fi] && bit_get(x->p[i].bits[fi], k);
	return cnt == x->f[fi].c[k].avail;
}
#endif

/* ---------------------------------------------------------------- availability */

/* Peer slot pi holds chunk k of fetch fi (or every chunk when k < 0). IOLM_ENOMEM when
 * its bitmap cannot be made. */
static int avail_add(art_xfer *x, int pi, int fi, long k)
{
	struct xf_fetch *f = &x->f[fi];
	struct xf_peer *p = &x->p[pi];
	if (!p->bits[fi] && !(p->bits[fi] = calloc(words(f->n) ? words(f->n) : 1, 8)))
		return IOLM_ENOMEM;
	for (size_t i = k < 0 ? 0 : (size_t)k; i < (k < 0 ? f->n : (size_t)k + 1); i++)
		if (!bit_get(p->bits[fi], i)) {
			bit_set(p->bits[fi], i);
			f->c[i].avail++;
		}
	return IOLM_OK;
}

void xf_avail_drop(art_xfer *x, int pi, int fi, size_t k)
{
	uint64_t *b = x->p[pi].bits[fi];
	if (b && bit_get(b, k)) {
		bit_clear(b, k);
		x->f[fi].c[k].avail--;
	}
	assert(avail_consistent(x, fi, k));
}

/* A chunk in flight goes back to wanted. */
void xf_release(art_xfer *x, int fi, size_t k)
{
	struct xf_chunk *c = &x->f[fi].c[k];
	assert(c->state == C_FLIGHT);
	x->p[c->owner].inflight--;
	x->f[fi].in_flight--;
	x->in_flight--;
	c->state = C_WANT;
}

/* ---------------------------------------------------------------- fetch tables */

static void table_free(art_xfer *x, int fi)
{
	struct xf_fetch *f = &x->f[fi];
	for (size_t k = 0; k < f->n; k++)
		if (f->c[k].state == C_FLIGHT)
			xf_release(x, fi, k);
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++) {
		free(x->p[i].bits[fi]);
		x->p[i].bits[fi] = NULL;
	}
	free(f->c);
	free(f->order);
	free(f->fresh);
	f->c = NULL;
	f->order = NULL;
	f->fresh = NULL;
	f->n = f->lo = 0;
	f->n_fresh = 0;
	f->verifying = 0;
}

struct sort_ent {
	uint8_t id[ART_ID_LEN];
	uint32_t pos;
	uint32_t size;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	int c = memcmp(x->id, y->id, ART_ID_LEN);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Build f's chunk table from the decoded manifest m: the distinct chunks, done when the
 * store holds them. */
static int table_build(art_xfer *x, int fi, const Iolm__Manifest *m)
{
	struct xf_fetch *f = &x->f[fi];
	size_t n = m->n_chunks, u = 0, nmiss = 0;
	struct sort_ent *e = NULL;
	uint64_t *ord = NULL;
	uint8_t *miss = NULL;
	int err = IOLM_ENOMEM;

	if (n && (!(e = malloc(n * sizeof *e)) || !(miss = malloc(n * ART_ID_LEN))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		memcpy(e[i].id, m->chunks[i]->id.data, ART_ID_LEN);
		e[i].pos = (uint32_t)i;
		e[i].size = (uint32_t)m->chunks[i]->size;
	}
	if (n)
		qsort(e, n, sizeof *e, ent_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(e[i].id, e[u - 1].id, ART_ID_LEN))
			e[u++] = e[i];
	f->c = calloc(u ? u : 1, sizeof *f->c);
	f->order = malloc((u ? u : 1) * sizeof *f->order);
	ord = malloc((u ? u : 1) * sizeof *ord);
	if (!f->c || !f->order || !ord)
		goto out;
	f->n = f->total = u;
	f->bytes_total = f->bytes_done = 0;
	for (size_t k = 0; k < u; k++) {
		memcpy(f->c[k].id, e[k].id, ART_ID_LEN);
		f->c[k].size = e[k].size;
		f->c[k].state = C_DONE;
		f->bytes_total += e[k].size;
		ord[k] = (uint64_t)e[k].pos << 32 | k;
	}
	if (u)
		qsort(ord, u, sizeof *ord, u64_cmp);
	size_t rot = u ? randombytes_uniform((uint32_t)u) : 0;
	for (size_t k = 0; k < u; k++)
		f->order[k] = (uint32_t)ord[(k + rot) % u];
	if ((err = art_store_missing(x->s, miss, n, &nmiss, NULL, f->id)))
		goto out;
	for (size_t i = 0; i < nmiss; i++) {
		long k = xf_chunk_find(f, miss + i * ART_ID_LEN);
		assert(k >= 0);
		f->c[k].state = C_WANT;
	}
	f->done = u - nmiss;
	for (size_t k = 0; k < u; k++)
		if (f->c[k].state == C_DONE)
			f->bytes_done += f->c[k].size;
	/* Peers that announced the whole artifact hold every chunk; the others hold the
	 * chunks of it they announced before the chunk list was known. */
	for (int pi = 0; pi < (int)ART_XFER_MAX_PEERS; pi++) {
		struct xf_peer *p = &x->p[pi];
		if (!p->key)
			continue;
		if (xf_peer_has(p, f->id) == 2) {
			if ((err = avail_add(x, pi, fi, -1)))
				goto out;
			continue;
		}
		for (size_t i = 0; i < p->n_early; i++) {
			long k = xf_chunk_find(f, p->early[i]);
			if (k >= 0 && (err = avail_add(x, pi, fi, k)))
				goto out;
		}
	}
	err = IOLM_OK;
out:
	if (err)
		table_free(x, fi);
	free(e);
	free(ord);
	free(miss);
	return err;
}

/* ArtHave{id} (n 0: whole) or ArtHave{id, chunk_ids} to every peer. */
static void announce_all(art_xfer *x, const uint8_t id[ART_ID_LEN], const uint8_t *chunk_ids,
			 size_t n)
{
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++)
		if (x->p[i].key && x->cb.send_have(x->cb.ctx, x->p[i].key, id, chunk_ids, n))
			IOLM_DEBUG(MOD, "have not sent");
}

void art_xfer_announce(art_xfer *x, const uint8_t id[ART_ID_LEN])
{
	announce_all(x, id, NULL, 0);
}

/* The chunks fetch fi stored since its last partial ArtHave, to every peer. */
static void announce_fresh(art_xfer *x, int fi)
{
	struct xf_fetch *f = &x->f[fi];
	if (!f->n_fresh)
		return;
	announce_all(x, f->id, f->fresh, f->n_fresh);
	f->n_fresh = 0;
}

void xf_fresh_add(art_xfer *x, int fi, const uint8_t id[ART_ID_LEN])
{
	struct xf_fetch *f = &x->f[fi];
	if (!f->fresh && !(f->fresh = malloc(ART_XFER_MAX_HAVE_IDS * ART_ID_LEN)))
		return; /* not announced: peers still get the whole artifact's ArtHave */
	memcpy(f->fresh + f->n_fresh * ART_ID_LEN, id, ART_ID_LEN);
	if (++f->n_fresh == ART_XFER_MAX_HAVE_IDS)
		announce_fresh(x, fi);
}

void xf_fetch_finish(art_xfer *x, int fi, int err)
{
	struct xf_fetch *f = &x->f[fi];
	table_free(x, fi);
	f->state = err ? ART_XFER_FAILED : ART_XFER_DONE;
	f->err = err;
	if (err) {
		x->st.store_errors++;
		IOLM_WARN(MOD, "fetch stopped: %s", iolm_strerror(err));
	} else {
		announce_all(x, f->id, NULL, 0);
	}
	if (x->cb.on_done)
		x->cb.on_done(x->cb.ctx, f->id, err);
}

/* Load the fetch's manifest from the store when it is there: the chunk phase, or done
 * when every chunk is stored. Stays in the manifest phase otherwise. */
int xf_fetch_load(art_xfer *x, int fi)
{
	struct xf_fetch *f = &x->f[fi];
	Iolm__Manifest *m = NULL;
	uint8_t got[ART_ID_LEN];
	iolm_buf b;
	int err;

	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	err = art_store_manifest(x->s, &b, f->id);
	if (err == IOLM_ENOTFOUND) {
		err = IOLM_OK;
		goto out;
	}
	if (err || (err = art_manifest_decode(&m, got, b.data, b.len)))
		goto out;
	if (f->pin && (err = art_store_pin(x->s, f->id)))
		goto out;
	if ((err = table_build(x, fi, m)))
		goto out;
	f->state = ART_XFER_CHUNKS;
	if (f->done == f->n)
		xf_fetch_finish(x, fi, IOLM_OK);
out:
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&b, 0);
	return err;
}

/* ---------------------------------------------------------------- API */

int art_xfer_create(art_xfer **out, art_store *s, const art_xfer_config *cfg,
		    const art_xfer_callbacks *cb)
{
	art_xfer *x;
	int err;
	*out = NULL;
	if (!s || !cb || !cb->send_want || !cb->send_cancel || !cb->send_block ||
	    !cb->send_have || !cb->penalize)
		return IOLM_EINVAL;
	if (!(x = calloc(1, sizeof *x)))
		return IOLM_ENOMEM;
	x->s = s;
	x->cb = *cb;
	if (cfg)
		x->cfg = *cfg;
	if (!x->cfg.window)
		x->cfg.window = XF_DEF_WINDOW;
	if (x->cfg.window > XF_MAX_WINDOW)
		x->cfg.window = XF_MAX_WINDOW;
	if (!x->cfg.timeout_ms)
		x->cfg.timeout_ms = XF_DEF_TIMEOUT_MS;
	if (!x->cfg.serve_queue)
		x->cfg.serve_queue = XF_DEF_QUEUE;
	if (!x->cfg.max_block)
		x->cfg.max_block = XF_DEF_MAX_BLOCK;
	if (!x->cfg.workers) {
		/* Two at least: one hashes while the other waits on the store's write. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		x->cfg.workers = cpus > 5 ? 4 : cpus > 3 ? (unsigned)cpus - 1 : 2;
	}
	if (x->cfg.workers > XF_MAX_WORKERS)
		x->cfg.workers = XF_MAX_WORKERS;
	iolm_buf_init(&x->buf, IOLM_MAX_MANIFEST_BYTES);
	if ((err = art_verifier_create(&x->v, s, x->cfg.workers, XF_JOBS))) {
		free(x);
		return err;
	}
	*out = x;
	return IOLM_OK;
}

void art_xfer_destroy(art_xfer *x)
{
	if (!x)
		return;
	/* Blocks already received are verified and the good ones stored, so a restart
	 * does not ask for them again. */
	art_verifier_destroy(x->v);
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++)
		if (x->f[fi].used)
			table_free(x, fi);
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++) {
		free(x->p[i].haves);
		free(x->p[i].early);
		free(x->p[i].q);
	}
	iolm_buf_release(&x->buf, 0);
	free(x);
}

/* Partial ArtHaves for the chunks every running fetch has stored, to a new peer. */
static void announce_partial(art_xfer *x, void *peer)
{
	uint8_t *ids = NULL;
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		struct xf_fetch *f = &x->f[fi];
		size_t n = 0;
		if (!f->used || f->state != ART_XFER_CHUNKS || !f->done)
			continue;
		if (!ids && !(ids = malloc(ART_XFER_MAX_HAVE_IDS * ART_ID_LEN)))
			return;
		for (size_t k = 0; k < f->n; k++) {
			if (f->c[k].state != C_DONE)
				continue;
			memcpy(ids + n * ART_ID_LEN, f->c[k].id, ART_ID_LEN);
			if (++n == ART_XFER_MAX_HAVE_IDS) {
				if (x->cb.send_have(x->cb.ctx, peer, f->id, ids, n))
					IOLM_DEBUG(MOD, "have not sent");
				n = 0;
			}
		}
		if (n && x->cb.send_have(x->cb.ctx, peer, f->id, ids, n))
			IOLM_DEBUG(MOD, "have not sent");
	}
	free(ids);
}

/* ArtHave for each complete local artifact, at most ART_XFER_MAX_ANNOUNCE. */
static void announce_local(art_xfer *x, void *peer)
{
	art_info *info = malloc(ART_XFER_MAX_ANNOUNCE * sizeof *info);
	size_t n = 0;
	if (!info || art_store_list(x->s, info, ART_XFER_MAX_ANNOUNCE, &n, NULL) != IOLM_OK) {
		x->st.store_errors++;
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t n0, left = 1;
		if (art_store_missing(x->s, NULL, 0, &n0, &left, info[i].id) == IOLM_OK &&
		    left == 0 && x->cb.send_have(x->cb.ctx, peer, info[i].id, NULL, 0))
			IOLM_DEBUG(MOD, "have not sent");
	}
	free(info);
}

int art_xfer_peer_add(art_xfer *x, void *peer)
{
	int pi = xf_peer_find(x, peer);
	if (!peer)
		return IOLM_EINVAL;
	if (pi >= 0)
		return IOLM_OK;
	for (pi = 0; pi < (int)ART_XFER_MAX_PEERS && x->p[pi].key; pi++)
		;
	if (pi == (int)ART_XFER_MAX_PEERS)
		return IOLM_EART_BUSY;
	struct xf_peer *p = &x->p[pi];
	p->haves = calloc(ART_XFER_MAX_HAVES, sizeof *p->haves);
	p->q = malloc((size_t)x->cfg.serve_queue * ART_ID_LEN);
	if (!p->haves || !p->q) {
		free(p->haves);
		free(p->q);
		memset(p, 0, sizeof *p);
		return IOLM_ENOMEM;
	}
	p->key = peer;
	x->gen[pi]++;
	p->tokens = (int64_t)(x->cfg.peer_rate / 4);
	p->win = x->cfg.window < XF_START_WINDOW ? x->cfg.window : XF_START_WINDOW;
	p->rate_t0 = x->now;
	announce_local(x, peer);
	announce_partial(x, peer);
	xf_schedule(x);
	return IOLM_OK;
}

void art_xfer_peer_remove(art_xfer *x, void *peer)
{
	int pi = xf_peer_find(x, peer);
	if (pi < 0)
		return;
	struct xf_peer *p = &x->p[pi];
	for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++) {
		struct xf_fetch *f = &x->f[fi];
		if (!f->used)
			continue;
		f->man_tried &= ~((uint64_t)1 << pi);
		if (f->state == ART_XFER_MANIFEST && f->man_peer == pi)
			f->man_asked = 0;
		if (f->state != ART_XFER_CHUNKS)
			continue;
		for (size_t k = 0; k < f->n; k++) {
			if (f->c[k].state == C_FLIGHT && f->c[k].owner == pi)
				xf_release(x, fi, k);
			xf_avail_drop(x, pi, fi, k);
		}
		free(p->bits[fi]);
		p->bits[fi] = NULL;
	}
	assert(p->inflight == 0);
	free(p->haves);
	free(p->early);
	free(p->q);
	memset(p, 0, sizeof *p);
	xf_schedule(x);
}

/* Remember chunk ids a peer announced for an artifact whose chunk list is not known
 * yet (oldest forgotten past XF_EARLY_IDS; nothing remembered when memory is short: the
 * peer's later announcements still count). */
static void early_put(struct xf_peer *p, const uint8_t *ids, size_t n)
{
	if (!p->early && !(p->early = malloc(XF_EARLY_IDS * sizeof *p->early)))
		return;
	for (size_t i = 0; i < n; i++) {
		memcpy(p->early[p->next_early], ids + i * ART_ID_LEN, ART_ID_LEN);
		p->next_early = (p->next_early + 1) % XF_EARLY_IDS;
		if (p->n_early < XF_EARLY_IDS)
			p->n_early++;
	}
}

void art_xfer_on_have(art_xfer *x, void *peer, const uint8_t id[ART_ID_LEN],
		      const uint8_t *chunk_ids, size_t n)
{
	int pi = xf_peer_find(x, peer), fi;
	if (pi < 0 || !art_id_valid(id))
		return;
	xf_have_put(&x->p[pi], id, n == 0);
	fi = fetch_find(x, id);
	if (n && (fi < 0 || x->f[fi].state != ART_XFER_CHUNKS))
		early_put(&x->p[pi], chunk_ids, n);
	if (fi >= 0 && x->f[fi].state == ART_XFER_CHUNKS) {
		int err = IOLM_OK;
		if (n == 0)
			err = avail_add(x, pi, fi, -1);
		for (size_t i = 0; i < n && !err; i++) {
			long k = xf_chunk_find(&x->f[fi], chunk_ids + i * ART_ID_LEN);
			if (k >= 0)
				err = avail_add(x, pi, fi, k);
		}
		if (err)
			IOLM_WARN(MOD, "have not recorded: %s", iolm_strerror(err));
	}
	xf_schedule(x);
}

void art_xfer_on_block(art_xfer *x, void *peer, const uint8_t id[ART_ID_LEN],
		       const uint8_t *data, size_t len)
{
	int pi = xf_peer_find(x, peer), fi;
	if (pi < 0)
		return;
	fi = fetch_find(x, id);
	if (fi >= 0 && x->f[fi].state == ART_XFER_MANIFEST)
		xf_on_manifest(x, pi, fi, data, len);
	else if (fi >= 0)
		x->st.duplicates++;
	else
		xf_on_chunk(x, pi, id, data, len);
	xf_drain(x);
	xf_schedule(x);
}

void art_xfer_tick(art_xfer *x, uint64_t now_ms)
{
	uint64_t dt = x->ticked && now_ms > x->last_refill ? now_ms - x->last_refill : 0;
	x->now = now_ms;
	x->last_refill = now_ms;
	if (!x->ticked) {
		x->ticked = 1;
		x->last_scan = now_ms;
		x->gtokens = (int64_t)(x->cfg.global_rate / 4);
	}
	xf_drain(x);
	/* Buckets hold at most a quarter second of their rate (one chunk at least). */
	if (x->cfg.global_rate) {
		int64_t cap = (int64_t)(x->cfg.global_rate / 4 > ART_CHUNK_MAX
						? x->cfg.global_rate / 4 : ART_CHUNK_MAX);
		x->gtokens += (int64_t)(x->cfg.global_rate * dt / 1000);
		if (x->gtokens > cap)
			x->gtokens = cap;
	}
	if (x->cfg.peer_rate) {
		int64_t cap = (int64_t)(x->cfg.peer_rate / 4 > ART_CHUNK_MAX
						? x->cfg.peer_rate / 4 : ART_CHUNK_MAX);
		for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++) {
			struct xf_peer *p = &x->p[i];
			if (!p->key)
				continue;
			p->tokens += (int64_t)(x->cfg.peer_rate * dt / 1000);
			if (p->tokens > cap)
				p->tokens = cap;
		}
	}
	xf_serve(x);
	if (now_ms >= x->last_have + ART_XFER_HAVE_MS) {
		x->last_have = now_ms;
		for (int fi = 0; fi < (int)ART_XFER_MAX_FETCHES; fi++)
			if (x->f[fi].used && x->f[fi].state == ART_XFER_CHUNKS)
				announce_fresh(x, fi);
	}
	/* Timeouts are looked for a few times per timeout period, not every tick. */
	if (now_ms >= x->last_scan + x->cfg.timeout_ms / 4) {
		x->last_scan = now_ms;
		xf_expire(x);
	}
	for (int pi = 0; pi < (int)ART_XFER_MAX_PEERS; pi++)
		if (x->p[pi].key)
			xf_rate_sample(x, pi);
	xf_schedule(x);
}

int art_xfer_fetch(art_xfer *x, const uint8_t id[ART_ID_LEN], int pin)
{
	int fi = fetch_find(x, id), err;
	if (!art_id_valid(id))
		return IOLM_EART_ID;
	if (fi >= 0 && x->f[fi].state != ART_XFER_FAILED)
		return IOLM_OK;
	if (fi < 0) {
		/* A free slot, else the finished one started longest ago. */
		for (int i = 0; i < (int)ART_XFER_MAX_FETCHES; i++) {
			struct xf_fetch *f = &x->f[i];
			if (!f->used) {
				fi = i;
				break;
			}
			if ((f->state == ART_XFER_DONE || f->state == ART_XFER_FAILED) &&
			    (fi < 0 || f->seq < x->f[fi].seq))
				fi = i;
		}
		if (fi < 0)
			return IOLM_EART_BUSY;
	}
	struct xf_fetch *f = &x->f[fi];
	table_free(x, fi);
	memset(f, 0, sizeof *f);
	f->used = 1;
	memcpy(f->id, id, ART_ID_LEN);
	f->pin = pin;
	f->seq = ++x->seq;
	f->state = ART_XFER_MANIFEST;
	f->man_peer = -1;
	if ((err = xf_fetch_load(x, fi))) {
		f->state = ART_XFER_FAILED;
		f->err = err;
		return err;
	}
	xf_schedule(x);
	return IOLM_OK;
}

int art_xfer_get_progress(const art_xfer *x, art_xfer_progress *out,
			  const uint8_t id[ART_ID_LEN])
{
	int fi = fetch_find(x, id);
	memset(out, 0, sizeof *out);
	if (fi < 0)
		return IOLM_EART_NOFETCH;
	const struct xf_fetch *f = &x->f[fi];
	out->state = f->state;
	out->err = f->err;
	out->chunks_total = f->total;
	out->chunks_done = f->done;
	out->bytes_total = f->bytes_total;
	out->bytes_done = f->bytes_done;
	out->in_flight = f->in_flight;
	out->verifying = f->verifying;
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++)
		out->peers += x->p[i].key &&
			      (x->p[i].bits[fi] || xf_peer_has(&x->p[i], f->id));
	return IOLM_OK;
}

void art_xfer_get_stats(const art_xfer *x, art_xfer_stats *out)
{
	*out = x->st;
	out->verifying = art_verifier_busy(x->v);
}

int art_xfer_get_peer_info(const art_xfer *x, const void *peer, art_xfer_peer_info *out)
{
	int pi = xf_peer_find(x, peer);
	memset(out, 0, sizeof *out);
	if (pi < 0)
		return IOLM_ENOTFOUND;
	const struct xf_peer *p = &x->p[pi];
	out->window = p->win;
	out->in_flight = p->inflight;
	out->rate = p->rate;
	out->rtt_ms = p->srtt;
	out->stolen_from = p->stolen_from;
	out->queued = (uint32_t)p->q_len;
	return IOLM_OK;
}

int art_xfer_fd(const art_xfer *x)
{
	return art_verifier_fd(x->v);
}

void art_xfer_drain(art_xfer *x)
{
	xf_drain(x);
	xf_schedule(x);
}

