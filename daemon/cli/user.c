/*
 * cli/user.c: `mailhub user add|passwd|del|list|show|totp-reset` (and
 * `user app-password`, in cli/app_password.c).
 *
 * Passwords come only from standard input (--password-stdin): a password in
 * argv would be visible to every local user in ps and /proc, and would stay
 * in the shell's history.  A new password must be strong enough
 * (password_strong_enough(), the same rule as the API's).  The password is
 * hashed here and only the hash reaches the store; neither is ever printed
 * (`show` names the hash's scheme only).  A new password, or `del`, ends the
 * user's panel sessions and API tokens, in a running daemon too (sql/008).
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/password.h"
#include "store/app_passwords.h"
#include "store/store.h"

static int
check_address(const char *address)
{
	if (store_address_valid(address))
		return CLI_OK;
	cli_error("'%s' is not a valid address (local@domain)", esc_str(address));
	return CLI_FAIL;
}

/* The domain part of an address that store_address_valid() accepted. */
static const char *
address_domain(const char *address)
{
	const char *at = strrchr(address, '@');
	return at != NULL ? at + 1 : address;
}

/* The message for a failed store call about one user. */
static int
user_failure(const char *what, const char *address, int status, const char *error)
{
	switch (status) {
	case STORE_NOTFOUND:
		cli_error("user '%s' does not exist", esc_str(address));
		break;
	case STORE_NOTLOCAL:
		cli_error("domain '%s' does not exist (add it with 'mailhub domain add')",
		          esc_str(address_domain(address)));
		break;
	case STORE_EXISTS:
		cli_error("address '%s' is taken already (by a user or an alias)",
		          esc_str(address));
		break;
	default:
		cli_error("user %s: %s", what, error);
		break;
	}
	return CLI_FAIL;
}

/* A number of messages (QUOTA's MESSAGE limit): digits, 0 for none. */
static int
parse_messages(const char *text, uint64_t *n_r)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
	    n > INT64_MAX)
		return -1;
	*n_r = n;
	return 0;
}

/* Reads the new password of address from stdin into *password_r
 * (cli_password_free() it) and hashes it into *hash_r. */
