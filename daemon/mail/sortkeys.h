/*
 * sortkeys: what SORT (RFC 5256, RFC 5957), THREAD and the full-text
 * index of SEARCH need of a message, computed once from its bytes (at
 * delivery, or the first time a message stored before is sorted) so that
 * those commands read a row instead of parsing the file.
 */
#ifndef MAILHUB_MAIL_SORTKEYS_H
#define MAILHUB_MAIL_SORTKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mail/basesubject.h"
#include "mail/mime.h"
#include "mail/searchfields.h"

/* Decoded text that SEARCH TEXT looks at, per message (before folding). */
#define MAIL_SEARCH_TEXT_MAX (8u * 1024 * 1024)

struct mail_sortkeys {
	bool has_date;		/* a Date: that parses to a non-zero time */
	int64_t sent_date;	/* UTC seconds */
	char *subject;		/* base subject (mail/basesubject.h) */
	bool reply;		/* ...which said reply or forward */
	/* RFC 5256 §3: the addr-mailbox of the first address; RFC 5957: its
	 * display name, or the address when it has none; all case-mapped as
	 * the base subject is, "" when there is none */
	char *from, *to, *cc, *display_from, *display_to;
	char *message_id;	/* the first valid id, or NULL */
	char *refs;		/* References ids (or In-Reply-To's first),
				 * space-separated, or NULL */
	/* the case-folded text of SEARCH TEXT (mail_search_text_folded()),
	 * or NULL when not asked for or when it holds a NUL byte (which the
	 * index cannot hold: such a message is searched by reading it) */
	char *text;
	size_t text_len;
	/* with the text: what SEARCH SUBJECT, FROM, TO, CC, BCC and BODY
	 * compare with (mail_search_fields()), NULL without it */
	char *fields[MAIL_SEARCH_FIELDS];
	size_t fields_len[MAIL_SEARCH_FIELDS];
	/* with the text: the PREVIEW (RFC 8970), stored by the indexer */
	char *preview;
};

/* Computes the keys of msg[0..len); the text, fields and preview only
 * when with_text. */
struct mail_sortkeys *mail_sortkeys_compute(const char *msg, size_t len,
					    bool with_text);
void mail_sortkeys_free(struct mail_sortkeys **k);

/* Appends the case-folded decoded text that SEARCH TEXT looks for
 * substrings in (mime_search_text(), at most MAIL_SEARCH_TEXT_MAX bytes
 * before folding).  SEARCH and the index both take it from here. */
void mail_search_text_folded(struct buf *out, const char *msg,
			     const struct mime_part *root);

/* Appends the valid message ids of a Message-ID, In-Reply-To or
 * References value, space-separated, at most max of them (0: no limit):
 * "<" id-left "@" id-right ">" without the angle brackets and white
 * space, as Dovecot compares them.  Returns how many. */
size_t mail_msgids(struct buf *out, const char *value, size_t len, size_t max);

#endif
