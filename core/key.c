#include "core/key.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>

#include "core/ctime.h"
#include "core/hash.h"
#include "core/hex.h"

_Static_assert(sizeof(secp256k1_keypair) == sizeof(((iolm_key *)0)->keypair),
	       "keypair storage size");

/* One context for the process. After creation and randomisation it is only read, which
 * libsecp256k1 documents as safe from many threads at once. */
static secp256k1_context *secp_ctx;
static pthread_once_t secp_once = PTHREAD_ONCE_INIT;

static void secp_init(void)
{
	secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx || iolm_crypto_init() != IOLM_OK)
		return;
	/* Blinding against side channels in signing; a fresh seed per process. */
	unsigned char seed[32];
	randombytes_buf(seed, sizeof seed);
	if (!secp256k1_context_randomize(ctx, seed)) {
		secp256k1_context_destroy(ctx);
		ctx = NULL;
	}
	sodium_memzero(seed, sizeof seed);
	secp_ctx = ctx;
}

static const secp256k1_context *secp(void)
{
	pthread_once(&secp_once, secp_init);
	return secp_ctx;
}

int iolm_key_from_secret(iolm_key *key, const uint8_t sec[static IOLM_SECKEY_LEN])
{
	const secp256k1_context *ctx = secp();
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpub;
	int err = IOLM_ECRYPTO;

	memset(key, 0, sizeof *key);
	if (!ctx)
		goto out;
	err = IOLM_EBADKEY;
	/* Whether the secret is a valid key is public: the caller learns it anyway. */
	int ok = secp256k1_keypair_create(ctx, &kp, sec);
	IOLM_DECLASSIFY(&ok, sizeof ok);
	/* A keypair is the secret scalar (32 bytes) then the public point (64): the point
	 * is public, and libsecp256k1 uses variable-time code on it. */
	IOLM_DECLASSIFY(kp.data + 32, sizeof kp.data - 32);
	if (!ok)
		goto out;
	ok = secp256k1_keypair_xonly_pub(ctx, &xpub, NULL, &kp);
	IOLM_DECLASSIFY(&ok, sizeof ok);
	if (!ok)
		goto out;
	secp256k1_xonly_pubkey_serialize(ctx, key->pub, &xpub);
	IOLM_DECLASSIFY(key->pub, sizeof key->pub); /* the public key is public */
	memcpy(key->keypair, &kp, sizeof kp);
	err = IOLM_OK;
out:
	sodium_memzero(&kp, sizeof kp);
	if (err)
		sodium_memzero(key, sizeof *key);
	return err;
}

int iolm_key_generate(iolm_key *key)
{
	uint8_t sec[IOLM_SECKEY_LEN];
	int err;

	if (iolm_crypto_init() != IOLM_OK) {
		memset(key, 0, sizeof *key);
		return IOLM_ECRYPTO;
	}
	/* A random 256-bit string is out of range with probability ~2^-128; retry anyway. */
	do {
		randombytes_buf(sec, sizeof sec);
		err = iolm_key_from_secret(key, sec);
	} while (err == IOLM_EBADKEY);
	sodium_memzero(sec, sizeof sec);
	return err;
}

void iolm_key_secret(const iolm_key *key, uint8_t sec[static IOLM_SECKEY_LEN])
{
	secp256k1_keypair kp;
	memcpy(&kp, key->keypair, sizeof kp);
	int ok = secp256k1_keypair_sec(secp256k1_context_static, sec, &kp);
	IOLM_DECLASSIFY(&ok, sizeof ok);
	assert(ok);
	(void)ok;
	sodium_memzero(&kp, sizeof kp);
}

const uint8_t *iolm_key_pub(const iolm_key *key)
{
	return key->pub;
}

void iolm_key_wipe(iolm_key *key)
{
	sodium_memzero(key, sizeof *key);
}

