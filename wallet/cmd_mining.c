/* Commands about training tasks and what they paid: task list, task show, rewards, works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/art.h"
#include "core/codec.h"
#include "core/hex.h"
#include "core/httpc.h"
#include "ledger/proof.h"
#include "wallet/cli.h"

#define HISTORY_PAGE 1000

/* GET that maps a 404 on a listing to an empty answer, not an error. */
static int get(wallet_cli *c, wallet_node *n, const char *path, json_t **out)
{
	int err = wallet_get(n, path, out);
	if (err == IOLM_EWALLET_ANSWER && *out) {
		const char *m = json_string_value(
			json_object_get(json_object_get(*out, "error"), "message"));
		snprintf(c->detail, sizeof c->detail, "%s: %s", path, m ? m : "error");
	} else if (err) {
		snprintf(c->detail, sizeof c->detail, "%s", path);
	}
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

static uint64_t u64(const json_t *o, const char *k)
{
	return wallet_json_u64(o, k, NULL);
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* A loss in micro-nats as nats with 4 decimals ("-" for none). */
static const char *nats(char buf[static 32], uint64_t micro)
{
	if (!micro || micro == UINT64_MAX)
		return "-";
	snprintf(buf, 32, "%llu.%04llu", (unsigned long long)(micro / 1000000),
		 (unsigned long long)(micro % 1000000 / 100));
	return buf;
}

/* ---------------------------------------------------------------- tasks */

int cmd_task_list(wallet_cli *c)
{
	wallet_node n;
	json_t *o = NULL;
	int err;

	if ((err = cli_node(c, &n)))
		return err;
	err = get(c, &n, "/tasks?limit=1000", &o);
	wallet_node_close(&n);
	if (err)
		return err;
	if (c->json) {
		cli_emit_json(c, o);
		return IOLM_OK;
	}
	const json_t *tasks = json_object_get(o, "tasks");
	size_t i;
	json_t *tk;
	char a[32], b[32];
	printf("%-16s  %-16s  %16s  %10s  %8s  %s\n", "task", "name", "pool (units)",
	       "best (nats)", "accepted", "status");
	json_array_foreach(tasks, i, tk) {
		printf("%-16.16s  %-16.16s  %16s  %10s  %8llu  %s\n", str(tk, "id"), str(tk, "name"),
		       cli_amount(a, u64(tk, "pool")), nats(b, u64(tk, "best_loss")),
		       (unsigned long long)u64(tk, "n_accepted"), str(tk, "status_name"));
	}
	if (!json_array_size(tasks))
		printf("(no tasks)\n");
	json_decref(o);
	return IOLM_OK;
}

/* The block of the last answer read: several answers read at one height (a loop over
 * tasks or works) fetch it once. */
struct anchor_cache {
	json_t *blk;        /* /block/{height}; NULL at height 0, where nothing is signed */
	uint64_t height;
	int valid;
};

/* GET path, then (unless the cache holds it) the block its answer's height names, into
 * ac->blk; errors as get() reports them. */
static int get_anchored(wallet_cli *c, wallet_node *n, const char *path, json_t **ans,
			struct anchor_cache *ac)
{
	char bpath[64];
	int ok = 1, err = get(c, n, path, ans);
	if (err)
		return err;
	uint64_t h = wallet_json_u64(*ans, "height", &ok);
	if (!ok) {
		snprintf(c->detail, sizeof c->detail, "%s: the answer has no height", path);
		return IOLM_EWALLET_PROOF;
	}
	if (ac->valid && ac->height == h)
		return IOLM_OK;
	json_decref(ac->blk);
	ac->blk = NULL;
	ac->valid = 0;
	snprintf(bpath, sizeof bpath, "/block/%llu", (unsigned long long)h);
	if (h && (err = get(c, n, bpath, &ac->blk)))
		return err;
	ac->height = h;
	ac->valid = 1;
	return IOLM_OK;
}

/* The task and its profit shares, each answer checked against a header signed by +2/3
 * of the genesis validators; what is printed is what was proved. */
int cmd_task_show(wallet_cli *c)
{
	const char *id = cli_arg(c, 0);
	uint8_t raw[32];
	char path[128], a[32], b[32], addr[IOLM_ADDR_STRLEN + 1];
	wallet_node n;
	wallet_trust *t = NULL;
	wallet_task tk, sh;
	struct anchor_cache ac = { NULL, 0, 0 };
	json_t *task = NULL, *shares = NULL;
	int err;

	memset(&tk, 0, sizeof tk);
	memset(&sh, 0, sizeof sh);
	if (!id || iolm_hex_decode_exact(raw, 32, id)) {
		snprintf(c->detail, sizeof c->detail, "task show wants a task id (64 hex)");
		return IOLM_EINVAL;
	}
	if ((err = cli_connect(c, &n, &t)))
		return err;
	snprintf(path, sizeof path, "/task/%s", id);
	if (!(err = get_anchored(c, &n, path, &task, &ac)) &&
	    !(err = wallet_verify_task(t, raw, task, ac.blk, &tk, c->detail, sizeof c->detail))) {
		snprintf(path, sizeof path, "/task/%s/shares", id);
		if (!(err = get_anchored(c, &n, path, &shares, &ac)))
			err = wallet_verify_task_shares(t, raw, shares, ac.blk, &sh, c->detail,
							sizeof c->detail);
	}
	wallet_node_close(&n);
	if (err)
		goto out;
	if (c->json) {
		json_object_set(task, "shares", json_object_get(shares, "shares"));
		json_object_set_new(task, "shares_height", json_integer((json_int_t)sh.at.height));
		json_object_set_new(task, "shares_complete", json_boolean(sh.complete));
		json_object_set_new(task, "verified", json_true());
		cli_emit_json(c, json_incref(task));
		goto out;
	}
	const Iolm__TaskState *s = tk.state;
	printf("task        %s\n", id);
	printf("name        %s\n", tk.params->name && *tk.params->name ? tk.params->name : "-");
	iolm_addr_encode(addr, s->creator.data);
	printf("designer    %s\n", addr);
	printf("status      %s (created at height %llu)\n",
	       s->status == IOLM__TASK_STATUS__TASK_OPEN     ? "open"
	       : s->status == IOLM__TASK_STATUS__TASK_CLOSED ? "closed"
							     : "unknown",
	       (unsigned long long)s->created_height);
	printf("pool        %s units left, %s paid out\n", cli_amount(a, s->pool),
	       cli_amount(b, s->paid_out));
	printf("revenue     %s units waiting\n", cli_amount(a, s->revenue));
	printf("works       %llu committed, %llu accepted\n", (unsigned long long)s->n_works,
	       (unsigned long long)s->n_accepted);
	char best[17] = "-";
	if (s->best_work.len >= 8)
		iolm_hex_encode(best, sizeof best, s->best_work.data, 8);
	printf("best        %s nats, work %s, height %llu\n", nats(a, s->best_loss), best,
	       (unsigned long long)s->best_height);
	printf("height      %llu  signed by %llu of %llu voting power  (verified)\n",
	       (unsigned long long)tk.at.height, (unsigned long long)tk.at.signed_power,
	       (unsigned long long)tk.at.total_power);
	uint64_t total = sh.state->total_credit;
	printf("\n%-44s  %16s  %8s\n", "profit shares: account", "credit", "share");
	for (size_t i = 0; i < sh.n_shares; i++) {
		iolm_addr_encode(addr, sh.accounts[i]);
		printf("%-44s  %16s  %7.2f%%\n", addr, cli_amount(a, sh.credits[i]),
		       total ? 100.0 * (double)sh.credits[i] / (double)total : 0.0);
	}
	if (!sh.n_shares)
		printf("(none yet)\n");
	printf("(verified at height %llu%s)\n", (unsigned long long)sh.at.height,
	       sh.complete ? ", complete: they add up to the task's total credit"
			   : "; the node listed only the first 1,000");
out:
	wallet_task_free(&tk);
	wallet_task_free(&sh);
	json_decref(task);
	json_decref(ac.blk);
	json_decref(shares);
	wallet_trust_destroy(t);
	return err;
}

/* ---------------------------------------------------------------- rewards */

/* /rewards/{addr} checked like a balance: the Rewards record under a signed header. */
static int rewards_proved(wallet_cli *c, wallet_node *n, const wallet_trust *t,
			  const uint8_t id[static IOLM_ADDR_LEN], Iolm__Rewards **out,
			  wallet_anchor *at, struct anchor_cache *ac)
{
	uint8_t raw[1 + IOLM_ADDR_LEN] = { LEDGER_SK_REWARDS }, *val = NULL;
	char addr[IOLM_ADDR_STRLEN + 1], path[128];
	json_t *ans = NULL;
	size_t vlen;
	int err;

	*out = NULL;
	memcpy(raw + 1, id, IOLM_ADDR_LEN);
	iolm_addr_encode(addr, id);
	snprintf(path, sizeof path, "/rewards/%s", addr);
	if ((err = get_anchored(c, n, path, &ans, ac)) ||
	    (err = wallet_verify_anchor(t, u64(ans, "height"), ac->blk, at, c->detail,
					sizeof c->detail)))
		goto out;
	const json_t *rec = json_object_get(ans, "record");
	if ((err = wallet_verify_record(at, raw, sizeof raw, json_object_get(rec, "bytes"),
					json_object_get(rec, "proof"), &val, &vlen, c->detail,
					sizeof c->detail)))
		goto out;
	Iolm__Rewards zero = IOLM__REWARDS__INIT;
	if (val && iolm_codec_decode((ProtobufCMessage **)out, &iolm__rewards__descriptor, val,
				     vlen, 256)) {
		snprintf(c->detail, sizeof c->detail, "the proved rewards record does not decode");
		err = IOLM_EWALLET_PROOF;
		goto out;
	}
	const Iolm__Rewards *r = *out ? *out : &zero;
	if (u64(ans, "breakthrough") != r->breakthrough ||
	    u64(ans, "revenue") != r->revenue ||
	    u64(ans, "validator") != r->validator ||
	    u64(ans, "bonds_returned") != r->bonds_returned ||
	    u64(ans, "slashed") != r->slashed) {
		snprintf(c->detail, sizeof c->detail, "the node's reward totals differ from the "
			 "record it proved");
		err = IOLM_EWALLET_PROOF;
	}
out:
	if (err && *out) {
		iolm_codec_free(&(*out)->base);
		*out = NULL;
	}
	free(val);
	json_decref(ans);
	return err;
}

/* The account's history entries, newest first, every page: a page ends at a block
 * boundary (next_before) or, inside a block with more entries than a page, at an entry
 * (next_before_seq too); the last page has next_before null. */
static int history(wallet_cli *c, wallet_node *n, const char *addr, const char *kind,
		   json_t **entries, json_t **totals)
{
	char path[256];
	json_t *cursor = NULL, *cursor_seq = NULL;
	int err = IOLM_OK;

	*entries = json_array();
	*totals = NULL;
	for (int page = 0; page < 10000; page++) {
		json_t *o = NULL;
		int k = snprintf(path, sizeof path, "/history/%s?limit=%d", addr, HISTORY_PAGE);
		if (json_is_integer(cursor))
			k += snprintf(path + k, sizeof path - (size_t)k, "&before=%lld",
				      (long long)json_integer_value(cursor));
		if (json_is_integer(cursor_seq))
			k += snprintf(path + k, sizeof path - (size_t)k, "&before_seq=%lld",
				      (long long)json_integer_value(cursor_seq));
		if (kind)
			snprintf(path + k, sizeof path - (size_t)k, "&kind=%s", kind);
		json_decref(cursor);
		json_decref(cursor_seq);
		cursor = cursor_seq = NULL;
		if ((err = get(c, n, path, &o)))
			break;
		json_array_extend(*entries, json_object_get(o, "entries"));
		if (!*totals)
			*totals = json_incref(json_object_get(o, "totals"));
		cursor = json_incref(json_object_get(o, "next_before"));
		cursor_seq = json_incref(json_object_get(o, "next_before_seq"));
		json_decref(o);
		if (!json_is_integer(cursor))
			break;
	}
	json_decref(cursor);
	json_decref(cursor_seq);
	if (!*totals)
		*totals = json_object();
	return err;
}

/* Distinct task ids named by history entries, in first-seen order. */
static json_t *tasks_of(const json_t *entries)
{
	json_t *ids = json_array(), *e;
	size_t i;
	json_array_foreach(entries, i, e) {
		const char *tid = json_string_value(json_object_get(e, "task_id"));
		size_t j;
		json_t *x;
		int seen = 0;
		if (!tid || !*tid)
			continue;
		json_array_foreach(ids, j, x)
			seen |= !strcmp(json_string_value(x), tid);
		if (!seen)
			json_array_append_new(ids, json_string(tid));
	}
	return ids;
}

int cmd_rewards(wallet_cli *c)
{
	uint8_t id[IOLM_ADDR_LEN];
	char addr[IOLM_ADDR_STRLEN + 1], path[256], a[32], b[32];
	wallet_node n;
	wallet_trust *t;
	wallet_anchor at;
	Iolm__Rewards *r = NULL, zero = IOLM__REWARDS__INIT;
	struct anchor_cache ac = { NULL, 0, 0 };
	json_t *entries = NULL, *totals = NULL, *tasks = NULL, *shares = json_array();
	int err;

	if ((err = cli_address(c, cli_arg(c, 0), id)) || (err = cli_connect(c, &n, &t)))
		goto done;
	iolm_addr_encode(addr, id);
	if ((err = rewards_proved(c, &n, t, id, &r, &at, &ac)) ||
	    (err = history(c, &n, addr, NULL, &entries, &totals)))
		goto out;
	/* Profit shares in every task the account touched (the history names them), each
	 * proved. */
	tasks = tasks_of(entries);
	size_t i;
	json_t *tid;
	json_array_foreach(tasks, i, tid) {
		json_t *s = NULL;
		uint8_t task[32];
		wallet_share ws;
		if (iolm_hex_decode_exact(task, 32, json_string_value(tid))) {
			snprintf(c->detail, sizeof c->detail, "the history names a bad task id");
			err = IOLM_EWALLET_ANSWER;
			goto out;
		}
		snprintf(path, sizeof path, "/shares/%s/%s", json_string_value(tid), addr);
		if (!(err = get_anchored(c, &n, path, &s, &ac)))
			err = wallet_verify_share(t, task, id, s, ac.blk, &ws, c->detail,
						  sizeof c->detail);
		json_decref(s);
		if (err)
			goto out;
		if (ws.credit)
			json_array_append_new(shares, json_pack("{s:O,s:I,s:I,s:f,s:I}", "task_id",
				tid, "credit", (json_int_t)ws.credit, "total_credit",
				(json_int_t)ws.total_credit, "share",
				(double)ws.credit / (double)ws.total_credit, "height",
				(json_int_t)ws.at.height));
	}
	const Iolm__Rewards *p = r ? r : &zero;
	if (c->json) {
		json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:O,s:O,s:O}", "address",
				      addr, "height", (json_int_t)at.height, "breakthrough",
				      (json_int_t)p->breakthrough, "revenue", (json_int_t)p->revenue,
				      "validator", (json_int_t)p->validator, "bonds_returned",
				      (json_int_t)p->bonds_returned, "slashed", (json_int_t)p->slashed,
				      "verified", 1, "shares", shares, "history", entries, "totals",
				      totals);
		cli_emit_json(c, o);
		goto out;
	}
	printf("rewards of %s at height %llu (verified: signed by %llu of %llu voting power)\n\n",
	       addr, (unsigned long long)at.height, (unsigned long long)at.signed_power,
	       (unsigned long long)at.total_power);
	printf("  %-28s %20s\n", "breakthrough payouts", cli_amount(a, p->breakthrough));
	printf("  %-28s %20s\n", "model revenue shares", cli_amount(a, p->revenue));
	printf("  %-28s %20s\n", "validator rewards", cli_amount(a, p->validator));
	printf("  %-28s %20s\n", "bonds returned", cli_amount(a, p->bonds_returned));
	printf("  %-28s %20s\n", "bonds slashed", cli_amount(a, p->slashed));
	printf("  %-28s %20s\n", "(all amounts in units)", "");
	printf("\nprofit shares (verified)\n");
	json_t *s;
	json_array_foreach(shares, i, s)
		printf("  task %.16s  credit %16s of %16s  %7.2f%%\n", str(s, "task_id"),
		       cli_amount(a, u64(s, "credit")),
		       cli_amount(b, u64(s, "total_credit")),
		       100.0 * json_real_value(json_object_get(s, "share")));
	if (!json_array_size(shares))
		printf("  (none)\n");
	printf("\nhistory (newest first)\n  %8s  %-20s %20s  %s\n", "height", "kind", "amount",
	       "object");
	json_t *e;
	json_array_foreach(entries, i, e)
		printf("  %8llu  %-20s %20s  %.16s\n", (unsigned long long)u64(e, "height"),
		       str(e, "kind"), cli_amount(a, u64(e, "amount")),
		       str(e, "object_id"));
	if (!json_array_size(entries))
		printf("  (none)\n");
	printf("\ntotals\n");
	const char *k;
	json_t *v;
	json_object_foreach(totals, k, v)
		printf("  %-28s %20s\n", k, cli_amount(a, u64(totals, k)));
out:
	wallet_node_close(&n);
	wallet_trust_destroy(t);
done:
	if (r)
		iolm_codec_free(&r->base);
	json_decref(ac.blk);
	json_decref(entries);
	json_decref(totals);
	json_decref(tasks);
	json_decref(shares);
	return err;
}

