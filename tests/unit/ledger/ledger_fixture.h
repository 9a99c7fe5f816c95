/* A ledger in a temporary directory with funded accounts and real validator keys, for
 * the ledger tests. Everything here uses the public API only. */
#ifndef IOLM_TEST_LEDGER_FIXTURE_H
#define IOLM_TEST_LEDGER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/ledger.h"

#define FX_ACCOUNTS 8
#define FX_VALIDATORS 4
#define FX_CHAIN "iolm-test"
#define FX_BALANCE 1000000000ull
#define FX_MIN_FEE 10

struct fx {
	char dir[64];
	iolm_key acct[FX_ACCOUNTS];
	uint8_t id[FX_ACCOUNTS][IOLM_ADDR_LEN];
	iolm_key val[FX_VALIDATORS];
	char *genesis_json;
	ledger_genesis *g;
	ledger *l;
	uint64_t time_ms;
	iolm_buf last_cert; /* certificate of the head block */
};

/* Deterministic keys: tests that compare two ledgers build both from one fixture's JSON. */
static inline void fx_key(iolm_key *k, int kind, int i)
{
	uint8_t sec[32];
	uint32_t v = (uint32_t)(kind * 1000 + i + 1);
	iolm_hash(sec, IOLM_TAG_GENESIS, &v, sizeof v);
	assert_int_equal(iolm_key_from_secret(k, sec), IOLM_OK);
}

static inline char *fx_genesis_json(struct fx *f, const char *extra_params)
{
	iolm_buf b;
	iolm_buf_init(&b, 1 << 20);
	assert_int_equal(iolm_buf_printf(&b, "{\"chain_id\": \"%s\", \"genesis_time_ms\": 1000, "
					     "\"params\": {\"min_fee\": %d, \"min_task_pool\": 1000%s},"
					     " \"allocations\": [",
					 FX_CHAIN, FX_MIN_FEE, extra_params ? extra_params : ""),
			 IOLM_OK);
	for (int i = 0; i < FX_ACCOUNTS; i++) {
		char a[IOLM_ADDR_STRLEN + 1];
		iolm_addr_encode(a, f->id[i]);
		assert_int_equal(iolm_buf_printf(&b, "%s{\"address\": \"%s\", \"amount\": %llu}",
						 i ? ", " : "", a, (unsigned long long)FX_BALANCE),
				 IOLM_OK);
	}
	assert_int_equal(iolm_buf_append_str(&b, "], \"validators\": ["), IOLM_OK);
	for (int i = 0; i < FX_VALIDATORS; i++) {
		char h[65];
		iolm_hex_encode(h, sizeof h, iolm_key_pub(&f->val[i]), 32);
		assert_int_equal(iolm_buf_printf(&b, "%s{\"pubkey\": \"%s\", \"power\": %d, "
						     "\"name\": \"v%d\"}",
						 i ? ", " : "", h, 10 + i, i),
				 IOLM_OK);
	}
	assert_int_equal(iolm_buf_append(&b, "]}", 3), IOLM_OK); /* with the NUL */
	size_t n;
	return (char *)iolm_buf_detach(&b, &n);
}

/* End-of-block rules for the ledgers the fixture opens (NULL: none). */
static const struct ledger_rules *fx_rules;

static inline void fx_open_dir(struct fx *f, ledger **l, const char *dir)
{
	ledger_options opt = { .map_size = 1u << 30, .no_sync = 1, .rules = fx_rules };
	assert_int_equal(ledger_open(l, dir, f->g, &opt), IOLM_OK);
}

