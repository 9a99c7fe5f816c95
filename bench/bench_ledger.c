/* bench_ledger: the ledger's throughput against limits measured in the same run.
 *
 *   mempool_admission        signed transfers admitted per second, one core; limit:
 *                            Schnorr verifications per second on the same core
 *                            (admission = decode + one verify + bookkeeping; goal >= 0.9)
 *   mempool_full_admission   transfers admitted per second into a full mempool (half
 *                            as many places as accounts), each displacing a cheaper one;
 *                            signatures cached; limit: mempool_admission_cached, the
 *                            same transfers into a mempool with room, so the ratio is
 *                            what being full costs (the victim comes from a heap of the
 *                            accounts' last fees, O(log accounts))
 *   block_apply_tx_per_s     apply + commit of a 10,000-transfer block whose signatures
 *                            are cached (as after mempool admission), as a validator does
 *                            it: ledger_block_check executes it (and keeps the
 *                            execution), ledger_block_commit stores it; from the commit's
 *                            stats (execution, state map, write); limit: the goal,
 *                            50,000 tx/s
 *   block_apply_root_share   share of that commit spent updating the state map (no limit)
 *   block_apply_nohistory_tx_per_s  the same on a ledger that keeps no account history
 *                            (node.conf history_index = off); limit: block_apply_tx_per_s
 *                            of this run, so the ratio is the speed-up
 *   block_commit_p50_ms      durable commit latency of 200-transfer blocks, median and
 *   block_commit_p99_ms      99th percentile; limit: two fdatasync()s on the same disk
 *                            (LMDB's floor per durable commit), measured in the same run
 *   block_commit_write_kib   bytes those commits wrote, per commit (the process's write
 *                            syscalls, /proc/self/io wchar), no limit
 *   block_commit_io_floor_ms the disk's time for that much: as many 4 KiB pages written
 *                            at random places of a file the ledger's size, fdatasync,
 *                            then one more page and fdatasync (LMDB's meta page), median
 *                            of 20; limit: block_commit_p50_ms, so the ratio is the share
 *                            of a commit the disk alone would take
 *
 * Usage: bench_ledger [--quick] [--dir DIR]   (DIR on a real disk; default .) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/ledger.h"
#include "ledger/mempool.h"

#define CHAIN "iolm-bench"

struct world {
	size_t n;
	iolm_key *keys;
	uint8_t (*ids)[IOLM_ADDR_LEN];
	iolm_key val;
	ledger_genesis *g;
	ledger *l;
	char dir[4096];
	uint64_t time_ms;
	iolm_buf last_cert;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_ledger: %s: %s\n", what, iolm_strerror(err));
	exit(1);
}

static void make_key(iolm_key *k, uint32_t i)
{
	uint8_t sec[32];
	iolm_hash(sec, IOLM_TAG_GENESIS, &i, sizeof i);
	if (iolm_key_from_secret(k, sec))
		die("key", IOLM_EBADKEY);
}

static void world_open(struct world *w, size_t n, const char *base, int no_history)
{
	iolm_buf j;
	char err[256], hex[65];
	int rc;

	memset(w, 0, sizeof *w);
	w->n = n;
	w->keys = calloc(n, sizeof *w->keys);
	w->ids = calloc(n, sizeof *w->ids);
	if (!w->keys || !w->ids)
		die("alloc", IOLM_ENOMEM);
	iolm_buf_init(&j, 64u << 20);
	if (iolm_buf_printf(&j, "{\"chain_id\": \"%s\", \"genesis_time_ms\": 1, \"params\": "
				"{\"min_fee\": 1, \"max_block_txs\": 20000}, \"allocations\": [",
			    CHAIN))
		die("genesis", IOLM_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		char a[IOLM_ADDR_STRLEN + 1];
		make_key(&w->keys[i], (uint32_t)i + 1);
		iolm_addr_from_pub(w->ids[i], iolm_key_pub(&w->keys[i]));
		iolm_addr_encode(a, w->ids[i]);
		if (iolm_buf_printf(&j, "%s{\"address\": \"%s\", \"amount\": 1000000000}", i ? "," : "",
				    a))
			die("genesis", IOLM_ENOMEM);
	}
	make_key(&w->val, 0);
	iolm_hex_encode(hex, sizeof hex, iolm_key_pub(&w->val), 32);
	if (iolm_buf_printf(&j, "], \"validators\": [{\"pubkey\": \"%s\", \"power\": 1}]}", hex))
		die("genesis", IOLM_ENOMEM);
	if ((rc = ledger_genesis_parse(&w->g, (const char *)j.data, j.len, err, sizeof err))) {
		fprintf(stderr, "bench_ledger: %s\n", err);
		exit(1);
	}
	iolm_buf_release(&j, 0);
	snprintf(w->dir, sizeof w->dir, "%s/bench-ledger-XXXXXX", base);
	if (!mkdtemp(w->dir))
		die("mkdtemp", IOLM_EIO);
	ledger_options opt = { .map_size = 4ull << 30, .no_history = no_history };
	if ((rc = ledger_open(&w->l, w->dir, w->g, &opt)))
		die("ledger_open", rc);
	w->time_ms = 1;
	iolm_buf_init(&w->last_cert, IOLM_MAX_FRAME_BYTES);
}

static void world_close(struct world *w)
{
	char path[4200];
	ledger_close(w->l);
	ledger_genesis_destroy(w->g);
	snprintf(path, sizeof path, "%s/data.mdb", w->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", w->dir);
	unlink(path);
	rmdir(w->dir);
	for (size_t i = 0; i < w->n; i++)
		iolm_key_wipe(&w->keys[i]);
	free(w->keys);
	free(w->ids);
	iolm_buf_release(&w->last_cert, 0);
}

/* n transfers, one from each of accounts first..first+n-1 at the given nonce. */
static iolm_buf *make_transfers(struct world *w, size_t first, size_t n, uint64_t nonce,
				uint64_t fee)
{
	iolm_buf *t = calloc(n, sizeof *t);
	if (!t)
		die("alloc", IOLM_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		Iolm__TxBody b = IOLM__TX_BODY__INIT;
		Iolm__Transfer tr = IOLM__TRANSFER__INIT;
		size_t from = (first + i) % w->n;
		tr.to.data = w->ids[(from * 7919 + 1) % w->n];
		tr.to.len = IOLM_ADDR_LEN;
		tr.amount = 1 + i % 1000;
		b.nonce = nonce;
		b.fee = fee;
		b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
		b.transfer = &tr;
		iolm_buf_init(&t[i], IOLM_MAX_TX_BYTES);
		int rc = ledger_tx_sign(&t[i], &b, &w->keys[from], CHAIN);
		if (rc)
			die("sign", rc);
	}
	return t;
}

