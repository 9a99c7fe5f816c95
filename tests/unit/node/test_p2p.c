/* P2P transport: node_p2p instances talking to each other on one event_base over
 * 127.0.0.1 (docs/p2p.md). Hostile peers on raw sockets are in test_p2p_hostile.c. */
#include "p2p_fixture.h"

/* ---------------------------------------------------------------- tests */

static void test_handshake_then_frames_flow_both_ways(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_int_equal(a.connects, 1);
	assert_int_equal(b.connects, 1);
	assert_memory_equal(node_peer_key(b.last_peer), iolm_key_pub(&a.key), 32);
	assert_memory_equal(node_peer_key(a.last_peer), iolm_key_pub(&b.key), 32);
	assert_true(node_peer_outbound(b.last_peer));
	assert_false(node_peer_outbound(a.last_peer));
	assert_ptr_equal(node_p2p_peer(a.p, 0), a.last_peer);
	assert_null(node_p2p_peer(a.p, 1));

	send_ping(&a, a.last_peer, 7);
	assert_true(run_until(pings_at_least, &b, 2000));
	assert_int_equal(b.last_ping, 7);
	send_ping(&b, b.last_peer, 9);
	assert_true(run_until(pings_at_least, &a, 2000));
	assert_int_equal(a.last_ping, 9);

	/* Point-to-point kinds are not deduplicated: the same ping twice arrives twice. */
	send_ping(&a, a.last_peer, 7);
	send_ping(&a, a.last_peer, 7);
	run_for(100);
	assert_int_equal(b.pings, 3);

	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.frames_out, 3);
	assert_int_equal(st.frames_in, 1);
	assert_int_equal(st.bad_frames, 0);
	assert_true(st.bytes_in > 0 && st.bytes_out > 0);

	tnode_stop(&b);
	run_for(100);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.disconnects, 1);
	tnode_stop(&a);
}

static void test_broadcast_reaches_all_and_duplicates_drop(void **state)
{
	tnode a = { 0 }, b = { 0 }, c = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t body[100];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	tnode_start(&c, 3, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 2, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_true(run_until(has_peer, &c, 2000));

	make_tx_frame(&f, &tx, body, sizeof body, 0x11);
	assert_int_equal(node_p2p_broadcast(a.p, &f, NULL), IOLM_OK);
	assert_true(run_until(txs_at_least_one, &b, 2000));
	assert_true(run_until(txs_at_least_one, &c, 2000));

	/* b sends one tx twice: a delivers it once and counts the duplicate. */
	make_tx_frame(&f, &tx, body, sizeof body, 0x22);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	/* c sends the same bytes too: still a duplicate at a. */
	assert_int_equal(node_p2p_send(c.p, c.last_peer, &f), IOLM_OK);
	run_for(200);
	assert_int_equal(a.txs, 1);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.dup_dropped, 2);

	/* a's own broadcast echoed back by b is dropped: a marked it seen when sending. */
	make_tx_frame(&f, &tx, body, sizeof body, 0x11);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	run_for(100);
	assert_int_equal(a.txs, 1);

	/* broadcast except one peer */
	make_tx_frame(&f, &tx, body, sizeof body, 0x33);
	int b0 = b.txs, c0 = c.txs;
	node_peer *to_b = NULL;
	for (size_t i = 0; node_p2p_peer(a.p, i); i++)
		if (memcmp(node_peer_key(node_p2p_peer(a.p, i)), iolm_key_pub(&b.key), 32) == 0)
			to_b = node_p2p_peer(a.p, i);
	assert_non_null(to_b);
	assert_int_equal(node_p2p_broadcast(a.p, &f, to_b), IOLM_OK);
	run_for(100);
	assert_int_equal(b.txs, b0);
	assert_int_equal(c.txs, c0 + 1);

	tnode_stop(&c);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_frame_over_cap_refused_on_send(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f;
	Iolm__Tx tx;
	static uint8_t body[8192];

	tnode_start(&a, 1, CHAIN, 0, NULL, 4096);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 4096);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	make_tx_frame(&f, &tx, body, sizeof body, 1);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_ETOOBIG);
	assert_int_equal(node_p2p_broadcast(b.p, &f, NULL), IOLM_ETOOBIG);
	assert_int_equal(node_p2p_relay(b.p, body, sizeof body, NULL), IOLM_ETOOBIG);
	make_tx_frame(&f, &tx, body, 4000, 2);
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_true(run_until(txs_at_least_one, &a, 2000));
	tnode_stop(&b);
	tnode_stop(&a);
}

