/* Genesis documents: a valid one, every kind of invalid one, and the hash. */
#include "../test_util.h"

#include <stdio.h>
#include <unistd.h>

#include "core/hash.h"
#include "ledger/ledger.h"

#define VAL "\"genesis_time_ms\": 1, " VALS
#define VALS "\"validators\": [{\"pubkey\": " \
	"\"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\", \"power\": 7, " \
	"\"name\": \"alice\"}]"
#define ADDR "iolm10saslgzfw89u72g4pq37tk6kglpdptww8f6gc6"

static int parse(const char *json, char *err, size_t errlen, ledger_genesis **g)
{
	return ledger_genesis_parse(g, json, strlen(json), err, errlen);
}

static void valid_document(void **state)
{
	static const char doc[] =
		"{\"chain_id\": \"iolm-devnet\", \"genesis_time_ms\": 1764000000000, "
		"\"params\": {\"min_fee\": 5, \"max_block_txs\": 500, \"block_subsidy\": \"1000\", "
		"\"max_supply\": \"18446744073709551615\"}, "
		"\"allocations\": [{\"address\": \"" ADDR "\", \"amount\": \"18446744073709551615\"}], "
		VALS "}";
	ledger_genesis *g;
	char err[256];
	assert_int_equal(parse(doc, err, sizeof err, &g), IOLM_OK);
	assert_string_equal(ledger_genesis_chain_id(g), "iolm-devnet");
	assert_true(ledger_genesis_time_ms(g) == 1764000000000ull);
	const ledger_params *p = ledger_genesis_params(g);
	assert_int_equal(p->min_fee, 5);
	assert_int_equal(p->max_block_txs, 500);
	assert_int_equal(p->block_subsidy, 1000);
	assert_int_equal(p->max_block_bytes, 4u * 1024 * 1024); /* default */
	assert_int_equal(ledger_genesis_validator_count(g), 1);
	assert_int_equal(ledger_genesis_validator(g, 0)->power, 7);
	assert_string_equal(ledger_genesis_validator(g, 0)->name, "alice");
	assert_null(ledger_genesis_validator(g, 1));
	uint8_t h[32];
	iolm_hash(h, IOLM_TAG_GENESIS, doc, strlen(doc));
	assert_memory_equal(ledger_genesis_hash(g), h, 32);
	ledger_genesis_destroy(g);
}

static void invalid_documents_name_the_field(void **state)
{
	static const struct {
		const char *doc;
		const char *mentions;
	} bad[] = {
		{ "not json", "not valid JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"chain_id\": \"Bad Chain\", " VAL "}", "chain_id" },
		{ "{\"chain_id\": \"\", " VAL "}", "chain_id" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": -1, " VALS "}", "genesis_time_ms" },
		{ "{\"chain_id\": \"c\", " VALS "}", "genesis_time_ms" },
		{ "{\"chain_id\": \"c\", \"surprise\": 1, " VAL "}", "unknown field \"surprise\"" },
		{ "{\"chain_id\": \"c\", \"chain_id\": \"d\", " VAL "}", "not valid JSON" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1}", "validators" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1, \"validators\": []}", "validators" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1, \"validators\": [{\"pubkey\": \"00\", \"power\": 1}]}",
		  "validators[0].pubkey" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1, \"validators\": [{\"pubkey\": "
		  "\"0000000000000000000000000000000000000000000000000000000000000000\", "
		  "\"power\": 1}]}",
		  "validators[0].pubkey" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1, \"validators\": [{\"pubkey\": "
		  "\"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\", "
		  "\"power\": 0}]}",
		  "validators[0].power" },
		{ "{\"chain_id\": \"c\", \"genesis_time_ms\": 1, \"validators\": [{\"pubkey\": "
		  "\"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\", "
		  "\"power\": 1}, {\"pubkey\": "
		  "\"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\", "
		  "\"power\": 1}]}",
		  "duplicate pubkey" },
		{ "{\"chain_id\": \"c\", \"params\": {\"min_fee\": \"x\"}, " VAL "}", "params.min_fee" },
		{ "{\"chain_id\": \"c\", \"params\": {\"max_block_bytes\": 10}, " VAL "}",
		  "params.max_block_bytes" },
		{ "{\"chain_id\": \"c\", \"params\": {\"fee\": 1}, " VAL "}", "unknown field \"fee\"" },
		{ "{\"chain_id\": \"c\", \"allocations\": [{\"address\": \"iolm1xyz\", \"amount\": 1}], "
		  VAL "}",
		  "allocations[0].address" },
		{ "{\"chain_id\": \"c\", \"allocations\": [{\"address\": \"" ADDR "\", \"amount\": 0}], "
		  VAL "}",
		  "allocations[0].amount" },
		{ "{\"chain_id\": \"c\", \"allocations\": [{\"address\": \"" ADDR "\", \"amount\": "
		  "\"18446744073709551616\"}], " VAL "}",
		  "allocations[0].amount" },
		{ "{\"chain_id\": \"c\", \"allocations\": [{\"address\": \"" ADDR "\", \"amount\": "
		  "\"18446744073709551615\"}, {\"address\": \"" ADDR "\", \"amount\": 1}], " VAL "}",
		  "exceeds" },
		{ "{\"chain_id\": \"c\", \"params\": {\"max_supply\": 10}, \"allocations\": "
		  "[{\"address\": \"" ADDR "\", \"amount\": 11}], " VAL "}",
		  "exceeds params.max_supply" },
		{ "{\"chain_id\": \"c\", \"allocations\": [{\"address\": \"" ADDR "\", \"amount\": 1}, "
		  "{\"address\": \"" ADDR "\", \"amount\": 2}], " VAL "}",
		  "duplicate address" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ledger_genesis *g = (ledger_genesis *)1;
		char err[256] = "";
		int rc = parse(bad[i].doc, err, sizeof err, &g);
		if (rc != IOLM_ELEDGER_GENESIS || !strstr(err, bad[i].mentions))
			fail_msg("case %zu: rc %s, message \"%s\", want mention of \"%s\"", i,
				 iolm_errname(rc), err, bad[i].mentions);
		assert_null(g);
	}
}

static void load_from_file(void **state)
{
	char path[] = "/tmp/iolm-test-genesis-XXXXXX";
	int fd = mkstemp(path);
	static const char doc[] = "{\"chain_id\": \"filechain\", " VAL "}";
	ledger_genesis *g;
	char err[256];
	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, strlen(doc)), (int)strlen(doc));
	close(fd);
	assert_int_equal(ledger_genesis_load(&g, path, err, sizeof err), IOLM_OK);
	assert_string_equal(ledger_genesis_chain_id(g), "filechain");
	ledger_genesis_destroy(g);
	unlink(path);
	assert_int_equal(ledger_genesis_load(&g, path, err, sizeof err), IOLM_ENOTFOUND);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_document),
		cmocka_unit_test(invalid_documents_name_the_field),
		cmocka_unit_test(load_from_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
