/* Unit tests of the artifact transfer engine (artifacts/xfer.h): engines with their own
 * stores, connected by an in-memory message queue and a simulated clock, each link with
 * a one-way delay (0 unless a test sets one). A node can corrupt the n-th block it
 * sends, or ignore every want it receives. */
#include "art_test_util.h"

#include <poll.h>

#include "artifacts/xfer.h"
#include "core/codec.h"

#define TN 3
#define TICK_MS 10

enum { M_WANT, M_BLOCK, M_HAVE, M_CANCEL };

struct tmsg {
	struct tmsg *next;
	uint64_t at;                 /* simulated time it arrives */
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
	int partial_haves;           /* partial ArtHaves sent */
	uint32_t penalties[TN];      /* points given to each other node */
	int done, done_err;
};

struct tnet {
	struct tnode node[TN];
	struct tmsg *head, *tail;
	uint64_t now;
	uint32_t delay[TN][TN];      /* ms from node i to node j */
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
	m->at = from->net->now + from->net->delay[m->from][m->to];
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

static int cb_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
		   const uint8_t *chunk_ids, size_t n)
{
	struct tnode *t = ctx;
	assert_true(n <= ART_XFER_MAX_HAVE_IDS);
	if (n)
		t->partial_haves++;
	enqueue(t, peer, M_HAVE, id, 1, chunk_ids, n * ART_ID_LEN);
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
		art_xfer_on_have(t->x, from, m->ids, m->len ? m->data : NULL,
				 m->len / ART_ID_LEN);
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

/* Take the first message that has arrived by now (a link's messages keep their order:
 * its delay is fixed and the clock only moves on); NULL when none has. */
static struct tmsg *take_arrived(struct tnet *net)
{
	for (struct tmsg **pp = &net->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		struct tmsg *m = *pp;
		if (m->at > net->now)
			continue;
		*pp = m->next;
		if (net->tail == m)
			net->tail = prev;
		return m;
	}
	return NULL;
}

/* Deliver messages, advancing the clock when none has arrived and nothing is being
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
		struct tmsg *m = take_arrived(net);
		if (m) {
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

/* ---------------------------------------------------------------- windows */

static void set_delay(struct tnet *net, int a, int b, uint32_t ms)
{
	net->delay[a][b] = net->delay[b][a] = ms;
}

/* Node 1 fetches id whole (the bytes of src); the simulated time it took. */
static uint64_t fetch_timed(struct tnet *net, const uint8_t id[ART_ID_LEN], const char *src)
{
	uint64_t t0 = net->now;
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 0, 60000));
	uint64_t took = net->now - t0;
	check_copy(net, 1, id, src);
	return took;
}

/* Fetch a 32 MiB artifact (about 460 chunks) from one peer 100 ms away (200 ms round
 * trip) with windows of at most `window`; the simulated time it took. What the fetching
 * engine then says of the peer: its window (at most the cap), a round trip of about
 * 200 ms, a rate. */
static uint64_t far_fetch(uint32_t window)
{
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_stats st;
	art_xfer_peer_info pi;
	node_stop(&net->node[1], 0);
	net->node[1].cfg.timeout_ms = 10000;
	net->node[1].cfg.window = window;
	node_start(&net->node[1]);
	set_delay(net, 0, 1, 100);
	add_file(net, 0, id, src, sizeof src, (uint64_t)32 << 20, 71);
	link_nodes(net, 0, 1);
	uint64_t took = fetch_timed(net, id, src);
	art_xfer_get_stats(net->node[1].x, &st);
	assert_int_equal(st.timeouts + st.corrupt + st.stolen, 0);
	assert_int_equal(art_xfer_get_peer_info(net->node[1].x, &net->node[0], &pi), IOLM_OK);
	assert_true(pi.window >= 4 && pi.window <= window);
	assert_true(pi.rtt_ms >= 190 && pi.rtt_ms <= 260);
	assert_true(pi.rate > 0);
	assert_int_equal(pi.in_flight + pi.stolen_from, 0);
	assert_int_equal(art_xfer_get_peer_info(net->node[1].x, &net->node[2], &pi),
			 IOLM_ENOTFOUND);
	assert_int_equal(pi.window, 0);
	net_free(net);
	return took;
}

