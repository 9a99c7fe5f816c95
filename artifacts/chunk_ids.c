/* Chunk ids of many chunks at once (art_int.h art_chunk_ids): BLAKE2b-256 personalised
 * with the chunk tag, exactly as art_chunk_id(), computed for eight chunks in lock-step
 * when the CPU has AVX-512 (one 64-bit lane of each zmm register per chunk).
 *
 * One BLAKE2b stream is serial (each block's compression needs the previous one), so a
 * core hashes one chunk at about 1 GiB/s; eight independent streams fill the vector
 * units instead. The lanes are scheduled longest chunk first: a lane whose chunk ends
 * takes the next one, so the lanes stay busy until the last few chunks, which finish on
 * a scalar compression (a lane step costs the same whether one lane is busy or eight).
 *
 * Backends are chosen once (pthread_once): "avx512" when the CPU and OS support it,
 * else "scalar" (libsodium, one chunk at a time). */
#include "artifacts/art_int.h"

#include <assert.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define ART_HAVE_AVX512 1
#include <immintrin.h>
#endif

#define LANES 8
#define BLOCK 128
#define MIN_VECTOR 3   /* fewer busy lanes than this finish on the scalar path */

static const uint64_t blake2b_iv[8] = {
	0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
	0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
	0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
};

/* The message permutations; rounds 10 and 11 use the first two again. */
static const uint8_t blake2b_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

/* The initial state for a 32-byte digest, no key, no salt, the chunk tag as
 * personalisation: IV xor the parameter block (RFC 7693 section 2.5). */
static void state_init(uint64_t h[8])
{
	const char *tag = iolm_hash_tag_name(IOLM_TAG_CHUNK);
	uint8_t personal[16] = { 0 };
	memcpy(personal, tag, strnlen(tag, sizeof personal));
	memcpy(h, blake2b_iv, sizeof blake2b_iv);
	h[0] ^= 0x01010000u | IOLM_HASH_LEN; /* depth 1, fanout 1, key 0, digest 32 */
	for (int i = 0; i < 8; i++) {
		h[6] ^= (uint64_t)personal[i] << (8 * i);
		h[7] ^= (uint64_t)personal[8 + i] << (8 * i);
	}
}

/* The twelve rounds over v[16] and message words m[16], for a G of either width. */
#define BLAKE2B_ROUNDS(G)                                             \
	for (int r = 0; r < 12; r++) {                                \
		const uint8_t *s = blake2b_sigma[r % 10];             \
		G(0, 4, 8, 12, m[s[0]], m[s[1]]);                     \
		G(1, 5, 9, 13, m[s[2]], m[s[3]]);                     \
		G(2, 6, 10, 14, m[s[4]], m[s[5]]);                    \
		G(3, 7, 11, 15, m[s[6]], m[s[7]]);                    \
		G(0, 5, 10, 15, m[s[8]], m[s[9]]);                    \
		G(1, 6, 11, 12, m[s[10]], m[s[11]]);                  \
		G(2, 7, 8, 13, m[s[12]], m[s[13]]);                   \
		G(3, 4, 9, 14, m[s[14]], m[s[15]]);                   \
	}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t ror64(uint64_t x, unsigned n)
{
	return x >> n | x << (64 - n);
}

/* ---------------------------------------------------------------- scalar */

/* One compression of a 128-byte block: t the bytes hashed so far including this block,
 * last: it is the final block. */
