/* The RPC's mining endpoints against a ledger running the joint-mining rules: every
 * field is checked against what the rules must have written (docs/economics.md), and
 * every proof is verified against the root the answer carries, the way a wallet would,
 * from the JSON alone. The chain: rpc_mining_fixture.h. */
#include "rpc_mining_fixture.h"

/* ---------------------------------------------------------------- tasks */

static void test_task_fields_params_and_proof(void **state)
{
	char id[65], creator[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096], params[4096];
	size_t rlen = ledger_raw_key_task(raw, T.task), n, pn;
	Iolm__TaskState *ts;
	Iolm__TaskCreate *tc;
	json_t *j, *p, *m, *o;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "height"), 8);
	assert_string_equal(jstr(j, "id"), id);
	addr_of(creator, 0);
	assert_string_equal(jstr(j, "creator"), creator);
	assert_int_equal(jint(j, "created_height"), 2);
	assert_int_equal(jint(j, "status"), IOLM__TASK_STATUS__TASK_OPEN);
	assert_string_equal(jstr(j, "status_name"), "open");
	/* two breakthroughs: 10% of 1,000,000, then 10% of the 900,000 left */
	assert_int_equal(jint(j, "pool"), POOL - 100000 - 90000);
	assert_int_equal(jint(j, "paid_out"), 100000 + 90000);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_jhex(j, "best_work", T.work_b, 32);
	assert_int_equal(jint(j, "best_loss"), 3000000);
	assert_int_equal(jint(j, "best_height"), 8);
	assert_int_equal(jint(j, "n_works"), 2);
	assert_int_equal(jint(j, "n_accepted"), 2);
	assert_int_equal(jint(j, "total_credit"), 30); /* a's 10 steps and b's 20 */

	/* params decoded, and their exact bytes are the record's */
	p = jget(j, "params");
	assert_string_equal(jstr(p, "name"), "rpc-test");
	m = jget(p, "model");
	assert_int_equal(jint(m, "n_layer"), 1);
	assert_int_equal(jint(m, "n_embd"), 16);
	assert_int_equal(jint(m, "n_head"), 2);
	assert_int_equal(jint(m, "seq_len"), 16);
	assert_int_equal(jint(m, "vocab"), 256);
	assert_int_equal(jint(m, "init_seed"), 77);
	o = jget(p, "optim");
	assert_true((float)json_real_value(jget(o, "lr")) == 1e-3f);
	assert_true((float)json_real_value(jget(o, "beta1")) == 0.9f);
	assert_true((float)json_real_value(jget(o, "beta2")) == 0.99f);
	assert_true((float)json_real_value(jget(o, "eps")) == 1e-8f);
	assert_true((float)json_real_value(jget(o, "weight_decay")) == 0.1f);
	assert_true((float)json_real_value(jget(o, "grad_clip")) == 1.0f);
	assert_int_equal(jint(o, "warmup_steps"), 5);
	assert_int_equal(jint(o, "total_steps"), 1000);
	assert_int_equal(jint(p, "batch_size"), 2);
	assert_jhex(p, "dataset_id", mfx_art, sizeof mfx_art);
	assert_jhex(p, "eval_id", mfx_art, sizeof mfx_art);
	assert_int_equal(jint(p, "segment_len"), 10);
	assert_int_equal(jint(p, "samples"), 2);
	assert_int_equal(jint(p, "reward_pool"), POOL);
	assert_int_equal(jint(p, "designer_share_bps"), 2000);
	assert_int_equal(jint(p, "breakthrough_bps"), 1000);
	assert_int_equal(jint(p, "margin_start_ppm"), 50000);
	assert_int_equal(jint(p, "margin_end_ppm"), 10000);
	assert_int_equal(jint(p, "margin_decay_blocks"), 100);
	assert_int_equal(jint(p, "bond_min"), 100);
	assert_int_equal(jint(p, "deadline_height"), 5000);

	n = check_record(jget(j, "record"), root, raw, rlen, 1, val, sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ts, &iolm__task_state__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	pn = jhex(j, "params_bytes", params, sizeof params);
	assert_int_equal(pn, ts->params.len);
	assert_memory_equal(params, ts->params.data, pn);
	assert_int_equal(ts->pool, jint(j, "pool"));
	iolm_codec_free(&ts->base);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&tc, &iolm__task_create__descriptor,
					   params, pn, sizeof params),
			 IOLM_OK);
	assert_string_equal(tc->name, "rpc-test");
	iolm_codec_free(&tc->base);
	json_decref(j);
}

