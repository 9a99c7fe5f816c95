/* bench_mining: one work of joint mining through verification on a 4-validator loopback
 * devnet (docs/economics.md §2), measured from outside.
 *
 *   verify_share_onchain        validator CPU spent verifying the accepted work, per
 *                               validator, over the miner's CPU for training it; limit:
 *                               the goal, as a constant (0.02)
 *   verify_cpu_s_per_validator  the numerator: the increase of iolm_verify_cpu_seconds_total
 *                               (/metrics) summed over the four validators, / 4, read once
 *                               every validator has re-executed the work (no limit)
 *   miner_train_cpu_s           the denominator: the miner process's CPU time (utime +
 *                               stime, /proc/PID/stat) from its "training steps" line to
 *                               its "work ... committed" line: the initial and final eval,
 *                               the steps, the checkpoints and the commit (no limit)
 *   work_accept_s               wall time from the work_commit's block being committed (the
 *                               first GET /work/{id} on node0 that finds the work, polled
 *                               every 20 ms from the miner's work line) until the same poll
 *                               says "accepted"; limit: the genesis attest_timeout_ms
 *                               (120 s, the default), past which a work is rejected
 *
 * The work. The full run trains the reference task L=2 C=64 NH=4 T=64 B=8 with k=10,
 * s=8 for 5,000 steps: 500 segments, so the bare re-execution is s/500 = 1.6% of the
 * training and the goal leaves 0.4% for fetching, checkpoint loading and the eval. (With
 * k=100, s=8 and 800 steps every segment would be sampled: the share would be about 1
 * by construction.) It writes 501 checkpoints of 1.4 MB into the miner's folder and
 * trains for about 1.5 minutes on one core. --quick trains L=1 C=32 NH=2 T=32 B=4 with
 * k=10, s=2 for 400 steps (40 segments) in a few seconds: a smoke run whose share is
 * dominated by fixed costs.
 *
 * The procedure, as tests/integration/test_mining.py does it: a devnet (devnet_util.h,
 * default consensus timeouts) whose genesis funds a designer and a miner key; a
 * deterministic text corpus split 9:1 into train.txt and eval.txt; both added to every
 * validator's artifact store with `iolmd art add`; the task created with `iolmd tx
 * task-create --wait`; then `iolm-miner mine --parent none --threads 1 --device cpu`
 * once. The miner keeps serving its checkpoints until it is stopped, after the figures.
 * Every child dies with this program (PR_SET_PDEATHSIG) and the devnet folder
 * (bench_mining-XXXXXX under --dir) is removed at the end unless --keep.
 *
 * Usage: bench_mining [--quick] [--dir DIR] [--iolmd PATH] [--miner PATH] [--keep]
 * Progress goes to stderr, the figures (bench_util.h) to stdout. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench_util.h"
#include "devnet_util.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/key.h"
#include "core/httpc.h"

#ifndef IOLM_IOLMD_PATH
#define IOLM_IOLMD_PATH "iolmd"
#endif
#ifndef IOLM_MINER_PATH
#define IOLM_MINER_PATH "iolm-miner"
#endif

#define NV DEVNET_NV
#define CHAIN "iolm-bench-mining"
#define ATTEST_TIMEOUT_MS 120000
#define GOAL_VERIFY_SHARE 0.02
#define POLL_S 0.02
#define HTTP_TIMEOUT_MS 10000
#define FUNDS 1000000000000ull
#define CMD_OUT_MAX 4096

/* A task and the work mined on it. */
struct mcfg {
	const char *name;
	unsigned n_layer, n_embd, n_head, seq_len, batch, seg_len, samples;
	unsigned steps;
	unsigned corpus_lines;
};

static const struct mcfg CFG_FULL = { "reference", 2, 64, 4, 64, 8, 10, 8, 5000, 20000 };
static const struct mcfg CFG_QUICK = { "quick", 1, 32, 2, 32, 4, 10, 2, 400, 1500 };

