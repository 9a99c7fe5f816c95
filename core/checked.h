/* Checked integer arithmetic for everything economic.
 *
 * Each function stores the result in *out and returns IOLM_OK, or leaves *out unchanged
 * and returns IOLM_EOVERFLOW. Amounts are uint64 base units; nothing in consensus state
 * ever wraps silently. */
#ifndef IOLM_CORE_CHECKED_H
#define IOLM_CORE_CHECKED_H

#include <stdint.h>

#include "core/err.h"

static inline IOLM_WUR int iolm_add_u64(uint64_t *out, uint64_t a, uint64_t b)
{
	uint64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

static inline IOLM_WUR int iolm_sub_u64(uint64_t *out, uint64_t a, uint64_t b)
{
	uint64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

static inline IOLM_WUR int iolm_mul_u64(uint64_t *out, uint64_t a, uint64_t b)
{
	uint64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

static inline IOLM_WUR int iolm_add_i64(int64_t *out, int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

static inline IOLM_WUR int iolm_sub_i64(int64_t *out, int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

static inline IOLM_WUR int iolm_mul_i64(int64_t *out, int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return IOLM_EOVERFLOW;
	*out = r;
	return IOLM_OK;
}

/* floor(a * b / d) computed exactly in 128 bits: pro-rata splits (amount * share / total)
 * that would overflow 64 bits in the product. IOLM_EINVAL when d is 0, IOLM_EOVERFLOW
 * when the quotient does not fit 64 bits. */
static inline IOLM_WUR int iolm_muldiv_u64(uint64_t *out, uint64_t a, uint64_t b,
					   uint64_t d)
{
	if (d == 0)
		return IOLM_EINVAL;
	unsigned __int128 q = (unsigned __int128)a * b / d;
	if (q > UINT64_MAX)
		return IOLM_EOVERFLOW;
	*out = (uint64_t)q;
	return IOLM_OK;
}

#endif
