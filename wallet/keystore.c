/* The encrypted keystore (docs/wallet.md "Keystore"): a Keystore message (proto/iolm.proto)
 * holding one secret key under XChaCha20-Poly1305 with a key from Argon2id. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/codec.h"
#include "core/hash.h"
#include "wallet/wallet.h"

#define KS_VERSION 1u
#define KS_SALT_LEN crypto_pwhash_SALTBYTES
#define KS_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_CT_LEN (IOLM_SECKEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)

const wallet_kdf WALLET_KDF_DEFAULT = { crypto_pwhash_OPSLIMIT_MODERATE,
					crypto_pwhash_MEMLIMIT_MODERATE };
const wallet_kdf WALLET_KDF_FAST = { crypto_pwhash_OPSLIMIT_INTERACTIVE,
				     crypto_pwhash_MEMLIMIT_INTERACTIVE };

/* The message encoded with the fields named by `omit` (bit 0: ciphertext, bit 1:
 * checksum) left empty: the AEAD's associated data (both omitted) and the checksum's
 * input (checksum omitted). */
static int encode_without(iolm_buf *out, const Iolm__Keystore *ks, int omit)
{
	Iolm__Keystore m = *ks;
	if (omit & 1)
		m.ciphertext = (ProtobufCBinaryData){ 0, NULL };
	if (omit & 2)
		m.checksum = (ProtobufCBinaryData){ 0, NULL };
	iolm_buf_reset(out);
	return iolm_codec_encode(out, &m.base);
}

static int derive(uint8_t key[static crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
		  const char *pass, size_t passlen, const uint8_t salt[static KS_SALT_LEN],
		  uint64_t ops, uint64_t mem)
{
	if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, passlen, salt,
			  ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return IOLM_ENOMEM; /* libsodium fails only when it cannot get the memory */
	return IOLM_OK;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4096];
	int fd, err = IOLM_EIO;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return IOLM_ETOOBIG;
	if (access(path, F_OK) == 0)
		return IOLM_EEXIST;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return IOLM_EIO;
	if (write(fd, data, len) == (ssize_t)len && fsync(fd) == 0)
		err = IOLM_OK;
	if (close(fd) != 0)
		err = IOLM_EIO;
	/* link() refuses an existing path, so two wallets racing cannot overwrite a key. */
	if (!err && link(tmp, path) != 0)
		err = errno == EEXIST ? IOLM_EEXIST : IOLM_EIO;
	unlink(tmp);
	return err;
}

int wallet_keystore_create(const char *path, const iolm_key *key, const char *pass,
			   size_t passlen, const wallet_kdf *kdf)
{
	Iolm__Keystore ks = IOLM__KEYSTORE__INIT;
	uint8_t salt[KS_SALT_LEN], nonce[KS_NONCE_LEN], ct[KS_CT_LEN], sum[32];
	uint8_t sec[IOLM_SECKEY_LEN], k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	char addr[IOLM_ADDR_STRLEN + 1];
	uint8_t id[IOLM_ADDR_LEN];
	iolm_buf buf;
	int err;

	if (kdf->opslimit > WALLET_KDF_MAX_OPS || kdf->memlimit > WALLET_KDF_MAX_MEM ||
	    passlen > WALLET_PASS_MAX)
		return IOLM_EINVAL;
	iolm_buf_init(&buf, WALLET_KEYSTORE_MAX);
	randombytes_buf(salt, sizeof salt);
	randombytes_buf(nonce, sizeof nonce);
	iolm_addr_from_pub(id, iolm_key_pub(key));
	iolm_addr_encode(addr, id);
	ks.version = KS_VERSION;
	ks.pubkey = (ProtobufCBinaryData){ IOLM_PUBKEY_LEN, (uint8_t *)iolm_key_pub(key) };
	ks.address = addr;
	ks.kdf_opslimit = kdf->opslimit;
	ks.kdf_memlimit = kdf->memlimit;
	ks.salt = (ProtobufCBinaryData){ sizeof salt, salt };
	ks.nonce = (ProtobufCBinaryData){ sizeof nonce, nonce };
	if ((err = encode_without(&buf, &ks, 3)) ||
	    (err = derive(k, pass, passlen, salt, kdf->opslimit, kdf->memlimit)))
		goto out;
	iolm_key_secret(key, sec);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, sec, sizeof sec, buf.data, buf.len,
						   NULL, nonce, k);
	ks.ciphertext = (ProtobufCBinaryData){ sizeof ct, ct };
	if ((err = encode_without(&buf, &ks, 2)))
		goto out;
	iolm_hash(sum, IOLM_TAG_KEYSTORE, buf.data, buf.len);
	ks.checksum = (ProtobufCBinaryData){ sizeof sum, sum };
	if ((err = encode_without(&buf, &ks, 0)))
		goto out;
	err = write_file(path, buf.data, buf.len);
