/*
 * doctor: the checks of what the world sees (see doctor.h).
 */
#include "doctor/doctor.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "trust/ipaddr.h"
#include "trust/rdns.h"
#include "trust/spf.h"

/* ---- the report ------------------------------------------------------------ */

void
doctor_report_init(struct doctor_report *r)
{
	memset(r, 0, sizeof *r);
}

void
doctor_report_free(struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].domain);
		free(r->f[i].text);
	}
	free(r->f);
	memset(r, 0, sizeof *r);
}

size_t
doctor_report_count(const struct doctor_report *r, enum doctor_status s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->f[i].status == s;
	return n;
}

const char *
doctor_status_name(enum doctor_status s)
{
	switch (s) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_INFO:
		return "info";
	case DOCTOR_WARN:
		return "warn";
	case DOCTOR_FAIL:
		return "fail";
	}
	return "?";
}

static void MH_PRINTF(5, 6)
add(struct doctor_report *r, const char *domain, const char *check, enum doctor_status s,
    const char *fmt, ...)
{
	if (r->n == r->cap) {
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
		r->f = xreallocarray(r->f, r->cap, sizeof *r->f);
	}
	struct buf text = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	struct doctor_finding *f = &r->f[r->n++];
	f->domain = domain != NULL ? xstrdup(domain) : NULL;
	f->check = check;
	f->status = s;
	f->text = buf_steal(&text);
}

/* ---- DNS helpers ------------------------------------------------------------- */

/* Text from DNS, safe to print: control bytes and non-ASCII as '?', cut
 * at 300 bytes. */
static char *
printable(const char *s, size_t len)
{
	size_t n = len > 300 ? 300 : len;
	char *out = xmalloc(n + 4);
	for (size_t i = 0; i < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	memcpy(out + n, len > n ? "..." : "", len > n ? 4 : 1);
	return out;
}

/* True when txt starts with tag ("v=spf1") followed by the end, a space
 * or a ';' (RFC 7208 §4.5, RFC 7489 §6.4: the version must come first). */
static bool
record_is(const char *txt, const char *tag)
{
	size_t n = strlen(tag);
	if (strncasecmp(txt, tag, n) != 0)
		return false;
	return txt[n] == '\0' || txt[n] == ' ' || txt[n] == ';' || txt[n] == '\t';
}

/* The value of tag name in a "k=v; k=v" record (RFC 6376 §3.2), its
 * whitespace removed, or NULL (malloc'd). */
static char *
tag_value(const char *txt, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = txt;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			const char *k = p, *ke = eq;
			while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			if ((size_t)(ke - k) == nlen && strncasecmp(k, name, nlen) == 0) {
				struct buf v = BUF_INIT;
				for (const char *c = eq + 1; c < end; c++)
					if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
						buf_putc(&v, *c);
				buf_puts(&v, "");
				return buf_steal(&v);
			}
		}
		p = end;
	}
	return NULL;
}

/* The TXT records of name that start with tag, into *found (the first,
 * malloc'd) and their count; the DNS status otherwise. */
static int
txt_records(const struct dns_source *dns, const char *name, const char *tag, char **found,
	    size_t *n_r)
{
	struct dns_answer ans;
	*found = NULL;
	*n_r = 0;
	int st = dns_source_query(dns, name, DNS_T_TXT, &ans);
	for (size_t i = 0; st == DNS_OK && i < ans.n; i++) {
		if (strlen(ans.rr[i].text) != ans.rr[i].text_len || !record_is(ans.rr[i].text, tag))
			continue;
		if ((*n_r)++ == 0)
			*found = xstrdup(ans.rr[i].text);
	}
	dns_answer_free(&ans);
	return st;
}

static const char *
dns_words(int status)
{
	return status == DNS_TEMPFAIL ? "the DNS lookup failed (try again later)"
		: status == DNS_NXDOMAIN ? "the name does not exist in DNS" : "there is no such record";
}

