/* Unit tests of the artifact store: chunking, ids, manifests, add/get round trips,
 * pins and garbage collection, corruption detection. The add and get pipelines (their
 * writer thread, its errors) are in test_art_pipeline.c. */
#include "art_test_util.h"

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include "artifacts/art_int.h"
#include "core/merkle.h"

static uint8_t *rand_buf(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	t_fill(p, n, &seed);
	return p;
}

/* ---------------------------------------------------------------- chunking */

static void test_chunk_sizes_bounded_and_average_near_target(void **state)
{
	(void)state;
	size_t n = 32u << 20, pos = 0, count = 0, small = 0;
	uint8_t *d = rand_buf(n, 1);
	while (pos < n) {
		size_t lim = n - pos < ART_CHUNK_MAX ? n - pos : ART_CHUNK_MAX;
		size_t c = art_chunk_cut(d + pos, lim);
		assert_true(c >= 1 && c <= lim);
		if (pos + c < n) {
			assert_true(c >= ART_CHUNK_MIN);
			small += c < ART_CHUNK_AVG / 2;
		}
		pos += c;
		count++;
	}
	size_t avg = n / count;
	assert_in_range(avg, 48 * 1024, 80 * 1024);
	/* Normalized chunking keeps few chunks far below the target. */
	assert_true(small * 10 < count);
	free(d);
}

static void test_chunk_cut_short_input_is_whole(void **state)
{
	(void)state;
	uint8_t *d = rand_buf(ART_CHUNK_MIN, 2);
	assert_int_equal(art_chunk_cut(d, 0), 0);
	assert_int_equal(art_chunk_cut(d, 1), 1);
	assert_int_equal(art_chunk_cut(d, ART_CHUNK_MIN), ART_CHUNK_MIN);
	free(d);
}

/* Boundaries depend on content only: an insertion early on shifts the cut points after
 * it but leaves the chunks after the next cut identical. */
static void test_chunk_boundaries_resynchronise_after_insert(void **state)
{
	(void)state;
	size_t n = 4u << 20;
	uint8_t *a = rand_buf(n, 3), *b = malloc(n + 100);
	assert_non_null(b);
	memcpy(b, a, 1000);
	memset(b + 1000, 0x5a, 100);
	memcpy(b + 1100, a + 1000, n - 1000);
	size_t pa = 0, pb = 0, common = 0, na = 0;
	size_t cuts_a[256], ncut = 0;
	while (pa < n) {
		size_t lim = n - pa < ART_CHUNK_MAX ? n - pa : ART_CHUNK_MAX;
		pa += art_chunk_cut(a + pa, lim);
		cuts_a[ncut++] = pa;
		na++;
	}
	while (pb < n + 100) {
		size_t lim = n + 100 - pb < ART_CHUNK_MAX ? n + 100 - pb : ART_CHUNK_MAX;
		pb += art_chunk_cut(b + pb, lim);
		for (size_t i = 0; i < ncut; i++)
			common += cuts_a[i] + 100 == pb;
	}
	assert_true(common + 2 >= na);
	free(a);
	free(b);
}

static void test_chunk_id_is_prefixed_blake2b_chunk_tag(void **state)
{
	(void)state;
	uint8_t id[ART_ID_LEN], h[IOLM_HASH_LEN];
	art_chunk_id(id, "abc", 3);
	iolm_hash(h, IOLM_TAG_CHUNK, "abc", 3);
	assert_int_equal(id[0], 0x1e);
	assert_int_equal(id[1], 0x20);
	assert_memory_equal(id + 2, h, IOLM_HASH_LEN);
	assert_true(art_id_valid(id));
	id[0] = 0x12;
	assert_false(art_id_valid(id));
}

static void test_path_safe_rejects_escapes(void **state)
{
	(void)state;
	assert_true(art_path_safe("a", 1));
	assert_true(art_path_safe("a/b.c", 5));
	assert_true(art_path_safe("..a/b", 5));
	assert_false(art_path_safe("", 0));
	assert_false(art_path_safe("/a", 2));
	assert_false(art_path_safe("a/", 2));
	assert_false(art_path_safe("a//b", 4));
	assert_false(art_path_safe("..", 2));
	assert_false(art_path_safe("a/../b", 6));
	assert_false(art_path_safe("./a", 3));
	assert_false(art_path_safe("a\0b", 3));
}

