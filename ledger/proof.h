/* State proofs: check a value (or its absence) against a state root, without LMDB.
 *
 * This is the part of the ledger a wallet links: it takes a root from a block header that
 * +2/3 of the validators signed and a proof from any node's RPC, and needs to trust
 * neither the node nor its database. The tree is defined in ledger/smt.h. */
#ifndef IOLM_LEDGER_PROOF_H
#define IOLM_LEDGER_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/iolm.pb-c.h"

#define LEDGER_SMT_MAX_DEPTH 256

enum ledger_proof_terminal {
	LEDGER_PROOF_EMPTY = 0, /* the path ends in an empty subtree */
	LEDGER_PROOF_LEAF = 1,  /* the path ends in a leaf (the key's own, or another) */
};

typedef struct ledger_proof {
	uint8_t key[32];
	uint32_t depth; /* number of siblings */
	uint8_t siblings[LEDGER_SMT_MAX_DEPTH][32]; /* from the root down */
	enum ledger_proof_terminal terminal;
	uint8_t leaf_key[32];
	uint8_t leaf_vhash[32];
} ledger_proof;

/* The first byte of a raw state key (docs/protocol.md "State"); the rest are in
 * ledger/internal.h. */
#define LEDGER_SK_ACCOUNT 0x01
#define LEDGER_SK_TASK 0x02
#define LEDGER_SK_WORK 0x03
#define LEDGER_SK_SHARE 0x07
#define LEDGER_SK_REWARDS 0x09

/* The state map key of a raw state key: spread uniformly, so the tree stays ~log2(n) deep. */
void ledger_state_map_key(uint8_t out[static 32], const uint8_t *raw, size_t len);

/* The state map key of an account (what its proof is for). */
void ledger_account_key(uint8_t key[static 32], const uint8_t id[static 20]);

/* The value hash the tree stores for value bytes: H_state(0x02 || value). */
void ledger_smt_value_hash(uint8_t out[static 32], const uint8_t *value, size_t len);

/* Leaf and inner-node hashes, as the tree defines them. */
void ledger_smt_leaf_hash(uint8_t out[static 32], const uint8_t key[static 32],
			  const uint8_t vhash[static 32]);
void ledger_smt_node_hash(uint8_t out[static 32], const uint8_t left[static 32],
			  const uint8_t right[static 32]);

/* Inclusion: IOLM_OK when proof shows key holds exactly value (len bytes) under root.
 * Exclusion (value == NULL): IOLM_OK when proof shows key is absent under root.
 * IOLM_EPROOF otherwise; IOLM_EINVAL when the proof is not for key. */
int ledger_proof_verify(const uint8_t root[static 32], const uint8_t key[static 32],
			const uint8_t *value, size_t len, const ledger_proof *proof) IOLM_WUR;

/* Wire form (StateProof). to_msg fills msg with pointers into proof (valid while proof
 * is); from_msg validates lengths and copies. */
void ledger_proof_to_msg(Iolm__StateProof *msg, ProtobufCBinaryData *sib_storage,
			 const ledger_proof *proof);
int ledger_proof_from_msg(ledger_proof *proof, const Iolm__StateProof *msg) IOLM_WUR;

#endif
