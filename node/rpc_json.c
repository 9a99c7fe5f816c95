/* JSON renderings of ledger objects for the RPC (see rpc_json.h, docs/rpc.md). */
#include "node/rpc_json.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "ledger/tx.h"

/* A receipt holds one tx's events; far below a block. */
#define RPC_MAX_RECEIPT_BYTES (1u << 20)

/* ---------------------------------------------------------------- scalars */

json_t *rpc_json_hex(const uint8_t *p, size_t n)
{
	char small[2 * 64 + 1], *s = small;
	json_t *j;
	if (n > 64) {
		s = malloc(2 * n + 1);
		if (!s)
			return NULL;
	}
	iolm_hex_encode(s, 2 * n + 1, p, n);
	j = json_stringn_nocheck(s, 2 * n);
	if (s != small)
		free(s);
	return j;
}

json_t *rpc_json_u64(uint64_t v)
{
	char s[24];
	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(s, sizeof s, "%" PRIu64, v);
	return json_string(s);
}

json_t *rpc_json_account_id(const uint8_t *p, size_t n)
{
	char a[IOLM_ADDR_STRLEN + 1];
	if (n != IOLM_ADDR_LEN)
		return rpc_json_hex(p, n);
	iolm_addr_encode(a, p);
	return json_string_nocheck(a);
}

/* Text from the wire: protobuf-c does not check UTF-8, so a string that is not valid
 * UTF-8 becomes null (the exact bytes are in the enclosing object's hex). */
static json_t *text(const char *s)
{
	json_t *j = json_string(s ? s : "");
	return j ? j : json_null();
}

/* binary32 from the wire; non-finite values (which validation rejects) become null. */
static json_t *real32(float f)
{
	return isfinite(f) ? json_real((double)f) : json_null();
}

void rpc_json_put(int *err, json_t *obj, const char *key, json_t *v)
{
	if (*err || !v) {
		json_decref(v);
		*err = *err ? *err : IOLM_ENOMEM;
		return;
	}
	if (json_object_set_new(obj, key, v) != 0)
		*err = IOLM_ENOMEM;
}

void rpc_json_push(int *err, json_t *arr, json_t *v)
{
	if (*err || !v) {
		json_decref(v);
		*err = *err ? *err : IOLM_ENOMEM;
		return;
	}
	if (json_array_append_new(arr, v) != 0)
		*err = IOLM_ENOMEM;
}

static json_t *bin(ProtobufCBinaryData b)
{
	return rpc_json_hex(b.data, b.len);
}

/* Finish a builder: hand obj out on success, release it on failure. */
static int finish(json_t **out, json_t *obj, int err)
{
	if (!obj && !err)
		err = IOLM_ENOMEM;
	if (err) {
		json_decref(obj);
		obj = NULL;
	}
	*out = obj;
	return err;
}

/* ---------------------------------------------------------------- transaction kinds */

