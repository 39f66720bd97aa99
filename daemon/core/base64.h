/*
 * base64: RFC 4648 encoding and strict decoding (for SASL, MIME, sealing).
 */
#ifndef MAILHUB_CORE_BASE64_H
#define MAILHUB_CORE_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Appends the base64 of p[0..n) to out; 0, or -1 past out's maximum. */
int base64_encode(struct buf *out, const void *p, size_t n);
/* Appends the decoded bytes of text[0..n) to out.  Strict: only the base64
 * alphabet and '=' padding at the end; whitespace (CR, LF, space, tab) is
 * skipped when lenient is true (MIME bodies), refused otherwise (SASL).
 * Strict mode also refuses a missing final padding and non-zero pad bits
 * (RFC 4648 §3.5, so one value has one encoding); lenient mode accepts both,
 * as real mail has them.  Returns 0, or -1 for malformed input or past out's
 * maximum; on -1, out is left as it was. */
int base64_decode(struct buf *out, const char *text, size_t n, bool lenient);

#endif
