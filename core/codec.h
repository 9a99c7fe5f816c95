/* Decoding and encoding of the wire schema (proto/iolm.proto) with hard limits.
 *
 * iolm_codec_decode() is the only way bytes from outside become a message. It accepts
 * exactly one encoding per message, the canonical one:
 *   - the input is at most `cap` bytes (IOLM_ETOOBIG past it, before any parsing);
 *   - protobuf-c must parse it (IOLM_EDECODE: truncated, garbage, bad wire types);
 *   - no message at any depth may carry fields this schema does not define
 *     (IOLM_EUNKNOWN: an unknown frame type is an unknown field of Frame);
 *   - re-encoding the parsed message must give back the input byte for byte
 *     (IOLM_ENONCANON: trailing bytes, repeated or out-of-order fields, defaults written,
 *     over-long varints). So an id computed over bytes names one message, and a signature
 *     over bytes covers exactly what the decoder returned.
 * Semantic checks (lengths of hashes and keys, which oneof case is allowed) belong to the
 * module that owns the message. */
#ifndef IOLM_CORE_CODEC_H
#define IOLM_CORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "core/buf.h"
#include "core/err.h"
#include "proto/iolm.pb-c.h"

/* Hard caps on encoded sizes; every decoder call names one. */
#define IOLM_MAX_TX_BYTES (64u * 1024)
#define IOLM_MAX_BLOCK_BYTES (8u * 1024 * 1024)
#define IOLM_MAX_FRAME_BYTES (IOLM_MAX_BLOCK_BYTES + 64u * 1024)
#define IOLM_MAX_MANIFEST_BYTES (16u * 1024 * 1024)
#define IOLM_MAX_VOTE_BYTES 1024u
#define IOLM_MAX_HANDSHAKE_BYTES 1024u

/* Decode len bytes as a message of type desc. On success *out is a message the caller
 * owns and frees with iolm_codec_free(); it does not point into data. On failure *out is
 * NULL. */
int iolm_codec_decode(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len, size_t cap) IOLM_WUR;

/* Free a message returned by iolm_codec_decode(). NULL is a no-op. */
void iolm_codec_free(ProtobufCMessage *msg);

/* Append the encoding of msg to out. IOLM_ETOOBIG when it would pass out's limit. */
int iolm_codec_encode(iolm_buf *out, const ProtobufCMessage *msg) IOLM_WUR;

/* Encoded size of msg. */
size_t iolm_codec_size(const ProtobufCMessage *msg);

/* Typed wrappers for the messages decoded from outside. Each is
 * iolm_codec_decode(&m, &<type>__descriptor, data, len, cap). */
#define IOLM_CODEC_DECODER(fn, Type, desc)                                           \
	static inline IOLM_WUR int fn(Type **out, const uint8_t *data, size_t len,   \
				      size_t cap)                                    \
	{                                                                            \
		return iolm_codec_decode((ProtobufCMessage **)out, &(desc), data, len, \
					 cap);                                       \
	}

IOLM_CODEC_DECODER(iolm_decode_tx, Iolm__Tx, iolm__tx__descriptor)
IOLM_CODEC_DECODER(iolm_decode_tx_body, Iolm__TxBody, iolm__tx_body__descriptor)
IOLM_CODEC_DECODER(iolm_decode_block, Iolm__Block, iolm__block__descriptor)
IOLM_CODEC_DECODER(iolm_decode_block_header, Iolm__BlockHeader,
		   iolm__block_header__descriptor)
IOLM_CODEC_DECODER(iolm_decode_vote, Iolm__Vote, iolm__vote__descriptor)
IOLM_CODEC_DECODER(iolm_decode_vote_body, Iolm__VoteBody, iolm__vote_body__descriptor)
IOLM_CODEC_DECODER(iolm_decode_proposal, Iolm__Proposal, iolm__proposal__descriptor)
IOLM_CODEC_DECODER(iolm_decode_proposal_body, Iolm__ProposalBody,
		   iolm__proposal_body__descriptor)
IOLM_CODEC_DECODER(iolm_decode_commit_cert, Iolm__CommitCert,
		   iolm__commit_cert__descriptor)
IOLM_CODEC_DECODER(iolm_decode_frame, Iolm__Frame, iolm__frame__descriptor)
IOLM_CODEC_DECODER(iolm_decode_hello, Iolm__Hello, iolm__hello__descriptor)
IOLM_CODEC_DECODER(iolm_decode_manifest, Iolm__Manifest, iolm__manifest__descriptor)
IOLM_CODEC_DECODER(iolm_decode_work_claim, Iolm__WorkClaim, iolm__work_claim__descriptor)

#endif
