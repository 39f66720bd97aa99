/*
 * cli/upstream.c: `mailhub upstream add|del|list|run`, the user's other
 * POP3/IMAP accounts whose mail the fetcher brings into a local mailbox.
 *
 * The password comes only from standard input (--password-stdin) and is
 * sealed (core/seal.h, data_dir/secret.key) before it reaches the store;
 * it is never printed.  `run` fetches in the foreground, now, in this
 * process (safe beside a running daemon: every message is recorded as
 * fetched in the transaction that delivers it).
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "fetch/fetch.h"
#include "fetch/oauth.h"
#include "fetch/presets.h"
#include "store/sieve_store.h"
#include "store/upstreams.h"

cli_command_fn cmd_upstream;

static int
parse_id(const char *text, int64_t *id_r)
{
	char *end;
	long long v = strtoll(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v <= 0)
		return -1;
	*id_r = v;
	return 0;
}

/* The arguments of a command on one account: the options, then its ID. */
static int
parse_args_id(const char *command, int argc, char **argv, struct cli_option *opts,
	      size_t n_opts, int64_t *id_r)
{
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args(command, argc, argv, 2, opts, n_opts, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1 || parse_id(pos[0], id_r) < 0)
		return cli_usage_error("%s: ID (a number from 'upstream list') is missing",
				       command);
	return CLI_OK;
}

/* "a,b,c" into set->folders. */
static void
set_folders(struct upstream_settings *set, const char *text)
{
	char *copy = xstrdup(text);
	const char **v = NULL;
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = t;
	}
	upstream_settings_set_folders(set, v, n);
	free(v);
	free(copy);
}

enum add_opt {
	O_PROTOCOL, O_HOST, O_PORT, O_TLS, O_VERIFY, O_USERNAME, O_FOLDERS,
	O_TARGET, O_MIRROR, O_DELETE, O_NO_IDLE, O_DEDUPE, O_INTERVAL, O_DISABLED,
	O_PASSWORD, O_PRESET, O_AUTH, O_PROVIDER, O_TOKEN, O_TWO_WAY, O_SIEVE, O_COUNT
};

