/* The light client: what a node says about an account, checked against the genesis
 * validator set (docs/wallet.md "What the wallet checks"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cons.h"
#include "core/checked.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "ledger/ledger.h"
#include "wallet/wallet.h"

struct wallet_trust {
	ledger_genesis *g;
	cons_valset *vs;
};

int wallet_trust_load(wallet_trust **out, const char *path, char *err, size_t errlen)
{
	wallet_trust *t = calloc(1, sizeof *t);
	int rc;

	*out = NULL;
	if (!t)
		return IOLM_ENOMEM;
	if ((rc = ledger_genesis_load(&t->g, path, err, errlen)))
		goto fail;
	if ((rc = cons_valset_from_genesis(&t->vs, t->g))) {
		snprintf(err, errlen, "%s: validator set: %s", path, iolm_strerror(rc));
		goto fail;
	}
	*out = t;
	return IOLM_OK;
fail:
	wallet_trust_destroy(t);
	return rc;
}

void wallet_trust_destroy(wallet_trust *t)
{
	if (!t)
		return;
	cons_valset_destroy(t->vs);
	ledger_genesis_destroy(t->g);
	free(t);
}

const char *wallet_trust_chain_id(const wallet_trust *t)
{
	return ledger_genesis_chain_id(t->g);
}

static int refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return IOLM_EWALLET_PROOF;
}

/* A JSON hex string decoded into a malloc'd buffer (NULL for a JSON null). */
static int hex_value(const json_t *f, uint8_t **out, size_t *len, size_t cap)
{
	const char *s = json_string_value(f);
	*out = NULL;
	*len = 0;
	if (json_is_null(f))
		return IOLM_OK;
	if (!s || strlen(s) / 2 > cap)
		return IOLM_EWALLET_ANSWER;
	*out = malloc(strlen(s) / 2 + 1);
	if (!*out)
		return IOLM_ENOMEM;
	if (iolm_hex_decode(*out, strlen(s) / 2 + 1, len, s, strlen(s))) {
		free(*out);
		*out = NULL;
		return IOLM_EWALLET_ANSWER;
	}
	return IOLM_OK;
}

uint64_t wallet_json_u64(const json_t *o, const char *name, int *ok)
{
	const json_t *f = json_object_get(o, name);
	if (json_is_integer(f) && json_integer_value(f) >= 0)
		return (uint64_t)json_integer_value(f);
	if (json_is_string(f)) { /* amounts past 2^53 come as decimal strings */
		char *end;
		unsigned long long v = strtoull(json_string_value(f), &end, 10);
		if (!*end && end != json_string_value(f))
			return v;
	}
	if (ok)
		*ok = 0;
	return 0;
}

int wallet_verify_anchor(const wallet_trust *t, uint64_t height, const json_t *block,
			 wallet_anchor *out, char *why, size_t why_len)
{
	uint8_t *hdr = NULL, *cert = NULL;
	size_t hdr_len, cert_len;
	Iolm__BlockHeader *h = NULL;
	cons_cert_info info;
	int err;

	memset(out, 0, sizeof *out);
	out->height = height;
	if (height == 0) {
		err = refuse(why, why_len, "the chain has no block yet: nothing is signed");
		goto out;
	}
	if (hex_value(json_object_get(block, "header_bytes"), &hdr, &hdr_len, 4096) ||
	    hex_value(json_object_get(json_object_get(block, "certificate"), "bytes"), &cert,
		      &cert_len, IOLM_MAX_FRAME_BYTES)) {
		err = refuse(why, why_len, "the block answer lacks its header or certificate");
		goto out;
	}
	/* The header: this chain, this height; its id. */
	if (!hdr || iolm_decode_block_header(&h, hdr, hdr_len, 4096) ||
	    strcmp(h->chain_id, wallet_trust_chain_id(t)) != 0 || h->height != height ||
	    h->state_root.len != 32) {
		err = refuse(why, why_len, "the block header is malformed or not of chain %s at "
				 "height %llu", wallet_trust_chain_id(t), (unsigned long long)height);
		goto out;
	}
	iolm_hash(out->block_id, IOLM_TAG_BLOCK, hdr, hdr_len);
	memcpy(out->state_root, h->state_root.data, 32);
	/* +2/3 of the genesis validators signed that header. */
	err = cert ? cons_cert_verify(t->vs, wallet_trust_chain_id(t), cert, cert_len, &info)
		   : IOLM_ENOTFOUND;
	if (err || info.height != height || memcmp(info.block_id, out->block_id, 32) != 0) {
		err = refuse(why, why_len, "the commit certificate of height %llu does not sign "
				 "this header (%s)", (unsigned long long)height,
			     err ? iolm_strerror(err) : "it signs another block");
		goto out;
	}
	out->signed_power = info.power;
	out->total_power = cons_valset_total_power(t->vs);
	err = IOLM_OK;
out:
	iolm_codec_free(h ? &h->base : NULL);
	free(hdr);
	free(cert);
	return err;
}

