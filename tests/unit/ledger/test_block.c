/* Many blocks: two ledgers built independently agree on every state root; the supply
 * invariant and the stored tree hold after every block; the task and work rules. */
#include "../test_util.h"

#include "ledger_fixture.h"
#include "ledger/internal.h" /* struct ledger_prep: whether an execution is kept */

static uint8_t art[LEDGER_ARTIFACT_ID_LEN] = { 0x1e, 0x20, 7, 7, 7 };

static void task_tx(struct fx *f, iolm_buf *out, int from, uint64_t nonce, uint64_t pool,
		    uint32_t segment, uint64_t bond_min, uint64_t deadline)
{
	struct fx_task t;
	fx_task_init(&t, 2, 32, 4, 100, art, sizeof art);
	t.tc.segment_len = segment;
	t.tc.reward_pool = pool;
	t.tc.breakthrough_bps = 100;
	t.tc.margin_decay_blocks = 10;
	t.tc.bond_min = bond_min;
	t.tc.deadline_height = deadline;
	t.b.nonce = nonce;
	assert_int_equal(ledger_tx_sign(out, &t.b, &f->acct[from], FX_CHAIN), IOLM_OK);
}

static void work_tx(struct fx *f, iolm_buf *out, int from, uint64_t nonce, const uint8_t *task,
		    const uint8_t *parent, uint64_t start, uint64_t steps, uint64_t bond)
{
	struct fx_work t;
	fx_work_init(&t, task, parent, start, steps, 4000000, bond, art, sizeof art);
	t.b.nonce = nonce;
	assert_int_equal(ledger_tx_sign(out, &t.b, &f->acct[from], FX_CHAIN), IOLM_OK);
}

struct rejects {
	int n;
	int err[64];
};

static void on_reject(void *ctx, const uint8_t id[static 32], int err)
{
	struct rejects *r = ctx;
	r->err[r->n++] = err;
}

static void id_of(uint8_t id[32], const iolm_buf *b)
{
	iolm_hash(id, IOLM_TAG_TX, b->data, b->len);
}

static void two_ledgers_agree_at_every_height(void **state)
{
	struct fx f;
	ledger *twin;
	char twin_dir[] = "/tmp/iolm-test-twin-XXXXXX";
	uint64_t nonce[FX_ACCOUNTS] = { 0 };
	uint64_t rng = 0x1234567;
	iolm_buf c[40], blk;
	uint8_t task[32] = { 0 }, last_work[32];
	int have_task = 0, have_work = 0;
	uint64_t work_end = 0;

	fx_init(&f, NULL);
	assert_non_null(mkdtemp(twin_dir));
	fx_open_dir(&f, &twin, twin_dir);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	for (int height = 1; height <= 30; height++) {
		size_t n = 0;
		fx_bufs_init(c, 40);
		for (int k = 0; k < 30; k++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			int from = (int)((rng >> 33) % FX_ACCOUNTS), to = (int)((rng >> 40) % FX_ACCOUNTS);
			fx_transfer(&f, &c[n++], from, f.id[to], 1 + (rng >> 50) % 1000,
				    FX_MIN_FEE + (rng >> 60), nonce[from]++);
		}
		if (!have_task) {
			task_tx(&f, &c[n], 0, nonce[0]++, 50000, 5, 100, 0);
			id_of(task, &c[n++]);
			have_task = 1;
		} else {
			/* a chain of works, each continuing the last, and some revenue */
			work_tx(&f, &c[n], 1, nonce[1]++, task, have_work ? last_work : NULL, work_end,
				10, 200);
			id_of(last_work, &c[n++]);
			have_work = 1;
			work_end += 10;
			fx_model_pay(&f, &c[n++], 2, task, 77, nonce[2]++);
		}
		iolm_buf_reset(&blk);
		struct rejects r = { 0 };
		fx_build(&f, &blk, c, n, on_reject, &r);
		if (r.n)
			fail_msg("height %d: a candidate was left out: %s", height, iolm_errname(r.err[0]));
		fx_commit(&f, f.l, &blk);
		fx_commit(&f, twin, &blk);
		ledger_head a, b;
		assert_int_equal(ledger_get_head(f.l, &a), IOLM_OK);
		assert_int_equal(ledger_get_head(twin, &b), IOLM_OK);
		assert_int_equal(a.height, (uint64_t)height);
		assert_memory_equal(a.state_root, b.state_root, 32);
		assert_memory_equal(a.block_id, b.block_id, 32);
		assert_int_equal(ledger_verify_state(f.l), IOLM_OK);
		assert_int_equal(ledger_verify_state(twin), IOLM_OK);
		fx_bufs_release(c, 40);
	}
	/* the escrow holds the pool, 29 bonds and 29 payments */
	uint64_t gs, minted, burned, esc;
	assert_int_equal(ledger_get_supply(f.l, &gs, &minted, &burned, &esc), IOLM_OK);
	assert_int_equal(esc, 50000 + 29 * 200 + 29 * 77);
	iolm_buf out;
	iolm_buf_init(&out, 1 << 20);
	assert_int_equal(ledger_get_task(f.l, task, &out), IOLM_OK);
	Iolm__TaskState *t;
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&t, &iolm__task_state__descriptor,
					   out.data, out.len, 1 << 20),
			 IOLM_OK);
	assert_int_equal(t->n_works, 29);
	assert_int_equal(t->revenue, 29 * 77);
	assert_int_equal(t->pool, 50000);
	assert_int_equal(t->status, IOLM__TASK_STATUS__TASK_OPEN);
	iolm_codec_free(&t->base);
	iolm_buf_reset(&out);
	assert_int_equal(ledger_get_work(f.l, last_work, &out), IOLM_OK);
	Iolm__WorkState *w;
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&w, &iolm__work_state__descriptor,
					   out.data, out.len, 1 << 20),
			 IOLM_OK);
	assert_int_equal(w->status, IOLM__WORK_STATUS__WORK_PENDING);
	assert_int_equal(w->end_step, 290);
	assert_memory_equal(w->miner.data, f.id[1], IOLM_ADDR_LEN);
	iolm_codec_free(&w->base);
	iolm_buf_release(&out, 0);

	ledger_close(twin);
	fx_rmdir(twin_dir);
	iolm_buf_release(&blk, 0);
	fx_free(&f);
}

