/* The miner's HTTP server (docs/compute.md "Mining on chain"): validators fetch
 *
 *   GET /claim/{work-hex}          the run's claim.bin (the encoded WorkClaim)
 *   GET /ckpt/{work-hex}/{step}    the run's ckpt-%08llu.bin at that global step
 *
 * and nothing else: 404 for an unknown path, work or step, 405 for another method.
 * Paths on disk are never built from request text: the work id (exactly 64 hex digits)
 * is looked up in the table of works this process committed, which maps it to the
 * directory of its run, and the step (decimal, at most 20 digits, no overflow) names
 * the file through compute_checkpoint_name. Files are sent with evbuffer_add_file
 * (sendfile where the system has it) after checking that they are regular files under
 * their caps (COMPUTE_CLAIM_MAX_BYTES, COMPUTE_CKPT_MAX). "Range: bytes=N-" is answered
 * 206 from N (a download resuming; iolm_http_range_start), 416 past the end.
 *
 * The server runs on its own thread and event base so that it keeps answering while the
 * main thread trains the next round or waits on the node; the table is shared under a
 * mutex, and a 100 ms timer on the server's base notices the stop request. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/hex.h"
#include "core/httpc.h"
#include "node/miner_int.h"

#define SERVE_MAX_WORKS 4096u
#define SERVE_MAX_HEADERS 8192
#define SERVE_TIMEOUT_S 60

struct served {
	uint8_t work[32];
	char *dir; /* owned */
};

struct miner_server {
	struct event_base *base;
	struct evhttp *http;
	struct event *tick;
	pthread_t thread;
	int running;
	atomic_int stop;
	pthread_mutex_t mu; /* guards works, n and the counters */
	struct served *works;
	size_t n, cap;
	uint64_t served, refused;
};

