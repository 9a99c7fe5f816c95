/* The artifact endpoints of the RPC (docs/rpc.md "Artifacts", docs/artifacts.md):
 *   POST /artifact/fetch/{id}     start (or resume) fetching an artifact from peers;
 *                                 answers its progress
 *   GET  /artifact/{id}           progress of a fetch started since the node started
 *   GET  /artifact/{id}/manifest  its encoded manifest, from the store
 *   GET  /artifact/{id}/files     the same in JSON: kind, parent, size, files
 *   GET  /artifact/{id}/content[?file=PATH]  the bytes of one file of an artifact held
 *                                 whole, streamed (iolm-miner reads a task's data sets
 *                                 this way; iolm-wallet the best model)
 *   GET  /artifacts               the store: its artifacts and totals
 *   POST /artifact/add            add a file or folder of the node's file system
 *   POST /artifact/pin/{id}, /artifact/unpin/{id}
 *   POST /artifact/gc?keep_mb=N   drop unpinned artifacts, free unreferenced chunks
 *   POST /artifact/remove/{id}    drop one unpinned artifact and its own chunks now
 * Every POST needs the cookie, and so does the content unless node.conf
 * rpc_public_downloads allows that many replies without it at once. {id} is the
 * 68-hex-digit artifact id
 * (0x1e 0x20 || BLAKE2b-256). The transfer itself is node/art_net.c, bound here by
 * node_rpc_set_art().
 *
 * An add, a gc or a removal can take seconds (a removal, like gc, waits for adds in
 * progress): it runs on a thread of its own, one at a time
 * (IOLM_EART_JOB meanwhile), and is answered from the loop when it ends. The content is
 * read from the store 1 MiB at a time, each refill when the client has taken the last,
 * so a reply of any size costs the loop about a millisecond per MiB and holds 1 MiB. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "core/codec.h"
#include "core/hex.h"
#include "core/httpc.h"
#include "core/log.h"
#include "node/rpc_int.h"
#include "node/rpc_json.h"

#define RPC_ART_LIST_MAX 1000u       /* GET /artifacts lists at most this many */
#define RPC_ART_ADD_BODY 8192u       /* POST /artifact/add's JSON body, at most */
#define CONTENT_BATCH (1u << 20)     /* bytes read from the store per refill */
#define KEEP_MB_MAX (UINT64_MAX >> 20)

void node_rpc_set_kept(node_rpc *r, node_rpc_kept_fn fn, void *ctx)
{
	r->kept = fn;
	r->kept_ctx = ctx;
}

void node_rpc_set_art(node_rpc *r, const node_rpc_art_ops *ops)
{
	if (ops)
		r->art = *ops;
	else
		memset(&r->art, 0, sizeof r->art);
}

static const char *state_name(enum art_xfer_state s)
{
	switch (s) {
	case ART_XFER_MANIFEST: return "manifest";
	case ART_XFER_CHUNKS: return "chunks";
	case ART_XFER_DONE: return "done";
	default: return "failed";
	}
}

/* The progress object of artifact id. */
static int progress_reply(node_rpc *r, const uint8_t id[ART_ID_LEN], json_t **reply)
{
	art_xfer_progress p;
	json_t *o = NULL;
	int err = r->art.progress(r->art.ctx, &p, id);
	if (err || (err = rpc_new_object(&o)))
		return err;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, ART_ID_LEN));
	rpc_json_put(&err, o, "state", json_string(state_name(p.state)));
	if (p.state == ART_XFER_FAILED)
		rpc_json_put(&err, o, "error", json_string(iolm_errname(p.err)));
	rpc_json_put(&err, o, "chunks_total", rpc_json_u64(p.chunks_total));
	rpc_json_put(&err, o, "chunks_done", rpc_json_u64(p.chunks_done));
	rpc_json_put(&err, o, "bytes_total", rpc_json_u64(p.bytes_total));
	rpc_json_put(&err, o, "bytes_done", rpc_json_u64(p.bytes_done));
	rpc_json_put(&err, o, "peers", rpc_json_u64(p.peers));
	rpc_json_put(&err, o, "in_flight", rpc_json_u64(p.in_flight));
	rpc_json_put(&err, o, "verifying", rpc_json_u64(p.verifying));
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

