/* devnet_util: a 4-validator devnet of real iolmd processes on loopback, for the
 * benchmarks that measure a whole network from outside (bench_net, bench_mining).
 *
 * devnet_create() writes the devnet into a fresh folder under a base folder
 * (PROG-XXXXXX): node0..node3, each with a new validator key, a node.conf on free loopback
 * ports naming the other three as peers, and one genesis (equal power, a set of funded
 * accounts, genesis parameters given as JSON). The nodes run as child processes
 * (`iolmd start -d nodeI`) logging to FOLDER/nodeI.log.
 *
 * A benchmark is a program with one devnet: devnet_init() registers it for an atexit
 * handler that kills and reaps every child (the nodes and any other process started with
 * devnet_spawn()), prints the tail of each node's log after a failure, and removes the
 * folder (kept with keep). The children also die with the benchmark when it is killed
 * with SIGKILL (PR_SET_PDEATHSIG). Errors are fatal: devnet_die() prints a message and
 * exits, which runs the clean-up; so does SIGINT or SIGTERM once the benchmark calls
 * devnet_check_interrupt() in its waits. */
#ifndef IOLM_BENCH_DEVNET_UTIL_H
#define IOLM_BENCH_DEVNET_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "core/addr.h"

#define DEVNET_NV 4         /* validators */
#define DEVNET_MAX_EXTRA 8  /* other children (devnet_spawn) at a time */
#define DEVNET_PATH 4096

typedef struct devnet_node {
	int index;
	char dir[DEVNET_PATH + 64];
	uint16_t p2p_port, rpc_port;
	pid_t pid;                /* 0: not running */
	char token[65];           /* the RPC cookie, after devnet_read_token() */
} devnet_node;

/* Consensus timeouts written into node.conf; NULL means iolmd's defaults. */
typedef struct devnet_timeouts {
	uint32_t heartbeat_ms, propose_ms, propose_delta_ms, vote_ms, vote_delta_ms;
} devnet_timeouts;

typedef struct devnet {
	const char *prog;         /* message prefix and folder name, e.g. "bench_net" */
	const char *iolmd;        /* path of the iolmd binary */
	int keep;                 /* leave the folder at exit */
	int failed;               /* set by devnet_die: print the node logs at exit */
	char dir[DEVNET_PATH];    /* the devnet folder; "" until created */
	devnet_node nodes[DEVNET_NV];
	pid_t extra[DEVNET_MAX_EXTRA];
} devnet;

/* Register d (which must live until exit) for the clean-up and install the SIGINT and
 * SIGTERM handlers (SIGPIPE ignored). Dies when iolmd is not executable. Call once. */
void devnet_init(devnet *d, const char *prog, const char *iolmd, int keep);

/* Print "PROG: message" to stderr and exit(1); the clean-up runs, with the log tails. */
void devnet_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Print "PROG: message" to stderr. */
void devnet_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit with 130 (after the clean-up) once SIGINT or SIGTERM came. */
void devnet_check_interrupt(void);
/* Sleep s seconds (calling devnet_check_interrupt when a signal cuts it short). */
void devnet_sleep(double s);

/* Write the devnet under base (see the top of this file): chain id chain, genesis
 * parameters params_json (a JSON object, e.g. "{\"min_fee\": 1}"), each of the n_funded
 * accounts given amount, and each validator's own account validator_amount (none when 0;
 * a validator pays fees for its attestations). Node configurations with iolmd's default
 * timeouts. */
void devnet_create(devnet *d, const char *base, const char *chain, const char *params_json,
		   const uint8_t (*funded)[IOLM_ADDR_LEN], size_t n_funded, uint64_t amount,
		   uint64_t validator_amount);

/* Rewrite n's node.conf with timeouts t (NULL: iolmd's defaults). */
void devnet_write_config(devnet *d, const devnet_node *n, const devnet_timeouts *t);

/* Start `iolmd start -d DIR` for n (its token is cleared until devnet_read_token). */
void devnet_start(devnet *d, devnet_node *n);

/* Read n's rpc.cookie (written by the node once its RPC listens). */
void devnet_read_token(devnet_node *n);

/* SIGTERM, then up to timeout_s for a clean exit; SIGKILL (and a complaint) past it.
 * n->pid is 0 afterwards. */
void devnet_stop(devnet *d, devnet_node *n, double timeout_s);

/* Die naming what when a node has exited. */
void devnet_check_nodes(devnet *d, const char *what);

/* Fork and exec path with argv (NULL-terminated), stdout and stderr appended to logpath,
 * no inherited descriptors above 2; the child is killed at exit like the nodes. Returns
 * its pid. */
pid_t devnet_spawn(devnet *d, const char *logpath, const char *path, char *const argv[]);

/* Wait up to timeout_s for a child from devnet_spawn to exit by itself; its wait status,
 * or -1 when it did not (it is then killed). Either way the clean-up forgets it. */
int devnet_wait(devnet *d, pid_t pid, double timeout_s);

/* Stop a child from devnet_spawn: SIGTERM, up to timeout_s, then SIGKILL; reaped with
 * wait4, its resource usage (CPU times) into *ru when not NULL; forgotten by the clean-up.
 * Returns its wait status. */
int devnet_reap(devnet *d, pid_t pid, double timeout_s, struct rusage *ru);

/* n distinct free loopback TCP ports (free when this returns; dies when none are). */
void devnet_pick_ports(uint16_t *ports, int n);

/* Write len bytes to path (dies on failure). */
void devnet_write_file(const char *path, const void *data, size_t len);

#endif
