/*
 * dns: MX, A/AAAA and TXT lookups through libresolv, for the outbound relay.
 *
 * A struct dns_resolver is one thread's resolver state (res_ninit): the
 * relay workers each make their own.  The name server is the config's
 * [dns] resolver ("IP:PORT" or "[IPv6]:PORT", port 53 when none is given)
 * or, without one, /etc/resolv.conf's.
 * Queries are plain (res_nquery): no search list, no default domain, since
 * the names asked for are always fully qualified mail domains.
 *
 * The answer parsers (dns_parse_mx(), dns_parse_txt()) are pure functions
 * over a DNS message, for unit tests and fuzzing; dns_mx_sort() orders MX
 * records as RFC 5321 §5.1 asks.
 */
#ifndef MAILHUB_CORE_DNS_H
#define MAILHUB_CORE_DNS_H

#include <stdbool.h>
#include <stddef.h>

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN = -1,	/* the name does not exist (permanent) */
	DNS_NODATA = -2,	/* the name exists, but has no record of the type */
	DNS_TEMPFAIL = -3,	/* timeout, SERVFAIL, no server: try later */
	DNS_ERROR = -4,		/* a malformed answer or a broken setup */
};

struct dns_mx {
	char *host;		/* lowercase, no trailing dot; "" for "." */
	unsigned preference;
};

struct dns_resolver;

/* A resolver for this thread; server is "IP[:PORT]", "[IPv6][:PORT]" or
 * NULL for the system's.  NULL with *error_r when the address cannot be used. */
struct dns_resolver *dns_resolver_new(const char *server, const char **error_r);
void dns_resolver_free(struct dns_resolver **r);

/* The MX records of domain, sorted (dns_mx_sort).  DNS_NODATA when the
 * domain has none (the caller then uses the implicit MX, RFC 5321 §5.1). */
int dns_lookup_mx(struct dns_resolver *r, const char *domain,
		  struct dns_mx **list_r, size_t *n_r, const char **error_r);
/* The IPv4 and IPv6 addresses of host as text, IPv4 first.  DNS_NODATA
 * when the name has neither. */
int dns_lookup_addr(struct dns_resolver *r, const char *host, char ***addrs_r,
		    size_t *n_r, const char **error_r);
/* The TXT records of name, each with its strings joined. */
int dns_lookup_txt(struct dns_resolver *r, const char *name, char ***txt_r,
		   size_t *n_r, const char **error_r);

/* Pure: the MX records in the answer section of msg[0..len). */
int dns_parse_mx(const unsigned char *msg, size_t len, struct dns_mx **list_r,
		 size_t *n_r, const char **error_r);
/* Pure: the TXT records in the answer section. */
int dns_parse_txt(const unsigned char *msg, size_t len, char ***txt_r,
		  size_t *n_r, const char **error_r);

/* Orders by preference, lowest first; records of equal preference in
 * random order (RFC 5321 §5.1: spread the load); shuffle false keeps
 * their order (tests). */
void dns_mx_sort(struct dns_mx *list, size_t n, bool shuffle);
/* RFC 7505 §3: a "null MX" is one record with preference 0 and the root
 * as exchange: the domain accepts no mail. */
bool dns_mx_is_null(const struct dns_mx *list, size_t n);

void dns_mx_list_free(struct dns_mx **list, size_t n);
void dns_strings_free(char ***list, size_t n);
/* "no such domain", "no record", "temporary DNS failure"... */
const char *dns_status_name(enum dns_status status);

#endif
