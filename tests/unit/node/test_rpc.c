/* The RPC server against a real ledger and mempool: a client on the same event_base
 * drives every endpoint over HTTP on 127.0.0.1, and every signed object the answers
 * carry is checked from its hex alone (ids, signatures, certificate, state proof). */
#include "rpc_fixture.h"

/* ---------------------------------------------------------------- checks of signed objects */

/* A tx object: its bytes hash to its id, its body and signature are the envelope's, the
 * signature verifies over the digest given, which is the chain's digest of the body. */
static void check_tx(json_t *tx)
{
	static uint8_t raw[IOLM_MAX_TX_BYTES], body[IOLM_MAX_TX_BYTES];
	uint8_t id[32], h[32], sig[64], digest[32], pub[32];
	size_t n = jhex(tx, "bytes", raw, sizeof raw), bn = jhex(tx, "body", body, sizeof body);
	Iolm__Tx *env;
	jhex32(tx, "id", id);
	iolm_hash(h, IOLM_TAG_TX, raw, n);
	assert_memory_equal(h, id, 32);
	assert_int_equal(iolm_decode_tx(&env, raw, n, IOLM_MAX_TX_BYTES), IOLM_OK);
	assert_int_equal(env->body.len, bn);
	assert_memory_equal(env->body.data, body, bn);
	iolm_codec_free(&env->base);
	assert_int_equal(jhex(tx, "signature", sig, sizeof sig), 64);
	jhex32(tx, "sighash", digest);
	jhex32(tx, "sender", pub);
	ledger_tx_sighash(h, FX_CHAIN, body, bn);
	assert_memory_equal(h, digest, 32);
	assert_int_equal(iolm_verify(sig, digest, pub), IOLM_OK);
}

/* A certificate object: hash of its bytes, and every signature verifies over the digest
 * of the vote body given, signed by the validator key given, which is the genesis key. */
static void check_cert(struct rt *t, json_t *c, const uint8_t block_id[32])
{
	static uint8_t raw[1 << 16];
	uint8_t h[32], id[32], vb[1024], sig[64], digest[32], pub[32];
	size_t n = jhex(c, "bytes", raw, sizeof raw);
	json_t *sigs = jpath(c, "sigs", NULL), *s;
	size_t i;
	jhex32(c, "hash", h);
	iolm_hash(id, IOLM_TAG_CERT, raw, n);
	assert_memory_equal(h, id, 32);
	jhex32(c, "block_id", id);
	assert_memory_equal(id, block_id, 32);
	assert_int_equal(json_array_size(sigs), FX_VALIDATORS);
	json_array_foreach(sigs, i, s) {
		size_t vn = jhex(s, "vote_body", vb, sizeof vb);
		uint64_t v = jint(s, "validator");
		assert_true(v < FX_VALIDATORS);
		jhex32(s, "pubkey", pub);
		assert_memory_equal(pub, iolm_key_pub(&t->f.val[v]), 32);
		assert_int_equal(jhex(s, "signature", sig, sizeof sig), 64);
		jhex32(s, "sighash", digest);
		iolm_hash(h, IOLM_TAG_VOTE, vb, vn);
		assert_memory_equal(h, digest, 32);
		assert_int_equal(iolm_verify(sig, digest, pub), IOLM_OK);
	}
}

/* The block's header bytes hash to its id; returns the decoded header (caller frees). */
static Iolm__BlockHeader *check_header(json_t *b, uint8_t id[32])
{
	static uint8_t raw[4096];
	uint8_t h[32];
	size_t n = jhex(b, "header_bytes", raw, sizeof raw);
	Iolm__BlockHeader *hdr;
	jhex32(b, "id", id);
	iolm_hash(h, IOLM_TAG_BLOCK, raw, n);
	assert_memory_equal(h, id, 32);
	assert_int_equal(iolm_decode_block_header(&hdr, raw, n, sizeof raw), IOLM_OK);
	return hdr;
}

/* ---------------------------------------------------------------- tests */

