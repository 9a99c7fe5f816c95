/* iolm-miner mine: train on a task from the chain, commit the work, serve its proof,
 * and follow it until it is decided (docs/compute.md "Mining on chain").
 *
 *   iolm-miner mine --node HOST:PORT --cookie FILE --key FILE --task HEX
 *                   --steps N --listen HOST:PORT --out DIR
 *                   [--data TRAIN_FILE --eval EVAL_FILE] [--parent HEX|best|none]
 *                   [--bond N] [--fee N]
 *                   [--endpoint URL] [--device auto|cpu|cuda] [--threads N]
 *                   [--rounds R] [--follow SECONDS] [--keep-runs N]
 *
 * The data sets are the task's artifacts: --data and --eval name local copies (checked
 * against the task's ids); without them the node is asked for them (fetching them from
 * its peers first if it must) and they are kept in OUT/data. A round: pick the parent (none, the task's best, a given work, or from the second
 * round on the miner's own last accepted work); fetch the parent's final checkpoint from
 * the parent's endpoint and train from it (compute_miner_run checks its state against
 * the parent's committed final_state); commit {task, parent, steps, proof root, final
 * state, checkpoint artifact id, eval loss, bond, endpoint} signed with the miner's key;
 * serve the run's claim and checkpoints (miner_serve.c); follow the work's status and
 * the account's rewards once a second. The next round starts when the work is decided;
 * after the last one the miner keeps serving and following until Ctrl-C, or until
 * --follow SECONDS pass without a new event. With --keep-runs N, after each decided round
 * the run directories of decided works beyond the newest N are deleted, except the task's
 * best work, whose final checkpoint other miners fetch; so are fetched parents'
 * checkpoints other than the best's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "core/clock.h"
#include "core/hex.h"
#include "node/miner_int.h"

#define MINE_MAX_ROUNDS 1000u
#define MINE_DROP_S 60 /* a commit neither in the mempool nor in the state this long: dropped */

static void mine_usage(void)
{
	fprintf(stderr,
		"usage: iolm-miner mine --node HOST:PORT --cookie FILE --key FILE --task HEX\n"
		"         --steps N --listen HOST:PORT --out DIR [--data TRAIN_FILE --eval EVAL_FILE]\n"
		"         [--parent HEX|best|none] [--bond N] [--fee N] [--endpoint URL]\n"
		"         [--device auto|cpu|cuda] [--threads N] [--rounds R] [--follow SECONDS]\n"
		"         [--keep-runs N]\n");
}

static void on_signal(int sig)
{
	(void)sig;
	miner_stop = 1;
}

/* One "--name value" of mine (miner_parse_pairs). */
static int mine_opt(void *ctx, const char *k, const char *v)
{
	struct mine_opts *o = ctx;
	uint64_t t;
	int bad = 0;
	if (!strcmp(k, "--node")) o->node = v;
	else if (!strcmp(k, "--cookie")) o->cookie = v;
	else if (!strcmp(k, "--key")) o->keyfile = v;
	else if (!strcmp(k, "--task")) o->task_hex = v;
	else if (!strcmp(k, "--data")) o->data = v;
	else if (!strcmp(k, "--eval")) o->eval = v;
	else if (!strcmp(k, "--listen")) o->listen = v;
	else if (!strcmp(k, "--out")) o->out = v;
	else if (!strcmp(k, "--parent")) o->parent = v;
	else if (!strcmp(k, "--device")) o->device = v;
	else if (!strcmp(k, "--endpoint")) o->endpoint = v;
	else if (!strcmp(k, "--steps")) bad = miner_parse_u64(&o->steps, v);
	else if (!strcmp(k, "--bond")) bad = miner_parse_u64(&o->bond, v);
	else if (!strcmp(k, "--fee")) bad = miner_parse_u64(&o->fee, v);
	else if (!strcmp(k, "--rounds")) bad = miner_parse_u64(&o->rounds, v);
	else if (!strcmp(k, "--follow")) bad = miner_parse_u64(&o->follow, v);
	else if (!strcmp(k, "--keep-runs"))
		bad = miner_parse_u64(&o->keep_runs, v) || o->keep_runs < 1;
	else if (!strcmp(k, "--threads")) {
		bad = miner_parse_u64(&t, v) || t < 1 || t > 64;
		o->threads = (uint32_t)t;
	} else
		return -1;
	return bad ? 1 : 0;
}

