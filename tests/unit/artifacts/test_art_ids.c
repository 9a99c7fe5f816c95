/* Artifact ids and the add's edges: an id-only add, art_file_id without a store, an add
 * and a gc told to stop, a gc in steps, and gc and add excluding each other across
 * processes (gc.lock). */
#include "art_test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/file.h>

/* id_only: the id an add gives, and nothing stored. */
static void test_add_id_only_stores_nothing(void **state)
{
	fixture *f = *state;
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .id_only = 1 };
	art_add_stats st;
	art_store_stats ss;
	t_write_random(f->a, 700000, 9);
	assert_int_equal(art_store_add(f->s, id, &st, f->a, &o), IOLM_OK);
	assert_true(art_id_valid(id));
	assert_int_equal(st.bytes, 700000);
	assert_true(st.chunks > 5);
	assert_int_equal(st.new_chunks, 0);
	assert_int_equal(art_store_get_stats(f->s, &ss), IOLM_OK);
	assert_int_equal(ss.chunks, 0);
	assert_int_equal(ss.artifacts, 0);
	assert_int_equal(art_store_get(f->s, id, f->out), IOLM_ENOTFOUND);
	o.id_only = 0;
	assert_int_equal(art_store_add(f->s, id2, &st, f->a, &o), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	assert_int_equal(st.new_chunks, st.chunks);
}

/* art_file_id gives what art_store_add gives, without storing: files of 0, 1, one
 * chunk's and 19 MiB + 7 bytes (past two of add's 8 MiB buffers), a checkpoint with
 * forced cuts, each kind, and a name given in place of the file's own. */
static void test_file_id_equals_add(void **state)
{
	fixture *f = *state;
	static const uint64_t sizes[] = { 0, 1, ART_CHUNK_MAX, 19u * 1024 * 1024 + 7 };
	uint64_t seeds[6] = { 11, 12, 13, 14, 15, 16 };
	uint8_t a[ART_ID_LEN], b[ART_ID_LEN];
	art_store_stats st;
	for (size_t i = 0; i <= sizeof sizes / sizeof *sizes; i++) {
		if (i < sizeof sizes / sizeof *sizes)
			t_write_random(f->a, sizes[i], 20 + i);
		else
			t_write_ckpt(f->a, 6, 300000, seeds, 21);
		for (int k = ART_KIND_DATASET; k <= ART_KIND_MODEL; k++) {
			art_add_options o = { .kind = (enum art_kind)k };
			assert_int_equal(art_store_add(f->s, a, NULL, f->a, &o), IOLM_OK);
			assert_int_equal(art_file_id(b, f->a, NULL, (enum art_kind)k), IOLM_OK);
			assert_memory_equal(a, b, ART_ID_LEN);
		}
	}
	/* the name is part of the id: the file under another name is another artifact */
	assert_int_equal(art_file_id(b, f->a, "other.bin", ART_KIND_CHECKPOINT), IOLM_OK);
	assert_memory_not_equal(a, b, ART_ID_LEN);
	assert_int_equal(art_file_id(a, f->a, strrchr(f->a, '/') + 1, ART_KIND_MODEL), IOLM_OK);
	assert_int_equal(art_file_id(b, f->a, NULL, ART_KIND_MODEL), IOLM_OK);
	assert_memory_equal(a, b, ART_ID_LEN);
	assert_int_equal(art_file_id(b, f->a, "../x", ART_KIND_MODEL), IOLM_EART_PATH);
	assert_int_equal(art_file_id(b, f->dir, NULL, ART_KIND_MODEL), IOLM_EART_FILETYPE);
	assert_int_equal(art_file_id(b, f->b, NULL, ART_KIND_MODEL), IOLM_ENOTFOUND);
	assert_int_equal(art_file_id(b, f->a, NULL, (enum art_kind)9), IOLM_EINVAL);
	/* and nothing went into the store but what the adds put there */
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.artifacts, 5 * 3);
}

static void *set_later(void *p)
{
	usleep(150000);
	atomic_store((atomic_int *)p, 1);
	return NULL;
}

/* art_add_options.stop: an add told to stop stops (IOLM_EART_STOPPED, no artifact), also
 * while it waits for another process's gc; left alone it completes. */
