/* dotstuff: SMTP/POP3 dot-stuffing; see dotstuff.h. */
#include "mail/dotstuff.h"

void
dotstuff_init(struct dotstuff *ds)
{
	ds->at_line_start = true;
	ds->after_cr = false;
}

int
dotstuff_add(struct dotstuff *ds, struct buf *out, const void *data, size_t n)
{
	const char *p = data;
	size_t run = 0;	/* bytes of p[i - run .. i) to copy as they are */

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n') {
			if (!ds->after_cr) {
				/* bare LF: flush, then CRLF */
				if (buf_append(out, p + i - run, run) < 0 ||
				    buf_puts(out, "\r\n") < 0)
					return -1;
				run = 0;
				ds->at_line_start = true;
				ds->after_cr = false;
				continue;
			}
			ds->at_line_start = true;
			ds->after_cr = false;
			run++;
			continue;
		}
		if (c == '.' && ds->at_line_start) {
			/* RFC 5321 §4.5.2: double a leading period */
			if (buf_append(out, p + i - run, run) < 0 ||
			    buf_putc(out, '.') < 0)
				return -1;
			run = 0;
		}
		ds->at_line_start = false;
		ds->after_cr = c == '\r';
		run++;
	}
	return buf_append(out, p + n - run, run);
}

int
dotstuff_finish(struct dotstuff *ds, struct buf *out)
{
	if (!ds->at_line_start) {
		if (buf_puts(out, ds->after_cr ? "\n" : "\r\n") < 0)
			return -1;
	}
	dotstuff_init(ds);
	return buf_puts(out, ".\r\n");
}
