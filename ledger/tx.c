#include "ledger/tx.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/key.h"

void ledger_tx_sighash(uint8_t out[static 32], const char *chain_id, const uint8_t *body,
		       size_t body_len)
{
	iolm_hash_ctx ctx;
	size_t cl = strlen(chain_id);
	uint8_t l = (uint8_t)(cl > 255 ? 255 : cl);
	iolm_hash_init(&ctx, IOLM_TAG_TXSIG, IOLM_HASH_LEN);
	iolm_hash_update(&ctx, &l, 1);
	iolm_hash_update(&ctx, chain_id, l);
	iolm_hash_update(&ctx, body, body_len);
	iolm_hash_final(&ctx, out);
}

void ledger_tx_release(ledger_tx *tx)
{
	if (tx->body)
		iolm_codec_free(&tx->body->base);
	if (tx->env)
		iolm_codec_free(&tx->env->base);
	free(tx->raw);
	memset(tx, 0, sizeof *tx);
}

static int is_artifact_id(const ProtobufCBinaryData *b)
{
	return b->len == LEDGER_ARTIFACT_ID_LEN && b->data[0] == 0x1e && b->data[1] == 0x20;
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

static int check_model(const Iolm__ModelConfig *m)
{
	if (!m)
		return IOLM_ELEDGER_MODEL;
	if (m->n_layer < 1 || m->n_layer > 64 || m->n_head < 1 || m->n_head > 64 ||
	    m->n_embd < 8 || m->n_embd > 4096 || m->n_embd % m->n_head != 0 ||
	    m->seq_len < 8 || m->seq_len > 4096 || m->vocab != 256)
		return IOLM_ELEDGER_MODEL;
	/* Parameters (docs/compute.md): V*C + T*C + L*(12*C*C + 13*C) + 2*C, at most 2^31
	 * so a task the chain accepts is one the compute module can train. Fits in 64 bits
	 * with the bounds above. */
	uint64_t c = m->n_embd;
	uint64_t params = 256 * c + m->seq_len * c + m->n_layer * (12 * c * c + 13 * c) + 2 * c;
	if (params > (1ull << 31))
		return IOLM_ELEDGER_MODEL;
	return IOLM_OK;
}

/* Real-valued settings are compared, never computed with: the rules stay exact. */
static int check_optim(const Iolm__OptimConfig *o)
{
	if (!o)
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->lr) || !(o->lr > 0.0f) || o->lr > 1.0f)
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->beta1) || o->beta1 < 0.0f || !(o->beta1 < 1.0f))
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->beta2) || o->beta2 < 0.0f || !(o->beta2 < 1.0f))
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->eps) || !(o->eps > 0.0f) || !(o->eps < 1.0f))
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->weight_decay) || o->weight_decay < 0.0f || o->weight_decay > 1.0f)
		return IOLM_ELEDGER_OPTIM;
	if (!isfinite(o->grad_clip) || o->grad_clip < 0.0f)
		return IOLM_ELEDGER_OPTIM;
	if (o->total_steps < 1 || o->total_steps > 1000000000u || o->warmup_steps > o->total_steps)
		return IOLM_ELEDGER_OPTIM;
	return IOLM_OK;
}

static int check_task(const Iolm__TaskCreate *t, uint64_t *spend)
{
	int err;
	if ((err = check_model(t->model)) || (err = check_optim(t->optim)))
		return err;
	if (!is_artifact_id(&t->dataset_id) || !is_artifact_id(&t->eval_id))
		return IOLM_ELEDGER_ARTIFACT;
	if (t->batch_size < 1 || t->batch_size > 4096 || t->segment_len < 1 ||
	    t->segment_len > 100000 || t->samples < 1 || t->samples > 64 ||
	    (uint64_t)t->batch_size * t->model->seq_len > (1u << 24) ||
	    t->designer_share_bps > 10000 || t->breakthrough_bps < 1 ||
	    t->breakthrough_bps > 10000 || t->margin_start_ppm > 1000000 ||
	    t->margin_end_ppm > t->margin_start_ppm || t->margin_decay_blocks < 1 ||
	    t->margin_decay_blocks > 1000000000u || !printable(t->name, LEDGER_MAX_TASK_NAME))
		return IOLM_ELEDGER_TASKPARAM;
	if (t->reward_pool == 0)
		return IOLM_ELEDGER_AMOUNT;
	*spend = t->reward_pool;
	return IOLM_OK;
}

