/* iolm-miner mine's run directories (miner_int.h "miner_runs.c"): numbering them,
 * finding the one a stopped miner left unfinished, serving again the works earlier runs
 * committed, and --keep-runs. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hex.h"
#include "node/miner_int.h"

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

/* The run numbers of OUT/run-NNNN directories holding a work.txt (committed works), in
 * order, into a malloc'd *runs. */
static int committed_runs(const struct mine *m, unsigned **runs, size_t *n)
{
	DIR *d = opendir(m->o.out);
	struct dirent *e;
	size_t cap = 0;
	*runs = NULL;
	*n = 0;
	while (d && (e = readdir(d))) {
		char path[MINER_PATH_MAX + 300], *end;
		struct stat sb;
		unsigned long v;
		if (strncmp(e->d_name, "run-", 4) || !isdigit((unsigned char)e->d_name[4]))
			continue;
		v = strtoul(e->d_name + 4, &end, 10);
		snprintf(path, sizeof path, "%s/%s/work.txt", m->o.out, e->d_name);
		if (*end || v >= 100000 || stat(path, &sb) != 0)
			continue;
		if (*n == cap) {
			unsigned *r = realloc(*runs, (cap = cap ? 2 * cap : 64) * sizeof *r);
			if (!r) {
				closedir(d);
				return IOLM_ENOMEM;
			}
			*runs = r;
		}
		(*runs)[(*n)++] = (unsigned)v;
	}
	if (d)
		closedir(d);
	if (*n)
		qsort(*runs, *n, sizeof **runs, cmp_unsigned);
	return IOLM_OK;
}

/* A run's work.txt into w (its id and steps; dir set already). */
static int read_work_note(struct own_work *w)
{
	char path[MINER_PATH_MAX + 16], hex[80] = "";
	unsigned long long a = 0, b = 0;
	snprintf(path, sizeof path, "%s/work.txt", w->dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return IOLM_EIO;
	int got = fscanf(f, "work_id %79s parent %*s start_step %llu end_step %llu", hex, &a, &b);
	fclose(f);
	if (got != 3 || iolm_hex_decode_exact(w->id, 32, hex) || b <= a)
		return IOLM_EDECODE;
	w->start_step = a;
	w->end_step = b;
	return IOLM_OK;
}

/* The works earlier runs committed (OUT/run-NNNN/work.txt): served again, since
 * validators may still be verifying them and other miners extending them, and followed
 * like this run's. m->works gets room for them and for this run's rounds. */
int miner_restore_works(struct mine *m)
{
	unsigned *runs;
	size_t n, pending = 0;
	int err = committed_runs(m, &runs, &n);
	if (err)
		return err;
	if (!(m->works = calloc(n + m->o.rounds, sizeof *m->works))) {
		free(runs);
		return IOLM_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct own_work *w = &m->works[m->nworks];
		snprintf(w->dir, sizeof w->dir, "%s/run-%04u", m->o.out, runs[i]);
		if (read_work_note(w)) {
			fprintf(stderr, "iolm-miner: %s/work.txt unreadable: not served\n", w->dir);
			continue;
		}
		if ((err = miner_server_add(m->srv, w->id, w->dir)))
			break;
		w->sent_ms = iolm_clock_wall_ms();
		if (!miner_rpc_work(&m->rpc, &w->last, w->id) &&
		    w->last.status <= MINER_WORK_PENDING)
			pending++;
		m->nworks++;
	}
	free(runs);
	if (!err && m->nworks)
		printf("serving %zu works committed by earlier runs in %s (%zu not decided yet)\n",
		       m->nworks, m->o.out, pending);
	return err;
}

/* A fresh run directory DIR/run-NNNN, numbered after every run-NNNN already in DIR (so a
 * number is never reused once --keep-runs deleted its run). */
int miner_run_dir(struct mine *m, char *dir, size_t cap)
{
	if (!m->next_run) {
		DIR *d = opendir(m->o.out);
		struct dirent *e;
		unsigned long v;
		char *end;
		m->next_run = 1;
		while (d && (e = readdir(d))) {
			if (strncmp(e->d_name, "run-", 4) || !isdigit((unsigned char)e->d_name[4]))
				continue;
			v = strtoul(e->d_name + 4, &end, 10);
			if (!*end && v < 100000 && v >= m->next_run)
				m->next_run = (unsigned)v + 1;
		}
		if (d)
			closedir(d);
	}
	for (unsigned i = m->next_run; i < 100000; i++) {
		int n = snprintf(dir, cap, "%s/run-%04u", m->o.out, i);
		if (n < 0 || (size_t)n >= cap)
			return IOLM_ETOOBIG;
		if (mkdir(dir, 0755) == 0) {
			m->next_run = i + 1;
			return IOLM_OK;
		}
		if (errno != EEXIST)
			return IOLM_EIO;
	}
	return IOLM_EEXIST;
}

/* The newest DIR/run-NNNN, when a stopped miner left it unfinished: a progress log, no
 * work.txt (never committed) and no `committing` (a commit perhaps sent: the same claim
 * must not go twice). 1 with its path in dir, else 0. */
int miner_unfinished_run(const struct mine *m, char *dir, size_t cap)
{
	DIR *d = opendir(m->o.out);
	struct dirent *e;
	unsigned long newest = 0, v;
	char *end;
	struct stat sb;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "run-", 4) || !isdigit((unsigned char)e->d_name[4]))
			continue;
		v = strtoul(e->d_name + 4, &end, 10);
		if (!*end && v < 100000 && v > newest)
			newest = v;
	}
	if (d)
		closedir(d);
	if (!newest)
		return 0;
	char log[MINER_PATH_MAX + 32], note[MINER_PATH_MAX + 32], sent[MINER_PATH_MAX + 32];
	snprintf(log, sizeof log, "%s/run-%04lu/progress.log", m->o.out, newest);
	snprintf(note, sizeof note, "%s/run-%04lu/work.txt", m->o.out, newest);
	snprintf(sent, sizeof sent, "%s/run-%04lu/committing", m->o.out, newest);
	if (stat(log, &sb) != 0 || stat(note, &sb) == 0)
		return 0;
	if (stat(sent, &sb) == 0) {
		printf("run-%04lu was being committed when the miner stopped: not resumed (its "
		       "work may be on chain; iolm-wallet works lists yours)\n", newest);
		return 0;
	}
	return snprintf(dir, cap, "%s/run-%04lu", m->o.out, newest) < (int)cap;
}

