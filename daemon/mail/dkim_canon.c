/*
 * dkim_canon: DKIM canonicalization (see dkim_canon.h).
 */
#include "mail/dkim_canon.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
dkim_canon_header(const char *name, size_t name_len, const char *value,
		  size_t value_len, struct buf *out)
{
	while (name_len > 0 && is_wsp(name[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++) {
		char c = name[i];
		buf_putc(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
	buf_putc(out, ':');
	size_t i = 0;
	while (i < value_len && is_wsp(value[i]))
		i++;
	while (value_len > i && is_wsp(value[value_len - 1]))
		value_len--;
	bool space = false;
	for (; i < value_len; i++) {
		char c = value[i];
		if (c == '\r' || c == '\n')
			continue;	/* unfolding (§3.4.2) */
		if (c == ' ' || c == '\t') {
			space = true;
			continue;
		}
		if (space)
			buf_putc(out, ' ');
		space = false;
		buf_putc(out, c);
	}
	buf_puts(out, "\r\n");
}

void
dkim_canon_header_simple(const char *raw, size_t raw_len, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < raw_len; i++) {
		if (raw[i] != '\n' || (i > 0 && raw[i - 1] == '\r'))
			continue;
		buf_append(out, raw + start, i - start);
		buf_puts(out, "\r\n");
		start = i + 1;
	}
	buf_append(out, raw + start, raw_len - start);
}

void
dkim_body_sink_buf(void *ctx, const void *p, size_t n)
{
	buf_append(ctx, p, n);
}

void
dkim_body_init(struct dkim_body *b, enum dkim_canon canon, dkim_body_sink *sink, void *ctx)
{
	memset(b, 0, offsetof(struct dkim_body, out));
	b->canon = canon;
	b->sink = sink;
	b->ctx = ctx;
}

static void
out_flush(struct dkim_body *b)
{
	if (b->out_len > 0)
		b->sink(b->ctx, b->out, b->out_len);
	b->out_len = 0;
}

static void
out_byte(struct dkim_body *b, char c)
{
	if (b->out_len == sizeof b->out)
		out_flush(b);
	b->out[b->out_len++] = c;
}

static void
out_bytes(struct dkim_body *b, const char *p, size_t n)
{
	if (n > sizeof b->out - b->out_len)
		out_flush(b);
	if (n >= sizeof b->out) {
		b->sink(b->ctx, p, n);	/* in order: out is empty */
		return;
	}
	memcpy(b->out + b->out_len, p, n);
	b->out_len += n;
}

/* Writes the empty lines held back, now that text follows them. */
static void
out_pending(struct dkim_body *b)
{
	while (b->pending_crlf > 0) {
		out_byte(b, '\r');
		out_byte(b, '\n');
		b->pending_crlf--;
	}
}

/* One byte of the body with line ends made '\n'. */
static void
body_char(struct dkim_body *b, char c)
{
	if (c == '\n') {
		/* §3.4.3, §3.4.4: empty lines at the end of the body go, so
		 * every line end waits for text after it; relaxed: white
		 * space at the end of a line goes */
		b->wsp = 0;
		b->pending_crlf++;
		return;
	}
	if (b->canon == DKIM_CANON_RELAXED && (c == ' ' || c == '\t')) {
		b->wsp = 1;	/* a run becomes one space, if text follows */
		return;
	}
	out_pending(b);
	if (b->wsp)
		out_byte(b, ' ');
	b->wsp = 0;
	out_byte(b, c);
	b->any = 1;
}

/* The bytes that end a run of text: line ends, and for relaxed white
 * space (a table: this loop is where a big body's time goes). */
static const bool stops_simple[256] = { ['\r'] = true, ['\n'] = true };
static const bool stops_relaxed[256] = {
	['\r'] = true, ['\n'] = true, [' '] = true, ['\t'] = true,
};

void
dkim_body_add(struct dkim_body *b, const void *p, size_t n)
{
	const char *s = p;
	const bool *stops = b->canon == DKIM_CANON_RELAXED ? stops_relaxed : stops_simple;
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (!b->cr && !stops[(unsigned char)c]) {
			/* a run of text is written as a whole (the common case;
			 * byte by byte would cost more than the hash) */
			size_t j = i + 1;
			while (j < n && !stops[(unsigned char)s[j]])
				j++;
			out_pending(b);
			if (b->wsp)
				out_byte(b, ' ');
			b->wsp = 0;
			out_bytes(b, s + i, j - i);
			b->any = 1;
			i = j;
			continue;
		}
		i++;
		if (b->cr) {
			b->cr = 0;
			if (c == '\n') {
				body_char(b, '\n');
				continue;
			}
			body_char(b, '\r');	/* a bare CR is data */
		}
		if (c == '\r') {
			b->cr = 1;
			continue;
		}
		body_char(b, c);
	}
	out_flush(b);
}

void
dkim_body_finish(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = 0;
		body_char(b, '\r');
	}
	/* a body ends in exactly one CRLF; only relaxed keeps an empty
	 * body empty (simple makes it one CRLF) */
	if (b->any || b->canon == DKIM_CANON_SIMPLE) {
		out_byte(b, '\r');
		out_byte(b, '\n');
	}
	b->pending_crlf = 0;
	b->wsp = 0;
	out_flush(b);
}
