#include "core/httpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct iolm_httpc {
	struct event_base *base;
	struct evhttp_connection *conn;
	char host[256];
	uint16_t port;
};

struct reply {
	int done, status, err;
	iolm_buf *out;
};

int iolm_httpc_create(iolm_httpc **out, const char *host, uint16_t port)
{
	iolm_httpc *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c)
		return IOLM_ENOMEM;
	snprintf(c->host, sizeof c->host, "%s", host);
	c->port = port;
	c->base = event_base_new();
	if (!c->base) {
		free(c);
		return IOLM_ENOMEM;
	}
	c->conn = evhttp_connection_base_new(c->base, NULL, c->host, port);
	if (!c->conn) {
		event_base_free(c->base);
		free(c);
		return IOLM_ENOMEM;
	}
	*out = c;
	return IOLM_OK;
}

void iolm_httpc_destroy(iolm_httpc *c)
{
	if (!c)
		return;
	evhttp_connection_free(c->conn);
	event_base_free(c->base);
	free(c);
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	r->done = 1;
	if (!req || evhttp_request_get_response_code(req) == 0) {
		r->err = IOLM_EIO;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (iolm_buf_reserve(r->out, n)) {
		r->err = IOLM_ETOOBIG;
		return;
	}
	evbuffer_remove(in, r->out->data + r->out->len, n);
	r->out->len += n;
}

static int request_once(iolm_httpc *c, const char *method, const char *path, const char *token,
			const void *body, size_t len, int *status, iolm_buf *out, int timeout_ms);

/* A server may close a kept-alive connection between two requests (an HTTP/1.0 server
 * always does); the first request on the stale connection then fails without a
 * response. Retry once on a fresh connection in that case. */
int iolm_httpc_request(iolm_httpc *c, const char *method, const char *path, const char *token,
		       const void *body, size_t len, int *status, iolm_buf *out, int timeout_ms)
{
	size_t keep = out->len;
	int err = request_once(c, method, path, token, body, len, status, out, timeout_ms);
	if (err != IOLM_EIO)
		return err;
	out->len = keep;
	evhttp_connection_free(c->conn);
	c->conn = evhttp_connection_base_new(c->base, NULL, c->host, c->port);
	if (!c->conn)
		return IOLM_ENOMEM;
	return request_once(c, method, path, token, body, len, status, out, timeout_ms);
}

/* Host and Authorization headers of req. */
static void add_headers(const iolm_httpc *c, struct evhttp_request *req, const char *token)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char auth[128], hostport[300];
	snprintf(hostport, sizeof hostport, "%s:%u", c->host, c->port);
	evhttp_add_header(h, "Host", hostport);
	if (token) {
		snprintf(auth, sizeof auth, "Bearer %s", token);
		evhttp_add_header(h, "Authorization", auth);
	}
}

static int request_once(iolm_httpc *c, const char *method, const char *path, const char *token,
			const void *body, size_t len, int *status, iolm_buf *out, int timeout_ms)
{
	struct reply r = { .out = out };
	struct evhttp_request *req = evhttp_request_new(on_done, &r);
	*status = 0;
	if (!req)
		return IOLM_ENOMEM;
	evhttp_connection_set_timeout(c->conn, (timeout_ms + 999) / 1000);
	add_headers(c, req, token);
	if (body) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	}
	enum evhttp_cmd_type cmd = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
	if (evhttp_make_request(c->conn, req, cmd, path) != 0)
		return IOLM_EIO; /* libevent freed req */
	while (!r.done)
		if (event_base_loop(c->base, EVLOOP_ONCE) < 0)
			return IOLM_EIO;
	if (r.err)
		return r.err;
	*status = r.status;
	return IOLM_OK;
}

/* ---------------------------------------------------------------- into a file */

struct file_reply {
	int done, status, err, fd;
	int body;                /* 200 or 206 once the first body bytes were taken */
	int discard;             /* the piece in DEST.part is of no use: remove it */
	uint64_t offset;         /* bytes DEST.part held when asked (the Range start) */
	uint64_t got, cap;
	iolm_buf *err_body;
};

