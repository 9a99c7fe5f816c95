/* The engine: agreement among four engines on a perfect network, the locking rules, the
 * timeouts, restart from own messages, evidence, and every refusal of a bad input. */
#include <stdio.h>

#include "cons_test_util.h"

#define N 4
#define MAXQ 4096

struct tmsg {
	int to;
	enum cons_msg_kind kind;
	uint8_t *data;
	size_t len;
};

struct tnet {
	cons_valset *vs;
	cons_engine *e[N];
	int down[N];            /* drops everything to and from it */
	struct tmsg q[MAXQ];
	size_t qh, qt;
	struct { uint64_t h; uint32_t r; enum cons_step s; int node; } tmo[MAXQ];
	size_t ntmo;
	uint8_t committed[N][16][32];
	uint64_t ncommit[N];
	int valid;              /* the hosts' verdict on every block */
	uint64_t max_h;         /* hosts build no block above this height */
	uint8_t cert[1024], block[64];
	size_t cert_len, block_len;
};

static void tcfg(cons_config *cfg)
{
	cons_config_default(cfg);
	cfg->chain_id = TCHAIN;
	cfg->block_id = tblock_id;
}

static void net_send(struct tnet *t, int from, enum cons_msg_kind kind, const uint8_t *m,
		     size_t len)
{
	for (int to = 0; to < N; to++) {
		if (to == from || t->down[to] || t->down[from])
			continue;
		assert_true(t->qt < MAXQ);
		struct tmsg *q = &t->q[t->qt++];
		q->to = to;
		q->kind = kind;
		q->data = malloc(len);
		memcpy(q->data, m, len);
		q->len = len;
	}
}

static void drain(struct tnet *t, int i)
{
	cons_action a;
	while (t->e[i] && cons_engine_poll(t->e[i], &a)) {
		switch (a.kind) {
		case CONS_ACT_SIGN:
		case CONS_ACT_SEND:
			net_send(t, i, a.msg_kind, a.msg, a.msg_len);
			break;
		case CONS_ACT_TIMEOUT:
			t->tmo[t->ntmo].h = a.height;
			t->tmo[t->ntmo].r = a.round;
			t->tmo[t->ntmo].s = a.step;
			t->tmo[t->ntmo++].node = i;
			break;
		case CONS_ACT_GET_BLOCK: {
			char blk[64];
			if (a.height > t->max_h)
				break;
			int n = snprintf(blk, sizeof blk, "block h=%llu r=%u by %d",
					 (unsigned long long)a.height, a.round, i);
			assert_int_equal(cons_engine_propose(t->e[i], a.height, a.round,
							     (uint8_t *)blk, (size_t)n), IOLM_OK);
			break;
		}
		case CONS_ACT_VALIDATE:
			assert_int_equal(cons_engine_on_validated(t->e[i], a.height, a.block_id,
								  t->valid), IOLM_OK);
			break;
		case CONS_ACT_COMMIT:
			assert_int_equal(cons_cert_verify(t->vs, TCHAIN, a.cert, a.cert_len, NULL),
					 IOLM_OK);
			assert_int_equal(a.height, t->ncommit[i] + 1);
			memcpy(t->committed[i][t->ncommit[i]++], a.block_id, 32);
			assert_true(a.cert_len <= sizeof t->cert && a.block_len <= sizeof t->block);
			memcpy(t->cert, a.cert, a.cert_len);
			t->cert_len = a.cert_len;
			memcpy(t->block, a.block, a.block_len);
			t->block_len = a.block_len;
			break;
		case CONS_ACT_EVIDENCE:
			break;
		}
	}
}

