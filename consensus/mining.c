/* The joint-mining end-of-block rules; docs/economics.md is their specification. */
#include "consensus/mining.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/codec.h"
#include "ledger/ledger.h"

#define PPM 1000000u
#define BPS 10000u
/* A lineage is walked at most this far (parents beyond are not credited). */
#define MAX_LINEAGE 100000

const ledger_rules cons_mining_rules = { cons_mining_end_block, NULL };

uint32_t cons_mining_margin_ppm(uint32_t start_ppm, uint32_t end_ppm, uint64_t decay_blocks,
				uint64_t age)
{
	if (end_ppm >= start_ppm || decay_blocks == 0 || age >= decay_blocks)
		return end_ppm;
	unsigned __int128 span = (unsigned __int128)(start_ppm - end_ppm) * (decay_blocks - age);
	return end_ppm + (uint32_t)(span / decay_blocks);
}

int cons_mining_is_breakthrough(uint64_t best_loss, uint64_t new_loss, uint32_t margin_ppm)
{
	if (new_loss >= best_loss)
		return 0;
	if (margin_ppm > PPM)
		margin_ppm = PPM;
	return (unsigned __int128)new_loss * PPM <= (unsigned __int128)best_loss * (PPM - margin_ppm);
}

int cons_mining_split(uint64_t amount, const uint64_t *weights, size_t n, uint64_t *out,
		      uint64_t *remainder)
{
	uint64_t total = 0, paid = 0;
	for (size_t i = 0; i < n; i++)
		if (iolm_add_u64(&total, total, weights[i]))
			return IOLM_EOVERFLOW;
	for (size_t i = 0; i < n; i++) {
		out[i] = 0;
		if (total && iolm_muldiv_u64(&out[i], amount, weights[i], total))
			return IOLM_EOVERFLOW; /* cannot happen: the quotient is <= amount */
		paid += out[i];
	}
	*remainder = amount - paid;
	return IOLM_OK;
}

/* ---- helpers over the ledger's state */

static int decode_commit(const Iolm__WorkState *w, Iolm__WorkCommit **out)
{
	return iolm_codec_decode((ProtobufCMessage **)out, &iolm__work_commit__descriptor,
				 w->commit.data, w->commit.len, IOLM_MAX_TX_BYTES);
}

static int decode_params(const Iolm__TaskState *t, Iolm__TaskCreate **out)
{
	return iolm_codec_decode((ProtobufCMessage **)out, &iolm__task_create__descriptor,
				 t->params.data, t->params.len, IOLM_MAX_TX_BYTES);
}

/* Credits per account, accumulated in an array kept sorted by account id. */
struct credits {
	uint8_t (*acct)[IOLM_ADDR_LEN];
	uint64_t *credit;
	size_t n, cap;
};

static int credits_add(struct credits *c, const uint8_t *acct, uint64_t amount)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = memcmp(c->acct[mid], acct, IOLM_ADDR_LEN);
		if (r == 0)
			return iolm_add_u64(&c->credit[mid], c->credit[mid], amount);
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		void *a = realloc(c->acct, cap * IOLM_ADDR_LEN), *b;
		if (!a)
			return IOLM_ENOMEM;
		c->acct = a;
		b = realloc(c->credit, cap * sizeof *c->credit);
		if (!b)
			return IOLM_ENOMEM;
		c->credit = b;
		c->cap = cap;
	}
	memmove(c->acct[lo + 1], c->acct[lo], (c->n - lo) * IOLM_ADDR_LEN);
	memmove(&c->credit[lo + 1], &c->credit[lo], (c->n - lo) * sizeof *c->credit);
	memcpy(c->acct[lo], acct, IOLM_ADDR_LEN);
	c->credit[lo] = amount;
	c->n++;
	return IOLM_OK;
}

static void credits_free(struct credits *c)
{
	free(c->acct);
	free(c->credit);
	memset(c, 0, sizeof *c);
}