/* Whether the Content-Range of a 206 answer starts at want: "bytes W-E/L". */
static int range_starts_at(struct evhttp_request *req, uint64_t want)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Range");
	char *end;
	if (!v || strncmp(v, "bytes ", 6) || !isdigit((unsigned char)v[6]))
		return 0;
	unsigned long long s = strtoull(v + 6, &end, 10);
	return *end == '-' && s == want;
}

/* The first body bytes of a 200 or 206: a 200 starts the file over; a 206 must continue
 * it where it ends. */
static int body_start(struct evhttp_request *req, struct file_reply *r, int code)
{
	r->body = code;
	if (code == 206)
		return range_starts_at(req, r->offset) ? IOLM_OK : IOLM_EIO;
	if (r->offset && (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0))
		return IOLM_EIO;
	r->offset = 0;
	return IOLM_OK;
}

/* Body bytes as they arrive: to the file for a 200 or 206, else to err_body. After a
 * failure the request is cancelled (libevent then calls neither callback again). */
static void on_file_chunk(struct evhttp_request *req, void *arg)
{
	struct file_reply *r = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	int code = evhttp_request_get_response_code(req);
	if (code != 200 && code != 206) {
		if (r->err_body && !iolm_buf_reserve(r->err_body, n)) {
			evbuffer_remove(in, r->err_body->data + r->err_body->len, n);
			r->err_body->len += n;
		}
		evbuffer_drain(in, n);
		return;
	}
	if (!r->body)
		r->err = body_start(req, r, code);
	if (!r->err && r->offset + r->got + n > r->cap)
		r->err = IOLM_ETOOBIG;
	while (!r->err && evbuffer_get_length(in)) {
		int w = evbuffer_write(in, r->fd);
		if (w <= 0)
			r->err = IOLM_EIO;
		else
			r->got += (uint64_t)w;
	}
	if (r->err) {
		r->discard = 1;
		r->done = 1;
		evhttp_cancel_request(req);
	}
}

static void on_file_done(struct evhttp_request *req, void *arg)
{
	struct file_reply *r = arg;
	r->done = 1;
	if (!req || evhttp_request_get_response_code(req) == 0) {
		r->err = r->err ? r->err : IOLM_EIO;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	on_file_chunk(req, r); /* what the last read left */
}

static int get_file_once(iolm_httpc *c, const char *path, const char *token,
			 struct file_reply *r, int timeout_ms)
{
	struct evhttp_request *req = evhttp_request_new(on_file_done, r);
	char range[48];
	if (!req)
		return IOLM_ENOMEM;
	evhttp_request_set_chunked_cb(req, on_file_chunk);
	evhttp_connection_set_timeout(c->conn, (timeout_ms + 999) / 1000);
	add_headers(c, req, token);
	if (r->offset) {
		snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)r->offset);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Range", range);
	}
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_GET, path) != 0)
		return IOLM_EIO; /* libevent freed req */
	while (!r->done)
		if (event_base_loop(c->base, EVLOOP_ONCE) < 0)
			return IOLM_EIO;
	return r->err;
}

/* One request, from what DEST.part (fd) holds; once more on a fresh connection when a
 * kept-alive one turns out stale, and once from the start after a 416. */
static int get_file_from(iolm_httpc *c, const char *path, const char *token,
			 struct file_reply *r, int timeout_ms)
{
	struct file_reply r0 = *r;
	size_t keep = r->err_body ? r->err_body->len : 0;
	int err = get_file_once(c, path, token, r, timeout_ms);
	if (err == IOLM_EIO && !r->body && r->status == 0) {
		/* a stale kept-alive connection, as in iolm_httpc_request: once more, afresh */
		if (r->err_body)
			r->err_body->len = keep;
		evhttp_connection_free(c->conn);
		if (!(c->conn = evhttp_connection_base_new(c->base, NULL, c->host, c->port)))
			return IOLM_ENOMEM;
		*r = r0;
		err = get_file_once(c, path, token, r, timeout_ms);
	}
	if (!err && r->status == 416 && r0.offset) {
		/* the server holds less than the piece we have: not the same file */
		if (r->err_body)
			r->err_body->len = keep;
		if (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0)
			return IOLM_EIO;
		*r = r0;
		r->offset = 0;
		err = get_file_once(c, path, token, r, timeout_ms);
	}
	return err;
}

