/* iolm-load: a load of signed transfers against a local testnet, with live lines of
 * height, transactions committed and latency (scripts/devnet runs it).
 *
 *   iolm-load --testnet DIR [--rate TX_PER_S] [--seconds S] [--accounts K]
 *
 * It funds K accounts from the testnet's faucet key, then has them send transfers to
 * each other at the given rate, spread over the nodes' RPC endpoints. Each second it
 * prints one line; latency is from submission until the transaction shows up in a
 * committed block, measured on a sample of transactions. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/key.h"
#include "ledger/ledger.h"
#include "core/httpc.h"
#include "node/node.h"

#define MAX_NODES 64
#define MAX_SAMPLES 64

struct rpc_node {
	iolm_httpc *c;
	char token[65];
	char dir[1200];
};

static struct rpc_node nodes[MAX_NODES];
static int n_nodes;
static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static int read_token(struct rpc_node *r)
{
	char path[1300];
	snprintf(path, sizeof path, "%s/rpc.cookie", r->dir);
	return iolm_httpc_read_cookie(r->token, path);
}

static json_t *get_json(struct rpc_node *r, const char *path)
{
	iolm_buf out;
	int status;
	json_t *j = NULL;
	iolm_buf_init(&out, 8u << 20);
	if (iolm_httpc_request(r->c, "GET", path, NULL, NULL, 0, &status, &out, 5000) == IOLM_OK &&
	    status == 200)
		j = json_loadb((const char *)out.data, out.len, 0, NULL);
	iolm_buf_release(&out, 0);
	return j;
}

/* POST a transaction to one node: 0 on acceptance, the node's error code otherwise.
 * *reached says whether the node answered at all. */
static int post_tx(struct rpc_node *r, const iolm_buf *tx, int *reached)
{
	char *hex = malloc(2 * tx->len + 1);
	iolm_buf out;
	int status, rc;
	*reached = 0;
	if (!hex)
		return IOLM_ENOMEM;
	iolm_hex_encode(hex, 2 * tx->len + 1, tx->data, tx->len);
	iolm_buf_init(&out, 1 << 16);
	rc = iolm_httpc_request(r->c, "POST", "/tx", r->token, hex, 2 * tx->len, &status, &out,
				5000);
	free(hex);
	if (!rc) {
		*reached = 1;
		if (status != 200) {
			json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
			json_t *code = j ? json_object_get(json_object_get(j, "error"), "code")
					 : NULL;
			rc = code ? (int)json_integer_value(code) : IOLM_EIO;
			json_decref(j);
		}
	}
	iolm_buf_release(&out, 0);
	return rc;
}

/* POST to the nodes in turn from node `first`: one that is down (restarting) is skipped,
 * and one that refuses our cookie (it restarted and wrote a new one) is asked again with
 * the new cookie. The first answer counts. */
static int post_tx_any(size_t first, const iolm_buf *tx)
{
	int rc = IOLM_EIO, reached;
	for (int k = 0; k < n_nodes; k++) {
		struct rpc_node *r = &nodes[(first + (size_t)k) % (size_t)n_nodes];
		rc = post_tx(r, tx, &reached);
		if (reached && rc == IOLM_ERPC_AUTH && read_token(r) == 0)
			rc = post_tx(r, tx, &reached);
		if (reached)
			return rc;
	}
	return rc;
}

/* GET from the first node that answers. */
static json_t *get_json_any(const char *path)
{
	for (int k = 0; k < n_nodes; k++) {
		json_t *j = get_json(&nodes[k], path);
		if (j)
			return j;
	}
	return NULL;
}

static uint64_t account_nonce(const uint8_t id[IOLM_ADDR_LEN])
{
	char path[128], addr[IOLM_ADDR_STRLEN + 1];
	iolm_addr_encode(addr, id);
	snprintf(path, sizeof path, "/account/%s", addr);
	json_t *j = get_json_any(path);
	uint64_t n = j ? (uint64_t)json_integer_value(json_object_get(j, "nonce")) : 0;
	json_decref(j);
	return n;
}

static uint64_t node_height(void)
{
	json_t *j = get_json_any("/status");
	uint64_t h = j ? (uint64_t)json_integer_value(json_object_get(j, "height")) : 0;
	json_decref(j);
	return h;
}

