/*
 * dotstuff: the transparency procedure of SMTP DATA (RFC 5321 §4.5.2) and
 * POP3 multi-line responses (RFC 1939 §3), as a streaming encoder: bytes go
 * in in chunks of any size, lines come out ending in CRLF (a bare LF gets
 * its CR), a '.' at the start of a line doubled, and dotstuff_finish() ends
 * an unterminated last line and writes the terminating ".\r\n".
 */
#ifndef MAILHUB_MAIL_DOTSTUFF_H
#define MAILHUB_MAIL_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct dotstuff {
	bool at_line_start;	/* the next byte starts a line */
	bool after_cr;		/* the last byte written was a CR */
};

void dotstuff_init(struct dotstuff *ds);
/* Appends the encoding of p[0..n) to out.  0, or -1 when out is full (then
 * out holds a prefix of the encoding and the encoder state is undefined:
 * the caller gives up on the transfer). */
int dotstuff_add(struct dotstuff *ds, struct buf *out, const void *p, size_t n);
/* Ends the last line if needed and appends ".\r\n".  0, or -1 when full. */
int dotstuff_finish(struct dotstuff *ds, struct buf *out);

#endif