static int parse_mine_opts(struct mine_opts *o, int argc, char **argv)
{
	*o = (struct mine_opts){ .parent = "best", .device = "auto", .fee = 1, .rounds = 1,
				 .threads = 1 };
	if (miner_parse_pairs(argc, argv, mine_opt, o))
		return IOLM_EINVAL;
	if (!o->node || !o->cookie || !o->keyfile || !o->task_hex || !o->listen || !o->out ||
	    o->steps == 0) {
		fprintf(stderr, "iolm-miner: mine needs --node, --cookie, --key, --task, --steps, "
				"--listen and --out\n");
		return IOLM_EINVAL;
	}
	if (o->rounds < 1 || o->rounds > MINE_MAX_ROUNDS) {
		fprintf(stderr, "iolm-miner: --rounds must be 1..%u\n", MINE_MAX_ROUNDS);
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

static void hex32(char out[static 65], const uint8_t id[static 32])
{
	iolm_hex_encode(out, 65, id, 32);
}

/* ---------------------------------------------------------------- set-up */

/* The artifact id of the local file at path (kind dataset) must be want. */
static int check_artifact(struct mine *m, const char *path, const uint8_t want[static ART_ID_LEN],
			  const char *what)
{
	uint8_t id[ART_ID_LEN];
	art_add_options ao = { .kind = ART_KIND_DATASET, .id_only = 1 };
	char got[2 * ART_ID_LEN + 1], exp[2 * ART_ID_LEN + 1];
	int err = art_store_add(m->store, id, NULL, path, &ao);
	if (err) {
		fprintf(stderr, "iolm-miner: %s %s: %s\n", what, path, iolm_strerror(err));
		return err;
	}
	if (memcmp(id, want, ART_ID_LEN) != 0) {
		iolm_hex_encode(got, sizeof got, id, ART_ID_LEN);
		iolm_hex_encode(exp, sizeof exp, want, ART_ID_LEN);
		fprintf(stderr, "iolm-miner: %s %s is not the task's %s artifact:\n"
				"  the file's artifact id is %s\n  the task names         %s\n"
				"  (the id covers the file's bytes and its base name)\n",
			what, path, what, got, exp);
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

/* Without --data (--eval): the task's data set through the node, which fetches it from
 * its peers when it lacks it, into OUT/data/<id>/<name> (path, MINER_PATH_MAX). */
static int data_from_node(struct mine *m, char *path, const uint8_t id[static ART_ID_LEN],
			  const char *what)
{
	char dir[MINER_PATH_MAX];
	int err;
	if (snprintf(dir, sizeof dir, "%s/data", m->o.out) >= (int)sizeof dir)
		return IOLM_ELENGTH;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "iolm-miner: cannot create %s: %s\n", dir, strerror(errno));
		return IOLM_EIO;
	}
	if ((err = miner_rpc_artifact(&m->rpc, id, dir, path, MINER_PATH_MAX, MINER_MAX_DATA))) {
		fprintf(stderr, "iolm-miner: the task's %s set from the node: %s\n", what,
			iolm_strerror(err));
		return err;
	}
	printf("%s set from the node: %s\n", what, path);
	fflush(stdout);
	return IOLM_OK;
}

/* The advertised endpoint: --endpoint, or "http://HOST:PORT" of --listen. */
static int make_endpoint(struct mine *m, const char *host, uint16_t port)
{
	char h[256];
	uint16_t p;
	int n;
	if (m->o.endpoint)
		n = snprintf(m->endpoint, sizeof m->endpoint, "%s", m->o.endpoint);
	else if (strchr(host, ':'))
		n = snprintf(m->endpoint, sizeof m->endpoint, "http://[%s]:%u", host, port);
	else
		n = snprintf(m->endpoint, sizeof m->endpoint, "http://%s:%u", host, port);
	/* in the form validators and wallets read (iolm_httpc_parse_url): another would
	 * never be fetched, and the work attested invalid */
	if (n < 0 || (size_t)n >= sizeof m->endpoint ||
	    iolm_httpc_parse_url(h, sizeof h, &p, m->endpoint)) {
		fprintf(stderr, "iolm-miner: the endpoint must be http://HOST:PORT of at most %u "
				"bytes\n", LEDGER_MAX_ENDPOINT);
		return IOLM_EINVAL;
	}
	if (!strncmp(m->endpoint, "http://0.0.0.0:", 15) || !strncmp(m->endpoint, "http://[::]:", 12))
		fprintf(stderr, "iolm-miner: warning: advertising %s, which validators cannot "
				"reach; give --endpoint\n", m->endpoint);
	return IOLM_OK;
}

static int setup_task(struct mine *m)
{
	uint8_t tid[32];
	char path[MINER_PATH_MAX];
	const compute_task *t;
	int err;

	if (iolm_hex_decode_exact(tid, 32, m->o.task_hex)) {
		fprintf(stderr, "iolm-miner: --task must be 64 hex digits\n");
		return IOLM_EINVAL;
	}
	if ((err = miner_rpc_task(&m->rpc, &m->task, tid))) {
		fprintf(stderr, "iolm-miner: task %s: %s\n", m->o.task_hex, iolm_strerror(err));
		return err;
	}
	t = &m->task.task;
	printf("task %s \"%s\": L=%u C=%u NH=%u T=%u, batch %u, k=%u, s=%u, lr %g, %" PRIu64
	       " total steps, bond_min %" PRIu64 "\n", m->o.task_hex, m->task.name, t->cfg.n_layer,
	       t->cfg.n_embd, t->cfg.n_head, t->cfg.seq_len, t->batch, t->seg_len, t->samples,
	       (double)t->opt.lr, m->task.total_steps, m->task.bond_min);
	if (m->o.steps % t->seg_len != 0) {
		fprintf(stderr, "iolm-miner: --steps %" PRIu64 " is not a multiple of the task's "
				"segment_len %u\n", m->o.steps, t->seg_len);
		return IOLM_EINVAL;
	}
	if (m->o.bond == 0)
		m->o.bond = m->task.bond_min ? m->task.bond_min : 1;
	if (m->o.bond < m->task.bond_min) {
		fprintf(stderr, "iolm-miner: --bond %" PRIu64 " is below the task's bond_min %" PRIu64
				"\n", m->o.bond, m->task.bond_min);
		return IOLM_EINVAL;
	}
	if (mkdir(m->o.out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "iolm-miner: cannot create %s: %s\n", m->o.out, strerror(errno));
		return IOLM_EIO;
	}
	snprintf(path, sizeof path, "%s/art-store", m->o.out);
	if ((err = art_store_open(&m->store, path, NULL))) {
		fprintf(stderr, "iolm-miner: artifact store %s: %s\n", path, iolm_strerror(err));
		return err;
	}
	if ((!m->o.data && (err = data_from_node(m, m->data_path, m->task.dataset_id,
						 "dataset"))) ||
	    (!m->o.eval && (err = data_from_node(m, m->eval_path, m->task.eval_id, "eval"))))
		return err;
	if (!m->o.data)
		m->o.data = m->data_path;
	if (!m->o.eval)
		m->o.eval = m->eval_path;
	if ((err = check_artifact(m, m->o.data, m->task.dataset_id, "dataset")) ||
	    (err = check_artifact(m, m->o.eval, m->task.eval_id, "eval")))
		return err;
	if ((err = miner_read_file(&m->train, &m->train_len, m->o.data, MINER_MAX_DATA)) ||
	    (err = miner_read_file(&m->eval, &m->eval_len, m->o.eval, MINER_MAX_DATA))) {
		fprintf(stderr, "iolm-miner: reading the data: %s\n", iolm_strerror(err));
		return err;
	}
	return IOLM_OK;
}

static int setup(struct mine *m)
{
	char host[256];
	uint16_t port;
	int err;

	if ((err = iolm_key_load(&m->key, m->o.keyfile))) {
		fprintf(stderr, "iolm-miner: key %s: %s\n", m->o.keyfile, iolm_strerror(err));
		return err;
	}
	iolm_addr_from_pub(m->acct, iolm_key_pub(&m->key));
	iolm_addr_encode(m->addr, m->acct);
	if ((err = miner_split_hostport(host, sizeof host, &port, m->o.listen))) {
		fprintf(stderr, "iolm-miner: --listen must be HOST:PORT, not '%s'\n", m->o.listen);
		return err;
	}
	if ((err = make_endpoint(m, host, port)) ||
	    (err = miner_rpc_open(&m->rpc, m->o.node, m->o.cookie)) || (err = setup_task(m)))
		return err;
	if ((err = miner_devices_open(&m->dev, m->o.device, m->o.threads,
				      m->task.task.batch)))
		return err;
	if ((err = miner_server_start(&m->srv, host, port)) || (err = miner_restore_works(m)))
		return err;
	printf("miner %s on chain %s, serving %s, %s backend\n", m->addr, m->rpc.chain_id,
	       m->endpoint, m->dev.name);
	fflush(stdout);
	return IOLM_OK;
}

/* ---------------------------------------------------------------- a round */

struct parent {
	int has;
	uint8_t id[32];
	uint64_t step;
	uint8_t state[32];
	uint8_t ckpt_id[ART_ID_LEN]; /* its artifact id, as the work committed it */
	char ckpt[MINER_PATH_MAX];
};

static struct own_work *own_find(struct mine *m, const uint8_t id[static 32])
{
	for (size_t i = 0; i < m->nworks; i++)
		if (memcmp(m->works[i].id, id, 32) == 0)
			return &m->works[i];
	return NULL;
}


/* The parent's final checkpoint through the node instead: the validators that verified
 * the work keep it in their artifact stores (docs/artifacts.md "Checkpoints"), so the
 * node fetches it from its peers when it lacks it. The file lands in dir/<id hex>/ and
 * moves to p->ckpt once its artifact id checks out. A download the connection cut
 * leaves its piece there (NAME.part), which the next try resumes; a file that does not
 * check out is removed, and when it grew from such a piece, fetched once more whole. */
static int parent_from_node(struct mine *m, struct parent *p, const char *dir)
{
	char hex[2 * ART_ID_LEN + 1], sub[MINER_PATH_MAX + 2 * ART_ID_LEN + 2];
	char got_path[MINER_PATH_MAX + 512];
	uint8_t got[ART_ID_LEN];
	struct stat sb;
	int err, piece;
	iolm_hex_encode(hex, sizeof hex, p->ckpt_id, ART_ID_LEN);
	snprintf(sub, sizeof sub, "%s/%s", dir, hex);
	piece = stat(sub, &sb) == 0;
	printf("fetching the parent's checkpoint %.20s... through the node%s\n", hex,
	       piece ? " (resuming)" : "");
	fflush(stdout);
again:
	if ((err = miner_rpc_artifact(&m->rpc, p->ckpt_id, dir, got_path, sizeof got_path,
				      (size_t)COMPUTE_CKPT_MAX)))
		return err; /* a piece stays for the next try */
	if ((err = art_file_id(got, got_path, NULL, ART_KIND_CHECKPOINT)) ||
	    memcmp(got, p->ckpt_id, ART_ID_LEN) != 0) {
		err = err ? err : IOLM_EART_CORRUPT;
		if (miner_remove_dir(sub))
			return IOLM_EIO;
		if (piece) {
			piece = 0;
			goto again;
		}
		return err;
	}
	if (rename(got_path, p->ckpt) != 0)
		err = IOLM_EIO;
	if (miner_remove_dir(sub) && !err)
		err = IOLM_EIO;
	if (!err)
		printf("the parent's checkpoint from the node: %s\n", p->ckpt);
	return err;
}

/* The parent's final checkpoint into p->ckpt: our own run's file, or fetched into
 * DIR/parent-<id>/ from the parent's endpoint or, when that fails (its miner gone),
 * through the node. */
static int parent_checkpoint(struct mine *m, struct parent *p, const char *endpoint)
{
	char dir[MINER_PATH_MAX], hex[65], path[128];
	const struct own_work *w = own_find(m, p->id);
	int err, err2;

	if (w)
		return compute_checkpoint_name(p->ckpt, sizeof p->ckpt, w->dir, p->step);
	hex32(hex, p->id);
	snprintf(dir, sizeof dir, "%s/parent-%s", m->o.out, hex);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return IOLM_EIO;
	if ((err = compute_checkpoint_name(p->ckpt, sizeof p->ckpt, dir, p->step)))
		return err;
	snprintf(path, sizeof path, "/ckpt/%s/%" PRIu64, hex, p->step);
	printf("fetching the parent's checkpoint %s%s\n", endpoint, path);
	fflush(stdout);
	if (!(err = miner_http_fetch(endpoint, path, p->ckpt, (size_t)COMPUTE_CKPT_MAX)))
		return IOLM_OK;
	fprintf(stderr, "iolm-miner: GET %s%s: %s\n", endpoint, path, iolm_strerror(err));
	if (!(err2 = parent_from_node(m, p, dir)))
		return IOLM_OK;
	fprintf(stderr, "iolm-miner: the parent's checkpoint through the node: %s (neither its "
			"miner nor the node's peers have it; try --parent none or another work)\n",
		iolm_strerror(err2));
	return err2;
}

/* Resolve spec ("none", "best" or a work id) into p. */
static int choose_parent(struct mine *m, struct parent *p, const char *spec)
{
	miner_work w;
	char hex[65];
	int err;

	memset(p, 0, sizeof *p);
	if (!strcmp(spec, "none"))
		return IOLM_OK;
	if (!strcmp(spec, "best")) {
		uint8_t tid[32];
		memcpy(tid, m->task.task.id, 32); /* miner_rpc_task clears its output first */
		if ((err = miner_rpc_task(&m->rpc, &m->task, tid)))
			return err;
		if (!m->task.has_best) {
			printf("the task has no accepted work yet: training from step 0\n");
			return IOLM_OK;
		}
		memcpy(p->id, m->task.best_work, 32);
	} else if (iolm_hex_decode_exact(p->id, 32, spec)) {
		fprintf(stderr, "iolm-miner: --parent must be none, best or a 64-hex-digit work id\n");
		return IOLM_EINVAL;
	}
	hex32(hex, p->id);
	if ((err = miner_rpc_work(&m->rpc, &w, p->id)))
		return err;
	if (w.status == MINER_WORK_UNSEEN || memcmp(w.task_id, m->task.task.id, 32) != 0 ||
	    w.status == MINER_WORK_REJECTED || w.status == MINER_WORK_SLASHED) {
		fprintf(stderr, "iolm-miner: parent %s is %s\n", hex,
			w.status == MINER_WORK_UNSEEN ? "not a work on chain"
			: w.status == MINER_WORK_REJECTED || w.status == MINER_WORK_SLASHED
				? "rejected or slashed"
				: "of another task");
		return IOLM_ELEDGER_PARENT;
	}
	p->has = 1;
	p->step = w.end_step;
	memcpy(p->state, w.final_state, 32);
	memcpy(p->ckpt_id, w.checkpoint_id, ART_ID_LEN);
	printf("parent %s: ends at step %" PRIu64 ", eval loss %" PRIu64 " micro-nats, %s\n", hex,
	       w.end_step, w.eval_loss, w.endpoint);
	return parent_checkpoint(m, p, w.endpoint);
}

/* DIR/run.txt: what a round trains (its parent, "none" or a work id, and its steps),
 * written when it starts, so a stopped run is resumed only by the same round. */
static void run_note_text(char *out, size_t cap, const struct parent *p, uint64_t steps)
{
	char hex[65];
	hex32(hex, p->id);
	snprintf(out, cap, "parent %s\nsteps %" PRIu64 "\n", p->has ? hex : "none", steps);
}

static int same_run(const char *dir, const char *want)
{
	char path[MINER_PATH_MAX + 16], got[256];
	snprintf(path, sizeof path, "%s/run.txt", dir);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
	if (f)
		fclose(f);
	got[n] = '\0';
	return n > 0 && strcmp(got, want) == 0;
}

static int write_run_note(const char *dir, const char *text)
{
	char path[MINER_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/run.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return IOLM_EIO;
	int bad = fputs(text, f) == EOF;
	return fclose(f) != 0 || bad ? IOLM_EIO : IOLM_OK;
}

static int commit_work(struct mine *m, struct own_work *ow, const struct parent *p,
		       const compute_miner_result *r, const uint8_t ckpt_id[static ART_ID_LEN])
{
	Iolm__TxBody body = IOLM__TX_BODY__INIT;
	Iolm__WorkCommit wc = IOLM__WORK_COMMIT__INIT;
	uint8_t proot[32], fstate[32], pid[32], cid[ART_ID_LEN];

	memcpy(proot, r->proof_root, 32);
	memcpy(fstate, r->final_state, 32);
	memcpy(pid, p->id, 32);
	memcpy(cid, ckpt_id, ART_ID_LEN);
	wc.task_id.data = m->task.task.id;
	wc.task_id.len = 32;
	if (p->has) {
		wc.parent_work.data = pid;
		wc.parent_work.len = 32;
	}
	wc.start_step = r->start_step;
	wc.steps = r->end_step - r->start_step;
	wc.proof_root.data = proot;
	wc.proof_root.len = 32;
	wc.final_state.data = fstate;
	wc.final_state.len = 32;
	wc.checkpoint_id.data = cid;
	wc.checkpoint_id.len = ART_ID_LEN;
	wc.eval_loss = r->eval_loss;
	wc.bond = m->o.bond;
	wc.endpoint = m->endpoint;
	body.kind_case = IOLM__TX_BODY__KIND_WORK_COMMIT;
	body.work_commit = &wc;
	return miner_rpc_send(&m->rpc, ow->id, &body, &m->key, m->o.fee);
}

static void write_work_note(const struct own_work *ow, const struct parent *p)
{
	char path[MINER_PATH_MAX + 16], hex[65], ph[65];
	snprintf(path, sizeof path, "%s/work.txt", ow->dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	hex32(hex, ow->id);
	hex32(ph, p->id);
	fprintf(f, "work_id %s\nparent %s\nstart_step %" PRIu64 "\nend_step %" PRIu64 "\n", hex,
		p->has ? ph : "none", ow->start_step, ow->end_step);
	fclose(f);
}

static int mine_round(struct mine *m, unsigned round, const char *parent_spec)
{
	struct parent p;
	struct own_work *ow = &m->works[m->nworks];
	compute_miner_result r;
	uint8_t ckpt_id[ART_ID_LEN];
	char ckpt[MINER_PATH_MAX], hex[65];
	/* the id alone: the file stays in its run directory, and no second copy is kept */
	art_add_options ao = { .kind = ART_KIND_CHECKPOINT, .id_only = 1 };
	int err;

	printf("round %u of %" PRIu64 "\n", round, m->o.rounds);
	if ((err = choose_parent(m, &p, parent_spec)))
		return err;
	/* The first round goes on with the run a stopped miner left when it trains the same
	 * parent and steps (compute_miner_run checks the rest: task, data, the starting
	 * state); a stopped run of another round stays as it was, for a restart that names
	 * its parent. */
	char note[200];
	run_note_text(note, sizeof note, &p, m->o.steps);
	int resume = round == 1 && miner_unfinished_run(m, ow->dir, sizeof ow->dir);
	if (resume && !same_run(ow->dir, note)) {
		printf("%s is a stopped run of another parent or --steps (its run.txt says); it "
		       "stays: start with those to resume it\n", ow->dir);
		resume = 0;
	}
	if ((!resume && (err = miner_run_dir(m, ow->dir, sizeof ow->dir))) ||
	    (err = write_run_note(ow->dir, note)))
		return err;
	compute_miner_params mp = {
		.task = &m->task.task, .train = m->train, .train_len = m->train_len,
		.eval = m->eval, .eval_len = m->eval_len, .parent_ckpt = p.has ? p.ckpt : NULL,
		.parent_state = p.has ? p.state : NULL, .parent_step = p.step,
		.steps = m->o.steps, .out_dir = ow->dir, .initial_eval = 1, .resume = resume,
		.progress = miner_print_progress,
	};
	if (p.step + m->o.steps > m->task.total_steps)
		fprintf(stderr, "iolm-miner: warning: steps past the task's total_steps %" PRIu64
				" train with learning rate 0\n", m->task.total_steps);
	printf("training steps [%" PRIu64 ", %" PRIu64 ") into %s%s\n", p.step, p.step + m->o.steps,
	       ow->dir, resume ? " (a stopped run's: resumed if it is this one)" : "");
	fflush(stdout);
	miner_devices_use(&m->dev, &mp);
	if ((err = compute_miner_run(&r, &mp))) {
		if (err == IOLM_EVERIFY_CKPT || err == IOLM_EVERIFY_SKIP)
			fprintf(stderr, "iolm-miner: the parent's checkpoint is not the state it "
					"committed: %s\n", iolm_strerror(err));
		return err;
	}
	if ((err = compute_checkpoint_name(ckpt, sizeof ckpt, ow->dir, r.end_step)) ||
	    (err = art_store_add(m->store, ckpt_id, NULL, ckpt, &ao)))
		return err;
	if (r.resumed_steps)
		printf("eval loss %.6f (%" PRIu64 " micro-nats); resumed: %" PRIu64 " of %" PRIu64
		       " steps were done before\n", (double)r.eval_loss_f, r.eval_loss,
		       r.resumed_steps, m->o.steps);
	else
		printf("eval loss %.6f (%" PRIu64 " micro-nats), from %.6f\n",
		       (double)r.eval_loss_f, r.eval_loss, (double)r.initial_eval_loss);
	ow->start_step = r.start_step;
	ow->end_step = r.end_step;
	/* From here until work.txt is written the work may be on its way to the chain: a
	 * miner stopped meanwhile must not commit the same claim again when it restarts
	 * (unfinished_run skips a run that holds this file). */
	char sending[MINER_PATH_MAX + 16];
	snprintf(sending, sizeof sending, "%s/committing", ow->dir);
	FILE *sf = fopen(sending, "w");
	if (!sf || fclose(sf) != 0)
		return IOLM_EIO;
	if ((err = commit_work(m, ow, &p, &r, ckpt_id))) {
		unlink(sending); /* refused, or never sent: the run may be resumed */
		return err;
	}
	ow->sent_ms = iolm_clock_wall_ms();
	m->nworks++;
	if ((err = miner_server_add(m->srv, ow->id, ow->dir)))
		return err;
	write_work_note(ow, &p);
	unlink(sending);
	hex32(hex, ow->id);
	printf("work %s committed: steps [%" PRIu64 ", %" PRIu64 "), bond %" PRIu64
	       ", serving %s/claim/%s\n", hex, r.start_step, r.end_step, m->o.bond, m->endpoint,
	       hex);
	fflush(stdout);
	return IOLM_OK;
}

/* ---------------------------------------------------------------- following */

static const char *status_name(const struct own_work *w)
{
	if (w->dropped)
		return "dropped";
	switch (w->last.status) {
	case MINER_WORK_PENDING: return "pending";
	case MINER_WORK_ACCEPTED: return "accepted";
	case MINER_WORK_REJECTED: return "rejected";
	case MINER_WORK_SLASHED: return "slashed";
	default: return "submitted";
	}
}


/* Poll one work; 1 when something about it changed (printed as an event line). */
static int poll_work(struct mine *m, struct own_work *w)
{
	miner_work now;
	char hex[65];
	int changed;

	if (miner_work_decided(w) && w->last.status != MINER_WORK_ACCEPTED)
		return 0; /* final: rejected, slashed or dropped */
	if (miner_rpc_work(&m->rpc, &now, w->id))
		return 0; /* the node is busy or away: try again next second */
	if (now.status == MINER_WORK_UNSEEN) {
		int where = miner_rpc_tx_status(&m->rpc, w->id);
		if (where == 0 && iolm_clock_wall_ms() - w->sent_ms > MINE_DROP_S * 1000ull) {
			w->dropped = 1;
			hex32(hex, w->id);
			printf("work %.16s… dropped: neither in the mempool nor on chain after %ds\n",
			       hex, MINE_DROP_S);
			return 1;
		}
		return 0;
	}
	changed = now.status != w->last.status || now.valid_power != w->last.valid_power ||
		  now.invalid_power != w->last.invalid_power || now.was_best != w->last.was_best;
	w->last = now;
	if (changed) {
		hex32(hex, w->id);
		printf("%swork %.16s… %s at height %" PRIu64 ": valid power %" PRIu64
		       ", invalid power %" PRIu64 "%s\n", m->tty ? "\r\033[K" : "", hex,
		       status_name(w), now.status == MINER_WORK_PENDING ? now.commit_height
									 : now.decided_height,
		       now.valid_power, now.invalid_power, now.was_best ? ", best model" : "");
	}
	return changed;
}

static int poll_rewards(struct mine *m)
{
	miner_rewards r;
	if (miner_rpc_rewards(&m->rpc, &r, m->acct))
		return 0;
	int changed = memcmp(&r, &m->rewards, sizeof r) != 0;
	m->rewards = r;
	return changed;
}

static void status_line(struct mine *m, uint64_t served)
{
	unsigned n[5] = { 0 }, dropped = 0;
	for (size_t i = 0; i < m->nworks; i++) {
		if (m->works[i].dropped)
			dropped++;
		else
			n[m->works[i].last.status]++;
	}
	printf("%sworks: %u pending, %u accepted, %u rejected, %u slashed%s | rewards: "
	       "breakthrough %" PRIu64 ", revenue %" PRIu64 ", bonds returned %" PRIu64
	       ", slashed %" PRIu64 " | balance %" PRIu64 " | served %" PRIu64 "%s",
	       m->tty ? "\r\033[K" : "", n[MINER_WORK_PENDING] + n[MINER_WORK_UNSEEN],
	       n[MINER_WORK_ACCEPTED], n[MINER_WORK_REJECTED], n[MINER_WORK_SLASHED],
	       dropped ? ", some dropped" : "", m->rewards.breakthrough, m->rewards.revenue,
	       m->rewards.bonds_returned, m->rewards.slashed, m->rewards.balance, served,
	       m->tty ? "" : "\n");
	fflush(stdout);
}

enum watch_end { WATCH_STOP, WATCH_DECIDED, WATCH_QUIET };

/* Follow the works and rewards once a second until: Ctrl-C; the newest work is decided
 * (when until_decided); or --follow seconds without an event. On a terminal the status
 * line is rewritten in place every second; otherwise it is printed on every event and
 * every ten seconds. */
static enum watch_end watch(struct mine *m, int until_decided)
{
	uint64_t last_event = iolm_clock_wall_ms(), last_line = 0, served0 = 0, refused0;
	struct own_work *cur = &m->works[m->nworks - 1];

	poll_rewards(m);
	miner_server_counts(m->srv, &served0, &refused0);
	while (!miner_stop) {
		uint64_t now = iolm_clock_wall_ms(), served, refused;
		int event = 0;
		/* undecided works, and the newest few accepted ones (which may still become
		 * the best): a long --rounds run does not poll its whole history */
		for (size_t i = 0; i < m->nworks; i++)
			if (!miner_work_decided(&m->works[i]) || i + 4 >= m->nworks)
				event |= poll_work(m, &m->works[i]);
		event |= poll_rewards(m);
		miner_server_counts(m->srv, &served, &refused);
		event |= served != served0;
		served0 = served;
		if (event)
			last_event = now;
		if (m->tty || event || now - last_line >= 10000) {
			status_line(m, served);
			last_line = now;
		}
		if (until_decided && miner_work_decided(cur))
			return WATCH_DECIDED;
		if (m->o.follow && now - last_event >= m->o.follow * 1000)
			return WATCH_QUIET;
		for (int i = 0; i < 10 && !miner_stop; i++)
			iolm_sleep_ms(100);
	}
	return WATCH_STOP;
}

/* ---------------------------------------------------------------- main */

static void mine_release(struct mine *m)
{
	miner_server_stop(m->srv);
	miner_devices_close(&m->dev);
	art_store_close(m->store);
	miner_rpc_close(&m->rpc);
	iolm_key_wipe(&m->key);
	free(m->works);
	free(m->train);
	free(m->eval);
}

int miner_mine_main(int argc, char **argv)
{
	struct mine *m = calloc(1, sizeof *m);
	struct sigaction sa;
	char parent[65];
	int err = IOLM_OK;
	enum watch_end end = WATCH_STOP;

	if (!m)
		return 1;
	if (parse_mine_opts(&m->o, argc, argv)) {
		mine_usage();
		free(m);
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->tty = isatty(STDOUT_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress and events in order with stderr */
	if (iolm_crypto_init() || (err = setup(m)))
		goto out;
	snprintf(parent, sizeof parent, "%s", m->o.parent);
	for (unsigned round = 1; round <= m->o.rounds && !miner_stop; round++) {
		if ((err = mine_round(m, round, parent)))
			break;
		end = watch(m, round < m->o.rounds);
		if (end != WATCH_DECIDED)
			break;
		if (m->o.keep_runs)
			miner_prune(m);
		/* the next round extends our own work once accepted, else the task's best */
		const struct own_work *w = &m->works[m->nworks - 1];
		if (w->last.status == MINER_WORK_ACCEPTED)
			hex32(parent, w->id);
		else
			snprintf(parent, sizeof parent, "best");
	}
	if (m->tty)
		printf("\n");
out:
	if (err == IOLM_ETIMEOUT && miner_stop)
		err = IOLM_OK; /* Ctrl-C during training */
	if (err)
		fprintf(stderr, "iolm-miner: %s (%s)\n", iolm_strerror(err), iolm_errname(err));
	else if (miner_stop)
		printf("iolm-miner: stopped\n");
	else if (end == WATCH_QUIET)
		printf("iolm-miner: no new event for %" PRIu64 " s: done\n", m->o.follow);
	mine_release(m);
	free(m);
	return err ? 1 : 0;
}
