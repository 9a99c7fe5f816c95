/* Checkpoint files: round trip, and each kind of bad file refused with its own code;
 * the proof builder's Merkle root and its ordering rules. */
#include "../test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "compute/compute.h"
#include "core/merkle.h"

static const compute_config cfg = { 1, 16, 2, 8, 256, 5 };
static const uint8_t task[32] = { 7 };
static char dir[64], path[128], path2[160];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/iolm-ckpt-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a.ckpt", dir);
	snprintf(path2, sizeof path2, "%s/b.ckpt", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	unlink(path2);
	rmdir(dir);
	return 0;
}

static compute_model *trained(compute_backend *be, int steps)
{
	compute_model *m;
	compute_optim o;
	compute_optim_default(&o);
	uint8_t data[200];
	for (int i = 0; i < 200; i++)
		data[i] = (uint8_t)(i * 31);
	assert_int_equal(compute_model_create(&m, &cfg, 2, &o, be), IOLM_OK);
	for (int s = 0; s < steps; s++) {
		float loss;
		assert_int_equal(compute_model_step(m, &loss, task, data, sizeof data), IOLM_OK);
	}
	return m;
}

static long file_size(const char *p)
{
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

/* Copy path to path2 with len bytes kept (len > size: zeros appended) and byte at
 * `flip` (if >= 0) xored with 0x01. */
static void mutate(long len, long flip)
{
	FILE *in = fopen(path, "rb"), *out = fopen(path2, "wb");
	assert_non_null(in);
	assert_non_null(out);
	for (long i = 0; i < len; i++) {
		int c = fgetc(in);
		if (c == EOF)
			c = 0;
		if (i == flip)
			c ^= 1;
		fputc(c, out);
	}
	fclose(in);
	fclose(out);
}

static void save_load_round_trip(void **state)
{
	compute_backend *be;
	assert_int_equal(compute_backend_cpu_create(&be, 2), IOLM_OK);
	compute_model *a = trained(be, 3), *b = trained(be, 0);
	uint8_t ha[32], hb[32];
	assert_int_equal(compute_checkpoint_save(a, path), IOLM_OK);
	assert_int_equal(compute_checkpoint_load(b, path), IOLM_OK);
	assert_int_equal(compute_model_step_count(b), 3);
	assert_int_equal(compute_model_state_hash(a, ha), IOLM_OK);
	assert_int_equal(compute_model_state_hash(b, hb), IOLM_OK);
	assert_memory_equal(ha, hb, 32);
	/* continuing from the checkpoint gives the same state as not stopping */
	uint8_t data[200];
	for (int i = 0; i < 200; i++)
		data[i] = (uint8_t)(i * 31);
	float la, lb;
	assert_int_equal(compute_model_step(a, &la, task, data, sizeof data), IOLM_OK);
	assert_int_equal(compute_model_step(b, &lb, task, data, sizeof data), IOLM_OK);
	assert_true(la == lb);
	assert_int_equal(compute_model_state_hash(a, ha), IOLM_OK);
	assert_int_equal(compute_model_state_hash(b, hb), IOLM_OK);
	assert_memory_equal(ha, hb, 32);
	compute_config c;
	uint64_t step;
	assert_int_equal(compute_checkpoint_peek(&c, &step, path), IOLM_OK);
	assert_int_equal(step, 3);
	assert_int_equal(c.n_embd, 16);
	assert_int_equal(c.init_seed, 5);
	compute_model_destroy(a);
	compute_model_destroy(b);
	compute_backend_destroy(be);
}

static void bad_files_refused_each_with_its_code(void **state)
{
	compute_backend *be;
	assert_int_equal(compute_backend_cpu_create(&be, 1), IOLM_OK);
	compute_model *a = trained(be, 1), *b = trained(be, 0);
	uint8_t h0[32], h1[32];
	assert_int_equal(compute_checkpoint_save(a, path), IOLM_OK);
	assert_int_equal(compute_model_state_hash(b, h0), IOLM_OK);
	long n = file_size(path);
	struct { long len, flip; int err; } cases[] = {
		{ n - 1, -1, IOLM_ECKPT_TRUNC },       /* last hash byte missing */
		{ n - 1000, -1, IOLM_ECKPT_TRUNC },    /* body cut */
		{ 40, -1, IOLM_ECKPT_TRUNC },          /* inside the header */
		{ 5, -1, IOLM_ECKPT_TRUNC },           /* inside the magic */
		{ 0, -1, IOLM_ECKPT_TRUNC },           /* empty: a prefix of any file */
		{ n + 1, -1, IOLM_ECKPT_OVERSIZE },    /* trailing byte */
		{ n, 0, IOLM_ECKPT_MAGIC },            /* magic */
		{ n, 8, IOLM_ECKPT_VERSION },          /* version 1 -> 0 */
		{ n, 12, IOLM_ECKPT_LAYOUT },          /* header_len */
		{ n, 28, IOLM_ECKPT_TRUNC },           /* T 8 -> 9: file too short for it */
		{ n, 20, IOLM_ECONFIG },               /* C 16 -> 17: 17 % 2 != 0 */
		{ n, 24, IOLM_ECONFIG },               /* NH 2 -> 3: 16 % 3 != 0 */
		{ n, 64 + 8, IOLM_ECKPT_LAYOUT },      /* table offset */
		{ n, 64 + 24 * 20 + 16, IOLM_ECKPT_LAYOUT }, /* table count */
		{ n, 48, IOLM_ECKPT_HASH },            /* step changed: hash covers it */
		{ n, 2000, IOLM_ECKPT_HASH },          /* one bit of a parameter */
		{ n, n - 2, IOLM_ECKPT_HASH },         /* one bit of the stored hash */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		mutate(cases[i].len, cases[i].flip);
		int err = compute_checkpoint_load(b, path2);
		if (err != cases[i].err)
			printf("# case %zu: got %s want %s\n", i, iolm_errname(err),
			       iolm_errname(cases[i].err));
		assert_int_equal(err, cases[i].err);
		/* the model is untouched by a refused load */
		assert_int_equal(compute_model_state_hash(b, h1), IOLM_OK);
		assert_memory_equal(h0, h1, 32);
	}
	assert_int_equal(compute_checkpoint_load(b, "/nonexistent/x.ckpt"), IOLM_ENOTFOUND);
	/* a valid file of another config is refused by a model of this config */
	compute_config other = cfg;
	other.n_layer = 2;
	compute_optim o;
	compute_optim_default(&o);
	compute_model *c;
	assert_int_equal(compute_model_create(&c, &other, 1, &o, be), IOLM_OK);
	assert_int_equal(compute_checkpoint_save(c, path2), IOLM_OK);
	assert_int_equal(compute_checkpoint_load(b, path2), IOLM_ECKPT_CONFIG);
	compute_model_destroy(c);
	compute_model_destroy(a);
	compute_model_destroy(b);
	compute_backend_destroy(be);
}

static void proof_root_commits_to_states_and_losses(void **state)
{
	compute_proof *p;
	uint8_t s0[32] = { 1 }, s1[32] = { 2 }, fin[32] = { 3 }, root[32], root2[32];
	assert_int_equal(compute_proof_create(&p, 10, 2), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 10, 5), IOLM_ESTATE); /* no state yet */
	assert_int_equal(compute_proof_add_state(p, 10, s0), IOLM_OK);
	assert_int_equal(compute_proof_add_state(p, 10, s0), IOLM_ESTATE); /* twice */
	assert_int_equal(compute_proof_add_loss(p, 11, 5), IOLM_ESTATE);   /* gap */
	assert_int_equal(compute_proof_add_loss(p, 10, 5500000), IOLM_OK);
	assert_int_equal(compute_proof_finish(p, root, 11, fin, 1), IOLM_ESTATE); /* mid */
	assert_int_equal(compute_proof_add_state(p, 11, s1), IOLM_ESTATE); /* not a boundary */
	assert_int_equal(compute_proof_add_loss(p, 11, 5400000), IOLM_OK);
	assert_int_equal(compute_proof_add_state(p, 12, s1), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 12, 5300000), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 13, 5200000), IOLM_OK);
	assert_int_equal(compute_proof_finish(p, root, 14, fin, 5100000), IOLM_OK);
	assert_int_equal(compute_proof_leaf_count(p), 3);
	compute_proof_destroy(p);

	/* the root is the documented tree over the documented leaves */
	uint8_t leaves[3 * 32], seg[1 + 8 + 32 + 4 + 16], last[1 + 8 + 32 + 8];
	uint64_t losses[2][2] = { { 5500000, 5400000 }, { 5300000, 5200000 } };
	for (int j = 0; j < 2; j++) {
		uint64_t start = 10 + 2 * (uint64_t)j;
		seg[0] = 1;
		for (int i = 0; i < 8; i++)
			seg[1 + i] = (uint8_t)(start >> (8 * i));
		memcpy(seg + 9, j ? s1 : s0, 32);
		seg[41] = 2; seg[42] = seg[43] = seg[44] = 0;
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < 8; i++)
				seg[45 + 8 * k + i] = (uint8_t)(losses[j][k] >> (8 * i));
		iolm_merkle_leaf(leaves + 32 * j, seg, sizeof seg);
	}
	last[0] = 2;
	for (int i = 0; i < 8; i++)
		last[1 + i] = (uint8_t)(14ull >> (8 * i));
	memcpy(last + 9, fin, 32);
	for (int i = 0; i < 8; i++)
		last[41 + i] = (uint8_t)(5100000ull >> (8 * i));
	iolm_merkle_leaf(leaves + 64, last, sizeof last);
	iolm_merkle_root(root2, leaves, 3);
	assert_memory_equal(root, root2, 32);

	/* one different loss changes the root */
	assert_int_equal(compute_proof_create(&p, 10, 2), IOLM_OK);
	assert_int_equal(compute_proof_add_state(p, 10, s0), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 10, 5500000), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 11, 5400001), IOLM_OK);
	assert_int_equal(compute_proof_add_state(p, 12, s1), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 12, 5300000), IOLM_OK);
	assert_int_equal(compute_proof_add_loss(p, 13, 5200000), IOLM_OK);
	assert_int_equal(compute_proof_finish(p, root2, 14, fin, 5100000), IOLM_OK);
	assert_memory_not_equal(root, root2, 32);
	compute_proof_destroy(p);
	assert_int_equal(compute_proof_create(&p, 0, 0), IOLM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(save_load_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_files_refused_each_with_its_code, setup, teardown),
		cmocka_unit_test(proof_root_commits_to_states_and_losses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
