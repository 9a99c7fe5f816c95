/* bench_art_net: one artifact fetched between two iolmd nodes on loopback, over their
 * encrypted P2P link, measured from outside through the RPC.
 *
 *   transfer_nodes_gib_per_s  an artifact of N MiB of random bytes (1024; 64 with --quick;
 *                             --mib N) added to node0's store with `iolmd art add`, then
 *                             fetched by node1 (POST /artifact/fetch/{id}), timed from
 *                             that request until GET /artifact/{id} on node1 says "done"
 *                             (polled every 10 ms): every chunk encrypted and decrypted
 *                             on the P2P link (ChaCha20-Poly1305), hashed and stored on
 *                             node1's verifier threads; limit: raw_tcp_gib_per_s, the same
 *                             bytes through one loopback socket in 1 MiB writes (as in
 *                             bench_artifacts). bench_artifacts' transfer_gib_per_s is the
 *                             transfer engine alone over a bench-only framing.
 *   transfer_nodes_cpu_s_per_gib  CPU seconds (user + system) both nodes spent over that
 *                             fetch, per GiB: what the transfer costs, which on a machine
 *                             with fewer cores than busy threads decides its speed and
 *                             is steadier than the wall-clock figure on a shared one;
 *                             limit: raw_tcp_cpu_s_per_gib, the CPU seconds per GiB the
 *                             raw TCP measurement took (its sender and reader threads).
 *
 * The two nodes are validators 0 and 1 of a 4-validator devnet (bench/devnet_util.h);
 * the other two are not started, so no blocks are made and the nodes do nothing but the
 * transfer. Usage: bench_art_net [--quick] [--dir DIR] [--mib N] [--iolmd PATH] [--keep]
 * Progress goes to stderr, the figures to stdout. The nodes' stores sync their writes:
 * with DIR on a disk slower than the nodes, the figure is the disk's (the progress lines
 * then show every job slot holding a chunk being stored and no request out); DIR on
 * tmpfs (/dev/shm) measures the nodes alone. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "devnet_util.h"
#include "raw_tcp.h"
#include "core/httpc.h"

#ifndef IOLM_IOLMD_PATH
#define IOLM_IOLMD_PATH "iolmd"
#endif

#define die devnet_die
#define progress devnet_progress
#define HTTP_TIMEOUT_MS 10000
#define ID_HEX 68                /* an artifact id in hex (multihash prefix and 32 bytes) */

static devnet D;

/* The JSON answer to method path on node n (with its token for POST); NULL unless 200.
 * The caller decrefs it. */
static json_t *call(iolm_httpc *c, const char *method, const char *path, const char *token)
{
	iolm_buf out;
	json_t *j = NULL;
	int status = 0;
	iolm_buf_init(&out, 1u << 20);
	if (iolm_httpc_request(c, method, path, token, NULL, 0, &status, &out,
			       HTTP_TIMEOUT_MS) == IOLM_OK &&
	    status == 200)
		j = json_loadb((const char *)out.data, out.len, 0, NULL);
	iolm_buf_release(&out, 0);
	return j;
}