static json_t *hex_list(const ProtobufCBinaryData *v, size_t n, int *err)
{
	json_t *a = json_array();
	if (!a) {
		*err = IOLM_ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		rpc_json_push(err, a, bin(v[i]));
	return a;
}

static json_t *model_json(const Iolm__ModelConfig *m, int *err)
{
	json_t *o;
	if (!m)
		return json_null();
	o = json_object();
	if (!o)
		return NULL;
	rpc_json_put(err, o, "n_layer", json_integer(m->n_layer));
	rpc_json_put(err, o, "n_embd", json_integer(m->n_embd));
	rpc_json_put(err, o, "n_head", json_integer(m->n_head));
	rpc_json_put(err, o, "seq_len", json_integer(m->seq_len));
	rpc_json_put(err, o, "vocab", json_integer(m->vocab));
	rpc_json_put(err, o, "init_seed", rpc_json_u64(m->init_seed));
	return o;
}

static json_t *optim_json(const Iolm__OptimConfig *c, int *err)
{
	json_t *o;
	if (!c)
		return json_null();
	o = json_object();
	if (!o)
		return NULL;
	rpc_json_put(err, o, "lr", real32(c->lr));
	rpc_json_put(err, o, "beta1", real32(c->beta1));
	rpc_json_put(err, o, "beta2", real32(c->beta2));
	rpc_json_put(err, o, "eps", real32(c->eps));
	rpc_json_put(err, o, "weight_decay", real32(c->weight_decay));
	rpc_json_put(err, o, "warmup_steps", json_integer(c->warmup_steps));
	rpc_json_put(err, o, "total_steps", rpc_json_u64(c->total_steps));
	rpc_json_put(err, o, "grad_clip", real32(c->grad_clip));
	return o;
}

void rpc_json_task_create(int *err, json_t *o, const Iolm__TaskCreate *t)
{
	rpc_json_put(err, o, "name", text(t->name));
	rpc_json_put(err, o, "model", model_json(t->model, err));
	rpc_json_put(err, o, "optim", optim_json(t->optim, err));
	rpc_json_put(err, o, "batch_size", json_integer(t->batch_size));
	rpc_json_put(err, o, "dataset_id", bin(t->dataset_id));
	rpc_json_put(err, o, "eval_id", bin(t->eval_id));
	rpc_json_put(err, o, "segment_len", json_integer(t->segment_len));
	rpc_json_put(err, o, "samples", json_integer(t->samples));
	rpc_json_put(err, o, "reward_pool", rpc_json_u64(t->reward_pool));
	rpc_json_put(err, o, "designer_share_bps", json_integer(t->designer_share_bps));
	rpc_json_put(err, o, "breakthrough_bps", json_integer(t->breakthrough_bps));
	rpc_json_put(err, o, "margin_start_ppm", json_integer(t->margin_start_ppm));
	rpc_json_put(err, o, "margin_end_ppm", json_integer(t->margin_end_ppm));
	rpc_json_put(err, o, "margin_decay_blocks", rpc_json_u64(t->margin_decay_blocks));
	rpc_json_put(err, o, "bond_min", rpc_json_u64(t->bond_min));
	rpc_json_put(err, o, "deadline_height", rpc_json_u64(t->deadline_height));
}

void rpc_json_work_commit(int *err, json_t *o, const Iolm__WorkCommit *w)
{
	rpc_json_put(err, o, "task_id", bin(w->task_id));
	rpc_json_put(err, o, "parent_work",
		     w->parent_work.len ? bin(w->parent_work) : json_null()); /* none: from init */
	rpc_json_put(err, o, "start_step", rpc_json_u64(w->start_step));
	rpc_json_put(err, o, "steps", rpc_json_u64(w->steps));
	rpc_json_put(err, o, "proof_root", bin(w->proof_root));
	rpc_json_put(err, o, "final_state", bin(w->final_state));
	rpc_json_put(err, o, "checkpoint_id", bin(w->checkpoint_id));
	rpc_json_put(err, o, "eval_loss", rpc_json_u64(w->eval_loss));
	rpc_json_put(err, o, "bond", rpc_json_u64(w->bond));
	rpc_json_put(err, o, "endpoint", text(w->endpoint));
}

static void attest_json(int *err, json_t *o, const Iolm__Attest *a)
{
	json_t *segs = json_array();
	rpc_json_put(err, o, "work_id", bin(a->work_id));
	rpc_json_put(err, o, "valid", json_boolean(a->valid));
	rpc_json_put(err, o, "eval_loss", rpc_json_u64(a->eval_loss));
	for (size_t i = 0; segs && i < a->n_segments; i++)
		rpc_json_push(err, segs, json_integer(a->segments[i]));
	rpc_json_put(err, o, "segments", segs);
	rpc_json_put(err, o, "mismatch_state", bin(a->mismatch_state));
}

/* The kind's name and its fields, as one object under that name. */
static void kind_json(int *err, json_t *tx, const Iolm__TxBody *b)
{
	json_t *o = json_object();
	const char *name = "none";
	if (!o) {
		*err = IOLM_ENOMEM;
		return;
	}
	switch (b->kind_case) {
	case IOLM__TX_BODY__KIND_TRANSFER:
		name = "transfer";
		rpc_json_put(err, o, "to", rpc_json_account_id(b->transfer->to.data,
								 b->transfer->to.len));
		rpc_json_put(err, o, "amount", rpc_json_u64(b->transfer->amount));
		break;
	case IOLM__TX_BODY__KIND_TASK_CREATE:
		name = "task_create";
		rpc_json_task_create(err, o, b->task_create);
		break;
	case IOLM__TX_BODY__KIND_WORK_COMMIT:
		name = "work_commit";
		rpc_json_work_commit(err, o, b->work_commit);
		break;
	case IOLM__TX_BODY__KIND_WORK_REVEAL:
		name = "work_reveal";
		rpc_json_put(err, o, "work_id", bin(b->work_reveal->work_id));
		rpc_json_put(err, o, "checkpoint_ids",
			     hex_list(b->work_reveal->checkpoint_ids,
				      b->work_reveal->n_checkpoint_ids, err));
		break;
	case IOLM__TX_BODY__KIND_ATTEST:
		name = "attest";
		attest_json(err, o, b->attest);
		break;
	case IOLM__TX_BODY__KIND_CHALLENGE:
		name = "challenge";
		rpc_json_put(err, o, "work_id", bin(b->challenge->work_id));
		rpc_json_put(err, o, "segment", json_integer(b->challenge->segment));
		rpc_json_put(err, o, "claimed_state", bin(b->challenge->claimed_state));
		rpc_json_put(err, o, "proof", bin(b->challenge->proof));
		break;
	case IOLM__TX_BODY__KIND_MODEL_PAY:
		name = "model_pay";
		rpc_json_put(err, o, "task_id", bin(b->model_pay->task_id));
		rpc_json_put(err, o, "amount", rpc_json_u64(b->model_pay->amount));
		break;
	default:
		break;
	}
	rpc_json_put(err, tx, "kind", json_string(name));
	if (b->kind_case == IOLM__TX_BODY__KIND__NOT_SET)
		json_decref(o);
	else
		rpc_json_put(err, tx, name, o);
}

/* ---------------------------------------------------------------- transactions */

int rpc_json_tx(json_t **out, const uint8_t *raw, size_t len)
{
	Iolm__Tx *env = NULL;
	Iolm__TxBody *body = NULL;
	json_t *o = NULL;
	uint8_t id[32], digest[32], acct[IOLM_ADDR_LEN];
	int err;

	*out = NULL;
	if ((err = iolm_decode_tx(&env, raw, len, IOLM_MAX_TX_BYTES)) ||
	    (err = iolm_decode_tx_body(&body, env->body.data, env->body.len, IOLM_MAX_TX_BYTES)))
		goto out;
	o = json_object();
	if (!o) {
		err = IOLM_ENOMEM;
		goto out;
	}
	iolm_hash(id, IOLM_TAG_TX, raw, len);
	ledger_tx_sighash(digest, body->chain_id ? body->chain_id : "", env->body.data,
			  env->body.len);
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	rpc_json_put(&err, o, "bytes", rpc_json_hex(raw, len));
	rpc_json_put(&err, o, "body", bin(env->body));
	rpc_json_put(&err, o, "signature", bin(env->signature));
	rpc_json_put(&err, o, "sighash", rpc_json_hex(digest, 32));
	rpc_json_put(&err, o, "chain_id", text(body->chain_id));
	rpc_json_put(&err, o, "sender", bin(body->sender));
	if (body->sender.len == 32) {
		iolm_addr_from_pub(acct, body->sender.data);
		rpc_json_put(&err, o, "sender_address", rpc_json_account_id(acct, sizeof acct));
	}
	rpc_json_put(&err, o, "nonce", rpc_json_u64(body->nonce));
	rpc_json_put(&err, o, "fee", rpc_json_u64(body->fee));
	kind_json(&err, o, body);
out:
	iolm_codec_free(body ? &body->base : NULL);
	iolm_codec_free(env ? &env->base : NULL);
	return finish(out, o, err);
}

/* ---------------------------------------------------------------- certificates */

/* The canonical VoteBody a commit signature covers, appended to vb. */
static int vote_body(iolm_buf *vb, const char *chain_id, const Iolm__CommitCert *c,
		     uint32_t validator)
{
	Iolm__VoteBody v = IOLM__VOTE_BODY__INIT;
	v.chain_id = (char *)chain_id;
	v.type = IOLM__VOTE_TYPE__VOTE_PRECOMMIT;
	v.height = c->height;
	v.round = c->round;
	v.block_id = c->block_id;
	v.validator = validator;
	return iolm_codec_encode(vb, &v.base);
}

static json_t *cert_sig_json(int *err, const ledger_genesis *g, const Iolm__CommitCert *c,
			     const Iolm__CommitSig *s)
{
	json_t *o = json_object();
	iolm_buf vb;
	uint8_t digest[32];
	int e;
	if (!o) {
		*err = IOLM_ENOMEM;
		return NULL;
	}
	iolm_buf_init(&vb, IOLM_MAX_VOTE_BYTES);
	rpc_json_put(err, o, "validator", json_integer(s->validator));
	if (s->validator < ledger_genesis_validator_count(g))
		rpc_json_put(err, o, "pubkey",
			     rpc_json_hex(ledger_genesis_validator(g, s->validator)->pub, 32));
	else
		rpc_json_put(err, o, "pubkey", json_null());
	rpc_json_put(err, o, "signature", bin(s->signature));
	e = vote_body(&vb, ledger_genesis_chain_id(g), c, s->validator);
	if (e) {
		*err = *err ? *err : e;
	} else {
		iolm_hash(digest, IOLM_TAG_VOTE, vb.data, vb.len);
		rpc_json_put(err, o, "vote_body", rpc_json_hex(vb.data, vb.len));
		rpc_json_put(err, o, "sighash", rpc_json_hex(digest, 32));
	}
	iolm_buf_release(&vb, 0);
	return o;
}

/* Render an already decoded certificate whose exact bytes are raw. */
static int cert_json(json_t **out, const ledger_genesis *g, const Iolm__CommitCert *c,
		     const uint8_t *raw, size_t len)
{
	json_t *o = json_object(), *sigs = json_array();
	uint8_t h[32];
	int err = 0;
	if (!o || !sigs) {
		err = IOLM_ENOMEM;
		goto out;
	}
	iolm_hash(h, IOLM_TAG_CERT, raw, len);
	for (size_t i = 0; i < c->n_sigs; i++)
		rpc_json_push(&err, sigs, cert_sig_json(&err, g, c, c->sigs[i]));
	rpc_json_put(&err, o, "bytes", rpc_json_hex(raw, len));
	rpc_json_put(&err, o, "hash", rpc_json_hex(h, 32));
	rpc_json_put(&err, o, "height", rpc_json_u64(c->height));
	rpc_json_put(&err, o, "round", json_integer(c->round));
	rpc_json_put(&err, o, "block_id", bin(c->block_id));
	rpc_json_put(&err, o, "sigs", sigs);
	sigs = NULL;
out:
	json_decref(sigs);
	return finish(out, o, err);
}

int rpc_json_cert(json_t **out, const ledger_genesis *g, const uint8_t *raw, size_t len)
{
	Iolm__CommitCert *c = NULL;
	int err = iolm_decode_commit_cert(&c, raw, len, IOLM_MAX_FRAME_BYTES);
	*out = NULL;
	if (!err)
		err = cert_json(out, g, c, raw, len);
	iolm_codec_free(c ? &c->base : NULL);
	return err;
}

/* ---------------------------------------------------------------- blocks */

static json_t *header_json(int *err, const ledger_genesis *g, const Iolm__BlockHeader *h)
{
	json_t *o = json_object();
	if (!o) {
		*err = IOLM_ENOMEM;
		return NULL;
	}
	rpc_json_put(err, o, "chain_id", text(h->chain_id));
	rpc_json_put(err, o, "height", rpc_json_u64(h->height));
	rpc_json_put(err, o, "time_ms", rpc_json_u64(h->time_ms));
	rpc_json_put(err, o, "prev_id", bin(h->prev_id));
	rpc_json_put(err, o, "last_commit_hash", bin(h->last_commit_hash));
	rpc_json_put(err, o, "tx_root", bin(h->tx_root));
	rpc_json_put(err, o, "state_root", bin(h->state_root));
	rpc_json_put(err, o, "validators_hash", bin(h->validators_hash));
	rpc_json_put(err, o, "proposer", bin(h->proposer));
	for (size_t i = 0; i < ledger_genesis_validator_count(g); i++) {
		if (h->proposer.len == 32 &&
		    memcmp(ledger_genesis_validator(g, i)->pub, h->proposer.data, 32) == 0) {
			rpc_json_put(err, o, "proposer_index", json_integer((json_int_t)i));
			break;
		}
	}
	rpc_json_put(err, o, "version", json_integer(h->version));
	return o;
}

/* last_commit is a sub-message; its exact bytes are its canonical re-encoding (the
 * decoder only accepted the block because re-encoding gave back the input). */
static json_t *last_commit_json(int *err, const ledger_genesis *g, const Iolm__CommitCert *c)
{
	iolm_buf b;
	json_t *j = NULL;
	int e;
	if (!c)
		return json_null();
	iolm_buf_init(&b, IOLM_MAX_BLOCK_BYTES);
	e = iolm_codec_encode(&b, &c->base);
	if (!e)
		e = cert_json(&j, g, c, b.data ? b.data : (const uint8_t *)"", b.len);
	if (e)
		*err = *err ? *err : e;
	iolm_buf_release(&b, 0);
	return j;
}

int rpc_json_block(json_t **out, const ledger_genesis *g, const uint8_t *raw, size_t len,
		   const uint8_t *cert, size_t cert_len)
{
	Iolm__Block *b = NULL;
	Iolm__BlockHeader *h = NULL;
	json_t *o = NULL, *txs = NULL, *cj = NULL;
	uint8_t id[32];
	int err;

	*out = NULL;
	if ((err = iolm_decode_block(&b, raw, len, IOLM_MAX_BLOCK_BYTES)) ||
	    (err = iolm_decode_block_header(&h, b->header.data, b->header.len,
					    IOLM_MAX_BLOCK_BYTES)))
		goto out;
	if (cert && (err = rpc_json_cert(&cj, g, cert, cert_len)))
		goto out;
	o = json_object();
	txs = json_array();
	if (!o || !txs) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_txs && !err; i++) {
		json_t *t;
		err = rpc_json_tx(&t, b->txs[i].data, b->txs[i].len);
		if (!err)
			rpc_json_push(&err, txs, t);
	}
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	rpc_json_put(&err, o, "height", rpc_json_u64(h->height));
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	rpc_json_put(&err, o, "size", rpc_json_u64(len));
	rpc_json_put(&err, o, "header_bytes", bin(b->header));
	rpc_json_put(&err, o, "header", header_json(&err, g, h));
	rpc_json_put(&err, o, "tx_count", rpc_json_u64(b->n_txs));
	rpc_json_put(&err, o, "txs", txs);
	txs = NULL;
	rpc_json_put(&err, o, "last_commit", last_commit_json(&err, g, b->last_commit));
	rpc_json_put(&err, o, "certificate", cj ? cj : json_null());
	cj = NULL;
out:
	json_decref(txs);
	json_decref(cj);
	iolm_codec_free(h ? &h->base : NULL);
	iolm_codec_free(b ? &b->base : NULL);
	return finish(out, o, err);
}

