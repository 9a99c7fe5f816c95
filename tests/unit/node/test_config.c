/* node.conf (node/config.c): every key over the defaults, the errors that name the line,
 * and save then load giving back the same configuration. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test_util.h"

#include "node/node.h"

static int parse(node_config *c, const char *text, char *err, size_t errlen)
{
	err[0] = 0;
	return node_config_parse(c, "/data", text, strlen(text), "node.conf", err, errlen);
}

static void defaults_then_every_key(void **state)
{
	node_config c;
	char err[256];
	(void)state;
	assert_int_equal(parse(&c, "# nothing but a comment\n\n", err, sizeof err), IOLM_OK);
	assert_string_equal(c.dir, "/data");
	assert_int_equal(c.p2p_port, 26656);
	assert_int_equal(c.rpc_port, 26657);
	assert_int_equal(c.art_peer_kib_s, 0);
	assert_int_equal(c.art_global_kib_s, 0);
	assert_int_equal(c.history_index, 1);
	assert_int_equal(c.art_window, 128);
	assert_int_equal(c.art_keep_mb, 0);
	assert_int_equal(c.art_keep_checkpoints, 1);
	assert_int_equal(c.rpc_public_downloads, 0);
	assert_int_equal(c.mempool_ttl_blocks, 3600);
	node_config_release(&c);

	const char *text = "p2p_listen = 0.0.0.0:4000\n"
			   "rpc_listen = 127.0.0.1:4001\n"
			   "peers = 127.0.0.1:5000, 10.0.0.2:5001\n"
			   "heartbeat_ms = 250\n"
			   "timeout_propose_ms = 900\n"
			   "timeout_propose_delta_ms = 10\n"
			   "timeout_vote_ms = 300\n"
			   "timeout_vote_delta_ms = 20\n"
			   "mempool_max_txs = 5000\n"
			   "mempool_max_mb = 8\n"
			   "mempool_ttl_blocks = 0\n"
			   "lmdb_map_mb = 1024\n"
			   "art_peer_kib_s = 2048\n"
			   "   art_global_kib_s=8192   \n"
			   "history_index = off\n"
			   "art_window = 48\n"
			   "art_keep_mb = 10240\n"
			   "art_keep_checkpoints = off\n"
			   "rpc_public_downloads = 16\n"
			   "log_level = debug\n"
			   "log_format = json";
	assert_int_equal(parse(&c, text, err, sizeof err), IOLM_OK);
	assert_string_equal(c.p2p_host, "0.0.0.0");
	assert_int_equal(c.p2p_port, 4000);
	assert_int_equal(c.rpc_port, 4001);
	assert_int_equal(c.n_peers, 2);
	assert_string_equal(c.peers[1], "10.0.0.2:5001");
	assert_int_equal(c.heartbeat_ms, 250);
	assert_int_equal(c.propose_ms, 900);
	assert_int_equal(c.propose_delta_ms, 10);
	assert_int_equal(c.vote_ms, 300);
	assert_int_equal(c.vote_delta_ms, 20);
	assert_int_equal(c.mempool_max_txs, 5000);
	assert_int_equal(c.mempool_max_bytes, (size_t)8 << 20);
	assert_int_equal(c.mempool_ttl_blocks, 0);
	assert_int_equal(c.map_size_mb, 1024);
	assert_int_equal(c.art_peer_kib_s, 2048);
	assert_int_equal(c.art_global_kib_s, 8192);
	assert_int_equal(c.history_index, 0);
	assert_int_equal(c.art_window, 48);
	assert_int_equal(c.art_keep_mb, 10240);
	assert_int_equal(c.art_keep_checkpoints, 0);
	assert_int_equal(c.rpc_public_downloads, 16);
	assert_int_equal(c.history_index, 0);
	assert_int_equal(c.log_level, IOLM_LOG_DEBUG);
	assert_int_equal(c.log_format, IOLM_LOG_JSON);
	node_config_release(&c);
}

static void errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "heartbeat_ms = 100\nno_such_key = 1\n", "node.conf:2: unknown key \"no_such_key\"" },
		{ "art_peer_kib_s = -1\n", "node.conf:1: bad value for \"art_peer_kib_s\"" },
		{ "\nart_global_kib_s = 1073741825\n", "node.conf:2: bad value for \"art_global_kib_s\"" },
		{ "heartbeat_ms = 5\n", "node.conf:1: bad value for \"heartbeat_ms\"" },
		{ "rpc_listen = nohost\n", "node.conf:1: bad value for \"rpc_listen\"" },
		{ "p2p_listen = 1.2.3.4:65536\n", "node.conf:1: bad value for \"p2p_listen\"" },
		{ "log_level = loud\n", "node.conf:1: bad value for \"log_level\"" },
		{ "history_index = 0\n", "node.conf:1: bad value for \"history_index\"" },
		{ "art_keep_checkpoints = yes\n",
		  "node.conf:1: bad value for \"art_keep_checkpoints\"" },
		{ "art_window = 257\n", "node.conf:1: bad value for \"art_window\"" },
		{ "art_window = 0\n", "node.conf:1: bad value for \"art_window\"" },
		{ "art_keep_mb = 1073741825\n", "node.conf:1: bad value for \"art_keep_mb\"" },
		{ "rpc_public_downloads = 1025\n",
		  "node.conf:1: bad value for \"rpc_public_downloads\"" },
		{ "mempool_ttl_blocks = 100000001\n",
		  "node.conf:1: bad value for \"mempool_ttl_blocks\"" },
		{ "just words\n", "node.conf:1: expected key = value" },
	};
	node_config c;
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(&c, bad[i].text, err, sizeof err), IOLM_EINVAL);
		assert_string_equal(err, bad[i].msg);
	}
	/* a NUL inside a line, a line past 4 KiB, a file past 1 MiB */
	const char nul[] = "heartbeat_ms = 1\0000\n";
	assert_int_equal(node_config_parse(&c, "/d", nul, sizeof nul - 1, "f", err, sizeof err),
			 IOLM_EINVAL);
	assert_string_equal(err, "f:1: NUL byte in line");
	size_t big = (1u << 20) + 1;
	char *t = malloc(big + 1);
	assert_non_null(t);
	memset(t, '#', big);
	t[big] = 0;
	t[5000] = '\n';
	assert_int_equal(node_config_parse(&c, "/d", t, 6000, "f", err, sizeof err), IOLM_EINVAL);
	assert_string_equal(err, "f:1: line too long");
	assert_int_equal(node_config_parse(&c, "/d", t, big, "f", err, sizeof err), IOLM_ETOOBIG);
	free(t);
}

