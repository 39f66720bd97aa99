/*
 * header_text: values and comments of the header fields the inbound
 * checks write (Authentication-Results, RFC 8601; Received-SPF, RFC 7208
 * §9.1), made safe from what a peer sent.
 *
 * Anything that is not printable ASCII becomes '?', so no value can end
 * the header field; quotes, backslashes and parentheses are quoted where
 * the grammar needs it.
 */
#ifndef MAILHUB_TRUST_HEADER_TEXT_H
#define MAILHUB_TRUST_HEADER_TEXT_H

#include "core/buf.h"

/* A value: as it is when it is a dot-atom (RFC 5322 §3.2.3), else a
 * quoted-string. */
void header_put_value(struct buf *out, const char *s);
/* Text inside a comment: '(' ')' '\\' quoted. */
void header_put_ctext(struct buf *out, const char *s);

#endif