static int check_work(const Iolm__WorkCommit *w, uint64_t *spend)
{
	if (w->task_id.len != 32 || (w->parent_work.len != 0 && w->parent_work.len != 32) ||
	    w->steps < 1 || w->proof_root.len != 32 || w->final_state.len != 32 ||
	    w->eval_loss == 0 || !printable(w->endpoint, LEDGER_MAX_ENDPOINT))
		return IOLM_ELEDGER_WORKPARAM;
	if (w->start_step > UINT64_MAX - w->steps)
		return IOLM_ELEDGER_STEPS;
	if (!is_artifact_id(&w->checkpoint_id))
		return IOLM_ELEDGER_ARTIFACT;
	if (w->bond == 0)
		return IOLM_ELEDGER_BOND;
	*spend = w->bond;
	return IOLM_OK;
}

static int check_kind(const Iolm__TxBody *b, uint64_t *spend)
{
	*spend = 0;
	switch (b->kind_case) {
	case IOLM__TX_BODY__KIND_TRANSFER:
		if (b->transfer->to.len != IOLM_ADDR_LEN)
			return IOLM_ELEDGER_RECIPIENT;
		if (b->transfer->amount == 0)
			return IOLM_ELEDGER_AMOUNT;
		*spend = b->transfer->amount;
		return IOLM_OK;
	case IOLM__TX_BODY__KIND_TASK_CREATE:
		return check_task(b->task_create, spend);
	case IOLM__TX_BODY__KIND_WORK_COMMIT:
		return check_work(b->work_commit, spend);
	case IOLM__TX_BODY__KIND_MODEL_PAY:
		if (b->model_pay->task_id.len != 32)
			return IOLM_ELEDGER_NOTASK;
		if (b->model_pay->amount == 0)
			return IOLM_ELEDGER_AMOUNT;
		*spend = b->model_pay->amount;
		return IOLM_OK;
	case IOLM__TX_BODY__KIND_ATTEST: {
		const Iolm__Attest *a = b->attest;
		if (a->work_id.len != 32)
			return IOLM_ELEDGER_NOWORK;
		if (a->n_segments > 256 || (a->mismatch_state.len != 0 && a->mismatch_state.len != 32))
			return IOLM_ELEDGER_WORKPARAM;
		return IOLM_OK;
	}
	case IOLM__TX_BODY__KIND_WORK_REVEAL:
	case IOLM__TX_BODY__KIND_CHALLENGE:
		/* Checkpoint availability and fraud proofs are covered by attestations (a
		 * validator that cannot fetch or re-execute a segment attests invalid). */
		return IOLM_ELEDGER_DISABLED;
	default:
		return IOLM_ELEDGER_NOKIND;
	}
}

int ledger_tx_decode(ledger_tx *tx, const char *chain_id, const uint8_t *raw, size_t len)
{
	int err;

	memset(tx, 0, sizeof *tx);
	err = iolm_decode_tx(&tx->env, raw, len, IOLM_MAX_TX_BYTES);
	if (err)
		goto fail;
	err = IOLM_ELEDGER_SIGNATURE;
	if (tx->env->signature.len != IOLM_SIG_LEN)
		goto fail;
	err = iolm_decode_tx_body(&tx->body, tx->env->body.data, tx->env->body.len,
				  IOLM_MAX_TX_BYTES);
	if (err)
		goto fail;
	err = IOLM_ELEDGER_CHAIN;
	if (strcmp(tx->body->chain_id, chain_id) != 0)
		goto fail;
	err = IOLM_ELEDGER_SENDER;
	if (tx->body->sender.len != 32)
		goto fail;
	if ((err = check_kind(tx->body, &tx->spend)))
		goto fail;

	err = IOLM_ENOMEM;
	tx->raw = malloc(len ? len : 1);
	if (!tx->raw)
		goto fail;
	memcpy(tx->raw, raw, len);
	tx->raw_len = len;
	iolm_hash(tx->id, IOLM_TAG_TX, raw, len);
	memcpy(tx->sender_pub, tx->body->sender.data, 32);
	iolm_addr_from_pub(tx->sender, tx->sender_pub);
	tx->nonce = tx->body->nonce;
	tx->fee = tx->body->fee;
	return IOLM_OK;
fail:
	ledger_tx_release(tx);
	return err;
}

