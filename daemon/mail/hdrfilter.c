/* hdrfilter: drop header fields by name, count Received; see hdrfilter.h. */
#include "mail/hdrfilter.h"

#include <string.h>
#include <strings.h>

#include "core/limits.h"

void
mail_hdr_filter_init(struct mail_hdr_filter *f, const char *const *drop, mail_hdr_sink *sink,
		     void *ctx)
{
	memset(f, 0, sizeof *f);
	f->drop = drop;
	f->sink = sink;
	f->ctx = ctx;
}

static int
emit(struct mail_hdr_filter *f, const char *p, size_t n)
{
	if (n == 0 || f->dropping)
		return 0;
	return f->sink(f->ctx, p, n);
}

static bool
name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* The held start of a line tells what the line is: decides it and passes
 * the held bytes on (unless dropped).  line_end: the held bytes end with
 * the line's LF; full: no more fit. */
static int
decide(struct mail_hdr_filter *f, bool line_end, bool full)
{
	const char *h = f->held;
	size_t n = f->n_held;
	const char *colon = memchr(h, ':', n);

	if (h[0] == ' ' || h[0] == '\t') {
		/* folded: the field before goes on (dropped or not) */
	} else if ((n == 1 && h[0] == '\n') || (n == 2 && h[0] == '\r' && h[1] == '\n')) {
		f->dropping = false;
		f->in_body = true;	/* the empty line ends the header */
	} else if (colon != NULL) {
		size_t len = (size_t)(colon - h);
		while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
			len--;
		f->dropping = false;
		for (const char *const *d = f->drop; *d != NULL && !f->dropping; d++)
			f->dropping = name_is(h, len, *d);
		if (name_is(h, len, "Received"))
			f->received++;
	} else if (line_end || full) {
		f->dropping = false;	/* no colon: a field without a name */
	} else {
		return 0;		/* not known yet */
	}
	f->decided = true;
	f->n_held = 0;
	return emit(f, h, n);
}

int
mail_hdr_filter_feed(struct mail_hdr_filter *f, const void *data, size_t n)
{
	const char *p = data;
	size_t i = 0;

	while (i < n && !f->in_body) {
		if (f->decided) {
			/* the rest of a decided line, through its LF */
			const char *lf = memchr(p + i, '\n', n - i);
			size_t end = lf != NULL ? (size_t)(lf - p) + 1 : n;
			if (emit(f, p + i, end - i) < 0)
				return -1;
			i = end;
			if (lf != NULL) {
				f->decided = false;
				if (++f->lines >= MIME_HEADER_LINES_MAX) {
					f->dropping = false;
					f->in_body = true;
				}
			}
			continue;
		}
		char c = p[i++];
		f->held[f->n_held++] = c;
		bool line_end = c == '\n';
		if (decide(f, line_end, f->n_held >= MAIL_HDR_FILTER_HOLD) < 0)
			return -1;
		if (line_end && f->decided && !f->in_body) {
			f->decided = false;
			if (++f->lines >= MIME_HEADER_LINES_MAX) {
				f->dropping = false;
				f->in_body = true;
			}
		}
	}
	return i < n ? f->sink(f->ctx, p + i, n - i) : 0;
}

int
mail_hdr_filter_end(struct mail_hdr_filter *f)
{
	return f->n_held == 0 ? 0 : decide(f, true, true);
}