/* ---------------------------------------------------------------- receipts, proofs */

static json_t *event_json(int *err, const Iolm__Event *e)
{
	json_t *o = json_object();
	if (!o) {
		*err = IOLM_ENOMEM;
		return NULL;
	}
	rpc_json_put(err, o, "type", text(e->type));
	rpc_json_put(err, o, "account", rpc_json_account_id(e->account.data, e->account.len));
	rpc_json_put(err, o, "object_id", bin(e->object_id));
	rpc_json_put(err, o, "amount", rpc_json_u64(e->amount));
	if (e->counterparty.len)
		rpc_json_put(err, o, "counterparty",
			     rpc_json_account_id(e->counterparty.data, e->counterparty.len));
	return o;
}

int rpc_json_receipt(json_t **out, const uint8_t *raw, size_t len)
{
	Iolm__Receipt *r = NULL;
	json_t *o = NULL, *ev = NULL;
	int err = iolm_codec_decode((ProtobufCMessage **)&r, &iolm__receipt__descriptor, raw, len,
				    RPC_MAX_RECEIPT_BYTES);
	*out = NULL;
	if (err)
		goto out;
	o = json_object();
	ev = json_array();
	if (!o || !ev) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_events; i++)
		rpc_json_push(&err, ev, event_json(&err, r->events[i]));
	rpc_json_put(&err, o, "bytes", rpc_json_hex(raw, len));
	rpc_json_put(&err, o, "tx_id", bin(r->tx_id));
	rpc_json_put(&err, o, "height", rpc_json_u64(r->height));
	rpc_json_put(&err, o, "index", json_integer(r->index));
	rpc_json_put(&err, o, "fee", rpc_json_u64(r->fee));
	rpc_json_put(&err, o, "events", ev);
	ev = NULL;
