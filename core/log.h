/* Logging: one line per event, as text or JSON, with a UTC timestamp.
 *
 * Text:  2026-11-24T01:02:03.456Z INFO  [ledger] applied block 12 (3 txs)
 * JSON:  {"ts":"2026-11-24T01:02:03.456Z","level":"info","module":"ledger","msg":"..."}
 *
 * Each line reaches the output in a single write(2), so lines from several threads never
 * interleave. Messages are capped at IOLM_LOG_MAX bytes (longer ones are cut and end in
 * "..."). Configuration is process-wide; set it once at start-up before threads exist. */
#ifndef IOLM_CORE_LOG_H
#define IOLM_CORE_LOG_H

#include <stdarg.h>

#include "core/err.h"

#define IOLM_LOG_MAX 2048

enum iolm_log_level {
	IOLM_LOG_ERROR = 0,
	IOLM_LOG_WARN,
	IOLM_LOG_INFO,
	IOLM_LOG_DEBUG,
	IOLM_LOG_TRACE,
};

enum iolm_log_format {
	IOLM_LOG_TEXT = 0,
	IOLM_LOG_JSON,
};

/* Lines at or below level go to fd in format. Defaults: INFO, TEXT, stderr. */
void iolm_log_configure(enum iolm_log_level level, enum iolm_log_format format, int fd);

/* Parse "error", "warn", "info", "debug", "trace" (case-insensitive). IOLM_EINVAL else. */
int iolm_log_level_parse(enum iolm_log_level *out, const char *s) IOLM_WUR;
/* Parse "text" or "json". IOLM_EINVAL else. */
int iolm_log_format_parse(enum iolm_log_format *out, const char *s) IOLM_WUR;

/* Whether a line at level would be written: guard costly argument preparation. */
int iolm_log_enabled(enum iolm_log_level level);

void iolm_log(enum iolm_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void iolm_vlog(enum iolm_log_level level, const char *module, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define IOLM_ERROR(mod, ...) iolm_log(IOLM_LOG_ERROR, (mod), __VA_ARGS__)
#define IOLM_WARN(mod, ...) iolm_log(IOLM_LOG_WARN, (mod), __VA_ARGS__)
#define IOLM_INFO(mod, ...) iolm_log(IOLM_LOG_INFO, (mod), __VA_ARGS__)
#define IOLM_DEBUG(mod, ...)                                              \
	do {                                                              \
		if (iolm_log_enabled(IOLM_LOG_DEBUG))                     \
			iolm_log(IOLM_LOG_DEBUG, (mod), __VA_ARGS__);     \
	} while (0)

#endif
