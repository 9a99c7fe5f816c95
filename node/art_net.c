/* Artifact frames on the P2P link <-> the transfer engine (art_net.h). */
#include "node/art_net.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/hex.h"
#include "core/log.h"

#define MOD "art"

struct node_art_net {
	node_p2p *p2p;
	art_store *s;
	art_xfer *x;
	struct event *ready;         /* art_xfer_fd readable: verified chunks are waiting */
	int busy;                    /* inside an engine call */
	node_peer **gone;            /* disconnected while busy: removed after the call */
	size_t n_gone, cap_gone;
	uint8_t ids[ART_XFER_MAX_WANT * ART_ID_LEN];
	/* the collector (node_art_net_start_gc); gc_stop and gc_wake under gc_mu */
	int gc_started;
	pthread_t gc_thread;
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	int gc_stop, gc_wake;
	atomic_int gc_halt;          /* gc_stop, for a collection under way */
	uint64_t gc_keep, gc_interval_ms;
	int gc_warned;               /* over keep with nothing collectable: said once */
};

/* ---------------------------------------------------------------- engine -> frames */

static int send_ids(node_art_net *a, node_peer *peer, int want, const uint8_t *ids, size_t n)
{
	ProtobufCBinaryData v[ART_XFER_MAX_WANT];
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__ArtWant w = IOLM__ART_WANT__INIT;
	Iolm__ArtCancel c = IOLM__ART_CANCEL__INIT;
	if (n > ART_XFER_MAX_WANT)
		return IOLM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		v[i].data = (uint8_t *)(uintptr_t)(ids + i * ART_ID_LEN);
		v[i].len = ART_ID_LEN;
	}
	if (want) {
		w.n_chunk_ids = n;
		w.chunk_ids = v;
		f.msg_case = IOLM__FRAME__MSG_ART_WANT;
		f.art_want = &w;
	} else {
		c.n_chunk_ids = n;
		c.chunk_ids = v;
		f.msg_case = IOLM__FRAME__MSG_ART_CANCEL;
		f.art_cancel = &c;
	}
	return node_p2p_send(a->p2p, peer, &f);
}

static int cb_want(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	return send_ids(ctx, peer, 1, ids, n);
}

static int cb_cancel(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	return send_ids(ctx, peer, 0, ids, n);
}

static int cb_block(void *ctx, void *peer, const uint8_t id[ART_ID_LEN], const uint8_t *data,
		    size_t len)
{
	node_art_net *a = ctx;
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__ArtBlock b = IOLM__ART_BLOCK__INIT;
	b.chunk_id.data = (uint8_t *)(uintptr_t)id;
	b.chunk_id.len = ART_ID_LEN;
	b.data.data = (uint8_t *)(uintptr_t)data;
	b.data.len = len;
	f.msg_case = IOLM__FRAME__MSG_ART_BLOCK;
	f.art_block = &b;
	return node_p2p_send(a->p2p, peer, &f);
}

static int cb_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
		   const uint8_t *chunk_ids, size_t n)
{
	node_art_net *a = ctx;
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__ArtHave h = IOLM__ART_HAVE__INIT;
	ProtobufCBinaryData v[ART_XFER_MAX_HAVE_IDS];
	assert(n <= ART_XFER_MAX_HAVE_IDS);
	for (size_t i = 0; i < n; i++) {
		v[i].data = (uint8_t *)(uintptr_t)(chunk_ids + i * ART_ID_LEN);
		v[i].len = ART_ID_LEN;
	}
	h.artifact_id.data = (uint8_t *)(uintptr_t)id;
	h.artifact_id.len = ART_ID_LEN;
	h.n_chunk_ids = n;
	h.chunk_ids = v;
	f.msg_case = IOLM__FRAME__MSG_ART_HAVE;
	f.art_have = &h;
	return node_p2p_send(a->p2p, peer, &f);
}

static void cb_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	node_art_net *a = ctx;
	node_p2p_penalize(a->p2p, peer, points, reason);
}

static void cb_done(void *ctx, const uint8_t id[ART_ID_LEN], int err)
{
	char hex[2 * ART_ID_LEN + 1];
	(void)ctx;
	iolm_hex_encode(hex, sizeof hex, id, ART_ID_LEN);
	if (err)
		IOLM_WARN(MOD, "fetch of %s stopped: %s", hex, iolm_strerror(err));
	else
		IOLM_INFO(MOD, "fetched %s", hex);
}

/* ---------------------------------------------------------------- re-entrancy */

static void enter(node_art_net *a)
{
	a->busy++;
}

