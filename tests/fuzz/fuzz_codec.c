/* Fuzz one wire decoder. Property: the decoder never crashes, and whatever it accepts
 * re-encodes to exactly the input (it accepts canonical encodings only). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"

#if defined(FUZZ_MSG_tx)
#define DESC iolm__tx__descriptor
#define CAP IOLM_MAX_TX_BYTES
#elif defined(FUZZ_MSG_block)
#define DESC iolm__block__descriptor
#define CAP IOLM_MAX_BLOCK_BYTES
#elif defined(FUZZ_MSG_frame)
#define DESC iolm__frame__descriptor
#define CAP IOLM_MAX_FRAME_BYTES
#elif defined(FUZZ_MSG_vote)
#define DESC iolm__vote__descriptor
#define CAP IOLM_MAX_VOTE_BYTES
#elif defined(FUZZ_MSG_proposal)
#define DESC iolm__proposal__descriptor
#define CAP IOLM_MAX_FRAME_BYTES
#elif defined(FUZZ_MSG_manifest)
#define DESC iolm__manifest__descriptor
#define CAP IOLM_MAX_MANIFEST_BYTES
#elif defined(FUZZ_MSG_hello)
#define DESC iolm__hello__descriptor
#define CAP IOLM_MAX_HANDSHAKE_BYTES
#elif defined(FUZZ_MSG_work_claim)
#define DESC iolm__work_claim__descriptor
#define CAP IOLM_MAX_BLOCK_BYTES
#else
#error "define FUZZ_MSG_<name>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m;
	int err = iolm_codec_decode(&m, &DESC, data, size, CAP);
	if (err) {
		if (m)
			abort(); /* failure must leave no message behind */
		return 0;
	}
	iolm_buf b;
	iolm_buf_init(&b, CAP);
	if (iolm_codec_encode(&b, m) != IOLM_OK || b.len != size ||
	    (size && memcmp(b.data, data, size) != 0))
		abort(); /* accepted bytes must be the canonical encoding */
	iolm_buf_release(&b, 0);
	iolm_codec_free(m);
	return 0;
}
