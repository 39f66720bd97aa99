/*
 * match: comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric),
 * the :contains / :matches / :regex match types with the match variables
 * of RFC 5229 §3.2, and the relational operators of RFC 5231.
 */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "sieve/sieve_int.h"

bool
sv_numeric(const char *s, uint64_t *n_r)
{
	/* RFC 4790 §9.1: the leading digits; none means positive infinity */
	if (!isdigit((unsigned char)*s))
		return false;
	uint64_t n = 0;
	while (isdigit((unsigned char)*s)) {
		uint64_t d = (uint64_t)(*s++ - '0');
		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	*n_r = n;
	return true;
}

int
sv_cmp_order(enum sv_cmp cmp, const char *a, const char *b)
{
	switch (cmp) {
	case CMP_OCTET:
		return strcmp(a, b);
	case CMP_CASEMAP:
		for (;; a++, b++) {
			/* as Pigeonhole orders them: lower case */
			int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
			if (ca != cb || ca == 0)
				return ca - cb;
		}
	case CMP_NUMERIC: {
		uint64_t x, y;
		bool hx = sv_numeric(a, &x), hy = sv_numeric(b, &y);
		if (!hx || !hy)
			return hx == hy ? 0 : hx ? -1 : 1;
		return x < y ? -1 : x > y ? 1 : 0;
	}
	}
	return 0;
}

bool
sv_rel_holds(enum sv_rel rel, int o)
{
	switch (rel) {
	case REL_GT: return o > 0;
	case REL_GE: return o >= 0;
	case REL_LT: return o < 0;
	case REL_LE: return o <= 0;
	case REL_EQ: return o == 0;
	case REL_NE: return o != 0;
	}
	return false;
}

static bool
char_eq(enum sv_cmp cmp, char a, char b)
{
	if (cmp == CMP_CASEMAP)
		return toupper((unsigned char)a) == toupper((unsigned char)b);
	return a == b;
}

bool
sv_contains(enum sv_cmp cmp, const char *value, const char *key)
{
	size_t kl = strlen(key), vl = strlen(value);
	if (kl == 0)
		return true;
	for (size_t i = 0; i + kl <= vl; i++) {
		size_t j = 0;
		while (j < kl && char_eq(cmp, value[i + j], key[j]))
			j++;
		if (j == kl)
			return true;
	}
	return false;
}

void
sv_caps_clear(struct sv_caps *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	memset(c, 0, sizeof *c);
}

/* A wildcard's span during matching. */
struct span {
	const char *s;
	size_t n;
};

/*
 * Backtracking match; a '*' takes as little as it can (RFC 5229 §3.2's
 * example: "[*] *" against "[acme-users] [fwd] ..." gives "acme-users"),
 * so the spans found are the leftmost-shortest.  *budget bounds the work.
 */
static bool
glob_at(enum sv_cmp cmp, const char *k, const char *v, struct span *spans, size_t ns,
	long *budget)
{
	while (*k != 0) {
		if (--(*budget) < 0)
			return false;
		if (*k == '*') {
			/* runs of '*' : the first takes it all, the rest empty */
			const char *start = v;
			for (size_t take = 0;; take++) {
				if (ns < 64) {
					spans[ns].s = start;
					spans[ns].n = take;
				}
				if (glob_at(cmp, k + 1, start + take, spans, ns + 1, budget))
					return true;
				if (start[take] == 0 || *budget < 0)
					return false;
			}
		}
		if (*v == 0)
			return false;
		if (*k == '?') {
			if (ns < 64) {
				spans[ns].s = v;
				spans[ns].n = 1;
			}
			/* one character: a whole UTF-8 sequence */
			size_t cl = 1;
			while (((unsigned char)v[cl] & 0xc0) == 0x80)
				cl++;
			if (ns < 64)
				spans[ns].n = cl;
			ns++;
			v += cl;
			k++;
			continue;
		}
		char kc = *k;
		if (kc == '\\' && k[1] != 0)
			kc = *++k;
		if (!char_eq(cmp, kc, *v))
			return false;
		k++;
		v++;
	}
	return *v == 0;
}

bool
sv_glob(enum sv_cmp cmp, const char *key, const char *value, struct sv_caps *caps)
{
	struct span spans[64];
	long budget = 100000;
	if (!glob_at(cmp, key, value, spans, 0, &budget))
		return false;
	if (caps != NULL) {
		sv_caps_clear(caps);
		caps->v[0] = xstrdup(value);
		size_t n = 0;
		for (const char *k = key; *k != 0 && n < 9; k++) {
			if (*k == '\\' && k[1] != 0) {
				k++;
				continue;
			}
			if (*k == '*' || *k == '?') {
				caps->v[n + 1] = xstrndup(spans[n].s, spans[n].n);
				n++;
			}
		}
		caps->n = n + 1;
	}
	return true;
}

int
sv_regex_compile(const char *key, enum sv_cmp cmp, void **re_r, const char **error_r)
{
	static __thread char err[128];
	regex_t *re = xmalloc(sizeof *re);
	int flags = REG_EXTENDED | (cmp == CMP_CASEMAP ? REG_ICASE : 0);
	int rc = regcomp(re, key, flags);
	if (rc != 0) {
		regerror(rc, re, err, sizeof err);
		free(re);
		*error_r = err;
		return -1;
	}
	*re_r = re;
	return 0;
}

void
sv_regex_free(void *re)
{
	if (re == NULL)
		return;
	regfree(re);
	free(re);
}

bool
sv_regex_match(void *re, const char *value, struct sv_caps *caps)
{
	regmatch_t m[10];
	if (regexec(re, value, 10, m, 0) != 0)
		return false;
	if (caps != NULL) {
		sv_caps_clear(caps);
		size_t n = 0;
		for (size_t i = 0; i < 10; i++) {
			if (m[i].rm_so < 0) {
				caps->v[i] = xstrdup("");
			} else {
				caps->v[i] = xstrndup(value + m[i].rm_so,
						      (size_t)(m[i].rm_eo - m[i].rm_so));
			}
			n = i + 1;
		}
		caps->n = n;
	}
	return true;
}

bool
sv_address_ok(const char *s)
{
	/* local@domain, no spaces, controls or angle brackets; the local
	 * part may be quoted */
	const char *at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == 0 || strlen(s) > 320)
		return false;
	for (const char *p = s; *p != 0; p++)
		if ((unsigned char)*p <= 32 || *p == '<' || *p == '>' || *p == ',' ||
		    (unsigned char)*p == 127)
			if (!(s[0] == '"' && p < at))
				return false;
	for (const char *p = at + 1; *p != 0; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '[' &&
		    *p != ']' && *p != ':' && *p != '_')
			return false;
	return at[1] != '.';
}

bool
sv_mailbox_ok(const char *s)
{
	/* an address, maybe with a display name: "Me <me@example.org>" */
	const char *lt = strchr(s, '<');
	if (lt == NULL)
		return sv_address_ok(s);
	const char *gt = strchr(lt, '>');
	if (gt == NULL || gt[1] != 0)
		return false;
	char *a = strndup(lt + 1, (size_t)(gt - lt - 1));
	bool ok = a != NULL && sv_address_ok(a);
	free(a);
	return ok;
}
