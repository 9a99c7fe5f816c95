/* Validator set, proposer selection and commit certificates.
 *
 * Proposer selection is smooth weighted round-robin, which is CometBFT's proposer
 * priority rule for a fixed set with no rescaling: at each position every validator's
 * priority grows by its power, the highest priority (lowest index on a tie) proposes
 * and loses the total power. Priorities sum to zero at every position and return to all
 * zeros after total_power positions, in which each validator proposed exactly its power
 * times. Position k of the sequence is (height - 1 + round) mod total_power. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/internal.h"
#include "core/hash.h"
#include "core/key.h"
#include "ledger/ledger.h"

#define TOTAL_POWER_MAX (UINT64_C(1) << 62)

int cons_power_quorum(uint64_t power, uint64_t total)
{
	return (unsigned __int128)power * 3 > (unsigned __int128)total * 2;
}

int cons_power_third(uint64_t power, uint64_t total)
{
	return (unsigned __int128)power * 3 > (unsigned __int128)total;
}

static int valset_alloc(cons_valset **out, size_t n)
{
	cons_valset *vs = calloc(1, sizeof *vs);
	if (!vs)
		return IOLM_ENOMEM;
	vs->n = n;
	vs->pub = calloc(n, sizeof *vs->pub);
	vs->power = calloc(n, sizeof *vs->power);
	if (!vs->pub || !vs->power) {
		cons_valset_destroy(vs);
		return IOLM_ENOMEM;
	}
	*out = vs;
	return IOLM_OK;
}

int cons_valset_create(cons_valset **out, const uint8_t *pubkeys, const uint64_t *powers,
		       size_t n)
{
	cons_valset *vs = NULL;
	int err;

	*out = NULL;
	if (n == 0 || n > CONS_MAX_VALIDATORS || !pubkeys || !powers)
		return IOLM_EINVAL;
	err = valset_alloc(&vs, n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		err = IOLM_EINVAL;
		if (powers[i] == 0 || powers[i] >= TOTAL_POWER_MAX - vs->total)
			goto fail;
		vs->total += powers[i];
		vs->power[i] = powers[i];
		err = iolm_pubkey_check(pubkeys + 32 * i);
		if (err)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			err = IOLM_EEXIST;
			if (memcmp(vs->pub[j], pubkeys + 32 * i, 32) == 0)
				goto fail;
		}
		memcpy(vs->pub[i], pubkeys + 32 * i, 32);
	}
	*out = vs;
	return IOLM_OK;
fail:
	cons_valset_destroy(vs);
	return err;
}

int cons_valset_copy(cons_valset **out, const cons_valset *vs)
{
	int err = valset_alloc(out, vs->n);
	if (err)
		return err;
	(*out)->total = vs->total;
	memcpy((*out)->pub, vs->pub, vs->n * sizeof *vs->pub);
	memcpy((*out)->power, vs->power, vs->n * sizeof *vs->power);
	return IOLM_OK;
}

int cons_valset_from_genesis(cons_valset **out, const ledger_genesis *g)
{
	size_t nv = ledger_genesis_validator_count(g);
	uint8_t *keys = malloc(nv * IOLM_PUBKEY_LEN + 1);
	uint64_t *powers = malloc(nv * sizeof *powers + 1);
	int err = IOLM_ENOMEM;

	*out = NULL;
	if (keys && powers) {
		for (size_t i = 0; i < nv; i++) {
			const ledger_validator *v = ledger_genesis_validator(g, i);
			memcpy(keys + IOLM_PUBKEY_LEN * i, v->pub, IOLM_PUBKEY_LEN);
			powers[i] = v->power;
		}
		err = cons_valset_create(out, keys, powers, nv);
	}
	free(keys);
	free(powers);
	return err;
}

void cons_valset_destroy(cons_valset *vs)
{
	if (!vs)
		return;
	free(vs->pub);
	free(vs->power);
	free(vs);
}

size_t cons_valset_size(const cons_valset *vs)
{
	return vs->n;
}

uint64_t cons_valset_total_power(const cons_valset *vs)
{
	return vs->total;
}

const uint8_t *cons_valset_pubkey(const cons_valset *vs, uint32_t i)
{
	assert(i < vs->n);
	return vs->pub[i];
}

int cons_valset_find(const cons_valset *vs, const uint8_t pub[static IOLM_PUBKEY_LEN])
{
	for (size_t i = 0; i < vs->n; i++)
		if (memcmp(vs->pub[i], pub, IOLM_PUBKEY_LEN) == 0)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- proposer */

int cons_rr_init(cons_rr *rr, const cons_valset *vs)
{
	rr->pos = 0;
	rr->last = 0;
	rr->prio = calloc(vs->n, sizeof *rr->prio);
	return rr->prio ? IOLM_OK : IOLM_ENOMEM;
}

void cons_rr_release(cons_rr *rr)
{
	free(rr->prio);
	rr->prio = NULL;
}

static void rr_step(cons_rr *rr, const cons_valset *vs)
{
	size_t best = 0;
	for (size_t i = 0; i < vs->n; i++) {
		rr->prio[i] += (int64_t)vs->power[i];
		if (rr->prio[i] > rr->prio[best])
			best = i;
	}
	rr->prio[best] -= (int64_t)vs->total;
	rr->last = (uint32_t)best;
	rr->pos++;
}

