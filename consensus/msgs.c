/* Messages of the engine: decode and check votes and proposals from outside, store them
 * per round, record equivocation evidence, sign our own, build commit certificates.
 *
 * Every input is decoded with a cap (IOLM_MAX_VOTE_BYTES for votes and bodies,
 * IOLM_MAX_FRAME_BYTES for a proposal with its block), then checked in this order:
 * shape, chain, validator index, past height (cheap refusal), signature, future height
 * (after the signature, so a host may trust the height when it starts a sync), round
 * window, and for proposals the round's proposer and the block id. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/engine_int.h"
#include "core/hash.h"
#include "core/key.h"

/* ---------------------------------------------------------------- storage */

struct cons_round *eng_round(cons_engine *e, uint32_t r, int create)
{
	if (r < e->nrounds && e->rounds[r])
		return e->rounds[r];
	if (!create)
		return NULL;
	if (r >= e->nrounds) {
		uint32_t n = r + 1;
		struct cons_round **nr = realloc(e->rounds, n * sizeof *nr);
		if (!nr)
			return NULL;
		memset(nr + e->nrounds, 0, (n - e->nrounds) * sizeof *nr);
		e->rounds = nr;
		e->nrounds = n;
	}
	struct cons_round *rs = calloc(1, sizeof *rs);
	if (!rs)
		return NULL;
	rs->votes[0] = calloc(e->vs->n, sizeof(struct vote_slot));
	rs->votes[1] = calloc(e->vs->n, sizeof(struct vote_slot));
	if (!rs->votes[0] || !rs->votes[1]) {
		free(rs->votes[0]);
		free(rs->votes[1]);
		free(rs);
		return NULL;
	}
	e->rounds[r] = rs;
	return rs;
}

struct cons_block *eng_block_find(cons_engine *e, const uint8_t id[static CONS_ID_LEN])
{
	for (size_t i = 0; i < e->nblocks; i++)
		if (memcmp(e->blocks[i].id, id, CONS_ID_LEN) == 0)
			return &e->blocks[i];
	return NULL;
}

int eng_block_add(cons_engine *e, struct cons_block **out,
		  const uint8_t id[static CONS_ID_LEN], const uint8_t *data, size_t len,
		  int state)
{
	*out = eng_block_find(e, id);
	if (*out)
		return IOLM_OK;
	if (e->nblocks == e->cap_blocks) {
		size_t cap = e->cap_blocks ? 2 * e->cap_blocks : 4;
		struct cons_block *nb = realloc(e->blocks, cap * sizeof *nb);
		if (!nb)
			return IOLM_ENOMEM;
		e->blocks = nb;
		e->cap_blocks = cap;
	}
	struct cons_block *b = &e->blocks[e->nblocks];
	b->data = malloc(len ? len : 1);
	if (!b->data)
		return IOLM_ENOMEM;
	memcpy(b->data, data, len);
	b->len = len;
	b->state = state;
	memcpy(b->id, id, CONS_ID_LEN);
	e->nblocks++;
	*out = b;
	return IOLM_OK;
}

static void round_free(cons_engine *e, struct cons_round *rs)
{
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < e->vs->n; i++)
			free(rs->votes[t][i].extra);
}

void eng_height_reset(cons_engine *e)
{
	for (uint32_t r = 0; r < e->nrounds; r++) {
		if (!e->rounds[r])
			continue;
		round_free(e, e->rounds[r]);
		free(e->rounds[r]->votes[0]);
		free(e->rounds[r]->votes[1]);
		free(e->rounds[r]);
	}
	free(e->rounds);
	e->rounds = NULL;
	e->nrounds = 0;
	for (size_t i = 0; i < e->nblocks; i++)
		free(e->blocks[i].data);
	e->nblocks = 0;
	for (size_t i = 0; i < e->nown; i++)
		free(e->own[i].msg);
	e->nown = 0;
	e->round = 0;
	e->step = CONS_STEP_PROPOSE;
	e->locked_round = e->valid_round = -1;
	memset(e->locked_id, 0, CONS_ID_LEN);
	memset(e->valid_id, 0, CONS_ID_LEN);
	e->restored_step = 0;
	e->block_requested = 0;
}

