/*
 * maildir_form: a mailbox in Dovecot's Maildir form, the one layout that
 * `mailhub export ADDRESS maildir` writes to disk and the panel's download
 * (GET /api/v1/users/{address}/download) puts in a tar, byte for byte the
 * same:
 *   cur/DATE.MUIDP0.mailhub,S=SIZE,W=VSIZE:2,FLAGS   each message, LF line
 *                        ends, its internal date as mtime, its keywords
 *                        as letters a-z after the flags
 *   dovecot-uidlist      "3 VUIDVALIDITY NUIDNEXT" and "UID :BASE" lines
 *   dovecot-keywords     "N NAME" for the folder's first 26 keywords
 *                        (Maildir has no letters for more); none without
 * so that Dovecot serves it with the same UIDs, flags and keywords.  The
 * folder's directory name is imap_maildirpp_dir() (imap/utf7.h).
 */
#ifndef MAILHUB_STORE_MAILDIR_FORM_H
#define MAILHUB_STORE_MAILDIR_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

#define MAILDIR_KEYWORDS_MAX 26

/* A folder's keyword letters: names[i] is letter 'a' + i. */
struct maildir_keywords {
	char *names[MAILDIR_KEYWORDS_MAX];
	size_t n;
};

/* The folder's first 26 keywords, in the order first seen in msgs. */
void maildir_keywords_of(const struct store_message *msgs, size_t n,
			 struct maildir_keywords *kw);
void maildir_keywords_clear(struct maildir_keywords *kw);
/* The text of dovecot-keywords into out (reset); empty when kw has none. */
void maildir_keywords_file(const struct maildir_keywords *kw, struct buf *out);

/* The first line of dovecot-uidlist into out (reset). */
void maildir_uidlist_start(const struct store_mailbox *mb, struct buf *out);

/*
 * One message in the form: its bytes with LF line ends into *lf (raw is
 * scratch for the stored bytes), its file name in cur/ into *name (reset)
 * and its line of dovecot-uidlist appended to *uidlist.  STORE_OK, or a
 * store error with *error_r.
 */
int maildir_message(struct store *st, const struct store_message *m,
		    const struct maildir_keywords *kw, struct buf *raw, struct buf *lf,
		    struct buf *name, struct buf *uidlist, const char **error_r);

#endif
