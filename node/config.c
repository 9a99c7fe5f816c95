/* node.conf: "key = value" lines. Unknown keys are errors, so a typo never silently
 * turns into a default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/node.h"

void node_config_default(node_config *c, const char *dir)
{
	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "%s", dir);
	snprintf(c->p2p_host, sizeof c->p2p_host, "127.0.0.1");
	c->p2p_port = 26656;
	snprintf(c->rpc_host, sizeof c->rpc_host, "127.0.0.1");
	c->rpc_port = 26657;
	c->heartbeat_ms = 1000;
	/* The proposer waits for transactions up to the heartbeat; the others must wait
	 * longer than that before they give up on it. */
	c->propose_ms = 2000;
	c->propose_delta_ms = 500;
	c->vote_ms = 500;
	c->vote_delta_ms = 250;
	c->mempool_max_txs = 100000;
	c->mempool_max_bytes = 64u << 20;
	c->mempool_ttl_blocks = 3600;
	c->map_size_mb = 16384;
	c->history_index = 1;
	c->art_keep_checkpoints = 1;
	c->art_window = 128;
	c->log_level = IOLM_LOG_INFO;
	c->log_format = IOLM_LOG_TEXT;
}

void node_config_release(node_config *c)
{
	for (size_t i = 0; i < c->n_peers; i++)
		free(c->peers[i]);
	c->n_peers = 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || *end || end == v || x < min || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* "host:port" into host and port. */
static int parse_hostport(const char *v, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(v, ':');
	uint32_t p;
	if (!colon || colon == v || (size_t)(colon - v) >= hostlen ||
	    parse_u32(colon + 1, 0, 65535, &p))
		return -1;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int set_key(node_config *c, const char *k, char *v)
{
	uint32_t x;
	if (strcmp(k, "p2p_listen") == 0)
		return parse_hostport(v, c->p2p_host, sizeof c->p2p_host, &c->p2p_port);
	if (strcmp(k, "rpc_listen") == 0)
		return parse_hostport(v, c->rpc_host, sizeof c->rpc_host, &c->rpc_port);
	if (strcmp(k, "peers") == 0) {
		node_config_release(c);
		for (char *save = NULL, *tok = strtok_r(v, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			char host[64];
			uint16_t port;
			if (c->n_peers == NODE_MAX_PEERS_CONF ||
			    parse_hostport(tok, host, sizeof host, &port))
				return -1;
			c->peers[c->n_peers] = strdup(tok);
			if (!c->peers[c->n_peers])
				return -1;
			c->n_peers++;
		}
		return 0;
	}
	if (strcmp(k, "log_level") == 0)
		return iolm_log_level_parse(&c->log_level, v) ? -1 : 0;
	if (strcmp(k, "history_index") == 0 || strcmp(k, "art_keep_checkpoints") == 0) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		*(k[0] == 'h' ? &c->history_index : &c->art_keep_checkpoints) = strcmp(v, "on") == 0;
		return 0;
	}
	if (strcmp(k, "log_format") == 0)
		return iolm_log_format_parse(&c->log_format, v) ? -1 : 0;
	static const struct {
		const char *name;
		size_t off;
		uint32_t min, max;
	} nums[] = {
		{ "heartbeat_ms", offsetof(node_config, heartbeat_ms), 10, 3600000 },
		{ "timeout_propose_ms", offsetof(node_config, propose_ms), 10, 600000 },
		{ "timeout_propose_delta_ms", offsetof(node_config, propose_delta_ms), 0, 600000 },
		{ "timeout_vote_ms", offsetof(node_config, vote_ms), 10, 600000 },
		{ "timeout_vote_delta_ms", offsetof(node_config, vote_delta_ms), 0, 600000 },
		{ "art_peer_kib_s", offsetof(node_config, art_peer_kib_s), 0, 1u << 30 },
		{ "art_global_kib_s", offsetof(node_config, art_global_kib_s), 0, 1u << 30 },
		{ "art_window", offsetof(node_config, art_window), 1, 256 },
		{ "art_keep_mb", offsetof(node_config, art_keep_mb), 0, 1u << 30 },
		{ "rpc_public_downloads", offsetof(node_config, rpc_public_downloads), 0, 1024 },
		{ "mempool_ttl_blocks", offsetof(node_config, mempool_ttl_blocks), 0, 100000000 },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		if (strcmp(k, nums[i].name) == 0) {
			if (parse_u32(v, nums[i].min, nums[i].max, &x))
				return -1;
			memcpy((char *)c + nums[i].off, &x, sizeof x);
			return 0;
		}
	}
	if (strcmp(k, "mempool_max_txs") == 0) {
		if (parse_u32(v, 1, 10000000, &x))
			return -1;
		c->mempool_max_txs = x;
		return 0;
	}
	if (strcmp(k, "mempool_max_mb") == 0) {
		if (parse_u32(v, 1, 65536, &x))
			return -1;
		c->mempool_max_bytes = (size_t)x << 20;
		return 0;
	}
	if (strcmp(k, "lmdb_map_mb") == 0) {
		if (parse_u32(v, 16, 1u << 24, &x))
			return -1;
		c->map_size_mb = x;
		return 0;
	}
	return -2;
}

#define CONFIG_MAX_BYTES (1u << 20)

int node_config_parse(node_config *c, const char *dir, const char *text, size_t len,
		      const char *source, char *err, size_t errlen)
{
	char line[4096];
	size_t pos = 0;
	int lineno = 0, rc = IOLM_OK;

	node_config_default(c, dir);
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", source, CONFIG_MAX_BYTES);
		return IOLM_ETOOBIG;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n >= sizeof line) {
			snprintf(err, errlen, "%s:%d: line too long", source, lineno);
			rc = IOLM_EINVAL;
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (strlen(line) != n) {
			snprintf(err, errlen, "%s:%d: NUL byte in line", source, lineno);
			rc = IOLM_EINVAL;
			break;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", source, lineno);
			rc = IOLM_EINVAL;
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		int r = set_key(c, k, v);
		if (r) {
			snprintf(err, errlen, r == -2 ? "%s:%d: unknown key \"%.64s\""
						      : "%s:%d: bad value for \"%.64s\"",
				 source, lineno, k);
			rc = IOLM_EINVAL;
			break;
		}
	}
	if (rc)
		node_config_release(c);
	return rc;
}

int node_config_load(node_config *c, const char *dir, char *err, size_t errlen)
{
	char path[1200];
	char *buf = NULL;
	FILE *fp;
	size_t n;
	int rc;

	node_config_default(c, dir);
	snprintf(path, sizeof path, "%s/node.conf", dir);
	fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? IOLM_ENOTFOUND : IOLM_EIO;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(fp);
		return IOLM_ENOMEM;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, fp);
	rc = ferror(fp) ? IOLM_EIO : node_config_parse(c, dir, buf, n, path, err, errlen);
	fclose(fp);
	free(buf);
	return rc;
}

static const char *level_name(enum iolm_log_level l)
{
	static const char *const n[] = { "error", "warn", "info", "debug", "trace" };
	return (unsigned)l <= IOLM_LOG_TRACE ? n[l] : "info";
}

int node_config_save(const node_config *c)
{
	char path[1200], tmp[1300];
	snprintf(path, sizeof path, "%s/node.conf", c->dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	if (!fp)
		return IOLM_EIO;
	fprintf(fp, "# iolmd configuration (docs/operator.md)\n");
	fprintf(fp, "p2p_listen = %s:%u\n", c->p2p_host, c->p2p_port);
	fprintf(fp, "rpc_listen = %s:%u\n", c->rpc_host, c->rpc_port);
	fprintf(fp, "peers =");
	for (size_t i = 0; i < c->n_peers; i++)
		fprintf(fp, "%s%s", i ? ", " : " ", c->peers[i]);
	fprintf(fp, "\nheartbeat_ms = %u\n", c->heartbeat_ms);
	fprintf(fp, "timeout_propose_ms = %u\ntimeout_propose_delta_ms = %u\n", c->propose_ms,
		c->propose_delta_ms);
	fprintf(fp, "timeout_vote_ms = %u\ntimeout_vote_delta_ms = %u\n", c->vote_ms,
		c->vote_delta_ms);
	fprintf(fp, "mempool_max_txs = %zu\nmempool_max_mb = %zu\n", c->mempool_max_txs,
		c->mempool_max_bytes >> 20);
	fprintf(fp, "mempool_ttl_blocks = %u\n", c->mempool_ttl_blocks);
	fprintf(fp, "lmdb_map_mb = %zu\n", c->map_size_mb);
	fprintf(fp, "art_peer_kib_s = %u\nart_global_kib_s = %u\n", c->art_peer_kib_s,
		c->art_global_kib_s);
	fprintf(fp, "art_window = %u\n", c->art_window);
	fprintf(fp, "art_keep_mb = %u\n", c->art_keep_mb);
	fprintf(fp, "art_keep_checkpoints = %s\n", c->art_keep_checkpoints ? "on" : "off");
	fprintf(fp, "rpc_public_downloads = %u\n", c->rpc_public_downloads);
	fprintf(fp, "history_index = %s\n", c->history_index ? "on" : "off");
	fprintf(fp, "log_level = %s\nlog_format = %s\n", level_name(c->log_level),
		c->log_format == IOLM_LOG_JSON ? "json" : "text");
	if (fflush(fp) || fsync(fileno(fp))) {
		fclose(fp);
		unlink(tmp);
		return IOLM_EIO;
	}
	fclose(fp);
	return rename(tmp, path) ? IOLM_EIO : IOLM_OK;
}