int wallet_verify_record(const wallet_anchor *a, const uint8_t *raw_key, size_t raw_len,
			 const json_t *value_hex, const json_t *proof_obj, uint8_t **value,
			 size_t *vlen, char *why, size_t why_len)
{
	uint8_t *proof_raw = NULL, key[32];
	size_t proof_len;
	Iolm__StateProof *pm = NULL;
	ledger_proof *proof = malloc(sizeof *proof);
	int err;

	*value = NULL;
	*vlen = 0;
	if (!proof) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if (!value_hex || hex_value(value_hex, value, vlen, 64u * 1024) ||
	    hex_value(json_object_get(proof_obj, "bytes"), &proof_raw, &proof_len, 64u * 1024) ||
	    !proof_raw) {
		err = refuse(why, why_len, "the answer lacks the record's bytes or its proof");
		goto out;
	}
	ledger_state_map_key(key, raw_key, raw_len);
	if (iolm_codec_decode((ProtobufCMessage **)&pm, &iolm__state_proof__descriptor, proof_raw,
			      proof_len, 64u * 1024) ||
	    ledger_proof_from_msg(proof, pm) ||
	    ledger_proof_verify(a->state_root, key, *value, *vlen, proof) != IOLM_OK) {
		err = refuse(why, why_len, "the state proof does not take the record to the "
				 "state root of height %llu", (unsigned long long)a->height);
		goto out;
	}
	err = IOLM_OK;
out:
	if (err) {
		free(*value);
		*value = NULL;
		*vlen = 0;
	}
	iolm_codec_free(pm ? &pm->base : NULL);
	free(proof);
	free(proof_raw);
	return err;
}

int wallet_verify_account(const wallet_trust *t, const uint8_t id[static IOLM_ADDR_LEN],
			  const json_t *account, const json_t *block, wallet_account *out,
			  char *why, size_t why_len)
{
	uint8_t raw[1 + IOLM_ADDR_LEN] = { LEDGER_SK_ACCOUNT }, *acct = NULL;
	size_t acct_len;
	Iolm__Account *a = NULL;
	int ok = 1, err;

	memset(out, 0, sizeof *out);
	memcpy(out->id, id, IOLM_ADDR_LEN);
	memcpy(raw + 1, id, IOLM_ADDR_LEN);
	uint64_t height = wallet_json_u64(account, "height", &ok);
	uint64_t said_balance = wallet_json_u64(account, "balance", &ok);
	uint64_t said_nonce = wallet_json_u64(account, "nonce", &ok);
	if (!ok)
		return refuse(why, why_len, "the account answer lacks its height or balance");
	if ((err = wallet_verify_anchor(t, height, block, &out->at, why, why_len)) ||
	    (err = wallet_verify_record(&out->at, raw, sizeof raw,
					json_object_get(account, "account_bytes"),
					json_object_get(account, "proof"), &acct, &acct_len, why,
					why_len)))
		return err;
	out->exists = acct != NULL;
	if (acct) {
		if (iolm_codec_decode((ProtobufCMessage **)&a, &iolm__account__descriptor, acct,
				      acct_len, 1024)) {
			err = refuse(why, why_len, "the proved account record does not decode");
			goto out;
		}
		out->balance = a->balance;
		out->nonce = a->nonce;
	}
	/* What the node said in plain JSON must be what it proved. */
	if (said_balance != out->balance || said_nonce != out->nonce) {
		err = refuse(why, why_len, "the node says balance %llu nonce %llu, its proof says "
				 "balance %llu nonce %llu", (unsigned long long)said_balance,
			     (unsigned long long)said_nonce, (unsigned long long)out->balance,
			     (unsigned long long)out->nonce);
		goto out;
	}
	err = IOLM_OK;
out:
	iolm_codec_free(a ? &a->base : NULL);
	free(acct);
	return err;
}

