/* The RPC's joint-mining endpoints (docs/rpc.md, "Mining"): tasks, their best model and
 * profit shares, works with their attestations and lineage, and each account's rewards
 * and shares, every record with a state proof.
 *
 * Consistency. An answer may read several records (a task and its best work; a work, its
 * attestations and its parents), each through its own LMDB read transaction. It is built
 * inside a "view": the head is read first, every proved read must come from that head's
 * state root, and the head is read again at the end; if anything moved (a block was
 * committed meanwhile) the answer is thrown away and built again, at most
 * RPC_VIEW_ATTEMPTS times (then IOLM_ESTATE, 503). So every proof in an answer verifies
 * against the one `state_root` it carries, whose header is `header_bytes`.
 *
 * Everything comes from the ledger's public queries: the rules' records are read as
 * stored (docs/protocol.md §3), never recomputed here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "node/rpc_int.h"
#include "node/rpc_json.h"

#define RPC_VIEW_ATTEMPTS 4
#define RPC_MAX_RECORD (1u << 20)  /* a stored task or work record (holds signed bytes) */
#define RPC_MAX_SMALL_RECORD 1024u /* an attestation, share or rewards record */
#define RPC_MAX_LINEAGE 1000u      /* parents listed by /work */
#define RPC_MAX_SHARES 1000u       /* share records listed by /task/{id}/shares */

/* ---------------------------------------------------------------- views */

struct view {
	node_rpc *r;
	ledger_head head; /* read when the view begins */
	int moved;        /* a proved read came from another root or height */
	ledger_proof *proof; /* scratch for one proved read (8 KiB: not on the stack) */
};

/* Stored data that does not decode is corruption, not a bad request. */
static int stored(int err)
{
	return err == IOLM_EDECODE || err == IOLM_ENONCANON || err == IOLM_EUNKNOWN ||
			       err == IOLM_ETOOBIG
		       ? IOLM_ECORRUPT
		       : err;
}

static int decode_stored(ProtobufCMessage **m, const ProtobufCMessageDescriptor *d,
			 const iolm_buf *b, size_t cap)
{
	return stored(iolm_codec_decode(m, d, b->data ? b->data : (const uint8_t *)"", b->len,
					cap));
}

/* Signed bytes kept inside a stored record (TaskState.params, WorkState.commit). */
static int decode_inner(ProtobufCMessage **m, const ProtobufCMessageDescriptor *d,
			ProtobufCBinaryData b)
{
	return stored(iolm_codec_decode(m, d, b.data ? b.data : (const uint8_t *)"", b.len,
					IOLM_MAX_TX_BYTES));
}

/* A record read with its proof, as {"key": raw key, "bytes": value or null, "proof"}.
 * *exists says whether it is present (absent: an exclusion proof). val receives the
 * value bytes. */
static int proved_record(struct view *v, const uint8_t *raw, size_t rlen, iolm_buf *val,
			 int *exists, json_t **rec)
{
	uint8_t root[32];
	uint64_t height = 0;
	json_t *o = NULL, *pj = NULL;
	int err;

	*rec = NULL;
	iolm_buf_reset(val);
	err = ledger_get_state_proved(v->r->be.ledger, raw, rlen, val, v->proof, root, &height);
	if (err && err != IOLM_ENOTFOUND)
		return stored(err); /* ETOOBIG: a record past its cap */
	*exists = err == IOLM_OK;
	if (height != v->head.height || memcmp(root, v->head.state_root, 32) != 0)
		v->moved = 1;
	if ((err = rpc_json_proof(&pj, v->proof)) || (err = rpc_new_object(&o))) {
		json_decref(pj);
		return err;
	}
	rpc_json_put(&err, o, "key", rpc_json_hex(raw, rlen));
	rpc_json_put(&err, o, "bytes",
		     *exists ? rpc_json_hex(val->data, val->len) : json_null());
	rpc_json_put(&err, o, "proof", pj);
	if (err)
		json_decref(o);
	else
		*rec = o;
	return err;
}

/* The head's root, height, block id and header bytes (null ids at height 0). */
static int put_anchor(struct view *v, json_t *o)
{
	iolm_buf blk;
	Iolm__Block *b = NULL;
	uint8_t id[32];
	int err = IOLM_OK;

	rpc_json_put(&err, o, "state_root", rpc_json_hex(v->head.state_root, 32));
	rpc_json_put(&err, o, "height", rpc_json_u64(v->head.height));
	if (err || v->head.height == 0) {
		rpc_json_put(&err, o, "block_id", json_null());
		rpc_json_put(&err, o, "header_bytes", json_null());
		return err;
	}
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	if (!(err = ledger_get_block(v->r->be.ledger, v->head.height, &blk)) &&
	    !(err = stored(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES)))) {
		iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
		rpc_json_put(&err, o, "block_id", rpc_json_hex(id, 32));
		rpc_json_put(&err, o, "header_bytes",
			     rpc_json_hex(b->header.data, b->header.len));
	}
	iolm_codec_free(b ? &b->base : NULL);
	iolm_buf_release(&blk, 0);
	return err;
}

