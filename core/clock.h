/* Clocks. Monotonic time for timeouts and measurement, wall time for block timestamps and
 * logs. Consensus never reads a clock: node/ passes times in as events. */
#ifndef IOLM_CORE_CLOCK_H
#define IOLM_CORE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC: only differences are meaningful. */
uint64_t iolm_clock_mono_ns(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t iolm_clock_wall_ms(void);

/* Sleep at least ms milliseconds, resuming after signals. */
void iolm_sleep_ms(uint64_t ms);

/* Format a wall time in ms as RFC 3339 UTC with milliseconds
 * ("2026-11-24T01:02:03.456Z") into out[25]. */
void iolm_clock_format(char out[static 25], uint64_t wall_ms);

#endif
