/* P2P transport against hostile peers on raw sockets that speak the handshake by hand:
 * garbage, bad tags, replays, records cut anywhere or left half way, oversized and
 * undecodable frames, bad Auth signatures, silence, a peer that does not read
 * (docs/p2p.md). */
#include "p2p_fixture.h"

/* ---------------------------------------------------------------- tests */

static void test_garbage_disconnected_then_address_banned(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	uint8_t junk[44];
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	p2p_test_tune(a.p, 1, 0, 0);
	/* Garbage where a Hello should be: +25, disconnected. */
	fd = raw_connect(node_p2p_port(a.p));
	put32(junk, 40);
	randombytes_buf(junk + 4, 40);
	junk[4] = 0xff; /* not a valid field tag: never decodes as a Hello */
	raw_send(fd, junk, sizeof junk);
	assert_true(raw_wait_closed(fd, 2000) > 0); /* it had sent its Hello first */
	close(fd);
	/* An oversized length prefix: +50 each, refused before the body is read. */
	for (int i = 0; i < 2; i++) {
		fd = raw_connect(node_p2p_port(a.p));
		put32(junk, 0x7fffffff);
		raw_send(fd, junk, 4);
		assert_true(raw_wait_closed(fd, 2000) > 0);
		close(fd);
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 1);
	assert_int_equal(st.handshakes_failed, 3);
	/* Banned: the next connection is closed at once, before any Hello. */
	fd = raw_connect(node_p2p_port(a.p));
	assert_int_equal(raw_wait_closed(fd, 2000), 0);
	close(fd);
	tnode_stop(&a);
}

static void test_loopback_exempt_from_address_ban(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	uint8_t junk[4];
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	for (int i = 0; i < 3; i++) {
		fd = raw_connect(node_p2p_port(a.p));
		put32(junk, 0x7fffffff);
		raw_send(fd, junk, 4);
		assert_true(raw_wait_closed(fd, 2000) > 0);
		close(fd);
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bans, 0);
	fd = raw_connect(node_p2p_port(a.p));
	assert_true(raw_wait_closed(fd, 200) < 0); /* still served: its Hello came, open */
	close(fd);
	tnode_stop(&a);
}

static void test_bad_aead_tag_disconnects_then_key_banned(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t pt[8] = { 0x0a, 0x02, 0x08, 0x01 }; /* a Ping */

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	for (int round = 0; round < 2; round++) {
		assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
		assert_true(run_until(connected_once, &a, 2000));
		assert_int_equal(node_p2p_peer_count(a.p), 1);
		/* one good frame is accepted, then a corrupted tag ends the connection */
		hostile_frame(&h, pt, 4, 0);
		hostile_frame(&h, pt, 4, 1);
		assert_true(raw_wait_closed(h.fd, 2000) >= 0);
		hostile_close(&h);
		assert_int_equal(node_p2p_peer_count(a.p), 0);
		assert_int_equal(a.disconnects, round + 1);
		assert_int_equal(a.pings, round + 1);
		a.connects = 0;
	}
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bad_frames, 2);
	assert_int_equal(st.bans, 1); /* 2 x 50 on the key; loopback itself is not banned */
	/* The banned key is refused at its Hello. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.connects, 0);
	/* Another key from the same address is welcome. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 10, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_close(&h);
	run_for(50);
	tnode_stop(&a);
}

static void test_replayed_frame_disconnects(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t pt[4] = { 0x0a, 0x02, 0x08, 0x01 }; /* a Ping */

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_frame(&h, pt, sizeof pt, 0);
	h.tx_ctr--; /* the same record again, byte for byte */
	hostile_frame(&h, pt, sizeof pt, 0);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(a.pings, 1);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	tnode_stop(&a);
}

/* Records arrive whole however the stream is cut: forty Tx frames of 1 byte to 3 MiB
 * (larger than one read of the wire, and split across the input buffer's pieces), sent
 * in pieces of 1 byte to 300 KiB with the loop running between them, then a large
 * frame with a bad tag, cut the same way. */
static void test_frames_arrive_whole_however_the_stream_is_cut(void **state)
{
	static const size_t sizes[] = { 1, 7, 100, 4000, 4096, 65536, 65600, 200000, 262144,
					300000, 1u << 20, 3u << 20 };
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	Iolm__Frame f;
	Iolm__Tx tx;
	crypto_generichash_state want;
	uint8_t *body = malloc(3u << 20), *pt = malloc((3u << 20) + 64);
	uint8_t *stream = malloc(40u << 20), d_want[32], d_got[32];
	size_t len = 0, pos = 0;
	uint64_t rng = 0x243f6a8885a308d3ull;

	assert_true(body && pt && stream);
	crypto_generichash_init(&want, NULL, 0, 32);
	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	for (int i = 0; i < 41; i++) {
		size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])], k;
		make_tx_frame(&f, &tx, body, n, (uint8_t)i);
		body[0] = (uint8_t)(i * 7 + 1); /* distinct bodies: no gossip duplicates */
		body[n - 1] ^= (uint8_t)i;
		k = iolm__frame__pack(&f, pt);
		hostile_seal(&h, stream + len, pt, k, i == 40);
		len += 4 + k + P2P_TAG_LEN;
		if (i < 40)
			crypto_generichash_update(&want, body, n);
	}
	assert_true(len <= 40u << 20);
	while (pos < len) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		size_t cut = rng % 4 == 0 ? 1 + rng % 16 : 1 + (rng >> 8) % (300u << 10);
		if (cut > len - pos)
			cut = len - pos;
		raw_send(h.fd, stream + pos, cut);
		pos += cut;
		event_base_loop(g_base, EVLOOP_NONBLOCK);
	}
	assert_true(run_until(txs_at_least_40, &a, 5000));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.txs, 40);
	crypto_generichash_final(&want, d_want, 32);
	crypto_generichash_final(&a.tx_digest, d_got, 32);
	assert_memory_equal(d_got, d_want, 32);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.frames_in, 40);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	free(body);
	free(pt);
	free(stream);
	tnode_stop(&a);
}

