/* iolm-wallet's library: the encrypted keystore, passphrases, and the light client that
 * checks what a node says against the genesis validator set.
 *
 * The wallet links core, the ledger's LMDB-free part (proofs, transaction signing, the
 * genesis file) and consensus's certificate check, and talks to nodes over HTTP RPC only
 * (DESIGN §2). It trusts exactly one thing: the genesis file the user gives it. */
#ifndef IOLM_WALLET_H
#define IOLM_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/httpc.h"
#include "core/key.h"

/* ---------------------------------------------------------------- keystore */

/* Argon2id cost. WALLET_KDF_DEFAULT is libsodium's "moderate" (256 MiB, 3 passes: about a
 * second on one core); WALLET_KDF_FAST (64 MiB, 2 passes) is for scripts and tests. Files
 * asking for more than WALLET_KDF_MAX_MEM bytes or WALLET_KDF_MAX_OPS passes are refused
 * as damaged: a hostile file must not make the wallet allocate without bound. */
typedef struct wallet_kdf {
	uint64_t opslimit;
	uint64_t memlimit;
} wallet_kdf;
extern const wallet_kdf WALLET_KDF_DEFAULT, WALLET_KDF_FAST;
#define WALLET_KDF_MAX_MEM (4ull << 30)
#define WALLET_KDF_MAX_OPS 64u
#define WALLET_PASS_MAX 1024u
#define WALLET_KEYSTORE_MAX 1024u /* bytes of an encoded keystore file */

/* Encrypt key under pass (passlen bytes) into a new keystore file at path: mode 0600,
 * written atomically (temporary file, fsync, rename). IOLM_EEXIST when path exists. */
int wallet_keystore_create(const char *path, const iolm_key *key, const char *pass,
			   size_t passlen, const wallet_kdf *kdf) IOLM_WUR;

/* Decrypt the keystore at path. IOLM_EWALLET_NOKEY when absent, IOLM_EPERM when group or
 * others may read it, IOLM_EWALLET_CORRUPT when it does not decode, fails its checksum,
 * asks for an unreasonable KDF cost, or holds a key that is not its public key,
 * IOLM_EWALLET_PASS when the passphrase does not open it. On failure *key is zeroed. */
int wallet_keystore_open(iolm_key *key, const char *path, const char *pass,
			 size_t passlen) IOLM_WUR;

/* The public key stored in the keystore, without the passphrase (for `address`). The
 * file's checksum is verified; the public key is authenticated only by a later open. */
int wallet_keystore_pubkey(uint8_t pub[static IOLM_PUBKEY_LEN], const char *path) IOLM_WUR;

/* ---------------------------------------------------------------- passphrases */

/* Where a passphrase comes from, first match wins: the file named by `file` (its first
 * line), the environment variable IOLM_WALLET_PASSPHRASE, or a prompt on the terminal
 * with echo off (asked twice when confirm is set). The passphrase lands in a buffer from
 * sodium_malloc (locked, guarded); free it with wallet_pass_free, which wipes it. */
int wallet_pass_get(char **pass, size_t *len, const char *file, const char *prompt,
		    int confirm) IOLM_WUR;
void wallet_pass_free(char *pass);

/* ---------------------------------------------------------------- the node */

typedef struct wallet_node {
	iolm_httpc *c;
	char addr[300];  /* host:port, for messages */
	char token[65];  /* RPC cookie for POST /tx; empty when none was given */
} wallet_node;

/* Connect to host:port; read the cookie file when cookie is not NULL. */
int wallet_node_open(wallet_node *n, const char *hostport, const char *cookie) IOLM_WUR;
void wallet_node_close(wallet_node *n);

/* GET path as JSON into *out (the caller json_decref()s it). IOLM_EWALLET_UNREACHABLE
 * when the node does not answer, IOLM_EWALLET_ANSWER when the body is not JSON; an HTTP
 * error gives IOLM_ENOTFOUND (404) or IOLM_EWALLET_ANSWER with the node's error body in
 * *out when it sent one. */
int wallet_get(wallet_node *n, const char *path, json_t **out) IOLM_WUR;

/* POST a signed transaction (raw envelope bytes). IOLM_OK with the id in id_hex, or
 * IOLM_EWALLET_REJECTED with the node's reason in why (why_len bytes, NUL-terminated), or
 * IOLM_EWALLET_UNREACHABLE. */
int wallet_post_tx(wallet_node *n, const uint8_t *tx, size_t len, char id_hex[65], char *why,
		   size_t why_len) IOLM_WUR;

/* A JSON integer field, or a decimal string (amounts past 2^53), as uint64. 0 when it is
 * absent, negative or malformed, and then *ok (when not NULL) is set to 0. */
uint64_t wallet_json_u64(const json_t *o, const char *name, int *ok);

/* ---------------------------------------------------------------- light client */

typedef struct wallet_trust wallet_trust;

/* The trust anchor: chain id and validator set of the genesis file at path. */
int wallet_trust_load(wallet_trust **out, const char *path, char *err, size_t errlen) IOLM_WUR;
void wallet_trust_destroy(wallet_trust *t);
const char *wallet_trust_chain_id(const wallet_trust *t);

/* A block header proved: +2/3 of the genesis validators' power signed it. */
typedef struct wallet_anchor {
	uint64_t height;
	uint8_t block_id[32];
	uint8_t state_root[32];
	uint64_t signed_power, total_power;
} wallet_anchor;

