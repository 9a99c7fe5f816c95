/* Fuzz the hex decoder. Property: no crash; accepted text round-trips (lower-cased). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[256];
	char again[513];
	size_t n;
	if (size > 512)
		size = 512;
	if (iolm_hex_decode(out, sizeof out, &n, (const char *)data, size) != IOLM_OK)
		return 0;
	if (n * 2 != size)
		abort();
	iolm_hex_encode(again, sizeof again, out, n);
	for (size_t i = 0; i < size; i++) {
		char c = (char)data[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (again[i] != c)
			abort();
	}
	return 0;
}
