/* Constant-time check of core's secret-handling code, run under valgrind memcheck.
 *
 * Secrets are marked undefined (IOLM_CLASSIFY); memcheck then reports any branch or
 * memory address that depends on them. Run as
 *   valgrind --error-exitcode=42 build/tests/unit/ctime_core
 * ctest does that when valgrind is installed. Outside valgrind the program only checks
 * that it is running there and exits 77 (skipped). */
#include <stdio.h>
#include <string.h>

#include "core/ctime.h"
#include "core/hex.h"
#include "core/key.h"

int main(void)
{
	uint8_t sec[32], msg[32], sig[64], back[32];
	char text[65];
	iolm_key key;
	size_t n;

	if (!IOLM_RUNNING_ON_VALGRIND) {
		fprintf(stderr, "ctime_core: run under valgrind; skipping\n");
		return 77;
	}
	memset(msg, 0x5a, sizeof msg);
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < 32; i++)
			sec[i] = (uint8_t)(round * 37 + i * 11 + 1);

		/* key from secret bytes */
		IOLM_CLASSIFY(sec, sizeof sec);
		int rc = iolm_key_from_secret(&key, sec);
		IOLM_DECLASSIFY(&rc, sizeof rc);
		if (rc != IOLM_OK)
			return 1;

		/* signing: the secret scalar inside the keypair is secret (its first 32
		 * bytes; the rest is the public point) */
		IOLM_CLASSIFY(key.keypair, 32);
		rc = iolm_sign(&key, sig, msg);
		IOLM_DECLASSIFY(&rc, sizeof rc);
		if (rc != IOLM_OK)
			return 1;

		/* secret out, to hex (as key files are written) and back */
		iolm_key_secret(&key, sec);
		iolm_hex_encode(text, sizeof text, sec, sizeof sec);
		IOLM_CLASSIFY(text, 64);
		rc = iolm_hex_decode(back, sizeof back, &n, text, 64);
		IOLM_DECLASSIFY(&rc, sizeof rc);
		IOLM_DECLASSIFY(back, sizeof back);
		IOLM_DECLASSIFY(sec, sizeof sec);
		if (rc != IOLM_OK || memcmp(back, sec, 32) != 0)
			return 1;
		iolm_key_wipe(&key);
	}
	printf("ctime_core: no secret-dependent branch or address found\n");
	return 0;
}
