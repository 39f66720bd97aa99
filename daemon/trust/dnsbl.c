/* dnsbl: DNS blocklist lookups of a client address; see dnsbl.h. */
#include "trust/dnsbl.h"

#include <string.h>
#include <sys/socket.h>

#include "core/xmalloc.h"

/* RFC 1035 §2.3.4: a name is at most 255 octets (253 in text). */
#define NAME_MAX_TEXT 253

int
dnsbl_query_name(const struct ip_addr *ip, const char *zone, struct buf *out)
{
	struct buf rev = BUF_INIT;
	/* the PTR name without its in-addr.arpa or ip6.arpa: the same
	 * reversed octets (§2.1) or nibbles (§2.4) */
	ip_addr_reverse_name(&rev, ip);
	const char *suffix = ip->family == AF_INET ? "in-addr.arpa" : "ip6.arpa";
	size_t keep = rev.len - strlen(suffix);
	size_t zl = strlen(zone);
	while (zl > 0 && zone[zl - 1] == '.')
		zl--;
	int ret = -1;
	if (zl > 0 && keep + zl <= NAME_MAX_TEXT) {
		buf_append(out, rev.data, keep);
		buf_append(out, zone, zl);
		ret = 0;
	}
	buf_free(&rev);
	return ret;
}

/* §2.3: an A record in 127.0.0.0/8 lists; 127.255.255.0/24 is a list's
 * way of reporting that it did not answer the question. */
static bool
a_lists(const struct dns_answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		const unsigned char *x = a->rr[i].addr;
		if (x[0] == 127 && !(x[1] == 255 && x[2] == 255))
			return true;
	}
	return false;
}

/* The first TXT record as printable ASCII, cut at DNSBL_TEXT_MAX. */
static char *
txt_text(const struct dns_source *src, const char *name)
{
	struct dns_answer a;
	struct buf out = BUF_INIT;
	if (dns_source_query(src, name, DNS_T_TXT, &a) == DNS_OK) {
		const struct dns_rr *rr = &a.rr[0];
		for (size_t i = 0; i < rr->text_len && out.len < DNSBL_TEXT_MAX; i++) {
			unsigned char c = (unsigned char)rr->text[i];
			buf_putc(&out, c >= 0x20 && c < 0x7f ? (char)c : '?');
		}
	}
	dns_answer_free(&a);
	return out.data != NULL ? buf_steal(&out) : xstrdup("");
}

void
dnsbl_check(const struct dns_source *src, const char *zones, const struct ip_addr *ip,
	    struct dnsbl_result *r)
{
	memset(r, 0, sizeof *r);
	r->verdict = DNSBL_CLEAN;
	struct buf name = BUF_INIT;
	for (const char *p = zones; p != NULL;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		char *zone = xstrndup(p, len);
		p += len;
		buf_reset(&name);
		if (dnsbl_query_name(ip, zone, &name) < 0) {
			free(zone);
			continue;
		}
		struct dns_answer a;
		int st = dns_source_query(src, buf_cstr(&name), DNS_T_A, &a);
		if (st == DNS_OK && a_lists(&a)) {
			dns_answer_free(&a);
			free(r->zone);
			r->verdict = DNSBL_LISTED;
			r->zone = zone;
			r->text = txt_text(src, buf_cstr(&name));
			break;
		}
		dns_answer_free(&a);
		if ((st == DNS_TEMPFAIL || st == DNS_ERROR) && r->zone == NULL) {
			r->verdict = DNSBL_UNKNOWN;
			r->zone = zone;
			continue;
		}
		free(zone);
	}
	buf_free(&name);
}

void
dnsbl_result_clear(struct dnsbl_result *r)
{
	if (r == NULL)
		return;
	xfree(r->zone);
	xfree(r->text);
	r->verdict = DNSBL_CLEAN;
}

void
dnsbl_reply(const struct dnsbl_result *r, const struct ip_addr *ip, struct buf *out)
{
	buf_puts(out, "554 5.7.1 Service unavailable; client [");
	ip_addr_text(out, ip);
	buf_printf(out, "] blocked using %s", r->zone);
	if (r->text != NULL && r->text[0] != '\0')
		buf_printf(out, "; %s", r->text);
}
