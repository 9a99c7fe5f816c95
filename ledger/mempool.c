/* The mempool (contract in ledger/mempool.h).
 *
 * Layout:
 *   - every pending transaction is one entry (malloc'd; it takes over the raw bytes that
 *     ledger_tx_decode copied, and the decoded messages are freed at admission);
 *   - an id table: open addressing with linear probing over entry pointers, keyed by the
 *     tx id, load at most 1/2, backward-shift deletion (no tombstones). O(1) expected;
 *   - an account table of the same kind keyed by the 20-byte account id; each account
 *     holds its entries in a doubly linked list in nonce order and is also on a list of
 *     all accounts, so select and update walk accounts without scanning the table.
 *     Emptied accounts go to a free list and are reused, so steady-state admission
 *     allocates only the entry;
 *   - selection builds a max-heap over the accounts' runnable heads (O(A) to build,
 *     O(log A) per selected tx); nothing is kept between selections;
 *   - for making room in a full mempool: a list of the accounts whose run waits behind
 *     a nonce gap, and a min-heap of the accounts by their last entry's fee, both kept
 *     up to date at every change, so finding a victim costs O(log A), not a walk over
 *     every account.
 * Both tables hash their key through a per-mempool random seed: account ids are cheap to
 * grind (a fresh key each try), so unseeded low bits would let a peer aim every account
 * at one probe chain.
 *
 * Admission costs decode + one table probe + one account() call + a walk over the
 * sender's pending list (at most max_per_account, usually the tail) + one signature check
 * (none when the id is in the signature cache).
 *
 * Replacement policy: the new transaction must pay more than the old one and at least
 * replace_bump_pct percent more. When a replacement (or a transaction filling a nonce
 * gap) raises the cumulative cost so that later pending transactions of the account no
 * longer fit its balance, the later ones are dropped, from the first that no longer
 * fits: the newest transaction the owner signed wins, and the account's run stays
 * payable. ledger_mempool_update applies the same rule after a block. */
#include "ledger/mempool.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/checked.h"

struct mp_account;

struct mp_entry {
	uint8_t id[32];
	uint64_t nonce;
	uint64_t fee;
	uint64_t cost;  /* spend + fee: what it takes from the balance */
	uint64_t seq;   /* arrival order: ties in selection go to the older one */
	uint64_t born;  /* ledger_mempool_update calls (blocks) before its admission */
	uint8_t *raw;
	size_t raw_len;
	struct mp_account *acct;
	struct mp_entry *prev, *next; /* the account's entries in nonce order */
};

struct mp_account {
	uint8_t id[IOLM_ADDR_LEN];
	struct mp_entry *head, *tail;
	size_t n;
	struct mp_account *lprev, *lnext; /* all accounts; lnext also links the free list */
	struct mp_entry *cur;             /* selection: the account's next candidate */
	uint64_t next;                    /* its next nonce when last read (add, update) */
	size_t holes;                     /* neighbours in the list whose nonces skip */
	struct mp_account *gprev, *gnext; /* the gapped list, while on it */
	int gapped;                       /* on the gapped list (gap_sync) */
	size_t hpos;                      /* 1 + its index in the tail heap; 0: not in it */
};

enum mp_kind { MP_ENTRIES, MP_ACCOUNTS };

/* An open-addressing set of pointers to entries or to accounts (kind says which, and so
 * where an element's key is). */
struct mp_table {
	enum mp_kind kind;
	void **slots;
	size_t cap; /* power of two, or 0 before the first insert */
	size_t n;
};

struct ledger_mempool {
	ledger_mempool_params p;
	char chain_id[LEDGER_MAX_CHAIN_ID + 1];
	ledger_sigcache *cache;
	uint64_t seed;
	uint64_t seq;
	uint64_t blocks; /* ledger_mempool_update calls so far */
	uint64_t expired; /* transactions dropped for their age (ttl_blocks) */
	uint64_t evicted; /* dropped to make room: behind a gap, or paying less */
	struct mp_table ids;   /* struct mp_entry * */
	struct mp_table accts; /* struct mp_account * */
	struct mp_account *all;
	struct mp_account *spare;
	struct mp_account *gapped; /* accounts with entries behind a nonce gap */
	struct mp_account **tails; /* min-heap of the non-empty accounts by tail_before */
	size_t ntails, tails_cap;  /* tails_cap >= accts.n: reserved with the table */
	size_t count;
	size_t bytes;
};