static void compress1(uint64_t h[8], const uint8_t *block, uint64_t t, int last)
{
	uint64_t m[16], v[16];
	for (int i = 0; i < 16; i++)
		m[i] = load64(block + 8 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = h[i];
		v[i + 8] = blake2b_iv[i];
	}
	v[12] ^= t;
	v[14] ^= last ? ~(uint64_t)0 : 0;
#define G1(a, b, c, d, x, y)                                  \
	do {                                                  \
		v[a] = v[a] + v[b] + (x);                     \
		v[d] = ror64(v[d] ^ v[a], 32);                \
		v[c] = v[c] + v[d];                           \
		v[b] = ror64(v[b] ^ v[c], 24);                \
		v[a] = v[a] + v[b] + (y);                     \
		v[d] = ror64(v[d] ^ v[a], 16);                \
		v[c] = v[c] + v[d];                           \
		v[b] = ror64(v[b] ^ v[c], 63);                \
	} while (0)
	BLAKE2B_ROUNDS(G1)
#undef G1
	for (int i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

/* Finish one stream from state h after done bytes of data[0..len): the remaining
 * blocks, the last zero-padded, then the id. */
static void finish1(uint8_t id[ART_ID_LEN], uint64_t h[8], const uint8_t *data, size_t len,
		   size_t done)
{
	uint8_t pad[BLOCK];
	while (len - done > BLOCK) {
		compress1(h, data + done, done + BLOCK, 0);
		done += BLOCK;
	}
	memset(pad, 0, sizeof pad);
	memcpy(pad, data + done, len - done);
	compress1(h, pad, len, 1);
	id[0] = ART_ID_PREFIX0;
	id[1] = ART_ID_PREFIX1;
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 8; b++)
			id[2 + 8 * i + b] = (uint8_t)(h[i] >> (8 * b));
}

static void ids_scalar(uint8_t (*ids)[ART_ID_LEN], const uint8_t *const *data,
		       const size_t *len, size_t n)
{
	for (size_t i = 0; i < n; i++)
		art_chunk_id(ids[i], data[i], len[i]);
}

/* ---------------------------------------------------------------- AVX-512 */

#ifdef ART_HAVE_AVX512

#define AVX512 __attribute__((target("avx512f")))

/* Blocks of a chunk of len bytes (the empty chunk hashes one zero block). */
static size_t blocks_of(size_t len)
{
	return len ? (len + BLOCK - 1) / BLOCK : 1;
}

struct lanes {
	__m512i h[8];
	uint64_t t[LANES];           /* bytes hashed so far, per lane */
	size_t msg[LANES];           /* chunk index per lane */
	size_t left[LANES];          /* blocks left per lane; 0: idle */
	const uint8_t *at[LANES];    /* the lane's next block */
	uint8_t pad[LANES][BLOCK];   /* zero-padded last blocks */
};

/* One compression step on every lane: the block at at[], counters t[] (already
 * advanced), the lanes in `last` on their final block. Idle lanes compute garbage. */
AVX512 static void compress8(struct lanes *L, __mmask8 last)
{
	__m512i m[16], v[16];
	__m512i base = _mm512_loadu_si512((const void *)L->at);
	for (int i = 0; i < 16; i++)
		m[i] = _mm512_i64gather_epi64(_mm512_add_epi64(base, _mm512_set1_epi64(8 * i)),
					      NULL, 1);
	for (int i = 0; i < 8; i++) {
		v[i] = L->h[i];
		v[i + 8] = _mm512_set1_epi64((long long)blake2b_iv[i]);
	}
	v[12] = _mm512_xor_si512(v[12], _mm512_loadu_si512((const void *)L->t));
	v[14] = _mm512_mask_xor_epi64(v[14], last, v[14], _mm512_set1_epi64(-1));
#define G8(a, b, c, d, x, y)                                                   \
	do {                                                                   \
		v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (x));    \
		v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 32);     \
		v[c] = _mm512_add_epi64(v[c], v[d]);                           \
		v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 24);     \
		v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (y));    \
		v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 16);     \
		v[c] = _mm512_add_epi64(v[c], v[d]);                           \
		v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 63);     \
	} while (0)
#pragma GCC unroll 12
	BLAKE2B_ROUNDS(G8)
#undef G8
	for (int i = 0; i < 8; i++)
		L->h[i] = _mm512_ternarylogic_epi64(L->h[i], v[i], v[i + 8], 0x96);
}

/* Lane j's state as eight words. */
AVX512 static void lane_get(const struct lanes *L, int j, uint64_t h[8])
{
	for (int i = 0; i < 8; i++) {
		uint64_t w[LANES];
		_mm512_storeu_si512((void *)w, L->h[i]);
		h[i] = w[j];
	}
}

AVX512 static void lane_set(struct lanes *L, int j, const uint64_t h[8])
{
	for (int i = 0; i < 8; i++)
		L->h[i] = _mm512_mask_set1_epi64(L->h[i], (__mmask8)(1u << j), (long long)h[i]);
}

/* Chunk order, longest first (insertion sort: at most 64 chunks at a time). */
static void order_by_length(size_t *ord, const size_t *len, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && len[ord[j - 1]] < len[i]) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = i;
	}
}

