#include "core/addr.h"

#include <string.h>

/* BIP173 charset and generator; the bech32m constant is BIP350's. */
static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
#define BECH32M_CONST 0x2bc830a3u

static int8_t charset_rev(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	const char *p = c ? strchr(charset, c) : NULL;
	return p ? (int8_t)(p - charset) : -1;
}

static uint32_t polymod_step(uint32_t pre)
{
	uint8_t b = (uint8_t)(pre >> 25);
	return ((pre & 0x1ffffffu) << 5) ^ (-((b >> 0) & 1u) & 0x3b6a57b2u) ^
	       (-((b >> 1) & 1u) & 0x26508e6du) ^ (-((b >> 2) & 1u) & 0x1ea119fau) ^
	       (-((b >> 3) & 1u) & 0x3d4233ddu) ^ (-((b >> 4) & 1u) & 0x2a1462b3u);
}

/* Checksum state after the expanded hrp: high bits, a zero, low bits. */
static uint32_t hrp_polymod(const char *hrp, size_t hlen)
{
	uint32_t chk = 1;
	for (size_t i = 0; i < hlen; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] >> 5);
	chk = polymod_step(chk);
	for (size_t i = 0; i < hlen; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] & 31);
	return chk;
}

/* Regroup bits; pad=1 for 8->5 (pad with zeros), pad=0 for 5->8 (reject non-zero
 * padding and a padding of 5 bits or more). Returns the output length or -1. */
static long convert_bits(uint8_t *out, size_t outcap, const uint8_t *in, size_t inlen,
			 int from, int to, int pad)
{
	uint32_t acc = 0, maxv = (1u << to) - 1;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < inlen; i++) {
		acc = (acc << from) | in[i];
		bits += from;
		while (bits >= to) {
			bits -= to;
			if (n >= outcap)
				return -1;
			out[n++] = (uint8_t)((acc >> bits) & maxv);
		}
	}
	if (pad) {
		if (bits) {
			if (n >= outcap)
				return -1;
			out[n++] = (uint8_t)((acc << (to - bits)) & maxv);
		}
	} else if (bits >= from || ((acc << (to - bits)) & maxv)) {
		return -1;
	}
	return (long)n;
}

int iolm_bech32m_encode(char *out, size_t outcap, const char *hrp, const uint8_t *five,
			size_t n)
{
	size_t hlen = strlen(hrp);

	if (outcap)
		out[0] = '\0';
	if (hlen == 0)
		return IOLM_EINVAL;
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)hrp[i];
		if (c < 33 || c > 126 || (c >= 'A' && c <= 'Z'))
			return IOLM_EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (five[i] >= 32)
			return IOLM_EINVAL;
	if (n > IOLM_BECH32_MAXLEN || hlen + 1 + n + 6 > IOLM_BECH32_MAXLEN)
		return IOLM_ETOOBIG;
	if (hlen + 1 + n + 6 + 1 > outcap)
		return IOLM_ETOOBIG;

	uint32_t chk = hrp_polymod(hrp, hlen);
	memcpy(out, hrp, hlen);
	out[hlen] = '1';
	char *p = out + hlen + 1;
	for (size_t i = 0; i < n; i++) {
		chk = polymod_step(chk) ^ five[i];
		*p++ = charset[five[i]];
	}
	for (int i = 0; i < 6; i++)
		chk = polymod_step(chk);
	chk ^= BECH32M_CONST;
	for (int i = 0; i < 6; i++)
		*p++ = charset[(chk >> (5 * (5 - i))) & 31];
	*p = '\0';
	return IOLM_OK;
}

int iolm_bech32m_decode(char *hrp_out, size_t hrpcap, uint8_t *five, size_t fivecap,
			size_t *n, const char *s)
{
	size_t slen = strlen(s), sep, nfive;
	int lower = 0, upper = 0;

	*n = 0;
	if (hrpcap)
		hrp_out[0] = '\0';
	if (slen > IOLM_BECH32_MAXLEN)
		return IOLM_ELENGTH;
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126)
			return IOLM_EBECH32;
		lower |= (c >= 'a' && c <= 'z');
		upper |= (c >= 'A' && c <= 'Z');
	}
	if (lower && upper)
		return IOLM_ECASE;
	const char *one = strrchr(s, '1');
	if (!one || one == s)
		return IOLM_EBECH32;
	sep = (size_t)(one - s);
	if (slen - sep - 1 < 6)
		return IOLM_EBECH32;
	nfive = slen - sep - 1;
	if (sep + 1 > hrpcap || nfive - 6 > fivecap)
		return IOLM_ETOOBIG;
	for (size_t i = 0; i < sep; i++) {
		char c = s[i];
		hrp_out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	hrp_out[sep] = '\0';

	uint32_t chk = hrp_polymod(hrp_out, sep);
	for (size_t i = 0; i < nfive; i++) {
		int8_t v = charset_rev((unsigned char)s[sep + 1 + i]);
		if (v < 0) {
			hrp_out[0] = '\0';
			return IOLM_EBECH32;
		}
		if (i < nfive - 6)
			five[i] = (uint8_t)v;
		chk = polymod_step(chk) ^ (uint32_t)v;
	}
	if (chk != BECH32M_CONST) {
		hrp_out[0] = '\0';
		return IOLM_ECHECKSUM;
	}
	*n = nfive - 6;
	return IOLM_OK;
}

void iolm_addr_from_pub(uint8_t out[static IOLM_ADDR_LEN], const uint8_t pub[static 32])
{
	iolm_hash160(out, IOLM_TAG_ADDR, pub, 32);
}

void iolm_addr_encode(char out[static IOLM_ADDR_STRLEN + 1],
		      const uint8_t id[static IOLM_ADDR_LEN])
{
	uint8_t five[32];
	long n = convert_bits(five, sizeof five, id, IOLM_ADDR_LEN, 8, 5, 1);
	/* Fixed sizes: 160 bits are exactly 32 groups, and the string fits. */
	int err = n == 32 ? iolm_bech32m_encode(out, IOLM_ADDR_STRLEN + 1, IOLM_ADDR_HRP,
						five, 32)
			  : IOLM_EINVAL;
	(void)err;
}

int iolm_addr_decode(uint8_t id[static IOLM_ADDR_LEN], const char *s)
{
	char hrp[IOLM_BECH32_MAXLEN + 1];
	uint8_t five[IOLM_BECH32_MAXLEN];
	uint8_t data[IOLM_BECH32_MAXLEN];
	size_t n;
	long len;
	int err;

	memset(id, 0, IOLM_ADDR_LEN);
	err = iolm_bech32m_decode(hrp, sizeof hrp, five, sizeof five, &n, s);
	if (err)
		return err;
	if (strcmp(hrp, IOLM_ADDR_HRP) != 0)
		return IOLM_EPREFIX;
	if (n != 32) /* 160 bits are exactly 32 five-bit groups */
		return IOLM_ELENGTH;
	len = convert_bits(data, sizeof data, five, n, 5, 8, 0);
	if (len < 0)
		return IOLM_EBECH32;
	if (len != IOLM_ADDR_LEN)
		return IOLM_ELENGTH;
	memcpy(id, data, IOLM_ADDR_LEN);
	return IOLM_OK;
}
