/*
 * buf: the one length-counted, growable byte buffer of mailhub.
 *
 * All protocol data goes through a buf: it knows its length (data may hold
 * NUL bytes), it always keeps a NUL after the data so that text can be used as
 * a C string, and it has a maximum size so that a peer can never make it grow
 * without bound.  Appending past the maximum fails (-1) and leaves the buffer
 * unchanged; callers turn that into a protocol error.
 *
 * A zeroed struct buf is valid and empty with no limit (max == 0 means
 * BUF_UNLIMITED is not used by accident: 0 is "no limit" only through
 * buf_init(b, 0)).
 */
#ifndef MAILHUB_CORE_BUF_H
#define MAILHUB_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/xmalloc.h"

struct buf {
	char *data;	/* NUL-terminated when cap > 0; NULL when never used */
	size_t len;	/* bytes of data, not counting the NUL */
	size_t cap;	/* allocated bytes */
	size_t max;	/* largest len allowed; 0: no limit */
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* Starts an empty buffer that may hold at most max bytes (0: no limit). */
void buf_init(struct buf *b, size_t max);
/* Frees the storage; the buffer stays usable (empty, same max). */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);

/* Appends n bytes. Returns 0, or -1 (buffer unchanged) past the maximum. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) MH_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) MH_PRINTF(2, 0);

/* Removes the first n bytes (all of them when n >= len). */
void buf_consume(struct buf *b, size_t n);
/* Shortens the data to n bytes (no-op when n >= len). */
void buf_truncate(struct buf *b, size_t n);
/* The data as a C string ("" for an unused buffer). Valid until the next change. */
const char *buf_cstr(const struct buf *b);
/* Hands the storage to the caller (a malloc'd NUL-terminated string) and empties b. */
char *buf_steal(struct buf *b);
/* Makes room for n more bytes; returns a pointer to write them at, or NULL past max.
 * Commit what was written with buf_commit(). */
char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);

/* Appends p[0..n) with anything that is not printable ASCII written as \xHH
 * (and '\\' and '"' escaped), for log lines and error messages about peer data.
 * At most limit input bytes are taken; more is shown as "...". */
void buf_append_escaped(struct buf *b, const void *p, size_t n, size_t limit);

/* Case-insensitive ASCII comparisons (locale independent). */
bool str_eq_nocase(const char *a, const char *b);
bool mem_eq_nocase(const void *a, const void *b, size_t n);
bool str_has_prefix_nocase(const char *s, const char *prefix);
/* Lowercases ASCII in place. */
void str_lower(char *s);

#endif
