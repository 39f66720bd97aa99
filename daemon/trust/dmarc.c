/*
 * dmarc: policy discovery, identifier alignment and disposition of
 * RFC 7489 (see dmarc.h).
 */
#include "trust/dmarc.h"

#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "trust/header_text.h"
#include "trust/psl.h"

static const char *const result_names[] = {
	[DMARC_NONE] = "none",		 [DMARC_PASS] = "pass",
	[DMARC_FAIL] = "fail",		 [DMARC_TEMPERROR] = "temperror",
	[DMARC_PERMERROR] = "permerror",
};

static const char *const policy_names[] = {
	[DMARC_POLICY_NONE] = "none",
	[DMARC_POLICY_QUARANTINE] = "quarantine",
	[DMARC_POLICY_REJECT] = "reject",
};

const char *
dmarc_result_name(enum dmarc_result r)
{
	if ((unsigned)r >= sizeof result_names / sizeof result_names[0])
		return "none";
	return result_names[r];
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	if ((unsigned)p >= sizeof policy_names / sizeof policy_names[0])
		return "none";
	return policy_names[p];
}

void
dmarc_verdict_free(struct dmarc_verdict *v)
{
	xfree(v->from_domain);
	xfree(v->org_domain);
	xfree(v->record_domain);
	xfree(v->problem);
}

unsigned
dmarc_sample(const void *key, size_t len)
{
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(key, len, hex);
	/* the first 32 bits of the digest */
	uint32_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 4 | (uint32_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	return v % 100;
}

/* A name DNS can carry under "_dmarc.": labels of 1 to 63 bytes, printable,
 * at least two of them. */
static bool
domain_ok(const char *d)
{
	size_t label = 0, total = 0, labels = 1;
	for (const char *p = d; *p != '\0'; p++, total++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f || c == '\\' || ++label > 63)
			return false;
	}
	return label > 0 && labels >= 2 && total + 7 <= 253;
}

enum lookup {
	LOOKUP_FOUND,
	LOOKUP_NOTHING,		/* no DMARC record there: look further */
	LOOKUP_STOP,		/* §6.6.3: DMARC does not apply */
	LOOKUP_TEMPERROR,
	LOOKUP_PERMERROR,
};

/* The DMARC record of _dmarc.domain (§6.6.3 steps 1 to 3). */
static enum lookup
lookup(const struct dns_source *dns, const char *domain, struct dmarc_record *rec,
       const char **problem_r)
{
	char *name = xasprintf("_dmarc.%s", domain);
	struct dns_answer ans;
	int st = dns_source_query(dns, name, DNS_T_TXT, &ans);
	enum lookup ret = LOOKUP_NOTHING;
	if (st == DNS_TEMPFAIL || st == DNS_ERROR) {
		*problem_r = errfmt("DNS lookup of %s failed", esc_str(name));
		ret = LOOKUP_TEMPERROR;
	} else if (st == DNS_OK) {
		size_t found = 0;
		for (size_t i = 0; i < ans.n; i++) {
			struct dmarc_record r;
			const char *error = NULL;
			int pr = dmarc_record_parse(ans.rr[i].text, ans.rr[i].text_len, &r, &error);
			if (pr == 1)
				continue;	/* not a DMARC record: ignored */
			if (++found > 1)
				break;
			if (pr < 0) {
				*problem_r = errfmt("%s: %s", esc_str(name), error);
				ret = LOOKUP_PERMERROR;
			} else {
				*rec = r;
				ret = r.applies ? LOOKUP_FOUND : LOOKUP_STOP;
			}
		}
		/* §6.6.3: more than one record is as good as none, and
		 * discovery ends */
		if (found > 1)
			ret = LOOKUP_STOP;
	}
	dns_answer_free(&ans);
	free(name);
	return ret;
}

/* §3.1: strict: the same name; relaxed: the same organisational domain. */
static bool
aligned(const char *id, const char *from, const char *from_org, enum dmarc_align mode)
{
	char *d = dns_name_canon(id, strlen(id));
	bool ok = strcmp(d, from) == 0;
	if (!ok && mode == DMARC_ALIGN_RELAXED && domain_ok(d)) {
		char *org = psl_org_domain(d);
		ok = strcmp(org, from_org) == 0;
		free(org);
	}
	free(d);
	return ok;
}

/* §6.6.4: out of the sample, the next milder policy. */
static enum dmarc_policy
milder(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

enum dmarc_result
dmarc_check(const struct dns_source *dns, const struct dmarc_request *req,
	    struct dmarc_verdict *v)
{
	memset(v, 0, sizeof *v);
	const char *from = req->from_domain != NULL ? req->from_domain : "";
	v->from_domain = dns_name_canon(from, strlen(from));
	if (!domain_ok(v->from_domain)) {
		v->result = DMARC_NONE;
		return v->result;
	}
	v->org_domain = psl_org_domain(v->from_domain);

	const char *problem = NULL;
	enum lookup l = lookup(dns, v->from_domain, &v->rec, &problem);
	const char *where = v->from_domain;
	if (l == LOOKUP_NOTHING && strcmp(v->org_domain, v->from_domain) != 0) {
		/* §6.6.3 step 3: the organisational domain's record, whose sp=
		 * is for its subdomains */
		l = lookup(dns, v->org_domain, &v->rec, &problem);
		where = v->org_domain;
		v->used_sp = true;
	}
	switch (l) {
	case LOOKUP_FOUND:
		break;
	case LOOKUP_TEMPERROR:
	case LOOKUP_PERMERROR:
		v->result = l == LOOKUP_TEMPERROR ? DMARC_TEMPERROR : DMARC_PERMERROR;
		v->problem = xstrdup(problem);
		v->used_sp = false;
		return v->result;
	default:
		v->used_sp = false;
		v->result = DMARC_NONE;
		return v->result;
	}
	v->record_domain = xstrdup(where);
	v->policy = v->used_sp && v->rec.has_sp ? v->rec.sp : v->rec.p;

	/* §3.1.1, §3.1.2: an aligned identifier that passed */
	for (size_t i = 0; i < req->n_dkim && !v->dkim_aligned; i++)
		v->dkim_aligned = req->dkim[i].pass && req->dkim[i].domain != NULL &&
				  aligned(req->dkim[i].domain, v->from_domain, v->org_domain,
					  v->rec.adkim);
	v->spf_aligned = req->spf == SPF_PASS && req->spf_domain != NULL &&
			 aligned(req->spf_domain, v->from_domain, v->org_domain, v->rec.aspf);
	if (v->dkim_aligned || v->spf_aligned) {
		v->result = DMARC_PASS;
		v->disposition = DMARC_POLICY_NONE;
		return v->result;
	}
	v->result = DMARC_FAIL;
	v->disposition = req->sample < v->rec.pct ? v->policy : milder(v->policy);
	return v->result;
}

void
dmarc_authres(struct buf *out, const struct dmarc_verdict *v)
{
	buf_printf(out, "dmarc=%s ", dmarc_result_name(v->result));
	if (v->result == DMARC_PASS || v->result == DMARC_FAIL || v->result == DMARC_NONE)
		buf_printf(out, "(p=%s dis=%s%s%s) ", dmarc_policy_name(v->policy),
			   dmarc_policy_name(v->disposition),
			   v->arc_override != NULL ? "; overridden by the ARC chain of " : "",
			   v->arc_override != NULL ? v->arc_override : "");
	buf_puts(out, "header.from=");
	header_put_value(out, v->from_domain != NULL ? v->from_domain : "");
}