static void test_ckpt_cuts_follow_the_tensor_table(void **state)
{
	(void)state;
	char dir[256], path[512];
	uint64_t seeds[4] = { 1, 2, 3, 4 }, cuts[8];
	size_t n;
	t_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/ck.bin", dir);
	t_write_ckpt(path, 4, 1000, seeds, 5);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint64_t size = 64 + 4 * 24 + 4000 + 32;
	assert_int_equal(art_ckpt_cuts(cuts, 8, &n, fd, size), IOLM_OK);
	assert_int_equal(n, 6);
	assert_int_equal(cuts[0], 64);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(cuts[1 + i], 64 + 96 + 1000 * i);
	assert_int_equal(cuts[5], size - 32);
	assert_int_equal(art_ckpt_cuts(cuts, 5, &n, fd, size), IOLM_ETOOBIG);
	assert_int_equal(n, 0);
	/* A table pointing past the body is not a layout: no cuts, no error. */
	assert_int_equal(art_ckpt_cuts(cuts, 8, &n, fd, 200), IOLM_OK);
	assert_int_equal(n, 0);
	close(fd);
	snprintf(path, sizeof path, "%s/plain.bin", dir);
	t_write_random(path, 5000, 9);
	fd = open(path, O_RDONLY);
	assert_int_equal(art_ckpt_cuts(cuts, 8, &n, fd, 5000), IOLM_OK);
	assert_int_equal(n, 0);
	close(fd);
	t_rmrf(dir);
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip_bytes(const uint8_t *data, size_t n, uint64_t want_chunks)
{
	char dir[256], src[512], store[512], out[512], got[600];
	uint8_t id[ART_ID_LEN];
	art_add_stats st;
	t_tmpdir(dir, sizeof dir);
	snprintf(src, sizeof src, "%s/file.bin", dir);
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(got, sizeof got, "%s/file.bin", out);
	t_write_bytes(src, data, n);
	art_store *s = t_open(store);
	art_add_options o = { .kind = ART_KIND_MODEL, .pin = 1 };
	assert_int_equal(art_store_add(s, id, &st, src, &o), IOLM_OK);
	assert_true(art_id_valid(id));
	assert_int_equal(st.bytes, n);
	assert_int_equal(st.chunks, want_chunks);
	assert_int_equal(art_store_get(s, id, out), IOLM_OK);
	assert_true(t_same_file(src, got));
	/* The same bytes into memory, by the file's path or as the only file; a cap below
	 * the size refuses it whole. */
	uint8_t *mem = NULL;
	size_t len = 7;
	for (int named = 0; named < 2; named++) {
		assert_int_equal(art_store_read(s, id, named ? "file.bin" : NULL, &mem, &len, n),
				 IOLM_OK);
		assert_non_null(mem);
		assert_int_equal(len, n);
		if (n)
			assert_memory_equal(mem, data, n);
		free(mem);
	}
	assert_int_equal(art_store_read(s, id, "other.bin", &mem, &len, n), IOLM_ENOTFOUND);
	assert_null(mem);
	if (n) {
		assert_int_equal(art_store_read(s, id, NULL, &mem, &len, n - 1), IOLM_ETOOBIG);
		assert_null(mem);
		assert_int_equal(len, 0);
	}
	/* The manifest says what was added. */
	iolm_buf mb;
	Iolm__Manifest *m;
	uint8_t mid[ART_ID_LEN];
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(s, &mb, id), IOLM_OK);
	assert_int_equal(art_manifest_decode(&m, mid, mb.data, mb.len), IOLM_OK);
	assert_memory_equal(mid, id, ART_ID_LEN);
	assert_int_equal(m->kind, ART_KIND_MODEL);
	assert_int_equal(m->n_files, 1);
	assert_string_equal(m->files[0]->path, "file.bin");
	assert_int_equal(m->total_size, n);
	assert_int_equal(m->n_chunks, want_chunks);
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&mb, 0);
	art_store_close(s);
	t_rmrf(dir);
}

static void test_roundtrip_empty_file(void **state)
{
	(void)state;
	roundtrip_bytes(NULL, 0, 0);
}

static void test_roundtrip_one_byte(void **state)
{
	(void)state;
	roundtrip_bytes((const uint8_t *)"x", 1, 1);
}

static void test_roundtrip_exactly_one_chunk(void **state)
{
	(void)state;
	uint8_t *d = rand_buf(ART_CHUNK_MAX, 11);
	size_t c = art_chunk_cut(d, ART_CHUNK_MAX);
	assert_true(c > ART_CHUNK_MIN);
	roundtrip_bytes(d, c, 1);
	free(d);
}

static void test_roundtrip_folder_with_nested_and_empty_files(void **state)
{
	(void)state;
	char dir[256], p[600], q[600], store[512], out[512];
	uint8_t id[ART_ID_LEN];
	t_tmpdir(dir, sizeof dir);
	snprintf(p, sizeof p, "%s/src", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/src/sub", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/src/sub/deeper", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	const char *files[] = { "a.txt", "sub/b.bin", "sub/deeper/c.bin", "z-empty" };
	uint64_t sizes[] = { 100, 300000, 70000, 0 };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/src/%s", dir, files[i]);
		t_write_random(p, sizes[i], 100 + i);
	}
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(p, sizeof p, "%s/src", dir);
	art_store *s = t_open(store);
	assert_int_equal(art_store_add(s, id, NULL, p, NULL), IOLM_OK);
	assert_int_equal(art_store_get(s, id, out), IOLM_OK);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/src/%s", dir, files[i]);
		snprintf(q, sizeof q, "%s/%s", out, files[i]);
		assert_true(t_same_file(p, q));
		/* each file read into memory by its path: the same bytes */
		uint8_t *mem, *want = malloc(sizes[i] + 1);
		size_t len;
		FILE *fp = fopen(p, "rb");
		assert_non_null(want);
		assert_non_null(fp);
		assert_int_equal(fread(want, 1, sizes[i] + 1, fp), sizes[i]);
		fclose(fp);
		assert_int_equal(art_store_read(s, id, files[i], &mem, &len, UINT64_MAX), IOLM_OK);
		assert_int_equal(len, sizes[i]);
		if (len)
			assert_memory_equal(mem, want, len);
		free(mem);
		free(want);
	}
	/* several files: one must be named */
	uint8_t *none;
	size_t nlen;
	assert_int_equal(art_store_read(s, id, NULL, &none, &nlen, UINT64_MAX), IOLM_EART_FILES);
	assert_null(none);
	/* Adding the same folder again gives the same id. */
	uint8_t id2[ART_ID_LEN];
	snprintf(p, sizeof p, "%s/src", dir);
	assert_int_equal(art_store_add(s, id2, NULL, p, NULL), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	/* A symbolic link inside is refused. */
	snprintf(q, sizeof q, "%s/src/link", dir);
	assert_int_equal(symlink("a.txt", q), 0);
	assert_int_equal(art_store_add(s, id2, NULL, p, NULL), IOLM_EART_FILETYPE);
	assert_int_equal(art_store_add(s, id2, NULL, q, NULL), IOLM_EART_FILETYPE);
	art_store_close(s);
	t_rmrf(dir);
}

