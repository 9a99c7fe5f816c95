/* Checkpoint files (docs/compute.md "Checkpoint file").
 *
 *   0   magic "IOLMCKPT"
 *   8   u32 version (1)          12  u32 header_len (64)
 *   16  u32 L, C, NH, T, V       36  u32 0
 *   40  u64 init_seed            48  u64 step
 *   56  u32 ntensors (48)        60  u32 0
 *   64  table: ntensors x { u32 kind (0 param, 1 m, 2 v), u32 tensor index,
 *                          u64 byte offset from the file start, u64 float count }
 *       data: the tensors in table order, float32 little-endian, contiguous
 *   end 32-byte state hash H_model (eval.c), of the state the file holds
 * All integers little-endian. The expected size follows from the config alone, so a
 * reader rejects a file of any other size before reading its body, and never
 * allocates more than the config (itself capped by compute_config_check) implies. */
#include "compute/model_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "compute/state.h"

#define CKPT_MAGIC "IOLMCKPT"
#define CKPT_VERSION 1u
#define CKPT_HEADER 64u
#define CKPT_NT (3u * COMPUTE_NTENSORS)
#define CKPT_ENTRY 24u

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t ckpt_size(size_t nparams)
{
	return CKPT_HEADER + (uint64_t)CKPT_NT * CKPT_ENTRY + 3ull * nparams * 4 + IOLM_HASH_LEN;
}

/* Header and table for cfg at step into hdr (CKPT_HEADER + CKPT_NT * CKPT_ENTRY bytes). */
static void ckpt_layout(uint8_t *hdr, const compute_config *c, uint64_t step)
{
	size_t off, cnt;
	const char *name;
	size_t n = compute_config_param_count(c);
	memset(hdr, 0, CKPT_HEADER);
	memcpy(hdr, CKPT_MAGIC, 8);
	put32(hdr + 8, CKPT_VERSION);
	put32(hdr + 12, CKPT_HEADER);
	put32(hdr + 16, c->n_layer);
	put32(hdr + 20, c->n_embd);
	put32(hdr + 24, c->n_head);
	put32(hdr + 28, c->seq_len);
	put32(hdr + 32, c->vocab);
	put64(hdr + 40, c->init_seed);
	put64(hdr + 48, step);
	put32(hdr + 56, CKPT_NT);
	uint64_t data = CKPT_HEADER + (uint64_t)CKPT_NT * CKPT_ENTRY;
	for (uint32_t k = 0; k < 3; k++) {
		for (uint32_t i = 0; i < COMPUTE_NTENSORS; i++) {
			uint8_t *e = hdr + CKPT_HEADER + (k * COMPUTE_NTENSORS + i) * CKPT_ENTRY;
			compute_config_tensor(c, i, &name, &off, &cnt);
			put32(e, k);
			put32(e + 4, i);
			put64(e + 8, data + 4 * ((uint64_t)k * n + off));
			put64(e + 16, cnt);
		}
	}
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return IOLM_EIO;
		b += w;
		n -= (size_t)w;
	}
	return IOLM_OK;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return IOLM_EIO;
		if (r == 0)
			return IOLM_ECKPT_TRUNC;
		b += r;
		n -= (size_t)r;
	}
	return IOLM_OK;
}

#define HDR_BYTES (CKPT_HEADER + CKPT_NT * CKPT_ENTRY)

