/* Helpers shared by the benchmarks: timing, and the one JSON line per figure that every
 * benchmark prints:
 *   {"figure": NAME, "value": V, "unit": U, "limit": LIMIT, "limit_value": L, "ratio": V/L}
 * with the limit fields null where no limit applies. A limit is always measured in the
 * same run, on the same machine, so the ratio survives noisy shared hardware. */
#ifndef IOLM_BENCH_UTIL_H
#define IOLM_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>

#include "core/clock.h"

static inline double bench_now(void)
{
	return (double)iolm_clock_mono_ns() / 1e9;
}

static inline void bench_figure(const char *figure, double value, const char *unit,
				const char *limit, double limit_value)
{
	if (limit && limit_value > 0)
		printf("{\"figure\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"limit\": \"%s\", "
		       "\"limit_value\": %.6g, \"ratio\": %.6g}\n",
		       figure, value, unit, limit, limit_value, value / limit_value);
	else
		printf("{\"figure\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"limit\": null, "
		       "\"limit_value\": null, \"ratio\": null}\n",
		       figure, value, unit);
	fflush(stdout);
}

/* --quick (for the smoke test under ctest) shortens every measurement. */
static inline int bench_quick(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			return 1;
	return 0;
}

#endif