static int
upstream_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[O_COUNT] = {
		[O_PROTOCOL] = { .name = "--protocol", .takes_value = true },
		[O_HOST] = { .name = "--host", .takes_value = true },
		[O_PORT] = { .name = "--port", .takes_value = true },
		[O_TLS] = { .name = "--tls", .takes_value = true },
		[O_VERIFY] = { .name = "--tls-verify", .takes_value = true },
		[O_USERNAME] = { .name = "--username", .takes_value = true },
		[O_FOLDERS] = { .name = "--folders", .takes_value = true },
		[O_TARGET] = { .name = "--target", .takes_value = true },
		[O_MIRROR] = { .name = "--mirror" },
		[O_DELETE] = { .name = "--delete" },
		[O_NO_IDLE] = { .name = "--no-idle" },
		[O_DEDUPE] = { .name = "--dedupe" },
		[O_INTERVAL] = { .name = "--interval", .takes_value = true },
		[O_DISABLED] = { .name = "--disabled" },
		[O_PASSWORD] = { .name = "--password-stdin" },
		[O_PRESET] = { .name = "--preset", .takes_value = true },
		[O_AUTH] = { .name = "--auth", .takes_value = true },
		[O_PROVIDER] = { .name = "--provider", .takes_value = true },
		[O_TOKEN] = { .name = "--refresh-token-stdin" },
		[O_TWO_WAY] = { .name = "--two-way" },
		[O_SIEVE] = { .name = "--sieve" },
	};
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("upstream add", argc, argv, 2, opts, O_COUNT, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("upstream add: OWNER (the local user) is missing");
	const struct upstream_preset *preset = NULL;
	if (opts[O_PRESET].seen && (preset = upstream_preset_find(opts[O_PRESET].value)) == NULL)
		return cli_usage_error("upstream add: --preset must be gmail, outlook, yahoo, "
				       "icloud, fastmail or gmx");
	if ((!opts[O_HOST].seen && preset == NULL) || !opts[O_USERNAME].seen)
		return cli_usage_error("upstream add: --host (or --preset) and --username are "
				       "required");
	struct upstream_settings set = { 0 };
	set.auth = preset != NULL ? preset->auth : UPSTREAM_AUTH_PASSWORD;
	if (opts[O_AUTH].seen && upstream_auth_parse(opts[O_AUTH].value, &set.auth) < 0)
		return cli_usage_error("upstream add: --auth must be password or oauth2");
	if (set.auth == UPSTREAM_AUTH_PASSWORD && !opts[O_PASSWORD].seen)
		return cli_usage_error("upstream add: --password-stdin is required (passwords are "
				       "never taken from the command line)");
	if (set.auth == UPSTREAM_AUTH_OAUTH2 && opts[O_PASSWORD].seen)
		return cli_usage_error("upstream add: an oauth2 account has no password "
				       "(--refresh-token-stdin, or 'upstream connect' later)");
	set.protocol = UPSTREAM_IMAP;
	set.tls = UPSTREAM_TLS_IMPLICIT;
	set.keep = !opts[O_DELETE].seen;
	set.idle = !opts[O_NO_IDLE].seen;
	set.dedupe = opts[O_DEDUPE].seen;
	set.mirror = opts[O_MIRROR].seen;
	set.two_way = opts[O_TWO_WAY].seen;
	set.enabled = !opts[O_DISABLED].seen;
	if (opts[O_PROTOCOL].seen &&
	    upstream_protocol_parse(opts[O_PROTOCOL].value, &set.protocol) < 0)
		return cli_usage_error("upstream add: --protocol must be imap or pop3");
	if (preset != NULL) {
		const char *perr;
		enum upstream_auth auth = set.auth;
		if (upstream_preset_apply(preset, &set, &perr) < 0) {
			upstream_settings_clear(&set);
			return cli_usage_error("upstream add: %s", perr);
		}
		set.auth = auth;
		if (auth == UPSTREAM_AUTH_PASSWORD) {
			free(set.provider);
			set.provider = NULL;
		}
	}
	if (opts[O_TLS].seen && upstream_tls_parse(opts[O_TLS].value, &set.tls) < 0)
		return cli_usage_error("upstream add: --tls must be implicit, starttls or none");
	if (opts[O_PORT].seen) {
		int64_t port;
		if (parse_id(opts[O_PORT].value, &port) < 0 || port > 65535)
			return cli_usage_error("upstream add: --port must be 1-65535");
		set.port = (unsigned)port;
	}
	if (opts[O_INTERVAL].seen) {
		int64_t iv;
		if (parse_id(opts[O_INTERVAL].value, &iv) < 0 || iv > UPSTREAM_INTERVAL_MAX)
			return cli_usage_error("upstream add: --interval must be 10-86400 seconds");
		set.interval = (unsigned)iv;
	}
	if (opts[O_PROVIDER].seen) {
		free(set.provider);
		set.provider = xstrdup(opts[O_PROVIDER].value);
	}
	if (set.auth == UPSTREAM_AUTH_OAUTH2 && set.provider == NULL) {
		upstream_settings_clear(&set);
		return cli_usage_error("upstream add: --auth oauth2 needs --provider "
				       "(google, microsoft, yahoo or custom)");
	}
	if (opts[O_HOST].seen) {
		free(set.host);
		set.host = xstrdup(opts[O_HOST].value);
	}
	set.username = xstrdup(opts[O_USERNAME].value);
	if (opts[O_VERIFY].seen)
		set.tls_verify = xstrdup(opts[O_VERIFY].value);
	if (opts[O_TARGET].seen)
		set.target = xstrdup(opts[O_TARGET].value);
	if (opts[O_FOLDERS].seen)
		set_folders(&set, opts[O_FOLDERS].value);

	const char *error;
	struct store *st = NULL;
	char *password = NULL, *sealed = NULL;
	ret = CLI_FAIL;
	if (upstream_settings_check(&set, &error) < 0) {
		cli_error("upstream add: %s", error);
		goto out;
	}
	if (strcmp(set.tls_verify, "off") == 0 || set.tls == UPSTREAM_TLS_NONE)
		fprintf(stderr, "mailhub: warning: the server's identity will not be checked "
				"(tls %s, tls-verify %s)\n",
			upstream_tls_name(set.tls), set.tls_verify);
	if (cli_store_open(ctx, &st) != CLI_OK)
		goto out;
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
		cli_error("%s", error);
		goto out;
	}
	/* an oauth2 account without a refresh token yet is added paused, to be
	 * connected by 'upstream connect' or the panel */
	bool grant = set.auth == UPSTREAM_AUTH_PASSWORD || opts[O_TOKEN].seen;
	if (grant && cli_read_password(&password) != CLI_OK)
		goto out;
	if (seal(grant ? password : "", grant ? strlen(password) : 0, &sealed, &error) < 0) {
		cli_error("cannot seal the %s: %s",
			  set.auth == UPSTREAM_AUTH_PASSWORD ? "password" : "token", error);
		goto out;
	}
	int64_t id;
	int status = store_upstream_add(st, pos[0], &set, sealed, &id, &error);
	if (status != STORE_OK) {
		cli_error("upstream add: %s", error);
		goto out;
	}
	if (!grant && store_upstream_oauth_reconnect(st, id, FETCH_OAUTH_CONNECT, &error) !=
			      STORE_OK) {
		cli_error("upstream add: %s", error);
		goto out;
	}
	/* the owner's active Sieve script runs on what is fetched */
	if (opts[O_SIEVE].seen &&
	    store_upstream_sieve_set(st, id, true, &error) != STORE_OK) {
		cli_error("upstream add: %s", error);
		goto out;
	}
	printf("%" PRId64 "\n", id);
	ret = CLI_OK;
