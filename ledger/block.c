/* Blocks: building (proposer), checking (everyone) and committing, each by executing the
 * block's transactions inside one LMDB write transaction. The header rules are in
 * docs/protocol.md with their error codes.
 *
 * Prepared blocks. A validator checks (or builds) the block of a height and, moments
 * later, commits the same bytes. Rather than execute it twice, the last block checked or
 * built keeps its write transaction open, uncommitted (struct ledger_prep); committing
 * those exact bytes then only stores the block, its certificate and the head, and
 * commits that transaction. Anything else that writes drops it first (LMDB has one
 * writer), so a prepared block always sits on the current head. Its history and task
 * indexes are written during that execution, as for a commit: they vanish with it when it
 * is dropped. Readers are not affected: they see the committed state. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/merkle.h"
#include "ledger/internal.h"

#define LEDGER_BLOCK_VERSION 1
/* Room kept for the header and the certificate when a proposer fills a block. */
/* Room kept for the header and the certificate (80 bytes per validator) when a proposer
 * fills a block. */
#define BLOCK_OVERHEAD(nv) (16u * 1024 + 80u * (nv))
/* A block's time may run at most this far past its predecessor's, so no single block can
 * push the clock to where no later time exists. Nodes also refuse proposals from the
 * future by their own clocks (node/node.c). */
#define MAX_BLOCK_GAP_MS (24ull * 3600 * 1000)

