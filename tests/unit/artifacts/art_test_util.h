/* Helpers for the artifact tests: temporary directories, pseudo-random files. */
#ifndef IOLM_ART_TEST_UTIL_H
#define IOLM_ART_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "artifacts/art.h"

static inline uint64_t t_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void t_fill(uint8_t *p, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = t_rand(seed);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* A fresh temporary directory; the path is static storage per slot. */
static inline const char *t_tmpdir(char *buf, size_t cap)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(buf, cap, "%s/iolm-art-XXXXXX", base);
	assert_non_null(mkdtemp(buf));
	return buf;
}

static inline void t_rmrf(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* Write size pseudo-random bytes from seed to path, streaming. */
static inline void t_write_random(const char *path, uint64_t size, uint64_t seed)
{
	static uint8_t blk[1 << 20];
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	while (size) {
		size_t n = size < sizeof blk ? (size_t)size : sizeof blk;
		t_fill(blk, n, &seed);
		assert_int_equal(fwrite(blk, 1, n, f), n);
		size -= n;
	}
	assert_int_equal(fclose(f), 0);
}

static inline void t_write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Whether two files have the same bytes. */
static inline int t_same_file(const char *a, const char *b)
{
	static uint8_t x[1 << 20], y[1 << 20];
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);
		if (na != nb || memcmp(x, y, na))
			same = 0;
		if (na == 0 || na < sizeof x)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static inline art_store *t_open(const char *dir)
{
	art_store *s = NULL;
	art_store_options o = { .map_size = (uint64_t)4 << 30, .no_sync = 1 };
	assert_int_equal(art_store_open(&s, dir, &o), IOLM_OK);
	return s;
}

/* Write a checkpoint-like file (docs/compute.md §5 layout: header, table, nt equal
 * tensors of tensor_bytes, 32-byte trailer) at path. Tensor i is filled from
 * seeds[i]; step goes in the header. */
static inline void t_write_ckpt(const char *path, uint32_t nt, uint64_t tensor_bytes,
				const uint64_t *seeds, uint64_t step)
{
	static uint8_t blk[1 << 20];
	uint8_t hdr[64] = "IOLMCKPT";
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	uint32_t v32 = 1;
	memcpy(hdr + 8, &v32, 4);
	v32 = 64;
	memcpy(hdr + 12, &v32, 4);
	memcpy(hdr + 48, &step, 8);
	memcpy(hdr + 56, &nt, 4);
	assert_int_equal(fwrite(hdr, 1, 64, f), 64);
	uint64_t off = 64 + (uint64_t)nt * 24;
	for (uint32_t i = 0; i < nt; i++) {
		uint8_t e[24] = { 0 };
		uint32_t idx = i;
		uint64_t cnt = tensor_bytes / 4;
		memcpy(e + 4, &idx, 4);
		memcpy(e + 8, &off, 8);
		memcpy(e + 16, &cnt, 8);
		assert_int_equal(fwrite(e, 1, 24, f), 24);
		off += tensor_bytes;
	}
	for (uint32_t i = 0; i < nt; i++) {
		uint64_t seed = seeds[i], left = tensor_bytes;
		while (left) {
			size_t n = left < sizeof blk ? (size_t)left : sizeof blk;
			t_fill(blk, n, &seed);
			assert_int_equal(fwrite(blk, 1, n, f), n);
			left -= n;
		}
	}
	uint8_t trailer[32];
	uint64_t ts = step * 7 + 1;
	t_fill(trailer, sizeof trailer, &ts);
	assert_int_equal(fwrite(trailer, 1, 32, f), 32);
	assert_int_equal(fclose(f), 0);
}

/* A store in a fresh folder, with paths a and b for files and out for gets: the state of
 * the store tests (cmocka setup and teardown: t_store_setup, t_store_teardown). */
typedef struct fixture {
	char dir[256], store[512], a[512], b[512], out[512];
	art_store *s;
} fixture;

static inline int t_store_setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	t_tmpdir(f->dir, sizeof f->dir);
	snprintf(f->store, sizeof f->store, "%s/store", f->dir);
	snprintf(f->a, sizeof f->a, "%s/a.bin", f->dir);
	snprintf(f->b, sizeof f->b, "%s/b.bin", f->dir);
	snprintf(f->out, sizeof f->out, "%s/out", f->dir);
	f->s = t_open(f->store);
	*state = f;
	return 0;
}

static inline int t_store_teardown(void **state)
{
	fixture *f = *state;
	art_store_close(f->s);
	t_rmrf(f->dir);
	free(f);
	return 0;
}

#endif