out:
	cli_password_free(&password);
	free(sealed);
	upstream_settings_clear(&set);
	store_close(&st);
	return ret;
}

static int
upstream_del(struct cli_ctx *ctx, int argc, char **argv)
{
	int64_t id;
	int ret = parse_args_id("upstream del", argc, argv, NULL, 0, &id);
	if (ret != CLI_OK)
		return ret;
	struct store *st;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	const char *error;
	if (store_upstream_del(st, id, &error) != STORE_OK) {
		cli_error("upstream del: %s", error);
		ret = CLI_FAIL;
	}
	store_close(&st);
	return ret;
}

static void
print_account(struct store *st, const struct store_upstream *up)
{
	bool sieve = false;
	const char *error;
	if (store_upstream_sieve_get(st, up->id, &sieve, &error) != STORE_OK)
		cli_error("upstream list: %s", error);
	char ok[32] = "never", attempt[32] = "never";
	if (up->last_ok != 0)
		cli_format_time(up->last_ok, ok, sizeof ok);
	if (up->last_attempt != 0)
		cli_format_time(up->last_attempt, attempt, sizeof attempt);
	printf("%" PRId64 " owner=%s protocol=%s host=%s port=%u tls=%s tls_verify=%s"
	       " username=%s folders=",
	       up->id, up->owner, upstream_protocol_name(up->set.protocol), up->set.host,
	       up->set.port, upstream_tls_name(up->set.tls), up->set.tls_verify,
	       esc_str(up->set.username));
	for (size_t i = 0; i < up->set.n_folders; i++)
		printf("%s%s", i > 0 ? "," : "", esc_str(up->set.folders[i]));
	printf(" target=%s keep=%s", esc_str(up->set.target), up->set.keep ? "yes" : "no");
	/* IDLE is IMAP's push (RFC 2177); POP3 has none, so no idle= at all */
	if (up->set.protocol == UPSTREAM_IMAP)
		printf(" idle=%s mirror=%s two_way=%s", up->set.idle ? "yes" : "no",
		       up->set.mirror ? "yes" : "no", up->set.two_way ? "yes" : "no");
	printf(" auth=%s sieve=%s", upstream_auth_name(up->set.auth), sieve ? "yes" : "no");
	if (up->set.auth == UPSTREAM_AUTH_OAUTH2)
		printf(" provider=%s paused=%s", esc_str(up->set.provider),
		       up->reconnect ? "reconnect" : "no");
	printf(" dedupe=%s interval=%u enabled=%s last_ok=%s last_attempt=%s fetched=%" PRIu64
	       " last_error=%s\n",
	       up->set.dedupe ? "yes" : "no", up->set.interval, up->set.enabled ? "yes" : "no",
	       ok, attempt, up->fetched,
	       up->last_error != NULL ? esc_str(up->last_error) : "none");
}