static int parse_id(uint8_t id[ART_ID_LEN], const char *arg)
{
	if (strlen(arg) != 2 * ART_ID_LEN || iolm_hex_decode_exact(id, ART_ID_LEN, arg) ||
	    id[0] != ART_ID_PREFIX0 || id[1] != ART_ID_PREFIX1)
		return IOLM_EART_ID;
	return IOLM_OK;
}

int rpc_h_art_fetch(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t id[ART_ID_LEN];
	int err;
	if (!rpc_authorized(r, req))
		return IOLM_ERPC_AUTH;
	if (!r->art.fetch)
		return IOLM_ERPC_ROUTE;
	if ((err = parse_id(id, arg)) || (err = r->art.fetch(r->art.ctx, id)))
		return err;
	return progress_reply(r, id, reply);
}

/* The stored manifest of id, decoded (the caller frees it with iolm_codec_free). */
static int load_manifest(node_rpc *r, Iolm__Manifest **m, const uint8_t id[ART_ID_LEN])
{
	uint8_t got[ART_ID_LEN];
	iolm_buf b;
	int err;
	*m = NULL;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	if (!(err = art_store_manifest(r->art.store, &b, id)))
		err = art_manifest_decode(m, got, b.data, b.len);
	iolm_buf_release(&b, 0);
	return err;
}

/* ---------------------------------------------------------------- content, streamed */

struct content_stream {
	node_rpc *r;
	int public;              /* counted in r->public_now: read without the cookie */
	art_store *s;
	struct evhttp_request *req;
	Iolm__Manifest *m;
	uint8_t id[ART_ID_LEN];
	size_t next, end;        /* the next chunk to read; the file's end in the chunk list */
	uint32_t skip;           /* bytes of the next chunk before the range asked for */
	struct evbuffer *out;    /* read, not yet handed to the connection */
	iolm_buf chunk;
};

static void stream_free(struct content_stream *c)
{
	if (c->public)
		c->r->public_now--;
	iolm_codec_free(c->m ? &c->m->base : NULL);
	iolm_buf_release(&c->chunk, 0);
	if (c->out)
		evbuffer_free(c->out);
	free(c);
}

/* Read the next chunks, each verified against its id, until c->out holds CONTENT_BATCH
 * bytes or the file ends. */
static int stream_fill(struct content_stream *c)
{
	while (c->next < c->end && evbuffer_get_length(c->out) < CONTENT_BATCH) {
		int err;
		iolm_buf_reset(&c->chunk);
		if ((err = art_store_get_chunk(c->s, &c->chunk, c->m->chunks[c->next]->id.data)))
			return err == IOLM_ENOTFOUND ? IOLM_EART_MISSING : err;
		if (c->skip > c->chunk.len)
			return IOLM_EART_MANIFEST; /* not reached: its size is the manifest's */
		if (evbuffer_add(c->out, c->chunk.data + c->skip, c->chunk.len - c->skip))
			return IOLM_ENOMEM;
		c->skip = 0;
		c->next++;
	}
	return IOLM_OK;
}

/* The connection of an unfinished reply closed: the client left, timed out, or the
 * server is going. */
static void stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct content_stream *c = arg;
	(void)evcon;
	/* A client that left: evhttp has detached the unfinished request from the
	 * connection, and ending it frees it. When the server goes, the connection still
	 * holds it and frees it itself. */
	if (!evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	stream_free(c);
}

/* The client took everything handed to the connection: the next batch, or the end. */
static void stream_more(struct evhttp_connection *evcon, void *arg)
{
	struct content_stream *c = arg;
	struct evhttp_request *req = c->req;
	int err = stream_fill(c);
	if (err || evbuffer_get_length(c->out) == 0) {
		evhttp_connection_set_closecb(evcon, NULL, NULL);
		if (err) {
			char hex[2 * ART_ID_LEN + 1];
			iolm_hex_encode(hex, sizeof hex, c->id, ART_ID_LEN);
			IOLM_WARN("rpc", "content of %s cut at chunk %zu of %zu: %s", hex,
				  c->next, c->m->n_chunks, iolm_strerror(err));
		}
		stream_free(c);
		if (err) /* the status went out long ago: the client sees the body end short */
			evhttp_connection_free(evcon);
		else
			evhttp_send_reply_end(req);
		return;
	}
	evhttp_send_reply_chunk_with_cb(req, c->out, stream_more, c);
}

