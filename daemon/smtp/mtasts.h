/*
 * mtasts: SMTP MTA Strict Transport Security (RFC 8461) for the relay.
 *
 * The pure part parses the _mta-sts TXT record (§3.1) and the policy file
 * (§3.2) and matches MX host names against the policy's patterns (§4.1).
 * mtasts_get() finds the policy that applies to a domain now (§5.1): the
 * cached one while it is fresh and its TXT id has not changed, else one
 * fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the
 * certificate checked (§3.3), kept in the store (store/tlsrpt.h) until
 * its max_age runs out.  A domain whose policy cannot be fetched and has
 * none cached is treated as having none (§5.1), and the failure is given
 * back for TLS reporting.
 */
#ifndef MAILHUB_SMTP_MTASTS_H
#define MAILHUB_SMTP_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

enum mtasts_mode {
	MTASTS_NONE,
	MTASTS_TESTING,
	MTASTS_ENFORCE,
};

/* RFC 8461 §3.2: max_age is at most 31557600 seconds (one year). */
#define MTASTS_MAX_AGE_MAX 31557600u
/* §3.3: "a reasonable maximum": a policy is a few lines. */
#define MTASTS_POLICY_MAX (64 * 1024)
/* §3.2: patterns are few; more than this is not a real policy. */
#define MTASTS_MX_MAX 64

struct mtasts_policy {
	enum mtasts_mode mode;
	char **mx;		/* the patterns, lowercase ("*.example.net") */
	size_t n_mx;
	uint64_t max_age;
	char *id;		/* of the TXT record it was fetched for */
	char *text;		/* the policy as served */
};

/* Pure: the id of a "v=STSv1; id=..." record (§3.1: id is 1 to 32
 * alphanumerics).  0 with *id_r (malloc'd), or -1 when txt is not a
 * valid STSv1 record. */
int mtasts_txt_parse(const char *txt, size_t len, char **id_r);
/* Pure: the policy text (§3.2: "key: value" lines, CRLF or LF; version
 * STSv1, mode, max_age and at least one mx unless mode is none).
 * 0, or -1 with *error_r. */
int mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p,
			const char **error_r);
/* Pure: whether host (no trailing dot) matches one of the patterns (§4.1:
 * "*.example.net" stands for exactly one leftmost label). */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);
void mtasts_policy_clear(struct mtasts_policy *p);
const char *mtasts_mode_name(enum mtasts_mode mode);
/* "enforce", "testing", "none"; -1 for another word. */
int mtasts_mode_parse(const char *s);

struct store;
struct dns_resolver;

struct mtasts_env {
	struct store *st;
	struct dns_resolver *dns;
	SSL_CTX *ctx;		/* verifying (system CAs) */
	unsigned port;		/* 443 ([relay] mta_sts_port) */
	unsigned recheck;	/* seconds a fresh policy is used without a
				 * look at the TXT record */
	uint64_t id;		/* for log lines */
};

/*
 * The policy of domain at now into *p: 1 when the domain has one in force
 * (testing or enforce), 0 when none applies.  When a TXT record says there
 * is a policy but it could not be fetched (and none is cached), 0 with
 * *fail_r set to the RFC 8460 result type ("sts-policy-fetch-error",
 * "sts-policy-invalid", "sts-webpki-invalid") and *why_r to the reason
 * (both static or errfmt); otherwise *fail_r is NULL.
 */
int mtasts_get(const struct mtasts_env *env, const char *domain, int64_t now,
	       struct mtasts_policy *p, const char **fail_r, const char **why_r);

#endif