static void test_add_rejects_bad_arguments(void **state)
{
	(void)state;
	char dir[256], store[512], p[512];
	uint8_t id[ART_ID_LEN], bad[ART_ID_LEN] = { 0x12, 0x20 };
	t_tmpdir(dir, sizeof dir);
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(p, sizeof p, "%s/nope", dir);
	art_store *s = t_open(store);
	assert_int_equal(art_store_add(s, id, NULL, p, NULL), IOLM_ENOTFOUND);
	snprintf(p, sizeof p, "%s/f", dir);
	t_write_random(p, 10, 1);
	art_add_options o = { .parent = bad };
	assert_int_equal(art_store_add(s, id, NULL, p, &o), IOLM_EINVAL);
	o = (art_add_options){ .kind = 7 };
	assert_int_equal(art_store_add(s, id, NULL, p, &o), IOLM_EINVAL);
	uint64_t cuts[2] = { 5, 5 };
	o = (art_add_options){ .cuts = cuts, .n_cuts = 2 };
	assert_int_equal(art_store_add(s, id, NULL, p, &o), IOLM_EINVAL);
	snprintf(p, sizeof p, "%s/emptydir", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(art_store_add(s, id, NULL, p, NULL), IOLM_ENOTFOUND);
	uint8_t zero[ART_ID_LEN] = { 0 };
	assert_memory_equal(id, zero, ART_ID_LEN);
	art_store_close(s);
	t_rmrf(dir);
}

/* Forced cuts given by the caller become chunk boundaries. */
static void test_forced_cuts_are_boundaries(void **state)
{
	(void)state;
	char dir[256], store[512], p[512];
	uint8_t id[ART_ID_LEN];
	t_tmpdir(dir, sizeof dir);
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(p, sizeof p, "%s/f", dir);
	t_write_random(p, 1 << 20, 5);
	art_store *s = t_open(store);
	uint64_t cuts[3] = { 100, 100000, 700001 };
	art_add_options o = { .cuts = cuts, .n_cuts = 3 };
	assert_int_equal(art_store_add(s, id, NULL, p, &o), IOLM_OK);
	iolm_buf mb;
	Iolm__Manifest *m;
	uint8_t mid[ART_ID_LEN];
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(s, &mb, id), IOLM_OK);
	assert_int_equal(art_manifest_decode(&m, mid, mb.data, mb.len), IOLM_OK);
	uint64_t pos = 0;
	size_t hit = 0;
	for (size_t i = 0; i < m->n_chunks; i++) {
		pos += m->chunks[i]->size;
		for (size_t j = 0; j < 3; j++)
			hit += pos == cuts[j];
	}
	assert_int_equal(hit, 3);
	assert_int_equal(m->chunks[0]->size, 100);
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&mb, 0);
	art_store_close(s);
	t_rmrf(dir);
}

/* ---------------------------------------------------------------- manifests */

/* A valid two-chunk manifest, encoded, for tampering. */
static void make_manifest(iolm_buf *out, uint8_t id[ART_ID_LEN], const char *path)
{
	art_ref refs[2];
	art_chunk_id(refs[0].id, "one", 3);
	refs[0].size = 3;
	art_chunk_id(refs[1].id, "two!", 4);
	refs[1].size = 4;
	art_file f = { (char *)path, 7, 0, 2 };
	assert_int_equal(art_manifest_build(out, id, ART_KIND_DATASET, NULL, &f, 1, refs, 2),
			 IOLM_OK);
}

static void test_manifest_build_decode_roundtrip_and_id(void **state)
{
	(void)state;
	iolm_buf b;
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN], h[IOLM_HASH_LEN];
	Iolm__Manifest *m;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	make_manifest(&b, id, "x/y");
	iolm_hash(h, IOLM_TAG_MANIFEST, b.data, b.len);
	assert_memory_equal(id + 2, h, IOLM_HASH_LEN);
	assert_int_equal(art_manifest_decode(&m, id2, b.data, b.len), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	/* The Merkle root is over the chunk ids in order. */
	uint8_t leaves[2 * IOLM_HASH_LEN], root[IOLM_HASH_LEN];
	iolm_merkle_leaf(leaves, m->chunks[0]->id.data, ART_ID_LEN);
	iolm_merkle_leaf(leaves + IOLM_HASH_LEN, m->chunks[1]->id.data, ART_ID_LEN);
	iolm_merkle_root(root, leaves, 2);
	assert_memory_equal(root, m->merkle_root.data, IOLM_HASH_LEN);
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&b, 0);
}

static int recheck(Iolm__Manifest *m)
{
	return art_manifest_check(m);
}

