/* The wallet's keystore: round trip, wrong passphrase, every byte of the file tampered
 * with, permissions, no overwrite, unreasonable KDF costs; and passphrase sources. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../test_util.h"
#include "core/codec.h"
#include "core/hash.h"
#include "wallet/wallet.h"

static const wallet_kdf TEST_KDF = { 1, 8192 }; /* libsodium's minimum: fast tests */

struct fx {
	char dir[64], path[128];
	iolm_key key;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/iolm-ks-XXXXXX");
	if (!mkdtemp(f->dir) || iolm_key_generate(&f->key))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/k.keystore", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	iolm_key_wipe(&f->key);
	free(f);
	return 0;
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	size_t n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

static void write_all(const char *path, const uint8_t *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	iolm_key back;
	uint8_t pub[IOLM_PUBKEY_LEN], a[32], b[32];
	struct stat st;

	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF), IOLM_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(wallet_keystore_pubkey(pub, f->path), IOLM_OK);
	assert_memory_equal(pub, iolm_key_pub(&f->key), IOLM_PUBKEY_LEN);
	assert_int_equal(wallet_keystore_open(&back, f->path, "pw", 2), IOLM_OK);
	iolm_key_secret(&back, a);
	iolm_key_secret(&f->key, b);
	assert_memory_equal(a, b, 32);
	/* the secret is not in the file in the clear */
	uint8_t file[WALLET_KEYSTORE_MAX];
	size_t n = read_all(f->path, file, sizeof file);
	for (size_t i = 0; i + 32 <= n; i++)
		assert_false(memcmp(file + i, b, 32) == 0);
	/* no overwrite, even of the same key */
	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF),
			 IOLM_EEXIST);
	iolm_key_wipe(&back);
}

static void test_wrong_passphrase(void **state)
{
	struct fx *f = *state;
	iolm_key back;
	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF), IOLM_OK);
	assert_int_equal(wallet_keystore_open(&back, f->path, "pW", 2), IOLM_EWALLET_PASS);
	assert_int_equal(wallet_keystore_open(&back, f->path, "pw", 1), IOLM_EWALLET_PASS);
	assert_int_equal(wallet_keystore_open(&back, f->path, "", 0), IOLM_EWALLET_PASS);
	uint8_t zero[sizeof back] = { 0 };
	assert_memory_equal(&back, zero, sizeof back); /* zeroed on failure */
}

/* Every single-bit flip anywhere in the file is refused, and never opens. */
static void test_every_byte_tampered(void **state)
{
	struct fx *f = *state;
	uint8_t good[WALLET_KEYSTORE_MAX], bad[WALLET_KEYSTORE_MAX];
	char path[160];
	iolm_key back;

	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF), IOLM_OK);
	size_t n = read_all(f->path, good, sizeof good);
	snprintf(path, sizeof path, "%s/t.keystore", f->dir);
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, good, n);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		write_all(path, bad, n);
		int err = wallet_keystore_open(&back, path, "pw", 2);
		assert_true(err == IOLM_EWALLET_CORRUPT);
	}
	/* truncated and extended files */
	write_all(path, good, n - 1);
	assert_int_equal(wallet_keystore_open(&back, path, "pw", 2), IOLM_EWALLET_CORRUPT);
	memcpy(bad, good, n);
	bad[n] = 0;
	write_all(path, bad, n + 1);
	assert_int_equal(wallet_keystore_open(&back, path, "pw", 2), IOLM_EWALLET_CORRUPT);
	write_all(path, good, 0);
	assert_int_equal(wallet_keystore_open(&back, path, "pw", 2), IOLM_EWALLET_CORRUPT);
}

/* A forger who recomputes the checksum still cannot change the authenticated fields:
 * the public key swapped for another is refused at decryption. */
static void test_checksum_recomputed_is_still_refused(void **state)
{
	struct fx *f = *state;
	uint8_t file[WALLET_KEYSTORE_MAX], sum[32];
	Iolm__Keystore *ks;
	iolm_key other, back;
	iolm_buf buf;
	char path[160];

	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF), IOLM_OK);
	size_t n = read_all(f->path, file, sizeof file);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ks, &iolm__keystore__descriptor,
					   file, n, sizeof file), IOLM_OK);
	assert_int_equal(iolm_key_generate(&other), IOLM_OK);
	memcpy(ks->pubkey.data, iolm_key_pub(&other), 32);
	iolm_buf_init(&buf, WALLET_KEYSTORE_MAX);
	ProtobufCBinaryData keep = ks->checksum;
	ks->checksum = (ProtobufCBinaryData){ 0, NULL };
	assert_int_equal(iolm_codec_encode(&buf, &ks->base), IOLM_OK);
	iolm_hash(sum, IOLM_TAG_KEYSTORE, buf.data, buf.len);
	ks->checksum = keep;
	memcpy(ks->checksum.data, sum, 32);
	iolm_buf_reset(&buf);
	assert_int_equal(iolm_codec_encode(&buf, &ks->base), IOLM_OK);
	snprintf(path, sizeof path, "%s/f.keystore", f->dir);
	write_all(path, buf.data, buf.len);
	assert_int_equal(wallet_keystore_open(&back, path, "pw", 2), IOLM_EWALLET_PASS);
	iolm_buf_release(&buf, 0);
	iolm_codec_free(&ks->base);
	iolm_key_wipe(&other);
}

static void test_permissions_and_absence(void **state)
{
	struct fx *f = *state;
	iolm_key back;
	char path[160];
	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &TEST_KDF), IOLM_OK);
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(wallet_keystore_open(&back, f->path, "pw", 2), IOLM_EPERM);
	snprintf(path, sizeof path, "%s/none.keystore", f->dir);
	assert_int_equal(wallet_keystore_open(&back, path, "pw", 2), IOLM_EWALLET_NOKEY);
}

static void test_kdf_bounds(void **state)
{
	struct fx *f = *state;
	wallet_kdf huge = { 3, WALLET_KDF_MAX_MEM + 1 }, slow = { WALLET_KDF_MAX_OPS + 1, 8192 };
	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &huge), IOLM_EINVAL);
	assert_int_equal(wallet_keystore_create(f->path, &f->key, "pw", 2, &slow), IOLM_EINVAL);
	assert_int_equal(access(f->path, F_OK), -1); /* nothing written */
}

static void test_passphrase_sources(void **state)
{
	struct fx *f = *state;
	char path[160], *p;
	size_t len;

	snprintf(path, sizeof path, "%s/pass.txt", f->dir);
	write_all(path, (const uint8_t *)"from file\nsecond line\n", 22);
	setenv("IOLM_WALLET_PASSPHRASE", "from env", 1);
	assert_int_equal(wallet_pass_get(&p, &len, path, "x", 0), IOLM_OK); /* file wins */
	assert_int_equal(len, 9);
	assert_memory_equal(p, "from file", 9);
	wallet_pass_free(p);
	assert_int_equal(wallet_pass_get(&p, &len, NULL, "x", 0), IOLM_OK);
	assert_int_equal(len, 8);
	assert_string_equal(p, "from env");
	wallet_pass_free(p);
	unsetenv("IOLM_WALLET_PASSPHRASE");
	snprintf(path, sizeof path, "%s/missing.txt", f->dir);
	assert_int_equal(wallet_pass_get(&p, &len, path, "x", 0), IOLM_ENOTFOUND);
	assert_null(p);
}

int main(void)
{
	if (sodium_init() < 0 || iolm_crypto_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_byte_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_recomputed_is_still_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_permissions_and_absence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kdf_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passphrase_sources, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
