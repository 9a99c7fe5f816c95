/* Unit tests of the add and get pipelines (artifacts/add.c, get.c): the pipeline stage
 * their writers run on (pool.c), a reader with more batches than are in flight, and a
 * writer error partway through an add. */
#include "art_test_util.h"

#include "artifacts/art_int.h"

/* Dense forced cuts: 65,536 chunks of 320 bytes, then ordinary ones, in a 24 MiB file.
 * Each 8 MiB read buffer then holds tens of batches of chunks, more than the adder has
 * in flight, so its reader waits on the writer both for batches and for buffers. The
 * file comes back byte for byte, every chunk stored once. */
static void test_dense_cuts_many_batches_per_buffer(void **state)
{
	(void)state;
	char dir[256], store[512], p[512], out[512], back[600];
	uint8_t id[ART_ID_LEN];
	art_add_stats st;
	art_store_stats ss;
	uint64_t *cuts = malloc(ART_MAX_CUTS * sizeof *cuts);
	assert_non_null(cuts);
	for (size_t i = 0; i < ART_MAX_CUTS; i++)
		cuts[i] = (i + 1) * 320;
	t_tmpdir(dir, sizeof dir);
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(p, sizeof p, "%s/f.bin", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(back, sizeof back, "%s/f.bin", out);
	t_write_random(p, 24u << 20, 77);
	art_store *s = t_open(store);
	art_add_options o = { .cuts = cuts, .n_cuts = ART_MAX_CUTS };
	assert_int_equal(art_store_add(s, id, &st, p, &o), IOLM_OK);
	assert_true(st.chunks > ART_MAX_CUTS);
	assert_int_equal(st.new_chunks, st.chunks);
	assert_int_equal(st.new_bytes, 24u << 20);
	assert_int_equal(art_store_get_stats(s, &ss), IOLM_OK);
	assert_int_equal(ss.chunks, st.chunks);
	assert_int_equal(art_store_get(s, id, out), IOLM_OK);
	assert_true(t_same_file(p, back));
	art_store_close(s);
	t_rmrf(dir);
	free(cuts);
}

/* The pipeline stage add and get write through: items run in order on its thread;
 * after an error, later items still run but with failed set, waits report the error,
 * and finish sees it; stopping with abort fails the items still queued. */
struct stage_log {
	int seen[16], failed[16], n, fail_at, finish_failed, finishes;
	art_stage *hold;             /* item 2 waits until this stage is stopping */
};

static int stage_item(void *ctx, void *item, int failed)
{
	struct stage_log *l = ctx;
	int v = *(int *)item, stopping = 0;
	l->seen[l->n] = v;
	l->failed[l->n++] = failed;
	while (v == 2 && l->hold && !stopping) {
		pthread_mutex_lock(&l->hold->mu);
		stopping = l->hold->stopping;
		pthread_mutex_unlock(&l->hold->mu);
		usleep(1000);
	}
	return v == l->fail_at ? IOLM_EIO : IOLM_OK;
}

static int stage_finish(void *ctx, int failed)
{
	struct stage_log *l = ctx;
	l->finishes++;
	l->finish_failed = failed;
	return IOLM_OK;
}

static void test_stage_runs_in_order_and_reports_the_first_error(void **state)
{
	(void)state;
	static int items[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	struct stage_log l = { .fail_at = 3 };
	art_stage st;
	assert_int_equal(art_stage_start(&st, stage_item, stage_finish, &l), IOLM_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(art_stage_push(&st, &items[i]), (uint64_t)i);
	assert_int_equal(art_stage_wait(&st, 3), IOLM_OK);
	assert_int_equal(l.n, 3);
	for (int i = 3; i < 6; i++)
		art_stage_push(&st, &items[i]);
	assert_int_equal(art_stage_wait(&st, 6), IOLM_EIO);
	assert_int_equal(art_stage_stop(&st, 0), IOLM_EIO);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(l.seen[i], i);
		assert_int_equal(l.failed[i], i > 3);
	}
	assert_int_equal(l.finishes, 1);
	assert_int_equal(l.finish_failed, 1);

	/* Stopped with abort while item 2 runs: the items queued behind it fail, finish
	 * too, and the stage has no error. */
	struct stage_log m = { .fail_at = -1, .hold = &st };
	assert_int_equal(art_stage_start(&st, stage_item, stage_finish, &m), IOLM_OK);
	art_stage_push(&st, &items[1]);
	assert_int_equal(art_stage_wait(&st, 1), IOLM_OK);
	for (int i = 2; i < 5; i++)
		art_stage_push(&st, &items[i]);
	assert_int_equal(art_stage_stop(&st, 1), IOLM_OK);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.failed[0], 0);
	assert_int_equal(m.failed[2], 1);
	assert_int_equal(m.failed[3], 1);
	assert_int_equal(m.finish_failed, 1);
	assert_int_equal(art_stage_stop(&st, 0), IOLM_OK); /* stopped already */
}

/* An add that fills the map fails with IOLM_EART_FULL partway through the file: no
 * manifest, no chunk of it kept (its one transaction is aborted), and the store stays
 * usable. A file that does not fit (24 MiB, three read buffers, in a 4 MiB map), then
 * one that does. */
static void test_add_into_a_full_map_fails_cleanly(void **state)
{
	(void)state;
	char d[256], src[300], small[300];
	uint8_t id[ART_ID_LEN];
	art_store *st = NULL;
	art_info info[2];
	size_t n, total;
	art_gc_stats gs;
	art_store_stats ss;
	art_store_options o = { .map_size = 4u << 20, .no_sync = 1 };
	assert_int_equal(art_store_open(&st, t_tmpdir(d, sizeof d), &o), IOLM_OK);
	snprintf(src, sizeof src, "%s/big.bin", d);
	snprintf(small, sizeof small, "%s/small.bin", d);
	t_write_random(src, 24u << 20, 31);
	t_write_random(small, 300u << 10, 32);
	assert_int_equal(art_store_add(st, id, NULL, src, NULL), IOLM_EART_FULL);
	for (size_t i = 0; i < ART_ID_LEN; i++)
		assert_int_equal(id[i], 0);
	assert_int_equal(art_store_list(st, info, 2, &n, &total), IOLM_OK);
	assert_int_equal(total, 0);
	assert_int_equal(art_store_get_stats(st, &ss), IOLM_OK);
	assert_int_equal(ss.chunks, 0);
	assert_int_equal(art_store_gc(st, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, 0);
	assert_int_equal(art_store_add(st, id, NULL, small, NULL), IOLM_OK);
	assert_int_equal(art_store_list(st, info, 2, &n, &total), IOLM_OK);
	assert_int_equal(total, 1);
	assert_int_equal(info[0].total_size, 300u << 10);
	art_store_close(st);
	t_rmrf(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_runs_in_order_and_reports_the_first_error),
		cmocka_unit_test(test_dense_cuts_many_batches_per_buffer),
		cmocka_unit_test(test_add_into_a_full_map_fails_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
