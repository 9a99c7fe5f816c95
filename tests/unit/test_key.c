#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/key.h"

/* ---- BIP340's published test vectors (data/bip340_vectors.csv) */

struct vec {
	int index;
	int has_sec;
	uint8_t sec[32], pub[32], aux[32], msg[32], sig[64];
	int valid;
};

/* Split one CSV line into at most 8 fields in place. */
static int split_csv(char *line, char **f, int max)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == ',') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

static int load_vectors(struct vec *v, int max)
{
	FILE *fp = fopen(IOLM_TEST_DATA "/bip340_vectors.csv", "r");
	char line[1024];
	int n = 0;
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof line, fp)); /* header */
	while (n < max && fgets(line, sizeof line, fp)) {
		char *f[8];
		line[strcspn(line, "\r\n")] = '\0';
		assert_true(split_csv(line, f, 8) >= 7);
		struct vec *x = &v[n++];
		memset(x, 0, sizeof *x);
		x->index = atoi(f[0]);
		x->has_sec = f[1][0] != '\0';
		if (x->has_sec) {
			unhex(x->sec, 32, f[1]);
			unhex(x->aux, 32, f[3]);
		}
		unhex(x->pub, 32, f[2]);
		unhex(x->msg, 32, f[4]);
		unhex(x->sig, 64, f[5]);
		x->valid = strcmp(f[6], "TRUE") == 0;
	}
	fclose(fp);
	return n;
}

static void bip340_vectors_sign_and_verify(void **state)
{
	struct vec v[32];
	int n = load_vectors(v, 32);
	int signed_count = 0, rejected = 0;
	assert_int_equal(n, 15);
	for (int i = 0; i < n; i++) {
		if (v[i].has_sec) {
			iolm_key key;
			uint8_t sig[64];
			assert_int_equal(iolm_key_from_secret(&key, v[i].sec), IOLM_OK);
			assert_memory_equal(iolm_key_pub(&key), v[i].pub, 32);
			assert_int_equal(iolm_sign_aux(&key, sig, v[i].msg, v[i].aux), IOLM_OK);
			assert_memory_equal(sig, v[i].sig, 64);
			iolm_key_wipe(&key);
			signed_count++;
		}
		int rc = iolm_verify(v[i].sig, v[i].msg, v[i].pub);
		if (v[i].valid) {
			assert_int_equal(rc, IOLM_OK);
		} else {
			assert_int_not_equal(rc, IOLM_OK);
			rejected++;
		}
	}
	assert_int_equal(signed_count, 4);
	assert_int_equal(rejected, 10);
}

static void off_curve_public_key_is_a_bad_key(void **state)
{
	struct vec v[32];
	int n = load_vectors(v, 32);
	for (int i = 0; i < n; i++) {
		if (v[i].index == 5 || v[i].index == 14) {
			assert_int_equal(iolm_verify(v[i].sig, v[i].msg, v[i].pub), IOLM_EBADKEY);
			assert_int_equal(iolm_pubkey_check(v[i].pub), IOLM_EBADKEY);
		}
	}
}

/* ---- round trips and every rejection */

static void sign_verify_round_trip(void **state)
{
	for (int i = 0; i < 20; i++) {
		iolm_key key;
		uint8_t msg[32], sig[64];
		assert_int_equal(iolm_key_generate(&key), IOLM_OK);
		assert_int_equal(iolm_pubkey_check(iolm_key_pub(&key)), IOLM_OK);
		iolm_hash(msg, IOLM_TAG_TXSIG, &i, sizeof i);
		assert_int_equal(iolm_sign(&key, sig, msg), IOLM_OK);
		assert_int_equal(iolm_verify(sig, msg, iolm_key_pub(&key)), IOLM_OK);
		iolm_key_wipe(&key);
	}
}

static void wrong_key_is_rejected(void **state)
{
	iolm_key a, b;
	uint8_t msg[32] = { 1 }, sig[64];
	assert_int_equal(iolm_key_generate(&a), IOLM_OK);
	assert_int_equal(iolm_key_generate(&b), IOLM_OK);
	assert_int_equal(iolm_sign(&a, sig, msg), IOLM_OK);
	assert_int_equal(iolm_verify(sig, msg, iolm_key_pub(&b)), IOLM_EBADSIG);
}

