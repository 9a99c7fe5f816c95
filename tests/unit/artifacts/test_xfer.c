/* Unit tests of the artifact transfer engine (artifacts/xfer.h): engines with their own
 * stores, connected by an in-memory message queue and a simulated clock. A node can
 * corrupt the n-th block it sends, or ignore every want it receives. */
#include "art_test_util.h"

#include <poll.h>

#include "artifacts/xfer.h"
#include "core/codec.h"

#define TN 3
#define TICK_MS 10

enum { M_WANT, M_BLOCK, M_HAVE, M_CANCEL };

struct tmsg {
	struct tmsg *next;
	int from, to, kind;
	uint8_t *ids;
	size_t n;
	uint8_t *data;
	size_t len;
};

struct tnet;

struct tnode {
	struct tnet *net;
	int idx;
	char dir[256];
	art_store *s;
	art_xfer *x;
	art_xfer_config cfg;
	int corrupt_nth;             /* corrupt the n-th data block sent (1-based); 0: never */
	int mute;                    /* ignore every want received */
	int blocks_sent;
	uint32_t penalties[TN];      /* points given to each other node */
	int done, done_err;
};

struct tnet {
	struct tnode node[TN];
	struct tmsg *head, *tail;
	uint64_t now;
};

static int peer_idx(struct tnet *net, void *peer)
{
	int i = (int)((struct tnode *)peer - net->node);
	assert_true(i >= 0 && i < TN);
	return i;
}

static void enqueue(struct tnode *from, void *peer, int kind, const uint8_t *ids, size_t n,
		    const uint8_t *data, size_t len)
{
	struct tmsg *m = calloc(1, sizeof *m);
	assert_non_null(m);
	m->from = from->idx;
	m->to = peer_idx(from->net, peer);
	m->kind = kind;
	m->n = n;
	m->ids = malloc(n * ART_ID_LEN + 1);
	assert_non_null(m->ids);
	memcpy(m->ids, ids, n * ART_ID_LEN);
	m->len = len;
	m->data = malloc(len + 1);
	assert_non_null(m->data);
	if (len)
		memcpy(m->data, data, len);
	if (from->net->tail)
		from->net->tail->next = m;
	else
		from->net->head = m;
	from->net->tail = m;
}

static int cb_want(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	assert_true(n >= 1 && n <= ART_XFER_MAX_WANT);
	enqueue(ctx, peer, M_WANT, ids, n, NULL, 0);
	return IOLM_OK;
}

static int cb_cancel(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	enqueue(ctx, peer, M_CANCEL, ids, n, NULL, 0);
	return IOLM_OK;
}

static int cb_block(void *ctx, void *peer, const uint8_t id[ART_ID_LEN], const uint8_t *data,
		    size_t len)
{
	struct tnode *t = ctx;
	enqueue(t, peer, M_BLOCK, id, 1, data, len);
	if (len && ++t->blocks_sent == t->corrupt_nth)
		t->net->tail->data[len / 2] ^= 0x40;
	return IOLM_OK;
}

static int cb_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN])
{
	enqueue(ctx, peer, M_HAVE, id, 1, NULL, 0);
	return IOLM_OK;
}

static void cb_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	struct tnode *t = ctx;
	assert_non_null(reason);
	t->penalties[peer_idx(t->net, peer)] += points;
}

static void cb_done(void *ctx, const uint8_t id[ART_ID_LEN], int err)
{
	struct tnode *t = ctx;
	(void)id;
	t->done = 1;
	t->done_err = err;
}

static void node_start(struct tnode *t)
{
	art_xfer_callbacks cb = { cb_want, cb_cancel, cb_block, cb_have, cb_penalize, cb_done, t };
	if (!t->s)
		t->s = t_open(t->dir);
	assert_int_equal(art_xfer_create(&t->x, t->s, &t->cfg, &cb), IOLM_OK);
}

/* Kill a node's engine; its store stays open unless close_store. */
static void node_stop(struct tnode *t, int close_store)
{
	art_xfer_destroy(t->x);
	t->x = NULL;
	if (close_store) {
		art_store_close(t->s);
		t->s = NULL;
	}
}

static struct tnet *net_new(int n)
{
	struct tnet *net = calloc(1, sizeof *net);
	assert_non_null(net);
	for (int i = 0; i < n; i++) {
		struct tnode *t = &net->node[i];
		t->net = net;
		t->idx = i;
		t->cfg.timeout_ms = 200;
		t_tmpdir(t->dir, sizeof t->dir);
		node_start(t);
	}
	return net;
}

static void drop_queue(struct tnet *net)
{
	while (net->head) {
		struct tmsg *m = net->head;
		net->head = m->next;
		free(m->ids);
		free(m->data);
		free(m);
	}
	net->tail = NULL;
}

static void net_free(struct tnet *net)
{
	drop_queue(net);
	for (int i = 0; i < TN; i++) {
		struct tnode *t = &net->node[i];
		if (!t->dir[0])
			continue;
		node_stop(t, 1);
		t_rmrf(t->dir);
	}
	free(net);
}

