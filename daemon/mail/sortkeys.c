/* sortkeys: the sort, thread and search keys of a message; see sortkeys.h. */
#include "mail/sortkeys.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "mail/address.h"
#include "mail/basesubject.h"
#include "mail/casefold.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

/* References kept per message: THREAD links at most this many (the nearest;
 * core/limits.h IMAP_THREAD_REFS_MAX is the same). */
#define SORTKEYS_REFS_MAX 256

size_t
mail_msgids(struct buf *out, const char *value, size_t len, size_t max)
{
	size_t count = 0;
	const char *p = value, *end = value + len;

	while (p < end && (max == 0 || count < max)) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			break;
		const char *q = lt + 1;
		bool at = false, plain = true;
		while (q < end && *q != '>') {
			if (*q == '@')
				at = true;
			else if (*q == '"' || *q == '(' || *q == '[')
				plain = false;
			q++;
		}
		if (q >= end)
			break;
		if (at && plain) {
			if (count > 0)
				buf_putc(out, ' ');
			for (const char *c = lt + 1; c < q; c++) {
				if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
					buf_putc(out, *c);
			}
			count++;
		}
		p = q + 1;
	}
	return count;
}

void
mail_search_text_folded(struct buf *out, const char *msg,
			const struct mime_part *root)
{
	struct buf text;
	buf_init(&text, MAIL_SEARCH_TEXT_MAX);
	mime_search_text(&text, msg, root);
	if (text.len > 0)
		(void)casefold_append(out, text.data, text.len);
	buf_free(&text);
}

static char *
buf_take(struct buf *b)
{
	char *s = xstrdup(buf_cstr(b));
	buf_free(b);
	return s;
}

/* The first address of an address field: its addr-mailbox, and its
 * display name (the address when it has none), case-mapped. */
static void
first_address(const char *value, size_t len, char **mailbox_r, char **display_r)
{
	struct buf mb = BUF_INIT, disp = BUF_INIT, tmp = BUF_INIT;
	struct mail_address *a = mail_address_parse(value, len, 1);
	if (a != NULL) {
		if (a->mailbox != NULL)
			mail_sort_casemap(&mb, a->mailbox, strlen(a->mailbox));
		if (display_r != NULL) {
			if (a->name != NULL && a->name[0] != '\0') {
				rfc2047_decode(&tmp, a->name, strlen(a->name));
			} else if (a->mailbox != NULL) {
				buf_puts(&tmp, a->mailbox);
				if (a->domain != NULL)
					buf_printf(&tmp, "@%s", a->domain);
			}
			mail_sort_casemap(&disp, tmp.data != NULL ? tmp.data : "",
					  tmp.len);
		}
	}
	mail_address_free(&a);
	buf_free(&tmp);
	*mailbox_r = buf_take(&mb);
	if (display_r != NULL)
		*display_r = buf_take(&disp);
	else
		buf_free(&disp);
}

struct mail_sortkeys *
mail_sortkeys_compute(const char *msg, size_t len, bool with_text)
{
	static const char *const names[] = {
		"Subject", "Date", "From", "To", "Cc", "Message-ID",
		"References", "In-Reply-To",
	};
	enum { F_SUBJECT, F_DATE, F_FROM, F_TO, F_CC, F_MSGID, F_REFS, F_IRT,
	       F_N };
	struct buf val[F_N];
	bool seen[F_N] = { false };
	struct mail_sortkeys *k = xcalloc(1, sizeof *k);

	for (int i = 0; i < F_N; i++)
		buf_init(&val[i], 0);
	size_t hl = mail_header_size(msg, len);
	struct mail_header_iter it;
	struct mail_header_field f;
	mail_header_iter_init(&it, msg, hl);
	while (mail_header_iter_next(&it, &f)) {
		for (int i = 0; i < F_N; i++) {
			/* the first field of each name counts */
			if (seen[i] || f.name_len != strlen(names[i]) ||
			    !mem_eq_nocase(f.name, names[i], f.name_len))
				continue;
			seen[i] = true;
			mail_header_value_unfold(&val[i], &f);
		}
	}
	const char *v[F_N];
	for (int i = 0; i < F_N; i++)
		v[i] = val[i].data != NULL ? val[i].data : "";

	struct buf b = BUF_INIT;
	k->reply = mail_base_subject(&b, v[F_SUBJECT], val[F_SUBJECT].len);
	k->subject = buf_take(&b);
	time_t t;
	int tz;
	if (seen[F_DATE] && mail_date_parse(v[F_DATE], val[F_DATE].len, &t, &tz) == 0 &&
	    t != 0) {
		k->has_date = true;
		k->sent_date = (int64_t)t;
	}
	first_address(v[F_FROM], val[F_FROM].len, &k->from, &k->display_from);
	first_address(v[F_TO], val[F_TO].len, &k->to, &k->display_to);
	first_address(v[F_CC], val[F_CC].len, &k->cc, NULL);
	buf_init(&b, 0);
	if (mail_msgids(&b, v[F_MSGID], val[F_MSGID].len, 1) > 0)
		k->message_id = xstrdup(buf_cstr(&b));
	buf_reset(&b);
	/* RFC 5256 §3 step 1: References, or when it holds no valid id,
	 * the first id of In-Reply-To */
	size_t n = mail_msgids(&b, v[F_REFS], val[F_REFS].len, 0);
	if (n > SORTKEYS_REFS_MAX) {
		/* the nearest ones */
		const char *p = buf_cstr(&b);
		for (size_t skip = n - SORTKEYS_REFS_MAX; skip > 0; skip--)
			p = strchr(p, ' ') + 1;
		k->refs = xstrdup(p);
	} else if (n > 0) {
		k->refs = xstrdup(buf_cstr(&b));
	} else {
		buf_reset(&b);
		if (mail_msgids(&b, v[F_IRT], val[F_IRT].len, 1) > 0)
			k->refs = xstrdup(buf_cstr(&b));
	}
	buf_free(&b);
	for (int i = 0; i < F_N; i++)
		buf_free(&val[i]);

	if (with_text) {
		struct mime_part *root = mime_parse(msg, len);
		buf_init(&b, 0);
		mail_search_text_folded(&b, msg, root);
		struct buf fields[MAIL_SEARCH_FIELDS];
		for (int i = 0; i < MAIL_SEARCH_FIELDS; i++)
			buf_init(&fields[i], 0);
		mail_search_fields(fields, msg, root);
		for (int i = 0; i < MAIL_SEARCH_FIELDS; i++) {
			k->fields_len[i] = fields[i].len;
			k->fields[i] = buf_steal(&fields[i]);
		}
		struct buf pv = BUF_INIT;
		mail_preview_compute(msg, root, &pv);
		k->preview = buf_take(&pv);
		mime_part_free(&root);
		if (b.len == 0 || memchr(b.data, '\0', b.len) == NULL) {
			k->text_len = b.len;
			k->text = buf_take(&b);
		} else {
			buf_free(&b);
		}
	}
	return k;
}

void
mail_sortkeys_free(struct mail_sortkeys **kp)
{
	struct mail_sortkeys *k = *kp;
	if (k == NULL)
		return;
	free(k->subject);
	free(k->from);
	free(k->to);
	free(k->cc);
	free(k->display_from);
	free(k->display_to);
	free(k->message_id);
	free(k->refs);
	free(k->text);
	for (int i = 0; i < MAIL_SEARCH_FIELDS; i++)
		free(k->fields[i]);
	free(k->preview);
	free(k);
	*kp = NULL;
}
