/*
 * tlsrpt: the daily aggregate TLS report (see tlsrpt.h).
 */
#include "smtp/tlsrpt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "smtp/bounce.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/relaytls.h"

void
tlsrpt_json_string(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			buf_printf(out, "\\u%04x", *p);
		else
			buf_putc(out, (char)*p);
	}
	buf_putc(out, '"');
}

/* A policy's text as the array of its lines (§4.4 "policy-string"). */
static void
lines_array(struct buf *out, const char *text)
{
	buf_putc(out, '[');
	bool first = true;
	const char *p = text;
	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n");
		if (n > 0) {
			char *line = xstrndup(p, n);
			if (!first)
				buf_putc(out, ',');
			tlsrpt_json_string(out, line);
			free(line);
			first = false;
		}
		p += n;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	buf_putc(out, ']');
}

/* The "mx" values of an MTA-STS policy text (§4.4 "mx-host"). */
static void
mx_array(struct buf *out, const char *text)
{
	buf_putc(out, '[');
	bool first = true;
	const char *p = text;
	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n");
		if (n > 3 && strncmp(p, "mx:", 3) == 0) {
			const char *v = p + 3;
			while (*v == ' ' || *v == '\t')
				v++;
			char *mx = xstrndup(v, n - (size_t)(v - p));
			if (!first)
				buf_putc(out, ',');
			tlsrpt_json_string(out, mx);
			free(mx);
			first = false;
		}
		p += n;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	buf_putc(out, ']');
}

/* Whether counters a and b belong to the same policy entry. */
static bool
same_policy(const struct relaytls_count *a, const struct relaytls_count *b)
{
	if (strcmp(a->policy_type, b->policy_type) != 0 ||
	    strcmp(a->policy_string, b->policy_string) != 0)
		return false;
	/* a TLSA policy is that of one MX host (its TLSA base domain) */
	return strcmp(a->policy_type, "tlsa") != 0 || strcmp(a->mx_host, b->mx_host) == 0;
}

int
tlsrpt_build(struct store *st, const char *org, const char *day, const char *domain,
	     struct buf *out, const char **error_r)
{
	struct relaytls_count *c = NULL;
	size_t n = 0;
	if (relaytls_counts(st, day, domain, &c, &n, error_r) != STORE_OK)
		return -1;
	if (n == 0)
		return 1;
	buf_puts(out, "{\"organization-name\":");
	tlsrpt_json_string(out, org);
	buf_printf(out, ",\"date-range\":{\"start-datetime\":\"%sT00:00:00Z\","
		   "\"end-datetime\":\"%sT23:59:59Z\"},\"contact-info\":", day, day);
	char *contact = xasprintf("postmaster@%s", org);
	tlsrpt_json_string(out, contact);
	free(contact);
	char *id = xasprintf("%s.%s@%s", day, domain, org);
	buf_puts(out, ",\"report-id\":");
	tlsrpt_json_string(out, id);
	free(id);
	buf_puts(out, ",\"policies\":[");
	/* the counters come ordered by policy: each run is one entry, taken
	 * in order; a run may come back later (tlsa by host), so mark done */
	bool *done = xcalloc(n, sizeof *done);
	bool first_policy = true;
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		int64_t ok = 0, failed = 0;
		for (size_t k = i; k < n; k++) {
			if (done[k] || !same_policy(&c[i], &c[k]))
				continue;
			if (strcmp(c[k].result, "success") == 0)
				ok += c[k].count;
			else
				failed += c[k].count;
		}
		if (!first_policy)
			buf_putc(out, ',');
		first_policy = false;
		buf_puts(out, "{\"policy\":{\"policy-type\":");
		tlsrpt_json_string(out, c[i].policy_type);
		if (strcmp(c[i].policy_type, "no-policy-found") != 0) {
			buf_puts(out, ",\"policy-string\":");
			lines_array(out, c[i].policy_string);
		}
		buf_puts(out, ",\"policy-domain\":");
		tlsrpt_json_string(out, strcmp(c[i].policy_type, "tlsa") == 0 &&
				   c[i].mx_host[0] != '\0' ? c[i].mx_host : domain);
		if (strcmp(c[i].policy_type, "sts") == 0) {
			buf_puts(out, ",\"mx-host\":");
			mx_array(out, c[i].policy_string);
		}
		buf_printf(out, "},\"summary\":{\"total-successful-session-count\":%lld,"
			   "\"total-failure-session-count\":%lld}", (long long)ok,
			   (long long)failed);
		bool first_detail = true;
		for (size_t k = i; k < n; k++) {
			if (done[k] || !same_policy(&c[i], &c[k]))
				continue;
			done[k] = true;
			if (strcmp(c[k].result, "success") == 0)
				continue;
			buf_puts(out, first_detail ? ",\"failure-details\":[" : ",");
			first_detail = false;
			buf_puts(out, "{\"result-type\":");
			tlsrpt_json_string(out, c[k].result);
			if (c[k].receiving_ip[0] != '\0') {
				buf_puts(out, ",\"receiving-ip\":");
				tlsrpt_json_string(out, c[k].receiving_ip);
			}
			if (c[k].mx_host[0] != '\0') {
				buf_puts(out, ",\"receiving-mx-hostname\":");
				tlsrpt_json_string(out, c[k].mx_host);
			}
			buf_printf(out, ",\"failed-session-count\":%lld", (long long)c[k].count);
			if (c[k].detail[0] != '\0') {
				buf_puts(out, ",\"failure-reason-code\":");
				tlsrpt_json_string(out, c[k].detail);
			}
			buf_putc(out, '}');
		}
		if (!first_detail)
			buf_putc(out, ']');
		buf_putc(out, '}');
	}
	buf_puts(out, "]}\n");
	free(done);
	relaytls_counts_free(&c, n);
	return 0;
}

