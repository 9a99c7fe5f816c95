/* The RPC's read endpoints: /status, /block, /tx, /account, /history, /validators,
 * /mempool and /peers (docs/rpc.md). Each reads the ledger through its public queries
 * (one LMDB read transaction per query), the mempool and the P2P peer list, on the loop
 * thread. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/addr.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "node/rpc_int.h"
#include "node/rpc_json.h"

/* ---------------------------------------------------------------- argument parsing */

static int parse_id(uint8_t id[static 32], const char *s)
{
	if (strlen(s) != 64 || iolm_hex_decode_exact(id, 32, s) != IOLM_OK) {
		memset(id, 0, 32);
		return IOLM_ERPC_BADID;
	}
	return IOLM_OK;
}

/* A decimal number: digits only, no sign, no leading zero, no overflow. */
static int parse_decimal(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return IOLM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
			return IOLM_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return IOLM_OK;
}

static int parse_height(uint64_t *h, const char *s)
{
	return parse_decimal(h, s) ? IOLM_ERPC_BADREF : IOLM_OK;
}

const char *rpc_query_string(struct evhttp_request *req)
{
	return evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
}

int rpc_query_parse(struct evkeyvalq *q, struct rpc_param *p, size_t n, const char *qs)
{
	struct evkeyval *kv;

	TAILQ_INIT(q);
	for (size_t i = 0; i < n; i++)
		p[i].value = NULL;
	if (!qs || !*qs)
		return IOLM_OK;
	if (evhttp_parse_query_str(qs, q) != 0)
		return IOLM_ERPC_BADQUERY;
	TAILQ_FOREACH(kv, q, next) {
		size_t i = 0;
		while (i < n && strcmp(p[i].name, kv->key) != 0)
			i++;
		if (i == n || p[i].value || !kv->value)
			return IOLM_ERPC_BADQUERY;
		p[i].value = kv->value;
	}
	return IOLM_OK;
}

int rpc_query_u64(uint64_t *out, const struct rpc_param *p, uint64_t dflt, uint64_t min,
		  uint64_t max)
{
	uint64_t v = dflt;
	if (p->value && parse_decimal(&v, p->value))
		return IOLM_ERPC_BADQUERY;
	if (v < min || v > max)
		return IOLM_ERPC_BADQUERY;
	*out = v;
	return IOLM_OK;
}

/* Stored data that does not decode is corruption, not a bad request. */
static int stored(int err)
{
	return err == IOLM_EDECODE || err == IOLM_ENONCANON || err == IOLM_EUNKNOWN ||
			       err == IOLM_ETOOBIG
		       ? IOLM_ECORRUPT
		       : err;
}

int rpc_new_object(json_t **o)
{
	*o = json_object();
	return *o ? IOLM_OK : IOLM_ENOMEM;
}

/* ---------------------------------------------------------------- GET /status */

static const char *step_name(int step)
{
	/* enum cons_step (consensus/cons.h): 1 propose, 2 prevote, 3 precommit */
	static const char *const names[] = { "none", "propose", "prevote", "precommit" };
	return step >= 0 && step <= 3 ? names[step] : "unknown";
}

