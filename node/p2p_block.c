/* Artifact blocks on the P2P link without a copy through the Frame codec (p2p_int.h).
 *
 * A block frame is the one frame whose size is its payload: up to 128 KiB of chunk data
 * behind a few bytes of framing. Sent through the codec, the data is copied into the
 * encoding buffer and then encrypted from there; received, protobuf-c copies it out of
 * the plaintext and the canonical check compares it once more. Here the framing is
 * written and read by hand, and it is exactly the codec's: a Frame holding field 12
 * (ArtBlock) as a length-delimited submessage, which holds field 1 (chunk_id) and field
 * 2 (data), each non-empty, as length-delimited bytes, lengths as minimal varints. The
 * parser accepts only that shape; anything else, canonical or not, goes through the
 * codec, which decides. */
#include <assert.h>
#include <string.h>

#include "node/p2p_int.h"

#define TAG_FRAME_ART_BLOCK 0x62u /* field 12, length-delimited */
#define TAG_CHUNK_ID 0x0au        /* field 1, length-delimited */
#define TAG_DATA 0x12u            /* field 2, length-delimited */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A minimal varint of at most five bytes (every length here is under 2^32) at *p;
 * advances *p past it. 0 for a truncated, overlong or non-minimal one. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < 5 && *p < end; i++) {
		uint8_t c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (i > 0 && c == 0)
				return 0;
			*v = x;
			return 1;
		}
	}
	return 0;
}

size_t p2p_block_header(uint8_t out[static P2P_BLOCK_HDR_MAX], const uint8_t *id, size_t id_len,
			size_t data_len)
{
	assert(id_len > 0 && id_len <= P2P_BLOCK_ID_MAX && data_len > 0);
	uint64_t inner = 1 + varint_len(id_len) + id_len + 1 + varint_len(data_len) + data_len;
	uint8_t *p = out;
	*p++ = TAG_FRAME_ART_BLOCK;
	p = put_varint(p, inner);
	*p++ = TAG_CHUNK_ID;
	p = put_varint(p, id_len);
	memcpy(p, id, id_len);
	p += id_len;
	*p++ = TAG_DATA;
	p = put_varint(p, data_len);
	return (size_t)(p - out);
}

int p2p_block_parse(const uint8_t *b, size_t len, Iolm__Frame *f, Iolm__ArtBlock *ab)
{
	const uint8_t *p = b, *end = b + len, *id;
	uint64_t inner, id_len, data_len;

	if (p == end || *p++ != TAG_FRAME_ART_BLOCK || !get_varint(&p, end, &inner) ||
	    inner != (uint64_t)(end - p))
		return 0;
	if (p == end || *p++ != TAG_CHUNK_ID || !get_varint(&p, end, &id_len) || id_len == 0 ||
	    id_len > (uint64_t)(end - p))
		return 0;
	id = p;
	p += id_len;
	if (p == end || *p++ != TAG_DATA || !get_varint(&p, end, &data_len) || data_len == 0 ||
	    data_len != (uint64_t)(end - p))
		return 0;
	*f = (Iolm__Frame)IOLM__FRAME__INIT;
	*ab = (Iolm__ArtBlock)IOLM__ART_BLOCK__INIT;
	ab->chunk_id.data = (uint8_t *)(uintptr_t)id;
	ab->chunk_id.len = (size_t)id_len;
	ab->data.data = (uint8_t *)(uintptr_t)p;
	ab->data.len = (size_t)data_len;
	f->msg_case = IOLM__FRAME__MSG_ART_BLOCK;
	f->art_block = ab;
	return 1;
}
