/* Fuzz the artifact manifest decoder (decode + every structural check). Property: no
 * crash, no leak; an accepted manifest re-encodes to exactly its input, and its id is
 * the multihash of those bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/art.h"
#include "core/codec.h"
#include "core/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct Iolm__Manifest *m;
	uint8_t id[ART_ID_LEN], h[32];
	if (art_manifest_decode(&m, id, data, size) != IOLM_OK)
		return 0;
	iolm_buf b;
	iolm_buf_init(&b, size + 1);
	if (iolm_codec_encode(&b, &m->base) != IOLM_OK || b.len != size ||
	    (size && memcmp(b.data, data, size) != 0))
		abort();
	iolm_hash(h, IOLM_TAG_MANIFEST, data, size);
	if (id[0] != 0x1e || id[1] != 0x20 || memcmp(id + 2, h, 32) != 0)
		abort();
	iolm_buf_release(&b, 0);
	iolm_codec_free(&m->base);
	return 0;
}
