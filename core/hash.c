#include "core/hash.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

/* The personalization strings: the protocol's domain tags. Each is at most 16 bytes and
 * zero-padded to exactly 16 by the table's fixed width. */
static const char tag_names[IOLM_TAG__COUNT][crypto_generichash_blake2b_PERSONALBYTES] = {
	[IOLM_TAG_TX] = "iolm.tx",
	[IOLM_TAG_TXSIG] = "iolm.txsig",
	[IOLM_TAG_BLOCK] = "iolm.block",
	[IOLM_TAG_VOTE] = "iolm.vote",
	[IOLM_TAG_PROPOSAL] = "iolm.proposal",
	[IOLM_TAG_MLEAF] = "iolm.mleaf",
	[IOLM_TAG_MNODE] = "iolm.mnode",
	[IOLM_TAG_MEMPTY] = "iolm.mempty",
	[IOLM_TAG_STATE] = "iolm.state",
	[IOLM_TAG_CHUNK] = "iolm.chunk",
	[IOLM_TAG_MANIFEST] = "iolm.manifest",
	[IOLM_TAG_ADDR] = "iolm.addr",
	[IOLM_TAG_HANDSHAKE] = "iolm.handshake",
	[IOLM_TAG_MODEL] = "iolm.model",
	[IOLM_TAG_BATCH] = "iolm.batch",
	[IOLM_TAG_WORK] = "iolm.work",
	[IOLM_TAG_CHALLENGE] = "iolm.challenge",
	[IOLM_TAG_GENESIS] = "iolm.genesis",
	[IOLM_TAG_VALSET] = "iolm.valset",
	[IOLM_TAG_CERT] = "iolm.cert",
	[IOLM_TAG_KEYSTORE] = "iolm.keystore",
	[IOLM_TAG_RUNDATA] = "iolm.rundata",
};

static const unsigned char zero_salt[crypto_generichash_blake2b_SALTBYTES];

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status;

static void sodium_once_init(void)
{
	/* sodium_init() picks the fastest BLAKE2b for this CPU; it returns 1 when it had
	 * already run, which is success too. */
	sodium_status = sodium_init() < 0 ? IOLM_ECRYPTO : IOLM_OK;
}

int iolm_crypto_init(void)
{
	pthread_once(&sodium_once, sodium_once_init);
	return sodium_status;
}

const char *iolm_hash_tag_name(enum iolm_hash_tag tag)
{
	if ((unsigned)tag >= IOLM_TAG__COUNT)
		return NULL;
	return tag_names[tag];
}

void iolm_hash_init(iolm_hash_ctx *ctx, enum iolm_hash_tag tag, size_t outlen)
{
	assert((unsigned)tag < IOLM_TAG__COUNT);
	assert(outlen == IOLM_HASH_LEN || outlen == IOLM_HASH160_LEN);
	/* libsodium cannot fail to initialise BLAKE2b (it needs no randomness); the
	 * status only matters for the key functions, which check it themselves. */
	int init = iolm_crypto_init();
	(void)init;
	ctx->outlen = outlen;
	/* Cannot fail for outlen within BLAKE2b's 16..64 range and no key. */
	int rc = crypto_generichash_blake2b_init_salt_personal(
		&ctx->st, NULL, 0, outlen, zero_salt,
		(const unsigned char *)tag_names[tag]);
	assert(rc == 0);
	(void)rc;
}

void iolm_hash_update(iolm_hash_ctx *ctx, const void *data, size_t len)
{
	if (len)
		crypto_generichash_blake2b_update(&ctx->st, data, len);
}

void iolm_hash_update_u64(iolm_hash_ctx *ctx, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	iolm_hash_update(ctx, b, sizeof b);
}

void iolm_hash_update_u32(iolm_hash_ctx *ctx, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	iolm_hash_update(ctx, b, sizeof b);
}

void iolm_hash_final(iolm_hash_ctx *ctx, uint8_t *out)
{
	crypto_generichash_blake2b_final(&ctx->st, out, ctx->outlen);
	sodium_memzero(ctx, sizeof *ctx);
}

void iolm_hash(uint8_t out[static IOLM_HASH_LEN], enum iolm_hash_tag tag,
	       const void *data, size_t len)
{
	iolm_hash_ctx ctx;
	iolm_hash_init(&ctx, tag, IOLM_HASH_LEN);
	iolm_hash_update(&ctx, data, len);
	iolm_hash_final(&ctx, out);
}

void iolm_hash2(uint8_t out[static IOLM_HASH_LEN], enum iolm_hash_tag tag,
		const void *a, size_t alen, const void *b, size_t blen)
{
	iolm_hash_ctx ctx;
	iolm_hash_init(&ctx, tag, IOLM_HASH_LEN);
	iolm_hash_update(&ctx, a, alen);
	iolm_hash_update(&ctx, b, blen);
	iolm_hash_final(&ctx, out);
}

void iolm_hash160(uint8_t out[static IOLM_HASH160_LEN], enum iolm_hash_tag tag,
		  const void *data, size_t len)
{
	iolm_hash_ctx ctx;
	iolm_hash_init(&ctx, tag, IOLM_HASH160_LEN);
	iolm_hash_update(&ctx, data, len);
	iolm_hash_final(&ctx, out);
}