/* A far peer's window grows while that pays: 16 requests per 200 ms round trip take
 * 6 s for 460 chunks; doubling each time the rate follows, the window reaches 128 in
 * a few round trips and the fetch takes less than half of that. */
static void test_far_peer_window_grows(void **state)
{
	(void)state;
	uint64_t fixed = far_fetch(16), grown = far_fetch(128);
	assert_true(fixed >= 5500);
	assert_true(grown <= 3200);
}

/* A window below the engine's minimum is still the cap: with art_window 2, never more
 * than 2 requests are out, through the samples of a 2 MiB fetch 20 ms away. */
static void test_small_window_is_a_hard_cap(void **state)
{
	(void)state;
	struct tnet *net = net_new(2);
	uint8_t id[ART_ID_LEN];
	char src[300];
	art_xfer_progress pr;
	art_xfer_stats st;
	node_stop(&net->node[1], 0);
	net->node[1].cfg.timeout_ms = 10000;
	net->node[1].cfg.window = 2;
	node_start(&net->node[1]);
	set_delay(net, 0, 1, 20);
	add_file(net, 0, id, src, sizeof src, (uint64_t)2 << 20, 73);
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	for (uint64_t got = 0; !net->node[1].done; got++) {
		assert_true(run(net, 1, got + 1, 60000) || net->node[1].done);
		assert_int_equal(art_xfer_get_progress(net->node[1].x, &pr, id), IOLM_OK);
		assert_true(pr.in_flight <= 2);
	}
	art_xfer_get_stats(net->node[1].x, &st);
	assert_true(st.chunks_received >= 25);
	check_copy(net, 1, id, src);
	net_free(net);
}

/* Two holders: node 0 fast, node 2 serving at 128 KiB/s (two chunks a second); node 1
 * fetches 8 MiB (about 115 chunks) from both, 5 ms away, with a 10 s request timeout.
 * The slow peer is asked for its first window of 16 only (its rate samples, its
 * bucket's burst included, never let the window grow), and once nothing wanted is left
 * the fast peer takes over the chunks still waiting there. The fetch ends in well under
 * the 8 s the slow peer needs for 16 chunks, and no request times out. */
static void test_slow_peer_keeps_few_chunks(void **state)
{
	(void)state;
	struct tnet *net = net_new(3);
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	char src[300], src2[300];
	art_xfer_stats st, slow;
	node_stop(&net->node[1], 0);
	net->node[1].cfg.timeout_ms = 10000;
	node_start(&net->node[1]);
	node_stop(&net->node[2], 0);
	net->node[2].cfg.peer_rate = 128u << 10;
	node_start(&net->node[2]);
	set_delay(net, 0, 1, 5);
	set_delay(net, 2, 1, 5);
	add_file(net, 0, id, src, sizeof src, (uint64_t)8 << 20, 72);
	add_file(net, 2, id2, src2, sizeof src2, (uint64_t)8 << 20, 72);
	assert_memory_equal(id, id2, ART_ID_LEN);
	art_xfer_tick(net->node[2].x, net->now);
	link_nodes(net, 0, 1);
	link_nodes(net, 2, 1);
	uint64_t took = fetch_timed(net, id, src);
	art_xfer_get_stats(net->node[1].x, &st);
	art_xfer_get_stats(net->node[2].x, &slow);
	assert_int_equal(st.timeouts + st.corrupt, 0);
	assert_true(st.stolen >= 1);
	assert_true(slow.blocks_served <= 16);
	art_xfer_peer_info pi;
	assert_int_equal(art_xfer_get_peer_info(net->node[1].x, &net->node[2], &pi), IOLM_OK);
	assert_int_equal(pi.stolen_from, st.stolen);
	/* Never grown past the start. Its first rate sample, whose burst share depends on
	 * when the sample falls, usually shrinks it (8 to 15 in 23 of 25 runs), not always. */
	assert_true(pi.window >= 4 && pi.window <= 16);
	assert_true(took <= 3000);
	net_free(net);
}

