/* The node's RPC as the miner uses it (docs/rpc.md "Mining"): GET /status (chain id),
 * /task/{id}, /work/{id}, /account/{addr}, /rewards/{addr}, and POST /tx; plus plain
 * fetches from another miner's endpoint. Signed and hashed objects are decoded from the
 * exact bytes the answer carries (params_bytes, commit_bytes), not from their JSON
 * rendering, so the miner trains on precisely what the chain holds. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/codec.h"
#include "core/hash.h"
#include "core/hex.h"
#include "node/miner_int.h"

#define RPC_TIMEOUT_MS 10000
#define RPC_MAX_ANSWER (16u << 20) /* a /work answer lists attestations and lineage */
#define FETCH_TIMEOUT_MS 300000
#define ARTIFACT_STALL_NS (120ull * 1000000000u) /* a node fetch without progress */

int miner_split_hostport(char *host, size_t cap, uint16_t *port, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;
	size_t n;
	if (!colon || colon == s || miner_parse_u64(&p, colon + 1) || p == 0 || p > 65535)
		return IOLM_EINVAL;
	n = (size_t)(colon - s);
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']') { /* [v6]:port */
		s++;
		n -= 2;
	}
	if (n == 0 || n >= cap)
		return IOLM_EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return IOLM_OK;
}

/* A JSON u64: a number, or a decimal string above 2^63 - 1 (docs/rpc.md). */
static uint64_t ju64(const json_t *j)
{
	uint64_t v = 0;
	if (json_is_integer(j) && json_integer_value(j) >= 0)
		return (uint64_t)json_integer_value(j);
	if (json_is_string(j) && miner_parse_u64(&v, json_string_value(j)) == IOLM_OK)
		return v;
	return 0;
}

/* The hex string field key of o decoded into out (at most cap bytes; *len the count).
 * IOLM_EDECODE when absent or not hex. */
static int jhex(uint8_t *out, size_t cap, size_t *len, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s || iolm_hex_decode(out, cap, len, s, strlen(s)))
		return IOLM_EDECODE;
	return IOLM_OK;
}

/* The node's error code in an error answer, or fallback. */
static int answer_error(const iolm_buf *b, int fallback, int print)
{
	json_t *j = json_loadb((const char *)b->data, b->len, 0, NULL);
	json_t *e = j ? json_object_get(j, "error") : NULL;
	int code = json_is_integer(json_object_get(e, "code"))
			   ? (int)json_integer_value(json_object_get(e, "code"))
			   : fallback;
	if (print && e) {
		const char *msg = json_string_value(json_object_get(e, "message"));
		const char *name = json_string_value(json_object_get(e, "name"));
		fprintf(stderr, "iolm-miner: node refused: %s (%s)\n", msg ? msg : "?",
			name ? name : "?");
	}
	json_decref(j);
	return code < 0 ? code : fallback;
}

/* GET path as JSON into *out (the caller decrefs). A non-200 answer is the node's error
 * code (IOLM_ENOTFOUND for a 404 without one). */
static int get_json(miner_rpc *r, json_t **out, const char *path)
{
	iolm_buf b;
	int status, err;
	*out = NULL;
	iolm_buf_init(&b, RPC_MAX_ANSWER);
	err = iolm_httpc_request(r->c, "GET", path, NULL, NULL, 0, &status, &b, RPC_TIMEOUT_MS);
	if (!err && status != 200)
		err = answer_error(&b, status == 404 ? IOLM_ENOTFOUND : IOLM_EIO, 0);
	if (!err && !(*out = json_loadb((const char *)b.data, b.len, 0, NULL)))
		err = IOLM_EDECODE;
	iolm_buf_release(&b, 0);
	return err;
}

