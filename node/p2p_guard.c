/* Gossip seen-cache, misbehaviour scores and timed bans (see node/p2p_int.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "node/p2p_int.h"

/* ---------------------------------------------------------------- seen-cache */

#define SEEN_MASK (P2P_SEEN_SLOTS - 1)

int p2p_seen_init(struct p2p_seen *s)
{
	memset(s, 0, sizeof *s);
	s->ring = calloc(P2P_SEEN_CAP, sizeof *s->ring);
	s->slots = calloc(P2P_SEEN_SLOTS, sizeof *s->slots);
	if (!s->ring || !s->slots) {
		p2p_seen_release(s);
		return IOLM_ENOMEM;
	}
	randombytes_buf(s->key, sizeof s->key);
	return IOLM_OK;
}

void p2p_seen_release(struct p2p_seen *s)
{
	free(s->ring);
	free(s->slots);
	memset(s, 0, sizeof *s);
}

/* Home slot of a digest: digests are keyed BLAKE2b, so any 32 bits are uniform. */
static uint32_t seen_home(const uint8_t d[P2P_SEEN_LEN])
{
	uint32_t h;
	memcpy(&h, d, sizeof h);
	return h & SEEN_MASK;
}

static void seen_digest(const struct p2p_seen *s, uint8_t d[P2P_SEEN_LEN], const uint8_t *data,
			size_t len)
{
	crypto_generichash(d, P2P_SEEN_LEN, data, len, s->key, sizeof s->key);
}

/* Slot holding digest d, or the empty slot where the probe ended (*found = 0). */
static uint32_t seen_find(const struct p2p_seen *s, const uint8_t d[P2P_SEEN_LEN], int *found)
{
	uint32_t i = seen_home(d);

	while (s->slots[i]) {
		if (memcmp(s->ring[s->slots[i] - 1], d, P2P_SEEN_LEN) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & SEEN_MASK;
	}
	*found = 0;
	return i;
}

/* Empty slot j and shift later members of its probe run back, so that every digest stays
 * reachable from its home slot without tombstones. */
static void seen_delete_slot(struct p2p_seen *s, uint32_t j)
{
	uint32_t k = j;

	s->slots[j] = 0;
	for (;;) {
		k = (k + 1) & SEEN_MASK;
		if (!s->slots[k])
			return;
		uint32_t home = seen_home(s->ring[s->slots[k] - 1]);
		/* The entry at k may move to j when j lies on its probe path home..k. */
		if (((k - home) & SEEN_MASK) >= ((k - j) & SEEN_MASK)) {
			s->slots[j] = s->slots[k];
			s->slots[k] = 0;
			j = k;
		}
	}
}

int p2p_seen_contains(const struct p2p_seen *s, const uint8_t *data, size_t len)
{
	uint8_t d[P2P_SEEN_LEN];
	int found;

	seen_digest(s, d, data, len);
	(void)seen_find(s, d, &found);
	return found;
}

int p2p_seen_check_insert(struct p2p_seen *s, const uint8_t *data, size_t len)
{
	uint8_t d[P2P_SEEN_LEN];
	int found;
	uint32_t slot;

	seen_digest(s, d, data, len);
	(void)seen_find(s, d, &found);
	if (found)
		return 1;
	if (s->count == P2P_SEEN_CAP) {
		/* Drop the oldest digest, the one about to be overwritten, unless it was
		 * forgotten already (no slot, or the slot of a later copy). */
		int old_found;
		uint32_t old = seen_find(s, s->ring[s->head], &old_found);
		if (old_found && s->slots[old] == s->head + 1)
			seen_delete_slot(s, old);
		s->count--;
	}
	memcpy(s->ring[s->head], d, P2P_SEEN_LEN);
	slot = seen_find(s, d, &found);
	assert(!found);
	s->slots[slot] = s->head + 1;
	s->head = (s->head + 1) & (P2P_SEEN_CAP - 1);
	s->count++;
	return 0;
}

void p2p_seen_forget(struct p2p_seen *s, const uint8_t *data, size_t len)
{
	uint8_t d[P2P_SEEN_LEN];
	int found;
	uint32_t slot;

	seen_digest(s, d, data, len);
	slot = seen_find(s, d, &found);
	if (found)
		seen_delete_slot(s, slot); /* its ring entry ages out as usual */
}

/* ---------------------------------------------------------------- scores and bans */

int p2p_ip_is_loopback(const uint8_t ip[16])
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(ip, v6lo, 16) == 0)
		return 1;
	return memcmp(ip, mapped, 12) == 0 && ip[12] == 127;
}

