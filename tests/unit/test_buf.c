#include "test_util.h"

#include <stdlib.h>

#include "core/buf.h"

static void appends_up_to_the_limit_and_no_further(void **state)
{
	iolm_buf b;
	iolm_buf_init(&b, 10);
	assert_int_equal(iolm_buf_append(&b, "12345", 5), IOLM_OK);
	assert_int_equal(iolm_buf_append(&b, "67890", 5), IOLM_OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(iolm_buf_append_byte(&b, 'x'), IOLM_ETOOBIG);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "1234567890", 10);
	assert_true(b.alloc <= 10);
	iolm_buf_release(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void failed_append_leaves_contents(void **state)
{
	iolm_buf b;
	iolm_buf_init(&b, 8);
	assert_int_equal(iolm_buf_append_str(&b, "abc"), IOLM_OK);
	assert_int_equal(iolm_buf_append(&b, "0123456789", 10), IOLM_ETOOBIG);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "abc", 3);
	/* A huge length cannot wrap the check. */
	assert_int_equal(iolm_buf_reserve(&b, SIZE_MAX), IOLM_ETOOBIG);
	iolm_buf_release(&b, 1);
}

static void grows_across_many_appends(void **state)
{
	iolm_buf b;
	iolm_buf_init(&b, 1u << 20);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(iolm_buf_append_byte(&b, (uint8_t)i), IOLM_OK);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], (uint8_t)i);
	iolm_buf_release(&b, 0);
}

static void printf_respects_the_limit(void **state)
{
	iolm_buf b;
	iolm_buf_init(&b, 300);
	assert_int_equal(iolm_buf_printf(&b, "%d-%s", 42, "x"), IOLM_OK);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "42-x", 4);
	char big[400];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(iolm_buf_printf(&b, "%s", big), IOLM_ETOOBIG);
	assert_int_equal(b.len, 4);
	big[296] = '\0';
	assert_int_equal(iolm_buf_printf(&b, "%s", big), IOLM_OK); /* exactly to the limit */
	assert_int_equal(b.len, 300);
	iolm_buf_release(&b, 0);
}

static void consume_detach_reset(void **state)
{
	iolm_buf b;
	size_t len;
	iolm_buf_init(&b, 100);
	assert_int_equal(iolm_buf_append_str(&b, "hello world"), IOLM_OK);
	iolm_buf_consume(&b, 6);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "world", 5);
	iolm_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(iolm_buf_append_str(&b, "kept"), IOLM_OK);
	uint8_t *p = iolm_buf_detach(&b, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "kept", 4);
	assert_null(b.data);
	assert_int_equal(b.limit, 100);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(appends_up_to_the_limit_and_no_further),
		cmocka_unit_test(failed_append_leaves_contents),
		cmocka_unit_test(grows_across_many_appends),
		cmocka_unit_test(printf_respects_the_limit),
		cmocka_unit_test(consume_detach_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