int ledger_tx_verify(const ledger_tx *tx, const char *chain_id)
{
	uint8_t digest[32];
	ledger_tx_sighash(digest, chain_id, tx->env->body.data, tx->env->body.len);
	int rc = iolm_verify(tx->env->signature.data, digest, tx->sender_pub);
	if (rc == IOLM_EBADKEY)
		return IOLM_ELEDGER_SENDER;
	return rc == IOLM_OK ? IOLM_OK : IOLM_ELEDGER_SIGNATURE;
}

int ledger_tx_sign(iolm_buf *out, Iolm__TxBody *body, const iolm_key *key,
		   const char *chain_id)
{
	iolm_buf bb;
	uint8_t digest[32], sig[IOLM_SIG_LEN];
	int err;

	body->chain_id = (char *)chain_id;
	body->sender.data = (uint8_t *)iolm_key_pub(key);
	body->sender.len = IOLM_PUBKEY_LEN;
	iolm_buf_init(&bb, IOLM_MAX_TX_BYTES);
	if ((err = iolm_codec_encode(&bb, &body->base)))
		goto out;
	ledger_tx_sighash(digest, chain_id, bb.data, bb.len);
	if ((err = iolm_sign(key, sig, digest)))
		goto out;
	Iolm__Tx tx = IOLM__TX__INIT;
	tx.body.data = bb.data;
	tx.body.len = bb.len;
	tx.signature.data = sig;
	tx.signature.len = sizeof sig;
	err = iolm_codec_encode(out, &tx.base);
out:
	iolm_buf_release(&bb, 0);
	return err;
}

/* ---- signature cache: two generations of an open-addressing set. A lookup checks
 * both; when the current one is half full it becomes the old one and the old one is
 * dropped, so at least capacity/2 of the most recent ids are always remembered. */

struct sig_gen {
	uint8_t (*ids)[32];
	uint8_t *used;
	size_t count;
};

struct ledger_sigcache {
	pthread_mutex_t mu;
	size_t slots; /* power of two, 2 * capacity */
	struct sig_gen gen[2];
	int cur;
};

static int gen_alloc(struct sig_gen *g, size_t slots)
{
	g->ids = calloc(slots, 32);
	g->used = calloc(slots, 1);
	g->count = 0;
	return g->ids && g->used ? IOLM_OK : IOLM_ENOMEM;
}

static size_t slot_of(const uint8_t id[static 32], size_t slots)
{
	uint64_t h;
	memcpy(&h, id, sizeof h); /* ids are hashes: any 8 bytes are uniform */
	return (size_t)h & (slots - 1);
}

static int gen_has(const struct sig_gen *g, size_t slots, const uint8_t id[static 32])
{
	for (size_t i = slot_of(id, slots);; i = (i + 1) & (slots - 1)) {
		if (!g->used[i])
			return 0;
		if (memcmp(g->ids[i], id, 32) == 0)
			return 1;
	}
}

int ledger_sigcache_create(ledger_sigcache **out, size_t capacity)
{
	ledger_sigcache *c = calloc(1, sizeof *c);
	size_t slots = 16;
	*out = NULL;
	if (!c)
		return IOLM_ENOMEM;
	while (slots < 2 * capacity)
		slots *= 2;
	c->slots = slots;
	if (gen_alloc(&c->gen[0], slots) || gen_alloc(&c->gen[1], slots)) {
		ledger_sigcache_destroy(c);
		return IOLM_ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return IOLM_OK;
}

void ledger_sigcache_destroy(ledger_sigcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		free(c->gen[i].ids);
		free(c->gen[i].used);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void ledger_sigcache_add(ledger_sigcache *c, const uint8_t id[static 32])
{
	pthread_mutex_lock(&c->mu);
	struct sig_gen *g = &c->gen[c->cur];
	if (!gen_has(g, c->slots, id) && !gen_has(&c->gen[!c->cur], c->slots, id)) {
		if (g->count >= c->slots / 4) {
			/* rotate: the old generation is forgotten */
			c->cur = !c->cur;
			g = &c->gen[c->cur];
			memset(g->used, 0, c->slots);
			g->count = 0;
		}
		size_t i = slot_of(id, c->slots);
		while (g->used[i])
			i = (i + 1) & (c->slots - 1);
		memcpy(g->ids[i], id, 32);
		g->used[i] = 1;
		g->count++;
	}
	pthread_mutex_unlock(&c->mu);
}

int ledger_sigcache_has(ledger_sigcache *c, const uint8_t id[static 32])
{
	pthread_mutex_lock(&c->mu);
	int r = gen_has(&c->gen[0], c->slots, id) || gen_has(&c->gen[1], c->slots, id);
	pthread_mutex_unlock(&c->mu);
	return r;
}
