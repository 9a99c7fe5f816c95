/* Fuzz the artifact transfer engine (artifacts/xfer.h) as hostile peers see it.
 *
 * One engine over a fresh store fetches artifact A (about 300 KiB, a few chunks, built
 * once per process). The input is a script of up to FX_MAX_OPS operations by four peers:
 * join and leave, ArtHave (whole or some chunks), ArtBlock (the right bytes, "not here",
 * bytes for an unknown id, or a tampered chunk or manifest), ArtWant, ArtCancel, time
 * passing, verifier results acted on, and the fetch itself. Then an honest peer joins
 * with everything and answers whatever it is asked.
 *
 * Properties (abort on violation): no crash, no leak (ASan builds), and
 *   - a peer is penalized for corrupt data only if it sent tampered bytes, and for a
 *     flood only if it sent wants; the honest peer never;
 *   - every block the engine serves hashes to the id it is sent under;
 *   - whatever the script did, the fetch then completes: the store holds every chunk of
 *     A, byte for byte, and the engine reports it done. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "artifacts/xfer.h"
#include "core/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FX_PEERS 4
#define FX_HONEST FX_PEERS       /* the peer that joins at the end */
#define FX_MAX_CHUNKS 32
#define FX_MAX_OPS 256
#define FX_TIMEOUT_MS 1000u
#define FX_QUEUE 256             /* wants to the honest peer waiting for an answer */

/* Artifact A, built once. */
static struct {
	int ready;
	char base[256];
	uint8_t id[ART_ID_LEN];
	uint8_t *man;
	size_t man_len;
	size_t n;                    /* distinct chunks */
	uint8_t cid[FX_MAX_CHUNKS][ART_ID_LEN];
	uint8_t *chunk[FX_MAX_CHUNKS];
	size_t len[FX_MAX_CHUNKS];
} A;

/* One run. */
static struct {
	int peer[FX_PEERS + 1];      /* the peers' addresses are their identities */
	int joined[FX_PEERS + 1];
	int tampered[FX_PEERS + 1];  /* sent bytes that are not the chunk's or manifest's */
	int wanted[FX_PEERS + 1];    /* sent an ArtWant */
	uint8_t queue[FX_QUEUE][ART_ID_LEN]; /* wants sent to the honest peer, unanswered */
	size_t queued;
	int done, done_err;
} R;

