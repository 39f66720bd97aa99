/*
 * cli/check.c: `mailhub check-spf IP SENDER [HELO]` and `mailhub
 * check-dmarc FROM ...` (see check_cli.h).
 *
 * Each prints the verdict ("result: ..." first), what decided it, and the
 * header field the daemon would write; the exit status is 0 whatever the
 * verdict (1 only when the check could not be run).
 */
#include "cli/check_cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/log.h"
#include "trust/dmarc.h"
#include "trust/dns_source.h"
#include "trust/spf.h"

/* The resolver of the config's [dns] resolver (or the system's), with a
 * cache for this run as the daemon has one for all its sessions (a check
 * asks some names more than once). */
static struct dns_resolver *
open_resolver(const struct cli_ctx *ctx, struct dns_cache **cache_r)
{
	const char *error;
	struct dns_resolver *r = dns_resolver_new(ctx->cfg->dns_resolver, &error);
	if (r == NULL) {
		cli_error("%s", error);
		return NULL;
	}
	*cache_r = dns_cache_new(256, 1 << 20);
	dns_resolver_set_cache(r, *cache_r);
	return r;
}

int
cmd_check_spf(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[3];
	size_t n_pos;
	int ret = cli_parse_args("check-spf", argc, argv, 1, NULL, 0, pos, 3, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos < 2)
		return cli_usage_error("check-spf: IP and SENDER are needed");
	struct spf_request req;
	memset(&req, 0, sizeof req);
	if (ip_addr_parse(pos[0], &req.ip) < 0)
		return cli_usage_error("check-spf: '%s' is not an IP address", esc_str(pos[0]));
	/* "<alice@example.org>" as written in MAIL FROM, or without brackets */
	char *sender = xstrdup(pos[1]);
	size_t sl = strlen(sender);
	if (sl >= 2 && sender[0] == '<' && sender[sl - 1] == '>') {
		memmove(sender, sender + 1, sl - 2);
		sender[sl - 2] = '\0';
	}
	req.sender = sender;
	req.helo = n_pos > 2 ? pos[2] : "";
	req.receiver = ctx->cfg->hostname;
	req.now = (int64_t)time(NULL);

	struct dns_cache *cache = NULL;
	struct dns_resolver *r = open_resolver(ctx, &cache);
	if (r == NULL) {
		free(sender);
		return CLI_FAIL;
	}
	struct dns_source src = dns_source_resolver(r);
	struct spf_verdict v;
	spf_check(&src, &req, &v);
	printf("result: %s\n", spf_result_name(v.result));
	printf("identity: %s %s\n", v.identity == SPF_ID_HELO ? "helo" : "mailfrom",
	       esc_str(v.sender));
	if (v.mechanism != NULL)
		printf("mechanism: %s\n", esc_str(v.mechanism));
	if (v.explanation != NULL)
		printf("explanation: %s\n", esc_str(v.explanation));
	if (v.problem != NULL)
		printf("problem: %s\n", v.problem);
	printf("lookups: %u (void %u)\n", v.lookups, v.void_lookups);
	struct buf hdr = BUF_INIT;
	spf_received_spf(&hdr, &v, &req);
	printf("Received-SPF: %s\n", buf_cstr(&hdr));
	buf_free(&hdr);
	spf_verdict_free(&v);
	dns_resolver_free(&r);
	dns_cache_free(&cache);
	free(sender);
	return CLI_OK;
}

/* "RESULT:DOMAIN" of --spf and --dkim; the result is an SPF result name
 * (for DKIM only "pass" counts, as for DMARC). */
static int
split_result(const char *opt, const char *text, char **result_r, char **domain_r)
{
	const char *colon = strchr(text, ':');
	if (colon == NULL || colon == text || colon[1] == '\0')
		return cli_usage_error("check-dmarc: %s wants RESULT:DOMAIN, not '%s'", opt,
				       esc_str(text));
	*result_r = xstrndup(text, (size_t)(colon - text));
	*domain_r = xstrdup(colon + 1);
	return CLI_OK;
}

static int
parse_spf_result(const char *name, enum spf_result *r)
{
	for (int i = SPF_NONE; i <= SPF_PERMERROR; i++) {
		if (strcmp(name, spf_result_name((enum spf_result)i)) == 0) {
			*r = (enum spf_result)i;
			return CLI_OK;
		}
	}
	return cli_usage_error("check-dmarc: '%s' is not an SPF result", esc_str(name));
}

/* The DKIM results of --dkim "RESULT:DOMAIN,RESULT:DOMAIN..." (at most
 * max of them) into list; their count in *n_r. */
