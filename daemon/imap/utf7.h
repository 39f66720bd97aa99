/*
 * utf7: mailbox names in modified UTF-7 (RFC 3501 §5.1.3).
 *
 * The store keeps mailbox names in UTF-8; on the wire they are modified
 * UTF-7: printable ASCII stands for itself ('&' as "&-"), everything else
 * is UTF-16 in a modified base64 ("+" and "," as the last two digits)
 * between '&' and '-'.  Decoding is strict (the canonical encoding only),
 * so one mailbox has exactly one wire name.
 */
#ifndef MAILHUB_IMAP_UTF7_H
#define MAILHUB_IMAP_UTF7_H

#include <stddef.h>

#include "core/buf.h"

/* Appends the modified UTF-7 form of the UTF-8 text in[0..n) to out;
 * 0, or -1 when in is not valid UTF-8 (or out is full). */
int imap_utf8_to_mutf7(const char *in, size_t n, struct buf *out);
/* Appends the UTF-8 form of the modified UTF-7 text in[0..n) to out;
 * 0, or -1 when in is not canonical modified UTF-7 (or out is full). */
int imap_mutf7_to_utf8(const char *in, size_t n, struct buf *out);
/* Appends the Maildir++ folder name of mailbox name (UTF-8, '/' between
 * levels) to out, as Dovecot lays folders out on disk: nothing for INBOX,
 * else ".A.B", each level in modified UTF-7 and a '.' inside a level made
 * '_' (`mailhub export` and the panel's download). */
void imap_maildirpp_dir(const char *name, struct buf *out);

#endif