static void link_nodes(struct tnet *net, int a, int b)
{
	assert_int_equal(art_xfer_peer_add(net->node[a].x, &net->node[b]), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(net->node[b].x, &net->node[a]), IOLM_OK);
}

static void deliver(struct tnet *net, struct tmsg *m)
{
	struct tnode *t = &net->node[m->to];
	void *from = &net->node[m->from];
	if (!t->x || !net->node[m->from].x)
		return; /* a stopped node neither receives nor has sent */
	switch (m->kind) {
	case M_WANT:
		if (!t->mute)
			art_xfer_on_want(t->x, from, m->ids, m->n);
		break;
	case M_BLOCK:
		art_xfer_on_block(t->x, from, m->ids, m->data, m->len);
		break;
	case M_HAVE:
		art_xfer_on_have(t->x, from, m->ids, NULL, 0);
		break;
	default:
		art_xfer_on_cancel(t->x, from, m->ids, m->n);
		break;
	}
}

/* Wait (in real time) for every block node t has received to be verified, and have it
 * act on the results: the simulated clock does not run while the workers hash. */
static int settle(struct tnode *t)
{
	art_xfer_stats st;
	if (!t->x)
		return 0;
	art_xfer_get_stats(t->x, &st);
	if (!st.verifying)
		return 0;
	struct pollfd pfd = { art_xfer_fd(t->x), POLLIN, 0 };
	assert_true(poll(&pfd, 1, 10000) == 1);
	art_xfer_drain(t->x);
	return 1;
}

/* Deliver messages, advancing the clock when none are queued and nothing is being
 * verified, until node `who` has received at least `chunks` chunks (0: until its fetch
 * is done) or max_ms pass. */
static int run(struct tnet *net, int who, uint64_t chunks, uint64_t max_ms)
{
	uint64_t end = net->now + max_ms;
	for (;;) {
		struct tnode *w = &net->node[who];
		art_xfer_stats st;
		art_xfer_get_stats(w->x, &st);
		if (chunks ? st.chunks_received >= chunks : w->done)
			return 1;
		if (net->head) {
			struct tmsg *m = net->head;
			net->head = m->next;
			if (!net->head)
				net->tail = NULL;
			deliver(net, m);
			free(m->ids);
			free(m->data);
			free(m);
			continue;
		}
		int settled = 0;
		for (int i = 0; i < TN; i++)
			settled |= settle(&net->node[i]);
		if (settled)
			continue;
		if (net->now >= end)
			return 0;
		net->now += TICK_MS;
		for (int i = 0; i < TN; i++)
			if (net->node[i].x)
				art_xfer_tick(net->node[i].x, net->now);
	}
}

/* Add a random file of size bytes to node i's store; its path is written to path. */
static void add_file(struct tnet *net, int i, uint8_t id[ART_ID_LEN], char *path, size_t cap,
		     uint64_t size, uint64_t seed)
{
	struct tnode *t = &net->node[i];
	snprintf(path, cap, "%s/src.bin", t->dir);
	t_write_random(path, size, seed);
	assert_int_equal(art_store_add(t->s, id, NULL, path, NULL), IOLM_OK);
}

/* Node i holds artifact id whole, with the bytes of the file at src. */
static void check_copy(struct tnet *net, int i, const uint8_t id[ART_ID_LEN], const char *src)
{
	char dest[400], file[420];
	size_t n0, left = 1;
	art_xfer_progress pr;
	struct tnode *t = &net->node[i];
	assert_int_equal(art_store_missing(t->s, NULL, 0, &n0, &left, id), IOLM_OK);
	assert_int_equal(left, 0);
	snprintf(dest, sizeof dest, "%s/out", t->dir);
	assert_int_equal(art_store_get(t->s, id, dest), IOLM_OK);
	snprintf(file, sizeof file, "%s/src.bin", dest);
	assert_true(t_same_file(src, file));
	assert_int_equal(art_xfer_get_progress(t->x, &pr, id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_DONE);
	assert_int_equal(pr.chunks_done, pr.chunks_total);
	assert_int_equal(pr.bytes_done, pr.bytes_total);
	assert_int_equal(pr.in_flight, 0);
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip(uint64_t size, uint64_t expect_chunks)
{
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_stats st;
	add_file(net, 0, id, src, sizeof src, size, size + 1);
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000));
	assert_int_equal(net->node[1].done_err, IOLM_OK);
	check_copy(net, 1, id, src);
	art_xfer_get_stats(net->node[1].x, &st);
	if (expect_chunks != UINT64_MAX)
		assert_int_equal(st.chunks_received, expect_chunks);
	assert_int_equal(st.bytes_received, size);
	assert_int_equal(st.corrupt + st.timeouts, 0);
	/* The fetched copy is pinned, and announced: node 0 learned node 1 has it. */
	art_info info;
	size_t n;
	assert_int_equal(art_store_list(net->node[1].s, &info, 1, &n, NULL), IOLM_OK);
	assert_int_equal(n, 1);
	assert_true(info.pinned);
	net_free(net);
}

