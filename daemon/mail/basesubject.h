/*
 * basesubject: the "base subject" of RFC 5256 §2.1, which SORT SUBJECT
 * orders by and THREAD groups by: the Subject without "Re:", "Fwd:",
 * "[list]" tags, "(fwd)" trailers and "[Fwd: ...]" wrappers.
 */
#ifndef MAILHUB_MAIL_BASESUBJECT_H
#define MAILHUB_MAIL_BASESUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * Appends p[0..n) case-mapped for SORT's comparisons: every character to
 * its titlecase, decomposed (NFKD), as Dovecot does, so ASCII letters
 * become capitals (RFC 5256 §2.2's i;ascii-casemap, which orders "_" after
 * the letters) and "é" sorts as "E" and a combining accent.  Bytes that
 * are not UTF-8 are copied as they are.
 */
void mail_sort_casemap(struct buf *out, const char *p, size_t n);

/*
 * Appends the base subject of a Subject field's raw value (RFC 2047 words
 * and folding as in the message) to out, case-mapped (mail_sort_casemap()).  Returns true when the subject said it is a
 * reply or a forward (a "Re:", "Fw:", "Fwd:", "(fwd)" or "[fwd: ]" was
 * removed), which THREAD=REFERENCES's subject merge asks (§3 step 5).
 */
bool mail_base_subject(struct buf *out, const char *value, size_t len);

/* Step 2 to 7 of §2.1 on text already decoded, space-packed and
 * case-mapped (NUL-terminated, modified in place): the base subject is
 * returned, a suffix-trimmed substring of text. */
char *mail_base_subject_extract(char *text, bool *reply_r);

#endif
