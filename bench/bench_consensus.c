/* bench_consensus: how fast the consensus simulation runs, and what the engine costs
 * beyond its signatures.
 *
 *   sim_heights_per_s             heights per second of the deterministic simulation
 *                                 (tests/sim, sim_run()): 4 validators, its standard
 *                                 perturbation profile (two chaos windows with delays,
 *                                 drops, duplicates, partitions, crashes, one
 *                                 equivocating validator), seeds 1.. of 50 heights.
 *                                 Limit: the heights/s one ctest entry of the suite
 *                                 (45 seeds x 50 heights, TIMEOUT 300 s in
 *                                 tests/sim/CMakeLists.txt) needs to finish within its
 *                                 timeout; the ratio is the headroom (higher is better).
 *   engine_cpu_us_per_height_v4   CPU time of one validator's engine per committed
 *   engine_cpu_us_per_height_v21  height, 4 and 21 validators, signatures excluded.
 *                                 Limit: the Schnorr verification that height costs that
 *                                 validator, n votes x 2 steps x the µs of one
 *                                 iolm_verify() measured in this run; the ratio is what
 *                                 the engine adds beyond crypto (lower is better).
 *
 * The engine figures drive n engines in one thread over a perfect network: every signed
 * message goes, in one FIFO, to every other engine at once; blocks are built and judged
 * valid at once; timeouts never fire (none is needed when nothing is late). The clock
 * runs only inside cons_engine_* calls, so the harness's own queueing is not counted;
 * what reading the clock adds to each timed call is measured and subtracted.
 * Signatures are excluded in two ways:
 *   - verification is free: cons_config.verify is a hook that counts calls and accepts;
 *   - signing cannot be switched off (the engine signs with iolm_sign()), so every
 *     CONS_ACT_SIGN (one iolm_sign() each) is counted, and count x the µs of one
 *     iolm_sign() measured in this run is subtracted.
 * The signing WAL is the host's I/O (an fsync per signature) and is left out.
 *
 * Usage: bench_consensus [--quick]   (--quick: about a second, for the ctest smoke run;
 * --dir is accepted and ignored, nothing is written) */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "consensus/cons.h"
#include "core/hash.h"
#include "core/key.h"
#include "sim.h"

#define CHAIN "iolm-bench"
#define MAX_VALIDATORS 21
#define BLOCK_BYTES 256 /* about a block header: what the ledger's block id hashes */
#define WARM_HEIGHTS 2

/* One ctest entry of tests/sim/CMakeLists.txt: keep in step with it. */
#define SIM_CTEST_SEEDS 45
#define SIM_CTEST_HEIGHTS 50
#define SIM_CTEST_TIMEOUT_S 300

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_consensus: %s: %s\n", what, err ? iolm_strerror(err) : "failed");
	exit(1);
}

/* ---------------------------------------------------------------- the simulation */

static void bench_sim(int quick)
{
	uint64_t seeds = quick ? 2 : SIM_CTEST_SEEDS;
	double t0 = bench_now();
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		struct sim_opts o = { .validators = 4, .seed = seed, .heights = SIM_CTEST_HEIGHTS };
		struct sim_result r;
		if (sim_run(&o, &r) != 0) {
			fprintf(stderr, "bench_consensus: simulation seed %" PRIu64 " failed: %s\n",
				seed, r.fail ? r.fail : "out of memory");
			exit(1);
		}
	}
	double t = bench_now() - t0;
	double need = (double)SIM_CTEST_SEEDS * SIM_CTEST_HEIGHTS / SIM_CTEST_TIMEOUT_S;
	bench_figure("sim_heights_per_s", (double)(seeds * SIM_CTEST_HEIGHTS) / t, "1/s",
		     "ctest_sim_entry_heights_per_s", need);
}

/* ---------------------------------------------------------------- reference costs */

struct ref_costs {
	double sign_s, verify_s; /* seconds per iolm_sign() / iolm_verify() */
	double clock_s;          /* what one timed region adds when it times nothing */
};

/* Sign and verify vote-sized digests with the validators' keys, as the engines do, and
 * the cost of an empty timed region. */
static struct ref_costs measure_ref_costs(const iolm_key *keys, int n, double secs)
{
	enum { NMSG = 64 };
	uint8_t digest[NMSG][32], sig[NMSG][IOLM_SIG_LEN];
	struct ref_costs c;
	double t0, t;
	long k;