static void test_status_reports_head_and_backend(void **state)
{
	struct rt *t = *state;
	ledger_head head;
	uint8_t id[32];
	json_t *j = get(t, "/status", 200);
	assert_int_equal(ledger_get_head(t->f.l, &head), IOLM_OK);
	assert_string_equal(json_string_value(jpath(j, "chain_id", NULL)), FX_CHAIN);
	assert_int_equal(jint(j, "height"), 2);
	jhex32(j, "block_id", id);
	assert_memory_equal(id, head.block_id, 32);
	jhex32(j, "genesis_hash", id);
	assert_memory_equal(id, ledger_genesis_hash(t->f.g), 32);
	assert_int_equal(json_integer_value(jpath(j, "consensus", "round")), 3);
	assert_string_equal(json_string_value(jpath(j, "consensus", "step_name")), "prevote");
	assert_int_equal(json_integer_value(jpath(j, "sync", "target_height")), 41);
	assert_int_equal(json_integer_value(jpath(j, "mempool", "txs")), 0);
	assert_int_equal(json_integer_value(jpath(j, "validator_index", NULL)), -1);
	json_decref(j);
}

static void test_block_by_height_and_id_carries_checkable_bytes(void **state)
{
	struct rt *t = *state;
	uint8_t id1[32], id2[32], h[32];
	char path[128], hex[65];
	json_t *b1 = get(t, "/block/1", 200), *b2, *b1b, *tx, *lc;
	Iolm__BlockHeader *h1 = check_header(b1, id1), *h2;
	char to[IOLM_ADDR_STRLEN + 1];

	assert_int_equal(h1->height, 1);
	assert_int_equal(jint(jpath(b1, "header", NULL), "time_ms"), h1->time_ms);
	assert_int_equal(jint(b1, "tx_count"), 2);
	tx = json_array_get(jpath(b1, "txs", NULL), 1);
	check_tx(tx);
	assert_string_equal(json_string_value(jpath(tx, "kind", NULL)), "task_create");
	assert_string_equal(json_string_value(jpath(tx, "task_create", "name")), "tiny");
	assert_int_equal(jint(jpath(tx, "task_create", "model"), "n_embd"), 32);
	assert_true(json_real_value(jpath(jpath(tx, "task_create", "optim"), "lr", NULL)) ==
		    (double)1e-3f);
	assert_int_equal(jint(jpath(tx, "task_create", NULL), "reward_pool"), 50000);
	assert_string_equal(json_string_value(jpath(tx, "task_create", "dataset_id")),
			    "1e20070707" "0000000000000000000000000000000000000000000000000000000000");
	tx = json_array_get(jpath(b1, "txs", NULL), 0);
	check_tx(tx);
	jhex32(tx, "id", h);
	assert_memory_equal(h, t->tx1, 32);
	assert_string_equal(json_string_value(jpath(tx, "kind", NULL)), "transfer");
	iolm_addr_encode(to, t->f.id[1]);
	assert_string_equal(json_string_value(jpath(tx, "transfer", "to")), to);
	assert_int_equal(json_integer_value(jpath(tx, "transfer", "amount")), 5000);
	assert_true(json_is_null(jpath(b1, "last_commit", NULL)));
	check_cert(t, jpath(b1, "certificate", NULL), id1);

	/* block 2 carries block 1's certificate as last_commit, hashed into its header */
	b2 = get(t, "/block/2", 200);
	h2 = check_header(b2, id2);
	lc = jpath(b2, "last_commit", NULL);
	check_cert(t, lc, id1);
	jhex32(lc, "hash", h);
	assert_int_equal(h2->last_commit_hash.len, 32);
	assert_memory_equal(h, h2->last_commit_hash.data, 32);
	assert_memory_equal(h2->prev_id.data, id1, 32);
	check_cert(t, jpath(b2, "certificate", NULL), id2);
	assert_string_equal(json_string_value(jpath(lc, "bytes", NULL)),
			    json_string_value(jpath(b1, "certificate", "bytes")));
	{
		static uint8_t cb[1 << 16];
		size_t cn = jhex(lc, "bytes", cb, sizeof cb);
		assert_int_equal(cn, t->cert1.len);
		assert_memory_equal(cb, t->cert1.data, cn);
	}

	/* by id: the same block */
	iolm_hex_encode(hex, sizeof hex, id1, 32);
	snprintf(path, sizeof path, "/block/%s", hex);
	b1b = get(t, path, 200);
	assert_true(json_equal(b1, b1b));

	iolm_codec_free(&h1->base);
	iolm_codec_free(&h2->base);
	json_decref(b1);
	json_decref(b1b);
	json_decref(b2);
}