static void free_transfers(iolm_buf *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iolm_buf_release(&t[i], 0);
	free(t);
}

/* A one-validator certificate, signed for real. */
static void make_cert(struct world *w, iolm_buf *out, const iolm_buf *block)
{
	Iolm__Block *b;
	Iolm__BlockHeader *h;
	uint8_t id[32], digest[32], sig[64];
	iolm_buf vb;
	if (iolm_decode_block(&b, block->data, block->len, IOLM_MAX_BLOCK_BYTES) ||
	    iolm_decode_block_header(&h, b->header.data, b->header.len, 4096))
		die("decode block", IOLM_EDECODE);
	iolm_hash(id, IOLM_TAG_BLOCK, b->header.data, b->header.len);
	Iolm__VoteBody v = IOLM__VOTE_BODY__INIT;
	v.chain_id = CHAIN;
	v.type = IOLM__VOTE_TYPE__VOTE_PRECOMMIT;
	v.height = h->height;
	v.block_id.data = id;
	v.block_id.len = 32;
	iolm_buf_init(&vb, 1024);
	if (iolm_codec_encode(&vb, &v.base))
		die("encode", IOLM_ENOMEM);
	iolm_hash(digest, IOLM_TAG_VOTE, vb.data, vb.len);
	if (iolm_sign(&w->val, sig, digest))
		die("sign", IOLM_ECRYPTO);
	Iolm__CommitSig cs = IOLM__COMMIT_SIG__INIT, *csp = &cs;
	cs.signature.data = sig;
	cs.signature.len = 64;
	Iolm__CommitCert c = IOLM__COMMIT_CERT__INIT;
	c.height = h->height;
	c.block_id.data = id;
	c.block_id.len = 32;
	c.n_sigs = 1;
	c.sigs = &csp;
	iolm_buf_reset(out);
	if (iolm_codec_encode(out, &c.base))
		die("encode", IOLM_ENOMEM);
	iolm_buf_release(&vb, 0);
	iolm_codec_free(&h->base);
	iolm_codec_free(&b->base);
}