/* The proof's StateProof bytes say what its fields say. */
static void test_proof_bytes_match_fields(void **state)
{
	char id[65];
	uint8_t pb[16384];
	size_t n;
	ledger_proof *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	Iolm__StateProof *sp;
	json_t *j, *pj;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	hex32(id, T.work_a);
	j = getf(200, "/work/%s", id);
	pj = jget(jget(j, "record"), "proof");
	proof_from_json(pj, a);
	n = jhex(pj, "bytes", pb, sizeof pb);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&sp, &iolm__state_proof__descriptor,
					   pb, n, sizeof pb),
			 IOLM_OK);
	assert_int_equal(ledger_proof_from_msg(b, sp), IOLM_OK);
	iolm_codec_free(&sp->base);
	assert_int_equal(jint(pj, "depth"), a->depth);
	assert_int_equal(a->depth, b->depth);
	assert_memory_equal(a->key, b->key, 32);
	assert_memory_equal(a->siblings, b->siblings, 32u * a->depth);
	assert_int_equal(a->terminal, b->terminal);
	assert_memory_equal(a->leaf_key, b->leaf_key, 32);
	assert_memory_equal(a->leaf_vhash, b->leaf_vhash, 32);
	free(a);
	free(b);
	json_decref(j);
}

static void test_task_best_is_the_breakthrough(void **state)
{
	char id[65], miner[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096];
	json_t *j, *w;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s/best", id);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "task_id"), id);
	assert_jhex(j, "best_work", T.work_b, 32);
	assert_int_equal(jint(j, "best_loss"), 3000000);
	assert_int_equal(jint(j, "best_height"), 8);
	w = jget(j, "work");
	assert_jhex(w, "id", T.work_b, 32);
	addr_of(miner, 2);
	assert_string_equal(jstr(w, "miner"), miner);
	assert_string_equal(jstr(w, "status_name"), "accepted");
	assert_true(json_is_true(jget(w, "was_best")));
	assert_int_equal(jint(jget(w, "commit"), "eval_loss"), 3000000);
	check_record(jget(w, "record"), root, raw, ledger_raw_key_work(raw, T.work_b), 1, val,
		     sizeof val);
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	json_decref(j);
}

static void test_task_shares_list_every_share_with_proofs(void **state)
{
	char id[65], a1[IOLM_ADDR_STRLEN + 1], a2[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[256];
	json_t *j, *s;
	size_t i, n;
	int first;

	(void)state;
	hex32(id, T.task);
	j = getf(200, "/task/%s/shares", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "count"), 2);
	assert_int_equal(jint(j, "total_credit"), 30);
	assert_int_equal(jint(j, "sum"), 30);
	assert_false(json_is_true(jget(j, "truncated")));
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	s = jget(j, "shares");
	assert_int_equal(json_array_size(s), 2);
	/* in key order: by account id */
	first = memcmp(T.m.f.id[1], T.m.f.id[2], IOLM_ADDR_LEN) < 0 ? 1 : 2;
	addr_of(a1, first);
	addr_of(a2, 3 - first);
	assert_string_equal(jstr(json_array_get(s, 0), "address"), a1);
	assert_string_equal(jstr(json_array_get(s, 1), "address"), a2);
	for (i = 0; i < 2; i++) {
		json_t *e = json_array_get(s, i);
		int acct = i == 0 ? first : 3 - first;
		Iolm__ShareRecord *sr;
		assert_int_equal(jint(e, "credit"), acct == 1 ? 10 : 20);
		assert_true(json_is_true(jget(e, "exists")));
		n = check_record(jget(e, "record"), root, raw,
				 ledger_raw_key_share(raw, T.task, T.m.f.id[acct]), 1, val,
				 sizeof val);
		assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&sr,
						   &iolm__share_record__descriptor, val, n,
						   sizeof val),
				 IOLM_OK);
		assert_int_equal(sr->credit, jint(e, "credit"));
		iolm_codec_free(&sr->base);
	}
	json_decref(j);
}

