/* cons_sim: a deterministic in-process simulation of n validators running the consensus
 * engine over a seeded, hostile network with a virtual clock.
 *
 * Everything random comes from one splitmix64 stream seeded by --seed, and events are
 * ordered by (virtual time, sequence number), so a seed replays exactly. The network
 * delays (1-20 ms calm, up to 400 ms in chaos), drops, duplicates and reorders messages;
 * during two chaos windows it also partitions the validators in two, and crashes honest
 * nodes (sometimes between persisting a signature and sending it). A crashed node loses
 * its engine; it keeps its "disk": the signing WAL (in memory here) and its committed
 * chain, and restarts from them. One validator is Byzantine: it sends a conflicting
 * signed vote (another block or nil) to part of the network for each vote it signs.
 * After the last chaos window the network heals: all nodes are up, nothing is dropped.
 *
 * After every event the invariants of invariants.c are checked. A failure prints the
 * one command that replays the seed. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cons.h"
#include "consensus/wal.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/key.h"
#include "invariants.h"
#include "sim.h"

#define CHAIN "iolm-sim"
#define MAXN 16
#define REBROADCAST_MS 1000
#define SYNC_GAP_MS 200
#define SYNC_BATCH 8
#define LIVENESS_BOUND_MS 60000
#define TIME_LIMIT_MS 3600000

enum ev_type { EV_MSG, EV_TIMEOUT, EV_VALID, EV_BLOCK, EV_REBROADCAST, EV_CHAOS };
enum msg_type { M_PROPOSAL, M_VOTE, M_SYNCREQ, M_COMMIT };

struct ev {
	uint64_t t, seq;
	enum ev_type type;
	int node, from, epoch;
	int mtype;
	uint64_t h;
	uint32_t r;
	int step, flag;
	uint8_t id[32];
	uint8_t *data;
	size_t len;
	size_t split; /* M_COMMIT: block is data[0..split), cert the rest */
};

struct node {
	cons_engine *e;
	cons_wal *wal;
	iolm_key key;
	int up, byz, epoch;
	uint8_t **blocks, **certs; /* committed chain: the node's disk */
	size_t *blen, *clen;
	uint64_t nchain, cap;
	uint64_t last_commit, last_sync;
};

struct sim {
	const struct sim_opts *o;
	uint64_t rng;
	uint64_t now, seq;
	struct ev **heap;
	size_t nheap, capheap;
	int n;
	struct node nodes[MAXN];
	cons_valset *vs;
	int group[MAXN]; /* partition side; all equal when healed */
	int chaos;
	uint64_t healed_at;
	int chaos_left;
	uint32_t drop_pct, dup_pct;
	inv_decided decided;
	inv_signed sigs;
	const char *fail;
	uint64_t evidence;
	/* signature cache: BLAKE2b of (sig, digest, pub) of verified triples */
	uint8_t (*vcache)[16];
	size_t vcache_n;
};

/* ---------------------------------------------------------------- rng, heap */

