/* Fuzz the wallet's light client with hostile node answers: the input is an /account
 * answer and a /block answer (JSON), separated by a NUL byte, checked against a fixed
 * genesis of four validators whose keys the fuzzer does not have. Property: no crash, no
 * leak, and nothing verifies, since no input can carry +2/3 of their signatures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "wallet/wallet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wallet_trust *trust(void)
{
	static wallet_trust *t;
	char path[] = "/tmp/iolm-fuzz-genesis-XXXXXX", json[2048], err[256];
	int n, fd;

	if (t)
		return t;
	if (iolm_crypto_init())
		abort();
	n = snprintf(json, sizeof json, "{\"chain_id\": \"iolm-fuzz\", \"genesis_time_ms\": 1, "
					"\"allocations\": [], \"validators\": [");
	for (uint32_t i = 0; i < 4; i++) {
		uint8_t sec[32];
		char pub[65];
		iolm_key k;
		iolm_hash(sec, IOLM_TAG_GENESIS, &i, sizeof i);
		if (iolm_key_from_secret(&k, sec))
			abort();
		iolm_hex_encode(pub, sizeof pub, iolm_key_pub(&k), 32);
		iolm_key_wipe(&k);
		n += snprintf(json + n, sizeof json - (size_t)n,
			      "%s{\"pubkey\": \"%s\", \"power\": 10}", i ? ", " : "", pub);
	}
	n += snprintf(json + n, sizeof json - (size_t)n, "]}");
	if ((fd = mkstemp(path)) < 0 || write(fd, json, (size_t)n) != n)
		abort();
	close(fd);
	if (wallet_trust_load(&t, path, err, sizeof err)) {
		fprintf(stderr, "fuzz_wallet_answer: %s\n", err);
		abort();
	}
	unlink(path);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0, size);
	uint8_t id[IOLM_ADDR_LEN] = { 1, 2, 3 };
	wallet_account a;
	char why[256];

	wallet_trust *t = trust();
	if (!sep)
		return 0;
	json_t *acct = json_loadb((const char *)data, (size_t)(sep - data), 0, NULL);
	json_t *blk = json_loadb((const char *)sep + 1, size - (size_t)(sep - data) - 1, 0, NULL);
	if (acct && wallet_verify_account(t, id, acct, blk, &a, why, sizeof why) == IOLM_OK)
		abort(); /* a forged answer verified */
	json_decref(acct);
	json_decref(blk);
	return 0;
}