static void test_task_without_works_has_no_best_and_no_shares(void **state)
{
	char id[65];
	uint8_t root[32];
	json_t *j;

	(void)state;
	hex32(id, T.task2);
	j = getf(200, "/task/%s", id);
	assert_true(json_is_null(jget(j, "best_work")));
	assert_int_equal(jint(j, "n_works"), 0);
	assert_int_equal(jint(j, "pool"), POOL);
	assert_string_equal(jstr(jget(j, "params"), "name"), "idle");
	json_decref(j);
	assert_error(getf(404, "/task/%s/best", id), "IOLM_ENOTFOUND");
	j = getf(200, "/task/%s/shares", id);
	check_anchor(j, root);
	assert_int_equal(jint(j, "count"), 0);
	assert_int_equal(jint(j, "sum"), 0);
	assert_int_equal(json_array_size(jget(j, "shares")), 0);
	json_decref(j);
}

/* ---------------------------------------------------------------- works */

static void test_work_state_commit_and_attestations(void **state)
{
	char id[65], task[65], miner[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096], cb[4096], h[32];
	const ledger_genesis *g = ledger_get_genesis(T.m.f.l);
	json_t *j, *c, *att;
	size_t i, n;
	Iolm__WorkState *ws;

	(void)state;
	hex32(id, T.work_a);
	hex32(task, T.task);
	j = getf(200, "/work/%s", id);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "id"), id);
	assert_string_equal(jstr(j, "task_id"), task);
	addr_of(miner, 1);
	assert_string_equal(jstr(j, "miner"), miner);
	assert_int_equal(jint(j, "status"), IOLM__WORK_STATUS__WORK_ACCEPTED);
	assert_string_equal(jstr(j, "status_name"), "accepted");
	assert_int_equal(jint(j, "bond"), 500);
	assert_int_equal(jint(j, "commit_height"), 3);
	assert_int_equal(jint(j, "commit_index"), 0);
	assert_int_equal(jint(j, "end_step"), 10);
	assert_int_equal(jint(j, "valid_power"), 10 + 11 + 12);
	assert_int_equal(jint(j, "invalid_power"), 0);
	assert_int_equal(jint(j, "decided_height"), 5);
	assert_true(json_is_true(jget(j, "was_best")));
	assert_false(json_is_true(jget(j, "lineage_truncated")));
	assert_int_equal(json_array_size(jget(j, "lineage")), 0);

	c = jget(j, "commit");
	assert_string_equal(jstr(c, "task_id"), task);
	assert_true(json_is_null(jget(c, "parent_work")));
	assert_int_equal(jint(c, "start_step"), 0);
	assert_int_equal(jint(c, "steps"), 10);
	memset(h, 0x3c, sizeof h);
	assert_jhex(c, "proof_root", h, 32);
	memset(h, 0x4d, sizeof h);
	assert_jhex(c, "final_state", h, 32);
	assert_jhex(c, "checkpoint_id", mfx_art, sizeof mfx_art);
	assert_int_equal(jint(c, "eval_loss"), 4000000);
	assert_int_equal(jint(c, "bond"), 500);
	assert_string_equal(jstr(c, "endpoint"), "http://127.0.0.1:9000");

	n = check_record(jget(j, "record"), root, raw, ledger_raw_key_work(raw, T.work_a), 1, val,
			 sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ws, &iolm__work_state__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	n = jhex(j, "commit_bytes", cb, sizeof cb);
	assert_int_equal(n, ws->commit.len);
	assert_memory_equal(cb, ws->commit.data, n);
	iolm_codec_free(&ws->base);

	/* validators 0, 1 and 2 attested at height 5; validator 3 did not */
	att = jget(j, "attestations");
	assert_int_equal(json_array_size(att), 3);
	for (i = 0; i < 3; i++) {
		json_t *a = json_array_get(att, i);
		const ledger_validator *v = ledger_genesis_validator(g, i);
		Iolm__AttestRecord *ar;
		assert_int_equal(jint(a, "validator"), i);
		assert_jhex(a, "pubkey", v->pub, 32);
		assert_int_equal(jint(a, "power"), v->power);
		assert_true(json_is_true(jget(a, "valid")));
		assert_int_equal(jint(a, "eval_loss"), 4000000 + i);
		assert_int_equal(jint(a, "height"), 5);
		assert_jhex(a, "tx_id", T.attest_tx[i], 32);
		n = check_record(jget(a, "record"), root, raw,
				 ledger_raw_key_attest(raw, T.work_a, (uint32_t)i), 1, val,
				 sizeof val);
		assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&ar,
						   &iolm__attest_record__descriptor, val, n,
						   sizeof val),
				 IOLM_OK);
		assert_int_equal(ar->eval_loss, 4000000 + i);
		iolm_codec_free(&ar->base);
	}
	json_decref(j);
}