static void test_roundtrip_empty_artifact(void **state)
{
	(void)state;
	roundtrip(0, 0);
}

static void test_roundtrip_one_byte(void **state)
{
	(void)state;
	roundtrip(1, 1);
}

static void test_roundtrip_exactly_one_chunk(void **state)
{
	(void)state;
	roundtrip(ART_CHUNK_MIN, 1);
}

static void test_roundtrip_few_mib(void **state)
{
	(void)state;
	roundtrip((uint64_t)5 << 20, UINT64_MAX);
}

/* Fetching what the store already holds finishes at once and sends nothing. */
static void test_fetch_of_local_artifact_is_done_at_once(void **state)
{
	(void)state;
	struct tnet *net = net_new(1);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_progress pr;
	add_file(net, 0, id, src, sizeof src, 300000, 9);
	assert_int_equal(art_xfer_fetch(net->node[0].x, id, 0), IOLM_OK);
	assert_true(net->node[0].done);
	assert_null(net->head);
	assert_int_equal(art_xfer_get_progress(net->node[0].x, &pr, id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_DONE);
	assert_true(pr.chunks_total >= 2);
	assert_int_equal(pr.bytes_total, 300000);
	net_free(net);
}

/* ---------------------------------------------------------------- faults */

/* Node 0 and node 2 hold a random file of size bytes; node 0 corrupts the corrupt_nth
 * block it sends; node 1 (window and workers as given, 0: defaults) fetches from both.
 * It penalizes node 0 once, gets that chunk from node 2, and stores everything once. */
static void corrupt_one_of_two_holders(uint64_t size, int corrupt_nth, uint32_t window,
				       unsigned workers)
{
	struct tnet *net = net_new(3);
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	char src[300];
	art_xfer_stats st;
	art_xfer_progress pr;
	node_stop(&net->node[1], 0);
	net->node[1].cfg.window = window;
	net->node[1].cfg.workers = workers;
	node_start(&net->node[1]);
	add_file(net, 0, id, src, sizeof src, size, 77 + size);
	assert_int_equal(art_store_add(net->node[2].s, id2, NULL, src, NULL), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	net->node[0].corrupt_nth = corrupt_nth;
	link_nodes(net, 0, 1);
	link_nodes(net, 2, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000));
	assert_int_equal(net->node[1].done_err, IOLM_OK);
	check_copy(net, 1, id, src);
	art_xfer_get_stats(net->node[1].x, &st);
	assert_int_equal(art_xfer_get_progress(net->node[1].x, &pr, id), IOLM_OK);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.chunks_received, pr.chunks_total);
	assert_int_equal(st.bytes_received, size);
	assert_int_equal(st.verifying, 0);
	assert_int_equal(pr.verifying, 0);
	assert_int_equal(net->node[1].penalties[0], ART_XFER_PTS_CORRUPT);
	assert_int_equal(net->node[1].penalties[2], 0);
	net_free(net);
}

/* Node 0 corrupts the third block it sends; node 1 penalizes it and gets that chunk from
 * node 2. */
static void test_corrupt_chunk_penalized_and_fetched_elsewhere(void **state)
{
	(void)state;
	corrupt_one_of_two_holders((uint64_t)2 << 20, 3, 0, 0);
}

/* A manifest that does not hash to the wanted id is refused and its sender penalized. */
static void test_corrupt_manifest_penalized(void **state)
{
	(void)state;
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_progress pr;
	add_file(net, 0, id, src, sizeof src, 100000, 5);
	net->node[0].corrupt_nth = 1; /* the manifest is the first block it sends */
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000)); /* asked again: served well this time */
	assert_int_equal(net->node[1].penalties[0], ART_XFER_PTS_CORRUPT);
	assert_int_equal(art_xfer_get_progress(net->node[1].x, &pr, id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_DONE);
	check_copy(net, 1, id, src);
	net_free(net);
}

/* Node 0 answers nothing: the manifest and chunks asked of it time out and go to node 2. */
static void test_timeout_falls_back_to_another_peer(void **state)
{
	(void)state;
	struct tnet *net = net_new(3);
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	char src[300];
	art_xfer_stats st;
	add_file(net, 0, id, src, sizeof src, (uint64_t)1 << 20, 31);
	assert_int_equal(art_store_add(net->node[2].s, id2, NULL, src, NULL), IOLM_OK);
	net->node[0].mute = 1;
	link_nodes(net, 0, 1);
	link_nodes(net, 2, 1);
	uint64_t t0 = net->now;
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000));
	check_copy(net, 1, id, src);
	art_xfer_get_stats(net->node[1].x, &st);
	assert_true(st.timeouts >= 1);
	assert_int_equal(st.corrupt, 0);
	/* It took at least one timeout, and not many more. */
	assert_true(net->now - t0 >= 200);
	assert_true(net->now - t0 <= 2000);
	assert_int_equal(net->node[1].penalties[0], 0);
	net_free(net);
}

