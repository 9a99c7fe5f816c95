/* The signing WAL: refusal of conflicting signatures, identical re-sends, persistence,
 * torn tails, corruption, height rotation, and crashes (SIGKILL) between persist and
 * send and after send. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cons_test_util.h"
#include "consensus/wal.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/iolm-wal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sign.wal", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char tmp[160];
	unlink(path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

/* A SIGN action for a vote with a recognisable message. */
static cons_action act(uint64_t h, uint32_t r, enum cons_step s, int idbyte, uint8_t *msg,
		       size_t len)
{
	cons_action a = { .kind = CONS_ACT_SIGN, .height = h, .round = r, .step = s,
			  .msg_kind = s == CONS_STEP_PROPOSE ? CONS_MSG_PROPOSAL : CONS_MSG_VOTE,
			  .msg = msg, .msg_len = len };
	if (idbyte < 0)
		a.nil = 1;
	else
		memset(a.block_id, idbyte, 32);
	memset(msg, idbyte & 0xff, len);
	msg[0] = (uint8_t)s;
	return a;
}

/* Record a fresh signature of (h, r, s, idbyte) over a 40-byte message; the error code. */
static int rec(cons_wal *w, uint64_t h, uint32_t r, enum cons_step s, int idbyte)
{
	uint8_t m[40];
	const uint8_t *out;
	size_t len;
	cons_action a = act(h, r, s, idbyte, m, sizeof m);
	return cons_wal_record(w, &a, &out, &len);
}

static void test_wal_refuses_conflict_and_returns_identical(void **state)
{
	(void)state;
	cons_wal *w;
	uint8_t m1[40], m2[40];
	const uint8_t *out;
	size_t len;
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	cons_action a = act(5, 1, CONS_STEP_PREVOTE, 0xaa, m1, sizeof m1);
	assert_int_equal(cons_wal_check(w, &a, &out, &len), IOLM_OK);
	assert_null(out);
	assert_int_equal(cons_wal_record(w, &a, &out, &len), IOLM_OK);
	assert_int_equal(len, sizeof m1);
	assert_memory_equal(out, m1, len);
	/* The same vote again, signed anew (other bytes): the stored bytes come back. */
	cons_action b = act(5, 1, CONS_STEP_PREVOTE, 0xaa, m2, sizeof m2);
	m2[5] = 0x55;
	assert_int_equal(cons_wal_check(w, &b, &out, &len), IOLM_EEXIST);
	assert_int_equal(cons_wal_record(w, &b, &out, &len), IOLM_OK);
	assert_memory_equal(out, m1, sizeof m1);
	/* A different block, or nil, for the same step: refused. */
	cons_action c = act(5, 1, CONS_STEP_PREVOTE, 0xbb, m2, sizeof m2);
	assert_int_equal(cons_wal_record(w, &c, &out, &len), IOLM_ECONS_DOUBLESIGN);
	assert_null(out);
	c = act(5, 1, CONS_STEP_PREVOTE, -1, m2, sizeof m2);
	assert_int_equal(cons_wal_record(w, &c, &out, &len), IOLM_ECONS_DOUBLESIGN);
	/* Other steps and rounds are free. */
	c = act(5, 1, CONS_STEP_PRECOMMIT, -1, m2, sizeof m2);
	assert_int_equal(cons_wal_record(w, &c, &out, &len), IOLM_OK);
	c = act(5, 2, CONS_STEP_PREVOTE, 0xbb, m2, sizeof m2);
	assert_int_equal(cons_wal_record(w, &c, &out, &len), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 3);
	/* Not a SIGN action. */
	c.kind = CONS_ACT_SEND;
	assert_int_equal(cons_wal_record(w, &c, &out, &len), IOLM_EINVAL);
	cons_wal_close(w);
}

static void test_wal_survives_reopen_and_rotates_heights(void **state)
{
	(void)state;
	cons_wal *w;
	const uint8_t *out;
	size_t len;
	uint64_t h;
	enum cons_msg_kind kind;
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(rec(w, 5, 0, CONS_STEP_PROPOSE, 0x11), IOLM_OK);
	assert_int_equal(rec(w, 5, 0, CONS_STEP_PREVOTE, 0x11), IOLM_OK);
	cons_wal_close(w);

	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 2);
	assert_int_equal(cons_wal_entry(w, 0, &h, &kind, &out, &len), IOLM_OK);
	assert_int_equal(h, 5);
	assert_int_equal(kind, CONS_MSG_PROPOSAL);
	assert_int_equal(out[0], CONS_STEP_PROPOSE);
	assert_int_equal(cons_wal_entry(w, 2, &h, &kind, &out, &len), IOLM_ERANGE);
	assert_int_equal(rec(w, 5, 0, CONS_STEP_PREVOTE, 0x22), IOLM_ECONS_DOUBLESIGN);
	/* A new height replaces the file; older heights are refused. */
	assert_int_equal(rec(w, 6, 0, CONS_STEP_PREVOTE, 0x22), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 1);
	assert_int_equal(rec(w, 5, 3, CONS_STEP_PREVOTE, 0x22), IOLM_ECONS_WALSTALE);
	cons_wal_close(w);
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 1);
	assert_int_equal(cons_wal_entry(w, 0, &h, &kind, &out, &len), IOLM_OK);
	assert_int_equal(h, 6);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	cons_wal_close(w);
}

