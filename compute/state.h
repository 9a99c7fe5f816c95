/* State hash and checkpoint layout shared by eval.c and ckpt.c. */
#ifndef IOLM_COMPUTE_STATE_H
#define IOLM_COMPUTE_STATE_H

#include "compute/compute.h"
#include "core/hash.h"

#define COMPUTE_STATE_VERSION 1u

/* Start H_model over the state header: u32 version, L, C, NH, T, V, u64 step,
 * u64 nparams (little-endian); the caller then hashes params, m, v as float32 LE. */
void state_hash_begin(iolm_hash_ctx *h, const compute_config *c, uint64_t step,
		      uint64_t nparams);

#endif
