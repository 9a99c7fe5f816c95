/* bench_artifacts: the artifact store's throughput, each figure beside a limit measured
 * in the same run.
 *
 *   blake2b_gib_per_s      BLAKE2b-256 (chunk tag) over 64 KiB inputs, one core; limit:
 *                          memcpy of the same buffers (as bench_core)
 *   chunking_gib_per_s     content-defined chunking (art_chunk_cut) of random bytes, one
 *                          core; limit: blake2b_gib_per_s (chunking must not be the
 *                          bottleneck of add); goal >= 1.5 GiB/s
 *   chunk_avg_kib          mean chunk size on random bytes; limit: the 64 KiB target
 *   chunk_ids_gib_per_s    art_chunk_ids (several chunks hashed in lock-step: AVX-512
 *                          where the CPU has it) over 64 chunks of 8..128 KiB, one core;
 *                          limit: blake2b_gib_per_s (one stream)
 *   add_gib_per_s          art_store_add of a file in the page cache (LMDB without
 *                          fsync), hashing on all threads (at most 8); limit:
 *                          blake2b_gib_per_s x threads, the hashing bound
 *   get_gib_per_s          art_store_get of it back, verifying every chunk; same limit
 *
 *   transfer_gib_per_s     one artifact fetched between two art_xfer engines, each with
 *                          its own store and thread, over a TCP loopback connection with
 *                          a minimal framing of the bench's own (type, length, payload;
 *                          no encryption; a block's data is sent from the store's map
 *                          with only its header copied), from the first want to the
 *                          last verified chunk stored; limit: raw_tcp_gib_per_s, the same bytes
 *                          written through a loopback socket in 1 MiB writes and
 *                          discarded; goal ratio >= 0.5. Size: 1 GiB, 256 MiB with
 *                          --quick, or --xfer-mib N.
 *   transfer_cpu_s_per_gib CPU seconds (user + system, every thread of the process) that
 *                          fetch took per GiB; limit: raw_tcp_cpu_s_per_gib, the same
 *                          for the raw socket measurement. Steadier than the wall clock
 *                          on a shared machine.
 *
 * Usage: bench_artifacts [--quick] [--dir DIR] [--mib N] [--xfer-mib N] [--transfer-only]
 * (DIR: scratch space for the files and the stores, default "."; N: file size for
 * add/get, default 1024; --transfer-only: the transfer and its limit alone, for
 * profiling). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "artifacts/art_int.h"
#include "artifacts/xfer.h"
#include "bench_util.h"
#include "raw_tcp.h"
#include "core/codec.h"

static volatile uint8_t sink;

/* A step failed: say where, with errno's text (most failures here are the system's). */
#define DIE() die_at(__LINE__)
static _Noreturn void die_at(int line)
{
	fprintf(stderr, "bench_artifacts: failed at bench_artifacts.c:%d (last system error: %s)\n",
		line, strerror(errno));
	exit(1);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n);
	if (!p)
		DIE();
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = splitmix(&seed);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
	return p;
}

static double bench_blake2b(double secs)
{
	enum { CHUNK = 64 * 1024, NBUF = 64 };
	uint8_t *src = random_bytes((size_t)CHUNK * NBUF, 1), *dst = malloc(CHUNK);
	uint8_t out[ART_ID_LEN];
	double t0, t, hash_rate, copy_rate;
	long n;
	if (!dst)
		DIE();
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++) {
		art_chunk_id(out, src + (size_t)(n % NBUF) * CHUNK, CHUNK);
		sink ^= out[2];
	}
	hash_rate = (double)n * CHUNK / t / (1u << 30);
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs / 2; n++) {
		memcpy(dst, src + (size_t)(n % NBUF) * CHUNK, CHUNK);
		sink ^= dst[n % CHUNK];
	}
	copy_rate = (double)n * CHUNK / t / (1u << 30);
	bench_figure("blake2b_gib_per_s", hash_rate, "GiB/s", "memcpy_gib_per_s", copy_rate);
	free(src);
	free(dst);
	return hash_rate;
}