static void every_flipped_bit_is_rejected(void **state)
{
	iolm_key key;
	uint8_t msg[32], sig[64], pub[32];
	assert_int_equal(iolm_key_generate(&key), IOLM_OK);
	iolm_hash(msg, IOLM_TAG_TXSIG, "flip", 4);
	assert_int_equal(iolm_sign(&key, sig, msg), IOLM_OK);
	memcpy(pub, iolm_key_pub(&key), 32);

	for (int bit = 0; bit < 256; bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(iolm_verify(sig, msg, pub), IOLM_EBADSIG);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (int bit = 0; bit < 512; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(iolm_verify(sig, msg, pub), IOLM_OK);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (int bit = 0; bit < 256; bit++) {
		pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = iolm_verify(sig, msg, pub);
		assert_true(rc == IOLM_EBADSIG || rc == IOLM_EBADKEY);
		pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(iolm_verify(sig, msg, pub), IOLM_OK);
}

static void zero_and_out_of_range_secrets_are_rejected(void **state)
{
	iolm_key key;
	uint8_t zero[32] = { 0 }, order[32], ones[32];
	/* The group order n and 2^256-1 are both out of range. */
	unhex(order, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
	memset(ones, 0xff, 32);
	assert_int_equal(iolm_key_from_secret(&key, zero), IOLM_EBADKEY);
	assert_int_equal(iolm_key_from_secret(&key, order), IOLM_EBADKEY);
	assert_int_equal(iolm_key_from_secret(&key, ones), IOLM_EBADKEY);
	/* A failed load leaves no key material behind. */
	uint8_t blank[sizeof key];
	memset(blank, 0, sizeof blank);
	assert_memory_equal(&key, blank, sizeof key);
}

static void zero_public_key_is_rejected(void **state)
{
	uint8_t zero[32] = { 0 }, msg[32] = { 0 }, sig[64] = { 0 };
	assert_int_equal(iolm_pubkey_check(zero), IOLM_EBADKEY);
	assert_int_equal(iolm_verify(sig, msg, zero), IOLM_EBADKEY);
}

static void secret_round_trips(void **state)
{
	iolm_key a, b;
	uint8_t sec[32];
	assert_int_equal(iolm_key_generate(&a), IOLM_OK);
	iolm_key_secret(&a, sec);
	assert_int_equal(iolm_key_from_secret(&b, sec), IOLM_OK);
	assert_memory_equal(iolm_key_pub(&a), iolm_key_pub(&b), 32);
	iolm_key_wipe(&a);
	uint8_t blank[sizeof a];
	memset(blank, 0, sizeof blank);
	assert_memory_equal(&a, blank, sizeof a);
}

/* ---- key files */

static char tmpdir[] = "/tmp/iolm-test-key-XXXXXX";

static void key_file_round_trip_and_permissions(void **state)
{
	char path[256];
	iolm_key a, b;
	struct stat st;

	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof path, "%s/node.key", tmpdir);
	assert_int_equal(iolm_key_load(&b, path), IOLM_ENOTFOUND);

	assert_int_equal(iolm_key_generate(&a), IOLM_OK);
	assert_int_equal(iolm_key_save(&a, path, 0), IOLM_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(iolm_key_save(&a, path, 0), IOLM_EEXIST);
	assert_int_equal(iolm_key_load(&b, path), IOLM_OK);
	assert_memory_equal(iolm_key_pub(&a), iolm_key_pub(&b), 32);

	/* Readable by others: refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(iolm_key_load(&b, path), IOLM_EPERM);
	assert_int_equal(chmod(path, 0600), 0);

	/* Malformed contents, each with its own error. */
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("abcd\n", fp);
	fclose(fp);
	assert_int_equal(iolm_key_load(&b, path), IOLM_ELENGTH);
	fp = fopen(path, "w");
	fputs("zz00000000000000000000000000000000000000000000000000000000000001\n", fp);
	fclose(fp);
	assert_int_equal(iolm_key_load(&b, path), IOLM_EHEX);
	fp = fopen(path, "w");
	fputs("0000000000000000000000000000000000000000000000000000000000000000\n", fp);
	fclose(fp);
	assert_int_equal(iolm_key_load(&b, path), IOLM_EBADKEY);

	unlink(path);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bip340_vectors_sign_and_verify),
		cmocka_unit_test(off_curve_public_key_is_a_bad_key),
		cmocka_unit_test(sign_verify_round_trip),
		cmocka_unit_test(wrong_key_is_rejected),
		cmocka_unit_test(every_flipped_bit_is_rejected),
		cmocka_unit_test(zero_and_out_of_range_secrets_are_rejected),
		cmocka_unit_test(zero_public_key_is_rejected),
		cmocka_unit_test(secret_round_trips),
		cmocka_unit_test(key_file_round_trip_and_permissions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
