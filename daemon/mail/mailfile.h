/*
 * mailfile: the on-disk forms other mail servers keep mail in, as pure
 * parsers over buffers (what `mailhub import` and `export` read and write).
 *
 * Maildir (maildir.org; Dovecot's and Courier's Maildir++): a message file
 * is named "UNIQUE:2,FLAGS", where FLAGS are letters in ASCII order
 * (D draft, F flagged, P passed, R replied, S seen, T trashed) and, in
 * Dovecot's, lowercase letters a-z for the keywords that the folder's
 * dovecot-keywords file numbers 0-25.  Dovecot's dovecot-uidlist gives
 * each file its IMAP UID and the folder its UIDVALIDITY and next UID.
 *
 * mbox (RFC 4155): messages one after another, each starting with a
 * "From SENDER DATE" line; a body line that would look like one is
 * escaped with '>' (mboxrd: any number of '>' before "From " gets one
 * more; mboxo: only "From " itself, so that unescaping is ambiguous and
 * mboxrd's rule is the one read).  Mutt, Pine and Dovecot keep the flags
 * in Status: (R read, O old) and X-Status: (A answered, F flagged, T
 * draft, D deleted) header fields.
 */
#ifndef MAILHUB_MAIL_MAILFILE_H
#define MAILHUB_MAIL_MAILFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* The system flags, as the store numbers them (store.h enum store_flag). */
#define MAILFILE_SEEN (1u << 0)
#define MAILFILE_ANSWERED (1u << 1)
#define MAILFILE_FLAGGED (1u << 2)
#define MAILFILE_DELETED (1u << 3)
#define MAILFILE_DRAFT (1u << 4)

/* ---- Maildir ---------------------------------------------------------- */

/* The unique part of a Maildir file name: its length up to the ':' (or
 * the '!' some systems write instead) that starts the info, or all of it. */
size_t maildir_base_len(const char *name, size_t len);
/* The flags of a file name "UNIQUE:2,FLAGS": system flags returned, the
 * keyword letters a-z as bits 0-25 in *keywords_r.  A name without
 * ":2," has none. */
unsigned maildir_name_flags(const char *name, size_t len, uint32_t *keywords_r);
/* The info for flags and keyword bits, ":2,DFRST" with the keyword
 * letters after them (ASCII order), into out (cleared first). */
void maildir_info(unsigned flags, uint32_t keywords, struct buf *out);

/* The first line of dovecot-uidlist: version 3 "3 V1234 N56 G..." or
 * version 1 "1 1234 56".  0, or -1 when it is neither. */
int dovecot_uidlist_header(const char *line, size_t len, uint32_t *uidvalidity_r,
			   uint32_t *next_uid_r);
/* One entry: "UID [EXT...] :FILENAME" (version 3) or "UID FILENAME"
 * (version 1): the UID and the file name's unique part (maildir_base_len)
 * as a pointer into line.  0, or -1 when malformed. */
int dovecot_uidlist_entry(const char *line, size_t len, uint32_t *uid_r,
			  const char **base_r, size_t *base_len_r);
/* One line of dovecot-keywords, "N KEYWORD" with N 0-25: 0, or -1. */
int dovecot_keywords_line(const char *line, size_t len, unsigned *index_r,
			  const char **keyword_r, size_t *keyword_len_r);

/* ---- mbox ------------------------------------------------------------- */

/* Whether a line (without its line end) starts a message: "From ". */
bool mbox_is_from_line(const char *line, size_t len);
/* The date of a "From SENDER DATE" line, in asctime(3) form
 * ("Fri Jul  8 12:08:34 2011", a zone may follow the time or the year),
 * as UTC when no zone is given.  0, or -1 when there is none. */
int mbox_from_date(const char *line, size_t len, time_t *t_r);
/* How many bytes an escaped body line loses when read (mboxrd): 1 for
 * ">From ", ">>From "..., else 0. */
size_t mbox_unescape_len(const char *line, size_t len);
/* Whether a body line needs a '>' in front when written (mboxrd). */
bool mbox_needs_escape(const char *line, size_t len);
/* The flags of a Status: value (x_status false) or X-Status: value. */
unsigned mbox_status_flags(const char *value, size_t len, bool x_status);
/* Whether a header field name is one that mbox servers keep their state
 * in and never show (Dovecot's list): Content-Length, Status, X-IMAP,
 * X-IMAPbase, X-Keywords, X-Status, X-UID. */
bool mbox_state_field(const char *name, size_t len);
/* The "From " line of a message written at t, by sender ("MAILER-DAEMON"
 * when NULL or empty), into out (cleared first), ending in "\n". */
void mbox_from_line(const char *sender, time_t t, struct buf *out);

#endif
