/*
 * tlsrpt_mail: a TLS report that came as a message (see tlsrpt_mail.h).
 */
#include "mail/tlsrpt_mail.h"

#include <string.h>

#include "core/xmalloc.h"
#include "mail/address.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"

/* The longest From field read (a report's names one address). */
#define TLSRPT_FROM_MAX 4096

/* Whether p has the media type of a report (RFC 8460 §6.4, §6.5). */
static bool
is_report_part(const struct mime_part *p)
{
	return p->type != NULL && p->subtype != NULL && str_eq_nocase(p->type, "application") &&
	       (str_eq_nocase(p->subtype, "tlsrpt+gzip") ||
		str_eq_nocase(p->subtype, "tlsrpt+json"));
}

/* Whether needle (lowercase) is in p[0..n), in any case. */
static bool
contains_nocase(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++) {
		if ((p[i] | 0x20) == needle[0] && mem_eq_nocase(p + i, needle, k))
			return true;
	}
	return false;
}

bool
tlsrpt_mail_announced(const char *hdr, size_t len)
{
	struct mail_header_field f;
	size_t hlen = mail_header_size(hdr, len);
	/* every message passes here: most go without a parse (both ways of
	 * announcing a report name "tlsrpt" or TLS-Report-Domain) */
	if (!contains_nocase(hdr, hlen, "tlsrpt") &&
	    !contains_nocase(hdr, hlen, "tls-report-domain"))
		return false;
	if (mail_header_find(hdr, hlen, "TLS-Report-Domain", false, &f))
		return true;
	/* the top-level Content-Type, as the MIME parser reads it */
	struct mime_part *root = mime_parse(hdr, hlen);
	bool yes = is_report_part(root);
	if (!yes && root->type != NULL && root->subtype != NULL &&
	    str_eq_nocase(root->type, "multipart") && str_eq_nocase(root->subtype, "report")) {
		const char *rt = mime_param_get(root->type_params, root->type_params_count,
						"report-type");
		yes = rt != NULL && str_eq_nocase(rt, "tlsrpt");
	}
	mime_part_free(&root);
	return yes;
}

char *
tlsrpt_mail_from_domain(const char *hdr, size_t len)
{
	struct mail_header_iter it;
	struct mail_header_field f, from;
	unsigned n_from = 0;
	mail_header_iter_init(&it, hdr, mail_header_size(hdr, len));
	while (mail_header_iter_next(&it, &f)) {
		if (f.name_len == 4 && mem_eq_nocase(f.name, "From", 4)) {
			from = f;
			n_from++;
		}
	}
	if (n_from != 1)
		return NULL;
	struct buf v = BUF_INIT;
	buf_init(&v, TLSRPT_FROM_MAX);
	char *domain = NULL;
	if (mail_header_value_unfold(&v, &from) == 0) {
		struct mail_address *list = mail_address_parse(buf_cstr(&v), v.len, 2);
		if (list != NULL && list->next == NULL && !list->invalid &&
		    list->domain != NULL && list->domain[0] != '\0') {
			domain = xstrdup(list->domain);
			str_lower(domain);
		}
		mail_address_free(&list);
	}
	buf_free(&v);
	return domain;
}

/* The first report part under p (p included), depth first, or NULL. */
static const struct mime_part *
find_part(const struct mime_part *p)
{
	/* the tree is at most MIME_DEPTH_MAX deep (mime.h) */
	for (; p != NULL; p = p->next) {
		if (is_report_part(p))
			return p;
		const struct mime_part *in = find_part(p->children);
		if (in != NULL)
			return in;
	}
	return NULL;
}

int
tlsrpt_mail_part(const char *msg, size_t len, struct buf *out, const char **error_r)
{
	struct mime_part *root = mime_parse(msg, len);
	const struct mime_part *p = find_part(root);
	int ret = 1;
	if (p == NULL) {
		mime_part_free(&root);
		return 0;
	}
	size_t before = out->len, max = out->max;
	/* bound what the encoded part may grow to, whatever out allowed */
	if (out->max == 0 || out->max > before + TLSRPT_MAIL_MAX)
		out->max = before + TLSRPT_MAIL_MAX;
	const char *body = msg + p->body_off;
	const char *enc = p->encoding;
	if (enc == NULL || str_eq_nocase(enc, "7bit") || str_eq_nocase(enc, "8bit") ||
	    str_eq_nocase(enc, "binary"))
		ret = buf_append(out, body, p->body_len) < 0 ? -1 : 1;
	else if (str_eq_nocase(enc, "base64"))
		ret = mime_base64_decode(out, body, p->body_len) < 0 ? -1 : 1;
	else if (str_eq_nocase(enc, "quoted-printable"))
		ret = mime_qp_decode(out, body, p->body_len, false) < 0 ? -1 : 1;
	else {
		*error_r = "the report part has an unknown Content-Transfer-Encoding";
		ret = -2;
	}
	if (ret == -1)
		*error_r = "the report part is too large";
	else if (ret == 1 && out->len == before) {
		*error_r = "the report part is empty";
		ret = -1;
	}
	out->max = max;
	mime_part_free(&root);
	return ret < 0 ? -1 : ret;
}

int
tlsrpt_mail_decode(const char *msg, size_t len, struct tlsrpt_report *r, const char **error_r)
{
	memset(r, 0, sizeof *r);
	struct buf part = BUF_INIT;
	int ret = tlsrpt_mail_part(msg, len, &part, error_r);
	if (ret == 1 && tlsrpt_report_decode(part.data, part.len, r, error_r) < 0)
		ret = -1;
	buf_free(&part);
	return ret;
}
