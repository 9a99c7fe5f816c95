/* iolmd: the iolm validator node (docs/operator.md).
 *
 *   iolmd init    -d DIR --genesis FILE [--p2p HOST:PORT] [--rpc HOST:PORT] [--peers LIST]
 *   iolmd testnet --validators N --out DIR [--base-port P] [--chain-id ID]
 *   iolmd start   -d DIR [--log-level L] [--log-format text|json]
 *   iolmd status  (-d DIR | --rpc HOST:PORT)
 *   iolmd version */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/key.h"
#include "node/cli.h"
#include "core/httpc.h"
#include "node/node.h"

#define VERSION "0.1.0"

static int usage(void)
{
	fprintf(stderr,
		"usage: iolmd <command> [options]\n"
		"  init    -d DIR --genesis FILE [--p2p HOST:PORT] [--rpc HOST:PORT] [--peers LIST]\n"
		"          create a data directory with a new node key and configuration\n"
		"  testnet --validators N --out DIR [--base-port P] [--chain-id ID]\n"
		"          keys, genesis and configurations for N validators on loopback\n"
		"  start   -d DIR [--log-level error|warn|info|debug] [--log-format text|json]\n"
		"          run the node until SIGINT or SIGTERM\n"
		"  status  (-d DIR | --rpc HOST:PORT)   print the node's status\n"
		"  art     add|get|list -d DIR ...      the node's artifact store\n"
		"  tx      transfer|task-create|model-pay ...   sign and submit a transaction\n"
		"  version\n");
	return 2;
}

const char *cli_opt(int argc, char **argv, const char *name)
{
	for (int i = 2; i < argc - 1; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

#define opt cli_opt

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[65536];
	size_t n;
	int rc = 0;
	if (!in)
		return -1;
	out = fopen(to, "wb");
	if (!out) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in) || fclose(out))
		rc = -1;
	fclose(in);
	return rc;
}

static int make_key(const char *dir, const char *name, iolm_key *key)
{
	char path[1200];
	int err;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((err = iolm_key_generate(key)) || (err = iolm_key_save(key, path, 0))) {
		fprintf(stderr, "iolmd: %s: %s\n", path, iolm_strerror(err));
		return err;
	}
	return IOLM_OK;
}

static int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *c = s ? strrchr(s, ':') : NULL;
	long p;
	if (!c || c == s || (size_t)(c - s) >= hostlen)
		return -1;
	p = strtol(c + 1, NULL, 10);
	if (p < 0 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	const char *dir = opt(argc, argv, "-d"), *genesis = opt(argc, argv, "--genesis");
	node_config c;
	iolm_key key;
	char path[1200];
	int err;

	if (!dir || !genesis)
		return usage();
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "iolmd: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/node.conf", dir);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "iolmd: %s already exists; not overwriting\n", path);
		return 1;
	}
	node_config_default(&c, dir);
	if (opt(argc, argv, "--p2p") &&
	    parse_hostport(opt(argc, argv, "--p2p"), c.p2p_host, sizeof c.p2p_host, &c.p2p_port))
		return usage();
	if (opt(argc, argv, "--rpc") &&
	    parse_hostport(opt(argc, argv, "--rpc"), c.rpc_host, sizeof c.rpc_host, &c.rpc_port))
		return usage();
	const char *peers = opt(argc, argv, "--peers");
	if (peers) {
		char *list = strdup(peers);
		for (char *save = NULL, *t = strtok_r(list, ",", &save);
		     t && c.n_peers < NODE_MAX_PEERS_CONF; t = strtok_r(NULL, ",", &save))
			c.peers[c.n_peers++] = strdup(t);
		free(list);
	}
	snprintf(path, sizeof path, "%s/genesis.json", dir);
	if (copy_file(genesis, path)) {
		fprintf(stderr, "iolmd: cannot copy %s to %s\n", genesis, path);
		node_config_release(&c);
		return 1;
	}
	if ((err = make_key(dir, "node.key", &key)) || (err = node_config_save(&c))) {
		node_config_release(&c);
		return 1;
	}
	char hex[65];
	iolm_hex_encode(hex, sizeof hex, iolm_key_pub(&key), 32);
	printf("initialised %s\nnode key (validator pubkey): %s\n", dir, hex);
	iolm_key_wipe(&key);
	node_config_release(&c);
	return 0;
}

