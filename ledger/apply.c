/* The state transition: one transaction at a time, then the end-of-block payouts.
 * Every rule is in docs/protocol.md with its error code. Each transaction is validated
 * completely before it writes anything. */
#include <string.h>

#include "core/checked.h"
#include "core/hash.h"
#include "ledger/internal.h"

#define MAX_EVENTS 3

struct receipt {
	Iolm__Receipt r;
	Iolm__Event ev[MAX_EVENTS];
	Iolm__Event *evp[MAX_EVENTS];
};

static void receipt_init(struct receipt *rc, const ledger_tx *tx, uint64_t height,
			 uint32_t index)
{
	iolm__receipt__init(&rc->r);
	rc->r.tx_id.data = (uint8_t *)tx->id;
	rc->r.tx_id.len = 32;
	rc->r.height = height;
	rc->r.index = index;
	rc->r.fee = tx->fee;
	rc->r.events = rc->evp;
	rc->r.n_events = 0;
}

static Iolm__Event *receipt_event(struct receipt *rc, const char *type, const uint8_t *account)
{
	Iolm__Event *e = &rc->ev[rc->r.n_events];
	iolm__event__init(e);
	e->type = (char *)type;
	e->account.data = (uint8_t *)account;
	e->account.len = IOLM_ADDR_LEN;
	rc->evp[rc->r.n_events++] = e;
	return e;
}