static void test_work_lineage_walks_to_the_root(void **state)
{
	char id[65], parent[65], miner[IOLM_ADDR_STRLEN + 1];
	json_t *j, *l, *e;

	(void)state;
	hex32(id, T.work_b);
	hex32(parent, T.work_a);
	j = getf(200, "/work/%s", id);
	assert_string_equal(jstr(jget(j, "commit"), "parent_work"), parent);
	assert_int_equal(jint(jget(j, "commit"), "start_step"), 10);
	assert_int_equal(jint(j, "end_step"), 30);
	l = jget(j, "lineage");
	assert_int_equal(json_array_size(l), 1);
	e = json_array_get(l, 0);
	assert_string_equal(jstr(e, "id"), parent);
	addr_of(miner, 1);
	assert_string_equal(jstr(e, "miner"), miner);
	assert_string_equal(jstr(e, "status_name"), "accepted");
	assert_int_equal(jint(e, "start_step"), 0);
	assert_int_equal(jint(e, "end_step"), 10);
	assert_int_equal(jint(e, "eval_loss"), 4000000);
	assert_true(json_is_true(jget(e, "was_best")));
	assert_int_equal(json_array_size(jget(j, "attestations")), 3);
	json_decref(j);
}

/* ---------------------------------------------------------------- rewards and shares */

static void check_rewards(int acct, uint64_t breakthrough, uint64_t bonds)
{
	char a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[256];
	Iolm__Rewards *rw;
	size_t n;
	json_t *j;

	addr_of(a, acct);
	j = getf(200, "/rewards/%s", a);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "address"), a);
	assert_jhex(j, "id", T.m.f.id[acct], IOLM_ADDR_LEN);
	assert_true(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "breakthrough"), breakthrough);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_int_equal(jint(j, "bonds_returned"), bonds);
	assert_int_equal(jint(j, "slashed"), 0);
	assert_int_equal(jint(j, "validator"), 0);
	n = check_record(jget(j, "record"), root, raw, ledger_raw_key_rewards(raw, T.m.f.id[acct]),
			 1, val, sizeof val);
	assert_int_equal(iolm_codec_decode((ProtobufCMessage **)&rw, &iolm__rewards__descriptor,
					   val, n, sizeof val),
			 IOLM_OK);
	assert_int_equal(rw->breakthrough, breakthrough);
	assert_int_equal(rw->bonds_returned, bonds);
	iolm_codec_free(&rw->base);
	json_decref(j);
}

static void test_rewards_of_designer_and_miners(void **state)
{
	(void)state;
	/* a: 100,000 paid, 20% to the designer, 80,000 to a's miner; b: 90,000 paid,
	 * 18,000 to the designer, 72,000 to b's miner alone (a was the previous best) */
	check_rewards(0, 20000 + 18000, 0);
	check_rewards(1, 80000, 500);
	check_rewards(2, 72000, 600);
}

static void test_rewards_absent_is_zero_with_exclusion_proof(void **state)
{
	char a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX];
	json_t *j;

	(void)state;
	addr_of(a, 5);
	j = getf(200, "/rewards/%s", a);
	check_anchor(j, root);
	assert_false(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "breakthrough"), 0);
	assert_int_equal(jint(j, "revenue"), 0);
	assert_int_equal(jint(j, "bonds_returned"), 0);
	assert_int_equal(jint(j, "slashed"), 0);
	assert_int_equal(jint(j, "validator"), 0);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_rewards(raw, T.m.f.id[5]), 0,
		     NULL, 0);
	json_decref(j);
}