int rpc_h_status(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	node_status st;
	json_t *o, *c, *m, *s;
	int err;
	memset(&st, 0, sizeof st);
	r->be.get_status(r->be.ctx, &st);
	st.chain_id[sizeof st.chain_id - 1] = '\0';
	if ((err = rpc_new_object(&o)))
		return err;
	c = json_object();
	m = json_object();
	s = json_object();
	rpc_json_put(&err, o, "chain_id", json_string(st.chain_id));
	rpc_json_put(&err, o, "genesis_hash",
		     rpc_json_hex(ledger_genesis_hash(ledger_get_genesis(r->be.ledger)), 32));
	rpc_json_put(&err, o, "node_key", rpc_json_hex(st.node_key, 32));
	rpc_json_put(&err, o, "validator_index", json_integer(st.validator_index));
	rpc_json_put(&err, o, "height", rpc_json_u64(st.height));
	rpc_json_put(&err, o, "block_id", rpc_json_hex(st.block_id, 32));
	rpc_json_put(&err, o, "block_time_ms", rpc_json_u64(st.block_time_ms));
	rpc_json_put(&err, o, "state_root", rpc_json_hex(st.state_root, 32));
	rpc_json_put(&err, c, "height", rpc_json_u64(st.cons_height));
	rpc_json_put(&err, c, "round", json_integer(st.cons_round));
	rpc_json_put(&err, c, "step", json_integer(st.cons_step));
	rpc_json_put(&err, c, "step_name", json_string(step_name(st.cons_step)));
	rpc_json_put(&err, o, "consensus", c);
	rpc_json_put(&err, o, "peers", rpc_json_u64(st.peers));
	rpc_json_put(&err, m, "txs", rpc_json_u64(st.mempool_txs));
	rpc_json_put(&err, m, "bytes", rpc_json_u64(st.mempool_bytes));
	rpc_json_put(&err, o, "mempool", m);
	rpc_json_put(&err, s, "syncing", json_boolean(st.syncing));
	rpc_json_put(&err, s, "target_height", rpc_json_u64(st.sync_target));
	rpc_json_put(&err, o, "sync", s);
	rpc_json_put(&err, o, "started_ms", rpc_json_u64(st.started_ms));
	rpc_json_put(&err, o, "history_index", json_boolean(ledger_has_history(r->be.ledger)));
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* ---------------------------------------------------------------- GET /block/{ref} */

int rpc_h_block(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	iolm_buf blk, cert;
	uint8_t id[32];
	uint64_t height = 0;
	int err;

	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	if (strlen(arg) == 64) {
		if ((err = parse_id(id, arg)) ||
		    (err = ledger_get_block_by_id(r->be.ledger, id, &blk, &height)))
			goto out;
	} else {
		if ((err = parse_height(&height, arg)))
			goto out;
		if (height == 0) { /* the genesis state has no block */
			err = IOLM_ENOTFOUND;
			goto out;
		}
		if ((err = ledger_get_block(r->be.ledger, height, &blk)))
			goto out;
	}
	err = ledger_get_cert(r->be.ledger, height, &cert);
	if (err && err != IOLM_ENOTFOUND)
		goto out;
	err = stored(rpc_json_block(reply, ledger_get_genesis(r->be.ledger), blk.data, blk.len,
				    cert.len ? cert.data : NULL, cert.len));
out:
	iolm_buf_release(&blk, 0);
	iolm_buf_release(&cert, 0);
	return err;
}

/* ---------------------------------------------------------------- GET /tx/{id} */

static int ledger_account_cb(void *ctx, const uint8_t id[static 20], uint64_t *balance,
			     uint64_t *nonce)
{
	return ledger_get_account(ctx, id, balance, nonce);
}

struct find_pending {
	const uint8_t *id;
	iolm_buf *out;
	int err;
};

static int find_pending_cb(void *ctx, const uint8_t *raw, size_t len, const uint8_t id[static 32])
{
	struct find_pending *f = ctx;
	if (memcmp(id, f->id, 32) != 0)
		return 0;
	f->err = iolm_buf_append(f->out, raw, len);
	return 1;
}

/* A transaction still in the mempool. Its bytes are found through the selection, which
 * only yields transactions whose nonces follow on from their account's: one waiting
 * behind a gap is reported without its bytes ("tx": null). */
static int pending_tx(node_rpc *r, const uint8_t id[static 32], json_t *o)
{
	iolm_buf raw;
	struct find_pending f = { id, &raw, IOLM_OK };
	json_t *t = NULL;
	int err = IOLM_OK, rc;
	iolm_buf_init(&raw, IOLM_MAX_TX_BYTES);
	rc = ledger_mempool_select(r->be.mempool, SIZE_MAX, SIZE_MAX, ledger_account_cb,
				   r->be.ledger, find_pending_cb, &f);
	if (rc < 0)
		err = rc;
	else if (f.err)
		err = f.err;
	else if (rc == 1)
		err = rpc_json_tx(&t, raw.data, raw.len);
	rpc_json_put(&err, o, "status", json_string("pending"));
	rpc_json_put(&err, o, "tx", t ? t : json_null());
	iolm_buf_release(&raw, 0);
	return err;
}

static int committed_tx(node_rpc *r, uint64_t height, uint32_t index, const iolm_buf *rcpt,
			json_t *o)
{
	iolm_buf blk;
	Iolm__Block *b = NULL;
	json_t *t = NULL, *rj = NULL;
	uint8_t bid[32];
	int err;
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	if ((err = ledger_get_block(r->be.ledger, height, &blk)) ||
	    (err = stored(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES))))
		goto out;
	if (index >= b->n_txs) {
		err = IOLM_ECORRUPT;
		goto out;
	}
	if ((err = stored(rpc_json_tx(&t, b->txs[index].data, b->txs[index].len))) ||
	    (err = stored(rpc_json_receipt(&rj, rcpt->data, rcpt->len))))
		goto out;
	iolm_hash(bid, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	rpc_json_put(&err, o, "status", json_string("committed"));
	rpc_json_put(&err, o, "height", rpc_json_u64(height));
	rpc_json_put(&err, o, "index", json_integer(index));
	rpc_json_put(&err, o, "block_id", rpc_json_hex(bid, 32));
	rpc_json_put(&err, o, "tx", t);
	rpc_json_put(&err, o, "receipt", rj);
	t = rj = NULL;
out:
	json_decref(t);
	json_decref(rj);
	iolm_codec_free(b ? &b->base : NULL);
	iolm_buf_release(&blk, 0);
	return err;
}

int rpc_h_tx(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	iolm_buf rcpt;
	uint8_t id[32];
	uint64_t height;
	uint32_t index;
	json_t *o = NULL;
	int err;

	iolm_buf_init(&rcpt, 1u << 20);
	if ((err = parse_id(id, arg)) || (err = rpc_new_object(&o)))
		goto out;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, 32));
	if (err)
		goto out;
	err = ledger_get_tx(r->be.ledger, id, &height, &index, &rcpt);
	if (!err)
		err = committed_tx(r, height, index, &rcpt, o);
	else if (err == IOLM_ENOTFOUND && ledger_mempool_has(r->be.mempool, id))
		err = pending_tx(r, id, o);