out:
	json_decref(ev);
	iolm_codec_free(r ? &r->base : NULL);
	return finish(out, o, err);
}

int rpc_json_proof(json_t **out, const ledger_proof *proof)
{
	Iolm__StateProof msg;
	ProtobufCBinaryData *sib = NULL;
	iolm_buf enc;
	json_t *o = json_object(), *s = json_array();
	int err = 0;

	assert(proof->depth <= LEDGER_SMT_MAX_DEPTH);
	iolm_buf_init(&enc, 64u * 1024);
	sib = calloc(proof->depth ? proof->depth : 1, sizeof *sib);
	if (!o || !s || !sib) {
		err = IOLM_ENOMEM;
		goto out;
	}
	ledger_proof_to_msg(&msg, sib, proof);
	if ((err = iolm_codec_encode(&enc, &msg.base)))
		goto out;
	for (uint32_t i = 0; i < proof->depth; i++)
		rpc_json_push(&err, s, rpc_json_hex(proof->siblings[i], 32));
	rpc_json_put(&err, o, "key", rpc_json_hex(proof->key, 32));
	rpc_json_put(&err, o, "depth", json_integer(proof->depth));
	rpc_json_put(&err, o, "siblings", s);
	s = NULL;
	rpc_json_put(&err, o, "terminal",
		     json_string(proof->terminal == LEDGER_PROOF_LEAF ? "leaf" : "empty"));
	if (proof->terminal == LEDGER_PROOF_LEAF) {
		rpc_json_put(&err, o, "leaf_key", rpc_json_hex(proof->leaf_key, 32));
		rpc_json_put(&err, o, "leaf_value_hash", rpc_json_hex(proof->leaf_vhash, 32));
	} else {
		rpc_json_put(&err, o, "leaf_key", json_null());
		rpc_json_put(&err, o, "leaf_value_hash", json_null());
	}
	rpc_json_put(&err, o, "bytes", rpc_json_hex(enc.data, enc.len));
out:
	json_decref(s);
	free(sib);
	iolm_buf_release(&enc, 0);
	return finish(out, o, err);
}
