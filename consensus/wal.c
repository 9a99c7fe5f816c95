/* The signing WAL; the format is in consensus/wal.h and docs/consensus.md. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consensus/wal.h"
#include "core/codec.h"

#define WAL_MAGIC "IOLMWAL1"
#define WAL_MAGIC_LEN 8
#define WAL_FIXED (8 + 4 + 1 + 1 + 1 + CONS_ID_LEN)
#define WAL_MAX_PAYLOAD (WAL_FIXED + IOLM_MAX_FRAME_BYTES)

struct wal_rec {
	uint64_t height;
	uint32_t round;
	uint8_t step, kind, nil;
	uint8_t id[CONS_ID_LEN];
	uint8_t *msg;
	size_t len;
};

struct cons_wal {
	int fd; /* -1: memory only */
	char *path;
	struct wal_rec *recs; /* records of the highest height */
	size_t n, cap;
};

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ---------------------------------------------------------------- file helpers */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return IOLM_EIO;
		p += w;
		n -= (size_t)w;
	}
	return IOLM_OK;
}

/* Read exactly n bytes at off; IOLM_ETRUNC at end of file. */
static int read_at(int fd, uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return IOLM_EIO;
		if (r == 0)
			return IOLM_ETRUNC;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return IOLM_OK;
}

static int fsync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return IOLM_ENOMEM;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return IOLM_EIO;
	int err = fsync(fd) == 0 ? IOLM_OK : IOLM_EIO;
	close(fd);
	return err;
}

/* ---------------------------------------------------------------- records */

static void recs_clear(cons_wal *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->recs[i].msg);
	w->n = 0;
}

static int recs_push(cons_wal *w, const struct wal_rec *r)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct wal_rec *nr = realloc(w->recs, cap * sizeof *nr);
		if (!nr)
			return IOLM_ENOMEM;
		w->recs = nr;
		w->cap = cap;
	}
	struct wal_rec c = *r;
	c.msg = malloc(r->len ? r->len : 1);
	if (!c.msg)
		return IOLM_ENOMEM;
	memcpy(c.msg, r->msg, r->len);
	w->recs[w->n++] = c;
	return IOLM_OK;
}

/* Serialise r as one framed record into a fresh buffer the caller frees. */
static int rec_encode(const struct wal_rec *r, uint8_t **out, size_t *out_len)
{
	size_t plen = WAL_FIXED + r->len;
	uint8_t *b = malloc(4 + plen + 4);
	if (!b)
		return IOLM_ENOMEM;
	uint8_t *p = b + 4;
	put_u32(b, (uint32_t)plen);
	put_u64(p, r->height);
	put_u32(p + 8, r->round);
	p[12] = r->step;
	p[13] = r->kind;
	p[14] = r->nil;
	memcpy(p + 15, r->id, CONS_ID_LEN);
	memcpy(p + WAL_FIXED, r->msg, r->len);
	put_u32(p + plen, crc32_ieee(p, plen));
	*out = b;
	*out_len = 4 + plen + 4;
	return IOLM_OK;
}

static int rec_decode(struct wal_rec *r, uint8_t *payload, size_t plen)
{
	if (plen < WAL_FIXED)
		return IOLM_ECORRUPT;
	r->height = get_u64(payload);
	r->round = get_u32(payload + 8);
	r->step = payload[12];
	r->kind = payload[13];
	r->nil = payload[14];
	memcpy(r->id, payload + 15, CONS_ID_LEN);
	r->msg = payload + WAL_FIXED;
	r->len = plen - WAL_FIXED;
	if (r->step < CONS_STEP_PROPOSE || r->step > CONS_STEP_PRECOMMIT || r->nil > 1 ||
	    (r->kind != CONS_MSG_VOTE && r->kind != CONS_MSG_PROPOSAL))
		return IOLM_ECORRUPT;
	return IOLM_OK;
}

/* Read the record at *off. IOLM_ETRUNC: a torn tail (cut it off); IOLM_ECORRUPT: damage
 * with data after it. On success the record is kept if it is of the highest height. */
