/* JSON renderings of ledger objects for the RPC (node/rpc.c); internal to node/.
 *
 * Conventions (docs/rpc.md): hashes, keys, signatures and bytes are lower-case hex;
 * 20-byte account ids are bech32m addresses; integers are JSON numbers, except a uint64
 * above 2^63 - 1 which is a decimal string (jansson's integers are signed 64-bit).
 * Beside every signed object its exact signed bytes are given in hex, so a client can
 * recompute every id and check every signature without trusting the node.
 *
 * Every function returning json_t * returns a new reference the caller owns (json_decref)
 * or NULL when memory ran out. The int-returning ones write a new reference to *out on
 * IOLM_OK and NULL otherwise. */
#ifndef IOLM_NODE_RPC_JSON_H
#define IOLM_NODE_RPC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "ledger/ledger.h"

/* Hex of n bytes ("" for none). */
json_t *rpc_json_hex(const uint8_t *p, size_t n);
/* A uint64 as a number, or as a decimal string past INT64_MAX. */
json_t *rpc_json_u64(uint64_t v);
/* The bech32m address of a 20-byte id; hex for any other length (malformed data). */
json_t *rpc_json_account_id(const uint8_t *p, size_t n);

/* Put v (a new reference, may be NULL) under key in obj. On any failure *err becomes
 * IOLM_ENOMEM and v is released; once *err is set further calls only release v, so a
 * sequence of puts needs one check at its end. */
void rpc_json_put(int *err, json_t *obj, const char *key, json_t *v);
/* Append v to arr, with the same rules. */
void rpc_json_push(int *err, json_t *arr, json_t *v);

/* An encoded Tx: id, bytes, body bytes, signature, the digest signed, and the decoded
 * body with its kind. IOLM_EDECODE & co. when raw is not a canonical Tx with a
 * canonical body. */
int rpc_json_tx(json_t **out, const uint8_t *raw, size_t len) IOLM_WUR;

/* An encoded CommitCert with, per signature, the validator's key (from g), the canonical
 * VoteBody bytes it signs and their digest. */
int rpc_json_cert(json_t **out, const ledger_genesis *g, const uint8_t *raw,
		  size_t len) IOLM_WUR;

/* An encoded Block: id, header bytes and fields, transactions, last_commit; cert (may be
 * NULL) is the block's own certificate, rendered as "certificate" (null when absent). */
int rpc_json_block(json_t **out, const ledger_genesis *g, const uint8_t *raw, size_t len,
		   const uint8_t *cert, size_t cert_len) IOLM_WUR;

/* An encoded Receipt. */
int rpc_json_receipt(json_t **out, const uint8_t *raw, size_t len) IOLM_WUR;

/* A state proof: fields, and its StateProof encoding as "bytes". */
int rpc_json_proof(json_t **out, const ledger_proof *proof) IOLM_WUR;

/* The fields of a TaskCreate / WorkCommit into object o (shared by /tx, /block and the
 * mining endpoints). A work without a parent has "parent_work": null. */
void rpc_json_task_create(int *err, json_t *o, const Iolm__TaskCreate *t);
void rpc_json_work_commit(int *err, json_t *o, const Iolm__WorkCommit *w);

#endif
