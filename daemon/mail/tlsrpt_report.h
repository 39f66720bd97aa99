/*
 * tlsrpt_report: SMTP TLS reports (RFC 8460) that other servers send about
 * mail to our domains, the receiving side: a pure parser over bytes.
 *
 * A report arrives as JSON (application/tlsrpt+json) or gzip-compressed
 * JSON (application/tlsrpt+gzip, RFC 8460 §5.2/§5.3); tlsrpt_report_decode()
 * takes either, inflates with a bound on the output, and reads the §4.4
 * fields: organization-name, date-range, contact-info, report-id, and per
 * policy its type, domain, MX hosts, success and failure counts and failure
 * details.  Every text is reduced to printable ASCII and cut to
 * TLSRPT_TEXT_MAX bytes; every count is an integer from 0 to 2^53.
 */
#ifndef MAILHUB_MAIL_TLSRPT_REPORT_H
#define MAILHUB_MAIL_TLSRPT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define TLSRPT_REPORT_MAX (4u * 1024 * 1024)	/* JSON bytes, inflated */
#define TLSRPT_POLICIES_MAX 256
#define TLSRPT_FAILURES_MAX 64	/* failure details kept per policy */
#define TLSRPT_TEXT_MAX 255

struct tlsrpt_failure {
	char *result_type;	/* "certificate-expired"... (§4.3) */
	char *receiving_mx;	/* receiving-mx-hostname, or NULL */
	char *receiving_ip;	/* or NULL */
	uint64_t count;		/* failed-session-count */
};

struct tlsrpt_policy {
	char *type;		/* "tlsa", "sts" or "no-policy-found" */
	char *domain;		/* policy-domain */
	char *mx_host;		/* the mx-host entries joined with ", ", or NULL */
	uint64_t success, failure;	/* total-*-session-count */
	struct tlsrpt_failure *failures;
	size_t n_failures;
};

struct tlsrpt_report {
	char *org;		/* organization-name */
	char *contact;		/* contact-info */
	char *report_id;
	char *start, *end;	/* date-range, RFC 3339 as sent */
	struct tlsrpt_policy *policies;
	size_t n_policies;
};

/*
 * Parses a report: data[0..len) is JSON, or gzip of JSON (told by its
 * magic bytes).  0 with *r filled (the caller clears it), or -1 with
 * *error_r in plain words; *r is cleared on failure.
 */
int tlsrpt_report_decode(const void *data, size_t len, struct tlsrpt_report *r,
			 const char **error_r);

/* The JSON alone (json[0..len), not NUL-terminated). */
int tlsrpt_report_parse(const char *json, size_t len, struct tlsrpt_report *r,
			const char **error_r);

/* Inflates gzip data into out (appended), at most max bytes of it.  0, or
 * -1 with *error_r (not gzip, corrupt, truncated, or larger than max). */
int tlsrpt_gunzip(const void *data, size_t len, size_t max, struct buf *out,
		  const char **error_r);

void tlsrpt_report_clear(struct tlsrpt_report *r);

#endif