/* ---- sending -------------------------------------------------------------- */

/* The mailto: addresses of the domain's TLSRPTv1 record (RFC 8460 §3:
 * rua = 1*(URI), comma separated), as one malloc'd list (NULL: none), and
 * its https: URIs as another. */
static char **
rua_addresses(struct dns_resolver *dns, const char *domain, size_t *n_r, char **rua_r,
	      char ***https_r, size_t *n_https_r)
{
	char *name = xasprintf("_smtp._tls.%s", domain);
	struct dns_answer ans;
	int ret = dns_query(dns, name, DNS_T_TXT, &ans);
	free(name);
	char **list = NULL;
	*n_r = 0;
	*rua_r = NULL;
	*https_r = NULL;
	*n_https_r = 0;
	for (size_t i = 0; ret == DNS_OK && i < ans.n && *rua_r == NULL; i++) {
		const char *t = ans.rr[i].text;
		if (strncmp(t, "v=TLSRPTv1", 10) != 0)
			continue;
		const char *r = strstr(t, "rua=");
		if (r == NULL)
			continue;
		r += 4;
		size_t len = strcspn(r, ";");
		*rua_r = xstrndup(r, len);
		char *copy = xstrndup(r, len), *save = NULL;
		for (char *u = strtok_r(copy, ", \t", &save); u != NULL;
		     u = strtok_r(NULL, ", \t", &save)) {
			if (strncasecmp(u, "https://", 8) == 0) {
				/* §5.4: POSTed (smtp/tlsrpt_post.c) */
				*https_r = xreallocarray(*https_r, *n_https_r + 1, sizeof **https_r);
				(*https_r)[(*n_https_r)++] = xstrdup(u);
				continue;
			}
			if (strncasecmp(u, "mailto:", 7) != 0 || strchr(u + 7, '@') == NULL)
				continue;
			char *addr = xstrdup(u + 7);
			addr[strcspn(addr, "?")] = '\0';	/* RFC 6068 fields */
			list = xreallocarray(list, *n_r + 1, sizeof *list);
			list[(*n_r)++] = addr;
		}
		free(copy);
	}
	dns_answer_free(&ans);
	return list;
}

/* RFC 8460 §5.3: the report as a message to rua. */
static void
report_message(const char *org, const char *domain, const char *day, const char *rua,
	       const struct buf *json, struct buf *out)
{
	int64_t now = time(NULL);
	struct buf date = BUF_INIT;
	bounce_date(now, &date);
	char *id = xasprintf("%s.%s@%s", day, domain, org);
	buf_printf(out, "From: TLS reporting <postmaster@%s>\r\nTo: <%s>\r\n"
		   "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		   "Date: %s\r\nMessage-ID: <tlsrpt.%s>\r\n"
		   "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
		   " boundary=\"tlsrpt-%s\"\r\n\r\n"
		   "--tlsrpt-%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		   "This is an aggregate TLS report (RFC 8460) from %s about the\r\n"
		   "sessions with the mail servers of %s on %s (UTC).\r\n\r\n"
		   "--tlsrpt-%s\r\nContent-Type: application/tlsrpt+json\r\n"
		   "Content-Transfer-Encoding: base64\r\n"
		   "Content-Disposition: attachment;\r\n"
		   " filename=\"%s!%s!%sT00:00:00Z!%sT23:59:59Z.json\"\r\n\r\n",
		   org, rua, domain, org, id, buf_cstr(&date), id, domain, org, day, day, org,
		   domain, day, day, org, domain, day, day);
	/* RFC 2045 §6.8: lines of at most 76 characters */
	for (size_t pos = 0; pos < json->len; pos += 57) {
		size_t n = json->len - pos < 57 ? json->len - pos : 57;
		base64_encode(out, json->data + pos, n);
		buf_puts(out, "\r\n");
	}
	buf_printf(out, "\r\n--tlsrpt-%s--\r\n", day);
	free(id);
	buf_free(&date);
}