static void build_block(struct world *w, iolm_buf *blk, iolm_buf *txs, size_t n,
			ledger_sigcache *cache)
{
	const uint8_t **p = malloc(n * sizeof *p);
	size_t *lens = malloc(n * sizeof *lens);
	if (!p || !lens)
		die("alloc", IOLM_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		p[i] = txs[i].data;
		lens[i] = txs[i].len;
	}
	w->time_ms += 1000;
	iolm_buf_reset(blk);
	int rc = ledger_block_build(w->l, blk, p, lens, n, w->time_ms, iolm_key_pub(&w->val),
				    w->last_cert.len ? w->last_cert.data : NULL, w->last_cert.len,
				    cache, NULL, NULL);
	if (rc)
		die("build", rc);
	/* Measured below as a validator applies a proposal: checked (executed, the
	 * execution kept), then committed. The builder's own execution, which also checked
	 * the signatures, is not what is measured. */
	ledger_release_prepared(w->l, 0);
	free(p);
	free(lens);
}

static void commit_block(struct world *w, const iolm_buf *blk, ledger_sigcache *cache)
{
	iolm_buf cert;
	iolm_buf_init(&cert, IOLM_MAX_FRAME_BYTES);
	make_cert(w, &cert, blk);
	int rc = ledger_block_check(w->l, blk->data, blk->len, cache);
	if (rc)
		die("check", rc);
	rc = ledger_block_commit(w->l, blk->data, blk->len, cert.data, cert.len, cache, NULL);
	if (rc)
		die("commit", rc);
	iolm_buf_reset(&w->last_cert);
	if (iolm_buf_append(&w->last_cert, cert.data, cert.len))
		die("cert", IOLM_ENOMEM);
	iolm_buf_release(&cert, 0);
}

struct acct_ctx {
	ledger *l;
};

static int account_cb(void *ctx, const uint8_t id[static 20], uint64_t *bal, uint64_t *nonce)
{
	return ledger_get_account(((struct acct_ctx *)ctx)->l, id, bal, nonce);
}

static double verify_rate(const iolm_buf *txs, size_t n)
{
	/* Bare BIP340 verifications of the same signatures. */
	ledger_tx *t = calloc(n, sizeof *t);
	uint8_t (*dg)[32] = calloc(n, 32);
	if (!t || !dg)
		die("alloc", IOLM_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		if (ledger_tx_decode(&t[i], CHAIN, txs[i].data, txs[i].len))
			die("decode", IOLM_EDECODE);
		ledger_tx_sighash(dg[i], CHAIN, t[i].env->body.data, t[i].env->body.len);
	}
	double t0 = bench_now();
	for (size_t i = 0; i < n; i++)
		if (iolm_verify(t[i].env->signature.data, dg[i], t[i].sender_pub))
			die("verify", IOLM_EBADSIG);
	double rate = (double)n / (bench_now() - t0);
	for (size_t i = 0; i < n; i++)
		ledger_tx_release(&t[i]);
	free(t);
	free(dg);
	return rate;
}

/* Admit n encoded transactions into mp (each must be admitted); admissions per second. */
static double admit_all(ledger_mempool *mp, const iolm_buf *txs, size_t n, struct acct_ctx *ctx)
{
	double t0 = bench_now();
	for (size_t i = 0; i < n; i++) {
		int rc = ledger_mempool_add(mp, txs[i].data, txs[i].len, account_cb, ctx, NULL);
		if (rc)
			die("admission", rc);
	}
	return (double)n / (bench_now() - t0);
}

