/* iolm-miner: train a byte-level GPT and write the work proof, locally or on chain.
 *
 *   iolm-miner train [--task-file FILE] [--data FILE --steps N --layers L --channels C
 *                    --heads H --seq T --batch B --lr X --seed S --segment K
 *                    --threads N --out DIR --eval FILE --eval-windows W --warmup W
 *                    --clip X --task HEX --device auto|cpu|cuda|cuda:LIST|cuda:all]
 *   iolm-miner mine --node HOST:PORT --cookie FILE --key FILE --task HEX ...
 *                   (miner_mine.c; docs/compute.md "Mining on chain")
 *   iolm-miner generate --ckpt FILE [--prompt TEXT] ...   (miner_generate.c)
 *
 * `train` runs a local task: a task file (docs/compute.md "Task file") and/or flags,
 * flags overriding the file. The eval set is --eval or, without it, the last tenth of
 * --data (training then uses the first nine tenths). The run (compute_miner_run) writes
 * DIR/ckpt-<step>.bin at every segment boundary, DIR/claim.bin and DIR/proof.txt; a run
 * stopped part way resumes from DIR/progress.log when started again the same way. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hex.h"
#include "node/miner_int.h"

volatile sig_atomic_t miner_stop;

struct opts {
	const char *data, *eval, *out, *device, *task_hex;
	compute_task_file tf;
	compute_task task;
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
		   "         [--warmup W] [--clip X] [--task HEX]\n"
		   "         [--device auto|cpu|cuda|cuda:LIST|cuda:all]\n"
		   "       iolm-miner mine --node HOST:PORT --cookie FILE --key FILE --task HEX\n"
		   "         --steps N --listen HOST:PORT --out DIR [--data FILE --eval FILE]\n"
		   "         [--parent HEX|best|none] [--bond N] [--fee N] [--endpoint URL]\n"
		   "         [--device auto|cpu|cuda|cuda:LIST|cuda:all] [--threads N]\n"
		   "         [--rounds R] [--follow SECONDS] [--keep-runs N]\n"
		   "       iolm-miner generate --ckpt FILE [--prompt TEXT | --prompt-file FILE]\n"
		   "         [--bytes N] [--temperature X] [--top-k K] [--seed S]\n"
		   "         [--device auto|cpu|cuda] [--threads N]\n");
}

int miner_parse_pairs(int argc, char **argv,
		      int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r;
		if (!v) {
			fprintf(stderr, "iolm-miner: %s needs a value\n", k);
			return IOLM_EINVAL;
		}
		if ((r = fn(ctx, k, v)) < 0) {
			fprintf(stderr, "iolm-miner: unknown option %s\n", k);
			return IOLM_EINVAL;
		}
		if (r > 0) {
			fprintf(stderr, "iolm-miner: bad value for %s: %s\n", k, v);
			return IOLM_EINVAL;
		}
	}
	return IOLM_OK;
}

int miner_parse_u64(uint64_t *out, const char *s)
{
	char *end;
	if (s[0] < '0' || s[0] > '9')
		return IOLM_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return IOLM_EINVAL;
	*out = v;
	return IOLM_OK;
}

static int parse_u32(uint32_t *out, const char *s)
{
	uint64_t v;
	if (miner_parse_u64(&v, s) || v > UINT32_MAX)
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

int miner_read_file(uint8_t **out, size_t *len, const char *path, size_t cap)
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
	if ((uint64_t)sb.st_size > cap) {
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

/* The device numbers of "0,1,..." into dev (at most COMPUTE_DP_MAX_RANKS). */
static int parse_gpu_list(int *dev, unsigned *n, const char *list)
{
	*n = 0;
	for (const char *s = list; *s;) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (end == s || errno || v < 0 || v > 1024 || *n == COMPUTE_DP_MAX_RANKS ||
		    (*end && *end != ','))
			return IOLM_EINVAL;
		dev[(*n)++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return *n ? IOLM_OK : IOLM_EINVAL;
}

/* d->be[0..d->n) open on devices dev: one is the backend; two or more are joined by
 * NCCL (or, without it in the build, by copies between the devices). */
static int join_gpus(miner_devices *d, const int *dev, const char *device)
{
	int err;
	if (d->n == 1) {
		snprintf(d->name, sizeof d->name, "cuda (device %d)", dev[0]);
		return IOLM_OK;
	}
	const char *how = "nccl";
	if (compute_dp_transport_nccl_built())
		err = compute_dp_transport_nccl_create(&d->tr, dev, d->n);
	else if (!(err = compute_dp_transport_local_create(&d->tr, d->be, d->n)))
		how = "copies, no NCCL in this build";
	if (err) {
		fprintf(stderr, "iolm-miner: --device %s: joining %u devices: %s\n", device, d->n,
			iolm_strerror(err));
		return err;
	}
	snprintf(d->name, sizeof d->name, "cuda x%u data parallel (%s)", d->n, how);
	return IOLM_OK;
}

/* cuda:LIST: those devices, each of which must open; every other CUDA form: every
 * device that opens, from 0 up, at most cap of them. *none is set when no device opened
 * at all (err then says why device 0 did not), which auto turns into the CPU. */
static int open_cuda(miner_devices *d, const char *device, unsigned cap, int *none)
{
	int dev[COMPUTE_DP_MAX_RANKS], err = IOLM_OK;
	*none = 0;
	if (!strncmp(device, "cuda:", 5) && strcmp(device + 5, "all")) {
		unsigned n;
		if ((err = parse_gpu_list(dev, &n, device + 5))) {
			fprintf(stderr, "iolm-miner: --device %s: %s (a list like cuda:0,1, at most "
					"%d devices, or cuda:all)\n", device, iolm_strerror(err),
				COMPUTE_DP_MAX_RANKS);
			return err;
		}
		if (n > cap) {
			fprintf(stderr, "iolm-miner: --device %s: %u devices for a batch of %u "
					"sequences (each device trains at least one)\n", device, n, cap);
			return IOLM_EINVAL;
		}
		for (; d->n < n; d->n++)
			if ((err = compute_backend_cuda_create(&d->be[d->n], dev[d->n]))) {
				fprintf(stderr, "iolm-miner: --device %s: device %d: %s\n", device,
					dev[d->n], iolm_strerror(err));
				return err;
			}
		return join_gpus(d, dev, device);
	}
	while (d->n < cap && d->n < COMPUTE_DP_MAX_RANKS &&
	       !(err = compute_backend_cuda_create(&d->be[d->n], (int)d->n))) {
		dev[d->n] = (int)d->n;
		d->n++;
	}
	if (!d->n) {
		*none = 1;
		return err;
	}
	return join_gpus(d, dev, device);
}

int miner_devices_open(miner_devices *d, const char *device, unsigned threads, uint32_t batch)
{
	int err, none = 0;
	unsigned cap = batch < COMPUTE_DP_MAX_RANKS ? batch : COMPUTE_DP_MAX_RANKS;
	memset(d, 0, sizeof *d);
	if (!cap)
		cap = 1;
	if (!strcmp(device, "cpu")) {
		err = compute_backend_cpu_create(&d->be[0], threads);
	} else if (!strcmp(device, "auto") || !strcmp(device, "cuda") ||
		   !strncmp(device, "cuda:", 5)) {
		err = open_cuda(d, device, cap, &none);
		if (err && d->n >= 2 && !strcmp(device, "auto")) {
			/* the GPUs opened but could not be joined: auto trains on the first */
			fprintf(stderr, "iolm-miner: training on GPU 0 alone\n");
			for (unsigned r = 1; r < d->n; r++) {
				compute_backend_destroy(d->be[r]);
				d->be[r] = NULL;
			}
			d->n = 1;
			snprintf(d->name, sizeof d->name, "cuda (device 0)");
			err = IOLM_OK;
		} else if (none && !strcmp(device, "auto")) {
			if (err != IOLM_ECUDA_NODEVICE)
				fprintf(stderr, "iolm-miner: CUDA unusable (%s); training on the CPU\n",
					iolm_strerror(err));
			err = compute_backend_cpu_create(&d->be[0], threads);
		} else if (none && !compute_backend_cuda_built()) {
			fprintf(stderr, "iolm-miner: --device %s: this build has no CUDA backend "
					"(configure with -DIOLM_CUDA=ON); use --device cpu\n", device);
		} else if (none) {
			fprintf(stderr, "iolm-miner: --device %s: %s\n", device, iolm_strerror(err));
		}
	} else {
		fprintf(stderr, "iolm-miner: unknown device '%s' (auto, cpu, cuda, cuda:LIST or "
				"cuda:all)\n", device);
		err = IOLM_EINVAL;
	}
	if (!err && !d->n) { /* the CPU */
		d->n = 1;
		snprintf(d->name, sizeof d->name, "%s", compute_backend_name(d->be[0]));
	}
	if (err)
		miner_devices_close(d);
	return err;
}

void miner_devices_use(const miner_devices *d, compute_miner_params *p)
{
	p->be = d->be[0];
	p->ranks = d->be;
	p->nranks = d->n;
	p->dp_tr = d->tr;
}

void miner_devices_close(miner_devices *d)
{
	compute_dp_transport_destroy(d->tr);
	for (unsigned r = 0; r < COMPUTE_DP_MAX_RANKS; r++)
		compute_backend_destroy(d->be[r]);
	memset(d, 0, sizeof *d);
}

int miner_print_progress(void *ctx, const compute_miner_progress *p)
{
	(void)ctx;
	if (p->initial)
		printf("initial eval loss %.6f\n", (double)p->loss);
	else
		printf("step %6" PRIu64 "/%" PRIu64 "  (global %" PRIu64 ")  loss %.4f  %8.0f tok/s"
		       "  ETA %5.0fs\n", p->done, p->steps, p->step, (double)p->loss,
		       p->tokens_per_s, p->eta_s);
	fflush(stdout);
	return miner_stop ? IOLM_ETIMEOUT : IOLM_OK;
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
	else if (!strcmp(k, "--steps")) err = miner_parse_u64(&o->steps, v);
	else if (!strcmp(k, "--seed")) err = miner_parse_u64(&o->seed, v);
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

/* The task the flags describe (the optimizer's other settings from the task file or
 * the defaults; total_steps defaults to --steps). */
static void opts_task(struct opts *o)
{
	compute_task *t = &o->task;
	t->cfg = (compute_config){ o->layers, o->channels, o->heads, o->seq, COMPUTE_VOCAB,
				   o->seed };
	t->opt = o->tf.task.opt;
	t->opt.lr = o->lr;
	t->opt.warmup_steps = o->warmup;
	t->opt.total_steps = t->opt.total_steps ? t->opt.total_steps : o->steps;
	t->opt.grad_clip = o->clip;
	t->batch = o->batch;
	t->seg_len = o->segment;
	t->samples = o->tf.task.samples;
	t->eval_windows = o->eval_windows;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	int err;
	*o = (struct opts){ .out = ".", .device = "auto", .steps = 0, .seed = 1, .layers = 2,
			    .channels = 64, .heads = 4, .seq = 64, .batch = 8, .segment = 10,
			    .threads = 1, .eval_windows = 64, .lr = 1e-3f };
	compute_optim_default(&o->tf.task.opt);
	o->tf.task.samples = COMPUTE_DEFAULT_SAMPLES;
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc) {
			fprintf(stderr, "iolm-miner: %s needs a value\n", argv[i]);
			return IOLM_EINVAL;
		}
		if (!strcmp(argv[i], "--task-file") &&
		    (err = opts_from_task_file(o, argv[i + 1])))
			return err;
	}
	for (int i = 2; i < argc; i += 2)
		if ((err = parse_opt(o, argv[i], argv[i + 1])))
			return err;
	memcpy(o->task.id, o->tf.task.id, sizeof o->task.id);
	if (o->task_hex && iolm_hex_decode_exact(o->task.id, sizeof o->task.id, o->task_hex)) {
		fprintf(stderr, "iolm-miner: --task must be 64 hex digits\n");
		return IOLM_EINVAL;
	}
	if (!o->data || o->steps == 0 || o->segment == 0 || o->steps % o->segment) {
		fprintf(stderr, "iolm-miner: --data and --steps (a multiple of --segment) are required\n");
		return IOLM_EINVAL;
	}
	if (o->steps / o->segment > COMPUTE_CLAIM_MAX_SEGMENTS || o->steps > COMPUTE_CLAIM_MAX_STEPS) {
		fprintf(stderr, "iolm-miner: too many steps or segments for one claim\n");
		return IOLM_EINVAL;
	}
	opts_task(o);
	return IOLM_OK;
}

