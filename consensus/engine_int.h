/* The engine's state, shared by consensus/engine.c (the rules of the paper) and
 * consensus/msgs.c (decoding, checking, storing and signing messages). Internal. */
#ifndef IOLM_CONSENSUS_ENGINE_INT_H
#define IOLM_CONSENSUS_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/internal.h"

enum { BLK_INVALID = -1, BLK_PENDING = 0, BLK_VALID = 1 };
enum { VT_PREVOTE = 0, VT_PRECOMMIT = 1 }; /* index into cons_round.votes */

/* Conflicting votes kept per validator and step beside the first one. */
#define CONS_MAX_EXTRA_VOTES 3

struct vote_one {
	uint8_t nil;
	uint8_t id[CONS_ID_LEN];
	uint8_t sig[IOLM_SIG_LEN];
};

/* The votes of one validator for one (round, type). The first is inline; a different
 * one makes evidence and is kept too (up to CONS_MAX_EXTRA_VOTES), because the paper
 * counts every signed message: an equivocator counts towards each value it voted for,
 * as it may in the quorum-intersection argument. Dropping its second vote would let it
 * split correct nodes' views of a proof of lock and stall them forever. */
struct vote_slot {
	uint8_t present, evidenced, nextra;
	struct vote_one v;
	struct vote_one *extra; /* lazily allocated, CONS_MAX_EXTRA_VOTES entries */
};

struct cons_round {
	struct vote_slot *votes[2]; /* n slots each */
	int has_proposal;           /* the first valid proposal from proposer(h, r) */
	int32_t pol_round;
	uint8_t prop_id[CONS_ID_LEN];
	/* "for the first time" guards of the paper's upon-rules */
	uint8_t prevote_timer, precommit_timer, line36_done;
};

struct cons_block {
	uint8_t id[CONS_ID_LEN];
	uint8_t *data;
	size_t len;
	int state; /* BLK_* */
};

struct cons_owned {
	enum cons_msg_kind kind;
	uint8_t *msg;
	size_t len;
};

struct queued_action {
	cons_action a;
	uint8_t *mem[3]; /* owned copies behind a.msg, a.block, a.cert */
};

struct cons_engine {
	char *chain_id;
	cons_config cfg;
	cons_valset *vs;
	cons_rr rr;
	iolm_key key;
	int self; /* our validator index, -1 for an observer */

	uint64_t height;
	uint32_t round;
	enum cons_step step;
	int32_t locked_round, valid_round;
	uint8_t locked_id[CONS_ID_LEN], valid_id[CONS_ID_LEN];
	int started;
	enum cons_step restored_step; /* step reached in `round` before a restart, or 0 */
	int block_requested;          /* GET_BLOCK issued for `round` */

	struct cons_round **rounds; /* index = round, lazily allocated */
	uint32_t nrounds;
	struct cons_block *blocks;
	size_t nblocks, cap_blocks;
	struct cons_owned *own; /* messages we signed at this height */
	size_t nown, cap_own;

	struct queued_action *q;
	size_t qhead, qlen, qcap;
	struct queued_action cur; /* last popped; owns its memory until the next poll */

	uint8_t **ev;
	size_t *ev_len;
	size_t nev, cap_ev;
};

/* msgs.c */
struct cons_round *eng_round(cons_engine *e, uint32_t r, int create);
struct cons_block *eng_block_find(cons_engine *e, const uint8_t id[static CONS_ID_LEN]);
int eng_block_add(cons_engine *e, struct cons_block **out,
		  const uint8_t id[static CONS_ID_LEN], const uint8_t *data, size_t len,
		  int state) IOLM_WUR;
uint32_t eng_proposer(cons_engine *e, uint32_t round);
/* Voting power in round rs for votes of type vt: for id (id != NULL), for nil
 * (id == NULL, any == 0), or for anything (any != 0). */
uint64_t eng_tally(const cons_engine *e, const struct cons_round *rs, int vt,
		   const uint8_t *id, int any);
int eng_queue(cons_engine *e, const cons_action *a, const uint8_t *msg, size_t msg_len,
	      const uint8_t *block, size_t block_len, const uint8_t *cert,
	      size_t cert_len) IOLM_WUR;
/* The vote of s for id (NULL: nil), or NULL when s has none. */
const struct vote_one *eng_slot_match(const struct vote_slot *s, const uint8_t *id);
int eng_take_vote(cons_engine *e, const uint8_t *msg, size_t len, int own) IOLM_WUR;
int eng_take_proposal(cons_engine *e, const uint8_t *msg, size_t len, int own) IOLM_WUR;
/* Sign and emit our vote of type vt (id NULL: nil) for the current round. */
int eng_sign_vote(cons_engine *e, int vt, const uint8_t *id) IOLM_WUR;
/* Sign and emit our proposal of block (already in the block table) for the round. */
int eng_sign_proposal(cons_engine *e, const struct cons_block *b, int32_t pol_round) IOLM_WUR;
int eng_build_cert(cons_engine *e, iolm_buf *out, uint32_t round,
		   const uint8_t id[static CONS_ID_LEN]) IOLM_WUR;
void eng_height_reset(cons_engine *e);

#endif