static void test_manifest_check_rejects_tampering(void **state)
{
	(void)state;
	iolm_buf b;
	uint8_t id[ART_ID_LEN];
	Iolm__Manifest *m;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	make_manifest(&b, id, "x");
	assert_int_equal(iolm_decode_manifest(&m, b.data, b.len, IOLM_MAX_MANIFEST_BYTES), IOLM_OK);
	assert_int_equal(recheck(m), IOLM_OK);
	m->merkle_root.data[0] ^= 1;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->merkle_root.data[0] ^= 1;
	m->chunks[1]->id.data[0] = 0x12;
	assert_int_equal(recheck(m), IOLM_EART_ID);
	m->chunks[1]->id.data[0] = 0x1e;
	m->files[0]->size = 8;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->files[0]->size = 7;
	m->total_size = 9;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->total_size = 7;
	m->chunks[0]->size = ART_CHUNK_MAX + 1;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->chunks[0]->size = 3;
	m->version = 2;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->version = 1;
	m->kind = IOLM__ARTIFACT_KIND__ARTIFACT_UNKNOWN;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->kind = IOLM__ARTIFACT_KIND__ARTIFACT_DATASET;
	m->files[0]->n_chunks = 1;
	assert_int_equal(recheck(m), IOLM_EART_MANIFEST);
	m->files[0]->n_chunks = 2;
	assert_int_equal(recheck(m), IOLM_OK);
	iolm_codec_free((ProtobufCMessage *)m);

	/* Unsafe paths, garbage and truncation. */
	iolm_buf_reset(&b);
	uint8_t id2[ART_ID_LEN];
	art_ref r;
	art_chunk_id(r.id, "one", 3);
	r.size = 3;
	art_file f = { "../etc/passwd", 3, 0, 1 };
	assert_int_equal(art_manifest_build(&b, id2, ART_KIND_DATASET, NULL, &f, 1, &r, 1),
			 IOLM_EART_PATH);
	make_manifest(&b, id, "ok");
	assert_int_equal(art_manifest_decode(&m, id2, b.data, b.len - 1), IOLM_EDECODE);
	assert_null(m);
	assert_int_equal(art_manifest_decode(&m, id2, (const uint8_t *)"\xff\xff", 2), IOLM_EDECODE);
	iolm_buf_release(&b, 0);
}

/* ---------------------------------------------------------------- store */

/* The chunk ids of a stored artifact. */
static size_t chunk_ids(art_store *s, const uint8_t *id, uint8_t *ids, size_t cap)
{
	iolm_buf mb;
	Iolm__Manifest *m;
	uint8_t mid[ART_ID_LEN];
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(s, &mb, id), IOLM_OK);
	assert_int_equal(art_manifest_decode(&m, mid, mb.data, mb.len), IOLM_OK);
	assert_true(m->n_chunks <= cap);
	for (size_t i = 0; i < m->n_chunks; i++)
		memcpy(ids + i * ART_ID_LEN, m->chunks[i]->id.data, ART_ID_LEN);
	size_t n = m->n_chunks;
	iolm_codec_free((ProtobufCMessage *)m);
	iolm_buf_release(&mb, 0);
	return n;
}

static int id_in(const uint8_t *id, const uint8_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(id, ids + i * ART_ID_LEN, ART_ID_LEN))
			return 1;
	return 0;
}

/* b = the first 1.5 MiB of a followed by 1 MiB of other bytes: they share chunks. */
static void write_overlapping(fixture *f)
{
	uint8_t *d = rand_buf(3u << 20, 42);
	t_write_bytes(f->a, d, 3u << 20);
	t_fill(d + (3u << 19), 1u << 20, &(uint64_t){ 43 });
	t_write_bytes(f->b, d, (3u << 19) + (1u << 20));
	free(d);
}

static void test_gc_frees_exactly_the_unreferenced_chunks(void **state)
{
	fixture *f = *state;
	uint8_t ida[ART_ID_LEN], idb[ART_ID_LEN];
	static uint8_t ca[512 * ART_ID_LEN], cb[512 * ART_ID_LEN];
	art_add_options pin = { .pin = 1 };
	art_store_stats st;
	art_gc_stats gs;
	write_overlapping(f);
	assert_int_equal(art_store_add(f->s, ida, NULL, f->a, &pin), IOLM_OK);
	assert_int_equal(art_store_add(f->s, idb, NULL, f->b, &pin), IOLM_OK);
	size_t na = chunk_ids(f->s, ida, ca, 512), nb = chunk_ids(f->s, idb, cb, 512);
	size_t only_a = 0, shared = 0;
	uint64_t only_a_bytes = 0;
	for (size_t i = 0; i < na; i++) {
		if (id_in(ca + i * ART_ID_LEN, cb, nb))
			shared++;
		else
			only_a++;
	}
	assert_true(shared >= 10 && only_a >= 10);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, na + nb - shared);
	assert_int_equal(st.unreferenced, 0);
	assert_int_equal(st.artifacts, 2);
	uint64_t total = st.bytes;
	for (size_t i = 0; i < na; i++) {
		iolm_buf c;
		iolm_buf_init(&c, ART_CHUNK_MAX);
		assert_int_equal(art_store_get_chunk(f->s, &c, ca + i * ART_ID_LEN), IOLM_OK);
		if (!id_in(ca + i * ART_ID_LEN, cb, nb))
			only_a_bytes += c.len;
		iolm_buf_release(&c, 0);
	}

	/* Everything pinned: gc frees nothing. */
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, 0);
	assert_int_equal(gs.artifacts_removed, 0);

	assert_int_equal(art_store_unpin(f->s, ida), IOLM_OK);
	/* Incremental: one chunk at a time, oldest first. */
	assert_int_equal(art_store_gc(f->s, &gs, 0, 1), IOLM_OK);
	assert_int_equal(gs.artifacts_removed, 1);
	assert_int_equal(gs.chunks_freed, 1);
	assert_int_equal(gs.chunks_pending, only_a - 1);
	/* A watermark above the current size stops it. */
	assert_int_equal(art_store_gc(f->s, &gs, total, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, 0);
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, only_a - 1);
	assert_int_equal(gs.chunks_pending, 0);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, nb);
	assert_int_equal(st.bytes, total - only_a_bytes);
	assert_int_equal(st.artifacts, 1);
	for (size_t i = 0; i < na; i++)
		assert_int_equal(art_store_has_chunk(f->s, ca + i * ART_ID_LEN),
				 id_in(ca + i * ART_ID_LEN, cb, nb));
	assert_int_equal(art_store_get(f->s, idb, f->out), IOLM_OK);
	assert_int_equal(art_store_get(f->s, ida, f->out), IOLM_ENOTFOUND);

	/* Unpin the last one: the store empties. */
	assert_int_equal(art_store_unpin(f->s, idb), IOLM_OK);
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, nb);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.bytes, 0);
}

