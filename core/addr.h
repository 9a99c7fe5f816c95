/* Addresses: bech32m (BIP350) of BLAKE2b-160(x-only public key), prefix "iolm".
 *
 * An address is the 4-character prefix, the separator '1', 32 data characters (the
 * 20-byte hash in 5-bit groups) and the 6-character checksum: 43 characters in all.
 * Encoding writes lower case. Decoding accepts all-lower or all-upper case and rejects
 * mixed case, a wrong prefix, a bad checksum (including a bech32, not bech32m, one),
 * characters outside the charset, a wrong data length and non-zero padding bits, each
 * with its own error code. The generic bech32m functions are public for tests and for
 * other human-readable parts that may follow (e.g. node ids). */
#ifndef IOLM_CORE_ADDR_H
#define IOLM_CORE_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"

#define IOLM_ADDR_HRP "iolm"
#define IOLM_ADDR_LEN 20          /* bytes of the hash */
#define IOLM_ADDR_STRLEN 43       /* characters, without the NUL */
#define IOLM_BECH32_MAXLEN 90     /* BIP173 limit on a whole string */

/* The 20-byte account id of an x-only public key. */
void iolm_addr_from_pub(uint8_t out[static IOLM_ADDR_LEN], const uint8_t pub[static 32]);

/* Write the address string of a 20-byte account id, with its NUL, into
 * out[IOLM_ADDR_STRLEN + 1]. */
void iolm_addr_encode(char out[static IOLM_ADDR_STRLEN + 1],
		      const uint8_t id[static IOLM_ADDR_LEN]);

/* Parse an address string into its 20-byte id. Errors: IOLM_ECASE, IOLM_EPREFIX,
 * IOLM_ECHECKSUM, IOLM_EBECH32 (bad character, no separator, bad padding),
 * IOLM_ELENGTH (not 20 bytes). On failure id is zeroed. */
int iolm_addr_decode(uint8_t id[static IOLM_ADDR_LEN], const char *s) IOLM_WUR;

/* Generic bech32m over 5-bit groups (each value < 32), as BIP350 specifies it: encode
 * the n groups in five under hrp into out (NUL-terminated). IOLM_ETOOBIG when the string
 * would exceed IOLM_BECH32_MAXLEN or outcap; IOLM_EINVAL for an empty hrp, one with
 * characters outside 33..126 or in upper case, or a group value >= 32. */
int iolm_bech32m_encode(char *out, size_t outcap, const char *hrp, const uint8_t *five,
			size_t n) IOLM_WUR;

/* Generic bech32m decode into the hrp (lower-cased, NUL-terminated, hrpcap bytes) and the
 * 5-bit groups before the checksum (fivecap groups, count in *n). Errors as
 * iolm_addr_decode() without the prefix and length checks; IOLM_ETOOBIG when a buffer is
 * too small. */
int iolm_bech32m_decode(char *hrp_out, size_t hrpcap, uint8_t *five, size_t fivecap,
			size_t *n, const char *s) IOLM_WUR;

#endif
