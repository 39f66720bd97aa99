/*
 * dns_source: the evaluators' DNS (see dns_source.h): the daemon's
 * resolver behind the query function.
 */
#include "trust/dns_source.h"

#include <string.h>

int
dns_source_query(const struct dns_source *src, const char *name, enum dns_type type,
		 struct dns_answer *ans_r)
{
	memset(ans_r, 0, sizeof *ans_r);
	int ret = src->query(src->ctx, name, type, ans_r);
	/* the contract: DNS_OK has records, anything else has none */
	if (ret == DNS_OK && ans_r->n == 0) {
		ans_r->status = DNS_NODATA;
		ret = DNS_NODATA;
	}
	return ret;
}

static int
resolver_query(void *ctx, const char *name, enum dns_type type, struct dns_answer *ans_r)
{
	return dns_query(ctx, name, type, ans_r);
}

struct dns_source
dns_source_resolver(struct dns_resolver *r)
{
	struct dns_source s = { resolver_query, r };
	return s;
}