/* ---------------------------------------------------------------- --keep-runs */

/* Delete directory dir and the regular files in it (a run or a fetched parent: flat). */
int miner_remove_dir(const char *dir)
{
	char path[MINER_PATH_MAX + 256];
	struct dirent *e;
	DIR *d = opendir(dir);
	int err = IOLM_OK;
	if (!d)
		return errno == ENOENT ? IOLM_OK : IOLM_EIO;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
		    unlink(path) != 0)
			err = IOLM_EIO;
	}
	closedir(d);
	if (!err && rmdir(dir) != 0)
		err = IOLM_EIO;
	return err;
}

/* --keep-runs: the directories of decided works beyond the newest keep_runs go, but the
 * task's best work's (asked of the node; nothing goes when it cannot answer), and the
 * checkpoints fetched from other miners but the best's. */
void miner_prune(struct mine *m)
{
	uint8_t tid[32], best[32];
	char hex[65], name[80];
	unsigned runs = 0, parents = 0;
	struct dirent *e;
	DIR *d;
	int has_best;

	memcpy(tid, m->task.task.id, 32);
	if (miner_rpc_task(&m->rpc, &m->task, tid))
		return;
	has_best = m->task.has_best;
	memcpy(best, m->task.best_work, 32);
	for (size_t i = 0; i + m->o.keep_runs < m->nworks; i++) {
		struct own_work *w = &m->works[i];
		if (w->pruned || !miner_work_decided(w) || (has_best && !memcmp(w->id, best, 32)))
			continue;
		miner_server_remove(m->srv, w->id);
		if (miner_remove_dir(w->dir)) {
			fprintf(stderr, "iolm-miner: cannot delete %s: %s\n", w->dir, strerror(errno));
			continue;
		}
		w->pruned = 1;
		runs++;
	}
	iolm_hex_encode(hex, sizeof hex, best, 32);
	snprintf(name, sizeof name, "parent-%s", hex);
	if ((d = opendir(m->o.out))) {
		while ((e = readdir(d))) {
			char path[MINER_PATH_MAX + 128];
			if (strncmp(e->d_name, "parent-", 7) || strlen(e->d_name) != 7 + 64 ||
			    (has_best && !strcmp(e->d_name, name)))
				continue;
			snprintf(path, sizeof path, "%s/%s", m->o.out, e->d_name);
			if (miner_remove_dir(path) == IOLM_OK)
				parents++;
		}
		closedir(d);
	}
	if (runs || parents) {
		printf("kept the newest %" PRIu64 " runs and the task's best: deleted %u runs and "
		       "%u fetched parent checkpoints\n", m->o.keep_runs, runs, parents);
		fflush(stdout);
	}
}
