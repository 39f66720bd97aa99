/*
 * header: the header block of a message or MIME part (RFC 5322 §2.2):
 * where it ends, its fields one by one with their raw bytes, unfolded
 * values, case-insensitive lookup, and the HEADER.FIELDS selections of IMAP
 * FETCH (RFC 3501 §6.4.5).
 *
 * Input is the stored message: lines end in CRLF, but bare LF is accepted
 * everywhere.  A line without a colon is still a header line (a field with
 * an empty name and value, which no lookup matches); the header ends at
 * the first empty line, at the end of the data, or after
 * MIME_HEADER_LINES_MAX lines (core/limits.h).
 */
#ifndef MAILHUB_MAIL_HEADER_H
#define MAILHUB_MAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Length of the header block at the start of data[0..len), including the
 * empty line that ends it (CRLF or LF) when there is one.  The body starts
 * right after it. */
size_t mail_header_size(const char *data, size_t len);

/* One field of a header block, pointing into the block. */
struct mail_header_field {
	const char *name;	/* up to ':' without trailing white space */
	size_t name_len;
	const char *value;	/* after ':' and the blanks after it on the
				 * first line, up to the last line end
				 * (folding included) */
	size_t value_len;
	size_t raw_off;		/* the field's bytes with every line end */
	size_t raw_len;
};

struct mail_header_iter {
	const char *data;
	size_t len;		/* of the header block (mail_header_size) */
	size_t pos;
};

/* Iterates the fields of the header block data[0..len) (len from
 * mail_header_size; the empty line at its end is skipped). */
void mail_header_iter_init(struct mail_header_iter *it, const char *data,
			   size_t len);
bool mail_header_iter_next(struct mail_header_iter *it,
			   struct mail_header_field *f);

/* Appends the value with folding removed (RFC 5322 §2.2.3: CRLF before
 * white space deleted) and bare CR/LF dropped. */
int mail_header_value_unfold(struct buf *out, const struct mail_header_field *f);

/* What Dovecot puts in place of a NUL byte in header text (U+FFFD). */
#define NUL_REPLACEMENT "\xef\xbf\xbd"

/* Appends the value the way Dovecot's header parser hands it on (what
 * ENVELOPE and BODYSTRUCTURE are built from): line ends as LF, folding kept;
 * with replace_nul, NUL bytes as U+FFFD (for unstructured text), else kept
 * (structured parsers stop at them). */
int mail_header_value_lf(struct buf *out, const struct mail_header_field *f,
			 bool replace_nul);

/* Finds the first (or, with last, the last) field called name
 * (case-insensitive).  Returns false when there is none. */
bool mail_header_find(const char *hdr, size_t hdr_len, const char *name,
		      bool last, struct mail_header_field *f);
/* The first field called name, unfolded, appended to out.  1: found,
 * 0: not there, -1: out is full. */
int mail_header_get(struct buf *out, const char *hdr, size_t hdr_len,
		    const char *name);

/* Every field called name, RFC 2047-decoded to UTF-8 and unfolded
 * (rfc2047_decode), appended one per line ("\n" between them): what SEARCH
 * HEADER, FROM, SUBJECT ... match against (RFC 3501 §6.4.4).  Returns how
 * many fields there were (0: none, which SEARCH HEADER name "" tells from
 * an empty field), or -1 when out is full. */
int mail_header_get_decoded(struct buf *out, const char *hdr, size_t hdr_len,
			    const char *name);

/*
 * Writes the raw lines (with their folding) of the fields whose names are
 * (or, with not, are not) among names[0..n) (case-insensitive), in message
 * order: the BODY[HEADER.FIELDS (...)] and HEADER.FIELDS.NOT of RFC 3501
 * §6.4.5.  As Dovecot answers them: HEADER.FIELDS always ends with the empty
 * line "\r\n", HEADER.FIELDS.NOT only when the header has one; lines that
 * end in a bare LF are written with CRLF.  0, or -1 when out is full.
 */
int mail_header_write_fields(struct buf *out, const char *hdr, size_t hdr_len,
			     const char *const *names, size_t n, bool not);

#endif
