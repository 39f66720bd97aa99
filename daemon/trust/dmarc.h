/*
 * dmarc: Domain-based Message Authentication, Reporting and Conformance
 * (RFC 7489) for inbound mail.
 *
 * dmarc_check() takes what the SMTP server knows at the end of DATA: the
 * domain of the message's From: (RFC5322.From, one author), the SPF
 * verdict and the domain it was for (trust/spf.h), and the DKIM
 * signatures that verified (their d= domains).  It finds the policy
 * (§6.6.3: _dmarc.FROM-DOMAIN, else _dmarc.ORGANISATIONAL-DOMAIN from the
 * Public Suffix List, trust/psl.h), checks identifier alignment (§3.1:
 * relaxed or strict, adkim= and aspf=), and says the result (pass, fail,
 * none, temperror, permerror), the policy that applies (p=, or sp= for a
 * subdomain whose record is the organisational domain's) and the
 * disposition after pct= sampling (§6.6.4): reject, quarantine or none.
 *
 * Sampling is deterministic per message: the caller gives a number from
 * 0 to 99 (dmarc_sample() of something the message carries), so the same
 * message always meets the same decision and tests can choose it.
 *
 * Pure: DNS comes through a dns_source (trust/dns_source.h).
 */
#ifndef MAILHUB_TRUST_DMARC_H
#define MAILHUB_TRUST_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "trust/dns_source.h"
#include "trust/spf.h"

enum dmarc_result {
	DMARC_NONE = 0,		/* no policy record: DMARC does not apply */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,	/* the policy could not be looked up */
	DMARC_PERMERROR,	/* the policy record is malformed */
};

/* p=, sp= (RFC 7489 §6.3), and the disposition that results. */
enum dmarc_policy {
	DMARC_POLICY_NONE = 0,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED = 0,
	DMARC_ALIGN_STRICT,
};

/* A record longer than this is not read (§6.1: a TXT record). */
#define DMARC_RECORD_MAX 4096

/* A parsed policy record (§6.3). */
struct dmarc_record {
	/* false: no valid p= (or a bad sp=) and no rua=: §6.6.3 says DMARC
	 * does not apply to the message */
	bool applies;
	enum dmarc_policy p;
	bool has_sp;
	enum dmarc_policy sp;
	enum dmarc_align adkim, aspf;
	unsigned pct;		/* 0..100, default 100 */
	bool has_rua;		/* at least one report URI (§6.6.3 needs it) */
};

/* One DKIM signature that was checked: its d= domain and whether it
 * verified (only a pass counts, §4.2). */
struct dmarc_dkim_result {
	const char *domain;
	bool pass;
};

struct dmarc_request {
	/* the domain of the From: header field's one address (RFC 7489
	 * §6.6.1); NULL or "": none can be found, the result is none */
	const char *from_domain;
	/* the SPF verdict and the domain it is for: MAIL FROM's, or HELO's
	 * for the null sender (spf_verdict.domain) */
	enum spf_result spf;
	const char *spf_domain;
	const struct dmarc_dkim_result *dkim;
	size_t n_dkim;
	/* 0..99: the message is in the sample when sample < pct (§6.6.4) */
	unsigned sample;
};

struct dmarc_verdict {
	enum dmarc_result result;
	/* the policy that applies to this From domain (sp= for a subdomain
	 * under the organisational domain's record); NONE without a record */
	enum dmarc_policy policy;
	/* what to do: the policy of a failing message in the sample, the
	 * next milder one out of it (§6.6.4), NONE otherwise */
	enum dmarc_policy disposition;
	bool spf_aligned, dkim_aligned;
	bool used_sp;		/* policy came from sp= (or p= standing for it) */
	char *from_domain;	/* lowercase */
	char *org_domain;	/* its organisational domain */
	char *record_domain;	/* where the record was found, or NULL */
	struct dmarc_record rec;
	char *problem;		/* temperror, permerror: why */
	/* set by the caller: the domain of a trusted ARC sealer whose chain
	 * made local policy override a failing message's disposition (RFC
	 * 7489 §7.2 "local_policy", RFC 8617 §7.2), or NULL; not owned */
	const char *arc_override;
};

/* Parses a record's text; 0, 1 when it is not a DMARC record at all
 * (no "v=DMARC1" first: ignored, §6.6.3), -1 with *error_r when it is
 * one but malformed (a known tag's value out of its grammar). */
int dmarc_record_parse(const char *text, size_t len, struct dmarc_record *rec,
		       const char **error_r);

/* Always fills *v (free with dmarc_verdict_free()); returns v->result. */
enum dmarc_result dmarc_check(const struct dns_source *dns, const struct dmarc_request *req,
			      struct dmarc_verdict *v);
void dmarc_verdict_free(struct dmarc_verdict *v);

/* A number from 0 to 99 that depends only on key (e.g. the message's
 * Message-ID, or its SHA-256): the message's place in pct sampling. */
unsigned dmarc_sample(const void *key, size_t len);

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

/* The resinfo of Authentication-Results (RFC 7489 §11.2): "dmarc=fail
 * (p=reject dis=quarantine) header.from=example.org". */
void dmarc_authres(struct buf *out, const struct dmarc_verdict *v);

#endif