out:
	iolm_buf_release(&rcpt, 0);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* ---------------------------------------------------------------- GET /account/{addr} */

/* Decode the Account record (absent: balance 0, nonce 0). */
static int account_fields(const iolm_buf *raw, int exists, uint64_t *balance, uint64_t *nonce)
{
	Iolm__Account *a = NULL;
	int err;
	*balance = *nonce = 0;
	if (!exists)
		return IOLM_OK;
	err = iolm_codec_decode((ProtobufCMessage **)&a, &iolm__account__descriptor,
				raw->data ? raw->data : (const uint8_t *)"", raw->len, 1024);
	if (err)
		return IOLM_ECORRUPT;
	*balance = a->balance;
	*nonce = a->nonce;
	iolm_codec_free(&a->base);
	return IOLM_OK;
}

/* The head's header bytes (null at height 0, before any block). */
static int head_header(node_rpc *r, const ledger_head *head, json_t *o)
{
	iolm_buf blk;
	Iolm__Block *b = NULL;
	int err = IOLM_OK;
	if (head->height == 0) {
		rpc_json_put(&err, o, "header_bytes", json_null());
		return err;
	}
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	if (!(err = ledger_get_block(r->be.ledger, head->height, &blk)) &&
	    !(err = stored(iolm_decode_block(&b, blk.data, blk.len, IOLM_MAX_BLOCK_BYTES))))
		rpc_json_put(&err, o, "header_bytes", rpc_json_hex(b->header.data, b->header.len));
	iolm_codec_free(b ? &b->base : NULL);
	iolm_buf_release(&blk, 0);
	return err;
}

