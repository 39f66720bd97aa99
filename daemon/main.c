/*
 * main.c: the `mailhub` binary: global options and the one command table.
 *
 *   mailhub [--config FILE] COMMAND [ARGS...]
 *
 * --config may also come after the command; --help or -h anywhere prints
 * the usage of the command (or of mailhub).  Every command returns its exit
 * status (cli.h): 0 success, 1 operational failure, 2 usage error; on a
 * usage error the command prints why and main.c adds the usage below it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/check_cli.h"
#include "cli/cli.h"
#include "cli/relay_cli.h"
#include "core/config.h"
#include "core/log.h"

enum command_flags {
	CMD_NO_CONFIG = 1 << 0, /* runs without reading the config */
	CMD_LOGS = 1 << 1,      /* log lines go to stderr (the daemon) */
};

struct command {
	const char *name;
	cli_command_fn *fn;
	unsigned flags;
	const char *help;  /* one line for `mailhub --help` */
	const char *usage; /* its forms without "mailhub ", one per line */
};

static cli_command_fn cmd_version;
static cli_command_fn cmd_help;

/* The only way in: later commands (upstream, queue, relay) are new rows. */
/* clang-format off */
static const struct command commands[] = {
	{ "serve", cmd_serve, CMD_LOGS,
	  "run the daemon in the foreground",
	  "serve" },
	{ "init", cmd_init, 0,
	  "create data_dir, database, self-signed TLS certificate, secret key",
	  "init [--hostname NAME]" },
	{ "domain", cmd_domain, 0,
	  "manage local domains",
	  "domain add|del|show NAME\n"
	  "domain list" },
	{ "user", cmd_user, 0,
	  "manage users (passwords only from standard input)",
	  "user add ADDRESS [--admin] [--quota BYTES[K|M|G|T]] [--quota-messages N] --password-stdin\n"
	  "user passwd ADDRESS --password-stdin\n"
	  "user set ADDRESS [--quota BYTES[K|M|G|T]] [--quota-messages N]\n"
	  "user del|show ADDRESS\n"
	  "user totp-reset ADDRESS\n"
	  "user list\n"
	  "user app-password add ADDRESS NAME   (for mail clients only; printed once)\n"
	  "user app-password list ADDRESS\n"
	  "user app-password del ADDRESS ID" },
	{ "alias", cmd_alias, 0,
	  "manage aliases (@domain is the domain's catch-all)",
	  "alias add SOURCE DEST[,DEST...]\n"
	  "alias del SOURCE\n"
	  "alias list [SOURCE]" },
	{ "token", cmd_token, 0,
	  "create an API bearer token (printed once)",
	  "token create ADDRESS [--name NAME] [--expires DAYS]" },
	{ "upstream", cmd_upstream, 0,
	  "manage upstream POP3/IMAP accounts fetched into a local mailbox",
	  "upstream add OWNER --host HOST --username USER --password-stdin\n"
	  "    [--protocol imap|pop3] [--port N] [--tls implicit|starttls|none]\n"
	  "    [--tls-verify system|off|pin:SHA256HEX] [--folders A,B,...]\n"
	  "    [--target MAILBOX] [--mirror] [--delete] [--no-idle] [--dedupe]\n"
	  "    [--interval SECONDS] [--disabled] [--sieve]\n"
	  "    [--preset gmail|outlook|yahoo|icloud|fastmail|gmx]\n"
	  "    [--auth password|oauth2 --provider NAME [--refresh-token-stdin]]\n"
	  "upstream del ID\n"
	  "upstream list [OWNER]\n"
	  "upstream run [ID] [--queue]   (fetch now here; --queue: ask the daemon)\n"
	  "upstream connect ID   (OAuth2: authorize the account at its provider)" },
	{ "queue", cmd_queue, 0,
	  "show and manage the outbound queue",
	  "queue list\n"
	  "queue retry|release|delete ID\n"
	  "queue flush" },
	{ "relay", cmd_relay, 0,
	  "how outbound mail leaves: a smarthost, or direct by MX",
	  "relay show\n"
	  "relay smarthost HOST:PORT --tls implicit|starttls [--username U --password-stdin]\n"
	  "    [--oauth-upstream ID]   (log in with that upstream account's OAuth2 grant)\n"
	  "relay direct\n"
	  "relay tls-report DOMAIN [--day YYYY-MM-DD]" },
	{ "check-spf", cmd_check_spf, 0,
	  "the SPF verdict (RFC 7208) for a sender and client, as the daemon computes it",
	  "check-spf IP SENDER [HELO]   (SENDER \"\" or \"<>\": the null sender, checked by HELO)" },
	{ "check-dmarc", cmd_check_dmarc, 0,
	  "the DMARC verdict (RFC 7489) for a From: domain, given SPF and DKIM results",
	  "check-dmarc FROM [--spf RESULT:DOMAIN] [--dkim RESULT:DOMAIN[,...]] [--sample 0-99]" },
	{ "check-dkim", cmd_check_dkim, 0,
	  "the DKIM and ARC verdicts of a message file, as the daemon computes them",
	  "check-dkim [FILE]   (FILE \"-\" or none: standard input)" },
	{ "import", cmd_import, 0,
	  "move a user's mail in from a Maildir, mbox files or an IMAP account",
	  "import ADDRESS maildir DIR... [--folder NAME] [--quiet]\n"
	  "import ADDRESS mbox FILE|DIR... [--folder NAME] [--quiet]\n"
	  "import ADDRESS imap HOST[:PORT] --username USER --password-stdin\n"
	  "    [--tls implicit|starttls|none] [--tls-verify system|off|pin:SHA256HEX]\n"
	  "    [--folders A,B,...] [--quiet]" },
	{ "export", cmd_export, 0,
	  "write a user's mail out as a Maildir (Dovecot can serve it) or mbox files",
	  "export ADDRESS maildir|mbox DEST" },
	{ "backup", cmd_backup, 0,
	  "a consistent copy of data_dir while the daemon runs (incremental on the blobs)",
	  "backup DIR" },
	{ "restore", cmd_restore, 0,
	  "restore a backup into an empty data_dir",
	  "restore DIR" },
	{ "doctor", cmd_doctor, 0,
	  "what the world sees of this server (DNS, certificate, port 25), and what to fix",
	  "doctor [DOMAIN] [--address IP] [--probe HOST:PORT | --no-probe]" },
	{ "sieve", cmd_sieve, CMD_NO_CONFIG,
	  "check and try Sieve scripts, and manage the users' scripts",
	  "sieve check FILE\n"
	  "sieve test SCRIPT MESSAGE [--from ADDR] [--to ADDR] [--orig-to ADDR]\n"
	  " [--spam-score 0-10] [--now UNIXTIME]\n"
	  "sieve list ADDRESS\n"
	  "sieve put ADDRESS NAME FILE [--activate]\n"
	  "sieve show ADDRESS NAME\n"
	  "sieve activate ADDRESS NAME\n"
	  "sieve del ADDRESS NAME\n"
	  "sieve deactivate ADDRESS" },
	{ "fsck", cmd_fsck, 0,
	  "check the database against the blob files",
	  "fsck [--repair]" },
	{ "version", cmd_version, CMD_NO_CONFIG,
	  "print the version",
	  "version" },
	{ "help", cmd_help, CMD_NO_CONFIG,
	  "print the usage of mailhub or of a command",
	  "help [COMMAND]" },
};
/* clang-format on */

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "usage: mailhub FIRST\n       mailhub SECOND\n..." and what it does. */
static void
print_usage(FILE *out, const struct command *cmd)
{
	const char *p = cmd->usage;
	const char *prefix = "usage: ";

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		/* a line that starts with spaces goes on the form above it */
		if (*p == ' ')
			fprintf(out, "       %*s%.*s\n", (int)strlen("mailhub "), "", len, p);
		else
			fprintf(out, "%smailhub %.*s\n", prefix, len, p);
		prefix = "       ";
		p += len;
		if (*p == '\n')
			p++;
	}
	fprintf(out, "\n%s.\n", cmd->help);
	if (!(cmd->flags & CMD_NO_CONFIG))
		fprintf(out,
		        "--config FILE (before or after the command) names the config file\n"
		        "(default: $MAILHUB_CONFIG, else %s).\n",
		        CONFIG_DEFAULT_PATH);
}