static void u64be(uint8_t out[static 8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Where the chain stands, inside txn (height 0: genesis). */
static int head_in(ledger *l, MDB_txn *txn, ledger_head *h)
{
	Iolm__ChainHead *ch;
	int err = meta_get_head(l, txn, &ch);
	if (err)
		return err;
	memset(h, 0, sizeof *h);
	h->height = ch->height;
	h->time_ms = ch->time_ms;
	if (ch->block_id.len == 32)
		memcpy(h->block_id, ch->block_id.data, 32);
	if (ch->state_root.len == 32)
		memcpy(h->state_root, ch->state_root.data, 32);
	iolm_codec_free(&ch->base);
	return IOLM_OK;
}

static int proposer_index(const ledger_genesis *g, const uint8_t *pub, size_t len)
{
	if (len != 32)
		return -1;
	for (size_t i = 0; i < g->n_validators; i++)
		if (memcmp(g->validators[i].pub, pub, 32) == 0)
			return (int)i;
	return -1;
}

static void cert_hash(uint8_t out[static 32], const Iolm__CommitCert *c)
{
	uint8_t *buf;
	size_t n = protobuf_c_message_get_packed_size(&c->base);
	buf = malloc(n ? n : 1);
	if (!buf) { /* cannot hash: make it match nothing */
		memset(out, 0xff, 32);
		return;
	}
	protobuf_c_message_pack(&c->base, buf);
	iolm_hash(out, IOLM_TAG_CERT, buf, n);
	free(buf);
}

/* The last_commit rules: absent at height 1; otherwise it certifies the head block. */
static int check_last_commit(const Iolm__BlockHeader *h, const Iolm__CommitCert *c,
			     const ledger_head *head, size_t nv)
{
	uint8_t ch[32];
	if (h->height == 1)
		return c == NULL && h->last_commit_hash.len == 0 ? IOLM_OK : IOLM_ELEDGER_LASTCOMMIT;
	if (!c || c->height != head->height || c->block_id.len != 32 ||
	    memcmp(c->block_id.data, head->block_id, 32) != 0 || c->n_sigs == 0)
		return IOLM_ELEDGER_LASTCOMMIT;
	/* Signatures are checked by consensus (cons_cert_verify) before a block gets here;
	 * the shape that the fee payout relies on is checked here too: ascending distinct
	 * validator indices within the set. */
	for (size_t i = 0; i < c->n_sigs; i++)
		if (c->sigs[i]->validator >= nv ||
		    (i && c->sigs[i]->validator <= c->sigs[i - 1]->validator))
			return IOLM_ELEDGER_LASTCOMMIT;
	cert_hash(ch, c);
	if (h->last_commit_hash.len != 32 || memcmp(h->last_commit_hash.data, ch, 32) != 0)
		return IOLM_ELEDGER_LASTCOMMIT;
	return IOLM_OK;
}

static int check_header(ledger *l, const Iolm__BlockHeader *h, const ledger_head *head)
{
	const ledger_genesis *g = l->g;
	if (strcmp(h->chain_id, g->chain_id) != 0)
		return IOLM_ELEDGER_CHAIN;
	if (h->version != LEDGER_BLOCK_VERSION || h->state_root.len != 32 ||
	    h->tx_root.len != 32 || h->validators_hash.len != 32)
		return IOLM_ELEDGER_HEADER;
	if (h->height != head->height + 1)
		return IOLM_ELEDGER_HEIGHT;
	if (h->prev_id.len != 32 || memcmp(h->prev_id.data, head->block_id, 32) != 0)
		return IOLM_ELEDGER_PREV;
	if (h->time_ms <= head->time_ms || h->time_ms - head->time_ms > MAX_BLOCK_GAP_MS)
		return IOLM_ELEDGER_TIME;
	if (memcmp(h->validators_hash.data, l->valset_hash, 32) != 0)
		return IOLM_ELEDGER_HEADER;
	if (proposer_index(g, h->proposer.data, h->proposer.len) < 0)
		return IOLM_ELEDGER_PROPOSER;
	return IOLM_OK;
}

/* Execute block b (header h) in txn, with the history and task indexes, and compute its
 * state root. */
static int execute(ledger *l, MDB_txn *txn, const Iolm__Block *b, const Iolm__BlockHeader *h,
		   ledger_sigcache *cache, uint8_t root[static 32])
{
	const ledger_genesis *g = l->g;
	struct exec x;
	ledger_head head;
	uint8_t *leaves = NULL;
	int err;

	if ((err = head_in(l, txn, &head)))
		return err;
	if ((err = check_header(l, h, &head)))
		return err;
	if ((err = check_last_commit(h, b->last_commit, &head, g->n_validators)))
		return err;
	if (b->n_txs > g->params.max_block_txs)
		return IOLM_ELEDGER_BLOCKSIZE;

	if ((err = exec_begin(&x, l, txn, h->height)))
		return err;
	x.time_ms = h->time_ms;
	if ((err = state_load_supply(&x)))
		goto out;
	err = IOLM_ENOMEM;
	leaves = malloc((b->n_txs ? b->n_txs : 1) * 32);
	if (!leaves)
		goto out;
	for (size_t i = 0; i < b->n_txs; i++) {
		ledger_tx tx;
		if ((err = ledger_tx_decode(&tx, g->chain_id, b->txs[i].data, b->txs[i].len)))
			goto out;
		if (!cache || !ledger_sigcache_has(cache, tx.id)) {
			err = ledger_tx_verify(&tx, g->chain_id);
			if (!err && cache)
				ledger_sigcache_add(cache, tx.id);
		}
		if (!err)
			err = apply_tx(&x, &tx, (uint32_t)i);
		iolm_merkle_leaf(leaves + 32 * i, tx.id, 32);
		ledger_tx_release(&tx);
		if (err)
			goto out;
	}
	uint8_t txroot[32];
	iolm_merkle_root(txroot, leaves, b->n_txs);
	err = IOLM_ELEDGER_TXROOT;
	if (memcmp(txroot, h->tx_root.data, 32) != 0)
		goto out;
	if (l->rules.end_block && (err = l->rules.end_block(l->rules.ctx, &x)))
		goto out;
	if ((err = apply_end_block(&x, h->proposer.data, b->last_commit)) ||
	    (err = hist_flush(&x)))
		goto out;
	uint64_t t0 = iolm_clock_mono_ns();
	err = exec_finish(&x, root);
	l->root_ns = iolm_clock_mono_ns() - t0;
out:
	free(leaves);
	exec_release(&x);
	return err;
}

static int decode_block(const uint8_t *block, size_t len, size_t max, Iolm__Block **b,
			Iolm__BlockHeader **h)
{
	int err;
	*b = NULL;
	*h = NULL;
	if (len > max)
		return IOLM_ELEDGER_BLOCKSIZE;
	if ((err = iolm_decode_block(b, block, len, IOLM_MAX_BLOCK_BYTES)))
		return err;
	if ((err = iolm_decode_block_header(h, (*b)->header.data, (*b)->header.len, 4096))) {
		iolm_codec_free(&(*b)->base);
		*b = NULL;
		return err;
	}
	return IOLM_OK;
}

static void free_block(Iolm__Block *b, Iolm__BlockHeader *h)
{
	if (h)
		iolm_codec_free(&h->base);
	if (b)
		iolm_codec_free(&b->base);
}

/* ---- prepared blocks */

void ledger_prep_drop(ledger *l)
{
	if (l->prep.txn)
		mdb_txn_abort(l->prep.txn);
	l->prep.txn = NULL;
}

void ledger_release_prepared(ledger *l, uint64_t older_than_ms)
{
	if (l->prep.txn && iolm_clock_mono_ns() - l->prep.since_ns >= older_than_ms * 1000000)
		ledger_prep_drop(l);
}

static int prep_is(const ledger *l, const uint8_t *block, size_t len)
{
	return l->prep.txn && l->prep.len == len && memcmp(l->prep.block, block, len) == 0;
}

/* Keep *txn, in which block (header h, state root root, id) was executed, as the prepared
 * block; on success *txn is the ledger's (NULL here). Without memory for the copy nothing
 * is kept and *txn stays the caller's to abort. */
static void prep_keep(ledger *l, MDB_txn **txn, const uint8_t *block, size_t len,
		      const uint8_t id[static 32], uint64_t height, uint64_t time_ms,
		      const uint8_t root[static 32], const ledger_commit_stats *st)
{
	struct ledger_prep *p = &l->prep;
	assert(!p->txn);
	if (len > p->cap) {
		uint8_t *nb = realloc(p->block, len);
		if (!nb)
			return;
		p->block = nb;
		p->cap = len;
	}
	memcpy(p->block, block, len);
	p->len = len;
	memcpy(p->id, id, 32);
	memcpy(p->root, root, 32);
	p->height = height;
	p->time_ms = time_ms;
	p->st = *st;
	p->since_ns = iolm_clock_mono_ns();
	p->txn = *txn;
	*txn = NULL;
}

int ledger_block_check(ledger *l, const uint8_t *block, size_t len, ledger_sigcache *cache)
{
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	MDB_txn *txn = NULL;
	uint8_t root[32], id[32];
	uint64_t t0 = iolm_clock_mono_ns();
	if (prep_is(l, block, len))
		return IOLM_OK; /* checked (or built) on this very head already */
	ledger_prep_drop(l);
	int err = decode_block(block, len, l->g->params.max_block_bytes, &b, &h);
	if (err)
		return err;
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, 0, &txn))))
		goto out;
	if ((err = execute(l, txn, b, h, cache, root)))
		goto out;
	if (memcmp(root, h->state_root.data, 32) != 0) {
		err = IOLM_ELEDGER_STATEROOT;
		goto out;
	}
	ledger_commit_stats st = { .txs = b->n_txs, .root_ns = l->root_ns };
	st.exec_ns = iolm_clock_mono_ns() - t0 - l->root_ns;
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	prep_keep(l, &txn, block, len, id, h->height, h->time_ms, root, &st);
out:
	if (txn)
		mdb_txn_abort(txn);
	free_block(b, h);
	return err;
}