/* Deliver until quiet. */
static void pump(struct tnet *t)
{
	for (;;) {
		for (int i = 0; i < N; i++)
			drain(t, i);
		if (t->qh == t->qt)
			break;
		struct tmsg *m = &t->q[t->qh++];
		if (t->e[m->to] && !t->down[m->to]) {
			int err = m->kind == CONS_MSG_VOTE
					  ? cons_engine_on_vote(t->e[m->to], m->data, m->len)
					  : cons_engine_on_proposal(t->e[m->to], m->data, m->len);
			assert_true(err == IOLM_OK || err == IOLM_ECONS_OLD ||
				    err == IOLM_ECONS_FUTURE);
		}
		free(m->data);
		if (t->qh == t->qt)
			t->qh = t->qt = 0;
	}
}

/* Fire every pending timeout once (in order), then pump. */
static void fire_timeouts(struct tnet *t)
{
	size_t n = t->ntmo;
	for (size_t k = 0; k < n; k++) {
		int i = t->tmo[k].node;
		if (t->e[i] && !t->down[i])
			assert_int_equal(cons_engine_on_timeout(t->e[i], t->tmo[k].h, t->tmo[k].r,
								t->tmo[k].s), IOLM_OK);
	}
	memmove(t->tmo, t->tmo + n, (t->ntmo - n) * sizeof t->tmo[0]);
	t->ntmo -= n;
	pump(t);
}

static void net_init(struct tnet *t)
{
	memset(t, 0, sizeof *t);
	t->vs = tvalset(N, NULL);
	t->valid = 1;
	t->max_h = 5;
	cons_config cfg;
	tcfg(&cfg);
	for (int i = 0; i < N; i++) {
		iolm_key k;
		tkey(&k, i);
		assert_int_equal(cons_engine_create(&t->e[i], &cfg, t->vs, &k, 1), IOLM_OK);
	}
}

static void net_start(struct tnet *t)
{
	for (int i = 0; i < N; i++)
		assert_int_equal(cons_engine_start(t->e[i]), IOLM_OK);
	pump(t);
}

static void net_free(struct tnet *t)
{
	for (int i = 0; i < N; i++)
		cons_engine_destroy(t->e[i]);
	for (size_t k = t->qh; k < t->qt; k++)
		free(t->q[k].data);
	cons_valset_destroy(t->vs);
}

static void test_four_engines_agree_on_every_height(void **state)
{
	(void)state;
	struct tnet *t = malloc(sizeof *t);
	net_init(t);
	net_start(t);
	/* A perfect network decides every height in round 0 without any timeout. */
	for (int i = 0; i < N; i++) {
		assert_int_equal(t->ncommit[i], 5);
		assert_int_equal(cons_engine_round(t->e[i]), 0);
		assert_memory_equal(t->committed[i], t->committed[0], 5 * 32);
	}
	net_free(t);
	free(t);
}

static void test_absent_proposer_times_out_to_next_round(void **state)
{
	(void)state;
	struct tnet *t = malloc(sizeof *t);
	net_init(t);
	t->max_h = 1;
	t->down[0] = 1; /* proposer of (1, 0) */
	net_start(t);
	assert_int_equal(t->ncommit[1], 0);
	fire_timeouts(t); /* propose timeouts: prevote nil, then precommit nil */
	assert_int_equal(cons_engine_step(t->e[1]), CONS_STEP_PRECOMMIT);
	fire_timeouts(t); /* precommit timeouts: round 1, proposer 1 */
	for (int i = 1; i < N; i++) {
		assert_int_equal(t->ncommit[i], 1);
		assert_memory_equal(t->committed[i][0], t->committed[1][0], 32);
	}
	uint8_t want[32];
	const char *b = "block h=1 r=1 by 1";
	tblock_id(NULL, want, (const uint8_t *)b, strlen(b));
	assert_memory_equal(t->committed[1][0], want, 32);
	net_free(t);
	free(t);
}

static void test_invalid_block_is_prevoted_nil(void **state)
{
	(void)state;
	struct tnet *t = malloc(sizeof *t);
	net_init(t);
	t->max_h = 1;
	t->valid = 0;
	net_start(t);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t->ncommit[i], 0);
		assert_int_equal(cons_engine_step(t->e[i]), CONS_STEP_PRECOMMIT);
		assert_int_equal(cons_engine_locked_round(t->e[i]), -1);
	}
	t->valid = 1;
	fire_timeouts(t);
	fire_timeouts(t);
	for (int i = 0; i < N; i++)
		assert_int_equal(t->ncommit[i], 1);
	net_free(t);
	free(t);
}

