/* iolmd tx: sign and submit transactions from the command line (until iolm-wallet).
 *
 *   iolmd tx transfer    --to ADDR --amount N
 *   iolmd tx task-create --task-file FILE --dataset ID --eval ID --pool N
 *                        [--designer-share-bps B] [--breakthrough-bps B]
 *                        [--margin-start-ppm P] [--margin-end-ppm P] [--margin-decay N]
 *                        [--bond-min N] [--deadline H] [--name TEXT]
 *   iolmd tx model-pay   --task ID --amount N
 *   iolmd tx work-commit --task ID [--parent ID] --start N --steps N --proof-root H
 *                        --final-state H --checkpoint ID --eval-loss N --bond N --endpoint URL
 * common: --rpc HOST:PORT --cookie FILE --key FILE [--fee N] [--wait]
 * The model, optimizer, batch, k and s of a task come from a task file
 * (docs/compute.md "Task file"). Prints the transaction id (for task-create: the task id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compute/compute.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/tx.h"
#include "node/cli.h"
#include "core/httpc.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: iolmd tx transfer --to ADDR --amount N\n"
		"       iolmd tx task-create --task-file FILE --dataset ID --eval ID --pool N\n"
		"            [--designer-share-bps B] [--breakthrough-bps B] [--margin-start-ppm P]\n"
		"            [--margin-end-ppm P] [--margin-decay N] [--bond-min N] [--deadline H]\n"
		"            [--name TEXT]\n"
		"       iolmd tx model-pay --task ID --amount N\n"
		"       iolmd tx work-commit --task ID [--parent ID] --start N --steps N\n"
		"            --proof-root H --final-state H --checkpoint ID --eval-loss N --bond N\n"
		"            --endpoint URL\n"
		"  common: --rpc HOST:PORT --cookie FILE --key FILE [--fee N] [--wait]\n");
	return 2;
}

static int num(int argc, char **argv, const char *name, uint64_t def, uint64_t *out)
{
	const char *v = cli_opt(argc, argv, name);
	char *end;
	if (!v) {
		*out = def;
		return 0;
	}
	*out = strtoull(v, &end, 10);
	return *end || end == v ? -1 : 0;
}

static json_t *get_json(iolm_httpc *c, const char *path, int *status)
{
	iolm_buf out;
	json_t *j = NULL;
	iolm_buf_init(&out, 16u << 20);
	if (iolm_httpc_request(c, "GET", path, NULL, NULL, 0, status, &out, 10000) == IOLM_OK)
		j = json_loadb((const char *)out.data, out.len, 0, NULL);
	iolm_buf_release(&out, 0);
	return j;
}

static int submit(iolm_httpc *c, const char *token, Iolm__TxBody *b, const iolm_key *key,
		  const char *chain, int wait)
{
	iolm_buf tx, out;
	uint8_t id[32];
	char idhex[65], *hex, path[100];
	int status, rc;

	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	iolm_buf_init(&out, 1 << 16);
	if ((rc = ledger_tx_sign(&tx, b, key, chain)))
		goto out;
	iolm_hash(id, IOLM_TAG_TX, tx.data, tx.len);
	iolm_hex_encode(idhex, sizeof idhex, id, 32);
	hex = malloc(2 * tx.len + 1);
	rc = IOLM_ENOMEM;
	if (!hex)
		goto out;
	iolm_hex_encode(hex, 2 * tx.len + 1, tx.data, tx.len);
	rc = iolm_httpc_request(c, "POST", "/tx", token, hex, 2 * tx.len, &status, &out, 10000);
	free(hex);
	if (rc)
		goto out;
	if (status != 200) {
		fprintf(stderr, "iolmd: refused (HTTP %d): %.*s\n", status, (int)out.len, out.data);
		rc = IOLM_EINVAL;
		goto out;
	}
	printf("%s\n", idhex);
	fflush(stdout);
	snprintf(path, sizeof path, "/tx/%s", idhex);
	for (int i = 0; wait && i < 600; i++) {
		json_t *j = get_json(c, path, &status);
		const char *st = j ? json_string_value(json_object_get(j, "status")) : NULL;
		int done = st && !strcmp(st, "committed");
		json_decref(j);
		if (done)
			goto out;
		iolm_sleep_ms(100);
	}
	if (wait) {
		fprintf(stderr, "iolmd: not committed within 60 s\n");
		rc = IOLM_ETIMEOUT;
	}
out:
	iolm_buf_release(&tx, 0);
	iolm_buf_release(&out, 0);
	return rc;
}

/* A task file for a task not created yet: its id and data paths do not exist yet, so
 * the keys the parser requires get placeholders when the file leaves them out. */
