/* ChaCha20-Poly1305 through libcrypto's EVP interface (contract in node/p2p_aead.h).
 *
 * The context is keyed once; each record re-initialises it with its nonce only (the key
 * schedule of ChaCha20 is the key itself, so this costs a few stores). EVP's update calls
 * take any split of the plaintext, which is how a || b is sealed without joining them.
 * EVP counts lengths in int: pieces are fed at most INT_MAX & ~63 bytes at a time. */
#include "node/p2p_aead.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct p2p_aead {
	EVP_CIPHER_CTX *ctx;
};

#define PIECE_MAX ((size_t)(INT_MAX & ~63))

int p2p_aead_create(p2p_aead **out, const uint8_t key[P2P_AEAD_KEY_LEN])
{
	p2p_aead *a = calloc(1, sizeof *a);
	*out = NULL;
	if (!a || !(a->ctx = EVP_CIPHER_CTX_new())) {
		free(a);
		return IOLM_ENOMEM;
	}
	/* Encrypt or decrypt is chosen per record; the key is set now, the nonce later. */
	if (EVP_CipherInit_ex(a->ctx, EVP_chacha20_poly1305(), NULL, key, NULL, 1) != 1) {
		p2p_aead_destroy(a);
		return IOLM_ECRYPTO;
	}
	*out = a;
	return IOLM_OK;
}

void p2p_aead_destroy(p2p_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
	free(a);
}

/* Run len bytes of in through the cipher into out. */
static int update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len) {
		size_t n = len < PIECE_MAX ? len : PIECE_MAX;
		int got = 0;
		if (EVP_CipherUpdate(ctx, out, &got, in, (int)n) != 1 || (size_t)got != n)
			return IOLM_ECRYPTO;
		out += n;
		in += n;
		len -= n;
	}
	return IOLM_OK;
}

int p2p_aead_seal(p2p_aead *a, uint8_t *out, const uint8_t nonce[P2P_AEAD_NONCE_LEN],
		  const uint8_t *pa, size_t alen, const uint8_t *pb, size_t blen)
{
	int fin = 0;
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
	    update(a->ctx, out, pa, alen) || update(a->ctx, out + alen, pb, blen) ||
	    EVP_CipherFinal_ex(a->ctx, out + alen + blen, &fin) != 1 || fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, P2P_AEAD_TAG_LEN,
				out + alen + blen) != 1)
		return IOLM_ECRYPTO;
	return IOLM_OK;
}

int p2p_aead_open(p2p_aead *a, uint8_t *out, const uint8_t nonce[P2P_AEAD_NONCE_LEN],
		  const uint8_t *c, size_t clen)
{
	uint8_t tag[P2P_AEAD_TAG_LEN];
	int fin = 0;
	if (clen < P2P_AEAD_TAG_LEN)
		return IOLM_ENODE_FRAME;
	size_t mlen = clen - P2P_AEAD_TAG_LEN;
	memcpy(tag, c + mlen, sizeof tag);
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 0) != 1 ||
	    update(a->ctx, out, c, mlen) ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, sizeof tag, tag) != 1)
		return IOLM_ECRYPTO;
	/* The tag is compared here, in constant time, after the whole ciphertext. */
	if (EVP_CipherFinal_ex(a->ctx, out + mlen, &fin) != 1 || fin != 0)
		return IOLM_ENODE_FRAME;
	return IOLM_OK;
}
