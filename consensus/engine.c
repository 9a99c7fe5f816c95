/* The rules of Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
 * Milosevic 2018). Line numbers in comments are the paper's.
 *
 * After every event progress() re-evaluates the upon-rules until none fires; each rule
 * that may fire only once per round keeps a flag in its cons_round. "2f+1" is more than
 * 2/3 of the total voting power (cons_power_quorum), "f+1" more than 1/3.
 *
 * Departures from the paper, all written down in docs/consensus.md:
 *  - valid(v) is the host's answer to CONS_ACT_VALIDATE; rules that need it wait for it;
 *  - the proposer also schedules a propose timeout, so a host that never supplies a
 *    block cannot stall the round;
 *  - the decision rule (line 49) needs +2/3 precommits for an id whose block we hold and
 *    judged valid, from any proposal of the height (the id binds the value);
 *  - a node can also decide on a verified commit certificate (block sync). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/engine_int.h"

void cons_config_default(cons_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->propose_ms = 300;
	cfg->propose_delta_ms = 100;
	cfg->prevote_ms = 200;
	cfg->prevote_delta_ms = 100;
	cfg->precommit_ms = 200;
	cfg->precommit_delta_ms = 100;
}

int cons_engine_create(cons_engine **out, const cons_config *cfg, const cons_valset *vs,
		       const iolm_key *key, uint64_t height)
{
	cons_engine *e = NULL;
	int err = IOLM_EINVAL;

	*out = NULL;
	if (!cfg || !cfg->chain_id || !cfg->block_id || !vs || height == 0)
		return IOLM_EINVAL;
	e = calloc(1, sizeof *e);
	if (!e)
		return IOLM_ENOMEM;
	e->cfg = *cfg;
	e->self = -1;
	e->height = height;
	eng_height_reset(e);
	err = IOLM_ENOMEM;
	e->chain_id = strdup(cfg->chain_id);
	if (!e->chain_id)
		goto fail;
	e->cfg.chain_id = e->chain_id;
	err = cons_valset_copy(&e->vs, vs);
	if (err)
		goto fail;
	err = cons_rr_init(&e->rr, e->vs);
	if (err)
		goto fail;
	if (key) {
		e->self = cons_valset_find(e->vs, iolm_key_pub(key));
		err = IOLM_ECONS_VALIDATOR;
		if (e->self < 0)
			goto fail;
		e->key = *key;
	}
	*out = e;
	return IOLM_OK;
fail:
	cons_engine_destroy(e);
	return err;
}

static void queued_free(struct queued_action *qa)
{
	for (int i = 0; i < 3; i++) {
		free(qa->mem[i]);
		qa->mem[i] = NULL;
	}
}

void cons_engine_destroy(cons_engine *e)
{
	if (!e)
		return;
	eng_height_reset(e);
	free(e->blocks);
	free(e->own);
	for (size_t i = e->qhead; i < e->qlen; i++)
		queued_free(&e->q[i]);
	free(e->q);
	queued_free(&e->cur);
	for (size_t i = 0; i < e->nev; i++)
		free(e->ev[i]);
	free(e->ev);
	free(e->ev_len);
	cons_rr_release(&e->rr);
	cons_valset_destroy(e->vs);
	free(e->chain_id);
	iolm_key_wipe(&e->key);
	free(e);
}

/* ---------------------------------------------------------------- helpers */

