/* imapstruct: ENVELOPE, BODY/BODYSTRUCTURE and section lookup for IMAP
 * (RFC 3501 §7.4.2, §6.4.5); see mime.h.  Written the way Dovecot 2.3's
 * lib-imap/imap-envelope.c and imap-bodystructure.c write them. */
#include "mail/mime.h"

#include <string.h>

#include "core/limits.h"
#include "mail/address.h"
#include "mail/header.h"
#include "mail/imapquote.h"

/* RFC 2045 §5.2 default charset, as Dovecot writes it */
#define DEFAULT_CHARSET "us-ascii"
#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"" DEFAULT_CHARSET \
	"\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_BODYSTRUCTURE "(\"text\" \"plain\" (\"charset\" \"" \
	DEFAULT_CHARSET "\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"

enum env_field {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"In-Reply-To", "Message-ID",
};

static void
write_nstr_nolf(struct buf *out, const char *s)
{
	imap_append_nstring_nolf(out, s, s != NULL ? strlen(s) : 0);
}

static void
write_str(struct buf *out, const char *s)
{
	imap_append_string(out, s, strlen(s));
}

static void
envelope_append(struct buf *out, const char *hdr, size_t hdr_len)
{
	/* Text fields: the last occurrence counts, NUL as U+FFFD.  Address
	 * fields: every occurrence adds its addresses, parsed raw since the
	 * address parser stops at NUL.  Both as Dovecot 2.3 does it. */
	char *val[ENV_COUNT] = { NULL };
	struct mail_address *addr[ENV_COUNT] = { NULL }, *tail[ENV_COUNT] = { NULL };
	struct mail_header_iter it;
	struct mail_header_field f;
	struct buf v = BUF_INIT;
	size_t addr_budget = MIME_ENVELOPE_FIELD_MAX;

	mail_header_iter_init(&it, hdr, hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		for (int i = 0; i < ENV_COUNT; i++) {
			size_t n = strlen(env_names[i]);
			if (f.name_len != n ||
			    !mem_eq_nocase(f.name, env_names[i], n))
				continue;
			bool is_addr = i >= ENV_FROM && i <= ENV_BCC;
			/* no field costs more than the limit (Dovecot takes
			 * all of a field, up to its 10 MiB header limit) */
			if (f.value_len > MIME_ENVELOPE_FIELD_MAX)
				f.value_len = MIME_ENVELOPE_FIELD_MAX;
			buf_reset(&v);
			mail_header_value_lf(&v, &f, !is_addr);
			if (!is_addr) {
				free(val[i]);
				val[i] = xstrndup(buf_cstr(&v), v.len);
				break;
			}
			/* a parsed address takes many times its bytes: a
			 * header of a million addresses stops at the limit,
			 * after the last comma that fits */
			if (v.len > addr_budget) {
				const char *comma = addr_budget == 0 ? NULL :
					memrchr(v.data, ',', addr_budget);
				buf_truncate(&v, comma != NULL ?
					     (size_t)(comma - v.data) : 0);
				addr_budget = 0;
			} else {
				addr_budget -= v.len;
			}
			struct mail_address *l = v.len == 0 ? NULL :
				mail_address_parse(buf_cstr(&v), v.len, 0);
			if (l == NULL)
				break;
			if (tail[i] == NULL)
				addr[i] = l;
			else
				tail[i]->next = l;
			for (tail[i] = l; tail[i]->next != NULL;)
				tail[i] = tail[i]->next;
			break;
		}
	}
	buf_free(&v);

	/* folded values lose their line breaks (Dovecot 2.3 writes these
	 * with imap_append_nstring_nolf) */
	write_nstr_nolf(out, val[ENV_DATE]);
	buf_putc(out, ' ');
	if (val[ENV_SUBJECT] == NULL)
		buf_puts(out, "NIL");
	else
		imap_append_string_for_humans(out, val[ENV_SUBJECT],
					      strlen(val[ENV_SUBJECT]));
	for (int i = ENV_FROM; i <= ENV_BCC; i++) {
		const struct mail_address *a = addr[i];
		/* RFC 3501 §7.4.2: sender and reply-to default to from */
		if (a == NULL && (i == ENV_SENDER || i == ENV_REPLY_TO))
			a = addr[ENV_FROM];
		buf_putc(out, ' ');
		mail_address_write_imap(out, a);
	}
	buf_putc(out, ' ');
	write_nstr_nolf(out, val[ENV_IN_REPLY_TO]);
	buf_putc(out, ' ');
	write_nstr_nolf(out, val[ENV_MESSAGE_ID]);

	for (int i = 0; i < ENV_COUNT; i++) {
		free(val[i]);
		mail_address_free(&addr[i]);
	}
}

/* Commits tmp to out whole, or leaves out unchanged. */
static int
commit(struct buf *out, struct buf *tmp)
{
	int ret = buf_append(out, tmp->data, tmp->len);
	buf_free(tmp);
	return ret;
}

int
mime_write_envelope(struct buf *out, const char *hdr, size_t hdr_len)
{
	struct buf tmp = BUF_INIT;
	envelope_append(&tmp, hdr, hdr_len);
	return commit(out, &tmp);
}

static void
params_write(struct buf *out, const struct mime_param *p, size_t n,
	     bool default_charset)
{
	bool seen_charset = false;
	if (!default_charset && n == 0) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		if (str_eq_nocase(p[i].name, "charset"))
			seen_charset = true;
		write_str(out, p[i].name);
		buf_putc(out, ' ');
		write_str(out, p[i].value);
	}
	if (default_charset && !seen_charset) {
		if (n > 0)
			buf_putc(out, ' ');
		buf_puts(out, "\"charset\" \"" DEFAULT_CHARSET "\"");
	}
	buf_putc(out, ')');
}

