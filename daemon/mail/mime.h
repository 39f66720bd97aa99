/*
 * mime: the MIME structure of a stored message (RFC 2045, RFC 2046) and
 * what IMAP builds from it: ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501
 * §7.4.2), the parts that FETCH BODY[section] addresses (RFC 3501 §6.4.5),
 * and the decoded text that SEARCH and the full-text index read.
 *
 * mime_parse() takes the whole message (as stored: CRLF line ends, bare LF
 * accepted) and returns a tree of parts with byte offsets into it; it never
 * fails.  Its choices follow Dovecot 2.3's lib-mail message parser so that
 * the strings built here equal Dovecot's for the same message (checked
 * byte for byte against Dovecot 2.3.19, see tests/unit/check_mail_dovecot):
 *   - a part is MIME when it has MIME-Version or Content-Type (or its parent
 *     is a multipart); otherwise its Content-* fields are ignored;
 *   - a missing Content-Type means text/plain; charset=us-ascii (RFC 2045
 *     §5.2), or message/rfc822 inside multipart/digest (RFC 2046 §5.1.5);
 *     a broken one is kept as "" "" (or "type" "" when only the subtype
 *     is missing);
 *   - a multipart without a boundary parameter is a multipart without
 *     parts (BODYSTRUCTURE shows one empty text/plain part);
 *   - a boundary line is "--" + boundary at the start of a line, with
 *     anything after it; boundaries are matched innermost first, and an
 *     outer boundary also ends the inner parts; the line end before a
 *     boundary line belongs to the boundary (RFC 2046 §5.1.1), unless the
 *     boundary is the first line after a header or another boundary line;
 *   - an unterminated multipart ends at the end of its parent;
 *   - below MIME_DEPTH_MAX levels, or past MIME_PARTS_MAX parts, multiparts
 *     and message/rfc822 parts are not opened (core/limits.h);
 *   - the ENVELOPE takes MIME_ENVELOPE_FIELD_MAX bytes of a field at most
 *     (a longer Subject is cut), and lists the addresses of the first
 *     MIME_ENVELOPE_FIELD_MAX bytes of its address fields only.
 * Sizes are octets as stored.  Dovecot counts a bare LF as two octets (its
 * "virtual" size), so the two agree for messages stored with CRLF, which is
 * how mailhub stores them.
 */
#ifndef MAILHUB_MAIL_MIME_H
#define MAILHUB_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "mail/rfc822.h"

enum mime_part_flags {
	MIME_PART_TEXT = 1 << 0,	/* text/... : has a line count */
	MIME_PART_MULTIPART = 1 << 1,	/* multipart: the children (maybe none) */
	MIME_PART_MESSAGE = 1 << 2,	/* message/rfc822: one child, the message */
	MIME_PART_DIGEST = 1 << 3,	/* multipart/digest */
	MIME_PART_IS_MIME = 1 << 4,
	MIME_PART_HAS_NULS = 1 << 5,	/* NUL bytes in header or body */
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned flags;

	size_t hdr_off, hdr_len;	/* header block, with its empty line */
	size_t body_off, body_len;	/* body, as stored */
	size_t body_lines;		/* LF count of the body */

	/* Content-* fields as written (NULL when absent or not MIME). */
	char *type, *subtype;
	struct mime_param *type_params;
	size_t type_params_count;
	char *id, *description, *encoding, *md5, *location;
	char *disposition;
	struct mime_param *disposition_params;
	size_t disposition_params_count;
	char **languages;
	size_t languages_count;
};

/* Parses msg[0..len) into a part tree; the root covers the whole message. */
struct mime_part *mime_parse(const char *msg, size_t len);
void mime_part_free(struct mime_part **root);
/* The charset parameter of a part, or NULL. */
const char *mime_part_charset(const struct mime_part *part);

/*
 * Appends the ENVELOPE of a header block (RFC 3501 §7.4.2), without the
 * outer parentheses, as Dovecot writes it: date, subject, from, sender,
 * reply-to, to, cc, bcc, in-reply-to, message-id; sender and reply-to fall
 * back to from; the last occurrence of a field counts.  0, or -1 when out
 * is full (out is unchanged then).
 */
int mime_write_envelope(struct buf *out, const char *hdr, size_t hdr_len);

/* Appends the BODYSTRUCTURE (extended) or BODY (not extended) of a part
 * tree parsed from msg, without the outer parentheses.  0, or -1 when out is
 * full (out is unchanged then). */
int mime_write_bodystructure(struct buf *out, const char *msg,
			     const struct mime_part *root, bool extended);

/*
 * The ENVELOPE and the BODYSTRUCTURE (extended) of the whole message
 * msg[0..len), without their outer parentheses, as two malloc'd strings:
 * what the store caches for FETCH.  The store computes them once per blob
 * when a message is delivered or appended (store_imap_cache_prepare());
 * FETCH only for rows that an older version stored without them.  Both
 * cost time and memory in proportion to the message: the parser's limits
 * (MIME_DEPTH_MAX, MIME_PARTS_MAX, MIME_HEADER_LINES_MAX) and
 * MIME_ENVELOPE_FIELD_MAX keep the factor small.
 */
void mime_imap_cache(const char *msg, size_t len, char **envelope_r,
		     char **bodystructure_r);

/* What of a part FETCH BODY[section] wants (RFC 3501 §6.4.5). */
enum mime_section {
	MIME_SECTION_ALL,	/* "1.2": the part's body (for a message/rfc822
				 * part: the whole embedded message) */
	MIME_SECTION_MIME,	/* "1.2.MIME": the part's own header block */
	MIME_SECTION_HEADER,	/* "HEADER", "1.2.HEADER": the message header */
	MIME_SECTION_TEXT,	/* "TEXT", "1.2.TEXT": the message body */
};

/*
 * Finds the bytes of a section.  path is the part number "1.2.3" (len 0:
 * the message itself, for HEADER and TEXT and the whole message with ALL).
 * Part numbers follow RFC 3501 §6.4.5 as Dovecot 2.3 resolves them: the
 * parts of a multipart are 1..n; a part that is not a multipart has one
 * part, 1, itself (so a message that is not multipart has part 1, its body,
 * and a leaf "2" also answers to "2.1", but not "2.1.1"); a message/rfc822
 * part followed by more numbers stands for the message it holds.  HEADER
 * and TEXT need a message: the top level or a message/rfc822 part.  0 with
 * the range in *off_r, *len_r; -1 when there is no such part (Dovecot then
 * answers an empty string; checked against Dovecot 2.3.19 in
 * tests/unit/check_mail_dovecot).  Dovecot sends NUL bytes of a section as
 * 0x80 in a literal (unless BINARY is asked for).
 */
int mime_section_find(const struct mime_part *root, const char *path,
		      size_t len, enum mime_section what, size_t *off_r,
		      size_t *len_r);

/*
 * Appends the text of a message for SEARCH and the full-text index: every
 * header field as "Name: value" with RFC 2047 words decoded, then the body
 * of every text/ part decoded from base64 or quoted-printable and converted
 * to UTF-8 (unknown charsets as they are), with embedded messages included.
 * Stops quietly when out reaches its maximum: bound out (buf_init(out, max)).
 */
void mime_search_text(struct buf *out, const char *msg,
		      const struct mime_part *root);

/* preview.c: appends the PREVIEW (RFC 8970 §3.1) of a parsed message:
 * UTF-8, at most 200 characters, maybe empty. */
void mail_preview_compute(const char *msg, const struct mime_part *root,
			  struct buf *out);

#endif