/* The A and AAAA records of host as text, into addrs (at most max). */
static size_t
host_addresses(const struct dns_source *dns, const char *host, char **addrs, size_t max,
	       int *status_r)
{
	size_t n = 0;
	enum dns_type types[] = { DNS_T_A, DNS_T_AAAA };
	*status_r = DNS_NODATA;
	for (size_t t = 0; t < 2; t++) {
		struct dns_answer ans;
		int st = dns_source_query(dns, host, types[t], &ans);
		if (st == DNS_OK || *status_r == DNS_NODATA)
			*status_r = st == DNS_NXDOMAIN && *status_r != DNS_NODATA ? *status_r : st;
		for (size_t i = 0; st == DNS_OK && i < ans.n && n < max; i++) {
			char text[INET6_ADDRSTRLEN];
			if (inet_ntop(types[t] == DNS_T_A ? AF_INET : AF_INET6, ans.rr[i].addr, text,
				      sizeof text) != NULL)
				addrs[n++] = xstrdup(text);
		}
		dns_answer_free(&ans);
	}
	if (n > 0)
		*status_r = DNS_OK;
	return n;
}

/* ---- the checks of a domain ----------------------------------------------------- */

static void
check_mx(const struct dns_source *dns, const struct doctor_params *p, const char *d,
	 struct doctor_report *r)
{
	struct dns_answer ans;
	int st = dns_source_query(dns, d, DNS_T_MX, &ans);
	if (st == DNS_TEMPFAIL || st == DNS_ERROR) {
		add(r, d, "mx", DOCTOR_WARN, "The MX of %s cannot be checked now: %s.", d,
		    dns_words(DNS_TEMPFAIL));
		dns_answer_free(&ans);
		return;
	}
	if (st != DNS_OK) {
		add(r, d, "mx", DOCTOR_FAIL,
		    "No MX record for %s (%s): other servers cannot find where to deliver "
		    "its mail. Publish: %s. MX 10 %s.", d, dns_words(st), d, p->hostname);
		dns_answer_free(&ans);
		return;
	}
	struct buf others = BUF_INIT;
	bool here = false;
	for (size_t i = 0; i < ans.n; i++) {
		if (strcasecmp(ans.rr[i].text, p->hostname) == 0)
			here = true;
		else
			buf_printf(&others, "%s%s", others.len > 0 ? ", " : "", ans.rr[i].text);
	}
	if (!here)
		add(r, d, "mx", DOCTOR_FAIL,
		    "The MX of %s points at %s, not at this server (%s): mail for it goes "
		    "elsewhere. Publish: %s. MX 10 %s. (and remove the others)",
		    d, buf_cstr(&others), p->hostname, d, p->hostname);
	else if (others.len > 0)
		add(r, d, "mx", DOCTOR_WARN,
		    "The MX of %s points here (%s) and also at %s: mail that goes there "
		    "must reach this server too, or remove those records.",
		    d, p->hostname, buf_cstr(&others));
	else
		add(r, d, "mx", DOCTOR_OK, "The MX of %s points at this server (%s).", d,
		    p->hostname);
	buf_free(&others);
	dns_answer_free(&ans);
}