static void test_wal_cuts_torn_tail(void **state)
{
	(void)state;
	cons_wal *w;
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(rec(w, 9, 0, CONS_STEP_PREVOTE, 0x33), IOLM_OK);
	cons_wal_close(w);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* A crash mid-append: half a record. */
	int fd = open(path, O_WRONLY | O_APPEND);
	uint8_t half[] = { 60, 0, 0, 0, 9, 0, 0 };
	assert_int_equal(write(fd, half, sizeof half), (ssize_t)sizeof half);
	close(fd);
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 1);
	assert_int_equal(rec(w, 9, 0, CONS_STEP_PREVOTE, 0x44), IOLM_ECONS_DOUBLESIGN);
	cons_wal_close(w);
	struct stat st2;
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_size, st.st_size);
}

static void test_wal_reports_corruption(void **state)
{
	(void)state;
	cons_wal *w;
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(rec(w, 9, 0, CONS_STEP_PREVOTE, 0x33), IOLM_OK);
	assert_int_equal(rec(w, 9, 0, CONS_STEP_PRECOMMIT, 0x33), IOLM_OK);
	cons_wal_close(w);
	/* Flip a byte inside the first record: damage with data after it. */
	int fd = open(path, O_RDWR);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, 20), 1);
	c ^= 0x80;
	assert_int_equal(pwrite(fd, &c, 1, 20), 1);
	close(fd);
	assert_int_equal(cons_wal_open(&w, path), IOLM_ECORRUPT);
	assert_null(w);
	/* A file that is not a WAL. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "NOTAWAL!xx", 10), 10);
	close(fd);
	assert_int_equal(cons_wal_open(&w, path), IOLM_ECORRUPT);
	assert_int_equal(cons_wal_open(&w, "/nonexistent-dir/x.wal"), IOLM_EIO);
}

static void test_wal_in_memory(void **state)
{
	(void)state;
	cons_wal *w;
	assert_int_equal(cons_wal_open(&w, NULL), IOLM_OK);
	assert_int_equal(rec(w, 1, 0, CONS_STEP_PREVOTE, 0x33), IOLM_OK);
	assert_int_equal(rec(w, 1, 0, CONS_STEP_PREVOTE, 0x34), IOLM_ECONS_DOUBLESIGN);
	assert_int_equal(rec(w, 2, 0, CONS_STEP_PREVOTE, 0x34), IOLM_OK);
	assert_int_equal(cons_wal_count(w), 1);
	cons_wal_close(w);
}

/* ---------------------------------------------------------------- crash tests */

/* The child opens the WAL, records a vote for block 0xaa, reports "persisted" on the
 * pipe, and, when `send` is set, writes the bytes it would send, then waits for SIGKILL.
 * The parent restarts from the WAL and checks that a conflicting vote is refused and
 * the identical one comes back byte for byte. */
static void crash_child(int fd, int send)
{
	cons_wal *w;
	uint8_t m[80];
	const uint8_t *out;
	size_t len;
	if (cons_wal_open(&w, path) != IOLM_OK)
		_exit(2);
	cons_action a = act(3, 2, CONS_STEP_PRECOMMIT, 0xaa, m, sizeof m);
	if (cons_wal_record(w, &a, &out, &len) != IOLM_OK)
		_exit(3);
	if (write(fd, "P", 1) != 1)
		_exit(4);
	if (send && write(fd, out, len) != (ssize_t)len)
		_exit(5);
	for (;;)
		pause();
}

static void crash_test(int send)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		crash_child(p[1], send);
	}
	close(p[1]);
	uint8_t got[81];
	size_t want = send ? 81 : 1, have = 0;
	while (have < want) {
		ssize_t r = read(p[0], got + have, want - have);
		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_int_equal(got[0], 'P');
	/* Crash: persisted, and (maybe) sent. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(p[0]);

	cons_wal *w;
	uint8_t m[80];
	const uint8_t *out;
	size_t len;
	assert_int_equal(cons_wal_open(&w, path), IOLM_OK);
	assert_int_equal(rec(w, 3, 2, CONS_STEP_PRECOMMIT, 0xbb), IOLM_ECONS_DOUBLESIGN);
	assert_int_equal(rec(w, 3, 2, CONS_STEP_PRECOMMIT, -1), IOLM_ECONS_DOUBLESIGN);
	cons_action a = act(3, 2, CONS_STEP_PRECOMMIT, 0xaa, m, sizeof m);
	m[7] = 0x01; /* re-signed: different bytes; the stored ones come back */
	assert_int_equal(cons_wal_record(w, &a, &out, &len), IOLM_OK);
	assert_int_equal(len, 80);
	assert_int_equal(out[7], 0xaa);
	if (send)
		assert_memory_equal(out, got + 1, 80);
	cons_wal_close(w);
}

static void test_wal_crash_between_persist_and_send(void **state)
{
	(void)state;
	crash_test(0);
}

static void test_wal_crash_after_send(void **state)
{
	(void)state;
	crash_test(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wal_refuses_conflict_and_returns_identical,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_survives_reopen_and_rotates_heights,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_cuts_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_reports_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_in_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_crash_between_persist_and_send, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wal_crash_after_send, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
