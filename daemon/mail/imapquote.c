/* imapquote: IMAP strings, NIL and literals; see imapquote.h. */
#include "mail/imapquote.h"

#include <string.h>

/* Dovecot switches to a literal after four quoted-specials: "\x" costs a
 * byte each, "{n}\r\n" about five. */
#define QUOTED_MAX_ESCAPES 4

static void
append_literal(struct buf *out, const char *s, size_t n)
{
	buf_printf(out, "{%zu}\r\n", n);
	char *dst = buf_reserve(out, n);
	if (dst == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] == '\0' ? (char)0x80 : s[i];
	buf_commit(out, n);
}

static void
append_quoted(struct buf *out, const char *s, size_t n)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

void
imap_append_string(struct buf *out, const char *s, size_t n)
{
	unsigned escapes = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			if (++escapes > QUOTED_MAX_ESCAPES) {
				append_literal(out, s, n);
				return;
			}
		} else if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80) {
			append_literal(out, s, n);
			return;
		}
	}
	append_quoted(out, s, n);
}

void
imap_append_nstring(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		imap_append_string(out, s, n);
}

/* RFC 3501 §9: ASTRING-CHAR = ATOM-CHAR / resp-specials */
static int
is_astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\", c) == NULL;
}

void
imap_append_astring(struct buf *out, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		if (!is_astring_char((unsigned char)s[i]))
			break;
	}
	/* never let a string turn into NIL */
	if (n == 0 || i < n || (n == 3 && mem_eq_nocase(s, "NIL", 3)))
		imap_append_string(out, s, n);
	else
		buf_append(out, s, n);
}

void
imap_append_nstring_nolf(struct buf *out, const char *s, size_t n)
{
	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	if (memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL) {
		imap_append_string(out, s, n);
		return;
	}
	struct buf tmp = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r' && s[i] != '\n') {
			buf_putc(&tmp, s[i]);
			continue;
		}
		char next = i + 1 < n ? s[i + 1] : '\0';
		/* keep words of two lines apart */
		if (next != ' ' && next != '\t' && next != '\r' &&
		    next != '\n' && next != '\0')
			buf_putc(&tmp, ' ');
	}
	imap_append_string(out, tmp.data != NULL ? tmp.data : "", tmp.len);
	buf_free(&tmp);
}

static int
is_human_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
imap_append_string_for_humans(struct buf *out, const char *s, size_t n)
{
	size_t remove = 0, i;
	int last_space = 1, only_space = 1, modify = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0') {
			modify = 1;
			last_space = 0;
		} else if (is_human_space((char)c)) {
			if (c != ' ')
				modify = 1;
			if (last_space) {
				modify = 1;
				remove++;
			}
			last_space = 1;
		} else {
			if (c == '"' || c == '\\' || c >= 0x80)
				modify = 1;
			last_space = 0;
		}
		if (!last_space)
			only_space = 0;
	}
	if (last_space && n > 0 && !only_space) {
		modify = 1;
		remove++;
	}
	if (!modify) {
		buf_putc(out, '"');
		buf_append(out, s, n);
		buf_putc(out, '"');
		return;
	}
	if (remove >= n) {
		buf_puts(out, "\"\"");
		return;
	}
	struct buf tmp = BUF_INIT;
	last_space = 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0') {
			buf_putc(&tmp, (char)0x80);
			last_space = 0;
		} else if (is_human_space((char)c)) {
			if (!last_space)
				buf_putc(&tmp, ' ');
			last_space = 1;
		} else {
			buf_putc(&tmp, (char)c);
			last_space = 0;
		}
	}
	if (last_space && tmp.len > 0)
		buf_truncate(&tmp, tmp.len - 1);
	buf_printf(out, "{%zu}\r\n", tmp.len);
	buf_append(out, tmp.data, tmp.len);
	buf_free(&tmp);
}
