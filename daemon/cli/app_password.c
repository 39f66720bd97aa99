/*
 * cli/app_password.c: `mailhub user app-password add|list|del ADDRESS ...`,
 * the app passwords of a user's mail clients (store/app_passwords.h).
 *
 *   user app-password add ADDRESS NAME   prints the new password once, alone
 *                                        on stdout (for $(...))
 *   user app-password list ADDRESS       id, name, created, last use
 *   user app-password del ADDRESS ID     revokes one
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "store/app_passwords.h"
#include "store/store.h"

static int
failure(const char *what, const char *address, int status, const char *error)
{
	if (status == STORE_NOTFOUND && strstr(error, "user") != NULL)
		cli_error("user '%s' does not exist", esc_str(address));
	else
		cli_error("user app-password %s: %s", what, error);
	return CLI_FAIL;
}

static int
ap_add(struct store *st, struct cli_ctx *ctx, const char *address, const char *name)
{
	struct store_app_password ap;
	char *password;
	const char *error;

	/* the tag that finds the password at login is keyed with secret.key */
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
		cli_error("%s", error);
		return CLI_FAIL;
	}
	int status = store_app_password_create(st, address, name, &password, &ap, &error);
	seal_key_forget();
	if (status != STORE_OK)
		return failure("add", address, status, error);
	printf("%s\n", password);
	explicit_bzero(password, strlen(password));
	free(password);
	store_app_password_clear(&ap);
	return CLI_OK;
}

static int
ap_list(struct store *st, const char *address)
{
	struct store_app_password *list;
	size_t n;
	const char *error;
	char created[32], used[32];

	int status = store_app_password_list(st, address, &list, &n, &error);
	if (status != STORE_OK)
		return failure("list", address, status, error);
	for (size_t i = 0; i < n; i++) {
		cli_format_time(list[i].created, created, sizeof created);
		if (list[i].last_used != 0)
			cli_format_time(list[i].last_used, used, sizeof used);
		else
			snprintf(used, sizeof used, "never");
		printf("%" PRId64 "\t%s\tcreated=%s\tlast_used=%s%s%s\n", list[i].id,
		       esc_str(list[i].name), created, used,
		       list[i].last_protocol != NULL ? "\tprotocol=" : "",
		       list[i].last_protocol != NULL ? list[i].last_protocol : "");
	}
	store_app_password_list_free(&list, n);
	return CLI_OK;
}

static int
ap_del(struct store *st, const char *address, const char *id_text)
{
	struct store_app_password ap;
	const char *error;
	char *end;

	long long id = strtoll(id_text, &end, 10);
	if (*id_text == '\0' || *end != '\0' || id <= 0)
		return cli_usage_error("user app-password del: ID '%s' is not a number",
				       esc_str(id_text));
	/* the id must be one of that user's */
	int status = store_app_password_get(st, id, &ap, &error);
	if (status == STORE_OK && !str_eq_nocase(ap.user, address)) {
		status = STORE_NOTFOUND;
		error = errfmt("user '%s' has no app password %lld", esc_str(address), id);
	}
	store_app_password_clear(&ap);
	if (status == STORE_OK)
		status = store_app_password_del(st, id, &error);
	return status == STORE_OK ? CLI_OK : failure("del", address, status, error);
}

int
cli_user_app_password(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[3];
	size_t n_pos;
	struct store *st;
	int ret;

	/* argv: user app-password ACTION ADDRESS [ARG] */
	if (argc < 3)
		return cli_usage_error("user app-password: add, list or del?");
	const char *action = argv[2];
	size_t want = strcmp(action, "list") == 0 ? 1 : 2;
	if (strcmp(action, "add") != 0 && strcmp(action, "list") != 0 &&
	    strcmp(action, "del") != 0)
		return cli_usage_error("user app-password: unknown action '%s'", esc_str(action));
	ret = cli_parse_args("user app-password", argc, argv, 3, NULL, 0, pos, 2, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != want)
		return cli_usage_error("user app-password %s: ADDRESS%s expected", action,
				       want == 2 ? (action[0] == 'a' ? " NAME" : " ID") : "");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	if (action[0] == 'a')
		ret = ap_add(st, ctx, pos[0], pos[1]);
	else if (action[0] == 'l')
		ret = ap_list(st, pos[0]);
	else
		ret = ap_del(st, pos[0], pos[1]);
	store_close(&st);
	return ret;
}
