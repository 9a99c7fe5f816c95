/* cons_sim: run the consensus simulation for a range of seeds, or for every line of a
 * regression list. A failing seed prints the one command that replays it.
 *
 *   cons_sim --validators 4 --seed 1234 --heights 50 [--seeds 25]
 *   cons_sim --regressions tests/sim/regressions.txt
 *
 * A regression list has one "validators seed heights" line per seed that failed once;
 * '#' starts a comment. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *prog;

static int run_one(int validators, uint64_t seed, uint64_t heights, int verbose)
{
	struct sim_opts o = { .validators = validators, .seed = seed, .heights = heights };
	struct sim_result r;
	int rc = sim_run(&o, &r);
	if (rc != 0) {
		printf("FAIL validators=%d seed=%" PRIu64 " heights=%" PRIu64 ": %s "
		       "(virtual time %" PRIu64 " ms, lowest honest height %" PRIu64 ")\n",
		       validators, seed, heights, r.fail ? r.fail : "out of memory", r.virtual_ms,
		       r.min_height);
		printf("replay: %s --validators %d --seed %" PRIu64 " --heights %" PRIu64 "\n",
		       prog, validators, seed, heights);
		return 1;
	}
	if (verbose)
		printf("ok validators=%d seed=%" PRIu64 " heights=%" PRIu64 " virtual=%" PRIu64
		       " ms evidence=%" PRIu64 "\n",
		       validators, seed, heights, r.virtual_ms, r.evidence);
	return 0;
}

static int run_list(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int failed = 0, n = 0;
	if (!f) {
		fprintf(stderr, "%s: cannot open %s\n", prog, path);
		return 2;
	}
	while (fgets(line, sizeof line, f)) {
		int v;
		uint64_t seed, h;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		if (sscanf(line, "%d %" SCNu64 " %" SCNu64, &v, &seed, &h) != 3)
			continue;
		failed |= run_one(v, seed, h, 1);
		n++;
	}
	fclose(f);
	printf("%d regression seeds, %s\n", n, failed ? "FAILED" : "all passed");
	return failed;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "validators", required_argument, NULL, 'v' },
		{ "seed", required_argument, NULL, 's' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "heights", required_argument, NULL, 'h' },
		{ "regressions", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int validators = 4, verbose = 0, c;
	uint64_t seed = 1, seeds = 1, heights = 50;
	const char *list = NULL;
	prog = argv[0];
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v': validators = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'n': seeds = strtoull(optarg, NULL, 10); break;
		case 'h': heights = strtoull(optarg, NULL, 10); break;
		case 'r': list = optarg; break;
		case 'V': verbose = 1; break;
		default:
			fprintf(stderr, "usage: %s --validators N --seed S [--seeds K] "
					"[--heights H] | --regressions FILE\n", prog);
			return 2;
		}
	}
	if (list)
		return run_list(list);
	if (validators < 4 || validators > 16 || heights == 0) {
		fprintf(stderr, "%s: --validators must be 4..16 and --heights > 0\n", prog);
		return 2;
	}
	int failed = 0;
	for (uint64_t i = 0; i < seeds; i++)
		failed |= run_one(validators, seed + i, heights, verbose);
	printf("%" PRIu64 " seeds of %d validators x %" PRIu64 " heights: %s\n", seeds,
	       validators, heights, failed ? "FAILED" : "all passed");
	return failed;
}