	for (int i = 0; i < NMSG; i++)
		iolm_hash(digest[i], IOLM_TAG_VOTE, &i, sizeof i);
	t0 = bench_now();
	for (k = 0; (t = bench_now() - t0) < secs || k < NMSG; k++)
		if (iolm_sign(&keys[k % n], sig[k % NMSG], digest[k % NMSG]) != IOLM_OK)
			die("iolm_sign", 0);
	c.sign_s = t / (double)k;
	/* The last NMSG signatures were made by keys (k - NMSG .. k - 1) mod n. */
	long first = k - NMSG;
	t0 = bench_now();
	for (k = 0; (t = bench_now() - t0) < secs; k++) {
		long j = first + k % NMSG;
		if (iolm_verify(sig[j % NMSG], digest[j % NMSG], iolm_key_pub(&keys[j % n])) !=
		    IOLM_OK)
			die("iolm_verify", 0);
	}
	c.verify_s = t / (double)k;

	/* The engine figures time every engine call; an empty timed region costs this. */
	double acc = 0;
	enum { NCLOCK = 200000 };
	for (k = 0; k < NCLOCK; k++) {
		t0 = bench_now();
		acc += bench_now() - t0;
	}
	c.clock_s = acc / NCLOCK;
	return c;
}

/* ---------------------------------------------------------------- perfect network */

/* A signed message, shared by the queue items that deliver it. */
struct msg {
	int refs;
	size_t len;
	uint8_t data[];
};

enum item_kind { IT_PROPOSAL, IT_VOTE, IT_BLOCK, IT_VALID };

struct item {
	enum item_kind kind;
	int node;
	uint64_t height;
	uint32_t round;
	uint8_t id[CONS_ID_LEN];
	struct msg *m;
};

struct net {
	int n;
	cons_engine *e[MAX_VALIDATORS];
	uint64_t committed[MAX_VALIDATORS]; /* highest height each node committed */
	struct item *q;                     /* FIFO ring */
	size_t head, len, cap;
	/* Counters: engine time and what it spent on signatures. */
	double engine_s;
	uint64_t timed; /* engine calls timed: each also counts some clock overhead */
	uint64_t signs, verifies, retries;
};

static void block_id(void *ctx, uint8_t id[static CONS_ID_LEN], const uint8_t *b, size_t len)
{
	(void)ctx;
	iolm_hash(id, IOLM_TAG_BLOCK, b, len);
}

/* Signatures are free here: every message is honest, count the call and accept. */
static int free_verify(void *ctx, const uint8_t sig[static IOLM_SIG_LEN],
		       const uint8_t digest[static 32], const uint8_t pub[static IOLM_PUBKEY_LEN])
{
	struct net *nt = ctx;
	(void)sig;
	(void)digest;
	(void)pub;
	nt->verifies++;
	return IOLM_OK;
}

static void timed_end(struct net *nt, double t0)
{
	nt->engine_s += bench_now() - t0;
	nt->timed++;
}

static void q_push(struct net *nt, const struct item *it)
{
	if (nt->len == nt->cap) {
		size_t cap = nt->cap ? 2 * nt->cap : 1024;
		struct item *q = malloc(cap * sizeof *q);
		if (!q)
			die("queue", IOLM_ENOMEM);
		for (size_t i = 0; i < nt->len; i++)
			q[i] = nt->q[(nt->head + i) % nt->cap];
		free(nt->q);
		nt->q = q;
		nt->head = 0;
		nt->cap = cap;
	}
	nt->q[(nt->head + nt->len) % nt->cap] = *it;
	nt->len++;
}

static int q_pop(struct net *nt, struct item *it)
{
	if (nt->len == 0)
		return 0;
	*it = nt->q[nt->head];
	nt->head = (nt->head + 1) % nt->cap;
	nt->len--;
	return 1;
}

static void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

