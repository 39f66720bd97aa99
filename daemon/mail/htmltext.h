/*
 * htmltext: the text of an HTML part, for SEARCH and the full-text index
 * (mail/searchfields.h, mime_search_text()): what a reader sees of it,
 * so that BODY "budget" finds bud<b>get</b> and no SEARCH finds "<div"
 * or "&amp;".  Pure functions over buffers.
 *
 * The reduction follows the HTML tokenizer (WHATWG HTML §13.2.5) closely
 * enough for mail:
 *   - tags are removed, their attributes with them (a quoted value may
 *     hold ">"); a "<" that starts no tag is text; a tag cut off by the
 *     end of the part is dropped;
 *   - the start or end tag of a block element (p, div, br, li, td, h1,
 *     ...) separates words; other tags (b, span, a, font, ...) do not;
 *   - comments (<!-- ... -->, also <!-->), <!DOCTYPE ...>, <![CDATA[...]]>
 *     and <?...> are removed without separating words;
 *   - the content of script and style is removed, up to its end tag;
 *   - character references are decoded in text as Python's
 *     html.unescape() decodes them (all 2,231 names, the 106 legacy ones
 *     also without ";", numeric ones with HTML's replacements);
 *   - white space (space, tab, CR, LF, FF, and U+00A0 NO-BREAK SPACE,
 *     written or from &nbsp;) is collapsed to one space, none at the
 *     start or the end.
 * Bytes that are not ASCII pass through as they are, so any
 * ASCII-compatible charset works before or after conversion to UTF-8.
 */
#ifndef MAILHUB_MAIL_HTMLTEXT_H
#define MAILHUB_MAIL_HTMLTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* How far into a part a <meta> charset is looked for (WHATWG HTML
 * §13.2.3.2 "prescan a byte stream": 1024 bytes). */
#define MAIL_HTML_META_SCAN 1024
/* The longest charset name mail_html_meta_charset() returns, and its NUL. */
#define MAIL_HTML_CHARSET_MAX 64

/* Whether a part of this Content-Type is HTML (text/html, any case). */
bool mail_html_is_html(const char *type, const char *subtype);

/* Appends the text of the HTML in p[0..n) (see above). */
void mail_html_text(struct buf *out, const char *p, size_t n);

/* The charset that a <meta charset=...> or <meta http-equiv=
 * "Content-Type" content="...; charset=..."> in the first
 * MAIL_HTML_META_SCAN bytes of p[0..n) declares, copied NUL-terminated
 * to name[0..cap) (cap > 1); false when there is none (or it does not
 * fit). */
bool mail_html_meta_charset(const char *p, size_t n, char *name, size_t cap);

/* Decodes the character reference at p[0..n) (p[0] is "&") as
 * html.unescape() does and appends what it stands for (the "&" itself
 * when it starts no reference); returns the bytes it took (at least 1). */
size_t mail_html_charref(struct buf *out, const char *p, size_t n);

#endif
