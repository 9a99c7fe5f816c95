/* The account history and the task list: indexes for wallets, outside the state root.
 *
 * Format (docs/protocol.md §6). Database `history` holds one record per event that
 * moved an account's money:
 *   key   account id (20) || u64be(height) || u32be(seq)        32 bytes
 *   value HistoryEntry {kind, amount, object_id, task_id, counterparty}
 * seq numbers a block's entries over all accounts in the order the block executes
 * (transactions, then the end-of-block rules, then the validators' pay), so one
 * account's entries sort oldest first and a reverse cursor walk lists them newest first.
 * Database `histsum` keeps the running totals of each account:
 *   key   account id (20)
 *   value u64be(sum of the entries of kind k) for k = 0 .. LEDGER_HIST_KINDS - 1
 *         (a shorter value, from a build with fewer kinds, reads as zeros after its end)
 * so totals over every entry cost one read, however long the history. Database
 * `tasklist` maps u64be(created height) || u32be(position in the block) to the task id.
 *
 * Every write happens inside the block's LMDB write transaction (struct exec), so the
 * indexes commit, abort and survive a crash exactly with the block: they are always the
 * indexes of the state at the head. They are not consensus: no root covers them, and a
 * node could drop them without changing a block. */
#include <assert.h>
#include <string.h>

#include "core/checked.h"
#include "ledger/internal.h"

#define HIST_KEY_LEN (IOLM_ADDR_LEN + 8 + 4)
#define HIST_SUM_LEN (8 * LEDGER_HIST_KINDS)
#define HIST_MAX_ENTRY 256 /* an encoded HistoryEntry is at most ~100 bytes */

static const char *const kind_names[LEDGER_HIST_KINDS] = {
	[LEDGER_HIST_GENESIS] = "genesis",
	[LEDGER_HIST_TRANSFER_OUT] = "transfer_out",
	[LEDGER_HIST_TRANSFER_IN] = "transfer_in",
	[LEDGER_HIST_FEE] = "fee",
	[LEDGER_HIST_TASK_CREATED] = "task_created",
	[LEDGER_HIST_WORK_COMMITTED] = "work_committed",
	[LEDGER_HIST_MODEL_PAID] = "model_paid",
	[LEDGER_HIST_BREAKTHROUGH] = "breakthrough",
	[LEDGER_HIST_REVENUE] = "revenue",
	[LEDGER_HIST_BOND_RETURNED] = "bond_returned",
	[LEDGER_HIST_SLASHED] = "slashed",
	[LEDGER_HIST_VALIDATOR] = "validator",
};

const char *ledger_hist_kind_name(uint32_t kind)
{
	return kind < LEDGER_HIST_KINDS ? kind_names[kind] : NULL;
}

