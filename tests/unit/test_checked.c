#include "test_util.h"

#include "core/checked.h"

static void unsigned_boundaries(void **state)
{
	uint64_t r = 7;
	assert_int_equal(iolm_add_u64(&r, UINT64_MAX - 1, 1), IOLM_OK);
	assert_true(r == UINT64_MAX);
	r = 7;
	assert_int_equal(iolm_add_u64(&r, UINT64_MAX, 1), IOLM_EOVERFLOW);
	assert_true(r == 7); /* unchanged on overflow */
	assert_int_equal(iolm_sub_u64(&r, 5, 5), IOLM_OK);
	assert_true(r == 0);
	r = 7;
	assert_int_equal(iolm_sub_u64(&r, 4, 5), IOLM_EOVERFLOW);
	assert_true(r == 7);
	assert_int_equal(iolm_mul_u64(&r, 1ull << 32, (1ull << 32) - 1), IOLM_OK);
	assert_true(r == (1ull << 32) * ((1ull << 32) - 1));
	assert_int_equal(iolm_mul_u64(&r, 1ull << 32, 1ull << 32), IOLM_EOVERFLOW);
	assert_int_equal(iolm_mul_u64(&r, 0, UINT64_MAX), IOLM_OK);
	assert_true(r == 0);
}

static void signed_boundaries(void **state)
{
	int64_t r = 3;
	assert_int_equal(iolm_add_i64(&r, INT64_MAX, 1), IOLM_EOVERFLOW);
	assert_int_equal(iolm_add_i64(&r, INT64_MIN, -1), IOLM_EOVERFLOW);
	assert_true(r == 3);
	assert_int_equal(iolm_sub_i64(&r, INT64_MIN, 1), IOLM_EOVERFLOW);
	assert_int_equal(iolm_sub_i64(&r, 0, INT64_MIN), IOLM_EOVERFLOW);
	assert_int_equal(iolm_mul_i64(&r, INT64_MIN, -1), IOLM_EOVERFLOW);
	assert_int_equal(iolm_mul_i64(&r, -4, 5), IOLM_OK);
	assert_true(r == -20);
	assert_int_equal(iolm_add_i64(&r, INT64_MAX, INT64_MIN), IOLM_OK);
	assert_true(r == -1);
}

static void muldiv_is_exact_past_64_bits(void **state)
{
	uint64_t r = 0;
	/* amount * share / total where the product needs 128 bits */
	assert_int_equal(iolm_muldiv_u64(&r, UINT64_MAX, UINT64_MAX, UINT64_MAX), IOLM_OK);
	assert_true(r == UINT64_MAX);
	assert_int_equal(iolm_muldiv_u64(&r, 1000, 1, 3), IOLM_OK);
	assert_true(r == 333); /* floor */
	assert_int_equal(iolm_muldiv_u64(&r, UINT64_MAX, 2, 1), IOLM_EOVERFLOW);
	assert_int_equal(iolm_muldiv_u64(&r, 1, 1, 0), IOLM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unsigned_boundaries),
		cmocka_unit_test(signed_boundaries),
		cmocka_unit_test(muldiv_is_exact_past_64_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