static struct {
	devnet net;
	const char *miner;
	iolm_httpc *rpc[NV];
	char designer_key[DEVNET_PATH + 32], miner_key[DEVNET_PATH + 32];
	char train[DEVNET_PATH + 32], eval[DEVNET_PATH + 32];
	uint8_t funded[2][IOLM_ADDR_LEN];
} M;

#define die devnet_die
#define progress devnet_progress

/* ---------------------------------------------------------------- helpers */

/* GET path from node i; the HTTP status (0: no answer), the body appended to out. */
static int http_get(int i, const char *path, iolm_buf *out)
{
	int status = 0;
	if (iolm_httpc_request(M.rpc[i], "GET", path, NULL, NULL, 0, &status, out,
			       HTTP_TIMEOUT_MS) != IOLM_OK)
		return 0;
	return status;
}

/* The JSON answer to GET path from node i; NULL unless 200. The caller decrefs it. */
static json_t *get_json(int i, const char *path)
{
	iolm_buf out;
	json_t *j = NULL;
	iolm_buf_init(&out, 16u << 20);
	if (http_get(i, path, &out) == 200)
		j = json_loadb((const char *)out.data, out.len, 0, NULL);
	iolm_buf_release(&out, 0);
	return j;
}

static int64_t node_height(int i)
{
	json_t *j = get_json(i, "/status");
	json_t *h = j ? json_object_get(j, "height") : NULL;
	int64_t v = json_is_integer(h) ? (int64_t)json_integer_value(h) : -1;
	json_decref(j);
	return v;
}

/* The value of an unlabelled (or exactly labelled) sample in a /metrics page; -1 when
 * absent. */
static double metric(const iolm_buf *page, const char *name)
{
	char key[160];
	int klen = snprintf(key, sizeof key, "\n%s ", name);
	const uint8_t *b = page->data;
	for (size_t i = 0; b && i + (size_t)klen < page->len; i++) {
		if (memcmp(b + i, key, (size_t)klen) == 0) {
			char num[64];
			size_t n = 0, k = i + (size_t)klen;
			while (k < page->len && n + 1 < sizeof num && !isspace(b[k]))
				num[n++] = (char)b[k++];
			num[n] = '\0';
			return strtod(num, NULL);
		}
	}
	return -1;
}

struct vstats {
	double cpu_s;      /* iolm_verify_cpu_seconds_total */
	double verified;   /* valid + invalid verdicts */
};

static void verify_stats(int i, struct vstats *v)
{
	iolm_buf page;
	iolm_buf_init(&page, 1u << 20);
	if (http_get(i, "/metrics", &page) != 200)
		die("node%d: GET /metrics failed", i);
	v->cpu_s = metric(&page, "iolm_verify_cpu_seconds_total");
	v->verified = metric(&page, "iolm_verified_works_total{verdict=\"valid\"}") +
		      metric(&page, "iolm_verified_works_total{verdict=\"invalid\"}");
	iolm_buf_release(&page, 0);
	if (v->cpu_s < 0 || v->verified < 0)
		die("node%d: no iolm_verify_cpu_seconds_total / iolm_verified_works_total", i);
}

/* CPU seconds (user + system) pid has used so far, -1 when it cannot be read. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long ut, st;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	/* after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Read the whole (small) file at path into out (NUL-terminated, at most cap - 1 bytes). */
static void read_small(char *out, size_t cap, const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = fp ? fread(out, 1, cap - 1, fp) : 0;
	if (fp)
		fclose(fp);
	out[n] = '\0';
}

/* Run argv[0] = path to completion (at most timeout_s); its last output line (stdout and
 * stderr) into line. Dies, showing the output, when it fails. */
static void run_cmd(char *line, size_t cap, const char *path, char *const argv[],
		    double timeout_s)
{
	char log[DEVNET_PATH + 32], out[CMD_OUT_MAX];
	snprintf(log, sizeof log, "%s/cmd.out", M.net.dir);
	unlink(log);
	pid_t pid = devnet_spawn(&M.net, log, path, argv);
	int st = devnet_wait(&M.net, pid, timeout_s);
	read_small(out, sizeof out, log);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s %s %s failed (status %d): %s", argv[0], argv[1], argv[2], st, out);
	size_t n = strlen(out);
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	const char *last = strrchr(out, '\n');
	snprintf(line, cap, "%s", last ? last + 1 : out);
}

