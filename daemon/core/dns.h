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
 * The answer parsers (dns_parse_mx(), dns_parse_txt(), dns_parse_answer())
 * are pure functions over a DNS message, for unit tests and fuzzing;
 * dns_mx_sort() orders MX records as RFC 5321 §5.1 asks.
 *
 * dns_query() is the general lookup the inbound checks (trust/) use: one
 * name and type, every record with its TTL, and the status told apart as
 * SPF and DMARC need it (NXDOMAIN, no data, temporary failure).  A resolver
 * may share a dns_cache (dns_cache.h) that keeps answers for their TTL.
 */
#ifndef MAILHUB_CORE_DNS_H
#define MAILHUB_CORE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The record types dns_query() knows (RFC 1035 §3.2.2, RFC 3596 §2.1). */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_TLSA = 52,	/* RFC 6698 §2 */
};

/* One record of an answer. */
struct dns_rr {
	uint32_t ttl;
	/* TXT: its character-strings joined with nothing between them
	 * (RFC 7208 §3.3, RFC 6376 §3.6.2.2); may hold NUL bytes, text_len
	 * says how many; NUL-terminated.  MX, PTR: the host name, lowercase,
	 * without the trailing dot ("" for the root).  TLSA: the record's
	 * data as sent (usage, selector, matching type, then the
	 * association data), NUL-terminated past text_len.  A, AAAA: NULL. */
	char *text;
	size_t text_len;
	unsigned pref;		/* MX: the preference */
	unsigned char addr[16];	/* A: 4 bytes, AAAA: 16 bytes */
};

/* The answer to one question.  status DNS_OK has n >= 1 records; any
 * other status has none. */
struct dns_answer {
	enum dns_status status;
	/* Seconds the answer may be kept: the least TTL of its records, or
	 * for NXDOMAIN and no data the negative TTL of RFC 2308 §5 (the SOA's
	 * TTL and MINIMUM, the lesser; 0 without an SOA: keep it not at all). */
	uint32_t ttl;
	/* The resolver set the AD bit (RFC 4035 §3.2.3): it validated the
	 * answer with DNSSEC.  Worth something only from a validating
	 * resolver this host trusts ([dns] dnssec, RFC 7672 §1.3). */
	bool secure;
	size_t n;
	struct dns_rr *rr;
};

struct dns_resolver;
struct dns_cache;

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

/* Sets the cache dns_query() reads and fills (NULL: none).  The cache is
 * shared between threads and outlives the resolver. */
void dns_resolver_set_cache(struct dns_resolver *r, struct dns_cache *cache);

/* The records of type for name (fully qualified, trailing dot optional):
 * fills *ans_r (free it with dns_answer_free()) and returns its status.
 * A name longer than a DNS name can be is DNS_ERROR without a query. */
int dns_query(struct dns_resolver *r, const char *name, enum dns_type type,
	      struct dns_answer *ans_r);

/* Pure: the records of type in the DNS response msg[0..len) (its rcode
 * and answer section, CNAMEs on the way skipped), into *ans_r. */
int dns_parse_answer(const unsigned char *msg, size_t len, enum dns_type type,
		     struct dns_answer *ans_r);
/* A deep copy of src into *dst. */
void dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src);
/* Frees the records; the answer is left empty (n 0, rr NULL). */
void dns_answer_free(struct dns_answer *ans);
/* A name in the form answers are kept and compared in: name[0..len)
 * lowercased, without its trailing dot (malloc'd). */
char *dns_name_canon(const char *name, size_t len);
/* "A", "TXT"...; "?" for another. */
const char *dns_type_name(enum dns_type type);

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