uint32_t eng_proposer(cons_engine *e, uint32_t round)
{
	return cons_rr_proposer(&e->rr, e->vs, e->height, round);
}

static int vote_is(const struct vote_one *v, const uint8_t *id)
{
	return id ? !v->nil && memcmp(v->id, id, CONS_ID_LEN) == 0 : v->nil;
}

const struct vote_one *eng_slot_match(const struct vote_slot *s, const uint8_t *id)
{
	if (!s->present)
		return NULL;
	if (vote_is(&s->v, id))
		return &s->v;
	for (uint8_t k = 0; k < s->nextra; k++)
		if (vote_is(&s->extra[k], id))
			return &s->extra[k];
	return NULL;
}

uint64_t eng_tally(const cons_engine *e, const struct cons_round *rs, int vt,
		   const uint8_t *id, int any)
{
	uint64_t p = 0;
	if (!rs)
		return 0;
	for (size_t i = 0; i < e->vs->n; i++) {
		const struct vote_slot *s = &rs->votes[vt][i];
		if (s->present && (any || eng_slot_match(s, id)))
			p += e->vs->power[i];
	}
	return p;
}

static int own_add(cons_engine *e, enum cons_msg_kind kind, const uint8_t *msg, size_t len)
{
	if (e->nown == e->cap_own) {
		size_t cap = e->cap_own ? 2 * e->cap_own : 8;
		struct cons_owned *no = realloc(e->own, cap * sizeof *no);
		if (!no)
			return IOLM_ENOMEM;
		e->own = no;
		e->cap_own = cap;
	}
	uint8_t *m = malloc(len);
	if (!m)
		return IOLM_ENOMEM;
	memcpy(m, msg, len);
	e->own[e->nown++] = (struct cons_owned){ .kind = kind, .msg = m, .len = len };
	return IOLM_OK;
}

/* Copy an optional byte range for a queued action. */
static int dup_bytes(uint8_t **out, const uint8_t *p, size_t len)
{
	*out = NULL;
	if (!p)
		return IOLM_OK;
	*out = malloc(len ? len : 1);
	if (!*out)
		return IOLM_ENOMEM;
	memcpy(*out, p, len);
	return IOLM_OK;
}

int eng_queue(cons_engine *e, const cons_action *a, const uint8_t *msg, size_t msg_len,
	      const uint8_t *block, size_t block_len, const uint8_t *cert, size_t cert_len)
{
	struct queued_action qa = { .a = *a };
	int err;

	if (e->qlen == e->qcap) {
		size_t cap = e->qcap ? 2 * e->qcap : 16;
		struct queued_action *nq = realloc(e->q, cap * sizeof *nq);
		if (!nq)
			return IOLM_ENOMEM;
		e->q = nq;
		e->qcap = cap;
	}
	err = dup_bytes(&qa.mem[0], msg, msg_len);
	if (!err)
		err = dup_bytes(&qa.mem[1], block, block_len);
	if (!err)
		err = dup_bytes(&qa.mem[2], cert, cert_len);
	if (err) {
		free(qa.mem[0]);
		free(qa.mem[1]);
		return err;
	}
	qa.a.msg = qa.mem[0];
	qa.a.msg_len = msg ? msg_len : 0;
	qa.a.block = qa.mem[1];
	qa.a.block_len = block ? block_len : 0;
	qa.a.cert = qa.mem[2];
	qa.a.cert_len = cert ? cert_len : 0;
	e->q[e->qlen++] = qa;
	return IOLM_OK;
}

/* ---------------------------------------------------------------- votes */

static void vote_fill(struct vote_one *o, const Iolm__Vote *v, const Iolm__VoteBody *b)
{
	o->nil = b->block_id.len == 0;
	memset(o->id, 0, CONS_ID_LEN);
	if (!o->nil)
		memcpy(o->id, b->block_id.data, CONS_ID_LEN);
	memcpy(o->sig, v->signature.data, IOLM_SIG_LEN);
}