/* Pay amount out of escrow to one account and record it as the reward `why`. */
static int pay(ledger_eob *e, const uint8_t *acct, const ledger_reward *why, uint64_t amount)
{
	int err = ledger_eob_release(e, acct, amount);
	return err ? err : ledger_eob_add_reward(e, acct, why, amount);
}

/* Pay amount out of escrow pro rata to c; the remainder, and everything when c is
 * empty, to `rest` (the designer). Records each payment as the reward `why`. */
static int pay_pro_rata(ledger_eob *e, const struct credits *c, uint64_t amount,
			const uint8_t *rest, const ledger_reward *why)
{
	uint64_t *out = malloc((c->n ? c->n : 1) * sizeof *out), rem;
	int err = IOLM_ENOMEM;
	if (!out)
		return err;
	if ((err = cons_mining_split(amount, c->credit, c->n, out, &rem)))
		goto done;
	for (size_t i = 0; i < c->n && !err; i++)
		if (out[i])
			err = pay(e, c->acct[i], why, out[i]);
	if (!err && rem)
		err = pay(e, rest, why, rem);
done:
	free(out);
	return err;
}

/* Walk parents from work `id` (inclusive). stop_at (may be NULL) and any work that was
 * a best before end the walk (exclusive) when `since_best` is set; otherwise the walk
 * goes to the root. Accepted works' steps are credited to their miners. */
static int walk_lineage(ledger_eob *e, const uint8_t id[32], int since_best, struct credits *c)
{
	uint8_t cur[32];
	int err = IOLM_OK;
	memcpy(cur, id, 32);
	for (int hops = 0; hops < MAX_LINEAGE; hops++) {
		Iolm__WorkState *w = NULL;
		Iolm__WorkCommit *wc = NULL;
		if ((err = ledger_eob_get_work(e, cur, &w)))
			return err;
		if (hops > 0 && since_best && w->was_best) {
			iolm_codec_free(&w->base);
			break;
		}
		if ((err = decode_commit(w, &wc))) {
			iolm_codec_free(&w->base);
			return IOLM_ECORRUPT;
		}
		if (w->status == IOLM__WORK_STATUS__WORK_ACCEPTED && w->miner.len == IOLM_ADDR_LEN)
			err = credits_add(c, w->miner.data, wc->steps);
		int has_parent = wc->parent_work.len == 32;
		if (has_parent)
			memcpy(cur, wc->parent_work.data, 32);
		iolm_codec_free(&wc->base);
		iolm_codec_free(&w->base);
		if (err || !has_parent)
			break;
	}
	return err;
}

/* The breakthrough payout and the new lineage shares, for work `id` just accepted (its
 * record already says so). Updates w (was_best) and t; the caller writes both. */
static int breakthrough(ledger_eob *e, const uint8_t task_id[32], const uint8_t id[32],
			Iolm__WorkState *w, Iolm__TaskState *t, const Iolm__TaskCreate *p,
			uint64_t loss)
{
	struct credits path = { 0 }, lineage = { 0 };
	const ledger_reward why = { LEDGER_REWARD_BREAKTHROUGH, id, task_id };
	uint64_t payout, designer, total = 0;
	int err;

	/* the payout: a fraction of what is left in the pool; the designer's share of it,
	 * the rest to the miners on the path since the previous best, by their steps */
	if ((err = iolm_muldiv_u64(&payout, t->pool, p->breakthrough_bps, BPS)) ||
	    (err = iolm_muldiv_u64(&designer, payout, p->designer_share_bps, BPS)))
		return err;
	if ((err = walk_lineage(e, id, 1, &path)))
		goto out;
	if ((designer && (err = pay(e, t->creator.data, &why, designer))) ||
	    (err = pay_pro_rata(e, &path, payout - designer, t->creator.data, &why)))
		goto out;
	t->pool -= payout;
	if ((err = iolm_add_u64(&t->paid_out, t->paid_out, payout)))
		goto out;

	/* the new best, and the profit shares along its whole lineage, root to best */
	w->was_best = 1;
	t->best_work.data = (uint8_t *)id;
	t->best_work.len = 32;
	t->best_loss = loss;
	t->best_height = ledger_eob_height(e);
	if ((err = walk_lineage(e, id, 0, &lineage)))
		goto out;
	for (size_t i = 0; i < lineage.n; i++)
		if ((err = iolm_add_u64(&total, total, lineage.credit[i])))
			goto out;
	t->total_credit = total;
	err = ledger_eob_set_shares(e, task_id, (const uint8_t(*)[IOLM_ADDR_LEN])lineage.acct,
				    lineage.credit, lineage.n);
out:
	credits_free(&path);
	credits_free(&lineage);
	return err;
}