/* A ledger opened without account history runs the same chain to the same state and
 * answers history queries IOLM_ELEDGER_NOHISTORY; a ledger that kept history may switch
 * it off (and keeps its chain), but one that ran without it cannot switch it back on. */
static void history_can_be_switched_off_not_back_on(void **state)
{
	(void)state;
	struct fx f;
	ledger *off;
	char off_dir[] = "/tmp/iolm-test-nohist-XXXXXX";
	ledger_options no = { .map_size = 1u << 30, .no_sync = 1, .rules = fx_rules,
			      .no_history = 1 };
	ledger_options yes = no;
	iolm_buf c[4], blk;
	ledger_hist_entry e[8];
	ledger_hist_page p;
	ledger_hist_query q = { .before_height = UINT64_MAX, .limit = 8 };
	ledger_head a, b;

	yes.no_history = 0;
	fx_init(&f, NULL);
	assert_non_null(mkdtemp(off_dir));
	assert_int_equal(ledger_open(&off, off_dir, f.g, &no), IOLM_OK);
	assert_true(ledger_has_history(f.l));
	assert_false(ledger_has_history(off));
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	for (uint64_t h = 1; h <= 3; h++) {
		struct rejects r = { 0 };
		fx_bufs_init(c, 4);
		for (int i = 0; i < 4; i++)
			fx_transfer(&f, &c[i], i, f.id[i + 4], 100 + (uint64_t)i, FX_MIN_FEE, h - 1);
		iolm_buf_reset(&blk);
		fx_build(&f, &blk, c, 4, on_reject, &r);
		assert_int_equal(r.n, 0);
		fx_commit(&f, f.l, &blk);
		fx_commit(&f, off, &blk);
		assert_int_equal(ledger_get_head(f.l, &a), IOLM_OK);
		assert_int_equal(ledger_get_head(off, &b), IOLM_OK);
		assert_int_equal(b.height, h);
		assert_memory_equal(a.state_root, b.state_root, 32);
		assert_memory_equal(a.block_id, b.block_id, 32);
		fx_bufs_release(c, 4);
	}
	assert_int_equal(ledger_history(f.l, e, &p, f.id[0], &q), IOLM_OK);
	assert_int_equal(p.n, 7); /* genesis, then a transfer and its fee in each block */
	assert_int_equal(ledger_history(off, e, &p, f.id[0], &q), IOLM_ELEDGER_NOHISTORY);

	/* Off, then on: refused; off again: opens. */
	ledger_close(off);
	assert_int_equal(ledger_open(&off, off_dir, f.g, &yes), IOLM_ELEDGER_HISTORY_GAP);
	assert_null(off);
	assert_int_equal(ledger_open(&off, off_dir, f.g, &no), IOLM_OK);
	assert_int_equal(ledger_verify_state(off), IOLM_OK);
	ledger_close(off);
	fx_rmdir(off_dir);

	/* On, then off: the history goes, the chain stays, and it cannot come back. */
	ledger_close(f.l);
	assert_int_equal(ledger_open(&f.l, f.dir, f.g, &no), IOLM_OK);
	assert_int_equal(ledger_history(f.l, e, &p, f.id[0], &q), IOLM_ELEDGER_NOHISTORY);
	assert_int_equal(ledger_get_head(f.l, &b), IOLM_OK);
	assert_memory_equal(a.state_root, b.state_root, 32);
	assert_int_equal(ledger_verify_state(f.l), IOLM_OK);
	ledger_close(f.l);
	assert_int_equal(ledger_open(&f.l, f.dir, f.g, &yes), IOLM_ELEDGER_HISTORY_GAP);
	assert_int_equal(ledger_open(&f.l, f.dir, f.g, &no), IOLM_OK);
	iolm_buf_release(&blk, 0);
	fx_free(&f);
}

