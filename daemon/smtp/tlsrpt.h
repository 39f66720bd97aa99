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

/* Pure: s as a JSON string (quotes included) onto out. */
void tlsrpt_json_string(struct buf *out, const char *s);

#endif
