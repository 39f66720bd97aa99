/*
 * cli: the `mailhub` subcommands of INTERFACE.md.
 *
 * main.c parses the global options (--config FILE, --help, version), finds
 * the subcommand in one table and calls it with the remaining arguments
 * (argv[0] is the subcommand's name).  Every command returns an exit status:
 * 0 success, 1 operational failure (message on stderr), 2 usage error.
 * Passwords are read only from standard input (--password-stdin).
 */
#ifndef MAILHUB_CLI_CLI_H
#define MAILHUB_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/xmalloc.h"

struct config;
struct store;

enum cli_exit {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2,
};

/* What every command gets: the config path chosen (--config, then
 * $MAILHUB_CONFIG, then the default) and the loaded config. */
struct cli_ctx {
	const char *config_path;
	struct config *cfg;
};

typedef int cli_command_fn(struct cli_ctx *ctx, int argc, char **argv);

cli_command_fn cmd_serve; /* cli/serve.c */
cli_command_fn cmd_init;  /* cli/init.c */
cli_command_fn cmd_domain;
cli_command_fn cmd_user;
cli_command_fn cmd_alias;
cli_command_fn cmd_token;
cli_command_fn cmd_fsck;
cli_command_fn cmd_upstream; /* cli/upstream.c */
cli_command_fn cmd_import;   /* cli/import.c */
cli_command_fn cmd_export;   /* cli/export.c */
cli_command_fn cmd_backup;   /* cli/backup.c */
cli_command_fn cmd_restore;
cli_command_fn cmd_doctor;   /* cli/doctor.c */
cli_command_fn cmd_sieve;    /* cli/sieve.c */
/* `user app-password ...` (cli/app_password.c), reached through cmd_user */
cli_command_fn cli_user_app_password;

/*
 * Creates data_dir (mode 0750) with its database (migrations applied),
 * blobs/, the self-signed certificate in tls/ (for hostname) and secret.key,
 * leaving whatever exists already untouched.  Shared by `init` and by `serve`
 * on a data_dir that was never initialised.  0, or -1 with *error_r.
 */
int cli_init_data_dir(const struct config *cfg, const char *hostname, const char **error_r);

/* ---- helpers shared by the commands (cli/util.c) ------------------------ */

/* Prints "mailhub: MESSAGE" on stderr (an operational failure). */
void cli_error(const char *fmt, ...) MH_PRINTF(1, 2);
/* Prints "mailhub: MESSAGE" on stderr and returns CLI_USAGE; main.c then
 * prints the command's usage below it. */
int cli_usage_error(const char *fmt, ...) MH_PRINTF(1, 2);

/* One option a command accepts, filled in by cli_parse_args(). */
struct cli_option {
	const char *name;  /* "--quota" */
	bool takes_value;  /* "--quota 10M" or "--quota=10M" */
	bool seen;         /* out */
	const char *value; /* out: the value when takes_value */
};

/*
 * Splits argv[first..argc) into the options of opts (each at most once) and
 * at most max_pos positional arguments (in pos[], *n_pos_r of them); "--"
 * ends the options.  Anything else that starts with '-' is a usage error.
 * Returns CLI_OK, or CLI_USAGE after printing why (what names the command,
 * "user add").
 */
int cli_parse_args(const char *what, int argc, char **argv, int first, struct cli_option *opts,
                   size_t n_opts, const char **pos, size_t max_pos, size_t *n_pos_r);

/*
 * Opens the store of the config's data_dir, which `mailhub init` must have
 * created (commands other than init and serve never create a data_dir).
 * Returns CLI_OK, or CLI_FAIL after printing why.
 */
int cli_store_open(const struct cli_ctx *ctx, struct store **st_r);

/*
 * Reads a password from standard input: the first line without its line
 * end, at most PASSWORD_MAX bytes, not empty.  On a terminal it prompts on
 * stderr and turns echo off.  *password_r is freed with cli_password_free(),
 * which wipes it.  Returns CLI_OK, or CLI_FAIL after printing why.
 */
int cli_read_password(char **password_r);
void cli_password_free(char **password);

/* Parses a byte count with an optional K, M, G or T suffix (powers of
 * 1024), as in "--quota 500M".  0, or -1 when malformed or too large. */
int cli_parse_size(const char *text, uint64_t *bytes_r);

/* Formats a time as "2026-11-23T08:30:00Z" into out (at least 21 bytes). */
void cli_format_time(int64_t t, char *out, size_t size);

#endif
