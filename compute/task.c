/* Task files: a local stand-in for a TaskCreate transaction (docs/compute.md
 * "Task file"). One "key = value" per line; keys are the proto field names, each at
 * most once; '#' to the end of a line is a comment. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "proto/iolm.pb-c.h"
#include "core/hex.h"

#define TASK_LINE_MAX 2048

enum key_kind { K_U32, K_U64, K_F32, K_HEX32, K_PATH };

struct key {
	const char *name;
	enum key_kind kind;
	size_t off;   /* in compute_task_file */
	int required; /* no default */
};

#define KOFF(f) offsetof(compute_task_file, f)

static const struct key keys[] = {
	{ "task_id", K_HEX32, KOFF(task.id), 1 },
	{ "n_layer", K_U32, KOFF(task.cfg.n_layer), 0 },
	{ "n_embd", K_U32, KOFF(task.cfg.n_embd), 0 },
	{ "n_head", K_U32, KOFF(task.cfg.n_head), 0 },
	{ "seq_len", K_U32, KOFF(task.cfg.seq_len), 0 },
	{ "init_seed", K_U64, KOFF(task.cfg.init_seed), 0 },
	{ "lr", K_F32, KOFF(task.opt.lr), 0 },
	{ "beta1", K_F32, KOFF(task.opt.beta1), 0 },
	{ "beta2", K_F32, KOFF(task.opt.beta2), 0 },
	{ "eps", K_F32, KOFF(task.opt.eps), 0 },
	{ "weight_decay", K_F32, KOFF(task.opt.weight_decay), 0 },
	{ "warmup_steps", K_U32, KOFF(task.opt.warmup_steps), 0 },
	{ "total_steps", K_U64, KOFF(task.opt.total_steps), 0 },
	{ "grad_clip", K_F32, KOFF(task.opt.grad_clip), 0 },
	{ "batch_size", K_U32, KOFF(task.batch), 0 },
	{ "segment_len", K_U32, KOFF(task.seg_len), 0 },
	{ "samples", K_U32, KOFF(task.samples), 0 },
	{ "eval_windows", K_U32, KOFF(task.eval_windows), 0 },
	{ "dataset", K_PATH, KOFF(dataset), 1 },
	{ "eval", K_PATH, KOFF(eval), 0 },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void task_defaults(compute_task_file *tf)
{
	memset(tf, 0, sizeof *tf);
	tf->task.cfg = (compute_config){ 2, 64, 4, 64, COMPUTE_VOCAB, 1 };
	compute_optim_default(&tf->task.opt);
	tf->task.batch = 8;
	tf->task.seg_len = 10;
	tf->task.samples = COMPUTE_DEFAULT_SAMPLES;
	tf->task.eval_windows = 64;
}

static int parse_value(compute_task_file *tf, const struct key *k, const char *v)
{
	char *end, *dst = (char *)tf + k->off;
	errno = 0;
	switch (k->kind) {
	case K_U32:
	case K_U64: {
		if (v[0] < '0' || v[0] > '9')
			return IOLM_ETASKFILE;
		unsigned long long x = strtoull(v, &end, 10);
		if (errno || *end || (k->kind == K_U32 && x > UINT32_MAX))
			return IOLM_ETASKFILE;
		if (k->kind == K_U32) {
			uint32_t x32 = (uint32_t)x;
			memcpy(dst, &x32, sizeof x32);
		} else {
			uint64_t x64 = x;
			memcpy(dst, &x64, sizeof x64);
		}
		return IOLM_OK;
	}
	case K_F32: {
		float f = strtof(v, &end);
		if (errno || end == v || *end)
			return IOLM_ETASKFILE;
		memcpy(dst, &f, sizeof f);
		return IOLM_OK;
	}
	case K_HEX32:
		return iolm_hex_decode_exact((uint8_t *)dst, IOLM_HASH_LEN, v) ? IOLM_ETASKFILE
									       : IOLM_OK;
	case K_PATH:
		if (!v[0] || strlen(v) >= COMPUTE_TASK_PATH_MAX)
			return IOLM_ETASKFILE;
		memcpy(dst, v, strlen(v) + 1);
		return IOLM_OK;
	}
	return IOLM_ETASKFILE;
}

/* Trim spaces and tabs at both ends of s in place; returns the start. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static int parse_line(compute_task_file *tf, unsigned char *seen, char *line)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = 0;
	char *s = trim(line);
	if (!*s)
		return IOLM_OK;
	char *eq = strchr(s, '=');
	if (!eq)
		return IOLM_ETASKFILE;
	*eq = 0;
	char *k = trim(s), *v = trim(eq + 1);
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, k) != 0)
			continue;
		if (seen[i])
			return IOLM_ETASKFILE;
		seen[i] = 1;
		return parse_value(tf, &keys[i], v);
	}
	return IOLM_ETASKFILE;
}

int compute_task_file_parse(compute_task_file *tf, unsigned *bad_line, const char *text,
			    size_t len)
{
	unsigned char seen[NKEYS] = { 0 };
	char line[TASK_LINE_MAX];
	int err = IOLM_OK;
	unsigned lineno = 0;
	task_defaults(tf);
	*bad_line = 0;
	if (len > COMPUTE_TASK_FILE_MAX)
		return IOLM_ETOOBIG;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n >= sizeof line || memchr(text + pos, 0, n)) {
			err = IOLM_ETASKFILE;
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = 0;
		if ((err = parse_line(tf, seen, line)))
			goto fail;
		pos += n + 1;
	}
	lineno = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].required && !seen[i]) {
			err = IOLM_ETASKFILE;
			goto fail;
		}
	}
	if (compute_config_check(&tf->task.cfg) || compute_optim_check(&tf->task.opt) ||
	    tf->task.batch < 1 || tf->task.batch > COMPUTE_MAX_BATCH || tf->task.seg_len < 1 ||
	    tf->task.samples < 1 || tf->task.samples > COMPUTE_MAX_SAMPLES) {
		err = IOLM_ECONFIG;
		goto fail;
	}
	return IOLM_OK;
fail:
	*bad_line = lineno;
	task_defaults(tf);
	return err;
}

int compute_task_file_read(compute_task_file *tf, unsigned *bad_line, const char *path)
{
	char *buf = NULL;
	int err = IOLM_OK;
	*bad_line = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	buf = malloc(COMPUTE_TASK_FILE_MAX + 1);
	if (!buf) {
		err = IOLM_ENOMEM;
		goto out;
	}
	size_t n = fread(buf, 1, COMPUTE_TASK_FILE_MAX + 1, f);
	if (ferror(f)) {
		err = IOLM_EIO;
		goto out;
	}
	err = compute_task_file_parse(tf, bad_line, buf, n);
out:
	free(buf);
	fclose(f);
	return err;
}

int compute_task_from_create(compute_task *t, const uint8_t id[static IOLM_HASH_LEN],
			     const struct Iolm__TaskCreate *tc)
{
	memset(t, 0, sizeof *t);
	if (!tc->model || !tc->optim)
		return IOLM_ECONFIG;
	memcpy(t->id, id, IOLM_HASH_LEN);
	t->cfg.n_layer = tc->model->n_layer;
	t->cfg.n_embd = tc->model->n_embd;
	t->cfg.n_head = tc->model->n_head;
	t->cfg.seq_len = tc->model->seq_len;
	t->cfg.vocab = tc->model->vocab;
	t->cfg.init_seed = tc->model->init_seed;
	t->opt.lr = tc->optim->lr;
	t->opt.beta1 = tc->optim->beta1;
	t->opt.beta2 = tc->optim->beta2;
	t->opt.eps = tc->optim->eps;
	t->opt.weight_decay = tc->optim->weight_decay;
	t->opt.warmup_steps = tc->optim->warmup_steps;
	t->opt.total_steps = tc->optim->total_steps;
	t->opt.grad_clip = tc->optim->grad_clip;
	t->batch = tc->batch_size;
	t->seg_len = tc->segment_len;
	t->samples = tc->samples;
	t->eval_windows = COMPUTE_CHAIN_EVAL_WINDOWS;
	if (compute_config_check(&t->cfg) || compute_optim_check(&t->opt))
		return IOLM_ECONFIG;
	return IOLM_OK;
}
