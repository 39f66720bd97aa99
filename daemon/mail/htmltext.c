/* htmltext: the text of an HTML part; see htmltext.h. */
#include "mail/htmltext.h"

#include <stdint.h>
#include <string.h>

#include "core/utf8.h"
#include "mail/htmlent_table.h"

bool
mail_html_is_html(const char *type, const char *subtype)
{
	return type != NULL && subtype != NULL && str_eq_nocase(type, "text") &&
	       str_eq_nocase(subtype, "html");
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* HTML's ASCII white space (§13.2.5: tab, LF, FF, CR, space) */
static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ------------------------------------------------------------------ */
/* character references, as Python's html.unescape() */

/* The entity named name[0..len) exactly, or NULL. */
static const char *
entity_lookup(const char *name, size_t len)
{
	size_t lo = 0, hi = html_entities_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = html_entities[mid].name;
		size_t el = strlen(e);
		int c = memcmp(name, e, len < el ? len : el);
		if (c == 0)
			c = len < el ? -1 : len > el ? 1 : 0;
		if (c == 0)
			return html_entities[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* html._invalid_codepoints: what a numeric reference to them drops
 * (scripts/gen-htmlent.py checks that this is Python's set) */
static bool
dropped_code_point(uint32_t cp)
{
	return (cp >= 1 && cp <= 8) || cp == 0xb || (cp >= 0xe && cp <= 0x1f) ||
	       (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
	       (cp & 0xfffe) == 0xfffe;
}

static size_t
numeric_ref(struct buf *out, const char *p, size_t n)
{
	size_t i = 2;
	bool hex = i < n && (p[i] == 'x' || p[i] == 'X');
	if (hex)
		i++;
	size_t start = i;
	uint32_t num = 0;
	bool big = false;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (hex && lower(c) >= 'a' && lower(c) <= 'f')
			d = lower(c) - 'a' + 10u;
		else
			break;
		if (!big) {
			num = num * (hex ? 16u : 10u) + d;
			big = num > 0x10ffff;
		}
	}
	if (i == start) {
		buf_putc(out, '&');	/* "&#" with no digits: text */
		return 1;
	}
	if (i < n && p[i] == ';')
		i++;
	uint32_t cp;
	if (big)
		cp = UTF8_REPLACEMENT;
	else if (num == 0)
		cp = UTF8_REPLACEMENT;
	else if (num == 0x0d)
		cp = 0x0d;
	else if (num >= 0x80 && num <= 0x9f)
		cp = html_c1_refs[num - 0x80];
	else if (!utf8_is_scalar(num))
		cp = UTF8_REPLACEMENT;
	else if (dropped_code_point(num))
		return i;
	else
		cp = num;
	(void)utf8_append(out, cp);
	return i;
}

size_t
mail_html_charref(struct buf *out, const char *p, size_t n)
{
	if (n >= 2 && p[1] == '#')
		return numeric_ref(out, p, n);
	/* the name: what html.unescape() takes, [^\t\n\f <&#;]{1,32} (a
	 * longer run matches no name, nor does a longer prefix) */
	size_t i = 1;
	while (i < n && i <= HTML_ENTITY_NAME_MAX &&
	       strchr("\t\n\f <&#;", p[i]) == NULL && p[i] != '\0')
		i++;
	size_t len = i - 1;
	if (len == 0) {
		buf_putc(out, '&');
		return 1;
	}
	bool semi = i < n && p[i] == ';';
	const char *v = entity_lookup(p + 1, len + semi);
	if (v != NULL) {
		buf_puts(out, v);
		return 1 + len + semi;
	}
	/* the longest legacy name it starts with (html.unescape(): "&notit;"
	 * is "¬it;") */
	for (size_t x = len + semi - 1; x >= 2; x--) {
		v = entity_lookup(p + 1, x);
		if (v != NULL) {
			buf_puts(out, v);
			return 1 + x;
		}
	}
	buf_putc(out, '&');
	return 1;
}

/* ------------------------------------------------------------------ */
/* the text, white space collapsed */

struct out {
	struct buf *buf;
	bool space;	/* white space seen since the last text */
	bool any;	/* text written */
};

static void
emit(struct out *o, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		bool nbsp = c == 0xc2 && i + 1 < n && (unsigned char)p[i + 1] == 0xa0;
		if (is_space(c) || nbsp) {
			o->space = true;
			i += nbsp ? 2 : 1;
			continue;
		}
		size_t j = i + 1;
		while (j < n && !is_space((unsigned char)p[j]) &&
		       !((unsigned char)p[j] == 0xc2 && j + 1 < n &&
			 (unsigned char)p[j + 1] == 0xa0))
			j++;
		if (o->space && o->any)
			buf_putc(o->buf, ' ');
		o->space = false;
		o->any = true;
		buf_append(o->buf, p + i, j - i);
		i = j;
	}
}

/* ------------------------------------------------------------------ */
/* tags */

/* Elements whose tags separate words (rendered as blocks or breaks). */
static bool
is_block(const char *name)
{
	static const char *const blocks[] = {
		"address", "article", "aside", "blockquote", "body", "br",
		"button", "caption", "center", "dd", "details", "dialog",
		"dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
		"footer", "form", "frame", "h1", "h2", "h3", "h4", "h5", "h6",
		"head", "header", "hr", "html", "iframe", "img", "input",
		"legend", "li", "main", "menu", "nav", "noscript", "ol",
		"option", "p", "pre", "section", "select", "summary", "table",
		"tbody", "td", "textarea", "tfoot", "th", "thead", "title",
		"tr", "ul",
	};
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		if (strcmp(name, blocks[i]) == 0)
			return true;
	}
	return false;
}

/* One attribute of a tag, for the <meta> prescan. */
typedef void attr_fn(void *ctx, const char *name, size_t name_len,
		     const char *value, size_t value_len);

/* Reads the attributes of a tag from p[i] (after its name) to its ">";
 * the index after the ">", or n when the tag does not end (§13.2.5.32
 * to .40: a quote opens a value only after "="). */
static size_t
tag_rest(const char *p, size_t n, size_t i, attr_fn *fn, void *ctx)
{
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		if (is_space(c) || c == '/') {
			i++;
			continue;
		}
		if (c == '>')
			return i + 1;
		/* an attribute name ("=" may start one) */
		size_t ns = i++;
		while (i < n && !is_space((unsigned char)p[i]) && p[i] != '/' &&
		       p[i] != '>' && p[i] != '=')
			i++;
		size_t ne = i;
		while (i < n && is_space((unsigned char)p[i]))
			i++;
		const char *val = "";
		size_t vl = 0;
		if (i < n && p[i] == '=') {
			i++;
			while (i < n && is_space((unsigned char)p[i]))
				i++;
			if (i < n && (p[i] == '"' || p[i] == '\'')) {
				const char *q = memchr(p + i + 1, p[i], n - i - 1);
				if (q == NULL)
					return n;
				val = p + i + 1;
				vl = (size_t)(q - val);
				i = (size_t)(q - p) + 1;
			} else {
				size_t vs = i;
				while (i < n && !is_space((unsigned char)p[i]) &&
				       p[i] != '>')
					i++;
				val = p + vs;
				vl = i - vs;
			}
		}
		if (fn != NULL)
			fn(ctx, p + ns, ne - ns, val, vl);
	}
	return n;
}

/* The name of the tag at p[i] (a letter), lowercased into name[0..16)
 * ("" when longer); the index after it. */
static size_t
tag_name(const char *p, size_t n, size_t i, char name[16])
{
	size_t s = i;
	while (i < n && !is_space((unsigned char)p[i]) && p[i] != '/' && p[i] != '>')
		i++;
	size_t l = i - s;
	if (l >= 16)
		l = 0;
	for (size_t k = 0; k < l; k++)
		name[k] = (char)lower((unsigned char)p[s + k]);
	name[l] = '\0';
	return i;
}

/* Where the end tag of a raw text element (script, style) starts, from
 * p[i]: "</" name and then white space, "/" or ">" (§13.2.5.15); n when
 * it has none. */
static size_t
raw_text_end(const char *p, size_t n, size_t i, const char *name)
{
	size_t nl = strlen(name);
	while (i < n) {
		const char *lt = memchr(p + i, '<', n - i);
		if (lt == NULL)
			return n;
		size_t j = (size_t)(lt - p);
		if (j + 2 + nl < n && p[j + 1] == '/' &&
		    mem_eq_nocase(p + j + 2, name, nl)) {
			unsigned char c = (unsigned char)p[j + 2 + nl];
			if (is_space(c) || c == '/' || c == '>')
				return j;
		}
		i = j + 1;
	}
	return n;
}

/* The index after the comment or markup declaration at p[i] ("<!"). */
static size_t
skip_declaration(const char *p, size_t n, size_t i)
{
	if (i + 4 <= n && memcmp(p + i, "<!--", 4) == 0) {
		size_t j = i + 4;
		/* §13.2.5.44/.45: "<!-->" and "<!--->" end at once */
		if (j < n && p[j] == '>')
			return j + 1;
		if (j + 1 < n && p[j] == '-' && p[j + 1] == '>')
			return j + 2;
		for (; j + 2 < n; j++) {
			if (p[j] != '-' || p[j + 1] != '-')
				continue;
			if (p[j + 2] == '>')
				return j + 3;
			if (j + 3 < n && p[j + 2] == '!' && p[j + 3] == '>')
				return j + 4;
		}
		return n;
	}
	/* DOCTYPE, CDATA (a bogus comment in HTML content), others */
	const char *gt = memchr(p + i, '>', n - i);
	return gt != NULL ? (size_t)(gt - p) + 1 : n;
}

void
mail_html_text(struct buf *out, const char *p, size_t n)
{
	struct out o = { .buf = out };
	struct buf ref = BUF_INIT;
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		if (c == '&') {
			buf_reset(&ref);
			i += mail_html_charref(&ref, p + i, n - i);
			emit(&o, ref.data, ref.len);
			continue;
		}
		if (c != '<') {
			size_t j = i + 1;
			while (j < n && p[j] != '<' && p[j] != '&')
				j++;
			emit(&o, p + i, j - i);
			i = j;
			continue;
		}
		unsigned char d = i + 1 < n ? (unsigned char)p[i + 1] : 0;
		if (d == '!') {
			i = skip_declaration(p, n, i);
			continue;
		}
		if (d == '?') {
			/* §13.2.5.6: a bogus comment, to ">" */
			i = skip_declaration(p, n, i);
			continue;
		}
		if (d == '/' && i + 2 < n) {
			unsigned char e = (unsigned char)p[i + 2];
			if (e == '>') {
				i += 3;		/* "</>": nothing */
				continue;
			}
			if (!is_alpha(e)) {
				i = skip_declaration(p, n, i);
				continue;
			}
			char name[16];
			size_t j = tag_name(p, n, i + 2, name);
			i = tag_rest(p, n, j, NULL, NULL);
			if (is_block(name))
				o.space = true;
			continue;
		}
		if (!is_alpha(d)) {
			emit(&o, "<", 1);	/* "<" that starts no tag */
			i++;
			continue;
		}
		char name[16];
		size_t j = tag_name(p, n, i + 1, name);
		i = tag_rest(p, n, j, NULL, NULL);
		if (is_block(name))
			o.space = true;
		if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0) {
			i = raw_text_end(p, n, i, name);
			o.space = true;
		}
	}
	buf_free(&ref);
}

