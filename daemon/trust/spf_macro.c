/*
 * spf_macro: the macro language of RFC 7208 §7: its syntax (macro-string,
 * domain-spec, explanation-string) and its expansion with transformers
 * and delimiters.
 */
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "trust/spf_int.h"

/* §7.1 */
static bool
is_delimiter(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The largest DIGIT transformer taken; more parts than a name has are
 * all of them anyway. */
#define DIGITS_MAX 1000

/* One parsed "%{...}". */
struct macro {
	char letter;		/* lowercase */
	bool escape;		/* written uppercase: URL-escape (§7.3) */
	unsigned digits;	/* 0: all parts */
	bool reverse;
	char delims[8];		/* "" means "." */
	size_t len;		/* bytes of the macro in the text */
};

/* Parses the macro-expand at s[0..len) (s[0] == '%').  0, or -1 with
 * *error_r. */
static int
parse_macro(const char *s, size_t len, bool exp, struct macro *m, const char **error_r)
{
	memset(m, 0, sizeof *m);
	if (len < 2)
		goto bad;
	if (s[1] == '%' || s[1] == '_' || s[1] == '-') {
		m->letter = s[1];
		m->len = 2;
		return 0;
	}
	if (s[1] != '{' || len < 4)
		goto bad;
	char l = lower(s[2]);
	if (strchr(exp ? "slodiphvcrt" : "slodiphv", l) == NULL || s[2] == '\0') {
		*error_r = strchr("crt", l) != NULL && l != '\0'
				   ? "macro c, r or t outside an explanation"
				   : "unknown macro letter";
		return -1;
	}
	m->letter = l;
	m->escape = s[2] != l;
	size_t i = 3;
	bool any_digit = false;
	unsigned v = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		any_digit = true;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > DIGITS_MAX)
			v = DIGITS_MAX;
		i++;
	}
	/* §7.3: a DIGIT transformer, when given, is nonzero */
	if (any_digit && v == 0) {
		*error_r = "macro transformer of 0 parts";
		return -1;
	}
	m->digits = v;
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		m->reverse = true;
		i++;
	}
	size_t nd = 0;
	while (i < len && is_delimiter(s[i])) {
		if (nd + 1 < sizeof m->delims && strchr(m->delims, s[i]) == NULL)
			m->delims[nd++] = s[i];
		i++;
	}
	if (i >= len || s[i] != '}')
		goto bad;
	m->len = i + 1;
	return 0;
bad:
	*error_r = "malformed macro";
	return -1;
}

int
spf_macro_check(const char *s, size_t len, bool exp, const char **error_r)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			struct macro m;
			if (parse_macro(s + i, len - i, exp, &m, error_r) < 0)
				return -1;
			i += m.len;
			continue;
		}
		/* macro-literal = %x21-24 / %x26-7E; SP in explanations */
		if (c < 0x21 || c > 0x7e) {
			if (!(exp && c == ' ')) {
				*error_r = "character not allowed in a macro-string";
				return -1;
			}
		}
		i++;
	}
	return 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
is_toplabel(const char *s, size_t len)
{
	if (len == 0)
		return false;
	bool alpha = false, hyphen = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			hyphen = true;
		else if (!is_alnum(s[i]))
			return false;
		else if (!(s[i] >= '0' && s[i] <= '9'))
			alpha = true;
	}
	if (!hyphen)
		return alpha;
	return is_alnum(s[0]) && is_alnum(s[len - 1]);
}

