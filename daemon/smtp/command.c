#include "smtp/command.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/utf8.h"

/* ---- small character classes ---------------------------------------- */

static bool
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hexdigit_upper(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F');
}

/* RFC 5322 §3.2.3 atext, which RFC 5321 §4.1.2 uses for Atom. */
static bool
is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

/* RFC 6531 §3.3 takes UTF-8 as RFC 3629 defines it; core/utf8 is strict. */
bool
smtp_utf8_valid(const void *s, size_t n)
{
	return utf8_valid(s, n);
}

/* ---- command lines --------------------------------------------------- */

int
smtp_command_split(char *line, size_t len, struct smtp_command *cmd_r,
		   const char **error_r)
{
	memset(cmd_r, 0, sizeof *cmd_r);
	/* RFC 5321 §2.3.8: lines end in CRLF, and CR and LF appear nowhere
	 * else; a server that took a bare LF as a line end could be led to
	 * read one command where the client meant another. */
	if (len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n') {
		*error_r = "500 5.5.2 Syntax error: lines must end in CRLF";
		return -1;
	}
	len -= 2;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0') {
			*error_r = "500 5.5.2 Syntax error: bare CR, LF or NUL in command";
			return -1;
		}
	}
	line[len] = '\0';

	size_t v = 0;
	while (v < len && line[v] != ' ') {
		if (!is_alpha((unsigned char)line[v]) || v >= SMTP_VERB_MAX) {
			*error_r = "500 5.5.1 Command unrecognized";
			return -1;
		}
		char c = line[v];
		cmd_r->verb[v] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		v++;
	}
	if (v == 0) {
		*error_r = "500 5.5.1 Command unrecognized";
		return -1;
	}
	cmd_r->verb[v] = '\0';
	if (v < len)
		v++;	/* the one space after the verb */
	cmd_r->args = line + v;
	cmd_r->args_len = len - v;
	return 0;
}

/* ---- paths ----------------------------------------------------------- */

void
smtp_path_clear(struct smtp_path *path)
{
	xfree(path->address);
	xfree(path->local);
	xfree(path->domain);
	memset(path, 0, sizeof *path);
}

/*
 * A domain (RFC 5321 §4.1.2 Domain: sub-domains of Let-dig [Ldh-str] joined
 * by dots; with utf8_ok, U-labels) or an address literal, from p up to end.
 * Returns the length parsed, or 0 on a syntax error.  The domain must end
 * where the caller's next delimiter is; a trailing dot is an error.
 */
static size_t
parse_domain(const char *s, size_t n, bool utf8_ok, bool *literal_r,
	     bool *utf8_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	*literal_r = false;
	if (n > 0 && p[0] == '[') {
		/* §4.1.3 address literals: IPv4, "IPv6:...", or tag ":" dcontent */
		size_t close = 1;
		while (close < n && p[close] != ']')
			close++;
		if (close >= n || close == 1 || close - 1 > 64)
			return 0;
		char lit[65];
		memcpy(lit, s + 1, close - 1);
		lit[close - 1] = '\0';
		unsigned char addr[16];
		if (strncasecmp(lit, "IPv6:", 5) == 0) {
			if (inet_pton(AF_INET6, lit + 5, addr) != 1)
				return 0;
		} else if (is_digit((unsigned char)lit[0])) {
			if (inet_pton(AF_INET, lit, addr) != 1)
				return 0;
		} else {
			/* General-address-literal: Standardized-tag ":" 1*dcontent */
			size_t k = 0;
			while (lit[k] != '\0' && (is_alpha((unsigned char)lit[k]) ||
				is_digit((unsigned char)lit[k]) || lit[k] == '-'))
				k++;
			if (k == 0 || lit[k] != ':' || lit[k + 1] == '\0')
				return 0;
			for (k++; lit[k] != '\0'; k++) {
				unsigned char c = (unsigned char)lit[k];
				if (c < 33 || c > 126 || c == '[' || c == '\\')
					return 0;
			}
		}
		*literal_r = true;
		return close + 1;
	}

	for (;;) {
		/* one sub-domain */
		size_t start = i;
		bool last_hyphen = false;
		while (i < n) {
			unsigned char c = p[i];
			if (is_alpha(c) || is_digit(c)) {
				last_hyphen = false;
				i++;
			} else if (c == '-' && i > start) {
				last_hyphen = true;
				i++;
			} else if (c >= 0x80 && utf8_ok) {
				size_t l = utf8_char_len(p + i, n - i);
				if (l == 0)
					return 0;
				*utf8_r = true;
				last_hyphen = false;
				i += l;
			} else {
				break;
			}
		}
		if (i == start || last_hyphen || i - start > 63)
			return 0;
		if (i < n && p[i] == '.') {
			i++;
			if (i >= n || !(is_alpha(p[i]) || is_digit(p[i]) ||
					(p[i] >= 0x80 && utf8_ok)))
				return 0;	/* "a..b" or a trailing dot */
			continue;
		}
		break;
	}
	if (i > SMTP_DOMAIN_MAX)
		return 0;
	return i;
}

