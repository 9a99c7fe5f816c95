/* Binary Merkle trees with domain-separated leaves and nodes.
 *
 * Shape (as RFC 6962): the root of n > 1 leaves is node(root(first k), root(rest)) where k
 * is the largest power of two below n. Every leaf is at a unique position; no leaf is
 * ever duplicated, so the "duplicate last leaf" ambiguity of Bitcoin's tree cannot arise.
 *
 *   leaf hash  = H_mleaf(data)                      (iolm_merkle_leaf)
 *   node hash  = H_mnode(left || right)             (32 + 32 bytes)
 *   empty root = H_mempty("")
 *   root of 1  = that leaf hash
 *
 * Separate tags for leaves and nodes make it impossible to pass an inner node off as a
 * leaf. A proof for leaf i of n is the list of sibling hashes from the leaf up; its length
 * is fixed by (i, n), so verification rejects a proof that is too short or too long. */
#ifndef IOLM_CORE_MERKLE_H
#define IOLM_CORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"

#define IOLM_MERKLE_MAX_DEPTH 64

/* Leaf hash of arbitrary data. */
void iolm_merkle_leaf(uint8_t out[static IOLM_HASH_LEN], const void *data, size_t len);

/* Inner node hash of two children. */
void iolm_merkle_node(uint8_t out[static IOLM_HASH_LEN], const uint8_t left[static 32],
		      const uint8_t right[static 32]);

/* Root over n leaf hashes (leaves: n * 32 bytes, already passed through
 * iolm_merkle_leaf). Uses O(log n) stack, no heap. */
void iolm_merkle_root(uint8_t root[static IOLM_HASH_LEN], const uint8_t *leaves, size_t n);

/* Inclusion proof for leaf index of n: up to IOLM_MERKLE_MAX_DEPTH sibling hashes into
 * path (capacity path_cap hashes), count in *path_len. IOLM_ERANGE when index >= n,
 * IOLM_ETOOBIG when path_cap is too small. */
int iolm_merkle_proof(uint8_t *path, size_t path_cap, size_t *path_len,
		      const uint8_t *leaves, size_t n, size_t index) IOLM_WUR;

/* IOLM_OK when leaf (a leaf hash) at index of n hashes with path up to root; IOLM_EPROOF
 * otherwise, including a path of the wrong length; IOLM_ERANGE for index >= n. */
int iolm_merkle_verify(const uint8_t root[static IOLM_HASH_LEN],
		       const uint8_t leaf[static IOLM_HASH_LEN], size_t index, size_t n,
		       const uint8_t *path, size_t path_len) IOLM_WUR;

#endif
