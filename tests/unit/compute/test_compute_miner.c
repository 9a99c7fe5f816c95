/* compute_miner_run: a run's claim and checkpoints verify; a run continued from a parent
 * checkpoint is bit for bit the longer run (also when trained data-parallel); a parent that is not the committed state is
 * refused; bad steps and a stopping progress callback end the run with their codes; a
 * run stopped part way resumes from its progress log to the claim an unbroken run
 * makes, and starts afresh when the log is another run's or its checkpoint is bad. */
#define _DEFAULT_SOURCE
#include "../test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "compute/compute.h"
#include "compute/dp.h"
#include "compute/miner.h"

#define K 2
#define DATA_LEN 2048

struct fixture {
	char root[64], a[96], b[96], c[96];
	compute_task task;
	uint8_t data[DATA_LEN];
	compute_backend *be;
};

static void rm_dir(const char *dir)
{
	char path[512];
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->root, sizeof f->root, "/tmp/iolm-miner-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->a, sizeof f->a, "%s/a", f->root);
	snprintf(f->b, sizeof f->b, "%s/b", f->root);
	snprintf(f->c, sizeof f->c, "%s/c", f->root);
	f->task.id[0] = 9;
	f->task.cfg = (compute_config){ 1, 16, 2, 8, COMPUTE_VOCAB, 3 };
	compute_optim_default(&f->task.opt);
	f->task.opt.lr = 1e-2f;
	f->task.opt.total_steps = 8;
	f->task.batch = 2;
	f->task.seg_len = K;
	f->task.samples = 8;
	f->task.eval_windows = 8;
	for (size_t i = 0; i < DATA_LEN; i++)
		f->data[i] = (uint8_t)("pack my box with five dozen liquor jugs. "[i % 41]);
	assert_int_equal(compute_backend_cpu_create(&f->be, 2), IOLM_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rm_dir(f->a);
	rm_dir(f->b);
	rm_dir(f->c);
	rmdir(f->root);
	compute_backend_destroy(f->be);
	free(f);
	return 0;
}

static compute_miner_params params(struct fixture *f, const char *dir, uint64_t steps)
{
	return (compute_miner_params){ .task = &f->task, .be = f->be, .train = f->data,
				       .train_len = DATA_LEN, .eval = f->data,
				       .eval_len = DATA_LEN, .steps = steps, .out_dir = dir };
}

static void read_claim(const char *dir, uint8_t **out, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, COMPUTE_MINER_CLAIM_FILE);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	*out = malloc(1 << 16);
	*len = fread(*out, 1, 1 << 16, fp);
	fclose(fp);
	assert_true(*len > 0);
}

/* The claim a run writes decodes, hashes to its root and passes the verifier with every
 * segment sampled, from the run's own directory. */
static void run_writes_a_claim_that_verifies(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, 3 * K);
	compute_miner_result r;
	compute_verdict v;
	uint8_t *claim, seed[32] = { 1 };
	size_t len;
	p.initial_eval = 1;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.start_step, 0);
	assert_int_equal(r.end_step, 3 * K);
	assert_true(r.eval_loss > 0 && r.initial_eval_loss > r.eval_loss_f);
	read_claim(f->a, &claim, &len);
	assert_int_equal(compute_verify(&v, f->be, &f->task, claim, len, r.proof_root, seed, f->a,
					f->data, DATA_LEN, f->data, DATA_LEN), IOLM_OK);
	assert_int_equal(v.reason, IOLM_OK);
	assert_int_equal(v.nsampled, 3);
	free(claim);
}

/* Steps [0, 2K) then [2K, 4K) from the first run's final checkpoint end in the state of
 * one run over [0, 4K); the continued claim starts at 2K and verifies from its own
 * directory. */
static void continued_run_equals_the_longer_run(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, 2 * K);
	compute_miner_result r1, r2, whole;
	compute_verdict v;
	char parent[256];
	uint8_t *claim, seed[32] = { 2 };
	size_t len;

	assert_int_equal(compute_miner_run(&r1, &p), IOLM_OK);
	assert_int_equal(compute_checkpoint_name(parent, sizeof parent, f->a, 2 * K), IOLM_OK);
	p = params(f, f->b, 2 * K);
	p.parent_ckpt = parent;
	p.parent_state = r1.final_state;
	p.parent_step = r1.end_step;
	assert_int_equal(compute_miner_run(&r2, &p), IOLM_OK);
	assert_int_equal(r2.start_step, 2 * K);
	assert_int_equal(r2.end_step, 4 * K);
	p = params(f, f->c, 4 * K);
	assert_int_equal(compute_miner_run(&whole, &p), IOLM_OK);
	assert_memory_equal(r2.final_state, whole.final_state, 32);
	assert_int_equal(r2.eval_loss, whole.eval_loss);
	read_claim(f->b, &claim, &len);
	assert_int_equal(compute_verify(&v, f->be, &f->task, claim, len, r2.proof_root, seed, f->b,
					f->data, DATA_LEN, f->data, DATA_LEN), IOLM_OK);
	assert_int_equal(v.reason, IOLM_OK);
	free(claim);
}