typedef int (*view_fn)(struct view *v, const void *args, json_t *o);

/* Build an answer with fn inside a view (see the top of this file); on success *reply
 * is a new object holding fn's fields and the anchor. */
static int in_view(node_rpc *r, view_fn fn, const void *args, json_t **reply)
{
	struct view v;
	ledger_head end;
	json_t *o = NULL;
	int err = IOLM_ESTATE;

	memset(&v, 0, sizeof v);
	v.r = r;
	v.proof = malloc(sizeof *v.proof);
	if (!v.proof)
		return IOLM_ENOMEM;
	for (int attempt = 0; attempt < RPC_VIEW_ATTEMPTS; attempt++) {
		v.moved = 0;
		if ((err = ledger_get_head(r->be.ledger, &v.head)) || (err = rpc_new_object(&o)))
			break;
		if ((err = fn(&v, args, o)) || (err = ledger_get_head(r->be.ledger, &end)))
			break;
		if (!v.moved && end.height == v.head.height &&
		    memcmp(end.state_root, v.head.state_root, 32) == 0) {
			err = put_anchor(&v, o);
			break;
		}
		json_decref(o);
		o = NULL;
		err = IOLM_ESTATE;
	}
	free(v.proof);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* ---------------------------------------------------------------- arguments */

static int parse_id(uint8_t id[static 32], const char *s, size_t n)
{
	size_t got = 0;
	if (n != 64 || iolm_hex_decode(id, 32, &got, s, n) != IOLM_OK || got != 32) {
		memset(id, 0, 32);
		return IOLM_ERPC_BADID;
	}
	return IOLM_OK;
}

/* An address given as the n first characters of s. */
static int parse_addr(uint8_t id[static IOLM_ADDR_LEN], const char *s, size_t n)
{
	char a[IOLM_ADDR_STRLEN + 1];
	if (n > IOLM_ADDR_STRLEN)
		return IOLM_ELENGTH;
	memcpy(a, s, n);
	a[n] = '\0';
	return iolm_addr_decode(id, a);
}

/* ---------------------------------------------------------------- renderings */

static json_t *bin(ProtobufCBinaryData b)
{
	return rpc_json_hex(b.data, b.len);
}

/* A 32-byte id, or null when the field is empty. */
static json_t *opt_id(ProtobufCBinaryData b)
{
	return b.len ? bin(b) : json_null();
}

static const char *task_status_name(int s)
{
	switch (s) {
	case IOLM__TASK_STATUS__TASK_OPEN: return "open";
	case IOLM__TASK_STATUS__TASK_CLOSED: return "closed";
	default: return "unknown";
	}
}

static const char *work_status_name(int s)
{
	switch (s) {
	case IOLM__WORK_STATUS__WORK_PENDING: return "pending";
	case IOLM__WORK_STATUS__WORK_ACCEPTED: return "accepted";
	case IOLM__WORK_STATUS__WORK_REJECTED: return "rejected";
	case IOLM__WORK_STATUS__WORK_SLASHED: return "slashed";
	default: return "unknown";
	}
}

static json_t *params_json(int *err, const Iolm__TaskCreate *t)
{
	json_t *o = json_object();
	if (o)
		rpc_json_task_create(err, o, t);
	return o;
}

static json_t *commit_json(int *err, const Iolm__WorkCommit *w)
{
	json_t *o = json_object();
	if (o)
		rpc_json_work_commit(err, o, w);
	return o;
}

/* The TaskState fields and its decoded params into o. */
static void task_fields(int *err, json_t *o, const Iolm__TaskState *t, const Iolm__TaskCreate *p)
{
	rpc_json_put(err, o, "creator", rpc_json_account_id(t->creator.data, t->creator.len));
	rpc_json_put(err, o, "created_height", rpc_json_u64(t->created_height));
	rpc_json_put(err, o, "status", json_integer(t->status));
	rpc_json_put(err, o, "status_name", json_string(task_status_name(t->status)));
	rpc_json_put(err, o, "pool", rpc_json_u64(t->pool));
	rpc_json_put(err, o, "revenue", rpc_json_u64(t->revenue));
	rpc_json_put(err, o, "best_work", opt_id(t->best_work));
	rpc_json_put(err, o, "best_loss", rpc_json_u64(t->best_loss));
	rpc_json_put(err, o, "best_height", rpc_json_u64(t->best_height));
	rpc_json_put(err, o, "n_works", rpc_json_u64(t->n_works));
	rpc_json_put(err, o, "n_accepted", rpc_json_u64(t->n_accepted));
	rpc_json_put(err, o, "total_credit", rpc_json_u64(t->total_credit));
	rpc_json_put(err, o, "paid_out", rpc_json_u64(t->paid_out));
	rpc_json_put(err, o, "params_bytes", bin(t->params));
	rpc_json_put(err, o, "params", params_json(err, p));
}

/* The WorkState fields and its decoded commit into o. */
static void work_fields(int *err, json_t *o, const Iolm__WorkState *w, const Iolm__WorkCommit *c)
{
	rpc_json_put(err, o, "task_id", bin(w->task_id));
	rpc_json_put(err, o, "miner", rpc_json_account_id(w->miner.data, w->miner.len));
	rpc_json_put(err, o, "status", json_integer(w->status));
	rpc_json_put(err, o, "status_name", json_string(work_status_name(w->status)));
	rpc_json_put(err, o, "bond", rpc_json_u64(w->bond));
	rpc_json_put(err, o, "commit_height", rpc_json_u64(w->commit_height));
	rpc_json_put(err, o, "end_step", rpc_json_u64(w->end_step));
	rpc_json_put(err, o, "commit_index", json_integer(w->commit_index));
	rpc_json_put(err, o, "valid_power", rpc_json_u64(w->valid_power));
	rpc_json_put(err, o, "invalid_power", rpc_json_u64(w->invalid_power));
	rpc_json_put(err, o, "decided_height", rpc_json_u64(w->decided_height));
	rpc_json_put(err, o, "was_best", json_boolean(w->was_best));
	rpc_json_put(err, o, "commit_bytes", bin(w->commit));
	rpc_json_put(err, o, "commit", commit_json(err, c));
}

/* ---------------------------------------------------------------- decoded records */

struct task_rec {
	Iolm__TaskState *ts;
	Iolm__TaskCreate *params;
	json_t *rec; /* {"key", "bytes", "proof"} */
};

static void task_rec_release(struct task_rec *t)
{
	iolm_codec_free(t->params ? &t->params->base : NULL);
	iolm_codec_free(t->ts ? &t->ts->base : NULL);
	json_decref(t->rec);
	memset(t, 0, sizeof *t);
}

/* The task with its proof; IOLM_ELEDGER_NOTASK when there is none. */
static int task_read(struct view *v, const uint8_t id[static 32], struct task_rec *t)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	size_t rlen = ledger_raw_key_task(raw, id);
	iolm_buf val;
	int exists, err;

	memset(t, 0, sizeof *t);
	iolm_buf_init(&val, RPC_MAX_RECORD);
	if ((err = proved_record(v, raw, rlen, &val, &exists, &t->rec)))
		goto out;
	if (!exists) {
		err = IOLM_ELEDGER_NOTASK;
		goto out;
	}
	if ((err = decode_stored((ProtobufCMessage **)&t->ts, &iolm__task_state__descriptor, &val,
				 RPC_MAX_RECORD)))
		goto out;
	err = decode_inner((ProtobufCMessage **)&t->params, &iolm__task_create__descriptor,
			   t->ts->params);
out:
	iolm_buf_release(&val, 0);
	if (err)
		task_rec_release(t);
	return err;
}

