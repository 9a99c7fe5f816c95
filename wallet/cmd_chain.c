/* Commands that read proved state or submit transactions: balance, send, model pay,
 * task create. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/codec.h"
#include "core/hex.h"
#include "ledger/tx.h"
#include "wallet/cli.h"

#define WAIT_MS 60000

static void account_json(json_t *o, const wallet_account *a)
{
	char addr[IOLM_ADDR_STRLEN + 1], bid[65], root[65];
	iolm_addr_encode(addr, a->id);
	iolm_hex_encode(bid, sizeof bid, a->at.block_id, 32);
	iolm_hex_encode(root, sizeof root, a->at.state_root, 32);
	json_object_set_new(o, "address", json_string(addr));
	json_object_set_new(o, "exists", json_boolean(a->exists));
	json_object_set_new(o, "balance", json_integer((json_int_t)a->balance));
	json_object_set_new(o, "nonce", json_integer((json_int_t)a->nonce));
	json_object_set_new(o, "height", json_integer((json_int_t)a->at.height));
	json_object_set_new(o, "block_id", json_string(bid));
	json_object_set_new(o, "state_root", json_string(root));
	json_object_set_new(o, "signed_power", json_integer((json_int_t)a->at.signed_power));
	json_object_set_new(o, "total_power", json_integer((json_int_t)a->at.total_power));
	json_object_set_new(o, "verified", json_true());
}

int cmd_balance(wallet_cli *c)
{
	uint8_t id[IOLM_ADDR_LEN];
	wallet_node n;
	wallet_trust *t;
	wallet_account a;
	char amt[32];
	int err;

	if ((err = cli_address(c, cli_arg(c, 0), id)) || (err = cli_connect(c, &n, &t)))
		return err;
	err = wallet_account_proved(&n, t, id, &a, c->detail, sizeof c->detail);
	wallet_node_close(&n);
	wallet_trust_destroy(t);
	if (err)
		return err;
	if (c->json) {
		json_t *o = json_object();
		account_json(o, &a);
		cli_emit_json(c, o);
		return IOLM_OK;
	}
	char addr[IOLM_ADDR_STRLEN + 1], bid[65];
	iolm_addr_encode(addr, a.id);
	iolm_hex_encode(bid, sizeof bid, a.at.block_id, 32);
	printf("address   %s\n", addr);
	printf("balance   %s units\n", cli_amount(amt, a.balance));
	printf("nonce     %llu\n", (unsigned long long)a.nonce);
	printf("height    %llu  block %.16s  signed by %llu of %llu voting power  (verified)\n",
	       (unsigned long long)a.at.height, bid, (unsigned long long)a.at.signed_power,
	       (unsigned long long)a.at.total_power);
	return IOLM_OK;
}

/* Poll /tx/{id} until it is in a block; its height to *height. */
static int wait_commit(wallet_cli *c, wallet_node *n, const char *idhex, uint64_t *height)
{
	char path[100];
	snprintf(path, sizeof path, "/tx/%s", idhex);
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		json_t *j = NULL;
		int err = wallet_get(n, path, &j);
		const char *st = json_string_value(json_object_get(j, "status"));
		if (!err && st && !strcmp(st, "committed")) {
			*height = wallet_json_u64(j, "height", NULL);
			json_decref(j);
			return IOLM_OK;
		}
		json_decref(j);
		if (err && err != IOLM_ENOTFOUND && err != IOLM_EWALLET_ANSWER)
			return err;
		iolm_sleep_ms(100);
	}
	snprintf(c->detail, sizeof c->detail, "transaction %s not in a block after %d s", idhex,
		 WAIT_MS / 1000);
	return IOLM_ETIMEOUT;
}