/* To every other node, in one go: the FIFO then delivers in causal order. */
static void broadcast(struct net *nt, int from, enum cons_msg_kind kind, const uint8_t *d,
		      size_t len)
{
	struct msg *m = malloc(sizeof *m + len);
	if (!m)
		die("message", IOLM_ENOMEM);
	m->refs = nt->n - 1;
	m->len = len;
	memcpy(m->data, d, len);
	for (int to = 0; to < nt->n; to++) {
		if (to == from)
			continue;
		struct item it = { .kind = kind == CONS_MSG_VOTE ? IT_VOTE : IT_PROPOSAL,
				   .node = to, .m = m };
		q_push(nt, &it);
	}
}

/* Carry out node i's actions. Only cons_engine_poll() itself is timed. */
static void drain(struct net *nt, int i)
{
	cons_action a;
	for (;;) {
		double t0 = bench_now();
		int got = cons_engine_poll(nt->e[i], &a);
		timed_end(nt, t0);
		if (!got)
			break;
		struct item it = { .node = i, .height = a.height, .round = a.round };
		switch (a.kind) {
		case CONS_ACT_SIGN:
			nt->signs++;
			broadcast(nt, i, a.msg_kind, a.msg, a.msg_len);
			break;
		case CONS_ACT_SEND:
			broadcast(nt, i, a.msg_kind, a.msg, a.msg_len);
			break;
		case CONS_ACT_TIMEOUT:
			break; /* nothing is ever late: timeouts never fire */
		case CONS_ACT_GET_BLOCK:
			it.kind = IT_BLOCK;
			q_push(nt, &it);
			break;
		case CONS_ACT_VALIDATE:
			it.kind = IT_VALID;
			memcpy(it.id, a.block_id, CONS_ID_LEN);
			q_push(nt, &it);
			break;
		case CONS_ACT_COMMIT:
			if (a.height != nt->committed[i] + 1)
				die("commit out of order", 0);
			nt->committed[i] = a.height;
			break;
		case CONS_ACT_EVIDENCE:
			die("evidence from honest validators", 0);
		}
	}
}

/* Deliver one item to its node. 0 when it was taken, 1 when it came too early (a
 * message for a height the node has not reached) and went back in the queue. */
static int deliver(struct net *nt, struct item *it)
{
	cons_engine *e = nt->e[it->node];
	uint8_t block[BLOCK_BYTES];
	int err = IOLM_OK;
	double t0;

	switch (it->kind) {
	case IT_PROPOSAL:
	case IT_VOTE:
		t0 = bench_now();
		err = it->kind == IT_VOTE ? cons_engine_on_vote(e, it->m->data, it->m->len)
					  : cons_engine_on_proposal(e, it->m->data, it->m->len);
		timed_end(nt, t0);
		if (err == IOLM_ECONS_FUTURE) {
			nt->retries++;
			q_push(nt, it);
			return 1;
		}
		msg_unref(it->m);
		if (err == IOLM_ECONS_OLD)
			err = IOLM_OK; /* a straggler for a height already decided */
		break;
	case IT_BLOCK:
		memset(block, 0, sizeof block);
		snprintf((char *)block, sizeof block, "h=%" PRIu64 " r=%u by=%d", it->height,
			 it->round, it->node);
		t0 = bench_now();
		err = cons_engine_propose(e, it->height, it->round, block, sizeof block);
		timed_end(nt, t0);
		break;
	case IT_VALID:
		t0 = bench_now();
		err = cons_engine_on_validated(e, it->height, it->id, 1);
		timed_end(nt, t0);
		break;
	}
	if (err)
		die("engine refused an input", err);
	drain(nt, it->node);
	return 0;
}

static uint64_t min_committed(const struct net *nt)
{
	uint64_t m = nt->committed[0];
	for (int i = 1; i < nt->n; i++)
		if (nt->committed[i] < m)
			m = nt->committed[i];
	return m;
}

/* Run until every node has committed height h. */
static void run_until(struct net *nt, uint64_t h)
{
	struct item it;
	size_t early = 0; /* items in a row that came too early: a stall when > queue */
	while (min_committed(nt) < h) {
		if (!q_pop(nt, &it))
			die("the network ran dry before the height was committed", 0);
		early = deliver(nt, &it) ? early + 1 : 0;
		if (early > nt->len)
			die("no node can make progress", 0);
	}
}

