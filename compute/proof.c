/* Work proofs: micro-nat losses and the Merkle root over segments (docs/compute.md
 * "Proof").
 *
 * Leaves, in order, each hashed with iolm_merkle_leaf:
 *   segment j:  u8 1 || u64 start_step || state_hash[32] || u32 k || k x u64 loss_un
 *   final:      u8 2 || u64 end_step || final_state[32] || u64 eval_loss_un
 * (integers little-endian). The root is iolm_merkle_root over those leaf hashes. */
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "core/merkle.h"

#define PROOF_MAX_SEG (1u << 20)

int compute_loss_micronats(uint64_t *out, float loss)
{
	uint32_t bits;
	memcpy(&bits, &loss, sizeof bits);
	*out = 0;
	uint32_t be = (bits >> 23) & 0xffu, frac = bits & 0x7fffffu;
	if (be == 0xffu || ((bits >> 31) && (be || frac)))
		return IOLM_ENONFINITE;
	if (be == 0 && frac == 0)
		return IOLM_OK;
	/* loss = mant * 2^e exactly */
	uint64_t mant = be ? (frac | 0x800000u) : frac;
	int e = be ? (int)be - 150 : -149;
	uint64_t x = mant * 1000000u; /* < 2^44: exact */
	if (e >= 0) {
		if (e > 19)
			return IOLM_ERANGE;
		*out = x << e;
		return IOLM_OK;
	}
	int sh = -e;
	if (sh > 45)
		return IOLM_OK; /* x / 2^sh < 1/2 */
	uint64_t q = x >> sh, rem = x & ((1ull << sh) - 1), half = 1ull << (sh - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	*out = q;
	return IOLM_OK;
}

struct compute_proof {
	uint64_t start, next;  /* first step; the step expected next */
	uint32_t k;
	int have_state;        /* the current segment's start state was given */
	uint8_t state[IOLM_HASH_LEN];
	uint64_t *losses;      /* k, of the current segment */
	uint32_t nloss;
	uint8_t *leaves;       /* finished leaf hashes */
	size_t nleaves, cap;
	int finished;
};

int compute_proof_create(compute_proof **out, uint64_t start_step, uint32_t seg_len)
{
	*out = NULL;
	if (seg_len < 1 || seg_len > PROOF_MAX_SEG)
		return IOLM_EINVAL;
	compute_proof *p = calloc(1, sizeof *p);
	if (!p)
		return IOLM_ENOMEM;
	p->losses = calloc(seg_len, sizeof *p->losses);
	if (!p->losses) {
		free(p);
		return IOLM_ENOMEM;
	}
	p->start = p->next = start_step;
	p->k = seg_len;
	*out = p;
	return IOLM_OK;
}

void compute_proof_destroy(compute_proof *p)
{
	if (!p)
		return;
	free(p->losses);
	free(p->leaves);
	free(p);
}

static int push_leaf(compute_proof *p, const uint8_t *data, size_t len)
{
	if (p->nleaves == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 16;
		uint8_t *nl = realloc(p->leaves, ncap * IOLM_HASH_LEN);
		if (!nl)
			return IOLM_ENOMEM;
		p->leaves = nl;
		p->cap = ncap;
	}
	iolm_merkle_leaf(p->leaves + p->nleaves * IOLM_HASH_LEN, data, len);
	p->nleaves++;
	return IOLM_OK;
}

static void put64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static int at_boundary(const compute_proof *p, uint64_t step)
{
	return step >= p->start && (step - p->start) % p->k == 0;
}

int compute_proof_add_state(compute_proof *p, uint64_t step,
			    const uint8_t state[static IOLM_HASH_LEN])
{
	if (p->finished || step != p->next || !at_boundary(p, step) || p->have_state)
		return IOLM_ESTATE;
	memcpy(p->state, state, IOLM_HASH_LEN);
	p->have_state = 1;
	p->nloss = 0;
	return IOLM_OK;
}

static int close_segment(compute_proof *p)
{
	size_t len = 1 + 8 + IOLM_HASH_LEN + 4 + 8 * (size_t)p->k;
	uint8_t *b = malloc(len);
	if (!b)
		return IOLM_ENOMEM;
	b[0] = 1;
	put64(b + 1, p->next - p->k);
	memcpy(b + 9, p->state, IOLM_HASH_LEN);
	for (int i = 0; i < 4; i++)
		b[9 + IOLM_HASH_LEN + i] = (uint8_t)(p->k >> (8 * i));
	for (uint32_t i = 0; i < p->k; i++)
		put64(b + 13 + IOLM_HASH_LEN + 8 * (size_t)i, p->losses[i]);
	int err = push_leaf(p, b, len);
	free(b);
	if (!err)
		p->have_state = 0;
	return err;
}

int compute_proof_add_loss(compute_proof *p, uint64_t step, uint64_t loss_un)
{
	if (p->finished || step != p->next || !p->have_state)
		return IOLM_ESTATE;
	p->losses[p->nloss++] = loss_un;
	p->next++;
	if (p->nloss == p->k)
		return close_segment(p);
	return IOLM_OK;
}

int compute_proof_finish(compute_proof *p, uint8_t root[static IOLM_HASH_LEN],
			 uint64_t end_step, const uint8_t final_state[static IOLM_HASH_LEN],
			 uint64_t eval_loss_un)
{
	if (p->finished || end_step != p->next || p->have_state || p->nleaves == 0)
		return IOLM_ESTATE;
	uint8_t b[1 + 8 + IOLM_HASH_LEN + 8];
	b[0] = 2;
	put64(b + 1, end_step);
	memcpy(b + 9, final_state, IOLM_HASH_LEN);
	put64(b + 9 + IOLM_HASH_LEN, eval_loss_un);
	int err = push_leaf(p, b, sizeof b);
	if (err)
		return err;
	iolm_merkle_root(root, p->leaves, p->nleaves);
	p->finished = 1;
	return IOLM_OK;
}

size_t compute_proof_leaf_count(const compute_proof *p)
{
	return p->nleaves;
}
