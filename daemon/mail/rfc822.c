/* rfc822: lexical helpers for RFC 5322 and MIME header values; see rfc822.h. */
#include "mail/rfc822.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/header.h"

/* RFC 5322 §3.2.3 atext, plus 8-bit bytes (RFC 6532 UTF-8). */
static bool
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 2045 §5.1 token characters (atext without tspecials '/', '=', '?',
 * plus '.'). */
static bool
is_token_char(unsigned char c)
{
	if (c == '.')
		return true;
	return is_atext(c) && c != '/' && c != '=' && c != '?';
}

/* Appends p[0..n) with NUL bytes as U+FFFD, as Dovecot's parser does. */
static void
append_text(struct buf *out, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	while (p < end) {
		const unsigned char *z = memchr(p, '\0', (size_t)(end - p));
		size_t k = z != NULL ? (size_t)(z - p) : (size_t)(end - p);
		buf_append(out, p, k);
		if (z == NULL)
			break;
		buf_puts(out, NUL_REPLACEMENT);
		p = z + 1;
	}
}

void
rfc822_lex_init(struct rfc822_lex *lx, const void *data, size_t len,
		struct buf *last_comment)
{
	lx->p = data;
	lx->end = lx->p + len;
	lx->last_comment = last_comment;
}

/* Skips a comment, keeping its text (folding removed, quoted-pairs undone,
 * NUL as U+FFFD) in last_comment.  An unterminated comment keeps what was
 * collected up to its last line end or quoted-pair, as Dovecot's does. */
static int
skip_comment(struct rfc822_lex *lx)
{
	unsigned depth = 1;
	struct buf *lc = lx->last_comment;
	const unsigned char *start = ++lx->p;

	if (lc != NULL)
		buf_reset(lc);
	for (; lx->p < lx->end; lx->p++) {
		switch (*lx->p) {
		case '\0':
			if (lc != NULL) {
				buf_append(lc, start, (size_t)(lx->p - start));
				buf_puts(lc, NUL_REPLACEMENT);
			}
			start = lx->p + 1;
			break;
		case '(':
			depth++;
			break;
		case ')':
			if (--depth == 0) {
				if (lc != NULL)
					buf_append(lc, start, (size_t)(lx->p - start));
				lx->p++;
				return lx->p < lx->end ? 1 : 0;
			}
			break;
		case '\n':
			if (lc != NULL) {
				size_t len = (size_t)(lx->p - start);
				if (len > 0 && start[len - 1] == '\r')
					len--;
				buf_append(lc, start, len);
			}
			start = lx->p + 1;
			break;
		case '\\':
			lx->p++;
			if (lx->p >= lx->end)
				return -1;
			if (*lx->p == '\r' || *lx->p == '\n' || *lx->p == '\0') {
				/* not a quoted-pair: look at it again */
				lx->p--;
				break;
			}
			if (lc != NULL)
				buf_append(lc, start, (size_t)(lx->p - 1 - start));
			start = lx->p;
			break;
		}
	}
	return -1;
}

int
rfc822_skip_cfws(struct rfc822_lex *lx)
{
	while (lx->p < lx->end) {
		unsigned char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
		} else if (c == '(') {
			if (skip_comment(lx) < 0)
				return -1;
		} else {
			return 1;
		}
	}
	return 0;
}

int
rfc822_parse_atom(struct rfc822_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	if (lx->p >= lx->end || !is_atext(*lx->p))
		return -1;
	while (lx->p < lx->end && is_atext(*lx->p))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	return rfc822_skip_cfws(lx);
}

int
rfc822_parse_dot_atom(struct rfc822_lex *lx, struct buf *out)
{
	int ret = rfc822_parse_atom(lx, out);
	while (ret > 0 && *lx->p == '.') {
		buf_putc(out, '.');
		lx->p++;
		/* like Dovecot, "a." at the very end is accepted */
		if ((ret = rfc822_skip_cfws(lx)) <= 0)
			return ret;
		ret = rfc822_parse_atom(lx, out);
	}
	return ret;
}

int
rfc822_parse_quoted_string(struct rfc822_lex *lx, struct buf *out)
{
	if (lx->p >= lx->end || *lx->p != '"')
		return -1;
	lx->p++;
	const unsigned char *start = lx->p;
	for (; lx->p < lx->end; lx->p++) {
		switch (*lx->p) {
		case '"':
			buf_append(out, start, (size_t)(lx->p - start));
			lx->p++;
			return rfc822_skip_cfws(lx);
		case '\n':
			/* RFC 5322 §3.2.4: folding inside a quoted string is
			 * removed, the white space after it kept */
			buf_append(out, start, (size_t)(lx->p - start));
			if (out->len > 0 && out->data[out->len - 1] == '\r')
				buf_truncate(out, out->len - 1);
			start = lx->p + 1;
			break;
		case '\\':
			buf_append(out, start, (size_t)(lx->p - start));
			if (lx->p + 1 >= lx->end)
				return -1;
			lx->p++;
			start = lx->p;
			break;
		case '\0':
			/* Dovecot writes NUL as U+FFFD */
			buf_append(out, start, (size_t)(lx->p - start));
			buf_puts(out, NUL_REPLACEMENT);
			start = lx->p + 1;
			break;
		}
	}
	/* unterminated: what follows the last line end or quoted-pair is
	 * dropped, as Dovecot does */
	return -1;
}

