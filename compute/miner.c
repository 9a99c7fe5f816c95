/* iolm-miner: train a byte-level GPT on a local file and write the work proof.
 *
 *   iolm-miner train --data FILE --steps N [--layers L --channels C --heads H --seq T
 *                    --batch B --lr X --seed S --segment K --threads N --out DIR
 *                    --eval FILE --eval-windows W --warmup W --clip X --task HEX
 *                    --device cpu|cuda]
 *
 * Until tasks come from the chain (issue 9) the task is local: its id is --task (hex,
 * default all zero), the eval set is --eval or, without it, the last tenth of --data
 * (training then uses the first nine tenths). At every segment boundary (every K steps,
 * and at the end) it writes DIR/ckpt-<step>.bin and commits the state hash; each step's
 * loss goes into the proof; at the end DIR/proof.txt holds the Merkle root, the final
 * state hash and the eval loss in micro-nats. */
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
	uint64_t steps, seed;
	uint32_t layers, channels, heads, seq, batch, segment, threads, eval_windows, warmup;
	float lr, clip;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: iolm-miner train --data FILE --steps N [--layers L] [--channels C]\n"
		   "         [--heads H] [--seq T] [--batch B] [--lr X] [--seed S] [--segment K]\n"
		   "         [--threads N] [--out DIR] [--eval FILE] [--eval-windows W]\n"
		   "         [--warmup W] [--clip X] [--task HEX] [--device cpu|cuda]\n");
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

static int parse_opts(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ .out = ".", .device = "cpu", .steps = 0, .seed = 1, .layers = 2,
			    .channels = 64, .heads = 4, .seq = 64, .batch = 8, .segment = 10,
			    .threads = 1, .eval_windows = 64, .lr = 1e-3f };
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int err = IOLM_OK;
		if (!v)
			return IOLM_EINVAL;
		if (!strcmp(k, "--data")) o->data = v;
		else if (!strcmp(k, "--eval")) o->eval = v;
		else if (!strcmp(k, "--out")) o->out = v;
		else if (!strcmp(k, "--device")) o->device = v;
		else if (!strcmp(k, "--task")) o->task_hex = v;
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
		if (err) {
			fprintf(stderr, "iolm-miner: bad value for %s: %s\n", k, v);
			return err;
		}
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
	snprintf(path, sizeof path, "%s/ckpt-%08" PRIu64 ".bin", dir, step);
	return compute_checkpoint_save(m, path);
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

static int train(const struct opts *o)
{
	int err = IOLM_OK;
	uint8_t *data = NULL, *evdata = NULL, task[IOLM_HASH_LEN] = { 0 };
	uint8_t hash[IOLM_HASH_LEN], root[IOLM_HASH_LEN];
	size_t len = 0, evlen = 0;
	compute_backend *be = NULL;
	compute_model *m = NULL;
	compute_proof *proof = NULL;
	compute_config cfg = { o->layers, o->channels, o->heads, o->seq, COMPUTE_VOCAB, o->seed };
	compute_optim opt;
	compute_optim_default(&opt);
	opt.lr = o->lr;
	opt.warmup_steps = o->warmup;
	opt.total_steps = o->steps;
	opt.grad_clip = o->clip;

	if (strcmp(o->device, "cpu") != 0) {
		fprintf(stderr, "iolm-miner: device '%s' is not available: only 'cpu' is built "
				"(the CUDA backend is issue 7)\n", o->device);
		return IOLM_EINVAL;
	}
	if (o->task_hex && iolm_hex_decode_exact(task, sizeof task, o->task_hex)) {
		fprintf(stderr, "iolm-miner: --task must be 64 hex digits\n");
		return IOLM_EINVAL;
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
	if ((err = compute_backend_cpu_create(&be, o->threads)) ||
	    (err = compute_model_create(&m, &cfg, o->batch, &opt, be)) ||
	    (err = compute_proof_create(&proof, 0, o->segment)))
		goto out;
	printf("model L=%u C=%u NH=%u T=%u: %zu parameters; batch %u, %u threads, "
	       "%zu training bytes, %zu eval bytes\n", cfg.n_layer, cfg.n_embd, cfg.n_head,
	       cfg.seq_len, compute_model_param_count(m), o->batch, o->threads, len, evlen);
	double t0 = now_s(), tlast = t0;
	uint64_t tokens_step = (uint64_t)o->batch * o->seq;
	for (uint64_t s = 0; s < o->steps; s++) {
		if (s % o->segment == 0 && (err = commit_boundary(m, proof, o->out, hash, 0)))
			goto out;
		float loss;
		uint64_t un;
		if ((err = compute_model_step(m, &loss, task, data, len)) ||
		    (err = compute_loss_micronats(&un, loss)) ||
		    (err = compute_proof_add_loss(proof, s, un)))
			goto out;
		double t = now_s();
		if (t - tlast >= 1.0 || s + 1 == o->steps || s < 3) {
			double el = t - t0, tps = (double)(tokens_step * (s + 1)) / el;
			double eta = el / (double)(s + 1) * (double)(o->steps - s - 1);
			printf("step %6" PRIu64 "/%" PRIu64 "  loss %.4f  %8.0f tok/s  ETA %5.0fs\n",
			       s + 1, o->steps, (double)loss, tps, eta);
			fflush(stdout);
			tlast = t;
		}
	}
	if ((err = commit_boundary(m, proof, o->out, hash, 1)))
		goto out;
	float evloss;
	uint64_t evun;
	if ((err = compute_model_eval(m, &evloss, ev, evlen, o->eval_windows)) ||
	    (err = compute_loss_micronats(&evun, evloss)) ||
	    (err = compute_proof_finish(proof, root, o->steps, hash, evun)))
		goto out;
	err = write_summary(o->out, root, hash, o->steps, o->segment, evun, evloss);
out:
	if (err)
		fprintf(stderr, "iolm-miner: %s (%s)\n", iolm_strerror(err), iolm_errname(err));
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