static void
check_spf(const struct dns_source *dns, const struct doctor_params *p, const char *d,
	  char **addresses, size_t n_addresses, struct doctor_report *r)
{
	char *rec;
	size_t n;
	int st = txt_records(dns, d, "v=spf1", &rec, &n);
	if (st == DNS_TEMPFAIL) {
		add(r, d, "spf", DOCTOR_WARN, "The SPF record of %s cannot be read now: %s.", d,
		    dns_words(st));
		return;
	}
	if (n == 0) {
		add(r, d, "spf", DOCTOR_FAIL,
		    "%s has no SPF record: receivers cannot tell that this server may send "
		    "its mail, and many put it in spam. Publish: %s. TXT \"v=spf1 mx -all\"", d, d);
		return;
	}
	if (n > 1) {
		add(r, d, "spf", DOCTOR_FAIL,
		    "%s has %zu SPF records; RFC 7208 §4.5 makes that an error for every "
		    "receiver. Keep one: %s. TXT \"v=spf1 mx -all\"", d, n, d);
		free(rec);
		return;
	}
	char *shown = printable(rec, strlen(rec));
	free(rec);
	bool all_pass = true;
	for (size_t i = 0; i < n_addresses; i++) {
		struct spf_request req = { .helo = p->hostname, .sender = "",
					   .receiver = p->hostname, .now = p->now };
		char *sender = xasprintf("postmaster@%s", d);
		if (ip_addr_parse(addresses[i], &req.ip) < 0) {
			free(sender);
			continue;
		}
		struct spf_verdict v;
		enum spf_result res = spf_check_host(dns, &req, d, sender, SPF_ID_MAILFROM, &v);
		if (res != SPF_PASS) {
			all_pass = false;
			add(r, d, "spf", DOCTOR_FAIL,
			    "The SPF record of %s (\"%s\") gives %s for this server's address %s%s%s: "
			    "its mail fails SPF. Add \"mx\" (the MX points here) or \"%s:%s\" "
			    "before the \"all\".", d, shown, spf_result_name(res), addresses[i],
			    v.problem != NULL ? ": " : "", v.problem != NULL ? v.problem : "",
			    strchr(addresses[i], ':') != NULL ? "ip6" : "ip4", addresses[i]);
		}
		spf_verdict_free(&v);
		free(sender);
	}
	if (all_pass && n_addresses > 0)
		add(r, d, "spf", DOCTOR_OK, "The SPF record of %s lets this server send (\"%s\").",
		    d, shown);
	else if (n_addresses == 0)
		add(r, d, "spf", DOCTOR_WARN, "%s has an SPF record (\"%s\"), but without a "
		    "public address of this server it cannot be checked.", d, shown);
	free(shown);
}

static void
check_dkim(const struct dns_source *dns, const struct doctor_domain *dom,
	   struct doctor_report *r)
{
	const char *d = dom->name;
	if (dom->n_keys == 0) {
		add(r, d, "dkim", DOCTOR_WARN, "%s has no DKIM key yet: `mailhub domain show %s` "
		    "makes one and prints the record to publish.", d, d);
		return;
	}
	for (size_t k = 0; k < dom->n_keys; k++) {
		const struct doctor_dkim_key *key = &dom->keys[k];
		char *name = xasprintf("%s._domainkey.%s", key->selector, d);
		char *rec;
		size_t n;
		int st = txt_records(dns, name, "v=DKIM1", &rec, &n);
		if (n == 0) {
			/* RFC 6376 §3.6.1: v= is optional; a record with p= counts */
			struct dns_answer ans;
			if (dns_source_query(dns, name, DNS_T_TXT, &ans) == DNS_OK && ans.n > 0 &&
			    strlen(ans.rr[0].text) == ans.rr[0].text_len) {
				rec = xstrdup(ans.rr[0].text);
				n = 1;
			}
			dns_answer_free(&ans);
		}
		char *pkey = n > 0 ? tag_value(rec, "p") : NULL;
		if (n == 0 && (st == DNS_TEMPFAIL || st == DNS_ERROR))
			add(r, d, "dkim", DOCTOR_WARN, "The DKIM key \"%s\" of %s cannot be checked "
			    "now: %s.", key->selector, d, dns_words(DNS_TEMPFAIL));
		else if (n == 0)
			add(r, d, "dkim", DOCTOR_FAIL,
			    "The DKIM key \"%s\" of %s is not published (%s): receivers cannot "
			    "verify this server's signatures. Publish: %s. TXT (the record "
			    "`mailhub domain show %s` prints)", key->selector, d, dns_words(st), name, d);
		else if (pkey == NULL || strcmp(pkey, key->public_key) != 0)
			add(r, d, "dkim", DOCTOR_FAIL,
			    "The DKIM record %s does not hold the key this server signs with: "
			    "its signatures fail. Replace it with the record `mailhub domain "
			    "show %s` prints.", name, d);
		else
			add(r, d, "dkim", DOCTOR_OK, "The DKIM key \"%s\" of %s is published as it is.",
			    key->selector, d);
		free(pkey);
		free(rec);
		free(name);
	}
}