static void test_commit_certificate_lets_lagging_node_catch_up(void **state)
{
	(void)state;
	struct tnet *t = malloc(sizeof *t);
	net_init(t);
	t->max_h = 1;
	t->down[3] = 1;
	net_start(t);
	assert_int_equal(t->ncommit[0], 1);
	assert_int_equal(t->ncommit[3], 0);
	cons_engine *e = t->e[3];
	uint8_t other[] = "not the block";
	assert_int_equal(cons_engine_on_commit(e, other, sizeof other, t->cert, t->cert_len),
			 IOLM_ECONS_BLOCKID);
	assert_int_equal(cons_engine_on_commit(e, t->block, t->block_len, t->cert, 3),
			 IOLM_EDECODE);
	assert_int_equal(cons_engine_on_commit(e, t->block, t->block_len, t->cert,
					       t->cert_len), IOLM_OK);
	assert_int_equal(cons_engine_height(e), 2);
	t->down[3] = 0;
	drain(t, 3);
	assert_int_equal(t->ncommit[3], 1);
	assert_memory_equal(t->committed[3][0], t->committed[0][0], 32);
	assert_int_equal(cons_engine_on_commit(e, t->block, t->block_len, t->cert,
					       t->cert_len), IOLM_ECONS_OLD);
	net_free(t);
	free(t);
}

/* ---------------------------------------------------------------- one engine by hand */

/* Drain e; return 1 when it emitted a SIGN for step (nil and id out). */
static int took_sign(cons_engine *e, enum cons_step step, int *nil, uint8_t id[32],
		     int *sends)
{
	cons_action a;
	int found = 0;
	while (cons_engine_poll(e, &a)) {
		if (a.kind == CONS_ACT_SEND && sends)
			(*sends)++;
		if (a.kind == CONS_ACT_VALIDATE)
			assert_int_equal(cons_engine_on_validated(e, a.height, a.block_id, 1),
					 IOLM_OK);
		if (a.kind != CONS_ACT_SIGN || a.step != step)
			continue;
		found = 1;
		if (nil)
			*nil = a.nil;
		if (id)
			memcpy(id, a.block_id, 32);
	}
	return found;
}

static void feed_vote(cons_engine *e, int from, int type, uint64_t h, uint32_t r,
		      const uint8_t *id)
{
	iolm_buf b;
	iolm_buf_init(&b, 1024);
	tvote(&b, TCHAIN, from, type, h, r, id);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_OK);
	iolm_buf_release(&b, 0);
}

static void feed_proposal(cons_engine *e, int from, uint32_t r, int32_t pol, const char *blk)
{
	iolm_buf b;
	iolm_buf_init(&b, 4096);
	tproposal(&b, TCHAIN, from, 1, r, pol, (const uint8_t *)blk, strlen(blk), NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_OK);
	iolm_buf_release(&b, 0);
}

static cons_engine *engine3(void)
{
	cons_valset *vs = tvalset(N, NULL);
	cons_config cfg;
	cons_engine *e;
	iolm_key k;
	tcfg(&cfg);
	tkey(&k, 3);
	assert_int_equal(cons_engine_create(&e, &cfg, vs, &k, 1), IOLM_OK);
	cons_valset_destroy(vs);
	return e;
}

