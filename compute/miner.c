/* iolm-miner: train a byte-level GPT on a local file and write the work proof.
 *
 *   iolm-miner train [--task-file FILE] [--data FILE --steps N --layers L --channels C
 *                    --heads H --seq T --batch B --lr X --seed S --segment K
 *                    --threads N --out DIR --eval FILE --eval-windows W --warmup W
 *                    --clip X --task HEX --device auto|cpu|cuda]
 *
 * Until tasks come from the chain (issue 9) the task is local: a task file
 * (docs/compute.md "Task file") and/or flags, flags overriding the file. The eval set
 * is --eval or, without it, the last tenth of --data (training then uses the first nine
 * tenths). At every segment boundary (every K steps, and at the end) it writes
 * DIR/ckpt-<step>.bin and commits the state hash; each step's loss goes into the proof.
 * At the end DIR/claim.bin holds the encoded WorkClaim and DIR/proof.txt the Merkle
 * root, the final state hash and the eval loss in micro-nats. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compute/compute.h"
#include "core/hex.h"

#define MINER_MAX_DATA ((size_t)1 << 31)

struct opts {
	const char *data, *eval, *out, *device, *task_hex;
	uint8_t task[IOLM_HASH_LEN];
	compute_task_file tf;
	uint64_t steps, seed;
	uint32_t layers, channels, heads, seq, batch, segment, threads, eval_windows, warmup;
	float lr, clip;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: iolm-miner train [--task-file FILE] [--data FILE] [--steps N]\n"
		   "         [--layers L] [--channels C]\n"
		   "         [--heads H] [--seq T] [--batch B] [--lr X] [--seed S] [--segment K]\n"
		   "         [--threads N] [--out DIR] [--eval FILE] [--eval-windows W]\n"
		   "         [--warmup W] [--clip X] [--task HEX] [--device auto|cpu|cuda]\n");
}

static int parse_u64(uint64_t *out, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return IOLM_EINVAL;
	*out = v;
	return IOLM_OK;
}

static int parse_u32(uint32_t *out, const char *s)
{
	uint64_t v;
	if (parse_u64(&v, s) || v > UINT32_MAX)
		return IOLM_EINVAL;
	*out = (uint32_t)v;
	return IOLM_OK;
}

static int parse_float(float *out, const char *s)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (errno || end == s || *end)
		return IOLM_EINVAL;
	*out = v;
	return IOLM_OK;
}

/* Defaults from the task file at path (flags then override them). */
static int opts_from_task_file(struct opts *o, const char *path)
{
	unsigned line;
	int err = compute_task_file_read(&o->tf, &line, path);
	if (err) {
		fprintf(stderr, "iolm-miner: task file %s: %s", path, iolm_strerror(err));
		if (line)
			fprintf(stderr, " at line %u", line);
		fprintf(stderr, "\n");
		return err;
	}
	const compute_task *t = &o->tf.task;
	o->data = o->tf.dataset;
	o->eval = o->tf.eval[0] ? o->tf.eval : NULL;
	memcpy(o->task, t->id, sizeof o->task);
	o->steps = t->opt.total_steps;
	o->seed = t->cfg.init_seed;
	o->layers = t->cfg.n_layer;
	o->channels = t->cfg.n_embd;
	o->heads = t->cfg.n_head;
	o->seq = t->cfg.seq_len;
	o->batch = t->batch;
	o->segment = t->seg_len;
	o->eval_windows = t->eval_windows;
	o->warmup = t->opt.warmup_steps;
	o->lr = t->opt.lr;
	o->clip = t->opt.grad_clip;
	return IOLM_OK;
}

