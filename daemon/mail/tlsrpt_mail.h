/*
 * tlsrpt_mail: an SMTP TLS report (RFC 8460) that came as a message, the
 * pure part: whether a message says it is one, and its report part.
 *
 * RFC 8460 §5.3: a report sent by mail is a multipart/report with
 * report-type="tlsrpt", carries TLS-Report-Domain and TLS-Report-Submitter
 * header fields, and holds the report in an application/tlsrpt+gzip or
 * application/tlsrpt+json part (§6.4, §6.5), usually base64.  The report
 * itself is read by tlsrpt_report_decode() (mail/tlsrpt_report.h).
 */
#ifndef MAILHUB_MAIL_TLSRPT_MAIL_H
#define MAILHUB_MAIL_TLSRPT_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "mail/tlsrpt_report.h"

/* The most bytes of a message read to find a report in it (a report of
 * TLSRPT_REPORT_MAX bytes of JSON, base64-encoded, with room around it). */
#define TLSRPT_MAIL_MAX (6u * 1024 * 1024)

/*
 * Whether the header block hdr[0..len) announces a TLS report: a
 * TLS-Report-Domain field, a Content-Type multipart/report with
 * report-type=tlsrpt, or the report's own media type at the top.
 * Messages that do not are never looked into.
 */
bool tlsrpt_mail_announced(const char *hdr, size_t len);

/*
 * Finds the report part of the message msg[0..len): the first part (depth
 * first, the message itself included) of type application/tlsrpt+gzip or
 * application/tlsrpt+json, and appends its body, with its transfer
 * encoding (base64, quoted-printable, 7bit, 8bit, binary) undone, to out
 * (at most TLSRPT_MAIL_MAX bytes).  1 when found, 0 when there is no such
 * part, -1 with *error_r in plain words (an unknown transfer encoding, an
 * empty or oversized part).
 */
int tlsrpt_mail_part(const char *msg, size_t len, struct buf *out, const char **error_r);

/* The domain of the From field's one address (lowercase, malloc'd), the
 * reporting domain whose DKIM signature a report by mail must carry (RFC
 * 8460 §3); NULL when there is not exactly one From field with one
 * address. */
char *tlsrpt_mail_from_domain(const char *hdr, size_t len);

/*
 * Both, then the report: 1 with *r filled (the caller clears it), 0 when
 * the message holds no report part, -1 with *error_r (the part, or the
 * report in it, is not valid).  *r is cleared unless 1.
 */
int tlsrpt_mail_decode(const char *msg, size_t len, struct tlsrpt_report *r,
		       const char **error_r);

#endif