/* GET path, then the block its answer's "height" names; both answers to the caller. */
int wallet_get_anchored(wallet_node *n, const char *path, json_t **answer, json_t **block,
			char *why, size_t why_len)
{
	char bpath[64];
	int ok = 1, err;

	*block = NULL;
	why[0] = '\0';
	if ((err = wallet_get(n, path, answer)))
		return err;
	uint64_t height = wallet_json_u64(*answer, "height", &ok);
	if (!ok)
		return refuse(why, why_len, "the answer to %s has no height", path);
	snprintf(bpath, sizeof bpath, "/block/%llu", (unsigned long long)height);
	if (height && (err = wallet_get(n, bpath, block)) == IOLM_ENOTFOUND)
		return refuse(why, why_len, "the node has no block %llu, the height it answered at",
			      (unsigned long long)height);
	return err;
}

int wallet_account_proved(wallet_node *n, const wallet_trust *t,
			  const uint8_t id[static IOLM_ADDR_LEN], wallet_account *out, char *why,
			  size_t why_len)
{
	char addr[IOLM_ADDR_STRLEN + 1], path[128];
	json_t *acct = NULL, *blk = NULL;
	int err;

	iolm_addr_encode(addr, id);
	snprintf(path, sizeof path, "/account/%s", addr);
	if (!(err = wallet_get_anchored(n, path, &acct, &blk, why, why_len)))
		err = wallet_verify_account(t, id, acct, blk, out, why, why_len);
	json_decref(acct);
	json_decref(blk);
	return err;
}

/* ---------------------------------------------------------------- tasks and shares */

/* The record under raw (rec: {"key", "bytes", "proof"}) proved under a and decoded as
 * desc (*out NULL when the proof shows it absent). */
static int proved_msg(const wallet_anchor *a, const uint8_t *raw, size_t raw_len,
		      const json_t *rec, const ProtobufCMessageDescriptor *desc,
		      ProtobufCMessage **out, const char *what, char *why, size_t why_len)
{
	uint8_t *val = NULL;
	size_t vlen;
	int err;

	*out = NULL;
	if ((err = wallet_verify_record(a, raw, raw_len, json_object_get(rec, "bytes"),
					json_object_get(rec, "proof"), &val, &vlen, why, why_len)))
		return err;
	if (val && iolm_codec_decode(out, desc, val, vlen, 64u * 1024))
		err = refuse(why, why_len, "the proved %s record does not decode", what);
	free(val);
	return err;
}

/* The task record 0x02 || task, which must exist, and its parameters. */
static int proved_task(const wallet_anchor *a, const uint8_t task[static 32], const json_t *rec,
		       wallet_task *out, char *why, size_t why_len)
{
	uint8_t raw[1 + 32] = { LEDGER_SK_TASK };
	int err;

	memcpy(raw + 1, task, 32);
	if ((err = proved_msg(a, raw, sizeof raw, rec, &iolm__task_state__descriptor,
			      (ProtobufCMessage **)&out->state, "task", why, why_len)))
		return err;
	if (!out->state)
		return refuse(why, why_len, "the node's proof says the task does not exist at "
				  "height %llu", (unsigned long long)a->height);
	if (iolm_codec_decode((ProtobufCMessage **)&out->params, &iolm__task_create__descriptor,
			      out->state->params.data, out->state->params.len, 64u * 1024))
		return refuse(why, why_len, "the proved task's parameters do not decode");
	return IOLM_OK;
}