static void task_and_work_rules(void **state)
{
	struct fx f;
	iolm_buf c[12], blk;
	uint8_t task[32], late_task[32], work[32], other_task_work[32], missing[32];
	struct rejects r = { 0 };
	memset(missing, 0xee, sizeof missing);

	fx_init(&f, ", \"max_block_txs\": 100");
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	/* height 1: two tasks (one with a deadline at height 1) and a too-small pool */
	fx_bufs_init(c, 12);
	task_tx(&f, &c[0], 0, 0, 5000, 5, 100, 0);
	id_of(task, &c[0]);
	task_tx(&f, &c[1], 1, 0, 5000, 5, 100, 1);
	id_of(late_task, &c[1]);
	task_tx(&f, &c[2], 2, 0, 999, 5, 100, 0); /* genesis min_task_pool is 1000 */
	fx_build(&f, &blk, c, 3, on_reject, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.err[0], IOLM_ELEDGER_POOL);
	fx_commit(&f, f.l, &blk);
	fx_bufs_release(c, 12);

	/* height 2: works */
	fx_bufs_init(c, 12);
	iolm_buf_reset(&blk);
	r.n = 0;
	work_tx(&f, &c[0], 3, 0, task, NULL, 0, 10, 100);       /* ok */
	id_of(work, &c[0]);
	work_tx(&f, &c[1], 4, 0, missing, NULL, 0, 10, 100);    /* no task */
	work_tx(&f, &c[2], 5, 0, task, NULL, 0, 7, 100);        /* not whole segments */
	work_tx(&f, &c[3], 6, 0, task, NULL, 5, 10, 100);       /* must start at 0 */
	work_tx(&f, &c[4], 7, 0, task, NULL, 0, 10, 99);        /* bond below minimum */
	work_tx(&f, &c[5], 2, 0, late_task, NULL, 0, 10, 100);  /* past the deadline */
	fx_model_pay(&f, &c[6], 0, missing, 5, 1);                /* no task to pay */
	fx_build(&f, &blk, c, 7, on_reject, &r);
	static const int want[] = { IOLM_ELEDGER_NOTASK, IOLM_ELEDGER_STEPS, IOLM_ELEDGER_STEPS,
				    IOLM_ELEDGER_BOND, IOLM_ELEDGER_TASKCLOSED, IOLM_ELEDGER_NOTASK };
	assert_int_equal(r.n, 6);
	for (int i = 0; i < 6; i++)
		if (r.err[i] != want[i])
			fail_msg("reject %d: got %s want %s", i, iolm_errname(r.err[i]),
				 iolm_errname(want[i]));
	fx_commit(&f, f.l, &blk);
	fx_bufs_release(c, 12);

	/* height 3: a work on the late task cannot exist; parents must match */
	fx_bufs_init(c, 12);
	iolm_buf_reset(&blk);
	r.n = 0;
	work_tx(&f, &c[0], 4, 0, task, work, 0, 10, 100);       /* parent ends at 10 */
	work_tx(&f, &c[1], 5, 0, task, missing, 0, 10, 100);    /* no such parent */
	work_tx(&f, &c[2], 6, 0, task, work, 10, 5, 100);       /* ok: continues */
	fx_build(&f, &blk, c, 3, on_reject, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.err[0], IOLM_ELEDGER_STEPS);
	assert_int_equal(r.err[1], IOLM_ELEDGER_NOPARENT);
	fx_commit(&f, f.l, &blk);
	fx_bufs_release(c, 12);
	(void)other_task_work;
	assert_int_equal(ledger_verify_state(f.l), IOLM_OK);
	iolm_buf_release(&blk, 0);
	fx_free(&f);
}