int rpc_h_account(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t id[IOLM_ADDR_LEN], root[32];
	ledger_head head;
	ledger_proof *proof = malloc(sizeof *proof);
	iolm_buf raw;
	json_t *o = NULL, *pj = NULL;
	uint64_t balance, nonce;
	int err, exists = 0;

	iolm_buf_init(&raw, 1024);
	if (!proof) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = iolm_addr_decode(id, arg)))
		goto out;
	/* The head and the proof come from two read transactions: a block committed in
	 * between would pair a proof with the wrong header. Retry until they agree. */
	for (int attempt = 0;; attempt++) {
		iolm_buf_reset(&raw);
		if ((err = ledger_get_head(r->be.ledger, &head)))
			goto out;
		err = ledger_get_account_proved(r->be.ledger, id, &raw, proof, root);
		if (err && err != IOLM_ENOTFOUND)
			goto out;
		exists = err == IOLM_OK;
		if (memcmp(root, head.state_root, 32) == 0)
			break;
		if (attempt == 3) {
			err = IOLM_ESTATE;
			goto out;
		}
	}
	if ((err = account_fields(&raw, exists, &balance, &nonce)) ||
	    (err = rpc_json_proof(&pj, proof)) || (err = rpc_new_object(&o)))
		goto out;
	rpc_json_put(&err, o, "address", rpc_json_account_id(id, sizeof id)); /* lower case */
	rpc_json_put(&err, o, "id", rpc_json_hex(id, sizeof id));
	rpc_json_put(&err, o, "exists", json_boolean(exists));
	rpc_json_put(&err, o, "balance", rpc_json_u64(balance));
	rpc_json_put(&err, o, "nonce", rpc_json_u64(nonce));
	rpc_json_put(&err, o, "account_bytes", exists ? rpc_json_hex(raw.data, raw.len) : json_null());
	rpc_json_put(&err, o, "proof", pj);
	pj = NULL;
	rpc_json_put(&err, o, "state_root", rpc_json_hex(root, 32));
	rpc_json_put(&err, o, "height", rpc_json_u64(head.height));
	rpc_json_put(&err, o, "block_id", rpc_json_hex(head.block_id, 32));
	if (!err)
		err = head_header(r, &head, o);
out:
	free(proof);
	json_decref(pj);
	iolm_buf_release(&raw, 0);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* ---------------------------------------------------------------- GET /history/{addr} */

#define RPC_HISTORY_DEFAULT 100u
#define RPC_HISTORY_MAX 1000u

static json_t *opt_hex(unsigned has, unsigned bit, const uint8_t *p, size_t n)
{
	return has & bit ? rpc_json_hex(p, n) : json_null();
}

static json_t *hist_entry_json(int *err, const ledger_hist_entry *e)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	rpc_json_put(err, o, "height", rpc_json_u64(e->height));
	rpc_json_put(err, o, "seq", json_integer(e->seq));
	rpc_json_put(err, o, "kind", json_string(ledger_hist_kind_name(e->kind)));
	rpc_json_put(err, o, "amount", rpc_json_u64(e->amount));
	rpc_json_put(err, o, "object_id", opt_hex(e->has, LEDGER_HIST_HAS_OBJECT, e->object_id, 32));
	rpc_json_put(err, o, "task_id", opt_hex(e->has, LEDGER_HIST_HAS_TASK, e->task_id, 32));
	rpc_json_put(err, o, "counterparty",
		     e->has & LEDGER_HIST_HAS_COUNTERPARTY
			     ? rpc_json_account_id(e->counterparty, IOLM_ADDR_LEN)
			     : json_null());
	return o;
}

