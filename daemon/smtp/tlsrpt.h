/*
 * tlsrpt: SMTP TLS reporting (RFC 8460), the sending side.
 *
 * The relay counts each session's TLS outcome per day and recipient domain
 * (store/relaytls.h); tlsrpt_build() turns one day's counters for one
 * domain into the aggregate report of §4.4 (JSON: organization, date
 * range, one entry per policy with its success and failure counts and the
 * failure details).
 */
#ifndef MAILHUB_SMTP_TLSRPT_H
#define MAILHUB_SMTP_TLSRPT_H

#include "core/buf.h"

struct store;

/* The report of day ("YYYY-MM-DD", UTC) for domain into out, as the
 * reporting organization org (our hostname).  0, or -1 with *error_r;
 * STORE_NOTFOUND-like 1 when there is nothing to report. */
int tlsrpt_build(struct store *st, const char *org, const char *day, const char *domain,
		 struct buf *out, const char **error_r);

struct dns_resolver;

/*
 * Sends the reports owed for day: for each domain the relay had sessions
 * with that day and has not reported on yet, the domain's _smtp._tls TXT
 * record (RFC 8460 §3: "v=TLSRPTv1; rua=...") names where; each mailto:
 * address is sent the report as a message (§5.3: multipart/report;
 * report-type="tlsrpt" with an application/tlsrpt+json part), queued from
 * the null reverse-path; to each https: URI it is owed as a POST (§5.4,
 * made and retried by smtp/tlsrpt_post.h).  A domain that asks for none is
 * noted as done.  Returns how many reports were queued or owed.
 */
unsigned tlsrpt_send_due(struct store *st, struct dns_resolver *dns, const char *org,
			 const char *day);

/* Pure: s as a JSON string (quotes included) onto out. */
void tlsrpt_json_string(struct buf *out, const char *s);

#endif