/* Engine 3 locks block A in round 0: returns A's id and the messages it signed. */
static void lock_on_a(cons_engine *e, uint8_t a[32], iolm_buf *wal, int *nwal)
{
	int nil;
	uint8_t id[32];
	cons_action act;
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	feed_proposal(e, 0, 0, -1, "block A");
	tblock_id(NULL, a, (const uint8_t *)"block A", 7);
	*nwal = 0;
	/* Keep what a host would persist. */
	while (cons_engine_poll(e, &act)) {
		if (act.kind == CONS_ACT_VALIDATE)
			assert_int_equal(cons_engine_on_validated(e, 1, act.block_id, 1), IOLM_OK);
		if (act.kind == CONS_ACT_SIGN && wal) {
			iolm_buf_init(&wal[*nwal], 1024);
			assert_int_equal(iolm_buf_append(&wal[(*nwal)++], act.msg, act.msg_len),
					 IOLM_OK);
		}
	}
	while (cons_engine_poll(e, &act))
		if (act.kind == CONS_ACT_SIGN && wal) {
			iolm_buf_init(&wal[*nwal], 1024);
			assert_int_equal(iolm_buf_append(&wal[(*nwal)++], act.msg, act.msg_len),
					 IOLM_OK);
		}
	assert_int_equal(cons_engine_step(e), CONS_STEP_PREVOTE);
	feed_vote(e, 0, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, a);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, a);
	assert_int_equal(cons_engine_locked_round(e), 0);
	while (cons_engine_poll(e, &act))
		if (act.kind == CONS_ACT_SIGN) {
			assert_int_equal(act.step, CONS_STEP_PRECOMMIT);
			assert_false(act.nil);
			memcpy(id, act.block_id, 32);
			if (wal) {
				iolm_buf_init(&wal[*nwal], 1024);
				assert_int_equal(iolm_buf_append(&wal[(*nwal)++], act.msg,
								 act.msg_len), IOLM_OK);
			}
		}
	assert_memory_equal(id, a, 32);
	(void)nil;
}