/* ---------------------------------------------------------------- set-up */

/* A deterministic corpus: sentences of 4..12 words from a fixed vocabulary (xorshift64*,
 * fixed seed), the first nine tenths to train.txt, the rest to eval.txt. */
static void write_corpus(unsigned lines)
{
	static const char *const words[] = {
		"the", "model", "learns", "to", "predict", "next", "byte", "of", "text",
		"while", "miners", "train", "and", "validators", "verify", "each", "sampled",
		"segment", "work", "on", "chain",
	};
	const size_t nw = sizeof words / sizeof words[0];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	iolm_buf t;
	iolm_buf_init(&t, 64u << 20);
	for (unsigned l = 0; l < lines; l++) {
		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		unsigned n = 4 + (unsigned)((x * 0x2545f4914f6cdd1dull) >> 60) % 9;
		for (unsigned w = 0; w < n; w++) {
			x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
			size_t k = (size_t)((x * 0x2545f4914f6cdd1dull) >> 33) % nw;
			if (iolm_buf_printf(&t, "%s%s", w ? " " : "", words[k]))
				die("corpus: %s", iolm_strerror(IOLM_ENOMEM));
		}
		if (iolm_buf_append_str(&t, ".\n"))
			die("corpus: %s", iolm_strerror(IOLM_ENOMEM));
	}
	size_t cut = t.len * 9 / 10;
	devnet_write_file(M.train, t.data, cut);
	devnet_write_file(M.eval, t.data + cut, t.len - cut);
	iolm_buf_release(&t, 0);
}

/* The designer's and the miner's keys: fixed, so the genesis can fund them. */
static void make_keys(iolm_key keys[2])
{
	for (uint32_t i = 0; i < 2; i++) {
		uint8_t sec[32];
		iolm_hash(sec, IOLM_TAG_GENESIS, &i, sizeof i);
		if (iolm_key_from_secret(&keys[i], sec))
			die("cannot derive key %u", i);
		iolm_addr_from_pub(M.funded[i], iolm_key_pub(&keys[i]));
	}
}

static void start_devnet(const char *base)
{
	iolm_key keys[2];
	char params[128];
	int rc;
	make_keys(keys);
	snprintf(params, sizeof params, "{\"min_fee\": 1, \"attest_timeout_ms\": %d}",
		 ATTEST_TIMEOUT_MS);
	/* The validators are funded too: every attestation pays the fee. */
	devnet_create(&M.net, base, CHAIN, params, (const uint8_t(*)[IOLM_ADDR_LEN])M.funded, 2,
		      FUNDS, FUNDS);
	snprintf(M.designer_key, sizeof M.designer_key, "%s/designer.key", M.net.dir);
	snprintf(M.miner_key, sizeof M.miner_key, "%s/miner.key", M.net.dir);
	if ((rc = iolm_key_save(&keys[0], M.designer_key, 0)) ||
	    (rc = iolm_key_save(&keys[1], M.miner_key, 0)))
		die("saving keys: %s", iolm_strerror(rc));
	iolm_key_wipe(&keys[0]);
	iolm_key_wipe(&keys[1]);

	for (int i = 0; i < NV; i++)
		devnet_start(&M.net, &M.net.nodes[i]);
	for (int i = 0; i < NV; i++)
		if ((rc = iolm_httpc_create(&M.rpc[i], "127.0.0.1", M.net.nodes[i].rpc_port)))
			die("RPC client: %s", iolm_strerror(rc));
	double deadline = bench_now() + 60.0;
	for (int i = 0; i < NV; i++) {
		while (node_height(i) < 2) {
			if (bench_now() > deadline)
				die("timed out waiting for node%d to reach height 2", i);
			devnet_check_nodes(&M.net, "the devnet to start");
			devnet_check_interrupt();
			devnet_sleep(0.05);
		}
		devnet_read_token(&M.net.nodes[i]);
	}
}

