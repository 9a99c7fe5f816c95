#include "test_util.h"

static void encode_is_lower_case(void **state)
{
	const uint8_t in[] = { 0x00, 0x01, 0xab, 0xff };
	char out[9];
	iolm_hex_encode(out, sizeof out, in, sizeof in);
	assert_string_equal(out, "0001abff");
	iolm_hex_encode(out, 1, in, 0);
	assert_string_equal(out, "");
}

static void decode_accepts_both_cases(void **state)
{
	uint8_t out[4];
	size_t n;
	assert_int_equal(iolm_hex_decode(out, sizeof out, &n, "0001ABff", 8), IOLM_OK);
	assert_int_equal(n, 4);
	assert_int_equal(out[2], 0xab);
	assert_int_equal(out[3], 0xff);
}

static void decode_round_trips_every_byte(void **state)
{
	uint8_t in[256], back[256];
	char text[513];
	size_t n;
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	iolm_hex_encode(text, sizeof text, in, sizeof in);
	assert_int_equal(iolm_hex_decode(back, sizeof back, &n, text, 512), IOLM_OK);
	assert_memory_equal(in, back, 256);
}

static void decode_rejects_bad_input(void **state)
{
	uint8_t out[4];
	size_t n = 7;
	assert_int_equal(iolm_hex_decode(out, sizeof out, &n, "abc", 3), IOLM_EHEX);
	assert_int_equal(n, 0);
	static const char *bad[] = { "0g", "g0", "  ", "0x", "-1", "0:", "@A", "`a", "fG" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(iolm_hex_decode(out, sizeof out, &n, bad[i], 2), IOLM_EHEX);
	assert_int_equal(iolm_hex_decode(out, 2, &n, "000000", 6), IOLM_ETOOBIG);
	assert_int_equal(iolm_hex_decode_exact(out, 4, "0000"), IOLM_ELENGTH);
	assert_int_equal(iolm_hex_decode_exact(out, 4, "000"), IOLM_EHEX);
	assert_int_equal(iolm_hex_decode_exact(out, 2, "00zz"), IOLM_EHEX);
	assert_int_equal(iolm_hex_decode_exact(out, 2, "00ff"), IOLM_OK);
}

static void every_non_hex_character_is_rejected(void **state)
{
	uint8_t out[1];
	size_t n;
	for (int c = 0; c < 256; c++) {
		char t[2] = { '0', (char)c };
		int is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F');
		assert_int_equal(iolm_hex_decode(out, 1, &n, t, 2), is_hex ? IOLM_OK : IOLM_EHEX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_is_lower_case),
		cmocka_unit_test(decode_accepts_both_cases),
		cmocka_unit_test(decode_round_trips_every_byte),
		cmocka_unit_test(decode_rejects_bad_input),
		cmocka_unit_test(every_non_hex_character_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