struct work_rec {
	Iolm__WorkState *ws;
	Iolm__WorkCommit *wc;
	json_t *rec; /* with a proof when read by work_read, NULL from work_read_plain */
};

static void work_rec_release(struct work_rec *w)
{
	iolm_codec_free(w->wc ? &w->wc->base : NULL);
	iolm_codec_free(w->ws ? &w->ws->base : NULL);
	json_decref(w->rec);
	memset(w, 0, sizeof *w);
}

static int work_decode(const iolm_buf *val, struct work_rec *w)
{
	int err = decode_stored((ProtobufCMessage **)&w->ws, &iolm__work_state__descriptor, val,
				RPC_MAX_RECORD);
	if (err)
		return err;
	err = decode_inner((ProtobufCMessage **)&w->wc, &iolm__work_commit__descriptor,
			   w->ws->commit);
	/* a parent is none or one work id: anything else would break the lineage walk */
	if (!err && w->wc->parent_work.len != 0 && w->wc->parent_work.len != 32)
		err = IOLM_ECORRUPT;
	return err;
}

/* The work with its proof; IOLM_ELEDGER_NOWORK when there is none. */
static int work_read(struct view *v, const uint8_t id[static 32], struct work_rec *w)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	size_t rlen = ledger_raw_key_work(raw, id);
	iolm_buf val;
	int exists, err;

	memset(w, 0, sizeof *w);
	iolm_buf_init(&val, RPC_MAX_RECORD);
	if (!(err = proved_record(v, raw, rlen, &val, &exists, &w->rec)))
		err = exists ? work_decode(&val, w) : IOLM_ELEDGER_NOWORK;
	iolm_buf_release(&val, 0);
	if (err)
		work_rec_release(w);
	return err;
}