/* The subsidy is minted until max_supply and tapers to exactly zero there. */
static void subsidy_stops_at_max_supply(void **state)
{
	struct fx f;
	iolm_buf blk;
	uint64_t gs, minted, burned, esc;
	/* genesis supply is 8 * 10^9; room for two and a half subsidies */
	fx_init(&f, ", \"block_subsidy\": 1000, \"max_supply\": 8000002500");
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	for (int h = 1; h <= 4; h++) {
		iolm_buf_reset(&blk);
		fx_build(&f, &blk, NULL, 0, NULL, NULL);
		fx_commit(&f, f.l, &blk);
		assert_int_equal(ledger_get_supply(f.l, &gs, &minted, &burned, &esc), IOLM_OK);
		assert_int_equal(minted, h == 1 ? 1000 : h == 2 ? 2000 : 2500);
		assert_int_equal(ledger_verify_state(f.l), IOLM_OK);
	}
	iolm_buf_release(&blk, 0);
	fx_free(&f);
}

/* Blocks committed n at a time (a node catching up) give the very state of committing
 * them one by one; a refused block in a batch leaves the ones before it committed and
 * nothing of itself. */
static void batch_commit_equals_one_by_one(void **state)
{
	struct fx f;
	ledger *twin;
	char twin_dir[] = "/tmp/iolm-test-batch-XXXXXX";
	uint64_t nonce[FX_ACCOUNTS] = { 0 };
	iolm_buf blocks[8], certs[8], c[4];
	ledger_block_in in[8];
	uint8_t ids[8][32];
	size_t done;
	ledger_head a, b;

	(void)state;
	fx_init(&f, NULL);
	assert_non_null(mkdtemp(twin_dir));
	fx_open_dir(&f, &twin, twin_dir);
	for (int i = 0; i < 8; i++) {
		fx_bufs_init(c, 4);
		for (int k = 0; k < 4; k++)
			fx_transfer(&f, &c[k], k, f.id[(k + i + 1) % FX_ACCOUNTS], 100 + (uint64_t)i,
				    FX_MIN_FEE, nonce[k]++);
		iolm_buf_init(&blocks[i], IOLM_MAX_BLOCK_BYTES);
		iolm_buf_init(&certs[i], IOLM_MAX_FRAME_BYTES);
		fx_build(&f, &blocks[i], c, 4, NULL, NULL);
		fx_commit(&f, f.l, &blocks[i]);
		assert_int_equal(iolm_buf_append(&certs[i], f.last_cert.data, f.last_cert.len),
				 IOLM_OK);
		in[i] = (ledger_block_in){ blocks[i].data, blocks[i].len, certs[i].data,
					   certs[i].len };
		fx_bufs_release(c, 4);
	}
	/* 1..5 in one batch, then 6..8 with 7's certificate swapped for 6's: 6 lands */
	assert_int_equal(ledger_block_commit_many(twin, in, 5, NULL, ids, &done), IOLM_OK);
	assert_int_equal(done, 5);
	assert_int_equal(ledger_get_head(twin, &b), IOLM_OK);
	assert_int_equal(b.height, 5);
	assert_memory_equal(ids[4], b.block_id, 32);
	ledger_block_in bad[3] = { in[5], in[6], in[7] };
	bad[1].cert = in[5].cert;
	bad[1].cert_len = in[5].cert_len;
	assert_int_equal(ledger_block_commit_many(twin, bad, 3, NULL, ids, &done),
			 IOLM_ELEDGER_CERT);
	assert_int_equal(done, 1);
	assert_int_equal(ledger_get_head(twin, &b), IOLM_OK);
	assert_int_equal(b.height, 6);
	assert_int_equal(ledger_block_commit_many(twin, in + 6, 2, NULL, ids, &done), IOLM_OK);
	assert_int_equal(ledger_get_head(f.l, &a), IOLM_OK);
	assert_int_equal(ledger_get_head(twin, &b), IOLM_OK);
	assert_int_equal(a.height, 8);
	assert_int_equal(b.height, 8);
	assert_memory_equal(a.state_root, b.state_root, 32);
	assert_memory_equal(a.block_id, b.block_id, 32);
	for (int k = 0; k < FX_ACCOUNTS; k++) {
		uint64_t ba, na, bb, nb;
		assert_int_equal(ledger_get_account(f.l, f.id[k], &ba, &na), IOLM_OK);
		assert_int_equal(ledger_get_account(twin, f.id[k], &bb, &nb), IOLM_OK);
		assert_int_equal(ba, bb);
		assert_int_equal(na, nb);
	}
	for (int i = 0; i < 8; i++) {
		iolm_buf_release(&blocks[i], 0);
		iolm_buf_release(&certs[i], 0);
	}
	ledger_close(twin);
	fx_rmdir(twin_dir);
	fx_free(&f);
}