static void test_block_bad_references(void **state)
{
	struct rt *t = *state;
	char path[200];
	assert_error(get(t, "/block/0", 404), "IOLM_ENOTFOUND");
	assert_error(get(t, "/block/3", 404), "IOLM_ENOTFOUND");
	assert_error(get(t, "/block/abc", 400), "IOLM_ERPC_BADREF");
	assert_error(get(t, "/block/-1", 400), "IOLM_ERPC_BADREF");
	assert_error(get(t, "/block/01", 400), "IOLM_ERPC_BADREF");
	assert_error(get(t, "/block/18446744073709551616", 400), "IOLM_ERPC_BADREF");
	snprintf(path, sizeof path, "/block/%064d", 0);
	assert_error(get(t, path, 404), "IOLM_ENOTFOUND");
	snprintf(path, sizeof path, "/block/%064d", 0);
	path[7] = 'g';
	assert_error(get(t, path, 400), "IOLM_ERPC_BADID");
}

static void test_tx_committed_with_receipt(void **state)
{
	struct rt *t = *state;
	char path[128], hex[65];
	uint8_t h[32];
	json_t *j, *r;
	iolm_hex_encode(hex, sizeof hex, t->tx1, 32);
	snprintf(path, sizeof path, "/tx/%s", hex);
	j = get(t, path, 200);
	assert_string_equal(json_string_value(jpath(j, "status", NULL)), "committed");
	assert_int_equal(jint(j, "height"), 1);
	assert_int_equal(jint(j, "index"), 0);
	check_tx(jpath(j, "tx", NULL));
	r = jpath(j, "receipt", NULL);
	jhex32(r, "tx_id", h);
	assert_memory_equal(h, t->tx1, 32);
	assert_int_equal(jint(r, "fee"), FX_MIN_FEE);
	assert_int_equal(jint(r, "height"), 1);
	assert_true(json_array_size(jpath(r, "events", NULL)) > 0);
	json_decref(j);

	snprintf(path, sizeof path, "/tx/%064d", 7);
	assert_error(get(t, path, 404), "IOLM_ENOTFOUND");
	assert_error(get(t, "/tx/1234", 400), "IOLM_ERPC_BADID");
}

/* Rebuild a ledger_proof from the JSON the way a wallet would. */
static void proof_from_json(json_t *pj, ledger_proof *p)
{
	json_t *sib = jpath(pj, "siblings", NULL), *s;
	size_t i;
	memset(p, 0, sizeof *p);
	jhex32(pj, "key", p->key);
	assert_true(json_array_size(sib) <= LEDGER_SMT_MAX_DEPTH);
	p->depth = (uint32_t)json_array_size(sib);
	json_array_foreach(sib, i, s) {
		assert_int_equal(iolm_hex_decode_exact(p->siblings[i], 32, json_string_value(s)),
				 IOLM_OK);
	}
	if (strcmp(json_string_value(jpath(pj, "terminal", NULL)), "leaf") == 0) {
		p->terminal = LEDGER_PROOF_LEAF;
		jhex32(pj, "leaf_key", p->leaf_key);
		jhex32(pj, "leaf_value_hash", p->leaf_vhash);
	}
}