/* Kill the fetching engine halfway (its queued messages are lost), reopen its store and
 * fetch again: no chunk stored before the kill is fetched again. The engine's shutdown
 * stores what it had received and verified, so at least the chunks counted before the
 * kill are there. */
static void test_resume_after_kill_refetches_nothing_verified(void **state)
{
	(void)state;
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_stats st1, st2, served;
	art_xfer_progress pr;
	uint64_t size = (uint64_t)24 << 20;
	add_file(net, 0, id, src, sizeof src, size, 123);
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	/* ~360 chunks in 24 MiB: stop after 60 are stored, while at most a window (16) is
	 * in flight and at most 128 blocks wait for verification. */
	assert_true(run(net, 1, 60, 60000));
	art_xfer_get_stats(net->node[1].x, &st1);
	assert_int_equal(art_xfer_get_progress(net->node[1].x, &pr, id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_CHUNKS);
	uint64_t total = pr.chunks_total;
	assert_true(st1.chunks_received < total);

	node_stop(&net->node[1], 1);
	drop_queue(net);
	art_xfer_peer_remove(net->node[0].x, &net->node[1]);
	node_start(&net->node[1]);
	net->node[1].done = 0;
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_int_equal(art_xfer_get_progress(net->node[1].x, &pr, id), IOLM_OK);
	assert_true(pr.chunks_done >= st1.chunks_received);
	assert_true(pr.chunks_done < total);
	uint64_t done0 = pr.chunks_done, bytes0 = pr.bytes_done;
	assert_true(run(net, 1, 0, 60000));
	check_copy(net, 1, id, src);
	art_xfer_get_stats(net->node[1].x, &st2);
	/* Exactly the chunks not stored before the kill were received after it. */
	assert_int_equal(done0 + st2.chunks_received, total);
	assert_int_equal(bytes0 + st2.bytes_received, size);
	/* The sender's waste (blocks in flight at the kill) stays under the 4 MiB bound. */
	art_xfer_get_stats(net->node[0].x, &served);
	assert_true(served.bytes_served >= size);
	assert_true(served.bytes_served - size <= (uint64_t)4 << 20);
	net_free(net);
}

/* ---------------------------------------------------------------- scheduling, serving */

struct capture {
	uint8_t ids[4096][ART_ID_LEN];
	void *to[4096];              /* the peer, or for blocks the data length + 1 */
	size_t n;
	uint32_t penalty;            /* the last penalty's points */
};

static int cap_want(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	struct capture *c = ctx;
	for (size_t i = 0; i < n && c->n < 4096; i++, c->n++) {
		memcpy(c->ids[c->n], ids + i * ART_ID_LEN, ART_ID_LEN);
		c->to[c->n] = peer;
	}
	return IOLM_OK;
}

static int cap_cancel(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	(void)ctx, (void)peer, (void)ids, (void)n;
	return IOLM_OK;
}

static int cap_block(void *ctx, void *peer, const uint8_t id[ART_ID_LEN], const uint8_t *data,
		     size_t len)
{
	struct capture *c = ctx;
	(void)peer, (void)data;
	if (c->n < 4096) {
		memcpy(c->ids[c->n], id, ART_ID_LEN);
		c->to[c->n++] = (void *)(uintptr_t)(len + 1);
	}
	return IOLM_OK;
}

static int cap_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN])
{
	(void)ctx, (void)peer, (void)id;
	return IOLM_OK;
}

static void cap_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	(void)peer, (void)reason;
	((struct capture *)ctx)->penalty = points;
}

/* Peer P1 holds everything, P2 announced the first half of the chunks: P1 is asked for
 * chunks only it holds (the rarest) before any chunk P2 also holds. */