/* art_store_remove drops one unpinned artifact and deletes exactly its chunks that no
 * other artifact references, leaving other queued chunks to gc. */
static void test_remove_frees_one_artifacts_own_chunks(void **state)
{
	fixture *f = *state;
	uint8_t ida[ART_ID_LEN], idb[ART_ID_LEN], idc[ART_ID_LEN], unknown[ART_ID_LEN];
	static uint8_t ca[512 * ART_ID_LEN], cb[512 * ART_ID_LEN];
	char c[600];
	art_add_options pin = { .pin = 1 };
	art_add_stats as;
	art_store_stats st, st0;
	art_gc_stats gs;
	write_overlapping(f);
	snprintf(c, sizeof c, "%s/c.bin", f->dir);
	t_write_random(c, 400000, 9);
	assert_int_equal(art_store_add(f->s, ida, NULL, f->a, NULL), IOLM_OK);
	assert_int_equal(art_store_add(f->s, idb, NULL, f->b, &pin), IOLM_OK);
	assert_int_equal(art_store_add(f->s, idc, &as, c, NULL), IOLM_OK);
	size_t na = chunk_ids(f->s, ida, ca, 512), nb = chunk_ids(f->s, idb, cb, 512);
	size_t only_a = 0;
	for (size_t i = 0; i < na; i++)
		only_a += !id_in(ca + i * ART_ID_LEN, cb, nb);
	assert_true(only_a >= 10 && only_a < na);
	/* c dropped by a gc under a high watermark: its chunks wait in the queue */
	assert_int_equal(art_store_pin(f->s, ida), IOLM_OK);
	assert_int_equal(art_store_gc(f->s, &gs, UINT64_MAX, 0), IOLM_OK);
	assert_int_equal(gs.artifacts_removed, 1);
	assert_int_equal(gs.chunks_pending, as.chunks);
	assert_int_equal(art_store_get_stats(f->s, &st0), IOLM_OK);

	/* pinned, unknown: refused, nothing changes */
	assert_int_equal(art_store_remove(f->s, ida, &gs), IOLM_EART_PINNED);
	assert_int_equal(art_store_remove(f->s, idb, NULL), IOLM_EART_PINNED);
	memset(unknown, 0x5a, sizeof unknown);
	assert_int_equal(art_store_remove(f->s, unknown, NULL), IOLM_ENOTFOUND);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_memory_equal(&st, &st0, sizeof st);

	assert_int_equal(art_store_unpin(f->s, ida), IOLM_OK);
	assert_int_equal(art_store_remove(f->s, ida, &gs), IOLM_OK);
	assert_int_equal(gs.artifacts_removed, 1);
	assert_int_equal(gs.chunks_freed, only_a);
	assert_int_equal(gs.chunks_pending, as.chunks); /* c's, untouched */
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, st0.chunks - only_a);
	assert_int_equal(st.bytes, st0.bytes - gs.bytes_freed);
	assert_int_equal(st.artifacts, 1);
	for (size_t i = 0; i < na; i++)
		assert_int_equal(art_store_has_chunk(f->s, ca + i * ART_ID_LEN),
				 id_in(ca + i * ART_ID_LEN, cb, nb));
	assert_int_equal(art_store_get(f->s, idb, f->out), IOLM_OK);
	assert_int_equal(art_store_remove(f->s, ida, NULL), IOLM_ENOTFOUND);
	/* the queue is still gc's, in order */
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, as.chunks);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, nb);
	assert_int_equal(st.unreferenced, 0);
}

/* An artifact added twice holds one set of references, and re-adding a collected one
 * stores its chunks again. */
static void test_readd_does_not_double_count(void **state)
{
	fixture *f = *state;
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	art_add_stats st;
	art_gc_stats gs;
	t_write_random(f->a, 500000, 7);
	assert_int_equal(art_store_add(f->s, id, &st, f->a, NULL), IOLM_OK);
	uint64_t n = st.chunks;
	assert_int_equal(st.new_chunks, n);
	assert_int_equal(art_store_add(f->s, id2, &st, f->a, NULL), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	assert_int_equal(st.new_chunks, 0);
	/* Unpinned (the default): one gc frees every chunk. */
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, n);
	assert_int_equal(art_store_add(f->s, id2, &st, f->a, NULL), IOLM_OK);
	assert_int_equal(st.new_chunks, n);
	assert_int_equal(art_store_get(f->s, id2, f->out), IOLM_OK);
}