/* ------------------------------------------------------------------ */
/* <meta> charset */

struct meta {
	const char *charset, *content;
	size_t charset_len, content_len;
	bool http_equiv_ct;
};

static void
meta_attr(void *ctx, const char *name, size_t nl, const char *v, size_t vl)
{
	struct meta *m = ctx;
	if (nl == 7 && mem_eq_nocase(name, "charset", 7) && m->charset == NULL) {
		m->charset = v;
		m->charset_len = vl;
	} else if (nl == 7 && mem_eq_nocase(name, "content", 7) &&
		   m->content == NULL) {
		m->content = v;
		m->content_len = vl;
	} else if (nl == 10 && mem_eq_nocase(name, "http-equiv", 10)) {
		m->http_equiv_ct = vl == 12 && mem_eq_nocase(v, "content-type", 12);
	}
}

/* §2.5.1 "extracting a character encoding from a meta element": the
 * value after "charset", "=", quoted or up to white space or ";". */
static bool
content_charset(const char *s, size_t n, const char **cs_r, size_t *len_r)
{
	for (size_t i = 0; i + 7 <= n; i++) {
		if (!mem_eq_nocase(s + i, "charset", 7))
			continue;
		size_t j = i + 7;
		while (j < n && is_space((unsigned char)s[j]))
			j++;
		if (j >= n || s[j] != '=')
			continue;
		j++;
		while (j < n && is_space((unsigned char)s[j]))
			j++;
		if (j < n && (s[j] == '"' || s[j] == '\'')) {
			const char *q = memchr(s + j + 1, s[j], n - j - 1);
			if (q == NULL)
				return false;
			*cs_r = s + j + 1;
			*len_r = (size_t)(q - (s + j + 1));
			return true;
		}
		size_t k = j;
		while (k < n && !is_space((unsigned char)s[k]) && s[k] != ';')
			k++;
		*cs_r = s + j;
		*len_r = k - j;
		return k > j;
	}
	return false;
}

