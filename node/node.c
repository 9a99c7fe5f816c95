/* iolmd's event loop: the consensus engine driven by real timers and messages, blocks
 * built from the mempool and committed through the ledger, the RPC and P2P on one
 * libevent base. Frames from peers and block sync are in node_net.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/log.h"
#include "node/node_int.h"

#define MOD "node"
#define NODE_GC_MS 60000 /* the artifact collector checks the store this often */

void node_block_id(void *ctx, uint8_t id[static CONS_ID_LEN], const uint8_t *block, size_t len)
{
	Iolm__Block *b;
	(void)ctx;
	/* An undecodable block gets an id nothing can be signed for: all 0xff. */
	if (iolm_decode_block(&b, block, len, IOLM_MAX_BLOCK_BYTES)) {
		memset(id, 0xff, CONS_ID_LEN);
		return;
	}
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	iolm_codec_free(&b->base);
}

/* ---- consensus timeouts */

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct node_timeout *t = arg, **pp;
	struct node *n = t->n;
	(void)fd;
	(void)what;
	for (pp = &n->timeouts; *pp && *pp != t; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = t->next;
	IOLM_DEBUG(MOD, "timeout: height %llu round %u step %d (engine at round %u step %d)",
		   (unsigned long long)t->height, t->round, (int)t->step,
		   cons_engine_round(n->eng), (int)cons_engine_step(n->eng));
	int rc = cons_engine_on_timeout(n->eng, t->height, t->round, t->step);
	if (rc)
		IOLM_DEBUG(MOD, "timeout refused: %s", iolm_strerror(rc));
	event_free(t->ev);
	free(t);
	if (node_drive(n))
		event_base_loopexit(n->base, NULL);
}

static int schedule_timeout(struct node *n, const cons_action *a)
{
	struct node_timeout *t = calloc(1, sizeof *t);
	if (!t)
		return IOLM_ENOMEM;
	t->n = n;
	t->height = a->height;
	t->round = a->round;
	t->step = a->step;
	t->ev = evtimer_new(n->base, on_timeout, t);
	if (!t->ev) {
		free(t);
		return IOLM_ENOMEM;
	}
	struct timeval tv = { a->delay_ms / 1000, (a->delay_ms % 1000) * 1000 };
	evtimer_add(t->ev, &tv);
	t->next = n->timeouts;
	n->timeouts = t;
	return IOLM_OK;
}