/* Check a /block/{height} answer against the trust anchor: its header bytes decode, are of
 * this chain and height, and hash to the block id that its certificate's signatures of
 * +2/3 of the genesis voting power sign. IOLM_EWALLET_PROOF with the reason in why. */
int wallet_verify_anchor(const wallet_trust *t, uint64_t height, const json_t *block,
			 wallet_anchor *out, char *why, size_t why_len) IOLM_WUR;

/* Check a state record under a proved anchor: value_hex (a JSON hex string, or null for
 * an absent record) is exactly what the record under raw_key holds, by the proof whose
 * encoded StateProof is proof_obj's "bytes". The value goes to *value (malloc'd, NULL when
 * absent). IOLM_EWALLET_PROOF with the reason in why. */
int wallet_verify_record(const wallet_anchor *a, const uint8_t *raw_key, size_t raw_len,
			 const json_t *value_hex, const json_t *proof_obj, uint8_t **value,
			 size_t *vlen, char *why, size_t why_len) IOLM_WUR;

/* GET path, whose answer names the "height" it was read at, then /block/{height}. */
int wallet_get_anchored(wallet_node *n, const char *path, json_t **answer, json_t **block,
			char *why, size_t why_len) IOLM_WUR;

/* An account as proved under `at`. */
typedef struct wallet_account {
	uint8_t id[IOLM_ADDR_LEN];
	int exists;
	uint64_t balance;
	uint64_t nonce;
	wallet_anchor at;
} wallet_account;

/* Check an /account/{addr} answer and the /block/{height} answer it names: the anchor,
 * then the account's exact bytes (or its absence) under the anchor's state root. The
 * balance and nonce come from the proved bytes; when the node's own "balance"/"nonce"
 * fields differ from them, the node lied. IOLM_EWALLET_PROOF on any failure. */
int wallet_verify_account(const wallet_trust *t, const uint8_t id[static IOLM_ADDR_LEN],
			  const json_t *account, const json_t *block, wallet_account *out,
			  char *why, size_t why_len) IOLM_WUR;

/* A task as proved under `at`: its TaskState and the TaskCreate inside it; for a
 * /task/{id}/shares answer also the listed profit shares (accounts in key order) and
 * whether the list is complete (then their credits add up to state->total_credit). */
struct Iolm__TaskState;
struct Iolm__TaskCreate;
typedef struct wallet_task {
	wallet_anchor at;
	struct Iolm__TaskState *state;
	struct Iolm__TaskCreate *params;
	size_t n_shares;
	uint8_t (*accounts)[IOLM_ADDR_LEN];
	uint64_t *credits;
	int complete;
} wallet_task;

#define WALLET_MAX_SHARES 1000u /* shares one /task/{id}/shares answer lists at most */

/* Check a /task/{id} answer and the /block/{height} it names: the anchor, the task's
 * record (which must exist) under its state root, and every field the node spelled out
 * (creator, status, pool, revenue, best, counts, credit, payouts, the parameters' bytes
 * and name) against the proved record. Free *out with wallet_task_free. */
int wallet_verify_task(const wallet_trust *t, const uint8_t task[static 32],
		       const json_t *answer, const json_t *block, wallet_task *out, char *why,
		       size_t why_len) IOLM_WUR;

/* Check a /task/{id}/shares answer and its block: the anchor, the task record, each
 * listed share's record (each account once, in key order, its plain credit the proved
 * one), and, unless the node says the list is truncated, that the credits add up to the
 * task's proved total_credit, so no share was left out. */
int wallet_verify_task_shares(const wallet_trust *t, const uint8_t task[static 32],
			      const json_t *answer, const json_t *block, wallet_task *out,
			      char *why, size_t why_len) IOLM_WUR;
void wallet_task_free(wallet_task *wt);

/* One account's profit share of a task, as proved under `at` (credit 0: none). */
typedef struct wallet_share {
	wallet_anchor at;
	uint64_t credit;
	uint64_t total_credit;
} wallet_share;

/* Check a /shares/{task}/{address} answer and its block: the task record and the share
 * record (or its absence) under the anchor, and the node's plain figures against them. */
int wallet_verify_share(const wallet_trust *t, const uint8_t task[static 32],
			const uint8_t acct[static IOLM_ADDR_LEN], const json_t *answer,
			const json_t *block, wallet_share *out, char *why, size_t why_len) IOLM_WUR;

/* A work as proved under `at`: its WorkState and the WorkCommit inside it. */
struct Iolm__WorkState;
struct Iolm__WorkCommit;
typedef struct wallet_work {
	wallet_anchor at;
	struct Iolm__WorkState *state;
	struct Iolm__WorkCommit *commit;
} wallet_work;

/* Check a /work/{id} answer and its block: the anchor, the work's record (which must
 * exist) under its state root, the WorkCommit bytes inside it, and the fields the node
 * spelled out (task, miner, status, bond, heights, end step, was_best, the commit's
 * bytes) against them. Attestations and lineage are not checked. Free with
 * wallet_work_free. */
int wallet_verify_work(const wallet_trust *t, const uint8_t work[static 32],
		       const json_t *answer, const json_t *block, wallet_work *out, char *why,
		       size_t why_len) IOLM_WUR;
void wallet_work_free(wallet_work *w);

/* Fetch and verify: GET /account/{addr}, then /block/{height}. */
int wallet_account_proved(wallet_node *n, const wallet_trust *t,
			  const uint8_t id[static IOLM_ADDR_LEN], wallet_account *out, char *why,
			  size_t why_len) IOLM_WUR;

#endif
