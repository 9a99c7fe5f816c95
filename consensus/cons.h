/* consensus: a Tendermint-style BFT engine as a pure state machine.
 *
 * The engine follows Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT
 * consensus" (2018): propose / prevote / precommit, locking and proof-of-lock (POL),
 * rounds with growing timeouts, +2/3 voting-power quorums. docs/consensus.md maps every
 * rule of the paper to the code.
 *
 * It does no I/O, reads no clock and starts no thread. The host feeds it events
 * (cons_engine_on_*), then drains the actions they produced with cons_engine_poll():
 * send a message, persist-then-send a freshly signed message, schedule a timeout, build
 * a block, validate a block, commit a block with its certificate, gossip evidence.
 *
 * Blocks are opaque byte strings. Their 32-byte id is computed by the host's id function
 * (cons_config.block_id; the ledger uses H_block(header)), so the engine can check that a
 * proposal's block matches the id it was signed for. Validity is the host's question:
 * the engine asks with CONS_ACT_VALIDATE and the host answers, possibly later, with
 * cons_engine_on_validated(). When it is this node's turn to propose and it has no
 * valid value from an earlier round, the engine asks for a block with
 * CONS_ACT_GET_BLOCK and the host answers with cons_engine_propose().
 *
 * Signing: the engine holds the validator key and signs in memory, but a signature must
 * not leave the host before the signing WAL (consensus/wal.h) has it on disk. So every
 * freshly signed message comes out as CONS_ACT_SIGN: the host calls cons_wal_record()
 * and sends the bytes that function returns, or nothing if it refuses.
 *
 * Not thread-safe: one engine, one thread at a time. */
#ifndef IOLM_CONSENSUS_CONS_H
#define IOLM_CONSENSUS_CONS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/key.h"

#define CONS_ID_LEN IOLM_HASH_LEN
#define CONS_MAX_VALIDATORS 1024u
/* Votes and proposals for rounds further ahead than this are refused, so a Byzantine
 * peer cannot make the engine allocate state for arbitrary rounds. */
#define CONS_ROUND_WINDOW 64u
/* Encoded commit certificates are capped at this many bytes per validator plus 64. */
#define CONS_CERT_BYTES_PER_SIG 80u

/* ---------------------------------------------------------------- validator set */

typedef struct cons_valset cons_valset;

/* A validator set of n validators: pubkeys is n * 32 bytes of x-only keys, powers n
 * voting powers (each > 0, total below 2^62). Indices in votes are positions here.
 * IOLM_EINVAL for n == 0 or n > CONS_MAX_VALIDATORS, a zero power or a total too large;
 * IOLM_EBADKEY for a key that is not on the curve; IOLM_EEXIST for a repeated key.
 * On success the caller owns *out and frees it with cons_valset_destroy(). */
int cons_valset_create(cons_valset **out, const uint8_t *pubkeys, const uint64_t *powers,
		       size_t n) IOLM_WUR;
void cons_valset_destroy(cons_valset *vs);

/* The validator set of a genesis file, in its order (errors as cons_valset_create). */
struct ledger_genesis;
int cons_valset_from_genesis(cons_valset **out, const struct ledger_genesis *g) IOLM_WUR;

size_t cons_valset_size(const cons_valset *vs);
uint64_t cons_valset_total_power(const cons_valset *vs);
/* Key of validator i (i < size): a pointer into vs, valid while vs is. */
const uint8_t *cons_valset_pubkey(const cons_valset *vs, uint32_t i);
/* Index of pub in the set, or -1. */
int cons_valset_find(const cons_valset *vs, const uint8_t pub[static IOLM_PUBKEY_LEN]);

/* The proposer of (height, round): weighted round-robin by proposer priority (the
 * CometBFT rule without rescaling, i.e. smooth weighted round-robin). Position
 * k = height - 1 + round of the sequence; every window of total_power positions names
 * each validator exactly power times. Cost O(n * (k mod total_power)). IOLM_EINVAL for
 * height 0, IOLM_ENOMEM. */
int cons_valset_proposer(const cons_valset *vs, uint64_t height, uint32_t round,
			 uint32_t *proposer) IOLM_WUR;

/* ---------------------------------------------------------------- certificates */

typedef struct cons_cert_info {
	uint64_t height;
	uint32_t round;
	uint8_t block_id[CONS_ID_LEN];
	uint64_t power; /* voting power of the valid signatures */
} cons_cert_info;