static void test_rarest_chunks_requested_first(void **state)
{
	(void)state;
	char da[256], db[256], src[300];
	art_store *a = t_open(t_tmpdir(da, sizeof da)), *b = t_open(t_tmpdir(db, sizeof db));
	uint8_t id[ART_ID_LEN], got[ART_ID_LEN];
	iolm_buf man;
	static struct capture cap;
	art_xfer *x;
	int p1, p2;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &cap };
	art_xfer_config cfg = { .window = 8 };

	snprintf(src, sizeof src, "%s/src.bin", da);
	t_write_random(src, (uint64_t)3 << 20, 4);
	assert_int_equal(art_store_add(a, id, NULL, src, NULL), IOLM_OK);
	iolm_buf_init(&man, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(a, &man, id), IOLM_OK);
	assert_int_equal(art_store_put_manifest(b, got, man.data, man.len, 0), IOLM_OK);
	size_t nmiss = 0;
	uint8_t *miss = malloc(1024 * ART_ID_LEN);
	assert_non_null(miss);
	assert_int_equal(art_store_missing(b, miss, 1024, &nmiss, NULL, id), IOLM_OK);
	assert_true(nmiss >= 20);
	size_t half = nmiss / 2;

	memset(&cap, 0, sizeof cap);
	assert_int_equal(art_xfer_create(&x, b, &cfg, &cb), IOLM_OK);
	assert_int_equal(art_xfer_fetch(x, id, 0), IOLM_OK);
	assert_int_equal(cap.n, 0); /* no peer yet */
	assert_int_equal(art_xfer_peer_add(x, &p2), IOLM_OK);
	art_xfer_on_have(x, &p2, id, miss, half);
	cap.n = 0; /* P2 alone: asked for its first chunks */
	assert_int_equal(art_xfer_peer_add(x, &p1), IOLM_OK);
	art_xfer_on_have(x, &p1, id, NULL, 0);
	/* P1's first window: every id from the second half, the chunks only it holds. */
	size_t to_p1 = 0;
	for (size_t i = 0; i < cap.n; i++) {
		if (cap.to[i] != &p1)
			continue;
		to_p1++;
		int in_second = 0;
		for (size_t j = half; j < nmiss; j++)
			in_second |= memcmp(cap.ids[i], miss + j * ART_ID_LEN, ART_ID_LEN) == 0;
		assert_true(in_second);
	}
	assert_int_equal(to_p1, cfg.window);
	art_xfer_progress pr;
	assert_int_equal(art_xfer_get_progress(x, &pr, id), IOLM_OK);
	assert_int_equal(pr.peers, 2);
	assert_int_equal(pr.in_flight, 2 * cfg.window);
	/* P1 leaves: its requests are released (and P2 cannot take them: it lacks them). */
	art_xfer_peer_remove(x, &p1);
	assert_int_equal(art_xfer_get_progress(x, &pr, id), IOLM_OK);
	assert_int_equal(pr.in_flight, cfg.window);
	assert_int_equal(pr.peers, 1);

	art_xfer_destroy(x);
	free(miss);
	iolm_buf_release(&man, 0);
	art_store_close(a);
	art_store_close(b);
	t_rmrf(da);
	t_rmrf(db);
}

/* Wants are answered from the store: a chunk, a manifest, "not here" for an unknown id;
 * wants past the serving queue are dropped and penalized; a cancel unqueues. */
static void test_serving_wants_not_here_and_flood(void **state)
{
	(void)state;
	char da[256], src[300];
	art_store *a = t_open(t_tmpdir(da, sizeof da));
	uint8_t id[ART_ID_LEN], unknown[ART_ID_LEN], ids[3 * ART_ID_LEN];
	static struct capture cap;
	art_xfer *x;
	int p;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &cap };
	/* A rate of 1 byte/s: nothing is served from the queue after the first block. */
	art_xfer_config cfg = { .serve_queue = 4, .peer_rate = 1 };
	art_xfer_stats st;

	snprintf(src, sizeof src, "%s/src.bin", da);
	t_write_random(src, 5000, 8);
	assert_int_equal(art_store_add(a, id, NULL, src, NULL), IOLM_OK);
	memset(unknown, 0x33, sizeof unknown);
	unknown[0] = ART_ID_PREFIX0;
	unknown[1] = ART_ID_PREFIX1;
	memset(&cap, 0, sizeof cap);
	assert_int_equal(art_xfer_create(&x, a, NULL, &cb), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(x, &p), IOLM_OK);
	memcpy(ids, id, ART_ID_LEN);
	memcpy(ids + ART_ID_LEN, unknown, ART_ID_LEN);
	art_xfer_on_want(x, &p, ids, 2);
	assert_int_equal(cap.n, 2);
	assert_memory_equal(cap.ids[0], id, ART_ID_LEN);
	iolm_buf man;
	iolm_buf_init(&man, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(a, &man, id), IOLM_OK);
	uint64_t mlen = man.len;
	iolm_buf_release(&man, 0);
	assert_int_equal((uintptr_t)cap.to[0], mlen + 1); /* the manifest's bytes */
	assert_memory_equal(cap.ids[1], unknown, ART_ID_LEN);
	assert_int_equal((uintptr_t)cap.to[1], 1);  /* "not here": empty */
	art_xfer_destroy(x);

	/* Rate-limited: the queue fills, the excess is dropped and penalized. */
	memset(&cap, 0, sizeof cap);
	assert_int_equal(art_xfer_create(&x, a, &cfg, &cb), IOLM_OK);
	art_xfer_tick(x, 1000);
	assert_int_equal(art_xfer_peer_add(x, &p), IOLM_OK);
	for (int i = 0; i < 3; i++)
		memcpy(ids + i * ART_ID_LEN, i == 1 ? unknown : id, ART_ID_LEN);
	art_xfer_on_want(x, &p, ids, 3);
	art_xfer_on_want(x, &p, ids, 3);
	art_xfer_get_stats(x, &st);
	assert_int_equal(st.wants_dropped, 2);
	assert_int_equal(cap.penalty, ART_XFER_PTS_FLOOD);
	assert_int_equal(cap.n, 0); /* bucket empty: nothing served yet */
	art_xfer_on_cancel(x, &p, unknown, 1);
	/* At 1 byte/s a manifest of mlen bytes is sent, then the bucket owes mlen - 1
	 * bytes, repaid one per second: the second goes mlen s later, the third 2 mlen s
	 * later; stop between the two. */
	for (uint64_t t = 2000; t <= 2000 + mlen * 1500; t += 1000)
		art_xfer_tick(x, t);
	assert_int_equal(cap.n, 2);
	for (size_t i = 0; i < cap.n; i++)
		assert_memory_equal(cap.ids[i], id, ART_ID_LEN);
	art_xfer_destroy(x);
	art_store_close(a);
	t_rmrf(da);
}