out:
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(k, sizeof k);
	iolm_buf_release(&buf, 0);
	return err;
}

/* Read, decode and check the file's shape and checksum. */
static int load(Iolm__Keystore **out, const char *path)
{
	uint8_t data[WALLET_KEYSTORE_MAX + 1], sum[32];
	struct stat st;
	iolm_buf buf;
	ssize_t n;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? IOLM_EWALLET_NOKEY : IOLM_EIO;
	err = fstat(fd, &st) != 0 ? IOLM_EIO : (st.st_mode & (S_IRWXG | S_IRWXO)) ? IOLM_EPERM : 0;
	n = err ? -1 : read(fd, data, sizeof data);
	close(fd);
	if (err)
		return err;
	if (n < 0)
		return IOLM_EIO;
	if ((size_t)n > WALLET_KEYSTORE_MAX)
		return IOLM_EWALLET_CORRUPT;
	Iolm__Keystore *ks;
	if (iolm_codec_decode((ProtobufCMessage **)&ks, &iolm__keystore__descriptor, data,
			      (size_t)n, WALLET_KEYSTORE_MAX))
		return IOLM_EWALLET_CORRUPT;
	err = IOLM_EWALLET_CORRUPT;
	if (ks->version != KS_VERSION || ks->pubkey.len != IOLM_PUBKEY_LEN ||
	    ks->salt.len != KS_SALT_LEN || ks->nonce.len != KS_NONCE_LEN ||
	    ks->ciphertext.len != KS_CT_LEN || ks->checksum.len != 32 ||
	    ks->kdf_opslimit < crypto_pwhash_OPSLIMIT_MIN || ks->kdf_opslimit > WALLET_KDF_MAX_OPS ||
	    ks->kdf_memlimit < crypto_pwhash_MEMLIMIT_MIN || ks->kdf_memlimit > WALLET_KDF_MAX_MEM)
		goto fail;
	iolm_buf_init(&buf, WALLET_KEYSTORE_MAX);
	if (encode_without(&buf, ks, 2) == IOLM_OK)
		iolm_hash(sum, IOLM_TAG_KEYSTORE, buf.data, buf.len);
	else
		memset(sum, 0, sizeof sum);
	iolm_buf_release(&buf, 0);
	if (sodium_memcmp(sum, ks->checksum.data, 32) != 0)
		goto fail;
	*out = ks;
	return IOLM_OK;
fail:
	iolm_codec_free(&ks->base);
	return err;
}

int wallet_keystore_pubkey(uint8_t pub[static IOLM_PUBKEY_LEN], const char *path)
{
	Iolm__Keystore *ks;
	int err = load(&ks, path);
	if (err)
		return err;
	memcpy(pub, ks->pubkey.data, IOLM_PUBKEY_LEN);
	iolm_codec_free(&ks->base);
	return IOLM_OK;
}

int wallet_keystore_open(iolm_key *key, const char *path, const char *pass, size_t passlen)
{
	Iolm__Keystore *ks;
	uint8_t sec[IOLM_SECKEY_LEN], k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	iolm_buf ad;
	int err;

	memset(key, 0, sizeof *key);
	if (passlen > WALLET_PASS_MAX)
		return IOLM_EWALLET_PASS;
	if ((err = load(&ks, path)))
		return err;
	iolm_buf_init(&ad, WALLET_KEYSTORE_MAX);
	if ((err = encode_without(&ad, ks, 3)) ||
	    (err = derive(k, pass, passlen, ks->salt.data, ks->kdf_opslimit, ks->kdf_memlimit)))
		goto out;
	err = IOLM_EWALLET_PASS;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(sec, NULL, NULL, ks->ciphertext.data,
						       ks->ciphertext.len, ad.data, ad.len,
						       ks->nonce.data, k) != 0)
		goto out;
	/* The right passphrase on a file whose key is not its public key: damaged. */
	err = iolm_key_from_secret(key, sec);
	if (!err && sodium_memcmp(iolm_key_pub(key), ks->pubkey.data, IOLM_PUBKEY_LEN) != 0)
		err = IOLM_EWALLET_CORRUPT;
	if (err) {
		iolm_key_wipe(key);
		err = IOLM_EWALLET_CORRUPT;
	}
out:
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(k, sizeof k);
	iolm_buf_release(&ad, 0);
	iolm_codec_free(&ks->base);
	return err;
}