enum verdict { V_WAIT, V_ACCEPT, V_SLASH, V_REJECT };

/* Quorum of attestations, the parent's fate, and the timeout decide a pending work. */
static int judge(ledger_eob *e, const Iolm__WorkState *w, const Iolm__WorkCommit *wc,
		 uint64_t total_power, uint64_t timeout_ms, enum verdict *v)
{
	*v = V_WAIT;
	if (wc->parent_work.len == 32) {
		Iolm__WorkState *parent;
		int err = ledger_eob_get_work(e, wc->parent_work.data, &parent);
		if (err)
			return err == IOLM_ENOTFOUND ? IOLM_ECORRUPT : err;
		int status = parent->status;
		iolm_codec_free(&parent->base);
		if (status == IOLM__WORK_STATUS__WORK_REJECTED ||
		    status == IOLM__WORK_STATUS__WORK_SLASHED) {
			*v = V_REJECT; /* built on work that did not hold */
			return IOLM_OK;
		}
		if (status == IOLM__WORK_STATUS__WORK_PENDING) {
			if (ledger_eob_time_ms(e) >= w->commit_time_ms + timeout_ms)
				*v = V_REJECT;
			return IOLM_OK; /* accepted only after its parent is */
		}
	}
	/* 3 * power > 2 * total: more than two thirds (powers are < 2^57: no overflow) */
	if (3 * w->valid_power > 2 * total_power)
		*v = V_ACCEPT;
	else if (3 * w->invalid_power > 2 * total_power)
		*v = V_SLASH;
	else if (ledger_eob_time_ms(e) >= w->commit_time_ms + timeout_ms)
		*v = V_REJECT;
	return IOLM_OK;
}

static int decide(ledger_eob *e, const uint8_t id[32], uint64_t total_power, uint64_t timeout_ms)
{
	Iolm__WorkState *w = NULL;
	Iolm__WorkCommit *wc = NULL;
	Iolm__TaskState *t = NULL;
	Iolm__TaskCreate *p = NULL;
	enum verdict v;
	int err;

	if ((err = ledger_eob_get_work(e, id, &w)))
		return err == IOLM_ENOTFOUND ? IOLM_ECORRUPT : err;
	if ((err = decode_commit(w, &wc)) ||
	    (err = judge(e, w, wc, total_power, timeout_ms, &v)) || v == V_WAIT)
		goto out;
	if ((err = ledger_eob_unpend(e, w, id)))
		goto out;
	w->decided_height = ledger_eob_height(e);
	if (w->task_id.len != 32) {
		err = IOLM_ECORRUPT;
		goto out;
	}
	if (v == V_SLASH) {
		/* a proven mismatch: the bond is destroyed */
		const ledger_reward why = { LEDGER_REWARD_SLASHED, id, w->task_id.data };
		w->status = IOLM__WORK_STATUS__WORK_SLASHED;
		if (!(err = ledger_eob_burn(e, w->bond)))
			err = ledger_eob_add_reward(e, w->miner.data, &why, w->bond);
		if (!err)
			err = ledger_eob_put_work(e, id, w);
		goto out;
	}
	/* accepted or rejected without proof: the bond goes back */
	const ledger_reward why = { LEDGER_REWARD_BOND_RETURNED, id, w->task_id.data };
	w->status = v == V_ACCEPT ? IOLM__WORK_STATUS__WORK_ACCEPTED : IOLM__WORK_STATUS__WORK_REJECTED;
	if ((err = pay(e, w->miner.data, &why, w->bond)) || (err = ledger_eob_put_work(e, id, w)) ||
	    v != V_ACCEPT)
		goto out;

	if ((err = ledger_eob_get_task(e, w->task_id.data, &t)) || (err = decode_params(t, &p)))
		goto out;
	t->n_accepted++;
	uint8_t best[32];
	ProtobufCBinaryData orig_best = t->best_work; /* protobuf-c frees the original */
	uint32_t m = cons_mining_margin_ppm(p->margin_start_ppm, p->margin_end_ppm,
					    p->margin_decay_blocks,
					    ledger_eob_height(e) - t->best_height);
	if (t->best_work.len == 0 || cons_mining_is_breakthrough(t->best_loss, wc->eval_loss, m)) {
		uint8_t task_id[32];
		memcpy(task_id, w->task_id.data, 32);
		memcpy(best, id, 32);
		if ((err = breakthrough(e, task_id, best, w, t, p, wc->eval_loss)) ||
		    (err = ledger_eob_put_work(e, id, w)))
			goto restore;
	}
	err = ledger_eob_put_task(e, w->task_id.data, t);
restore:
	t->best_work = orig_best;
out:
	if (p)
		iolm_codec_free(&p->base);
	if (t)
		iolm_codec_free(&t->base);
	if (wc)
		iolm_codec_free(&wc->base);
	if (w)
		iolm_codec_free(&w->base);
	return err;
}

