/* searchtext: the decoded text of a message for SEARCH and the full-text
 * index; see mime.h. */
#include "mail/mime.h"

#include <string.h>

#include "mail/header.h"
#include "mail/htmltext.h"
#include "mail/rfc2047.h"

/* Appends what fits of p[0..n) (valid UTF-8 in, cut at a character
 * boundary); -1 when it did not all fit. */
static int
append_bounded(struct buf *out, const char *p, size_t n)
{
	if (out->max == 0 || out->len + n <= out->max)
		return buf_append(out, p, n);
	size_t room = out->max - out->len;
	while (room > 0 && ((unsigned char)p[room] & 0xc0) == 0x80)
		room--;
	buf_append(out, p, room);
	return -1;
}

static int
header_text(struct buf *out, const char *hdr, size_t hdr_len)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	struct buf line = BUF_INIT;
	int ret = 0;

	mail_header_iter_init(&it, hdr, hdr_len);
	while (ret == 0 && mail_header_iter_next(&it, &f)) {
		buf_reset(&line);
		charset_to_utf8(&line, "utf-8", f.name, f.name_len);
		buf_puts(&line, ": ");
		rfc2047_decode(&line, f.value, f.value_len);
		buf_putc(&line, '\n');
		ret = append_bounded(out, line.data, line.len);
	}
	buf_free(&line);
	return ret;
}

static int
body_text(struct buf *out, const char *msg, const struct mime_part *part)
{
	const char *body = msg + part->body_off;
	struct buf raw = BUF_INIT, text = BUF_INIT;
	const char *enc = part->encoding;
	const char *data = body;
	size_t len = part->body_len;

	if (enc != NULL && str_eq_nocase(enc, "base64")) {
		mime_base64_decode(&raw, body, len);
		data = raw.data != NULL ? raw.data : "";
		len = raw.len;
	} else if (enc != NULL && str_eq_nocase(enc, "quoted-printable")) {
		mime_qp_decode(&raw, body, len, false);
		data = raw.data != NULL ? raw.data : "";
		len = raw.len;
	}
	const char *cs = mime_part_charset(part);
	bool html = mail_html_is_html(part->type, part->subtype);
	char meta[MAIL_HTML_CHARSET_MAX];
	if (html && cs == NULL && mail_html_meta_charset(data, len, meta, sizeof meta))
		cs = meta;
	if (cs == NULL || charset_to_utf8(&text, cs, data, len) == 0) {
		/* unknown charset: the bytes as they are, made valid */
		charset_to_utf8(&text, "utf-8", data, len);
	}
	if (html) {
		/* what a reader sees of it, as BODY's text (searchfields.c) */
		struct buf t = BUF_INIT;
		mail_html_text(&t, text.data != NULL ? text.data : "", text.len);
		buf_free(&text);
		text = t;
	}
	int ret = 0;
	if (text.len > 0) {
		ret = append_bounded(out, text.data, text.len);
		if (ret == 0 && text.data[text.len - 1] != '\n')
			ret = append_bounded(out, "\n", 1);
	}
	buf_free(&raw);
	buf_free(&text);
	return ret;
}

static int
part_text(struct buf *out, const char *msg, const struct mime_part *part,
	  bool is_message)
{
	if (is_message &&
	    header_text(out, msg + part->hdr_off, part->hdr_len) < 0)
		return -1;
	if ((part->flags & MIME_PART_MULTIPART) != 0) {
		for (const struct mime_part *c = part->children; c != NULL;
		     c = c->next) {
			if (part_text(out, msg, c, false) < 0)
				return -1;
		}
		return 0;
	}
	if ((part->flags & MIME_PART_MESSAGE) != 0 && part->children != NULL)
		return part_text(out, msg, part->children, true);
	if ((part->flags & MIME_PART_TEXT) != 0)
		return body_text(out, msg, part);
	return 0;
}

void
mime_search_text(struct buf *out, const char *msg, const struct mime_part *root)
{
	(void)part_text(out, msg, root, true);
}
