/* dotstuff: SMTP/POP3 dot-stuffing and line ends; see dotstuff.h. */
#include "mail/dotstuff.h"

void
dotstuff_init(struct dotstuff *ds)
{
	ds->stuff = true;
	ds->at_line_start = true;
	ds->pending_cr = false;
}

void
dotstuff_init_lines(struct dotstuff *ds)
{
	dotstuff_init(ds);
	ds->stuff = false;
}

/* Appends p[0..n) to out, or only counts it when count is not NULL. */
static int
put(struct buf *out, uint64_t *count, const char *p, size_t n)
{
	if (count != NULL) {
		*count += n;
		return 0;
	}
	return buf_append(out, p, n);
}

static int
encode(struct dotstuff *ds, struct buf *out, uint64_t *count, const char *p,
       size_t n)
{
	size_t run = 0;	/* p[run .. i) are bytes to copy as they are */

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (ds->pending_cr) {
			/* the CR before c ends a line either way: with c as a
			 * CRLF, or alone (bare, RFC 5321 §2.3.8) */
			ds->pending_cr = false;
			if (put(out, count, "\r\n", 2) < 0)
				return -1;
			ds->at_line_start = true;
			if (c == '\n') {
				run = i + 1;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			if (put(out, count, p + run, i - run) < 0)
				return -1;
			run = i + 1;
			if (c == '\r') {
				ds->pending_cr = true;
				continue;
			}
			/* a bare LF gets its CR */
			if (put(out, count, "\r\n", 2) < 0)
				return -1;
			ds->at_line_start = true;
			continue;
		}
		if (c == '.' && ds->at_line_start && ds->stuff) {
			/* RFC 5321 §4.5.2: double a leading period (at a line
			 * start nothing is left to copy before it: run == i) */
			if (put(out, count, ".", 1) < 0)
				return -1;
		}
		ds->at_line_start = false;
	}
	return put(out, count, p + run, n - run);
}

static int
finish(struct dotstuff *ds, struct buf *out, uint64_t *count)
{
	if (ds->pending_cr || !ds->at_line_start) {
		if (put(out, count, "\r\n", 2) < 0)
			return -1;
	}
	bool stuff = ds->stuff;
	ds->at_line_start = true;
	ds->pending_cr = false;
	return stuff ? put(out, count, ".\r\n", 3) : 0;
}

int
dotstuff_add(struct dotstuff *ds, struct buf *out, const void *p, size_t n)
{
	return encode(ds, out, NULL, p, n);
}

int
dotstuff_finish(struct dotstuff *ds, struct buf *out)
{
	return finish(ds, out, NULL);
}

void
dotstuff_count(struct dotstuff *ds, const void *p, size_t n, uint64_t *total)
{
	if (p == NULL)
		(void)finish(ds, NULL, total);
	else
		(void)encode(ds, NULL, total, p, n);
}
