/* The artifact endpoints of the RPC (docs/rpc.md, docs/artifacts.md "Transfer"):
 *   POST /artifact/fetch/{id}   start (or resume) fetching an artifact from peers;
 *                               needs the cookie; answers its progress
 *   GET  /artifact/{id}         progress of a fetch started since the node started
 *   GET  /artifact/{id}/manifest its encoded manifest, from the store
 *   GET  /artifact/{id}/content the bytes of a one-file artifact held whole; needs the
 *                               cookie (iolm-miner reads a task's data sets this way)
 * {id} is the 68-hex-digit artifact id (0x1e 0x20 || BLAKE2b-256). The transfer itself
 * is node/art_net.c, bound here by node_rpc_set_art(). */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "core/codec.h"
#include "core/hex.h"
#include "node/rpc_int.h"
#include "node/rpc_json.h"

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

/* Answer 200 with out (freed) as the body. */
static int send_buffer(struct evhttp_request *req, const char *ctype, struct evbuffer *out)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
	return IOLM_OK;
}

/* GET /artifact/{id}/content: the bytes of a one-file artifact, sent from here. */
static int content_reply(node_rpc *r, struct evhttp_request *req, const uint8_t id[ART_ID_LEN])
{
	struct evbuffer *out;
	int err;
	if (!rpc_authorized(r, req))
		return IOLM_ERPC_AUTH;
	if (!r->art.content)
		return IOLM_ERPC_ROUTE;
	if (!(out = evbuffer_new()))
		return IOLM_ENOMEM;
	if ((err = r->art.content(r->art.ctx, out, id))) {
		evbuffer_free(out);
		return err;
	}
	return send_buffer(req, "application/octet-stream", out);
}

/* GET /artifact/{id}/manifest: its encoded manifest (the Manifest message). */
static int manifest_reply(node_rpc *r, struct evhttp_request *req, const uint8_t id[ART_ID_LEN])
{
	struct evbuffer *out = NULL;
	iolm_buf b;
	int err;
	if (!r->art.manifest)
		return IOLM_ERPC_ROUTE;
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	err = r->art.manifest(r->art.ctx, &b, id);
	if (!err && (!(out = evbuffer_new()) || evbuffer_add(out, b.data, b.len)))
		err = IOLM_ENOMEM;
	iolm_buf_release(&b, 0);
	if (err) {
		if (out)
			evbuffer_free(out);
		return err;
	}
	return send_buffer(req, "application/x-protobuf", out);
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
	if (strcmp(slash, "/content") != 0 && strcmp(slash, "/manifest") != 0)
		return IOLM_ERPC_ROUTE;
	if ((size_t)(slash - arg) != 2 * ART_ID_LEN)
		return IOLM_EART_ID;
	memcpy(hex, arg, 2 * ART_ID_LEN);
	hex[2 * ART_ID_LEN] = '\0';
	if ((err = parse_id(id, hex)))
		return err;
	return !strcmp(slash, "/content") ? content_reply(r, req, id) : manifest_reply(r, req, id);
}