/* Appends the local part, quoted when it is not a dot-string. */
static void
append_local(struct buf *out, const char *local, bool quoted)
{
	if (!quoted) {
		buf_puts(out, local);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = local; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

/* True when local is a Dot-string (RFC 5321 §4.1.2). */
static bool
is_dot_string(const char *local, bool utf8_ok)
{
	const unsigned char *p = (const unsigned char *)local;
	size_t n = strlen(local);
	bool need_atom = true;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n;) {
		if (p[i] == '.') {
			if (need_atom)
				return false;
			need_atom = true;
			i++;
		} else if (is_atext(p[i])) {
			need_atom = false;
			i++;
		} else if (p[i] >= 0x80 && utf8_ok) {
			size_t l = utf8_char_len(p + i, n - i);
			if (l == 0)
				return false;
			need_atom = false;
			i += l;
		} else {
			return false;
		}
	}
	return !need_atom;
}

int
smtp_parse_path(const char *s, bool null_ok, bool utf8_ok,
		struct smtp_path *path_r, const char **end_r,
		const char **error_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	size_t i = 0;
	struct buf local = BUF_INIT;
	bool literal = false, utf8 = false;
	const char *bad = "501 5.1.3 Bad address syntax";

	memset(path_r, 0, sizeof *path_r);
	/* RFC 5321 §4.5.3.1: "implementation techniques that impose no limits
	 * on the length of these objects should be used": SRS addresses
	 * (srs.h) often have local parts over §4.5.3.1.1's 64 octets; the
	 * path limit still holds, and local users have at most 64 (store) */
	buf_init(&local, SMTP_LOCAL_PART_WIRE_MAX);
	if (n == 0 || p[0] != '<')
		goto fail;
	i = 1;
	if (i < n && p[i] == '>') {
		if (!null_ok)
			goto fail;
		path_r->address = xstrdup("");
		path_r->local = xstrdup("");
		path_r->domain = xstrdup("");
		*end_r = s + 2;
		buf_free(&local);
		return 0;
	}

	/* §4.1.1.3: a source route is accepted and ignored. */
	if (i < n && p[i] == '@') {
		for (;;) {
			if (i >= n || p[i] != '@')
				goto fail;
			i++;
			bool lit_dummy = false, utf8_dummy = false;
			size_t d = parse_domain(s + i, n - i, utf8_ok, &lit_dummy,
						&utf8_dummy);
			if (d == 0)
				goto fail;
			i += d;
			if (i < n && p[i] == ',') {
				i++;
				continue;
			}
			if (i < n && p[i] == ':') {
				i++;
				break;
			}
			goto fail;
		}
		path_r->had_route = true;
	}

	/* the local part */
	if (i < n && p[i] == '"') {
		i++;
		for (;;) {
			if (i >= n)
				goto fail;
			unsigned char c = p[i];
			if (c == '"') {
				i++;
				break;
			}
			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= n || p[i + 1] < 32 || p[i + 1] > 126)
					goto fail;
				if (buf_putc(&local, (char)p[i + 1]) < 0)
					goto toolong;
				i += 2;
			} else if (c >= 32 && c <= 126) {
				if (buf_putc(&local, (char)c) < 0)
					goto toolong;
				i++;
			} else if (c >= 0x80 && utf8_ok) {
				size_t l = utf8_char_len(p + i, n - i);
				if (l == 0)
					goto fail;
				if (buf_append(&local, p + i, l) < 0)
					goto toolong;
				utf8 = true;
				i += l;
			} else {
				goto nonascii_or_fail;
			}
		}
		if (local.len == 0)
			goto fail;
	} else {
		size_t start = i;
		while (i < n && (is_atext(p[i]) || p[i] == '.' ||
				 (p[i] >= 0x80 && utf8_ok)))
			i++;
		if (i < n && p[i] >= 0x80)
			goto nonascii_or_fail;
		if (i == start)
			goto fail;
		if (buf_append(&local, s + start, i - start) < 0)
			goto toolong;
		if (!is_dot_string(buf_cstr(&local), utf8_ok))
			goto fail;
		for (size_t k = start; k < i; k++)
			if (p[k] >= 0x80)
				utf8 = true;
	}

	if (i < n && p[i] == '>' && !path_r->had_route &&
	    str_eq_nocase(buf_cstr(&local), "postmaster")) {
		/* §4.1.1.3: RCPT TO:<Postmaster> names the server's postmaster */
		path_r->postmaster = true;
		path_r->local = buf_steal(&local);
		path_r->address = xstrdup(path_r->local);
		path_r->domain = xstrdup("");
		*end_r = s + i + 1;
		return 0;
	}
	if (i >= n || p[i] != '@')
		goto fail;
	i++;
	size_t d = parse_domain(s + i, n - i, utf8_ok, &literal, &utf8);
	if (d == 0) {
		if (i < n && p[i] >= 0x80 && !utf8_ok)
			goto nonascii_or_fail;
		goto fail;
	}
	const char *domain = s + i;
	i += d;
	if (i >= n || p[i] != '>')
		goto fail;

	path_r->local = buf_steal(&local);
	path_r->domain = xstrndup(domain, d);
	path_r->quoted = !is_dot_string(path_r->local, utf8_ok);
	path_r->utf8 = utf8;
	path_r->domain_literal = literal;
	{
		struct buf a = BUF_INIT;
		append_local(&a, path_r->local, path_r->quoted);
		buf_putc(&a, '@');
		buf_puts(&a, path_r->domain);
		path_r->address = buf_steal(&a);
	}
	/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its <> */
	if (strlen(path_r->address) + 2 > SMTP_PATH_MAX) {
		smtp_path_clear(path_r);
		*error_r = "501 5.1.3 Address too long";
		return -1;
	}
	*end_r = s + i + 1;
	return 0;