/* An atom that may hold dots (obs-phrase), possibly empty. */
static int
parse_atom_or_dot(struct rfc822_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	while (lx->p < lx->end && (is_atext(*lx->p) || *lx->p == '.'))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	if (lx->p >= lx->end)
		return 0;
	return rfc822_skip_cfws(lx);
}

int
rfc822_parse_phrase(struct rfc822_lex *lx, struct buf *out)
{
	if (lx->p >= lx->end)
		return 0;
	if (*lx->p == '.')
		return -1;
	for (;;) {
		const unsigned char *before = lx->p;
		int ret = *lx->p == '"' ? rfc822_parse_quoted_string(lx, out) :
					  parse_atom_or_dot(lx, out);
		if (ret <= 0)
			return ret;
		if (!is_atext(*lx->p) && *lx->p != '"' && *lx->p != '.')
			break;
		if (lx->p == before)
			return -1;
		buf_putc(out, ' ');
	}
	return rfc822_skip_cfws(lx);
}

static int
parse_domain_literal(struct rfc822_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	for (lx->p++; lx->p < lx->end; lx->p++) {
		if (*lx->p == '\\') {
			if (lx->p + 1 >= lx->end)
				break;
			lx->p++;
		} else if (*lx->p == ']') {
			lx->p++;
			append_text(out, start, (size_t)(lx->p - start));
			return rfc822_skip_cfws(lx);
		}
	}
	return -1;
}

int
rfc822_parse_domain(struct rfc822_lex *lx, struct buf *out)
{
	/* at '@' */
	if (lx->p < lx->end && *lx->p == '@')
		lx->p++;
	int ret = rfc822_skip_cfws(lx);
	if (ret <= 0)
		return -1;
	if (*lx->p == '[')
		return parse_domain_literal(lx, out);
	return rfc822_parse_dot_atom(lx, out);
}

int
rfc822_parse_mime_token(struct rfc822_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	while (lx->p < lx->end && is_token_char(*lx->p))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	return rfc822_skip_cfws(lx);
}

int
rfc822_parse_content_type(struct rfc822_lex *lx, struct buf *out)
{
	size_t before = out->len;
	if (rfc822_skip_cfws(lx) <= 0)
		return -1;
	if (rfc822_parse_mime_token(lx, out) <= 0 || out->len == before)
		return -1;
	if (*lx->p != '/')
		return -1;
	lx->p++;
	buf_putc(out, '/');
	if (rfc822_skip_cfws(lx) <= 0)
		return -1;
	size_t slash = out->len;
	int ret = rfc822_parse_mime_token(lx, out);
	if (ret < 0 || out->len == slash)
		return -1;
	return ret;
}

/* One ";name=value" (Dovecot's rfc822_parse_content_param): 1 got one,
 * 0 at the end, -1 broken. */
static int
parse_param(struct rfc822_lex *lx, struct buf *name, struct buf *value)
{
	int ret;
	buf_reset(name);
	buf_reset(value);
	if (lx->p >= lx->end)
		return 0;
	if (*lx->p != ';')
		return -1;
	lx->p++;
	if (rfc822_skip_cfws(lx) <= 0)
		return -1;
	if (rfc822_parse_mime_token(lx, name) <= 0 || *lx->p != '=')
		return -1;
	lx->p++;
	if ((ret = rfc822_skip_cfws(lx)) <= 0) {
		/* "name=" and nothing: an empty value */
	} else if (*lx->p == '"') {
		ret = rfc822_parse_quoted_string(lx, value);
	} else if (*lx->p == '=') {
		/* broken mailers write name==?utf-8?b?...?= unquoted */
		const unsigned char *start = lx->p;
		while (lx->p < lx->end && *lx->p != ';' && *lx->p != ' ' &&
		       *lx->p != '\t' && *lx->p != '\r' && *lx->p != '\n')
			lx->p++;
		buf_append(value, start, (size_t)(lx->p - start));
	} else {
		ret = rfc822_parse_mime_token(lx, value);
	}
	return ret < 0 ? -1 : 1;
}

struct rfc2231_piece {
	char *key;
	unsigned idx;
	bool extended;
	char *value;
	size_t order;
};

