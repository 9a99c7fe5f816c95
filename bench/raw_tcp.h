/* The limit of the artifact transfer benchmarks: raw TCP loopback throughput, bytes
 * through one socket in 1 MiB writes from one thread, read in 1 MiB reads by another and
 * dropped (bench/raw_tcp.c). */
#ifndef IOLM_BENCH_RAW_TCP_H
#define IOLM_BENCH_RAW_TCP_H

#include <stdint.h>

/* A connected pair of loopback TCP sockets (TCP_NODELAY); exits on failure. */
void bench_tcp_pair(int fds[2]);

/* GiB/s of `bytes` through a fresh loopback connection; exits on failure. */
double bench_raw_tcp_gib_per_s(uint64_t bytes);

#endif