/* ---- hashing and the tables ---- */

/* splitmix64's finaliser: a bijection whose every output bit depends on every input bit,
 * so the unknown seed spreads over the slot index. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t hash_id(const ledger_mempool *mp, const uint8_t id[static 32])
{
	return mix64(load64(id) ^ mp->seed);
}

static uint64_t hash_acct(const ledger_mempool *mp, const uint8_t id[static IOLM_ADDR_LEN])
{
	return mix64(load64(id) ^ mix64(load64(id + 8) ^ mp->seed));
}

static uint64_t elem_hash(const ledger_mempool *mp, const struct mp_table *t, const void *e)
{
	if (t->kind == MP_ENTRIES)
		return hash_id(mp, ((const struct mp_entry *)e)->id);
	return hash_acct(mp, ((const struct mp_account *)e)->id);
}

static size_t find_entry_slot(const ledger_mempool *mp, const uint8_t id[static 32])
{
	const struct mp_table *t = &mp->ids;
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)hash_id(mp, id) & mask;; i = (i + 1) & mask) {
		const struct mp_entry *e = t->slots[i];
		if (!e || memcmp(e->id, id, 32) == 0)
			return i;
	}
}

static struct mp_entry *find_entry(const ledger_mempool *mp, const uint8_t id[static 32])
{
	if (mp->ids.cap == 0)
		return NULL;
	return mp->ids.slots[find_entry_slot(mp, id)];
}

static size_t find_acct_slot(const ledger_mempool *mp, const uint8_t id[static IOLM_ADDR_LEN])
{
	const struct mp_table *t = &mp->accts;
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)hash_acct(mp, id) & mask;; i = (i + 1) & mask) {
		const struct mp_account *a = t->slots[i];
		if (!a || memcmp(a->id, id, IOLM_ADDR_LEN) == 0)
			return i;
	}
}

static struct mp_account *find_acct(const ledger_mempool *mp,
				    const uint8_t id[static IOLM_ADDR_LEN])
{
	if (mp->accts.cap == 0)
		return NULL;
	return mp->accts.slots[find_acct_slot(mp, id)];
}

/* Place e in its probe chain; the key must not be present and there must be room. */
static void table_put(const ledger_mempool *mp, struct mp_table *t, void *e)
{
	size_t mask = t->cap - 1;
	size_t i = (size_t)elem_hash(mp, t, e) & mask;
	assert(2 * (t->n + 1) <= t->cap);
	while (t->slots[i])
		i = (i + 1) & mask;
	t->slots[i] = e;
	t->n++;
}

/* Make room for one more element, keeping the load at most 1/2 so probe chains stay
 * short. The only fallible step of an insert, done before anything changes. */
static int table_reserve(const ledger_mempool *mp, struct mp_table *t)
{
	int err = IOLM_OK;
	struct mp_table nt = {.kind = t->kind};

	if (2 * (t->n + 1) <= t->cap)
		goto out;
	nt.cap = t->cap ? 2 * t->cap : 64;
	err = IOLM_ENOMEM;
	if (nt.cap < t->cap || nt.cap > SIZE_MAX / sizeof(void *))
		goto out;
	nt.slots = calloc(nt.cap, sizeof(void *));
	if (!nt.slots)
		goto out;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			table_put(mp, &nt, t->slots[i]);
	free(t->slots);
	*t = nt;
	err = IOLM_OK;
out:
	return err;
}

/* Delete the element in slot i by shifting later members of its probe chain back, so
 * lookups never need tombstones. */