/* A data-parallel run (two CPU ranks, one sequence each) writes a claim the
 * single-backend verifier accepts, and continued from its own checkpoint it ends
 * where one single-backend run over all the steps ends. */
static void data_parallel_run_verifies_on_one_backend(void **state)
{
	struct fixture *f = *state;
	compute_backend *be[2];
	compute_dp_transport *tr;
	compute_miner_result r1, r2, whole;
	compute_verdict v;
	char parent[256];
	uint8_t *claim, seed[32] = { 3 };
	size_t len;
	for (int r = 0; r < 2; r++)
		assert_int_equal(compute_backend_cpu_create(&be[r], 1), IOLM_OK);
	assert_int_equal(compute_dp_transport_local_create(&tr, be, 2), IOLM_OK);
	compute_miner_params p = params(f, f->b, 2 * K);
	p.be = NULL;
	p.ranks = be;
	p.nranks = 2;
	p.dp_tr = tr;
	assert_int_equal(compute_miner_run(&r1, &p), IOLM_OK);
	read_claim(f->b, &claim, &len);
	assert_int_equal(compute_verify(&v, f->be, &f->task, claim, len, r1.proof_root, seed, f->b,
					f->data, DATA_LEN, f->data, DATA_LEN), IOLM_OK);
	assert_int_equal(v.reason, IOLM_OK);
	assert_int_equal(v.nsampled, 2);
	assert_int_equal(compute_checkpoint_name(parent, sizeof parent, f->b, 2 * K), IOLM_OK);
	p.out_dir = f->c;
	p.parent_ckpt = parent;
	p.parent_state = r1.final_state;
	p.parent_step = r1.end_step;
	assert_int_equal(compute_miner_run(&r2, &p), IOLM_OK);
	compute_miner_params q = params(f, f->a, 4 * K);
	assert_int_equal(compute_miner_run(&whole, &q), IOLM_OK);
	assert_memory_equal(r2.final_state, whole.final_state, 32);
	assert_int_equal(r2.eval_loss, whole.eval_loss);
	free(claim);
	compute_dp_transport_destroy(tr);
	for (int r = 0; r < 2; r++)
		compute_backend_destroy(be[r]);
}

/* A parent checkpoint whose state or step is not the committed one is refused before
 * any training, and so is a missing one. */
static void parent_not_the_committed_state_is_refused(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, K);
	compute_miner_result r, r2;
	char parent[256];
	uint8_t wrong[32];

	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(compute_checkpoint_name(parent, sizeof parent, f->a, K), IOLM_OK);
	memcpy(wrong, r.final_state, 32);
	wrong[5] ^= 1;
	p = params(f, f->b, K);
	p.parent_ckpt = parent;
	p.parent_state = wrong;
	p.parent_step = K;
	assert_int_equal(compute_miner_run(&r2, &p), IOLM_EVERIFY_CKPT);
	assert_int_equal(r2.end_step, 0);
	p.parent_state = r.final_state;
	p.parent_step = K + 1;
	assert_int_equal(compute_miner_run(&r2, &p), IOLM_EVERIFY_SKIP);
	assert_int_equal(compute_checkpoint_name(parent, sizeof parent, f->a, 99), IOLM_OK);
	p.parent_step = K;
	assert_int_equal(compute_miner_run(&r2, &p), IOLM_ENOTFOUND);
}

static void steps_not_whole_segments_are_refused(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, K + 1);
	compute_miner_result r;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_EINVAL);
	p.steps = 0;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_EINVAL);
}

static int stop_at_two(void *ctx, const compute_miner_progress *pr)
{
	int *calls = ctx;
	(*calls)++;
	return pr->done >= 2 ? IOLM_ETIMEOUT : IOLM_OK;
}

/* The callback sees the initial eval first, then steps; its non-zero code ends the run. */
static void progress_callback_can_stop_the_run(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, 4 * K);
	compute_miner_result r;
	int calls = 0;
	p.initial_eval = 1;
	p.progress = stop_at_two;
	p.progress_ctx = &calls;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_ETIMEOUT);
	assert_int_equal(calls, 3); /* initial, step 1, step 2 */
}

static int stop_at_three(void *ctx, const compute_miner_progress *pr)
{
	(void)ctx;
	return pr->step >= 3 ? IOLM_ETIMEOUT : IOLM_OK;
}

static void read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	*out = malloc(1 << 20);
	*len = fread(*out, 1, 1 << 20, fp);
	fclose(fp);
}