static void test_account_proof_verifies_against_head_header(void **state)
{
	struct rt *t = *state;
	char path[128], addr[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], key[32], acct[64], id[32], hdr[4096], pbytes[16384];
	size_t an, hn, pn;
	ledger_proof *p = malloc(sizeof *p), *p2 = malloc(sizeof *p2);
	Iolm__BlockHeader *h;
	Iolm__StateProof *sp;
	json_t *j;

	assert_non_null(p);
	assert_non_null(p2);
	iolm_addr_encode(addr, t->f.id[1]);
	snprintf(path, sizeof path, "/account/%s", addr);
	j = get(t, path, 200);
	assert_true(json_is_true(jpath(j, "exists", NULL)));
	assert_int_equal(jint(j, "balance"), FX_BALANCE + 5000);
	assert_int_equal(jint(j, "nonce"), 0);
	assert_int_equal(jint(j, "height"), 2);
	an = jhex(j, "account_bytes", acct, sizeof acct);
	jhex32(j, "state_root", root);
	proof_from_json(jpath(j, "proof", NULL), p);
	ledger_account_key(key, t->f.id[1]);
	assert_memory_equal(p->key, key, 32);
	assert_int_equal(ledger_proof_verify(root, key, acct, an, p), IOLM_OK);
	/* a different value must not verify */
	acct[0] ^= 1;
	assert_int_equal(ledger_proof_verify(root, key, acct, an, p), IOLM_EPROOF);
	/* the encoded proof says the same */
	pn = jhex(jpath(j, "proof", NULL), "bytes", pbytes, sizeof pbytes);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&sp, &iolm__state_proof__descriptor,
					   pbytes, pn, sizeof pbytes),
			 IOLM_OK);
	assert_int_equal(ledger_proof_from_msg(p2, sp), IOLM_OK);
	assert_memory_equal(p, p2, sizeof *p);
	iolm_codec_free(&sp->base);
	/* the root is the one in the head's header, whose bytes hash to the block id */
	hn = jhex(j, "header_bytes", hdr, sizeof hdr);
	jhex32(j, "block_id", id);
	iolm_hash(key, IOLM_TAG_BLOCK, hdr, hn);
	assert_memory_equal(key, id, 32);
	assert_int_equal(iolm_decode_block_header(&h, hdr, hn, sizeof hdr), IOLM_OK);
	assert_int_equal(h->height, 2);
	assert_memory_equal(h->state_root.data, root, 32);
	iolm_codec_free(&h->base);
	json_decref(j);

	/* an account that does not exist: an exclusion proof */
	memset(id, 0xab, IOLM_ADDR_LEN);
	iolm_addr_encode(addr, id);
	snprintf(path, sizeof path, "/account/%s", addr);
	j = get(t, path, 200);
	assert_true(json_is_false(jpath(j, "exists", NULL)));
	assert_true(json_is_null(jpath(j, "account_bytes", NULL)));
	assert_int_equal(jint(j, "balance"), 0);
	jhex32(j, "state_root", root);
	proof_from_json(jpath(j, "proof", NULL), p);
	ledger_account_key(key, id);
	assert_int_equal(ledger_proof_verify(root, key, NULL, 0, p), IOLM_OK);
	json_decref(j);
	free(p);
	free(p2);
}

static void test_account_bad_addresses(void **state)
{
	struct rt *t = *state;
	char path[128], addr[IOLM_ADDR_STRLEN + 1];
	iolm_addr_encode(addr, t->f.id[1]);
	addr[IOLM_ADDR_STRLEN - 1] = addr[IOLM_ADDR_STRLEN - 1] == 'q' ? 'p' : 'q';
	snprintf(path, sizeof path, "/account/%s", addr);
	assert_error(get(t, path, 400), "IOLM_ECHECKSUM");
	assert_error(get(t, "/account/notanaddress", 400), "IOLM_EBECH32");
	/* upper case is the same address, answered in lower case */
	{
		char upper[IOLM_ADDR_STRLEN + 1];
		json_t *j;
		iolm_addr_encode(addr, t->f.id[1]);
		for (size_t i = 0; i <= IOLM_ADDR_STRLEN; i++)
			upper[i] = (char)toupper((unsigned char)addr[i]);
		snprintf(path, sizeof path, "/account/%s", upper);
		j = get(t, path, 200);
		assert_string_equal(json_string_value(jpath(j, "address", NULL)), addr);
		json_decref(j);
		for (size_t i = 5; i < IOLM_ADDR_STRLEN; i++) {
			if (isalpha((unsigned char)upper[i])) { /* one lower-case letter */
				upper[i] = (char)tolower((unsigned char)upper[i]);
				break;
			}
		}
		snprintf(path, sizeof path, "/account/%s", upper);
		assert_error(get(t, path, 400), "IOLM_ECASE");
	}
	iolm_addr_encode(addr, t->f.id[1]);
	addr[0] = 'x';
	snprintf(path, sizeof path, "/account/%s", addr);
	json_decref(get(t, path, 400));
}

static void sign_transfer(struct rt *t, iolm_buf *out, int from, uint64_t amount, uint64_t fee,
			  uint64_t nonce)
{
	iolm_buf_reset(out);
	fx_transfer(&t->f, out, from, t->f.id[5], amount, fee, nonce);
}