static void bench_chunking(double secs, double blake)
{
	size_t len = 64u << 20;
	uint8_t *d = random_bytes(len, 2);
	uint64_t bytes = 0, chunks = 0;
	double t0 = bench_now(), t;
	while ((t = bench_now() - t0) < secs) {
		size_t pos = 0;
		while (pos < len) {
			size_t lim = len - pos < ART_CHUNK_MAX ? len - pos : ART_CHUNK_MAX;
			pos += art_chunk_cut(d + pos, lim);
			chunks++;
		}
		bytes += len;
	}
	bench_figure("chunking_gib_per_s", (double)bytes / t / (1u << 30), "GiB/s",
		     "blake2b_gib_per_s", blake);
	bench_figure("chunk_avg_kib", (double)bytes / (double)chunks / 1024, "KiB", "target_kib",
		     ART_CHUNK_AVG / 1024.0);
	free(d);
}

static void bench_chunk_ids(double secs, double blake)
{
	enum { N = 64 };
	uint8_t *d = random_bytes((size_t)N * ART_CHUNK_MAX, 5);
	static uint8_t ids[N][ART_ID_LEN];
	const uint8_t *data[N];
	size_t len[N], per = 0;
	uint64_t seed = 6, bytes = 0;
	for (size_t i = 0; i < N; i++) {
		data[i] = d + i * ART_CHUNK_MAX;
		len[i] = ART_CHUNK_MIN + (size_t)(splitmix(&seed) % (ART_CHUNK_MAX - ART_CHUNK_MIN));
		per += len[i];
	}
	double t0 = bench_now(), t;
	while ((t = bench_now() - t0) < secs) {
		art_chunk_ids(ids, data, len, N);
		sink ^= ids[0][2];
		bytes += per;
	}
	bench_figure("chunk_ids_gib_per_s", (double)bytes / t / (1u << 30), "GiB/s",
		     "blake2b_gib_per_s", blake);
	free(d);
}

static void write_file(const char *path, uint64_t size)
{
	FILE *f = fopen(path, "wb");
	uint8_t *blk = random_bytes(1u << 20, 3);
	uint64_t seed = 4;
	if (!f)
		DIE();
	while (size) {
		size_t n = size < (1u << 20) ? (size_t)size : (1u << 20);
		for (size_t i = 0; i + 8 <= n; i += 4096) {   /* vary every block */
			uint64_t v = splitmix(&seed);
			memcpy(blk + i, &v, 8);
		}
		if (fwrite(blk, 1, n, f) != n)
			DIE();
		size -= n;
	}
	/* Written back before timing, so writeback does not compete with the store. */
	if (fflush(f) || fsync(fileno(f)) || fclose(f))
		DIE();
	free(blk);
}

static void bench_store(const char *dir, uint64_t mib, double blake, unsigned threads)
{
	char base[1024], file[1100], store[1100], out[1100], cmd[3400];
	uint8_t id[ART_ID_LEN];
	art_store *s;
	art_add_stats st;
	snprintf(base, sizeof base, "%s/bench-art-%d", dir, (int)getpid());
	snprintf(file, sizeof file, "%s/data.bin", base);
	snprintf(store, sizeof store, "%s/store", base);
	snprintf(out, sizeof out, "%s/out", base);
	if (mkdir(base, 0700))
		DIE();
	write_file(file, mib << 20);

	art_store_options o = { .map_size = (mib << 20) * 2 + (64u << 20), .no_sync = 1,
				.threads = threads };
	if (art_store_open(&s, store, &o))
		DIE();
	double t0 = bench_now();
	if (art_store_add(s, id, &st, file, NULL))
		DIE();
	double t_add = bench_now() - t0;
	t0 = bench_now();
	if (art_store_get(s, id, out))
		DIE();
	double t_get = bench_now() - t0;
	double gib = (double)(mib << 20) / (1u << 30);
	double bound = blake * threads;
	bench_figure("add_gib_per_s", gib / t_add, "GiB/s", "blake2b_x_threads_gib_per_s", bound);
	bench_figure("get_gib_per_s", gib / t_get, "GiB/s", "blake2b_x_threads_gib_per_s", bound);
	art_store_close(s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd))
		DIE();
}

