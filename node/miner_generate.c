/* iolm-miner generate: text from a trained model (docs/miner.md "Using a model").
 *
 *   iolm-miner generate --ckpt FILE [--prompt TEXT | --prompt-file FILE] [--bytes N]
 *                       [--temperature X] [--top-k K] [--seed S]
 *                       [--device auto|cpu|cuda] [--threads N]
 *
 * The checkpoint carries the model's configuration, so it is all that is needed: a
 * work's final checkpoint (GET /ckpt/{work}/{step} from its miner, or a run directory's
 * ckpt-*.bin). Each byte is drawn from the model's next-byte distribution over the bytes
 * of prompt and output it holds (the last seq_len of the prompt at first; each new byte
 * fed on with compute_model_feed, one position's work; a full window slides by half),
 * shaped by the temperature (0: always the likeliest byte) and top-k, with a PRNG seeded
 * by --seed: the same checkpoint, prompt and options give the same bytes on any backend.
 * The bytes go to standard output as they come; a summary goes to standard error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "node/miner_int.h"

#define GEN_MAX_BYTES (1u << 20)   /* --bytes at most */
#define GEN_MAX_PROMPT (1u << 20)  /* prompt bytes read at most (the model sees seq_len) */

struct gen_opts {
	const char *ckpt, *prompt, *prompt_file, *device;
	uint64_t bytes, top_k, seed, threads;
	double temperature;
};

static void gen_usage(void)
{
	fprintf(stderr, "usage: iolm-miner generate --ckpt FILE [--prompt TEXT | --prompt-file "
			"FILE]\n"
			"         [--bytes N] [--temperature X] [--top-k K] [--seed S]\n"
			"         [--device auto|cpu|cuda] [--threads N]\n");
}

/* One "--name value" of generate (miner_parse_pairs). */
static int gen_opt(void *ctx, const char *k, const char *v)
{
	struct gen_opts *o = ctx;
	int bad = 0;
	if (!strcmp(k, "--ckpt")) o->ckpt = v;
	else if (!strcmp(k, "--prompt")) o->prompt = v;
	else if (!strcmp(k, "--prompt-file")) o->prompt_file = v;
	else if (!strcmp(k, "--device")) o->device = v;
	else if (!strcmp(k, "--bytes"))
		bad = miner_parse_u64(&o->bytes, v) || o->bytes > GEN_MAX_BYTES;
	else if (!strcmp(k, "--top-k"))
		bad = miner_parse_u64(&o->top_k, v) || o->top_k > COMPUTE_VOCAB;
	else if (!strcmp(k, "--seed")) bad = miner_parse_u64(&o->seed, v);
	else if (!strcmp(k, "--threads"))
		bad = miner_parse_u64(&o->threads, v) || o->threads < 1 || o->threads > 64;
	else if (!strcmp(k, "--temperature")) {
		char *end;
		o->temperature = strtod(v, &end);
		bad = *end || !(o->temperature >= 0.0 && o->temperature <= 100.0);
	} else
		return -1;
	return bad ? 1 : 0;
}