static void table_del_slot(const ledger_mempool *mp, struct mp_table *t, size_t i)
{
	size_t mask = t->cap - 1;
	size_t j = i;
	assert(t->slots[i]);
	for (;;) {
		j = (j + 1) & mask;
		if (!t->slots[j])
			break;
		size_t home = (size_t)elem_hash(mp, t, t->slots[j]) & mask;
		/* The element at j may move to i only if its home is not in (i, j]. */
		int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = NULL;
	t->n--;
}

/* ---- the gapped list and the tail heap ---- */

/* Whether a's run, from its next nonce on, skips a nonce: then what follows the gap
 * waits for good (until ttl_blocks), and no block can take it. Entries below the next
 * nonce are stale (the trim that follows every change of next drops them). */
static int is_gapped(const struct mp_account *a)
{
	const struct mp_entry *e = a->head;
	if (!e)
		return 0;
	if (e->nonce >= a->next)
		return e->nonce > a->next || a->holes;
	uint64_t want = a->next;
	for (; e && e->nonce <= want; e = e->next)
		if (e->nonce == want)
			want++;
	return e != NULL;
}

/* Put a on the gapped list or take it off, as is_gapped says. O(1) but while stale
 * entries wait for their trim. */
static void gap_sync(ledger_mempool *mp, struct mp_account *a)
{
	int g = is_gapped(a);
	if (g == a->gapped)
		return;
	if (g) {
		a->gprev = NULL;
		a->gnext = mp->gapped;
		if (mp->gapped)
			mp->gapped->gprev = a;
		mp->gapped = a;
	} else {
		if (a->gprev)
			a->gprev->gnext = a->gnext;
		else
			mp->gapped = a->gnext;
		if (a->gnext)
			a->gnext->gprev = a->gprev;
		a->gprev = a->gnext = NULL;
	}
	a->gapped = g;
}

/* Tail heap order: the cheaper last entry first; of equal fees the newer one (the
 * first to go when room is made). */
static int tail_before(const struct mp_account *x, const struct mp_account *y)
{
	if (x->tail->fee != y->tail->fee)
		return x->tail->fee < y->tail->fee;
	return x->tail->seq > y->tail->seq;
}

static void tails_set(ledger_mempool *mp, size_t i, struct mp_account *a)
{
	mp->tails[i] = a;
	a->hpos = i + 1;
}

static void tails_fix(ledger_mempool *mp, size_t i)
{
	struct mp_account *a = mp->tails[i];
	while (i > 0 && tail_before(a, mp->tails[(i - 1) / 2])) {
		tails_set(mp, i, mp->tails[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = l;
		if (l >= mp->ntails)
			break;
		if (r < mp->ntails && tail_before(mp->tails[r], mp->tails[l]))
			best = r;
		if (!tail_before(mp->tails[best], a))
			break;
		tails_set(mp, i, mp->tails[best]);
		i = best;
	}
	tails_set(mp, i, a);
}

/* Keep a's place in the tail heap right after its tail changed: in it while it has
 * entries. Never allocates (tails_reserve made room with the account table). */
static void tail_sync(ledger_mempool *mp, struct mp_account *a)
{
	if (a->tail && !a->hpos) {
		assert(mp->ntails < mp->tails_cap);
		tails_set(mp, mp->ntails++, a);
		tails_fix(mp, mp->ntails - 1);
	} else if (a->tail) {
		tails_fix(mp, a->hpos - 1);
	} else if (a->hpos) {
		size_t i = a->hpos - 1;
		a->hpos = 0;
		if (i != --mp->ntails) {
			tails_set(mp, i, mp->tails[mp->ntails]);
			tails_fix(mp, i);
		}
	}
}

/* Room in the tail heap for as many accounts as the table can hold, so that tail_sync
 * never allocates. Fallible; called before anything changes. */
static int tails_reserve(ledger_mempool *mp)
{
	if (mp->tails_cap >= mp->accts.cap)
		return IOLM_OK;
	struct mp_account **t = realloc(mp->tails, mp->accts.cap * sizeof *t);
	if (!t)
		return IOLM_ENOMEM;
	mp->tails = t;
	mp->tails_cap = mp->accts.cap;
	return IOLM_OK;
}

#ifdef IOLM_AUDIT
/* The gapped list and the tail heap, checked against every account (the sanitizer and
 * fuzz builds, after every operation). */
static void audit_room(const ledger_mempool *mp)
{
	size_t gapped = 0, nonempty = 0, listed = 0;
	for (const struct mp_account *a = mp->all; a; a = a->lnext) {
		assert(a->gapped == is_gapped(a));
		gapped += (size_t)a->gapped;
		nonempty += a->n > 0;
		assert(!a->hpos == !a->tail);
		assert(!a->hpos || mp->tails[a->hpos - 1] == a);
	}
	for (const struct mp_account *a = mp->gapped; a; a = a->gnext, listed++)
		assert(a->gapped && (!a->gnext || a->gnext->gprev == a));
	assert(listed == gapped && mp->ntails == nonempty && mp->ntails <= mp->tails_cap);
	for (size_t i = 1; i < mp->ntails; i++)
		assert(!tail_before(mp->tails[i], mp->tails[(i - 1) / 2]));
}
#define AUDIT_ROOM(mp) audit_room(mp)
#else
#define AUDIT_ROOM(mp) ((void)0)
#endif

/* ---- accounts and entries ---- */

static void entry_free(struct mp_entry *e)
{
	free(e->raw);
	free(e);
}

/* An account with no entries leaves the table and the list for the free list. */
static void account_retire(ledger_mempool *mp, struct mp_account *a)
{
	assert(a->n == 0 && !a->head && !a->tail && !a->gapped && !a->hpos);
	table_del_slot(mp, &mp->accts, find_acct_slot(mp, a->id));
	if (a->lprev)
		a->lprev->lnext = a->lnext;
	else
		mp->all = a->lnext;
	if (a->lnext)
		a->lnext->lprev = a->lprev;
	a->lprev = NULL;
	a->lnext = mp->spare;
	mp->spare = a;
}

/* Whether y does not follow x directly (1 for a hole between neighbours). */
static size_t hole(const struct mp_entry *x, const struct mp_entry *y)
{
	return x && y && y->nonce != x->nonce + 1;
}

#ifdef IOLM_AUDIT
/* The holes of a's list, counted: the sanitizer and fuzz builds check the kept count
 * against it after every change (O(list) each, too slow for a release build). */
static size_t count_holes(const struct mp_account *a)
{
	size_t n = 0;
	for (const struct mp_entry *x = a->head; x; x = x->next)
		n += hole(x, x->next);
	return n;
}
#define AUDIT_HOLES(a) assert((a)->holes == count_holes(a))
#else
#define AUDIT_HOLES(a) ((void)0)
#endif

/* Take an entry out of the id table, its account and the totals, and free it. The
 * account is not retired here: callers that drop several entries do that once. */
static void entry_drop(ledger_mempool *mp, struct mp_entry *e)
{
	struct mp_account *a = e->acct;
	a->holes = a->holes - hole(e->prev, e) - hole(e, e->next) + hole(e->prev, e->next);
	table_del_slot(mp, &mp->ids, find_entry_slot(mp, e->id));
	if (e->prev)
		e->prev->next = e->next;
	else
		a->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		a->tail = e->prev;
	a->n--;
	mp->count--;
	mp->bytes -= e->raw_len;
	entry_free(e);
	gap_sync(mp, a);
	tail_sync(mp, a);
	AUDIT_HOLES(a);
}

/* Drop e and every later entry of its account; how many. */
static size_t drop_from(ledger_mempool *mp, struct mp_entry *e)
{
	size_t n = 0;
	for (; e; n++) {
		struct mp_entry *next = e->next;
		entry_drop(mp, e);
		e = next;
	}
	return n;
}

/* Link e into a in nonce order. Walk from the tail: a sender usually submits its next
 * nonce, so this is O(1) in the common case and O(max_per_account) at worst. */
static void account_link(ledger_mempool *mp, struct mp_account *a, struct mp_entry *e)
{
	struct mp_entry *after = a->tail;
	while (after && after->nonce > e->nonce)
		after = after->prev;
	assert(!after || after->nonce != e->nonce);
	e->prev = after;
	e->next = after ? after->next : a->head;
	a->holes = a->holes - hole(e->prev, e->next) + hole(e->prev, e) + hole(e, e->next);
	if (e->next)
		e->next->prev = e;
	else
		a->tail = e;
	if (after)
		after->next = e;
	else
		a->head = e;
	e->acct = a;
	a->n++;
	gap_sync(mp, a);
	tail_sync(mp, a);
	AUDIT_HOLES(a);
}

/* From the account's next nonce on, add up costs against the balance and drop every
 * entry from the first that no longer fits or was admitted before block born_min;
 * entries below next_nonce are dropped as stale. Retires the account if it ends up
 * empty. */
static void account_trim(ledger_mempool *mp, struct mp_account *a, uint64_t balance,
			 uint64_t next_nonce, uint64_t born_min)
{
	uint64_t sum = 0;
	struct mp_entry *e = a->head;

	while (e && e->nonce < next_nonce) {
		struct mp_entry *next = e->next;
		entry_drop(mp, e);
		e = next;
	}
	for (; e; e = e->next) {
		int old = e->born < born_min;
		if (iolm_add_u64(&sum, sum, e->cost) != IOLM_OK || sum > balance || old) {
			size_t n = drop_from(mp, e);
			if (old)
				mp->expired += n;
			break;
		}
	}
	if (a->n == 0)
		account_retire(mp, a);
}

/* ---- lifecycle ---- */

int ledger_mempool_create(ledger_mempool **out, const ledger_mempool_params *params,
			  const char *chain_id, ledger_sigcache *cache)
{
	ledger_mempool *mp = NULL;
	int err = IOLM_EINVAL;

	*out = NULL;
	if (!params || !chain_id || strlen(chain_id) > LEDGER_MAX_CHAIN_ID)
		goto out;
	err = IOLM_ENOMEM;
	mp = calloc(1, sizeof *mp);
	if (!mp)
		goto out;
	mp->p = *params;
	memcpy(mp->chain_id, chain_id, strlen(chain_id) + 1);
	mp->cache = cache;
	mp->ids.kind = MP_ENTRIES;
	mp->accts.kind = MP_ACCOUNTS;
	randombytes_buf(&mp->seed, sizeof mp->seed);
	*out = mp;
	err = IOLM_OK;
out:
	return err;
}

void ledger_mempool_destroy(ledger_mempool *mp)
{
	if (!mp)
		return;
	struct mp_account *a = mp->all;
	while (a) {
		struct mp_account *next = a->lnext;
		struct mp_entry *e = a->head;
		while (e) {
			struct mp_entry *en = e->next;
			entry_free(e);
			e = en;
		}
		free(a);
		a = next;
	}
	a = mp->spare;
	while (a) {
		struct mp_account *next = a->lnext;
		free(a);
		a = next;
	}
	free(mp->ids.slots);
	free(mp->accts.slots);
	free(mp->tails);
	free(mp);
}

/* ---- admission ---- */

/* fee_new pays more than fee_old and at least replace_bump_pct percent more (exact, in
 * 128 bits: fee_new * 100 >= fee_old * (100 + pct)). */
static int fee_replaces(const ledger_mempool *mp, uint64_t fee_new, uint64_t fee_old)
{
	unsigned __int128 lhs = (unsigned __int128)fee_new * 100u;
	unsigned __int128 rhs = (unsigned __int128)fee_old * (100u + (uint64_t)mp->p.replace_bump_pct);
	return fee_new > fee_old && lhs >= rhs;
}

/* The account's state rules for tx: nonce window, replacement, caps, balance. *old is
 * the pending entry tx would replace (NULL if none). With room, the global count and
 * byte caps are left out (the caller makes room). Changes nothing. */
static int admit_check(const ledger_mempool *mp, const ledger_tx *tx,
		       const struct mp_account *a, uint64_t balance, uint64_t next_nonce,
		       int room, uint64_t *cost, struct mp_entry **old)
{
	uint64_t sum;
	int err;

	*old = NULL;
	if (tx->nonce < next_nonce)
		return IOLM_ELEDGER_NONCE_OLD;
	if (tx->nonce - next_nonce > mp->p.nonce_window)
		return IOLM_EMEMPOOL_WINDOW;

	/* Walk the sender's run once: find the entry with this nonce and add up what the
	 * ones before it (from the next nonce on; older ones are stale) will take. */
	sum = 0;
	for (struct mp_entry *e = a ? a->head : NULL; e && e->nonce <= tx->nonce; e = e->next) {
		if (e->nonce == tx->nonce)
			*old = e;
		else if (e->nonce >= next_nonce && iolm_add_u64(&sum, sum, e->cost) != IOLM_OK)
			return IOLM_ELEDGER_BALANCE;
	}

	if (*old) {
		if (!fee_replaces(mp, tx->fee, (*old)->fee))
			return IOLM_EMEMPOOL_REPLACE;
	} else {
		if (mp->count >= mp->p.max_txs && !room)
			return IOLM_EMEMPOOL_FULL;
		if ((a ? a->n : 0) >= mp->p.max_per_account)
			return IOLM_EMEMPOOL_ACCOUNT_FULL;
	}
	if (tx->raw_len > mp->p.max_bytes ||
	    (!room && mp->bytes - (*old ? (*old)->raw_len : 0) > mp->p.max_bytes - tx->raw_len))
		return IOLM_EMEMPOOL_FULL;

	/* An amount plus fee that overflows 64 bits can be paid from no balance. */
	if ((err = iolm_add_u64(cost, tx->spend, tx->fee)) != IOLM_OK ||
	    (err = iolm_add_u64(&sum, sum, *cost)) != IOLM_OK || sum > balance)
		return IOLM_ELEDGER_BALANCE;
	return IOLM_OK;
}

/* Whether a transaction with this nonce could go into the next block: every nonce from
 * the account's next one up to it is pending. */
static int runnable(const struct mp_account *a, uint64_t nonce, uint64_t next_nonce)
{
	uint64_t want = next_nonce;
	for (const struct mp_entry *e = a ? a->head : NULL; e && e->nonce < nonce; e = e->next)
		if (e->nonce == want)
			want++;
	return want == nonce;
}

/* Accounts each search for room looks at before it gives up: dropping one transaction
 * makes room whenever the count is the limit; only a byte limit can make the first
 * ones too small, and then the first ROOM_TRIES decide. So admission into a full
 * mempool costs O(log accounts) whatever it finds. */
#define ROOM_TRIES 64

/* Room for one more transaction of len bytes in a full mempool, taken from what waits
 * behind a nonce gap (no block can take it before the gap is filled): the first gapped
 * account (other than skip) whose entries past its first gap, dropped, make that room.
 * The entry to drop from, or NULL. Changes nothing. */
static struct mp_entry *gapped_room(const ledger_mempool *mp, const struct mp_account *skip,
				    size_t len)
{
	int tries = 0;
	for (const struct mp_account *a = mp->gapped; a && tries < ROOM_TRIES; a = a->gnext) {
		if (a == skip)
			continue;
		tries++;
		uint64_t want = a->next;
		struct mp_entry *e = a->head;
		for (; e && e->nonce <= want; e = e->next)
			if (e->nonce == want)
				want++;
		assert(e); /* gapped */
		size_t n = 0, bytes = 0;
		for (const struct mp_entry *x = e; x; x = x->next) {
			n++;
			bytes += x->raw_len;
		}
		if (mp->count - n < mp->p.max_txs && mp->bytes - bytes <= mp->p.max_bytes - len)
			return e;
	}
	return NULL;
}

/* Failing that, the last transaction of the account (other than skip) whose last one
 * pays the least (of equal fees, the newest), if fee outbids it as a replacement would
 * (fee_replaces) and dropping it makes the room: a full mempool keeps what pays more,
 * and churning it costs a bump per round. Walks the tail heap in fee order (a small
 * frontier of heap positions). Changes nothing. */
static struct mp_entry *cheap_room(const ledger_mempool *mp, const struct mp_account *skip,
				   size_t len, uint64_t fee)
{
	size_t front[2 * ROOM_TRIES + 1], nf = 0;
	if (mp->ntails)
		front[nf++] = 0;
	for (int tries = 0; nf && tries < ROOM_TRIES; tries++) {
		/* the frontier's cheapest: a linear pick over at most 2 * ROOM_TRIES + 1 */
		size_t k = 0;
		for (size_t j = 1; j < nf; j++)
			if (tail_before(mp->tails[front[j]], mp->tails[front[k]]))
				k = j;
		size_t i = front[k];
		front[k] = front[--nf];
		const struct mp_account *a = mp->tails[i];
		struct mp_entry *t = a->tail;
		if (!fee_replaces(mp, fee, t->fee))
			return NULL; /* the rest pay as much or more */
		if (a != skip && mp->count - 1 < mp->p.max_txs &&
		    mp->bytes - t->raw_len <= mp->p.max_bytes - len)
			return t;
		for (size_t c = 2 * i + 1; c <= 2 * i + 2; c++)
			if (c < mp->ntails)
				front[nf++] = c;
	}
	return NULL;
}

/* Verify once: an id in the cache was checked before (ids are hashes of the whole signed
 * transaction, so the same id means the same signature over the same body). */
static int check_signature(const ledger_mempool *mp, const ledger_tx *tx)
{
	int err;
	if (mp->cache && ledger_sigcache_has(mp->cache, tx->id))
		return IOLM_OK;
	if ((err = ledger_tx_verify(tx, mp->chain_id)) != IOLM_OK)
		return err;
	if (mp->cache)
		ledger_sigcache_add(mp->cache, tx->id);
	return IOLM_OK;
}

int ledger_mempool_add(ledger_mempool *mp, const uint8_t *raw, size_t len,
		       ledger_account_fn account, void *ctx, uint8_t id[32])
{
	ledger_tx tx;
	struct mp_account *a = NULL;
	struct mp_entry *e = NULL, *old = NULL;
	uint64_t balance = 0, next_nonce = 0, cost = 0;
	int err;

	if ((err = ledger_tx_decode(&tx, mp->chain_id, raw, len)) != IOLM_OK)
		goto out; /* decode left tx released and zeroed */

	/* Cheap rules first, so spam costs a probe rather than a signature check. */
	err = IOLM_EMEMPOOL_DUP;
	if (find_entry(mp, tx.id))
		goto out;
	err = IOLM_ELEDGER_FEE;
	if (tx.fee < mp->p.min_fee)
		goto out;
	if ((err = account(ctx, tx.sender, &balance, &next_nonce)) != IOLM_OK)
		goto out;
	a = find_acct(mp, tx.sender);
	/* Full: a transaction the next block could take may displace what waits behind a
	 * nonce gap (which would otherwise hold its place for free until ttl_blocks), or
	 * the cheapest last transaction of an account, when it outbids that one. */
	struct mp_entry *evict = NULL;
	err = admit_check(mp, &tx, a, balance, next_nonce, 0, &cost, &old);
	if (err == IOLM_EMEMPOOL_FULL && tx.raw_len <= mp->p.max_bytes &&
	    runnable(a, tx.nonce, next_nonce) &&
	    ((evict = gapped_room(mp, a, tx.raw_len)) ||
	     (evict = cheap_room(mp, a, tx.raw_len, tx.fee))))
		err = admit_check(mp, &tx, a, balance, next_nonce, 1, &cost, &old);
	if (err != IOLM_OK)
		goto out;
	if ((err = check_signature(mp, &tx)) != IOLM_OK)
		goto out;
	if (mp->p.check && (err = mp->p.check(mp->p.check_ctx, &tx)) != IOLM_OK)
		goto out;

	/* Every fallible step before the first change. */
	err = IOLM_ENOMEM;
	if (table_reserve(mp, &mp->ids) != IOLM_OK)
		goto out;
	if (!a && (table_reserve(mp, &mp->accts) != IOLM_OK || tails_reserve(mp) != IOLM_OK))
		goto out;
	e = malloc(sizeof *e);
	if (!e)
		goto out;
	if (!a) {
		a = mp->spare;
		if (a)
			mp->spare = a->lnext;
		else if (!(a = malloc(sizeof *a)))
			goto out;
		memset(a, 0, sizeof *a);
		memcpy(a->id, tx.sender, IOLM_ADDR_LEN);
		table_put(mp, &mp->accts, a);
		a->lnext = mp->all;
		if (mp->all)
			mp->all->lprev = a;
		mp->all = a;
	}

	if (evict) {
		struct mp_account *va = evict->acct;
		mp->evicted += drop_from(mp, evict);
		if (va->n == 0)
			account_retire(mp, va);
	}
	memcpy(e->id, tx.id, 32);
	e->nonce = tx.nonce;
	e->fee = tx.fee;
	e->cost = cost;
	e->seq = mp->seq++;
	e->born = mp->blocks;
	e->raw = tx.raw; /* the entry takes over the copy decode made */
	e->raw_len = tx.raw_len;
	tx.raw = NULL;
	if (old)
		entry_drop(mp, old);
	account_link(mp, a, e);
	table_put(mp, &mp->ids, e);
	mp->count++;
	mp->bytes += e->raw_len;
	/* The prefix up to e fits (admit_check); later entries may not any more. */
	a->next = next_nonce;
	gap_sync(mp, a);
	account_trim(mp, a, balance, next_nonce, 0);
	assert(find_acct(mp, a->id) == a && find_entry(mp, tx.id) == e);
	AUDIT_ROOM(mp);
	if (id)
		memcpy(id, tx.id, 32);
	e = NULL;
	err = IOLM_OK;
out:
	free(e);
	ledger_tx_release(&tx);
	return err;
}

int ledger_mempool_has(const ledger_mempool *mp, const uint8_t id[static 32])
{
	return find_entry(mp, id) != NULL;
}

size_t ledger_mempool_count(const ledger_mempool *mp)
{
	return mp->count;
}

uint64_t ledger_mempool_expired(const ledger_mempool *mp)
{
	return mp->expired;
}

uint64_t ledger_mempool_evicted(const ledger_mempool *mp)
{
	return mp->evicted;
}

size_t ledger_mempool_bytes(const ledger_mempool *mp)
{
	return mp->bytes;
}

/* ---- selection ---- */

/* Heap order: the higher fee first, then the earlier arrival (deterministic). */
static int head_before(const struct mp_account *x, const struct mp_account *y)
{
	if (x->cur->fee != y->cur->fee)
		return x->cur->fee > y->cur->fee;
	return x->cur->seq < y->cur->seq;
}

static void sift_down(struct mp_account **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < n && head_before(h[l], h[best]))
			best = l;
		if (r < n && head_before(h[r], h[best]))
			best = r;
		if (best == i)
			return;
		struct mp_account *t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
}

int ledger_mempool_select(ledger_mempool *mp, size_t max_bytes, size_t max_txs,
			  ledger_account_fn account, void *actx, ledger_mempool_emit_fn emit,
			  void *ectx)
{
	struct mp_account **heap = NULL;
	size_t n = 0, bytes = 0, txs = 0;
	int err = IOLM_OK;

	if (mp->accts.n == 0)
		goto out;
	err = IOLM_ENOMEM;
	heap = malloc(mp->accts.n * sizeof *heap);
	if (!heap)
		goto out;

	/* An account is a candidate when its first entry at or above its next nonce is
	 * exactly that nonce; anything else is a gap that blocks the whole run. */
	for (struct mp_account *a = mp->all; a; a = a->lnext) {
		uint64_t balance, next_nonce;
		if ((err = account(actx, a->id, &balance, &next_nonce)) != IOLM_OK)
			goto out;
		struct mp_entry *e = a->head;
		while (e && e->nonce < next_nonce)
			e = e->next;
		if (e && e->nonce == next_nonce) {
			a->cur = e;
			heap[n++] = a;
		}
	}
	for (size_t i = n / 2; i-- > 0;)
		sift_down(heap, n, i);

	err = IOLM_OK;
	while (n > 0 && txs < max_txs) {
		struct mp_account *a = heap[0];
		struct mp_entry *e = a->cur;
		if (e->raw_len <= max_bytes - bytes) {
			if ((err = emit(ectx, e->raw, e->raw_len, e->id)) != 0)
				goto out;
			bytes += e->raw_len;
			txs++;
			if (e->next && e->next->nonce == e->nonce + 1) {
				a->cur = e->next;
				sift_down(heap, n, 0);
				continue;
			}
		}
		/* The run ends: a gap, the last entry, or one that does not fit (nothing
		 * after it may go in without it). Smaller ones of other accounts still may. */
		heap[0] = heap[--n];
		sift_down(heap, n, 0);
	}
out:
	free(heap);
	return err;
}

/* ---- after a block ---- */

int ledger_mempool_update(ledger_mempool *mp, const uint8_t (*ids)[32], size_t n,
			  ledger_account_fn account, void *ctx)
{
	int err = IOLM_OK;

	for (size_t i = 0; i < n; i++) {
		struct mp_entry *e = find_entry(mp, ids[i]);
		if (!e)
			continue;
		struct mp_account *a = e->acct;
		entry_drop(mp, e);
		if (a->n == 0)
			account_retire(mp, a);
	}
	/* Every account, not only the senders of the included ids: the block may carry
	 * transactions this mempool never saw (another nonce, another replacement), and any
	 * balance may have moved. One account() call per pending account per block. Each
	 * step leaves the mempool consistent, so an error here can be retried. */
	mp->blocks++;
	uint64_t born_min = 0;
	if (mp->p.ttl_blocks && mp->blocks > mp->p.ttl_blocks)
		born_min = mp->blocks - mp->p.ttl_blocks;
	struct mp_account *a = mp->all;
	while (a) {
		struct mp_account *next = a->lnext;
		uint64_t balance, next_nonce;
		if ((err = account(ctx, a->id, &balance, &next_nonce)) != IOLM_OK)
			goto out;
		a->next = next_nonce;
		gap_sync(mp, a);
		account_trim(mp, a, balance, next_nonce, born_min);
		a = next;
	}
out:
	AUDIT_ROOM(mp);
	return err;
}

int ledger_mempool_remove(ledger_mempool *mp, const uint8_t id[static 32])
{
	struct mp_entry *e = find_entry(mp, id);
	struct mp_account *a;

	if (!e)
		return IOLM_ENOTFOUND;
	a = e->acct;
	drop_from(mp, e);
	if (a->n == 0)
		account_retire(mp, a);
	AUDIT_ROOM(mp);
	return IOLM_OK;
}