static int
parse_dkim_list(const char *text, struct dmarc_dkim_result *list, char **names, size_t max,
		size_t *n_r)
{
	char *copy = xstrdup(text), *save = NULL;
	int ret = CLI_OK;
	*n_r = 0;
	for (char *item = strtok_r(copy, ",", &save); item != NULL && ret == CLI_OK;
	     item = strtok_r(NULL, ",", &save)) {
		if (*n_r == max) {
			ret = cli_usage_error("check-dmarc: at most %zu DKIM results", max);
			break;
		}
		char *result;
		ret = split_result("--dkim", item, &result, &names[*n_r]);
		if (ret != CLI_OK)
			break;
		list[*n_r].domain = names[*n_r];
		list[*n_r].pass = strcmp(result, "pass") == 0;
		(*n_r)++;
		free(result);
	}
	free(copy);
	return ret;
}

#define CHECK_DKIM_MAX 16

int
cmd_check_dmarc(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ "--spf", true, false, NULL },
		{ "--dkim", true, false, NULL },
		{ "--sample", true, false, NULL },
	};
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("check-dmarc", argc, argv, 1, opts, 3, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("check-dmarc: the From: domain (or address) is needed");
	struct dmarc_request req;
	memset(&req, 0, sizeof req);
	const char *at = strrchr(pos[0], '@');
	req.from_domain = at != NULL ? at + 1 : pos[0];
	req.spf = SPF_NONE;
	char *spf_result = NULL, *spf_domain = NULL;
	char *dkim_names[CHECK_DKIM_MAX] = { NULL };
	struct dmarc_dkim_result dkim[CHECK_DKIM_MAX];
	size_t n_dkim = 0;
	if (opts[0].seen) {
		ret = split_result("--spf", opts[0].value, &spf_result, &spf_domain);
		if (ret == CLI_OK)
			ret = parse_spf_result(spf_result, &req.spf);
		req.spf_domain = spf_domain;
	}
	if (ret == CLI_OK && opts[1].seen)
		ret = parse_dkim_list(opts[1].value, dkim, dkim_names, CHECK_DKIM_MAX, &n_dkim);
	req.dkim = dkim;
	req.n_dkim = n_dkim;
	if (ret == CLI_OK && opts[2].seen) {
		char *end;
		unsigned long s = strtoul(opts[2].value, &end, 10);
		if (opts[2].value[0] == '\0' || *end != '\0' || s > 99)
			ret = cli_usage_error("check-dmarc: --sample is 0 to 99");
		req.sample = (unsigned)s;
	}
	struct dns_cache *cache = NULL;
	struct dns_resolver *r = ret == CLI_OK ? open_resolver(ctx, &cache) : NULL;
	if (ret == CLI_OK && r == NULL)
		ret = CLI_FAIL;
	if (ret == CLI_OK) {
		struct dns_source src = dns_source_resolver(r);
		struct dmarc_verdict v;
		dmarc_check(&src, &req, &v);
		printf("result: %s\n", dmarc_result_name(v.result));
		if (v.record_domain != NULL)
			printf("policy: %s (%s) from _dmarc.%s\n", dmarc_policy_name(v.policy),
			       v.used_sp && v.rec.has_sp ? "sp" : "p", v.record_domain);
		printf("disposition: %s\n", dmarc_policy_name(v.disposition));
		printf("organizational-domain: %s\n", v.org_domain != NULL ? v.org_domain : "-");
		if (v.record_domain != NULL)
			printf("alignment: dkim=%s spf=%s (adkim=%c aspf=%c pct=%u)\n",
			       v.dkim_aligned ? "pass" : "fail", v.spf_aligned ? "pass" : "fail",
			       v.rec.adkim == DMARC_ALIGN_STRICT ? 's' : 'r',
			       v.rec.aspf == DMARC_ALIGN_STRICT ? 's' : 'r', v.rec.pct);
		if (v.problem != NULL)
			printf("problem: %s\n", v.problem);
		struct buf ar = BUF_INIT;
		dmarc_authres(&ar, &v);
		printf("Authentication-Results: %s; %s\n",
		       ctx->cfg->hostname != NULL ? ctx->cfg->hostname : "localhost", buf_cstr(&ar));
		buf_free(&ar);
		dmarc_verdict_free(&v);
	}
	dns_resolver_free(&r);
	dns_cache_free(&cache);
	free(spf_result);
	free(spf_domain);
	for (size_t i = 0; i < n_dkim; i++)
		free(dkim_names[i]);
	return ret;
}
