/*
 * arc: ARC chain verification (see arc.h).
 */
#include "trust/arc.h"

#include <string.h>

#include "core/limits.h"
#include "trust/dkim_verify_int.h"

/* One ARC set: the indexes of its three fields (SIZE_MAX: missing). */
struct arc_set {
	size_t aar, ams, as;
};

struct arc_verify {
	char *hdr;
	struct dkim_headers hs;
	int64_t now;
	unsigned n;	/* the newest instance */
	struct arc_set sets[ARC_INSTANCE_MAX + 1];	/* [1..n] */
	struct dkim_sig ams;	/* the newest message signature */
	struct dkim_sig *seals;	/* [1..n], parsed */
	struct dkim_bodyhashes bodies;
	struct arc_result result;
	bool decided;	/* result final before finish */
};

const char *
arc_status_name(enum arc_status status)
{
	switch (status) {
	case ARC_NONE: return "none";
	case ARC_PASS: return "pass";
	case ARC_FAIL: return "fail";
	}
	return "fail";
}

static void
decide(struct arc_verify *a, enum arc_status status, const char *reason)
{
	a->result.status = status;
	a->result.reason = reason;
	a->decided = true;
}

/* The instance of an ARC field: its i= tag.  The AAR is "i=N; authres"
 * (RFC 8617 §4.1.1), the others tag lists; either way i= comes as a tag
 * before the first ';' or among the tags.  0 when there is none. */
static unsigned
field_instance(const struct mail_header_field *f)
{
	struct dkim_tags tags;
	const char *error;
	size_t len = f->value_len;
	const char *semi = memchr(f->value, ';', len);
	/* the AAR's payload is not a tag list: read its first part only */
	if (dkim_tags_parse(f->value, len, &tags, &error) < 0) {
		if (semi == NULL || dkim_tags_parse(f->value, (size_t)(semi - f->value),
						    &tags, &error) < 0)
			return 0;
	}
	const struct dkim_tag *i = dkim_tags_get(&tags, "i");
	unsigned long long v;
	if (i == NULL || dkim_tag_uint(i, 2, &v) < 0 || v < 1 || v > ARC_INSTANCE_MAX)
		return 0;
	return (unsigned)v;
}

/* Files each ARC field under its instance; -1 (decided: fail) when one
 * has no usable instance or a set has a field twice. */
static int
collect(struct arc_verify *a)
{
	/* at most 3 * ARC_INSTANCE_MAX fields can be filed: one more is a
	 * field twice, which ends this */
	for (size_t i = 0; i < a->hs.n; i++) {
		size_t *slot;
		int kind;
		if (dkim_headers_is(&a->hs, i, "ARC-Authentication-Results"))
			kind = 0;
		else if (dkim_headers_is(&a->hs, i, "ARC-Message-Signature"))
			kind = 1;
		else if (dkim_headers_is(&a->hs, i, "ARC-Seal"))
			kind = 2;
		else
			continue;
		unsigned inst = field_instance(&a->hs.f[i]);
		if (inst == 0) {
			decide(a, ARC_FAIL, "an ARC field without a valid instance (i=)");
			return -1;
		}
		struct arc_set *set = &a->sets[inst];
		slot = kind == 0 ? &set->aar : kind == 1 ? &set->ams : &set->as;
		if (*slot != SIZE_MAX) {
			decide(a, ARC_FAIL, "an ARC set with a field twice");
			return -1;
		}
		*slot = i;
		if (inst > a->n)
			a->n = inst;
	}
	return 0;
}