static void test_list_pin_unpin(void **state)
{
	fixture *f = *state;
	uint8_t ida[ART_ID_LEN], idb[ART_ID_LEN], unknown[ART_ID_LEN];
	art_info info[4];
	size_t n, total;
	write_overlapping(f);
	art_add_options o = { .kind = ART_KIND_CHECKPOINT, .pin = 1 };
	assert_int_equal(art_store_add(f->s, ida, NULL, f->a, &o), IOLM_OK);
	o = (art_add_options){ .kind = ART_KIND_MODEL, .parent = ida };
	assert_int_equal(art_store_add(f->s, idb, NULL, f->b, &o), IOLM_OK);
	assert_int_equal(art_store_list(f->s, info, 4, &n, &total), IOLM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	for (size_t i = 0; i < n; i++) {
		int is_a = !memcmp(info[i].id, ida, ART_ID_LEN);
		assert_true(is_a || !memcmp(info[i].id, idb, ART_ID_LEN));
		assert_int_equal(info[i].pinned, is_a);
		assert_int_equal(info[i].kind, is_a ? ART_KIND_CHECKPOINT : ART_KIND_MODEL);
		assert_int_equal(info[i].total_size, is_a ? 3u << 20 : (3u << 19) + (1u << 20));
		assert_int_equal(info[i].n_files, 1);
	}
	assert_int_equal(art_store_list(f->s, info, 1, &n, &total), IOLM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(total, 2);
	assert_int_equal(art_store_pin(f->s, idb), IOLM_OK);
	assert_int_equal(art_store_pin(f->s, idb), IOLM_OK);
	assert_int_equal(art_store_unpin(f->s, ida), IOLM_OK);
	assert_int_equal(art_store_unpin(f->s, ida), IOLM_OK);
	art_chunk_id(unknown, "?", 1);
	assert_int_equal(art_store_pin(f->s, unknown), IOLM_ENOTFOUND);
	assert_int_equal(art_store_unpin(f->s, unknown), IOLM_ENOTFOUND);
	assert_int_equal(art_store_list(f->s, info, 4, &n, &total), IOLM_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(info[i].pinned, !memcmp(info[i].id, idb, ART_ID_LEN));
}

/* Flip one byte of one stored chunk behind the store's back. */
static void corrupt_one_chunk(const char *store, const uint8_t *cid)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { ART_ID_LEN, (void *)cid }, d;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)4 << 30), 0);
	assert_int_equal(mdb_env_open(env, store, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "chunk", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &d), 0);
	uint8_t *copy = malloc(d.mv_size);
	assert_non_null(copy);
	memcpy(copy, d.mv_data, d.mv_size);
	copy[d.mv_size / 2] ^= 0x01;
	d.mv_data = copy;
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void test_corrupted_chunk_is_detected_on_get(void **state)
{
	fixture *f = *state;
	uint8_t id[ART_ID_LEN];
	static uint8_t ids[64 * ART_ID_LEN];
	char outfile[600];
	struct stat sb;
	t_write_random(f->a, 1u << 20, 77);
	assert_int_equal(art_store_add(f->s, id, NULL, f->a, NULL), IOLM_OK);
	size_t n = chunk_ids(f->s, id, ids, 64);
	assert_true(n >= 4);
	art_store_close(f->s);
	corrupt_one_chunk(f->store, ids + 2 * ART_ID_LEN);
	f->s = t_open(f->store);
	assert_int_equal(art_store_get(f->s, id, f->out), IOLM_EART_CORRUPT);
	uint8_t *mem;
	size_t len;
	assert_int_equal(art_store_read(f->s, id, NULL, &mem, &len, UINT64_MAX),
			 IOLM_EART_CORRUPT);
	assert_null(mem);
	/* Nothing half-written is left under the final name or the temporary one. */
	snprintf(outfile, sizeof outfile, "%s/a.bin", f->out);
	assert_int_not_equal(stat(outfile, &sb), 0);
	snprintf(outfile, sizeof outfile, "%s/a.bin.tmp", f->out);
	assert_int_not_equal(stat(outfile, &sb), 0);
	iolm_buf c;
	iolm_buf_init(&c, ART_CHUNK_MAX);
	assert_int_equal(art_store_get_chunk(f->s, &c, ids + 2 * ART_ID_LEN), IOLM_EART_CORRUPT);
	assert_int_equal(art_store_get_chunk(f->s, &c, ids + 1 * ART_ID_LEN), IOLM_OK);
	iolm_buf_release(&c, 0);
}

/* What a transfer does: the manifest first, then chunks as they arrive, verified;
 * missing ones are listed so a restart re-fetches only those. */
