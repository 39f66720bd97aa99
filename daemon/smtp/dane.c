/*
 * dane: TLSA records for SMTP (see dane.h).
 */
#include "smtp/dane.h"

#include <stdlib.h>
#include <string.h>

#include "core/dns.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"

int
dane_tlsa_parse(const unsigned char *rd, size_t len, struct dane_tlsa *t,
		bool *usable_r)
{
	memset(t, 0, sizeof *t);
	*usable_r = false;
	if (len < 4)
		return -1;
	t->usage = rd[0];
	t->selector = rd[1];
	t->mtype = rd[2];
	t->len = len - 3;
	t->data = xmemdup(rd + 3, t->len);
	/* RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP;
	 * RFC 6698 §2.1.3: matching 1 is SHA-256, 2 SHA-512 */
	bool usage_ok = t->usage == 2 || t->usage == 3;
	bool sel_ok = t->selector == 0 || t->selector == 1;
	bool mtype_ok = (t->mtype == 0 && t->len > 0) ||
			(t->mtype == 1 && t->len == 32) ||
			(t->mtype == 2 && t->len == 64);
	*usable_r = usage_ok && sel_ok && mtype_ok;
	return 0;
}

void
dane_tlsa_format(const unsigned char *rd, size_t len, struct buf *out)
{
	if (len < 4)
		return;
	buf_printf(out, "%u %u %u ", rd[0], rd[1], rd[2]);
	for (size_t i = 3; i < len; i++)
		buf_printf(out, "%02x", rd[i]);
}

void
dane_host_clear(struct dane_host *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->tlsa[i].data);
	free(h->tlsa);
	free(h->name);
	free(h->policy);
	memset(h, 0, sizeof *h);
}

void
dane_lookup(struct dns_resolver *dns, const char *host, unsigned port,
	    struct dane_host *h, const char **error_r)
{
	memset(h, 0, sizeof *h);
	h->name = xstrdup(host);
	*error_r = NULL;
	/* RFC 7672 §2.2.3: the TLSA base domain of an MX host */
	char *name = xasprintf("_%u._tcp.%s", port, host);
	struct dns_answer ans;
	int ret = dns_query(dns, name, DNS_T_TLSA, &ans);
	free(name);
	if (ret == DNS_NXDOMAIN || ret == DNS_NODATA) {
		/* a validated denial, or an unsigned zone: no DANE here */
		h->state = DANE_NONE;
		dns_answer_free(&ans);
		return;
	}
	if (ret != DNS_OK) {
		/* §2.2: a failed lookup is not "no records" */
		h->state = DANE_FAILED;
		*error_r = errfmt("TLSA lookup for %s failed: %s", host, dns_status_name(ret));
		dns_answer_free(&ans);
		return;
	}
	if (!ans.secure) {
		/* §2.2: records that are not validated are ignored */
		h->state = DANE_NONE;
		dns_answer_free(&ans);
		return;
	}
	struct buf policy = BUF_INIT;
	for (size_t i = 0; i < ans.n; i++) {
		struct dane_tlsa t;
		bool usable;
		const unsigned char *rd = (const unsigned char *)ans.rr[i].text;
		if (dane_tlsa_parse(rd, ans.rr[i].text_len, &t, &usable) < 0)
			continue;
		if (policy.len > 0)
			buf_putc(&policy, '\n');
		dane_tlsa_format(rd, ans.rr[i].text_len, &policy);
		if (!usable) {
			free(t.data);
			continue;
		}
		h->tlsa = xreallocarray(h->tlsa, h->n + 1, sizeof *h->tlsa);
		h->tlsa[h->n++] = t;
	}
	dns_answer_free(&ans);
	h->policy = buf_steal(&policy);
	if (h->policy == NULL)
		h->policy = xstrdup("");
	h->state = h->n > 0 ? DANE_USABLE : DANE_UNUSABLE;
}

int
dane_tls_setup(SSL *ssl, void *arg, const char **error_r)
{
	const struct dane_host *h = arg;
	if (h == NULL || h->state != DANE_USABLE)
		return 0;
	/* RFC 7672 §3.2.2: the reference identifier is the MX host name
	 * (also sent as SNI, §8.1); OpenSSL checks it for DANE-TA only */
	if (SSL_dane_enable(ssl, h->name) <= 0) {
		*error_r = errfmt("cannot turn on DANE: %s", tls_error_string());
		return -1;
	}
	/* §3.1.1: DANE-EE binds the key, whatever the names in it */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int added = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct dane_tlsa *t = &h->tlsa[i];
		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data,
				      t->len) > 0)
			added++;
	}
	(void)tls_error_string();	/* clears what refused records left */
	if (added == 0) {
		*error_r = "none of the TLSA records could be used";
		return -1;
	}
	return 0;
}
