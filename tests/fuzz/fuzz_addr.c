/* Fuzz the address and bech32m decoders. Property: no crash; an accepted address
 * re-encodes to the lower-case input; an accepted bech32m string re-encodes likewise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], again[128], hrp[IOLM_BECH32_MAXLEN + 1];
	uint8_t id[IOLM_ADDR_LEN], five[IOLM_BECH32_MAXLEN];
	size_t n;

	if (size >= sizeof s)
		size = sizeof s - 1;
	memcpy(s, data, size);
	s[size] = '\0';

	if (iolm_addr_decode(id, s) == IOLM_OK) {
		iolm_addr_encode(again, id);
		lower(s);
		if (strcmp(again, s) != 0)
			abort();
	}
	if (iolm_bech32m_decode(hrp, sizeof hrp, five, sizeof five, &n, s) == IOLM_OK) {
		if (iolm_bech32m_encode(again, sizeof again, hrp, five, n) != IOLM_OK)
			abort();
		lower(s);
		if (strcmp(again, s) != 0)
			abort();
	}
	return 0;
}
