/* Task files: the documented format parses, every bad line is refused with its number. */
#include "../test_util.h"

#include <stdio.h>

#include "compute/compute.h"

#define ID "task_id = 00000000000000000000000000000000000000000000000000000000000000ff\n"

static int parse(compute_task_file *tf, unsigned *line, const char *text)
{
	return compute_task_file_parse(tf, line, text, strlen(text));
}

static void full_task_file_parses(void **state)
{
	(void)state;
	compute_task_file tf;
	unsigned line = 99;
	const char *text = "# a task\n" ID
			   "dataset = /data/train.txt   # the training set\n"
			   "eval=/data/eval.txt\n"
			   "n_layer = 3\nn_embd = 48\nn_head = 6\nseq_len = 32\ninit_seed = 12345678901\n"
			   "lr = 0.002\nbeta1 = 0.8\nbeta2 = 0.99\neps = 1e-6\nweight_decay = 0\n"
			   "warmup_steps = 10\ntotal_steps = 500\ngrad_clip = 1.5\nbatch_size = 4\n"
			   "segment_len = 25\nsamples = 6\neval_windows = 0\n\n   \n";
	assert_int_equal(parse(&tf, &line, text), IOLM_OK);
	assert_int_equal(line, 0);
	assert_int_equal(tf.task.id[31], 0xff);
	assert_string_equal(tf.dataset, "/data/train.txt");
	assert_string_equal(tf.eval, "/data/eval.txt");
	assert_int_equal(tf.task.cfg.n_layer, 3);
	assert_int_equal(tf.task.cfg.n_embd, 48);
	assert_int_equal(tf.task.cfg.n_head, 6);
	assert_int_equal(tf.task.cfg.seq_len, 32);
	assert_int_equal(tf.task.cfg.init_seed, 12345678901ull);
	assert_true(tf.task.opt.lr == 0.002f && tf.task.opt.beta1 == 0.8f);
	assert_true(tf.task.opt.beta2 == 0.99f && tf.task.opt.eps == 1e-6f);
	assert_true(tf.task.opt.weight_decay == 0.0f && tf.task.opt.grad_clip == 1.5f);
	assert_int_equal(tf.task.opt.warmup_steps, 10);
	assert_int_equal(tf.task.opt.total_steps, 500);
	assert_int_equal(tf.task.batch, 4);
	assert_int_equal(tf.task.seg_len, 25);
	assert_int_equal(tf.task.samples, 6);
	assert_int_equal(tf.task.eval_windows, 0);
}

static void minimal_task_file_takes_defaults(void **state)
{
	(void)state;
	compute_task_file tf;
	unsigned line;
	assert_int_equal(parse(&tf, &line, ID "dataset = d"), IOLM_OK);
	assert_int_equal(tf.task.cfg.vocab, COMPUTE_VOCAB);
	assert_int_equal(tf.task.samples, COMPUTE_DEFAULT_SAMPLES);
	assert_string_equal(tf.eval, "");
	assert_int_equal(compute_config_check(&tf.task.cfg), IOLM_OK);
}

static void bad_task_files_are_refused_with_their_line(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int err;
		unsigned line;
	} cases[] = {
		{ ID "dataset = d\nfoo = 1\n", IOLM_ETASKFILE, 3 },         /* unknown key */
		{ ID "dataset = d\nn_layer = 2\nn_layer = 2\n", IOLM_ETASKFILE, 4 }, /* twice */
		{ ID "dataset = d\nn_layer 2\n", IOLM_ETASKFILE, 3 },       /* no '=' */
		{ ID "dataset = d\nn_layer = -2\n", IOLM_ETASKFILE, 3 },    /* negative */
		{ ID "dataset = d\nn_layer = 2x\n", IOLM_ETASKFILE, 3 },    /* junk */
		{ ID "dataset = d\nbatch_size = 4294967296\n", IOLM_ETASKFILE, 3 },
		{ ID "dataset = d\nlr = fast\n", IOLM_ETASKFILE, 3 },
		{ "task_id = 12\ndataset = d\n", IOLM_ETASKFILE, 1 },       /* short hex */
		{ ID "dataset = \n", IOLM_ETASKFILE, 2 },                   /* empty path */
		{ "dataset = d\n", IOLM_ETASKFILE, 0 },                     /* no task_id */
		{ ID, IOLM_ETASKFILE, 0 },                                  /* no dataset */
		{ ID "dataset = d\nn_embd = 30\nn_head = 4\n", IOLM_ECONFIG, 0 },
		{ ID "dataset = d\nlr = 0\n", IOLM_ECONFIG, 0 },
		{ ID "dataset = d\nsamples = 65\n", IOLM_ECONFIG, 0 },
		{ ID "dataset = d\nsegment_len = 0\n", IOLM_ECONFIG, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		compute_task_file tf;
		unsigned line = 77;
		int err = parse(&tf, &line, cases[i].text);
		if (err != cases[i].err || line != cases[i].line)
			printf("# case %zu: %d at %u\n", i, err, line);
		assert_int_equal(err, cases[i].err);
		assert_int_equal(line, cases[i].line);
	}
	/* a NUL byte and an oversized file */
	compute_task_file tf;
	unsigned line;
	const char nul[] = ID "dataset = d\0x\n";
	assert_int_equal(compute_task_file_parse(&tf, &line, nul, sizeof nul - 1), IOLM_ETASKFILE);
	assert_int_equal(compute_task_file_parse(&tf, &line, nul, COMPUTE_TASK_FILE_MAX + 1),
			 IOLM_ETOOBIG);
	assert_int_equal(compute_task_file_read(&tf, &line, "/nonexistent/task"),
			 IOLM_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_task_file_parses),
		cmocka_unit_test(minimal_task_file_takes_defaults),
		cmocka_unit_test(bad_task_files_are_refused_with_their_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
