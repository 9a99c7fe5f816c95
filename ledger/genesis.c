/* Genesis documents: JSON in, validated parameters out (docs/protocol.md, "Genesis"). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/internal.h"

#define GENESIS_MAX_BYTES (16u * 1024 * 1024)
#define GENESIS_MAX_VALIDATORS 128
#define GENESIS_MAX_ALLOCS 1000000
#define GENESIS_MAX_POWER (1ull << 50)

static int gerr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int gerr(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return IOLM_ELEDGER_GENESIS;
}

/* An amount: a JSON integer >= 0, or a string of decimal digits (for values past 2^63). */
static int get_u64(const json_t *v, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return -1;
		*out = (uint64_t)i;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		uint64_t r = 0;
		if (!*s || strlen(s) > 20)
			return -1;
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			if (r > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
				return -1;
			r = r * 10 + (uint64_t)(*s - '0');
		}
		*out = r;
		return 0;
	}
	return -1;
}

/* Reject keys the schema does not know: a typo must not silently become a default. */
static const char *unknown_key(const json_t *obj, const char *const *known)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		int ok = 0;
		for (size_t i = 0; known[i]; i++)
			ok |= strcmp(k, known[i]) == 0;
		if (!ok)
			return k;
	}
	return NULL;
}

static int chain_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > LEDGER_MAX_CHAIN_ID)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

struct param_rule {
	const char *name;
	size_t offset;
	uint64_t min, max, def;
};

static const struct param_rule param_rules[] = {
	{ "min_fee", offsetof(ledger_params, min_fee), 0, 1000000000000ull, 1 },
	{ "max_block_bytes", offsetof(ledger_params, max_block_bytes), 64 * 1024, IOLM_MAX_BLOCK_BYTES,
	  4u * 1024 * 1024 },
	{ "max_block_txs", offsetof(ledger_params, max_block_txs), 1, 100000, 20000 },
	{ "min_task_pool", offsetof(ledger_params, min_task_pool), 1, UINT64_MAX, 1 },
	{ "block_subsidy", offsetof(ledger_params, block_subsidy), 0, 1000000000000000ull, 0 },
	{ "max_supply", offsetof(ledger_params, max_supply), 1, UINT64_MAX, 1ull << 62 },
	{ "attest_timeout_ms", offsetof(ledger_params, attest_timeout_ms), 1000, 86400000, 120000 },
};

static int parse_params(ledger_params *p, const json_t *obj, char *err, size_t errlen)
{
	const char *known[sizeof param_rules / sizeof param_rules[0] + 1];
	size_t n = sizeof param_rules / sizeof param_rules[0];
	for (size_t i = 0; i < n; i++) {
		known[i] = param_rules[i].name;
		memcpy((char *)p + param_rules[i].offset, &param_rules[i].def, sizeof(uint64_t));
	}
	known[n] = NULL;
	if (!obj)
		return IOLM_OK;
	if (!json_is_object(obj))
		return gerr(err, errlen, "params: not an object");
	const char *bad = unknown_key(obj, known);
	if (bad)
		return gerr(err, errlen, "params: unknown field \"%s\"", bad);
	for (size_t i = 0; i < n; i++) {
		const struct param_rule *r = &param_rules[i];
		json_t *v = json_object_get(obj, r->name);
		uint64_t x;
		if (!v)
			continue;
		if (get_u64(v, &x) || x < r->min || x > r->max)
			return gerr(err, errlen, "params.%s: must be an integer in [%llu, %llu]",
				    r->name, (unsigned long long)r->min, (unsigned long long)r->max);
		memcpy((char *)p + r->offset, &x, sizeof x);
	}
	return IOLM_OK;
}