static int64_t json_int(json_t *j, const char *key)
{
	json_t *v = j ? json_object_get(j, key) : NULL;
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* N MiB of random bytes at path. */
static void write_random(const char *path, uint64_t mib)
{
	FILE *f = fopen(path, "wb");
	uint64_t s = 0x9e3779b97f4a7c15ull;
	uint64_t *buf = malloc(1u << 20);
	if (!f || !buf)
		die("cannot write %s", path);
	for (uint64_t m = 0; m < mib; m++) {
		for (size_t i = 0; i < (1u << 20) / 8; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[i] = s;
		}
		if (fwrite(buf, 1, 1u << 20, f) != 1u << 20)
			die("cannot write %s", path);
	}
	if (fclose(f))
		die("cannot write %s", path);
	free(buf);
}

/* CPU seconds (user + system) process pid has used so far, from /proc/pid/stat. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	/* Fields after the command name, which is in parentheses and may hold spaces:
	 * state is field 3, utime and stime are fields 14 and 15. */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		die("cannot read %s", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage failed");
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* `iolmd art add -d node0 path`: the artifact's id (its last line of output, 68 hex
 * characters) into id. */
static void art_add(const char *path, char id[ID_HEX + 1])
{
	char log[DEVNET_PATH + 64], kind[] = "--kind", model[] = "model", add[] = "add",
					 art[] = "art", d[] = "-d";
	char *argv[] = { (char *)D.iolmd, art, add, d, D.nodes[0].dir, (char *)path, kind, model,
			 NULL };
	snprintf(log, sizeof log, "%s/art-add.log", D.dir);
	pid_t pid = devnet_spawn(&D, log, D.iolmd, argv);
	int st = devnet_wait(&D, pid, 600);
	FILE *f = fopen(log, "r");
	char line[256];
	id[0] = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%68[0-9a-f]", id) != 1 || strlen(id) != ID_HEX)
			id[0] = 0;
	if (f)
		fclose(f);
	if (st != 0 || strlen(id) != ID_HEX)
		die("iolmd art add failed (see %s)", log);
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv), keep = 0;
	const char *dir = "/tmp", *iolmd = IOLM_IOLMD_PATH;
	uint64_t mib = 0;
	char file[DEVNET_PATH + 64], id[ID_HEX + 1], path[200];
	iolm_httpc *c0, *c1;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--iolmd") == 0 && i + 1 < argc)
			iolmd = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
	}
	if (mib == 0 || mib > 65536)
		mib = quick ? 64 : 1024;
	uint64_t bytes = mib << 20;
	if (iolm_crypto_init())
		return 1;
	devnet_init(&D, "bench_art_net", iolmd, keep);

	double raw_cpu0 = self_cpu_s();
	double raw = bench_raw_tcp_gib_per_s(bytes);
	double raw_cpu = (self_cpu_s() - raw_cpu0) / ((double)bytes / (1u << 30));
	devnet_create(&D, dir, "iolm-bench-art", "{}", NULL, 0, 0, 0);
	snprintf(file, sizeof file, "%s/artifact.bin", D.dir);
	write_random(file, mib);
	art_add(file, id);
	if (unlink(file))
		die("cannot remove %s", file);
	progress("artifact %.16s: %llu MiB in node0's store", id, (unsigned long long)mib);

	for (int i = 0; i < 2; i++)
		devnet_start(&D, &D.nodes[i]);
	if ((rc = iolm_httpc_create(&c0, "127.0.0.1", D.nodes[0].rpc_port)) ||
	    (rc = iolm_httpc_create(&c1, "127.0.0.1", D.nodes[1].rpc_port)))
		die("RPC client: %s", iolm_strerror(rc));
	/* Up and connected to each other. */
	double deadline = bench_now() + 60.0;
	for (;;) {
		json_t *s0 = call(c0, "GET", "/status", NULL), *s1 = call(c1, "GET", "/status", NULL);
		int up = json_int(s0, "peers") >= 1 && json_int(s1, "peers") >= 1;
		json_decref(s0);
		json_decref(s1);
		if (up)
			break;
		if (bench_now() > deadline)
			die("timed out waiting for node0 and node1 to connect");
		devnet_check_nodes(&D, "the nodes to connect");
		devnet_sleep(0.05);
	}
	devnet_read_token(&D.nodes[1]);

	snprintf(path, sizeof path, "/artifact/fetch/%s", id);
	double cpu0 = proc_cpu_s(D.nodes[0].pid) + proc_cpu_s(D.nodes[1].pid);
	double t0 = bench_now();
	json_t *j = call(c1, "POST", path, D.nodes[1].token);
	if (!j)
		die("POST %s refused", path);
	json_decref(j);
	snprintf(path, sizeof path, "/artifact/%s", id);
	double next = t0 + 1.0;
	for (;;) {
		j = call(c1, "GET", path, NULL);
		const char *state = json_string_value(j ? json_object_get(j, "state") : NULL);
		if (state && strcmp(state, "failed") == 0)
			die("the fetch failed");
		int done = state && strcmp(state, "done") == 0;
		int64_t got = json_int(j, "bytes_done"), fl = json_int(j, "in_flight"),
			ver = json_int(j, "verifying");
		json_decref(j);
		if (done)
			break;
		if (bench_now() >= next) {
			progress("  %.1f s: %lld of %llu MiB (%lld requests out, %lld chunks "
				 "verifying)",
				 bench_now() - t0, (long long)(got >> 20), (unsigned long long)mib,
				 (long long)fl, (long long)ver);
			next += 1.0;
		}
		if (bench_now() > t0 + 600.0)
			die("the fetch did not finish in 10 minutes");
		devnet_check_nodes(&D, "the transfer");
		devnet_check_interrupt();
		devnet_sleep(0.01);
	}
	double secs = bench_now() - t0;
	double cpu = proc_cpu_s(D.nodes[0].pid) + proc_cpu_s(D.nodes[1].pid) - cpu0;
	progress("node1 fetched %llu MiB in %.2f s", (unsigned long long)mib, secs);
	bench_figure("transfer_nodes_gib_per_s", (double)bytes / secs / (1u << 30), "GiB/s",
		     "raw_tcp_gib_per_s", raw);
	bench_figure("transfer_nodes_cpu_s_per_gib", cpu / ((double)bytes / (1u << 30)), "s/GiB",
		     "raw_tcp_cpu_s_per_gib", raw_cpu);
	iolm_httpc_destroy(c0);
	iolm_httpc_destroy(c1);
	return 0;
}