/* Leave an engine call: the peers that left during it are removed now. */
static void leave(node_art_net *a)
{
	if (--a->busy)
		return;
	while (a->n_gone) {
		node_peer *p = a->gone[--a->n_gone];
		a->busy++;
		art_xfer_peer_remove(a->x, p);
		a->busy--;
	}
}

/* ---------------------------------------------------------------- frames -> engine */

static int id_ok(const ProtobufCBinaryData *b)
{
	return b->len == ART_ID_LEN && art_id_valid(b->data);
}

/* Pack n ids into dst (cap ids); 0 when one is malformed. */
static int pack_ids(uint8_t *dst, size_t cap, ProtobufCBinaryData *v, size_t n)
{
	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!id_ok(&v[i]))
			return 0;
		memcpy(dst + i * ART_ID_LEN, v[i].data, ART_ID_LEN);
	}
	return 1;
}

static int on_have(node_art_net *a, node_peer *peer, const Iolm__ArtHave *h)
{
	uint8_t *ids = NULL;
	if (!id_ok(&h->artifact_id))
		return 0;
	/* The frame cap bounds n_chunk_ids (36 bytes each on the wire). */
	if (h->n_chunk_ids && !(ids = malloc(h->n_chunk_ids * ART_ID_LEN)))
		return 1; /* dropped, not the peer's fault */
	if (!pack_ids(ids, h->n_chunk_ids, h->chunk_ids, h->n_chunk_ids)) {
		free(ids);
		return 0;
	}
	art_xfer_on_have(a->x, peer, h->artifact_id.data, ids, h->n_chunk_ids);
	free(ids);
	return 1;
}

int node_art_net_on_frame(node_art_net *a, node_peer *peer, const Iolm__Frame *f)
{
	int ok = 1;
	if (!a)
		return 0;
	switch (f->msg_case) {
	case IOLM__FRAME__MSG_ART_HAVE:
		enter(a);
		ok = on_have(a, peer, f->art_have);
		leave(a);
		break;
	case IOLM__FRAME__MSG_ART_WANT:
		ok = pack_ids(a->ids, ART_XFER_MAX_WANT, f->art_want->chunk_ids,
			      f->art_want->n_chunk_ids);
		if (ok) {
			enter(a);
			art_xfer_on_want(a->x, peer, a->ids, f->art_want->n_chunk_ids);
			leave(a);
		}
		break;
	case IOLM__FRAME__MSG_ART_BLOCK:
		ok = id_ok(&f->art_block->chunk_id);
		if (ok) {
			enter(a);
			art_xfer_on_block(a->x, peer, f->art_block->chunk_id.data,
					  f->art_block->data.data, f->art_block->data.len);
			leave(a);
		}
		break;
	case IOLM__FRAME__MSG_ART_CANCEL:
		ok = pack_ids(a->ids, ART_XFER_MAX_WANT, f->art_cancel->chunk_ids,
			      f->art_cancel->n_chunk_ids);
		if (ok) {
			enter(a);
			art_xfer_on_cancel(a->x, peer, a->ids, f->art_cancel->n_chunk_ids);
			leave(a);
		}
		break;
	default:
		return 0;
	}
	if (!ok)
		node_p2p_penalize(a->p2p, peer, NODE_ART_PTS_MALFORMED, "malformed artifact frame");
	return 1;
}

void node_art_net_on_connect(node_art_net *a, node_peer *peer)
{
	int err;
	if (!a)
		return;
	enter(a);
	err = art_xfer_peer_add(a->x, peer);
	leave(a);
	if (err)
		IOLM_DEBUG(MOD, "peer %s not used for artifacts: %s", node_peer_addr(peer),
			   iolm_strerror(err));
}

void node_art_net_on_disconnect(node_art_net *a, node_peer *peer)
{
	if (!a)
		return;
	if (!a->busy) {
		enter(a);
		art_xfer_peer_remove(a->x, peer);
		leave(a);
		return;
	}
	if (a->n_gone == a->cap_gone) {
		size_t cap = a->cap_gone ? 2 * a->cap_gone : 8;
		node_peer **g = realloc(a->gone, cap * sizeof *g);
		if (!g) {
			/* The engine is mid-call and cannot take the removal, and a peer left
			 * in it would be sent to after it is freed: nothing safe is left. */
			IOLM_ERROR(MOD, "out of memory deferring a peer removal");
			abort();
		}
		a->gone = g;
		a->cap_gone = cap;
	}
	a->gone[a->n_gone++] = peer;
}