static void test_manifest_then_chunks_like_a_transfer(void **state)
{
	fixture *f = *state;
	uint8_t id[ART_ID_LEN], id2[ART_ID_LEN];
	static uint8_t ids[128 * ART_ID_LEN], miss[128 * ART_ID_LEN];
	char dst[600];
	size_t n, total;
	t_write_random(f->a, 2u << 20, 88);
	assert_int_equal(art_store_add(f->s, id, NULL, f->a, NULL), IOLM_OK);
	size_t nc = chunk_ids(f->s, id, ids, 128);
	iolm_buf mb;
	iolm_buf_init(&mb, IOLM_MAX_MANIFEST_BYTES);
	assert_int_equal(art_store_manifest(f->s, &mb, id), IOLM_OK);

	snprintf(dst, sizeof dst, "%s/dst", f->dir);
	art_store *d = t_open(dst);
	assert_int_equal(art_store_put_manifest(d, id2, mb.data, mb.len, 1), IOLM_OK);
	assert_memory_equal(id, id2, ART_ID_LEN);
	assert_int_equal(art_store_get(d, id, f->out), IOLM_EART_MISSING);
	uint8_t *mem;
	size_t len;
	assert_int_equal(art_store_read(d, id, NULL, &mem, &len, UINT64_MAX), IOLM_EART_MISSING);
	assert_null(mem);
	miss[0] = ART_ID_PREFIX0;
	miss[1] = ART_ID_PREFIX1;
	memset(miss + 2, 0x77, ART_ID_LEN - 2); /* an artifact nobody added */
	assert_int_equal(art_store_read(d, miss, NULL, &mem, &len, UINT64_MAX), IOLM_ENOTFOUND);
	miss[0] = 0;
	assert_int_equal(art_store_read(d, miss, NULL, &mem, &len, UINT64_MAX), IOLM_EINVAL);
	assert_int_equal(art_store_missing(d, miss, 128, &n, &total, id), IOLM_OK);
	assert_int_equal(n, nc);
	assert_int_equal(total, nc);
	assert_memory_equal(miss, ids, nc * ART_ID_LEN);

	iolm_buf c;
	iolm_buf_init(&c, ART_CHUNK_MAX);
	/* Half the chunks arrive; then the node "restarts". */
	for (size_t i = 0; i < nc / 2; i++) {
		iolm_buf_reset(&c);
		assert_int_equal(art_store_get_chunk(f->s, &c, ids + i * ART_ID_LEN), IOLM_OK);
		assert_int_equal(art_store_put_chunk(d, ids + i * ART_ID_LEN, c.data, c.len), IOLM_OK);
	}
	/* A chunk that does not match its id is refused, a bad prefix too. */
	iolm_buf_reset(&c);
	assert_int_equal(art_store_get_chunk(f->s, &c, ids + (nc - 1) * ART_ID_LEN), IOLM_OK);
	c.data[0] ^= 1;
	assert_int_equal(art_store_put_chunk(d, ids + (nc - 1) * ART_ID_LEN, c.data, c.len),
			 IOLM_EART_CORRUPT);
	uint8_t bad[ART_ID_LEN];
	memcpy(bad, ids, ART_ID_LEN);
	bad[0] = 0;
	assert_int_equal(art_store_put_chunk(d, bad, c.data, c.len), IOLM_EART_ID);
	assert_int_equal(art_store_put_chunk(d, ids, c.data, 0), IOLM_ETOOBIG);
	art_store_close(d);
	d = t_open(dst);
	assert_int_equal(art_store_missing(d, miss, 128, &n, &total, id), IOLM_OK);
	assert_int_equal(total, nc - nc / 2);
	assert_memory_equal(miss, ids + (nc / 2) * ART_ID_LEN, n * ART_ID_LEN);
	for (size_t i = 0; i < n; i++) {
		iolm_buf_reset(&c);
		assert_int_equal(art_store_get_chunk(f->s, &c, miss + i * ART_ID_LEN), IOLM_OK);
		assert_int_equal(art_store_put_chunk(d, miss + i * ART_ID_LEN, c.data, c.len), IOLM_OK);
	}
	assert_int_equal(art_store_missing(d, miss, 128, &n, &total, id), IOLM_OK);
	assert_int_equal(total, 0);
	assert_int_equal(art_store_get(d, id, f->out), IOLM_OK);
	snprintf(dst, sizeof dst, "%s/a.bin", f->out);
	assert_true(t_same_file(f->a, dst));
	/* A tampered manifest is refused. */
	mb.data[mb.len - 1] ^= 1;
	assert_int_not_equal(art_store_put_manifest(d, id2, mb.data, mb.len, 0), IOLM_OK);
	iolm_buf_release(&c, 0);
	iolm_buf_release(&mb, 0);
	art_store_close(d);
}

/* Chunks stored without a manifest (an add cut short) are collectable. */
static void test_orphan_chunks_are_collected(void **state)
{
	fixture *f = *state;
	uint8_t id[ART_ID_LEN];
	art_gc_stats gs;
	art_store_stats st;
	art_chunk_id(id, "orphan", 6);
	assert_int_equal(art_store_put_chunk(f->s, id, (const uint8_t *)"orphan", 6), IOLM_OK);
	assert_int_equal(art_store_put_chunk(f->s, id, (const uint8_t *)"orphan", 6), IOLM_OK);
	assert_int_equal(art_store_get_stats(f->s, &st), IOLM_OK);
	assert_int_equal(st.chunks, 1);
	assert_int_equal(st.unreferenced, 1);
	assert_int_equal(art_store_gc(f->s, &gs, 0, 0), IOLM_OK);
	assert_int_equal(gs.chunks_freed, 1);
	assert_int_equal(gs.bytes_freed, 6);
	assert_false(art_store_has_chunk(f->s, id));
}

/* Hashing on 1 or 4 threads gives the same artifact, byte for byte. */
static void test_thread_count_does_not_change_ids(void **state)
{
	(void)state;
	char dir[256], src[512], st1[512], st4[512];
	uint8_t id1[ART_ID_LEN], id4[ART_ID_LEN];
	t_tmpdir(dir, sizeof dir);
	snprintf(src, sizeof src, "%s/f", dir);
	snprintf(st1, sizeof st1, "%s/s1", dir);
	snprintf(st4, sizeof st4, "%s/s4", dir);
	t_write_random(src, (20u << 20) + 7, 31);
	art_store *s1 = NULL, *s4 = NULL;
	art_store_options o = { .map_size = (uint64_t)1 << 30, .no_sync = 1, .threads = 1 };
	assert_int_equal(art_store_open(&s1, st1, &o), IOLM_OK);
	o.threads = 4;
	assert_int_equal(art_store_open(&s4, st4, &o), IOLM_OK);
	assert_int_equal(art_store_add(s1, id1, NULL, src, NULL), IOLM_OK);
	assert_int_equal(art_store_add(s4, id4, NULL, src, NULL), IOLM_OK);
	assert_memory_equal(id1, id4, ART_ID_LEN);
	art_store_close(s1);
	art_store_close(s4);
	t_rmrf(dir);
}

