/* The P2P link's record cipher: ChaCha20-Poly1305 as RFC 8439 defines it (96-bit nonce,
 * 16-byte tag, no associated data here), the bytes libsodium's
 * crypto_aead_chacha20poly1305_ietf_* produce, computed by OpenSSL's libcrypto.
 *
 * Why libcrypto for this one primitive: a node sending or fetching an artifact seals or
 * opens every byte of it on its loop thread, and there libsodium 1.0.18's ChaCha20 (AVX2)
 * and Poly1305 (SSE2) ran at 1.8 GiB/s a core, about half of what both nodes spent on a
 * transfer; libcrypto's AVX-512 code runs the same construction at 4.0 GiB/s on the same
 * machine (docs/p2p.md "Cipher"). Key exchange, hashing and signatures stay where they
 * are. One context per direction of a link, keyed once; each record gives its nonce.
 * Not thread-safe: one thread uses a context at a time. */
#ifndef IOLM_NODE_P2P_AEAD_H
#define IOLM_NODE_P2P_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define P2P_AEAD_KEY_LEN 32
#define P2P_AEAD_NONCE_LEN 12
#define P2P_AEAD_TAG_LEN 16

typedef struct p2p_aead p2p_aead;

/* A context for key (copied into it). IOLM_ENOMEM or IOLM_ECRYPTO on failure. */
int p2p_aead_create(p2p_aead **out, const uint8_t key[P2P_AEAD_KEY_LEN]) IOLM_WUR;
/* Wipes the key. NULL is a no-op. */
void p2p_aead_destroy(p2p_aead *a);

/* Seal the plaintext a || b (either may be empty; NULL with length 0) under nonce: out
 * receives alen + blen bytes of ciphertext, then the tag. out may not overlap a or b. */
int p2p_aead_seal(p2p_aead *ctx, uint8_t *out, const uint8_t nonce[P2P_AEAD_NONCE_LEN],
		  const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) IOLM_WUR;

/* Open clen bytes (ciphertext then tag) under nonce into out (clen - 16 bytes; it must
 * not overlap c). IOLM_ENODE_FRAME when clen is shorter than a tag or the tag does not
 * verify: then out holds nothing usable. */
int p2p_aead_open(p2p_aead *ctx, uint8_t *out, const uint8_t nonce[P2P_AEAD_NONCE_LEN],
		  const uint8_t *c, size_t clen) IOLM_WUR;

#endif