int
spf_domain_spec_check(const char *s, size_t len, const char **error_r)
{
	if (spf_macro_check(s, len, false, error_r) < 0)
		return -1;
	/* Where the last macro-expand ends: the domain-end is either that
	 * macro at the very end, or "." toplabel ["."] after it. */
	size_t i = 0, after_macro = 0;
	bool ends_in_macro = false;
	while (i < len) {
		if (s[i] == '%') {
			struct macro m;
			(void)parse_macro(s + i, len - i, false, &m, error_r);
			i += m.len;
			after_macro = i;
			ends_in_macro = true;
		} else {
			i++;
			ends_in_macro = false;
		}
	}
	if (ends_in_macro)
		return 0;
	size_t end = len;
	if (end > after_macro && s[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > after_macro && s[dot - 1] != '.')
		dot--;
	if (dot > after_macro && is_toplabel(s + dot, end - dot))
		return 0;
	*error_r = "domain does not end in a top label or a macro (use a FQDN)";
	return -1;
}

/* §7.3: RFC 3986 unreserved characters stay, the rest as %XX. */
static void
url_escape(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/* The value of a macro letter, before transformers. */
static void
letter_value(struct buf *v, char letter, const struct spf_macro_env *env)
{
	switch (letter) {
	case 's':
		buf_puts(v, env->sender);
		break;
	case 'l':
		buf_puts(v, env->local);
		break;
	case 'o':
		buf_puts(v, env->sender_domain);
		break;
	case 'd':
		buf_puts(v, env->domain);
		break;
	case 'h':
		buf_puts(v, env->helo);
		break;
	case 'i':
		ip_addr_dotted(v, env->ip);
		break;
	case 'c':
		ip_addr_text(v, env->ip);
		break;
	case 'v':
		buf_puts(v, env->ip->family == AF_INET ? "in-addr" : "ip6");
		break;
	case 'p':
		buf_puts(v, env->ptr_name(env->ctx));
		break;
	case 'r':
		buf_puts(v, env->receiver != NULL ? env->receiver : "unknown");
		break;
	case 't':
		buf_printf(v, "%lld", env->now);
		break;
	}
}

/* Parts of value split on delims, reversed or not, the rightmost
 * digits of them, joined with "." (§7.3). */
static void
transform(struct buf *out, const char *value, const struct macro *m)
{
	const char *delims = m->delims[0] != '\0' ? m->delims : ".";
	/* the parts, as offsets into value: at most one per byte, plus one */
	size_t len = strlen(value), n = 1;
	for (size_t i = 0; i < len; i++)
		if (strchr(delims, value[i]) != NULL)
			n++;
	size_t *start = xreallocarray(NULL, n, sizeof *start);
	size_t *plen = xreallocarray(NULL, n, sizeof *plen);
	size_t k = 0, from = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || strchr(delims, value[i]) != NULL) {
			start[k] = from;
			plen[k] = i - from;
			k++;
			from = i + 1;
		}
	}
	if (m->reverse) {
		for (size_t i = 0; i < n / 2; i++) {
			size_t ts = start[i], tl = plen[i];
			start[i] = start[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			start[n - 1 - i] = ts;
			plen[n - 1 - i] = tl;
		}
	}
	size_t first = m->digits > 0 && m->digits < n ? n - m->digits : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			buf_putc(out, '.');
		buf_append(out, value + start[i], plen[i]);
	}
	free(start);
	free(plen);
}

int
spf_macro_expand(struct buf *out, const char *s, const struct spf_macro_env *env)
{
	size_t len = strlen(s), i = 0;
	struct buf value = BUF_INIT, part = BUF_INIT;
	int ret = 0;
	while (i < len && ret == 0) {
		if (s[i] != '%') {
			size_t run = strcspn(s + i, "%");
			ret = buf_append(out, s + i, run);
			i += run;
			continue;
		}
		struct macro m;
		const char *error;
		if (parse_macro(s + i, len - i, true, &m, &error) < 0)
			break;	/* checked before: cannot happen */
		i += m.len;
		if (m.letter == '%' || m.letter == '_' || m.letter == '-') {
			ret = buf_puts(out, m.letter == '%' ? "%" : m.letter == '_' ? " " : "%20");
			continue;
		}
		buf_reset(&value);
		buf_reset(&part);
		letter_value(&value, m.letter, env);
		transform(&part, buf_cstr(&value), &m);
		if (m.escape) {
			size_t before = out->len;
			url_escape(out, part.data != NULL ? part.data : "", part.len);
			if (out->max > 0 && out->len > out->max) {
				buf_truncate(out, before);
				ret = -1;
			}
		} else {
			ret = buf_append(out, part.data != NULL ? part.data : "", part.len);
		}
	}
	buf_free(&value);
	buf_free(&part);
	return ret;
}

char *
spf_domain_expand(const char *spec, const struct spf_macro_env *env)
{
	struct buf out;
	/* bounded: the spec is at most a record long, and each macro of it
	 * expands to at most an address or a name */
	buf_init(&out, 4 * SPF_RECORD_MAX);
	if (spf_macro_expand(&out, spec, env) < 0) {
		buf_free(&out);
		return xstrdup("");
	}
	if (out.len > 0 && out.data[out.len - 1] == '.')
		buf_truncate(&out, out.len - 1);
	/* §7.3: cut whole labels from the left until it fits */
	const char *p = buf_cstr(&out);
	while (strlen(p) > 253) {
		const char *dot = strchr(p, '.');
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	char *name = xstrdup(p);
	buf_free(&out);
	return name;
}

bool
spf_name_ok(const char *name)
{
	size_t label = 0, total = 0;
	for (const char *p = name; *p != '\0'; p++, total++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (c < 0x20 || c > 0x7e || c == '\\' || ++label > 63)
			return false;
	}
	return total > 0 && total <= 253 && label > 0;
}