void node_art_net_tick(node_art_net *a, uint64_t now_ms)
{
	if (!a)
		return;
	enter(a);
	art_xfer_tick(a->x, now_ms);
	leave(a);
}

int node_art_net_fetch(node_art_net *a, const uint8_t id[ART_ID_LEN])
{
	int err;
	enter(a);
	err = art_xfer_fetch(a->x, id, 1);
	leave(a);
	return err;
}

size_t node_art_net_resume(node_art_net *a, art_store *s)
{
	art_info *list = NULL;
	size_t n = 0, total = 0, resumed = 0, skipped = 0;
	int err;

	if ((err = art_store_list(s, NULL, 0, &n, &total)) || !total)
		goto out;
	if (!(list = malloc(total * sizeof *list))) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = art_store_list(s, list, total, &n, &total)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		char hex[2 * ART_ID_LEN + 1];
		size_t n0, left = 0;
		if (art_store_missing(s, NULL, 0, &n0, &left, list[i].id) || !left)
			continue;
		if (resumed == ART_XFER_MAX_FETCHES) {
			skipped++;
			continue;
		}
		enter(a);
		err = art_xfer_fetch(a->x, list[i].id, list[i].pinned);
		leave(a);
		iolm_hex_encode(hex, sizeof hex, list[i].id, ART_ID_LEN);
		if (err) {
			IOLM_WARN(MOD, "cannot resume the fetch of %s: %s", hex, iolm_strerror(err));
			continue;
		}
		IOLM_INFO(MOD, "resuming the fetch of %s: %zu of %u chunks to go", hex, left,
			  list[i].n_chunks);
		resumed++;
	}
	if (skipped)
		IOLM_WARN(MOD, "%zu more unfinished fetches wait for POST /artifact/fetch", skipped);
	err = IOLM_OK;
out:
	if (err)
		IOLM_WARN(MOD, "unfinished fetches not resumed: %s", iolm_strerror(err));
	free(list);
	return resumed;
}

int node_art_net_progress(node_art_net *a, art_xfer_progress *out,
			  const uint8_t id[ART_ID_LEN])
{
	return art_xfer_get_progress(a->x, out, id);
}

void node_art_net_get_stats(const node_art_net *a, art_xfer_stats *out)
{
	art_xfer_get_stats(a->x, out);
}

/* ---------------------------------------------------------------- lifecycle */

static int rpc_fetch(void *ctx, const uint8_t id[ART_ID_LEN])
{
	return node_art_net_fetch(ctx, id);
}

static int rpc_progress(void *ctx, art_xfer_progress *out, const uint8_t id[ART_ID_LEN])
{
	return node_art_net_progress(ctx, out, id);
}

static int rpc_peer_info(void *ctx, const node_peer *peer, art_xfer_peer_info *out)
{
	return art_xfer_get_peer_info(((node_art_net *)ctx)->x, peer, out);
}

static void rpc_unpinned(void *ctx)
{
	node_art_net_gc_wake(ctx);
}

static void rpc_announce(void *ctx, const uint8_t id[ART_ID_LEN])
{
	node_art_net *a = ctx;
	enter(a);
	art_xfer_announce(a->x, id);
	leave(a);
}

void node_art_net_announce(node_art_net *a, const uint8_t id[ART_ID_LEN])
{
	if (a)
		rpc_announce(a, id);
}

/* The transfer's workers verified chunks: take them now rather than at the next tick. */
static void on_ready(evutil_socket_t fd, short what, void *ctx)
{
	node_art_net *a = ctx;
	(void)fd;
	(void)what;
	enter(a);
	art_xfer_drain(a->x);
	leave(a);
}

int node_art_net_create(node_art_net **out, node_p2p *p2p, art_store *s,
			const art_xfer_config *cfg, node_rpc *rpc, struct event_base *base)
{
	node_art_net *a;
	art_xfer_callbacks cb;
	int err;
	*out = NULL;
	if (!p2p || !s)
		return IOLM_EINVAL;
	if (!(a = calloc(1, sizeof *a)))
		return IOLM_ENOMEM;
	a->p2p = p2p;
	a->s = s;
	cb = (art_xfer_callbacks){ cb_want, cb_cancel, cb_block, cb_have, cb_penalize, cb_done, a };
	if ((err = art_xfer_create(&a->x, s, cfg, &cb))) {
		free(a);
		return err;
	}
	if (base && art_xfer_fd(a->x) >= 0) {
		a->ready = event_new(base, art_xfer_fd(a->x), EV_READ | EV_PERSIST, on_ready, a);
		if (!a->ready || event_add(a->ready, NULL)) {
			node_art_net_destroy(a);
			return IOLM_ENOMEM;
		}
	}
	if (rpc) {
		node_rpc_art_ops ops = { rpc_fetch, rpc_progress, rpc_peer_info, rpc_announce,
					 rpc_unpinned, s, a };
		node_rpc_set_art(rpc, &ops);
	}
	*out = a;
	return IOLM_OK;
}

