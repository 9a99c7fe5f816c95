/* iolm-wallet: keys, balances, transfers, tasks, model payments and rewards, checked
 * against the validators' signatures (docs/wallet.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/hex.h"
#include "wallet/cli.h"

static const char *const value_opts[] = {
	"--wallet", "--name", "--keystore", "--node", "--cookie", "--genesis",
	"--passphrase-file", "--key-file", "--to", "--amount", "--fee", "--task", "--pool",
	"--dataset", "--eval", "--layers", "--embd", "--heads", "--seq-len", "--init-seed",
	"--lr", "--beta1", "--beta2", "--eps", "--weight-decay", "--warmup", "--total-steps",
	"--grad-clip", "--batch", "--segment-len", "--samples", "--designer-share-bps",
	"--breakthrough-bps", "--margin-start-ppm", "--margin-end-ppm", "--margin-decay",
	"--bond-min", "--deadline", "--task-name", "--limit", "--out", "--max-mb", "--work",
};

static int usage(void)
{
	fprintf(stderr,
		"usage: iolm-wallet [options] COMMAND\n"
		"keys:\n"
		"  new                       create a key in a new encrypted keystore\n"
		"  import --key-file FILE    encrypt an existing key file (iolmd init's node.key)\n"
		"  address                   the keystore's address\n"
		"chain (checked against +2/3 of the genesis validators):\n"
		"  balance [ADDR]            balance and nonce, proved\n"
		"  send --to ADDR --amount N\n"
		"  task create --dataset ID --eval ID --pool N [model, optimizer, economics]\n"
		"  task list | task show ID\n"
		"  model pay --task ID --amount N\n"
		"  model get --task ID | --work ID --out FILE [--max-mb N]\n"
		"                            the task's best model from its miner, checked\n"
		"                            against the checkpoint id its work committed to\n"
		"  rewards [ADDR]            breakthroughs, revenue shares, validator rewards,\n"
		"                            profit shares per task, history\n"
		"  works [ADDR]              the works an account committed and their fate\n"
		"options:\n"
		"  --wallet DIR              wallet folder (IOLM_WALLET_DIR, ~/.iolm-wallet)\n"
		"  --name NAME | --keystore FILE   which key (default: DIR/default.keystore)\n"
		"  --node HOST:PORT          node RPC (IOLM_NODE, 127.0.0.1:26657)\n"
		"  --cookie FILE             node's rpc.cookie, to submit (IOLM_COOKIE)\n"
		"  --genesis FILE            the chain's genesis (IOLM_GENESIS, DIR/genesis.json)\n"
		"  --passphrase-file FILE    else IOLM_WALLET_PASSPHRASE, else a prompt\n"
		"  --fee N  --wait  --json  --fast-kdf (new, import: 64 MiB Argon2id)\n"
		"task create: --layers 2 --embd 64 --heads 4 --seq-len 64 --init-seed 1 --batch 8\n"
		"  --lr 0.0003 --beta1 0.9 --beta2 0.95 --eps 1e-8 --weight-decay 0.1 --warmup 0\n"
		"  --total-steps 1000000 --grad-clip 0 --segment-len 10 --samples 8\n"
		"  --designer-share-bps 2000 --breakthrough-bps 1000 --margin-start-ppm 5000\n"
		"  --margin-end-ppm 100 --margin-decay 10000 --bond-min 1000 --deadline 0\n"
		"  --task-name TEXT\n"
		"exit codes: 0 ok, 1 error, 2 usage, 3 node unreachable, 4 wrong passphrase,\n"
		"  5 insufficient funds, 6 transaction rejected, 7 proof does not verify,\n"
		"  8 keystore missing or damaged\n");
	return EXIT_USAGE;
}

/* ---------------------------------------------------------------- options */

static int takes_value(const char *a)
{
	for (size_t i = 0; i < sizeof value_opts / sizeof value_opts[0]; i++)
		if (!strcmp(a, value_opts[i]))
			return 1;
	return 0;
}