int miner_rpc_open(miner_rpc *r, const char *hostport, const char *cookie_file)
{
	char host[256];
	uint16_t port;
	json_t *st = NULL;
	int err;
	memset(r, 0, sizeof *r);
	if ((err = miner_split_hostport(host, sizeof host, &port, hostport))) {
		fprintf(stderr, "iolm-miner: --node must be HOST:PORT, not '%s'\n", hostport);
		return err;
	}
	if ((err = iolm_httpc_read_cookie(r->token, cookie_file))) {
		fprintf(stderr, "iolm-miner: cookie %s: %s\n", cookie_file, iolm_strerror(err));
		return err;
	}
	if ((err = iolm_httpc_create(&r->c, host, port)))
		goto out;
	if ((err = get_json(r, &st, "/status"))) {
		fprintf(stderr, "iolm-miner: GET %s/status: %s\n", hostport, iolm_strerror(err));
		goto out;
	}
	const char *chain = json_string_value(json_object_get(st, "chain_id"));
	if (!chain || strlen(chain) > LEDGER_MAX_CHAIN_ID) {
		err = IOLM_EDECODE;
		goto out;
	}
	snprintf(r->chain_id, sizeof r->chain_id, "%s", chain);
out:
	json_decref(st);
	if (err)
		miner_rpc_close(r);
	return err;
}

void miner_rpc_close(miner_rpc *r)
{
	iolm_httpc_destroy(r->c);
	sodium_memzero(r->token, sizeof r->token);
	memset(r, 0, sizeof *r);
}

int miner_rpc_task(miner_rpc *r, miner_task *t, const uint8_t id[static 32])
{
	char path[128], hex[65];
	uint8_t *params = NULL;
	size_t plen = 0, n;
	json_t *j = NULL;
	Iolm__TaskCreate *tc = NULL;
	int err;

	memset(t, 0, sizeof *t);
	iolm_hex_encode(hex, sizeof hex, id, 32);
	snprintf(path, sizeof path, "/task/%s", hex);
	if ((err = get_json(r, &j, path)))
		goto out;
	const char *ph = json_string_value(json_object_get(j, "params_bytes"));
	if (!ph || strlen(ph) > 2 * (size_t)IOLM_MAX_TX_BYTES) {
		err = IOLM_EDECODE;
		goto out;
	}
	if (!(params = malloc(strlen(ph) / 2 + 1))) {
		err = IOLM_ENOMEM;
		goto out;
	}
	if ((err = iolm_hex_decode(params, strlen(ph) / 2 + 1, &plen, ph, strlen(ph))) ||
	    (err = iolm_codec_decode((ProtobufCMessage **)&tc, &iolm__task_create__descriptor,
				     params, plen, IOLM_MAX_TX_BYTES)))
		goto out;
	if ((err = compute_task_from_create(&t->task, id, tc)))
		goto out;
	if (tc->dataset_id.len != LEDGER_ARTIFACT_ID_LEN ||
	    tc->eval_id.len != LEDGER_ARTIFACT_ID_LEN) {
		err = IOLM_EDECODE;
		goto out;
	}
	memcpy(t->dataset_id, tc->dataset_id.data, LEDGER_ARTIFACT_ID_LEN);
	memcpy(t->eval_id, tc->eval_id.data, LEDGER_ARTIFACT_ID_LEN);
	t->bond_min = tc->bond_min;
	t->total_steps = tc->optim->total_steps;
	snprintf(t->name, sizeof t->name, "%s", tc->name ? tc->name : "");
	if (jhex(t->best_work, sizeof t->best_work, &n, j, "best_work") == IOLM_OK && n == 32)
		t->has_best = 1;
out:
	iolm_codec_free(tc ? &tc->base : NULL);
	free(params);
	json_decref(j);
	if (err)
		memset(t, 0, sizeof *t);
	return err;
}

