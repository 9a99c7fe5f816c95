#include "core/codec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Nesting in the schema is shallow (Frame > BlockResponse > CommitCert > CommitSig);
 * protobuf-c recurses while parsing, so a bound here is only a second line of defence. */
#define CODEC_MAX_DEPTH 16

static int has_unknown(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields)
		return 1;
	if (depth >= CODEC_MAX_DEPTH)
		return 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* Members of a oneof share storage: only the set one is a message. */
			uint32_t which;
			memcpy(&which, base + f->quantifier_offset, sizeof which);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			ProtobufCMessage *const *v;
			memcpy(&n, base + f->quantifier_offset, sizeof n);
			memcpy(&v, base + f->offset, sizeof v);
			for (size_t j = 0; j < n; j++)
				if (has_unknown(v[j], depth + 1))
					return 1;
		} else {
			const ProtobufCMessage *sub;
			memcpy(&sub, base + f->offset, sizeof sub);
			if (sub && has_unknown(sub, depth + 1))
				return 1;
		}
	}
	return 0;
}

/* A ProtobufCBuffer that, instead of storing what is packed into it, compares it with the
 * input the message was decoded from: the canonical check without a copy of the encoding
 * (protobuf-c hands bytes and string fields to append as they are). */
struct same_buffer {
	ProtobufCBuffer base;
	const uint8_t *data;
	size_t len, off;
	int differs;
};

static void same_append(ProtobufCBuffer *b, size_t n, const uint8_t *p)
{
	struct same_buffer *s = (struct same_buffer *)(void *)b;
	if (s->differs || n > s->len - s->off || (n && memcmp(p, s->data + s->off, n) != 0)) {
		s->differs = 1;
		return;
	}
	s->off += n;
}

/* Whether m packs to exactly the len bytes at data. */
static int packs_to(const ProtobufCMessage *m, const uint8_t *data, size_t len)
{
	struct same_buffer s = { { same_append }, data, len, 0, 0 };
	if (protobuf_c_message_get_packed_size(m) != len)
		return 0;
	protobuf_c_message_pack_to_buffer(m, &s.base);
	return !s.differs && s.off == len;
}

int iolm_codec_decode(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len, size_t cap)
{
	ProtobufCMessage *m = NULL;
	int err;

	*out = NULL;
	if (len > cap)
		return IOLM_ETOOBIG;
	if (len && !data)
		return IOLM_EINVAL;
	/* protobuf-c reads nothing from a NULL pointer when len is 0; give it a valid one. */
	static const uint8_t empty[1];
	m = protobuf_c_message_unpack(desc, NULL, len, len ? data : empty);
	if (!m)
		return IOLM_EDECODE;

	err = IOLM_EUNKNOWN;
	if (has_unknown(m, 0))
		goto fail;

	err = IOLM_ENONCANON;
	if (!packs_to(m, len ? data : empty, len))
		goto fail;
	*out = m;
	return IOLM_OK;
fail:
	protobuf_c_message_free_unpacked(m, NULL);
	return err;
}

void iolm_codec_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

size_t iolm_codec_size(const ProtobufCMessage *msg)
{
	return protobuf_c_message_get_packed_size(msg);
}

int iolm_codec_encode(iolm_buf *out, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (n == 0)
		return IOLM_OK;
	int err = iolm_buf_reserve(out, n);
	if (err)
		return err;
	size_t w = protobuf_c_message_pack(msg, out->data + out->len);
	assert(w == n);
	out->len += w;
	return IOLM_OK;
}
