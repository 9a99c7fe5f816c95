#include "core/buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void iolm_buf_init(iolm_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->limit = limit;
}

void iolm_buf_release(iolm_buf *b, int wipe)
{
	if (b->data && wipe)
		sodium_memzero(b->data, b->alloc);
	free(b->data);
	iolm_buf_init(b, b->limit);
}

int iolm_buf_reserve(iolm_buf *b, size_t n)
{
	assert(b->len <= b->limit);
	if (n > b->limit - b->len)
		return IOLM_ETOOBIG;
	size_t need = b->len + n;
	if (need <= b->alloc)
		return IOLM_OK;
	size_t want = b->alloc < 64 ? 64 : b->alloc;
	while (want < need)
		want = want > SIZE_MAX / 2 ? need : want * 2;
	if (want > b->limit)
		want = b->limit;
	uint8_t *p = realloc(b->data, want);
	if (!p)
		return IOLM_ENOMEM;
	b->data = p;
	b->alloc = want;
	return IOLM_OK;
}

int iolm_buf_append(iolm_buf *b, const void *data, size_t n)
{
	int err = iolm_buf_reserve(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	return IOLM_OK;
}

int iolm_buf_append_byte(iolm_buf *b, uint8_t c)
{
	return iolm_buf_append(b, &c, 1);
}

int iolm_buf_append_str(iolm_buf *b, const char *s)
{
	return iolm_buf_append(b, s, strlen(s));
}

int iolm_buf_printf(iolm_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return IOLM_EINVAL;
	if ((size_t)n < sizeof small)
		return iolm_buf_append(b, small, (size_t)n);
	if ((size_t)n > b->limit - b->len)
		return IOLM_ETOOBIG;
	char *tmp = malloc((size_t)n + 1);
	if (!tmp)
		return IOLM_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	va_end(ap);
	err = iolm_buf_append(b, tmp, (size_t)n);
	free(tmp);
	return err;
}

void iolm_buf_reset(iolm_buf *b)
{
	b->len = 0;
}

void iolm_buf_consume(iolm_buf *b, size_t n)
{
	assert(n <= b->len);
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

uint8_t *iolm_buf_detach(iolm_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	*len = b->len;
	iolm_buf_init(b, b->limit);
	return p;
}
