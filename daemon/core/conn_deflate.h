/*
 * conn_deflate: the DEFLATE layer of a connection (RFC 1951 raw deflate,
 * as IMAP COMPRESS=DEFLATE, RFC 4978, uses it), between the buffers of
 * conn.c and its transport (plain or TLS).  conn.c owns one per
 * compressed connection; nothing else uses it.
 */
#ifndef MAILHUB_CORE_CONN_DEFLATE_H
#define MAILHUB_CORE_CONN_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct conn_deflate;

/* NULL when zlib cannot set up its streams. */
struct conn_deflate *conn_deflate_new(void);
void conn_deflate_free(struct conn_deflate **z);

/* Compressed input not yet inflated: bytes the caller gives before any
 * read (those that followed the command that started compression). */
void conn_deflate_feed(struct conn_deflate *z, const void *p, size_t n);
/* Whether compressed input waits to be inflated. */
bool conn_deflate_has_input(const struct conn_deflate *z);
/* Where the transport may put up to *n_r compressed bytes (then
 * conn_deflate_commit()). */
void *conn_deflate_in_space(struct conn_deflate *z, size_t *n_r);
void conn_deflate_commit(struct conn_deflate *z, size_t n);
/* Inflates waiting input into at most max bytes at dst: a count (0 when
 * more input is needed), or -1 on a corrupt stream. */
ssize_t conn_deflate_inflate(struct conn_deflate *z, char *dst, size_t max);

/* Compresses n bytes, ending with a sync flush, onto the pending output. */
void conn_deflate_deflate(struct conn_deflate *z, const void *p, size_t n);
/* The compressed output waiting for the transport; conn_deflate_sent()
 * after some left. */
const char *conn_deflate_out(const struct conn_deflate *z, size_t *n_r);
void conn_deflate_sent(struct conn_deflate *z, size_t n);

#endif