static void test_share_of_one_account(void **state)
{
	char id[65], a[IOLM_ADDR_STRLEN + 1];
	uint8_t root[32], raw[LEDGER_RAW_KEY_MAX], val[4096];
	json_t *j;

	(void)state;
	hex32(id, T.task);
	addr_of(a, 2);
	j = getf(200, "/shares/%s/%s", id, a);
	check_anchor(j, root);
	assert_string_equal(jstr(j, "task_id"), id);
	assert_string_equal(jstr(j, "address"), a);
	assert_true(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "credit"), 20);
	assert_int_equal(jint(j, "total_credit"), 30);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_share(raw, T.task, T.m.f.id[2]), 1,
		     val, sizeof val);
	check_record(jget(j, "task_record"), root, raw, ledger_raw_key_task(raw, T.task), 1, val,
		     sizeof val);
	json_decref(j);

	/* an account off the lineage: 0 with an exclusion proof */
	addr_of(a, 4);
	j = getf(200, "/shares/%s/%s", id, a);
	check_anchor(j, root);
	assert_false(json_is_true(jget(j, "exists")));
	assert_int_equal(jint(j, "credit"), 0);
	assert_int_equal(jint(j, "total_credit"), 30);
	check_record(jget(j, "record"), root, raw, ledger_raw_key_share(raw, T.task, T.m.f.id[4]), 0,
		     NULL, 0);
	json_decref(j);
}

/* Validators are paid the fees of every block (no subsidy on this chain): 14
 * transactions of 10 over heights 1..8, all of it in their Rewards.validator. */
static void test_rewards_show_validator_pay(void **state)
{
	uint64_t sum = 0;
	(void)state;
	for (int v = 0; v < FX_VALIDATORS; v++) {
		char a[IOLM_ADDR_STRLEN + 1];
		uint8_t vid[IOLM_ADDR_LEN];
		mfx_validator_id(&T.m, v, vid);
		iolm_addr_encode(a, vid);
		json_t *j = getf(200, "/rewards/%s", a);
		assert_true(json_is_true(jget(j, "exists")));
		assert_int_equal(jint(j, "breakthrough"), 0);
		assert_true(jint(j, "validator") > 0);
		sum += jint(j, "validator");
		/* the history's total says the same */
		json_t *h = getf(200, "/history/%s?kind=validator&limit=1000", a);
		assert_int_equal(jint(jget(h, "totals"), "validator"), jint(j, "validator"));
		json_decref(h);
		json_decref(j);
	}
	assert_int_equal(sum, 14 * FX_MIN_FEE);
	/* a miner has received no validator pay */
	char m[IOLM_ADDR_STRLEN + 1];
	addr_of(m, 1);
	json_t *j = getf(200, "/rewards/%s", m);
	assert_int_equal(jint(j, "validator"), 0);
	json_decref(j);
}

/* ---------------------------------------------------------------- errors, routes, metrics */

