/*
 * tlsrpt: the daily aggregate TLS report (see tlsrpt.h).
 */
#include "smtp/tlsrpt.h"

#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
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