uint32_t ledger_hist_kind_parse(const char *name)
{
	for (uint32_t k = 1; k < LEDGER_HIST_KINDS; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void hist_key(uint8_t key[static HIST_KEY_LEN], const uint8_t account[static IOLM_ADDR_LEN],
		     uint64_t height, uint32_t seq)
{
	memcpy(key, account, IOLM_ADDR_LEN);
	put_be(key + IOLM_ADDR_LEN, height, 8);
	put_be(key + IOLM_ADDR_LEN + 8, seq, 4);
}

/* The account's totals (zeros when it has none yet). */
static int sums_get(MDB_txn *txn, ledger *l, const uint8_t account[static IOLM_ADDR_LEN],
		    uint64_t sums[static LEDGER_HIST_KINDS])
{
	MDB_val k = { IOLM_ADDR_LEN, (void *)account }, v;
	int rc = mdb_get(txn, l->histsum, &k, &v);
	memset(sums, 0, LEDGER_HIST_KINDS * sizeof *sums);
	if (rc == MDB_NOTFOUND)
		return IOLM_OK;
	if (rc)
		return ledger_lmdb_err(rc);
	if (v.mv_size % 8)
		return IOLM_ECORRUPT;
	for (size_t i = 0; i < v.mv_size / 8 && i < LEDGER_HIST_KINDS; i++)
		sums[i] = get_be((const uint8_t *)v.mv_data + 8 * i, 8);
	return IOLM_OK;
}

/* One history entry of the block being executed, written by hist_flush: its key
 * (account || height || seq), its encoded HistoryEntry, and what it adds to the account's
 * total of its kind. */
#define HIST_ENTRY_MAX 112 /* an encoded HistoryEntry: at most 2 + 11 + 34 + 34 + 22 */
struct hist_pending {
	uint8_t key[HIST_KEY_LEN];
	uint8_t len;
	uint8_t kind;
	uint64_t amount;
	uint8_t val[HIST_ENTRY_MAX];
};

static int hist_pending_cmp(const void *a, const void *b)
{
	const struct hist_pending *x = a, *y = b;
	return memcmp(x->key, y->key, HIST_KEY_LEN);
}

int hist_flush(struct exec *x)
{
	uint64_t sums[LEDGER_HIST_KINDS];
	uint8_t val[HIST_SUM_LEN];
	int err = IOLM_OK;
	/* In key order, so the B-tree is walked once, left to right, and grouped by account
	 * (the key's prefix): each account's totals are read and written once per block
	 * instead of once per entry (a transfer has three entries). */
	if (!x->n_hist)
		return IOLM_OK;
	qsort(x->hist, x->n_hist, sizeof *x->hist, hist_pending_cmp);
	for (size_t i = 0; i < x->n_hist;) {
		const uint8_t *account = x->hist[i].key;
		if ((err = sums_get(x->txn, x->l, account, sums)))
			goto out;
		for (; i < x->n_hist && !memcmp(x->hist[i].key, account, IOLM_ADDR_LEN); i++) {
			const struct hist_pending *p = &x->hist[i];
			MDB_val k = { HIST_KEY_LEN, (void *)p->key }, v = { p->len, (void *)p->val };
			if ((err = iolm_add_u64(&sums[p->kind], sums[p->kind], p->amount)) ||
			    (err = ledger_lmdb_err(mdb_put(x->txn, x->l->history, &k, &v, 0))))
				goto out;
		}
		for (size_t k = 0; k < LEDGER_HIST_KINDS; k++)
			put_be(val + 8 * k, sums[k], 8);
		MDB_val k = { IOLM_ADDR_LEN, (void *)account }, v = { sizeof val, val };
		if ((err = ledger_lmdb_err(mdb_put(x->txn, x->l->histsum, &k, &v, 0))))
			goto out;
	}
out:
	x->n_hist = 0;
	return err;
}

static void set_bytes(ProtobufCBinaryData *b, const uint8_t *p, size_t n)
{
	b->data = (uint8_t *)p;
	b->len = p ? n : 0;
}

int hist_add(struct exec *x, const uint8_t account[static IOLM_ADDR_LEN],
	     enum ledger_hist_kind kind, uint64_t amount, const struct hist_ref *ref)
{
	static const struct hist_ref none = { 0 };
	Iolm__HistoryEntry e = IOLM__HISTORY_ENTRY__INIT;

	assert(kind > 0 && kind < LEDGER_HIST_KINDS);
	if (amount == 0 || !x->l->keep_history)
		return IOLM_OK;
	if (!ref)
		ref = &none;
	e.kind = kind;
	e.amount = amount;
	set_bytes(&e.object_id, ref->object_id, 32);
	set_bytes(&e.task_id, ref->task_id, 32);
	set_bytes(&e.counterparty, ref->counterparty, IOLM_ADDR_LEN);
	size_t len = protobuf_c_message_get_packed_size(&e.base);
	if (len > HIST_ENTRY_MAX)
		return IOLM_ETOOBIG; /* cannot happen: every field is bounded */
	if (x->n_hist == x->cap_hist) {
		size_t cap = x->cap_hist ? 2 * x->cap_hist : 256;
		void *grown = realloc(x->hist, cap * sizeof *x->hist);
		if (!grown)
			return IOLM_ENOMEM;
		x->hist = grown;
		x->cap_hist = cap;
	}
	/* Kept until hist_flush; a block under construction drops the entries of a
	 * transaction it leaves out with its n_hist. */
	struct hist_pending *p = &x->hist[x->n_hist++];
	hist_key(p->key, account, x->height, x->hist_seq++);
	p->len = (uint8_t)len;
	p->kind = (uint8_t)kind;
	p->amount = amount;
	protobuf_c_message_pack(&e.base, p->val);
	return IOLM_OK;
}

static int tasklist_add(struct exec *x, const uint8_t task[static 32], uint32_t index)
{
	uint8_t key[12];
	put_be(key, x->height, 8);
	put_be(key + 8, index, 4);
	MDB_val k = { sizeof key, key }, v = { 32, (void *)task };
	return ledger_lmdb_err(mdb_put(x->txn, x->l->tasklist, &k, &v, MDB_NOOVERWRITE));
}

int hist_tx(struct exec *x, const ledger_tx *tx, uint32_t index)
{
	const Iolm__TxBody *b = tx->body;
	struct hist_ref ref = { .object_id = tx->id };
	int err = IOLM_OK;

	switch (b->kind_case) {
	case IOLM__TX_BODY__KIND_TRANSFER:
		ref.counterparty = b->transfer->to.data;
		if ((err = hist_add(x, tx->sender, LEDGER_HIST_TRANSFER_OUT, b->transfer->amount,
				    &ref)))
			return err;
		ref.counterparty = tx->sender;
		err = hist_add(x, b->transfer->to.data, LEDGER_HIST_TRANSFER_IN,
			       b->transfer->amount, &ref);
		ref.counterparty = NULL;
		break;
	case IOLM__TX_BODY__KIND_TASK_CREATE: {
		/* the task id is the tx id */
		struct hist_ref t = { .object_id = tx->id, .task_id = tx->id };
		if (!(err = hist_add(x, tx->sender, LEDGER_HIST_TASK_CREATED,
				     b->task_create->reward_pool, &t)))
			err = tasklist_add(x, tx->id, index);
		break;
	}
	case IOLM__TX_BODY__KIND_WORK_COMMIT: {
		struct hist_ref w = { .object_id = tx->id, .task_id = b->work_commit->task_id.data };
		err = hist_add(x, tx->sender, LEDGER_HIST_WORK_COMMITTED, b->work_commit->bond, &w);
		break;
	}
	case IOLM__TX_BODY__KIND_MODEL_PAY: {
		const uint8_t *task = b->model_pay->task_id.data;
		struct hist_ref m = { .object_id = task, .task_id = task };
		err = hist_add(x, tx->sender, LEDGER_HIST_MODEL_PAID, b->model_pay->amount, &m);
		break;
	}
	default:
		break; /* attest: only its fee moves money */
	}
	if (err)
		return err;
	return hist_add(x, tx->sender, LEDGER_HIST_FEE, tx->fee, &ref);
}

/* ---------------------------------------------------------------- reading */

static int entry_decode(ledger_hist_entry *out, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *key = k->mv_data;
	Iolm__HistoryEntry *e;
	int err = IOLM_ECORRUPT;

	memset(out, 0, sizeof *out);
	out->height = get_be(key + IOLM_ADDR_LEN, 8);
	out->seq = (uint32_t)get_be(key + IOLM_ADDR_LEN + 8, 4);
	if (iolm_codec_decode((ProtobufCMessage **)&e, &iolm__history_entry__descriptor,
			      v->mv_data, v->mv_size, HIST_MAX_ENTRY))
		return err;
	if (e->kind == 0 || e->kind >= LEDGER_HIST_KINDS ||
	    (e->object_id.len && e->object_id.len != 32) ||
	    (e->task_id.len && e->task_id.len != 32) ||
	    (e->counterparty.len && e->counterparty.len != IOLM_ADDR_LEN))
		goto out;
	out->kind = e->kind;
	out->amount = e->amount;
	if (e->object_id.len) {
		out->has |= LEDGER_HIST_HAS_OBJECT;
		memcpy(out->object_id, e->object_id.data, 32);
	}
	if (e->task_id.len) {
		out->has |= LEDGER_HIST_HAS_TASK;
		memcpy(out->task_id, e->task_id.data, 32);
	}
	if (e->counterparty.len) {
		out->has |= LEDGER_HIST_HAS_COUNTERPARTY;
		memcpy(out->counterparty, e->counterparty.data, IOLM_ADDR_LEN);
	}
	err = IOLM_OK;
out:
	iolm_codec_free(&e->base);
	return err;
}

/* Whether k is one of the account's history keys. */
static int is_account_key(const MDB_val *k, const uint8_t account[static IOLM_ADDR_LEN])
{
	return k->mv_size == HIST_KEY_LEN && memcmp(k->mv_data, account, IOLM_ADDR_LEN) == 0;
}

/* The account's newest key before the bound into k (MDB_NOTFOUND: none). */
static int seek_before(MDB_cursor *c, MDB_val *k, MDB_val *v, const uint8_t *bound)
{
	k->mv_size = HIST_KEY_LEN;
	k->mv_data = (void *)bound;
	int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	return rc ? rc : mdb_cursor_get(c, k, v, MDB_PREV);
}

/* A read transaction with a cursor on one index, and the head height it sees. */
struct index_read {
	MDB_txn *txn;
	MDB_cursor *c;
	uint64_t height;
};

static void read_end(struct index_read *r)
{
	if (r->c)
		mdb_cursor_close(r->c);
	mdb_txn_abort(r->txn);
}

static int read_begin(struct index_read *r, ledger *l, MDB_dbi dbi)
{
	Iolm__ChainHead *head;
	int err;
	memset(r, 0, sizeof *r);
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &r->txn))))
		return err;
	if (!(err = meta_get_head(l, r->txn, &head))) {
		r->height = head->height;
		iolm_codec_free(&head->base);
		err = ledger_lmdb_err(mdb_cursor_open(r->txn, dbi, &r->c));
	}
	if (err)
		read_end(r);
	return err;
}