static void test_lock_and_proof_of_lock(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	uint8_t a[32], b[32], id[32];
	int nil, nwal;
	lock_on_a(e, a, NULL, &nwal);
	/* Round 0 ends without a decision. */
	feed_vote(e, 0, IOLM__VOTE_TYPE__VOTE_PRECOMMIT, 1, 0, NULL);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PRECOMMIT, 1, 0, NULL);
	assert_int_equal(cons_engine_on_timeout(e, 1, 0, CONS_STEP_PRECOMMIT), IOLM_OK);
	assert_int_equal(cons_engine_round(e), 1);
	took_sign(e, CONS_STEP_PROPOSE, NULL, NULL, NULL);
	/* Round 1: another block without POL: locked, so prevote nil (line 22). */
	feed_proposal(e, 1, 1, -1, "block B");
	assert_true(took_sign(e, CONS_STEP_PREVOTE, &nil, id, NULL));
	assert_true(nil);
	tblock_id(NULL, b, (const uint8_t *)"block B", 7);
	/* B gathers +2/3 prevotes in round 1 among the others (a POL for B at round 1). */
	feed_vote(e, 0, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	feed_vote(e, 2, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	/* Still in step prevote with +2/3 prevotes for the round's valid proposal: line 36
	 * moves the lock to B, whatever this node prevoted. */
	assert_int_equal(cons_engine_locked_round(e), 1);
	assert_true(took_sign(e, CONS_STEP_PRECOMMIT, &nil, id, NULL));
	assert_false(nil);
	assert_memory_equal(id, b, 32);
	cons_engine_destroy(e);
}

static void test_proof_of_lock_unlocks_prevote(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	uint8_t a[32], b[32], id[32];
	int nil, nwal;
	lock_on_a(e, a, NULL, &nwal);
	feed_vote(e, 0, IOLM__VOTE_TYPE__VOTE_PRECOMMIT, 1, 0, NULL);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PRECOMMIT, 1, 0, NULL);
	assert_int_equal(cons_engine_on_timeout(e, 1, 0, CONS_STEP_PRECOMMIT), IOLM_OK);
	took_sign(e, CONS_STEP_PROPOSE, NULL, NULL, NULL);
	/* Round 1 times out for us with no proposal. */
	assert_int_equal(cons_engine_on_timeout(e, 1, 1, CONS_STEP_PROPOSE), IOLM_OK);
	assert_true(took_sign(e, CONS_STEP_PREVOTE, &nil, NULL, NULL));
	assert_true(nil);
	assert_int_equal(cons_engine_on_timeout(e, 1, 1, CONS_STEP_PREVOTE), IOLM_OK);
	assert_true(took_sign(e, CONS_STEP_PRECOMMIT, &nil, NULL, NULL));
	/* Meanwhile the others saw +2/3 prevotes for B in round 1. */
	tblock_id(NULL, b, (const uint8_t *)"block B", 7);
	feed_vote(e, 0, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	feed_vote(e, 2, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 1, b);
	assert_int_equal(cons_engine_on_timeout(e, 1, 1, CONS_STEP_PRECOMMIT), IOLM_OK);
	assert_int_equal(cons_engine_round(e), 2);
	/* Round 2: B re-proposed with POL round 1 > locked round 0: prevote B (line 28). */
	feed_proposal(e, 2, 2, 1, "block B");
	assert_true(took_sign(e, CONS_STEP_PREVOTE, &nil, id, NULL));
	assert_false(nil);
	assert_memory_equal(id, b, 32);
	cons_engine_destroy(e);
}

static void test_restart_keeps_lock_and_resends(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	uint8_t a[32];
	iolm_buf wal[8];
	int nwal, sends = 0, nil;
	lock_on_a(e, a, wal, &nwal);
	assert_int_equal(nwal, 2); /* prevote A, precommit A */
	cons_engine_destroy(e);

	e = engine3();
	for (int i = 0; i < nwal; i++)
		assert_int_equal(cons_engine_restore(e, CONS_MSG_VOTE, wal[i].data, wal[i].len),
				 IOLM_OK);
	assert_int_equal(cons_engine_restore(e, CONS_MSG_EVIDENCE, wal[0].data, wal[0].len),
			 IOLM_EINVAL);
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	assert_int_equal(cons_engine_restore(e, CONS_MSG_VOTE, wal[0].data, wal[0].len),
			 IOLM_ESTATE);
	assert_int_equal(cons_engine_locked_round(e), 0);
	assert_int_equal(cons_engine_step(e), CONS_STEP_PRECOMMIT);
	/* Re-sends both, signs nothing new. */
	assert_false(took_sign(e, CONS_STEP_PREVOTE, NULL, NULL, &sends));
	assert_int_equal(sends, 2);
	/* Round 1 with another block: still locked on A. */
	assert_int_equal(cons_engine_on_timeout(e, 1, 0, CONS_STEP_PRECOMMIT), IOLM_OK);
	feed_proposal(e, 1, 1, -1, "block B");
	assert_true(took_sign(e, CONS_STEP_PREVOTE, &nil, NULL, NULL));
	assert_true(nil);
	for (int i = 0; i < nwal; i++)
		iolm_buf_release(&wal[i], 0);
	cons_engine_destroy(e);
}

static void test_restore_refuses_another_validators_vote(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	iolm_buf b;
	iolm_buf_init(&b, 1024);
	tvote(&b, TCHAIN, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, NULL);
	assert_int_equal(cons_engine_restore(e, CONS_MSG_VOTE, b.data, b.len), IOLM_EINVAL);
	iolm_buf_release(&b, 0);
	cons_engine_destroy(e);
}

static void test_equivocation_is_recorded_as_evidence(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	uint8_t x[32], y[32];
	const uint8_t *ev;
	size_t len;
	cons_action act;
	memset(x, 1, 32);
	memset(y, 2, 32);
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, x);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, x); /* duplicate: fine */
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PRECOMMIT, 1, 0, x); /* other type: fine */
	assert_int_equal(cons_engine_evidence_count(e), 0);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, y);
	feed_vote(e, 1, IOLM__VOTE_TYPE__VOTE_PREVOTE, 1, 0, NULL); /* recorded once */
	assert_int_equal(cons_engine_evidence_count(e), 1);
	int seen = 0;
	while (cons_engine_poll(e, &act))
		seen += act.kind == CONS_ACT_EVIDENCE;
	assert_int_equal(seen, 1);
	assert_int_equal(cons_engine_evidence_get(e, 0, &ev, &len), IOLM_OK);
	Iolm__Evidence *d = NULL;
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&d, &iolm__evidence__descriptor,
					   ev, len, 4096), IOLM_OK);
	Iolm__VoteBody *ba = NULL, *bb = NULL;
	assert_int_equal(iolm_decode_vote_body(&ba, d->a->body.data, d->a->body.len, 1024),
			 IOLM_OK);
	assert_int_equal(iolm_decode_vote_body(&bb, d->b->body.data, d->b->body.len, 1024),
			 IOLM_OK);
	assert_int_equal(ba->validator, 1);
	assert_int_equal(bb->validator, 1);
	assert_memory_equal(ba->block_id.data, x, 32);
	assert_memory_equal(bb->block_id.data, y, 32);
	/* Both halves carry valid signatures. */
	uint8_t dg[32];
	iolm_key k;
	tkey(&k, 1);
	iolm_hash(dg, IOLM_TAG_VOTE, d->a->body.data, d->a->body.len);
	assert_int_equal(iolm_verify(d->a->signature.data, dg, iolm_key_pub(&k)), IOLM_OK);
	iolm_codec_free((ProtobufCMessage *)ba);
	iolm_codec_free((ProtobufCMessage *)bb);
	iolm_codec_free((ProtobufCMessage *)d);
	assert_int_equal(cons_engine_evidence_get(e, 1, &ev, &len), IOLM_ERANGE);
	cons_engine_destroy(e);
}