/* A parent on the lineage, without a proof (/work/{its id} has one). A committed
 * work's parent always exists, so its absence is corruption. */
static int work_read_plain(struct view *v, const uint8_t id[static 32], struct work_rec *w)
{
	iolm_buf val;
	int err;
	memset(w, 0, sizeof *w);
	iolm_buf_init(&val, RPC_MAX_RECORD);
	err = ledger_get_work(v->r->be.ledger, id, &val);
	if (err == IOLM_ENOTFOUND)
		err = IOLM_ECORRUPT;
	if (!err)
		err = work_decode(&val, w);
	iolm_buf_release(&val, 0);
	if (err)
		work_rec_release(w);
	return err;
}

/* ---------------------------------------------------------------- GET /task/{id} */

static int view_task(struct view *v, const void *args, json_t *o)
{
	const uint8_t *id = args;
	struct task_rec t;
	int err = task_read(v, id, &t);
	if (err)
		return err;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	task_fields(&err, o, t.ts, t.params);
	rpc_json_put(&err, o, "record", t.rec);
	t.rec = NULL;
	task_rec_release(&t);
	return err;
}

/* ---------------------------------------------------------------- GET /task/{id}/best */

static int view_best(struct view *v, const void *args, json_t *o)
{
	const uint8_t *id = args;
	struct task_rec t;
	struct work_rec w;
	json_t *wj = NULL;
	int err;

	memset(&w, 0, sizeof w);
	if ((err = task_read(v, id, &t)))
		return err;
	if (t.ts->best_work.len == 0) {
		err = IOLM_ENOTFOUND; /* no accepted work yet */
		goto out;
	}
	if (t.ts->best_work.len != 32) {
		err = IOLM_ECORRUPT;
		goto out;
	}
	err = work_read(v, t.ts->best_work.data, &w);
	if (err == IOLM_ELEDGER_NOWORK) /* the best is a committed work */
		err = IOLM_ECORRUPT;
	if (err || (err = rpc_new_object(&wj)))
		goto out;
	rpc_json_put(&err, wj, "id", bin(t.ts->best_work));
	work_fields(&err, wj, w.ws, w.wc);
	rpc_json_put(&err, wj, "record", w.rec);
	w.rec = NULL;
	rpc_json_put(&err, o, "task_id", rpc_json_hex(id, 32));
	rpc_json_put(&err, o, "best_work", bin(t.ts->best_work));
	rpc_json_put(&err, o, "best_loss", rpc_json_u64(t.ts->best_loss));
	rpc_json_put(&err, o, "best_height", rpc_json_u64(t.ts->best_height));
	rpc_json_put(&err, o, "work", wj);
	wj = NULL;
	rpc_json_put(&err, o, "task_record", t.rec);
	t.rec = NULL;
out:
	json_decref(wj);
	work_rec_release(&w);
	task_rec_release(&t);
	return err;
}

/* ---------------------------------------------------------------- scans */

/* The ids following a fixed prefix in the keys of a state scan. */
struct key_list {
	size_t prefix_len, id_len; /* every key is prefix_len + id_len bytes */
	size_t cap;                /* collect at most this many */
	size_t n;
	int more;                  /* there were more than cap */
	uint8_t *ids;              /* n * id_len bytes */
};

static int key_list_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
		       size_t vlen)
{
	struct key_list *l = ctx;
	(void)val;
	(void)vlen;
	if (klen != l->prefix_len + l->id_len)
		return IOLM_ECORRUPT;
	if (l->n == l->cap) {
		l->more = 1;
		return 1;
	}
	memcpy(l->ids + l->n * l->id_len, key + l->prefix_len, l->id_len);
	l->n++;
	return 0;
}

/* Scan the state records under prefix into l (whose cap and id_len are set). */
static int key_list_scan(struct view *v, struct key_list *l, const uint8_t *prefix, size_t plen)
{
	int rc;
	l->prefix_len = plen;
	l->n = 0;
	l->more = 0;
	l->ids = malloc(l->cap ? l->cap * l->id_len : 1);
	if (!l->ids)
		return IOLM_ENOMEM;
	rc = ledger_scan_state(v->r->be.ledger, prefix, plen, key_list_cb, l);
	return rc == 1 ? IOLM_OK : rc;
}

