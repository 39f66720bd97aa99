/*
 * dmarc_record: the DMARC policy record (RFC 7489 §6.3, §6.4).
 *
 * A record is "v=DMARC1" and then tag=value pairs separated by ';', with
 * white space around either.  Tags not known are ignored (§6.3); a known
 * tag with a value out of its grammar makes the record malformed
 * (permerror, §11.2) -- except p= and sp=, whose absence or error §6.6.3
 * settles: with a usable rua= the record counts as p=none, without one
 * DMARC does not apply to the message.
 */
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "trust/dmarc.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* s[0..*len) without leading and trailing white space. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && is_wsp(*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && is_wsp(s[*len - 1]))
		(*len)--;
	return s;
}

static bool
word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && mem_eq_nocase(s, word, len);
}

/* "none" / "quarantine" / "reject" */
static int
parse_policy(const char *v, size_t len, enum dmarc_policy *p)
{
	if (word_is(v, len, "none"))
		*p = DMARC_POLICY_NONE;
	else if (word_is(v, len, "quarantine"))
		*p = DMARC_POLICY_QUARANTINE;
	else if (word_is(v, len, "reject"))
		*p = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

/* "r" / "s" */
static int
parse_align(const char *v, size_t len, enum dmarc_align *a)
{
	if (word_is(v, len, "r"))
		*a = DMARC_ALIGN_RELAXED;
	else if (word_is(v, len, "s"))
		*a = DMARC_ALIGN_STRICT;
	else
		return -1;
	return 0;
}

static bool
all_digits(const char *v, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* Calls ok(item) for each item of a list separated by sep (white space
 * around items allowed); false when one is not ok or empty. */
static bool
each_item(const char *v, size_t len, char sep, bool (*ok)(const char *, size_t))
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != sep)
			continue;
		size_t il = i - start;
		const char *item = trim(v + start, &il);
		if (il == 0 || !ok(item, il))
			return false;
		start = i + 1;
	}
	return true;
}

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]: a scheme
 * (RFC 3986 §3.1), ':' and something after it; no white space. */
static bool
uri_ok(const char *u, size_t len)
{
	size_t i = 0;
	if (len == 0 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
		return false;
	while (i < len && u[i] != ':') {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
		i++;
	}
	if (i + 1 >= len)
		return false;
	for (; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return false;
	return true;
}

static bool
fo_ok(const char *v, size_t len)
{
	return len == 1 && strchr("01dsDS", v[0]) != NULL;
}

static bool
keyword_ok(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* "v" *WSP "=" *WSP "DMARC1" (exactly, §6.4) as the first tag. */
static bool
is_version_tag(const char *s, size_t len)
{
	s = trim(s, &len);
	if (len < 1 || s[0] != 'v')
		return false;
	size_t i = 1;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i >= len || s[i] != '=')
		return false;
	i++;
	while (i < len && is_wsp(s[i]))
		i++;
	return len - i == 6 && memcmp(s + i, "DMARC1", 6) == 0;
}

int
dmarc_record_parse(const char *text, size_t len, struct dmarc_record *rec, const char **error_r)
{
	memset(rec, 0, sizeof *rec);
	rec->pct = 100;
	rec->applies = true;
	if (len > DMARC_RECORD_MAX) {
		*error_r = "DMARC record too long";
		return -1;
	}
	const char *semi = memchr(text, ';', len);
	size_t first = semi != NULL ? (size_t)(semi - text) : len;
	if (!is_version_tag(text, first))
		return 1;
	bool p_ok = false, sp_bad = false, seen_rua = false, seen_ruf = false;
	size_t pos = semi != NULL ? first + 1 : len;
	while (pos < len) {
		const char *next = memchr(text + pos, ';', len - pos);
		size_t end = next != NULL ? (size_t)(next - text) : len;
		size_t tl = end - pos;
		const char *t = trim(text + pos, &tl);
		pos = next != NULL ? end + 1 : len;
		const char *eq = memchr(t, '=', tl);
		if (tl == 0 || eq == NULL)
			continue;	/* an empty part (";;", a trailing ';') */
		size_t nl = (size_t)(eq - t), vl = tl - nl - 1;
		const char *name = trim(t, &nl);
		const char *v = trim(eq + 1, &vl);
		if (vl == 0)
			continue;
		bool bad = false;
		if (word_is(name, nl, "p")) {
			p_ok = parse_policy(v, vl, &rec->p) == 0;
		} else if (word_is(name, nl, "sp")) {
			rec->has_sp = parse_policy(v, vl, &rec->sp) == 0;
			sp_bad = !rec->has_sp;
		} else if (word_is(name, nl, "adkim")) {
			bad = parse_align(v, vl, &rec->adkim) < 0;
		} else if (word_is(name, nl, "aspf")) {
			bad = parse_align(v, vl, &rec->aspf) < 0;
		} else if (word_is(name, nl, "pct")) {
			/* 1*3DIGIT, at most 100 */
			bad = !all_digits(v, vl) || vl > 3;
			if (!bad) {
				unsigned n = 0;
				for (size_t i = 0; i < vl; i++)
					n = n * 10 + (unsigned)(v[i] - '0');
				bad = n > 100;
				rec->pct = n;
			}
		} else if (word_is(name, nl, "rua") || word_is(name, nl, "ruf")) {
			bool *seen = name[2] == 'a' || name[2] == 'A' ? &seen_rua : &seen_ruf;
			/* one list of URIs per tag */
			bad = *seen || !each_item(v, vl, ',', uri_ok);
			*seen = true;
			if (seen == &seen_rua && !bad)
				rec->has_rua = true;
		} else if (word_is(name, nl, "ri")) {
			bad = !all_digits(v, vl) || vl > 10;
		} else if (word_is(name, nl, "fo")) {
			bad = !each_item(v, vl, ':', fo_ok);
		} else if (word_is(name, nl, "rf")) {
			bad = !each_item(v, vl, ':', keyword_ok);
		}
		if (bad) {
			*error_r = errfmt("bad DMARC tag '%s'", esc(t, tl));
			return -1;
		}
	}
	/* §6.6.3: no valid p= (or a bad sp=): p=none when a report address
	 * is there, else DMARC does not apply */
	if (!p_ok || sp_bad) {
		if (rec->has_rua) {
			rec->p = DMARC_POLICY_NONE;
			rec->has_sp = false;
		} else {
			rec->applies = false;
		}
	}
	return 0;
}