static int blocks_at_least_300(void *ctx)
{
	return ((tnode *)ctx)->blocks >= 300;
}

/* Artifact blocks bypass the Frame codec both ways (p2p_block.c): 300 of them, 1 byte to
 * 1 MiB, among pings, arrive whole and in order; so do blocks the fast path does not
 * take (an empty chunk id goes through the codec), and a block over the frame cap is
 * refused on send. */
static void test_art_blocks_flow_outside_the_codec(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	crypto_generichash_state want;
	uint8_t d_want[32], d_got[32], id[34];
	uint8_t *data = malloc((size_t)1 << 20);
	uint64_t rng = 0x2545f4914f6cdd1dull;
	node_p2p_stats st;

	assert_non_null(data);
	for (size_t i = 0; i < (size_t)1 << 20; i++)
		data[i] = (uint8_t)(i * 131 + (i >> 9));
	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	crypto_generichash_init(&want, NULL, 0, 32);
	for (int i = 0; i < 300; i++) {
		Iolm__Frame f = IOLM__FRAME__INIT;
		Iolm__ArtBlock blk = IOLM__ART_BLOCK__INIT;
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		size_t n = i % 50 == 7 ? ((size_t)1 << 20) - (rng % 64) : 1 + rng % 131072;
		size_t off = (rng >> 20) % (((size_t)1 << 20) - n + 1);
		memset(id, i, sizeof id);
		blk.chunk_id.data = id;
		blk.chunk_id.len = i % 97 == 5 ? 0 : sizeof id;
		blk.data.data = data + off;
		blk.data.len = n;
		f.msg_case = IOLM__FRAME__MSG_ART_BLOCK;
		f.art_block = &blk;
		assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
		crypto_generichash_update(&want, id, blk.chunk_id.len);
		crypto_generichash_update(&want, data + off, n);
		if (i % 10 == 0)
			send_ping(&b, b.last_peer, (uint64_t)i);
		if (i % 20 == 0)
			event_base_loop(g_base, EVLOOP_NONBLOCK);
	}
	assert_true(run_until(blocks_at_least_300, &a, 10000));
	assert_int_equal(a.blocks, 300);
	assert_int_equal(a.pings, 30);
	assert_int_equal(a.last_ping, 290);
	crypto_generichash_final(&want, d_want, 32);
	crypto_generichash_final(&a.block_digest, d_got, 32);
	assert_memory_equal(d_got, d_want, 32);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.frames_in, 330);
	assert_int_equal(st.bad_frames, 0);
	tnode_stop(&b);
	tnode_stop(&a);

	/* over the cap: refused on send, on either path */
	tnode c = { 0 }, d = { 0 };
	tnode_start(&c, 1, CHAIN, 0, NULL, 4096);
	tnode_start(&d, 2, CHAIN, 0, addr_of(&c, ad), 4096);
	pr = (struct pair){ &c, &d, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	for (int empty = 0; empty < 2; empty++) {
		Iolm__Frame f = IOLM__FRAME__INIT;
		Iolm__ArtBlock blk = IOLM__ART_BLOCK__INIT;
		blk.chunk_id.data = id;
		blk.chunk_id.len = empty ? 0 : sizeof id;
		blk.data.data = data;
		blk.data.len = 4096 - 4;
		f.msg_case = IOLM__FRAME__MSG_ART_BLOCK;
		f.art_block = &blk;
		assert_int_equal(node_p2p_send(d.p, d.last_peer, &f), IOLM_ETOOBIG);
	}
	tnode_stop(&d);
	tnode_stop(&c);
	free(data);
}

