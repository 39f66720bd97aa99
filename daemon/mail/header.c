/* header: header blocks and fields; see header.h. */
#include "mail/header.h"

#include <string.h>

#include "core/limits.h"
#include "mail/rfc2047.h"

/* End of the line starting at pos: the index after its LF (or len). */
static size_t
line_end(const char *data, size_t len, size_t pos)
{
	const char *lf = memchr(data + pos, '\n', len - pos);
	return lf == NULL ? len : (size_t)(lf - data) + 1;
}

static bool
is_empty_line(const char *data, size_t len, size_t pos)
{
	if (pos < len && data[pos] == '\n')
		return true;
	return pos + 1 < len && data[pos] == '\r' && data[pos + 1] == '\n';
}

size_t
mail_header_size(const char *data, size_t len)
{
	size_t pos = 0;
	unsigned lines = 0;
	while (pos < len) {
		if (is_empty_line(data, len, pos))
			return pos + (data[pos] == '\r' ? 2 : 1);
		if (++lines > MIME_HEADER_LINES_MAX)
			return pos;
		pos = line_end(data, len, pos);
	}
	return len;
}

void
mail_header_iter_init(struct mail_header_iter *it, const char *data, size_t len)
{
	it->data = data;
	it->len = len;
	it->pos = 0;
}

bool
mail_header_iter_next(struct mail_header_iter *it, struct mail_header_field *f)
{
	const char *d = it->data;
	size_t len = it->len, start = it->pos;

	if (start >= len || is_empty_line(d, len, start))
		return false;
	/* the field runs until a line that does not start with WSP */
	size_t end = line_end(d, len, start);
	while (end < len && (d[end] == ' ' || d[end] == '\t'))
		end = line_end(d, len, end);
	it->pos = end;

	f->raw_off = start;
	f->raw_len = end - start;

	/* value ends before the last line end */
	size_t vend = end;
	if (vend > start && d[vend - 1] == '\n')
		vend--;
	if (vend > start && d[vend - 1] == '\r')
		vend--;

	const char *colon = memchr(d + start, ':', vend - start);
	/* a colon on a continuation line does not count */
	size_t first_end = line_end(d, vend, start);
	if (colon != NULL && (size_t)(colon - d) >= first_end)
		colon = NULL;
	size_t name_end = colon != NULL ? (size_t)(colon - d) : vend;
	if (colon == NULL) {
		/* no colon: a field without a name, which no lookup finds
		 * (Dovecot's envelope ignores such lines too) */
		name_end = start;
	}
	size_t ne = name_end;
	while (ne > start && (d[ne - 1] == ' ' || d[ne - 1] == '\t'))
		ne--;
	/* a name ends at a NUL byte, as for Dovecot, which keeps names as
	 * C strings */
	const char *nul = memchr(d + start, '\0', ne - start);
	if (nul != NULL)
		ne = (size_t)(nul - d);
	f->name = d + start;
	f->name_len = ne - start;

	size_t v = colon != NULL ? (size_t)(colon - d) + 1 : vend;
	/* leading white space of the first line only (Dovecot's
	 * SKIP_INITIAL_LWSP): a value that starts on the next line keeps
	 * that line break */
	while (v < vend && (d[v] == ' ' || d[v] == '\t'))
		v++;
	f->value = d + v;
	f->value_len = vend - v;
	return true;
}

int
mail_header_value_unfold(struct buf *out, const struct mail_header_field *f)
{
	const char *s = f->value;
	size_t n = f->value_len, i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '\r' && s[j] != '\n')
			j++;
		if (buf_append(out, s + i, j - i) < 0)
			return -1;
		while (j < n && (s[j] == '\r' || s[j] == '\n'))
			j++;
		i = j;
	}
	return 0;
}

int
mail_header_value_lf(struct buf *out, const struct mail_header_field *f,
		     bool replace_nul)
{
	const char *s = f->value;
	size_t n = f->value_len, i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '\r' && !(replace_nul && s[j] == '\0'))
			j++;
		if (buf_append(out, s + i, j - i) < 0)
			return -1;
		if (j >= n)
			break;
		if (s[j] == '\0') {
			if (buf_puts(out, NUL_REPLACEMENT) < 0)
				return -1;
		} else if (!(j + 1 < n && s[j + 1] == '\n')) {
			/* a CR that does not end a line stays */
			if (buf_putc(out, '\r') < 0)
				return -1;
		}
		i = j + 1;
	}
	return 0;
}

static bool
name_is(const struct mail_header_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && mem_eq_nocase(f->name, name, n);
}

bool
mail_header_find(const char *hdr, size_t hdr_len, const char *name, bool last,
		 struct mail_header_field *f)
{
	struct mail_header_iter it;
	struct mail_header_field cur;
	bool found = false;

	mail_header_iter_init(&it, hdr, hdr_len);
	while (mail_header_iter_next(&it, &cur)) {
		if (!name_is(&cur, name))
			continue;
		*f = cur;
		found = true;
		if (!last)
			break;
	}
	return found;
}

int
mail_header_get(struct buf *out, const char *hdr, size_t hdr_len,
		const char *name)
{
	struct mail_header_field f;
	if (!mail_header_find(hdr, hdr_len, name, false, &f))
		return 0;
	return mail_header_value_unfold(out, &f) < 0 ? -1 : 1;
}

int
mail_header_get_decoded(struct buf *out, const char *hdr, size_t hdr_len,
			const char *name)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	int count = 0;

	mail_header_iter_init(&it, hdr, hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		if (!name_is(&f, name))
			continue;
		if ((count > 0 && buf_putc(out, '\n') < 0) ||
		    rfc2047_decode(out, f.value, f.value_len) < 0)
			return -1;
		count++;
	}
	return count;
}

/* Appends raw lines, making every line end CRLF. */
static int
append_crlf_lines(struct buf *out, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(s + i, '\n', n - i);
		size_t j = lf == NULL ? n : (size_t)(lf - s);
		size_t k = j;
		if (k > i && s[k - 1] == '\r')
			k--;
		if (buf_append(out, s + i, k - i) < 0)
			return -1;
		if (lf == NULL)
			break;
		if (buf_puts(out, "\r\n") < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

static bool
ends_with_empty_line(const char *h, size_t n)
{
	if (n == 0 || h[n - 1] != '\n')
		return false;
	n--;
	if (n > 0 && h[n - 1] == '\r')
		n--;
	return n == 0 || h[n - 1] == '\n';
}

int
mail_header_write_fields(struct buf *out, const char *hdr, size_t hdr_len,
			 const char *const *names, size_t n, bool not)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t before = out->len;

	mail_header_iter_init(&it, hdr, hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		bool match = false;
		for (size_t i = 0; i < n && !match; i++)
			match = name_is(&f, names[i]);
		if (match == not)
			continue;
		if (append_crlf_lines(out, hdr + f.raw_off, f.raw_len) < 0)
			goto full;
	}
	/* Dovecot ends HEADER.FIELDS with the empty line always, and
	 * HEADER.FIELDS.NOT only when the header has one */
	if ((!not || ends_with_empty_line(hdr, hdr_len)) &&
	    buf_puts(out, "\r\n") < 0)
		goto full;
	return 0;
full:
	buf_truncate(out, before);
	return -1;
}