static void
check_dmarc(const struct dns_source *dns, const char *d, struct doctor_report *r)
{
	char *name = xasprintf("_dmarc.%s", d);
	char *rec;
	size_t n;
	int st = txt_records(dns, name, "v=DMARC1", &rec, &n);
	if (n == 1) {
		char *policy = tag_value(rec, "p");
		char *shown = printable(policy != NULL ? policy : "", policy != NULL ? strlen(policy) : 0);
		if (policy == NULL)
			add(r, d, "dmarc", DOCTOR_FAIL, "The DMARC record of %s has no p= tag, "
			    "which receivers ignore (RFC 7489 §6.6.3). Publish: %s. TXT "
			    "\"v=DMARC1; p=none\"", d, name);
		else
			add(r, d, "dmarc", DOCTOR_OK, "%s publishes a DMARC policy (p=%s).", d, shown);
		free(shown);
		free(policy);
	} else if (st == DNS_TEMPFAIL || st == DNS_ERROR) {
		add(r, d, "dmarc", DOCTOR_WARN, "The DMARC record of %s cannot be checked now: %s.",
		    d, dns_words(DNS_TEMPFAIL));
	} else if (n > 1) {
		add(r, d, "dmarc", DOCTOR_FAIL, "%s has %zu DMARC records; receivers then use "
		    "none (RFC 7489 §6.6.3). Keep one.", name, n);
	} else {
		add(r, d, "dmarc", DOCTOR_WARN,
		    "%s publishes no DMARC record (%s): large providers want one from every "
		    "sender. Publish: %s. TXT \"v=DMARC1; p=none; adkim=r; aspf=r\"",
		    d, dns_words(st), name);
	}
	free(rec);
	free(name);
}

/* RFC 8461 §3.1: "v=STSv1; id=..." with an id of 1 to 32 letters and
 * digits. */
static void
check_mta_sts(const struct dns_source *dns, const struct doctor_params *p, const char *d,
	      struct doctor_report *r)
{
	char *name = xasprintf("_mta-sts.%s", d);
	char *rec;
	size_t n;
	(void)txt_records(dns, name, "v=STSv1", &rec, &n);
	if (n == 0) {
		if (p->mta_sts_id != NULL)
			add(r, d, "mta_sts", DOCTOR_WARN, "This server serves an MTA-STS policy, "
			    "but %s has no MTA-STS record: senders never look for it. Publish: "
			    "%s. TXT \"v=STSv1; id=%s\"", d, name, p->mta_sts_id);
		else
			add(r, d, "mta_sts", DOCTOR_INFO, "%s publishes no MTA-STS policy "
			    "(optional: [relay] mta_sts_publish).", d);
	} else {
		char *id = tag_value(rec, "id");
		size_t len = id != NULL ? strlen(id) : 0;
		bool ok = len >= 1 && len <= 32;
		for (size_t i = 0; ok && i < len; i++)
			ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
			     (id[i] >= 'A' && id[i] <= 'Z');
		if (!ok || n > 1)
			add(r, d, "mta_sts", DOCTOR_FAIL, "The MTA-STS record %s is not valid "
			    "(%s): senders ignore the policy. Publish exactly one: %s. TXT "
			    "\"v=STSv1; id=%s\"", name, n > 1 ? "more than one record"
			    : "its id= must be 1 to 32 letters and digits", name,
			    p->mta_sts_id != NULL ? p->mta_sts_id : "20260101");
		else if (p->mta_sts_id != NULL && strcmp(id, p->mta_sts_id) != 0)
			add(r, d, "mta_sts", DOCTOR_WARN, "The MTA-STS record of %s has id=%s, but "
			    "the policy this server serves has id %s: senders keep an old policy. "
			    "Publish: %s. TXT \"v=STSv1; id=%s\"", d, id, p->mta_sts_id, name,
			    p->mta_sts_id);
		else
			add(r, d, "mta_sts", DOCTOR_OK, "%s publishes an MTA-STS record (id=%s).", d,
			    id);
		free(id);
	}
	free(rec);
	free(name);
}