int compute_checkpoint_save(const compute_model *m, const char *path)
{
	int err = IOLM_OK, fd = -1;
	char *tmp = NULL;
	float *host = NULL;
	uint8_t hdr[HDR_BYTES], hash[IOLM_HASH_LEN];
	size_t plen = strlen(path);
	tmp = malloc(plen + 5);
	host = malloc(m->nparams * sizeof(float));
	if (!tmp || !host) {
		err = IOLM_ENOMEM;
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	ckpt_layout(hdr, &m->cfg, m->step);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = IOLM_EIO;
		goto out;
	}
	if ((err = write_all(fd, hdr, sizeof hdr)))
		goto out;
	const float *parts[3] = { m->params, m->m, m->v };
	for (int k = 0; k < 3; k++) {
		m->be->ops->download(m->be->ctx, host, parts[k], m->nparams * sizeof(float));
		if ((err = write_all(fd, host, m->nparams * sizeof(float))))
			goto out;
	}
	if ((err = compute_model_state_hash(m, hash)) || (err = write_all(fd, hash, sizeof hash)))
		goto out;
	if (fsync(fd) != 0) {
		err = IOLM_EIO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		err = IOLM_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		err = IOLM_EIO;
out:
	if (fd >= 0)
		close(fd);
	if (err && tmp)
		unlink(tmp);
	free(host);
	free(tmp);
	return err;
}

/* A checkpoint read into host memory. */
struct ckpt {
	compute_config cfg;
	uint64_t step;
	size_t nparams;
	float *data; /* params, m, v: 3 * nparams */
};

/* Validate the header of a file of fsize bytes (hdr holds its first
 * min(fsize, HDR_BYTES) bytes) and fill cfg, step, nparams. */
static int ckpt_check_header(struct ckpt *ck, const uint8_t *hdr, uint64_t fsize)
{
	if (fsize < 8 || memcmp(hdr, CKPT_MAGIC, 8) != 0)
		return fsize < 8 && memcmp(hdr, CKPT_MAGIC, (size_t)fsize) == 0 ?
			       IOLM_ECKPT_TRUNC : IOLM_ECKPT_MAGIC;
	if (fsize < CKPT_HEADER)
		return IOLM_ECKPT_TRUNC;
	if (get32(hdr + 8) != CKPT_VERSION)
		return IOLM_ECKPT_VERSION;
	if (get32(hdr + 12) != CKPT_HEADER || get32(hdr + 36) != 0 ||
	    get32(hdr + 56) != CKPT_NT || get32(hdr + 60) != 0)
		return IOLM_ECKPT_LAYOUT;
	ck->cfg.n_layer = get32(hdr + 16);
	ck->cfg.n_embd = get32(hdr + 20);
	ck->cfg.n_head = get32(hdr + 24);
	ck->cfg.seq_len = get32(hdr + 28);
	ck->cfg.vocab = get32(hdr + 32);
	ck->cfg.init_seed = get64(hdr + 40);
	ck->step = get64(hdr + 48);
	if (compute_config_check(&ck->cfg))
		return IOLM_ECONFIG;
	ck->nparams = compute_config_param_count(&ck->cfg);
	uint64_t want = ckpt_size(ck->nparams);
	if (fsize < want)
		return IOLM_ECKPT_TRUNC;
	if (fsize > want)
		return IOLM_ECKPT_OVERSIZE;
	uint8_t expect[HDR_BYTES];
	ckpt_layout(expect, &ck->cfg, ck->step);
	if (memcmp(expect + CKPT_HEADER, hdr + CKPT_HEADER, HDR_BYTES - CKPT_HEADER) != 0)
		return IOLM_ECKPT_LAYOUT;
	return IOLM_OK;
}

/* Read and fully validate path; on success ck->data is owned by the caller. */
static int ckpt_read(struct ckpt *ck, const char *path)
{
	int err = IOLM_OK, fd;
	uint8_t hdr[HDR_BYTES], want[IOLM_HASH_LEN], got[IOLM_HASH_LEN];
	struct stat sb;
	memset(ck, 0, sizeof *ck);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		err = IOLM_EIO;
		goto out;
	}
	uint64_t fsize = (uint64_t)sb.st_size;
	if (fsize > COMPUTE_CKPT_MAX) {
		err = IOLM_ECKPT_OVERSIZE;
		goto out;
	}
	memset(hdr, 0, sizeof hdr);
	size_t first = fsize < HDR_BYTES ? (size_t)fsize : HDR_BYTES;
	if ((err = read_all(fd, hdr, first)) || (err = ckpt_check_header(ck, hdr, fsize)))
		goto out;
	ck->data = malloc(3 * ck->nparams * sizeof(float));
	if (!ck->data) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = read_all(fd, ck->data, 3 * ck->nparams * sizeof(float))) ||
	    (err = read_all(fd, want, sizeof want)))
		goto out;
	iolm_hash_ctx h;
	state_hash_begin(&h, &ck->cfg, ck->step, ck->nparams);
	iolm_hash_update(&h, ck->data, 3 * ck->nparams * sizeof(float));
	iolm_hash_final(&h, got);
	if (memcmp(want, got, sizeof got) != 0)
		err = IOLM_ECKPT_HASH;
out:
	close(fd);
	if (err) {
		free(ck->data);
		ck->data = NULL;
	}
	return err;
}

int compute_checkpoint_peek(compute_config *cfg, uint64_t *step, const char *path)
{
	struct ckpt ck;
	int err = ckpt_read(&ck, path);
	if (err)
		return err;
	*cfg = ck.cfg;
	*step = ck.step;
	free(ck.data);
	return IOLM_OK;
}

int compute_checkpoint_load(compute_model *m, const char *path)
{
	struct ckpt ck;
	int err = ckpt_read(&ck, path);
	if (err)
		return err;
	const compute_config *a = &ck.cfg, *b = &m->cfg;
	if (a->n_layer != b->n_layer || a->n_embd != b->n_embd || a->n_head != b->n_head ||
	    a->seq_len != b->seq_len || a->vocab != b->vocab) {
		err = IOLM_ECKPT_CONFIG;
		goto out;
	}
	size_t bytes = m->nparams * sizeof(float);
	m->be->ops->upload(m->be->ctx, m->params, ck.data, bytes);
	m->be->ops->upload(m->be->ctx, m->m, ck.data + m->nparams, bytes);
	m->be->ops->upload(m->be->ctx, m->v, ck.data + 2 * m->nparams, bytes);
	m->step = ck.step;
out:
	free(ck.data);
	return err;
}
