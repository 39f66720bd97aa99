/*
 * dane: DANE for SMTP (RFC 7672) in the relay.
 *
 * When the resolver is a trusted validating one ([dns] dnssec) and a
 * domain's MX records came back validated (the AD bit), each MX host's
 * TLSA records (_25._tcp.HOST) are looked up; validated records decide
 * how that host is talked to:
 *   - usable records (DANE-TA(2), DANE-EE(3), RFC 7672 §3.1): STARTTLS is
 *     required and the server's certificate must match one of them
 *     (OpenSSL's DANE verifier implements RFC 7671's matching rules:
 *     DANE-EE matches the leaf whatever its names or dates, DANE-TA a
 *     trust anchor in the chain, then the MX host name is checked);
 *   - records, none usable (PKIX-TA/PKIX-EE, unknown parameters): TLS is
 *     still required, without authentication (§2.2);
 *   - no records: DANE does not apply to the host;
 *   - a failed lookup: the host is skipped (§2.2: a server failure may
 *     hide records an attacker removed).
 * Never plaintext, and never unchecked TLS, where usable records exist.
 */
#ifndef MAILHUB_SMTP_DANE_H
#define MAILHUB_SMTP_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/buf.h"

struct dns_resolver;

struct dane_tlsa {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

enum dane_state {
	DANE_NONE,		/* no (validated) TLSA records: DANE does not apply */
	DANE_USABLE,		/* authenticate with the records */
	DANE_UNUSABLE,		/* records, none usable: TLS without authentication */
	DANE_FAILED,		/* the lookup failed or was not validated: skip the host */
};

struct dane_host {
	enum dane_state state;
	char *name;		/* the MX host (TLS reference identifier) */
	struct dane_tlsa *tlsa;	/* the usable records */
	size_t n;
	char *policy;		/* the records as text, one a line ("3 1 1 ab..") */
};

/* Pure: one TLSA record's data (RFC 6698 §2.1) into *t (data malloc'd).
 * 0, or -1 when it is too short.  usable_r: RFC 7672 §3.1's rules (usage
 * 2 or 3, selector 0 or 1, matching type 0, 1 or 2, a digest of its
 * length). */
int dane_tlsa_parse(const unsigned char *rd, size_t len, struct dane_tlsa *t,
		    bool *usable_r);
/* Pure: "3 1 1 0123abcd" (RFC 6698 §2.2's presentation) into out. */
void dane_tlsa_format(const unsigned char *rd, size_t len, struct buf *out);

/* Looks up the TLSA records of host:port into *h (cleared first).
 * Always fills h->state; *error_r says why for DANE_FAILED. */
void dane_lookup(struct dns_resolver *dns, const char *host, unsigned port,
		 struct dane_host *h, const char **error_r);
void dane_host_clear(struct dane_host *h);

/* conn_tls_setup_fn for a struct dane_host with DANE_USABLE records: turns
 * on OpenSSL's DANE verification for the session (the context must have
 * had SSL_CTX_dane_enable()). */
int dane_tls_setup(SSL *ssl, void *arg, const char **error_r);

#endif