static void net_init(struct net *nt, const iolm_key *keys, int n)
{
	uint8_t pubs[MAX_VALIDATORS * IOLM_PUBKEY_LEN] = { 0 };
	uint64_t powers[MAX_VALIDATORS] = { 0 };
	cons_valset *vs;
	cons_config cfg;
	int err;

	memset(nt, 0, sizeof *nt);
	nt->n = n;
	for (int i = 0; i < n; i++) {
		memcpy(pubs + IOLM_PUBKEY_LEN * i, iolm_key_pub(&keys[i]), IOLM_PUBKEY_LEN);
		powers[i] = 1;
	}
	if ((err = cons_valset_create(&vs, pubs, powers, (size_t)n)))
		die("validator set", err);
	cons_config_default(&cfg);
	cfg.chain_id = CHAIN;
	cfg.block_id = block_id;
	cfg.verify = free_verify;
	cfg.ctx = nt;
	for (int i = 0; i < n; i++)
		if ((err = cons_engine_create(&nt->e[i], &cfg, vs, &keys[i], 1)))
			die("engine", err);
	cons_valset_destroy(vs);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now();
		err = cons_engine_start(nt->e[i]);
		timed_end(nt, t0);
		if (err)
			die("engine start", err);
		drain(nt, i);
	}
}

static void net_release(struct net *nt)
{
	struct item it;
	while (q_pop(nt, &it))
		msg_unref(it.m);
	free(nt->q);
	for (int i = 0; i < nt->n; i++)
		cons_engine_destroy(nt->e[i]);
}

static void bench_engine(const char *figure, const iolm_key *keys, int n,
			 const struct ref_costs *c, double secs)
{
	struct net *nt = malloc(sizeof *nt);
	if (!nt)
		die("network", IOLM_ENOMEM);
	net_init(nt, keys, n);
	run_until(nt, WARM_HEIGHTS);

	/* Measure from here: counters and commits relative to the warm state. */
	uint64_t base_commits = 0, commits = 0;
	for (int i = 0; i < n; i++)
		base_commits += nt->committed[i];
	nt->engine_s = 0;
	nt->timed = nt->signs = nt->verifies = nt->retries = 0;
	double t0 = bench_now();
	do
		run_until(nt, min_committed(nt) + 5);
	while (bench_now() - t0 < secs);
	for (int i = 0; i < n; i++)
		commits += nt->committed[i];
	commits -= base_commits; /* one per node and height: per-validator figures below */

	double sign_s = (double)nt->signs * c->sign_s;
	double clock_s = (double)nt->timed * c->clock_s;
	double us = (nt->engine_s - sign_s - clock_s) / (double)commits * 1e6;
	double limit = (double)n * 2 * c->verify_s * 1e6;
	fprintf(stderr,
		"bench_consensus: %d validators: %" PRIu64 " heights; per validator and height: "
		"%.1f us timed, of which %.1f us signing (%.2f signatures) and %.1f us "
		"reading the clock (%.1f calls); %.1f verify calls (free); %" PRIu64
		" early messages re-queued\n",
		n, commits / (uint64_t)n, nt->engine_s / (double)commits * 1e6,
		sign_s / (double)commits * 1e6, (double)nt->signs / (double)commits,
		clock_s / (double)commits * 1e6, (double)nt->timed / (double)commits,
		(double)nt->verifies / (double)commits, nt->retries);
	bench_figure(figure, us, "us", "schnorr_verify_us_per_height", limit);
	net_release(nt);
	free(nt);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	double secs = quick ? 0.15 : 2.0;
	iolm_key keys[MAX_VALIDATORS];

	if (iolm_crypto_init() != IOLM_OK)
		return 1;
	bench_sim(quick);

	/* Fixed keys: the same validator set, and so the same proposers, on every run. */
	for (int i = 0; i < MAX_VALIDATORS; i++) {
		uint8_t sec[IOLM_SECKEY_LEN];
		memset(sec, i + 1, sizeof sec);
		if (iolm_key_from_secret(&keys[i], sec) != IOLM_OK)
			die("key", 0);
	}
	struct ref_costs c = measure_ref_costs(keys, MAX_VALIDATORS, quick ? 0.05 : 1.0);
	bench_engine("engine_cpu_us_per_height_v4", keys, 4, &c, secs);
	bench_engine("engine_cpu_us_per_height_v21", keys, 21, &c, secs);
	for (int i = 0; i < MAX_VALIDATORS; i++)
		iolm_key_wipe(&keys[i]);
	return 0;
}
