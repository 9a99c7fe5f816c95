/* devnet_util: the 4-validator loopback devnet of the network benchmarks (see the
 * header). */
#include "devnet_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/httpc.h"
#include "core/key.h"
#include "node/node.h"

#define LOG_TAIL_LINES 15

static devnet *the_devnet; /* for the atexit clean-up and the messages */
static volatile sig_atomic_t interrupted;

/* ---------------------------------------------------------------- messages, exit */

static const char *prog(void)
{
	return the_devnet && the_devnet->prog ? the_devnet->prog : "bench";
}

void devnet_progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

void devnet_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (the_devnet)
		the_devnet->failed = 1;
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

void devnet_check_interrupt(void)
{
	if (interrupted) {
		devnet_progress("interrupted");
		exit(130); /* the clean-up runs */
	}
}

static void print_log_tails(const devnet *d)
{
	for (int i = 0; i < DEVNET_NV && d->dir[0]; i++) {
		char path[DEVNET_PATH + 32], line[1024], ring[LOG_TAIL_LINES][1024];
		int n = 0;
		snprintf(path, sizeof path, "%s/node%d.log", d->dir, i);
		FILE *fp = fopen(path, "r");
		if (!fp)
			continue;
		while (fgets(line, sizeof line, fp))
			snprintf(ring[n++ % LOG_TAIL_LINES], sizeof ring[0], "%s", line);
		fclose(fp);
		fprintf(stderr, "----- node%d log (last lines) -----\n", i);
		for (int k = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; k < n; k++)
			fputs(ring[k % LOG_TAIL_LINES], stderr);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* atexit: every child killed and reaped, the folder removed (unless kept). */
static void cleanup(void)
{
	devnet *d = the_devnet;
	if (!d)
		return;
	for (int i = 0; i < DEVNET_MAX_EXTRA; i++) {
		if (d->extra[i] > 0) {
			kill(d->extra[i], SIGKILL);
			waitpid(d->extra[i], NULL, 0);
			d->extra[i] = 0;
		}
	}
	for (int i = 0; i < DEVNET_NV; i++) {
		if (d->nodes[i].pid > 0) {
			kill(d->nodes[i].pid, SIGKILL);
			waitpid(d->nodes[i].pid, NULL, 0);
			d->nodes[i].pid = 0;
		}
	}
	if (d->failed)
		print_log_tails(d);
	if (d->dir[0] && d->keep) {
		fprintf(stderr, "%s: kept %s\n", prog(), d->dir);
	} else if (d->dir[0]) {
		if (nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
			fprintf(stderr, "%s: could not remove %s\n", prog(), d->dir);
		d->dir[0] = '\0';
	}
}

void devnet_init(devnet *d, const char *prog_name, const char *iolmd, int keep)
{
	struct sigaction sa;
	memset(d, 0, sizeof *d);
	d->prog = prog_name;
	d->iolmd = iolmd;
	d->keep = keep;
	the_devnet = d;
	if (access(iolmd, X_OK) != 0)
		devnet_die("no iolmd at %s (--iolmd PATH)", iolmd);
	atexit(cleanup);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---------------------------------------------------------------- writing the devnet */

/* Bound together (so they differ), then released for the children. */
void devnet_pick_ports(uint16_t *ports, int n)
{
	int fds[16];
	if (n > 16)
		devnet_die("at most 16 ports at once");
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a;
		socklen_t alen = sizeof a;
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &alen) != 0)
			devnet_die("no free loopback port: %s", strerror(errno));
		ports[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

void devnet_write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(data, 1, len, fp) != len) {
		if (fp)
			fclose(fp);
		devnet_die("cannot write %s", path);
	}
	if (fclose(fp))
		devnet_die("cannot write %s", path);
}

/* The genesis: the validators (equal power) and the funded accounts. */
static void write_genesis(devnet *d, const iolm_key *vals, const char *chain,
			  const char *params_json, const uint8_t (*funded)[IOLM_ADDR_LEN],
			  size_t n_funded, uint64_t amount, uint64_t validator_amount)
{
	iolm_buf j;
	char hex[65], path[DEVNET_PATH + 128];
	int bad;
	iolm_buf_init(&j, 64u << 20);
	bad = iolm_buf_printf(&j, "{\"chain_id\": \"%s\", \"genesis_time_ms\": %llu, "
				  "\"params\": %s, \"allocations\": [", chain,
			      (unsigned long long)iolm_clock_wall_ms(), params_json);
	for (size_t i = 0; !bad && i < n_funded; i++) {
		char a[IOLM_ADDR_STRLEN + 1];
		iolm_addr_encode(a, funded[i]);
		bad = iolm_buf_printf(&j, "%s{\"address\": \"%s\", \"amount\": %llu}", i ? "," : "",
				      a, (unsigned long long)amount);
	}
	for (int i = 0; !bad && validator_amount && i < DEVNET_NV; i++) {
		uint8_t id[IOLM_ADDR_LEN];
		char a[IOLM_ADDR_STRLEN + 1];
		iolm_addr_from_pub(id, iolm_key_pub(&vals[i]));
		iolm_addr_encode(a, id);
		bad = iolm_buf_printf(&j, "%s{\"address\": \"%s\", \"amount\": %llu}",
				      n_funded || i ? "," : "", a,
				      (unsigned long long)validator_amount);
	}
	bad = bad || iolm_buf_append_str(&j, "], \"validators\": [");
	for (int i = 0; !bad && i < DEVNET_NV; i++) {
		iolm_hex_encode(hex, sizeof hex, iolm_key_pub(&vals[i]), 32);
		bad = iolm_buf_printf(&j, "%s{\"pubkey\": \"%s\", \"power\": 10, \"name\": \"node%d\"}",
				      i ? "," : "", hex, i);
	}
	bad = bad || iolm_buf_append_str(&j, "]}\n");
	if (bad)
		devnet_die("genesis: %s", iolm_strerror(IOLM_ENOMEM));
	for (int i = 0; i < DEVNET_NV; i++) {
		snprintf(path, sizeof path, "%s/genesis.json", d->nodes[i].dir);
		devnet_write_file(path, j.data, j.len);
	}
	iolm_buf_release(&j, 0);
}

void devnet_write_config(devnet *d, const devnet_node *n, const devnet_timeouts *t)
{
	node_config c;
	int rc;
	node_config_default(&c, n->dir);
	c.p2p_port = n->p2p_port;
	c.rpc_port = n->rpc_port;
	if (t) {
		c.heartbeat_ms = t->heartbeat_ms;
		c.propose_ms = t->propose_ms;
		c.propose_delta_ms = t->propose_delta_ms;
		c.vote_ms = t->vote_ms;
		c.vote_delta_ms = t->vote_delta_ms;
	}
	for (int j = 0; j < DEVNET_NV; j++) {
		char peer[64];
		if (j == n->index)
			continue;
		snprintf(peer, sizeof peer, "127.0.0.1:%u", d->nodes[j].p2p_port);
		if (!(c.peers[c.n_peers++] = strdup(peer)))
			devnet_die("config: %s", iolm_strerror(IOLM_ENOMEM));
	}
	rc = node_config_save(&c);
	node_config_release(&c);
	if (rc)
		devnet_die("%s/node.conf: %s", n->dir, iolm_strerror(rc));
}

void devnet_create(devnet *d, const char *base, const char *chain, const char *params_json,
		   const uint8_t (*funded)[IOLM_ADDR_LEN], size_t n_funded, uint64_t amount,
		   uint64_t validator_amount)
{
	uint16_t ports[2 * DEVNET_NV];
	iolm_key vals[DEVNET_NV];
	char path[DEVNET_PATH + 128];
	int rc;

	snprintf(d->dir, sizeof d->dir, "%s/%s-XXXXXX", base, d->prog);
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		devnet_die("cannot create a folder under %s: %s", base, strerror(errno));
	}
	devnet_pick_ports(ports, 2 * DEVNET_NV);
	for (int i = 0; i < DEVNET_NV; i++) {
		devnet_node *n = &d->nodes[i];
		n->index = i;
		n->p2p_port = ports[2 * i];
		n->rpc_port = ports[2 * i + 1];
		snprintf(n->dir, sizeof n->dir, "%s/node%d", d->dir, i);
		if (mkdir(n->dir, 0700) != 0)
			devnet_die("%s: %s", n->dir, strerror(errno));
		snprintf(path, sizeof path, "%s/node.key", n->dir);
		if ((rc = iolm_key_generate(&vals[i])) || (rc = iolm_key_save(&vals[i], path, 0)))
			devnet_die("%s: %s", path, iolm_strerror(rc));
	}
	for (int i = 0; i < DEVNET_NV; i++)
		devnet_write_config(d, &d->nodes[i], NULL);
	write_genesis(d, vals, chain, params_json, funded, n_funded, amount, validator_amount);
	for (int i = 0; i < DEVNET_NV; i++)
		iolm_key_wipe(&vals[i]);
}

/* ---------------------------------------------------------------- processes */

static pid_t spawn(const char *logpath, const char *path, char *const argv[])
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		devnet_die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child must not outlive the benchmark, even one killed with SIGKILL. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		for (int k = 3; k < 4096; k++)
			close(k); /* the benchmark's sockets must not stay open in the child */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

void devnet_start(devnet *d, devnet_node *n)
{
	char logpath[DEVNET_PATH + 32];
	char *argv[] = { "iolmd", "start", "-d", n->dir, NULL };
	snprintf(logpath, sizeof logpath, "%s/node%d.log", d->dir, n->index);
	n->pid = spawn(logpath, d->iolmd, argv);
	n->token[0] = '\0';
}

pid_t devnet_spawn(devnet *d, const char *logpath, const char *path, char *const argv[])
{
	int slot = -1;
	for (int i = 0; i < DEVNET_MAX_EXTRA && slot < 0; i++)
		if (d->extra[i] <= 0)
			slot = i;
	if (slot < 0)
		devnet_die("more than %d extra children", DEVNET_MAX_EXTRA);
	d->extra[slot] = spawn(logpath, path, argv);
	return d->extra[slot];
}

void devnet_read_token(devnet_node *n)
{
	char path[DEVNET_PATH + 128];
	snprintf(path, sizeof path, "%s/rpc.cookie", n->dir);
	int err = iolm_httpc_read_cookie(n->token, path);
	if (err)
		devnet_die("%s: %s", path, iolm_strerror(err));
}

void devnet_sleep(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		devnet_check_interrupt();
}

/* SIGTERM, up to timeout_s, then SIGKILL; the wait status (resource usage into ru). */
static int terminate(pid_t pid, double timeout_s, struct rusage *ru, int *killed)
{
	struct rusage r;
	int st = 0;
	double end = (double)iolm_clock_mono_ns() / 1e9 + timeout_s;
	*killed = 0;
	kill(pid, SIGTERM);
	while (wait4(pid, &st, WNOHANG, &r) == 0) {
		if ((double)iolm_clock_mono_ns() / 1e9 > end) {
			*killed = 1;
			kill(pid, SIGKILL);
			wait4(pid, &st, 0, &r);
			break;
		}
		devnet_sleep(0.01);
	}
	if (ru)
		*ru = r;
	return st;
}

void devnet_stop(devnet *d, devnet_node *n, double timeout_s)
{
	int killed;
	(void)d;
	if (n->pid <= 0)
		return;
	int st = terminate(n->pid, timeout_s, NULL, &killed);
	if (killed)
		devnet_progress("node%d did not stop within %.0f s of SIGTERM; killed it", n->index,
				timeout_s);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		devnet_progress("node%d stopped with status %d", n->index, st);
	n->pid = 0;
}

static void forget(devnet *d, pid_t pid)
{
	for (int i = 0; i < DEVNET_MAX_EXTRA; i++)
		if (d->extra[i] == pid)
			d->extra[i] = 0;
}

int devnet_reap(devnet *d, pid_t pid, double timeout_s, struct rusage *ru)
{
	int killed;
	int st = terminate(pid, timeout_s, ru, &killed);
	forget(d, pid);
	if (killed)
		devnet_progress("pid %d did not stop within %.0f s of SIGTERM; killed it", (int)pid,
				timeout_s);
	return st;
}

int devnet_wait(devnet *d, pid_t pid, double timeout_s)
{
	int st = 0;
	double end = (double)iolm_clock_mono_ns() / 1e9 + timeout_s;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if ((double)iolm_clock_mono_ns() / 1e9 > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			st = -1;
			break;
		}
		devnet_check_interrupt();
		devnet_sleep(0.01);
	}
	forget(d, pid);
	return st;
}

void devnet_check_nodes(devnet *d, const char *what)
{
	for (int i = 0; i < DEVNET_NV; i++) {
		int st;
		if (d->nodes[i].pid > 0 && waitpid(d->nodes[i].pid, &st, WNOHANG) == d->nodes[i].pid) {
			d->nodes[i].pid = 0;
			devnet_die("node%d exited (status %d) while waiting for %s", i, st, what);
		}
	}
}
