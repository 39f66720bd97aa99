/*
 * searchfields: the decoded, case-folded text that SEARCH BODY, SUBJECT,
 * FROM, TO, CC and BCC compare needles with (RFC 3501 §6.4.4).  SEARCH
 * (imap/search.c) reads it from the message when it scans, and the
 * full-text index (store/searchdb.h) stores the same text per message
 * file, so an indexed answer and a scanned one are the same by
 * construction.
 */
#ifndef MAILHUB_MAIL_SEARCHFIELDS_H
#define MAILHUB_MAIL_SEARCHFIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "mail/mime.h"

/* Decoded text of the text parts that BODY looks at, per message (before
 * folding). */
#define MAIL_SEARCH_BODY_MAX (8u * 1024 * 1024)
/* Decoded text of one header field that SUBJECT, FROM, ... look at. */
#define MAIL_SEARCH_FIELD_MAX (1u << 20)

/* The fields of the index, in its column order (sql/025). */
enum mail_search_field {
	MAIL_SEARCH_SUBJECT, MAIL_SEARCH_FROM, MAIL_SEARCH_TO, MAIL_SEARCH_CC,
	MAIL_SEARCH_BCC, MAIL_SEARCH_BODY, MAIL_SEARCH_FIELDS
};

/* The header name of a field ("Subject", "From", ...), NULL for BODY. */
const char *mail_search_field_header(enum mail_search_field f);

/* Appends the folded text of one occurrence of a header field, its value
 * unfolded and RFC 2047-decoded; for an address field (From, To, Cc,
 * Bcc) followed by "\n" and its addresses one a line, "Name <a@b>", so
 * that a whole address is found however the header spells it (as
 * Dovecot does).  SEARCH SUBJECT x holds when one occurrence's text
 * holds x. */
void mail_search_field_text(struct buf *out, const char *value, size_t len,
			    bool address);

/* Appends the folded, decoded text of the text parts (BODY): transfer
 * encodings undone, known charsets converted, each part followed by
 * "\n"; at most MAIL_SEARCH_BODY_MAX bytes before folding. */
void mail_search_body_folded(struct buf *out, const char *msg,
			     const struct mime_part *root);

/* The text the index holds per field: for a header field, the text of
 * each of its occurrences in the top header (msg[0..hdr_len)) followed
 * by "\n" (so a needle without "\n" is found in the column exactly when
 * one occurrence holds it); for BODY, mail_search_body_folded().  A NUL
 * byte (which no IMAP search string holds) becomes 0xff, which no UTF-8
 * string holds either, so that the text is one SQL value and a match is
 * still a match. */
void mail_search_fields(struct buf out[MAIL_SEARCH_FIELDS], const char *msg,
			const struct mime_part *root);

#endif