static void
print_main_usage(FILE *out)
{
	fprintf(out,
	        "usage: mailhub [--config FILE] COMMAND [ARGS...]\n"
	        "       mailhub --help | --version\n"
	        "\n"
	        "The config file is --config FILE, else $MAILHUB_CONFIG, else %s.\n"
	        "\n"
	        "Commands:\n",
	        CONFIG_DEFAULT_PATH);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'mailhub COMMAND --help' shows the usage of a command.\n");
}

static int
cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error("version: unexpected argument '%s'", esc_str(argv[1]));
	printf("mailhub %s\n", PACKAGE_VERSION);
	return CLI_OK;
}

static int
cmd_help(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc == 1) {
		print_main_usage(stdout);
		return CLI_OK;
	}
	const struct command *cmd = find_command(argv[1]);
	if (cmd == NULL || argc > 2)
		return cli_usage_error("help: unknown command '%s'",
		                       esc_str(argv[argc > 2 ? 2 : 1]));
	print_usage(stdout, cmd);
	return CLI_OK;
}

/* Reads the config, with a plain word for the commonest mistake. */
static int
load_config(struct cli_ctx *ctx)
{
	const char *error;
	struct stat sb;

	if (stat(ctx->config_path, &sb) < 0) {
		if (errno == ENOENT)
			cli_error("config file '%s' does not exist: write it first "
			          "(mailhub never writes its config)",
			          esc_str(ctx->config_path));
		else
			cli_error("config file '%s': %s", esc_str(ctx->config_path),
			          strerror(errno));
		return CLI_FAIL;
	}
	if (config_load(ctx->config_path, &ctx->cfg, &error) < 0) {
		cli_error("%s", error);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Writing the output may fail (a full disk, a closed pipe): that is a
 * failure of the command, not a success. */
static int
finish_output(int ret)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("cannot write the output");
		return ret == CLI_OK ? CLI_FAIL : ret;
	}
	return ret;
}

