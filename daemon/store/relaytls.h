/*
 * relaytls: the store's part of outbound TLS policy and reporting
 * (sql/019_outbound.sql): the MTA-STS policy cache (RFC 8461 §5.1), the
 * TLS-RPT counters of delivery attempts (RFC 8460 §4.4) and the reports
 * owed or received, and the per-domain delivery status the panel shows.
 */
#ifndef MAILHUB_STORE_RELAYTLS_H
#define MAILHUB_STORE_RELAYTLS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A cached MTA-STS policy (mode "enforce", "testing" or "none"; mx: the
 * patterns one a line). */
struct relaytls_sts {
	char *domain;
	char *policy_id;
	char *mode;
	char *mx;
	int64_t max_age;
	int64_t fetched;
	int64_t checked;
	char *policy_text;
};

/* The cached policy of domain: STORE_OK, STORE_NOTFOUND, STORE_ERROR. */
int relaytls_sts_get(struct store *st, const char *domain, struct relaytls_sts *p,
		     const char **error_r);
/* Stores (replaces) the policy of p->domain. */
int relaytls_sts_put(struct store *st, const struct relaytls_sts *p,
		     const char **error_r);
/* Notes that the TXT record still names the cached policy. */
int relaytls_sts_checked(struct store *st, const char *domain, int64_t now,
			 const char **error_r);
void relaytls_sts_clear(struct relaytls_sts *p);

/* One delivery attempt's TLS outcome (RFC 8460 §4.4). */
struct relaytls_result {
	int64_t when;
	const char *domain;
	const char *policy_type;	/* "sts", "tlsa", "no-policy-found" */
	const char *policy_string;	/* lines joined with LF ("" for none) */
	const char *mx_host;
	const char *result;		/* "success" or a §4.3 result type */
	const char *receiving_ip;	/* "" when unknown */
	const char *detail;		/* words, "" */
};
int relaytls_result_add(struct store *st, const struct relaytls_result *r,
			const char **error_r);

/* What one delivery attempt to a domain left: its TLS results (n, may be
 * 0) and the domain's status as relaytls_domain_status() takes it, in one
 * transaction of the light kind (store_begin_light(): no message rides on
 * it; lost at most to a power failure). */
struct relaytls_status {
	const char *domain, *tls, *mta_sts, *dane, *host;
	const char *error;		/* NULL: it went through */
	int64_t when;
};
int relaytls_note(struct store *st, const struct relaytls_result *r, size_t n,
		  const struct relaytls_status *status, const char **error_r);

/* A row of the counters, for the daily report. */
struct relaytls_count {
	char *policy_type, *policy_string, *mx_host, *result, *receiving_ip, *detail;
	int64_t count;
};
/* The counters of day ("YYYY-MM-DD") for domain. */
int relaytls_counts(struct store *st, const char *day, const char *domain,
		    struct relaytls_count **list_r, size_t *n_r, const char **error_r);
void relaytls_counts_free(struct relaytls_count **list, size_t n);
/* The domains with counters on day and no report made yet. */
int relaytls_report_due(struct store *st, const char *day, char ***domains_r,
			size_t *n_r, const char **error_r);
/* Notes the report of (day, domain) as done; rua NULL: nobody asked. */
int relaytls_report_done(struct store *st, const char *day, const char *domain,
			 const char *rua, int64_t now, const char **error_r);

/* ---- reports owed to https: addresses (sql/038_tlsrpt_https.sql) ---- */

/* Owes the report (JSON) of (day, domain) to uri, due now; once only per
 * (day, domain, uri).  Also removes the rows done more than 30 days ago. */
int relaytls_post_add(struct store *st, const char *day, const char *domain,
		      const char *uri, const char *report, int64_t now, const char **error_r);

struct relaytls_post {
	int64_t id, created, attempts;
	char *day, *domain, *uri, *report;
};
/* The pending posts due at now, at most max, oldest first. */
int relaytls_post_due(struct store *st, int64_t now, size_t max,
		      struct relaytls_post **list_r, size_t *n_r, const char **error_r);
void relaytls_post_free(struct relaytls_post **list, size_t n);
/* The outcome of a POST: state "sent", "failed" (given up) or "pending"
 * (tried again at next_try); error NULL when it went through. */
int relaytls_post_result(struct store *st, int64_t id, const char *state, int64_t next_try,
			 const char *error, int64_t now, const char **error_r);

/* The outcome of the last delivery attempt to domain, for the panel
 * (error NULL: it went through). */
int relaytls_domain_status(struct store *st, const char *domain, const char *tls,
			   const char *mta_sts, const char *dane, const char *host,
			   const char *error, int64_t now, const char **error_r);

struct relaytls_domain {
	char *domain, *tls, *mta_sts, *dane, *last_host, *last_error;
	int64_t last_ok, updated;
};
int relaytls_domains(struct store *st, struct relaytls_domain **list_r, size_t *n_r,
		     const char **error_r);
void relaytls_domains_free(struct relaytls_domain **list, size_t n);

#endif