int cli_submit(wallet_cli *c, wallet_node *n, const wallet_trust *t, const iolm_key *key,
	       Iolm__TxBody *body, uint64_t spend, json_t *extra, const char *id_name)
{
	uint8_t me[IOLM_ADDR_LEN];
	wallet_account a;
	uint64_t fee, cost, height = 0;
	char idhex[65], amt[32], amt2[32];
	iolm_buf tx;
	int err;

	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	iolm_addr_from_pub(me, iolm_key_pub(key));
	if ((err = cli_u64(c, "--fee", 1, &fee)) ||
	    (err = wallet_account_proved(n, t, me, &a, c->detail, sizeof c->detail)))
		goto out;
	if (__builtin_add_overflow(spend, fee, &cost) || cost > a.balance) {
		snprintf(c->detail, sizeof c->detail, "balance %s units, this needs %s",
			 cli_amount(amt, a.balance), cli_amount(amt2, spend + fee));
		err = IOLM_EWALLET_FUNDS;
		goto out;
	}
	body->nonce = a.nonce;
	body->fee = fee;
	if ((err = ledger_tx_sign(&tx, body, key, wallet_trust_chain_id(t))) ||
	    (err = wallet_post_tx(n, tx.data, tx.len, idhex, c->detail, sizeof c->detail)))
		goto out;
	if (cli_flag(c, "--wait") && (err = wait_commit(c, n, idhex, &height)))
		goto out;
	if (c->json) {
		json_t *o = extra ? extra : json_object();
		extra = NULL;
		json_object_set_new(o, "tx_id", json_string(idhex));
		if (id_name)
			json_object_set_new(o, id_name, json_string(idhex));
		json_object_set_new(o, "nonce", json_integer((json_int_t)a.nonce));
		json_object_set_new(o, "fee", json_integer((json_int_t)fee));
		json_object_set_new(o, "committed", json_boolean(height != 0));
		if (height)
			json_object_set_new(o, "height", json_integer((json_int_t)height));
		cli_emit_json(c, o);
		goto out;
	}
	printf("tx        %s\n", idhex);
	if (id_name) /* "task_id" prints as "task" */
		printf("%-9.*s %s\n", (int)strcspn(id_name, "_"), id_name, idhex);
	if (height)
		printf("committed at height %llu\n", (unsigned long long)height);
	else
		printf("submitted (nonce %llu, fee %llu); --wait waits for the block\n",
		       (unsigned long long)a.nonce, (unsigned long long)fee);
out:
	json_decref(extra);
	iolm_buf_release(&tx, 0);
	return err;
}

/* Node, trust anchor and the unlocked key, in that order: a wrong passphrase is reported
 * before the node is asked anything, and an unreachable node before a passphrase prompt. */
struct session {
	wallet_node n;
	wallet_trust *t;
	iolm_key key;
};

static int session_open(wallet_cli *c, struct session *s)
{
	int err;
	memset(s, 0, sizeof *s);
	if ((err = cli_connect(c, &s->n, &s->t)))
		return err;
	if ((err = cli_unlock(c, &s->key))) {
		wallet_node_close(&s->n);
		wallet_trust_destroy(s->t);
	}
	return err;
}

static void session_close(struct session *s)
{
	iolm_key_wipe(&s->key);
	wallet_node_close(&s->n);
	wallet_trust_destroy(s->t);
}

/* One transaction of the keystore's account, start to end (x: JSON output, owned). */
static int sign_and_send(wallet_cli *c, Iolm__TxBody *b, uint64_t spend, json_t *x,
			 const char *id_name)
{
	struct session s;
	int err = session_open(c, &s);
	if (err) {
		json_decref(x);
		return err;
	}
	err = cli_submit(c, &s.n, s.t, &s.key, b, spend, x, id_name);
	session_close(&s);
	return err;
}

int cmd_send(wallet_cli *c)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Transfer tr = IOLM__TRANSFER__INIT;
	uint8_t to[IOLM_ADDR_LEN];

	if (!cli_opt(c, "--to") || cli_address(c, cli_opt(c, "--to"), to) ||
	    !cli_opt(c, "--amount") || cli_u64(c, "--amount", 0, &tr.amount))
		return IOLM_EINVAL;
	tr.to = (ProtobufCBinaryData){ sizeof to, to };
	b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	b.transfer = &tr;
	return sign_and_send(c, &b, tr.amount,
			     json_pack("{s:s,s:I}", "to", cli_opt(c, "--to"), "amount",
				       (json_int_t)tr.amount),
			     NULL);
}

