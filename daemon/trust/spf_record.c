/*
 * spf_record: record selection (RFC 7208 §4.5) and the record's syntax
 * (§4.6, §5, §6, §12): every term is parsed and checked before any is
 * evaluated.
 */
#include <string.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/log.h"
#include "trust/spf_int.h"

bool
spf_record_is_spf(const char *text, size_t len)
{
	return len >= 6 && mem_eq_nocase(text, "v=spf1", 6) && (len == 6 || text[6] == ' ');
}

void
spf_record_free(struct spf_record *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->terms[i].text);
		free(rec->terms[i].domain_spec);
	}
	xfree(rec->terms);
	rec->n = 0;
	xfree(rec->redirect);
	xfree(rec->exp);
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_names[] = {
	{ "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE }, { "a", SPF_M_A },
	{ "mx", SPF_M_MX },   { "ptr", SPF_M_PTR },		{ "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 }, { "exists", SPF_M_EXISTS },
};

/* A cidr-length at the end of s[0..*len): "/" ("0" / %x31-39 0*2DIGIT),
 * at most max; two slashes when dual (the ip6 half of a dual-cidr).
 * Found: the value in *v and *len shortened; absent: *v untouched.
 * -1 when one is there but malformed or too big. */
static int
take_cidr(const char *s, size_t *len, bool dual, unsigned max, unsigned *v)
{
	size_t end = *len, i = end;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	size_t slashes = dual ? 2 : 1;
	if (i == end || i < slashes || s[i - 1] != '/')
		return 0;
	if (dual && s[i - 2] != '/')
		return 0;
	if (!dual && i >= 2 && s[i - 2] == '/')
		return 0;	/* "//N" belongs to the dual form */
	if ((end - i > 1 && s[i] == '0') || end - i > 3)
		return -1;
	unsigned value = 0;
	for (size_t k = i; k < end; k++)
		value = value * 10 + (unsigned)(s[k] - '0');
	if (value > max)
		return -1;
	*v = value;
	*len = i - slashes;
	return 0;
}

/* One mechanism: [qualifier] name [":" arg] [cidr].  0, or -1 with
 * *error_r. */
static int
parse_mechanism(const char *t, size_t len, struct spf_term *term, const char **error_r)
{
	size_t i = 0;
	term->qualifier = SPF_PASS;
	switch (t[0]) {
	case '+':
		i = 1;
		break;
	case '-':
		term->qualifier = SPF_FAIL;
		i = 1;
		break;
	case '~':
		term->qualifier = SPF_SOFTFAIL;
		i = 1;
		break;
	case '?':
		term->qualifier = SPF_NEUTRAL;
		i = 1;
		break;
	}
	size_t name_end = i;
	while (name_end < len && t[name_end] != ':' && t[name_end] != '/')
		name_end++;
	size_t k;
	for (k = 0; k < sizeof mech_names / sizeof mech_names[0]; k++)
		if (strlen(mech_names[k].name) == name_end - i &&
		    mem_eq_nocase(mech_names[k].name, t + i, name_end - i))
			break;
	if (k == sizeof mech_names / sizeof mech_names[0]) {
		*error_r = errfmt("unknown mechanism '%s'", esc(t, len));
		return -1;
	}
	term->mech = mech_names[k].mech;
	/* the rest: the cidr(s) at the end, the argument after ':' */
	size_t end = len;
	term->cidr4 = 32;
	term->cidr6 = 128;
	bool v6 = term->mech == SPF_M_IP6;
	if (term->mech == SPF_M_A || term->mech == SPF_M_MX) {
		if (take_cidr(t, &end, true, 128, &term->cidr6) < 0 ||
		    take_cidr(t, &end, false, 32, &term->cidr4) < 0)
			goto bad_cidr;
	} else if (term->mech == SPF_M_IP4 || v6) {
		if (take_cidr(t, &end, false, v6 ? 128 : 32, v6 ? &term->cidr6 : &term->cidr4) < 0)
			goto bad_cidr;
	}
	if (end < name_end)
		goto bad;
	const char *arg = NULL;
	size_t arg_len = 0;
	if (name_end < end) {
		if (t[name_end] != ':')
			goto bad;
		arg = t + name_end + 1;
		arg_len = end - name_end - 1;
	}
	switch (term->mech) {
	case SPF_M_ALL:
		if (arg != NULL)
			goto bad;
		return 0;
	case SPF_M_IP4:
		if (arg == NULL || ip4_parse_strict(arg, arg_len, term->net) < 0) {
			*error_r = errfmt("bad ip4 network in '%s'", esc(t, len));
			return -1;
		}
		return 0;
	case SPF_M_IP6: {
		struct ip_addr ip;
		char *text = arg != NULL ? xstrndup(arg, arg_len) : NULL;
		/* ip6-network = <as per RFC 4291 §2.2>: no brackets, no zone,
		 * and not the IPv4-mapped form taken as IPv4 */
		int ok = text != NULL && strchr(text, ':') != NULL && ip_addr_parse(text, &ip) == 0;
		free(text);
		if (!ok) {
			*error_r = errfmt("bad ip6 network in '%s'", esc(t, len));
			return -1;
		}
		if (ip.family == AF_INET) {
			/* ::ffff:a.b.c.d: still an IPv6 network */
			memset(term->net, 0, 10);
			term->net[10] = term->net[11] = 0xff;
			memcpy(term->net + 12, ip.a, 4);
		} else {
			memcpy(term->net, ip.a, 16);
		}
		return 0;
	}
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
		if (arg == NULL)
			goto bad;
		break;
	default:
		break;
	}
	if (arg != NULL) {
		if (spf_domain_spec_check(arg, arg_len, error_r) < 0) {
			*error_r = errfmt("%s in '%s'", *error_r, esc(t, len));
			return -1;
		}
		term->domain_spec = xstrndup(arg, arg_len);
	}
	return 0;
bad_cidr:
	*error_r = errfmt("bad CIDR length in '%s'", esc(t, len));
	return -1;
bad:
	*error_r = errfmt("malformed mechanism '%s'", esc(t, len));
	return -1;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) before '=': the
 * length of the name when t is a modifier, else 0. */
static size_t
modifier_name(const char *t, size_t len)
{
	if (len == 0 || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return 0;
	for (size_t i = 1; i < len; i++) {
		char c = t[i];
		if (c == '=')
			return i;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 0;
}

static int
parse_modifier(const char *t, size_t len, size_t name_len, struct spf_record *rec,
	       const char **error_r)
{
	const char *value = t + name_len + 1;
	size_t value_len = len - name_len - 1;
	char **slot = NULL;
	if (name_len == 8 && mem_eq_nocase(t, "redirect", 8))
		slot = &rec->redirect;
	else if (name_len == 3 && mem_eq_nocase(t, "exp", 3))
		slot = &rec->exp;
	if (slot == NULL) {
		/* §6: unknown modifiers are ignored, but must parse */
		if (spf_macro_check(value, value_len, false, error_r) < 0) {
			*error_r = errfmt("%s in '%s'", *error_r, esc(t, len));
			return -1;
		}
		return 0;
	}
	/* §6: redirect and exp at most once each */
	if (*slot != NULL) {
		*error_r = errfmt("'%s' given twice", esc(t, name_len));
		return -1;
	}
	if (spf_domain_spec_check(value, value_len, error_r) < 0) {
		*error_r = errfmt("%s in '%s'", *error_r, esc(t, len));
		return -1;
	}
	*slot = xstrndup(value, value_len);
	return 0;
}

int
spf_record_parse(const char *text, size_t len, struct spf_record *rec, const char **error_r)
{
	memset(rec, 0, sizeof *rec);
	if (len > SPF_RECORD_MAX) {
		*error_r = "SPF record too long";
		return -1;
	}
	if (!spf_record_is_spf(text, len)) {
		*error_r = "not an SPF record";
		return -1;
	}
	size_t cap = 0, pos = 6;
	/* §4.6.1: terms separated by one or more SP (only SP) */
	while (pos < len) {
		if (text[pos] == ' ') {
			pos++;
			continue;
		}
		size_t end = pos;
		while (end < len && text[end] != ' ')
			end++;
		const char *t = text + pos;
		size_t tl = end - pos;
		pos = end;
		size_t name_len = modifier_name(t, tl);
		int ret;
		if (name_len > 0) {
			ret = parse_modifier(t, tl, name_len, rec, error_r);
		} else {
			struct spf_term term;
			memset(&term, 0, sizeof term);
			ret = parse_mechanism(t, tl, &term, error_r);
			if (ret == 0) {
				term.text = xstrndup(t, tl);
				if (rec->n == cap) {
					cap = cap == 0 ? 8 : cap * 2;
					rec->terms = xreallocarray(rec->terms, cap, sizeof *rec->terms);
				}
				rec->terms[rec->n++] = term;
			} else {
				free(term.domain_spec);
			}
		}
		if (ret < 0) {
			spf_record_free(rec);
			return -1;
		}
	}
	return 0;
}