void node_art_net_destroy(node_art_net *a)
{
	if (!a)
		return;
	if (a->gc_started) {
		pthread_mutex_lock(&a->gc_mu);
		a->gc_stop = 1;
		atomic_store(&a->gc_halt, 1);
		pthread_cond_signal(&a->gc_cv);
		pthread_mutex_unlock(&a->gc_mu);
		pthread_join(a->gc_thread, NULL);
		pthread_cond_destroy(&a->gc_cv);
		pthread_mutex_destroy(&a->gc_mu);
	}
	if (a->ready)
		event_free(a->ready);
	art_xfer_destroy(a->x);
	free(a->gone);
	free(a);
}

/* ---------------------------------------------------------------- the collector */

/* One check of the collector (on its thread). */
static void gc_check(node_art_net *a)
{
	art_store_stats st;
	art_gc_stats g;
	int err;
	if ((err = art_store_get_stats(a->s, &st))) {
		IOLM_WARN(MOD, "gc: cannot read the store's totals: %s", iolm_strerror(err));
		return;
	}
	if (st.bytes <= a->gc_keep) {
		a->gc_warned = 0;
		return;
	}
	if (st.unreferenced || st.pinned < st.artifacts) {
		if ((err = art_store_gc_steps(a->s, &g, a->gc_keep, &a->gc_halt))) {
			if (err != IOLM_EART_STOPPED)
				IOLM_WARN(MOD, "gc: %s", iolm_strerror(err));
			return;
		}
		if ((err = art_store_get_stats(a->s, &st)) || st.bytes <= a->gc_keep) {
			a->gc_warned = 0;
			return;
		}
	}
	if (!a->gc_warned)
		IOLM_WARN(MOD, "the artifact store holds %llu MiB of chunks, above art_keep_mb = "
			       "%llu, and the rest is pinned: unpin artifacts to free space",
			  (unsigned long long)(st.bytes >> 20),
			  (unsigned long long)(a->gc_keep >> 20));
	a->gc_warned = 1;
}

static void *gc_main(void *arg)
{
	node_art_net *a = arg;
	pthread_mutex_lock(&a->gc_mu);
	while (!a->gc_stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(a->gc_interval_ms / 1000);
		until.tv_nsec += (long)(a->gc_interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!a->gc_stop && !a->gc_wake &&
		       pthread_cond_timedwait(&a->gc_cv, &a->gc_mu, &until) != ETIMEDOUT)
			;
		if (a->gc_stop)
			break;
		a->gc_wake = 0;
		pthread_mutex_unlock(&a->gc_mu);
		gc_check(a);
		pthread_mutex_lock(&a->gc_mu);
	}
	pthread_mutex_unlock(&a->gc_mu);
	return NULL;
}

int node_art_net_start_gc(node_art_net *a, uint64_t keep, uint64_t interval_ms)
{
	pthread_condattr_t ca;
	if (!a || !interval_ms)
		return IOLM_EINVAL;
	if (a->gc_started)
		return IOLM_ESTATE;
	a->gc_keep = keep;
	a->gc_interval_ms = interval_ms;
	a->gc_stop = 0;
	atomic_init(&a->gc_halt, 0);
	a->gc_wake = 1; /* a first check at once */
	if (pthread_mutex_init(&a->gc_mu, NULL))
		return IOLM_ENOMEM;
	if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&a->gc_cv, &ca)) {
		pthread_mutex_destroy(&a->gc_mu);
		return IOLM_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_create(&a->gc_thread, NULL, gc_main, a)) {
		pthread_cond_destroy(&a->gc_cv);
		pthread_mutex_destroy(&a->gc_mu);
		return IOLM_ENOMEM;
	}
	a->gc_started = 1;
	return IOLM_OK;
}

void node_art_net_gc_wake(node_art_net *a)
{
	if (!a || !a->gc_started)
		return;
	pthread_mutex_lock(&a->gc_mu);
	a->gc_wake = 1;
	pthread_cond_signal(&a->gc_cv);
	pthread_mutex_unlock(&a->gc_mu);
}