static uint32_t timeout_ms(uint32_t base, uint32_t delta, uint32_t round)
{
	uint64_t t = (uint64_t)base + (uint64_t)delta * round;
	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static int schedule(cons_engine *e, enum cons_step step)
{
	cons_action a = { .kind = CONS_ACT_TIMEOUT, .height = e->height, .round = e->round,
			  .step = step };
	switch (step) {
	case CONS_STEP_PROPOSE:
		a.delay_ms = timeout_ms(e->cfg.propose_ms, e->cfg.propose_delta_ms, e->round);
		break;
	case CONS_STEP_PREVOTE:
		a.delay_ms = timeout_ms(e->cfg.prevote_ms, e->cfg.prevote_delta_ms, e->round);
		break;
	case CONS_STEP_PRECOMMIT:
		a.delay_ms = timeout_ms(e->cfg.precommit_ms, e->cfg.precommit_delta_ms,
					e->round);
		break;
	}
	return eng_queue(e, &a, NULL, 0, NULL, 0, NULL, 0);
}

static int quorum(const cons_engine *e, uint64_t power)
{
	return cons_power_quorum(power, e->vs->total);
}

/* StartRound(round), lines 11-21. */
static int start_round(cons_engine *e, uint32_t r)
{
	int err = IOLM_OK;

	e->round = r;
	e->step = CONS_STEP_PROPOSE;
	e->block_requested = 0;
	if (e->restored_step > CONS_STEP_PROPOSE) {
		/* Resuming a round we had voted in before a restart. */
		e->step = e->restored_step;
		e->restored_step = 0;
		return schedule(e, e->step);
	}
	e->restored_step = 0;
	struct cons_round *rs = eng_round(e, r, 0);
	if (e->self >= 0 && eng_proposer(e, r) == (uint32_t)e->self &&
	    !(rs && rs->has_proposal)) {
		if (e->valid_round >= 0) {
			struct cons_block *b = eng_block_find(e, e->valid_id);
			/* A lock restored from the WAL may lack its block: then we
			 * propose nothing and let the round time out. */
			if (b)
				err = eng_sign_proposal(e, b, e->valid_round);
		} else {
			cons_action a = { .kind = CONS_ACT_GET_BLOCK, .height = e->height,
					  .round = r };
			err = eng_queue(e, &a, NULL, 0, NULL, 0, NULL, 0);
			e->block_requested = 1;
		}
		if (err)
			return err;
	}
	return schedule(e, CONS_STEP_PROPOSE);
}

static int prevote(cons_engine *e, const uint8_t *id)
{
	e->step = CONS_STEP_PREVOTE;
	return eng_sign_vote(e, VT_PREVOTE, id);
}

static int precommit(cons_engine *e, const uint8_t *id)
{
	e->step = CONS_STEP_PRECOMMIT;
	return eng_sign_vote(e, VT_PRECOMMIT, id);
}

/* Decide blk at round r: emit it with its certificate, then height + 1 (lines 49-54). */
static int decide(cons_engine *e, uint32_t r, const struct cons_block *blk,
		  const uint8_t *cert, size_t cert_len)
{
	iolm_buf c;
	int err = IOLM_OK;

	iolm_buf_init(&c, 64 + (size_t)CONS_CERT_BYTES_PER_SIG * e->vs->n);
	if (!cert) {
		err = eng_build_cert(e, &c, r, blk->id);
		if (err)
			goto out;
		cert = c.data;
		cert_len = c.len;
	}
	cons_action a = { .kind = CONS_ACT_COMMIT, .height = e->height, .round = r };
	memcpy(a.block_id, blk->id, CONS_ID_LEN);
	err = eng_queue(e, &a, NULL, 0, blk->data, blk->len, cert, cert_len);
	if (err)
		goto out;
	e->height++;
	eng_height_reset(e);
	if (e->started)
		err = start_round(e, 0);
out:
	iolm_buf_release(&c, 0);
	return err;
}

/* ---------------------------------------------------------------- upon-rules */

/* Line 49: some round has +2/3 precommits for an id whose valid block we hold. */
static int rule_decide(cons_engine *e, int *decided)
{
	for (uint32_t r = 0; r < e->nrounds; r++) {
		struct cons_round *rs = e->rounds[r];
		if (!rs || !quorum(e, eng_tally(e, rs, VT_PRECOMMIT, NULL, 1)))
			continue;
		/* At most one id has +2/3 unless more than 1/3 equivocated; try each. */
		for (size_t i = 0; i < e->vs->n; i++) {
			const struct vote_slot *s = &rs->votes[VT_PRECOMMIT][i];
			for (int k = -1; s->present && k < (int)s->nextra; k++) {
				const struct vote_one *v = k < 0 ? &s->v : &s->extra[k];
				if (v->nil || !quorum(e, eng_tally(e, rs, VT_PRECOMMIT, v->id, 0)))
					continue;
				struct cons_block *b = eng_block_find(e, v->id);
				if (!b || b->state != BLK_VALID)
					continue; /* wait for the block or the host's verdict */
				*decided = 1;
				return decide(e, r, b, NULL, 0);
			}
		}
	}
	return IOLM_OK;
}

/* Line 55: f+1 of the power sent something for a higher round: go there. */
static int rule_skip(cons_engine *e, int *changed)
{
	for (uint32_t r = e->nrounds; r-- > e->round + 1;) {
		struct cons_round *rs = e->rounds[r];
		if (!rs)
			continue;
		uint64_t p = 0;
		uint32_t prop = rs->has_proposal ? eng_proposer(e, r) : UINT32_MAX;
		for (uint32_t i = 0; i < e->vs->n; i++)
			if (rs->votes[0][i].present || rs->votes[1][i].present || i == prop)
				p += e->vs->power[i];
		if (cons_power_third(p, e->vs->total)) {
			*changed = 1;
			return start_round(e, r);
		}
	}
	return IOLM_OK;
}

/* Lines 22-33: prevote on the round's proposal, with or without proof of lock. */
static int rule_propose(cons_engine *e, struct cons_round *rs, int *changed)
{
	if (!rs || !rs->has_proposal)
		return IOLM_OK;
	int32_t vr = rs->pol_round;
	if (vr >= 0) {
		struct cons_round *pol = eng_round(e, (uint32_t)vr, 0);
		if (!quorum(e, eng_tally(e, pol, VT_PREVOTE, rs->prop_id, 0)))
			return IOLM_OK; /* no POL yet: wait, or time out */
	}
	struct cons_block *b = eng_block_find(e, rs->prop_id);
	assert(b);
	if (b->state == BLK_PENDING)
		return IOLM_OK;
	int same = e->locked_round >= 0 && memcmp(e->locked_id, rs->prop_id, CONS_ID_LEN) == 0;
	int ok = b->state == BLK_VALID && (e->locked_round <= vr || same);
	*changed = 1;
	return prevote(e, ok ? rs->prop_id : NULL);
}

/* Lines 36-43: +2/3 prevotes for the proposal of this round: lock and precommit. */
static int rule_lock(cons_engine *e, struct cons_round *rs, int *changed)
{
	if (!rs || !rs->has_proposal || rs->line36_done)
		return IOLM_OK;
	struct cons_block *b = eng_block_find(e, rs->prop_id);
	if (!b || b->state != BLK_VALID ||
	    !quorum(e, eng_tally(e, rs, VT_PREVOTE, rs->prop_id, 0)))
		return IOLM_OK;
	rs->line36_done = 1;
	*changed = 1;
	e->valid_round = (int32_t)e->round;
	memcpy(e->valid_id, rs->prop_id, CONS_ID_LEN);
	if (e->step != CONS_STEP_PREVOTE)
		return IOLM_OK;
	e->locked_round = (int32_t)e->round;
	memcpy(e->locked_id, rs->prop_id, CONS_ID_LEN);
	return precommit(e, rs->prop_id);
}

/* Lines 34-35 and 44-46, in step prevote. */
static int rule_prevote_step(cons_engine *e, struct cons_round *rs, int *changed)
{
	if (!rs)
		return IOLM_OK;
	if (quorum(e, eng_tally(e, rs, VT_PREVOTE, NULL, 0))) {
		*changed = 1;
		return precommit(e, NULL);
	}
	if (!rs->prevote_timer && quorum(e, eng_tally(e, rs, VT_PREVOTE, NULL, 1))) {
		rs->prevote_timer = 1;
		return schedule(e, CONS_STEP_PREVOTE);
	}
	return IOLM_OK;
}

/* Lines 47-48: +2/3 precommits of any kind in this round. */
static int rule_precommit_timer(cons_engine *e, struct cons_round *rs)
{
	if (!rs || rs->precommit_timer || !quorum(e, eng_tally(e, rs, VT_PRECOMMIT, NULL, 1)))
		return IOLM_OK;
	rs->precommit_timer = 1;
	return schedule(e, CONS_STEP_PRECOMMIT);
}

static int progress(cons_engine *e)
{
	int err = IOLM_OK;

	while (e->started && !err) {
		int changed = 0, decided = 0;
		err = rule_decide(e, &decided);
		if (err || decided)
			continue; /* a new height: its rules may fire at once */
		err = rule_skip(e, &changed);
		struct cons_round *rs = eng_round(e, e->round, 0);
		if (!err && e->step == CONS_STEP_PROPOSE)
			err = rule_propose(e, rs, &changed);
		if (!err && e->step >= CONS_STEP_PREVOTE)
			err = rule_lock(e, rs, &changed);
		if (!err && e->step == CONS_STEP_PREVOTE)
			err = rule_prevote_step(e, rs, &changed);
		if (!err)
			err = rule_precommit_timer(e, rs);
		if (!changed)
			break;
	}
	return err;
}

/* ---------------------------------------------------------------- restart */

/* From the messages we signed at this height (restored from the WAL): the highest round
 * we took part in, the step we reached there, and the lock our precommits imply. */
static void resume_from_own(cons_engine *e)
{
	for (uint32_t r = 0; r < e->nrounds; r++) {
		struct cons_round *rs = e->rounds[r];
		if (!rs)
			continue;
		struct vote_slot *pv = &rs->votes[VT_PREVOTE][e->self];
		struct vote_slot *pc = &rs->votes[VT_PRECOMMIT][e->self];
		int proposed = rs->has_proposal && eng_proposer(e, r) == (uint32_t)e->self;
		if (!pv->present && !pc->present && !proposed)
			continue;
		e->round = r;
		e->restored_step = pc->present   ? CONS_STEP_PRECOMMIT
				   : pv->present ? CONS_STEP_PREVOTE
						 : CONS_STEP_PROPOSE;
		if (pc->present && !pc->v.nil) {
			e->locked_round = e->valid_round = (int32_t)r;
			memcpy(e->locked_id, pc->v.id, CONS_ID_LEN);
			memcpy(e->valid_id, pc->v.id, CONS_ID_LEN);
		}
	}
}

int cons_engine_restore(cons_engine *e, enum cons_msg_kind kind, const uint8_t *msg,
			size_t len)
{
	int err;
	if (e->started || e->self < 0)
		return IOLM_ESTATE;
	if (kind == CONS_MSG_VOTE)
		err = eng_take_vote(e, msg, len, 1);
	else if (kind == CONS_MSG_PROPOSAL)
		err = eng_take_proposal(e, msg, len, 1);
	else
		return IOLM_EINVAL;
	if (err == IOLM_ECONS_OLD || err == IOLM_ECONS_FUTURE)
		err = IOLM_OK;
	return err;
}

int cons_engine_start(cons_engine *e)
{
	int err;
	if (e->started)
		return IOLM_ESTATE;
	e->started = 1;
	if (e->nown > 0) {
		resume_from_own(e);
		err = cons_engine_rebroadcast(e);
		if (err)
			return err;
	}
	err = start_round(e, e->round);
	if (!err)
		err = progress(e);
	return err;
}

/* ---------------------------------------------------------------- events */

int cons_engine_on_proposal(cons_engine *e, const uint8_t *msg, size_t len)
{
	int err = eng_take_proposal(e, msg, len, 0);
	return err ? err : progress(e);
}

int cons_engine_on_vote(cons_engine *e, const uint8_t *msg, size_t len)
{
	int err = eng_take_vote(e, msg, len, 0);
	return err ? err : progress(e);
}

int cons_engine_on_commit(cons_engine *e, const uint8_t *block, size_t block_len,
			  const uint8_t *cert, size_t cert_len)
{
	cons_cert_info info;
	uint8_t id[CONS_ID_LEN];
	struct cons_block *b;
	int err;

	err = cons_cert_verify_with(e->vs, e->chain_id, cert, cert_len, &info, e->cfg.verify,
				    e->cfg.ctx);
	if (err)
		return err;
	if (info.height < e->height)
		return IOLM_ECONS_OLD;
	if (info.height > e->height)
		return IOLM_ECONS_FUTURE;
	if (!block || block_len == 0 || block_len > IOLM_MAX_BLOCK_BYTES)
		return IOLM_ECONS_BLOCKID;
	e->cfg.block_id(e->cfg.ctx, id, block, block_len);
	if (memcmp(id, info.block_id, CONS_ID_LEN) != 0)
		return IOLM_ECONS_BLOCKID;
	/* +2/3 precommitted it, so at least one correct validator judged it valid. */
	err = eng_block_add(e, &b, id, block, block_len, BLK_VALID);
	if (err)
		return err;
	err = decide(e, info.round, b, cert, cert_len);
	return err ? err : progress(e);
}

int cons_engine_on_timeout(cons_engine *e, uint64_t height, uint32_t round,
			   enum cons_step step)
{
	int err = IOLM_OK;
	if (!e->started || height != e->height || round != e->round)
		return IOLM_OK;
	if (step == CONS_STEP_PROPOSE && e->step == CONS_STEP_PROPOSE)
		err = prevote(e, NULL); /* lines 57-60 */
	else if (step == CONS_STEP_PREVOTE && e->step == CONS_STEP_PREVOTE)
		err = precommit(e, NULL); /* lines 61-64 */
	else if (step == CONS_STEP_PRECOMMIT)
		err = start_round(e, round + 1); /* lines 65-67 */
	return err ? err : progress(e);
}

int cons_engine_on_validated(cons_engine *e, uint64_t height,
			     const uint8_t block_id[static CONS_ID_LEN], int valid)
{
	if (height != e->height)
		return IOLM_OK;
	struct cons_block *b = eng_block_find(e, block_id);
	if (!b || b->state != BLK_PENDING)
		return IOLM_OK;
	b->state = valid ? BLK_VALID : BLK_INVALID;
	return progress(e);
}

int cons_engine_propose(cons_engine *e, uint64_t height, uint32_t round,
			const uint8_t *block, size_t len)
{
	uint8_t id[CONS_ID_LEN];
	struct cons_block *b;
	int err;

	if (!block || len == 0 || len > IOLM_MAX_BLOCK_BYTES)
		return IOLM_EINVAL;
	if (!e->block_requested || height != e->height || round != e->round ||
	    e->step != CONS_STEP_PROPOSE)
		return IOLM_OK;
	e->block_requested = 0;
	e->cfg.block_id(e->cfg.ctx, id, block, len);
	err = eng_block_add(e, &b, id, block, len, BLK_VALID);
	if (err)
		return err;
	b->state = BLK_VALID;
	err = eng_sign_proposal(e, b, -1);
	return err ? err : progress(e);
}

int cons_engine_rebroadcast(cons_engine *e)
{
	for (size_t i = 0; i < e->nown; i++) {
		cons_action a = { .kind = CONS_ACT_SEND, .msg_kind = e->own[i].kind,
				  .height = e->height, .round = e->round };
		int err = eng_queue(e, &a, e->own[i].msg, e->own[i].len, NULL, 0, NULL, 0);
		if (err)
			return err;
	}
	return IOLM_OK;
}

int cons_engine_poll(cons_engine *e, cons_action *act)
{
	queued_free(&e->cur);
	if (e->qhead == e->qlen) {
		e->qhead = e->qlen = 0;
		return 0;
	}
	e->cur = e->q[e->qhead++];
	*act = e->cur.a;
	return 1;
}

uint64_t cons_engine_height(const cons_engine *e)
{
	return e->height;
}

uint32_t cons_engine_round(const cons_engine *e)
{
	return e->round;
}

enum cons_step cons_engine_step(const cons_engine *e)
{
	return e->step;
}

int32_t cons_engine_locked_round(const cons_engine *e)
{
	return e->locked_round;
}

size_t cons_engine_evidence_count(const cons_engine *e)
{
	return e->nev;
}

int cons_engine_evidence_get(const cons_engine *e, size_t i, const uint8_t **ev,
			     size_t *len)
{
	*ev = NULL;
	*len = 0;
	if (i >= e->nev)
		return IOLM_ERANGE;
	*ev = e->ev[i];
	*len = e->ev_len[i];
	return IOLM_OK;
}