struct arc_verify *
arc_verify_new(const char *hdr, size_t hdr_len, int64_t now)
{
	struct arc_verify *a = xcalloc(1, sizeof *a);
	a->hdr = xmemdup(hdr, hdr_len);
	a->now = now;
	a->ams.body = SIZE_MAX;
	dkim_headers_init(&a->hs, a->hdr, hdr_len);
	dkim_bodyhashes_init(&a->bodies, 1);
	for (size_t i = 0; i <= ARC_INSTANCE_MAX; i++)
		a->sets[i].aar = a->sets[i].ams = a->sets[i].as = SIZE_MAX;
	if (collect(a) < 0)
		return a;
	if (a->n == 0) {
		decide(a, ARC_NONE, "no ARC sets");
		return a;
	}
	a->result.instances = a->n;
	/* §5.2 step 1: every set, complete */
	for (unsigned i = 1; i <= a->n; i++) {
		const struct arc_set *set = &a->sets[i];
		if (set->aar == SIZE_MAX || set->ams == SIZE_MAX || set->as == SIZE_MAX) {
			decide(a, ARC_FAIL, "an ARC set is missing or incomplete");
			return a;
		}
	}
	a->seals = xcalloc(a->n + 1, sizeof *a->seals);
	for (unsigned i = 1; i <= a->n; i++) {
		struct dkim_sig *seal = &a->seals[i];
		int r = dkim_sig_parse(seal, DKIM_SIG_AS, &a->hs, a->sets[i].as, now);
		if (i == a->n) {
			a->result.domain = seal->d != NULL ? xstrdup(seal->d) : NULL;
			a->result.selector = seal->s != NULL ? xstrdup(seal->s) : NULL;
		}
		if (r < 0 || seal->instance != i) {
			decide(a, ARC_FAIL, "a malformed ARC-Seal");
			return a;
		}
	}
	/* §5.2 step 2: a chain its newest sealer found failed stays failed */
	if (a->seals[a->n].cv == ARC_CV_FAIL) {
		decide(a, ARC_FAIL, "the newest ARC-Seal says cv=fail");
		return a;
	}
	/* §5.1.2: the first seal starts the chain, the others continue it */
	for (unsigned i = 1; i <= a->n; i++) {
		enum arc_cv want = i == 1 ? ARC_CV_NONE : ARC_CV_PASS;
		if (a->seals[i].cv != want) {
			decide(a, ARC_FAIL, "an ARC-Seal with a wrong cv=");
			return a;
		}
	}
	if (dkim_sig_parse(&a->ams, DKIM_SIG_AMS, &a->hs, a->sets[a->n].ams, now) < 0 ||
	    a->ams.instance != a->n) {
		decide(a, ARC_FAIL, "a malformed ARC-Message-Signature");
		return a;
	}
	a->ams.body = dkim_bodyhashes_want(&a->bodies, a->ams.bcanon, a->ams.limited,
					   a->ams.limit);
	return a;
}

void
arc_verify_body(struct arc_verify *a, const void *p, size_t n)
{
	dkim_bodyhashes_add(&a->bodies, p, n);
}

/* §5.1.1: what ARC-Seal i signs: the sets 1..i in order, each as its AAR,
 * AMS and AS, relaxed, the seal itself last without its b=. */
static void
seal_data(const struct arc_verify *a, unsigned i, struct buf *out)
{
	for (unsigned k = 1; k <= i; k++) {
		const struct arc_set *set = &a->sets[k];
		dkim_canon_field(&a->hs, &a->hs.f[set->aar], DKIM_CANON_RELAXED, out);
		dkim_canon_field(&a->hs, &a->hs.f[set->ams], DKIM_CANON_RELAXED, out);
		if (k < i)
			dkim_canon_field(&a->hs, &a->hs.f[set->as], DKIM_CANON_RELAXED, out);
	}
	dkim_sig_canon_self(&a->hs, &a->seals[i], DKIM_CANON_RELAXED, out);
}

void
arc_verify_finish(struct arc_verify *a, const struct dns_source *dns)
{
	dkim_bodyhashes_finish(&a->bodies);
	if (a->decided)
		return;
	struct buf data = BUF_INIT;
	/* §5.2 step 3: the newest message signature */
	dkim_sig_select_fields(&a->hs, &a->ams, true, &data);
	dkim_sig_canon_self(&a->hs, &a->ams, a->ams.hcanon, &data);
	dkim_sig_check(&a->ams, dns, &a->bodies.h[a->ams.body], data.data, data.len);
	if (a->ams.status != DKIM_PASS) {
		decide(a, ARC_FAIL, "the newest ARC-Message-Signature does not verify");
		buf_free(&data);
		return;
	}
	/* step 5: every seal, newest first */
	for (unsigned i = a->n; i >= 1; i--) {
		buf_reset(&data);
		seal_data(a, i, &data);
		dkim_sig_check(&a->seals[i], dns, NULL, data.data, data.len);
		if (a->seals[i].status != DKIM_PASS) {
			decide(a, ARC_FAIL, "an ARC-Seal does not verify");
			buf_free(&data);
			return;
		}
	}
	buf_free(&data);
	decide(a, ARC_PASS, "the chain verifies");
}

const struct arc_result *
arc_verify_result(const struct arc_verify *a)
{
	return &a->result;
}

void
arc_verify_free(struct arc_verify **ap)
{
	struct arc_verify *a = *ap;
	if (a == NULL)
		return;
	if (a->seals != NULL)
		for (unsigned i = 1; i <= a->n; i++)
			dkim_sig_free(&a->seals[i]);
	free(a->seals);
	dkim_sig_free(&a->ams);
	dkim_bodyhashes_free(&a->bodies);
	dkim_headers_free(&a->hs);
	free(a->result.domain);
	free(a->result.selector);
	free(a->hdr);
	free(a);
	*ap = NULL;
}