/* Build on l, as validator 1, a block of the candidates other than the first (so it
 * differs from fx_build's), on top of f's chain. */
static void build_other(struct fx *f, ledger *l, iolm_buf *out, iolm_buf *cands, size_t n)
{
	const uint8_t *ptrs[64];
	size_t lens[64];
	assert_true(n >= 2 && n <= 64);
	for (size_t i = 1; i < n; i++) {
		ptrs[i - 1] = cands[i].data;
		lens[i - 1] = cands[i].len;
	}
	assert_int_equal(ledger_block_build(l, out, ptrs, lens, n - 1, f->time_ms + 7,
					    iolm_key_pub(&f->val[1]),
					    f->last_cert.len ? f->last_cert.data : NULL,
					    f->last_cert.len, NULL, NULL, NULL),
			 IOLM_OK);
}

static void assert_same_history(struct fx *f, ledger *a, ledger *b)
{
	for (int k = 0; k < FX_ACCOUNTS; k++) {
		uint64_t ta[LEDGER_HIST_KINDS], tb[LEDGER_HIST_KINDS];
		size_t na, nb;
		ledger_hist_entry *ea = fx_history(a, &na, ta, f->id[k], UINT64_MAX, 50, 0);
		ledger_hist_entry *eb = fx_history(b, &nb, tb, f->id[k], UINT64_MAX, 50, 0);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			assert_int_equal(ea[i].height, eb[i].height);
			assert_int_equal(ea[i].seq, eb[i].seq);
			assert_int_equal(ea[i].kind, eb[i].kind);
			assert_int_equal(ea[i].amount, eb[i].amount);
		}
		assert_memory_equal(ta, tb, sizeof ta);
		free(ea);
		free(eb);
	}
}

/* The execution of the block checked or built last is kept for its commit (prepared
 * blocks, ledger/block.c). Committing it must leave exactly what executing it afresh
 * leaves (state, head, history), and every other course (another block at the height,
 * a certificate that does not name it, a release, a tampered copy) must fall back to
 * executing. f.l builds and commits (the build is kept); twin checks first in a
 * different way at each height; fresh only ever commits. */