/* ---------------------------------------------------------------- works */

static const char *work_status(int s)
{
	static const char *const names[] = { "unknown", "pending", "accepted", "rejected",
					     "slashed" };
	return s >= 0 && s <= 4 ? names[s] : "unknown";
}

/* The works an account committed (its history names them), each proved: its record,
 * its commitment, and that it is this account's. */
int cmd_works(wallet_cli *c)
{
	uint8_t id[IOLM_ADDR_LEN];
	char addr[IOLM_ADDR_STRLEN + 1], path[128], a[32], b[32];
	wallet_node n;
	wallet_trust *t = NULL;
	struct anchor_cache ac = { NULL, 0, 0 };
	json_t *entries = NULL, *totals = NULL, *works = json_array();
	int err;

	if ((err = cli_address(c, cli_arg(c, 0), id)) || (err = cli_connect(c, &n, &t)))
		goto done;
	iolm_addr_encode(addr, id);
	if ((err = history(c, &n, addr, "work_committed", &entries, &totals)))
		goto out;
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		json_t *ans = NULL;
		uint8_t wid[32];
		wallet_work w;
		char task[65];
		if (iolm_hex_decode_exact(wid, 32, str(e, "object_id"))) {
			snprintf(c->detail, sizeof c->detail, "the history names a bad work id");
			err = IOLM_EWALLET_ANSWER;
			goto out;
		}
		snprintf(path, sizeof path, "/work/%s", str(e, "object_id"));
		if (!(err = get_anchored(c, &n, path, &ans, &ac)))
			err = wallet_verify_work(t, wid, ans, ac.blk, &w, c->detail,
						 sizeof c->detail);
		json_decref(ans);
		if (err)
			goto out;
		if (memcmp(w.state->miner.data, id, IOLM_ADDR_LEN)) {
			snprintf(c->detail, sizeof c->detail, "work %.16s is another account's",
				 str(e, "object_id"));
			wallet_work_free(&w);
			err = IOLM_EWALLET_PROOF;
			goto out;
		}
		iolm_hex_encode(task, sizeof task, w.state->task_id.data, w.state->task_id.len);
		json_array_append_new(works, json_pack(
			"{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:I}", "work_id",
			str(e, "object_id"), "task_id", task, "status",
			work_status(w.state->status), "eval_loss", (json_int_t)w.commit->eval_loss,
			"steps", (json_int_t)w.commit->steps, "bond", (json_int_t)w.state->bond,
			"commit_height", (json_int_t)w.state->commit_height, "decided_height",
			(json_int_t)w.state->decided_height, "was_best", w.state->was_best != 0,
			"verified_height", (json_int_t)w.at.height));
		wallet_work_free(&w);
	}
	if (c->json) {
		cli_emit_json(c, json_pack("{s:s,s:O,s:b}", "address", addr, "works", works,
					   "verified", 1));
		goto out;
	}
	printf("%-16s  %-16s  %-9s  %10s  %6s  %12s  %8s  %8s\n", "work", "task", "status",
	       "eval (nats)", "steps", "bond (units)", "commit", "decided");
	json_t *w;
	json_array_foreach(works, i, w)
		printf("%-16.16s  %-16.16s  %-9s  %10s  %6llu  %12s  %8llu  %8llu%s\n",
		       str(w, "work_id"), str(w, "task_id"), str(w, "status"),
		       nats(a, u64(w, "eval_loss")),
		       (unsigned long long)u64(w, "steps"),
		       cli_amount(b, u64(w, "bond")),
		       (unsigned long long)u64(w, "commit_height"),
		       (unsigned long long)u64(w, "decided_height"),
		       json_is_true(json_object_get(w, "was_best")) ? "  best" : "");
	if (!json_array_size(works))
		printf("(no works)\n");
	else
		printf("(each verified against a header signed by +2/3 of the validators)\n");
