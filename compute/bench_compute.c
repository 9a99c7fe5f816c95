/* bench_compute: CPU training throughput of the deterministic step and the cost of
 * verifying it, each beside a limit measured in the same run. One JSON line per figure
 * (bench/bench_util.h). Usage: bench_compute [--quick] [--threads N]
 *
 * Reference config (issue 6): L=4, C=256, NH=4, T=128, B=8; threads = all online CPUs.
 * FLOPs per trained token = 6 P + 12 L T C (weights forward + backward, attention
 * scores and mixing), P the parameter count.
 *
 * cpu_train_gflops    limit: fp32 FMA peak of the same threads (bench_peak.c), what
 *                     the cores could do at best; the step itself keeps a*b+c unfused.
 * verifier_cost_share verifier CPU time over the CPU time of the training it checks,
 *                     for a reference work of REF_SEGMENTS segments at the default
 *                     k = COMPUTE_DEFAULT_SEG_LEN, s = COMPUTE_DEFAULT_SAMPLES:
 *                       share = (s (o + k t) + e) / (REF_SEGMENTS k t)
 *                     with t the training CPU time per step, o the verifier's per
 *                     segment overhead (checkpoint load, state hashes) and e its eval,
 *                     all measured by a real verification of a real short claim here.
 *                     limit: s k / (REF_SEGMENTS k), the share of bare re-execution.
 * generate_bytes_per_s next-byte distributions per second over the positions of one
 *                     window, each byte fed at the next position (compute_model_feed,
 *                     as iolm-miner generate does); limit: window_pass_bytes_per_s,
 *                     the same distributions from a whole pass over the context each
 *                     (compute_model_next_probs), measured on the same model, checked
 *                     to give the same bits. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "compute/bench_peak.h"
#include "compute/compute.h"

#define REF_SEGMENTS 1000

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct run {
	compute_task task;
	uint8_t *data;
	size_t len;
	char dir[64];
	uint32_t nseg;
	double train_wall, train_cpu; /* over nseg * k steps */
	uint8_t *claim;
	size_t claim_len;
};

/* Train r->nseg segments of k steps, writing checkpoints and the claim. */
static int mine(struct run *r, compute_backend *be)
{
	compute_model *m = NULL;
	uint32_t k = r->task.seg_len;
	compute_claim c = { .seg_len = k, .nseg = r->nseg };
	char path[256];
	int err = IOLM_ENOMEM;
	c.states = calloc(r->nseg, IOLM_HASH_LEN);
	c.losses = calloc((size_t)r->nseg * k, sizeof *c.losses);
	if (!c.states || !c.losses)
		goto out;
	if ((err = compute_model_create(&m, &r->task.cfg, r->task.batch, &r->task.opt, be)))
		goto out;
	for (uint64_t s = 0; s < (uint64_t)r->nseg * k; s++) {
		float loss;
		if (s % k == 0 &&
		    ((err = compute_model_state_hash(m, c.states + s / k * IOLM_HASH_LEN)) ||
		     (err = compute_checkpoint_name(path, sizeof path, r->dir, s)) ||
		     (err = compute_checkpoint_save(m, path))))
			goto out;
		double sw = bench_now(), sc = cpu_now();
		if ((err = compute_model_step(m, &loss, r->task.id, r->data, r->len)) ||
		    (err = compute_loss_micronats(&c.losses[s], loss)))
			goto out;
		r->train_wall += bench_now() - sw;
		r->train_cpu += cpu_now() - sc;
	}
	float ev;
	if ((err = compute_model_state_hash(m, c.final_state)) ||
	    (err = compute_checkpoint_name(path, sizeof path, r->dir, (uint64_t)r->nseg * k)) ||
	    (err = compute_checkpoint_save(m, path)) ||
	    (err = compute_model_eval(m, &ev, r->data, r->len, r->task.eval_windows)) ||
	    (err = compute_loss_micronats(&c.eval_loss, ev)))
		goto out;
	err = compute_claim_encode(&r->claim, &r->claim_len, &c);
out:
	compute_model_destroy(m);
	compute_claim_release(&c);
	return err;
}

static void cleanup(const struct run *r)
{
	char path[256];
	for (uint64_t s = 0; s <= (uint64_t)r->nseg * r->task.seg_len; s += r->task.seg_len)
		if (!compute_checkpoint_name(path, sizeof path, r->dir, s))
			unlink(path);
	rmdir(r->dir);
}

/* Bytes per second of next-byte distributions for the n first positions of text: fed
 * one position at a time, and from a whole pass per position. IOLM_ECORRUPT when the
 * two disagree on a bit. */
