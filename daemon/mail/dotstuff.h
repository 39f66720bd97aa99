/*
 * dotstuff: the transparency procedure of SMTP DATA (RFC 5321 §4.5.2) and
 * POP3 multi-line responses (RFC 1939 §3), as a streaming encoder: bytes go
 * in in chunks of any size, lines come out ending in CRLF, a '.' at the
 * start of a line doubled, and dotstuff_finish() ends an unterminated last
 * line and writes the terminating ".\r\n".
 *
 * Whatever the stored bytes, every line goes out ending in CRLF: a bare LF
 * gets its CR, and a bare CR (one not followed by LF) gets an LF, so that
 * the next hop sees the line ends we see and "\r.\r" can never become an
 * end of data there (RFC 5321 §2.3.8; SMTP smuggling).  A CR at the end of
 * a chunk waits for the next byte to know which it is.
 *
 * The lines mode does the same without the dots, for BDAT (RFC 3030),
 * whose chunks carry the message as it is: there dotstuff_finish() only
 * ends the last line.  dotstuff_count() runs the encoder without output,
 * to learn the size a BDAT command must announce.
 */
#ifndef MAILHUB_MAIL_DOTSTUFF_H
#define MAILHUB_MAIL_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct dotstuff {
	bool stuff;		/* double leading dots, end with ".\r\n" */
	bool at_line_start;	/* the next byte starts a line */
	bool pending_cr;	/* a CR was read, not written yet */
};

/* Starts an encoder for DATA or POP3. */
void dotstuff_init(struct dotstuff *ds);
/* Starts an encoder that only makes every line end in CRLF (BDAT). */
void dotstuff_init_lines(struct dotstuff *ds);
/* Appends the encoding of p[0..n) to out.  0, or -1 when out is full (then
 * out holds a prefix of the encoding and the encoder state is undefined:
 * the caller gives up on the transfer). */
int dotstuff_add(struct dotstuff *ds, struct buf *out, const void *p, size_t n);
/* Ends the last line if needed and, unless in lines mode, appends ".\r\n";
 * the encoder is then ready for the next message (same mode).  0, or -1
 * when full. */
int dotstuff_finish(struct dotstuff *ds, struct buf *out);
/* What dotstuff_add() (p != NULL) or dotstuff_finish() (p == NULL) would
 * append, added to *total; the state moves on the same way. */
void dotstuff_count(struct dotstuff *ds, const void *p, size_t n, uint64_t *total);

#endif