static inline void fx_init(struct fx *f, const char *extra_params)
{
	char err[256];
	memset(f, 0, sizeof *f);
	for (int i = 0; i < FX_ACCOUNTS; i++) {
		fx_key(&f->acct[i], 1, i);
		iolm_addr_from_pub(f->id[i], iolm_key_pub(&f->acct[i]));
	}
	for (int i = 0; i < FX_VALIDATORS; i++)
		fx_key(&f->val[i], 2, i);
	f->genesis_json = fx_genesis_json(f, extra_params);
	int rc = ledger_genesis_parse(&f->g, f->genesis_json, strlen(f->genesis_json), err,
				      sizeof err);
	if (rc)
		fail_msg("genesis: %s", err);
	snprintf(f->dir, sizeof f->dir, "/tmp/iolm-test-ledger-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fx_open_dir(f, &f->l, f->dir);
	f->time_ms = 1000;
	iolm_buf_init(&f->last_cert, IOLM_MAX_FRAME_BYTES);
}

static inline void fx_rmdir(const char *dir)
{
	char path[256];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static inline void fx_free(struct fx *f)
{
	ledger_close(f->l);
	ledger_genesis_destroy(f->g);
	free(f->genesis_json);
	iolm_buf_release(&f->last_cert, 0);
	fx_rmdir(f->dir);
}

/* A signed transfer from account i. */
static inline void fx_transfer(struct fx *f, iolm_buf *out, int from, const uint8_t *to,
			       uint64_t amount, uint64_t fee, uint64_t nonce)
{
	Iolm__TxBody body = IOLM__TX_BODY__INIT;
	Iolm__Transfer t = IOLM__TRANSFER__INIT;
	t.to.data = (uint8_t *)to;
	t.to.len = IOLM_ADDR_LEN;
	t.amount = amount;
	body.nonce = nonce;
	body.fee = fee;
	body.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	body.transfer = &t;
	assert_int_equal(ledger_tx_sign(out, &body, &f->acct[from], FX_CHAIN), IOLM_OK);
}

/* A signed model_pay of amount for task from account i, with the minimum fee. */
static inline void fx_model_pay(struct fx *f, iolm_buf *out, int from, const uint8_t *task,
				uint64_t amount, uint64_t nonce)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__ModelPay p = IOLM__MODEL_PAY__INIT;
	p.task_id.data = (uint8_t *)task;
	p.task_id.len = 32;
	p.amount = amount;
	b.nonce = nonce;
	b.fee = FX_MIN_FEE;
	b.kind_case = IOLM__TX_BODY__KIND_MODEL_PAY;
	b.model_pay = &p;
	assert_int_equal(ledger_tx_sign(out, &b, &f->acct[from], FX_CHAIN), IOLM_OK);
}

/* A commit certificate for an encoded block: real precommit signatures of all four
 * validators over the canonical VoteBody, as consensus produces them. */
static inline void fx_cert(struct fx *f, iolm_buf *out, const uint8_t *block, size_t len)
{
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	uint8_t id[32], sigs[FX_VALIDATORS][64];
	Iolm__CommitSig cs[FX_VALIDATORS], *csp[FX_VALIDATORS];
	assert_int_equal(iolm_decode_block(&b, block, len, IOLM_MAX_BLOCK_BYTES), IOLM_OK);
	assert_int_equal(iolm_decode_block_header(&h, b->header.data, b->header.len, 4096), IOLM_OK);
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	for (int i = 0; i < FX_VALIDATORS; i++) {
		Iolm__VoteBody vb = IOLM__VOTE_BODY__INIT;
		iolm_buf vbuf;
		uint8_t digest[32];
		vb.chain_id = FX_CHAIN;
		vb.type = IOLM__VOTE_TYPE__VOTE_PRECOMMIT;
		vb.height = h->height;
		vb.block_id.data = id;
		vb.block_id.len = 32;
		vb.validator = (uint32_t)i;
		iolm_buf_init(&vbuf, 1024);
		assert_int_equal(iolm_codec_encode(&vbuf, &vb.base), IOLM_OK);
		iolm_hash(digest, IOLM_TAG_VOTE, vbuf.data, vbuf.len);
		assert_int_equal(iolm_sign(&f->val[i], sigs[i], digest), IOLM_OK);
		iolm_buf_release(&vbuf, 0);
		iolm__commit_sig__init(&cs[i]);
		cs[i].validator = (uint32_t)i;
		cs[i].signature.data = sigs[i];
		cs[i].signature.len = 64;
		csp[i] = &cs[i];
	}
	Iolm__CommitCert c = IOLM__COMMIT_CERT__INIT;
	c.height = h->height;
	c.block_id.data = id;
	c.block_id.len = 32;
	c.n_sigs = FX_VALIDATORS;
	c.sigs = csp;
	assert_int_equal(iolm_codec_encode(out, &c.base), IOLM_OK);
	iolm_codec_free(&h->base);
	iolm_codec_free(&b->base);
}

/* Build a block from candidates as validator 0 and return it in out. */
static inline void fx_build(struct fx *f, iolm_buf *out, iolm_buf *cands, size_t n,
			    ledger_reject_fn reject, void *rctx)
{
	const uint8_t *ptrs[64];
	size_t lens[64];
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		ptrs[i] = cands[i].data;
		lens[i] = cands[i].len;
	}
	f->time_ms += 1000;
	assert_int_equal(ledger_block_build(f->l, out, ptrs, lens, n, f->time_ms,
					    iolm_key_pub(&f->val[0]),
					    f->last_cert.len ? f->last_cert.data : NULL,
					    f->last_cert.len, NULL, reject, rctx),
			 IOLM_OK);
}