static char *to_hex(const iolm_buf *b)
{
	char *s = malloc(2 * b->len + 1);
	assert_non_null(s);
	iolm_hex_encode(s, 2 * b->len + 1, b->data, b->len);
	return s;
}

static void test_submit_needs_cookie_then_lands_in_mempool(void **state)
{
	struct rt *t = *state;
	iolm_buf tx;
	uint8_t id[32], want[32];
	char *hex, path[128], idhex[65];
	json_t *j, *ids;

	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	sign_transfer(t, &tx, 0, 100, FX_MIN_FEE, 1);
	hex = to_hex(&tx);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, NULL, hex, strlen(hex)),
		     "IOLM_ERPC_AUTH");
	assert_int_equal(t->status, 401);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL,
			  "0000000000000000000000000000000000000000000000000000000000000000", hex,
			  strlen(hex)),
		     "IOLM_ERPC_AUTH");
	assert_int_equal(t->status, 401);
	assert_int_equal(ledger_mempool_count(t->mp), 0);

	j = http(t, EVHTTP_REQ_POST, "/tx", "text/plain", t->cookie, hex, strlen(hex));
	assert_int_equal(t->status, 200);
	jhex32(j, "id", id);
	iolm_hash(want, IOLM_TAG_TX, tx.data, tx.len);
	assert_memory_equal(id, want, 32);
	json_decref(j);
	free(hex);

	/* raw bytes, from another account, with a higher fee: first in block order */
	sign_transfer(t, &tx, 2, 100, FX_MIN_FEE * 3, 0);
	j = http(t, EVHTTP_REQ_POST, "/tx", "application/octet-stream", t->cookie, tx.data,
		 tx.len);
	assert_int_equal(t->status, 200);
	jhex32(j, "id", want);
	json_decref(j);

	j = get(t, "/mempool", 200);
	assert_int_equal(jint(j, "count"), 2);
	assert_int_equal(jint(j, "bytes"), ledger_mempool_bytes(t->mp));
	ids = jpath(j, "ids", NULL);
	assert_int_equal(json_array_size(ids), 2);
	iolm_hex_encode(idhex, sizeof idhex, want, 32);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), idhex);
	iolm_hex_encode(idhex, sizeof idhex, id, 32);
	assert_string_equal(json_string_value(json_array_get(ids, 1)), idhex);
	json_decref(j);

	/* /tx of a pending one */
	snprintf(path, sizeof path, "/tx/%s", idhex);
	j = get(t, path, 200);
	assert_string_equal(json_string_value(jpath(j, "status", NULL)), "pending");
	check_tx(jpath(j, "tx", NULL));
	json_decref(j);
	iolm_buf_release(&tx, 0);
}

static void test_submit_rejects_with_rule_name(void **state)
{
	struct rt *t = *state;
	iolm_buf tx;
	char *hex, *big;
	size_t n;

	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	sign_transfer(t, &tx, 0, FX_BALANCE * 2, FX_MIN_FEE, 1);
	hex = to_hex(&tx);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex)),
		     "IOLM_ELEDGER_BALANCE");
	assert_int_equal(t->status, 400);
	free(hex);
	sign_transfer(t, &tx, 0, 10, FX_MIN_FEE, 0); /* nonce 0 was used in block 1 */
	hex = to_hex(&tx);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex)),
		     "IOLM_ELEDGER_NONCE_OLD");
	free(hex);
	sign_transfer(t, &tx, 0, 10, FX_MIN_FEE, 1);
	hex = to_hex(&tx);
	/* the signature is the envelope's last field: change one of its digits */
	n = strlen(hex) - 3;
	hex[n] = hex[n] == '0' ? '1' : '0';
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, hex, strlen(hex)),
		     "IOLM_ELEDGER_SIGNATURE");
	free(hex);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "zz", 2), "IOLM_EHEX");
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "abc", 3), "IOLM_EHEX");
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, " \n", 2),
		     "IOLM_ERPC_BADBODY");
	/* an empty body field written out: not the canonical encoding */
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "0a00", 4),
		     "IOLM_ENONCANON");
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "ffff", 4), "IOLM_EDECODE");
	assert_int_equal(t->status, 400);

	/* a hex body under the body cap that decodes past the transaction cap */
	n = 2 * (IOLM_MAX_TX_BYTES + 1);
	big = malloc(NODE_RPC_MAX_BODY + 1);
	assert_non_null(big);
	memset(big, 'a', NODE_RPC_MAX_BODY + 1);
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, big, n), "IOLM_ETOOBIG");
	assert_int_equal(t->status, 413);
	/* a body past the cap: 413 from the transport */
	json_decref(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, big, NODE_RPC_MAX_BODY + 1));
	assert_int_equal(t->status, 413);
	free(big);
	assert_int_equal(ledger_mempool_count(t->mp), 0);
	iolm_buf_release(&tx, 0);
	/* the server still answers */
	json_decref(get(t, "/status", 200));
}