/* The data sets in every validator's store, and the task; its id into task_id. */
static void create_task(const struct mcfg *c, char *task_id, size_t cap)
{
	char ds[160], ev[160], taskfile[DEVNET_PATH + 32], rpc[32], cookie[DEVNET_PATH + 128];
	char text[512];
	for (int i = 0; i < NV; i++) {
		char *a1[] = { "iolmd", "art", "add", "-d", M.net.nodes[i].dir, M.train, NULL };
		char *a2[] = { "iolmd", "art", "add", "-d", M.net.nodes[i].dir, M.eval, NULL };
		run_cmd(ds, sizeof ds, M.net.iolmd, a1, 60.0);
		run_cmd(ev, sizeof ev, M.net.iolmd, a2, 60.0);
	}
	int n = snprintf(text, sizeof text,
			 "n_layer = %u\nn_embd = %u\nn_head = %u\nseq_len = %u\ninit_seed = 3\n"
			 "lr = 0.003\nwarmup_steps = 20\ntotal_steps = %u\nbatch_size = %u\n"
			 "segment_len = %u\nsamples = %u\n",
			 c->n_layer, c->n_embd, c->n_head, c->seq_len, c->steps, c->batch,
			 c->seg_len, c->samples);
	snprintf(taskfile, sizeof taskfile, "%s/task.conf", M.net.dir);
	devnet_write_file(taskfile, text, (size_t)n);
	snprintf(rpc, sizeof rpc, "127.0.0.1:%u", M.net.nodes[0].rpc_port);
	snprintf(cookie, sizeof cookie, "%s/rpc.cookie", M.net.nodes[0].dir);
	char *argv[] = { "iolmd", "tx", "task-create", "--task-file", taskfile, "--dataset", ds,
			 "--eval", ev, "--pool", "1000000", "--designer-share-bps", "2000",
			 "--breakthrough-bps", "1000", "--bond-min", "100", "--name", "bench",
			 "--rpc", rpc, "--cookie", cookie, "--key", M.designer_key, "--wait", NULL };
	run_cmd(task_id, cap, M.net.iolmd, argv, 90.0);
	if (strlen(task_id) != 64)
		die("task-create printed '%s', not a task id", task_id);
}

/* ---------------------------------------------------------------- the work */

struct mined {
	pid_t pid;
	char log[DEVNET_PATH + 32];
	char work[65];
	double cpu_train0, cpu_commit; /* the miner's CPU at its two lines */
	double t_line;                 /* when its work line was seen */
};

static pid_t start_miner(const struct mcfg *c, const char *task_id, char *log, size_t cap)
{
	char rpc[32], cookie[DEVNET_PATH + 128], steps[32], listen[32], out[DEVNET_PATH + 32];
	uint16_t port;
	devnet_pick_ports(&port, 1);
	snprintf(rpc, sizeof rpc, "127.0.0.1:%u", M.net.nodes[0].rpc_port);
	snprintf(cookie, sizeof cookie, "%s/rpc.cookie", M.net.nodes[0].dir);
	snprintf(steps, sizeof steps, "%u", c->steps);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
	snprintf(out, sizeof out, "%s/miner", M.net.dir);
	snprintf(log, cap, "%s/miner.log", M.net.dir);
	char *argv[] = { "iolm-miner", "mine", "--node", rpc, "--cookie", cookie, "--key",
			 M.miner_key, "--task", (char *)task_id, "--data", M.train, "--eval", M.eval,
			 "--steps", steps, "--listen", listen, "--out", out, "--parent", "none",
			 "--bond", "500", "--device", "cpu", "--threads", "1", NULL };
	return devnet_spawn(&M.net, log, M.miner, argv);
}

/* Follow the miner's log until its work line, sampling its CPU at the training line and
 * at the work line. */