static int parse_validators(ledger_genesis *g, const json_t *arr, char *err, size_t errlen)
{
	static const char *const known[] = { "pubkey", "power", "name", NULL };
	size_t n = json_array_size(arr);
	uint64_t total = 0;

	if (!json_is_array(arr) || n < 1 || n > GENESIS_MAX_VALIDATORS)
		return gerr(err, errlen, "validators: need an array of 1 to %d entries",
			    GENESIS_MAX_VALIDATORS);
	g->validators = calloc(n, sizeof *g->validators);
	if (!g->validators)
		return IOLM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		ledger_validator *val = &g->validators[i];
		const char *bad;
		if (!json_is_object(v))
			return gerr(err, errlen, "validators[%zu]: not an object", i);
		if ((bad = unknown_key(v, known)))
			return gerr(err, errlen, "validators[%zu]: unknown field \"%s\"", i, bad);
		const char *pk = json_string_value(json_object_get(v, "pubkey"));
		if (!pk || iolm_hex_decode_exact(val->pub, 32, pk) || iolm_pubkey_check(val->pub))
			return gerr(err, errlen,
				    "validators[%zu].pubkey: need a 64-hex-digit x-only public key", i);
		if (get_u64(json_object_get(v, "power"), &val->power) || val->power < 1 ||
		    val->power > GENESIS_MAX_POWER)
			return gerr(err, errlen, "validators[%zu].power: need an integer in [1, 2^50]",
				    i);
		total += val->power;
		const char *name = json_string_value(json_object_get(v, "name"));
		if (name && strlen(name) >= sizeof val->name)
			return gerr(err, errlen, "validators[%zu].name: at most 64 bytes", i);
		snprintf(val->name, sizeof val->name, "%s", name ? name : "");
		for (size_t j = 0; j < i; j++)
			if (memcmp(g->validators[j].pub, val->pub, 32) == 0)
				return gerr(err, errlen, "validators[%zu]: duplicate pubkey", i);
		g->n_validators = i + 1;
	}
	(void)total; /* at most 128 * 2^50 < 2^57: cannot overflow */
	return IOLM_OK;
}

static int alloc_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ledger_alloc *)a)->id, ((const struct ledger_alloc *)b)->id,
		      IOLM_ADDR_LEN);
}

static int parse_allocs(ledger_genesis *g, const json_t *arr, char *err, size_t errlen)
{
	static const char *const known[] = { "address", "amount", NULL };
	size_t n = json_array_size(arr);
	if (!arr)
		return IOLM_OK;
	if (!json_is_array(arr) || n > GENESIS_MAX_ALLOCS)
		return gerr(err, errlen, "allocations: need an array of at most %d entries",
			    GENESIS_MAX_ALLOCS);
	g->allocs = calloc(n ? n : 1, sizeof *g->allocs);
	if (!g->allocs)
		return IOLM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		struct ledger_alloc *a = &g->allocs[i];
		const char *bad;
		if (!json_is_object(v))
			return gerr(err, errlen, "allocations[%zu]: not an object", i);
		if ((bad = unknown_key(v, known)))
			return gerr(err, errlen, "allocations[%zu]: unknown field \"%s\"", i, bad);
		const char *addr = json_string_value(json_object_get(v, "address"));
		int rc = addr ? iolm_addr_decode(a->id, addr) : IOLM_EINVAL;
		if (rc)
			return gerr(err, errlen, "allocations[%zu].address: %s", i,
				    addr ? iolm_strerror(rc) : "missing");
		if (get_u64(json_object_get(v, "amount"), &a->amount) || a->amount == 0)
			return gerr(err, errlen, "allocations[%zu].amount: need a positive integer",
				    i);
		if (g->supply > UINT64_MAX - a->amount)
			return gerr(err, errlen, "allocations: total supply exceeds 2^64 - 1");
		g->supply += a->amount;
		g->n_allocs = i + 1;
	}
	/* Duplicates would make the order of crediting matter; refuse them. Sorting
	 * changes nothing else: each allocation is credited on its own. */
	qsort(g->allocs, g->n_allocs, sizeof *g->allocs, alloc_cmp);
	for (size_t i = 1; i < g->n_allocs; i++)
		if (memcmp(g->allocs[i - 1].id, g->allocs[i].id, IOLM_ADDR_LEN) == 0) {
			char a[IOLM_ADDR_STRLEN + 1];
			iolm_addr_encode(a, g->allocs[i].id);
			return gerr(err, errlen, "allocations: duplicate address %s", a);
		}
	return IOLM_OK;
}

