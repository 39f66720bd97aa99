/*
 * cli/relay.c: `mailhub relay show`, `mailhub relay smarthost HOST:PORT
 * --tls implicit|starttls [--username U --password-stdin]`, `mailhub relay
 * direct`, `mailhub relay tls-report DOMAIN [--day YYYY-MM-DD]`.
 *
 * The smarthost lives in the database (store/relayq.h); its password is
 * sealed with data_dir/secret.key (core/seal.h) and never printed.  A
 * running daemon uses a change from its next delivery on.
 */
#include "cli/relay_cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "smtp/tlsrpt.h"
#include "store/relayq.h"
#include "store/upstreams.h"
#include "store/store.h"

static int
relay_show(struct cli_ctx *ctx, struct store *st)
{
	struct relayq_smarthost sh;
	const char *error;
	int ret = relayq_smarthost_get(st, &sh, &error);
	if (ret == STORE_NOTFOUND) {
		printf("direct: MX lookup for each domain, port %u\n",
		       ctx->cfg->relay_mx_port);
		return CLI_OK;
	}
	if (ret != STORE_OK) {
		cli_error("relay show: %s", error);
		return CLI_FAIL;
	}
	bool v6 = strchr(sh.host, ':') != NULL;
	printf("smarthost %s%s%s:%u tls=%s", v6 ? "[" : "", sh.host, v6 ? "]" : "",
	       sh.port, sh.tls);
	if (sh.username != NULL)
		printf(" username=%s password=(set)", esc_str(sh.username));
	if (sh.oauth_upstream != 0)
		printf(" oauth_upstream=%lld", (long long)sh.oauth_upstream);
	printf("\n");
	relayq_smarthost_clear(&sh);
	return CLI_OK;
}

static int
relay_smarthost(struct cli_ctx *ctx, struct store *st, const char *where,
                const char *tls, const char *username, bool password_stdin,
                const char *oauth_upstream)
{
	struct relayq_smarthost sh = { 0 };
	const char *error;
	char *password = NULL;
	int ret = CLI_FAIL;

	if (config_parse_address(where, false, &sh.host, &sh.port, &error) < 0 ||
	    sh.host == NULL) {
		cli_error("relay smarthost: '%s' is not HOST:PORT%s%s", esc_str(where),
		          sh.host == NULL ? "" : ": ", sh.host == NULL ? "" : error);
		goto out;
	}
	sh.tls = xstrdup(tls);
	if (username != NULL) {
		if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
			cli_error("relay smarthost: %s", error);
			goto out;
		}
		if (cli_read_password(&password) != CLI_OK)
			goto out;
		if (seal(password, strlen(password), &sh.password_sealed, &error) < 0) {
			cli_error("relay smarthost: cannot seal the password: %s", error);
			goto out;
		}
		sh.username = xstrdup(username);
	}
	(void)password_stdin;
	if (oauth_upstream != NULL) {
		/* the grant of an upstream account logs in (its username) */
		char *end;
		long long id = strtoll(oauth_upstream, &end, 10);
		struct store_upstream up;
		if (*oauth_upstream == '\0' || *end != '\0' || id <= 0) {
			cli_error("relay smarthost: --oauth-upstream takes an account id");
			goto out;
		}
		if (store_upstream_get(st, id, &up, &error) != STORE_OK) {
			cli_error("relay smarthost: %s", error);
			goto out;
		}
		bool oauth = up.set.auth == UPSTREAM_AUTH_OAUTH2;
		store_upstream_clear(&up);
		if (!oauth) {
			cli_error("relay smarthost: upstream account %lld does not use OAuth2", id);
			goto out;
		}
		sh.oauth_upstream = id;
	}
	int s = relayq_smarthost_set(st, &sh, &error);
	if (s != STORE_OK) {
		cli_error("relay smarthost: %s", error);
		goto out;
	}
	ret = CLI_OK;
out:
	cli_password_free(&password);
	relayq_smarthost_clear(&sh);
	seal_key_forget();
	return ret;
}

static bool
day_valid(const char *s)
{
	static const char shape[] = "dddd-dd-dd";
	if (strlen(s) != sizeof shape - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != '-')
			return false;
	return true;
}

