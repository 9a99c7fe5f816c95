#include "ledger/proof.h"

#include <string.h>

#include <sodium.h>

#include "core/addr.h"
#include "core/hash.h"

enum { SMT_LEAF = 0x00, SMT_NODE = 0x01, SMT_VALUE = 0x02 };

void ledger_state_map_key(uint8_t out[static 32], const uint8_t *raw, size_t len)
{
	static const uint8_t tag = 0x03;
	iolm_hash2(out, IOLM_TAG_STATE, &tag, 1, raw, len);
}

void ledger_account_key(uint8_t key[static 32], const uint8_t id[static IOLM_ADDR_LEN])
{
	uint8_t raw[1 + IOLM_ADDR_LEN] = { LEDGER_SK_ACCOUNT };
	memcpy(raw + 1, id, IOLM_ADDR_LEN);
	ledger_state_map_key(key, raw, sizeof raw);
}

void ledger_smt_value_hash(uint8_t out[static 32], const uint8_t *value, size_t len)
{
	static const uint8_t tag = SMT_VALUE;
	iolm_hash2(out, IOLM_TAG_STATE, &tag, 1, value, len);
}

void ledger_smt_leaf_hash(uint8_t out[static 32], const uint8_t key[static 32],
			  const uint8_t vhash[static 32])
{
	uint8_t buf[65];
	buf[0] = SMT_LEAF;
	memcpy(buf + 1, key, 32);
	memcpy(buf + 33, vhash, 32);
	iolm_hash(out, IOLM_TAG_STATE, buf, sizeof buf);
}

void ledger_smt_node_hash(uint8_t out[static 32], const uint8_t left[static 32],
			  const uint8_t right[static 32])
{
	uint8_t buf[65];
	buf[0] = SMT_NODE;
	memcpy(buf + 1, left, 32);
	memcpy(buf + 33, right, 32);
	iolm_hash(out, IOLM_TAG_STATE, buf, sizeof buf);
}

static int key_bit(const uint8_t key[static 32], unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

/* Whether a and b agree on their first n bits. */
static int same_prefix(const uint8_t a[static 32], const uint8_t b[static 32], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (key_bit(a, i) != key_bit(b, i))
			return 0;
	return 1;
}

int ledger_proof_verify(const uint8_t root[static 32], const uint8_t key[static 32],
			const uint8_t *value, size_t len, const ledger_proof *proof)
{
	uint8_t h[32];

	if (memcmp(proof->key, key, 32) != 0)
		return IOLM_EINVAL;
	if (proof->depth > LEDGER_SMT_MAX_DEPTH)
		return IOLM_EPROOF;

	if (value) {
		/* Inclusion: the path must end in this key's own leaf holding value. */
		uint8_t vh[32];
		if (proof->terminal != LEDGER_PROOF_LEAF || memcmp(proof->leaf_key, key, 32) != 0)
			return IOLM_EPROOF;
		ledger_smt_value_hash(vh, value, len);
		if (memcmp(vh, proof->leaf_vhash, 32) != 0)
			return IOLM_EPROOF;
		ledger_smt_leaf_hash(h, proof->leaf_key, proof->leaf_vhash);
	} else if (proof->terminal == LEDGER_PROOF_EMPTY) {
		memset(h, 0, 32);
	} else if (proof->terminal == LEDGER_PROOF_LEAF) {
		/* Exclusion by another leaf: it must sit on key's path (share the first
		 * depth bits), and not be key itself. */
		if (memcmp(proof->leaf_key, key, 32) == 0 ||
		    !same_prefix(proof->leaf_key, key, proof->depth))
			return IOLM_EPROOF;
		ledger_smt_leaf_hash(h, proof->leaf_key, proof->leaf_vhash);
	} else {
		return IOLM_EPROOF;
	}

	for (uint32_t i = proof->depth; i-- > 0;) {
		if (key_bit(key, i))
			ledger_smt_node_hash(h, proof->siblings[i], h);
		else
			ledger_smt_node_hash(h, h, proof->siblings[i]);
	}
	return sodium_memcmp(h, root, 32) == 0 ? IOLM_OK : IOLM_EPROOF;
}

void ledger_proof_to_msg(Iolm__StateProof *msg, ProtobufCBinaryData *sib_storage,
			 const ledger_proof *proof)
{
	iolm__state_proof__init(msg);
	msg->key.data = (uint8_t *)proof->key;
	msg->key.len = 32;
	for (uint32_t i = 0; i < proof->depth; i++) {
		sib_storage[i].data = (uint8_t *)proof->siblings[i];
		sib_storage[i].len = 32;
	}
	msg->n_siblings = proof->depth;
	msg->siblings = sib_storage;
	msg->terminal = (uint32_t)proof->terminal;
	if (proof->terminal == LEDGER_PROOF_LEAF) {
		msg->leaf_key.data = (uint8_t *)proof->leaf_key;
		msg->leaf_key.len = 32;
		msg->leaf_value_hash.data = (uint8_t *)proof->leaf_vhash;
		msg->leaf_value_hash.len = 32;
	}
}

int ledger_proof_from_msg(ledger_proof *proof, const Iolm__StateProof *msg)
{
	memset(proof, 0, sizeof *proof);
	if (msg->key.len != 32 || msg->n_siblings > LEDGER_SMT_MAX_DEPTH)
		return IOLM_ELENGTH;
	if (msg->terminal > LEDGER_PROOF_LEAF)
		return IOLM_EPROOF;
	memcpy(proof->key, msg->key.data, 32);
	proof->depth = (uint32_t)msg->n_siblings;
	for (size_t i = 0; i < msg->n_siblings; i++) {
		if (msg->siblings[i].len != 32)
			return IOLM_ELENGTH;
		memcpy(proof->siblings[i], msg->siblings[i].data, 32);
	}
	proof->terminal = (enum ledger_proof_terminal)msg->terminal;
	if (proof->terminal == LEDGER_PROOF_LEAF) {
		if (msg->leaf_key.len != 32 || msg->leaf_value_hash.len != 32)
			return IOLM_ELENGTH;
		memcpy(proof->leaf_key, msg->leaf_key.data, 32);
		memcpy(proof->leaf_vhash, msg->leaf_value_hash.data, 32);
	} else if (msg->leaf_key.len || msg->leaf_value_hash.len) {
		return IOLM_EPROOF;
	}
	return IOLM_OK;
}