static int
piece_cmp(const void *a, const void *b)
{
	const struct rfc2231_piece *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
params_add(struct mime_param **arr, size_t *count, size_t *cap, char *name,
	   char *value)
{
	if (*count == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		*arr = xreallocarray(*arr, *cap, sizeof **arr);
	}
	(*arr)[*count].name = name;
	(*arr)[*count].value = value;
	(*count)++;
}

/* RFC 2231 §4: an unencoded piece of an extended value; Dovecot escapes
 * only '%'. */
static void
append_escaped(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			buf_puts(out, "%25");
		else
			buf_putc(out, *s);
	}
}

void
rfc2231_parse_params(struct rfc822_lex *lx, size_t max_params,
		     struct mime_param **params_r, size_t *count_r)
{
	struct mime_param *res = NULL;
	size_t count = 0, cap = 0;
	struct rfc2231_piece *pieces = NULL;
	size_t npieces = 0, pcap = 0;
	struct buf name = BUF_INIT, value = BUF_INIT;

	/* Dovecot keeps the index of the previous "name*N" for a plain
	 * "name*"; kept for identical output */
	unsigned idx = 0;
	int ret;
	while (count + npieces < max_params &&
	       (ret = parse_param(lx, &name, &value)) != 0) {
		if (ret < 0) {
			/* broken: skip a byte and try again, as Dovecot */
			if (lx->p >= lx->end)
				break;
			lx->p++;
			continue;
		}
		const char *n = buf_cstr(&name);
		const char *star = strchr(n, '*');
		if (star != NULL) {
			/* name*, name*N, name*N* (RFC 2231 §3-4) */
			const char *p = star;
			bool ext = false;
			if (p[1] != '\0') {
				idx = 0;
				for (p++; *p >= '0' && *p <= '9'; p++) {
					if (idx < 1000000)
						idx = idx * 10 + (unsigned)(*p - '0');
				}
			}
			if (*p == '*') {
				ext = true;
				p++;
			}
			if (*p == '\0') {
				if (npieces == pcap) {
					pcap = pcap == 0 ? 4 : pcap * 2;
					pieces = xreallocarray(pieces, pcap,
							       sizeof *pieces);
				}
				pieces[npieces].key =
					xstrndup(n, (size_t)(star - n));
				pieces[npieces].idx = idx;
				pieces[npieces].extended = ext;
				pieces[npieces].value =
					xstrndup(buf_cstr(&value), value.len);
				pieces[npieces].order = npieces;
				npieces++;
				continue;
			}
		}
		params_add(&res, &count, &cap, xstrndup(n, name.len),
			   xstrndup(buf_cstr(&value), value.len));
	}

	if (npieces > 0)
		qsort(pieces, npieces, sizeof *pieces, piece_cmp);
	for (size_t i = 0, next; i < npieces; i = next) {
		bool ok = true, have_ext = false;
		unsigned want = 0;
		for (next = i; next < npieces; next++) {
			if (strcasecmp(pieces[i].key, pieces[next].key) != 0)
				break;
			if (pieces[next].idx != want)
				ok = false;
			if (pieces[next].extended)
				have_ext = true;
			want++;
		}
		if (!ok) {
			/* missing pieces: pass them on as plain names */
			for (size_t j = i; j < next; j++) {
				char *k = xasprintf(pieces[j].extended ?
						    "%s*%u*" : "%s*%u",
						    pieces[j].key, pieces[j].idx);
				params_add(&res, &count, &cap, k,
					   xstrdup(pieces[j].value));
			}
			continue;
		}
		struct buf v = BUF_INIT;
		if (!pieces[i].extended && have_ext)
			buf_puts(&v, "''");
		for (size_t j = i; j < next; j++) {
			if (!pieces[j].extended && have_ext)
				append_escaped(&v, pieces[j].value);
			else
				buf_puts(&v, pieces[j].value);
		}
		char *k = have_ext ? xasprintf("%s*", pieces[i].key) :
				     xstrdup(pieces[i].key);
		char *val = v.data != NULL ? buf_steal(&v) : xstrdup("");
		params_add(&res, &count, &cap, k, val);
	}
	for (size_t i = 0; i < npieces; i++) {
		free(pieces[i].key);
		free(pieces[i].value);
	}
	free(pieces);
	buf_free(&name);
	buf_free(&value);
	*params_r = res;
	*count_r = count;
}

void
mime_params_free(struct mime_param **params, size_t count)
{
	if (*params == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*params)[i].name);
		free((*params)[i].value);
	}
	xfree(*params);
}

const char *
mime_param_get(const struct mime_param *params, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (str_eq_nocase(params[i].name, name))
			return params[i].value;
	}
	return NULL;
}
