/*
 * interp: runs a compiled script over a message (RFC 5228 §2.10): the
 * control commands, the tests, variables (RFC 5229) and the imap4flags
 * internal variable (RFC 5232).  The actions themselves are collected by
 * actions.c; nothing here has a side effect outside the result.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/utf8.h"
#include "core/xmalloc.h"
#include "mail/address.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"
#include "sieve/sieve_int.h"

void
sv_fail(struct sv_run *run, const char *fmt, ...)
{
	if (run->error != NULL)
		return;
	va_list ap;
	struct buf b = BUF_INIT;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	run->error = buf_steal(&b);
	run->stop = true;
}

void
sv_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
strv_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* ---- variables --------------------------------------------------------- */

static struct sv_var *
var_find(struct sv_run *run, const char *name, size_t len)
{
	for (size_t i = 0; i < run->n_vars; i++)
		if (strlen(run->vars[i].name) == len && mem_eq_nocase(run->vars[i].name, name, len))
			return &run->vars[i];
	return NULL;
}

static void
var_set(struct sv_run *run, const char *name, char *value)
{
	struct sv_var *v = var_find(run, name, strlen(name));
	if (strlen(value) > SIEVE_VARIABLE_MAX) {
		/* cut at a character boundary */
		size_t n = SIEVE_VARIABLE_MAX;
		while (n > 0 && ((unsigned char)value[n] & 0xc0) == 0x80)
			n--;
		value[n] = 0;
	}
	if (v == NULL) {
		if (run->n_vars >= SIEVE_MAX_VARIABLES) {
			sv_fail(run, "too many variables");
			free(value);
			return;
		}
		run->vars = xreallocarray(run->vars, run->n_vars + 1, sizeof *run->vars);
		v = &run->vars[run->n_vars++];
		v->name = xstrdup(name);
		str_lower(v->name);
		v->value = NULL;
	}
	free(v->value);
	v->value = value;
}

/* "${hex: 41 42}" and "${unicode: 263a}" (RFC 5228 §2.4.2.4) at p (after
 * "${"); the length used or 0. */
static size_t
encoded_char(const char *p, struct buf *out)
{
	bool hex = str_has_prefix_nocase(p, "hex:");
	bool uni = str_has_prefix_nocase(p, "unicode:");
	if (!hex && !uni)
		return 0;
	const char *q = p + (hex ? 4 : 8);
	struct buf tmp = BUF_INIT;
	buf_puts(&tmp, "");
	for (;;) {
		while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			q++;
		if (*q == '}')
			break;
		unsigned long v = 0;
		size_t nd = 0;
		while (isxdigit((unsigned char)*q)) {
			v = v * 16 + (unsigned long)(isdigit((unsigned char)*q) ? *q - '0'
						     : (tolower((unsigned char)*q) - 'a' + 10));
			if (v > 0x10ffff)
				v = 0x110000;
			q++;
			nd++;
		}
		if (nd == 0 || (*q != ' ' && *q != '\t' && *q != '}' && *q != '\r' && *q != '\n')) {
			buf_free(&tmp);
			return 0;
		}
		if (hex) {
			if (v > 255) {
				buf_free(&tmp);
				return 0;
			}
			buf_putc(&tmp, (char)v);
		} else {
			if (!utf8_is_scalar((uint32_t)v)) {
				buf_free(&tmp);
				return 0;
			}
			utf8_append(&tmp, (uint32_t)v);
		}
	}
	buf_append(out, tmp.data, tmp.len);
	buf_free(&tmp);
	return (size_t)(q + 1 - p);
}

char *
sv_expand(struct sv_run *run, const char *s)
{
	unsigned ext = run->s->ext;
	if (!(ext & (EXT_VARIABLES | EXT_ENCODED_CHAR)) || strstr(s, "${") == NULL)
		return xstrdup(s);
	struct buf out = BUF_INIT;
	buf_puts(&out, "");
	while (*s != 0) {
		if (s[0] != '$' || s[1] != '{') {
			buf_putc(&out, *s++);
			continue;
		}
		const char *p = s + 2;
		if (ext & EXT_ENCODED_CHAR) {
			size_t used = encoded_char(p, &out);
			if (used > 0) {
				s = p + used;
				continue;
			}
		}
		if (!(ext & EXT_VARIABLES)) {
			buf_putc(&out, *s++);
			continue;
		}
		const char *e = p;
		if (isdigit((unsigned char)*e)) {
			while (isdigit((unsigned char)*e))
				e++;
		} else {
			while (isalnum((unsigned char)*e) || *e == '_' ||
			       (*e == '.' && e > p && isalpha((unsigned char)e[1])))
				e++;
		}
		if (e == p || *e != '}' || isdigit((unsigned char)*p) != isdigit((unsigned char)e[-1])) {
			buf_putc(&out, *s++);
			continue;
		}
		if (isdigit((unsigned char)*p)) {
			unsigned long k = strtoul(p, NULL, 10);
			if (k < run->caps.n && run->caps.v[k] != NULL)
				buf_puts(&out, run->caps.v[k]);
		} else if (memchr(p, '.', (size_t)(e - p)) == NULL) {
			struct sv_var *v = var_find(run, p, (size_t)(e - p));
			if (v != NULL)
				buf_puts(&out, v->value);
		}
		/* namespaced variables (envelope.*) are not supported: empty */
		s = e + 1;
	}
	return buf_steal(&out);
}