/* The file of c->m that ?file=PATH names (NULL: the only one) into c->next and c->end;
 * its size into *size. */
static int select_file(struct content_stream *c, const char *path, uint64_t *size)
{
	const Iolm__Manifest *m = c->m;
	size_t i = 0;
	if (path) {
		while (i < m->n_files && strcmp(m->files[i]->path, path) != 0)
			i++;
		if (i == m->n_files)
			return IOLM_ENOTFOUND;
	} else if (m->n_files != 1) {
		return IOLM_EART_FILES;
	}
	c->next = m->files[i]->first_chunk;
	c->end = c->next + m->files[i]->n_chunks; /* within n_chunks: the manifest was checked */
	*size = m->files[i]->size;
	return IOLM_OK;
}

/* Skip to byte from of the selected file: the chunk holding it, and the bytes before it
 * in that chunk. */
static void stream_seek(struct content_stream *c, uint64_t from)
{
	while (c->next < c->end && from >= c->m->chunks[c->next]->size) {
		from -= c->m->chunks[c->next]->size;
		c->next++;
	}
	c->skip = (uint32_t)from;
}

/* GET /artifact/{id}/content[?file=PATH]: the bytes of one file of an artifact the store
 * holds whole (PATH may be left out for a one-file artifact), with Content-Length; with
 * "Range: bytes=N-", 206 and the bytes from N (a download resuming), IOLM_ERPC_RANGE
 * (416) for N past the end. The first batch is read before the status goes out, so a
 * store that lacks the artifact, or any chunk of it, answers an error object. Without
 * the cookie: IOLM_ERPC_AUTH (401), or with r->public_max set, at most that many
 * replies at once (IOLM_ERPC_DOWNLOADS, 503, beyond). */
static int content_reply(node_rpc *r, struct evhttp_request *req, const uint8_t id[ART_ID_LEN])
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct rpc_param p[] = { { "file", NULL } };
	struct evkeyvalq q;
	struct content_stream *c;
	char len[24], cr[80];
	size_t n, left = 0;
	uint64_t size = 0, from = 0;
	int err, ranged = 0, public = !rpc_authorized(r, req);
	if (public && !r->public_max)
		return IOLM_ERPC_AUTH;
	if (public && r->public_now >= r->public_max) {
		r->public_refused++;
		return IOLM_ERPC_DOWNLOADS;
	}
	if (!evcon)
		return IOLM_ESTATE;
	if (!(c = calloc(1, sizeof *c)))
		return IOLM_ENOMEM;
	c->r = r;
	c->public = public;
	r->public_now += (unsigned)public;
	c->s = r->art.store;
	c->req = req;
	memcpy(c->id, id, ART_ID_LEN);
	iolm_buf_init(&c->chunk, ART_CHUNK_MAX);
	err = rpc_query_parse(&q, p, 1, rpc_query_string(req));
	if (!err && !(c->out = evbuffer_new()))
		err = IOLM_ENOMEM;
	if (!err)
		err = load_manifest(r, &c->m, id);
	if (!err)
		err = select_file(c, p[0].value, &size);
	evhttp_clear_headers(&q);
	if (!err) {
		ranged = iolm_http_range_start(
			evhttp_find_header(evhttp_request_get_input_headers(req), "Range"), size,
			&from);
		if (ranged < 0) {
			snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
			evhttp_add_header(h, "Content-Range", cr);
			err = IOLM_ERPC_RANGE;
		} else if (ranged) {
			stream_seek(c, from);
		}
	}
	if (!err && !(err = art_store_missing(c->s, NULL, 0, &n, &left, id)) && left)
		err = IOLM_EART_MISSING;
	if (!err)
		err = stream_fill(c);
	if (err) {
		stream_free(c);
		return err;
	}
	snprintf(len, sizeof len, "%" PRIu64, size - from);
	evhttp_add_header(h, "Content-Type", "application/octet-stream");
	evhttp_add_header(h, "Content-Length", len);
	evhttp_add_header(h, "Accept-Ranges", "bytes");
	if (ranged) {
		snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, size - 1,
			 size);
		evhttp_add_header(h, "Content-Range", cr);
	}
	evhttp_send_reply_start(req, ranged ? 206 : HTTP_OK, ranged ? "Partial Content" : "OK");
	if (evbuffer_get_length(c->out) == 0) { /* an empty file */
		stream_free(c);
		evhttp_send_reply_end(req);
		return IOLM_OK;
	}
	evhttp_connection_set_closecb(evcon, stream_closed, c);
	/* A batch per write rather than libevent's 16 KiB: 0.80 against 0.63 GiB/s. */
	bufferevent_set_max_single_write(evhttp_connection_get_bufferevent(evcon), CONTENT_BATCH);
	evhttp_send_reply_chunk_with_cb(req, c->out, stream_more, c);
	return IOLM_OK;
}

