/* Raw TCP loopback throughput for the benchmarks' limits (raw_tcp.h). */
#include "raw_tcp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define RAW_IO (1u << 20)

void bench_tcp_pair(int fds[2])
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		exit(1);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a))
		exit(1);
	if ((fds[1] = accept(l, NULL, NULL)) < 0)
		exit(1);
	close(l);
	for (int i = 0; i < 2; i++)
		if (setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
			exit(1);
}

struct raw_arg {
	int fd;
	uint64_t bytes;
};

static void *raw_writer(void *arg)
{
	struct raw_arg *r = arg;
	uint8_t *buf = malloc(RAW_IO);
	if (!buf)
		exit(1);
	for (size_t i = 0; i < RAW_IO; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 24);
	for (uint64_t left = r->bytes; left;) {
		size_t n = left < RAW_IO ? (size_t)left : RAW_IO;
		ssize_t w = send(r->fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			exit(1);
		left -= (uint64_t)w;
	}
	free(buf);
	return NULL;
}

double bench_raw_tcp_gib_per_s(uint64_t bytes)
{
	int fds[2];
	pthread_t t;
	struct raw_arg ra;
	uint8_t *buf = malloc(RAW_IO);
	if (!buf)
		exit(1);
	bench_tcp_pair(fds);
	ra.fd = fds[1];
	ra.bytes = bytes;
	double t0 = bench_now();
	if (pthread_create(&t, NULL, raw_writer, &ra))
		exit(1);
	for (uint64_t got = 0; got < bytes;) {
		ssize_t r = recv(fds[0], buf, RAW_IO, 0);
		if (r <= 0)
			exit(1);
		got += (uint64_t)r;
	}
	double secs = bench_now() - t0;
	pthread_join(t, NULL);
	close(fds[0]);
	close(fds[1]);
	free(buf);
	return (double)bytes / secs / (1u << 30);
}
