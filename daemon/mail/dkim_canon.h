/*
 * dkim_canon: the canonicalization algorithms of DKIM (RFC 6376 §3.4),
 * shared by the signer (smtp/dkim.c) and the verifiers (trust/dkim_verify,
 * trust/arc).  Pure functions over bytes; the body canonicalizer is fed in
 * pieces of any size (a byte at a time gives the same output), so a big
 * message is never held in memory.
 *
 * Line ends: a stored message has CRLF, but a message read from a file may
 * have bare LF; both canonicalizers take a bare LF as CRLF (RFC 6376 §5.3:
 * the message is hashed in its network normal form).  A bare CR is data.
 */
#ifndef MAILHUB_MAIL_DKIM_CANON_H
#define MAILHUB_MAIL_DKIM_CANON_H

#include <stddef.h>

#include "core/buf.h"

enum dkim_canon {
	DKIM_CANON_SIMPLE,	/* RFC 6376 §3.4.1 (header), §3.4.3 (body) */
	DKIM_CANON_RELAXED,	/* §3.4.2, §3.4.4 */
};

/* "simple" or "relaxed". */
const char *dkim_canon_name(enum dkim_canon c);

/* RFC 6376 §3.4.2: the relaxed form of one header field, "name:value\r\n"
 * (name lowercased, folding removed, white space runs made one space, none
 * at the ends of the value). */
void dkim_canon_header(const char *name, size_t name_len, const char *value,
		       size_t value_len, struct buf *out);

/* RFC 6376 §3.4.1: the simple form of one header field: its raw bytes
 * (raw[0..raw_len), every line end included) unchanged, but for a bare LF,
 * which is written as CRLF. */
void dkim_canon_header_simple(const char *raw, size_t raw_len, struct buf *out);

/* The body canonicalizer, streaming (§3.4.3 simple, §3.4.4 relaxed).  Its
 * output goes to a sink (a hash, usually) in pieces of at most
 * DKIM_BODY_OUT bytes, so that nothing (not even a long run of empty lines
 * held back until text follows them) makes it hold more than that. */
typedef void dkim_body_sink(void *ctx, const void *p, size_t n);

#define DKIM_BODY_OUT 1024

struct dkim_body {
	enum dkim_canon canon;
	dkim_body_sink *sink;
	void *ctx;
	unsigned long long pending_crlf;	/* empty lines not yet written */
	int wsp;		/* relaxed: white space seen in the current line */
	int cr;			/* the last byte was a CR */
	int any;		/* relaxed: anything but empty lines seen */
	size_t out_len;
	char out[DKIM_BODY_OUT];
};
void dkim_body_init(struct dkim_body *b, enum dkim_canon canon, dkim_body_sink *sink,
		    void *ctx);
/* Canonicalizes p[0..n); what is ready goes to the sink before it returns. */
void dkim_body_add(struct dkim_body *b, const void *p, size_t n);
/* The end of the body: simple ends in exactly one CRLF (an empty body is
 * CRLF), relaxed too but an empty body stays empty (§3.4.3, §3.4.4). */
void dkim_body_finish(struct dkim_body *b);

/* A sink that appends to a struct buf (ctx), for tests and small bodies. */
void dkim_body_sink_buf(void *ctx, const void *p, size_t n);

#endif
