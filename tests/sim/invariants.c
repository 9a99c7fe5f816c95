/* The properties the simulation checks, named after the lemmas and theorems of
 * Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018), section 4. */
#include <stdlib.h>
#include <string.h>

#include "consensus/cons.h"
#include "invariants.h"

void inv_decided_init(inv_decided *d)
{
	memset(d, 0, sizeof *d);
}

void inv_decided_release(inv_decided *d)
{
	free(d->id);
	free(d->set);
	memset(d, 0, sizeof *d);
}

/* Agreement (the paper's lemma "Algorithm 1 satisfies Agreement"): no two correct
 * processes decide different values at one height. The first decision at a height is kept; every
 * later one by any correct node must equal it. */
const char *inv_agreement(inv_decided *d, uint64_t height,
			  const uint8_t id[static CONS_ID_LEN])
{
	if (height >= d->cap) {
		uint64_t cap = d->cap ? d->cap : 64;
		while (cap <= height)
			cap *= 2;
		uint8_t(*nid)[CONS_ID_LEN] = realloc(d->id, cap * sizeof *nid);
		if (!nid)
			return "out of memory";
		d->id = nid;
		uint8_t *nset = realloc(d->set, cap);
		if (!nset)
			return "out of memory";
		memset(nset + d->cap, 0, cap - d->cap);
		d->set = nset;
		d->cap = cap;
	}
	if (!d->set[height]) {
		d->set[height] = 1;
		memcpy(d->id[height], id, CONS_ID_LEN);
		return NULL;
	}
	if (memcmp(d->id[height], id, CONS_ID_LEN) != 0)
		return "agreement violated: two different blocks committed at one height";
	return NULL;
}

/* Integrity (the paper's Integrity property): a correct process decides at most once
 * per height, in height order (the
 * paper's decision[h_p] is written once, then h_p grows by one). */
const char *inv_integrity(uint64_t prev_height, uint64_t height)
{
	if (height != prev_height + 1)
		return "integrity violated: commit out of height order or repeated";
	return NULL;
}

/* Commit certificates carry the premise of the Agreement proof: +2/3 of the voting power
 * precommitted this id at this height, checkable from the validator set alone. */
const char *inv_cert_valid(const cons_valset *vs, const char *chain_id, uint64_t height,
			   const uint8_t id[static CONS_ID_LEN], const uint8_t *cert,
			   size_t cert_len)
{
	cons_cert_info info;
	if (cons_cert_verify(vs, chain_id, cert, cert_len, &info) != IOLM_OK)
		return "commit certificate does not verify";
	if (info.height != height || memcmp(info.block_id, id, CONS_ID_LEN) != 0)
		return "commit certificate is for another height or block";
	return NULL;
}

struct inv_sig_rec {
	int node;
	uint64_t height;
	uint32_t round;
	int step, nil;
	uint8_t id[CONS_ID_LEN];
};

void inv_signed_init(inv_signed *s)
{
	memset(s, 0, sizeof *s);
}

void inv_signed_release(inv_signed *s)
{
	free(s->recs);
	memset(s, 0, sizeof *s);
}

/* Correct processes do not equivocate (the premise of the quorum-intersection lemma,
 * that at most f validators sign two messages for one step): across crashes and restarts, a correct
 * node's signed messages for one (height, round, step) never differ. This is what the
 * signing WAL and cons_engine_restore() guarantee. Records are kept per node for the
 * node's current height only, which is all a restart can conflict with. */
const char *inv_no_equivocation(inv_signed *s, int node, uint64_t height, uint32_t round,
				int step, int nil, const uint8_t id[static CONS_ID_LEN])
{
	size_t w = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct inv_sig_rec *r = &s->recs[i];
		if (r->node == node && r->height < height)
			continue; /* drop: that height is over for this node */
		s->recs[w++] = *r;
		if (r->node == node && r->height == height && r->round == round &&
		    r->step == step &&
		    (r->nil != nil || (!nil && memcmp(r->id, id, CONS_ID_LEN) != 0)))
			return "a correct node signed two different messages for one step";
	}
	s->n = w;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct inv_sig_rec *nr = realloc(s->recs, cap * sizeof *nr);
		if (!nr)
			return "out of memory";
		s->recs = nr;
		s->cap = cap;
	}
	struct inv_sig_rec *r = &s->recs[s->n++];
	*r = (struct inv_sig_rec){ .node = node, .height = height, .round = round,
				   .step = step, .nil = nil };
	memcpy(r->id, id, CONS_ID_LEN);
	return NULL;
}

/* Termination (the paper's lemma "Algorithm 1 satisfies Termination": after GST every
 * correct process eventually decides): once the network has healed, every correct node
 * commits a new height within bound_ms of the heal or of its previous commit. */
const char *inv_progress(uint64_t now_ms, uint64_t healed_at_ms, uint64_t last_commit_ms,
			 uint64_t bound_ms)
{
	uint64_t since = last_commit_ms > healed_at_ms ? last_commit_ms : healed_at_ms;
	if (now_ms > since + bound_ms)
		return "liveness violated: no commit within the bound after the network healed";
	return NULL;
}