static int peer_index(const void *peer)
{
	for (int i = 0; i <= FX_PEERS; i++)
		if (peer == &R.peer[i])
			return i;
	abort(); /* the engine named a peer it was never given */
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rmrf(const char *dir)
{
	char p[512];
	snprintf(p, sizeof p, "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* A: 300 KiB, the second half a copy of the first third's start so that some chunk
 * repeats, added to a scratch store; its manifest and distinct chunks kept in memory. */
static void setup(void)
{
	char src[300], file[320], dst[300];
	size_t size = 300u << 10;
	uint8_t *buf = malloc(size);
	uint64_t seed = 7;
	art_store *s, *e;
	iolm_buf man;
	if (!buf)
		abort();
	for (size_t i = 0; i < size; i += 8) {
		uint64_t v = splitmix(&seed);
		memcpy(buf + i, &v, 8);
	}
	memcpy(buf + size / 2, buf, 100u << 10);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(A.base, sizeof A.base, "%s/iolm-fuzz-xfer-XXXXXX", tmp);
	if (!mkdtemp(A.base))
		abort();
	snprintf(src, sizeof src, "%s/src", A.base);
	snprintf(dst, sizeof dst, "%s/dst", A.base);
	snprintf(file, sizeof file, "%s/a.bin", A.base);
	FILE *f = fopen(file, "wb");
	if (!f || fwrite(buf, 1, size, f) != size || fclose(f))
		abort();
	free(buf);
	art_store_options o = { .map_size = 64u << 20, .no_sync = 1, .threads = 1 };
	if (art_store_open(&s, src, &o) || art_store_add(s, A.id, NULL, file, NULL))
		abort();
	iolm_buf_init(&man, IOLM_MAX_MANIFEST_BYTES);
	if (art_store_manifest(s, &man, A.id) || !(A.man = malloc(man.len)))
		abort();
	memcpy(A.man, man.data, man.len);
	A.man_len = man.len;
	iolm_buf_release(&man, 0);
	/* The distinct chunk ids: what an empty store that took the manifest lacks. */
	uint8_t got[ART_ID_LEN];
	if (art_store_open(&e, dst, &o) || art_store_put_manifest(e, got, A.man, A.man_len, 0) ||
	    art_store_missing(e, &A.cid[0][0], FX_MAX_CHUNKS, &A.n, NULL, A.id) || A.n < 3)
		abort();
	art_store_close(e);
	for (size_t i = 0; i < A.n; i++) {
		iolm_buf c;
		iolm_buf_init(&c, ART_CHUNK_MAX);
		if (art_store_get_chunk(s, &c, A.cid[i]) || !(A.chunk[i] = malloc(c.len)))
			abort();
		memcpy(A.chunk[i], c.data, c.len);
		A.len[i] = c.len;
		iolm_buf_release(&c, 0);
	}
	art_store_close(s);
	rmrf(src);
	rmrf(dst);
	unlink(file);
	A.ready = 1;
}

/* ---------------------------------------------------------------- callbacks */

static int cb_want(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	(void)ctx;
	if (n == 0 || n > ART_XFER_MAX_WANT)
		abort();
	if (peer_index(peer) != FX_HONEST)
		return IOLM_OK; /* the scripted peers answer only what the script says */
	for (size_t i = 0; i < n && R.queued < FX_QUEUE; i++)
		memcpy(R.queue[R.queued++], ids + i * ART_ID_LEN, ART_ID_LEN);
	return IOLM_OK;
}

static int cb_cancel(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	(void)ctx, (void)ids;
	peer_index(peer);
	if (n == 0 || n > ART_XFER_MAX_WANT)
		abort();
	return IOLM_OK;
}

/* What the engine serves must be what its id names. */
static int cb_block(void *ctx, void *peer, const uint8_t id[ART_ID_LEN], const uint8_t *data,
		    size_t len)
{
	(void)ctx;
	peer_index(peer);
	if (len == 0)
		return IOLM_OK;
	uint8_t got[ART_ID_LEN];
	if (memcmp(id, A.id, ART_ID_LEN) == 0) {
		if (len != A.man_len || memcmp(data, A.man, len))
			abort();
		return IOLM_OK;
	}
	art_chunk_id(got, data, len);
	if (memcmp(got, id, ART_ID_LEN))
		abort();
	return IOLM_OK;
}

static int cb_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
		   const uint8_t *chunk_ids, size_t n)
{
	(void)ctx;
	peer_index(peer);
	if (memcmp(id, A.id, ART_ID_LEN) || n > ART_XFER_MAX_HAVE_IDS)
		abort(); /* A is the only artifact this store ever holds */
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < A.n && memcmp(A.cid[k], chunk_ids + i * ART_ID_LEN, ART_ID_LEN))
			k++;
		if (k == A.n)
			abort();
	}
	return IOLM_OK;
}

static void cb_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	(void)ctx, (void)reason;
	int i = peer_index(peer);
	if (points == ART_XFER_PTS_CORRUPT && R.tampered[i])
		return;
	if (points == ART_XFER_PTS_FLOOD && R.wanted[i])
		return;
	abort();
}

static void cb_done(void *ctx, const uint8_t id[ART_ID_LEN], int err)
{
	(void)ctx;
	if (memcmp(id, A.id, ART_ID_LEN) == 0) {
		R.done = 1;
		R.done_err = err;
	}
}

/* ---------------------------------------------------------------- the script */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* Act on every block the workers hold. */
static void settle(art_xfer *x)
{
	art_xfer_stats st;
	for (int tries = 0; tries < 1000; tries++) {
		art_xfer_get_stats(x, &st);
		if (!st.verifying)
			return;
		struct pollfd p = { art_xfer_fd(x), POLLIN, 0 };
		if (poll(&p, 1, 100) < 0 && errno != EINTR) /* libFuzzer's timer: SIGALRM */
			abort();
		art_xfer_drain(x);
	}
	abort(); /* a block that never comes back from the workers */
}

