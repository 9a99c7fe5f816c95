/* The state operations the end-of-block rules use (ledger/eob.h). */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "ledger/internal.h"

uint64_t ledger_eob_height(const ledger_eob *e)
{
	return e->height;
}

uint64_t ledger_eob_time_ms(const ledger_eob *e)
{
	return e->time_ms;
}

const struct ledger_genesis *ledger_eob_genesis(const ledger_eob *e)
{
	return e->l->g;
}

uint64_t ledger_eob_total_power(const ledger_eob *e)
{
	uint64_t t = 0;
	for (size_t i = 0; i < e->l->g->n_validators; i++)
		t += e->l->g->validators[i].power; /* < 128 * 2^50: no overflow */
	return t;
}

/* ---- growable arrays filled by scans */

struct idlist {
	uint8_t (*ids)[32];
	size_t n, cap;
	size_t off; /* where the 32-byte id sits in the key */
};

static int collect_id(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct idlist *l = ctx;
	(void)val;
	(void)vlen;
	if (klen < l->off + 32)
		return IOLM_ECORRUPT;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->ids, cap * 32);
		if (!p)
			return IOLM_ENOMEM;
		l->ids = p;
		l->cap = cap;
	}
	memcpy(l->ids[l->n++], key + l->off, 32);
	return IOLM_OK;
}

int ledger_eob_pending(ledger_eob *e, uint8_t (**ids)[32], size_t *n)
{
	uint8_t prefix = SK_PENDING;
	struct idlist l = { .off = 1 + 8 + 4 };
	int err = state_scan(e, &prefix, 1, collect_id, &l);
	if (err) {
		free(l.ids);
		l.ids = NULL;
		l.n = 0;
	}
	*ids = l.ids;
	*n = l.n;
	return err;
}

int ledger_eob_get_work(ledger_eob *e, const uint8_t id[static 32], Iolm__WorkState **out)
{
	return state_get_work(e, id, out);
}

int ledger_eob_get_task(ledger_eob *e, const uint8_t id[static 32], Iolm__TaskState **out)
{
	return state_get_task(e, id, out);
}

int ledger_eob_put_work(ledger_eob *e, const uint8_t id[static 32], const Iolm__WorkState *w)
{
	return state_put_work(e, id, w);
}

int ledger_eob_put_task(ledger_eob *e, const uint8_t id[static 32], const Iolm__TaskState *t)
{
	return state_put_task(e, id, t);
}

void pending_key(uint8_t key[static 45], uint64_t height, uint32_t index, const uint8_t id[static 32])
{
	key[0] = SK_PENDING;
	for (int i = 0; i < 8; i++)
		key[1 + i] = (uint8_t)(height >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		key[9 + i] = (uint8_t)(index >> (24 - 8 * i));
	memcpy(key + 13, id, 32);
}

int ledger_eob_unpend(ledger_eob *e, const Iolm__WorkState *w, const uint8_t id[static 32])
{
	uint8_t key[45];
	pending_key(key, w->commit_height, w->commit_index, id);
	return state_del(e, key, sizeof key);
}

int ledger_eob_release(ledger_eob *e, const uint8_t account[static IOLM_ADDR_LEN], uint64_t amount)
{
	int err;
	if ((err = iolm_sub_u64(&e->supply.escrowed, e->supply.escrowed, amount)))
		return IOLM_ELEDGER_SUPPLY; /* releasing more than is escrowed: a rules bug */
	return state_credit(e, account, amount);
}

int ledger_eob_burn(ledger_eob *e, uint64_t amount)
{
	int err;
	if ((err = iolm_sub_u64(&e->supply.escrowed, e->supply.escrowed, amount)))
		return IOLM_ELEDGER_SUPPLY;
	return iolm_add_u64(&e->supply.burned, e->supply.burned, amount);
}

/* The Rewards field and the history kind of a reward kind. */
static uint64_t *reward_field(Iolm__Rewards *r, enum ledger_reward_kind kind,
			      enum ledger_hist_kind *hk)
{
	switch (kind) {
	case LEDGER_REWARD_BREAKTHROUGH:
		*hk = LEDGER_HIST_BREAKTHROUGH;
		return &r->breakthrough;
	case LEDGER_REWARD_REVENUE:
		*hk = LEDGER_HIST_REVENUE;
		return &r->revenue;
	case LEDGER_REWARD_BOND_RETURNED:
		*hk = LEDGER_HIST_BOND_RETURNED;
		return &r->bonds_returned;
	case LEDGER_REWARD_SLASHED:
		*hk = LEDGER_HIST_SLASHED;
		return &r->slashed;
	case LEDGER_REWARD_VALIDATOR:
		*hk = LEDGER_HIST_VALIDATOR;
		return &r->validator;
	}
	return NULL;
}

int ledger_eob_add_reward(ledger_eob *e, const uint8_t account[static IOLM_ADDR_LEN],
			  const ledger_reward *why, uint64_t amount)
{
	uint8_t key[1 + IOLM_ADDR_LEN];
	MDB_val v;
	Iolm__Rewards r = IOLM__REWARDS__INIT, *old = NULL;
	enum ledger_hist_kind hk;
	uint64_t *field = reward_field(&r, why->kind, &hk);
	int err;

	if (!field)
		return IOLM_EINVAL;
	if (amount == 0)
		return IOLM_OK;
	key[0] = SK_REWARDS;
	memcpy(key + 1, account, IOLM_ADDR_LEN);
	err = state_get_raw(e, key, sizeof key, &v);
	if (err == IOLM_OK) {
		if (iolm_codec_decode((ProtobufCMessage **)&old, &iolm__rewards__descriptor,
				      v.mv_data, v.mv_size, 256))
			return IOLM_ECORRUPT;
		r.breakthrough = old->breakthrough;
		r.revenue = old->revenue;
		r.bonds_returned = old->bonds_returned;
		r.slashed = old->slashed;
		r.validator = old->validator;
		iolm_codec_free(&old->base);
	} else if (err != IOLM_ENOTFOUND) {
		return err;
	}
	if ((err = iolm_add_u64(field, *field, amount)) ||
	    (err = state_put_msg(e, key, sizeof key, &r.base)))
		return err;
	struct hist_ref ref = { .object_id = why->object_id, .task_id = why->task_id };
	return hist_add(e, account, hk, amount, &ref);
}

/* ---- shares */

struct sharelist {
	uint8_t (*acct)[IOLM_ADDR_LEN];
	uint64_t *credit;
	size_t n, cap;
};

static int collect_share(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
			 size_t vlen)
{
	struct sharelist *l = ctx;
	Iolm__ShareRecord *s;
	if (klen != 1 + 32 + IOLM_ADDR_LEN)
		return IOLM_ECORRUPT;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *a = realloc(l->acct, cap * IOLM_ADDR_LEN);
		if (!a)
			return IOLM_ENOMEM;
		l->acct = a;
		void *c = realloc(l->credit, cap * sizeof *l->credit);
		if (!c)
			return IOLM_ENOMEM;
		l->credit = c;
		l->cap = cap;
	}
	if (iolm_codec_decode((ProtobufCMessage **)&s, &iolm__share_record__descriptor, val, vlen,
			      64))
		return IOLM_ECORRUPT;
	memcpy(l->acct[l->n], key + 33, IOLM_ADDR_LEN);
	l->credit[l->n] = s->credit;
	l->n++;
	iolm_codec_free(&s->base);
	return IOLM_OK;
}

