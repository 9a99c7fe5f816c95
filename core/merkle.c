#include "core/merkle.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>

void iolm_merkle_leaf(uint8_t out[static IOLM_HASH_LEN], const void *data, size_t len)
{
	iolm_hash(out, IOLM_TAG_MLEAF, data, len);
}

void iolm_merkle_node(uint8_t out[static IOLM_HASH_LEN], const uint8_t left[static 32],
		      const uint8_t right[static 32])
{
	iolm_hash2(out, IOLM_TAG_MNODE, left, 32, right, 32);
}

/* Largest power of two strictly below n (n >= 2). */
static size_t split_point(size_t n)
{
	assert(n >= 2);
	size_t k = 1;
	while (k < n - k) /* k * 2 < n, without overflow */
		k <<= 1;
	return k;
}

static void root_rec(uint8_t out[static 32], const uint8_t *leaves, size_t n)
{
	if (n == 1) {
		memcpy(out, leaves, 32);
		return;
	}
	uint8_t l[32], r[32];
	size_t k = split_point(n);
	root_rec(l, leaves, k);
	root_rec(r, leaves + 32 * k, n - k);
	iolm_merkle_node(out, l, r);
}

void iolm_merkle_root(uint8_t root[static IOLM_HASH_LEN], const uint8_t *leaves, size_t n)
{
	if (n == 0) {
		iolm_hash(root, IOLM_TAG_MEMPTY, NULL, 0);
		return;
	}
	root_rec(root, leaves, n);
}

int iolm_merkle_proof(uint8_t *path, size_t path_cap, size_t *path_len,
		      const uint8_t *leaves, size_t n, size_t index)
{
	/* Walk down from the root, collecting the sibling subtree root at each level; the
	 * proof lists them from the leaf up, so fill from the end. */
	uint8_t sib[IOLM_MERKLE_MAX_DEPTH][32];
	size_t depth = 0;

	*path_len = 0;
	if (index >= n)
		return IOLM_ERANGE;
	while (n > 1) {
		size_t k = split_point(n);
		if (index < k) {
			root_rec(sib[depth], leaves + 32 * k, n - k);
			n = k;
		} else {
			root_rec(sib[depth], leaves, k);
			leaves += 32 * k;
			n -= k;
			index -= k;
		}
		depth++;
	}
	if (depth > path_cap)
		return IOLM_ETOOBIG;
	for (size_t i = 0; i < depth; i++)
		memcpy(path + 32 * i, sib[depth - 1 - i], 32);
	*path_len = depth;
	return IOLM_OK;
}

/* Recompute the root bottom-up. At each level we need to know whether the current
 * subtree is a left or right child; that follows from (index, n) by the same split
 * rule, so record the sides top-down first. */
int iolm_merkle_verify(const uint8_t root[static IOLM_HASH_LEN],
		       const uint8_t leaf[static IOLM_HASH_LEN], size_t index, size_t n,
		       const uint8_t *path, size_t path_len)
{
	uint8_t is_right[IOLM_MERKLE_MAX_DEPTH];
	uint8_t cur[32];
	size_t depth = 0;

	if (index >= n)
		return IOLM_ERANGE;
	while (n > 1) {
		size_t k = split_point(n);
		if (depth == IOLM_MERKLE_MAX_DEPTH)
			return IOLM_EPROOF;
		if (index < k) {
			is_right[depth] = 0;
			n = k;
		} else {
			is_right[depth] = 1;
			n -= k;
			index -= k;
		}
		depth++;
	}
	if (path_len != depth)
		return IOLM_EPROOF;
	memcpy(cur, leaf, 32);
	for (size_t i = 0; i < depth; i++) {
		const uint8_t *s = path + 32 * i;
		/* path[i] is the sibling at level depth-1-i counted from the root. */
		if (is_right[depth - 1 - i])
			iolm_merkle_node(cur, s, cur);
		else
			iolm_merkle_node(cur, cur, s);
	}
	return sodium_memcmp(cur, root, 32) == 0 ? IOLM_OK : IOLM_EPROOF;
}