static char **
expand_list(struct sv_run *run, const struct sv_arg *a)
{
	char **v = xcalloc(a->n + 1, sizeof *v);
	for (size_t i = 0; i < a->n; i++)
		v[i] = sv_expand(run, a->strs[i]);
	return v;
}

/* ---- flags -------------------------------------------------------------- */

void
sv_flags_add(char ***flags, size_t *n, const char *list)
{
	const char *p = list;
	while (*p != 0) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e != 0 && *e != ' ')
			e++;
		if (e > p) {
			size_t len = (size_t)(e - p);
			bool have = false;
			for (size_t i = 0; i < *n; i++)
				if (strlen((*flags)[i]) == len && mem_eq_nocase((*flags)[i], p, len))
					have = true;
			if (!have && *n < 256)
				strv_push(flags, n, xstrndup(p, len));
		}
		p = e;
	}
}

static void
flags_remove(char ***flags, size_t *n, const char *list)
{
	char **rm = NULL;
	size_t nrm = 0;
	sv_flags_add(&rm, &nrm, list);
	for (size_t i = 0; i < *n;) {
		bool gone = false;
		for (size_t k = 0; k < nrm; k++)
			if (str_eq_nocase((*flags)[i], rm[k]))
				gone = true;
		if (gone) {
			free((*flags)[i]);
			memmove(&(*flags)[i], &(*flags)[i + 1], (*n - i) * sizeof **flags);
			(*n)--;
		} else {
			i++;
		}
	}
	sv_strv_free(rm, nrm);
}

static char *
flags_join(char **flags, size_t n)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ' ');
		buf_puts(&b, flags[i]);
	}
	return buf_steal(&b);
}

/* setflag/addflag/removeflag, on a variable or the internal one */
static void
do_flags(struct sv_run *run, const struct sv_node *n)
{
	char **set = NULL;
	size_t nset = 0;
	char *varname = NULL;
	if (n->pos[0] != NULL) {
		varname = sv_expand(run, n->pos[0]->strs[0]);
		struct sv_var *v = var_find(run, varname, strlen(varname));
		if (v != NULL)
			sv_flags_add(&set, &nset, v->value);
	} else {
		for (size_t i = 0; i < run->n_flags; i++)
			strv_push(&set, &nset, xstrdup(run->flags[i]));
	}
	if (n->code == C_SETFLAG) {
		sv_strv_free(set, nset);
		set = NULL;
		nset = 0;
	}
	char **items = expand_list(run, n->pos[1]);
	for (size_t i = 0; items[i] != NULL; i++) {
		if (n->code == C_REMOVEFLAG)
			flags_remove(&set, &nset, items[i]);
		else
			sv_flags_add(&set, &nset, items[i]);
	}
	sv_strv_free(items, n->pos[1]->n);
	if (varname != NULL) {
		var_set(run, varname, flags_join(set, nset));
		sv_strv_free(set, nset);
		free(varname);
	} else {
		sv_strv_free(run->flags, run->n_flags);
		run->flags = set;
		run->n_flags = nset;
	}
}

/* ---- set ---------------------------------------------------------------- */