/* GET /artifact/{id}/manifest: its encoded manifest (the Manifest message). */
static int manifest_reply(node_rpc *r, struct evhttp_request *req, const uint8_t id[ART_ID_LEN])
{
	struct evbuffer *out = NULL;
	iolm_buf b;
	int err;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	err = art_store_manifest(r->art.store, &b, id);
	if (!err && (!(out = evbuffer_new()) || evbuffer_add(out, b.data, b.len)))
		err = IOLM_ENOMEM;
	iolm_buf_release(&b, 0);
	if (err) {
		if (out)
			evbuffer_free(out);
		return err;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-protobuf");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
	return IOLM_OK;
}

/* GET /artifact/{id}/files: the manifest in JSON: kind, parent, total size, chunk count
 * and each file's path and size, in manifest order. */
static int files_reply(node_rpc *r, const uint8_t id[ART_ID_LEN], json_t **reply)
{
	Iolm__Manifest *m = NULL;
	json_t *o = NULL, *files;
	int err;
	if (!(err = load_manifest(r, &m, id)) && !(err = rpc_new_object(&o))) {
		rpc_json_put(&err, o, "id", rpc_json_hex(id, ART_ID_LEN));
		rpc_json_put(&err, o, "kind", json_string(art_kind_name((enum art_kind)m->kind)));
		rpc_json_put(&err, o, "parent", m->parent.len ? rpc_json_hex(m->parent.data,
									     m->parent.len)
							    : json_null());
		rpc_json_put(&err, o, "size", rpc_json_u64(m->total_size));
		rpc_json_put(&err, o, "chunks", rpc_json_u64(m->n_chunks));
		rpc_json_put(&err, o, "files", files = json_array());
		for (size_t i = 0; i < m->n_files && !err; i++) {
			json_t *f = json_object();
			rpc_json_push(&err, files, f);
			rpc_json_put(&err, f, "path", json_string(m->files[i]->path));
			rpc_json_put(&err, f, "size", rpc_json_u64(m->files[i]->size));
		}
	}
	iolm_codec_free(m ? &m->base : NULL);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

int rpc_h_art(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	char hex[2 * ART_ID_LEN + 1];
	uint8_t id[ART_ID_LEN];
	const char *slash = strchr(arg, '/');
	int err;
	if (!r->art.progress)
		return IOLM_ERPC_ROUTE;
	if (!slash)
		return (err = parse_id(id, arg)) ? err : progress_reply(r, id, reply);
	if ((strcmp(slash, "/content") != 0 && strcmp(slash, "/manifest") != 0 &&
	     strcmp(slash, "/files") != 0) ||
	    !r->art.store)
		return IOLM_ERPC_ROUTE;
	if ((size_t)(slash - arg) != 2 * ART_ID_LEN)
		return IOLM_EART_ID;
	memcpy(hex, arg, 2 * ART_ID_LEN);
	hex[2 * ART_ID_LEN] = '\0';
	if ((err = parse_id(id, hex)))
		return err;
	if (!strcmp(slash, "/files"))
		return files_reply(r, id, reply);
	return !strcmp(slash, "/content") ? content_reply(r, req, id) : manifest_reply(r, req, id);
}

/* ---------------------------------------------------------------- the store */

/* GET /artifacts: the stored artifacts in id order (at most RPC_ART_LIST_MAX; total
 * counts all) and the store's totals. */
int rpc_h_artifacts(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	art_store_stats st;
	art_info *info;
	json_t *o = NULL, *list = NULL, *store = NULL;
	size_t n = 0, total = 0;
	int err;
	(void)req;
	(void)arg;
	if (!r->art.store)
		return IOLM_ERPC_ROUTE;
	if (!(info = malloc(RPC_ART_LIST_MAX * sizeof *info)))
		return IOLM_ENOMEM;
	if ((err = art_store_list(r->art.store, info, RPC_ART_LIST_MAX, &n, &total)) ||
	    (err = art_store_get_stats(r->art.store, &st)) || (err = rpc_new_object(&o)))
		goto out;
	rpc_json_put(&err, o, "artifacts", list = json_array());
	for (size_t i = 0; i < n && !err; i++) {
		json_t *a = json_object();
		rpc_json_push(&err, list, a);
		rpc_json_put(&err, a, "id", rpc_json_hex(info[i].id, ART_ID_LEN));
		rpc_json_put(&err, a, "kind", json_string(art_kind_name(info[i].kind)));
		rpc_json_put(&err, a, "size", rpc_json_u64(info[i].total_size));
		rpc_json_put(&err, a, "files", rpc_json_u64(info[i].n_files));
		rpc_json_put(&err, a, "chunks", rpc_json_u64(info[i].n_chunks));
		rpc_json_put(&err, a, "pinned", json_boolean(info[i].pinned));
		uint8_t owner[32];
		const char *why = r->kept ? r->kept(r->kept_ctx, info[i].id, owner) : NULL;
		if (why) {
			json_t *k = json_object();
			rpc_json_put(&err, a, "kept", k);
			rpc_json_put(&err, k, "as", json_string(why));
			rpc_json_put(&err, k, strcmp(why, "pending_work") ? "task" : "work",
				     rpc_json_hex(owner, 32));
		}
	}
	rpc_json_put(&err, o, "total", rpc_json_u64(total));
	rpc_json_put(&err, o, "store", store = json_object());
	rpc_json_put(&err, store, "chunks", rpc_json_u64(st.chunks));
	rpc_json_put(&err, store, "bytes", rpc_json_u64(st.bytes));
	rpc_json_put(&err, store, "unreferenced", rpc_json_u64(st.unreferenced));
out:
	free(info);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

static int pin_reply(node_rpc *r, struct evhttp_request *req, const char *arg, int pin,
		     json_t **reply)
{
	uint8_t id[ART_ID_LEN];
	json_t *o;
	int err;
	if (!rpc_authorized(r, req))
		return IOLM_ERPC_AUTH;
	if (!r->art.store)
		return IOLM_ERPC_ROUTE;
	if ((err = parse_id(id, arg)) ||
	    (err = pin ? art_store_pin(r->art.store, id) : art_store_unpin(r->art.store, id)) ||
	    (err = rpc_new_object(&o)))
		return err;
	rpc_json_put(&err, o, "id", rpc_json_hex(id, ART_ID_LEN));
	rpc_json_put(&err, o, "pinned", json_boolean(pin));
	if (!pin && r->art.unpinned)
		r->art.unpinned(r->art.ctx);
	if (err)
		json_decref(o);
	else
		*reply = o;
	return err;
}

/* POST /artifact/pin/{id}, POST /artifact/unpin/{id} */
int rpc_h_art_pin(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	return pin_reply(r, req, arg, 1, reply);
}

int rpc_h_art_unpin(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	return pin_reply(r, req, arg, 0, reply);
}

/* ---------------------------------------------------------------- add and gc, off the loop */

enum job_op { JOB_ADD = 1, JOB_GC, JOB_REMOVE };

struct rpc_art_job {
	node_rpc *r;
	struct evhttp_request *req; /* answered when the job ends */
	enum job_op op;
	pthread_t thread;
	int fd[2];                  /* the thread writes a byte to fd[1] as it ends */
	struct event *ev;           /* fd[0] readable */
	/* in */
	char path[PATH_MAX];
	uint8_t parent[ART_ID_LEN];
	art_add_options opt;
	uint64_t watermark;
	atomic_int stop;            /* set by rpc_art_finish: the node is going */
	/* out, read after the join */
	int err;
	uint8_t id[ART_ID_LEN];
	art_add_stats add;
	art_gc_stats gc;
};

static void *job_run(void *arg)
{
	struct rpc_art_job *j = arg;
	art_store *s = j->r->art.store;
	ssize_t w;
	if (j->op == JOB_ADD)
		j->err = art_store_add(s, j->id, &j->add, j->path, &j->opt);
	else if (j->op == JOB_GC)
		j->err = art_store_gc_steps(s, &j->gc, j->watermark, &j->stop);
	else
		j->err = art_store_remove(s, j->id, &j->gc);
	do
		w = write(j->fd[1], "", 1);
	while (w < 0 && errno == EINTR);
	return NULL;
}

static void job_free(struct rpc_art_job *j)
{
	if (j->ev)
		event_free(j->ev);
	if (j->fd[0] >= 0)
		close(j->fd[0]);
	if (j->fd[1] >= 0)
		close(j->fd[1]);
	free(j);
}

/* The job's thread ended: join it and answer. */
static void job_end(struct rpc_art_job *j)
{
	json_t *o = NULL;
	int err;
	pthread_join(j->thread, NULL); /* j's outputs are read only after this */
	err = j->err;
	j->r->job = NULL;
	if (!err && !(err = rpc_new_object(&o))) {
		if (j->op == JOB_ADD) {
			rpc_json_put(&err, o, "id", rpc_json_hex(j->id, ART_ID_LEN));
			rpc_json_put(&err, o, "kind", json_string(art_kind_name(j->opt.kind)));
			rpc_json_put(&err, o, "pinned", json_boolean(j->opt.pin));
			rpc_json_put(&err, o, "parent", j->opt.parent ? rpc_json_hex(j->parent,
										    ART_ID_LEN)
								      : json_null());
			rpc_json_put(&err, o, "bytes", rpc_json_u64(j->add.bytes));
			rpc_json_put(&err, o, "chunks", rpc_json_u64(j->add.chunks));
			rpc_json_put(&err, o, "new_chunks", rpc_json_u64(j->add.new_chunks));
			rpc_json_put(&err, o, "new_bytes", rpc_json_u64(j->add.new_bytes));
		} else {
			if (j->op == JOB_REMOVE)
				rpc_json_put(&err, o, "id", rpc_json_hex(j->id, ART_ID_LEN));
			rpc_json_put(&err, o, "artifacts_removed",
				     rpc_json_u64(j->gc.artifacts_removed));
			rpc_json_put(&err, o, "chunks_freed", rpc_json_u64(j->gc.chunks_freed));
			rpc_json_put(&err, o, "bytes_freed", rpc_json_u64(j->gc.bytes_freed));
			rpc_json_put(&err, o, "chunks_pending", rpc_json_u64(j->gc.chunks_pending));
		}
	}
	if (!j->err && j->op == JOB_ADD) {
		char hex[2 * ART_ID_LEN + 1];
		iolm_hex_encode(hex, sizeof hex, j->id, ART_ID_LEN);
		IOLM_INFO("rpc", "added %s (%s): %" PRIu64 " bytes, %" PRIu64 " new chunks", hex,
			  j->path, j->add.bytes, j->add.new_chunks);
		if (j->r->art.announce)
			j->r->art.announce(j->r->art.ctx, j->id);
	}
	rpc_answer(j->req, err, o);
	job_free(j);
}

static void on_job_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	job_end(arg);
}

void rpc_art_finish(node_rpc *r)
{
	if (r->job) {
		/* An add stops within a buffer, a gc within ART_GC_STEP chunks */
		atomic_store(&r->job->stop, 1);
		job_end(r->job);
	}
}

/* Start j (filled in) on its own thread; it answers req when it ends. */
static int job_start(node_rpc *r, struct evhttp_request *req, struct rpc_art_job *j)
{
	j->r = r;
	j->req = req;
	if (pipe2(j->fd, O_CLOEXEC) != 0) {
		j->fd[0] = j->fd[1] = -1;
		job_free(j);
		return IOLM_EIO;
	}
	if (!(j->ev = event_new(r->base, j->fd[0], EV_READ, on_job_done, j)) ||
	    event_add(j->ev, NULL) != 0) {
		job_free(j);
		return IOLM_ENOMEM;
	}
	if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
		job_free(j);
		return IOLM_ENOMEM;
	}
	r->job = j;
	return IOLM_OK;
}

static int job_new(node_rpc *r, struct evhttp_request *req, struct rpc_art_job **out)
{
	*out = NULL;
	if (!rpc_authorized(r, req))
		return IOLM_ERPC_AUTH;
	if (!r->art.store)
		return IOLM_ERPC_ROUTE;
	if (r->job)
		return IOLM_EART_JOB;
	if (!(*out = calloc(1, sizeof **out)))
		return IOLM_ENOMEM;
	atomic_init(&(*out)->stop, 0);
	return IOLM_OK;
}

/* POST /artifact/add, body {"path": "/absolute/path", "kind": "dataset", "pin": true,
 * "parent": "1e20..."}: the file or folder at path, read by the node. kind defaults to
 * dataset, pin to true, parent (the artifact this one derives from) to none. */
int rpc_h_art_add(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	struct rpc_art_job *j;
	json_t *body = NULL, *path, *kind, *pin, *parent;
	const char *p;
	int err;
	(void)arg;
	(void)reply;
	if ((err = job_new(r, req, &j)))
		return err;
	j->op = JOB_ADD;
	j->opt.kind = ART_KIND_DATASET;
	j->opt.pin = 1;
	j->opt.stop = &j->stop;
	err = IOLM_ERPC_BADJSON;
	if (n > RPC_ART_ADD_BODY)
		err = IOLM_ERPC_TOOBIG;
	else if (n && (body = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)n), n,
					 JSON_REJECT_DUPLICATES, NULL)) &&
		 json_is_object(body) && json_is_string(path = json_object_get(body, "path")) &&
		 (p = json_string_value(path))[0] == '/' &&
		 json_string_length(path) == strlen(p) && strlen(p) < sizeof j->path) {
		kind = json_object_get(body, "kind");
		pin = json_object_get(body, "pin");
		parent = json_object_get(body, "parent");
		memcpy(j->path, p, strlen(p) + 1);
		if ((!kind || !art_kind_parse(&j->opt.kind, json_string_value(kind))) &&
		    (!pin || json_is_boolean(pin)) &&
		    (!parent || (json_is_string(parent) &&
				 !parse_id(j->parent, json_string_value(parent))))) {
			j->opt.pin = !pin || json_is_true(pin);
			j->opt.parent = parent ? j->parent : NULL;
			err = IOLM_OK;
		}
	}
	json_decref(body);
	if (err) {
		free(j);
		return err;
	}
	return job_start(r, req, j);
}