/* An id the script names: A, one of its chunks, or an unknown one. */
static const uint8_t *pick_id(struct input *in, uint8_t scratch[ART_ID_LEN])
{
	uint8_t b = next(in);
	if (b < 32)
		return A.id;
	if (b < 224)
		return A.cid[b % A.n];
	scratch[0] = ART_ID_PREFIX0;
	scratch[1] = ART_ID_PREFIX1;
	for (int i = 2; i < ART_ID_LEN; i++)
		scratch[i] = (uint8_t)(b + i);
	return scratch;
}

static void run_op(art_xfer *x, struct input *in, uint64_t *now)
{
	uint8_t op = next(in), scratch[ART_ID_LEN], buf[ART_CHUNK_MAX + 16];
	int k = next(in) % FX_PEERS;
	void *peer = &R.peer[k];
	size_t i = next(in) % A.n, n;
	uint8_t ids[8 * ART_ID_LEN];

	switch (op % 13) {
	case 0:
		if (art_xfer_peer_add(x, peer) == IOLM_OK)
			R.joined[k] = 1;
		return;
	case 1:
		art_xfer_peer_remove(x, peer);
		R.joined[k] = 0;
		return;
	}
	if (!R.joined[k])
		return; /* the transport hands the engine frames of joined peers only */
	switch (op % 13) {
	case 2: /* has all of A */
		art_xfer_on_have(x, peer, A.id, NULL, 0);
		break;
	case 3: { /* has the chunks in a mask */
		uint8_t mask = next(in);
		n = 0;
		for (size_t c = 0; c < A.n && c < 8; c++)
			if (mask >> c & 1)
				memcpy(ids + n++ * ART_ID_LEN, A.cid[c], ART_ID_LEN);
		if (n)
			art_xfer_on_have(x, peer, A.id, ids, n);
		break;
	}
	case 4: /* the manifest */
		art_xfer_on_block(x, peer, A.id, A.man, A.man_len);
		break;
	case 5: /* a chunk, right */
		art_xfer_on_block(x, peer, A.cid[i], A.chunk[i], A.len[i]);
		break;
	case 6: { /* a chunk, tampered: a bit flipped, cut short or grown */
		uint8_t how = next(in), at = next(in);
		size_t len = A.len[i];
		memcpy(buf, A.chunk[i], len);
		if (how % 3 == 0)
			buf[(size_t)at * 97 % len] ^= (uint8_t)(1u << (how >> 5));
		else if (how % 3 == 1)
			len -= 1 + at % (len - 1 < 255 ? len - 1 : 255);
		else
			len += 1 + at % 16;
		R.tampered[k] = 1;
		art_xfer_on_block(x, peer, A.cid[i], buf, len);
		break;
	}
	case 7: { /* the manifest, tampered */
		uint8_t at = next(in);
		memcpy(buf, A.man, A.man_len);
		buf[(size_t)at * 31 % A.man_len] ^= (uint8_t)(1u | next(in));
		R.tampered[k] = 1;
		art_xfer_on_block(x, peer, A.id, buf, A.man_len);
		break;
	}
	case 8: { /* "not here", or bytes under an id nobody asked for */
		const uint8_t *id = pick_id(in, scratch);
		if (id != scratch) {
			art_xfer_on_block(x, peer, id, NULL, 0);
			break;
		}
		n = 1 + next(in);
		memset(buf, next(in), n);
		art_xfer_on_block(x, peer, id, buf, n);
		break;
	}
	case 9: /* wants */
	case 10: { /* cancels */
		n = 1 + next(in) % 8;
		for (size_t j = 0; j < n; j++)
			memcpy(ids + j * ART_ID_LEN, pick_id(in, scratch), ART_ID_LEN);
		if (op % 13 == 9) {
			R.wanted[k] = 1;
			art_xfer_on_want(x, peer, ids, n);
		} else {
			art_xfer_on_cancel(x, peer, ids, n);
		}
		break;
	}
	case 11:
		*now += (uint64_t)next(in) * 16;
		art_xfer_tick(x, *now);
		break;
	case 12:
		settle(x);
		break;
	}
}

