/*
 * doctor: what the world sees of this server, and what to fix, for
 * `mailhub doctor` and GET /api/v1/doctor alike.
 *
 * For each local domain: the MX points at [server] hostname; that host
 * has A/AAAA records; each public address has a forward-confirmed PTR
 * (RFC 8601 §3 "iprev": a PTR name whose A/AAAA hold the address again);
 * SPF (RFC 7208) lets the public addresses send for the domain (the real
 * check_host() of trust/spf.c); each DKIM key the relay signs with is
 * published as it is (RFC 6376 §3.6.1); a DMARC record exists (RFC 7489
 * §6.1); MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460 §3) records, when
 * published, are well formed (and the MTA-STS id is the one this server
 * serves, when it publishes a policy).  For the server: the certificate
 * is valid for the host name and not expiring within DOCTOR_CERT_DAYS
 * days, and whether it is self-signed; whether outbound port 25 is open
 * (a connection to a probe address; blocked, the smarthost setting is the
 * way out); and how to check inbound reachability from outside, which no
 * check from inside can prove.
 *
 * DNS comes through a dns_source (trust/dns_source.h): the daemon's
 * resolver with [dns] resolver, or a table in tests.  Each finding is a
 * check name, a status and one sentence in plain words, with what to
 * publish or change when something is wrong.
 */
#ifndef MAILHUB_DOCTOR_DOCTOR_H
#define MAILHUB_DOCTOR_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "trust/dns_source.h"

/* A certificate expiring sooner than this is a failure. */
#define DOCTOR_CERT_DAYS 14
/* Seconds the outbound port 25 probe waits for a connection. */
#define DOCTOR_PROBE_SECONDS 5
/* Public addresses looked at (those of the host name). */
#define DOCTOR_ADDRESSES_MAX 8

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_INFO,	/* nothing to judge: what to know or do */
	DOCTOR_WARN,	/* works, but worth changing */
	DOCTOR_FAIL,	/* mail will be refused, lost or marked as spam */
};

struct doctor_finding {
	char *domain;		/* NULL: about the server, not one domain */
	const char *check;	/* "mx", "mx_address", "ptr", "spf", "dkim",
				 * "dmarc", "mta_sts", "tls_rpt", "certificate",
				 * "outbound_25", "inbound" */
	enum doctor_status status;
	char *text;		/* what is found, and what to do about it */
};

struct doctor_report {
	struct doctor_finding *f;
	size_t n, cap;
};

/* A DKIM key the relay signs with: the DNS record that must be there. */
struct doctor_dkim_key {
	const char *selector;
	const char *public_key;	/* base64 (the p= tag) */
};

struct doctor_domain {
	const char *name;
	const struct doctor_dkim_key *keys;
	size_t n_keys;
};

struct doctor_params {
	const char *hostname;		/* [server] hostname */
	/* the public addresses to check (PTR, SPF); NULL: those of the
	 * host name's A/AAAA records */
	const char *address;
	const char *mta_sts_id;		/* the id this server publishes, or NULL */
	const char *cert_path;		/* the PEM certificate in use */
	const char *sni_dir;		/* [tls] sni, or NULL */
	const char *probe;		/* "HOST:PORT" for the outbound 25 probe;
					 * NULL: no probe */
	bool smarthost;			/* mail leaves through a smarthost */
	time_t now;
};

/* Runs every check of every domain into *report (empty it first with
 * doctor_report_init(); free with doctor_report_free()). */
void doctor_run(const struct dns_source *dns, const struct doctor_params *p,
		const struct doctor_domain *domains, size_t n_domains,
		struct doctor_report *report);

/* The checks of one domain alone (tests), and those of the server. */
void doctor_check_domain(const struct dns_source *dns, const struct doctor_params *p,
			 const struct doctor_domain *d, char **addresses, size_t n_addresses,
			 struct doctor_report *report);
void doctor_check_certificate(const struct doctor_params *p, struct doctor_report *report);
void doctor_check_outbound(const struct doctor_params *p, struct doctor_report *report);

/*
 * The whole doctor for a running installation (collect.c): the local
 * domains (or only domain, when not NULL) with their DKIM keys from st,
 * the certificate, MTA-STS id and smarthost of cfg and st, DNS through a
 * resolver on cfg's [dns] resolver; address and probe as in
 * doctor_params.  STORE_OK, or a store error with *error_r (STORE_NOTFOUND:
 * domain is not local).
 */
struct store;
struct config;
int doctor_collect(struct store *st, const struct config *cfg, const char *domain,
		   const char *address, const char *probe, struct doctor_report *report,
		   const char **error_r);

void doctor_report_init(struct doctor_report *r);
void doctor_report_free(struct doctor_report *r);
/* How many findings have status s. */
size_t doctor_report_count(const struct doctor_report *r, enum doctor_status s);
/* "ok", "info", "warn", "fail". */
const char *doctor_status_name(enum doctor_status s);

#endif
