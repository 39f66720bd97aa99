/*
 * dkim_verify_sig: signature fields (DKIM-Signature, ARC-Message-Signature,
 * ARC-Seal) parsed and checked for syntax, the data they cover, and the
 * streaming body hashes (see dkim_verify_int.h).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/limits.h"
#include "core/log.h"
#include "trust/dkim_verify_int.h"

/* ---- the header fields ------------------------------------------------ */

void
dkim_headers_init(struct dkim_headers *hs, const char *data, size_t len)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t cap = 0;
	hs->data = data;
	hs->len = len;
	hs->f = NULL;
	hs->n = 0;
	mail_header_iter_init(&it, data, len);
	while (mail_header_iter_next(&it, &f)) {
		if (hs->n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			hs->f = xreallocarray(hs->f, cap, sizeof *hs->f);
		}
		hs->f[hs->n++] = f;
	}
}

void
dkim_headers_free(struct dkim_headers *hs)
{
	xfree(hs->f);
	hs->n = 0;
}

static bool
field_is(const struct mail_header_field *f, const char *name, size_t len)
{
	return f->name_len == len && mem_eq_nocase(f->name, name, len);
}

bool
dkim_headers_is(const struct dkim_headers *hs, size_t i, const char *name)
{
	return field_is(&hs->f[i], name, strlen(name));
}

void
dkim_canon_field(const struct dkim_headers *hs, const struct mail_header_field *f,
		 enum dkim_canon c, struct buf *out)
{
	if (c == DKIM_CANON_RELAXED)
		dkim_canon_header(f->name, f->name_len, f->value, f->value_len, out);
	else
		dkim_canon_header_simple(hs->data + f->raw_off, f->raw_len, out);
}

/* ---- body hashes ------------------------------------------------------ */

static void
bodyhash_sink(void *ctx, const void *p, size_t n)
{
	struct dkim_bodyhash *h = ctx;
	uint64_t take = n;
	/* l=: bytes past the signed length are counted, not hashed */
	if (h->limited)
		take = h->total >= h->limit ? 0 : h->limit - h->total < n ? h->limit - h->total : n;
	if (take > 0)
		EVP_DigestUpdate(h->md, p, (size_t)take);
	h->total += n;
}

void
dkim_bodyhashes_init(struct dkim_bodyhashes *set, size_t cap)
{
	set->h = cap > 0 ? xcalloc(cap, sizeof *set->h) : NULL;
	set->n = 0;
	set->cap = cap;
}

size_t
dkim_bodyhashes_want(struct dkim_bodyhashes *set, enum dkim_canon canon, bool limited,
		     uint64_t limit)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct dkim_bodyhash *h = &set->h[i];
		if (h->canon == canon && h->limited == limited && (!limited || h->limit == limit))
			return i;
	}
	if (set->n == set->cap)
		return SIZE_MAX;
	struct dkim_bodyhash *h = &set->h[set->n];
	h->canon = canon;
	h->limited = limited;
	h->limit = limit;
	h->total = 0;
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		fatal("dkim: cannot start SHA-256");
	dkim_body_init(&h->body, canon, bodyhash_sink, h);
	return set->n++;
}

void
dkim_bodyhashes_add(struct dkim_bodyhashes *set, const void *p, size_t n)
{
	for (size_t i = 0; i < set->n; i++)
		dkim_body_add(&set->h[i].body, p, n);
}

void
dkim_bodyhashes_finish(struct dkim_bodyhashes *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct dkim_bodyhash *h = &set->h[i];
		unsigned len = 0;
		dkim_body_finish(&h->body);
		if (EVP_DigestFinal_ex(h->md, h->digest, &len) != 1 || len != 32)
			fatal("dkim: SHA-256 failed");
	}
}

void
dkim_bodyhashes_free(struct dkim_bodyhashes *set)
{
	for (size_t i = 0; i < set->n; i++)
		EVP_MD_CTX_free(set->h[i].md);
	xfree(set->h);
	set->n = set->cap = 0;
}

/* ---- signature fields ------------------------------------------------- */

static int
sig_error(struct dkim_sig *sig, enum dkim_status status, const char *reason)
{
	sig->status = status;
	sig->reason = reason;
	return -1;
}