static int load_one(cons_wal *w, off_t *off, off_t size)
{
	uint8_t hdr[4], crc[4], *payload = NULL;
	struct wal_rec r;
	int err = read_at(w->fd, hdr, 4, *off);
	if (err)
		return err;
	size_t plen = get_u32(hdr);
	if ((off_t)(4 + plen + 4) > size - *off)
		return IOLM_ETRUNC;
	err = IOLM_ECORRUPT;
	if (plen > WAL_MAX_PAYLOAD)
		goto out;
	err = IOLM_ENOMEM;
	payload = malloc(plen ? plen : 1);
	if (!payload)
		goto out;
	err = read_at(w->fd, payload, plen, *off + 4);
	if (!err)
		err = read_at(w->fd, crc, 4, *off + 4 + (off_t)plen);
	if (err)
		goto out;
	int last = *off + (off_t)(4 + plen + 4) == size;
	err = last ? IOLM_ETRUNC : IOLM_ECORRUPT;
	if (get_u32(crc) != crc32_ieee(payload, plen))
		goto out;
	err = rec_decode(&r, payload, plen);
	if (err)
		goto out;
	if (w->n > 0 && r.height > w->recs[0].height)
		recs_clear(w);
	if (w->n == 0 || r.height == w->recs[0].height)
		err = recs_push(w, &r);
	*off += (off_t)(4 + plen + 4);
out:
	free(payload);
	return err;
}

static int load(cons_wal *w, int *rewrite)
{
	struct stat st;
	uint8_t magic[WAL_MAGIC_LEN];
	off_t off = WAL_MAGIC_LEN;
	size_t total = 0;
	int err;

	if (fstat(w->fd, &st) != 0)
		return IOLM_EIO;
	if (st.st_size < WAL_MAGIC_LEN) {
		*rewrite = 1; /* new, or torn while being created */
		return IOLM_OK;
	}
	err = read_at(w->fd, magic, WAL_MAGIC_LEN, 0);
	if (err)
		return err;
	if (memcmp(magic, WAL_MAGIC, WAL_MAGIC_LEN) != 0)
		return IOLM_ECORRUPT;
	while (off < st.st_size) {
		err = load_one(w, &off, st.st_size);
		if (err == IOLM_ETRUNC) {
			*rewrite = 1;
			break;
		}
		if (err)
			return err;
		total++;
	}
	if (total != w->n)
		*rewrite = 1; /* older heights left: compact */
	return IOLM_OK;
}

/* Replace the file by the header and the records in memory, atomically. */
static int rewrite_file(cons_wal *w)
{
	char *tmp = NULL;
	uint8_t *rec = NULL;
	size_t rec_len;
	int fd = -1, err = IOLM_ENOMEM;

	if (asprintf(&tmp, "%s.tmp", w->path) < 0) {
		tmp = NULL;
		goto out;
	}
	err = IOLM_EIO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	err = write_all(fd, (const uint8_t *)WAL_MAGIC, WAL_MAGIC_LEN);
	for (size_t i = 0; !err && i < w->n; i++) {
		err = rec_encode(&w->recs[i], &rec, &rec_len);
		if (!err)
			err = write_all(fd, rec, rec_len);
		free(rec);
		rec = NULL;
	}
	if (err)
		goto out;
	err = IOLM_EIO;
	if (fsync(fd) != 0 || rename(tmp, w->path) != 0)
		goto out;
	err = fsync_dir(w->path);
	if (err)
		goto out;
	close(w->fd);
	w->fd = fd;
	fd = -1;
	err = lseek(w->fd, 0, SEEK_END) < 0 ? IOLM_EIO : IOLM_OK;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	return err;
}

int cons_wal_open(cons_wal **out, const char *path)
{
	cons_wal *w;
	int err = IOLM_ENOMEM, rewrite = 0;

	*out = NULL;
	w = calloc(1, sizeof *w);
	if (!w)
		return IOLM_ENOMEM;
	w->fd = -1;
	if (path) {
		w->path = strdup(path);
		if (!w->path)
			goto fail;
		err = IOLM_EIO;
		w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (w->fd < 0)
			goto fail;
		err = load(w, &rewrite);
		if (!err && rewrite)
			err = rewrite_file(w);
		if (err)
			goto fail;
	}
	*out = w;
	return IOLM_OK;
fail:
	cons_wal_close(w);
	return err;
}