/* A per-peer rate of 1 MiB/s makes a 3 MiB fetch take about 3 s of (simulated) time. */
static void test_peer_rate_limit_paces_the_transfer(void **state)
{
	(void)state;
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_stats st;
	node_stop(&net->node[0], 0);
	net->node[0].cfg.peer_rate = 1u << 20;
	node_start(&net->node[0]);
	node_stop(&net->node[1], 0);
	net->node[1].cfg.timeout_ms = 10000; /* requests wait in the server's queue */
	node_start(&net->node[1]);
	add_file(net, 0, id, src, sizeof src, (uint64_t)3 << 20, 55);
	art_xfer_tick(net->node[0].x, net->now);
	link_nodes(net, 0, 1);
	uint64_t t0 = net->now;
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000));
	check_copy(net, 1, id, src);
	uint64_t took = net->now - t0;
	/* 3 MiB at 1 MiB/s after a quarter-second burst: at least 2.5 s, not much more. */
	assert_true(took >= 2500);
	assert_true(took <= 4000);
	art_xfer_get_stats(net->node[1].x, &st);
	assert_int_equal(st.bytes_received, (uint64_t)3 << 20);
	net_free(net);
}

/* ---------------------------------------------------------------- verification on workers */

/* A window of 64 from each of two holders (128 requests: every verifier job reserved)
 * and one corrupt block among them: it is refused on the workers, its sender penalized
 * once, the chunk fetched from the other holder, everything else stored once. */
static void test_many_in_flight_one_corrupt_refused_on_workers(void **state)
{
	(void)state;
	corrupt_one_of_two_holders((uint64_t)16 << 20, 40, 64, 3);
}

/* One engine fetching from a fake peer: store b holds the manifest of an artifact in
 * store a, ids lists its n chunks (manifest order), data/len their bytes. */
struct feed {
	char da[256], db[256];
	art_store *a, *b;
	art_xfer *x;
	uint8_t id[ART_ID_LEN];
	uint8_t *ids;
	uint8_t *data[256];
	size_t len[256], n;
	int peer;
};

static struct capture feed_cap;

static void feed_open(struct feed *fd, uint64_t size)
{
	char src[300];
	uint8_t got[ART_ID_LEN];
	iolm_buf man;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &feed_cap };
	memset(fd, 0, sizeof *fd);
	memset(&feed_cap, 0, sizeof feed_cap);
	fd->a = t_open(t_tmpdir(fd->da, sizeof fd->da));
	fd->b = t_open(t_tmpdir(fd->db, sizeof fd->db));
	snprintf(src, sizeof src, "%s/src.bin", fd->da);
	t_write_random(src, size, 21);
	assert_int_equal(art_store_add(fd->a, fd->id, NULL, src, NULL), IOLM_OK);
	iolm_buf_init(&man, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(fd->a, &man, fd->id), IOLM_OK);
	assert_int_equal(art_store_put_manifest(fd->b, got, man.data, man.len, 0), IOLM_OK);
	iolm_buf_release(&man, 0);
	fd->ids = malloc(256 * ART_ID_LEN);
	assert_non_null(fd->ids);
	assert_int_equal(art_store_missing(fd->b, fd->ids, 256, &fd->n, NULL, fd->id), IOLM_OK);
	assert_true(fd->n >= 8 && fd->n < 256);
	for (size_t i = 0; i < fd->n; i++) {
		iolm_buf c;
		iolm_buf_init(&c, ART_CHUNK_MAX);
		assert_int_equal(art_store_get_chunk(fd->a, &c, fd->ids + i * ART_ID_LEN), IOLM_OK);
		fd->len[i] = c.len;
		fd->data[i] = iolm_buf_detach(&c, &fd->len[i]);
	}
	assert_int_equal(art_xfer_create(&fd->x, fd->b, NULL, &cb), IOLM_OK);
	assert_int_equal(art_xfer_fetch(fd->x, fd->id, 0), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(fd->x, &fd->peer), IOLM_OK);
	art_xfer_on_have(fd->x, &fd->peer, fd->id, NULL, 0);
}

/* Block i from the fake peer, its byte at `flip` xored (SIZE_MAX: intact). */
static void feed_block(struct feed *fd, size_t i, size_t flip)
{
	if (flip != SIZE_MAX)
		fd->data[i][flip] ^= 1;
	art_xfer_on_block(fd->x, &fd->peer, fd->ids + i * ART_ID_LEN, fd->data[i], fd->len[i]);
	if (flip != SIZE_MAX)
		fd->data[i][flip] ^= 1;
}

