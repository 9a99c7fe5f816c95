/* Atomic commit: a child process commits blocks and is killed with SIGKILL at random
 * moments, at least 200 times. After every kill the ledger reopens at exactly the state a
 * clean replay reaches at its last committed height: same head, same state root, a tree
 * that matches its records, the supply invariant intact, and the same account history
 * (the non-consensus index written in the block's transaction) with totals that add up.
 * Never a partial block.
 *
 * The child runs with LMDB's fsync off: a killed process loses nothing the kernel already
 * has, so this tests atomicity (what SIGKILL can break), not durability against power
 * loss (which is fsync's job and needs a machine to switch off). */
#include "../test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "ledger_fixture.h"

#define N_BLOCKS 40
#define TXS_PER_BLOCK 40
#define KILLS 200

static struct fx F;
static iolm_buf blocks[N_BLOCKS + 1], certs[N_BLOCKS + 1];
static ledger_head ref[N_BLOCKS + 1];

/* The reference chain: built and committed once, cleanly. */
static void build_reference(void)
{
	uint64_t nonce[FX_ACCOUNTS] = { 0 };
	iolm_buf c[TXS_PER_BLOCK];
	uint64_t x = 99;
	assert_int_equal(ledger_get_head(F.l, &ref[0]), IOLM_OK);
	for (int h = 1; h <= N_BLOCKS; h++) {
		fx_bufs_init(c, TXS_PER_BLOCK);
		for (int k = 0; k < TXS_PER_BLOCK; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			int from = (int)((x >> 33) % FX_ACCOUNTS);
			fx_transfer(&F, &c[k], from, F.id[(x >> 45) % FX_ACCOUNTS], 1 + (x >> 55),
				    FX_MIN_FEE, nonce[from]++);
		}
		iolm_buf_init(&blocks[h], IOLM_MAX_BLOCK_BYTES);
		iolm_buf_init(&certs[h], IOLM_MAX_FRAME_BYTES);
		fx_build(&F, &blocks[h], c, TXS_PER_BLOCK, NULL, NULL);
		fx_cert(&F, &certs[h], blocks[h].data, blocks[h].len);
		assert_int_equal(ledger_block_commit(F.l, blocks[h].data, blocks[h].len, certs[h].data,
						     certs[h].len, NULL, NULL),
				 IOLM_OK);
		iolm_buf_reset(&F.last_cert);
		assert_int_equal(iolm_buf_append(&F.last_cert, certs[h].data, certs[h].len), IOLM_OK);
		assert_int_equal(ledger_get_head(F.l, &ref[h]), IOLM_OK);
		fx_bufs_release(c, TXS_PER_BLOCK);
	}
}

/* l, reopened at height h, holds exactly the history the reference held at h: for every
 * account, the same entries, and totals that are their sums. */
static void assert_history_at(ledger *l, uint64_t h)
{
	for (int a = 0; a < FX_ACCOUNTS + FX_VALIDATORS; a++) {
		uint8_t id[IOLM_ADDR_LEN];
		uint64_t totals[LEDGER_HIST_KINDS], sums[LEDGER_HIST_KINDS] = { 0 };
		size_t n, want_n;
		if (a < FX_ACCOUNTS)
			memcpy(id, F.id[a], IOLM_ADDR_LEN);
		else
			iolm_addr_from_pub(id, iolm_key_pub(&F.val[a - FX_ACCOUNTS]));
		ledger_hist_entry *got = fx_history(l, &n, totals, id, UINT64_MAX, 1000, 0);
		ledger_hist_entry *want = fx_history(F.l, &want_n, NULL, id, h + 1, 1000, 0);
		assert_int_equal(n, want_n);
		assert_memory_equal(got, want, n * sizeof *got);
		for (size_t i = 0; i < n; i++)
			sums[got[i].kind] += got[i].amount;
		assert_memory_equal(sums, totals, sizeof sums);
		free(got);
		free(want);
	}
}

/* Child: open the ledger and commit from wherever it stands to the end. */
static void child_run(const char *dir)
{
	ledger *l;
	ledger_head h;
	ledger_options opt = { .map_size = 1u << 30, .no_sync = 1 };
	if (ledger_open(&l, dir, F.g, &opt) || ledger_get_head(l, &h))
		_exit(2);
	for (uint64_t k = h.height + 1; k <= N_BLOCKS; k++)
		if (ledger_block_commit(l, blocks[k].data, blocks[k].len, certs[k].data, certs[k].len,
					NULL, NULL))
			_exit(3);
	ledger_close(l);
	_exit(0);
}

static void sigkill_at_random_moments_never_leaves_a_partial_block(void **state)
{
	char dir[] = "/tmp/iolm-test-crash-XXXXXX";
	int kills = 0, progressed = 0, completions = 0, mid = 0;
	/* A new seed per run widens coverage over time; IOLM_CRASH_SEED replays one. */
	const char *env = getenv("IOLM_CRASH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
	uint64_t last = 0;

	build_reference();
	assert_non_null(mkdtemp(dir));
	printf("crash test seed %llu (replay: IOLM_CRASH_SEED=%llu)\n", (unsigned long long)seed,
	       (unsigned long long)seed);
	while (kills < KILLS) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_run(dir);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* 0..12 ms: a block commit takes a few ms, so kills land everywhere in it */
		struct timespec ts = { 0, (long)((seed >> 33) % 12000) * 1000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			kills++;
		else if (WEXITSTATUS(status) != 0)
			fail_msg("child failed with %d", WEXITSTATUS(status));

		ledger *l;
		ledger_head h;
		fx_open_dir(&F, &l, dir);
		assert_int_equal(ledger_get_head(l, &h), IOLM_OK);
		assert_true(h.height <= N_BLOCKS);
		assert_memory_equal(h.block_id, ref[h.height].block_id, 32);
		assert_memory_equal(h.state_root, ref[h.height].state_root, 32);
		assert_true(h.time_ms == ref[h.height].time_ms);
		assert_int_equal(ledger_verify_state(l), IOLM_OK);
		assert_history_at(l, h.height);
		ledger_close(l);
		if (h.height > last)
			progressed++;
		if (h.height > 0 && h.height < N_BLOCKS)
			mid++;
		last = h.height;
		if (h.height == N_BLOCKS) {
			/* the chain is complete: start over from an empty directory */
			completions++;
			fx_rmdir(dir);
			assert_int_equal(mkdir(dir, 0700), 0);
			last = 0;
		}
	}
	fx_rmdir(dir);
	printf("crash test: %d kills, %d with progress, %d mid-chain, %d full replays\n", kills,
	       progressed, mid, completions);
	/* The kills must have landed while work was being done, not only before or after. */
	assert_true(progressed >= KILLS / 10);
	assert_true(mid >= KILLS / 10);
}

static int setup(void **state)
{
	fx_init(&F, NULL);
	return 0;
}

static int teardown(void **state)
{
	for (int h = 1; h <= N_BLOCKS; h++) {
		iolm_buf_release(&blocks[h], 0);
		iolm_buf_release(&certs[h], 0);
	}
	fx_free(&F);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigkill_at_random_moments_never_leaves_a_partial_block),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