out:
	wallet_node_close(&n);
	wallet_trust_destroy(t);
done:
	json_decref(ac.blk);
	json_decref(entries);
	json_decref(totals);
	json_decref(works);
	return err;
}

/* ---------------------------------------------------------------- model get */

#define MODEL_MAX_MB_DEFAULT 4096u
#define MODEL_TIMEOUT_MS (10 * 60 * 1000)

/* The work whose model is asked for, proved: the task's best (task set: its task
 * record names it) or the work wid names (task NULL: it must be accepted); its own
 * record gives the miner's endpoint, its end step and the checkpoint id it committed
 * to. */
static int model_work(wallet_cli *c, const uint8_t *task, uint8_t wid[static 32],
		      wallet_work *w)
{
	char path[128], hex[65];
	wallet_node n;
	wallet_trust *t = NULL;
	wallet_task tk;
	struct anchor_cache ac = { NULL, 0, 0 };
	json_t *ans = NULL;
	int err;
	memset(&tk, 0, sizeof tk);
	if ((err = cli_connect(c, &n, &t)))
		return err;
	if (task) {
		iolm_hex_encode(hex, sizeof hex, task, 32);
		snprintf(path, sizeof path, "/task/%s", hex);
		if ((err = get_anchored(c, &n, path, &ans, &ac)) ||
		    (err = wallet_verify_task(t, task, ans, ac.blk, &tk, c->detail,
					      sizeof c->detail)))
			goto out;
		if (tk.state->best_work.len != 32) {
			snprintf(c->detail, sizeof c->detail, "task %.16s has no best model yet",
				 hex);
			err = IOLM_ENOTFOUND;
			goto out;
		}
		memcpy(wid, tk.state->best_work.data, 32);
		json_decref(ans);
		ans = NULL;
	}
	iolm_hex_encode(hex, sizeof hex, wid, 32);
	snprintf(path, sizeof path, "/work/%s", hex);
	if ((err = get_anchored(c, &n, path, &ans, &ac)) ||
	    (err = wallet_verify_work(t, wid, ans, ac.blk, w, c->detail, sizeof c->detail)))
		goto out;
	if (w->state->task_id.len != 32 || (task && memcmp(w->state->task_id.data, task, 32)) ||
	    w->commit->checkpoint_id.len != ART_ID_LEN || !w->commit->endpoint ||
	    w->commit->steps > UINT64_MAX - w->commit->start_step) {
		snprintf(c->detail, sizeof c->detail, "work %.16s is not this task's, or names no "
			 "checkpoint", hex);
		wallet_work_free(w);
		err = IOLM_EWALLET_PROOF;
	} else if (!task && w->state->status != IOLM__WORK_STATUS__WORK_ACCEPTED) {
		snprintf(c->detail, sizeof c->detail, "work %.16s is %s, not accepted: no model "
			 "the validators verified", hex, work_status(w->state->status));
		wallet_work_free(w);
		err = IOLM_ESTATE;
	}
out:
	json_decref(ans);
	json_decref(ac.blk);
	wallet_task_free(&tk);
	wallet_node_close(&n);
	wallet_trust_destroy(t);
	return err;
}

