/* Fuzz the artifact block parser of the P2P link (node/p2p_block.c), which reads block
 * frames without the codec. Properties: it never crashes; whatever it accepts, the codec
 * accepts too and reads the same chunk id and data; and what it accepts is exactly
 * p2p_block_header of that id and data length followed by the data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "node/p2p_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Iolm__Frame fast, *slow = NULL;
	Iolm__ArtBlock ab;
	uint8_t hdr[P2P_BLOCK_HDR_MAX];

	if (!p2p_block_parse(data, size, &fast, &ab))
		return 0;
	if (iolm_decode_frame(&slow, data, size, IOLM_MAX_FRAME_BYTES) != IOLM_OK ||
	    slow->msg_case != IOLM__FRAME__MSG_ART_BLOCK ||
	    slow->art_block->chunk_id.len != ab.chunk_id.len ||
	    slow->art_block->data.len != ab.data.len ||
	    memcmp(slow->art_block->chunk_id.data, ab.chunk_id.data, ab.chunk_id.len) != 0 ||
	    memcmp(slow->art_block->data.data, ab.data.data, ab.data.len) != 0)
		abort(); /* accepted what the codec refuses or reads differently */
	iolm_codec_free((ProtobufCMessage *)slow);
	if (ab.chunk_id.len > P2P_BLOCK_ID_MAX)
		return 0; /* valid, but longer than any id the sender frames by hand */
	size_t n = p2p_block_header(hdr, ab.chunk_id.data, ab.chunk_id.len, ab.data.len);
	if (n + ab.data.len != size || memcmp(hdr, data, n) != 0 || ab.data.data != data + n)
		abort(); /* the sender's framing and the parser disagree */
	return 0;
}