/* dir's claim is want's bytes, and the run's result the unbroken one's. */
static void same_claim(const char *dir, const uint8_t *want, size_t want_len,
		       const compute_miner_result *r, const compute_miner_result *whole)
{
	uint8_t *claim;
	size_t len;
	read_claim(dir, &claim, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(claim, want, len);
	assert_memory_equal(r->proof_root, whole->proof_root, 32);
	assert_memory_equal(r->final_state, whole->final_state, 32);
	assert_int_equal(r->eval_loss, whole->eval_loss);
	free(claim);
}

/* Stop dir's 4K-step run after step 3: the log then holds segment 0 (steps 0, 1). */
static void stopped_run(struct fixture *f, const char *dir)
{
	compute_miner_params p = params(f, dir, 4 * K);
	compute_miner_result r;
	p.progress = stop_at_three;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_ETIMEOUT);
}

static void stopped_run_resumes_to_the_unbroken_claim(void **state)
{
	struct fixture *f = *state;
	compute_miner_params p = params(f, f->a, 4 * K);
	compute_miner_result whole, r;
	uint8_t *want;
	size_t want_len;
	char path[256];
	FILE *fp;
	assert_int_equal(compute_miner_run(&whole, &p), IOLM_OK);
	read_claim(f->a, &want, &want_len);

	/* stopped after step 3, resumed: the first segment is taken from the log */
	stopped_run(f, f->b);
	p = params(f, f->b, 4 * K);
	p.resume = 1;
	p.initial_eval = 1;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, K);
	assert_true(r.initial_eval_loss == 0.0f); /* not the parent's: nothing evaluated */
	same_claim(f->b, want, want_len, &r, &whole);
	/* resumed once more, finished: every segment from the log, the same claim again */
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, 4 * K);
	same_claim(f->b, want, want_len, &r, &whole);

	/* a line a crash cut short does not count, and is written over */
	stopped_run(f, f->c);
	snprintf(path, sizeof path, "%s/progress.log", f->c);
	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("seg 1 00ff", fp);
	fclose(fp);
	p.out_dir = f->c;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, K);
	same_claim(f->c, want, want_len, &r, &whole);
	uint8_t *log;
	size_t log_len, lines = 0;
	read_file(path, &log, &log_len);
	for (size_t i = 0; i < log_len; i++)
		lines += log[i] == '\n';
	assert_int_equal(lines, 1 + 4); /* the header, a line per segment */
	assert_int_equal(log[log_len - 1], '\n');
	free(log);

	/* the checkpoint the log ends at, damaged: started afresh, the same claim */
	stopped_run(f, f->c);
	snprintf(path, sizeof path, "%s/ckpt-%08d.bin", f->c, K);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 100, SEEK_SET), 0);
	fputc(0x5a, fp);
	fclose(fp);
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, 0);
	same_claim(f->c, want, want_len, &r, &whole);

	/* another run's log (other training bytes, or other steps): started afresh */
	stopped_run(f, f->c);
	uint8_t other[DATA_LEN];
	memcpy(other, f->data, DATA_LEN);
	other[DATA_LEN - 1] ^= 1;
	p.train = other;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, 0);
	stopped_run(f, f->c);
	p.train = f->data;
	p.steps = 6 * K;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, 0);
	assert_int_equal(r.end_step, 6 * K);

	/* trained data-parallel on two ranks, stopped and resumed: the same bits again */
	compute_backend *be[2];
	compute_dp_transport *tr;
	for (int i = 0; i < 2; i++)
		assert_int_equal(compute_backend_cpu_create(&be[i], 1), IOLM_OK);
	assert_int_equal(compute_dp_transport_local_create(&tr, be, 2), IOLM_OK);
	p = params(f, f->c, 4 * K);
	p.be = NULL;
	p.ranks = be;
	p.nranks = 2;
	p.dp_tr = tr;
	p.progress = stop_at_three;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_ETIMEOUT);
	p.progress = NULL;
	p.resume = 1;
	assert_int_equal(compute_miner_run(&r, &p), IOLM_OK);
	assert_int_equal(r.resumed_steps, K);
	same_claim(f->c, want, want_len, &r, &whole);
	compute_dp_transport_destroy(tr);
	for (int i = 0; i < 2; i++)
		compute_backend_destroy(be[i]);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(run_writes_a_claim_that_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(data_parallel_run_verifies_on_one_backend, setup,
						teardown),
		cmocka_unit_test_setup_teardown(continued_run_equals_the_longer_run, setup,
						teardown),
		cmocka_unit_test_setup_teardown(parent_not_the_committed_state_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(steps_not_whole_segments_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stopped_run_resumes_to_the_unbroken_claim, setup,
						teardown),
		cmocka_unit_test_setup_teardown(progress_callback_can_stop_the_run, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