/* model_pay revenue of one task: the designer's share, the rest by profit shares. */
static int distribute_revenue(ledger_eob *e, const uint8_t task_id[32])
{
	Iolm__TaskState *t = NULL;
	Iolm__TaskCreate *p = NULL;
	struct credits c = { 0 };
	const ledger_reward why = { LEDGER_REWARD_REVENUE, task_id, task_id };
	uint64_t designer;
	int err;

	if ((err = ledger_eob_get_task(e, task_id, &t)) || (err = decode_params(t, &p)))
		goto out;
	if (t->revenue == 0)
		goto out;
	if ((err = ledger_eob_get_shares(e, task_id, &c.acct, &c.credit, &c.n)))
		goto out;
	c.cap = c.n;
	if ((err = iolm_muldiv_u64(&designer, t->revenue, p->designer_share_bps, BPS)))
		goto out;
	if ((designer && (err = pay(e, t->creator.data, &why, designer))) ||
	    (err = pay_pro_rata(e, &c, t->revenue - designer, t->creator.data, &why)))
		goto out;
	t->revenue = 0;
	err = ledger_eob_put_task(e, task_id, t);
out:
	credits_free(&c);
	if (p)
		iolm_codec_free(&p->base);
	if (t)
		iolm_codec_free(&t->base);
	return err;
}

int cons_mining_end_block(void *ctx, ledger_eob *e)
{
	const ledger_params *params = ledger_genesis_params(ledger_eob_genesis(e));
	uint64_t total_power = ledger_eob_total_power(e);
	uint8_t (*ids)[32] = NULL, (*tasks)[32] = NULL;
	size_t n = 0, nt = 0;
	int err;
	(void)ctx;

	/* works, in commit order: the earlier commit is judged (and can become the best)
	 * first, which is how an earlier commit wins a tie */
	if ((err = ledger_eob_pending(e, &ids, &n)))
		goto out;
	for (size_t i = 0; i < n && !err; i++)
		err = decide(e, ids[i], total_power, params->attest_timeout_ms);
	if (err)
		goto out;
	/* then this block's revenue, by the shares as they stand after the decisions */
	if ((err = ledger_eob_take_revenue_tasks(e, &tasks, &nt)))
		goto out;
	for (size_t i = 0; i < nt && !err; i++)
		err = distribute_revenue(e, tasks[i]);
out:
	free(ids);
	free(tasks);
	return err;
}