static void test_routes_methods_and_limits(void **state)
{
	struct rt *t = *state;
	char *uri = malloc(3001);
	assert_error(get(t, "/nope", 404), "IOLM_ERPC_ROUTE");
	assert_error(get(t, "/", 404), "IOLM_ERPC_ROUTE");
	assert_error(get(t, "/block/", 404), "IOLM_ERPC_ROUTE");
	assert_error(get(t, "/block/1/x", 404), "IOLM_ERPC_ROUTE");
	assert_error(get(t, "/statusx", 404), "IOLM_ERPC_ROUTE");
	assert_error(get(t, "/tx", 405), "IOLM_ERPC_METHOD");
	assert_string_equal(t->allow, "POST");
	assert_error(http(t, EVHTTP_REQ_POST, "/status", NULL, t->cookie, "00", 2),
		     "IOLM_ERPC_METHOD");
	assert_int_equal(t->status, 405);
	assert_string_equal(t->allow, "GET");
	assert_error(http(t, EVHTTP_REQ_DELETE, "/block/1", NULL, NULL, NULL, 0),
		     "IOLM_ERPC_METHOD");
	assert_int_equal(t->status, 405);
	/* a URI past the cap */
	assert_non_null(uri);
	memcpy(uri, "/block/", 7);
	memset(uri + 7, '1', 3000 - 7);
	uri[3000] = '\0';
	assert_error(get(t, uri, 414), "IOLM_ERPC_TOOBIG");
	/* a long argument under the URI cap */
	uri[300] = '\0';
	assert_error(get(t, uri, 400), "IOLM_ERPC_BADREF");
	free(uri);
	json_decref(get(t, "/status?verbose=1", 200));
}