static int parse_gen(struct gen_opts *o, int argc, char **argv)
{
	*o = (struct gen_opts){ .device = "cpu", .bytes = 200, .seed = 1, .threads = 1,
				.temperature = 1.0 };
	if (miner_parse_pairs(argc, argv, gen_opt, o))
		return IOLM_EINVAL;
	if (!o->ckpt || (o->prompt && o->prompt_file)) {
		fprintf(stderr, "iolm-miner: generate needs --ckpt, and at most one of --prompt "
				"and --prompt-file\n");
		return IOLM_EINVAL;
	}
	return IOLM_OK;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Draw a byte from probs[0..V): the top_k likeliest (0: all; ties to the lower byte),
 * each weighted p^(1 / temperature); temperature 0 is the likeliest byte. */
static unsigned draw(const float *probs, unsigned V, double temperature, unsigned top_k,
		     uint64_t *rng)
{
	unsigned order[COMPUTE_VOCAB], n = top_k && top_k < V ? top_k : V;
	double w[COMPUTE_VOCAB], sum = 0.0, u;
	if (V < 1 || V > COMPUTE_VOCAB)
		return 0;
	for (unsigned i = 0; i < V; i++)
		order[i] = i;
	/* order by probability, descending, then by byte: insertion sort of 256 */
	for (unsigned i = 1; i < V; i++) {
		unsigned x = order[i], j = i;
		while (j > 0 && (probs[order[j - 1]] < probs[x] ||
				 (probs[order[j - 1]] == probs[x] && order[j - 1] > x))) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
	if (temperature == 0.0)
		return order[0];
	for (unsigned i = 0; i < n; i++) {
		double p = probs[order[i]];
		w[i] = p > 0.0 ? exp(log(p) / temperature) : 0.0;
		sum += w[i];
	}
	if (!(sum > 0.0) || !isfinite(sum))
		return order[0];
	u = (double)(splitmix(rng) >> 11) * 0x1.0p-53 * sum;
	for (unsigned i = 0; i < n; i++) {
		if (u < w[i])
			return order[i];
		u -= w[i];
	}
	return order[n - 1];
}

static int read_prompt(uint8_t **out, size_t *len, const struct gen_opts *o)
{
	if (o->prompt_file)
		return miner_read_file(out, len, o->prompt_file, GEN_MAX_PROMPT);
	*len = o->prompt ? strlen(o->prompt) : 0;
	if (!(*out = malloc(*len + 1)))
		return IOLM_ENOMEM;
	memcpy(*out, o->prompt ? o->prompt : "", *len);
	return IOLM_OK;
}

int miner_generate_main(int argc, char **argv)
{
	struct gen_opts o;
	compute_config cfg;
	compute_optim opt;
	compute_model *m = NULL;
	miner_devices dev = { 0 };
	uint8_t *prompt = NULL, *text = NULL;
	size_t plen = 0, len;
	float probs[COMPUTE_VOCAB];
	uint64_t step, rng;
	int err;

	if (parse_gen(&o, argc, argv)) {
		gen_usage();
		return 2;
	}
	if ((err = compute_checkpoint_peek(&cfg, &step, o.ckpt))) {
		fprintf(stderr, "iolm-miner: %s: %s (%s)\n", o.ckpt, iolm_strerror(err),
			iolm_errname(err));
		return 1;
	}
	if ((err = read_prompt(&prompt, &plen, &o))) {
		fprintf(stderr, "iolm-miner: the prompt: %s\n", iolm_strerror(err));
		return 1;
	}
	/* Without a prompt the model starts from a line break, as after a line of text. */
	if (!(text = malloc(plen + o.bytes + 1))) {
		free(prompt);
		return 1;
	}
	len = plen ? plen : 1;
	memcpy(text, plen ? prompt : (const uint8_t *)"\n", len);
	free(prompt);
	compute_optim_default(&opt);
	if ((err = miner_devices_open(&dev, o.device, (unsigned)o.threads, 1)) ||
	    (err = compute_model_create(&m, &cfg, 1, &opt, dev.be[0])) ||
	    (err = compute_checkpoint_load(m, o.ckpt))) {
		fprintf(stderr, "iolm-miner: %s: %s (%s)\n", o.ckpt, iolm_strerror(err),
			iolm_errname(err));
		goto out;
	}
	fprintf(stderr, "model: %u layers, %u channels, %u heads, %u bytes of context, "
			"%zu parameters, trained %llu steps; on %s\n",
		cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.seq_len, compute_model_param_count(m),
		(unsigned long long)step, dev.name);
	rng = o.seed;
	uint64_t t0 = iolm_clock_mono_ns();
	/* The prompt's last seq_len bytes in one pass; then each byte is fed on at the next
	 * position. A full window slides by half: its newest half is taken in one pass
	 * again, so the model always sees between seq_len / 2 and seq_len bytes. */
	size_t keep = cfg.seq_len / 2 ? cfg.seq_len / 2 : 1;
	size_t pos = len < cfg.seq_len ? len : cfg.seq_len;
	if ((err = compute_model_next_probs(m, probs, text + len - pos, pos)))
		goto out;
	for (uint64_t i = 0; i < o.bytes && !miner_stop; i++) {
		unsigned b = draw(probs, cfg.vocab, o.temperature, (unsigned)o.top_k, &rng);
		text[len++] = (uint8_t)b;
		putchar((int)b);
		if (b == '\n')
			fflush(stdout);
		if (i + 1 == o.bytes)
			break;
		if (pos < cfg.seq_len) {
			err = compute_model_feed(m, probs, (uint8_t)b, pos++);
		} else {
			pos = keep;
			err = compute_model_next_probs(m, probs, text + len - keep, keep);
		}
		if (err)
			goto out;
	}
	fflush(stdout);
	double secs = (double)(iolm_clock_mono_ns() - t0) / 1e9;
	fprintf(stderr, "\n%zu bytes in %.2f s (%.1f bytes/s)\n", len - (plen ? plen : 1), secs,
		secs > 0 ? (double)(len - (plen ? plen : 1)) / secs : 0.0);
out:
	compute_model_destroy(m);
	miner_devices_close(&dev);
	free(text);
	return err ? 1 : 0;
}
