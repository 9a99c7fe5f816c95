/* iolmd's client-side subcommands (node/cli_art.c, node/cli_tx.c). */
#ifndef IOLM_NODE_CLI_H
#define IOLM_NODE_CLI_H

/* argv[1] is the subcommand ("art", "tx"); options from argv[2] on. Return an exit code. */
int cli_art(int argc, char **argv);
int cli_tx(int argc, char **argv);

/* The value after option `name` in argv[2..], or NULL. */
const char *cli_opt(int argc, char **argv, const char *name);

#endif
