/* Content-defined chunking, chunk ids and checkpoint cut offsets (docs/artifacts.md).
 *
 * The rolling hash is Gear: h = (h << 1) + G[byte], so bit k of h depends on the last
 * k + 1 bytes and the top bit on the last 64. A cut follows the first byte where the
 * top bits of h are all zero: ART_MASK_SMALL (18 bits, harder) before the chunk reaches
 * ART_CHUNK_AVG bytes, ART_MASK_LARGE (14 bits, easier) after, which pulls sizes towards
 * the average (FastCDC's normalized chunking, level 2). The first ART_CHUNK_MIN bytes of
 * a chunk are skipped without hashing, and no chunk exceeds ART_CHUNK_MAX. The table G
 * is 256 successive outputs of splitmix64 seeded with ART_GEAR_SEED; changing the table
 * or the masks changes every chunk boundary (never correctness, only dedup against
 * chunks made before). */
#include "artifacts/art_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define ART_GEAR_SEED 0x696f6c6d2e636463ull /* "iolm.cdc" */
#define ART_MASK_SMALL (~0ull << (64 - 18))
#define ART_MASK_LARGE (~0ull << (64 - 14))

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void gear_init(void)
{
	uint64_t s = ART_GEAR_SEED;
	for (size_t i = 0; i < 256; i++)
		gear[i] = splitmix64(&s);
}

size_t art_chunk_cut(const uint8_t *data, size_t len)
{
	assert(len <= ART_CHUNK_MAX);
	if (len <= ART_CHUNK_MIN)
		return len;
	pthread_once(&gear_once, gear_init);
	size_t normal = len < ART_CHUNK_AVG ? len : ART_CHUNK_AVG;
	uint64_t h = 0;
	size_t i = ART_CHUNK_MIN;
	for (; i < normal; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & ART_MASK_SMALL))
			return i + 1;
	}
	for (; i < len; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & ART_MASK_LARGE))
			return i + 1;
	}
	return len;
}

void art_chunk_id(uint8_t id[static ART_ID_LEN], const void *data, size_t len)
{
	id[0] = ART_ID_PREFIX0;
	id[1] = ART_ID_PREFIX1;
	iolm_hash(id + 2, IOLM_TAG_CHUNK, data, len);
}

int art_id_valid(const uint8_t id[static ART_ID_LEN])
{
	return id[0] == ART_ID_PREFIX0 && id[1] == ART_ID_PREFIX1;
}

/* ---------------------------------------------------------------- checkpoint cuts */

#define CKPT_HEADER 64u
#define CKPT_ENTRY 24u
#define CKPT_TRAILER 32u
#define CKPT_MAX_TENSORS 4096u

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return IOLM_EIO;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return IOLM_OK;
}

/* The checkpoint layout (docs/compute.md §5, compute/ckpt.c) is read here rather than
 * through the compute module, which the store must not link: a 64-byte header whose
 * u32 at 56 is the tensor count, then 24-byte entries {u32 kind, u32 index, u64 offset,
 * u64 count}, then the tensors, then a 32-byte trailer. Only offsets are taken; the
 * compute module, not the store, validates checkpoints. */
int art_ckpt_cuts(uint64_t *cuts, size_t cap, size_t *n, int fd, uint64_t file_size)
{
	uint8_t hdr[CKPT_HEADER];
	uint8_t *table = NULL;
	int rc = IOLM_OK;
	size_t k = 0;
	*n = 0;
	if (file_size < CKPT_HEADER + CKPT_TRAILER)
		goto out;
	if ((rc = pread_full(fd, hdr, sizeof hdr, 0)))
		goto out;
	uint32_t nt = rd32(hdr + 56);
	if (memcmp(hdr, "IOLMCKPT", 8) || rd32(hdr + 8) != 1 || rd32(hdr + 12) != CKPT_HEADER ||
	    nt == 0 || nt > CKPT_MAX_TENSORS ||
	    CKPT_HEADER + (uint64_t)nt * CKPT_ENTRY + CKPT_TRAILER > file_size)
		goto out;
	if (nt + 2u > cap) {
		rc = IOLM_ETOOBIG;
		goto out;
	}
	size_t tlen = (size_t)nt * CKPT_ENTRY;
	if (!(table = malloc(tlen))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	if ((rc = pread_full(fd, table, tlen, CKPT_HEADER)))
		goto out;
	uint64_t trailer = file_size - CKPT_TRAILER;
	cuts[k++] = CKPT_HEADER;
	for (uint32_t i = 0; i < nt; i++) {
		uint64_t off = rd64(table + (size_t)i * CKPT_ENTRY + 8);
		/* Descending, or outside the body: not a layout we understand. */
		if (off < cuts[k - 1] || off >= trailer) {
			k = 0;
			goto out;
		}
		if (off > cuts[k - 1])  /* an empty tensor adds no cut */
			cuts[k++] = off;
	}
	cuts[k++] = trailer;
out:
	free(table);
	if (rc)
		k = 0;
	*n = k;
	return rc;
}

int art_open_regular(int *fd, struct stat *sb, const char *path)
{
	int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	*fd = -1;
	if (f < 0)
		return errno == ELOOP ? IOLM_EART_FILETYPE : errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	if (fstat(f, sb) || !S_ISREG(sb->st_mode)) {
		int rc = S_ISREG(sb->st_mode) ? IOLM_EIO : IOLM_EART_FILETYPE;
		close(f);
		return rc;
	}
	*fd = f;
	return IOLM_OK;
}
