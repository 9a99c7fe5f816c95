/* The consensus simulation (sim.c) as a function, driven by main.c. */
#ifndef IOLM_SIM_H
#define IOLM_SIM_H

#include <stdint.h>

struct sim_opts {
	int validators;   /* 4..16 */
	uint64_t seed;
	uint64_t heights; /* every honest node must commit this many */
};

struct sim_result {
	const char *fail;    /* NULL when every invariant held; static text otherwise */
	uint64_t virtual_ms; /* virtual time at the end */
	uint64_t min_height; /* lowest chain height of an honest node */
	uint64_t evidence;   /* equivocation evidence recorded by all nodes */
};

/* Run one seed. 0 when every invariant held, 1 when one broke (res->fail says which),
 * -1 when out of memory. */
int sim_run(const struct sim_opts *o, struct sim_result *res);

#endif
