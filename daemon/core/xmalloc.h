/*
 * xmalloc: allocation that never returns NULL.
 *
 * Running out of memory is not an error a mail session can recover from in a
 * useful way; like Dovecot and Postfix, mailhub logs one line and aborts.
 * Every untrusted size is bounded before it reaches these functions (see
 * limits.h), so an abort here means the machine itself is out of memory.
 */
#ifndef MAILHUB_CORE_XMALLOC_H
#define MAILHUB_CORE_XMALLOC_H

#include <stddef.h>
#include <stdlib.h>

#define MH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MH_NORETURN __attribute__((noreturn))
#define MH_NODISCARD __attribute__((warn_unused_result))

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* xreallocarray: realloc for nmemb elements of size, checking the product. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* xstrndup: a NUL-terminated copy of the first n bytes (n may include NULs). */
char *xstrndup(const char *s, size_t n);
/* xmemdup: copy of n bytes plus a terminating NUL. */
void *xmemdup(const void *p, size_t n);
/* xasprintf: a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) MH_PRINTF(1, 2);

/* Frees *p and sets it to NULL; accepts NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)

#endif
