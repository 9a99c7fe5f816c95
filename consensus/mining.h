/* The joint-mining rules run at the end of every block (docs/economics.md): work
 * acceptance by attestation quorum, slashing, timeouts, breakthroughs with a decaying
 * margin, breakthrough payouts, profit shares along the best model's lineage, and the
 * distribution of model_pay revenue. Integer-only and deterministic; installed into the
 * ledger as its end-of-block hook (ledger/eob.h). */
#ifndef IOLM_CONSENSUS_MINING_H
#define IOLM_CONSENSUS_MINING_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ledger/eob.h"

/* The hook for ledger_options.rules. */
extern const ledger_rules cons_mining_rules;

/* The end-of-block function itself (ctx unused). */
int cons_mining_end_block(void *ctx, ledger_eob *eob) IOLM_WUR;

/* Breakthrough margin in ppm for a best model `age` blocks old: falls linearly from
 * start_ppm at age 0 to end_ppm at age >= decay_blocks (floor). */
uint32_t cons_mining_margin_ppm(uint32_t start_ppm, uint32_t end_ppm, uint64_t decay_blocks,
				uint64_t age);

/* Whether new_loss beats best_loss by the margin: new < best and
 * new * 10^6 <= best * (10^6 - margin_ppm). A tie never wins. */
int cons_mining_is_breakthrough(uint64_t best_loss, uint64_t new_loss, uint32_t margin_ppm);

/* Split amount pro rata to weights[0..n): out[i] = floor(amount * w[i] / sum(w)); the rest
 * (amount - sum(out)) goes to *remainder. All to the remainder when the weights sum to 0.
 * IOLM_EOVERFLOW when the weights' sum does not fit 64 bits. */
int cons_mining_split(uint64_t amount, const uint64_t *weights, size_t n, uint64_t *out,
		      uint64_t *remainder) IOLM_WUR;

#endif
