/* Transactions: decoding, the stateless rules, signatures.
 *
 * A transaction travels as Tx{body, signature}. Its id is H_tx(the Tx bytes); its
 * signature is BIP340 by body.sender over
 *   H_txsig(len(chain_id) as one byte || chain_id || body bytes)
 * (the length byte keeps (chain id, body) pairs from running into each other).
 * ledger_tx_decode() applies every rule that needs no state: canonical encoding, size,
 * chain id, field lengths, and the bounds of each kind (docs/protocol.md lists them).
 * The stateful rules (nonce, fee, balance, referenced tasks and works) are applied when a
 * block is executed (ledger/apply.c) and, against the latest state, by the mempool. */
#ifndef IOLM_LEDGER_TX_H
#define IOLM_LEDGER_TX_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/key.h"

#define LEDGER_ARTIFACT_ID_LEN 34 /* 0x1e 0x20 || BLAKE2b-256 (docs/protocol.md) */
#define LEDGER_MAX_CHAIN_ID 64
#define LEDGER_MAX_ENDPOINT 256
#define LEDGER_MAX_TASK_NAME 64

/* A decoded transaction. Owns its decoded messages and a copy of the raw bytes; release
 * with ledger_tx_release(). */
typedef struct ledger_tx {
	uint8_t id[32];
	uint8_t sender_pub[32];
	uint8_t sender[IOLM_ADDR_LEN]; /* account id = H160(sender_pub) */
	uint64_t nonce;
	uint64_t fee;
	uint64_t spend;  /* what leaves the balance besides the fee: amount, pool, bond */
	Iolm__TxBody *body;
	Iolm__Tx *env;
	uint8_t *raw;    /* the Tx bytes */
	size_t raw_len;
} ledger_tx;

/* Decode raw (at most IOLM_MAX_TX_BYTES) and apply the stateless rules for chain_id.
 * Does not check the signature. On failure *tx is released and zeroed. */
int ledger_tx_decode(ledger_tx *tx, const char *chain_id, const uint8_t *raw,
		     size_t len) IOLM_WUR;

/* IOLM_OK when the signature verifies, else IOLM_ELEDGER_SIGNATURE. */
int ledger_tx_verify(const ledger_tx *tx, const char *chain_id) IOLM_WUR;

/* The digest a transaction signature covers. */
void ledger_tx_sighash(uint8_t out[static 32], const char *chain_id, const uint8_t *body,
		       size_t body_len);

void ledger_tx_release(ledger_tx *tx);

/* Build, sign and encode a transaction (wallets, tests, the devnet load generator).
 * body's chain_id, sender, nonce, fee and kind must be set by the caller; this fills
 * sender from key. The encoded Tx is appended to out. */
int ledger_tx_sign(iolm_buf *out, Iolm__TxBody *body, const iolm_key *key,
		   const char *chain_id) IOLM_WUR;

/* A set of transaction ids whose signatures were already checked (the mempool fills it
 * at admission; block execution skips the check for ids in it). Fixed capacity; the
 * oldest entries are forgotten first. Thread-safe. */
typedef struct ledger_sigcache ledger_sigcache;
int ledger_sigcache_create(ledger_sigcache **out, size_t capacity) IOLM_WUR;
void ledger_sigcache_destroy(ledger_sigcache *c);
void ledger_sigcache_add(ledger_sigcache *c, const uint8_t id[static 32]);
int ledger_sigcache_has(ledger_sigcache *c, const uint8_t id[static 32]);

#endif
