/*
 * cli/domain.c: `mailhub domain add|del|show NAME`, `mailhub domain list`.
 *
 * `show` prints the DNS records the domain should publish (MX, SPF, both
 * DKIM keys, DMARC, the autoconfig/autodiscover CNAMEs, RFC 6186 SRV with
 * the listeners' real ports), one per line in zone file syntax; the DKIM
 * keys are made at that moment if the domain has none yet.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "store/relayq.h"
#include "store/store.h"

static int
domain_add(struct store *st, const char *name)
{
	const char *error;

	if (!store_domain_name_valid(name)) {
		cli_error("'%s' is not a valid domain name", esc_str(name));
		return CLI_FAIL;
	}
	switch (store_domain_add(st, name, &error)) {
	case STORE_OK:
		return CLI_OK;
	case STORE_EXISTS:
		cli_error("domain '%s' exists already", esc_str(name));
		return CLI_FAIL;
	default:
		cli_error("domain add: %s", error);
		return CLI_FAIL;
	}
}

static int
domain_del(struct store *st, const char *name)
{
	const char *error;

	switch (store_domain_del(st, name, &error)) {
	case STORE_OK:
		return CLI_OK;
	case STORE_NOTFOUND:
		cli_error("domain '%s' does not exist", esc_str(name));
		return CLI_FAIL;
	case STORE_BUSY:
		cli_error("domain '%s' still has users or aliases: delete them first",
		          esc_str(name));
		return CLI_FAIL;
	default:
		cli_error("domain del: %s", error);
		return CLI_FAIL;
	}
}

static int
domain_list(struct store *st)
{
	struct store_domain *list;
	size_t n;
	const char *error;

	if (store_domain_list(st, &list, &n, &error) != STORE_OK) {
		cli_error("domain list: %s", error);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", list[i].name);
	store_domain_list_free(&list, n);
	return CLI_OK;
}

/* A TXT value as zone file strings: quoted, in pieces of at most 255
 * bytes (RFC 1035 §3.3.14), so a 2048-bit RSA key fits. */
static void
print_txt(const char *value)
{
	size_t len = strlen(value);
	for (size_t off = 0; off < len || off == 0; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;
		printf("%s\"%.*s\"", off > 0 ? " " : "", (int)n, value + off);
		if (len == 0)
			break;
	}
}

/* The same records as the API's /domains/{name}/dns (one function makes
 * both), in zone file syntax, with the ports of this config's listeners. */
static int
domain_show(struct cli_ctx *ctx, struct store *st, const char *name)
{
	struct relayq_dns_record *list;
	size_t n;
	char *dkim_error = NULL;
	const char *error;

	/* the DKIM keys are sealed (store/relayq.h) */
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0) {
		cli_error("domain show: %s", error);
		return CLI_FAIL;
	}
	int found = relayq_dns_records(st, name, ctx->cfg, &list, &n, &dkim_error, &error);
	seal_key_forget();
	switch (found) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		cli_error("domain '%s' does not exist", esc_str(name));
		return CLI_FAIL;
	default:
		cli_error("domain show: %s", error);
		return CLI_FAIL;
	}
	printf("; DNS records to publish for %s\n", esc_str(name));
	for (size_t i = 0; i < n; i++) {
		printf("; %s\n%s IN %s ", list[i].purpose, list[i].name, list[i].type);
		if (strcmp(list[i].type, "TXT") == 0)
			print_txt(list[i].value);
		else
			printf("%s", list[i].value);
		printf("\n");
	}
	relayq_dns_records_free(&list, n);
	int ret = CLI_OK;
	if (dkim_error != NULL) {
		cli_error("domain show: no DKIM records: %s", dkim_error);
		ret = CLI_FAIL;
	}
	free(dkim_error);
	return ret;
}

int
cmd_domain(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2];
	size_t n_pos;
	struct store *st;

	int ret = cli_parse_args("domain", argc, argv, 1, NULL, 0, pos, 2, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos == 0)
		return cli_usage_error("domain: add, del, show or list?");

	const char *action = pos[0];
	bool list = strcmp(action, "list") == 0;
	if (!list && strcmp(action, "add") != 0 && strcmp(action, "del") != 0 &&
	    strcmp(action, "show") != 0)
		return cli_usage_error("domain: unknown action '%s'", esc_str(action));
	if (list && n_pos != 1)
		return cli_usage_error("domain list takes no argument");
	if (!list && n_pos != 2)
		return cli_usage_error("domain %s: NAME is missing", action);

	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	if (list)
		ret = domain_list(st);
	else if (strcmp(action, "add") == 0)
		ret = domain_add(st, pos[1]);
	else if (strcmp(action, "show") == 0)
		ret = domain_show(ctx, st, pos[1]);
	else
		ret = domain_del(st, pos[1]);
	store_close(&st);
	return ret;
}