/* The honest peer answers every want sent to it, time passes (past the request
 * timeout, so requests that the scripted peers sit on go to it), until A is done. */
static void finish(art_xfer *x, uint64_t *now)
{
	art_xfer_progress pr;
	void *h = &R.peer[FX_HONEST];
	if (art_xfer_peer_add(x, h))
		abort();
	art_xfer_on_have(x, h, A.id, NULL, 0);
	for (int round = 0; round < 200; round++) {
		if (art_xfer_get_progress(x, &pr, A.id))
			abort(); /* the only fetch was forgotten */
		if (pr.state == ART_XFER_DONE)
			return;
		if (pr.state == ART_XFER_FAILED)
			abort();
		while (R.queued) {
			uint8_t id[ART_ID_LEN];
			memcpy(id, R.queue[--R.queued], ART_ID_LEN);
			if (memcmp(id, A.id, ART_ID_LEN) == 0) {
				art_xfer_on_block(x, h, id, A.man, A.man_len);
				continue;
			}
			size_t c = 0;
			while (c < A.n && memcmp(A.cid[c], id, ART_ID_LEN))
				c++;
			if (c == A.n)
				abort(); /* asked for an id that is not A's */
			art_xfer_on_block(x, h, id, A.chunk[c], A.len[c]);
		}
		settle(x);
		*now += FX_TIMEOUT_MS + 1;
		art_xfer_tick(x, *now);
	}
	abort(); /* the fetch is stuck */
}

/* The store holds A whole, byte for byte. */
static void check_store(art_store *s)
{
	size_t n = 0, left = 1;
	if (art_store_missing(s, NULL, 0, &n, &left, A.id) || left)
		abort();
	for (size_t i = 0; i < A.n; i++) {
		iolm_buf c;
		iolm_buf_init(&c, ART_CHUNK_MAX);
		if (art_store_get_chunk(s, &c, A.cid[i]) || c.len != A.len[i] ||
		    memcmp(c.data, A.chunk[i], c.len))
			abort();
		iolm_buf_release(&c, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	char dir[300];
	art_store *s;
	art_xfer *x;
	uint64_t now = 1000;

	/* Two bytes or fewer script no operation: every such input is the same run (the
	 * corpus driver tries all of them). */
	if (size < 3)
		return 0;
	if (!A.ready)
		setup();
	memset(&R, 0, sizeof R);
	snprintf(dir, sizeof dir, "%s/run", A.base);
	rmrf(dir);
	art_store_options o = { .map_size = 64u << 20, .no_sync = 1, .threads = 1 };
	art_xfer_callbacks cb = { cb_want, cb_cancel, cb_block, cb_have, cb_penalize, cb_done,
				  NULL };
	art_xfer_config cfg = { .window = 1 + next(&in) % 8, .timeout_ms = FX_TIMEOUT_MS,
				.serve_queue = 4, .workers = 1 };
	if (next(&in) & 1)
		cfg.peer_rate = 64u << 10; /* serving waits on the bucket: queues fill */
	if (art_store_open(&s, dir, &o) || art_xfer_create(&x, s, &cfg, &cb))
		abort();
	art_xfer_tick(x, now);
	int fetching = 0;
	for (int ops = 0; ops < FX_MAX_OPS && in.left; ops++) {
		if (!fetching && next(&in) < 64) {
			if (art_xfer_fetch(x, A.id, next(&in) & 1))
				abort();
			fetching = 1;
		}
		run_op(x, &in, &now);
	}
	if (!fetching && art_xfer_fetch(x, A.id, 0))
		abort();
	finish(x, &now);
	settle(x);
	if (!R.done || R.done_err)
		abort();
	art_xfer_destroy(x);
	check_store(s);
	art_store_close(s);
	rmrf(dir);
	return 0;
}
