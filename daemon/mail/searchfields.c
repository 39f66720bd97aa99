/* searchfields: the text of SEARCH BODY and the header keys; see
 * searchfields.h. */
#include "mail/searchfields.h"

#include <string.h>

#include "mail/address.h"
#include "mail/casefold.h"
#include "mail/header.h"
#include "mail/htmltext.h"
#include "mail/rfc2047.h"

static const char *const field_names[MAIL_SEARCH_FIELDS] = {
	"Subject", "From", "To", "Cc", "Bcc", NULL,
};

const char *
mail_search_field_header(enum mail_search_field f)
{
	return (unsigned)f < MAIL_SEARCH_FIELDS ? field_names[f] : NULL;
}

/* Appends the case folding of b's text. */
static void
fold_into(struct buf *out, const struct buf *b)
{
	if (b->len > 0)
		(void)casefold_append(out, b->data, b->len);
}

/* An address field as its addresses say it, one per line. */
static void
addresses_text(struct buf *out, const char *value, size_t len)
{
	struct mail_address *list = mail_address_parse(value, len, 1000);
	for (const struct mail_address *a = list; a != NULL; a = a->next) {
		if (a->mailbox == NULL || a->domain == NULL)
			continue;	/* a group's start or end */
		if (a->name != NULL) {
			rfc2047_decode(out, a->name, strlen(a->name));
			buf_putc(out, ' ');
		}
		buf_printf(out, "<%s@%s>\n", a->mailbox, a->domain);
	}
	mail_address_free(&list);
}

void
mail_search_field_text(struct buf *out, const char *value, size_t len,
		       bool address)
{
	struct buf dec;
	buf_init(&dec, MAIL_SEARCH_FIELD_MAX);
	rfc2047_decode(&dec, value, len);
	if (address) {
		buf_putc(&dec, '\n');
		addresses_text(&dec, value, len);
	}
	fold_into(out, &dec);
	buf_free(&dec);
}

static void
body_text(const char *msg, const struct mime_part *p, struct buf *out)
{
	for (; p != NULL; p = p->next) {
		if (p->children != NULL) {
			body_text(msg, p->children, out);
			continue;
		}
		if (p->type != NULL && !str_eq_nocase(p->type, "text"))
			continue;
		const char *b = msg + p->body_off;
		struct buf dec = BUF_INIT;
		const char *enc = p->encoding;
		if (enc != NULL && str_eq_nocase(enc, "base64"))
			mime_base64_decode(&dec, b, p->body_len);
		else if (enc != NULL && str_eq_nocase(enc, "quoted-printable"))
			mime_qp_decode(&dec, b, p->body_len, false);
		else
			buf_append(&dec, b, p->body_len);
		const char *data = dec.data ? dec.data : "";
		const char *cs = mime_part_charset(p);
		bool html = mail_html_is_html(p->type, p->subtype);
		char meta[MAIL_HTML_CHARSET_MAX];
		if (html && cs == NULL &&
		    mail_html_meta_charset(data, dec.len, meta, sizeof meta))
			cs = meta;
		struct buf text = BUF_INIT;
		if (cs != NULL && charset_is_known(cs))
			charset_to_utf8(&text, cs, data, dec.len);
		else
			buf_append(&text, data, dec.len);
		/* HTML: what a reader sees of it (mail/htmltext.h), as the
		 * text of TEXT has it (searchtext.c) */
		if (html)
			mail_html_text(out, text.data ? text.data : "", text.len);
		else
			buf_append(out, text.data ? text.data : "", text.len);
		buf_putc(out, '\n');
		buf_free(&text);
		buf_free(&dec);
	}
}

void
mail_search_body_folded(struct buf *out, const char *msg,
			const struct mime_part *root)
{
	struct buf text;
	buf_init(&text, MAIL_SEARCH_BODY_MAX);
	body_text(msg, root, &text);
	fold_into(out, &text);
	buf_free(&text);
}

void
mail_search_fields(struct buf out[MAIL_SEARCH_FIELDS], const char *msg,
		   const struct mime_part *root)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	struct buf raw = BUF_INIT;

	mail_header_iter_init(&it, msg, root->hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		for (int i = 0; i < MAIL_SEARCH_BODY; i++) {
			if (f.name_len != strlen(field_names[i]) ||
			    !mem_eq_nocase(f.name, field_names[i], f.name_len))
				continue;
			buf_reset(&raw);
			mail_header_value_unfold(&raw, &f);
			mail_search_field_text(&out[i], raw.data ? raw.data : "",
					       raw.len, i != MAIL_SEARCH_SUBJECT);
			buf_putc(&out[i], '\n');
		}
	}
	buf_free(&raw);
	mail_search_body_folded(&out[MAIL_SEARCH_BODY], msg, root);
	for (int i = 0; i < MAIL_SEARCH_FIELDS; i++) {
		for (size_t j = 0; j < out[i].len; j++) {
			if (out[i].data[j] == '\0')
				out[i].data[j] = (char)0xff;
		}
	}
}