/* Commit a block with a fresh certificate, remembering it for the next block. */
static inline void fx_commit(struct fx *f, ledger *l, const iolm_buf *block)
{
	iolm_buf cert;
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	fx_cert(f, &cert, block->data, block->len);
	int rc = ledger_block_commit(l, block->data, block->len, cert.data, cert.len, NULL, NULL);
	if (rc)
		fail_msg("commit: %s", iolm_strerror(rc));
	if (l == f->l) {
		iolm_buf_reset(&f->last_cert);
		assert_int_equal(iolm_buf_append(&f->last_cert, cert.data, cert.len), IOLM_OK);
	}
	iolm_buf_release(&cert, 0);
}

/* Every history entry of account acct below height `before` (UINT64_MAX: all), newest
 * first, of kind `kind` (0: every kind), read in pages of `limit` and checked on the way:
 * each page continues where the last ended, and splits a block only when it could hold
 * nothing else. The account's totals to totals (may be NULL). Returns a malloc'd array
 * the caller frees, its count in *n. */
static inline ledger_hist_entry *fx_history(ledger *l, size_t *n,
					    uint64_t totals[LEDGER_HIST_KINDS],
					    const uint8_t *acct, uint64_t before, size_t limit,
					    uint32_t kind)
{
	ledger_hist_query q = { .before_height = before, .kind = kind, .limit = limit };
	ledger_hist_entry *page = calloc(limit, sizeof *page), *all;
	ledger_hist_page p;
	size_t cap = 64;
	all = malloc(cap * sizeof *all);
	assert_non_null(page);
	assert_non_null(all);
	*n = 0;
	for (;;) {
		assert_int_equal(ledger_history(l, page, &p, acct, &q), IOLM_OK);
		assert_true(p.n <= limit);
		if (totals)
			memcpy(totals, p.totals, sizeof p.totals);
		for (size_t i = 0; i < p.n; i++) {
			assert_true(kind == 0 || page[i].kind == kind);
			if (*n == cap) {
				cap *= 2;
				all = realloc(all, cap * sizeof *all);
				assert_non_null(all);
			}
			all[(*n)++] = page[i];
		}
		if (!p.more)
			break;
		if (p.next_seq)
			assert_true(p.n == 0 || page[0].height == p.next_height);
		/* progress: the next position is older than this one */
		assert_true(p.next_height < q.before_height ||
			    (p.next_height == q.before_height && p.next_seq < q.before_seq));
		q.before_height = p.next_height;
		q.before_seq = p.next_seq;
	}
	free(page);
	return all;
}