/* Verify an encoded CommitCert against the validator set alone: canonical encoding
 * (cap: 64 + CONS_CERT_BYTES_PER_SIG * n bytes), a 32-byte block id, signatures in
 * ascending validator order without repeats, each a valid BIP340 signature over
 * H_vote(VoteBody{chain_id, PRECOMMIT, height, round, block_id, validator}), and more
 * than 2/3 of the total power. Errors: IOLM_ETOOBIG/IOLM_EDECODE/IOLM_EUNKNOWN/
 * IOLM_ENONCANON from decoding, IOLM_ECONS_CERT (shape), IOLM_ECONS_VALIDATOR,
 * IOLM_EBADSIG, IOLM_ECONS_QUORUM. info may be NULL; it is zeroed on failure. */
int cons_cert_verify(const cons_valset *vs, const char *chain_id, const uint8_t *cert,
		     size_t len, cons_cert_info *info) IOLM_WUR;

/* ---------------------------------------------------------------- engine */

typedef struct cons_engine cons_engine;

/* Block id function: writes the id of the block bytes. Must be deterministic. */
typedef void (*cons_block_id_fn)(void *ctx, uint8_t id[static CONS_ID_LEN],
				 const uint8_t *block, size_t len);
/* Signature check; NULL means iolm_verify(). A host may plug in a cache. */
typedef int (*cons_verify_fn)(void *ctx, const uint8_t sig[static IOLM_SIG_LEN],
			      const uint8_t digest[static 32],
			      const uint8_t pub[static IOLM_PUBKEY_LEN]);

typedef struct cons_config {
	const char *chain_id;         /* copied */
	cons_block_id_fn block_id;    /* required */
	cons_verify_fn verify;        /* optional */
	void *ctx;                    /* passed to block_id and verify */
	/* Timeouts in ms: base + round * delta for each step (the paper's timeoutX(r)). */
	uint32_t propose_ms, propose_delta_ms;
	uint32_t prevote_ms, prevote_delta_ms;
	uint32_t precommit_ms, precommit_delta_ms;
} cons_config;

/* Fill cfg with the defaults for a local network (docs/consensus.md): propose 300 +
 * 100 r ms, prevote and precommit 200 + 100 r ms. chain_id and block_id stay NULL. */
void cons_config_default(cons_config *cfg);

enum cons_step { CONS_STEP_PROPOSE = 1, CONS_STEP_PREVOTE = 2, CONS_STEP_PRECOMMIT = 3 };
enum cons_msg_kind { CONS_MSG_PROPOSAL = 1, CONS_MSG_VOTE = 2, CONS_MSG_EVIDENCE = 3 };

enum cons_action_kind {
	CONS_ACT_SIGN = 1,   /* persist (cons_wal_record) then broadcast msg */
	CONS_ACT_SEND,       /* broadcast msg: already persisted (a re-send) */
	CONS_ACT_TIMEOUT,    /* call cons_engine_on_timeout(h, r, step) after delay_ms */
	CONS_ACT_GET_BLOCK,  /* call cons_engine_propose(h, r, block) */
	CONS_ACT_VALIDATE,   /* call cons_engine_on_validated(h, block_id, valid) */
	CONS_ACT_COMMIT,     /* block decided at height with its certificate */
	CONS_ACT_EVIDENCE,   /* msg is an encoded Evidence: store and gossip it */
};

/* One action. Every pointer in it points into the engine and stays valid until the next
 * cons_engine_poll() or cons_engine_destroy() on the same engine. */
typedef struct cons_action {
	enum cons_action_kind kind;
	enum cons_msg_kind msg_kind;  /* SIGN, SEND, EVIDENCE */
	uint64_t height;
	uint32_t round;
	enum cons_step step;          /* SIGN, TIMEOUT */
	int nil;                      /* SIGN: a nil vote */
	uint8_t block_id[CONS_ID_LEN]; /* SIGN (non-nil), VALIDATE, COMMIT */
	uint32_t delay_ms;            /* TIMEOUT */
	const uint8_t *msg;           /* SIGN, SEND, EVIDENCE: encoded Proposal/Vote/Evidence */
	size_t msg_len;
	const uint8_t *block;         /* VALIDATE, COMMIT */
	size_t block_len;
	const uint8_t *cert;          /* COMMIT: encoded CommitCert */
	size_t cert_len;
} cons_action;