/* Prints the RFC 8460 report the relay owes domain for day (default:
 * today, UTC): what the sessions of that day counted so far. */
static int
relay_tls_report(struct cli_ctx *ctx, struct store *st, const char *domain,
		 const char *day)
{
	char today[16];
	if (day == NULL) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		day = today;
	}
	char *d = xstrdup(domain);
	str_lower(d);
	struct buf out = BUF_INIT;
	const char *error;
	int ret = tlsrpt_build(st, ctx->cfg->hostname != NULL ? ctx->cfg->hostname : "localhost",
			       day, d, &out, &error);
	if (ret < 0)
		cli_error("relay tls-report: %s", error);
	else if (ret > 0)
		cli_error("relay tls-report: no sessions to %s on %s", esc_str(d), day);
	else
		fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	free(d);
	return ret == 0 ? CLI_OK : CLI_FAIL;
}

int
cmd_relay(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--tls", .takes_value = true},
	        {.name = "--username", .takes_value = true},
	        {.name = "--password-stdin", .takes_value = false},
	        {.name = "--day", .takes_value = true},
	        {.name = "--oauth-upstream", .takes_value = true},
	};
	const char *pos[2];
	size_t n_pos;
	struct store *st;
	const char *error;

	int ret = cli_parse_args("relay", argc, argv, 1, opts, 5, pos, 2, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos == 0)
		return cli_usage_error("relay: show, smarthost or direct?");
	const char *action = pos[0];
	bool smarthost = strcmp(action, "smarthost") == 0;
	bool report = strcmp(action, "tls-report") == 0;
	if (!smarthost && !report && strcmp(action, "show") != 0 &&
	    strcmp(action, "direct") != 0)
		return cli_usage_error("relay: unknown action '%s'", esc_str(action));
	if (report) {
		if (n_pos != 2 || opts[0].seen || opts[1].seen || opts[2].seen)
			return cli_usage_error("relay tls-report DOMAIN [--day YYYY-MM-DD]");
		if (opts[3].seen && !day_valid(opts[3].value))
			return cli_usage_error("relay tls-report: --day takes YYYY-MM-DD");
	} else if (opts[3].seen) {
		return cli_usage_error("relay %s: --day is for tls-report", action);
	}
	if (!smarthost && !report &&
	    (n_pos != 1 || opts[0].seen || opts[1].seen || opts[2].seen))
		return cli_usage_error("relay %s takes no argument", action);
	if (smarthost) {
		if (n_pos != 2)
			return cli_usage_error("relay smarthost: HOST:PORT is missing");
		if (!opts[0].seen || (strcmp(opts[0].value, "implicit") != 0 &&
		                      strcmp(opts[0].value, "starttls") != 0))
			return cli_usage_error("relay smarthost: --tls implicit or --tls starttls");
		if (opts[1].seen != opts[2].seen)
			return cli_usage_error("relay smarthost: --username and --password-stdin"
			                       " go together");
		if (opts[1].seen && opts[1].value[0] == '\0')
			return cli_usage_error("relay smarthost: --username must not be empty");
		if (opts[1].seen && opts[4].seen)
			return cli_usage_error("relay smarthost: --username or --oauth-upstream, "
			                       "not both");
	} else if (opts[4].seen) {
		return cli_usage_error("relay %s: --oauth-upstream is for smarthost", action);
	}

	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	if (report) {
		ret = relay_tls_report(ctx, st, pos[1], opts[3].seen ? opts[3].value : NULL);
	} else if (strcmp(action, "show") == 0) {
		ret = relay_show(ctx, st);
	} else if (smarthost) {
		ret = relay_smarthost(ctx, st, pos[1], opts[0].value,
		                      opts[1].seen ? opts[1].value : NULL, opts[2].seen,
		                      opts[4].seen ? opts[4].value : NULL);
	} else if (relayq_smarthost_set(st, NULL, &error) != STORE_OK) {
		cli_error("relay direct: %s", error);
		ret = CLI_FAIL;
	} else {
		ret = CLI_OK;
	}
	store_close(&st);
	return ret;
}