static void save_then_load_round_trips(void **state)
{
	char dir[] = "/tmp/iolm-test-conf-XXXXXX", err[256], path[300];
	node_config a, b;
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(node_config_load(&b, dir, err, sizeof err), IOLM_ENOTFOUND);
	assert_int_equal(parse(&a, "peers = 127.0.0.1:7001\nart_peer_kib_s = 512\n"
				   "art_global_kib_s = 4096\nlog_format = json\nhistory_index = off\n"
				   "art_window = 8\nmempool_ttl_blocks = 77\nart_keep_mb = 3\n"
				   "art_keep_checkpoints = off\nrpc_public_downloads = 4\n",
			       err, sizeof err),
			 IOLM_OK);
	snprintf(a.dir, sizeof a.dir, "%s", dir);
	assert_int_equal(node_config_save(&a), IOLM_OK);
	assert_int_equal(node_config_load(&b, dir, err, sizeof err), IOLM_OK);
	assert_int_equal(b.n_peers, 1);
	assert_string_equal(b.peers[0], "127.0.0.1:7001");
	assert_int_equal(b.art_peer_kib_s, 512);
	assert_int_equal(b.art_global_kib_s, 4096);
	assert_int_equal(b.log_format, IOLM_LOG_JSON);
	assert_int_equal(b.history_index, 0);
	assert_int_equal(b.art_window, 8);
	assert_int_equal(b.art_keep_mb, 3);
	assert_int_equal(b.art_keep_checkpoints, 0);
	assert_int_equal(b.rpc_public_downloads, 4);
	assert_int_equal(b.mempool_ttl_blocks, 77);
	assert_int_equal(b.map_size_mb, a.map_size_mb);
	assert_int_equal(b.heartbeat_ms, a.heartbeat_ms);
	node_config_release(&a);
	node_config_release(&b);
	snprintf(path, sizeof path, "%s/node.conf", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_then_every_key),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(save_then_load_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