static void test_bad_votes_are_refused(void **state)
{
	(void)state;
	cons_valset *vs = tvalset(N, NULL);
	cons_config cfg;
	cons_engine *e;
	iolm_key k;
	iolm_buf b;
	uint8_t x[32];
	memset(x, 7, 32);
	tcfg(&cfg);
	tkey(&k, 3);
	assert_int_equal(cons_engine_create(&e, &cfg, vs, &k, 2), IOLM_OK);
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	iolm_buf_init(&b, 4096);
	const int PV = IOLM__VOTE_TYPE__VOTE_PREVOTE;

	tvote(&b, "other", 1, PV, 2, 0, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_CHAIN);
	tvote(&b, TCHAIN, 1, PV, 1, 0, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_OLD);
	tvote(&b, TCHAIN, 1, PV, 3, 0, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_FUTURE);
	tvote(&b, TCHAIN, 1, PV, 2, CONS_ROUND_WINDOW + 1, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_ROUND);
	tvote(&b, TCHAIN, 9, PV, 2, 0, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_VALIDATOR);
	tvote(&b, TCHAIN, 1, IOLM__VOTE_TYPE__VOTE_UNKNOWN, 2, 0, x);
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_ECONS_VOTE);
	tvote(&b, TCHAIN, 1, PV, 2, 0, x);
	b.data[b.len - 1] ^= 1; /* the signature is the last field */
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_EBADSIG);
	b.data[b.len - 1] ^= 1;
	assert_int_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_OK);
	assert_int_equal(iolm_buf_append_byte(&b, 0), IOLM_OK);
	assert_int_not_equal(cons_engine_on_vote(e, b.data, b.len), IOLM_OK);
	uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(cons_engine_on_vote(e, junk, sizeof junk), IOLM_EDECODE);
	uint8_t *big = calloc(1, IOLM_MAX_VOTE_BYTES + 1);
	assert_int_equal(cons_engine_on_vote(e, big, IOLM_MAX_VOTE_BYTES + 1), IOLM_ETOOBIG);
	free(big);
	iolm_buf_release(&b, 0);
	cons_engine_destroy(e);
	cons_valset_destroy(vs);
}

