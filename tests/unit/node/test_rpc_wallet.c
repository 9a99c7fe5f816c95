/* The wallet's light client (wallet/verify.c) on real answers of the RPC server: what a
 * node serves verifies against the genesis validators, and every kind of forgery does
 * not. */
#include "rpc_fixture.h"

#include "wallet/wallet.h"


/* A copy of an answer with one field replaced. */
static json_t *with(const json_t *o, const char *key, json_t *v)
{
	json_t *c = json_deep_copy(o);
	json_object_set_new(c, key, v);
	return c;
}

/* A hex string with one byte flipped at byte position pos. */
static json_t *flipped(const json_t *hex, size_t pos)
{
	char *s = strdup(json_string_value(hex));
	assert_non_null(s);
	assert_true(2 * pos + 1 < strlen(s));
	s[2 * pos + 1] = s[2 * pos + 1] == '0' ? '1' : '0';
	json_t *v = json_string(s);
	free(s);
	return v;
}

static int wallet_check(const wallet_trust *tr, const uint8_t *id, const json_t *acct,
			const json_t *blk, wallet_account *a)
{
	char why[256];
	return wallet_verify_account(tr, id, acct, blk, a, why, sizeof why);
}

/* The wallet's light client on real answers: an account and an absent one verify against
 * the genesis validators; a changed balance, record, proof, header, certificate or height
 * does not. */
static void test_wallet_verifies_answers(void **state)
{
	struct rt *t = *state;
	char gpath[64], addr[IOLM_ADDR_STRLEN + 1], path[128];
	wallet_trust *tr;
	wallet_account a;
	uint64_t bal, nonce;

	snprintf(gpath, sizeof gpath, "/tmp/iolm-genesis-XXXXXX");
	int fd = mkstemp(gpath);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t->f.genesis_json, strlen(t->f.genesis_json)),
			 (ssize_t)strlen(t->f.genesis_json));
	close(fd);
	char err[256];
	assert_int_equal(wallet_trust_load(&tr, gpath, err, sizeof err), IOLM_OK);
	unlink(gpath);

	iolm_addr_encode(addr, t->f.id[1]);
	snprintf(path, sizeof path, "/account/%s", addr);
	json_t *acct = get(t, path, 200);
	snprintf(path, sizeof path, "/block/%lld",
		 (long long)json_integer_value(json_object_get(acct, "height")));
	json_t *blk = get(t, path, 200);
	assert_int_equal(wallet_check(tr, t->f.id[1], acct, blk, &a), IOLM_OK);
	assert_int_equal(ledger_get_account(t->f.l, t->f.id[1], &bal, &nonce), IOLM_OK);
	assert_true(a.exists);
	assert_int_equal(a.balance, bal);
	assert_int_equal(a.nonce, nonce);
	assert_int_equal(a.at.height, 2);
	assert_true(3 * a.at.signed_power > 2 * a.at.total_power);

	/* an account that does not exist: proved absent, balance 0 */
	uint8_t nobody[IOLM_ADDR_LEN];
	memset(nobody, 0x5a, sizeof nobody);
	iolm_addr_encode(addr, nobody);
	snprintf(path, sizeof path, "/account/%s", addr);
	json_t *none = get(t, path, 200);
	assert_int_equal(wallet_check(tr, nobody, none, blk, &a), IOLM_OK);
	assert_false(a.exists);
	assert_int_equal(a.balance, 0);
	/* ... and the other account's answer is not this one's */
	assert_int_equal(wallet_check(tr, nobody, acct, blk, &a), IOLM_EWALLET_PROOF);

	json_t *bad[8];
	int nb = 0;
	bad[nb++] = with(acct, "balance", json_integer((json_int_t)bal + 1));
	uint8_t forged[16] = { 0x08 }; /* Account{balance = bal + 1000, nonce}, re-encoded */
	size_t fl = 1;
	for (uint64_t v = bal + 1000; v; v >>= 7)
		forged[fl++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
	if (nonce) {
		forged[fl++] = 0x10;
		forged[fl++] = (uint8_t)nonce; /* the fixture's nonces are small */
	}
	char fhex[40];
	iolm_hex_encode(fhex, sizeof fhex, forged, fl);
	json_t *b2 = with(acct, "account_bytes", json_string(fhex));
	bad[nb++] = with(b2, "balance", json_integer((json_int_t)bal + 1000));
	json_decref(b2);
	json_t *proof = json_deep_copy(json_object_get(acct, "proof"));
	json_object_set_new(proof, "bytes", flipped(json_object_get(proof, "bytes"), 40));
	bad[nb++] = with(acct, "proof", proof);
	bad[nb++] = with(acct, "height", json_integer(1)); /* another block's answer */
	for (int i = 0; i < nb; i++) {
		assert_int_equal(wallet_check(tr, t->f.id[1], bad[i], blk, &a), IOLM_EWALLET_PROOF);
		json_decref(bad[i]);
	}
	json_t *hb = with(blk, "header_bytes", flipped(json_object_get(blk, "header_bytes"), 20));
	assert_int_equal(wallet_check(tr, t->f.id[1], acct, hb, &a), IOLM_EWALLET_PROOF);
	json_decref(hb);
	json_t *cert = json_deep_copy(json_object_get(blk, "certificate"));
	json_object_set_new(cert, "bytes", flipped(json_object_get(cert, "bytes"), 60));
	json_t *cb = with(blk, "certificate", cert);
	assert_int_equal(wallet_check(tr, t->f.id[1], acct, cb, &a), IOLM_EWALLET_PROOF);
	json_decref(cb);
	json_t *nc = with(blk, "certificate", json_null());
	assert_int_equal(wallet_check(tr, t->f.id[1], acct, nc, &a), IOLM_EWALLET_PROOF);
	json_decref(nc);

	json_decref(acct);
	json_decref(none);
	json_decref(blk);
	wallet_trust_destroy(tr);
}

int main(void)
{
	iolm_log_configure(IOLM_LOG_WARN, IOLM_LOG_TEXT, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wallet_verifies_answers, setup, teardown),
	};
	if (iolm_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