const char *cli_opt(const wallet_cli *c, const char *name)
{
	for (int i = 1; i + 1 < c->argc; i++)
		if (!strcmp(c->argv[i], name))
			return c->argv[i + 1];
	return NULL;
}

int cli_flag(const wallet_cli *c, const char *name)
{
	for (int i = 1; i < c->argc; i++)
		if (!strcmp(c->argv[i], name))
			return 1;
	return 0;
}

/* Positional words: argv entries that are neither options nor option values. Index 0 is
 * the command; cli_arg(c, i) is the i-th after the command words the caller skips. */
static const char *positional(const wallet_cli *c, int k)
{
	for (int i = 1; i < c->argc; i++) {
		if (c->argv[i][0] == '-' && c->argv[i][1] == '-') {
			i += takes_value(c->argv[i]);
			continue;
		}
		if (k-- == 0)
			return c->argv[i];
	}
	return NULL;
}

static int command_words(const wallet_cli *c)
{
	const char *w = positional(c, 0);
	return w && (!strcmp(w, "task") || !strcmp(w, "model")) ? 2 : 1;
}

const char *cli_arg(const wallet_cli *c, int i)
{
	return positional(c, command_words(c) + i);
}

int cli_u64(const wallet_cli *c, const char *name, uint64_t def, uint64_t *out)
{
	const char *v = cli_opt(c, name);
	char *end;
	*out = def;
	if (!v)
		return IOLM_OK;
	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		return IOLM_EINVAL;
	*out = strtoull(v, &end, 10);
	return errno || *end ? IOLM_EINVAL : IOLM_OK;
}

static const char *env_or(const char *opt, const char *env, const char *def)
{
	const char *e = getenv(env);
	return opt ? opt : e && *e ? e : def;
}

/* ---------------------------------------------------------------- output */

void cli_emit_json(const wallet_cli *c, json_t *o)
{
	if (c->json && o) {
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s)
			printf("%s\n", s);
		free(s);
	}
	json_decref(o);
}

const char *cli_amount(char buf[static 32], uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), k = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