int
main(int argc, char **argv)
{
	const char *config_arg = NULL;
	const struct command *cmd = NULL;
	bool help = false;
	bool version = false;
	int n = 0; /* arguments kept, from argv[0] on */

	/*
	 * One pass over every argument: --config FILE (before or after the
	 * command), --help, --version (before the command) are taken out;
	 * the first other word is the command; "--" ends the options.
	 */
	bool options_done = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (options_done && cmd != NULL) {
			argv[n++] = argv[i];
			continue;
		}
		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
			if (cmd != NULL)
				argv[n++] = argv[i]; /* the command sees it too */
			continue;
		}
		if (options_done) {
			cmd = find_command(arg);
			if (cmd == NULL) {
				cli_error("unknown command '%s'", esc_str(arg));
				goto usage;
			}
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0) {
			if (config_arg != NULL) {
				cli_error("--config given twice");
				goto usage;
			}
			if (arg[8] == '=') {
				config_arg = arg + 9;
			} else if (i + 1 < argc) {
				config_arg = argv[++i];
			} else {
				cli_error("--config needs a FILE");
				goto usage;
			}
			if (config_arg[0] == '\0') {
				cli_error("--config needs a FILE");
				goto usage;
			}
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			help = true;
			continue;
		}
		if (cmd == NULL && strcmp(arg, "--version") == 0) {
			version = true;
			continue;
		}
		if (cmd == NULL) {
			if (arg[0] == '-') {
				cli_error("unknown option '%s'", esc_str(arg));
				goto usage;
			}
			cmd = find_command(arg);
			if (cmd == NULL) {
				cli_error("unknown command '%s'", esc_str(arg));
				goto usage;
			}
		}
		argv[n++] = argv[i];
	}
	argv[n] = NULL;

	if (help) {
		if (cmd != NULL)
			print_usage(stdout, cmd);
		else
			print_main_usage(stdout);
		return finish_output(CLI_OK);
	}
	if (version) {
		if (cmd != NULL) {
			cli_error("--version takes no command");
			goto usage;
		}
		cmd = find_command("version");
	}
	if (cmd == NULL) {
		cli_error("no command given");
		goto usage;
	}

	/* Only the daemon logs to stderr; a command's stderr carries its own
	 * messages alone (the log ring still gets the lines). */
	if (!(cmd->flags & CMD_LOGS))
		log_set_quiet(1);

	struct cli_ctx ctx = {
	        .config_path = config_path_choose(config_arg),
	        .cfg = NULL,
	};
	int ret = CLI_OK;
	if (!(cmd->flags & CMD_NO_CONFIG))
		ret = load_config(&ctx);
	if (ret == CLI_OK) {
		ret = cmd->fn(&ctx, n, argv);
		if (ret == CLI_USAGE)
			print_usage(stderr, cmd);
	}
	config_free(&ctx.cfg);
	return finish_output(ret);

usage:
	if (cmd != NULL)
		print_usage(stderr, cmd);
	else
		print_main_usage(stderr);
	return CLI_USAGE;
}