/* disposition, language, location: the tail of both extension forms */
static void
write_common_ext(struct buf *out, const struct mime_part *part)
{
	buf_putc(out, ' ');
	if (part->disposition == NULL) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		write_str(out, part->disposition);
		buf_putc(out, ' ');
		params_write(out, part->disposition_params,
			     part->disposition_params_count, false);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (part->languages_count == 0) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		for (size_t i = 0; i < part->languages_count; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			write_str(out, part->languages[i]);
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	write_nstr_nolf(out, part->location);
}

static void write_part(struct buf *out, const char *msg,
		       const struct mime_part *part, bool extended);

static void
write_multipart(struct buf *out, const char *msg, const struct mime_part *part,
		bool extended)
{
	if (part->children == NULL) {
		/* a multipart without parts is not allowed: write one empty
		 * text/plain part, as Dovecot does */
		buf_puts(out, extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY);
	}
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		buf_putc(out, '(');
		write_part(out, msg, c, extended);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	write_str(out, part->subtype != NULL ? part->subtype : "x-unknown");
	if (!extended)
		return;
	buf_putc(out, ' ');
	params_write(out, part->type_params, part->type_params_count, false);
	write_common_ext(out, part);
}

static void
write_single(struct buf *out, const char *msg, const struct mime_part *part,
	     bool extended)
{
	bool text;
	if ((part->flags & MIME_PART_MESSAGE) != 0) {
		buf_puts(out, "\"message\" \"rfc822\"");
		text = false;
	} else if (part->type == NULL) {
		buf_puts(out, "\"text\" \"plain\"");
		text = true;
	} else {
		text = str_eq_nocase(part->type, "text");
		write_str(out, part->type);
		buf_putc(out, ' ');
		write_str(out, part->subtype);
	}
	buf_putc(out, ' ');
	params_write(out, part->type_params, part->type_params_count, text);
	buf_putc(out, ' ');
	write_nstr_nolf(out, part->id);
	buf_putc(out, ' ');
	write_nstr_nolf(out, part->description);
	buf_putc(out, ' ');
	if (part->encoding != NULL)
		write_str(out, part->encoding);
	else
		buf_puts(out, "\"7bit\"");
	buf_printf(out, " %zu", part->body_len);
	if (text) {
		buf_printf(out, " %zu", part->body_lines);
	} else if ((part->flags & MIME_PART_MESSAGE) != 0 &&
		   part->children != NULL) {
		const struct mime_part *m = part->children;
		buf_puts(out, " (");
		envelope_append(out, msg + m->hdr_off, m->hdr_len);
		buf_puts(out, ") (");
		write_part(out, msg, m, extended);
		buf_printf(out, ") %zu", part->body_lines);
	}
	if (!extended)
		return;
	buf_putc(out, ' ');
	write_nstr_nolf(out, part->md5);
	write_common_ext(out, part);
}

static void
write_part(struct buf *out, const char *msg, const struct mime_part *part,
	   bool extended)
{
	if ((part->flags & MIME_PART_MULTIPART) != 0)
		write_multipart(out, msg, part, extended);
	else
		write_single(out, msg, part, extended);
}

int
mime_write_bodystructure(struct buf *out, const char *msg,
			 const struct mime_part *root, bool extended)
{
	struct buf tmp = BUF_INIT;
	write_part(&tmp, msg, root, extended);
	return commit(out, &tmp);
}

void
mime_imap_cache(const char *msg, size_t len, char **envelope_r,
		char **bodystructure_r)
{
	struct mime_part *root = mime_parse(msg, len);
	struct buf env = BUF_INIT, bs = BUF_INIT;
	envelope_append(&env, msg, root->hdr_len);
	write_part(&bs, msg, root, true);
	mime_part_free(&root);
	*envelope_r = buf_steal(&env);
	*bodystructure_r = buf_steal(&bs);
}

/* Reads the next number of a part path; 0 when malformed. */
static unsigned
next_number(const char **p, const char *end)
{
	unsigned n = 0;
	if (*p >= end || **p < '1' || **p > '9')
		return 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (n > 100000)
			return 0;
		n = n * 10 + (unsigned)(**p - '0');
		(*p)++;
	}
	if (*p < end) {
		if (**p != '.')
			return 0;
		(*p)++;
		if (*p >= end)
			return 0;
	}
	return n;
}