/* A peer that goes away in the middle of a record, by closing (end of stream) or by a
 * reset (a failed read): the connection is dropped, without a penalty, after the whole
 * frames before it were delivered. */
static void test_peer_gone_mid_record_is_dropped(void **state)
{
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t *body = malloc(100000), *pt = malloc(100100), *rec = malloc(100200);

	assert_true(body && pt && rec);
	for (int reset = 0; reset < 2; reset++) {
		tnode a = { 0 };
		hostile h;
		node_p2p_stats st;
		size_t k;

		tnode_start(&a, 1, CHAIN, 0, NULL, 0);
		assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
		assert_true(run_until(connected_once, &a, 2000));
		make_tx_frame(&f, &tx, body, 100, 1);
		hostile_frame(&h, pt, iolm__frame__pack(&f, pt), 0);
		make_tx_frame(&f, &tx, body, 100000, 2);
		k = iolm__frame__pack(&f, pt);
		hostile_seal(&h, rec, pt, k, 0);
		raw_send(h.fd, rec, 4 + k / 2);
		run_for(50);
		if (reset) {
			struct linger lg = { 1, 0 };
			assert_int_equal(setsockopt(h.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
		}
		hostile_close(&h);
		assert_true(run_until(disconnected_once, &a, 2000));
		assert_int_equal(a.txs, 1);
		assert_int_equal(node_p2p_peer_count(a.p), 0);
		node_p2p_get_stats(a.p, &st);
		assert_int_equal(st.bad_frames, 0);
		assert_int_equal(st.bans, 0);
		tnode_stop(&a);
	}
	free(body);
	free(pt);
	free(rec);
}

static void test_peer_that_does_not_read_is_dropped(void **state)
{
	tnode a = { 0 };
	hostile h;
	Iolm__Frame f;
	Iolm__Tx tx;
	uint8_t *body = malloc(1u << 20);
	int err = IOLM_OK, sent = 0;

	assert_non_null(body);
	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	/* The loop does not run between sends, so nothing drains: the queue passes 64 MiB
	 * on the 65th frame of 1 MiB. */
	for (int i = 0; i < 100 && err == IOLM_OK; i++) {
		make_tx_frame(&f, &tx, body, 1u << 20, (uint8_t)i);
		err = node_p2p_send(a.p, a.last_peer, &f);
		sent += err == IOLM_OK;
	}
	assert_int_equal(err, IOLM_ENODE_SLOW);
	assert_true(sent >= 64 && sent <= 66);
	assert_int_equal(node_p2p_peer_count(a.p), 0);
	assert_int_equal(a.disconnects, 1);
	run_for(20);
	hostile_close(&h);
	free(body);
	tnode_stop(&a);
}

static void test_bad_auth_signature_refused(void **state)
{
	tnode a = { 0 };
	hostile h;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 1));
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	assert_int_equal(a.connects, 0);
	tnode_stop(&a);
}

static void test_oversized_and_undecodable_frames_penalized(void **state)
{
	tnode a = { 0 };
	hostile h;
	node_p2p_stats st;
	uint8_t hdr[4];
	uint8_t junk[3] = { 0xff, 0xff, 0xff };

	tnode_start(&a, 1, CHAIN, 0, NULL, 4096);
	/* A length prefix one byte past the cap. */
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	put32(hdr, 4096 + P2P_TAG_LEN + 1);
	raw_send(h.fd, hdr, 4);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	/* Authenticated bytes that are not a Frame. */
	a.connects = 0;
	assert_true(hostile_handshake(&h, node_p2p_port(a.p), 9, 0));
	assert_true(run_until(connected_once, &a, 2000));
	hostile_frame(&h, junk, sizeof junk, 0);
	assert_true(raw_wait_closed(h.fd, 2000) >= 0);
	hostile_close(&h);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.bad_frames, 2);
	assert_int_equal(st.bans, 0); /* 50 + 25 < 100 */
	assert_int_equal(a.frames, 0);
	tnode_stop(&a);
}

static void test_silent_peer_times_out(void **state)
{
	tnode a = { 0 };
	node_p2p_stats st;
	int fd;

	tnode_start(&a, 1, CHAIN, 0, NULL, 0);
	p2p_test_tune(a.p, 0, 100, 0);
	fd = raw_connect(node_p2p_port(a.p));
	assert_true(raw_wait_closed(fd, 2000) > 0);
	close(fd);
	node_p2p_get_stats(a.p, &st);
	assert_int_equal(st.handshakes_failed, 1);
	tnode_stop(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_garbage_disconnected_then_address_banned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_exempt_from_address_ban, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_aead_tag_disconnects_then_key_banned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_auth_signature_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_frame_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_arrive_whole_however_the_stream_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_mid_record_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_that_does_not_read_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_and_undecodable_frames_penalized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_peer_times_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