static json_t *hist_totals_json(int *err, const ledger_hist_page *p)
{
	json_t *o = json_object();
	for (uint32_t k = 1; o && k < LEDGER_HIST_KINDS; k++)
		rpc_json_put(err, o, ledger_hist_kind_name(k), rpc_json_u64(p->totals[k]));
	return o;
}

int rpc_history_query_parse(ledger_hist_query *q, const char *qs)
{
	struct rpc_param p[] = { { .name = "limit" }, { .name = "before" },
				 { .name = "before_seq" }, { .name = "kind" } };
	struct evkeyvalq kv;
	uint64_t limit, seq;
	int err = rpc_query_parse(&kv, p, 4, qs);

	memset(q, 0, sizeof *q);
	if (!err && !(err = rpc_query_u64(&limit, &p[0], RPC_HISTORY_DEFAULT, 1, RPC_HISTORY_MAX)) &&
	    !(err = rpc_query_u64(&q->before_height, &p[1], UINT64_MAX, 0, UINT64_MAX)) &&
	    !(err = rpc_query_u64(&seq, &p[2], 0, 0, UINT32_MAX))) {
		q->limit = (size_t)limit;
		q->before_seq = (uint32_t)seq;
		if ((p[2].value && !p[1].value) ||
		    (p[3].value && !(q->kind = ledger_hist_kind_parse(p[3].value))))
			err = IOLM_ERPC_BADQUERY;
	}
	evhttp_clear_headers(&kv);
	return err;
}

