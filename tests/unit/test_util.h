/* Shared helpers for the cmocka unit tests. */
#ifndef IOLM_TEST_UTIL_H
#define IOLM_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hex.h"

/* Decode a hex literal of exactly len bytes; fails the test on a malformed literal. */
static inline void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(iolm_hex_decode_exact(out, len, hex), IOLM_OK);
}

/* Assert that len bytes at got equal the hex literal want. */
static inline void assert_hex_equal(const uint8_t *got, size_t len, const char *want)
{
	char buf[1024];
	assert_true(2 * len + 1 <= sizeof buf);
	iolm_hex_encode(buf, sizeof buf, got, len);
	assert_string_equal(buf, want);
}

#endif
