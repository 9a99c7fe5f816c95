/* iolm_httpc_get_file resuming a download (Range: bytes=N-) against a small server of
 * the test's own on a raw socket, which can cut a body short, ignore ranges, answer a
 * wrong range or an error; and iolm_http_range_start, the servers' reading of a Range
 * header. */
#include "test_util.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/httpc.h"

#define SIZE 300000u
#define CUT 123457u

static struct {
	uint8_t data[SIZE];
	int listener;
	uint16_t port;
	pthread_t thread;
	char last_range[64];     /* the Range header of the last request, "" for none */
	char dir[64], dest[128], part[160];
} S;

static void send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* One request on fd, answered as its path says, then the connection closed. */
static void serve_one(int fd)
{
	char req[4096] = "", head[256], path[64] = "";
	size_t n = 0;
	while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
	}
	sscanf(req, "GET %63s", path);
	const char *rh = strstr(req, "\r\nRange: ");
	S.last_range[0] = '\0';
	if (rh)
		sscanf(rh + 9, "%63[^\r]", S.last_range);
	uint64_t from = 0;
	int ranged = strcmp(path, "/norange") ? iolm_http_range_start(rh ? S.last_range : NULL,
								       SIZE, &from)
					      : 0;
	if (!strcmp(path, "/missing")) {
		snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n"
					    "Connection: close\r\n\r\nno\n");
		send_all(fd, head, strlen(head));
		return;
	}
	if (ranged < 0) {
		snprintf(head, sizeof head, "HTTP/1.1 416 Range Not Satisfiable\r\n"
					    "Content-Range: bytes */%u\r\nContent-Length: 0\r\n"
					    "Connection: close\r\n\r\n", SIZE);
		send_all(fd, head, strlen(head));
		return;
	}
	uint64_t start = !strcmp(path, "/wrongrange") && ranged ? from + 1 : from;
	if (ranged)
		snprintf(head, sizeof head, "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\n"
					    "Content-Range: bytes %llu-%u/%u\r\nConnection: close\r\n\r\n",
			 (unsigned long long)(SIZE - from), (unsigned long long)start, SIZE - 1, SIZE);
	else
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n"
					    "Connection: close\r\n\r\n", SIZE);
	send_all(fd, head, strlen(head));
	/* /cut: the body stops at byte CUT of the file, then the connection closes */
	uint64_t end = !strcmp(path, "/cut") && from < CUT ? CUT : SIZE;
	send_all(fd, S.data + from, (size_t)(end - from));
}

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(S.listener, NULL, NULL);
		if (fd < 0)
			return NULL;
		serve_one(fd);
		shutdown(fd, SHUT_RDWR);
		close(fd);
	}
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	(void)state;
	for (size_t i = 0; i < SIZE; i++)
		S.data[i] = (uint8_t)(i * 2654435761u >> 13);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	S.listener = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(S.listener >= 0);
	assert_int_equal(bind(S.listener, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(S.listener, 8), 0);
	assert_int_equal(getsockname(S.listener, (struct sockaddr *)&a, &al), 0);
	S.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&S.thread, NULL, server, NULL), 0);
	snprintf(S.dir, sizeof S.dir, "/tmp/iolm-httpc-XXXXXX");
	assert_non_null(mkdtemp(S.dir));
	snprintf(S.dest, sizeof S.dest, "%s/file.bin", S.dir);
	snprintf(S.part, sizeof S.part, "%s.part", S.dest);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	shutdown(S.listener, SHUT_RDWR);
	close(S.listener);
	pthread_join(S.thread, NULL);
	unlink(S.part);
	unlink(S.dest);
	rmdir(S.dir);
	return 0;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void assert_dest_is_data(void)
{
	uint8_t *got = malloc(SIZE + 1);
	FILE *f = fopen(S.dest, "rb");
	assert_non_null(got);
	assert_non_null(f);
	assert_int_equal(fread(got, 1, SIZE + 1, f), SIZE);
	fclose(f);
	assert_memory_equal(got, S.data, SIZE);
	free(got);
	assert_int_equal(file_size(S.part), -1);
	unlink(S.dest);
}