static void prepared_blocks_commit_as_executed(void **state)
{
	struct fx f;
	ledger *twin, *fresh;
	char twin_dir[] = "/tmp/iolm-test-prep-XXXXXX", fresh_dir[] = "/tmp/iolm-test-prep-XXXXXX";
	uint64_t nonce[FX_ACCOUNTS] = { 0 };
	iolm_buf c[8], blk, other, cert, prev_cert;
	uint8_t id[32];

	(void)state;
	fx_init(&f, NULL);
	assert_non_null(mkdtemp(twin_dir));
	assert_non_null(mkdtemp(fresh_dir));
	fx_open_dir(&f, &twin, twin_dir);
	fx_open_dir(&f, &fresh, fresh_dir);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&other, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	iolm_buf_init(&prev_cert, IOLM_MAX_FRAME_BYTES);
	for (int height = 1; height <= 6; height++) {
		size_t n = 0;
		fx_bufs_init(c, 8);
		for (int k = 0; k < 5; k++)
			fx_transfer(&f, &c[n++], k, f.id[(k + height) % FX_ACCOUNTS],
				    10 + (uint64_t)height, FX_MIN_FEE + (uint64_t)k, nonce[k]++);
		/* left out by the build: more than account 7 holds; its history must not
		 * show it */
		fx_transfer(&f, &c[n++], 7, f.id[0], 2 * FX_BALANCE, FX_MIN_FEE, nonce[7]);
		fx_transfer(&f, &c[n++], 6, f.id[1], 5, FX_MIN_FEE, nonce[6]++);
		iolm_buf_reset(&blk);
		struct rejects r = { 0 };
		fx_build(&f, &blk, c, n, on_reject, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.err[0], IOLM_ELEDGER_BALANCE);
		assert_non_null(f.l->prep.txn); /* the build is kept */
		iolm_buf_reset(&cert);
		fx_cert(&f, &cert, blk.data, blk.len);

		switch (height) {
		case 1: /* checked, then committed: no second execution */
			assert_int_equal(ledger_block_check(twin, blk.data, blk.len, NULL), IOLM_OK);
			assert_non_null(twin->prep.txn);
			break;
		case 2: /* checked twice; a certificate of another block leaves it kept */
			assert_int_equal(ledger_block_check(twin, blk.data, blk.len, NULL), IOLM_OK);
			assert_int_equal(ledger_block_check(twin, blk.data, blk.len, NULL), IOLM_OK);
			assert_int_equal(ledger_block_commit(twin, blk.data, blk.len, prev_cert.data,
							     prev_cert.len, NULL, NULL),
					 IOLM_ELEDGER_CERT);
			assert_non_null(twin->prep.txn);
			break;
		case 3: /* twin built its own, different block for the height */
			iolm_buf_reset(&other);
			build_other(&f, twin, &other, c, n);
			assert_non_null(twin->prep.txn);
			assert_true(other.len != blk.len ||
				    memcmp(other.data, blk.data, blk.len) != 0);
			break;
		case 4: /* checked, then released */
			assert_int_equal(ledger_block_check(twin, blk.data, blk.len, NULL), IOLM_OK);
			ledger_release_prepared(twin, 60000); /* too young: kept */
			assert_non_null(twin->prep.txn);
			ledger_release_prepared(twin, 0);
			assert_null(twin->prep.txn);
			break;
		case 5: { /* a tampered copy is refused and keeps nothing */
			assert_int_equal(ledger_block_check(twin, blk.data, blk.len, NULL), IOLM_OK);
			iolm_buf bad;
			iolm_buf_init(&bad, IOLM_MAX_BLOCK_BYTES);
			assert_int_equal(iolm_buf_append(&bad, blk.data, blk.len), IOLM_OK);
			bad.data[bad.len - 3] ^= 0x40;
			assert_int_not_equal(ledger_block_check(twin, bad.data, bad.len, NULL),
					     IOLM_OK);
			assert_null(twin->prep.txn);
			iolm_buf_release(&bad, 0);
			break;
		}
		default: /* nothing before the commit */
			break;
		}
		assert_int_equal(ledger_block_commit(twin, blk.data, blk.len, cert.data, cert.len,
						     NULL, id),
				 IOLM_OK);
		assert_null(twin->prep.txn);
		fx_commit(&f, f.l, &blk);
		assert_null(f.l->prep.txn);
		fx_commit(&f, fresh, &blk);
		iolm_buf_reset(&prev_cert);
		assert_int_equal(iolm_buf_append(&prev_cert, cert.data, cert.len), IOLM_OK);

		ledger_head a, b, d;
		assert_int_equal(ledger_get_head(f.l, &a), IOLM_OK);
		assert_int_equal(ledger_get_head(twin, &b), IOLM_OK);
		assert_int_equal(ledger_get_head(fresh, &d), IOLM_OK);
		assert_int_equal(a.height, (uint64_t)height);
		assert_int_equal(b.height, (uint64_t)height);
		assert_memory_equal(a.block_id, id, 32);
		assert_memory_equal(a.block_id, b.block_id, 32);
		assert_memory_equal(a.block_id, d.block_id, 32);
		assert_memory_equal(a.state_root, b.state_root, 32);
		assert_memory_equal(a.state_root, d.state_root, 32);
		assert_int_equal(ledger_verify_state(twin), IOLM_OK);
		fx_bufs_release(c, 8);
	}
	assert_same_history(&f, f.l, fresh);
	assert_same_history(&f, twin, fresh);

	iolm_buf_release(&blk, 0);
	iolm_buf_release(&other, 0);
	iolm_buf_release(&cert, 0);
	iolm_buf_release(&prev_cert, 0);
	ledger_close(twin);
	ledger_close(fresh);
	fx_rmdir(twin_dir);
	fx_rmdir(fresh_dir);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_ledgers_agree_at_every_height),
		cmocka_unit_test(batch_commit_equals_one_by_one),
		cmocka_unit_test(prepared_blocks_commit_as_executed),
		cmocka_unit_test(history_can_be_switched_off_not_back_on),
		cmocka_unit_test(task_and_work_rules),
		cmocka_unit_test(subsidy_stops_at_max_supply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