/* The share record 0x07 || task || account: its credit, 0 when absent. */
static int proved_share(const wallet_anchor *a, const uint8_t task[static 32],
			const uint8_t acct[static IOLM_ADDR_LEN], const json_t *rec,
			int *exists, uint64_t *credit, char *why, size_t why_len)
{
	uint8_t raw[1 + 32 + IOLM_ADDR_LEN] = { LEDGER_SK_SHARE };
	Iolm__ShareRecord *s = NULL;
	int err;

	memcpy(raw + 1, task, 32);
	memcpy(raw + 33, acct, IOLM_ADDR_LEN);
	if ((err = proved_msg(a, raw, sizeof raw, rec, &iolm__share_record__descriptor,
			      (ProtobufCMessage **)&s, "profit share", why, why_len)))
		return err;
	*exists = s != NULL;
	*credit = s ? s->credit : 0;
	iolm_codec_free(s ? &s->base : NULL);
	return IOLM_OK;
}

/* An answer read at its "height": the block anchoring it, then the task record in its
 * field rec. */
/* The anchor of an answer read at its "height": that block, checked. */
static int answer_anchor(const wallet_trust *t, const json_t *answer, const json_t *block,
			 wallet_anchor *at, char *why, size_t why_len)
{
	int ok = 1;
	uint64_t height = wallet_json_u64(answer, "height", &ok);
	if (!ok)
		return refuse(why, why_len, "the answer has no height");
	return wallet_verify_anchor(t, height, block, at, why, why_len);
}

/* An answer's anchor, then the task record in its field rec. */
static int anchored_task(const wallet_trust *t, const uint8_t task[static 32],
			 const json_t *answer, const char *rec, const json_t *block,
			 wallet_task *out, char *why, size_t why_len)
{
	int err = answer_anchor(t, answer, block, &out->at, why, why_len);
	return err ? err : proved_task(&out->at, task, json_object_get(answer, rec), out, why,
				       why_len);
}

/* Whether a JSON field holds the hex of exactly these bytes (null or "" for none). */
static int same_hex(const json_t *f, const uint8_t *b, size_t len)
{
	uint8_t *v = NULL;
	size_t vlen = 0;
	if (!len && (json_is_null(f) || (json_is_string(f) && !*json_string_value(f))))
		return 1;
	int same = hex_value(f, &v, &vlen, 64u * 1024) == IOLM_OK && v && vlen == len &&
		   memcmp(v, b, len) == 0;
	free(v);
	return same;
}

void wallet_task_free(wallet_task *wt)
{
	iolm_codec_free(wt->state ? &wt->state->base : NULL);
	iolm_codec_free(wt->params ? &wt->params->base : NULL);
	free(wt->accounts);
	free(wt->credits);
	memset(wt, 0, sizeof *wt);
}