/* RFC 8460 §3: "v=TLSRPTv1; rua=mailto:...". */
static void
check_tls_rpt(const struct dns_source *dns, const char *d, struct doctor_report *r)
{
	char *name = xasprintf("_smtp._tls.%s", d);
	char *rec;
	size_t n;
	(void)txt_records(dns, name, "v=TLSRPTv1", &rec, &n);
	if (n == 0) {
		add(r, d, "tls_rpt", DOCTOR_INFO, "%s asks for no TLS reports (optional: %s. TXT "
		    "\"v=TLSRPTv1; rua=mailto:postmaster@%s\").", d, name, d);
	} else {
		char *rua = tag_value(rec, "rua");
		if (n > 1 || rua == NULL || (strncmp(rua, "mailto:", 7) != 0 &&
					     strncmp(rua, "https:", 6) != 0))
			add(r, d, "tls_rpt", DOCTOR_FAIL, "The TLS-RPT record %s is not valid (%s): "
			    "no reports will come. Publish one: %s. TXT \"v=TLSRPTv1; "
			    "rua=mailto:postmaster@%s\"", name, n > 1 ? "more than one record"
			    : "rua= must be a mailto: or https: URI", name, d);
		else
			add(r, d, "tls_rpt", DOCTOR_OK, "%s asks for TLS reports.", d);
		free(rua);
	}
	free(rec);
	free(name);
}

void
doctor_check_domain(const struct dns_source *dns, const struct doctor_params *p,
		    const struct doctor_domain *dom, char **addresses, size_t n_addresses,
		    struct doctor_report *r)
{
	check_mx(dns, p, dom->name, r);
	check_spf(dns, p, dom->name, addresses, n_addresses, r);
	check_dkim(dns, dom, r);
	check_dmarc(dns, dom->name, r);
	check_mta_sts(dns, p, dom->name, r);
	check_tls_rpt(dns, dom->name, r);
}

/* ---- the server's checks ------------------------------------------------------------ */

static void
check_mx_address(const struct dns_source *dns, const struct doctor_params *p, int st,
		 char **addrs, size_t n, struct doctor_report *r)
{
	if (n == 0 && (st == DNS_TEMPFAIL || st == DNS_ERROR)) {
		add(r, NULL, "mx_address", DOCTOR_WARN, "The addresses of %s cannot be checked now: "
		    "%s.", p->hostname, dns_words(DNS_TEMPFAIL));
		return;
	}
	if (n == 0) {
		add(r, NULL, "mx_address", DOCTOR_FAIL,
		    "The host name %s has no A or AAAA record (%s): no server can connect to "
		    "it. Publish: %s. A YOUR-PUBLIC-IPv4 (and AAAA for IPv6)", p->hostname,
		    dns_words(st), p->hostname);
		return;
	}
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_printf(&list, "%s%s", i > 0 ? ", " : "", addrs[i]);
	if (p->address != NULL) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found |= strcmp(addrs[i], p->address) == 0;
		if (!found) {
			add(r, NULL, "mx_address", DOCTOR_FAIL,
			    "The host name %s resolves to %s, not to this server's public address "
			    "%s: mail goes elsewhere. Publish: %s. A %s", p->hostname,
			    buf_cstr(&list), p->address, p->hostname, p->address);
			buf_free(&list);
			return;
		}
	}
	add(r, NULL, "mx_address", DOCTOR_OK, "The host name %s resolves to %s.", p->hostname,
	    buf_cstr(&list));
	buf_free(&list);
	(void)dns;
}

static void
check_ptr(const struct dns_source *dns, const struct doctor_params *p, char **addrs, size_t n,
	  struct doctor_report *r)
{
	for (size_t i = 0; i < n; i++) {
		struct ip_addr ip;
		if (ip_addr_parse(addrs[i], &ip) < 0)
			continue;
		struct buf name = BUF_INIT;
		if (rdns_verified_name(dns, &ip, &name) < 0)
			add(r, NULL, "ptr", DOCTOR_FAIL,
			    "The address %s has no reverse DNS (PTR) name that resolves back to it: "
			    "many receivers refuse such mail. Ask whoever owns the address (your "
			    "ISP or hosting provider) to set its PTR to %s.", addrs[i], p->hostname);
		else if (strcasecmp(buf_cstr(&name), p->hostname) != 0)
			add(r, NULL, "ptr", DOCTOR_WARN,
			    "The reverse DNS of %s is %s, not %s: it resolves back, but receivers "
			    "like it to match the name this server greets with. Ask for PTR %s.",
			    addrs[i], buf_cstr(&name), p->hostname, p->hostname);
		else
			add(r, NULL, "ptr", DOCTOR_OK, "The reverse DNS of %s is %s and resolves "
			    "back to it.", addrs[i], p->hostname);
		buf_free(&name);
	}
}

