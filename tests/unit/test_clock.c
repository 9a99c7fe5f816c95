#include "test_util.h"

#include "core/clock.h"

static void monotonic_clock_advances_across_a_sleep(void **state)
{
	uint64_t a = iolm_clock_mono_ns();
	iolm_sleep_ms(20);
	uint64_t b = iolm_clock_mono_ns();
	assert_true(b - a >= 20u * 1000000u);
}

static void wall_clock_is_after_2024(void **state)
{
	/* 2024-01-01T00:00:00Z in ms */
	assert_true(iolm_clock_wall_ms() > 1704067200000ull);
}

static void format_is_rfc3339_utc(void **state)
{
	char s[25];
	iolm_clock_format(s, 0);
	assert_string_equal(s, "1970-01-01T00:00:00.000Z");
	iolm_clock_format(s, 1795395723456ull);
	assert_string_equal(s, "2026-11-23T01:02:03.456Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(monotonic_clock_advances_across_a_sleep),
		cmocka_unit_test(wall_clock_is_after_2024),
		cmocka_unit_test(format_is_rfc3339_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
