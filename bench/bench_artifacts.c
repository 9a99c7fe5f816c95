/* bench_artifacts: the artifact store's throughput, each figure beside a limit measured
 * in the same run.
 *
 *   blake2b_gib_per_s      BLAKE2b-256 (chunk tag) over 64 KiB inputs, one core; limit:
 *                          memcpy of the same buffers (as bench_core)
 *   chunking_gib_per_s     content-defined chunking (art_chunk_cut) of random bytes, one
 *                          core; limit: blake2b_gib_per_s (chunking must not be the
 *                          bottleneck of add); goal >= 1.5 GiB/s
 *   chunk_avg_kib          mean chunk size on random bytes; limit: the 64 KiB target
 *   add_gib_per_s          art_store_add of a file in the page cache (LMDB without
 *                          fsync), hashing on all threads (at most 8); limit:
 *                          blake2b_gib_per_s x threads, the hashing bound
 *   get_gib_per_s          art_store_get of it back, verifying every chunk; same limit
 *
 * The transfer figure (transfer_gib_per_s against raw TCP loopback) waits for the
 * transfer engine (docs/artifacts.md "Transfer").
 *
 * Usage: bench_artifacts [--quick] [--dir DIR] [--mib N]   (DIR: scratch space for the
 * file and the store, default "."; N: file size for add/get, default 1024). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "bench_util.h"

static volatile uint8_t sink;

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
		exit(1);
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
		exit(1);
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

static void write_file(const char *path, uint64_t size)
{
	FILE *f = fopen(path, "wb");
	uint8_t *blk = random_bytes(1u << 20, 3);
	uint64_t seed = 4;
	if (!f)
		exit(1);
	while (size) {
		size_t n = size < (1u << 20) ? (size_t)size : (1u << 20);
		for (size_t i = 0; i + 8 <= n; i += 4096) {   /* vary every block */
			uint64_t v = splitmix(&seed);
			memcpy(blk + i, &v, 8);
		}
		if (fwrite(blk, 1, n, f) != n)
			exit(1);
		size -= n;
	}
	/* Written back before timing, so writeback does not compete with the store. */
	if (fflush(f) || fsync(fileno(f)) || fclose(f))
		exit(1);
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
		exit(1);
	write_file(file, mib << 20);

	art_store_options o = { .map_size = (mib << 20) * 2 + (64u << 20), .no_sync = 1,
				.threads = threads };
	if (art_store_open(&s, store, &o))
		exit(1);
	double t0 = bench_now();
	if (art_store_add(s, id, &st, file, NULL))
		exit(1);
	double t_add = bench_now() - t0;
	t0 = bench_now();
	if (art_store_get(s, id, out))
		exit(1);
	double t_get = bench_now() - t0;
	double gib = (double)(mib << 20) / (1u << 30);
	double bound = blake * threads;
	bench_figure("add_gib_per_s", gib / t_add, "GiB/s", "blake2b_x_threads_gib_per_s", bound);
	bench_figure("get_gib_per_s", gib / t_get, "GiB/s", "blake2b_x_threads_gib_per_s", bound);
	art_store_close(s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd))
		exit(1);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	const char *dir = ".";
	uint64_t mib = 1024;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
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
	double blake = bench_blake2b(secs);
	bench_chunking(secs, blake);
	bench_store(dir, mib, blake, threads);
	return 0;
}