int wallet_verify_task(const wallet_trust *t, const uint8_t task[static 32],
		       const json_t *answer, const json_t *block, wallet_task *out, char *why,
		       size_t why_len)
{
	char creator[IOLM_ADDR_STRLEN + 1];
	int ok = 1, err;

	memset(out, 0, sizeof *out);
	if ((err = anchored_task(t, task, answer, "record", block, out, why, why_len)))
		goto out;
	/* What the node spelled out must be what it proved. */
	const Iolm__TaskState *s = out->state;
	const char *name = json_string_value(
		json_object_get(json_object_get(answer, "params"), "name"));
	if (s->creator.len == IOLM_ADDR_LEN)
		iolm_addr_encode(creator, s->creator.data);
	else
		creator[0] = '\0';
	if (!json_is_string(json_object_get(answer, "creator")) ||
	    strcmp(json_string_value(json_object_get(answer, "creator")), creator) ||
	    wallet_json_u64(answer, "created_height", &ok) != s->created_height ||
	    wallet_json_u64(answer, "status", &ok) != (uint64_t)s->status ||
	    wallet_json_u64(answer, "pool", &ok) != s->pool ||
	    wallet_json_u64(answer, "revenue", &ok) != s->revenue ||
	    wallet_json_u64(answer, "best_loss", &ok) != s->best_loss ||
	    wallet_json_u64(answer, "best_height", &ok) != s->best_height ||
	    wallet_json_u64(answer, "n_works", &ok) != s->n_works ||
	    wallet_json_u64(answer, "n_accepted", &ok) != s->n_accepted ||
	    wallet_json_u64(answer, "total_credit", &ok) != s->total_credit ||
	    wallet_json_u64(answer, "paid_out", &ok) != s->paid_out || !ok ||
	    !same_hex(json_object_get(answer, "best_work"), s->best_work.data, s->best_work.len) ||
	    !same_hex(json_object_get(answer, "params_bytes"), s->params.data, s->params.len) ||
	    !name || strcmp(name, out->params->name ? out->params->name : "")) {
		err = refuse(why, why_len, "the node's task fields differ from the record it "
				 "proved at height %llu", (unsigned long long)out->at.height);
		goto out;
	}
	err = IOLM_OK;
out:
	if (err)
		wallet_task_free(out);
	return err;
}

int wallet_verify_task_shares(const wallet_trust *t, const uint8_t task[static 32],
			      const json_t *answer, const json_t *block, wallet_task *out,
			      char *why, size_t why_len)
{
	const json_t *shares = json_object_get(answer, "shares");
	size_t n = json_array_size(shares);
	int ok = 1, err;

	memset(out, 0, sizeof *out);
	if (!json_is_array(shares) || n > WALLET_MAX_SHARES)
		return refuse(why, why_len, "the shares answer has no list of at most %u",
			      WALLET_MAX_SHARES);
	if ((err = anchored_task(t, task, answer, "task_record", block, out, why, why_len)))
		goto out;
	if (wallet_json_u64(answer, "total_credit", &ok) != out->state->total_credit || !ok) {
		err = refuse(why, why_len, "the node's total credit differs from the task record "
				 "it proved");
		goto out;
	}
	out->accounts = malloc((n ? n : 1) * sizeof *out->accounts);
	out->credits = malloc((n ? n : 1) * sizeof *out->credits);
	if (!out->accounts || !out->credits) {
		err = IOLM_ENOMEM;
		goto out;
	}
	/* Each listed share proved, the accounts in strictly increasing order (the state
	 * key order: each account once), the plain credit the proved one. */
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *sh = json_array_get(shares, i);
		const char *addr = json_string_value(json_object_get(sh, "address"));
		uint8_t *acct = out->accounts[i];
		int exists;
		if (!addr || iolm_addr_decode(acct, addr) ||
		    (i && memcmp(out->accounts[i - 1], acct, IOLM_ADDR_LEN) >= 0)) {
			err = refuse(why, why_len, "the shares answer lists a bad address, or one "
					 "twice or out of order");
			goto out;
		}
		if ((err = proved_share(&out->at, task, acct, json_object_get(sh, "record"),
					&exists, &out->credits[i], why, why_len)))
			goto out;
		if (!exists || wallet_json_u64(sh, "credit", &ok) != out->credits[i] || !ok) {
			err = refuse(why, why_len, "the node's share of %s differs from the record it "
					 "proved", addr);
			goto out;
		}
		if (iolm_add_u64(&sum, sum, out->credits[i])) {
			err = refuse(why, why_len, "the listed shares overflow");
			goto out;
		}
		out->n_shares++;
	}
	/* Listed in full, they add up to the task's total: none was left out. */
	out->complete = !json_is_true(json_object_get(answer, "truncated"));
	if (out->complete ? sum != out->state->total_credit : sum > out->state->total_credit) {
		err = refuse(why, why_len, "the listed shares add up to %llu, the task's proved "
				 "total is %llu: the node left some out",
			     (unsigned long long)sum,
			     (unsigned long long)out->state->total_credit);
		goto out;
	}
	err = IOLM_OK;
