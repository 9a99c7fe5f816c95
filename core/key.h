/* Keys and BIP340 Schnorr signatures over secp256k1 (libsecp256k1).
 *
 * A secret key is 32 bytes; its public key is the 32-byte x-only key of BIP340. Account
 * keys, validator consensus keys and node identity keys are all of this one kind.
 * Signatures are 64 bytes over a 32-byte digest: callers sign H(tag, bytes), never a
 * structure (see core/hash.h for the tags).
 *
 * Secrets: an iolm_key lives in caller memory; iolm_key_wipe() zeroes it, and every
 * function here wipes its own temporaries. Key files hold the secret as 64 hex characters
 * and a newline, mode 0600; loading refuses a file that group or others can read. */
#ifndef IOLM_CORE_KEY_H
#define IOLM_CORE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define IOLM_SECKEY_LEN 32
#define IOLM_PUBKEY_LEN 32
#define IOLM_SIG_LEN 64

/* A secret key with its derived public key cached. Treat as opaque; wipe when done. */
typedef struct iolm_key {
	uint8_t keypair[96]; /* secp256k1_keypair, serialised by value */
	uint8_t pub[IOLM_PUBKEY_LEN];
} iolm_key;

/* A fresh random key from the OS CSPRNG. On failure *key is zeroed. */
int iolm_key_generate(iolm_key *key) IOLM_WUR;

/* The key for secret bytes sec. IOLM_EBADKEY when sec is zero or not below the group
 * order. On failure *key is zeroed. sec is not modified; the caller wipes it. */
int iolm_key_from_secret(iolm_key *key, const uint8_t sec[static IOLM_SECKEY_LEN]) IOLM_WUR;

/* Copy the 32 secret bytes out (for key files and wallets). Wipe them after use. */
void iolm_key_secret(const iolm_key *key, uint8_t sec[static IOLM_SECKEY_LEN]);

/* The x-only public key: a pointer into key, valid while key is. */
const uint8_t *iolm_key_pub(const iolm_key *key);

/* Zero the key. */
void iolm_key_wipe(iolm_key *key);

/* BIP340 signature of the 32-byte digest msg, with fresh auxiliary randomness. */
int iolm_sign(const iolm_key *key, uint8_t sig[static IOLM_SIG_LEN],
	      const uint8_t msg[static 32]) IOLM_WUR;

/* BIP340 signature with caller-chosen auxiliary randomness: for test vectors and
 * reproducible fixtures. Production code uses iolm_sign(). */
int iolm_sign_aux(const iolm_key *key, uint8_t sig[static IOLM_SIG_LEN],
		  const uint8_t msg[static 32], const uint8_t aux[static 32]) IOLM_WUR;

/* IOLM_OK when sig is a valid BIP340 signature of msg by pub; IOLM_EBADKEY when pub is
 * not an x coordinate on the curve; IOLM_EBADSIG otherwise. Constant in nothing secret:
 * all inputs are public. Thread-safe. */
int iolm_verify(const uint8_t sig[static IOLM_SIG_LEN], const uint8_t msg[static 32],
		const uint8_t pub[static IOLM_PUBKEY_LEN]) IOLM_WUR;

/* IOLM_OK when pub parses as an x-only public key, IOLM_EBADKEY otherwise. */
int iolm_pubkey_check(const uint8_t pub[static IOLM_PUBKEY_LEN]) IOLM_WUR;

/* Write key to path as hex with mode 0600, atomically (temporary file, fsync, rename).
 * IOLM_EEXIST when path exists and overwrite is 0. */
int iolm_key_save(const iolm_key *key, const char *path, int overwrite) IOLM_WUR;

/* Load a key file written by iolm_key_save(). IOLM_ENOTFOUND when absent, IOLM_EPERM when
 * group or others may read it, IOLM_EHEX/IOLM_ELENGTH when malformed, IOLM_EBADKEY when
 * the bytes are not a key. On failure *key is zeroed. */
int iolm_key_load(iolm_key *key, const char *path) IOLM_WUR;

#endif