static void test_add_stops_when_told(void **state)
{
	fixture *f = *state;
	char lock[600];
	atomic_int stop;
	art_add_options o = { .stop = &stop };
	uint8_t id[ART_ID_LEN];
	art_store_stats st;
	pthread_t t;
	int fd;
	atomic_init(&stop, 1);
	t_write_random(f->a, 20u << 20, 3);
	assert_int_equal(art_store_add(f->s, id, NULL, f->a, &o), IOLM_EART_STOPPED);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.artifacts, 0);
	atomic_store(&stop, 0);
	snprintf(lock, sizeof lock, "%s/gc.lock", f->store);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(pthread_create(&t, NULL, set_later, &stop), 0);
	assert_int_equal(art_store_add(f->s, id, NULL, f->a, &o), IOLM_EART_STOPPED);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(fd);
	atomic_store(&stop, 0);
	assert_int_equal(art_store_add(f->s, id, NULL, f->a, &o), IOLM_OK);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.artifacts, 1);
}

struct lock_arg {
	fixture *f;
	int gc;             /* run a gc, else an add of f->a */
	atomic_int done;
	int rc;
};

static void *lock_thread(void *p)
{
	struct lock_arg *g = p;
	uint8_t id[ART_ID_LEN];
	if (g->gc)
		g->rc = art_store_gc(g->f->s, NULL, 0, 0);
	else
		g->rc = art_store_add(g->f->s, id, NULL, g->f->a, NULL);
	atomic_store(&g->done, 1);
	return NULL;
}

/* Run a gc (or an add) while another process holds the store's lock file the other way
 * (here a descriptor of the test's own, which flock treats the same): it waits until
 * the lock is released, then runs. */
static void waits_for_lock(fixture *f, int gc)
{
	char lock[600];
	struct lock_arg g = { .f = f, .gc = gc };
	pthread_t t;
	int fd;
	snprintf(lock, sizeof lock, "%s/gc.lock", f->store);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, gc ? LOCK_SH : LOCK_EX), 0);
	assert_int_equal(pthread_create(&t, NULL, lock_thread, &g), 0);
	usleep(200000);
	assert_int_equal(atomic_load(&g.done), 0);
	close(fd);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&g.done), 1);
	assert_int_equal(g.rc, IOLM_OK);
}

/* `iolmd art gc` beside iolmd: a gc waits for another process's add, whose chunks are
 * unreferenced until its manifest is stored, and an add waits for another's gc. */
/* art_store_gc_steps: more chunks than one step frees, summed over the steps; told to
 * stop before it starts, it frees nothing. */
static void test_gc_in_steps(void **state)
{
	fixture *f = *state;
	const unsigned n = ART_GC_STEP + 904;
	char dir[600], path[700];
	uint8_t id[ART_ID_LEN];
	art_add_stats as;
	art_store_stats st;
	art_gc_stats gs;
	atomic_int stop;
	snprintf(dir, sizeof dir, "%s/many", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (unsigned i = 0; i < n; i++) { /* one chunk each, all different */
		snprintf(path, sizeof path, "%s/f%05u", dir, i);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fprintf(fp, "file %u\n", i);
		assert_int_equal(fclose(fp), 0);
	}
	assert_int_equal(art_store_add(f->s, id, &as, dir, NULL), IOLM_OK);
	assert_int_equal(as.new_chunks, n);
	atomic_init(&stop, 1);
	assert_int_equal(art_store_gc_steps(f->s, &gs, 0, &stop), IOLM_EART_STOPPED);
	assert_int_equal(gs.chunks_freed, 0);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, n);
	assert_int_equal(st.artifacts, 1);
	atomic_store(&stop, 0);
	assert_int_equal(art_store_gc_steps(f->s, &gs, 0, &stop), IOLM_OK);
	assert_int_equal(gs.artifacts_removed, 1);
	assert_int_equal(gs.chunks_freed, n);
	assert_int_equal(gs.bytes_freed, as.bytes);
	assert_int_equal(gs.chunks_pending, 0);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.bytes, 0);
}

static void test_store_lock_between_processes(void **state)
{
	fixture *f = *state;
	art_store_stats st;
	t_write_random(f->a, 300000, 5);
	waits_for_lock(f, 1);
	waits_for_lock(f, 0);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.artifacts, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_id_only_stores_nothing,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_file_id_equals_add,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_add_stops_when_told,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_gc_in_steps, t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_store_lock_between_processes,
						t_store_setup, t_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