static int gen_rates(compute_backend *be, const compute_task *task, const uint8_t *text,
		     size_t n, double *fed, double *window)
{
	compute_model *m = NULL;
	float pf[COMPUTE_VOCAB], pw[COMPUTE_VOCAB];
	int err = compute_model_create(&m, &task->cfg, 1, &task->opt, be);
	double t0 = bench_now();
	for (size_t t = 0; !err && t < n; t++)
		err = compute_model_next_probs(m, pw, text, t + 1);
	*window = (double)n / (bench_now() - t0);
	t0 = bench_now();
	for (size_t t = 0; !err && t < n; t++)
		err = compute_model_feed(m, pf, text[t], t);
	*fed = (double)n / (bench_now() - t0);
	if (!err && memcmp(pf, pw, sizeof pf))
		err = IOLM_ECORRUPT;
	compute_model_destroy(m);
	return err;
}

static unsigned parse_threads(int argc, char **argv)
{
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned th = (unsigned)(nc > 0 ? nc : 1);
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--threads"))
			th = (unsigned)atoi(argv[i + 1]);
	return th >= 1 && th <= 64 ? th : 1;
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv), rc = 1;
	unsigned threads = parse_threads(argc, argv);
	compute_backend *be = NULL;
	struct run r = { 0 };
	compute_verdict v;
	uint8_t seed[32] = { 1 };
	r.task.id[0] = 1;
	r.task.cfg = (compute_config){ 4, 256, 4, 128, COMPUTE_VOCAB, 1 };
	compute_optim_default(&r.task.opt);
	r.task.batch = 8;
	r.task.seg_len = quick ? 1 : 3;
	r.task.samples = quick ? 1 : 2;
	r.task.eval_windows = 16;
	r.nseg = quick ? 2 : 4;
	r.len = 1 << 20;
	r.data = malloc(r.len);
	snprintf(r.dir, sizeof r.dir, "/tmp/iolm-bench-XXXXXX");
	if (!r.data || !mkdtemp(r.dir)) {
		fprintf(stderr, "bench_compute: setup failed\n");
		free(r.data);
		return 1;
	}
	for (size_t i = 0; i < r.len; i++)
		r.data[i] = (uint8_t)("abcdefgh ijk"[(i * 7 + i / 11) % 12]);
	if (compute_backend_cpu_create(&be, threads) || mine(&r, be) ||
	    compute_verify(&v, be, &r.task, r.claim, r.claim_len, NULL, seed, r.dir, r.data,
			   r.len, r.data, r.len) || v.reason != IOLM_OK) {
		fprintf(stderr, "bench_compute: training or verification failed\n");
		goto out;
	}
	double steps = (double)r.nseg * r.task.seg_len;
	double P = (double)compute_config_param_count(&r.task.cfg);
	double toks = r.task.batch * r.task.cfg.seq_len * steps / r.train_wall;
	double flop_tok = 6.0 * P + 12.0 * r.task.cfg.n_layer * r.task.cfg.seq_len *
				    r.task.cfg.n_embd;
	double gflops = toks * flop_tok / 1e9;
	const char *kind;
	double peak = bench_fma_peak_gflops(threads, quick ? 2000000 : 50000000, &kind);

	/* the verifier at the defaults, from the measured parts */
	double t = r.train_cpu / steps, e = v.eval_cpu_s;
	double seg = (v.cpu_s - v.eval_cpu_s) / v.nsampled;
	double o = seg - r.task.seg_len * t;
	o = o > 0.0 ? o : 0.0;
	double k = COMPUTE_DEFAULT_SEG_LEN, s = COMPUTE_DEFAULT_SAMPLES;
	double share = (s * (o + k * t) + e) / (REF_SEGMENTS * k * t);

	printf("# threads %u, peak kernel %s; k=%g s=%g, reference work %d segments; "
	       "detection 1-(1-f)^s: f=0.1 %.3f, f=0.25 %.3f, f=0.5 %.4f\n", threads, kind, k,
	       s, REF_SEGMENTS, 1 - pow(0.9, s), 1 - pow(0.75, s), 1 - pow(0.5, s));
	bench_figure("cpu_train_gflops", gflops, "GFLOP/s", "cpu_fma_peak_gflops", peak);
	bench_figure("cpu_train_tokens_per_s", toks, "tokens/s", "fma_peak_tokens_per_s",
		     peak * 1e9 / flop_tok);
	bench_figure("verifier_cost_share", share, "fraction", "reexec_share_s_over_segments",
		     s / REF_SEGMENTS);
	bench_figure("verifier_segment_overhead_s", o, "s", "train_step_cpu_s", t);
	bench_figure("verifier_detection_f25", 1 - pow(0.75, s), "probability", NULL, 0);
	double fed, window;
	if (gen_rates(be, &r.task, r.data, quick ? 32 : r.task.cfg.seq_len, &fed, &window)) {
		fprintf(stderr, "bench_compute: generation failed, or fed and whole-window "
				"distributions differ\n");
		goto out;
	}
	bench_figure("generate_bytes_per_s", fed, "bytes/s", "window_pass_bytes_per_s", window);
	rc = 0;
out:
	cleanup(&r);
	free(r.claim);
	free(r.data);
	compute_backend_destroy(be);
	return rc;
}
