/* Declarations shared by the files of consensus/; not part of the public API. */
#ifndef IOLM_CONSENSUS_INTERNAL_H
#define IOLM_CONSENSUS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/cons.h"
#include "core/buf.h"
#include "core/codec.h"

struct cons_valset {
	size_t n;
	uint64_t total;
	uint8_t (*pub)[IOLM_PUBKEY_LEN];
	uint64_t *power;
};

/* A cursor over the proposer sequence, so the engine walks it forward in O(n) per
 * position instead of restarting from 0 for every (height, round). */
typedef struct cons_rr {
	uint64_t pos;     /* positions consumed; the last pick is at pos - 1 */
	uint32_t last;    /* validator picked at pos - 1 */
	int64_t *prio;    /* n priorities */
} cons_rr;

int cons_rr_init(cons_rr *rr, const cons_valset *vs) IOLM_WUR;
void cons_rr_release(cons_rr *rr);
/* Proposer at (height, round) using and advancing the cursor. */
uint32_t cons_rr_proposer(cons_rr *rr, const cons_valset *vs, uint64_t height,
			  uint32_t round);

/* Deep copy of a validator set; the caller destroys it. */
int cons_valset_copy(cons_valset **out, const cons_valset *vs) IOLM_WUR;

/* True when power is more than 2/3 (2f+1) or more than 1/3 (f+1) of total. */
int cons_power_quorum(uint64_t power, uint64_t total);
int cons_power_third(uint64_t power, uint64_t total);

/* Append the canonical VoteBody encoding to out and write its signed digest
 * H_vote(body). id NULL is a nil vote. */
int cons_vote_body_encode(iolm_buf *out, uint8_t digest[static 32], const char *chain_id,
			  int type, uint64_t height, uint32_t round, const uint8_t *id,
			  uint32_t validator) IOLM_WUR;

/* cons_cert_verify with a pluggable signature check (NULL: iolm_verify). */
int cons_cert_verify_with(const cons_valset *vs, const char *chain_id,
			  const uint8_t *cert, size_t len, cons_cert_info *info,
			  cons_verify_fn verify, void *ctx) IOLM_WUR;

#endif