static uint64_t rr_position(const cons_valset *vs, uint64_t height, uint32_t round)
{
	assert(height >= 1);
	uint64_t t = vs->total;
	return ((height - 1) % t + round % t) % t;
}

uint32_t cons_rr_proposer(cons_rr *rr, const cons_valset *vs, uint64_t height,
			  uint32_t round)
{
	uint64_t k = rr_position(vs, height, round);
	if (rr->pos > k + 1 || rr->pos == 0) {
		/* Behind the cursor: the sequence restarts from all-zero priorities. */
		memset(rr->prio, 0, vs->n * sizeof *rr->prio);
		rr->pos = 0;
	}
	while (rr->pos < k + 1)
		rr_step(rr, vs);
	return rr->last;
}

int cons_valset_proposer(const cons_valset *vs, uint64_t height, uint32_t round,
			 uint32_t *proposer)
{
	cons_rr rr;
	*proposer = 0;
	if (height == 0)
		return IOLM_EINVAL;
	int err = cons_rr_init(&rr, vs);
	if (err)
		return err;
	*proposer = cons_rr_proposer(&rr, vs, height, round);
	cons_rr_release(&rr);
	return IOLM_OK;
}

/* ---------------------------------------------------------------- votes and certs */

int cons_vote_body_encode(iolm_buf *out, uint8_t digest[static 32], const char *chain_id,
			  int type, uint64_t height, uint32_t round, const uint8_t *id,
			  uint32_t validator)
{
	Iolm__VoteBody b = IOLM__VOTE_BODY__INIT;
	size_t start = out->len;
	b.chain_id = (char *)chain_id;
	b.type = (Iolm__VoteType)type;
	b.height = height;
	b.round = round;
	if (id) {
		b.block_id.data = (uint8_t *)id;
		b.block_id.len = CONS_ID_LEN;
	}
	b.validator = validator;
	int err = iolm_codec_encode(out, &b.base);
	if (err)
		return err;
	iolm_hash(digest, IOLM_TAG_VOTE, out->data ? out->data + start : (const uint8_t *)"",
		  out->len - start);
	return IOLM_OK;
}

static int verify_sig(cons_verify_fn verify, void *ctx, const uint8_t *sig,
		      const uint8_t *digest, const uint8_t *pub)
{
	if (verify)
		return verify(ctx, sig, digest, pub);
	return iolm_verify(sig, digest, pub);
}

/* Check one CommitSig of cert and add its validator's power. */
static int cert_check_sig(const cons_valset *vs, const char *chain_id,
			  const Iolm__CommitCert *c, const Iolm__CommitSig *s,
			  cons_verify_fn verify, void *ctx)
{
	uint8_t digest[32];
	iolm_buf body;
	int err;

	if (s->validator >= vs->n)
		return IOLM_ECONS_VALIDATOR;
	if (s->signature.len != IOLM_SIG_LEN)
		return IOLM_ECONS_CERT;
	iolm_buf_init(&body, IOLM_MAX_VOTE_BYTES);
	err = cons_vote_body_encode(&body, digest, chain_id, IOLM__VOTE_TYPE__VOTE_PRECOMMIT,
				    c->height, c->round, c->block_id.data, s->validator);
	if (!err)
		err = verify_sig(verify, ctx, s->signature.data, digest, vs->pub[s->validator]);
	iolm_buf_release(&body, 0);
	return err ? IOLM_EBADSIG : IOLM_OK;
}

int cons_cert_verify_with(const cons_valset *vs, const char *chain_id,
			  const uint8_t *cert, size_t len, cons_cert_info *info,
			  cons_verify_fn verify, void *ctx)
{
	Iolm__CommitCert *c = NULL;
	uint64_t power = 0;
	int err;

	if (info)
		memset(info, 0, sizeof *info);
	err = iolm_decode_commit_cert(&c, cert, len, 64 + CONS_CERT_BYTES_PER_SIG * vs->n);
	if (err)
		goto out;
	err = IOLM_ECONS_CERT;
	if (c->block_id.len != CONS_ID_LEN || c->height == 0 || c->n_sigs > vs->n)
		goto out;
	for (size_t i = 0; i < c->n_sigs; i++) {
		err = IOLM_ECONS_CERT;
		if (i > 0 && c->sigs[i]->validator <= c->sigs[i - 1]->validator)
			goto out;
		err = cert_check_sig(vs, chain_id, c, c->sigs[i], verify, ctx);
		if (err)
			goto out;
		power += vs->power[c->sigs[i]->validator]; /* total < 2^62: no overflow */
	}
	err = IOLM_ECONS_QUORUM;
	if (!cons_power_quorum(power, vs->total))
		goto out;
	if (info) {
		info->height = c->height;
		info->round = c->round;
		memcpy(info->block_id, c->block_id.data, CONS_ID_LEN);
		info->power = power;
	}
	err = IOLM_OK;
out:
	iolm_codec_free((ProtobufCMessage *)c);
	return err;
}

int cons_cert_verify(const cons_valset *vs, const char *chain_id, const uint8_t *cert,
		     size_t len, cons_cert_info *info)
{
	return cons_cert_verify_with(vs, chain_id, cert, len, info, NULL, NULL);
}