static void write_part(size_t n, uint8_t fill)
{
	FILE *f = fopen(S.part, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc(fill ? fill : S.data[i], f);
	assert_int_equal(fclose(f), 0);
}

static int get(const char *path, uint64_t cap, int *status)
{
	iolm_httpc *c;
	assert_int_equal(iolm_httpc_create(&c, "127.0.0.1", S.port), IOLM_OK);
	int err = iolm_httpc_get_file(c, path, NULL, S.dest, cap, status, NULL, 5000);
	iolm_httpc_destroy(c);
	return err;
}

static void test_cut_download_resumes_from_its_piece(void **state)
{
	int status;
	(void)state;
	assert_int_equal(get("/cut", SIZE, &status), IOLM_EIO);
	assert_int_equal(file_size(S.dest), -1);
	assert_int_equal(file_size(S.part), CUT);
	assert_int_equal(get("/file", SIZE, &status), IOLM_OK);
	assert_int_equal(status, 200);
	assert_string_equal(S.last_range, "bytes=123457-");
	assert_dest_is_data();
	/* no piece: no Range */
	assert_int_equal(get("/file", SIZE, &status), IOLM_OK);
	assert_string_equal(S.last_range, "");
	assert_dest_is_data();
}

static void test_server_without_ranges_or_with_a_wrong_one(void **state)
{
	int status;
	(void)state;
	/* a server that ignores the range answers 200: the piece (garbage here) is dropped */
	write_part(1000, 0xee);
	assert_int_equal(get("/norange", SIZE, &status), IOLM_OK);
	assert_string_equal(S.last_range, "bytes=1000-");
	assert_dest_is_data();
	/* a 206 that does not continue the piece: refused, the piece removed */
	write_part(1000, 0);
	assert_int_equal(get("/wrongrange", SIZE, &status), IOLM_EIO);
	assert_int_equal(file_size(S.part), -1);
	assert_int_equal(file_size(S.dest), -1);
	/* a piece as long as the file: 416, then the whole once more */
	write_part(SIZE, 0);
	assert_int_equal(get("/file", SIZE, &status), IOLM_OK);
	assert_string_equal(S.last_range, "");
	assert_dest_is_data();
}

static void test_error_answer_keeps_the_piece_and_cap_drops_it(void **state)
{
	int status;
	(void)state;
	write_part(5000, 0);
	assert_int_equal(get("/missing", SIZE, &status), IOLM_OK);
	assert_int_equal(status, 404);
	assert_int_equal(file_size(S.part), 5000);
	assert_int_equal(file_size(S.dest), -1);
	/* the rest would pass the cap: cut off, nothing kept */
	assert_int_equal(get("/file", SIZE - 1, &status), IOLM_ETOOBIG);
	assert_int_equal(file_size(S.part), -1);
	assert_int_equal(file_size(S.dest), -1);
	/* a piece longer than the cap is not resumed */
	write_part(200, 0);
	assert_int_equal(get("/file", 100, &status), IOLM_ETOOBIG);
	assert_string_equal(S.last_range, "");
	assert_int_equal(file_size(S.part), -1);
}

static void test_range_header_reading(void **state)
{
	uint64_t s = 77;
	(void)state;
	assert_int_equal(iolm_http_range_start(NULL, 10, &s), 0);
	assert_int_equal(iolm_http_range_start("bytes=0-", 10, &s), 1);
	assert_int_equal(s, 0);
	assert_int_equal(iolm_http_range_start("bytes=5-", 10, &s), 1);
	assert_int_equal(s, 5);
	assert_int_equal(iolm_http_range_start("bytes=6-9", 10, &s), 1);
	assert_int_equal(s, 6);
	assert_int_equal(iolm_http_range_start("bytes=6-400", 10, &s), 1);
	assert_int_equal(iolm_http_range_start("bytes=10-", 10, &s), -1);
	assert_int_equal(iolm_http_range_start("bytes=0-", 0, &s), -1);
	s = 77;
	static const char *ignored[] = { "bytes=5-8", "bytes=-5", "bytes=1-2,4-", "items=1-",
					 "bytes=", "bytes=x-", "bytes=5", "bytes=5-x",
					 "bytes=99999999999999999999999-", "bytes=7-3" };
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		assert_int_equal(iolm_http_range_start(ignored[i], 10, &s), 0);
	assert_int_equal(s, 77);
}

static void test_endpoint_urls(void **state)
{
	char host[16];
	uint16_t port = 0;
	(void)state;
	assert_int_equal(iolm_httpc_parse_url(host, sizeof host, &port, "http://127.0.0.1:27000"),
			 IOLM_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 27000);
	assert_int_equal(iolm_httpc_parse_url(host, sizeof host, &port, "http://miner.lan:1/"),
			 IOLM_OK);
	assert_string_equal(host, "miner.lan");
	assert_int_equal(port, 1);
	assert_int_equal(iolm_httpc_parse_url(host, sizeof host, &port, "http://[::1]:65535"),
			 IOLM_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	static const char *bad[] = {
		"", "http://", "https://a:80", "HTTP://a:80", "a:80", "http://a", "http://:80",
		"http://a:", "http://a:0", "http://a:65536", "http://a:80x", "http://a: 80",
		"http://a:+80", "http://a:-1", "http://a:80/claim", "http://a:80//",
		"http://[::1]", "http://[]:80", "http://[::1:80", "http://a]:80",
		"http://a-very-long-host-name:80", /* longer than host[16] */
		"http://a:99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(iolm_httpc_parse_url(host, sizeof host, &port, bad[i]),
				 IOLM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_download_resumes_from_its_piece),
		cmocka_unit_test(test_server_without_ranges_or_with_a_wrong_one),
		cmocka_unit_test(test_error_answer_keeps_the_piece_and_cap_drops_it),
		cmocka_unit_test(test_range_header_reading),
		cmocka_unit_test(test_endpoint_urls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