/* POST /artifact/gc?keep_mb=N: drop the unpinned artifacts, then delete unreferenced
 * chunks, oldest first, while the chunks hold more than N MiB (default 0). */
int rpc_h_art_gc(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct rpc_param p[] = { { "keep_mb", NULL } };
	struct evkeyvalq q;
	struct rpc_art_job *j;
	uint64_t keep = 0;
	int err;
	(void)arg;
	(void)reply;
	if ((err = job_new(r, req, &j)))
		return err;
	err = rpc_query_parse(&q, p, 1, rpc_query_string(req));
	if (!err)
		err = rpc_query_u64(&keep, &p[0], 0, 0, KEEP_MB_MAX);
	evhttp_clear_headers(&q);
	if (err) {
		free(j);
		return err;
	}
	j->op = JOB_GC;
	j->watermark = keep << 20;
	return job_start(r, req, j);
}

/* POST /artifact/remove/{id}: drop one unpinned artifact and delete at once its chunks no
 * other artifact references (art_store_remove); IOLM_EART_PINNED (409) for a pinned one,
 * IOLM_ENOTFOUND for one the store does not hold. */
int rpc_h_art_remove(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	struct rpc_art_job *j;
	int err;
	(void)reply;
	if ((err = job_new(r, req, &j)))
		return err;
	if ((err = parse_id(j->id, arg))) {
		free(j);
		return err;
	}
	j->op = JOB_REMOVE;
	return job_start(r, req, j);
}
