/* The artifact endpoints of the RPC (docs/rpc.md, docs/artifacts.md "Transfer"):
 *   POST /artifact/fetch/{id}   start (or resume) fetching an artifact from peers;
 *                               needs the cookie; answers its progress
 *   GET  /artifact/{id}         progress of a fetch started since the node started
 * {id} is the 68-hex-digit artifact id (0x1e 0x20 || BLAKE2b-256). The transfer itself
 * is node/art_net.c, bound here by node_rpc_set_art(). */
#include <string.h>

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

int rpc_h_art(node_rpc *r, struct evhttp_request *req, const char *arg, json_t **reply)
{
	uint8_t id[ART_ID_LEN];
	int err;
	(void)req;
	if (!r->art.progress)
		return IOLM_ERPC_ROUTE;
	if ((err = parse_id(id, arg)))
		return err;
	return progress_reply(r, id, reply);
}