/* ---------------------------------------------------------------- transfer */

/* The bench's framing: type (1 byte), payload length (4 bytes, big-endian), payload.
 * want/cancel: ids back to back; have: the artifact id, then any chunk ids; block: the
 * id, then the data. */
enum { BX_WANT = 1, BX_CANCEL, BX_HAVE, BX_BLOCK };
#define BX_IN_CAP ((size_t)(IOLM_MAX_MANIFEST_BYTES) + 64)
#define BX_WINDOW 64u            /* requests in flight (4 MiB): loopback needs no more */

struct bx_side {
	int fd;
	art_store *s;
	art_xfer *x;
	int peer;                    /* the other side, as the engine's opaque peer */
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_cap;
	int done, err, closed;
};

static void bx_frame(struct bx_side *b, int type, const uint8_t *p1, size_t n1,
		     const uint8_t *p2, size_t n2)
{
	size_t need = b->out_len + 5 + n1 + n2;
	if (need > b->out_cap) {
		size_t cap = b->out_cap ? b->out_cap : 1u << 20;
		while (cap < need)
			cap *= 2;
		if (!(b->out = realloc(b->out, cap)))
			DIE();
		b->out_cap = cap;
	}
	uint8_t *o = b->out + b->out_len;
	uint32_t len = (uint32_t)(n1 + n2);
	o[0] = (uint8_t)type;
	o[1] = (uint8_t)(len >> 24);
	o[2] = (uint8_t)(len >> 16);
	o[3] = (uint8_t)(len >> 8);
	o[4] = (uint8_t)len;
	if (n1)
		memcpy(o + 5, p1, n1);
	if (n2)
		memcpy(o + 5 + n1, p2, n2);
	b->out_len = need;
}

static int bx_want(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	(void)peer;
	bx_frame(ctx, BX_WANT, ids, n * ART_ID_LEN, NULL, 0);
	return IOLM_OK;
}

static int bx_cancel(void *ctx, void *peer, const uint8_t *ids, size_t n)
{
	(void)peer;
	bx_frame(ctx, BX_CANCEL, ids, n * ART_ID_LEN, NULL, 0);
	return IOLM_OK;
}

/* A block goes out at once from the engine's buffer (the store's map), after what is
 * queued: only its header is copied. */
