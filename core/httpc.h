/* A small blocking HTTP/1.1 client on libevent, for the command-line tools (iolmd
 * status, iolm-load) and tests. One request per call, on its own event base. */
#ifndef IOLM_NODE_HTTPC_H
#define IOLM_NODE_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct node_httpc node_httpc;

/* A client for host:port that keeps its connection open between requests. */
int node_httpc_create(node_httpc **out, const char *host, uint16_t port) IOLM_WUR;
void node_httpc_destroy(node_httpc *c);

/* Send method (GET or POST) path with an optional bearer token and body; the HTTP status
 * goes to *status and the response body is appended to out (capped by out's limit).
 * IOLM_ETIMEOUT after timeout_ms, IOLM_EIO when the connection fails. */
int node_httpc_request(node_httpc *c, const char *method, const char *path, const char *token,
		       const void *body, size_t len, int *status, iolm_buf *out,
		       int timeout_ms) IOLM_WUR;

#endif