static const struct mime_part *
nth_child(const struct mime_part *part, unsigned n)
{
	const struct mime_part *c = part->children;
	while (c != NULL && --n > 0)
		c = c->next;
	return c;
}

int
mime_section_find(const struct mime_part *root, const char *path, size_t len,
		  enum mime_section what, size_t *off_r, size_t *len_r)
{
	const struct mime_part *part = root;
	/* the message whose header and text HEADER and TEXT mean */
	const struct mime_part *msg = root;
	const char *p = path, *end = path + len;
	bool stayed = false;

	/* RFC 3501 §6.4.5 part numbers, resolved the way Dovecot 2.3 does
	 * (imap-msgpart.c): the parts of a multipart are 1..n; a part that
	 * is not a multipart has one part, 1, itself (once: "1.1" of a
	 * message that is not multipart does not exist); a message/rfc822
	 * part followed by more numbers stands for the message it holds. */
	while (p < end) {
		unsigned n = next_number(&p, end);
		if (n == 0)
			return -1;
		if ((part->flags & MIME_PART_MULTIPART) != 0) {
			part = nth_child(part, n);
			stayed = false;
		} else {
			if (n != 1 || stayed)
				return -1;
			stayed = true;
		}
		if (part == NULL)
			return -1;
		if ((part->flags & MIME_PART_MESSAGE) != 0 &&
		    part->children != NULL && p < end) {
			part = part->children;
			stayed = false;
		}
	}

	switch (what) {
	case MIME_SECTION_ALL:
		if (len == 0) {
			*off_r = root->hdr_off;
			*len_r = root->body_off + root->body_len - root->hdr_off;
		} else {
			*off_r = part->body_off;
			*len_r = part->body_len;
		}
		return 0;
	case MIME_SECTION_MIME:
		if (len == 0)
			return -1;
		*off_r = part->hdr_off;
		*len_r = part->hdr_len;
		return 0;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_TEXT:
		if (len > 0) {
			if ((part->flags & MIME_PART_MESSAGE) == 0 ||
			    part->children == NULL)
				return -1;
			msg = part->children;
		}
		if (what == MIME_SECTION_HEADER) {
			*off_r = msg->hdr_off;
			*len_r = msg->hdr_len;
		} else {
			*off_r = msg->body_off;
			*len_r = msg->body_len;
		}
		return 0;
	}
	return -1;
}