static int bx_block(void *ctx, void *peer, const uint8_t id[ART_ID_LEN], const uint8_t *data,
		    size_t len)
{
	struct bx_side *b = ctx;
	(void)peer;
	bx_frame(b, BX_BLOCK, id, ART_ID_LEN, NULL, 0);
	uint8_t *h = b->out + b->out_len - 5 - ART_ID_LEN;
	uint32_t n = (uint32_t)(ART_ID_LEN + len);
	h[1] = (uint8_t)(n >> 24);
	h[2] = (uint8_t)(n >> 16);
	h[3] = (uint8_t)(n >> 8);
	h[4] = (uint8_t)n;
	struct iovec iov[2] = { { b->out, b->out_len }, { (void *)(uintptr_t)data, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	while (iov[0].iov_len + iov[1].iov_len) {
		ssize_t w = sendmsg(b->fd, &m, MSG_NOSIGNAL);
		if (w <= 0)
			DIE();
		for (int i = 0; i < 2; i++) {
			size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			w -= (ssize_t)k;
		}
	}
	b->out_len = 0;
	return IOLM_OK;
}

static int bx_have(void *ctx, void *peer, const uint8_t id[ART_ID_LEN],
		   const uint8_t *chunk_ids, size_t n)
{
	(void)peer;
	bx_frame(ctx, BX_HAVE, id, ART_ID_LEN, chunk_ids, n * ART_ID_LEN);
	return IOLM_OK;
}

static void bx_penalize(void *ctx, void *peer, uint32_t points, const char *reason)
{
	(void)ctx, (void)peer, (void)points;
	fprintf(stderr, "bench_artifacts: transfer peer penalized: %s\n", reason);
	DIE();
}

static void bx_done(void *ctx, const uint8_t id[ART_ID_LEN], int err)
{
	struct bx_side *b = ctx;
	(void)id;
	b->done = 1;
	b->err = err;
}

static void bx_flush(struct bx_side *b)
{
	size_t off = 0;
	while (off < b->out_len) {
		ssize_t w = send(b->fd, b->out + off, b->out_len - off, MSG_NOSIGNAL);
		if (w <= 0)
			DIE();
		off += (size_t)w;
	}
	b->out_len = 0;
}

/* Hand every complete frame in the input buffer to the engine. */
static void bx_dispatch(struct bx_side *b)
{
	size_t pos = 0;
	while (b->in_len - pos >= 5) {
		const uint8_t *h = b->in + pos;
		size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
		if (len > BX_IN_CAP - 5)
			DIE();
		if (b->in_len - pos < 5 + len)
			break;
		const uint8_t *p = h + 5;
		switch (h[0]) {
		case BX_WANT:
			art_xfer_on_want(b->x, &b->peer, p, len / ART_ID_LEN);
			break;
		case BX_CANCEL:
			art_xfer_on_cancel(b->x, &b->peer, p, len / ART_ID_LEN);
			break;
		case BX_HAVE:
			if (len < ART_ID_LEN || (len - ART_ID_LEN) % ART_ID_LEN)
				DIE();
			art_xfer_on_have(b->x, &b->peer, p, p + ART_ID_LEN,
					 (len - ART_ID_LEN) / ART_ID_LEN);
			break;
		case BX_BLOCK:
			art_xfer_on_block(b->x, &b->peer, p, p + ART_ID_LEN, len - ART_ID_LEN);
			break;
		default:
			DIE();
		}
		pos += 5 + len;
	}
	memmove(b->in, b->in + pos, b->in_len - pos);
	b->in_len -= pos;
}

/* One side's loop: read, dispatch, act on verified chunks as the engine signals them,
 * tick every few ms, write; until the fetch is done (the fetching side) or the other
 * side closed (the serving side). */
static void bx_loop(struct bx_side *b, int fetching)
{
	uint64_t last = 0;
	while (!(fetching ? b->done : b->closed)) {
		struct pollfd pfd[2] = { { b->fd, POLLIN, 0 }, { art_xfer_fd(b->x), POLLIN, 0 } };
		if (poll(pfd, 2, 1) > 0) {
			if (pfd[0].revents) {
				ssize_t r = recv(b->fd, b->in + b->in_len, BX_IN_CAP - b->in_len, 0);
				if (r <= 0) {
					b->closed = 1;
				} else {
					b->in_len += (size_t)r;
					bx_dispatch(b);
				}
			}
			if (pfd[1].revents)
				art_xfer_drain(b->x);
		}
		uint64_t now = iolm_clock_mono_ns() / 1000000u;
		if (now >= last + 5) {
			art_xfer_tick(b->x, now);
			last = now;
		}
		bx_flush(b);
	}
}

static void *bx_server(void *arg)
{
	struct bx_side *b = arg;
	bx_loop(b, 0);
	return NULL;
}

static void bx_side_open(struct bx_side *b, const char *dir, uint64_t bytes, int fd)
{
	art_store_options o = { .map_size = bytes * 2 + (64u << 20), .no_sync = 1 };
	art_xfer_callbacks cb = { bx_want, bx_cancel, bx_block, bx_have, bx_penalize, bx_done, b };
	memset(b, 0, sizeof *b);
	b->fd = fd;
	art_xfer_config xc = { .window = BX_WINDOW };
	if (art_store_open(&b->s, dir, &o) || art_xfer_create(&b->x, b->s, &xc, &cb) ||
	    !(b->in = malloc(BX_IN_CAP)))
		DIE();
}

static void bx_side_close(struct bx_side *b)
{
	art_xfer_destroy(b->x);
	art_store_close(b->s);
	free(b->in);
	free(b->out);
	close(b->fd);
}

/* CPU seconds (user + system) this process has used so far, all threads. */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		DIE();
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void bench_transfer(const char *dir, uint64_t mib)
{
	char base[1024], file[1100], src[1100], dst[1100], cmd[3400];
	uint64_t bytes = mib << 20;
	uint8_t id[ART_ID_LEN];
	struct bx_side sv, cl;
	art_xfer_stats st;
	pthread_t t;
	int fds[2];

	double gib = (double)bytes / (1u << 30), c0 = self_cpu_s();
	double raw = bench_raw_tcp_gib_per_s(bytes);
	double raw_cpu = (self_cpu_s() - c0) / gib;
	snprintf(base, sizeof base, "%s/bench-xfer-%d", dir, (int)getpid());
	snprintf(file, sizeof file, "%s/data.bin", base);
	snprintf(src, sizeof src, "%s/src", base);
	snprintf(dst, sizeof dst, "%s/dst", base);
	if (mkdir(base, 0700))
		DIE();
	write_file(file, bytes);
	bench_tcp_pair(fds);
	bx_side_open(&sv, src, bytes, fds[1]);
	bx_side_open(&cl, dst, bytes, fds[0]);
	if (art_store_add(sv.s, id, NULL, file, NULL) || unlink(file))
		DIE();

	/* Connected: each side announces what it holds; then the fetch starts. */
	if (art_xfer_peer_add(sv.x, &sv.peer) || art_xfer_peer_add(cl.x, &cl.peer))
		DIE();
	bx_flush(&sv);
	double t0 = bench_now();
	c0 = self_cpu_s();
	if (pthread_create(&t, NULL, bx_server, &sv) || art_xfer_fetch(cl.x, id, 1))
		DIE();
	bx_loop(&cl, 1);
	double secs = bench_now() - t0, cpu = (self_cpu_s() - c0) / gib;
	shutdown(cl.fd, SHUT_RDWR);
	pthread_join(t, NULL);
	art_xfer_get_stats(cl.x, &st);
	if (cl.err || st.bytes_received != bytes || st.corrupt) {
		fprintf(stderr, "bench_artifacts: transfer incomplete: %s\n", iolm_strerror(cl.err));
		DIE();
	}
	bench_figure("transfer_gib_per_s", gib / secs, "GiB/s", "raw_tcp_gib_per_s", raw);
	bench_figure("transfer_cpu_s_per_gib", cpu, "s/GiB", "raw_tcp_cpu_s_per_gib", raw_cpu);
	bx_side_close(&sv);
	bx_side_close(&cl);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd))
		DIE();
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv), only_transfer = 0;
	const char *dir = ".";
	uint64_t mib = 1024, xfer_mib = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--xfer-mib") == 0 && i + 1 < argc)
			xfer_mib = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--transfer-only") == 0)
			only_transfer = 1;
		else if (strcmp(argv[i], "--quick") != 0) {
			fprintf(stderr, "usage: bench_artifacts [--quick] [--dir DIR] [--mib N] "
					"[--xfer-mib N] [--transfer-only]\n");
			return 2;
		}
	}
	struct stat dsb;
	if (stat(dir, &dsb) != 0 || !S_ISDIR(dsb.st_mode)) {
		fprintf(stderr, "bench_artifacts: --dir %s is not a folder\n", dir);
		return 2;
	}
	if (mib == 0 || mib > 65536)
		mib = 1024;
	if (quick)
		mib = 16;
	double secs = quick ? 0.05 : 2.0;
	if (iolm_crypto_init() != IOLM_OK)
		return 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cpus > 8 ? 8 : cpus > 0 ? (unsigned)cpus : 1;
	if (!only_transfer) {
		double blake = bench_blake2b(secs);
		bench_chunking(secs, blake);
		bench_chunk_ids(secs, blake);
		bench_store(dir, mib, blake, threads);
	}
	if (xfer_mib == 0 || xfer_mib > 65536)
		xfer_mib = quick ? 256 : 1024;
	bench_transfer(dir, xfer_mib);
	return 0;
}