out:
	if (err)
		wallet_task_free(out);
	return err;
}

int wallet_verify_share(const wallet_trust *t, const uint8_t task[static 32],
			const uint8_t acct[static IOLM_ADDR_LEN], const json_t *answer,
			const json_t *block, wallet_share *out, char *why, size_t why_len)
{
	wallet_task wt;
	int ok = 1, exists, err;

	memset(out, 0, sizeof *out);
	memset(&wt, 0, sizeof wt);
	if ((err = anchored_task(t, task, answer, "task_record", block, &wt, why, why_len)) ||
	    (err = proved_share(&wt.at, task, acct, json_object_get(answer, "record"), &exists,
				&out->credit, why, why_len)))
		goto out;
	out->at = wt.at;
	out->total_credit = wt.state->total_credit;
	if (wallet_json_u64(answer, "credit", &ok) != out->credit ||
	    wallet_json_u64(answer, "total_credit", &ok) != out->total_credit || !ok ||
	    out->credit > out->total_credit)
		err = refuse(why, why_len, "the node's share figures differ from the records it "
				 "proved at height %llu", (unsigned long long)wt.at.height);
out:
	wallet_task_free(&wt);
	return err;
}

/* ---------------------------------------------------------------- works */

void wallet_work_free(wallet_work *w)
{
	iolm_codec_free(w->state ? &w->state->base : NULL);
	iolm_codec_free(w->commit ? &w->commit->base : NULL);
	memset(w, 0, sizeof *w);
}

int wallet_verify_work(const wallet_trust *t, const uint8_t work[static 32],
		       const json_t *answer, const json_t *block, wallet_work *out, char *why,
		       size_t why_len)
{
	uint8_t raw[1 + 32] = { LEDGER_SK_WORK };
	char miner[IOLM_ADDR_STRLEN + 1];
	const char *said_miner = json_string_value(json_object_get(answer, "miner"));
	int ok = 1, err;

	memset(out, 0, sizeof *out);
	memcpy(raw + 1, work, 32);
	if ((err = answer_anchor(t, answer, block, &out->at, why, why_len)) ||
	    (err = proved_msg(&out->at, raw, sizeof raw, json_object_get(answer, "record"),
			      &iolm__work_state__descriptor, (ProtobufCMessage **)&out->state,
			      "work", why, why_len)))
		goto out;
	if (!out->state) {
		err = refuse(why, why_len, "the node's proof says the work does not exist at "
				 "height %llu", (unsigned long long)out->at.height);
		goto out;
	}
	const Iolm__WorkState *s = out->state;
	if (s->miner.len != IOLM_ADDR_LEN ||
	    iolm_codec_decode((ProtobufCMessage **)&out->commit, &iolm__work_commit__descriptor,
			      s->commit.data, s->commit.len, 64u * 1024)) {
		err = refuse(why, why_len, "the proved work record's miner or commitment is "
				 "malformed");
		goto out;
	}
	iolm_addr_encode(miner, s->miner.data);
	if (!said_miner || strcmp(said_miner, miner) ||
	    !same_hex(json_object_get(answer, "task_id"), s->task_id.data, s->task_id.len) ||
	    wallet_json_u64(answer, "status", &ok) != (uint64_t)s->status ||
	    wallet_json_u64(answer, "bond", &ok) != s->bond ||
	    wallet_json_u64(answer, "commit_height", &ok) != s->commit_height ||
	    wallet_json_u64(answer, "decided_height", &ok) != s->decided_height ||
	    wallet_json_u64(answer, "end_step", &ok) != s->end_step || !ok ||
	    json_is_true(json_object_get(answer, "was_best")) != (s->was_best != 0) ||
	    !same_hex(json_object_get(answer, "commit_bytes"), s->commit.data, s->commit.len)) {
		err = refuse(why, why_len, "the node's work fields differ from the record it "
				 "proved at height %llu", (unsigned long long)out->at.height);
		goto out;
	}
	err = IOLM_OK;
out:
	if (err)
		wallet_work_free(out);
	return err;
}
