/* rfc2047: encoded-words, base64 and quoted-printable; see rfc2047.h. */
#include "mail/rfc2047.h"

#include <string.h>

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
mime_base64_decode(struct buf *out, const char *s, size_t n)
{
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=')
			break;
		int v = b64_value(c);
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
				return -1;
		}
	}
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
mime_qp_decode(struct buf *out, const char *s, size_t n, bool underscore)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			int h, l;
			if (i + 2 < n &&
			    (h = hex_value((unsigned char)s[i + 1])) >= 0 &&
			    (l = hex_value((unsigned char)s[i + 2])) >= 0) {
				if (buf_putc(out, (char)(h * 16 + l)) < 0)
					return -1;
				i += 3;
				continue;
			}
			/* soft line break: "=" [WSP...] CRLF */
			size_t j = i + 1;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < n && s[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j >= n && !underscore) {
				/* "=" at the very end: a soft break */
				break;
			}
			if (buf_putc(out, '=') < 0)
				return -1;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			/* white space at the end of a line was added in
			 * transport (RFC 2045 §6.7 rule 3) */
			size_t j = i;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (!underscore &&
			    (j >= n || s[j] == '\n' ||
			     (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n'))) {
				i = j;
				continue;
			}
			if (buf_append(out, s + i, j - i) < 0)
				return -1;
			i = j;
			continue;
		}
		if (c == '_' && underscore)
			c = ' ';
		if (buf_putc(out, (char)c) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* RFC 2047 §2 allows 75 characters per word; broken mailers write longer
 * ones, so allow more, but bound it so that scanning stays linear. */
#define EWORD_MAX 1024

/* An encoded-word "=?charset?E?text?=" at s[0..n): its parts and length. */
struct eword {
	const char *charset;
	size_t charset_len;
	char enc;
	const char *text;
	size_t text_len;
	size_t len;
};

static bool
parse_eword(const char *s, size_t n, struct eword *w)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return false;
	if (n > EWORD_MAX)
		n = EWORD_MAX;
	size_t i = 2;
	while (i < n && s[i] != '?' && s[i] > ' ' && (unsigned char)s[i] < 0x7f)
		i++;
	if (i >= n || s[i] != '?' || i == 2)
		return false;
	w->charset = s + 2;
	w->charset_len = i - 2;
	/* RFC 2231 §5: charset*language */
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star != NULL)
		w->charset_len = (size_t)(star - w->charset);
	if (i + 3 > n || s[i + 2] != '?')
		return false;
	w->enc = s[i + 1];
	if (w->enc != 'B' && w->enc != 'b' && w->enc != 'Q' && w->enc != 'q')
		return false;
	size_t t = i + 3, j = t;
	while (j + 1 < n && !(s[j] == '?' && s[j + 1] == '=')) {
		if (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')
			return false;
		j++;
	}
	if (j + 1 >= n)
		return false;
	w->text = s + t;
	w->text_len = j - t;
	w->len = j + 2;
	return true;
}

/* Converts pending decoded bytes in charset and empties them. */
static int
flush_words(struct buf *out, struct buf *pending, const char *charset)
{
	if (pending->len == 0)
		return 0;
	int ret = charset_to_utf8(out, charset, pending->data, pending->len);
	buf_reset(pending);
	return ret < 0 ? -1 : 0;
}

int
rfc2047_decode(struct buf *out, const char *s, size_t n)
{
	struct buf pending = BUF_INIT;
	char charset[64] = "";
	size_t i = 0, lit = 0;	/* lit: start of text not yet written */
	bool last_was_word = false;
	int ret = 0;

	while (i < n && ret == 0) {
		struct eword w;
		if (s[i] != '=' || !parse_eword(s + i, n - i, &w)) {
			i++;
			continue;
		}
		bool known = w.charset_len < sizeof charset;
		char cs[64];
		if (known) {
			memcpy(cs, w.charset, w.charset_len);
			cs[w.charset_len] = '\0';
			known = charset_is_known(cs);
		}
		if (!known) {
			/* left as it is, with the text around it */
			i += w.len;
			continue;
		}
		/* text between words: dropped when it is only white space
		 * between two words, else written */
		bool only_ws = true;
		for (size_t k = lit; k < i; k++) {
			if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r' &&
			    s[k] != '\n')
				only_ws = false;
		}
		if (!(last_was_word && only_ws)) {
			if (flush_words(out, &pending, charset) < 0) {
				ret = -1;
				break;
			}
			struct buf tmp = BUF_INIT;
			for (size_t k = lit; k < i; k++) {
				if (s[k] != '\r' && s[k] != '\n')
					buf_putc(&tmp, s[k]);
			}
			if (tmp.len > 0 &&
			    charset_to_utf8(out, "utf-8", tmp.data, tmp.len) < 0)
				ret = -1;
			buf_free(&tmp);
		}
		if (ret == 0 && !str_eq_nocase(cs, charset) &&
		    flush_words(out, &pending, charset) < 0)
			ret = -1;
		memcpy(charset, cs, strlen(cs) + 1);
		if (w.enc == 'B' || w.enc == 'b')
			mime_base64_decode(&pending, w.text, w.text_len);
		else
			mime_qp_decode(&pending, w.text, w.text_len, true);
		i += w.len;
		lit = i;
		last_was_word = true;
	}
	if (ret == 0 && flush_words(out, &pending, charset) < 0)
		ret = -1;
	if (ret == 0 && lit < n) {
		struct buf tmp = BUF_INIT;
		for (size_t k = lit; k < n; k++) {
			if (s[k] != '\r' && s[k] != '\n')
				buf_putc(&tmp, s[k]);
		}
		if (tmp.len > 0 &&
		    charset_to_utf8(out, "utf-8", tmp.data, tmp.len) < 0)
			ret = -1;
		buf_free(&tmp);
	}
	buf_free(&pending);
	return ret;
}
