/* Safety and liveness properties of the consensus simulation, as functions the
 * simulation calls after every event. Each returns NULL when the property holds, or a
 * static sentence saying what broke. */
#ifndef IOLM_SIM_INVARIANTS_H
#define IOLM_SIM_INVARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/cons.h"

/* The first block id decided at each height by any correct node. */
typedef struct inv_decided {
	uint8_t (*id)[CONS_ID_LEN];
	uint8_t *set;
	uint64_t cap;
} inv_decided;

void inv_decided_init(inv_decided *d);
void inv_decided_release(inv_decided *d);

const char *inv_agreement(inv_decided *d, uint64_t height,
			  const uint8_t id[static CONS_ID_LEN]);
const char *inv_integrity(uint64_t prev_height, uint64_t height);
const char *inv_cert_valid(const cons_valset *vs, const char *chain_id, uint64_t height,
			   const uint8_t id[static CONS_ID_LEN], const uint8_t *cert,
			   size_t cert_len);

/* One signed step of one correct validator: (height, round, step) -> id or nil. */
typedef struct inv_signed {
	struct inv_sig_rec *recs;
	size_t n, cap;
} inv_signed;

void inv_signed_init(inv_signed *s);
void inv_signed_release(inv_signed *s);
const char *inv_no_equivocation(inv_signed *s, int node, uint64_t height, uint32_t round,
				int step, int nil, const uint8_t id[static CONS_ID_LEN]);

const char *inv_progress(uint64_t now_ms, uint64_t healed_at_ms, uint64_t last_commit_ms,
			 uint64_t bound_ms);

#endif
