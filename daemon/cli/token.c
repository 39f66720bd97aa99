/*
 * cli/token.c: `mailhub token create ADDRESS [--name NAME] [--expires DAYS]`.
 *
 * The token is printed once, alone on stdout, so that a script can take it
 * with $(...); only its SHA-256 is stored.  With --expires it is refused
 * from DAYS days on (1 to 3650, as the API allows).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "store/store.h"

/* The name a token gets when --name is not given. */
#define TOKEN_DEFAULT_NAME "cli"
/* The longest life a token may be given: ten years (as web/api_tokens.c). */
#define TOKEN_DAYS_MAX 3650

/* DAYS of --expires as a count from 1 to TOKEN_DAYS_MAX; 0 or -1. */
static int
parse_days(const char *text, long *days_r)
{
	char *end;
	if (text[0] < '0' || text[0] > '9' || strlen(text) > 5)
		return -1;
	long v = strtol(text, &end, 10);
	if (*end != '\0' || v < 1 || v > TOKEN_DAYS_MAX)
		return -1;
	*days_r = v;
	return 0;
}

static int
token_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--name", .takes_value = true},
	        {.name = "--expires", .takes_value = true},
	};
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	char *token;
	int64_t id;
	const char *error;

	int ret = cli_parse_args("token create", argc, argv, 2, opts, 2, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("token create: ADDRESS is missing");
	const char *name = opts[0].seen ? opts[0].value : TOKEN_DEFAULT_NAME;
	if (name[0] == '\0')
		return cli_usage_error("token create: --name must not be empty");
	long days = 0;
	if (opts[1].seen && parse_days(opts[1].value, &days) < 0)
		return cli_usage_error("token create: --expires '%s' is not a number of days "
		                       "from 1 to %d", esc_str(opts[1].value), TOKEN_DAYS_MAX);
	int64_t expires = days > 0 ? (int64_t)time(NULL) + (int64_t)days * 86400 : 0;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;

	int status = store_token_create(st, pos[0], name, expires, &token, &id, &error);
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
