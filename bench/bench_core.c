/* bench_core: the per-core limits later benchmarks are quoted against.
 *
 *   schnorr_sign_per_s     BIP340 signatures per second, one core
 *   schnorr_verify_per_s   BIP340 verifications per second, one core
 *   blake2b_gib_per_s      BLAKE2b-256 over 64 KiB inputs, one core; limit: memcpy of the
 *                          same buffers in the same run (the memory system's ceiling)
 *   lmdb_commits_per_s     durable LMDB write transactions per second (one small put, full
 *                          sync); limit: fdatasync()s per second on the same filesystem
 *
 * Usage: bench_core [--quick] [--dir DIR]   (DIR: where the LMDB and fsync files go; it
 * must be on a real disk for the durable figures to mean anything; default: .) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "bench_util.h"
#include "core/hash.h"
#include "core/key.h"

static volatile uint8_t sink;

static void bench_schnorr(double secs)
{
	enum { NKEYS = 64 };
	iolm_key keys[NKEYS];
	uint8_t msgs[NKEYS][32], sigs[NKEYS][64];
	double t0, t;
	long n;

	for (int i = 0; i < NKEYS; i++) {
		if (iolm_key_generate(&keys[i]) != IOLM_OK)
			exit(1);
		iolm_hash(msgs[i], IOLM_TAG_TXSIG, &i, sizeof i);
	}
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++)
		if (iolm_sign(&keys[n % NKEYS], sigs[n % NKEYS], msgs[n % NKEYS]) != IOLM_OK)
			exit(1);
	bench_figure("schnorr_sign_per_s", (double)n / t, "1/s", NULL, 0);

	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++)
		if (iolm_verify(sigs[n % NKEYS], msgs[n % NKEYS], iolm_key_pub(&keys[n % NKEYS])) !=
		    IOLM_OK)
			exit(1);
	bench_figure("schnorr_verify_per_s", (double)n / t, "1/s", NULL, 0);
	for (int i = 0; i < NKEYS; i++)
		iolm_key_wipe(&keys[i]);
}

static void bench_blake2b(double secs)
{
	enum { CHUNK = 64 * 1024, NBUF = 64 }; /* 4 MiB: larger than L2, like real chunks */
	uint8_t *src = malloc((size_t)CHUNK * NBUF), *dst = malloc(CHUNK);
	uint8_t out[32];
	double t0, t, hash_rate, copy_rate;
	long n;

	if (!src || !dst)
		exit(1);
	for (size_t i = 0; i < (size_t)CHUNK * NBUF; i++)
		src[i] = (uint8_t)(i * 131);

	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++) {
		iolm_hash(out, IOLM_TAG_CHUNK, src + (size_t)(n % NBUF) * CHUNK, CHUNK);
		sink ^= out[0];
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
}

static double bench_fsync(const char *dir, double secs)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/bench-fsync.tmp", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	double t0, t;
	long n;
	if (fd < 0) {
		perror("bench_core: fsync file");
		exit(1);
	}
	char rec[128];
	memset(rec, 'r', sizeof rec);
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++) {
		if (pwrite(fd, rec, sizeof rec, (off_t)(n % 1024) * (off_t)sizeof rec) < 0 ||
		    fdatasync(fd) != 0) {
			perror("bench_core: fsync");
			exit(1);
		}
	}
	close(fd);
	unlink(path);
	return (double)n / t;
}

static void bench_lmdb(const char *dir, double secs)
{
	char path[4096];
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	double t0, t;
	long n;

	snprintf(path, sizeof path, "%s/bench-lmdb.tmp", dir);
	mkdir(path, 0700);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 256u << 20) ||
	    mdb_env_open(env, path, 0, 0600)) {
		fprintf(stderr, "bench_core: cannot open LMDB in %s\n", path);
		exit(1);
	}
	if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
	    mdb_txn_commit(txn))
		exit(1);

	uint8_t key[8], val[100];
	memset(val, 'v', sizeof val);
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < secs; n++) {
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		MDB_val k = { sizeof key, key }, v = { sizeof val, val };
		if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_put(txn, dbi, &k, &v, 0) ||
		    mdb_txn_commit(txn)) {
			fprintf(stderr, "bench_core: LMDB write failed\n");
			exit(1);
		}
	}
	double commits = (double)n / t;
	mdb_env_close(env);
	snprintf(path, sizeof path, "%s/bench-lmdb.tmp/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/bench-lmdb.tmp/lock.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/bench-lmdb.tmp", dir);
	rmdir(path);

	double fsyncs = bench_fsync(dir, secs);
	bench_figure("lmdb_commits_per_s", commits, "1/s", "fsync_per_s", fsyncs);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	const char *dir = ".";
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
	double secs = quick ? 0.05 : 2.0;

	if (iolm_crypto_init() != IOLM_OK)
		return 1;
	bench_schnorr(secs);
	bench_blake2b(secs);
	bench_lmdb(dir, secs);
	return 0;
}
