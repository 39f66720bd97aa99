/*
 * json_dup: finding a member name written twice in one JSON object.
 *
 * RFC 8259 §4 says names "SHOULD be unique" and leaves what a parser does
 * with a repeated one open: cJSON keeps both and lookups find the first,
 * while a proxy or a script in front of the panel may take the last.  A
 * body whose two readers could disagree is refused (400) instead, so what
 * a handler acts on is what every reader of the request saw.  Pure, for
 * tests and fuzzing.
 */
#ifndef MAILHUB_WEB_JSON_DUP_H
#define MAILHUB_WEB_JSON_DUP_H

#include <cjson/cJSON.h>

/* The first member name (in a depth-first walk) that an object of json
 * holds twice, or NULL when every object's names are unique.  O(n log n)
 * in the number of members. */
const char *json_duplicate_member(const cJSON *json);

#endif