/* ---------------------------------------------------------------- swarming */

/* A chain 0 - 1 - 2: node 0 holds a 6 MiB artifact (about 86 chunks) and serves node 1
 * at 1 MiB/s; node 2, which already has the manifest, is linked to node 1 alone. Node 2
 * gets chunks while node 1 is still fetching: those node 1 had when they were linked
 * (its partial ArtHaves to a new peer; node 0 is stopped meanwhile, so nothing else
 * reaches node 1), then those node 1 stores afterwards (announced every
 * ART_XFER_HAVE_MS). Without partial announcements node 2 would get nothing until node
 * 1 is complete. */
static void test_partial_holder_serves_while_fetching(void **state)
{
	(void)state;
	struct tnet *net = net_new(3);
	uint8_t id[ART_ID_LEN], mid[ART_ID_LEN];
	char src[300];
	art_xfer_stats s1, s2;
	iolm_buf man;
	node_stop(&net->node[0], 0);
	net->node[0].cfg.peer_rate = 1u << 20;
	node_start(&net->node[0]);
	node_stop(&net->node[1], 0);
	net->node[1].cfg.timeout_ms = 10000; /* requests wait in node 0's queue */
	node_start(&net->node[1]);
	add_file(net, 0, id, src, sizeof src, (uint64_t)6 << 20, 77);
	art_xfer_tick(net->node[0].x, net->now);
	link_nodes(net, 0, 1);
	assert_int_equal(art_xfer_fetch(net->node[1].x, id, 1), IOLM_OK);
	assert_true(run(net, 1, 28, 60000));

	node_stop(&net->node[0], 0);
	iolm_buf_init(&man, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(net->node[0].s, &man, id), IOLM_OK);
	assert_int_equal(art_store_put_manifest(net->node[2].s, mid, man.data, man.len, 1),
			 IOLM_OK);
	iolm_buf_release(&man, 0);
	assert_int_equal(art_xfer_fetch(net->node[2].x, id, 1), IOLM_OK);
	link_nodes(net, 1, 2);
	art_xfer_get_stats(net->node[1].x, &s1);
	assert_true(run(net, 2, s1.chunks_received, 1000));
	assert_false(net->node[1].done);

	node_start(&net->node[0]);
	link_nodes(net, 0, 1);
	assert_true(run(net, 2, 50, 60000));
	assert_false(net->node[1].done);
	assert_true(net->node[1].partial_haves > 0);

	assert_true(run(net, 2, 0, 60000));
	assert_true(run(net, 1, 0, 60000));
	check_copy(net, 1, id, src);
	check_copy(net, 2, id, src);
	art_xfer_get_stats(net->node[1].x, &s1);
	art_xfer_get_stats(net->node[2].x, &s2);
	assert_int_equal(s1.bytes_served, (uint64_t)6 << 20); /* all of node 2's bytes */
	assert_int_equal(s2.bytes_received, (uint64_t)6 << 20);
	assert_int_equal(s2.corrupt, 0);
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
		cmocka_unit_test(test_peer_rate_limit_paces_the_transfer),
		cmocka_unit_test(test_far_peer_window_grows),
		cmocka_unit_test(test_small_window_is_a_hard_cap),
		cmocka_unit_test(test_slow_peer_keeps_few_chunks),
		cmocka_unit_test(test_partial_holder_serves_while_fetching),
		cmocka_unit_test(test_many_in_flight_one_corrupt_refused_on_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
