/* A small blocking HTTP/1.1 client on libevent, for the command-line tools that talk to a
 * node's RPC (iolmd status and tx, iolm-load, iolm-miner, iolm-wallet). One request per
 * call, on its own event base. Its own library, iolm_httpc, so iolm_core stays free of
 * libevent. */
#ifndef IOLM_CORE_HTTPC_H
#define IOLM_CORE_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct iolm_httpc iolm_httpc;

/* A client for host:port that keeps its connection open between requests. */
int iolm_httpc_create(iolm_httpc **out, const char *host, uint16_t port) IOLM_WUR;
void iolm_httpc_destroy(iolm_httpc *c);

/* GET path (with an optional bearer token) into the file dest, streamed: a 200 answer's
 * body is written to DEST.part as it arrives, flushed and renamed to dest, so memory
 * stays small whatever its size. IOLM_ETOOBIG past cap bytes (the transfer is cut off
 * there). Any other status: its body (up to err_body's limit; err_body may be NULL)
 * goes to err_body, *status says which, and no file is written. IOLM_EIO when the file
 * cannot be written or the connection fails, IOLM_ETIMEOUT after timeout_ms without
 * data.
 *
 * Resuming: a transfer cut by the connection or a timeout, or answered with an error,
 * leaves what DEST.part holds; a later call (to this server or another) asks only for the
 * rest (Range: bytes=N-) and appends it when the server answers 206 from N, or starts
 * over when it answers 200 (it ignores ranges) or 416. *status is 200 for a whole file
 * either way. DEST.part is removed when a call finds it useless: past cap, a 206 that
 * does not continue it, a write error. The caller checks the file (content-addressed
 * ids), as it must anyway. */
int iolm_httpc_get_file(iolm_httpc *c, const char *path, const char *token, const char *dest,
			uint64_t cap, int *status, iolm_buf *err_body, int timeout_ms) IOLM_WUR;

/* A server's reading of a Range header value (NULL: none) for a resource of size bytes:
 * 1 with *start for "bytes=N-" and "bytes=N-M" with M reaching the last byte or beyond
 * (206 from N), -1 when N >= size (416), 0 for anything else (answer the whole: a server
 * may ignore a range it does not serve). Resuming downloads is all ranges are for here. */
int iolm_http_range_start(const char *value, uint64_t size, uint64_t *start);

/* Host and port of "http://HOST:PORT" (a trailing '/' allowed; HOST may be "[v6]"), the
 * form of a miner's endpoint, into host (cap bytes) and *port. IOLM_EINVAL otherwise. */
int iolm_httpc_parse_url(char *host, size_t cap, uint16_t *port, const char *url) IOLM_WUR;

/* The token of a node's RPC cookie file (64 hex characters, then white space at most)
 * into token, NUL-terminated. IOLM_ENOTFOUND when the file cannot be opened,
 * IOLM_ELENGTH when it does not hold exactly one 64-character token. */
int iolm_httpc_read_cookie(char token[static 65], const char *path) IOLM_WUR;

/* Send method (GET or POST) path with an optional bearer token and body; the HTTP status
 * goes to *status and the response body is appended to out (capped by out's limit).
 * IOLM_ETIMEOUT after timeout_ms, IOLM_EIO when the connection fails. */
int iolm_httpc_request(iolm_httpc *c, const char *method, const char *path, const char *token,
		       const void *body, size_t len, int *status, iolm_buf *out,
		       int timeout_ms) IOLM_WUR;

#endif
