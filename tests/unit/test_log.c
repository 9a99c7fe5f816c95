#include "test_util.h"

#include <stdio.h>
#include <unistd.h>

#include "core/log.h"

/* Capture what the logger writes through a pipe. */
static size_t capture(char *out, size_t cap, enum iolm_log_level lvl,
		      enum iolm_log_format fmt, void (*emit)(void))
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	iolm_log_configure(lvl, fmt, p[1]);
	emit();
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(p[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(p[0]);
	iolm_log_configure(IOLM_LOG_INFO, IOLM_LOG_TEXT, 2);
	return n;
}

static void emit_three(void)
{
	IOLM_INFO("ledger", "applied block %d", 12);
	IOLM_DEBUG("ledger", "hidden at info");
	IOLM_ERROR("node", "quote \" backslash \\ newline \n tab \t bell \a end");
}

static void text_lines_have_timestamp_level_and_module(void **state)
{
	char out[4096];
	capture(out, sizeof out, IOLM_LOG_INFO, IOLM_LOG_TEXT, emit_three);
	/* 2026-11-24T01:02:03.456Z INFO  [ledger] applied block 12 */
	assert_non_null(strstr(out, "INFO  [ledger] applied block 12\n"));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "ERROR [node] quote"));
	assert_true(out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
}

static void json_lines_are_escaped(void **state)
{
	char out[4096];
	capture(out, sizeof out, IOLM_LOG_DEBUG, IOLM_LOG_JSON, emit_three);
	char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	assert_true(strncmp(l1, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(l1, "\"level\":\"info\",\"module\":\"ledger\","
				   "\"msg\":\"applied block 12\"}\n"));
	assert_non_null(strstr(l2, "\"level\":\"debug\""));
	assert_non_null(strstr(l3, "\"msg\":\"quote \\\" backslash \\\\ newline \\n tab \\t "
				   "bell \\u0007 end\"}\n"));
	/* exactly three lines */
	assert_null(strchr(strchr(l3, '\n') + 1, '\n'));
}

static void emit_big(void)
{
	char big[5000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	IOLM_WARN("x", "%s", big);
}

static void long_messages_are_cut(void **state)
{
	char out[8192];
	capture(out, sizeof out, IOLM_LOG_INFO, IOLM_LOG_TEXT, emit_big);
	assert_non_null(strstr(out, "zzz...\n"));
	assert_true(strlen(out) < IOLM_LOG_MAX + 100);
}

static void parsers(void **state)
{
	enum iolm_log_level l;
	enum iolm_log_format f;
	assert_int_equal(iolm_log_level_parse(&l, "DEBUG"), IOLM_OK);
	assert_int_equal(l, IOLM_LOG_DEBUG);
	assert_int_equal(iolm_log_level_parse(&l, "loud"), IOLM_EINVAL);
	assert_int_equal(iolm_log_format_parse(&f, "json"), IOLM_OK);
	assert_int_equal(f, IOLM_LOG_JSON);
	assert_int_equal(iolm_log_format_parse(&f, "xml"), IOLM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_lines_have_timestamp_level_and_module),
		cmocka_unit_test(json_lines_are_escaped),
		cmocka_unit_test(long_messages_are_cut),
		cmocka_unit_test(parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