static void follow_miner(struct mined *m, double timeout_s)
{
	static char text[1u << 20];
	double deadline = bench_now() + timeout_s, next_progress = bench_now() + 10.0;
	int st;
	m->cpu_train0 = -1;
	while (!m->work[0]) {
		/* the CPU first, so it is never later than the line it goes with */
		double cpu = proc_cpu_s(m->pid);
		read_small(text, sizeof text, m->log);
		if (m->cpu_train0 < 0 && strstr(text, "training steps ["))
			m->cpu_train0 = cpu;
		const char *w = strstr(text, "\nwork ");
		if (w && strlen(w + 6) > 64 && strspn(w + 6, "0123456789abcdef") == 64 &&
		    strncmp(w + 70, " committed", 10) == 0) {
			memcpy(m->work, w + 6, 64);
			m->work[64] = '\0';
			m->cpu_commit = cpu;
			m->t_line = bench_now();
			break;
		}
		if (waitpid(m->pid, &st, WNOHANG) == m->pid)
			die("iolm-miner exited (status %d):\n%s", st, text);
		if (bench_now() > deadline)
			die("timed out after %.0f s waiting for the miner's work:\n%s", timeout_s, text);
		if (bench_now() > next_progress) {
			size_t n = strlen(text);
			while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
				n--;
			size_t b = n;
			while (b && text[b - 1] != '\n' && text[b - 1] != '\r')
				b--;
			progress("  miner: %.*s", (int)(n - b), text + b);
			next_progress = bench_now() + 10.0;
		}
		devnet_check_nodes(&M.net, "the miner's work");
		devnet_check_interrupt();
		devnet_sleep(POLL_S);
	}
	if (m->cpu_train0 < 0 || m->cpu_commit < 0)
		die("could not read the miner's CPU time from /proc/%d/stat", (int)m->pid);
}

struct decided {
	double t_seen, t_decided;      /* bench_now() of the first sight and of the decision */
	int64_t commit_height, decided_height;
	char status[16];
};