static uint64_t rnd(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_in(struct sim *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

static int ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct sim *s, struct ev *e)
{
	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? 2 * s->capheap : 1024;
		s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
		if (!s->heap)
			abort();
	}
	e->seq = s->seq++;
	size_t i = s->nheap++;
	while (i > 0 && ev_less(e, s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static struct ev *heap_pop(struct sim *s)
{
	if (s->nheap == 0)
		return NULL;
	struct ev *top = s->heap[0], *last = s->heap[--s->nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_less(s->heap[c + 1], s->heap[c]))
			c++;
		if (!ev_less(s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap)
		s->heap[i] = last;
	return top;
}

static struct ev *ev_new(struct sim *s, enum ev_type type, int node, uint64_t delay)
{
	struct ev *e = calloc(1, sizeof *e);
	if (!e)
		abort();
	e->type = type;
	e->node = node;
	e->t = s->now + delay;
	e->epoch = node >= 0 ? s->nodes[node].epoch : 0;
	return e;
}

static void ev_free(struct ev *e)
{
	if (e)
		free(e->data);
	free(e);
}

/* ---------------------------------------------------------------- host callbacks */

static void block_id(void *ctx, uint8_t id[static 32], const uint8_t *b, size_t len)
{
	(void)ctx;
	iolm_hash(id, IOLM_TAG_BLOCK, b, len);
}

/* A host may cache verified signatures: the simulation delivers the same message to
 * many nodes, and Schnorr verification dominates its run time otherwise. */
static int cached_verify(void *ctx, const uint8_t sig[static 64], const uint8_t digest[static 32],
			 const uint8_t pub[static 32])
{
	struct sim *s = ctx;
	iolm_hash_ctx h;
	uint8_t k[32];
	iolm_hash_init(&h, IOLM_TAG_VOTE, 32);
	iolm_hash_update(&h, sig, 64);
	iolm_hash_update(&h, digest, 32);
	iolm_hash_update(&h, pub, 32);
	iolm_hash_final(&h, k);
	size_t slot = (((size_t)k[0] << 8) | k[1]) % s->vcache_n;
	if (memcmp(s->vcache[slot], k, 16) == 0)
		return IOLM_OK;
	int err = iolm_verify(sig, digest, pub);
	if (!err)
		memcpy(s->vcache[slot], k, 16);
	return err;
}

/* ---------------------------------------------------------------- network */

static void deliver(struct sim *s, int from, int to, int mtype, const uint8_t *d, size_t len,
		    size_t split)
{
	if (from == to || s->group[from] != s->group[to])
		return;
	if (s->chaos && rnd_in(s, 1, 100) <= s->drop_pct)
		return;
	int copies = s->chaos && rnd_in(s, 1, 100) <= s->dup_pct ? 2 : 1;
	for (int c = 0; c < copies; c++) {
		uint64_t delay = s->chaos ? rnd_in(s, 1, 400) : rnd_in(s, 1, 20);
		struct ev *e = ev_new(s, EV_MSG, to, delay);
		e->from = from;
		e->mtype = mtype;
		e->data = malloc(len ? len : 1);
		if (!e->data)
			abort();
		memcpy(e->data, d, len);
		e->len = len;
		e->split = split;
		heap_push(s, e);
	}
}

static void broadcast(struct sim *s, int from, int mtype, const uint8_t *d, size_t len)
{
	for (int to = 0; to < s->n; to++)
		deliver(s, from, to, mtype, d, len, 0);
}

/* The Byzantine validator: its honest vote to a random part of the network, a
 * conflicting signed vote (another block, or nil) to the rest. */
static void equivocate(struct sim *s, int from, const cons_action *a)
{
	Iolm__Vote *v = NULL;
	Iolm__VoteBody *b = NULL;
	if (iolm_decode_vote(&v, a->msg, a->msg_len, IOLM_MAX_VOTE_BYTES) ||
	    iolm_decode_vote_body(&b, v->body.data, v->body.len, IOLM_MAX_VOTE_BYTES))
		abort();
	uint8_t other[32], digest[32], sig[64];
	for (int i = 0; i < 32; i++)
		other[i] = (uint8_t)rnd(s);
	int nil = !a->nil ? (int)(rnd(s) & 1) : 0;
	Iolm__VoteBody nb = *b;
	nb.block_id.data = nil ? NULL : other;
	nb.block_id.len = nil ? 0 : 32;
	iolm_buf body, out;
	iolm_buf_init(&body, IOLM_MAX_VOTE_BYTES);
	iolm_buf_init(&out, IOLM_MAX_VOTE_BYTES);
	Iolm__Vote nv = IOLM__VOTE__INIT;
	if (iolm_codec_encode(&body, &nb.base))
		abort();
	iolm_hash(digest, IOLM_TAG_VOTE, body.data, body.len);
	if (iolm_sign(&s->nodes[from].key, sig, digest))
		abort();
	nv.body.data = body.data;
	nv.body.len = body.len;
	nv.signature.data = sig;
	nv.signature.len = 64;
	if (iolm_codec_encode(&out, &nv.base))
		abort();
	for (int to = 0; to < s->n; to++) {
		if (rnd(s) & 1)
			deliver(s, from, to, M_VOTE, a->msg, a->msg_len, 0);
		else
			deliver(s, from, to, M_VOTE, out.data, out.len, 0);
	}
	iolm_buf_release(&body, 0);
	iolm_buf_release(&out, 0);
	iolm_codec_free((ProtobufCMessage *)b);
	iolm_codec_free((ProtobufCMessage *)v);
}

/* ---------------------------------------------------------------- nodes */

static void check(struct sim *s, const char *why)
{
	if (why && !s->fail)
		s->fail = why;
}

static void node_crash(struct sim *s, int i)
{
	struct node *nd = &s->nodes[i];
	cons_engine_destroy(nd->e);
	nd->e = NULL;
	nd->up = 0;
	nd->epoch++;
}

static void chain_append(struct node *nd, const cons_action *a)
{
	if (nd->nchain == nd->cap) {
		nd->cap = nd->cap ? 2 * nd->cap : 64;
		nd->blocks = realloc(nd->blocks, nd->cap * sizeof *nd->blocks);
		nd->certs = realloc(nd->certs, nd->cap * sizeof *nd->certs);
		nd->blen = realloc(nd->blen, nd->cap * sizeof *nd->blen);
		nd->clen = realloc(nd->clen, nd->cap * sizeof *nd->clen);
		if (!nd->blocks || !nd->certs || !nd->blen || !nd->clen)
			abort();
	}
	uint8_t *b = malloc(a->block_len), *c = malloc(a->cert_len);
	if (!b || !c)
		abort();
	memcpy(b, a->block, a->block_len);
	memcpy(c, a->cert, a->cert_len);
	nd->blocks[nd->nchain] = b;
	nd->certs[nd->nchain] = c;
	nd->blen[nd->nchain] = a->block_len;
	nd->clen[nd->nchain] = a->cert_len;
	nd->nchain++;
}

static void on_commit(struct sim *s, int i, const cons_action *a)
{
	struct node *nd = &s->nodes[i];
	check(s, inv_integrity(nd->nchain, a->height));
	check(s, inv_cert_valid(s->vs, CHAIN, a->height, a->block_id, a->cert, a->cert_len));
	if (!nd->byz)
		check(s, inv_agreement(&s->decided, a->height, a->block_id));
	chain_append(nd, a);
	nd->last_commit = s->now;
}

static void on_sign(struct sim *s, int i, const cons_action *a)
{
	struct node *nd = &s->nodes[i];
	const uint8_t *msg;
	size_t len;
	if (nd->byz) {
		if (a->msg_kind == CONS_MSG_VOTE)
			equivocate(s, i, a);
		else
			broadcast(s, i, M_PROPOSAL, a->msg, a->msg_len);
		return;
	}
	int err = cons_wal_record(nd->wal, a, &msg, &len);
	if (err == IOLM_ECONS_DOUBLESIGN || err == IOLM_ECONS_WALSTALE) {
		check(s, "the engine asked to sign a message conflicting with its WAL");
		return;
	}
	if (err) {
		check(s, "signing WAL failed");
		return;
	}
	check(s, inv_no_equivocation(&s->sigs, i, a->height, a->round, (int)a->step, a->nil,
				     a->block_id));
	/* Crash between persist and send. */
	if (s->chaos && rnd_in(s, 1, 1000) <= 5) {
		nd->up = -1; /* crash once this action list is drained */
		return;
	}
	broadcast(s, i, a->msg_kind == CONS_MSG_VOTE ? M_VOTE : M_PROPOSAL, msg, len);
}

static void drain(struct sim *s, int i)
{
	struct node *nd = &s->nodes[i];
	cons_action a;
	while (nd->e && cons_engine_poll(nd->e, &a)) {
		struct ev *e;
		switch (a.kind) {
		case CONS_ACT_SIGN:
			if (nd->up == 1)
				on_sign(s, i, &a);
			break;
		case CONS_ACT_SEND:
			if (nd->up == 1)
				broadcast(s, i, a.msg_kind == CONS_MSG_VOTE ? M_VOTE : M_PROPOSAL,
					  a.msg, a.msg_len);
			break;
		case CONS_ACT_TIMEOUT:
			e = ev_new(s, EV_TIMEOUT, i, a.delay_ms);
			e->h = a.height;
			e->r = a.round;
			e->step = (int)a.step;
			heap_push(s, e);
			break;
		case CONS_ACT_GET_BLOCK:
			e = ev_new(s, EV_BLOCK, i, rnd_in(s, 0, 5));
			e->h = a.height;
			e->r = a.round;
			heap_push(s, e);
			break;
		case CONS_ACT_VALIDATE:
			e = ev_new(s, EV_VALID, i, rnd_in(s, 0, 5));
			e->h = a.height;
			memcpy(e->id, a.block_id, 32);
			/* Valid when it names the height it is proposed at. */
			char want[32];
			int n = snprintf(want, sizeof want, "h=%" PRIu64 " ", a.height);
			e->flag = a.block_len > (size_t)n && memcmp(a.block, want, (size_t)n) == 0;
			heap_push(s, e);
			break;
		case CONS_ACT_COMMIT:
			on_commit(s, i, &a);
			break;
		case CONS_ACT_EVIDENCE:
			s->evidence++;
			break;
		}
	}
	if (nd->up == -1)
		node_crash(s, i);
}

static void node_start(struct sim *s, int i)
{
	struct node *nd = &s->nodes[i];
	cons_config cfg;
	cons_config_default(&cfg);
	cfg.chain_id = CHAIN;
	cfg.block_id = block_id;
	cfg.verify = cached_verify;
	cfg.ctx = s;
	if (cons_engine_create(&nd->e, &cfg, s->vs, &nd->key, nd->nchain + 1))
		abort();
	/* Restart from the disk: every signed message of the WAL goes back in. */
	for (size_t k = 0; k < cons_wal_count(nd->wal); k++) {
		uint64_t h;
		enum cons_msg_kind kind;
		const uint8_t *m;
		size_t len;
		if (cons_wal_entry(nd->wal, k, &h, &kind, &m, &len) ||
		    cons_engine_restore(nd->e, kind, m, len))
			check(s, "restore from the WAL failed");
	}
	nd->up = 1;
	nd->last_sync = 0;
	if (cons_engine_start(nd->e))
		check(s, "engine start failed");
	heap_push(s, ev_new(s, EV_REBROADCAST, i, rnd_in(s, 1, REBROADCAST_MS)));
	drain(s, i);
}

/* ---------------------------------------------------------------- sync */

static void send_commits(struct sim *s, int from, int to, uint64_t height)
{
	struct node *nd = &s->nodes[from];
	for (uint64_t h = height; h <= nd->nchain && h < height + SYNC_BATCH; h++) {
		size_t bl = nd->blen[h - 1], cl = nd->clen[h - 1];
		uint8_t *d = malloc(bl + cl);
		if (!d)
			abort();
		memcpy(d, nd->blocks[h - 1], bl);
		memcpy(d + bl, nd->certs[h - 1], cl);
		deliver(s, from, to, M_COMMIT, d, bl + cl, bl);
		free(d);
	}
}

static void request_sync(struct sim *s, int i, int peer)
{
	struct node *nd = &s->nodes[i];
	if (nd->last_sync && s->now < nd->last_sync + SYNC_GAP_MS)
		return;
	nd->last_sync = s->now;
	uint8_t h[8];
	uint64_t want = nd->nchain + 1;
	memcpy(h, &want, 8);
	deliver(s, i, peer, M_SYNCREQ, h, 8, 0);
}

static void on_msg(struct sim *s, struct ev *e)
{
	struct node *nd = &s->nodes[e->node];
	int err = IOLM_OK;
	switch (e->mtype) {
	case M_PROPOSAL:
		err = cons_engine_on_proposal(nd->e, e->data, e->len);
		break;
	case M_VOTE:
		err = cons_engine_on_vote(nd->e, e->data, e->len);
		break;
	case M_SYNCREQ: {
		uint64_t h;
		memcpy(&h, e->data, 8);
		send_commits(s, e->node, e->from, h);
		return;
	}
	case M_COMMIT:
		err = cons_engine_on_commit(nd->e, e->data, e->split, e->data + e->split,
					    e->len - e->split);
		break;
	}
	if (err == IOLM_ECONS_FUTURE)
		request_sync(s, e->node, e->from);
	else if (err && err != IOLM_ECONS_OLD && err != IOLM_ECONS_ROUND)
		check(s, iolm_strerror(err));
}

/* ---------------------------------------------------------------- chaos */

/* Chaos windows: EV_CHAOS with flag 1 starts one, flag 0 ends it (heal). */
static void chaos_begin(struct sim *s)
{
	s->chaos = 1;
	s->drop_pct = (uint32_t)rnd_in(s, 0, 30);
	s->dup_pct = (uint32_t)rnd_in(s, 0, 20);
	if (rnd(s) & 1)
		for (int i = 0; i < s->n; i++)
			s->group[i] = (int)(rnd(s) & 1);
	for (int i = 0; i < s->n; i++) {
		if (s->nodes[i].byz || rnd_in(s, 1, 100) > 30)
			continue;
		struct ev *c = ev_new(s, EV_CHAOS, -1, rnd_in(s, 0, 3000));
		c->flag = 2; /* crash node */
		c->from = i;
		heap_push(s, c);
	}
}

static void chaos_heal(struct sim *s)
{
	s->chaos = 0;
	for (int i = 0; i < s->n; i++)
		s->group[i] = 0;
	for (int i = 0; i < s->n; i++)
		if (!s->nodes[i].up)
			node_start(s, i);
	s->healed_at = s->now;
	s->chaos_left--;
	if (s->chaos_left > 0) {
		struct ev *c = ev_new(s, EV_CHAOS, -1, rnd_in(s, 3000, 15000));
		c->flag = 1;
		heap_push(s, c);
	}
}

static void on_chaos(struct sim *s, struct ev *e)
{
	if (e->flag == 1) {
		chaos_begin(s);
		struct ev *c = ev_new(s, EV_CHAOS, -1, rnd_in(s, 2000, 8000));
		c->flag = 0;
		heap_push(s, c);
	} else if (e->flag == 0) {
		chaos_heal(s);
	} else if (s->chaos && s->nodes[e->from].up) {
		node_crash(s, e->from);
	}
}

/* ---------------------------------------------------------------- main loop */

static void dispatch(struct sim *s, struct ev *e)
{
	if (e->type == EV_CHAOS) {
		on_chaos(s, e);
		return;
	}
	struct node *nd = &s->nodes[e->node];
	if (nd->up != 1 || e->epoch != nd->epoch)
		return; /* for a crashed node or an earlier life of it */
	switch (e->type) {
	case EV_MSG:
		on_msg(s, e);
		break;
	case EV_TIMEOUT:
		if (cons_engine_on_timeout(nd->e, e->h, e->r, (enum cons_step)e->step))
			check(s, "timeout refused");
		break;
	case EV_VALID:
		if (cons_engine_on_validated(nd->e, e->h, e->id, e->flag))
			check(s, "validation answer refused");
		break;
	case EV_BLOCK: {
		char b[96];
		int n = snprintf(b, sizeof b, "h=%" PRIu64 " r=%u by=%d salt=%016" PRIx64, e->h,
				 e->r, e->node, rnd(s));
		if (cons_engine_propose(nd->e, e->h, e->r, (uint8_t *)b, (size_t)n))
			check(s, "block refused");
		break;
	}
	case EV_REBROADCAST:
		if (cons_engine_rebroadcast(nd->e))
			check(s, "rebroadcast failed");
		heap_push(s, ev_new(s, EV_REBROADCAST, e->node, REBROADCAST_MS));
		break;
	case EV_CHAOS:
		break;
	}
	drain(s, e->node);
}

static int all_done(struct sim *s)
{
	if (s->chaos || s->chaos_left > 0)
		return 0;
	for (int i = 0; i < s->n; i++)
		if (!s->nodes[i].byz && s->nodes[i].nchain < s->o->heights)
			return 0;
	return 1;
}

/* Invariants checked after every event that are not tied to a commit. */
static void check_liveness(struct sim *s)
{
	if (s->chaos || s->chaos_left > 0)
		return;
	for (int i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		if (nd->byz || nd->nchain >= s->o->heights)
			continue;
		check(s, inv_progress(s->now, s->healed_at, nd->last_commit, LIVENESS_BOUND_MS));
	}
}

/* On failure: where every node stands, for the person replaying the seed. */
static void dump(struct sim *s)
{
	for (int i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		printf("  node %d%s: %s chain %" PRIu64 " last commit %" PRIu64 " ms", i,
		       nd->byz ? " (byzantine)" : "", nd->up == 1 ? "up" : "down", nd->nchain,
		       nd->last_commit);
		if (nd->e)
			printf(", engine h %" PRIu64 " r %u step %d locked %d",
			       cons_engine_height(nd->e), cons_engine_round(nd->e),
			       (int)cons_engine_step(nd->e), cons_engine_locked_round(nd->e));
		printf("\n");
	}
}

static void sim_init(struct sim *s, const struct sim_opts *o)
{
	uint8_t pubs[MAXN * 32];
	uint64_t powers[MAXN];
	memset(s, 0, sizeof *s);
	s->o = o;
	s->n = o->validators;
	s->rng = o->seed;
	s->vcache_n = 4096;
	s->vcache = calloc(s->vcache_n, 16);
	if (!s->vcache)
		abort();
	inv_decided_init(&s->decided);
	inv_signed_init(&s->sigs);
	int byz = (int)(rnd(s) % (uint64_t)s->n);
	for (int i = 0; i < s->n; i++) {
		uint8_t sec[32];
		for (int k = 0; k < 32; k++)
			sec[k] = (uint8_t)(i + 1);
		if (iolm_key_from_secret(&s->nodes[i].key, sec) ||
		    cons_wal_open(&s->nodes[i].wal, NULL))
			abort();
		memcpy(pubs + 32 * i, iolm_key_pub(&s->nodes[i].key), 32);
		powers[i] = 1;
		s->nodes[i].byz = i == byz;
	}
	if (cons_valset_create(&s->vs, pubs, powers, (size_t)s->n))
		abort();
	s->chaos_left = 2;
	struct ev *c = ev_new(s, EV_CHAOS, -1, rnd_in(s, 500, 3000));
	c->flag = 1;
	heap_push(s, c);
	for (int i = 0; i < s->n; i++)
		node_start(s, i);
}

static void sim_release(struct sim *s)
{
	struct ev *e;
	while ((e = heap_pop(s)))
		ev_free(e);
	free(s->heap);
	for (int i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		cons_engine_destroy(nd->e);
		cons_wal_close(nd->wal);
		for (uint64_t h = 0; h < nd->nchain; h++) {
			free(nd->blocks[h]);
			free(nd->certs[h]);
		}
		free(nd->blocks);
		free(nd->certs);
		free(nd->blen);
		free(nd->clen);
		iolm_key_wipe(&nd->key);
	}
	cons_valset_destroy(s->vs);
	inv_decided_release(&s->decided);
	inv_signed_release(&s->sigs);
	free(s->vcache);
}

int sim_run(const struct sim_opts *o, struct sim_result *res)
{
	struct sim *s = malloc(sizeof *s);
	if (!s)
		return -1;
	sim_init(s, o);
	struct ev *e;
	while (!s->fail && !all_done(s) && (e = heap_pop(s))) {
		s->now = e->t;
		dispatch(s, e);
		ev_free(e);
		check_liveness(s);
		if (s->now > TIME_LIMIT_MS)
			check(s, "virtual time limit reached");
	}
	if (!s->fail && !all_done(s))
		check(s, "event queue ran dry");
	if (s->fail)
		dump(s);
	memset(res, 0, sizeof *res);
	res->fail = s->fail;
	res->virtual_ms = s->now;
	res->evidence = s->evidence;
	for (int i = 0; i < s->n; i++)
		if (!s->nodes[i].byz && (res->min_height == 0 || s->nodes[i].nchain < res->min_height))
			res->min_height = s->nodes[i].nchain;
	sim_release(s);
	free(s);
	return res->fail ? 1 : 0;
}
