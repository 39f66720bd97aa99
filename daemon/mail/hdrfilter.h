/*
 * hdrfilter: a streaming pass over the header section of a message as it
 * arrives, in pieces of any size: it drops every field of some names (the
 * SMTP server drops Return-Path, which only final delivery writes, RFC
 * 5321 §4.4, and with a spam filter the spam verdict fields that only it
 * writes) with their folded lines, and counts the Received fields (the
 * loop check of RFC 5321 §6.3).  Everything else goes to the sink
 * unchanged.  Memory is bounded: only the start of a line is held, until
 * its field name is known.
 *
 * The header ends as mail/header.h says: at the first empty line, or after
 * MIME_HEADER_LINES_MAX lines; a line without a colon is a field with no
 * name (kept), a line starting with white space continues the field before.
 */
#ifndef MAILHUB_MAIL_HDRFILTER_H
#define MAILHUB_MAIL_HDRFILTER_H

#include <stdbool.h>
#include <stddef.h>

/* Takes n bytes; 0, or -1 to stop (returned by the feed). */
typedef int mail_hdr_sink(void *ctx, const void *p, size_t n);

/* The longest field name looked at; a longer one is no name we drop. */
#define MAIL_HDR_FILTER_HOLD 64

struct mail_hdr_filter {
	const char *const *drop;	/* the field names dropped (case ignored),
					 * ending with NULL */
	bool in_body;
	bool decided;		/* the current line is being passed or dropped */
	bool dropping;		/* the current field is dropped */
	char held[MAIL_HDR_FILTER_HOLD + 2];	/* the start of the line */
	size_t n_held;
	unsigned lines;
	unsigned received;	/* Received fields so far */
	mail_hdr_sink *sink;
	void *ctx;
};

/* drop: the names to drop, a NULL-terminated array that outlives f. */
void mail_hdr_filter_init(struct mail_hdr_filter *f, const char *const *drop,
			  mail_hdr_sink *sink, void *ctx);
/* Passes p[0..n) on, less the dropped fields.  0, or the sink's -1. */
int mail_hdr_filter_feed(struct mail_hdr_filter *f, const void *p, size_t n);
/* The message ended: passes on what is held.  0, or the sink's -1. */
int mail_hdr_filter_end(struct mail_hdr_filter *f);

#endif