static int
upstream_list(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("upstream list", argc, argv, 2, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	struct store *st;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	const char *error;
	int64_t user_id = 0;
	if (n_pos == 1) {
		struct store_user u;
		if (store_user_get(st, pos[0], &u, &error) != STORE_OK) {
			cli_error("upstream list: %s", error);
			store_close(&st);
			return CLI_FAIL;
		}
		user_id = u.id;
		store_user_clear(&u);
	}
	struct store_upstream *list;
	size_t n;
	if (store_upstream_list(st, user_id, &list, &n, &error) != STORE_OK) {
		cli_error("upstream list: %s", error);
		store_close(&st);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		print_account(st, &list[i]);
	store_upstream_list_free(&list, n);
	store_close(&st);
	return CLI_OK;
}

enum set_opt { S_TWO_WAY, S_ONE_WAY, S_MIRROR, S_NO_MIRROR, S_INTERVAL, S_ENABLE, S_DISABLE,
	       S_SIEVE, S_NO_SIEVE, S_COUNT };

/* upstream set ID [--two-way|--no-two-way] [--mirror|--no-mirror]
 * [--interval SECONDS] [--enable|--disable] [--sieve|--no-sieve]: changes
 * those settings and keeps the others (the running daemon picks them up:
 * generation; the Sieve mark is read at each run). */
static int
upstream_set(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[S_COUNT] = {
		[S_TWO_WAY] = { .name = "--two-way" },
		[S_ONE_WAY] = { .name = "--no-two-way" },
		[S_MIRROR] = { .name = "--mirror" },
		[S_NO_MIRROR] = { .name = "--no-mirror" },
		[S_INTERVAL] = { .name = "--interval", .takes_value = true },
		[S_ENABLE] = { .name = "--enable" },
		[S_DISABLE] = { .name = "--disable" },
		[S_SIEVE] = { .name = "--sieve" },
		[S_NO_SIEVE] = { .name = "--no-sieve" },
	};
	int64_t id;
	int ret = parse_args_id("upstream set", argc, argv, opts, S_COUNT, &id);
	if (ret != CLI_OK)
		return ret;
	if ((opts[S_TWO_WAY].seen && opts[S_ONE_WAY].seen) ||
	    (opts[S_MIRROR].seen && opts[S_NO_MIRROR].seen) ||
	    (opts[S_ENABLE].seen && opts[S_DISABLE].seen) ||
	    (opts[S_SIEVE].seen && opts[S_NO_SIEVE].seen))
		return cli_usage_error("upstream set: an option and its opposite together");
	int64_t iv = 0;
	if (opts[S_INTERVAL].seen &&
	    (parse_id(opts[S_INTERVAL].value, &iv) < 0 || iv > UPSTREAM_INTERVAL_MAX))
		return cli_usage_error("upstream set: --interval must be 10-86400 seconds");
	struct store *st;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	struct store_upstream up;
	const char *error;
	ret = CLI_FAIL;
	if (store_upstream_get(st, id, &up, &error) != STORE_OK) {
		cli_error("upstream set: %s", error);
		store_close(&st);
		return CLI_FAIL;
	}
	if (opts[S_TWO_WAY].seen || opts[S_ONE_WAY].seen)
		up.set.two_way = opts[S_TWO_WAY].seen;
	if (opts[S_MIRROR].seen || opts[S_NO_MIRROR].seen)
		up.set.mirror = opts[S_MIRROR].seen;
	if (opts[S_ENABLE].seen || opts[S_DISABLE].seen)
		up.set.enabled = opts[S_ENABLE].seen;
	if (opts[S_INTERVAL].seen)
		up.set.interval = (unsigned)iv;
	if (store_upstream_update(st, id, &up.set, NULL, &error) != STORE_OK ||
	    ((opts[S_SIEVE].seen || opts[S_NO_SIEVE].seen) &&
	     store_upstream_sieve_set(st, id, opts[S_SIEVE].seen, &error) != STORE_OK))
		cli_error("upstream set: %s", error);
	else
		ret = CLI_OK;
	store_upstream_clear(&up);
	store_close(&st);
	return ret;
}

static int
upstream_run(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = { { .name = "--queue" } };
	const char *pos[1];
	size_t n_pos;
	int64_t id = 0;
	int ret = cli_parse_args("upstream run", argc, argv, 2, opts, 1, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos == 1 && parse_id(pos[0], &id) < 0)
		return cli_usage_error("upstream run: ID must be a number from 'upstream list'");
	/* a pass, then the exit: the WAL's checkpoints are the daemon's */
	store_wal_brief();
	struct store *st;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	const char *error;
	if (opts[0].seen) {
		/* leave it to the running daemon (it looks every second) */
		if (store_upstream_request_fetch(st, id, &error) != STORE_OK) {
			cli_error("upstream run: %s", error);
			ret = CLI_FAIL;
		}
		store_close(&st);
		return ret;
	}
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
		cli_error("%s", error);
		store_close(&st);
		return CLI_FAIL;
	}
	struct store_upstream *list = NULL;
	size_t n = 0;
	if (id != 0) {
		list = xcalloc(1, sizeof *list);
		if (store_upstream_get(st, id, list, &error) != STORE_OK) {
			free(list);
			cli_error("upstream run: %s", error);
			store_close(&st);
			return CLI_FAIL;
		}
		n = 1;
	} else if (store_upstream_list(st, 0, &list, &n, &error) != STORE_OK) {
		cli_error("upstream run: %s", error);
		store_close(&st);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		if (id == 0 && !list[i].set.enabled)
			continue;
		unsigned fetched;
		if (fetch_run_account(ctx->cfg, st, list[i].id, &fetched, &error) < 0) {
			cli_error("upstream %" PRId64 ": %s", list[i].id, error);
			ret = CLI_FAIL;
		} else {
			printf("%" PRId64 " fetched=%u\n", list[i].id, fetched);
		}
	}
	store_upstream_list_free(&list, n);
	seal_key_forget();
	store_close(&st);
	return ret;
}

/* RFC 8628: the device authorization grant, in the terminal. */
static int
upstream_connect(struct cli_ctx *ctx, int argc, char **argv)
{
	int64_t id;
	int ret = parse_args_id("upstream connect", argc, argv, NULL, 0, &id);
	if (ret != CLI_OK)
		return ret;
	struct store *st;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	const char *error;
	struct store_upstream up = { 0 };
	struct oauth2_device dev = { 0 };
	struct oauth2_token tok = { 0 };
	ret = CLI_FAIL;
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
		cli_error("%s", error);
		goto out;
	}
	if (store_upstream_get(st, id, &up, &error) != STORE_OK) {
		cli_error("upstream connect: %s", error);
		goto out;
	}
	if (up.set.auth != UPSTREAM_AUTH_OAUTH2) {
		cli_error("upstream connect: account %" PRId64 " logs in with a password", id);
		goto out;
	}
	if (fetch_oauth_device_start(ctx->cfg, up.set.provider, &dev, &error) < 0) {
		cli_error("upstream connect: %s", error);
		goto out;
	}
	printf("To connect account %" PRId64 ", open %s and enter the code %s\n", id,
	       dev.verification_uri, dev.user_code);
	if (dev.verification_uri_complete != NULL)
		printf("(or open %s)\n", dev.verification_uri_complete);
	fflush(stdout);
	time_t end = time(NULL) + dev.expires_in;
	int64_t interval = dev.interval;
	for (;;) {
		if (time(NULL) >= end) {
			cli_error("upstream connect: the code expired before it was entered");
			goto out;
		}
		/* RFC 8628 §3.5: wait interval seconds between polls */
		struct timespec ts = { .tv_sec = interval };
		nanosleep(&ts, NULL);
		enum oauth2_result r =
			fetch_oauth_device_poll(ctx->cfg, up.set.provider, &dev, &tok, &error);
		if (r == OAUTH2_OK)
			break;
		if (r == OAUTH2_PENDING)
			continue;
		if (r == OAUTH2_SLOW_DOWN) {
			interval += 5;
			continue;
		}
		cli_error("upstream connect: %s", error);
		goto out;
	}
	if (fetch_oauth_store_grant(st, id, &tok, &error) < 0) {
		cli_error("upstream connect: %s", error);
		goto out;
	}
	printf("%" PRId64 " connected\n", id);
	ret = CLI_OK;
out:
	oauth2_token_clear(&tok);
	oauth2_device_clear(&dev);
	store_upstream_clear(&up);
	seal_key_forget();
	store_close(&st);
	return ret;
}

int
cmd_upstream(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	} actions[] = {
		{ "add", upstream_add },
		{ "del", upstream_del },
		{ "list", upstream_list },
		{ "run", upstream_run },
		{ "connect", upstream_connect },
		{ "set", upstream_set },
	};
	if (argc < 2)
		return cli_usage_error("upstream: add, set, del, list, run or connect?");
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (strcmp(argv[1], actions[i].name) == 0)
			return actions[i].fn(ctx, argc, argv);
	}
	return cli_usage_error("upstream: unknown action '%s'", esc_str(argv[1]));
}
