/*
 * client_parse: the SMTP client's pure parsers (see client.h): replies and
 * EHLO keywords, over bytes, with no socket, for tests and fuzzing.
 */
#include "smtp/client.h"

#include <string.h>

#include "core/limits.h"

/* ---- reply parser ------------------------------------------------------ */

void
smtp_reply_init(struct smtp_reply *reply)
{
	memset(reply, 0, sizeof *reply);
	buf_init(&reply->text, SMTP_REPLY_TEXT_MAX);
}

void
smtp_reply_free(struct smtp_reply *reply)
{
	buf_free(&reply->text);
	reply->code = 0;
	reply->lines = 0;
	reply->status[0] = '\0';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, subject up
 * to 3 digits, detail up to 3 digits.  Returns its length or 0. */
static size_t
enhanced_len(const char *p, size_t n)
{
	size_t i = 0;
	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < n && is_digit(p[i]) && i - start < 3)
			i++;
		if (i == start)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

int
smtp_reply_parse(const char *data, size_t len, struct smtp_reply *reply,
		 size_t *used_r, const char **error_r)
{
	size_t pos = 0;
	unsigned lines = 0, code = 0;

	buf_reset(&reply->text);
	reply->code = 0;
	reply->lines = 0;
	reply->status[0] = '\0';
	while (pos < len) {
		const char *line = data + pos;
		const char *lf = memchr(line, '\n', len - pos);
		if (lf == NULL) {
			if (len - pos >= SMTP_REPLY_LINE_MAX) {
				*error_r = "reply line too long";
				return -1;
			}
			return 0;
		}
		size_t ll = (size_t)(lf - line) + 1;
		if (ll > SMTP_REPLY_LINE_MAX) {
			*error_r = "reply line too long";
			return -1;
		}
		size_t tl = ll - 1;
		if (tl > 0 && line[tl - 1] == '\r')
			tl--;
		/* RFC 5321 §4.2: Reply-code [ SP textstring ] CRLF, or with "-"
		 * on every line but the last */
		if (tl < 3 || !is_digit(line[0]) || !is_digit(line[1]) ||
		    !is_digit(line[2]) || (tl > 3 && line[3] != ' ' && line[3] != '-')) {
			*error_r = "reply line without a 3-digit code";
			return -1;
		}
		unsigned c = (unsigned)(line[0] - '0') * 100 +
			     (unsigned)(line[1] - '0') * 10 + (unsigned)(line[2] - '0');
		if (c < 200 || c > 599) {
			*error_r = "reply code out of range";
			return -1;
		}
		if (lines > 0 && c != code) {
			*error_r = "reply lines with different codes";
			return -1;
		}
		if (++lines > SMTP_REPLY_LINES_MAX) {
			*error_r = "reply with too many lines";
			return -1;
		}
		code = c;
		const char *t = tl > 4 ? line + 4 : line + tl;
		size_t tn = tl > 4 ? tl - 4 : 0;
		if (lines == 1) {
			size_t el = enhanced_len(t, tn);
			if (el > 0 && el < sizeof reply->status && t[0] == line[0]) {
				memcpy(reply->status, t, el);
				reply->status[el] = '\0';
			}
		}
		/* the text is kept as far as it fits; the rest is dropped */
		if (lines > 1)
			(void)buf_putc(&reply->text, '\n');
		(void)buf_append(&reply->text, t, tn);
		pos += ll;
		if (tl == 3 || line[3] == ' ') {
			reply->code = code;
			reply->lines = lines;
			*used_r = pos;
			return 1;
		}
	}
	return 0;
}

void
smtp_reply_format(const struct smtp_reply *reply, struct buf *out)
{
	buf_printf(out, "%u", reply->code);
	const char *t = buf_cstr(&reply->text);
	if (*t != '\0')
		buf_putc(out, ' ');
	for (; *t != '\0'; t++) {
		/* one line for the queue and the DSN: no control characters */
		unsigned char c = (unsigned char)*t;
		buf_putc(out, c == '\n' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c);
	}
}

/* The next space-separated word of s[0..n) from *pos. */
static bool
next_word(const char *s, size_t n, size_t *pos, const char **w_r, size_t *wl_r)
{
	while (*pos < n && s[*pos] == ' ')
		(*pos)++;
	if (*pos >= n)
		return false;
	size_t start = *pos;
	while (*pos < n && s[*pos] != ' ')
		(*pos)++;
	*w_r = s + start;
	*wl_r = *pos - start;
	return true;
}

static bool
word_is(const char *w, size_t wl, const char *kw)
{
	return strlen(kw) == wl && mem_eq_nocase(w, kw, wl);
}

void
smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *caps)
{
	memset(caps, 0, sizeof *caps);
	caps->esmtp = ehlo->code == 250;
	const char *t = buf_cstr(&ehlo->text);
	const char *nl = strchr(t, '\n');
	/* the first line is the server's greeting name, not a keyword */
	while (nl != NULL) {
		const char *line = nl + 1;
		nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		size_t pos = 0, wl;
		const char *w;
		if (!next_word(line, n, &pos, &w, &wl))
			continue;
		if (word_is(w, wl, "STARTTLS"))
			caps->starttls = true;
		else if (word_is(w, wl, "PIPELINING"))
			caps->pipelining = true;
		else if (word_is(w, wl, "8BITMIME"))
			caps->eightbitmime = true;
		else if (word_is(w, wl, "REQUIRETLS"))
			caps->requiretls = true;
		else if (word_is(w, wl, "SMTPUTF8"))
			caps->smtputf8 = true;
		else if (word_is(w, wl, "CHUNKING"))
			caps->chunking = true;
		else if (word_is(w, wl, "DSN"))
			caps->dsn = true;
		else if (word_is(w, wl, "ENHANCEDSTATUSCODES"))
			caps->enhancedstatuscodes = true;
		else if (word_is(w, wl, "SIZE")) {
			caps->size = true;
			if (next_word(line, n, &pos, &w, &wl) && wl < 20) {
				uint64_t v = 0;
				size_t i;
				for (i = 0; i < wl && is_digit(w[i]); i++)
					v = v * 10 + (uint64_t)(w[i] - '0');
				caps->size_max = i == wl ? v : 0;
			}
		} else if (word_is(w, wl, "AUTH")) {
			while (next_word(line, n, &pos, &w, &wl)) {
				if (word_is(w, wl, "PLAIN"))
					caps->auth_plain = true;
				else if (word_is(w, wl, "LOGIN"))
					caps->auth_login = true;
				else if (word_is(w, wl, "XOAUTH2"))
					caps->auth_xoauth2 = true;
				else if (word_is(w, wl, "OAUTHBEARER"))
					caps->auth_oauthbearer = true;
			}
		}
	}
}

