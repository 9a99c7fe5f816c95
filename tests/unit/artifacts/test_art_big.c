/* Large artifact tests (label "slow"): a 200 MiB round trip and the dedup figures of
 * issue 8 on a 256 MiB checkpoint-like file (header, table, 32 tensors, trailer):
 *   - a 37-byte header edit reuses >= 99% of the chunks;
 *   - retraining 8 of the 32 tensors reuses >= 74%.
 * Sizes: ART_TEST_BIG_MIB (default 200) and ART_TEST_CKPT_MIB (default 256; a multiple
 * of 32 MiB keeps tensors whole MiB). Sanitizer builds default to 48 and 64 so the
 * suite stays within minutes on two cores; the ratios do not depend on the size. */
#include "art_test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif

static uint64_t env_mib(const char *name, uint64_t dflt, uint64_t dflt_san)
{
	const char *v = getenv(name);
	if (v && *v) {
		char *end;
		unsigned long long x = strtoull(v, &end, 10);
		if (*end == '\0' && x > 0 && x <= 65536)
			return x;
	}
	return T_SANITIZED ? dflt_san : dflt;
}

static void test_roundtrip_200mib(void **state)
{
	(void)state;
	char dir[256], src[512], store[512], out[512], got[600];
	uint8_t id[ART_ID_LEN];
	art_add_stats st;
	uint64_t size = env_mib("ART_TEST_BIG_MIB", 200, 48) << 20;
	size += 12345;   /* not a multiple of anything */
	t_tmpdir(dir, sizeof dir);
	snprintf(src, sizeof src, "%s/big.bin", dir);
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(got, sizeof got, "%s/big.bin", out);
	t_write_random(src, size, 2024);
	art_store *s = t_open(store);
	assert_int_equal(art_store_add(s, id, &st, src, NULL), IOLM_OK);
	assert_int_equal(st.bytes, size);
	assert_int_equal(st.new_chunks, st.chunks);
	assert_in_range(size / st.chunks, 48 * 1024, 80 * 1024);
	assert_int_equal(art_store_get(s, id, out), IOLM_OK);
	assert_true(t_same_file(src, got));
	art_store_close(s);
	t_rmrf(dir);
}

typedef struct ckpt_fx {
	char dir[256], store[512], path[512];
	uint64_t tensor_bytes;
	uint64_t seeds[32];
	art_store *s;
	uint8_t id0[ART_ID_LEN];
	art_add_stats st0;
} ckpt_fx;

static int ckpt_setup(void **state)
{
	ckpt_fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->tensor_bytes = (env_mib("ART_TEST_CKPT_MIB", 256, 64) << 20) / 32;
	t_tmpdir(f->dir, sizeof f->dir);
	snprintf(f->store, sizeof f->store, "%s/store", f->dir);
	snprintf(f->path, sizeof f->path, "%s/ckpt.bin", f->dir);
	for (uint32_t i = 0; i < 32; i++)
		f->seeds[i] = 1000 + i;
	t_write_ckpt(f->path, 32, f->tensor_bytes, f->seeds, 100);
	f->s = t_open(f->store);
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .pin = 1 };
	assert_int_equal(art_store_add(f->s, f->id0, &f->st0, f->path, &o), IOLM_OK);
	*state = f;
	return 0;
}

static int ckpt_teardown(void **state)
{
	ckpt_fx *f = *state;
	art_store_close(f->s);
	t_rmrf(f->dir);
	free(f);
	return 0;
}

static double reuse(const art_add_stats *st)
{
	return 1.0 - (double)st->new_chunks / (double)st->chunks;
}

static void test_header_edit_reuses_99_percent(void **state)
{
	ckpt_fx *f = *state;
	uint8_t id[ART_ID_LEN];
	art_add_stats st;
	/* 37 bytes of the header change: step (48..55) and 29 bytes before it. */
	int fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	uint8_t edit[37];
	for (size_t i = 0; i < sizeof edit; i++)
		edit[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(pwrite(fd, edit, sizeof edit, 19), (ssize_t)sizeof edit);
	assert_int_equal(close(fd), 0);
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .parent = f->id0, .pin = 1 };
	assert_int_equal(art_store_add(f->s, id, &st, f->path, &o), IOLM_OK);
	assert_memory_not_equal(id, f->id0, ART_ID_LEN);
	print_message("header edit: %llu of %llu chunks new, reuse %.4f\n",
		      (unsigned long long)st.new_chunks, (unsigned long long)st.chunks, reuse(&st));
	assert_true(reuse(&st) >= 0.99);
	assert_true(st.new_chunks >= 1);
}

static void test_retraining_8_of_32_tensors_reuses_74_percent(void **state)
{
	ckpt_fx *f = *state;
	uint8_t id[ART_ID_LEN];
	art_add_stats st;
	for (uint32_t i = 0; i < 32; i += 4)
		f->seeds[i] += 5000;   /* 8 tensors get new values */
	t_write_ckpt(f->path, 32, f->tensor_bytes, f->seeds, 200);
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .parent = f->id0, .pin = 1 };
	assert_int_equal(art_store_add(f->s, id, &st, f->path, &o), IOLM_OK);
	print_message("retrain 8/32: %llu of %llu chunks new, reuse %.4f\n",
		      (unsigned long long)st.new_chunks, (unsigned long long)st.chunks, reuse(&st));
	assert_true(reuse(&st) >= 0.74);
	assert_true(reuse(&st) <= 0.76);   /* the 8 tensors did change */
	char out[600], got[700];
	snprintf(out, sizeof out, "%s/out", f->dir);
	snprintf(got, sizeof got, "%s/ckpt.bin", out);
	assert_int_equal(art_store_get(f->s, id, out), IOLM_OK);
	assert_true(t_same_file(f->path, got));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_200mib),
		cmocka_unit_test_setup_teardown(test_header_edit_reuses_99_percent, ckpt_setup,
						ckpt_teardown),
		cmocka_unit_test_setup_teardown(test_retraining_8_of_32_tensors_reuses_74_percent,
						ckpt_setup, ckpt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