/* Keep a conflicting vote beside the first (bounded). */
static int vote_extra(struct vote_slot *s, const Iolm__Vote *v, const Iolm__VoteBody *b)
{
	if (s->nextra == CONS_MAX_EXTRA_VOTES)
		return IOLM_OK;
	if (!s->extra) {
		s->extra = calloc(CONS_MAX_EXTRA_VOTES, sizeof *s->extra);
		if (!s->extra)
			return IOLM_ENOMEM;
	}
	vote_fill(&s->extra[s->nextra++], v, b);
	return IOLM_OK;
}

/* Evidence{a: the stored first vote, re-encoded (canonical, so byte-identical to what
 * was received), b: the conflicting vote v}. */
static int record_evidence(cons_engine *e, struct vote_slot *s, const Iolm__VoteBody *b,
			   const Iolm__Vote *v)
{
	Iolm__Vote a = IOLM__VOTE__INIT;
	Iolm__Evidence ev = IOLM__EVIDENCE__INIT;
	iolm_buf body, out;
	uint8_t digest[32];
	int err;

	iolm_buf_init(&body, IOLM_MAX_VOTE_BYTES);
	iolm_buf_init(&out, 4 * IOLM_MAX_VOTE_BYTES);
	err = cons_vote_body_encode(&body, digest, e->chain_id, b->type, b->height, b->round,
				    s->v.nil ? NULL : s->v.id, b->validator);
	if (err)
		goto out;
	a.body.data = body.data;
	a.body.len = body.len;
	a.signature.data = s->v.sig;
	a.signature.len = IOLM_SIG_LEN;
	ev.a = &a;
	ev.b = (Iolm__Vote *)v;
	err = iolm_codec_encode(&out, &ev.base);
	if (err)
		goto out;
	if (e->nev == e->cap_ev) {
		size_t cap = e->cap_ev ? 2 * e->cap_ev : 4;
		uint8_t **ne = realloc(e->ev, cap * sizeof *ne);
		size_t *nl = ne ? realloc(e->ev_len, cap * sizeof *nl) : NULL;
		err = IOLM_ENOMEM;
		if (ne)
			e->ev = ne;
		if (!nl)
			goto out;
		e->ev_len = nl;
		e->cap_ev = cap;
	}
	cons_action act = { .kind = CONS_ACT_EVIDENCE, .msg_kind = CONS_MSG_EVIDENCE,
			    .height = b->height, .round = b->round };
	err = eng_queue(e, &act, out.data, out.len, NULL, 0, NULL, 0);
	if (err)
		goto out;
	e->ev_len[e->nev] = out.len;
	e->ev[e->nev++] = iolm_buf_detach(&out, &out.len);
	s->evidenced = 1;
out:
	iolm_buf_release(&body, 0);
	iolm_buf_release(&out, 0);
	return err;
}

static int verify(const cons_engine *e, const uint8_t *sig, const uint8_t *digest,
		  uint32_t validator)
{
	const uint8_t *pub = e->vs->pub[validator];
	int err = e->cfg.verify ? e->cfg.verify(e->cfg.ctx, sig, digest, pub)
				: iolm_verify(sig, digest, pub);
	return err ? IOLM_EBADSIG : IOLM_OK;
}

