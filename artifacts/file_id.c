/* The id one file would get from an add, computed without a store (art_file_id in art.h):
 * the same cuts (content-defined, at most ART_CHUNK_MAX, forced where a checkpoint's
 * tensors start), the same chunk ids and the same manifest, over the file mapped into
 * memory, on the calling thread. This file and the chunking and manifest code it uses
 * call no LMDB function, so iolm_art_id links without the store (iolm-wallet uses it).
 * test_art checks it against art_store_add. */
#include "artifacts/art_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The chunk list of the n bytes at map, cut as add_fd cuts them. */
static int chunk_all(art_ref **refs, size_t *nrefs, const uint8_t *map, uint64_t n,
		     const uint64_t *cuts, size_t n_cuts)
{
	size_t cap = 0, k = 0, ci = 0;
	art_ref *r = NULL;
	for (uint64_t pos = 0; pos < n;) {
		uint64_t lim = n - pos < ART_CHUNK_MAX ? n - pos : ART_CHUNK_MAX;
		while (ci < n_cuts && cuts[ci] <= pos)
			ci++;
		if (ci < n_cuts && cuts[ci] - pos < lim)
			lim = cuts[ci] - pos;
		if (k == cap) {
			art_ref *g;
			if (k == ART_MAX_CHUNKS) {
				free(r);
				return IOLM_EART_TOOMANY;
			}
			cap = cap ? 2 * cap : 1024;
			if (cap > ART_MAX_CHUNKS)
				cap = ART_MAX_CHUNKS;
			if (!(g = realloc(r, cap * sizeof *g))) {
				free(r);
				return IOLM_ENOMEM;
			}
			r = g;
		}
		size_t c = art_chunk_cut(map + pos, (size_t)lim);
		art_chunk_id(r[k].id, map + pos, c);
		r[k++].size = (uint32_t)c;
		pos += c;
	}
	*refs = r;
	*nrefs = k;
	return IOLM_OK;
}

int art_file_id(uint8_t id[static ART_ID_LEN], const char *path, const char *name,
		enum art_kind kind)
{
	struct stat sb;
	uint64_t *cuts = NULL;
	size_t n_cuts = 0, nrefs = 0;
	art_ref *refs = NULL;
	void *map = NULL;
	iolm_buf mb;
	int rc, fd;
	memset(id, 0, ART_ID_LEN);
	if (!path || kind < ART_KIND_DATASET || kind > ART_KIND_MODEL)
		return IOLM_EINVAL;
	if (!name) {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	if (!art_path_safe(name, strlen(name)))
		return IOLM_EART_PATH;
	if ((rc = art_open_regular(&fd, &sb, path)))
		return rc;
	if (!(cuts = malloc(ART_MAX_CUTS * sizeof *cuts))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	if ((rc = art_ckpt_cuts(cuts, ART_MAX_CUTS, &n_cuts, fd, (uint64_t)sb.st_size)))
		goto out;
	if (sb.st_size > 0) {
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			rc = IOLM_EIO;
			goto out;
		}
		madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
	}
	if ((rc = chunk_all(&refs, &nrefs, map, (uint64_t)sb.st_size, cuts, n_cuts)))
		goto out;
	art_file f = { .path = (char *)(uintptr_t)name, .size = (uint64_t)sb.st_size,
		       .first = 0, .count = (uint32_t)nrefs };
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	rc = art_manifest_build(&mb, id, kind, NULL, &f, 1, refs, nrefs);
	iolm_buf_release(&mb, 0);
out:
	if (map)
		munmap(map, (size_t)sb.st_size);
	close(fd);
	free(cuts);
	free(refs);
	if (rc)
		memset(id, 0, ART_ID_LEN);
	return rc;
}
