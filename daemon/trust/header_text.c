/*
 * header_text: safe values and comments for the checks' header fields
 * (see header_text.h).
 */
#include "trust/header_text.h"

#include <stdbool.h>
#include <string.h>

/* dot-atom-text of RFC 5322 §3.2.3 */
static bool
is_dot_atom(const char *s)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";
	if (*s == '\0' || *s == '.')
		return false;
	char prev = '\0';
	for (const char *p = s; *p != '\0'; prev = *p, p++) {
		char c = *p;
		if (c == '.') {
			if (prev == '.')
				return false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(specials, c) != NULL))
			return false;
	}
	return prev != '.';
}

/* c as it may stand in a quoted-string or comment: printable ASCII, the
 * rest as '?'. */
static char
safe(char c)
{
	return c >= 0x20 && c <= 0x7e ? c : '?';
}

/* A value: as it is when a dot-atom, else a quoted-string. */
void
header_put_value(struct buf *out, const char *s)
{
	if (is_dot_atom(s)) {
		buf_puts(out, s);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, safe(*p));
	}
	buf_putc(out, '"');
}

/* Text inside a comment: parentheses and backslashes quoted. */
void
header_put_ctext(struct buf *out, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '(' || *p == ')' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, safe(*p));
	}
}