/* Send raw bytes on a fresh connection and let the loop run a moment. */
static void send_raw(struct rt *t, const char *data, size_t len)
{
	struct sockaddr_in sa;
	struct timeval tv = { 0, 50000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(t->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_true(write(fd, data, len) == (ssize_t)len);
	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
	close(fd);
}

static void test_malformed_http_leaves_server_running(void **state)
{
	struct rt *t = *state;
	static const char *const junk[] = {
		"GARBAGE\r\n\r\n",
		"GET\r\n\r\n",
		"GET /status HTTP/9.9\r\n\r\n",
		"POST /tx HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
		"POST /tx HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST /tx HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /block/1 HTTP/1.1\r\nHost: x\r\n",
		"\x01\x02\xff\r\n\r\n",
	};
	char *big = malloc(20000);
	assert_non_null(big);
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		send_raw(t, junk[i], strlen(junk[i]));
	/* headers past the cap */
	memcpy(big, "GET /status HTTP/1.1\r\nX: ", 25);
	memset(big + 25, 'a', 20000 - 25);
	send_raw(t, big, 20000);
	free(big);
	json_decref(get(t, "/status", 200));
}

static void test_validators_and_peers(void **state)
{
	struct rt *t = *state;
	json_t *j = get(t, "/validators", 200), *v;
	uint8_t pub[32];
	size_t i;
	assert_int_equal(jint(j, "count"), FX_VALIDATORS);
	json_array_foreach(jpath(j, "validators", NULL), i, v) {
		jhex32(v, "pubkey", pub);
		assert_memory_equal(pub, iolm_key_pub(&t->f.val[i]), 32);
		assert_int_equal(jint(v, "power"), 10 + i);
	}
	assert_int_equal(jint(j, "total_power"), 10 + 11 + 12 + 13);
	json_decref(j);
	j = get(t, "/peers", 200);
	assert_int_equal(jint(j, "count"), 0);
	assert_int_equal(json_array_size(jpath(j, "peers", NULL)), 0);
	json_decref(j);
}

static void test_metrics_exposition(void **state)
{
	struct rt *t = *state;
	static const char *const want[] = {
		"# TYPE iolm_height gauge\niolm_height 2\n",
		"# HELP iolm_consensus_round ",
		"\niolm_consensus_round 3\n",
		"\niolm_peers 0\n",
		"\niolm_mempool_txs 0\n",
		"\niolm_mempool_bytes 0\n",
		"\niolm_syncing 0\n",
		"\niolm_sync_target_height 41\n",
		"# TYPE iolm_block_commit_seconds gauge\n",
		"\niolm_block_commit_seconds{part=\"total\"} ",
		"\niolm_block_commit_seconds{part=\"exec\"} ",
		"\niolm_block_commit_seconds{part=\"root\"} ",
		"\niolm_block_commit_seconds{part=\"write\"} ",
		"# TYPE iolm_rpc_requests_total counter\n",
		"\niolm_rpc_requests_total{endpoint=\"status\"} 2\n",
		"\niolm_rpc_requests_total{endpoint=\"other\"} 1\n",
		"\niolm_rpc_requests_total{endpoint=\"metrics\"} 1\n",
		"\niolm_test_backend_metric 7\n",
	};
	json_decref(get(t, "/status", 200));
	json_decref(get(t, "/status", 200));
	json_decref(get(t, "/nothing", 404));
	json_decref(get(t, "/metrics", 200));
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(t->body, want[i]))
			fail_msg("metrics lack \"%s\":\n%s", want[i], t->body);
	/* no p2p: no p2p lines */
	assert_null(strstr(t->body, "iolm_p2p_"));
}

static void test_cookie_file_is_private_and_fresh(void **state)
{
	struct rt *t = *state;
	char path[128], buf[128], tok[65];
	struct stat st;
	FILE *fp;
	size_t n;
	snprintf(path, sizeof path, "%s/rpc.cookie", t->f.dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_int_equal(n, 64);
	assert_string_equal(buf, t->cookie);
	assert_int_equal(node_rpc_cookie_create(t->f.dir, tok), IOLM_OK);
	assert_int_equal(strlen(tok), 64);
	assert_string_not_equal(tok, t->cookie);
	/* the old token no longer is the file's, but the running server keeps its own */
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_string_equal(buf, tok);
	assert_int_equal(node_rpc_cookie_create("/nonexistent-dir-iolm", tok), IOLM_EIO);
	assert_int_equal(tok[0], '\0');
}

static void test_create_rejects_bad_config(void **state)
{
	struct rt *t = *state;
	node_rpc *r = NULL;
	node_rpc_backend be = { .ledger = t->f.l, .mempool = t->mp, .submit_tx = be_submit,
				.get_status = be_status, .ctx = t };
	node_rpc_backend bad = be;
	node_rpc_config cfg = { .host = "127.0.0.1", .port = node_rpc_port(t->rpc) };
	bad.submit_tx = NULL;
	assert_int_equal(node_rpc_create(&r, t->base, &cfg, &bad), IOLM_EINVAL);
	assert_null(r);
	/* the port is taken by the fixture's server */
	assert_int_equal(node_rpc_create(&r, t->base, &cfg, &be), IOLM_EIO);
	assert_null(r);
	/* no cookie configured: writes are refused whatever is presented */
	cfg.port = 0;
	assert_int_equal(node_rpc_create(&r, t->base, &cfg, &be), IOLM_OK);
	t->port = node_rpc_port(r);
	assert_true(t->port != node_rpc_port(t->rpc));
	assert_error(http(t, EVHTTP_REQ_POST, "/tx", NULL, t->cookie, "00", 2), "IOLM_ERPC_AUTH");
	assert_int_equal(t->status, 401);
	json_decref(get(t, "/status", 200));
	node_rpc_destroy(r);
}

int main(void)
{
	iolm_log_configure(IOLM_LOG_WARN, IOLM_LOG_TEXT, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_reports_head_and_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_by_height_and_id_carries_checkable_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_bad_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_committed_with_receipt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_proof_verifies_against_head_header,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_needs_cookie_then_lands_in_mempool,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_rejects_with_rule_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_methods_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_http_leaves_server_running, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validators_and_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_exposition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_file_is_private_and_fresh, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_rejects_bad_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