static inline void fx_bufs_init(iolm_buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iolm_buf_init(&b[i], IOLM_MAX_BLOCK_BYTES);
}

static inline void fx_bufs_release(iolm_buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iolm_buf_release(&b[i], 0);
}

/* A task_create body with the model shape and optimiser the ledger tests share: n_embd
 * and seq_len both `width`, two heads, byte vocabulary, AdamW at 1e-3. Callers set the
 * economics on t->tc and the nonce on t->b. The nested messages live in `t`, so it must
 * outlive the signing. */
struct fx_task {
	Iolm__TxBody b;
	Iolm__ModelConfig mc;
	Iolm__OptimConfig oc;
	Iolm__TaskCreate tc;
};

static inline void fx_task_init(struct fx_task *t, uint32_t n_layer, uint32_t width,
				uint32_t batch, uint64_t total_steps, const uint8_t *art,
				size_t art_len)
{
	iolm__tx_body__init(&t->b);
	iolm__model_config__init(&t->mc);
	iolm__optim_config__init(&t->oc);
	iolm__task_create__init(&t->tc);
	t->mc.n_layer = n_layer;
	t->mc.n_embd = width;
	t->mc.n_head = 2;
	t->mc.seq_len = width;
	t->mc.vocab = 256;
	t->oc.lr = 1e-3f;
	t->oc.beta1 = 0.9f;
	t->oc.beta2 = 0.99f;
	t->oc.eps = 1e-8f;
	t->oc.total_steps = total_steps;
	t->tc.model = &t->mc;
	t->tc.optim = &t->oc;
	t->tc.batch_size = batch;
	t->tc.dataset_id.data = (uint8_t *)art;
	t->tc.dataset_id.len = art_len;
	t->tc.eval_id.data = (uint8_t *)art;
	t->tc.eval_id.len = art_len;
	t->tc.samples = 2;
	t->b.fee = FX_MIN_FEE;
	t->b.kind_case = IOLM__TX_BODY__KIND_TASK_CREATE;
	t->b.task_create = &t->tc;
}

/* A work_commit body on `task`, after `parent` (NULL for the first segment of a lineage),
 * with a fixed proof root (0x3c...) and final state (0x4d...). Callers set the nonce, and
 * any other field, on t->b and t->w; `t` must outlive the signing. */
struct fx_work {
	Iolm__TxBody b;
	Iolm__WorkCommit w;
	uint8_t root[32], fin[32];
};

static inline void fx_work_init(struct fx_work *t, const uint8_t *task, const uint8_t *parent,
				uint64_t start, uint64_t steps, uint64_t loss, uint64_t bond,
				const uint8_t *ckpt, size_t ckpt_len)
{
	iolm__tx_body__init(&t->b);
	iolm__work_commit__init(&t->w);
	memset(t->root, 0x3c, sizeof t->root);
	memset(t->fin, 0x4d, sizeof t->fin);
	t->w.task_id.data = (uint8_t *)task;
	t->w.task_id.len = 32;
	if (parent) {
		t->w.parent_work.data = (uint8_t *)parent;
		t->w.parent_work.len = 32;
	}
	t->w.start_step = start;
	t->w.steps = steps;
	t->w.proof_root.data = t->root;
	t->w.proof_root.len = sizeof t->root;
	t->w.final_state.data = t->fin;
	t->w.final_state.len = sizeof t->fin;
	t->w.checkpoint_id.data = (uint8_t *)ckpt;
	t->w.checkpoint_id.len = ckpt_len;
	t->w.eval_loss = loss;
	t->w.bond = bond;
	t->b.fee = FX_MIN_FEE;
	t->b.kind_case = IOLM__TX_BODY__KIND_WORK_COMMIT;
	t->b.work_commit = &t->w;
}

#endif