AVX512 static void ids_avx512(uint8_t (*ids)[ART_ID_LEN], const uint8_t *const *data,
			      const size_t *len, size_t n)
{
	struct lanes L;
	uint64_t h0[8];
	size_t ord[64], next = 0;
	static const uint8_t idle_block[BLOCK];

	if (n < MIN_VECTOR) {
		ids_scalar(ids, data, len, n);
		return;
	}
	if (n > sizeof ord / sizeof *ord) { /* in slices the order fits */
		for (size_t i = 0; i < n; i += sizeof ord / sizeof *ord) {
			size_t k = n - i < sizeof ord / sizeof *ord ? n - i : sizeof ord / sizeof *ord;
			ids_avx512(ids + i, data + i, len + i, k);
		}
		return;
	}
	order_by_length(ord, len, n);
	state_init(h0);
	memset(&L, 0, sizeof L);
	for (int j = 0; j < LANES; j++)
		L.at[j] = idle_block;
	for (;;) {
		int busy = 0;
		/* Idle lanes take the next chunks. */
		for (int j = 0; j < LANES; j++) {
			if (!L.left[j] && next < n) {
				L.msg[j] = ord[next++];
				L.left[j] = blocks_of(len[L.msg[j]]);
				L.t[j] = 0;
				L.at[j] = data[L.msg[j]];
				lane_set(&L, j, h0);
			}
			busy += L.left[j] != 0;
		}
		if (busy < MIN_VECTOR)
			break;
		/* Run every lane up to the first one's last block. */
		size_t steps = SIZE_MAX;
		for (int j = 0; j < LANES; j++)
			if (L.left[j] && L.left[j] < steps)
				steps = L.left[j];
		for (size_t s = 0; s + 1 < steps; s++) {
			for (int j = 0; j < LANES; j++)
				L.t[j] += BLOCK;
			compress8(&L, 0);
			for (int j = 0; j < LANES; j++)
				if (L.left[j])
					L.at[j] += BLOCK;
		}
		__mmask8 last = 0;
		for (int j = 0; j < LANES; j++) {
			if (!L.left[j])
				continue;
			if (L.left[j] == steps) {
				size_t sz = len[L.msg[j]], rest = sz - (size_t)L.t[j];
				memset(L.pad[j], 0, BLOCK);
				if (rest)
					memcpy(L.pad[j], L.at[j], rest);
				L.at[j] = L.pad[j];
				L.t[j] = sz;
				last |= (__mmask8)(1u << j);
			} else {
				L.t[j] += BLOCK;
			}
		}
		compress8(&L, last);
		for (int j = 0; j < LANES; j++) {
			if (!L.left[j])
				continue;
			L.left[j] -= steps;
			if (L.left[j]) {
				L.at[j] += BLOCK;
				continue;
			}
			uint64_t h[8];
			uint8_t *id = ids[L.msg[j]];
			lane_get(&L, j, h);
			id[0] = ART_ID_PREFIX0;
			id[1] = ART_ID_PREFIX1;
			for (int i = 0; i < 4; i++)
				for (int b = 0; b < 8; b++)
					id[2 + 8 * i + b] = (uint8_t)(h[i] >> (8 * b));
			L.at[j] = idle_block;
		}
	}
	/* The last few chunks: each lane's state continues on the scalar compression. */
	for (int j = 0; j < LANES; j++) {
		if (!L.left[j])
			continue;
		uint64_t h[8];
		size_t m = L.msg[j];
		lane_get(&L, j, h);
		finish1(ids[m], h, data[m], len[m], (size_t)L.t[j]);
	}
}

static int have_avx512(void)
{
	return __builtin_cpu_supports("avx512f");
}

#endif /* ART_HAVE_AVX512 */

/* ---------------------------------------------------------------- dispatch */

static art_ids_fn *ids_best = ids_scalar;
static const char *ids_name = "scalar";
static pthread_once_t ids_once = PTHREAD_ONCE_INIT;

static void ids_pick(void)
{
#ifdef ART_HAVE_AVX512
	if (have_avx512()) {
		ids_best = ids_avx512;
		ids_name = "avx512";
	}
#endif
}

void art_chunk_ids(uint8_t (*ids)[ART_ID_LEN], const uint8_t *const *data, const size_t *len,
		   size_t n)
{
	pthread_once(&ids_once, ids_pick);
	ids_best(ids, data, len, n);
}

art_ids_fn *art_chunk_ids_backend(const char *name)
{
	pthread_once(&ids_once, ids_pick);
	if (!name)
		return ids_best;
	if (strcmp(name, "scalar") == 0)
		return ids_scalar;
	if (strcmp(name, ids_name) == 0)
		return ids_best;
	return NULL;
}

/* The portable compression, for the tests (the scalar backend uses libsodium). */
void art_chunk_id_portable(uint8_t id[ART_ID_LEN], const void *data, size_t len)
{
	uint64_t h[8];
	state_init(h);
	finish1(id, h, data, len, 0);
}

size_t art_chunk_ids_task(uint8_t (*ids)[ART_ID_LEN], size_t *first,
			  const uint8_t *const *data, const size_t *len, size_t n, size_t t)
{
	size_t k;
	*first = t * ART_IDS_GROUP;
	assert(*first < n);
	k = n - *first < ART_IDS_GROUP ? n - *first : ART_IDS_GROUP;
	art_chunk_ids(ids, data + *first, len + *first, k);
	return k;
}