/* GET path from hc (with token when not NULL) into tmp, at most cap bytes, kept only
 * when it is artifact id under name: IOLM_OK, IOLM_EWALLET_MODEL for other bytes (tmp
 * removed), or why it could not be had. A download the connection cut leaves
 * TMP.part, which the next call resumes (iolm_httpc_get_file); a resumed file that
 * does not check out is fetched once more whole (the piece may have been another's).
 * why gets a phrase. */
static int fetch_model(iolm_httpc *hc, const char *path, const char *token, const char *tmp,
		       uint64_t cap, const uint8_t id[static ART_ID_LEN], const char *name,
		       char *why, size_t why_len)
{
	uint8_t got[ART_ID_LEN];
	char part[4300];
	struct stat sb;
	iolm_buf b;
	int status = 0, err, resumed;
	snprintf(part, sizeof part, "%s.part", tmp);
	resumed = stat(part, &sb) == 0 && sb.st_size > 0;
again:
	iolm_buf_init(&b, 64u << 10); /* an error's body; the checkpoint goes to tmp */
	err = iolm_httpc_get_file(hc, path, token, tmp, cap, &status, &b, MODEL_TIMEOUT_MS);
	iolm_buf_release(&b, 0);
	if (err || status != 200) {
		unlink(tmp);
		snprintf(why, why_len, "%s", err == IOLM_ETOOBIG ? "larger than --max-mb"
					     : err ? iolm_strerror(err)
					     : status == 401 ? (token ? "it refused the RPC cookie"
						: "it wants the RPC cookie (--cookie)")
					     : status == 503 ? "it is busy"
					     : status == 404 ? "not there" : "an error answer");
		return err ? err : status == 404 ? IOLM_ENOTFOUND : IOLM_EIO;
	}
	if ((err = art_file_id(got, tmp, name, ART_KIND_CHECKPOINT)) ||
	    memcmp(got, id, ART_ID_LEN)) {
		unlink(tmp);
		if (resumed) {
			resumed = 0;
			goto again;
		}
		snprintf(why, why_len, "%s", err ? iolm_strerror(err)
					     : "not the checkpoint its work committed to");
		return IOLM_EWALLET_MODEL;
	}
	return IOLM_OK;
}