/* An engine for validator set vs (copied), at height `height` (the first height not yet
 * committed, >= 1), round 0. key may be NULL for a non-validating observer; otherwise it
 * is copied and must be in vs. Nothing happens until cons_engine_start(). The caller owns
 * *out and frees it with cons_engine_destroy(), which wipes the key copy. */
int cons_engine_create(cons_engine **out, const cons_config *cfg, const cons_valset *vs,
		       const iolm_key *key, uint64_t height) IOLM_WUR;
void cons_engine_destroy(cons_engine *e);

/* Before start, after a restart: feed back one signed message of kind CONS_MSG_VOTE or
 * CONS_MSG_PROPOSAL that this node persisted in its WAL (cons_wal_entry). The engine
 * takes it as its own, and at start restores its lock from its precommits and resumes
 * at the highest round it signed in, so it signs nothing that conflicts and re-sends
 * what it signed. Records for other heights are ignored. IOLM_ESTATE after start or
 * for an observer; IOLM_EINVAL for a message signed by another validator. */
int cons_engine_restore(cons_engine *e, enum cons_msg_kind kind, const uint8_t *msg,
			size_t len) IOLM_WUR;

/* Enter the current round (the paper's StartRound). */
int cons_engine_start(cons_engine *e) IOLM_WUR;

/* Events. Each returns IOLM_OK when the input was taken (duplicates included) or an
 * error naming why it was refused: decoding errors, IOLM_ECONS_CHAIN, IOLM_ECONS_OLD,
 * IOLM_ECONS_FUTURE (verified, for a later height: the host should sync),
 * IOLM_ECONS_ROUND, IOLM_ECONS_VALIDATOR, IOLM_ECONS_PROPOSER, IOLM_ECONS_BLOCKID,
 * IOLM_ECONS_VOTE, IOLM_ECONS_PROPOSAL, IOLM_EBADSIG. Refused inputs change nothing. */
int cons_engine_on_proposal(cons_engine *e, const uint8_t *msg, size_t len) IOLM_WUR;
int cons_engine_on_vote(cons_engine *e, const uint8_t *msg, size_t len) IOLM_WUR;
/* A block for the current height with its certificate (block sync). IOLM_ECONS_BLOCKID
 * when the block's id is not the certificate's. */
int cons_engine_on_commit(cons_engine *e, const uint8_t *block, size_t block_len,
			  const uint8_t *cert, size_t cert_len) IOLM_WUR;
/* A timeout scheduled by CONS_ACT_TIMEOUT fired. Stale timeouts are ignored. */
int cons_engine_on_timeout(cons_engine *e, uint64_t height, uint32_t round,
			   enum cons_step step) IOLM_WUR;
/* The host's verdict on a block the engine asked about. Unknown blocks are ignored. */
int cons_engine_on_validated(cons_engine *e, uint64_t height,
			     const uint8_t block_id[static CONS_ID_LEN], int valid) IOLM_WUR;
/* The block to propose at (height, round), after CONS_ACT_GET_BLOCK; the host vouches
 * that it is valid. Ignored when the engine has moved on. */
int cons_engine_propose(cons_engine *e, uint64_t height, uint32_t round,
			const uint8_t *block, size_t len) IOLM_WUR;
/* Queue CONS_ACT_SEND for every message this node signed at the current height, for
 * hosts whose transport may lose messages (gossip). */
int cons_engine_rebroadcast(cons_engine *e) IOLM_WUR;

/* Pop the next action into *act: 1 when one was popped, 0 when none is left. */
int cons_engine_poll(cons_engine *e, cons_action *act);

uint64_t cons_engine_height(const cons_engine *e);
uint32_t cons_engine_round(const cons_engine *e);
enum cons_step cons_engine_step(const cons_engine *e);
/* Locked round of the current height, -1 when not locked. */
int32_t cons_engine_locked_round(const cons_engine *e);

/* Equivocation evidence recorded so far (all heights), oldest first: an encoded
 * Evidence{a, b}. The pointer stays valid until cons_engine_destroy(). */
size_t cons_engine_evidence_count(const cons_engine *e);
int cons_engine_evidence_get(const cons_engine *e, size_t i, const uint8_t **ev,
			     size_t *len) IOLM_WUR;

#endif