static int write_receipt(struct exec *x, const struct receipt *rc, const ledger_tx *tx,
			 uint32_t index)
{
	MDB_val k = { 32, (void *)tx->id }, v;
	uint8_t pos[12];
	int err;

	for (int i = 0; i < 8; i++)
		pos[i] = (uint8_t)(x->height >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		pos[8 + i] = (uint8_t)(index >> (24 - 8 * i));
	v.mv_size = sizeof pos;
	v.mv_data = pos;
	/* A transaction id can be committed once: NOOVERWRITE catches a replay that
	 * the nonce rule would already refuse, as a second line of defence. */
	err = mdb_put(x->txn, x->l->txidx, &k, &v, MDB_NOOVERWRITE);
	if (err == MDB_KEYEXIST)
		return IOLM_ELEDGER_DUPTX;
	if (err)
		return ledger_lmdb_err(err);
	v.mv_size = protobuf_c_message_get_packed_size(&rc->r.base);
	if ((err = mdb_put(x->txn, x->l->receipts, &k, &v, MDB_RESERVE)))
		return ledger_lmdb_err(err);
	protobuf_c_message_pack(&rc->r.base, v.mv_data);
	return IOLM_OK;
}

/* ---- per kind: validate (no writes) then apply */

static int check_task_create(struct exec *x, const Iolm__TaskCreate *t)
{
	if (t->reward_pool < x->l->g->params.min_task_pool)
		return IOLM_ELEDGER_POOL;
	return IOLM_OK;
}

static int do_task_create(struct exec *x, const ledger_tx *tx, struct receipt *rc)
{
	const Iolm__TaskCreate *t = tx->body->task_create;
	uint8_t params[IOLM_MAX_TX_BYTES];
	Iolm__TaskState ts = IOLM__TASK_STATE__INIT;
	int err;

	/* The parameters as the designer signed them (canonical, so re-encoding the decoded
	 * message reproduces those bytes). */
	size_t n = protobuf_c_message_pack(&t->base, params);
	ts.creator.data = (uint8_t *)tx->sender;
	ts.creator.len = IOLM_ADDR_LEN;
	ts.params.data = params;
	ts.params.len = n;
	ts.created_height = x->height;
	ts.status = IOLM__TASK_STATUS__TASK_OPEN;
	ts.pool = t->reward_pool;
	if ((err = iolm_add_u64(&x->supply.escrowed, x->supply.escrowed, t->reward_pool)))
		return err;
	if ((err = state_put_task(x, tx->id, &ts)))
		return err;
	Iolm__Event *e = receipt_event(rc, "task_created", tx->sender);
	e->object_id.data = (uint8_t *)tx->id;
	e->object_id.len = 32;
	e->amount = t->reward_pool;
	return IOLM_OK;
}

/* Validate a work commitment against its task and parent; on success *task_out is the
 * task (caller frees) and *end_step the step the work ends at. */
static int check_work_commit(struct exec *x, const Iolm__WorkCommit *w, Iolm__TaskState **task_out,
			     uint64_t *end_step)
{
	Iolm__TaskState *t = NULL;
	Iolm__TaskCreate *params = NULL;
	Iolm__WorkState *parent = NULL;
	int err;

	*task_out = NULL;
	err = state_get_task(x, w->task_id.data, &t);
	if (err == IOLM_ENOTFOUND)
		err = IOLM_ELEDGER_NOTASK;
	if (err)
		goto out;
	err = IOLM_ECORRUPT;
	if (iolm_codec_decode((ProtobufCMessage **)&params, &iolm__task_create__descriptor,
			      t->params.data, t->params.len, IOLM_MAX_TX_BYTES))
		goto out;
	err = IOLM_ELEDGER_TASKCLOSED;
	if (t->status != IOLM__TASK_STATUS__TASK_OPEN ||
	    (params->deadline_height && x->height > params->deadline_height))
		goto out;
	uint64_t expect_start = 0;
	if (w->parent_work.len) {
		err = state_get_work(x, w->parent_work.data, &parent);
		if (err == IOLM_ENOTFOUND)
			err = IOLM_ELEDGER_NOPARENT;
		if (err)
			goto out;
		err = IOLM_ELEDGER_PARENT;
		if (parent->task_id.len != 32 || memcmp(parent->task_id.data, w->task_id.data, 32) ||
		    parent->status == IOLM__WORK_STATUS__WORK_REJECTED ||
		    parent->status == IOLM__WORK_STATUS__WORK_SLASHED)
			goto out;
		expect_start = parent->end_step;
	}
	err = IOLM_ELEDGER_STEPS;
	if (w->start_step != expect_start || w->steps % params->segment_len != 0)
		goto out;
	err = IOLM_ELEDGER_BOND;
	if (w->bond < params->bond_min)
		goto out;
	*end_step = w->start_step + w->steps; /* overflow excluded by ledger_tx_decode */
	*task_out = t;
	t = NULL;
	err = IOLM_OK;
out:
	if (t)
		iolm_codec_free(&t->base);
	if (params)
		iolm_codec_free(&params->base);
	if (parent)
		iolm_codec_free(&parent->base);
	return err;
}

static int do_work_commit(struct exec *x, const ledger_tx *tx, Iolm__TaskState *t,
			  uint64_t end_step, uint32_t index, struct receipt *rc)
{
	const Iolm__WorkCommit *w = tx->body->work_commit;
	uint8_t commit[IOLM_MAX_TX_BYTES];
	Iolm__WorkState ws = IOLM__WORK_STATE__INIT;
	int err;

	size_t n = protobuf_c_message_pack(&w->base, commit);
	ws.task_id = w->task_id;
	ws.miner.data = (uint8_t *)tx->sender;
	ws.miner.len = IOLM_ADDR_LEN;
	ws.commit.data = commit;
	ws.commit.len = n;
	ws.status = IOLM__WORK_STATUS__WORK_PENDING;
	ws.bond = w->bond;
	ws.commit_height = x->height;
	ws.end_step = end_step;
	ws.commit_index = index;
	ws.commit_time_ms = x->time_ms;
	if ((err = iolm_add_u64(&x->supply.escrowed, x->supply.escrowed, w->bond)))
		return err;
	if ((err = state_put_work(x, tx->id, &ws)))
		return err;
	/* The pending index: the end-of-block rules walk it in commit order. */
	uint8_t pkey[45], one = 1;
	pending_key(pkey, x->height, index, tx->id);
	MDB_val pv = { 1, &one }, pk = { sizeof pkey, pkey };
	if ((err = ledger_lmdb_err(mdb_put(x->txn, x->l->state, &pk, &pv, 0))))
		return err;
	if ((err = state_touch_key(x, pkey, sizeof pkey)))
		return err;
	t->n_works++;
	if ((err = state_put_task(x, w->task_id.data, t)))
		return err;
	Iolm__Event *e = receipt_event(rc, "work_committed", tx->sender);
	e->object_id.data = (uint8_t *)tx->id;
	e->object_id.len = 32;
	e->amount = w->bond;
	return IOLM_OK;
}

static int do_model_pay(struct exec *x, const ledger_tx *tx, Iolm__TaskState *t,
			struct receipt *rc)
{
	const Iolm__ModelPay *p = tx->body->model_pay;
	int err;
	if ((err = iolm_add_u64(&t->revenue, t->revenue, p->amount)) ||
	    (err = iolm_add_u64(&x->supply.escrowed, x->supply.escrowed, p->amount)))
		return err;
	if ((err = state_put_task(x, p->task_id.data, t)))
		return err;
	/* Distributed at the end of this block by the rules. */
	uint8_t rkey[33], one = 1;
	rkey[0] = SK_REVENUE;
	memcpy(rkey + 1, p->task_id.data, 32);
	MDB_val rv = { 1, &one }, rk = { sizeof rkey, rkey };
	if ((err = ledger_lmdb_err(mdb_put(x->txn, x->l->state, &rk, &rv, 0))) ||
	    (err = state_touch_key(x, rkey, sizeof rkey)))
		return err;
	Iolm__Event *e = receipt_event(rc, "model_paid", tx->sender);
	e->object_id = p->task_id;
	e->amount = p->amount;
	return IOLM_OK;
}

static int validator_index(const ledger_genesis *g, const uint8_t pub[static 32])
{
	for (size_t i = 0; i < g->n_validators; i++)
		if (memcmp(g->validators[i].pub, pub, 32) == 0)
			return (int)i;
	return -1;
}

static void attest_key(uint8_t key[static 37], const uint8_t work[static 32], uint32_t v)
{
	key[0] = SK_ATTEST;
	memcpy(key + 1, work, 32);
	for (int i = 0; i < 4; i++)
		key[33 + i] = (uint8_t)(v >> (24 - 8 * i));
}

/* An attestation counts once per validator, only while the work is pending, and only
 * after the block whose id seeds the challenge (commit height + 1) exists. */
static int check_attest(struct exec *x, const ledger_tx *tx, Iolm__WorkState **work, int *vidx)
{
	const Iolm__Attest *a = tx->body->attest;
	uint8_t key[37];
	MDB_val v;
	int err;
	*work = NULL;
	*vidx = validator_index(x->l->g, tx->sender_pub);
	if (*vidx < 0)
		return IOLM_ELEDGER_NOTVALIDATOR;
	err = state_get_work(x, a->work_id.data, work);
	if (err == IOLM_ENOTFOUND)
		return IOLM_ELEDGER_NOWORK;
	if (err)
		return err;
	if ((*work)->status != IOLM__WORK_STATUS__WORK_PENDING)
		return IOLM_ELEDGER_WORKDECIDED;
	if (x->height < (*work)->commit_height + 2)
		return IOLM_ELEDGER_ATTEST_EARLY;
	attest_key(key, a->work_id.data, (uint32_t)*vidx);
	err = state_get_raw(x, key, sizeof key, &v);
	if (err == IOLM_OK)
		return IOLM_ELEDGER_DUPATTEST;
	return err == IOLM_ENOTFOUND ? IOLM_OK : err;
}

static int do_attest(struct exec *x, const ledger_tx *tx, Iolm__WorkState *w, int vidx,
		     struct receipt *rc)
{
	const Iolm__Attest *a = tx->body->attest;
	uint64_t power = x->l->g->validators[vidx].power;
	Iolm__AttestRecord r = IOLM__ATTEST_RECORD__INIT;
	uint8_t key[37];
	int err;
	r.validator = (uint32_t)vidx;
	r.valid = a->valid;
	r.eval_loss = a->eval_loss;
	r.height = x->height;
	r.tx_id.data = (uint8_t *)tx->id;
	r.tx_id.len = 32;
	attest_key(key, a->work_id.data, (uint32_t)vidx);
	if ((err = state_put_msg(x, key, sizeof key, &r.base)))
		return err;
	uint64_t *sum = a->valid ? &w->valid_power : &w->invalid_power;
	if ((err = iolm_add_u64(sum, *sum, power)))
		return err;
	if ((err = state_put_work(x, a->work_id.data, w)))
		return err;
	Iolm__Event *e = receipt_event(rc, a->valid ? "attested_valid" : "attested_invalid",
				       tx->sender);
	e->object_id = a->work_id;
	e->amount = power;
	return IOLM_OK;
}

/* The stateful rules of the transaction's kind. What they read for the effects is left
 * in *task, *work (caller frees either), *vidx and *end_step. */
static int check_kind(struct exec *x, const ledger_tx *tx, Iolm__TaskState **task,
		      Iolm__WorkState **work, int *vidx, uint64_t *end_step)
{
	int err;
	switch (tx->body->kind_case) {
	case IOLM__TX_BODY__KIND_TASK_CREATE:
		return check_task_create(x, tx->body->task_create);
	case IOLM__TX_BODY__KIND_WORK_COMMIT:
		return check_work_commit(x, tx->body->work_commit, task, end_step);
	case IOLM__TX_BODY__KIND_MODEL_PAY:
		err = state_get_task(x, tx->body->model_pay->task_id.data, task);
		return err == IOLM_ENOTFOUND ? IOLM_ELEDGER_NOTASK : err;
	case IOLM__TX_BODY__KIND_ATTEST:
		return check_attest(x, tx, work, vidx);
	default:
		return IOLM_OK;
	}
}

int apply_tx(struct exec *x, const ledger_tx *tx, uint32_t index)
{
	const ledger_params *p = &x->l->g->params;
	Iolm__TaskState *task = NULL;
	Iolm__WorkState *work = NULL;
	int vidx = -1;
	struct receipt rc;
	uint64_t bal, nonce, cost, end_step = 0;
	int err;

	/* stateful rules common to every kind */
	if (tx->fee < p->min_fee)
		return IOLM_ELEDGER_FEE;
	if ((err = state_get_account(x, tx->sender, &bal, &nonce)))
		return err;
	if (tx->nonce < nonce)
		return IOLM_ELEDGER_NONCE_OLD;
	if (tx->nonce > nonce)
		return IOLM_ELEDGER_NONCE_GAP;
	if (iolm_add_u64(&cost, tx->spend, tx->fee) || cost > bal)
		return IOLM_ELEDGER_BALANCE;

	if ((err = check_kind(x, tx, &task, &work, &vidx, &end_step)))
		goto out;

	/* effects */
	receipt_init(&rc, tx, x->height, index);
	if ((err = state_put_account(x, tx->sender, bal - cost, nonce + 1)))
		goto out;
	if ((err = iolm_add_u64(&x->fees, x->fees, tx->fee)))
		goto out;
	switch (tx->body->kind_case) {
	case IOLM__TX_BODY__KIND_TRANSFER: {
		const Iolm__Transfer *t = tx->body->transfer;
		if ((err = state_credit(x, t->to.data, t->amount)))
			goto out;
		Iolm__Event *e = receipt_event(&rc, "transfer", tx->sender);
		e->counterparty = t->to;
		e->amount = t->amount;
		break;
	}
	case IOLM__TX_BODY__KIND_TASK_CREATE:
		err = do_task_create(x, tx, &rc);
		break;
	case IOLM__TX_BODY__KIND_WORK_COMMIT:
		err = do_work_commit(x, tx, task, end_step, index, &rc);
		break;
	case IOLM__TX_BODY__KIND_MODEL_PAY:
		err = do_model_pay(x, tx, task, &rc);
		break;
	case IOLM__TX_BODY__KIND_ATTEST:
		err = do_attest(x, tx, work, vidx, &rc);
		break;
	default:
		err = IOLM_ELEDGER_DISABLED; /* ledger_tx_decode lets no other kind through */
	}
	if (err || (err = hist_tx(x, tx, index)))
		goto out;
	err = write_receipt(x, &rc, tx, index);
out:
	if (task)
		iolm_codec_free(&task->base);
	if (work)
		iolm_codec_free(&work->base);
	return err;
}

/* A validator's pay for the block: credited, added to its Rewards, and in its history. */
static int pay_validator(struct exec *x, const uint8_t id[static IOLM_ADDR_LEN], uint64_t amount)
{
	static const ledger_reward why = { .kind = LEDGER_REWARD_VALIDATOR };
	int err;
	if (amount == 0)
		return IOLM_OK;
	if ((err = state_credit(x, id, amount)))
		return err;
	return ledger_eob_add_reward(x, id, &why, amount);
}

/* A signer's part of total, floor(total * power / signers_power); 0 for an index
 * outside the validator set. */
static int signer_share(uint64_t *share, const ledger_genesis *g, const Iolm__CommitSig *s,
			uint64_t total, uint64_t signers_power)
{
	*share = 0;
	if (s->validator >= g->n_validators)
		return IOLM_OK;
	return iolm_muldiv_u64(share, total, g->validators[s->validator].power, signers_power);
}

int apply_end_block(struct exec *x, const uint8_t proposer[static 32],
		    const Iolm__CommitCert *last_commit)
{
	const ledger_genesis *g = x->l->g;
	uint8_t prop_id[IOLM_ADDR_LEN];
	uint64_t total = x->fees, signers_power = 0, paid = 0, share, rest;
	int err;

	if (g->params.block_subsidy) {
		/* Mint only up to max_supply: the subsidy tapers to zero there instead of
		 * overflowing, so the chain never halts on arithmetic. */
		uint64_t supply, room, mint;
		if ((err = iolm_add_u64(&supply, x->supply.genesis_supply, x->supply.minted)) ||
		    (err = iolm_sub_u64(&supply, supply, x->supply.burned)))
			return err;
		room = g->params.max_supply > supply ? g->params.max_supply - supply : 0;
		mint = g->params.block_subsidy < room ? g->params.block_subsidy : room;
		if ((err = iolm_add_u64(&total, total, mint)) ||
		    (err = iolm_add_u64(&x->supply.minted, x->supply.minted, mint)))
			return err;
	}
	x->fees = 0;
	if (total == 0)
		return IOLM_OK;
	/* Fees and subsidy go to the validators whose precommits certified the previous
	 * block, by voting power; the rounding remainder (and everything, at height 1) to
	 * the proposer. The shares are summed first so that a proposer which also signed
	 * is paid once, its share and the remainder together (signers are distinct:
	 * check_last_commit). */
	if (last_commit) {
		for (size_t i = 0; i < last_commit->n_sigs; i++) {
			uint32_t v = last_commit->sigs[i]->validator;
			if (v < g->n_validators)
				signers_power += g->validators[v].power;
		}
	}
	for (size_t i = 0; signers_power && i < last_commit->n_sigs; i++) {
		if ((err = signer_share(&share, g, last_commit->sigs[i], total, signers_power)))
			return err;
		paid += share; /* the shares sum to at most total */
	}
	rest = total - paid;
	iolm_addr_from_pub(prop_id, proposer);
	for (size_t i = 0; signers_power && i < last_commit->n_sigs; i++) {
		uint32_t v = last_commit->sigs[i]->validator;
		uint8_t id[IOLM_ADDR_LEN];
		if (v >= g->n_validators)
			continue;
		if ((err = signer_share(&share, g, last_commit->sigs[i], total, signers_power)))
			return err;
		iolm_addr_from_pub(id, g->validators[v].pub);
		if (memcmp(id, prop_id, IOLM_ADDR_LEN) == 0) {
			share += rest;
			rest = 0;
		}
		if ((err = pay_validator(x, id, share)))
			return err;
	}
	return pay_validator(x, prop_id, rest);
}

int apply_genesis(struct exec *x)
{
	const ledger_genesis *g = x->l->g;
	int err;
	for (size_t i = 0; i < g->n_allocs; i++)
		if ((err = state_credit(x, g->allocs[i].id, g->allocs[i].amount)) ||
		    (err = hist_add(x, g->allocs[i].id, LEDGER_HIST_GENESIS, g->allocs[i].amount,
				    NULL)))
			return err;
	x->supply.genesis_supply = g->supply;
	return IOLM_OK;
}

/* ---- admission: the kind's rules against the committed state */

int ledger_tx_err_final(int err)
{
	switch (err) {
	case IOLM_ELEDGER_NONCE_OLD:
	case IOLM_ELEDGER_FEE:
	case IOLM_ELEDGER_POOL:
	case IOLM_ELEDGER_TASKCLOSED:
	case IOLM_ELEDGER_PARENT:
	case IOLM_ELEDGER_STEPS:
	case IOLM_ELEDGER_BOND:
	case IOLM_ELEDGER_NOTVALIDATOR:
	case IOLM_ELEDGER_WORKDECIDED:
	case IOLM_ELEDGER_DUPATTEST:
	case IOLM_ELEDGER_DUPTX:
		return 1;
	default:
		return 0;
	}
}

/* The id of the object whose absence err reports, for the kinds that name one. */
static const uint8_t *missing_object(const ledger_tx *tx, int err)
{
	const Iolm__TxBody *b = tx->body;
	switch (err) {
	case IOLM_ELEDGER_NOTASK:
		if (b->kind_case == IOLM__TX_BODY__KIND_WORK_COMMIT)
			return b->work_commit->task_id.data;
		if (b->kind_case == IOLM__TX_BODY__KIND_MODEL_PAY)
			return b->model_pay->task_id.data;
		return NULL;
	case IOLM_ELEDGER_NOPARENT:
		return b->kind_case == IOLM__TX_BODY__KIND_WORK_COMMIT
			       ? b->work_commit->parent_work.data
			       : NULL;
	case IOLM_ELEDGER_NOWORK:
		return b->kind_case == IOLM__TX_BODY__KIND_ATTEST ? b->attest->work_id.data : NULL;
	default:
		return NULL;
	}
}

int ledger_tx_check(ledger *l, const ledger_tx *tx, ledger_pending_fn pending, void *pctx)
{
	Iolm__ChainHead *head = NULL;
	Iolm__TaskState *task = NULL;
	Iolm__WorkState *work = NULL;
	uint64_t end_step;
	struct exec x;
	MDB_txn *txn;
	int vidx, err;

	if (tx->body->kind_case == IOLM__TX_BODY__KIND_TRANSFER)
		return IOLM_OK; /* no rules of its own: spare the most common kind a read */
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn))))
		return err;
	if ((err = meta_get_head(l, txn, &head)))
		goto out;
	/* The earliest block that could take it is the next one; every rule whose refusal
	 * is final (ledger_tx_err_final) stays refused at any later height. */
	if ((err = exec_begin(&x, l, txn, head->height + 1)))
		goto out;
	err = check_kind(&x, tx, &task, &work, &vidx, &end_step);
	exec_release(&x);
	/* What may still come is left to block building: the challenge block, and a task,
	 * work or parent whose creating transaction is pending (the ids were checked to be
	 * 32 bytes by the stateless rules). */
	const uint8_t *obj = missing_object(tx, err);
	if (err == IOLM_ELEDGER_ATTEST_EARLY || (obj && (!pending || pending(pctx, obj))))
		err = IOLM_OK;
out:
	if (task)
		iolm_codec_free(&task->base);
	if (work)
		iolm_codec_free(&work->base);
	if (head)
		iolm_codec_free(&head->base);
	mdb_txn_abort(txn);
	return err;
}
