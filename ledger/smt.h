/* The authenticated state map: a sparse Merkle tree over 256-bit keys with single-leaf
 * subtrees collapsed, stored in LMDB.
 *
 * Definition (docs/protocol.md, "State root"). Keys are 32 bytes, spread uniformly
 * (each is BLAKE2b of a state record's name). The hash of a subtree is
 *   - empty:              32 zero bytes
 *   - exactly one leaf:   H_state(0x00 || key || vhash), where vhash = H_state(0x02 || value)
 *   - two or more leaves: H_state(0x01 || left || right), children split by the next key bit
 * so the root depends only on the set of (key, value) pairs, never on the order they were
 * written, and a tree of n random keys is about log2(n) deep rather than 256.
 *
 * Storage: one record per non-empty position, keyed by (depth as 2 bytes big-endian,
 * the key's first `depth` bits, rest zero): a leaf record holds its key, vhash and hash;
 * an internal record holds its hash. ledger_smt_update() applies a sorted batch of changes
 * in one pass, visiting and hashing each touched node once: a block's writes cost one
 * root computation, not one per transaction.
 *
 * Proofs (inclusion and exclusion) are verified by proof.c, which needs no LMDB. */
#ifndef IOLM_LEDGER_SMT_H
#define IOLM_LEDGER_SMT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "core/err.h"
#include "ledger/proof.h"

/* One write to the map: set key to a value with hash vhash, or delete key. */
typedef struct ledger_smt_change {
	uint8_t key[32];
	uint8_t vhash[32];
	int del;
} ledger_smt_change;

/* Apply n changes inside txn (which the caller commits or aborts) and write the new root
 * to root. changes is sorted in place by key; a key may appear once only (IOLM_EINVAL
 * otherwise). Deleting an absent key is a no-op. */
int ledger_smt_update(MDB_txn *txn, MDB_dbi dbi, ledger_smt_change *changes, size_t n,
		      uint8_t root[static 32]) IOLM_WUR;

/* The root of the map holding exactly the n pairs (keys[i], vhashes[i]), computed in
 * memory from the definition, without the stored tree: keys must be sorted and distinct.
 * For checking the stored tree (ledger_verify_state) and for tests. */
void ledger_smt_root_of(uint8_t root[static 32], const uint8_t (*keys)[32],
			const uint8_t (*vhashes)[32], size_t n);

/* The current root (zeros for the empty map). */
int ledger_smt_root(MDB_txn *txn, MDB_dbi dbi, uint8_t root[static 32]) IOLM_WUR;

/* A proof for key against the current root: inclusion when the key is present,
 * exclusion otherwise. */
int ledger_smt_prove(MDB_txn *txn, MDB_dbi dbi, const uint8_t key[static 32],
		     ledger_proof *proof) IOLM_WUR;

#endif
