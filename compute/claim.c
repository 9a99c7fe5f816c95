/* Work claims: the WorkClaim message of proto/iolm.proto in memory, its encoding, its
 * checked decoding and its Merkle root (docs/compute.md "Proof" and "Verification").
 *
 * The claim lists every segment's start state and per-step losses, the final state and
 * the eval loss: exactly the leaves of the miner's proof, so compute_claim_root() rebuilds
 * the root with the same builder (compute_proof) the miner used. */
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "core/buf.h"
#include "core/codec.h"

static void claim_zero(compute_claim *c)
{
	memset(c, 0, sizeof *c);
}

void compute_claim_release(compute_claim *c)
{
	if (!c)
		return;
	free(c->states);
	free(c->losses);
	claim_zero(c);
}

/* The claim's shape is within the caps and its arrays are present. */
static int claim_shape_ok(const compute_claim *c)
{
	return c->nseg >= 1 && c->nseg <= COMPUTE_CLAIM_MAX_SEGMENTS && c->seg_len >= 1 &&
	       (uint64_t)c->nseg * c->seg_len <= COMPUTE_CLAIM_MAX_STEPS && c->states &&
	       c->losses &&
	       c->start_step <= UINT64_MAX - (uint64_t)c->nseg * c->seg_len;
}

int compute_claim_encode(uint8_t **out, size_t *len, const compute_claim *c)
{
	int err = IOLM_OK;
	Iolm__WorkClaim wc = IOLM__WORK_CLAIM__INIT;
	Iolm__SegmentCommit *segs = NULL, **ptrs = NULL;
	iolm_buf b;
	iolm_buf_init(&b, COMPUTE_CLAIM_MAX_BYTES);
	*out = NULL;
	*len = 0;
	if (!claim_shape_ok(c))
		return IOLM_EINVAL;
	segs = calloc(c->nseg, sizeof *segs);
	ptrs = calloc(c->nseg, sizeof *ptrs);
	if (!segs || !ptrs) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < c->nseg; j++) {
		iolm__segment_commit__init(&segs[j]);
		segs[j].step = c->start_step + (uint64_t)j * c->seg_len;
		segs[j].state_hash.data = c->states + j * IOLM_HASH_LEN;
		segs[j].state_hash.len = IOLM_HASH_LEN;
		segs[j].n_losses = c->seg_len;
		segs[j].losses = c->losses + j * c->seg_len;
		ptrs[j] = &segs[j];
	}
	wc.n_segments = c->nseg;
	wc.segments = ptrs;
	wc.final_state.data = (uint8_t *)c->final_state;
	wc.final_state.len = IOLM_HASH_LEN;
	wc.eval_loss = c->eval_loss;
	if ((err = iolm_codec_encode(&b, &wc.base)))
		goto out;
	*out = iolm_buf_detach(&b, len);
	if (!*out)
		err = IOLM_ENOMEM;
out:
	iolm_buf_release(&b, 0);
	free(ptrs);
	free(segs);
	return err;
}

/* Check the decoded message's shape against k and copy it into c. */
static int claim_from_msg(compute_claim *c, const Iolm__WorkClaim *wc, uint32_t k)
{
	size_t n = wc->n_segments;
	if (n < 1 || n > COMPUTE_CLAIM_MAX_SEGMENTS || (uint64_t)n * k > COMPUTE_CLAIM_MAX_STEPS ||
	    wc->final_state.len != IOLM_HASH_LEN)
		return IOLM_EVERIFY_CLAIM;
	uint64_t start = wc->segments[0]->step;
	if (start > UINT64_MAX - (uint64_t)n * k)
		return IOLM_EVERIFY_CLAIM;
	for (size_t j = 0; j < n; j++) {
		const Iolm__SegmentCommit *s = wc->segments[j];
		if (s->step != start + (uint64_t)j * k || s->state_hash.len != IOLM_HASH_LEN ||
		    s->n_losses != k)
			return IOLM_EVERIFY_CLAIM;
	}
	c->states = malloc(n * IOLM_HASH_LEN);
	c->losses = malloc(n * k * sizeof *c->losses);
	if (!c->states || !c->losses)
		return IOLM_ENOMEM;
	c->start_step = start;
	c->seg_len = k;
	c->nseg = n;
	for (size_t j = 0; j < n; j++) {
		memcpy(c->states + j * IOLM_HASH_LEN, wc->segments[j]->state_hash.data,
		       IOLM_HASH_LEN);
		memcpy(c->losses + j * k, wc->segments[j]->losses, k * sizeof *c->losses);
	}
	memcpy(c->final_state, wc->final_state.data, IOLM_HASH_LEN);
	c->eval_loss = wc->eval_loss;
	return IOLM_OK;
}

int compute_claim_decode(compute_claim *c, const uint8_t *data, size_t len,
			 uint32_t seg_len)
{
	Iolm__WorkClaim *wc = NULL;
	claim_zero(c);
	if (seg_len < 1)
		return IOLM_EVERIFY_CLAIM;
	int err = iolm_decode_work_claim(&wc, data, len, COMPUTE_CLAIM_MAX_BYTES);
	if (err) {
		/* any malformed encoding is the claim's fault, not the verifier's */
		err = err == IOLM_ENOMEM ? err : IOLM_EVERIFY_CLAIM;
		goto out;
	}
	err = claim_from_msg(c, wc, seg_len);
out:
	iolm_codec_free((ProtobufCMessage *)wc);
	if (err)
		compute_claim_release(c);
	return err;
}

int compute_claim_root(uint8_t root[static IOLM_HASH_LEN], const compute_claim *c)
{
	compute_proof *p = NULL;
	if (!claim_shape_ok(c))
		return IOLM_EINVAL;
	int err = compute_proof_create(&p, c->start_step, c->seg_len);
	uint64_t step = c->start_step;
	for (size_t j = 0; !err && j < c->nseg; j++) {
		err = compute_proof_add_state(p, step, c->states + j * IOLM_HASH_LEN);
		for (uint32_t i = 0; !err && i < c->seg_len; i++, step++)
			err = compute_proof_add_loss(p, step, c->losses[j * c->seg_len + i]);
	}
	if (!err)
		err = compute_proof_finish(p, root, step, c->final_state, c->eval_loss);
	compute_proof_destroy(p);
	return err;
}