static char *
modify(const char *mod, char *v)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	if (strcmp(mod, "lower") == 0 || strcmp(mod, "upper") == 0) {
		for (char *p = v; *p != 0; p++)
			*p = (char)(mod[0] == 'l' ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
		buf_free(&b);
		return v;
	}
	if (strcmp(mod, "lowerfirst") == 0 || strcmp(mod, "upperfirst") == 0) {
		if (*v != 0)
			*v = (char)(mod[0] == 'l' ? tolower((unsigned char)*v) : toupper((unsigned char)*v));
		buf_free(&b);
		return v;
	}
	if (strcmp(mod, "quotewildcard") == 0 || strcmp(mod, "quoteregex") == 0) {
		const char *special = mod[5] == 'w' ? "*?\\" : "*.?+[](){}|^$\\";
		for (const char *p = v; *p != 0; p++) {
			if (strchr(special, *p) != NULL)
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
	} else if (strcmp(mod, "length") == 0) {
		/* RFC 5229 §4.1: in characters */
		size_t n = 0;
		for (const char *p = v; *p != 0; p++)
			if (((unsigned char)*p & 0xc0) != 0x80)
				n++;
		buf_printf(&b, "%zu", n);
	} else if (strcmp(mod, "encodeurl") == 0) {
		/* RFC 5435 §4.2: percent-encode all but unreserved */
		for (const unsigned char *p = (const unsigned char *)v; *p != 0; p++) {
			if (isalnum(*p) || strchr("-._~", *p) != NULL)
				buf_putc(&b, (char)*p);
			else
				buf_printf(&b, "%%%02X", *p);
		}
	}
	free(v);
	return buf_steal(&b);
}

static void
do_set(struct sv_run *run, const struct sv_node *n)
{
	/* RFC 5229 §4.1: highest precedence first */
	static const char *const order[] = { "lower", "upper", "lowerfirst", "upperfirst",
					     "quotewildcard", "quoteregex", "encodeurl", "length" };
	char *name = sv_expand(run, n->pos[0]->strs[0]);
	char *value = sv_expand(run, n->pos[1]->strs[0]);
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (sv_has_tag(n, order[i]))
			value = modify(order[i], value);
	var_set(run, name, value);
	free(name);
}

/* ---- message access ------------------------------------------------------ */

static void
trim(struct buf *b)
{
	while (b->len > 0 && (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
		b->len--;
	buf_puts(b, "");
}

#define HVALS_MAX 32	/* field names whose values a run keeps */

static char **
strv_dup(char **v, size_t n)
{
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

void
sv_hvals_clear(struct sv_run *run)
{
	for (size_t i = 0; i < run->n_hvals; i++) {
		free(run->hvals[i].name);
		sv_strv_free(run->hvals[i].v, run->hvals[i].n);
	}
	free(run->hvals);
	run->hvals = NULL;
	run->n_hvals = 0;
}

static char **header_values(struct sv_run *run, const char *name, size_t *n_r);

char **
sv_header_values(struct sv_run *run, const char *name, size_t *n_r)
{
	for (size_t i = 0; i < run->n_hvals; i++) {
		if (str_eq_nocase(run->hvals[i].name, name)) {
			*n_r = run->hvals[i].n;
			return strv_dup(run->hvals[i].v, run->hvals[i].n);
		}
	}
	char **v = header_values(run, name, n_r);
	if (run->n_hvals < HVALS_MAX) {
		run->hvals = xreallocarray(run->hvals, run->n_hvals + 1, sizeof *run->hvals);
		struct sv_hvals *h = &run->hvals[run->n_hvals++];
		h->name = xstrdup(name);
		h->v = strv_dup(v, *n_r);
		h->n = *n_r;
	}
	return v;
}

/* The value of f unfolded as Pigeonhole unfolds it (Dovecot's header
 * parser): a line end and the first white space character after it
 * become one space, the rest of that white space stays. */
static void
unfold(struct buf *out, const struct mail_header_field *f)
{
	const char *v = f->value;
	size_t n = f->value_len;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n')
			i++;
		if (v[i] != '\n') {
			buf_putc(out, v[i]);
			continue;
		}
		if (i + 1 < n && (v[i + 1] == ' ' || v[i + 1] == '\t')) {
			buf_putc(out, ' ');
			i++;
		}
	}
}

static char **
header_values(struct sv_run *run, const char *name, size_t *n_r)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	char **v = xcalloc(1, sizeof *v);
	size_t n = 0;
	struct buf raw = BUF_INIT, dec = BUF_INIT;
	size_t nl = strlen(name);
	mail_header_iter_init(&it, run->hdr, run->hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		if (f.name_len != nl || !mem_eq_nocase(f.name, name, nl))
			continue;
		buf_reset(&raw);
		buf_reset(&dec);
		unfold(&raw, &f);
		buf_puts(&raw, "");
		rfc2047_decode(&dec, raw.data, raw.len);
		buf_puts(&dec, "");
		trim(&dec);
		/* a NUL would end the string early: as Pigeonhole, U+FFFD */
		struct buf clean = BUF_INIT;
		buf_puts(&clean, "");
		for (size_t i = 0; i < dec.len; i++) {
			if (dec.data[i] == 0)
				buf_puts(&clean, NUL_REPLACEMENT);
			else
				buf_putc(&clean, dec.data[i]);
		}
		strv_push(&v, &n, buf_steal(&clean));
		if (n >= 10000)
			break;
	}
	buf_free(&raw);
	buf_free(&dec);
	*n_r = n;
	return v;
}

/* The :index selection (RFC 5260 §6) applied to one header's values. */
static void
apply_index(const struct sv_node *n, char ***v, size_t *nv)
{
	if (n->index == 0)
		return;
	size_t k = (size_t)n->index;
	char *keep = NULL;
	if (k <= *nv)
		keep = (*v)[n->last ? *nv - k : k - 1];
	for (size_t i = 0; i < *nv; i++)
		if ((*v)[i] != keep)
			free((*v)[i]);
	(*v)[0] = keep;
	*nv = keep != NULL ? 1 : 0;
	(*v)[*nv] = NULL;
}

/* The values of all the named headers (with :index per header). */
static char **
headers_values(struct sv_run *run, const struct sv_node *n, const struct sv_arg *names,
	       size_t *nv_r)
{
	char **all = xcalloc(1, sizeof *all);
	size_t nall = 0;
	for (size_t i = 0; i < names->n; i++) {
		char *name = sv_expand(run, names->strs[i]);
		size_t nv;
		char **v = sv_header_values(run, name, &nv);
		apply_index(n, &v, &nv);
		for (size_t k = 0; k < nv; k++)
			strv_push(&all, &nall, v[k]);
		free(v);
		free(name);
	}
	*nv_r = nall;
	return all;
}

/* One address part (NULL: not there, as :detail without a '+'). */
static char *
address_part(enum sv_addrpart ap, const char *local, const char *domain)
{
	const char *plus;
	switch (ap) {
	case AP_ALL:
		if (*local == 0 && *domain == 0)
			return xstrdup("");
		return *domain != 0 ? xasprintf("%s@%s", local, domain) : xstrdup(local);
	case AP_LOCAL:
		return xstrdup(local);
	case AP_DOMAIN:
		return xstrdup(domain);
	case AP_USER:
		plus = strchr(local, '+');
		return plus != NULL ? xstrndup(local, (size_t)(plus - local)) : xstrdup(local);
	case AP_DETAIL:
		plus = strchr(local, '+');
		return plus != NULL ? xstrdup(plus + 1) : NULL;
	}
	return NULL;
}

static char **
address_values(struct sv_run *run, const struct sv_node *n, const struct sv_arg *names,
	       size_t *nv_r)
{
	char **out = xcalloc(1, sizeof *out);
	size_t nout = 0;
	for (size_t i = 0; i < names->n; i++) {
		char *name = sv_expand(run, names->strs[i]);
		size_t nv;
		char **v = sv_header_values(run, name, &nv);
		/* :index counts the named header's fields, each with all
		 * its addresses (RFC 5260 §6, as Pigeonhole does) */
		apply_index(n, &v, &nv);
		char **addrs = xcalloc(1, sizeof *addrs);
		size_t na = 0;
		for (size_t k = 0; k < nv; k++) {
			struct mail_address *list = mail_address_parse(v[k], strlen(v[k]), 1000);
			for (struct mail_address *a = list; a != NULL; a = a->next) {
				if (a->mailbox == NULL || a->domain == NULL)
					continue;	/* group start or end */
				const char *local = a->mailbox, *dom = a->domain;
				if (strcmp(local, "MISSING_MAILBOX") == 0)
					local = "";
				if (strcmp(dom, "MISSING_DOMAIN") == 0)
					dom = "";
				char *pair = xasprintf("%s%c%s", local, 0, dom);
				/* keep both halves: local NUL domain */
				size_t ll = strlen(local), dl = strlen(dom);
				char *p = xmalloc(ll + dl + 2);
				memcpy(p, local, ll + 1);
				memcpy(p + ll + 1, dom, dl + 1);
				free(pair);
				strv_push(&addrs, &na, p);
			}
			mail_address_free(&list);
		}
		sv_strv_free(v, nv);
		for (size_t k = 0; k < na; k++) {
			char *part = address_part(n->ap, addrs[k], addrs[k] + strlen(addrs[k]) + 1);
			if (part != NULL)
				strv_push(&out, &nout, part);
		}
		sv_strv_free(addrs, na);
		free(name);
	}
	*nv_r = nout;
	return out;
}

static char **
envelope_values(struct sv_run *run, const struct sv_node *n, const struct sv_arg *parts,
		size_t *nv_r)
{
	char **out = xcalloc(1, sizeof *out);
	size_t nout = 0;
	for (size_t i = 0; i < parts->n; i++) {
		char *part = sv_expand(run, parts->strs[i]);
		const char *addr = NULL;
		if (str_eq_nocase(part, "from"))
			addr = run->env->sender;
		else if (str_eq_nocase(part, "to"))
			addr = run->env->recipient;
		free(part);
		if (addr == NULL)
			continue;
		if (*addr == 0) {
			/* RFC 5228 §5.4: the null reverse-path is "" */
			if (n->ap == AP_ALL)
				strv_push(&out, &nout, xstrdup(""));
			continue;
		}
		const char *at = strrchr(addr, '@');
		char *local = at != NULL ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
		char *v = address_part(n->ap, local, at != NULL ? at + 1 : "");
		free(local);
		if (v != NULL)
			strv_push(&out, &nout, v);
	}
	*nv_r = nout;
	return out;
}

/* The decoded text of the parts :text / :content ask for (RFC 5173). */
static void
body_part_values(struct sv_run *run, const struct sv_node *n, const struct mime_part *p,
		 const char *msg, char **types, char ***out, size_t *nout, int depth)
{
	if (depth > 20)
		return;
	if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			body_part_values(run, n, c, msg, types, out, nout, depth + 1);
		return;
	}
	const char *type = p->type != NULL ? p->type : "text";
	const char *sub = p->subtype != NULL ? p->subtype : "plain";
	bool want = false;
	for (size_t i = 0; types[i] != NULL; i++) {
		const char *t = types[i];
		const char *slash = strchr(t, '/');
		if (*t == 0)
			want = true;
		else if (slash == NULL && str_eq_nocase(t, type))
			want = true;
		else if (slash != NULL && strlen(type) == (size_t)(slash - t) &&
			 mem_eq_nocase(t, type, strlen(type)) && str_eq_nocase(slash + 1, sub))
			want = true;
	}
	if (!want)
		return;
	struct buf dec = BUF_INIT, utf = BUF_INIT;
	const char *b = msg + p->body_off;
	size_t bl = p->body_len;
	const char *enc = p->encoding;
	if (enc != NULL && str_eq_nocase(enc, "base64"))
		mime_base64_decode(&dec, b, bl);
	else if (enc != NULL && str_eq_nocase(enc, "quoted-printable"))
		mime_qp_decode(&dec, b, bl, false);
	else
		buf_append(&dec, b, bl);
	const char *cs = mime_part_charset(p);
	if (str_eq_nocase(type, "text") && cs != NULL && charset_is_known(cs))
		charset_to_utf8(&utf, cs, dec.data != NULL ? dec.data : "", dec.len);
	else
		buf_append(&utf, dec.data != NULL ? dec.data : "", dec.len);
	buf_puts(&utf, "");
	for (size_t i = 0; i < utf.len; i++)
		if (utf.data[i] == 0)
			utf.data[i] = ' ';
	strv_push(out, nout, buf_steal(&utf));
	buf_free(&dec);
}

static char **
body_values(struct sv_run *run, const struct sv_node *n, size_t *nv_r)
{
	char **out = xcalloc(1, sizeof *out);
	size_t nout = 0;
	if (sv_has_tag(n, "raw")) {
		char *b = xstrndup(run->body, run->body_len);
		for (size_t i = 0; i < run->body_len; i++)
			if (b[i] == 0)
				b[i] = ' ';
		strv_push(&out, &nout, b);
		*nv_r = nout;
		return out;
	}
	struct sv_arg *content = sv_tag(n, "content");
	char **types;
	if (content != NULL) {
		types = expand_list(run, content);
	} else {
		types = xcalloc(2, sizeof *types);
		types[0] = xstrdup("text");
	}
	/* the message as it is now: header block (maybe edited) + body */
	struct buf whole = BUF_INIT;
	buf_append(&whole, run->hdr, run->hdr_len);
	buf_append(&whole, run->body, run->body_len);
	buf_puts(&whole, "");
	struct mime_part *root = mime_parse(whole.data, whole.len);
	body_part_values(run, n, root, whole.data, types, &out, &nout, 0);
	mime_part_free(&root);
	buf_free(&whole);
	for (size_t i = 0; types[i] != NULL; i++)
		free(types[i]);
	free(types);
	*nv_r = nout;
	return out;
}

/* ---- dates (RFC 5260) ---------------------------------------------------- */

static bool
parse_zone(const char *z, int *min_r)
{
	if ((z[0] != '+' && z[0] != '-') || strlen(z) != 5)
		return false;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)z[i]))
			return false;
	int h = (z[1] - '0') * 10 + (z[2] - '0'), m = (z[3] - '0') * 10 + (z[4] - '0');
	if (h > 23 || m > 59)
		return false;
	*min_r = (z[0] == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

static int
local_zone(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return (int)(tm.tm_gmtoff / 60);
}

/* The date part of t seen in zone (minutes east); NULL: unknown part. */
static char *
date_part(const char *part, time_t t, int zone)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mn[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					  "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t lt = t + (time_t)zone * 60;
	struct tm tm;
	gmtime_r(&lt, &tm);
	int az = zone < 0 ? -zone : zone;
	char sign = zone < 0 ? '-' : '+';
	if (str_eq_nocase(part, "year"))
		return xasprintf("%04d", tm.tm_year + 1900);
	if (str_eq_nocase(part, "month"))
		return xasprintf("%02d", tm.tm_mon + 1);
	if (str_eq_nocase(part, "day"))
		return xasprintf("%02d", tm.tm_mday);
	if (str_eq_nocase(part, "date"))
		return xasprintf("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	if (str_eq_nocase(part, "julian")) {
		long long days = (long long)(lt >= 0 ? lt / 86400 : (lt - 86399) / 86400);
		return xasprintf("%lld", days + 40587);
	}
	if (str_eq_nocase(part, "hour"))
		return xasprintf("%02d", tm.tm_hour);
	if (str_eq_nocase(part, "minute"))
		return xasprintf("%02d", tm.tm_min);
	if (str_eq_nocase(part, "second"))
		return xasprintf("%02d", tm.tm_sec);
	if (str_eq_nocase(part, "time"))
		return xasprintf("%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (str_eq_nocase(part, "iso8601") && zone == 0)
		return xasprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (str_eq_nocase(part, "iso8601"))
		return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
				 az / 60, az % 60);
	if (str_eq_nocase(part, "std11"))
		return xasprintf("%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wd[tm.tm_wday],
				 tm.tm_mday, mn[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
				 tm.tm_min, tm.tm_sec, sign, az / 60, az % 60);
	if (str_eq_nocase(part, "zone"))
		return xasprintf("%c%02d%02d", sign, az / 60, az % 60);
	if (str_eq_nocase(part, "weekday"))
		return xasprintf("%d", tm.tm_wday);
	return NULL;
}

static char **
date_values(struct sv_run *run, const struct sv_node *n, size_t *nv_r)
{
	char **out = xcalloc(1, sizeof *out);
	size_t nout = 0;
	time_t t;
	int zone, orig = 0;
	bool current = n->code == T_CURRENTDATE;
	const struct sv_arg *part_arg = n->pos[current ? 0 : 1];
	*nv_r = 0;
	if (current) {
		t = run->env->now;
		orig = local_zone(t);
	} else {
		char *name = sv_expand(run, n->pos[0]->strs[0]);
		size_t nv;
		char **v = sv_header_values(run, name, &nv);
		apply_index(n, &v, &nv);
		bool ok = false;
		if (nv > 0) {
			const char *d = v[0];
			/* RFC 5260 §4: Received: the date after the last ';' */
			if (str_eq_nocase(name, "received")) {
				const char *semi = strrchr(d, ';');
				d = semi != NULL ? semi + 1 : d;
			}
			while (*d == ' ' || *d == '\t')
				d++;
			ok = mail_date_parse(d, strlen(d), &t, &orig) == 0;
		}
		sv_strv_free(v, nv);
		free(name);
		if (!ok)
			return out;
	}
	struct sv_arg *za = sv_tag(n, "zone");
	if (za != NULL) {
		char *z = sv_expand(run, za->strs[0]);
		bool ok = parse_zone(z, &zone);
		free(z);
		if (!ok)
			return out;	/* an invalid zone: the test fails */
	} else if (sv_has_tag(n, "originalzone")) {
		zone = orig;
	} else {
		zone = local_zone(t);
	}
	char *part = sv_expand(run, part_arg->strs[0]);
	char *v = date_part(part, t, zone);
	free(part);
	if (v != NULL)
		strv_push(&out, &nout, v);
	*nv_r = nout;
	return out;
}

/* ---- matching ------------------------------------------------------------ */

bool
sv_match_values(struct sv_run *run, const struct sv_node *n, char **values, size_t nv,
		const struct sv_arg *keys)
{
	bool capture = (run->s->ext & EXT_VARIABLES) &&
		       (n->match == MATCH_MATCHES || n->match == MATCH_REGEX);
	char **k = expand_list(run, keys);
	bool hit = false;
	struct sv_caps caps;
	memset(&caps, 0, sizeof caps);

	if (n->match == MATCH_COUNT) {
		char cnt[32];
		snprintf(cnt, sizeof cnt, "%zu", nv);
		for (size_t j = 0; j < keys->n && !hit; j++)
			hit = sv_rel_holds(n->rel, sv_cmp_order(n->cmp, cnt, k[j]));
		goto done;
	}
	for (size_t i = 0; i < nv && !hit; i++) {
		for (size_t j = 0; j < keys->n && !hit; j++) {
			if (++run->steps > SIEVE_MAX_STEPS) {
				sv_fail(run, "the script takes too long (CPU limit)");
				goto done;
			}
			switch (n->match) {
			case MATCH_IS:
				hit = sv_cmp_order(n->cmp, values[i], k[j]) == 0;
				break;
			case MATCH_CONTAINS:
				hit = sv_contains(n->cmp, values[i], k[j]);
				break;
			case MATCH_MATCHES:
				hit = sv_glob(n->cmp, k[j], values[i], capture ? &caps : NULL);
				break;
			case MATCH_VALUE:
				hit = sv_rel_holds(n->rel, sv_cmp_order(n->cmp, values[i], k[j]));
				break;
			case MATCH_REGEX:
				if (n->regex != NULL && j < n->n_regex) {
					hit = sv_regex_match(((void **)n->regex)[j], values[i],
							     capture ? &caps : NULL);
				} else {
					void *re;
					const char *err;
					if (sv_regex_compile(k[j], n->cmp, &re, &err) < 0) {
						sv_fail(run, "invalid regular expression '%s': %s",
							k[j], err);
						goto done;
					}
					hit = sv_regex_match(re, values[i], capture ? &caps : NULL);
					sv_regex_free(re);
				}
				break;
			case MATCH_COUNT:
				break;
			}
		}
	}
done:
	if (hit && capture) {
		sv_caps_clear(&run->caps);
		run->caps = caps;
	} else {
		sv_caps_clear(&caps);
	}
	sv_strv_free(k, keys->n);
	return hit;
}

/* ---- tests --------------------------------------------------------------- */

static bool
duplicate_test(struct sv_run *run, const struct sv_node *n)
{
	/* RFC 7352: the id is the handle plus the unique id (Message-ID by
	 * default, or the :header field's value, or :uniqueid) */
	struct sv_arg *h = sv_tag(n, "handle"), *hdr = sv_tag(n, "header"),
		      *uid = sv_tag(n, "uniqueid"), *secs = sv_tag(n, "seconds");
	char *value = NULL;
	if (uid != NULL) {
		value = sv_expand(run, uid->strs[0]);
	} else {
		char *name = hdr != NULL ? sv_expand(run, hdr->strs[0]) : xstrdup("message-id");
		size_t nv;
		char **v = sv_header_values(run, name, &nv);
		if (nv > 0)
			value = xstrdup(v[0]);
		sv_strv_free(v, nv);
		free(name);
	}
	if (value == NULL)
		return false;	/* RFC 7352 §3.1: no id, never a duplicate */
	char *handle = h != NULL ? sv_expand(run, h->strs[0]) : xstrdup("");
	struct buf key = BUF_INIT;
	buf_printf(&key, "duplicate\n%s\n%s", handle, value);
	char id[SHA256_HEX_LEN + 1];
	sha256_hex(key.data, key.len, id);
	buf_free(&key);
	free(handle);
	free(value);
	unsigned seconds = secs != NULL ? (unsigned)(secs->num > 7 * 86400 ? 7 * 86400 : secs->num)
					: 14400;	/* Pigeonhole: 12h default? RFC: impl. */
	bool seen = run->env->duplicate_seen != NULL &&
		    run->env->duplicate_seen(run->env->ctx, id, seconds);
	struct sieve_result *r = run->r;
	bool have = false;
	for (size_t i = 0; i < r->n_duplicates; i++)
		if (strcmp(r->duplicates[i], id) == 0)
			have = true;
	if (!have && r->n_duplicates < 64) {
		r->duplicates = xreallocarray(r->duplicates, r->n_duplicates + 1, sizeof *r->duplicates);
		r->duplicate_seconds = xreallocarray(r->duplicate_seconds, r->n_duplicates + 1,
						     sizeof *r->duplicate_seconds);
		r->duplicates[r->n_duplicates] = xstrdup(id);
		r->duplicate_seconds[r->n_duplicates++] = seconds;
	}
	return seen;
}

static bool test(struct sv_run *run, const struct sv_node *n);

static bool
test_inner(struct sv_run *run, const struct sv_node *n)
{
	char **v = NULL;
	size_t nv = 0;
	const struct sv_arg *keys = NULL;
	bool hit;

	switch (n->code) {
	case T_TRUE:
		return true;
	case T_FALSE:
		return false;
	case T_NOT:
		return !test(run, &n->tests[0]);
	case T_ALLOF:
		for (size_t i = 0; i < n->n_tests; i++)
			if (!test(run, &n->tests[i]))
				return false;
		return true;
	case T_ANYOF:
		for (size_t i = 0; i < n->n_tests; i++)
			if (test(run, &n->tests[i]))
				return true;
		return false;
	case T_EXISTS:
		for (size_t i = 0; i < n->pos[0]->n; i++) {
			char *name = sv_expand(run, n->pos[0]->strs[i]);
			struct mail_header_field f;
			bool have = mail_header_find(run->hdr, run->hdr_len, name, false, &f);
			free(name);
			if (!have)
				return false;
		}
		return true;
	case T_SIZE: {
		uint64_t size = run->hdr_len + run->body_len;
		struct sv_arg *over = sv_tag(n, "over"), *under = sv_tag(n, "under");
		return over != NULL ? size > over->num : size < under->num;
	}
	case T_HEADER:
		v = headers_values(run, n, n->pos[0], &nv);
		keys = n->pos[1];
		break;
	case T_ADDRESS:
		v = address_values(run, n, n->pos[0], &nv);
		keys = n->pos[1];
		break;
	case T_ENVELOPE:
		v = envelope_values(run, n, n->pos[0], &nv);
		keys = n->pos[1];
		break;
	case T_BODY:
		v = body_values(run, n, &nv);
		keys = n->pos[0];
		break;
	case T_STRING: {
		v = expand_list(run, n->pos[0]);
		nv = n->pos[0]->n;
		if (n->match == MATCH_COUNT) {
			/* RFC 5229 §5: empty strings are not counted */
			size_t k = 0;
			for (size_t i = 0; i < nv; i++) {
				if (*v[i] != 0)
					v[k++] = v[i];
				else
					free(v[i]);
			}
			nv = k;
			v[nv] = NULL;
		}
		keys = n->pos[1];
		break;
	}
	case T_HASFLAG: {
		v = xcalloc(1, sizeof *v);
		if (n->pos[0] != NULL) {
			for (size_t i = 0; i < n->pos[0]->n; i++) {
				char *name = sv_expand(run, n->pos[0]->strs[i]);
				struct sv_var *var = var_find(run, name, strlen(name));
				if (var != NULL)
					sv_flags_add(&v, &nv, var->value);
				free(name);
			}
		} else {
			for (size_t i = 0; i < run->n_flags; i++)
				strv_push(&v, &nv, xstrdup(run->flags[i]));
		}
		keys = n->pos[1];
		break;
	}
	case T_DATE:
	case T_CURRENTDATE:
		v = date_values(run, n, &nv);
		keys = n->pos[n->code == T_DATE ? 2 : 1];
		break;
	case T_SPAMTEST:
	case T_VIRUSTEST: {
		int score = n->code == T_VIRUSTEST ? run->env->virus_score
			    : sv_has_tag(n, "percent") ? run->env->spam_percent
						       : run->env->spam_score;
		v = xcalloc(2, sizeof *v);
		/* RFC 5235 §3.2: not tested is "0" (":percent" too) */
		v[0] = xasprintf("%d", score < 0 ? 0 : score);
		nv = 1;
		keys = n->pos[0];
		break;
	}
	case T_MAILBOXEXISTS:
		for (size_t i = 0; i < n->pos[0]->n; i++) {
			char *name = sv_expand(run, n->pos[0]->strs[i]);
			bool have = run->env->mailbox_exists == NULL ||
				    run->env->mailbox_exists(run->env->ctx, name);
			free(name);
			if (!have)
				return false;
		}
		return true;
	case T_VALID_NOTIFY_METHOD:
		for (size_t i = 0; i < n->pos[0]->n; i++) {
			char *uri = sv_expand(run, n->pos[0]->strs[i]);
			bool ok = sv_notify_uri_ok(uri);
			free(uri);
			if (!ok)
				return false;
		}
		return true;
	case T_NOTIFY_METHOD_CAPABILITY: {
		char *uri = sv_expand(run, n->pos[0]->strs[0]);
		char *cap = sv_expand(run, n->pos[1]->strs[0]);
		bool ok = sv_notify_uri_ok(uri) && str_eq_nocase(cap, "online");
		free(uri);
		free(cap);
		if (!ok)
			return false;
		/* RFC 5435 §5: mailto cannot tell: "maybe" */
		v = xcalloc(2, sizeof *v);
		v[0] = xstrdup("maybe");
		nv = 1;
		keys = n->pos[2];
		break;
	}
	case T_DUPLICATE:
		return duplicate_test(run, n);
	default:
		return false;
	}
	hit = sv_match_values(run, n, v, nv, keys);
	sv_strv_free(v, nv);
	return hit;
}

static bool
test(struct sv_run *run, const struct sv_node *n)
{
	if (run->stop)
		return false;
	if (++run->steps > SIEVE_MAX_STEPS) {
		sv_fail(run, "the script takes too long (CPU limit)");
		return false;
	}
	return test_inner(run, n);
}

/* ---- commands ------------------------------------------------------------ */

static void
action_flags(struct sv_run *run, const struct sv_node *n, struct sieve_action *a)
{
	struct sv_arg *f = sv_tag(n, "flags");
	if (f != NULL) {
		char **items = expand_list(run, f);
		for (size_t i = 0; items[i] != NULL; i++)
			sv_flags_add(&a->flags, &a->n_flags, items[i]);
		sv_strv_free(items, f->n);
	} else if (run->s->ext & EXT_IMAP4FLAGS) {
		for (size_t i = 0; i < run->n_flags; i++)
			sv_flags_add(&a->flags, &a->n_flags, run->flags[i]);
	}
}

static void run_block(struct sv_run *run, const struct sv_node *cmds, size_t n);

static void
command(struct sv_run *run, const struct sv_node *n, bool *cond_done)
{
	struct sieve_action *a;
	char *s;

	switch (n->code) {
	case C_REQUIRE:
		break;
	case C_IF:
		*cond_done = false;
		/* fall through */
	case C_ELSIF:
		if (*cond_done)
			break;
		if (test(run, &n->tests[0])) {
			*cond_done = true;
			run_block(run, n->block, n->n_block);
		}
		break;
	case C_ELSE:
		if (!*cond_done)
			run_block(run, n->block, n->n_block);
		*cond_done = true;
		break;
	case C_STOP:
		run->stop = true;
		break;
	case C_KEEP:
		a = sv_action_new(run, SIEVE_ACT_KEEP);
		if (a != NULL) {
			a->target = xstrdup("INBOX");
			action_flags(run, n, a);
		}
		break;
	case C_DISCARD:
		sv_action_new(run, SIEVE_ACT_DISCARD);
		break;
	case C_FILEINTO:
		s = sv_expand(run, n->pos[0]->strs[0]);
		if (!utf8_valid(s, strlen(s)) || *s == 0) {
			sv_fail(run, "fileinto: invalid folder name '%s'", s);
			free(s);
			break;
		}
		a = sv_action_new(run, SIEVE_ACT_FILEINTO);
		if (a == NULL) {
			free(s);
			break;
		}
		a->target = s;
		a->copy = sv_has_tag(n, "copy");
		a->create = sv_has_tag(n, "create");
		action_flags(run, n, a);
		break;
	case C_REDIRECT:
		s = sv_expand(run, n->pos[0]->strs[0]);
		if (!sv_address_ok(s)) {
			sv_fail(run, "redirect: invalid address '%s'", s);
			free(s);
			break;
		}
		a = sv_action_new(run, SIEVE_ACT_REDIRECT);
		if (a == NULL) {
			free(s);
			break;
		}
		a->target = s;
		a->copy = sv_has_tag(n, "copy");
		break;
	case C_REJECT:
	case C_EREJECT:
		a = sv_action_new(run, n->code == C_REJECT ? SIEVE_ACT_REJECT : SIEVE_ACT_EREJECT);
		if (a != NULL)
			a->text = sv_expand(run, n->pos[0]->strs[0]);
		break;
	case C_SETFLAG:
	case C_ADDFLAG:
	case C_REMOVEFLAG:
		do_flags(run, n);
		break;
	case C_SET:
		do_set(run, n);
		break;
	case C_VACATION:
		sv_vacation(run, n);
		break;
	case C_NOTIFY:
		sv_notify(run, n);
		break;
	case C_ADDHEADER:
		sv_addheader(run, n);
		break;
	case C_DELETEHEADER:
		sv_deleteheader(run, n);
		break;
	default:
		break;
	}
}

static void
run_block(struct sv_run *run, const struct sv_node *cmds, size_t n)
{
	bool cond_done = false;
	for (size_t i = 0; i < n && !run->stop; i++) {
		if (++run->steps > SIEVE_MAX_STEPS) {
			sv_fail(run, "the script takes too long (CPU limit)");
			return;
		}
		command(run, &cmds[i], &cond_done);
	}
}

static void
action_clear(struct sieve_action *a)
{
	free(a->target);
	sv_strv_free(a->flags, a->n_flags);
	free(a->text);
	free(a->why);
	free(a->reply_to);
	free(a->reply_from);
	free(a->reply);
}

void
sieve_result_clear(struct sieve_result *r)
{
	for (size_t i = 0; i < r->n_actions; i++)
		action_clear(&r->actions[i]);
	free(r->actions);
	sv_strv_free(r->implicit_flags, r->n_implicit_flags);
	free(r->header);
	sv_strv_free(r->duplicates, r->n_duplicates);
	free(r->duplicate_seconds);
	free(r->error);
	memset(r, 0, sizeof *r);
}

int
sieve_run(const struct sieve_script *script, const struct sieve_env *env,
	  struct sieve_result *r)
{
	struct sv_run run;
	memset(&run, 0, sizeof run);
	memset(r, 0, sizeof *r);
	run.s = script;
	run.env = env;
	run.r = r;
	run.hdr = env->msg;
	run.hdr_len = mail_header_size(env->msg, env->msg_len);
	run.body = env->msg + run.hdr_len;
	run.body_len = env->msg_len - run.hdr_len;
	r->implicit_keep = true;

	run_block(&run, script->cmds, script->n_cmds);
	if (run.error == NULL)
		sv_finish(&run);

	if (run.error != NULL) {
		/* RFC 5228 §2.10.6: a runtime error keeps the message */
		for (size_t i = 0; i < r->n_actions; i++)
			action_clear(&r->actions[i]);
		r->n_actions = 0;
		r->implicit_keep = true;
		r->error = run.error;
		sv_strv_free(run.flags, run.n_flags);
		run.flags = NULL;
		run.n_flags = 0;
		sv_strv_free(r->duplicates, r->n_duplicates);
		r->duplicates = NULL;
		r->n_duplicates = 0;
	} else if (r->implicit_keep) {
		r->implicit_flags = run.flags;
		r->n_implicit_flags = run.n_flags;
		run.flags = NULL;
		run.n_flags = 0;
	}
	if (run.is_edited && run.error == NULL)
		r->header = buf_steal(&run.edited);
	buf_free(&run.edited);
	sv_strv_free(run.flags, run.n_flags);
	for (size_t i = 0; i < run.n_vars; i++) {
		free(run.vars[i].name);
		free(run.vars[i].value);
	}
	free(run.vars);
	sv_caps_clear(&run.caps);
	sv_hvals_clear(&run);
	return r->error != NULL ? -1 : 0;
}
