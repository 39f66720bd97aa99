/*
 * spf: the Sender Policy Framework check of RFC 7208 for inbound mail.
 *
 * spf_check() runs check_host() (RFC 7208 §4) for the MAIL FROM identity,
 * or for the HELO identity when MAIL FROM is the null sender (§2.4), and
 * says what the SMTP server needs: the result, the domain and identity
 * checked (DMARC aligns with that domain), the mechanism that decided, the
 * explanation of a fail (exp=, §6.2) and, for the errors, what went wrong.
 * spf_received_spf() and spf_authres() write the Received-SPF header field
 * (§9.1) and the "spf=" piece of Authentication-Results (RFC 8601 §2.7.2).
 *
 * The evaluator is pure: DNS comes only through a dns_source
 * (trust/dns_source.h), so tests and fuzzers feed the answers.  Every limit
 * of §4.6.4 is kept: 10 terms that cause DNS queries (include, a, mx, ptr,
 * exists, redirect), 2 void lookups, 10 names for each mx and ptr; going
 * over is permerror.  Include and redirect are frames of an explicit stack
 * (no recursion), so a loop ends at the lookup limit.
 *
 * The macro letters of §7 are expanded with their transformers and
 * delimiters; %{p} (the validated client name) is looked up once, when
 * first used.  c, r and t are allowed in exp= text only.
 */
#ifndef MAILHUB_TRUST_SPF_H
#define MAILHUB_TRUST_SPF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "trust/dns_source.h"
#include "trust/ipaddr.h"

/* RFC 7208 §2.6. */
enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* Which identity was checked (RFC 7208 §2.3, §2.4). */
enum spf_identity {
	SPF_ID_MAILFROM = 0,
	SPF_ID_HELO,
};

/* RFC 7208 §4.6.4 and ours. */
#define SPF_LOOKUPS_MAX 10	/* terms that cause DNS queries */
#define SPF_VOID_MAX 2		/* queries answered NXDOMAIN or empty */
#define SPF_NAMES_MAX 10	/* names looked up for one mx or ptr */
/* A record longer than this is not looked at (permerror): DNS carries at
 * most 64 KiB, and real records are a few hundred bytes (§3.4). */
#define SPF_RECORD_MAX 8192
/* Domain-spec expansions are cut to a DNS name (§7.3: 253); the text of
 * an explanation to this. */
#define SPF_EXPLANATION_MAX 1024

struct spf_request {
	struct ip_addr ip;	/* the SMTP client (an IPv4-mapped IPv6 is IPv4) */
	const char *helo;	/* the HELO/EHLO argument; "" when none */
	/* MAIL FROM's address without the angle brackets; "" for the null
	 * sender, which makes the check use "postmaster@HELO" (§2.4) */
	const char *sender;
	/* this host's name, for %{r} in explanations; NULL: "unknown" */
	const char *receiver;
	/* seconds since the epoch, for %{t} in explanations */
	int64_t now;
};

struct spf_verdict {
	enum spf_result result;
	enum spf_identity identity;
	char *sender;		/* the sender checked: MAIL FROM, or postmaster@HELO */
	char *domain;		/* its domain: the one DMARC aligns with SPF */
	char *mechanism;	/* the term that matched ("ip4:192.0.2.0/24"); NULL: none did */
	char *explanation;	/* fail only, when the domain gave one (exp=, §6.2) */
	char *problem;		/* temperror and permerror: what went wrong */
	unsigned lookups;	/* DNS-querying terms evaluated */
	unsigned void_lookups;
};

/*
 * Checks req against DNS.  Always fills *v (free it with
 * spf_verdict_free()) and returns v->result.
 */
enum spf_result spf_check(const struct dns_source *dns, const struct spf_request *req,
			  struct spf_verdict *v);

/*
 * check_host() of RFC 7208 §4 for one identity: ip, the domain, and the
 * sender whose local part and domain the macros see (NULL: postmaster@
 * domain).  helo is %{h}.  spf_check() calls it; tests and the HELO check
 * of the SMTP server may call it directly.
 */
enum spf_result spf_check_host(const struct dns_source *dns, const struct spf_request *req,
			       const char *domain, const char *sender, enum spf_identity identity,
			       struct spf_verdict *v);

void spf_verdict_free(struct spf_verdict *v);

/* "pass", "fail", ... as RFC 7208 §2.6 names them. */
const char *spf_result_name(enum spf_result r);

/*
 * The value of a Received-SPF header field (RFC 7208 §9.1): the result,
 * a comment, and the key-value pairs (client-ip, envelope-from, helo,
 * receiver, identity, mechanism or problem), folded for a header.
 */
void spf_received_spf(struct buf *out, const struct spf_verdict *v,
		      const struct spf_request *req);

/* The resinfo of Authentication-Results (RFC 8601 §2.7.2):
 * "spf=pass smtp.mailfrom=example.org" (smtp.helo=NAME for HELO). */
void spf_authres(struct buf *out, const struct spf_verdict *v);

#endif
