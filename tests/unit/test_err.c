#include "test_util.h"

#include <stdio.h>

#include "core/err.h"

static const int all_codes[] = {
#define IOLM_ERR(name, code, text) code,
#include "core/errors.def"
#undef IOLM_ERR
};

static void every_code_has_distinct_name_and_text(void **state)
{
	size_t n = sizeof all_codes / sizeof all_codes[0];
	for (size_t i = 0; i < n; i++) {
		assert_true(all_codes[i] < 0);
		assert_string_not_equal(iolm_strerror(all_codes[i]), "unknown error");
		assert_string_not_equal(iolm_errname(all_codes[i]), "IOLM_E?");
		for (size_t j = i + 1; j < n; j++) {
			assert_int_not_equal(all_codes[i], all_codes[j]);
			assert_string_not_equal(iolm_strerror(all_codes[i]),
						iolm_strerror(all_codes[j]));
		}
	}
}

static void codes_map_to_their_names(void **state)
{
	assert_string_equal(iolm_errname(IOLM_EBADSIG), "IOLM_EBADSIG");
	assert_string_equal(iolm_strerror(IOLM_EBADSIG), "invalid signature");
	assert_string_equal(iolm_strerror(IOLM_OK), "success");
	assert_string_equal(iolm_errname(IOLM_OK), "IOLM_OK");
}

static void unknown_code_is_named_unknown(void **state)
{
	assert_string_equal(iolm_strerror(-98765), "unknown error");
	assert_string_equal(iolm_errname(12345), "IOLM_E?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_code_has_distinct_name_and_text),
		cmocka_unit_test(codes_map_to_their_names),
		cmocka_unit_test(unknown_code_is_named_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