/* The run directory of work (a copy into dir, cap bytes); 0 when unknown. */
static int lookup(miner_server *s, char *dir, size_t cap, const uint8_t work[static 32])
{
	int found = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n && !found; i++) {
		if (memcmp(s->works[i].work, work, 32) == 0) {
			found = strlen(s->works[i].dir) < cap;
			if (found)
				memcpy(dir, s->works[i].dir, strlen(s->works[i].dir) + 1);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static void count(miner_server *s, int ok)
{
	pthread_mutex_lock(&s->mu);
	if (ok)
		s->served++;
	else
		s->refused++;
	pthread_mutex_unlock(&s->mu);
}

/* Exactly 64 hex digits at p, followed by the end or '/'; *rest past them. */
static int parse_work(uint8_t work[static 32], const char *p, const char **rest)
{
	size_t n = strcspn(p, "/"), got = 0;
	if (n != 64 || iolm_hex_decode(work, 32, &got, p, 64) != IOLM_OK || got != 32)
		return IOLM_EINVAL;
	*rest = p + 64;
	return IOLM_OK;
}

/* A decimal u64 of 1..20 digits making up all of p. */
static int parse_step(uint64_t *step, const char *p)
{
	size_t n = strspn(p, "0123456789");
	if (n == 0 || n > 20 || p[n] != '\0')
		return IOLM_EINVAL;
	return miner_parse_u64(step, p);
}

/* Map a request path to a file path; IOLM_ENOTFOUND for anything not served. */
static int resolve(miner_server *s, char *file, size_t cap, uint64_t *max, const char *path)
{
	uint8_t work[32];
	uint64_t step;
	char dir[MINER_PATH_MAX];
	const char *rest;
	int n;

	if (strncmp(path, "/claim/", 7) == 0) {
		if (parse_work(work, path + 7, &rest) || *rest != '\0' ||
		    !lookup(s, dir, sizeof dir, work))
			return IOLM_ENOTFOUND;
		n = snprintf(file, cap, "%s/%s", dir, COMPUTE_MINER_CLAIM_FILE);
		*max = COMPUTE_CLAIM_MAX_BYTES;
		return n < 0 || (size_t)n >= cap ? IOLM_ENOTFOUND : IOLM_OK;
	}
	if (strncmp(path, "/ckpt/", 6) == 0) {
		if (parse_work(work, path + 6, &rest) || *rest != '/' ||
		    parse_step(&step, rest + 1) || !lookup(s, dir, sizeof dir, work))
			return IOLM_ENOTFOUND;
		*max = COMPUTE_CKPT_MAX;
		return compute_checkpoint_name(file, cap, dir, step) ? IOLM_ENOTFOUND : IOLM_OK;
	}
	return IOLM_ENOTFOUND;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason)
{
	struct evbuffer *b = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	if (b)
		evbuffer_add_printf(b, "%s\n", reason);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	miner_server *s = arg;
	char file[MINER_PATH_MAX];
	uint64_t max = 0;
	struct stat sb;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed");
		count(s, 0);
		return;
	}
	if (!path || resolve(s, file, sizeof file, &max, path)) {
		reply_text(req, HTTP_NOTFOUND, "Not Found");
		count(s, 0);
		return;
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
		if (fd >= 0)
			close(fd);
		reply_text(req, HTTP_NOTFOUND, "Not Found");
		count(s, 0);
		return;
	}
	/* Range: bytes=N- (a download resuming) */
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	uint64_t from = 0, size = (uint64_t)sb.st_size;
	int ranged = iolm_http_range_start(
		evhttp_find_header(evhttp_request_get_input_headers(req), "Range"), size, &from);
	char cr[80];
	if (ranged < 0) {
		close(fd);
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
		evhttp_add_header(oh, "Content-Range", cr);
		reply_text(req, 416, "Range Not Satisfiable");
		count(s, 0);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	/* evbuffer_add_file owns fd once it succeeds; when it fails (allocation) libevent
	 * may already have closed it, so the fd is not touched again: a leak beats a
	 * double close */
	if (!b || evbuffer_add_file(b, fd, (ev_off_t)from, (ev_off_t)(size - from)) != 0) {
		if (!b)
			close(fd);
		else
			evbuffer_free(b);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error");
		count(s, 0);
		return;
	}
	evhttp_add_header(oh, "Content-Type", "application/octet-stream");
	evhttp_add_header(oh, "Accept-Ranges", "bytes");
	if (ranged) {
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from,
			 (unsigned long long)size - 1, (unsigned long long)size);
		evhttp_add_header(oh, "Content-Range", cr);
	}
	evhttp_send_reply(req, ranged ? 206 : HTTP_OK, ranged ? "Partial Content" : "OK", b);
	evbuffer_free(b);
	count(s, 1);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	miner_server *s = arg;
	(void)fd;
	(void)what;
	if (atomic_load(&s->stop))
		event_base_loopbreak(s->base);
}

static void *serve_thread(void *arg)
{
	miner_server *s = arg;
	event_base_dispatch(s->base);
	return NULL;
}

static void server_free(miner_server *s)
{
	if (s->tick)
		event_free(s->tick);
	if (s->http)
		evhttp_free(s->http);
	if (s->base)
		event_base_free(s->base);
	for (size_t i = 0; i < s->n; i++)
		free(s->works[i].dir);
	free(s->works);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int miner_server_start(miner_server **out, const char *host, uint16_t port)
{
	struct timeval tv = { 0, 100 * 1000 };
	miner_server *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return IOLM_ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->stop, 0);
	if (!(s->base = event_base_new()) || !(s->http = evhttp_new(s->base)) ||
	    !(s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s))) {
		server_free(s);
		return IOLM_ENOMEM;
	}
	evhttp_set_max_headers_size(s->http, SERVE_MAX_HEADERS);
	evhttp_set_max_body_size(s->http, 1024);
	evhttp_set_timeout(s->http, SERVE_TIMEOUT_S);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(s->http, on_request, s);
	if (evhttp_bind_socket(s->http, host, port) != 0) {
		fprintf(stderr, "iolm-miner: cannot listen on %s:%u: %s\n", host, port,
			strerror(errno));
		server_free(s);
		return IOLM_EIO;
	}
	event_add(s->tick, &tv);
	/* signals (Ctrl-C) go to the main thread, which owns the shutdown */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&s->thread, NULL, serve_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		server_free(s);
		return IOLM_ENOMEM;
	}
	s->running = 1;
	*out = s;
	return IOLM_OK;
}

void miner_server_remove(miner_server *s, const uint8_t work[static 32])
{
	char *dir = NULL;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (memcmp(s->works[i].work, work, 32) == 0) {
			dir = s->works[i].dir;
			s->works[i] = s->works[--s->n];
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	free(dir);
}

int miner_server_add(miner_server *s, const uint8_t work[static 32], const char *dir)
{
	int err = IOLM_OK;
	char *copy = strdup(dir);
	if (!copy)
		return IOLM_ENOMEM;
	pthread_mutex_lock(&s->mu);
	if (s->n == SERVE_MAX_WORKS) {
		err = IOLM_ETOOBIG;
	} else if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct served *w = realloc(s->works, cap * sizeof *w);
		if (!w)
			err = IOLM_ENOMEM;
		else {
			s->works = w;
			s->cap = cap;
		}
	}
	if (!err) {
		memcpy(s->works[s->n].work, work, 32);
		s->works[s->n].dir = copy;
		s->n++;
		copy = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	free(copy);
	return err;
}

void miner_server_counts(miner_server *s, uint64_t *served, uint64_t *refused)
{
	pthread_mutex_lock(&s->mu);
	*served = s->served;
	*refused = s->refused;
	pthread_mutex_unlock(&s->mu);
}

void miner_server_stop(miner_server *s)
{
	if (!s)
		return;
	if (s->running) {
		atomic_store(&s->stop, 1);
		pthread_join(s->thread, NULL);
	}
	server_free(s);
}
