/* iolm-miner's parts (docs/compute.md §8 and "Mining on chain"):
 *   miner_main.c   main, `iolm-miner train` (local), shared helpers
 *   miner_mine.c   `iolm-miner mine`: the on-chain loop
 *   miner_chain.c  the node's RPC seen from the miner: tasks, works, rewards, work_commit
 *   miner_serve.c  the miner's own HTTP server for its claims and checkpoints
 * The training itself is compute_miner_run (compute/miner.h). */
#ifndef IOLM_NODE_MINER_INT_H
#define IOLM_NODE_MINER_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "artifacts/art.h"
#include "compute/dp.h"
#include "compute/miner.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/key.h"
#include "ledger/tx.h"
#include "core/httpc.h"

#define MINER_MAX_DATA ((size_t)1 << 31) /* a training or eval file */
#define MINER_PATH_MAX 4096

/* Set by SIGINT/SIGTERM (miner_main.c installs the handler for `mine`). */
extern volatile sig_atomic_t miner_stop;

/* ---------------------------------------------------------------- miner_main.c */

/* Read at most cap bytes of the regular file at path; *out is malloc'ed, the caller
 * frees it. IOLM_ENOTFOUND, IOLM_EIO, IOLM_ETOOBIG past cap. */
int miner_read_file(uint8_t **out, size_t *len, const char *path, size_t cap) IOLM_WUR;
/* The "--name value" pairs of argv from argv[2] on: fn(ctx, name, value) answers 0 when
 * it took the option, 1 for a bad value, -1 for a name it does not know; the message for
 * each (and for a name without a value) is printed here. IOLM_EINVAL on the first. */
int miner_parse_pairs(int argc, char **argv,
		      int (*fn)(void *ctx, const char *name, const char *value),
		      void *ctx) IOLM_WUR;

/* What --device names: "cpu", one CPU backend; "cuda" or "cuda:all", every CUDA device
 * that opens; "auto", the same when one does (GPU 0 alone when they cannot be joined),
 * else the CPU; "cuda:LIST" (device numbers
 * separated by commas, e.g. cuda:0,1), those devices. One CUDA backend per device (at
 * most the batch's sequences, and COMPUTE_DP_MAX_RANKS) and, for two or more, the
 * data-parallel transport joining them (NCCL when built, else copies between the
 * devices). */
typedef struct miner_devices {
	compute_backend *be[COMPUTE_DP_MAX_RANKS];
	unsigned n;
	compute_dp_transport *tr; /* n >= 2 */
	char name[64];            /* for the log: "cpu", "cuda", "cuda x2 (nccl)" */
} miner_devices;

/* Open the backends --device names (d zeroed first) for a task of `batch` sequences,
 * printing why on failure. */
int miner_devices_open(miner_devices *d, const char *device, unsigned threads,
		       uint32_t batch) IOLM_WUR;
/* Set the backend fields of p from d. */
void miner_devices_use(const miner_devices *d, compute_miner_params *p);
void miner_devices_close(miner_devices *d);

/* A compute_miner_progress_fn printing "step N/M loss L tok/s ETA" lines; ctx unused.
 * Returns IOLM_ETIMEOUT once miner_stop is set, which stops the run. */
int miner_print_progress(void *ctx, const compute_miner_progress *p);

/* Parse a decimal u64 / u32 (no sign, no trailing characters). */
int miner_parse_u64(uint64_t *out, const char *s) IOLM_WUR;

/* ---------------------------------------------------------------- miner_mine.c */

int miner_mine_main(int argc, char **argv);
/* iolm-miner generate (miner_generate.c). */
int miner_generate_main(int argc, char **argv);

/* ---------------------------------------------------------------- miner_chain.c */

/* A connection to a node's RPC, with the cookie for POST /tx and the chain id. */
typedef struct miner_rpc {
	iolm_httpc *c;
	char token[65];
	char chain_id[LEDGER_MAX_CHAIN_ID + 1];
} miner_rpc;

/* Connect to host:port (parsed from "HOST:PORT"), read the cookie file and the chain id
 * (GET /status). On failure r is released. */
int miner_rpc_open(miner_rpc *r, const char *hostport, const char *cookie_file) IOLM_WUR;
void miner_rpc_close(miner_rpc *r);

