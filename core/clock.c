#define _POSIX_C_SOURCE 200809L
#include "core/clock.h"

#include <errno.h>
#include <time.h>

uint64_t iolm_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t iolm_clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void iolm_sleep_ms(uint64_t ms)
{
	struct timespec req = { .tv_sec = (time_t)(ms / 1000),
				.tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&req, &req) != 0 && errno == EINTR)
		;
}

/* Write v as exactly width decimal digits (v < 10^width). */
static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void iolm_clock_format(char out[static 25], uint64_t wall_ms)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	char *p = out;
	gmtime_r(&secs, &tm);
	p = put_digits(p, (unsigned)(tm.tm_year + 1900) % 10000, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(wall_ms % 1000), 3);
	*p++ = 'Z';
	*p = '\0';
}
