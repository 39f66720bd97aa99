/*
 * json_nul: finding "\u0000" in a JSON text.
 *
 * RFC 8259 §7 lets a string hold any code point, U+0000 included, but cJSON
 * hands strings over as C strings, so "a\u0000b" reaches a handler as "a":
 * a token name, a password or a folder name silently cut short.  cJSON's
 * parse does not say how long a string really was, so the raw text is
 * scanned instead, and a body holding the escape is refused (422) before
 * any handler sees it.  Pure, for tests and fuzzing.
 */
#ifndef MAILHUB_WEB_JSON_NUL_H
#define MAILHUB_WEB_JSON_NUL_H

#include <stdbool.h>
#include <stddef.h>

/* True when a string (a value or a member name) of the JSON text
 * text[0..len) holds the escape \u0000.  Then *field_r and *field_len_r
 * name the member of the outermost object it is in (its name as written,
 * escapes and all), or *field_r is NULL when it is in a member name of that
 * object or the text is not an object.  The text need not be valid JSON;
 * for a valid one the answer is exact. */
bool json_text_has_nul(const char *text, size_t len, const char **field_r,
		       size_t *field_len_r);

#endif
