/*
 * imapquote: writing strings in IMAP's response grammar (RFC 3501 §4.3, §9):
 * NIL, quoted strings, and literals for anything a quoted string cannot carry
 * (CR, LF, NUL, 8-bit bytes).  Used for ENVELOPE and BODYSTRUCTURE here and
 * by the IMAP server for its own responses.
 *
 * The choices follow Dovecot 2.3 (lib-imap/imap-quote.c) so that cached
 * ENVELOPE and BODYSTRUCTURE strings are byte for byte what Dovecot sends:
 * a string is quoted unless it holds CR, LF, NUL or an 8-bit byte, or more
 * than four quoted-specials ('"' and '\\', which cost a backslash each);
 * then it is a literal {n}\r\n... .  There is no length limit for quoting.
 *
 * NUL cannot be sent in IMAP4rev1 strings at all (RFC 3501 §4.3: CHAR8
 * excludes it); these functions write it as the byte 0x80 in a literal.
 *
 * The functions return nothing: they append to out, and an append that does
 * not fit out's maximum is dropped, so give them buffers without a limit
 * (or check out->len against the limit before sending).
 */
#ifndef MAILHUB_MAIL_IMAPQUOTE_H
#define MAILHUB_MAIL_IMAPQUOTE_H

#include <stddef.h>

#include "core/buf.h"

/* A string: quoted when every byte is allowed in a quoted string (7-bit,
 * no CR/LF/NUL, at most four '"' or '\\'); otherwise a literal {n}\r\n... */
void imap_append_string(struct buf *out, const char *s, size_t n);
/* NIL when s is NULL, else imap_append_string. */
void imap_append_nstring(struct buf *out, const char *s, size_t n);
/* An astring: an atom when s is a non-empty atom (and not "NIL"), else a
 * string. */
void imap_append_astring(struct buf *out, const char *s, size_t n);
/* Like imap_append_nstring, but CR and LF are dropped first; a line break
 * not followed by white space becomes one space (Dovecot's
 * imap_append_nstring_nolf, used for Content-ID, -Description, -MD5 and
 * -Location in BODYSTRUCTURE). */
void imap_append_nstring_nolf(struct buf *out, const char *s, size_t n);
/* A string cleaned for humans (Dovecot's imap_append_string_for_humans,
 * used for the subject and display names in ENVELOPE): runs of white space
 * (SP, TAB, CR, LF) become one space, leading and trailing white space go,
 * NUL becomes 0x80.  Written quoted when nothing had to change and nothing
 * needs escaping; otherwise as a literal. */
void imap_append_string_for_humans(struct buf *out, const char *s, size_t n);

#endif