static int vote_check(const cons_engine *e, const Iolm__Vote *v, const Iolm__VoteBody *b,
		      int own)
{
	uint8_t digest[32];
	if (v->signature.len != IOLM_SIG_LEN ||
	    (b->type != IOLM__VOTE_TYPE__VOTE_PREVOTE &&
	     b->type != IOLM__VOTE_TYPE__VOTE_PRECOMMIT) ||
	    (b->block_id.len != 0 && b->block_id.len != CONS_ID_LEN))
		return IOLM_ECONS_VOTE;
	if (strcmp(b->chain_id, e->chain_id) != 0)
		return IOLM_ECONS_CHAIN;
	if (b->validator >= e->vs->n)
		return IOLM_ECONS_VALIDATOR;
	if (b->height < e->height)
		return IOLM_ECONS_OLD;
	iolm_hash(digest, IOLM_TAG_VOTE, v->body.data, v->body.len);
	if (verify(e, v->signature.data, digest, b->validator))
		return IOLM_EBADSIG;
	if (b->height > e->height)
		return IOLM_ECONS_FUTURE;
	/* Our own messages come from our WAL at restart and may be far ahead. */
	if (!own && b->round > (uint64_t)e->round + CONS_ROUND_WINDOW)
		return IOLM_ECONS_ROUND;
	return IOLM_OK;
}

int eng_take_vote(cons_engine *e, const uint8_t *msg, size_t len, int own)
{
	Iolm__Vote *v = NULL;
	Iolm__VoteBody *b = NULL;
	int err;

	err = iolm_decode_vote(&v, msg, len, IOLM_MAX_VOTE_BYTES);
	if (err)
		goto out;
	err = iolm_decode_vote_body(&b, v->body.data, v->body.len, IOLM_MAX_VOTE_BYTES);
	if (err)
		goto out;
	err = vote_check(e, v, b, own);
	if (err)
		goto out;
	err = IOLM_EINVAL;
	if (own && (int)b->validator != e->self)
		goto out;
	err = IOLM_ENOMEM;
	struct cons_round *rs = eng_round(e, b->round, 1);
	if (!rs)
		goto out;
	int vt = b->type == IOLM__VOTE_TYPE__VOTE_PREVOTE ? VT_PREVOTE : VT_PRECOMMIT;
	struct vote_slot *s = &rs->votes[vt][b->validator];
	const uint8_t *id = b->block_id.len ? b->block_id.data : NULL;
	err = IOLM_OK;
	if (!s->present) {
		s->present = 1;
		vote_fill(&s->v, v, b);
		if (own)
			err = own_add(e, CONS_MSG_VOTE, msg, len);
	} else if (!eng_slot_match(s, id)) {
		err = vote_extra(s, v, b);
		if (!err && !s->evidenced)
			err = record_evidence(e, s, b, v);
	}
out:
	iolm_codec_free((ProtobufCMessage *)b);
	iolm_codec_free((ProtobufCMessage *)v);
	return err;
}

/* ---------------------------------------------------------------- proposals */

static int proposal_check(cons_engine *e, const Iolm__Proposal *p,
			  const Iolm__ProposalBody *b, int own)
{
	uint8_t digest[32], id[CONS_ID_LEN];
	if (p->signature.len != IOLM_SIG_LEN || b->block_id.len != CONS_ID_LEN ||
	    p->block.len == 0 || b->pol_round < -1 || (int64_t)b->pol_round >= b->round)
		return IOLM_ECONS_PROPOSAL;
	if (strcmp(b->chain_id, e->chain_id) != 0)
		return IOLM_ECONS_CHAIN;
	if (b->proposer >= e->vs->n)
		return IOLM_ECONS_VALIDATOR;
	if (b->height < e->height)
		return IOLM_ECONS_OLD;
	iolm_hash(digest, IOLM_TAG_PROPOSAL, p->body.data, p->body.len);
	if (verify(e, p->signature.data, digest, b->proposer))
		return IOLM_EBADSIG;
	if (b->height > e->height)
		return IOLM_ECONS_FUTURE;
	if (!own && b->round > (uint64_t)e->round + CONS_ROUND_WINDOW)
		return IOLM_ECONS_ROUND;
	if (b->proposer != eng_proposer(e, b->round))
		return IOLM_ECONS_PROPOSER;
	e->cfg.block_id(e->cfg.ctx, id, p->block.data, p->block.len);
	if (memcmp(id, b->block_id.data, CONS_ID_LEN) != 0)
		return IOLM_ECONS_BLOCKID;
	return IOLM_OK;
}

