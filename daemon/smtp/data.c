#include "smtp/data.h"

#include <string.h>

enum {
	S_BOL,		/* at the start of a line */
	S_DOT,		/* a '.' at the start of a line, not passed on */
	S_DOT_CR,	/* ".\r" at the start of a line: the end marker if LF follows */
	S_TEXT,		/* inside a line */
	S_CR,		/* after a CR inside a line */
};

void
smtp_data_init(struct smtp_data *d, size_t max_line, smtp_data_sink *sink,
	       void *ctx)
{
	memset(d, 0, sizeof *d);
	d->state = S_BOL;
	d->max_line = max_line;
	d->sink = sink;
	d->ctx = ctx;
}

void
smtp_data_init_chunked(struct smtp_data *d, size_t max_line,
		       smtp_data_sink *sink, void *ctx)
{
	smtp_data_init(d, max_line, sink, ctx);
	d->chunked = true;
}

/* Hands p[0..n) on, unless the body is already known to be refused (then
 * writing it would only cost disk). */
static void
emit(struct smtp_data *d, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	d->bytes_out += n;
	if (d->errors != 0)
		return;
	if (d->sink(d->ctx, p, n) < 0)
		d->errors |= SMTP_DATA_ERR_SINK;
}

static void
count_line(struct smtp_data *d, size_t n)
{
	d->line_len += n;
	/* RFC 5321 §4.5.3.1.6 counts the CRLF in a line's length */
	if (d->max_line != 0 && d->line_len > d->max_line)
		d->errors |= SMTP_DATA_ERR_LONG_LINE;
}

size_t
smtp_data_feed(struct smtp_data *d, const void *in, size_t n)
{
	const unsigned char *p = in;
	size_t i = 0, run = 0;

	while (i < n && !d->done) {
		switch (d->state) {
		case S_TEXT: {
			size_t j = i;
			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			count_line(d, j - i);
			i = j;
			if (i == n)
				break;
			if (p[i] == '\r') {
				d->state = S_CR;
			} else {
				/* RFC 5321 §2.3.8: a bare LF is no line end */
				d->errors |= SMTP_DATA_ERR_BARE_LF;
			}
			count_line(d, 1);
			i++;
			break;
		}
		case S_CR:
			if (p[i] == '\n') {
				count_line(d, 1);
				i++;
				d->state = S_BOL;
				d->line_len = 0;
			} else {
				d->errors |= SMTP_DATA_ERR_BARE_CR;
				d->state = S_TEXT;	/* look at this byte again */
			}
			break;
		case S_BOL:
			/* the only way here is the LF of a CRLF (or the start):
			 * a bare LF or CR, or a line however long, never
			 * makes a line start (RFC 5321 §2.3.8, §4.1.1.4) */
			if (p[i] == '.' && !d->chunked) {
				/* §4.5.2: the first dot of a line is dropped */
				emit(d, p + run, i - run);
				i++;
				run = i;
				count_line(d, 1);
				d->state = S_DOT;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_DOT:
			if (p[i] == '\r') {
				emit(d, p + run, i - run);
				i++;
				run = i;
				count_line(d, 1);
				d->state = S_DOT_CR;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_DOT_CR:
			if (p[i] == '\n') {
				i++;
				run = i;
				d->done = true;
			} else {
				/* ".\r" then something else: the CR was bare */
				d->errors |= SMTP_DATA_ERR_BARE_CR;
				d->state = S_TEXT;
			}
			break;
		}
	}
	emit(d, p + run, i - run);
	d->bytes_in += i;
	return i;
}

void
smtp_data_end(struct smtp_data *d)
{
	if (d->state == S_CR)
		d->errors |= SMTP_DATA_ERR_BARE_CR;
	d->done = true;
}