int iolm_httpc_get_file(iolm_httpc *c, const char *path, const char *token, const char *dest,
			uint64_t cap, int *status, iolm_buf *err_body, int timeout_ms)
{
	char tmp[4200];
	struct file_reply r;
	struct stat st;
	int err;
	*status = 0;
	if (snprintf(tmp, sizeof tmp, "%s.part", dest) >= (int)sizeof tmp)
		return IOLM_ETOOBIG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return IOLM_EIO;
	r = (struct file_reply){ .fd = fd, .cap = cap, .err_body = err_body };
	if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		unlink(tmp);
		return IOLM_EIO;
	}
	/* a piece left by a cut transfer: ask for the rest (one past cap: start over) */
	r.offset = (uint64_t)st.st_size <= cap ? (uint64_t)st.st_size : 0;
	if (!r.offset && st.st_size && ftruncate(fd, 0) != 0)
		err = IOLM_EIO;
	else
		err = get_file_from(c, path, token, &r, timeout_ms);
	int whole = !err && r.body && (r.status == 200 || r.status == 206);
	*status = whole ? 200 : r.status;
	if (whole && fsync(fd) != 0)
		err = IOLM_EIO;
	if (close(fd) != 0 && !err)
		err = IOLM_EIO;
	if (!err && whole && rename(tmp, dest) != 0)
		err = IOLM_EIO;
	/* What DEST.part holds stays for the next call unless this one found it useless (a
	 * 206 that does not continue it, past cap, not writable): after a transfer the
	 * connection or the clock cut, and after an error answer (another server may have
	 * the rest). */
	if (!whole && (r.discard || r.offset + r.got == 0))
		unlink(tmp);
	return err;
}

int iolm_http_range_start(const char *value, uint64_t size, uint64_t *start)
{
	char *end;
	if (!value || strncmp(value, "bytes=", 6) || !isdigit((unsigned char)value[6]))
		return 0;
	errno = 0;
	unsigned long long s = strtoull(value + 6, &end, 10);
	if (errno || *end != '-')
		return 0;
	if (end[1]) { /* bytes=N-M: only when M reaches the end */
		char *e2;
		if (!isdigit((unsigned char)end[1]))
			return 0;
		unsigned long long last = strtoull(end + 1, &e2, 10);
		if (errno || *e2 || last < s || (size && last < size - 1))
			return 0;
	}
	if (s >= size)
		return -1;
	*start = s;
	return 1;
}

int iolm_httpc_parse_url(char *host, size_t cap, uint16_t *port, const char *ep)
{
	const char *hp = strncmp(ep, "http://", 7) ? NULL : ep + 7, *colon;
	size_t n;
	char *end;
	unsigned long v;
	if (!hp)
		return IOLM_EINVAL;
	n = strcspn(hp, "/");
	if (hp[n] && strcmp(hp + n, "/"))
		return IOLM_EINVAL;
	colon = memrchr(hp, ':', n);
	if (!colon || colon == hp || (size_t)(colon - hp) >= cap ||
	    !isdigit((unsigned char)colon[1])) /* strtoul would take " +80" */
		return IOLM_EINVAL;
	v = strtoul(colon + 1, &end, 10);
	if (end != hp + n || end == colon + 1 || v == 0 || v > 65535)
		return IOLM_EINVAL;
	/* [v6]:port; a bracket anywhere else is no host */
	if (hp[0] == '[' && colon[-1] == ']' && colon - hp > 2) {
		memcpy(host, hp + 1, (size_t)(colon - hp) - 2);
		host[colon - hp - 2] = '\0';
	} else if (memchr(hp, '[', (size_t)(colon - hp)) || memchr(hp, ']', (size_t)(colon - hp))) {
		return IOLM_EINVAL;
	} else {
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
	}
	*port = (uint16_t)v;
	return IOLM_OK;
}

int iolm_httpc_read_cookie(char token[static 65], const char *path)
{
	char buf[128];
	size_t n;
	FILE *fp = fopen(path, "r");

	token[0] = '\0';
	if (!fp)
		return IOLM_ENOTFOUND;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	while (n && isspace((unsigned char)buf[n - 1]))
		n--;
	if (n != 64)
		return IOLM_ELENGTH;
	memcpy(token, buf, 64);
	token[64] = '\0';
	return IOLM_OK;
}