static void bench_admission(struct world *w, size_t n)
{
	iolm_buf *txs = make_transfers(w, 0, n, 0, 1);
	ledger_mempool *mp;
	ledger_sigcache *cache;
	ledger_mempool_params p = { .max_txs = 2 * n, .max_bytes = 64u << 20,
				    .max_per_account = 64, .nonce_window = 64, .min_fee = 1,
				    .replace_bump_pct = 10 };
	struct acct_ctx ctx = { w->l };
	int rc;

	double vrate = verify_rate(txs, n);
	if ((rc = ledger_sigcache_create(&cache, 2 * n)) ||
	    (rc = ledger_mempool_create(&mp, &p, CHAIN, cache)))
		die("mempool", rc);
	double arate = admit_all(mp, txs, n, &ctx);
	bench_figure("mempool_admission", arate, "tx/s", "schnorr_verify_per_s", vrate);
	ledger_mempool_destroy(mp);

	/* A full mempool: the first half of the accounts fill it at fee 1; the other half
	 * each displace one of them, paying 2. Signatures cached, as above. */
	size_t half = n / 2;
	iolm_buf *richer = make_transfers(w, half, n - half, 0, 2);
	for (size_t i = 0; i < n - half; i++) {
		ledger_tx t;
		if ((rc = ledger_tx_decode(&t, CHAIN, richer[i].data, richer[i].len)))
			die("decode", rc);
		ledger_sigcache_add(cache, t.id);
		ledger_tx_release(&t);
	}
	/* the limit: the same admissions with room to spare */
	if ((rc = ledger_mempool_create(&mp, &p, CHAIN, cache)))
		die("mempool", rc);
	double crate = admit_all(mp, richer, n - half, &ctx);
	ledger_mempool_destroy(mp);
	p.max_txs = half;
	if ((rc = ledger_mempool_create(&mp, &p, CHAIN, cache)))
		die("mempool", rc);
	admit_all(mp, txs, half, &ctx);
	double frate = admit_all(mp, richer, n - half, &ctx);
	if (ledger_mempool_evicted(mp) != n - half)
		die("full admission", IOLM_EINVAL);
	bench_figure("mempool_full_admission", frate, "tx/s", "mempool_admission_cached", crate);
	ledger_mempool_destroy(mp);
	ledger_sigcache_destroy(cache);
	free_transfers(txs, n);
	free_transfers(richer, n - half);
}

/* Apply and commit one block of n transfers; returns its rate. with 0: the ledger keeps
 * history (block_apply_tx_per_s); otherwise it does not, and `with` is the rate with. */
static double bench_block_apply(struct world *w, size_t n, double with)
{
	iolm_buf *txs = make_transfers(w, 0, n, 0, 1);
	iolm_buf blk;
	ledger_sigcache *cache;
	ledger_commit_stats st;
	int rc;

	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	if ((rc = ledger_sigcache_create(&cache, 2 * n)))
		die("cache", rc);
	/* Building as proposer verifies each signature once and fills the cache, as
	 * admission would have. */
	build_block(w, &blk, txs, n, cache);
	commit_block(w, &blk, cache);
	ledger_get_commit_stats(w->l, &st);
	if (st.txs != n)
		die("block left transactions out", IOLM_ESTATE);
	double rate = (double)n / ((double)st.total_ns / 1e9);
	if (with > 0) {
		bench_figure("block_apply_nohistory_tx_per_s", rate, "tx/s",
			     "block_apply_tx_per_s", with);
	} else {
		bench_figure("block_apply_tx_per_s", rate, "tx/s", "goal_tx_per_s", 50000.0);
		bench_figure("block_apply_root_share", (double)st.root_ns / (double)st.total_ns,
			     "fraction", NULL, 0);
	}
	iolm_buf_release(&blk, 0);
	ledger_sigcache_destroy(cache);
	free_transfers(txs, n);
	return rate;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double fsync_ms(const char *dir, int rounds)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/bench-fsync.tmp", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char rec[4096];
	memset(rec, 'f', sizeof rec);
	if (fd < 0)
		die("fsync file", IOLM_EIO);
	double t0 = bench_now();
	for (int i = 0; i < rounds; i++)
		if (pwrite(fd, rec, sizeof rec, (off_t)(i % 64) * (off_t)sizeof rec) < 0 ||
		    fdatasync(fd))
			die("fdatasync", IOLM_EIO);
	double ms = (bench_now() - t0) * 1000.0 / rounds;
	close(fd);
	unlink(path);
	return ms;
}

