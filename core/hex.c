#include "core/hex.h"

#include "core/ctime.h"

#include <assert.h>
#include <string.h>

/* The lower-case digit for a nibble, without a table lookup or a branch: key files pass
 * secrets through here, and an index into a table would leak through the cache. */
static char hex_digit(unsigned c)
{
	return (char)(c + '0' + (((9u - c) >> 8) & ('a' - '0' - 10)));
}

void iolm_hex_encode(char *out, size_t outcap, const uint8_t *in, size_t len)
{
	assert(outcap >= 2 * len + 1);
	(void)outcap;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digit(in[i] >> 4);
		out[2 * i + 1] = hex_digit(in[i] & 15u);
	}
	out[2 * len] = '\0';
}

/* Value of a hex digit, or -1, without branching on c (key files pass through here). */
static int hex_val(unsigned char c)
{
	int d = c - '0', l = (c | 0x20) - 'a';
	int is_d = ((d >= 0) & (d <= 9));
	int is_l = ((l >= 0) & (l <= 5));
	return (-is_d & d) | (-is_l & (l + 10)) | (-(!is_d & !is_l) & -1);
}

int iolm_hex_decode(uint8_t *out, size_t outcap, size_t *outlen, const char *text,
		    size_t textlen)
{
	int bad = 0;
	*outlen = 0;
	if (textlen % 2)
		return IOLM_EHEX;
	if (textlen / 2 > outcap)
		return IOLM_ETOOBIG;
	for (size_t i = 0; i < textlen / 2; i++) {
		int hi = hex_val((unsigned char)text[2 * i]);
		int lo = hex_val((unsigned char)text[2 * i + 1]);
		bad |= (hi | lo) < 0;
		out[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 15));
	}
	/* Whether the text was hex at all is public; its digits are not. */
	IOLM_DECLASSIFY(&bad, sizeof bad);
	if (bad) {
		memset(out, 0, textlen / 2);
		return IOLM_EHEX;
	}
	*outlen = textlen / 2;
	return IOLM_OK;
}

int iolm_hex_decode_exact(uint8_t *out, size_t len, const char *text)
{
	size_t tl = strlen(text), got;
	if (tl != 2 * len)
		return tl % 2 ? IOLM_EHEX : IOLM_ELENGTH;
	return iolm_hex_decode(out, len, &got, text, tl);
}