/* ---------------------------------------------------------------- GET /work/{id} */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static json_t *attestation_json(int *err, struct view *v, const uint8_t work[static 32],
				uint32_t validator, iolm_buf *val)
{
	const ledger_genesis *g = ledger_get_genesis(v->r->be.ledger);
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	size_t rlen = ledger_raw_key_attest(raw, work, validator);
	Iolm__AttestRecord *a = NULL;
	json_t *o = NULL, *rec = NULL;
	int exists = 0, e;

	if ((e = proved_record(v, raw, rlen, val, &exists, &rec)))
		goto out;
	if (!exists) { /* scanned a moment ago: the state moved */
		v->moved = 1;
		goto out;
	}
	if ((e = decode_stored((ProtobufCMessage **)&a, &iolm__attest_record__descriptor, val,
			       RPC_MAX_SMALL_RECORD)))
		goto out;
	if (!(o = json_object())) {
		e = IOLM_ENOMEM;
		goto out;
	}
	rpc_json_put(&e, o, "validator", json_integer(validator));
	if (validator < ledger_genesis_validator_count(g)) {
		const ledger_validator *gv = ledger_genesis_validator(g, validator);
		rpc_json_put(&e, o, "pubkey", rpc_json_hex(gv->pub, 32));
		rpc_json_put(&e, o, "power", rpc_json_u64(gv->power));
	} else {
		rpc_json_put(&e, o, "pubkey", json_null());
		rpc_json_put(&e, o, "power", json_null());
	}
	rpc_json_put(&e, o, "valid", json_boolean(a->valid));
	rpc_json_put(&e, o, "eval_loss", rpc_json_u64(a->eval_loss));
	rpc_json_put(&e, o, "height", rpc_json_u64(a->height));
	rpc_json_put(&e, o, "tx_id", bin(a->tx_id));
	rpc_json_put(&e, o, "record", rec);
	rec = NULL;
out:
	iolm_codec_free(a ? &a->base : NULL);
	json_decref(rec);
	if (e) {
		*err = *err ? *err : e;
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Every AttestRecord under 0x05 || work id, by validator index, each with its proof.
 * Only genesis validators attest, so there are at most as many as validators. */
static json_t *attestations_json(int *err, struct view *v, const uint8_t work[static 32])
{
	uint8_t prefix[LEDGER_RAW_KEY_MAX];
	size_t plen = ledger_raw_key_attest(prefix, work, 0) - 4;
	struct key_list l = { .id_len = 4 };
	iolm_buf val;
	json_t *a = json_array();
	int e;

	l.cap = ledger_genesis_validator_count(ledger_get_genesis(v->r->be.ledger));
	iolm_buf_init(&val, RPC_MAX_SMALL_RECORD);
	if (!a)
		e = IOLM_ENOMEM;
	else if (!(e = key_list_scan(v, &l, prefix, plen)) && l.more)
		e = IOLM_ECORRUPT;
	for (size_t i = 0; !e && i < l.n; i++) {
		json_t *aj = attestation_json(&e, v, work, be32(l.ids + 4 * i), &val);
		if (aj)
			rpc_json_push(&e, a, aj);
	}
	free(l.ids);
	iolm_buf_release(&val, 0);
	if (e) {
		*err = *err ? *err : e;
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The parent chain from w's parent up to a work without one, at most RPC_MAX_LINEAGE
 * entries; *truncated when a parent remains beyond them. */
static json_t *lineage_json(int *err, struct view *v, const Iolm__WorkCommit *wc,
			    int *truncated)
{
	uint8_t id[32];
	int has = wc->parent_work.len == 32, e = IOLM_OK;
	json_t *a = json_array();

	*truncated = 0;
	if (has)
		memcpy(id, wc->parent_work.data, 32);
	for (size_t hop = 0; a && !e && has; hop++) {
		struct work_rec p;
		json_t *o;
		if (hop == RPC_MAX_LINEAGE) {
			*truncated = 1;
			break;
		}
		if ((e = work_read_plain(v, id, &p)))
			break;
		if (!(o = json_object())) {
			e = IOLM_ENOMEM;
		} else {
			rpc_json_put(&e, o, "id", rpc_json_hex(id, 32));
			rpc_json_put(&e, o, "miner",
				     rpc_json_account_id(p.ws->miner.data, p.ws->miner.len));
			rpc_json_put(&e, o, "status_name",
				     json_string(work_status_name(p.ws->status)));
			rpc_json_put(&e, o, "start_step", rpc_json_u64(p.wc->start_step));
			rpc_json_put(&e, o, "end_step", rpc_json_u64(p.ws->end_step));
			rpc_json_put(&e, o, "eval_loss", rpc_json_u64(p.wc->eval_loss));
			rpc_json_put(&e, o, "was_best", json_boolean(p.ws->was_best));
			rpc_json_push(&e, a, o);
		}
		has = p.wc->parent_work.len == 32;
		if (has)
			memcpy(id, p.wc->parent_work.data, 32);
		work_rec_release(&p);
	}
	if (!a)
		e = IOLM_ENOMEM;
	if (e) {
		*err = *err ? *err : e;
		json_decref(a);
		return NULL;
	}
	return a;
}

static int view_work(struct view *v, const void *args, json_t *o)
{
	const uint8_t *id = args;
	struct work_rec w;
	int err = work_read(v, id, &w), truncated = 0;
	if (err)
		return err;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	work_fields(&err, o, w.ws, w.wc);
	rpc_json_put(&err, o, "attestations", attestations_json(&err, v, id));
	rpc_json_put(&err, o, "lineage", lineage_json(&err, v, w.wc, &truncated));
	rpc_json_put(&err, o, "lineage_truncated", json_boolean(truncated));
	rpc_json_put(&err, o, "record", w.rec);
	w.rec = NULL;
	work_rec_release(&w);
	return err;
}

/* ---------------------------------------------------------------- shares */

/* One account's share of a task, {"address", "credit", "record"}; absent: credit 0 with
 * an exclusion proof. */
static json_t *share_json(int *err, struct view *v, const uint8_t task[static 32],
			  const uint8_t acct[static IOLM_ADDR_LEN], uint64_t *credit)
{
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	size_t rlen = ledger_raw_key_share(raw, task, acct);
	Iolm__ShareRecord *s = NULL;
	iolm_buf val;
	json_t *o = NULL, *rec = NULL;
	int exists = 0, e;

	*credit = 0;
	iolm_buf_init(&val, RPC_MAX_SMALL_RECORD);
	if ((e = proved_record(v, raw, rlen, &val, &exists, &rec)))
		goto out;
	if (exists && (e = decode_stored((ProtobufCMessage **)&s, &iolm__share_record__descriptor,
					 &val, RPC_MAX_SMALL_RECORD)))
		goto out;
	if (s)
		*credit = s->credit;
	if (!(o = json_object())) {
		e = IOLM_ENOMEM;
		goto out;
	}
	rpc_json_put(&e, o, "address", rpc_json_account_id(acct, IOLM_ADDR_LEN));
	rpc_json_put(&e, o, "exists", json_boolean(exists));
	rpc_json_put(&e, o, "credit", rpc_json_u64(*credit));
	rpc_json_put(&e, o, "record", rec);
	rec = NULL;
out:
	iolm_codec_free(s ? &s->base : NULL);
	iolm_buf_release(&val, 0);
	json_decref(rec);
	if (e) {
		*err = *err ? *err : e;
		json_decref(o);
		return NULL;
	}
	return o;
}

/* GET /task/{id}/shares: every ShareRecord under 0x07 || task id, in key (address id)
 * order, at most RPC_MAX_SHARES. */
static int view_task_shares(struct view *v, const void *args, json_t *o)
{
	const uint8_t *id = args;
	uint8_t prefix[LEDGER_RAW_KEY_MAX], zero[IOLM_ADDR_LEN] = { 0 };
	size_t plen = ledger_raw_key_share(prefix, id, zero) - IOLM_ADDR_LEN;
	struct key_list l = { .id_len = IOLM_ADDR_LEN, .cap = RPC_MAX_SHARES };
	struct task_rec t;
	json_t *a = NULL;
	uint64_t sum = 0;
	int err;

	if ((err = task_read(v, id, &t)))
		return err;
	if ((err = key_list_scan(v, &l, prefix, plen)))
		goto out;
	if (!(a = json_array())) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; !err && i < l.n; i++) {
		uint64_t credit;
		json_t *s = share_json(&err, v, id, l.ids + i * IOLM_ADDR_LEN, &credit);
		if (s && !json_is_true(json_object_get(s, "exists")))
			v->moved = 1; /* scanned a moment ago */
		rpc_json_push(&err, a, s);
		sum = credit > UINT64_MAX - sum ? UINT64_MAX : sum + credit;
	}
	rpc_json_put(&err, o, "task_id", rpc_json_hex(id, 32));
	rpc_json_put(&err, o, "total_credit", rpc_json_u64(t.ts->total_credit));
	rpc_json_put(&err, o, "sum", rpc_json_u64(sum));
	rpc_json_put(&err, o, "count", rpc_json_u64(l.n));
	rpc_json_put(&err, o, "truncated", json_boolean(l.more));
	rpc_json_put(&err, o, "shares", a);
	a = NULL;
	rpc_json_put(&err, o, "task_record", t.rec);
	t.rec = NULL;
out:
	json_decref(a);
	free(l.ids);
	task_rec_release(&t);
	return err;
}

struct share_args {
	uint8_t task[32];
	uint8_t acct[IOLM_ADDR_LEN];
};

/* GET /shares/{task}/{address} */
static int view_share(struct view *v, const void *args, json_t *o)
{
	const struct share_args *sa = args;
	struct task_rec t;
	uint64_t credit;
	json_t *s;
	int err;

	if ((err = task_read(v, sa->task, &t)))
		return err;
	s = share_json(&err, v, sa->task, sa->acct, &credit);
	rpc_json_put(&err, o, "task_id", rpc_json_hex(sa->task, 32));
	rpc_json_put(&err, o, "address", rpc_json_account_id(sa->acct, IOLM_ADDR_LEN));
	rpc_json_put(&err, o, "exists", json_boolean(json_is_true(json_object_get(s, "exists"))));
	rpc_json_put(&err, o, "credit", rpc_json_u64(credit));
	rpc_json_put(&err, o, "total_credit", rpc_json_u64(t.ts->total_credit));
	rpc_json_put(&err, o, "record", json_incref(json_object_get(s, "record")));
	rpc_json_put(&err, o, "task_record", t.rec);
	t.rec = NULL;
	json_decref(s);
	task_rec_release(&t);
	return err;
}

/* ---------------------------------------------------------------- GET /rewards/{address} */

static int view_rewards(struct view *v, const void *args, json_t *o)
{
	const uint8_t *acct = args;
	uint8_t raw[LEDGER_RAW_KEY_MAX];
	size_t rlen = ledger_raw_key_rewards(raw, acct);
	Iolm__Rewards *rw = NULL, zero = IOLM__REWARDS__INIT;
	iolm_buf val;
	json_t *rec = NULL;
	int exists = 0, err;

	iolm_buf_init(&val, RPC_MAX_SMALL_RECORD);
	if ((err = proved_record(v, raw, rlen, &val, &exists, &rec)))
		goto out;
	if (exists && (err = decode_stored((ProtobufCMessage **)&rw, &iolm__rewards__descriptor,
					   &val, RPC_MAX_SMALL_RECORD)))
		goto out;
	{
		const Iolm__Rewards *p = rw ? rw : &zero;
		rpc_json_put(&err, o, "address", rpc_json_account_id(acct, IOLM_ADDR_LEN));
		rpc_json_put(&err, o, "id", rpc_json_hex(acct, IOLM_ADDR_LEN));
		rpc_json_put(&err, o, "exists", json_boolean(exists));
		rpc_json_put(&err, o, "breakthrough", rpc_json_u64(p->breakthrough));
		rpc_json_put(&err, o, "revenue", rpc_json_u64(p->revenue));
		rpc_json_put(&err, o, "bonds_returned", rpc_json_u64(p->bonds_returned));
		rpc_json_put(&err, o, "slashed", rpc_json_u64(p->slashed));
		rpc_json_put(&err, o, "validator", rpc_json_u64(p->validator));
		rpc_json_put(&err, o, "record", rec);
		rec = NULL;
	}
out:
	iolm_codec_free(rw ? &rw->base : NULL);
	json_decref(rec);
	iolm_buf_release(&val, 0);
	return err;
}

/* ---------------------------------------------------------------- GET /tasks */

#define RPC_TASKS_DEFAULT 100u
#define RPC_TASKS_MAX 1000u

struct tasks_args {
	uint64_t offset;
	size_t limit;
};

/* One task in brief: what a list shows (the full record and its proof: /task/{id}). */
static json_t *task_brief(int *err, const uint8_t id[static 32], const iolm_buf *val)
{
	Iolm__TaskState *t = NULL;
	Iolm__TaskCreate *p = NULL;
	json_t *o = NULL;
	int e;

	if ((e = decode_stored((ProtobufCMessage **)&t, &iolm__task_state__descriptor, val,
			       RPC_MAX_RECORD)) ||
	    (e = decode_inner((ProtobufCMessage **)&p, &iolm__task_create__descriptor, t->params)) ||
	    (e = rpc_new_object(&o))) {
		*err = e;
		goto out;
	}
	rpc_json_put(err, o, "id", rpc_json_hex(id, 32));
	rpc_json_put(err, o, "name", json_string(p->name ? p->name : ""));
	rpc_json_put(err, o, "designer", rpc_json_account_id(t->creator.data, t->creator.len));
	rpc_json_put(err, o, "created_height", rpc_json_u64(t->created_height));
	rpc_json_put(err, o, "status", json_integer(t->status));
	rpc_json_put(err, o, "status_name", json_string(task_status_name(t->status)));
	rpc_json_put(err, o, "pool", rpc_json_u64(t->pool));
	rpc_json_put(err, o, "best_work", opt_id(t->best_work));
	rpc_json_put(err, o, "best_loss", t->best_work.len ? rpc_json_u64(t->best_loss) : json_null());
	rpc_json_put(err, o, "n_works", rpc_json_u64(t->n_works));
	rpc_json_put(err, o, "n_accepted", rpc_json_u64(t->n_accepted));
out:
	iolm_codec_free(p ? &p->base : NULL);
	iolm_codec_free(t ? &t->base : NULL);
	return o;
}

static int view_tasks(struct view *v, const void *args, json_t *o)
{
	const struct tasks_args *ta = args;
	uint8_t (*ids)[32] = malloc(ta->limit * 32);
	uint64_t total, height;
	size_t n = 0;
	iolm_buf val;
	json_t *a = NULL;
	int err = IOLM_ENOMEM;

	iolm_buf_init(&val, RPC_MAX_RECORD);
	if (!ids || !(a = json_array()))
		goto out;
	if ((err = ledger_list_tasks(v->r->be.ledger, ids, &n, &total, &height, ta->offset,
				     ta->limit)))
		goto out;
	if (height != v->head.height)
		v->moved = 1;
	for (size_t i = 0; i < n && !err; i++) {
		iolm_buf_reset(&val);
		err = ledger_get_task(v->r->be.ledger, ids[i], &val);
		if (err == IOLM_ENOTFOUND) /* listed, so it was created */
			err = IOLM_ECORRUPT;
		if (!err)
			rpc_json_push(&err, a, task_brief(&err, ids[i], &val));
	}
	rpc_json_put(&err, o, "count", rpc_json_u64(total));
	rpc_json_put(&err, o, "offset", rpc_json_u64(ta->offset));
	rpc_json_put(&err, o, "tasks", a);
	a = NULL;
	rpc_json_put(&err, o, "next_offset",
		     ta->offset + n < total ? rpc_json_u64(ta->offset + n) : json_null());
out:
	json_decref(a);
	iolm_buf_release(&val, 0);
	free(ids);
	return stored(err);
}

/* ---------------------------------------------------------------- handlers */

/* /task/{id}, /task/{id}/best, /task/{id}/shares: arg is everything after "/task/". */
int rpc_h_task(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	const char *slash = strchr(arg, '/');
	size_t idlen = slash ? (size_t)(slash - arg) : strlen(arg);
	view_fn fn = view_task;
	uint8_t id[32];
	int err;

	(void)req;
	if (slash && strcmp(slash + 1, "best") == 0)
		fn = view_best;
	else if (slash && strcmp(slash + 1, "shares") == 0)
		fn = view_task_shares;
	else if (slash)
		return IOLM_ERPC_ROUTE;
	if ((err = parse_id(id, arg, idlen)))
		return err;
	return in_view(r, fn, id, reply);
}

int rpc_h_work(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t id[32];
	int err;
	(void)req;
	if ((err = parse_id(id, arg, strlen(arg))))
		return err;
	return in_view(r, view_work, id, reply);
}

int rpc_h_rewards(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t acct[IOLM_ADDR_LEN];
	int err;
	(void)req;
	if ((err = parse_addr(acct, arg, strlen(arg))))
		return err;
	return in_view(r, view_rewards, acct, reply);
}

/* /shares/{task-id}/{address}: arg is everything after "/shares/". */
int rpc_h_shares(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	const char *slash = strchr(arg, '/');
	struct share_args sa;
	int err;
	(void)req;
	if (!slash || slash[1] == '\0' || strchr(slash + 1, '/'))
		return IOLM_ERPC_ROUTE;
	if ((err = parse_id(sa.task, arg, (size_t)(slash - arg))) ||
	    (err = parse_addr(sa.acct, slash + 1, strlen(slash + 1))))
		return err;
	return in_view(r, view_share, &sa, reply);
}

/* /tasks?limit=N&offset=K */
int rpc_h_tasks(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct rpc_param p[] = { { .name = "limit" }, { .name = "offset" } };
	struct evkeyvalq kv;
	struct tasks_args ta;
	uint64_t limit;
	int err = rpc_query_parse(&kv, p, 2, rpc_query_string(req));
	(void)arg;
	if (!err && !(err = rpc_query_u64(&limit, &p[0], RPC_TASKS_DEFAULT, 1, RPC_TASKS_MAX)))
		err = rpc_query_u64(&ta.offset, &p[1], 0, 0, UINT64_MAX);
	evhttp_clear_headers(&kv);
	if (err)
		return err;
	ta.limit = (size_t)limit;
	return in_view(r, view_tasks, &ta, reply);
}