int ledger_genesis_parse(ledger_genesis **out, const char *json, size_t len, char *err,
			 size_t errlen)
{
	static const char *const known[] = { "chain_id", "genesis_time_ms", "params",
					     "allocations", "validators", NULL };
	ledger_genesis *g = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	const char *bad;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > GENESIS_MAX_BYTES)
		return gerr(err, errlen, "genesis larger than %u bytes", GENESIS_MAX_BYTES);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return gerr(err, errlen, "genesis is not valid JSON: %s (line %d)", jerr.text,
			    jerr.line);
	rc = IOLM_ENOMEM;
	g = calloc(1, sizeof *g);
	if (!g)
		goto fail;
	rc = gerr(err, errlen, "genesis: not a JSON object");
	if (!json_is_object(root))
		goto fail;
	if ((bad = unknown_key(root, known))) {
		rc = gerr(err, errlen, "genesis: unknown field \"%s\"", bad);
		goto fail;
	}
	const char *cid = json_string_value(json_object_get(root, "chain_id"));
	if (!cid || !chain_id_ok(cid)) {
		rc = gerr(err, errlen, "chain_id: need 1 to 64 characters of [a-z0-9._-]");
		goto fail;
	}
	snprintf(g->chain_id, sizeof g->chain_id, "%s", cid);
	if (get_u64(json_object_get(root, "genesis_time_ms"), &g->time_ms)) {
		rc = gerr(err, errlen, "genesis_time_ms: need a non-negative integer");
		goto fail;
	}
	if ((rc = parse_params(&g->params, json_object_get(root, "params"), err, errlen)))
		goto fail;
	if ((rc = parse_validators(g, json_object_get(root, "validators"), err, errlen)))
		goto fail;
	if ((rc = parse_allocs(g, json_object_get(root, "allocations"), err, errlen)))
		goto fail;
	if (g->supply > g->params.max_supply) {
		rc = gerr(err, errlen, "allocations: total %llu exceeds params.max_supply %llu",
			  (unsigned long long)g->supply, (unsigned long long)g->params.max_supply);
		goto fail;
	}
	iolm_hash(g->hash, IOLM_TAG_GENESIS, json, len);
	json_decref(root);
	*out = g;
	return IOLM_OK;
fail:
	json_decref(root);
	ledger_genesis_destroy(g);
	return rc;
}

int ledger_genesis_load(ledger_genesis **out, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	int rc;

	*out = NULL;
	if (!fp) {
		gerr(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	}
	buf = malloc(GENESIS_MAX_BYTES + 1);
	rc = IOLM_ENOMEM;
	if (!buf)
		goto out;
	n = fread(buf, 1, GENESIS_MAX_BYTES + 1, fp);
	rc = IOLM_EIO;
	if (ferror(fp))
		goto out;
	rc = gerr(err, errlen, "%s: larger than %u bytes", path, GENESIS_MAX_BYTES);
	if (n > GENESIS_MAX_BYTES)
		goto out;
	rc = ledger_genesis_parse(out, buf, n, err, errlen);
out:
	fclose(fp);
	free(buf);
	return rc;
}

void ledger_genesis_destroy(ledger_genesis *g)
{
	if (!g)
		return;
	free(g->validators);
	free(g->allocs);
	free(g);
}

const char *ledger_genesis_chain_id(const ledger_genesis *g)
{
	return g->chain_id;
}

const uint8_t *ledger_genesis_hash(const ledger_genesis *g)
{
	return g->hash;
}

uint64_t ledger_genesis_time_ms(const ledger_genesis *g)
{
	return g->time_ms;
}

const ledger_params *ledger_genesis_params(const ledger_genesis *g)
{
	return &g->params;
}

size_t ledger_genesis_validator_count(const ledger_genesis *g)
{
	return g->n_validators;
}

const ledger_validator *ledger_genesis_validator(const ledger_genesis *g, size_t i)
{
	return i < g->n_validators ? &g->validators[i] : NULL;
}