/* A task as the miner needs it: the compute task, the artifact ids, the bond minimum
 * and the current best work (has_best 0: none accepted yet). */
typedef struct miner_task {
	compute_task task;
	uint8_t dataset_id[LEDGER_ARTIFACT_ID_LEN];
	uint8_t eval_id[LEDGER_ARTIFACT_ID_LEN];
	uint64_t bond_min;
	uint64_t total_steps;
	int has_best;
	uint8_t best_work[32];
	char name[LEDGER_MAX_TASK_NAME + 1];
} miner_task;

/* GET /task/{id}: decodes the TaskCreate from its exact bytes (params_bytes). */
int miner_rpc_task(miner_rpc *r, miner_task *t, const uint8_t id[static 32]) IOLM_WUR;

enum miner_work_status {
	MINER_WORK_UNSEEN = 0, /* not in the state (yet): still in the mempool, or dropped */
	MINER_WORK_PENDING = 1,
	MINER_WORK_ACCEPTED = 2,
	MINER_WORK_REJECTED = 3,
	MINER_WORK_SLASHED = 4,
};

/* A work as the chain holds it (GET /work/{id}): status, powers, and its commit. */
typedef struct miner_work {
	enum miner_work_status status;
	uint64_t valid_power, invalid_power;
	uint64_t commit_height, decided_height;
	uint64_t end_step;
	int was_best;
	uint8_t task_id[32];
	uint8_t final_state[32];
	uint64_t eval_loss;
	uint8_t checkpoint_id[ART_ID_LEN]; /* the final checkpoint's artifact id */
	char endpoint[LEDGER_MAX_ENDPOINT + 1];
} miner_work;

/* GET /work/{id}. A work the node does not know is IOLM_OK with status
 * MINER_WORK_UNSEEN. */
int miner_rpc_work(miner_rpc *r, miner_work *w, const uint8_t id[static 32]) IOLM_WUR;

typedef struct miner_rewards {
	uint64_t breakthrough, revenue, bonds_returned, slashed;
	uint64_t balance;
} miner_rewards;

/* GET /rewards/{addr} and GET /account/{addr} (balance). */
int miner_rpc_rewards(miner_rpc *r, miner_rewards *out,
		      const uint8_t acct[static IOLM_ADDR_LEN]) IOLM_WUR;

/* Sign body (kind and fields set) with key at the account's next nonce (GET
 * /account/{addr}) and POST /tx with the cookie. id receives H_tx of the signed bytes,
 * the transaction id. A refusal is the node's error code (e.g. IOLM_ELEDGER_BOND);
 * the node's message is printed. */
int miner_rpc_send(miner_rpc *r, uint8_t id[static 32], Iolm__TxBody *body, const iolm_key *key,
		   uint64_t fee) IOLM_WUR;

/* Where transaction id is (GET /tx/{id}): 2 committed, 1 in the mempool, 0 unknown
 * to the node; a negative error code when the node cannot be asked. */
int miner_rpc_tx_status(miner_rpc *r, const uint8_t id[static 32]) IOLM_WUR;

/* Artifact id through the node: have it fetch the artifact from its peers (POST
 * /artifact/fetch/{id}, needs the cookie; nothing to do when it holds it), wait until it
 * holds it whole (printing progress; IOLM_ETIMEOUT after 120 s without any, or once
 * miner_stop is set), read its manifest (one file) and write the file's bytes (GET
 * /artifact/{id}/content, at most cap, streamed to the disk) to DIR/<id hex>/<its name>,
 * whole or not at all;
 * that path into dest. The caller checks the file against id. */
int miner_rpc_artifact(miner_rpc *r, const uint8_t id[static ART_ID_LEN], const char *dir,
		       char *dest, size_t dest_cap, size_t cap) IOLM_WUR;

/* Fetch url (an "http://HOST:PORT" endpoint) + path into the file at dest, streamed and
 * atomically (through dest.part), at most cap bytes. IOLM_ENOTFOUND for a 404, IOLM_EIO
 * otherwise. */
int miner_http_fetch(const char *endpoint, const char *path, const char *dest,
		     size_t cap) IOLM_WUR;