int iolm_sign_aux(const iolm_key *key, uint8_t sig[static IOLM_SIG_LEN],
		  const uint8_t msg[static 32], const uint8_t aux[static 32])
{
	const secp256k1_context *ctx = secp();
	secp256k1_keypair kp;
	int err = IOLM_ECRYPTO;

	if (!ctx)
		goto out;
	memcpy(&kp, key->keypair, sizeof kp);
	int ok = secp256k1_schnorrsig_sign32(ctx, sig, msg, &kp, aux);
	IOLM_DECLASSIFY(&ok, sizeof ok);
	IOLM_DECLASSIFY(sig, IOLM_SIG_LEN); /* a signature is public */
	if (!ok)
		goto out;
	err = IOLM_OK;
out:
	sodium_memzero(&kp, sizeof kp);
	if (err)
		memset(sig, 0, IOLM_SIG_LEN);
	return err;
}

int iolm_sign(const iolm_key *key, uint8_t sig[static IOLM_SIG_LEN],
	      const uint8_t msg[static 32])
{
	unsigned char aux[32];
	randombytes_buf(aux, sizeof aux);
	int err = iolm_sign_aux(key, sig, msg, aux);
	sodium_memzero(aux, sizeof aux);
	return err;
}

int iolm_pubkey_check(const uint8_t pub[static IOLM_PUBKEY_LEN])
{
	secp256k1_xonly_pubkey xpub;
	return secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpub, pub)
		       ? IOLM_OK
		       : IOLM_EBADKEY;
}

int iolm_verify(const uint8_t sig[static IOLM_SIG_LEN], const uint8_t msg[static 32],
		const uint8_t pub[static IOLM_PUBKEY_LEN])
{
	secp256k1_xonly_pubkey xpub;
	/* Verification needs no precomputed tables since libsecp256k1 0.2: the static
	 * context serves and avoids the once-lock on the hot path. */
	if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpub, pub))
		return IOLM_EBADKEY;
	if (!secp256k1_schnorrsig_verify(secp256k1_context_static, sig, msg, 32, &xpub))
		return IOLM_EBADSIG;
	return IOLM_OK;
}

int iolm_key_save(const iolm_key *key, const char *path, int overwrite)
{
	uint8_t sec[IOLM_SECKEY_LEN];
	char text[2 * IOLM_SECKEY_LEN + 2];
	char tmp[4096];
	int fd = -1, err = IOLM_EIO;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return IOLM_ETOOBIG;
	if (!overwrite && access(path, F_OK) == 0)
		return IOLM_EEXIST;

	iolm_key_secret(key, sec);
	iolm_hex_encode(text, sizeof text, sec, sizeof sec);
	text[2 * IOLM_SECKEY_LEN] = '\n';
	text[2 * IOLM_SECKEY_LEN + 1] = '\0';

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	size_t len = 2 * IOLM_SECKEY_LEN + 1;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	err = IOLM_OK;
out:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(text, sizeof text);
	return err;
}

int iolm_key_load(iolm_key *key, const char *path)
{
	uint8_t sec[IOLM_SECKEY_LEN];
	char text[2 * IOLM_SECKEY_LEN + 3];
	struct stat st;
	ssize_t n;
	size_t len, got;
	int fd, err;

	memset(key, 0, sizeof *key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	err = IOLM_EIO;
	if (fstat(fd, &st) != 0)
		goto out;
	err = IOLM_EPERM;
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		goto out;
	err = IOLM_EIO;
	n = read(fd, text, sizeof text);
	if (n < 0)
		goto out;
	len = (size_t)n;
	/* Accept the secret with or without one trailing newline, nothing more. */
	if (len > 0 && text[len - 1] == '\n')
		len--;
	err = IOLM_ELENGTH;
	if (len != 2 * IOLM_SECKEY_LEN)
		goto out;
	err = iolm_hex_decode(sec, sizeof sec, &got, text, len);
	if (err)
		goto out;
	err = iolm_key_from_secret(key, sec);
out:
	close(fd);
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(text, sizeof text);
	return err;
}