nonascii_or_fail:
	buf_free(&local);
	smtp_path_clear(path_r);
	/* RFC 6531 §3.5 */
	*error_r = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
	return -1;
toolong:
	buf_free(&local);
	smtp_path_clear(path_r);
	/* RFC 5321 §4.5.3.1.1: a local part is at most 64 octets */
	*error_r = "501 5.1.3 Local part too long";
	return -1;
fail:
	buf_free(&local);
	smtp_path_clear(path_r);
	*error_r = bad;
	return -1;
}

/* ---- xtext ------------------------------------------------------------ */

bool
smtp_xtext_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= n)
				return false;
			if (!is_hexdigit_upper((unsigned char)s[i + 1]) ||
			    !is_hexdigit_upper((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

static unsigned
hexval(char c)
{
	return is_digit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

int
smtp_xtext_decode(const char *s, size_t n, struct buf *out)
{
	if (!smtp_xtext_valid(s, n))
		return -1;
	size_t before = out->len;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		}
		if (buf_putc(out, c) < 0) {
			buf_truncate(out, before);
			return -1;
		}
	}
	return 0;
}

int
smtp_xtext_encode(const void *s, size_t n, struct buf *out)
{
	const unsigned char *p = s;
	size_t before = out->len;
	for (size_t i = 0; i < n; i++) {
		int r;
		if (p[i] < 33 || p[i] > 126 || p[i] == '+' || p[i] == '=')
			r = buf_printf(out, "+%02X", p[i]);
		else
			r = buf_putc(out, (char)p[i]);
		if (r < 0) {
			buf_truncate(out, before);
			return -1;
		}
	}
	return 0;
}

/* ---- ESMTP parameters --------------------------------------------------- */

/*
 * Walks "KEY[=VALUE] KEY[=VALUE]..." (RFC 5321 §4.1.2 Mail-parameters).
 * Returns 1 with the next parameter, 0 at the end, -1 on a syntax error.
 */
static int
next_param(const char **pos, bool utf8_ok, const char **key_r, size_t *key_len_r,
	   const char **val_r, size_t *val_len_r)
{
	const unsigned char *p = (const unsigned char *)*pos;
	while (*p == ' ')
		p++;
	if (*p == '\0') {
		*pos = (const char *)p;
		return 0;
	}
	const unsigned char *k = p;
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (!is_alpha(*p) && !is_digit(*p))
		return -1;
	while (is_alpha(*p) || is_digit(*p) || *p == '-')
		p++;
	*key_r = (const char *)k;
	*key_len_r = (size_t)(p - k);
	*val_r = NULL;
	*val_len_r = 0;
	if (*p == '=') {
		p++;
		const unsigned char *v = p;
		/* esmtp-value = 1*(%d33-60 / %d62-126); RFC 6531 §3.3 adds UTF-8 */
		while (*p != '\0' && *p != ' ') {
			if (*p >= 0x80 && utf8_ok) {
				size_t l = utf8_char_len(p, strlen((const char *)p));
				if (l == 0)
					return -1;
				p += l;
				continue;
			}
			if (*p < 33 || *p > 126 || *p == '=')
				return -1;
			p++;
		}
		if (p == v)
			return -1;
		*val_r = (const char *)v;
		*val_len_r = (size_t)(p - v);
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	*pos = (const char *)p;
	return 1;
}

static bool
key_is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && mem_eq_nocase(key, name, len);
}

static bool
val_is(const char *val, size_t len, const char *name)
{
	return val != NULL && strlen(name) == len && mem_eq_nocase(val, name, len);
}

/* "FROM:" / "TO:" then optional spaces (a common client habit that RFC 5321
 * does not allow but that harms nothing). */
static const char *
skip_prefix(const char *args, const char *prefix)
{
	size_t n = strlen(prefix);
	if (!str_has_prefix_nocase(args, prefix))
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

void
smtp_mail_args_clear(struct smtp_mail_args *r)
{
	smtp_path_clear(&r->path);
	xfree(r->envid);
	xfree(r->auth);
	memset(r, 0, sizeof *r);
}

/* True when the path part up to the closing '>' has a byte >= 0x80. */
static bool
path_has_8bit(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && *p != '>'; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

int
smtp_parse_mail(const char *args, struct smtp_mail_args *r,
		const char **error_r)
{
	memset(r, 0, sizeof *r);
	const char *p = skip_prefix(args, "FROM:");
	if (p == NULL) {
		*error_r = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	/* SMTPUTF8 comes after the path, so look for it first: the path may
	 * hold UTF-8 only when the parameter is there (RFC 6531 §3.4). */
	bool utf8 = false;
	const char *close = strchr(p, '>');
	if (close != NULL) {
		const char *q = close + 1, *key, *val;
		size_t kl, vl;
		while (next_param(&q, true, &key, &kl, &val, &vl) == 1) {
			if (key_is(key, kl, "SMTPUTF8") && val == NULL)
				utf8 = true;
		}
	}
	const char *end;
	if (smtp_parse_path(p, true, utf8, &r->path, &end, error_r) < 0) {
		if (strncmp(*error_r, "501 5.1.3", 9) == 0 && !path_has_8bit(p))
			*error_r = "501 5.1.7 Bad sender address syntax";
		return -1;
	}
	if (*end != '\0' && *end != ' ') {
		*error_r = "501 5.1.7 Bad sender address syntax";
		goto fail;
	}
	bool seen_size = false, seen_body = false, seen_utf8 = false, seen_rtls = false;
	bool seen_ret = false, seen_envid = false, seen_auth = false;
	const char *key, *val;
	size_t kl, vl;
	int st;
	while ((st = next_param(&end, utf8, &key, &kl, &val, &vl)) == 1) {
		bool *seen;
		if (key_is(key, kl, "SIZE")) {
			/* RFC 1870 §6: SIZE=1*20DIGIT */
			seen = &seen_size;
			if (val == NULL || vl > 20)
				goto syntax;
			uint64_t v = 0;
			for (size_t k = 0; k < vl; k++) {
				if (!is_digit((unsigned char)val[k]))
					goto syntax;
				unsigned d = (unsigned)(val[k] - '0');
				if (v > (UINT64_MAX - d) / 10)
					v = UINT64_MAX;	/* huge: over any limit */
				else
					v = v * 10 + d;
			}
			r->size = v;
			r->size_given = true;
		} else if (key_is(key, kl, "BODY")) {
			seen = &seen_body;
			if (val_is(val, vl, "7BIT"))
				r->body = SMTP_BODY_7BIT;
			else if (val_is(val, vl, "8BITMIME"))
				r->body = SMTP_BODY_8BITMIME;
			else {
				/* RFC 6152 §3 / RFC 3030: BINARYMIME is not offered */
				*error_r = "555 5.5.4 Unsupported BODY type";
				goto fail;
			}
		} else if (key_is(key, kl, "SMTPUTF8")) {
			seen = &seen_utf8;
			if (val != NULL)
				goto syntax;
			r->smtputf8 = true;
		} else if (key_is(key, kl, "REQUIRETLS")) {
			seen = &seen_rtls;
			if (val != NULL)
				goto syntax;
			r->requiretls = true;
		} else if (key_is(key, kl, "RET")) {
			seen = &seen_ret;
			if (val_is(val, vl, "FULL"))
				r->ret = SMTP_RET_FULL;
			else if (val_is(val, vl, "HDRS"))
				r->ret = SMTP_RET_HDRS;
			else
				goto syntax;
		} else if (key_is(key, kl, "ENVID")) {
			seen = &seen_envid;
			/* RFC 3461 §4.4: xtext, at most 100 characters */
			if (val == NULL || vl > SMTP_ENVID_MAX || !smtp_xtext_valid(val, vl))
				goto syntax;
			free(r->envid);	/* a duplicate is refused below */
			r->envid = xstrndup(val, vl);
		} else if (key_is(key, kl, "AUTH")) {
			/* RFC 4954 §5: AUTH=<> or an xtext mailbox; kept only */
			seen = &seen_auth;
			if (val == NULL || vl > SMTP_AUTH_PARAM_MAX)
				goto syntax;
			if (!(vl == 2 && memcmp(val, "<>", 2) == 0) && !smtp_xtext_valid(val, vl))
				goto syntax;
			free(r->auth);	/* a duplicate is refused below */
			r->auth = xstrndup(val, vl);
		} else {
			/* RFC 5321 §4.1.1.11 */
			*error_r = "555 5.5.4 Unsupported MAIL parameter";
			goto fail;
		}
		if (*seen) {
			*error_r = "501 5.5.4 Duplicate MAIL parameter";
			goto fail;
		}
		*seen = true;
	}
	if (st < 0)
		goto syntax;
	return 0;

syntax:
	*error_r = "501 5.5.4 Syntax error in MAIL parameters";
fail:
	smtp_mail_args_clear(r);
	return -1;
}

void
smtp_rcpt_args_clear(struct smtp_rcpt_args *r)
{
	smtp_path_clear(&r->path);
	xfree(r->orcpt);
	memset(r, 0, sizeof *r);
}

/* NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
static int
parse_notify(const char *val, size_t vl, unsigned *notify_r)
{
	unsigned bits = 0;
	size_t i = 0;
	while (i < vl) {
		size_t j = i;
		while (j < vl && val[j] != ',')
			j++;
		unsigned bit;
		if (val_is(val + i, j - i, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (val_is(val + i, j - i, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (val_is(val + i, j - i, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (val_is(val + i, j - i, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return -1;
		if (bits & bit)
			return -1;
		bits |= bit;
		if (j < vl && j + 1 == vl)
			return -1;	/* trailing comma */
		i = j + 1;
	}
	if (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER))
		return -1;
	*notify_r = bits;
	return 0;
}

/* ORCPT=addr-type ";" xtext (RFC 3461 §4.2); addr-type is an atom. */
static bool
orcpt_valid(const char *val, size_t vl)
{
	size_t semi = 0;
	while (semi < vl && val[semi] != ';')
		semi++;
	if (semi == 0 || semi >= vl)
		return false;
	for (size_t k = 0; k < semi; k++)
		if (!is_atext((unsigned char)val[k]))
			return false;
	size_t rest = vl - semi - 1;
	if (rest == 0 || rest > SMTP_ORCPT_MAX)
		return false;
	/* utf-8-addr-xtext (RFC 6533 §3) uses \x{..}, also inside xtext's range */
	return smtp_xtext_valid(val + semi + 1, rest);
}

int
smtp_parse_rcpt(const char *args, bool smtputf8, struct smtp_rcpt_args *r,
		const char **error_r)
{
	memset(r, 0, sizeof *r);
	const char *p = skip_prefix(args, "TO:");
	if (p == NULL) {
		*error_r = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	const char *end;
	if (smtp_parse_path(p, false, smtputf8, &r->path, &end, error_r) < 0)
		return -1;
	if (*end != '\0' && *end != ' ') {
		*error_r = "501 5.1.3 Bad recipient address syntax";
		goto fail;
	}
	bool seen_notify = false, seen_orcpt = false;
	const char *key, *val;
	size_t kl, vl;
	int st;
	while ((st = next_param(&end, smtputf8, &key, &kl, &val, &vl)) == 1) {
		bool *seen;
		if (key_is(key, kl, "NOTIFY")) {
			seen = &seen_notify;
			if (val == NULL || parse_notify(val, vl, &r->notify) < 0)
				goto syntax;
		} else if (key_is(key, kl, "ORCPT")) {
			seen = &seen_orcpt;
			if (val == NULL || !orcpt_valid(val, vl))
				goto syntax;
			free(r->orcpt);	/* a duplicate is refused below */
			r->orcpt = xstrndup(val, vl);
		} else {
			*error_r = "555 5.5.4 Unsupported RCPT parameter";
			goto fail;
		}
		if (*seen) {
			*error_r = "501 5.5.4 Duplicate RCPT parameter";
			goto fail;
		}
		*seen = true;
	}
	if (st < 0)
		goto syntax;
	return 0;

syntax:
	*error_r = "501 5.5.4 Syntax error in RCPT parameters";
fail:
	smtp_rcpt_args_clear(r);
	return -1;
}

/* ---- BDAT, AUTH, EHLO ---------------------------------------------------- */

int
smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
		const char **error_r)
{
	const char *p = args;
	uint64_t v = 0;
	size_t digits = 0;

	*last_r = false;
	while (is_digit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (digits >= 20 || v > (UINT64_MAX - d) / 10)
			goto syntax;
		v = v * 10 + d;
		digits++;
		p++;
	}
	if (digits == 0)
		goto syntax;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (!str_eq_nocase(p, "LAST"))
			goto syntax;
		*last_r = true;
	} else if (*p != '\0') {
		goto syntax;
	}
	*size_r = v;
	return 0;
syntax:
	/* RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
	*error_r = "501 5.5.4 Syntax: BDAT size [LAST]";
	return -1;
}

int
smtp_parse_auth(const char *args, struct buf *scratch, const char **mech_r,
		const char **initial_r, const char **error_r)
{
	buf_reset(scratch);
	if (buf_puts(scratch, args) < 0 || scratch->len == 0) {
		*error_r = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
		return -1;
	}
	char *s = scratch->data;
	char *sp = strchr(s, ' ');
	*initial_r = NULL;
	if (sp != NULL) {
		*sp = '\0';
		char *ir = sp + 1;
		if (*ir == '\0' || strchr(ir, ' ') != NULL) {
			*error_r = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
			return -1;
		}
		*initial_r = ir;
	}
	if (*s == '\0') {
		*error_r = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
		return -1;
	}
	for (char *c = s; *c != '\0'; c++) {
		/* RFC 4422 §3.1: mechanism names are A-Z 0-9 - _ */
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
		if (!((*c >= 'A' && *c <= 'Z') || is_digit((unsigned char)*c) ||
		      *c == '-' || *c == '_')) {
			*error_r = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
			return -1;
		}
	}
	*mech_r = s;
	return 0;
}

bool
smtp_helo_valid(const char *arg)
{
	const unsigned char *p = (const unsigned char *)arg;
	size_t n = strlen(arg);
	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return false;
	if (p[0] == '[') {
		if (p[n - 1] != ']' || n < 3)
			return false;
		for (size_t i = 1; i < n - 1; i++)
			if (p[i] < 33 || p[i] > 126 || p[i] == '[' || p[i] == ']' ||
			    p[i] == '\\')
				return false;
		return true;
	}
	for (size_t i = 0; i < n;) {
		if (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '-' || p[i] == '_' ||
		    p[i] == '.') {
			i++;
			continue;
		}
		if (p[i] >= 0x80) {
			size_t l = utf8_char_len(p + i, n - i);
			if (l == 0)
				return false;
			i += l;
			continue;
		}
		return false;
	}
	return true;
}