/* Store the block of a new proposal; ask the host about it when it is new to us. */
static int proposal_block(cons_engine *e, const Iolm__Proposal *p,
			  const Iolm__ProposalBody *b, int own)
{
	struct cons_block *blk = eng_block_find(e, b->block_id.data);
	if (blk) {
		if (own)
			blk->state = BLK_VALID;
		return IOLM_OK;
	}
	int err = eng_block_add(e, &blk, b->block_id.data, p->block.data, p->block.len,
				own ? BLK_VALID : BLK_PENDING);
	if (err || own)
		return err;
	cons_action act = { .kind = CONS_ACT_VALIDATE, .height = b->height,
			    .round = b->round };
	memcpy(act.block_id, b->block_id.data, CONS_ID_LEN);
	return eng_queue(e, &act, NULL, 0, p->block.data, p->block.len, NULL, 0);
}

int eng_take_proposal(cons_engine *e, const uint8_t *msg, size_t len, int own)
{
	Iolm__Proposal *p = NULL;
	Iolm__ProposalBody *b = NULL;
	int err;

	err = iolm_decode_proposal(&p, msg, len, IOLM_MAX_FRAME_BYTES);
	if (err)
		goto out;
	err = iolm_decode_proposal_body(&b, p->body.data, p->body.len, IOLM_MAX_VOTE_BYTES);
	if (err)
		goto out;
	err = proposal_check(e, p, b, own);
	if (err)
		goto out;
	err = IOLM_EINVAL;
	if (own && (int)b->proposer != e->self)
		goto out;
	err = IOLM_ENOMEM;
	struct cons_round *rs = eng_round(e, b->round, 1);
	if (!rs)
		goto out;
	err = IOLM_OK;
	if (rs->has_proposal) /* a second proposal for the round: keep the first */
		goto out;
	err = proposal_block(e, p, b, own);
	if (err)
		goto out;
	rs->has_proposal = 1;
	rs->pol_round = b->pol_round;
	memcpy(rs->prop_id, b->block_id.data, CONS_ID_LEN);
	if (own)
		err = own_add(e, CONS_MSG_PROPOSAL, msg, len);
out:
	iolm_codec_free((ProtobufCMessage *)b);
	iolm_codec_free((ProtobufCMessage *)p);
	return err;
}

/* ---------------------------------------------------------------- signing */

static int emit_signed(cons_engine *e, enum cons_msg_kind kind, enum cons_step step,
		       const uint8_t *id, const iolm_buf *msg)
{
	cons_action act = { .kind = CONS_ACT_SIGN, .msg_kind = kind, .height = e->height,
			    .round = e->round, .step = step, .nil = id == NULL };
	if (id)
		memcpy(act.block_id, id, CONS_ID_LEN);
	return eng_queue(e, &act, msg->data, msg->len, NULL, 0, NULL, 0);
}

int eng_sign_vote(cons_engine *e, int vt, const uint8_t *id)
{
	Iolm__Vote v = IOLM__VOTE__INIT;
	iolm_buf body, out;
	uint8_t digest[32], sig[IOLM_SIG_LEN];
	int err = IOLM_OK;

	if (e->self < 0)
		return IOLM_OK;
	struct cons_round *rs = eng_round(e, e->round, 1);
	if (!rs)
		return IOLM_ENOMEM;
	if (rs->votes[vt][e->self].present) /* signed before a restart: never again */
		return IOLM_OK;
	iolm_buf_init(&body, IOLM_MAX_VOTE_BYTES);
	iolm_buf_init(&out, IOLM_MAX_VOTE_BYTES);
	int type = vt == VT_PREVOTE ? IOLM__VOTE_TYPE__VOTE_PREVOTE
				    : IOLM__VOTE_TYPE__VOTE_PRECOMMIT;
	err = cons_vote_body_encode(&body, digest, e->chain_id, type, e->height, e->round,
				    id, (uint32_t)e->self);
	if (!err)
		err = iolm_sign(&e->key, sig, digest);
	if (err)
		goto out;
	v.body.data = body.data;
	v.body.len = body.len;
	v.signature.data = sig;
	v.signature.len = IOLM_SIG_LEN;
	err = iolm_codec_encode(&out, &v.base);
	if (!err)
		err = eng_take_vote(e, out.data, out.len, 1);
	if (!err)
		err = emit_signed(e, CONS_MSG_VOTE,
				  vt == VT_PREVOTE ? CONS_STEP_PREVOTE : CONS_STEP_PRECOMMIT,
				  id, &out);
out:
	iolm_buf_release(&body, 0);
	iolm_buf_release(&out, 0);
	return err;
}