static void print_result(const compute_miner_result *r)
{
	char rh[65], fh[65];
	iolm_hex_encode(rh, sizeof rh, r->proof_root, 32);
	iolm_hex_encode(fh, sizeof fh, r->final_state, 32);
	printf("proof root   %s\nfinal state  %s\neval loss    %.6f (%" PRIu64 " micro-nats)\n",
	       rh, fh, (double)r->eval_loss_f, r->eval_loss);
}

static int train(struct opts *o)
{
	int err;
	uint8_t *data = NULL, *evdata = NULL;
	size_t len = 0, evlen = 0;
	miner_devices dev = { 0 };
	compute_miner_result res;

	if ((err = miner_read_file(&data, &len, o->data, MINER_MAX_DATA)))
		goto out;
	if (o->eval) {
		if ((err = miner_read_file(&evdata, &evlen, o->eval, MINER_MAX_DATA)))
			goto out;
	} else {
		evlen = len / 10;
		len -= evlen;
	}
	if ((err = miner_devices_open(&dev, o->device, o->threads, o->task.batch)))
		goto out;
	const compute_config *c = &o->task.cfg;
	printf("model L=%u C=%u NH=%u T=%u: %zu parameters; batch %u, %s backend, %u threads, "
	       "%zu training bytes, %zu eval bytes\n", c->n_layer, c->n_embd, c->n_head,
	       c->seq_len, compute_config_check(c) ? (size_t)0 : compute_config_param_count(c),
	       o->batch, dev.name, o->threads, len, evlen);
	compute_miner_params p = {
		.task = &o->task, .train = data, .train_len = len,
		.eval = o->eval ? evdata : data + len, .eval_len = evlen,
		.steps = o->steps, .out_dir = o->out, .initial_eval = 1, .resume = 1,
		.progress = miner_print_progress,
	};
	miner_devices_use(&dev, &p);
	if ((err = compute_miner_run(&res, &p)))
		goto out;
	if (res.resumed_steps)
		printf("resumed from %s/progress.log: %" PRIu64 " of %" PRIu64 " steps were done "
		       "before\n", o->out, res.resumed_steps, o->steps);
	print_result(&res);
out:
	if (err)
		fprintf(stderr, "iolm-miner: %s (%s)\n", iolm_strerror(err), iolm_errname(err));
	miner_devices_close(&dev);
	free(evdata);
	free(data);
	return err;
}

int main(int argc, char **argv)
{
	struct opts *o;
	int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
	if (argc >= 2 && !strcmp(argv[1], "mine"))
		return miner_mine_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "generate"))
		return miner_generate_main(argc, argv);
	if (argc < 2 || strcmp(argv[1], "train") != 0) {
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	o = calloc(1, sizeof *o); /* the task file's paths make it large */
	if (!o)
		return 1;
	int rc = 0;
	if (parse_opts(o, argc, argv)) {
		usage(stderr);
		rc = 2;
	} else {
		rc = train(o) ? 1 : 0;
	}
	free(o);
	return rc;
}