static int
read_password_hash(const char *address, char **hash_r, char **password_r)
{
	const char *error;

	if (cli_read_password(password_r) != CLI_OK)
		return CLI_FAIL;
	int ret = password_strong_enough(*password_r, address, &error);
	if (ret == 0)
		ret = password_hash(*password_r, hash_r, &error);
	if (ret < 0) {
		cli_password_free(password_r);
		cli_error("%s", error);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The SCRAM keys of the password just set; their absence only rules out
 * SCRAM logins, so a failure is a warning. */
static void
set_scram(struct store *st, const char *address, char **password)
{
	const char *error;
	if (store_user_set_scram(st, address, *password, &error) != STORE_OK)
		fprintf(stderr, "mailhub: warning: no SCRAM keys stored: %s\n", error);
	cli_password_free(password);
}

static int
user_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--admin"},
	        {.name = "--quota", .takes_value = true},
	        {.name = "--password-stdin"},
	        {.name = "--quota-messages", .takes_value = true},
	};
	const char *pos[1];
	size_t n_pos;
	uint64_t quota = 0, quota_messages = 0;
	struct store *st;
	char *hash, *password = NULL;
	const char *error;

	int ret = cli_parse_args("user add", argc, argv, 2, opts, 4, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user add: ADDRESS is missing");
	if (!opts[2].seen)
		return cli_usage_error("user add: --password-stdin is required (passwords are "
		                       "never taken from the command line)");
	if (opts[1].seen && cli_parse_size(opts[1].value, &quota) < 0)
		return cli_usage_error(
		        "user add: --quota '%s' is not a size (BYTES, or with K, M, G, T)",
		        esc_str(opts[1].value));
	if (opts[3].seen && parse_messages(opts[3].value, &quota_messages) < 0)
		return cli_usage_error("user add: --quota-messages '%s' is not a "
		                       "number of messages",
		                       esc_str(opts[3].value));
	if (check_address(pos[0]) != CLI_OK)
		return CLI_FAIL;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;

	/* Refuse an unknown domain before asking for a password. */
	int local = store_domain_is_local(st, address_domain(pos[0]));
	if (local == 0) {
		ret = user_failure("add", pos[0], STORE_NOTLOCAL, NULL);
		goto out;
	}
	if (read_password_hash(pos[0], &hash, &password) != CLI_OK) {
		ret = CLI_FAIL;
		goto out;
	}
	int status = store_user_add(st, pos[0], hash, opts[0].seen, quota, &error);
	free(hash);
	if (status == STORE_OK && quota_messages > 0)
		status = store_user_set_quota_messages(st, pos[0], quota_messages, &error);
	if (status == STORE_OK)
		set_scram(st, pos[0], &password);
	cli_password_free(&password);
	ret = status == STORE_OK ? CLI_OK : user_failure("add", pos[0], status, error);
out:
	store_close(&st);
	return ret;
}

/* Changes the limits of a user: --quota BYTES (with K, M, G, T; 0 for
 * none) and --quota-messages N (QUOTA's MESSAGE resource, 0 for none). */
static int
user_set(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--quota", .takes_value = true},
	        {.name = "--quota-messages", .takes_value = true},
	};
	const char *pos[1];
	size_t n_pos;
	uint64_t quota = 0, quota_messages = 0;
	struct store *st;
	const char *error;

	int ret = cli_parse_args("user set", argc, argv, 2, opts, 2, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user set: ADDRESS is missing");
	if (!opts[0].seen && !opts[1].seen)
		return cli_usage_error("user set: nothing to change (--quota BYTES, "
		                       "--quota-messages N)");
	if (opts[0].seen && cli_parse_size(opts[0].value, &quota) < 0)
		return cli_usage_error(
		        "user set: --quota '%s' is not a size (BYTES, or with K, M, G, T)",
		        esc_str(opts[0].value));
	if (opts[1].seen && parse_messages(opts[1].value, &quota_messages) < 0)
		return cli_usage_error("user set: --quota-messages '%s' is not a "
		                       "number of messages",
		                       esc_str(opts[1].value));
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	int status = STORE_OK;
	if (opts[0].seen)
		status = store_user_set_quota(st, pos[0], quota, &error);
	if (status == STORE_OK && opts[1].seen)
		status = store_user_set_quota_messages(st, pos[0], quota_messages, &error);
	ret = status == STORE_OK ? CLI_OK : user_failure("set", pos[0], status, error);
	store_close(&st);
	return ret;
}

static int
user_passwd(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--password-stdin"},
	};
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_user user;
	char *hash, *password = NULL;
	const char *error;

	int ret = cli_parse_args("user passwd", argc, argv, 2, opts, 1, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user passwd: ADDRESS is missing");
	if (!opts[0].seen)
		return cli_usage_error("user passwd: --password-stdin is required (passwords are "
		                       "never taken from the command line)");
	if (check_address(pos[0]) != CLI_OK)
		return CLI_FAIL;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;

	int status = store_user_get(st, pos[0], &user, &error);
	if (status != STORE_OK) {
		ret = user_failure("passwd", pos[0], status, error);
		goto out;
	}
	store_user_clear(&user);
	if (read_password_hash(pos[0], &hash, &password) != CLI_OK) {
		ret = CLI_FAIL;
		goto out;
	}
	status = store_user_set_password(st, pos[0], hash, &error);
	free(hash);
	if (status == STORE_OK)
		set_scram(st, pos[0], &password);
	cli_password_free(&password);
	ret = status == STORE_OK ? CLI_OK : user_failure("passwd", pos[0], status, error);
out:
	store_close(&st);
	return ret;
}

static int
user_del(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	const char *error;

	int ret = cli_parse_args("user del", argc, argv, 2, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user del: ADDRESS is missing");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	int status = store_user_del(st, pos[0], &error);
	ret = status == STORE_OK ? CLI_OK : user_failure("del", pos[0], status, error);
	store_close(&st);
	return ret;
}

/* What `show` says of a stored hash: its scheme, never the hash. */
static const char *
password_scheme(const char *stored)
{
	static const struct {
		const char *prefix, *name;
	} schemes[] = {
		{ "$y$", "yescrypt" }, { "$gy$", "gost-yescrypt" }, { "$7$", "scrypt" },
		{ "$6$", "sha512-crypt" }, { "$5$", "sha256-crypt" }, { "$2b$", "bcrypt" },
		{ "$2y$", "bcrypt" }, { "$2a$", "bcrypt" }, { "$1$", "md5-crypt" },
	};
	const char *p = stored != NULL ? stored : "";
	if (p[0] == '{') {
		const char *end = strchr(p, '}');
		p = end != NULL ? end + 1 : "";
	}
	if (p[0] != '$')
		return "locked (no usable hash)";
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strncmp(p, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return schemes[i].name;
	return "set (another crypt scheme)";
}

static void
format_quota(uint64_t quota, char *out, size_t size)
{
	if (quota == 0)
		snprintf(out, size, "unlimited");
	else
		snprintf(out, size, "%" PRIu64, quota);
}

/* An aligned table, one user per line, with a header; the columns are
 * separated by at least two spaces and no value contains a space. */
static int
user_list(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_user *list;
	size_t n;
	const char *error;

	int ret = cli_parse_args("user list", argc, argv, 2, NULL, 0, pos, 0, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	if (store_user_list(st, &list, &n, &error) != STORE_OK) {
		cli_error("user list: %s", error);
		store_close(&st);
		return CLI_FAIL;
	}

	int width = (int)strlen("ADDRESS");
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i].address);
		if (len > (size_t)width)
			width = (int)len;
	}
	printf("%-*s  %-5s  %-20s  %-20s  %s\n", width, "ADDRESS", "ADMIN", "QUOTA", "USED",
	       "ENABLED");
	for (size_t i = 0; i < n; i++) {
		char quota[32];
		format_quota(list[i].quota, quota, sizeof quota);
		printf("%-*s  %-5s  %-20s  %-20" PRIu64 "  %s\n", width, list[i].address,
		       list[i].admin ? "yes" : "no", quota, list[i].used,
		       list[i].enabled ? "yes" : "no");
	}
	store_user_list_free(&list, n);
	store_close(&st);
	return CLI_OK;
}

static int
user_show(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_user user;
	struct store_mailbox *mailboxes = NULL;
	struct store_token *tokens = NULL;
	struct store_totp totp = { 0 };
	size_t n_mailboxes = 0, n_tokens = 0;
	char quota[32], when[64];
	const char *error;

	int ret = cli_parse_args("user show", argc, argv, 2, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user show: ADDRESS is missing");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	int status = store_user_get(st, pos[0], &user, &error);
	if (status != STORE_OK) {
		ret = user_failure("show", pos[0], status, error);
		store_close(&st);
		return ret;
	}
	int totp_status = store_totp_get(st, user.id, &totp, &error);
	if (totp_status == STORE_ERROR ||
	    store_mailbox_list(st, user.id, &mailboxes, &n_mailboxes, &error) != STORE_OK ||
	    store_token_list(st, user.id, &tokens, &n_tokens, &error) != STORE_OK) {
		cli_error("user show: %s", error);
		ret = CLI_FAIL;
		goto out;
	}

	format_quota(user.quota, quota, sizeof quota);
	cli_format_time(user.created, when, sizeof when);
	printf("address: %s\n", user.address);
	printf("admin: %s\n", user.admin ? "yes" : "no");
	printf("enabled: %s\n", user.enabled ? "yes" : "no");
	printf("quota: %s\n", quota);
	printf("used: %" PRIu64 "\n", user.used);
	format_quota(user.quota_messages, quota, sizeof quota);
	printf("quota-messages: %s\n", quota);
	printf("messages: %" PRIu64 "\n", user.messages);
	printf("created: %s\n", when);
	printf("password: %s\n", password_scheme(user.password_hash));
	if (totp_status == STORE_OK && totp.enabled)
		printf("two-factor: on (%u recovery codes left)\n", totp.recovery_left);
	else
		printf("two-factor: %s\n", totp_status == STORE_OK ? "being set up" : "off");
	for (size_t i = 0; i < n_mailboxes; i++) {
		const struct store_mailbox *mb = &mailboxes[i];
		printf("mailbox: %s (%" PRIu32 " messages, %" PRIu32 " unseen)\n", mb->name,
		       mb->messages, mb->unseen);
	}
	for (size_t i = 0; i < n_tokens; i++) {
		char used[64], expires[64];
		cli_format_time(tokens[i].created, when, sizeof when);
		if (tokens[i].last_used != 0)
			cli_format_time(tokens[i].last_used, used, sizeof used);
		else
			snprintf(used, sizeof used, "never");
		if (tokens[i].expires != 0)
			cli_format_time(tokens[i].expires, expires, sizeof expires);
		else
			snprintf(expires, sizeof expires, "never");
		printf("token: %s (%s..., created %s, last used %s, expires %s)\n",
		       tokens[i].name != NULL ? tokens[i].name : "",
		       tokens[i].prefix != NULL ? tokens[i].prefix : "", when, used, expires);
	}
	ret = CLI_OK;
out:
	store_mailbox_list_free(&mailboxes, n_mailboxes);
	store_token_list_free(&tokens, n_tokens);
	store_totp_clear(&totp);
	store_user_clear(&user);
	store_close(&st);
	return ret;
}

/* An admin's way out for a user who lost the device of their two-factor
 * sign-in: it is turned off and their panel sessions end. */
static int
user_totp_reset(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_user user;
	const char *error;

	int ret = cli_parse_args("user totp-reset", argc, argv, 2, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("user totp-reset: ADDRESS is missing");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	int status = store_user_get(st, pos[0], &user, &error);
	if (status != STORE_OK) {
		ret = user_failure("totp-reset", pos[0], status, error);
		store_close(&st);
		return ret;
	}
	status = store_totp_remove(st, user.id, true, &error);
	if (status == STORE_OK)
		printf("two-factor sign-in of %s is off; they sign in with the password "
		       "and may set it up again\n", user.address);
	else if (status == STORE_NOTFOUND)
		printf("%s has no two-factor sign-in; nothing to reset\n", user.address);
	else
		cli_error("user totp-reset: %s", error);
	ret = status == STORE_OK || status == STORE_NOTFOUND ? CLI_OK : CLI_FAIL;
	store_user_clear(&user);
	store_close(&st);
	return ret;
}

int
cmd_user(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	} actions[] = {
	        {"add", user_add},   {"passwd", user_passwd}, {"del", user_del},
	        {"set", user_set},
	        {"list", user_list}, {"show", user_show}, {"totp-reset", user_totp_reset},
	        {"app-password", cli_user_app_password},
	};

	if (argc < 2)
		return cli_usage_error("user: add, passwd, set, del, list, show, totp-reset or "
		                       "app-password?");
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (strcmp(argv[1], actions[i].name) == 0)
			return actions[i].fn(ctx, argc, argv);
	return cli_usage_error("user: unknown action '%s'", esc_str(argv[1]));
}