/* Poll GET /work/{id} on node0 until the work is decided. */
static void wait_decided(const char *work, struct decided *d)
{
	char path[96];
	double deadline = bench_now() + ATTEST_TIMEOUT_MS / 1000.0 + 60.0;
	snprintf(path, sizeof path, "/work/%s", work);
	memset(d, 0, sizeof *d);
	for (;;) {
		json_t *j = get_json(0, path);
		double now = bench_now();
		const char *st = j ? json_string_value(json_object_get(j, "status_name")) : NULL;
		if (st && !d->t_seen) {
			d->t_seen = now;
			d->commit_height = (int64_t)json_integer_value(json_object_get(j, "commit_height"));
		}
		if (st && strcmp(st, "pending") != 0) {
			d->t_decided = now;
			d->decided_height =
				(int64_t)json_integer_value(json_object_get(j, "decided_height"));
			snprintf(d->status, sizeof d->status, "%s", st);
			json_decref(j);
			return;
		}
		json_decref(j);
		if (now > deadline)
			die("work %.16s not decided within %.0f s", work, deadline - d->t_seen);
		devnet_check_nodes(&M.net, "the work to be decided");
		devnet_check_interrupt();
		devnet_sleep(POLL_S);
	}
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv), keep = 0;
	const char *dir = "/tmp", *iolmd = IOLM_IOLMD_PATH;
	const struct mcfg *c = quick ? &CFG_QUICK : &CFG_FULL;
	char task_id[160];
	struct mined m;
	struct decided d;
	struct vstats before[NV], after[NV];
	double proc0[NV], proc1[NV];

	M.miner = IOLM_MINER_PATH;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--iolmd") == 0 && i + 1 < argc)
			iolmd = argv[++i];
		else if (strcmp(argv[i], "--miner") == 0 && i + 1 < argc)
			M.miner = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
	}
	double t_start = bench_now();
	if (iolm_crypto_init())
		return 1;
	devnet_init(&M.net, "bench_mining", iolmd, keep);
	if (access(M.miner, X_OK) != 0)
		die("no iolm-miner at %s (--miner PATH)", M.miner);

	start_devnet(dir);
	progress("devnet of %d validators in %s, up after %.1f s", NV, M.net.dir,
		 bench_now() - t_start);
	snprintf(M.train, sizeof M.train, "%s/train.txt", M.net.dir);
	snprintf(M.eval, sizeof M.eval, "%s/eval.txt", M.net.dir);
	write_corpus(c->corpus_lines);
	create_task(c, task_id, sizeof task_id);
	progress("task %.16s (%s): L=%u C=%u NH=%u T=%u B=%u, k=%u, s=%u; mining %u steps (%u "
		 "segments, bare re-execution share s/segments = %.4f)",
		 task_id, c->name, c->n_layer, c->n_embd, c->n_head, c->seq_len, c->batch,
		 c->seg_len, c->samples, c->steps, c->steps / c->seg_len,
		 (double)c->samples * c->seg_len / c->steps);

	for (int i = 0; i < NV; i++)
		verify_stats(i, &before[i]);
	memset(&m, 0, sizeof m);
	m.pid = start_miner(c, task_id, m.log, sizeof m.log);
	follow_miner(&m, quick ? 60.0 : 1800.0);
	for (int i = 0; i < NV; i++)
		proc0[i] = proc_cpu_s(M.net.nodes[i].pid);
	progress("work %.16s committed by the miner after %.1f s of CPU", m.work,
		 m.cpu_commit - m.cpu_train0);

	wait_decided(m.work, &d);
	if (strcmp(d.status, "accepted") != 0)
		die("the work was %s, not accepted", d.status);
	progress("  accepted: committed at height %lld (seen %.2f s after the miner's line), "
		 "decided at height %lld, %.2f s later",
		 (long long)d.commit_height, d.t_seen - m.t_line, (long long)d.decided_height,
		 d.t_decided - d.t_seen);

	/* Acceptance needs three of the four verdicts: wait for the fourth as well. */
	double deadline = bench_now() + 60.0;
	for (int i = 0; i < NV; i++) {
		for (;;) {
			verify_stats(i, &after[i]);
			if (after[i].verified > before[i].verified)
				break;
			if (bench_now() > deadline)
				die("node%d did not verify the work within 60 s of its acceptance", i);
			devnet_check_interrupt();
			devnet_sleep(0.1);
		}
		proc1[i] = proc_cpu_s(M.net.nodes[i].pid);
	}
	double verify_sum = 0;
	for (int i = 0; i < NV; i++) {
		double v = after[i].cpu_s - before[i].cpu_s;
		progress("  node%d: %.3f s verifying (iolmd used %.2f s of CPU in all meanwhile)", i,
			 v, proc1[i] - proc0[i]);
		verify_sum += v;
	}

	struct rusage ru;
	devnet_reap(&M.net, m.pid, 10.0, &ru);
	double miner_total = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	double train = m.cpu_commit - m.cpu_train0;
	progress("  miner: %.2f s of CPU for the work, %.2f s over its whole life (wait4)", train,
		 miner_total);
	if (train <= 0)
		die("the miner's CPU time for the work is %.3f s", train);

	bench_figure("verify_share_onchain", verify_sum / NV / train, "ratio", "goal",
		     GOAL_VERIFY_SHARE);
	bench_figure("verify_cpu_s_per_validator", verify_sum / NV, "s", NULL, 0);
	bench_figure("miner_train_cpu_s", train, "s", NULL, 0);
	bench_figure("work_accept_s", d.t_decided - d.t_seen, "s", "attest_timeout_s",
		     ATTEST_TIMEOUT_MS / 1000.0);

	for (int i = 0; i < NV; i++)
		devnet_stop(&M.net, &M.net.nodes[i], 15.0);
	for (int i = 0; i < NV; i++)
		iolm_httpc_destroy(M.rpc[i]);
	progress("done in %.1f s", bench_now() - t_start);
	return 0;
}