/* model get (--task ID | --work ID) --out FILE [--max-mb N]: the task's best model, the
 * final checkpoint of its best work (or of the accepted work --work names): from the
 * node when it holds it (GET /artifact/{checkpoint id}/content, with the cookie, or
 * without where the node allows: validators keep the checkpoints they verified), else
 * from the miner that serves it (GET /ckpt/{work}/{step} at the
 * endpoint the work committed). Either way it is kept only when its artifact id is the
 * one the work committed to: so the file is the model the validators verified, whoever
 * served it. iolm-miner generate runs it. */
int cmd_model_get(wallet_cli *c)
{
	const char *task_hex = cli_opt(c, "--task"), *work_hex = cli_opt(c, "--work");
	const char *out = cli_opt(c, "--out");
	uint8_t task[32], wid[32];
	char whex[65], ck[2 * ART_ID_LEN + 1], name[40], path[200], host[256], tmp[4200], a[32];
	char why_node[160] = "", why_miner[160] = "", from[600];
	uint64_t max_mb, end;
	uint16_t port;
	iolm_httpc *hc = NULL;
	struct stat sb;
	wallet_work w;
	int err, err_node = IOLM_ENOTFOUND;

	memset(&w, 0, sizeof w);
	if (!task_hex == !work_hex || (task_hex && iolm_hex_decode_exact(task, 32, task_hex)) ||
	    (work_hex && iolm_hex_decode_exact(wid, 32, work_hex)) || !out || !*out) {
		snprintf(c->detail, sizeof c->detail, "model get wants --task ID or --work ID (64 "
			 "hex), and --out FILE");
		return IOLM_EINVAL;
	}
	if (cli_u64(c, "--max-mb", MODEL_MAX_MB_DEFAULT, &max_mb) || max_mb < 1 ||
	    max_mb > (SIZE_MAX >> 21)) {
		snprintf(c->detail, sizeof c->detail, "--max-mb wants a number of MiB");
		return IOLM_EINVAL;
	}
	if (snprintf(tmp, sizeof tmp, "%s.unverified", out) >= (int)sizeof tmp) {
		snprintf(c->detail, sizeof c->detail, "--out is too long");
		return IOLM_EINVAL;
	}
	if ((err = model_work(c, task_hex ? task : NULL, wid, &w)))
		return err;
	char thex[65];
	iolm_hex_encode(thex, sizeof thex, w.state->task_id.data, 32);
	task_hex = thex;
	iolm_hex_encode(whex, sizeof whex, wid, 32);
	iolm_hex_encode(ck, sizeof ck, w.commit->checkpoint_id.data, ART_ID_LEN);
	end = w.commit->start_step + w.commit->steps;
	snprintf(name, sizeof name, "ckpt-%08llu.bin", (unsigned long long)end);

	/* 1. the node: with the cookie, or without where the node allows downloads so
	 * (node.conf rpc_public_downloads) */
	{
		wallet_node n;
		if ((err = cli_node(c, &n)))
			goto out;
		snprintf(path, sizeof path, "/artifact/%s/content", ck);
		err_node = fetch_model(n.c, path, n.token[0] ? n.token : NULL, tmp, max_mb << 20,
				       w.commit->checkpoint_id.data, name, why_node,
				       sizeof why_node);
		snprintf(from, sizeof from, "the node %s", n.addr);
		wallet_node_close(&n);
	}
	/* 2. the miner */
	if (err_node) {
		snprintf(path, sizeof path, "/ckpt/%s/%llu", whex, (unsigned long long)end);
		snprintf(from, sizeof from, "%s", w.commit->endpoint);
		if (iolm_httpc_parse_url(host, sizeof host, &port, w.commit->endpoint)) {
			snprintf(why_miner, sizeof why_miner, "the endpoint \"%.100s\" is not "
				 "http://HOST:PORT", w.commit->endpoint);
			err = IOLM_EWALLET_ANSWER;
		} else if (!(err = iolm_httpc_create(&hc, host, port))) {
			err = fetch_model(hc, path, NULL, tmp, max_mb << 20,
					  w.commit->checkpoint_id.data, name, why_miner,
					  sizeof why_miner);
		} else {
			snprintf(why_miner, sizeof why_miner, "%s", iolm_strerror(err));
		}
		if (err) {
			snprintf(c->detail, sizeof c->detail, "work %.16s: from the node: %s; GET "
				 "%.200s%s: %s", whex, why_node, w.commit->endpoint, path, why_miner);
			/* other bytes from either is the worse news */
			if (err_node == IOLM_EWALLET_MODEL)
				err = IOLM_EWALLET_MODEL;
			goto out;
		}
	}
	if (stat(tmp, &sb) != 0 || rename(tmp, out) != 0) {
		unlink(tmp);
		snprintf(c->detail, sizeof c->detail, "cannot rename %.300s", tmp);
		err = IOLM_EIO;
		goto out;
	}
	err = IOLM_OK;
	if (c->json) {
		cli_emit_json(c, json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:I,s:s,s:b,s:I}", "task",
					   task_hex, "work_id", whex, "eval_loss",
					   (json_int_t)w.commit->eval_loss, "steps", (json_int_t)end,
					   "endpoint", w.commit->endpoint, "source",
					   err_node ? "miner" : "node", "checkpoint_id", ck,
					   "bytes", (json_int_t)sb.st_size, "file", out, "verified", 1,
					   "verified_height", (json_int_t)w.at.height));
	} else {
		printf("model of task %.16s: work %.16s, %llu steps, eval loss %s nats\n", task_hex,
		       whex, (unsigned long long)end, nats(a, w.commit->eval_loss));
		printf("%lld bytes from %s, saved to %s\n", (long long)sb.st_size, from, out);
		printf("(the checkpoint id the work committed to, verified at height %llu)\n",
		       (unsigned long long)w.at.height);
	}
out:
	iolm_httpc_destroy(hc);
	wallet_work_free(&w);
	return err;
}