static int read_task_file(compute_task_file *tf, unsigned *bad, const char *path)
{
	char text[COMPUTE_TASK_FILE_MAX + 256];
	FILE *f = fopen(path, "r");
	size_t n;
	*bad = 0;
	if (!f)
		return IOLM_ENOTFOUND;
	n = fread(text, 1, COMPUTE_TASK_FILE_MAX, f);
	fclose(f);
	text[n] = '\0';
	if (!strstr(text, "task_id"))
		n += (size_t)snprintf(text + n, sizeof text - n, "\ntask_id = %064d\n", 0);
	if (!strstr(text, "dataset"))
		n += (size_t)snprintf(text + n, sizeof text - n, "\ndataset = -\n");
	return compute_task_file_parse(tf, bad, text, n);
}

static int parse_art(uint8_t out[LEDGER_ARTIFACT_ID_LEN], const char *hex)
{
	return hex ? iolm_hex_decode_exact(out, LEDGER_ARTIFACT_ID_LEN, hex) : -1;
}

int cli_tx(int argc, char **argv)
{
	const char *verb = argc > 2 ? argv[2] : NULL, *rpc = cli_opt(argc, argv, "--rpc");
	const char *cookie = cli_opt(argc, argv, "--cookie"), *keyf = cli_opt(argc, argv, "--key");
	char host[256], token[65], path[200], addr[IOLM_ADDR_STRLEN + 1];
	uint8_t me[IOLM_ADDR_LEN];
	uint64_t fee, port;
	iolm_httpc *c = NULL;
	iolm_key key;
	json_t *j = NULL;
	int status, rc = 1, wait = 0;

	for (int i = 2; i < argc; i++)
		wait |= !strcmp(argv[i], "--wait");
	const char *colon = rpc ? strrchr(rpc, ':') : NULL;
	if (!verb || !colon || !cookie || !keyf || (size_t)(colon - rpc) >= sizeof host ||
	    num(argc, argv, "--fee", 1, &fee))
		return usage();
	memcpy(host, rpc, (size_t)(colon - rpc));
	host[colon - rpc] = '\0';
	port = strtoull(colon + 1, NULL, 10);
	if (iolm_httpc_read_cookie(token, cookie) || iolm_key_load(&key, keyf)) {
		fprintf(stderr, "iolmd: cannot read %s or %s\n", cookie, keyf);
		return 1;
	}
	if (port == 0 || port > 65535 || iolm_httpc_create(&c, host, (uint16_t)port))
		goto out;
	iolm_addr_from_pub(me, iolm_key_pub(&key));
	iolm_addr_encode(addr, me);
	snprintf(path, sizeof path, "/account/%s", addr);
	json_t *acct = get_json(c, path, &status);
	j = get_json(c, "/status", &status);
	if (!acct || !j) {
		fprintf(stderr, "iolmd: no answer from %s\n", rpc);
		json_decref(acct);
		goto out;
	}
	uint64_t nonce = (uint64_t)json_integer_value(json_object_get(acct, "nonce"));
	json_decref(acct);
	const char *chain = json_string_value(json_object_get(j, "chain_id"));

	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	b.nonce = nonce;
	b.fee = fee;
	if (!strcmp(verb, "transfer")) {
		Iolm__Transfer t = IOLM__TRANSFER__INIT;
		uint8_t to[IOLM_ADDR_LEN];
		const char *toa = cli_opt(argc, argv, "--to");
		if (!toa || iolm_addr_decode(to, toa) || num(argc, argv, "--amount", 0, &t.amount)) {
			rc = usage();
			goto out;
		}
		t.to.data = to;
		t.to.len = IOLM_ADDR_LEN;
		b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
		b.transfer = &t;
		rc = submit(c, token, &b, &key, chain, wait) ? 1 : 0;
	} else if (!strcmp(verb, "model-pay")) {
		Iolm__ModelPay p = IOLM__MODEL_PAY__INIT;
		uint8_t task[32];
		const char *th = cli_opt(argc, argv, "--task");
		if (!th || iolm_hex_decode_exact(task, 32, th) ||
		    num(argc, argv, "--amount", 0, &p.amount)) {
			rc = usage();
			goto out;
		}
		p.task_id.data = task;
		p.task_id.len = 32;
		b.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
		b.model_pay = &p;
		rc = submit(c, token, &b, &key, chain, wait) ? 1 : 0;
	} else if (!strcmp(verb, "work-commit")) {
		/* every field explicit: for operators and tests (a miner sends its own) */
		Iolm__WorkCommit w = IOLM__WORK_COMMIT__INIT;
		uint8_t task[32], parent[32], root[32], fin[32], ck[LEDGER_ARTIFACT_ID_LEN];
		const char *ph = cli_opt(argc, argv, "--parent");
		if (!cli_opt(argc, argv, "--task") ||
		    iolm_hex_decode_exact(task, 32, cli_opt(argc, argv, "--task")) ||
		    (ph && iolm_hex_decode_exact(parent, 32, ph)) ||
		    !cli_opt(argc, argv, "--proof-root") ||
		    iolm_hex_decode_exact(root, 32, cli_opt(argc, argv, "--proof-root")) ||
		    !cli_opt(argc, argv, "--final-state") ||
		    iolm_hex_decode_exact(fin, 32, cli_opt(argc, argv, "--final-state")) ||
		    parse_art(ck, cli_opt(argc, argv, "--checkpoint")) ||
		    num(argc, argv, "--start", 0, &w.start_step) ||
		    num(argc, argv, "--steps", 0, &w.steps) ||
		    num(argc, argv, "--eval-loss", 0, &w.eval_loss) ||
		    num(argc, argv, "--bond", 0, &w.bond) || !cli_opt(argc, argv, "--endpoint")) {
			rc = usage();
			goto out;
		}
		w.task_id.data = task;
		w.task_id.len = 32;
		if (ph) {
			w.parent_work.data = parent;
			w.parent_work.len = 32;
		}
		w.proof_root.data = root;
		w.proof_root.len = 32;
		w.final_state.data = fin;
		w.final_state.len = 32;
		w.checkpoint_id.data = ck;
		w.checkpoint_id.len = sizeof ck;
		w.endpoint = (char *)cli_opt(argc, argv, "--endpoint");
		b.kind_case = IOLM__TX_BODY__KIND_WORK_COMMIT;
		b.work_commit = &w;
		rc = submit(c, token, &b, &key, chain, wait) ? 1 : 0;
	} else if (!strcmp(verb, "task-create")) {
		compute_task_file tf;
		unsigned bad = 0;
		uint8_t ds[LEDGER_ARTIFACT_ID_LEN], ev[LEDGER_ARTIFACT_ID_LEN];
		uint64_t v[8];
		const char *tfp = cli_opt(argc, argv, "--task-file");
		if (!tfp || read_task_file(&tf, &bad, tfp)) {
			fprintf(stderr, "iolmd: task file %s: bad line %u\n", tfp ? tfp : "(none)", bad);
			rc = usage();
			goto out;
		}
		if (parse_art(ds, cli_opt(argc, argv, "--dataset")) ||
		    parse_art(ev, cli_opt(argc, argv, "--eval")) ||
		    num(argc, argv, "--pool", 0, &v[0]) ||
		    num(argc, argv, "--designer-share-bps", 2000, &v[1]) ||
		    num(argc, argv, "--breakthrough-bps", 1000, &v[2]) ||
		    num(argc, argv, "--margin-start-ppm", 5000, &v[3]) ||
		    num(argc, argv, "--margin-end-ppm", 100, &v[4]) ||
		    num(argc, argv, "--margin-decay", 10000, &v[5]) ||
		    num(argc, argv, "--bond-min", 1000, &v[6]) ||
		    num(argc, argv, "--deadline", 0, &v[7])) {
			rc = usage();
			goto out;
		}
		Iolm__ModelConfig mc = IOLM__MODEL_CONFIG__INIT;
		Iolm__OptimConfig oc = IOLM__OPTIM_CONFIG__INIT;
		Iolm__TaskCreate tc = IOLM__TASK_CREATE__INIT;
		mc.n_layer = tf.task.cfg.n_layer;
		mc.n_embd = tf.task.cfg.n_embd;
		mc.n_head = tf.task.cfg.n_head;
		mc.seq_len = tf.task.cfg.seq_len;
		mc.vocab = COMPUTE_VOCAB;
		mc.init_seed = tf.task.cfg.init_seed;
		oc.lr = tf.task.opt.lr;
		oc.beta1 = tf.task.opt.beta1;
		oc.beta2 = tf.task.opt.beta2;
		oc.eps = tf.task.opt.eps;
		oc.weight_decay = tf.task.opt.weight_decay;
		oc.warmup_steps = tf.task.opt.warmup_steps;
		oc.total_steps = tf.task.opt.total_steps ? tf.task.opt.total_steps : 1000000;
		oc.grad_clip = tf.task.opt.grad_clip;
		tc.model = &mc;
		tc.optim = &oc;
		tc.batch_size = tf.task.batch;
		tc.dataset_id.data = ds;
		tc.dataset_id.len = sizeof ds;
		tc.eval_id.data = ev;
		tc.eval_id.len = sizeof ev;
		tc.segment_len = tf.task.seg_len;
		tc.samples = tf.task.samples;
		tc.reward_pool = v[0];
		tc.designer_share_bps = (uint32_t)v[1];
		tc.breakthrough_bps = (uint32_t)v[2];
		tc.margin_start_ppm = (uint32_t)v[3];
		tc.margin_end_ppm = (uint32_t)v[4];
		tc.margin_decay_blocks = v[5];
		tc.bond_min = v[6];
		tc.deadline_height = v[7];
		tc.name = (char *)(cli_opt(argc, argv, "--name") ? cli_opt(argc, argv, "--name") : "");
		b.kind_case = IOLM__TX_BODY__KIND_TASK_CREATE;
		b.task_create = &tc;
		rc = submit(c, token, &b, &key, chain, wait) ? 1 : 0;
	} else {
		rc = usage();
	}
out:
	json_decref(j);
	iolm_httpc_destroy(c);
	iolm_key_wipe(&key);
	return rc;
}