void cons_wal_close(cons_wal *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	recs_clear(w);
	free(w->recs);
	free(w->path);
	free(w);
}

/* ---------------------------------------------------------------- check and record */

int cons_wal_check(const cons_wal *w, const cons_action *act, const uint8_t **msg,
		   size_t *len)
{
	*msg = NULL;
	*len = 0;
	if (act->kind != CONS_ACT_SIGN || !act->msg)
		return IOLM_EINVAL;
	if (w->n == 0 || act->height > w->recs[0].height)
		return IOLM_OK;
	if (act->height < w->recs[0].height)
		return IOLM_ECONS_WALSTALE;
	for (size_t i = 0; i < w->n; i++) {
		const struct wal_rec *r = &w->recs[i];
		if (r->round != act->round || r->step != (uint8_t)act->step)
			continue;
		if (r->nil != (act->nil != 0) ||
		    (!r->nil && memcmp(r->id, act->block_id, CONS_ID_LEN) != 0))
			return IOLM_ECONS_DOUBLESIGN;
		*msg = r->msg;
		*len = r->len;
		return IOLM_EEXIST;
	}
	return IOLM_OK;
}

int cons_wal_record(cons_wal *w, const cons_action *act, const uint8_t **msg, size_t *len)
{
	uint8_t *rec = NULL;
	size_t rec_len;
	int err = cons_wal_check(w, act, msg, len);
	if (err == IOLM_EEXIST)
		return IOLM_OK;
	if (err)
		return err;
	if (act->msg_len > IOLM_MAX_FRAME_BYTES)
		return IOLM_ETOOBIG;
	struct wal_rec r = { .height = act->height, .round = act->round,
			     .step = (uint8_t)act->step, .kind = (uint8_t)act->msg_kind,
			     .nil = act->nil != 0, .msg = (uint8_t *)act->msg,
			     .len = act->msg_len };
	if (!r.nil)
		memcpy(r.id, act->block_id, CONS_ID_LEN);
	int new_height = w->n > 0 && act->height > w->recs[0].height;
	/* Memory first (so a rewrite includes it), rolled back on failure. */
	struct wal_rec *old = NULL;
	size_t old_n = w->n, old_cap = w->cap;
	if (new_height) {
		old = w->recs;
		w->recs = NULL;
		w->n = w->cap = 0;
	}
	err = recs_push(w, &r);
	if (err)
		goto out;
	if (w->fd >= 0 && new_height) {
		err = rewrite_file(w);
	} else if (w->fd >= 0) {
		err = rec_encode(&r, &rec, &rec_len);
		if (!err)
			err = write_all(w->fd, rec, rec_len);
		if (!err && fdatasync(w->fd) != 0)
			err = IOLM_EIO;
	}
out:
	if (err) {
		/* A failed append may be partly on disk: the record stays in memory so
		 * that this process keeps refusing conflicting requests; the next open cuts
		 * a torn tail. A failed rewrite left the old file: restore its records. */
		if (new_height) {
			recs_clear(w);
			free(w->recs);
			w->recs = old;
			w->n = old_n;
			w->cap = old_cap;
		}
	} else {
		if (old) {
			for (size_t i = 0; i < old_n; i++)
				free(old[i].msg);
			free(old);
		}
		*msg = w->recs[w->n - 1].msg;
		*len = w->recs[w->n - 1].len;
	}
	free(rec);
	return err;
}

size_t cons_wal_count(const cons_wal *w)
{
	return w->n;
}

int cons_wal_entry(const cons_wal *w, size_t i, uint64_t *height, enum cons_msg_kind *kind,
		   const uint8_t **msg, size_t *len)
{
	if (i >= w->n)
		return IOLM_ERANGE;
	*height = w->recs[i].height;
	*kind = (enum cons_msg_kind)w->recs[i].kind;
	*msg = w->recs[i].msg;
	*len = w->recs[i].len;
	return IOLM_OK;
}