/* Bytes this process has passed to write syscalls (0 when /proc is not there). */
static uint64_t wchar(void)
{
	char line[128];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/self/io", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Median ms of writing `pages` 4 KiB pages at random places of a `file_bytes` file, one
 * fdatasync, then one page and another fdatasync. */
static double io_floor_ms(const char *dir, size_t pages, uint64_t file_bytes)
{
	char path[4200], rec[4096];
	double t[20];
	uint64_t rng = 0x9e3779b97f4a7c15ull, slots = file_bytes / sizeof rec;
	snprintf(path, sizeof path, "%s/bench-floor.tmp", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(rec, 'w', sizeof rec);
	if (fd < 0 || slots < 2 || ftruncate(fd, (off_t)file_bytes) || fdatasync(fd))
		die("floor file", IOLM_EIO);
	for (int r = 0; r < 20; r++) {
		double t0 = bench_now();
		for (size_t i = 0; i < pages; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			off_t at = (off_t)((rng >> 11) % slots) * (off_t)sizeof rec;
			if (pwrite(fd, rec, sizeof rec, at) != (ssize_t)sizeof rec)
				die("floor write", IOLM_EIO);
		}
		if (fdatasync(fd) || pwrite(fd, rec, sizeof rec, 0) != (ssize_t)sizeof rec ||
		    fdatasync(fd))
			die("floor sync", IOLM_EIO);
		t[r] = (bench_now() - t0) * 1000.0;
	}
	close(fd);
	unlink(path);
	qsort(t, 20, sizeof t[0], cmp_double);
	return t[10];
}

static void bench_latency(struct world *w, int blocks, size_t per_block, uint64_t nonce)
{
	double *lat = malloc((size_t)blocks * sizeof *lat);
	iolm_buf blk;
	ledger_sigcache *cache;
	ledger_commit_stats st;
	int rc;
	if (!lat || (rc = ledger_sigcache_create(&cache, per_block * 4)))
		die("alloc", IOLM_ENOMEM);
	iolm_buf_init(&blk, IOLM_MAX_BLOCK_BYTES);
	uint64_t written = 0;
	for (int b = 0; b < blocks; b++) {
		size_t first = ((size_t)b * per_block) % w->n;
		uint64_t round = nonce + ((size_t)b * per_block) / w->n;
		iolm_buf *txs = make_transfers(w, first, per_block, round, 1);
		build_block(w, &blk, txs, per_block, cache);
		uint64_t w0 = wchar();
		commit_block(w, &blk, cache);
		written += wchar() - w0;
		ledger_get_commit_stats(w->l, &st);
		lat[b] = (double)st.total_ns / 1e6;
		free_transfers(txs, per_block);
	}
	qsort(lat, (size_t)blocks, sizeof *lat, cmp_double);
	double two_fsync = 2.0 * fsync_ms(w->dir, 50);
	bench_figure("block_commit_p50_ms", lat[blocks / 2], "ms", "two_fsync_ms", two_fsync);
	bench_figure("block_commit_p99_ms", lat[(blocks * 99) / 100], "ms", "two_fsync_ms",
		     two_fsync);
	double kib = (double)written / blocks / 1024.0;
	bench_figure("block_commit_write_kib", kib, "KiB", NULL, 0);
	if (written) {
		char path[4200];
		struct stat sb;
		snprintf(path, sizeof path, "%s/data.mdb", w->dir);
		if (stat(path, &sb))
			die("stat ledger", IOLM_EIO);
		double floor = io_floor_ms(w->dir, (size_t)(kib / 4.0 + 0.5), (uint64_t)sb.st_size);
		bench_figure("block_commit_io_floor_ms", floor, "ms", "block_commit_p50_ms",
			     lat[blocks / 2]);
	}
	iolm_buf_release(&blk, 0);
	ledger_sigcache_destroy(cache);
	free(lat);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	const char *dir = ".";
	struct world w;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
	if (iolm_crypto_init())
		return 1;
	size_t n = quick ? 1000 : 10000;
	world_open(&w, n, dir, 0);
	bench_admission(&w, n);
	double with = bench_block_apply(&w, n, 0);
	/* every account has used nonce 0 in the block above */
	bench_latency(&w, quick ? 10 : 200, quick ? 50 : 200, 1);
	world_close(&w);
	world_open(&w, n, dir, 1);
	bench_block_apply(&w, n, with);
	world_close(&w);
	return 0;
}