int miner_rpc_work(miner_rpc *r, miner_work *w, const uint8_t id[static 32])
{
	char path[128], hex[65];
	uint8_t commit[IOLM_MAX_TX_BYTES];
	size_t clen;
	json_t *j = NULL;
	Iolm__WorkCommit *wc = NULL;
	int err;

	memset(w, 0, sizeof *w);
	iolm_hex_encode(hex, sizeof hex, id, 32);
	snprintf(path, sizeof path, "/work/%s", hex);
	err = get_json(r, &j, path);
	if (err == IOLM_ENOTFOUND || err == IOLM_ELEDGER_NOWORK)
		return IOLM_OK; /* MINER_WORK_UNSEEN */
	if (err)
		return err;
	if ((err = jhex(commit, sizeof commit, &clen, j, "commit_bytes")) ||
	    (err = iolm_codec_decode((ProtobufCMessage **)&wc, &iolm__work_commit__descriptor,
				     commit, clen, IOLM_MAX_TX_BYTES)))
		goto out;
	json_int_t st = json_integer_value(json_object_get(j, "status"));
	if (st < MINER_WORK_PENDING || st > MINER_WORK_SLASHED || wc->task_id.len != 32 ||
	    wc->final_state.len != 32 || wc->checkpoint_id.len != ART_ID_LEN) {
		err = IOLM_EDECODE;
		goto out;
	}
	w->status = (enum miner_work_status)st;
	w->valid_power = ju64(json_object_get(j, "valid_power"));
	w->invalid_power = ju64(json_object_get(j, "invalid_power"));
	w->commit_height = ju64(json_object_get(j, "commit_height"));
	w->decided_height = ju64(json_object_get(j, "decided_height"));
	w->end_step = ju64(json_object_get(j, "end_step"));
	w->was_best = json_is_true(json_object_get(j, "was_best"));
	memcpy(w->task_id, wc->task_id.data, 32);
	memcpy(w->final_state, wc->final_state.data, 32);
	memcpy(w->checkpoint_id, wc->checkpoint_id.data, ART_ID_LEN);
	w->eval_loss = wc->eval_loss;
	if (w->end_step != wc->start_step + wc->steps) {
		err = IOLM_EDECODE;
		goto out;
	}
	snprintf(w->endpoint, sizeof w->endpoint, "%s", wc->endpoint ? wc->endpoint : "");
out:
	iolm_codec_free(wc ? &wc->base : NULL);
	json_decref(j);
	if (err)
		memset(w, 0, sizeof *w);
	return err;
}

static int account_json(miner_rpc *r, json_t **j, const char *what,
			const uint8_t acct[static IOLM_ADDR_LEN])
{
	char path[128], addr[IOLM_ADDR_STRLEN + 1];
	iolm_addr_encode(addr, acct);
	snprintf(path, sizeof path, "/%s/%s", what, addr);
	return get_json(r, j, path);
}

int miner_rpc_rewards(miner_rpc *r, miner_rewards *out, const uint8_t acct[static IOLM_ADDR_LEN])
{
	json_t *j = NULL;
	int err;
	memset(out, 0, sizeof *out);
	if ((err = account_json(r, &j, "rewards", acct)))
		return err;
	out->breakthrough = ju64(json_object_get(j, "breakthrough"));
	out->revenue = ju64(json_object_get(j, "revenue"));
	out->bonds_returned = ju64(json_object_get(j, "bonds_returned"));
	out->slashed = ju64(json_object_get(j, "slashed"));
	json_decref(j);
	if ((err = account_json(r, &j, "account", acct)))
		return err;
	out->balance = ju64(json_object_get(j, "balance"));
	json_decref(j);
	return IOLM_OK;
}

/* POST /tx with the hex of tx; IOLM_OK when admitted, the node's code otherwise. */
static int post_tx(miner_rpc *r, const iolm_buf *tx)
{
	char *hex = malloc(2 * tx->len + 1);
	iolm_buf out;
	int status, err;
	if (!hex)
		return IOLM_ENOMEM;
	iolm_hex_encode(hex, 2 * tx->len + 1, tx->data, tx->len);
	iolm_buf_init(&out, 1u << 16);
	err = iolm_httpc_request(r->c, "POST", "/tx", r->token, hex, 2 * tx->len, &status, &out,
				 RPC_TIMEOUT_MS);
	free(hex);
	if (!err && status != 200)
		err = answer_error(&out, IOLM_EIO, 1);
	iolm_buf_release(&out, 0);
	return err;
}

