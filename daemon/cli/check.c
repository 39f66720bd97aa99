/*
 * cli/check.c: `mailhub check-spf IP SENDER [HELO]` (see check_cli.h).
 *
 * The verdict, the term that decided, the explanation or the problem, and
 * the Received-SPF header field the daemon would write; the exit status is
 * 0 whatever the verdict (1 only when the check could not be run).
 */
#include "cli/check_cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/dns.h"
#include "core/log.h"
#include "trust/dns_source.h"
#include "trust/spf.h"

/* The resolver of the config's [dns] resolver (or the system's). */
static struct dns_resolver *
open_resolver(const struct cli_ctx *ctx)
{
	const char *error;
	struct dns_resolver *r = dns_resolver_new(ctx->cfg->dns_resolver, &error);
	if (r == NULL)
		cli_error("%s", error);
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

	struct dns_resolver *r = open_resolver(ctx);
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
	free(sender);
	return CLI_OK;
}