/* Drop timeouts of heights already decided: they would be ignored anyway. */
static void prune_timeouts(struct node *n, uint64_t below)
{
	struct node_timeout **pp = &n->timeouts;
	while (*pp) {
		struct node_timeout *t = *pp;
		if (t->height < below) {
			*pp = t->next;
			event_free(t->ev);
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

/* ---- proposing */

struct cand {
	const uint8_t **ptrs;
	size_t *lens;
	size_t n, cap;
};

static int collect(void *ctx, const uint8_t *raw, size_t len, const uint8_t id[static 32])
{
	struct cand *c = ctx;
	(void)id;
	if (c->n == c->cap)
		return 1;
	c->ptrs[c->n] = raw;
	c->lens[c->n] = len;
	c->n++;
	return 0;
}

int node_account(void *ctx, const uint8_t id[static 20], uint64_t *bal, uint64_t *nonce)
{
	return ledger_get_account(((struct node *)ctx)->l, id, bal, nonce);
}

static int tx_pending(void *ctx, const uint8_t id[static 32])
{
	return ledger_mempool_has(((struct node *)ctx)->mp, id);
}

/* Admission's check of the kind's rules (ledger_mempool_params.check). */
static int tx_check(void *ctx, const ledger_tx *tx)
{
	return ledger_tx_check(((struct node *)ctx)->l, tx, tx_pending, ctx);
}

static void log_reject(void *ctx, const uint8_t id[static 32], int err)
{
	struct node *n = ctx;
	n->txs_rejected++;
	IOLM_DEBUG(MOD, "left a transaction out of the block: %s", iolm_strerror(err));
	/* What every later block refuses too (an attestation of a work decided since it
	 * was admitted, a task closed since) goes. The mempool cannot be changed while the
	 * block is built from its entries: drop_rejected removes them after. */
	if (ledger_tx_err_final(err) && n->n_drop < sizeof n->drop / sizeof n->drop[0]) {
		memcpy(n->drop[n->n_drop].id, id, 32);
		n->drop[n->n_drop++].err = err;
	}
}

/* Remove what log_reject marked (and, the mempool keeping nonces contiguous, the same
 * senders' later transactions: our own attestations are signed again from the account's
 * nonce, see on_verdict). */
static void drop_rejected(struct node *n)
{
	for (size_t i = 0; i < n->n_drop; i++)
		if (ledger_mempool_remove(n->mp, n->drop[i].id) == IOLM_OK) {
			n->txs_dropped++;
			IOLM_INFO(MOD, "dropped a transaction no block can take: %s",
				  iolm_strerror(n->drop[i].err));
		}
	n->n_drop = 0;
}

/* Answer the engine's request for a block, once there is something to propose or the
 * heartbeat is due. */
static int try_propose(struct node *n)
{
	const ledger_params *p = ledger_genesis_params(n->g);
	uint64_t now = iolm_clock_wall_ms();
	struct cand c = { 0 };
	iolm_buf block, cert;
	ledger_head head;
	int err;

	if (!n->want_block || n->want_h != cons_engine_height(n->eng))
		return IOLM_OK;
	if (ledger_mempool_count(n->mp) == 0 && now < n->last_block_ms + n->cfg->heartbeat_ms)
		return IOLM_OK;
	if ((err = node_flush_commits(n)))
		return err;
	if ((err = ledger_get_head(n->l, &head)))
		return err;
	if (head.height + 1 != n->want_h)
		return IOLM_OK; /* still committing the previous height */

	iolm_buf_init(&block, IOLM_MAX_BLOCK_BYTES);
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	c.cap = p->max_block_txs;
	c.ptrs = malloc(c.cap * sizeof *c.ptrs);
	c.lens = malloc(c.cap * sizeof *c.lens);
	err = IOLM_ENOMEM;
	if (!c.ptrs || !c.lens)
		goto out;
	err = ledger_mempool_select(n->mp, p->max_block_bytes, p->max_block_txs, node_account, n,
				    collect, &c);
	if (err < 0)
		goto out;
	if (head.height > 0 && (err = ledger_get_cert(n->l, head.height, &cert)))
		goto out;
	n->n_drop = 0;
	err = ledger_block_build(n->l, &block, c.ptrs, c.lens, c.n, now, iolm_key_pub(&n->key),
				 cert.len ? cert.data : NULL, cert.len, n->cache, log_reject, n);
	if (err) {
		drop_rejected(n);
		goto out;
	}
	n->want_block = 0;
	IOLM_DEBUG(MOD, "proposing height %llu round %u with %zu txs",
		   (unsigned long long)n->want_h, n->want_r, c.n);
	err = cons_engine_propose(n->eng, n->want_h, n->want_r, block.data, block.len);
	drop_rejected(n); /* the block holds copies of what it took */
out:
	free(c.ptrs);
	free(c.lens);
	iolm_buf_release(&block, 0);
	iolm_buf_release(&cert, 0);
	return err;
}

/* ---- kept checkpoints */

/* GET /artifacts: why this validator keeps an artifact (node/kept.h). */
static const char *kept_why(void *ctx, const uint8_t id[static ART_ID_LEN],
			    uint8_t owner[static 32])
{
	struct node *n = ctx;
	return node_kept_why(n->kept, id, owner);
}

/* The verifier added the final checkpoint of a valid work to the store, pinned: tell
 * the peers; node/kept.c keeps it pinned if the work is (or becomes) its task's best
 * model, and unpins and removes it otherwise. */
static void on_kept(void *ctx, const uint8_t work[static 32], const uint8_t ckpt[static ART_ID_LEN])
{
	struct node *n = ctx;
	char hex[2 * ART_ID_LEN + 1];
	iolm_hex_encode(hex, sizeof hex, ckpt, ART_ID_LEN);
	IOLM_INFO(MOD, "kept checkpoint %.20s of verified work in the artifact store", hex);
	node_art_net_announce(n->artnet, ckpt);
	node_kept_add(n->kept, work, ckpt);
}

/* ---- committing */

/* The node's work after the ledger committed block `len` bytes at height: the verifier,
 * the mempool, counters, the log line and the status. */
static int after_commit(struct node *n, uint64_t height, uint32_t round, const uint8_t id[32],
			const uint8_t *block, size_t len, int log)
{
	Iolm__Block *b = NULL;
	uint8_t (*ids)[32] = NULL;
	int err;

	if (n->verifier)
		node_verifier_on_commit(n->verifier, height, id, block, len);
	node_kept_settle(n->kept);
	if ((err = iolm_decode_block(&b, block, len, IOLM_MAX_BLOCK_BYTES)))
		return err;
	ids = malloc((b->n_txs ? b->n_txs : 1) * sizeof *ids);
	if (!ids) {
		err = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_txs; i++)
		iolm_hash(ids[i], IOLM_TAG_TX, b->txs[i].data, b->txs[i].len);
	if ((err = ledger_mempool_update(n->mp, (const uint8_t(*)[32])ids, b->n_txs, node_account, n)))
		goto out;

	uint64_t now_ns = iolm_clock_mono_ns();
	n->blocks_committed++;
	n->txs_committed += b->n_txs;
	n->tx_rate_window_txs += b->n_txs;
	if (now_ns - n->tx_rate_window_start_ns >= 2000000000ull) {
		n->tx_per_s = (double)n->tx_rate_window_txs * 1e9 /
			      (double)(now_ns - n->tx_rate_window_start_ns);
		n->tx_rate_window_start_ns = now_ns;
		n->tx_rate_window_txs = 0;
	}
	n->last_commit_mono_ns = now_ns;
	n->last_block_ms = iolm_clock_wall_ms();
	node_p2p_set_height(n->p2p, height);
	prune_timeouts(n, height + 1);
	/* While catching up, one line per hundred blocks and no status per block: sync
	 * speed is bound by per-block costs. */
	int syncing = n->best_peer_height > height + 1;
	if (log && (!syncing || height % 100 == 0)) {
		ledger_commit_stats st;
		ledger_get_commit_stats(n->l, &st);
		IOLM_INFO(MOD, "committed height %llu round %u: %zu txs in %.1f ms (root %.1f ms), "
			       "mempool %zu%s",
			  (unsigned long long)height, round, b->n_txs, (double)st.total_ns / 1e6,
			  (double)st.root_ns / 1e6, ledger_mempool_count(n->mp),
			  syncing ? " (syncing)" : "");
	}
	if (!syncing)
		node_send_status(n, NULL);
out:
	free(ids);
	iolm_codec_free(&b->base);
	return err;
}

static void decided_refused(struct node *n, uint64_t height, int err)
{
	/* Consensus decided a block this ledger refuses: the node cannot go on. */
	IOLM_ERROR(MOD, "cannot commit decided block %llu: %s", (unsigned long long)height,
		   iolm_strerror(err));
	n->fatal = err;
}

static void pending_free(struct node *n)
{
	for (size_t i = 0; i < n->n_pending; i++) {
		free(n->pending[i].block);
		free(n->pending[i].cert);
	}
	n->n_pending = 0;
}

int node_flush_commits(struct node *n)
{
	ledger_block_in in[COMMIT_BATCH];
	uint8_t ids[COMMIT_BATCH][32];
	size_t done = 0;
	int err = IOLM_OK;

	if (!n->n_pending)
		return n->fatal;
	for (size_t i = 0; i < n->n_pending; i++)
		in[i] = (ledger_block_in){ n->pending[i].block, n->pending[i].len,
					   n->pending[i].cert, n->pending[i].cert_len };
	int cerr = ledger_block_commit_many(n->l, in, n->n_pending, n->cache, ids, &done);
	for (size_t i = 0; i < done && !err; i++) {
		const struct node_pending *p = &n->pending[i];
		/* the batch's stats are on its last line */
		err = after_commit(n, p->height, p->round, ids[i], p->block, p->len,
				   i + 1 == done);
	}
	if (cerr)
		decided_refused(n, n->pending[done].height, cerr);
	pending_free(n);
	return cerr ? cerr : err;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	(void)fd;
	(void)what;
	if (node_flush_commits(n) || node_drive(n))
		event_base_loopexit(n->base, NULL);
}

/* A decided block: committed now, or, when block sync delivered it and more are to come,
 * kept for a batch of up to COMMIT_BATCH blocks committed in one LMDB
 * transaction within COMMIT_BATCH_MS (one sync for the batch instead of one per block).
 * The engine has moved on either way; whatever reads the ledger for the engine's height
 * (proposing, judging a proposal) flushes the batch first. */
static int commit_block(struct node *n, const cons_action *a)
{
	uint8_t id[32];
	int err;

	if (n->applying_synced && n->best_peer_height > a->height + 1 && n->flush_ev) {
		struct node_pending *p = &n->pending[n->n_pending];
		p->block = malloc(a->block_len);
		p->cert = malloc(a->cert_len ? a->cert_len : 1);
		if (!p->block || !p->cert) {
			free(p->block);
			free(p->cert);
			return IOLM_ENOMEM;
		}
		memcpy(p->block, a->block, a->block_len);
		memcpy(p->cert, a->cert, a->cert_len);
		p->len = a->block_len;
		p->cert_len = a->cert_len;
		p->height = a->height;
		p->round = a->round;
		if (++n->n_pending == COMMIT_BATCH)
			return node_flush_commits(n);
		if (n->n_pending == 1) {
			struct timeval tv = { 0, COMMIT_BATCH_MS * 1000 };
			evtimer_add(n->flush_ev, &tv);
		}
		return IOLM_OK;
	}
	if ((err = node_flush_commits(n)))
		return err;
	err = ledger_block_commit(n->l, a->block, a->block_len, a->cert, a->cert_len, n->cache, id);
	if (err) {
		decided_refused(n, a->height, err);
		return err;
	}
	return after_commit(n, a->height, a->round, id, a->block, a->block_len, 1);
}

/* What the ledger leaves to the node before it judges a proposal: the certificate inside
 * must carry +2/3 of the signatures (the ledger checks only its shape), and the block's
 * time must not be ahead of our clock by more than MAX_FUTURE_MS. The second is not
 * deterministic, which is why it is a vote here and not a ledger rule: honest validators
 * prevote nil for a block from the future, so none gets +2/3. */
#define MAX_FUTURE_MS 30000

static int check_proposal(struct node *n, const uint8_t *block, size_t len)
{
	Iolm__Block *b;
	Iolm__BlockHeader *h = NULL;
	iolm_buf cert;
	int err = iolm_decode_block(&b, block, len, IOLM_MAX_BLOCK_BYTES);
	if (err)
		return err;
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	if ((err = iolm_decode_block_header(&h, b->header.data, b->header.len, 4096)))
		goto out;
	err = IOLM_ELEDGER_TIME;
	if (h->time_ms > iolm_clock_wall_ms() + MAX_FUTURE_MS)
		goto out;
	err = IOLM_OK;
	if (b->last_commit) {
		cons_cert_info info;
		if ((err = iolm_codec_encode(&cert, &b->last_commit->base)))
			goto out;
		err = cons_cert_verify(n->vs, ledger_genesis_chain_id(n->g), cert.data, cert.len,
				       &info);
	}
out:
	iolm_buf_release(&cert, 0);
	if (h)
		iolm_codec_free(&h->base);
	iolm_codec_free(&b->base);
	return err;
}

/* ---- the engine's actions */

static int do_action(struct node *n, const cons_action *a)
{
	const uint8_t *msg;
	size_t len;
	int err;

	switch (a->kind) {
	case CONS_ACT_SIGN:
		/* On disk (fsync) before it leaves; a refusal means we must not send. */
		err = cons_wal_record(n->wal, a, &msg, &len);
		if (err) {
			IOLM_WARN(MOD, "signing WAL refused height %llu round %u: %s",
				  (unsigned long long)a->height, a->round, iolm_strerror(err));
			return err == IOLM_EIO ? err : IOLM_OK;
		}
		return node_broadcast_msg(n, a->msg_kind, msg, len);
	case CONS_ACT_SEND:
	case CONS_ACT_EVIDENCE:
		return node_broadcast_msg(n, a->msg_kind, a->msg, a->msg_len);
	case CONS_ACT_TIMEOUT:
		return schedule_timeout(n, a);
	case CONS_ACT_GET_BLOCK:
		n->want_block = 1;
		n->want_h = a->height;
		n->want_r = a->round;
		return IOLM_OK; /* answered from try_propose on the tick */
	case CONS_ACT_VALIDATE: {
		if ((err = node_flush_commits(n)))
			return err;
		int rc = check_proposal(n, a->block, a->block_len);
		if (!rc)
			rc = ledger_block_check(n->l, a->block, a->block_len, n->cache);
		if (rc)
			IOLM_INFO(MOD, "proposal for height %llu is invalid: %s",
				  (unsigned long long)a->height, iolm_strerror(rc));
		return cons_engine_on_validated(n->eng, a->height, a->block_id, rc == IOLM_OK);
	}
	case CONS_ACT_COMMIT:
		return commit_block(n, a);
	}
	return IOLM_OK;
}

int node_drive(struct node *n)
{
	cons_action a;
	for (;;) {
		while (!n->fatal && cons_engine_poll(n->eng, &a)) {
			int err = do_action(n, &a);
			if (err && (n->fatal || err == IOLM_EIO || err == IOLM_ENOMEM)) {
				n->fatal = err;
				return err;
			}
		}
		if (n->fatal || !n->n_future || n->future[0].height > cons_engine_height(n->eng))
			break;
		node_future_replay(n); /* the engine reached what we kept */
	}
	return n->fatal;
}

/* ---- the tick: proposals waiting for transactions, status, sync, rebroadcast */

#define PREPARED_MAX_MS 5000

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	uint64_t now = iolm_clock_wall_ms();
	(void)fd;
	(void)what;
	if (try_propose(n))
		IOLM_WARN(MOD, "could not build a block");
	if (now >= n->last_status_ms + STATUS_EVERY_MS) {
		node_send_status(n, NULL);
		n->last_status_ms = now;
	}
	node_sync_tick(n);
	node_art_net_tick(n->artnet, now);
	/* A proposal checked but not decided holds the ledger's writer lock (kept for its
	 * commit); let it go when the height drags on, for mdb_copy and other writers. */
	ledger_release_prepared(n->l, PREPARED_MAX_MS);
	if (now >= n->last_rebroadcast_ms + REBROADCAST_EVERY_MS) {
		if (cons_engine_rebroadcast(n->eng) == IOLM_OK)
			n->last_rebroadcast_ms = now;
	}
	if (node_drive(n))
		event_base_loopexit(n->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;
	(void)what;
	IOLM_INFO(MOD, "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopexit(n->base, NULL);
}

/* ---- RPC backend */

static void get_status(void *ctx, node_status *s)
{
	struct node *n = ctx;
	ledger_head h;
	memset(s, 0, sizeof *s);
	snprintf(s->chain_id, sizeof s->chain_id, "%s", ledger_genesis_chain_id(n->g));
	memcpy(s->node_key, iolm_key_pub(&n->key), 32);
	s->validator_index = n->val_index;
	if (ledger_get_head(n->l, &h) == IOLM_OK) {
		s->height = h.height;
		memcpy(s->block_id, h.block_id, 32);
		s->block_time_ms = h.time_ms;
		memcpy(s->state_root, h.state_root, 32);
	}
	s->cons_height = cons_engine_height(n->eng);
	s->cons_round = cons_engine_round(n->eng);
	s->cons_step = (int)cons_engine_step(n->eng);
	s->peers = node_p2p_peer_count(n->p2p);
	s->mempool_txs = ledger_mempool_count(n->mp);
	s->mempool_bytes = ledger_mempool_bytes(n->mp);
	s->sync_target = n->best_peer_height;
	s->syncing = n->best_peer_height > s->height + 1;
	s->started_ms = n->started_ms;
}


/* ---- attestations */

/* A verdict from the verifier: sign it as an attest transaction and submit it like
 * any other (mempool, then gossip). */
/* The verifier saw a task naming data set id: fetch it from the peers, pinned, unless
 * the store holds it whole (a fetch already under way is left as it is); node/kept.c
 * keeps it until the task is closed. */
static void need_data(void *ctx, const uint8_t task[static 32],
		      const uint8_t id[static LEDGER_ARTIFACT_ID_LEN], uint64_t deadline)
{
	struct node *n = ctx;
	char hex[2 * LEDGER_ARTIFACT_ID_LEN + 1];
	size_t listed, missing = 1;
	int err;
	if (!n->artnet || !n->art)
		return;
	if (art_store_missing(n->art, NULL, 0, &listed, &missing, id) == IOLM_OK && missing == 0) {
		node_kept_data(n->kept, task, id, deadline, 0);
		return;
	}
	iolm_hex_encode(hex, sizeof hex, id, LEDGER_ARTIFACT_ID_LEN);
	if ((err = node_art_net_fetch(n->artnet, id))) {
		IOLM_WARN(MOD, "cannot fetch data set %.16s: %s", hex, iolm_strerror(err));
		return;
	}
	IOLM_INFO(MOD, "fetching data set %.16s from the peers", hex);
	node_kept_data(n->kept, task, id, deadline, 1);
}

static void on_verdict(void *ctx, const uint8_t work[static 32], int valid, uint64_t eval_loss,
		       const uint32_t *segments, size_t nseg, double cpu_s, int reason)
{
	struct node *n = ctx;
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Attest at = IOLM__ATTEST__INIT;
	uint8_t me[IOLM_ADDR_LEN], id[32];
	uint64_t bal, nonce;
	iolm_buf tx;
	char whex[65];

	iolm_hex_encode(whex, sizeof whex, work, 32);
	IOLM_INFO(MOD, "verified work %.16s: %s (%zu segments, %.2f s CPU)%s%s", whex,
		  valid ? "valid" : "INVALID", nseg, cpu_s, valid ? "" : ": ",
		  valid ? "" : iolm_strerror(reason));
	iolm_addr_from_pub(me, iolm_key_pub(&n->key));
	if (ledger_get_account(n->l, me, &bal, &nonce))
		return;
	/* Ours ahead of the account and the last one gone from the mempool: it was left out
	 * of a block, and the mempool dropped the later ones with it. Start again from the
	 * account's next nonce rather than leave a gap no block will ever fill. */
	if (n->attest_nonce > nonce && !ledger_mempool_has(n->mp, n->attest_last))
		n->attest_nonce = nonce;
	if (n->attest_nonce < nonce)
		n->attest_nonce = nonce;
	at.work_id.data = (uint8_t *)work;
	at.work_id.len = 32;
	at.valid = valid;
	at.eval_loss = valid ? eval_loss : 0;
	at.n_segments = nseg;
	at.segments = (uint32_t *)segments;
	b.nonce = n->attest_nonce;
	b.fee = ledger_genesis_params(n->g)->min_fee;
	b.kind_case = IOLM__TX_BODY__KIND_ATTEST;
	b.attest = &at;
	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	int err = ledger_tx_sign(&tx, &b, &n->key, ledger_genesis_chain_id(n->g));
	if (!err)
		err = node_submit_tx(n, tx.data, tx.len, id);
	/* Admission refuses an attestation of a work decided meanwhile (ledger_tx_check): it
	 * would be left out of every block, and take our later ones with it. */
	if (err == IOLM_ELEDGER_WORKDECIDED) {
		IOLM_INFO(MOD, "work %.16s was decided meanwhile; not attesting", whex);
	} else if (err) {
		IOLM_WARN(MOD, "attestation for work %.16s not submitted: %s", whex, iolm_strerror(err));
	} else {
		n->attest_nonce++;
		memcpy(n->attest_last, id, 32);
	}
	iolm_buf_release(&tx, 0);
}

/* ---- start-up and shutdown */

static int load_key(struct node *n, const char *dir)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/node.key", dir);
	int err = iolm_key_load(&n->key, path);
	if (err)
		IOLM_ERROR(MOD, "%s: %s", path, iolm_strerror(err));
	return err;
}

static int open_consensus(struct node *n)
{
	char path[1200];
	ledger_head head;
	cons_config cc;
	int err;

	if ((err = cons_valset_from_genesis(&n->vs, n->g)))
		return err;
	n->val_index = cons_valset_find(n->vs, iolm_key_pub(&n->key));
	if ((err = ledger_get_head(n->l, &head)))
		goto out;
	n->last_block_ms = iolm_clock_wall_ms();
	cons_config_default(&cc);
	cc.chain_id = ledger_genesis_chain_id(n->g);
	cc.block_id = node_block_id;
	cc.ctx = n;
	cc.propose_ms = n->cfg->propose_ms;
	cc.propose_delta_ms = n->cfg->propose_delta_ms;
	cc.prevote_ms = cc.precommit_ms = n->cfg->vote_ms;
	cc.prevote_delta_ms = cc.precommit_delta_ms = n->cfg->vote_delta_ms;
	if ((err = cons_engine_create(&n->eng, &cc, n->vs, n->val_index >= 0 ? &n->key : NULL,
				      head.height + 1)))
		goto out;
	if (n->val_index >= 0) {
		/* Validators re-execute sampled work on a thread of their own. */
		node_verifier_config vc = { .ledger = n->l, .art = n->art, .threads = 1,
					    .validator_index = n->val_index,
					    .done = on_verdict, .need_data = need_data,
					    .keep_checkpoints = n->cfg->art_keep_checkpoints,
					    .kept = on_kept, .ctx = n };
		snprintf(path, sizeof path, "%s/verify", n->cfg->dir);
		vc.work_dir = path;
		if ((err = node_verifier_create(&n->verifier, n->base, &vc)))
			goto out;
		/* What a validator keeps for the chain: checkpoints and task data sets (the
		 * file had the first name while it listed only checkpoints). */
		char old[sizeof path];
		snprintf(old, sizeof old, "%s/kept-checkpoints", n->cfg->dir);
		snprintf(path, sizeof path, "%s/kept", n->cfg->dir);
		if (access(path, F_OK) != 0 && access(old, F_OK) == 0 && rename(old, path) != 0) {
			IOLM_ERROR(MOD, "cannot rename %s to %s", old, path);
			err = IOLM_EIO;
			goto out;
		}
		if (n->art && (err = node_kept_open(&n->kept, path, n->l, n->art)))
			goto out;
	}
	snprintf(path, sizeof path, "%s/cons.wal", n->cfg->dir);
	if ((err = cons_wal_open(&n->wal, path))) {
		IOLM_ERROR(MOD, "%s: %s", path, iolm_strerror(err));
		goto out;
	}
	/* What we signed before a restart, so we re-send it and never contradict it. */
	for (size_t i = 0; n->val_index >= 0 && i < cons_wal_count(n->wal); i++) {
		uint64_t h;
		enum cons_msg_kind kind;
		const uint8_t *msg;
		size_t len;
		if ((err = cons_wal_entry(n->wal, i, &h, &kind, &msg, &len)))
			goto out;
		if (h == head.height + 1 && (err = cons_engine_restore(n->eng, kind, msg, len)))
			goto out;
	}
	err = cons_engine_start(n->eng);
out:
	return err;
}

static int open_ledger(struct node *n)
{
	const node_config *c = n->cfg;
	char path[1200], err[512];
	snprintf(path, sizeof path, "%s/genesis.json", c->dir);
	int rc = ledger_genesis_load(&n->g, path, err, sizeof err);
	if (rc) {
		IOLM_ERROR(MOD, "%s", err);
		return rc;
	}
	snprintf(path, sizeof path, "%s/ledger", c->dir);
	/* Every node runs consensus's end-of-block rules: they are part of the chain. */
	ledger_options opt = { .map_size = c->map_size_mb << 20, .rules = &cons_mining_rules,
			       .no_history = !c->history_index };
	if ((rc = ledger_open(&n->l, path, n->g, &opt))) {
		IOLM_ERROR(MOD, "%s: %s%s", path, iolm_strerror(rc),
			   rc == IOLM_ELEDGER_HISTORY_GAP
				   ? " (set history_index = off again, or start from an empty data "
				     "directory and sync)"
				   : "");
		return rc;
	}
	if (!c->history_index)
		IOLM_INFO(MOD, "account history off (history_index = off): /history answers %s",
			  iolm_strerror(IOLM_ELEDGER_NOHISTORY));
	ledger_mempool_params mp = {
		.max_txs = c->mempool_max_txs,
		.max_bytes = c->mempool_max_bytes,
		.max_per_account = 256,
		.nonce_window = 256,
		.min_fee = ledger_genesis_params(n->g)->min_fee,
		.replace_bump_pct = 10,
		.ttl_blocks = c->mempool_ttl_blocks,
		.check = tx_check,
		.check_ctx = n,
	};
	if ((rc = ledger_sigcache_create(&n->cache, 2 * c->mempool_max_txs)) ||
	    (rc = ledger_mempool_create(&n->mp, &mp, ledger_genesis_chain_id(n->g), n->cache)))
		return rc;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t workers = cores > 2 ? (size_t)cores - 1 : 1;
	if ((rc = node_vpool_create(&n->vpool, n->base, workers, ledger_genesis_chain_id(n->g),
				    n->cache, node_on_verified, n)))
		return rc;
	snprintf(path, sizeof path, "%s/artifacts", c->dir);
	if ((rc = art_store_open(&n->art, path, NULL))) {
		IOLM_ERROR(MOD, "%s: %s", path, iolm_strerror(rc));
		return rc;
	}
	return IOLM_OK;
}

static int open_net(struct node *n)
{
	const node_config *c = n->cfg;
	node_p2p_config pc = {
		.chain_id = ledger_genesis_chain_id(n->g),
		.node_key = &n->key,
		.listen_host = c->p2p_host,
		.listen_port = c->p2p_port,
		.peers = (const char *const *)c->peers,
		.n_peers = c->n_peers,
		.agent = "iolmd/0.1",
	};
	node_p2p_callbacks cb = { node_on_connect, node_on_disconnect, node_on_frame, n };
	int rc;
	if ((rc = node_p2p_create(&n->p2p, n->base, &pc, &cb)) || (rc = node_p2p_start(n->p2p))) {
		IOLM_ERROR(MOD, "p2p on %s:%u: %s", c->p2p_host, c->p2p_port, iolm_strerror(rc));
		return rc;
	}
	if ((rc = node_rpc_cookie_create(c->dir, n->cookie)))
		return rc;
	node_rpc_config rc_cfg = { .host = c->rpc_host, .port = c->rpc_port, .cookie = n->cookie,
				   .public_downloads = c->rpc_public_downloads };
	node_rpc_backend be = { .ledger = n->l, .mempool = n->mp, .p2p = n->p2p,
				.submit_tx = node_submit_tx, .submit_tx_start = node_submit_tx_start,
				.get_status = get_status,
				.write_metrics = node_write_metrics, .ctx = n };
	if ((rc = node_rpc_create(&n->rpc, n->base, &rc_cfg, &be))) {
		IOLM_ERROR(MOD, "rpc on %s:%u: %s", c->rpc_host, c->rpc_port, iolm_strerror(rc));
		return rc;
	}
	node_rpc_set_kept(n->rpc, kept_why, n);
	art_xfer_config ac = { .window = c->art_window,
			       .peer_rate = (uint64_t)c->art_peer_kib_s << 10,
			       .global_rate = (uint64_t)c->art_global_kib_s << 10 };
	if ((rc = node_art_net_create(&n->artnet, n->p2p, n->art, &ac, n->rpc, n->base)))
		return rc;
	node_art_net_resume(n->artnet, n->art);
	if (c->art_keep_mb &&
	    (rc = node_art_net_start_gc(n->artnet, (uint64_t)c->art_keep_mb << 20, NODE_GC_MS)))
		return rc;
	return IOLM_OK;
}

static void node_close(struct node *n)
{
	if (n->l && n->n_pending && node_flush_commits(n))
		IOLM_WARN(MOD, "could not commit the last synced blocks; they will be synced again");
	pending_free(n);
	if (n->flush_ev)
		event_free(n->flush_ev);
	prune_timeouts(n, UINT64_MAX);
	node_rpc_destroy(n->rpc);
	node_art_net_destroy(n->artnet);
	node_p2p_destroy(n->p2p);
	node_future_clear(n);
	node_vpool_destroy(n->vpool);
	node_verifier_destroy(n->verifier);
	node_kept_close(n->kept);
	if (n->tick)
		event_free(n->tick);
	if (n->sigint)
		event_free(n->sigint);
	if (n->sigterm)
		event_free(n->sigterm);
	cons_engine_destroy(n->eng);
	cons_wal_close(n->wal);
	cons_valset_destroy(n->vs);
	ledger_mempool_destroy(n->mp);
	ledger_sigcache_destroy(n->cache);
	ledger_close(n->l);
	art_store_close(n->art);
	ledger_genesis_destroy(n->g);
	if (n->base)
		event_base_free(n->base);
	iolm_key_wipe(&n->key);
}

int node_run(const node_config *c)
{
	struct node n;
	int err;

	memset(&n, 0, sizeof n);
	n.cfg = c;
	n.val_index = -1;
	n.started_ms = iolm_clock_wall_ms();
	n.tx_rate_window_start_ns = iolm_clock_mono_ns();
	iolm_log_configure(c->log_level, c->log_format, 2);
	/* A peer that closes mid-write must cost us an error code, not the process. */
	signal(SIGPIPE, SIG_IGN);
	err = IOLM_ENOMEM;
	if (!(n.base = event_base_new()) || !(n.flush_ev = evtimer_new(n.base, on_flush, &n)))
		goto out;
	if ((err = load_key(&n, c->dir)) || (err = open_ledger(&n)) || (err = open_net(&n)) ||
	    (err = open_consensus(&n)))
		goto out;
	n.sigint = evsignal_new(n.base, SIGINT, on_signal, &n);
	n.sigterm = evsignal_new(n.base, SIGTERM, on_signal, &n);
	n.tick = event_new(n.base, -1, EV_PERSIST, on_tick, &n);
	err = IOLM_ENOMEM;
	if (!n.sigint || !n.sigterm || !n.tick)
		goto out;
	struct timeval tv = { 0, TICK_MS * 1000 };
	event_add(n.sigint, NULL);
	event_add(n.sigterm, NULL);
	event_add(n.tick, &tv);

	ledger_head h;
	if ((err = ledger_get_head(n.l, &h)))
		goto out;
	char addr[IOLM_ADDR_STRLEN + 1];
	uint8_t id[IOLM_ADDR_LEN];
	iolm_addr_from_pub(id, iolm_key_pub(&n.key));
	iolm_addr_encode(addr, id);
	IOLM_INFO(MOD, "iolmd started: chain %s, height %llu, %s %s, p2p %s:%u, rpc %s:%u",
		  ledger_genesis_chain_id(n.g), (unsigned long long)h.height,
		  n.val_index >= 0 ? "validator" : "observer", addr, c->p2p_host,
		  node_p2p_port(n.p2p), c->rpc_host, node_rpc_port(n.rpc));
	if (n.val_index >= 0) {
		uint64_t bal, nonce;
		if (ledger_get_account(n.l, id, &bal, &nonce) == IOLM_OK &&
		    bal < 100 * ledger_genesis_params(n.g)->min_fee)
			IOLM_WARN(MOD, "validator account %s holds %llu: too little to pay the fees of "
				       "its attestations; fund it or its verification votes are lost",
				  addr, (unsigned long long)bal);
	}
	if ((err = node_drive(&n)))
		goto out;
	event_base_dispatch(n.base);
	err = n.fatal;
	IOLM_INFO(MOD, "stopped at height %llu", (unsigned long long)cons_engine_height(n.eng) - 1);
out:
	node_close(&n);
	return err;
}
