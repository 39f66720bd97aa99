/*
 * authres: Authentication-Results (see authres.h).
 */
#include "trust/authres.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mail/header.h"
#include "trust/arc.h"
#include "trust/dkim_verify.h"
#include "trust/header_text.h"

/* RFC 8601 §2.2: the least prefix of b= in header.b (RFC 6008 §4). */
#define B_PREFIX_MIN 8
/* Comments nest; deeper than this is not a header anyone writes. */
#define COMMENT_DEPTH_MAX 32

void
authres_result_prop(struct authres_result *r, const char *ptype, const char *property,
		    const char *value, size_t value_len)
{
	if (r->n_props == AUTHRES_PROPS_MAX || value == NULL)
		return;
	struct authres_prop *p = &r->props[r->n_props++];
	p->ptype = ptype;
	p->property = property;
	p->value = value;
	p->value_len = value_len;
}

void
authres_result_free(struct authres_result *r)
{
	buf_free(&r->scratch);
	r->comment = NULL;
}

/* RFC 2045 §5.1: token characters (not space, CTLs or tspecials). */
static bool
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 §3.2.3 atext, and '.' between atoms. */
static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static bool
is_domain(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

/* RFC 8601 §2.2 pvalue: [ [ local-part ] "@" ] domain-name may stand
 * unquoted, so an address reads as one. */
static bool
is_bare_address(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	if (at == NULL)
		return is_domain(s, n);
	for (const char *p = s; p < at; p++)
		if (!is_atext((unsigned char)*p))
			return false;
	if (at > s && (s[0] == '.' || at[-1] == '.'))
		return false;
	return is_domain(at + 1, n - (size_t)(at + 1 - s));
}

/* Not header_put_value() (trust/header_text.h): a dot-atom may hold '/',
 * '=' and '?', which a pvalue must quote (a b= prefix has them). */
static void
put_quoted(struct buf *out, const char *s, size_t n)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_putc(out, '\\');
		buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	buf_putc(out, '"');
}

static void
put_value(struct buf *out, const char *s, size_t n)
{
	bool token = n > 0;
	for (size_t i = 0; i < n && token; i++)
		token = is_token_char((unsigned char)s[i]);
	if (token || is_bare_address(s, n))
		buf_append(out, s, n);
	else
		put_quoted(out, s, n);
}

void
authres_build(struct buf *out, const char *authserv_id,
	      const struct authres_result *results, size_t n)
{
	buf_puts(out, "Authentication-Results: ");
	put_value(out, authserv_id, strlen(authserv_id));
	if (n == 0) {
		buf_puts(out, "; none\r\n");	/* §2.2: no method was run */
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct authres_result *r = &results[i];
		buf_puts(out, ";\r\n\t");
		if (r->text != NULL) {
			buf_puts(out, r->text);
			continue;
		}
		buf_printf(out, "%s=%s", r->method, r->result);
		if (r->comment != NULL) {
			buf_puts(out, " (");
			header_put_ctext(out, r->comment);
			buf_putc(out, ')');
		}
		if (r->reason != NULL) {
			buf_puts(out, " reason=");
			put_quoted(out, r->reason, strlen(r->reason));
		}
		for (size_t k = 0; k < r->n_props; k++) {
			const struct authres_prop *p = &r->props[k];
			buf_printf(out, " %s.%s=", p->ptype, p->property);
			put_value(out, p->value, p->value_len != 0 ? p->value_len : strlen(p->value));
		}
	}
	buf_puts(out, "\r\n");
}

size_t
authres_dkim_b_prefix(const struct dkim_sig_result *const *r, size_t n)
{
	size_t want = B_PREFIX_MIN;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			const char *a = r[i]->b, *b = r[j]->b;
			if (a == NULL || b == NULL)
				continue;
			size_t c = 0;
			while (a[c] != '\0' && a[c] == b[c])
				c++;
			if (c + 1 > want)
				want = c + 1;
		}
	}
	return want;
}

void
authres_from_dkim(const struct dkim_sig_result *r, size_t b_prefix,
		  struct authres_result *out)
{
	memset(out, 0, sizeof *out);
	out->method = "dkim";
	out->result = dkim_status_name(r->status);
	if (r->status != DKIM_PASS)
		out->reason = r->reason;
	if (r->testing)
		buf_puts(&out->scratch, "key in testing mode");
	/* l=: the body past the signed length is nobody's word */
	if (r->length_limited && r->length < r->body_length)
		buf_printf(&out->scratch, "%sonly %llu of %llu body bytes signed",
			   out->scratch.len > 0 ? "; " : "", (unsigned long long)r->length,
			   (unsigned long long)r->body_length);
	if (out->scratch.len > 0)
		out->comment = buf_cstr(&out->scratch);
	authres_result_prop(out, "header", "d", r->domain, 0);
	authres_result_prop(out, "header", "i", r->identity, 0);
	authres_result_prop(out, "header", "s", r->selector, 0);
	authres_result_prop(out, "header", "a", r->algorithm, 0);
	if (r->b != NULL && r->b[0] != '\0') {
		size_t l = strlen(r->b);
		authres_result_prop(out, "header", "b", r->b, l < b_prefix ? l : b_prefix);
	}
}

void
authres_from_arc(const struct arc_result *r, struct authres_result *out)
{
	memset(out, 0, sizeof *out);
	out->method = "arc";
	out->result = arc_status_name(r->status);
	if (r->status == ARC_FAIL)
		out->reason = r->reason;
	if (r->instances > 0) {
		buf_printf(&out->scratch, "i=%u", r->instances);
		out->comment = buf_cstr(&out->scratch);
	}
}

/* Skips white space and comments (with quoted-pairs, nested). */
static size_t
skip_cfws(const char *s, size_t len, size_t i)
{
	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i >= len || s[i] != '(')
			return i;
		unsigned depth = 0;
		while (i < len) {
			char c = s[i++];
			if (c == '\\' && i < len)
				i++;
			else if (c == '(' && ++depth > COMMENT_DEPTH_MAX)
				return len;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

int
authres_authserv_id(const char *value, size_t len, struct buf *out)
{
	size_t i = skip_cfws(value, len, 0);
	if (i < len && value[i] == '"') {
		for (i++; i < len && value[i] != '"'; i++) {
			if (value[i] == '\\' && i + 1 < len)
				i++;
			buf_putc(out, value[i]);
		}
		return i < len ? 0 : -1;
	}
	size_t start = i;
	while (i < len && is_token_char((unsigned char)value[i]))
		i++;
	if (i == start)
		return -1;
	buf_append(out, value + start, i - start);
	return 0;
}

size_t
authres_strip(const char *hdr, size_t len, const char *authserv_id, struct buf *out)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	struct buf id = BUF_INIT;
	size_t copied = 0, removed = 0;
	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next(&it, &f)) {
		if (f.name_len != 22 || !mem_eq_nocase(f.name, "Authentication-Results", 22))
			continue;
		buf_reset(&id);
		if (authres_authserv_id(f.value, f.value_len, &id) < 0 ||
		    !str_eq_nocase(buf_cstr(&id), authserv_id))
			continue;
		buf_append(out, hdr + copied, f.raw_off - copied);
		copied = f.raw_off + f.raw_len;
		removed++;
	}
	buf_append(out, hdr + copied, len - copied);
	buf_free(&id);
	return removed;
}