static void test_wrong_chain_refused(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats sa, sb;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, "other-chain", 0, addr_of(&a, ad), 0);
	run_for(300);
	node_p2p_get_stats(a.p, &sa);
	node_p2p_get_stats(b.p, &sb);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(node_p2p_peer_count(b.p), 0);
	assert_int_equal(a.connects + b.connects, 0);
	assert_true(sa.handshakes_failed >= 1);
	assert_true(sb.handshakes_failed >= 1);
	assert_int_equal(sa.bans, 0); /* a misconfigured peer is refused, not punished */
	tnode_stop(&b);
	tnode_stop(&a);
}

/* n distinct free ports on 127.0.0.1 (all bound at once, so they differ). */
static void free_ports(uint16_t *ports, int n)
{
	int fds[4];

	assert_true(n <= 4);
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sin = { 0 };
		socklen_t len = sizeof sin;
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&sin, sizeof sin), 0);
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&sin, &len), 0);
		ports[i] = ntohs(sin.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void test_connection_to_self_refused(void **state)
{
	tnode a = { 0 };
	char ad[P2P_ADDR_MAX];
	uint16_t port;
	node_p2p_stats s1, s2;

	free_ports(&port, 1);
	snprintf(ad, sizeof ad, "127.0.0.1:%u", (unsigned)port);
	tnode_start(&a, 1, CHAIN, port, ad, 0);
	run_for(300);
	node_p2p_get_stats(a.p, &s1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.connects, 0);
	assert_int_equal(s1.handshakes_failed, 2); /* the dialling end and the accepting end */
	/* The address is ourselves: it is not redialled (the first redial would come
	 * within 125 ms). */
	run_for(400);
	node_p2p_get_stats(a.p, &s2);
	assert_int_equal(s2.handshakes_failed, 2);
	tnode_stop(&a);
}

static int height_is_42(void *ctx)
{
	node_peer *peer = ((tnode *)ctx)->last_peer;
	return peer && node_peer_height(peer) == 42;
}

static void test_heights_from_hello_and_status(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	Iolm__Frame f = IOLM__FRAME__INIT;
	Iolm__StatusMsg st = IOLM__STATUS_MSG__INIT;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	node_p2p_set_height(a.p, 17);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	assert_int_equal(node_peer_height(b.last_peer), 17);
	assert_int_equal(node_peer_height(a.last_peer), 0);
	st.height = 42;
	f.msg_case = IOLM__FRAME__MSG_STATUS;
	f.status = &st;
	assert_int_equal(node_p2p_send(b.p, b.last_peer, &f), IOLM_OK);
	assert_true(run_until(height_is_42, &a, 2000));
	node_peer_set_height(a.last_peer, 50);
	assert_int_equal(node_peer_height(a.last_peer), 50);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_penalize_past_threshold_bans(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	node_p2p_stats st;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	node_p2p_penalize(a.p, a.last_peer, 60, "test offence");
	assert_int_equal(node_p2p_peer_count(a.p), 1); /* below the threshold: still there */
	node_p2p_penalize(a.p, a.last_peer, 60, "test offence");
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 1);
	/* b keeps redialling and is refused while banned. */
	run_for(600);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.connects, 1);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_reconnect_after_remote_restart(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX];
	uint16_t port;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	port = node_p2p_port(a.p);
	tnode_start(&b, 2, CHAIN, 0, addr_of(&a, ad), 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	tnode_stop(&a);
	run_for(50);
	assert_int_equal(node_p2p_peer_count(b.p), 0);
	assert_int_equal(b.disconnects, 1);
	memset(&a, 0, sizeof a);
	tnode_start(&a, 1, CHAIN, port, NULL, 0);
	assert_true(run_until(both_have, &pr, 3000));
	assert_int_equal(b.connects, 2);
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_duplicate_connections_keep_one(void **state)
{
	tnode a = { 0 }, b = { 0 };
	char ad[P2P_ADDR_MAX], bd[P2P_ADDR_MAX];
	uint16_t ports[2];

	free_ports(ports, 2);
	uint16_t pa = ports[0], pb = ports[1];
	snprintf(ad, sizeof ad, "127.0.0.1:%u", (unsigned)pa);
	snprintf(bd, sizeof bd, "127.0.0.1:%u", (unsigned)pb);
	/* Each dials the other: two connections race, one survives on both ends. */
	tnode_start(&a, 1, CHAIN, pa, bd, 0);
	tnode_start(&b, 2, CHAIN, pb, ad, 0);
	struct pair pr = { &a, &b, 1, 1 };
	assert_true(run_until(both_have, &pr, 2000));
	run_for(400); /* past the first redial */
	assert_int_equal(node_p2p_peer_count(a.p), 1);
	assert_int_equal(node_p2p_peer_count(b.p), 1);
	/* The survivor is one connection: its direction differs at the two ends. */
	assert_int_not_equal(node_peer_outbound(node_p2p_peer(a.p, 0)),
			     node_peer_outbound(node_p2p_peer(b.p, 0)));
	send_ping(&a, node_p2p_peer(a.p, 0), 5);
	assert_true(run_until(pings_at_least, &b, 2000));
	tnode_stop(&b);
	tnode_stop(&a);
}

static void test_seen_cache_remembers_the_last_64k(void **state)
{
	struct p2p_seen s;
	uint32_t v;

	assert_int_equal(p2p_seen_init(&s), IOLM_OK);
	for (v = 0; v < P2P_SEEN_CAP + 5000; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 5000; v++)
		assert_false(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	for (v = 5000; v < P2P_SEEN_CAP + 5000; v++)
		assert_true(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	v = 5000;
	assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 1);
	assert_int_equal(s.count, P2P_SEEN_CAP);
	p2p_seen_release(&s);
}

/* A forgotten digest passes again; forgetting some entries, re-inserting some of those, and
 * wrapping the ring past all of them keeps the cache consistent: exactly the newest
 * P2P_SEEN_CAP insertions are remembered. */
static void test_seen_cache_forgets_on_request(void **state)
{
	struct p2p_seen s;
	uint32_t v;

	assert_int_equal(p2p_seen_init(&s), IOLM_OK);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 1000; v += 2)
		p2p_seen_forget(&s, (uint8_t *)&v, sizeof v);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v), v % 2);
	for (v = 0; v < 1000; v += 4) /* a second copy of a forgotten one is new */
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	v = 1001;
	p2p_seen_forget(&s, (uint8_t *)&v, sizeof v); /* never seen: nothing happens */
	/* Wrap the ring: the first 1000 entries age out, the re-inserted ones later. */
	for (v = 2000; v < 2000 + P2P_SEEN_CAP - 250; v++)
		assert_int_equal(p2p_seen_check_insert(&s, (uint8_t *)&v, sizeof v), 0);
	for (v = 0; v < 1000; v++)
		assert_int_equal(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v), v % 4 == 0);
	for (v = 2000; v < 2000 + P2P_SEEN_CAP - 250; v++)
		assert_true(p2p_seen_contains(&s, (uint8_t *)&v, sizeof v));
	p2p_seen_release(&s);
}

static void test_create_rejects_bad_config(void **state)
{
	node_p2p *p = (node_p2p *)1;
	node_p2p_config cfg = { 0 };
	iolm_key k;
	const char *bad[] = { "not-an-address" };

	key_from_seed(&k, 1);
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
	cfg.chain_id = CHAIN;
	cfg.node_key = &k;
	cfg.peers = bad;
	cfg.n_peers = 1;
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
	cfg.n_peers = 0;
	cfg.max_frame = IOLM_MAX_FRAME_BYTES + 1;
	assert_int_equal(node_p2p_create(&p, g_base, &cfg, NULL), IOLM_EINVAL);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_then_frames_flow_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broadcast_reaches_all_and_duplicates_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_over_cap_refused_on_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_art_blocks_flow_outside_the_codec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_chain_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_to_self_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heights_from_hello_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_penalize_past_threshold_bans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_after_remote_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_connections_keep_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_cache_remembers_the_last_64k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_cache_forgets_on_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_rejects_bad_config, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN); /* as iolmd does: a closed socket is an error, not a signal */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