int miner_rpc_send(miner_rpc *r, uint8_t id[static 32], Iolm__TxBody *body, const iolm_key *key,
		   uint64_t fee)
{
	uint8_t acct[IOLM_ADDR_LEN];
	json_t *j = NULL;
	iolm_buf tx;
	int err;

	memset(id, 0, 32);
	iolm_addr_from_pub(acct, iolm_key_pub(key));
	if ((err = account_json(r, &j, "account", acct)))
		return err;
	body->chain_id = r->chain_id;
	body->nonce = ju64(json_object_get(j, "nonce"));
	body->fee = fee;
	json_decref(j);
	iolm_buf_init(&tx, IOLM_MAX_TX_BYTES);
	if (!(err = ledger_tx_sign(&tx, body, key, r->chain_id)) && !(err = post_tx(r, &tx)))
		iolm_hash(id, IOLM_TAG_TX, tx.data, tx.len);
	iolm_buf_release(&tx, 0);
	return err;
}

int miner_http_fetch(const char *endpoint, const char *path, const char *dest, size_t cap)
{
	char host[256];
	uint16_t port;
	iolm_httpc *c = NULL;
	int status = 0, err;

	if (iolm_httpc_parse_url(host, sizeof host, &port, endpoint))
		return IOLM_EINVAL;
	if ((err = iolm_httpc_create(&c, host, port)))
		return err;
	err = iolm_httpc_get_file(c, path, NULL, dest, cap, &status, NULL, FETCH_TIMEOUT_MS);
	if (!err && status != 200)
		err = status == 404 ? IOLM_ENOTFOUND : IOLM_EIO;
	iolm_httpc_destroy(c);
	return err;
}

int miner_rpc_tx_status(miner_rpc *r, const uint8_t id[static 32])
{
	char path[128], hex[65];
	json_t *j = NULL;
	int err, st = 0;
	iolm_hex_encode(hex, sizeof hex, id, 32);
	snprintf(path, sizeof path, "/tx/%s", hex);
	err = get_json(r, &j, path);
	if (err == IOLM_ENOTFOUND)
		return 0;
	if (err)
		return err;
	const char *s = json_string_value(json_object_get(j, "status"));
	if (s && strcmp(s, "pending") == 0)
		st = 1;
	else if (s && strcmp(s, "committed") == 0)
		st = 2;
	json_decref(j);
	return st;
}

/* ---------------------------------------------------------------- artifacts */

/* The fetch's progress (GET /artifact/{hex}): its state, bytes done and total. */
static int artifact_progress(miner_rpc *r, const char *hex, char *state, size_t cap,
			     uint64_t *done, uint64_t *total)
{
	char path[96];
	json_t *j;
	snprintf(path, sizeof path, "/artifact/%s", hex);
	int err = get_json(r, &j, path);
	if (err)
		return err;
	const char *st = json_string_value(json_object_get(j, "state"));
	snprintf(state, cap, "%s", st ? st : "?");
	*done = (uint64_t)json_integer_value(json_object_get(j, "bytes_done"));
	*total = (uint64_t)json_integer_value(json_object_get(j, "bytes_total"));
	if (st && !strcmp(st, "failed")) {
		const char *e = json_string_value(json_object_get(j, "error"));
		fprintf(stderr, "iolm-miner: the node could not fetch artifact %.16s...: %s\n", hex,
			e ? e : "?");
		err = IOLM_EIO;
	}
	json_decref(j);
	return err;
}

/* The file name artifact id gives its one file (GET /artifact/{hex}/manifest, checked
 * against id), into name. */