static int write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	if (!fp || fputs(text, fp) < 0) {
		if (fp)
			fclose(fp);
		return -1;
	}
	return fclose(fp) ? -1 : 0;
}

static int cmd_testnet(int argc, char **argv)
{
	const char *out = opt(argc, argv, "--out"), *nv_s = opt(argc, argv, "--validators");
	const char *chain = opt(argc, argv, "--chain-id");
	long nv = nv_s ? strtol(nv_s, NULL, 10) : 0;
	long base = opt(argc, argv, "--base-port") ? strtol(opt(argc, argv, "--base-port"), NULL, 10)
						    : 26600;
	iolm_key keys[64], faucet;
	char path[1200], hex[65], addr[IOLM_ADDR_STRLEN + 1];
	uint8_t id[IOLM_ADDR_LEN];
	json_t *g = NULL;
	int rc = 1;

	if (!out || nv < 1 || nv > 64 || base < 1024 || base + 2 * nv > 65535)
		return usage();
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "iolmd: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (make_key(out, "faucet.key", &faucet))
		return 1;
	for (long i = 0; i < nv; i++) {
		snprintf(path, sizeof path, "%s/node%ld", out, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return 1;
		if (make_key(path, "node.key", &keys[i]))
			return 1;
	}
	g = json_object();
	json_t *vals = json_array(), *allocs = json_array(), *params = json_object();
	json_object_set_new(g, "chain_id", json_string(chain ? chain : "iolm-devnet"));
	json_object_set_new(g, "genesis_time_ms", json_integer((json_int_t)iolm_clock_wall_ms()));
	json_object_set_new(params, "min_fee", json_integer(1));
	json_object_set_new(g, "params", params);
	iolm_addr_from_pub(id, iolm_key_pub(&faucet));
	iolm_addr_encode(addr, id);
	json_t *a = json_object();
	json_object_set_new(a, "address", json_string(addr));
	json_object_set_new(a, "amount", json_string("1000000000000000"));
	json_array_append_new(allocs, a);
	json_object_set_new(g, "allocations", allocs);
	/* validators pay fees for their attestations */
	for (long i = 0; i < nv; i++) {
		json_t *va = json_object();
		iolm_addr_from_pub(id, iolm_key_pub(&keys[i]));
		iolm_addr_encode(addr, id);
		json_object_set_new(va, "address", json_string(addr));
		json_object_set_new(va, "amount", json_integer(1000000000));
		json_array_append_new(allocs, va);
	}
	iolm_addr_from_pub(id, iolm_key_pub(&faucet));
	iolm_addr_encode(addr, id);
	for (long i = 0; i < nv; i++) {
		json_t *v = json_object();
		char name[32];
		iolm_hex_encode(hex, sizeof hex, iolm_key_pub(&keys[i]), 32);
		snprintf(name, sizeof name, "node%ld", i);
		json_object_set_new(v, "pubkey", json_string(hex));
		json_object_set_new(v, "power", json_integer(10));
		json_object_set_new(v, "name", json_string(name));
		json_array_append_new(vals, v);
	}
	json_object_set_new(g, "validators", vals);
	char *text = json_dumps(g, JSON_INDENT(2));
	if (!text)
		goto out;
	for (long i = 0; i < nv; i++) {
		node_config c;
		snprintf(path, sizeof path, "%s/node%ld", out, i);
		node_config_default(&c, path);
		c.p2p_port = (uint16_t)(base + 2 * i);
		c.rpc_port = (uint16_t)(base + 2 * i + 1);
		for (long j = 0; j < nv; j++) {
			char peer[64];
			if (j == i)
				continue;
			snprintf(peer, sizeof peer, "127.0.0.1:%ld", base + 2 * j);
			c.peers[c.n_peers++] = strdup(peer);
		}
		snprintf(path, sizeof path, "%s/node%ld/genesis.json", out, i);
		int err = write_text(path, text) ? IOLM_EIO : node_config_save(&c);
		node_config_release(&c);
		if (err) {
			fprintf(stderr, "iolmd: cannot write %s\n", path);
			free(text);
			goto out;
		}
	}
	free(text);
	printf("testnet of %ld validators in %s (chain %s)\n", nv, out, chain ? chain : "iolm-devnet");
	for (long i = 0; i < nv; i++)
		printf("  node%ld: p2p 127.0.0.1:%ld  rpc 127.0.0.1:%ld\n", i, base + 2 * i,
		       base + 2 * i + 1);
	printf("faucet: %s (key in %s/faucet.key)\n", addr, out);
	rc = 0;
out:
	json_decref(g);
	for (long i = 0; i < nv; i++)
		iolm_key_wipe(&keys[i]);
	iolm_key_wipe(&faucet);
	return rc;
}

static int cmd_start(int argc, char **argv)
{
	const char *dir = opt(argc, argv, "-d");
	node_config c;
	char err[512];
	if (!dir)
		return usage();
	int rc = node_config_load(&c, dir, err, sizeof err);
	if (rc) {
		fprintf(stderr, "iolmd: %s\n", err);
		return 1;
	}
	if (opt(argc, argv, "--log-level") &&
	    iolm_log_level_parse(&c.log_level, opt(argc, argv, "--log-level")))
		return usage();
	if (opt(argc, argv, "--log-format") &&
	    iolm_log_format_parse(&c.log_format, opt(argc, argv, "--log-format")))
		return usage();
	rc = node_run(&c);
	node_config_release(&c);
	if (rc) {
		fprintf(stderr, "iolmd: stopped: %s\n", iolm_strerror(rc));
		return 1;
	}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	const char *dir = opt(argc, argv, "-d"), *rpc = opt(argc, argv, "--rpc");
	char host[256];
	uint16_t port;
	iolm_httpc *c;
	iolm_buf out;
	int status, rc;

	if (dir) {
		node_config cfg;
		char err[512];
		if (node_config_load(&cfg, dir, err, sizeof err)) {
			fprintf(stderr, "iolmd: %s\n", err);
			return 1;
		}
		snprintf(host, sizeof host, "%s", cfg.rpc_host);
		port = cfg.rpc_port;
		node_config_release(&cfg);
	} else if (!rpc || parse_hostport(rpc, host, sizeof host, &port)) {
		return usage();
	}
	if (iolm_httpc_create(&c, host, port))
		return 1;
	iolm_buf_init(&out, 1 << 20);
	rc = iolm_httpc_request(c, "GET", "/status", NULL, NULL, 0, &status, &out, 5000);
	if (rc || status != 200) {
		fprintf(stderr, "iolmd: no answer from %s:%u: %s\n", host, port,
			rc ? iolm_strerror(rc) : "HTTP error");
		rc = 1;
	} else {
		fwrite(out.data, 1, out.len, stdout);
		if (out.len && out.data[out.len - 1] != '\n')
			putchar('\n');
	}
	iolm_buf_release(&out, 0);
	iolm_httpc_destroy(c);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (iolm_crypto_init())
		return 1;
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc, argv);
	if (strcmp(argv[1], "testnet") == 0)
		return cmd_testnet(argc, argv);
	if (strcmp(argv[1], "start") == 0)
		return cmd_start(argc, argv);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(argc, argv);
	if (strcmp(argv[1], "art") == 0)
		return cli_art(argc, argv);
	if (strcmp(argv[1], "tx") == 0)
		return cli_tx(argc, argv);
	if (strcmp(argv[1], "version") == 0) {
		printf("iolmd %s\n", VERSION);
		return 0;
	}
	return usage();
}
