/* iolm-wallet's command line: options, output, exit codes (wallet/main.c) and the
 * commands that talk to a node (wallet/cmd_chain.c, wallet/cmd_mining.c). */
#ifndef IOLM_WALLET_CLI_H
#define IOLM_WALLET_CLI_H

#include <stdint.h>

#include <jansson.h>

#include "proto/iolm.pb-c.h"
#include "wallet/wallet.h"

/* Exit codes (docs/wallet.md "Exit codes"). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* anything not below */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3, /* the node did not answer */
	EXIT_PASSPHRASE = 4,  /* wrong passphrase */
	EXIT_FUNDS = 5,       /* insufficient funds */
	EXIT_REJECTED = 6,    /* the node rejected the transaction */
	EXIT_PROOF = 7,       /* the node's answer does not verify */
	EXIT_KEYSTORE = 8,    /* keystore missing, damaged or tampered with */
};

typedef struct wallet_cli {
	int argc;
	char **argv;
	int json;             /* --json */
	char keystore[4096];  /* path of the keystore in use */
	const char *node;     /* host:port */
	const char *cookie;   /* file, or NULL */
	const char *genesis;  /* file */
	const char *passfile; /* --passphrase-file, or NULL */
	char detail[512];     /* more about the last error, for the message */
} wallet_cli;

/* The value of option name ("--to"), or NULL. */
const char *cli_opt(const wallet_cli *c, const char *name);
/* Whether flag name ("--wait") is present. */
int cli_flag(const wallet_cli *c, const char *name);
/* The i-th positional argument after the command words (0-based), or NULL. */
const char *cli_arg(const wallet_cli *c, int i);
/* A decimal uint64 option (def when absent). IOLM_EINVAL when malformed. */
int cli_u64(const wallet_cli *c, const char *name, uint64_t def, uint64_t *out) IOLM_WUR;

/* Open the node (with the cookie when one was given): for answers shown as the node
 * gives them. On failure c->detail says why. */
int cli_node(wallet_cli *c, wallet_node *n) IOLM_WUR;
/* Open the node and the trust anchor: for answers the wallet checks. */
int cli_connect(wallet_cli *c, wallet_node *n, wallet_trust **t) IOLM_WUR;
/* Unlock the keystore: passphrase, then decrypt. */
int cli_unlock(wallet_cli *c, iolm_key *key) IOLM_WUR;
/* An address argument, or the keystore's own address when arg is NULL. */
int cli_address(wallet_cli *c, const char *arg, uint8_t id[static IOLM_ADDR_LEN]) IOLM_WUR;

/* Output: in --json mode o is printed as JSON; otherwise the command prints its own
 * lines. Takes ownership of o. */
void cli_emit_json(const wallet_cli *c, json_t *o);
/* "1,234,567" */
const char *cli_amount(char buf[static 32], uint64_t v);

/* Sign body with key (the caller set the kind; nonce and fee come from the proved account
 * and --fee), check that the account can pay `spend` + fee, submit, print the id, and wait
 * for the commit with --wait. extra (owned) is the JSON output to add to; id_name, when
 * set, names the id once more (a task's id is its transaction's). */
int cli_submit(wallet_cli *c, wallet_node *n, const wallet_trust *t, const iolm_key *key,
	       Iolm__TxBody *body, uint64_t spend, json_t *extra, const char *id_name) IOLM_WUR;

/* The commands; each returns an error code (main turns it into an exit code). */
int cmd_balance(wallet_cli *c);
int cmd_send(wallet_cli *c);
int cmd_model_pay(wallet_cli *c);
int cmd_model_get(wallet_cli *c);
int cmd_task_create(wallet_cli *c);
int cmd_task_list(wallet_cli *c);
int cmd_task_show(wallet_cli *c);
int cmd_rewards(wallet_cli *c);
int cmd_works(wallet_cli *c);

#endif