static void transfer(iolm_buf *out, const iolm_key *from, const uint8_t to[IOLM_ADDR_LEN],
		     uint64_t amount, uint64_t nonce, const char *chain)
{
	Iolm__TxBody b = IOLM__TX_BODY__INIT;
	Iolm__Transfer t = IOLM__TRANSFER__INIT;
	t.to.data = (uint8_t *)to;
	t.to.len = IOLM_ADDR_LEN;
	t.amount = amount;
	b.nonce = nonce;
	b.fee = 1;
	b.kind_case = IOLM__TX_BODY__KIND_TRANSFER;
	b.transfer = &t;
	iolm_buf_reset(out);
	if (ledger_tx_sign(out, &b, from, chain))
		exit(1);
}

/* Fund account i with the faucet's nonce start + i. A transfer accepted by a node that
 * then went down before gossiping it is lost, so whatever has not landed after a while is
 * sent again (a copy still in a mempool is refused as a duplicate, which is fine). */
static int fund(iolm_buf *tx, const iolm_key *faucet, const uint8_t fid[IOLM_ADDR_LEN],
		uint8_t (*ids)[IOLM_ADDR_LEN], long k, const char *chain)
{
	uint64_t start = account_nonce(fid);
	for (int attempt = 0; attempt < 10 && !stop; attempt++) {
		uint64_t next = account_nonce(fid); /* 0 when no node answers */
		for (uint64_t i = next > start ? next - start : 0; i < (uint64_t)k && !stop; i++) {
			transfer(tx, faucet, ids[i], 1000000000, start + i, chain);
			(void)post_tx_any((size_t)i + (size_t)attempt, tx);
		}
		for (int w = 0; w < 200 && !stop; w++) {
			if (account_nonce(fid) >= start + (uint64_t)k)
				return 0;
			iolm_sleep_ms(100);
		}
	}
	return -1;
}