bool
mail_html_meta_charset(const char *p, size_t n, char *name, size_t cap)
{
	if (n > MAIL_HTML_META_SCAN)
		n = MAIL_HTML_META_SCAN;
	size_t i = 0;
	while (i < n) {
		const char *lt = memchr(p + i, '<', n - i);
		if (lt == NULL)
			return false;
		i = (size_t)(lt - p);
		if (i + 1 < n && (p[i + 1] == '!' || p[i + 1] == '?' ||
				  p[i + 1] == '/')) {
			i = skip_declaration(p, n, i);
			continue;
		}
		if (i + 1 >= n || !is_alpha((unsigned char)p[i + 1])) {
			i++;
			continue;
		}
		char tag[16];
		size_t j = tag_name(p, n, i + 1, tag);
		struct meta m = { 0 };
		bool is_meta = strcmp(tag, "meta") == 0;
		i = tag_rest(p, n, j, is_meta ? meta_attr : NULL, &m);
		if (!is_meta)
			continue;
		const char *cs = m.charset;
		size_t cl = m.charset_len;
		if (cs == NULL && !(m.http_equiv_ct && m.content != NULL &&
				    content_charset(m.content, m.content_len, &cs, &cl)))
			continue;
		while (cl > 0 && is_space((unsigned char)cs[0])) {
			cs++;
			cl--;
		}
		while (cl > 0 && is_space((unsigned char)cs[cl - 1]))
			cl--;
		if (cl == 0 || cl >= cap || memchr(cs, '\0', cl) != NULL)
			return false;
		memcpy(name, cs, cl);
		name[cl] = '\0';
		return true;
	}
	return false;
}
