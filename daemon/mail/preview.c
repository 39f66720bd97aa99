/*
 * preview: the PREVIEW of a message (RFC 8970 §3.1): the start of its
 * first text part (text/plain preferred, else text/html reduced to its
 * text as SEARCH reads it, mail/htmltext.h), decoded to UTF-8, blanks
 * collapsed, at most
 * MAIL_PREVIEW_CHARS characters.  Computed with the sort keys
 * (mail/sortkeys.h) by the background indexer, or by FETCH PREVIEW first,
 * and kept per message file by the store.
 */
#include <string.h>

#include "core/buf.h"
#include "mail/htmltext.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"

/* §3.1: no more than 256 characters; Dovecot sends up to 200 */
#define MAIL_PREVIEW_CHARS 200

static const struct mime_part *
first_text(const struct mime_part *p, const char *subtype)
{
	for (; p != NULL; p = p->next) {
		if (p->children != NULL) {
			/* not into attached messages */
			if (p->flags & MIME_PART_MESSAGE)
				continue;
			const struct mime_part *t = first_text(p->children, subtype);
			if (t != NULL)
				return t;
			continue;
		}
		bool text = p->type == NULL || str_eq_nocase(p->type, "text");
		const char *sub = p->subtype != NULL ? p->subtype : "plain";
		bool attached = p->disposition != NULL &&
				str_eq_nocase(p->disposition, "attachment");
		if (text && !attached && str_eq_nocase(sub, subtype))
			return p;
	}
	return NULL;
}

void
mail_preview_compute(const char *msg, const struct mime_part *root,
		     struct buf *out)
{
	bool html = false;
	const struct mime_part *p = first_text(root, "plain");
	if (p == NULL) {
		p = first_text(root, "html");
		html = true;
	}
	if (p == NULL)
		return;
	/* enough of the body for the preview, however it is encoded */
	size_t take = p->body_len < 64 * 1024 ? p->body_len : 64 * 1024;
	struct buf dec = BUF_INIT, text = BUF_INIT;
	const char *enc = p->encoding;
	if (enc != NULL && str_eq_nocase(enc, "base64"))
		mime_base64_decode(&dec, msg + p->body_off, take);
	else if (enc != NULL && str_eq_nocase(enc, "quoted-printable"))
		mime_qp_decode(&dec, msg + p->body_off, take, false);
	else
		buf_append(&dec, msg + p->body_off, take);
	const char *data = dec.data ? dec.data : "";
	const char *cs = mime_part_charset(p);
	char meta[MAIL_HTML_CHARSET_MAX];
	if (html && cs == NULL && mail_html_meta_charset(data, dec.len, meta, sizeof meta))
		cs = meta;
	if (cs != NULL && charset_is_known(cs))
		charset_to_utf8(&text, cs, data, dec.len);
	else
		buf_append(&text, data, dec.len);
	if (html) {
		/* no markup, style sheet or script in a preview */
		struct buf t = BUF_INIT;
		mail_html_text(&t, text.data ? text.data : "", text.len);
		buf_free(&text);
		text = t;
	}
	/* collapse blanks, drop controls, count characters */
	size_t chars = 0;
	bool blank = false;
	const unsigned char *s = (const unsigned char *)(text.data ? text.data : "");
	for (size_t i = 0; i < text.len && chars < MAIL_PREVIEW_CHARS; i++) {
		unsigned char c = s[i];
		if (c <= 0x20 || c == 0x7f) {
			blank = out->len > 0;
			continue;
		}
		if (blank) {
			buf_putc(out, ' ');
			chars++;
			blank = false;
		}
		/* a whole UTF-8 sequence, or nothing of it */
		size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (n == 0 || i + n > text.len)
			continue;
		bool whole = true;
		for (size_t k = 1; k < n; k++)
			whole &= (s[i + k] & 0xc0) == 0x80;
		if (!whole)
			continue;
		buf_append(out, s + i, n);
		i += n - 1;
		chars++;
	}
	buf_free(&dec);
	buf_free(&text);
}
