/*
 * cli/alias.c: `mailhub alias add SOURCE DEST[,DEST...]`, `alias del SOURCE`,
 * `alias list [SOURCE]`.  A SOURCE of "@example.org" is the domain's
 * catch-all.  The store refuses an alias that would make a loop before
 * writing anything.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "store/store.h"

static bool
source_valid(const char *source)
{
	if (source[0] == '@')
		return store_domain_name_valid(source + 1);
	return store_address_valid(source);
}

static const char *
source_domain(const char *source)
{
	const char *at = strrchr(source, '@');
	return at != NULL ? at + 1 : source;
}

static int
alias_failure(const char *what, const char *source, int status, const char *error)
{
	switch (status) {
	case STORE_NOTFOUND:
		cli_error("alias '%s' does not exist", esc_str(source));
		break;
	case STORE_NOTLOCAL:
		cli_error("domain '%s' does not exist (add it with 'mailhub domain add')",
		          esc_str(source_domain(source)));
		break;
	case STORE_EXISTS:
		cli_error("address '%s' is taken already (by a user or an alias)", esc_str(source));
		break;
	case STORE_LOOP:
		cli_error("%s (nothing was written)", error);
		break;
	default:
		cli_error("alias %s: %s", what, error);
		break;
	}
	return CLI_FAIL;
}

struct dest_list {
	char **items;
	size_t n;
};

static void
dest_list_free(struct dest_list *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->items[i]);
	xfree(d->items);
	d->n = 0;
}

/* Adds the comma-separated addresses of text to d; blanks around each one
 * are dropped.  CLI_OK, or CLI_FAIL after printing why. */
static int
dest_list_split(struct dest_list *d, const char *text)
{
	const char *p = text;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			cli_error("alias add: empty destination in '%s'", esc_str(text));
			return CLI_FAIL;
		}
		char *dest = xstrndup(p, len);
		if (!store_address_valid(dest)) {
			cli_error("'%s' is not a valid destination address", esc_str(dest));
			free(dest);
			return CLI_FAIL;
		}
		if (d->n == ALIAS_EXPANSION_MAX) {
			cli_error("alias add: more than %d destinations", ALIAS_EXPANSION_MAX);
			free(dest);
			return CLI_FAIL;
		}
		d->items = xreallocarray(d->items, d->n + 1, sizeof *d->items);
		d->items[d->n++] = dest;
		if (end == NULL)
			return CLI_OK;
		p = end + 1;
	}
}

static void
print_alias(const struct store_alias *a)
{
	printf("%s -> ", a->source);
	for (size_t i = 0; i < a->n_destinations; i++)
		printf("%s%s", i > 0 ? ", " : "", a->destinations[i]);
	putchar('\n');
}

static int
alias_add(struct store *st, const char *source, const char **dests, size_t n_dests)
{
	struct dest_list d = {NULL, 0};
	const char *error;
	int ret = CLI_FAIL;

	for (size_t i = 0; i < n_dests; i++)
		if (dest_list_split(&d, dests[i]) != CLI_OK)
			goto out;
	int status = store_alias_add(st, source, (const char *const *)d.items, d.n, &error);
	ret = status == STORE_OK ? CLI_OK : alias_failure("add", source, status, error);
out:
	dest_list_free(&d);
	return ret;
}

static int
alias_list(struct store *st, const char *source)
{
	const char *error;

	if (source != NULL) {
		struct store_alias a;
		int status = store_alias_get(st, source, &a, &error);
		if (status != STORE_OK)
			return alias_failure("list", source, status, error);
		print_alias(&a);
		store_alias_clear(&a);
		return CLI_OK;
	}

	struct store_alias *list;
	size_t n;
	if (store_alias_list(st, &list, &n, &error) != STORE_OK) {
		cli_error("alias list: %s", error);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		print_alias(&list[i]);
	store_alias_list_free(&list, n);
	return CLI_OK;
}

int
cmd_alias(struct cli_ctx *ctx, int argc, char **argv)
{
	/* add takes SOURCE and the destinations, which may also come as
	 * several arguments ("alias add a@x b@y c@z"). */
	const char *pos[64];
	size_t n_pos;
	struct store *st;
	const char *error;

	int ret = cli_parse_args("alias", argc, argv, 1, NULL, 0, pos, sizeof pos / sizeof pos[0],
	                         &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos == 0)
		return cli_usage_error("alias: add, del or list?");

	const char *action = pos[0];
	if (strcmp(action, "add") == 0) {
		if (n_pos < 3)
			return cli_usage_error("alias add: SOURCE and DEST are needed");
	} else if (strcmp(action, "del") == 0) {
		if (n_pos != 2)
			return cli_usage_error("alias del: SOURCE is %s",
			                       n_pos < 2 ? "missing" : "the only argument");
	} else if (strcmp(action, "list") == 0) {
		if (n_pos > 2)
			return cli_usage_error("alias list: at most one SOURCE");
	} else {
		return cli_usage_error("alias: unknown action '%s'", esc_str(action));
	}
	if (n_pos >= 2 && !source_valid(pos[1])) {
		cli_error("'%s' is not a valid alias source (local@domain, or @domain for the "
		          "catch-all)",
		          esc_str(pos[1]));
		return CLI_FAIL;
	}

	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	if (strcmp(action, "add") == 0) {
		ret = alias_add(st, pos[1], pos + 2, n_pos - 2);
	} else if (strcmp(action, "del") == 0) {
		int status = store_alias_del(st, pos[1], &error);
		ret = status == STORE_OK ? CLI_OK : alias_failure("del", pos[1], status, error);
	} else {
		ret = alias_list(st, n_pos == 2 ? pos[1] : NULL);
	}
	store_close(&st);
	return ret;
}