static int put_u64key(MDB_txn *txn, MDB_dbi dbi, uint64_t height, const void *data, size_t len)
{
	uint8_t k8[8];
	u64be(k8, height);
	MDB_val k = { 8, k8 }, v = { len, (void *)data };
	return ledger_lmdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

/* Store an executed block (id, height, time, state root) with its certificate, and make it
 * the head, inside txn. */
static int store_block(ledger *l, MDB_txn *txn, const uint8_t id[static 32], uint64_t height,
		       uint64_t time_ms, const uint8_t root[static 32], const uint8_t *block,
		       size_t len, const uint8_t *cert, size_t cert_len)
{
	MDB_val k = { 32, (void *)id }, v;
	uint8_t h8[8];
	int err;
	u64be(h8, height);
	v.mv_size = 8;
	v.mv_data = h8;
	if ((err = ledger_lmdb_err(mdb_put(txn, l->blockid, &k, &v, 0))) ||
	    (err = put_u64key(txn, l->blocks, height, block, len)) ||
	    (err = put_u64key(txn, l->certs, height, cert, cert_len)))
		return err;
	Iolm__ChainHead head = IOLM__CHAIN_HEAD__INIT;
	head.height = height;
	head.block_id.data = (uint8_t *)id;
	head.block_id.len = 32;
	head.time_ms = time_ms;
	head.state_root.data = (uint8_t *)root;
	head.state_root.len = 32;
	head.genesis_hash.data = (uint8_t *)l->g->hash;
	head.genesis_hash.len = 32;
	uint8_t hb[256];
	size_t hn = protobuf_c_message_pack(&head.base, hb);
	MDB_val hk = { 4, "head" }, hv = { hn, hb };
	return ledger_lmdb_err(mdb_put(txn, l->meta, &hk, &hv, 0));
}

/* The certificate's shape against the block it should certify (its signatures are
 * consensus's to check). */
static int cert_names(const Iolm__CommitCert *c, uint64_t height, const uint8_t id[static 32])
{
	if (c->height != height || c->block_id.len != 32 || memcmp(c->block_id.data, id, 32) ||
	    c->n_sigs == 0)
		return IOLM_ELEDGER_CERT;
	return IOLM_OK;
}

/* Commit the prepared block, in[0], with its certificate: only the writes of store_block
 * remain to be done. */
static int commit_prepared(ledger *l, const ledger_block_in *in, uint8_t id[static 32])
{
	struct ledger_prep *p = &l->prep;
	Iolm__CommitCert *c = NULL;
	uint64_t t_start = iolm_clock_mono_ns();
	int err = iolm_decode_commit_cert(&c, in->cert, in->cert_len, IOLM_MAX_FRAME_BYTES);
	if (err)
		return err;
	err = cert_names(c, p->height, p->id);
	iolm_codec_free(&c->base);
	if (err)
		return err; /* the prepared transaction stays, untouched */
	err = store_block(l, p->txn, p->id, p->height, p->time_ms, p->root, in->block, in->len,
			  in->cert, in->cert_len);
	if (err) {
		ledger_prep_drop(l);
		return err;
	}
	err = ledger_lmdb_err(mdb_txn_commit(p->txn));
	p->txn = NULL; /* committed or freed by the failed commit */
	if (err)
		return err;
	memcpy(id, p->id, 32);
	ledger_commit_stats st = p->st;
	st.write_ns = iolm_clock_mono_ns() - t_start;
	st.total_ns = st.exec_ns + st.root_ns + st.write_ns;
	l->stats = st;
	return IOLM_OK;
}

/* Check block against cert and apply it inside txn: its state, the block, the certificate
 * and the new head. Its stats to *st (exec and root; write_ns is the caller's). */
static int commit_in(ledger *l, MDB_txn *txn, const uint8_t *block, size_t len,
		     const uint8_t *cert, size_t cert_len, ledger_sigcache *cache,
		     uint8_t id[static 32], ledger_commit_stats *st)
{
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	Iolm__CommitCert *c = NULL;
	uint8_t root[32];
	uint64_t t_start = iolm_clock_mono_ns();
	int err = decode_block(block, len, l->g->params.max_block_bytes, &b, &h);
	if (err)
		return err;
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	if ((err = iolm_decode_commit_cert(&c, cert, cert_len, IOLM_MAX_FRAME_BYTES)))
		goto out;
	if ((err = cert_names(c, h->height, id)))
		goto out;
	if ((err = execute(l, txn, b, h, cache, root)))
		goto out;
	st->txs += b->n_txs;
	st->root_ns += l->root_ns;
	st->exec_ns += iolm_clock_mono_ns() - t_start - l->root_ns;
	err = IOLM_ELEDGER_STATEROOT;
	if (memcmp(root, h->state_root.data, 32) != 0)
		goto out;

	err = store_block(l, txn, id, h->height, h->time_ms, root, block, len, cert, cert_len);
out:
	if (c)
		iolm_codec_free(&c->base);
	free_block(b, h);
	return err;
}

int ledger_block_commit(ledger *l, const uint8_t *block, size_t len, const uint8_t *cert,
			size_t cert_len, ledger_sigcache *cache, uint8_t id_out[32])
{
	ledger_block_in in = { block, len, cert, cert_len };
	uint8_t id[1][32];
	size_t done;
	int err = ledger_block_commit_many(l, &in, 1, cache, id, &done);
	if (!err && id_out)
		memcpy(id_out, id[0], 32);
	return err;
}

int ledger_block_commit_many(ledger *l, const ledger_block_in *in, size_t n,
			     ledger_sigcache *cache, uint8_t (*ids)[32], size_t *done)
{
	ledger_commit_stats st = { 0 };
	MDB_txn *txn = NULL, *child = NULL;
	uint64_t t_start = iolm_clock_mono_ns();
	int err, err_commit;

	*done = 0;
	if (n == 1 && prep_is(l, in[0].block, in[0].len)) {
		if ((err = commit_prepared(l, &in[0], ids[0])))
			return err;
		*done = 1;
		return IOLM_OK;
	}
	ledger_prep_drop(l);
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, 0, &txn))))
		return err;
	for (size_t i = 0; i < n; i++) {
		/* Each block in a nested transaction: a refused one leaves nothing behind, and
		 * the ones before it are still committed. */
		if (n > 1 && (err = ledger_lmdb_err(mdb_txn_begin(l->env, txn, 0, &child))))
			break;
		err = commit_in(l, n > 1 ? child : txn, in[i].block, in[i].len, in[i].cert,
				in[i].cert_len, cache, ids[i], &st);
		if (n > 1) {
			if (err)
				mdb_txn_abort(child);
			else
				err = ledger_lmdb_err(mdb_txn_commit(child));
		}
		if (err)
			break;
		(*done)++;
	}
	if (!*done) {
		mdb_txn_abort(txn);
		return err;
	}
	err_commit = ledger_lmdb_err(mdb_txn_commit(txn));
	if (err_commit) {
		*done = 0;
		return err_commit;
	}
	/* write: storing blocks, certificates and head, and the commit with its sync */
	st.total_ns = iolm_clock_mono_ns() - t_start;
	st.write_ns = st.total_ns - st.exec_ns - st.root_ns;
	l->stats = st;
	return err;
}

