#include "test_util.h"

#include <stdlib.h>

#include "core/hash.h"

/* Golden values from an independent implementation: Python's
 * hashlib.blake2b(data, digest_size=n, person=tag). */
static void matches_personalized_blake2b(void **state)
{
	uint8_t h[32], h20[20];
	iolm_hash(h, IOLM_TAG_TX, "", 0);
	assert_hex_equal(h, 32, "fc37dddb8526c757f7b916e92e1259c12a0bc4084d87f4361000c35e833b39d3");
	iolm_hash(h, IOLM_TAG_TX, "abc", 3);
	assert_hex_equal(h, 32, "793de850a25c54eb62936c37f93e67abe2cfe83ecedbfc69239bc7bc4cc19904");
	iolm_hash(h, IOLM_TAG_BLOCK, "abc", 3);
	assert_hex_equal(h, 32, "d1d321b58ea50ac0514e498bc4ed921bc1fd46db71d110b89c3b8efba5544c2e");
	uint8_t zero[32] = { 0 };
	iolm_hash160(h20, IOLM_TAG_ADDR, zero, 32);
	assert_hex_equal(h20, 20, "7c3b0fa04971cbcf29150823e5db5647c2d0adce");
	iolm_hash(h, IOLM_TAG_MEMPTY, NULL, 0);
	assert_hex_equal(h, 32, "f147048f335e609ceda47b66330998a0a1813e73b06123c9cca5151e511a3ecb");
}

static void incremental_equals_one_shot_at_every_split(void **state)
{
	enum { N = 256 * 1000 };
	uint8_t *data = malloc(N);
	assert_non_null(data);
	for (size_t i = 0; i < N; i++)
		data[i] = (uint8_t)i;
	uint8_t one[32], inc[32];
	iolm_hash(one, IOLM_TAG_CHUNK, data, N);
	assert_hex_equal(one, 32, "ce335e0f490c6a8b0ca379364e8e16e09689dbace488d7a60d9c07717c885535");
	static const size_t splits[] = { 0, 1, 127, 128, 129, 4096, N - 1, N };
	for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
		iolm_hash_ctx ctx;
		iolm_hash_init(&ctx, IOLM_TAG_CHUNK, IOLM_HASH_LEN);
		iolm_hash_update(&ctx, data, splits[s]);
		iolm_hash_update(&ctx, data + splits[s], N - splits[s]);
		iolm_hash_final(&ctx, inc);
		assert_memory_equal(one, inc, 32);
	}
	free(data);
}

static void tags_separate_domains(void **state)
{
	uint8_t a[32], b[32];
	for (int t = 0; t < IOLM_TAG__COUNT; t++) {
		assert_non_null(iolm_hash_tag_name((enum iolm_hash_tag)t));
		assert_true(strncmp(iolm_hash_tag_name((enum iolm_hash_tag)t), "iolm.", 5) == 0);
		iolm_hash(a, (enum iolm_hash_tag)t, "same", 4);
		for (int u = t + 1; u < IOLM_TAG__COUNT; u++) {
			iolm_hash(b, (enum iolm_hash_tag)u, "same", 4);
			assert_memory_not_equal(a, b, 32);
		}
	}
	assert_null(iolm_hash_tag_name(IOLM_TAG__COUNT));
}

static void hash2_is_concatenation(void **state)
{
	uint8_t a[32], b[32];
	iolm_hash2(a, IOLM_TAG_STATE, "ab", 2, "cd", 2);
	iolm_hash(b, IOLM_TAG_STATE, "abcd", 4);
	assert_memory_equal(a, b, 32);
}

static void integers_hash_little_endian(void **state)
{
	uint8_t a[32], b[32];
	iolm_hash_ctx ctx;
	iolm_hash_init(&ctx, IOLM_TAG_BATCH, IOLM_HASH_LEN);
	iolm_hash_update_u64(&ctx, 0x0102030405060708ull);
	iolm_hash_update_u32(&ctx, 0x0a0b0c0du);
	iolm_hash_final(&ctx, a);
	static const uint8_t le[] = { 8, 7, 6, 5, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a };
	iolm_hash(b, IOLM_TAG_BATCH, le, sizeof le);
	assert_memory_equal(a, b, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_personalized_blake2b),
		cmocka_unit_test(incremental_equals_one_shot_at_every_split),
		cmocka_unit_test(tags_separate_domains),
		cmocka_unit_test(hash2_is_concatenation),
		cmocka_unit_test(integers_hash_little_endian),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
