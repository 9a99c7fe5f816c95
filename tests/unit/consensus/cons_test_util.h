/* Helpers shared by the consensus unit tests: deterministic keys and validator sets,
 * and a vote/certificate builder that signs like a validator would. */
#ifndef IOLM_CONS_TEST_UTIL_H
#define IOLM_CONS_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "consensus/cons.h"
#include "consensus/internal.h"
#include "core/codec.h"
#include "core/key.h"

#define TCHAIN "iolm-test"

/* Key i: secret bytes all equal to i + 1. */
static inline void tkey(iolm_key *k, int i)
{
	uint8_t sec[32];
	memset(sec, i + 1, sizeof sec);
	assert_int_equal(iolm_key_from_secret(k, sec), IOLM_OK);
}

static inline cons_valset *tvalset(int n, const uint64_t *powers)
{
	uint8_t pubs[32 * 32];
	uint64_t pw[32];
	cons_valset *vs = NULL;
	for (int i = 0; i < n; i++) {
		iolm_key k;
		tkey(&k, i);
		memcpy(pubs + 32 * i, iolm_key_pub(&k), 32);
		pw[i] = powers ? powers[i] : 1;
	}
	assert_int_equal(cons_valset_create(&vs, pubs, pw, (size_t)n), IOLM_OK);
	return vs;
}

static inline void tblock_id(void *ctx, uint8_t id[static 32], const uint8_t *b, size_t len)
{
	(void)ctx;
	iolm_hash(id, IOLM_TAG_BLOCK, b, len);
}

/* A signed Vote by validator i, encoded into out (cleared first). id NULL: nil. */
static inline void tvote(iolm_buf *out, const char *chain, int i, int type, uint64_t h,
			 uint32_t r, const uint8_t *id)
{
	iolm_key k;
	iolm_buf body;
	uint8_t digest[32], sig[64];
	Iolm__Vote v = IOLM__VOTE__INIT;
	tkey(&k, i);
	iolm_buf_init(&body, 1024);
	assert_int_equal(cons_vote_body_encode(&body, digest, chain, type, h, r, id,
					       (uint32_t)i), IOLM_OK);
	assert_int_equal(iolm_sign(&k, sig, digest), IOLM_OK);
	v.body.data = body.data;
	v.body.len = body.len;
	v.signature.data = sig;
	v.signature.len = 64;
	iolm_buf_reset(out);
	assert_int_equal(iolm_codec_encode(out, &v.base), IOLM_OK);
	iolm_buf_release(&body, 0);
}

/* A signed Proposal by validator i for block (bytes). */
static inline void tproposal(iolm_buf *out, const char *chain, int i, uint64_t h, uint32_t r,
			     int32_t pol, const uint8_t *block, size_t len, const uint8_t *id)
{
	iolm_key k;
	iolm_buf body;
	uint8_t digest[32], sig[64], bid[32];
	Iolm__ProposalBody pb = IOLM__PROPOSAL_BODY__INIT;
	Iolm__Proposal p = IOLM__PROPOSAL__INIT;
	tkey(&k, i);
	if (!id) {
		tblock_id(NULL, bid, block, len);
		id = bid;
	}
	iolm_buf_init(&body, 1024);
	pb.chain_id = (char *)chain;
	pb.height = h;
	pb.round = r;
	pb.pol_round = pol;
	pb.block_id.data = (uint8_t *)id;
	pb.block_id.len = 32;
	pb.proposer = (uint32_t)i;
	assert_int_equal(iolm_codec_encode(&body, &pb.base), IOLM_OK);
	iolm_hash(digest, IOLM_TAG_PROPOSAL, body.data, body.len);
	assert_int_equal(iolm_sign(&k, sig, digest), IOLM_OK);
	p.body.data = body.data;
	p.body.len = body.len;
	p.signature.data = sig;
	p.signature.len = 64;
	p.block.data = (uint8_t *)block;
	p.block.len = len;
	iolm_buf_reset(out);
	assert_int_equal(iolm_codec_encode(out, &p.base), IOLM_OK);
	iolm_buf_release(&body, 0);
}

#endif
