/* Bounded byte buffers.
 *
 * Every buffer filled from the network, a file or RPC is an iolm_buf with a hard limit
 * set at init: an append that would take it past the limit fails with IOLM_ETOOBIG and
 * leaves the buffer as it was. The buffer grows geometrically up to the limit.
 * Lifecycle: iolm_buf_init() on an embedded struct, iolm_buf_release() to free. */
#ifndef IOLM_CORE_BUF_H
#define IOLM_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct iolm_buf {
	uint8_t *data; /* NULL until the first byte is appended */
	size_t len;    /* bytes in use */
	size_t alloc;  /* bytes allocated */
	size_t limit;  /* hard cap on len */
} iolm_buf;

/* An empty buffer that will never hold more than limit bytes. Allocates nothing. */
void iolm_buf_init(iolm_buf *b, size_t limit);

/* Free the storage; the buffer is empty afterwards and may be reused with the same limit.
 * With wipe != 0 the bytes are zeroed first (for secrets). */
void iolm_buf_release(iolm_buf *b, int wipe);

/* Make room for n more bytes without changing len. IOLM_ETOOBIG past the limit,
 * IOLM_ENOMEM when allocation fails; the contents are unchanged on failure. */
int iolm_buf_reserve(iolm_buf *b, size_t n) IOLM_WUR;

int iolm_buf_append(iolm_buf *b, const void *data, size_t n) IOLM_WUR;
int iolm_buf_append_byte(iolm_buf *b, uint8_t c) IOLM_WUR;
/* Append a string without its NUL. */
int iolm_buf_append_str(iolm_buf *b, const char *s) IOLM_WUR;
/* printf-style append; IOLM_ETOOBIG when the text would pass the limit. */
int iolm_buf_printf(iolm_buf *b, const char *fmt, ...) IOLM_WUR
	__attribute__((format(printf, 2, 3)));

/* Keep the storage, drop the contents. */
void iolm_buf_reset(iolm_buf *b);

/* Remove the first n bytes (n <= len). */
void iolm_buf_consume(iolm_buf *b, size_t n);

/* Hand the storage to the caller, who now owns it and frees it with free(); the buffer
 * is left empty. *len receives the length. NULL when nothing was ever appended. */
uint8_t *iolm_buf_detach(iolm_buf *b, size_t *len);

#endif
