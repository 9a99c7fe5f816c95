/* iolm error codes: one enum for the whole project (the list is core/errors.def).
 *
 * 0 is success; every error is negative. Functions that can fail return int: IOLM_OK
 * or one of these codes, with results through out-parameters. iolm_strerror() turns
 * any code into a fixed sentence, iolm_errname() into its stable identifier. */
#ifndef IOLM_CORE_ERR_H
#define IOLM_CORE_ERR_H

#if defined(__GNUC__)
#define IOLM_WUR __attribute__((warn_unused_result))
#else
#define IOLM_WUR
#endif

enum iolm_err {
	IOLM_OK = 0,
#define IOLM_ERR(name, code, text) name = (code),
#include "core/errors.def"
#undef IOLM_ERR
};

/* Text for any iolm error code. Never NULL; the string is static. An unknown code
 * yields "unknown error". */
const char *iolm_strerror(int err);

/* Stable identifier of a code ("IOLM_EBADSIG") for logs and JSON. Static, never NULL;
 * "IOLM_E?" for a code that is not in the list. */
const char *iolm_errname(int err);

#endif