/* Split "HOST:PORT" (the host may be "[v6]") into host (cap bytes) and port. */
int miner_split_hostport(char *host, size_t cap, uint16_t *port, const char *s) IOLM_WUR;

/* ---------------------------------------------------------------- miner_serve.c */

/* The miner's HTTP server: on its own thread and event base, bound to host:port, it
 * answers GET /claim/{work-hex} with DIR/claim.bin and GET /ckpt/{work-hex}/{step} with
 * DIR/ckpt-%08llu.bin of the run that produced that work; 404 for anything else. */
typedef struct miner_server miner_server;

int miner_server_start(miner_server **out, const char *host, uint16_t port) IOLM_WUR;
/* Make work id's files, in dir (copied), servable. Thread-safe. */
int miner_server_add(miner_server *s, const uint8_t work[static 32], const char *dir) IOLM_WUR;
/* Stop serving work id's files (before its directory goes). Thread-safe; an unknown id
 * is a no-op. */
void miner_server_remove(miner_server *s, const uint8_t work[static 32]);
/* Requests answered so far (200s) and refused (4xx). Thread-safe. */
void miner_server_counts(miner_server *s, uint64_t *served, uint64_t *refused);
/* Stop the thread and free everything. */
void miner_server_stop(miner_server *s);

/* ---------------------------------------------------------------- iolm-miner mine's state
 * (miner_mine.c: rounds and following; miner_runs.c: the run directories) */

struct mine_opts {
	const char *node, *cookie, *keyfile, *task_hex, *data, *eval, *listen, *out;
	const char *parent, *device, *endpoint;
	uint64_t steps, bond, fee, rounds, follow, keep_runs;
	uint32_t threads;
};

/* A work this miner committed (this process, or an earlier run: miner_restore_works). */
struct own_work {
	uint8_t id[32];
	char dir[MINER_PATH_MAX];
	uint64_t start_step, end_step;
	uint64_t sent_ms;
	miner_work last; /* as last seen on chain */
	int dropped;
	int pruned;      /* its directory is gone (--keep-runs) */
};

struct mine {
	struct mine_opts o;
	miner_rpc rpc;
	iolm_key key;
	uint8_t acct[IOLM_ADDR_LEN];
	char addr[IOLM_ADDR_STRLEN + 1];
	miner_task task;
	art_store *store;
	miner_server *srv;
	miner_devices dev;
	uint8_t *train, *eval;
	size_t train_len, eval_len;
	char data_path[MINER_PATH_MAX], eval_path[MINER_PATH_MAX]; /* from the node */
	char endpoint[LEDGER_MAX_ENDPOINT + 1];
	struct own_work *works;
	size_t nworks;
	unsigned next_run;    /* the next run-NNNN to try; 0: not scanned yet */
	miner_rewards rewards;
	int tty;
};

/* Whether w is decided: accepted, rejected, slashed, or dropped from the mempool. */
static inline int miner_work_decided(const struct own_work *w)
{
	return w->dropped || w->last.status >= MINER_WORK_ACCEPTED;
}

/* ---------------------------------------------------------------- miner_runs.c */

/* A fresh run directory OUT/run-NNNN into dir, numbered after every run-NNNN already
 * there (so a number is never reused once --keep-runs deleted its run). */
int miner_run_dir(struct mine *m, char *dir, size_t cap) IOLM_WUR;
/* The newest OUT/run-NNNN, when a stopped miner left it unfinished: a progress log, no
 * work.txt (never committed) and no `committing` (a commit perhaps sent: the same claim
 * must not go twice). 1 with its path in dir, else 0. */
int miner_unfinished_run(const struct mine *m, char *dir, size_t cap);
/* The works earlier runs committed (OUT/run-NNNN/work.txt), served again and followed;
 * allocates m->works with room for them and for this process's rounds. */
int miner_restore_works(struct mine *m) IOLM_WUR;
/* Delete directory dir and the regular files in it (a run or a fetched parent: flat). */
int miner_remove_dir(const char *dir);
/* --keep-runs: the directories of decided works beyond the newest keep_runs go, but the
 * task's best work's, and the checkpoints fetched from other miners but the best's. */
void miner_prune(struct mine *m);

#endif