static char *
tag_string(const struct dkim_tags *tags, const char *name)
{
	const struct dkim_tag *t = dkim_tags_get(tags, name);
	if (t == NULL)
		return NULL;
	struct buf b = BUF_INIT;
	dkim_tag_squeeze(t, &b);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

/* A domain name or selector as DNS can carry it: labels of letters,
 * digits, '-' and '_' (and UTF-8, RFC 8616), dot-separated, not empty. */
static bool
dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* c= (RFC 6376 §3.5): header[/body], each simple or relaxed; the body
 * defaults to simple. */
static int
parse_canon(const struct dkim_tag *t, enum dkim_canon *h_r, enum dkim_canon *b_r)
{
	size_t pos = 0, len;
	const char *item;
	enum dkim_canon *out[2] = { h_r, b_r };
	int k = 0;
	*h_r = *b_r = DKIM_CANON_SIMPLE;
	while (dkim_tag_list_next(t, '/', &pos, &item, &len)) {
		if (k == 2)
			return -1;
		if (len == 6 && memcmp(item, "simple", 6) == 0)
			*out[k] = DKIM_CANON_SIMPLE;
		else if (len == 7 && memcmp(item, "relaxed", 7) == 0)
			*out[k] = DKIM_CANON_RELAXED;
		else
			return -1;
		k++;
	}
	return 0;
}

/* h=: names of fields, colon-separated, none empty; DKIM needs From in it
 * (RFC 6376 §6.1.1), an AMS must not name ARC-Seal (RFC 8617 §4.1.2). */
static int
check_h(struct dkim_sig *sig)
{
	size_t pos = 0, len, n = 0;
	const char *item;
	bool from = false;
	while (dkim_tag_list_next(sig->h, ':', &pos, &item, &len)) {
		if (len == 0)
			return sig_error(sig, DKIM_PERMERROR, "malformed h= (an empty name)");
		if (++n > DKIM_H_FIELDS_MAX)
			return sig_error(sig, DKIM_PERMERROR, "too many names in h=");
		if (len == 4 && mem_eq_nocase(item, "from", 4))
			from = true;
		if (sig->kind == DKIM_SIG_AMS && len == 8 && mem_eq_nocase(item, "arc-seal", 8))
			return sig_error(sig, DKIM_PERMERROR, "h= names ARC-Seal");
	}
	if (sig->kind == DKIM_SIG_DKIM && !from)
		return sig_error(sig, DKIM_PERMERROR, "From is not signed");
	return 0;
}

/* i= of DKIM: [local-part] "@" domain, the domain d= or under it (§3.5). */
static bool
identity_ok(const char *i, const char *d)
{
	const char *at = strrchr(i, '@');
	if (at == NULL)
		return false;
	const char *dom = at + 1;
	size_t dl = strlen(dom), l = strlen(d);
	if (dl == l)
		return mem_eq_nocase(dom, d, l);
	return dl > l && dom[dl - l - 1] == '.' && mem_eq_nocase(dom + dl - l, d, l);
}

static const char *const required[][8] = {
	[DKIM_SIG_DKIM] = { "v", "a", "b", "bh", "d", "h", "s", NULL },
	[DKIM_SIG_AMS] = { "i", "a", "b", "bh", "d", "h", "s", NULL },
	[DKIM_SIG_AS] = { "i", "cv", "a", "b", "d", "s", NULL },
};

static int
parse_times(struct dkim_sig *sig, int64_t now)
{
	const struct dkim_tag *tt = dkim_tags_get(&sig->tags, "t");
	const struct dkim_tag *xt = dkim_tags_get(&sig->tags, "x");
	unsigned long long t = 0, x = 0;
	if (tt != NULL && dkim_tag_uint(tt, 20, &t) < 0)
		return sig_error(sig, DKIM_PERMERROR, "malformed t=");
	if (xt != NULL && dkim_tag_uint(xt, 20, &x) < 0)
		return sig_error(sig, DKIM_PERMERROR, "malformed x=");
	uint64_t unow = now > 0 ? (uint64_t)now : 0;
	/* §3.5: a signature from the future cannot be right (a clock a few
	 * minutes off is allowed) */
	if (tt != NULL && t > unow + DKIM_CLOCK_SKEW)
		return sig_error(sig, DKIM_PERMERROR, "t= is in the future");
	if (xt != NULL && tt != NULL && x < t)
		return sig_error(sig, DKIM_PERMERROR, "x= is before t=");
	/* §6.1.1: an expired signature is not valid */
	if (xt != NULL && x + DKIM_CLOCK_SKEW < unow)
		return sig_error(sig, DKIM_FAIL, "signature expired (x=)");
	return 0;
}

int
dkim_sig_parse(struct dkim_sig *sig, enum dkim_sig_kind kind,
	       const struct dkim_headers *hs, size_t field, int64_t now)
{
	const struct mail_header_field *f = &hs->f[field];
	const char *error;
	memset(sig, 0, sizeof *sig);
	sig->kind = kind;
	sig->field = field;
	sig->body = SIZE_MAX;
	sig->status = DKIM_NONE;
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;

	if (dkim_tags_parse(f->value, f->value_len, &sig->tags, &error) < 0)
		return sig_error(sig, DKIM_PERMERROR, error);
	const struct dkim_tags *tags = &sig->tags;
	sig->d = tag_string(tags, "d");
	sig->s = tag_string(tags, "s");
	sig->a = tag_string(tags, "a");
	sig->b_text = tag_string(tags, "b");
	if (kind == DKIM_SIG_DKIM)
		sig->i = tag_string(tags, "i");
	for (size_t k = 0; required[kind][k] != NULL; k++)
		if (dkim_tags_get(tags, required[kind][k]) == NULL)
			return sig_error(sig, DKIM_PERMERROR, "a required tag is missing");

	if (kind == DKIM_SIG_DKIM && !dkim_tag_is(dkim_tags_get(tags, "v"), "1", false))
		return sig_error(sig, DKIM_PERMERROR, "unknown version (v=)");
	if (strcmp(sig->a, "rsa-sha256") == 0)
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (strcmp(sig->a, "ed25519-sha256") == 0)
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (strcmp(sig->a, "rsa-sha1") == 0)
		return sig_error(sig, DKIM_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
	else
		return sig_error(sig, DKIM_PERMERROR, "unknown algorithm (a=)");
	if (!dns_name_ok(sig->d) || !dns_name_ok(sig->s) ||
	    strlen(sig->d) + strlen(sig->s) + 12 > SMTP_DOMAIN_MAX)
		return sig_error(sig, DKIM_PERMERROR, "malformed d= or s=");

	sig->b = dkim_tags_get(tags, "b");
	if (dkim_tag_base64(sig->b, &sig->b_raw) < 0 || sig->b_raw.len == 0)
		return sig_error(sig, DKIM_PERMERROR, "b= is not base64");
	const struct dkim_tag *bh = dkim_tags_get(tags, "bh");
	if (bh != NULL && (dkim_tag_base64(bh, &sig->bh_raw) < 0 || sig->bh_raw.len == 0))
		return sig_error(sig, DKIM_PERMERROR, "bh= is not base64");

	const struct dkim_tag *c = dkim_tags_get(tags, "c");
	if (kind == DKIM_SIG_AS) {
		/* RFC 8617 §5.1.1: an ARC-Seal is always relaxed, and signs
		 * the ARC sets, not fields of its choice */
		sig->hcanon = DKIM_CANON_RELAXED;
		if (dkim_tags_get(tags, "h") != NULL)
			return sig_error(sig, DKIM_PERMERROR, "h= in an ARC-Seal");
	} else if (c != NULL && parse_canon(c, &sig->hcanon, &sig->bcanon) < 0) {
		return sig_error(sig, DKIM_PERMERROR, "unknown canonicalization (c=)");
	}

	if (kind != DKIM_SIG_DKIM) {
		unsigned long long inst;
		if (dkim_tag_uint(dkim_tags_get(tags, "i"), 2, &inst) < 0 || inst < 1 ||
		    inst > ARC_INSTANCE_MAX)
			return sig_error(sig, DKIM_PERMERROR, "malformed instance (i=)");
		sig->instance = (unsigned)inst;
	} else if (sig->i != NULL && !identity_ok(sig->i, sig->d)) {
		return sig_error(sig, DKIM_PERMERROR, "i= is not within d=");
	}
	if (kind == DKIM_SIG_AS) {
		const struct dkim_tag *cv = dkim_tags_get(tags, "cv");
		if (dkim_tag_is(cv, "none", true))
			sig->cv = ARC_CV_NONE;
		else if (dkim_tag_is(cv, "pass", true))
			sig->cv = ARC_CV_PASS;
		else if (dkim_tag_is(cv, "fail", true))
			sig->cv = ARC_CV_FAIL;
		else
			return sig_error(sig, DKIM_PERMERROR, "unknown cv=");
	} else {
		sig->h = dkim_tags_get(tags, "h");
		if (check_h(sig) < 0)
			return -1;
	}

	const struct dkim_tag *l = dkim_tags_get(tags, "l");
	if (l != NULL) {
		unsigned long long v;
		/* §3.5: at most 76 digits; more than 2^64 saturates, and is
		 * then longer than any body */
		if (kind == DKIM_SIG_AS || dkim_tag_uint(l, 76, &v) < 0)
			return sig_error(sig, DKIM_PERMERROR, "malformed l=");
		sig->limited = true;
		sig->limit = v;
	}
	const struct dkim_tag *q = dkim_tags_get(tags, "q");
	if (q != NULL) {
		size_t pos = 0, len;
		const char *item;
		bool dns = false;
		while (dkim_tag_list_next(q, ':', &pos, &item, &len))
			if (len == 7 && mem_eq_nocase(item, "dns/txt", 7))
				dns = true;
		if (!dns)
			return sig_error(sig, DKIM_PERMERROR, "no known query method (q=)");
	}
	return parse_times(sig, now);
}

void
dkim_sig_free(struct dkim_sig *sig)
{
	buf_free(&sig->bh_raw);
	buf_free(&sig->b_raw);
	xfree(sig->d);
	xfree(sig->s);
	xfree(sig->i);
	xfree(sig->a);
	xfree(sig->b_text);
}

void
dkim_sig_canon_self(const struct dkim_headers *hs, const struct dkim_sig *sig,
		    enum dkim_canon c, struct buf *out)
{
	const struct mail_header_field *f = &hs->f[sig->field];
	const char *raw = hs->data + f->raw_off;
	size_t vstart = (size_t)(f->value - raw), vend = vstart + f->value_len;
	/* §3.7: the b= value, with all the white space around it, is taken
	 * out: from after its '=' to its ';' or the end of the value */
	size_t from = vstart + sig->b->value_off;
	while (from > vstart && raw[from - 1] != '=')
		from--;
	size_t to = vstart + sig->b->value_off + sig->b->value_len;
	while (to < vend && raw[to] != ';')
		to++;
	struct mail_header_field g = *f;
	struct buf copy = BUF_INIT;
	buf_append(&copy, raw, from);
	buf_append(&copy, raw + to, f->raw_len - to);
	g.raw_off = 0;
	g.raw_len = copy.len;
	g.name = copy.data;
	g.value = copy.data + vstart;
	g.value_len = f->value_len - (to - from);
	struct dkim_headers one = { copy.data, copy.len, &g, 1 };
	size_t mark = out->len;
	dkim_canon_field(&one, &g, c, out);
	/* without the final CRLF of the field */
	if (out->len >= mark + 2 && out->data[out->len - 1] == '\n' &&
	    out->data[out->len - 2] == '\r')
		buf_truncate(out, out->len - 2);
	buf_free(&copy);
}

void
dkim_sig_select_fields(const struct dkim_headers *hs, const struct dkim_sig *sig,
		       bool extra_from, struct buf *out)
{
	/* per name, where the last pick was: the next instance of the same
	 * name is looked for above it (§5.4.2, bottom up) */
	struct {
		const char *name;
		size_t len, next;
	} seen[DKIM_H_FIELDS_MAX + 1];
	size_t n_seen = 0, pos = 0, len;
	const char *item;
	bool more = true, from_done = true;
	if (extra_from) {
		while (from_done && dkim_tag_list_next(sig->h, ':', &pos, &item, &len))
			if (len == 4 && mem_eq_nocase(item, "from", 4))
				from_done = false;
		pos = 0;
	}
	while (more) {
		more = dkim_tag_list_next(sig->h, ':', &pos, &item, &len);
		if (!more) {
			if (from_done)
				break;
			item = "from";
			len = 4;
			from_done = true;
		}
		size_t k = 0;
		while (k < n_seen && !(seen[k].len == len && mem_eq_nocase(seen[k].name, item, len)))
			k++;
		if (k == n_seen) {
			if (n_seen == DKIM_H_FIELDS_MAX + 1)
				break;	/* check_h() bounds the list before */
			seen[k].name = item;
			seen[k].len = len;
			seen[k].next = hs->n;
			n_seen++;
		}
		size_t i = seen[k].next;
		while (i > 0) {
			i--;
			if (field_is(&hs->f[i], item, len)) {
				dkim_canon_field(hs, &hs->f[i], sig->hcanon, out);
				break;
			}
		}
		seen[k].next = i;
	}
}
