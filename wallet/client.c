/* The node, over its HTTP RPC (docs/rpc.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/hash.h"
#include "core/hex.h"
#include "wallet/wallet.h"

#define ANSWER_MAX (16u << 20) /* a block is at most 8 MiB, 16 in hex */
#define RPC_TIMEOUT_MS 10000

int wallet_node_open(wallet_node *n, const char *hostport, const char *cookie)
{
	const char *colon = strrchr(hostport, ':');
	char host[256], *end;
	unsigned long port;

	memset(n, 0, sizeof *n);
	snprintf(n->addr, sizeof n->addr, "%s", hostport);
	if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host)
		return IOLM_EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port == 0 || port > 65535)
		return IOLM_EINVAL;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	if (cookie && iolm_httpc_read_cookie(n->token, cookie))
		return IOLM_ENOTFOUND;
	return iolm_httpc_create(&n->c, host, (uint16_t)port) ? IOLM_ENOMEM : IOLM_OK;
}

void wallet_node_close(wallet_node *n)
{
	iolm_httpc_destroy(n->c);
	sodium_memzero(n->token, sizeof n->token);
	n->c = NULL;
}

static int request(wallet_node *n, const char *method, const char *path, const char *body,
		   size_t len, int *status, json_t **out)
{
	iolm_buf buf;
	int err;

	*out = NULL;
	iolm_buf_init(&buf, ANSWER_MAX);
	err = iolm_httpc_request(n->c, method, path, n->token[0] ? n->token : NULL, body, len,
				 status, &buf, RPC_TIMEOUT_MS);
	if (err) {
		err = IOLM_EWALLET_UNREACHABLE;
	} else {
		*out = json_loadb((const char *)buf.data, buf.len, 0, NULL);
		if (!*out)
			err = IOLM_EWALLET_ANSWER;
	}
	iolm_buf_release(&buf, 0);
	return err;
}

int wallet_get(wallet_node *n, const char *path, json_t **out)
{
	int status, err = request(n, "GET", path, NULL, 0, &status, out);
	if (err)
		return err;
	if (status == 200)
		return IOLM_OK;
	return status == 404 ? IOLM_ENOTFOUND : IOLM_EWALLET_ANSWER;
}

int wallet_post_tx(wallet_node *n, const uint8_t *tx, size_t len, char id_hex[65], char *why,
		   size_t why_len)
{
	char *hex = malloc(2 * len + 1);
	uint8_t id[32];
	json_t *o;
	int status, err;

	why[0] = '\0';
	if (!hex)
		return IOLM_ENOMEM;
	iolm_hex_encode(hex, 2 * len + 1, tx, len);
	err = request(n, "POST", "/tx", hex, 2 * len, &status, &o);
	free(hex);
	if (err)
		return err;
	if (status != 200) {
		const json_t *e = json_object_get(o, "error");
		const char *m = json_string_value(json_object_get(e, "message"));
		const char *name = json_string_value(json_object_get(e, "name"));
		snprintf(why, why_len, "%s%s%s", m ? m : "HTTP error", name ? " " : "",
			 name ? name : "");
		if (status == 401)
			snprintf(why, why_len, "the node wants its RPC cookie (--cookie FILE)");
		json_decref(o);
		return IOLM_EWALLET_REJECTED;
	}
	json_decref(o);
	/* The id is ours to compute: H(tx bytes). */
	iolm_hash(id, IOLM_TAG_TX, tx, len);
	iolm_hex_encode(id_hex, 65, id, 32);
	return IOLM_OK;
}