static struct p2p_offender *off_find(node_p2p *p, uint8_t kind, const uint8_t id[32])
{
	for (size_t i = 0; i < P2P_OFFENDERS; i++)
		if (p->offenders[i].kind == kind && memcmp(p->offenders[i].id, id, 32) == 0)
			return &p->offenders[i];
	return NULL;
}

/* The entry for (kind, id), created when absent. When the table is full the entry that
 * matters least is reused: a free one, else the one idle longest among the unbanned, else
 * the ban that ends first. */
static struct p2p_offender *off_get(node_p2p *p, uint8_t kind, const uint8_t id[32],
				    uint64_t now)
{
	struct p2p_offender *o = off_find(p, kind, id), *victim = NULL;

	if (o)
		return o;
	for (size_t i = 0; i < P2P_OFFENDERS; i++) {
		struct p2p_offender *c = &p->offenders[i];
		if (!c->kind) {
			victim = c;
			break;
		}
		int c_banned = c->banned_until_ns > now;
		if (!victim) {
			victim = c;
			continue;
		}
		int v_banned = victim->banned_until_ns > now;
		if (v_banned != c_banned) {
			if (!c_banned)
				victim = c;
		} else if (c_banned ? c->banned_until_ns < victim->banned_until_ns
				    : c->updated_ns < victim->updated_ns) {
			victim = c;
		}
	}
	memset(victim, 0, sizeof *victim);
	victim->kind = kind;
	memcpy(victim->id, id, 32);
	victim->updated_ns = now;
	return victim;
}

static int off_banned(node_p2p *p, uint8_t kind, const uint8_t id[32])
{
	const struct p2p_offender *o = off_find(p, kind, id);
	return o && o->banned_until_ns > iolm_clock_mono_ns();
}

int p2p_banned_key(node_p2p *p, const uint8_t key[static 32])
{
	return off_banned(p, P2P_OFF_KEY, key);
}

int p2p_banned_ip(node_p2p *p, const uint8_t ip[static 16])
{
	uint8_t id[32] = { 0 };

	memcpy(id, ip, 16);
	return off_banned(p, P2P_OFF_IP, id);
}

/* Add points; scores are forgotten after ban_seconds without an offence. Returns 1 when
 * the entry just crossed the threshold and is now banned. */
static int off_add(node_p2p *p, uint8_t kind, const uint8_t id[32], uint32_t points,
		   uint64_t now)
{
	struct p2p_offender *o = off_get(p, kind, id, now);
	uint64_t window = (uint64_t)p->ban_seconds * 1000000000u;

	if (o->banned_until_ns > now)
		return 1;
	if (now - o->updated_ns > window)
		o->score = 0;
	o->updated_ns = now;
	o->score = points > UINT32_MAX - o->score ? UINT32_MAX : o->score + points;
	if (o->score < p->ban_threshold)
		return 0;
	o->score = 0;
	o->banned_until_ns = now + window;
	return 1;
}

int p2p_guard_score(node_p2p *p, const node_peer *peer, uint32_t points)
{
	uint64_t now = iolm_clock_mono_ns();
	uint8_t id[32] = { 0 };
	int banned = 0;

	if (peer->have_key && off_add(p, P2P_OFF_KEY, peer->key, points, now)) {
		IOLM_WARN(P2P_LOG, "banned node key of %s for %u s", peer->addr, p->ban_seconds);
		banned = 1;
	}
	/* Loopback is one address for every local process: banning it would cut a local
	 * devnet off from itself, so local offenders are banned by key only. */
	if (!p2p_ip_is_loopback(peer->ip) || p->ban_loopback) {
		memcpy(id, peer->ip, 16);
		if (off_add(p, P2P_OFF_IP, id, points, now)) {
			IOLM_WARN(P2P_LOG, "banned address of %s for %u s", peer->addr,
				  p->ban_seconds);
			banned = 1;
		}
	}
	if (banned)
		p->stats.bans++;
	return banned;
}
