/* Chunk ids in bulk (artifacts/chunk_ids.c): every backend against art_chunk_id()
 * (libsodium's BLAKE2b), which is the reference, with exact equality. */
#include "art_test_util.h"

#include "artifacts/art_int.h"

#define MAXN 100

/* Lengths at the block boundaries of BLAKE2b (128 bytes) and of chunking. */
static const size_t edge_len[] = {
	0, 1, 2, 63, 64, 127, 128, 129, 255, 256, 257, 1000, 8191, 8192, 8193,
	65535, 65536, 65537, ART_CHUNK_MAX - 1, ART_CHUNK_MAX,
};
#define N_EDGE (sizeof edge_len / sizeof *edge_len)

static uint8_t *pool;                  /* random bytes the chunks are cut from */
#define POOL_LEN ((size_t)MAXN * ART_CHUNK_MAX + 64)

static int setup(void **state)
{
	uint64_t seed = 42;
	(void)state;
	pool = malloc(POOL_LEN);
	if (!pool)
		return -1;
	t_fill(pool, POOL_LEN, &seed);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(pool);
	return 0;
}

/* n chunks with the given lengths, at odd offsets (unaligned), through fn: each id must
 * equal art_chunk_id's. */
static void check_batch(art_ids_fn *fn, const size_t *len, size_t n)
{
	static uint8_t got[MAXN][ART_ID_LEN];
	const uint8_t *data[MAXN];
	size_t at = 0;
	assert_true(n <= MAXN);
	for (size_t i = 0; i < n; i++) {
		at += i % 8; /* misalign */
		data[i] = pool + at;
		at += len[i];
		assert_true(at <= POOL_LEN);
	}
	memset(got, 0, sizeof got);
	fn(got, data, len, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t want[ART_ID_LEN];
		art_chunk_id(want, data[i], len[i]);
		assert_memory_equal(got[i], want, ART_ID_LEN);
	}
}

static void check_backend(art_ids_fn *fn)
{
	size_t len[MAXN];
	uint64_t seed = 7;
	/* Every edge length alone, and all together. */
	for (size_t i = 0; i < N_EDGE; i++)
		check_batch(fn, &edge_len[i], 1);
	check_batch(fn, edge_len, N_EDGE);
	/* Batches of every size up to past a slice, of random chunk sizes, some equal. */
	for (size_t n = 1; n <= MAXN; n += n < 20 ? 1 : 13) {
		for (size_t i = 0; i < n; i++)
			len[i] = i % 5 == 4 ? len[i - 1] : (size_t)(t_rand(&seed) % (ART_CHUNK_MAX + 1));
		check_batch(fn, len, n);
	}
	/* Small chunks only: many lanes end on the same step. */
	for (size_t i = 0; i < 24; i++)
		len[i] = (size_t)(t_rand(&seed) % 300);
	check_batch(fn, len, 24);
}

static void test_scalar_backend_matches_reference(void **state)
{
	(void)state;
	art_ids_fn *fn = art_chunk_ids_backend("scalar");
	assert_non_null(fn);
	check_backend(fn);
}

static void test_avx512_backend_matches_reference(void **state)
{
	(void)state;
	art_ids_fn *fn = art_chunk_ids_backend("avx512");
	if (!fn)
		skip(); /* this CPU has no AVX-512 */
	check_backend(fn);
}

static void test_default_backend_matches_reference(void **state)
{
	(void)state;
	assert_non_null(art_chunk_ids_backend(NULL));
	assert_null(art_chunk_ids_backend("no-such-backend"));
	check_backend(art_chunk_ids);
}

static void test_portable_compression_matches_reference(void **state)
{
	(void)state;
	uint64_t seed = 9;
	for (size_t i = 0; i < N_EDGE + 20; i++) {
		size_t len = i < N_EDGE ? edge_len[i] : (size_t)(t_rand(&seed) % ART_CHUNK_MAX);
		uint8_t got[ART_ID_LEN], want[ART_ID_LEN];
		art_chunk_id_portable(got, pool + i, len);
		art_chunk_id(want, pool + i, len);
		assert_memory_equal(got, want, ART_ID_LEN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_backend_matches_reference),
		cmocka_unit_test(test_avx512_backend_matches_reference),
		cmocka_unit_test(test_default_backend_matches_reference),
		cmocka_unit_test(test_portable_compression_matches_reference),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