static void test_bad_proposals_are_refused(void **state)
{
	(void)state;
	cons_engine *e = engine3();
	iolm_buf b;
	uint8_t other[32];
	const uint8_t blk[] = "block";
	tblock_id(NULL, other, (const uint8_t *)"else", 4);
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	iolm_buf_init(&b, 4096);
	/* proposer(1, 0) is validator 0. */
	tproposal(&b, TCHAIN, 2, 1, 0, -1, blk, 5, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_PROPOSER);
	tproposal(&b, TCHAIN, 0, 1, 0, -1, blk, 5, other);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_BLOCKID);
	tproposal(&b, TCHAIN, 0, 1, 0, 0, blk, 5, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_PROPOSAL);
	tproposal(&b, TCHAIN, 0, 1, 0, -1, blk, 0, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_PROPOSAL);
	tproposal(&b, "other", 0, 1, 0, -1, blk, 5, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_CHAIN);
	tproposal(&b, TCHAIN, 9, 1, 0, -1, blk, 5, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_VALIDATOR);
	tproposal(&b, TCHAIN, 1, 2, 0, -1, blk, 5, NULL);
	assert_int_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_ECONS_FUTURE);
	tproposal(&b, TCHAIN, 0, 1, 0, -1, blk, 5, NULL);
	b.data[3] ^= 1; /* inside the body: the signature no longer covers it */
	assert_int_not_equal(cons_engine_on_proposal(e, b.data, b.len), IOLM_OK);
	uint8_t junk[4] = { 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(cons_engine_on_proposal(e, junk, 4), IOLM_EDECODE);
	assert_int_equal(cons_engine_propose(e, 1, 0, blk, 0), IOLM_EINVAL);
	assert_int_equal(cons_engine_propose(e, 1, 0, NULL, 5), IOLM_EINVAL);
	iolm_buf_release(&b, 0);
	cons_engine_destroy(e);
}

static void test_create_refuses_bad_config(void **state)
{
	(void)state;
	cons_valset *vs = tvalset(N, NULL);
	cons_config cfg;
	cons_engine *e = (cons_engine *)1;
	iolm_key k;
	tcfg(&cfg);
	tkey(&k, 12);
	assert_int_equal(cons_engine_create(&e, &cfg, vs, &k, 1), IOLM_ECONS_VALIDATOR);
	assert_null(e);
	assert_int_equal(cons_engine_create(&e, &cfg, vs, NULL, 0), IOLM_EINVAL);
	cfg.block_id = NULL;
	assert_int_equal(cons_engine_create(&e, &cfg, vs, NULL, 1), IOLM_EINVAL);
	tcfg(&cfg);
	/* An observer follows but never signs. */
	assert_int_equal(cons_engine_create(&e, &cfg, vs, NULL, 1), IOLM_OK);
	assert_int_equal(cons_engine_start(e), IOLM_OK);
	assert_int_equal(cons_engine_start(e), IOLM_ESTATE);
	assert_int_equal(cons_engine_on_timeout(e, 1, 0, CONS_STEP_PROPOSE), IOLM_OK);
	assert_false(took_sign(e, CONS_STEP_PREVOTE, NULL, NULL, NULL));
	cons_engine_destroy(e);
	cons_valset_destroy(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_engines_agree_on_every_height),
		cmocka_unit_test(test_absent_proposer_times_out_to_next_round),
		cmocka_unit_test(test_invalid_block_is_prevoted_nil),
		cmocka_unit_test(test_commit_certificate_lets_lagging_node_catch_up),
		cmocka_unit_test(test_lock_and_proof_of_lock),
		cmocka_unit_test(test_proof_of_lock_unlocks_prevote),
		cmocka_unit_test(test_restart_keeps_lock_and_resends),
		cmocka_unit_test(test_restore_refuses_another_validators_vote),
		cmocka_unit_test(test_equivocation_is_recorded_as_evidence),
		cmocka_unit_test(test_bad_votes_are_refused),
		cmocka_unit_test(test_bad_proposals_are_refused),
		cmocka_unit_test(test_create_refuses_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
