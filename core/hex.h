/* Hexadecimal: lower-case on output, either case on input. */
#ifndef IOLM_CORE_HEX_H
#define IOLM_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Write 2*len hex digits and a NUL into out (outcap >= 2*len+1, asserted). */
void iolm_hex_encode(char *out, size_t outcap, const uint8_t *in, size_t len);

/* Decode textlen hex digits into out. IOLM_EHEX on an odd length or a non-hex character,
 * IOLM_ETOOBIG when the result would exceed outcap. *outlen receives the byte count
 * (0 on failure). Runs in time independent of the digits' values, so secrets may pass. */
int iolm_hex_decode(uint8_t *out, size_t outcap, size_t *outlen, const char *text,
		    size_t textlen) IOLM_WUR;

/* Decode exactly len bytes; IOLM_ELENGTH when text holds a different number. */
int iolm_hex_decode_exact(uint8_t *out, size_t len, const char *text) IOLM_WUR;

#endif
