#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"

static _Atomic int log_level = IOLM_LOG_INFO;
static _Atomic int log_format = IOLM_LOG_TEXT;
static _Atomic int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
static const char *const level_text[] = { "ERROR", "WARN ", "INFO ", "DEBUG", "TRACE" };

void iolm_log_configure(enum iolm_log_level level, enum iolm_log_format format, int fd)
{
	atomic_store(&log_level, (int)level);
	atomic_store(&log_format, (int)format);
	atomic_store(&log_fd, fd);
}

int iolm_log_level_parse(enum iolm_log_level *out, const char *s)
{
	for (int i = 0; i <= IOLM_LOG_TRACE; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum iolm_log_level)i;
			return IOLM_OK;
		}
	}
	return IOLM_EINVAL;
}

int iolm_log_format_parse(enum iolm_log_format *out, const char *s)
{
	if (strcasecmp(s, "text") == 0)
		*out = IOLM_LOG_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = IOLM_LOG_JSON;
	else
		return IOLM_EINVAL;
	return IOLM_OK;
}

int iolm_log_enabled(enum iolm_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* Append s to line[*n..cap) as the inside of a JSON string. Stops (without splitting an
 * escape) when full. */
static void json_escape(char *line, size_t *n, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t k;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			k = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			k = 2;
		} else if (c == '\t') {
			memcpy(esc, "\\t", 2);
			k = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		} else {
			esc[0] = (char)c;
			k = 1;
		}
		if (*n + k >= cap)
			return;
		memcpy(line + *n, esc, k);
		*n += k;
	}
}

static void put(char *line, size_t *n, size_t cap, const char *s)
{
	size_t k = strlen(s);
	if (k > cap - 1 - *n)
		k = cap - 1 - *n;
	memcpy(line + *n, s, k);
	*n += k;
}

void iolm_vlog(enum iolm_log_level level, const char *module, const char *fmt, va_list ap)
{
	char msg[IOLM_LOG_MAX];
	char line[2 * IOLM_LOG_MAX + 128];
	char ts[25];
	size_t n = 0;
	int fmtn;

	if (!iolm_log_enabled(level))
		return;
	if ((unsigned)level > IOLM_LOG_TRACE)
		level = IOLM_LOG_TRACE;
	fmtn = vsnprintf(msg, sizeof msg, fmt, ap);
	if (fmtn < 0)
		snprintf(msg, sizeof msg, "(bad log format)");
	else if ((size_t)fmtn >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	iolm_clock_format(ts, iolm_clock_wall_ms());

	/* Reserve 2 bytes for the closing "}\n" or "\n". */
	size_t cap = sizeof line - 2;
	if (atomic_load(&log_format) == IOLM_LOG_JSON) {
		put(line, &n, cap, "{\"ts\":\"");
		put(line, &n, cap, ts);
		put(line, &n, cap, "\",\"level\":\"");
		put(line, &n, cap, level_names[level]);
		put(line, &n, cap, "\",\"module\":\"");
		json_escape(line, &n, cap - 2, module ? module : "");
		put(line, &n, cap, "\",\"msg\":\"");
		json_escape(line, &n, cap - 2, msg);
		put(line, &n, cap + 1, "\"}");
	} else {
		put(line, &n, cap, ts);
		put(line, &n, cap, " ");
		put(line, &n, cap, level_text[level]);
		put(line, &n, cap, " [");
		put(line, &n, cap, module ? module : "");
		put(line, &n, cap, "] ");
		put(line, &n, cap, msg);
	}
	line[n++] = '\n';

	int fd = atomic_load(&log_fd);
	const char *p = line;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			break; /* nowhere to report a failed log write */
		p += w;
		n -= (size_t)w;
	}
}

void iolm_log(enum iolm_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	iolm_vlog(level, module, fmt, ap);
	va_end(ap);
}