/* Chunks of the artifact stored in b. */
static size_t feed_stored(struct feed *fd)
{
	size_t n0, left;
	assert_int_equal(art_store_missing(fd->b, NULL, 0, &n0, &left, fd->id), IOLM_OK);
	return fd->n - left;
}

static void feed_close(struct feed *fd)
{
	art_xfer_destroy(fd->x);
	for (size_t i = 0; i < fd->n; i++)
		free(fd->data[i]);
	free(fd->ids);
	art_store_close(fd->a);
	art_store_close(fd->b);
	t_rmrf(fd->da);
	t_rmrf(fd->db);
}

/* Wait for the verifier, then act on its results. */
static void feed_settle(struct feed *fd)
{
	art_xfer_stats st;
	for (;;) {
		art_xfer_get_stats(fd->x, &st);
		if (!st.verifying)
			return;
		struct pollfd pfd = { art_xfer_fd(fd->x), POLLIN, 0 };
		assert_true(poll(&pfd, 1, 10000) == 1);
		art_xfer_drain(fd->x);
	}
}

/* A block is verified off the calling thread: the fd becomes readable with its result,
 * art_xfer_drain acts on it, and the fd is quiet again. */
static void test_verified_block_signals_fd_and_drain_stores_it(void **state)
{
	(void)state;
	static struct feed fd;
	art_xfer_stats st;
	art_xfer_progress pr;
	feed_open(&fd, 1u << 20);
	feed_block(&fd, 0, SIZE_MAX);
	feed_settle(&fd);
	art_xfer_get_stats(fd.x, &st);
	assert_int_equal(st.chunks_received, 1);
	assert_int_equal(st.bytes_received, fd.len[0]);
	assert_int_equal(feed_stored(&fd), 1);
	assert_int_equal(art_xfer_get_progress(fd.x, &pr, fd.id), IOLM_OK);
	assert_int_equal(pr.chunks_done, 1);
	assert_int_equal(pr.verifying, 0);
	struct pollfd pfd = { art_xfer_fd(fd.x), POLLIN, 0 };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	/* The same block again: a duplicate, nothing to verify. */
	feed_block(&fd, 0, SIZE_MAX);
	art_xfer_get_stats(fd.x, &st);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.verifying, 0);
	feed_close(&fd);
}

/* Blocks of the wrong size are refused at once; a block of the right size with a
 * flipped byte is refused by the workers, never stored, and its sender penalized. */
static void test_bad_blocks_refused_before_store(void **state)
{
	(void)state;
	static struct feed fd;
	art_xfer_stats st;
	feed_open(&fd, 1u << 20);
	art_xfer_on_block(fd.x, &fd.peer, fd.ids, fd.data[0], fd.len[0] - 1);
	art_xfer_get_stats(fd.x, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.verifying, 0);
	assert_int_equal(feed_cap.penalty, ART_XFER_PTS_CORRUPT);
	feed_cap.penalty = 0;
	art_xfer_on_have(fd.x, &fd.peer, fd.id, NULL, 0); /* holds it after all */
	feed_block(&fd, 1, fd.len[1] / 3);
	feed_settle(&fd);
	art_xfer_get_stats(fd.x, &st);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.chunks_received, 0);
	assert_int_equal(feed_stored(&fd), 0);
	assert_int_equal(feed_cap.penalty, ART_XFER_PTS_CORRUPT);
	assert_false(art_store_has_chunk(fd.b, fd.ids + ART_ID_LEN));
	feed_close(&fd);
}

/* Shutdown with blocks still being verified: the good ones are stored (a restart does
 * not fetch them again), the bad one is not, and the workers are joined. */
static void test_shutdown_stores_what_was_verified(void **state)
{
	(void)state;
	static struct feed fd;
	feed_open(&fd, (uint64_t)4 << 20);
	for (size_t i = 0; i < fd.n; i++)
		feed_block(&fd, i, i == 5 ? 100 : SIZE_MAX);
	art_xfer_destroy(fd.x);
	fd.x = NULL;
	assert_int_equal(feed_stored(&fd), fd.n - 1);
	assert_false(art_store_has_chunk(fd.b, fd.ids + 5 * ART_ID_LEN));
	feed_close(&fd);
}

/* The sender leaves while its blocks are being verified, one of them bad: the good ones
 * are stored, the bad chunk is wanted again, and the engine stays consistent (the
 * penalty goes to the peer only if it was still there when the result came). */