/* One certificate file, for the name it must serve. */
static void
check_cert(const struct doctor_params *p, const char *cert_path, const char *hostname,
	   struct doctor_report *r)
{
	FILE *f = cert_path != NULL ? fopen(cert_path, "r") : NULL;
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	if (x == NULL) {
		add(r, NULL, "certificate", DOCTOR_FAIL, "The certificate %s cannot be read: "
		    "set [tls] cert and key to your certificate (with certbot: "
		    "/etc/letsencrypt/live/%s/fullchain.pem and privkey.pem).",
		    cert_path != NULL ? cert_path : "(none)", hostname);
		return;
	}
	time_t now = p->now;
	int days = 0, secs = 0;
	ASN1_TIME *t = ASN1_TIME_adj(NULL, now, 0, 0);
	bool have_diff = t != NULL && ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(x)) == 1;
	ASN1_TIME_free(t);
	/* self-signed: issued by its own subject and signed by its own key
	 * (X509_check_issued() would also want keyCertSign, which the pair
	 * of `mailhub init` rightly lacks) */
	EVP_PKEY *pub = X509_get0_pubkey(x);
	bool self = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
		    pub != NULL && X509_verify(x, pub) == 1;
	bool name_ok = X509_check_host(x, hostname, 0, 0, NULL) == 1;
	if (!name_ok)
		add(r, NULL, "certificate", DOCTOR_FAIL,
		    "The certificate %s is not valid for %s: clients and servers that check "
		    "names refuse it. Get one for %s (certbot certonly -d %s) and set [tls] "
		    "cert and key.", cert_path, hostname, hostname, hostname);
	if (have_diff && (days < 0 || (days == 0 && secs < 0)))
		add(r, NULL, "certificate", DOCTOR_FAIL,
		    "The certificate %s has expired: renew it (certbot renew), then reload "
		    "mailhub (systemctl reload mailhub).", cert_path);
	else if (have_diff && days < DOCTOR_CERT_DAYS)
		add(r, NULL, "certificate", DOCTOR_FAIL,
		    "The certificate %s expires in %d day%s: renew it (certbot renew), then "
		    "reload mailhub (systemctl reload mailhub; the .deb's certbot hook does "
		    "it).", cert_path, days, days == 1 ? "" : "s");
	if (self)
		add(r, NULL, "certificate", DOCTOR_WARN,
		    "The certificate %s is self-signed: mail clients warn about it and servers "
		    "that insist on TLS refuse it. Get one from Let's Encrypt (certbot certonly "
		    "-d %s) and set [tls] cert and key to its live files.", cert_path,
		    hostname);
	if (name_ok && have_diff && days >= DOCTOR_CERT_DAYS && !self)
		add(r, NULL, "certificate", DOCTOR_OK,
		    "The certificate is valid for %s for %d more days.", hostname, days);
	X509_free(x);
}