static int parse_opt(struct opts *o, const char *k, const char *v)
{
	int err = IOLM_OK;
	if (!strcmp(k, "--data")) o->data = v;
	else if (!strcmp(k, "--eval")) o->eval = v;
	else if (!strcmp(k, "--out")) o->out = v;
	else if (!strcmp(k, "--device")) o->device = v;
	else if (!strcmp(k, "--task")) o->task_hex = v;
	else if (!strcmp(k, "--task-file")) err = IOLM_OK; /* read first */
	else if (!strcmp(k, "--steps")) err = parse_u64(&o->steps, v);
	else if (!strcmp(k, "--seed")) err = parse_u64(&o->seed, v);
	else if (!strcmp(k, "--layers")) err = parse_u32(&o->layers, v);
	else if (!strcmp(k, "--channels")) err = parse_u32(&o->channels, v);
	else if (!strcmp(k, "--heads")) err = parse_u32(&o->heads, v);
	else if (!strcmp(k, "--seq")) err = parse_u32(&o->seq, v);
	else if (!strcmp(k, "--batch")) err = parse_u32(&o->batch, v);
	else if (!strcmp(k, "--segment")) err = parse_u32(&o->segment, v);
	else if (!strcmp(k, "--threads")) err = parse_u32(&o->threads, v);
	else if (!strcmp(k, "--eval-windows")) err = parse_u32(&o->eval_windows, v);
	else if (!strcmp(k, "--warmup")) err = parse_u32(&o->warmup, v);
	else if (!strcmp(k, "--lr")) err = parse_float(&o->lr, v);
	else if (!strcmp(k, "--clip")) err = parse_float(&o->clip, v);
	else {
		fprintf(stderr, "iolm-miner: unknown option %s\n", k);
		return IOLM_EINVAL;
	}
	if (err)
		fprintf(stderr, "iolm-miner: bad value for %s: %s\n", k, v);
	return err;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	int err;
	*o = (struct opts){ .out = ".", .device = "auto", .steps = 0, .seed = 1, .layers = 2,
			    .channels = 64, .heads = 4, .seq = 64, .batch = 8, .segment = 10,
			    .threads = 1, .eval_windows = 64, .lr = 1e-3f };
	compute_optim_default(&o->tf.task.opt);
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			return IOLM_EINVAL;
		if (!strcmp(argv[i], "--task-file") &&
		    (err = opts_from_task_file(o, argv[i + 1])))
			return err;
	}
	for (int i = 2; i < argc; i += 2)
		if ((err = parse_opt(o, argv[i], argv[i + 1])))
			return err;
	if (o->task_hex && iolm_hex_decode_exact(o->task, sizeof o->task, o->task_hex)) {
		fprintf(stderr, "iolm-miner: --task must be 64 hex digits\n");
		return IOLM_EINVAL;
	}
	if (!o->data || o->steps == 0 || o->segment == 0 || o->steps % o->segment) {
		fprintf(stderr, "iolm-miner: --data and --steps (a multiple of --segment) are required\n");
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

/* Read at most MINER_MAX_DATA bytes of path; the caller frees *out. */
static int read_file(uint8_t **out, size_t *len, const char *path)
{
	int err = IOLM_OK;
	uint8_t *buf = NULL;
	FILE *f = fopen(path, "rb");
	*out = NULL;
	*len = 0;
	if (!f)
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		err = IOLM_EIO;
		goto out;
	}
	if ((uint64_t)sb.st_size > MINER_MAX_DATA) {
		err = IOLM_ETOOBIG;
		goto out;
	}
	size_t n = (size_t)sb.st_size;
	buf = malloc(n ? n : 1);
	if (!buf) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if (fread(buf, 1, n, f) != n) {
		err = IOLM_EIO;
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return err;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* State hash at the boundary `step`: into the proof and a checkpoint file. */
static int commit_boundary(compute_model *m, compute_proof *p, const char *dir,
			   uint8_t hash[IOLM_HASH_LEN], int final)
{
	char path[4096];
	uint64_t step = compute_model_step_count(m);
	int err = compute_model_state_hash(m, hash);
	if (err)
		return err;
	if (!final && (err = compute_proof_add_state(p, step, hash)))
		return err;
	if ((err = compute_checkpoint_name(path, sizeof path, dir, step)))
		return err;
	return compute_checkpoint_save(m, path);
}

/* DIR/claim.bin: the encoded WorkClaim; its root must be the proof's. */
static int write_claim(const char *dir, const compute_claim *c,
		       const uint8_t root[IOLM_HASH_LEN])
{
	char path[4096];
	uint8_t *enc = NULL, r2[IOLM_HASH_LEN];
	size_t len;
	int err = compute_claim_root(r2, c);
	if (err)
		return err;
	if (memcmp(r2, root, IOLM_HASH_LEN))
		return IOLM_ESTATE; /* the two encodings of the proof disagree: a bug */
	if ((err = compute_claim_encode(&enc, &len, c)))
		return err;
	snprintf(path, sizeof path, "%s/claim.bin", dir);
	FILE *f = fopen(path, "wb");
	if (!f) {
		free(enc);
		return IOLM_EIO;
	}
	int bad = fwrite(enc, 1, len, f) != len;
	bad |= fclose(f) != 0;
	free(enc);
	return bad ? IOLM_EIO : IOLM_OK;
}

static int write_summary(const char *dir, const uint8_t root[32], const uint8_t fin[32],
			 uint64_t steps, uint32_t k, uint64_t eval_un, float eval)
{
	char path[4096], rh[65], fh[65];
	iolm_hex_encode(rh, sizeof rh, root, 32);
	iolm_hex_encode(fh, sizeof fh, fin, 32);
	snprintf(path, sizeof path, "%s/proof.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return IOLM_EIO;
	fprintf(f, "proof_root %s\nfinal_state %s\nsteps %" PRIu64 "\nsegment_len %u\n"
		   "eval_loss_micronats %" PRIu64 "\n", rh, fh, steps, k, eval_un);
	int bad = fclose(f) != 0;
	printf("proof root   %s\nfinal state  %s\neval loss    %.6f (%" PRIu64 " micro-nats)\n",
	       rh, fh, (double)eval, eval_un);
	return bad ? IOLM_EIO : IOLM_OK;
}

static void progress(uint64_t s, uint64_t steps, float loss, double t0, uint64_t tok_step)
{
	double el = now_s() - t0, tps = (double)(tok_step * (s + 1)) / el;
	double eta = el / (double)(s + 1) * (double)(steps - s - 1);
	printf("step %6" PRIu64 "/%" PRIu64 "  loss %.4f  %8.0f tok/s  ETA %5.0fs\n", s + 1,
	       steps, (double)loss, tps, eta);
	fflush(stdout);
}

/* The training loop: steps, boundaries, claim arrays. */
static int run(const struct opts *o, compute_model *m, compute_proof *proof,
	       compute_claim *c, const uint8_t *data, size_t len)
{
	int err = IOLM_OK;
	double t0 = now_s(), tlast = t0;
	for (uint64_t s = 0; s < o->steps; s++) {
		if (s % o->segment == 0) {
			uint8_t *st = c->states + (s / o->segment) * IOLM_HASH_LEN;
			if ((err = commit_boundary(m, proof, o->out, st, 0)))
				return err;
		}
		float loss;
		if ((err = compute_model_step(m, &loss, o->task, data, len)) ||
		    (err = compute_loss_micronats(&c->losses[s], loss)) ||
		    (err = compute_proof_add_loss(proof, s, c->losses[s])))
			return err;
		double t = now_s();
		if (t - tlast >= 1.0 || s + 1 == o->steps || s < 3) {
			progress(s, o->steps, loss, t0, (uint64_t)o->batch * o->seq);
			tlast = t;
		}
	}
	return commit_boundary(m, proof, o->out, c->final_state, 1);
}

/* --device cuda: the CUDA backend on GPU 0 or a clear error; auto: CUDA when the build
 * has it and a device is present, else the CPU; cpu: the CPU. Results are the same
 * bits on every backend (docs/compute.md). */
static int make_backend(compute_backend **be, const struct opts *o)
{
	if (!strcmp(o->device, "cpu"))
		return compute_backend_cpu_create(be, o->threads);
	int err = compute_backend_cuda_create(be, 0);
	if (err == IOLM_OK)
		return IOLM_OK;
	if (!strcmp(o->device, "auto")) {
		if (err != IOLM_ECUDA_NODEVICE)
			fprintf(stderr, "iolm-miner: CUDA unusable (%s); training on the CPU\n",
				iolm_strerror(err));
		return compute_backend_cpu_create(be, o->threads);
	}
	if (!compute_backend_cuda_built())
		fprintf(stderr, "iolm-miner: --device cuda: this build has no CUDA backend "
				"(configure with -DIOLM_CUDA=ON); use --device cpu\n");
	else
		fprintf(stderr, "iolm-miner: --device cuda: %s\n", iolm_strerror(err));
	return err;
}

static int train(const struct opts *o)
{
	int err = IOLM_OK;
	uint8_t *data = NULL, *evdata = NULL, root[IOLM_HASH_LEN];
	size_t len = 0, evlen = 0;
	compute_backend *be = NULL;
	compute_model *m = NULL;
	compute_proof *proof = NULL;
	compute_claim claim = { 0 };
	compute_config cfg = { o->layers, o->channels, o->heads, o->seq, COMPUTE_VOCAB, o->seed };
	compute_optim opt = o->tf.task.opt;
	opt.lr = o->lr;
	opt.warmup_steps = o->warmup;
	opt.total_steps = opt.total_steps ? opt.total_steps : o->steps;
	opt.grad_clip = o->clip;

	if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda") && strcmp(o->device, "auto")) {
		fprintf(stderr, "iolm-miner: unknown device '%s' (auto, cpu or cuda)\n", o->device);
		return IOLM_EINVAL;
	}
	if (o->steps / o->segment > COMPUTE_CLAIM_MAX_SEGMENTS || o->steps > COMPUTE_CLAIM_MAX_STEPS) {
		fprintf(stderr, "iolm-miner: too many steps or segments for one claim\n");
		return IOLM_EINVAL;
	}
	claim.seg_len = o->segment;
	claim.nseg = o->steps / o->segment;
	claim.states = calloc(claim.nseg, IOLM_HASH_LEN);
	claim.losses = calloc(o->steps, sizeof *claim.losses);
	if (!claim.states || !claim.losses) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = read_file(&data, &len, o->data)))
		goto out;
	if (o->eval) {
		if ((err = read_file(&evdata, &evlen, o->eval)))
			goto out;
	} else {
		evlen = len / 10;
		len -= evlen;
	}
	const uint8_t *ev = o->eval ? evdata : data + len;
	if (mkdir(o->out, 0755) != 0 && errno != EEXIST) {
		err = IOLM_EIO;
		goto out;
	}
	if ((err = make_backend(&be, o)) ||
	    (err = compute_model_create(&m, &cfg, o->batch, &opt, be)) ||
	    (err = compute_proof_create(&proof, 0, o->segment)))
		goto out;
	printf("model L=%u C=%u NH=%u T=%u: %zu parameters; batch %u, %s backend, %u threads, "
	       "%zu training bytes, %zu eval bytes\n", cfg.n_layer, cfg.n_embd, cfg.n_head,
	       cfg.seq_len, compute_model_param_count(m), o->batch, compute_backend_name(be),
	       o->threads, len, evlen);
	float evloss;
	if ((err = compute_model_eval(m, &evloss, ev, evlen, o->eval_windows)))
		goto out;
	printf("initial eval loss %.6f\n", (double)evloss);
	if ((err = run(o, m, proof, &claim, data, len)) ||
	    (err = compute_model_eval(m, &evloss, ev, evlen, o->eval_windows)) ||
	    (err = compute_loss_micronats(&claim.eval_loss, evloss)) ||
	    (err = compute_proof_finish(proof, root, o->steps, claim.final_state,
					claim.eval_loss)) ||
	    (err = write_claim(o->out, &claim, root)))
		goto out;
	err = write_summary(o->out, root, claim.final_state, o->steps, o->segment,
			    claim.eval_loss, evloss);
out:
	if (err)
		fprintf(stderr, "iolm-miner: %s (%s)\n", iolm_strerror(err), iolm_errname(err));
	compute_claim_release(&claim);
	compute_proof_destroy(proof);
	compute_model_destroy(m);
	compute_backend_destroy(be);
	free(evdata);
	free(data);
	return err;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (argc < 2 || strcmp(argv[1], "train") != 0) {
		usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	if (parse_opts(&o, argc, argv)) {
		usage(stderr);
		return 2;
	}
	return train(&o) ? 1 : 0;
}