static void test_bad_arguments_are_400(void **state)
{
	char id[65], a[IOLM_ADDR_STRLEN + 1], bad[IOLM_ADDR_STRLEN + 1], longer[200];

	(void)state;
	hex32(id, T.task);
	addr_of(a, 1);
	memcpy(bad, a, sizeof bad);
	bad[IOLM_ADDR_STRLEN - 1] = bad[IOLM_ADDR_STRLEN - 1] == 'q' ? 'p' : 'q';
	memset(longer, 'q', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_error(get("/task/xyz", 400), "IOLM_ERPC_BADID");
	assert_error(getf(400, "/task/%.63s", id), "IOLM_ERPC_BADID");
	assert_error(get("/task/zz00000000000000000000000000000000000000000000000000000000000000",
			 400),
		     "IOLM_ERPC_BADID");
	assert_error(get("/task/xyz/best", 400), "IOLM_ERPC_BADID");
	assert_error(get("/task/xyz/shares", 400), "IOLM_ERPC_BADID");
	assert_error(get("/work/1234", 400), "IOLM_ERPC_BADID");
	assert_error(getf(400, "/rewards/%s", bad), "IOLM_ECHECKSUM");
	assert_error(get("/rewards/iolm1", 400), "IOLM_EBECH32");
	assert_error(getf(400, "/rewards/%s", longer), "IOLM_ELENGTH");
	assert_error(getf(400, "/shares/%s/%s", id, bad), "IOLM_ECHECKSUM");
	assert_error(getf(400, "/shares/%.10s/%s", id, a), "IOLM_ERPC_BADID");
}

static void test_unknown_objects_are_404(void **state)
{
	static const char zeros[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char a[IOLM_ADDR_STRLEN + 1];

	(void)state;
	addr_of(a, 1);
	assert_error(getf(404, "/task/%s", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/task/%s/best", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/task/%s/shares", zeros), "IOLM_ELEDGER_NOTASK");
	assert_error(getf(404, "/work/%s", zeros), "IOLM_ELEDGER_NOWORK");
	assert_error(getf(404, "/shares/%s/%s", zeros, a), "IOLM_ELEDGER_NOTASK");
}

static void test_mining_routes(void **state)
{
	char id[65], w[65], a[IOLM_ADDR_STRLEN + 1], path[256];

	(void)state;
	hex32(id, T.task);
	hex32(w, T.work_a);
	addr_of(a, 1);
	assert_error(getf(404, "/task/%s/nope", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/task/%s/", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/task/%s/best/x", id), "IOLM_ERPC_ROUTE");
	assert_error(get("/task/", 404), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/work/%s/x", w), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s/", id), "IOLM_ERPC_ROUTE");
	assert_error(getf(404, "/shares/%s/%s/x", id, a), "IOLM_ERPC_ROUTE");
	assert_error(get("/rewards/", 404), "IOLM_ERPC_ROUTE");
	snprintf(path, sizeof path, "/work/%s", w);
	assert_error(req(EVHTTP_REQ_POST, path, 405), "IOLM_ERPC_METHOD");
	assert_string_equal(T.allow, "GET");
	snprintf(path, sizeof path, "/task/%s/best", id);
	assert_error(req(EVHTTP_REQ_DELETE, path, 405), "IOLM_ERPC_METHOD");
}

/* The request counter of endpoint in /metrics. */
static unsigned long long requests(const char *endpoint)
{
	char line[128];
	const char *p;
	json_t *j = get("/metrics", 200);
	json_decref(j);
	snprintf(line, sizeof line, "\niolm_rpc_requests_total{endpoint=\"%s\"} ", endpoint);
	p = strstr(T.body, line);
	if (!p)
		fail_msg("no counter for %s", endpoint);
	return strtoull(p + strlen(line), NULL, 10);
}

static void test_mining_requests_are_counted(void **state)
{
	static const char *const eps[6] = { "task", "work", "rewards", "shares", "history",
					    "tasks" };
	unsigned long long before[6];
	char id[65], w[65], a[IOLM_ADDR_STRLEN + 1];

	(void)state;
	for (int i = 0; i < 6; i++)
		before[i] = requests(eps[i]);
	hex32(id, T.task);
	hex32(w, T.work_a);
	addr_of(a, 1);
	json_decref(getf(200, "/task/%s", id));
	json_decref(getf(200, "/task/%s/best", id));
	json_decref(getf(200, "/work/%s", w));
	json_decref(getf(200, "/rewards/%s", a));
	json_decref(getf(200, "/shares/%s/%s", id, a));
	json_decref(getf(200, "/history/%s", a));
	json_decref(get("/tasks", 200));
	assert_int_equal(requests("task"), before[0] + 2);
	assert_int_equal(requests("work"), before[1] + 1);
	assert_int_equal(requests("rewards"), before[2] + 1);
	assert_int_equal(requests("shares"), before[3] + 1);
	assert_int_equal(requests("history"), before[4] + 1);
	assert_int_equal(requests("tasks"), before[5] + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_fields_params_and_proof),
		cmocka_unit_test(test_proof_bytes_match_fields),
		cmocka_unit_test(test_task_best_is_the_breakthrough),
		cmocka_unit_test(test_task_shares_list_every_share_with_proofs),
		cmocka_unit_test(test_task_without_works_has_no_best_and_no_shares),
		cmocka_unit_test(test_work_state_commit_and_attestations),
		cmocka_unit_test(test_work_lineage_walks_to_the_root),
		cmocka_unit_test(test_rewards_of_designer_and_miners),
		cmocka_unit_test(test_rewards_absent_is_zero_with_exclusion_proof),
		cmocka_unit_test(test_share_of_one_account),
		cmocka_unit_test(test_rewards_show_validator_pay),
		cmocka_unit_test(test_bad_arguments_are_400),
		cmocka_unit_test(test_unknown_objects_are_404),
		cmocka_unit_test(test_mining_routes),
		cmocka_unit_test(test_mining_requests_are_counted),
	};
	iolm_log_configure(IOLM_LOG_WARN, IOLM_LOG_TEXT, 2);
	return cmocka_run_group_tests(tests, setup, teardown);
}