/* ---- building a block as proposer */

struct build {
	struct exec x;
	uint8_t (*skip)[IOLM_ADDR_LEN]; /* senders with a left-out transaction */
	size_t n_skip;
	uint8_t *leaves;
	size_t n_txs, bytes;
};

static int skipped(const struct build *bd, const uint8_t *sender)
{
	for (size_t i = 0; i < bd->n_skip; i++)
		if (memcmp(bd->skip[i], sender, IOLM_ADDR_LEN) == 0)
			return 1;
	return 0;
}

/* Try one candidate in a nested transaction; on failure nothing of it remains. */
static int try_candidate(ledger *l, struct build *bd, const ledger_tx *tx)
{
	MDB_txn *parent = bd->x.txn, *child;
	size_t touched = bd->x.n_touched;
	Iolm__Supply supply = bd->x.supply;
	uint64_t fees = bd->x.fees;
	uint32_t hist_seq = bd->x.hist_seq;
	size_t n_hist = bd->x.n_hist;
	int err = ledger_lmdb_err(mdb_txn_begin(l->env, parent, 0, &child));
	if (err)
		return err;
	bd->x.txn = child;
	err = apply_tx(&bd->x, tx, (uint32_t)bd->n_txs);
	bd->x.txn = parent;
	if (err) {
		mdb_txn_abort(child);
		bd->x.n_touched = touched;
		bd->x.supply = supply;
		bd->x.fees = fees;
		bd->x.hist_seq = hist_seq;
		bd->x.n_hist = n_hist;
		return err;
	}
	return ledger_lmdb_err(mdb_txn_commit(child));
}