static int artifact_name(miner_rpc *r, const char *hex, const uint8_t id[static ART_ID_LEN],
			 char *name, size_t cap)
{
	char path[112];
	uint8_t got[ART_ID_LEN];
	Iolm__Manifest *m = NULL;
	iolm_buf b;
	int status = 0, err;
	snprintf(path, sizeof path, "/artifact/%s/manifest", hex);
	iolm_buf_init(&b, IOLM_MAX_MANIFEST_BYTES);
	err = iolm_httpc_request(r->c, "GET", path, NULL, NULL, 0, &status, &b, RPC_TIMEOUT_MS);
	if (!err && status != 200)
		err = answer_error(&b, status == 404 ? IOLM_ENOTFOUND : IOLM_EIO, 1);
	if (!err && !(err = art_manifest_decode(&m, got, b.data, b.len)) &&
	    memcmp(got, id, ART_ID_LEN) != 0)
		err = IOLM_EART_MANIFEST;
	if (!err && m->n_files != 1)
		err = IOLM_EART_FILES;
	if (!err) {
		const char *base = strrchr(m->files[0]->path, '/');
		base = base ? base + 1 : m->files[0]->path;
		if (!*base || snprintf(name, cap, "%s", base) >= (int)cap)
			err = IOLM_EART_PATH;
	}
	iolm_codec_free(m ? &m->base : NULL);
	iolm_buf_release(&b, 0);
	return err;
}

int miner_rpc_artifact(miner_rpc *r, const uint8_t id[static ART_ID_LEN], const char *dir,
		       char *dest, size_t dest_cap, size_t cap)
{
	char hex[2 * ART_ID_LEN + 1], path[112], state[16], name[256];
	uint64_t done = 0, total = 0, last = UINT64_MAX;
	uint64_t since = iolm_clock_mono_ns(), shown = 0;
	iolm_buf b;
	int status = 0, err;
	iolm_hex_encode(hex, sizeof hex, id, ART_ID_LEN);
	snprintf(path, sizeof path, "/artifact/fetch/%s", hex);
	iolm_buf_init(&b, RPC_MAX_ANSWER);
	err = iolm_httpc_request(r->c, "POST", path, r->token, NULL, 0, &status, &b,
				 RPC_TIMEOUT_MS);
	if (!err && status != 200)
		err = answer_error(&b, IOLM_EIO, 1);
	iolm_buf_release(&b, 0);
	/* The node fetches it from its peers (done at once when it holds it already). */
	while (!err && !(err = artifact_progress(r, hex, state, sizeof state, &done, &total)) &&
	       strcmp(state, "done")) {
		uint64_t now = iolm_clock_mono_ns();
		if (done != last) {
			last = done;
			since = now;
		} else if (now - since > ARTIFACT_STALL_NS) {
			fprintf(stderr, "iolm-miner: artifact %.16s...: no progress for %d s "
					"(no peer of the node holds it?)\n", hex,
				(int)(ARTIFACT_STALL_NS / 1000000000u));
			err = IOLM_ETIMEOUT;
			break;
		}
		if (now - shown >= 1000000000u) {
			shown = now;
			printf("node fetching artifact %.16s...: %" PRIu64 " of %" PRIu64 " bytes\n",
			       hex, done, total);
			fflush(stdout);
		}
		if (miner_stop) {
			err = IOLM_ETIMEOUT;
			break;
		}
		iolm_sleep_ms(200);
	}
	if (err || (err = artifact_name(r, hex, id, name, sizeof name)))
		return err;
	/* DIR/<id>/<name>: the id covers the file's base name, so it keeps it */
	if (snprintf(dest, dest_cap, "%s/%s", dir, hex) >= (int)dest_cap)
		return IOLM_ELENGTH;
	if (mkdir(dest, 0755) != 0 && errno != EEXIST)
		return IOLM_EIO;
	if (snprintf(dest, dest_cap, "%s/%s/%s", dir, hex, name) >= (int)dest_cap)
		return IOLM_ELENGTH;
	snprintf(path, sizeof path, "/artifact/%s/content", hex);
	iolm_buf_init(&b, RPC_MAX_ANSWER); /* an error's body; the content goes to dest */
	err = iolm_httpc_get_file(r->c, path, r->token, dest, cap, &status, &b, FETCH_TIMEOUT_MS);
	if (!err && status != 200)
		err = answer_error(&b, status == 404 ? IOLM_ENOTFOUND : IOLM_EIO, 1);
	iolm_buf_release(&b, 0);
	return err;
}
