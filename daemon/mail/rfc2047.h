/*
 * rfc2047: decoding of MIME encoded-words in headers (RFC 2047, with the
 * RFC 2231 §5 language suffix), and the conversion of common charsets to
 * UTF-8 that it and the SEARCH text extraction share.  Also the two MIME
 * transfer decodings (base64 and quoted-printable, RFC 2045 §6.7-6.8) in
 * their forgiving forms: real mail breaks both.
 *
 * Known charsets: utf-8, us-ascii, iso-8859-1, iso-8859-15, windows-1252
 * (with their usual aliases).  Invalid UTF-8 in "utf-8" or "us-ascii" text
 * is read as windows-1252, the usual mislabel, so the output is always valid
 * UTF-8.
 */
#ifndef MAILHUB_MAIL_RFC2047_H
#define MAILHUB_MAIL_RFC2047_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* True when charset (case-insensitive) is one charset_to_utf8 knows. */
bool charset_is_known(const char *charset);

/* Appends p[0..n) in charset converted to UTF-8.  1: done; 0: unknown
 * charset (nothing appended); -1: out is full. */
int charset_to_utf8(struct buf *out, const char *charset, const void *p,
		    size_t n);

/*
 * Appends the header value s[0..n) with its encoded-words decoded to UTF-8
 * and its folding removed (CR and LF dropped).  White space between two
 * adjacent encoded-words is dropped (RFC 2047 §6.2); words in unknown
 * charsets, and malformed ones, are left as they are.  Text outside words is
 * taken as UTF-8 (invalid bytes as windows-1252).  0, or -1 when out is full.
 */
int rfc2047_decode(struct buf *out, const char *s, size_t n);

/* Appends the base64 decoding of s[0..n), skipping any byte outside the
 * alphabet and stopping at the first '='.  0, or -1 when out is full. */
int mime_base64_decode(struct buf *out, const char *s, size_t n);
/* Appends the quoted-printable decoding of s[0..n): "=XX" decoded, soft line
 * breaks "=\r\n" removed, trailing white space before a line end dropped
 * (RFC 2045 §6.7 rule 3); a malformed '=' is kept as it is.  With
 * underscore (RFC 2047 "Q"), '_' is a space.  0, or -1 when out is full. */
int mime_qp_decode(struct buf *out, const char *s, size_t n, bool underscore);

#endif