int eng_sign_proposal(cons_engine *e, const struct cons_block *b, int32_t pol_round)
{
	Iolm__ProposalBody pb = IOLM__PROPOSAL_BODY__INIT;
	Iolm__Proposal p = IOLM__PROPOSAL__INIT;
	iolm_buf body, out;
	uint8_t digest[32], sig[IOLM_SIG_LEN], id[CONS_ID_LEN];
	int err;

	assert(e->self >= 0);
	memcpy(id, b->id, CONS_ID_LEN);
	iolm_buf_init(&body, IOLM_MAX_VOTE_BYTES);
	iolm_buf_init(&out, IOLM_MAX_FRAME_BYTES);
	pb.chain_id = e->chain_id;
	pb.height = e->height;
	pb.round = e->round;
	pb.pol_round = pol_round;
	pb.block_id.data = id;
	pb.block_id.len = CONS_ID_LEN;
	pb.proposer = (uint32_t)e->self;
	err = iolm_codec_encode(&body, &pb.base);
	if (err)
		goto out;
	iolm_hash(digest, IOLM_TAG_PROPOSAL, body.data, body.len);
	err = iolm_sign(&e->key, sig, digest);
	if (err)
		goto out;
	p.body.data = body.data;
	p.body.len = body.len;
	p.signature.data = sig;
	p.signature.len = IOLM_SIG_LEN;
	p.block.data = b->data; /* b may move when the block table grows: copied below */
	p.block.len = b->len;
	err = iolm_codec_encode(&out, &p.base);
	if (!err)
		err = eng_take_proposal(e, out.data, out.len, 1);
	if (!err)
		err = emit_signed(e, CONS_MSG_PROPOSAL, CONS_STEP_PROPOSE, id, &out);
out:
	iolm_buf_release(&body, 0);
	iolm_buf_release(&out, 0);
	return err;
}

/* ---------------------------------------------------------------- certificates */

int eng_build_cert(cons_engine *e, iolm_buf *out, uint32_t round,
		   const uint8_t id[static CONS_ID_LEN])
{
	struct cons_round *rs = eng_round(e, round, 0);
	Iolm__CommitCert c = IOLM__COMMIT_CERT__INIT;
	Iolm__CommitSig *sigs = NULL, **ptrs = NULL;
	int err = IOLM_ENOMEM;

	assert(rs);
	sigs = calloc(e->vs->n, sizeof *sigs);
	ptrs = calloc(e->vs->n, sizeof *ptrs);
	if (!sigs || !ptrs)
		goto out;
	c.height = e->height;
	c.round = round;
	c.block_id.data = (uint8_t *)id;
	c.block_id.len = CONS_ID_LEN;
	for (uint32_t i = 0; i < e->vs->n; i++) {
		const struct vote_one *v = eng_slot_match(&rs->votes[VT_PRECOMMIT][i], id);
		if (!v)
			continue;
		iolm__commit_sig__init(&sigs[c.n_sigs]);
		sigs[c.n_sigs].validator = i;
		sigs[c.n_sigs].signature.data = (uint8_t *)v->sig;
		sigs[c.n_sigs].signature.len = IOLM_SIG_LEN;
		ptrs[c.n_sigs] = &sigs[c.n_sigs];
		c.n_sigs++;
	}
	c.sigs = ptrs;
	err = iolm_codec_encode(out, &c.base);
out:
	free(sigs);
	free(ptrs);
	return err;
}
