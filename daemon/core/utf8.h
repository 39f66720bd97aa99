/*
 * utf8: decoding and encoding of UTF-8 (RFC 3629), pure functions over
 * buffers, the one copy that SMTPUTF8 addresses, RFC 2047 words, IMAP
 * mailbox names and SEARCH case folding share.
 *
 * Decoding is strict, as RFC 3629 §3 requires of a decoder and §10 asks for
 * security's sake: only the shortest form of a scalar value is taken, so
 * overlong forms (C0 80 for NUL, E0 80 AF for "/"), UTF-16 surrogates
 * (U+D800..U+DFFF, ED A0..ED BF), anything past U+10FFFF (F4 90 and up,
 * F5..FF), stray continuation bytes (80..BF first) and sequences cut short
 * are all refused.  §4 gives the byte ranges this follows:
 *
 *	U+0000..U+007F     00..7F
 *	U+0080..U+07FF     C2..DF 80..BF
 *	U+0800..U+0FFF     E0     A0..BF 80..BF
 *	U+1000..U+CFFF     E1..EC 80..BF 80..BF
 *	U+D000..U+D7FF     ED     80..9F 80..BF
 *	U+E000..U+FFFF     EE..EF 80..BF 80..BF
 *	U+10000..U+3FFFF   F0     90..BF 80..BF 80..BF
 *	U+40000..U+FFFFF   F1..F3 80..BF 80..BF 80..BF
 *	U+100000..U+10FFFF F4     80..8F 80..BF 80..BF
 *
 * utf8_decode() and utf8_encode() are inline: case folding calls them once
 * per character of every message SEARCH reads.
 */
#ifndef MAILHUB_CORE_UTF8_H
#define MAILHUB_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The longest UTF-8 sequence, in bytes (RFC 3629 §3). */
#define UTF8_SEQ_MAX 4
/* U+FFFD REPLACEMENT CHARACTER, which utf8_encode() writes for a value
 * that is not a scalar value. */
#define UTF8_REPLACEMENT 0xfffdu

/* Whether cp is a Unicode scalar value: at most U+10FFFF and not a
 * surrogate, that is, a value UTF-8 may carry. */
static inline bool
utf8_is_scalar(uint32_t cp)
{
	return cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
}

/* The length (1 to 4) of the well-formed UTF-8 character that p[0..n)
 * starts with, with its scalar value in *cp_r; 0 when p[0..n) does not
 * start with one (or n is 0), and then *cp_r is left alone. */
static inline size_t
utf8_decode(const void *p, size_t n, uint32_t *cp_r)
{
	const unsigned char *s = p;
	unsigned c, lo = 0x80, hi = 0xbf;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	/* C0 and C1 could only start overlong forms of ASCII; F5..FF would
	 * be past U+10FFFF. */
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		*cp_r = ((c & 0x1fu) << 6) | (s[1] & 0x3fu);
		return 2;
	}
	/* The second byte's range shuts out what the lead byte alone cannot:
	 * overlong three- and four-byte forms, surrogates, past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < 2 || s[1] < lo || s[1] > hi)
		return 0;
	if (c < 0xf0) {
		if (n < 3 || (s[2] & 0xc0) != 0x80)
			return 0;
		*cp_r = ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) |
			(s[2] & 0x3fu);
		return 3;
	}
	if (n < 4 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
		return 0;
	*cp_r = ((c & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) |
		((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
	return 4;
}

/* The length of the well-formed UTF-8 character that p[0..n) starts with,
 * or 0: utf8_decode() for callers that only step over characters. */
static inline size_t
utf8_char_len(const void *p, size_t n)
{
	uint32_t cp;

	return utf8_decode(p, n, &cp);
}

/* Writes cp as UTF-8 to d[0..UTF8_SEQ_MAX) and returns its length (1 to 4).
 * A value that is not a scalar value (a surrogate, or past U+10FFFF) has no
 * UTF-8 form: U+FFFD is written for it, so the output is always
 * well-formed. */
static inline size_t
utf8_encode(uint32_t cp, char *d)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = UTF8_REPLACEMENT;
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Appends cp as UTF-8 to out (U+FFFD when it is not a scalar value); 0, or
 * -1 past out's maximum. */
int utf8_append(struct buf *out, uint32_t cp);

/* The length of the longest prefix of p[0..n) that is well-formed UTF-8
 * (n when all of it is): where it stops, a malformed or truncated sequence
 * begins. */
size_t utf8_valid_prefix(const void *p, size_t n);

/* Whether all of p[0..n) is well-formed UTF-8. */
bool utf8_valid(const void *p, size_t n);

#endif