/* Where the next page starts, once this one stopped with entries of the account left:
 * at the end of a block where possible (see ledger.h). first_h: the height of the first
 * entry examined; (h, s): the last one examined; next: the height of the next older. */
static void page_end(ledger_hist_page *p, const ledger_hist_entry *out, uint64_t first_h,
		     uint64_t h, uint32_t s, uint64_t next)
{
	p->more = 1;
	if (next < h) {
		p->next_height = h; /* the page ended with block h */
		return;
	}
	if (first_h > h && (p->n == 0 || out[0].height > h)) {
		/* it holds newer blocks whole: leave all of block h to the next page */
		while (p->n && out[p->n - 1].height == h)
			p->n--;
		p->next_height = h + 1;
		return;
	}
	p->next_height = h; /* one block with more entries than the page takes */
	p->next_seq = s;
}

int ledger_history(ledger *l, ledger_hist_entry *out, ledger_hist_page *page,
		   const uint8_t account[static IOLM_ADDR_LEN], const ledger_hist_query *q)
{
	struct index_read r;
	MDB_val k, v;
	uint8_t bound[HIST_KEY_LEN];
	uint64_t first_h = 0, h = 0;
	uint32_t s = 0;
	size_t examined = 0;
	int rc, err;

	memset(page, 0, sizeof *page);
	if (q->limit == 0 || q->kind >= LEDGER_HIST_KINDS)
		return IOLM_EINVAL;
	if (!l->keep_history)
		return IOLM_ELEDGER_NOHISTORY;
	if ((err = read_begin(&r, l, l->history)))
		return err;
	page->height = r.height;
	if ((err = sums_get(r.txn, l, account, page->totals)))
		goto out;
	hist_key(bound, account, q->before_height, q->before_seq);
	for (rc = seek_before(r.c, &k, &v, bound); rc == 0 && is_account_key(&k, account);
	     rc = mdb_cursor_get(r.c, &k, &v, MDB_PREV)) {
		const uint8_t *key = k.mv_data;
		uint64_t kh = get_be(key + IOLM_ADDR_LEN, 8);
		if (page->n == q->limit || examined == LEDGER_HIST_SCAN_MAX) {
			page_end(page, out, first_h, h, s, kh);
			break;
		}
		if (examined++ == 0)
			first_h = kh;
		h = kh;
		s = (uint32_t)get_be(key + IOLM_ADDR_LEN + 8, 4);
		ledger_hist_entry *e = &out[page->n];
		if ((err = entry_decode(e, &k, &v)))
			goto out;
		if (q->kind == 0 || e->kind == q->kind)
			page->n++;
	}
	err = rc == MDB_NOTFOUND ? IOLM_OK : ledger_lmdb_err(rc);
out:
	read_end(&r);
	if (err)
		memset(page, 0, sizeof *page);
	return err;
}