int ledger_eob_get_shares(ledger_eob *e, const uint8_t task[static 32],
			  uint8_t (**accounts)[IOLM_ADDR_LEN], uint64_t **credits, size_t *n)
{
	uint8_t prefix[33] = { SK_SHARE };
	struct sharelist l = { 0 };
	memcpy(prefix + 1, task, 32);
	int err = state_scan(e, prefix, sizeof prefix, collect_share, &l);
	if (err) {
		free(l.acct);
		free(l.credit);
		l.acct = NULL;
		l.credit = NULL;
		l.n = 0;
	}
	*accounts = l.acct;
	*credits = l.credit;
	*n = l.n;
	return err;
}

int ledger_eob_set_shares(ledger_eob *e, const uint8_t task[static 32],
			  const uint8_t (*accounts)[IOLM_ADDR_LEN], const uint64_t *credits,
			  size_t n)
{
	uint8_t (*old)[IOLM_ADDR_LEN] = NULL, key[1 + 32 + IOLM_ADDR_LEN];
	uint64_t *oldc = NULL;
	size_t on = 0;
	int err;

	key[0] = SK_SHARE;
	memcpy(key + 1, task, 32);
	if ((err = ledger_eob_get_shares(e, task, &old, &oldc, &on)))
		return err;
	for (size_t i = 0; i < on && !err; i++) {
		memcpy(key + 33, old[i], IOLM_ADDR_LEN);
		err = state_del(e, key, sizeof key);
	}
	for (size_t i = 0; i < n && !err; i++) {
		Iolm__ShareRecord s = IOLM__SHARE_RECORD__INIT;
		s.credit = credits[i];
		memcpy(key + 33, accounts[i], IOLM_ADDR_LEN);
		err = state_put_msg(e, key, sizeof key, &s.base);
	}
	free(old);
	free(oldc);
	return err;
}

int ledger_eob_take_revenue_tasks(ledger_eob *e, uint8_t (**tasks)[32], size_t *n)
{
	uint8_t prefix = SK_REVENUE, key[33] = { SK_REVENUE };
	struct idlist l = { .off = 1 };
	int err = state_scan(e, &prefix, 1, collect_id, &l);
	for (size_t i = 0; i < l.n && !err; i++) {
		memcpy(key + 1, l.ids[i], 32);
		err = state_del(e, key, sizeof key);
	}
	if (err) {
		free(l.ids);
		l.ids = NULL;
		l.n = 0;
	}
	*tasks = l.ids;
	*n = l.n;
	return err;
}