static void test_peer_leaves_while_its_blocks_verify(void **state)
{
	(void)state;
	static struct feed fd;
	art_xfer_stats st;
	art_xfer_progress pr;
	int other;
	feed_open(&fd, (uint64_t)4 << 20);
	for (size_t i = 0; i < fd.n; i++)
		feed_block(&fd, i, i == fd.n - 1 ? 7 : SIZE_MAX);
	art_xfer_peer_remove(fd.x, &fd.peer);
	feed_settle(&fd);
	art_xfer_get_stats(fd.x, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.chunks_received, fd.n - 1);
	assert_true(feed_cap.penalty == 0 || feed_cap.penalty == ART_XFER_PTS_CORRUPT);
	assert_int_equal(art_xfer_get_progress(fd.x, &pr, fd.id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_CHUNKS);
	assert_int_equal(pr.chunks_done, fd.n - 1);
	assert_int_equal(pr.verifying, 0);
	/* A new holder is asked for exactly the one chunk left, and completes the fetch. */
	feed_cap.n = 0;
	assert_int_equal(art_xfer_peer_add(fd.x, &other), IOLM_OK);
	art_xfer_on_have(fd.x, &other, fd.id, NULL, 0);
	assert_int_equal(feed_cap.n, 1);
	assert_memory_equal(feed_cap.ids[0], fd.ids + (fd.n - 1) * ART_ID_LEN, ART_ID_LEN);
	art_xfer_on_block(fd.x, &other, fd.ids + (fd.n - 1) * ART_ID_LEN, fd.data[fd.n - 1],
			  fd.len[fd.n - 1]);
	feed_settle(&fd);
	assert_int_equal(art_xfer_get_progress(fd.x, &pr, fd.id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_DONE);
	assert_int_equal(feed_stored(&fd), fd.n);
	feed_close(&fd);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	char da[256];
	art_store *a = t_open(t_tmpdir(da, sizeof da));
	static struct capture cap;
	art_xfer *x = (art_xfer *)&cap;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &cap };
	art_xfer_callbacks nope = cb;
	uint8_t bad[ART_ID_LEN] = { 0 }, good[ART_ID_LEN];
	art_xfer_progress pr;
	static int peers[ART_XFER_MAX_PEERS + 1];

	nope.send_block = NULL;
	assert_int_equal(art_xfer_create(&x, a, NULL, &nope), IOLM_EINVAL);
	assert_null(x);
	assert_int_equal(art_xfer_create(&x, a, NULL, &cb), IOLM_OK);
	assert_int_equal(art_xfer_fetch(x, bad, 0), IOLM_EART_ID);
	memset(good, 7, sizeof good);
	good[0] = ART_ID_PREFIX0;
	good[1] = ART_ID_PREFIX1;
	assert_int_equal(art_xfer_get_progress(x, &pr, good), IOLM_EART_NOFETCH);
	assert_int_equal(art_xfer_peer_add(x, NULL), IOLM_EINVAL);
	for (size_t i = 0; i < ART_XFER_MAX_PEERS; i++)
		assert_int_equal(art_xfer_peer_add(x, &peers[i]), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(x, &peers[0]), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(x, &peers[ART_XFER_MAX_PEERS]), IOLM_EART_BUSY);
	/* Fetches: the table fills with running ones. */
	for (unsigned i = 0; i < ART_XFER_MAX_FETCHES; i++) {
		good[2] = (uint8_t)i;
		assert_int_equal(art_xfer_fetch(x, good, 0), IOLM_OK);
		assert_int_equal(art_xfer_get_progress(x, &pr, good), IOLM_OK);
		assert_int_equal(pr.state, ART_XFER_MANIFEST);
	}
	good[2] = 0xff;
	assert_int_equal(art_xfer_fetch(x, good, 0), IOLM_EART_BUSY);
	/* Frames from a peer never added are ignored. */
	art_xfer_on_block(x, &cap, good, (const uint8_t *)"x", 1);
	art_xfer_destroy(x);
	art_xfer_destroy(NULL);
	art_store_close(a);
	t_rmrf(da);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_empty_artifact),
		cmocka_unit_test(test_roundtrip_one_byte),
		cmocka_unit_test(test_roundtrip_exactly_one_chunk),
		cmocka_unit_test(test_roundtrip_few_mib),
		cmocka_unit_test(test_fetch_of_local_artifact_is_done_at_once),
		cmocka_unit_test(test_corrupt_chunk_penalized_and_fetched_elsewhere),
		cmocka_unit_test(test_corrupt_manifest_penalized),
		cmocka_unit_test(test_timeout_falls_back_to_another_peer),
		cmocka_unit_test(test_resume_after_kill_refetches_nothing_verified),
		cmocka_unit_test(test_rarest_chunks_requested_first),
		cmocka_unit_test(test_serving_wants_not_here_and_flood),
		cmocka_unit_test(test_peer_rate_limit_paces_the_transfer),
		cmocka_unit_test(test_many_in_flight_one_corrupt_refused_on_workers),
		cmocka_unit_test(test_verified_block_signals_fd_and_drain_stores_it),
		cmocka_unit_test(test_bad_blocks_refused_before_store),
		cmocka_unit_test(test_shutdown_stores_what_was_verified),
		cmocka_unit_test(test_peer_leaves_while_its_blocks_verify),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
