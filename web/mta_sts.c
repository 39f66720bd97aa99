/*
 * mta_sts: this server's own MTA-STS policy (RFC 8461 §3.2), for each of
 * its domains:
 *   GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt
 * The Host field names the domain; a domain that is not local, or
 * [relay] mta_sts_publish = none, gets 404.  The policy names [server]
 * hostname as the only MX (the DNS helper lists the records that go
 * with it: _mta-sts TXT with the policy's id, mta-sts CNAME).
 */
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "store/relayq.h"
#include "web/internal.h"

#define MTA_STS_PATH "/.well-known/mta-sts.txt"
/* RFC 1035 §2.3.4 */
#define HOST_MAX 253

/* The domain of a "mta-sts.DOMAIN[:port]" Host field, lowercased, or NULL. */
static char *
host_domain(const char *host)
{
	if (host == NULL || strncasecmp(host, "mta-sts.", 8) != 0)
		return NULL;
	const char *d = host + 8;
	size_t n = strcspn(d, ":");
	if (n == 0 || n > HOST_MAX)
		return NULL;
	char *out = xstrndup(d, n);
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
	str_lower(out);
	return out;
}

bool
web_mta_sts_serve(struct web_request *r, enum MHD_Result *result_r)
{
	if (strcmp(r->path, MTA_STS_PATH) != 0)
		return false;
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		r->allow = "GET, HEAD";
		*result_r = reply_problem(r, 405, "use GET");
		return true;
	}
	const struct config *cfg = r->srv->cfg;
	struct buf text = BUF_INIT;
	char id[17];
	char *domain = host_domain(MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_HOST));
	if (!relayq_mta_sts_policy(cfg, &text, id)) {
		*result_r = reply_problem(r, 404, "no MTA-STS policy is published");
	} else if (domain == NULL || store_domain_is_local(r->st, domain) <= 0) {
		*result_r = reply_problem(r, 404, "no MTA-STS policy for this host");
	} else {
		/* §3.2: text/plain; §3.3: no redirects, so none here either */
		*result_r = reply_bytes(r, 200, "text/plain", text.data, text.len, "max-age=300");
	}
	free(domain);
	buf_free(&text);
	return true;
}
