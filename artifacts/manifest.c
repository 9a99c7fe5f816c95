/* Manifests: building, checking, ids (docs/artifacts.md "Manifest").
 *
 * A manifest is the canonical encoding of Iolm__Manifest. Its id is
 * ART_ID_PREFIX || H_manifest(bytes); its merkle_root is iolm_merkle_root over
 * iolm_merkle_leaf(chunk id) for every chunk in order, so one chunk can be proven part
 * of an artifact with a Merkle path without the whole chunk list. */
#include "artifacts/art_int.h"

#include <string.h>

#include "core/merkle.h"

#define ART_MANIFEST_VERSION 1u

int art_path_safe(const char *path, size_t len)
{
	if (len == 0 || len > ART_MAX_PATH || memchr(path, '\0', len))
		return 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		size_t clen = i - start;
		if (clen == 0 || (clen == 1 && path[start] == '.') ||
		    (clen == 2 && path[start] == '.' && path[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* Merkle root over the ids of refs (n of them, each ART_ID_LEN bytes at stride). */
static int chunk_root(uint8_t root[static IOLM_HASH_LEN], const uint8_t *ids, size_t stride,
		      size_t n)
{
	uint8_t *leaves = NULL;
	if (n && !(leaves = malloc(n * IOLM_HASH_LEN)))
		return IOLM_ENOMEM;
	for (size_t i = 0; i < n; i++)
		iolm_merkle_leaf(leaves + i * IOLM_HASH_LEN, ids + i * stride, ART_ID_LEN);
	iolm_merkle_root(root, leaves, n);
	free(leaves);
	return IOLM_OK;
}

int art_manifest_build(iolm_buf *out, uint8_t id[static ART_ID_LEN], enum art_kind kind,
		       const uint8_t *parent, const art_file *files, size_t n_files,
		       const art_ref *refs, size_t n_refs)
{
	Iolm__Manifest m = IOLM__MANIFEST__INIT;
	Iolm__FileEntry *fe = NULL, **fp = NULL;
	Iolm__ChunkRef *ce = NULL, **cp = NULL;
	uint8_t root[IOLM_HASH_LEN];
	int rc;
	if (n_files > ART_MAX_FILES || n_refs > ART_MAX_CHUNKS) {
		rc = IOLM_EART_TOOMANY;
		goto out;
	}
	if ((n_files && (!(fe = calloc(n_files, sizeof *fe)) || !(fp = calloc(n_files, sizeof *fp)))) ||
	    (n_refs && (!(ce = calloc(n_refs, sizeof *ce)) || !(cp = calloc(n_refs, sizeof *cp))))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n_files; i++) {
		iolm__file_entry__init(&fe[i]);
		fe[i].path = files[i].path;
		fe[i].size = files[i].size;
		fe[i].first_chunk = files[i].first;
		fe[i].n_chunks = files[i].count;
		fp[i] = &fe[i];
		total += files[i].size;
	}
	for (size_t i = 0; i < n_refs; i++) {
		iolm__chunk_ref__init(&ce[i]);
		ce[i].id.data = (uint8_t *)refs[i].id;
		ce[i].id.len = ART_ID_LEN;
		ce[i].size = refs[i].size;
		cp[i] = &ce[i];
	}
	if ((rc = chunk_root(root, n_refs ? refs[0].id : NULL, sizeof *refs, n_refs)))
		goto out;
	m.version = ART_MANIFEST_VERSION;
	m.kind = (Iolm__ArtifactKind)kind;
	if (parent) {
		m.parent.data = (uint8_t *)parent;
		m.parent.len = ART_ID_LEN;
	}
	m.n_files = n_files;
	m.files = fp;
	m.n_chunks = n_refs;
	m.chunks = cp;
	m.merkle_root.data = root;
	m.merkle_root.len = sizeof root;
	m.total_size = total;
	if ((rc = art_manifest_check(&m)))
		goto out;
	size_t before = out->len;
	if ((rc = iolm_codec_encode(out, &m.base)))
		goto out;
	id[0] = ART_ID_PREFIX0;
	id[1] = ART_ID_PREFIX1;
	iolm_hash(id + 2, IOLM_TAG_MANIFEST, out->data + before, out->len - before);
out:
	free(fe);
	free(fp);
	free(ce);
	free(cp);
	if (rc)
		memset(id, 0, ART_ID_LEN);
	return rc;
}

static int id_ok(const ProtobufCBinaryData *b)
{
	return b->len == ART_ID_LEN && art_id_valid(b->data);
}

static int check_files(const Iolm__Manifest *m)
{
	uint64_t next = 0, total = 0;
	for (size_t i = 0; i < m->n_files; i++) {
		const Iolm__FileEntry *f = m->files[i];
		if (!f->path || !art_path_safe(f->path, strlen(f->path)))
			return IOLM_EART_PATH;
		if (i && strcmp(m->files[i - 1]->path, f->path) >= 0)
			return IOLM_EART_MANIFEST;   /* unsorted or duplicate */
		if (f->first_chunk != next || f->n_chunks > m->n_chunks - next)
			return IOLM_EART_MANIFEST;
		uint64_t sum = 0;
		for (uint32_t j = 0; j < f->n_chunks; j++)
			sum += m->chunks[next + j]->size;
		if (sum != f->size)
			return IOLM_EART_MANIFEST;
		next += f->n_chunks;
		total += f->size;
	}
	if (next != m->n_chunks || total != m->total_size)
		return IOLM_EART_MANIFEST;
	return IOLM_OK;
}

int art_manifest_check(const Iolm__Manifest *m)
{
	uint8_t *ids = NULL, root[IOLM_HASH_LEN];
	int rc = IOLM_EART_MANIFEST;
	if (m->version != ART_MANIFEST_VERSION || m->kind < IOLM__ARTIFACT_KIND__ARTIFACT_DATASET ||
	    m->kind > IOLM__ARTIFACT_KIND__ARTIFACT_MODEL || m->n_files == 0)
		goto out;
	if (m->n_files > ART_MAX_FILES || m->n_chunks > ART_MAX_CHUNKS) {
		rc = IOLM_EART_TOOMANY;
		goto out;
	}
	if ((m->parent.len && !id_ok(&m->parent))) {
		rc = IOLM_EART_ID;
		goto out;
	}
	if (m->merkle_root.len != IOLM_HASH_LEN)
		goto out;
	for (size_t i = 0; i < m->n_chunks; i++) {
		if (!id_ok(&m->chunks[i]->id)) {
			rc = IOLM_EART_ID;
			goto out;
		}
		if (m->chunks[i]->size == 0 || m->chunks[i]->size > ART_CHUNK_MAX)
			goto out;
	}
	if ((rc = check_files(m)))
		goto out;
	if (m->n_chunks && !(ids = malloc(m->n_chunks * (size_t)ART_ID_LEN))) {
		rc = IOLM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->n_chunks; i++)
		memcpy(ids + i * ART_ID_LEN, m->chunks[i]->id.data, ART_ID_LEN);
	if ((rc = chunk_root(root, ids, ART_ID_LEN, m->n_chunks)))
		goto out;
	rc = memcmp(root, m->merkle_root.data, IOLM_HASH_LEN) ? IOLM_EART_MANIFEST : IOLM_OK;
out:
	free(ids);
	return rc;
}

const char *art_kind_name(enum art_kind k)
{
	switch (k) {
	case ART_KIND_DATASET: return "dataset";
	case ART_KIND_CHECKPOINT: return "checkpoint";
	case ART_KIND_MODEL: return "model";
	default: return "unknown";
	}
}

int art_kind_parse(enum art_kind *out, const char *name)
{
	for (int k = ART_KIND_DATASET; k <= ART_KIND_MODEL; k++)
		if (name && !strcmp(name, art_kind_name((enum art_kind)k))) {
			*out = (enum art_kind)k;
			return IOLM_OK;
		}
	return IOLM_EINVAL;
}

int art_manifest_decode(Iolm__Manifest **out, uint8_t id[static ART_ID_LEN], const uint8_t *data,
			size_t len)
{
	Iolm__Manifest *m = NULL;
	int rc = iolm_decode_manifest(&m, data, len, IOLM_MAX_MANIFEST_BYTES);
	if (rc)
		goto out;
	if ((rc = art_manifest_check(m)))
		goto out;
	id[0] = ART_ID_PREFIX0;
	id[1] = ART_ID_PREFIX1;
	iolm_hash(id + 2, IOLM_TAG_MANIFEST, data, len);
out:
	if (rc) {
		iolm_codec_free((ProtobufCMessage *)m);
		m = NULL;
		memset(id, 0, ART_ID_LEN);
	}
	*out = m;
	return rc;
}