int rpc_h_history(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t id[IOLM_ADDR_LEN];
	ledger_hist_query q;
	ledger_hist_page page;
	ledger_hist_entry *e = NULL;
	json_t *o = NULL, *a = NULL;
	int err;

	if ((err = iolm_addr_decode(id, arg)) || (err = rpc_history_query_parse(&q, rpc_query_string(req))))
		return err;
	e = malloc(q.limit * sizeof *e);
	if (!e)
		return IOLM_ENOMEM;
	if ((err = stored(ledger_history(r->be.ledger, e, &page, id, &q))) ||
	    (err = rpc_new_object(&o)))
		goto out;
	a = json_array();
	for (size_t i = 0; a && i < page.n; i++)
		rpc_json_push(&err, a, hist_entry_json(&err, &e[i]));
	rpc_json_put(&err, o, "address", rpc_json_account_id(id, sizeof id));
	rpc_json_put(&err, o, "height", rpc_json_u64(page.height));
	rpc_json_put(&err, o, "entries", a);
	rpc_json_put(&err, o, "totals", hist_totals_json(&err, &page));
	rpc_json_put(&err, o, "next_before", page.more ? rpc_json_u64(page.next_height) : json_null());
	rpc_json_put(&err, o, "next_before_seq",
		     page.more && page.next_seq ? json_integer(page.next_seq) : json_null());
out:
	free(e);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* ---------------------------------------------------------------- validators, mempool, peers */

int rpc_h_validators(node_rpc *r, struct evhttp_request *req, const char *arg,
			json_t **reply)
{
	const ledger_genesis *g = ledger_get_genesis(r->be.ledger);
	size_t n = ledger_genesis_validator_count(g);
	uint64_t total = 0;
	json_t *o, *a = json_array();
	int err = IOLM_OK;
	if ((err = rpc_new_object(&o))) {
		json_decref(a);
		return err;
	}
	for (size_t i = 0; i < n && a; i++) {
		const ledger_validator *v = ledger_genesis_validator(g, i);
		uint8_t acct[IOLM_ADDR_LEN];
		json_t *vj = json_object();
		if (!vj) {
			err = IOLM_ENOMEM;
			break;
		}
		iolm_addr_from_pub(acct, v->pub);
		rpc_json_put(&err, vj, "index", json_integer((json_int_t)i));
		rpc_json_put(&err, vj, "pubkey", rpc_json_hex(v->pub, 32));
		rpc_json_put(&err, vj, "address", rpc_json_account_id(acct, sizeof acct));
		rpc_json_put(&err, vj, "power", rpc_json_u64(v->power));
		rpc_json_put(&err, vj, "name", json_string(v->name));
		rpc_json_push(&err, a, vj);
		total = v->power > UINT64_MAX - total ? UINT64_MAX : total + v->power;
	}
	rpc_json_put(&err, o, "count", rpc_json_u64(n));
	rpc_json_put(&err, o, "total_power", rpc_json_u64(total));
	rpc_json_put(&err, o, "validators", a);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

struct list_ids {
	json_t *ids;
	size_t n;
	int err;
};

static int list_ids_cb(void *ctx, const uint8_t *raw, size_t len, const uint8_t id[static 32])
{
	struct list_ids *l = ctx;
	if (l->n == RPC_MEMPOOL_MAX_IDS)
		return 1; /* truncated */
	rpc_json_push(&l->err, l->ids, rpc_json_hex(id, 32));
	l->n++;
	return l->err ? 2 : 0;
}

int rpc_h_mempool(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct list_ids l = { json_array(), 0, IOLM_OK };
	json_t *o = NULL;
	int err, rc;
	if (!l.ids)
		return IOLM_ENOMEM;
	rc = ledger_mempool_select(r->be.mempool, SIZE_MAX, SIZE_MAX, ledger_account_cb,
				   r->be.ledger, list_ids_cb, &l);
	err = rc < 0 ? rc : l.err;
	if (!err)
		err = rpc_new_object(&o);
	if (err) {
		json_decref(l.ids);
		return err;
	}
	rpc_json_put(&err, o, "count", rpc_json_u64(ledger_mempool_count(r->be.mempool)));
	rpc_json_put(&err, o, "bytes", rpc_json_u64(ledger_mempool_bytes(r->be.mempool)));
	rpc_json_put(&err, o, "truncated", json_boolean(rc == 1));
	rpc_json_put(&err, o, "ids", l.ids);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

int rpc_h_peers(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	json_t *o, *a = json_array();
	node_peer *p;
	size_t n = 0;
	int err;
	if ((err = rpc_new_object(&o))) {
		json_decref(a);
		return err;
	}
	for (; a && r->be.p2p && (p = node_p2p_peer(r->be.p2p, n)) != NULL; n++) {
		json_t *pj = json_object();
		if (!pj) {
			err = IOLM_ENOMEM;
			break;
		}
		rpc_json_put(&err, pj, "key", rpc_json_hex(node_peer_key(p), 32));
		rpc_json_put(&err, pj, "addr", json_string(node_peer_addr(p)));
		rpc_json_put(&err, pj, "height", rpc_json_u64(node_peer_height(p)));
		rpc_json_put(&err, pj, "outbound", json_boolean(node_peer_outbound(p)));
		art_xfer_peer_info ai;
		if (r->art.peer_info && r->art.peer_info(r->art.ctx, p, &ai) == IOLM_OK) {
			json_t *aj = json_object();
			rpc_json_put(&err, aj, "window", rpc_json_u64(ai.window));
			rpc_json_put(&err, aj, "in_flight", rpc_json_u64(ai.in_flight));
			rpc_json_put(&err, aj, "rate_bytes_per_s", rpc_json_u64(ai.rate));
			rpc_json_put(&err, aj, "rtt_ms", rpc_json_u64(ai.rtt_ms));
			rpc_json_put(&err, aj, "stolen_from", rpc_json_u64(ai.stolen_from));
			rpc_json_put(&err, aj, "serving_queue", rpc_json_u64(ai.queued));
			rpc_json_put(&err, pj, "artifacts", aj);
		}
		rpc_json_push(&err, a, pj);
	}
	rpc_json_put(&err, o, "count", rpc_json_u64(n));
	rpc_json_put(&err, o, "peers", a);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