/* Verified chunks stored in batches, by a store that syncs (one transaction) and one
 * that does not (transactions of at most 128 KiB): every new chunk stored once, its
 * bytes readable, a repeated chunk taking no room twice; a full map says so. */
static void test_put_verified_stores_each_chunk_once(void **state)
{
	(void)state;
	enum { N = 12 };
	static const size_t sizes[N] = { 100, ART_CHUNK_MAX, 70000, 1, 65536, ART_CHUNK_MAX,
					 5000, 128, 129, 40000, 90000, 100 };
	uint8_t *bytes[N];
	art_ref refs[N];
	const uint8_t *data[N];
	uint64_t total = 0;
	for (size_t i = 0; i < N; i++) {
		/* The last chunk repeats the first: stored once. */
		bytes[i] = i == N - 1 ? bytes[0] : rand_buf(sizes[i], 300 + i);
		art_chunk_id(refs[i].id, bytes[i], sizes[i]);
		refs[i].size = (uint32_t)sizes[i];
		data[i] = bytes[i];
		total += i == N - 1 ? 0 : sizes[i];
	}
	for (int sync = 0; sync < 2; sync++) {
		char d[256];
		art_store *st = NULL;
		art_store_stats ss;
		art_store_options o = { .map_size = 64u << 20, .no_sync = !sync };
		assert_int_equal(art_store_open(&st, t_tmpdir(d, sizeof d), &o), IOLM_OK);
		assert_int_equal(art_put_verified(st, refs, data, N), IOLM_OK);
		assert_int_equal(art_store_get_stats(st, &ss), IOLM_OK);
		assert_int_equal(ss.chunks, N - 1);
		assert_int_equal(ss.bytes, total);
		assert_int_equal(ss.unreferenced, N - 1); /* no manifest names them yet */
		for (size_t i = 0; i < N; i++) {
			iolm_buf c;
			iolm_buf_init(&c, ART_CHUNK_MAX);
			assert_int_equal(art_store_get_chunk(st, &c, refs[i].id), IOLM_OK);
			assert_int_equal(c.len, sizes[i]);
			assert_memory_equal(c.data, bytes[i], sizes[i]);
			iolm_buf_release(&c, 0);
		}
		/* Again: nothing new. */
		assert_int_equal(art_put_verified(st, refs, data, N), IOLM_OK);
		assert_int_equal(art_store_get_stats(st, &ss), IOLM_OK);
		assert_int_equal(ss.chunks, N - 1);
		art_store_close(st);
		t_rmrf(d);
	}
	/* A map too small for them all: the error, and no half-stored chunk. */
	{
		char d[256];
		art_store *st = NULL;
		art_store_stats ss;
		art_store_options o = { .map_size = 256u << 10, .no_sync = 1 };
		assert_int_equal(art_store_open(&st, t_tmpdir(d, sizeof d), &o), IOLM_OK);
		assert_int_equal(art_put_verified(st, refs, data, N), IOLM_EART_FULL);
		assert_int_equal(art_store_get_stats(st, &ss), IOLM_OK);
		assert_true(ss.chunks < N - 1);
		for (size_t i = 0; i < N; i++) {
			iolm_buf c;
			int rc;
			iolm_buf_init(&c, ART_CHUNK_MAX);
			rc = art_store_get_chunk(st, &c, refs[i].id);
			assert_true(rc == IOLM_OK || rc == IOLM_EART_MISSING);
			iolm_buf_release(&c, 0);
		}
		art_store_close(st);
		t_rmrf(d);
	}
	for (size_t i = 0; i + 1 < N; i++)
		free(bytes[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_sizes_bounded_and_average_near_target),
		cmocka_unit_test(test_chunk_cut_short_input_is_whole),
		cmocka_unit_test(test_chunk_boundaries_resynchronise_after_insert),
		cmocka_unit_test(test_chunk_id_is_prefixed_blake2b_chunk_tag),
		cmocka_unit_test(test_path_safe_rejects_escapes),
		cmocka_unit_test(test_ckpt_cuts_follow_the_tensor_table),
		cmocka_unit_test(test_roundtrip_empty_file),
		cmocka_unit_test(test_roundtrip_one_byte),
		cmocka_unit_test(test_roundtrip_exactly_one_chunk),
		cmocka_unit_test(test_roundtrip_folder_with_nested_and_empty_files),
		cmocka_unit_test(test_add_rejects_bad_arguments),
		cmocka_unit_test(test_thread_count_does_not_change_ids),
		cmocka_unit_test(test_forced_cuts_are_boundaries),
		cmocka_unit_test(test_manifest_build_decode_roundtrip_and_id),
		cmocka_unit_test(test_manifest_check_rejects_tampering),
		cmocka_unit_test(test_put_verified_stores_each_chunk_once),
		cmocka_unit_test_setup_teardown(test_gc_frees_exactly_the_unreferenced_chunks,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_remove_frees_one_artifacts_own_chunks,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_readd_does_not_double_count,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_list_pin_unpin,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_corrupted_chunk_is_detected_on_get,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_manifest_then_chunks_like_a_transfer,
						t_store_setup, t_store_teardown),
		cmocka_unit_test_setup_teardown(test_orphan_chunks_are_collected,
						t_store_setup, t_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