/* Stores msg and queues it to addr from the null reverse-path. */
static int
queue_report(struct store *st, const char *qid, const char *addr, const struct buf *msg,
	     const char **error_r)
{
	char hash[SHA256_HEX_LEN + 1];
	struct blob_writer *w = NULL;
	if (blob_writer_new(st, 0, &w, error_r) != STORE_OK ||
	    blob_write(w, msg->data, msg->len, error_r) != STORE_OK ||
	    blob_writer_place(w, hash, NULL, error_r) != STORE_OK) {
		blob_writer_abort(&w);
		return -1;
	}
	struct store_queue_message m = {
		.qid = (char *)qid, .size = msg->len, .sender = (char *)"",
	};
	memcpy(m.blob, hash, sizeof hash);
	struct store_queue_recipient q = {
		.address = (char *)addr, .notify = STORE_QUEUE_NOTIFY_NEVER,
		.state = STORE_QUEUE_PENDING,
	};
	int ret = store_queue_add(st, &m, &q, 1, NULL, error_r);
	if (ret == STORE_OK)
		blob_writer_release(&w);
	else
		blob_writer_abort(&w);
	return ret == STORE_OK ? 0 : -1;
}

unsigned
tlsrpt_send_due(struct store *st, struct dns_resolver *dns, const char *org,
		const char *day)
{
	char **domains = NULL;
	size_t n = 0;
	const char *error;
	unsigned sent = 0;
	if (relaytls_report_due(st, day, &domains, &n, &error) != STORE_OK) {
		log_error("tlsrpt cannot read the reports due: %s", error);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t n_rua = 0, n_https = 0;
		char *rua = NULL;
		char **https = NULL;
		char **to = rua_addresses(dns, domains[i], &n_rua, &rua, &https, &n_https);
		struct buf json = BUF_INIT;
		bool ok = true;
		if (n_rua + n_https > 0 &&
		    tlsrpt_build(st, org, day, domains[i], &json, &error) == 0) {
			for (size_t k = 0; k < n_https; k++) {
				/* §5.4: POSTed by tlsrpt_post_due(), retried there */
				if (relaytls_post_add(st, day, domains[i], https[k], buf_cstr(&json),
						      time(NULL), &error) != STORE_OK) {
					log_error("tlsrpt domain=%s to=%s: %s", domains[i],
						  esc_str(https[k]), error);
					ok = false;
				} else {
					log_info("tlsrpt day=%s domain=%s to=%s owed", day,
						 domains[i], esc_str(https[k]));
					sent++;
				}
			}
			for (size_t k = 0; k < n_rua; k++) {
				struct buf msg = BUF_INIT;
				report_message(org, domains[i], day, to[k], &json, &msg);
				char *qid = xasprintf("tlsrpt-%s-%zu", day, i);
				if (queue_report(st, qid, to[k], &msg, &error) < 0) {
					log_error("tlsrpt domain=%s to=%s: %s", domains[i],
						  esc_str(to[k]), error);
					ok = false;
				} else {
					log_info("tlsrpt day=%s domain=%s to=%s queued", day,
						 domains[i], esc_str(to[k]));
					sent++;
				}
				free(qid);
				buf_free(&msg);
			}
		}
		if (ok && relaytls_report_done(st, day, domains[i], rua, time(NULL),
					       &error) != STORE_OK)
			log_error("tlsrpt domain=%s: %s", domains[i], error);
		buf_free(&json);
		free(rua);
		for (size_t k = 0; k < n_rua; k++)
			free(to[k]);
		free(to);
		for (size_t k = 0; k < n_https; k++)
			free(https[k]);
		free(https);
	}
	for (size_t i = 0; i < n; i++)
		free(domains[i]);
	free(domains);
	return sent;
}
