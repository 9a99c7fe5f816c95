/* BLAKE2b with a domain tag per use.
 *
 * Every hash in iolm is BLAKE2b (libsodium) whose 16-byte personalization parameter
 * carries a domain tag ("iolm.tx", "iolm.block", ...), zero-padded. Two uses can therefore
 * never produce the same hash for the same bytes, and separation costs nothing: the tag is
 * folded into the initial state rather than hashed as data. Any BLAKE2b implementation
 * with personalization (e.g. Python's hashlib.blake2b(person=...)) reproduces these hashes;
 * docs/architecture.md lists the tags. Hash bytes, never structures: callers encode first.
 *
 * The digest is 32 bytes (BLAKE2b-256) except for IOLM_TAG_ADDR, whose users ask for
 * 20 bytes (BLAKE2b-160) through iolm_hash160(). */
#ifndef IOLM_CORE_HASH_H
#define IOLM_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "core/err.h"

#define IOLM_HASH_LEN 32
#define IOLM_HASH160_LEN 20

/* Domain tags. The numbering is internal; the tag strings (iolm_hash_tag_name) are the
 * protocol. Append only. */
enum iolm_hash_tag {
	IOLM_TAG_TX = 0,        /* transaction id: H(tx envelope bytes) */
	IOLM_TAG_TXSIG,         /* signed digest of a tx: H(len(chain_id) || chain_id || body) */
	IOLM_TAG_BLOCK,         /* block id: H(header bytes) */
	IOLM_TAG_VOTE,          /* signed digest of a vote body */
	IOLM_TAG_PROPOSAL,      /* signed digest of a proposal body */
	IOLM_TAG_MLEAF,         /* Merkle leaf */
	IOLM_TAG_MNODE,         /* Merkle inner node */
	IOLM_TAG_MEMPTY,        /* root of the empty Merkle tree */
	IOLM_TAG_STATE,         /* state tree nodes and values */
	IOLM_TAG_CHUNK,         /* artifact chunk id */
	IOLM_TAG_MANIFEST,      /* artifact manifest id */
	IOLM_TAG_ADDR,          /* address: BLAKE2b-160 of an x-only public key */
	IOLM_TAG_HANDSHAKE,     /* P2P handshake transcript */
	IOLM_TAG_MODEL,         /* compute: model/optimizer state hash */
	IOLM_TAG_BATCH,         /* compute: batch PRNG seed */
	IOLM_TAG_WORK,          /* work claim id */
	IOLM_TAG_CHALLENGE,     /* verification sample seed */
	IOLM_TAG_GENESIS,       /* genesis document */
	IOLM_TAG_VALSET,        /* validator set */
	IOLM_TAG_CERT,          /* commit certificate: H(encoded CommitCert) */
	IOLM_TAG_KEYSTORE,      /* wallet keystore file checksum */
	IOLM_TAG_RUNDATA,       /* compute: a miner run's training bytes, in its progress log */
	IOLM_TAG__COUNT
};

/* The 16-byte personalization for a tag (zero-padded ASCII, e.g. "iolm.tx").
 * Static storage; NULL for an out-of-range tag. */
const char *iolm_hash_tag_name(enum iolm_hash_tag tag);

/* Incremental hashing. init/update/final in that order; the context holds no heap memory
 * and final wipes it, so it may be discarded or re-initialised afterwards. */
typedef struct iolm_hash_ctx {
	crypto_generichash_blake2b_state st;
	size_t outlen;
} iolm_hash_ctx;

/* Start a BLAKE2b hash of outlen bytes (IOLM_HASH_LEN or IOLM_HASH160_LEN) under tag.
 * Asserts on a bad tag or length: these are programming errors, not inputs. */
void iolm_hash_init(iolm_hash_ctx *ctx, enum iolm_hash_tag tag, size_t outlen);
void iolm_hash_update(iolm_hash_ctx *ctx, const void *data, size_t len);
/* Little-endian fixed-width integers, so numbers are hashed as bytes by one rule. */
void iolm_hash_update_u64(iolm_hash_ctx *ctx, uint64_t v);
void iolm_hash_update_u32(iolm_hash_ctx *ctx, uint32_t v);
/* Write ctx->outlen bytes to out. */
void iolm_hash_final(iolm_hash_ctx *ctx, uint8_t *out);

/* One-shot BLAKE2b-256 of data under tag. */
void iolm_hash(uint8_t out[static IOLM_HASH_LEN], enum iolm_hash_tag tag,
	       const void *data, size_t len);

/* One-shot BLAKE2b-256 of the concatenation a || b under tag. */
void iolm_hash2(uint8_t out[static IOLM_HASH_LEN], enum iolm_hash_tag tag,
		const void *a, size_t alen, const void *b, size_t blen);

/* One-shot BLAKE2b-160 of data under tag (addresses). */
void iolm_hash160(uint8_t out[static IOLM_HASH160_LEN], enum iolm_hash_tag tag,
		  const void *data, size_t len);

/* Initialise libsodium; safe to call many times from any thread. Every function in core
 * that needs libsodium calls it, so callers rarely must. Returns IOLM_OK or IOLM_ECRYPTO. */
int iolm_crypto_init(void) IOLM_WUR;

#endif
