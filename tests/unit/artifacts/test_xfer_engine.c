/* Unit tests of the artifact transfer engine (artifacts/xfer.h) against a captured
 * peer: the order of requests (rarest first), serving wants, and the verifier's path from
 * a received block to the store, driven block by block. The engines talking to each
 * other over a simulated network are in test_xfer.c. */
#include "art_test_util.h"

#include <poll.h>

#include "artifacts/xfer.h"
#include "core/codec.h"

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

static int cap_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
		    const uint8_t *chunk_ids, size_t n)
{
	(void)ctx, (void)peer, (void)id, (void)chunk_ids, (void)n;
	return IOLM_OK;
}

static void cap_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	(void)peer, (void)reason;
	((struct capture *)ctx)->penalty = points;
}

/* How many wants cap holds for peer; each must be one of ids[from..to). */
static size_t wants_to(const struct capture *cap, void *peer, const uint8_t *ids, size_t from,
		       size_t to)
{
	size_t count = 0;
	for (size_t i = 0; i < cap->n; i++) {
		if (cap->to[i] != peer)
			continue;
		count++;
		int listed = 0;
		for (size_t j = from; j < to; j++)
			listed |= memcmp(cap->ids[i], ids + j * ART_ID_LEN, ART_ID_LEN) == 0;
		assert_true(listed);
	}
	return count;
}

/* Two stores: a holds a random artifact of 3 MiB (id, its encoded manifest man, its n
 * distinct chunk ids in manifest order, read from a scratch store that took the
 * manifest), b is empty. */
struct two_stores {
	char da[256], db[256];
	art_store *a, *b;
	uint8_t id[ART_ID_LEN];
	iolm_buf man;
	uint8_t ids[1024 * ART_ID_LEN];
	size_t n;
};

static void two_stores_open(struct two_stores *t, uint64_t seed)
{
	char src[300], dc[256];
	uint8_t got[ART_ID_LEN];
	t->a = t_open(t_tmpdir(t->da, sizeof t->da));
	t->b = t_open(t_tmpdir(t->db, sizeof t->db));
	snprintf(src, sizeof src, "%s/src.bin", t->da);
	t_write_random(src, (uint64_t)3 << 20, seed);
	assert_int_equal(art_store_add(t->a, t->id, NULL, src, NULL), IOLM_OK);
	iolm_buf_init(&t->man, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(t->a, &t->man, t->id), IOLM_OK);
	art_store *c = t_open(t_tmpdir(dc, sizeof dc));
	assert_int_equal(art_store_put_manifest(c, got, t->man.data, t->man.len, 0), IOLM_OK);
	assert_int_equal(art_store_missing(c, t->ids, 1024, &t->n, NULL, t->id), IOLM_OK);
	art_store_close(c);
	t_rmrf(dc);
	assert_true(t->n >= 20);
}

static void two_stores_close(struct two_stores *t)
{
	iolm_buf_release(&t->man, 0);
	art_store_close(t->a);
	art_store_close(t->b);
	t_rmrf(t->da);
	t_rmrf(t->db);
}

/* Peer P1 holds everything, P2 announced the first half of the chunks: P1 is asked for
 * chunks only it holds (the rarest) before any chunk P2 also holds. */
static void test_rarest_chunks_requested_first(void **state)
{
	(void)state;
	static struct two_stores t;
	static struct capture cap;
	uint8_t got[ART_ID_LEN];
	art_xfer *x;
	int p1, p2;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &cap };
	art_xfer_config cfg = { .window = 8 };

	two_stores_open(&t, 4);
	assert_int_equal(art_store_put_manifest(t.b, got, t.man.data, t.man.len, 0), IOLM_OK);
	size_t half = t.n / 2;
	memset(&cap, 0, sizeof cap);
	assert_int_equal(art_xfer_create(&x, t.b, &cfg, &cb), IOLM_OK);
	assert_int_equal(art_xfer_fetch(x, t.id, 0), IOLM_OK);
	assert_int_equal(cap.n, 0); /* no peer yet */
	assert_int_equal(art_xfer_peer_add(x, &p2), IOLM_OK);
	art_xfer_on_have(x, &p2, t.id, t.ids, half);
	cap.n = 0; /* P2 alone: asked for its first chunks */
	assert_int_equal(art_xfer_peer_add(x, &p1), IOLM_OK);
	art_xfer_on_have(x, &p1, t.id, NULL, 0);
	/* P1's first window: every id from the second half, the chunks only it holds. */
	assert_int_equal(wants_to(&cap, &p1, t.ids, half, t.n), cfg.window);
	art_xfer_progress pr;
	assert_int_equal(art_xfer_get_progress(x, &pr, t.id), IOLM_OK);
	assert_int_equal(pr.peers, 2);
	assert_int_equal(pr.in_flight, 2 * cfg.window);
	/* P1 leaves: its requests are released (and P2 cannot take them: it lacks them). */
	art_xfer_peer_remove(x, &p1);
	assert_int_equal(art_xfer_get_progress(x, &pr, t.id), IOLM_OK);
	assert_int_equal(pr.in_flight, cfg.window);
	assert_int_equal(pr.peers, 1);
	art_xfer_destroy(x);
	two_stores_close(&t);
}

/* P2 announces part of an artifact before this node fetches it, P1 then sends the
 * manifest: the chunks P2 announced count when the chunk list is built, and P2 is asked
 * for them (and for nothing else). */
static void test_early_partial_have_counts(void **state)
{
	(void)state;
	static struct two_stores t;
	static struct capture cap;
	art_xfer *x;
	int p1, p2;
	art_xfer_callbacks cb = { cap_want, cap_cancel, cap_block, cap_have, cap_penalize, NULL,
				  &cap };
	art_xfer_config cfg = { .window = 8 };

	two_stores_open(&t, 5);
	size_t half = t.n / 2;
	memset(&cap, 0, sizeof cap);
	assert_int_equal(art_xfer_create(&x, t.b, &cfg, &cb), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(x, &p2), IOLM_OK);
	art_xfer_on_have(x, &p2, t.id, t.ids + half * ART_ID_LEN, t.n - half);
	assert_int_equal(art_xfer_fetch(x, t.id, 0), IOLM_OK);
	assert_int_equal(art_xfer_peer_add(x, &p1), IOLM_OK);
	art_xfer_on_have(x, &p1, t.id, NULL, 0);
	cap.n = 0;
	art_xfer_on_block(x, &p1, t.id, t.man.data, t.man.len);
	art_xfer_progress pr;
	assert_int_equal(art_xfer_get_progress(x, &pr, t.id), IOLM_OK);
	assert_int_equal(pr.state, ART_XFER_CHUNKS);
	assert_int_equal(wants_to(&cap, &p2, t.ids, half, t.n), cfg.window);
	assert_int_equal(pr.in_flight, 2 * cfg.window);
	assert_int_equal(cap.penalty, 0);
	art_xfer_destroy(x);
	two_stores_close(&t);
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
		cmocka_unit_test(test_rarest_chunks_requested_first),
		cmocka_unit_test(test_early_partial_have_counts),
		cmocka_unit_test(test_serving_wants_not_here_and_flood),
		cmocka_unit_test(test_verified_block_signals_fd_and_drain_stores_it),
		cmocka_unit_test(test_bad_blocks_refused_before_store),
		cmocka_unit_test(test_shutdown_stores_what_was_verified),
		cmocka_unit_test(test_peer_leaves_while_its_blocks_verify),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