struct sample {
	uint8_t id[32];
	uint64_t sent_ms;
	int used;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	long rate = 200, seconds = 0, k = 64;
	for (int i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--testnet"))
			dir = argv[++i];
		else if (!strcmp(argv[i], "--rate"))
			rate = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--accounts"))
			k = strtol(argv[++i], NULL, 10);
	}
	if (!dir || rate < 1 || k < 2 || k > 100000) {
		fprintf(stderr, "usage: iolm-load --testnet DIR [--rate TX_PER_S] [--seconds S] "
				"[--accounts K]\n");
		return 2;
	}
	if (iolm_crypto_init())
		return 1;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);

	/* the testnet: nodes, chain id, faucet */
	for (n_nodes = 0; n_nodes < MAX_NODES; n_nodes++) {
		struct rpc_node *r = &nodes[n_nodes];
		node_config c;
		char err[512];
		snprintf(r->dir, sizeof r->dir, "%s/node%d", dir, n_nodes);
		if (node_config_load(&c, r->dir, err, sizeof err))
			break;
		int bad = iolm_httpc_create(&r->c, c.rpc_host, c.rpc_port) || read_token(r);
		node_config_release(&c);
		if (bad) {
			fprintf(stderr, "iolm-load: node%d has no RPC cookie yet (is it running?)\n",
				n_nodes);
			return 1;
		}
	}
	if (n_nodes == 0) {
		fprintf(stderr, "iolm-load: no node0 in %s\n", dir);
		return 1;
	}
	ledger_genesis *g;
	char path[1300], err[512];
	snprintf(path, sizeof path, "%s/genesis.json", nodes[0].dir);
	if (ledger_genesis_load(&g, path, err, sizeof err)) {
		fprintf(stderr, "iolm-load: %s\n", err);
		return 1;
	}
	const char *chain = ledger_genesis_chain_id(g);
	iolm_key faucet;
	snprintf(path, sizeof path, "%s/faucet.key", dir);
	if (iolm_key_load(&faucet, path)) {
		fprintf(stderr, "iolm-load: cannot load %s\n", path);
		return 1;
	}

	/* accounts from a per-run seed */
	iolm_key *keys = calloc((size_t)k, sizeof *keys);
	uint8_t (*ids)[IOLM_ADDR_LEN] = calloc((size_t)k, IOLM_ADDR_LEN);
	uint64_t *nonces = calloc((size_t)k, sizeof *nonces);
	if (!keys || !ids || !nonces)
		return 1;
	for (long i = 0; i < k; i++) {
		if (iolm_key_generate(&keys[i]))
			return 1;
		iolm_addr_from_pub(ids[i], iolm_key_pub(&keys[i]));
	}
	iolm_buf tx;
	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	uint8_t fid[IOLM_ADDR_LEN];
	iolm_addr_from_pub(fid, iolm_key_pub(&faucet));
	printf("funding %ld accounts from the faucet...\n", k);
	if (fund(&tx, &faucet, fid, ids, k, chain)) {
		fprintf(stderr, "iolm-load: could not fund the accounts\n");
		return 1;
	}

	/* the load */
	struct sample samples[MAX_SAMPLES];
	uint64_t lat[4096];
	size_t n_lat = 0;
	memset(samples, 0, sizeof samples);
	uint64_t sent = 0, refused = 0, start = iolm_clock_wall_ms(), next_line = start + 1000;
	uint64_t h0 = node_height(), last_committed = 0;
	uint64_t rng = iolm_clock_mono_ns();
	printf("sending %ld tx/s over %d nodes; Ctrl-C stops\n", rate, n_nodes);
	fflush(stdout);
	while (!stop) {
		uint64_t now = iolm_clock_wall_ms();
		if (seconds && now >= start + (uint64_t)seconds * 1000)
			break;
		uint64_t due = (now - start) * (uint64_t)rate / 1000;
		while (sent + refused < due && !stop) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			long from = (long)((rng >> 33) % (uint64_t)k), to = (long)((rng >> 13) % (uint64_t)k);
			transfer(&tx, &keys[from], ids[to], 1 + (rng >> 55), nonces[from], chain);
			int rc = post_tx_any((size_t)(sent + refused), &tx);
			if (rc) {
				refused++;
				/* our nonce may have run ahead of a dropped tx: resync it */
				nonces[from] = account_nonce(ids[from]);
				continue;
			}
			nonces[from]++;
			sent++;
			for (int s = 0; s < MAX_SAMPLES; s++) {
				if (!samples[s].used && (sent % 7) == 0) {
					iolm_hash(samples[s].id, IOLM_TAG_TX, tx.data, tx.len);
					samples[s].sent_ms = iolm_clock_wall_ms();
					samples[s].used = 1;
					break;
				}
			}
		}
		/* latency samples: committed yet? */
		for (int s = 0; s < MAX_SAMPLES; s++) {
			if (!samples[s].used)
				continue;
			char hex[65], p[96];
			iolm_hex_encode(hex, sizeof hex, samples[s].id, 32);
			snprintf(p, sizeof p, "/tx/%s", hex);
			json_t *j = get_json_any(p);
			const char *st = j ? json_string_value(json_object_get(j, "status")) : NULL;
			if (st && strcmp(st, "committed") == 0) {
				if (n_lat < sizeof lat / sizeof lat[0])
					lat[n_lat++] = iolm_clock_wall_ms() - samples[s].sent_ms;
				samples[s].used = 0;
			}
			json_decref(j);
		}
		if (now >= next_line) {
			uint64_t h = node_height();
			json_t *st = get_json_any("/status");
			uint64_t mem = st ? (uint64_t)json_integer_value(
						    json_object_get(json_object_get(st, "mempool"), "txs"))
					  : 0;
			json_decref(st);
			uint64_t committed = sent - mem > last_committed ? sent - mem : last_committed;
			last_committed = committed;
			qsort(lat, n_lat, sizeof lat[0], cmp_u64);
			printf("height %6llu | blocks +%llu | txs sent %7llu committed ~%7llu | "
			       "latency p50 %4llu ms p90 %4llu ms | refused %llu\n",
			       (unsigned long long)h, (unsigned long long)(h - h0),
			       (unsigned long long)sent, (unsigned long long)committed,
			       (unsigned long long)(n_lat ? lat[n_lat / 2] : 0),
			       (unsigned long long)(n_lat ? lat[(n_lat * 9) / 10] : 0),
			       (unsigned long long)refused);
			fflush(stdout);
			n_lat = 0;
			h0 = h;
			next_line += 1000;
		}
		iolm_sleep_ms(5);
	}
	printf("sent %llu transactions (%llu refused)\n", (unsigned long long)sent,
	       (unsigned long long)refused);
	for (int i = 0; i < n_nodes; i++)
		iolm_httpc_destroy(nodes[i].c);
	for (long i = 0; i < k; i++)
		iolm_key_wipe(&keys[i]);
	iolm_key_wipe(&faucet);
	free(keys);
	free(ids);
	free(nonces);
	iolm_buf_release(&tx, 0);
	ledger_genesis_destroy(g);
	return 0;
}