static int parse_task_id(wallet_cli *c, const char *hex, uint8_t id[static 32])
{
	if (!hex || iolm_hex_decode_exact(id, 32, hex)) {
		snprintf(c->detail, sizeof c->detail, "a task id is 64 hex characters");
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

int cmd_model_pay(wallet_cli *c)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__ModelPay p = IOLM__MODEL_PAY__INIT;
	uint8_t task[32];
	int err;

	if ((err = parse_task_id(c, cli_opt(c, "--task"), task)))
		return err;
	if (!cli_opt(c, "--amount") || cli_u64(c, "--amount", 0, &p.amount))
		return IOLM_EINVAL;
	p.task_id = (ProtobufCBinaryData){ sizeof task, task };
	b.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
	b.model_pay = &p;
	return sign_and_send(c, &b, p.amount,
			     json_pack("{s:s,s:I}", "task", cli_opt(c, "--task"), "amount",
				       (json_int_t)p.amount),
			     NULL);
}

static int f32_opt(wallet_cli *c, const char *name, float def, float *out)
{
	const char *v = cli_opt(c, name);
	char *end;
	*out = def;
	if (!v)
		return IOLM_OK;
	errno = 0;
	*out = strtof(v, &end);
	return errno || end == v || *end ? IOLM_EINVAL : IOLM_OK;
}

static int u32_opt(wallet_cli *c, const char *name, uint32_t def, uint32_t *out)
{
	uint64_t v;
	int err = cli_u64(c, name, def, &v);
	if (err || v > UINT32_MAX)
		return IOLM_EINVAL;
	*out = (uint32_t)v;
	return IOLM_OK;
}

/* An artifact id: 34 bytes (multihash prefix and BLAKE2b-256), 68 hex characters. */
static int art_opt(wallet_cli *c, const char *name, uint8_t out[static LEDGER_ARTIFACT_ID_LEN])
{
	const char *v = cli_opt(c, name);
	if (!v || iolm_hex_decode_exact(out, LEDGER_ARTIFACT_ID_LEN, v)) {
		snprintf(c->detail, sizeof c->detail, "%s wants an artifact id (%d hex characters; "
			 "iolmd art add prints it)", name, 2 * LEDGER_ARTIFACT_ID_LEN);
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

int cmd_task_create(wallet_cli *c)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__TaskCreate tc = IOLM__TASK_CREATE__INIT;
	Iolm__ModelConfig mc = IOLM__MODEL_CONFIG__INIT;
	Iolm__OptimConfig oc = IOLM__OPTIM_CONFIG__INIT;
	uint8_t ds[LEDGER_ARTIFACT_ID_LEN], ev[LEDGER_ARTIFACT_ID_LEN];
	int err;

	/* Defaults: the compute module's (docs/compute.md "Task file"). */
	if ((err = art_opt(c, "--dataset", ds)) || (err = art_opt(c, "--eval", ev)))
		return err;
	if (!cli_opt(c, "--pool") || cli_u64(c, "--pool", 0, &tc.reward_pool) ||
	    u32_opt(c, "--layers", 2, &mc.n_layer) || u32_opt(c, "--embd", 64, &mc.n_embd) ||
	    u32_opt(c, "--heads", 4, &mc.n_head) || u32_opt(c, "--seq-len", 64, &mc.seq_len) ||
	    cli_u64(c, "--init-seed", 1, &mc.init_seed) || f32_opt(c, "--lr", 3e-4f, &oc.lr) ||
	    f32_opt(c, "--beta1", 0.9f, &oc.beta1) || f32_opt(c, "--beta2", 0.95f, &oc.beta2) ||
	    f32_opt(c, "--eps", 1e-8f, &oc.eps) ||
	    f32_opt(c, "--weight-decay", 0.1f, &oc.weight_decay) ||
	    u32_opt(c, "--warmup", 0, &oc.warmup_steps) ||
	    cli_u64(c, "--total-steps", 1000000, &oc.total_steps) ||
	    f32_opt(c, "--grad-clip", 0.0f, &oc.grad_clip) ||
	    u32_opt(c, "--batch", 8, &tc.batch_size) ||
	    u32_opt(c, "--segment-len", 10, &tc.segment_len) ||
	    u32_opt(c, "--samples", 8, &tc.samples) ||
	    u32_opt(c, "--designer-share-bps", 2000, &tc.designer_share_bps) ||
	    u32_opt(c, "--breakthrough-bps", 1000, &tc.breakthrough_bps) ||
	    u32_opt(c, "--margin-start-ppm", 5000, &tc.margin_start_ppm) ||
	    u32_opt(c, "--margin-end-ppm", 100, &tc.margin_end_ppm) ||
	    cli_u64(c, "--margin-decay", 10000, &tc.margin_decay_blocks) ||
	    cli_u64(c, "--bond-min", 1000, &tc.bond_min) ||
	    cli_u64(c, "--deadline", 0, &tc.deadline_height))
		return IOLM_EINVAL;
	mc.vocab = 256;
	tc.model = &mc;
	tc.optim = &oc;
	tc.dataset_id = (ProtobufCBinaryData){ sizeof ds, ds };
	tc.eval_id = (ProtobufCBinaryData){ sizeof ev, ev };
	tc.name = (char *)(cli_opt(c, "--task-name") ? cli_opt(c, "--task-name") : "");
	b.kind_case = IOLM__TX_BODY__KIND_TASK_CREATE;
	b.task_create = &tc;
	/* The task's id is its transaction's id (docs/protocol.md). */
	return sign_and_send(c, &b, tc.reward_pool,
			     json_pack("{s:I,s:s}", "pool", (json_int_t)tc.reward_pool, "name",
				       tc.name),
			     "task_id");
}