int ledger_block_build(ledger *l, iolm_buf *out, const uint8_t (*const *cands),
		       const size_t *cand_lens, size_t n_cands, uint64_t time_ms,
		       const uint8_t proposer[static 32], const uint8_t *last_cert,
		       size_t last_cert_len, ledger_sigcache *cache, ledger_reject_fn reject,
		       void *rctx)
{
	const ledger_genesis *g = l->g;
	struct build bd;
	Iolm__CommitCert *cert = NULL;
	ProtobufCBinaryData *txs = NULL;
	MDB_txn *txn = NULL;
	ledger_head head;
	uint8_t root[32], txroot[32], lch[32];
	iolm_buf hdr;
	uint64_t t0 = iolm_clock_mono_ns();
	int err;

	memset(&bd, 0, sizeof bd);
	iolm_buf_init(&hdr, 4096);
	if (proposer_index(g, proposer, 32) < 0)
		return IOLM_ELEDGER_PROPOSER;
	ledger_prep_drop(l);
	if (last_cert && (err = iolm_decode_commit_cert(&cert, last_cert, last_cert_len,
							IOLM_MAX_FRAME_BYTES)))
		return err;
	if ((err = ledger_lmdb_err(mdb_txn_begin(l->env, NULL, 0, &txn))))
		goto out;
	if ((err = head_in(l, txn, &head)) || (err = exec_begin(&bd.x, l, txn, head.height + 1)) ||
	    (err = state_load_supply(&bd.x)))
		goto out;
	/* the header time, fixed before any transaction runs (they may read it) */
	uint64_t btime = time_ms > head.time_ms ? time_ms : head.time_ms + 1;
	if (btime - head.time_ms > MAX_BLOCK_GAP_MS)
		btime = head.time_ms + MAX_BLOCK_GAP_MS;
	bd.x.time_ms = btime;
	err = IOLM_ENOMEM;
	bd.skip = malloc((n_cands ? n_cands : 1) * sizeof *bd.skip);
	bd.leaves = malloc((n_cands ? n_cands : 1) * 32);
	txs = malloc((n_cands ? n_cands : 1) * sizeof *txs);
	if (!bd.skip || !bd.leaves || !txs)
		goto out;

	/* genesis guarantees max_block_bytes >= 64 KiB > the overhead of 128 validators */
	size_t budget = g->params.max_block_bytes - BLOCK_OVERHEAD(g->n_validators);
	for (size_t i = 0; i < n_cands && bd.n_txs < g->params.max_block_txs; i++) {
		ledger_tx tx;
		if (bd.bytes + cand_lens[i] + 8 > budget)
			break;
		err = ledger_tx_decode(&tx, g->chain_id, cands[i], cand_lens[i]);
		if (err) {
			if (reject) {
				uint8_t id[32];
				iolm_hash(id, IOLM_TAG_TX, cands[i], cand_lens[i]);
				reject(rctx, id, err);
			}
			continue;
		}
		if (skipped(&bd, tx.sender)) {
			err = IOLM_ELEDGER_NONCE_GAP;
		} else if (!cache || !ledger_sigcache_has(cache, tx.id)) {
			err = ledger_tx_verify(&tx, g->chain_id);
			if (!err && cache)
				ledger_sigcache_add(cache, tx.id);
		}
		if (!err)
			err = try_candidate(l, &bd, &tx);
		if (err) {
			if (!skipped(&bd, tx.sender))
				memcpy(bd.skip[bd.n_skip++], tx.sender, IOLM_ADDR_LEN);
			if (reject)
				reject(rctx, tx.id, err);
			ledger_tx_release(&tx);
			if (err == IOLM_ELEDGER_MAPFULL || err == IOLM_ELEDGER_LMDB || err == IOLM_ENOMEM)
				goto out;
			continue;
		}
		iolm_merkle_leaf(bd.leaves + 32 * bd.n_txs, tx.id, 32);
		txs[bd.n_txs].data = (uint8_t *)cands[i];
		txs[bd.n_txs].len = cand_lens[i];
		bd.n_txs++;
		bd.bytes += cand_lens[i] + 8;
		ledger_tx_release(&tx);
	}
	if (l->rules.end_block && (err = l->rules.end_block(l->rules.ctx, &bd.x)))
		goto out;
	if ((err = apply_end_block(&bd.x, proposer, cert)) || (err = hist_flush(&bd.x)))
		goto out;
	uint64_t t_root = iolm_clock_mono_ns();
	if ((err = exec_finish(&bd.x, root)))
		goto out;
	l->root_ns = iolm_clock_mono_ns() - t_root;

	iolm_merkle_root(txroot, bd.leaves, bd.n_txs);
	Iolm__BlockHeader h = IOLM__BLOCK_HEADER__INIT;
	h.chain_id = (char *)g->chain_id;
	h.height = head.height + 1;
	h.time_ms = btime;
	h.prev_id.data = head.block_id;
	h.prev_id.len = 32;
	if (cert) {
		cert_hash(lch, cert);
		h.last_commit_hash.data = lch;
		h.last_commit_hash.len = 32;
	}
	h.tx_root.data = txroot;
	h.tx_root.len = 32;
	h.state_root.data = root;
	h.state_root.len = 32;
	h.validators_hash.data = l->valset_hash;
	h.validators_hash.len = 32;
	h.proposer.data = (uint8_t *)proposer;
	h.proposer.len = 32;
	h.version = LEDGER_BLOCK_VERSION;
	if ((err = iolm_codec_encode(&hdr, &h.base)))
		goto out;
	Iolm__Block b = IOLM__BLOCK__INIT;
	b.header.data = hdr.data;
	b.header.len = hdr.len;
	b.n_txs = bd.n_txs;
	b.txs = txs;
	b.last_commit = cert;
	size_t off = out->len;
	if ((err = iolm_codec_encode(out, &b.base)))
		goto out;
	ledger_commit_stats st = { .txs = bd.n_txs, .root_ns = l->root_ns };
	st.exec_ns = iolm_clock_mono_ns() - t0 - st.root_ns;
	uint8_t id[32];
	iolm_hash(id, IOLM_TAG_BLOCK, hdr.data, hdr.len);
	prep_keep(l, &txn, out->data + off, out->len - off, id, h.height, btime, root, &st);
out:
	if (txn)
		mdb_txn_abort(txn);
	exec_release(&bd.x);
	free(bd.skip);
	free(bd.leaves);
	free(txs);
	iolm_buf_release(&hdr, 0);
	if (cert)
		iolm_codec_free(&cert->base);
	return err;
}