void
doctor_check_certificate(const struct doctor_params *p, struct doctor_report *r)
{
	check_cert(p, p->cert_path, p->hostname, r);
	if (p->sni_dir == NULL)
		return;
	/* [tls] sni: each folder's certificate, for the name of its folder
	 * (certbot names a lineage after its first name) */
	DIR *d = opendir(p->sni_dir);
	if (d == NULL) {
		add(r, NULL, "certificate", DOCTOR_FAIL, "The [tls] sni folder %s cannot be read: %s.",
		    p->sni_dir, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", p->sni_dir, de->d_name);
		struct stat stt;
		if (stat(sub, &stt) == 0 && S_ISDIR(stt.st_mode)) {
			char *cert = xasprintf("%s/fullchain.pem", sub);
			if (p->cert_path == NULL || strcmp(cert, p->cert_path) != 0)
				check_cert(p, cert, de->d_name, r);
			free(cert);
		}
		free(sub);
	}
	closedir(d);
}

/* A TCP connection to host:port within DOCTOR_PROBE_SECONDS: 0, or -1
 * with *why. */
static int
probe_connect(const char *target, const char **why)
{
	char *host = NULL;
	unsigned port = 0;
	if (config_parse_address(target, false, &host, &port, why) < 0 || host == NULL) {
		free(host);
		if (host == NULL && port != 0)
			*why = "the probe needs a host";
		return -1;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char ports[8];
	snprintf(ports, sizeof ports, "%u", port);
	int gai = getaddrinfo(host, ports, &hints, &res);
	free(host);
	if (gai != 0) {
		*why = gai_strerror(gai);
		return -1;
	}
	int ret = -1;
	*why = "no address";
	for (struct addrinfo *ai = res; ai != NULL && ret < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			ret = 0;
		} else if (errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int err = 0;
			socklen_t len = sizeof err;
			int pr = poll(&pfd, 1, DOCTOR_PROBE_SECONDS * 1000);
			if (pr == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				ret = 0;
			else
				*why = pr == 0 ? "no answer (timed out)" : strerror(err != 0 ? err : errno);
		} else {
			*why = strerror(errno);
		}
		close(fd);
	}
	freeaddrinfo(res);
	return ret;
}

void
doctor_check_outbound(const struct doctor_params *p, struct doctor_report *r)
{
	const char *why;
	if (p->probe == NULL) {
		add(r, NULL, "outbound_25", DOCTOR_INFO, "Outbound port 25 was not checked "
		    "(no probe address).");
		return;
	}
	if (probe_connect(p->probe, &why) == 0) {
		add(r, NULL, "outbound_25", DOCTOR_OK, "Outbound connections to port 25 work "
		    "(%s answered).", p->probe);
		return;
	}
	if (p->smarthost)
		add(r, NULL, "outbound_25", DOCTOR_INFO, "Outbound port 25 seems blocked (%s: %s), "
		    "but mail leaves through the smarthost, which does not need it.", p->probe, why);
	else
		add(r, NULL, "outbound_25", DOCTOR_FAIL,
		    "Outbound port 25 is blocked (%s: %s), as many home ISPs do: mail to other "
		    "servers cannot leave. Send through your ISP's or a mail service's "
		    "smarthost: mailhub relay smarthost HOST:587 --tls starttls --username "
		    "USER --password-stdin", p->probe, why);
}

void
doctor_run(const struct dns_source *dns, const struct doctor_params *p,
	   const struct doctor_domain *domains, size_t n_domains, struct doctor_report *r)
{
	char *addrs[DOCTOR_ADDRESSES_MAX];
	int st = DNS_OK;
	size_t n = host_addresses(dns, p->hostname, addrs, DOCTOR_ADDRESSES_MAX, &st);
	check_mx_address(dns, p, st, addrs, n, r);
	/* the public address: the one given, else the host name's */
	char *given[1];
	char **pub = addrs;
	size_t n_pub = n;
	if (p->address != NULL) {
		given[0] = (char *)p->address;
		pub = given;
		n_pub = 1;
	}
	check_ptr(dns, p, pub, n_pub, r);
	for (size_t i = 0; i < n_domains; i++)
		doctor_check_domain(dns, p, &domains[i], pub, n_pub, r);
	doctor_check_certificate(p, r);
	doctor_check_outbound(p, r);
	add(r, NULL, "inbound", DOCTOR_INFO,
	    "Whether the world can reach this server can only be seen from outside: from a "
	    "machine on another network (a phone off Wi-Fi, a friend's computer), run "
	    "\"nc -vz %s 25\" (and 465, 587, 993 for your mail clients), or "
	    "\"openssl s_client -connect %s:993 -servername %s\". Each must connect; if "
	    "not, forward those ports on your router to this machine and ask your ISP "
	    "whether it blocks inbound port 25.", p->hostname, p->hostname, p->hostname);
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
}
