/*
 * cli/token.c: `mailhub token create ADDRESS [--name NAME]`.
 *
 * The token is printed once, alone on stdout, so that a script can take it
 * with $(...); only its SHA-256 is stored.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/store.h"

/* The name a token gets when --name is not given. */
#define TOKEN_DEFAULT_NAME "cli"

static int
token_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--name", .takes_value = true},
	};
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	char *token;
	int64_t id;
	const char *error;

	int ret = cli_parse_args("token create", argc, argv, 2, opts, 1, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("token create: ADDRESS is missing");
	const char *name = opts[0].seen ? opts[0].value : TOKEN_DEFAULT_NAME;
	if (name[0] == '\0')
		return cli_usage_error("token create: --name must not be empty");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;

	int status = store_token_create(st, pos[0], name, &token, &id, &error);
	switch (status) {
	case STORE_OK:
		printf("%s\n", token);
		explicit_bzero(token, strlen(token));
		free(token);
		ret = CLI_OK;
		break;
	case STORE_NOTFOUND:
		cli_error("user '%s' does not exist", esc_str(pos[0]));
		ret = CLI_FAIL;
		break;
	default:
		cli_error("token create: %s", error);
		ret = CLI_FAIL;
		break;
	}
	store_close(&st);
	return ret;
}

int
cmd_token(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("token: create?");
	if (strcmp(argv[1], "create") == 0)
		return token_create(ctx, argc, argv);
	return cli_usage_error("token: unknown action '%s'", esc_str(argv[1]));
}