static int exit_code(int err)
{
	switch (err) {
	case IOLM_OK:
		return EXIT_OK;
	case IOLM_EWALLET_UNREACHABLE:
		return EXIT_UNREACHABLE;
	case IOLM_EWALLET_PASS:
	case IOLM_EWALLET_MISMATCH:
		return EXIT_PASSPHRASE;
	case IOLM_EWALLET_FUNDS:
		return EXIT_FUNDS;
	case IOLM_EWALLET_REJECTED:
		return EXIT_REJECTED;
	case IOLM_EWALLET_PROOF:
	case IOLM_EWALLET_MODEL:
		return EXIT_PROOF;
	case IOLM_EWALLET_CORRUPT:
	case IOLM_EWALLET_NOKEY:
	case IOLM_EPERM:
		return EXIT_KEYSTORE;
	case IOLM_EINVAL:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

static int report(const wallet_cli *c, int err)
{
	if (err == IOLM_EINVAL && !c->detail[0])
		return usage();
	fprintf(stderr, "iolm-wallet: %s%s%s\n", iolm_strerror(err), c->detail[0] ? ": " : "",
		c->detail);
	if (c->json) {
		json_t *o = json_pack("{s:{s:i,s:s,s:s,s:s}}", "error", "code", err, "name",
				      iolm_errname(err), "message", iolm_strerror(err), "detail",
				      c->detail);
		cli_emit_json(c, o);
	}
	return exit_code(err);
}

/* ---------------------------------------------------------------- shared steps */

int cli_node(wallet_cli *c, wallet_node *n)
{
	int err = wallet_node_open(n, c->node, c->cookie);
	if (err)
		snprintf(c->detail, sizeof c->detail, "%s %s", err == IOLM_ENOTFOUND ? "cookie file"
			 : "node address", err == IOLM_ENOTFOUND ? c->cookie : c->node);
	return err;
}

int cli_connect(wallet_cli *c, wallet_node *n, wallet_trust **t)
{
	int err;
	*t = NULL;
	memset(n, 0, sizeof *n);
	if ((err = wallet_trust_load(t, c->genesis, c->detail, sizeof c->detail)))
		return err;
	if ((err = cli_node(c, n))) {
		wallet_trust_destroy(*t);
		*t = NULL;
	}
	return err;
}

int cli_unlock(wallet_cli *c, iolm_key *key)
{
	char *pass, prompt[4200];
	size_t len;
	uint8_t pub[IOLM_PUBKEY_LEN];
	int err;

	memset(key, 0, sizeof *key);
	if ((err = wallet_keystore_pubkey(pub, c->keystore))) {
		snprintf(c->detail, sizeof c->detail, "%.480s", c->keystore);
		return err;
	}
	snprintf(prompt, sizeof prompt, "Passphrase for %s: ", c->keystore);
	if ((err = wallet_pass_get(&pass, &len, c->passfile, prompt, 0)))
		return err;
	err = wallet_keystore_open(key, c->keystore, pass, len);
	wallet_pass_free(pass);
	if (err)
		snprintf(c->detail, sizeof c->detail, "%.480s", c->keystore);
	return err;
}

int cli_address(wallet_cli *c, const char *arg, uint8_t id[static IOLM_ADDR_LEN])
{
	uint8_t pub[IOLM_PUBKEY_LEN];
	int err;
	if (arg) {
		if (iolm_addr_decode(id, arg)) {
			snprintf(c->detail, sizeof c->detail, "not an iolm address: %s", arg);
			return IOLM_EINVAL;
		}
		return IOLM_OK;
	}
	if ((err = wallet_keystore_pubkey(pub, c->keystore))) {
		snprintf(c->detail, sizeof c->detail, "%.480s", c->keystore);
		return err;
	}
	iolm_addr_from_pub(id, pub);
	return IOLM_OK;
}

/* ---------------------------------------------------------------- key commands */

static int save_key(wallet_cli *c, const iolm_key *key)
{
	const wallet_kdf *kdf = cli_flag(c, "--fast-kdf") ? &WALLET_KDF_FAST : &WALLET_KDF_DEFAULT;
	char *pass, addr[IOLM_ADDR_STRLEN + 1], pubhex[65];
	uint8_t id[IOLM_ADDR_LEN];
	size_t len;
	int err;

	if (access(c->keystore, F_OK) == 0) {
		snprintf(c->detail, sizeof c->detail, "%.440s (choose another --name)", c->keystore);
		return IOLM_EEXIST;
	}
	if ((err = wallet_pass_get(&pass, &len, c->passfile, "New passphrase: ", 1)))
		return err;
	err = wallet_keystore_create(c->keystore, key, pass, len, kdf);
	wallet_pass_free(pass);
	if (err) {
		snprintf(c->detail, sizeof c->detail, "%.480s", c->keystore);
		return err;
	}
	iolm_addr_from_pub(id, iolm_key_pub(key));
	iolm_addr_encode(addr, id);
	iolm_hex_encode(pubhex, sizeof pubhex, iolm_key_pub(key), IOLM_PUBKEY_LEN);
	if (c->json)
		cli_emit_json(c, json_pack("{s:s,s:s,s:s}", "address", addr, "pubkey", pubhex,
					   "keystore", c->keystore));
	else
		printf("address   %s\nkeystore  %s\n", addr, c->keystore);
	return IOLM_OK;
}

static int cmd_new(wallet_cli *c)
{
	iolm_key key;
	int err = iolm_key_generate(&key);
	if (!err)
		err = save_key(c, &key);
	iolm_key_wipe(&key);
	return err;
}

static int cmd_import(wallet_cli *c)
{
	const char *file = cli_opt(c, "--key-file");
	iolm_key key;
	int err;
	if (!file)
		return IOLM_EINVAL;
	if ((err = iolm_key_load(&key, file))) {
		snprintf(c->detail, sizeof c->detail, "key file %.480s", file);
		return err;
	}
	err = save_key(c, &key);
	iolm_key_wipe(&key);
	return err;
}

static int cmd_address(wallet_cli *c)
{
	uint8_t id[IOLM_ADDR_LEN];
	char addr[IOLM_ADDR_STRLEN + 1];
	int err = cli_address(c, NULL, id);
	if (err)
		return err;
	iolm_addr_encode(addr, id);
	if (c->json)
		cli_emit_json(c, json_pack("{s:s,s:s}", "address", addr, "keystore", c->keystore));
	else
		printf("%s\n", addr);
	return IOLM_OK;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static wallet_cli c;
	char dflt_dir[4096], genesis[4200];
	const char *home = getenv("HOME");
	int err;

	if (sodium_init() < 0 || iolm_crypto_init())
		return EXIT_FAIL;
	c.argc = argc;
	c.argv = argv;
	c.json = cli_flag(&c, "--json");
	snprintf(dflt_dir, sizeof dflt_dir, "%s/.iolm-wallet", home ? home : ".");
	const char *dir = env_or(cli_opt(&c, "--wallet"), "IOLM_WALLET_DIR", dflt_dir);
	const char *name = cli_opt(&c, "--name") ? cli_opt(&c, "--name") : "default";
	if (cli_opt(&c, "--keystore"))
		snprintf(c.keystore, sizeof c.keystore, "%s", cli_opt(&c, "--keystore"));
	else if (strchr(name, '/') || snprintf(c.keystore, sizeof c.keystore, "%s/%s.keystore",
					       dir, name) >= (int)sizeof c.keystore)
		return usage();
	snprintf(genesis, sizeof genesis, "%s/genesis.json", dir);
	c.node = env_or(cli_opt(&c, "--node"), "IOLM_NODE", "127.0.0.1:26657");
	c.cookie = env_or(cli_opt(&c, "--cookie"), "IOLM_COOKIE", NULL);
	c.genesis = env_or(cli_opt(&c, "--genesis"), "IOLM_GENESIS", genesis);
	c.passfile = cli_opt(&c, "--passphrase-file");

	const char *cmd = positional(&c, 0), *sub = positional(&c, 1);
	if (!cmd || cli_flag(&c, "--help") || cli_flag(&c, "-h"))
		return usage();
	if (!strcmp(cmd, "new") || !strcmp(cmd, "import")) {
		if (!cli_opt(&c, "--keystore") && mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(c.detail, sizeof c.detail, "cannot create %.480s", dir);
			return report(&c, IOLM_EIO);
		}
		err = !strcmp(cmd, "new") ? cmd_new(&c) : cmd_import(&c);
	} else if (!strcmp(cmd, "address")) {
		err = cmd_address(&c);
	} else if (!strcmp(cmd, "balance")) {
		err = cmd_balance(&c);
	} else if (!strcmp(cmd, "send")) {
		err = cmd_send(&c);
	} else if (!strcmp(cmd, "task") && sub && !strcmp(sub, "create")) {
		err = cmd_task_create(&c);
	} else if (!strcmp(cmd, "task") && sub && !strcmp(sub, "list")) {
		err = cmd_task_list(&c);
	} else if (!strcmp(cmd, "task") && sub && !strcmp(sub, "show")) {
		err = cmd_task_show(&c);
	} else if (!strcmp(cmd, "model") && sub && !strcmp(sub, "pay")) {
		err = cmd_model_pay(&c);
	} else if (!strcmp(cmd, "model") && sub && !strcmp(sub, "get")) {
		err = cmd_model_get(&c);
	} else if (!strcmp(cmd, "rewards")) {
		err = cmd_rewards(&c);
	} else if (!strcmp(cmd, "works")) {
		err = cmd_works(&c);
	} else {
		return usage();
	}
	return err ? report(&c, err) : EXIT_OK;
}