int ledger_list_tasks(ledger *l, uint8_t (*ids)[32], size_t *n, uint64_t *total,
		      uint64_t *height, uint64_t offset, size_t limit)
{
	struct index_read r;
	MDB_stat st;
	MDB_val k, v;
	int rc, err;

	*n = 0;
	*total = *height = 0;
	if ((err = read_begin(&r, l, l->tasklist)))
		return err;
	*height = r.height;
	if ((err = ledger_lmdb_err(mdb_stat(r.txn, l->tasklist, &st))))
		goto out;
	*total = st.ms_entries;
	if (offset >= *total)
		goto out;
	/* O(offset): a cursor step per task skipped */
	rc = mdb_cursor_get(r.c, &k, &v, MDB_LAST);
	for (uint64_t i = 0; rc == 0 && i < offset; i++)
		rc = mdb_cursor_get(r.c, &k, &v, MDB_PREV);
	for (; rc == 0 && *n < limit; rc = mdb_cursor_get(r.c, &k, &v, MDB_PREV)) {
		if (v.mv_size != 32) {
			err = IOLM_ECORRUPT;
			goto out;
		}
		memcpy(ids[(*n)++], v.mv_data, 32);
	}
	err = rc == MDB_NOTFOUND ? IOLM_OK : ledger_lmdb_err(rc);
out:
	read_end(&r);
	if (err)
		*n = 0;
	return err;
}
